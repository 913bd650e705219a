"""Dense accuracy scan of every activation, vector map and row loss, confirmed with mpmath.

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
    python benchmarks/dense_scan.py softmax --classes 2 10 1000

The vector maps (softmax, log_softmax and their VJPs) and softmax
cross-entropy (its loss per row and gradient) are scanned the same way on
rows of 2, 10, 100 and 1,000 classes (the certificates use 3), about
``--row-elements`` numbers per class count, drawn as the certificates' rows
are (dominant logits, ties, ±700, ±1e4), with random cotangents and with
one-hot, label-smoothed (0.9 and 0.1/(k − 1)) and Dirichlet targets.  The
references are evaluated in long double from forms that do not cancel
(log1p of the sum less the top term; softmax − y at the top entry as
((1 − y) − y·rest)/(1 + rest)), and the ``--row-picks`` worst components of
each are confirmed with mpmath.  A component whose terms cancel to less than
half is scored as the certificates judge it, by absolute error in units of
2·eps·(the sum of its terms' magnitudes), so that 4 is the bound either way.
binary_cross_entropy_with_logits and its gradient σ(z) − y are scanned on
``--loss-points`` (logit, target) pairs (targets 0, 1, 0.1, 0.9 and uniform).

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


#: the row functions: name → (the entry it belongs to, whether its terms can
#: cancel); the bound is the entry's (STATED_EXCEPTIONS)
ROW_FUNCTIONS = {
    "softmax": ("softmax", False), "softmax_vjp": ("softmax", True),
    "log_softmax": ("log_softmax", False), "log_softmax_vjp": ("log_softmax", True),
    "softmax_cross_entropy": ("softmax_cross_entropy", False),
    "softmax_cross_entropy_grad": ("softmax_cross_entropy", True),
}


def row_targets(k: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """A third each one-hot, label-smoothed (0.9 on one class) and Dirichlet targets."""
    hot = rng.integers(0, k, count)
    ys = np.zeros((count, k))
    ys[np.arange(count), hot] = 1.0
    smooth = np.arange(count) % 3 == 1
    ys[smooth] = 0.1 / (k - 1)
    ys[smooth, hot[smooth]] = 0.9
    soft = np.arange(count) % 3 == 2
    ys[soft] = rng.dirichlet(np.ones(k), int(soft.sum()))
    return ys


def wide_rows(z: np.ndarray, g: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Long-double values of every row function, from forms that do not cancel."""
    L = np.longdouble
    z, g, y = z.astype(L), g.astype(L), y.astype(L)
    rows = np.arange(len(z))
    top = np.argmax(z, axis=1)
    shifted = z - z[rows, top][:, None]
    e = np.exp(shifted)
    e_rest = e.copy()
    e_rest[rows, top] = 0
    rest = e_rest.sum(axis=1, keepdims=True)  # Σ e less the top term
    s = e / (1 + rest)
    log_s = shifted - np.log1p(rest)
    residual = s - y
    at_top = (1 - y[rows, top]) - y[rows, top] * rest[:, 0]
    residual[rows, top] = at_top / (1 + rest[:, 0])
    return {"softmax": s, "log_softmax": log_s,
            "softmax_vjp": s * (g - (g * s).sum(axis=1, keepdims=True)),
            "log_softmax_vjp": g - g.sum(axis=1, keepdims=True) * s,
            "softmax_cross_entropy": -(y * log_s).sum(axis=1, keepdims=True),
            "softmax_cross_entropy_grad": residual}


#: rows of the row scan whose loss is computed (one call each)
LOSS_ROWS = 16384


