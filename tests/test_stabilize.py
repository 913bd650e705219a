"""Each stabilize rule: it fires, it is an identity, and it removes a measured error."""

import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp
from sympy.codegen.cfunctions import expm1

import numeric
from derive.codegen import compile_expression
from derive.primitives import expand_primitives, ndtr
from derive.stabilize import HYPOT, RULES, stabilize
from numeric.accuracy import ulp_error

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)
p = sp.Symbol("p", positive=True)
q = sp.Symbol("q", positive=True)

# rule name, expression, point(s), naive float64 result is off (inf/nan/0 or > 1000 ULP)
CASES = [
    ("sigmoid", 1 / (1 + sp.exp(-x)), {x: -740.0}),
    ("exponential_ratio", sp.exp(x) / (1 + sp.exp(x)), {x: 800.0}),
    # (a factor besides 1 + e^x: not exponential_ratio's) e^x·σ(−x)/(1 + x²)
    ("sigmoid_from_ratio", sp.exp(x) / ((1 + sp.exp(x)) * (1 + x**2)), {x: 800.0}),
    # σ'(x) written out: e^{-x}/(1 + e^{-x})² is inf/inf = NaN at x = -800
    ("exponential_ratio", sp.exp(-x) / (1 + sp.exp(-x)) ** 2, {x: -700.0}),
    # e^{2x}·σ(−x)² → σ(x)²: inf/inf at x = 800
    ("exponential_ratio", sp.exp(2 * x) / (1 + sp.exp(x)) ** 2, {x: 800.0}),
    # σ(x) − σ(x)², σ(1 − σ) multiplied out: 0 at x = 40 (true 4.2e−18)
    ("sigmoid_polynomial", 1 / (1 + sp.exp(-x)) - 1 / (1 + sp.exp(-x)) ** 2, {x: 40.0}),
    # σ(−x) − σ(x) = −tanh(x/2): 1e8 ULP at x = 1e−8
    ("sigmoid_polynomial", 1 / (1 + sp.exp(x)) - 1 / (1 + sp.exp(-x)), {x: 1e-8}),
    ("softplus_less_argument", sp.log(1 + sp.exp(x)) - x, {x: 40.0}),
    ("exponential_ratio", (1 - sp.exp(-x)) / (1 + sp.exp(-x)), {x: -800.0}),
    ("tanh_half", expm1(x) / (1 + sp.exp(x)), {x: 800.0}),
    ("exponential_ratio", sp.exp(x) / (sp.exp(x) + sp.exp(2 * x)), {x: 800.0}),
    # two logarithms of about 40 whose difference is −4.2e−18: 0 as written
    ("log_difference", sp.log(sp.exp(x) + 1) - sp.log(sp.exp(x) + 2), {x: 40.0}),
    # a log-sum-exp of two terms typed by hand: −inf at x = −1e6, where it is −1e6
    ("log_of_two_exponentials", sp.log(sp.exp(x) + sp.exp(2 * x)), {x: -1e6}),
    ("log_of_two_exponentials", sp.log(sp.exp(x) + sp.exp(2 * x)), {x: 1e4}),
    # √(x² + 1) − x: 4.6e5 ULP at x = 750 (1/(√(x² + 1) + x) there)
    ("root_less", sp.sqrt(x**2 + 1) - x, {x: 750.0}),
    # the Gudermannian function typed as asin(tanh x): 5.1e7 ULP at x = 19; its complement
    ("gudermannian", sp.asin(sp.tanh(x)), {x: 19.0}),
    # x^x typed out: exp of x·log x rounded, |x·log x|·eps relative (833 ULP here)
    ("exp_of_a_log", sp.exp(x * sp.log(x)), {x: 118.57142857142857}),
    # (1 + x²)^(−x) typed out: log(1 + x²) is log1p(x²) by then, and e^{−x·log1p(x²)} as rounded
    ("exp_of_a_log", sp.exp(-x * sp.log(1 + x**2)), {x: -74.56140350877193}),
    ("gudermannian", sp.acos(sp.tanh(x)), {x: 19.0}),
    # log of a rounded quotient near 1: (x + 1)/(x + 2) = 1 − 1e−10 rounded, 1e6 ULP in its log
    ("log_of_quotient_near_one", sp.log((x + 1) / (x + 2)), {x: 1e10}),
    # and with a weight (xlogy, the Bernoulli KL divergence's (1 − y)·log((1 − y)/(1 − p)))
    ("log_of_quotient_near_one", (1 - y) * sp.log((1 - y) / (1 - x)), {x: 0.3, y: 0.30000000001}),
    ("over_root_less_one", sp.diff(sp.sqrt(x**2 + 1) - x, x), {x: 1e5}),
    ("exp_times_expm1", sp.exp(x) * (1 - sp.exp(-x)), {x: -800.0}),
    # the Gumbel density's derivative (e^{−x} − 1)·e^{−x − e^{−x}}: inf·0 = NaN past x = −709.78
    ("exp_times_large_expm1", sp.diff(sp.exp(-x - sp.exp(-x)), x), {x: -800.0}),
    ("tanh_less_sign", sp.tanh(x) - sp.sign(x), {x: -30.0}),
    # log cosh x − |x| = log1p(e^{−2|x|}) − log 2: 0 at x = 1e300 as written
    ("into_piecewise", sp.log(sp.cosh(x)) - sp.Abs(x), {x: 1e300}),
    # x/(e^x − 1)′ = 1/expm1(x) − x·e^x/expm1(x)²: the square overflows at x = 700
    ("exp_over_expm1", sp.diff(x / (sp.exp(x) - 1), x), {x: 700.0}),
    ("exponential_ratio", sp.diff(sp.exp(-x) / (sp.exp(x) + sp.exp(-x)), x), {x: -400.0}),
    ("softplus", sp.log(1 + sp.exp(x)), {x: 800.0}),
    ("log_sigmoid", sp.log(1 / (1 + sp.exp(-x))), {x: -800.0}),
    # the normal distribution's tails: 1 − Φ(12) is 0 as written (1.8e−33), Φ(x) − Φ(−x) 0 at
    # 1e−17, e^{x²}·erfc(x) inf·0, log Φ(−40) log 0 (−804.6), φ/Φ and e^{−x²}/erfc 0/0
    ("ndtr_complement", 1 - ndtr(x), {x: 12.0}),
    ("ndtr_difference", ndtr(x) - ndtr(-x), {x: 1e-17}),
    ("ndtr_difference", 2 * ndtr(x) - 1, {x: 1e-17}),
    ("scaled_erfc", sp.exp(x**2) * sp.erfc(x), {x: 30.0}),
    # erfcx′ = 2x·erfcx(x) − 2/√π cancels like 1/x² (3.8e8 ULP on the tails table before;
    # within 7.2 ULP on [−26, 40] now, 1.1 here: a stated exception of the user table)
    ("erfcx_slope", sp.diff(sp.exp(x**2) * sp.erfc(x), x), {x: 30.0}),
    ("log_normal_tail", sp.log(ndtr(x)), {x: -40.0}),
    ("log_normal_tail", sp.log(ndtr(x)), {x: 12.0}),
    ("log_normal_tail", sp.log(sp.erfc(x)), {x: 30.0}),
    ("log_normal_tail", sp.log(1 + sp.erf(x)), {x: -1e-8}),
    # log Φ(x√2) typed with erf: log erfc(−x) − log 2, where erfc(−x) is near 2
    # (log1p(−erf(−x)) − log 2 erred by 1.7e4 ULP at x = 3)
    ("log_normal_tail", sp.log((1 + sp.erf(x)) / 2), {x: 3.0}),
    ("normal_ratio", sp.exp(-x**2 / 2) / (sp.sqrt(2 * sp.pi) * ndtr(x)), {x: -40.0}),
    ("normal_ratio", sp.exp(-x**2) / sp.erfc(x), {x: 30.0}),
    # (log Φ)″ = −λ(x + λ), λ = φ/Φ: x + λ cancels like 1/x² (4.5e3 ULP at −38.7 from λ)
    ("normal_ratio_slope", sp.diff(sp.log(ndtr(x)), x, 2), {x: -30.0}),
    # several variables: e^{y²}·(x·e^{−y²} − y·e^{−y²}) is inf·0 at y = 30 (x − y); (x − y)²/(2p²)
    # inf/inf where x − y and p pass 1.3e154; p·(1/p² + x/p³) overflows p² at p = 1e300
    ("merges_into_sum", sp.exp(y**2) * (x * sp.exp(-y**2) - y * sp.exp(-y**2)), {x: 2.0, y: 30.0}),
    ("quotient_power", (x - y) ** 2 / (2 * p**2), {x: 1e300, y: -1e300, p: 1e300}),
    ("merges_into_sum", p * (1 / p**2 + x / p**3), {x: 3.0, p: 1e300}),
    # a Gaussian's ∂/∂s, (x − y)²/p³ − 1/p, cancels where x − y ≈ p (6e9 ULP at x − y = p − 1e−8)
    ("ratio_square_difference", (x - y) ** 2 / p**3 - 1 / p, {x: 800.0, y: 1e-8, p: 800.0}),
    ("erfc", 1 + sp.erf(x), {x: -10.0}),
    ("erfc_minus", 1 - sp.erf(x), {x: 10.0}),
    # SymPy's erfc(−u) is 2 − erfc(u): a typed Φ(x) = erfc(−x/√2)/2 was 0 at x = −10
    ("erfc_reflection", sp.erfc(-x / sp.sqrt(2)) / 2, {x: -10.0}),
    ("erfc_reflection", x * sp.erfc(-x / sp.sqrt(2)) / 2, {x: -10.0}),
    ("erfc_reflection", 3 * sp.erfc(-x), {x: -6.0}),
    ("ndtr", (1 + sp.erf(x / sp.sqrt(2))) / 2, {x: -12.0}),
    ("gauss", sp.exp(-x**2 / 2), {x: 37.123456789}),
    ("gaussian", sp.exp(-x**2), {x: 20.123456789}),
    # e^{−x²y²} is gaussian(x·y): x²·y² rounded erred by its size in ULP
    ("gaussian", sp.exp(-x**2 * y**2), {x: 4.1, y: 4.3}),
    ("sigmoid_complement", 1 - 1 / (1 + sp.exp(-x)), {x: 40.0}),
    ("one_plus_tanh", 1 + sp.tanh(x), {x: -20.0}),
    ("one_minus_tanh", 1 - sp.tanh(x), {x: 20.0}),
    ("sech2", 1 - sp.tanh(x) ** 2, {x: 20.0}),
    ("probability_difference", 1 / (1 + sp.exp(-x)) - y, {x: 40.0, y: 1.0}),
    ("expm1", sp.exp(x) - 1, {x: 1e-10}),
    # e^{−x²} is gaussian(x) first (a child is rewritten before its parent), so 1 − e^{−x²} has a rule
    # of its own: 0 at x = 1e−9 as written, 1e−18
    ("gaussian_expm1", 1 - sp.exp(-x**2), {x: 1e-9}),
    ("log1p", sp.log(1 + x), {x: 1e-20}),
    # log(1 + σ(x)): sigmoid_polynomial took 1 + σ as 2σ(x) + σ(−x) (1 + 1 = 2 is no cancellation),
    # whose log near 1 erred by 4e8 ULP at x = −20; log(2 − σ(x)) is log1p(σ(−x))
    ("log_sigmoid_polynomial", sp.log(1 + 1 / (1 + sp.exp(-x))), {x: -40.0}),
    ("log_sigmoid_polynomial", sp.log(2 - 1 / (1 + sp.exp(-x))), {x: 40.0}),
    # log(1 − σ(x)²): log1p(−σ²) for x < 0, −softplus(x) + log1p(σ(x)) for x > 0, where log1p(−σ²)
    # would cancel (the two logs on both sides cancelled to 0 at x = −40, true −1.8e−35)
    ("log_sigmoid_polynomial", sp.log(1 - 1 / (1 + sp.exp(-x)) ** 2), {x: -40.0}),
    ("log_sigmoid_polynomial", sp.log(1 - 1 / (1 + sp.exp(-x)) ** 2), {x: 40.0}),
    # log(x² + 1) − 2·log|x|, which is log1p(1/x²): 0 at x = 1e10 (true 1e−20), inf past 1.3e154;
    # its derivative 2x/(x² + 1) − 2·sign(x)/|x| is −2/(x·(x² + 1)), 0 at 1e10 (true −2e−30)
    ("log_difference", sp.log(x**2 + 1) - 2 * sp.log(sp.Abs(x)), {x: 1e10}),
    ("log_difference", sp.log(x**2 + 1) - 2 * sp.log(sp.Abs(x)), {x: -1e200}),
    ("together", sp.diff(sp.log(x**2 + 1) - 2 * sp.log(sp.Abs(x)), x), {x: 1e10}),
    ("sign_product", sp.diff(sp.log(x**2 + 1) - 2 * sp.log(sp.Abs(x)), x), {x: -3e7}),
    ("xlogy", y * sp.log(x), {x: 0.0, y: 0.0}),
    ("linear_zero", x / 6 + sp.Rational(1, 2), {x: -2.9999}),
    ("log_ratio", p * sp.log(p) - p * sp.log(q), {q: 0.7000000001, p: 0.7}),
    ("cancel", y * (sp.exp(x) - 1) + y, {x: -40.0, y: 2.0}),
    ("one_minus_cos", 1 - sp.cos(x), {x: 1e-9}),
    ("one_minus_cos", (sp.cos(3 * x) - 1) / 2, {x: 2e-5}),
    ("cosh_minus_one", sp.cosh(x) - 1, {x: 1e-9}),
    ("difference_of_squares", 1 - x**2, {x: 0.9999999999}),
    ("difference_of_squares", sp.sqrt(1 - x**2), {x: -0.99999999}),
    ("difference_of_squares", x**2 - y**2, {x: 1e8 + 1.0, y: 1e8}),
    ("square_root_difference", sp.sqrt(1 + x**2) - 1, {x: 1e-9}),
    ("square_root_difference", sp.sqrt(x + 1) - sp.sqrt(x), {x: 1e12}),
    ("log_cosh", sp.log(sp.cosh(x)), {x: 1e-9}),
    ("log_cosh", sp.log(sp.cosh(x)), {x: -800.0}),
    # log(1 − tanh² x) = log sech² x: −1e−12 at x = 1e−6, which the log of a rounded 1 − 1e−12 misses
    ("log_sech2", sp.log(1 - sp.tanh(x) ** 2), {x: 1e-6}),
    ("log_sech2", sp.log(1 - sp.tanh(x) ** 2), {x: 400.0}),
    # log cos x: 0 at x = 1e−9 (true −5e−19) and 5e11 ULP at 1e−6; next to 2π the same
    ("log_cos", sp.log(sp.cos(x)), {x: 1e-9}),
    ("log_cos", sp.log(sp.cos(x)), {x: 6.283185307179586}),
    ("log_cos", sp.log(sp.cos(2 * x)), {x: 1e-6}),
    # log tanh² x: tanh x rounds to 1 past 19, and its log to 0 (−2e−17 at x = 20)
    ("log_tanh", sp.log(sp.tanh(x) ** 2), {x: -20.0}),
    ("log_tanh", sp.log(sp.tanh(x)), {x: 30.0}),
    ("hyperbolic_ratio", sp.sinh(x) / sp.cosh(x), {x: 800.0}),
    ("hyperbolic_ratio", 1 - sp.sinh(x) ** 2 / sp.cosh(x) ** 2, {x: 300.0}),
    ("hyperbolic_ratio", sp.sinh(x) ** 2 / sp.cosh(x), {x: 400.0}),
    ("sigmoid_minus_half", 2 / (1 + sp.exp(-2 * x)) - 1, {x: 1e-300}),
    # softplus(x)/x′ = σ(x)/x − softplus(x)/x²: 1.1e9 ULP at x = 19.95
    ("sigmoid_softplus_difference", sp.diff(sp.log(1 + sp.exp(x)) / x, x), {x: 19.953199531995324}),
    ("sigmoid_softplus_difference", sp.diff(sp.log(1 + sp.exp(x)) / x, x), {x: -35.5}),
    ("exponential_ratio", (sp.exp(x) - sp.exp(-x)) / (sp.exp(x) + sp.exp(-x)), {x: -800.0}),
    ("exponential_pair", sp.log(sp.exp(x) + sp.exp(-x)), {x: 800.0}),
    ("exponential_pair", (sp.exp(x) - sp.exp(-x)) / 2, {x: 1e-12}),
    ("together", -x * sp.sign(x) / (sp.Abs(x) + 1) ** 2 + 1 / (sp.Abs(x) + 1), {x: 725.8232582325822}),
    ("sign_product", -x * sp.sign(x) / (sp.Abs(x) + 1) ** 2 + 1 / (sp.Abs(x) + 1), {x: -731.4025910913954}),
    # ∂/∂x of x/(1 + |y·x|): (|xy| + 1 − xy·sign(xy))/(|xy| + 1)², the sign of a product
    # (619 ULP at y = 19.5, x = −19.7 from the rounding of |xy| + 1 before)
    ("sign_product", sp.diff(x / (1 + sp.Abs(y * x)), x), {x: -19.69558358176183, y: 19.517610282816577}),
    # e^x/(e^x + 2): inf/inf = NaN past 709.78; its derivative 2e^x/(e^x + 2)² past 354.9
    ("exponential_rational", sp.exp(x) / (sp.exp(x) + 2), {x: 800.0}),
    ("exponential_rational", sp.diff(sp.exp(x) / (sp.exp(x) + 2), x), {x: 400.0}),
    # σ(x) − e^x/(e^x + 2), the derivative of log(e^x + 1) − log(e^x + 2): 0 at x = 40 (true 4.2e−18)
    ("exponential_rational", sp.exp(x) / (sp.exp(x) + 1) - sp.exp(x) / (sp.exp(x) + 2), {x: 40.0}),
    ("exponential_rational", 1 / (sp.exp(x) + sp.exp(-x)), {x: -720.0}),  # 1/(2 cosh x): cosh overflows
    # log(x + √(x² + 1)): −inf at x = −1e15 (true −35.2); atanh typed: 0 at x = 1e−300
    ("inverse_hyperbolic", sp.log(x + sp.sqrt(x**2 + 1)), {x: -1e15}),
    ("inverse_hyperbolic", sp.log(p + sp.sqrt(p**2 - 1)), {p: 1 + 2.0**-40}),
    ("inverse_hyperbolic", sp.log((1 + x) / (1 - x)) / 2, {x: 1e-300}),
    ("inverse_hyperbolic", sp.log(1 + x) - sp.log(1 - x), {x: 1e-20}),
    # acosh(1 + x²): 1 + x² rounds to 1 and acosh to 0 at x = 1e−9 (true 1.4e−9)
    ("acosh_one_plus", sp.acosh(1 + x**2), {x: 1e-9}),
    ("acosh_one_plus", sp.acosh(1 + x**2), {x: 1e200}),
    # asinh′ typed: (x/√(x² + 1) + 1)/(x + √(x² + 1)), 0/0 at x = −1e9
    ("root_sum_cancels", sp.diff(sp.log(x + sp.sqrt(x**2 + 1)), x), {x: -1e9}),
    # log(1 − e^{−x}): 0 at x = 40 (true −4.2e−18); log(e^x − 1): inf at x = 800
    ("log_of_expm1", sp.log(1 - sp.exp(-x)), {x: 40.0}),
    ("log_of_expm1", sp.log(sp.exp(x) - 1), {x: 800.0}),
    # √(x² + 1) + x for x < −1, as √(x² + 1) − x for x > 1, and its derivative
    ("root_less", sp.sqrt(x**2 + 1) + x, {x: -750.0}),
    ("over_root_less_one", sp.diff(sp.sqrt(x**2 + 1) + x, x), {x: -1e5}),
    # x·log(x²): x² underflows to 0 (inf as written at x = −5e−324, where it is
    # 7.4e−321); log(x²) is inf past 1.3e154
    ("log_of_power", x * sp.log(x**2), {x: -5e-324}),
    ("log_of_power", sp.log(x**2), {x: 1e200}),
    # x·eˣ/(eˣ − 1)′ = −x/expm1(−x) − x/expm1(−x)² − 1/expm1(−x): x − x for x > 30,
    # NaN as typed past 354.9
    ("expm1_reciprocals", sp.diff(x * sp.exp(x) / (sp.exp(x) - 1), x), {x: 700.0}),
    # a two-class softmax typed out: 0/0 where both logits are below −745, inf/inf
    # past 709.78 (its derivative past 354.9); log(e^x + e^y) −inf at x = −1e300, y = −800
    ("exponential_shift", sp.exp(x) / (sp.exp(x) + sp.exp(y)), {x: -800.0, y: -900.0}),
    ("exponential_shift", sp.diff(sp.exp(x) / (sp.exp(x) + sp.exp(y)), x), {x: 800.0, y: 790.0}),
    ("exponential_shift", sp.exp(x) / (sp.exp(x) + sp.exp(y) + sp.exp(p)), {x: 1000.0, y: 990.0, p: 3.0}),
    ("log_of_two_exponentials", sp.log(sp.exp(x) + sp.exp(y)), {x: -1e300, y: -800.0}),
    # three terms: the largest separated by log1p in its branch (−inf at −1e300 as written)
    ("log_of_two_exponentials", sp.log(sp.exp(x) + sp.exp(y) + sp.exp(p)), {x: -1e300, y: -1e300, p: -1e300}),
    ("log_of_two_exponentials", sp.log(sp.exp(x) + sp.exp(y) + sp.exp(p)), {x: 800.0, y: 3.0, p: 790.0}),
    # a density's log typed out: the exponential underflows to 0 (−inf as written)
    ("log_of_exponential", sp.log(sp.exp(-(x - y)**2 / (2 * p**2)) / (p * sp.sqrt(2 * sp.pi))),
     {x: 2.5, y: 0.0, p: 1e-8}),
    ("log_of_exponential", sp.log(x * sp.exp(-x)), {x: 800.0}),
    # the log-odds typed out: 0 at x = 1e−300 (σ rounds to 1/2 on both sides), 3e7 ULP at 1e−8
    ("softplus_difference", sp.log(1 / (1 + sp.exp(-x))) - sp.log(1 - 1 / (1 + sp.exp(-x))), {x: 1e-300}),
    ("log_sigmoid", sp.log(x**2 / (1 + sp.exp(-x))), {x: -800.0}),  # log(x²·σ(x)): log 0 as written
    # √(x² + 1): x² overflows past 1.3e154
    ("hypot", sp.sqrt(x**2 + 1), {x: 1e200}),
    ("hypot", x / sp.sqrt(4 * x**2 + 3), {x: 1e160}),
]


