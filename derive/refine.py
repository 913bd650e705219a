"""Where a user's formula still rounds too much: computed again in np.longdouble there (measured).

The stabilize rules remove the cancellations and overflows they know; what a
user types can still round more than the 4-ULP bound allows.  σ(x)² squares
σ's rounding (4.9 ULP near x = −8.7), x/(eˣ − 1)′ = 1/m − x·eˣ/m² with
m = expm1(x) adds five roundings (5.2 ULP at x = 2.9), atan(x)/x′ cancels
by a few bits on [1, 1.5].  No rule mends those in double precision, but
np.longdouble has 11 bits more (on x86-64; on a machine where it is a double
nothing changes, and the certificate shows it).

So the code of a user's expression of one variable is measured at
:func:`probe_points` against mpmath, and so is the same formula evaluated in
np.longdouble (the subnormal tails' ``_tail_function``); each stretch of
probes where the double code errs by more than :data:`DENSE_ULPS` (in the
far tails :data:`BAD_ULPS`) and the long-double code is within
:data:`GOOD_ULPS` has its cell (:func:`cells`,
an octave) computed again in np.longdouble by the generated code, and so
does each octave where the double code errs by more than :data:`DENSE_ULPS`
at one of 16,384 random points against the long-double code itself (where
the probes found that within GOOD_ULPS): the rare roundings the probes miss
(``numeric._support._refine_tail``: only the elements inside, a mask
pass per interval for the others).

Examples
--------
>>> cells()[:2].tolist()  # the first two cells of magnitudes
[[5e-324, 2.121995791e-314], [2.121995791e-314, 9.113902524445497e-305]]
"""

from __future__ import annotations

import numpy as np

#: a probe where the double code errs by more than this is refined, in the
#: tails beyond the dense screen's ±[2^-12, 2^10] (σ(x)²′ on [−16, −4]: 11 % of
#: 600 random points above 2.5 ULP, at most 4.8)
BAD_ULPS = 2.0
#: ... if the long-double code is within this there
GOOD_ULPS = 1.0
#: a cell whose dense points (DENSE_PER_CELL a cell) err by more than this
#: against the long-double code is refined too (the certificate's bound is 4)
DENSE_ULPS, DENSE_PER_CELL = 3.0, 16384


def cells() -> np.ndarray:
    """The magnitude cells [low, high) of the probes: octaves on [2^-12, 2^10], 32 octaves beyond.

    A formula's rounding errors are spread over a stretch, not found at one
    point: where a probe errs, its whole cell (on its side of 0) is computed
    again, not just the space between two probes.
    """
    edges = np.unique(np.concatenate([2.0 ** np.arange(-1074, -12, 32), 2.0 ** np.arange(-12, 11),
                                      2.0 ** np.arange(10, 1024, 32), [np.inf]]))
    return np.stack([edges[:-1], edges[1:]], axis=1)


def probe_points() -> np.ndarray:
    """Sorted probes of float64: 32 an octave on ±[1/16, 64], 8 on ±[2^-12, 2^10], 1 every 32 octaves beyond.

    Dense where formulas are used most: the points past 4 ULP of a formula
    that rounds a few times too often are rare, and those past 2.5 that
    announce them not many (σ(x)²′ on [−16, −4]: 11 % of its points).

    Examples
    --------
    >>> p = probe_points()
    >>> p.size, float(p.max()), bool(np.all(np.diff(p) > 0))
    (964, 4.31951907271964e+301, True)
    """
    middle = np.concatenate([2.0 ** np.arange(-12, -4, 0.125), 2.0 ** np.arange(-4, 6, 1 / 32),
                             2.0 ** np.arange(6, 10, 0.125)])
    tails = np.concatenate([2.0 ** np.arange(-1074, -12, 32), 2.0 ** np.arange(10, 1024, 32)])
    magnitudes = np.concatenate([middle, tails]) * 1.0078125  # off the powers of two
    return np.unique(np.concatenate([-magnitudes, magnitudes]))


def stretches(xs: np.ndarray, double_errors: np.ndarray, long_errors: np.ndarray,
              ) -> list[tuple[float, float]]:
    """The intervals [low, high) to compute in np.longdouble, from the errors at the probes ``xs``.

    A probe counts where the double code errs by more than BAD_ULPS
    (DENSE_ULPS on the dense screen's ±[2^-12, 2^10]; inf errors: not
    finite) and the long-double code is within GOOD_ULPS
    (NaN errors, where there is no reference, count neither way); the cell
    of :func:`cells` that holds it, on its side of 0, is refined, and cells
    that touch are one interval.  (A rule on the mean error of a cell, to
    catch a formula whose roundings add up to 4 or 5 ULP only now and then,
    refined the catalogue-quality tanh′ over most of its domain: a test of
    the mean cannot tell x/(eˣ − 1)′, 0.55 ULP on average and 5.0 at
    x = 16.68, from tanh′, 2.15 at most.)

    Examples
    --------
    >>> stretches(np.array([-3.0, 1.5, 3.0]), np.array([3.5, 0.5, 9.0]), np.array([0.5, 0.5, 0.5]))
    [(-4.0, -2.0), (2.0, 4.0)]
    >>> stretches(np.array([2.5, 5e300]), np.array([2.5, 2.5]), np.array([0.5, 0.5]))  # 2.5: only in a tail
    [(9.9792015476736e+291, 4.2860344287450693e+301)]
    """
    # on ±[2^-12, 2^10] the dense screen judges the rare roundings (dense_stretches):
    # there a probe counts only past DENSE_ULPS, as a dense point does (tanh′, at 2.67
    # at most, took a long-double pass on ±[1/8, 1/4) for a probe at 2.0 to 2.5)
    dense = (np.abs(xs) >= 2.0 ** -12) & (np.abs(xs) < 2.0 ** 10)
    refine = (double_errors > np.where(dense, DENSE_ULPS, BAD_ULPS)) & (long_errors <= GOOD_ULPS)
    edges = cells()
    picked = set()
    for x in xs[refine]:
        picked.add(_cell_of(edges, x))
    found: list[tuple[float, float]] = []
    for low, high in sorted(picked):
        if found and found[-1][1] >= low:
            found[-1] = (found[-1][0], max(found[-1][1], high))
        else:
            found.append((low, high))
    return found


