"""Removable singular points of a user's expression (derive.singular): the Taylor patch.

Every value is checked against mpmath at 50 digits (or more, see
derive.verify.reference); the "before" numbers are measured on the code
printed without the patch (expression_source(..., removable=False)).
"""

import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

from derive.codegen import compile_expression, expression_source
from derive.singular import candidate_points, long_values
from derive.verify import _mp_function, reference
from numeric._kernels import away_from, taylor_near

x = sp.Symbol("x", real=True)


def _ulps(computed, expr, points):
    """ULP errors of ``computed`` against mpmath's ``expr`` at ``points`` (smallest normal below it)."""
    truth = _mp_function(expr, [x])
    true = long_values([reference(truth, [p]) for p in points])
    rounded = np.abs(true.astype(np.float64))
    tiny = np.finfo(np.float64).tiny
    unit = np.where(rounded < tiny, tiny, np.spacing(rounded)).astype(np.longdouble)
    with np.errstate(invalid="ignore"):
        error = np.abs(np.asarray(computed, dtype=np.longdouble) - true) / unit
    return np.where(np.isfinite(error), error, np.inf).astype(float)


def _plain(expr):
    namespace = {}
    exec(expression_source("f", expr, [x], derivative=True, removable=False, refine=False), namespace)  # noqa: S102
    return namespace["f"], namespace["f_grad"]


NEAR_ZERO = np.array([s * v for v in (5e-324, 1e-300, 1e-150, 1e-8, 1e-4, 0.01, 0.1, 0.3, 0.7, 1.0)
                      for s in (1, -1)])


def test_candidates_are_the_zero_over_zero_points():
    assert [c.point for c in candidate_points(sp.sin(x) / x, x)] == [0.0]
    assert [c.point for c in candidate_points(sp.sin(x - 1) / (x - 1), x)] == [1.0]
    # (x² − 4)/(x − 2) is 0/0 at 2 as well (SymPy does not cancel it)
    assert [c.point for c in candidate_points((x**2 - 4) / (x - 2) + sp.sin(x) / x, x)] == [0.0, 2.0]
    assert candidate_points(1 / x, x) == []  # a pole
    assert candidate_points(x * sp.log(x), x) == []  # a branch point: no Taylor series
    assert candidate_points(sp.exp(x), x) == []  # defined everywhere
    c, = candidate_points(x / (sp.exp(x) - 1), x)
    assert c.coefficients[:4] == (1, sp.Rational(-1, 2), sp.Rational(1, 12), 0)  # Bernoulli numbers


@pytest.mark.parametrize("expr, at_zero, slope_at_zero", [
    (sp.sin(x) / x, 1.0, 0.0),
    (x / (sp.exp(x) - 1), 1.0, -0.5),
    ((1 - sp.cos(x)) / x**2, 0.5, 0.0),
    (sp.log(1 + x) / x, 1.0, -0.5),
    (sp.log(1 - x) / x, -1.0, -0.5),  # moved to a probe inside the domain, not to 2·radius
])
def test_the_limit_at_the_point_and_no_warning(expr, at_zero, slope_at_zero):
    f, g = compile_expression(expr, [x], derivative=True)
    plain_f, _ = _plain(expr)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(f(0.0)) == at_zero and float(g(0.0)) == slope_at_zero
        both = np.array([-0.0, 0.0, 0.5, 0.25, 1e-300])
        assert np.isfinite(f(both)).all() and np.isfinite(g(both)).all()
    with np.errstate(all="ignore"):  # the formula alone: 0/0 at the point
        assert np.isnan(plain_f(0.0))


@pytest.mark.parametrize("expr, before, after", [
    # (ULP of the derivative near 0 without the patch, the bound with it)
    (sp.sin(x) / x, 1e15, 2.0),
    ((1 - sp.cos(x)) / x**2, 1e15, 2.0),
    (x / (sp.exp(x) - 1), 1e7, 2.0),
    ((sp.exp(x) - 1 - x) / x**2, 1e7, 2.0),
])
def test_the_derivative_keeps_its_digits_near_the_point(expr, before, after):
    """(x·cos x − sin x)/x² cancels to −x/3: the formula loses every digit on the way to 0."""
    f, g = compile_expression(expr, [x], derivative=True)
    _, plain_g = _plain(expr)
    derivative = sp.diff(expr, x)
    with np.errstate(all="ignore"):
        assert np.nan_to_num(_ulps(plain_g(NEAR_ZERO), derivative, NEAR_ZERO), posinf=1e300).max() > before
    assert _ulps(g(NEAR_ZERO), derivative, NEAR_ZERO).max() <= after
    assert _ulps(f(NEAR_ZERO), expr, NEAR_ZERO).max() <= after


