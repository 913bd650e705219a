"""The fitted polynomial of derive/fits.py against mpmath, and the kernel that uses it."""

import mpmath
import numpy as np
import pytest

from derive.fits import (
    PolynomialFit,
    fits_module_source,
    normal_ratio_slope_fit,
    normal_tail,
    normal_tail_fit,
)
from numeric import _fits, _kernels
from numeric.accuracy import ulp_error

EPS = 2.0 ** -52


def _tail(a):
    """The kernel's H(a) = e^{a²/2}·Φ(−a), as numeric.normal computes it."""
    a = np.asarray(a, dtype=np.float64)
    out, u, e = np.empty_like(a), np.empty_like(a), np.empty_like(a)
    return _kernels._normal_tail(a.copy(), out, u, e)


def test_committed_coefficients_are_the_derived_ones():
    fit = normal_tail_fit()
    assert _fits.NORMAL_TAIL == fit.coefficients
    assert _fits.NORMAL_TAIL_CENTER == fit.center
    with open(_fits.__file__, encoding="utf-8") as handle:
        assert handle.read() == fits_module_source()


def test_tail_within_two_eps_of_mpmath():
    # dense where H bends (a < 6), sparse out to 40, and tiny arguments
    rng = np.random.default_rng(4)
    a = np.concatenate([np.linspace(0, 40, 801), rng.uniform(0, 6, 1200), np.geomspace(1e-12, 0.5, 100),
                        [0.0, 5e-324, 1.0, 5.0, 39.999]])
    got = _tail(a)
    worst = 0.0
    with mpmath.workdps(40):
        for v, h in zip(a, got):
            want = normal_tail(mpmath.mpf(float(v)))
            rel = float(abs((h - want) / want)) / EPS
            worst = max(worst, rel)
            assert rel <= 2.0, (v, h, want)  # 1.3–1.5 eps measured; SciPy's erfcx reaches 3.9
    assert worst > 0.1  # live: float64 evaluation does err


def test_tail_is_the_fit_evaluated_pointwise():
    fit = normal_tail_fit()
    a = np.array([0.0, 0.3, 1.0, 2.5, 7.0, 33.0])
    # the kernel folds in the rounding error of 1 + a; the plain evaluation does not
    np.testing.assert_allclose(_tail(a), [fit.evaluate(v) for v in a], rtol=4 * EPS)
    assert fit.evaluate(0.0) == 0.5


def test_fit_truncation_is_below_rounding():
    # the fit itself (float64 coefficients, evaluated at 40 digits) is far closer
    # than the rounding of its float64 evaluation
    fit = normal_tail_fit()
    k = mpmath.mpf(fit.center)
    with mpmath.workdps(40):
        for a in (mpmath.mpf(0), mpmath.mpf("0.7"), mpmath.mpf(3), mpmath.mpf(12), mpmath.mpf(40)):
            u = 2 * k / (k + a) - 1
            d = mpmath.fsum(mpmath.mpf(p) * u ** i for i, p in enumerate(fit.coefficients))
            exact = normal_tail(a)
            assert abs(((mpmath.mpf(1) / 2 + d) / (1 + a) - exact) / exact) < 0.1 * EPS  # 0.06 measured


def test_other_centres_give_other_fits():
    other = normal_tail_fit(center=3.0)
    assert isinstance(other, PolynomialFit) and other.coefficients != normal_tail_fit().coefficients
    assert abs(other.evaluate(1.0) - normal_tail_fit().evaluate(1.0)) < 4e-16


