"""Tests of derive.steps (and derive.diff_command): every step verified, every
catalogue entry complete, course expressions right, renderings, time bounds."""

from __future__ import annotations

import argparse
import io
import json
import random
import threading
import time

import pytest
import sympy as sp

from derive import steps as steps_module
from derive.catalogue import ENTRIES, N, g, get
from derive.diff_command import configure_parser, run
from derive.parsing import ExpressionError, parse_expression
from derive.primitives import components, expand_primitives, gauss, ndtr, sigmoid, softplus
from derive.steps import (
    Derivation,
    Gradient,
    StepVerificationError,
    catalogue_steps,
    derivation_steps,
    run_with_time_limit,
)

x = sp.Symbol("x", real=True)

VERIFIED = ("symbolic", "numeric (20 points, 50 digits)")


# --------------------------------------------------------------------------
# An independent check (not the module's own verifier)
# --------------------------------------------------------------------------


def _plain(expr: sp.Expr) -> sp.Expr:
    expr = expr.replace(lambda e: isinstance(e, steps_module.softmax_component),
                        lambda e: e.definition())
    return expand_primitives(expr)


def assert_proved_equal(a: sp.Expr, b: sp.Expr, constraint: dict | None = None) -> str:
    """a == b symbolically (cheap methods), else at 30 random points, 50 digits."""
    a, b = _plain(a), _plain(b)
    if constraint:
        a, b = a.subs(constraint), b.subs(constraint)
    difference = a - b
    for method in (lambda e: e, sp.expand, lambda e: sp.cancel(sp.together(e)),
                   lambda e: sp.cancel(sp.expand(e.rewrite(sp.exp)))):
        if method(difference) == 0:
            return "symbolic"
    symbols = sorted(difference.free_symbols, key=lambda s: s.name)
    rng = random.Random(1234)
    checked = 0
    for _ in range(400):
        point = {}
        for s in symbols:
            if s.is_integer:
                point[s] = sp.Integer(rng.randint(1, 7))
            elif s.is_positive:
                point[s] = sp.Rational(rng.randint(1, 2000), 1000)
            else:
                point[s] = sp.Rational(rng.randint(-2000, 2000), 1000)
        va = a.xreplace(point).evalf(50)
        vb = b.xreplace(point).evalf(50)
        if not (va.is_number and vb.is_number) or va.has(sp.zoo, sp.nan) or vb.has(sp.zoo, sp.nan):
            continue
        if abs(sp.im(va)) > 1e-45 or abs(sp.im(vb)) > 1e-45:
            continue
        assert abs(va - vb) <= sp.Float(10) ** -40 * max(1, abs(va), abs(vb)), (a, b, point)
        checked += 1
        if checked == 30:
            return "numeric"
    pytest.fail(f"could not find 30 points to compare {a} and {b}")


def walk(derivation: Derivation) -> None:
    """Every step is complete, verified, and the last one is the result."""
    assert derivation.steps, "no steps"
    for step in derivation.steps:
        assert step.rule != "sympy", f"'don't know' step: {step.justification}"
        assert step.verified_by.startswith(VERIFIED), step.verified_by
        assert step.justification and step.title
        assert isinstance(step.current, sp.Basic)
    assert derivation.complete and derivation.verified
    assert derivation.steps[-1].current == derivation.result
    assert not derivation.result.has(sp.Derivative)


# --------------------------------------------------------------------------
# The catalogue: every entry, every step
# --------------------------------------------------------------------------

_DERIVATIONS: dict[str, Derivation] = {}


def _catalogue(name: str) -> Derivation:
    if name not in _DERIVATIONS:
        _DERIVATIONS[name] = catalogue_steps(name)
    return _DERIVATIONS[name]


def _vector(symbol: sp.Symbol) -> list[sp.Symbol]:
    return [sp.Symbol(f"{symbol.name}_{k}", **symbol.assumptions0) for k in (1, 2, 3)]