#: where a rule's identity holds on the real domain of the expression only (the
#: complex logarithms of atanh's typed forms take other branches beyond ±1), the
#: proof substitutes a parametrisation of that domain
REAL_DOMAIN = {
    sp.exp(x * sp.log(x)): {x: sp.exp(y)},  # (b^a is exp(a·log b) for b > 0)
    sp.log((1 + x) / (1 - x)) / 2: {x: sp.tanh(y)},
    sp.log(1 + x) - sp.log(1 - x): {x: sp.tanh(y)},
}


def _naive(expr, point):
    """Naive lambdify: its value, and whether it raised a RuntimeWarning."""
    gauss = {"gauss": lambda v: np.exp(-v * v / 2) / np.sqrt(2 * np.pi)}  # (SciPy's ndtr, but no φ)
    f = sp.lambdify(list(point), expr, modules=[gauss, "scipy", "numpy"])
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn", under="ignore"):
        warnings.simplefilter("always")
        value = float(f(*[np.float64(v) for v in point.values()]))
    return value, bool(caught)


def _true(expr, point, rule):
    if rule == "xlogy":
        return mpmath.mpf(0)  # 0·log 0 = 0 by convention
    f = sp.lambdify(list(point), expand_primitives(expr), modules="mpmath")
    with mpmath.workdps(400):
        return +f(*[mpmath.mpf(v) for v in point.values()])


