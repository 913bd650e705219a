"""The blocked, in-place codegen pass and the fused kernels it calls.

Every check here compares against an independent reference: SymPy's own
``lambdify`` of the same expression, mpmath at 30 digits, or the single
kernels of :mod:`numeric._kernels`; the contract functions (``NAME``,
``NAME_grad``, ``NAME_and_grad``) must agree with one another bit for bit.
"""

from __future__ import annotations

import inspect
import itertools
import sys
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sympy.codegen.cfunctions import expm1, log1p

import numeric
from numeric import _support
from derive import primitives
from derive.blocked import _printer, emit_statements
from derive.catalogue import ENTRIES
from derive.codegen import (
    _CopySign,
    _Gathered,
    _fold_constants,
    _Maximum,
    _Minimum,
    _NonNegative,
    _Product,
    _QuietProduct,
    _QuietQuotient,
    _Quotient,
    _Sum,
    contract_names,
    generate_module,
    lower_primitives,
    clamped_exp_arguments,
    rational_in_exp,
    squared_clamps,
    TAME_BOUND,
)
from numeric import _kernels

XB = sp.Symbol("xb", real=True)
ACTIVATIONS = [e for e in ENTRIES if e.kind == "activation"]
LOSSES = [e for e in ENTRIES if e.kind == "loss"]

#: what the opaque functions of codegen mean, for lambdify's namespace
OPAQUE = {
    "_Maximum": np.maximum,
    "_Minimum": np.minimum,
    "_QuietProduct": np.multiply,
    "_NonNegative": lambda u: np.greater_equal(u, 0).astype(np.float64),
    "_CopySign": np.copysign,
    "_Gathered": lambda branch, condition, default: np.where(condition, branch, default),
    "sigmoid": _kernels.sigmoid,
    "softplus": _kernels.softplus,
}

#: inputs where stable and naive code part ways
SPECIALS = [0.0, -0.0, 5e-324, -5e-324, 1e-300, -1e-300, 0.5, -0.5, 20.0, -20.0, 40.0, -40.0,
            700.0, -700.0, 710.0, -710.0, 800.0, -800.0, 1e300, -1e300, np.nan, np.inf, -np.inf]

