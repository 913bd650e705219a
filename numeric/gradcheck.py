r"""Finite-difference check of every parameter gradient of a network.

Backpropagation is only as good as the derivatives it chains together, so the
gradients of a whole network are checked against the definition of the
derivative.  For every scalar parameter :math:`\theta_i` the central
difference

.. math::

    \hat g_i = \frac{L(\theta + h_i e_i) - L(\theta - h_i e_i)}{2 h_i},
    \qquad h_i = \varepsilon^{1/3} \max(1, |\theta_i|),

has truncation error :math:`O(h^2)` and rounding error
:math:`O(\varepsilon / h)`; the step :math:`h_i \approx \varepsilon^{1/3}`
(about 6e-6 in float64, scaled with the parameter) balances the two, and it is
adjusted so that :math:`\theta_i \pm h_i` are exact in floating point.

The error of one parameter array is measured relative to the size of its
gradient,

.. math::

    e = \frac{\max_i |g_i - \hat g_i|}{\max(\max_i |g_i|, \max_i |\hat g_i|)},

because an elementwise relative error is meaningless where a gradient entry is
(nearly) zero.  In float64 a correct backward pass gives ``e`` around 1e-9 or
smaller; wrong backpropagation gives ``e`` of order 1.  Float32 networks can be
checked but expect ``e`` near 1e-3.

Examples
--------
>>> import numpy as np
>>> from numeric.mlp import MLP
>>> rng = np.random.default_rng(0)
>>> net = MLP([3, 4, 2], activations="tanh", loss="mse", seed=0)
>>> result = gradcheck(net, rng.normal(size=(5, 3)), rng.normal(size=(5, 2)))
>>> result.max_relative_error < 1e-6
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["GradCheckResult", "ParameterCheck", "gradcheck", "numerical_gradient"]


class Network(Protocol):
    """What :func:`gradcheck` needs of a model (an :class:`~numeric.mlp.MLP` has it)."""

    def parameters(self) -> list[np.ndarray]: ...

    def loss(self, x: ArrayLike, y: ArrayLike) -> float: ...

    def loss_and_gradients(self, x: ArrayLike,
                           y: ArrayLike) -> tuple[float, list[np.ndarray]]: ...


@dataclass(frozen=True)
class ParameterCheck:
    """The check of one parameter array."""

    index: int
    shape: tuple[int, ...]
    relative_error: float
    #: the element where ``|analytic - numerical|`` is largest
    worst_element: tuple[int, ...]
    analytic: np.ndarray
    numerical: np.ndarray


@dataclass(frozen=True)
class GradCheckResult:
    """Per-parameter errors and their maximum."""

    parameters: tuple[ParameterCheck, ...]

    @property
    def max_relative_error(self) -> float:
        """The largest relative error over all parameter arrays."""
        return max((p.relative_error for p in self.parameters), default=0.0)

    def passed(self, tolerance: float = 1e-6) -> bool:
        """Whether every parameter's relative error is at most ``tolerance``."""
        return self.max_relative_error <= tolerance

    def __str__(self) -> str:
        lines = ["parameter  shape          relative error"]
        for p in self.parameters:
            lines.append(f"{p.index:>9}  {str(p.shape):<13}  {p.relative_error:.2e}")
        lines.append(f"max relative error {self.max_relative_error:.2e}")
        return "\n".join(lines)


def numerical_gradient(loss: Callable[[], float], param: np.ndarray) -> np.ndarray:
    """Central-difference gradient of ``loss()`` with respect to ``param``.

    ``param`` is perturbed in place one element at a time and restored
    exactly afterwards; ``loss`` is called twice per element.

    Parameters
    ----------
    loss : callable
        No arguments; returns the scalar loss for the current value of ``param``.
    param : numpy.ndarray
        A floating-point array that ``loss`` reads.

    Returns
    -------
    numpy.ndarray of float64, shaped like ``param``

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, 2.0])
    >>> numerical_gradient(lambda: float(np.sum(w ** 3)), w)   # 3 w^2
    array([ 3., 12.])
    """
    if param.dtype.kind != "f":
        raise TypeError(f"param must be a floating-point array; got dtype {param.dtype}")
    scale = float(np.finfo(param.dtype).eps) ** (1.0 / 3.0)
    grad = np.empty(param.shape, dtype=np.float64)
    flat = param.reshape(-1)  # a view: writes go to param
    if param.size and not np.shares_memory(flat, param):
        raise ValueError("param must be contiguous so that it can be perturbed in place")
    for i in range(flat.size):
        original = flat[i]
        h = scale * max(1.0, abs(float(original)))
        plus = flat.dtype.type(original + h)
        minus = flat.dtype.type(original - h)
        try:
            flat[i] = plus
            loss_plus = loss()
            flat[i] = minus
            loss_minus = loss()
        finally:
            flat[i] = original
        grad.flat[i] = (loss_plus - loss_minus) / (float(plus) - float(minus))
    return grad


def _relative_error(analytic: np.ndarray, numerical: np.ndarray) -> tuple[float, tuple]:
    difference = np.abs(analytic - numerical)
    if difference.size == 0:
        return 0.0, ()
    worst = np.unravel_index(int(np.argmax(difference)), difference.shape)
    size = max(float(np.max(np.abs(analytic))), float(np.max(np.abs(numerical))))
    if size == 0.0:
        return 0.0, tuple(int(i) for i in worst)
    return float(difference[worst] / size), tuple(int(i) for i in worst)


def gradcheck(net: Network, x: ArrayLike, y: ArrayLike,
              parameters: Sequence[int] | None = None) -> GradCheckResult:
    """Compare every backpropagated gradient of ``net`` with central differences.

    Parameters
    ----------
    net : MLP or any object with ``parameters()``, ``loss(x, y)`` and
        ``loss_and_gradients(x, y)``
    x, y : array_like
        A batch and its targets.
    parameters : sequence of int, optional
        Indices into ``net.parameters()`` to check; all by default.

    Returns
    -------
    GradCheckResult
        ``.max_relative_error`` and the per-parameter details.  The network's
        parameters are left exactly as they were.

    Examples
    --------
    >>> import numpy as np
    >>> from numeric.mlp import MLP
    >>> net = MLP([2, 3, 3], activations="sigmoid", loss="softmax_cross_entropy", seed=2)
    >>> x = np.array([[0.5, -1.0], [2.0, 0.1], [-0.3, 0.7], [1.0, 1.0]])
    >>> result = gradcheck(net, x, np.array([0, 1, 2, 1]))
    >>> result.passed(1e-6), [p.shape for p in result.parameters]
    (True, [(3, 2), (3,), (3, 3), (3,)])
    """
    _, analytic = net.loss_and_gradients(x, y)
    analytic = [np.array(g, dtype=np.float64) for g in analytic]
    params = net.parameters()
    indices = range(len(params)) if parameters is None else parameters
    checks = []
    for i in indices:
        numerical = numerical_gradient(lambda: net.loss(x, y), params[i])
        error, worst = _relative_error(analytic[i], numerical)
        checks.append(ParameterCheck(i, tuple(params[i].shape), error, worst, analytic[i],
                                     numerical))
    return GradCheckResult(tuple(checks))
