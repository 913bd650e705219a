"""Textbook derivatives: the printed forms, each proven equal to SymPy's diff."""

import mpmath
import pytest
import sympy as sp

from derive.calculus import derive, prove_equal
from derive.catalogue import ENTRIES, N, g, get, pred, target, x, z
from derive.primitives import expand_primitives, rowsum, sigmoid, softmax, softplus

sigma = sigmoid(x)

TEXTBOOK = {
    "sigmoid": sigma * (1 - sigma),
    "tanh": 1 - sp.tanh(x) ** 2,
    "softplus": sigma,
    "log_sigmoid": sigmoid(-x),
    "silu": sigma * (1 + x * (1 - sigma)),
    "softmax": softmax(z) * (g - rowsum(g * softmax(z))),
    "log_softmax": g - softmax(z) * rowsum(g),
    "softmax_cross_entropy": (softmax(pred) - target) / N,
    "binary_cross_entropy_with_logits": (sigmoid(pred) - target) / N,
    "mse": 2 * (pred - target) / N,
}


@pytest.mark.parametrize("name", TEXTBOOK)
def test_textbook_form_is_the_one_printed(name):
    assert sp.simplify(derive(name).textbook - TEXTBOOK[name]) == 0


def test_elu_textbook_form():
    alpha = get("elu").params[0].symbol
    expected = sp.Piecewise((1, x > 0), (alpha * (sp.exp(x) - 1) + alpha, True))
    assert derive("elu").textbook == expected


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_every_derivative_is_proven(entry):
    d = derive(entry)
    assert d.proof.method in ("symbolic", "numeric")
    assert d.code_proof.method in ("symbolic", "numeric")


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.kind == "activation"],
                         ids=lambda e: e.name)
def test_textbook_matches_sympy_diff_at_random_points(entry):
    """Independent of prove_equal: evaluate both at 50 digits."""
    d = derive(entry)
    raw = sp.diff(entry.definition, x).subs(entry.defaults)
    book = expand_primitives(d.textbook).subs(entry.defaults)
    f_raw = sp.lambdify(x, raw, "mpmath")
    f_book = sp.lambdify(x, book, "mpmath")
    with mpmath.workdps(50):
        for value in ("-3.7", "-0.9", "0.31", "1.7", "6.2"):
            a, b = f_raw(mpmath.mpf(value)), f_book(mpmath.mpf(value))
            assert abs(a - b) <= mpmath.mpf(10) ** -45 * max(1, abs(a))


def test_a_wrong_identity_is_refused():
    with pytest.raises(AssertionError):
        prove_equal(sigma * (1 + sigma), sp.diff(1 / (1 + sp.exp(-x)), x))


def test_numeric_proof_is_labelled(monkeypatch):
    # where SymPy cannot decide, the 50-digit numeric check is used and named
    from derive import calculus

    monkeypatch.setattr(calculus.sp, "cancel", lambda d: d)
    monkeypatch.setattr(calculus.sp, "simplify", lambda d: d)
    proof = prove_equal(sigma * (1 - sigma), sp.diff(1 / (1 + sp.exp(-x)), x))
    assert proof.method == "numeric" and "50-digit" in proof.detail


def test_softplus_textbook_is_sigmoid():
    assert derive("softplus").textbook == sigmoid(x)
    assert sp.diff(softplus(x), x) == sigmoid(x)