HYPOTHESIS = settings(max_examples=50, deadline=None, database=None, derandomize=True,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _f32(values) -> np.ndarray:
    """float64 values cast to float32 (1e300 → inf) without an overflow warning."""
    with np.errstate(over="ignore"):
        return np.asarray(values, np.float64).astype(np.float32)


def _same(a, b) -> bool:
    """Bit for bit: same dtype, same shape, same values and signs of zero (any NaN equals any NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.tobytes() == b.tobytes():
        return True
    numbers = ~np.isnan(a)
    return np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a[numbers]),
                                                                   np.signbit(b[numbers]))


def _assert_same(a, b, what=""):
    assert _same(a, b), f"{what}: not bit for bit equal\n{np.asarray(a)!r}\n{np.asarray(b)!r}"


# ---------------------------------------------------------------- emit_statements


def _run_emitted(outputs, x):
    """CSE the outputs, emit in-place statements, run them on ``x``: the outputs and the lines."""
    replacements, reduced = sp.cse(list(outputs), symbols=sp.numbered_symbols("t"),
                                   optimizations=None, order="canonical")
    targets = [f"b{i}" for i in range(len(outputs))]
    lines, rows, masks, constants, numbers = emit_statements(replacements, reduced, targets, _printer())
    xb = np.array(x, np.float64)
    before = xb.copy()
    namespace = {"np": np, "xb": xb, "_sigmoid": _kernels.sigmoid, "_softplus": _kernels.softplus,
                 "_SIGN_BIT": np.array(np.iinfo(np.int64).min)}
    namespace.update({f"k{i}": np.array(float(eval(k, {"np": np}))) for i, k in enumerate(numbers)})
    # rows start full of garbage, so that a value read before it is written shows
    namespace.update({f"w{i}": np.full(xb.shape, 1.2345e300) for i in range(rows)})
    namespace.update({f"m{i}": np.ones(xb.shape, bool) for i in range(masks)})
    namespace.update({f"c{i}": np.full(xb.shape, float(eval(c, {"np": np})))
                      for i, c in enumerate(constants)})
    namespace.update({t: np.full(xb.shape, -7.77e300) for t in targets})
    with np.errstate(all="ignore"):
        exec("\n".join(lines), namespace)  # noqa: S102 - code emitted from our own expressions
    _assert_same(xb, before, "the input block was written to")
    return [namespace[t] for t in targets], lines


def _lambdified(expr, x):
    f = sp.lambdify(XB, expr, [OPAQUE, "numpy"])
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.asarray(f(np.array(x, np.float64)), np.float64), np.shape(x))


HAND_PICKED = [
    XB,
    sp.Integer(7),
    sp.Rational(-3, 7),
    -XB,
    3 * XB - 2 * XB**2 + sp.Rational(1, 3),
    -XB - 1,
    1 - sp.exp(XB),
    -sp.exp(XB) - XB - 2,
    sp.Float(2.5) * XB * sp.exp(-XB),
    -sp.Rational(7, 3) * XB * sp.tanh(XB),
    XB / (1 + XB**2),
    -2 / (XB**2 + 1),
    3 / (XB * (XB + 1)),
    -1 / (XB * (XB - 3)),
    1 / XB,
    -1 / XB,
    XB**-2,
    XB**2,
    XB**3,
    sp.sqrt(sp.Abs(XB)),
    sp.Abs(XB) ** sp.Rational(3, 2),
    sp.Abs(XB) ** sp.Rational(-1, 2),
    _fold_constants(sp.exp(-XB**2 / 2) / sp.sqrt(2 * sp.pi)),  # as codegen hands it over
    sp.exp(-XB**2 / 2) / sp.sqrt(2 * sp.pi),  # irrational constants, unfolded
    sp.pi * XB + sp.E,
    sp.log(1 + XB**2),
    log1p(sp.Abs(XB)),
    expm1(-sp.Abs(XB)),
    sp.tanh(XB) ** 2 - 1,
    sp.exp(sp.tanh(XB) * XB) / (2 + sp.sin(XB)),
    sp.atan(XB) * sp.cos(XB),
    sp.Piecewise((XB, XB > 0), (sp.exp(XB) - 1, True)),
    sp.Piecewise((0, XB <= -3), (1, XB >= 3), (XB / 6 + sp.Rational(1, 2), True)),
    XB * sp.Piecewise((1, XB**2 > 2), (sp.exp(XB), True)) + sp.exp(XB),
    _Maximum(XB, 0) + log1p(sp.exp(-sp.Abs(XB))),
    -_Minimum(XB, 0) + log1p(sp.exp(-sp.Abs(XB))),
    _Maximum(sp.exp(-sp.Abs(XB)), _NonNegative(XB)) / (1 + sp.exp(-sp.Abs(XB))),
    _Maximum(sp.exp(-sp.Abs(XB)), _NonNegative(-XB)) / (1 + sp.exp(-sp.Abs(XB))),
    4 * sp.exp(-2 * _Minimum(sp.Abs(XB), 400)) / (1 + sp.exp(-2 * _Minimum(sp.Abs(XB), 400))) ** 2,
    sp.exp(-2 * _Minimum(sp.Abs(XB), 400)) * (1 + sp.Abs(sp.tanh(XB)) * (2 + sp.Abs(sp.tanh(XB)))),
    sp.exp(_QuietProduct(sp.Abs(XB), -2)) * (1 + sp.Abs(sp.tanh(XB)) * (2 + sp.Abs(sp.tanh(XB)))),
    primitives.sigmoid(XB**2 - 1) * XB,  # a kernel, printed whole
    _CopySign(_Gathered(sp.tanh(sp.Abs(XB)), sp.Abs(XB) < 0.55, 1 - XB**2), XB),  # gathered
    sp.exp(XB) - sp.exp(XB) ** 2,  # a − b of a held a: one subtraction, no copy
]

#: several outputs sharing subexpressions: rows must not be reused while needed
CSE_SETS = [
    [sp.exp(-XB) / (1 + sp.exp(-XB)), sp.exp(-XB) / (1 + sp.exp(-XB)) ** 2, 1 + sp.exp(-XB)],
    [sp.tanh(XB**2) * XB, 1 - sp.tanh(XB**2) ** 2, sp.tanh(XB**2) + XB**2, XB**2],
    [sp.Piecewise((XB**2, XB**2 - 1 > 0), (XB, True)),
     sp.Piecewise((sp.exp(XB), XB**2 - 1 > 0), (1, True)), XB**2 - 1],
    [XB, -XB, XB * sp.exp(XB), sp.exp(XB), sp.exp(XB) * (1 + XB) - XB],
    [(sp.exp(XB) + 1) ** -2, (sp.exp(XB) + 1) ** -1, sp.exp(XB) / (sp.exp(XB) + 1),
     -sp.log(sp.exp(XB) + 1) * (sp.exp(XB) + 1)],
]


def _random_x(seed=0, size=257):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(scale=3.0, size=size - 7), [0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 2.5]])
    rng.shuffle(x)
    return x


def _assert_close(got, want, rtol, what):
    got, want = np.asarray(got), np.asarray(want)
    finite = np.isfinite(want)
    assert np.array_equal(np.isnan(got), np.isnan(want)), what
    assert np.array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)]), what
    np.testing.assert_allclose(got[finite], want[finite], rtol=rtol, atol=1e-300, err_msg=what)


@pytest.mark.parametrize("expr", HAND_PICKED, ids=lambda e: str(e))
def test_emitted_statements_match_lambdify(expr):
    x = _random_x()
    (got,), lines = _run_emitted([expr], x)
    _assert_close(got, _lambdified(expr, x), 1e-12, f"{expr}: {lines}")


PIECEWISE_CASES = [
    [sp.Piecewise((XB, XB > 0), (0, True)), sp.Piecewise((1, XB > 0), (0, True))],  # relu and relu′
    [sp.Piecewise((XB, XB > 0), (sp.Symbol("alpha") * XB, True)), sp.Piecewise((1, XB > 0), (sp.Symbol("alpha"), True))],
    [sp.Piecewise((-1, XB <= -1), (1, XB >= 1), (XB, True)),
     sp.Piecewise((0, (XB <= -1) | (XB >= 1)), (1, True))],  # hard_tanh and its derivative
    [sp.Piecewise((XB, XB > 0), (sp.exp(XB) - 1, True)), sp.Piecewise((sp.exp(XB) * 2, XB < 1), (XB**2, True))],
    [sp.Piecewise((0, (XB <= -3) | (XB >= 3)), (sp.Rational(1, 6), True)),  # k·[not c]
     sp.Piecewise((-1, XB > 0), (0, True)), sp.Piecewise((0, XB > 0), (-2, True))],  # −0.0 must not appear
]


@pytest.mark.parametrize("outputs", PIECEWISE_CASES, ids=lambda o: str(o[0]))
@pytest.mark.parametrize("spread", ["mixed", "few"])
def test_piecewise_selects_by_bits_as_np_where_does(outputs, spread):
    # no np.where (it branches per element: 2.9 ns on a mixed mask), and the same
    # bits as np.where, NaN, ±0 and ±inf included, with every branch computed;
    # "few": each condition holds for at most 1/16 of the block (a masked copy)
    rng = np.random.default_rng(8)
    if spread == "mixed":
        x = np.concatenate([SPECIALS, rng.normal(scale=3, size=997), [-1.0, 1.0]])
    else:
        x = np.concatenate([SPECIALS, -rng.uniform(0.01, 0.99, size=1000)])  # few above 0, none beyond ±1
        rng.shuffle(x)
    got, lines = _run_emitted([o.subs(sp.Symbol("alpha"), sp.Float(0.01)) for o in outputs], x)
    assert not any("np.where(" in line for line in lines), lines
    for expr, value in zip(outputs, got):
        f = sp.lambdify(XB, expr.subs(sp.Symbol("alpha"), 0.01), "numpy")
        with np.errstate(all="ignore"):
            want = np.broadcast_to(np.asarray(f(np.array(x)), dtype=np.float64), x.shape)
        _assert_same(value, want, f"{expr}: {lines}")


@pytest.mark.parametrize("outputs", CSE_SETS, ids=lambda o: str(o[0]))
def test_emitted_statements_with_shared_subexpressions(outputs):
    x = _random_x(1)
    got, lines = _run_emitted(outputs, x)
    for expr, value in zip(outputs, got):
        _assert_close(value, _lambdified(expr, x), 1e-12, f"{expr}: {lines}")


@pytest.mark.parametrize("spread", ["mixed", "dense"])
def test_a_gathered_branch_is_computed_only_where_it_is_taken(spread):
    # expm1 on the gathered elements alone where the condition holds for at most half
    # of the block ("mixed": about 14 %), by the ufunc's where= elsewhere ("dense":
    # about 90 %): the same values either way, and expm1 never sees x = 800, where it
    # would overflow (the test runs with RuntimeWarning an error)
    from derive.codegen import clip_branches

    select = _Gathered(expm1(XB), sp.Abs(XB) < 0.55, XB**2)
    assert clip_branches(select) == select  # not clipped: it never needs to be
    rng = np.random.default_rng(12)
    x = rng.normal(scale=3, size=1000) if spread == "mixed" else rng.uniform(-0.6, 0.6, size=1000)
    x[::97] = 800.0
    replacements, reduced = sp.cse([select], symbols=sp.numbered_symbols("t"), optimizations=None,
                                   order="canonical")
    emitted = emit_statements(replacements, reduced, ["b0"], _printer())
    assert any("np.flatnonzero" in line for line in emitted.lines), emitted.lines
    assert any("where=" in line and "np.expm1" in line for line in emitted.lines), emitted.lines
    assert not any("[...] =" in line for line in emitted.lines), emitted.lines  # |x| < c into a mask row
    namespace = {"np": np, "xb": x, "b0": np.empty_like(x)}
    namespace.update({f"k{i}": np.array(float(k)) for i, k in enumerate(emitted.numbers)})
    namespace.update({f"w{i}": np.empty_like(x) for i in range(emitted.rows)})
    namespace.update({f"m{i}": np.empty(x.shape, bool) for i in range(emitted.masks)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec("\n".join(emitted.lines), namespace)  # noqa: S102
    small = np.abs(x) < 0.55
    want = x**2
    want[small] = np.expm1(x[small])
    _assert_same(namespace["b0"], want, emitted.lines)


def test_emit_statements_example_and_counts():
    emitted = emit_statements([], [sp.exp(-XB) + 1], ["b0"], _printer())
    assert emitted.lines == ["np.negative(xb, out=b0)", "np.exp(b0, out=b0)", "np.add(b0, k0, out=b0)"]
    assert (emitted.rows, emitted.masks, emitted.constants, emitted.numbers) == (0, 0, [], ["1.0"])


def test_minus_abs_sets_the_sign_bit():
    # −|u| in one pass; the same bits as np.negative(np.abs(u)), NaN and ±0 included
    (got,), lines = _run_emitted([-sp.Abs(XB)], SPECIALS)
    assert "bitwise_or" in lines[0] and len(lines) == 1, lines
    _assert_same(got, np.negative(np.abs(np.array(SPECIALS))), "-|x|")


def test_squared_denominators_are_divided_twice():
    # u/v² as u/v/v: v = 1e200 would overflow v², the quotient 1e-300 is finite
    (got,), lines = _run_emitted([XB / (XB + 1) ** 2], [1e200, 3.0])
    assert not any("square" in line for line in lines), lines
    np.testing.assert_allclose(got, [1e200 / (1e200 + 1) / (1e200 + 1), 3.0 / 16], rtol=1e-15)
    assert got[0] > 0


def test_boolean_replacement_gets_a_mask_row():
    condition = XB**2 - 1 > 0
    outputs = [sp.Piecewise((XB**2, condition), (XB, True)),
               sp.Piecewise((sp.exp(XB), condition), (1, True))]
    replacements, reduced = sp.cse(outputs, symbols=sp.numbered_symbols("t"), optimizations=None,
                                   order="canonical")
    assert any(isinstance(v, sp.logic.boolalg.Boolean) for _, v in replacements)
    assert emit_statements(replacements, reduced, ["b0", "b1"], _printer()).masks == 1


def _chain(length):
    """t0 = x + 1, t(i+1) = exp(−t(i)²) + x: each value is used only by the next."""
    t = sp.numbered_symbols("t")
    symbols = [next(t) for _ in range(length)]
    replacements = [(symbols[0], XB + 1)]
    for previous, symbol in itertools.pairwise(symbols):
        replacements.append((symbol, sp.exp(-previous**2) + XB))
    return symbols, replacements


def test_dead_rows_are_reused():
    # the rows a chain needs do not grow with its length: a dead value's row is taken again
    symbols, replacements = _chain(20)
    lines, rows, masks, _, numbers = emit_statements(replacements, [symbols[-1] * 2], ["b0"], _printer())
    short = _chain(3)
    assert rows == emit_statements(short[1], [short[0][-1] * 2], ["b0"], _printer()).rows
    assert rows <= 4 and masks == 0, (rows, lines)
    x = _random_x(2, 40)
    namespace = {"np": np, "xb": x.copy(), "b0": np.empty_like(x)}
    namespace.update({f"k{i}": np.array(float(k)) for i, k in enumerate(numbers)})
    namespace.update({f"w{i}": np.empty_like(x) for i in range(rows)})
    exec("\n".join(lines), namespace)  # noqa: S102
    want = x + 1
    for _ in symbols[1:]:
        want = np.exp(-want**2) + x
    _assert_close(namespace["b0"], 2 * want, 1e-12, "chain")


def _integer_exprs():
    """Polynomial-like expressions whose values at small integers are exact in float64."""
    leaves = st.one_of(
        st.just(XB), st.just(XB), st.integers(-3, 3).map(sp.Integer),
        st.sampled_from([sp.Rational(1, 2), sp.Rational(-3, 4), sp.Rational(5, 4)]))
    # an opaque function of numbers only is never made by lower_primitives: keep x in every operand

    def has_x(e):
        return XB in e.free_symbols

    def extend(children):
        pairs = st.tuples(children, children)
        opaque_pairs = pairs.filter(lambda p: has_x(p[0]) and has_x(p[1]))
        return st.one_of(
            pairs.map(lambda p: p[0] + p[1]),
            pairs.map(lambda p: p[0] - p[1]),
            pairs.map(lambda p: p[0] * p[1]),
            pairs.map(lambda p: -p[0] * p[1] - 3),
            children.map(lambda a: -a),
            children.map(lambda a: a**2),
            children.map(lambda a: -a**3),
            children.map(lambda a: a / 4),
            children.map(lambda a: 1 - a / 2),
            children.map(sp.Abs),
            st.tuples(children, children, children).map(
                lambda t: sp.Piecewise((t[0], t[1] > 0), (t[2], True))),
            opaque_pairs.map(lambda p: _Maximum(*p)),
            opaque_pairs.map(lambda p: _Minimum(*p)),
            children.filter(has_x).map(lambda a: _Maximum(a, 1)),
            opaque_pairs.map(lambda p: _Maximum(p[0], _NonNegative(p[1]))),
            opaque_pairs.map(lambda p: _Maximum(p[0], _NonNegative(-p[1]))),
        )

    return st.recursive(leaves, extend, max_leaves=8)


def _bound(expr, x_max=4.0) -> float:
    """An upper bound of |every intermediate value| of expr for |x| ≤ x_max, in any order of evaluation."""
    if expr == XB:
        return x_max
    if expr.is_Number:
        return abs(float(expr))
    if isinstance(expr, sp.Piecewise):
        parts = [_bound(v, x_max) for v, _ in expr.args]
        parts += [_bound(s, x_max) for _, c in expr.args if isinstance(c, sp.core.relational.Relational)
                  for s in (c.lhs, c.rhs)]
        return max(parts)
    if isinstance(expr, sp.Add):
        return sum(_bound(a, x_max) for a in expr.args)
    if isinstance(expr, sp.Mul):
        return float(np.prod([max(1.0, _bound(a, x_max)) for a in expr.args]))
    if isinstance(expr, sp.Pow):
        return max(1.0, _bound(expr.base, x_max)) ** abs(float(expr.exp))
    if isinstance(expr, (_Maximum, _Minimum)):
        return max(_bound(a, x_max) for a in expr.args)
    if isinstance(expr, (sp.Abs, _NonNegative)):
        return max(1.0, _bound(expr.args[0], x_max))
    raise AssertionError(f"no bound for {expr!r}")


@HYPOTHESIS
@given(st.lists(_integer_exprs(), min_size=1, max_size=3))
def test_emitted_statements_exact_on_integers(exprs):
    """Sums, differences, products, powers, Abs, Piecewise, max/min at integer x: every
    intermediate is exact, so the emitted code must equal lambdify exactly.  A shared
    subexpression is added so that CSE has work to do."""
    base = exprs[0]
    outputs = list(exprs) + [base * exprs[-1] - base, -base**2]
    assume(all(_bound(e) < 2.0**30 for e in outputs))
    x = np.array([-4.0, -3.0, -2.0, -1.0, -0.0, 0.0, 1.0, 2.0, 3.0, 4.0])
    got, lines = _run_emitted(outputs, x)
    for expr, value in zip(outputs, got):
        want = _lambdified(expr, x)
        assert np.array_equal(value, want), f"{expr}\n{lines}\n{value}\n{want}"


def _positive_exprs():
    """Expressions that are positive for positive x: no cancellation, so a few ULP suffice."""
    leaves = st.one_of(st.just(XB), st.just(XB), st.sampled_from(
        [sp.Integer(2), sp.Rational(1, 3), sp.Float(0.75), sp.pi]))

    def extend(children):
        pairs = st.tuples(children, children)
        return st.one_of(
            pairs.map(lambda p: p[0] + p[1]),
            pairs.map(lambda p: p[0] * p[1]),
            pairs.map(lambda p: p[0] / p[1]),
            pairs.map(lambda p: 3 * p[0] / (p[1] * (1 + p[0]))),
            children.map(lambda a: a**2),
            children.map(lambda a: a**3),
            children.map(lambda a: 1 / a),
            children.map(lambda a: a**-2),
            children.map(sp.sqrt),
            children.map(lambda a: sp.exp(-a)),
            children.map(lambda a: sp.exp(sp.tanh(a))),
            children.map(lambda a: log1p(a)),
            children.map(lambda a: sp.log(1 + a)),
            children.map(sp.tanh),
            children.map(sp.atan),
        )

    return st.recursive(leaves, extend, max_leaves=8)


@HYPOTHESIS
@given(st.lists(_positive_exprs(), min_size=1, max_size=3))
def test_emitted_statements_match_lambdify_on_positive_expressions(exprs):
    outputs = list(exprs) + [exprs[0] * exprs[-1] + exprs[0], 1 / (1 + exprs[0])]
    outputs = [_fold_constants(o) for o in outputs]  # √2 → 1.4142…, as codegen hands it over
    x = np.random.default_rng(3).uniform(0.25, 3.0, size=64)
    got, lines = _run_emitted(outputs, x)
    for expr, value in zip(outputs, got):
        _assert_close(value, _lambdified(expr, x), 1e-10, f"{expr}\n{lines}")


# ---------------------------------------------------------------- lower_primitives

_X = sp.Symbol("x", real=True)
LOWERED_CASES = [
    primitives.sigmoid(_X),
    primitives.sigmoid(-_X),
    primitives.softplus(_X),
    primitives.softplus(-_X),
    primitives.sech2(_X),
    primitives.sigmoid(_X) * primitives.sigmoid(-_X) * _X,
    primitives.sigmoid(_X) * primitives.sigmoid(-_X),
    primitives.sigmoid(_X) * (1 - primitives.sigmoid(_X)),
    primitives.softplus(-_X**2) + primitives.sigmoid(2 * _X - 1),
    _X * sp.tanh(primitives.softplus(_X)),
    primitives.sech2(primitives.softplus(_X)) * primitives.sigmoid(_X) * _X,
    primitives.sigmoid(_X) * primitives.sigmoid(-_X) + primitives.softplus(-_X),
    sp.tanh(primitives.softplus(-2 * _X)) + primitives.sech2(primitives.softplus(-_X)),
    (_X * primitives.sigmoid(-_X) + 1) * primitives.sigmoid(_X),  # silu': distributed
    primitives.sigmoid(-_X) * (3 - _X**2 * primitives.sigmoid(_X)) * _X,
]


def _meaning(expr):
    """The opaque functions replaced by what they stand for."""
    return expr.replace(_Maximum, lambda a, b: sp.Max(a, b)) \
        .replace(_Minimum, lambda a, b: sp.Min(a, b)) \
        .replace(_NonNegative, lambda u: sp.Piecewise((1, u >= 0), (0, True))) \
        .replace(_Quotient, lambda a, b: a / b) \
        .replace(_QuietQuotient, lambda a, b: a / b) \
        .replace(_QuietProduct, lambda a, b: a * b) \
        .replace(_Sum, lambda *terms: sp.Add(*terms)) \
        .replace(_Product, lambda *factors: sp.Mul(*factors))


def _mp_reference(expr, value):
    """expr at x = value from the primitives' plain definitions, with mpmath's own functions."""
    definitions = {
        "sigmoid": lambda u: 1 / (1 + mpmath.exp(-u)),
        "softplus": lambda u: mpmath.log1p(mpmath.exp(u)),
        "sech2": lambda u: mpmath.sech(u) ** 2,
    }
    f = sp.lambdify(_X, expr, [definitions, "mpmath"])
    return f(mpmath.mpf(value))


WHOLE_CASES = [primitives.sigmoid(_X), primitives.sigmoid(_X) * primitives.sigmoid(-_X)]


@pytest.mark.parametrize("expr", LOWERED_CASES + WHOLE_CASES, ids=str)
def test_lower_primitives_is_an_identity(expr):
    lowered = lower_primitives(expr, clamped_exp_arguments([expr]))
    assert not lowered.atoms(primitives.sigmoid, primitives.softplus, primitives.sech2), lowered
    meaning = sp.lambdify(_X, _meaning(lowered), "mpmath")
    points = [0.0, -0.0, 1e-8, -1e-8, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 7.0, -7.0, 15.0, -15.0,
              30.0, -30.0, 45.0, -45.0, 0.125, -3.75]
    with mpmath.workdps(50):  # 1 − σ(x) cancels 7 digits at x = 15
        for value in points:
            want = _mp_reference(expr, value)
            got = meaning(mpmath.mpf(value))
            assert abs(got - want) <= mpmath.mpf("1e-25") * max(abs(want), mpmath.mpf("1e-300")), \
                (expr, value, got, want)


@pytest.mark.parametrize("value", [-40.0, -7.5, -2.0, -1.19, -0.5, 0.0, 0.68, 3.0, 20.0, 150.0])
def test_rational_in_exp_is_an_identity_for_mish(value):
    outputs = [_X * sp.tanh(primitives.softplus(_X)),
               _X * primitives.sech2(primitives.softplus(_X)) * primitives.sigmoid(_X)
               + sp.tanh(primitives.softplus(_X))]
    lowered = rational_in_exp(outputs, _X)
    assert lowered is not None and all(not o.atoms(sp.tanh, primitives.sigmoid) for o in lowered)
    with mpmath.workdps(40):
        x = mpmath.mpf(value)
        sp_ = mpmath.log1p(mpmath.exp(x))
        want = [x * mpmath.tanh(sp_),
                mpmath.tanh(sp_) + x * mpmath.sech(sp_) ** 2 / (1 + mpmath.exp(-x))]
        for expr, w in zip(lowered, want):
            got = sp.lambdify(_X, _meaning(expr), "mpmath")(x)
            assert abs(got - w) <= mpmath.mpf("1e-30") * max(abs(w), 1), (expr, value, got, w)


def test_rational_in_exp_leaves_other_functions_alone():
    assert rational_in_exp([primitives.sigmoid(_X), primitives.softplus(_X)], _X) is None
    assert rational_in_exp([_X * primitives.sigmoid(_X)], _X) is None  # silu: no softplus composition
    assert rational_in_exp([sp.tanh(primitives.softplus(_X)) + primitives.softplus(_X)], _X) is None


def test_squared_clamps_keep_silu_grad_within_4_ulp_where_1_plus_p_rounds():
    # silu′ = P(x + 1 + P)/(1 + P)²: over the rounded D = 1 + P squared (σ·(x + D)/D,
    # the form before) it reached 4.68 ULP here, over D·(1 + P) 4.03, over
    # P(P + 2) + 1 3.57 (derive.codegen.squared_clamps)
    s, t = primitives.sigmoid(_X), primitives.sigmoid(-_X)
    assert squared_clamps([_X * s, (1 + _X * t) * s], {_X}) == {_X}
    assert squared_clamps([(1 + _X * t) * s, s * t], {_X}) == set()  # σσ′ needs P up to e^{709.78}
    x = np.linspace(-4.786, -4.779, 3001)
    got = numeric.silu_grad(x)
    with mpmath.workdps(40):
        errors = []
        for value, g in zip(x, got):
            v = mpmath.mpf(value)
            s_ = 1 / (1 + mpmath.exp(-v))
            want = s_ * (1 + v * (1 - s_))
            errors.append(float(abs(mpmath.mpf(g) - want)) / np.spacing(abs(float(want))))
    assert max(errors) <= 4.0, max(errors)
    # and the ends, where P·(P + 2) would overflow unclamped
    ends = numeric.silu_grad(np.array([354.89, 400.0, 709.78, 710.0, 1e300, np.inf]))
    assert (ends == 1.0).all(), ends


def _ulps_of_sech2(x, got):
    with mpmath.workdps(40):
        errors = []
        for value, g in zip(x, got):
            want = mpmath.sech(mpmath.mpf(value)) ** 2
            errors.append(float(abs(mpmath.mpf(g) - want)) / np.spacing(abs(float(want))))
    return np.array(errors)


#: the activations whose generated code has a second form, for a CPU where
#: NumPy's tanh is a scalar libm call (see numeric._support._scalar_math)
SCALAR_MATH_ENTRIES = [e for e in ACTIVATIONS
                       if hasattr(numeric.activations, f"_{e.name}_and_grad_on_scalar_math")]


@pytest.fixture(params=[False, True], ids=["vector-math", "scalar-math"])
def math_form(request, monkeypatch):
    """Each form of the generated code, whatever this CPU would take."""
    monkeypatch.setattr(numeric.activations, "_SCALAR_MATH", request.param)
    return request.param


def test_scalar_math_can_be_chosen_by_the_environment(monkeypatch):
    import subprocess

    code = "import numeric, numeric.activations as a; print(a._SCALAR_MATH, numeric.tanh_and_grad(0.25)[1])"
    seen = {}
    for value in ("0", "1"):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**__import__("os").environ, "NNDERIVE_SCALAR_MATH": value})
        seen[value] = done.stdout.split()
    assert seen["0"][0] == "False" and seen["1"][0] == "True"
    assert abs(float(seen["0"][1]) - float(seen["1"][1])) <= 1e-15  # sech²(0.25) = 0.94 either way
    monkeypatch.setenv("NNDERIVE_SCALAR_MATH", "yes")
    with pytest.raises(ValueError, match="NNDERIVE_SCALAR_MATH must be 0 or 1"):
        _support._scalar_math()
    monkeypatch.setenv("NNDERIVE_SCALAR_MATH", "1")
    assert _support._scalar_math() is True


def test_scalar_math_is_read_from_numpy_and_chooses_the_form(monkeypatch):
    monkeypatch.delenv("NNDERIVE_SCALAR_MATH", raising=False)
    assert isinstance(_support._scalar_math(), bool) and _support._SCALAR_MATH == _support._scalar_math()
    assert [e.name for e in SCALAR_MATH_ENTRIES] == ["tanh", "softplus"]
    x = np.linspace(-3, 3, 101)
    forms = {}
    for scalar in (False, True):
        monkeypatch.setattr(numeric.activations, "_SCALAR_MATH", scalar)
        forms[scalar] = numeric.tanh_and_grad(x)
    _assert_same(forms[True][0], numeric.activations._tanh_and_grad_on_scalar_math(x)[0])
    assert not np.array_equal(forms[True][0], forms[False][0])  # two forms, not one taken twice
    np.testing.assert_allclose(forms[True][0], forms[False][0], rtol=1e-15, atol=0)  # each within 1.4 ULP
    source = inspect.getsource(numeric.activations._tanh_and_grad_on_scalar_math)
    assert "np.tanh(w0[at_m0])" in source and source.count("np.exp(") == 1
    source = inspect.getsource(numeric.activations._softplus_and_grad_on_scalar_math)
    assert "np.log(" in source and "np.log1p" not in source


@pytest.mark.parametrize("entry", SCALAR_MATH_ENTRIES, ids=lambda e: e.name)
def test_both_math_forms_within_4_ulp_of_mpmath_without_warnings(entry, math_form):
    # f and f′ on the certificate's hard points, random points, and a scan through the
    # switch at |x| = 0.55, where tanh|x| = 1 − 2q takes over from np.tanh
    rng = np.random.default_rng(13)
    from derive.verify import reference

    hard = [5e-324, 1e-300, 1e-8, 0.5, 0.5493, 0.55, np.nextafter(0.55, 0), 0.6932, 0.6931, 1.0, 19.0,
            20.0, 37.0, 100.0, 354.0, 372.0, 400.0, 709.78, 710.0, 745.0, 1e4, 1e300]
    x = np.concatenate([hard, np.negative(hard), rng.uniform(0.45, 0.75, 300), -rng.uniform(0.45, 0.75, 300),
                        rng.normal(scale=3, size=300)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f, df = getattr(numeric, f"{entry.name}_and_grad")(x)
    tiny = np.finfo(np.float64).tiny
    # the textbook definition and SymPy's derivative of it, with digits added until
    # the rounded value stops changing (derive.verify.reference: 1 − tanh² at x = 100)
    definition = entry.definition.subs(entry.defaults) if entry.defaults else entry.definition
    definitions = [sp.lambdify(entry.variable, g, "mpmath")
                   for g in (definition, sp.diff(definition, entry.variable))]
    with mpmath.workdps(50):
        for value, got, got_prime in zip(x, f, df):
            truths = [reference(h, [float(value)]) for h in definitions]
            for label, want, g in zip(("f", "f'"), truths, (got, got_prime)):
                unit = max(np.spacing(abs(float(want))), tiny * np.finfo(np.float64).eps)
                error = float(abs(mpmath.mpf(g) - want)) / unit
                assert error <= 4, (entry.name, math_form, label, value, g, error)


@pytest.mark.parametrize("entry", SCALAR_MATH_ENTRIES, ids=lambda e: e.name)
def test_scalar_math_forms_agree_bit_for_bit(entry, math_form):
    _forms_agree_bit_for_bit(entry)


def test_sech2_without_division_is_closer_than_4e_over_1_plus_e_squared(math_form):
    # vector math: sech² = e₂(1 + a(2 + a)), a = |tanh x|: 4e₂/(1 + e₂)/(1 + e₂), the
    # form before, was 3.6-3.8 ULP at these points of a 300,000-point scan of [0, 3],
    # and e₂(1 + a)² (a rounded 1 + a squared) 3.6-3.8 at the last four.  Scalar
    # math (no tanh): 4(q − q²), q = e₂/(1 + e₂), within 3.1 on 1e6 points of [1, 3] with
    # glibc's exp; NumPy's exp is less accurate where it is SVML's: the catalogue's bound
    bound = 4.0 if math_form else 2.5
    x = np.array([1.7144354171447942, 2.0728002759944526, 1.3481871678976616, 1.3219299493668883,
                  2.7694550526675266, 0.22267853762537593, 0.8929050040533233,
                  0.16866126458061623, 0.1331500510063972])
    x = np.concatenate([x, -x, np.random.default_rng(11).uniform(-3, 3, 3000)])
    for got in (numeric.tanh_grad(x), numeric.tanh_and_grad(x)[1]) + ((_kernels.sech2(x),) if not math_form else ()):
        errors = _ulps_of_sech2(x, got)
        assert errors.max() <= bound, (x[errors.argmax()], errors.max())
    # no division: tanh′ is two multiplications and an exponential beside tanh
    if not math_form:
        lines = [line for line in inspect.getsource(numeric.tanh_and_grad).splitlines()
                 if "np." in line and "_on_scalar_math" not in line]
        assert not any("divide" in line for line in lines), lines
    far = np.array([-354.0, -300.0, 20.0, 19.1, 350.0])  # e₂ small, the result normal
    assert _ulps_of_sech2(far, numeric.tanh_grad(far)).max() <= bound
    ends = numeric.tanh_grad(np.array([-np.inf, -1e308, -400.0, 0.0, 1e308, np.inf]))
    assert ends.tolist() == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0]


def test_mish_grad_numerator_over_the_shared_b_stays_within_4_ulp():
    # mish′ = P·N/D² with N = (P + 2)·B + ((4x + 2)P + 4x + 4), B = P(P + 2) the
    # forward's: 5.30 ULP here with N in Horner form in P (the form before)
    x = np.linspace(0.773, 0.7745, 1501)
    got = numeric.mish_grad(x)
    with mpmath.workdps(40):
        errors = []
        for value, g in zip(x, got):
            v = mpmath.mpf(value)
            t = mpmath.tanh(mpmath.log1p(mpmath.exp(v)))
            want = t + v * (1 - t**2) / (1 + mpmath.exp(-v))
            errors.append(float(abs(mpmath.mpf(g) - want)) / np.spacing(abs(float(want))))
    assert max(errors) <= 4.0, max(errors)


def test_clamped_exp_arguments():
    s, t = primitives.sigmoid(_X), primitives.sigmoid(-_X)
    assert clamped_exp_arguments([s, s * t]) == {_X}
    assert clamped_exp_arguments([t]) == {-_X}
    assert clamped_exp_arguments([_X * s, primitives.softplus(_X)]) == {_X}  # σ(u) is exact everywhere
    assert clamped_exp_arguments([s, _X * s * t]) == set()  # σ(−x)'s clamp would be multiplied by x
    assert clamped_exp_arguments([s, primitives.softplus(-_X)]) == set()  # shares e^{-|x|} instead
    assert clamped_exp_arguments([_X * sp.tanh(primitives.softplus(_X))]) == set()  # mish: σ(−x) inside


def test_whole_sigmoids_lowered_without_a_select_and_exact_at_the_ends():
    (s, g), lines = _run_emitted([lower_primitives(e.xreplace({_X: XB}), {XB}) for e in WHOLE_CASES],
                                 [-1e300, -800.0, -745.0, -40.0, 0.0, 40.0, 709.0, 800.0, 1e300])
    assert not any("maximum" in line or "greater" in line for line in lines), lines
    with mpmath.workdps(40):
        for value, got_s, got_g in zip([-1e300, -800.0, -745.0, -40.0, 0.0, 40.0, 709.0], s, g):
            want = 1 / (1 + mpmath.exp(-mpmath.mpf(value)))
            assert abs(got_s - want) <= 2 * max(np.spacing(float(want)), 0), (value, got_s)
            want_g = want * (1 - want) if value <= 0 else mpmath.exp(-mpmath.mpf(value)) * want**2
            assert abs(got_g - want_g) <= 4 * max(np.spacing(float(want_g)), 5e-324), (value, got_g)
    # above x = 709.78 σ' is the clamped 5.6e-309: a quarter of the smallest normal number
    assert s[-1] == s[-2] == 1.0 and 0 < g[-1] == g[-2] < np.finfo(float).tiny / 3


def test_lower_primitives_pairs_sigmoids():
    lowered = lower_primitives(primitives.sigmoid(_X) * primitives.sigmoid(-_X))
    e = sp.exp(-sp.Abs(_X))
    assert sp.simplify(lowered - e / (1 + e) ** 2) == 0
    assert not lowered.atoms(_Maximum, _NonNegative)  # one of the two maxima is 1: none is left


def test_lower_primitives_shares_one_exponential():
    expr = primitives.sigmoid(_X) + primitives.sigmoid(-_X) + primitives.softplus(_X) \
        + primitives.softplus(-_X)
    exponentials = lower_primitives(expr).atoms(sp.exp)
    assert exponentials == {sp.exp(-sp.Abs(_X))}


@pytest.mark.parametrize("expr", LOWERED_CASES[:5], ids=str)
def test_lowered_primitives_emit_the_kernels_bit_for_bit(expr):
    """σ(±x), softplus(±x), sech²(x) lowered and emitted compute what their kernels compute."""
    kernel = getattr(_kernels, type(expr).numpy_kernel)
    argument = expr.args[0]
    x = np.array(SPECIALS[:-3] + list(np.random.default_rng(4).normal(scale=10, size=200)))
    (got,), lines = _run_emitted([lower_primitives(expr.xreplace({_X: XB}))], x)
    want = kernel(-x if argument.could_extract_minus_sign() else x)
    _assert_same(got, want, f"{expr}: {lines}")


# ---------------------------------------------------------------- fused kernels

_LOGISTIC = ("sigmoid", "sigmoid_neg", "softplus", "softplus_neg")
_SOFTMAX = ("softmax", "softmax_complement", "log_softmax", "logsumexp")


def _single_logistic(name, u):
    kernel = _kernels.sigmoid if name.startswith("sigmoid") else _kernels.softplus
    return kernel(-u if name.endswith("_neg") else u)


def _kernel_inputs(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    values = np.concatenate([SPECIALS, rng.normal(scale=30, size=max(size, 1))])
    rng.shuffle(values)
    values = values[:size] if size else values[:0]
    return _f32(values).reshape(shape) if dtype == np.float32 else values.reshape(shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (7,), (3, 4), (23,), (40000,)])
def test_logistic_equals_the_single_kernels(dtype, shape):
    u = _kernel_inputs(dtype, shape, 5)
    if shape == (23,):
        u = np.array(_f32(SPECIALS) if dtype == np.float32 else SPECIALS, dtype)
    singles = {name: _single_logistic(name, u) for name in _LOGISTIC}
    for size in range(1, 5):
        for wanted in itertools.permutations(_LOGISTIC, size):
            got = _kernels.logistic(u, *wanted)
            assert isinstance(got, tuple) and len(got) == len(wanted)
            for name, value in zip(wanted, got):
                assert value.dtype == dtype and value.shape == u.shape
                _assert_same(value, singles[name], f"logistic {wanted} → {name}")


def test_logistic_on_a_non_contiguous_input_and_python_scalars():
    u = _kernel_inputs(np.float64, (3000,), 6)[::3]
    for name, value in zip(_LOGISTIC, _kernels.logistic(u, *_LOGISTIC)):
        _assert_same(value, _single_logistic(name, u), name)
    s, = _kernels.logistic(2.0, "sigmoid")
    assert s.dtype == np.float64 and float(s) == pytest.approx(1 / (1 + np.exp(-2.0)), rel=1e-15)


def test_logistic_values_against_mpmath():
    u = np.concatenate([np.linspace(-745, 745, 301), [0.0, 1e-20, -1e-20]])
    got = dict(zip(_LOGISTIC, _kernels.logistic(u, *_LOGISTIC)))
    with mpmath.workdps(30):
        for i, v in enumerate(u):
            v = mpmath.mpf(float(v))
            truth = {"sigmoid": 1 / (1 + mpmath.exp(-v)), "sigmoid_neg": 1 / (1 + mpmath.exp(v)),
                     "softplus": mpmath.log1p(mpmath.exp(v)), "softplus_neg": mpmath.log1p(mpmath.exp(-v))}
            for name, want in truth.items():
                want = float(want)
                assert abs(got[name][i] - want) <= 4 * np.spacing(abs(want)) + 1e-320, (name, u[i])


def test_logistic_unknown_member_is_named():
    with pytest.raises(ValueError, match="sigmod"):
        _kernels.logistic(np.zeros(3), "sigmoid", "sigmod")
    with pytest.raises(ValueError, match="softmax"):
        _kernels.logistic(np.zeros(3), "softmax")


def _softmax_inputs(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=5, size=shape)
    if len(shape) >= 1 and z.size >= 8:
        flat = z.reshape(-1)
        flat[:8] = [0.0, -0.0, 710.0, -710.0, 800.0, -800.0, 1e300, -1e300]
        if shape[-1] >= 3:  # a tied maximum in one row
            z.reshape(-1, shape[-1])[-1, :2] = 9.0
    if dtype == np.float32:
        return _f32(z)
    return z


def _single_softmax(name, z):
    return getattr(_kernels, name)(z)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5), (1, 1), (600, 40), (5000, 7)])
def test_softmax_family_equals_the_single_kernels(dtype, shape):
    z = _softmax_inputs(dtype, shape, 7)
    with np.errstate(all="ignore"):  # ±1e300 - max overflows to -inf by design
        singles = {name: _single_softmax(name, z) for name in _SOFTMAX}
        for size in range(1, 5):
            for wanted in itertools.permutations(_SOFTMAX, size):
                got = _kernels.softmax_family(z, *wanted)
                assert len(got) == size
                for name, value in zip(wanted, got):
                    width = 1 if name == "logsumexp" else shape[-1]
                    assert value.dtype == dtype and value.shape == shape[:-1] + (width,)
                    _assert_same(value, singles[name], f"softmax_family {wanted} → {name}")


@pytest.mark.parametrize("values", [[np.nan, 0.0, 1.0], [np.inf, 0.0, 1.0], [-np.inf, 0.0, 1.0],
                                    [-np.inf, -np.inf, -np.inf], [5e-324, -5e-324, 0.0]])
def test_softmax_family_special_rows(values):
    z = np.array([values, [1.0, 2.0, 3.0]])
    with np.errstate(all="ignore"):
        got = _kernels.softmax_family(z, *_SOFTMAX)
        for name, value in zip(_SOFTMAX, got):
            _assert_same(value, _single_softmax(name, z), name)


def test_softmax_family_on_a_zero_dimensional_input_raises_like_the_single_kernels():
    z = np.float64(1.0)
    with pytest.raises(Exception) as single:
        _kernels.softmax(z)
    with pytest.raises(type(single.value)):
        _kernels.softmax_family(z, "softmax", "log_softmax")


def test_softmax_family_values_against_mpmath():
    rng = np.random.default_rng(8)
    z = rng.normal(scale=20, size=(300, 6))
    softmax, complement, log_softmax, lse = _kernels.softmax_family(z, *_SOFTMAX)
    with mpmath.workdps(80):  # log p for p = 1 − 1e-22 needs the digits
        for i in range(0, 300, 7):
            row = [mpmath.mpf(float(v)) for v in z[i]]
            exps = [mpmath.exp(v) for v in row]
            total = mpmath.fsum(exps)
            assert abs(lse[i, 0] - float(mpmath.log(total))) <= 4 * np.spacing(abs(lse[i, 0]))
            for j, v in enumerate(row):
                p = exps[j] / total
                others = mpmath.fsum(exps[:j] + exps[j + 1:]) / total  # 1 − p, without cancellation
                for got, want in ((softmax[i, j], p), (complement[i, j], others),
                                  (log_softmax[i, j], mpmath.log(p))):
                    want = float(want)
                    assert abs(got - want) <= 8 * np.spacing(abs(want)) + 1e-320, (i, j, got, want)


@pytest.mark.parametrize("case", ["below the maximum", "all negative", "mixed"])
def test_shifted_recovers_the_exact_rounding_error_on_every_path(case):
    # Fast2Sum of min(z, −max) and max(z, −max), whichever of z and max is the
    # larger in magnitude: lost must be (z − max) − shifted exactly, checked in
    # rational arithmetic
    from fractions import Fraction

    rng = np.random.default_rng(21)
    z = rng.normal(scale=300, size=(400, 6)) * 10.0 ** rng.integers(-20, 3, size=(400, 6))
    if case == "below the maximum":
        z[:, 0] = np.abs(z).max(axis=1) * 1.5
    elif case == "all negative":
        z = -np.abs(z)
    for shifted, lost, _, _, top, _, _ in _kernels._shifted(z):
        tops = top.reshape(-1)
        for (i, j), value in np.ndenumerate(z.T):  # the work layout: classes first
            exact = Fraction(float(value)) - Fraction(float(tops[j])) - Fraction(float(shifted[i, j]))
            assert Fraction(float(lost[i, j])) == exact, (case, value, tops[j])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(20000, 7), (700, 100), (3, 2, 5)])
def test_blocked_row_loss_matches_the_whole_array_formula(dtype, shape):
    # the generated loop over blocks of rows against the derivation's formula
    # evaluated on whole arrays with the fused kernel: soft targets, several blocks
    rng = np.random.default_rng(5)
    pred = rng.normal(scale=4, size=shape).astype(dtype)
    target = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]).astype(dtype)
    value, gradient = numeric.softmax_cross_entropy_and_grad(pred, target)
    log_p, p, q = _kernels.softmax_family(pred.astype(np.float64), "log_softmax", "softmax", "softmax_complement")
    t = target.astype(np.float64)
    n = pred.size // shape[-1]
    want_value = -np.sum(log_p * t) / n
    want_gradient = (p * (1 - t) - q * t) / n
    assert value.dtype == dtype and gradient.dtype == dtype and gradient.shape == shape
    np.testing.assert_allclose(value, want_value, rtol=1e-13 if dtype == np.float64 else 1e-6)
    # softmax − y cancels where p ≈ y: the kernel's ((e − y) − y·s)/(1 + s) and the
    # derivation's p(1 − y) − y(1 − p) agree to a few units of max(p, y)/N
    scale = np.maximum(p, t) / n * np.finfo(dtype).eps
    assert np.all(np.abs(gradient - want_gradient) <= 3 * scale)


def test_softmax_residual_against_mpmath():
    # softmax(z) − y from the kernel's terms, against 40 digits.  Where one logit
    # dominates and its label is 1, p − y is tiny but well conditioned: relative
    # error.  Where p ≈ y for soft targets the difference is ill conditioned in
    # the inputs: error in units of max(p, y), as any formula from rounded p.
    cases = [([40.0, -0.5, 0.0], [1.0, 0.0, 0.0], "relative"), ([700.0, -700.0, 1e4], [0.0, 0.0, 1.0], "relative"),
             ([30.0, 30.0, -5.0], [0.5, 0.5, 0.0], "max"), ([1.0, 2.0, 3.0], [0.09, 0.24, 0.67], "max"),
             ([-1e4, 0.0, 1e-300], [0.2, 0.3, 0.5], "max")]
    for logits, labels, unit in cases:
        z, y = np.array([logits]), np.array([labels])
        (residual,), _, _, _ = next(iter(_kernels.softmax_rows(z, ("softmax_residual",), (y,))))
        with mpmath.workdps(40):
            e = [mpmath.exp(mpmath.mpf(v)) for v in logits]
            p = [float(v / sum(e)) for v in e]
            want = [e[j] / sum(e) - mpmath.mpf(labels[j]) for j in range(3)]
        for j, (got, exact) in enumerate(zip(residual.T[0], want)):
            scale = abs(float(exact)) if unit == "relative" else max(p[j], labels[j])
            assert abs(float(got) - float(exact)) <= 2 * np.spacing(max(scale, np.finfo(float).tiny)), \
                (logits, labels, got, exact)


def test_masked_logits_get_probability_zero_without_warnings():
    # −inf marks a masked logit (attention masks): its probability is 0 and its
    # log-probability −inf; the other entries are the softmax of the rest
    z = np.array([[0.0, -np.inf, 1.0, -np.inf], [3.0, -1.0, -np.inf, 2.0], [1.0, 2.0, 3.0, 4.0]])
    y = np.array([[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    with np.errstate(all="raise"):
        softmax, log_softmax = _kernels.softmax_family(z, "softmax", "log_softmax")
        (residual,), _, _, _ = next(iter(_kernels.softmax_rows(z, ("softmax_residual",), (y,))))
    for row, p, logp, r, labels in zip(z, softmax, log_softmax, residual.T, y):
        kept = np.isfinite(row)
        with mpmath.workdps(40):
            e = [mpmath.exp(mpmath.mpf(float(v))) for v in row[kept]]
            want = [float(v / mpmath.fsum(e)) for v in e]
        np.testing.assert_allclose(p[kept], want, rtol=4e-16)
        assert np.all(p[~kept] == 0) and np.all(logp[~kept] == -np.inf)
        np.testing.assert_allclose(np.exp(logp[kept]), want, rtol=4e-15)
        np.testing.assert_allclose(r, p - labels, atol=4e-16)


def test_cross_entropy_of_masked_logits_is_that_of_the_rest():
    # a target of 0 on a masked logit adds 0·log 0 = 0 (the xlogy convention),
    # as if the class were not there; a target on a masked class costs +inf
    z = np.array([[0.0, -np.inf, 1.0, 2.0], [3.0, -1.0, -np.inf, 2.0]])
    y = np.array([[0.0, 0.0, 0.25, 0.75], [1.0, 0.0, 0.0, 0.0]])
    kept = np.array([[0, 2, 3], [0, 1, 3]])
    with np.errstate(all="raise"):
        value, gradient = numeric.softmax_cross_entropy_and_grad(z, y)
        want, want_gradient = numeric.softmax_cross_entropy_and_grad(
            np.take_along_axis(z, kept, 1), np.take_along_axis(y, kept, 1))
    assert value == numeric.softmax_cross_entropy(z, y)
    np.testing.assert_allclose(value, want, rtol=1e-15)
    np.testing.assert_allclose(np.take_along_axis(gradient, kept, 1), want_gradient, rtol=1e-15, atol=1e-17)
    assert gradient[0, 1] == 0 and gradient[1, 2] == 0
    assert numeric.softmax_cross_entropy(z, np.array([[0, 1.0, 0, 0], [1.0, 0, 0, 0]])) == np.inf


def test_softmax_rows_into_an_output_needs_a_divided_member():
    z = np.zeros((2, 3))
    out = np.empty_like(z)
    rows = _kernels.softmax_rows(z, ("softmax",), (), (out,), into=("softmax", 0, 4.0))
    for _ in rows:
        pass
    np.testing.assert_array_equal(out, np.full((2, 3), 1 / 12))
    with pytest.raises(ValueError, match="'log_softmax' into output 0"):
        next(iter(_kernels.softmax_rows(z, ("log_softmax",), (), (out,), into=("log_softmax", 0, 4.0))))
    with pytest.raises(ValueError, match="into output 1"):
        next(iter(_kernels.softmax_rows(z, ("softmax",), (), (out,), into=("softmax", 1, 4.0))))


def test_softmax_family_unknown_member_is_named():
    with pytest.raises(ValueError, match="logsumexpp"):
        _kernels.softmax_family(np.zeros((2, 3)), "softmax", "logsumexpp")
    with pytest.raises(ValueError, match="sigmoid"):
        _kernels.softmax_family(np.zeros((2, 3)), "sigmoid")


# ---------------------------------------------------------------- normal


def test_normal_members_against_mpmath():
    # Φ and φ from one pass: the fitted e^{a²/2}·Φ(−a) of derive/fits.py, both
    # signs (Φ(−a) and 1 − Φ(−a)), the exactly squared exponent, several
    # blocks of 16000 elements
    rng = np.random.default_rng(31)
    x = np.concatenate([rng.normal(scale=4, size=40000), np.linspace(-38.4, 8.3, 997),
                        [-1.0, np.nextafter(-1.0, 0), np.nextafter(-1.0, -2), 0.0, -0.0, 5e-324, -5e-324,
                         -1e-9, 1e-9, -37.5, -38.5]])
    cdf, pdf = _kernels.normal(x, "ndtr", "gauss")
    np.testing.assert_array_equal(cdf, _kernels.ndtr(x))
    np.testing.assert_array_equal(pdf, _kernels.gauss(x))
    tiny = np.finfo(np.float64).tiny
    worst = 0.0
    with mpmath.workdps(40):
        for v, c, d in list(zip(x[::37], cdf[::37], pdf[::37])) + list(zip(x[-11:], cdf[-11:], pdf[-11:])):
            m = mpmath.mpf(float(v))
            want_c = mpmath.ncdf(m)
            want_d = mpmath.npdf(m)
            # a value below the smallest normal number counts in its units
            ulp_c = float(abs(c - want_c)) / max(np.spacing(float(want_c)), tiny)
            worst = max(worst, ulp_c)
            assert ulp_c <= 3.5, (v, c, want_c)  # 3.2 ULP at most on 24,000 points of [−40, 40]
            assert abs(d - want_d) <= 3 * max(np.spacing(float(want_d)), tiny), (v, d, want_d)
    assert worst > 0.5  # the comparison is live: a rounded result is not always the nearest


def test_normal_special_values_and_float32():
    x = np.array([np.nan, np.inf, -np.inf, 40.0, -40.0, 1e300, -1e300])
    cdf, pdf = _kernels.normal(x, "ndtr", "gauss")
    np.testing.assert_array_equal(cdf, [np.nan, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(pdf, [np.nan, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    x32 = np.linspace(-12, 6, 301, dtype=np.float32)
    cdf32, pdf32 = _kernels.normal(x32, "ndtr", "gauss")
    assert cdf32.dtype == pdf32.dtype == np.float32
    cdf64, pdf64 = _kernels.normal(x32.astype(np.float64), "ndtr", "gauss")
    np.testing.assert_array_equal(cdf32, cdf64.astype(np.float32))
    np.testing.assert_array_equal(pdf32, pdf64.astype(np.float32))
    with pytest.raises(ValueError, match="erf"):
        _kernels.normal(x, "ndtr", "erf")


# ---------------------------------------------------------------- activations


def _activation_inputs(size=40000, seed=9):
    rng = np.random.default_rng(seed)
    parts = [rng.normal(scale=3, size=size // 2), rng.normal(scale=40, size=size // 4),
             rng.uniform(-1e-3, 1e-3, size=size // 8)]
    x = np.concatenate(parts + [np.array(SPECIALS)])
    x = np.concatenate([x, rng.standard_cauchy(size=size - x.size)])
    rng.shuffle(x)
    return x


def _params(entry):
    return [{}] + ([{p.name: 0.3 + 0.1 * i for i, p in enumerate(entry.params)}] if entry.params else [])


@pytest.mark.parametrize("entry", ACTIVATIONS, ids=lambda e: e.name)
def test_activation_forms_agree_bit_for_bit(entry):
    _forms_agree_bit_for_bit(entry)


def _forms_agree_bit_for_bit(entry):
    f, df, both = (getattr(numeric, n) for n in contract_names(entry))
    x = _activation_inputs(360000)
    assert x.size > 2 * _support.LONG_BLOCK > 2 * _support.BLOCK  # several blocks of either length
    inputs = [x, x[::2], x.reshape(600, 600), x[::-1], x[:_support.BLOCK + 1], x[:_support.LONG_BLOCK + 1],
              np.float64(-0.75), np.array(2.5), np.empty(0), np.empty((3, 0)), _f32(x), _f32(x)[1::3],
              np.float32(0.25), np.asfortranarray(x.reshape(1800, 200)),
              np.broadcast_to(np.float64(1.5), (_support.LONG_BLOCK + 1000,))]
    for kwargs in _params(entry):
        for a in inputs:
            kept = np.array(a, copy=True)
            with np.errstate(invalid="ignore"):  # f(±inf) may be inf·0 (silu, gelu, …)
                y, dy = both(a, **kwargs)
                fy, gy = f(a, **kwargs), df(a, **kwargs)
            _assert_same(a, kept, f"{entry.name} changed its input")
            what = f"{entry.name}{kwargs} on {np.shape(a)} {np.asarray(a).dtype}"
            _assert_same(y, fy, what)
            _assert_same(dy, gy, what)
            dtype = np.asarray(a).dtype
            for out in (y, dy, fy, gy):
                assert out.dtype == dtype and np.shape(out) == np.shape(a), what
                if np.ndim(a) == 0:
                    assert isinstance(out, np.generic), (what, type(out))


@pytest.mark.parametrize("entry", ACTIVATIONS, ids=lambda e: e.name)
def test_activations_at_infinity_are_their_limits(entry):
    # against SymPy's limits of the textbook definition and its derivative
    # (gelu′ at +∞ through the derivative's own clamped x, gelu itself +∞)
    x = entry.variable
    f = entry.definition.subs(entry.defaults) if entry.defaults else entry.definition
    with np.errstate(all="ignore"):
        values = getattr(numeric, entry.name + "_and_grad")(np.array([-np.inf, np.inf]))
    for side, sign in ((0, -1), (1, 1)):
        for label, g, got in (("f", f, values[0][side]), ("f'", sp.diff(f, x), values[1][side])):
            limit = _limit(g, x, sign)
            if np.isinf(limit):
                assert got == limit, (entry.name, label, sign, got, limit)
            else:  # sigmoid′(+∞) is 5.6e−309, within the subnormal unit (see the README)
                bound = max(np.finfo(np.float64).tiny, 2 * np.spacing(abs(limit)))  # selu(−∞) = −λα, rounded
                assert abs(got - limit) <= bound, (entry.name, label, sign, got, limit)


def _limit(g, x, sign) -> float:
    """lim g(x) for x → sign·∞; a piecewise g (SymPy's limit fails on some) at x = ±10⁴⁰⁰."""
    try:
        limit = sp.limit(g, x, sign * sp.oo)
        if limit.is_extended_real:
            return float(limit)
    except (TypeError, ValueError, NotImplementedError):
        pass
    return float(g.subs(x, sign * sp.Integer(10) ** 400).evalf(30))


@pytest.mark.parametrize("entry", ACTIVATIONS, ids=lambda e: e.name)
def test_activation_accepts_lists_and_integers_as_float64(entry):
    f, df, both = (getattr(numeric, n) for n in contract_names(entry))
    for a in ([-3, 0, 2], [[1.5, -0.25]], np.arange(-5, 5)):
        want = np.asarray(a, np.float64)
        y, dy = both(a)
        _assert_same(y, f(want), entry.name)
        _assert_same(dy, df(want), entry.name)
        _assert_same(y, both(want)[0], entry.name)


@pytest.mark.parametrize("entry", ACTIVATIONS, ids=lambda e: e.name)
def test_activation_values_do_not_depend_on_an_infinite_neighbour(entry):
    # the clamp at ±1e300 runs only when some x is beyond it (found by one scan
    # before the loop): where it runs it must be the identity on every other x
    x = _activation_inputs(20000, 12)
    x = x[np.isfinite(x)]
    fn = getattr(numeric, entry.name + "_and_grad")
    alone = fn(x)
    for extreme in (-np.inf, np.inf, -1e308, 1e308):
        with_it = fn(np.append(x, extreme))
        for a, b in zip(alone, with_it):
            _assert_same(b[:-1], a, f"{entry.name} beside {extreme}")


@pytest.mark.parametrize("entry", ACTIVATIONS, ids=lambda e: e.name)
def test_activation_values_do_not_depend_on_whether_every_x_is_tame(entry):
    # where every x ≤ TAME_BOUND the generated sigmoid, softplus, silu and mish
    # skip their clamp (and softplus its max: derive.codegen.tame_outputs); one
    # x above it takes the general path, which must give the same bits on every
    # other x
    rng = np.random.default_rng(20)
    top = TAME_BOUND
    x = np.concatenate([rng.uniform(-800.0, top, 20000), rng.uniform(top - 5.0, top, 5000),
                        top - np.arange(200) * np.spacing(top), [top, 0.0, -0.0, np.nan, -np.inf]])
    fn = getattr(numeric, entry.name + "_and_grad")
    with np.errstate(invalid="ignore"):
        alone = fn(x)
        for beyond in (np.nextafter(top, np.inf), 709.78, 710.0, 1e4, np.inf):
            with_it = fn(np.append(x, beyond))
            for a, b in zip(alone, with_it):
                _assert_same(b[:-1], a, f"{entry.name} beside {beyond}")


def test_extremes_are_asked_of_each_block():
    # the clamp, the tame variant and the tails are chosen by the least and
    # greatest e^x of each block (a reduction over a block in cache, where
    # one over x waits for it to come from memory), the clamp and tails then
    # by the least x of a block that is not tame, and the tails by those of
    # all blocks: an outlier in one block leaves the others on the short
    # path, and a tail in any block is refined
    source = inspect.getsource(numeric.silu_and_grad)
    assert "_lowest(w0) >= " in source and "_highest(w0) <= " in source and "low = _lowest(xb)" in source
    assert "_lowest(x)" not in source and "_highest(x)" not in source
    assert "long=True" in source and "long=True" in inspect.getsource(numeric.sigmoid_and_grad)
    size = _support.LONG_BLOCK  # (both loops call no kernel: long blocks)
    rng = np.random.default_rng(21)
    x = rng.normal(0.0, 3.0, 3 * size)
    for where in (10, size + 10, 3 * size - 1):  # the first, a middle and the last block
        y = x.copy()
        y[where] = 800.0  # beyond sigmoid′'s clamp: refined to its true value, 0
        y[where - 5] = -1e301  # clamped to −1e300 in its block alone
        s, ds = numeric.sigmoid_and_grad(y)
        assert ds[where] == 0.0 and s[where] == 1.0
        _assert_same(np.delete(ds, [where, where - 5]), numeric.sigmoid_grad(np.delete(y, [where, where - 5])),
                     f"sigmoid′ beside an outlier at {where}")
        f, df = numeric.silu_and_grad(y)
        assert f[where - 5] == -0.0 and df[where - 5] == 0.0 and f[where] == 800.0 and df[where] == 1.0
        _assert_same(np.delete(df, [where, where - 5]), numeric.silu_grad(np.delete(y, [where, where - 5])),
                     f"silu′ beside an outlier at {where}")


def test_softplus_tame_path_is_taken_and_guarded():
    source = inspect.getsource(numeric.softplus_and_grad)
    assert f"if _highest(w0) <= {float(np.exp(TAME_BOUND))!r}:" in source and "np.maximum(xb, w1, out=b0)" in source
    # the property that makes the max the identity there, checked where it is tightest
    x = np.concatenate([np.linspace(0.0, TAME_BOUND, 200001), TAME_BOUND - np.arange(10000) * 1e-12])
    assert (np.log1p(np.exp(x)) >= x).all()
    # and the reason the general path keeps it: beyond 709.78 the clamped P gives log1p(P) < x
    assert numeric.softplus(np.array([800.0]))[0] == 800.0


@pytest.mark.parametrize("name", ["sigmoid_and_grad", "softplus_and_grad", "silu_and_grad", "mish_and_grad"])
def test_the_tried_exponential_chooses_the_variant_without_a_warning(name):
    # the tame variant's first step, e^x of the whole block, is tried on every
    # block: where it overflows (x > 709.78) or leaves an x in a tail or the
    # clamp unseen (e^x subnormal or 0), the block takes the general variant,
    # with no RuntimeWarning of the tried step, and gives what the block
    # without the outlier gives elsewhere
    fn = getattr(numeric, name)
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 3.0, 2 * _support.LONG_BLOCK)
    alone = fn(x)
    for outlier in (20.5, 400.0, 709.79, 800.0, 1e300, np.inf, -709.0, -746.0, -1e301, -np.inf):
        y = x.copy()
        y[-7] = outlier
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with_it = fn(y)
        for a, b in zip(alone, with_it):
            _assert_same(np.delete(b, -7), np.delete(a, -7), f"{name} beside {outlier}")
        one = fn(np.array([outlier]))
        for a, b in zip(one, with_it):
            assert np.array_equal(a, b[-7:-6], equal_nan=True), (name, outlier)


def test_sech2_past_the_overflow_of_minus_2x_is_zero_without_a_warning():
    # −2|x| overflows to −inf past |x| = 8.99e307 (3.4e38 / 2 in float32): the
    # product is taken with the overflow warning silenced (_QuietProduct), e^{−inf}
    # = 0 is sech²'s limit, and nothing else in the call is silenced
    activations = sys.modules["numeric.activations"]
    functions = [numeric.tanh_grad, lambda x: numeric.tanh_and_grad(x)[1], _kernels.sech2,
                 activations._tanh_grad_on_scalar_math, lambda x: activations._tanh_and_grad_on_scalar_math(x)[1]]
    for dtype, huge in ((np.float64, 1.7e308), (np.float32, 3e38)):
        x = np.array([huge, -huge, np.inf, -np.inf, 0.3, -20.0], dtype)
        want = np.array([0.0, 0.0, 0.0, 0.0, float(mpmath.sech(0.3) ** 2), float(mpmath.sech(-20.0) ** 2)])
        for fn in functions:
            with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
                warnings.simplefilter("error")
                got = fn(x)
            assert got.dtype == dtype
            np.testing.assert_allclose(got, want.astype(dtype), rtol=4 * np.finfo(dtype).eps, atol=0)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):  # the caller's state is kept
        np.multiply(np.float64(1.7e308), -2.0)


