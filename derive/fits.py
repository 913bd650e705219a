"""Fit: polynomial approximations, derived with mpmath, for functions NumPy lacks.

NumPy has no error function.  SciPy's ``erfc`` and ``erfcx`` serve, but they
cost 40–50 ns per element (a NumPy ufunc of one operation costs 1–2) and
SciPy's ``erfcx`` errs by up to 4 eps near 0.  The normal CDF Φ is needed by
GELU and its derivative, so this stage derives, once, a polynomial for the
only hard part of Φ,

    H(a) = e^{a²/2}·Φ(−a) = ½·erfcx(a/√2),   a ≥ 0,

a smooth function that falls from ½ at 0 like 1/(a·√(2π)) for large a.  The
factor e^{−a²/2} is left to the kernel, which forms a² exactly (see
``numeric._kernels.normal``); then Φ(−a) = H(a)·e^{−a²/2} and
Φ(a) = 1 − Φ(−a), one formula for every x with no branch to gather.

(1 + a)·H(a) runs from ½ at a = 0 to 1/√(2π) ≈ 0.40 at a = ∞, so

    H(a) = (½ + D(u))/(1 + a),   u = 2K/(K + a) − 1 ∈ (−1, 1],

where D, at most 0.1 in size, is analytic in u on [−1, 1]: a Chebyshev
interpolant in u converges geometrically.  The interpolant, computed at 40
digits, is truncated where its coefficients fall below ``cutoff``, rewritten
in powers of u (the coefficients then still decrease, so Horner's rule does
not cancel) and rounded to float64.  The rounding errors of D are scaled down
by D/(½ + D); the kernel folds the rounding error of 1 + a back into the
numerator (see ``numeric._kernels._normal_tail``), which leaves the sum
½ + D and the division, so H is within about 1.5 eps (relative) of the truth,
against up to 4 for SciPy's ``erfcx`` (``tests/test_fits.py`` measures it).
The kernel evaluates

    H(a) ≈ (½ + (p₀ + u·(p₁ + u·(… + u·p_n))))/(1 + a),

2n + 10 NumPy operations per element (n = 23: 56).

A second polynomial in the same u, P (``normal_ratio_slope_fit``), gives
the second derivative of log Φ for x = −a < 0, −(1 − P(u)): written with
H it is −c·(c − a·H(a))/H(a)², c = 1/√(2π), whose difference cancels like
1/a².

``nnderive codegen --write`` writes the coefficients to
``numeric/_fits.py``; a test fails when that file drifts from this
derivation, and another measures the fit against mpmath.

Examples
--------
>>> fit = normal_tail_fit()
>>> fit.center, len(fit.coefficients) - 1
(5.0, 23)
>>> abs(fit.evaluate(0.0) - 0.5) < 1e-16
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mpmath

__all__ = ["PolynomialFit", "normal_tail_fit", "normal_ratio_slope_fit", "normal_tail", "fits_module_source"]


@dataclass(frozen=True)
class PolynomialFit:
    """H(a) ≈ (½ + Σ p_k·u^k)/(1 + a) with u = 2K/(K + a) − 1 (K = ``center``)."""

    center: float
    coefficients: tuple[float, ...]

    def evaluate(self, a: float) -> float:
        """The fit at one point, in float64 as the kernel computes it.

        Examples
        --------
        >>> round(normal_tail_fit().evaluate(1.0), 12)  # e^{1/2}·Φ(−1)
        0.261578291865
        """
        u = (2 * self.center) / (self.center + a) - 1
        total = self.coefficients[-1]
        for p in self.coefficients[-2::-1]:
            total = total * u + p
        return (0.5 + total) / (1 + a)


def normal_tail(a: mpmath.mpf) -> mpmath.mpf:
    """H(a) = e^{a²/2}·Φ(−a) = ½·erfcx(a/√2), at mpmath's working precision.

    Examples
    --------
    >>> float(normal_tail(mpmath.mpf(0)))
    0.5
    """
    a = mpmath.mpf(a)
    return mpmath.erfc(a / mpmath.sqrt(2)) * mpmath.exp(a * a / 2) / 2


@lru_cache(maxsize=None)
def normal_tail_fit(center: float = 5.0, nodes: int = 96, cutoff: float = 5e-18) -> PolynomialFit:
    """The polynomial of H(a) = e^{a²/2}·Φ(−a) used by the normal CDF kernel.

    Parameters
    ----------
    center
        K of the map u = 2K/(K + a) − 1: the point a = K maps to u = 0.
    nodes
        Chebyshev points of the interpolant (more than the degree kept).
    cutoff
        Coefficients of the Chebyshev series smaller than ``cutoff`` are
        dropped from the end (½ + D is about ½: 5e−18 is 0.05 eps of it).

    Returns
    -------
    PolynomialFit
        The float64 coefficients, lowest power first.
    """
    def target(u, k):  # D = (1 + a)·H(a) − ½ at a = K(1 − u)/(1 + u)
        if u <= -1:
            return 1 / mpmath.sqrt(2 * mpmath.pi) - mpmath.mpf(1) / 2
        a = k * (1 - u) / (1 + u)
        return (1 + a) * normal_tail(a) - mpmath.mpf(1) / 2

    return PolynomialFit(float(center), _chebyshev_in_u(target, center, nodes, cutoff))


@lru_cache(maxsize=None)
def normal_ratio_slope_fit(center: float = 5.0, nodes: int = 96, cutoff: float = 5e-18) -> tuple[float, ...]:
    """The polynomial P(u) of (log Φ)″(−a) = −(1 − P(u)), a ≥ 0, u = 2K/(K + a) − 1.

    (log Φ)″ = λ′ = −λ(x + λ) with λ = φ/Φ; for x = −a < 0, λ = c/H(a)
    (c = 1/√(2π)) and x + λ = (c − a·H(a))/H(a), a difference that cancels
    like 1/a² (4.5e3 ULP at x = −38.7 computed so).  Q(a) = c·(c − a·H(a))/H(a)²
    runs from 4c² ≈ 0.64 at a = 0 to 1 at a = ∞, smooth in u, so
    P = 1 − Q ∈ [0, 0.37) is interpolated as D is (see normal_tail_fit), and
    the kernel evaluates −(1 − P): within 1.5 ULP on 3,000 points of
    [0, 40] and beyond (−1 there once 1/a² < eps).

    Examples
    --------
    >>> coefficients = normal_ratio_slope_fit()
    >>> len(coefficients) - 1, round(1 - sum(coefficients), 12)  # at u = 1 (a = 0): Q = 4c² = 2/π
    (30, 0.636619772368)
    """
    def target(u, k):
        if u <= -1:
            return mpmath.mpf(0)
        a = k * (1 - u) / (1 + u)
        c = 1 / mpmath.sqrt(2 * mpmath.pi)
        h = normal_tail(a)
        return 1 - c * (c - a * h) / h**2

    return _chebyshev_in_u(target, center, nodes, cutoff)


def _chebyshev_in_u(target, center: float, nodes: int, cutoff: float) -> tuple[float, ...]:
    """``target(u, K)`` (mpmath, 40 digits) interpolated at Chebyshev points of u ∈ [−1, 1],
    truncated where its Chebyshev coefficients fall below ``cutoff``, in powers of u (float64)."""
    with mpmath.workdps(40):
        k = mpmath.mpf(center)
        angles = [mpmath.pi * (j + mpmath.mpf(1) / 2) / nodes for j in range(nodes)]
        values = [target(mpmath.cos(t), k) for t in angles]
        chebyshev = [mpmath.fsum(v * mpmath.cos(n * t) for v, t in zip(values, angles)) * 2 / nodes
                     for n in range(nodes)]
        chebyshev[0] /= 2
        degree = max(n for n, c in enumerate(chebyshev) if abs(c) > cutoff)
        # T_n in powers of u: T_0 = 1, T_1 = u, T_{n+1} = 2u·T_n − T_{n−1}
        powers = [[mpmath.mpf(0)] * (degree + 1) for _ in range(degree + 1)]
        powers[0][0] = mpmath.mpf(1)
        if degree:
            powers[1][1] = mpmath.mpf(1)
        for n in range(1, degree):
            for i in range(degree):
                powers[n + 1][i + 1] += 2 * powers[n][i]
            for i in range(degree + 1):
                powers[n + 1][i] -= powers[n - 1][i]
        return tuple(float(mpmath.fsum(chebyshev[n] * powers[n][i] for n in range(degree + 1)))
                     for i in range(degree + 1))


def fits_module_source() -> str:
    """Source of ``numeric/_fits.py``: the fitted coefficients the kernels use.

    Examples
    --------
    >>> "NORMAL_TAIL_CENTER = 5.0" in fits_module_source()
    True
    """
    from .codegen import HEADER

    fit = normal_tail_fit()
    lines = [HEADER.replace("derive/catalogue.py", "derive/fits.py"),
             '"""Coefficients fitted by derive/fits.py (mpmath, 40 digits) for numeric._kernels."""',
             "",
             "#: H(a) = e^{a²/2}·Φ(−a) ≈ (½ + Σ p_k·u^k)/(1 + a), u = 2K/(K + a) − 1 (see derive.fits)",
             f"NORMAL_TAIL_CENTER = {fit.center!r}",
             "NORMAL_TAIL = ("]
    lines += [f"    {p!r}," for p in fit.coefficients]
    lines += [")", "",
              "#: (log Φ)″(−a) = −(1 − Σ p_k·u^k), a ≥ 0, the same u (see derive.fits.normal_ratio_slope_fit)",
              "NORMAL_RATIO_SLOPE = ("]
    lines += [f"    {p!r}," for p in normal_ratio_slope_fit(fit.center)]
    lines += [")", ""]
    return "\n".join(lines)
