"""Render: a catalogue entry as plain text, LaTeX or Markdown.

Examples
--------
>>> print(render("softplus", "text").splitlines()[0])
softplus — softplus log(1 + eˣ), a smooth ReLU
>>> "\\\\sigma" in render("sigmoid", "latex")
True
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter

from .calculus import derive
from .catalogue import Entry, get

FORMATS = ("text", "latex", "markdown")

_NAMES = {"sigmoid": "σ", "ndtr": "Φ", "gauss": "φ", "sech2": "sech²", "rowsum": "Σ",
          "logsumexp": "logsumexp", "softmax_complement": "(1 − softmax)"}


class TextPrinter(StrPrinter):
    """Readable Unicode: σ(x), x², ŷ; ``**`` printed as powers."""

    _superscripts = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")

    def _print_Function(self, expr):
        name = _NAMES.get(type(expr).__name__, type(expr).__name__)
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    def _print_Symbol(self, expr):
        return {"yhat": "ŷ", "alpha": "α", "delta": "δ"}.get(expr.name, expr.name)

    def _print_Pow(self, expr, rational=False):
        base, e = expr.as_base_exp()
        if e.is_Integer and e > 1:
            b = self.parenthesize(base, sp.printing.precedence.PRECEDENCE["Pow"])
            if isinstance(base, sp.Function):
                b = self._print(base)
            return b + str(e).translate(self._superscripts)
        return super()._print_Pow(expr, rational)

    def _print_Mul(self, expr):
        return super()._print_Mul(expr).replace("*", "·")

    def _print_Piecewise(self, expr):
        parts = []
        for value, cond in expr.args:
            when = "otherwise" if cond is sp.true else f"if {self._print(cond)}"
            parts.append(f"{self._print(value)} {when}")
        return "{ " + "; ".join(parts) + " }"

    def _print_exp(self, expr):
        return f"exp({self._print(expr.args[0])})"


def text(expr: sp.Expr) -> str:
    """``expr`` as readable Unicode text.

    >>> from sympy import Symbol
    >>> from derive.primitives import sigmoid
    >>> x = Symbol("x")
    >>> text(sigmoid(x) * (1 - sigmoid(x)))
    '(1 - σ(x))·σ(x)'
    """
    return TextPrinter().doprint(expr)


def latex(expr: sp.Expr) -> str:
    """``expr`` as LaTeX (σ for the sigmoid, ŷ for predictions)."""
    return sp.latex(expr, symbol_names={sp.Symbol("yhat", real=True): r"\hat{y}"})


def _lhs(entry: Entry, fmt: str) -> tuple[str, str]:
    if entry.kind == "activation":
        return (f"{entry.name}(x)", f"{entry.name}'(x)") if fmt == "text" else (
            rf"\operatorname{{{_tex_name(entry.name)}}}(x)",
            rf"\operatorname{{{_tex_name(entry.name)}}}'(x)")
    if entry.kind == "vector_map":
        return (f"{entry.name}(z)", f"vjp(z, g) = gᵀJ") if fmt == "text" else (
            rf"\operatorname{{{_tex_name(entry.name)}}}(z)", r"g^\top J")
    if fmt == "text":
        return "ℓ(ŷ, y)", "∂L/∂ŷ"
    return r"\ell(\hat{y}, y)", r"\frac{\partial L}{\partial \hat{y}}"


def _tex_name(name: str) -> str:
    return name.replace("_", r"\_")


def render(name: str, fmt: str = "text") -> str:
    """The definition, textbook derivative, proof and conventions of an entry.

    Parameters
    ----------
    name
        A catalogue name.
    fmt
        ``"text"``, ``"latex"`` or ``"markdown"``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    entry = get(name)
    d = derive(entry)
    f_lhs, d_lhs = _lhs(entry, fmt)
    params = ", ".join(f"{p.name} = {p.default}" for p in entry.params)
    mean = {"mean_elements": "L = (1/N) Σ ℓ over every element",
            "mean_rows": "L = (1/N) Σ ℓ over the rows (Σ over the last axis inside ℓ)",
            "none": ""}[entry.reduction]
    if fmt == "text":
        lines = [f"{entry.name} — {entry.summary}", "",
                 f"  {f_lhs} = {text(entry.definition)}"]
        if mean:
            lines.append(f"  {mean}")
        lines.append(f"  {d_lhs} = {text(d.textbook)}")
        if params:
            lines.append(f"  parameters: {params}")
        if entry.conventions:
            lines.append(f"  convention: {entry.conventions}")
        lines.append(f"  proof: {d.proof}")
        lines.append(f"  code form: {text(d.derivative_code)}"
                     + (f"  (rules: {', '.join(dict.fromkeys(d.derivative_rules))})"
                        if d.derivative_rules else ""))
        if entry.reference:
            lines.append(f"  reference: {entry.reference}")
        return "\n".join(lines)
    definition = rf"{f_lhs} = {latex(entry.definition)}"
    derivative = rf"{d_lhs} = {latex(d.textbook)}"
    if fmt == "latex":
        body = [r"\begin{aligned}", definition + r" \\", derivative, r"\end{aligned}"]
        return "\n".join(body)
    lines = [f"### `{entry.name}` — {entry.summary}", "", f"$${definition}$$", "",
             f"$${derivative}$$", ""]
    if mean:
        lines.append(f"- Reduction: {mean}")
    if params:
        lines.append(f"- Parameters: {params}")
    if entry.conventions:
        lines.append(f"- Convention: {entry.conventions}")
    lines.append(f"- Proof: {d.proof}")
    if entry.reference:
        lines.append(f"- Reference: {entry.reference}")
    return "\n".join(lines)


__all__ = ["render", "text", "latex", "FORMATS", "TextPrinter"]