@pytest.mark.parametrize("entry", ACTIVATIONS, ids=lambda e: e.name)
def test_activation_float32_is_float64_rounded_once(entry):
    x32 = _f32(_activation_inputs(5000, 10))
    x64 = x32.astype(np.float64)
    for name in contract_names(entry):
        fn = getattr(numeric, name)
        with np.errstate(invalid="ignore", over="ignore"):
            got, want = fn(x32), fn(x64)
            got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
            want = tuple(w.astype(np.float32) for w in want)
        for g, w in zip(got, want):
            _assert_same(g, w, name)


@pytest.mark.parametrize("entry", ACTIVATIONS, ids=lambda e: e.name)
def test_activation_blocks_match_elementwise_evaluation(entry):
    """A block boundary changes nothing: the whole array equals its pieces evaluated alone."""
    x = _activation_inputs(2 * _support.LONG_BLOCK + 10000, 11)
    y, dy = getattr(numeric, entry.name + "_and_grad")(x[np.isfinite(x)])
    xs = x[np.isfinite(x)]
    edges = [k * n for n in (_support.BLOCK, _support.LONG_BLOCK) for k in (1, 2)]  # either length's
    assert xs.size > max(edges) + 5
    for start, stop in [(0, 5)] + [(edge - 5, edge + 10) for edge in edges] + [(xs.size - 3, xs.size)]:
        piece_y, piece_dy = getattr(numeric, entry.name + "_and_grad")(xs[start:stop])
        _assert_same(piece_y, y[start:stop], entry.name)
        _assert_same(piece_dy, dy[start:stop], entry.name)


