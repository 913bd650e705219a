"""Stabilize: rewrite expressions into numerically stable primitives.

The rules are small named objects in one list, :data:`RULES`, applied bottom-up
until nothing changes.  They apply to the catalogue and to a user's own
expressions alike, so ``log(1 + exp(x))`` becomes ``softplus(x)`` (finite at
x = 1000) whoever wrote it.  Two subsets matter:

* :data:`RECOGNITION_RULES` only name what a textbook names (σ, softplus, Φ, φ,
  softmax); :func:`recognize` uses them to print derivatives in textbook form.
* :data:`RULES` adds the purely numerical rewrites (log1p, expm1, xlogy, σ(−u)
  for 1 − σ(u), sech² for 1 − tanh², …), and the classic cancellations a
  user's expression may hold: 1 − cos u as 2 sin²(u/2), cosh u − 1 as
  2 sinh²(u/2), a² − b² as (a − b)(a + b), √A − √B as (A − B)/(√A + √B),
  log cosh u without overflow, sinh/cosh as tanh; and what formulas typed
  out by hand hold: rational functions of eᵘ (σ's, and any other whose
  denominator has positive coefficients), the inverse hyperbolic functions,
  log(1 − e⁻ˣ), √(x² + 1) ± x, and √(a² + b²) as hypot(a, b).

Each rule is an exact identity; ``tests/test_stabilize.py`` proves every rule
with SymPy and measures the error it removes.

Examples
--------
>>> from sympy import Symbol, exp, log
>>> x = Symbol("x", real=True)
>>> stabilize(log(1 + exp(x)))
softplus(x)
>>> stabilize(1 - 1 / (1 + exp(-x)))
sigmoid(-x)
>>> stabilize(exp(x) - 1)
expm1(x)
>>> from sympy import sqrt
>>> stabilize(sqrt(1 + x**2) - 1)
x**2/(hypot(1, x) + 1)
>>> stabilize(exp(x) / (exp(x) + 2))
Piecewise((1/(1 + 2*exp(-Min(1000, Abs(x)))), x > 0), (exp(-Min(1000, Abs(x)))/(2 + exp(-Min(1000, Abs(x)))), True))
"""

from __future__ import annotations

import contextvars
import itertools
import math
from dataclasses import dataclass
from typing import Callable, Optional

import sympy as sp
from sympy import Add, Mul, Pow, S, exp, log
from sympy.codegen.cfunctions import expm1, hypot, log1p

from .primitives import (
    erfc,
    erfcx,
    gauss,
    gaussian,
    log_softmax,
    logsumexp,
    ndtr,
    normal_ratio,
    normal_ratio_slope,
    quotient_with_limit,
    rowsum,
    sech2,
    sigmoid,
    softmax,
    softmax_complement,
    softplus,
    xdivy,
    xlog1py,
    xlogy,
)

Rewrite = Callable[[sp.Expr], Optional[sp.Expr]]


@dataclass(frozen=True)
class Rule:
    """One named rewrite: ``apply(node)`` returns the new node or ``None``."""

    name: str
    pattern: str
    why: str
    apply: Rewrite

    def __repr__(self) -> str:
        return f"Rule({self.name}: {self.pattern})"


#: the list of applied rules of the stabilize call in progress: a rule that rewrites the
#: branches it writes itself (log_sigmoid_polynomial) records their rules there too
_APPLIED: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("applied", default=None)


# ----------------------------------------------------------------- helpers


def _pair_rewrite(node: sp.Expr, combine: Callable[[sp.Expr, sp.Expr], Optional[sp.Expr]], over: type = Add):
    """In an Add (or a Mul, ``over=Mul``), replace the first pair of terms (a, b) that ``combine`` merges."""
    if not isinstance(node, over):
        return None
    terms = list(node.args)
    for i, a in enumerate(terms):
        for j, b in enumerate(terms):
            if i == j:
                continue
            merged = combine(a, b)
            if merged is not None:
                rest = [t for k, t in enumerate(terms) if k not in (i, j)]
                return over(merged, *rest)
    return None


def _constant_plus(func: type, build: Callable[[sp.Expr, sp.Expr], sp.Expr], sign: int):
    """Rewrite ``c + sign*c*func(u)`` to ``build(c, u)``; ``c`` a non-zero number
    or any factor free of ``func``."""

    def combine(a: sp.Expr, b: sp.Expr):
        if a.has(func) or a == 0:
            return None
        coeff, rest = b.as_coeff_Mul() if b.is_Mul else (S.One, b)
        if isinstance(rest, Mul):
            factors = [f for f in rest.args if isinstance(f, func)]
            if len(factors) != 1:
                return None
            fcall = factors[0]
            other = Mul(coeff, *[f for f in rest.args if f is not fcall])
        elif isinstance(rest, func):
            fcall, other = rest, coeff
        else:
            return None
        if sp.simplify(other - sign * a) != 0:
            return None
        return build(a, fcall.args[0])

    return lambda node: _pair_rewrite(node, combine)


def _constant_plus_power(func: type, power: int, build, sign: int):
    """Rewrite ``c + sign*c*func(u)**power`` to ``build(c, u)``."""

    def combine(a: sp.Expr, b: sp.Expr):
        if a.has(func) or a == 0:
            return None
        factors = Mul.make_args(b)
        powers = [f for f in factors if isinstance(f, Pow) and isinstance(f.base, func)
                  and f.exp == power]
        if len(powers) != 1:
            return None
        other = Mul(*[f for f in factors if f is not powers[0]])
        if sp.simplify(other - sign * a) != 0:
            return None
        return build(a, powers[0].base.args[0])

    return lambda node: _pair_rewrite(node, combine)


def _reciprocal_one_plus_exp(node):
    # 1/(1 + exp(u))**n -> sigmoid(-u)**n (n = 1, 2, …)
    if isinstance(node, Pow) and node.exp.is_Integer and node.exp < 0 and isinstance(node.base, Add):
        terms = node.base.args
        if len(terms) == 2 and S.One in terms:
            other = terms[0] if terms[1] == 1 else terms[1]
            if isinstance(other, exp):
                return sigmoid(-other.args[0]) ** (-node.exp)
    return None


def _exp_times_sigmoid(node):
    # exp(k·u)·σ(−u)ⁿ → σ(u)ᵏ·σ(−u)ⁿ⁻ᵏ for a whole k, 1 ≤ k ≤ n: e^{ku} overflows for
    # ku > 709 (the derivative of e^x/(1 + e^x) is σ(x) − e^{2x}·σ(−x)², inf·0 at x = 710)
    def combine(f, g):
        base, power = g.as_base_exp()
        if not (isinstance(f, exp) and isinstance(base, sigmoid) and power.is_Integer and power > 0):
            return None
        k = sp.simplify(-f.args[0] / base.args[0])
        return sigmoid(-base.args[0]) ** k * base ** (power - k) if k.is_Integer and 1 <= k <= power else None

    return _pair_rewrite(node, combine, Mul)


def _log_one_plus_exp(node):
    # log(1 + exp(u)) -> softplus(u)
    if isinstance(node, log) and isinstance(node.args[0], Add):
        terms = node.args[0].args
        if len(terms) == 2 and S.One in terms:
            other = terms[0] if terms[1] == 1 else terms[1]
            if isinstance(other, exp):
                return softplus(other.args[0])
    return None


def _log_of_sigmoid(node):
    # log(sigmoid(u)) -> -softplus(-u); of a product, each σ(u)ᵏ factor (σ > 0) as
    # −k·softplus(−u): the log-odds log(σ(x)/(1 − σ(x))) as written loses x for |x| < 1
    def take(factor):
        base, power = factor.as_base_exp()
        return -power * softplus(-base.args[0]) if isinstance(base, sigmoid) else None

    return _log_of_factors(node, take)


def _log_of_factors(node: sp.Expr, take: Callable[[sp.Expr], Optional[sp.Expr]]) -> sp.Expr | None:
    """log(Π fᵢ·r) → Σ take(fᵢ) + log r, for the factors fᵢ > 0 whose logarithm ``take`` gives (else None)."""
    if not isinstance(node, log):
        return None
    logs, rest = [], []
    for factor in Mul.make_args(node.args[0]):
        term = take(factor)
        if term is None:
            rest.append(factor)
        else:
            logs.append(term)
    if not logs:
        return None
    remaining = Mul(*rest)
    return Add(*logs) + (log(remaining) if remaining != 1 else S.Zero)


def _softplus_difference(node):
    # c·softplus(u) − c·softplus(−u) → c·u (log(1 + eᵘ) − log(1 + e⁻ᵘ) = log eᵘ): the
    # log-odds log σ(x) − log σ(−x) cancels for |x| < 1 (3e7 ULP at x = 1e−8)
    def combine(a, b):
        ca, pa = a.as_coeff_Mul()
        cb, pb = b.as_coeff_Mul()
        if isinstance(pa, softplus) and isinstance(pb, softplus) and ca == -cb \
                and sp.expand(pa.args[0] + pb.args[0]) == 0:
            return ca * pa.args[0]
        return None

    return _pair_rewrite(node, combine)


def _erfc_to_ndtr(node):
    # erfc(c*x) -> 2*ndtr(-sqrt(2)*c*x) when sqrt(2)*c is rational (no rounded sqrt(2))
    if isinstance(node, erfc):
        scaled = sp.expand(-sp.sqrt(2) * node.args[0])
        if not scaled.has(sp.sqrt(2)):
            return 2 * ndtr(scaled)
    return None


