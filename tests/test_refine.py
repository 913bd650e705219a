"""Measured refinement of a user's expression in np.longdouble (derive.refine).

The references are mpmath's (derive.verify.reference); "before" is the code
printed with refine=False.
"""

import warnings

import numpy as np
import pytest
import sympy as sp

from derive.codegen import compile_expression, expression_source
from derive.refine import cells, dense_stretches, probe_points, stretches, without
from derive.singular import long_values
from derive.verify import _mp_function, _screen_ulps, reference

x = sp.Symbol("x", real=True)
WIDE = np.finfo(np.longdouble).nmant > 52
wide_only = pytest.mark.skipif(not WIDE, reason="long double is a double here")


def _errors(fn, expr, points):
    truth = _mp_function(expr, [x])
    return _screen_ulps(np.asarray(fn(points), dtype=np.float64), long_values([reference(truth, [p]) for p in points]))


def test_cells_cover_the_magnitudes_of_float64_once():
    edges = cells()
    assert edges[0, 0] == 5e-324 and edges[-1, 1] == np.inf
    assert np.array_equal(edges[1:, 0], edges[:-1, 1])
    probes = probe_points()
    assert 0 not in probes and np.array_equal(probes, -probes[::-1])


def test_stretches_are_the_cells_of_the_probes_that_err():
    xs = np.array([-5.0, -3.0, 1.5, 3.0, 40.0])
    double = np.array([0.5, 3.5, 0.5, 9.0, np.inf])  # inf: not finite where the truth is
    extended = np.array([0.5, 0.5, 0.5, 0.4, 2.0])  # at 40 long double does not help: left
    assert stretches(xs, double, extended) == [(-4.0, -2.0), (2.0, 4.0)]
    assert stretches(xs, np.zeros(5), extended) == []


def test_without_leaves_out_the_patches():
    assert without([(-8.0, 8.0)], [(-1.0, 1.0)]) == [(-8.0, -1.0), (float(np.nextafter(1.0, 2.0)), 8.0)]
    assert without([(2.0, 4.0)], [(-1.0, 1.0)]) == [(2.0, 4.0)]