_MP_FUNCTIONS = {
    "sigmoid": lambda v: 1 / (1 + mpmath.exp(-v)),
    "softplus": lambda v: mpmath.log1p(mpmath.exp(v)),
    "tanh": mpmath.tanh,
    "silu": lambda v: v / (1 + mpmath.exp(-v)),
    "sigmoid_grad": lambda v: mpmath.exp(-v) / (1 + mpmath.exp(-v)) ** 2,
    "softplus_grad": lambda v: 1 / (1 + mpmath.exp(-v)),
    "tanh_grad": lambda v: mpmath.sech(v) ** 2,
}


@pytest.mark.parametrize("name", sorted(_MP_FUNCTIONS))
def test_float32_activations_within_one_ulp_of_mpmath(name):
    rng = np.random.default_rng(12)
    x32 = _f32(np.concatenate([np.linspace(-104, 90, 150), rng.normal(scale=4, size=150),
                               [0.0, -0.0, 1e-30, -1e-30, 1e-45, 3e38, -3e38]]))
    got = getattr(numeric, name)(x32)
    assert got.dtype == np.float32
    truth = _MP_FUNCTIONS[name]
    with mpmath.workdps(30):
        for value, y in zip(x32, got):
            want = truth(mpmath.mpf(float(value)))
            ulp = np.spacing(np.abs(np.float32(float(want))), dtype=np.float32)
            assert abs(mpmath.mpf(float(y)) - want) <= float(ulp), (name, value, y, want)