def test_every_rule_has_a_case():
    # exponential_of_exponential's case is in TYPED_OUT: where it mends inf·0 (x < −709.78)
    # the inner e^{−x} of e^{−x − e^{−x}} overflows, with a warning, to the right 0
    named = {c[0] for c in CASES} | {"logsumexp", "log_softmax", "softmax", "softmax_complement",
                                     "exponential_of_exponential"}
    assert {r.name for r in RULES} | {HYPOT.name} <= named


@pytest.mark.parametrize("rule, expr, point", CASES, ids=[c[0] for c in CASES])
def test_rule_removes_the_error(rule, expr, point):
    applied = []
    stable = stabilize(expr, applied)
    assert rule in applied
    true = _true(expr, point, rule)
    naive, warned = _naive(expr, point)
    naive_error = ulp_error(naive, true)
    assert naive_error > 100 or not np.isfinite(naive) or warned, (naive, true)
    f = compile_expression(expr, list(point))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = f(*point.values())
    assert ulp_error(float(value), true) <= 4, (float(value), true)
    # the rewrite is an identity, checked at 50 digits away from the hard point
    from derive.calculus import prove_equal

    prove_equal(stable, expr, assumptions=REAL_DOMAIN.get(expr))


def test_vector_rules_remove_the_error():
    z = np.array([[1000.0, 0.0, -5.0], [40.0, -0.5, 0.0]])
    with np.errstate(all="ignore"):
        naive_lse = np.log(np.sum(np.exp(z), axis=-1))
        naive_softmax = np.exp(z) / np.sum(np.exp(z), axis=-1, keepdims=True)
    assert not np.isfinite(naive_lse[0]) and np.isnan(naive_softmax[0]).any()
    lse = numeric.log_softmax(z)
    assert np.isfinite(lse).all()
    # log softmax of the dominant logit: −log1p(e^-40.5 + e^-40) ≈ −6.8e−18, not 0
    assert lse[1, 0] == pytest.approx(-6.825111364446570e-18, rel=1e-14)
    with np.errstate(all="ignore"):
        assert 1 - naive_softmax[1, 0] == 0.0
    grad = numeric.softmax_cross_entropy_grad(z[1:], np.array([[1.0, 0.0, 0.0]]))
    assert grad[0, 0] == pytest.approx(-6.825111364446570e-18, rel=1e-14)