@wide_only
@pytest.mark.parametrize("expr, points", [
    # σ(x)² squares σ's rounding; its derivative 2σ²σ(−x) multiplies three
    ((1 / (1 + sp.exp(-x))) ** 2, np.linspace(-19.5, -5.5, 57)),
    # x·σ(x) typed by hand: x·σ(−x)·σ(x) + σ(x) with no compensation
    (x / (1 + sp.exp(-x)), np.linspace(-7.5, -1.0, 53)),
])
def test_refined_where_the_double_code_rounds_too_often(expr, points):
    _, before = compile_expression_plain(expr)
    _, g = compile_expression(expr, [x], derivative=True)
    derivative = sp.diff(expr, x)
    assert _errors(before, derivative, points).max() > 3.0
    assert _errors(g, derivative, points).max() <= 2.0
    assert "Computed again in np.longdouble" in expression_source("f", expr, [x], derivative=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = g(points.astype(np.float32))
    assert y.dtype == np.float32


def compile_expression_plain(expr):
    namespace = {}
    exec(expression_source("f", expr, [x], derivative=True, refine=False), namespace)  # noqa: S102
    return namespace["f"], namespace["f_grad"]


@wide_only
@wide_only
def test_an_overflow_of_the_formula_is_computed_again():
    """x/(1 + x²) past x = 1.3e154: x² overflows in double, 1/x is the value; long double holds x².

    The code's own second chance does it (numeric._support._again_wide: where an
    overflow occurred, a 0 of an input above 2^256 is computed again in long
    double), with or without the refine stage's stretches."""
    f = compile_expression(x / (1 + x**2), [x])
    plain, _ = compile_expression_plain(x / (1 + x**2))
    naive = sp.lambdify(x, x / (1 + x**2), "numpy")
    big = np.array([1e160, -3e200, 1e300])
    with np.errstate(over="ignore"):
        assert (naive(big) == 0).all()
    assert np.allclose(f(big), 1 / big, rtol=1e-15, atol=0)
    assert np.allclose(plain(big), 1 / big, rtol=1e-15, atol=0)


def test_a_formula_that_keeps_its_digits_is_left_alone():
    for expr in (sp.sin(x), x**2, sp.log(1 + sp.exp(x))):
        source = expression_source("f", expr, [x], derivative=True)
        assert "Computed again" not in source
        assert source == expression_source("f", expr, [x], derivative=True, refine=False)


@wide_only
def test_the_dense_screen_finds_what_the_probes_miss():
    """x²·σ(x)′ typed as x²/(1 + e^{−x}) rounds to more than 4 ULP on [−64, −16) only now and then
    (42 of 200,000 random points of [−64, −32); 5.56 at most), where the probes see less.
    (x/(1 + x²)′ was the example until its sum x² + 1 was rounded once, and x/(eˣ − 1)′
    before it, until the stabilize rule exp_over_expm1 made its formula accurate.)"""
    expr = x**2 / (1 + sp.exp(-x))
    _, plain = compile_expression_plain(expr)
    _, g = compile_expression(expr, [x], derivative=True)
    points = np.array([-32.56296055540069, -32.56136533371195, -32.56420508942986])
    derivative = sp.diff(expr, x)
    assert _errors(plain, derivative, points).max() > 4.0
    assert _errors(g, derivative, points).max() <= 1.0
    assert "Computed again in np.longdouble" in expression_source("f", expr, [x], derivative=True)


@wide_only
def test_the_dense_screen_reaches_below_two_to_the_minus_twelve():
    """σ(x)³ near x = −1e−6 is just below 1/8, where an ulp is half σ³'s size: three times σ's
    rounding came to 4.4 ULP there, and one probe in each 32 octaves below 2^-12 saw 1.9."""
    expr = 1 / (1 + sp.exp(-x)) ** 3
    plain, _ = compile_expression_plain(expr)
    f = compile_expression(expr, [x])
    points = np.array([-1.1193763302285364e-06, -2.3781742778942674e-06, -3.4182855874241e-06])
    assert _errors(plain, expr, points).max() > 4.0
    assert _errors(f, expr, points).max() <= 1.0


def test_dense_stretches_trust_only_cells_the_probes_checked():
    xs, errors = np.array([5.0, 20.0]), np.array([4.0, 9.0])
    # the long-double code was within 1 ULP at the probe of [4, 8), 3 ULP at that of [16, 32)
    assert dense_stretches(xs, errors, np.array([4.5, 17.0]), np.array([0.4, 3.0])) == [(4.0, 8.0)]


@pytest.mark.parametrize("text", ["x/(exp(x) - 1)", "x*tanh(log(1 + exp(x)))", "sin(x)/x", "log(1 + exp(x))"])
def test_float32_inputs_are_computed_in_float64_and_rounded_once(text):
    # the code's clamps, Taylor patches and refined stretches are float64's: computed
    # in float32, x/(eˣ − 1) erred by 1.7e7 float32 ULP (e^x overflowed past 88.7)
    from derive.parsing import parse_expression

    expr = parse_expression(text)
    f, g = compile_expression(expr, sorted(expr.free_symbols, key=lambda s: s.name), derivative=True)
    rng = np.random.default_rng(3)
    x32 = np.concatenate([rng.uniform(-120, 120, 4000), rng.uniform(-3, 3, 4000),
                          [0.0, 1e-30, -1e-30, 88.7, 89.0, -104.0, 3e38, -3e38]]).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        narrow = f(x32), g(x32)
    for got, want in zip(narrow, (f(x32.astype(np.float64)), g(x32.astype(np.float64)))):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want.astype(np.float32))
