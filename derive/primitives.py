"""Named primitives: the functions a textbook gives a name of its own.

Each primitive is a SymPy :class:`~sympy.core.function.Function` subclass that
knows four things about itself:

* its textbook derivative (``fdiff``), so ``diff(sigmoid(x), x)`` gives
  ``sigmoid(x)*(1 - sigmoid(x))`` instead of a tangle of exponentials;
* its plain definition (``rewrite(exp)`` / :func:`expand_primitives`), which is
  how every textbook form is *proven* equal to SymPy's raw derivative;
* its LaTeX symbol (``σ``, ``\\operatorname{softplus}``);
* the name of the stable NumPy kernel in :mod:`numeric._kernels` that evaluates
  it (``numpy_kernel``), used by :mod:`derive.codegen`.

Vector primitives act on the last axis of an array: the symbols they take stand
for whole vectors.  :func:`components` expands such an expression into one
scalar expression per component so that SymPy can check it at a concrete size.

Examples
--------
>>> from sympy import Symbol, diff, exp, simplify
>>> x = Symbol("x", real=True)
>>> diff(sigmoid(x), x)
(1 - sigmoid(x))*sigmoid(x)
>>> simplify(expand_primitives(sigmoid(x)) - 1 / (1 + exp(-x)))
0
"""

from __future__ import annotations

from typing import Sequence

import sympy as sp
from sympy import Add, Function, Mul, Pow, S, exp, log


class Primitive(Function):
    """Base class of scalar named primitives."""

    #: name of the function in :mod:`numeric._kernels` that evaluates it
    numpy_kernel: str = ""
    #: name of a kernel that evaluates it together with its relatives in one
    #: pass (``logistic``: σ(±u) and softplus(±u) from one e^{-|u|}); code
    #: generation calls it when an expression needs more than one of them
    fused_kernel: str = ""
    #: LaTeX operator name
    latex_name: str = ""
    #: the exact value at 0, to which SymPy evaluates f(0) (None: left as f(0))
    at_zero: sp.Expr | None = None

    is_real = True

    @classmethod
    def eval(cls, arg):
        if arg is S.Zero and cls.at_zero is not None:
            return cls.at_zero

    def _latex(self, printer, exp=None):  # noqa: D401 - SymPy printer hook
        arg = printer._print(self.args[0])
        base = rf"{self.latex_name}\left({arg}\right)"
        return base if exp is None else rf"{self.latex_name}^{{{exp}}}\left({arg}\right)"

    pretty_name = ""

    def definition(self) -> sp.Expr:  # pragma: no cover - overridden
        raise NotImplementedError

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        return self.definition()

    def _eval_evalf(self, prec):
        return self.definition().evalf(sp.core.evalf.prec_to_dps(prec))


class sigmoid(Primitive):
    r"""Logistic sigmoid :math:`\sigma(x) = 1/(1 + e^{-x})`."""

    numpy_kernel = "sigmoid"
    at_zero = S.Half
    fused_kernel = "logistic"
    latex_name = r"\sigma"
    pretty_name = "σ"

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def definition(self):
        return 1 / (1 + exp(-self.args[0]))


class sigmoid_slope(Primitive):
    r"""The derivative of the sigmoid, :math:`\sigma(x)\,\sigma(-x) = e^{-|x|}/(1 + e^{-|x|})^2`.

    The code of a user's expression of several variables writes σ(u)·σ(−u) as
    it: its kernel member (of ``logistic``) is e/(1 + e(2 + e)) with
    e = e^{−|x|}, one rounding of 1 + e where the product of the two had two
    (the gradient of σ(w·x + b) erred by 4.24 ULP, 2.68 so).

    Examples
    --------
    >>> from sympy import Symbol, diff
    >>> x = Symbol("x", real=True)
    >>> diff(sigmoid_slope(x), x)
    (sigmoid(-x) - sigmoid(x))*sigmoid_slope(x)
    """

    numpy_kernel = "sigmoid_slope"
    at_zero = S.One / 4
    fused_kernel = "logistic"
    latex_name = r"\sigma'"
    pretty_name = "σ′"

    def fdiff(self, argindex=1):
        x = self.args[0]
        return sigmoid_slope(x) * (sigmoid(-x) - sigmoid(x))

    def definition(self):
        x = self.args[0]
        return exp(-x) / (1 + exp(-x)) ** 2


