"""A user's expression of several variables: its code keeps its digits and its shape."""

import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

from derive import codegen
from derive.codegen import compile_expression
from derive.parsing import parse_expression
from derive.verify import _mp_function, reference
from numeric._kernels import product_dd, quotient_dd, sum_dd
from numeric.accuracy import ulp_error


def test_sum_dd_carries_the_sum_to_double_double():
    rng = np.random.default_rng(7)
    w, x, b = rng.standard_normal(200) * 30, rng.standard_normal(200) * 30, rng.standard_normal(200)
    hi, lo = sum_dd((1.0, w, x), (-2.0, x, x), (0.3, w, 1.0), (1.0, b, 1.0), "hi", "lo")
    with mpmath.workdps(60):
        for k in range(200):
            exact = mpmath.mpf(w[k]) * x[k] - 2 * mpmath.mpf(x[k]) ** 2 + mpmath.mpf(0.3) * w[k] + b[k]
            assert abs(mpmath.mpf(hi[k]) + lo[k] - exact) <= abs(exact) * 2.0 ** -100
            assert abs(lo[k]) <= abs(np.spacing(hi[k])) / 2  # renormalised
    plain = w * x - 2 * x * x + 0.3 * w + b
    assert np.any(plain != hi) or np.all(lo == 0)


def test_sum_dd_in_blocks_with_squares_numbers_and_broadcasting():
    # computed in blocks of BLOCK elements: a square splits its factor once, the numbers are
    # summed once, a (n, 1) and a (1, m) factor broadcast; every element as exact as one alone
    from numeric._support import BLOCK

    rng = np.random.default_rng(8)
    x = rng.standard_normal(BLOCK * 2 + 17) * 10.0 ** rng.uniform(-8, 2.5, BLOCK * 2 + 17)  # lo is 0 past 1e6
    hi, lo = sum_dd((1.0, x, x), (-1.0, 1.0, 1.0), (0.1, 3.0, 1.0), "hi", "lo")
    picks = np.r_[0:5, BLOCK - 2:BLOCK + 3, x.size - 5:x.size]
    with mpmath.workdps(80):
        for k in picks:
            exact = mpmath.mpf(x[k]) ** 2 - 1 + mpmath.mpf(0.1) * 3
            assert abs(mpmath.mpf(hi[k]) + lo[k] - exact) <= abs(exact) * 2.0 ** -100
            one_hi, one_lo = sum_dd((1.0, x[k:k + 1], x[k:k + 1]), (-1.0, 1.0, 1.0), (0.1, 3.0, 1.0), "hi", "lo")
            assert (one_hi[0], one_lo[0]) == (hi[k], lo[k])
    a, b = rng.standard_normal((300, 1)), rng.standard_normal((1, 70))
    hi, lo = sum_dd((1.0, a, b), (2.0, b, b), "hi", "lo")
    assert hi.shape == (300, 70)
    with mpmath.workdps(80):
        exact = mpmath.mpf(a[299, 0]) * b[0, 69] + 2 * mpmath.mpf(b[0, 69]) ** 2
        assert abs(mpmath.mpf(hi[299, 69]) + lo[299, 69] - exact) <= abs(exact) * 2.0 ** -100


def test_poly_dd_sums_its_small_terms_in_float64_and_keeps_double_double_accuracy():
    # e^{−x} by its Taylor polynomial of degree 40 on |x| ≤ 8 (terms up to 3e3 beside a value
    # of 3e−4: they cancel), in blocks: the leading coefficients whose terms are below 2^-80
    # of the sum of the terms' magnitudes are summed in float64
    from numeric._kernels import poly_dd

    with mpmath.workdps(60):
        exact = [mpmath.mpf(-1) ** k / mpmath.factorial(k) for k in range(40, -1, -1)]
        coefficients = tuple((float(c), float(c - float(c))) for c in exact)
        x = np.concatenate([np.linspace(-8, 8, 20001), np.random.default_rng(9).uniform(-1, 1, 20000)])
        hi, lo = poly_dd(x, coefficients, "hi", "lo")
        for k in range(0, x.size, 997):
            truth = sum(c * mpmath.mpf(x[k]) ** (40 - j) for j, c in enumerate(exact))
            terms = sum(abs(c) * abs(mpmath.mpf(x[k])) ** (40 - j) for j, c in enumerate(exact))
            assert abs(mpmath.mpf(hi[k]) + lo[k] - truth) <= terms * 2.0 ** -78, x[k]


def test_sum_dd_past_overflow_gives_the_plain_sum():
    hi, lo = sum_dd((1.0, np.array([1e300, -1e300, 3.0]), np.array([1e300, 1e300, 1e-8])), (1.0, 2.0, 1.0), "hi", "lo")
    assert hi.tolist()[:2] == [np.inf, -np.inf] and lo.tolist()[:2] == [0.0, 0.0]
    with pytest.raises(ValueError, match="±2"):
        sum_dd((3.0, np.ones(2), np.ones(2) * 2), "hi")


def test_quotient_dd_and_product_dd_carry_to_double_double():
    rng = np.random.default_rng(11)
    x, m = rng.standard_normal(200) * 30, rng.standard_normal(200) * 30
    s = np.exp(rng.uniform(-5, 5, 200)) * rng.choice([-1.0, 1.0], 200)
    terms = ((1.0, x, 1.0), (-1.0, m, 1.0), (-2.0, x, m, s))
    for kernel, combine in ((quotient_dd, lambda t, d: t / d), (product_dd, lambda t, d: t * d)):
        hi, lo, hi_lo = kernel(terms, s, "hi", "lo", "hi_lo")
        with mpmath.workdps(60):
            for k in range(200):
                top = mpmath.mpf(x[k]) - m[k] - 2 * mpmath.mpf(x[k]) * m[k] * s[k]
                exact = combine(top, mpmath.mpf(s[k]))
                if abs(hi[k]) > 1e6:  # lo is 0 there (a function of it has saturated): hi rounded once
                    assert lo[k] == 0 and abs(mpmath.mpf(hi[k]) - exact) <= abs(exact) * 2.0 ** -52, kernel
                    continue
                assert abs(mpmath.mpf(hi[k]) + lo[k] - exact) <= abs(exact) * 2.0 ** -98, kernel
                assert abs(lo[k]) <= abs(np.spacing(hi[k])) / 2  # renormalised
        assert np.array_equal(hi_lo, hi * lo)


