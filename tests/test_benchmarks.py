"""The speed benchmark's script: it runs, and its accurate hand-written column is accurate."""

import importlib.util
import json
from pathlib import Path

import mpmath
import numpy as np
import pytest

import numeric
from numeric.accuracy import ulp_error

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_functions.py"


def _module(path=PATH):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_accurate_hand_column_is_within_four_ulp_and_tanh_is_the_generated_code(monkeypatch):
    # (the generated code's form for vector tanh: the other form computes tanh from e^{-2|x|})
    monkeypatch.setattr(numeric.activations, "_SCALAR_MATH", False)
    bench = _module()
    x = np.concatenate([np.linspace(-40, 40, 801), [-745.0, -710.0, 37.0, 710.0, 800.0, 1e300]])
    with mpmath.workdps(60):
        for k, v in enumerate(x):
            t = mpmath.mpf(float(v))
            s = 1 / (1 + mpmath.exp(-t))
            truths = {"sigmoid": (s, s * (1 - s)), "tanh": (mpmath.tanh(t), mpmath.sech(t) ** 2),
                      "softplus": (mpmath.log1p(mpmath.exp(t)), s)}
            for name, fn in bench.HAND_ACCURATE.items():
                with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow
                    value, grad = fn(np.array([v]))
                assert ulp_error(value[0], truths[name][0]) <= 4, (name, v)
                assert ulp_error(grad[0], truths[name][1]) <= 4, (name, v)
    np.testing.assert_array_equal(bench.HAND_ACCURATE["tanh"](x)[1], numeric.tanh_grad(x))


def test_quick_run_writes_the_accurate_column(tmp_path, capsys):
    bench = _module()
    taken = numeric.activations._SCALAR_MATH
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--only", "tanh", "--no-import", "--memory", "as-is",
                       "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    (row,) = report["speed"]
    assert "hand, accurate" in row["median_s"] and row["agrees_with_generated"]["hand, accurate"]
    wrong = [r for r in report["accuracy"] if "hand, accurate" in r["ulp"] and not r["ulp"]["hand, accurate"] <= 4]
    assert wrong == []
    text = capsys.readouterr().out
    assert "generated / hand, accurate: tanh" in text
    # the floor of an accurate tanh_and_grad, timed in the same round robin
    assert bench.TANH_FLOOR in row["median_s"] and "tanh floor: " in text
    # the form of the generated code this CPU does not take, timed beside it, agreeing
    # with it, and the module's flag as it was before the run
    assert row["agrees_with_generated"][bench.OTHER_FORM] and "the two forms: this CPU takes the " in text
    assert numeric.activations._SCALAR_MATH is taken


def test_user_expressions_table_shows_each_stage(tmp_path, capsys):
    """benchmarks/user_expressions.py: sin(x)/x fails plain (0/0, and (x cos x − sin x)/x² cancels
    near 0: 0 at 1e−300 where the truth is −3e−301), and is certified once patched."""
    module = _module(PATH.parent / "user_expressions.py")
    out = tmp_path / "results.json"
    assert module.main(["--only", "sin(x)/x", "--json", str(out)]) == 0
    results = json.loads(out.read_text())["sin(x)/x"]
    assert not results["plain"]["passed"] and (results["plain"]["nonfinite"] > 0 or results["plain"]["df_ulp"] > 1e6)
    assert results["patched"]["passed"] and results["refined"]["passed"]
    assert results["refined"]["df_ulp"] <= 1.0
    assert "sin(x)/x" in capsys.readouterr().out
    try:  # an existing file is not overwritten
        module.main(["--only", "sin(x)/x", "--json", str(out)])
    except SystemExit as exit_:
        assert exit_.code == 2
    else:
        raise AssertionError("overwrote its JSON file")


def test_user_expressions_tails_table(tmp_path, capsys):
    """--tails: σ typed as e^x/(1 + e^x) is NaN in lambdify's code past 709, and not in ours."""
    module = _module(PATH.parent / "user_expressions.py")
    out = tmp_path / "tails.json"
    assert module.main(["--tails", "--only", "exp(x)/(1 + exp(x))", "--json", str(out)]) == 0
    result = json.loads(out.read_text())["exp(x)/(1 + exp(x))"]
    assert result["lambdify"]["nonfinite"] > 0 and result["lambdify"]["max_ulp"] > 1e10
    assert result["nnderive"]["nonfinite"] == 0 and result["nnderive"]["max_ulp"] <= 4
    assert "lambdify" in capsys.readouterr().out


def test_user_expressions_several_variables_table(tmp_path):
    """--several: a two-class softmax typed out is NaN in lambdify's code where both logits are below −745."""
    module = _module(PATH.parent / "user_expressions.py")
    out = tmp_path / "several.json"
    text = "exp(a)/(exp(a) + exp(b))"
    assert module.main(["--several", "--only", text, "--json", str(out)]) == 0
    result = json.loads(out.read_text())[text]
    assert result["points"] == 144 and result["lambdify"]["nonfinite"] > 0
    assert result["nnderive"]["nonfinite"] == 0 and result["nnderive"]["max_ulp"] <= 4.5


def test_user_expressions_random_points_table(tmp_path, capsys):
    """--random: log(x·y) of a rounded x·y near 1 errs by hundreds of ULP in lambdify's code, not in ours."""
    module = _module(PATH.parent / "user_expressions.py")
    out = tmp_path / "random.json"
    assert module.main(["--random", "--only", "log(x*y)", "--json", str(out)]) == 0
    result = json.loads(out.read_text())["log(x*y)"]
    assert result["points"] == 100_000 and len(result["nnderive"]["ulp"]) == len(result["nnderive"]["abs"]) == 3
    assert result["lambdify"]["ulp"][0] > 100 and max(result["nnderive"]["ulp"]) <= 2
    assert "lambdify" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # the JSON file is there now: not overwritten
        module.main(["--random", "--only", "log(x*y)", "--json", str(out)])
    wide = tmp_path / "wide.json"  # over the whole range: lambdify's x·y overflows to inf, ours does not
    assert module.main(["--random", "--wide", "--only", "log(x*y)", "--json", str(wide)]) == 0
    result = json.loads(wide.read_text())["log(x*y)"]
    assert result["lambdify"]["ulp"][0] == float("inf") and max(result["nnderive"]["ulp"]) <= 2
    # where it cancels, absolute error: 1 − e^{−x·y} next to x·y = 0 keeps its digits in ours
    near = tmp_path / "near.json"
    assert module.main(["--random", "--only", "1 - exp(-x*y)", "--json", str(near)]) == 0
    result = json.loads(near.read_text())["1 - exp(-x*y)"]
    assert max(result["nnderive"]["ulp"]) <= 4 and max(result["nnderive"]["abs"]) <= 8
