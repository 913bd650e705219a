#!/usr/bin/env python
"""Speed and accuracy of nnderive's generated NumPy code beside other implementations.

Speed (one table, every ratio measured in the same run):

* ``NAME_and_grad`` for sigmoid, tanh, softplus, gelu, silu and mish on 1e6
  float64 elements (x ~ N(0, 3²): both signs, a few values beyond ±8);
* softmax_cross_entropy, the loss and its gradient (``NAME_and_grad``: one
  call), on 4096×10 logits (N(0, 3²)) with one-hot targets.

Each function is computed by

* ``generated``: the code ``nnderive codegen`` committed under ``numeric/``;
* ``hand NumPy``: the best hand-written NumPy for the same maths, written here:
  naive but sensible (the forward output is reused for the gradient, no Python
  loops, no stabilisation);
* ``hand, accurate``: hand-written NumPy that is as accurate as the generated
  code (within 4 ULP everywhere, no overflow), for sigmoid, tanh and softplus,
  whose accurate forms are short: what the price of accuracy is by hand;
* ``lambdify``: ``sympy.lambdify(..., modules="numpy")`` of the catalogue's
  textbook definition and its ``sympy.diff`` (GELU needs SciPy's ``erf``);
* ``SciPy``: ``scipy.special`` (``expit``, ``log_expit``, ``ndtr``, ``softmax``,
  ``logsumexp``) where it has the function;
* ``PyTorch``: CPU, autograd for the gradient, when ``torch`` is importable
  (one thread unless ``--torch-threads``; NumPy uses one).

The samples are taken round-robin (every implementation once per round, the
order rotating), so that a machine getting busier or quieter during the run
shifts all columns alike; the table gives medians, and the ratio is the
median of an implementation divided by the median of ``hand NumPy``.

Accuracy (second table): the value each implementation returns at the hard
points x = −745, −710, 37, 710, 800 (sigmoid, softplus, log_sigmoid, tanh')
and at logits (40, −0.5, 0) with target class 0 (softmax-cross-entropy loss
and ∂L/∂z₀), against mpmath; ``✗`` marks a value that is not within 4 ULP of
the truth (an inf, NaN or 0 where the true value is finite and non-zero;
where the truth is subnormal the unit is the smallest normal number).

Also ``python -c "import numeric"`` against ``python -c "import numpy"``
(median wall time of fresh interpreters; the ratio must stay ≤ 1.3).

Usage::

    python benchmarks/bench_functions.py              # full run, ~1–2 minutes
    python benchmarks/bench_functions.py --quick      # smoke run, a few seconds
    python benchmarks/bench_functions.py --json results.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import numeric  # noqa: E402

ACTIVATIONS = ["sigmoid", "tanh", "softplus", "gelu", "silu", "mish"]
LOSS = "softmax_cross_entropy"
IMPLEMENTATIONS = ["generated", "hand NumPy", "hand, accurate", "lambdify", "SciPy", "PyTorch"]

#: timed beside tanh, not a column: np.tanh and np.exp alone, with their two
#: fresh outputs, the least that an accurate tanh_and_grad must do (its sech²
#: needs e^{−2|x|} beside tanh); what is left of the hand-written time after
#: it must hold every other pass of the accurate code (see format_speed)
TANH_FLOOR = "np.tanh + np.exp alone"

#: timed beside tanh and softplus, not a column: the generated code in the form
#: this CPU does not take (numeric._support._scalar_math chooses the form at
#: import), called with the generated module's flag flipped for the call, so
#: that one run shows whether the flag chose the faster form here
OTHER_FORM = "generated, other form"
SQRT1_2 = 0.7071067811865476  # 1/√2
INV_SQRT_2PI = 0.3989422804014327  # 1/√(2π)


# --------------------------------------------------------------------------
# hand-written NumPy: naive but sensible (reuse the forward work, no loops)
# --------------------------------------------------------------------------


def _hand_sigmoid(x):
    s = 1 / (1 + np.exp(-x))
    return s, s * (1 - s)


def _hand_tanh(x):
    t = np.tanh(x)
    return t, 1 - t * t


def _hand_softplus(x):
    e = np.exp(x)
    return np.log1p(e), e / (1 + e)


def _hand_gelu(x):
    from scipy.special import erf  # NumPy has no erf

    c = 0.5 * (1 + erf(x * SQRT1_2))
    return x * c, c + x * np.exp(-0.5 * x * x) * INV_SQRT_2PI


def _hand_silu(x):
    s = 1 / (1 + np.exp(-x))
    return x * s, s * (1 + x * (1 - s))


def _hand_mish(x):
    e = np.exp(x)
    t = np.tanh(np.log1p(e))
    s = e / (1 + e)
    return x * t, t + x * s * (1 - t * t)


def _hand_sce(z, y):
    n = z.shape[0]
    shifted = z - z.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=-1, keepdims=True)
    loss = -(y * (shifted - np.log(total))).sum() / n
    return loss, (e / total - y) / n


HAND = {"sigmoid": _hand_sigmoid, "tanh": _hand_tanh, "softplus": _hand_softplus,
        "gelu": _hand_gelu, "silu": _hand_silu, "mish": _hand_mish, LOSS: _hand_sce}


# hand-written NumPy as accurate as the generated code: within 4 ULP of the truth
# on all of float64 (2.2, 1.5 and 1.2 ULP for the forwards, 3.8, 2.2 and 3.1 for
# the derivatives on 800,000 points of [−40, 40] against long double), no overflow


def _accurate_sigmoid(x):
    p = np.exp(np.minimum(x, 709.78))  # e^x, finite
    s = p / (1 + p)
    return s, s / (1 + p)


def _accurate_tanh(x):
    t = np.tanh(x)
    a = np.abs(t)  # sech² = 4e/(1 + e)² with e = e^{−2|x|} and 2/(1 + e) = 1 + |t|
    return t, np.exp(-2 * np.minimum(np.abs(x), 400)) * (1 + a * (2 + a))


def _accurate_softplus(x):
    e = np.exp(-np.abs(x))
    return np.maximum(x, 0) + np.log1p(e), np.where(x >= 0, 1.0, e) / (1 + e)


HAND_ACCURATE = {"sigmoid": _accurate_sigmoid, "tanh": _accurate_tanh, "softplus": _accurate_softplus}


# --------------------------------------------------------------------------
# SciPy: scipy.special where it has the function
# --------------------------------------------------------------------------


def _scipy_impls():
    try:
        from scipy import special
    except ImportError:  # pragma: no cover - SciPy is a test dependency
        return {}

    def sigmoid(x):
        s = special.expit(x)
        return s, s * (1 - s)

    def softplus(x):
        return -special.log_expit(-x), special.expit(x)

    def gelu(x):
        c = special.ndtr(x)
        return x * c, c + x * np.exp(-0.5 * x * x) * INV_SQRT_2PI

    def silu(x):
        s = special.expit(x)
        return x * s, s * (1 + x * (1 - s))

    def mish(x):
        t = np.tanh(-special.log_expit(-x))
        s = special.expit(x)
        return x * t, t + x * s * (1 - t * t)

    def sce(z, y):
        n = z.shape[0]
        loss = (special.logsumexp(z, axis=-1) - (y * z).sum(axis=-1)).sum() / n
        return loss, (special.softmax(z, axis=-1) - y) / n

    return {"sigmoid": sigmoid, "softplus": softplus, "gelu": gelu, "silu": silu,
            "mish": mish, LOSS: sce}


# --------------------------------------------------------------------------
# naive sympy.lambdify of the catalogue's textbook expressions
# --------------------------------------------------------------------------


def _quiet(fn):
    """fn with NumPy's floating-point warnings silenced (naive code overflows)."""

    def call(*args):
        with np.errstate(all="ignore"):
            return fn(*args)

    return call


