r"""Safe parsing of a user's expression strings into SymPy.

Expression strings typed by a user (``nnderive diff "x*sin(x)"``,
``derive.differentiate("tanh(w*x + b)", "x")``) are **never evaluated as
Python**: no ``eval``, no ``exec``, and no :func:`sympy.sympify` or
:func:`sympy.parsing.sympy_parser.parse_expr` (both of which ``eval`` their
input).  Instead a small tokenizer and a recursive-descent parser accept a
restricted grammar and build the SymPy tree node by node::

    expression := sum
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := ("+" | "-") unary | power
    power      := atom (("^" | "**") unary)?        # right-associative
    atom       := NUMBER | NAME | NAME "(" arguments ")" | "(" sum ")"

So ``-x^2`` is ``-(x^2)``, ``2^3^2`` is ``2^(3^2)`` and ``x^-1`` is allowed.
Implicit multiplication is not: ``2x`` is an error that suggests ``2*x``.

* Numbers are exact: ``0.5`` is ``1/2`` and ``1e-3`` is ``1/1000``.
* Names are symbols, created ``real=True`` (so ``abs`` and ``diff`` behave as
  for real variables).  Only ``pi`` (or ``π``) and ``e`` are constants; every
  other name, including ``E``, ``I``, ``S``, ``N``, ``beta``, ``gamma`` and
  ``lambda``, is just a symbol.
* Functions come from :data:`FUNCTIONS`; ``sigmoid``, ``softplus``, ``ndtr``,
  ``gauss`` and ``erfcx`` (e^{x²}·erfc(x)) are the named primitives of
  :mod:`derive.primitives`, and
  ``relu(u)`` is ``Piecewise((u, u > 0), (0, True))``, whose derivative is
  ``Piecewise((1, u > 0), (0, True))``: relu'(0) = 0 as in PyTorch and JAX.
  (``Max(0, u)`` would differentiate to ``Heaviside(u)``, which SymPy leaves
  undefined at 0.)  Every other activation of the catalogue is a function by
  its name, its definition with the default parameters, or those given after
  the argument: ``elu(x)``, ``elu(x, 0.5)``, ``gelu(x)``, ``mish(x)``.
* Limits: the length of the string (:data:`MAX_LENGTH`), the nesting depth of
  parentheses, calls and signs (:data:`MAX_DEPTH`), and the size of exact
  powers (:data:`MAX_POWER_BITS`; ``9**9**9**9`` is rejected at once) and of
  integer exponents of symbolic bases (:data:`MAX_EXPONENT`).

Every problem raises :class:`ExpressionError`, a :class:`ValueError` whose
``position`` is the 0-based offset of the problem and whose message shows it
with a caret.

Examples
--------
>>> parse_expression("x*sin(x)")
x*sin(x)
>>> parse_expression("-x^2 + 0.5*e^x")
-x**2 + exp(x)/2
>>> parse_expression("sigmoid(w*x + b)")
sigmoid(b + w*x)
>>> parse_expression("relu(x)")
Piecewise((x, x > 0), (0, True))
>>> parse_expression("2x")
Traceback (most recent call last):
...
derive.parsing.ExpressionError: implicit multiplication is not allowed at column 2: write '2*x'
  2x
   ^
>>> parse_variables("x, y")
(x, y)
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, Sequence

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from .primitives import erfcx, gauss, ndtr, sigmoid, softplus

#: longest expression string accepted
MAX_LENGTH = 2000
#: deepest nesting of parentheses, function calls, signs and powers
MAX_DEPTH = 100
#: largest exact number a power of two numbers may produce, in bits
MAX_POWER_BITS = 20_000
#: largest integer exponent allowed on a symbolic base (x^1000 is fine)
MAX_EXPONENT = 10_000
#: largest decimal exponent in scientific notation (1e300 is fine)
MAX_SCIENTIFIC_EXPONENT = 400


class ExpressionError(ValueError):
    """An expression string that cannot be parsed safely.

    Attributes
    ----------
    message : str
        What is wrong, on one line, including the column (1-based).
    text : str
        The input.
    position : int
        0-based offset of the problem in ``text``.

    ``str(error)`` is the message followed by the input and a caret under the
    problem (a window of the input when it is long).
    """

    def __init__(self, problem: str, text: str, position: int, hint: str = "") -> None:
        self.problem = problem
        self.text = text
        self.position = max(0, min(position, len(text)))
        self.hint = hint
        message = f"{problem} at column {self.position + 1}"
        if hint:
            message += f": {hint}"
        self.message = message
        super().__init__(message)

    def caret_lines(self, width: int = 72) -> str:
        """The input (or a window of it) with a caret under the problem."""
        text = _printable(self.text)
        start = 0
        if len(text) > width:
            start = max(0, min(self.position - width // 2, len(text) - width))
        shown = text[start:start + width]
        prefix = "…" if start > 0 else ""
        suffix = "…" if start + width < len(text) else ""
        caret = " " * (len(prefix) + self.position - start) + "^"
        return f"  {prefix}{shown}{suffix}\n  {caret}"

    def __str__(self) -> str:
        return f"{self.message}\n{self.caret_lines()}"


def _printable(text: str) -> str:
    """``text`` with line breaks and control characters shown as one cell each."""
    return "".join(c if c.isprintable() else "�" for c in text)


# --------------------------------------------------------------------------
# Functions and constants
# --------------------------------------------------------------------------


def _relu(u: sp.Expr) -> sp.Expr:
    return sp.Piecewise((u, u > 0), (0, True))


@dataclass(frozen=True)
class _Function:
    build: Callable[..., sp.Expr]
    min_args: int = 1
    max_args: int | None = 1


#: the functions a user may call, by name
FUNCTIONS: dict[str, _Function] = {
    "sin": _Function(sp.sin),
    "cos": _Function(sp.cos),
    "tan": _Function(sp.tan),
    "exp": _Function(sp.exp),
    "log": _Function(lambda u, base=None: sp.log(u) if base is None else sp.log(u, base),
                     1, 2),
    "ln": _Function(sp.log),
    "sqrt": _Function(sp.sqrt),
    "abs": _Function(sp.Abs),
    "tanh": _Function(sp.tanh),
    "sinh": _Function(sp.sinh),
    "cosh": _Function(sp.cosh),
    "sech": _Function(sp.sech),
    "asinh": _Function(sp.asinh),
    "acosh": _Function(sp.acosh),
    "atanh": _Function(sp.atanh),
    "asin": _Function(sp.asin),
    "acos": _Function(sp.acos),
    "atan": _Function(sp.atan),
    "log1p": _Function(log1p),
    "expm1": _Function(expm1),
    "erf": _Function(sp.erf),
    "erfc": _Function(sp.erfc),
    "erfcx": _Function(erfcx),
    "sigmoid": _Function(sigmoid),
    "softplus": _Function(softplus),
    "ndtr": _Function(ndtr),
    "gauss": _Function(gauss),
    "relu": _Function(_relu),
    "max": _Function(sp.Max, 2, None),
    "min": _Function(sp.Min, 2, None),
    "sign": _Function(sp.sign),
}

def _catalogue_activation(entry) -> _Function:
    """The catalogue's activation ``entry`` as a function of its argument (and,
    optionally, its parameters in order; their defaults otherwise)."""

    def build(u, *params):
        values = dict(entry.defaults)
        values.update({p.symbol: v for p, v in zip(entry.params, params)})
        return entry.definition.xreplace(values).xreplace({entry.variable: u})

    return _Function(build, 1, 1 + len(entry.params))


def _add_catalogue_activations() -> None:
    """Every activation of the catalogue not named above, by its name: elu(x),
    elu(x, 0.5), selu, gelu, softsign, silu, mish, … (a user's gelu(x) is the
    catalogue's definition, stabilized as everything a user types)."""
    from .catalogue import ENTRIES

    for entry in ENTRIES:
        if entry.kind == "activation" and len(entry.variables) == 1 and entry.name not in FUNCTIONS:
            FUNCTIONS[entry.name] = _catalogue_activation(entry)


_add_catalogue_activations()

#: names that stand for constants rather than symbols
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "π": sp.pi, "e": sp.E}

