"""Generated code: committed, byte-identical when regenerated, deterministic."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from derive.codegen import HEADER, committed_modules, generate_module

ROOT = Path(__file__).resolve().parent.parent


def test_committed_code_matches_the_derivations():
    for filename, source in committed_modules().items():
        committed = (ROOT / "numeric" / filename).read_text(encoding="utf-8")
        assert committed == source, f"numeric/{filename} drifted; run 'nnderive codegen --write'"
        first = committed.splitlines()[0]
        assert first == HEADER or first == HEADER.replace("catalogue.py", "fits.py"), first


def _generate_in_subprocess(seed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    code = ("import sys; from derive.codegen import generate_module; "
            "sys.stdout.write(generate_module(None, standalone=True))")
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


def test_generation_is_independent_of_hash_seed():
    assert _generate_in_subprocess("1") == _generate_in_subprocess("4242")


def test_standalone_module_runs_without_the_package(tmp_path):
    path = tmp_path / "mymodule.py"
    path.write_text(generate_module(["sigmoid", "softplus", "gelu", "silu", "softmax",
                                     "softmax_cross_entropy"], standalone=True))
    source = path.read_text()
    assert "import numeric" not in source and "from numeric" not in source
    assert "from ._" not in source
    spec = importlib.util.spec_from_file_location("mymodule", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import numeric

    xs = np.linspace(-30, 30, 101)
    for name in ("sigmoid", "softplus_grad", "gelu_and_grad"):
        np.testing.assert_array_equal(getattr(module, name)(xs), getattr(numeric, name)(xs))
    tail = np.linspace(-760, -700, 61)  # refined in extended precision (see test_blocked)
    np.testing.assert_array_equal(module.silu_and_grad(tail), numeric.silu_and_grad(tail))
    logits = np.array([[40.0, -0.5, 0.0]])
    np.testing.assert_array_equal(module.softmax_cross_entropy(logits, np.eye(3)[:1]),
                                  numeric.softmax_cross_entropy(logits, np.eye(3)[:1]))
    assert "σ" in module.sigmoid.__doc__ or "exp(-x)" in module.sigmoid.__doc__
    assert "do not edit" in source.splitlines()[0]


def test_docstrings_hold_the_formulas():
    import numeric

    assert "1/(1 + exp(-x))" in numeric.sigmoid.__doc__
    assert "sigmoid(x)" in numeric.softplus_grad.__doc__
    assert "relu'(0) = 0" in numeric.relu_grad.__doc__


def test_unknown_name_writes_nothing(tmp_path):
    from derive.catalogue import UnknownNameError

    with pytest.raises(UnknownNameError):
        generate_module(["sigmoid", "softpls"])


def test_an_overflow_on_the_way_is_silent_and_one_in_the_result_is_reported():
    # a user's expression: e^{800} inside exp(−e^{−x}) at x = −800 gives the
    # true 0, and x² of tanh(x)/x's derivative at 1e300 the true −0: no
    # warning (NumPy warned "overflow encountered in exp"); x·e^{−x} at −800
    # is beyond float64, and that is reported once, as the caller's errstate
    # asks; a pole's −inf keeps NumPy's own divide-by-zero report alone
    import warnings

    import sympy as sp

    from derive.codegen import compile_expression

    x = sp.Symbol("x", real=True)
    gumbel = compile_expression(sp.exp(-sp.exp(-x)), [x])
    _, slope = compile_expression(sp.tanh(x) / x, [x], derivative=True)
    grows = compile_expression(x * sp.exp(-x), [x])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gumbel(np.array([-800.0, -1e300])).tolist() == [0.0, 0.0]
        assert slope(np.array([1e300, -1e300])).tolist() == [0.0, 0.0]
        with np.errstate(over="ignore"):
            assert grows(-800.0) == -np.inf
    with pytest.warns(RuntimeWarning, match=r"beyond float64 \(±inf\) at 2 points"):
        assert grows(np.array([-800.0, -1e300, 1.0, -np.inf])).tolist()[:2] == [-np.inf, -np.inf]
    with np.errstate(over="raise"), pytest.raises(FloatingPointError, match="beyond float64"):
        grows(-800.0)
    pole = compile_expression(sp.log(1 - x), [x])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert pole(1.0) == -np.inf
    assert [str(w.message) for w in caught] == ["divide by zero: the result is ±inf at 1 point of finite input"]
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError, match="divide by zero"):
        pole(1.0)
    # a division by zero on the way that does not reach the result is not reported:
    # log(x² + y²) at x = −1e−300, y = 0 is log 0 in float64 (x² underflows), −1381.6
    x_, y_ = sp.symbols("x_ y_", real=True)
    radial, radial_slope = compile_expression(sp.log(x_**2 + y_**2), [x_, y_], derivative=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(radial(-1e-300, 0.0)) == pytest.approx(-1381.551055796427, rel=1e-15)
        assert float(radial_slope(-1e-300, 0.0)[0]) == pytest.approx(-2e300, rel=1e-15)


def test_a_typed_gelu_derivative_is_the_catalogues_kernel_member():
    # GELU typed as x·erfc(−x/√2)/2: its derivative Φ(x) + x·φ(x) is written as
    # the kernel member ndtr_slope (lower_normal_slope), as the catalogue's is:
    # the same bits as numeric.gelu_grad, where the sum was measured to err by
    # more than 3 ULP on [−64, −0.5) and was computed again in long double
    # there (six times the time on 1e6 normal x)
    import sympy as sp

    import numeric
    from derive.codegen import compile_expression, expression_source

    x = sp.Symbol("x", real=True)
    gelu = x * sp.erfc(-x / sp.sqrt(2)) / 2
    source = expression_source("g", gelu, [x], derivative=True)
    assert "_ndtr_slope(x)" in source and "Computed again in np.longdouble" not in source
    _, slope = compile_expression(gelu, [x], derivative=True)
    points = np.concatenate([np.random.default_rng(5).normal(scale=4, size=20000),
                             [-40.0, -8.3, -0.7518, -1e-8, 0.0, 1e-8, 3.0, 40.0, 1e300, -1e300]])
    np.testing.assert_array_equal(slope(points), numeric.gelu_grad(points))


@pytest.mark.parametrize("text, output, point, before", [
    # (1 + x²)^p = hi^p·(1 + p·lo/hi) with 1 + x² = hi + lo: hypot(1, x)^−3 counted hypot's
    # rounding three times, and just below 1 an ulp is half as large
    ("(1 + x^2)^(-3/2)", 0, 0.00016061132502813333, 4.98),
    ("(1 + x^2)^(-3/2)", 1, 7.976206038480691e-05, 6.60),
    ("1/sqrt(1 + x^2)", 1, -0.00023594631067296588, 4.27),
    ("x/sqrt(1 + x^2)", 1, 0.00016061132502813333, 4.98),
    # the derivative's x² + 1 rounded once: (1 − x²)/(x² + 1)² rounded both sums alone
    ("x/(1 + x^2)", 1, -0.0001012731036153491, 4.08),
])
def test_a_sum_in_one_variable_is_rounded_once_and_its_power_compensated(text, output, point, before):
    # ``before``: the error at the point of the code that compensated sums of several variables only
    import sympy as sp

    from derive.codegen import compile_expression
    from derive.parsing import parse_expression
    from derive.verify import _mp_function, reference
    from numeric.accuracy import ulp_error

    expr = parse_expression(text)
    x, = expr.free_symbols
    f, g = compile_expression(expr, [x], derivative=True)
    value = [f, g][output](np.array([point]))[0]
    truth = [expr, sp.diff(expr, x)][output]
    assert ulp_error(float(value), reference(_mp_function(truth, [x]), [point])) <= 2.0 < before


def test_an_expression_without_a_variable_is_refused_with_a_clear_error():
    import sympy as sp

    from derive.codegen import compile_expression

    with pytest.raises(ValueError, match="at least one variable"):
        compile_expression(sp.log(2), [])