class softplus(Primitive):
    r"""Softplus :math:`\log(1 + e^{x})`."""

    numpy_kernel = "softplus"
    at_zero = log(2)
    fused_kernel = "logistic"
    latex_name = r"\operatorname{softplus}"
    pretty_name = "softplus"

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def definition(self):
        return log(1 + exp(self.args[0]))


class sech2(Primitive):
    r"""Squared hyperbolic secant :math:`\operatorname{sech}^2 x = 1 - \tanh^2 x`."""

    numpy_kernel = "sech2"
    at_zero = S.One
    latex_name = r"\operatorname{sech}^2"
    pretty_name = "sech²"

    def fdiff(self, argindex=1):
        x = self.args[0]
        return -2 * sech2(x) * sp.tanh(x)

    def definition(self):
        x = self.args[0]
        return 4 / (exp(x) + exp(-x)) ** 2


class ndtr(Primitive):
    r"""Standard normal CDF :math:`\Phi(x) = \tfrac12(1 + \operatorname{erf}(x/\sqrt2))`."""

    numpy_kernel = "ndtr"
    fused_kernel = "normal"
    latex_name = r"\Phi"
    pretty_name = "Φ"

    def fdiff(self, argindex=1):
        x = self.args[0]
        return gauss(x)

    def definition(self):
        return (1 + sp.erf(self.args[0] / sp.sqrt(2))) / 2

    def _eval_rewrite_as_erf(self, *args, **kwargs):
        return self.definition()


class erfc(Primitive):
    r"""Complementary error function :math:`1 - \operatorname{erf}(x)`.

    Unlike :class:`sympy.erfc` it never rewrites ``erfc(-u)`` as ``2 - erfc(u)``,
    which would undo the cancellation it exists to avoid.
    """

    numpy_kernel = "erfc"
    latex_name = r"\operatorname{erfc}"
    pretty_name = "erfc"

    def fdiff(self, argindex=1):
        u = self.args[0]
        return -2 * gaussian(u) / sp.sqrt(sp.pi)

    def definition(self):
        return 1 - sp.erf(self.args[0])


class erfcx(Primitive):
    r"""The scaled complementary error function :math:`e^{x^2}\operatorname{erfc}(x)`.

    It falls like 1/(x·√π) where erfc underflows (x > 26.5) and e^{x²}
    overflows, so the log-probabilities of the normal distribution, log Φ(x)
    and log erfc(x), and the ratio φ(x)/Φ(x), are written with it by the
    stabilize stage.  Its kernel needs no exponential for x ≥ 0.

    Examples
    --------
    >>> from sympy import Symbol, diff
    >>> x = Symbol("x", real=True)
    >>> diff(erfcx(x), x)
    2*x*erfcx(x) - 2/sqrt(pi)
    """

    numpy_kernel = "erfcx"
    at_zero = S.One
    latex_name = r"\operatorname{erfcx}"
    pretty_name = "erfcx"

    def fdiff(self, argindex=1):
        x = self.args[0]
        return 2 * x * erfcx(x) - 2 / sp.sqrt(sp.pi)

    def definition(self):
        # SymPy's erfc, not 1 − erf: mpmath evaluates it without cancelling in the tail
        x = self.args[0]
        return exp(x**2) * sp.erfc(x)


class gauss(Primitive):
    r"""Standard normal density :math:`\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}`."""

    numpy_kernel = "gauss"
    fused_kernel = "normal"
    latex_name = r"\varphi"
    pretty_name = "φ"

    def fdiff(self, argindex=1):
        x = self.args[0]
        return -x * gauss(x)

    def definition(self):
        x = self.args[0]
        return exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)


class normal_ratio(Primitive):
    r"""The ratio :math:`\varphi(x)/\Phi(x)`, the derivative of :math:`\log\Phi(x)`.

    The stabilize stage writes φ(u)/Φ(u) as it (the rule ``normal_ratio``):
    both underflow past x = −38.5 (0/0), and its kernel, a member of the
    kernel ``normal``, computes 1/(√(2π)·H(−x)) for x < 0, H the fitted
    normal tail, with no exponential to round.

    Examples
    --------
    >>> from sympy import Symbol, diff
    >>> x = Symbol("x", real=True)
    >>> diff(normal_ratio(x), x)  # −λ(x + λ), a primitive of its own (x + λ cancels for x < 0)
    normal_ratio_slope(x)
    """

    numpy_kernel = "gauss_over_ndtr"
    fused_kernel = "normal"
    latex_name = r"\frac{\varphi}{\Phi}"
    pretty_name = "φ/Φ"
    at_zero = sp.sqrt(2) / sp.sqrt(sp.pi)

    def fdiff(self, argindex=1):
        return normal_ratio_slope(self.args[0])

    def definition(self):
        return gauss(self.args[0]).definition() / ndtr(self.args[0]).definition()