def _lambdify_activation(name, quiet=True):
    """x ↦ (f(x), f'(x)) from the catalogue definition and sympy.diff."""
    import sympy as sp

    from derive.catalogue import get

    entry = get(name)
    x = entry.variable
    f = entry.definition.subs(entry.defaults) if entry.defaults else entry.definition
    df = sp.diff(f, x)
    modules = ["numpy", "scipy"] if f.has(sp.erf) else "numpy"  # NumPy has no erf
    fn = sp.lambdify(x, (f, df), modules=modules)
    return _quiet(fn) if quiet else fn


def _lambdify_sce(classes, quiet=True):
    """(z, y) ↦ (loss, ∂L/∂z) from the catalogue definition, per row of ``classes`` logits."""
    import sympy as sp

    from derive.catalogue import get
    from derive.primitives import components

    entry = get(LOSS)
    zv, yv = entry.variables
    z = sp.symbols(f"z0:{classes}", real=True)
    y = sp.symbols(f"y0:{classes}", real=True)
    row = components(entry.definition, {zv: list(z), yv: list(y)}, 0)
    derivatives = [sp.diff(row, zj) for zj in z]
    fn = sp.lambdify((*z, *y), [row] + derivatives, modules="numpy")

    def sce(zz, yy):
        out = fn(*zz.T, *yy.T)
        n = zz.shape[0]
        return np.sum(out[0]) / n, np.stack(np.broadcast_arrays(*out[1:]), axis=-1) / n

    return _quiet(sce) if quiet else sce