def test_normal_needs_no_scipy():
    import subprocess
    import sys

    code = ("import sys, numpy as np, numeric; numeric.gelu_and_grad(np.linspace(-9, 9, 101)); "
            "print('scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("a", [np.nan, np.inf])
def test_tail_of_non_finite(a):
    # the kernel clamps a to 40 first; H itself propagates NaN
    if np.isnan(a):
        assert np.isnan(_tail([a])[0])
    else:
        assert _tail([40.0])[0] == pytest.approx(float(normal_tail(mpmath.mpf(40))), rel=4 * EPS)


def test_erfc_against_mpmath_and_scipy():
    import scipy.special

    rng = np.random.default_rng(8)
    x = np.concatenate([np.linspace(-6, 28, 681), rng.uniform(-3, 6, 500), np.geomspace(1e-12, 1, 40),
                        -np.geomspace(1e-12, 1, 40), [0.0, -0.0, 5e-324, 26.5, 27.2]])
    got = _kernels.erfc(x)
    theirs = scipy.special.erfc(x)
    tiny = np.finfo(np.float64).tiny
    ours_worst = scipy_worst = 0.0
    with mpmath.workdps(40):
        for v, g, s in zip(x, got, theirs):
            want = mpmath.erfc(mpmath.mpf(float(v)))
            unit = max(np.spacing(float(want)), tiny)  # subnormal truth: units of the smallest normal
            ours, scipys = float(abs(g - want)) / unit, float(abs(s - want)) / unit
            assert ours <= 4.5, (v, g, want)  # 4.2 measured on 26,000 points of [−6, 28]
            ours_worst, scipy_worst = max(ours_worst, ours), max(scipy_worst, scipys)
    assert scipy_worst > 50 * ours_worst  # SciPy's erfc: up to 504 ULP near x = 23


def test_exact_square_is_exact_to_2_to_the_minus_66():
    # hi + lo against the exact square (fractions): hi = fl(a²), lo its
    # rounding error; a square rounded once would err by ulp(a²)/2 (2⁻⁴³ at 38)
    from fractions import Fraction

    rng = np.random.default_rng(3)
    a = np.concatenate([rng.uniform(0, 40, 3000), 10.0 ** rng.uniform(-320, 1.8, 3000),
                        [0.0, 5e-324, 2.0 ** -21, 1.5 * 2.0 ** -20, 2.0 ** -20 + 2.0 ** -60, 38.0 + 2.0 ** -47,
                         np.nextafter(64.0, 0.0)]])
    hi, lo, t = np.empty_like(a), np.empty_like(a), np.empty_like(a)
    _kernels._exact_square(a.copy(), hi, lo, t)
    np.testing.assert_array_equal(hi, a * a)
    worst = max(abs(Fraction(float(v)) ** 2 - Fraction(float(h)) - Fraction(float(w))) for v, h, w in zip(a, hi, lo))
    assert worst <= Fraction(1, 2 ** 66)
    assert max(abs(Fraction(float(v)) ** 2 - Fraction(float(v * v))) for v in a) > 2 ** 20 * worst
    nan = np.array([np.nan])
    assert np.isnan(_kernels._exact_square(nan, np.empty(1), np.empty(1), np.empty(1))).all()


def test_erfc_special_values_and_float32():
    got = _kernels.erfc(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 40.0, -40.0]))
    np.testing.assert_array_equal(got, [np.nan, 0.0, 2.0, 1.0, 1.0, 0.0, 2.0])
    x32 = np.linspace(-4, 9, 131, dtype=np.float32)
    y32 = _kernels.erfc(x32)
    assert y32.dtype == np.float32
    np.testing.assert_array_equal(y32, _kernels.erfc(x32.astype(np.float64)).astype(np.float32))
    assert isinstance(_kernels.erfc(0.5), np.floating) and _kernels.erfc(np.float64(0.5)).ndim == 0


def test_user_erfc_code_needs_no_scipy():
    import subprocess
    import sys

    code = ("import sys, sympy as sp\n"
            "from derive.codegen import expression_source\n"
            "x = sp.Symbol('x', real=True)\n"
            "print(expression_source('f', 1 - sp.erf(x), [x]))\n")
    source = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "_erfc(" in source and "scipy" not in source
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # our generated code, not a user's string
    assert namespace["f"](10.0) == pytest.approx(float(mpmath.erfc(10)), rel=4e-16)


def test_erf_kernel_within_three_ulp_of_mpmath():
    # a user's erf(x) had no code (the printer wrote erf(…), never defined);
    # the kernel: the series below |x| = 0.5, sign·(1 − erfc(|x|)) above
    from numeric.accuracy import ulp_error

    rng = np.random.default_rng(6)
    x = np.concatenate([np.linspace(-6, 6, 1201), rng.uniform(-0.6, 0.6, 800), np.geomspace(1e-300, 0.5, 60),
                        [0.0, -0.0, 0.4999999999999999, 0.5, 5e-324]])
    got = _kernels.erf(x)
    with mpmath.workdps(40):
        worst = max(ulp_error(float(v), mpmath.erf(mpmath.mpf(float(t)))) for t, v in zip(x, got))
    assert worst <= 3.0, worst
    assert _kernels.erf(np.array([np.inf, -np.inf, np.nan])).tolist()[:2] == [1.0, -1.0]
    assert np.isnan(_kernels.erf(np.nan)) and _kernels.erf(np.float32(0.25)).dtype == np.float32