class normal_ratio_slope(Primitive):
    r"""The derivative of φ(x)/Φ(x), :math:`(\log\Phi)''(x) = -\lambda(x + \lambda)`, λ = φ/Φ.

    x + λ cancels for x < 0 (like 1/x²); its kernel, a member of the kernel
    ``normal``, takes a polynomial fitted by :mod:`derive.fits` there.

    Examples
    --------
    >>> from sympy import Symbol, diff
    >>> x = Symbol("x", real=True)
    >>> diff(normal_ratio(x), x)
    normal_ratio_slope(x)
    >>> diff(normal_ratio_slope(x), x)
    -(x + normal_ratio(x))*normal_ratio_slope(x) - (normal_ratio_slope(x) + 1)*normal_ratio(x)
    """

    numpy_kernel = "gauss_over_ndtr_slope"
    fused_kernel = "normal"
    latex_name = r"\left(\frac{\varphi}{\Phi}\right)'"
    pretty_name = "(φ/Φ)′"
    at_zero = -2 / sp.pi

    def fdiff(self, argindex=1):
        x = self.args[0]
        return -normal_ratio_slope(x) * (x + normal_ratio(x)) - normal_ratio(x) * (1 + normal_ratio_slope(x))

    def definition(self):
        ratio = normal_ratio(self.args[0]).definition()
        return -ratio * (self.args[0] + ratio)


class _SquareExponential(Primitive):
    """e^{−x²/d} (d = ``divisor``), with x² formed exactly by the kernel ``normal``."""

    fused_kernel = "normal"
    divisor = 1

    def _latex(self, printer, exp=None):  # noqa: D401 - SymPy printer hook
        arg = printer.parenthesize(self.args[0], 1000, strict=True)  # a power's base
        base = rf"e^{{-{arg}^{{2}}{'' if self.divisor == 1 else f'/{self.divisor}'}}}"
        return base if exp is None else rf"\left({base}\right)^{{{exp}}}"

    def fdiff(self, argindex=1):
        x = self.args[0]
        return -2 * x / self.divisor * self.func(x)

    def definition(self):
        return exp(-self.args[0] ** 2 / self.divisor)


class gaussian(_SquareExponential):
    r"""The Gaussian :math:`e^{-x^2}`, with x² formed exactly by its kernel.

    e^{-x²} of a rounded x² errs by up to x²/2 ULP (203 at x = 20.12);
    erfc′ and a Gaussian radial basis function need it.

    Examples
    --------
    >>> from sympy import Symbol, diff, latex
    >>> x = Symbol("x", real=True)
    >>> diff(gaussian(x), x), latex(gaussian(x + 1))
    (-2*x*gaussian(x), 'e^{-\\left(x + 1\\right)^{2}}')
    """

    numpy_kernel = "gaussian"
    latex_name = r"\operatorname{gaussian}"
    pretty_name = "gaussian"


class gaussian_half(_SquareExponential):
    r"""The Gaussian :math:`e^{-x^2/2}` of the normal density, without its constant 1/√(2π).

    A user's e^{−(x − m)²/2} (a radial basis function) is this, not
    √(2π)·φ(x − m): the kernel's e^{−x²/2} (x² formed exactly) taken as it
    is, where √(2π)·φ multiplied it by 1/√(2π) and by √(2π), each rounded
    (the RBF's gradient 5.5 ULP, now 3.3 on 100,000 random points).

    Examples
    --------
    >>> from sympy import Symbol, diff, latex
    >>> x = Symbol("x", real=True)
    >>> diff(gaussian_half(x), x), latex(gaussian_half(x))
    (-x*gaussian_half(x), 'e^{-x^{2}/2}')
    """

    numpy_kernel = "gaussian_half"
    divisor = 2
    latex_name = r"\operatorname{gaussian\_half}"
    pretty_name = "gaussian_half"