def test_zeros_of_a_sum_are_candidates_of_their_own_kind():
    c, = candidate_points(sp.exp(x) - 1 - x, x)
    assert (c.point, c.kind) == (0.0, "zero") and c.coefficients[:4] == (0, 0, sp.Rational(1, 2), sp.Rational(1, 6))
    assert [(c.point, c.kind) for c in candidate_points(sp.log(x) - x + 1, x)] == [(1.0, "zero")]
    assert [(c.point, c.kind) for c in candidate_points(sp.log(sp.exp(x) - x), x)] == [(0.0, "zero")]
    assert candidate_points(sp.sin(x), x) == [] and candidate_points(x * sp.sin(x), x) == []  # not sums
    # a sum that vanishes but keeps its digits is a candidate, and gets no patch
    assert [c.kind for c in candidate_points(x + x**3, x)] == ["zero"]
    assert "Taylor polynomial" not in expression_source("f", x + x**3, [x], derivative=True)


@pytest.mark.parametrize("expr, point, before", [
    # (the point, the ULP of the function or its derivative near it without the patch)
    (sp.exp(x) - 1 - x, 0.0, 1e7),  # x²/2 + …: e^x − 1 is expm1, and − x cancels it
    (x - sp.sin(x), 0.0, 1e7),
    (sp.log(1 + x) - x, 0.0, 1e7),
    (sp.sinh(x) - x, 0.0, 1e7),
    (sp.log(x) - x + 1, 1.0, 1e6),  # −(x − 1)²/2 + …
    (sp.cosh(x) - x**2 / 2, 0.0, 1e7),  # f(0) = 1; f′ = sinh x − x is the sum that cancels
    # the log of a sum that is 1 there: 1 + x²/2 + … rounded, and its log kept nothing of x²/2
    (sp.log(sp.exp(x) - x), 0.0, 1e7),
    (sp.log(x - sp.sin(x) + 1), 0.0, 1e7),
])
def test_a_sum_that_cancels_at_a_point_keeps_its_digits(expr, point, before):
    f, g = compile_expression(expr, [x], derivative=True)
    plain_f, plain_g = _plain(expr)
    derivative = sp.diff(expr, x)
    points = point + NEAR_ZERO[np.abs(NEAR_ZERO) < 0.75]
    points = points[points > 0] if point == 1.0 else points  # log x: x > 0
    with np.errstate(all="ignore"):
        plain = max(np.nan_to_num(_ulps(plain_f(points), expr, points), posinf=1e300).max(),
                    np.nan_to_num(_ulps(plain_g(points), derivative, points), posinf=1e300).max())
    assert plain > before
    assert _ulps(f(points), expr, points).max() <= 2.0
    assert _ulps(g(points), derivative, points).max() <= 2.0


def test_a_point_other_than_zero_and_float32():
    expr = sp.sin(x - 1) / (x - 1)
    f, g = compile_expression(expr, [x], derivative=True)
    points = 1 + np.array([-0.4, -1e-9, 2.0**-52, 0.25])
    assert float(f(1.0)) == 1.0
    assert _ulps(g(points), sp.diff(expr, x), points).max() <= 2.0
    y = f(np.array([1.0, 1.5], dtype=np.float32))
    assert y.dtype == np.float32 and y[0] == 1.0


def test_an_expression_without_such_a_point_is_printed_as_before():
    expr = sp.log(1 + sp.exp(x))
    assert expression_source("f", expr, [x], derivative=True) == \
        expression_source("f", expr, [x], derivative=True, removable=False)
    patched = expression_source("f", sp.sin(x) / x + x, [x])
    assert "_taylor_near(y, x_given, near0, 0.0," in patched and "Near x = 0.0" in patched


def test_double_double_horner_keeps_a_cancelling_series():
    """Σ x^k/(k + 2)! at x = −8 (that is (eˣ − 1 − x)/x²): terms up to 6.5 beside a sum of 0.11."""
    terms = [sp.Rational(1, sp.factorial(k + 2)) for k in range(61)]
    highs = [float(t) for t in terms]
    lows = [float(t - sp.Rational(h)) for t, h in zip(terms, highs)]
    points = np.array([-8.0, -7.3, -6.1])
    with mpmath.workdps(50):
        true = np.array([(mpmath.expm1(mpmath.mpf(p)) - p) / mpmath.mpf(p) ** 2 for p in points],
                        dtype=np.longdouble)
    everywhere = np.ones(3, dtype=bool)
    compensated = taylor_near(np.empty(3), points, everywhere, 0.0, highs, lows)
    plain = np.zeros(3)
    for c in highs[::-1]:
        plain = plain * points + c
    unit = np.spacing(np.abs(true.astype(np.float64))).astype(np.longdouble)
    assert (np.abs(compensated - true) / unit).max() <= 1.0
    assert (np.abs(plain - true) / unit).max() > 2.0  # what the compensation removes


