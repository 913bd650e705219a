"""Derive: differentiate each catalogue entry and prove its textbook form.

For an entry, :func:`derive` returns a :class:`Derived` holding

* ``raw``: SymPy's own ``diff`` of the plain definition (for vector maps and
  row losses: the vector–Jacobian product / gradient at a concrete size);
* ``textbook``: the derivative as a textbook prints it, either stated by the
  entry or recognised from ``raw`` (σ, softplus, Φ, φ named);
* ``proof``: how ``textbook == raw`` was established: ``symbolic`` (SymPy
  simplifies the difference to 0) or ``numeric`` (equal to 40 digits at 24
  random points evaluated with 50-digit mpmath, when SymPy cannot decide);
* ``forward_code`` and ``derivative_code``: the stabilized forms that codegen
  prints.

Examples
--------
>>> d = derive("sigmoid")
>>> d.textbook
(1 - sigmoid(x))*sigmoid(x)
>>> d.proof.method
'symbolic'
>>> d.derivative_code
sigmoid(-x)*sigmoid(x)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

import mpmath
import sympy as sp

from .catalogue import ENTRIES, Entry, N, g, get
from .primitives import components, expand_primitives
from .stabilize import recognize, stabilize, target_quotients

#: vector size at which vector maps and row losses are proven
PROOF_SIZE = 3


@dataclass(frozen=True)
class Proof:
    """How an identity was established."""

    method: str  # "symbolic" or "numeric"
    detail: str

    def __str__(self) -> str:
        return f"{self.method}: {self.detail}"


@dataclass(frozen=True)
class Derived:
    """An entry with its derivative in textbook form, proven, and code forms."""

    entry: Entry
    raw: sp.Expr
    textbook: sp.Expr
    proof: Proof
    forward_code: sp.Expr
    derivative_code: sp.Expr
    forward_rules: tuple[str, ...]
    derivative_rules: tuple[str, ...]
    code_proof: Proof

    @property
    def name(self) -> str:
        return self.entry.name


def _plain(expr: sp.Expr) -> sp.Expr:
    """Primitives and numerical functions rewritten into exp/log/erf."""
    from sympy.codegen.cfunctions import expm1, log1p

    from .stabilize import ratio

    expr = expand_primitives(expr).replace(ratio, lambda a, b: a / b)
    return expr.replace(expm1, lambda u: sp.exp(u) - 1).replace(log1p, lambda u: sp.log(1 + u))


def _random_point(symbols, rng: random.Random, entry: Entry | None) -> dict:
    point = {}
    for s in symbols:
        name = s.name
        if entry is not None and entry.kind == "loss" and name.startswith("yhat") \
                and entry.domain == (0.0, 1.0):
            point[s] = mpmath.mpf(rng.uniform(0.05, 0.95))
        elif name.startswith("y") and entry is not None and entry.kind == "loss":
            if entry.target_kind == "sign":
                point[s] = mpmath.mpf(rng.choice((-1, 1)))
            else:
                point[s] = mpmath.mpf(rng.uniform(0.05, 0.95))
        elif s.is_positive:
            point[s] = mpmath.mpf(rng.uniform(0.2, 3.0))
        else:
            point[s] = mpmath.mpf(rng.uniform(-4.0, 4.0))
    return point


def prove_equal(a: sp.Expr, b: sp.Expr, *, entry: Entry | None = None,
                assumptions: dict | None = None, points: int = 24) -> Proof:
    """Prove ``a == b``: symbolically if SymPy can, else at random 50-digit points.

    Raises
    ------
    AssertionError
        If the expressions differ.

    Examples
    --------
    >>> from sympy import Symbol, exp
    >>> from derive.primitives import sigmoid
    >>> x = Symbol("x", real=True)
    >>> prove_equal(sigmoid(x) * (1 - sigmoid(x)), exp(-x) / (1 + exp(-x))**2).method
    'symbolic'
    """
    a, b = _plain(a), _plain(b)
    if assumptions:
        a, b = a.subs(assumptions), b.subs(assumptions)
    difference = a - b
    for attempt in (lambda d: d, sp.cancel, lambda d: sp.simplify(d.rewrite(sp.exp))):
        try:
            if attempt(difference) == 0:
                return Proof("symbolic", "SymPy simplifies the difference to 0")
        except Exception:  # noqa: BLE001 - SymPy may give up in many ways; fall back
            pass
    symbols = sorted(difference.free_symbols, key=lambda s: s.name)
    rng = random.Random(20261121)
    fa = sp.lambdify(symbols, a, modules="mpmath")
    fb = sp.lambdify(symbols, b, modules="mpmath")
    checked = 0
    with mpmath.workdps(50):
        for _ in range(points * 4):
            point = _random_point(symbols, rng, entry)
            values = [point[s] for s in symbols]
            try:
                va, vb = fa(*values), fb(*values)
            except (ZeroDivisionError, ValueError):
                continue
            scale = max(mpmath.mpf(1), abs(va), abs(vb))
            if abs(va - vb) > mpmath.mpf(10) ** -40 * scale:
                raise AssertionError(f"not equal at {point}: {va} != {vb}")
            checked += 1
            if checked == points:
                return Proof("numeric", f"equal to 40 digits at {points} random points "
                                        "(50-digit mpmath)")
    raise AssertionError("could not evaluate the identity at enough points")


def _vector_raw(entry: Entry) -> tuple[sp.Expr, sp.Expr, dict, dict]:
    """(raw, textbook) of component 0 at PROOF_SIZE, and the component maps."""
    k = PROOF_SIZE
    variable = entry.variable
    comps = {variable: sp.symbols(f"{variable.name}1:{k + 1}", real=True)}
    for other in entry.variables[1:]:
        comps[other] = sp.symbols(f"{other.name}1:{k + 1}", real=True)
    assumptions = {}
    if entry.kind == "vector_map":
        gs = sp.symbols(f"g1:{k + 1}", real=True)
        comps[g] = gs
        outputs = [components(entry.definition, comps, i) for i in range(k)]
        raw = sum(gs[i] * sp.diff(outputs[i], comps[variable][0]) for i in range(k))
    else:
        loss = components(entry.definition, comps, 0)
        raw = sp.diff(loss, comps[variable][0]) / N
        if entry.target_kind == "distribution":
            ys = comps[entry.variables[1]]
            assumptions = {ys[-1]: 1 - sum(ys[:-1])}
    textbook = components(entry.textbook, comps, 0)
    return raw, textbook, comps, assumptions


@lru_cache(maxsize=None)
def _derive(name: str) -> Derived:
    entry = get(name)
    if entry.kind == "activation" or (entry.kind == "loss" and entry.reduction == "mean_elements"):
        raw = sp.diff(entry.definition, entry.variable)
        if entry.kind == "loss":
            raw = raw / N
        textbook = entry.textbook if entry.textbook is not None else sp.factor_terms(recognize(raw))
        proof = prove_equal(textbook, raw, entry=entry)
    else:
        if entry.textbook is None:
            raise ValueError(f"{name}: vector entries must state their textbook derivative")
        raw, textbook_component, _, assumptions = _vector_raw(entry)
        proof = prove_equal(textbook_component, raw, entry=entry, assumptions=assumptions)
        textbook = entry.textbook
        if assumptions:
            proof = Proof(proof.method, proof.detail + " (targets summing to 1)")
        proof = Proof(proof.method, proof.detail + f", component-wise at size {PROOF_SIZE}")
    forward_rules: list[str] = []
    derivative_rules: list[str] = []
    forward_code = stabilize(entry.definition, forward_rules)
    derivative_code = stabilize(textbook, derivative_rules)
    if entry.kind == "loss" and len(entry.variables) > 1:  # a target weight of 0: a gradient of 0
        derivative_code = target_quotients(derivative_code, entry.variables[1], entry.variable, derivative_rules)
    code_proof = _prove_code(entry, forward_code, derivative_code, textbook)
    return Derived(entry, raw, textbook, proof, forward_code, derivative_code,
                   tuple(forward_rules), tuple(derivative_rules), code_proof)


def _prove_code(entry: Entry, forward_code, derivative_code, textbook) -> Proof:
    """The stabilized forms equal the definition and the textbook derivative."""
    if entry.kind == "activation" or entry.reduction == "mean_elements":
        p1 = prove_equal(forward_code, entry.definition, entry=entry)
        p2 = prove_equal(derivative_code, textbook, entry=entry)
    else:
        k = PROOF_SIZE
        comps = {v: sp.symbols(f"{v.name}1:{k + 1}", real=True) for v in entry.variables}
        comps[g] = sp.symbols(f"g1:{k + 1}", real=True)
        assumptions = {}
        if entry.target_kind == "distribution":
            ys = comps[entry.variables[1]]
            assumptions = {ys[-1]: 1 - sum(ys[:-1])}
        p1 = prove_equal(components(forward_code, comps, 0),
                         components(entry.definition, comps, 0), entry=entry)
        p2 = prove_equal(components(derivative_code, comps, 0),
                         components(textbook, comps, 0), entry=entry, assumptions=assumptions)
    methods = {p1.method, p2.method}
    return Proof("symbolic" if methods == {"symbolic"} else "numeric",
                 f"forward: {p1.method}; derivative: {p2.method}")


def derive(entry: Entry | str) -> Derived:
    """Derive (and prove) one catalogue entry; results are cached."""
    return _derive(entry if isinstance(entry, str) else entry.name)


def derive_all() -> list[Derived]:
    """Every catalogue entry, derived."""
    return [derive(e.name) for e in ENTRIES]


__all__ = ["Derived", "Proof", "derive", "derive_all", "prove_equal", "PROOF_SIZE"]