# Typographic characters accepted as their ASCII meaning.
_ALIASES = {"−": "-", "·": "*", "×": "*", "⋅": "*"}


# --------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # NUMBER NAME OP END
    text: str
    position: int


_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_OPERATORS = ("**", "+", "-", "*", "/", "^", "(", ")", ",")

# Characters that mean the user is writing Python (or something else) rather
# than an expression: each gets its own explanation.
_FORBIDDEN = {
    "'": "strings are not allowed",
    '"': "strings are not allowed",
    "`": "backquotes are not allowed",
    ".": "attribute access is not allowed",
    "[": "indexing and brackets '[ ]' are not allowed; use parentheses for grouping",
    "]": "indexing and brackets '[ ]' are not allowed; use parentheses for grouping",
    "{": "braces are not allowed; use parentheses for grouping",
    "}": "braces are not allowed; use parentheses for grouping",
    "=": "'=' is not allowed: enter an expression, not an assignment or equation",
    "<": "comparisons are not allowed: enter an expression",
    ">": "comparisons are not allowed: enter an expression",
    "!": "'!' is not allowed",
    ";": "';' is not allowed: enter a single expression",
    ":": "':' is not allowed (no lambdas, slices or dictionaries): enter an expression",
    "_": "names may not start with '_'",
    "@": "'@' is not allowed",
    "%": "'%' is not allowed",
    "&": "'&' is not allowed",
    "|": "'|' is not allowed; write abs(x) for the absolute value",
    "~": "'~' is not allowed",
    "#": "comments are not allowed",
    "\\": "backslashes are not allowed",
    "$": "'$' is not allowed",
    "?": "'?' is not allowed",
}


