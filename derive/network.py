r"""Neurons, dense layers and backpropagation, derived and proven with SymPy.

SymPy's matrix calculus cannot do this directly: differentiating
``f(W*x + b)`` with respect to a ``MatrixSymbol`` fails ("Mix of Matrix and
Scalar symbols") or silently returns 0.  So every claim here is made at a
small concrete size on *explicit* matrices of scalar symbols, where SymPy's
ordinary ``diff`` of the fully expanded scalar expression is the ground truth:

* :func:`neuron`: :math:`z = w \cdot x + b`, :math:`a = f(z)` with any catalogue
  activation; :math:`\partial a/\partial w_i = f'(z) x_i`,
  :math:`\partial a/\partial b = f'(z)`, :math:`\partial a/\partial x_i = f'(z) w_i`,
  and with a loss :math:`\partial L/\partial w_i = \ell'(a) f'(z) x_i`.
* :func:`dense_layer`: the batched layer :math:`Y = X W^\top + \mathbf 1 b^\top`
  and its backward pass :math:`dX = G W`, :math:`dW = G^\top X`,
  :math:`db = \sum_\text{batch} G` for an upstream gradient :math:`G = \partial L/\partial Y`
  of *any* loss.
* :func:`backprop`: the network of the notes
  :math:`\hat y = f_2(W_2 f_1(W_1 x + b_1) + b_2)` with any catalogue
  activations and loss; the backpropagation equations in matrix form, each
  proven (a) for arbitrary differentiable :math:`f_1, f_2, L` (SymPy undefined
  functions) and (b) for the chosen catalogue functions against ``diff`` of the
  expanded expression.
* :func:`linear_collapse`: without activations a stack of layers is one affine
  map, :math:`W_2(W_1x + b_1) + b_2 = (W_2W_1)x + (W_2b_1 + b_2)`.

Each proof records *how* it was done (:class:`Proof`): ``abstract`` (proven for
undefined functions, i.e. for every differentiable activation and loss),
``identical`` (the two expressions are the same SymPy object), ``expand`` (their
difference expands to 0), ``piecewise_fold`` (0 once the piecewise branches are
merged), ``simplify``, or ``numeric`` (equal to within :math:`10^{-40}` relative at
≥ 20 random points evaluated with 50-digit mpmath, used when symbolic
simplification would be slow, e.g. with piecewise activations).  Every result
renders as text, LaTeX or Markdown (:meth:`Derivation.to_text` …).

Examples
--------
>>> d = neuron(2, "sigmoid", loss=None)
>>> d.all_proven
True
>>> print(d.expressions["da/dw_1"])
x_1*exp(-b - w_1*x_1 - w_2*x_2)/(exp(-b - w_1*x_1 - w_2*x_2) + 1)**2
>>> linear_collapse().all_proven
True
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef

from . import catalogue
from .primitives import components

__all__ = [
    "Proof",
    "Equation",
    "Step",
    "Derivation",
    "prove_equal",
    "activation_derivative",
    "neuron",
    "dense_layer",
    "backprop",
    "linear_collapse",
]

#: number of random points and mpmath digits of a numeric proof
POINTS = 24
DIGITS = 50
#: a symbolic ``expand`` is tried only below this many operations (it can take
#: minutes on large exponential or piecewise expressions)
EXPAND_LIMIT = 700


# ======================================================================== proofs


@dataclass(frozen=True)
class Proof:
    """That a claim holds, for how many scalar entries, and by which method(s)."""

    claim: str
    holds: bool
    #: method -> number of scalar equalities it settled
    methods: dict[str, int]
    detail: str = ""

    @property
    def method(self) -> str:
        """The methods used, strongest first, e.g. ``'expand ×6, numeric ×2'``."""
        order = ["abstract", "identical", "expand", "piecewise_fold", "simplify", "numeric"]
        used = sorted(self.methods, key=lambda m: order.index(m) if m in order else 99)
        return ", ".join(f"{m} ×{self.methods[m]}" for m in used)

    @property
    def entries(self) -> int:
        """Number of scalar equalities checked."""
        return sum(self.methods.values())

    def __str__(self) -> str:
        status = "proven" if self.holds else "NOT PROVEN"
        extra = f"; {self.detail}" if self.detail else ""
        return f"{self.claim}: {status} ({self.method}{extra})"


def _sampler(ranges: dict[sp.Symbol, tuple[float, float]] | None
             ) -> Callable[[sp.Symbol, random.Random], mpmath.mpf]:
    def sample(symbol: sp.Symbol, rng: random.Random) -> mpmath.mpf:
        low, high = (ranges or {}).get(symbol, (-1.5, 1.5))
        # a decimal string of 17 digits: exact in mpmath at any precision
        return mpmath.mpf(repr(rng.uniform(low, high)))

    return sample


def _numeric_check(pairs: Sequence[tuple[sp.Expr, sp.Expr]], points: int, digits: int,
                   seed: int, ranges: dict[sp.Symbol, tuple[float, float]] | None
                   ) -> tuple[bool, float]:
    """Largest relative difference of the pairs at random points, with mpmath."""
    symbols = sorted(set().union(*(sp.Tuple(a, b).free_symbols for a, b in pairs)), key=str)
    flat = [e for pair in pairs for e in pair]
    function = sp.lambdify(symbols, flat, modules="mpmath", cse=True)
    rng = random.Random(seed)
    sample = _sampler(ranges)
    worst = mpmath.mpf(0)
    with mpmath.workdps(digits):
        for _ in range(points):
            values = function(*[sample(s, rng) for s in symbols])
            for left, right in zip(values[0::2], values[1::2]):
                scale = max(mpmath.mpf(1), abs(left), abs(right))
                worst = max(worst, abs(left - right) / scale)
    return bool(worst <= mpmath.mpf(10) ** (10 - digits)), float(worst)


def _foldable(expr: sp.Expr) -> bool:
    """A few piecewise parts, none inside another: folding them is quick."""
    pieces = expr.atoms(sp.Piecewise)
    return 0 < len(pieces) <= 4 and not any(
        inner is not outer and outer.has(inner) for outer in pieces for inner in pieces)


def _symbolic_zero(difference: sp.Expr, allow_simplify: bool,
                   expand_limit: int | None) -> str | None:
    if difference == 0:
        return "identical"
    if expand_limit is None or expand_limit > 0 and \
            sp.count_ops(difference) <= expand_limit:
        if sp.expand(difference, power_exp=False, log=False) == 0:
            return "expand"
        if _foldable(difference):
            folded = sp.piecewise_fold(difference)
            if folded == 0 or sp.expand(folded, power_exp=False, log=False) == 0:
                return "piecewise_fold"
        if allow_simplify and sp.simplify(difference) == 0:
            return "simplify"
    return None


def prove_equal(claim: str, lhs: Iterable[sp.Expr], rhs: Iterable[sp.Expr], *,
                points: int = POINTS, digits: int = DIGITS, seed: int = 0,
                ranges: dict[sp.Symbol, tuple[float, float]] | None = None,
                allow_simplify: bool = False,
                expand_limit: int | None = EXPAND_LIMIT,
                atoms: dict[sp.Expr, sp.Symbol] | None = None) -> Proof:
    """Prove ``lhs[i] == rhs[i]`` for every ``i``: symbolically where cheap, else numerically.

    Each pair is first compared structurally, then by expanding the
    difference (when it is small), optionally by ``simplify``; the pairs left
    are compared at ``points`` random points with ``digits``-digit mpmath
    (relative difference at most :math:`10^{10 - \\text{digits}}`).

    Parameters
    ----------
    claim : str
        What is proven, for the record.
    lhs, rhs : iterables of SymPy expressions
        Paired entries (e.g. the flattened entries of two matrices).
    ranges : dict, optional
        Sampling interval per symbol for the numeric comparison; (-1.5, 1.5)
        otherwise.
    allow_simplify : bool, default False
        Also try ``simplify`` (slow on large expressions).
    expand_limit : int or None
        Try ``expand`` only on differences with at most this many operations
        (None: always).  Expressions with undefined functions can only be
        proven symbolically.
    atoms : dict, optional
        Subexpressions (e.g. a layer's pre-activations ``W x + b``) to replace
        by fresh symbols before the symbolic attempts, so that ``expand`` does
        not multiply out the insides of ``tanh(...)`` or ``exp(...)``.  This is
        sound: a difference that vanishes for independent symbols vanishes
        when they take the values of the subexpressions.  The numeric check
        always uses the original expressions.

    Examples
    --------
    >>> from sympy import Symbol, cos, sin
    >>> t = Symbol("t", real=True)
    >>> proof = prove_equal("sin 2t = 2 sin t cos t", [sin(2 * t)], [2 * sin(t) * cos(t)])
    >>> proof.holds, proof.method
    (True, 'numeric ×1')
    >>> prove_equal("(t + 1)² = t² + 2t + 1", [(t + 1)**2], [t**2 + 2*t + 1]).method
    'expand ×1'
    """
    lhs, rhs = list(lhs), list(rhs)
    if len(lhs) != len(rhs):
        raise ValueError(f"{claim}: {len(lhs)} left-hand entries but {len(rhs)} right-hand")
    replacements: dict[sp.Expr, sp.Expr] = {}
    for expression, symbol in (atoms or {}).items():
        replacements[expression] = symbol
        replacements[-expression] = -symbol
    methods: dict[str, int] = {}
    remaining = []
    limit = expand_limit
    for left, right in zip(lhs, rhs):
        difference = sp.sympify(left) - sp.sympify(right)
        if replacements:
            difference = difference.xreplace(replacements)
        method = _symbolic_zero(difference, allow_simplify, limit)
        if method is None:
            remaining.append((left, right))
            if limit is not None:
                # the entries of one claim look alike: when expanding one
                # failed, expanding the next would fail as slowly
                limit = 0
        else:
            methods[method] = methods.get(method, 0) + 1
    holds, detail = True, ""
    if remaining and any(sp.Tuple(*pair).atoms(AppliedUndef) for pair in remaining):
        return Proof(claim, False, {**methods, "unproven": len(remaining)},
                     "undefined functions: no numeric fallback")
    if remaining:
        holds, worst = _numeric_check(remaining, points, digits, seed, ranges)
        methods["numeric"] = len(remaining)
        detail = f"{points} points, {digits} digits, max relative difference {worst:.1e}"
    return Proof(claim, holds, methods, detail)


# ======================================================================== rendering


@dataclass(frozen=True)
class Equation:
    """One displayed equation, as plain text and as LaTeX."""

    text: str
    latex: str


@dataclass(frozen=True)
class Step:
    """A step of a derivation: what is done, the equations, and its proof."""

    title: str
    explanation: str
    equations: tuple[Equation, ...] = ()
    proof: Proof | None = None


@dataclass
class Derivation:
    """A derivation a student can follow, with the proofs that back it."""

    title: str
    steps: list[Step]
    #: named SymPy objects of the derivation (matrices, expressions)
    expressions: dict[str, sp.Basic] = field(default_factory=dict)

    @property
    def proofs(self) -> list[Proof]:
        """Every proof, in order."""
        return [s.proof for s in self.steps if s.proof is not None]

    @property
    def all_proven(self) -> bool:
        """Whether every claim was proven."""
        return all(p.holds for p in self.proofs)

    def to_text(self) -> str:
        """Plain text (Unicode)."""
        lines = [self.title, "=" * len(self.title)]
        for number, step in enumerate(self.steps, 1):
            lines += ["", f"{number}. {step.title}", f"   {step.explanation}"]
            lines += [f"       {eq.text}" for eq in step.equations]
            if step.proof is not None:
                lines.append(f"   ✔ {step.proof}" if step.proof.holds else f"   ✘ {step.proof}")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """Markdown with ``$$…$$`` display maths."""
        lines = [f"# {self.title}"]
        for number, step in enumerate(self.steps, 1):
            lines += ["", f"## {number}. {step.title}", "", step.explanation]
            for eq in step.equations:
                lines += ["", f"$$ {eq.latex} $$"]
            if step.proof is not None:
                mark = "**Proven**" if step.proof.holds else "**NOT proven**"
                extra = f"; {step.proof.detail}" if step.proof.detail else ""
                lines += ["", f"> {mark}: {step.proof.claim} ({step.proof.method}{extra})."]
        return "\n".join(lines) + "\n"

    def to_latex(self) -> str:
        """A LaTeX fragment (``\\section*`` and display maths; needs ``amsmath``)."""
        def escape(text: str) -> str:
            for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"),
                         ("#", r"\#"), ("_", r"\_")):
                text = text.replace(a, b)
            # plain pdfLaTeX has no Unicode maths: spell the symbols out
            for a, b in _LATEX_TEXT.items():
                text = text.replace(a, b)
            return text

        lines = [rf"\section*{{{escape(self.title)}}}"]
        for number, step in enumerate(self.steps, 1):
            lines += ["", rf"\subsection*{{{number}. {escape(step.title)}}}",
                      escape(step.explanation)]
            for eq in step.equations:
                lines.append(rf"\[ {eq.latex} \]")
            if step.proof is not None:
                status = "Proven" if step.proof.holds else "NOT proven"
                extra = f"; {step.proof.detail}" if step.proof.detail else ""
                lines.append(rf"\emph{{{status}: {escape(step.proof.claim)} "
                             rf"({escape(step.proof.method)}{escape(extra)}).}}")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_text()


_LATEX_TEXT = {
    "₀": "$_0$", "₁": "$_1$", "₂": "$_2$", "ₖ": "$_k$", "ⱼ": "$_j$", "ᵢ": "$_i$", "ᵀ": "$^\\top$",
    "⊙": "$\\odot$", "∂": "$\\partial$", "δ": "$\\delta$", "ŷ": "$\\hat y$", "Σ": "$\\Sigma$",
    "×": "$\\times$", "·": "$\\cdot$", "⋯": "$\\cdots$", "–": "--", "—": "---", "≥": "$\\geq$",
    "→": "$\\to$", "≤": "$\\leq$",
}


def _eq(text: str, latex: str) -> Equation:
    return Equation(text, latex)


def _expr_eq(lhs_text: str, lhs_latex: str, rhs: sp.Basic,
             names: dict[sp.Symbol, str] | None = None) -> Equation:
    return Equation(f"{lhs_text} = {sp.sstr(rhs)}",
                    f"{lhs_latex} = {sp.latex(rhs, symbol_names=names or {})}")


# ======================================================================== helpers


def _kind(entry: catalogue.Entry) -> str:
    kind = entry.kind.replace("_", " ")
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _activation(name: str) -> tuple[catalogue.Entry, sp.Expr]:
    entry = catalogue.get(name)
    if entry.kind != "activation":
        raise ValueError(f"{name!r} is {_kind(entry)}, not an elementwise activation")
    return entry, entry.definition.subs(entry.defaults)


def _loss_entry(name: str) -> catalogue.Entry:
    entry = catalogue.get(name)
    if entry.kind != "loss":
        raise ValueError(f"{name!r} is {_kind(entry)}, not a loss")
    return entry


def _loss_of(entry: catalogue.Entry, predictions: Sequence[sp.Expr],
             targets: Sequence[sp.Expr]) -> sp.Expr:
    """The loss of one sample: mean over the elements, or the row loss of one row."""
    definition = entry.definition.subs(entry.defaults)
    if entry.reduction == "mean_rows":
        return components(definition, {catalogue.pred: list(predictions),
                                       catalogue.target: list(targets)}, 0)
    terms = [definition.subs({catalogue.pred: p, catalogue.target: t})
             for p, t in zip(predictions, targets)]
    return sp.Add(*terms) / len(terms)


def _target_ranges(symbols: Iterable[sp.Symbol]) -> dict[sp.Symbol, tuple[float, float]]:
    # targets inside (0, 1) keep log(y) of the entropy losses real
    return {s: (0.05, 0.95) for s in symbols}


@functools.lru_cache(maxsize=None)
def activation_derivative(name: str) -> tuple[sp.Expr, sp.Expr, Proof]:
    """SymPy's derivative of an activation and its textbook form, proven equal.

    The textbook form and its proof come from :func:`derive.calculus.derive`
    (named primitives such as σ, Φ, φ recognised), with the default parameters
    substituted.

    Returns
    -------
    raw : sympy.Expr
        ``diff(definition, x)`` with default parameters.
    textbook : sympy.Expr
        The derivative as a textbook prints it.
    proof : Proof
        ``textbook == raw``.

    Examples
    --------
    >>> raw, textbook, proof = activation_derivative("tanh")
    >>> textbook, proof.holds
    (1 - tanh(x)**2, True)
    """
    from .calculus import derive

    entry, definition = _activation(name)
    raw = sp.diff(definition, catalogue.x)
    derived = derive(name)
    textbook = derived.textbook.subs(entry.defaults)
    method = "simplify" if derived.proof.method == "symbolic" else "numeric"
    proof = Proof(f"{name}'(x) in textbook form equals diff({name}(x), x)", True,
                  {method: 1}, f"derive.calculus: {derived.proof.detail}")
    return raw, textbook, proof


def _symbols(prefix: str, rows: int, cols: int | None = None) -> sp.Matrix:
    if cols is None:
        return sp.Matrix(rows, 1, lambda i, _: sp.Symbol(f"{prefix}_{i + 1}", real=True))
    return sp.Matrix(rows, cols,
                     lambda i, j: sp.Symbol(f"{prefix}_{i + 1}{j + 1}", real=True))


def _latex_names(matrix: sp.Matrix, base: str, layer: str = "") -> dict[sp.Symbol, str]:
    names = {}
    for i in range(matrix.rows):
        for j in range(matrix.cols):
            index = f"{i + 1}" if matrix.cols == 1 else f"{i + 1}{j + 1}"
            sup = f"^{{({layer})}}" if layer else ""
            names[matrix[i, j]] = f"{base}{sup}_{{{index}}}"
    return names


# ======================================================================== neuron


def neuron(n_inputs: int = 3, activation: str = "sigmoid", loss: str | None = "mse"
           ) -> Derivation:
    """The single neuron :math:`a = f(w \\cdot x + b)` and its partial derivatives.

    Parameters
    ----------
    n_inputs : int, default 3
    activation : str, default "sigmoid"
        Any elementwise catalogue activation (default parameters).
    loss : str or None, default "mse"
        A catalogue loss of the output ``a`` against a target ``y``; None for
        the neuron alone.

    Examples
    --------
    >>> d = neuron(3, "tanh", loss="mse")
    >>> [p.holds for p in d.proofs]
    [True, True, True, True, True]
    >>> d.expressions["dL/da"]
    2*a - 2*y
    """
    if n_inputs < 1:
        raise ValueError(f"n_inputs must be positive; got {n_inputs}")
    _, f = _activation(activation)
    raw, textbook, lemma = activation_derivative(activation)
    x, w = _symbols("x", n_inputs), _symbols("w", n_inputs)
    b = sp.Symbol("b", real=True)
    z_expr = (w.T * x)[0, 0] + b
    a_expr = f.subs(catalogue.x, z_expr)
    f_prime = raw.subs(catalogue.x, z_expr)
    names = {**_latex_names(x, "x"), **_latex_names(w, "w")}
    z_sym, a_sym = sp.Symbol("z", real=True), sp.Symbol("a", real=True)
    fp_text = sp.sstr(textbook.subs(catalogue.x, z_sym))
    fp_latex = sp.latex(textbook.subs(catalogue.x, z_sym))

    steps = [
        Step("Forward pass",
             f"The neuron weighs its {n_inputs} inputs, adds the bias, and applies the "
             f"activation f = {activation}.",
             (_expr_eq("z", "z", z_expr, names),
              _eq(f"a = f(z) = {sp.sstr(f.subs(catalogue.x, z_sym))}",
                  f"a = f(z) = {sp.latex(f.subs(catalogue.x, z_sym))}"))),
        Step("The activation's derivative",
             f"Differentiate f = {activation} once, in one variable; the textbook form "
             "is checked against SymPy's own derivative.",
             (_eq(f"f'(z) = {fp_text}", f"f'(z) = {fp_latex}"),), lemma),
    ]
    expressions: dict[str, sp.Basic] = {"z": z_expr, "a": a_expr, "f'(z)": f_prime}
    grad_w = [sp.diff(a_expr, wi) for wi in w]
    grad_x = [sp.diff(a_expr, xi) for xi in x]
    for i in range(n_inputs):
        expressions[f"da/dw_{i + 1}"] = grad_w[i]
    # z as an atom keeps expand from multiplying out f's argument
    atoms = {z_expr: sp.Dummy("z", real=True)}
    steps += [
        Step("Weights", "z depends on w_i through the term w_i·x_i, so ∂z/∂w_i = x_i and "
             "the chain rule gives",
             (_eq("∂a/∂w_i = f'(z) · x_i", r"\frac{\partial a}{\partial w_i} = f'(z)\, x_i"),),
             prove_equal(f"∂a/∂w_i = f'(z)·x_i for i = 1..{n_inputs}", grad_w,
                         [f_prime * xi for xi in x], atoms=atoms)),
        Step("Bias", "∂z/∂b = 1: the bias gradient is the activation's slope itself.",
             (_eq("∂a/∂b = f'(z)", r"\frac{\partial a}{\partial b} = f'(z)"),),
             prove_equal("∂a/∂b = f'(z)", [sp.diff(a_expr, b)], [f_prime], atoms=atoms)),
        Step("Inputs", "∂z/∂x_i = w_i: this is what passes the gradient on to an earlier "
             "layer.",
             (_eq("∂a/∂x_i = f'(z) · w_i", r"\frac{\partial a}{\partial x_i} = f'(z)\, w_i"),),
             prove_equal(f"∂a/∂x_i = f'(z)·w_i for i = 1..{n_inputs}", grad_x,
                         [f_prime * wi for wi in w], atoms=atoms)),
    ]
    if loss is not None:
        loss_entry = _loss_entry(loss)
        y = sp.Symbol("y", real=True)
        loss_of_a = _loss_of(loss_entry, [a_sym], [y])
        dl_da = sp.simplify(sp.diff(loss_of_a, a_sym))
        expressions["L"] = loss_of_a
        expressions["dL/da"] = dl_da
        full = loss_of_a.subs(a_sym, a_expr)
        outer = dl_da.subs(a_sym, a_expr) * f_prime
        steps += [
            Step("A loss on the output",
                 f"With the {loss} loss L(a, y) of the output against a target y, "
                 "differentiate L in a, then chain through the neuron.",
                 (_expr_eq("L", "L", loss_of_a),
                  _expr_eq("∂L/∂a", r"\frac{\partial L}{\partial a}", dl_da),
                  _eq("∂L/∂w_i = ∂L/∂a · f'(z) · x_i",
                      r"\frac{\partial L}{\partial w_i} = \frac{\partial L}{\partial a}\,"
                      r"f'(z)\, x_i"),
                  _eq("∂L/∂b = ∂L/∂a · f'(z)",
                      r"\frac{\partial L}{\partial b} = \frac{\partial L}{\partial a}\, f'(z)")),
                 prove_equal(f"∂L/∂w_i and ∂L/∂b by the chain rule ({loss})",
                             [sp.diff(full, v) for v in list(w) + [b]],
                             [outer * xi for xi in x] + [outer],
                             ranges=_target_ranges([y]), atoms=atoms)),
        ]
    title = f"A neuron with {n_inputs} inputs and activation {activation}" + (
        f", loss {loss}" if loss else "")
    return Derivation(title, steps, expressions)


# ======================================================================== dense layer


def dense_layer(batch: int = 2, n_in: int = 3, n_out: int = 2) -> Derivation:
    """The batched dense layer :math:`Y = XW^\\top + \\mathbf 1 b^\\top` and its backward pass.

    The upstream gradient :math:`G = \\partial L/\\partial Y` belongs to an
    *arbitrary* loss: :math:`L = \\Lambda(Y)` with :math:`\\Lambda` a SymPy undefined
    function of every entry of :math:`Y`, so the result holds for any network
    above the layer.

    Examples
    --------
    >>> d = dense_layer()
    >>> [p.method for p in d.proofs]
    ['identical ×4', 'identical ×6', 'identical ×6', 'identical ×2']
    """
    if min(batch, n_in, n_out) < 1:
        raise ValueError(f"sizes must be positive; got batch={batch}, n_in={n_in}, "
                         f"n_out={n_out}")
    X, W = _symbols("X", batch, n_in), _symbols("W", n_out, n_in)
    b = _symbols("b", n_out)
    Y = X * W.T + sp.ones(batch, 1) * b.T
    Ys = _symbols("Y", batch, n_out)
    Lam = sp.Function("Lambda")
    loss_of_y = Lam(*Ys)
    G = Ys.applyfunc(lambda s: sp.diff(loss_of_y, s)).subs(dict(zip(Ys, Y)))
    full = loss_of_y.subs(dict(zip(Ys, Y)))
    names = {**_latex_names(X, "X"), **_latex_names(W, "W"), **_latex_names(b, "b")}

    def grads(matrix: sp.Matrix) -> list[sp.Expr]:
        return [sp.diff(full, s) for s in matrix]

    row_by_row = [sum(W[j, i] * X[n, i] for i in range(n_in)) + b[j]
                  for n in range(batch) for j in range(n_out)]
    steps = [
        Step("Forward pass of a batch",
             f"A batch of {batch} inputs is stored as the rows of X ({batch}×{n_in}); "
             f"W is {n_out}×{n_in} and b has {n_out} entries.  Each row of Y applies "
             "y = Wx + b to one input, which in rows reads Y = X Wᵀ + 1 bᵀ.",
             (_eq("Y = X Wᵀ + 1 bᵀ,   Y[n, j] = Σ_i W[j, i] X[n, i] + b[j]",
                  r"Y = X W^\top + \mathbf{1} b^\top, \qquad "
                  r"Y_{nj} = \sum_i W_{ji} X_{ni} + b_j"),
              _expr_eq("Y[1, 1]", "Y_{11}", Y[0, 0], names)),
             prove_equal("every entry of X Wᵀ + 1 bᵀ is its row's neuron", list(Y),
                         row_by_row)),
        Step("Input gradient",
             "X[n, i] enters Y[n, j] with coefficient W[j, i] for every output j, so "
             "∂L/∂X[n, i] = Σ_j G[n, j] W[j, i]: a matrix product.",
             (_eq("dX = G W", r"\frac{\partial L}{\partial X} = G\, W"),),
             prove_equal("∂L/∂X = G W", grads(X), list(G * W))),
        Step("Weight gradient",
             "W[j, i] enters Y[n, j] with coefficient X[n, i] for every row n of the "
             "batch, so the batch is summed by the product Gᵀ X.",
             (_eq("dW = Gᵀ X", r"\frac{\partial L}{\partial W} = G^\top X"),),
             prove_equal("∂L/∂W = Gᵀ X", grads(W), list(G.T * X))),
        Step("Bias gradient",
             "b[j] enters every row's Y[n, j] with coefficient 1: sum G over the batch.",
             (_eq("db = Σ_n G[n, :]", r"\frac{\partial L}{\partial b} = \sum_n G_{n,:}"),),
             prove_equal("∂L/∂b = Σ_batch G", grads(b),
                         [sum(G[n, j] for n in range(batch)) for j in range(n_out)])),
    ]
    return Derivation(f"The dense layer, batch {batch}, {n_in} inputs, {n_out} outputs",
                      steps, {"X": X, "W": W, "b": b, "Y": Y, "G": G})


# ======================================================================== backprop


def _network_symbols(n_in: int, n_hidden: int, n_out: int) -> dict[str, sp.Matrix]:
    return {"x": _symbols("x", n_in), "W1": _symbols("W1", n_hidden, n_in),
            "b1": _symbols("b1", n_hidden), "W2": _symbols("W2", n_out, n_hidden),
            "b2": _symbols("b2", n_out), "y": _symbols("y", n_out)}


def _backprop_equations(s: dict[str, sp.Matrix], f1: Callable[[sp.Expr], sp.Expr],
                        f1_prime: Callable[[sp.Expr], sp.Expr],
                        f2: Callable[[sp.Matrix], sp.Matrix],
                        delta2_of: Callable[[sp.Matrix, sp.Matrix], sp.Matrix],
                        loss_of: Callable[[list[sp.Expr]], sp.Expr]
                        ) -> tuple[sp.Expr, dict[str, sp.Matrix], dict[str, sp.Matrix]]:
    """Full scalar loss, the backprop gradients, and the forward intermediates."""
    n_out = s["y"].rows
    z1 = s["W1"] * s["x"] + s["b1"]
    a1 = z1.applyfunc(f1)
    z2 = s["W2"] * a1 + s["b2"]
    yhat = f2(z2)
    yhat_symbols = [sp.Symbol(f"yhat_{k + 1}", real=True) for k in range(n_out)]
    loss = loss_of(yhat_symbols)
    at_output = dict(zip(yhat_symbols, yhat))
    g = sp.Matrix([sp.diff(loss, v) for v in yhat_symbols]).subs(at_output)
    full = loss.subs(at_output)
    delta2 = delta2_of(z2, g)
    delta1 = (s["W2"].T * delta2).multiply_elementwise(z1.applyfunc(f1_prime))
    backprop = {"b2": delta2, "W2": delta2 * a1.T, "b1": delta1, "W1": delta1 * s["x"].T,
                "x": s["W1"].T * delta1}
    forward = {"z1": z1, "a1": a1, "z2": z2, "yhat": yhat, "g": g}
    return full, backprop, forward


@functools.lru_cache(maxsize=None)
def _abstract_theorem(n_in: int, n_hidden: int, n_out: int) -> dict[str, Proof]:
    """Backprop for arbitrary differentiable f1, f2 and loss L(ŷ, y) (undefined functions)."""
    s = _network_symbols(n_in, n_hidden, n_out)
    F1, F2, Loss = sp.Function("f1"), sp.Function("f2"), sp.Function("L")
    u = sp.Dummy("u")

    def prime(F: sp.FunctionClass) -> Callable[[sp.Expr], sp.Expr]:
        return lambda z: sp.Derivative(F(u), u).subs(u, z)

    full, bp, _ = _backprop_equations(
        s, F1, prime(F1), lambda z: z.applyfunc(F2),
        lambda z2, g: g.multiply_elementwise(z2.applyfunc(prime(F2))),
        lambda yh: Loss(*yh, *s["y"]))
    proofs = {}
    for name in ("b2", "W2", "b1", "W1", "x"):
        derivative = [sp.diff(full, v) for v in s[name]]
        proofs[name] = prove_equal(f"∂L/∂{name} for any f1, f2, L", derivative, list(bp[name]),
                                   expand_limit=None)
        if not proofs[name].methods.get("numeric"):
            proofs[name] = Proof(proofs[name].claim, proofs[name].holds,
                                 {"abstract": proofs[name].entries}, "")
    return proofs


_CLAIMS = {
    "b2": ("δ₂ = ∂L/∂ŷ ⊙ f₂'(z₂) = ∂L/∂b₂",
           r"\delta_2 = \frac{\partial L}{\partial \hat y} \odot f_2'(z_2) "
           r"= \frac{\partial L}{\partial b_2}"),
    "W2": ("∂L/∂W₂ = δ₂ a₁ᵀ", r"\frac{\partial L}{\partial W_2} = \delta_2\, a_1^\top"),
    "b1": ("δ₁ = (W₂ᵀ δ₂) ⊙ f₁'(z₁) = ∂L/∂b₁",
           r"\delta_1 = (W_2^\top \delta_2) \odot f_1'(z_1) = \frac{\partial L}{\partial b_1}"),
    "W1": ("∂L/∂W₁ = δ₁ xᵀ", r"\frac{\partial L}{\partial W_1} = \delta_1\, x^\top"),
    "x": ("∂L/∂x = W₁ᵀ δ₁", r"\frac{\partial L}{\partial x} = W_1^\top \delta_1"),
}


def backprop(n_in: int = 3, n_hidden: int = 4, n_out: int = 2, *, hidden: str = "tanh",
             output: str = "sigmoid", loss: str = "mse", points: int = POINTS,
             digits: int = DIGITS, seed: int = 0) -> Derivation:
    """Backpropagation for :math:`\\hat y = f_2(W_2 f_1(W_1 x + b_1) + b_2)`, proven.

    The matrix equations

    .. math::

        \\delta_2 = \\frac{\\partial L}{\\partial \\hat y} \\odot f_2'(z_2), \\quad
        \\frac{\\partial L}{\\partial W_2} = \\delta_2 a_1^\\top, \\quad
        \\delta_1 = (W_2^\\top \\delta_2) \\odot f_1'(z_1), \\quad
        \\frac{\\partial L}{\\partial W_1} = \\delta_1 x^\\top, \\quad
        \\frac{\\partial L}{\\partial b_\\ell} = \\delta_\\ell

    are compared entry by entry with SymPy's ``diff`` of the fully expanded
    scalar loss :math:`L(x, W_1, b_1, W_2, b_2, y)`, twice: for undefined
    functions :math:`f_1, f_2, L` (a theorem for every differentiable
    activation and loss, proven by ``expand``), and for the chosen catalogue
    functions (``expand`` where cheap, else numerically with mpmath; the proof
    records which).

    Parameters
    ----------
    n_in, n_hidden, n_out : int
        Sizes (3, 4, 2 by default).
    hidden : str
        Catalogue activation of the hidden layer.
    output : str
        Catalogue activation of the output layer, or ``"softmax"`` /
        ``"log_softmax"``: then :math:`\\delta_2` is the vector–Jacobian product
        of the entry's textbook form (no abstract theorem for this case).
    loss : str
        Catalogue loss of one sample (mean over the outputs for elementwise
        losses, the row loss of one row otherwise — as :mod:`numeric`).

    Examples
    --------
    >>> d = backprop(2, 3, 2, hidden="tanh", output="identity", loss="mse")
    >>> d.all_proven
    True
    >>> print(d.steps[-2].proof)
    ∂L/∂W₁ = δ₁ xᵀ: proven (abstract ×6, expand ×6)
    """
    if min(n_in, n_hidden, n_out) < 1:
        raise ValueError(f"sizes must be positive; got {n_in}, {n_hidden}, {n_out}")
    _, f1_def = _activation(hidden)
    raw1, textbook1, lemma1 = activation_derivative(hidden)
    out_entry = catalogue.get(output)
    loss_entry = _loss_entry(loss)
    s = _network_symbols(n_in, n_hidden, n_out)
    xs = catalogue.x

    def f1(z: sp.Expr) -> sp.Expr:
        return f1_def.subs(xs, z)

    def f1_prime(z: sp.Expr) -> sp.Expr:
        return raw1.subs(xs, z)

    lemmas = [lemma1]
    if out_entry.kind == "activation":
        f2_def = out_entry.definition.subs(out_entry.defaults)
        raw2, textbook2, lemma2 = activation_derivative(output)
        lemmas.append(lemma2)

        def f2(z2: sp.Matrix) -> sp.Matrix:
            return z2.applyfunc(lambda z: f2_def.subs(xs, z))

        def delta2_of(z2: sp.Matrix, g: sp.Matrix) -> sp.Matrix:
            return g.multiply_elementwise(z2.applyfunc(lambda z: raw2.subs(xs, z)))
    elif out_entry.kind == "vector_map" and out_entry.textbook is not None:
        textbook2 = out_entry.textbook

        def f2(z2: sp.Matrix) -> sp.Matrix:
            return sp.Matrix([components(out_entry.definition, {catalogue.z: list(z2)}, k)
                              for k in range(z2.rows)])

        def delta2_of(z2: sp.Matrix, g: sp.Matrix) -> sp.Matrix:
            vectors: dict[sp.Symbol, Sequence[sp.Expr]] = {catalogue.z: list(z2),
                                                           catalogue.g: list(g)}
            return sp.Matrix([components(out_entry.textbook, vectors, k)
                              for k in range(z2.rows)])
    else:
        raise ValueError(f"output {output!r} must be an activation or a vector map with a "
                         f"textbook vector-Jacobian product; it is {_kind(out_entry)}")

    full, bp, forward = _backprop_equations(
        s, f1, f1_prime, f2, delta2_of, lambda yh: _loss_of(loss_entry, yh, list(s["y"])))
    ranges = _target_ranges(s["y"])
    theorem = _abstract_theorem(n_in, n_hidden, n_out) if out_entry.kind == "activation" \
        else {}
    pre_activations = list(forward["z2"]) + list(forward["z1"])
    atoms = {z: sp.Dummy(f"zeta{i}", real=True) for i, z in enumerate(pre_activations)}
    proofs = {}
    for name in ("b2", "W2", "b1", "W1", "x"):
        concrete = prove_equal(_CLAIMS[name][0], [sp.diff(full, v) for v in s[name]],
                               list(bp[name]), points=points, digits=digits, seed=seed,
                               ranges=ranges, atoms=atoms)
        if name in theorem:
            general = theorem[name]
            concrete = Proof(concrete.claim, concrete.holds and general.holds,
                             {**general.methods, **concrete.methods}, concrete.detail)
        proofs[name] = concrete

    # ---------------------------------------------------------------- rendering
    yhat_symbols = [sp.Symbol(f"yhat_{k + 1}", real=True) for k in range(n_out)]
    loss_sample = _loss_of(loss_entry, yhat_symbols, list(s["y"]))
    dl_dyhat = [sp.simplify(sp.diff(loss_sample, v)) for v in yhat_symbols]
    t = sp.Symbol("z", real=True)
    names = {v: rf"\hat y_{{{k + 1}}}" for k, v in enumerate(yhat_symbols)}
    names.update(_latex_names(s["y"], "y"))
    n_terms = "the mean over the outputs" if loss_entry.reduction != "mean_rows" \
        else "the loss of one row"
    steps = [
        Step("The network",
             f"{n_in} inputs, {n_hidden} hidden neurons with activation f₁ = {hidden}, "
             f"{n_out} outputs with f₂ = {output}; W₁ is {n_hidden}×{n_in}, W₂ is "
             f"{n_out}×{n_hidden}.  Every entry of every matrix is its own SymPy symbol.",
             (_eq("z₁ = W₁ x + b₁,   a₁ = f₁(z₁),   z₂ = W₂ a₁ + b₂,   ŷ = f₂(z₂)",
                  r"z_1 = W_1 x + b_1,\quad a_1 = f_1(z_1),\quad z_2 = W_2 a_1 + b_2,\quad "
                  r"\hat y = f_2(z_2)"),)),
        Step("The loss",
             f"L is the {loss} loss of ŷ against the target y ({n_terms}); its gradient "
             "with respect to the prediction starts the backward pass.",
             tuple([_expr_eq("L", "L", loss_sample, names)] +
                   [_expr_eq(f"∂L/∂ŷ_{k + 1}", rf"\frac{{\partial L}}{{\partial \hat y_{k + 1}}}",
                             dl_dyhat[k], names) for k in range(n_out)])),
        Step("The activations' derivatives",
             "Each is a one-variable derivative; the textbook form is proven equal to "
             "SymPy's.",
             (_eq(f"f₁'(z) = {sp.sstr(textbook1.subs(xs, t))}",
                  f"f_1'(z) = {sp.latex(textbook1.subs(xs, t))}"),) + (
                 (_eq(f"f₂'(z) = {sp.sstr(textbook2.subs(xs, t))}",
                      f"f_2'(z) = {sp.latex(textbook2.subs(xs, t))}"),)
                 if out_entry.kind == "activation" else
                 (_eq(f"δ₂ = {output} vector–Jacobian product: {sp.sstr(textbook2)}",
                      rf"\delta_2 = {sp.latex(textbook2)}"),)),
             Proof("f' textbook forms", all(p.holds for p in lemmas),
                   _merge(p.methods for p in lemmas),
                   "; ".join(p.detail for p in lemmas if p.detail))),
        Step("Output error δ₂",
             "The chain rule through ŷ = f₂(z₂), elementwise: how the loss changes with "
             "each output pre-activation.  Since z₂ = W₂a₁ + b₂, it is also ∂L/∂b₂.",
             (_eq(*_CLAIMS["b2"]),), proofs["b2"]),
        Step("Output weights",
             "(W₂)ₖⱼ multiplies (a₁)ⱼ in (z₂)ₖ, so ∂L/∂(W₂)ₖⱼ = (δ₂)ₖ (a₁)ⱼ: an outer product.",
             (_eq(*_CLAIMS["W2"]),), proofs["W2"]),
        Step("Hidden error δ₁",
             "(a₁)ⱼ feeds every output k with weight (W₂)ₖⱼ: sum the output errors back "
             "through W₂ᵀ, then through the hidden activation's slope.",
             (_eq(*_CLAIMS["b1"]),), proofs["b1"]),
        Step("Hidden weights",
             "As for the output layer, with the network's input in place of a₁.  Written "
             "out for one entry, the chain rule runs through every output: "
             "∂L/∂(W₁)ⱼᵢ = Σₖ ∂L/∂ŷₖ · f₂'((z₂)ₖ) · (W₂)ₖⱼ · f₁'((z₁)ⱼ) · xᵢ.",
             (_eq(*_CLAIMS["W1"]),), proofs["W1"]),
        Step("Input gradient",
             "The same rule once more gives the gradient a layer below this one would "
             "receive.",
             (_eq(*_CLAIMS["x"]),), proofs["x"]),
    ]
    expressions: dict[str, sp.Basic] = {"L": full, **{f"d{k}": v for k, v in bp.items()},
                                        **forward}
    title = (f"Backpropagation through {n_in}-{n_hidden}-{n_out}: hidden {hidden}, "
             f"output {output}, loss {loss}")
    return Derivation(title, steps, expressions)


def _merge(methods: Iterable[dict[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for m in methods:
        for k, v in m.items():
            merged[k] = merged.get(k, 0) + v
    return merged


# ======================================================================== linear collapse


def linear_collapse(sizes: Sequence[int] = (3, 4, 2)) -> Derivation:
    """Without activations, stacked layers are one affine map.

    For two layers, :math:`W_2(W_1x + b_1) + b_2 = (W_2W_1)x + (W_2b_1 + b_2)`,
    proven with matrix symbols (any sizes) and on explicit matrices at
    ``sizes``; for more layers the collapsed map is
    :math:`W = W_L\\cdots W_1`, :math:`b = \\sum_\\ell W_L\\cdots W_{\\ell+1} b_\\ell`.

    Examples
    --------
    >>> d = linear_collapse((2, 3, 3, 1))
    >>> d.all_proven, d.expressions["W"].shape
    (True, (1, 2))
    """
    sizes = [int(n) for n in sizes]
    if len(sizes) < 3 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least input, one hidden and output width; "
                         f"got {sizes}")
    # --- any sizes: matrix algebra (distributivity, associativity)
    n, h, m = sp.symbols("n h m", integer=True, positive=True)
    W1, W2 = sp.MatrixSymbol("W_1", h, n), sp.MatrixSymbol("W_2", m, h)
    b1, b2 = sp.MatrixSymbol("b_1", h, 1), sp.MatrixSymbol("b_2", m, 1)
    xm = sp.MatrixSymbol("x", n, 1)
    stacked = W2 * (W1 * xm + b1) + b2
    collapsed = (W2 * W1) * xm + (W2 * b1 + b2)
    abstract_ok = sp.expand(stacked) == sp.expand(collapsed)
    abstract = Proof("W₂(W₁x + b₁) + b₂ = (W₂W₁)x + (W₂b₁ + b₂) for matrices of any size",
                     abstract_ok, {"expand": 1}, "matrix-symbol algebra")
    # --- explicit matrices at the given sizes, any depth
    x = _symbols("x", sizes[0])
    Ws = [_symbols(f"W{k + 1}", sizes[k + 1], sizes[k]) for k in range(len(sizes) - 1)]
    bs = [_symbols(f"b{k + 1}", sizes[k + 1]) for k in range(len(sizes) - 1)]
    out = x
    for W, b in zip(Ws, bs):
        out = W * out + b
    W_total = Ws[0]
    for W in Ws[1:]:
        W_total = W * W_total
    b_total = sp.zeros(sizes[-1], 1)
    for k, b in enumerate(bs):
        product = sp.eye(sizes[-1])
        for W in reversed(Ws[k + 1:]):
            product = product * W
        b_total += product * b
    concrete = prove_equal(f"{len(Ws)} layers at sizes {'-'.join(map(str, sizes))} equal one "
                           "affine map", list(out), list(W_total * x + b_total))
    layers = len(Ws)
    steps = [
        Step("Two layers without activation",
             "Substitute the first layer into the second and use distributivity and "
             "associativity of the matrix product.",
             (_eq("W₂(W₁x + b₁) + b₂ = W₂W₁x + W₂b₁ + b₂ = (W₂W₁)x + (W₂b₁ + b₂)",
                  r"W_2(W_1x + b_1) + b_2 = W_2W_1x + W_2b_1 + b_2 = "
                  r"(W_2W_1)\,x + (W_2b_1 + b_2)"),),
             abstract),
        Step(f"{layers} layers at explicit sizes",
             "The same holds for any depth: the product of the weight matrices is the "
             "single weight, each bias carried through the layers above it adds to the "
             "single bias.  Checked entry by entry on explicit matrices.",
             (_eq("W = W_L ⋯ W_1,   b = Σ_l W_L ⋯ W_{l+1} b_l",
                  r"W = W_L \cdots W_1, \qquad b = \sum_\ell W_L \cdots W_{\ell+1}\, b_\ell"),),
             concrete),
        Step("Why activations matter",
             "Depth adds nothing without a non-linearity: the stack can only represent "
             "affine maps, the same set as one layer.  A non-polynomial activation between "
             "the layers is what lets a network approximate any continuous function "
             "(Leshno, Lin, Pinkus & Schocken, 1993).",
             ()),
    ]
    return Derivation("A network without activations is one linear map", steps,
                      {"W": W_total, "b": b_total, "output": out})