# --------------------------------------------------------------------------
# PyTorch CPU (autograd for the gradient), when installed
# --------------------------------------------------------------------------


def _torch_impls(threads):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return {}, None
    torch.set_num_threads(threads)
    forward = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "softplus": F.softplus,
               "gelu": F.gelu, "silu": F.silu, "mish": F.mish, "log_sigmoid": F.logsigmoid}

    def activation(fn):
        def call(x):
            leaf = torch.from_numpy(np.asarray(x, dtype=np.float64)).requires_grad_(True)
            y = fn(leaf)
            (dy,) = torch.autograd.grad(y, leaf, torch.ones_like(y))
            return y.detach().numpy(), dy.numpy()

        return call

    def sce(z, y):
        leaf = torch.from_numpy(z).requires_grad_(True)
        loss = F.cross_entropy(leaf, torch.from_numpy(np.argmax(y, axis=-1)))
        (grad,) = torch.autograd.grad(loss, leaf)
        return loss.item(), grad.numpy()

    impls = {name: activation(fn) for name, fn in forward.items()}
    impls[LOSS] = sce
    return impls, torch.__version__


# --------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------


def _round_robin(calls, repeats, number, timer):
    """{name: [seconds per call, one per round]}, the implementations interleaved."""
    names = list(calls)
    for name in names:  # warm up (and import what is imported lazily)
        calls[name]()
    samples = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = calls[name]
            start = timer()
            for _ in range(number):
                fn()
            samples[name].append((timer() - start) / number)
    return samples


#: the two states glibc's allocator can leave a process in, for arrays of
#: 8 MB (1e6 float64): whether a fresh array is page-faulted in or recycled
MEMORY_REGIMES = {
    "fresh": "fresh pages: every array of 128 kB or more is mapped from the system "
             "and given back when freed (glibc's state until the process frees a "
             "block of that size; for arrays above 32 MB always)",
    "recycled": "recycled memory: freed arrays stay in the heap and are reused without "
                "page faults (the state glibc moves to once a larger block was freed, "
                "e.g. after `import torch`)",
}


def _set_memory_regime(regime):
    """Put glibc's allocator in ``regime`` (see MEMORY_REGIMES); False where it cannot be set.

    Left alone, the state depends on what the process allocated and freed
    before (``import torch`` alone halves the hand-written tanh's time), so
    that runs differ by tens of percent.  M_MMAP_THRESHOLD and
    M_TRIM_THRESHOLD fix it: 128 kB for fresh pages (and malloc_trim gives
    back what the heap holds, so that no earlier free is reused), 1 GB for
    recycled memory.
    """
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt, malloc_trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    limit = 128 * 1024 if regime == "fresh" else 1 << 30
    ok = mallopt(m_mmap_threshold, limit) == 1 and mallopt(m_trim_threshold, limit) == 1
    malloc_trim(0)
    return ok


def _agrees(result, reference):
    """Whether an implementation's (value, gradient) matches the generated one."""
    for a, b in zip(result, reference):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-6, atol=1e-12):
            return False
    return True