class xlogy(Function):
    r"""``x*log(y)``, defined as 0 where x = 0 (also when y = 0)."""

    numpy_kernel = "xlogy"
    is_real = True

    def fdiff(self, argindex=1):
        x, y = self.args
        return log(y) if argindex == 1 else x / y

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        x, y = self.args
        return x * log(y)

    def _latex(self, printer, exp=None):
        x, y = (printer._print(a) for a in self.args)
        return rf"{x} \log {y}" if exp is None else rf"\left({x} \log {y}\right)^{{{exp}}}"


class xlog1py(Function):
    r"""``x*log1p(y)``, defined as 0 where x = 0 (also when y = -1)."""

    numpy_kernel = "xlog1py"
    is_real = True

    def fdiff(self, argindex=1):
        x, y = self.args
        return sp.log(1 + y) if argindex == 1 else x / (1 + y)

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        x, y = self.args
        return x * log(1 + y)

    def _latex(self, printer, exp=None):
        x, y = (printer._print(a) for a in self.args)
        base = rf"{x} \log\left(1 + {y}\right)"
        return base if exp is None else rf"\left({base}\right)^{{{exp}}}"


class xdivy(Function):
    r"""``x/y``, defined as 0 where x = 0 (also when y = 0): the derivative of xlogy in y.

    xlogy(x, y) is 0 for every y where x = 0, so its derivative x/y is 0
    there too: a cross-entropy's gradient −y/p is 0, not 0/0 = NaN, for a
    class whose target and predicted probability are both 0 (a softmax
    output that underflowed).  TensorFlow calls it ``xdivy`` too.
    """

    numpy_kernel = "xdivy"
    is_real = True

    def fdiff(self, argindex=1):
        x, y = self.args
        return 1 / y if argindex == 1 else -x / y**2

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        x, y = self.args
        return x / y

    def _latex(self, printer, exp=None):
        x, y = (printer._print(a) for a in self.args)
        base = rf"\frac{{{x}}}{{{y}}}"
        return base if exp is None else rf"\left({base}\right)^{{{exp}}}"


class quotient_with_limit(Function):
    r"""``n/d``, and ``limit`` where d = 0: a quotient whose 0/0 has a value.

    A loss gradient such as binary cross-entropy's (ŷ − y)/(ŷ(1 − ŷ)) keeps
    its digits as one quotient, but is 0/0 at ŷ = y = 1, where the loss
    (−log ŷ, 0·log 0 = 0) has the derivative −1: there its partial fractions
    −y/ŷ + (1 − y)/(1 − ŷ), each an xdivy, give it.  The generated code
    evaluates ``limit`` only for a call that has some d = 0.
    """

    numpy_kernel = "quotient_with_limit"
    is_real = True
    nargs = 3

    def fdiff(self, argindex=1):
        n, d, _ = self.args
        return sp.diff(n / d, [n, d][argindex - 1]) if argindex < 3 else S.Zero

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        n, d, _ = self.args
        return n / d

    def _latex(self, printer, exp=None):
        n, d, _ = (printer._print(a) for a in self.args)
        base = rf"\frac{{{n}}}{{{d}}}"
        return base if exp is None else rf"\left({base}\right)^{{{exp}}}"


SCALAR_PRIMITIVES: tuple[type[Function], ...] = (
    sigmoid, sigmoid_slope, softplus, sech2, ndtr, erfc, erfcx, gauss, normal_ratio, normal_ratio_slope, gaussian,
    gaussian_half, xlogy, xlog1py, xdivy)


# --------------------------------------------------------------------------
# Vector primitives: act on the last axis.  Arguments are symbols (or
# elementwise expressions of symbols) that stand for whole vectors.
# --------------------------------------------------------------------------


class VectorPrimitive(Function):
    """A reduction or normalisation over the last axis."""

    numpy_kernel: str = ""
    #: a kernel that computes this primitive together with its relatives (see Primitive)
    fused_kernel: str = ""
    latex_name: str = ""
    #: True when the result has one value per row (broadcast against the row)
    reduces: bool = True
    is_real = True

    def _latex(self, printer, exp=None):
        args = ", ".join(printer._print(a) for a in self.args)
        base = rf"{self.latex_name}\left({args}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


class rowsum(VectorPrimitive):
    r""":math:`\sum_k u_k` over the last axis."""

    numpy_kernel = "rowsum"
    latex_name = r"\textstyle\sum"


