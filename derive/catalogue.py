"""The catalogue: one declarative entry per function.

Every later stage of the pipeline (derive, stabilize, codegen, verify, render,
the command line, the tests and the docs) reads these entries; adding a
function means adding one :class:`Entry` to :data:`ENTRIES` and nothing else.

An entry holds the *plain definition* (elementary functions only, the way a
paper writes it), its parameters with defaults, the conventions at points where
the function is not differentiable, and optionally the derivative in the form
a textbook prints.  The textbook form is never trusted: :mod:`derive.calculus`
proves it equal to SymPy's own derivative of the definition.

Kinds
-----
``activation``
    elementwise ``f(x)``; the derivative is ``df/dx``.
``vector_map``
    ``f(z)`` over the last axis; the derivative is the vector–Jacobian
    product ``gᵀJ`` in the cotangent ``g``.
``loss``
    ``L(ŷ, y) = mean of ℓ``; ``reduction`` says over what (every element, or
    the rows of the batch), and the derivative is ``∂L/∂ŷ`` with ``N`` the
    number of terms in the mean.

Examples
--------
>>> entry = get("sigmoid")
>>> entry.kind
'activation'
>>> entry.definition
1/(1 + exp(-x))
>>> get("sigmod")
Traceback (most recent call last):
...
derive.catalogue.UnknownNameError: unknown function 'sigmod'; did you mean 'sigmoid' or 'log_sigmoid' or 'hard_sigmoid'?
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

import sympy as sp
from sympy import Abs, Piecewise, Rational, erf, exp, log, sqrt, tanh

from .primitives import logsumexp, rowsum, sigmoid, softmax

Kind = Literal["activation", "vector_map", "loss"]
Reduction = Literal["none", "mean_elements", "mean_rows"]

#: the input of an activation
x = sp.Symbol("x", real=True)
#: logits, the input of a vector map (stands for a whole vector)
z = sp.Symbol("z", real=True)
#: the cotangent (upstream gradient) of a vector map
g = sp.Symbol("g", real=True)
#: a prediction and its target (vectors for row losses)
pred = sp.Symbol("yhat", real=True)
target = sp.Symbol("y", real=True)
#: number of terms in a loss's mean
N = sp.Symbol("N", positive=True, integer=True)


class UnknownNameError(KeyError):
    """A name that is not in the catalogue; the message suggests close ones."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0])


@dataclass(frozen=True)
class Parameter:
    """A parameter of an entry: its symbol, default and meaning."""

    symbol: sp.Symbol
    default: float | sp.Expr
    meaning: str

    @property
    def name(self) -> str:
        return self.symbol.name


@dataclass(frozen=True)
class Entry:
    """Everything about one catalogue function."""

    name: str
    kind: Kind
    summary: str
    definition: sp.Expr
    variables: tuple[sp.Symbol, ...]
    params: tuple[Parameter, ...] = ()
    textbook: sp.Expr | None = None
    conventions: str = ""
    kinks: tuple[float, ...] = ()
    reduction: Reduction = "none"
    domain: tuple[float, float] = (-float("inf"), float("inf"))
    target_domain: tuple[float, float] = (0.0, 1.0)
    target_kind: Literal["any", "binary", "sign", "distribution"] = "any"
    reference: str = ""
    tags: tuple[str, ...] = field(default=())
    #: beyond ±grad_clip the derivative equals its value at ±grad_clip in
    #: float64; codegen clips there so that overflowing polynomial factors
    #: (x³ at 1e300) never meet a vanishing one (0·inf = NaN)
    grad_clip: float | None = None

    @property
    def defaults(self) -> dict[sp.Symbol, sp.Expr]:
        """Parameter symbols mapped to their default values (exact)."""
        return {p.symbol: sp.nsimplify(p.default) if isinstance(p.default, float) else p.default
                for p in self.params}

    @property
    def variable(self) -> sp.Symbol:
        """The variable the derivative is taken with respect to."""
        return self.variables[0]


def _p(name: str, default, meaning: str, **assumptions) -> Parameter:
    return Parameter(sp.Symbol(name, **assumptions), default, meaning)


_alpha_leaky = _p("alpha", Rational(1, 100), "slope for x < 0", positive=True)
_alpha_elu = _p("alpha", 1, "saturation value -alpha for x -> -inf", positive=True)
# Klambauer et al. (2017): the fixed-point constants, to 32 digits.
_selu_alpha = _p("alpha", sp.Float("1.6732632423543772848170429916717", 40),
                 "negative saturation", positive=True)
