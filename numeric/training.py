r"""The training loop: epochs of shuffled minibatches, a loss history, a progress line.

Training repeats four steps until the budget of epochs is spent:

1. forward pass: the network's prediction :math:`\hat y = f_\theta(x)` on a minibatch;
2. the loss :math:`L(\hat y, y)`;
3. backward pass: the gradients :math:`\nabla_\theta L` by backpropagation;
4. the update, e.g. :math:`\theta \leftarrow \theta - \alpha \nabla_\theta L`.

One *epoch* visits every training example once, in minibatches of
``batch_size`` examples drawn in an order shuffled by a seeded
:class:`numpy.random.Generator`, so a run is reproducible.  The loss reported
for an epoch is the mean of its minibatch losses weighted by their sizes.

A loss that stops being finite (too large a learning rate, exploding
activations) stops training at once with :class:`TrainingDivergedError`,
which names the epoch and minibatch; the parameters are those before the
failing update, never a silently NaN model.

Examples
--------
>>> import numpy as np
>>> from numeric.mlp import MLP
>>> from numeric.optim import Adam
>>> x = np.linspace(-1, 1, 32).reshape(-1, 1)
>>> net = MLP([1, 8, 1], activations="tanh", seed=0)
>>> history = train(net, x, x ** 2, optimizer=Adam(net.parameters(), lr=0.02),
...                 epochs=200, batch_size=8, seed=0)
>>> len(history.loss), history.loss[-1] < 0.1 * history.loss[0]
(200, True)
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np
from numpy.typing import ArrayLike

from .gradcheck import Network
from .optim import Adam, Optimizer

__all__ = ["History", "TrainingDivergedError", "train", "train_step"]


class TrainingDivergedError(FloatingPointError):
    """The loss became inf or NaN during training.

    Attributes
    ----------
    epoch : int
        The epoch (counting from 1) in which it happened.
    batch : int
        The minibatch within the epoch (counting from 1).
    loss : float
        The offending value.
    """

    def __init__(self, epoch: int, epochs: int, batch: int, batches: int, loss: float,
                 what: str = "the loss is") -> None:
        self.epoch, self.batch, self.loss = epoch, batch, loss
        super().__init__(
            f"training diverged at epoch {epoch} of {epochs} (minibatch {batch} of {batches}): "
            f"{what} {loss}; the parameters are left as they were before this step. "
            "Try a smaller learning rate, scaled inputs, or a different initialisation.")


@dataclass
class History:
    """What a training run reports."""

    #: mean training loss of each epoch
    loss: list[float] = field(default_factory=list)
    #: loss on the validation data after each epoch (empty without validation data)
    validation_loss: list[float] = field(default_factory=list)
    #: wall-clock seconds spent
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self.loss)

    @property
    def final_loss(self) -> float:
        """The last epoch's training loss (NaN before any epoch)."""
        return self.loss[-1] if self.loss else float("nan")


def train_step(net: Network, optimizer: Optimizer, x: ArrayLike, y: ArrayLike) -> float:
    """One step: forward, loss, backward, update.  Returns the loss before the update.

    Examples
    --------
    >>> import numpy as np
    >>> from numeric.mlp import MLP
    >>> from numeric.optim import SGD
    >>> net = MLP([2, 3, 1], seed=0)
    >>> before = net.loss(np.ones((4, 2)), np.ones(4))
    >>> train_step(net, SGD(net.parameters(), lr=0.1), np.ones((4, 2)), np.ones(4)) == before
    True
    >>> net.loss(np.ones((4, 2)), np.ones(4)) < before
    True
    """
    loss, grads = net.loss_and_gradients(x, y)
    optimizer.step(grads)
    return loss