# ---------------------------------------------------------------- losses


def _loss_inputs(entry, shape, dtype, seed):
    rng = np.random.default_rng(seed)
    if entry.domain == (0.0, 1.0):
        pred = rng.uniform(0.01, 0.99, size=shape)
    else:
        pred = rng.normal(scale=3, size=shape)
        if pred.size >= 4:
            pred.reshape(-1)[:4] = [40.0, -40.0, 0.0, 700.0]
    if entry.target_kind == "sign":
        target = rng.choice([-1.0, 1.0], size=shape)
        if pred.size >= 2:  # the kink y·ŷ = 1
            pred.reshape(-1)[:2] = target.reshape(-1)[:2]
    elif entry.target_kind == "distribution":
        rows = int(np.prod(shape[:-1]))
        soft = rng.dirichlet(np.ones(shape[-1]), size=rows)
        onehot = np.eye(shape[-1])[rng.integers(0, shape[-1], size=rows)]
        target = np.where(rng.random((rows, 1)) < 0.5, soft, onehot).reshape(shape)
    elif entry.domain == (0.0, 1.0) or "logits" in entry.name:
        target = rng.uniform(0, 1, size=shape)
        if target.size >= 2:
            target.reshape(-1)[:2] = [0.0, 1.0]
    else:
        target = rng.normal(scale=3, size=shape)
        if target.size >= 2:
            target.reshape(-1)[:2] = pred.reshape(-1)[:2]  # the kink ŷ = y
    return np.asarray(pred, dtype), np.asarray(target, dtype)


