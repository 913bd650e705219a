r"""Universal approximation, the lesson's way: random tanh features and least squares.

The universal approximation theorem says that one hidden layer with enough
neurons approximates any continuous function on a compact set as closely as
wanted.  The lesson shows it without any training: draw the hidden layer at
random and solve only for the output weights, a linear least-squares problem.

* Target: :math:`y = x \sin x` at 100 equally spaced points of [0, 10].
* Hidden layer: :math:`h_j(x) = \tanh(w_j x + b_j)` for :math:`j = 1..n`, with
  :math:`w_j, b_j` drawn uniformly from [0, 1) by NumPy's legacy generator
  seeded with 42 (``np.random.seed(42)``, then ``rand(n)`` for the weights and
  ``rand(n)`` for the biases; :class:`numpy.random.RandomState` makes the same
  draws without touching the global state).
* Output: :math:`\hat y = H c` with :math:`c = \arg\min_c \lVert H c - y \rVert_2`
  (``numpy.linalg.lstsq``; no output bias).
* "Deeper": a second tanh layer applied elementwise to the first,
  :math:`h^{(2)}_j = \tanh(v_j h_j + d_j)`, with :math:`v_j, d_j` the next two
  draws ``rand(n)``, ``rand(n)`` of the same generator; least squares on
  :math:`H^{(2)}`.

The lesson asks for an activation that is non-constant, bounded and
increasing (Cybenko, 1989; Hornik, 1991); Leshno, Lin, Pinkus & Schocken
(1993) showed that *any non-polynomial* activation suffices, which is why ReLU
networks are universal approximators too.

The module also holds the lesson's classification example (logits →
softmax → argmax) and a seeded two-spirals data set.

Examples
--------
>>> fit = random_tanh_fit(10)
>>> fit.weights.round(4)
array([0.3745, 0.9507, 0.732 , 0.5987, 0.156 , 0.156 , 0.0581, 0.8662,
       0.6011, 0.7081])
>>> fit.mse < 1.0
True
>>> softmax_argmax().predicted
1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "LeastSquaresFit",
    "SoftmaxExample",
    "lesson_data",
    "random_tanh_fit",
    "error_table",
    "softmax_argmax",
    "two_spirals",
    "LESSON_LOGITS",
    "LESSON_NEURON_COUNTS",
]

#: the logits of the lesson's classification example
LESSON_LOGITS: tuple[float, ...] = (-2.89, 0.0, -3.40)
#: numbers of hidden neurons in the table of fit errors
LESSON_NEURON_COUNTS: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100)


def _numeric(name: str):
    import numeric  # late: numeric/__init__ may import this module

    return getattr(numeric, name)


def lesson_data(n_points: int = 100, start: float = 0.0, stop: float = 10.0
                ) -> tuple[np.ndarray, np.ndarray]:
    """The target of the lesson, ``y = x sin x`` on ``n_points`` points of [start, stop].

    Examples
    --------
    >>> x, y = lesson_data()
    >>> x.shape, float(x[-1]), float(y[-1].round(4))
    ((100,), 10.0, -5.4402)
    """
    if n_points < 1:
        raise ValueError(f"n_points must be positive; got {n_points}")
    x = np.linspace(start, stop, n_points)
    return x, x * np.sin(x)


@dataclass(frozen=True)
class LeastSquaresFit:
    """A fit with random tanh neurons and least-squares output weights."""

    n_neurons: int
    #: 1 for the lesson's shallow network, 2 for the "deeper" variant
    depth: int
    seed: int
    x: np.ndarray
    y: np.ndarray
    #: first-layer weights w and biases b, shape (n_neurons,)
    weights: np.ndarray
    biases: np.ndarray
    #: second-layer (elementwise) weights and biases; None when depth == 1
    weights2: np.ndarray | None
    biases2: np.ndarray | None
    #: the features the output layer sees, shape (n_points, n_neurons)
    features: np.ndarray
    output_weights: np.ndarray
    prediction: np.ndarray
    #: numerical rank of ``features`` as found by least squares
    rank: int

    @property
    def mse(self) -> float:
        """Mean squared error of the fit."""
        return float(np.mean((self.prediction - self.y) ** 2))

    @property
    def max_error(self) -> float:
        """Largest absolute error of the fit."""
        return float(np.max(np.abs(self.prediction - self.y)))


def random_tanh_fit(n_neurons: int = 10, *, deep: bool = False, seed: int = 42,
                    x: ArrayLike | None = None, y: ArrayLike | None = None) -> LeastSquaresFit:
    """Fit ``y`` with ``n_neurons`` random tanh neurons and least squares (the lesson's demo).

    Parameters
    ----------
    n_neurons : int, default 10
        Width of the hidden layer.
    deep : bool, default False
        Apply a second, elementwise tanh layer before the least squares.
    seed : int, default 42
        Seed of :class:`numpy.random.RandomState` (the legacy generator the
        lesson seeds with ``np.random.seed(42)``).
    x, y : array_like, optional
        Points and target; by default :func:`lesson_data`.

    Returns
    -------
    LeastSquaresFit

    Examples
    --------
    The draws are those of ``np.random.seed(42); np.random.rand(n)``:

    >>> import numpy as np
    >>> np.random.seed(42)
    >>> bool(np.all(np.random.rand(3) == random_tanh_fit(3).weights))
    True
    >>> round(random_tanh_fit(10).mse, 2), round(random_tanh_fit(10, deep=True).mse, 2)
    (0.08, 0.13)
    """
    if n_neurons < 1:
        raise ValueError(f"n_neurons must be positive; got {n_neurons}")
    if x is None and y is None:
        x_points, target = lesson_data()
    elif x is None or y is None:
        raise ValueError("give both x and y, or neither (for the lesson's x sin x)")
    else:
        x_points = np.asarray(x, dtype=np.float64)
        target = np.asarray(y, dtype=np.float64)
        if x_points.ndim != 1 or target.shape != x_points.shape:
            raise ValueError(f"x and y must be one-dimensional and alike: x has shape "
                             f"{x_points.shape}, y has shape {target.shape}")
    rs = np.random.RandomState(seed)
    weights = rs.rand(n_neurons)
    biases = rs.rand(n_neurons)
    dense, tanh = _numeric("dense"), _numeric("tanh")
    # One input, n neurons: W has shape (n, 1), as the dense layer's contract.
    features = tanh(dense(x_points[:, None], weights[:, None], biases))
    weights2 = biases2 = None
    if deep:
        weights2 = rs.rand(n_neurons)
        biases2 = rs.rand(n_neurons)
        features = tanh(features * weights2 + biases2)
    output_weights, _, rank, _ = np.linalg.lstsq(features, target, rcond=None)
    return LeastSquaresFit(n_neurons, 2 if deep else 1, seed, x_points, target, weights, biases,
                           weights2, biases2, features, output_weights,
                           features @ output_weights, int(rank))


def error_table(neuron_counts: Sequence[int] = LESSON_NEURON_COUNTS, *, seed: int = 42
                ) -> list[tuple[int, LeastSquaresFit, LeastSquaresFit]]:
    """Shallow and deep fits for each number of neurons (each reseeded with ``seed``).

    Returns
    -------
    list of (n_neurons, shallow fit, deep fit)

    Examples
    --------
    >>> for n, shallow, deep in error_table((1, 10)):
    ...     print(n, f"{shallow.mse:.3f}", f"{deep.mse:.3f}")
    1 13.731 13.742
    10 0.079 0.127
    """
    return [(n, random_tanh_fit(n, seed=seed), random_tanh_fit(n, deep=True, seed=seed))
            for n in neuron_counts]


@dataclass(frozen=True)
class SoftmaxExample:
    """Logits, their softmax probabilities and the predicted class."""

    logits: np.ndarray
    probabilities: np.ndarray
    predicted: int
    labels: tuple[str, ...] | None = None

    @property
    def predicted_label(self) -> str | int:
        """The name of the predicted class, or its index without names."""
        return self.labels[self.predicted] if self.labels else self.predicted


def softmax_argmax(logits: ArrayLike = LESSON_LOGITS,
                   labels: Sequence[str] | None = None) -> SoftmaxExample:
    r"""Turn logits into probabilities with softmax and pick the class with argmax.

    :math:`p_k = e^{z_k} / \sum_j e^{z_j}`; the probabilities are positive and sum
    to 1, and softmax keeps the order of the logits, so ``argmax p = argmax z``.

    Examples
    --------
    >>> ex = softmax_argmax()
    >>> ex.probabilities.round(4).tolist()
    [0.051, 0.9183, 0.0306]
    >>> ex.predicted, float(ex.probabilities.sum())
    (1, 1.0)
    >>> softmax_argmax(labels=["cat", "dog", "bird"]).predicted_label
    'dog'
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 1 or z.size == 0:
        raise ValueError(f"logits must be a non-empty vector; got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("logits must be finite")
    names = tuple(labels) if labels is not None else None
    if names is not None and len(names) != z.size:
        raise ValueError(f"{len(names)} labels for {z.size} logits")
    p = np.asarray(_numeric("softmax")(z))
    return SoftmaxExample(z, p, int(np.argmax(p)), names)


def two_spirals(n_per_class: int = 200, *, turns: float = 1.5, noise: float = 0.04,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""Two interleaved spirals, a classification problem no straight line solves.

    Class 0 lies along :math:`r(\cos t, \sin t)` with :math:`r = t/(2\pi T)` for
    :math:`t \in [0, 2\pi T]` (``T = turns``); class 1 is the same spiral turned
    by half a revolution.  Points are spread uniformly along the arc length
    (:math:`t \propto \sqrt{u}`) and get Gaussian noise of standard deviation
    ``noise``; coordinates lie in about [-1, 1].

    Parameters
    ----------
    n_per_class : int, default 200
    turns : float, default 1.5
        Revolutions of each spiral.
    noise : float, default 0.04
    seed : int, default 0
        Seed of the :class:`numpy.random.Generator`.

    Returns
    -------
    x : numpy.ndarray, shape (2 * n_per_class, 2)
    labels : numpy.ndarray of int64, shape (2 * n_per_class,)
        0 or 1; the classes alternate (0, 1, 0, 1, ...).

    Examples
    --------
    >>> x, labels = two_spirals(100, seed=1)
    >>> x.shape, labels[:4].tolist(), int(labels.sum())
    ((200, 2), [0, 1, 0, 1], 100)
    """
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be positive; got {n_per_class}")
    if turns <= 0 or noise < 0:
        raise ValueError(f"turns must be positive and noise non-negative; got {turns}, {noise}")
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(size=n_per_class)) * 2 * np.pi * turns
    r = t / (2 * np.pi * turns)
    arm = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    x = np.empty((2 * n_per_class, 2))
    x[0::2] = arm
    x[1::2] = -arm
    x += rng.normal(scale=noise, size=x.shape)
    labels = np.tile(np.array([0, 1], dtype=np.int64), n_per_class)
    return x, labels