def speed(args, regime="as-is"):
    """Median times of every implementation of every function, and ratios to hand NumPy.

    ``regime`` is a key of MEMORY_REGIMES (the allocator is put in that state
    first) or "as-is" (left as the process has it).
    """
    rng = np.random.default_rng(20240603)
    x = rng.standard_normal(args.size) * 3.0
    rows, classes = args.rows, 10
    z = rng.standard_normal((rows, classes)) * 3.0
    y = np.eye(classes)[rng.integers(0, classes, rows)]
    scipy_impls = _scipy_impls()
    torch_impls, _ = _torch_impls(args.torch_threads)
    timer = time.process_time if args.cpu_time else time.perf_counter
    if regime != "as-is" and not _set_memory_regime(regime):
        regime = "as-is"  # not glibc: the allocator is left as it is
    results = []
    for name in ACTIVATIONS + [LOSS]:
        if args.only and name not in args.only:
            continue
        if name == LOSS:
            data = (z, y)
            impls = {"generated": lambda: numeric.softmax_cross_entropy_and_grad(z, y)}
            lam = _lambdify_sce(classes)
            number = args.loss_number
        else:
            data = (x,)
            gen = getattr(numeric, f"{name}_and_grad")
            impls = {"generated": lambda gen=gen: gen(x)}
            lam = _lambdify_activation(name)
            number = 1
        impls["hand NumPy"] = lambda f=HAND[name]: f(*data)
        if name in HAND_ACCURATE:
            impls["hand, accurate"] = lambda f=HAND_ACCURATE[name]: f(*data)
        if name == "tanh":
            impls[TANH_FLOOR] = lambda: (np.tanh(x), np.exp(x))
        if name != LOSS and hasattr(numeric.activations, f"_{name}_and_grad_on_scalar_math"):
            impls[OTHER_FORM] = lambda gen=gen: _in_other_form(gen, x)
        impls["lambdify"] = lambda f=lam: f(*data)
        if name in scipy_impls:
            impls["SciPy"] = lambda f=scipy_impls[name]: f(*data)
        if name in torch_impls:
            impls["PyTorch"] = lambda f=torch_impls[name]: f(*data)
        reference = impls["generated"]()
        agree = {k: _agrees(fn(), reference) for k, fn in impls.items() if k != TANH_FLOOR}
        samples = _round_robin(impls, args.repeats, number, timer)
        medians = {k: statistics.median(v) for k, v in samples.items()}
        hand = medians["hand NumPy"]
        results.append({
            "function": name,
            "workload": (f"{name}_and_grad(z, y), z {rows}x{classes}, one-hot targets"
                         if name == LOSS else f"{name}_and_grad(x), {args.size} float64"),
            "median_s": medians,
            "min_s": {k: min(v) for k, v in samples.items()},
            "ratio_to_hand": {k: m / hand for k, m in medians.items()},
            "agrees_with_generated": agree,
            "samples": len(samples["generated"]),
            "calls_per_sample": number,
            "memory": regime,
        })
        if args.progress:
            print(f"  timed {name}", file=sys.stderr, flush=True)
    return results


def _in_other_form(function, *arguments):
    """``function(*arguments)`` in the form of the generated code that this CPU does not take (see OTHER_FORM)."""
    module = numeric.activations
    taken = module._SCALAR_MATH
    module._SCALAR_MATH = not taken
    try:
        return function(*arguments)
    finally:
        module._SCALAR_MATH = taken


def import_times(runs):
    """Median wall time of ``python -c "import numeric"`` and ``... numpy``, interleaved.

    The package's bytecode is compiled first, as the first import in any
    ordinary environment leaves it: with PYTHONDONTWRITEBYTECODE set (or a
    checkout whose sources changed since) every timed import would compile
    the 1,400 lines of numeric/activations.py again (about 25 ms).  One
    untimed import of each warms the file cache.
    """
    import compileall

    compileall.compile_dir(str(ROOT / "numeric"), quiet=1)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    times = {"numpy": [], "numeric": []}
    for module in times:
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True, env=env, cwd=str(ROOT))
    for _ in range(runs):
        for module in times:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", f"import {module}"], check=True, env=env,
                           cwd=str(ROOT))
            times[module].append(time.perf_counter() - start)
    med = {m: statistics.median(t) for m, t in times.items()}
    return {"median_s": med, "ratio": med["numeric"] / med["numpy"], "runs": runs,
            "limit": 1.3}


# --------------------------------------------------------------------------
# accuracy at hard points
# --------------------------------------------------------------------------

POINTS = [-745.0, -710.0, 37.0, 710.0, 800.0]
LOGITS = [40.0, -0.5, 0.0]


