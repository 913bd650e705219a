"""The multi-layer perceptron: shapes, dtypes, initialisation, and gradients checked
against finite differences and against backpropagation hand-written in NumPy."""

import numpy as np
import pytest

import numeric
from numeric.gradcheck import gradcheck, numerical_gradient
from numeric.mlp import MLP

RNG = np.random.default_rng(12345)


def batch(n_in, n=6, scale=1.0, rng=RNG):
    return rng.normal(scale=scale, size=(n, n_in))


def targets_for(loss, n, n_out, rng=RNG):
    if loss in ("cross_entropy", "softmax_cross_entropy", "kl_divergence"):
        t = rng.uniform(0.1, 1.0, size=(n, n_out))
        return t / t.sum(axis=1, keepdims=True)  # soft targets, rows sum to 1
    if loss in ("binary_cross_entropy", "binary_cross_entropy_with_logits"):
        return rng.uniform(0.0, 1.0, size=(n, n_out))
    if loss == "hinge":
        return rng.choice([-1.0, 1.0], size=(n, n_out))
    return rng.normal(size=(n, n_out))


NETWORKS = [
    ([3, 5, 2], "tanh", "identity", "mse"),
    ([3, 4, 2], "sigmoid", "sigmoid", "binary_cross_entropy"),
    ([4, 6, 5, 3], ["relu", ("leaky_relu", {"alpha": 0.2})], "identity", "softmax_cross_entropy"),
    ([2, 4, 3], "gelu", "softmax", "cross_entropy"),
    ([3, 4, 4, 2], ["elu", "selu"], "identity", "huber"),
    ([2, 5, 2], "softplus", "softmax", "kl_divergence"),
    ([3, 4, 1], "silu", "identity", "binary_cross_entropy_with_logits"),
    ([3, 4, 2], "mish", "log_softmax", "mse"),
    ([3, 5, 2], "softsign", "tanh", "mae"),
    ([2, 6, 2], "gelu_tanh", "identity", "hinge"),
    ([3, 4, 2], "log_sigmoid", "identity", "mse"),
    ([2, 3, 3, 3, 3, 2], "tanh", "sigmoid", "mse"),  # four hidden layers
]


@pytest.mark.parametrize("sizes, hidden, output, loss", NETWORKS,
                         ids=[f"{n[1] if isinstance(n[1], str) else 'mixed'}-{n[2]}-{n[3]}"
                              for n in NETWORKS])
def test_gradients_match_finite_differences(sizes, hidden, output, loss):
    net = MLP(sizes, activations=hidden, output=output, loss=loss, seed=7)
    # nudge the biases away from 0 so that every code path is exercised
    rng = np.random.default_rng(3)
    for p in net.parameters()[1::2]:
        p += rng.normal(scale=0.1, size=p.shape)
    x = batch(sizes[0], 7, rng=rng)
    y = targets_for(loss, 7, sizes[-1], rng=rng)
    result = gradcheck(net, x, y)
    assert result.max_relative_error <= 1e-6, str(result)
    assert len(result.parameters) == 2 * (len(sizes) - 1)


@pytest.mark.parametrize("hidden", ["hard_sigmoid", "hard_tanh", "relu"])
def test_piecewise_activations_away_from_kinks(hidden):
    net = MLP([2, 6, 2], activations=hidden, loss="mse", seed=1)
    x = np.array([[1.3, -0.4], [0.2, 2.1], [-1.7, 0.9]])
    result = gradcheck(net, x, np.ones((3, 2)))
    assert result.max_relative_error <= 1e-6, str(result)


def test_gradcheck_catches_a_wrong_gradient():
    net = MLP([2, 3, 1], loss="mse", seed=0)
    x, y = batch(2, 4), np.ones((4, 1))
    original = net.loss_and_gradients

    def wrong(x, y):
        loss, grads = original(x, y)
        return loss, [grads[0] * 1.01] + grads[1:]

    net.loss_and_gradients = wrong
    result = gradcheck(net, x, y)
    assert result.parameters[0].relative_error > 1e-3
    assert result.parameters[1].relative_error < 1e-6
    assert not result.passed()


