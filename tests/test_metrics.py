"""Metrics against hand-computed confusion matrices and scikit-learn's documented values."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numeric.metrics import (
    UndefinedMetricWarning,
    accuracy,
    confusion_matrix,
    f1_score,
    precision,
    precision_recall_f1,
    recall,
)


def no_warning(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args, **kwargs)


# ---------------------------------------------------------------- binary, by hand


def test_binary_example_counted_by_hand():
    # tp = 3 (indices 0, 3, 6), fn = 1 (1), fp = 1 (4), tn = 3 (2, 5, 7)
    y_true = [1, 1, 0, 1, 0, 0, 1, 0]
    y_pred = [1, 0, 0, 1, 1, 0, 1, 0]
    assert confusion_matrix(y_true, y_pred).tolist() == [[3, 1], [1, 3]]
    assert accuracy(y_true, y_pred) == 6 / 8
    assert precision(y_true, y_pred) == 3 / 4
    assert recall(y_true, y_pred) == 3 / 4
    assert f1_score(y_true, y_pred) == 3 / 4


def test_asymmetric_binary_example():
    # tp = 2, fn = 2, fp = 1, tn = 1
    y_true = [1, 1, 1, 1, 0, 0]
    y_pred = [1, 1, 0, 0, 0, 1]
    assert confusion_matrix(y_true, y_pred).tolist() == [[1, 1], [2, 2]]
    assert precision(y_true, y_pred) == pytest.approx(2 / 3)
    assert recall(y_true, y_pred) == pytest.approx(1 / 2)
    # F1 = 2tp / (2tp + fp + fn) = 4 / 7 = harmonic mean of 2/3 and 1/2
    assert f1_score(y_true, y_pred) == pytest.approx(4 / 7)
    assert 2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2) == pytest.approx(4 / 7)


def test_pos_label_selects_the_other_class():
    y_true = [1, 1, 1, 1, 0, 0]
    y_pred = [1, 1, 0, 0, 0, 1]
    # class 0: tp = 1, fp = 2, fn = 1
    assert precision(y_true, y_pred, pos_label=0) == pytest.approx(1 / 3)
    assert recall(y_true, y_pred, pos_label=0) == pytest.approx(1 / 2)
    assert f1_score(y_true, y_pred, pos_label=0) == pytest.approx(2 / 5)


def test_string_labels():
    y_true = ["spam", "ham", "spam", "ham"]
    y_pred = ["spam", "spam", "spam", "ham"]
    assert precision(y_true, y_pred, pos_label="spam") == pytest.approx(2 / 3)
    assert recall(y_true, y_pred, pos_label="spam") == 1.0
    assert confusion_matrix(y_true, y_pred).tolist() == [[1, 1], [0, 2]]  # ham, spam


# ---------------------------------------------------------------- degenerate cases


def test_no_positive_predictions():
    y_true, y_pred = [1, 0, 1], [0, 0, 0]
    with pytest.warns(UndefinedMetricWarning, match="Precision is ill-defined"):
        assert precision(y_true, y_pred) == 0.0
    assert no_warning(precision, y_true, y_pred, zero_division=1) == 1.0
    assert no_warning(precision, y_true, y_pred, zero_division=0) == 0.0
    assert np.isnan(no_warning(precision, y_true, y_pred, zero_division=np.nan))
    # recall = 0 / 2 and F1 = 0 / 2 are defined: no warning, no zero_division
    assert no_warning(recall, y_true, y_pred) == 0.0
    assert no_warning(f1_score, y_true, y_pred) == 0.0
    assert no_warning(f1_score, y_true, y_pred, zero_division=1) == 0.0
    assert confusion_matrix(y_true, y_pred).tolist() == [[1, 0], [2, 0]]


def test_no_positive_samples():
    y_true, y_pred = [0, 0, 0], [0, 1, 0]
    assert no_warning(precision, y_true, y_pred) == 0.0  # 0 / 1
    with pytest.warns(UndefinedMetricWarning, match="Recall is ill-defined"):
        assert recall(y_true, y_pred) == 0.0
    assert no_warning(recall, y_true, y_pred, zero_division=1) == 1.0
    assert no_warning(f1_score, y_true, y_pred) == 0.0  # 0 / (0 + 1)


def test_a_single_class_all_negative():
    y = [0, 0, 0, 0]
    assert accuracy(y, y) == 1.0
    assert confusion_matrix(y, y).tolist() == [[4]]
    for metric, name in ((precision, "Precision"), (recall, "Recall"), (f1_score, "F-score")):
        with pytest.warns(UndefinedMetricWarning, match=name):
            assert metric(y, y) == 0.0
        assert no_warning(metric, y, y, zero_division=1) == 1.0
        assert np.isnan(no_warning(metric, y, y, zero_division=np.nan))


def test_a_single_class_all_positive():
    y = [1, 1, 1]
    assert confusion_matrix(y, y).tolist() == [[3]]
    assert no_warning(precision_recall_f1, y, y) == (1.0, 1.0, 1.0)
    assert confusion_matrix(y, y, labels=[0, 1]).tolist() == [[0, 0], [0, 3]]


def test_warning_message_follows_scikit_learn():
    with pytest.warns(UndefinedMetricWarning) as record:
        precision([0, 1, 2], [0, 0, 0], average="macro")
    message = str(record[0].message)
    assert "ill-defined and being set to 0.0 in labels with no predicted samples" in message
    assert "zero_division" in message


# ---------------------------------------------------------------- several classes
# The example of scikit-learn's documentation of precision_score, recall_score
# and f1_score, with the values printed there.

Y_TRUE = [0, 1, 2, 0, 1, 2]
Y_PRED = [0, 2, 1, 0, 0, 1]


def test_confusion_matrix_of_the_documented_example():
    # true 0 -> predicted 0, 0; true 1 -> 2, 0; true 2 -> 1, 1
    assert confusion_matrix(Y_TRUE, Y_PRED).tolist() == [[2, 0, 0], [1, 0, 1], [0, 2, 0]]


@pytest.mark.parametrize("metric, average, expected", [
    (precision, "macro", 0.2222222222222222),
    (precision, "micro", 0.3333333333333333),
    (precision, "weighted", 0.2222222222222222),
    (recall, "macro", 0.3333333333333333),
    (recall, "micro", 0.3333333333333333),
    (recall, "weighted", 0.3333333333333333),
    (f1_score, "macro", 0.26666666666666666),
    (f1_score, "micro", 0.3333333333333333),
    (f1_score, "weighted", 0.26666666666666666),
])
def test_documented_averages(metric, average, expected):
    assert metric(Y_TRUE, Y_PRED, average=average) == pytest.approx(expected, rel=1e-12)


def test_documented_per_class_values():
    np.testing.assert_allclose(precision(Y_TRUE, Y_PRED, average=None), [2 / 3, 0, 0])
    np.testing.assert_allclose(recall(Y_TRUE, Y_PRED, average=None), [1, 0, 0])
    np.testing.assert_allclose(f1_score(Y_TRUE, Y_PRED, average=None), [0.8, 0, 0])


def test_documented_zero_division_values():
    y_pred = [0, 0, 0, 0, 0, 0]
    with pytest.warns(UndefinedMetricWarning):
        np.testing.assert_allclose(precision(Y_TRUE, y_pred, average=None), [1 / 3, 0, 0])
    np.testing.assert_allclose(precision(Y_TRUE, y_pred, average=None, zero_division=1),
                               [1 / 3, 1, 1])
    np.testing.assert_allclose(precision(Y_TRUE, y_pred, average=None, zero_division=np.nan),
                               [1 / 3, np.nan, np.nan])
    # NaN values are left out of an average
    assert precision(Y_TRUE, y_pred, average="macro", zero_division=np.nan) == \
        pytest.approx(1 / 3)


def test_micro_average_equals_accuracy_for_single_label_data():
    assert f1_score(Y_TRUE, Y_PRED, average="micro") == pytest.approx(accuracy(Y_TRUE, Y_PRED))


def test_labels_restrict_the_average():
    # only class 0: precision 2/3, recall 1
    assert precision(Y_TRUE, Y_PRED, average="macro", labels=[0]) == pytest.approx(2 / 3)
    assert recall(Y_TRUE, Y_PRED, average="micro", labels=[0, 1]) == pytest.approx(2 / 4)


def test_weighted_average_with_no_support_follows_scikit_learn():
    # labels whose classes never occur in y_true: recall is zero_division,
    # precision 0 because something was predicted
    p, r, f = precision_recall_f1([0, 0], [3, 0], average="weighted", labels=[3],
                                  zero_division=1)
    assert (p, r, f) == (0.0, 1.0, 0.0)


# ---------------------------------------------------------------- confusion matrix options


def test_confusion_matrix_label_order_and_ignored_labels():
    y_true = ["a", "b", "c", "a"]
    y_pred = ["b", "b", "c", "a"]
    assert confusion_matrix(y_true, y_pred, labels=["c", "b", "a"]).tolist() == \
        [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    # samples whose labels are not listed are not counted
    assert confusion_matrix(y_true, y_pred, labels=["a", "b"]).tolist() == [[1, 1], [0, 1]]


def test_confusion_matrix_label_errors():
    with pytest.raises(ValueError, match="none of labels"):
        confusion_matrix([0, 1], [0, 1], labels=[5])
    with pytest.raises(ValueError, match="repeated"):
        confusion_matrix([0, 1], [0, 1], labels=[0, 0])
    with pytest.raises(ValueError, match="non-empty"):
        confusion_matrix([0, 1], [0, 1], labels=[])


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("metric", [accuracy, precision, recall, f1_score, confusion_matrix])
def test_mismatched_lengths_name_both_shapes(metric):
    with pytest.raises(ValueError, match=r"y_true has shape \(3,\), y_pred has shape \(2,\)"):
        metric([0, 1, 1], [0, 1])


@pytest.mark.parametrize("metric", [accuracy, precision, recall, f1_score, confusion_matrix])
def test_empty_input(metric):
    with pytest.raises(ValueError, match="empty"):
        metric([], [])


@pytest.mark.parametrize("metric", [accuracy, precision, recall, f1_score, confusion_matrix])
def test_nan_labels(metric):
    with pytest.raises(ValueError, match="NaN"):
        metric([0.0, np.nan], [0.0, 1.0])
    with pytest.raises(ValueError, match="y_pred contains NaN"):
        metric([0.0, 1.0], [np.nan, 1.0])


def test_two_dimensional_input():
    with pytest.raises(ValueError, match=r"one-dimensional.*\(2, 2\)"):
        accuracy([[0, 1], [1, 0]], [[0, 1], [1, 0]])


def test_binary_average_on_multiclass_data():
    with pytest.raises(ValueError, match="not binary"):
        precision(Y_TRUE, Y_PRED)


def test_invalid_pos_label():
    with pytest.raises(ValueError, match="pos_label=2 is not a valid label"):
        recall([0, 1], [1, 1], pos_label=2)


@pytest.mark.parametrize("bad", ["nan", 0.5, -1, True, None])
def test_invalid_zero_division(bad):
    with pytest.raises(ValueError, match="zero_division"):
        precision([1, 0], [0, 0], zero_division=bad)


def test_invalid_average():
    with pytest.raises(ValueError, match="average must be one of"):
        f1_score([0, 1], [0, 1], average="samples")


# ---------------------------------------------------------------- properties

labels = st.lists(st.integers(0, 3), min_size=1, max_size=40)


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_metrics_agree_with_the_confusion_matrix(data):
    y_true = data.draw(labels)
    y_pred = data.draw(st.lists(st.integers(0, 3), min_size=len(y_true), max_size=len(y_true)))
    cm = confusion_matrix(y_true, y_pred)
    assert cm.sum() == len(y_true)
    assert np.trace(cm) / cm.sum() == pytest.approx(accuracy(y_true, y_pred))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        p = precision(y_true, y_pred, average=None)
        r = recall(y_true, y_pred, average=None)
        f = f1_score(y_true, y_pred, average=None)
        micro = f1_score(y_true, y_pred, average="micro")
    tp = np.diag(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.testing.assert_allclose(p, np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0))
        np.testing.assert_allclose(r, np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0))
        np.testing.assert_allclose(f, np.where(cm.sum(0) + cm.sum(1) > 0,
                                               2 * tp / (cm.sum(0) + cm.sum(1)), 0.0))
    assert micro == pytest.approx(accuracy(y_true, y_pred))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_against_scikit_learn_when_installed(data):
    sklearn = pytest.importorskip("sklearn.metrics")
    y_true = data.draw(st.lists(st.integers(0, 2), min_size=1, max_size=30))
    y_pred = data.draw(st.lists(st.integers(0, 2), min_size=len(y_true), max_size=len(y_true)))
    zero_division = data.draw(st.sampled_from([0, 1, np.nan]))
    for average in ("macro", "micro", "weighted", None):
        ours = precision_recall_f1(y_true, y_pred, average=average, zero_division=zero_division)
        theirs = sklearn.precision_recall_fscore_support(
            y_true, y_pred, average=average, zero_division=zero_division)[:3]
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b)
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred),
                                  sklearn.confusion_matrix(y_true, y_pred))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_binary_against_scikit_learn_when_installed(data):
    sklearn = pytest.importorskip("sklearn.metrics")
    y_true = data.draw(st.lists(st.integers(0, 1), min_size=1, max_size=20))
    y_pred = data.draw(st.lists(st.integers(0, 1), min_size=len(y_true), max_size=len(y_true)))
    zero_division = data.draw(st.sampled_from([0, 1, np.nan]))
    pos_label = data.draw(st.sampled_from([0, 1]))
    ours = precision_recall_f1(y_true, y_pred, pos_label=pos_label, zero_division=zero_division)
    theirs = sklearn.precision_recall_fscore_support(
        y_true, y_pred, average="binary", pos_label=pos_label, zero_division=zero_division)[:3]
    np.testing.assert_allclose(ours, theirs)