def _truths():
    import mpmath as mp

    with mp.workdps(80):
        truth = {
            "sigmoid": lambda t: 1 / (1 + mp.exp(-t)),
            "softplus": lambda t: mp.log1p(mp.exp(t)),
            "log_sigmoid": lambda t: -mp.log1p(mp.exp(-t)),
            "tanh'": lambda t: mp.sech(t) ** 2,
        }
        out = {(k, p): +fn(mp.mpf(p)) for k, fn in truth.items() for p in POINTS}
        zs = [mp.mpf(v) for v in LOGITS]
        lse = mp.log(mp.fsum(mp.exp(v) for v in zs))
        out[("sce loss", None)] = +(lse - zs[0])
        out[("sce ∂L/∂z₀", None)] = +(mp.exp(zs[0] - lse) - 1)
    return out


def _accuracy_impls(torch_impls):
    """{implementation: {function: callable}}: x ↦ value (sce: (z, y) ↦ (loss, grad))."""
    from scipy import special

    def lam(name, derivative=False):
        fn = _lambdify_activation(name, quiet=False)
        return lambda t: fn(t)[1 if derivative else 0]

    lam_sce = _lambdify_sce(len(LOGITS), quiet=False)
    impls = {
        "generated": {"sigmoid": numeric.sigmoid, "softplus": numeric.softplus,
                      "log_sigmoid": numeric.log_sigmoid, "tanh'": numeric.tanh_grad,
                      "sce": lambda z, y: (numeric.softmax_cross_entropy(z, y),
                                           numeric.softmax_cross_entropy_grad(z, y))},
        "hand NumPy": {"sigmoid": lambda t: _hand_sigmoid(t)[0],
                       "softplus": lambda t: _hand_softplus(t)[0],
                       "log_sigmoid": lambda t: -np.log1p(np.exp(-t)),
                       "tanh'": lambda t: _hand_tanh(t)[1], "sce": _hand_sce},
        "hand, accurate": {"sigmoid": lambda t: _accurate_sigmoid(t)[0],
                           "softplus": lambda t: _accurate_softplus(t)[0],
                           "log_sigmoid": lambda t: -_accurate_softplus(-t)[0],
                           "tanh'": lambda t: _accurate_tanh(t)[1]},
        "lambdify": {"sigmoid": lam("sigmoid"), "softplus": lam("softplus"),
                     "log_sigmoid": lam("log_sigmoid"), "tanh'": lam("tanh", True),
                     "sce": lam_sce},
        "SciPy": {"sigmoid": special.expit, "softplus": lambda t: -special.log_expit(-t),
                  "log_sigmoid": special.log_expit, "sce": _scipy_impls()[LOSS]},
    }
    if torch_impls:
        impls["PyTorch"] = {"sigmoid": lambda t: torch_impls["sigmoid"](t)[0],
                            "softplus": lambda t: torch_impls["softplus"](t)[0],
                            "log_sigmoid": lambda t: torch_impls["log_sigmoid"](t)[0],
                            "tanh'": lambda t: torch_impls["tanh"](t)[1],
                            "sce": torch_impls[LOSS]}
    return impls


def accuracy(args):
    """Value of each implementation at the hard points, its error in ULPs, and warnings."""
    from numeric.accuracy import ulp_error

    torch_impls, _ = _torch_impls(args.torch_threads)
    truths = _truths()
    impls = _accuracy_impls(torch_impls)
    z = np.array([LOGITS])
    y = np.array([[1.0, 0.0, 0.0]])
    rows = []
    for (function, point), truth in truths.items():
        row = {"function": function, "point": point if point is not None else LOGITS,
               "true": float(truth), "values": {}, "ulp": {}, "warnings": {}}
        for impl, table in impls.items():
            key = "sce" if function.startswith("sce") else function
            if key not in table:
                continue
            with warnings.catch_warnings(record=True) as caught, np.errstate(
                    over="warn", invalid="warn", divide="warn", under="ignore"):
                warnings.simplefilter("always")
                if key == "sce":
                    loss, grad = table[key](z, y)
                    value = loss if function == "sce loss" else np.asarray(grad).reshape(-1)[0]
                else:
                    value = np.asarray(table[key](np.array([point]))).reshape(-1)[0]
            value = float(value)
            row["values"][impl] = value
            row["ulp"][impl] = ulp_error(value, truth)
            row["warnings"][impl] = sorted({str(w.message) for w in caught})
        rows.append(row)
    return rows


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------