def computed_rows(z: np.ndarray, g: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The generated functions on the rows (the loss one row at a time, on
    LOSS_ROWS of them at most, NaN elsewhere; the
    gradient of the mean over 2^m rows, times 2^m: each row's own, to the bit
    where it is not subnormal; scan_rows leaves the subnormal ones out)."""
    losses = np.full((len(z), 1), np.nan)
    for i in range(0, len(z), max(1, len(z) // LOSS_ROWS)):
        losses[i] = numeric.softmax_cross_entropy(z[i:i + 1], y[i:i + 1])
    return {"softmax": numeric.softmax(z), "log_softmax": numeric.log_softmax(z),
            "softmax_vjp": numeric.softmax_vjp(z, g), "log_softmax_vjp": numeric.log_softmax_vjp(z, g),
            "softmax_cross_entropy": losses,
            "softmax_cross_entropy_grad": numeric.softmax_cross_entropy_grad(z, y) * len(z)}


def row_scales(name: str, z: np.ndarray, g: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The sum of the magnitudes of each component's terms (for those that can cancel)."""
    if name == "softmax_cross_entropy_grad":
        return verify._residual_scales(numeric.softmax(z), y)
    return verify._vjp_scales(name, z, g)


def mp_component(name: str, z, g, y, j: int):
    """Component j of a row function at one row, in mpmath (for verify.reference)."""
    k = len(z)

    def value(*args):
        zs, gs, ys = args[:k], args[k:2 * k], args[2 * k:]
        m = max(zs)
        e = [mpmath.exp(v - m) for v in zs]
        total = mpmath.fsum(e)
        s = [v / total for v in e]
        if name == "softmax":
            return s[j]
        if name == "log_softmax":
            return zs[j] - m - mpmath.log(total)
        if name == "softmax_vjp":  # g_j − Σ g_i s_i = Σ_i s_i (g_j − g_i): no 1 − s to lose
            return s[j] * mpmath.fsum(s[i] * (gs[j] - gs[i]) for i in range(k) if i != j)
        if name == "log_softmax_vjp":
            return gs[j] - mpmath.fsum(gs) * s[j]
        if name == "softmax_cross_entropy":
            return -mpmath.fsum(ys[i] * (zs[i] - m - mpmath.log(total)) for i in range(k) if ys[i])
        return s[j] - ys[j]

    return verify.reference(value, [*map(float, z), *map(float, g), *map(float, y)])


def confirmed_error(value: float, ref, scale: float | None) -> float:
    """The error of ``value`` against the mpmath ``ref`` as the certificates judge it: ULPs, or,
    where ``scale`` is given and less than CANCELLED of it is left, absolute error in units
    of 2·eps·scale (so that 4 is the bound either way), or the ULPs if fewer: such a
    point fails a certificate only if both are over (a subnormal result counts its
    ULPs in units of the smallest normal number)."""
    ulps = ulp_error(float(value), ref)
    if scale is not None and abs(ref) < verify.CANCELLED * scale:
        unit = 2 * float(np.finfo(np.float64).eps) * max(scale, 1e-300)  # (as the screens: no 0 unit)
        absolute = float(abs(mpmath.mpf(float(value)) - ref)) / unit
        return min(absolute, ulps)
    return ulps


def scan_rows(names: list[str], classes: list[int], elements: int, picks: int) -> bool:
    """Print the confirmed worst of each row function per class count; True if one is above its bound."""
    print(f"\nrows of {', '.join(map(str, classes))} classes, about {elements:,} numbers each; "
          f"the worst {picks} components confirmed with mpmath (cancelled: absolute error / 2·eps·scale)")
    print(f"{'function':28} {'classes':>7} {'rows':>9} {'max score':>10}  worst at (first logits, component)  bound")
    failed = False
    for k in classes:
        count = 1 << max(1, int(np.log2(max(2, elements // k))))
        z = verify.vector_rows(k, count, seed=2026 + k)
        rng = np.random.default_rng(k)
        g, y = rng.normal(0, 1, z.shape), row_targets(k, count, rng)
        with np.errstate(all="ignore"):
            wide, got = wide_rows(z, g, y), computed_rows(z, g, y)
        for name in names:
            start = time.perf_counter()
            family, cancels = ROW_FUNCTIONS[name]
            true, computed = wide[name], np.asarray(got[name], dtype=np.float64)
            scale = row_scales(name, z, g, y) if cancels else None
            with np.errstate(all="ignore"):
                score = (verify._cancellation_scores(computed.ravel(), true.ravel(), scale.ravel()) if cancels
                         else verify._screen_ulps(computed.ravel(), true.ravel()))
            score[np.isnan(computed.ravel())] = -np.inf  # rows whose loss was not computed
            if name == "softmax_cross_entropy_grad":  # the gradient of the mean, times the rows
                score = verify._mean_gradient_scores(score, true.ravel(), count)
            worst, where = 0.0, ""
            for flat in np.argsort(score)[::-1][:picks]:
                r, j = divmod(int(flat), computed.shape[1])
                ref = mp_component(name, z[r], g[r], y[r], j)
                if mpmath.isnan(ref):
                    continue
                error = confirmed_error(computed[r, j], ref, scale[r, j] if cancels else None)
                if error > worst:
                    worst, where = error, f"{np.round(z[r][:4], 4).tolist()}{'…' if k > 4 else ''}, {j}"
            bound = verify.STATED_EXCEPTIONS.get(family, verify.ULP_BOUND)
            over = worst > bound
            failed |= over
            print(f"{name:28} {k:7} {count:9,} {worst:10.3g}  {where:34} {bound:g}"
                  f"{'  ABOVE' if over else ''}  ({time.perf_counter() - start:.1f} s)", flush=True)
    return failed


#: the elementwise loss scanned (its gradient σ(z) − y cancels as softmax − y does)
LOGIT_LOSS = "binary_cross_entropy_with_logits"


def scan_logit_loss(points: int, picks: int) -> bool:
    """binary_cross_entropy_with_logits and its gradient σ(z) − y on ``points``
    (logit, target) pairs: logits as :func:`inputs`, targets a fifth each 0, 1,
    0.1, 0.9 (label smoothing) and uniform on [0, 1].  Long-double references
    (softplus(±z) by log1p(e^{−|z|}), σ(z) − y with no cancellation but the
    problem's own), the ``picks`` worst confirmed with mpmath; σ(z) − y scored
    as in the certificates (absolute error against 2·eps·max(σ, |y|) where
    less than half is left).  True if one is above its bound."""
    entry = next(e for e in ENTRIES if e.name == LOGIT_LOSS)
    count = 1 << int(np.log2(points))  # the gradient of the mean, times the count, is each element's own
    z = inputs(count, seed=7)
    rng = np.random.default_rng(8)
    y = rng.choice([0.0, 1.0, 0.1, 0.9, -1.0], count)
    y[y < 0] = rng.uniform(0, 1, int((y < 0).sum()))
    L = np.longdouble
    zl, yl = z.astype(L), y.astype(L)
    e = np.exp(-np.abs(zl))
    softplus_pos = np.maximum(zl, 0) + np.log1p(e)  # softplus(z)
    softplus_neg = np.maximum(-zl, 0) + np.log1p(e)  # softplus(−z)
    sigma = np.where(zl >= 0, 1 / (1 + e), e / (1 + e))
    true_f = (1 - yl) * softplus_pos + yl * softplus_neg
    true_d = sigma - yl
    sample = np.arange(0, count, max(1, count // LOSS_ROWS))
    loss, grad = getattr(numeric, LOGIT_LOSS), getattr(numeric, LOGIT_LOSS + "_grad")
    computed_f = np.array([float(loss(z[i:i + 1], y[i:i + 1])) for i in sample])
    computed_d = np.asarray(grad(z, y)) * count
    scale = verify._residual_scales(numeric.sigmoid(z), y)
    with np.errstate(all="ignore"):
        score_f = verify._screen_ulps(computed_f, true_f[sample])
        score_d = verify._cancellation_scores(computed_d, true_d, scale)
    score_d = verify._mean_gradient_scores(score_d, true_d, count)
    f_mp = verify._mp_function(entry.definition.subs(entry.defaults), list(entry.variables))
    d_mp = verify._mp_function(sp.diff(entry.definition, entry.variables[0]), list(entry.variables))
    bound = verify.STATED_EXCEPTIONS.get(LOGIT_LOSS, verify.ULP_BOUND)
    print(f"\n{LOGIT_LOSS}: {count:,} (logit, target) pairs (targets 0, 1, 0.1, 0.9 and uniform), "
          f"the loss on {sample.size:,}; the worst {picks} confirmed with mpmath")
    failed = False
    for label, score, values, where, mp_fn in (
            ("loss", score_f, computed_f, sample, f_mp), ("gradient", score_d, computed_d, np.arange(count), d_mp)):
        worst, at = 0.0, ""
        for k in np.argsort(score)[::-1][:picks]:
            i = int(where[k])
            ref = verify.reference(mp_fn, [float(z[i]), float(y[i])])
            if mpmath.isnan(ref):
                continue
            error = confirmed_error(values[k], ref, scale[i] if label == "gradient" else None)
            if error > worst:
                worst, at = error, f"z = {z[i]:.7g}, y = {y[i]:.7g}"
        over = worst > bound
        failed |= over
        print(f"  {label:9} {worst:8.3g}  at {at:36} bound {bound:g}{'  ABOVE' if over else ''}", flush=True)
    return failed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="activations and row functions "
                        f"({', '.join(ROW_FUNCTIONS)}; default: all)")
    parser.add_argument("--points", type=int, default=4_000_000)
    parser.add_argument("--stretches", type=int, default=300)
    parser.add_argument("--classes", type=int, nargs="+", default=[2, 10, 100, 1000],
                        help="class counts of the row scan")
    parser.add_argument("--row-elements", type=int, default=2_000_000,
                        help="numbers per class count in the row scan")
    parser.add_argument("--loss-points", type=int, default=1 << 22,
                        help=f"(logit, target) pairs of the {LOGIT_LOSS} scan")
    parser.add_argument("--row-picks", type=int, default=12,
                        help="worst components per function and class count confirmed with mpmath")
    args = parser.parse_args(argv)
    if np.finfo(np.longdouble).nmant < 63:
        print("np.longdouble is only a double here: nothing to scan with")
        return 0
    known = {e.name for e in ENTRIES if e.kind == "activation"} | set(ROW_FUNCTIONS) | {LOGIT_LOSS}
    unknown = sorted(set(args.names) - known)
    if unknown:
        parser.error(f"unknown function(s) {unknown}; known: {sorted(known)}")
    row_names = [n for n in ROW_FUNCTIONS if not args.names or n in args.names]
    if any(k < 2 for k in args.classes):
        parser.error("--classes: at least 2 classes a row")
    chosen = [e for e in ENTRIES if e.kind == "activation" and (not args.names or e.name in args.names)]
    failed = scan_rows(row_names, args.classes, args.row_elements, args.row_picks) if row_names else False
    if not args.names or LOGIT_LOSS in args.names:
        failed |= scan_logit_loss(args.loss_points, args.row_picks)
    if not chosen:
        return 1 if failed else 0
    xs = inputs(args.points)
    print(f"\n{args.points:,} inputs, the worst of {args.stretches} stretches confirmed with mpmath "
          "(interior-zero windows left out)")
    print(f"{'function':16} {'max ULP f':>10} {'at x':>14} {'max ULP df':>11} {'at x':>14}  bound")
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