def _is_name_start(c: str) -> bool:
    return c.isalpha()


def _is_name_char(c: str) -> bool:
    return c.isalpha() or (c.isdigit() and c.isascii()) or c == "_"


_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"


def _tokenize(text: str, max_depth: int = MAX_DEPTH) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    depth = 0
    while i < n:
        c = _ALIASES.get(text[i], text[i])
        if c in " \t\r\n":
            i += 1
            continue
        if c.isdigit() and c.isascii() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            match = _NUMBER.match(text, i)
            assert match is not None
            end = match.end()
            if end < n and text[end] == ".":
                raise ExpressionError("malformed number", text, end,
                                      "a number has at most one decimal point")
            tokens.append(_Token("NUMBER", match.group(), i))
            i = end
            continue
        if _is_name_start(c):
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            tokens.append(_Token("NAME", text[i:j], i))
            i = j
            continue
        two = text[i:i + 2]
        if two == "**":
            tokens.append(_Token("OP", "**", i))
            i += 2
            continue
        if c in _OPERATORS:
            if c == "(":
                depth += 1
                if depth > max_depth:
                    raise ExpressionError("parentheses nested too deeply", text, i,
                                          f"at most {max_depth} levels are allowed")
            elif c == ")":
                depth -= 1
            tokens.append(_Token("OP", c, i))
            i += 1
            continue
        if c == "." and tokens and (tokens[-1].kind == "NAME" or tokens[-1].text == ")"):
            raise ExpressionError("attribute access is not allowed", text, i)
        if c in _FORBIDDEN:
            raise ExpressionError(_FORBIDDEN[c], text, i)
        if c in _SUPERSCRIPTS:
            raise ExpressionError(f"superscript {c!r} is not allowed", text, i,
                                  "write powers with '^', e.g. 'x^2'")
        name = unicodedata.name(c, "")
        shown = f"{c!r}" if c.isprintable() else f"U+{ord(c):04X}"
        raise ExpressionError(f"unexpected character {shown}" + (f" ({name})" if name else ""),
                              text, i)
    tokens.append(_Token("END", "", n))
    return tokens