def _ms(seconds):
    return f"{seconds * 1e3:8.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:8.1f} µs"


def format_speed(results, args, torch_version):
    present = [i for i in IMPLEMENTATIONS if any(i in r["median_s"] for r in results)]
    regime = results[0]["memory"] if results else "as-is"
    lines = [
        "Speed: median time of forward + gradient; ratio = median / median of hand NumPy "
        "(target: generated ≤ 1.00)",
        "  memory: " + MEMORY_REGIMES.get(regime, "as the process left it (not set: not glibc, "
                                          "or --memory as-is)"),
        f"  activations: NAME_and_grad(x), x ~ N(0, 3²), {args.size:,} float64 elements; "
        f"{LOSS}: {LOSS}_and_grad, {args.rows}x10 logits, one-hot targets",
        f"  {args.repeats} round-robin samples per implementation"
        + (", CPU time" if args.cpu_time else ", wall time")
        + ("" if torch_version is None else
           f"; PyTorch {torch_version} CPU, {args.torch_threads} thread(s), autograd"),
        "",
    ]
    head = f"{'function':<22}" + "".join(f"{i:>21}" for i in present)
    lines += [head, "-" * len(head)]
    notes = set()
    for r in results:
        cells = []
        for impl in present:
            if impl not in r["median_s"]:
                cells.append(f"{'—':>21}")
                continue
            flag = "" if r["agrees_with_generated"][impl] else "!"
            if flag:
                notes.add("! = disagrees with the generated result on the benchmark data")
            cells.append(f"{_ms(r['median_s'][impl])} {r['ratio_to_hand'][impl]:5.2f}×{flag:1}")
        lines.append(f"{r['function']:<22}" + "".join(f"{c:>21}" for c in cells))
    lines.append("")
    lines.append("generated / hand NumPy: " + ", ".join(
        f"{r['function']} {r['ratio_to_hand']['generated']:.2f}" for r in results))
    accurate = [r for r in results if "hand, accurate" in r["median_s"]]
    if accurate:
        lines.append("generated / hand, accurate: " + ", ".join(
            f"{r['function']} {r['median_s']['generated'] / r['median_s']['hand, accurate']:.2f}"
            for r in accurate))
    for r in results:
        if TANH_FLOOR in r["median_s"]:
            lines.append(
                f"tanh floor: {TANH_FLOOR} (two fresh outputs) take "
                f"{r['ratio_to_hand'][TANH_FLOOR]:.2f} of hand NumPy's time; an accurate "
                "tanh′ adds at least five passes (−2|x|, then e·(1 + a(2 + a)) with a = |tanh x|)"
                + ("; this CPU takes the other form, which calls np.tanh only where |x| < 0.55 "
                   "(NumPy's tanh is a scalar libm call here, see numeric._support._scalar_math)"
                   if numeric.activations._SCALAR_MATH else ""))
    other = [r for r in results if OTHER_FORM in r["median_s"]]
    if other:
        taken = "second" if numeric.activations._SCALAR_MATH else "first"
        lines.append(
            f"the two forms: this CPU takes the {taken} (numeric._support._scalar_math); generated / hand NumPy "
            "in this form and in the other, timed in the same round robin: " + ", ".join(
                f"{r['function']} {r['ratio_to_hand']['generated']:.2f} and {r['ratio_to_hand'][OTHER_FORM]:.2f}"
                for r in other))
    lines += sorted(notes)
    return "\n".join(lines)


