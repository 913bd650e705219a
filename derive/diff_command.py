"""``nnderive diff EXPR --wrt VAR``: the derivative of a user's expression.

This module holds the sub-command so that :mod:`derive.cli` only has to wire
it in::

    sub = subparsers.add_parser("diff", help="differentiate an expression")
    diff_command.configure_parser(sub)
    sub.set_defaults(func=diff_command.run)

The expression is parsed with :func:`derive.parsing.parse_expression` (never
evaluated as Python) and differentiated by :func:`derive.steps.derivation_steps`,
every step verified.  Bad input prints one line, ``nnderive diff: error: …``,
on stderr and returns 2; there is never a traceback.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="nnderive diff")
>>> configure_parser(parser)
>>> run(parser.parse_args(["x*sin(x)", "--wrt", "x"]))
d/dx[x·sin(x)] = x·cos(x) + sin(x)
0
>>> run(parser.parse_args(["2x", "--wrt", "x"]))
2
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from .parsing import ExpressionError, parse_expression, parse_variables
from .steps import Derivation, Gradient, StepVerificationError, _latex, _text, derivation_steps

FORMATS = ("text", "latex", "markdown", "json")
MAX_ORDER = 4


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``diff`` arguments: ``EXPR``, ``--wrt``, ``--steps``,
    ``--format``, ``--order`` and ``--simplify-timeout``."""
    parser.add_argument("expr", metavar="EXPR",
                        help="the expression, e.g. 'x*sin(x)' or 'tanh(w*x + b)' "
                             "(quote it for the shell; '^' or '**' for powers; put '--' "
                             "before an expression that starts with '-')")
    parser.add_argument("--wrt", metavar="VAR",
                        help="the variable, or several separated by commas for a gradient "
                             "(default: the expression's only variable)")
    parser.add_argument("--steps", action="store_true",
                        help="show every rule applied, each one verified")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="output format (default: text)")
    parser.add_argument("--order", type=int, default=1, metavar="N",
                        help=f"order of the derivative, 1 to {MAX_ORDER} (default: 1)")
    parser.add_argument("--simplify-timeout", type=float, default=5.0, metavar="SECONDS",
                        help="time allowed for simplification; past it the result is shown "
                             "unsimplified (default: 5)")


def _error(message: str, stderr: TextIO) -> int:
    print(f"nnderive diff: error: {message}", file=stderr)
    return 2


def _render(result: Derivation | Gradient, fmt: str, steps: bool) -> str:
    if fmt == "json":
        return result.to_json()
    if steps:
        return {"text": result.to_text, "latex": result.to_latex,
                "markdown": result.to_markdown}[fmt]()
    derivations = list(result) if isinstance(result, Gradient) else [result]
    lines = []
    for d in derivations:
        lhs = d._lhs()
        partial = d.partial
        if fmt == "text":
            lines.append(f"{_text(lhs, partial)} = {_text(d.result, partial)}")
        elif fmt == "latex":
            lines.append(f"{_latex(lhs, partial)} = {_latex(d.result, partial)}")
        else:
            lines.append(f"${_latex(lhs, partial)} = {_latex(d.result, partial)}$")
        lines.extend(f"Note: {note}" for note in d.notes)
    return "\n".join(lines)


def run(args: argparse.Namespace, *, stdout: TextIO | None = None,
        stderr: TextIO | None = None) -> int:
    """Differentiate ``args.expr`` and print it; 0 on success, 2 on bad input."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    fmt = getattr(args, "format", "text") or "text"
    if fmt not in FORMATS:
        return _error(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}", stderr)
    order = getattr(args, "order", 1)
    if not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
        return _error(f"--order must be an integer from 1 to {MAX_ORDER}, got {order!r}",
                      stderr)
    try:
        expr = parse_expression(args.expr)
    except ExpressionError as exc:
        return _error(f"in EXPR: {exc.message} (near {_near(exc)})", stderr)
    wrt_text = getattr(args, "wrt", None)
    try:
        if wrt_text is None:
            free = sorted(expr.free_symbols, key=lambda s: s.name)
            if len(free) != 1:
                names = ", ".join(s.name for s in free) or "none"
                return _error(f"give --wrt VAR: the expression has {len(free)} variables "
                              f"({names})", stderr)
            variables = tuple(free)
        else:
            variables = parse_variables(wrt_text)
    except ExpressionError as exc:
        return _error(f"in --wrt: {exc.message}", stderr)
    present = {s.name for s in expr.free_symbols}
    missing = [v.name for v in variables if v.name not in present]
    if missing and len(missing) == len(variables) and present:
        # Not an error (the derivative is 0) but very likely a typo: say so.
        print(f"nnderive diff: note: {', '.join(missing)} does not occur in the expression "
              f"(its variables: {', '.join(sorted(present))})", file=stderr)
    timeout = getattr(args, "simplify_timeout", 5.0)
    try:
        wrt = variables if len(variables) > 1 else variables[0]
        result = derivation_steps(expr, wrt, order=order, simplify_timeout=timeout)
    except StepVerificationError as exc:  # pragma: no cover - a bug in a rule
        return _error(f"a step could not be verified ({exc}); please report this", stderr)
    except (ValueError, TypeError) as exc:
        return _error(str(exc), stderr)
    except Exception as exc:  # noqa: BLE001 - a one-line error, never a traceback
        print(f"nnderive diff: error: could not differentiate: {type(exc).__name__}: "
              f"{str(exc).splitlines()[0] if str(exc) else ''}", file=stderr)
        return 1
    print(_render(result, fmt, bool(getattr(args, "steps", False))), file=stdout)
    return 0


def _near(exc: ExpressionError) -> str:
    text = exc.text
    start = max(0, exc.position - 10)
    snippet = text[start:exc.position + 10]
    snippet = "".join(c if c.isprintable() else "?" for c in snippet)
    return repr(snippet) if snippet else "the end"


def main(argv: list[str] | None = None) -> int:
    """Run the sub-command on its own: ``python -m derive.diff_command EXPR --wrt x``."""
    parser = argparse.ArgumentParser(prog="nnderive diff",
                                     description="Differentiate an expression, step by step.")
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


__all__ = ["configure_parser", "run", "main", "FORMATS"]