def test_new_rules_leave_what_does_not_cancel():
    # a rewrite only where something cancels: two numbers, a sum of roots
    # whose difference is no shorter, and sums rather than differences stay
    for expr in (x**2 + 1, sp.sqrt(x) - sp.sqrt(y), sp.sqrt(x) + 1, 1 + sp.cos(x), x**2 - 2, sp.cos(x) - 2):
        applied = []
        assert stabilize(expr, applied) == expr and not set(applied) & {
            "one_minus_cos", "cosh_minus_one", "difference_of_squares", "square_root_difference"}, (expr, applied)


def test_sigmoid_polynomial_leaves_what_does_not_cancel():
    # silu′ = σ(x) + x·σ(x)·σ(−x): every term has the factor σ(x), and at either
    # end one term is the value; nothing to take out
    from derive.primitives import sigmoid

    for expr in (sigmoid(x) + x * sigmoid(x) * sigmoid(-x), sigmoid(x) * sigmoid(-x) + sigmoid(x) ** 2):
        applied = []
        stabilize(expr, applied)
        assert "sigmoid_polynomial" not in applied, (expr, applied)
    # σ(−x) − σ(x) is −tanh(x/2) (0 at x = 1e−300 as a difference)
    assert stabilize(sigmoid(-x) - sigmoid(x)) == -sp.tanh(x / 2)


