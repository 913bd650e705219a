"""Finite-difference derivatives: the independent check of every gradient.

Central differences extrapolated with Richardson's method: with
D(h) = (f(x+h) − f(x−h))/2h, R(h) = (4·D(h/2) − D(h))/3 has truncation error
O(h⁴), and :func:`derivative` goes one level further, (16·R(h/2) − R(h))/15,
with error O(h⁶); the step is chosen per point, h = 2⁻¹⁰·max(1, |x|), and
rounded so that x ± h is exact.  Besides the estimate, each function returns a
bound on its error: the rounding, eps·max|f(x ± h)|/h, and for
:func:`derivative` also the truncation, estimated by |R(h/2) − R(h)|/15, so a
caller can tell an error of the derivative from a point where finite
differences cannot resolve it (sigmoid'(30) ≈ 9e−14 next to sigmoid(30) ≈ 1;
gelu at x = −20, which varies on a scale 1/|x| = 0.05 against h = 0.02).

Examples
--------
>>> import numpy as np
>>> d, bound = derivative(np.sin, np.array([0.0, 1.0]))
>>> np.allclose(d, np.cos([0.0, 1.0]), rtol=1e-11)
True
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["derivative", "gradient", "STEP_FRACTION"]

#: step as a fraction of max(1, |x|)
STEP_FRACTION = 2.0**-10


def _steps(x: np.ndarray) -> np.ndarray:
    h = STEP_FRACTION * np.maximum(1.0, np.abs(x))
    return (x + h) - x  # exactly representable


def derivative(f: Callable[[np.ndarray], np.ndarray], x) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise derivative of a vectorised ``f`` at ``x`` (float64).

    Returns
    -------
    estimate, error_bound : ndarray
        The Richardson-extrapolated central difference, and the size of the
        rounding and truncation error it may carry.
    """
    x = np.asarray(x, dtype=np.float64)
    h = _steps(x)
    right, left = f(x + h), f(x - h)
    d1 = (right - left) / (2 * h)
    d2 = (f(x + h / 2) - f(x - h / 2)) / h
    d4 = (f(x + h / 4) - f(x - h / 4)) * 2 / h
    r1, r2 = (4 * d2 - d1) / 3, (4 * d4 - d2) / 3
    estimate = (16 * r2 - r1) / 15
    # the differences are of values as large as f(x ± h), not f(x); the
    # extrapolation weighs D(h/4) by 64/45, whose rounding is 2·eps·size/h.
    # Values below the normal range are no finer than the spacing of the
    # subnormal numbers: where f(x ± h) underflows to 0, a derivative of
    # 1e-320 is not resolved by their difference of 0
    size = np.maximum(np.maximum(np.abs(right), np.abs(left)), np.abs(f(x)))
    info = np.finfo(np.float64)
    rounding = 8 * (info.eps * size + info.smallest_subnormal) / h
    truncation = np.abs(r2 - r1) / 15
    return estimate, rounding + truncation


def gradient(f: Callable[[np.ndarray], float], x) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of a scalar function of an array, one element at a time.

    Examples
    --------
    >>> import numpy as np
    >>> g, _ = gradient(lambda v: float(np.sum(v**3)), np.array([1.0, 2.0]))
    >>> np.round(g, 9).tolist()
    [3.0, 12.0]
    """
    x = np.array(x, dtype=np.float64)
    estimate = np.empty_like(x)
    bound = np.empty_like(x)
    flat_x, flat_e, flat_b = x.reshape(-1), estimate.reshape(-1), bound.reshape(-1)
    f0 = abs(f(x))
    for i in range(flat_x.size):
        xi = flat_x[i]
        h = float(_steps(np.array(xi)))

        def at(offset: float) -> float:
            flat_x[i] = xi + offset
            value = f(x)
            flat_x[i] = xi
            return value

        right, left = at(h), at(-h)
        d1 = (right - left) / (2 * h)
        d2 = (at(h / 2) - at(-h / 2)) / h
        flat_e[i] = (4 * d2 - d1) / 3
        flat_b[i] = 4 * np.finfo(np.float64).eps * max(f0, abs(right), abs(left)) / h
    return estimate, bound
