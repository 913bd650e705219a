r"""Step-by-step derivatives in which every step is checked.

:func:`derivation_steps` differentiates an expression the way a textbook does,
one rule at a time, and records each rule as a :class:`Step`: the rule's
name, the sub-expression it differentiates, what that gives, a sentence saying
why, and the whole derivative as it stands after the step (still holding the
derivatives not yet worked out, as unevaluated ``d/dx[…]``).  A last step
rewrites the result into the form a textbook prints (``σ(x)·(1 − σ(x))``,
``1 − tanh²(x)``, ``Φ(x) + x·φ(x)``).

Every step is **verified**: the derivative as it stands after the step, with
the derivatives still pending worked out by SymPy, must equal SymPy's own
``diff`` of the original expression (both with the named primitives expanded
into exp/log/erf).  The proof is symbolic where SymPy can show the difference
is 0 within a time bound (cheap methods first: ``expand``, ``cancel``, the
``exp`` rewrite, then ``simplify``), and otherwise numeric: equal to 40 digits
at 20 random points of the domain evaluated with 50-digit arithmetic.  Each
step says which (:attr:`Step.verified_by`).  A step that cannot be verified
raises :class:`StepVerificationError`; an unverified step is never shown.

Rules
-----
constant, variable, sum, constant multiple, product, quotient, power (with
square roots, general ``a^u`` and ``u^v`` by logarithmic differentiation),
chain (naming the substitution ``u = …``), exp, log, the trigonometric and
hyperbolic functions and their inverses, erf/erfc, abs (``sign``, kink noted),
sign, max/min and piecewise definitions (the convention at each kink stated:
the derivative there is the one of the piece whose condition holds, so
relu'(0) = 0), and the named primitives of :mod:`derive.primitives`
(σ' = σ(1 − σ), softplus' = σ, sech²' = −2 sech² tanh, Φ' = φ, φ' = −xφ,
xlogy).  Anything else falls back to SymPy's ``diff`` in one step marked
``rule == "sympy"``; :attr:`Derivation.complete` is False then.

Time bounds
-----------
Simplification can take SymPy arbitrarily long, so every symbolic attempt
runs under a time bound (``verify_timeout`` per step, ``simplify_timeout``
for the textbook form).  Past ``simplify_timeout`` the derivative is returned
unsimplified (and still verified) with a note in :attr:`Derivation.notes`.
In the main thread of a POSIX process the bound is enforced with
``SIGALRM`` and the computation really stops (the previous handler and
timer are restored afterwards); elsewhere (another thread, Windows) the work
runs in a daemon thread that is abandoned at the bound and finishes in the
background.  A numeric proof that does not finish within
:data:`NUMERIC_TIMEOUT` raises :class:`StepVerificationError`.

Symbols without assumptions are replaced by real ones of the same name (so
that ``|x|′ = sign(x)``); the catalogue's vector maps and row losses are
derived component by component at size :data:`VECTOR_SIZE`.

Examples
--------
>>> from derive.parsing import parse_expression
>>> d = derivation_steps(parse_expression("x*sin(x)"), "x")
>>> d.result
x*cos(x) + sin(x)
>>> [step.rule for step in d.steps]
['product', 'sin']
>>> d.steps[0].verified_by
'symbolic'
>>> print(d.to_text())  # doctest: +NORMALIZE_WHITESPACE
d/dx[x·sin(x)]
 1. product rule: (f·g)′ = f′·g + f·g′ with f = x, g = sin(x)
      = x·d/dx sin(x) + sin(x)          ✓ symbolic
 2. sin rule: d/dx sin(x) = cos(x)
      = x·cos(x) + sin(x)               ✓ symbolic
Result: d/dx[x·sin(x)] = x·cos(x) + sin(x)
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, TypeVar

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.core.sorting import default_sort_key
from sympy.printing.latex import LatexPrinter
from sympy.printing.pretty.pretty_symbology import pretty_symbol
from sympy.printing.str import StrPrinter

from .primitives import (
    Primitive,
    components,
    erfcx,
    expand_primitives,
    gauss,
    ndtr,
    sech2,
    sigmoid,
    softplus,
    xlogy,
)

#: size at which vector maps and row losses are derived component by component
VECTOR_SIZE = 3
#: random points in a numeric proof
NUMERIC_POINTS = 20
#: working precision of a numeric proof, in decimal digits
NUMERIC_DIGITS = 50
#: the digits that must agree in a numeric proof
NUMERIC_AGREEMENT = 40
NUMERIC_METHOD = f"numeric ({NUMERIC_POINTS} points, {NUMERIC_DIGITS} digits)"
#: digits of the random points themselves
_POINT_DIGITS = 60
#: time allowed for a numeric proof (it can be slow on huge expressions)
NUMERIC_TIMEOUT = 60.0

_MAX_STEPS = 2000

T = TypeVar("T")


class StepVerificationError(AssertionError):
    """A step whose result could not be proven equal to SymPy's derivative."""


# --------------------------------------------------------------------------
# Time bounds
# --------------------------------------------------------------------------


class _Interrupted(BaseException):
    """Raised by the alarm handler; a BaseException so that no ``except
    Exception`` inside SymPy swallows it."""


_alarm_lock = threading.Lock()
_alarm_depth = 0


def run_with_time_limit(func: Callable[[], T], seconds: float | None) -> tuple[bool, T | None]:
    """Run ``func()``; give up after ``seconds``.

    Returns ``(True, value)`` when it finished in time, ``(False, None)``
    otherwise.  In the main thread of a POSIX process the computation is
    interrupted with ``SIGALRM`` (and the alarm repeats every 50 ms until the
    interruption gets through).  Elsewhere it runs in a daemon thread that is
    abandoned at the bound, so the work goes on in the background.  Inside
    another bounded call the earlier of the two bounds applies.

    Examples
    --------
    >>> run_with_time_limit(lambda: 6 * 7, 1.0)
    (True, 42)
    >>> import time
    >>> run_with_time_limit(lambda: time.sleep(2), 0.05)
    (False, None)
    >>> run_with_time_limit(lambda: run_with_time_limit(lambda: time.sleep(2), 0.05), 5.0)  # the inner bound
    (True, (False, None))
    """
    global _alarm_depth
    if seconds is None or seconds == float("inf"):
        return True, func()
    if seconds <= 0:
        return False, None
    use_alarm = (hasattr(signal, "setitimer")
                 and threading.current_thread() is threading.main_thread())
    if not use_alarm:
        return _run_in_thread(func, seconds)
    with _alarm_lock:
        nested = _alarm_depth > 0
        _alarm_depth += 1
    try:
        if nested:
            # the outer bound applies, unless this one ends first: then this one, and the
            # outer alarm is armed again with what is left of it (SymPy's series of a
            # Taylor candidate, 15 s each, had run to the whole search's 40 s)
            remaining = signal.getitimer(signal.ITIMER_REAL)[0]
            if 0 < remaining <= seconds:
                return True, func()
        return _run_with_alarm(func, seconds)
    finally:
        with _alarm_lock:
            _alarm_depth -= 1


def _run_with_alarm(func: Callable[[], T], seconds: float) -> tuple[bool, T | None]:
    state = {"active": False}
    outcome: list[Any] = [False, None]

    def handler(signum, frame):  # pragma: no cover - timing dependent
        if state["active"]:
            raise _Interrupted()

    old_handler = signal.signal(signal.SIGALRM, handler)
    old_timer = signal.getitimer(signal.ITIMER_REAL)
    started = time.monotonic()

    def restore() -> None:
        state["active"] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_timer[0] > 0:
            remaining = old_timer[0] - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-3), old_timer[1])

    try:
        try:
            state["active"] = True
            # Repeat every 50 ms in case an interruption is swallowed somewhere.
            signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
            outcome[1] = func()
            outcome[0] = True
        finally:
            state["active"] = False
    except _Interrupted:
        pass
    finally:
        while True:  # the alarm may hit the restoring itself: retry until done
            try:
                restore()
                break
            except _Interrupted:  # pragma: no cover - timing dependent
                continue
    return (True, outcome[1]) if outcome[0] else (False, None)


def _run_in_thread(func: Callable[[], T], seconds: float) -> tuple[bool, T | None]:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="nnderive-bounded")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        return False, None
    if "error" in box:
        raise box["error"]
    return True, box["value"]


# --------------------------------------------------------------------------
# Display helpers: softmax components and labels
# --------------------------------------------------------------------------


def _index_suffix(symbol: sp.Symbol) -> str:
    name = symbol.name
    return name.rsplit("_", 1)[1] if "_" in name else name


class softmax_component(sp.Function):
    r"""Component ``p_j = e^{z_j} / \sum_k e^{z_k}`` of a softmax at a concrete size.

    ``softmax_component(z_j, z_1, …, z_K)``: the first argument is the
    component, the others the whole vector (kept sorted, so that the same
    component always prints and compares the same).  Prints as ``p_j``.
    """

    is_real = True
    is_positive = True

    @classmethod
    def eval(cls, component, *vector):
        ordered = tuple(sorted(vector, key=default_sort_key))
        if ordered != tuple(vector):
            return cls(component, *ordered)
        return None

    def definition(self) -> sp.Expr:
        component, *vector = self.args
        return sp.exp(component) / sp.Add(*[sp.exp(v) for v in vector])

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        return self.definition()

    def fdiff(self, argindex=1):
        # ∂p_j/∂z_k = p_j (δ_jk − p_k); only the vector arguments carry z.
        component, *vector = self.args
        if argindex == 1:
            return sp.S.Zero  # the component symbol also appears in the vector
        z_k = vector[argindex - 2]
        p_k = softmax_component(z_k, *vector)
        delta = 1 if z_k == component else 0
        return self * (delta - p_k)


def _expand_local(expr: sp.Expr) -> sp.Expr:
    if expr.has(softmax_component):
        expr = expr.replace(lambda e: isinstance(e, softmax_component),
                            lambda e: e.definition())
    return expr


def _plain(expr: sp.Expr) -> sp.Expr:
    """Named primitives and softmax components in exp/log/erf form."""
    return expand_primitives(_expand_local(expr))


#: symbols used only as labels on the left of a derivation: (text, LaTeX)
_LABELS: dict[sp.Symbol, tuple[str, str]] = {}


def _label(name: str, text: str, latex: str) -> sp.Symbol:
    symbol = sp.Symbol(f"nnderive_label_{name}")
    _LABELS[symbol] = (text, latex)
    return symbol


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _is_sum_factor(factor: sp.Expr) -> bool:
    return factor.is_Add or (factor.is_Pow and factor.base.is_Add)


