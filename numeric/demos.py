"""The lesson's demonstrations, as results that print and plot.

:func:`approximate_demo`
    Universal approximation without training: random tanh neurons and least
    squares for x·sin x, shallow and "deeper", a table of the fit error as the
    number of neurons grows, and the softmax → argmax example.
:func:`train_demo`
    Learning by gradient descent: a one-hidden-layer tanh network trained to
    fit x·sin x (mean squared error below 1e-3), and a small classifier for two
    interleaved spirals judged on a held-out test set with accuracy,
    precision, recall, F1 and the confusion matrix.

Each returns a report object whose :meth:`format` gives the printable text;
:func:`save_plot` draws it with matplotlib, an optional extra imported only
when a plot is asked for.

Examples
--------
>>> report = approximate_demo(neuron_counts=(1, 10))
>>> print(report.format().splitlines()[0])
Universal approximation of y = x·sin(x) on [0, 10] (100 points)
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .approximation import (
    LESSON_LOGITS,
    LESSON_NEURON_COUNTS,
    LeastSquaresFit,
    SoftmaxExample,
    error_table,
    lesson_data,
    random_tanh_fit,
    softmax_argmax,
    two_spirals,
)
from .metrics import accuracy, confusion_matrix, precision_recall_f1
from .mlp import MLP
from .optim import Adam
from .training import History, train

__all__ = [
    "PLOT_MISSING_MESSAGE",
    "PlotUnavailableError",
    "ApproximationReport",
    "RegressionResult",
    "ClassificationResult",
    "TrainReport",
    "approximate_demo",
    "train_demo",
    "save_plot",
    "require_matplotlib",
    "REGRESSION_EPOCHS",
    "SPIRAL_EPOCHS",
]

PLOT_MISSING_MESSAGE = "matplotlib is not installed; pip install 'nnderive[plot]'"

#: the stated budget of the x·sin x fit: full-batch Adam steps
REGRESSION_EPOCHS = 5000
#: the stated budget of the spirals classifier: epochs of minibatches of 50
SPIRAL_EPOCHS = 200


class PlotUnavailableError(ImportError):
    """matplotlib, needed for ``--plot``, is not installed."""

    def __init__(self) -> None:
        super().__init__(PLOT_MISSING_MESSAGE)


def require_matplotlib() -> Any:
    """Import matplotlib's :class:`~matplotlib.figure.Figure`, or raise
    :class:`PlotUnavailableError` with the install hint."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailableError() from None
    return Figure


# ------------------------------------------------------------------ approximate