def test_a_polynomial_in_sigmoid_is_taken_whole():
    # (1 − σ(x))² expanded, as a user may type it: sigmoid_minus_half took 1 − 2σ as −tanh(x/2)
    # and left −tanh(x/2) + σ², which cancels as x → ∞ (5e14 ULP in its log at random points);
    # the polynomial whole is σ(−x)², and its log −2·softplus(x)
    from derive.primitives import sigmoid

    expr = sp.log(sigmoid(x) ** 2 - 2 * sigmoid(x) + 1)
    applied = []
    stabilize(expr, applied)
    assert "sigmoid_minus_half" not in applied
    f = compile_expression(expr, [x])
    for point in (30.0, 2.5, -3.0):
        with mpmath.workdps(60):
            true = -2 * mpmath.log1p(mpmath.exp(mpmath.mpf(point)))
        assert ulp_error(float(f(point)), true) <= 2, point
    # where P(1/2) = 0 the pair is still tanh(u/2): 1 − 2σ(x) at 1e−300
    assert stabilize(1 - 2 * sigmoid(x)) == -sp.tanh(x / 2)


def test_user_expression_is_stabilized():
    assert stabilize(sp.log(1 + sp.exp(2 * x + 1))) == sp.Function("softplus")(2 * x + 1) or \
        "softplus" in str(stabilize(sp.log(1 + sp.exp(2 * x + 1))))
    f = compile_expression(sp.log(1 + sp.exp(x)), [x])
    assert float(f(1000.0)) == 1000.0