_selu_scale = _p("scale", sp.Float("1.0507009873554804934193349852946", 40),
                 "output scale", positive=True)
_huber_delta = _p("delta", 1, "where the quadratic part meets the linear part",
                  positive=True)

_gelu_c = sqrt(2 / sp.pi)
_gelu_k = Rational(44715, 1000000)

ENTRIES: tuple[Entry, ...] = (
    # ------------------------------------------------------------ activations
    Entry(
        "identity", "activation", "the identity (linear activation)",
        definition=x, variables=(x,),
        reference="Goodfellow, Bengio & Courville, Deep Learning (2016), §6.2.2",
    ),
    Entry(
        "sigmoid", "activation", "logistic sigmoid σ(x), outputs in (0, 1)",
        definition=1 / (1 + exp(-x)), variables=(x,),
        textbook=sigmoid(x) * (1 - sigmoid(x)),
        reference="Goodfellow et al., Deep Learning (2016), §3.10 and §6.2.2.2",
    ),
    Entry(
        "tanh", "activation", "hyperbolic tangent, outputs in (-1, 1); tanh(x) = 2σ(2x) - 1",
        definition=tanh(x), variables=(x,),
        textbook=1 - tanh(x) ** 2,
        reference="LeCun, Bottou, Orr & Müller, Efficient BackProp (1998)",
    ),
    Entry(
        "relu", "activation", "rectified linear unit max(0, x)",
        definition=Piecewise((x, x > 0), (0, True)), variables=(x,),
        conventions="relu'(0) = 0 (as PyTorch and JAX)",
        kinks=(0.0,),
        reference="Nair & Hinton (2010); Glorot, Bordes & Bengio (2011)",
    ),
    Entry(
        "leaky_relu", "activation", "leaky ReLU: x for x > 0, alpha*x otherwise",
        definition=Piecewise((x, x > 0), (_alpha_leaky.symbol * x, True)),
        variables=(x,), params=(_alpha_leaky,),
        conventions="leaky_relu'(0) = alpha (as PyTorch)",
        kinks=(0.0,),
        reference="Maas, Hannun & Ng (2013)",
    ),
    Entry(
        "elu", "activation", "exponential linear unit",
        definition=Piecewise((x, x > 0), (_alpha_elu.symbol * (exp(x) - 1), True)),
        variables=(x,), params=(_alpha_elu,),
        textbook=Piecewise((1, x > 0),
                           (_alpha_elu.symbol * (exp(x) - 1) + _alpha_elu.symbol, True)),
        conventions="elu'(0) = alpha, the left derivative (as PyTorch); continuous when alpha = 1",
        kinks=(0.0,),
        reference="Clevert, Unterthiner & Hochreiter (2016)",
    ),
    Entry(
        "selu", "activation", "scaled ELU, self-normalising",
        definition=_selu_scale.symbol * Piecewise(
            (x, x > 0), (_selu_alpha.symbol * (exp(x) - 1), True)),
        variables=(x,), params=(_selu_alpha, _selu_scale),
        conventions="selu'(0) = scale*alpha, the left derivative (as PyTorch)",
        kinks=(0.0,),
        reference="Klambauer, Unterthiner, Mayr & Hochreiter (2017)",
    ),
    Entry(
        "gelu", "activation", "Gaussian error linear unit x·Φ(x) (exact erf form)",
        definition=x / 2 * (1 + erf(x / sqrt(2))), variables=(x,),
        reference="Hendrycks & Gimpel (2016)",
    ),
    Entry(
        "gelu_tanh", "activation", "GELU, tanh approximation",
        definition=x / 2 * (1 + tanh(_gelu_c * (x + _gelu_k * x**3))), variables=(x,),
        textbook=(1 + tanh(_gelu_c * (x + _gelu_k * x**3))) / 2
        + x / 2 * (1 - tanh(_gelu_c * (x + _gelu_k * x**3)) ** 2)
        * _gelu_c * (1 + 3 * _gelu_k * x**2),
        conventions="the constant 0.044715 and sqrt(2/pi) as in Hendrycks & Gimpel and PyTorch",
        grad_clip=1e10,
        reference="Hendrycks & Gimpel (2016), eq. for the tanh approximation",
    ),
    Entry(
        "softplus", "activation", "softplus log(1 + eˣ), a smooth ReLU",
        definition=log(1 + exp(x)), variables=(x,),
        textbook=sigmoid(x),
        conventions="exact softplus for every x (PyTorch switches to x above a threshold of 20)",
        reference="Dugas et al. (2001)",
    ),
    Entry(
        "softsign", "activation", "softsign x/(1 + |x|)",
        definition=x / (1 + Abs(x)), variables=(x,),
        textbook=1 / (1 + Abs(x)) ** 2,
        conventions="softsign'(0) = 1; the second derivative jumps at 0, so finite "
                    "differences skip it",
        kinks=(0.0,),
        reference="Bergstra et al. (2009); Glorot & Bengio (2010)",
    ),
    Entry(
        "silu", "activation", "sigmoid-weighted linear unit (swish) x·σ(x)",
        definition=x / (1 + exp(-x)), variables=(x,),
        textbook=sigmoid(x) * (1 + x * (1 - sigmoid(x))),
        reference="Elfwing, Uchibe & Doya (2018); Ramachandran, Zoph & Le (2017)",
    ),
    Entry(
        "mish", "activation", "mish x·tanh(softplus(x))",
        definition=x * tanh(log(1 + exp(x))), variables=(x,),
        reference="Misra (2019)",
    ),
    Entry(
        "hard_sigmoid", "activation", "piecewise-linear sigmoid clip(x/6 + 1/2, 0, 1)",
        definition=Piecewise((0, x <= -3), (1, x >= 3), (x / 6 + Rational(1, 2), True)),
        variables=(x,),
        conventions="derivative 0 at x = ±3 (as PyTorch's hardsigmoid)",
        kinks=(-3.0, 3.0),
        reference="Howard et al., MobileNetV3 (2019)",
    ),
    Entry(
        "hard_tanh", "activation", "clip(x, -1, 1)",
        definition=Piecewise((-1, x <= -1), (1, x >= 1), (x, True)), variables=(x,),
        conventions="derivative 0 at x = ±1 (as PyTorch's hardtanh)",
        kinks=(-1.0, 1.0),
        reference="Collobert (2004)",
    ),
    Entry(
        "log_sigmoid", "activation", "log σ(x) = -softplus(-x)",
        definition=log(1 / (1 + exp(-x))), variables=(x,),
        textbook=sigmoid(-x),
        reference="the log-likelihood of a logistic model",
    ),
    Entry(
        "gaussian", "activation", "Gaussian radial basis function exp(−x²)",
        definition=exp(-x**2), variables=(x,),
        textbook=-2 * x * exp(-x**2),
        reference="Broomhead & Lowe (1988), radial basis function networks",
    ),
    # ------------------------------------------------------------ vector maps
    Entry(
        "softmax", "vector_map", "softmax over the last axis: probabilities that sum to 1",
        definition=exp(z) / rowsum(exp(z)), variables=(z,),
        textbook=softmax(z) * (g - rowsum(g * softmax(z))),
        conventions="over the last axis; the VJP is gᵀJ, never a materialised Jacobian",
        reference="Bridle (1990); Goodfellow et al. (2016), §6.2.2.3",
    ),
    Entry(
        "log_softmax", "vector_map", "log of softmax over the last axis",
        definition=z - log(rowsum(exp(z))), variables=(z,),
        textbook=g - softmax(z) * rowsum(g),
        conventions="over the last axis",
        reference="Goodfellow et al. (2016), §6.2.2.3",
    ),
    # ------------------------------------------------------------ losses
    Entry(
        "mse", "loss", "mean squared error (ŷ - y)²",
        definition=(pred - target) ** 2, variables=(pred, target),
        reduction="mean_elements",
        conventions="mean over every element (N = number of elements), as PyTorch's default",
        reference="Gauss; Goodfellow et al. (2016), §5.5.1",
    ),
    Entry(
        "mae", "loss", "mean absolute error |ŷ - y|",
        definition=Abs(pred - target), variables=(pred, target),
        reduction="mean_elements",
        textbook=sp.sign(pred - target) / N,
        conventions="derivative sign(0) = 0 at ŷ = y (as PyTorch); mean over every element",
        kinks=(0.0,),
        reference="Laplace; L1 loss",
    ),
    Entry(
        "huber", "loss", "Huber loss: quadratic within delta, linear outside",
        definition=Piecewise(
            ((pred - target) ** 2 / 2, Abs(pred - target) <= _huber_delta.symbol),
            (_huber_delta.symbol * (Abs(pred - target) - _huber_delta.symbol / 2), True)),
        variables=(pred, target), params=(_huber_delta,), reduction="mean_elements",
        conventions="delta = 1 and mean over every element (as PyTorch's HuberLoss)",
        reference="Huber (1964)",
    ),
    Entry(
        "binary_cross_entropy", "loss", "binary cross-entropy on probabilities ŷ ∈ (0, 1)",
        definition=-(target * log(pred) + (1 - target) * log(1 - pred)),
        variables=(pred, target), reduction="mean_elements",
        textbook=(pred - target) / (pred * (1 - pred)) / N,
        domain=(0.0, 1.0),
        conventions="0·log 0 = 0 (targets of exactly 0 or 1 are fine), and its derivative too: "
                    "∓1/N at ŷ = y ∈ {1, 0}; no clamping of the log",
        reference="Goodfellow et al. (2016), §6.2.2.2",
    ),
    Entry(
        "binary_cross_entropy_with_logits", "loss",
        "binary cross-entropy on logits z: -(y log σ(z) + (1 - y) log(1 - σ(z)))",
        definition=-(target * log(1 / (1 + exp(-pred)))
                     + (1 - target) * log(1 - 1 / (1 + exp(-pred)))),
        variables=(pred, target), reduction="mean_elements",
        textbook=(sigmoid(pred) - target) / N,
        reference="Goodfellow et al. (2016), §6.2.2.2",
    ),
    Entry(
        "cross_entropy", "loss", "cross-entropy -Σ y log ŷ on probabilities (rows sum to 1)",
        definition=-rowsum(target * log(pred)), variables=(pred, target),
        reduction="mean_rows", textbook=-target / pred / N,
        domain=(0.0, 1.0), target_kind="distribution",
        conventions="over the last axis, mean over the rows (N = number of rows); "
                    "one-hot or soft targets; 0·log 0 = 0, and its derivative −y/ŷ is 0 where y = 0",
        reference="Shannon (1948); Goodfellow et al. (2016), §3.13",
    ),
    Entry(
        "softmax_cross_entropy", "loss",
        "cross-entropy of softmax(z) against targets y: -Σ y log softmax(z)",
        definition=-rowsum(target * (pred - log(rowsum(exp(pred))))),
        variables=(pred, target), reduction="mean_rows",
        textbook=(softmax(pred) - target) / N,
        target_kind="distribution",
        conventions="logits over the last axis, mean over the rows (N = number of rows); "
                    "targets are one-hot or soft and each row sums to 1",
        reference="Bridle (1990); Goodfellow et al. (2016), §6.2.2.3",
    ),
    Entry(
        "hinge", "loss", "hinge loss max(0, 1 - y·ŷ) for labels y ∈ {-1, +1}",
        definition=Piecewise((1 - target * pred, target * pred < 1), (0, True)),
        variables=(pred, target), reduction="mean_elements",
        target_kind="sign",
        conventions="derivative 0 at the kink y·ŷ = 1 (as relu'(0) = 0); mean over every element",
        kinks=(1.0,),
        reference="Cortes & Vapnik (1995)",
    ),
    Entry(
        "kl_divergence", "loss", "Kullback–Leibler divergence KL(y ‖ ŷ) = Σ y log(y/ŷ)",
        definition=rowsum(target * log(target) - target * log(pred)),
        variables=(pred, target), reduction="mean_rows",
        textbook=-target / pred / N,
        domain=(0.0, 1.0), target_kind="distribution",
        conventions="ŷ are probabilities (not log-probabilities as in PyTorch's kl_div); "
                    "over the last axis, mean over rows ('batchmean'); 0·log 0 = 0, "
                    "and its derivative −y/ŷ is 0 where y = 0",
        reference="Kullback & Leibler (1951)",
    ),
)

_BY_NAME = {entry.name: entry for entry in ENTRIES}


def names(kind: Kind | None = None) -> list[str]:
    """Names of the catalogue's entries, in catalogue order.

    >>> names("vector_map")
    ['softmax', 'log_softmax']
    """
    return [e.name for e in ENTRIES if kind is None or e.kind == kind]


def get(name: str) -> Entry:
    """The entry called ``name``; an :class:`UnknownNameError` suggests close names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownNameError(unknown_name_message(name, list(_BY_NAME))) from None


def unknown_name_message(name: str, known: list[str]) -> str:
    """``unknown function 'NAME'`` with the closest known names suggested."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    message = f"unknown function {name!r}"
    if close:
        message += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    else:
        message += "; run 'nnderive list' to see the catalogue"
    return message


__all__ = [
    "Entry", "Parameter", "ENTRIES", "UnknownNameError", "get", "names",
    "x", "z", "g", "pred", "target", "N", "logsumexp",
]
