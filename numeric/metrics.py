"""Classification metrics: accuracy, precision, recall, F1 and the confusion matrix.

A classifier is judged on a held-out test set by counting, for each class
``c``, the true positives ``tp`` (predicted ``c``, truly ``c``), false
positives ``fp`` (predicted ``c``, truly something else) and false negatives
``fn`` (truly ``c``, predicted something else):

.. math::

    \\text{precision} = \\frac{tp}{tp + fp}, \\qquad
    \\text{recall} = \\frac{tp}{tp + fn}, \\qquad
    F_1 = \\frac{2\\,tp}{2\\,tp + fp + fn}
        = \\frac{2 \\cdot \\text{precision} \\cdot \\text{recall}}
                {\\text{precision} + \\text{recall}}.

The definitions, the averaging options and the handling of ``0/0`` follow
scikit-learn's documentation (``precision_recall_fscore_support``), so results
can be compared with it:

* ``average="binary"`` (the default) reports the class ``pos_label`` only and
  needs at most two distinct labels;
* ``"macro"`` is the unweighted mean over the classes, ``"weighted"`` the mean
  weighted by each class's support (number of true samples), ``"micro"``
  computes the ratio from the counts summed over the classes (for single-label
  multiclass data micro precision = recall = F1 = accuracy), and ``None``
  returns one value per class;
* when a ratio is ``0/0`` (precision with no predicted samples of the class,
  recall with no true samples, F1 when the class is absent from both) the
  value is ``zero_division``: ``"warn"`` (the default) gives 0 and an
  :class:`UndefinedMetricWarning`, ``0`` or ``1`` give that value silently,
  and ``np.nan`` gives NaN, which the averages then leave out.

Examples
--------
>>> y_true = [1, 0, 1, 1, 0, 0]
>>> y_pred = [1, 0, 0, 1, 1, 0]
>>> confusion_matrix(y_true, y_pred)
array([[2, 1],
       [1, 2]])
>>> accuracy(y_true, y_pred), precision(y_true, y_pred), recall(y_true, y_pred)
(0.667, 0.667, 0.667)
>>> f1_score(["cat", "dog", "dog", "bird"], ["cat", "dog", "cat", "bird"], average="macro")
0.778
"""

from __future__ import annotations

import warnings
from typing import Any, Literal, Union

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "UndefinedMetricWarning",
    "accuracy",
    "confusion_matrix",
    "precision",
    "recall",
    "f1_score",
    "precision_recall_f1",
]

Average = Literal["binary", "macro", "micro", "weighted"] | None
ZeroDivision = Union[Literal["warn"], float]

_AVERAGES = ("binary", "macro", "micro", "weighted", None)


class UndefinedMetricWarning(UserWarning):
    """A metric was ``0/0`` and was set to ``zero_division`` (as scikit-learn warns)."""


# ---------------------------------------------------------------- checking input


def _as_labels(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one label per sample); "
                         f"got shape {array.shape}")
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise ValueError(f"{name} contains NaN; labels must be numbers or strings")
    if array.dtype.kind == "O" and any(isinstance(v, float) and np.isnan(v) for v in array):
        raise ValueError(f"{name} contains NaN; labels must be numbers or strings")
    return array