@pytest.mark.parametrize("text", ["x*exp(x)", "x*exp(-x**2)", "x**2/(1 + exp(-x))"])
def test_user_expression_subnormal_tail_is_refined(text, monkeypatch):
    # a user's x·e^x near x = −713: e^x is subnormal, x·e^x is not (44 ULP from
    # the subnormal's few digits); the derivation finds the window and the
    # compiled function computes it again in np.longdouble
    from derive.codegen import _expression_tails
    from derive.parsing import parse_expression

    if not np.finfo(np.longdouble).tiny < np.finfo(np.float64).tiny:
        pytest.skip("np.longdouble is a double here: no wider type to refine the tail with")
    expr = parse_expression(text)
    (v,) = expr.free_symbols
    tails = _expression_tails(expr, [v], [])
    assert tails
    xs = np.concatenate([np.linspace(low - 2, high + 2, 60) for low, high in tails])
    f, g = compile_expression(expr, [v], derivative=True)
    with mpmath.workdps(400):
        exact_f = [expr.subs(v, sp.Float(float(p), 400)).evalf(400) for p in xs]
        exact_g = [sp.diff(expr, v).subs(v, sp.Float(float(p), 400)).evalf(400) for p in xs]
    def worst(fn, exact):
        return max(ulp_error(float(a), mpmath.mpf(str(e))) for a, e in zip(fn(xs), exact))

    assert worst(f, exact_f) <= 4.0 and worst(g, exact_g) <= 4.0, text
    for fn in (f, g):  # the compiled module carries its own helper: switch it off there
        monkeypatch.setitem(fn.__globals__, "_WIDE", False)
    assert max(worst(f, exact_f), worst(g, exact_g)) > 10, text  # what the refinement removes


def test_user_expression_sigmoid_of_polynomial_as_rational_function():
    # σ(√2x³)′ = 3√2x²σσ(−): a rational function of P = e^t with t in
    # double-double (6 ULP on [−3, 3] as a product of compensated σ's)
    x = sp.Symbol("x", real=True)
    expr = 1 / (1 + sp.exp(-sp.sqrt(2) * x**3))
    f, g = compile_expression(expr, [x], derivative=True)
    xs = np.linspace(-3.0, 3.0, 1201)
    with mpmath.workdps(60):
        exact = [sp.diff(expr, x).subs(x, sp.Float(float(v), 60)).evalf(60) for v in xs]
    assert max(ulp_error(float(a), mpmath.mpf(str(e))) for a, e in zip(g(xs), exact)) <= 4.0
    # x·σ(t) is x beyond the clip point (no overflow of x·P), and sech²(t/2),
    # which keeps falling beyond any clip point, is not clipped
    h = compile_expression(x * expr, [x])
    assert np.array_equal(h(np.array([8.0, 1e3, 1e300])), [8.0, 1e3, 1e300])
    u = sp.Rational(4, 5) * x + sp.Rational(3, 100) * x**3
    _, dtanh = compile_expression(sp.tanh(u), [x], derivative=True)
    for v in (17.0, 22.0):  # u′·sech²(u): 5.9e−140·17 and 7.1e−293·44, not a clipped constant
        exact = (sp.diff(u, x) * sp.sech(u) ** 2).subs(x, sp.Float(v, 60)).evalf(60)
        assert ulp_error(float(dtanh(v)), mpmath.mpf(str(exact))) <= 4.0