def _square_base(term: sp.Expr) -> sp.Expr | None:
    """v for a term that is v²: a square, or a product of even powers (x²·y² is (x·y)²), else None."""
    factors = Mul.make_args(term)
    roots = []
    for factor in factors:
        base, power = factor.as_base_exp()
        if not (power.is_Integer and power.is_even and power > 0) or base.is_number:
            return None
        roots.append(base ** (power // 2))
    return Mul(*roots) if roots else None


def _exp_half_square(node):
    # exp(-v**2/2) -> sqrt(2*pi)*gauss(v)
    if isinstance(node, exp):
        coeff, rest = node.args[0].as_coeff_Mul()
        v = _square_base(rest) if coeff == -S.Half else None
        if v is not None:
            return sp.sqrt(2 * sp.pi) * gauss(v)
    return None


def _exp_negative_square(node):
    # exp(-v**2) -> gaussian(v); v may be a product, x²·y² = (x·y)² (∂ of erf(x·y) is
    # 2y·e^{−x²y²}/√π, 733 ULP where x²·y² was rounded; gaussian(x·y) takes x·y in double-double)
    if isinstance(node, exp):
        coeff, rest = node.args[0].as_coeff_Mul()
        v = _square_base(rest) if coeff == S.NegativeOne else None
        if v is not None:
            return gaussian(v)
    return None


def _less_one(node: sp.Expr) -> sp.Expr | None:
    """u for a sum 1 + u (the term 1 among its terms), else None."""
    if isinstance(node, Add) and S.One in node.args:
        return Add(*[t for t in node.args if t != 1])
    return None


def _log_one_plus(node):
    # log(1 + u) -> log1p(u)
    u = _less_one(node.args[0]) if isinstance(node, log) else None
    return None if u is None else log1p(u)


def _log_sigmoid_polynomial(node):
    # the log of a polynomial P in σ(u) that is 1 at an end: log1p(P − 1) (log(2 − σ(x)),
    # as log(σ(x) + 2σ(−x)), is log1p(σ(−x)): the log of a rounded sum near 1 erred by
    # 4e8 ULP at x = 20), in branches where P falls to 0 at the other end.  Before
    # log_sigmoid, which would take the factor σ(−u) of 1 − σ(u)² = σ(−u)(1 + σ(u)) apart
    # on both sides
    if isinstance(node, log) and isinstance(node.args[0], (Add, Mul)) and node.args[0].has(sigmoid):
        return _log_of_sigmoid_polynomial(node.args[0])
    return None


def _log_of_sigmoid_polynomial(argument: sp.Expr):
    """log P for a polynomial P in s = σ(u) that is 1 at an end: log1p(P − 1), in branches where P → 0 at the other.

    log1p(P − 1) keeps the digits where P is near 1; where P falls to 0 at
    the other end (1 − σ(u)² = σ(−u)(1 + σ(u)) as u → ∞), P − 1 nears −1 and
    log1p of it cancels as the log of P rounded near 1 did at the first end,
    so there the factors of P are taken apart (−softplus(u) + log1p(σ(u))),
    whose logs are accurate on that side and cancel on the other (4e8 ULP at
    u = −20).  Both branches are rewritten here: a Piecewise a rule writes is
    settled (see _bottom_up).
    """
    expanded = sp.expand(argument) if isinstance(argument, Mul) else argument
    found = _sigmoid_monomials(expanded) if isinstance(expanded, Add) else None
    if found is None:
        return None
    u, monomials = found
    s = sp.Dummy("s")
    poly = sp.expand(_in_sigmoid(monomials, s))
    ones = [end for end in (0, 1) if poly.subs(s, end) == 1]
    if not ones:
        return None
    near_one = log1p(expanded - 1)
    zeros = [end for end in (0, 1) if poly.subs(s, end) == 0]
    if not zeros:
        return near_one
    factored = argument if isinstance(argument, Mul) else _sigmoid_polynomial(argument)
    if factored is None or isinstance(factored, Add):
        return None
    apart = Add(*[power * log(base) for base, power in (f.as_base_exp() for f in Mul.make_args(factored))])
    side = u < 0 if ones[0] == 0 else u > 0  # s = σ(u) is 0 as u → −∞
    applied = _APPLIED.get()  # the caller's list: the rules applied in the branches are its too
    return sp.Piecewise((_bottom_up(near_one, RULES, applied), side), (_bottom_up(apart, RULES, applied), True))


def _times_log(node):
    # a*log(b) -> xlogy(a, b); a*log1p(b) -> xlog1py(a, b)   (a not a number)
    if not isinstance(node, Mul):
        return None
    factors = list(node.args)
    logs = [f for f in factors if isinstance(f, (log, log1p))]
    if len(logs) != 1:
        return None
    rest = [f for f in factors if f is not logs[0]]
    coeff = Mul(*[f for f in rest if f.is_number])
    weight = Mul(*[f for f in rest if not f.is_number])
    if weight == 1:
        return None
    kernel = xlogy if isinstance(logs[0], log) else xlog1py
    return coeff * kernel(weight, logs[0].args[0])


def _log_rowsum_exp(node):
    # log(rowsum(exp(z))) -> logsumexp(z)
    if isinstance(node, log) and isinstance(node.args[0], rowsum):
        inner = node.args[0].args[0]
        if isinstance(inner, exp):
            return logsumexp(inner.args[0])
    return None


def _log_softmax(node):
    # z - logsumexp(z) -> log_softmax(z)
    def combine(a, b):
        if isinstance(-b, logsumexp) and (-b).args[0] == a:
            return log_softmax(a)
        return None

    return _pair_rewrite(node, combine)


def _softmax(node):
    # exp(z) / rowsum(exp(z)) -> softmax(z)
    if not isinstance(node, Mul):
        return None
    factors = list(node.args)
    for f in factors:
        if isinstance(f, exp):
            denominator = Pow(rowsum(f), -1)
            if denominator in factors:
                rest = [t for t in factors if t is not f and t != denominator]
                return Mul(softmax(f.args[0]), *rest)
    return None


_COMPLEMENT = {sigmoid: lambda u: sigmoid(-u), softmax: softmax_complement}


def _probability_difference(node):
    # p - y -> p*(1 - y) - y*(1 - p) for a probability p (sigmoid, softmax) and a
    # target y in [0, 1]: when both are close to 1 the difference is formed from
    # the small complements instead of cancelling.
    if not isinstance(node, Add) or len(node.args) != 2:
        return None
    a, b = node.args
    for p, y in ((a, -b), (b, -a)):
        if type(p) in _COMPLEMENT and isinstance(y, sp.Symbol):
            return p * (1 - y) - y * _COMPLEMENT[type(p)](p.args[0])
    return None


def _expand_if_cancels(node):
    # a*(exp(x) - 1) + a -> a*exp(x): expand an Add when terms cancel
    if isinstance(node, Add):
        expanded = sp.expand_mul(node)
        if isinstance(expanded, Add) and len(expanded.args) < len(node.args):
            return expanded
        if not isinstance(expanded, Add):
            return expanded
    return None


def _linear_through_zero(node):
    # x/6 + 1/2 -> (x + 3)/6: x + 3 is exact near x = -3 (Sterbenz), so the
    # value near the zero keeps its digits
    if isinstance(node, Add) and len(node.args) == 2:
        const = [a for a in node.args if a.is_Rational]
        other = [a for a in node.args if not a.is_Rational]
        if len(const) == 1 and len(other) == 1:
            coeff, var = other[0].as_coeff_Mul()
            if isinstance(var, sp.Symbol) and coeff.is_Rational and coeff not in (1, -1):
                shift = const[0] / coeff
                if shift.is_Integer and (1 / coeff).is_Integer:
                    return ratio(var + shift, 1 / coeff)
    return None


class ratio(sp.Function):
    """``a/b`` kept as one division (SymPy would distribute ``(x + 3)/6``)."""

    is_real = True

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        return self.args[0] / self.args[1]

    def _latex(self, printer, exp=None):
        a, b = (printer._print(v) for v in self.args)
        return rf"\frac{{{a}}}{{{b}}}"


def _log_ratio(node):
    # xlogy(a, b) - xlogy(a, c) -> xlog1py(a, (b - c)/c): b - c is exact when
    # b ≈ c, so log(b/c) keeps its digits instead of two nearly equal logs
    # cancelling; the quotient is xdivy, 0 where b = c (also b = c = 0, where
    # the two logs were 0 − 0 for a = 0: a KL term with y = ŷ = 0), not 0/0
    def combine(p, q):
        if isinstance(p, xlogy) and isinstance(-q, xlogy) and p.args[0] == (-q).args[0]:
            b, c = p.args[1], (-q).args[1]
            return xlog1py(p.args[0], xdivy(b - c, c))
        return None

    return _pair_rewrite(node, combine)


def _square_root_of_number(c: sp.Expr) -> sp.Expr | None:
    """√c for a positive rational c whose root is rational (1, 4, 9/4, …), else None."""
    if not (c.is_Rational and c > 0):
        return None
    root = sp.sqrt(c)
    return root if root.is_Rational else None


def _as_square(term: sp.Expr) -> sp.Expr | None:
    """v where ``term`` is v² (a square of an expression, or a number with a rational root), else None."""
    if isinstance(term, Pow) and term.exp == 2:
        return term.base
    return _square_root_of_number(term) if term.is_Number else None


def _difference_of_squares(node):
    # a² − b² → (a − b)(a + b): 1 − x² at x = 1 − 1e−8 is 1 − (1 − 2e−8 + 1e−16),
    # whose rounded x² loses the 1e−16 (and half an ulp of 1 besides: 1e−8
    # relative), where 1 − x is exact (Sterbenz) and 1 + x nearly so; only
    # where one square has a symbol in it (two numbers are folded anyway)
    def combine(a, b):
        positive, negative = _as_square(a), _as_square(-b)
        if positive is None or negative is None or not (a.free_symbols or b.free_symbols):
            return None
        return (positive - negative) * (positive + negative)

    return _pair_rewrite(node, combine)


def _ratio_square_difference(node):
    # W·(A/B)² − W·k² → W·((A − kB)/B)·((A + kB)/B): a Gaussian's ∂/∂s,
    # ((x − m)/s)²/s − 1/s, cancels where x − m ≈ ±s (6e9 ULP at x − m = s − 1e−8),
    # while x − m − s is a sum that code generation carries in double-double
    def combine(a, b):
        for factor in Mul.make_args(a):
            base, power = factor.as_base_exp()
            if not (isinstance(base, ratio) and power == 2):
                continue
            rest = a / factor
            root = _square_root_of_number(sp.cancel(-b / rest))
            if root is None:
                continue
            top, bottom = base.args
            return rest * ratio(top - root * bottom, bottom) * ratio(top + root * bottom, bottom)
        return None

    return _pair_rewrite(node, combine)


def _square_root_difference(node):
    # √A − √B → (A − B)/(√A + √B) where A − B is shorter than A and B (a
    # constant cancels): √(1 + x²) − 1 at x = 1e−8 is 0 (1 + 1e−16 rounds to
    # 1), its true value 5e−17; x²/(√(1 + x²) + 1) keeps every digit, and the
    # sum in the denominator does not cancel
    def root_of(term):
        if isinstance(term, Pow) and term.exp == S.Half:
            return term.base
        return term if term.is_Number and _square_root_of_number(term) is not None else None

    def combine(a, b):
        first, second = root_of(a), root_of(-b)
        if first is None or second is None or not (first.free_symbols or second.free_symbols):
            return None
        difference = sp.expand(first - second)
        if len(Add.make_args(difference)) >= len(Add.make_args(sp.expand(first))) + \
                len(Add.make_args(sp.expand(second))):
            return None  # nothing cancels
        return difference / (sp.sqrt(first) + sp.sqrt(second))

    return _pair_rewrite(node, combine)


def _log_cosh(node):
    # log cosh u: cosh u rounds to 1 for |u| < 1e−8 (log cosh u = 0, not u²/2),
    # cancels in log for |u| < 1, and overflows for |u| > 710.  log1p(cosh u − 1)
    # = log1p(2 sinh²(u/2)) keeps the digits of small u; beyond |u| = 3, where
    # nothing cancels, |u| − log 2 + log1p(e^{−2|u|}) stays finite (the code
    # evaluates each branch on u clipped into its region: no overflow)
    if not isinstance(node, log):
        return None
    c, rest = node.args[0].as_coeff_Mul()  # log(c·cosh u) = log c + log cosh u (c > 0: log Σ e^{±u})
    if not (isinstance(rest, sp.cosh) and c > 0):
        return None
    u = rest.args[0]
    a = sp.Abs(u)
    return sp.log(c) + sp.Piecewise((log1p(2 * sp.sinh(u / 2) ** 2), a < 3),
                                    (a - sp.log(2) + log1p(exp(-2 * a)), True))


def _log_sech2(node):
    # log sech²(u) → −2·log cosh u (which log_cosh then rewrites): sech² u is 1 − u² and a little
    # for small u, and log of it lost what it is the log of (log(1 − tanh² x), 1e12 ULP at
    # x = 1e−6, where the value is −1e−12); a factor sech²(u)ᵏ of the argument likewise
    def take(factor):
        base, power = factor.as_base_exp()
        return -2 * power * log(sp.cosh(base.args[0])) if isinstance(base, sech2) else None

    return _log_of_factors(node, take)


def _log_cos(node):
    # log cos u: cos u rounds to 1 − u²/2 and a little for |u| < 1, and its log keeps
    # only what survived the rounding (0 for |u| < 1e−8, where log cos u = −u²/2;
    # 5e11 ULP at u = 1e−6).  Where cos u > 1/2, cos u − 1 = −2 sin²(u/2) keeps the
    # digits, log1p(−2 sin²(u/2)) (any period: sin(u/2) is accurate next to 2πk);
    # elsewhere nothing cancels, and cos u near its zeros is accurate where 1 − 2 sin²
    # would not be, so that branch keeps the form given (settled: see _bottom_up)
    if not isinstance(node, log):
        return None
    c, rest = node.args[0].as_coeff_Mul()  # log(c·cos u) = log c + log cos u
    if not (isinstance(rest, sp.cos) and c > 0) or rest.args[0].is_number:
        return None
    u = rest.args[0]
    return sp.log(c) + sp.Piecewise((log1p(-2 * sp.sin(u / 2) ** 2), sp.cos(u) > S.Half),
                                    (log(rest), True))


def _log_tanh(node):
    # log|tanh u| (log(tanh² u) is 2·log|tanh u|, log_of_power) and log tanh u: tanh u rounds
    # to 1 for |u| > 19 and its log is 0 there (−2e−17 at u = 20, 9e15 ULP); with
    # e = e^{−2|u|}, |tanh u| = (1 − e)/(1 + e) and its log is log1p(−e) − log1p(e) =
    # −2·atanh(e), which keeps e however small.  For |u| ≤ 1/2 (e > 0.37, where atanh(e)
    # would take 1 − e's rounding) the log keeps the form given: tanh u < 0.47 there,
    # nothing cancels (settled: see _bottom_up)
    if not isinstance(node, log):
        return None
    inner = node.args[0]
    absolute = isinstance(inner, sp.Abs)
    if absolute:
        inner = inner.args[0]
    if not isinstance(inner, sp.tanh) or inner.args[0].is_number:
        return None
    u = inner.args[0]
    far = sp.Abs(u) if absolute else u
    return sp.Piecewise((-2 * sp.atanh(exp(-2 * far)), far > S.Half), (node, True))


def _cosh_power(n: int, u: sp.Expr) -> sp.Expr:
    """1/coshⁿ(u): sech²(u)^(n/2) for an even n (0 where it underflows, no overflow), else as it is."""
    return sech2(u) ** (n // 2) if n % 2 == 0 else sp.cosh(u) ** -n


def _hyperbolic_ratio(node):
    # 1/coshⁿ(u) → sech²(u)^(n/2) (n even), and sinhᵐ(u)/coshⁿ(u) →
    # tanhᵏ(u)·sinhᵐ⁻ᵏ(u)/coshⁿ⁻ᵏ(u) with k = min(m, n): sinh and cosh overflow
    # for |u| > 710, where sinh/cosh is inf/inf = NaN and 1/cosh² warns; sech²
    # is 0 where it underflows.  sinh/cosh is tanh, and SymPy's derivative of
    # it, 1 − sinh²/cosh², becomes 1 − tanh² and then sech²; an odd power of
    # cosh left over stays (1/cosh u is 1/inf = 0 past 710, with a warning)
    if isinstance(node, Pow) and isinstance(node.base, sp.cosh) and node.exp.is_Integer \
            and node.exp < 0 and node.exp % 2 == 0:
        return _cosh_power(int(-node.exp), node.base.args[0])
    if not isinstance(node, Mul):
        return None
    factors = list(node.args)
    for f in factors:
        base, e = f.as_base_exp()
        if isinstance(base, sech2) and e.is_Integer and e > 0:
            u, n = base.args[0], 2 * int(e)
        elif isinstance(base, sp.cosh) and e.is_Integer and e < 0:
            u, n = base.args[0], int(-e)
        else:
            continue
        for g in factors:
            b, m = g.as_base_exp()
            if g is not f and b == sp.sinh(u) and m.is_Integer and m > 0:
                k = min(int(m), n)
                rest = [h for h in factors if h is not f and h is not g]
                return Mul(*rest, sp.tanh(u) ** k, sp.sinh(u) ** (int(m) - k), _cosh_power(n - k, u))
    return None


def _sigmoid_minus_half(node):
    # c − 2c·σ(u) → c·tanh(−u/2)... as −c·tanh(u/2): 2σ(u) − 1 cancels for
    # |u| < 1 (it is 0 at u = 1e−300, where tanh(u/2) is 5e−301)
    def combine(a, b):
        if not a.is_Number or a == 0:
            return None
        coeff, rest = b.as_coeff_Mul()
        if isinstance(rest, sigmoid) and coeff == -2 * a:
            return -a * sp.tanh(rest.args[0] / 2)
        return None

    new = _pair_rewrite(node, combine)
    found = _sigmoid_monomials(node) if new is not None and len(node.args) > 2 else None
    if found is not None and sp.expand(_in_sigmoid(found[1], S.Half)) != 0:
        # 1 − 2σ(u) + σ(u)², which is σ(−u)²: a polynomial in σ(u) is sigmoid_polynomial's,
        # whole (−tanh(u/2) + σ(u)² cancels as u → ∞); tanh(u/2) is its factor where P(1/2) = 0
        return None
    return new


def _sigmoid_monomial(term: sp.Expr, u: sp.Expr | None):
    """(c, a, b, u) for a term c·σ(u)ᵃ·σ(−u)ᵇ (c free of σ(±u)), else None; ``u`` is fixed once found."""
    coefficient, a, b = [], 0, 0
    for factor in Mul.make_args(term):
        base, power = factor.as_base_exp()
        if isinstance(base, sigmoid) and power.is_Integer and power > 0:
            v = base.args[0]
            if u is None:
                u = v
            if v == u:
                a += int(power)
                continue
            if sp.expand(v + u) == 0:
                b += int(power)
                continue
        coefficient.append(factor)
    c = Mul(*coefficient)
    if u is not None and (c.has(sigmoid(u)) or c.has(sigmoid(-u))):
        return None
    return c, a, b, u


def _sigmoid_monomials(node: sp.Expr):
    """(u, [(c, a, b), …]) for an Add of at least two terms c·σ(u)ᵃ·σ(−u)ᵇ, else None."""
    u, monomials = None, []
    for term in node.args:
        found = _sigmoid_monomial(term, u)
        if found is None:
            return None
        c, a, b, u = found
        monomials.append((c, a, b))
    return (u, monomials) if u is not None and len(monomials) >= 2 else None


def _in_sigmoid(monomials, s: sp.Symbol) -> sp.Expr:
    """Σ c·sᵃ(1 − s)ᵇ: the monomials (c, a, b) of c·σ(u)ᵃσ(−u)ᵇ as a polynomial in s = σ(u)."""
    return sum(c * s**a * (1 - s) ** b for c, a, b in monomials)


def _sigmoid_polynomial(node):
    # Σ cᵢ·σ(u)^aᵢ·σ(−u)^bᵢ is a polynomial P(s) in s = σ(u) (σ(−u) = 1 − s).  Where
    # it cancels as u → +∞ (the terms without σ(−u), which are what is left at
    # s = 1, sum to fewer terms: σ(x) − σ(x)², the derivative of e^x/(1 + e^x),
    # 1e17 ULP at x = 40; x·σ + σ − x·σ² is 1 + x − x there), as u → −∞ (the
    # same at s = 0) or at u = 0 (P(1/2) = 0, σ(−x) − σ(x) is −tanh(x/2)), the factors s, 1 − s
    # and 2s − 1 are taken out as σ(u), σ(−u) and tanh(u/2), and what is left is
    # written in the Bernstein basis sᵏ(1 − s)ᵈ⁻ᵏ, whose terms do not cancel at
    # either end
    if not isinstance(node, Add):
        return None
    monomials = _sigmoid_monomials(node)
    if monomials is None and node.has(sigmoid):  # a factor (1 − 3σ(x)) inside a term: multiplied out
        expanded = sp.expand(node)
        if not isinstance(expanded, Add):  # the terms collapse to one: 2σσ̄ + σ² + 2σσ̄ − σ² is 4σσ̄
            return expanded
        monomials = _sigmoid_monomials(expanded)
    if monomials is None:
        return None
    u, monomials = monomials
    if any(c.has(sp.Piecewise) for c, _, _ in monomials):
        # a coefficient another rule wrote as branches (exponential_rational's): its
        # Bernstein form would not be a polynomial (PolynomialError, in an order of
        # the terms that SymPy's caches gave one test run)
        return None
    s = sp.Dummy("s")
    poly = sp.Poly(_in_sigmoid(monomials, s), s)
    if poly.is_zero:
        return S.Zero

    def vanishes(p, at):
        return sp.expand(p.eval(at)) == 0

    def cancel_at_end(weights):
        # the terms left at s = 0 (or 1): does their sum cancel, a monomial of the weights met
        # with both signs (1 + x − x)?  Not where like terms add: 1 + σ(x) is 2 at s = 1, and
        # as 2σ(x) + σ(−x), a sum near 1, its log lost what log1p(σ(x)) keeps (4e8 ULP at x = −20)
        signs: dict[sp.Expr, set] = {}
        for c in weights:
            for monomial, coefficient in sp.expand(c).as_coefficients_dict().items():
                signs.setdefault(monomial, set()).add(sp.sign(coefficient))
        return len(weights) >= 2 and any(len(found) > 1 for found in signs.values())

    low_a, low_b = min(a for _, a, _ in monomials), min(b for _, _, b in monomials)  # common factors aside
    cancels = cancel_at_end([c for c, a, _ in monomials if a == low_a]) \
        or cancel_at_end([c for c, _, b in monomials if b == low_b]) \
        or (poly.degree() >= 1 and vanishes(poly, S.Half))
    if not cancels:
        return None
    taken = {}
    for name, factor, at in (("s", sp.Poly(s, s), 0), ("1-s", sp.Poly(1 - s, s), 1),
                             ("2s-1", sp.Poly(2 * s - 1, s), S.Half)):
        taken[name] = 0
        while poly.degree() >= 1 and vanishes(poly, at):
            poly = sp.Poly(sp.expand(sp.div(poly, factor)[0].as_expr()), s)
            taken[name] += 1
    d = poly.degree()
    t = sp.Dummy("t")
    bernstein = sp.Poly(sp.expand(sp.cancel(poly.as_expr().subs(s, t / (1 + t)) * (1 + t) ** d)), t)
    rest = Add(*[bernstein.coeff_monomial(t**k) * sigmoid(u) ** k * sigmoid(-u) ** (d - k) for k in range(d + 1)])
    return (sigmoid(u) ** taken["s"] * sigmoid(-u) ** taken["1-s"] * sp.tanh(u / 2) ** taken["2s-1"]
            * sp.factor_terms(rest))


def _sigmoid_softplus_difference(node):
    # a·σ(u) − b·softplus(u) with a = b·u → −b·(|u|·σ(−|u|) + softplus(−|u|)):
    # the derivative of softplus(x)/x, σ(x)/x − softplus(x)/x², cancels for
    # x > 1 (u·σ(u) − softplus(u) → −(u + 1)e^{−u}: 1.1e9 ULP at x = 19.95, and
    # long double no help).  g(u) = u·σ(u) − softplus(u) is even (g(u) =
    # −(u·σ(−u) + softplus(−u)), which cancels for u < −1 instead), so at −|u|
    # it is two terms of one sign
    def combine(a, b):
        sigmoids = [f for f in Mul.make_args(a) if isinstance(f, sigmoid)]
        softpluses = [f for f in Mul.make_args(b) if isinstance(f, softplus)]
        if len(sigmoids) != 1 or len(softpluses) != 1 or sigmoids[0].args[0] != softpluses[0].args[0]:
            return None
        u = sigmoids[0].args[0]
        if (-u).is_nonnegative:  # already −|w|: the form this rule writes
            return None
        weight_a, weight_b = a / sigmoids[0], -b / softpluses[0]  # a·σ(u) − weight_b·softplus(u)
        if weight_a.has(sigmoid, softplus) or weight_b.has(sigmoid, softplus) \
                or sp.cancel(weight_a - weight_b * u) != 0:
            return None
        magnitude = sp.Abs(u)
        return -weight_b * (magnitude * sigmoid(-magnitude) + softplus(-magnitude))

    return _pair_rewrite(node, combine)


def _softplus_less_argument(node):
    # c·softplus(u) − c·u → c·softplus(−u): log(1 + e^u) − u = log(1 + e^{−u});
    # the difference cancels for u > 1 (softplus(x) − x is 0 from x = 37, where
    # it is 8.5e−17)
    def combine(a, b):
        plus = [f for f in Mul.make_args(a) if isinstance(f, softplus)]
        if len(plus) != 1:
            return None
        weight = a / plus[0]
        if weight.has(softplus) or sp.expand(b + weight * plus[0].args[0]) != 0:
            return None
        return weight * softplus(-plus[0].args[0])

    return _pair_rewrite(node, combine)


def _expm1_times_sigmoid(node):
    # expm1(u)·σ(−u)ⁿ → tanh(u/2)·σ(−u)ⁿ⁻¹: (e^u − 1)/(1 + e^u) is tanh(u/2); as a
    # product it is inf·0 = NaN for u > 709 ((1 − e^{−x})/(1 + e^{−x}) at x = −710)
    def combine(f, g):
        base, power = g.as_base_exp()
        if isinstance(f, expm1) and isinstance(base, sigmoid) and power.is_Integer and power > 0 \
                and sp.expand(base.args[0] + f.args[0]) == 0:
            return sp.tanh(f.args[0] / 2) * base ** (power - 1)
        return None

    return _pair_rewrite(node, combine, Mul)


def _exponential_term(term: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(c, v) for a term c·e^v (v = 0 for a term without an exponential; c free of exp)."""
    term = sp.powsimp(term)
    exps = [f for f in Mul.make_args(term) if isinstance(f, exp)]
    if len(exps) != 1:  # none, or several that powsimp left apart (c keeps them: the caller refuses)
        return term, S.Zero
    return Mul(*[f for f in Mul.make_args(term) if f is not exps[0]]), exps[0].args[0]


def _sigmoid_denominator(denominator: sp.Expr):
    """(c, u, n) for a denominator c·(1 + eᵘ)ⁿ, else None."""
    scale, rest = sp.powsimp(sp.factor(denominator), deep=True).as_coeff_Mul()  # (factor splits e^{b + wx})
    base, n = rest.as_base_exp()
    if not (n.is_Integer and n > 0 and isinstance(base, Add) and len(base.args) == 2 and S.One in base.args):
        return None
    other = base.args[0] if base.args[1] == 1 else base.args[1]
    if not isinstance(other, exp) or other.args[0].is_number:
        return None
    return scale, other.args[0], n


def _exponential_ratio(node):
    # N/D with D = c·(1 + e^u)ⁿ and N = Σ aₖ·e^{ku} (0 ≤ k ≤ n whole) once
    # common exponentials are cancelled, as Σ aₖ·σ(u)ᵏ·σ(−u)ⁿ⁻ᵏ/c:
    # e^x/(e^x + e^{2x}) = 1/(1 + e^x) is inf/inf = NaN at x = 710 (and 0/0 at
    # x = −746) as written, and the derivative of e^x/(1 + e^x)², (e^x −
    # e^{2x})/(1 + e^x)³ once cancelled, is inf/inf past 355; each
    # σ(u)ᵏσ(−u)ⁿ⁻ᵏ is at most 1, and sigmoid_polynomial takes out what cancels
    if not isinstance(node, (Mul, Add)) or len(node.free_symbols) > 1 or not _has_exponential_denominator(node):
        return None  # (of one variable: a loss's σ(z) − y is probability_difference's)
    return _sigmoid_sum(*sp.fraction(sp.cancel(node)))


def _sigmoid_sum(numerator: sp.Expr, denominator: sp.Expr) -> sp.Expr | None:
    """Σ aₖ·σ(u)ᵏ·σ(−u)ⁿ⁻ᵏ/c for N/D with D = c·(1 + eᵘ)ⁿ and N = Σ aₖ·e^{ku}, else None."""
    power = _sigmoid_denominator(denominator)
    if power is None:
        return None
    scale, u, n = power
    terms = []
    for term in Add.make_args(sp.expand(numerator)):
        c, v = _exponential_term(term)
        k = sp.simplify(v / u)
        if c.has(exp) or not (k.is_Integer and 0 <= k <= n):
            return None
        terms.append(c * sigmoid(u) ** k * sigmoid(-u) ** (n - k))
    return Add(*terms) / scale


def _log_difference(node):
    # c·log A − c·log B → c·log1p((A − B)/B) where A − B is shorter than A and B
    # (a term cancels) and B is at least a positive number (log(x + 1) − log x
    # stays: 1/x overflows for x < 5.6e−309): log(e^x + 1) − log(e^x + 2) is softplus(x) − softplus(x −
    # log 2) − log 2, two logarithms of about x whose difference e^{−x} is lost
    # for x > 37; A − B = −1 is exact, and log1p(−1/(e^x + 2)) keeps it
    # A B that is no positive number plus terms ≥ 0 but is ≥ 0 (x², as log_of_power wrote
    # 2·log|x| from log x²) takes the quotient where B > 1 only, and the logs as they are
    # elsewhere, where they do not cancel: log(x² + 1) − 2·log|x| was 0 at x = 1e10, where
    # it is 1e−20 (log1p(1/x²)), and inf past 1.3e154, where x² overflowed
    def combine(a, b):
        ca, la = a.as_coeff_Mul()
        cb, lb = b.as_coeff_Mul()
        if not (isinstance(la, log) and isinstance(lb, log)) or ca.is_negative or ca == 0:
            return None
        first, second = la.args[0], lb.args[0]
        if ca != -cb:  # c·log A − c·k·log|u| is c·(log A − log uᵏ) for an even k
            k = -cb / ca
            if not (isinstance(second, sp.Abs) and k.is_Integer and k.is_even and k > 0):
                return None
            second = second.args[0] ** k
        floor, rest = second.as_coeff_Add()  # B = c + (terms ≥ 0), c > 0: (A − B)/B stays finite
        floored = floor > 0 and rest.is_nonnegative
        if first.is_number or second.is_number or not (floored or second.is_nonnegative):
            return None
        difference = sp.expand(first - second)
        if difference == 0 or len(Add.make_args(difference)) >= max(
                len(Add.make_args(sp.expand(first))), len(Add.make_args(sp.expand(second)))):
            return None
        if floored:
            return ca * log1p(difference / second)
        return sp.Piecewise((ca * log1p(difference / second), second > 1), (a + b, True))

    return _pair_rewrite(node, combine)


def _log_of_quotient_near_one(node):
    # log(A/B) → log1p((A − B)/B) where |(A − B)/B| < 1/2 and a term of A cancels one of B
    # (so A − B is exact, or nearly so, where A/B rounded is not): the Bernoulli KL
    # divergence y·log(y/p) + (1 − y)·log((1 − y)/(1 − p)) took the log of a rounded
    # quotient near 1, whose rounding is all of a log near 0 (2e7 eps of its terms at
    # random points); elsewhere log(A/B) as it was (log1p of a quotient near −1 would
    # lose what A/B keeps).  And xlogy(a, A/B) likewise, as xlogy where not: 0 at a = 0
    if isinstance(node, log):
        weight, quotient = None, node.args[0]
    elif isinstance(node, xlogy):
        weight, quotient = node.args
    else:
        return None
    top, bottom = sp.fraction(quotient)
    if quotient.is_number or not (isinstance(top, Add) or isinstance(bottom, Add)) or bottom.is_number:
        return None
    difference = sp.expand(top - bottom)
    if difference == 0 or len(Add.make_args(difference)) >= len(Add.make_args(sp.expand(top))) \
            + len(Add.make_args(sp.expand(bottom))):
        return None
    ratio_ = difference / bottom
    near = log1p(ratio_) if weight is None else weight * log1p(ratio_)
    return sp.Piecewise((near, sp.Abs(ratio_) < S.Half), (node, True))


def _exp_over_expm1(node):
    # e^{ku}/expm1(u)ⁿ → (−1)ᵏ·expm1(u)ᵏ⁻ⁿ/expm1(−u)ᵏ for a whole k, 1 ≤ k ≤ n:
    # e^u/(e^u − 1) = −1/expm1(−u), so the derivative of x/(e^x − 1),
    # 1/expm1(x) − x·e^x/expm1(x)², is no longer inf/inf = NaN for x > 709
    def combine(f, g):
        base, power = g.as_base_exp()
        if not (isinstance(f, exp) and isinstance(base, expm1) and power.is_Integer and power < 0):
            return None
        k, u = sp.simplify(f.args[0] / base.args[0]), base.args[0]
        return (-1) ** k * expm1(u) ** (k + power) * expm1(-u) ** -k if k.is_Integer and 1 <= k <= -power else None

    return _pair_rewrite(node, combine, Mul)


def _expm1_reciprocals(node):
    # w/expm1(u)ᵏ + w/expm1(u)ᵏ⁺¹ → w·eᵘ/expm1(u)ᵏ⁺¹ (expm1(u) + 1 = eᵘ): the two
    # cancel where expm1(u) → −1 (u → −∞); the derivative of x·eˣ/(eˣ − 1) has
    # −x/expm1(−x) − x/expm1(−x)², x − x for x > 30 (5.07 ULP at x = 30)
    def combine(a, b):
        for f in Mul.make_args(a):
            base, power = f.as_base_exp()
            if isinstance(base, expm1) and power.is_Integer and power < 0:
                weight = a / f
                if not weight.has(base) and sp.expand(b - weight * base ** (power - 1)) == 0:
                    return weight * exp(base.args[0]) * base ** (power - 1)
        return None

    return _pair_rewrite(node, combine)


def _log_of_two_exponentials(node):
    # log(c₁e^a + c₂e^b) → a + log c₁ + softplus(b − a + log(c₂/c₁)) (c₁, c₂ > 0
    # numbers): log(eˣ + e²ˣ) is −inf below x = −745 and inf above 355, where it
    # is x + softplus(x); a log-sum-exp of two terms typed by hand.  Of several
    # variables, max(a′, b′) + softplus(−|a′ − b′|) (a′ = a + log c₁, b′ likewise),
    # and of three terms or more the largest a′ᵢ separated by log1p, a′ᵢ +
    # log1p(Σⱼ e^{min(a′ⱼ − a′ᵢ, 0)}) in the branch where a′ᵢ is the first largest (the
    # min keeps the other branches finite): log(eˣ + eʸ + eᶻ) was −inf at
    # x = y = z = −1e300 and inf past 709.78; pair by pair, L = max(L, a′ₖ) +
    # softplus(−|L − a′ₖ|), erred by 9.9 ULP at (−40, −40, 0), L's rounding in e^L
    if not isinstance(node, log) or not isinstance(node.args[0], Add) or len(node.args[0].args) < 2:
        return None
    parts = [term.as_coeff_Mul() for term in node.args[0].args]
    if not all(isinstance(e, exp) and c.is_number and c > 0 for c, e in parts):
        return None
    if len(parts) > 2:
        if len(node.free_symbols) == 1:
            return None
        exponents = [e.args[0] + sp.log(c) for c, e in parts]
        branches = []
        for i, top in enumerate(exponents):
            rest = Add(*(exp(sp.Min(other - top, 0)) for j, other in enumerate(exponents) if j != i))
            chosen = sp.And(*(top >= other for other in exponents[i + 1:]))
            branches.append((top + log1p(rest), chosen if i < len(exponents) - 1 else True))
        return sp.Piecewise(*branches)
    (c1, e1), (c2, e2) = parts
    a, b = e1.args[0], e2.args[0]
    if sp.expand(a + b) == 0:
        return None  # e^u + e^{−u}: 2 cosh u, and log cosh (exponential_pair, log_cosh)
    if len(node.free_symbols) > 1:  # a = −1e300, b = −800: a + softplus(b − a) would be 0
        first, second = a + sp.log(c1), b + sp.log(c2)
        return sp.Max(first, second) + softplus(-sp.Abs(first - second))
    return a + sp.log(c1) + softplus(b - a + sp.log(c2 / c1))


def _root_less(node):
    # √A + C → (A − C²)/(√A − C) for C < 0, where A − C² is shorter than A (a term
    # cancels): √(x² + 1) − x loses its digits for x > 1 (4.6e5 ULP at x = 750,
    # where it is 1/(√(x² + 1) + x)), and √(x² + 1) + x for x < −1; for C ≥ 0 the
    # sum stays (as √A + |C|, which this rule leaves: a sum of two terms ≥ 0)
    def combine(a, b):
        if isinstance(-a, Pow) and (-a).exp == S.Half:  # C − √A = −(√A − C)
            flipped = combine(-a, -b)
            return None if flipped is None else -flipped
        if not (isinstance(a, Pow) and a.exp == S.Half) or b.has(sp.sqrt(a.base)):
            return None
        inner, added = a.base, b
        if added.is_number or (isinstance(-added, Pow) and (-added).exp == S.Half) \
                or (isinstance(added, Pow) and added.exp == S.Half) or added.is_nonnegative:
            return None  # a number or another root (square_root_difference's), or a sum of terms ≥ 0
        difference = sp.expand(inner - added**2)
        if len(Add.make_args(difference)) >= len(Add.make_args(sp.expand(inner))):
            return None
        # the terms of A that C² does not take, as A holds them: a square (y − w·x)² written
        # out as w²x² − 2wxy + y² cancels where y ≈ w·x (the pseudo-Huber loss
        # √((y − w·x)² + d²) − d erred by 9e4 ULP); where C² is no term of A, the
        # difference factored when that is shorter than it written out
        kept = [t for t in Add.make_args(inner) if sp.expand(t - added**2) != 0]
        if len(kept) < len(Add.make_args(inner)) and sp.expand(Add(*kept) - difference) == 0:
            difference = Add(*kept)
        elif len(Add.make_args(difference)) > 1:
            factored = sp.factor(difference)
            if sp.count_ops(factored) < sp.count_ops(difference):
                difference = factored
        return sp.Piecewise((difference / (a - added), added < 0), (a + sp.Abs(added), True))

    return _pair_rewrite(node, combine)


def _over_root_less_one(node):
    # c·B/√A + c → c·(√A + B)/√A, for root_less: the derivative of √(x² + 1) − x,
    # x/√(x² + 1) − 1, cancels for x > 1 as the function does (and that of
    # √(x² + 1) + x for x < −1)
    def combine(a, b):
        if not b.is_number or b == 0:
            return None
        roots = [f for f in Mul.make_args(a) if isinstance(f, Pow) and f.exp == -S.Half]
        if len(roots) != 1:
            return None
        weight = a / roots[0] / b  # a = b·B/√A
        inner = roots[0].base
        if weight.has(sp.sqrt(inner)) or weight.is_number or weight.is_nonnegative \
                or len(Add.make_args(sp.expand(inner - weight**2))) >= len(Add.make_args(sp.expand(inner))):
            return None
        return b * (sp.sqrt(inner) + weight) / sp.sqrt(inner)

    return _pair_rewrite(node, combine)


def _exponential_of_exponential(node):
    # e^u·e^v → e^{u + v} where v holds an exponential: the Gumbel density
    # e^{−x}·e^{−e^{−x}} is inf·0 = NaN below x = −709, where it is e^{−x − e^{−x}} = 0
    if not isinstance(node, Mul):
        return None
    exps = [f for f in node.args if isinstance(f, exp)]
    if len(exps) < 2 or not any(e.args[0].has(exp) for e in exps):
        return None
    rest = [f for f in node.args if not isinstance(f, exp)]
    return Mul(exp(Add(*[e.args[0] for e in exps])), *rest)


def _exp_times_expm1(node):
    # e^u·expm1(−u) → −expm1(u): eˣ·(1 − e⁻ˣ) is 0·inf = NaN below x = −709
    def combine(f, g):
        if isinstance(f, exp) and isinstance(g, expm1) and sp.expand(f.args[0] + g.args[0]) == 0:
            return -expm1(f.args[0])
        return None

    return _pair_rewrite(node, combine, Mul)


def _exp_times_large_expm1(node):
    # e^A·expm1(v) → −e^{A + v}·expm1(−v) where v > 0: e^A underflows to 0 while
    # expm1(v) overflows (the Gumbel density's derivative e^{−x − e^{−x}}·expm1(−x)
    # is 0·inf = NaN at x = −1e300, where it is 0); A + v is simplified as a whole.
    # Each branch takes v clamped to where it is chosen
    def combine(f, g):
        if not (isinstance(f, exp) and isinstance(g, expm1)):
            return None
        a, v = f.args[0], g.args[0]
        if sp.expand(a + v) == 0 or v.is_number or a.is_number:
            return None  # (exp_times_expm1's case; a number overflows nowhere)
        large, small = sp.Max(v, 0), sp.Min(v, 0)
        return sp.Piecewise((-exp(sp.expand(a + large)) * expm1(-large), v > 0), (exp(a) * expm1(small), True))

    return _pair_rewrite(node, combine, Mul)


def _into_piecewise(node):
    # p(x) + t → Piecewise of p's branches + t, where t cancels in a branch:
    # log cosh x − |x| is (|x| − log 2 + log1p(e^{−2|x|})) − |x|, which is 0 (not
    # −log 2) at x = 1e300, rounded before the |x| cancel; folded, they cancel
    # in SymPy
    if not isinstance(node, Add):
        return None
    pieces = [t for t in node.args if isinstance(t, sp.Piecewise)]
    if len(pieces) != 1:
        return None
    others = [t for t in node.args if t is not pieces[0]]
    folded = [(sp.Add(e, *others), c) for e, c in pieces[0].args]
    if not any(len(Add.make_args(new)) < len(Add.make_args(old)) + len(others)
               for (new, _), (old, _) in zip(folded, pieces[0].args)):
        return None
    return sp.Piecewise(*folded)


def _tanh_less_sign(node):
    # c·tanh(u) − c·sign(u) → −2c·sign(u)·σ(−2|u|): (log cosh x − |x|)′ cancels
    # for |x| > 1 (0 from |x| = 19, where it is 8.5e−18); 1 − tanh|u| is 2σ(−2|u|)
    def combine(a, b):
        tanhs = [f for f in Mul.make_args(a) if isinstance(f, sp.tanh)]
        if len(tanhs) != 1:
            return None
        weight, u = a / tanhs[0], tanhs[0].args[0]
        if weight.has(sp.tanh) or sp.expand(b + weight * sp.sign(u)) != 0:
            return None
        return -2 * weight * sp.sign(u) * sigmoid(-2 * sp.Abs(u))

    return _pair_rewrite(node, combine)


def _exponential_shift(node):
    # N/Πₖ Dₖⁿᵏ with each Dₖ = Σ cᵢ·e^{vᵢ} (cᵢ > 0, of several variables) and N =
    # Σ dⱼ·e^{wⱼ}, each Dₖ divided by e^{mₖ}, mₖ = max vᵢ, and N by Πₖ e^{nₖ·mₖ}
    # (the log-sum-exp shift): a two-class softmax typed out, e^a/(e^a + e^b),
    # is 0/0 = NaN where a, b < −745 and inf/inf past 709.78; shifted, one term
    # of each Dₖ is 1 and none exceeds its cᵢ.  Of one variable:
    # exponential_rational's
    if not isinstance(node, (Mul, Add, Pow)) or len(node.free_symbols) < 2 \
            or not _has_exponential_denominator(node) or _exponential_inside(node):
        return None
    numerator, denominator = sp.fraction(sp.cancel(sp.powsimp(node)))
    if _sigmoid_denominator(denominator) is not None:
        return None  # σ(u)ⁿ: the sigmoid rules' (σ(w·x + b) typed out)
    scale, shifts, sums, shifted_by = S.One, S.Zero, [], []
    for factor in Mul.make_args(sp.factor(denominator)):
        base, power = factor.as_base_exp()
        if not base.has(exp):
            scale *= factor
            continue
        if not (isinstance(base, Add) and power.is_Integer and power > 0):
            return None
        terms = [_exponential_term(t) for t in base.args]
        if not all(c.is_number and c > 0 for c, _ in terms):
            return None
        top = sp.Max(*[v for _, v in terms])
        shifts += power * top
        shifted_by += [(v, top) for _, v in terms]
        sums.append(Add(*[c * exp(v - top) for c, v in terms]) ** power)
    if not sums:
        return None
    shifted = []
    for term in Add.make_args(sp.expand(numerator)):
        c, w = _exponential_term(term)
        if c.has(exp):
            return None
        shifted.append(c * _shifted_exponential(w, shifts, shifted_by))
    return Add(*shifted) / (scale * Mul(*sums))


def _shifted_exponential(w: sp.Expr, shifts: sp.Expr, pairs: list) -> sp.Expr:
    """e^{w − shifts}, as Π e^{vᵢ − mᵢ} where w is a sum of denominator exponents vᵢ (each
    vᵢ − mᵢ exact near 0, where a + b − 2m of a rounded a + b was not), times what is left."""
    for size in range(1, 5):
        for chosen in itertools.combinations_with_replacement(pairs, size):
            if sp.expand(sum(v for v, _ in chosen) - w) == 0:
                rest = sp.expand(sum(m for _, m in chosen) - shifts)
                return Mul(*[exp(v - m) for v, m in chosen]) * (exp(rest) if rest != 0 else S.One)
    return exp(w - shifts)


def _exponential_inside(node: sp.Expr) -> bool:
    """Whether an exponential sits inside a function other than exp, or in an exponent."""
    return any((isinstance(f, sp.Function) and not isinstance(f, exp) or isinstance(f, exp) and f.args[0].has(exp))
               and f.has(exp) for f in sp.preorder_traversal(node))


def _log_of_exponential(node):
    # log(eᵘ·r) → u + log r (eᵘ > 0, so both sides are real where r > 0): a
    # density's log typed out, log(e^{−(x−m)²/(2s²)}/(s√(2π))), is −inf where
    # the exponential underflows (s = 1e−8, x − m = 2.5: −3.1e16 in truth)
    return _log_of_factors(node, lambda factor: factor.args[0] if isinstance(factor, exp) else None)


def _inverse_hyperbolic(node):
    # log(B + √(B² + 1)) → asinh(B), log(B + √(B² − 1)) → acosh(B) (where it is
    # real, B ≥ 1), log((1 + u)/(1 − u)) and c·log(1 + u) − c·log(1 − u) →
    # 2c·atanh(u): typed out, B + √(B² + 1) cancels for B < 0 (log(x + √(x² +
    # 1)) is −inf at x = −1e15, where it is −35.2) and 1 ± u rounds u away for
    # |u| < 1e−16 (log((1 + x)/(1 − x))/2 is 0 at x = 1e−300)
    if isinstance(node, log):
        arg = node.args[0]
        if isinstance(arg, Add) and len(arg.args) == 2:
            for root, other in (arg.args, arg.args[::-1]):
                if isinstance(root, Pow) and root.exp == S.Half and not other.is_number \
                        and not other.has(root):
                    rest = sp.expand(root.base - other**2)
                    if rest == 1:
                        return sp.asinh(other)
                    if rest == -1:
                        return sp.acosh(other)
        numerator, denominator = sp.fraction(arg)
        if not (numerator.is_number or denominator.is_number) and sp.expand(numerator + denominator) == 2:
            return 2 * sp.atanh(sp.expand(numerator - denominator) / 2)
        return None

    def combine(a, b):
        ca, la = a.as_coeff_Mul()
        cb, lb = b.as_coeff_Mul()
        if not (isinstance(la, log) and isinstance(lb, log)) or ca != -cb:
            return None
        plus, minus = la.args[0], lb.args[0]
        if plus.is_number or minus.is_number or sp.expand(plus + minus) != 2:
            return None
        return 2 * ca * sp.atanh(sp.expand(plus - minus) / 2)

    return _pair_rewrite(node, combine)


def _acosh_one_plus(node):
    # acosh(1 + u) → log1p(u + √u·√(u + 2)): 1 + u rounds away u for u < 1e−16 and
    # acosh of it is 0 (acosh(1 + x²) at x = 1e−9, true 1.4e−9; 3.7e11 ULP at random
    # points); √u·√(u + 2) is √(u² + 2u) without the overflow of u² past 1.3e154
    u = _less_one(node.args[0]) if isinstance(node, sp.acosh) else None
    return None if u is None else log1p(u + sp.sqrt(u) * sp.sqrt(u + 2))


def _gudermannian(node):
    # asin(tanh u) → atan(sinh u), acos(tanh u) → 2·atan(e^{−u}) (the Gudermannian function
    # and its complement): tanh u rounds to 1 − 2e^{−2u}'s neighbour, where asin and acos
    # magnify its rounding by 1/√(1 − tanh²) = cosh u (5.1e7 ULP at u = 19; tanh is 1
    # from u = 19.1, and asin of it π/2 − 2e^{−u} to no digit)
    if isinstance(node, (sp.asin, sp.acos)) and isinstance(node.args[0], sp.tanh):
        u = node.args[0].args[0]
        return sp.atan(sp.sinh(u)) if isinstance(node, sp.asin) else 2 * sp.atan(exp(-u))
    return None


def _exp_of_a_log(node):
    # exp(a·log b) → b^a (NaN for b < 0, where log b is, unless a = 0): a·log b is rounded twice, and exp
    # magnifies its rounding by |a·log b| (exp(x·log y), y^x typed out, 249 ULP at random
    # points; x^x as exp(x·log x) 460 ULP at x = 100), where np.power rounds once
    # (bottom up, a·log b is xlogy(a, b) by then, whose 0·log 0 = 0 is 0⁰ = 1 here too)
    if not isinstance(node, exp):
        return None
    factors = Mul.make_args(node.args[0])
    logs = [f for f in factors if isinstance(f, (log, xlogy, log1p, xlog1py))]
    if len(logs) != 1:
        return None
    rest = Mul(*[f for f in factors if f is not logs[0]])
    if isinstance(logs[0], (xlogy, xlog1py)):
        base, power = logs[0].args[1], rest * logs[0].args[0]
    else:
        base, power = logs[0].args[0], rest
    if isinstance(logs[0], (log1p, xlog1py)):  # e^{a·log1p(b)} = (1 + b)^a: compensate_sums takes 1 + b whole
        base = 1 + base
    if power.has(log, xlogy, log1p, xlog1py) or not base.is_real or not power.is_real:
        return None
    if base.is_nonnegative:
        return base**power
    # (and 1 where a = 0, as xlogy's 0·log b = 0 gives it at b < 0 too)
    return sp.Piecewise((base**power, sp.Or(base >= 0, sp.Eq(power, 0))), (S.NaN, True))


def _root_sum_cancels(node):
    # N/(B + √A)ⁿ where N, put together, holds the factor B + √A: the derivative
    # of log(x + √(x² + 1)), (x/√(x² + 1) + 1)/(x + √(x² + 1)), is 1/√(x² + 1),
    # and as written both sums cancel for x < −1
    if not isinstance(node, Mul):
        return None
    sums = [f.base for f in node.args if isinstance(f, Pow) and f.exp.is_negative and isinstance(f.base, Add)
            and any(isinstance(t, Pow) and t.exp == S.Half and (node / f).has(t.base) for t in f.base.args)]
    if not sums:
        return None
    new = sp.cancel(sp.together(node))
    return None if any(new.has(b) for b in sums) else new


def _log_of_expm1(node):
    # log(−expm1(v)) → log1p(−eᵛ) for v < −log 2 (Mächler's log1mexp): log(1 −
    # e^{−x}) is 0 from x = 37 (−8.5e−17 there), where −expm1(−x) rounds to 1;
    # log(expm1(v)) → v + log1p(−e^{−v}) for v > 20: log(eˣ − 1) is inf from
    # x = 710, where it is x.  The other branch keeps the form given, accurate
    # there (and settled: see _bottom_up).
    if not isinstance(node, log):
        return None
    coeff, rest = node.args[0].as_coeff_Mul()
    if not isinstance(rest, expm1) or rest.args[0].is_number:
        return None
    v = rest.args[0]
    if coeff == -1:
        return sp.Piecewise((log1p(-exp(v)), v < -sp.log(2)), (node, True))
    if coeff == 1:
        return sp.Piecewise((v + log1p(-exp(-v)), v > 20), (node, True))
    return None


def _is_erfc(node: sp.Expr) -> bool:
    """erfc, the primitive or SymPy's (as a user types it)."""
    return isinstance(node, (erfc, sp.erfc))


# The branches of the normal tail's rules take their argument clamped to
# where they are chosen: the code evaluates every branch on every element
# (np.where), and a branch not taken would warn (log 0, inf − inf) there.


def _log_ndtr(u: sp.Expr) -> sp.Expr:
    """log Φ(u) that keeps its digits: log(erfcx(−u/√2)/2) − u²/2 for u < −1, log1p(−Φ(−u)) for u > 0."""
    low, high = sp.Min(u, -1), sp.Max(u, 0)
    tail = log(erfcx(-low / sp.sqrt(2))) - low**2 / 2 - log(2)
    return sp.Piecewise((tail, u < -1), (log(ndtr(sp.Max(sp.Min(u, 0), -1))), u <= 0),
                        (log1p(-ndtr(-high)), True))


def _log_erfc(u: sp.Expr) -> sp.Expr:
    """log erfc(u) that keeps its digits: log erfcx(u) − u² for u > ½, log 2 + log1p(−erfc(−u)/2)
    for u < −½, log1p(−erf(u)) between.

    For u < −½ erfc(u) is near 2, and a log Φ typed as log((1 + erf x)/2) is
    log erfc(−x) − log 2: as log1p(−erf(u)) − log 2 it cancelled (1.7e4 ULP
    at x = 3); written with log 2 apart, the two log 2 cancel in SymPy (see
    into_piecewise).
    """
    high, low, middle = sp.Max(u, S.Half), sp.Min(u, -S.Half), sp.Max(sp.Min(u, S.Half), -S.Half)
    return sp.Piecewise((log(erfcx(high)) - high**2, u > S.Half),
                        (log(2) + log1p(-erfc(-low) / 2), u < -S.Half),
                        (log1p(-sp.erf(middle)), True))


def _log_of_normal_tail(node):
    # log(Φ(u)ᵏ·r) → k·log Φ(u) + log r and log(erfc(u)ᵏ·r) alike, each
    # written to keep its digits (_log_ndtr, _log_erfc): log Φ(x) is −inf for
    # x < −38.5, where Φ underflows (−804.6 at x = −40), and 0 for x > 8.3,
    # where Φ rounds to 1 (−1.8e−33 at x = 12); log erfc(x) is −inf past
    # x = 26.5 and loses x near 0 (log(1 − 1.1e−8) at x = 1e−8)
    def take(factor):
        base, power = factor.as_base_exp()
        if isinstance(base, ndtr):
            return power * _log_ndtr(base.args[0])
        if _is_erfc(base):
            return power * _log_erfc(base.args[0])
        return None

    return _log_of_factors(node, take)


def _ndtr_difference(node):
    # c·Φ(u) − c·Φ(−u) → c·erf(u/√2), and c − 2c·Φ(u) → −c·erf(u/√2): they cancel
    # for |u| < 1 (0 at u = 1e−17, where it is 8e−18; the derivative of
    # Φ(x)·(1 − Φ(x)) holds the first)
    def split(term):
        found = [f for f in Mul.make_args(term) if isinstance(f, ndtr)]
        return (found[0], term / found[0]) if len(found) == 1 else (None, None)

    def combine(a, b):
        fa, ca = split(a)
        fb, cb = split(b)
        if fa is None and fb is not None and not a.has(ndtr) and sp.expand(cb + 2 * a) == 0:
            return -a * sp.erf(fb.args[0] / sp.sqrt(2))  # c − 2c·Φ(u): 2Φ(u) − 1 typed by hand
        if fa is None or fb is None or sp.expand(fa.args[0] + fb.args[0]) != 0 or sp.expand(ca + cb) != 0:
            return None
        return ca * sp.erf(fa.args[0] / sp.sqrt(2))

    return _pair_rewrite(node, combine)


def _scaled_erfc(node):
    # exp(u²)·erfc(u) → erfcx(u): inf·0 = NaN past u = 26.5 (1/(u√π) in truth)
    if not isinstance(node, Mul):
        return None
    for f in node.args:
        if not _is_erfc(f):
            continue
        u = f.args[0]
        for g in node.args:
            if isinstance(g, exp) and sp.expand(g.args[0] - u**2) == 0:
                return Mul(*[h for h in node.args if h is not f and h is not g]) * erfcx(u)
    return None


def _normal_ratio(node):
    # φ(u)ᵏ/Φ(u)ᵏ → normal_ratio(u)ᵏ (d/du log Φ(u), the inverse Mills ratio of
    # −u; its kernel takes 1/(√(2π)·H(−u)) for u < 0, no exponential), and
    # e^{−u²}ᵏ/erfc(u)ᵏ → erfcx(u)⁻ᵏ for u > 0: both are 0/0 where the tail
    # underflows (x < −38.5 and x > 26.5)
    if not isinstance(node, Mul):
        return None
    factors = [f.as_base_exp() for f in node.args]
    for density, tail, quotient, where, other in (
            # every u (φ/Φ of the kernel's members, rounded apart, erred by 4.24 ULP at
            # u = −31.76; erfcx of the rounded −u/√2, the rule's form below −37 before, by 4.4)
            (gauss, ndtr, normal_ratio, None, None),
            (gaussian, None, lambda u: 1 / erfcx(u), lambda u: u > 0, lambda u: sp.Min(u, 0))):
        for i, (db, dk) in enumerate(factors):
            if not isinstance(db, density) or not dk.is_Integer or dk < 1:
                continue
            for j, (tb, tk) in enumerate(factors):
                if not (isinstance(tb, tail) if tail else _is_erfc(tb)) or not tk.is_Integer or tk > -1:
                    continue
                u = tb.args[0]
                if sp.expand(db.args[0] ** 2 - u**2) != 0:
                    continue
                k = min(dk, -tk)
                rest = [node.args[m] for m in range(len(factors)) if m not in (i, j)]
                rest += [db ** (dk - k), tb ** (tk + k)]
                if where is None:
                    return Mul(*rest) * quotient(u) ** k
                c = other(u)  # the quotient as written where it is chosen (see _log_ndtr); φ is even
                branches = sp.Piecewise((quotient(u) ** k, where(u)), ((db.func(c) / tb.func(c)) ** k, True))
                return Mul(*rest) * branches
    return None


def _normal_ratio_slope(node):
    # c·u·λ(u) + c·λ(u)² → −c·normal_ratio_slope(u), λ = φ/Φ: the second derivative
    # of log Φ as SymPy writes it (−x·λ − λ² after normal_ratio, or factored,
    # λ·(−x − λ)), which cancels for u < 0 like 1/u² (4.5e3 ULP at u = −38.7); its
    # kernel member is fitted there
    def factored(ratio, other):  # λ(u)·k·(u + λ(u)) → −k·normal_ratio_slope(u)
        if not (isinstance(ratio, normal_ratio) and isinstance(other, Add)):
            return None
        k = sp.cancel(other / (ratio.args[0] + ratio))
        return None if k == 0 or k.has(normal_ratio) else -k * normal_ratio_slope(ratio.args[0])

    if isinstance(node, Mul):
        return _pair_rewrite(node, factored, Mul)

    def combine(a, b):
        for ratio in b.atoms(normal_ratio):
            u = ratio.args[0]
            c = sp.cancel(b / ratio**2)
            if c.has(normal_ratio) or c == 0:
                continue
            if sp.cancel(a / (u * ratio)) == c:
                return -c * normal_ratio_slope(u)
        return None

    return _pair_rewrite(node, combine)


def _erfcx_slope(node):
    # κ·u·erfcx(u) − κ/√π, the derivative of erfcx as SymPy writes it (times κ/2),
    # cancels for u > 0 like 1/u² (3.8e8 ULP on the tails table): with a = u√2,
    # erfcx(u) = 2H(a), H the normal tail e^{a²/2}Φ(−a), and (log Φ)″(−a) =
    # −c(c − aH)/H², c = 1/√(2π), so 2u·erfcx(u) − 2/√π = √π·erfcx(u)²·(log Φ)″(−√2u),
    # whose kernel member is fitted there; for u ≤ 0 the terms have one sign
    def combine(a, b):
        for scaled in a.atoms(erfcx):
            u = scaled.args[0]
            kappa = sp.cancel(a / (u * scaled))
            if kappa.has(erfcx) or not kappa.is_number or kappa == 0:
                continue
            if sp.simplify(b + kappa / sp.sqrt(sp.pi)) != 0:
                continue
            steep = kappa / 2 * sp.sqrt(sp.pi) * scaled**2 * normal_ratio_slope(-sp.sqrt(2) * u)
            return sp.Piecewise((steep, u > 0), (a + b, True))
        return None

    return _pair_rewrite(node, combine)


def _quotient_power(node):
    # Aᵖ·B⁻ᵠ (q ≥ 2, B free of A's variables) → ratio(A, B)ᵏ·Aᵖ⁻ᵏ·Bᵏ⁻ᵠ, k = min(p, q):
    # a Gaussian's ((x − m)/s)², which SymPy keeps as (x − m)²/s², is inf/inf
    # where x − m and s pass 1.3e154 and 0/0 below 1e−162, though their ratio
    # is finite; ratio keeps the quotient whole (SymPy would distribute it)
    if not isinstance(node, Mul):
        return None
    factors = [f.as_base_exp() for f in node.args]
    for i, (a, p) in enumerate(factors):
        if a.is_number or not p.is_Integer or p < 1:
            continue
        for j, (b, q) in enumerate(factors):
            if i == j or b.is_number or not q.is_Integer or q > -2 or a.free_symbols & b.free_symbols:
                continue
            k = min(p, -q)
            rest = [node.args[n] for n in range(len(factors)) if n not in (i, j)]
            return Mul(*rest) * ratio(a, b) ** k * a ** (p - k) * b ** (q + k)
    return None


def _merges_into_sum(node):
    # e^u·Σ tᵢ → Σ e^u·tᵢ, and Bᵏ·Σ tᵢ → Σ Bᵏ·tᵢ, where every tᵢ holds the factor's
    # inverse (e^{−u}, B^j of the other sign): SymPy's derivative of
    # log(e^{−q}/s) is s·(…e^{−q}…)·e^{q}, 0·inf where e^{−q} underflows, and
    # s·(1/s² + …) overflows s² at 1e300; merged, it is −1/s + (x − m)²/s³.
    # Every factor that merges is merged (the pre-pass applies a rule once a node)
    merged = _merge_into_sum(node)
    while merged is not None:
        again = _merge_into_sum(merged)
        if again is None:
            return merged
        merged = again
    return None


def _merge_into_sum(node):
    """One factor of _merges_into_sum merged into a sum, or None."""
    if not isinstance(node, Mul):
        return None
    sums = [g for g in node.args if isinstance(g, Add)]
    for f in node.args:
        if isinstance(f, exp):
            def merges(term, f=f):
                merged = sp.powsimp(f * term, combine="exp")
                return len(merged.atoms(exp)) < len(term.atoms(exp)) + 1, merged
        else:
            base, k = f.as_base_exp()
            if not (isinstance(base, sp.Symbol) and k.is_Integer):
                continue

            def merges(term, f=f, base=base, k=k):
                powers = [e for b, e in (g.as_base_exp() for g in Mul.make_args(term)) if b == base]
                return len(powers) == 1 and powers[0].is_Integer and powers[0] * k < 0, f * term
        for g in sums:
            done = [merges(t) for t in g.args]
            if all(ok for ok, _ in done):
                rest = [h for h in node.args if h is not f and h is not g]
                return Mul(*rest) * Add(*[t for _, t in done])
    return None


def _has_exponential_denominator(node: sp.Expr) -> bool:
    """Whether node divides by a sum that holds an exponential, of a degree the rules can take.

    The rules it admits (exponential_ratio, exponential_rational,
    exponential_shift) factor and cancel node as a rational function of its
    exponentials; past MOST_EXPONENTIAL_DEGREE (see exponential_degree) they
    are not tried, and the σ rules, which match patterns, are left to it.
    """
    return any(isinstance(f, Pow) and f.exp.is_negative and isinstance(f.base, Add) and f.base.has(exp)
               for f in sp.preorder_traversal(node)) and exponential_degree(node) <= MOST_EXPONENTIAL_DEGREE


#: the highest power of one exponential that SymPy's factor and cancel are
#: given: they take e^{1.702x} = e^{851x/500} as (e^{x/500})^851, and
#: factoring the 1 + e^{−1.702x} of a typed x·σ(1.702x) ran for more than 15
#: minutes (the cyclotomic factors of 1 + t^851)
MOST_EXPONENTIAL_DEGREE = 24


def exponential_degree(node: sp.Expr) -> int:
    """The highest power of a common generator that node's exponentials are, as SymPy's polynomials see them.

    The exponents' terms c·m with the same m and rational c are powers of
    e^{m/L}, L the least common multiple of the c's denominators.

    Examples
    --------
    >>> x = sp.Symbol("x", real=True)
    >>> exponential_degree(exp(x) / (1 + exp(2 * x)))
    2
    >>> exponential_degree(1 / (1 + exp(-sp.Rational(851, 500) * x)))
    851
    """
    coefficients: dict[sp.Expr, list[sp.Rational]] = {}
    for e in node.atoms(exp):
        for term in Add.make_args(sp.expand(e.args[0])):
            c, m = term.as_coeff_Mul()
            if c.is_Rational:
                coefficients.setdefault(m, []).append(c)
    degree = 0
    for cs in coefficients.values():
        common = math.lcm(*(int(c.q) for c in cs))
        degree = max(degree, max(int(abs(c) * common) for c in cs))
    return degree


def _exponential_rational(node):
    # N(eᵘ)/D(eᵘ), D with positive coefficients and N, D polynomials in eᵘ once
    # common exponentials are cancelled, as e^{−k|u|}·Ñ(s)/D̃(s) with s = e^{−|u|}
    # (the polynomials reversed for u > 0): eˣ/(eˣ + 2) is inf/inf = NaN past
    # x = 709.78, and σ(x) − eˣ/(eˣ + 2) (eˣ/((1 + eˣ)(2 + eˣ)) together) loses
    # every digit past 37; no power of s exceeds 1, and D̃ does not cancel
    if not isinstance(node, (Mul, Add, Pow)) or len(node.free_symbols) != 1 \
            or not _has_exponential_denominator(node) or _exponential_inside(node):
        return None  # (an exponential inside another function: not a rational function of eᵘ)
    numerator, denominator = sp.fraction(sp.cancel(sp.powsimp(node)))
    if _sigmoid_sum(numerator, denominator) is not None:
        return None  # σ's: exponential_ratio, or the sigmoid rule for 1/(1 + eᵘ)
    exponents = {e.args[0] for e in sp.preorder_traversal(denominator) if isinstance(e, exp)}
    exponents |= {e.args[0] for e in sp.preorder_traversal(numerator) if isinstance(e, exp)}
    if not exponents or any(v.is_number or v.is_nonpositive or v.is_nonnegative for v in exponents):
        return None  # (e^{−|u|}: this rule's own form)
    first = next(iter(exponents))
    ratios = [sp.simplify(v / first) for v in exponents]
    if not all(r.is_Rational for r in ratios):
        return None
    step = sp.gcd(list(ratios))
    u = sp.expand(first * step)
    t = sp.Dummy("t", positive=True)

    def polynomial(e):
        e = sp.expand(sp.powsimp(e)).replace(lambda n: isinstance(n, exp),
                                              lambda n: t ** sp.simplify(n.args[0] / u))
        if any(isinstance(n, exp) for n in sp.preorder_traversal(e)):
            return None
        try:
            poly = sp.Poly(e, t)
        except sp.PolynomialError:
            return None
        return poly if all(c.is_finite is not False and not c.has(t) for c in poly.coeffs()) else None

    top, bottom = polynomial(numerator), polynomial(denominator)
    if top is None or bottom is None or bottom.degree() < 1 or len(bottom.terms()) < 2 \
            or not all(c.is_number and c > 0 for c in bottom.coeffs()) or top.degree() > bottom.degree():
        return None
    low_top = min(m[0] for m, _ in top.terms()) if not top.is_zero else 0
    low_bottom = min(m[0] for m, _ in bottom.terms())
    s = exp(-sp.Min(sp.Abs(u), 1000))  # e^{−1000} is 0 already; −k·|u| would overflow past 8.9e307

    def evaluate(poly, low, reverse):
        degree = poly.degree()
        return Add(*[c * s ** ((degree - k) if reverse else (k - low)) for (k,), c in poly.terms()])

    # u ≤ 0: eᵘ = s, and N/D = s^(jN − jD)·N₁(s)/D₁(s), the lowest powers taken out
    negative = s ** (low_top - low_bottom) * evaluate(top, low_top, False) / evaluate(bottom, low_bottom, False)
    # u > 0: eᵘ = 1/s, and N/D = s^(dD − dN)·Ñ(s)/D̃(s), the polynomials reversed
    positive = s ** (bottom.degree() - top.degree()) * evaluate(top, 0, True) / evaluate(bottom, 0, True)
    return sp.Piecewise((sp.powsimp(positive), u > 0), (sp.powsimp(negative), True))


def _log_of_power(node):
    # log(uⁿ) → n·log|u| (n even), n·log(u) (n odd; both NaN for u < 0): uⁿ
    # underflows and overflows where its logarithm does not (x·log(x²) was inf
    # at x = −5e−324, where it is 7.4e−321; log(x²) is −inf below 1.5e−162)
    if not isinstance(node, log) or not isinstance(node.args[0], Pow):
        return None
    base, power = node.args[0].as_base_exp()
    if not (power.is_Integer and abs(power) > 1) or base.is_number:
        return None
    return power * log(sp.Abs(base) if power.is_even else base)


def _hypot(node):
    # √(a² + b²)ᵏ → hypot(a, b)ᵏ (b² may be a positive number): a² overflows for
    # |a| > 1.3e154, where the root does not (1/√(x² + 1), the derivative of
    # asinh x, was 0 there), and underflows below 1e−162
    base, power = node.as_base_exp() if isinstance(node, Pow) else (None, None)
    if not (power is not None and power.is_Rational and power.q == 2) \
            or not isinstance(base, Add) or len(base.args) != 2:
        return None
    sides = []
    for term in base.args:
        if term.is_number:
            if not term.is_positive:
                return None
            sides.append(sp.sqrt(term))
            continue
        coeff, rest = term.as_coeff_Mul()
        if not (coeff.is_positive and isinstance(rest, Pow) and rest.exp == 2):
            return None
        sides.append(sp.sqrt(coeff) * rest.base)
    if all(side.is_number for side in sides):
        return None
    return hypot(*sides) ** (2 * power)


def _exponential_pair(node):
    # c·e^u + c·e^{−u} → 2c·cosh(u), c·e^u − c·e^{−u} → 2c·sinh(u): e^u overflows
    # for u > 709 where cosh and sinh do only past 710, and e^u − e^{−u}
    # cancels for |u| < 1 (sinh keeps its digits); then the hyperbolic rules
    # apply (tanh for their ratio)
    def combine(a, b):
        ca, ea = a.as_coeff_Mul()
        cb, eb = b.as_coeff_Mul()
        if not (isinstance(ea, exp) and isinstance(eb, exp)) or sp.expand(ea.args[0] + eb.args[0]) != 0:
            return None
        u = ea.args[0]
        if u.could_extract_minus_sign():
            return None  # the pair is tried both ways: u is the one without a sign
        if ca == cb:
            return 2 * ca * sp.cosh(u)
        if ca == -cb:
            return 2 * ca * sp.sinh(u)
        return None

    return _pair_rewrite(node, combine)


def _x_times_sign(node):
    # u·sign(u) → |u| (SymPy's derivative of |u| is sign(u)): so that a
    # derivative such as 1/(1 + |x|) − x·sign(x)/(1 + |x|)² can cancel exactly.
    # u may be a product whose factors are factors of the node: w·x·sign(w·x)
    # → |w·x| (∂/∂x of x/(1 + |w·x|) erred by 619 ULP, (|wx| + 1 − wx·sign(wx))/(|wx| + 1)²)
    if not isinstance(node, Mul):
        return None
    factors = list(node.args)
    for f in factors:
        if not isinstance(f, sp.sign):
            continue
        rest = [g for g in factors if g is not f]
        for part in Mul.make_args(f.args[0]):
            if part not in rest:
                break
            rest.remove(part)
        else:
            return Mul(*rest, sp.Abs(f.args[0]))
        # sign(u)/|u|ᵏ → 1/uᵏ for an odd k (∂ log|u| is sign(u)/|u|, which no sum over it
        # could cancel with: 2x/(x² + 1) − 2·sign(x)/|x|, ∂ of log(x² + 1) − 2·log|x|)
        rest = [g for g in factors if g is not f]
        for g in rest:
            base, power = g.as_base_exp()
            if base == sp.Abs(f.args[0]) and power.is_Integer and power.is_odd and power < 0:
                return Mul(*[h for h in rest if h is not g], f.args[0] ** power)
    return None


def _together_if_cancels(node):
    # a/d + b/dᵏ with terms of the numerators that cancel over the common
    # denominator: d/dx x/(1 + |x|) is 1/(1 + |x|) − |x|/(1 + |x|)², two terms of
    # about 1/|x| whose difference is 1/(1 + |x|)² (1,600 ULP at x = 726);
    # together, (1 + |x| − |x|)/(1 + |x|)², the |x| cancel exactly.  Only where
    # two terms share a denominator's factor, and only if a term disappears
    # (or two over no shared factor whose numerators cancel to a number: 2x/(x² + 1) − 2/x
    # is −2/(x·(x² + 1)), where the two terms of about 2/x lost all of 2/x³)
    if not isinstance(node, Add) or not 2 <= len(node.args) <= 6:
        return None
    parts = [t.as_numer_denom() for t in node.args]
    bases = [set(Mul.make_args(d)) - {S.One} for _, d in parts]
    shared = any(bases[i] & bases[j] or {b.as_base_exp()[0] for b in bases[i]} & {b.as_base_exp()[0] for b in bases[j]}
                 for i in range(len(bases)) for j in range(i + 1, len(bases)))
    if not shared and not (len(parts) == 2 and all(bases) and all(
            d.is_polynomial() and n.is_polynomial() for n, d in parts)):
        return None
    numerator, denominator = sp.fraction(sp.together(node))
    numerator = sp.expand(numerator)
    if len(Add.make_args(numerator)) >= sum(len(Add.make_args(sp.expand(n))) for n, _ in parts):
        return None
    if not shared and not numerator.is_number:
        return None
    return numerator / denominator


def _c_sigmoid_neg(c, u):
    return c * sigmoid(-u)


RECOGNITION_RULES: tuple[Rule, ...] = (
    Rule("sigmoid", "1/(1 + exp(u))ⁿ → σ(−u)ⁿ", "1/(1+e^{-u}) overflows for u < −709",
         _reciprocal_one_plus_exp),
    Rule("sigmoid_from_ratio", "exp(k·u)·σ(−u)ⁿ → σ(u)ᵏ·σ(−u)ⁿ⁻ᵏ", "e^{ku} overflows for ku > 709",
         _exp_times_sigmoid),
    Rule("softplus", "log(1 + exp(u)) → softplus(u)",
         "exp overflows for u > 709 and 1 + e^u rounds to 1 for u < −37",
         _log_one_plus_exp),
    Rule("log_sigmoid_polynomial", "log P(σ(u)) → log1p(P − 1) where P is 1 at an end (and the log of P's factors "
         "on the side where P → 0)", "P rounded near 1 loses what its log is (log(1 + σ(x)), 4e8 ULP at x = −20)",
         _log_sigmoid_polynomial),
    Rule("log_sigmoid", "log(σ(u)ᵏ·r) → −k·softplus(−u) + log r", "σ(u) underflows to 0 for u < −745",
         _log_of_sigmoid),
    Rule("erfc", "c + c·erf(u) → c·erfc(−u)",
         "1 + erf(u) cancels for u < −1 and vanishes for u < −6",
         _constant_plus(sp.erf, lambda c, u: c * erfc(-u), +1)),
    Rule("erfc_minus", "c − c·erf(u) → c·erfc(u)", "1 − erf(u) cancels for u > 1",
         _constant_plus(sp.erf, lambda c, u: c * erfc(u), -1)),
    Rule("erfc_reflection", "2c − c·erfc(u) → c·erfc(−u)",
         "SymPy writes a typed erfc(−u) as 2 − erfc(u), which cancels for u < −1 "
         "(x·erfc(−x/√2)/2, GELU, is −0.0 at x = −10, for −7.6e−23)",
         _constant_plus(sp.erfc, lambda c, u: c / 2 * erfc(-u), -S.Half)),
    Rule("ndtr", "erfc(−x/√2) → 2Φ(x)",
         "the normal CDF evaluated without rounding x/√2 first", _erfc_to_ndtr),
    Rule("gauss", "exp(−v²/2) → √(2π)·φ(v)",
         "v² is formed exactly, so the tail keeps its digits", _exp_half_square),
    Rule("gaussian", "exp(−v²) → gaussian(v)",
         "v² is formed exactly: e^{−v²} of a rounded v² errs by ~v² ULP", _exp_negative_square),
    Rule("logsumexp", "log Σ exp(z) → logsumexp(z)", "exp overflows for z > 709",
         _log_rowsum_exp),
    Rule("log_softmax", "z − logsumexp(z) → log_softmax(z)",
         "the dominant term is separated, so small log-probabilities keep their digits",
         _log_softmax),
    Rule("softmax", "exp(z)/Σexp(z) → softmax(z)", "exp overflows for z > 709", _softmax),
)

NUMERICAL_RULES: tuple[Rule, ...] = (
    Rule("sigmoid_complement", "c − c·σ(u) → c·σ(−u)", "1 − σ(u) cancels for u > 0",
         _constant_plus(sigmoid, _c_sigmoid_neg, -1)),
    Rule("ndtr_complement", "c − c·Φ(u) → c·Φ(−u)", "1 − Φ(u) cancels for u > 0 (0 from u = 8.3)",
         _constant_plus(ndtr, lambda c, u: c * ndtr(-u), -1)),
    Rule("ndtr_difference", "c·Φ(u) − c·Φ(−u) → c·erf(u/√2), c − 2c·Φ(u) → −c·erf(u/√2)",
         "Φ(u) − Φ(−u) and 2Φ(u) − 1 cancel for |u| < 1",
         _ndtr_difference),
    Rule("scaled_erfc", "exp(u²)·erfc(u) → erfcx(u)", "inf·0 past u = 26.5, where erfc underflows",
         _scaled_erfc),
    Rule("log_normal_tail", "log Φ(u) → log(erfcx(−u/√2)/2) − u²/2 (u < −1), log1p(−Φ(−u)) (u > 0); "
         "log erfc(u) → log erfcx(u) − u² (u > ½), log 2 + log1p(−erfc(−u)/2) (u < −½), log1p(−erf(u))",
         "Φ(u) underflows below −38.5 and rounds to 1 past 8.3; erfc(u) underflows past 26.5, "
         "and log erfc(u) − log 2 cancels for u < −½", _log_of_normal_tail),
    Rule("normal_ratio", "φ(u)/Φ(u) → normal_ratio(u); e^{−u²}/erfc(u) → 1/erfcx(u) (u > 0)",
         "0/0 where the tail underflows (u < −38.5; u > 26.5)", _normal_ratio),
    Rule("normal_ratio_slope", "c·u·normal_ratio(u) + c·normal_ratio(u)² → −c·normal_ratio_slope(u)",
         "(log Φ)″ = −λ(u + λ), λ = φ/Φ: u + λ cancels for u < 0 (4.5e3 ULP at u = −38.7)",
         _normal_ratio_slope),
    Rule("erfcx_slope", "κ·u·erfcx(u) − κ/√π → (κ/2)·√π·erfcx(u)²·normal_ratio_slope(−√2·u) (u > 0)",
         "erfcx′ = 2u·erfcx(u) − 2/√π cancels for u > 0 like 1/u² (3.8e8 ULP at the tails' points)",
         _erfcx_slope),
    Rule("one_plus_tanh", "c + c·tanh(u) → 2c·σ(2u)", "1 + tanh(u) cancels for u < 0",
         _constant_plus(sp.tanh, lambda c, u: 2 * c * sigmoid(2 * u), +1)),
    Rule("one_minus_tanh", "c − c·tanh(u) → 2c·σ(−2u)", "1 − tanh(u) cancels for u > 0",
         _constant_plus(sp.tanh, lambda c, u: 2 * c * sigmoid(-2 * u), -1)),
    Rule("sech2", "c − c·tanh²(u) → c·sech²(u)", "1 − tanh² cancels for |u| > 1",
         _constant_plus_power(sp.tanh, 2, lambda c, u: c * sech2(u), -1)),
    Rule("softmax_complement", "c − c·softmax(z) → c·(1 − softmax)(z)",
         "1 − softmax cancels when one logit dominates",
         _constant_plus(softmax, lambda c, u: c * softmax_complement(u), -1)),
    Rule("probability_difference", "p − y → p(1 − y) − y(1 − p)",
         "p − y cancels when both are close to 1; the complements keep the digits",
         _probability_difference),
    Rule("expm1", "c·exp(u) − c → c·expm1(u)", "e^u − 1 cancels for |u| < 1",
         _constant_plus(exp, lambda c, u: -c * expm1(u), -1)),
    # after the rule gaussian has written e^{−u²} as gaussian(u): 1 − e^{−x²} rounded gaussian(x)
    # near 1 and cancelled (log(1 − e^{−x²})′ 6e11 ULP at x = 1e−6)
    Rule("gaussian_expm1", "c·gaussian(u) − c → c·expm1(−u²)", "1 − e^{−u²} cancels for |u| < 1",
         _constant_plus(gaussian, lambda c, u: -c * expm1(-u**2), -1)),
    Rule("log1p", "log(1 + u) → log1p(u)", "1 + u rounds away u when |u| < 1e−16",
         _log_one_plus),
    Rule("xlogy", "a·log(b) → xlogy(a, b)", "0·log 0 is 0, not NaN", _times_log),
    Rule("log_ratio", "a·log b − a·log c → a·log1p((b − c)/c)",
         "the two logarithms nearly cancel when b ≈ c (KL divergence)", _log_ratio),
    Rule("linear_zero", "x/c + d → (x + c·d)/c", "x + c·d is exact next to the zero",
         _linear_through_zero),
    Rule("one_minus_cos", "c − c·cos(u) → 2c·sin²(u/2)", "1 − cos(u) cancels for |u| < 1 "
         "(0 for |u| < 1e−8)", _constant_plus(sp.cos, lambda c, u: 2 * c * sp.sin(u / 2) ** 2, -1)),
    Rule("cosh_minus_one", "c·cosh(u) − c → 2c·sinh²(u/2)", "cosh(u) − 1 cancels for |u| < 1 "
         "(0 for |u| < 1e−8)", _constant_plus(sp.cosh, lambda c, u: -2 * c * sp.sinh(u / 2) ** 2, -1)),
    Rule("difference_of_squares", "a² − b² → (a − b)(a + b)", "a² − b² cancels for a ≈ b; "
         "a − b is exact there", _difference_of_squares),
    Rule("log_cosh", "log cosh(u) → log1p(2 sinh²(u/2)) for |u| < 3, |u| − log 2 + log1p(e^{−2|u|}) beyond",
         "cosh u rounds to 1 for |u| < 1e−8 and overflows for |u| > 710", _log_cosh),
    Rule("log_cos", "log cos(u) → log1p(−2 sin²(u/2)) where cos u > 1/2",
         "cos u rounds to 1 − u²/2 for |u| < 1 and its log loses u² (0 for |u| < 1e−8)", _log_cos),
    Rule("log_tanh", "log|tanh u| → −2·atanh(e^{−2|u|}) for |u| > 1/2",
         "tanh u rounds to 1 for |u| > 19, and its log to 0 (−2e−17 at u = 20)", _log_tanh),
    Rule("log_sech2", "log sech²(u) → −2·log cosh u (as log_cosh)",
         "sech² u rounds to 1 − u² for small u, and its log loses u²", _log_sech2),
    Rule("hyperbolic_ratio", "1/coshⁿ(u) → sech²(u)^(n/2) (n even), sinhᵐ(u)/coshⁿ(u) → tanhᵏ(u)·sinhᵐ⁻ᵏ(u)/coshⁿ⁻ᵏ(u)",
         "sinh and cosh overflow for |u| > 710 (inf/inf)", _hyperbolic_ratio),
    Rule("sigmoid_minus_half", "c − 2c·σ(u) → −c·tanh(u/2)", "2σ(u) − 1 cancels for |u| < 1",
         _sigmoid_minus_half),
    Rule("sigmoid_polynomial", "Σ c·σ(u)ᵃσ(−u)ᵇ → σ(u)ᵐσ(−u)ⁿtanh(u/2)ʰ·Σ βₖσ(u)ᵏσ(−u)ᵈ⁻ᵏ",
         "σ(u) − σ(u)² cancels for u > 1, σ(−u) − σ(u) for |u| < 1", _sigmoid_polynomial),
    Rule("sigmoid_softplus_difference", "a·σ(u) − b·softplus(u), a = b·u → −b·(|u|·σ(−|u|) + softplus(−|u|))",
         "u·σ(u) − softplus(u) cancels for u > 1 (softplus(x)/x′)", _sigmoid_softplus_difference),
    Rule("softplus_difference", "c·softplus(u) − c·softplus(−u) → c·u",
         "the log-odds log σ(u) − log σ(−u) cancels for |u| < 1", _softplus_difference),
    Rule("softplus_less_argument", "c·softplus(u) − c·u → c·softplus(−u)",
         "softplus(u) − u cancels for u > 1 (0 from u = 37)", _softplus_less_argument),
    Rule("tanh_half", "expm1(u)·σ(−u)ⁿ → tanh(u/2)·σ(−u)ⁿ⁻¹",
         "(e^u − 1)·σ(−u) is inf·0 for u > 709", _expm1_times_sigmoid),
    Rule("exponential_ratio", "Σ aₖe^{ku}/(c·(1 + e^u)ⁿ) → Σ aₖσ(u)ᵏσ(−u)ⁿ⁻ᵏ/c (common exponentials cancelled)",
         "e^x/(e^x + e^{2x}) is inf/inf for x > 709, 0/0 for x < −745", _exponential_ratio),
    Rule("exponential_rational", "N(eᵘ)/D(eᵘ), D > 0 → e^{−k|u|}·Ñ(s)/D̃(s), s = e^{−|u|}, reversed for u > 0",
         "eˣ/(eˣ + 2) is inf/inf past x = 709.78", _exponential_rational),
    Rule("exponential_shift", "N/Πₖ(Σ cᵢe^{vᵢ})ⁿᵏ → N·e^{−Σnₖmₖ}/Πₖ(Σ cᵢe^{vᵢ − mₖ})ⁿᵏ, mₖ = max vᵢ (several variables)",
         "e^a/(e^a + e^b) is 0/0 below −745 and inf/inf past 709.78", _exponential_shift),
    Rule("log_of_exponential", "log(eᵘ·r) → u + log r", "eᵘ underflows and overflows where u + log r does not",
         _log_of_exponential),
    Rule("inverse_hyperbolic", "log(B + √(B² ± 1)) → asinh(B), acosh(B); log((1 + u)/(1 − u)) → 2·atanh(u)",
         "B + √(B² + 1) cancels for B < 0; 1 ± u rounds u away for |u| < 1e−16", _inverse_hyperbolic),
    Rule("acosh_one_plus", "acosh(1 + u) → log1p(u + √u·√(u + 2))",
         "1 + u rounds away u for u < 1e−16, and acosh of it is 0", _acosh_one_plus),
    Rule("gudermannian", "asin(tanh u) → atan(sinh u), acos(tanh u) → 2·atan(e^{−u})",
         "asin and acos magnify tanh's rounding by cosh u (tanh is 1 from u = 19.1)", _gudermannian),
    Rule("exp_of_a_log", "exp(a·log b) → b^a (b ≥ 0)",
         "a·log b rounded, then magnified by exp: |a·log b|·eps relative", _exp_of_a_log),
    Rule("root_sum_cancels", "N/(B + √A)ⁿ → N/(B + √A)ⁿ cancelled where N holds B + √A",
         "(x/√(x² + 1) + 1)/(x + √(x² + 1)) is 1/√(x² + 1); both sums cancel for x < −1", _root_sum_cancels),
    Rule("log_of_expm1", "log(−expm1(v)) → log1p(−eᵛ) for v < −log 2; log(expm1(v)) → v + log1p(−e⁻ᵛ) for v > 20",
         "log(1 − e⁻ˣ) is 0 from x = 37; log(eˣ − 1) is inf from x = 710", _log_of_expm1),
    Rule("log_of_power", "log(uⁿ) → n·log|u| (n even), n·log u (n odd)",
         "uⁿ underflows and overflows where its logarithm does not", _log_of_power),
    Rule("log_difference", "c·log A − c·log B → c·log1p((A − B)/B) where A − B is shorter",
         "two logarithms of nearly equal numbers cancel; A − B is exact", _log_difference),
    Rule("log_of_quotient_near_one", "log(A/B) → log1p((A − B)/B) where |(A − B)/B| < 1/2 and terms cancel",
         "A/B rounded near 1 is all of its log's error; A − B is exact", _log_of_quotient_near_one),
    Rule("exp_over_expm1", "e^{ku}/expm1(u)ⁿ → (−1)ᵏ·expm1(u)ᵏ⁻ⁿ/expm1(−u)ᵏ",
         "e^u/(e^u − 1)ⁿ is inf/inf for u > 709", _exp_over_expm1),
    Rule("expm1_reciprocals", "w/expm1(u)ᵏ + w/expm1(u)ᵏ⁺¹ → w·eᵘ/expm1(u)ᵏ⁺¹",
         "the two cancel as expm1(u) → −1", _expm1_reciprocals),
    Rule("log_of_two_exponentials", "log(c₁eᵃ + c₂eᵇ) → a + log c₁ + softplus(b − a + log(c₂/c₁)); "
         "of several variables, max(a, b) + softplus(−|a − b|); of more terms a′ᵢ + log1p(Σⱼ e^{a′ⱼ − a′ᵢ}), a′ᵢ the largest",
         "eᵃ and eᵇ overflow past 709 and vanish past −745", _log_of_two_exponentials),
    Rule("root_less", "√A + C → (A − C²)/(√A − C) for C < 0, where A − C² is shorter",
         "√(x² + 1) − x cancels for x > 1, √(x² + 1) + x for x < −1", _root_less),
    Rule("over_root_less_one", "c·B/√A + c → c·(√A + B)/√A", "B/√A + 1 cancels as √A + B does",
         _over_root_less_one),
    Rule("exponential_of_exponential", "eᵘ·eᵛ → eᵘ⁺ᵛ where v holds an exponential",
         "e⁻ˣ·e^{−e⁻ˣ} is inf·0 below x = −709", _exponential_of_exponential),
    Rule("exp_times_expm1", "eᵘ·expm1(−u) → −expm1(u)", "eᵘ·(1 − e⁻ᵘ) is 0·inf below u = −709",
         _exp_times_expm1),
    Rule("exp_times_large_expm1", "e^A·expm1(v) → −e^{A+v}·expm1(−v) (v > 0)",
         "e^A·expm1(v) is 0·inf where e^A underflows and expm1(v) overflows (e^{−x−e^{−x}}·expm1(−x) at −1e300)",
         _exp_times_large_expm1),
    Rule("into_piecewise", "p + t → Piecewise(pᵢ + t) where t cancels in a branch",
         "log cosh x − |x| rounds |x| − log 2 before the |x| cancel", _into_piecewise),
    Rule("tanh_less_sign", "c·tanh(u) − c·sign(u) → −2c·sign(u)·σ(−2|u|)",
         "tanh(u) − sign(u) cancels for |u| > 1", _tanh_less_sign),
    Rule("exponential_pair", "c·eᵘ ± c·e⁻ᵘ → 2c·cosh(u), 2c·sinh(u)",
         "eᵘ overflows for u > 709; eᵘ − e⁻ᵘ cancels for |u| < 1", _exponential_pair),
    Rule("merges_into_sum", "eᵘ·Σ tᵢ → Σ eᵘ·tᵢ, Bᵏ·Σ tᵢ → Σ Bᵏ·tᵢ where each tᵢ holds e⁻ᵘ, B⁻ʲ",
         "e^{q}·(…e^{−q}…) is inf·0 where e^{−q} underflows", _merges_into_sum),
    Rule("quotient_power", "Aᵖ/Bᵠ → (A/B)ᵏ·Aᵖ⁻ᵏ/Bᵠ⁻ᵏ, k = min(p, q), q ≥ 2, A and B of other variables",
         "(x − m)²/s² is inf/inf past 1.3e154 where (x − m)/s is finite", _quotient_power),
    Rule("ratio_square_difference", "W·(A/B)² − W·k² → W·((A − kB)/B)·((A + kB)/B)",
         "((x − m)/s)² − 1 cancels where x − m ≈ ±s", _ratio_square_difference),
    Rule("sign_product", "u·sign(u) → |u|, sign(u)/|u|ᵏ → 1/uᵏ (k odd)", "lets a derivative of |u| cancel exactly", _x_times_sign),
    Rule("together", "a/d + b/dᵏ → (a·dᵏ⁻¹ + b)/dᵏ where terms cancel",
         "terms over a shared denominator that cancel exactly, not in floating point", _together_if_cancels),
    Rule("square_root_difference", "√A − √B → (A − B)/(√A + √B)", "√A − √B cancels for A ≈ B "
         "(√(1 + x²) − 1 is 0 for |x| < 1e−8)", _square_root_difference),
)

#: every rule, in the order they are tried at each node
RULES: tuple[Rule, ...] = RECOGNITION_RULES + NUMERICAL_RULES

#: tried once the rules are done: the roots that root_less, over_root_less_one,
#: inverse_hyperbolic and square_root_difference read are hypot only in the end
HYPOT = Rule("hypot", "√(a² + b²)ᵏ → hypot(a, b)ᵏ", "a² overflows for |a| > 1.3e154", _hypot)

_PRE_PASS = Rule("cancel", "a(e^x − 1) + a → a·e^x", "terms that cancel exactly are removed "
                 "before evaluation", _expand_if_cancels)


#: tried at each node, children first, before the rules: a cancellation is
#: exact only before other rules have rewritten its terms (e^x + e^{−x} as
#: 2 cosh x, where e^x/(e^x + e^{−x}) is σ(2x), or
#: log(1 + e^x) as softplus(x), whose difference from log(2 + e^x) would not)
_PRE_PASS_RULES = (_PRE_PASS,) + tuple(r for r in NUMERICAL_RULES if r.name in (
    "exponential_ratio", "log_of_exponential", "inverse_hyperbolic", "root_sum_cancels", "log_difference",
    "merges_into_sum"))


def _bottom_up(expr: sp.Expr, rules: tuple[Rule, ...], log_: list[str] | None,
               settled: set | None = None) -> sp.Expr:
    """The rules applied at each node, children first, until none applies.

    ``settled`` holds the Piecewise nodes in what rules wrote: their branches
    were built from children already rewritten, and one may hold the node the
    rule was written for, left as it was where it is accurate (log_of_expm1),
    which must not be rewritten again when a parent's rewrite visits its
    children.
    """
    settled = set() if settled is None else settled
    if not expr.args or isinstance(expr, (sp.Symbol, sp.Number)) or expr in settled:
        return expr
    if isinstance(expr, sp.Piecewise):
        pieces = [(_bottom_up(e, rules, log_, settled), c) for e, c in expr.args]
        return sp.Piecewise(*pieces)
    if isinstance(expr, sp.logic.boolalg.Boolean) or isinstance(expr, sp.core.relational.Relational):
        return expr
    node = expr.func(*[_bottom_up(a, rules, log_, settled) for a in expr.args])
    for _ in range(20):
        for rule in rules:
            new = rule.apply(node)
            if new is not None and new != node:
                if log_ is not None:
                    log_.append(rule.name)
                node = new
                settled.update(node.atoms(sp.Piecewise))
                if node.args and node not in settled:
                    node = node.func(*[_bottom_up(a, rules, log_, settled) for a in node.args])
                break
        else:
            return node
    return node


def _pre_pass(expr: sp.Expr, log_: list[str] | None, whole: bool = True) -> sp.Expr:
    if not expr.args or isinstance(expr, sp.core.relational.Relational):
        return expr
    if isinstance(expr, sp.Piecewise):
        return sp.Piecewise(*[(_pre_pass(e, log_, whole), c) for e, c in expr.args])
    if whole and isinstance(expr, (Add, Mul, Pow)) and _has_exponential_denominator(expr):
        # a rational function of eᵘ is taken whole, before its parts are rewritten
        # (σ(x) − eˣ/(eˣ + 2) would cancel for x > 1 as two rewritten terms),
        # unless it is σ's, whose parts exponential_ratio takes, children first
        if len(expr.free_symbols) == 1 and _sigmoid_sum(*sp.fraction(sp.cancel(expr))) is not None:
            whole = False
        else:
            rule = "exponential_rational" if len(expr.free_symbols) == 1 else "exponential_shift"
            combined = (_exponential_rational if rule == "exponential_rational" else _exponential_shift)(expr)
            if combined is not None:
                if log_ is not None:
                    log_.append(rule)
                return combined
    node = expr.func(*[_pre_pass(a, log_, whole) for a in expr.args])
    for rule in _PRE_PASS_RULES:
        new = rule.apply(node)
        if new is not None and new != node:
            if log_ is not None:
                log_.append(rule.name)
            return new
    return node


def recognize(expr: sp.Expr) -> sp.Expr:
    """Name what a textbook names (σ, softplus, Φ, φ, softmax), nothing more.

    >>> from sympy import Symbol, exp
    >>> x = Symbol("x", real=True)
    >>> recognize(x / (1 + exp(-x)))
    x*sigmoid(x)
    """
    return _bottom_up(sp.sympify(expr), RECOGNITION_RULES, None)


def _signs_as_in(fraction: tuple[sp.Expr, sp.Expr], denominator: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """n/d with each factor of d that is the negative of one of ``denominator``'s written as that one.

    apart writes 1 − ŷ as ŷ − 1; code sharing ŷ − 1 would then form 1 − ŷ as
    −(ŷ − 1), which is −0 at ŷ = 1, and a quotient over it −inf where +inf
    is the limit.
    """
    n, d = fraction
    own = set(Mul.make_args(denominator))
    factors = []
    for f in Mul.make_args(d):
        if f not in own and -f in own:
            f, n = -f, -n
        factors.append(f)
    return sp.expand(n) if n.is_Add or n.is_Mul else n, Mul(*factors)


def target_quotients(expr: sp.Expr, target: sp.Symbol, pred: sp.Symbol,
                     applied: list[str] | None = None) -> sp.Expr:
    """A loss gradient's quotients target·a/b (b a function of pred) as xdivy(target·a, b).

    The losses take 0·log 0 = 0 (xlogy): a term whose target weight is 0 is
    0 whatever the prediction, and so is its derivative.  Written as a plain
    quotient, the cross-entropy gradient −y/p is 0/0 = NaN where a softmax
    output underflowed to p = 0 under a target of 0; xdivy is 0 there and
    the same division everywhere else.  Only for the gradients of losses
    (``derive.calculus``), where the target is known.

    Examples
    --------
    >>> from sympy import Symbol
    >>> p, y, n = Symbol("pred", real=True), Symbol("target", real=True), Symbol("N", positive=True)
    >>> target_quotients(-y / (n * p), y, p)
    xdivy(-target, N*pred)
    >>> target_quotients(-y / n, y, p)  # no division by a function of pred
    -target/N

    A quotient whose numerator is no target weight but whose partial
    fractions in pred all are (binary cross-entropy's) stays one quotient,
    with those fractions as its value where its denominator is 0
    (``quotient_with_limit``): −1/N at ŷ = y = 1, where it was 0/0.

    >>> target_quotients((p - y) / (n * p * (1 - p)), y, p)
    quotient_with_limit(pred - target, N*pred*(1 - pred), xdivy(-target, N*pred) + xdivy(1 - target, N*(1 - pred)))
    """
    def weight(numerator):  # ±c·y or ±c·(1 − y): 0 for a target of 0, or of 1
        return (not numerator.has(pred) and numerator.has(target)
                and (numerator.subs(target, 0) == 0 or numerator.subs(target, 1) == 0))

    def rewrite(node):
        if not isinstance(node, Mul):
            return node
        numerator, denominator = sp.fraction(node)
        if not denominator.has(pred):
            return node
        if target in Mul.make_args(numerator):
            if applied is not None:
                applied.append("target_quotient")
            return xdivy(numerator, denominator)
        if numerator.has(target) and numerator.has(pred):
            # one quotient keeps its digits (ŷ − y cancels in its numerator only),
            # its partial fractions in ŷ, each a target weight over a factor of
            # the denominator, give its value where that denominator is 0
            parts = [_signs_as_in(sp.fraction(t), denominator) for t in Add.make_args(sp.apart(node, pred))]
            if len(parts) > 1 and all(weight(n) and d.has(pred) for n, d in parts):
                if applied is not None:
                    applied.append("target_quotient")
                return quotient_with_limit(numerator, denominator, Add(*(xdivy(n, d) for n, d in parts)))
        return node

    return expr.replace(lambda n: isinstance(n, Mul), rewrite)


def stabilize(expr: sp.Expr, applied: list[str] | None = None) -> sp.Expr:
    """Rewrite ``expr`` into numerically stable primitives.

    Parameters
    ----------
    expr
        Any SymPy expression.
    applied
        If given, the names of the rules applied are appended to it.

    Returns
    -------
    sympy.Expr
        An expression equal to ``expr`` for every real input.

    Examples
    --------
    >>> from sympy import Symbol, tanh
    >>> x = Symbol("x", real=True)
    >>> used = []
    >>> stabilize(1 - tanh(x)**2, used), used
    (sech2(x), ['sech2'])
    """
    token = _APPLIED.set(applied)
    try:
        expr = _pre_pass(sp.sympify(expr), applied)
        return _bottom_up(_bottom_up(expr, RULES, applied), (HYPOT,), applied)
    finally:
        _APPLIED.reset(token)


__all__ = ["ratio", "Rule", "RULES", "HYPOT", "RECOGNITION_RULES", "NUMERICAL_RULES", "stabilize", "recognize",
           "target_quotients"]