def _check_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    true = _as_labels(y_true, "y_true")
    pred = _as_labels(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(f"y_true and y_pred have different lengths: "
                         f"y_true has shape {true.shape}, y_pred has shape {pred.shape}")
    if true.size == 0:
        raise ValueError("y_true and y_pred are empty; metrics need at least one sample")
    if (true.dtype.kind in "US") != (pred.dtype.kind in "US") and \
            true.dtype.kind != "O" and pred.dtype.kind != "O":
        raise ValueError(f"y_true ({true.dtype}) and y_pred ({pred.dtype}) mix strings "
                         "and numbers; use one kind of label")
    return true, pred


def _check_zero_division(zero_division: ZeroDivision) -> float:
    if isinstance(zero_division, str):
        if zero_division == "warn":
            return 0.0
    elif isinstance(zero_division, (int, float, np.floating, np.integer)) and not \
            isinstance(zero_division, bool):
        value = float(zero_division)
        if value in (0.0, 1.0) or np.isnan(value):
            return value
    raise ValueError(f"zero_division must be 'warn', 0, 1 or np.nan; got {zero_division!r}")


def _unique_labels(*arrays: np.ndarray) -> np.ndarray:
    return np.unique(np.concatenate([np.asarray(a) for a in arrays]))


# ---------------------------------------------------------------- metrics


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of samples whose predicted label equals the true label.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n_samples,)
        True and predicted labels (numbers or strings).

    Returns
    -------
    float
        ``(number of y_true == y_pred) / n_samples``, in [0, 1].

    Raises
    ------
    ValueError
        If the lengths differ (both shapes are named), the input is empty or
        contains NaN.

    Examples
    --------
    >>> accuracy([0, 1, 2, 2], [0, 2, 2, 2])
    0.75
    >>> accuracy([0, 1], [0, 1, 1])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ... lengths: y_true has shape (2,), y_pred has shape (3,)
    """
    true, pred = _check_pair(y_true, y_pred)
    return float(np.mean(true == pred))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike,
                     labels: ArrayLike | None = None) -> np.ndarray:
    """Counts of (true label, predicted label) pairs.

    ``C[i, j]`` is the number of samples whose true label is ``labels[i]`` and
    whose predicted label is ``labels[j]`` (rows: truth, columns: prediction,
    as scikit-learn).  For two classes ``labels = [negative, positive]`` this
    is ``[[tn, fp], [fn, tp]]``.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n_samples,)
        True and predicted labels.
    labels : array_like, optional
        The classes, in the order of the rows and columns.  By default the
        sorted union of the labels in ``y_true`` and ``y_pred``.  Samples whose
        true or predicted label is not listed are not counted.

    Returns
    -------
    numpy.ndarray of int64, shape (n_labels, n_labels)

    Raises
    ------
    ValueError
        On mismatched lengths, empty input or NaN; if ``labels`` is empty,
        repeats a label, or none of its labels occurs in ``y_true``.

    Examples
    --------
    >>> confusion_matrix([2, 0, 2, 2, 0, 1], [0, 0, 2, 2, 0, 2])
    array([[2, 0, 0],
           [0, 0, 1],
           [1, 0, 2]])
    >>> confusion_matrix(["a", "b"], ["a", "a"], labels=["b", "a"])
    array([[0, 1],
           [0, 1]])
    """
    true, pred = _check_pair(y_true, y_pred)
    if labels is None:
        classes = _unique_labels(true, pred)
    else:
        classes = np.asarray(labels)
        if classes.ndim != 1 or classes.size == 0:
            raise ValueError(f"labels must be a non-empty list of classes; got shape "
                             f"{classes.shape}")
        if np.unique(classes).size != classes.size:
            raise ValueError(f"labels contains repeated classes: {classes.tolist()}")
        if not np.isin(true, classes).any():
            raise ValueError(f"none of labels {classes.tolist()} occurs in y_true")
    n = classes.size
    order = np.argsort(classes, kind="stable")
    sorted_classes = classes[order]

    def index(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        position = np.searchsorted(sorted_classes, values)
        position = np.minimum(position, n - 1)
        found = sorted_classes[position] == values
        return order[position], found

    true_index, true_found = index(true)
    pred_index, pred_found = index(pred)
    keep = true_found & pred_found
    flat = true_index[keep] * n + pred_index[keep]
    return np.bincount(flat, minlength=n * n).reshape(n, n).astype(np.int64)


def _warn(metric: str, cause: str, count: int) -> None:
    which = "labels" if count > 1 else "label"
    warnings.warn(
        f"{metric} is ill-defined and being set to 0.0 in {which} with {cause}. "
        "Use `zero_division` parameter to control this behavior.",
        UndefinedMetricWarning,
        stacklevel=4,
    )


def _divide(numerator: np.ndarray, denominator: np.ndarray, zero_division: ZeroDivision,
            metric: str, cause: str, warn: bool) -> np.ndarray:
    value = _check_zero_division(zero_division)
    undefined = denominator == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        result = numerator / np.where(undefined, 1, denominator)
    result = np.where(undefined, value, result).astype(np.float64)
    if warn and zero_division == "warn" and undefined.any():
        _warn(metric, cause, int(undefined.sum()))
    return result


def _nanaverage(values: np.ndarray, weights: np.ndarray | None) -> float:
    keep = ~np.isnan(values)
    if not keep.any():
        return float("nan")
    if weights is None or weights[keep].sum() == 0:
        return float(np.mean(values[keep]))
    return float(np.average(values[keep], weights=weights[keep]))


def _class_counts(y_true: ArrayLike, y_pred: ArrayLike, average: Average,
                  labels: ArrayLike | None, pos_label: Any
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, predicted and true counts per class (summed for micro)."""
    if average not in _AVERAGES:
        raise ValueError(f"average must be one of {list(_AVERAGES)}; got {average!r}")
    true, pred = _check_pair(y_true, y_pred)
    present = _unique_labels(true, pred)
    if average == "binary":
        if present.size > 2:
            raise ValueError(
                f"the labels are not binary ({present.size} classes: {present.tolist()}) but "
                "average='binary'; choose average='macro', 'micro', 'weighted' or None")
        if pos_label not in present.tolist() and present.size == 2:
            raise ValueError(f"pos_label={pos_label!r} is not a valid label; it should be one "
                             f"of {present.tolist()}")
        classes = np.asarray([pos_label])
    elif labels is None:
        classes = present
    else:
        classes = np.asarray(labels)
        if classes.ndim != 1 or classes.size == 0:
            raise ValueError(f"labels must be a non-empty list of classes; got shape "
                             f"{classes.shape}")
    tp = np.array([np.sum((true == c) & (pred == c)) for c in classes], dtype=np.int64)
    predicted = np.array([np.sum(pred == c) for c in classes], dtype=np.int64)
    actual = np.array([np.sum(true == c) for c in classes], dtype=np.int64)
    if average == "micro":
        tp, predicted, actual = tp.sum(keepdims=True), predicted.sum(keepdims=True), \
            actual.sum(keepdims=True)
    return tp, predicted, actual