# --------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, max_depth: int, max_power_bits: int,
                 max_exponent: int) -> None:
        self.text = text
        self.tokens = _tokenize(text, max_depth)
        self.index = 0
        self.depth = 0
        self.max_depth = max_depth
        self.max_power_bits = max_power_bits
        self.max_exponent = max_exponent

    # -- helpers -----------------------------------------------------------
    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def error(self, problem: str, position: int | None = None, hint: str = "") -> ExpressionError:
        return ExpressionError(problem, self.text,
                               self.token.position if position is None else position, hint)

    def enter(self, position: int) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise self.error("expression nested too deeply", position,
                             f"at most {self.max_depth} levels of parentheses, calls, "
                             "signs and powers are allowed")

    def leave(self) -> None:
        self.depth -= 1

    def expect(self, text: str, what: str) -> _Token:
        if self.token.kind == "OP" and self.token.text == text:
            return self.advance()
        raise self.error(f"expected {what}, found {self.describe(self.token)}")

    @staticmethod
    def describe(token: _Token) -> str:
        if token.kind == "END":
            return "the end of the expression"
        return f"{token.text!r}"

    # -- grammar -----------------------------------------------------------
    def parse(self) -> sp.Expr:
        if self.token.kind == "END":
            raise self.error("empty expression", 0, "enter an expression such as 'x*sin(x)'")
        expr = self.sum()
        token = self.token
        if token.kind != "END":
            if token.kind == "OP" and token.text == ")":
                raise self.error("unmatched ')'")
            if token.kind == "OP" and token.text == ",":
                raise self.error("unexpected ','",
                                 hint="commas only separate the arguments of a function")
            raise self.implicit_multiplication(token)
        if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise self.error("the expression is undefined or infinite", 0,
                             "it contains a division by zero or log(0)")
        return expr

    def implicit_multiplication(self, token: _Token) -> ExpressionError:
        previous = self.tokens[self.index - 1]
        left = self.text[previous.position:previous.position + len(previous.text)]
        right = token.text
        if previous.kind == "NAME" and token.kind == "NAME" and previous.text in FUNCTIONS:
            return self.error(f"function {previous.text!r} needs parentheses",
                              hint=f"write '{previous.text}({right})'")
        return self.error("implicit multiplication is not allowed",
                          hint=f"write '{left}*{right}'")

    def sum(self) -> sp.Expr:
        terms = [self.product()]
        while self.token.kind == "OP" and self.token.text in "+-":
            op = self.advance()
            term = self.product()
            terms.append(term if op.text == "+" else -term)
        return sp.Add(*terms) if len(terms) > 1 else terms[0]

    def product(self) -> sp.Expr:
        result = self.unary()
        while self.token.kind == "OP" and self.token.text in ("*", "/"):
            op = self.advance()
            operand = self.unary()
            if op.text == "*":
                result = result * operand
            else:
                if operand == 0:
                    raise self.error("division by zero", op.position)
                result = result / operand
        return result

    def unary(self) -> sp.Expr:
        token = self.token
        if token.kind == "OP" and token.text in "+-":
            self.advance()
            self.enter(token.position)
            operand = self.unary()
            self.leave()
            return -operand if token.text == "-" else operand
        return self.power()

    def power(self) -> sp.Expr:
        base = self.atom()
        token = self.token
        if token.kind == "OP" and token.text in ("^", "**"):
            self.advance()
            self.enter(token.position)
            exponent = self.unary()
            self.leave()
            self.check_power(base, exponent, token.position)
            return sp.Pow(base, exponent)
        return base

    def check_power(self, base: sp.Expr, exponent: sp.Expr, position: int) -> None:
        """Refuse powers whose exact value would be astronomically large."""
        if not exponent.is_Number:
            # a symbolic or irrational exponent: SymPy leaves the power unevaluated
            return
        if exponent.is_zero and base.is_zero:
            raise self.error("0^0 is undefined", position)
        if base.is_zero and exponent.is_negative:
            raise self.error("division by zero", position, "0 raised to a negative power")
        if base.is_Number:
            if not base.is_Rational or not exponent.is_Rational:
                return
            magnitude = max(abs(base.p), abs(base.q))
            if magnitude <= 1:
                return
            bits = abs(exponent) * math.log2(magnitude)
            if bits > self.max_power_bits:
                raise self.error(
                    "number too large", position,
                    f"the power would have about {int(bits * math.log10(2)):,} digits "
                    f"(at most {int(self.max_power_bits * math.log10(2)):,} are allowed)")
        elif exponent.is_Rational and abs(exponent) > self.max_exponent:
            raise self.error("exponent too large", position,
                             f"at most {self.max_exponent} is allowed on a symbolic base")

    def atom(self) -> sp.Expr:
        token = self.token
        if token.kind == "NUMBER":
            self.advance()
            return self.number(token)
        if token.kind == "NAME":
            self.advance()
            if self.token.kind == "OP" and self.token.text == "(":
                return self.call(token)
            return self.name(token)
        if token.kind == "OP" and token.text == "(":
            self.advance()
            self.enter(token.position)
            if self.token.kind == "OP" and self.token.text == ")":
                raise self.error("empty parentheses", token.position,
                                 "put an expression inside '( )'")
            expr = self.sum()
            if not (self.token.kind == "OP" and self.token.text == ")"):
                if self.token.kind == "END":
                    raise self.error("unclosed '('", token.position,
                                     "a ')' is missing")
                if self.token.kind == "OP" and self.token.text == ",":
                    raise self.error("unexpected ','",
                                     hint="commas only separate the arguments of a function")
                raise self.implicit_multiplication(self.token)
            self.advance()
            self.leave()
            return expr
        if token.kind == "END":
            raise self.error("unexpected end of the expression",
                             hint="an operand is missing")
        if token.text == ")":
            raise self.error("unexpected ')'", hint="an operand is missing")
        raise self.error(f"unexpected {token.text!r}", hint="an operand is missing")

    def number(self, token: _Token) -> sp.Expr:
        text = token.text
        mantissa, _, exponent_text = text.lower().partition("e")
        exponent = int(exponent_text) if exponent_text else 0
        if abs(exponent) > MAX_SCIENTIFIC_EXPONENT:
            raise self.error("number too large" if exponent > 0 else "number too small",
                             token.position,
                             f"decimal exponents up to ±{MAX_SCIENTIFIC_EXPONENT} are allowed")
        whole, _, fraction = mantissa.partition(".")
        digits = int((whole or "0") + fraction)
        value = sp.Rational(digits, 10 ** len(fraction))
        if exponent >= 0:
            value *= sp.Integer(10) ** exponent
        else:
            value /= sp.Integer(10) ** -exponent
        return value

    def name(self, token: _Token) -> sp.Expr:
        name = token.text
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise self.error(f"function {name!r} needs arguments", token.position,
                             f"write '{name}(x)'")
        return _symbol(name)

    def call(self, token: _Token) -> sp.Expr:
        name = token.text
        spec = FUNCTIONS.get(name)
        if spec is None:
            if name in CONSTANTS:
                raise self.error(f"{name!r} is a constant, not a function", token.position,
                                 f"write '{name}*(…)' to multiply")
            close = difflib.get_close_matches(name, list(FUNCTIONS), n=3, cutoff=0.6)
            if close:
                quoted = [repr(c) for c in close]
                choices = quoted[0] if len(quoted) == 1 else (
                    ", ".join(quoted[:-1]) + " or " + quoted[-1])
                hint = f"did you mean {choices}?"
            else:
                hint = (f"to multiply write '{name}*(…)'; known functions: "
                        + ", ".join(sorted(FUNCTIONS)))
            raise self.error(f"unknown function {name!r}", token.position, hint)
        open_paren = self.advance()
        self.enter(open_paren.position)
        args: list[sp.Expr] = []
        if self.token.kind == "OP" and self.token.text == ")":
            raise self.error(f"function {name!r} needs an argument", self.token.position)
        while True:
            args.append(self.sum())
            if self.token.kind == "OP" and self.token.text == ",":
                self.advance()
                continue
            if self.token.kind == "OP" and self.token.text == ")":
                self.advance()
                break
            if self.token.kind == "END":
                raise self.error("unclosed '('", open_paren.position, "a ')' is missing")
            raise self.implicit_multiplication(self.token)
        self.leave()
        if len(args) < spec.min_args or (spec.max_args is not None and len(args) > spec.max_args):
            expected = (f"{spec.min_args}" if spec.max_args == spec.min_args else
                        f"at least {spec.min_args}" if spec.max_args is None else
                        f"{spec.min_args} or {spec.max_args}")
            raise self.error(f"function {name!r} takes {expected} argument"
                             f"{'s' if expected != '1' else ''}, got {len(args)}",
                             token.position)
        if name == "log" and len(args) == 2 and (args[1] == 1 or args[1] == 0):
            raise self.error("logarithm base must not be 0 or 1", token.position)
        try:
            return spec.build(*args)
        except (ValueError, TypeError, ArithmeticError) as exc:
            # e.g. max() of numbers SymPy cannot compare
            raise self.error(f"cannot apply {name!r} to these arguments", token.position,
                             str(exc)) from None


