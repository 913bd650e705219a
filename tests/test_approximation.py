"""The universal-approximation demo, checked against the lesson's code written out here."""

import math

import numpy as np
import pytest

from numeric.approximation import (
    LESSON_LOGITS,
    error_table,
    lesson_data,
    random_tanh_fit,
    softmax_argmax,
    two_spirals,
)


def lesson_code(n_neurons=10, deep=False):
    """The lesson's demo as a student would type it (global NumPy seed, np.tanh)."""
    np.random.seed(42)
    x = np.linspace(0, 10, 100)
    y = x * np.sin(x)
    weights = np.random.rand(n_neurons)
    biases = np.random.rand(n_neurons)
    hidden = np.tanh(np.outer(x, weights) + biases)
    if deep:
        hidden = np.tanh(hidden * np.random.rand(n_neurons) + np.random.rand(n_neurons))
    coefficients = np.linalg.lstsq(hidden, y, rcond=None)[0]
    return weights, biases, hidden, coefficients, hidden @ coefficients


@pytest.fixture(autouse=True)
def restore_global_random_state():
    state = np.random.get_state()
    yield
    np.random.set_state(state)


@pytest.mark.parametrize("deep", [False, True])
def test_reproduces_the_lesson(deep):
    weights, biases, hidden, coefficients, prediction = lesson_code(10, deep)
    fit = random_tanh_fit(10, deep=deep)
    np.testing.assert_array_equal(fit.weights, weights)
    np.testing.assert_array_equal(fit.biases, biases)
    np.testing.assert_allclose(fit.features, hidden, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(fit.prediction, prediction, rtol=1e-8, atol=1e-8)
    assert fit.depth == (2 if deep else 1)


def test_the_lesson_draws():
    fit = random_tanh_fit(10)
    # the first draws of NumPy's legacy generator seeded with 42
    np.testing.assert_allclose(fit.weights[:3], [0.37454012, 0.95071431, 0.73199394], atol=1e-8)


def test_does_not_touch_the_global_random_state():
    np.random.seed(7)
    expected = np.random.rand()
    np.random.seed(7)
    random_tanh_fit(5, deep=True)
    assert np.random.rand() == expected


def test_reproducible():
    a, b = random_tanh_fit(20, deep=True), random_tanh_fit(20, deep=True)
    np.testing.assert_array_equal(a.prediction, b.prediction)
    assert a.mse == b.mse


def test_fit_errors_of_the_lesson():
    shallow, deep = random_tanh_fit(10), random_tanh_fit(10, deep=True)
    # measured with NumPy 2.4 / OpenBLAS; least squares makes them reproducible
    assert shallow.mse == pytest.approx(0.0791, rel=1e-2)
    assert deep.mse == pytest.approx(0.127, rel=1e-2)
    assert shallow.max_error == pytest.approx(np.max(np.abs(shallow.prediction - shallow.y)))


def test_error_shrinks_as_neurons_are_added():
    table = error_table()
    counts = [n for n, _, _ in table]
    assert counts == [1, 2, 5, 10, 20, 50, 100]
    shallow = [fit.mse for _, fit, _ in table]
    deep = [fit.mse for _, _, fit in table]
    # a few neurons cannot follow two oscillations; 20 fit to ~1e-8
    assert shallow[0] > 10 and shallow[3] < 0.1
    assert all(later <= earlier * 1.01 for earlier, later in zip(shallow[:5], shallow[1:5]))
    assert max(shallow[4:]) < 1e-6 and max(deep[4:]) < 1e-4
    # each width is a fresh draw (not a superset of the narrower one's
    # neurons), so beyond 20 neurons, at the level of rounding, only the trend
    # is asserted
    assert shallow[-1] < shallow[3] and deep[-1] < deep[3]
    assert all(fit.rank <= fit.n_neurons for _, fit, _ in table)


def test_custom_target():
    x = np.linspace(-1, 1, 30)
    fit = random_tanh_fit(15, x=x, y=x ** 2, seed=0)
    assert fit.mse < 1e-6


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_neurons must be positive"):
        random_tanh_fit(0)
    with pytest.raises(ValueError, match="give both x and y"):
        random_tanh_fit(3, x=np.zeros(3))
    with pytest.raises(ValueError, match=r"x has shape \(3,\), y has shape \(4,\)"):
        random_tanh_fit(3, x=np.zeros(3), y=np.zeros(4))


def test_lesson_data():
    x, y = lesson_data()
    assert x.shape == (100,) and x[0] == 0 and x[-1] == 10
    np.testing.assert_allclose(y, x * np.sin(x))


# ---------------------------------------------------------------- softmax -> argmax


def test_softmax_argmax_example_by_hand():
    e = [math.exp(v) for v in LESSON_LOGITS]
    expected = [v / sum(e) for v in e]
    example = softmax_argmax()
    assert LESSON_LOGITS == (-2.89, 0.0, -3.40)
    np.testing.assert_allclose(example.probabilities, expected, rtol=1e-14)
    np.testing.assert_allclose(example.probabilities, [0.0510, 0.9183, 0.0306], atol=1e-4)
    assert example.probabilities.sum() == pytest.approx(1.0, abs=1e-15)
    assert example.predicted == 1 == int(np.argmax(LESSON_LOGITS))


def test_softmax_argmax_with_names_and_errors():
    assert softmax_argmax([1.0, 3.0], labels=["no", "yes"]).predicted_label == "yes"
    assert softmax_argmax([2.0, 1.0]).predicted_label == 0
    with pytest.raises(ValueError, match="2 labels for 3 logits"):
        softmax_argmax(labels=["a", "b"])
    with pytest.raises(ValueError, match=r"shape \(1, 2\)"):
        softmax_argmax([[1.0, 2.0]])
    with pytest.raises(ValueError, match="finite"):
        softmax_argmax([0.0, np.inf])


def test_softmax_is_stable_for_large_logits():
    example = softmax_argmax([1000.0, 0.0, -1000.0])
    assert example.predicted == 0 and np.isfinite(example.probabilities).all()


# ---------------------------------------------------------------- spirals


def test_spirals_shape_balance_and_seed():
    x, labels = two_spirals(150, seed=3)
    assert x.shape == (300, 2) and labels.shape == (300,)
    assert labels.dtype == np.int64 and labels.sum() == 150
    again, _ = two_spirals(150, seed=3)
    other, _ = two_spirals(150, seed=4)
    np.testing.assert_array_equal(x, again)
    assert not np.allclose(x, other)
    assert np.abs(x).max() < 1.3


def test_the_two_spirals_are_point_reflections_without_noise():
    x, labels = two_spirals(50, noise=0.0, seed=0)
    np.testing.assert_allclose(x[labels == 1], -x[labels == 0])


def test_spirals_are_not_linearly_separable():
    x, labels = two_spirals(200, seed=0)
    features = np.hstack([x, np.ones((len(x), 1))])
    w = np.linalg.lstsq(features, 2.0 * labels - 1.0, rcond=None)[0]
    linear_accuracy = np.mean((features @ w > 0) == (labels == 1))
    assert linear_accuracy < 0.8


def test_spiral_arguments():
    with pytest.raises(ValueError, match="n_per_class"):
        two_spirals(0)
    with pytest.raises(ValueError, match="turns"):
        two_spirals(10, turns=0)