@pytest.mark.parametrize("name", [e.name for e in ENTRIES])
def test_catalogue_entry_has_complete_verified_steps(name):
    entry = get(name)
    d = _catalogue(name)
    walk(d)
    assert d.name == name
    if entry.kind == "activation":
        assert_proved_equal(d.result, sp.diff(entry.definition, entry.variable))
        assert d.steps[0].rule == "definition"
        if entry.textbook is not None:
            assert d.result == entry.textbook
    elif entry.kind == "loss" and entry.reduction == "mean_elements":
        assert d.steps[0].rule == "mean"
        assert d.result.has(N)
        assert_proved_equal(d.result, sp.diff(entry.definition, entry.variable) / N)
    elif entry.kind == "loss":  # row losses, at size 3
        pred, target = entry.variables
        vectors = {pred: _vector(pred), target: _vector(target)}
        ell = components(entry.definition, vectors, 0)
        reference = sp.diff(ell / N, vectors[pred][0])
        constraint = None
        if entry.target_kind == "distribution" and any(
                s.rule == "targets sum to 1" for s in d.steps):
            ys = vectors[target]
            constraint = {ys[2]: 1 - ys[0] - ys[1]}
        assert_proved_equal(components(d.result, vectors, 0), reference, constraint)
        assert d.steps[-1].rule == "vector form"
    else:  # vector maps: the VJP
        z = entry.variable
        zs, gs = _vector(z), _vector(g)
        outputs = [components(entry.definition, {z: zs}, k) for k in range(3)]
        vjp = sum(gs[j] * sp.diff(outputs[j], zs[0]) for j in range(3))
        assert_proved_equal(components(d.result, {z: zs, g: gs}, 0), vjp)
        assert d.result == entry.textbook
        assert "vjp" in d.rules


@pytest.mark.parametrize("name, expected", [
    ("sigmoid", sigmoid(x) * (1 - sigmoid(x))),
    ("tanh", 1 - sp.tanh(x) ** 2),
    ("softplus", sigmoid(x)),
    ("gelu", x * gauss(x) + ndtr(x)),
    ("identity", sp.Integer(1)),
    ("log_sigmoid", sigmoid(-x)),
])
def test_catalogue_textbook_forms(name, expected):
    assert _catalogue(name).result == expected


def test_catalogue_textbook_forms_of_losses_and_maps():
    pred, target = get("mse").variables
    mse = _catalogue("mse").result
    assert sp.expand(mse - 2 * (pred - target) / N) == 0
    assert steps_module._text(mse) == "2·(ŷ - y)/N"  # factored, as a textbook writes it
    assert _catalogue("binary_cross_entropy_with_logits").result == (sigmoid(pred) - target) / N
    assert _catalogue("softmax_cross_entropy").result == get("softmax_cross_entropy").textbook
    mish = _catalogue("mish").result
    assert mish.has(sigmoid) and mish.has(softplus) and not mish.has(sp.exp)


def test_softmax_derivation_shows_jacobian_entries_and_vjp():
    d = _catalogue("softmax")
    text = d.to_text()
    assert "p₁·(1 - p₁)" in text          # ∂p₁/∂z₁
    assert "-p₁·p₂" in text               # ∂p₁/∂z₂
    assert "(gᵀJ)₁" in text and "gᵀJ =" in text
    lhs_texts = [steps_module._text(s.lhs, True) for s in d.steps]
    assert "∂/∂z₁ p₁" in lhs_texts and "∂/∂z₂ p₁" in lhs_texts


def test_softmax_cross_entropy_uses_that_targets_sum_to_one():
    d = _catalogue("softmax_cross_entropy")
    rules = d.rules
    assert "targets sum to 1" in rules
    assert any("y₁ + y₂ + y₃ = 1" in s.verified_by for s in d.steps)
    assert "(p₁ - y₁)/N" in d.to_text()


def test_losses_show_the_mean_over_the_batch():
    d = _catalogue("binary_cross_entropy")
    assert d.steps[0].rule == "mean"
    assert "(1/N)" in d.steps[0].justification


@pytest.mark.parametrize("name, point, value", [
    ("relu", 0, 0),
    ("leaky_relu", 0, get("leaky_relu").params[0].symbol),
    ("hard_sigmoid", 3, 0),
    ("hard_sigmoid", -3, 0),
    ("hard_tanh", 1, 0),
    ("hard_tanh", -1, 0),
    ("elu", 0, get("elu").params[0].symbol),
])
def test_kink_conventions(name, point, value):
    d = _catalogue(name)
    assert d.result.subs(x, point) == value
    piecewise = [s for s in d.steps if s.rule == "piecewise"]
    assert piecewise and "kink" in piecewise[0].justification
    assert any(note.startswith("Convention") for note in d.notes)


def test_relu_states_its_convention_in_the_step():
    step = next(s for s in _catalogue("relu").steps if s.rule == "piecewise")
    assert "at x = 0" in step.justification and "derivative 0" in step.justification