class _Progress:
    """A one-line text progress display: ``epoch 12/100 [##....] loss 1.2e-03``."""

    def __init__(self, stream: TextIO | None, epochs: int, width: int = 24) -> None:
        self.stream, self.epochs, self.width = stream, epochs, width
        self.interactive = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self.every = max(1, epochs // 10)
        self.start = time.perf_counter()

    def update(self, epoch: int, loss: float, validation: float | None) -> None:
        if self.stream is None:
            return
        if not self.interactive and epoch % self.every and epoch != self.epochs:
            return
        filled = round(self.width * epoch / self.epochs)
        bar = "#" * filled + "." * (self.width - filled)
        digits = len(str(self.epochs))
        line = f"epoch {epoch:>{digits}}/{self.epochs} [{bar}] loss {loss:.4e}"
        if validation is not None:
            line += f"  validation {validation:.4e}"
        line += f"  {time.perf_counter() - self.start:.1f}s"
        if self.interactive:
            self.stream.write("\r" + line + ("\n" if epoch == self.epochs else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def abort(self) -> None:
        if self.stream is not None and self.interactive:
            self.stream.write("\n")
            self.stream.flush()


def train(net: Network, x: ArrayLike, y: ArrayLike, *, optimizer: Optimizer | None = None,
          epochs: int = 100, batch_size: int | None = 32, shuffle: bool = True,
          seed: int | None = 0, validation: tuple[ArrayLike, ArrayLike] | None = None,
          progress: bool | TextIO = False) -> History:
    """Train ``net`` on ``(x, y)`` with minibatch gradient descent.

    Parameters
    ----------
    net : MLP
        Any object with ``parameters()``, ``loss`` and ``loss_and_gradients``.
    x, y : array_like
        Training inputs (n_samples, n_inputs) and targets, one row each.
    optimizer : Optimizer, optional
        Built on ``net.parameters()``; by default ``Adam(lr=1e-3)``.
    epochs : int, default 100
        The budget: number of passes over the data.
    batch_size : int or None, default 32
        Examples per update; ``None`` uses the whole set (full-batch descent).
    shuffle : bool, default True
        Reshuffle the order at every epoch.
    seed : int or None, default 0
        Seed of the generator that shuffles.
    validation : (x_val, y_val), optional
        Data whose loss is recorded after every epoch.
    progress : bool or text stream, default False
        ``True`` writes a progress line to ``sys.stderr`` (rewritten in place on
        a terminal, about ten lines otherwise); a stream writes it there.

    Returns
    -------
    History
        The loss of every epoch (and validation loss), and the time taken.

    Raises
    ------
    TrainingDivergedError
        When a minibatch loss or gradient is inf or NaN; the message names the
        epoch and minibatch.  NumPy's floating-point warnings are silenced
        inside the loop because this check replaces them.
    ValueError
        If ``x`` and ``y`` have different numbers of rows (both shapes named)
        or the arguments are out of range.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from numeric.mlp import MLP
    >>> from numeric.optim import SGD
    >>> x = np.linspace(0, 1, 8).reshape(-1, 1)
    >>> net = MLP([1, 2, 1], seed=0)
    >>> out = io.StringIO()
    >>> h = train(net, x, 3 * x, optimizer=SGD(net.parameters(), lr=0.1), epochs=2,
    ...           batch_size=4, progress=out)
    >>> for line in out.getvalue().splitlines():
    ...     print(line.rsplit("  ", 1)[0])      # without the time taken
    epoch 1/2 [############............] loss 1.6734e+00
    epoch 2/2 [########################] loss 6.8171e-01
    >>> train(net, x, x ** 2, optimizer=SGD(net.parameters(), lr=1e6),
    ...       epochs=50)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    numeric.training.TrainingDivergedError: training diverged at epoch 24 of 50 ...
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have one row per example: x has shape {x.shape}, "
                         f"y has shape {y.shape}")
    n = x.shape[0]
    if n == 0:
        raise ValueError("no training data: x is empty")
    if not (isinstance(epochs, (int, np.integer)) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer; got {epochs!r}")
    if batch_size is None:
        batch_size = n
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer or None; got {batch_size!r}")
    if optimizer is None:
        optimizer = Adam(net.parameters(), lr=1e-3)
    stream: TextIO | None
    stream = sys.stderr if progress is True else (progress or None)  # type: ignore[assignment]
    display = _Progress(stream, int(epochs))
    rng = np.random.default_rng(seed)
    starts = range(0, n, batch_size)
    batches = len(starts)
    history = History()
    began = time.perf_counter()
    order = np.arange(n)
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(1, int(epochs) + 1):
                if shuffle:
                    order = rng.permutation(n)
                total = 0.0
                for b, start in enumerate(starts, 1):
                    index = order[start:start + batch_size]
                    loss, grads = net.loss_and_gradients(x[index], y[index])
                    if not math.isfinite(loss):
                        raise TrainingDivergedError(epoch, int(epochs), b, batches, loss)
                    if not all(np.isfinite(g).all() for g in grads):
                        raise TrainingDivergedError(epoch, int(epochs), b, batches, loss,
                                                    "a gradient is not finite; the loss is")
                    optimizer.step(grads)
                    total += loss * len(index)
                history.loss.append(total / n)
                val = None
                if validation is not None:
                    val = net.loss(*validation)
                    history.validation_loss.append(val)
                display.update(epoch, history.loss[-1], val)
    except TrainingDivergedError:
        display.abort()
        raise
    finally:
        history.seconds = time.perf_counter() - began
    return history