@pytest.mark.parametrize("entry", LOSSES, ids=lambda e: e.name)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_and_grad_equals_loss_and_grad_separately(entry, dtype):
    loss, grad, both = (getattr(numeric, n) for n in contract_names(entry))
    rows = entry.reduction == "mean_rows"
    shapes = [(4, 3), (64, 10), (3000, 7), (2, 3, 5), (1, 40)] + ([(20000, 7), (700, 100)] if rows else [(), (9,)])
    for index, shape in enumerate(shapes):
        pred, target = _loss_inputs(entry, shape, dtype, 13 + index)
        kept = pred.copy(), target.copy()
        value, gradient = both(pred, target)
        _assert_same(pred, kept[0], "pred changed")
        _assert_same(target, kept[1], "target changed")
        what = f"{entry.name} on {shape} {np.dtype(dtype)}"
        _assert_same(value, loss(pred, target), what)
        _assert_same(gradient, grad(pred, target), what)
        assert np.ndim(value) == 0 and value.dtype == dtype, what
        assert gradient.shape == pred.shape and gradient.dtype == dtype, what
        assert np.isfinite(value) and np.all(np.isfinite(gradient)), what
        # on lists too
        if pred.size <= 12:
            v2, g2 = both(pred.tolist(), target.tolist())
            if dtype == np.float64:
                _assert_same(v2, value, what + " (lists)")
                _assert_same(g2, gradient, what + " (lists)")