def test_mae_and_hinge_conventions():
    pred, target = get("mae").variables
    mae = _catalogue("mae").result
    assert mae.subs({pred: 1, target: 1}) == 0
    assert any(s.rule == "chain" and s.outer_rule == "abs" for s in _catalogue("mae").steps)
    hinge = _catalogue("hinge").result
    assert hinge.subs({pred: 1, target: 1}) == 0


# --------------------------------------------------------------------------
# A course's expressions
# --------------------------------------------------------------------------

COURSE = [
    ("x*sin(x)", "x", {"product", "sin"}),
    ("exp(-x^2)*cos(3*x)", "x", {"product", "chain", "exp", "cos", "power"}),
    ("log(1 + exp(a*x))", "x", {"chain", "log", "exp"}),
    ("x^x", "x", {"logarithmic differentiation", "product", "log"}),
    ("tanh(w*x + b)", "x", {"chain", "tanh"}),
    ("(1 - x^2)^(3/2)", "x", {"chain", "power"}),
    ("sqrt(x^2 + 1)", "x", {"chain", "sqrt"}),
    ("sigmoid(w*x + b)", "w", {"chain", "sigmoid"}),
    ("x*exp(-x)", "x", {"product", "chain", "exp"}),
    ("atan(x)/x", "x", {"quotient", "atan"}),
    ("1/(1 + exp(-x))", "x", {"chain", "power", "exp"}),
    ("x^3 - 2*x^2 + 5*x - 7", "x", {"sum", "power", "constant multiple"}),
    ("sin(x)^2 + cos(x)^2", "x", {"sum", "chain", "sin", "cos"}),
    ("log(x)/x", "x", {"quotient", "log"}),
    ("exp(2*x)*sin(x)", "x", {"product", "chain", "exp", "sin"}),
    ("x^2*log(x)", "x", {"product", "log", "power"}),
    ("(x^2 + 1)/(x - 1)", "x", {"quotient", "sum"}),
    ("sqrt(x)*exp(x)", "x", {"product", "sqrt", "exp"}),
    ("2^x", "x", {"exponential"}),
    ("erf(x)", "x", {"erf"}),
    ("erfc(x/2)", "x", {"chain", "erfc"}),
    ("asinh(x)", "x", {"asinh"}),
    ("sech(x)", "x", {"sech"}),
    ("cosh(x)*sinh(x)", "x", {"product", "cosh", "sinh"}),
    ("sinh(x)/cosh(x)", "x", {"quotient", "sinh", "cosh"}),
    ("abs(x)", "x", {"abs"}),
    ("relu(x)", "x", {"piecewise"}),
    ("max(x, 0)", "x", {"max", "piecewise"}),
    ("min(x, 1)", "x", {"min", "piecewise"}),
    ("softplus(w*x)", "x", {"chain", "softplus"}),
    ("relu(w*x + b)", "w", {"piecewise"}),
    ("x/(1 + abs(x))", "x", {"quotient", "abs"}),
    ("tan(x)", "x", {"tan"}),
    ("(w*x + b - y)^2", "w", {"chain", "power"}),
    ("-y*log(sigmoid(z)) - (1 - y)*log(1 - sigmoid(z))", "z", {"chain", "log", "sigmoid"}),
    ("x*tanh(softplus(x))", "x", {"product", "chain", "tanh", "softplus"}),
    ("sin(x)^x", "x", {"logarithmic differentiation", "chain"}),
    ("log(log(x))", "x", {"chain", "log"}),
    ("cos(sqrt(x))", "x", {"chain", "cos", "sqrt"}),
    ("x*ndtr(x)", "x", {"product", "ndtr"}),
    ("gauss(x)", "x", {"gauss"}),
    ("x", "x", {"variable"}),
    ("5*y", "x", {"constant"}),
]


@pytest.mark.parametrize("text, variable, rules", COURSE, ids=[c[0] for c in COURSE])
def test_course_expression(text, variable, rules):
    expr = parse_expression(text)
    d = derivation_steps(expr, variable)
    assert isinstance(d, Derivation)
    walk(d)
    wrt = next((s for s in expr.free_symbols if s.name == variable), sp.Symbol(variable,
                                                                                real=True))
    assert d.wrt == wrt
    assert d.raw == sp.diff(expr, wrt)
    assert_proved_equal(d.result, sp.diff(expand_primitives(expr), wrt))
    assert rules <= set(d.rules), f"expected {rules}, used {d.rules}"


