"""Accuracy of the code for a user's own expressions, before and after the measured stages.

For each expression, the certificate of ``nnderive diff EXPR --verify`` (the
default grid on [−20, 20] and its dense screen, against mpmath) of three
versions of the generated code:

* plain: the stabilize rules only (``removable=False, refine=False``);
* patched: with the Taylor polynomials at removable singular points
  (derive/singular.py);
* refined: and with the stretches computed again in np.longdouble where the
  double code was measured to err (derive/refine.py): what ships.

A second table, ``--tails``, measures expressions typed out by hand
(σ as e^x/(1 + e^x), tanh from exponentials, eˣ − 1 − x, …) at the points
of the float64 range the certificates' grid holds (±0, ±5e−324, ±1e−300,
±1e−8, ±1, ±20, ±37, ±40, ±100, ±709.78, ±710, ±745, ±750, ±1e4, ±1e300),
the generated code beside naive ``sympy.lambdify`` of the same expression
and of SymPy's derivative: the worst ULP against mpmath where both are
finite, and the count of NaN/inf results where the truth is finite.

A third, ``--several``, does the same for expressions of several variables
(σ(w·x + b) typed out, a two-class softmax, log(e^a + e^b), a Gaussian
log-density, a linear model's squared residual) at 250 points (all 144 for two variables) of a grid of their
values, f and every partial derivative.

A fourth, ``--random``, measures expressions of two or three variables (a
neuron's pieces, densities, distances, logarithms of sums and quotients) on
100,000 random points whose coordinates have random signs and magnitudes
from 1e−6 to 20: f and every partial derivative against np.longdouble, the
eight worst of each confirmed against mpmath, for the generated code and
for naive ``sympy.lambdify``.  The certificates' grids hold a few thousand
points; this is where cancellations along a curve (x·y = 1, x² + y² = 1)
show.

Usage::

    python benchmarks/user_expressions.py            # the table (about 3 minutes)
    python benchmarks/user_expressions.py --json results.json
    python benchmarks/user_expressions.py --tails    # the second table (about 2 minutes)
    python benchmarks/user_expressions.py --several  # the third table (several variables)
    python benchmarks/user_expressions.py --random   # the fourth (random points, a few seconds)
    python benchmarks/user_expressions.py --random --wide  # the same over ±1e−300 to ±1e300
    python benchmarks/user_expressions.py --speed    # f and f′ timed beside lambdify (about a minute)

A fifth, ``--speed``, times the generated code of expressions of one
variable (f and f′ on 1e6 points) beside naive lambdify: what the measured
stages cost.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derive import codegen
from derive.parsing import parse_expression
from derive.verify import verify_expression

EXPRESSIONS = [
    "sin(x)/x", "(1 - cos(x))/x^2", "x/(exp(x) - 1)", "log(1 + x)/x", "tanh(x)/x", "atan(x)/x",
    "(x - sin(x))/x^3", "(exp(x) - 1 - x)/x^2", "sin(x - 1)/(x - 1)",
    "sigmoid(x)^2", "x*sigmoid(x)", "x/(1 + x^2)", "x*exp(x)", "erfc(x)",
    "tanh(x)", "softplus(x)", "sin(x)",
]

VERSIONS = {"plain": (False, False), "patched": (True, False), "refined": (True, True)}

TYPED_OUT = [
    "exp(x)/(1 + exp(x))", "exp(x)/(exp(x) + 1)^2", "exp(x)/(exp(x) + exp(2*x))",
    "(exp(x) - exp(-x))/(exp(x) + exp(-x))", "(1 - exp(-x))/(1 + exp(-x))", "log(1 + exp(x)) - x",
    "log(exp(x) + 1) - log(exp(x) + 2)", "x*exp(x)/(1 + exp(x))", "x/(exp(x) - 1)",
    "exp(x) - 1 - x", "x - sin(x)", "log(1 + x) - x", "sinh(x) - x", "cosh(x) - x^2/2",
    "log(exp(x) + exp(2*x))", "sqrt(x^2 + 1) - x", "exp(-exp(-x))", "exp(x)*(1 - exp(-x))",
    "log(cosh(x)) - abs(x)", "exp(x)/(exp(x) + 2)", "1/(exp(x) + exp(-x))", "log(x + sqrt(x^2 + 1))",
    "log((1 + x)/(1 - x))/2", "log(1 - exp(-x))", "log(exp(x) - 1)", "sqrt(x^2 + 1) + x",
    "log(ndtr(x))", "log(1 - ndtr(x))", "log(1 + erf(x))", "exp(x^2)*erfc(x)", "ndtr(x)*(1 - ndtr(x))",
    "x*erfc(-x/sqrt(2))/2", "log((1 + erf(x))/2)", "x/(1 + exp(-1.702*x))",
]


#: expressions of several variables typed out by hand (``--several``): a neuron's
#: activation of w·x + b, a two-class softmax and log-sum-exp, a Gaussian log-density,
#: a linear model's squared residual, a Gaussian density, a logistic loss of the margin,
#: a log-sum-exp of three
SEVERAL = [
    "exp(w*x + b)/(1 + exp(w*x + b))", "log(1 + exp(w*x + b))", "tanh(w*x + b)",
    "exp(a)/(exp(a) + exp(b))", "log(exp(a) + exp(b))", "log(exp(-(x - m)^2/(2*s^2))/(s*sqrt(2*pi)))",
    "(y - w*x - b)^2", "exp(-(x - m)^2/(2*s^2))/(s*sqrt(2*pi))", "log(1 + exp(-y*(w*x + b)))",
    "log(exp(x) + exp(y) + exp(z))",
]

#: expressions of two to four variables measured on random points (``--random``), then
#: expressions of one variable whose errors the certificates' grids and the refine stage's
#: probes had missed (powers of 1 + x², log(1 + σ), σ³ near 0) and a radial basis function
RANDOM = [
    "(x + y)/(1 + x*y)", "x*y/(x^2 + y^2)", "log(x^2 + y^2)", "log(x*y)", "log(1 + x*y)", "sqrt(x^2 + y^2)",
    "1/sqrt(x^2 + y^2)", "(x + y)^2/(x - y)", "(x - y)^2/(x^2 + y^2)", "x*exp(-x*y)", "x*y*exp(-(x^2 + y^2)/2)",
    "exp(-abs(x - y))", "x*log(x/y)", "tanh(x*y)", "x*sigmoid(x*y)", "log(1 + exp(x - y))", "1 - exp(-x*y)",
    "sin(x)*cos(y)", "(a - b)*(c - d)", "exp(x)/(exp(x) + exp(y) + exp(z))", "(sigmoid(w*x + b) - y)^2",
    "exp(-(x - m)^2/2)", "(x - y)^2/(2*s^2) + log(s)",
    "(1 + x^2)^(-3/2)", "1/sqrt(1 + x^2)", "x/sqrt(1 + x^2)", "x/(1 + x^2)", "log(1 + sigmoid(x))",
    "log(2 - sigmoid(x))", "log(1 - tanh(x)^2)", "sigmoid(x)^3", "x*sigmoid(x)^2", "sigmoid(sigmoid(x))",
    "log(cos(x))", "log(exp(x) - x)", "log(tanh(x)^2)", "log(1 - sigmoid(x)^2)", "log(x^2 + 1) - 2*log(abs(x))",
    "acosh(1 + x^2)", "atanh(x)", "(1 + x/y)^y", "(x*y + 1)^z", "sqrt((y - w*x)^2 + d^2) - d",
    "y*log(y/p) + (1 - y)*log((1 - y)/(1 - p))", "(1 - sigmoid(x))^g*log(sigmoid(x))",
    "max(0, 1 - y*(w*x + b))^2", "sin(x*y)/(x*y)", "(1 - cos(w*x))/(w*x)^2", "exp(x*log(y))",
    "exp(-x*log(1 + y^2))",
]

#: each variable's values in the --several grid (its points: up to 250 of their combinations, drawn once)
SEVERAL_VALUES = (-1e300, -800.0, -40.0, -3.0, -1e-8, 0.0, 1e-8, 0.5, 3.0, 40.0, 800.0, 1e300)


def tails(text: str) -> dict:
    """Worst ULP and NaN/inf count of f and its derivatives at the grid's special points: lambdify and nnderive.

    One variable: ±0 and the certificate grid's special points.  Several: 250
    points of SEVERAL_VALUES for each variable, and every partial derivative.
    """
    import itertools

    import numpy as np
    import sympy as sp

    from derive import primitives
    from derive.codegen import compile_expression
    from derive.verify import SPECIAL_POINTS, _mp_function, reference
    from numeric.accuracy import ulp_error

    expr = parse_expression(text)
    variables = sorted(expr.free_symbols, key=lambda s: s.name)
    if len(variables) == 1:
        points = np.array(sorted({s * v for v in (0.0, *SPECIAL_POINTS) for s in (1, -1)}))[:, None]
    else:
        grid = np.array(list(itertools.product(SEVERAL_VALUES, repeat=len(variables))))
        points = grid[np.random.default_rng(20261207).choice(len(grid), min(250, len(grid)), replace=False)]
    columns = [points[:, i] for i in range(len(variables))]
    plain = primitives.expand_primitives(expr)
    exprs = [plain] + [sp.diff(plain, v) for v in variables]
    naive = [sp.lambdify(variables, e, modules=["scipy", "numpy"]) for e in exprs]  # SciPy: a vectorised erf
    start = time.perf_counter()
    f, g = compile_expression(expr, variables, derivative=True)
    seconds = time.perf_counter() - start
    generated = [f] + ([g] if len(variables) == 1 else [lambda *c, i=i: g(*c)[i] for i in range(len(variables))])
    truths = [[reference(_mp_function(e, variables), list(p)) for p in points] for e in exprs]
    result = {"seconds": seconds, "points": len(points)}
    for name, functions in (("lambdify", naive), ("nnderive", generated)):
        worst, nonfinite = 0.0, 0
        for fn, truth in zip(functions, truths):
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                values = np.broadcast_to(np.asarray(fn(*columns), dtype=np.float64), points.shape[:1])
            for value, true in zip(values, truth):
                if np.isnan(float(true)):
                    continue  # outside the domain (log x at x < 0)
                error = ulp_error(float(value), true)
                if not np.isfinite(error):
                    nonfinite += 1
                else:
                    worst = max(worst, error)
        result[name] = {"max_ulp": worst, "nonfinite": nonfinite}
    return result


#: expressions whose code --speed times: removable points (Taylor patches), sums rounded once,
#: stretches computed again in long double, and plain rewrites
SPEED = ["sin(x)/x", "(exp(x) - 1 - x)/x^2", "x/(exp(x) - 1)", "x/(1 + x^2)", "(1 + x^2)^(-3/2)",
         "sigmoid(x)*(1 - sigmoid(x))", "sigmoid(x)^2", "x*sigmoid(x)", "log(cosh(x))", "exp(x)/(1 + exp(x))",
         "log(1 + exp(x))", "tanh(x)"]


def speed(text: str, count: int = 1_000_000, runs: int = 5) -> dict:
    """Median milliseconds of f and f′ together on ``count`` points x ~ N(0, 3²): nnderive's code and lambdify's.

    The generated code pays for what it measured it needs: double-double
    sums, Taylor patches, stretches computed again in np.longdouble.
    """
    import numpy as np
    import sympy as sp

    from derive import primitives
    from derive.codegen import compile_expression

    expr = parse_expression(text)
    variables = sorted(expr.free_symbols, key=lambda s: s.name)
    if len(variables) != 1:
        raise SystemExit(f"--speed: {text!r} has {len(variables)} variables; one is timed")
    f, g = compile_expression(expr, variables, derivative=True)
    plain = primitives.expand_primitives(expr)
    modules = [_error_functions(long=False), "numpy"]
    naive_f = sp.lambdify(variables, plain, modules=modules)
    naive_g = sp.lambdify(variables, sp.diff(plain, variables[0]), modules=modules)
    x = np.random.default_rng(0).normal(0.0, 3.0, count)

    def median_ms(first, second):
        times = []
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            first(x), second(x)  # warm: scratch rows, caches
            for _ in range(runs):
                start = time.perf_counter()
                first(x), second(x)
                times.append(time.perf_counter() - start)
        return 1e3 * float(np.median(times))

    return {"points": count, "nnderive_ms": median_ms(f, g), "lambdify_ms": median_ms(naive_f, naive_g)}


def _error_functions(long: bool) -> dict:
    """erf and erfc for lambdify on arrays (NumPy has neither; lambdify's math.erf takes one number).

    ``long``: each element through mpmath at 30 digits, its np.longdouble
    argument carried whole (hi + lo), returned as np.longdouble, for the
    screen; else SciPy's (float64), as a user's lambdify would call them, or
    math's element by element where SciPy is not installed.
    """
    import math

    import mpmath
    import numpy as np

    if long:
        def through_mpmath(function):
            def apply(v):
                hi = float(v)
                with mpmath.workdps(30):
                    value = function(mpmath.mpf(hi) + mpmath.mpf(float(np.longdouble(v) - np.longdouble(hi))))
                    hi_out = float(value)
                    return np.longdouble(hi_out) + np.longdouble(float(value - hi_out))
            return lambda u: np.vectorize(apply, otypes=[np.longdouble])(np.asarray(u, dtype=np.longdouble))
        return {"erf": through_mpmath(mpmath.erf), "erfc": through_mpmath(mpmath.erfc)}
    try:
        from scipy import special
        return {"erf": special.erf, "erfc": special.erfc}
    except ImportError:
        return {"erf": np.vectorize(math.erf, otypes=[float]), "erfc": np.vectorize(math.erfc, otypes=[float])}


def random_points(text: str, count: int = 100_000, wide: bool = False) -> dict:
    """Worst errors of f and of each partial derivative at ``count`` random points: lambdify and nnderive.

    Each coordinate is ±10^u, u uniform in [−6, 1.3] (``wide``: [−300, 300]).
    Each output is judged as the certificates judge a row loss's: in ULP
    where it keeps at least half of its scale (the sum of the magnitudes of
    its terms, ``derive.verify.CANCELLED``), elsewhere by absolute error in
    units of eps·scale (next to an interior zero relative error is a
    condition of the problem: the certificates' bound there is 8).  Both
    are screened against the same formulas in np.longdouble, and the eight
    worst points of each measured against mpmath; points where the truth is
    not a real number are left out.  Returns, per implementation, the worst
    ULP and the worst absolute error of each output (0 where no point is so).
    """
    import mpmath
    import numpy as np
    import sympy as sp

    from derive import primitives
    from derive.codegen import compile_expression
    from derive.verify import CANCELLED, _mp_function, reference
    from numeric.accuracy import ulp_error

    expr = parse_expression(text)
    variables = sorted(expr.free_symbols, key=lambda s: s.name)
    plain = primitives.expand_primitives(expr)
    exprs = [plain] + [sp.diff(plain, v) for v in variables]
    scales = [sp.Add(*[sp.Abs(t) for t in sp.Add.make_args(sp.expand(e))]) for e in exprs]
    rng = np.random.default_rng(4)
    low, high = (-300, 300) if wide else (-6, 1.3)
    columns = [rng.choice([-1.0, 1.0], count) * 10 ** rng.uniform(low, high, count) for _ in variables]
    long = [c.astype(np.longdouble) for c in columns]
    f, g = compile_expression(expr, variables, derivative=True)
    generated = [f] + ([g] if len(variables) == 1 else [lambda *c, i=i: g(*c)[i] for i in range(len(variables))])
    modules = [_error_functions(long=False), "numpy"]
    naive = [sp.lambdify(variables, e, modules=modules) for e in exprs]
    eps = float(np.finfo(np.float64).eps)
    screens = []
    screen_modules = [_error_functions(long=True), "numpy"]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for e, scale in zip(exprs, scales):
            close = np.broadcast_to(np.asarray(sp.lambdify(variables, e, screen_modules)(*long), dtype=np.longdouble),
                                    (count,))
            size = np.broadcast_to(np.asarray(sp.lambdify(variables, scale, screen_modules)(*long),
                                              dtype=np.longdouble), (count,))
            screens.append((close, size, np.abs(close) < CANCELLED * size, _mp_function(e, variables),
                            _mp_function(scale, variables)))
    result = {"points": count}
    for name, functions in (("lambdify", naive), ("nnderive", generated)):
        worst_ulp, worst_abs = [], []
        for fn, (close, size, cancelled, truth, truth_scale) in zip(functions, screens):
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                values = np.broadcast_to(np.asarray(fn(*columns), dtype=np.float64), (count,))
                ulps = np.abs((values - close) / np.spacing(np.abs(close).astype(np.float64))).astype(float)
                absolute = np.abs((values - close) / (eps * np.maximum(size, np.finfo(np.float64).tiny))).astype(float)
            for spread in (ulps, absolute):
                spread[~np.isfinite(spread) & ~np.isfinite(values) & np.isfinite(close)] = np.inf
                spread[np.isnan(spread)] = 0.0
            ulps[cancelled], absolute[~cancelled] = -1.0, -1.0
            found = {"ulp": [0.0], "abs": [0.0]}
            picks = [i for spread in (ulps, absolute) for i in np.argsort(spread)[-8:] if spread[i] >= 0]
            for i in picks:
                point = [float(c[i]) for c in columns]
                true = reference(truth, point)
                if np.isnan(float(true)):
                    continue
                scale = float(reference(truth_scale, point))
                if abs(float(true)) >= CANCELLED * scale:
                    found["ulp"].append(ulp_error(float(values[i]), true))
                else:
                    # a scale below float64's normal numbers counts as the smallest normal
                    # number (eps of it is the smallest subnormal), as the certificates count
                    # a subnormal truth: at a truth of −2.3e−1389, −0 is exact to float64
                    unit = mpmath.mpf(eps) * max(scale, float(np.finfo(np.float64).tiny))
                    error = abs(float(values[i]) - true) / unit if np.isfinite(values[i]) else np.inf
                    found["abs"].append(float(error))
            worst_ulp.append(max(found["ulp"]))
            worst_abs.append(max(found["abs"]))
        result[name] = {"ulp": worst_ulp, "abs": worst_abs}
    return result


def _random_cell(ulp: float, absolute: float) -> str:
    """One output of the --random table: its worst ULP, and |its worst absolute error where it cancels."""
    return f"{ulp:.3g}" + (f"|{absolute:.2g}" if absolute else "")


def _tail_cell(result: dict) -> str:
    text = f"{result['max_ulp']:.3g}"
    return f"{text:>9s} {result['nonfinite']:>3d}"


def certify(text: str, version: str) -> dict:
    """The certificate of one version of the code of ``text`` (a dict)."""
    removable, refine = VERSIONS[version]
    expr = parse_expression(text)
    variable, = expr.free_symbols
    real = codegen.expression_source

    def source(*args, **kwargs):  # the version's stages only
        kwargs.setdefault("removable", removable)
        kwargs.setdefault("refine", refine)
        return real(*args, **kwargs)

    codegen._SOURCES.clear()
    codegen.expression_source = source
    try:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cert = verify_expression(expr, variable)
        seconds = time.perf_counter() - start
    finally:
        codegen.expression_source = real
    return {"f_ulp": cert.forward.max_ulp, "df_ulp": cert.derivative.max_ulp,
            "nonfinite": cert.forward.nonfinite + cert.derivative.nonfinite,
            "passed": cert.passed, "seconds": seconds}


def _cell(result: dict) -> str:
    worst = max(result["f_ulp"], result["df_ulp"])
    text = "NaN/inf" if result["nonfinite"] else f"{worst:.3g}"
    return f"{text:>9s} {'ok' if result['passed'] else 'EXC':>3s}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the results as JSON to FILE")
    parser.add_argument("--only", nargs="+", metavar="EXPR", help="these expressions only")
    parser.add_argument("--tails", action="store_true",
                        help="the second table: typed-out expressions at the grid's special points")
    parser.add_argument("--several", action="store_true",
                        help="the third table: typed-out expressions of several variables on a grid of their values")
    parser.add_argument("--random", action="store_true",
                        help="the fourth table: expressions of several variables (and some of one) at 100,000 random points")
    parser.add_argument("--wide", action="store_true",
                        help="with --random: coordinates over the whole float64 range, ±1e−300 to ±1e300")
    parser.add_argument("--speed", action="store_true",
                        help="time f and f′ of expressions of one variable on 1e6 points beside lambdify")
    args = parser.parse_args(argv)
    if args.json and args.json.exists():
        parser.error(f"{args.json} exists; not overwritten")
    if args.random:
        texts = args.only or RANDOM
        print("f, then each partial derivative, at 100,000 random points (coordinates "
              f"{'±1e−300 to ±1e300' if args.wide else '±1e−6 to ±20'}): the worst ULP against mpmath where the "
              "output keeps at least half of Σ|terms|, and after '|' the worst absolute error in units of "
              "eps·Σ|terms| where it does not (next to an interior zero; bound 8); the eight worst of each "
              "screen in np.longdouble confirmed\n")
        width = max(len(t) for t in texts)
        print(f"{'expression':{width}s}  {'lambdify':60s} nnderive")
        results = {}
        for text in texts:
            results[text] = random_points(text, wide=args.wide)
            cells = [" ".join(_random_cell(u, a) for u, a in zip(results[text][k]["ulp"], results[text][k]["abs"]))
                     for k in ("lambdify", "nnderive")]
            print(f"{text:{width}s}  {cells[0]:60s} {cells[1]}", flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    if args.speed:
        texts = args.only or SPEED
        print("f and f′ together on 1,000,000 float64 x ~ N(0, 3²): the median of 5 runs, the generated code "
              "beside naive sympy.lambdify of the same expression and its derivative\n")
        width = max(len(t) for t in texts)
        print(f"{'expression':{width}s} {'nnderive':>11s} {'lambdify':>11s} {'ratio':>7s}")
        results = {}
        for text in texts:
            results[text] = speed(text)
            row = results[text]
            print(f"{text:{width}s} {row['nnderive_ms']:8.1f} ms {row['lambdify_ms']:8.1f} ms "
                  f"{row['nnderive_ms'] / row['lambdify_ms']:6.1f}×", flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    if args.tails or args.several:
        texts = args.only or (SEVERAL if args.several else TYPED_OUT)
        print("f and f′ at ±0, ±5e−324, ±1e−300, … ±1e300" if args.tails else
              "f and every partial derivative at up to 250 points of ±{0, 1e−8, 0.5, 3, 40, 800, 1e300} for each variable",
              "against mpmath: the worst ULP where finite, and the count of NaN/inf where the truth is finite\n")
        width = max(38, *(len(t) for t in texts))
        print(f"{'expression':{width}s} {'lambdify':>13s} {'nnderive':>13s}")
        results = {}
        for text in texts:
            results[text] = tails(text)
            print(f"{text:{width}s} {_tail_cell(results[text]['lambdify'])} {_tail_cell(results[text]['nnderive'])}",
                  flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    texts = args.only or EXPRESSIONS
    print("worst ULP of f and f′ on nnderive diff --verify's grid (NaN/inf: a non-finite result where the "
          "truth is finite; ok: within 4 ULP, the certificate's bound)\n")
    print(f"{'expression':24s} " + " ".join(f"{v:>13s}" for v in VERSIONS))
    results = {}
    for text in texts:
        results[text] = {v: certify(text, v) for v in VERSIONS}
        print(f"{text:24s} " + " ".join(_cell(results[text][v]) for v in VERSIONS), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