def test_gradcheck_leaves_parameters_unchanged():
    net = MLP([3, 4, 2], seed=0)
    before = [p.copy() for p in net.parameters()]
    gradcheck(net, batch(3), np.zeros((6, 2)))
    for a, b in zip(before, net.parameters()):
        np.testing.assert_array_equal(a, b)


def test_numerical_gradient_of_a_known_function():
    w = np.array([[0.5, -1.0], [2.0, 3.0]])
    g = numerical_gradient(lambda: float(np.sum(np.sin(w))), w)
    np.testing.assert_allclose(g, np.cos(w), rtol=1e-9)


def hand_written_backprop(x, y, w1, b1, w2, b2):
    """tanh hidden layer, identity output, mse over all elements: plain NumPy."""
    z1 = x @ w1.T + b1
    a1 = np.tanh(z1)
    out = a1 @ w2.T + b2
    g = 2.0 * (out - y) / out.size
    d1 = (g @ w2) * (1.0 - a1 ** 2)
    return [d1.T @ x, d1.sum(0), g.T @ a1, g.sum(0)], float(np.mean((out - y) ** 2))


def test_gradients_equal_hand_written_numpy():
    net = MLP([4, 7, 3], activations="tanh", loss="mse", seed=2)
    x, y = batch(4, 9), batch(3, 9)
    loss, grads = net.loss_and_gradients(x, y)
    expected, expected_loss = hand_written_backprop(x, y, *net.parameters())
    assert loss == pytest.approx(expected_loss, rel=1e-13)
    for a, b in zip(grads, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_forward_and_backward_use_only_the_contract(monkeypatch):
    calls = []

    def spy(name):
        original = getattr(numeric, name)

        def wrapper(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)
        monkeypatch.setattr(numeric, name, wrapper)

    for name in ("dense", "dense_backward", "relu", "relu_and_grad", "identity",
                 "identity_and_grad", "softmax_cross_entropy", "softmax_cross_entropy_and_grad"):
        spy(name)
    net = MLP([3, 4, 2], activations="relu", loss="softmax_cross_entropy", seed=0)
    net.loss_and_gradients(batch(3), np.array([0, 1, 1, 0, 1, 0]))
    assert calls == ["dense", "relu_and_grad", "dense", "identity_and_grad",
                     "softmax_cross_entropy_and_grad",
                     "dense_backward", "dense_backward"]
    calls.clear()
    net.predict(batch(3))
    assert calls == ["dense", "relu", "dense", "identity"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype):
    net = MLP([3, 5, 4, 2], activations="tanh", output="softmax", loss="cross_entropy",
              dtype=dtype, seed=0)
    x = batch(3).astype(np.float64)  # converted to the network's dtype
    assert net.predict(x).dtype == dtype
    loss, grads = net.loss_and_gradients(x, np.array([0, 1, 1, 0, 1, 0]))
    assert isinstance(loss, float)
    assert all(p.dtype == dtype for p in net.parameters())
    assert all(g.dtype == dtype for g in grads)
    assert [g.shape for g in grads] == [p.shape for p in net.parameters()]


def test_float32_and_float64_start_from_the_same_weights():
    a = MLP([5, 8, 3], seed=4, dtype=np.float32)
    b = MLP([5, 8, 3], seed=4, dtype=np.float64)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p, q.astype(np.float32))
    x = batch(5)
    np.testing.assert_allclose(a.predict(x), b.predict(x), rtol=1e-5, atol=1e-6)


def test_initialisation_is_seeded():
    a, b, c = MLP([3, 4, 2], seed=1), MLP([3, 4, 2], seed=1), MLP([3, 4, 2], seed=2)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p, q)
    assert not np.array_equal(a.parameters()[0], c.parameters()[0])


def test_initialisation_scales():
    relu = MLP([400, 300, 1], activations="relu", seed=0).parameters()[0]
    assert relu.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)          # He
    tanh = MLP([400, 300, 1], activations="tanh", seed=0).parameters()[0]
    limit = np.sqrt(6 / 700)
    assert np.abs(tanh).max() <= limit and np.abs(tanh).max() > 0.99 * limit  # Glorot
    selu = MLP([400, 300, 1], activations="selu", seed=0).parameters()[0]
    assert selu.std() == pytest.approx(np.sqrt(1 / 400), rel=0.02)          # LeCun
    assert not MLP([4, 3, 1], seed=0).parameters()[1].any()                 # zero biases
    forced = MLP([400, 300, 1], activations="relu", init="glorot", seed=0).parameters()[0]
    assert np.abs(forced).max() <= limit