def test_at_least_thirty_course_expressions():
    assert len(COURSE) >= 30


@pytest.mark.parametrize("text, expected", [
    ("1/(1 + exp(-x))", sigmoid(x) * (1 - sigmoid(x))),
    ("log(1 + exp(x))", sigmoid(x)),
    ("exp(x)/(1 + exp(x))", sigmoid(x) * (1 - sigmoid(x))),
    ("tanh(x)", 1 - sp.tanh(x) ** 2),
    ("sigmoid(x)", sigmoid(x) * (1 - sigmoid(x))),
    ("x*sin(x)", x * sp.cos(x) + sp.sin(x)),
    ("x^x", x**x * (sp.log(x) + 1)),
    ("x/(1 + abs(x))", 1 / (1 + sp.Abs(x)) ** 2),
])
def test_textbook_form_of_user_expressions(text, expected):
    assert derivation_steps(text, "x").result == expected


def test_chain_rule_names_the_substitution():
    d = derivation_steps("tanh(w*x + b)", "x")
    chain = d.steps[0]
    assert chain.rule == "chain" and chain.outer_rule == "tanh"
    u, inner = chain.substitution
    assert u.name == "u" and inner == parse_expression("w*x + b")
    assert "u = b + w·x" in chain.justification
    assert "1 − tanh²(u)" in chain.justification


def test_substitution_symbol_avoids_the_expression_symbols():
    d = derivation_steps("sin(u^2)", "u")
    assert d.steps[0].substitution[0].name != "u"


def test_quotient_rule_for_atan_over_x():
    d = derivation_steps("atan(x)/x", "x")
    assert d.steps[0].rule == "quotient"
    assert "f = atan(x), g = x" in d.steps[0].justification


@pytest.mark.parametrize("text, rule, result", [
    ("log1p(x^2)", "d/du log1p(u) = d/du ln(1 + u) = 1/(1 + u)", 2 * x / (x**2 + 1)),
    ("expm1(sin(x))", "d/du expm1(u) = d/du (eᵘ − 1) = eᵘ", sp.exp(sp.sin(x)) * sp.cos(x)),
])
def test_log1p_and_expm1_have_textbook_rules(text, rule, result):
    # a user may type them (the parser takes both); their steps were "no textbook rule:
    # derivative taken from SymPy"
    d = derivation_steps(text, "x")
    assert d.steps[0].rule == "chain" and rule in d.steps[0].justification
    assert_proved_equal(d.result, result)


def test_every_intermediate_step_equals_sympys_derivative():
    """Re-check each step here, independently of the module's verifier."""
    expr = parse_expression("exp(-x^2)*cos(3*x)")
    reference = sp.diff(expr, x)
    d = derivation_steps(expr, "x")
    for step in d.steps:
        assert_proved_equal(step.current.doit(), reference)


def test_a_wrong_rule_is_caught(monkeypatch):
    wrong = steps_module._FunctionRule("sin", sp.sin, "d/du sin(u) = sin(u) (wrong)")
    monkeypatch.setitem(steps_module._FUNCTION_RULES, sp.sin, wrong)
    with pytest.raises(StepVerificationError, match="could not be verified"):
        derivation_steps("x*sin(x)", "x")


def test_a_wrong_rule_is_caught_even_when_only_numbers_can_decide(monkeypatch):
    wrong = steps_module._FunctionRule("sign", lambda u: sp.Integer(1), "wrong")
    monkeypatch.setitem(steps_module._FUNCTION_RULES, sp.sign, wrong)
    with pytest.raises(StepVerificationError):
        derivation_steps("x*sign(x)", "x")


def test_unknown_functions_fall_back_to_sympy_and_say_so():
    f = sp.Function("f")
    d = derivation_steps(f(x) * x, x)
    assert not d.complete
    assert "sympy" in d.rules


def test_plain_sympy_symbols_are_treated_as_real():
    plain = sp.Symbol("x")
    d = derivation_steps(sp.Abs(plain), plain)
    assert d.result == sp.sign(x)


def test_bad_arguments():
    with pytest.raises(ValueError, match="order"):
        derivation_steps("x", "x", order=0)
    with pytest.raises(TypeError):
        derivation_steps("x", x + 1)
    with pytest.raises(ExpressionError):
        derivation_steps("2x", "x")
    with pytest.raises(ExpressionError):
        derivation_steps("x", "x y")


