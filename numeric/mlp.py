r"""A multi-layer perceptron built only from nnderive's generated functions.

Layer :math:`\ell = 1, \dots, L` computes, for a batch of row vectors,

.. math::

    z_\ell = a_{\ell-1} W_\ell^\top + b_\ell, \qquad a_\ell = f_\ell(z_\ell),
    \qquad a_0 = x,

with ``W`` of shape (out, in) and ``b`` of shape (out,), i.e. the contract's
``numeric.dense(a, W, b)``, and :math:`f_\ell` a catalogue activation applied
elementwise (``numeric.NAME_and_grad`` gives the value and the derivative in
one call).  The output activation may also be ``softmax`` or ``log_softmax``
(backpropagated with ``numeric.NAME_vjp``).  The loss is a catalogue loss
``numeric.NAME(pred, target)``, with its gradient from ``numeric.NAME_and_grad``.

Backpropagation runs the chain rule from the loss back to the input:

.. math::

    \delta_L = \frac{\partial L}{\partial a_L} \odot f_L'(z_L), \qquad
    \frac{\partial L}{\partial W_\ell} = \delta_\ell^\top a_{\ell-1}, \qquad
    \frac{\partial L}{\partial b_\ell} = \textstyle\sum_{\text{batch}} \delta_\ell, \qquad
    \delta_{\ell-1} = (\delta_\ell W_\ell) \odot f_{\ell-1}'(z_{\ell-1}),

which is ``numeric.dense_backward(a, W, delta)`` → ``(dx, dW, db)``; the
symbolic proof of these equations is in :mod:`derive.network`.  No other
arithmetic is done here: the model is as trustworthy as the generated
functions it calls.

Examples
--------
>>> import numpy as np
>>> net = MLP([2, 8, 1], activations="tanh", loss="mse", seed=0)
>>> net
MLP([2, 8, 1], activations=['tanh'], output='identity', loss='mse', dtype=float64)
>>> x = np.array([[0.0, 1.0], [1.0, 0.0]])
>>> y = np.array([[1.0], [-1.0]])
>>> loss, grads = net.loss_and_gradients(x, y)
>>> [g.shape for g in grads]
[(8, 2), (8,), (1, 8), (1,)]
>>> net.predict(x).shape
(2, 1)
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = ["MLP", "ACTIVATIONS", "VECTOR_OUTPUTS", "LOSSES", "ROW_LOSSES"]

#: elementwise activations of the catalogue (``numeric.NAME_and_grad``)
ACTIVATIONS: tuple[str, ...] = (
    "identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh",
    "softplus", "softsign", "silu", "mish", "hard_sigmoid", "hard_tanh", "log_sigmoid",
)
#: vector maps usable as the output activation (``numeric.NAME`` and ``NAME_vjp``)
VECTOR_OUTPUTS: tuple[str, ...] = ("softmax", "log_softmax")
#: losses of the catalogue (``numeric.NAME`` and ``numeric.NAME_and_grad``)
LOSSES: tuple[str, ...] = (
    "mse", "mae", "huber", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "cross_entropy", "softmax_cross_entropy", "hinge", "kl_divergence",
)
#: losses over the last axis whose targets are distributions (one-hot rows)
ROW_LOSSES: tuple[str, ...] = ("cross_entropy", "softmax_cross_entropy", "kl_divergence")

ActivationSpec = Union[str, tuple[str, Mapping[str, float]]]

# Weight initialisation by activation: He et al. (2015) for the ReLU family,
# LeCun (1998) normal for SELU (Klambauer et al., 2017), Glorot & Bengio (2010)
# uniform for the saturating ones.
_HE = {"relu", "leaky_relu", "elu", "gelu", "gelu_tanh", "silu", "mish", "softplus"}
_LECUN = {"selu"}
_INITS = ("auto", "glorot", "he", "lecun")


def _contract(name: str) -> Callable[..., Any]:
    """A generated function of the :mod:`numeric` contract, looked up when needed."""
    import numeric  # late: numeric/__init__ may itself import this module

    try:
        return getattr(numeric, name)
    except AttributeError:
        raise NotImplementedError(
            f"numeric.{name} is not available; the generated functions are missing") from None


def _unknown(kind: str, name: str, known: Sequence[str]) -> ValueError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = ("; did you mean " + " or ".join(repr(c) for c in close) + "?") if close \
        else f"; choose one of {', '.join(known)}"
    return ValueError(f"unknown {kind} {name!r}{hint}")


def _spec(spec: ActivationSpec, allowed: Sequence[str], kind: str
          ) -> tuple[str, dict[str, float]]:
    if isinstance(spec, str):
        name, params = spec, {}
    else:
        try:
            name, params = spec[0], dict(spec[1])
        except (TypeError, IndexError, ValueError):
            raise TypeError(f"an {kind} is a name or a (name, parameters) pair; "
                            f"got {spec!r}") from None
    if name not in allowed:
        raise _unknown(kind, name, allowed)
    return name, params


@dataclass
class _Layer:
    activation: str
    params: dict[str, float]
    vector: bool
    forward: Callable[..., np.ndarray] = field(repr=False)
    with_grad: Callable[..., Any] = field(repr=False)


class MLP:
    r"""A fully connected network of any depth with catalogue activations and loss.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths ``[n_inputs, hidden_1, ..., n_outputs]`` (at least two).
    activations : str, (name, params) pair, or a sequence of them
        The activation of each hidden layer; one name is used for all hidden
        layers.  A pair such as ``("leaky_relu", {"alpha": 0.1})`` passes
        parameters to the generated function.
    output : str or (name, params) pair, default ``"identity"``
        The output activation: an elementwise activation or ``"softmax"`` /
        ``"log_softmax"``.  For classification prefer identity with
        ``loss="softmax_cross_entropy"`` (logits in, stable gradient).
    loss : str or (name, params) pair, default ``"mse"``
        A catalogue loss; it is averaged over the batch as the contract says.
    seed : int, default 0
        Seed of the :class:`numpy.random.Generator` that draws the weights.
    dtype : float32 or float64, default float64
        The dtype of parameters, activations and gradients.  Inputs are
        converted to it.
    init : {'auto', 'glorot', 'he', 'lecun'}, default 'auto'
        Weight initialisation.  ``'auto'`` picks per layer from its
        activation: He normal :math:`\mathcal N(0, 2/n_\text{in})` for the ReLU
        family, LeCun normal :math:`\mathcal N(0, 1/n_\text{in})` for SELU, and
        Glorot uniform :math:`U(\pm\sqrt{6/(n_\text{in} + n_\text{out})})`
        otherwise.  Biases start at 0.  Weights are drawn in float64 and then
        rounded, so float32 and float64 networks with one seed start alike.

    Raises
    ------
    ValueError
        On unknown names (close ones are suggested), bad sizes or dtypes.

    Examples
    --------
    >>> net = MLP([3, 5, 4, 2], activations=["relu", ("leaky_relu", {"alpha": 0.1})],
    ...           output="softmax", loss="cross_entropy", seed=1, dtype="float32")
    >>> [p.dtype.name for p in net.parameters()][:2]
    ['float32', 'float32']
    >>> net.n_parameters
    54
    >>> MLP([2, 3, 1], activations="tanhh")
    Traceback (most recent call last):
    ...
    ValueError: unknown activation 'tanhh'; did you mean 'tanh'?
    """

    def __init__(self, sizes: Sequence[int], activations: ActivationSpec | Sequence[
                 ActivationSpec] = "tanh", output: ActivationSpec = "identity",
                 loss: str | tuple[str, Mapping[str, float]] = "mse", *, seed: int = 0,
                 dtype: DTypeLike = np.float64, init: str = "auto") -> None:
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ValueError(f"sizes must list at least two positive widths "
                             f"(inputs, ..., outputs); got {sizes}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64; got {self.dtype}")
        if init not in _INITS:
            raise _unknown("initialisation", init, _INITS)
        self.sizes = sizes
        n_hidden = len(sizes) - 2
        if isinstance(activations, str) or (isinstance(activations, tuple) and
                                            len(activations) == 2 and
                                            isinstance(activations[1], Mapping)):
            hidden_specs = [activations] * n_hidden
        else:
            hidden_specs = list(activations)  # type: ignore[arg-type]
            if len(hidden_specs) == 1:
                hidden_specs = hidden_specs * n_hidden
            if len(hidden_specs) != n_hidden:
                raise ValueError(f"{len(hidden_specs)} activations given for {n_hidden} hidden "
                                 f"layers (sizes {sizes})")
        hidden = [_spec(s, ACTIVATIONS, "activation") for s in hidden_specs]
        out_name, out_params = _spec(output, ACTIVATIONS + VECTOR_OUTPUTS, "output activation")
        loss_name, loss_params = _spec(loss, LOSSES, "loss")

        self._layers: list[_Layer] = []
        for name, params in hidden + [(out_name, out_params)]:
            vector = name in VECTOR_OUTPUTS
            self._layers.append(_Layer(
                name, params, vector, forward=_contract(name),
                with_grad=_contract(name + ("_vjp" if vector else "_and_grad"))))
        self.loss_name, self.loss_params = loss_name, loss_params
        self._loss = _contract(loss_name)
        self._loss_and_grad = _contract(loss_name + "_and_grad")
        self._dense = _contract("dense")
        self._dense_backward = _contract("dense_backward")
        # The first layer's input gradient is never needed; when the generated
        # dense_backward can skip it (keyword ``input_grad``), that saves a third
        # of the first layer's backward work.
        try:
            self._can_skip_input_grad = "input_grad" in inspect.signature(
                self._dense_backward).parameters
        except (TypeError, ValueError):  # pragma: no cover - builtins without signature
            self._can_skip_input_grad = False

        rng = np.random.default_rng(seed)
        self._params: list[np.ndarray] = []
        for n_in, n_out, layer in zip(sizes[:-1], sizes[1:], self._layers):
            scheme = init if init != "auto" else (
                "he" if layer.activation in _HE else
                "lecun" if layer.activation in _LECUN else "glorot")
            if scheme == "he":
                w = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))
            elif scheme == "lecun":
                w = rng.normal(0.0, np.sqrt(1.0 / n_in), size=(n_out, n_in))
            else:
                limit = np.sqrt(6.0 / (n_in + n_out))
                w = rng.uniform(-limit, limit, size=(n_out, n_in))
            self._params += [w.astype(self.dtype), np.zeros(n_out, dtype=self.dtype)]
        self._grads: list[np.ndarray] | None = None

    # ------------------------------------------------------------ description

    @property
    def activations(self) -> list[str]:
        """Names of the hidden activations."""
        return [layer.activation for layer in self._layers[:-1]]

    @property
    def output(self) -> str:
        """Name of the output activation."""
        return self._layers[-1].activation

    @property
    def n_parameters(self) -> int:
        """Total number of scalar parameters."""
        return int(sum(p.size for p in self._params))

    def __repr__(self) -> str:
        return (f"MLP({self.sizes}, activations={self.activations}, output={self.output!r}, "
                f"loss={self.loss_name!r}, dtype={self.dtype.name})")

    # ------------------------------------------------------------ parameters

    def parameters(self) -> list[np.ndarray]:
        """The parameter arrays ``[W_1, b_1, ..., W_L, b_L]``, not copies.

        An optimizer updates them in place; ``W_l`` has shape (out, in).
        """
        return self._params

    def gradients(self) -> list[np.ndarray]:
        """The gradients of the last :meth:`loss_and_gradients`, in the order of
        :meth:`parameters`.

        Raises
        ------
        RuntimeError
            If no gradient has been computed yet.
        """
        if self._grads is None:
            raise RuntimeError("no gradients yet: call loss_and_gradients(x, y) first")
        return self._grads

    # ------------------------------------------------------------ checking input

    def _inputs(self, x: ArrayLike) -> np.ndarray:
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"input x has shape {x.shape} but the network expects "
                             f"(batch, {self.sizes[0]})")
        return x

    def _targets(self, y: ArrayLike, batch: int) -> np.ndarray:
        y = np.asarray(y)
        n_out = self.sizes[-1]
        expected = (batch, n_out)
        if y.shape == expected:
            return y.astype(self.dtype, copy=False)
        if y.shape == (batch,) and self.loss_name in ROW_LOSSES and y.dtype.kind in "iu":
            if y.size and (y.min() < 0 or y.max() >= n_out):
                raise ValueError(f"class labels must lie in [0, {n_out}); got values from "
                                 f"{y.min()} to {y.max()}")
            return np.eye(n_out, dtype=self.dtype)[y]
        if y.shape == (batch,) and n_out == 1:
            return y.astype(self.dtype).reshape(batch, 1)
        raise ValueError(f"target y has shape {y.shape} but the network's output has shape "
                         f"{expected}")

    # ------------------------------------------------------------ computing

    def predict(self, x: ArrayLike) -> np.ndarray:
        """The network's output for a batch ``x`` of shape (batch, n_inputs).

        Only the forward functions are called (no derivative is computed).

        Examples
        --------
        >>> import numpy as np
        >>> net = MLP([1, 4, 1], seed=3)
        >>> net.predict(np.zeros((5, 1))).ravel()        # biases start at 0
        array([0., 0., 0., 0., 0.])
        >>> net.predict(np.zeros((5, 2)))
        Traceback (most recent call last):
        ...
        ValueError: input x has shape (5, 2) but the network expects (batch, 1)
        """
        a = self._inputs(x)
        for layer, (w, b) in zip(self._layers, self._pairs()):
            a = layer.forward(self._dense(a, w, b), **layer.params)
        return a

    def loss(self, x: ArrayLike, y: ArrayLike) -> float:
        """The loss of the network on ``(x, y)`` (forward only)."""
        x = self._inputs(x)
        y = self._targets(y, x.shape[0])
        return float(self._loss(self.predict(x), y, **self.loss_params))

    def loss_and_gradients(self, x: ArrayLike, y: ArrayLike) -> tuple[float, list[np.ndarray]]:
        """Forward pass, loss, and backward pass on one batch.

        Parameters
        ----------
        x : array_like, shape (batch, n_inputs)
        y : array_like
            Targets shaped like the output (batch, n_outputs); also accepted:
            shape (batch,) when there is one output, and integer class labels
            of shape (batch,) for the row losses (one-hot encoded here).

        Returns
        -------
        loss : float
        gradients : list of numpy.ndarray
            ``∂L/∂θ`` for every array of :meth:`parameters`, same order and
            shapes; also kept for :meth:`gradients`.

        Raises
        ------
        ValueError
            If the shape of ``x`` or ``y`` does not fit the network (the
            shapes are named).
        """
        x = self._inputs(x)
        y = self._targets(y, x.shape[0])
        dense, dense_backward = self._dense, self._dense_backward
        pairs = self._pairs()
        inputs: list[np.ndarray] = []
        local: list[np.ndarray] = []  # f'(z) for elementwise layers, z for vector maps
        a = x
        for layer, (w, b) in zip(self._layers, pairs):
            inputs.append(a)
            z = dense(a, w, b)
            if layer.vector:
                a = layer.forward(z, **layer.params)
                local.append(z)
            else:
                a, slope = layer.with_grad(z, **layer.params)
                local.append(slope)
        loss, delta = self._loss_and_grad(a, y, **self.loss_params)
        loss = float(loss)
        grads: list[np.ndarray] = [None] * len(self._params)  # type: ignore[list-item]
        for i in range(len(self._layers) - 1, -1, -1):
            layer = self._layers[i]
            if layer.vector:
                delta = layer.with_grad(local[i], delta, **layer.params)
            else:
                delta = delta * local[i]
            if i == 0 and self._can_skip_input_grad:
                dx, dw, db = dense_backward(inputs[i], pairs[i][0], delta, input_grad=False)
            else:
                dx, dw, db = dense_backward(inputs[i], pairs[i][0], delta)
            grads[2 * i], grads[2 * i + 1] = dw, db
            delta = dx
        self._grads = grads
        return loss, grads

    def _pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        p = self._params
        return [(p[i], p[i + 1]) for i in range(0, len(p), 2)]