def test_quotient_dd_and_product_dd_past_overflow_or_by_zero():
    # lo and hi·lo are 0 where hi is not finite, never NaN beside a finite or infinite hi
    hi, lo, hi_lo = quotient_dd(((1.0, np.array([1e300, 1.0, 0.0]), 1.0),), np.array([1e-300, 0.0, 0.0]),
                                "hi", "lo", "hi_lo")
    assert hi.tolist()[:2] == [np.inf, np.inf] and np.isnan(hi[2])
    assert lo.tolist() == [0.0] * 3 and hi_lo.tolist() == [0.0] * 3
    # a margin −y·(b + w·x) whose sum is already −inf: +inf, not inf − inf
    hi, lo = product_dd(((-1.0, np.array([-1e300]), 1.0), (-1.0, np.array([1e300]), np.array([1e300]))),
                        np.array([-1e300]), "hi", "lo")
    assert hi.tolist() == [np.inf] and lo.tolist() == [0.0]
    with pytest.raises(ValueError, match="unknown member"):
        quotient_dd(((1.0, 1.0, 1.0),), 3.0, "low")


# (text, points (b, w, x) where the plain float64 argument w·x + b had erred)
NEURONS = [
    ("exp(w*x + b)/(1 + exp(w*x + b))", [(-40.0, -1e-8, 3.0), (40.0, 40.0, -1e-8), (-1e-8, -40.0, 0.5)]),
    ("log(1 + exp(w*x + b))", [(-40.0, -1e-8, 3.0), (-1e-8, -40.0, 0.5), (1e-8, 3.0, -3.0)]),
    ("tanh(w*x + b)", [(40.0, 1e-8, 0.5), (40.0, 40.0, -1e-8), (-1e-8, 3.0, 3.0)]),
]


@pytest.mark.parametrize("text, points", NEURONS, ids=[t for t, _ in NEURONS])
def test_a_neuron_typed_out_is_accurate_in_its_inputs(text, points):
    # σ(w·x + b) of the rounded w·x + b erred by |w·x + b|·eps relative: 13 ULP at
    # w·x + b = −40, tanh′ 42 ULP at 40; the argument is now a double-double sum
    expr = parse_expression(text)
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)  # b, w, x
    f, g = compile_expression(expr, symbols, derivative=True)
    columns = [np.array(c) for c in zip(*points)]
    worst_naive = 0.0
    for values, e in [(f(*columns), expr)] + [(d, sp.diff(expr, s)) for d, s in zip(g(*columns), symbols)]:
        truth = _mp_function(e, symbols)
        naive = sp.lambdify(symbols, e, modules="numpy")
        for k, point in enumerate(points):
            true = reference(truth, list(point))
            assert ulp_error(float(values[k]), true) <= 4, (e, point)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                worst_naive = max(worst_naive, ulp_error(float(naive(*point)), true))
    assert worst_naive > 4, worst_naive  # what the double-double argument removes