def test_erfcx_against_mpmath_and_scipy():
    # e^{x²}·erfc(x): 2·H(x√2) for x ≥ 0, 2e^{x²} − erfcx(−x) below; where erfc
    # underflows (x > 26.5) and e^{x²} overflows, and past 1e300, 1/(x√π)
    import scipy.special

    rng = np.random.default_rng(9)
    x = np.concatenate([np.linspace(-26.5, 40, 1331), rng.uniform(-3, 6, 400), np.geomspace(1e-300, 1e300, 120),
                        -np.geomspace(1e-12, 26, 60), [0.0, -0.0, 5e-324, 1e301, 1.7e308]])
    got = _kernels.erfcx(x)
    worst = 0.0
    with mpmath.workdps(50):
        for v, g in zip(x, got):
            m = mpmath.mpf(float(v))
            want = 1 / (m * mpmath.sqrt(mpmath.pi)) if v > 1e100 else mpmath.exp(m**2) * mpmath.erfc(m)
            unit = max(np.spacing(float(want)), np.finfo(np.float64).tiny)
            worst = max(worst, float(abs(g - want)) / unit)
    assert worst <= 3.5  # 2.81 measured on 32,000 points of [−26.6, 40] and the geometric grids
    assert scipy.special.erfcx(-27.0) == _kernels.erfcx(-27.0) == np.inf  # e^{729} overflows
    special = _kernels.erfcx(np.array([np.nan, np.inf, -np.inf]))
    assert np.isnan(special[0]) and special[1] == 0 and special[2] == np.inf
    assert _kernels.erfcx(np.float32(2.0)).dtype == np.float32 and _kernels.erfcx([[1.0]]).shape == (1, 1)


def test_ndtr_slope_keeps_the_digits_that_the_sum_loses():
    # Φ(x) + x·φ(x) (gelu′) for x < 0 is e^{−x²/2}·(H(−x) + x/√(2π)) with the
    # product x/√(2π) exact: the two rounded terms added erred by 5.2 ULP on
    # these points (x = −1.162), the kernel's member by 3.7 at most
    rng = np.random.default_rng(17)
    xs = np.concatenate([rng.uniform(-3.5, -1.15, 1500), rng.uniform(-38.0, -3.5, 300), rng.uniform(0.0, 8.0, 300)])
    slope, cdf, pdf = _kernels.normal(xs, "ndtr_slope", "ndtr", "gauss")
    worst_sum = worst = 0.0
    with mpmath.workdps(30):
        for x, value, added in zip(xs, slope, cdf + xs * pdf):
            true = mpmath.ncdf(x) + x * mpmath.npdf(x)
            worst = max(worst, ulp_error(float(value), true))
            worst_sum = max(worst_sum, ulp_error(float(added), true))
    assert worst <= 4.0 < worst_sum
    special = np.array([-np.inf, -40.0, -0.0, 0.0, 40.0, np.inf, np.nan])
    assert _kernels.normal(special, "ndtr_slope")[0][:6].tolist() == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
    assert np.isnan(_kernels.normal(special, "ndtr_slope")[0][6])


def test_gauss_over_ndtr_has_no_exponential_to_round_below_zero():
    # φ(x)/Φ(x), the derivative of log Φ: for x < 0 it is 1/(√(2π)·H(−x)), e^{−x²/2}
    # gone; φ over Φ of the kernel's two members rounds g·c, H·g and their quotient
    # (4.24 ULP at x = −31.76 on the certificate of log Φ before), and is 0/0 past −38.5
    rng = np.random.default_rng(23)
    xs = np.concatenate([rng.uniform(-40.0, 0.0, 1500), rng.uniform(-38.0, -25.0, 500), rng.uniform(0.0, 10.0, 300),
                         -10 ** rng.uniform(1.6, 300, 200), [-1e300, -1.7e308, -40.0, -40.000001, -5e-324, 0.0]])
    ratio, pdf, cdf = _kernels.normal(xs, "gauss_over_ndtr", "gauss", "ndtr")
    worst = worst_members = 0.0
    for x, value, p, c in zip(xs, ratio, pdf, cdf):
        with mpmath.workdps(40 + 2 * len(str(int(abs(x))))):  # Φ(−1e300) needs its exponent's digits
            true = mpmath.npdf(x) / mpmath.ncdf(x)
        worst = max(worst, ulp_error(float(value), true))
        if x > -37:
            worst_members = max(worst_members, ulp_error(float(p / c), true))
    assert worst <= 3.0 < worst_members  # 2.84 and 3.48 on these points
    assert ratio[-5] == 1.7e308 and np.isfinite(ratio).all()  # φ/Φ(x) → |x| below −1e300
    special = _kernels.normal(np.array([-np.inf, np.inf, np.nan]), "gauss_over_ndtr")[0]
    assert special[0] == np.inf and special[1] == 0.0 and np.isnan(special[2])
    assert _kernels.gauss_over_ndtr(np.float32(-3.0)).dtype == np.float32