# expressions typed out by hand, and the points of float64 where their code had
# returned NaN, inf or wrong digits before the exponential_ratio,
# sigmoid_polynomial, softplus_less_argument, tanh_half, log_difference and
# exp_over_expm1 rules (2026-12-06): (text, derivative?, points)
TYPED_OUT = [
    ("exp(x)/(1 + exp(x))", True, [40.0, 800.0, -800.0, 1e300]),
    ("exp(x)/(exp(x) + exp(2*x))", True, [-1e6, 1e6, 800.0]),
    ("(exp(x) - exp(-x))/(exp(x) + exp(-x))", True, [20.0, 1e4, -1e4, 1e-300]),
    ("exp(x)/(exp(x) + 1)^2", True, [1e-8, 1e-300, 40.0, -800.0]),
    ("(1 - exp(-x))/(1 + exp(-x))", False, [-1e6, 1e-300, 800.0]),
    ("log(1 + exp(x)) - x", False, [40.0, 800.0]),
    ("log(exp(x) + 1) - log(exp(x) + 2)", False, [40.0, 200.0]),
    ("x/(exp(x) - 1)", True, [1e6, 1e300, 700.0]),
    ("log(exp(x) + exp(2*x))", True, [-1e6, 1e4, -800.0, 1e300]),
    ("sqrt(x^2 + 1) - x", True, [750.0, 1e5, -3.0, 1e100]),
    ("exp(-exp(-x))", True, [-710.0, -745.5, 30.0, -1e6]),  # the Gumbel density: inf·0 = NaN below −709.78
    ("exp(x)*(1 - exp(-x))", False, [-800.0, 1e-300]),
    ("log(cosh(x)) - abs(x)", True, [1e300, -1e15, 40.0, -30.0]),
    # and before exponential_rational, inverse_hyperbolic, root_sum_cancels,
    # log_of_expm1, root_less on sums and hypot (2026-12-07)
    ("exp(x)/(exp(x) + 2)", True, [800.0, 400.0, -800.0, 1e300]),
    ("1/(exp(x) + exp(-x))", True, [-720.0, 800.0, 1e-8]),
    ("log(x + sqrt(x^2 + 1))", True, [-1e15, -1e6, -1e60, 1e-300, 1e200]),
    ("log((1 + x)/(1 - x))/2", True, [1e-300, 1e-8, -0.5, 0.999]),
    ("log(1 - exp(-x))", True, [40.0, 100.0, 1e-8, 800.0]),
    ("log(exp(x) - 1)", True, [800.0, 1e300, 1e-8, 30.0]),
    ("sqrt(x^2 + 1) + x", True, [-750.0, -1e5, -1e100, 3.0]),
    ("x*exp(x)/(exp(x) - 1)", True, [30.0, 35.0, -40.0, 800.0]),  # 5.07 ULP at x = 30 before
    ("x*log(x^2)", True, [-5e-324, 1e-300, 1e200]),
    # and before the normal tail's rules (erfcx; 2026-12-06, a later round)
    ("log(ndtr(x))", True, [-40.0, -20.0, 12.0, 37.0, -1e-8]),
    ("log(1 + erf(x))", True, [-30.0, -1e-8, 1e-300, 5.0]),
    ("log(erfc(x))", True, [30.0, 1e4, -5.0, 1e-8]),
    ("exp(x^2)*erfc(x)", False, [30.0, 1e6, 1e100, -3.0, 0.5]),
    ("log(1 - ndtr(x))", True, [12.0, 40.0, -1e-8]),
    ("ndtr(x)*(1 - ndtr(x))", True, [12.0, 30.0, 1e-17, -12.0]),
]


@pytest.mark.parametrize("text, derivative, points", TYPED_OUT, ids=[t[0] for t in TYPED_OUT])
def test_typed_out_expressions_keep_their_digits_in_the_tails(text, derivative, points):
    from derive.parsing import parse_expression
    from derive.verify import _mp_function, reference

    expr = parse_expression(text)
    v, = expr.free_symbols
    functions = compile_expression(expr, [v], derivative=derivative)
    pairs = [(functions[0], expr), (functions[1], sp.diff(expr, v))] if derivative else [(functions, expr)]
    for fn, e in pairs:
        truth = _mp_function(expand_primitives(e), [v])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e^x past 709 may warn; the values are what is tested
            values = np.asarray(fn(np.array(points)), dtype=np.float64)
        for point, value in zip(points, values):
            true = reference(truth, [point])
            assert ulp_error(float(value), true) <= 4, (text, e, point, float(value), true)