def _reduce(per_class: np.ndarray, actual: np.ndarray, average: Average
            ) -> float | np.ndarray:
    if average is None:
        return per_class
    weights = actual.astype(np.float64) if average == "weighted" else None
    return _nanaverage(per_class, weights)


def _weighted_without_support(predicted: np.ndarray, zero_division: ZeroDivision
                              ) -> tuple[float, float, float]:
    # scikit-learn: with average='weighted' and no true sample of any listed
    # class, precision is zero_division when nothing was predicted either
    # (else 0), recall is zero_division, and F1 follows precision.
    value = _check_zero_division(zero_division)
    if predicted.sum() == 0:
        return value, value, value
    return 0.0, value, 0.0


def precision_recall_f1(y_true: ArrayLike, y_pred: ArrayLike, *,
                        average: Average = "binary", pos_label: Any = 1,
                        labels: ArrayLike | None = None,
                        zero_division: ZeroDivision = "warn",
                        ) -> tuple[float | np.ndarray, float | np.ndarray, float | np.ndarray]:
    """Precision, recall and F1 computed together (one pass over the counts).

    Parameters are those of :func:`precision`; warnings are issued for each of
    the three metrics that is ill-defined.

    Examples
    --------
    >>> precision_recall_f1([0, 1, 1, 0], [0, 1, 0, 0])
    (1.0, 0.5, 0.667)
    """
    tp, predicted, actual = _class_counts(y_true, y_pred, average, labels, pos_label)
    if average == "weighted" and actual.sum() == 0:
        _check_zero_division(zero_division)
        return _weighted_without_support(predicted, zero_division)
    p = _divide(tp, predicted, zero_division, "Precision", "no predicted samples", True)
    r = _divide(tp, actual, zero_division, "Recall", "no true samples", True)
    f = _divide(2 * tp, predicted + actual, zero_division, "F-score",
                "no true nor predicted samples", True)
    return _reduce(p, actual, average), _reduce(r, actual, average), _reduce(f, actual, average)