def test_a_two_class_softmax_typed_out_stays_finite():
    expr = parse_expression("exp(a)/(exp(a) + exp(b))")
    a, b = sorted(expr.free_symbols, key=lambda s: s.name)
    f, g = compile_expression(expr, [a, b], derivative=True)
    av, bv = np.array([-800.0, 800.0, -1e300, 0.5]), np.array([-900.0, 790.0, -1e300, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = [f(av, bv), *g(av, bv)]
    for v, e in zip(values, [expr, sp.diff(expr, a), sp.diff(expr, b)]):
        truth = _mp_function(e, [a, b])
        for k in range(len(av)):
            assert ulp_error(float(v[k]), reference(truth, [av[k], bv[k]])) <= 4, (e, av[k], bv[k])


def test_results_take_the_broadcast_shape_of_all_inputs():
    # the first argument a number, the others arrays: _like of the first alone
    # could not broadcast (ValueError before)
    expr = parse_expression("tanh(w*x + b)")
    b, w, x = sorted(expr.free_symbols, key=lambda s: s.name)
    f, g = compile_expression(expr, [b, w, x], derivative=True)
    value = f(0.5, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    assert value.shape == (2,) and np.allclose(value, np.tanh([3.5, 8.5]))
    assert all(d.shape == (2,) for d in g(0.5, np.array([1.0, 2.0]), 3.0))
    assert f(np.float32(0.5), np.float32([1.0, 2.0]), np.float32(3.0)).dtype == np.float32
    # float32 inputs computed in float64 and rounded once: w·x + b = 1e30·1e30 − 1e30
    # is past float32, its tanh is not
    narrow = np.float32([-1e30, 0.25]), np.float32([1e30, 3.0]), np.float32([1e30, -2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = f(*narrow), g(*narrow)
    want = f(*(a.astype(np.float64) for a in narrow)), g(*(a.astype(np.float64) for a in narrow))
    assert got[0].dtype == np.float32 and all(d.dtype == np.float32 for d in got[1])
    np.testing.assert_array_equal(got[0], want[0].astype(np.float32))
    for a, b in zip(got[1], want[1]):
        np.testing.assert_array_equal(a, b.astype(np.float32))
    assert isinstance(f(0.5, 1.0, 2.0), np.float64)


@pytest.mark.parametrize("text", ["log(exp(-(x - m)^2/(2*s^2))/(s*sqrt(2*pi)))", "(x - m)^2/(2*s^2) + log(s)"])
def test_a_gaussian_log_density_keeps_the_quotient_whole(text):
    # ((x − m)/s)², which SymPy keeps as (x − m)²/s², was inf/inf = NaN where
    # x − m and s are both past 1.3e154; SymPy's ∂/∂s of the typed log-density
    # is s·(…e^{−q}…)·e^{q}, 0·inf where e^{−q} underflows (quotient_power,
    # merges_into_sum); and ∂/∂s cancelled where x − m ≈ ±s (ratio_square_difference,
    # x − m − s in double-double): f and every partial within 4 ULP at such points
    _assert_within(text, [(1e300, 1e300, -1e300), (0.0, 1e300, 1e300), (-800.0, 40.0, 800.0), (0.5, 1e-8, 3.0),
                          (3.0, 0.5, -3.0),  # (m, s, x); then x − m ≈ ±s, where ∂/∂s,
                          # ((x − m)/s)²/s − 1/s, cancelled (6e9 ULP at the first)
                          (1e-8, 800.0, 800.0), (0.3, 1.7, 2.0000000001), (-40.0, 40.0, -1e-8)], 4)


def _assert_within(text, points, bound):
    """f and every partial derivative of ``text`` within ``bound`` ULP of mpmath at ``points``
    (tuples of the variables' values, in the order of their names); returns f."""
    expr = parse_expression(text)
    variables = sorted(expr.free_symbols, key=lambda v: v.name)
    f, g = compile_expression(expr, variables, derivative=True)
    columns = [np.array(c) for c in zip(*points)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a square may overflow in a term whose value is right
        results = [f(*columns), *g(*columns)]
    for e, values in zip([expr] + [sp.diff(expr, v) for v in variables], results):
        truth = _mp_function(e, variables)
        for point, value in zip(points, np.broadcast_to(values, len(points))):
            true = reference(truth, list(point))
            assert ulp_error(float(value), true) <= bound, (e, point, float(value), true)
    return f


def test_a_ratio_raised_to_a_power_is_printed_as_one():
    # linear_through_zero writes x/6 + 1/2 as ratio(x + 3, 6); its square was
    # printed (x + 3)/6**2, which is (x + 3)/36: e^{(x/6 + 1/2)²} was 1.18 at x = 3, not e
    x = sp.Symbol("x", real=True)
    f = compile_expression(sp.exp((x / 6 + sp.Rational(1, 2)) ** 2), [x])
    assert float(f(3.0)) == pytest.approx(np.e, rel=1e-15)


def test_a_linear_models_residual_is_rounded_once():
    # (y − w·x − b)²: the float64 residual was 0 at y = b = 1e300, w·x = −120, where
    # it is 120 (the loss 14400, ∂/∂w 720), and erred by 5.5 ULP at 1e−8-sized terms;
    # sum_dd's hi is the exact sum rounded once
    f = _assert_within("(y - w*x - b)^2", [(1e300, 40.0, -3.0, 1e300), (1e-8, 3.0, -1e-8, -1e-8),  # (b, w, x, y)
                                           (-1e300, 1e-8, 800.0, -1e300), (0.5, 3.0, 40.0, -3.0)], 2)
    assert float(f(1e300, 40.0, -3.0, 1e300)) == 14400.0


@pytest.mark.parametrize("text", ["exp(-(x - m)^2/(2*s^2))/(s*sqrt(2*pi))", "exp(-((x - m)/s)^2/2)/(s*sqrt(2*pi))"])
def test_a_gaussian_density_takes_its_quotient_in_double_double(text):
    # φ((x − m)/s) of the rounded quotient erred by r² of its rounding errors:
    # 155 ULP at r = −26.7 (m, s, x) = (−40, −3, 40), 173 in ∂/∂x; quotient_dd
    # carries r = hi + lo, and φ(hi + lo) = φ(hi)·(1 − hi·lo)
    points = [(-40.0, -3.0, 40.0), (-40.0, 3.0, 0.0), (0.1, 0.7, 20.3), (1e-8, 0.5, 3.0),
              (800.0, 40.0, -800.0), (1e300, 1e300, -1e300)]
    _assert_within(text, points, 4)
    m, s, x = (np.array(c) for c in zip(*points[:3]))
    naive = np.exp(-(((x - m) / s) ** 2) / 2) / (s * np.sqrt(2 * np.pi))
    expr = parse_expression(text)
    truth = _mp_function(expr, sorted(expr.free_symbols, key=lambda v: v.name))
    assert max(ulp_error(float(v), reference(truth, list(p))) for v, p in zip(naive, points)) > 50


def test_a_gaussian_density_of_one_variable_compensates_its_parameters():
    # x the variable, m and s parameters: the same double-double quotient
    expr = parse_expression("exp(-(x - m)^2/(2*s^2))/(s*sqrt(2*pi))")
    m, s, x = sorted(expr.free_symbols, key=lambda v: v.name)
    f, g = compile_expression(expr, [x], derivative=True)
    truth_f, truth_g = _mp_function(expr, [m, s, x]), _mp_function(sp.diff(expr, x), [m, s, x])
    xs = np.array([40.0, 20.3, -7.9])
    values, slopes = f(xs, m=-40.0, s=-3.0), g(xs, m=-40.0, s=-3.0)
    for k, xk in enumerate(xs):
        assert ulp_error(float(values[k]), reference(truth_f, [-40.0, -3.0, xk])) <= 4
        assert ulp_error(float(slopes[k]), reference(truth_g, [-40.0, -3.0, xk])) <= 4


def test_a_logistic_loss_takes_its_margin_in_double_double():
    # softplus(−y·(w·x + b)) of the rounded margin erred by its size times eps
    # (24 ULP on the --several grid); the margin is product_dd's y·(b + w·x),
    # not −y·w·x − y·b, whose products overflow where the margin does not
    _assert_within("log(1 + exp(-y*(w*x + b)))",  # (b, w, x, y)
                   [(0.23, 3.1, 9.7, 1.3), (-0.1, 7.7, 4.9, 0.9), (1e-8, 40.0, 0.5, 3.0), (0.5, -3.0, 3.0, -40.0),
                    (1e300, -1e300, 1e-8, 1e-8)], 4)


def test_a_log_sum_exp_of_three_typed_out_stays_finite_and_its_shift_is_exact():
    # log(eˣ + eʸ + eᶻ) was −inf at x = y = z = −1e300 and inf past 709.78; the
    # largest term is separated by log1p (9.9 ULP at (−40, −40, 0) pair by pair,
    # from the rounding of the first pair's result); its derivatives, softmax
    # components e^{x − max}/Σ, erred by 4.9 ULP from the rounding of x − max,
    # now a double-double sum (max(x, y, z) is one of them, unrounded)
    _assert_within("log(exp(x) + exp(y) + exp(z))",
                   [(-1e300, -1e300, -1e300), (-40.0, -40.0, 0.0), (1e-8, 3.0, 40.0), (800.0, 790.0, -1e300),
                    (-40.0, 1e-8, -1e-8), (3.0, -3.0, -3.0), (1e300, 0.5, 1e300)], 2.5)
    _assert_within("exp(a)/(exp(a) + exp(b))", [(1e-8, 40.0), (-3.0, 1e-8), (40.0, -1e-8)], 2.5)


def test_a_sum_and_its_negation_share_one_double_double_call():
    # σ(u)·σ(−u) of the neuron's gradient: one sum_dd and one logistic call
    # (each was made twice, for w·x + b and for −w·x − b)
    from derive.codegen import expression_source

    expr = parse_expression("exp(w*x + b)/(1 + exp(w*x + b))")
    source = expression_source("f", expr, sorted(expr.free_symbols, key=lambda v: v.name), derivative=True)
    gradient = source[source.index("def f_grad"):]
    assert gradient.count("= _sum_dd(") == 1 and gradient.count("= _logistic(") == 1


@pytest.mark.parametrize("rename", [{}, {"s": "f0"}, {"m": "y"}, {"s": "y0"}, {"m": "t1"}, {"m": "overflow"},
                                    {"m": "near0"}, {"x": "x_given"}, {"m": "np"}, {"m": "lambda"}])
def test_a_variable_named_as_the_code_names_its_own_values_keeps_its_value(rename):
    # the code of an expression names its results y…, its kernels' results f…, CSE's
    # terms t…, and calls NumPy np: a variable s typed as f0 was the first kernel
    # result (∂/∂m 10.6 where it is −0.31), np hid NumPy, and lambda (λ) is a Python
    # keyword, no parameter name; each is renamed in the code (lambda_, np_), and a
    # name the code can take as its parameter stays the caller's keyword
    import re

    text = "exp(-(x - m)^2/(2*s^2))/(s*sqrt(2*pi)) + log(1 + exp(-m*(s*x + 1)))"
    for old, new in rename.items():
        text = re.sub(rf"\b{old}\b", new, text)
    values = {rename.get(k, k): v for k, v in {"m": 0.3, "s": 1.2, "x": 0.7}.items()}
    expr = parse_expression(text)
    variables = sorted(expr.free_symbols, key=lambda v: v.name)
    f, g = compile_expression(expr, variables, derivative=True)
    point = {v: values[v.name] for v in variables}
    got = [f(*point.values()), *g(*point.values())]
    want = [expr.subs(point)] + [sp.diff(expr, v).subs(point) for v in variables]
    assert [float(a) for a in got] == pytest.approx([float(b) for b in want], rel=1e-13)
    # a parameter (not the variable) under its own name, where Python allows it
    first = variables[0]
    one = compile_expression(expr, [first])
    keyword = {(v.name if v.name not in ("np", "lambda") else v.name + "_"): values[v.name] for v in variables[1:]}
    assert float(one(values[first.name], **keyword)) == pytest.approx(float(expr.subs(point)), rel=1e-13)


def test_an_intermediate_past_float64_is_computed_again_in_long_double():
    # ∂/∂s of a Gaussian density where (x − m)/s passes 1.3e154 was inf·inf·0 = NaN,
    # its truth 0; a logistic loss at y = 0, w·x = 1e600 was −0·inf (its truth log 2,
    # ∂/∂y −(w·x + b)/2 = −5e599, beyond float64: −inf and an overflow report);
    # cosh x − x²/2 at ±1e300 was inf − inf, its truth +inf.  np.longdouble
    # (exponents to ±4932) computes those elements again: _again_wide
    from numeric._support import _WIDE

    if not _WIDE:
        pytest.skip("np.longdouble is a double here")
    _assert_within("exp(-(x - m)^2/(2*s^2))/(s*sqrt(2*pi))", [(0.0, 1e-8, 2e300), (-1e300, 1e-300, 1e300)], 4)
    expr = parse_expression("log(1 + exp(-y*(w*x + b)))")
    f, g = compile_expression(expr, sorted(expr.free_symbols, key=lambda v: v.name), derivative=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value, slopes = f(0.0, 1e300, 1e300, 0.0), g(0.0, 1e300, 1e300, 0.0)
    assert float(value) == pytest.approx(np.log(2), rel=1e-15)
    assert [float(v) for v in slopes[:3]] == [-0.0, -0.0, -0.0] and float(slopes[3]) == -np.inf
    assert [str(w.message) for w in caught] == ["overflow: the result is beyond float64 (±inf) at 1 point of finite input"]
    x = sp.Symbol("x", real=True)
    # the Gumbel density's derivative at −1e300 is e^{−x − e^{−x}}·expm1(−x), 0·inf even in
    # np.longdouble (e^{1e300}): the rule exp_times_large_expm1 writes it −e^{−2x − e^{−x}}·expm1(x)
    gumbel = compile_expression(sp.exp(-x - sp.exp(-x)), [x], derivative=True)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gumbel(np.array([-1e300, -1e15, -800.0])).tolist() == [0.0, 0.0, 0.0]
    f, g = compile_expression(sp.cosh(x) - x**2 / 2, [x], derivative=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert f(np.array([1e300, -1e300])).tolist() == [np.inf, np.inf]
        assert g(np.array([1e300, -1e300])).tolist() == [np.inf, -np.inf]


def test_a_nan_left_at_finite_inputs_is_reported_as_invalid():
    # NumPy's invalid-value report is off while the formula is computed (0·inf on the way
    # may be mended in long double); a NaN that reaches the result at finite inputs (log of
    # a negative number, NaN in np.longdouble too) is reported as NumPy reports an invalid
    # operation, as the caller's np.errstate asks
    x = sp.Symbol("x", real=True)
    f = compile_expression(sp.log(x - 1), [x])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert np.isnan(f(np.array([0.5, 3.0, np.nan]))).tolist() == [True, False, True]
    assert [str(w.message) for w in caught] == ["invalid value: the result is NaN at 1 point of finite input"]
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError, match="invalid value"):
        f(0.5)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        f(0.5)


def test_a_tiny_result_over_a_subnormal_intermediate_is_computed_again_in_long_double():
    # ∂/∂x of exp(−(x² + y²)/2) is −x·e^{−711.5} at x = 37.69, y = 1.588: 6.0e−308,
    # a normal number made of a subnormal e^{−711.5}'s 43 bits, 23 ULP off (found by
    # the certificate of several variables); a result below 2^-600, not 0, is
    # computed again in np.longdouble (_again_wide), whatever the other elements are
    from numeric._support import _WIDE

    if not _WIDE:
        pytest.skip("np.longdouble is a double here")
    _assert_within("exp(-(x^2 + y^2)/2)", [(37.69076129698574, 1.588271450161784),
                                          (-15.941374763139802, -34.19604570624998), (0.5, -1.5)], 4)
    # where the plain formula cancels in long double (1 + e^{−700} is 1 there too), its
    # 0 is not taken: log(1 + e^{x + y}) keeps float64's log1p, 1.0e−304
    _assert_within("log(1 + exp(x + y))", [(-350.0, -350.0), (-400.0, -345.5), (1.0, 2.0)], 4)
    # an element's value does not depend on the others (an underflow elsewhere in the call)
    expr = parse_expression("exp(-(x^2 + y^2)/2)")
    variables = sorted(expr.free_symbols, key=lambda v: v.name)
    grad = compile_expression(expr, variables, derivative=True)[1]
    alone = grad(np.array([37.69076129698574]), np.array([1.588271450161784]))
    beside = grad(np.array([37.69076129698574, 0.5, 40.0]), np.array([1.588271450161784, 0.5, 40.0]))
    assert [float(a[0]) for a in alone] == [float(b[0]) for b in beside]
    # a caller who asked for underflow reports still gets NumPy's own
    f = compile_expression(expr, variables)
    with np.errstate(under="raise"), pytest.raises(FloatingPointError):
        f(37.69, 1.59)


def test_a_neurons_sigmoid_slope_rounds_one_plus_e_once():
    # σ(u)·σ(−u) of u = w·x + b was the product of the kernel's σ(hi) and σ(−hi), each
    # divided by the rounded 1 + e^{−|hi|}, and two first-order factors: ∂f/∂w reached
    # 4.24 ULP (w = 3.056, x = −5.427, b = 5.167); sigmoid_slope is e/(1 + e(2 + e)),
    # and the factors are one (merge_first_order)
    from derive.codegen import expression_source

    expr = parse_expression("sigmoid(w*x + b)")
    source = expression_source("f", expr, sorted(expr.free_symbols, key=lambda v: v.name), derivative=True)
    assert "'sigmoid_slope'" in source
    _assert_within("sigmoid(w*x + b)", [(5.167459846979018, 3.056467247054414, -5.427455490899465),
                                        (9.38871020471747, -17.6148769653351, 2.3142006413746365),
                                        (0.0, 1e-8, 3.0), (-700.0, 2.0, 3.0)], 3)
    # ∂f/∂x = w·σ′(800) at w = 1e300: 1e300 times an underflowed e^{−800} was 0, its truth
    # 3.7e−48; a 0 of an input above 2^256 is computed again in long double (_again_wide)
    from numeric._support import _WIDE

    if _WIDE:
        _assert_within("sigmoid(w*x + b)", [(800.0, 1e300, 0.0), (-800.0, 0.0, -1e300)], 3)


@pytest.mark.parametrize("text", ["sin(w*x + b)", "cos(w*x + b)"])
def test_a_sinusoidal_unit_takes_its_argument_in_double_double(text):
    # sin of a rounded w·x + b errs by |w·x + b|·eps absolute: 1.3e6 ULP of
    # sin(x·y) at x = −9.6148, y = −14.3768, where x·y is near 44π; with
    # w·x + b = hi + lo, sin(hi) + lo·cos(hi) (cos(hi) − lo·sin(hi))
    expr = parse_expression(text)
    b, w, x = sorted(expr.free_symbols, key=lambda s: s.name)
    f, g = compile_expression(expr, [b, w, x], derivative=True)
    truth = [_mp_function(e, [b, w, x]) for e in (expr, *(sp.diff(expr, v) for v in (b, w, x)))]
    rng = np.random.default_rng(8)
    points = [(0.0, -9.614803268357704, -14.37680348747012)]  # w·x ≈ 44π
    for _ in range(200):  # w·x + b within 1e−6 of a multiple of π/2, where sin or cos is 1e−6
        w_, x_ = rng.uniform(-20, 20, 2)
        k = np.round(w_ * x_ / (np.pi / 2))
        points.append((float(k * np.pi / 2 - w_ * x_ + rng.choice([-1e-6, 1e-6])), w_, x_))
    for point in points:
        values = [f(*point), *g(*point)]
        for value, t in zip(values, truth):
            true = reference(t, list(point))
            assert ulp_error(float(value), true) <= 4, (text, point)


def test_a_logistic_neurons_squared_error_keeps_sigma_minus_y_whole():
    # (σ(w·x + b) − y)²: σ(u)(1 − y) − y·σ(−u) of a double-double u erred by 4.43 ULP at
    # σ ≈ 1, y ≈ −2.6e−5, and ∂f/∂y = 2(y − σ) by 25.9 where σ − y cancels; the kernel
    # sigmoid_residual keeps σ(hi) − y whole, and lo·σ′(hi) adds the rest of u
    expr = parse_expression("(sigmoid(w*x+b) - y)^2")
    b, w, x, y = sorted(expr.free_symbols, key=lambda s: s.name)
    variables = [w, x, b, y]
    f, g = compile_expression(expr, variables, derivative=True)
    truth = [_mp_function(e, variables) for e in (expr, *(sp.diff(expr, v) for v in variables))]
    for point, outputs in [((8.490501588192696, 0.7810663439626603, 3.412907900898618e-05, -2.6488204612938698e-05),
                            range(5)),
                           ((-1.887148522713285e-06, 7.334731517619647e-09, 4.037249230878066e-05,
                             0.48651903086808956), range(1, 5))]:
        values = [f(*point), *g(*point)]
        for k in outputs:
            assert ulp_error(float(values[k]), reference(truth[k], list(point))) <= 4, (point, k)
    # where σ − y cancels (y within 20 % of σ), the errors of ∂f/∂y are halved and more
    rng = np.random.default_rng(5)
    w_, x_, b_ = rng.uniform(-3, 3, 400), rng.uniform(-3, 3, 400), rng.uniform(-1, 1, 400)
    y_ = 1 / (1 + np.exp(-(w_ * x_ + b_))) * (1 + rng.uniform(-0.2, 0.2, 400))
    slopes = g(w_, x_, b_, y_)[3]
    errors = [ulp_error(float(s), reference(truth[4], [p, q, r, t])) for s, p, q, r, t in zip(slopes, w_, x_, b_, y_)]
    assert np.median(errors) <= 2  # (3.9 with σ(u)(1 − y) − y·σ(−u))


@pytest.mark.parametrize("text, output, point, before", [
    # −(y − 1)(y + 1)/(x·y + 1)²: 1 − y² as the exact sum rounded once, then two divisions
    ("(x+y)/(1+x*y)", 1, (1.3564989800111086e-05, -0.037583468306429925), 5.73),
    # (x + y)(x − 3y)/(x − y)²: 3y rounded on its own, x − 3y then cancelled
    ("(x+y)^2/(x-y)", 1, (5.988840116224387e-06, 1.997034580288407e-06), 980),
    # log of x² + y² near 1, and of x·y near 1: log(hi) + lo/hi
    ("log(x^2+y^2)", 0, (0.04551739569098658, 0.9993332812404798), 837),
    ("log(x*y)", 0, (5.7153340690200665, 0.17520589788318217), 473),
    # e^{−x·y} − x·y·e^{−x·y} as e^{−x·y}·(1 − x·y), 1 − x·y rounded once
    ("x*exp(-x*y)", 1, (1.5607437948361211, 0.6393286576594217), 252),
    ("x*y*exp(-(x^2+y^2)/2)", 1, (-0.9999476445399276, 0.21900289574627266), 2896),
    # e^{−|hi + lo|} = e^{−|hi|}·(1 − sign(hi)·lo)
    ("exp(-abs(x-y))", 0, (-17.373410202080233, 15.243776112187518), 30.8),
    # x·log(hi + lo) = xlogy(x, hi) + x·lo/hi, x/y in double-double
    ("x*log(x/y)", 0, (10.918987869744514, 10.915388784497702), 1906),
    # expm1(hi + lo) = expm1(hi) + lo·e^{hi}: e^{302} of a rounded x·y
    ("1 - exp(-x*y)", 0, (-19.329109466235415, 15.626156858245093), 208),
    # (hi + lo)^p = hi^p·(1 + p·lo/hi): the rounded sum's error is no longer counted p times
    ("1/sqrt(x^2+y^2)", 2, (-2.3772836971108755, -7.482319635835066), 5.31),  # hypot(x, y)^-3 as (x² + y²)^(-3/2)
    ("x/(x^2+y^2)^3", 2, (0.0025581757405729443, 0.002715729745841013), 7.13),
    ("x/(x^2+y^2)^2", 2, (0.695559137287949, -0.0012177245704254997), 5.40),
    ("1/(1+x*y)^2", 2, (-0.945510564536352, -0.00017926190493614628), 4.44),
])
def test_a_sum_of_products_is_rounded_once_or_carried_in_double_double(text, output, point, before):
    # the errors ``before`` (of f, ∂f/∂x or ∂f/∂y) were measured on the code that rounded
    # each factor, sum or quotient on its own
    expr = parse_expression(text)
    x, y = sorted(expr.free_symbols, key=lambda s: s.name)
    f, g = compile_expression(expr, [x, y], derivative=True)
    value = [f(*point), *g(*point)][output]
    truth = [expr, sp.diff(expr, x), sp.diff(expr, y)][output]
    assert ulp_error(float(value), reference(_mp_function(truth, [x, y]), list(point))) <= 4 < before


def test_a_logarithm_of_a_sum_that_is_zero_is_minus_infinity_not_nan():
    f = compile_expression(parse_expression("log(x^2+y^2)"), [sp.Symbol("x", real=True), sp.Symbol("y", real=True)])
    g = compile_expression(parse_expression("log(1+x*y)"), [sp.Symbol("x", real=True), sp.Symbol("y", real=True)])
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        assert f(0.0, 0.0) == -np.inf and g(-1.0, 1.0) == -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(1e-300, 0.0) == pytest.approx(-1381.551055796427) and g(3.0, 1e-17) == pytest.approx(3e-17)


def test_xlogy_of_a_quotient_in_double_double_is_zero_where_its_factor_is():
    expr = parse_expression("x*log(x/y)")
    x, y = sorted(expr.free_symbols, key=lambda s: s.name)
    f = compile_expression(expr, [x, y])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(np.array([0.0, 0.0]), np.array([3.0, 0.7])).tolist() == [0.0, 0.0]
        assert f(1e300, 1e-300) == pytest.approx(1e300 * 600 * np.log(10))  # x/y = 1e600: long double


def test_a_power_of_a_sum_past_float64_is_computed_again_in_long_double():
    # x² + y² underflows (x = 1e−110) or overflows (x = 1e160), where ∂/∂x of 1/√(x² + y²) is finite
    expr = parse_expression("1/sqrt(x^2+y^2)")
    x, y = sorted(expr.free_symbols, key=lambda s: s.name)
    _, g = compile_expression(expr, [x, y], derivative=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        slope = g(np.array([1e-110, 1e160, -2.0]), np.array([0.0, 0.0, 0.0]))[0]
    assert slope.tolist() == pytest.approx([-1e220, -1e-320, 0.25], rel=1e-15)


def test_results_of_tiny_or_huge_inputs_are_computed_again_in_long_double():
    # x² + y² of subnormal squares keeps a few digits (4e10 ULP for (x² − y²)/(x² + y²) at
    # x = 1e−170, y = 2e−170), and y² = 0 made ∂/∂x of (x + y)²/(x − y) 0 at x = −5e−324,
    # y = −1e−300, where it is −3
    x, y = sp.Symbol("x", real=True), sp.Symbol("y", real=True)
    xs, ys = np.array([1e-170, 3e-165, 1e-155, -5e-324, 0.6]), np.array([2e-170, 1e-165, 3.3e-155, -1e-300, 0.8])
    for text in ["(x^2-y^2)/(x^2+y^2)", "x*y/(x^2+y^2)", "log(x^2+y^2)", "(x+y)^2/(x-y)", "x*log(x/y)"]:
        if text == "x*log(x/y)":  # and of a huge input: x/y subnormal at x = 1.7e−74, y = 5.6e249 (4e12 ULP)
            xs, ys = np.array([1.6683883239705016e-74, 2.0]), np.array([5.566414053076104e+249, 3.0])
        expr = parse_expression(text)
        f, g = compile_expression(expr, [x, y], derivative=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            values = [f(xs, ys), *g(xs, ys)]
        for value, truth in zip(values, [expr, sp.diff(expr, x), sp.diff(expr, y)]):
            mp_truth = _mp_function(truth, [x, y])
            for k in range(len(xs)):
                assert ulp_error(float(value[k]), reference(mp_truth, [xs[k], ys[k]])) <= 4, (text, xs[k], ys[k])
    # not for a huge input to a sine: long double would round w·x, where sum_dd keeps it whole
    from derive.codegen import expression_source

    assert "huge_inputs=True" in expression_source("f", parse_expression("x*log(x/y)"), [x, y])
    assert "huge_inputs=True" not in expression_source("f", parse_expression("sin(x*y)"), [x, y])
    assert "tiny_inputs=True" in expression_source("f", parse_expression("sin(x*y)"), [x, y])


def test_a_zero_of_a_large_input_is_computed_again_in_long_double():
    # ∂/∂y of x·σ(x·y) at x = −4.45e19, y = 1.77e−17 is x²·σ′(−788): 2e39 times a σ′ of
    # 1e−342, 0 in float64, its truth 1.17e−303; a 0 that is right stays 0
    expr = parse_expression("x*sigmoid(x*y)")
    x, y = sorted(expr.free_symbols, key=lambda s: s.name)
    _, g = compile_expression(expr, [x, y], derivative=True)
    point = (-4.4517457961478185e+19, 1.7701095501028345e-17)
    truth = reference(_mp_function(sp.diff(expr, y), [x, y]), list(point))
    assert ulp_error(float(g(*point)[1]), truth) <= 4 and float(truth) > 1e-304
    assert g(-4.4517457961478185e+19, 1e-10)[1] == 0.0  # x²·σ′(−4.5e9): 0 in long double too


def test_a_sine_of_a_large_sum_of_products_takes_its_low_part_whole():
    # past |w·x + b| = 1e6 sum_dd's lo is 0 (σ and exp have saturated there), but a sine
    # does not saturate: sin(x·y) at x = 1e10 + 1, y = 1.1e10 + 3 was sin(hi) = 0.060 for
    # −0.898; sin(hi)cos(lo) + cos(hi)sin(lo) with lo whole
    expr = parse_expression("sin(x*y)")
    x, y = sorted(expr.free_symbols, key=lambda s: s.name)
    f, g = compile_expression(expr, [x, y], derivative=True)
    truths = [_mp_function(e, [x, y]) for e in (expr, sp.diff(expr, x), sp.diff(expr, y))]
    for point in [(10000000001.0, 11000000003.0), (3.3e8, 77000000.3), (12345.678, 98765.4321), (0.3, 2.0)]:
        for value, truth in zip([f(*point), *g(*point)], truths):
            assert ulp_error(float(value), reference(truth, list(point))) <= 4, point


@pytest.mark.parametrize("m, x, before", [(1.3537367123451203, -1.4305387847991138, 5.50),
                                          (9.361296437308465e-05, 9.134857584798851, 5.28)])
def test_a_radial_basis_function_takes_its_gaussian_unscaled(m, x, before):
    # e^{−(x − m)²/2} is the kernel's e^{−u²/2} (gaussian_half), not √(2π)·φ(u): φ's rounded
    # 1/√(2π) and a rounded √(2π) cost two roundings more (``before``: ∂/∂x, that code)
    expr = parse_expression("exp(-(x - m)^2/2)")
    m_, x_ = sorted(expr.free_symbols, key=lambda s: s.name)
    f, g = compile_expression(expr, [m_, x_], derivative=True)
    for value, truth in ((f(m, x), expr), (g(m, x)[1], sp.diff(expr, x_))):
        assert ulp_error(float(value), reference(_mp_function(truth, [m_, x_]), [m, x])) <= 4 < before


@pytest.mark.parametrize("s, x, y, before", [
    (5.907337125657901e-06, 5.306629874552203e-05, -1.394632732849938e-06, 4.80),
    (0.1601268696163879, -0.0001603526187430919, 0.6850258229967021, 4.69),
])
def test_a_gaussian_negative_log_likelihood_squares_its_quotient_compensated(s, x, y, before):
    # ((x − y)/s)²/2 + log s: the quotient in double-double and its square hi²·(1 + 2·lo/hi),
    # where the two terms cancel by up to half (``before``: the square of the rounded quotient)
    expr = parse_expression("(x - y)^2/(2*s^2) + log(s)")
    variables = sorted(expr.free_symbols, key=lambda v: v.name)
    f = compile_expression(expr, variables)
    truth = reference(_mp_function(expr, variables), [s, x, y])
    assert ulp_error(float(f(s, x, y)), truth) <= 3 < before


def test_the_error_functions_of_a_rounded_argument_are_compensated():
    # erf(x·y)′ is 2y·e^{−x²y²}/√π: e^{−(x·y)²} is gaussian(x·y), x·y in double-double
    # (103 ULP at x = 3.1, y = 5.3, where x²·y² was rounded); erfc(x − y) is erfc(hi) −
    # lo·(2/√π)·e^{−hi²}, and its tiny result, computed again in long double, takes the
    # long double argument to first order in the kernel (341 ULP at x − y = 22.1)
    expr = parse_expression("erf(x*y)")
    x_, y_ = sorted(expr.free_symbols, key=lambda v: v.name)
    _, g = compile_expression(expr, [x_, y_], derivative=True)
    for point in ((3.1, 5.3), (-2.3, 7.1)):
        truth = reference(_mp_function(sp.diff(expr, x_), [x_, y_]), list(point))
        assert ulp_error(float(g(*point)[0]), truth) <= 2
    expr = parse_expression("erfc(x - y)")
    f = compile_expression(expr, [x_, y_])
    point = (19.08556213794861, -3.0414500304504615)
    assert ulp_error(float(f(*point)), reference(_mp_function(expr, [x_, y_]), list(point))) <= 4.2


@pytest.mark.parametrize("point, before", [
    ((1.3, 700.1), 171.0),
    ((-3.7, 150.3), 15.6),
    ((-2.9999999, 3.0000001), 9.99e6),  # the base 1 + x/y near 0: 1/(1 + x/y) of a rounded x/y
])
def test_a_power_with_a_variable_exponent_takes_its_base_in_double_double(point, before):
    # (1 + x/y)^y as hi^y·e^{y·lo/hi}, 1 + x/y = (x + y)/y = hi + lo in double-double: the
    # rounded base's error was multiplied by |y| (``before``: f's ULP with the base rounded);
    # its ∂/∂x (1 + x/y)^y/(1 + x/y) divides by hi, not by the rounded 1 + x/y
    expr = parse_expression("(1 + x/y)^y")
    variables = sorted(expr.free_symbols, key=lambda v: v.name)
    f, g = compile_expression(expr, variables, derivative=True)
    truth = reference(_mp_function(expr, variables), list(point))
    slope = reference(_mp_function(sp.diff(expr, variables[0]), variables), list(point))
    assert ulp_error(float(f(*point)), truth) <= 2 < before
    assert ulp_error(float(g(*point)[0]), slope) <= 2


@pytest.mark.parametrize("point, before", [
    ((-18.656121489724296, 18.131784206854917), 34.2),
    ((-7.25, 19.5), 7.69),
    ((3.3, -18.1), 6.32),
])
def test_a_power_of_a_function_with_a_variable_exponent_takes_its_base_in_long_double(point, before):
    # σ(x)^y: σ(x) rounded to float64 erred by its rounding times |y| (``before``); computed
    # from x in np.longdouble, the power rounds once (where np.longdouble is a double: as before)
    if np.finfo(np.longdouble).nmant <= 52:
        pytest.skip("np.longdouble is a double here")
    expr = parse_expression("sigmoid(x)^y")
    variables = sorted(expr.free_symbols, key=lambda v: v.name)
    f = compile_expression(expr, variables)
    from derive import primitives

    truth = reference(_mp_function(primitives.expand_primitives(expr), variables), list(point))
    assert ulp_error(float(f(*point)), truth) <= 1 < before


def test_a_sum_computed_again_in_long_double_carries_a_tiny_input():
    # ∂/∂s of the Gaussian NLL (x − y)²/(2s²) + log s is 1/s − (x − y)²/s³; at s = ±1e−300,
    # x = y, s² underflows in float64, and long double's (−s + x − y)·(s + x − y)/s³ lost s
    # in −s + x: the result was 0, its truth ±1e300.  The long double sums carry their rounding
    from numeric._support import _WIDE

    if not _WIDE:
        pytest.skip("np.longdouble is a double here")
    expr = parse_expression("(x - y)^2/(2*s^2) + log(s)")
    variables = sorted(expr.free_symbols, key=lambda v: v.name)
    slope = compile_expression(expr, variables, derivative=True)[1]
    truth = _mp_function(sp.diff(expr, variables[0]), variables)
    for point in [(1e-300, -1.0, -1.0), (-1e-300, 3.0, 3.0), (5e-300, 1e10, 1e10)]:
        assert ulp_error(float(slope(*point)[0]), reference(truth, list(point))) <= 1, point


def _assert_near_truth(text, points, bound, absolute, undefined_finite=False):
    """f and every partial derivative of ``text`` at each of ``points``, computed with no warning,
    within ``bound`` ULP of mpmath or within ``absolute(point)`` of it; with ``undefined_finite``,
    finite where the definition has no value (0/0: its limit is what the code gives). Returns (f, f′)."""
    expr = parse_expression(text)
    variables = sorted(expr.free_symbols, key=lambda v: v.name)
    f, g = compile_expression(expr, variables, derivative=True)
    truths = [_mp_function(e, variables) for e in [expr, *(sp.diff(expr, v) for v in variables)]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for point in points:
            for k, (value, truth) in enumerate(zip([f(*point), *g(*point)], truths)):
                true = reference(truth, list(point))
                if undefined_finite and mpmath.isnan(true):
                    assert np.isfinite(float(value)), (point, k)
                    continue
                assert ulp_error(float(value), true) <= bound or abs(float(value) - float(true)) <= absolute(point), \
                    (point, k)
    return f, g


@pytest.mark.parametrize("text, points", [
    ("sin(x*y)/(x*y)", [(1e-200, 1e-200), (5e-324, 3.0), (-1e-300, 2.5), (1e-9, 2e-9), (0.03, -7.0),
                        (3.0, 3.14159265358979 / 3.0 * (1 + 1e-12)), (1e300, 1e-300)]),
    ("(1 - cos(w*x))/(w*x)^2", [(1e-170, 1e-170), (-1e-300, 7.0), (2e-5, 3e-4), (0.5, 2.0)]),
])
def test_a_function_of_one_product_is_patched_at_its_removable_point(text, points):
    # sin(x·y)/(x·y) as one formula is 0/0 where x·y underflows, and its partial derivatives
    # cos(x·y)/x − sin(x·y)/(x²·y) inf − inf there (5e291 ULP on the certificate), and cancel
    # near x·y = 0; as g(u) of u = x·y in double-double, g patched about 0, each is within 2 ULP
    expr = parse_expression(text)
    variables = sorted(expr.free_symbols, key=lambda v: v.name)
    assert codegen.inner_argument(expr, variables)[2] == variables[0] * variables[1]
    f, g = _assert_near_truth(text, points, 2, lambda point: 4 * np.finfo(np.float64).tiny)
    # shapes broadcast, float32 is rounded once, a NaN stays NaN
    assert f(np.zeros((2, 1)), np.array([0.0, 1e-300, 3.0])).shape == (2, 3)
    assert g(np.float32(1e-20), np.float32(2.0))[0].dtype == np.float32
    assert np.isnan(f(np.nan, 1.0))


def test_a_function_of_a_parameter_times_the_variable_is_patched_too():
    # sin(w·x)/(w·x) of x, w a parameter: removable points were patched for one variable with
    # no parameter only; it was NaN at x = 0, 1.1e284 for its derivative at x = 1e−300 (truth
    # −w²x/3), and its derivative cancelled near 0 (4e−11 relative at x = 1e−3, w = 2)
    x, w = sp.symbols("x w", real=True)
    expr = sp.sin(w * x) / (w * x)
    f, g = compile_expression(expr, [x], derivative=True)
    slope = _mp_function(sp.diff(expr, x), [x, w])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(f(0.0)) == 1.0 and float(f(1e-300, 3.0)) == 1.0
        for point in [(1e-300, 1.0), (1e-3, 2.0), (-2.5, 1e-7), (4.0, 0.75)]:
            assert ulp_error(float(g(*point)), reference(slope, list(point))) <= 2, point
    assert f(np.float32(0.5)).dtype == np.float32


@pytest.mark.parametrize("text, points", [
    # the squared error of a sinc neuron: NaN, with its gradient, at w = b = 0
    ("(sin(w*x + b)/(w*x + b) - y)^2", [(0.0, 0.0, 0.7, 0.5), (1e-9, -2e-9, 0.25, 3.0), (-1e-300, 0.0, 1.0, 0.0)]),
    # a removable subexpression beside another term: NaN where x·y underflows
    ("sin(x*y)/(x*y) + x", [(1e-200, 1e-200), (3.0, 0.0), (2e-5, -3e-4)]),
    # u = x/y, not a sum of products: its quotient rounded, g(u) patched about 0
    ("sin(x/y)/(x/y)", [(1e-300, 1.0), (0.0, 2.0), (3e-9, 0.5)]),
    # log(sin(x·y)/(x·y)) is log(t) of u = sin(x·y)/(x·y), and log(sin t/t) of u = x·y
    ("log(sin(x*y)/(x*y))", [(1e-3, 2e-3), (1e-6, 1e-7), (0.5, 0.75)]),
    # 1 − e^{−x·y} over x·y: −x·y is u = x·y with its sign
    ("(1 - exp(-x*y))/(x*y)", [(1e-200, 3e-200), (1e-5, -2e-4), (0.0, 1.0)]),
    # y·sin(x)/x is y times sin(x)/x (its ∂/∂x 7.3e3 ULP, 1.7e7 float32 ULP, before); g of
    # one symbol is its own code everywhere ((1 − cos x)/x²′ erred by 17 ULP at |x| > 1)
    ("sin(x)/x*y", [(1e-300, 2.0), (1e-4, -3.0), (4.493409457909064, 1.0)]),
    ("(1 - cos(x))/x^2 + (1 - cos(y))/y^2", [(1e-300, 1e-7), (2.5, -7.75), (0.0, 30.0)]),
])
def test_a_removable_subexpression_is_patched(text, points):
    # (next to an interior zero, sinc′ at x = 4.4934, the absolute bound)
    _assert_near_truth(text, points, 4, lambda point: 8 * np.finfo(np.float64).eps * max(1.0, *map(abs, point)),
                       undefined_finite=True)


def test_a_zero_of_a_call_that_underflowed_is_computed_again_in_long_double():
    # ∂/∂m of a Gaussian density at (x − m)/s = 38.3, s = 1.4e−7 is r·φ(r)/s² = 4.4e−305: φ(r) is
    # subnormal on the way, and the float64 result was 0 (8.6e15 ULP on the certificate); a 0 of
    # a call in which something underflowed is computed again in np.longdouble (a right 0 stays)
    from numeric._support import _WIDE

    if not _WIDE:
        pytest.skip("np.longdouble is a double here")
    expr = parse_expression("exp(-(x - m)^2/(2*s^2))/(s*sqrt(2*pi))")
    variables = sorted(expr.free_symbols, key=lambda v: v.name)
    slope = compile_expression(expr, variables, derivative=True)[1]
    point = [-3.598711410394889e-10, 1.3698355633475328e-07, 5.252203424129e-06]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = slope(*point)
    for value, v in zip(got, variables):
        assert ulp_error(float(value), reference(_mp_function(sp.diff(expr, v), variables), point)) <= 2, v
    # relu's zeros where the same call underflows elsewhere stay 0
    relu = parse_expression("max(0, x*y)*exp(-x*y)")
    g = compile_expression(relu, sorted(relu.free_symbols, key=lambda v: v.name))
    assert g(np.array([-1.0, 30.0, 1e-300]), np.array([2.0, 30.0, -1e-300])).tolist()[0] == 0.0


def test_a_sum_around_a_sum_is_rounded_once_as_a_whole():
    # the squared hinge loss max(0, 1 − y·(w·x + b))²: bottom up, w·x + b was rounded on its own
    # and 1 − y·(w·x + b) then cancelled next to the hinge (1.2e9 ULP here, y·(w·x + b) = 1 − 1e−9)
    expr = parse_expression("max(0, 1 - y*(w*x + b))^2")
    variables = sorted(expr.free_symbols, key=lambda v: v.name)
    f = compile_expression(expr, variables)
    point = (0.1, 3.7, 0.27, 1 / (3.7 * 0.27 + 0.1) * (1 - 1e-9))
    assert ulp_error(float(f(*point)), reference(_mp_function(expr, variables), list(point))) <= 1
