"""Measuring floating-point error in ULPs.

A ULP (unit in the last place) of a true value r is the spacing of float64
numbers at r; an error of 0.5 ULP is a correctly rounded result.  Where the
true value is subnormal the unit is the smallest normal number (2.2e−308):
below it float64 itself has fewer digits than elsewhere.

Examples
--------
>>> ulp_error(1.0 + 2**-52, 1.0)
1.0
>>> ulp_error(0.0, 1e-320) < 1e-12  # subnormal: in units of the smallest normal
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["ulp_error", "unit", "TINY"]

TINY = np.finfo(np.float64).tiny


def unit(value: float, dtype=np.float64) -> float:
    """The unit in which an error at the true value ``value`` is counted."""
    info = np.finfo(dtype)
    magnitude = abs(dtype(value))
    if not np.isfinite(magnitude):  # the spacing at the largest finite number (np.spacing overflows there)
        return float(2.0 ** (info.maxexp - 1 - info.nmant))
    if magnitude < info.tiny:
        return float(info.tiny)
    return float(np.spacing(magnitude))


def ulp_error(computed: float, reference, dtype=np.float64) -> float:
    """|computed − reference| in ULPs of the reference (``reference`` may be an
    mpmath number, evaluated to more digits than float64 holds).

    Overflow: where the reference exceeds the largest finite number, a computed
    infinity of the same sign counts as exact.
    """
    info = np.finfo(dtype)
    computed = float(computed)
    if np.isnan(computed):
        return float("inf")
    big = abs(reference) > float(info.max) * (1 + float(info.eps) / 2)
    if big:
        same_sign = (computed > 0) == (reference > 0)
        return 0.0 if np.isinf(computed) and same_sign else float("inf")
    if np.isinf(computed):
        return float("inf")
    rounded = dtype(float(reference))
    difference = abs(reference - computed) if not isinstance(reference, float) else abs(
        reference - computed)
    return float(difference / unit(rounded, dtype))