def precision(y_true: ArrayLike, y_pred: ArrayLike, *, average: Average = "binary",
              pos_label: Any = 1, labels: ArrayLike | None = None,
              zero_division: ZeroDivision = "warn") -> float | np.ndarray:
    """Precision ``tp / (tp + fp)``: of the samples predicted as a class, the fraction right.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n_samples,)
        True and predicted labels.
    average : {'binary', 'macro', 'micro', 'weighted', None}, default 'binary'
        ``'binary'``: the class ``pos_label`` only (at most two distinct labels).
        ``'macro'``: unweighted mean over the classes.  ``'micro'``: from the
        counts summed over the classes.  ``'weighted'``: mean weighted by the
        support of each class.  ``None``: an array, one value per class.
    pos_label : label, default 1
        The positive class when ``average='binary'``.  If it does not occur and
        only one label does (a single class), the counts are for ``pos_label``
        (all zero) rather than an error, as in scikit-learn.
    labels : array_like, optional
        Classes to report and average over (not with ``'binary'``); by default
        the sorted union of the labels present.
    zero_division : 'warn', 0, 1 or np.nan, default 'warn'
        Value when there are no predicted samples of a class (``tp + fp = 0``).
        ``'warn'`` acts as 0 and issues :class:`UndefinedMetricWarning`;
        ``np.nan`` values are left out of the averages.

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    No positive prediction at all: precision is 0/0.

    >>> precision([1, 0, 1], [0, 0, 0], zero_division=1)
    1.0
    >>> precision([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1], average=None).tolist()
    [0.667, 0.0, 0.0]
    """
    tp, predicted, actual = _class_counts(y_true, y_pred, average, labels, pos_label)
    if average == "weighted" and actual.sum() == 0:
        return _weighted_without_support(predicted, zero_division)[0]
    p = _divide(tp, predicted, zero_division, "Precision", "no predicted samples", True)
    return _reduce(p, actual, average)


def recall(y_true: ArrayLike, y_pred: ArrayLike, *, average: Average = "binary",
           pos_label: Any = 1, labels: ArrayLike | None = None,
           zero_division: ZeroDivision = "warn") -> float | np.ndarray:
    """Recall ``tp / (tp + fn)``: of the samples truly in a class, the fraction found.

    Parameters are those of :func:`precision`; ``zero_division`` applies when a
    class has no true samples (``tp + fn = 0``).

    Examples
    --------
    >>> recall([1, 0, 1, 1], [1, 0, 0, 0])
    0.333
    >>> recall([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1], average="macro")
    0.333
    """
    tp, predicted, actual = _class_counts(y_true, y_pred, average, labels, pos_label)
    if average == "weighted" and actual.sum() == 0:
        return _weighted_without_support(predicted, zero_division)[1]
    r = _divide(tp, actual, zero_division, "Recall", "no true samples", True)
    return _reduce(r, actual, average)


def f1_score(y_true: ArrayLike, y_pred: ArrayLike, *, average: Average = "binary",
             pos_label: Any = 1, labels: ArrayLike | None = None,
             zero_division: ZeroDivision = "warn") -> float | np.ndarray:
    """F1, the harmonic mean of precision and recall: ``2 tp / (2 tp + fp + fn)``.

    Parameters are those of :func:`precision`.  F1 is ``0/0`` only when a class
    is absent from both ``y_true`` and ``y_pred`` (``tp + fp + fn = 0``); it is
    0 (no warning) when precision or recall alone is ill-defined and tp = 0.

    Examples
    --------
    >>> f1_score([1, 0, 1, 1], [1, 0, 0, 0])
    0.5
    >>> f1_score([0, 0, 0], [0, 0, 0], zero_division=1.0)
    1.0
    """
    tp, predicted, actual = _class_counts(y_true, y_pred, average, labels, pos_label)
    if average == "weighted" and actual.sum() == 0:
        return _weighted_without_support(predicted, zero_division)[2]
    f = _divide(2 * tp, predicted + actual, zero_division, "F-score",
                "no true nor predicted samples", True)
    return _reduce(f, actual, average)