def _textbook_factor_order(expr: sp.Expr) -> list[sp.Expr]:
    """Factors as a textbook orders them: numbers, then single factors, then
    sums (``σ(x)·(1 − σ(x))``, not ``(1 − σ(x))·σ(x)``)."""
    factors = expr.as_ordered_factors()
    numbers = [f for f in factors if f.is_Number]
    if len(numbers) > 1:  # a product SymPy left unevaluated, Mul(−1, 2, …): one number, −2
        coefficient = sp.Mul(*numbers)
        factors = ([coefficient] if coefficient != 1 else []) + [f for f in factors if not f.is_Number]
    return sorted(factors, key=lambda f: (not f.is_number, isinstance(f, sp.Derivative),
                                          _is_sum_factor(f)))


def _textbook_term_order(terms: list[sp.Expr]) -> list[sp.Expr]:
    """Terms with a leading minus after the others: ``ŷ − y``, not ``−y + ŷ``."""
    if not terms or not terms[0].could_extract_minus_sign():
        return terms
    return ([t for t in terms if not t.could_extract_minus_sign()]
            + [t for t in terms if t.could_extract_minus_sign()])


class _OrderMixin:
    """Textbook order of terms and factors for SymPy's printers."""

    def _as_ordered_terms(self, expr, order=None):
        return _textbook_term_order(super()._as_ordered_terms(expr, order=order))

    def _print_Mul(self, expr):
        factors = _textbook_factor_order(expr)
        if list(factors) == list(expr.as_ordered_factors()):
            return super()._print_Mul(expr)
        saved = self._settings.get("order")
        self._settings["order"] = "none"
        try:
            return super()._print_Mul(sp.Mul(*factors, evaluate=False))
        finally:
            self._settings["order"] = saved

    def _print_Add(self, expr, order=None):
        saved = self._settings.get("order")
        if saved == "none":
            self._settings["order"] = None
        try:
            return super()._print_Add(expr, order=order)
        finally:
            self._settings["order"] = saved
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


class _TextPrinter(_OrderMixin, StrPrinter):
    """Readable Unicode: σ(x), x², ·, √, |x|, d/dx[…]."""

    _names = {"sigmoid": "σ", "ndtr": "Φ", "gauss": "φ", "sech2": "sech²",
              "log": "ln", "Heaviside": "H", "rowsum": "Σ", "logsumexp": "logsumexp"}

    def __init__(self, partial: bool = False) -> None:
        super().__init__({})
        self.partial = partial

    def _print_Symbol(self, expr):
        if expr in _LABELS:
            return _LABELS[expr][0]
        return pretty_symbol(expr.name)

    _print_Dummy = _print_Symbol

    def _print_Pi(self, expr):
        return "π"

    def _print_Exp1(self, expr):
        return "e"

    def _print_ImaginaryUnit(self, expr):
        return "i"

    def _print_Infinity(self, expr):
        return "∞"

    def _print_NegativeInfinity(self, expr):
        return "-∞"

    def _print_Function(self, expr):
        name = self._names.get(expr.func.__name__, expr.func.__name__)
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    def _print_Abs(self, expr):
        return f"|{self._print(expr.args[0])}|"

    def _print_MinMaxBase(self, expr):
        args = ", ".join(self._print(a) for a in expr.args)
        return f"{type(expr).__name__.lower()}({args})"

    _print_Max = _print_Min = _print_MinMaxBase

    def _print_softmax_component(self, expr):
        return pretty_symbol("p_" + _index_suffix(expr.args[0]))

    def _print_xlogy(self, expr):
        x, y = expr.args
        return f"{self.parenthesize(x, 50)}·ln({self._print(y)})"

    def _print_xdivy(self, expr):
        x, y = expr.args
        return f"{self.parenthesize(x, 50)}/{self.parenthesize(y, 51)}"

    def _print_Pow(self, expr, rational=False):
        base, exponent = expr.as_base_exp()
        if exponent == sp.S.Half:
            inner = self._print(base)
            return f"√{inner}" if base.is_Atom else f"√({inner})"
        if exponent.is_negative:
            if exponent == -1:
                return "1/" + self.parenthesize(base, 50, strict=True)
            return "1/" + self.parenthesize(sp.Pow(base, -exponent, evaluate=False), 50,
                                            strict=True)
        if (exponent.is_Integer and exponent > 1 and isinstance(base, sp.Function)
                and not isinstance(base, (sp.Abs, softmax_component)) and len(base.args) == 1):
            name = self._names.get(base.func.__name__, base.func.__name__)
            return f"{name}{str(exponent).translate(_SUPERSCRIPT)}({self._print(base.args[0])})"
        base_text = self.parenthesize(base, 60, strict=True)
        if exponent.is_Integer and exponent > 0:
            return base_text + str(exponent).translate(_SUPERSCRIPT)
        return f"{base_text}^{self.parenthesize(exponent, 60, strict=True)}"

    def _print_Mul(self, expr):
        return super()._print_Mul(expr).replace("*", "·")

    def _print_Float(self, expr):
        return f"{float(expr):.10g}"

    def _print_Derivative(self, expr):
        inner = expr.expr
        d = "∂" if self.partial else "d"
        parts = []
        total = 0
        for variable, count in expr.variable_count:
            total += count
            power = "" if count == 1 else str(count).translate(_SUPERSCRIPT)
            parts.append(f"{d}{self._print(variable)}{power}")
        head = f"{d}{'' if total == 1 else str(total).translate(_SUPERSCRIPT)}/{''.join(parts)}"
        body = self._print(inner)
        if not (inner.is_Atom or isinstance(inner, sp.Function)):
            body = f"[{body}]"
        return f"{head}{body}" if body.startswith("[") else f"{head} {body}"

    def _print_Piecewise(self, expr):
        pieces = []
        for value, condition in expr.args:
            if condition is sp.true:
                pieces.append(f"{self._print(value)} otherwise")
            else:
                pieces.append(f"{self._print(value)} if {self._print(condition)}")
        return "{" + "; ".join(pieces) + "}"

    def _print_Relational(self, expr):
        op = {"<=": "≤", ">=": "≥", "!=": "≠", "==": "="}.get(expr.rel_op, expr.rel_op)
        return f"{self._print(expr.lhs)} {op} {self._print(expr.rhs)}"

    def _print_And(self, expr):
        return " and ".join(self.parenthesize(a, 40) for a in expr.args)

    def _print_Or(self, expr):
        return " or ".join(self.parenthesize(a, 40) for a in expr.args)


class _LatexPrinter(_OrderMixin, LatexPrinter):
    """SymPy's LaTeX with labels, softmax components and d/∂ chosen per derivation."""

    def __init__(self, partial: bool = False) -> None:
        super().__init__({})
        self.partial = partial

    def _print_Symbol(self, expr, style="plain"):
        if expr in _LABELS:
            return _LABELS[expr][1]
        return super()._print_Symbol(expr, style)

    def _print_Function(self, expr, exp=None):
        if isinstance(expr, sp.core.function.AppliedUndef) and "_" in expr.func.__name__:
            name = expr.func.__name__.replace("_", r"\_")
            args = ", ".join(self._print(a) for a in expr.args)
            head = rf"\operatorname{{{name}}}" + ("" if exp is None else f"^{{{exp}}}")
            return rf"{head}\left({args}\right)"
        return super()._print_Function(expr, exp)

    def _print_softmax_component(self, expr, exp=None):
        base = f"p_{{{_index_suffix(expr.args[0])}}}"
        return base if exp is None else f"{base}^{{{exp}}}"

    def _print_Derivative(self, expr):
        d = r"\partial" if self.partial else "d"
        parts = []
        total = 0
        for variable, count in expr.variable_count:
            total += count
            power = "" if count == 1 else f"^{{{count}}}"
            parts.append(f"{d} {self._print(variable)}{power}")
        order = "" if total == 1 else f"^{{{total}}}"
        head = rf"\frac{{{d}{order}}}{{{' '.join(parts)}}}"
        inner = expr.expr
        body = self._print(inner)
        if not (inner.is_Atom or isinstance(inner, sp.Function)):
            body = rf"\left[{body}\right]"
        return f"{head} {body}"


def _text(expr: sp.Basic, partial: bool = False) -> str:
    # NFC: "ŷ" as one character, not y + a combining circumflex
    return unicodedata.normalize("NFC", _TextPrinter(partial).doprint(expr))


def _latex(expr: sp.Basic, partial: bool = False) -> str:
    return _LatexPrinter(partial).doprint(expr)


# --------------------------------------------------------------------------
# Steps and derivations
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One rule applied, and its proof.

    Attributes
    ----------
    rule : str
        The rule's name: ``"product"``, ``"chain"``, ``"tanh"``, ….
    title : str
        A short ASCII title (``"chain rule (tanh)"``), used in LaTeX.
    target : sympy.Expr
        The sub-expression being differentiated.
    result : sympy.Expr
        What the rule turns ``d/dx[target]`` into (it may still hold
        derivatives to work out).
    justification : str
        One sentence saying why.
    current : sympy.Expr
        The whole derivative after this step.
    verified_by : str
        ``"symbolic"`` or ``"numeric (20 points, 50 digits)"`` (followed by
        the assumption used, if any).
    lhs : sympy.Expr
        What ``current`` is the value of (``d/dx[f]``, ``∂L/∂ŷ₁``, …).
    outer_rule : str or None
        For a chain step, the rule of the outer function.
    substitution : tuple or None
        For a chain step, ``(u, inner expression)``.
    order : int
        The pass: 1 for the first derivative, 2 for the second, ….
    """

    rule: str
    title: str
    target: sp.Expr
    result: sp.Expr
    justification: str
    current: sp.Expr
    verified_by: str
    lhs: sp.Expr
    outer_rule: str | None = None
    substitution: tuple[sp.Symbol, sp.Expr] | None = None
    order: int = 1

    @property
    def rules(self) -> tuple[str, ...]:
        """The rule and, for a chain step, the outer function's rule."""
        return (self.rule,) if self.outer_rule is None else (self.rule, self.outer_rule)

    def to_dict(self, partial: bool = False) -> dict[str, Any]:
        """The step as plain data (strings in SymPy syntax, text and LaTeX)."""
        return {
            "pass": self.order,
            "rule": self.rule,
            "outer_rule": self.outer_rule,
            "title": self.title,
            "justification": self.justification,
            "lhs": _text(self.lhs, partial),
            "target": sp.sstr(self.target),
            "result": sp.sstr(self.result),
            "current": sp.sstr(self.current),
            "current_text": _text(self.current, partial),
            "current_latex": _latex(self.current, partial),
            "substitution": None if self.substitution is None else {
                "symbol": self.substitution[0].name,
                "value": sp.sstr(self.substitution[1]),
            },
            "verified_by": self.verified_by,
        }


def _latex_escape(text: str) -> str:
    replacements = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_",
                    "^": r"\^{}", "#": r"\#", "%": r"\%", "&": r"\&", "$": r"\$",
                    "~": r"\~{}"}
    return "".join(replacements.get(c, c) for c in text)