# --------------------------------------------------------------------------
# Second derivatives and gradients
# --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["x^3*exp(x)", "sigmoid(x)", "tanh(2*x)", "log(1 + x^2)"])
def test_second_derivative(text):
    expr = parse_expression(text)
    d = derivation_steps(expr, "x", order=2)
    walk(d)
    assert d.order == 2
    assert {s.order for s in d.steps} == {1, 2}
    assert d.raw == sp.diff(expr, x, 2)
    assert_proved_equal(d.result, sp.diff(expand_primitives(expr), x, 2))
    assert "d²/dx²" in d.to_text()


def test_second_derivative_of_sigmoid_uses_the_sigmoid_rule_twice():
    d = derivation_steps("sigmoid(x)", "x", order=2)
    assert [s.rule for s in d.steps if s.order == 1][0] == "sigmoid"
    assert any("sigmoid" in s.rules for s in d.steps if s.order == 2)
    assert not d.result.has(sp.exp)


def test_gradient():
    grad = derivation_steps("(w*x + b - y)^2", ("w", "b"))
    assert isinstance(grad, Gradient)
    w, b, y = (sp.Symbol(n, real=True) for n in "wby")
    assert [d.wrt for d in grad] == [w, b]
    residual = w * x + b - y
    assert_proved_equal(grad["w"].result, 2 * x * residual)
    assert_proved_equal(grad[1].result, 2 * residual)
    for d in grad:
        walk(d)
        assert d.partial
    text = grad.to_text()
    assert "∂/∂w" in text and "∂/∂b" in text and "Gradient" in text
    data = json.loads(grad.to_json())
    assert data["wrt"] == ["w", "b"] and len(data["derivations"]) == 2
    assert grad.to_latex().count(r"\begin{aligned}") == 2
    assert grad._repr_latex_().startswith("$$") and grad._repr_markdown_()
    assert len(grad.steps) == sum(len(d.steps) for d in grad)


# --------------------------------------------------------------------------
# Renderings
# --------------------------------------------------------------------------


def test_text_rendering_is_readable_unicode():
    text = _catalogue("sigmoid").to_text()
    assert "σ(x)·(1 - σ(x))" in text
    assert "**" not in text and "sigmoid(" not in text and "Derivative(" not in text
    assert "✓ symbolic" in text
    tanh_text = _catalogue("tanh").to_text()
    assert "1 - tanh²(x)" in tanh_text
    gelu_text = _catalogue("gelu").to_text()
    assert "Φ(x)" in gelu_text and "φ(x)" in gelu_text and "√2" in gelu_text


def test_latex_rendering_is_an_aligned_block_with_justifications():
    latex = _catalogue("sigmoid").to_latex()
    assert latex.startswith(r"\begin{aligned}") and latex.endswith(r"\end{aligned}")
    rows = latex.split("\\\\\n")
    assert len(rows) == len(_catalogue("sigmoid").steps)
    assert all("&=" in row and r"\text{" in row for row in rows)
    assert r"\sigma" in latex
    chain = derivation_steps("tanh(w*x + b)", "x").to_latex()
    assert r"\text{chain rule (tanh)}" in chain and "u = b + w x" in chain


def test_markdown_rendering_numbers_the_steps():
    d = _catalogue("softplus")
    markdown = d.to_markdown()
    for number in range(1, len(d.steps) + 1):
        assert f"\n{number}. " in markdown
    assert markdown.count("$") >= 2 * len(d.steps)
    assert "**Result:**" in markdown and "verified: symbolic" in markdown
    assert d._repr_markdown_() == markdown
    assert d._repr_latex_() == "$$" + d.to_latex() + "$$"


def test_json_rendering_is_structured():
    d = derivation_steps("x*sin(x)", "x")
    data = json.loads(d.to_json())
    assert data["wrt"] == "x" and data["order"] == 1
    assert data["result"] == "x*cos(x) + sin(x)"
    assert [s["rule"] for s in data["steps"]] == ["product", "sin"]
    for step in data["steps"]:
        assert set(step) >= {"rule", "target", "result", "justification", "current",
                             "current_latex", "verified_by", "substitution"}
    assert d.to_dict() == data
    assert str(d) == d.to_text()