def test_targets_in_convenient_shapes():
    net = MLP([2, 3, 3], loss="softmax_cross_entropy", seed=0)
    x = batch(2, 4)
    labels = np.array([0, 2, 1, 2])
    one_hot = np.eye(3)[labels]
    assert net.loss_and_gradients(x, labels)[0] == net.loss_and_gradients(x, one_hot)[0]
    single = MLP([2, 3, 1], seed=0)
    assert single.loss(x, np.ones(4)) == single.loss(x, np.ones((4, 1)))


def test_shape_mismatches_name_the_shapes():
    net = MLP([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match=r"input x has shape \(5, 4\) but the network expects "
                                         r"\(batch, 3\)"):
        net.predict(np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"input x has shape \(3,\)"):
        net.predict(np.zeros(3))
    with pytest.raises(ValueError, match=r"target y has shape \(5, 3\) but the network's output "
                                         r"has shape \(5, 2\)"):
        net.loss_and_gradients(np.zeros((5, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"target y has shape \(4, 2\).*\(5, 2\)"):
        net.loss(np.zeros((5, 3)), np.zeros((4, 2)))
    classifier = MLP([3, 4, 2], loss="softmax_cross_entropy")
    with pytest.raises(ValueError, match=r"class labels must lie in \[0, 2\)"):
        classifier.loss(np.zeros((2, 3)), np.array([0, 2]))


def test_unknown_names_suggest_close_ones():
    with pytest.raises(ValueError, match="unknown activation 'sigmod'; did you mean 'sigmoid'"):
        MLP([2, 3, 1], activations="sigmod")
    with pytest.raises(ValueError, match="unknown loss 'hubr'; did you mean 'huber'"):
        MLP([2, 3, 1], loss="hubr")
    with pytest.raises(ValueError, match="unknown output activation 'softmx'"):
        MLP([2, 3, 1], output="softmx")
    with pytest.raises(ValueError, match="unknown activation 'softmax'"):
        MLP([2, 3, 1], activations="softmax")  # a vector map is an output only


def test_bad_sizes_and_options():
    with pytest.raises(ValueError, match="at least two positive widths"):
        MLP([3])
    with pytest.raises(ValueError, match="at least two positive widths"):
        MLP([3, 0, 1])
    with pytest.raises(ValueError, match="2 activations given for 1 hidden layers"):
        MLP([2, 3, 1], activations=["tanh", "relu"])
    with pytest.raises(ValueError, match="float32 or float64"):
        MLP([2, 3, 1], dtype=np.float16)
    with pytest.raises(ValueError, match="unknown initialisation"):
        MLP([2, 3, 1], init="xavier")


def test_gradients_before_any_backward_pass():
    with pytest.raises(RuntimeError, match="call loss_and_gradients"):
        MLP([2, 3, 1]).gradients()


def test_no_hidden_layer_is_linear_regression():
    net = MLP([3, 1], seed=0)
    assert net.activations == [] and net.n_parameters == 4
    x = batch(3, 10)
    w, b = net.parameters()
    np.testing.assert_allclose(net.predict(x), x @ w.T + b)


def test_first_layer_input_gradient_is_skipped_when_the_contract_allows(monkeypatch):
    original = numeric.dense_backward
    seen = []

    def dense_backward(x, W, g, input_grad=True):
        seen.append(input_grad)
        dx, dw, db = original(x, W, g)
        return (dx if input_grad else None), dw, db

    reference = MLP([3, 4, 4, 2], activations="tanh", seed=0)
    x, y = batch(3), batch(2)
    _, expected = reference.loss_and_gradients(x, y)
    monkeypatch.setattr(numeric, "dense_backward", dense_backward)
    net = MLP([3, 4, 4, 2], activations="tanh", seed=0)
    _, grads = net.loss_and_gradients(x, y)
    assert seen == [True, True, False]  # backward runs from the last layer to the first
    for a, b in zip(grads, expected):
        np.testing.assert_array_equal(a, b)
