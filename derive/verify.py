"""Verify: a certificate for every generated function and derivative.

For each catalogue entry the generated NumPy code (``numeric``) is measured
against an independent reference: the entry's plain definition and SymPy's raw
derivative of it, evaluated with mpmath at 50 digits and then at more (80,
160, …) until the value rounded to float64 stops changing.  The grid holds the
float64 tails as well as the everyday range (0, ±5e−324, ±1e−300, ±1e−8, ±1,
±20, ±37, ±40, ±100, ±709.78, ±710, ±745, ±750, ±1e4, ±1e300 and a few
thousand points between them).

A certificate records

* the proof of the textbook derivative (symbolic, or numeric at 50 digits);
* the maximum error in ULPs of the function and of its derivative, and where;
* points next to an *interior zero* (a sign change away from x = 0, e.g.
  silu' at x ≈ −1.278), where relative error is unbounded for any
  floating-point formula: there the absolute error is measured instead,
  against 8·eps·max(1, |x|), within 0.5·max(1, |x₀|) of the zero x₀;
* a finite-difference check of the derivative against the generated forward
  function (Richardson-extrapolated central differences), at points where
  finite differences can resolve the derivative, away from kinks;
* non-finite results where the true value is finite, and warnings raised;
* float32: the same functions on float32 inputs against the same reference,
  in float32 ULPs.

Examples
--------
>>> cert = certify("softplus", points=200)
>>> cert.passed, cert.forward.max_ulp <= 4
(True, True)
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Callable, Sequence

import mpmath
import numpy as np
import sympy as sp

import numeric
from numeric.accuracy import ulp_error
from numeric.finite_differences import derivative as fd_derivative
from numeric.finite_differences import gradient as fd_gradient

from .calculus import derive
from .catalogue import ENTRIES, Entry, N, g, get
from . import primitives
from .primitives import components

#: maximum error allowed, in ULPs
ULP_BOUND = 4.0
#: relative error allowed between the derivative and finite differences
FD_BOUND = 1e-7
#: absolute error allowed near an interior zero, in units of eps·max(1, |x|)
ZERO_BOUND = 8.0
#: half-width of the window around an interior zero x₀, in units of max(1, |x₀|)
ZERO_WINDOW = 0.5
#: the everyday range, reported separately from the float64 tails
CORE_RANGE = 20.0
#: measured exceptions, stated in the README and in every certificate table:
#: entry → the bound its float64 function and derivative (or VJP) are held
#: to instead of ULP_BOUND.  mish′: the dense screen finds 4.02 ULP at
#: x = −0.1636, and 4,000,000 points of [−0.3, −0.05] reach 4.66 (at
#: x = −0.18906), where the rounding of e^x alone counts up to twice
#: (mish″/mish′ ≈ 2 there); mish itself is within 3.6 since its x·B/(B + 2)
#: became x/(1 + 2/B) (4.09 before).
#: (softmax and log_softmax were stated too, bounds 8 and 6: their VJPs
#: s·(g − ⟨g, s⟩) and g − (Σg)·s, where the difference keeps more than
#: CANCELLED of its terms but up to half of them cancel, doubled the rounding
#: errors of ⟨g, s⟩, Σg and s, 7.05 and 4.87 ULP on screens of 1,000,000
#: rows; the kernels softmax_vjp and log_softmax_vjp now form them in
#: double-double, 2.62 and 2.15 on the dense scan's rows.)  The bounds below
#: are the worst measured with a margin, not proven.  sigmoid′ and
#: gelu_tanh′: 4.08 ULP (x = −4.13905) and 4.17 (x = −2.88875) on the
#: 4,000,000 points of benchmarks/dense_scan.py, where the certificate's
#: screen shows 3.92 and 3.86 (gelu_tanh′ is no longer stated: its sum
#: P + (hi + lo) is rounded once by TwoSum and the rounding of the + 1 of its
#: denominator P(P + 2) + 1 folded back, 4.18 → 3.39 ULP on 16,000,000 points)
#: gelu: 4.08 (x = −6.0777) on 1,100,000 points against mpmath and 4.26
#: (x = −6.0768) on 20,001 points around it, where the certificate shows 3.2
#: (gelu′ was stated too, at 5.10 where Φ and x·φ cancel to half, until its
#: code became the kernel member ndtr_slope, the sum with x/√(2π) exact: 3.65
#: on the 1,000,000 points of benchmarks/dense_scan.py, 3.3 on the certificate)
#: softmax_cross_entropy′ = softmax − y: 4.3 ULP on 1,048,576 rows of 3
#: classes, 4.22 of 10 and 4.1 of 1,000 with label-smoothed and Dirichlet
#: targets (benchmarks/dense_scan.py), where p − y keeps just over half of
#: max(p, y), so the rounding errors of p (e^{z−max}, 1 + s) count up to
#: twice; the certificate shows 3.04.  (binary_cross_entropy_with_logits′ =
#: σ(z) − y was stated too, at 4.32 ULP on 8,388,608 pairs and 4.58 on
#: 5,000,000 others, until its code became the kernel sigmoid_residual, which
#: recovers the roundings of 1 − y and 1 + e^{−|z|}: 3.57 now.)
STATED_EXCEPTIONS: dict[str, float] = {"mish": 5.0, "sigmoid": 4.5, "gelu": 5.0,
                                       "softmax_cross_entropy": 5.0}


def _stated_bound(name: str, dtype=np.float64) -> float:
    """The bound of a measurement called ``name`` ("mish_grad", "softmax_vjp", …)."""
    if dtype != np.float64:
        return ULP_BOUND
    for suffix in ("_grad", "_vjp"):
        name = name.removesuffix(suffix)
    return STATED_EXCEPTIONS.get(name, ULP_BOUND)


SPECIAL_POINTS = (0.0, 5e-324, 1e-300, 1e-8, 1.0, 20.0, 37.0, 40.0, 100.0, 709.78, 710.0,
                  745.0, 750.0, 1e4, 1e300)


#: primitives whose kernels are approximations (Φ and erfc: the polynomial
#: of derive/fits.py): their certificates scan [−6, 6], where the errors of
#: such kernels wander, four times as densely as the other activations'
#: (4·points + 1 points against points + 2)
DENSELY_SCANNED = (primitives.ndtr, primitives.erfc)


def underflow_points(entry: Entry, count: int = 32) -> np.ndarray:
    """x where the exponentials of the entry's code pass the smallest normal number.

    For each small value the lowered code makes (e^{−|u|}, e^{−2|u|}, Φ(u), …:
    see ``derive.codegen.exponent_arguments``) and each side where it
    underflows, ``count`` points over the x where its logarithm runs from
    LOG_TINY + 8 down to LOG_TINY − 40.  There a function can be a normal
    number made from a subnormal (gelu_tanh′ at x = −21.2, 747 ULP before its
    tail was refined), in a window too narrow for an even grid to sample
    (0.6 wide for gelu_tanh).  A window where neither f nor f′ is below
    1e−250 at its middle is left out: there the small value is absorbed into a
    larger one (gelu′ = Φ + xφ at x = 38 is 1), and its references are the
    slow ones.
    """
    from .codegen import LOG_TINY, entry_at_defaults, exponent_arguments, exponent_crossings

    x = entry.variable
    definition, codes = entry_at_defaults(entry)
    arguments = set().union(*(exponent_arguments(code) for code in codes))
    functions = [_mp_function(g, [x]) for g in (definition, sp.diff(definition, x))]
    windows = []
    for argument in arguments:
        starts = exponent_crossings([argument], x, LOG_TINY + 8)
        ends = exponent_crossings([argument], x, LOG_TINY - 40)
        for start in starts:
            end = next((e for e in ends if (e > 0) == (start > 0)), None)
            if end is not None:
                windows.append(sorted((start, end)))
    merged: list[list[float]] = []  # overlapping windows (e^{−u²/2} and Φ(u) of gelu) as one
    for low, high in sorted(windows):
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    found = [np.linspace(low, high, count) for low, high in merged
             if any(abs(reference(fn, [(low + high) / 2])) < mpmath.mpf("1e-250") for fn in functions)]
    return np.unique(np.concatenate(found)) if found else np.empty(0)


def scalar_grid(points: int = 3000) -> np.ndarray:
    """Sorted grid: the special points with both signs; ``points``·2/3 points
    evenly on [−20, 20] and as many again drawn at random (a fixed seed) from
    [−8, 8], where the functions bend and worst cases sit between the points
    of an even grid (GELU's left tail: 4.3 ULP on the even points alone, 5.4
    with the random ones, 7 on 12,001 points of [−6, 0]); the rest log-spaced from 1e−300 to 1e5 and on
    [20, 800] (where exp over- and underflows), and 40 points out to 1e300."""
    special = np.array(SPECIAL_POINTS)
    dense = np.linspace(-20.0, 20.0, max(2 * points // 3, 41) | 1)
    scattered = np.random.default_rng(20261121).uniform(-8.0, 8.0, max(2 * points // 3, 41))
    logs = np.logspace(-300, 5, max(points // 8, 20))
    wide = np.linspace(20.0, 800.0, max(points // 12, 10))
    far = np.logspace(5, 300, 20)
    grid = np.concatenate([special, -special, dense, scattered, logs, -logs, wide, -wide, far, -far])
    return np.unique(grid)


@dataclass
class Measurement:
    """Errors of one generated function against its mpmath reference."""

    function: str
    points: int
    max_ulp: float
    worst_input: str
    worst_output: float
    worst_reference: str
    nonfinite: int = 0
    warnings: list[str] = field(default_factory=list)
    near_zero_points: int = 0
    near_zero_max_abs: float = 0.0  # in units of eps·max(1, |x|)
    near_zero_worst_ulp: float = 0.0
    max_ulp_core: float = 0.0  # over |x| ≤ 20 (activations)
    skipped: int = 0  # points where the reference could not be evaluated
    failures: list[str] = field(default_factory=list)
    bound: float = ULP_BOUND
    #: errors above ULP_BOUND but within ``bound``, a stated exception's
    stated: list[str] = field(default_factory=list)
    #: points left out at a jump of the output, within the rounding of its argument
    #: (a certificate of several variables, see verify_gradient)
    at_jumps: int = 0

    @property
    def passed(self) -> bool:
        return not self.failures and self.nonfinite == 0 and not self.warnings


@dataclass
class GradientCheck:
    """The derivative against finite differences of the forward function."""

    points: int
    unresolvable: int
    skipped_kinks: int
    max_relative_error: float
    worst_input: str

    @property
    def passed(self) -> bool:
        return self.max_relative_error <= FD_BOUND


@dataclass
class Certificate:
    """Everything measured about one catalogue entry."""

    name: str
    kind: str
    proof: str
    code_proof: str
    forward: Measurement
    derivative: Measurement
    gradient_check: GradientCheck
    float32: list[Measurement]
    exceptions: list[str] = field(default_factory=list)
    #: points of the dense screen whose worst were added to the grid (0: none)
    screened: int = 0

    @property
    def passed(self) -> bool:
        parts = [self.forward, self.derivative, *self.float32]
        return all(m.passed for m in parts) and self.gradient_check.passed

    def to_dict(self) -> dict:
        d = asdict(self)
        d["passed"] = self.passed
        return d


# --------------------------------------------------------------- references


#: below every argument a double x makes in a formula's exponent (2x at −1.8e308 is −3.6e308)
_BEYOND_FLOAT_ARGUMENTS = mpmath.mpf("-1e330")
#: e^a for such an a: 2^(−2^1100), below e^{−1e330} and small enough that e^{1e308} times it
#: is still negligible (e^{−x}·e^{−e^{−x}} at x = −1e6; 2^−200000, until 2026-12-06, made it huge)
_NEGLIGIBLE = mpmath.mpf((0, 1, -(2**1100), 1))


def _mp_exp(a):
    # mpmath's own exp, at the working precision and any argument.  Below −1e5
    # the value is under 2^-144000 and rounds to 0 in any float format, but it
    # matters beside another such value: a fixed tiny value (until 2026-12-06)
    # made e^x/(e^x + e^{2x}) 1/2 at x = −1e6, where it is 1, and a value to 60
    # digits left 1e−62 of e^x·e^{−x} − 1.  The price: the argument reduction
    # takes up to 50 ms at 1,600 digits (for −3.6e308).  Past −1e330, which only
    # an exponential of an exponential reaches (e^{−e^{1000}}), mpmath's reduction
    # would recurse without end: there a fixed negligible value stands in.  A complex
    # argument (x·log y at y < 0: outside the real domain) has mpmath's value, which
    # reference takes for no reference, or NaN past the same bound
    if isinstance(a, mpmath.mpc):
        return mpmath.exp(a) if abs(a) <= -_BEYOND_FLOAT_ARGUMENTS else mpmath.mpc(mpmath.nan, mpmath.nan)
    if a < _BEYOND_FLOAT_ARGUMENTS:
        return _NEGLIGIBLE
    if a > -_BEYOND_FLOAT_ARGUMENTS:  # e^{e^{1e300}} ran without end; past it every format's value is inf
        return mpmath.inf
    return mpmath.exp(a)


def _bounded(function: Callable, beyond: Callable) -> Callable:
    """``function`` (one of mpmath's), with ``beyond(a)`` in its place past |a| = 1e330.

    Only an exponential reaches such an argument (e^{1e300} at a probe x = 1e300), and
    there float64's value is inf.  sin, cos and tan have no value there (NaN: no
    reference, the point is skipped): their argument reduction takes as many bits as the
    argument's exponent, and sin(e^x) ran for minutes and held gigabytes (``nnderive diff
    'sin(exp(x))' --codegen`` never ended).  sinh, cosh, tanh, erf and erfc take their
    limits: mpmath ran out of memory on sinh(e^x) and tanh(e^x), and gmp aborted the
    process on erfc(e^x).
    """
    def bounded(a):
        return beyond(a) if abs(a) > -_BEYOND_FLOAT_ARGUMENTS else function(a)
    return bounded


def _no_value(a):
    return mpmath.mpf("nan")


def _mp_pow(base, exponent):
    """base**exponent in mpmath, as e^{exponent·log base} where base > 0 (_mp_exp's bounds):
    gmp aborted the process ("overflow in mpz type") on x^(x^x) at the probe x = 1e300."""
    if isinstance(base, mpmath.mpf) and isinstance(exponent, mpmath.mpf) and base > 0:
        return _mp_exp(exponent * mpmath.log(base))
    return base**exponent  # (a complex base or exponent, outside the real domain: as before)


class _VariablePower(sp.Function):
    """A power whose exponent is not a number, evaluated by _mp_pow (a reference's formula only)."""


_MP_FUNCTIONS = {"exp": _mp_exp, "sin": _bounded(mpmath.sin, _no_value), "cos": _bounded(mpmath.cos, _no_value),
                 "tan": _bounded(mpmath.tan, _no_value),
                 "sinh": _bounded(mpmath.sinh, lambda a: mpmath.inf if a > 0 else -mpmath.inf),
                 "cosh": _bounded(mpmath.cosh, lambda a: mpmath.inf),
                 "tanh": _bounded(mpmath.tanh, lambda a: mpmath.mpf(1) if a > 0 else mpmath.mpf(-1)),
                 "erf": _bounded(mpmath.erf, lambda a: mpmath.mpf(1) if a > 0 else mpmath.mpf(-1)),
                 "erfc": _bounded(mpmath.erfc, lambda a: mpmath.mpf(0) if a > 0 else mpmath.mpf(2)),
                 "_VariablePower": _mp_pow}


def _mp_function(expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> Callable:
    expr = expr.replace(lambda e: isinstance(e, sp.Pow) and not e.exp.is_number,
                        lambda e: _VariablePower(e.base, e.exp))
    return sp.lambdify(list(symbols), expr, modules=[_MP_FUNCTIONS, "mpmath"])


def _starting_digits(args: Sequence[float]) -> int:
    """Digits enough to resolve cancellations the arguments can cause: e.g.
    log(1 + e^-745) needs ~330 digits, 1 − (1 − 1e−300) needs 300."""
    digits = 50
    for a in args:
        a = abs(float(a))
        if a == 0 or not math.isfinite(a):
            continue
        if a < 1:
            digits = max(digits, 50 + int(-math.log10(a)))
        else:
            digits = max(digits, 50 + int(min(a, 1e5) / 2.3))
    # beyond ~330 digits a cancellation can only hide values below the
    # smallest subnormal, which round to 0 anyway
    digits = min(digits, 400)
    if 2 <= len(args) <= 4:
        # but a product of tiny arguments is tinier: 1 − cos(w·x) at w = x = −1e−300 is 0
        # at 400 and 800 digits, and ∂/∂w of (1 − cos(w·x))/(w·x)² was −1e300 at both, its
        # truth −(w·x)²/(12w) (see reference, which confirms a value that changes)
        product = sum(-math.log10(abs(float(a))) for a in args if 0 < abs(float(a)) < 1e-8)
        digits = max(digits, min(50 + int(product), 1400))
    return digits


#: the digits at which a denominator still 0 is taken to be 0 (a pole: no reference)
_MOST_DIGITS_FOR_A_ZERO = 1600

#: the most digits at which a value that still changes is evaluated again (see reference)
_MOST_DIGITS_TO_CONFIRM = 6400


def reference(f: Callable, args: Sequence[float]):
    """f(*args) in mpmath at ≥ 50 digits, with more digits until the value
    rounded to float64 stops changing.

    A small value may be what is left of a cancellation (1 + erf(−26) ≈ 1e−298),
    so the next try always has at least 50 digits more than the value's
    magnitude, and a zero is confirmed at up to 1600 digits (at least four
    times the digits an argument's magnitude asked for).  Outside the
    real domain of f (√x or log x at x < 0, where mpmath answers with a
    complex number) there is no reference: NaN, and the point is counted as
    skipped, as NumPy's NaN there is right.

    Examples
    --------
    >>> float(reference(mpmath.sqrt, [2.0])) == 2.0 ** 0.5
    True
    >>> reference(mpmath.sqrt, [-2.0])
    mpf('nan')
    """
    previous = None
    dps = _starting_digits(args)
    # a zero is confirmed at four times the digits a tiny argument asks for (see below)
    tiny = [a for a in args if 0 < abs(float(a)) < 1]
    zero_digits = max(400, 4 * _starting_digits(tiny))
    while True:
        with mpmath.workdps(dps):
            try:
                value = +f(*[mpmath.mpf(a) for a in args])
            except ZeroDivisionError:
                # a denominator that is 0 at these digits may be a tail's 1 + erf(−14)
                # (1e−89, the Φ(−20) of φ/Φ): more digits, up to 1,600, before NaN
                if dps >= _MOST_DIGITS_FOR_A_ZERO:
                    return mpmath.mpf("nan")
                dps = min(4 * dps, _MOST_DIGITS_FOR_A_ZERO)
                continue
            except OverflowError:  # mpmath's erfc past x = 1e154 (its series test squares x as a float)
                return mpmath.mpf("nan")
        if isinstance(value, mpmath.mpc):
            if value.imag != 0:
                return mpmath.mpf("nan")  # not real here
            value = value.real
        if previous is not None and _same_float(value, previous) and (value != 0 or dps >= zero_digits) \
                and mpmath.isfinite(value):
            return value
        changed = previous is None or mpmath.isfinite(previous)  # (a first value, or a finite one before, another now)
        previous = value
        if value == 0 or not mpmath.isfinite(value):
            needed = 2 * dps
        else:
            needed = max(2 * dps, 60 + int(-mpmath.log10(abs(value))))
        if not mpmath.isfinite(value):
            if needed <= 10000:
                dps = needed  # e.g. log(1 − σ(1e4)) needs 4343 digits to be finite
                continue
            # the definition cannot be evaluated here (log(1 − σ(1e5)) would need
            # 43430 digits): no reference, and the point is counted as skipped
            return mpmath.mpf("nan")
        # a zero is confirmed at twice the starting digits and more: at x = 1e−300
        # the derivative of (x − sin x)/x³ is −x/60 only at 1400 digits (x³/6
        # of 1e−900 left of x − sin x), and 0 at 700
        if value == 0 and needed > 2 * zero_digits:
            return value
        if needed > 1600:
            # a finite value that has just changed is not yet confirmed: at x = y = 5e−324
            # the derivative of (x·y − sin(x·y))/(x·y)³ is a difference of terms that each
            # cancel, 0 at 400 and 800 digits, −2.6e123 at 1600 and −1.4e−970 (0 in float64)
            # from 2600 (a first value at 996 digits, for three tiny arguments, is confirmed as
            # well); past _MOST_DIGITS_TO_CONFIRM there is no reference (NaN: the point is
            # skipped).  The first finite value after infinite ones is taken, as before
            # (log(1 − σ(1e4)) is finite from 4343 digits, and right)
            if not changed:
                return value
            if dps >= _MOST_DIGITS_TO_CONFIRM:
                return mpmath.mpf("nan")
            needed = min(max(needed, 2 * dps), _MOST_DIGITS_TO_CONFIRM)
        dps = needed


def _same_float(a, b) -> bool:
    try:
        return float(a) == float(b) or (mpmath.isnan(a) and mpmath.isnan(b))
    except (OverflowError, ValueError):
        return a == b


def _interior_zeros(f_mp: Callable, xs: np.ndarray, refs: list) -> list[float]:
    zeros = []
    for i in range(1, len(xs) - 1):  # a zero exactly at a point of the grid: (1 + x)e^x at x = −1
        a, z, b = refs[i - 1], refs[i], refs[i + 1]
        if z == 0 and xs[i] != 0 and a != 0 and b != 0 and not mpmath.isnan(a) and not mpmath.isnan(b) \
                and (a > 0) != (b > 0):
            zeros.append(float(xs[i]))
    for i in range(len(xs) - 1):
        a, b = refs[i], refs[i + 1]
        if a == 0 or b == 0 or mpmath.isnan(a) or mpmath.isnan(b):
            continue
        if (a > 0) != (b > 0) and not (xs[i] <= 0 <= xs[i + 1]):
            lo = mpmath.mpf(xs[i])
            with mpmath.workdps(30):
                root, _ = _bisect(f_mp, lo, mpmath.mpf(xs[i + 1]), f_mp(lo))
            zeros.append(float(root))
    return zeros


def _bisect(f: Callable, lo, hi, f_lo):
    """(the root, f at the last midpoint) of f between lo and hi, where f changes sign
    (f(lo) = ``f_lo``): 80 halvings, at the caller's mpmath precision."""
    f_mid = f_lo
    for _ in range(80):
        mid = (lo + hi) / 2
        f_mid = f(mid)
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return (lo + hi) / 2, f_mid


def _measure(name: str, computed: np.ndarray, refs: list, inputs: list[str],
             xs_for_zero: np.ndarray | None, zeros: Sequence[float], dtype=np.float64,
             caught: Sequence[str] = (),
             zeros_at: Sequence[Sequence[float]] | None = None,
             scales: Sequence[float] | None = None) -> Measurement:
    worst, worst_i = -1.0, 0
    nonfinite = 0
    near_points, near_abs, near_ulp = 0, 0.0, 0.0
    core = 0.0
    failures = []
    eps = float(np.finfo(dtype).eps)
    bound = _stated_bound(name, dtype)
    stated = []
    skipped = 0
    for i, (c, r) in enumerate(zip(computed, refs)):
        if mpmath.isnan(r):
            skipped += 1
            continue
        err = ulp_error(float(c), r, dtype)
        finite_ref = abs(r) <= float(np.finfo(dtype).max)
        if not np.isfinite(float(c)) and finite_ref:
            nonfinite += 1
            failures.append((math.inf, f"non-finite {c} at {inputs[i]} (true {mpmath.nstr(r, 17)})"))
            continue
        x = xs_for_zero[i] if xs_for_zero is not None else None
        point_zeros = zeros_at[i] if zeros_at is not None else zeros
        zero = next((z for z in point_zeros if x is not None and abs(x - z) <= ZERO_WINDOW * max(1, abs(z))),
                    None)
        if zero is not None:
            near_points += 1
            # (``scales``: the size of the terms that cancel there, where it is larger)
            absolute = float(abs(r - float(c))) / (eps * max(1.0, abs(x), scales[i] if scales is not None else 0.0))
            near_abs = max(near_abs, absolute)
            near_ulp = max(near_ulp, err)
            if err > ULP_BOUND and absolute > ZERO_BOUND:
                failures.append((absolute, f"{absolute:.3g}·eps·max(1,|x|) absolute error at {inputs[i]} "
                                           f"next to the zero at {zero:.6g}"))
            continue
        if err > worst:
            worst, worst_i = err, i
        if x is not None and abs(x) <= CORE_RANGE:
            core = max(core, err)
        if err > bound:
            failures.append((err, f"{err:.3g} ULP at {inputs[i]}"))
        elif err > ULP_BOUND:
            stated.append((err, f"{err:.3g} ULP at {inputs[i]} (stated exception, bound {bound:g})"))
    return Measurement(
        function=name, points=len(refs), max_ulp=float(max(worst, 0.0)),
        worst_input=inputs[worst_i], worst_output=float(computed[worst_i]),
        worst_reference=mpmath.nstr(refs[worst_i], 20), nonfinite=nonfinite,
        warnings=list(caught), near_zero_points=near_points, near_zero_max_abs=near_abs,
        near_zero_worst_ulp=near_ulp, max_ulp_core=core, skipped=skipped,
        failures=[text for _, text in sorted(failures, key=lambda f: -f[0])[:20]],  # the worst first
        bound=bound, stated=[text for _, text in sorted(stated, key=lambda f: -f[0])[:20]],
    )


def _warnings_where_finite(fn: Callable, xs: np.ndarray, refs: list, caught: list[str],
                           names: Sequence[str] = ("x",), dtype=np.float64) -> list[str]:
    """Keep a warning only if it is raised at a point whose true value is finite
    in ``dtype`` (an overflow warning where the true value overflows is the right
    answer).  ``xs``: the points, or rows of the values of the variables ``names``."""
    if not caught:
        return caught
    big = float(np.finfo(dtype).max)
    found = set()
    for point, r in zip(xs, refs):
        if mpmath.isnan(r) or abs(r) > big:
            continue
        values = np.atleast_1d(point)
        _, w = _call(fn, *[np.array([v], dtype) for v in values])
        where = ", ".join(f"{n}={float(v)!r}" for n, v in zip(names, values))
        found.update(f"{message} (at {where})" for message in w)
        if len(found) >= 3:
            break
    return sorted(found)


def _call(fn: Callable, *args):
    # NumPy's default error state: overflow, division by zero and invalid
    # operations warn; underflow (to a subnormal or 0) is how float64 works.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
            out = fn(*args)
    return out, sorted({f"{w.category.__name__}: {w.message}" for w in caught})


# ------------------------------------------------------------- dense screen

#: points of the dense screen of each activation (see screened_points)
SCREEN_POINTS = 600_000
#: the screen is cut into this many stretches of as many points; the worst
#: point of each, per function and precision, is measured against mpmath
SCREEN_BINS = 96
#: points of the screen where NumPy cannot evaluate the definition in long
#: double (erf), evaluated with mpmath at SCREEN_DIGITS instead
SCREEN_FALLBACK_POINTS = 30_000
SCREEN_DIGITS = 30
#: rows of the screen of a vector map (see _screened_vector_rows), and how
#: many of the worst, by forward and by VJP, join the grid
SCREEN_ROWS = 60_000
SCREEN_ROWS_KEPT = 40


def _wide_function(expr: sp.Expr, variable: sp.Symbol | Sequence[sp.Symbol]) -> Callable | None:
    """``expr`` of ``variable`` (one symbol or several) as NumPy code in np.longdouble, or None.

    None where long double is only a double (no digits to spare) or where
    the plain definition has a function NumPy lacks (erf).  Every constant
    (√2, 1/3, π, a Float) becomes a long double parsed from 30 digits, so
    that no float64 rounding of a constant hides in the reference.
    """
    if np.finfo(np.longdouble).nmant < 63:
        return None
    constants: dict[sp.Symbol, np.longdouble] = {}

    def hoist(node):
        if getattr(node, "is_number", False) and not node.is_Integer and isinstance(node, sp.Expr):
            symbol = sp.Symbol(f"_c{len(constants)}")
            constants[symbol] = np.longdouble(str(sp.N(node, 30)))
            return symbol
        if not node.args:
            return node
        return node.func(*[hoist(a) for a in node.args])

    plain = hoist(primitives.expand_primitives(expr))
    variables = [variable] if isinstance(variable, sp.Symbol) else list(variable)
    names = [*variables, *constants]
    try:
        fn = sp.lambdify(names, plain, modules="numpy")
        probe = np.array([-1.5, 0.25, 2.0], dtype=np.longdouble)
        with np.errstate(all="ignore"):
            out = np.asarray(fn(*[probe] * len(variables), *constants.values()))
    except Exception:  # noqa: BLE001 — any failure means: use mpmath instead
        return None
    if out.shape != probe.shape or out.dtype != np.longdouble:
        return None
    values = list(constants.values())

    def wide(*columns: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(fn(*[c.astype(np.longdouble) for c in columns], *values), dtype=np.longdouble)

    return wide


def _mpmath_screen(expr: sp.Expr, variable: sp.Symbol) -> Callable:
    """``expr`` of ``variable`` in mpmath at SCREEN_DIGITS, rounded to long double (NaN where it fails)."""
    f = _mp_function(primitives.expand_primitives(expr), [variable])  # mpmath knows no Φ (ndtr(x) raised NameError)

    def wide(xs: np.ndarray) -> np.ndarray:
        with mpmath.workdps(SCREEN_DIGITS):
            out = []
            for v in xs:
                try:
                    out.append(np.longdouble(mpmath.nstr(f(mpmath.mpf(float(v))), 25)))
                except (ZeroDivisionError, ValueError, OverflowError):
                    out.append(np.longdouble("nan"))
        return np.array(out, dtype=np.longdouble)

    return wide


def screen_grid(points: int = SCREEN_POINTS) -> np.ndarray:
    """The screen: half its points at random on [−6, 6] (a fixed seed),
    where the functions bend and worst cases sit in windows a few hundredths
    wide (mish′: 4.4 ULP on 30,000 points of [−0.25, −0.1], 2.9 on the
    certificate grid), half evenly on [−20, 20]."""
    scattered = np.random.default_rng(20261205).uniform(-6.0, 6.0, points // 2)
    return np.unique(np.concatenate([scattered, np.linspace(-20.0, 20.0, points - points // 2)]))


def _screen_ulps(computed: np.ndarray, true: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Estimated ULP errors (of ``dtype``) of ``computed`` against a long-double ``true``.

    −inf where ``true`` is not finite in ``dtype``; inf where ``computed`` is
    not finite but ``true`` is (a non-finite result comes first).
    """
    finite = np.isfinite(true) & (np.abs(true) <= np.finfo(dtype).max)
    rounded = np.abs(np.where(finite, true, 1).astype(dtype))
    # the unit of numeric.accuracy.unit: below the smallest normal number, that
    # number itself (the spacing there, 2^-1074, scored a subnormal result of
    # a few correct digits as thousands of ULPs, and took every pick of the
    # 3-class softmax_vjp row scan from the rows that mattered)
    tiny = np.finfo(dtype).tiny
    unit = np.where(rounded < tiny, tiny, np.spacing(rounded)).astype(np.longdouble)
    with np.errstate(invalid="ignore", over="ignore"):  # inf − inf where true is not finite: −inf below
        error = np.abs(computed.astype(np.longdouble) - true) / unit
    with np.errstate(over="ignore"):  # an error beyond float64: inf, as a non-finite result's
        return np.where(finite, np.where(np.isfinite(error), error, np.inf), -np.inf).astype(np.float64)


def screened_points(expr: sp.Expr, variable: sp.Symbol, fn: Callable,
                    xs: np.ndarray | None = None, bins: int = SCREEN_BINS) -> tuple[np.ndarray, int]:
    """The x where ``fn`` looks worst against ``expr``, to be measured with mpmath.

    ``fn`` is evaluated on the screen ``xs`` (default :func:`screen_grid`)
    in float64 and in float32, and ``expr``, the plain definition, in long
    double (64 bits of mantissa: its own rounding is about 1/2000 of a
    float64 ULP, unless the definition cancels, as 1 − tanh² does in the
    tails; then the screen errs, and mpmath decides).  Where NumPy lacks a
    function of the definition, mpmath at 30 digits evaluates it on a
    sample of SCREEN_FALLBACK_POINTS.  Returned: for each precision and each
    of ``bins`` stretches of the screen (as many points each), the point of
    largest estimated ULP error (a non-finite result counts as infinite)
    outside the windows of the interior zeros the screen shows, and the one
    of largest absolute error inside them; with the number of points
    screened.  The certificate adds them to its grid: its maximum
    is then measured where the screen found the worst, not only where a grid
    happens to fall.
    """
    xs = screen_grid() if xs is None else np.asarray(xs, dtype=np.float64)
    wide = _wide_function(expr, variable)
    if wide is None:
        step = max(1, xs.size // SCREEN_FALLBACK_POINTS)
        xs = xs[::step]
        wide = _mpmath_screen(expr, variable)
    reference_values = wide(xs)
    found = []
    for dtype in (np.float64, np.float32):
        with np.errstate(over="ignore"):  # beyond float32's range: ±inf, as a float32 input would be
            inputs = xs.astype(dtype)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            computed = np.asarray(fn(inputs))
        true = reference_values if dtype is np.float64 else wide(inputs.astype(np.float64))
        found += _worst_by_stretch(xs, computed, true, bins, dtype)
    # (none where no reference is finite: x² on [−1e300, 1e300] overflows everywhere in float64)
    return np.unique(np.concatenate(found)) if found else np.empty(0), int(xs.size)


def _worst_by_stretch(xs: np.ndarray, computed: np.ndarray, true: np.ndarray, bins: int,
                      dtype=np.float64, left_out: np.ndarray | None = None) -> list[np.ndarray]:
    """The x of largest estimated error in each of ``bins`` stretches of the sorted ``xs``.

    Scored by ULPs of ``dtype`` (see _screen_ulps) outside the windows of the
    interior zeros that the sign changes of ``true`` show (away from x = 0),
    by absolute error inside them; the worst of each stretch by each score.
    The worst of each stretch, not the worst overall: where the definition
    cancels even in long double (log(1 + e^x) at x = −20 keeps 10 of its 19
    digits) the screen's own error would take every place, and mpmath would
    find them all fine.  The x where ``left_out`` holds are never picked.
    """
    error = _screen_ulps(computed, true, dtype)
    if left_out is not None:
        error = np.where(left_out, -np.inf, error)
    finite = np.isfinite(true)
    signs = np.sign(np.where(finite, true, 0))
    change = np.flatnonzero((signs[:-1] * signs[1:] < 0) & (np.abs(xs[:-1]) > 1e-3))
    window = np.zeros(xs.shape, bool)
    for i in change[:20]:
        window |= np.abs(xs - xs[i]) <= ZERO_WINDOW * max(1.0, abs(xs[i]))
    outside = np.where(window, -np.inf, error)
    with np.errstate(invalid="ignore", over="ignore"):  # inf − inf: not a candidate (window & finite)
        absolute = np.abs(computed.astype(np.longdouble) - true).astype(np.float64)
    inside = np.where(window & finite & (True if left_out is None else ~left_out), absolute, -np.inf)
    found = []
    for score in (outside, inside):
        for piece in np.array_split(np.arange(xs.size), bins):
            if piece.size and score[piece].max() > -np.inf:
                found.append(xs[piece[[np.argmax(score[piece])]]])
    return found


# ------------------------------------------------------------- activations


def _activation_certificate(entry: Entry, points: int, screen: bool = True) -> Certificate:
    d = derive(entry)
    x = entry.variable
    defaults = entry.defaults
    f_mp = _mp_function(entry.definition.subs(defaults), [x])
    df_mp = _mp_function(sp.diff(entry.definition, x).subs(defaults), [x])
    xs = scalar_grid(points)
    # every activation: a scan of [−6, 6], where the functions bend and the
    # terms of their derivatives partly cancel, between the points of the grid
    # (gelu_tanh′: 5.3 ULP on the grid, 8.4 on 18,000 points of [−6, 0]);
    # approximations, which err by an eps or two at points no grid can
    # predict, four times as densely
    approximated = any(d.forward_code.has(p) or d.derivative_code.has(p) for p in DENSELY_SCANNED)
    scan = np.linspace(-6.0, 6.0, 4 * points + 1 if approximated else points + 2)
    underflow = underflow_points(entry)
    forward = getattr(numeric, entry.name)
    grad = getattr(numeric, entry.name + "_grad")
    # and the worst points of a dense screen against a long-double reference
    definition = entry.definition.subs(defaults)
    worst_f, screened = screened_points(definition, x, forward) if screen else (np.empty(0), 0)
    worst_d, _ = screened_points(sp.diff(definition, x), x, grad) if screen else (np.empty(0), 0)
    xs = np.unique(np.concatenate([xs, scan, underflow, worst_f, worst_d]))
    refs_f = [reference(f_mp, [v]) for v in xs]
    refs_d = [reference(df_mp, [v]) for v in xs]
    inputs = [f"x={float(v)!r}" for v in xs]
    zf = _interior_zeros(f_mp, xs, refs_f)
    zd = _interior_zeros(df_mp, xs, refs_d)
    yf, wf = _call(forward, xs)
    yd, wd = _call(grad, xs)
    wf = _warnings_where_finite(forward, xs, refs_f, wf)
    wd = _warnings_where_finite(grad, xs, refs_d, wd)
    m_f = _measure(entry.name, yf, refs_f, inputs, xs, zf, caught=wf)
    m_d = _measure(entry.name + "_grad", yd, refs_d, inputs, xs, zd, caught=wd)
    # the combined function must agree with the separate ones
    both, wb = _call(getattr(numeric, entry.name + "_and_grad"), xs)
    if not (np.array_equal(both[0], yf, equal_nan=True) and np.array_equal(both[1], yd, equal_nan=True)):
        m_d.failures.append(f"{entry.name}_and_grad differs from {entry.name} and {entry.name}_grad")
    m_d.warnings += wb
    # float32: inputs that are float32 numbers, reference at those inputs
    # (not the underflow points: f and f′ are far below float32's range there)
    plain = np.setdiff1d(xs, underflow)
    xs32 = np.unique(plain[np.abs(plain) < 3e38].astype(np.float32))
    xs32 = xs32[np.isfinite(xs32)]
    in32 = [f"x={float(v)!r} (float32)" for v in xs32]
    r32f = [reference(f_mp, [float(v)]) for v in xs32]
    r32d = [reference(df_mp, [float(v)]) for v in xs32]
    y32f, w32f = _call(forward, xs32)
    y32d, w32d = _call(grad, xs32)
    dtype_failures = [] if y32f.dtype == np.float32 and y32d.dtype == np.float32 else \
        [f"float32 in, {y32f.dtype}/{y32d.dtype} out"]
    m32f = _measure(entry.name + " (float32)", y32f, r32f, in32, xs32.astype(np.float64),
                    zf, np.float32, w32f)
    m32d = _measure(entry.name + "_grad (float32)", y32d, r32d, in32, xs32.astype(np.float64),
                    zd, np.float32, w32d)
    m32f.failures += dtype_failures
    # finite differences on [-20, 20], away from kinks
    xs_fd = xs[(np.abs(xs) <= 20)]
    check = _fd_activation(forward, yd, xs, xs_fd, entry)
    return Certificate(entry.name, entry.kind, str(d.proof), str(d.code_proof), m_f, m_d, check,
                       [m32f, m32d], screened=screened)


def _fd_activation(forward, yd_all, xs_all, xs, entry: Entry) -> GradientCheck:
    mask = np.isin(xs_all, xs)
    yd = yd_all[mask]
    # the stencil's points x ± h may leave the function's domain (√x at x = 0):
    # their warnings say nothing of the code (the certificate's own calls,
    # _call, catch those), and the points whose estimate is not finite are
    # not resolvable
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        estimate, bound = fd_derivative(lambda v: forward(v), xs)
    h = 2.0**-10 * np.maximum(1, np.abs(xs))
    near_kink = np.zeros(xs.shape, bool)
    for k in entry.kinks:
        near_kink |= np.abs(xs - k) <= 2 * h
    scale = np.abs(yd)
    # (where the derivative or its estimate is not finite, at a pole as 1/x has
    # at 0, finite differences say nothing)
    resolvable = (bound <= 1e-9 * scale) & ~near_kink & np.isfinite(yd) & np.isfinite(estimate)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = np.where(resolvable, np.abs(estimate - yd) / np.where(scale > 0, scale, 1), 0.0)
    # exact zero derivative (flat pieces): finite differences must give 0 too
    flat = (yd == 0) & ~near_kink
    rel = np.where(flat, np.abs(estimate), rel)
    i = int(np.argmax(rel))
    return GradientCheck(points=int(resolvable.sum() + flat.sum()),
                         unresolvable=int((~resolvable & ~near_kink & ~flat).sum()),
                         skipped_kinks=int(near_kink.sum()), max_relative_error=float(rel[i]),
                         worst_input=f"x={xs[i]!r}")


# ------------------------------------------------------------------ losses

_PROBABILITIES = np.unique(np.concatenate([
    [5e-324, 1e-300, 1e-100, 1e-20, 1e-8, 1e-3, 0.1, 0.25, 0.5, 0.75, 0.9, 1 - 1e-3, 1 - 1e-8,
     1 - 2**-52, 1.0],
    np.linspace(0.01, 0.99, 99),
    np.logspace(-300, -1, 60),
]))


def _targets(entry: Entry) -> list[float]:
    if entry.target_kind == "sign":
        return [-1.0, 1.0]
    if entry.domain == (0.0, 1.0) or entry.name == "binary_cross_entropy_with_logits":
        return [0.0, 0.1, 0.3, 0.9, 1.0]  # 0.1 and 0.9: label smoothing
    return [-1.5, 0.0, 0.3, 1.0, 1e4]


#: predictions per target of the screen of an elementwise loss (a power of
#: two: the gradient of the mean over them, times their number, is each
#: element's own gradient to the bit), and of them the forward's sample
SCREEN_LOSS_POINTS = 1 << 17
SCREEN_LOSS_FORWARD = 2048


def _loss_screen_preds(entry: Entry, count: int = SCREEN_LOSS_POINTS) -> np.ndarray:
    """``count`` predictions for the screen of an elementwise loss (sorted; repeats allowed)."""
    rng = np.random.default_rng(20261205)
    if entry.domain == (0.0, 1.0):  # probabilities, a quarter each close to 0 and to 1
        half, quarter = count // 2, count // 4
        preds = np.concatenate([rng.uniform(0.0, 1.0, half), 10.0 ** rng.uniform(-30, 0, quarter),
                                1 - 10.0 ** rng.uniform(-16, 0, count - half - quarter)])
        preds = np.clip(preds, 5e-324, 1 - 2**-53)
    else:
        preds = np.concatenate([rng.uniform(-6.0, 6.0, count // 2),
                                np.linspace(-20.0, 20.0, count - count // 2)])
    return np.sort(preds)


def _screened_loss_points(entry: Entry, f_expr: sp.Expr, df_expr: sp.Expr,
                          bins: int = 32) -> tuple[dict[float, np.ndarray], int]:
    """Per target, the predictions where an elementwise loss or its gradient look worst.

    The gradient on SCREEN_LOSS_POINTS predictions at once (times their
    number: exactly each element's gradient), the loss one element at a time
    on SCREEN_LOSS_FORWARD of them (the loss of an array is a mean), both
    against the definition and its derivative in long double; the worst
    point of each of ``bins`` stretches joins the grid (scored as in
    :func:`screened_points`, interior zeros by absolute error; gradients
    whose mean is subnormal left out, see _subnormal_means).
    """
    p, t = entry.variables
    f_wide, d_wide = _wide_function(f_expr, [p, t]), _wide_function(df_expr, [p, t])
    if f_wide is None or d_wide is None:
        return {}, 0
    loss, grad = getattr(numeric, entry.name), getattr(numeric, entry.name + "_grad")
    preds = _loss_screen_preds(entry)
    sample = preds[:: max(1, preds.size // SCREEN_LOSS_FORWARD)]
    found: dict[float, np.ndarray] = {}
    for tv in _targets(entry):
        picked = []
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            gradients = np.asarray(grad(preds, np.full(preds.shape, tv))) * preds.size
            losses = np.array([float(loss(np.array([a]), np.array([tv]))) for a in sample])
        true_d = d_wide(preds, np.full(preds.shape, tv))
        picked += _worst_by_stretch(preds, gradients, true_d, bins, left_out=_subnormal_means(true_d, preds.size))
        picked += _worst_by_stretch(sample, losses, f_wide(sample, np.full(sample.shape, tv)), bins)
        found[tv] = np.unique(np.concatenate(picked)) if picked else np.empty(0)
    return found, int(preds.size)


def _elementwise_loss_certificate(entry: Entry, points: int, screen: bool = True) -> Certificate:
    d = derive(entry)
    p, t = entry.variables
    defaults = entry.defaults
    f_mp = _mp_function(entry.definition.subs(defaults), [p, t])
    df_mp = _mp_function(sp.diff(entry.definition, p).subs(defaults), [p, t])
    if entry.domain == (0.0, 1.0):
        preds = _PROBABILITIES[(_PROBABILITIES > 0) & (_PROBABILITIES < 1)]
    else:
        preds = scalar_grid(max(points // 4, 200))
    loss = getattr(numeric, entry.name)
    grad = getattr(numeric, entry.name + "_grad")
    extra, screened = ({}, 0)
    if screen:  # and, per target, the worst predictions of a long-double screen
        extra, screened = _screened_loss_points(entry, entry.definition.subs(defaults),
                                                sp.diff(entry.definition, p).subs(defaults))
    rows = []
    for tv in _targets(entry):
        for pv in np.unique(np.concatenate([preds, extra.get(tv, np.empty(0))])):
            rows.append((float(pv), tv))
    inputs = [f"pred={a!r}, target={b!r}" for a, b in rows]
    refs_f = [reference(f_mp, r) for r in rows]
    refs_d = [reference(df_mp, r) for r in rows]
    yf, yd, wf, wd, _ = _loss_elements(loss, grad, rows, refs_f, refs_d, np.float64)
    # interior zeros in pred, for each target (e.g. σ(z) = y for BCE with logits)
    pred_values = np.array([a for a, _ in rows])
    zeros_f, zeros_d = [], []
    for tv in _targets(entry):
        group = [i for i, (_, b) in enumerate(rows) if b == tv]
        xs_group = pred_values[group]
        zf = _interior_zeros(lambda v, tv=tv: f_mp(v, tv), xs_group, [refs_f[i] for i in group])
        zd = _interior_zeros(lambda v, tv=tv: df_mp(v, tv), xs_group, [refs_d[i] for i in group])
        zeros_f += [zf] * len(group)
        zeros_d += [zd] * len(group)
    m_f = _measure(entry.name, np.array(yf), refs_f, inputs, pred_values, (),
                   caught=sorted(set(wf)), zeros_at=zeros_f)
    m_d = _measure(entry.name + "_grad", np.array(yd), refs_d, inputs, pred_values, (),
                   caught=sorted(set(wd)), zeros_at=zeros_d)
    if entry.name == "binary_cross_entropy_with_logits":
        # ℓ′ = σ(z) − y cancels where σ(z) ≈ y (soft targets), as softmax − y does:
        # judged alike, by absolute error against 8·eps·max(σ(z), |y|) where less
        # than CANCELLED of that is left (the screen found 6.4 ULP at z = −0.33,
        # y = 0.3, just outside the interior zero's window, with three quarters
        # of σ(z) cancelled)
        scales = _residual_scales(numeric.sigmoid(pred_values), [b for _, b in rows])
        _absolute_near_cancellation(m_d, np.array(yd), refs_d, inputs, list(scales))
    float32 = _elementwise_loss_float32(entry, rows, zeros_f, zeros_d, f_mp, df_mp)
    check = _fd_loss(entry)
    return Certificate(entry.name, entry.kind, str(d.proof), str(d.code_proof), m_f, m_d, check,
                       float32, screened=screened)


def _loss_elements(loss, grad, pairs, refs_f, refs_d, dtype):
    """An elementwise loss and its gradient one element at a time (N = 1: the
    loss is ℓ) at the (prediction, target) ``pairs`` of ``dtype``.

    Returns the losses, the gradients, the warnings of each (kept where the
    true value, ``refs_f`` or ``refs_d``, is finite in ``dtype``: an overflow
    warning where the truth overflows is the right answer) and the dtypes of
    the results.
    """
    big = float(np.finfo(dtype).max)
    tag = "" if dtype == np.float64 else f", {np.dtype(dtype).name}"
    yf, yd, wf, wd, types = [], [], [], [], set()
    for (a, b), rf, rd in zip(pairs, refs_f, refs_d):
        where = f"(at pred={float(a)!r}, target={float(b)!r}{tag})"
        out, w = _call(loss, np.array([a]), np.array([b]))
        yf.append(out)
        wf += [f"{m} {where}" for m in w if abs(rf) <= big]
        types.add(np.asarray(out).dtype)
        out, w = _call(grad, np.array([a]), np.array([b]))
        yd.append(out[0])
        wd += [f"{m} {where}" for m in w if abs(rd) <= big]
        types.add(out.dtype)
    return yf, yd, wf, wd, types


def _elementwise_loss_float32(entry: Entry, rows, zeros_f, zeros_d, f_mp, df_mp) -> list[Measurement]:
    """The loss and its gradient on the (prediction, target) rows that are float32 numbers.

    Against the references at those float32 numbers, in float32 ULPs; the
    interior zeros are the float64 grid's (``zeros_f``, ``zeros_d``, one list
    per row).  A probability that is not a positive normal float32 is left out.
    """
    loss, grad = getattr(numeric, entry.name), getattr(numeric, entry.name + "_grad")
    info = np.finfo(np.float32)
    chosen = []
    for i, (a, b) in enumerate(rows):
        if not abs(a) < float(info.max):
            continue
        a32, b32 = np.float32(a), np.float32(b)
        if entry.domain == (0.0, 1.0) and not (float(info.tiny) <= float(a32) < 1.0):
            continue
        chosen.append((i, a32, b32))
    inputs = [f"pred={float(a)!r}, target={float(b)!r} (float32)" for _, a, b in chosen]
    refs_f = [reference(f_mp, [float(a), float(b)]) for _, a, b in chosen]
    refs_d = [reference(df_mp, [float(a), float(b)]) for _, a, b in chosen]
    yf, yd, wf, wd, types = _loss_elements(loss, grad, [(a, b) for _, a, b in chosen], refs_f, refs_d,
                                           np.float32)
    xs = np.array([float(a) for _, a, _ in chosen])
    m_f = _measure(entry.name + " (float32)", np.array(yf, dtype=np.float64), refs_f, inputs, xs, (),
                   np.float32, sorted(set(wf)), zeros_at=[zeros_f[i] for i, _, _ in chosen])
    m_d = _measure(entry.name + "_grad (float32)", np.array(yd, dtype=np.float64), refs_d, inputs, xs, (),
                   np.float32, sorted(set(wd)), zeros_at=[zeros_d[i] for i, _, _ in chosen])
    if types != {np.dtype(np.float32)}:
        m_f.failures.append(f"float32 in, {sorted(t.name for t in types)} out")
    if entry.name == "binary_cross_entropy_with_logits":  # as in float64: σ(z) − y cancels
        scales = _residual_scales(numeric.sigmoid(xs), [b for _, _, b in chosen])
        _absolute_near_cancellation(m_d, np.array(yd, dtype=np.float64), refs_d, inputs, list(scales),
                                    np.float32)
    return [m_f, m_d]


def _fd_loss(entry: Entry) -> GradientCheck:
    rng = np.random.default_rng(7)
    loss = getattr(numeric, entry.name)
    grad = getattr(numeric, entry.name + "_grad")
    shape = (4, 3)
    if entry.domain == (0.0, 1.0):
        pred = rng.uniform(0.05, 0.95, shape)
        if entry.target_kind == "distribution":
            pred /= pred.sum(axis=-1, keepdims=True)
    else:
        pred = rng.normal(0, 3, shape)
    if entry.target_kind == "sign":
        target = rng.choice([-1.0, 1.0], shape)
    elif entry.target_kind == "distribution":
        target = rng.dirichlet(np.ones(shape[-1]), shape[0])
    else:
        target = rng.uniform(0, 1, shape)
    # keep away from kinks of piecewise losses
    if entry.kinks:
        margin = np.abs(pred * target - 1) if entry.name == "hinge" else np.abs(pred - target)
        pred = np.where(margin < 0.05, pred + 0.2, pred)
    analytic = grad(pred, target)
    estimate, bound = fd_gradient(lambda v: float(loss(v, target)), pred)
    scale = np.maximum(np.abs(analytic), 1e-300)
    resolvable = bound <= 1e-9 * scale
    rel = np.where(resolvable, np.abs(estimate - analytic) / scale, 0.0)
    flat = analytic == 0
    rel = np.where(flat, np.abs(estimate), rel)
    i = int(np.argmax(rel))
    return GradientCheck(int(resolvable.sum()), int((~resolvable).sum()), 0, float(rel.flat[i]),
                         f"element {np.unravel_index(i, shape)} of a {shape} batch")


# ------------------------------------------------------ vector maps, row losses


def vector_rows(k: int = 3, count: int = 300, seed: int = 11) -> np.ndarray:
    """Rows of logits: dominated, tied, huge (±700, ±1e4) and ordinary ones."""
    rng = np.random.default_rng(seed)
    magnitudes = np.array([0.0, 1e-8, 1.0, 20.0, 40.0, 100.0, 700.0, 1e4])
    special = [[40.0, -0.5, 0.0], [-2.89, 0.0, -3.40], [700, -700, 0], [1e4, -1e4, 0],
               [0.0, 0.0, 0.0], [1.0, 1.0, -1.0], [-745.0, -745.0, -750.0], [710.0, 709.78, 0]]
    rows = [r[:k] + [0.0] * (k - len(r)) for r in special]
    for _ in range(count - len(rows)):
        rows.append(list(rng.choice(magnitudes, k) * rng.choice([-1.0, 1.0], k)
                         + rng.normal(0, 1, k) * rng.choice([0.0, 1.0])))
    return np.array(rows, dtype=np.float64)


def _vjp_scales(name: str, rows: np.ndarray, cot: np.ndarray) -> np.ndarray:
    """The sum of the magnitudes of the terms of each VJP component (see _measure_vjp)."""
    s = np.asarray(numeric.softmax(rows), dtype=np.float64)
    size = np.abs(cot)
    if name.startswith("log_softmax"):
        return size + s * size.sum(axis=-1, keepdims=True)
    return s * (size + (size * s).sum(axis=-1, keepdims=True))


def _residual_scales(p, y) -> np.ndarray:
    """max(p, |y|): the size of the terms of a residual p − y (softmax − y, σ(z) − y)."""
    return np.maximum(np.asarray(p, dtype=np.float64), np.abs(np.asarray(y, dtype=np.float64)))


def _cancellation_scores(computed: np.ndarray, true: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Screen scores of a result whose terms may cancel: ULPs (see _screen_ulps), or,
    where less than CANCELLED of ``scale`` is left, the absolute error in units of
    2·eps·scale (so that the ULP bound and the absolute bound score alike)."""
    eps = float(np.finfo(np.float64).eps)
    absolute = (np.abs(computed.astype(np.longdouble) - true) /
                (2 * eps * np.maximum(scale, 1e-300))).astype(np.float64)
    cancelled = np.abs(true.astype(np.float64)) < CANCELLED * scale
    ulps = _screen_ulps(computed, true)
    # a cancelled point fails the certificate only if both its absolute error
    # and its ULPs are over (_absolute_near_cancellation): scored by the smaller
    return np.where(cancelled, np.where(np.isfinite(absolute), np.minimum(absolute, ulps), -np.inf), ulps)


def _subnormal_means(true: np.ndarray, count: int) -> np.ndarray:
    """Where a gradient ℓ′ measured as the gradient of a mean over ``count``
    elements (or rows), times ``count``, cannot be judged: ℓ′/count is
    subnormal, so its rounding is not undone by the factor, and an error
    there would be the screen's own artefact (466 "ULP"), not the code's."""
    return np.abs(np.asarray(true)) < np.finfo(np.float64).tiny * count


def _mean_gradient_scores(scores: np.ndarray, true: np.ndarray, count: int) -> np.ndarray:
    """Screen scores of such gradients, −inf where :func:`_subnormal_means` holds."""
    return np.where(_subnormal_means(true, count), -np.inf, scores)


def _worst_rows(scores: Sequence[np.ndarray], keep: int) -> np.ndarray:
    """The indices of the ``keep`` largest of each score, together."""
    return np.unique(np.concatenate([np.argsort(score)[::-1][:keep] for score in scores]))


def _screened_vector_rows(name: str, outputs: Sequence[sp.Expr], vjp: Sequence[sp.Expr],
                          zsyms: Sequence[sp.Symbol], gsyms: Sequence[sp.Symbol],
                          count: int = SCREEN_ROWS,
                          keep: int = SCREEN_ROWS_KEPT) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows (and cotangents) where a vector map or its VJP look worst, to be measured with mpmath.

    ``count`` rows drawn as :func:`vector_rows` draws them (another seed),
    with random cotangents; each component of ``numeric.NAME`` and
    ``NAME_vjp`` against the definition (``outputs``) and the VJP of its
    SymPy derivatives (``vjp``) evaluated in long double.  A component whose
    terms cancel (the reference below CANCELLED times the sum of their
    magnitudes, see _measure_vjp) is scored by its absolute error in units
    of 2·eps·scale, so that the ULP bound and the absolute bound score alike.
    The ``keep`` rows of largest score of each go back, with the number of
    rows screened (none, and 0, where long double is only a double).
    """
    k = len(zsyms)
    forward = [_wide_function(o, zsyms) for o in outputs]
    backward = [_wide_function(v, [*zsyms, *gsyms]) for v in vjp]
    if any(w is None for w in forward + backward):
        return np.empty((0, k)), np.empty((0, k)), 0
    rows = vector_rows(k, count, seed=20261205)
    cot = np.random.default_rng(20261206).normal(0, 1, rows.shape)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        fwd = np.asarray(getattr(numeric, name)(rows))
        back = np.asarray(getattr(numeric, name + "_vjp")(rows, cot))
    z_cols, g_cols = [rows[:, j] for j in range(k)], [cot[:, j] for j in range(k)]
    score_f = np.max([_screen_ulps(fwd[:, j], forward[j](*z_cols)) for j in range(k)], axis=0)
    scales = _vjp_scales(name, rows, cot)
    score_d = np.max([_cancellation_scores(back[:, j], backward[j](*z_cols, *g_cols), scales[:, j])
                      for j in range(k)], axis=0)
    chosen = _worst_rows((score_f, score_d), keep)
    return rows[chosen], cot[chosen], count


def _vector_certificate(entry: Entry, points: int, screen: bool = True) -> Certificate:
    d = derive(entry)
    k = 3
    zsyms = sp.symbols(f"z1:{k + 1}", real=True)
    gsyms = sp.symbols(f"g1:{k + 1}", real=True)
    ysyms = sp.symbols(f"y1:{k + 1}", real=True)
    var = entry.variable
    comps = {var: zsyms, g: gsyms}
    if len(entry.variables) > 1:
        comps[entry.variables[1]] = ysyms
    rows = vector_rows(k, max(points // 10, 60))
    rng = np.random.default_rng(5)
    if entry.kind == "vector_map":
        outputs = [components(entry.definition, comps, i) for i in range(k)]
        f_mps = [_mp_function(o, zsyms) for o in outputs]
        vjp = [sum(gsyms[i] * sp.diff(outputs[i], zsyms[j]) for i in range(k)) for j in range(k)]
        d_mps = [_mp_function(v, [*zsyms, *gsyms]) for v in vjp]
        cot = rng.normal(0, 1, rows.shape)
        screened_rows = 0
        if screen:  # and the rows where a long-double screen finds the largest errors
            extra, extra_cot, screened_rows = _screened_vector_rows(entry.name, outputs, vjp, zsyms, gsyms)
            rows, cot = np.concatenate([rows, extra]), np.concatenate([cot, extra_cot])
        measured = []
        for dtype in (np.float64, np.float32):  # float32: rows that are float32 numbers
            finite = np.all(np.abs(rows) < float(np.finfo(dtype).max), axis=1)
            zs, gs = rows[finite].astype(dtype), cot[finite].astype(dtype)
            fwd, wf = _call(getattr(numeric, entry.name), zs)
            back, wd = _call(getattr(numeric, entry.name + "_vjp"), zs, gs)
            refs_f, refs_d, yf, yd, inputs = [], [], [], [], []
            suffix = "" if dtype == np.float64 else " (float32)"
            for r, (zr, gr) in enumerate(zip(zs.astype(np.float64), gs.astype(np.float64))):
                for j in range(k):
                    inputs.append(f"z={zr.tolist()}, g={np.round(gr, 3).tolist()}, component {j}{suffix}")
                    refs_f.append(reference(f_mps[j], zr))
                    refs_d.append(reference(d_mps[j], [*zr, *gr]))
                    yf.append(fwd[r, j])
                    yd.append(back[r, j])
            dtype_failures = [] if fwd.dtype == dtype and back.dtype == dtype else \
                [f"{np.dtype(dtype).name} in, {fwd.dtype}/{back.dtype} out"]
            m_f = _measure(entry.name + suffix, np.array(yf), refs_f, inputs, None, (), dtype, wf)
            # the VJP is a difference g − ⟨g, s⟩: near its zeros only an absolute
            # accuracy relative to the terms is meaningful
            m_d = _measure_vjp(entry.name + "_vjp" + suffix, np.array(yd), refs_d, inputs,
                               zs.astype(np.float64), gs.astype(np.float64), wd, dtype)
            m_f.failures += dtype_failures
            measured.append((m_f, m_d))
        (m_f, m_d), float32 = measured[0], list(measured[1])
        check = _fd_vector(entry, rows[8:20], cot[8:20])
    else:
        rows, ys = _loss_rows(entry, rows, rng)
        loss = components(entry.definition, comps, 0)
        screened_rows = 0
        if screen:  # and the rows where a long-double screen finds the largest errors
            extra, extra_ys, screened_rows = _screened_loss_rows(entry, loss, zsyms, ysyms)
            rows, ys = np.concatenate([rows, extra]), np.concatenate([ys, extra_ys])
        f_mp = _mp_function(loss, [*zsyms, *ysyms])
        d_mps = [_mp_function(sp.diff(loss, zsyms[j]), [*zsyms, *ysyms]) for j in range(k)]
        fn, gn = getattr(numeric, entry.name), getattr(numeric, entry.name + "_grad")
        measured = []
        for dtype in (np.float64, np.float32):  # float32: rows that are float32 numbers
            tiny = float(np.finfo(dtype).tiny) if entry.domain == (0.0, 1.0) else 0.0
            finite = np.all((np.abs(rows) < float(np.finfo(dtype).max)) & (np.abs(rows) >= tiny), axis=1)
            preds, targets = rows[finite].astype(dtype), ys[finite].astype(dtype)
            suffix = "" if dtype == np.float64 else " (float32)"
            refs_f, refs_d, yf, yd, inputs, inputs_d = [], [], [], [], [], []
            wf, wd, out_types = [], [], set()
            for zr, yr in zip(preds, targets):
                out, w = _call(fn, zr[None, :], yr[None, :])
                wf += w
                yf.append(out)
                grad_row, w = _call(gn, zr[None, :], yr[None, :])
                wd += w
                out_types.update({np.asarray(out).dtype, grad_row.dtype})
                zr, yr = zr.astype(np.float64), yr.astype(np.float64)
                refs_f.append(reference(f_mp, [*zr, *yr]))
                inputs.append(f"pred={zr.tolist()}, target={np.round(yr, 4).tolist()}{suffix}")
                for j in range(k):
                    # the reference sums targets exactly as given; the rounded
                    # targets need not sum to 1, so use the general gradient
                    if entry.name == "softmax_cross_entropy":
                        # the contract's targets sum to 1; rounded soft targets miss by
                        # an ulp, so the reference is softmax(z) − y as the contract states
                        ref = reference(_softmax_minus_target(k, j), [*zr, *yr])
                    else:
                        ref = reference(d_mps[j], [*zr, *yr])
                    refs_d.append(ref)
                    yd.append(grad_row[0, j])
                    inputs_d.append(inputs[-1] + f", component {j}")
            p64, y64 = preds.astype(np.float64), targets.astype(np.float64)
            m_f = _measure(entry.name + suffix, np.array(yf), refs_f, inputs, None, (), dtype,
                           caught=sorted(set(wf)))
            if out_types != {np.dtype(dtype)}:
                m_f.failures.append(f"{np.dtype(dtype).name} in, {sorted(t.name for t in out_types)} out")
            if entry.name == "kl_divergence":
                # Σ y·log(y/p) cancels where p ≈ y (the first-order terms sum to 0): its
                # condition number there is Σ|y·log(y/p)| over the result, a property of
                # the problem, so it is judged by absolute error against 8·eps times
                # that sum where less than CANCELLED of it is left, as a VJP is (the
                # row screen found 30.8 ULP at p = [0.154, 0.736, 0.110] against
                # y = [0.140, 0.749, 0.110], where KL is 0.3 % of its terms)
                with np.errstate(divide="ignore", invalid="ignore"):
                    terms = np.where(y64 > 0, y64 * np.log(np.where(y64 > 0, y64, 1) / p64), 0.0)
                scales_f = [float(v) for v in np.abs(terms).sum(axis=1)]
                _absolute_near_cancellation(m_f, np.array(yf), refs_f, inputs, scales_f, dtype)
            m_d = _measure(entry.name + "_grad" + suffix, np.array(yd), refs_d, inputs_d, None, (), dtype,
                           caught=sorted(set(wd)))
            if entry.name == "softmax_cross_entropy":
                # p_j − y_j cancels where softmax(z)_j ≈ y_j (soft targets): there
                # the absolute error is measured against 8·eps·max(p_j, y_j)
                scales = _residual_scales(numeric.softmax(p64), y64).reshape(-1)
                _absolute_near_cancellation(m_d, np.array(yd), refs_d, inputs_d, list(scales), dtype)
            measured.append((m_f, m_d))
        (m_f, m_d), float32 = measured[0], list(measured[1])
        check = _fd_loss(entry)
    return Certificate(entry.name, entry.kind, str(d.proof), str(d.code_proof), m_f, m_d, check,
                       float32, screened=screened_rows)


def _loss_rows(entry: Entry, rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and targets of a row loss from rows of logits (see vector_rows).

    Targets one-hot, a third of them soft (Dirichlet); for losses on
    probabilities the rows become softmax(z/scale) with 0 raised to 1e−300.
    """
    k = rows.shape[1]
    ys = np.zeros_like(rows)
    ys[np.arange(len(rows)), rng.integers(0, k, len(rows))] = 1.0
    soft = rng.dirichlet(np.ones(k), len(rows) // 3)
    ys[: len(soft)] = soft
    if entry.domain == (0.0, 1.0):
        scaled = rows / np.maximum(1.0, np.abs(rows).max(axis=1, keepdims=True) / 30)
        rows = np.asarray(numeric.softmax(scaled), dtype=np.float64)
        rows = np.where(rows <= 0, 1e-300, rows)
    return rows, ys


def _screened_loss_rows(entry: Entry, loss: sp.Expr, zsyms: Sequence[sp.Symbol],
                        ysyms: Sequence[sp.Symbol], count: int = SCREEN_ROWS,
                        keep: int = SCREEN_ROWS_KEPT) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows (and targets) where a row loss or its gradient look worst, to be measured with mpmath.

    ``count`` rows (the power of two below it, 2^15: the gradient of the mean
    over them, times their number, is each row's own, unless it is
    subnormal: those are left out), drawn as the
    certificate's are (:func:`_loss_rows`); the gradient of all at once and
    the loss one row at a time on 2,048 of them, against the definition and
    its derivatives (softmax − y for softmax_cross_entropy, as its contract
    states) in long double.  Where p − y cancels to less than CANCELLED of
    max(p, |y|), the absolute error in units of 2·eps·max(p, |y|) scores.
    The ``keep`` rows of largest score by loss and by gradient go back, with
    the number of rows screened (none, and 0, where long double is only a
    double).
    """
    k = len(zsyms)
    count = 1 << int(np.log2(count))
    if entry.name == "softmax_cross_entropy":
        total = sum(sp.exp(z) for z in zsyms)
        derivatives = [sp.exp(zsyms[j]) / total - ysyms[j] for j in range(k)]
    else:
        derivatives = [sp.diff(loss, zsyms[j]) for j in range(k)]
    f_wide = _wide_function(loss, [*zsyms, *ysyms])
    d_wide = [_wide_function(e, [*zsyms, *ysyms]) for e in derivatives]
    if f_wide is None or any(w is None for w in d_wide):
        return np.empty((0, k)), np.empty((0, k)), 0
    rows, ys = _loss_rows(entry, vector_rows(k, count, seed=20261205), np.random.default_rng(20261207))
    fn, gn = getattr(numeric, entry.name), getattr(numeric, entry.name + "_grad")
    columns = [rows[:, j] for j in range(k)] + [ys[:, j] for j in range(k)]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        grads = np.asarray(gn(rows, ys), dtype=np.float64) * len(rows)
        sample = np.arange(0, len(rows), max(1, len(rows) // 2048))
        losses = np.array([float(fn(rows[i:i + 1], ys[i:i + 1])) for i in sample])
    score_f = np.full(len(rows), -np.inf)
    score_f[sample] = _screen_ulps(losses, f_wide(*[c[sample] for c in columns]))
    trues = [d_wide[j](*columns) for j in range(k)]
    if entry.name == "softmax_cross_entropy":  # softmax − y cancels: scored as in the certificate
        scales = _residual_scales(numeric.softmax(rows), ys)
        scores = [_cancellation_scores(grads[:, j], trues[j], scales[:, j]) for j in range(k)]
    else:
        scores = [_screen_ulps(grads[:, j], trues[j]) for j in range(k)]
    scores = [_mean_gradient_scores(score, true, len(rows)) for true, score in zip(trues, scores)]
    chosen = _worst_rows((score_f, np.max(scores, axis=0)), keep)
    return rows[chosen], ys[chosen], count


def _softmax_minus_target(k: int, j: int) -> Callable:
    def f(*args):
        zs, ys = args[:k], args[k:]
        return mpmath.exp(zs[j]) / mpmath.fsum(mpmath.exp(v) for v in zs) - ys[j]

    return f


#: a result below this fraction of its scale (the sum of the magnitudes of its
#: terms) has cancelled a bit or more, a condition of the problem, not the code
#: (g_j − ⟨g, s⟩ of a VJP, p_j − y_j of a gradient)
CANCELLED = 1 / 2


def _absolute_near_cancellation(m: Measurement, computed, refs, inputs, scales,
                                dtype=np.float64) -> None:
    """Judge the points where the problem cancels by absolute error ≤ 8·eps·scale.

    A point whose reference is below ``CANCELLED``·scale is a near-zero point,
    as next to an activation's interior zero, and its absolute error is
    measured; every other point must be within the ULP bound, and the
    measurement's maximum is theirs.  (Until this round the VJPs judged by
    absolute error every point over the ULP bound, whatever its size, and
    reported the maximum over all points: 9e15 ULP for softmax's, beside the
    status ``ok``.)
    """
    eps = float(np.finfo(dtype).eps)
    bound = _stated_bound(m.function, dtype)
    failures, stated, worst, near, worst_i, near_abs = [], [], 0.0, 0, None, 0.0
    for i, (c, r, where, scale) in enumerate(zip(computed, refs, inputs, scales)):
        if mpmath.isnan(r):  # no reference (counted as skipped by _measure)
            continue
        err = ulp_error(float(c), r, dtype)
        if abs(float(r)) >= CANCELLED * scale:
            if worst_i is None or err > worst:
                worst, worst_i = err, i
            if err > bound:
                failures.append(f"{err:.3g} ULP at {where}")
            elif err > ULP_BOUND:
                stated.append((err, f"{err:.3g} ULP at {where} (stated exception, bound {bound:g})"))
            continue
        near += 1
        absolute = float(abs(r - float(c))) / (eps * max(scale, 1e-300))
        near_abs = max(near_abs, absolute)
        # (within the ULP bound passes: a result below the smallest normal number,
        # counted in its units, e^{−200} of a float32 softmax_vjp that is 0)
        if absolute > ZERO_BOUND and err > ULP_BOUND:
            failures.append(f"{err:.3g} ULP ({absolute:.3g}·eps·scale) at {where}")
    m.failures = failures[:20]
    m.stated = [text for _, text in sorted(stated, key=lambda f: -f[0])[:20]]
    m.near_zero_points = near
    m.near_zero_max_abs = near_abs  # in units of eps·scale here
    m.max_ulp = worst
    if worst_i is not None:  # the worst input reported is the worst of the ULP-judged ones
        m.worst_input, m.worst_output = inputs[worst_i], float(computed[worst_i])
        m.worst_reference = mpmath.nstr(refs[worst_i], 20)


def _measure_vjp(name, computed, refs, inputs, rows, cot, caught, dtype=np.float64) -> Measurement:
    """VJP components: ULPs, or absolute error ≤ 8·eps·scale where the difference cancels.

    The scale of a component is the sum of the magnitudes of its terms, so
    that reference/scale is how much of it survives the cancellation (a
    condition of the problem, not the code): s_j·(|g_j| + Σ|g s|) for
    softmax's s_j·(g_j − ⟨g, s⟩), and |g_j| + s_j·Σ|g| for log_softmax's
    g_j − s_j·Σg.
    """
    m = _measure(name, computed, refs, inputs, None, (), dtype, caught=caught)
    scales = _vjp_scales(name, rows, cot).reshape(-1)  # row by row, component by component
    _absolute_near_cancellation(m, computed, refs, inputs, [float(v) for v in scales], dtype)
    return m


def _fd_vector(entry: Entry, rows, cot) -> GradientCheck:
    fn = getattr(numeric, entry.name)
    vjp = getattr(numeric, entry.name + "_vjp")
    worst, where, count, unresolved = 0.0, "", 0, 0
    for zr, gr in zip(rows, cot):
        analytic = vjp(zr, gr)
        estimate, bound = fd_gradient(lambda v: float(np.dot(gr, fn(v))), zr)
        for j in range(len(zr)):
            if bound[j] > 1e-9 * abs(analytic[j]) and analytic[j] != 0:
                unresolved += 1
                continue
            count += 1
            rel = abs(estimate[j] - analytic[j]) / max(abs(analytic[j]), 1e-300)
            if rel > worst:
                worst, where = rel, f"z={zr.tolist()}, component {j}"
    return GradientCheck(count, unresolved, 0, worst, where)


# --------------------------------------------------------- user expressions


#: the kernels of numeric by name, for lambdify (σ, softplus, erfc, … of a user's expression)
_KERNELS = {name: getattr(numeric._kernels, name) for name in numeric._kernels.__all__}


def expression_kinks(expr: sp.Expr, variable: sp.Symbol, domain: tuple[float, float],
                     samples: int = 20001, most: int = 64) -> tuple[float, ...]:
    """The x of ``domain`` where ``expr`` may have a kink, a jump or a pole: where an
    argument of |·|, sign or Heaviside, two arguments of max or min, or the
    sides of a Piecewise condition cross, and where a denominator, the base
    of a root or the argument of a logarithm is 0.

    Found as the sign changes (and zeros) of each such switch on ``samples``
    points, each narrowed by bisection to adjacent floats; at most ``most``.
    Finite differences leave these points out, as the catalogue's ``kinks``.

    Examples
    --------
    >>> x = sp.Symbol("x", real=True)
    >>> expression_kinks(sp.Abs(x - 1) + sp.Max(x, -x**2 + 2), x, (-20.0, 20.0))
    (-2.0, 1.0)
    >>> expression_kinks(1 / (x + 3), x, (-20.0, 20.0))
    (-3.0,)
    """
    switches = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Abs, sp.sign, sp.Heaviside, sp.log)):
            switches.append(node.args[0])
        elif isinstance(node, sp.Pow) and not (node.exp.is_Integer and node.exp > 0):
            switches.append(node.base)
        elif isinstance(node, (sp.Max, sp.Min)):
            switches += [a - b for i, a in enumerate(node.args) for b in node.args[i + 1:]]
        elif isinstance(node, sp.Piecewise):
            for _, condition in node.args:
                switches += [r.lhs - r.rhs for r in sp.preorder_traversal(condition)
                             if isinstance(r, sp.core.relational.Relational)]
    lo, hi = float(domain[0]), float(domain[1])
    xs = np.linspace(lo, hi, samples)
    found: set[float] = set()
    for switch in switches:
        if variable not in switch.free_symbols or switch.free_symbols - {variable}:
            continue
        # the primitives (σ, softplus, …) as numeric's kernels, the rest as NumPy
        g = sp.lambdify(variable, switch, [_KERNELS, "numpy"])

        def value(v, g=g):
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return np.broadcast_to(np.asarray(g(v), dtype=np.float64), np.shape(v))

        try:
            values = value(xs)
        except (NameError, TypeError, ValueError):  # a switch NumPy cannot evaluate: no kinks from it
            continue
        found.update(float(v) for v in xs[values == 0])
        for i in np.flatnonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0):
            a, b, sign_a = xs[i], xs[i + 1], np.sign(values[i])
            while np.nextafter(a, b) < b:
                m = a + (b - a) / 2
                if m in (a, b):
                    break
                a, b = (m, b) if np.sign(value(np.array(m))) == sign_a else (a, m)
            found.add(float(a))
        if len(found) > most:
            break
    return tuple(sorted(found)[:most])


def verify_expression(expr: sp.Expr, variable: sp.Symbol, *,
                      domain: tuple[float, float] = (-20.0, 20.0),
                      points: int = 2001, screen: int = 200_000, refine: bool = True) -> Certificate:
    """The catalogue's certificate for a user's expression of one variable.

    The code is what ``derive.codegen.compile_expression`` generates (the
    same stabilize stage as the catalogue); the references are the expression
    and SymPy's derivative of it in mpmath.  The grid is ``points`` evenly on
    ``domain`` plus the special points inside it, and the worst points of a
    ``screen``-point screen of the domain against the expression in long
    double (:func:`screened_points`; 0: no screen).  ``refine=False``
    certifies the code without its long-double stretches (``--fast``).

    Examples
    --------
    >>> from sympy import Symbol, exp, log
    >>> x = Symbol("x", real=True)
    >>> cert = verify_expression(log(1 + exp(x)), x, domain=(-800, 800), points=101)
    >>> cert.passed
    True
    """
    from .codegen import compile_expression, derivative_of

    (lo, hi), = _boxes(domain, 1)
    special = np.array([s * v for v in SPECIAL_POINTS for s in (1, -1)])
    xs = np.unique(np.concatenate([np.linspace(lo, hi, points),
                                   special[(special >= lo) & (special <= hi)]]))
    forward, grad = compile_expression(expr, [variable], derivative=True, refine=refine)
    derivative = derivative_of(expr, variable)  # (δ of a jump: 0, as the code takes it)
    screened = 0
    if screen:  # and the worst points of a dense screen of the domain (see screened_points)
        grid = np.unique(np.concatenate([np.random.default_rng(20261205).uniform(lo, hi, screen // 2),
                                         np.linspace(lo, hi, screen - screen // 2)]))
        worst_f, screened = screened_points(expr, variable, forward, xs=grid)
        worst_d, _ = screened_points(derivative, variable, grad, xs=grid)
        xs = np.unique(np.concatenate([xs, worst_f, worst_d]))
    # the references from the plain definitions: softplus(x) or σ(x) typed by
    # a user is a primitive, which lambdify cannot write in mpmath
    f_mp = _mp_function(primitives.expand_primitives(expr), [variable])
    df_mp = _mp_function(primitives.expand_primitives(derivative), [variable])
    refs_f = [reference(f_mp, [v]) for v in xs]
    refs_d = [reference(df_mp, [v]) for v in xs]
    inputs = [f"{variable.name}={float(v)!r}" for v in xs]
    yf, wf = _call(forward, xs)
    yd, wd = _call(grad, xs)
    wf = _warnings_where_finite(forward, xs, refs_f, wf)
    wd = _warnings_where_finite(grad, xs, refs_d, wd)
    zeros = _interior_zeros(f_mp, xs, refs_f), _interior_zeros(df_mp, xs, refs_d)  # (float32's too)
    m_f = _measure("f", yf, refs_f, inputs, xs, zeros[0], caught=wf)
    m_d = _measure("f'", yd, refs_d, inputs, xs, zeros[1], caught=wd)
    probe = Entry("expression", "activation", str(expr), expr, (variable,),
                  kinks=expression_kinks(expr, variable, (lo, hi)))
    check = _fd_activation(forward, yd, xs, xs[np.abs(xs) <= max(20.0, 0.0)], probe)
    narrow = _float32_measurements(forward, grad, xs, f_mp, df_mp, variable.name, zeros)
    cert = Certificate("expression", "expression", "", "", m_f, m_d, check, narrow, screened=screened)
    for m in (m_f, m_d, *narrow):
        cert.exceptions += [f"{m.function}: {f}" for f in m.failures[:3]]
    return cert


def _float32_measurements(forward: Callable, grad: Callable, xs: np.ndarray, f_mp: Callable,
                          df_mp: Callable, name: str, zeros) -> list[Measurement]:
    """f and f′ of float32 inputs (the grid's points that are float32 numbers, or round to
    one), in float32 ULPs against the references at those inputs: the code computes them
    in float64 and rounds once, so they are within about half a float32 ULP, and return
    float32."""
    xs32 = np.unique(xs[np.abs(xs) < float(np.finfo(np.float32).max)].astype(np.float32))
    inputs = [f"{name}={float(v)!r} (float32)" for v in xs32]
    wide = xs32.astype(np.float64)
    measured = []
    for label, fn, g_mp, found in (("f (float32)", forward, f_mp, zeros[0]), ("f' (float32)", grad, df_mp, zeros[1])):
        refs = [reference(g_mp, [v]) for v in wide]
        computed, caught = _call(fn, xs32)
        caught = _warnings_where_finite(fn, wide, refs, caught, (name,), np.float32)
        m = _measure(label, np.asarray(computed, dtype=np.float64), refs, inputs, wide, found,
                     np.float32, caught)
        if np.asarray(computed).dtype != np.float32:
            m.failures.append(f"float32 in, {np.asarray(computed).dtype} out")
        measured.append(m)
    return measured


#: points of the grid of a gradient's certificate (see verify_gradient), of
#: its long-double screen, and the worst points of each output that the
#: screen adds to the grid
GRADIENT_POINTS = 1500
GRADIENT_SCREEN = 60_000
GRADIENT_SCREEN_KEPT = 24


def _boxes(domain, variables: int) -> list[tuple[float, float]]:
    """Each variable's interval: ``domain`` is one (lo, hi) for all, or one per variable.
    Raises ValueError for an empty, infinite or too wide interval."""
    boxes = [domain] * variables if len(domain) == 2 and np.isscalar(domain[0]) else list(domain)
    if len(boxes) != variables:
        raise ValueError(f"{len(boxes)} intervals for {variables} variables")
    checked = []
    for lo, hi in boxes:
        lo, hi = float(lo), float(hi)
        if not lo < hi:
            raise ValueError(f"empty domain [{lo}, {hi}]")
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo > np.finfo(np.float64).max:
            raise ValueError(f"the domain [{lo}, {hi}] must be finite and narrower than 1.8e308 "
                             "(±1e300 is on the grid of any domain that holds it)")
        checked.append((lo, hi))
    return checked


def gradient_grid(count: int, variables: int, domain, seed: int = 20261207) -> np.ndarray:
    """``count`` points of a box, a row each, float64: ``domain`` is one interval (lo, hi)
    for every variable, or one per variable.

    For each variable, a third of its values uniform in its interval, a third
    with magnitudes spread evenly in log scale (from 1e−10 to the interval's
    edge, either sign), and a third from the special points (SPECIAL_POINTS
    and their negatives) inside it, mixed across the variables; the origin
    (clipped into the box) and the two corners too.

    Examples
    --------
    >>> grid = gradient_grid(30, 2, (-20.0, 20.0))
    >>> grid.shape[1], bool((np.abs(grid) <= 20).all()), bool((grid == 0).all(axis=1).any())
    (2, True, True)
    >>> grid = gradient_grid(30, 2, [(-20.0, 20.0), (0.0, 1.0)])  # a label y in [0, 1]
    >>> bool((grid[:, 1] >= 0).all() and (grid[:, 1] <= 1).all())
    True
    """
    rng = np.random.default_rng(seed)
    third = count // 3
    special = np.array([s * v for v in SPECIAL_POINTS for s in (1, -1)])
    columns = []
    for lo, hi in _boxes(domain, variables):
        inside = np.unique(special[(special >= lo) & (special <= hi)])
        top = math.log10(max(abs(lo), abs(hi), 1e-9))
        spread = rng.choice([-1.0, 1.0], third) * 10.0 ** rng.uniform(-10, top, third)
        rest = count - 2 * third
        picked = rng.choice(inside, rest) if inside.size else rng.uniform(lo, hi, rest)
        columns.append(np.concatenate([rng.uniform(lo, hi, third), np.clip(spread, lo, hi), picked,
                                       [min(max(0.0, lo), hi), lo, hi]]))
    return np.unique(np.stack(columns, axis=1), axis=0)


def _zero_along_an_axis(g_mp: Callable, point: np.ndarray, value) -> tuple[float, float] | None:
    """(the coordinate of ``point``, the zero) where ``g_mp`` changes sign along one axis
    within ZERO_WINDOW·max(1, |coordinate|) of the point, or None.

    A point of several variables is next to an interior zero of g if it is
    so along some coordinate axis: the one-variable rule (judged by absolute
    error) on the line through it.  ``value`` is g at the point (mpmath).
    """
    if value == 0:  # the point is the zero
        return float(point[0]), float(point[0])
    for j, coordinate in enumerate(point):
        width = ZERO_WINDOW * max(1.0, abs(float(coordinate)))
        args = [mpmath.mpf(float(c)) for c in point]

        def along(v):  # g on the line through the point along axis j (a complex g of no imaginary part: real)
            args[j] = v
            g = g_mp(*args)
            return mpmath.re(g) if isinstance(g, mpmath.mpc) and mpmath.im(g) == 0 else g

        for side in (-width, width):
            with mpmath.workdps(30):
                lo = mpmath.mpf(float(coordinate))
                try:
                    far = along(lo + side)
                    if not (mpmath.isfinite(far) and mpmath.im(far) == 0) or far == 0 or (far > 0) == (value > 0):
                        continue
                    root, f_mid = _bisect(along, lo, lo + side, value)
                except (ZeroDivisionError, ValueError, OverflowError, TypeError):  # a pole, or a complex g, on the way
                    continue
                # a sign change at a pole (1/s at s = 0), not a zero: g beyond its values at both
                # ends (not beyond the point's alone: the point may be closer to the zero than
                # the halvings get, (eˣ − y)·eˣ at x = 1e−300, y = 1)
                if not abs(f_mid) <= max(abs(value), abs(far)):
                    continue
                return float(coordinate), float(root)
    return None


def _even_factors(output: sp.Expr) -> list[sp.Expr]:
    """The bases of the factors of ``output`` raised to an even power: where one is 0, output
    has a zero it does not change sign at, which a sign change along an axis cannot find.

    The squared error of a logistic neuron, (σ(w·x + b) − y)², is 0 all along
    σ(w·x + b) = y; next to it, its relative error is twice that of
    σ(w·x + b) − y, whose cancellation the one-variable rule judges by
    absolute error (as BCE's gradient σ(z) − y in the catalogue).

    Examples
    --------
    >>> from sympy import Symbol, sin
    >>> x, y = Symbol("x", real=True), Symbol("y", real=True)
    >>> _even_factors(3 * (x - y)**2 * sin(x)), _even_factors(x**3)
    ([x - y], [])
    """
    return [base for factor in sp.Mul.make_args(output) for base, power in [factor.as_base_exp()]
            if power.is_Integer and power > 0 and power % 2 == 0 and base.free_symbols]


def _jump_arguments(output: sp.Expr, variables: Sequence[sp.Symbol]) -> list[tuple[Callable, Callable]]:
    """For each place where ``output`` may jump (the argument of a Heaviside, sign or |·|,
    the difference of two arguments of a max or min, the sides of a Piecewise
    condition): its value and the size of its terms, Σ|term| (mpmath functions)."""
    arguments = []
    for node in sp.preorder_traversal(output):
        if isinstance(node, (sp.Heaviside, sp.sign, sp.Abs)):
            arguments.append(node.args[0])
        elif isinstance(node, (sp.Max, sp.Min)):
            arguments += [a - b for i, a in enumerate(node.args) for b in node.args[i + 1:]]
        elif isinstance(node, sp.Piecewise):
            arguments += [r.lhs - r.rhs for _, c in node.args if c not in (sp.true, sp.false)
                          for r in c.atoms(sp.core.relational.Relational)]
    found = []
    for argument in dict.fromkeys(arguments):
        argument = primitives.expand_primitives(argument)
        size = sp.Add(*[sp.Abs(t) for t in sp.Add.make_args(sp.expand(argument))])
        found.append((_mp_function(argument, variables), _mp_function(size, variables)))
    return found


def _at_a_jump(jumps: list[tuple[Callable, Callable]], point: np.ndarray) -> bool:
    """Whether the point is within the rounding of a jump's argument of the jump (see verify_gradient).

    There the code's rounded argument decides the side, as any floating-point
    code's does: the derivative of max(0, w·x + b) at w = x = −1e−300, b = −0
    is x (w·x + b = 1e−600 > 0), and 0 where w·x has underflowed to 0.  Within
    rounding: |argument| ≤ 4·(eps·Σ|term| + 2^-1074).
    """
    eps, smallest = float(np.finfo(np.float64).eps), 2.0**-1074
    args = [float(c) for c in point]
    for value, size in jumps:
        try:
            v, total = reference(value, args), reference(size, args)
        except (ZeroDivisionError, ValueError, OverflowError):
            continue
        if not (mpmath.isnan(v) or mpmath.isnan(total)) and abs(v) <= 4 * (eps * total + smallest):
            return True
    return False


def _screened_rows(exprs: Sequence[sp.Expr], variables: Sequence[sp.Symbol], fns: Sequence[Callable],
                   domain, count: int = GRADIENT_SCREEN,
                   kept: int = GRADIENT_SCREEN_KEPT) -> tuple[np.ndarray, int]:
    """The points of a ``count``-point screen (gradient_grid's mix) where each of ``fns``
    looks worst against its expression in long double: ``kept`` of each; none
    where long double is only a double or NumPy lacks a function of one."""
    grid = gradient_grid(count, len(variables), domain, seed=20261208)
    columns = [grid[:, j] for j in range(grid.shape[1])]
    found = []
    for expr, fn in zip(exprs, fns):
        wide = _wide_function(expr, variables)
        if wide is None:
            return np.empty((0, len(variables))), 0
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            computed = np.broadcast_to(np.asarray(fn(*columns), dtype=np.float64), grid.shape[:1])
        error = _screen_ulps(computed, np.broadcast_to(wide(*columns), grid.shape[:1]))
        found.append(grid[np.argsort(error)[-kept:]])
    return np.concatenate(found), int(grid.shape[0])


def verify_gradient(expr: sp.Expr, variables: Sequence[sp.Symbol], *,
                    domain=(-20.0, 20.0),
                    points: int = GRADIENT_POINTS, screen: bool = True) -> list[Certificate]:
    """Certificates of a user's expression of several variables and of its gradient, one per variable.

    The code is what ``derive.codegen.compile_expression`` generates for f
    and its gradient; the references are the expression and SymPy's partial
    derivatives of it in mpmath, on the points of :func:`gradient_grid` in
    the box (``domain``: one interval (lo, hi) for every variable, or one per
    variable, in their order) and the worst points of a long-double screen
    of it.
    Each certificate holds the measurement of f (the same in every one) and
    that of ∂f/∂v, and the finite differences of f along v.  A point next to
    an interior zero of an output along some coordinate axis is judged, as a
    point of one variable is, by its absolute error, in units of
    eps·max(1, |coordinate|, Σ|term|) (the terms of the output, which cancel
    there: (x − m)²/(2s²) + log s is 0 where its terms are ±13.5 at
    s = 1.35e−6); one at a jump of an output (a step of max, sign,
    Heaviside), within the rounding of its argument, is left out and
    counted (Measurement.at_jumps, see _at_a_jump).

    Examples
    --------
    >>> from sympy import Symbol, tanh
    >>> w, x, b = (Symbol(n, real=True) for n in "wxb")
    >>> certs = verify_gradient(tanh(w * x + b), [w, x, b], points=60, screen=False)
    >>> [c.name for c in certs], all(c.passed for c in certs)
    (['∂f/∂w', '∂f/∂x', '∂f/∂b'], True)
    """
    from .codegen import compile_expression, derivative_of

    variables = list(variables)
    boxes = _boxes(domain, len(variables))
    forward, grad = compile_expression(expr, variables, derivative=True)
    partials = [derivative_of(expr, v) for v in variables]

    def gradient_part(j):
        return lambda *columns: grad(*columns)[j]

    grid = gradient_grid(points, len(variables), boxes)
    screened = 0
    if screen:
        worst, screened = _screened_rows([expr, *partials], variables,
                                         [forward, *[gradient_part(j) for j in range(len(variables))]], boxes)
        grid = np.unique(np.concatenate([grid, worst]), axis=0)
    outputs = [("f", expr, forward)] + [(f"∂f/∂{v.name}", d, gradient_part(j))
                                        for j, (v, d) in enumerate(zip(variables, partials))]
    functions = [_mp_function(primitives.expand_primitives(output), variables) for _, output, _ in outputs]
    measured, computed_all = _measure_outputs(outputs, functions, forward, grad, grid, variables)
    # float32 inputs (the grid's rows rounded to float32), in float32 ULPs: the code
    # computes them in float64 and rounds once
    narrow = grid.astype(np.float32)
    narrow = np.unique(narrow[np.isfinite(narrow).all(axis=1)], axis=0)
    narrow_measured, narrow_computed = _measure_outputs(outputs, functions, forward, grad, narrow, variables,
                                                        np.float32)
    for m, computed in zip(narrow_measured, narrow_computed):
        m.function += " (float32)"
        if computed.dtype != np.float32:
            m.failures.append(f"float32 in, {computed.dtype} out")
    f_measure = measured[0]
    certificates = []
    for j, (v, m) in enumerate(zip(variables, measured[1:])):
        check = _fd_along(forward, computed_all[1 + j], grid, j, expr, variables, gradient_part(j))
        float32 = [narrow_measured[0], narrow_measured[1 + j]]
        cert = Certificate(m.function, "gradient", "", "", f_measure, m, check, float32, screened=screened)
        cert.exceptions += [f"{n.function}: {failure}" for n in (f_measure, m, *float32) for failure in n.failures[:3]]
        if not check.passed:
            cert.exceptions.append(f"{m.function}: finite differences along {v.name}: relative error "
                                   f"{check.max_relative_error:.3g} at {check.worst_input}")
        certificates.append(cert)
    return certificates


def _measure_outputs(outputs, functions, forward: Callable, grad: Callable, grid: np.ndarray,
                     variables: Sequence[sp.Symbol], dtype=np.float64) -> tuple[list[Measurement], list[np.ndarray]]:
    """The measurements of f and of each partial derivative (``outputs``: name, expression,
    function; ``functions``: their mpmath references) at the rows of ``grid`` given as
    ``dtype``, and the values computed (see verify_gradient)."""
    columns = [grid[:, j] for j in range(grid.shape[1])]
    inputs = [", ".join(f"{v.name}={float(c)!r}" for v, c in zip(variables, row)) for row in grid]
    wide = grid.astype(np.float64)
    size = np.max(np.abs(wide), axis=1)
    # f, and every partial derivative from one call of the gradient
    values, caught_f = _call(forward, *columns)
    slopes, caught_grad = _call(grad, *columns)
    computed_all = [np.broadcast_to(np.asarray(v), grid.shape[:1]) for v in (values, *slopes)]
    all_refs = [[reference(g_mp, list(row)) for row in wide] for g_mp in functions]
    big = float(np.finfo(dtype).max)
    # one call gives every partial derivative: its warning is a fault only at a point
    # where each of them is finite (∂/∂s of (x − m)²/(2s²) + log s at s = 5e−324 is
    # beyond float64, and its overflow report is right, beside ∂/∂x = 0)
    every_partial = [mpmath.mpf(0) if all(not mpmath.isnan(r[i]) and abs(r[i]) <= big for r in all_refs[1:])
                     else mpmath.nan for i in range(len(grid))]
    measured = []
    for (name, output, fn), caught, g_mp, refs, computed in zip(
            outputs, [caught_f] + [caught_grad] * (len(outputs) - 1), functions, all_refs, computed_all):
        caught = _warnings_where_finite(fn, wide, refs if name == "f" else every_partial, caught,
                                        [v.name for v in variables], dtype)
        # points next to an interior zero along an axis: the coordinate and the zero
        at, zeros = size.copy(), [[] for _ in refs]
        jumps = _jump_arguments(output, variables)
        terms = _mp_function(sp.Add(*[sp.Abs(t) for t in sp.Add.make_args(primitives.expand_primitives(output))]),
                             variables)
        at_jumps, scales = 0, np.ones(len(refs))
        factors = [_mp_function(primitives.expand_primitives(h), variables) for h in _even_factors(output)]
        for i, (c, r) in enumerate(zip(computed, refs)):
            if not mpmath.isnan(r) and ulp_error(float(c), r, dtype) > ULP_BOUND:
                if jumps and _at_a_jump(jumps, wide[i]):
                    refs[i], at_jumps = mpmath.mpf(float(c)), at_jumps + 1  # either side: left out
                    continue
                near = _zero_along_an_axis(g_mp, wide[i], r)
                for h_mp in factors if near is None else ():  # a zero of f without a sign change
                    h = reference(h_mp, [float(v) for v in wide[i]])
                    near = None if mpmath.isnan(h) else _zero_along_an_axis(h_mp, wide[i], h)
                    if near is not None:
                        break
                if near is not None:
                    at[i], zeros[i] = near[0], [near[1]]
                    total = reference(terms, [float(v) for v in wide[i]])
                    scales[i] = float(total) if not mpmath.isnan(total) else 1.0
        m = _measure(name, np.asarray(computed, dtype=np.float64), refs, inputs, at, (), dtype, caught=caught,
                     zeros_at=zeros, scales=scales)
        m.at_jumps = at_jumps
        measured.append(m)
    return measured, [np.asarray(c) for c in computed_all]


def _fd_along(forward: Callable, partial: np.ndarray, grid: np.ndarray, j: int, expr: sp.Expr,
              variables: Sequence[sp.Symbol], slope: Callable | None = None) -> GradientCheck:
    """∂f/∂v (v the j-th variable) against finite differences of f along v, at the points within ±20.

    A point whose estimate disagrees is left out if f has a kink, jump or
    pole along that axis within two steps of it (expression_kinks of f with
    the other coordinates put in).  With ``slope`` (the code of ∂f/∂v), a
    point where ∂f/∂v a quarter step away is not within a factor 2 of its
    value there is unresolvable: f bends on a scale shorter than the step
    (log(x² + y²) at x = 6.4e−10, y = −3.1e−10, beside the pole at the origin
    that no line through the point meets; f itself there changes by less than
    a factor 2).
    """
    points = grid[np.max(np.abs(grid), axis=1) <= CORE_RANGE]
    yd = np.broadcast_to(partial, grid.shape[:1])[np.max(np.abs(grid), axis=1) <= CORE_RANGE]
    if not yd.size:
        return GradientCheck(points=0, unresolvable=0, skipped_kinks=0, max_relative_error=0.0, worst_input="")

    def along(v):
        return forward(*[v if i == j else points[:, i] for i in range(points.shape[1])])

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        estimate, bound = (np.broadcast_to(a, yd.shape) for a in fd_derivative(along, points[:, j]))
        # a step far longer than the scale on which f changes (a density of s = 1.7e−6:
        # f is 0 at every point of the stencil, and the estimate 0) resolves nothing:
        # f within a quarter step of the point must be within a factor 2 of f there
        quarter = 2.0**-10 * np.maximum(1, np.abs(points[:, j])) / 4
        here, sides = along(points[:, j]), [along(points[:, j] + quarter), along(points[:, j] - quarter)]
        steady = np.ones(yd.shape, bool)
        for side in sides:
            steady &= np.broadcast_to(np.abs(side - here) <= 0.5 * (np.abs(here) + np.abs(side)), yd.shape)
        if slope is not None:
            for shift in (quarter, -quarter):
                side = np.broadcast_to(slope(*[points[:, j] + shift if i == j else points[:, i]
                                               for i in range(points.shape[1])]), yd.shape)
                steady &= np.abs(side - yd) <= 0.5 * (np.abs(yd) + np.abs(side))
    scale = np.abs(yd)
    resolvable = (bound <= 1e-9 * scale) & np.isfinite(yd) & np.isfinite(estimate) & steady
    # a derivative of 0 is checked where finite differences resolve 0 (f NaN beside the
    # point, log s at s < 0, or f steep within the step, a density of s = 1e−5, do not)
    flat = (yd == 0) & np.isfinite(estimate) & (bound <= 1e-9) & steady
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = np.where(resolvable, np.abs(estimate - yd) / np.where(scale > 0, scale, 1), 0.0)
    rel = np.where(flat, np.abs(estimate), rel)
    kinks = np.zeros(yd.shape, bool)
    h = 2.0**-10 * np.maximum(1, np.abs(points[:, j]))
    for i in np.flatnonzero(rel > FD_BOUND):
        line = expr.xreplace({v: sp.Float(float(points[i, k])) for k, v in enumerate(variables) if k != j})
        near = expression_kinks(line, variables[j], (float(points[i, j] - 4 * h[i]), float(points[i, j] + 4 * h[i])))
        kinks[i] = any(abs(k - points[i, j]) <= 2 * h[i] for k in near)
    rel = np.where(kinks, 0.0, rel)
    i = int(np.argmax(rel))
    return GradientCheck(points=int(((resolvable | flat) & ~kinks).sum()),
                         unresolvable=int((~resolvable & ~flat & ~kinks).sum()),
                         skipped_kinks=int(kinks.sum()), max_relative_error=float(rel[i]),
                         worst_input=", ".join(f"{v.name}={c!r}" for v, c in zip(variables, points[i])))


# ------------------------------------------------------------------ driver


@lru_cache(maxsize=None)
def _certify(name: str, points: int, screen: bool = True) -> Certificate:
    entry = get(name)
    if entry.kind == "activation":
        cert = _activation_certificate(entry, points, screen)
    elif entry.kind == "vector_map" or entry.reduction == "mean_rows":
        cert = _vector_certificate(entry, points, screen)
    else:
        cert = _elementwise_loss_certificate(entry, points, screen)
    for m in [cert.forward, cert.derivative, *cert.float32]:
        for failure in m.failures[:3] + m.stated[:2]:
            cert.exceptions.append(f"{m.function}: {failure}")
    if not cert.gradient_check.passed:
        cert.exceptions.append(
            f"finite differences: relative error {cert.gradient_check.max_relative_error:.3g} "
            f"at {cert.gradient_check.worst_input}")
    return cert


def certify(name: str, *, points: int = 3000, screen: bool = True) -> Certificate:
    """The certificate of one catalogue entry (cached per ``points`` and ``screen``).

    ``screen=False`` measures the grid alone, without the worst points of the
    long-double screens (:func:`screened_points` and its kin for vector maps
    and losses).
    """
    return _certify(name, points, screen)


def _certify_in_worker(args: tuple[str, int, bool]) -> Certificate:
    return certify(args[0], points=args[1], screen=args[2])


def verify(names: Sequence[str] | None = None, *, points: int = 3000,
           jobs: int = 1, screen: bool = True) -> list[Certificate]:
    """Certificates for ``names`` (every catalogue entry when ``None``), computed
    in ``jobs`` processes (``screen``: see :func:`certify`)."""
    chosen = list(names) if names else [e.name for e in ENTRIES]
    for n in chosen:
        get(n)  # unknown names fail before any work
    if jobs > 1 and len(chosen) > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            return pool.map(_certify_in_worker, [(n, points, screen) for n in chosen], chunksize=1)
    return [certify(n, points=points, screen=screen) for n in chosen]


#: what each group's screen added to the grid (see certificate_table)
_SCREEN_NOTES = {
    "activations": "the grid also holds the worst points, by stretch, of a {screened:,}-point screen "
                   "of [−20, 20] against the definition in long double (see screened_points)",
    "elementwise losses": "the grid also holds, per target, the worst predictions by stretch of a "
                          "{screened:,}-point screen of the gradient (2,048 of the loss) in long double",
    "row losses": f"the grid also holds the {SCREEN_ROWS_KEPT} worst rows by loss and by gradient of a "
                  "{screened:,}-row screen (2,048 of the loss) in long double",
    "vector maps": f"the grid also holds the {SCREEN_ROWS_KEPT} worst rows by forward and by VJP of a "
                   "{screened:,}-row screen against the definition in long double (see _screened_vector_rows)",
    "gradients": f"the grid also holds the {GRADIENT_SCREEN_KEPT} worst points of f and of each partial "
                 "derivative of a {screened:,}-point screen of the box against the definition in long double "
                 "(see verify_gradient)",
}


def screen_group(cert: Certificate) -> str:
    """Which screen a certificate had: "activations" (a user's expression too),
    "elementwise losses", "row losses", "vector maps" (the last two screen rows) or
    "gradients" (a user's expression of several variables)."""
    if cert.kind == "gradient":
        return "gradients"
    if cert.kind == "vector_map":
        return "vector maps"
    if cert.kind == "loss":
        return "row losses" if get(cert.name).reduction == "mean_rows" else "elementwise losses"
    return "activations"


def _status(c: Certificate) -> str:
    if not c.passed:
        return "EXCEPTION"
    return "stated" if any(m.stated for m in (c.forward, c.derivative)) else "ok"


def certificate_table(certificates: Sequence[Certificate]) -> str:
    """A plain-text table of certificates, one row per entry."""
    header = (f"{'name':34} {'proof':9} {'max ULP f':>10} {'max ULP df':>10} "
              f"{'f32 ULP':>8} {'FD rel err':>10} {'near-0 pts':>10} {'no ref':>6}  status")
    lines = [header, "-" * len(header)]
    for c in certificates:
        f32 = max((m.max_ulp for m in c.float32), default=float("nan"))
        near = c.forward.near_zero_points + c.derivative.near_zero_points
        lines.append(
            f"{c.name:34} {c.proof.split(':')[0]:9} {c.forward.max_ulp:10.3g} "
            f"{c.derivative.max_ulp:10.3g} {f32:8.3g} "
            f"{c.gradient_check.max_relative_error:10.2g} {near:10d} "
            f"{c.forward.skipped + c.derivative.skipped:6d}  "
            f"{_status(c)}")
    failed = [c for c in certificates if c.exceptions]
    lines.append("")
    lines.append("max ULP over the whole grid but the near-0 pts: points next to an interior zero "
                 "(or where the terms of a VJP, of softmax − y, of σ(z) − y or of a KL divergence "
                 "cancel to less than half their size), "
                 "judged by absolute error; no ref: points whose plain definition mpmath could "
                 "not evaluate within 10,000 digits (skipped); stated: above 4 ULP but within the "
                 "bound of a measured exception stated in the README (STATED_EXCEPTIONS)")
    for group, text in _SCREEN_NOTES.items():
        screened = max((c.screened for c in certificates if screen_group(c) == group), default=0)
        if screened:
            lines.append(f"{group}: {text.format(screened=screened)}")
    if failed:
        lines.append("")
        lines.append("Measured exceptions:")
        for c in failed:
            for e in c.exceptions:
                lines.append(f"  {c.name}: {e}")
    return "\n".join(lines)


def certificates_json(certificates: Sequence[Certificate]) -> str:
    """Certificates as JSON text."""
    return json.dumps([c.to_dict() for c in certificates], indent=2, default=str)


__all__ = ["Certificate", "Measurement", "GradientCheck", "certify", "verify", "verify_expression",
           "verify_gradient", "gradient_grid", "certificate_table", "certificates_json", "scalar_grid", "reference",
           "screen_grid", "screened_points", "ULP_BOUND", "FD_BOUND", "STATED_EXCEPTIONS",
           "CANCELLED", "N"]
