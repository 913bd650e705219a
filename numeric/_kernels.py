"""Stable NumPy kernels for the named primitives of :mod:`derive.primitives`.

Generated code calls these (as ``_sigmoid``, ``_softplus``, …); a standalone
module written by ``nnderive codegen -o FILE`` carries a copy of the ones it
uses, so each kernel depends on NumPy (and, for the error function, SciPy
imported on first use) and on nothing else in this package.

Every kernel keeps the input's floating dtype (float32 in, float32 out) and
evaluates each branch only where it is valid: no overflow, no RuntimeWarning.

Examples
--------
>>> import numpy as np
>>> float(sigmoid(-800.0)), float(softplus(1000.0))
(0.0, 1000.0)
>>> float(sigmoid(-700.0))
9.85967654375977e-305
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "sigmoid",
    "softplus",
    "sech2",
    "erfc",
    "ndtr",
    "gauss",
    "xlogy",
    "xlog1py",
    "rowsum",
    "logsumexp",
    "softmax",
    "softmax_complement",
    "log_softmax",
]


def sigmoid(x):
    """σ(x) = 1/(1 + e⁻ˣ), from e^{-|x|} so that nothing overflows."""
    e = np.exp(-np.abs(x))
    numerator = np.where(x >= 0, 1, e)
    e += 1
    return np.divide(numerator, e, out=numerator)


def softplus(x):
    """log(1 + eˣ) = max(x, 0) + log1p(e^{-|x|})."""
    y = np.log1p(np.exp(-np.abs(x)))
    y += np.maximum(x, 0)
    return y


def sech2(x):
    """sech²(x) = 4e^{-2|x|}/(1 + e^{-2|x|})², no overflow, no cancellation."""
    e = np.exp(-2 * np.abs(x))
    d = e + 1
    d *= d
    e *= 4
    e /= d
    return e


def _scipy_special():
    import scipy.special  # imported on first use, so importing this module needs NumPy only

    return scipy.special


def erfc(x):
    """Complementary error function (SciPy's, imported on first use)."""
    return _scipy_special().erfc(x)


def _exact_square(x):
    """x² as hi + lo with hi = fl(x²) (Dekker's product; float64)."""
    # beyond 1e150, x² overflows: e^{-x²/2} is 0 there, and so it stays clipped
    x = np.where(np.abs(x) < 1e150, x, 1e150)
    hi = x * x
    split = x * 134217729.0
    xh = split - (split - x)
    xl = x - xh
    lo = ((xh * xh - hi) + 2 * xh * xl) + xl * xl
    return hi, np.where(np.isfinite(hi), lo, 0.0)


def _as_float64(x):
    x = np.asarray(x)
    return x.astype(np.float64) if x.dtype != np.float64 else x, x.dtype


def gauss(x):
    """Standard normal density φ(x) = e^{-x²/2}/√(2π), with x² formed exactly."""
    x, dtype = _as_float64(x)
    hi, lo = _exact_square(x)
    y = np.exp(-0.5 * hi)
    y *= 1 - 0.5 * lo
    y *= 0.3989422804014327
    return y.astype(dtype, copy=False)


def ndtr(x):
    """Standard normal CDF Φ(x); the left tail as erfcx(−x/√2)·e^{-x²/2}/2."""
    x, dtype = _as_float64(x)
    special = _scipy_special()
    tail = x < -1
    body = 0.5 * special.erfc(np.where(tail, 0.0, x) * -0.7071067811865476)
    xt = np.where(tail, x, -1.0)
    hi, lo = _exact_square(xt)
    left = 0.5 * special.erfcx(xt * -0.7071067811865476) * np.exp(-0.5 * hi) * (1 - 0.5 * lo)
    return np.where(tail, left, body).astype(dtype, copy=False)


def xlogy(x, y):
    """x·log(y), and 0 where x = 0 (even if y = 0)."""
    return x * np.log(np.where(x == 0, 1, y))


def xlog1py(x, y):
    """x·log1p(y), and 0 where x = 0 (even if y = -1)."""
    return x * np.log1p(np.where(x == 0, 0, y))


def rowsum(u):
    """Σ over the last axis, kept as an axis of length 1."""
    return np.sum(u, axis=-1, keepdims=True)


def _shifted(z):
    """(z − max, its rounding error, e, s, max): e = exp(z − max), s = Σ e over all but one maximal entry.

    z − max is rounded, and exp magnifies that rounding by |z − max| (250 ULP at
    a difference of 700); the rounding error is recovered exactly (Knuth's
    TwoSum) and folded back in as exp(hi + lo) = exp(hi)·(1 + lo).
    """
    top = np.max(z, axis=-1, keepdims=True)
    shifted = z - top
    back = shifted - z
    lost = (z - (shifted - back)) - (top + back)
    e = np.exp(shifted)
    e *= lost + 1
    below = shifted < 0
    s = np.sum(e, axis=-1, keepdims=True, where=below)
    ties = z.shape[-1] - np.sum(below, axis=-1, keepdims=True) - 1
    if np.any(ties):
        s = s + ties
    return shifted, lost, e, s, top


def logsumexp(z):
    """log Σ exp(z) over the last axis = max + log1p(Σ of the other terms)."""
    _, _, _, s, top = _shifted(z)
    return top + np.log1p(s)


def log_softmax(z):
    """z − logsumexp(z) = (z − max) − log1p(Σ others), exact for the top entry."""
    shifted, lost, _, s, _ = _shifted(z)
    return (shifted - np.log1p(s)) + lost


def softmax(z):
    """exp(z − max)/(1 + Σ others)."""
    _, _, e, s, _ = _shifted(z)
    s += 1
    e /= s
    return e


def softmax_complement(z):
    """1 − softmax(z), without cancellation at the dominant entry."""
    shifted, _, e, s, _ = _shifted(z)
    total = s + 1
    top_entry = shifted == 0
    return np.where(top_entry, s / total, 1 - e / total)
