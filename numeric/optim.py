r"""Gradient descent: plain, with momentum (heavy-ball or Nesterov), and Adam.

Learning is the repetition of forward pass → loss → backward pass → update.
An optimizer owns the *update*: it is built on the list of parameter arrays of
a model (``net.parameters()``) and, given the gradients in the same order,
changes those arrays **in place**, so the model sees the new values without
copying.  Every optimizer keeps the dtype of the parameters (float32 stays
float32) and any state it needs (velocities, moment estimates) as arrays of
the same shape and dtype.

Notation: :math:`\theta` a parameter array, :math:`g_t = \nabla_\theta L`
its gradient at step :math:`t = 1, 2, \dots`, :math:`\alpha` the learning rate.

Examples
--------
Minimise :math:`L(\theta) = \tfrac12 \theta^2` (gradient :math:`\theta`):

>>> import numpy as np
>>> theta = np.array([1.0])
>>> opt = SGD([theta], lr=0.1)
>>> for _ in range(3):
...     opt.step([theta.copy()])
>>> theta
array([0.729])
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["Optimizer", "SGD", "Momentum", "Adam"]


class Optimizer:
    """Base class: holds the parameter arrays and checks the gradients.

    Parameters
    ----------
    params : sequence of numpy.ndarray
        The arrays to update in place (floating point, writeable).
    lr : float
        The learning rate :math:`\\alpha > 0`.
    """

    def __init__(self, params: Sequence[np.ndarray], lr: float) -> None:
        self.params: list[np.ndarray] = list(params)
        if not self.params:
            raise ValueError("the optimizer was given no parameters")
        for i, p in enumerate(self.params):
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise TypeError(f"parameter {i} must be a floating-point numpy array "
                                f"(updated in place); got {type(p).__name__}"
                                + (f" of dtype {p.dtype}" if isinstance(p, np.ndarray) else ""))
            if not p.flags.writeable:
                raise ValueError(f"parameter {i} (shape {p.shape}) is read-only")
        if not (isinstance(lr, (int, float, np.floating)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning rate must be a positive finite number; got {lr!r}")
        self.lr = float(lr)
        #: number of updates made so far
        self.t = 0

    def _check(self, grads: Sequence[np.ndarray]) -> list[np.ndarray]:
        grads = list(grads)
        if len(grads) != len(self.params):
            raise ValueError(f"got {len(grads)} gradients for {len(self.params)} parameters")
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if np.shape(g) != p.shape:
                raise ValueError(f"gradient {i} has shape {np.shape(g)} but parameter {i} "
                                 f"has shape {p.shape}")
        return grads

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """Apply one update to every parameter, in place, given its gradient."""
        grads = self._check(grads)
        self.t += 1
        for i, (p, g) in enumerate(zip(self.params, grads)):
            self._update(i, p, g)

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr:g}, {len(self.params)} parameters)"


class SGD(Optimizer):
    r"""Plain gradient descent: :math:`\theta \leftarrow \theta - \alpha\, g_t`.

    With minibatches this is stochastic gradient descent (Robbins & Monro,
    1951): :math:`g_t` is the gradient of the loss on the current minibatch.

    Parameters
    ----------
    params : sequence of numpy.ndarray
        Arrays updated in place.
    lr : float, default 0.01
        Learning rate :math:`\alpha`.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, -2.0])
    >>> SGD([w], lr=0.5).step([np.array([0.2, 0.4])])
    >>> w
    array([ 0.9, -2.2])
    """

    def __init__(self, params: Sequence[np.ndarray], lr: float = 0.01) -> None:
        super().__init__(params, lr)

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        # lr * g keeps the dtype of g (a Python float is a "weak" scalar).
        p -= self.lr * g


class Momentum(Optimizer):
    r"""Gradient descent with momentum: classical heavy-ball, or Nesterov's.

    Classical momentum (Polyak, 1964; in the form of Sutskever, Martens, Dahl &
    Hinton, 2013), with velocity :math:`v_0 = 0` and momentum
    :math:`\mu \in [0, 1)`:

    .. math::

        v_t = \mu\, v_{t-1} - \alpha\, g_t, \qquad
        \theta_t = \theta_{t-1} + v_t .

    Nesterov's accelerated gradient evaluates the gradient at the look-ahead
    point :math:`\theta + \mu v`.  Written, as is usual, for the shifted
    variable so that the gradient is taken at the stored parameters
    (Bengio, Boulanger-Lewandowski & Pascanu, 2013):

    .. math::

        v_t = \mu\, v_{t-1} - \alpha\, g_t, \qquad
        \theta_t = \theta_{t-1} + \mu\, v_t - \alpha\, g_t .

    Both equal PyTorch's ``SGD(momentum=μ, nesterov=...)`` when the learning
    rate is constant (its buffer is :math:`-v/\alpha`).

    Parameters
    ----------
    params : sequence of numpy.ndarray
        Arrays updated in place.
    lr : float, default 0.01
        Learning rate :math:`\alpha`.
    momentum : float, default 0.9
        :math:`\mu`, in [0, 1).
    nesterov : bool, default False
        Use Nesterov's update.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0])
    >>> opt = Momentum([w], lr=0.1, momentum=0.9)
    >>> opt.step([np.array([1.0])]); w       # v = -0.1
    array([0.9])
    >>> opt.step([np.array([1.0])]); w       # v = 0.9 * -0.1 - 0.1 = -0.19
    array([0.71])
    """

    def __init__(self, params: Sequence[np.ndarray], lr: float = 0.01, momentum: float = 0.9,
                 nesterov: bool = False) -> None:
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1); got {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.velocity = [np.zeros_like(p) for p in self.params]

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        v = self.velocity[i]
        v *= self.momentum
        v -= self.lr * g
        if self.nesterov:
            p += self.momentum * v
            p -= self.lr * g
        else:
            p += v


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015, Algorithm 1), with bias correction.

    With :math:`m_0 = v_0 = 0`, decay rates :math:`\beta_1, \beta_2` and
    :math:`\varepsilon > 0`, all operations elementwise:

    .. math::

        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
        \hat m_t &= m_t / (1 - \beta_1^t), \qquad
        \hat v_t = v_t / (1 - \beta_2^t) \\
        \theta_t &= \theta_{t-1} - \alpha\, \hat m_t / (\sqrt{\hat v_t} + \varepsilon)

    The first step therefore moves each parameter by almost exactly
    :math:`\alpha` against the sign of its gradient.

    Parameters
    ----------
    params : sequence of numpy.ndarray
        Arrays updated in place.
    lr : float, default 0.001
        Step size :math:`\alpha`.
    beta1, beta2 : float, default 0.9 and 0.999
        Decay rates of the first- and second-moment estimates, in [0, 1).
    eps : float, default 1e-8
        :math:`\varepsilon`, keeps the division finite.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, 1.0])
    >>> Adam([w], lr=0.1).step([np.array([3.0, -0.5])])
    >>> w
    array([0.9, 1.1])
    """

    def __init__(self, params: Sequence[np.ndarray], lr: float = 0.001, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name} must be in [0, 1); got {beta!r}")
        if not eps > 0:
            raise ValueError(f"eps must be positive; got {eps!r}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        m, v = self.m[i], self.v[i]
        m *= self.beta1
        m += (1.0 - self.beta1) * g
        v *= self.beta2
        v += (1.0 - self.beta2) * (g * g)
        m_hat_scale = 1.0 / (1.0 - self.beta1 ** self.t)
        v_hat_scale = 1.0 / (1.0 - self.beta2 ** self.t)
        denominator = np.sqrt(v * v_hat_scale)
        denominator += self.eps
        p -= (self.lr * m_hat_scale) * m / denominator
