"""``nnderive demo approximate`` and ``nnderive demo train``.

:func:`configure_parser` adds the two demos as subcommands of an
:class:`argparse.ArgumentParser`; :func:`run` executes the chosen one, prints
its report and, with ``--plot FILE.png``, saves a figure (matplotlib is an
optional extra: ``pip install 'nnderive[plot]'``).  Exit status: 0 on success,
1 when the plot cannot be made (nothing is written), 2 on bad arguments.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="nnderive demo")
>>> configure_parser(parser)
>>> args = parser.parse_args(["approximate", "--neurons", "5"])
>>> args.demo, args.neurons, args.seed, args.plot
('approximate', 5, 42, None)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

__all__ = ["configure_parser", "run"]

# The defaults are repeated from numeric.demos so that building the parser
# (e.g. for ``nnderive --help``) does not import the numeric demos.
_REGRESSION_EPOCHS = 5000
_SPIRAL_EPOCHS = 200


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer seed, got "
                                         f"{text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer seed, got {value}")
    return value


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``approximate`` and ``train`` subcommands to ``parser``.

    The chosen demo is stored in ``args.demo``.
    """
    demos = parser.add_subparsers(dest="demo", metavar="DEMO", required=True)
    approximate = demos.add_parser(
        "approximate",
        help="universal approximation: random tanh neurons + least squares for x·sin x",
        description="Fit y = x·sin(x) on 100 points of [0, 10] with tanh neurons whose "
                    "weights and biases are drawn uniformly from [0, 1) "
                    "(np.random.seed(SEED)) and output weights found by least squares; "
                    "the same with a second, elementwise tanh layer; a table of the error "
                    "as the number of neurons grows; and logits -> softmax -> argmax.")
    approximate.add_argument("--neurons", type=_positive_int, default=10,
                             help="hidden neurons of the headline fits (default 10)")
    approximate.add_argument("--seed", type=_seed, default=42,
                             help="seed of NumPy's legacy generator (default 42)")
    approximate.add_argument("--plot", metavar="FILE.png",
                             help="also save a plot (needs matplotlib)")
    train = demos.add_parser(
        "train",
        help="gradient descent: fit x·sin x, classify two spirals",
        description="Train a 1-32-1 tanh network to fit y = x·sin(x) on [0, 10] "
                    "(full-batch Adam) and a 2-32-32-2 ReLU classifier on two interleaved "
                    "spirals (minibatch Adam), then report the errors, accuracy, "
                    "precision, recall, F1 and the confusion matrix.")
    train.add_argument("--seed", type=_seed, default=0,
                       help="seed of the weights, the shuffling and the spirals (default 0)")
    train.add_argument("--epochs", type=_positive_int, default=_REGRESSION_EPOCHS,
                       help=f"epochs of the x·sin x fit (default {_REGRESSION_EPOCHS})")
    train.add_argument("--spiral-epochs", type=_positive_int, default=_SPIRAL_EPOCHS,
                       help=f"epochs of the spirals classifier (default {_SPIRAL_EPOCHS})")
    train.add_argument("--progress", action="store_true",
                       help="show a progress line on standard error")
    train.add_argument("--plot", metavar="FILE.png", help="also save a plot (needs matplotlib)")


def _plot_problem(path: str) -> str | None:
    """Why the plot cannot be written, before any work is done; None if it can."""
    from numeric.demos import PlotUnavailableError, require_matplotlib

    try:
        require_matplotlib()
    except PlotUnavailableError as error:
        return str(error)
    parent = Path(path).parent
    if not parent.is_dir():
        return f"cannot write {path!r}: folder {str(parent)!r} does not exist"
    if Path(path).is_dir():
        return f"cannot write {path!r}: it is a folder"
    return None


def run(args: argparse.Namespace, stdout: TextIO | None = None,
        stderr: TextIO | None = None) -> int:
    """Run the demo chosen in ``args``; print its report; return the exit status."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    plot = getattr(args, "plot", None)
    if plot:
        problem = _plot_problem(plot)
        if problem is not None:
            print(f"nnderive demo {args.demo}: {problem}", file=err)
            return 1
    from numeric import demos

    if args.demo == "approximate":
        report: demos.ApproximationReport | demos.TrainReport = demos.approximate_demo(
            n_neurons=args.neurons, seed=args.seed)
    elif args.demo == "train":
        report = demos.train_demo(seed=args.seed, epochs=args.epochs,
                                  spiral_epochs=args.spiral_epochs,
                                  progress=err if args.progress else False)
    else:
        print(f"nnderive demo: unknown demo {args.demo!r}; choose approximate or train",
              file=err)
        return 2
    print(report.format(), file=out)
    if plot:
        try:
            written = demos.save_plot(report, plot)
        except (OSError, ValueError) as error:
            print(f"nnderive demo {args.demo}: could not write the plot: {error}", file=err)
            return 1
        print(f"plot written to {written}", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m derive.demo_command approximate``."""
    parser = argparse.ArgumentParser(prog="nnderive demo",
                                     description="the lesson's demonstrations")
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
