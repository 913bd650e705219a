"""Dense accuracy scan of every activation and its derivative, confirmed with mpmath.

The certificates of ``nnderive verify`` measure a grid of a few thousand
points plus the worst points of a 600,000-point screen.  This script looks
harder: each generated function and derivative on ``--points`` inputs (three
quarters at random on [−8, 8], a quarter on [−40, 40], a fixed seed) against
the plain definition and SymPy's derivative evaluated in ``np.longdouble``;
the worst input of each of ``--stretches`` stretches is then measured against
mpmath (at 50 digits and more, :func:`derive.verify.reference`), so that a
reported error is never the long-double reference's own (the definition can
cancel even in long double: log(1 + e^x) at x = −40).  Inputs within the
window of an interior zero (0.5·max(1, |x₀|) of a sign change, as in the
certificates) are left out: there the certificates judge absolute error.

    python benchmarks/dense_scan.py                  # every activation, 4,000,000 points
    python benchmarks/dense_scan.py mish sigmoid --points 8000000

Prints, per function, the largest error in ULPs confirmed with mpmath and
where; exits 1 if one is above its bound (4 ULP, or the bound of a stated
exception, ``derive.verify.STATED_EXCEPTIONS``).  Needs a long double wider
than a double (x86-64 Linux); gelu's erf has none in NumPy, so gelu is
scanned on 1,000,000 of the inputs with mpmath at 30 digits instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

import mpmath
import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import numeric  # noqa: E402
from derive.catalogue import ENTRIES  # noqa: E402
from numeric.accuracy import ulp_error  # noqa: E402

verify = importlib.import_module("derive.verify")

#: inputs of the scan where the definition has no long-double form (gelu's
#: erf), evaluated with mpmath at 30 digits instead (about 40 s per function)
MPMATH_POINTS = 1_000_000


def inputs(points: int, seed: int = 2026) -> np.ndarray:
    rng = np.random.default_rng(seed)
    wide = points // 4
    return np.sort(np.concatenate([rng.uniform(-8, 8, points - wide), rng.uniform(-40, 40, wide)]))


def zero_windows(xs: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Inputs within 0.5·max(1, |x₀|) of a sign change of ``true`` away from 0."""
    signs = np.sign(np.where(np.isfinite(true), true, 0))
    change = np.flatnonzero((signs[:-1] * signs[1:] < 0) & (np.abs(xs[:-1]) > 1e-3))
    window = np.zeros(xs.shape, bool)
    for i in change[:20]:
        window |= np.abs(xs - xs[i]) <= verify.ZERO_WINDOW * max(1.0, abs(xs[i]))
    return window


def scan(expr: sp.Expr, variable: sp.Symbol, fn, xs: np.ndarray, stretches: int) -> tuple[float, float]:
    """(largest error in ULPs confirmed with mpmath, where) of ``fn`` against ``expr``."""
    wide = verify._wide_function(expr, variable)
    if wide is None:  # NumPy lacks a function of it (gelu's erf): mpmath at 30 digits on a sample
        xs = xs[:: max(1, xs.size // MPMATH_POINTS)]
        wide = verify._mpmath_screen(expr, variable)
    true = wide(xs)
    keep = ~zero_windows(xs, true)
    xs_kept, computed = xs[keep], fn(xs[keep])
    picks = np.unique(np.concatenate(verify._worst_by_stretch(xs_kept, computed, true[keep], stretches)))
    reference = verify._mp_function(expr, [variable])
    worst, where = 0.0, float("nan")
    for x, value in zip(picks, fn(picks)):
        r = verify.reference(reference, [float(x)])
        if mpmath.isnan(r):
            continue
        error = ulp_error(float(value), r)
        if error > worst:
            worst, where = error, float(x)
    return worst, where


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="activations (default: all)")
    parser.add_argument("--points", type=int, default=4_000_000)
    parser.add_argument("--stretches", type=int, default=300)
    args = parser.parse_args(argv)
    if np.finfo(np.longdouble).nmant < 63:
        print("np.longdouble is only a double here: nothing to scan with")
        return 0
    xs = inputs(args.points)
    chosen = [e for e in ENTRIES if e.kind == "activation" and (not args.names or e.name in args.names)]
    print(f"{args.points:,} inputs, the worst of {args.stretches} stretches confirmed with mpmath "
          "(interior-zero windows left out)")
    print(f"{'function':16} {'max ULP f':>10} {'at x':>14} {'max ULP df':>11} {'at x':>14}  bound")
    failed = False
    for entry in chosen:
        start = time.perf_counter()
        x = entry.variable
        definition = entry.definition.subs(entry.defaults)
        bound = verify.STATED_EXCEPTIONS.get(entry.name, verify.ULP_BOUND)
        f_err, f_at = scan(definition, x, getattr(numeric, entry.name), xs, args.stretches)
        d_err, d_at = scan(sp.diff(definition, x), x, getattr(numeric, entry.name + "_grad"), xs, args.stretches)
        over = [e for e in (f_err, d_err) if e > bound]
        failed |= bool(over)
        print(f"{entry.name:16} {f_err:10.3g} {f_at:14.7g} {d_err:11.3g} {d_at:14.7g}  {bound:g}"
              f"{'  ABOVE' if over else ''}  ({time.perf_counter() - start:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