def test_latex_of_names_with_underscores():
    latex = _catalogue("leaky_relu").to_latex()
    assert r"\operatorname{leaky\_relu}" in latex


# --------------------------------------------------------------------------
# Time bounds
# --------------------------------------------------------------------------


def test_simplification_past_its_bound_returns_the_verified_unsimplified_result():
    text = "exp(-x^2)*cos(3*x)"
    quick = derivation_steps(text, "x", simplify_timeout=1e-6)
    assert any("simplification stopped" in note for note in quick.notes)
    assert quick.steps[-1].rule != "textbook form"
    walk(quick)
    assert_proved_equal(quick.result, sp.diff(parse_expression(text), x))
    patient = derivation_steps(text, "x")
    assert patient.notes == () and patient.steps[-1].rule == "textbook form"


def test_simplification_bound_also_holds_outside_the_main_thread():
    box = {}

    def work():
        box["d"] = derivation_steps("exp(-x^2)*cos(3*x)", "x", simplify_timeout=1e-6)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(60)
    assert not worker.is_alive()
    assert any("simplification stopped" in note for note in box["d"].notes)


def test_run_with_time_limit():
    started = time.monotonic()
    assert run_with_time_limit(lambda: time.sleep(5), 0.05) == (False, None)
    assert time.monotonic() - started < 2
    assert run_with_time_limit(lambda: 1 + 1, 5) == (True, 2)
    assert run_with_time_limit(lambda: 3, None) == (True, 3)
    assert run_with_time_limit(lambda: 3, 0) == (False, None)
    with pytest.raises(ZeroDivisionError):
        run_with_time_limit(lambda: 1 / 0, 5)
    # a busy loop in pure Python is interrupted too
    started = time.monotonic()
    finished, _ = run_with_time_limit(lambda: sum(i for i in range(10**10)), 0.1)
    assert not finished and time.monotonic() - started < 2


def test_run_with_time_limit_in_a_thread():
    box = {}

    def work():
        box["result"] = run_with_time_limit(lambda: time.sleep(0.5), 0.05)
        box["ok"] = run_with_time_limit(lambda: 7, 5)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(10)
    assert box == {"result": (False, None), "ok": (True, 7)}


# --------------------------------------------------------------------------
# The command line helper
# --------------------------------------------------------------------------


def _run(argv: list[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="nnderive diff")
    configure_parser(parser)
    out, err = io.StringIO(), io.StringIO()
    code = run(parser.parse_args(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_diff_command_prints_the_derivative():
    code, out, err = _run(["x*sin(x)", "--wrt", "x"])
    assert code == 0 and err == ""
    assert out.strip() == "d/dx[x·sin(x)] = x·cos(x) + sin(x)"
    code, out, _ = _run(["x^2"])  # the only variable is the default
    assert code == 0 and "2·x" in out


@pytest.mark.parametrize("fmt, marker", [
    ("text", "✓ symbolic"), ("latex", r"\begin{aligned}"), ("markdown", "1. "),
])
def test_diff_command_steps_formats(fmt, marker):
    code, out, _ = _run(["tanh(w*x + b)", "--wrt", "x", "--steps", "--format", fmt])
    assert code == 0 and marker in out


def test_diff_command_json_order_and_gradient():
    code, out, _ = _run(["x^3", "--wrt", "x", "--format", "json", "--order", "2"])
    assert code == 0 and json.loads(out)["result"] == "6*x"
    code, out, _ = _run(["w*x + b", "--wrt", "w,b"])
    assert code == 0 and "∂/∂w" in out and "∂/∂b" in out


@pytest.mark.parametrize("argv, words", [
    (["2x", "--wrt", "x"], ["implicit multiplication", "2*x"]),
    (["__import__('os').system('ls')", "--wrt", "x"], ["names may not start with '_'"]),
    (["foo(x)", "--wrt", "x"], ["unknown function 'foo'"]),
    (["x*y"], ["give --wrt"]),
    (["x", "--wrt", "1x"], ["--wrt"]),
    (["x", "--wrt", "x", "--order", "9"], ["--order"]),
    (["", "--wrt", "x"], ["empty expression"]),
])
def test_diff_command_bad_input_is_one_clear_line(argv, words):
    code, out, err = _run(argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnderive diff: error: ")
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in err


def test_diff_command_notes_a_variable_not_in_the_expression():
    code, out, err = _run(["y^2", "--wrt", "x"])
    assert code == 0 and "= 0" in out and "does not occur" in err