class logsumexp(VectorPrimitive):
    r""":math:`\log \sum_k e^{z_k}` over the last axis."""

    numpy_kernel = "logsumexp"
    fused_kernel = "softmax_family"
    latex_name = r"\operatorname{LSE}"


class softmax(VectorPrimitive):
    r""":math:`e^{z_j} / \sum_k e^{z_k}`: one value per component."""

    numpy_kernel = "softmax"
    fused_kernel = "softmax_family"
    latex_name = r"\operatorname{softmax}"
    reduces = False


class softmax_complement(VectorPrimitive):
    r""":math:`1 - \operatorname{softmax}(z)_j`, computed without cancellation."""

    numpy_kernel = "softmax_complement"
    fused_kernel = "softmax_family"
    latex_name = r"\overline{\operatorname{softmax}}"
    reduces = False


class log_softmax(VectorPrimitive):
    r""":math:`z_j - \log\sum_k e^{z_k}`: one value per component."""

    numpy_kernel = "log_softmax"
    fused_kernel = "softmax_family"
    latex_name = r"\log\operatorname{softmax}"
    reduces = False


VECTOR_PRIMITIVES: tuple[type[Function], ...] = (
    rowsum,
    logsumexp,
    softmax,
    softmax_complement,
    log_softmax,
)


def expand_primitives(expr: sp.Expr) -> sp.Expr:
    """Replace every scalar named primitive by its plain definition.

    Examples
    --------
    >>> from sympy import Symbol
    >>> x = Symbol("x")
    >>> expand_primitives(softplus(x))
    log(exp(x) + 1)
    """
    replacements = {}
    for node in sp.preorder_traversal(expr):
        if isinstance(node, Primitive):
            replacements[node] = node.definition()
        elif isinstance(node, xlogy):
            replacements[node] = node.args[0] * log(node.args[1])
        elif isinstance(node, xlog1py):
            replacements[node] = node.args[0] * log(1 + node.args[1])
        elif isinstance(node, (xdivy, quotient_with_limit)):
            replacements[node] = node.args[0] / node.args[1]
    if not replacements:
        return expr
    return expand_primitives(expr.xreplace(replacements))


def components(
    expr: sp.Expr, vectors: dict[sp.Symbol, Sequence[sp.Expr]], index: int
) -> sp.Expr:
    """Component ``index`` of a vector expression at a concrete size.

    ``vectors`` maps each vector symbol to its list of scalar components.
    Elementwise operations act per component; vector primitives are expanded
    into their sums.

    Examples
    --------
    >>> from sympy import symbols
    >>> z, a, b = symbols("z a b")
    >>> components(softmax(z), {z: [a, b]}, 0)
    exp(a)/(exp(a) + exp(b))
    """
    size = len(next(iter(vectors.values())))

    def comp(e: sp.Expr, i: int) -> sp.Expr:
        if e in vectors:
            return vectors[e][i]
        if isinstance(e, rowsum):
            return Add(*[comp(e.args[0], k) for k in range(size)])
        if isinstance(e, logsumexp):
            return log(Add(*[exp(comp(e.args[0], k)) for k in range(size)]))
        if isinstance(e, softmax):
            denominator = Add(*[exp(comp(e.args[0], k)) for k in range(size)])
            return exp(comp(e.args[0], i)) / denominator
        if isinstance(e, softmax_complement):
            return 1 - comp(softmax(e.args[0]), i)
        if isinstance(e, log_softmax):
            return comp(e.args[0], i) - comp(logsumexp(e.args[0]), i)
        if not e.args:
            return e
        return e.func(*[comp(a, i) for a in e.args])

    return comp(expr, index)


__all__ = [
    "Primitive",
    "sigmoid",
    "sigmoid_slope",
    "softplus",
    "sech2",
    "ndtr",
    "erfc",
    "erfcx",
    "gauss",
    "normal_ratio",
    "normal_ratio_slope",
    "gaussian",
    "gaussian_half",
    "xlogy",
    "xlog1py",
    "xdivy",
    "quotient_with_limit",
    "VectorPrimitive",
    "rowsum",
    "logsumexp",
    "softmax",
    "softmax_complement",
    "log_softmax",
    "SCALAR_PRIMITIVES",
    "VECTOR_PRIMITIVES",
    "expand_primitives",
    "components",
]

# Keep linters quiet about names used only in docstrings.
_ = (Mul, Pow)
