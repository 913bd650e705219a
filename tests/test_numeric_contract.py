"""The public contract of ``numeric``: names, dtypes, shapes, bad input."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import numeric
from derive.catalogue import ENTRIES
from derive.codegen import contract_names

ROOT = Path(__file__).resolve().parent.parent
ACTIVATIONS = [e.name for e in ENTRIES if e.kind == "activation"]
LOSSES = [e for e in ENTRIES if e.kind == "loss"]


def test_every_contract_name_is_exported():
    for entry in ENTRIES:
        for name in contract_names(entry):
            assert callable(getattr(numeric, name)), name
    assert callable(numeric.dense) and callable(numeric.dense_backward)


def test_import_numeric_does_not_import_sympy():
    code = "import sys, numeric; sys.exit(1 if 'sympy' in sys.modules or 'derive' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_numeric_never_imports_derive():
    import re

    for path in (ROOT / "numeric").glob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import derive|from derive[ .])", text, re.M), path.name


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_dtypes_and_shapes(name, dtype):
    x = np.linspace(-3, 3, 24, dtype=dtype).reshape(2, 3, 4)
    f, df, both = (getattr(numeric, n) for n in (name, name + "_grad", name + "_and_grad"))
    y, dy = both(x)
    for out in (f(x), df(x), y, dy):
        assert out.dtype == dtype and out.shape == x.shape
    np.testing.assert_array_equal(y, f(x))
    np.testing.assert_array_equal(dy, df(x))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_accepts_python_scalars(name):
    value = getattr(numeric, name)(0.5)
    assert np.ndim(value) == 0 and isinstance(float(value), float)
    assert np.ndim(getattr(numeric, name + "_grad")(1)) == 0


def test_relu_family_conventions_at_kinks():
    # as PyTorch: relu'(0) = 0, leaky_relu'(0) = alpha, elu'(0) = alpha,
    # hardsigmoid'(±3) = 0, hardtanh'(±1) = 0
    assert numeric.relu_grad(0.0) == 0.0
    assert numeric.leaky_relu_grad(0.0) == pytest.approx(0.01)
    assert numeric.leaky_relu_grad(0.0, alpha=0.2) == pytest.approx(0.2)
    assert numeric.elu_grad(0.0) == 1.0 and numeric.elu_grad(0.0, alpha=0.5) == 0.5
    assert numeric.selu_grad(0.0) == pytest.approx(1.0507009873554805 * 1.6732632423543772)
    np.testing.assert_array_equal(numeric.hard_sigmoid_grad([-3.0, 3.0, 0.0]), [0, 0, 1 / 6])
    np.testing.assert_array_equal(numeric.hard_tanh_grad([-1.0, 1.0, 0.0]), [0, 0, 1])
    assert numeric.mae_grad(np.array([1.0]), np.array([1.0]))[0] == 0.0
    assert numeric.hinge_grad(np.array([1.0]), np.array([1.0]))[0] == 0.0


def test_vector_maps_over_last_axis():
    z = np.array([[-2.89, 0.0, -3.40], [1.0, 2.0, 3.0]])
    s = numeric.softmax(z)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0)
    assert int(np.argmax(s[0])) == 1
    np.testing.assert_allclose(numeric.log_softmax(z), np.log(s))
    g = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 0.0]])
    jac = np.stack([np.diag(r) - np.outer(r, r) for r in s])
    np.testing.assert_allclose(numeric.softmax_vjp(z, g), np.einsum("bi,bij->bj", g, jac))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        numeric.softmax_vjp(z, g.T)


@pytest.mark.parametrize("entry", LOSSES, ids=lambda e: e.name)
def test_loss_shape_mismatch_names_both_shapes(entry):
    loss, grad = getattr(numeric, entry.name), getattr(numeric, entry.name + "_grad")
    pred, target = np.full((4, 3), 0.3), np.full((3, 4), 0.3)
    for fn in (loss, grad):
        with pytest.raises(ValueError, match=r"\(4, 3\).*\(3, 4\)"):
            fn(pred, target)


@pytest.mark.parametrize("entry", LOSSES, ids=lambda e: e.name)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_dtypes(entry, dtype):
    pred = np.full((4, 3), 0.3, dtype=dtype)
    target = np.eye(4, 3, dtype=dtype) if entry.target_kind != "sign" else np.ones((4, 3), dtype)
    value = getattr(numeric, entry.name)(pred, target)
    grad = getattr(numeric, entry.name + "_grad")(pred, target)
    assert np.ndim(value) == 0 and value.dtype == dtype
    assert grad.shape == pred.shape and grad.dtype == dtype


def test_loss_means():
    pred, target = np.array([[1.0, 2.0], [3.0, 5.0]]), np.zeros((2, 2))
    assert numeric.mse(pred, target) == pytest.approx((1 + 4 + 9 + 25) / 4)
    np.testing.assert_allclose(numeric.mse_grad(pred, target), 2 * pred / 4)
    logits, onehot = np.array([[-2.89, 0.0, -3.40]]), np.array([[0.0, 1.0, 0.0]])
    p = np.exp(logits) / np.exp(logits).sum()
    assert numeric.softmax_cross_entropy(logits, onehot) == pytest.approx(-np.log(p[0, 1]))
    np.testing.assert_allclose(numeric.softmax_cross_entropy_grad(logits, onehot), p - onehot)


def test_dense_layer():
    rng = np.random.default_rng(0)
    x, W, b = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)), rng.normal(size=4)
    np.testing.assert_allclose(numeric.dense(x, W, b), x @ W.T + b)
    g = rng.normal(size=(5, 4))
    dx, dW, db = numeric.dense_backward(x, W, g)
    np.testing.assert_allclose(dx, g @ W)
    np.testing.assert_allclose(dW, g.T @ x)
    np.testing.assert_allclose(db, g.sum(0))
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(5, 3\)"):
        numeric.dense(x, W[:, :2], b)


def _float32_ulps(value, true):
    """|value − true| in float32 ULPs of the float32 rounding of ``true`` (an mpmath number)."""
    import mpmath

    unit = float(np.spacing(np.abs(np.float32(float(true)))))
    return float(abs(mpmath.mpf(float(value)) - true) / unit)


def test_float32_losses_and_vector_maps_round_once():
    """float32 inputs are computed in float64 and rounded once: within 0.5 float32 ULP
    of mpmath.  Computed in float32, σ(z) − y at a label-smoothing target of 0.1 was
    4.28 float32 ULP off at z = −0.95606 (three of σ's own ULPs, magnified by
    σ/(σ − y) ≈ 1.6)."""
    import mpmath

    with mpmath.workdps(40):
        _check_float32_round_once(mpmath)


def _check_float32_round_once(mpmath):
    z, y = np.float32(-0.9560608863830566), np.float32(0.1)
    grad = numeric.binary_cross_entropy_with_logits_grad(np.array([z]), np.array([y]))
    assert grad.dtype == np.float32
    true = 1 / (1 + mpmath.exp(-mpmath.mpf(float(z)))) - mpmath.mpf(float(y))
    assert _float32_ulps(grad[0], true) <= 0.5
    # a float64 target is rounded to float32 first: the loss of float32 numbers
    assert numeric.binary_cross_entropy_with_logits_grad(np.array([z]), np.array([0.1]))[0] == grad[0]
    rows = np.array([[2.5, -1.25, 0.375], [12.0, -0.5, 0.0]], dtype=np.float32)
    cot = np.array([[1.0, -2.0, 0.5], [0.25, 1.0, -1.0]], dtype=np.float32)
    for r, g in zip(rows, cot):
        zs, gs = [mpmath.mpf(float(v)) for v in r], [mpmath.mpf(float(v)) for v in g]
        total = mpmath.fsum(mpmath.exp(v) for v in zs)
        s = [mpmath.exp(v) / total for v in zs]
        dot = mpmath.fsum(a * b for a, b in zip(gs, s))
        got_s, got_v = numeric.softmax(r), numeric.softmax_vjp(r, g)
        assert got_s.dtype == got_v.dtype == np.float32
        for j in range(3):
            assert _float32_ulps(got_s[j], s[j]) <= 0.5
            assert _float32_ulps(got_v[j], s[j] * (gs[j] - dot)) <= 0.5
    # the mean is summed in float64: a float32 loss whose terms overflow float32 but whose mean does not
    big = np.array([2e19, 0, 0, 0], dtype=np.float32)  # 2e19² = 4e38 > float32's 3.4e38
    value = numeric.mse(big, np.zeros(4, dtype=np.float32))
    assert value.dtype == np.float32 and value == np.float32(float(np.float32(2e19)) ** 2 / 4)


def test_a_zero_target_weight_gives_a_zero_gradient_not_nan():
    # the losses take 0·log 0 = 0, so a term whose target weight is 0 is 0 for
    # every prediction, and its derivative too: −y/p at y = p = 0 (a softmax
    # output that underflowed) is 0, not 0/0 = NaN with a RuntimeWarning
    import warnings

    from derive.calculus import derive

    for name in ("cross_entropy", "kl_divergence"):
        assert "target_quotient" in derive(name).derivative_rules
    probs = numeric.softmax(np.array([[1000.0, 0.0, -5.0], [0.0, np.log(3.0), -800.0]]))
    assert probs[0, 1] == probs[1, 2] == 0.0  # underflowed
    target = np.array([[1.0, 0.0, 0.0], [0.25, 0.75, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("cross_entropy", "kl_divergence"):
            loss, grad = getattr(numeric, f"{name}_and_grad")(probs, target)
            np.testing.assert_array_equal(grad, getattr(numeric, f"{name}_grad")(probs, target))
            assert np.isfinite(loss) and np.isfinite(grad).all(), name
            expected = -target / (2 * np.where(target == 0, 1.0, probs))  # −y/(N·p), 0 where y = 0
            np.testing.assert_allclose(grad, expected, rtol=1e-15, atol=0)
            assert loss == pytest.approx(getattr(numeric, name)(probs, target))
    # binary cross-entropy: (ŷ − y)/(ŷ(1 − ŷ)) is 0/0 at ŷ = y ∈ {0, 1} (σ(40) is 1.0
    # exactly), where the loss −log ŷ or −log(1 − ŷ) has the derivative ∓1
    assert "target_quotient" in derive("binary_cross_entropy").derivative_rules
    p = np.concatenate([numeric.sigmoid(np.array([40.0, -800.0])), [0.3, 0.5]])
    y = np.array([1.0, 0.0, 0.3, 0.25])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = numeric.binary_cross_entropy_and_grad(p, y)
    np.testing.assert_array_equal(grad, numeric.binary_cross_entropy_grad(p, y))
    np.testing.assert_array_equal(grad[:2], [-0.25, 0.25])
    np.testing.assert_allclose(grad[2:], (p[2:] - y[2:]) / (4 * p[2:] * (1 - p[2:])), rtol=1e-15, atol=0)
    assert loss == numeric.binary_cross_entropy(p, y) and np.isfinite(loss)
    with np.errstate(divide="ignore"):  # ŷ = 1 under y = 0.5: an infinite loss, its gradient +inf (not −inf)
        assert numeric.binary_cross_entropy_grad(np.array([1.0, 0.0]), np.array([0.5, 0.5])).tolist() == [np.inf, -np.inf]
    # a nonzero target on a probability of 0: the loss is infinite, and so is its gradient
    with np.errstate(divide="ignore"):  # (log 0: NumPy's warning for an infinite loss)
        loss, grad = numeric.cross_entropy_and_grad(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]]))
    assert loss == np.inf and grad[0, 1] == -np.inf


def test_xdivy_is_a_plain_division_but_at_zero_over_zero():
    from numeric._kernels import xdivy

    x = np.array([0.0, -0.0, 3.0, 1.0, np.nan, 0.0, 0.0])
    y = np.array([0.0, 0.0, 4.0, 0.0, 1.0, np.nan, 2.0])
    q = xdivy(x, y)
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(q[[2, 3, 6]], x[[2, 3, 6]] / y[[2, 3, 6]])
    assert q[0] == 0 and q[1] == 0 and np.isnan(q[4]) and np.isnan(q[5])
    assert xdivy(0.0, 0.0) == 0 and xdivy(np.float64(1.0), 4.0) == 0.25


def test_softmax_family_takes_logits_near_the_largest_double_without_a_warning():
    # z − max overflows to −inf past |z| = 8.99e307 (−1.8e308 beside 1.8e308):
    # e^{−inf} = 0 is the right term, and the softmax is finite: no warning
    import warnings

    big = np.finfo(np.float64).max
    z = np.array([[big, -big, 0.0], [-big, 1.0, 2.0], [big, big, -big]])
    g = np.array([[1.0, 2.0, 3.0]] * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = numeric.softmax(z)
        vjp = numeric.softmax_vjp(z, g)
        numeric.log_softmax(z)
        numeric.log_softmax_vjp(z, g)
    np.testing.assert_array_equal(p[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(p[1], numeric.softmax(np.array([-1e300, 1.0, 2.0])), rtol=1e-15)
    np.testing.assert_array_equal(p[2], [0.5, 0.5, 0.0])
    assert np.isfinite(vjp).all()


def test_a_mean_of_finite_losses_does_not_overflow_in_the_sum():
    import warnings

    big = 1.5e308
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = numeric.mae(np.full(4096, big), np.zeros(4096))
    assert loss == pytest.approx(big, rel=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_relu_keeps_nan_as_numpy_maximum_does(dtype):
    """relu(NaN) is NaN (it was 0: a NaN compared false and took the 0 branch); relu′(NaN) is 0, as PyTorch's."""
    x = np.array([np.nan, -np.inf, -1.0, -0.0, 0.0, 3.0, np.inf], dtype=dtype)
    expected = np.maximum(x, dtype(0))
    for y in (numeric.relu(x), numeric.relu_and_grad(x)[0]):
        assert y.dtype == dtype
        assert np.array_equal(y, expected, equal_nan=True)
        assert not np.signbit(y[3])  # relu(−0) = +0
    assert numeric.relu_grad(x).tolist() == [0, 0, 0, 0, 0, 1, 1]
    many = np.where(np.arange(150000) % 7 == 0, np.nan, np.linspace(-1, 1, 150000)).astype(dtype)
    assert np.array_equal(numeric.relu(many), np.maximum(many, dtype(0)), equal_nan=True)  # blocks, both selects
    few = np.full(150000, -1.0, dtype=dtype)
    few[[5, 70000, 149999]] = [np.nan, 2.0, np.nan]  # in the first, second and last of relu's long blocks
    assert np.array_equal(numeric.relu(few), np.maximum(few, dtype(0)), equal_nan=True)


