"""Removable singular points of a user's expression: a Taylor polynomial near them.

sin(x)/x is 1 at x = 0, but its formula is 0/0 there; its derivative
(x·cos x − sin x)/x² is 0/0 too, and loses every digit on the way (its two
terms cancel to x³/3); x/(eˣ − 1), log(1 + x)/x and (1 − cos x)/x² are the
same.  No rewrite of the formula mends that: near such a point c the
generated code evaluates the Taylor polynomial of the function about c
instead (:func:`numeric._kernels.taylor_near`), and the formula only where it
is accurate (the elements near c are moved off it first,
:func:`numeric._kernels.away_from`, so that it neither warns nor works on
values thrown away).

Both the radius and the degree are measured, not guessed:

* the radius is twice the largest distance from c at which the formula's own
  code (compiled, before the patch) errs by more than :data:`FORMULA_ULPS`
  against mpmath (sixteen probes an octave on either side from 17 to 2^−6
  away, eight to 2^−20, one an octave down to 2^−60);
* the degree is the least (up to :data:`MAX_DEGREE`) for which the polynomial,
  evaluated in float64 by Horner's rule, is within :data:`SERIES_ULPS` of
  mpmath at points across that radius.  Where no degree gets there (the
  radius reaches the series' radius of convergence) the radius is halved
  until one does, and the formula's error between the two is left for the
  certificate to report.

Only for an expression of one variable with no other symbol (a parameter's
value is not known here), at the points where SymPy's value is undefined
(0/0, not a pole): 0 and the rational roots of the polynomial factors of its
denominators that a double holds exactly.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> [p.point for p in candidate_points(sp.sin(x) / x, x)]
[0.0]
>>> candidate_points(1 / x, x)  # a pole: no finite value to take
[]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import log1p

from . import primitives

#: a probe of the formula that errs by more than this is inside the patch
FORMULA_ULPS = 2.0
#: the Taylor polynomial must be this accurate across the patch
SERIES_ULPS = 1.5
#: the highest degree of the polynomial (SymPy's series takes 0.1–0.7 s to 60)
MAX_DEGREE = 60
#: seconds allowed for SymPy's series of one expression (sin(x)/x about 2, whose
#: coefficients hold sin 2 and cos 2, takes 3.5 s to degree 61 on an idle core,
#: and past 5 s beside another process: the limit was 5 until 2026-12-06)
SERIES_SECONDS = 15.0
#: seconds allowed for the whole search of an expression's points (the series included)
SEARCH_SECONDS = 40.0


@dataclass(frozen=True)
class Candidate:
    """A point where the expression is 0/0, and its Taylor coefficients there (exact)."""

    point: float
    coefficients: tuple[sp.Expr, ...]  # ascending powers of (x − point), to MAX_DEGREE + 1
    #: "0/0" (the formula is undefined there), or "zero": a sum whose terms cancel to 0
    #: there (eˣ − 1 − x at 0), patched only where the formula's code is measured to err
    kind: str = "0/0"


@dataclass(frozen=True)
class SeriesPatch:
    """Near ``point`` (|x − point| < ``radius``) the polynomial Σ (highs[k] + lows[k])·(x − point)^k.

    ``reach`` is the radius the formula asked for (twice the farthest probe
    where it erred); where the series cannot get that far (its radius of
    convergence is shorter) the code evaluates the formula in np.longdouble
    for radius ≤ |x − point| < reach, where its cancellation has 11 more bits
    to spend.
    """

    point: float
    radius: float
    highs: tuple[float, ...]
    lows: tuple[float, ...]
    reach: float = 0.0
    #: where the near elements are moved for the formula (a probe where it was finite and accurate)
    moved_to: float | None = None
    #: whether some probe of the formula erred by more than FORMULA_ULPS (a zero of a
    #: sum whose code keeps its digits needs no patch)
    formula_erred: bool = True

    @property
    def degree(self) -> int:
        return len(self.highs) - 1


def _exact_double(value: sp.Expr) -> float | None:
    """value as a float when a double holds it exactly, else None."""
    if not value.is_Rational:
        return None
    number = float(value)
    return number if np.isfinite(number) and sp.Rational(number) == value else None


#: where a sum that vanishes is also a candidate: its terms may cancel there
ZERO_POINTS = (-1.0, 0.0, 1.0)


def _points_to_try(f: sp.Expr, x: sp.Symbol) -> list[float]:
    """0, and the rational roots (exact doubles) of the polynomial factors of f's denominators."""
    points = {0.0}
    denominators = {sp.fraction(sp.together(f))[1]}
    denominators |= {p.base for p in f.atoms(sp.Pow) if p.exp.is_negative}
    for denominator in denominators:
        for factor in sp.Mul.make_args(sp.factor(denominator)):
            base = factor.base if factor.is_Pow else factor
            if base.has(x) and base.is_polynomial(x) and sp.degree(base, x) <= 4:
                for root in sp.roots(sp.Poly(base, x), filter="Q"):
                    exact = _exact_double(sp.nsimplify(root))
                    if exact is not None:
                        points.add(exact)
    return sorted(points)


