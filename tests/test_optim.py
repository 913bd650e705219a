"""Optimizers against first steps computed by hand (and PyTorch's form of the updates)."""

import math

import numpy as np
import pytest

from numeric.optim import SGD, Adam, Momentum


def test_sgd_first_step():
    w = np.array([1.0, -2.0, 0.5])
    SGD([w], lr=0.1).step([np.array([10.0, -1.0, 0.0])])
    np.testing.assert_allclose(w, [0.0, -1.9, 0.5], atol=1e-15)


def test_sgd_updates_in_place_and_every_parameter():
    w, b = np.ones((2, 2)), np.zeros(2)
    alias = w
    SGD([w, b], lr=0.5).step([np.full((2, 2), 2.0), np.array([1.0, -1.0])])
    assert alias is w
    np.testing.assert_array_equal(w, np.zeros((2, 2)))
    np.testing.assert_array_equal(b, [-0.5, 0.5])


def test_heavy_ball_momentum_by_hand():
    # v1 = -0.1, θ1 = 0.9;  v2 = 0.9 v1 - 0.1 * 2 = -0.29, θ2 = 0.61
    w = np.array([1.0])
    opt = Momentum([w], lr=0.1, momentum=0.9)
    opt.step([np.array([1.0])])
    assert w[0] == pytest.approx(0.9)
    opt.step([np.array([2.0])])
    assert w[0] == pytest.approx(0.61)
    assert opt.velocity[0][0] == pytest.approx(-0.29)


def test_nesterov_by_hand_and_in_pytorch_form():
    # ours: v = μv − αg, θ += μv − αg
    w = np.array([1.0])
    opt = Momentum([w], lr=0.1, momentum=0.9, nesterov=True)
    opt.step([np.array([1.0])])
    assert w[0] == pytest.approx(1 - 0.09 - 0.1)
    opt.step([np.array([1.0])])
    assert w[0] == pytest.approx(0.81 + 0.9 * -0.19 - 0.1)
    # PyTorch's form: buf = μ buf + g; θ -= lr (g + μ buf)
    theta, buf = 1.0, 0.0
    for _ in range(2):
        buf = 0.9 * buf + 1.0
        theta -= 0.1 * (1.0 + 0.9 * buf)
    assert w[0] == pytest.approx(theta)


def test_heavy_ball_equals_pytorch_form_over_many_steps():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(20, 3))
    w = np.zeros(3)
    opt = Momentum([w], lr=0.05, momentum=0.8)
    theta, buf = np.zeros(3), np.zeros(3)
    for g in grads:
        opt.step([g])
        buf = 0.8 * buf + g
        theta = theta - 0.05 * buf
    np.testing.assert_allclose(w, theta, rtol=1e-12, atol=1e-14)


def adam_reference(grads, lr=0.1, b1=0.9, b2=0.999, eps=1e-8, theta=1.0):
    """Kingma & Ba, Algorithm 1, in scalar Python floats."""
    m = v = 0.0
    for t, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        theta -= lr * m_hat / (math.sqrt(v_hat) + eps)
    return theta


def test_adam_first_step_moves_by_the_learning_rate():
    w = np.array([1.0, 1.0, 1.0])
    Adam([w], lr=0.01).step([np.array([1e-3, -5.0, 1e6])])
    np.testing.assert_allclose(w, [0.99, 1.01, 0.99], rtol=1e-6)


def test_adam_two_steps_by_hand():
    # m2 = 0.37, v2 = 0.009991; m̂ = 0.37/0.19, v̂ = 0.009991/0.001999
    w = np.array([1.0])
    opt = Adam([w], lr=0.1)
    opt.step([np.array([3.0])])
    opt.step([np.array([1.0])])
    second = 0.1 * (0.37 / 0.19) / (math.sqrt(0.009991 / 0.001999) + 1e-8)
    first = 0.1 * 3.0 / (3.0 + 1e-8)
    assert w[0] == pytest.approx(1.0 - first - second, rel=1e-12)
    assert w[0] == pytest.approx(adam_reference([3.0, 1.0]), rel=1e-12)


def test_adam_matches_algorithm_1_over_many_steps():
    rng = np.random.default_rng(1)
    grads = rng.normal(size=50)
    w = np.array([1.0])
    opt = Adam([w], lr=0.05, beta1=0.8, beta2=0.99, eps=1e-6)
    for g in grads:
        opt.step([np.array([g])])
    assert w[0] == pytest.approx(adam_reference(grads, 0.05, 0.8, 0.99, 1e-6), rel=1e-12)


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.1),
    lambda p: Momentum(p, lr=0.05, momentum=0.9),
    lambda p: Momentum(p, lr=0.05, momentum=0.9, nesterov=True),
    lambda p: Adam(p, lr=0.05),
])
def test_optimizers_minimise_a_quadratic(make):
    # L = ½ θᵀ A θ with A positive definite, gradient A θ, minimum at 0
    a = np.array([[3.0, 0.5], [0.5, 1.0]])
    theta = np.array([2.0, -3.0])
    opt = make([theta])
    for _ in range(500):
        opt.step([a @ theta])
    assert np.linalg.norm(theta) < 1e-3


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.1),
    lambda p: Momentum(p, lr=0.1, nesterov=True),
    lambda p: Adam(p, lr=0.1),
])
def test_float32_stays_float32(make):
    w = np.ones(3, dtype=np.float32)
    opt = make([w])
    opt.step([np.ones(3, dtype=np.float32)])
    assert w.dtype == np.float32
    assert all(s.dtype == np.float32 for s in getattr(opt, "m", []) + getattr(opt, "v", []))


def test_gradient_shape_mismatch_names_the_shapes():
    opt = SGD([np.zeros((2, 3)), np.zeros(3)])
    with pytest.raises(ValueError, match=r"gradient 0 has shape \(3, 2\) but parameter 0 "
                                         r"has shape \(2, 3\)"):
        opt.step([np.zeros((3, 2)), np.zeros(3)])
    with pytest.raises(ValueError, match="got 1 gradients for 2 parameters"):
        opt.step([np.zeros((2, 3))])


@pytest.mark.parametrize("kwargs, message", [
    ({"lr": 0.0}, "learning rate"),
    ({"lr": float("nan")}, "learning rate"),
    ({"lr": -1.0}, "learning rate"),
])
def test_bad_learning_rate(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SGD([np.zeros(2)], **kwargs)


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="momentum"):
        Momentum([np.zeros(2)], momentum=1.0)
    with pytest.raises(ValueError, match="beta2"):
        Adam([np.zeros(2)], beta2=1.0)
    with pytest.raises(ValueError, match="eps"):
        Adam([np.zeros(2)], eps=0.0)


def test_bad_parameters():
    with pytest.raises(TypeError, match="floating-point numpy array"):
        SGD([np.zeros(2, dtype=int)])
    with pytest.raises(TypeError, match="floating-point numpy array"):
        SGD([[0.0, 1.0]])
    with pytest.raises(ValueError, match="no parameters"):
        SGD([])
    frozen = np.zeros(2)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        SGD([frozen])