@pytest.mark.parametrize("entry", LOSSES, ids=lambda e: e.name)
def test_loss_and_grad_rejects_bad_shapes_like_the_loss(entry):
    both = getattr(numeric, entry.name + "_and_grad")
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(3, 4\)"):
        both(np.full((4, 3), 0.3), np.full((3, 4), 0.3))
    with pytest.raises(ValueError, match="empty"):
        both(np.empty((0, 3)), np.empty((0, 3)))


# ---------------------------------------------------------------- standalone module


def test_standalone_module_runs_alone_and_matches_the_package(monkeypatch):
    names = ["sigmoid", "softmax_cross_entropy", "mish"]
    source = generate_module(names, standalone=True)
    assert "import numeric" not in source and "from numeric" not in source and "from ." not in source
    namespace: dict = {"__name__": "standalone_blocked"}
    for module in [m for m in sys.modules if m == "numeric" or m.startswith("numeric.")]:
        monkeypatch.setitem(sys.modules, module, None)  # an import of numeric now fails
    exec(compile(source, "<standalone>", "exec"), namespace)  # noqa: S102 - generated by us
    x = _activation_inputs(35000, 14)
    rng = np.random.default_rng(15)
    logits = rng.normal(scale=4, size=(700, 9))
    logits[0, :3] = [800.0, -800.0, 0.0]
    onehot = np.eye(9)[rng.integers(0, 9, size=700)]
    computed = {}
    for dtype in (np.float64, np.float32):
        for entry_name in names:
            for name in contract_names(next(e for e in ENTRIES if e.name == entry_name)):
                fn = namespace[name]
                if entry_name == "softmax_cross_entropy":
                    args = (logits.astype(dtype), onehot.astype(dtype))
                else:
                    args = (_f32(x) if dtype == np.float32 else x,)
                with np.errstate(invalid="ignore"):
                    computed[name, dtype] = fn(*args), args
    monkeypatch.undo()
    for (name, dtype), (value, args) in computed.items():
        with np.errstate(invalid="ignore"):
            want = getattr(numeric, name)(*args)
        value, want = (value, want) if isinstance(value, tuple) else ((value,), (want,))
        assert len(value) == len(want)
        for v, w in zip(value, want):
            _assert_same(v, w, f"standalone {name} {np.dtype(dtype)}")


# ---------------------------------------------------------------- work rows


def test_scratch_rows_are_reused_per_thread_and_per_name():
    import threading

    from numeric._support import _scratch

    a = _scratch("test_rows", (2, 100))
    assert a.shape == (2, 100) and a.dtype == np.float64
    assert np.shares_memory(a, _scratch("test_rows", (3, 50)))  # the same buffer, reshaped
    assert not np.shares_memory(a, _scratch("test_other", (2, 100)))  # another name: its own
    grown = _scratch("test_rows", (4, 100))
    assert grown.size == 400  # grows when asked for more
    # a view made before the growth is not handed out again: (2, 100) is now of the new buffer
    assert _scratch("test_rows", (2, 100)) is not a and np.shares_memory(_scratch("test_rows", (2, 100)), grown)
    assert _scratch("test_rows", (3, 50)) is _scratch("test_rows", (3, 50))  # the view itself is kept
    for n in range(300):  # many shapes: the kept views are dropped, not grown without bound
        assert np.shares_memory(_scratch("test_rows", (1, n + 1)), grown)
    assert _scratch("test_rows", (2, 100), bool).dtype == bool
    seen = []
    thread = threading.Thread(target=lambda: seen.append(_scratch("test_rows", (2, 100))))
    thread.start()
    thread.join()
    assert not np.shares_memory(seen[0], _scratch("test_rows", (2, 100)))  # per thread


def test_constant_rows_and_numbers_are_made_once_and_read_only():
    from numeric._support import BLOCK, _numbers, _work

    numbers = _numbers(2.0, -1.5)
    assert numbers is _numbers(2.0, -1.5) and [float(k) for k in numbers] == [2.0, -1.5]
    with pytest.raises(ValueError):  # shared between calls and threads: nobody may write them
        numbers[0][...] = 3.0
    work, masks, rows = _work(np.zeros(10), 1, 0, (400.0, -1e300))
    assert [r.shape for r in rows] == [(10,), (10,)] and (rows[0] == 400.0).all() and (rows[1] == -1e300).all()
    assert not any(r.flags.writeable for r in rows)
    assert [w.shape for w in work] == [(10,)] and masks == ()
    assert _work(np.zeros(10), 1, 0, (400.0, -1e300)) is _work(np.ones(10), 1, 0, (400.0, -1e300))  # made once
    _, _, wide = _work(np.zeros(3 * BLOCK), 1, 0, (400.0, -1e300))  # grows to a whole block
    assert [r.shape for r in wide] == [(BLOCK,), (BLOCK,)] and (np.array(wide) == [[400.0], [-1e300]]).all()
    _, _, again = _work(np.zeros(10), 1, 0, [400.0, -1e300])  # a list of constants works too
    # the rows made for 10 elements, or (where a scratch array was made anew since,
    # which drops the rows cut from it) cut from the grown constants
    assert again is rows or np.shares_memory(again[0], wide[0])
    assert again[0].shape == (10,) and (again[1] == -1e300).all()


def test_activations_agree_when_called_from_threads():
    # the work rows are per thread: concurrent calls must not see each other's values
    from concurrent.futures import ThreadPoolExecutor

    x = np.random.default_rng(5).normal(scale=5, size=200_000)
    names = ["silu", "mish", "gelu", "softplus", "tanh", "sigmoid"] * 2
    want = {n: getattr(numeric, f"{n}_and_grad")(x) for n in names}
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda n: getattr(numeric, f"{n}_and_grad")(x), names))
    for n, (f, g) in zip(names, got):
        _assert_same(f, want[n][0], n)
        _assert_same(g, want[n][1], n)


def _tail_ulps(values, exact):
    """Errors in ULPs, subnormal truths in units of the smallest normal number (as verify counts)."""
    tiny = np.finfo(np.float64).tiny
    return [float(abs(mpmath.mpf(float(v)) - t) / mpmath.mpf(float(np.spacing(max(abs(float(t)), tiny)))))
            for v, t in zip(values, exact)]


def test_subnormal_tail_is_found_by_the_derivation():
    from derive.catalogue import get
    from derive.codegen import LOG_TINY, TAIL_WIDTH, subnormal_tail

    for name in ("silu", "mish"):  # x·e^x: a normal number made from a subnormal e^x
        assert subnormal_tail(get(name)) == ((LOG_TINY - TAIL_WIDTH, LOG_TINY),)
    for name in ("sigmoid", "softplus", "elu", "log_sigmoid", "tanh", "selu", "softsign"):  # subnormal, or absorbed
        assert subnormal_tail(get(name)) == (), name
    # exponentials of other arguments: e^{−2|u|} with u = √(2/π)(x + 0.044715x³),
    # e^{−x²} on both sides, and Φ(x) = e^{−x²/2}·H(|x|), subnormal before e^{−x²/2} is
    [(low, high)] = subnormal_tail(get("gelu_tanh"))
    assert -21.9 < low < -21.7 and -21.2 < high < -21.1
    assert [(round(a, 2), round(b, 2)) for a, b in subnormal_tail(get("gaussian"))] == [(-27.79, -26.62), (26.62, 27.79)]
    [(low, high)] = subnormal_tail(get("gelu"))
    assert -39.4 < low < -39.2 and -37.6 < high < -37.5


_TAIL_WINDOWS = {"gelu_tanh": (-22.0, -20.5), "gaussian": (26.0, 28.0), "gelu": (-39.5, -37.0)}


@pytest.mark.parametrize("name", sorted(_TAIL_WINDOWS))
def test_other_subnormal_tails_against_mpmath(name, monkeypatch):
    # where an exponential of another argument than x is subnormal and the
    # function is not (gelu_tanh′ was 747 ULP at x = −21.2, gaussian′ 23 at
    # x = 27, gelu′ 20 at x = −37.6): computed again in np.longdouble
    from derive.catalogue import get
    from derive.verify import _mp_function, reference
    from numeric import _support

    if not _support._WIDE:
        pytest.skip("np.longdouble is a double here: no wider type to refine the tail with")
    entry = get(name)
    low, high = _TAIL_WINDOWS[name]
    xs = np.linspace(low, high, 121)
    f_mp = _mp_function(entry.definition, [entry.variable])
    df_mp = _mp_function(sp.diff(entry.definition, entry.variable), [entry.variable])
    f = [reference(f_mp, [v]) for v in xs]
    df = [reference(df_mp, [v]) for v in xs]
    both = getattr(numeric, f"{name}_and_grad")(xs)
    np.testing.assert_array_equal(both[0], getattr(numeric, name)(xs))
    np.testing.assert_array_equal(both[1], getattr(numeric, f"{name}_grad")(xs))
    for values, exact in ((both[0], f), (both[1], df)):
        assert max(_tail_ulps(values, exact)) <= 4.0
    monkeypatch.setattr(_support, "_WIDE", False)  # what the refinement removes
    plain = getattr(numeric, f"{name}_and_grad")(xs)
    assert max(_tail_ulps(plain[1], df)) > 10


@pytest.mark.parametrize("name", ["silu", "mish"])
def test_subnormal_tail_against_mpmath(name, monkeypatch):
    # x in (−772, −708): e^x is subnormal (1 significant bit at −744) while
    # x·e^x is a normal number down to x ≈ −714.9; the generated code computes
    # those elements again in np.longdouble
    from numeric import _support

    if not _support._WIDE:
        pytest.skip("np.longdouble is a double here: no wider type to refine the tail with")
    xs = np.concatenate([np.linspace(-780.0, -700.0, 161), [-708.3964185322641, -714.9, -745.0, -1e4, 0.5]])
    with mpmath.workdps(400):
        x = [mpmath.mpf(float(v)) for v in xs]
        s = [1 / (1 + mpmath.exp(-v)) for v in x]
        if name == "silu":
            f = [v * sv for v, sv in zip(x, s)]
            df = [sv * (1 + v * (1 - sv)) for v, sv in zip(x, s)]
        else:
            sp_ = [mpmath.log1p(mpmath.exp(v)) for v in x]
            f = [v * mpmath.tanh(p) for v, p in zip(x, sp_)]
            df = [mpmath.tanh(p) + v * sv * mpmath.sech(p) ** 2 for v, p, sv in zip(x, sp_, s)]
    both = getattr(numeric, f"{name}_and_grad")(xs)
    np.testing.assert_array_equal(both[0], getattr(numeric, name)(xs))  # the three agree bit for bit
    np.testing.assert_array_equal(both[1], getattr(numeric, f"{name}_grad")(xs))
    tail = xs < -708
    for values, exact in ((both[0], f), (both[1], df)):
        errors = np.array(_tail_ulps(values, exact))
        assert errors[tail].max() <= 1.0 and errors.max() <= 4.0, errors
    with_nan = getattr(numeric, f"{name}_and_grad")(np.append(xs, np.nan))  # a NaN elsewhere hides nothing
    np.testing.assert_array_equal(with_nan[0][:-1], both[0])
    assert np.isnan(with_nan[0][-1]) and np.isnan(with_nan[1][-1])
    monkeypatch.setattr(_support, "_WIDE", False)  # what the refinement removes
    plain = getattr(numeric, f"{name}_and_grad")(xs)
    assert max(_tail_ulps(plain[0], f)) > 20 and max(_tail_ulps(plain[1], df)) > 20
    f32 = getattr(numeric, f"{name}_and_grad")(xs.astype(np.float32))  # float32: no tail to refine
    assert f32[0].dtype == np.float32 and np.all(np.isfinite(f32[0]))