def _taylor(f: sp.Expr, x: sp.Symbol, point: float) -> tuple[sp.Expr, ...] | None:
    """The Taylor coefficients of f about ``point``, or None where f has no Taylor series there."""
    from .steps import run_with_time_limit

    t = sp.Dummy("t", real=True)
    shifted = f.subs(x, sp.Rational(point) + t)

    def constant_apart(u):
        # e^{u} as e^{u(0)}·e^{u − u(0)}: SymPy's series of e^{−(t + 1)²/2} to degree 61 ran
        # for minutes (f′ of x·φ(x) at −1 and 1), of e^{−1/2}·e^{−t − t²/2} for 1.2 s
        at = u.subs(t, 0)
        return sp.exp(u) if at == 0 or not (at.is_number and at.is_finite) else sp.exp(at) * sp.exp(sp.expand(u - at))

    shifted = shifted.replace(sp.exp, constant_apart)

    def expand():
        try:
            return sp.series(shifted, t, 0, MAX_DEGREE + 2).removeO()
        except (sp.PoleError, NotImplementedError, ValueError):  # sin(1/x) at 0: an essential singularity
            return None

    done, series = run_with_time_limit(expand, SERIES_SECONDS)
    if not done or series is None or series.has(sp.Order) or not series.is_polynomial(t):
        return None  # a pole (1/x), a branch point (x·log x, √x), or too slow
    poly = sp.Poly(sp.expand(series), t)
    coefficients = [poly.coeff_monomial(t**k) for k in range(MAX_DEGREE + 2)]
    if not all(c.is_number and c.is_real is not False for c in coefficients):
        return None
    if not _same_on_both_sides(shifted, t, coefficients[0]):
        return None  # SymPy's series is one-sided: σ(1/x) is 1 at 0+ and 0 at 0−, a jump
    return tuple(coefficients)


def _same_on_both_sides(shifted: sp.Expr, t: sp.Symbol, value: sp.Expr) -> bool:
    """Whether ``shifted`` tends to ``value`` as t → 0 from either side, told at t = ±10⁻²⁰ at
    150 digits (enough for the 40 digits that (1 − cos t)/t² cancels there; the series'
    other terms are below 10⁻²⁰ of its value)."""
    from .verify import _mp_function

    at = _mp_function(shifted, [t])
    with mpmath.workdps(150):
        target = mpmath.mpf(sp.N(value, 150))
        for side in (1, -1):
            try:
                near = at(mpmath.mpf(side) * mpmath.mpf("1e-20"))
            except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                return False
            if isinstance(near, mpmath.mpc) or not mpmath.isfinite(near) \
                    or abs(near - target) > mpmath.mpf("1e-10") * max(1, abs(target)):
                return False
    return True


def _cancels_to_zero(f: sp.Expr) -> bool:
    """Whether f's value 0 may be what is left of terms that cancel: a sum, or the log of one (log(eˣ − x) at 0).

    The log of a sum that is 1 there is that sum's 1 + (what cancels), and
    a double rounded near 1 keeps nothing of it (2e12 ULP at x = 1e−6).
    """
    if isinstance(f, (sp.log, log1p)):
        f = f.args[0]
    return isinstance(f, sp.Add)