def test_away_from_moves_only_the_near_elements():
    values = np.array([np.nan, np.inf, -np.inf, 0.0, -1e-300, 0.6, 0.4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        moved, near = away_from(values, 0.0, 0.5)
    assert near.tolist() == [False, False, False, True, True, False, True]
    assert moved[near].tolist() == [1.0, 1.0, 1.0]
    assert np.array_equal(moved[~near], values[~near], equal_nan=True)
    far = np.array([3.0])
    assert away_from(far, 0.0, 0.5)[0] is far and away_from(far, 0.0, 0.5)[1] is None


def test_a_zero_is_confirmed_with_the_digits_its_argument_needs():
    """At x = 1e−300 the derivative of (x − sin x)/x³ is −x/60, but 0 at 700 digits."""
    truth = _mp_function(sp.diff((x - sp.sin(x)) / x**3, x), [x])
    assert float(reference(truth, [1e-300])) == pytest.approx(-1e-300 / 60, rel=1e-15)
    assert float(reference(lambda v: v * 0, [1e-300])) == 0.0


@pytest.mark.skipif(np.finfo(np.longdouble).nmant <= 52, reason="long double is a double here")
@pytest.mark.parametrize("expr, gap", [
    (sp.log(1 + x) / x, (0.3, 0.95)),  # its series converges only to |x| = 1
    (sp.tanh(x) / x, (0.45, 1.0)),  # to π/2
])
def test_beyond_the_series_the_formula_in_long_double(expr, gap):
    """Where the series stops short of the formula's bad stretch, the formula runs in np.longdouble."""
    source = expression_source("f", expr, [x], derivative=True)
    assert "_refine_tail(x_given, (y,), _f_grad_tail" in source and "the formula in np.longdouble" in source
    _, g = compile_expression(expr, [x], derivative=True)
    _, plain_g = _plain(expr)
    points = np.concatenate([np.linspace(*gap, 40), -np.linspace(*gap, 40)])
    points = points[points > -1] if expr.has(sp.log) else points
    derivative = sp.diff(expr, x)
    assert _ulps(plain_g(points), derivative, points).max() >= 5  # the formula in double
    assert _ulps(g(points), derivative, points).max() <= 3


def test_a_tiny_value_of_the_series_is_not_computed_again_by_the_plain_formula():
    # the derivative of (x − sin x)/x³ is −x/30 + … near 0: at x = ±1e−300 a result below
    # 2^-600, which _again_wide computed again in long double by the plain formula, whose
    # x − sin x cancels there: 5e299 (found by benchmarks/user_expressions.py)
    from derive.verify import _mp_function, reference
    from numeric.accuracy import ulp_error

    expr = (x - sp.sin(x)) / x**3
    _, g = compile_expression(expr, [x], derivative=True)
    points = np.array([-1e-300, 1e-300, -5e-324, 1e-200, 3.0])
    slope = _mp_function(sp.diff(expr, x), [x])
    for point, value in zip(points, g(points)):
        assert ulp_error(float(value), reference(slope, [point])) <= 4, point


def test_an_essential_singularity_is_no_candidate():
    # sin(1/x) has no series at 0: SymPy's PoleError went up through `nnderive diff --codegen`
    x = sp.Symbol("x", real=True)
    assert candidate_points(sp.sin(1 / x), x) == []


def test_a_kink_is_no_candidate_and_a_branch_is_taken_whole():
    # relu(x)·σ(x): SymPy's series of its Piecewise derivative ran to the search's 40 s limit
    # (at −1, where f′ is a sum that is 0); a branch that switches at the point has no series
    from derive.singular import _branch_at

    x = sp.Symbol("x", real=True)
    relu = sp.Piecewise((x, x > 0), (0, True))
    assert _branch_at(relu / (1 + sp.exp(-x)), x, 0.0) is None
    assert _branch_at(sp.diff(relu / (1 + sp.exp(-x)), x), x, -1.0) == 0
    assert _branch_at(sp.Min(x, 1) * sp.exp(x) + sp.Abs(x - 2) + sp.Heaviside(x + 3), x, 0.0) \
        == x * sp.exp(x) + 2 - x + 1
    assert candidate_points(relu * sp.sin(x) / x, x) == []  # 0/0 at a kink: no series
    c, = candidate_points(sp.Abs(x - 5) * sp.sin(x) / x, x)  # |x − 5| is 5 − x near 0
    assert c.point == 0.0 and c.coefficients[:2] == (5, -1)


def test_a_jump_is_no_removable_point():
    # SymPy's series is taken from the right: σ(1/x) about 0 was "1", and the code took that
    # polynomial for |x| < 8.7e−19, 1 at x = −1e−300 where σ(−1e300) is 0
    x = sp.Symbol("x", real=True)
    expr = 1 / (1 + sp.exp(-1 / x))
    assert candidate_points(expr, x) == []
    f = compile_expression(expr, [x])
    assert f(np.array([-1e-300, -5e-324, 1e-300, 5e-324])).tolist() == [0.0, 0.0, 1.0, 1.0]


def test_an_exponential_about_a_point_has_its_constant_taken_apart():
    # e^{−(t + 1)²/2} about t = 0: SymPy's series to degree 61 ran for minutes (f′ of x·φ(x)
    # at ±1); e^{−1/2}·e^{−t − t²/2} takes a second.  The coefficients are the same
    from derive.singular import _taylor

    x = sp.Symbol("x", real=True)
    f = (1 - x**2) * sp.exp(-(x**2) / 2)
    coefficients = _taylor(f, x, -1.0)
    assert coefficients is not None
    for k in (0, 1, 5, 20):
        assert sp.N(coefficients[k] - sp.diff(f, x, k).subs(x, -1) / sp.factorial(k), 30) == 0