def _cell_of(edges: np.ndarray, x: float) -> tuple[float, float]:
    """The cell [low, high) of :func:`cells` that holds x, on its side of 0."""
    low, high = edges[np.searchsorted(edges[:, 1], abs(x), side="right")]
    return (-float(high), -float(low)) if x < 0 else (float(low), float(high))


def dense_points(per_cell: int = DENSE_PER_CELL, seed: int = 20261206) -> np.ndarray:
    """Random points, ``per_cell`` in each octave cell of ±[2^-12, 2^10] (log-uniform), sorted.

    And a sixteenth as many in each cell of :func:`cells` below 2^-12 (32
    octaves wide, log-uniform: there a formula's value is its value at 0 and
    a little, and rounds alike over the cell): σ(x)³ rounds to 4.4 ULP
    near x = −1e−6, just below 1/8, where one probe a cell saw 1.9.

    Examples
    --------
    >>> p = dense_points(16)
    >>> p.size, bool(np.all(np.abs(p) < 2.0 ** 10)), int(np.sum(np.abs(p) >= 2.0 ** -12))
    (772, True, 704)
    """
    rng = np.random.default_rng(seed)
    octaves = np.arange(-12, 10)
    exponents = octaves[:, None] + rng.uniform(0, 1, (octaves.size, per_cell))
    magnitudes = np.minimum(2.0 ** exponents.ravel(), np.nextafter(2.0 ** 10, 0))
    edges = np.log2(cells()[:, 0])
    low = edges[edges < -12]
    high = np.append(low[1:], -12.0)
    tail = rng.uniform(low[:, None], high[:, None], (low.size, max(per_cell // 16, 1)))
    magnitudes = np.concatenate([2.0 ** tail.ravel(), magnitudes])
    return np.sort(np.concatenate([-magnitudes, magnitudes]))


def dense_stretches(xs: np.ndarray, double_errors: np.ndarray, probes: np.ndarray,
                    long_errors: np.ndarray) -> list[tuple[float, float]]:
    """The cells where the double code errs by more than DENSE_ULPS at some dense point ``xs``.

    ``double_errors`` are measured against the long-double code itself (its
    values before they are rounded to float64): only in a cell whose mpmath
    ``probes`` found the long-double code within GOOD_ULPS everywhere
    (``long_errors``; a cell with no probe of known error is not judged).
    This finds what the probes miss: a formula that rounds to 4 or 5 ULP only
    now and then (x/(eˣ − 1)′: 5.0 at x = 16.68, 1.55 at most at the 64
    probes of [8, 32]).

    Examples
    --------
    >>> dense_stretches(np.array([5.0, 6.0]), np.array([4.0, 0.2]), np.array([4.5, 7.0]), np.array([0.4, 0.3]))
    [(4.0, 8.0)]
    """
    edges = cells()
    trusted: dict[tuple[float, float], bool] = {}
    for x, error in zip(probes, long_errors):
        if not np.isnan(error):  # (±inf: the truth or the long double not finite in float64: not trusted)
            cell = _cell_of(edges, x)
            trusted[cell] = trusted.get(cell, True) and bool(np.isfinite(error) and error <= GOOD_ULPS)
    picked = {_cell_of(edges, x) for x in xs[double_errors > DENSE_ULPS]}
    return sorted(cell for cell in picked if trusted.get(cell, False))


def merged(*groups: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The intervals of ``groups``, those that touch or overlap joined.

    Examples
    --------
    >>> merged([(1.0, 2.0), (4.0, 8.0)], [(2.0, 4.0), (16.0, 32.0)])
    [(1.0, 8.0), (16.0, 32.0)]
    """
    found: list[tuple[float, float]] = []
    for low, high in sorted(interval for group in groups for interval in group):
        if found and found[-1][1] >= low:
            found[-1] = (found[-1][0], max(found[-1][1], high))
        else:
            found.append((low, high))
    return found


def without(intervals: list[tuple[float, float]], holes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """``intervals`` [low, high) less the closed ``holes`` [a, b] (the removable points' patches).

    Examples
    --------
    >>> without([(-1.0, 2.0)], [(-0.5, 0.5)])
    [(-1.0, -0.5), (0.5000000000000001, 2.0)]
    """
    for a, b in holes:
        kept = []
        for low, high in intervals:
            if high <= a or low > b:
                kept.append((low, high))
                continue
            if low < a:
                kept.append((low, a))
            after = float(np.nextafter(b, np.inf))
            if after < high:
                kept.append((after, high))
        intervals = kept
    return intervals