def _branch_at(f: sp.Expr, x: sp.Symbol, point: float) -> sp.Expr | None:
    """f near ``point`` with each branch taken as it is there: a Piecewise's branch, a max or
    min's argument, ±u for |u|, ±1 for sign(u), 0 or 1 for H(u); None where one of them
    switches at the point (a kink or a jump: no Taylor series).  SymPy's series of a
    Piecewise ran to the search's 40 s limit (f′ of relu(x)·σ(x) at −1, where it is 0).

    >>> x = sp.Symbol("x", real=True)
    >>> _branch_at(sp.Max(x, 0) * sp.exp(x), x, 0.0) is None, _branch_at(sp.Abs(x - 1) * x, x, 0.0)
    (True, x*(1 - x))
    """
    at = sp.Rational(point)

    def sign_of(u):
        value = u.subs(x, at)
        if not value.is_number or value == 0 or not value.is_real:
            raise _Kink
        return 1 if value > 0 else -1

    def piecewise(*pairs):
        for value, condition in pairs:
            if isinstance(condition, sp.core.relational.Relational):
                sign_of(condition.lhs - condition.rhs)  # a condition that switches here: a kink
            taken = condition.subs(x, at)
            if taken not in (sp.true, sp.false):
                raise _Kink
            if taken == sp.true:
                return value
        raise _Kink

    def extreme(pick, *args):
        values = [a.subs(x, at) for a in args]
        if not all(v.is_number and v.is_real for v in values) or len(set(values)) < len(values):
            raise _Kink
        return args[values.index(pick(values))]

    try:
        return (f.replace(sp.Piecewise, piecewise)
                .replace(sp.Max, lambda *a: extreme(max, *a)).replace(sp.Min, lambda *a: extreme(min, *a))
                .replace(sp.Abs, lambda u: sign_of(u) * u).replace(sp.sign, lambda u: sign_of(u))
                .replace(sp.Heaviside, lambda u, *_: (sign_of(u) + 1) // 2))
    except (_Kink, TypeError, ValueError, ZeroDivisionError):
        return None


class _Kink(Exception):
    """A branch switches at the point."""


def candidate_points(expr: sp.Expr, x: sp.Symbol, kinds: Collection[str] = ("0/0", "zero"),
                     skip: Collection[float] = ()) -> list[Candidate]:
    """The points where ``expr`` has a Taylor series and its formula cannot be trusted near it.

    Of ``kinds``: "0/0" where the formula is undefined (a removable
    singularity), "zero" where it is a sum that vanishes at −1, 0 or 1 (its
    terms may cancel there).  The points in ``skip`` are passed over, their
    series (up to :data:`SERIES_SECONDS` each) not computed.

    Examples
    --------
    >>> x = sp.Symbol("x", real=True)
    >>> c, = candidate_points(x / (sp.exp(x) - 1), x)
    >>> c.point, c.coefficients[:3]
    (0.0, (1, -1/2, 1/12))
    >>> candidate_points(x * sp.log(x), x)  # 0·(−∞): no Taylor series at 0
    []
    >>> [c.kind for c in candidate_points(sp.exp(x) - 1 - x, x)]
    ['zero']
    >>> [(c.point, c.kind) for c in candidate_points(sp.log(sp.exp(x) - x), x)]  # the log of 1 + x²/2 + …
    [(0.0, 'zero')]
    """
    f = primitives.expand_primitives(expr)
    found = []
    points = set(ZERO_POINTS) if "zero" in kinds else set()
    if "0/0" in kinds:
        points |= set(_points_to_try(f, x))
    for point in sorted(points - set(skip)):
        try:
            value = f.subs(x, sp.Rational(point))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if value is sp.nan or value.has(sp.nan):
            kind = "0/0"
        elif value == 0 and _cancels_to_zero(f) and point in ZERO_POINTS:
            kind = "zero"  # terms that cancel: eˣ − 1 − x, x − sin x, log x − (x − 1) at 1
        else:
            continue  # defined there (or a pole, zoo): nothing to take the place of
        local = _branch_at(f, x, point) if kind in kinds else None
        if local is None:
            continue
        coefficients = _taylor(local, x, point)
        if coefficients is not None:
            found.append(Candidate(point, coefficients, kind))
    return found


def long_values(values) -> np.ndarray:
    """mpmath values as np.longdouble, to its 64 bits (NumPy's own conversion goes through a double).

    Examples
    --------
    >>> import mpmath
    >>> with mpmath.workdps(30):
    ...     third = mpmath.mpf(1) / 3
    >>> bool(long_values([third])[0] * 3 == 1 or np.finfo(np.longdouble).nmant <= 52)  # not 1 − 2^-54
    True
    """
    import mpmath

    def one(v):
        if not mpmath.isfinite(v) or v == 0:
            return np.longdouble(float(v))
        magnitude = mpmath.mag(v)  # about log2 |v|, without the digits (e^(1e300) has 1e300 of them)
        if magnitude > 16400:  # past long double's range
            return np.longdouble(np.inf if v > 0 else -np.inf)
        if magnitude < -16500:
            return np.longdouble(0.0 if v > 0 else -0.0)
        return np.longdouble(mpmath.nstr(v, 25, min_fixed=1, max_fixed=0))

    with np.errstate(over="ignore", under="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # at the ends of long double's range: ±inf, 0
        return np.array([one(v) for v in values], dtype=np.longdouble)


def fit_patch(candidate: Candidate, code: Callable, truth: Callable, derivative: int = 0) -> SeriesPatch:
    """The radius and degree for ``candidate``, measured (see the module's docstring).

    ``code`` is the formula's compiled code, ``truth`` its mpmath reference
    (x ↦ mpf), ``derivative`` 0 for the function, 1 for its derivative (the
    series differentiated term by term).

    Examples
    --------
    >>> import mpmath
    >>> x = sp.Symbol("x", real=True)
    >>> c, = candidate_points(sp.sin(x) / x, x)
    >>> patch = fit_patch(c, lambda v: np.sin(v) / v, lambda v: mpmath.sin(v) / v)
    >>> patch.radius < 1e-17, patch.highs  # the formula is good down to 2^-60: the limit 1
    (True, (1.0,))
    """
    from numeric._kernels import taylor_near

    from .verify import _screen_ulps, reference

    exact = candidate.coefficients
    if derivative:
        exact = tuple((k + 1) * c for k, c in enumerate(exact[1:]))
    highs, lows = [], []
    for c in exact[:MAX_DEGREE + 1]:
        value = sp.N(c, 40)
        highs.append(float(value))
        lows.append(float(value - sp.Float(highs[-1], 40)))
    point = candidate.point
    # sixteen probes an octave from 17 to 2^-6 away, eight out to 2^-20 (a
    # formula's error swings between 0 and its bound from one point to the
    # next: one probe an octave missed 25 ULP of (1 − cos x)/x²'s derivative
    # at 1.07, and eight 4.4 ULP of atan(x)/x's at 1.05), one an octave below
    wide, narrow = 2.0 ** -np.arange(-3, 7), 2.0 ** -np.arange(7, 21)
    distances = np.concatenate([(wide[:, None] * (1 + np.arange(16) / 16)).ravel(),
                                (narrow[:, None] * (1 + np.arange(8) / 8)).ravel(),
                                1.0625 * 2.0 ** -np.arange(21, 61)])
    probes = np.concatenate([point - distances, point + distances])
    probes = probes[probes != point]
    with np.errstate(all="ignore"):
        computed = np.asarray(code(probes), dtype=np.float64)
    true = long_values([reference(truth, [p]) for p in probes])
    errors = _screen_ulps(computed, true)
    bad = ~np.isnan(true) & (errors > FORMULA_ULPS)
    good = np.isfinite(true) & np.isfinite(computed) & (errors <= FORMULA_ULPS)
    radius = 2 * float(np.max(np.abs(probes[bad] - point))) if bad.any() else 2.0 ** -60
    # at least four ulps of the point, so that point + 2·radius (away_from) is not the point
    radius = reach = max(radius, 4 * float(np.spacing(abs(point))))
    fractions = np.concatenate([1 - np.arange(16) / 16, 2.0 ** -np.array([6, 10, 20])])
    while True:
        inner = np.concatenate([-radius * fractions, radius * fractions])
        points = point + inner
        points = points[points != point]
        refs = long_values([reference(truth, [p]) for p in points])
        usable = ~np.isnan(refs)
        points, refs = points[usable], refs[usable]
        everywhere = np.ones(points.shape, dtype=bool)
        for degree in range(len(highs)):
            values = taylor_near(np.empty(points.shape), points, everywhere, point,
                                 highs[:degree + 1], lows[:degree + 1])
            if _screen_ulps(values, refs).max(initial=0.0) <= SERIES_ULPS:
                break
        else:
            if radius > max(2.0 ** -60, 4 * float(np.spacing(abs(point)))):
                radius *= 0.75
                continue
            degree = 0  # not even there: the limit
        # the near elements go to the nearest probe past 2·radius where the formula
        # was finite and accurate (point + 2·radius may be outside its domain:
        # log(1 − x)/x at x = 1)
        outside = good & (np.abs(probes - point) >= 2 * radius)
        moved_to = float(probes[outside][np.argmin(np.abs(probes[outside] - point))]) if outside.any() else None
        return SeriesPatch(point, radius, tuple(highs[:degree + 1]), tuple(lows[:degree + 1]), reach, moved_to,
                           bool(bad.any()))