def test_exponentials_of_high_degree_skip_the_rational_rules():
    # x·σ(1.702x) typed out (the "quick GELU"): SymPy's polynomials take
    # e^{1.702x} = e^{851x/500} as (e^{x/500})^851, and factoring 1 + t^851
    # for exponential_ratio ran for more than 15 minutes; past
    # MOST_EXPONENTIAL_DEGREE the rational-function rules are not tried, the
    # pattern rules still are, and the code keeps its digits
    import importlib

    rules = importlib.import_module("derive.stabilize")
    expr = x / (1 + sp.exp(-sp.Rational(1702, 1000) * x))
    assert rules.exponential_degree(expr) == 851 > rules.MOST_EXPONENTIAL_DEGREE
    assert not rules._has_exponential_denominator(expr)
    assert rules._has_exponential_denominator(x / (1 + sp.exp(-2 * x)))  # a low degree still is
    f, g = compile_expression(expr, [x], derivative=True)
    points = np.array([-800.0, -40.0, -3.0, -0.5, -1e-8, 0.0, 1e-8, 0.5, 3.0, 40.0, 800.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values, slopes = f(points), g(points)
    with mpmath.workdps(60):
        for v, got, slope in zip(points, values, slopes):
            k, t = mpmath.mpf("1.702"), mpmath.mpf(float(v))
            s = 1 / (1 + mpmath.exp(-k * t))
            assert ulp_error(float(got), t * s) <= 4, (v, got)
            assert ulp_error(float(slope), s + k * t * s * (1 - s)) <= 4, (v, slope)


def test_the_derivative_of_log_ndtr_is_its_kernel_member():
    # (log Φ)′ = φ/Φ is the primitive normal_ratio, the kernel member gauss_over_ndtr:
    # φ over Φ of the kernel's members erred by 4.24 ULP at x = −31.76 (the certificate
    # of `nnderive diff "log(ndtr(x))" --verify --domain=-40,40` failed), and
    # √(2/π)/erfcx(−x/√2) below −37 by 4.4
    from derive.primitives import normal_ratio

    x = sp.Symbol("x", real=True)
    assert stabilize(sp.diff(sp.log(ndtr(x)), x)) == normal_ratio(x)
    _, slope = compile_expression(sp.log(ndtr(x)), [x], derivative=True)
    points = np.array([-31.76, -31.3112, -29.0368, -40.0, -1e3, -1e300, -1.4467, 0.0, 3.0, 20.0])
    values = slope(points)
    for point, value in zip(points, values):
        with mpmath.workdps(60 + 2 * len(str(int(abs(point))))):
            true = mpmath.npdf(point) / mpmath.ncdf(point)
        assert ulp_error(float(value), true) <= 3.0, (point, float(value))



def test_the_second_derivative_of_log_ndtr_is_its_fitted_member():
    # (log Φ)″ = −λ(x + λ) cancels for x < 0; the kernel member gauss_over_ndtr_slope
    # takes a polynomial fitted by derive.fits there: within 2 ULP at these points,
    # where −λ(x + λ) of the member λ erred by 4.5e3 (x = −38.7)
    from derive.primitives import normal_ratio_slope

    x = sp.Symbol("x", real=True)
    assert stabilize(sp.diff(sp.log(ndtr(x)), x, 2)) == normal_ratio_slope(x)
    assert stabilize(sp.diff(sp.log(ndtr(2 * x)), x, 2)) == 4 * normal_ratio_slope(2 * x)
    f = compile_expression(sp.diff(sp.log(ndtr(x)), x), [x], derivative=True)[1]
    points = np.array([-38.72, -34.08, -5.0, -1.0, -1e-3, -1e4, 0.0, 2.0, 30.0])
    assert float(f(-1e300)) == -1.0  # −1 + O(1e−600) (mpmath's Φ(−1e300) is no reference)
    for point, value in zip(points, f(points)):
        with mpmath.workdps(60 + 3 * len(str(int(abs(point))))):
            v = mpmath.mpf(point)
            ratio = mpmath.npdf(v) / mpmath.ncdf(v)
            true = -ratio * (v + ratio)
        assert ulp_error(float(value), true) <= 2.0, (point, float(value))


def test_root_less_keeps_a_square_of_a_difference_whole():
    # √((y − w·x)² + d²) − d (the pseudo-Huber loss) → (y − w·x)²/(√(…) + d), the square
    # kept as A held it: written out, w²x² − 2wxy + y² cancelled where y ≈ w·x (9e4 ULP at
    # random points; here it is 0 − rounding, against a truth of 2e−34), and naive float64
    # gives 0, √(d² + r²) − d having rounded r²/(2d) away
    w, d = sp.symbols("w d", real=True)
    expr = sp.sqrt((y - w * x) ** 2 + d**2) - d
    applied = []
    stable = stabilize(expr, applied)
    assert "root_less" in applied and not stable.has(w**2 * x**2)
    point = {d: 1000.0, w: 3.0, x: 1.1, y: 3.3}
    true = _true(expr, point, "root_less")
    assert _naive(expr, point)[0] == 0 != true
    f = compile_expression(expr, list(point))
    assert ulp_error(float(f(*point.values())), true) <= 2


def test_the_rules_in_the_branches_a_rule_writes_are_listed():
    # log_sigmoid_polynomial rewrites its two branches itself (a Piecewise a rule writes is
    # settled); their rules were missing from the applied list: log σ(−x) = −softplus(x)
    from derive.primitives import sigmoid

    applied = []
    stable = stabilize(sp.log(1 - sigmoid(x) ** 2), applied)
    assert "log_sigmoid_polynomial" in applied and "log_sigmoid" in applied
    assert stable.has(sp.Piecewise)
    assert stabilize(sp.log(1 - sigmoid(x) ** 2)) == stable  # and with no list
