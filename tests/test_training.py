"""The training loop and the two training goals of the lesson (tests that can fail)."""

import io

import numpy as np
import pytest

from numeric.approximation import lesson_data
from numeric.demos import REGRESSION_EPOCHS, SPIRAL_EPOCHS, classify_spirals, fit_x_sin_x
from numeric.metrics import accuracy
from numeric.mlp import MLP
from numeric.optim import SGD, Adam
from numeric.training import History, TrainingDivergedError, train, train_step

# ---------------------------------------------------------------- the goals


def test_x_sin_x_is_fitted_below_1e_3():
    """One hidden tanh layer (32 units), seed 0, full-batch Adam, 5000 epochs."""
    assert REGRESSION_EPOCHS == 5000
    result = fit_x_sin_x(seed=0)
    x, y = lesson_data()
    # measured independently of the result's own bookkeeping
    prediction = result.net.predict(x[:, None] / 5.0 - 1.0)[:, 0]
    mse = float(np.mean((prediction - y) ** 2))
    assert mse < 1e-3
    assert mse == pytest.approx(result.mse)
    assert result.mse_dense < 1e-3  # also between the training points
    assert result.history.epochs == 5000
    assert result.net.activations == ["tanh"] and result.net.sizes == [1, 32, 1]


def test_spirals_are_classified_with_at_least_95_percent_accuracy():
    """2-32-32-2 ReLU, seed 0, 200 epochs of minibatch Adam, a separate test set."""
    assert SPIRAL_EPOCHS == 200
    result = classify_spirals(seed=0)
    predicted = np.argmax(result.net.predict(result.x_test), axis=1)
    assert accuracy(result.y_test, predicted) >= 0.95
    assert result.accuracy >= 0.95
    assert result.confusion.sum() == len(result.y_test)
    assert not np.array_equal(result.x_test, result.x_train)


# ---------------------------------------------------------------- the loop


def small_problem():
    x = np.linspace(-1, 1, 40).reshape(-1, 1)
    return x, np.sin(3 * x)


def test_history_has_one_loss_per_epoch_and_decreases():
    x, y = small_problem()
    net = MLP([1, 8, 1], seed=0)
    history = train(net, x, y, optimizer=Adam(net.parameters(), lr=0.03), epochs=60,
                    batch_size=10)
    assert isinstance(history, History)
    assert history.epochs == 60 and len(history.loss) == 60
    assert history.final_loss < 0.2 * history.loss[0]
    assert history.seconds > 0
    assert history.validation_loss == []


def test_epoch_loss_is_the_size_weighted_mean_of_minibatch_losses():
    x, y = small_problem()
    net = MLP([1, 4, 1], seed=0)
    twin = MLP([1, 4, 1], seed=0)
    history = train(net, x, y, optimizer=SGD(net.parameters(), lr=0.01), epochs=1,
                    batch_size=15, shuffle=False)
    opt = SGD(twin.parameters(), lr=0.01)
    losses = [train_step(twin, opt, x[s:s + 15], y[s:s + 15]) * len(x[s:s + 15])
              for s in (0, 15, 30)]
    assert history.loss[0] == pytest.approx(sum(losses) / 40, rel=1e-12)


def test_training_is_reproducible_and_the_seed_shuffles():
    x, y = small_problem()
    runs = []
    for seed in (5, 5, 6):
        net = MLP([1, 6, 1], seed=0)
        runs.append(train(net, x, y, optimizer=SGD(net.parameters(), lr=0.05), epochs=5,
                          batch_size=8, seed=seed).loss)
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_full_batch_and_validation():
    x, y = small_problem()
    net = MLP([1, 6, 1], seed=0)
    history = train(net, x, y, optimizer=SGD(net.parameters(), lr=0.05), epochs=3,
                    batch_size=None, validation=(x[::2], y[::2]))
    assert len(history.validation_loss) == 3
    assert history.validation_loss[-1] == pytest.approx(net.loss(x[::2], y[::2]))


def test_default_optimizer_is_adam():
    x, y = small_problem()
    net = MLP([1, 6, 1], seed=0)
    before = net.loss(x, y)
    train(net, x, y, epochs=20)
    assert net.loss(x, y) < before


# ---------------------------------------------------------------- divergence


def test_a_non_finite_loss_stops_training_naming_the_epoch():
    x = np.linspace(0, 10, 50).reshape(-1, 1)
    y = x * np.sin(x)
    net = MLP([1, 8, 1], activations="relu", seed=0)
    with pytest.raises(TrainingDivergedError, match=r"training diverged at epoch \d+ of 100 "
                                                    r"\(minibatch \d+ of 2\)") as info:
        train(net, x, y, optimizer=SGD(net.parameters(), lr=10.0), epochs=100, batch_size=25)
    error = info.value
    assert isinstance(error, FloatingPointError)
    assert 1 <= error.epoch <= 100 and not np.isfinite(error.loss)
    assert f"epoch {error.epoch} " in str(error)
    # the model is not silently NaN: the failing update was not applied
    assert all(np.isfinite(p).all() for p in net.parameters())


def test_divergence_in_the_first_epoch_is_reported_as_epoch_1():
    net = MLP([1, 2, 1], activations="identity", seed=0)
    x = np.full((4, 1), 1e200)  # the squared error overflows at once
    with pytest.raises(TrainingDivergedError, match="at epoch 1 of 3 .minibatch 1 of 1"):
        train(net, x, np.zeros((4, 1)), epochs=3, batch_size=None)


# ---------------------------------------------------------------- progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_off_by_default(capsys):
    x, y = small_problem()
    train(MLP([1, 3, 1]), x, y, epochs=3)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_lines_on_a_stream():
    x, y = small_problem()
    out = io.StringIO()
    train(MLP([1, 3, 1]), x, y, epochs=30, progress=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10  # every 3rd epoch of 30
    assert lines[-1].startswith("epoch 30/30 [" + "#" * 24 + "] loss ")
    assert "epoch  3/30" in lines[0]


def test_progress_rewrites_one_line_on_a_terminal():
    x, y = small_problem()
    out = Terminal()
    train(MLP([1, 3, 1]), x, y, epochs=4, progress=out)
    text = out.getvalue()
    assert text.count("\r") == 4 and text.endswith("\n") and text.count("\n") == 1


def test_progress_true_writes_to_stderr(capsys):
    x, y = small_problem()
    train(MLP([1, 3, 1]), x, y, epochs=2, progress=True)
    assert "epoch 2/2" in capsys.readouterr().err


# ---------------------------------------------------------------- bad input


def test_rows_of_x_and_y_must_match():
    with pytest.raises(ValueError, match=r"x has shape \(5, 1\), y has shape \(4, 1\)"):
        train(MLP([1, 3, 1]), np.zeros((5, 1)), np.zeros((4, 1)))


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"epochs": 2.5}, "epochs must be a positive integer"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
])
def test_bad_arguments(kwargs, message):
    x, y = small_problem()
    with pytest.raises(ValueError, match=message):
        train(MLP([1, 3, 1]), x, y, **kwargs)


def test_empty_data():
    with pytest.raises(ValueError, match="empty"):
        train(MLP([1, 3, 1]), np.zeros((0, 1)), np.zeros((0, 1)))


def test_wrong_feature_count_is_reported_by_the_network():
    with pytest.raises(ValueError, match=r"input x has shape \(4, 2\)"):
        train(MLP([1, 3, 1]), np.zeros((40, 2)), np.zeros((40, 1)), batch_size=4)