def test_gauss_over_ndtr_slope_takes_its_fit_below_zero():
    # (log Φ)″ = −λ(x + λ), λ = φ/Φ: x + λ cancels like 1/x² for x < 0, where the
    # member is −(1 − P(u)) with P fitted by derive.fits.normal_ratio_slope_fit
    # (1.45 ULP measured on 3,500 points); for x ≥ 0, −λ(x + λ) from the members
    rng = np.random.default_rng(29)
    xs = np.concatenate([rng.uniform(-40.0, 0.0, 1500), rng.uniform(0.0, 12.0, 300), -10 ** rng.uniform(1.6, 6, 100)])
    slope, ratio = _kernels.normal(xs, "gauss_over_ndtr_slope", "gauss_over_ndtr")
    worst_negative = worst_positive = worst_plain = 0.0
    for x, value, plain in zip(xs, slope, -ratio * (xs + ratio)):
        with mpmath.workdps(60 + 3 * len(str(int(abs(x))))):
            v = mpmath.mpf(x)
            lam = mpmath.npdf(v) / mpmath.ncdf(v)
            true = -lam * (v + lam)
        error = ulp_error(float(value), true)
        if x < 0:
            worst_negative = max(worst_negative, error)
            worst_plain = max(worst_plain, ulp_error(float(plain), true))
        else:
            worst_positive = max(worst_positive, error)
    assert worst_negative <= 2.0 and worst_positive <= 4.0 and worst_plain > 100
    assert normal_ratio_slope_fit() == _fits.NORMAL_RATIO_SLOPE  # the committed coefficients
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        special = _kernels.gauss_over_ndtr_slope(np.array([-np.inf, np.inf, -1e308, 0.0]))
    assert special.tolist() == [-1.0, -0.0, -1.0, pytest.approx(-2 / np.pi, rel=1e-15)]
    assert np.isnan(_kernels.gauss_over_ndtr_slope(np.nan))


@pytest.mark.skipif(np.finfo(np.longdouble).nmant <= 52, reason="np.longdouble is a double here")
def test_the_normal_kernels_take_a_long_double_argument_whole():
    # computed in float64, they took a long double argument's rounding to a double: erfc of
    # 22.1270121683990715 (= 19.08556213794861 + 3.0414500304504615) as erfc of 22.127012168399073,
    # 270 ULP away; the first-order term in the rest puts it back
    u = np.longdouble(19.08556213794861) + np.longdouble(3.0414500304504615)
    with mpmath.workdps(40):
        exact = mpmath.mpf(19.08556213794861) + mpmath.mpf(3.0414500304504615)
        for argument, truth_at in ((u, exact), (-u / 7, -exact / 7), (u / 3, exact / 3)):
            wanted = {
                "erfc": (_kernels.erfc, mpmath.erfc(truth_at)),
                "erf": (_kernels.erf, mpmath.erf(truth_at)),
                "erfcx": (_kernels.erfcx, mpmath.exp(truth_at**2) * mpmath.erfc(truth_at)),
                "gaussian": (_kernels.gaussian, mpmath.exp(-truth_at**2)),
                "ndtr": (_kernels.ndtr, mpmath.ncdf(truth_at)),
                "gauss": (_kernels.gauss, mpmath.npdf(truth_at)),
            }
            for name, (kernel, truth) in wanted.items():
                value = kernel(np.array([argument]))
                assert value.dtype == np.longdouble, name
                assert ulp_error(float(value[0]), truth) <= 4.2, (name, float(argument))
