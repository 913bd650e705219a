"""``nnderive demo approximate|train``: reports, plots, and the missing-matplotlib path."""

import argparse
import io
import sys

import pytest

from derive import demo_command
from numeric import demos


def parse(*argv):
    parser = argparse.ArgumentParser(prog="nnderive demo")
    demo_command.configure_parser(parser)
    return parser.parse_args(list(argv))


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = demo_command.run(parse(*argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Make ``import matplotlib`` fail, as on a machine without the plot extra."""
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_parser_defaults_match_the_demos():
    args = parse("train")
    assert (args.seed, args.epochs, args.spiral_epochs, args.plot, args.progress) == \
        (0, demos.REGRESSION_EPOCHS, demos.SPIRAL_EPOCHS, None, False)
    args = parse("approximate")
    assert (args.seed, args.neurons, args.plot) == (42, 10, None)


@pytest.mark.parametrize("argv", [["train", "--epochs", "0"], ["train", "--seed", "-1"],
                                  ["approximate", "--neurons", "x"], ["fly"], []])
def test_bad_arguments_exit_with_status_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_approximate_prints_the_tables():
    status, out, err = run("approximate")
    assert status == 0 and err == ""
    assert "Universal approximation of y = x·sin(x) on [0, 10] (100 points)" in out
    assert "np.random.seed(42)" in out
    for neurons in (1, 2, 5, 10, 20, 50, 100):
        assert any(line.split()[:1] == [str(neurons)] for line in out.splitlines())
    assert "10 neurons, one tanh layer:   MSE 0.079" in out
    assert "logits          -2.89     0.00    -3.40" in out
    assert "probabilities  0.0510   0.9183   0.0306" in out
    assert "argmax = class 1" in out


def test_approximate_options():
    status, out, _ = run("approximate", "--neurons", "3", "--seed", "1")
    assert status == 0
    assert "3 neurons, one tanh layer" in out and "np.random.seed(1)" in out


def test_train_prints_its_figures():
    status, out, err = run("train", "--epochs", "300", "--spiral-epochs", "20")
    assert status == 0 and err == ""
    assert "1-32-1 (tanh hidden, identity output, MSE loss)" in out
    assert "300 epochs" in out and "20 epochs" in out
    assert "MSE on the 100 training points" in out
    assert "test accuracy" in out and "precision" in out and "F1" in out
    assert "confusion matrix (rows: true class, columns: predicted)" in out


def test_train_progress_goes_to_stderr():
    status, out, err = run("train", "--epochs", "20", "--spiral-epochs", "2", "--progress")
    assert status == 0
    assert "epoch 20/20" in err and "epoch 2/2" in err
    assert "epoch 20/20 [" not in out


def test_missing_matplotlib_is_a_clear_message_and_writes_nothing(no_matplotlib, tmp_path):
    target = tmp_path / "fit.png"
    status, out, err = run("approximate", "--plot", str(target))
    assert status == 1
    assert "matplotlib is not installed; pip install 'nnderive[plot]'" in err
    assert out == ""
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_save_plot_without_matplotlib_raises(no_matplotlib, tmp_path):
    with pytest.raises(demos.PlotUnavailableError, match=r"pip install 'nnderive\[plot\]'"):
        demos.save_plot(demos.approximate_demo(neuron_counts=(1,)), tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_plot_into_a_missing_folder(tmp_path):
    pytest.importorskip("matplotlib")
    status, _, err = run("approximate", "--plot", str(tmp_path / "no" / "such.png"))
    assert status == 1 and "does not exist" in err


@pytest.mark.parametrize("argv", [["approximate"], ["train", "--epochs", "30",
                                                    "--spiral-epochs", "3"]])
def test_plots_are_written(argv, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "demo.png"
    status, out, err = run(*argv, "--plot", str(target))
    assert status == 0, err
    assert f"plot written to {target}" in out
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["demo.png"]  # no temporary left


def test_main_runs_stand_alone(capsys):
    assert demo_command.main(["approximate", "--neurons", "2"]) == 0
    assert "2 neurons, one tanh layer" in capsys.readouterr().out