def _value(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    return f"{v:.4g}"


def format_accuracy(rows):
    impls = [i for i in IMPLEMENTATIONS if any(i in r["values"] for r in rows)]
    lines = [
        "Accuracy at hard points: the value returned. ✗ = more than 4 ULP from the true value; "
        "u = 0 where the truth is subnormal",
        "  (within tolerance: below the smallest normal number errors count in its units); "
        "w = it raised a RuntimeWarning (overflow, invalid, divide by zero)",
        f"  softmax_cross_entropy at logits {tuple(LOGITS)}, target class 0",
        "",
    ]
    head = f"{'function':<14}{'x':>7}{'true (mpmath)':>14}" + "".join(f"{i:>16}" for i in impls)
    lines += [head, "-" * len(head)]
    for r in rows:
        point = "" if isinstance(r["point"], list) else f"{r['point']:g}"
        cells = []
        for impl in impls:
            if impl not in r["values"]:
                cells.append("—")
                continue
            mark = " ✗" if not r["ulp"][impl] <= 4 else ""
            if not mark and r["values"][impl] == 0 != r["true"]:
                mark = " u"  # flushed to 0 where the truth is subnormal
            mark += " w" if r["warnings"][impl] else ""
            cells.append(_value(r["values"][impl]) + mark)
        lines.append(f"{r['function']:<14}{point:>7}{_value(r['true']):>14}"
                     + "".join(f"{c:>16}" for c in cells))
    bad = {i: sum(1 for r in rows if i in r["ulp"] and not r["ulp"][i] <= 4) for i in impls}
    total = {i: sum(1 for r in rows if i in r["ulp"]) for i in impls}
    lines.append("")
    lines.append("wrong (✗) / points: " + ", ".join(f"{i} {bad[i]}/{total[i]}" for i in impls))
    return "\n".join(lines)


def format_import(imp):
    med = imp["median_s"]
    verdict = "ok" if imp["ratio"] <= imp["limit"] else "TOO SLOW"
    return (f"Import: python -c 'import numeric' {med['numeric'] * 1e3:.0f} ms, "
            f"python -c 'import numpy' {med['numpy'] * 1e3:.0f} ms; ratio {imp['ratio']:.2f} "
            f"(limit {imp['limit']}, {verdict}; median of {imp['runs']} runs each)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1e5 elements, 512 rows, few samples")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE")
    parser.add_argument("--repeats", type=int, help="samples per implementation (default 25)")
    parser.add_argument("--size", type=int, help="elements for the activations (default 1e6)")
    parser.add_argument("--rows", type=int, help="rows of 10 logits for the loss (default 4096)")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help=f"time only these of {ACTIVATIONS + [LOSS]}")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with process CPU time instead of wall time "
                             "(steadier on a shared machine)")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="PyTorch intra-op threads (default 1, as NumPy)")
    parser.add_argument("--import-runs", type=int, help="interpreters per module (default 15)")
    parser.add_argument("--memory", choices=["both", *MEMORY_REGIMES, "as-is"], default="both",
                        help="allocator state for the speed tables (glibc): fresh pages, "
                             "recycled memory, both (default: one table each, fresh first) "
                             "or as the process has it")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed table")
    parser.add_argument("--no-accuracy", action="store_true", help="skip the accuracy table")
    parser.add_argument("--no-import", action="store_true", help="skip the import-time check")
    parser.add_argument("--progress", action="store_true", help="report progress on stderr")
    args = parser.parse_args(argv)
    args.size = args.size or (100_000 if args.quick else 1_000_000)
    args.rows = args.rows or (512 if args.quick else 4096)
    args.repeats = args.repeats or (5 if args.quick else 25)
    args.loss_number = 3 if args.quick else 10
    args.import_runs = args.import_runs or (3 if args.quick else 15)

    _, torch_version = _torch_impls(args.torch_threads)
    report = {
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "platform": platform.platform(), "processor": platform.processor(),
                    "cpus": os.cpu_count(), "torch": torch_version,
                    "scalar_math": bool(numeric.activations._SCALAR_MATH)},
        "settings": {k: getattr(args, k) for k in ("quick", "size", "rows", "repeats",
                                                   "loss_number", "cpu_time", "torch_threads",
                                                   "memory")},
    }
    try:
        import scipy

        report["machine"]["scipy"] = scipy.__version__
    except ImportError:  # pragma: no cover
        pass
    out = []
    if not args.no_speed:
        regimes = list(MEMORY_REGIMES) if args.memory == "both" else [args.memory]
        report["speed"] = []
        for regime in regimes:  # fresh first: afterwards the heap would hold what it freed
            results = speed(args, regime)
            report["speed"] += results
            out.append(format_speed(results, args, torch_version))
    if not args.no_accuracy:
        report["accuracy"] = accuracy(args)
        out.append(format_accuracy(report["accuracy"]))
    if not args.no_import:
        report["import"] = import_times(args.import_runs)
        out.append(format_import(report["import"]))
    print("\n\n".join(out))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float) + "\n",
                                   encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