def _symbol(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


def parse_expression(
    text: str,
    *,
    max_length: int = MAX_LENGTH,
    max_depth: int = MAX_DEPTH,
    max_power_bits: int = MAX_POWER_BITS,
    max_exponent: int = MAX_EXPONENT,
) -> sp.Expr:
    """Parse an expression string safely into a SymPy expression.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"exp(-x^2)*cos(3*x)"``.
    max_length : int
        Longest string accepted.
    max_depth : int
        Deepest nesting of parentheses, function calls, signs and powers.
    max_power_bits : int
        Largest exact number (in bits) that a power of two numbers may give.
    max_exponent : int
        Largest integer exponent allowed on a symbolic base.

    Returns
    -------
    sympy.Expr
        The expression, with every name a real symbol except ``pi``/``π``
        and ``e``.

    Raises
    ------
    ExpressionError
        For anything outside the grammar or beyond a limit; ``.position``
        says where.

    Examples
    --------
    >>> parse_expression("exp(-x^2)*cos(3*x)")
    exp(-x**2)*cos(3*x)
    >>> parse_expression("x^x").diff(parse_variables("x")[0])
    x**x*(log(x) + 1)
    >>> parse_expression("1.5e-3 * lambda")
    3*lambda/2000
    >>> parse_expression("sigmod(x)")
    Traceback (most recent call last):
    ...
    derive.parsing.ExpressionError: unknown function 'sigmod' at column 1: did you mean 'sigmoid', 'log_sigmoid' or 'hard_sigmoid'?
      sigmod(x)
      ^
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a string, got {type(text).__name__}")
    if len(text) > max_length:
        raise ExpressionError("expression too long", text, max_length,
                              f"{len(text):,} characters; at most {max_length:,} are allowed")
    if "\x00" in text:
        raise ExpressionError("unexpected character U+0000 (NULL)", text, text.index("\x00"))
    try:
        parser = _Parser(text, max_depth, max_power_bits, max_exponent)
        return parser.parse()
    except RecursionError:
        raise ExpressionError("expression nested too deeply", text, 0,
                              "lower the nesting or max_depth") from None
    except (ValueError, TypeError, ArithmeticError) as exc:
        if isinstance(exc, ExpressionError):
            raise
        # SymPy refused to build something (never expected; never a traceback)
        raise ExpressionError("cannot build the expression", text, 0, str(exc)) from None


def parse_variables(text: str | Sequence[str]) -> tuple[sp.Symbol, ...]:
    """Parse a comma-separated list of variable names into real symbols.

    Parameters
    ----------
    text : str or sequence of str
        ``"x"``, ``"x, y"`` or ``["x", "y"]``.

    Returns
    -------
    tuple of sympy.Symbol
        One real symbol per name, in order, without repeats.

    Examples
    --------
    >>> parse_variables("w,b")
    (w, b)
    >>> parse_variables("x, 2")
    Traceback (most recent call last):
    ...
    derive.parsing.ExpressionError: not a variable name at column 4: '2'
      x, 2
         ^
    """
    if isinstance(text, str):
        if len(text) > MAX_LENGTH:
            raise ExpressionError("variable list too long", text, MAX_LENGTH)
        pieces: list[tuple[str, int]] = []
        start = 0
        for part in text.split(","):
            stripped = part.strip()
            offset = start + (len(part) - len(part.lstrip()))
            pieces.append((stripped, offset))
            start += len(part) + 1
        source = text
    else:
        source = ", ".join(text)
        pieces, offset = [], 0
        for name in text:
            pieces.append((name.strip(), offset))
            offset += len(name) + 2
    if not source.strip():
        raise ExpressionError("no variable given", source, 0, "enter a name such as 'x'")
    symbols: list[sp.Symbol] = []
    for name, offset in pieces:
        if not name:
            raise ExpressionError("empty variable name", source, offset)
        valid = _is_name_start(name[0]) and all(_is_name_char(c) for c in name)
        if not valid:
            raise ExpressionError("not a variable name", source, offset, repr(name))
        if name in CONSTANTS or name in FUNCTIONS:
            kind = "a constant" if name in CONSTANTS else "a function"
            raise ExpressionError(f"{name!r} is {kind}, not a variable", source, offset)
        symbol = _symbol(name)
        if symbol not in symbols:
            symbols.append(symbol)
    return tuple(symbols)


__all__ = [
    "ExpressionError",
    "parse_expression",
    "parse_variables",
    "FUNCTIONS",
    "CONSTANTS",
    "MAX_LENGTH",
    "MAX_DEPTH",
]