def test_a_long_dot_product_is_summed_on_this_thread_and_keeps_the_zero_convention():
    # np.vdot of more than 10,000 terms runs on OpenBLAS's threads, and the
    # next write to either factor then waits for the other core's cache lines
    # (see numeric._kernels._SERIAL_DOT): a long one is multiplied and summed
    # pairwise instead, as accurately, and a masked logit (−inf with a target
    # of 0) still adds nothing to a cross-entropy of many rows
    from numeric._kernels import _SERIAL_DOT, _serial_dot, zero_safe_dot

    rng = np.random.default_rng(8)
    for n in (_SERIAL_DOT, _SERIAL_DOT + 1, 40960):
        a, b = rng.normal(size=n), rng.normal(size=n)
        total = float(_serial_dot(a, b, np.empty(n)))
        reference = float(np.sum(a.astype(np.longdouble) * b.astype(np.longdouble)))
        assert abs(total - reference) <= 1e-13 * float(np.sum(np.abs(a * b)))
    y = np.zeros(40960); y[::3] = 1.0
    z = rng.normal(size=40960); z[1::3] = -np.inf
    assert zero_safe_dot(y, z) == pytest.approx(float(np.sum(z[::3])), rel=1e-13)
    logits = rng.normal(0.0, 3.0, (4096, 10))
    target = np.eye(10)[rng.integers(0, 10, 4096)]
    logits[target == 0] = np.where(rng.random(np.count_nonzero(target == 0)) < 0.2, -np.inf, logits[target == 0])
    loss, grad = numeric.softmax_cross_entropy_and_grad(logits, target)
    finite = np.where(np.isneginf(logits), 0.0, np.exp(logits - logits.max(axis=1, keepdims=True)))
    reference = -np.mean(np.log(np.sum(finite * target, axis=1) / np.sum(finite, axis=1)))
    assert np.isfinite(loss) and loss == pytest.approx(reference, rel=1e-12)
    assert np.isfinite(grad).all()