def test_mish_forward_is_x_over_1_plus_2_over_b_divided_quietly():
    # x·B/(B + 2) rounded four times after e^x: 4.09 ULP at x = −6.0728 (found by
    # the verifier's screen); x/(1 + 2/B) rounds B once before the division
    import inspect

    from numeric.accuracy import ulp_error

    x = -6.072753575845253
    with mpmath.workdps(40):
        true = mpmath.mpf(x) * mpmath.tanh(mpmath.log1p(mpmath.exp(mpmath.mpf(x))))
    assert ulp_error(numeric.mish(np.array([x]))[0], true) < 3.0
    # where B = e^x(e^x + 2) underflows, 2/B = inf and x/inf = −0, the limit, with
    # no warning (the suite turns RuntimeWarnings into errors)
    y = numeric.mish(np.array([-800.0, -1e300, -np.inf]))
    assert np.all(y == 0) and np.all(np.signbit(y))
    assert "np.errstate(divide='ignore', over='ignore')" in inspect.getsource(numeric.mish)


@pytest.mark.parametrize("classes", [10, 32, 100, 1000])
def test_softmax_sum_is_rounded_once(classes):
    # s = Σ e − 1 (the sum less the maximal term) from the hi/lo split, against
    # math.fsum of the same e: within half an ulp, with tied maxima and many equal
    # terms (where a plain sum of the e − ⌊e⌋ erred by up to 3 eps) and with a
    # dominant logit (s ≈ 1e−18, which a sum including the 1 would round away)
    import math

    rows = np.zeros((4, classes))
    rows[0, :3] = [1.0, 1.0, -1.0]
    rows[1, :3] = [40.0, -0.5, 0.0]
    rows[1, 3:] = -50.0
    rows[2] = np.random.default_rng(3).normal(0, 3, classes)
    rows[3] = np.random.default_rng(4).normal(0, 1e4, classes)
    for shifted, lost, e, s, _, _, _ in _kernels._shifted(rows, (), np.float64):
        axis = 0 if classes <= 32 else -1
        for i in range(4):
            column = np.take(e, i, axis=1 - axis if axis == 0 else 0)
            exact = math.fsum(column.tolist()) - 1  # exact: fsum rounds once, 1 is exact
            want = math.fsum(list(column) + [-1.0])
            got = float(np.take(s, i))
            assert abs(got - want) <= 0.5 * np.spacing(abs(want)), (classes, i, got, want, exact)


def test_cross_entropy_label_smoothing_within_four_ulp():
    # what the dense scan found: softmax − y 4.13 ULP with 10 classes and a soft
    # target (a plain sum of e and e·(1 + lost) rounding 1 + lost); the loss of a
    # row of 100 classes with logits of ±1e4 and a label-smoothed target 4.4 ULP
    # (BLAS's dot of its terms)
    from numeric.accuracy import ulp_error

    z = np.array([[-41.40483851897662, -21.09511641486818, 0.1579347724161181, -0.8452565466265398,
                   -0.7324584107417826, 0.4925541100589156, 0.3215446003847334, 2.0999738299117188,
                   -9998.960072990061, -39.36328945806063]])
    y = np.array([[0.059925858325793176, 0.17887828586978322, 0.030365733293757517, 0.10916555959191594,
                   0.03423089300862915, 0.030371790786089415, 0.07968203624626462, 0.09778588310145644,
                   0.025508140439476232, 0.3540858193368343]])
    with mpmath.workdps(50):
        zs = [mpmath.mpf(float(v)) for v in z[0]]
        total = mpmath.fsum(mpmath.exp(v) for v in zs)
        want = mpmath.exp(zs[2]) / total - mpmath.mpf(float(y[0, 2]))
        assert ulp_error(numeric.softmax_cross_entropy_grad(z, y)[0, 2], want) <= 4
    rng = np.random.default_rng(11)
    z = rng.choice([-1e4, 1e4, 0.0], size=(1, 100)) + rng.normal(0, 1, (1, 100))
    y = np.full((1, 100), 0.1 / 99)
    y[0, int(np.argmin(z))] = 0.9
    with mpmath.workdps(60):
        zs = [mpmath.mpf(float(v)) for v in z[0]]
        top = max(zs)
        log_total = mpmath.log(mpmath.fsum(mpmath.exp(v - top) for v in zs))
        want = -mpmath.fsum(mpmath.mpf(float(t)) * (v - top - log_total) for t, v in zip(y[0], zs))
        assert ulp_error(numeric.softmax_cross_entropy(z, y), want) <= 4


def test_split_sum_is_exact_where_a_plain_sum_is_not():
    from fractions import Fraction

    rng = np.random.default_rng(12)
    terms = np.concatenate([[-9000.0], -rng.uniform(0, 20, 99)])
    exact = sum(Fraction(float(t)) for t in terms)
    got = _kernels.split_sum(terms.copy(), np.empty_like(terms))
    assert got == float(exact)  # rounded once
    assert _kernels.split_sum(np.array([np.inf, 1.0]), np.empty(2)) == np.inf
    assert np.isnan(_kernels.split_sum(np.array([np.nan, 1.0]), np.empty(2)))


@pytest.mark.parametrize("name", ["sigmoid", "gelu", "silu", "relu", "softplus", "mish"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_narrow_inputs_are_widened_a_block_at_a_time(name, dtype):
    # several blocks of float32 / float16: the float64 results rounded once (the
    # bits of one float64 computation and astype), and no full-size float64 copy
    # of x or of an output is made on the way
    import tracemalloc

    with np.errstate(over="ignore"):
        x = _activation_inputs(40000, 12).astype(dtype)
    fn = getattr(numeric, name + "_and_grad")
    with np.errstate(invalid="ignore", over="ignore"):
        got, want = fn(x), fn(x.astype(np.float64))
        want = tuple(w.astype(dtype) for w in want)
    for g, w in zip(got, want):
        assert g.dtype == dtype
        _assert_same(g, w, name)
    big = np.linspace(-5, 5, 1_000_000).astype(dtype)
    fn(big)  # scratch rows made once, before the measured call
    tracemalloc.start()
    try:
        fn(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * big.nbytes + 1_000_000, peak  # the two outputs, and no 8 MB float64 array


def test_sigmoid_residual_keeps_the_digits_the_two_sigmoids_lost():
    # σ(z) − y where the two terms of σ(z)(1 − y) − y·σ(−z) cancel by half: the
    # stabilize rule's form reached 4.58 ULP at these points (a 5,000,000-pair
    # scan) and 4.32 at the first; the kernel folds back the roundings of
    # 1 − y and of 1 + e^{−|z|}
    import warnings

    import mpmath

    from numeric._kernels import sigmoid_residual

    z = np.array([-1.3409706770296221, -1.271994, -1.2503278849530481, 40.0, -800.0, 0.0, 3.0, -3.0])
    y = np.array([0.1, 0.1, 0.1, 1.0, 0.0, 0.1, 0.9, 0.05])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = sigmoid_residual(z, y)
        grad = numeric.binary_cross_entropy_with_logits_grad(z, y) * z.size
    with mpmath.workdps(60):
        for zi, yi, g in zip(z, y, got):
            true = 1 / (1 + mpmath.exp(-mpmath.mpf(float(zi)))) - mpmath.mpf(float(yi))
            if true == 0:
                assert g == 0
                continue
            assert float(abs(g - true) / mpmath.mpf(np.spacing(abs(float(true))))) <= 4, (zi, yi, g)
    np.testing.assert_array_equal(grad, got)  # the generated gradient is the kernel's
    assert "_sigmoid_residual(pred, target)" in inspect.getsource(numeric.binary_cross_entropy_with_logits_grad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        special = sigmoid_residual(np.array([np.inf, -np.inf, np.nan, 1.0, 1.0, 2.0]),
                                   np.array([0.3, 0.3, 0.3, np.nan, np.inf, 0.5]))
    np.testing.assert_array_equal(special[[0, 1, 4]], [0.7, -0.3, -np.inf])
    assert np.isnan(special[2]) and np.isnan(special[3])
    assert special[5] == pytest.approx(1 / (1 + np.exp(-2.0)) - 0.5, rel=4e-16)


def test_functions_that_round_nothing_work_in_the_input_type():
    # relu, hard_tanh and identity (and leaky_relu′, whose values are 1 and α)
    # choose between x and constants: in float16 and float32 they run in that
    # type, with the bits of the float64 computation rounded once; leaky_relu
    # itself (α·x rounds) and hard_sigmoid ((x + 3)/6) are widened
    native = {"relu", "relu_grad", "relu_and_grad", "identity", "identity_grad", "identity_and_grad",
              "hard_tanh", "hard_tanh_grad", "hard_tanh_and_grad", "leaky_relu_grad"}
    for name in native | {"leaky_relu", "leaky_relu_and_grad", "hard_sigmoid", "elu_grad"}:
        assert ("native=True" in inspect.getsource(getattr(numeric, name))) == (name in native), name
    special = np.array([np.nan, -np.nan, 0.0, -0.0, np.inf, -np.inf, 1.0, -1.0, 1e-40, -1e-40, 3e38, -3e38])
    for dtype in (np.float16, np.float32):
        with np.errstate(over="ignore"):
            x = np.concatenate([_activation_inputs(40000, 13), special]).astype(dtype)
        for name in sorted(native):
            with np.errstate(invalid="ignore", over="ignore"):
                got, want = getattr(numeric, name)(x), getattr(numeric, name)(x.astype(np.float64))
                got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
                want = tuple(w.astype(dtype) for w in want)
            for g, w in zip(got, want):
                assert g.dtype == dtype
                _assert_same(g, w, name)


def test_sigmoid_grad_past_the_clamp_is_the_truth_not_the_value_at_the_clamp(monkeypatch):
    # σ′ = σ(x)/(1 + P) with P = e^{min(x, 709.78)} stayed at 5.6e−309 for every
    # x ≥ 709.78 (σ′(∞) too); held_at_clamp finds that interval from the
    # derivation, and those x are computed again in np.longdouble
    from derive.catalogue import get
    from derive.codegen import derive_pair, held_at_clamp
    from numeric import _support

    entry = get("sigmoid")
    assert held_at_clamp(derive_pair(entry), entry.variable) == ((709.78, np.inf, (1,)),)
    for name in ("silu", "softplus", "tanh", "gelu"):  # no whole σ(u)·σ(−u) output
        assert held_at_clamp(derive_pair(get(name)), get(name).variable) == (), name
    if not _support._WIDE:
        pytest.skip("np.longdouble is a double here: no wider type to refine the tail with")
    xs = np.array([709.0, 709.78, 710.0, 720.0, 745.0, 745.2, 1000.0, 1e4, 1e300, np.inf,
                   -710.0, -745.0, -np.inf, 1.0])
    with mpmath.workdps(60):
        def truth(v):
            if np.isinf(v):
                return 0.0
            e = mpmath.exp(-abs(mpmath.mpf(float(v))))
            return float(e / (1 + e) ** 2)
        exact = np.array([truth(v) for v in xs])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the tail's e^x overflows in np.longdouble past 11356: no warning
        grad = numeric.sigmoid_grad(xs)
        both = numeric.sigmoid_and_grad(xs)
    np.testing.assert_array_equal(grad, exact)  # correctly rounded, 0 from x = 745.2 on
    np.testing.assert_array_equal(both[1], grad)
    np.testing.assert_array_equal(both[0], numeric.sigmoid(xs))
    monkeypatch.setattr(_support, "_WIDE", False)  # what the refinement removes
    assert numeric.sigmoid_grad(np.array([np.inf]))[0] == pytest.approx(5.577796105262746e-309)