@dataclass(frozen=True)
class Derivation:
    """A derivative with its verified steps and its renderings.

    Attributes
    ----------
    expr : sympy.Expr
        The expression differentiated.
    wrt : sympy.Symbol
        The variable.
    steps : tuple of Step
        Every step, in order, all verified.
    result : sympy.Expr
        The derivative in textbook form.
    raw : sympy.Expr
        SymPy's own derivative of ``expr`` (for a vector map, its VJP at
        size 3; for a loss, the derivative of its mean).
    order : int
        1 for the first derivative, 2 for the second, ….
    name : str or None
        The catalogue entry, if any.
    lhs : sympy.Expr
        What is being computed, as displayed on the left.
    notes : tuple of str
        Conventions, assumptions, and a note when simplification was cut off.
    """

    expr: sp.Expr
    wrt: sp.Symbol
    steps: tuple[Step, ...]
    result: sp.Expr
    raw: sp.Expr
    order: int = 1
    name: str | None = None
    lhs: sp.Expr | None = None
    notes: tuple[str, ...] = ()
    partial: bool = False

    @property
    def rules(self) -> list[str]:
        """Every rule used, in order (a chain step contributes two)."""
        return [rule for step in self.steps for rule in step.rules]

    @property
    def complete(self) -> bool:
        """True when no step fell back to SymPy's ``diff`` ("don't know")."""
        return all(step.rule != "sympy" for step in self.steps)

    @property
    def verified(self) -> bool:
        """Always True: a derivation with an unverified step is never built."""
        return all(step.verified_by for step in self.steps)

    def _lhs(self) -> sp.Expr:
        if self.lhs is not None:
            return self.lhs
        return sp.Derivative(self.expr, (self.wrt, self.order))

    # -- renderings ---------------------------------------------------------
    def to_text(self) -> str:
        """Plain Unicode text for a terminal."""
        p = self.partial
        lines: list[str] = []
        lhs = None
        for number, step in enumerate(self.steps, 1):
            if step.lhs != lhs:
                if lhs is not None:
                    lines.append("")
                lhs = step.lhs
                lines.append(_text(lhs, p))
            lines.append(f"{number:2d}. {step.justification}")
            lines.append(f"      = {_text(step.current, p):<30s}  ✓ {step.verified_by}")
        if not self.steps:
            lines.append(_text(self._lhs(), p))
        lines.append(f"Result: {_text(self._lhs(), p)} = {_text(self.result, p)}")
        lines.extend(f"Note: {note}" for note in self.notes)
        return "\n".join(lines)

    def to_latex(self) -> str:
        r"""An ``aligned`` block, one line per step with a short ``\text{…}``."""
        p = self.partial
        rows: list[str] = []
        lhs = None
        for step in self.steps:
            head = ""
            if step.lhs != lhs:
                lhs = step.lhs
                head = _latex(lhs, p)
            note = rf"\text{{{_latex_escape(step.title)}}}"
            if step.substitution is not None:
                u, inner = step.substitution
                note += rf"\ \left({_latex(u, p)} = {_latex(inner, p)}\right)"
            rows.append(f"{head} &= {_latex(step.current, p)} && {note}")
        if not rows:
            rows.append(f"{_latex(self._lhs(), p)} &= {_latex(self.result, p)}")
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def to_markdown(self) -> str:
        """Numbered steps with ``$…$`` maths."""
        p = self.partial
        lines = [f"**{_title_case(self)}**", ""]
        lhs = None
        number = 0
        for step in self.steps:
            if step.lhs != lhs:
                lhs = step.lhs
                if number:
                    lines.append("")
                lines.append(f"${_latex(lhs, p)}$:")
                lines.append("")
            number += 1
            lines.append(f"{number}. {step.justification}  ")
            lines.append(f"   $= {_latex(step.current, p)}$ *(verified: {step.verified_by})*")
        lines.append("")
        lines.append(f"**Result:** ${_latex(self._lhs(), p)} = {_latex(self.result, p)}$")
        for note in self.notes:
            lines.append("")
            lines.append(f"*Note:* {note}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Structured data: the expression, the steps, the result, the notes."""
        p = self.partial
        return {
            "name": self.name,
            "expression": sp.sstr(self.expr),
            "expression_latex": _latex(self.expr, p),
            "wrt": self.wrt.name,
            "order": self.order,
            "lhs": _text(self._lhs(), p),
            "steps": [step.to_dict(p) for step in self.steps],
            "result": sp.sstr(self.result),
            "result_text": _text(self.result, p),
            "result_latex": _latex(self.result, p),
            "raw": sp.sstr(self.raw),
            "complete": self.complete,
            "notes": list(self.notes),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def _repr_latex_(self) -> str:
        return "$$" + self.to_latex() + "$$"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_text()


def _title_case(d: Derivation) -> str:
    what = {1: "Derivative", 2: "Second derivative"}.get(d.order, f"Derivative of order {d.order}")
    if d.name:
        return f"{what} of {d.name}"
    return f"{what} of {_text(d.expr, d.partial)} with respect to {_text(d.wrt)}"


@dataclass(frozen=True)
class Gradient:
    """The partial derivatives of one expression, one :class:`Derivation` each.

    Examples
    --------
    >>> from derive.parsing import parse_expression
    >>> grad = derivation_steps(parse_expression("w*x + b"), ("w", "b"))
    >>> grad.result
    (x, 1)
    """

    expr: sp.Expr
    wrt: tuple[sp.Symbol, ...]
    derivations: tuple[Derivation, ...]

    @property
    def result(self) -> tuple[sp.Expr, ...]:
        return tuple(d.result for d in self.derivations)

    @property
    def raw(self) -> tuple[sp.Expr, ...]:
        return tuple(d.raw for d in self.derivations)

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(step for d in self.derivations for step in d.steps)

    @property
    def complete(self) -> bool:
        return all(d.complete for d in self.derivations)

    @property
    def notes(self) -> tuple[str, ...]:
        seen: list[str] = []
        for d in self.derivations:
            seen.extend(n for n in d.notes if n not in seen)
        return tuple(seen)

    def __getitem__(self, key: int | str | sp.Symbol) -> Derivation:
        if isinstance(key, int):
            return self.derivations[key]
        for d in self.derivations:
            if d.wrt == key or d.wrt.name == key:
                return d
        raise KeyError(key)

    def __iter__(self):
        return iter(self.derivations)

    def __len__(self) -> int:
        return len(self.derivations)

    def to_text(self) -> str:
        gradient = ", ".join(_text(r, True) for r in self.result)
        return ("\n\n".join(d.to_text() for d in self.derivations)
                + f"\n\nGradient with respect to ({', '.join(_text(v) for v in self.wrt)}): "
                + f"({gradient})")

    def to_latex(self) -> str:
        return "\n".join(d.to_latex() for d in self.derivations)

    def to_markdown(self) -> str:
        return "\n\n".join(d.to_markdown() for d in self.derivations)

    def to_dict(self) -> dict[str, Any]:
        return {
            "expression": sp.sstr(self.expr),
            "wrt": [v.name for v in self.wrt],
            "gradient": [sp.sstr(r) for r in self.result],
            "derivations": [d.to_dict() for d in self.derivations],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def _repr_latex_(self) -> str:
        return "$$" + "\\\\".join(d.to_latex() for d in self.derivations) + "$$"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_text()


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


def _is_zero_symbolically(d: sp.Expr) -> bool:
    """Cheap methods first; raises _Interrupted when the bound passes."""
    if d == 0:
        return True
    if d.has(sp.Piecewise):
        try:
            folded = sp.piecewise_fold(d)
        except (ValueError, TypeError, ArithmeticError, NotImplementedError):
            return False
        if isinstance(folded, sp.Piecewise):
            return all(_is_zero_symbolically(piece) for piece, _ in folded.args)
        d = folded
    if d.is_number and d.is_zero:
        return True
    attempts: tuple[Callable[[sp.Expr], sp.Expr], ...] = (
        sp.expand,
        lambda e: sp.cancel(sp.together(e)),
        lambda e: sp.cancel(sp.expand(sp.powsimp(e.rewrite(sp.exp)))),
        lambda e: sp.expand(sp.simplify(e)),
    )
    for attempt in attempts:
        try:
            reduced = attempt(d)
        except (ValueError, TypeError, ArithmeticError, NotImplementedError,
                RecursionError, sp.PolynomialError):
            continue  # SymPy gave up on this method; try the next
        if reduced == 0:
            return True
    return False


def _sample(symbol: sp.Symbol, rng: random.Random) -> sp.Expr:
    """A random value for ``symbol``: an integer for integer symbols, else a
    60-digit float (floats keep SymPy from reasoning exactly about conditions
    such as ``atan(log(atan(y))) > x``, which can take it forever)."""
    if symbol.is_integer:
        low = 1 if symbol.is_positive else -5
        return sp.Integer(rng.randint(low, 9))
    scale = 10**12
    if symbol.is_positive or symbol.is_nonnegative:
        return sp.Float(sp.Rational(rng.randint(scale // 20, 3 * scale), scale), _POINT_DIGITS)
    choice = rng.random()
    if choice < 1 / 3:
        value = rng.randint(scale // 20, 19 * scale // 20)  # in (0, 1)
    elif choice < 2 / 3:
        value = rng.randint(scale // 20, 3 * scale)
    else:
        value = -rng.randint(scale // 20, 3 * scale)
    return sp.Float(sp.Rational(value, scale), _POINT_DIGITS)


def _value(expr: sp.Expr, point: dict) -> sp.Expr | None:
    """``expr`` at ``point`` to 50 digits, or None where it is undefined there
    (a pole, or max/min/a condition of complex values off the real domain)."""
    try:
        value = expr.xreplace(point)
        if value.has(sp.Derivative, sp.Subs):
            value = value.doit()
        value = value.evalf(NUMERIC_DIGITS)
    except (ValueError, TypeError, ArithmeticError):
        return None
    if not value.is_number or value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        return None
    if value.free_symbols:
        return None
    return value


def _numerically_equal(a: sp.Expr, b: sp.Expr, seed: int) -> bool:
    symbols = sorted((a.free_symbols | b.free_symbols), key=lambda s: s.name)
    rng = random.Random(seed)
    tolerance = sp.Float(10) ** -NUMERIC_AGREEMENT
    agreed = 0
    for attempt in range(12 * NUMERIC_POINTS):
        real_only = attempt < 8 * NUMERIC_POINTS
        point = {s: _sample(s, rng) for s in symbols}
        va = _value(a, point)
        vb = _value(b, point)
        if va is None or vb is None:
            continue
        if real_only and (abs(sp.im(va)) > tolerance or abs(sp.im(vb)) > tolerance):
            continue
        error = abs((va - vb).evalf(NUMERIC_DIGITS))
        scale = max(sp.Float(1), abs(va), abs(vb))
        if error > tolerance * scale:
            return False
        agreed += 1
        if agreed >= NUMERIC_POINTS:
            return True
    return False


class _Checker:
    """Proves expressions equal to one reference derivative (with a cache)."""

    def __init__(self, reference: sp.Expr, *, timeout: float | None, seed: int = 0,
                 constraint: dict | None = None, constraint_text: str = "") -> None:
        self.reference = reference
        self.timeout = timeout
        self.seed = seed
        self.constraint = constraint or {}
        self.constraint_text = constraint_text
        self._cache: dict[sp.Expr, str] = {}

    def with_constraint(self, constraint: dict, text: str) -> "_Checker":
        return _Checker(self.reference, timeout=self.timeout, seed=self.seed,
                        constraint=constraint, constraint_text=text)

    def check(self, candidate: sp.Expr, what: str) -> str:
        """How ``candidate`` (already plain, no pending derivatives) was proven."""
        if self.constraint:
            candidate = sp.expand(candidate.subs(self.constraint))
        if candidate in self._cache:
            return self._cache[candidate]
        reference = self.reference
        if self.constraint:
            reference = sp.expand(reference.subs(self.constraint))
        difference = candidate - reference
        finished, zero = run_with_time_limit(lambda: _is_zero_symbolically(difference),
                                             self.timeout)
        if finished and zero:
            method = "symbolic"
        else:
            finished, equal = run_with_time_limit(
                lambda: _numerically_equal(candidate, reference, self.seed), NUMERIC_TIMEOUT)
            if not finished:
                raise StepVerificationError(
                    f"step {what!r} could not be verified within {NUMERIC_TIMEOUT:g} s")
            method = NUMERIC_METHOD if equal else ""
        if not method:
            raise StepVerificationError(
                f"step {what!r} could not be verified: {sp.sstr(candidate)} "
                f"differs from SymPy's derivative {sp.sstr(reference)}")
        if self.constraint_text:
            method += f" (using {self.constraint_text})"
        self._cache[candidate] = method
        return method


# --------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------


def _reference(expr: sp.Expr, x: sp.Symbol, order: int) -> sp.Expr:
    """SymPy's derivative of the plain expression, the one every step must equal.

    SymPy leaves ``d/dx sign(u)`` unevaluated when it cannot prove ``u`` real;
    for our real variables it is ``2·δ(u)·u′`` (0 away from the jump)."""
    return _jumps(sp.diff(expr, x, order))


def _jumps(expr: sp.Expr) -> sp.Expr:
    """``d/dx sign(u)`` → ``2·δ(u)·u′`` and ``d/dx H(u)`` → ``δ(u)·u′`` where
    SymPy left them unevaluated (it could not prove ``u`` real)."""
    def jump(node: sp.Derivative) -> sp.Expr:
        inner = node.expr
        if isinstance(inner, (sp.sign, sp.Heaviside)) and len(node.variables) == 1:
            factor = 2 if isinstance(inner, sp.sign) else 1
            variable = node.variables[0]
            return factor * sp.DiracDelta(inner.args[0]) * sp.diff(inner.args[0], variable)
        return node

    if not expr.has(sp.Derivative):
        return expr
    return expr.replace(lambda e: isinstance(e, sp.Derivative), jump)


def _D(u: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """``d/dx u``, left pending unless it is trivial (constant or x itself)."""
    if not u.has(x):
        return sp.S.Zero
    if u == x:
        return sp.S.One
    return sp.Derivative(u, x)


@dataclass(frozen=True)
class _FunctionRule:
    rule: str
    derivative: Callable[[sp.Expr], sp.Expr]
    formula: str  # with u as the argument


def _erf_derivative(u: sp.Expr) -> sp.Expr:
    return 2 / sp.sqrt(sp.pi) * sp.exp(-u**2)


_FUNCTION_RULES: dict[type, _FunctionRule] = {
    sp.exp: _FunctionRule("exp", sp.exp, "d/du eᵘ = eᵘ"),
    sp.log: _FunctionRule("log", lambda u: 1 / u, "d/du ln(u) = 1/u"),
    log1p: _FunctionRule("log1p", lambda u: 1 / (1 + u), "d/du log1p(u) = d/du ln(1 + u) = 1/(1 + u)"),
    expm1: _FunctionRule("expm1", sp.exp, "d/du expm1(u) = d/du (eᵘ − 1) = eᵘ"),
    sp.sin: _FunctionRule("sin", sp.cos, "d/du sin(u) = cos(u)"),
    sp.cos: _FunctionRule("cos", lambda u: -sp.sin(u), "d/du cos(u) = −sin(u)"),
    sp.tan: _FunctionRule("tan", lambda u: 1 + sp.tan(u)**2,
                          "d/du tan(u) = sec²(u) = 1 + tan²(u)"),
    sp.cot: _FunctionRule("cot", lambda u: -1 - sp.cot(u)**2,
                          "d/du cot(u) = −csc²(u) = −1 − cot²(u)"),
    sp.sec: _FunctionRule("sec", lambda u: sp.sec(u) * sp.tan(u),
                          "d/du sec(u) = sec(u)·tan(u)"),
    sp.csc: _FunctionRule("csc", lambda u: -sp.csc(u) * sp.cot(u),
                          "d/du csc(u) = −csc(u)·cot(u)"),
    sp.sinh: _FunctionRule("sinh", sp.cosh, "d/du sinh(u) = cosh(u)"),
    sp.cosh: _FunctionRule("cosh", sp.sinh, "d/du cosh(u) = sinh(u)"),
    sp.tanh: _FunctionRule("tanh", lambda u: 1 - sp.tanh(u)**2,
                           "d/du tanh(u) = 1 − tanh²(u)"),
    sp.coth: _FunctionRule("coth", lambda u: 1 - sp.coth(u)**2,
                           "d/du coth(u) = 1 − coth²(u)"),
    sp.sech: _FunctionRule("sech", lambda u: -sp.sech(u) * sp.tanh(u),
                           "d/du sech(u) = −sech(u)·tanh(u)"),
    sp.csch: _FunctionRule("csch", lambda u: -sp.csch(u) * sp.coth(u),
                           "d/du csch(u) = −csch(u)·coth(u)"),
    sp.asin: _FunctionRule("asin", lambda u: 1 / sp.sqrt(1 - u**2),
                           "d/du asin(u) = 1/√(1 − u²)"),
    sp.acos: _FunctionRule("acos", lambda u: -1 / sp.sqrt(1 - u**2),
                           "d/du acos(u) = −1/√(1 − u²)"),
    sp.atan: _FunctionRule("atan", lambda u: 1 / (1 + u**2), "d/du atan(u) = 1/(1 + u²)"),
    sp.asinh: _FunctionRule("asinh", lambda u: 1 / sp.sqrt(u**2 + 1),
                            "d/du asinh(u) = 1/√(u² + 1)"),
    sp.acosh: _FunctionRule("acosh", lambda u: 1 / sp.sqrt(u**2 - 1),
                            "d/du acosh(u) = 1/√(u² − 1)"),
    sp.atanh: _FunctionRule("atanh", lambda u: 1 / (1 - u**2), "d/du atanh(u) = 1/(1 − u²)"),
    sp.erf: _FunctionRule("erf", _erf_derivative, "d/du erf(u) = (2/√π)·e^(−u²)"),
    sp.erfc: _FunctionRule("erfc", lambda u: -_erf_derivative(u),
                           "d/du erfc(u) = −(2/√π)·e^(−u²)"),
    sp.Abs: _FunctionRule("abs", sp.sign,
                          "d/du |u| = sign(u); |u| has a kink at u = 0, where sign(0) = 0 "
                          "is used (as PyTorch and JAX)"),
    sp.sign: _FunctionRule("sign", lambda u: sp.S.Zero,
                           "sign(u) is constant on each side of u = 0, so its derivative is 0 "
                           "(at the jump u = 0 it is taken as 0, as in autodiff frameworks)"),
    sp.Heaviside: _FunctionRule("heaviside", lambda u: sp.S.Zero,
                                "H(u) is constant on each side of u = 0, so its derivative "
                                "is 0 (at the jump it is taken as 0)"),
    sigmoid: _FunctionRule("sigmoid", lambda u: sigmoid(u) * (1 - sigmoid(u)),
                           "d/du σ(u) = σ(u)·(1 − σ(u))"),
    softplus: _FunctionRule("softplus", sigmoid, "d/du softplus(u) = σ(u)"),
    sech2: _FunctionRule("sech2", lambda u: -2 * sech2(u) * sp.tanh(u),
                         "d/du sech²(u) = −2·sech²(u)·tanh(u)"),
    ndtr: _FunctionRule("ndtr", gauss, "d/du Φ(u) = φ(u), the Gaussian density"),
    gauss: _FunctionRule("gauss", lambda u: -u * gauss(u), "d/du φ(u) = −u·φ(u)"),
    erfcx: _FunctionRule("erfcx", lambda u: 2 * u * erfcx(u) - 2 / sp.sqrt(sp.pi),
                         "d/du erfcx(u) = 2u·erfcx(u) − 2/√π (erfcx(u) = e^(u²)·erfc(u))"),
}

_TITLES = {
    "constant": "constant rule", "variable": "variable rule", "sum": "sum rule",
    "constant multiple": "constant multiple rule", "product": "product rule",
    "quotient": "quotient rule", "power": "power rule", "sqrt": "square root rule",
    "exponential": "exponential rule", "logarithmic differentiation":
    "logarithmic differentiation", "piecewise": "piecewise rule", "max": "max as piecewise",
    "min": "min as piecewise", "xlogy": "xlogy rule", "sympy": "SymPy (no rule)",
}


@dataclass(frozen=True)
class _Applied:
    rule: str
    replacement: sp.Expr
    justification: str
    outer_rule: str | None = None
    substitution: tuple[sp.Symbol, sp.Expr] | None = None

    @property
    def title(self) -> str:
        if self.rule == "chain":
            return f"chain rule ({self.outer_rule})"
        if self.rule in _TITLES:
            return _TITLES[self.rule]
        return f"{self.rule} rule"


def _fresh(names: set[str]) -> sp.Symbol:
    for name in ("u", "v", "w", "t", "s", "q", "r"):
        if name not in names:
            return sp.Symbol(name, real=True)
    index = 1
    while f"u_{index}" in names:
        index += 1
    return sp.Symbol(f"u_{index}", real=True)


class _Rules:
    """Chooses and applies the rule for ``d/dx[u]``."""

    def __init__(self, x: sp.Symbol, names: set[str], partial: bool) -> None:
        self.x = x
        self.names = names
        self.partial = partial
        self.d = f"{'∂' if partial else 'd'}/{'∂' if partial else 'd'}{_text(x)}"

    def t(self, expr: sp.Expr) -> str:
        return _text(expr, self.partial)

    def factor_text(self, expr: sp.Expr) -> str:
        """``expr`` as a factor of a product: parenthesised if it is a sum."""
        text = self.t(expr)
        return f"({text})" if expr.is_Add else text

    def apply(self, u: sp.Expr) -> _Applied:
        x = self.x
        if not u.has(x):
            return _Applied("constant", sp.S.Zero,
                            f"constant rule: {self.t(u)} does not depend on {self.t(x)}, "
                            "so its derivative is 0")
        if u == x:
            return _Applied("variable", sp.S.One, f"variable rule: {self.d} {self.t(x)} = 1")
        if u.is_Add:
            return self.sum(u)
        if u.is_Mul:
            return self.mul(u)
        if u.is_Pow:
            return self.power(u)
        if isinstance(u, sp.Piecewise):
            return self.piecewise(u)
        if isinstance(u, (sp.Max, sp.Min)):
            return self.extremum(u)
        if isinstance(u, xlogy):
            a, b = u.args
            return _Applied("xlogy", _D(a, x) * sp.log(b) + a * _D(b, x) / b,
                            f"xlogy rule: xlogy(a, b) = a·ln(b) (0 where a = 0), so its "
                            f"derivative is a′·ln(b) + a·b′/b with a = {self.t(a)}, "
                            f"b = {self.t(b)}")
        rule = _FUNCTION_RULES.get(u.func)
        if rule is not None and len(u.args) == 1:
            return self.function(u, rule)
        return _Applied("sympy", sp.diff(u, x),
                        f"no textbook rule for {self.t(u)}: derivative taken from SymPy")

    def sum(self, u: sp.Expr) -> _Applied:
        x = self.x
        constant = [a for a in u.args if not a.has(x)]
        text = "sum rule: differentiate term by term"
        if constant:
            plural = len(constant) > 1
            text += f" (the constant term{'s' if plural else ''} "
            text += ", ".join(self.t(c) for c in constant)
            text += f" contribute{'' if plural else 's'} 0)"
        return _Applied("sum", sp.Add(*[_D(a, x) for a in u.args]), text)

    def mul(self, u: sp.Expr) -> _Applied:
        x = self.x
        constant = [f for f in u.args if not f.has(x)]
        dependent = [f for f in u.args if f.has(x)]
        if constant:
            c = sp.Mul(*constant)
            rest = sp.Mul(*dependent)
            return _Applied("constant multiple", c * _D(rest, x),
                            f"constant multiple rule: {self.d}(c·f) = c·f′ with c = {self.t(c)}")
        numerator = [f for f in dependent
                     if not (f.is_Pow and f.exp.is_Rational and f.exp.is_negative)]
        denominator = [1 / f for f in dependent if f not in numerator]
        if numerator and denominator:
            n = sp.Mul(*numerator)
            d = sp.Mul(*denominator)
            return _Applied("quotient", (_D(n, x) * d - n * _D(d, x)) / d**2,
                            f"quotient rule: (f/g)′ = (f′·g − f·g′)/g² with f = {self.t(n)}, "
                            f"g = {self.t(d)}")
        f = dependent[0]
        g = sp.Mul(*dependent[1:])
        return _Applied("product", _D(f, x) * g + f * _D(g, x),
                        f"product rule: (f·g)′ = f′·g + f·g′ with f = {self.t(f)}, "
                        f"g = {self.t(g)}")

    def chain(self, rule: str, outer: Callable[[sp.Expr], sp.Expr], shape: Callable[[sp.Expr],
              sp.Expr], inner: sp.Expr, formula: str) -> _Applied:
        """``d/dx shape(inner) = outer(inner)·d/dx inner``, by the chain rule if
        ``inner`` is not ``x`` itself."""
        x = self.x
        if inner == x:
            return _Applied(rule, outer(x),
                            f"{rule} rule: {self.d} {self.t(shape(x))} = {self.t(outer(x))}")
        u = _fresh(self.names | {s.name for s in inner.free_symbols})
        return _Applied(
            "chain", outer(inner) * _D(inner, x),
            f"chain rule with {self.t(u)} = {self.t(inner)}: {self.d} {self.t(shape(u))} = "
            f"{self.factor_text(outer(u))}·d{self.t(u)}/d{self.t(x)}, since {formula}",
            outer_rule=rule, substitution=(u, inner))

    def function(self, u: sp.Expr, rule: _FunctionRule) -> _Applied:
        return self.chain(rule.rule, rule.derivative, u.func, u.args[0], rule.formula)

    def power(self, u: sp.Expr) -> _Applied:
        x = self.x
        base, exponent = u.as_base_exp()
        if not exponent.has(x):
            if exponent == sp.S.Half:
                return self.chain("sqrt", lambda v: 1 / (2 * sp.sqrt(v)), sp.sqrt, base,
                                  "d/du √u = 1/(2√u)")
            return self.chain("power", lambda v: exponent * v ** (exponent - 1),
                              lambda v: v**exponent, base,
                              f"d/du uⁿ = n·uⁿ⁻¹ (power rule, n = {self.t(exponent)})")
        if not base.has(x):
            return self.chain("exponential", lambda v: base**v * sp.log(base),
                              lambda v: base**v, exponent,
                              f"d/du aᵘ = aᵘ·ln(a) with a = {self.t(base)}")
        return _Applied(
            "logarithmic differentiation", u * _D(exponent * sp.log(base), x),
            f"logarithmic differentiation: both base and exponent depend on {self.t(x)}; "
            f"write {self.t(u)} = exp({self.t(exponent * sp.log(base))}), so "
            f"{self.d} {self.t(u)} = {self.t(u)}·{self.d}[{self.t(exponent * sp.log(base))}]")

    def piecewise(self, u: sp.Piecewise) -> _Applied:
        x = self.x
        pieces = [(_D(expr, x), cond) for expr, cond in u.args]
        text = ("piecewise rule: differentiate each piece on its own condition, keeping "
                "the conditions")
        text += _kink_note(u, x, self.partial)
        return _Applied("piecewise", sp.Piecewise(*pieces), text)

    def extremum(self, u: sp.Expr) -> _Applied:
        x = self.x
        is_max = isinstance(u, sp.Max)
        args = sorted(u.args, key=lambda a: (not a.has(x), default_sort_key(a)))
        first, rest = args[0], (args[1] if len(args) == 2 else u.func(*args[1:]))
        condition = first > rest if is_max else first < rest
        rewritten = sp.Piecewise((first, condition), (rest, True))
        name = "max" if is_max else "min"
        tie = ("so at a tie the derivative is the one of " + self.t(rest)
               + (" (0: the convention relu′(0) = 0)" if not rest.has(x) else ""))
        return _Applied(name, _D(rewritten, x),
                        f"{name}(a, b) as a piecewise function: {self.t(first)} where "
                        f"{self.t(condition)}, otherwise {self.t(rest)}; {tie}")


def _kink_note(u: sp.Piecewise, x: sp.Symbol, partial: bool) -> str:
    """Say which piece's derivative is used at each boundary point."""
    boundaries: list[sp.Expr] = []
    for _, condition in u.args:
        if condition is sp.true:
            continue
        for relation in condition.atoms(sp.core.relational.Relational):
            difference = relation.lhs - relation.rhs
            if not difference.has(x):
                continue
            poly = sp.Poly(difference, x) if difference.is_polynomial(x) else None
            if poly is None or poly.degree() != 1:
                continue
            a, b = poly.all_coeffs()
            point = sp.simplify(-b / a)
            if point not in boundaries:
                boundaries.append(point)
    if not boundaries:
        return ("; at a boundary between pieces the derivative is the one of the piece "
                "whose condition holds there")
    derivative = sp.Piecewise(*[(sp.diff(expr, x), cond) for expr, cond in u.args])
    notes = []
    for point in sorted(boundaries, key=default_sort_key):
        value = derivative.subs(x, point)
        if isinstance(value, sp.Piecewise):
            notes.append(f"at {_text(x)} = {_text(point, partial)} the derivative is the "
                         "one of the piece whose condition holds there")
        else:
            notes.append(f"at {_text(x)} = {_text(point, partial)}, where the function has a "
                         f"kink, the piece whose condition holds gives the derivative "
                         f"{_text(value, partial)}")
    return "; " + "; ".join(notes)


# --------------------------------------------------------------------------
# Textbook form
# --------------------------------------------------------------------------

_NEUTRAL_COEFFICIENTS = (sp.S.One, sp.S.NegativeOne)
#: the functions a textbook form may introduce (named primitives)
_NAMED = (sigmoid, softplus, ndtr, gauss, softmax_component)
#: above this many operations, skip SymPy's (slow) ``simplify``
_SIMPLIFY_MAX_OPS = 30
#: e^(k·u) with |k| up to this is rewritten with σ(u)
_MAX_EXP_MULTIPLE = 3
#: above this integer power, skip the expanding rewrites (cancel, factor)
_MAX_EXPANDED_POWER = 24


def _has_large_power(expr: sp.Expr) -> bool:
    return any(p.exp.is_Integer and abs(p.exp) > _MAX_EXPANDED_POWER
               for p in expr.atoms(sp.Pow)) or any(
        abs(c) > _MAX_EXPANDED_POWER for e in expr.atoms(sp.exp)
        for c in [e.args[0].as_coeff_Mul()[0]] if c.is_Number)


def _flip_signs(expr: sp.Expr) -> sp.Expr:
    """``−σ·(σ − 1)`` → ``σ·(1 − σ)``: absorb a leading minus into a factor."""
    if not expr.is_Mul:
        return expr
    coefficient, factors = expr.as_coeff_mul()
    if not coefficient.is_negative:
        return expr
    factors = list(factors)
    for i, factor in enumerate(factors):
        if factor.is_Add:
            factors[i] = -factor
            return sp.Mul(-coefficient, *factors)
    return expr


def _function_kinds(expr: sp.Expr) -> set[type]:
    return {type(f) for f in expr.atoms(sp.Function)}


def _measure(expr: sp.Expr, original: sp.Expr | None = None) -> tuple[int, int]:
    """Operations, plus penalties for awkward primitive arguments (φ(√2·x),
    σ(−x)) and for functions the original did not have (cosh for 1 − tanh²);
    then, among equals, the fewer numeric coefficients (``2·(ŷ − y)`` rather
    than ``2·ŷ − 2·y``)."""
    score = int(sp.count_ops(expr))
    for node in sp.preorder_traversal(expr):
        if isinstance(node, Primitive):
            coefficient, _ = node.args[0].as_coeff_Mul()
            if coefficient not in _NEUTRAL_COEFFICIENTS:
                score += 3
            elif coefficient.is_negative:
                score += 1
    if original is not None:
        new = _function_kinds(expr) - _function_kinds(original)
        score += 3 * len([kind for kind in new if not issubclass(kind, _NAMED)])
    numbers = sum(1 for node in sp.preorder_traversal(expr)
                  if node.is_Number and node not in _NEUTRAL_COEFFICIENTS)
    return score, numbers


def _exp_bases(expr: sp.Expr) -> list[sp.Expr]:
    bases: list[sp.Expr] = []
    for node in expr.atoms(sp.exp):
        coefficient, rest = node.args[0].as_coeff_Mul()
        if not (coefficient.is_Integer and abs(coefficient) <= _MAX_EXP_MULTIPLE):
            return []  # e^(10000·x) is no sigmoid
        if rest not in bases and -rest not in bases:
            bases.append(rest)
    return bases


def _with_sigmoid(expr: sp.Expr, base: sp.Expr) -> sp.Expr:
    """Replace ``e^(k·base)`` by ``(σ/(1 − σ))^k`` with ``σ = σ(base)``."""
    s = sigmoid(base)

    def replace(node):
        coefficient, rest = node.args[0].as_coeff_Mul()
        if coefficient.is_Integer:
            if rest == base:
                return (s / (1 - s)) ** coefficient
            if rest == -base:
                return ((1 - s) / s) ** coefficient
        return node

    return expr.replace(lambda e: isinstance(e, sp.exp), replace)


def _is_exp_rational(factor: sp.Expr) -> bool:
    """An exponential, or a sum of numbers and exponentials, to any power."""
    base = factor.base if factor.is_Pow and factor.exp.is_Integer else factor
    if isinstance(base, sp.exp):
        return True
    if base.is_Add:
        return all(t.is_number or isinstance(t, sp.exp)
                   or (t.is_Mul and len(t.args) == 2 and t.args[0].is_number
                       and isinstance(t.args[1], sp.exp)) for t in base.args) and base.has(sp.exp)
    return False


def _local_sigmoid(expr: sp.Expr) -> sp.Expr:
    """In each product, rewrite the factors that are rational in ``e^u`` with
    σ(u) where that is simpler: ``x·eˣ/(1 + eˣ)`` → ``x·σ(x)``, leaving the
    other factors as they are."""

    def rewrite(product: sp.Expr) -> sp.Expr:
        part = [f for f in product.args if _is_exp_rational(f)]
        if not part or not any(f.is_Pow and f.exp.is_negative for f in part):
            return product
        rest = [f for f in product.args if f not in part]
        exponential = sp.Mul(*part)
        best, score = exponential, _measure(exponential)
        for base in _exp_bases(exponential):
            for b in (base, -base):
                form = _flip_signs(sp.factor(sp.cancel(_with_sigmoid(exponential, b))))
                if not form.has(sp.exp) and _measure(form) < score:
                    best, score = form, _measure(form)
        return sp.Mul(*rest) * best

    return expr.replace(lambda e: e.is_Mul, rewrite)


def _with_gaussians(expr: sp.Expr) -> sp.Expr:
    """``erf(u) → 2Φ(√2·u) − 1``, ``e^(−v²/2) → √(2π)·φ(v)``."""
    def exp_to_gauss(node):
        argument = node.args[0]
        coefficient, _ = argument.as_coeff_Mul()
        if not coefficient.is_negative:
            return node
        v = sp.sqrt(-2 * argument).replace(sp.Abs, lambda a: a)
        if any(p.exp.is_Rational and not p.exp.is_Integer for p in v.atoms(sp.Pow)
               if p.has(*argument.free_symbols)):
            return node
        return sp.sqrt(2 * sp.pi) * gauss(v)

    out = expr.replace(lambda e: isinstance(e, sp.erf),
                       lambda e: 2 * ndtr(sp.sqrt(2) * e.args[0]) - 1)
    out = out.replace(lambda e: isinstance(e, sp.erfc),
                      lambda e: 2 * ndtr(-sp.sqrt(2) * e.args[0]))
    return out.replace(lambda e: isinstance(e, sp.exp), exp_to_gauss)


def _with_softplus(expr: sp.Expr) -> sp.Expr:
    def replace(node):
        argument = node.args[0]
        if argument.is_Add and len(argument.args) == 2 and sp.S.One in argument.args:
            other = argument.args[0] if argument.args[1] == 1 else argument.args[1]
            if isinstance(other, sp.exp):
                return softplus(other.args[0])
        return node

    return expr.replace(lambda e: isinstance(e, sp.log), replace)


def _with_abs(expr: sp.Expr) -> sp.Expr:
    """``u·sign(u)`` → ``|u|``, ``uᵏ·sign(u)`` → ``uᵏ⁻¹·|u|`` (for real u).

    >>> x = sp.Symbol("x", real=True)
    >>> _with_abs(x**2 * sp.sign(x) + 2 * x * sp.Abs(x))
    3*x*Abs(x)
    """
    def rewrite(product: sp.Expr) -> sp.Expr:
        factors = list(product.args)
        for factor in factors:
            if isinstance(factor, sp.sign) and factor.args[0].is_real:
                inner = factor.args[0]
                if inner in factors:
                    factors.remove(factor)
                    factors.remove(inner)
                    return sp.Mul(*factors, sp.Abs(inner))
                for power in factors:  # x²·sign(x) (d/dx of x²·|x|): x·|x|
                    if isinstance(power, sp.Pow) and power.base == inner and power.exp.is_Integer \
                            and power.exp > 1:
                        factors.remove(factor)
                        factors.remove(power)
                        return sp.Mul(*factors, inner ** (power.exp - 1), sp.Abs(inner))
        return product

    return expr.replace(lambda e: e.is_Mul, rewrite)


def _best(candidates: Sequence[sp.Expr], original: sp.Expr) -> sp.Expr:
    """The simplest candidate; the earliest among equals."""
    return min(enumerate(candidates), key=lambda ic: (_measure(ic[1], original), ic[0]))[1]


def _textbook_candidates(expr: sp.Expr) -> sp.Expr:
    """Cheap forms first (named primitives, cancel, factor), then ``simplify``
    on the best of them when it is small enough for that to be quick."""
    if _has_large_power(expr):
        # (x + 1)^1000: expanding rewrites would only make it longer
        factored = sp.factor_terms(expr)
        return _best([expr, factored, _flip_signs(factored)], expr)
    named = _with_abs(_local_sigmoid(_with_softplus(expr)))
    candidates = [expr, named]
    for base in (expr, named):
        factored = sp.factor_terms(base)
        candidates += [factored, _flip_signs(factored)]
    for base in _exp_bases(named):
        for b in (base, -base):
            rewritten = _with_sigmoid(named, b)
            if not rewritten.has(sp.exp):
                form = sp.cancel(rewritten)
                candidates += [_flip_signs(sp.factor(form)), form]
    if named.has(sp.erf, sp.erfc, sp.exp):
        gaussian = _with_gaussians(named)
        if gaussian != named:
            candidates += [sp.expand(gaussian), sp.factor_terms(sp.expand(gaussian))]
    best = _best(candidates, expr)
    for transform in (sp.cancel, sp.factor):
        form = transform(best)
        candidates += [_flip_signs(form), form]
    best = _best(candidates, expr)
    if _measure(best)[0] <= _SIMPLIFY_MAX_OPS and not best.has(sp.Piecewise):
        form = sp.simplify(best)
        candidates += [_flip_signs(form), form]
    return _best(candidates, expr)


def _textbook_form(expr: sp.Expr, timeout: float | None) -> tuple[sp.Expr, str | None]:
    """The simplest equivalent form found within ``timeout`` seconds."""
    if expr.has(sp.Derivative):
        return expr, None
    started = time.monotonic()

    def attempt() -> sp.Expr:
        try:
            return _textbook_candidates(expr)
        except (ValueError, TypeError, ArithmeticError, NotImplementedError,
                RecursionError, sp.PolynomialError):
            return expr  # a rewrite SymPy refused: keep the rule-based result

    finished, form = run_with_time_limit(attempt, timeout)
    if not finished or form is None:
        elapsed = time.monotonic() - started
        return expr, (f"simplification stopped after {elapsed:.2g} s (bound {timeout} s); "
                      "the derivative is shown unsimplified (it is still verified)")
    return form, None


def _name_softmax(expr: sp.Expr, vector: Sequence[sp.Symbol]) -> sp.Expr:
    """Write ``e^{z_j}/Σ e^{z_k}`` as the softmax component ``p_j``."""
    total = sp.Add(*[sp.exp(v) for v in vector])
    if not expr.has(total):
        return expr
    s = sp.Dummy("S", positive=True)
    ps = {v: sp.Dummy(f"p_{v}", positive=True) for v in vector}
    work = expr.xreplace({total: s})

    def replace(node):
        terms = node.args[0].as_coefficients_dict()
        if all(t in ps and c.is_Integer and c > 0 for t, c in terms.items()):
            return sp.Mul(*[(ps[t] * s) ** c for t, c in terms.items()])
        return node

    work = work.replace(lambda e: isinstance(e, sp.exp), replace)
    work = sp.cancel(work)
    if work.has(s) or work.has(sp.exp):
        return expr
    work = _best([_flip_signs(sp.factor(work)), sp.factor(work), work, sp.expand(work)], work)
    return work.xreplace({p: softmax_component(v, *vector) for v, p in ps.items()})


# --------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------


@dataclass
class _Run:
    """Accumulates steps for one derivation."""

    checker: _Checker
    partial: bool
    steps: list[Step] = field(default_factory=list)
    _derivatives: dict = field(default_factory=dict)

    def evaluate(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with every pending derivative worked out by SymPy (cached:
        a pending derivative usually stays pending for many steps)."""
        pending = expr.atoms(sp.Derivative)
        if not pending:
            return expr
        for node in pending:
            if node not in self._derivatives:
                self._derivatives[node] = _jumps(node.doit())
        return expr.xreplace({node: self._derivatives[node] for node in pending})

    def record(self, *, rule: str, title: str, target: sp.Expr, result: sp.Expr,
               justification: str, current: sp.Expr, lhs: sp.Expr, order: int,
               outer_rule: str | None = None,
               substitution: tuple[sp.Symbol, sp.Expr] | None = None,
               check: sp.Expr | None = None) -> Step:
        plain = _plain(self.evaluate(current if check is None else check))
        method = self.checker.check(plain, title)
        step = Step(rule=rule, title=title, target=target, result=result,
                    justification=justification, current=current, verified_by=method,
                    lhs=lhs, outer_rule=outer_rule, substitution=substitution, order=order)
        self.steps.append(step)
        return step


def _pending(expr: sp.Expr, final: set) -> sp.Derivative | None:
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Derivative) and node not in final:
            return node
    return None


def _work_out(run: _Run, current: sp.Expr, x: sp.Symbol, lhs: sp.Expr, order: int,
              names: set[str]) -> sp.Expr:
    """Apply rules until no derivative is pending; record and verify each."""
    rules = _Rules(x, names, run.partial)
    # derivatives SymPy itself leaves unevaluated (of an undefined f(x)): final
    final: set = set()
    for _ in range(_MAX_STEPS):
        node = _pending(current, final)
        if node is None:
            return current
        if node.variables != (x,):
            applied = _Applied("sympy", node.doit(),
                               f"derivative {_text(node)} taken from SymPy")
        else:
            applied = rules.apply(node.expr)
        if applied.rule == "sympy":
            final |= applied.replacement.atoms(sp.Derivative)
        current = current.xreplace({node: applied.replacement})
        run.record(rule=applied.rule, title=applied.title, target=node.expr,
                   result=applied.replacement, justification=applied.justification,
                   current=current, lhs=lhs, order=order, outer_rule=applied.outer_rule,
                   substitution=applied.substitution)
    raise StepVerificationError(f"more than {_MAX_STEPS} steps: the expression is too large")


def _textbook_step(run: _Run, current: sp.Expr, lhs: sp.Expr, order: int,
                   timeout: float | None, notes: list[str],
                   target: sp.Expr | None = None) -> sp.Expr:
    form, note = _textbook_form(current, timeout)
    if note:
        notes.append(note)
    if form != current:
        run.record(rule="textbook form", title="textbook form",
                   target=current if target is None else target, result=form,
                   justification="rewrite in textbook form: "
                   + _textbook_reason(current, form), current=form, lhs=lhs, order=order)
    return form


def _textbook_reason(before: sp.Expr, after: sp.Expr) -> str:
    reasons = []
    named = [cls for cls in (sigmoid, softplus, ndtr, gauss)
             if after.has(cls) and not before.has(cls)]
    symbols = {sigmoid: "σ(u) = 1/(1 + e^(−u))", softplus: "softplus(u) = ln(1 + eᵘ)",
               ndtr: "Φ(u) = (1 + erf(u/√2))/2", gauss: "φ(u) = e^(−u²/2)/√(2π)"}
    if named:
        reasons.append("name " + ", ".join(symbols[c] for c in named))
    if after.has(softmax_component) and not before.has(softmax_component):
        reasons.append("name the softmax components p_k = e^(z_k)/Σ_m e^(z_m)")
    reasons.append("collect, cancel and factor")
    return "; ".join(reasons)


def _realify(expr: sp.Expr) -> tuple[sp.Expr, dict[sp.Symbol, sp.Symbol]]:
    mapping = {s: sp.Symbol(s.name, real=True) for s in expr.free_symbols
               if isinstance(s, sp.Symbol) and not isinstance(s, sp.Dummy)
               and s.is_real is not True}
    return (expr.xreplace(mapping) if mapping else expr), mapping


def _resolve(variable: sp.Symbol | str, expr: sp.Expr, mapping: dict) -> sp.Symbol:
    if isinstance(variable, str):
        from .parsing import parse_variables

        (symbol,) = parse_variables(variable)
        for s in expr.free_symbols:
            if isinstance(s, sp.Symbol) and s.name == symbol.name:
                return s
        return symbol
    if not isinstance(variable, sp.Symbol):
        raise TypeError(f"can only differentiate with respect to a symbol, not {variable!r}")
    return mapping.get(variable, variable if variable.is_real else
                       sp.Symbol(variable.name, real=True))


def derivation_steps(
    expr: sp.Expr | str,
    wrt: sp.Symbol | str | Sequence[sp.Symbol | str],
    *,
    order: int = 1,
    simplify_timeout: float | None = 5.0,
    verify_timeout: float | None = 2.0,
    seed: int = 0,
) -> Derivation | Gradient:
    """Differentiate ``expr`` step by step, verifying every step.

    Parameters
    ----------
    expr : sympy.Expr or str
        The expression; a string is parsed with
        :func:`derive.parsing.parse_expression` (never evaluated).  Symbols
        without assumptions are treated as real.
    wrt : Symbol, str or sequence of them
        The variable; a tuple or list gives a :class:`Gradient` holding one
        derivation per variable.
    order : int
        1 for the first derivative, 2 to differentiate the result again
        (both passes' steps are recorded), up to 4.
    simplify_timeout : float or None
        Seconds allowed for bringing a result into textbook form; past it
        the result is kept unsimplified and a note says so.
    verify_timeout : float or None
        Seconds allowed for each symbolic proof before the numeric one.
    seed : int
        Seed of the random points of numeric proofs.

    Returns
    -------
    Derivation or Gradient

    Raises
    ------
    StepVerificationError
        If a step cannot be proven (a bug in a rule; never expected).

    Examples
    --------
    >>> d = derivation_steps("tanh(w*x + b)", "x")
    >>> d.result
    w*(1 - tanh(b + w*x)**2)
    >>> d.rules
    ['chain', 'tanh', 'sum', 'constant multiple']
    >>> d.steps[0].substitution
    (u, b + w*x)
    >>> derivation_steps("x^3", "x", order=2).result
    6*x
    """
    if isinstance(expr, str):
        from .parsing import parse_expression

        expr = parse_expression(expr)
    if isinstance(expr, (int, float)) and not isinstance(expr, bool):
        expr = sp.Integer(expr) if isinstance(expr, int) else sp.Float(expr)
    if not isinstance(expr, sp.Expr):
        raise TypeError(f"expected a SymPy expression, got {type(expr).__name__}")
    if not isinstance(order, int) or not 1 <= order <= 4:
        raise ValueError(f"order must be an integer from 1 to 4, got {order!r}")
    expr, mapping = _realify(expr)
    if isinstance(wrt, (list, tuple)):
        if not wrt:
            raise ValueError("no variable to differentiate with respect to")
        variables = tuple(_resolve(v, expr, mapping) for v in wrt)
        derivations = tuple(
            _derive(expr, v, order=order, simplify_timeout=simplify_timeout,
                    verify_timeout=verify_timeout, seed=seed, partial=True)
            for v in variables)
        return Gradient(expr, variables, derivations)
    x = _resolve(wrt, expr, mapping)
    return _derive(expr, x, order=order, simplify_timeout=simplify_timeout,
                   verify_timeout=verify_timeout, seed=seed, partial=False)


def _derive(expr: sp.Expr, x: sp.Symbol, *, order: int, simplify_timeout: float | None,
            verify_timeout: float | None, seed: int, partial: bool, name: str | None = None,
            lhs: sp.Expr | None = None, first: Callable[[_Run], sp.Expr] | None = None,
            textbook: sp.Expr | None = None, notes: Sequence[str] = ()) -> Derivation:
    names = {s.name for s in expr.free_symbols}
    plain = _plain(expr)
    all_notes = list(notes)
    current_function = expr
    steps: list[Step] = []
    result = expr
    for n in range(1, order + 1):
        reference = _reference(plain, x, n)
        run = _Run(_Checker(reference, timeout=verify_timeout, seed=seed + n),
                   partial)
        this_lhs = lhs if (lhs is not None and n == 1) else sp.Derivative(expr, (x, n))
        if n == 1 and first is not None:
            current = first(run)
        else:
            current = sp.Derivative(current_function, x)
        current = _work_out(run, current, x, this_lhs, n, names)
        if n == order and textbook is not None:
            if textbook != current:
                run.record(rule="textbook form", title="textbook form", target=current,
                           result=textbook,
                           justification="rewrite in the catalogue's textbook form: "
                           + _textbook_reason(current, textbook),
                           current=textbook, lhs=this_lhs, order=n)
            result = textbook
        else:
            result = _textbook_step(run, current, this_lhs, n, simplify_timeout, all_notes)
        steps.extend(run.steps)
        current_function = result
    raw = sp.diff(expr, x, order)
    return Derivation(expr=expr, wrt=x, steps=tuple(steps), result=result, raw=raw,
                      order=order, name=name, lhs=lhs if order == 1 else None,
                      notes=tuple(all_notes), partial=partial)


# --------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------


def _vector(symbol: sp.Symbol, size: int = VECTOR_SIZE) -> list[sp.Symbol]:
    return [sp.Symbol(f"{symbol.name}_{k}", **symbol.assumptions0) for k in range(1, size + 1)]


def catalogue_steps(name: str, *, verify_timeout: float | None = 2.0,
                    simplify_timeout: float | None = 10.0) -> Derivation:
    """The verified step-by-step derivative of a catalogue entry.

    * activations: ``d/dx f(x)``, parameters kept as symbols;
    * losses: ``∂L/∂ŷ`` where ``L = (1/N)·Σ ℓ`` is the mean over every
      element (or every row), so the gradient is ``ℓ′/N``; row losses at
      size 3, for the first component;
    * vector maps: ``∂p₁/∂z₁`` and ``∂p₁/∂z₂`` at size 3, then the
      vector–Jacobian product ``(gᵀJ)₁`` and its vector form.

    The last step is the catalogue's textbook form when the entry states
    one, proven equal like every other step.

    Examples
    --------
    >>> d = catalogue_steps("sigmoid")
    >>> d.result
    (1 - sigmoid(x))*sigmoid(x)
    >>> d.complete
    True
    >>> catalogue_steps("mse").result
    2*(-y + yhat)/N
    """
    from .catalogue import N, get

    entry = get(name)
    if entry.kind == "activation":
        return _activation_steps(entry, verify_timeout, simplify_timeout)
    if entry.kind == "loss":
        return _loss_steps(entry, N, verify_timeout, simplify_timeout)
    if entry.kind == "vector_map":
        return _vector_map_steps(entry, verify_timeout, simplify_timeout)
    raise ValueError(f"no derivation for entries of kind {entry.kind!r}")  # pragma: no cover


def _entry_notes(entry) -> list[str]:
    notes = []
    if entry.conventions:
        notes.append(f"Convention: {entry.conventions}.")
    if entry.params:
        defaults = ", ".join(f"{_text(p.symbol)} = {_text(sp.sympify(p.default))}"
                             for p in entry.params)
        notes.append(f"Parameters kept as symbols (defaults {defaults}).")
    return notes


def _activation_steps(entry, verify_timeout, simplify_timeout) -> Derivation:
    x = entry.variable
    f = sp.Function(entry.name)(x)
    lhs = sp.Derivative(f, x)

    def first(run: _Run) -> sp.Expr:
        current = sp.Derivative(entry.definition, x)
        run.record(rule="definition", title="definition", target=f, result=entry.definition,
                   justification=f"definition: {_text(f)} = {_text(entry.definition)}",
                   current=current, lhs=lhs, order=1)
        return current

    return _derive(entry.definition, x, order=1, simplify_timeout=simplify_timeout,
                   verify_timeout=verify_timeout, seed=0, partial=False, name=entry.name,
                   lhs=lhs, first=first, textbook=entry.textbook, notes=_entry_notes(entry))


def _loss_steps(entry, N, verify_timeout, simplify_timeout) -> Derivation:
    pred, target = entry.variables[0], entry.variables[1]
    row = entry.reduction == "mean_rows"
    notes = _entry_notes(entry)
    if row:
        preds, targets = _vector(pred), _vector(target)
        vectors = {pred: preds, target: targets}
        ell = components(entry.definition, vectors, 0)
        x = preds[0]
        lhs = sp.Derivative(_label("L", "L", "L"), x)
        over = "rows"
        term = f"ℓ = {_text(ell)} (one row, size {VECTOR_SIZE})"
    else:
        ell = entry.definition
        x = pred
        lhs = sp.Derivative(_label("L", "L", "L"), x)
        over = "elements"
        term = f"ℓ = {_text(ell)}"
    expr = ell / N

    def first(run: _Run) -> sp.Expr:
        current = sp.Derivative(ell, x) / N
        run.record(rule="mean", title="mean over the batch", target=expr, result=current,
                   justification=f"L = (1/N)·Σᵢ ℓᵢ is the mean over the N {over}, with "
                   f"{term}; only the term of this {over[:-1]} depends on {_text(x)}, so "
                   f"∂L/∂{_text(x)} = (1/N)·∂ℓ/∂{_text(x)}",
                   current=current, lhs=lhs, order=1)
        return current

    if not row:
        return _derive(expr, x, order=1, simplify_timeout=simplify_timeout,
                       verify_timeout=verify_timeout, seed=0, partial=True, name=entry.name,
                       lhs=lhs, first=first, textbook=entry.textbook, notes=notes)

    # Row losses: component form, the targets' constraint if needed, vector form.
    reference = sp.diff(_plain(expr), x)
    run = _Run(_Checker(reference, timeout=verify_timeout), True)
    current = first(run)
    current = _work_out(run, current, x, lhs, 1, {s.name for s in expr.free_symbols})
    named = _name_softmax(current, preds)
    if named != current:
        run.record(rule="textbook form", title="name the softmax", target=current,
                   result=named, justification="rewrite in textbook form: name the softmax "
                   f"components p_k = e^(ŷ_k)/Σ_m e^(ŷ_m) (softmax of the logits ŷ), cancel",
                   current=named, lhs=lhs, order=1)
        current = named
    else:
        current = _textbook_step(run, current, lhs, 1, simplify_timeout, notes)
    textbook = entry.textbook
    if textbook is not None:
        textbook_component = components(textbook, vectors, 0)
        if entry.target_kind == "distribution":
            if not _numerically_equal(_plain(textbook_component), reference, seed=1):
                sum_text = " + ".join(_text(t) for t in targets) + " = 1"
                constraint = {targets[-1]: 1 - sp.Add(*targets[:-1])}
                p1 = softmax_component(preds[0], *preds)
                collected = sp.collect(sp.expand(N * current), p1) / N
                if collected != current:
                    run.record(rule="textbook form", title="collect", target=current,
                               result=collected,
                               justification=f"collect the terms in {_text(p1)}",
                               current=collected, lhs=lhs, order=1)
                    current = collected
                run.checker = run.checker.with_constraint(constraint, sum_text)
                simplified = sp.factor_terms(sp.expand(current.subs(constraint)))
                run.record(rule="targets sum to 1", title="targets sum to 1",
                           target=current, result=simplified,
                           justification=f"the targets of a row are a distribution: {sum_text}",
                           current=simplified, lhs=lhs, order=1)
                current = simplified
        vector_lhs = sp.Derivative(_label("L", "L", "L"), pred)
        run.record(rule="vector form", title="vector form", target=current,
                   result=textbook, check=textbook_component,
                   justification="the same holds for every component k, so in vector "
                   f"form (over the last axis): ∂L/∂{_text(pred)} = {_text(textbook, True)}",
                   current=textbook, lhs=vector_lhs, order=1)
        result = textbook
        lhs = vector_lhs
    else:  # pragma: no cover - every row loss of the catalogue states its textbook form
        result = current
    return Derivation(expr=expr, wrt=x, steps=tuple(run.steps), result=result,
                      raw=sp.diff(expr, x), order=1, name=entry.name, lhs=lhs,
                      notes=tuple(notes), partial=True)


def _vector_map_steps(entry, verify_timeout, simplify_timeout) -> Derivation:
    from .catalogue import g

    z = entry.variable
    zs, gs = _vector(z), _vector(g)
    vectors = {z: zs}
    outputs = [components(entry.definition, vectors, k) for k in range(VECTOR_SIZE)]
    is_softmax = entry.name == "softmax"
    label = "p" if is_softmax else entry.name
    out_label = _label(
        f"{entry.name}_1",
        "p₁" if is_softmax else f"{entry.name}(z)₁",
        "p_{1}" if is_softmax else rf"\operatorname{{{entry.name}}}(z)_{{1}}")
    notes = _entry_notes(entry)
    steps: list[Step] = []
    jacobian_forms: dict[str, sp.Expr] = {}
    names = {s.name for s in zs}
    for key, variable in (("diagonal", zs[0]), ("off-diagonal", zs[1])):
        lhs = sp.Derivative(out_label, variable)
        reference = sp.diff(outputs[0], variable)
        run = _Run(_Checker(reference, timeout=verify_timeout), True)
        if not steps:
            current = sp.Derivative(outputs[0], variable)
            run.record(rule="definition", title="definition", target=out_label,
                       result=outputs[0],
                       justification=f"component 1 of {entry.name}(z) at size {VECTOR_SIZE}: "
                       f"{_text(out_label)} = {_text(outputs[0])}",
                       current=current, lhs=lhs, order=1)
        else:
            current = sp.Derivative(outputs[0], variable)
        current = _work_out(run, current, variable, lhs, 1, names)
        form = _name_softmax(current, zs)
        form, _ = _textbook_form(form, simplify_timeout)
        if form != current:
            run.record(rule="textbook form", title="textbook form", target=current,
                       result=form, justification="rewrite in textbook form: "
                       + _textbook_reason(current, form), current=form, lhs=lhs, order=1)
        jacobian_forms[key] = form
        steps.extend(run.steps)

    # The vector–Jacobian product, component 1: (gᵀJ)_1 = Σ_j g_j ∂out_j/∂z_1.
    vjp_label = _label(f"{entry.name}_vjp_1", "(gᵀJ)₁", r"\left(g^{\top} J\right)_{1}")
    raw = sp.Add(*[gs[j] * sp.diff(outputs[j], zs[0]) for j in range(VECTOR_SIZE)])
    run = _Run(_Checker(raw, timeout=verify_timeout), True)

    def relabel(expr: sp.Expr, j: int, k: int) -> sp.Expr:
        """The entry ∂out_j/∂z_k from ∂out_1/∂z_1 or ∂out_1/∂z_2 by symmetry."""
        others = [i for i in range(VECTOR_SIZE) if i not in (j, k)]
        order = [j, k] + others if j != k else [j] + [i for i in range(VECTOR_SIZE) if i != j]
        mapping = {zs[i]: zs[order[i]] for i in range(VECTOR_SIZE)}
        return expr.xreplace(mapping)

    entries = [relabel(jacobian_forms["diagonal"], 0, 0)] + [
        relabel(jacobian_forms["off-diagonal"], j, 0) for j in range(1, VECTOR_SIZE)]
    current = sp.Add(*[gs[j] * entries[j] for j in range(VECTOR_SIZE)])
    run.record(rule="vjp", title="vector-Jacobian product", target=sp.Matrix(outputs),
               result=current,
               justification="backprop needs gᵀJ, not J: (gᵀJ)₁ = Σⱼ gⱼ·∂"
               f"{label}ⱼ/∂z₁, with ∂{label}₁/∂z₁ from above and ∂{label}ⱼ/∂z₁ (j ≠ 1) "
               "from ∂₁/∂z₂ by relabelling the components",
               current=current, lhs=vjp_label,
               order=1)
    collected = _collect_vjp(current, gs, zs)
    vector_label = _label(f"{entry.name}_vjp", "gᵀJ", r"g^{\top} J")
    if collected != current:
        run.record(rule="textbook form", title="collect", target=current, result=collected,
                   justification="collect the terms: factor out what every term shares",
                   current=collected, lhs=vjp_label, order=1)
        current = collected
    textbook = entry.textbook
    textbook_component = components(textbook, {z: zs, g: gs}, 0)
    run.record(rule="vector form", title="vector form", target=current, result=textbook,
               check=textbook_component,
               justification="the same holds for every component k, so in vector form "
               f"(over the last axis, never building J): gᵀJ = {_text(textbook, True)}",
               current=textbook, lhs=vector_label, order=1)
    steps.extend(run.steps)
    expr = outputs[0]
    return Derivation(expr=expr, wrt=zs[0], steps=tuple(steps), result=textbook, raw=raw,
                      order=1, name=entry.name, lhs=vector_label, notes=tuple(notes),
                      partial=True)


def _collect_vjp(expr: sp.Expr, gs: Sequence[sp.Symbol], zs: Sequence[sp.Symbol]) -> sp.Expr:
    """Collect a VJP component the way a textbook writes it.

    ``g₁p₁(1 − p₁) − g₂p₁p₂ − g₃p₁p₃`` → ``p₁·(g₁ − (g₁p₁ + g₂p₂ + g₃p₃))`` and
    ``g₁(1 − p₁) − g₂p₁ − g₃p₁`` → ``g₁ − p₁·(g₁ + g₂ + g₃)``.  The grouping
    is kept unevaluated so that it shows; the step is verified as usual.
    """
    p1 = softmax_component(zs[0], *zs)
    expanded = sp.expand(expr)
    free = sp.Add(*[t for t in sp.Add.make_args(expanded) if not t.has(p1)])
    shared = sp.expand((expanded - free) / p1)
    if free == 0:
        linear = [t for t in sp.Add.make_args(shared) if t in gs]
        others = sp.expand(-(shared - sp.Add(*linear)))
        if len(linear) == 1 and all(t.could_extract_minus_sign() is False
                                    for t in sp.Add.make_args(others)):
            group = sp.Add(linear[0], sp.Mul(-1, others, evaluate=False), evaluate=False)
            return sp.Mul(p1, group, evaluate=False)
    elif free in gs:
        negated = sp.expand(-shared)
        if all(t in gs for t in sp.Add.make_args(negated)):
            return sp.Add(free, sp.Mul(-1, p1, negated, evaluate=False), evaluate=False)
    return sp.factor_terms(expr)


__all__ = [
    "Step",
    "Derivation",
    "Gradient",
    "StepVerificationError",
    "derivation_steps",
    "catalogue_steps",
    "run_with_time_limit",
    "softmax_component",
]
