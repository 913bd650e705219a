"""Time one training step of a 784-128-10 network: nnderive vs hand-written NumPy vs PyTorch.

One step is forward + loss + backward + SGD update on a batch of 256, ReLU
hidden layer, softmax cross-entropy on logits, in float32 and float64:

* ``nnderive``: :class:`numeric.mlp.MLP` (only the generated contract
  functions) and :class:`numeric.optim.SGD`;
* ``numpy``: the same network written by hand in the benchmark, naive but
  sensible (reuses the forward values, a stable log-softmax, no Python loops,
  and no gradient for the input, which nobody needs);
* ``numpy+dx``: the same plus the input gradient of the first layer, which
  ``numeric.dense_backward`` always computes; it shows where a gap comes from;
* ``torch``: PyTorch on the CPU with autograd, when installed.

Implementations are timed round-robin in the same run (so that a busy machine
slows all of them alike); each repeat times ``--steps`` steps and the table
reports the median time per step and its ratio to hand-written NumPy.
Before timing, one step of each is checked to give the same loss and updated
parameters as hand-written NumPy.

Usage::

    python benchmarks/bench_training.py [--repeats 15] [--steps 10] [--json FILE]

On a shared or busy machine, multi-threaded BLAS timings swing by 2x from one
repeat to the next; ``OPENBLAS_NUM_THREADS=1`` (or ``OMP_NUM_THREADS=1``, and
PyTorch follows ``torch.set_num_threads``) gives steadier ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from numeric.mlp import MLP  # noqa: E402
from numeric.optim import SGD  # noqa: E402

SIZES = (784, 128, 10)
BATCH = 256
LEARNING_RATE = 0.01


def make_data(dtype: np.dtype, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, SIZES[0])).astype(dtype)
    labels = rng.integers(0, SIZES[-1], size=BATCH)
    return x, np.eye(SIZES[-1], dtype=dtype)[labels], labels


class HandWritten:
    """The network in plain NumPy; parameters as in the contract (W is (out, in))."""

    def __init__(self, params: list[np.ndarray], input_gradient: bool = False) -> None:
        self.w1, self.b1, self.w2, self.b2 = (p.copy() for p in params)
        self.input_gradient = input_gradient

    def parameters(self) -> list[np.ndarray]:
        return [self.w1, self.b1, self.w2, self.b2]

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        n = x.shape[0]
        h = x @ self.w1.T
        h += self.b1
        a = np.maximum(h, 0)
        logits = a @ self.w2.T
        logits += self.b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        loss = -float(np.sum(y * (shifted - np.log(total)))) / n
        g = e / total
        g -= y
        g /= n
        dw2 = g.T @ a
        db2 = g.sum(axis=0)
        da = g @ self.w2
        da *= h > 0
        dw1 = da.T @ x
        db1 = da.sum(axis=0)
        if self.input_gradient:
            _ = da @ self.w1
        lr = LEARNING_RATE
        self.w1 -= lr * dw1
        self.b1 -= lr * db1
        self.w2 -= lr * dw2
        self.b2 -= lr * db2
        return loss


def nnderive_step(dtype: np.dtype, seed: int = 0) -> tuple[Callable[[], float], MLP]:
    net = MLP(list(SIZES), activations="relu", loss="softmax_cross_entropy", dtype=dtype,
              seed=seed)
    optimizer = SGD(net.parameters(), lr=LEARNING_RATE)
    x, y, _ = make_data(dtype)

    def step() -> float:
        loss, grads = net.loss_and_gradients(x, y)
        optimizer.step(grads)
        return loss

    return step, net


def torch_step(params: list[np.ndarray], dtype: np.dtype) -> Callable[[], float] | None:
    try:
        import torch
    except ImportError:
        return None
    torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
    w1, b1, w2, b2 = (torch.tensor(p, dtype=torch_dtype, requires_grad=True) for p in params)
    x_np, _, labels = make_data(dtype)
    x = torch.tensor(x_np)
    target = torch.tensor(labels)
    functional = torch.nn.functional

    def step() -> float:
        logits = functional.linear(functional.relu(functional.linear(x, w1, b1)), w2, b2)
        loss = functional.cross_entropy(logits, target)
        loss.backward()
        with torch.no_grad():
            for p in (w1, b1, w2, b2):
                p -= LEARNING_RATE * p.grad
                p.grad = None
        return float(loss.detach())

    step.parameters = lambda: [p.detach().numpy() for p in (w1, b1, w2, b2)]  # type: ignore
    return step


def check_agreement(dtype: np.dtype) -> str:
    """One step of each implementation from the same weights: same loss and parameters."""
    step, net = nnderive_step(dtype)
    reference = HandWritten(net.parameters())
    torch_reference = torch_step(net.parameters(), dtype)
    x, y, _ = make_data(dtype)
    ours = step()
    theirs = reference.step(x, y)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    assert abs(ours - theirs) <= rtol * abs(theirs), (ours, theirs)
    for a, b in zip(net.parameters(), reference.parameters()):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2)
    checked = "nnderive = numpy"
    if torch_reference is not None:
        torch_loss = torch_reference()
        assert abs(torch_loss - theirs) <= rtol * abs(theirs), (torch_loss, theirs)
        for a, b in zip(torch_reference.parameters(), reference.parameters()):  # type: ignore
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2)
        checked += " = torch"
    return checked


def measure(functions: dict[str, Callable[[], float]], repeats: int, steps: int
            ) -> dict[str, float]:
    """Median seconds per step of each function, timed round-robin."""
    for function in functions.values():  # warm-up: caches, allocator, BLAS threads
        for _ in range(3):
            function()
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            for _ in range(steps):
                function()
            samples[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(values) for name, values in samples.items()}


def run(repeats: int, steps: int) -> dict:
    results: dict = {"configuration": {
        "network": "-".join(map(str, SIZES)), "batch": BATCH, "hidden": "relu",
        "loss": "softmax_cross_entropy", "optimizer": f"SGD lr={LEARNING_RATE}",
        "repeats": repeats, "steps_per_repeat": steps, "python": platform.python_version(),
        "numpy": np.__version__, "cpu_count": os.cpu_count(), "machine": platform.machine(),
    }, "rows": []}
    try:
        import torch
        results["configuration"]["torch"] = torch.__version__
        results["configuration"]["torch_threads"] = torch.get_num_threads()
    except ImportError:
        results["configuration"]["torch"] = None
    for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        agreement = check_agreement(dtype)
        step, net = nnderive_step(dtype)
        x, y, _ = make_data(dtype)
        plain = HandWritten(net.parameters())
        with_dx = HandWritten(net.parameters(), input_gradient=True)
        functions: dict[str, Callable[[], float]] = {
            "nnderive": step,
            "numpy": lambda plain=plain, x=x, y=y: plain.step(x, y),
            "numpy+dx": lambda with_dx=with_dx, x=x, y=y: with_dx.step(x, y),
        }
        torch_function = torch_step(net.parameters(), dtype)
        if torch_function is not None:
            functions["torch"] = torch_function
        medians = measure(functions, repeats, steps)
        baseline = medians["numpy"]
        for name, seconds in medians.items():
            results["rows"].append({"dtype": dtype.name, "implementation": name,
                                    "median_ms": seconds * 1e3,
                                    "ratio_to_numpy": seconds / baseline,
                                    "agreement": agreement})
    return results


def table(results: dict) -> str:
    config = results["configuration"]
    lines = [
        f"one training step of a {config['network']} network (ReLU, softmax cross-entropy, "
        f"SGD), batch {config['batch']}",
        f"median of {config['repeats']} repeats x {config['steps_per_repeat']} steps, "
        f"NumPy {config['numpy']}, PyTorch {config['torch'] or 'not installed'}, "
        f"{config['cpu_count']} CPUs",
        "",
        f"{'dtype':<8} {'implementation':<15} {'ms/step':>9} {'vs numpy':>9}",
    ]
    for row in results["rows"]:
        lines.append(f"{row['dtype']:<8} {row['implementation']:<15} {row['median_ms']:>9.3f} "
                     f"{row['ratio_to_numpy']:>8.2f}x")
    lines += ["", "numpy: hand-written, no input gradient; numpy+dx: plus the first layer's "
              "input gradient (numeric.dense_backward always returns dx)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.steps < 1:
        parser.error("--repeats and --steps must be positive")
    results = run(args.repeats, args.steps)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