@dataclass(frozen=True)
class ApproximationReport:
    """Results of :func:`approximate_demo`."""

    shallow: LeastSquaresFit
    deep: LeastSquaresFit
    table: list[tuple[int, LeastSquaresFit, LeastSquaresFit]]
    softmax: SoftmaxExample

    def format(self) -> str:
        """The printable report."""
        s, d = self.shallow, self.deep
        lines = [
            f"Universal approximation of y = x·sin(x) on [0, 10] ({s.x.size} points)",
            f"hidden neurons tanh(w·x + b), w and b uniform on [0, 1) "
            f"(np.random.seed({s.seed})), output weights by least squares",
            "",
            f"{s.n_neurons} neurons, one tanh layer:   MSE {s.mse:.4g}   "
            f"max |error| {s.max_error:.4g}",
            f"{d.n_neurons} neurons, two tanh layers:  MSE {d.mse:.4g}   "
            f"max |error| {d.max_error:.4g}   "
            "(second layer tanh(v·h + d), elementwise)",
            "",
            "fit error as the number of neurons grows",
            f"{'neurons':>8}  {'MSE, 1 layer':>13}  {'MSE, 2 layers':>13}  {'rank':>4}",
        ]
        for n, shallow, deep in self.table:
            lines.append(f"{n:>8}  {shallow.mse:>13.4e}  {deep.mse:>13.4e}  {shallow.rank:>4}")
        lines += [
            "(rank: numerical rank of the tanh features; random features on 100 points",
            " stop adding new directions long before 100 neurons)",
            "",
            "classification output: logits -> softmax -> argmax",
            "  logits        " + "  ".join(f"{v:7.2f}" for v in self.softmax.logits),
            "  probabilities " + "  ".join(f"{v:7.4f}" for v in self.softmax.probabilities),
            f"  sum of probabilities {self.softmax.probabilities.sum():.6f}; "
            f"argmax = class {self.softmax.predicted}",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def approximate_demo(n_neurons: int = 10,
                     neuron_counts: Sequence[int] = LESSON_NEURON_COUNTS,
                     seed: int = 42, logits: Sequence[float] = LESSON_LOGITS
                     ) -> ApproximationReport:
    """Random tanh features + least squares for x·sin x, and the softmax example.

    Parameters
    ----------
    n_neurons : int, default 10
        Width of the headline fits (the lesson uses 10).
    neuron_counts : sequence of int
        Widths for the table of fit errors.
    seed : int, default 42
        Seed of the legacy NumPy generator, as ``np.random.seed(42)``.
    logits : sequence of float
        The logits of the softmax → argmax example.

    Examples
    --------
    >>> report = approximate_demo()
    >>> round(report.shallow.mse, 3), report.softmax.predicted
    (0.079, 1)
    """
    return ApproximationReport(
        shallow=random_tanh_fit(n_neurons, seed=seed),
        deep=random_tanh_fit(n_neurons, deep=True, seed=seed),
        table=error_table(neuron_counts, seed=seed),
        softmax=softmax_argmax(logits),
    )


# ------------------------------------------------------------------ train


@dataclass
class RegressionResult:
    """The x·sin x fit by a trained network."""

    net: MLP
    history: History
    x: np.ndarray
    y: np.ndarray
    prediction: np.ndarray
    #: MSE on the training points, and on 1000 points of [0, 10] between them
    mse: float
    mse_dense: float
    epochs: int
    learning_rate: float


@dataclass
class ClassificationResult:
    """The spirals classifier and its scores on the held-out test set."""

    net: MLP
    history: History
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    predicted: np.ndarray
    train_accuracy: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    confusion: np.ndarray
    epochs: int


def _scale(x: np.ndarray) -> np.ndarray:
    # [0, 10] -> [-1, 1]: tanh units learn fastest on inputs of order 1.
    return x / 5.0 - 1.0


def fit_x_sin_x(*, hidden: int = 32, epochs: int = REGRESSION_EPOCHS, lr: float = 0.01,
                seed: int = 0, progress: Any = False) -> RegressionResult:
    """Train a 1-``hidden``-1 tanh network on x·sin x (100 points of [0, 10]).

    Full-batch Adam for ``epochs`` steps; the input is rescaled to [-1, 1],
    the target is not.  The MSE is that of the original ``y``.
    """
    x, y = lesson_data()
    inputs = _scale(x)[:, None]
    net = MLP([1, hidden, 1], activations="tanh", loss="mse", seed=seed)
    history = train(net, inputs, y[:, None], optimizer=Adam(net.parameters(), lr=lr),
                    epochs=epochs, batch_size=None, shuffle=False, progress=progress)
    prediction = net.predict(inputs)[:, 0]
    x_dense, y_dense = lesson_data(1000)
    dense_prediction = net.predict(_scale(x_dense)[:, None])[:, 0]
    return RegressionResult(
        net, history, x, y, prediction,
        mse=float(np.mean((prediction - y) ** 2)),
        mse_dense=float(np.mean((dense_prediction - y_dense) ** 2)),
        epochs=epochs, learning_rate=lr)


def classify_spirals(*, hidden: int = 32, epochs: int = SPIRAL_EPOCHS, lr: float = 0.01,
                     batch_size: int = 50, seed: int = 0, n_per_class: int = 200,
                     progress: Any = False) -> ClassificationResult:
    """Train a 2-``hidden``-``hidden``-2 ReLU classifier on two spirals.

    Training and test sets are drawn independently (spiral seeds ``seed`` and
    ``seed + 1``); softmax cross-entropy on logits, Adam on minibatches.
    """
    x_train, y_train = two_spirals(n_per_class, seed=seed)
    x_test, y_test = two_spirals(n_per_class, seed=seed + 1)
    net = MLP([2, hidden, hidden, 2], activations="relu", loss="softmax_cross_entropy",
              seed=seed)
    history = train(net, x_train, y_train, optimizer=Adam(net.parameters(), lr=lr),
                    epochs=epochs, batch_size=batch_size, seed=seed, progress=progress)
    predicted = np.argmax(net.predict(x_test), axis=1)
    p, r, f = precision_recall_f1(y_test, predicted)
    return ClassificationResult(
        net, history, x_train, y_train, x_test, y_test, predicted,
        train_accuracy=accuracy(y_train, np.argmax(net.predict(x_train), axis=1)),
        accuracy=accuracy(y_test, predicted), precision=float(p), recall=float(r),
        f1=float(f), confusion=confusion_matrix(y_test, predicted), epochs=epochs)


@dataclass
class TrainReport:
    """Results of :func:`train_demo`."""

    regression: RegressionResult
    classification: ClassificationResult
    seconds: dict[str, float] = field(default_factory=dict)

    def format(self) -> str:
        """The printable report."""
        r, c = self.regression, self.classification
        hidden = r.net.sizes[1]
        lines = [
            f"Fitting y = x·sin(x) on [0, 10] with a trained network "
            f"1-{hidden}-1 (tanh hidden, identity output, MSE loss)",
            f"full-batch Adam, learning rate {r.learning_rate:g}, {r.epochs} epochs "
            f"(input rescaled to [-1, 1]), {self.seconds.get('regression', 0.0):.1f}s",
        ]
        width = len(str(r.epochs))
        for epoch in sorted({1, r.epochs // 10, r.epochs // 2, r.epochs} - {0}):
            lines.append(f"  epoch {epoch:>{width}}  loss {r.history.loss[epoch - 1]:.4e}")
        verdict = "below" if r.mse < 1e-3 else "NOT below"
        lines += [
            f"MSE on the 100 training points: {r.mse:.3e} ({verdict} 1e-3)",
            f"MSE on 1000 points of [0, 10]:   {r.mse_dense:.3e}",
            "",
            f"Classifying two interleaved spirals: 2-{c.net.sizes[1]}-{c.net.sizes[2]}-2 "
            "(ReLU hidden, softmax cross-entropy)",
            f"{c.x_train.shape[0]} training and {c.x_test.shape[0]} test points, minibatch Adam, "
            f"{c.epochs} epochs, {self.seconds.get('classification', 0.0):.1f}s",
            f"final training loss {c.history.final_loss:.4e}; "
            f"training accuracy {c.train_accuracy:.2%}",
            f"test accuracy {c.accuracy:.2%}   precision {c.precision:.4f}   "
            f"recall {c.recall:.4f}   F1 {c.f1:.4f}   (positive class 1)",
            "confusion matrix (rows: true class, columns: predicted)",
            "          pred 0  pred 1",
            f"  true 0  {c.confusion[0, 0]:>6}  {c.confusion[0, 1]:>6}",
            f"  true 1  {c.confusion[1, 0]:>6}  {c.confusion[1, 1]:>6}",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def train_demo(*, seed: int = 0, epochs: int = REGRESSION_EPOCHS,
               spiral_epochs: int = SPIRAL_EPOCHS, progress: Any = False) -> TrainReport:
    """Train the x·sin x regressor and the spirals classifier.

    Parameters
    ----------
    seed : int, default 0
        Seeds the weights, the shuffling and the spirals.
    epochs : int, default 5000
        Budget of the x·sin x fit (full-batch steps).
    spiral_epochs : int, default 200
        Budget of the classifier.
    progress : bool or stream
        Passed to :func:`numeric.training.train`.

    Examples
    --------
    >>> report = train_demo(epochs=50, spiral_epochs=2)
    >>> report.regression.history.epochs, report.classification.history.epochs
    (50, 2)
    """
    seconds = {}
    start = time.perf_counter()
    regression = fit_x_sin_x(epochs=epochs, seed=seed, progress=progress)
    seconds["regression"] = time.perf_counter() - start
    start = time.perf_counter()
    classification = classify_spirals(epochs=spiral_epochs, seed=seed, progress=progress)
    seconds["classification"] = time.perf_counter() - start
    return TrainReport(regression, classification, seconds)


# ------------------------------------------------------------------ plots


def _atomic_save(figure: Any, path: Path) -> None:
    """Write the figure to a temporary file beside ``path``, then move it in place."""
    suffix = path.suffix or ".png"
    fd, tmp = tempfile.mkstemp(prefix=".nnderive-", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        figure.savefig(tmp, dpi=110, format=suffix.lstrip("."))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _plot_approximation(figure: Any, report: ApproximationReport) -> None:
    left, right = figure.subplots(1, 2)
    s, d = report.shallow, report.deep
    left.plot(s.x, s.y, "k-", lw=2, label="x·sin x")
    left.plot(s.x, s.prediction, "--", label=f"{s.n_neurons} tanh neurons")
    left.plot(d.x, d.prediction, ":", label=f"{d.n_neurons} neurons, two tanh layers")
    left.set_xlabel("x")
    left.set_title("random tanh features + least squares")
    left.legend()
    counts = [n for n, _, _ in report.table]
    right.loglog(counts, [max(a.mse, 1e-300) for _, a, _ in report.table], "o-",
                 label="one layer")
    right.loglog(counts, [max(b.mse, 1e-300) for _, _, b in report.table], "s--",
                 label="two layers")
    right.set_xlabel("hidden neurons")
    right.set_ylabel("mean squared error")
    right.set_title("fit error")
    right.legend()


def _plot_training(figure: Any, report: TrainReport) -> None:
    fit, loss, spirals = figure.subplots(1, 3)
    r, c = report.regression, report.classification
    fit.plot(r.x, r.y, "k-", lw=2, label="x·sin x")
    fit.plot(r.x, r.prediction, "--", label="trained network")
    fit.set_xlabel("x")
    fit.set_title(f"fit, MSE {r.mse:.1e}")
    fit.legend()
    loss.semilogy(np.arange(1, r.history.epochs + 1), r.history.loss, label="x·sin x (MSE)")
    loss.semilogy(np.linspace(1, r.history.epochs, c.history.epochs), c.history.loss,
                  label="spirals (cross-entropy)")
    loss.set_xlabel("epoch (spirals rescaled)")
    loss.set_title("training loss")
    loss.legend()
    grid = np.linspace(-1.3, 1.3, 200)
    gx, gy = np.meshgrid(grid, grid)
    classes = np.argmax(c.net.predict(np.stack([gx.ravel(), gy.ravel()], axis=1)), axis=1)
    spirals.contourf(gx, gy, classes.reshape(gx.shape), levels=[-0.5, 0.5, 1.5], alpha=0.25)
    for label, marker in ((0, "o"), (1, "^")):
        keep = c.y_test == label
        spirals.scatter(c.x_test[keep, 0], c.x_test[keep, 1], s=8, marker=marker,
                        label=f"class {label}")
    spirals.set_aspect("equal")
    spirals.set_title(f"spirals, test accuracy {c.accuracy:.1%}")
    spirals.legend(loc="lower right")


def save_plot(report: ApproximationReport | TrainReport, path: str | os.PathLike[str]) -> Path:
    """Draw a demo's report into an image file (PNG by default).

    Raises
    ------
    PlotUnavailableError
        If matplotlib is not installed (nothing is written).
    FileNotFoundError
        If the folder of ``path`` does not exist.
    """
    figure_class = require_matplotlib()
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"cannot write {str(target)!r}: folder "
                                f"{str(target.parent)!r} does not exist")
    if isinstance(report, ApproximationReport):
        figure = figure_class(figsize=(11, 4.2), layout="constrained")
        _plot_approximation(figure, report)
    elif isinstance(report, TrainReport):
        figure = figure_class(figsize=(15, 4.5), layout="constrained")
        _plot_training(figure, report)
    else:
        raise TypeError(f"cannot plot a {type(report).__name__}")
    _atomic_save(figure, target)
    return target
