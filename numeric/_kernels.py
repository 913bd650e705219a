"""Stable NumPy kernels for the named primitives of :mod:`derive.primitives`.

Generated code calls these (as ``_sigmoid``, ``_softplus``, …); a standalone
module written by ``nnderive codegen -o FILE`` carries a copy of the ones it
uses, so each kernel depends on NumPy (and, for the error functions, on the
coefficients fitted by derive/fits.py, copied along) and on nothing else in
this package.

Every kernel keeps the input's floating dtype (float32 in, float32 out) and
evaluates each branch only where it is valid: no overflow, no RuntimeWarning.

Examples
--------
>>> import numpy as np
>>> float(sigmoid(-800.0)), float(softplus(1000.0))
(0.0, 1000.0)
>>> float(sigmoid(-700.0))
9.85967654375977e-305
"""

from __future__ import annotations

import numpy as np

from ._fits import NORMAL_RATIO_SLOPE, NORMAL_TAIL, NORMAL_TAIL_CENTER
from ._support import BLOCK, _blocks, _scratch

__all__ = [
    "sigmoid",
    "softplus",
    "logistic",
    "sigmoid_residual",
    "poly_dd",
    "sum_dd",
    "quotient_dd",
    "product_dd",
    "sech2",
    "erfc",
    "erf",
    "erfcx",
    "ndtr",
    "ndtr_slope",
    "gauss_over_ndtr",
    "gauss_over_ndtr_slope",
    "gauss",
    "gaussian",
    "normal",
    "ndtr_wide",
    "sum_carried",
    "xlogy",
    "xlog1py",
    "xdivy",
    "quotient_with_limit",
    "quiet_divide",
    "quiet_multiply",
    "zero_safe_dot",
    "split_sum",
    "rowsum",
    "softmax_rows",
    "logsumexp",
    "softmax",
    "softmax_complement",
    "log_softmax",
    "softmax_family",
    "softmax_vjp",
    "log_softmax_vjp",
    "away_from",
    "outside",
    "taylor_near",
]


def sigmoid(x):
    """σ(x) = 1/(1 + e⁻ˣ) = max(e, [x ≥ 0])/(1 + e) with e = e^{-|x|}: nothing overflows (see logistic)."""
    return logistic(x, "sigmoid")[0]


def softplus(x):
    """log(1 + eˣ) = max(x, 0) + log1p(e^{-|x|}) (see logistic)."""
    return logistic(x, "softplus")[0]


def logistic(u, *wanted):
    """The members of the logistic family asked for, sharing one e = e^{-|u|} per element.

    The names ("sigmoid", "sigmoid_neg", "softplus", "softplus_neg", "sigmoid_slope") stand for σ(u), σ(−u),
    softplus(u), softplus(−u) and σ(u)·σ(−u): σ(±u) = max(e, [±u ≥ 0])/(1 + e),
    softplus(±u) = max(±u, 0) + log1p(e) and σ(u)·σ(−u) = e/(1 + e(2 + e)) (one
    rounding of 1 + e, not two), so nothing overflows.  Evaluated in
    blocks of 32768 elements, so that the temporaries stay in cache and the
    input and each output are streamed through memory once; one array per
    name is returned.

    Examples
    --------
    >>> s, s_neg = logistic(np.array([-800.0, 0.0, 40.0]), "sigmoid", "sigmoid_neg")
    >>> s.tolist(), s_neg.tolist()
    ([0.0, 0.5, 1.0], [1.0, 0.5, 4.248354255291589e-18])
    """
    known = ("sigmoid", "sigmoid_neg", "softplus", "softplus_neg", "sigmoid_slope")
    if set(wanted) - set(known):
        raise ValueError(f"logistic: unknown member(s) {sorted(set(wanted) - set(known))}; known: {known}")
    x = np.asarray(u)
    dtype = np.result_type(x, 1.0)
    outs = [np.empty(x.shape, dtype) for _ in wanted]
    xs, flat = x.reshape(-1), [o.reshape(-1) for o in outs]
    size = min(xs.size, 32768)
    e, d, log1p_e = np.empty((3, size), dtype)
    mask = np.empty(size, bool)
    for start in range(0, xs.size, 32768):
        xb = xs[start:start + 32768]
        k = xb.size
        eb, db, lb, mb = e[:k], d[:k], log1p_e[:k], mask[:k]
        np.abs(xb, out=eb)
        np.negative(eb, out=eb)
        np.exp(eb, out=eb)
        if "sigmoid" in wanted or "sigmoid_neg" in wanted:
            np.add(eb, 1, out=db)
        if "softplus" in wanted or "softplus_neg" in wanted:
            np.log1p(eb, out=lb)
        for name, out in zip(wanted, flat):
            yb = out[start:start + 32768]
            if name == "sigmoid":
                np.maximum(eb, np.greater_equal(xb, 0, out=mb), out=yb)
                yb /= db
            elif name == "sigmoid_neg":
                np.maximum(eb, np.less_equal(xb, 0, out=mb), out=yb)
                yb /= db
            elif name == "softplus":
                np.maximum(xb, 0, out=yb)
                yb += lb
            elif name == "sigmoid_slope":
                np.add(eb, 2, out=yb)
                yb *= eb
                yb += 1
                np.divide(eb, yb, out=yb)
            else:
                np.minimum(xb, 0, out=yb)
                np.subtract(lb, yb, out=yb)
    return tuple(outs)


def sigmoid_residual(u, y):
    """σ(u) − y, the gradient of binary cross-entropy with logits, within about 3.7 ULP.

    With e = e^{−|u|} and d = 1 + e, σ(u) = P/d and σ(−u) = Q/d for
    P = max(e, [u ≥ 0]) and Q = max(e, [u ≤ 0]), so σ(u)(1 − y) − σ(−u)·y =
    (P·(1 − y) − Q·y)/d: one division where σ(u) and σ(−u) each had their
    own, and no cancellation where σ(u) and y are both close to 1 (y = 1:
    −Q/d = −σ(−u)) or both close to 0.  Where the two terms cancel by half
    (σ(u) ≈ 2y), each of their roundings counts twice, so the two that can be
    recovered exactly are: c = 1 − y is c + r exactly (r = (1 − c) − y,
    Fast2Sum: |y| ≤ 1), and d = 1 + e is d + δ (δ = e − (d − 1)), folded
    back as n/(d + δ) = t − t·δ/d with t = n/d.  The form of the stabilize
    rule (σ(u)(1 − y) − y·σ(−u), from the logistic kernel) reached 4.58 ULP
    on 5,000,000 (logit, target) pairs at u = −1.3410, y = 0.1, where this
    reaches 3.41 (3.68 on the 8,388,608 pairs of benchmarks/dense_scan.py).
    u and y broadcast together; computed in float64, in blocks.

    Examples
    --------
    >>> sigmoid_residual(np.array([40.0, 0.0, -800.0]), np.array([1.0, 0.1, 0.0])).tolist()
    [-4.248354255291589e-18, 0.4, 0.0]
    """
    u, y = np.broadcast_arrays(np.asarray(u, dtype=np.float64), np.asarray(y, dtype=np.float64))
    out = np.empty(u.shape)
    ys = y.reshape(-1)
    work = _scratch("sigmoid_residual", (6, min(u.size, BLOCK)))
    start = 0
    for ub, (ob,), (e, d, c, r, p, q) in _blocks(u, (out,), work):
        yb = ys[start:start + ub.size]
        start += ub.size
        np.abs(ub, out=e)
        np.negative(e, out=e)
        np.exp(e, out=e)
        np.add(e, 1.0, out=d)
        np.maximum(e, np.greater_equal(ub, 0.0), out=p)  # numerators of σ(u) and σ(−u)
        np.maximum(e, np.less_equal(ub, 0.0), out=q)
        with np.errstate(invalid="ignore"):  # an infinite y: NaN on the way, mended below
            np.subtract(1.0, yb, out=c)
            np.subtract(1.0, c, out=r)
            r -= yb  # 1 − y = c + r exactly
            c *= p
            q *= yb
            c -= q  # P·c − Q·y
            r *= p
            c += r  # the numerator, with the rounding of 1 − y folded back
            np.divide(c, d, out=ob)
            np.subtract(d, 1.0, out=q)
            np.subtract(e, q, out=q)  # δ = (1 + e) − d exactly
            q /= d
            q *= ob
            ob -= q  # n/(d + δ) = t − t·δ/d
        if np.isnan(np.add.reduce(ob)):
            bad = np.isnan(ob) & ~np.isnan(ub) & ~np.isnan(yb)
            if bad.any():  # y = ±inf: the plain (P·(1 − y) − Q·y)/d, ∓inf
                eb, ubad, ybad = e[bad], ub[bad], yb[bad]
                ob[bad] = (np.maximum(eb, ubad >= 0) * (1 - ybad) - np.maximum(eb, ubad <= 0) * ybad) / d[bad]
    return out[()] if out.ndim == 0 else out


def poly_dd(x, coefficients, *wanted):
    """A polynomial P(x) = hi + lo in double-double arithmetic (Horner's rule).

    ``coefficients`` are ``(hi, lo)`` pairs, highest degree first, each the
    float64 pair nearest an exact coefficient; ``wanted`` names what to return
    ("hi", "lo").  The products are Dekker's exact ones (Veltkamp's split),
    the sums Knuth's TwoSum, so hi + lo carries P(x) to about 2⁻¹⁰⁵ relative:
    σ or sech² of a rounded argument of size |P| errs by |P|·eps, which is
    hundreds of ULP for the tanh form of GELU in its tails.  x is first
    clipped to where no product can overflow (beyond it, P's magnitude is
    astronomical anyway), and lo is 0 where |hi| > 1e6, where functions of
    the argument have saturated (e^{-1e6} = 0) and a correction term such as
    lo·σ(−hi) could only overflow; computed in float64.

    Examples
    --------
    3 × 1/10, with 1/10 = 0.1 − 5.55e-18: exactly 3/10 = 0.3 + 1.11e-17 (where
    the float64 product 3 × 0.1 gives 0.30000000000000004):

    >>> hi, lo = poly_dd(np.array([3.0]), ((0.1, -5.551115123125783e-18), (0.0, 0.0)), "hi", "lo")
    >>> float(hi[0]), float(lo[0])
    (0.3, 1.1102230246251563e-17)
    """
    if set(wanted) - {"hi", "lo"}:
        raise ValueError(f"poly_dd: unknown member(s) {sorted(set(wanted) - {'hi', 'lo'})}; known: ('hi', 'lo')")
    degree = len(coefficients) - 1
    scale = 1 + sum(abs(h) for h, _ in coefficients)
    bound = (1e290 / scale) ** (1 / max(degree, 1))
    x = np.clip(np.asarray(x, dtype=np.float64), -bound, bound)
    shape, x = x.shape, x.reshape(-1)
    out_hi, out_lo = np.empty(x.size), np.empty(x.size)
    # every step in place on reused rows of a block (a fresh array per operation
    # cost more than the arithmetic, and rows of the whole x left the cache: a
    # Taylor patch of degree 55 on 400,000 elements took 0.8 s); the operations
    # and their order are those of the formulas in the comments
    work = _scratch("poly_dd", (8, max(1, min(x.size, BLOCK))))
    for start in range(0, x.size, BLOCK):
        m = min(BLOCK, x.size - start)
        _horner_dd(x[start:start + m], coefficients, out_hi[start:start + m], out_lo[start:start + m],
                   *(row[:m] for row in work))
    hi, lo = out_hi.reshape(shape), out_lo.reshape(shape)
    lo[np.abs(hi) > 1e6] = 0
    members = {"hi": hi, "lo": lo}
    return tuple(members[name] for name in wanted)


def _horner_dd(x, coefficients, hi, lo, x1, x2, p, t, h1, h2, e, s):
    """poly_dd's Horner steps on one block of x, into the rows hi and lo.

    The leading coefficients whose terms are below 2^-80 of the terms' sum
    on the block (|x| ≤ its largest), with the error of float64 Horner on
    them counted, are summed in float64 (two operations a degree, where a
    double-double step takes about twenty-five), and double-double takes
    over from there: a Taylor patch of degree 59 needs it for the first
    twenty or thirty only.
    """
    largest = float(np.max(np.abs(x))) if x.size else 0.0
    steps = len(coefficients) - 1
    start = 1  # the coefficients before this one in float64 (the first alone: none)
    if np.isfinite(largest) and steps > 4:
        sizes = [abs(c_hi) * largest ** (steps - k) for k, (c_hi, _) in enumerate(coefficients)]
        budget = 2.0 ** -80 * sum(sizes) / (4 * steps * 2.0 ** -53)
        leading = sizes[0]
        while start < steps and leading + sizes[start] <= budget:
            leading += sizes[start]
            start += 1
    hi[...] = float(coefficients[0][0])
    lo[...] = float(coefficients[0][1]) if start == 1 else 0.0
    if start > 1:  # the terms of the degrees above steps − start + 1, in float64 (their lows below ulp)
        for c_hi, _ in coefficients[1:start]:
            hi *= x
            hi += c_hi
    _veltkamp(x, x1, x2)  # x = x1 + x2, each half of the significand, once
    for c_hi, c_lo in coefficients[start:]:
        _two_product(hi, x, p, e, h1, h2, t, s, b_parts=(x1, x2))  # (p, e) = hi·x exactly (Dekker)
        np.multiply(lo, x, out=t)  # e += lo·x
        e += t
        if c_hi == 0 and c_lo == 0:  # nothing to add: renormalise p + e (as TwoSum with 0 would)
            np.add(p, e, out=hi)
            np.subtract(hi, p, out=t)
            np.subtract(e, t, out=lo)  # lo = e − (hi − p)
            continue
        np.add(p, c_hi, out=s)  # (s, f) = p + c_hi exactly (TwoSum), v = s − p in h1
        np.subtract(s, p, out=h1)
        np.subtract(s, h1, out=t)
        np.subtract(p, t, out=t)
        np.subtract(c_hi, h1, out=h2)
        np.add(t, h2, out=h2)  # f = (p − (s − v)) + (c_hi − v)
        np.add(e, c_lo, out=t)
        h2 += t  # f += e + c_lo
        np.add(s, h2, out=hi)  # renormalise: |lo| ≤ ulp(hi)/2
        np.subtract(hi, s, out=t)
        np.subtract(h2, t, out=lo)  # lo = f − (hi − s)


def sum_dd(*items):
    """A sum of products Σ cₖ·aₖ·bₖ = hi + lo in double-double arithmetic.

    ``items`` are the terms, each a tuple ``(c, a, b)``: a float64 number c
    and two arrays or numbers a, b (the argument w·x + b of a neuron's
    activation is ``(1.0, w, x), (1.0, b, 1.0)``), or ``(c, a, b, d)`` for a
    product of three (−y·w·x of a logistic loss's margin), then the names
    wanted ("hi", "lo", and "hi_lo": hi·lo, 0 where hi is not finite). Each
    product a·b is Dekker's exact one (Veltkamp's split), a·b·d is (p + e)·d
    with p·d exact and e·d rounded (2⁻¹⁰⁵ of the product), and c must scale it
    exactly (±2ᵏ) unless b is 1, where c·a is the exact product; the sums are
    Knuth's TwoSum, so hi + lo carries the sum to about 2⁻¹⁰⁵ relative where
    hi alone, the plain float64 sum, errs by its size times eps: σ(w·x + b) of
    the rounded sum errs by |w·x + b|·eps relative, 17 ULP at w·x + b = 40. lo
    is 0 where |hi| > 1e6 (a function of the argument has saturated there) or
    where a product overflows.

    Examples
    --------
    0.1 × 3 + 0.2 = 0.5 + 2.8e−17 (the float64 products and sum give 0.5):

    >>> hi, lo = sum_dd((1.0, np.array([0.1]), 3.0), (1.0, 0.2, 1.0), "hi", "lo")
    >>> float(hi[0]), float(lo[0])
    (0.5, 2.7755575615628914e-17)
    """
    terms = [item for item in items if isinstance(item, tuple)]
    wanted = [item for item in items if not isinstance(item, tuple)]
    _check_parts(wanted, "sum_dd")
    hi, lo = _exact_sum(terms, "sum_dd")
    return _parts(hi, lo, wanted)


def _check_parts(wanted, kernel):
    """ValueError unless every name ``wanted`` is a member of a double-double kernel."""
    known = ("hi", "lo", "hi_lo", "lo_whole")
    if set(wanted) - set(known):
        raise ValueError(f"{kernel}: unknown member(s) {sorted(set(wanted) - set(known))}; known: {known}")


def _renormalise(hi, lo, out, t):
    """out + lo = hi + lo with |lo| ≤ ulp(out)/2 (Fast2Sum, |lo| ≤ |hi|), into out and lo;
    a lo that is not finite (an overflowed product or sum: hi is ±inf or NaN there) is 0 first."""
    lo[~np.isfinite(lo)] = 0
    np.add(hi, lo, out=out)
    np.subtract(out, hi, out=t)
    np.subtract(lo, t, out=lo)
    return out, lo


def _parts(hi, lo, wanted):
    """The members ``wanted`` of a double-double hi + lo: lo set to 0 where |hi| > 1e6 or
    lo is not finite, "lo_whole" lo set to 0 only where it is not finite (for a function
    that does not saturate: sin(hi + lo) needs lo whole at any hi), and "hi_lo" the
    product hi·lo (0 where hi is not finite)."""
    with np.errstate(invalid="ignore"):  # NaN compared, inf·0 (replaced)
        lo[~np.isfinite(lo)] = 0
        members = {"lo_whole": lo.copy()} if "lo_whole" in wanted else {}
        lo[~(np.abs(hi) <= 1e6)] = 0
        members.update({"hi": hi, "lo": lo})
        if "hi_lo" in wanted:
            members["hi_lo"] = np.where(np.isfinite(hi), hi * lo, 0.0)
    return tuple(members[name] for name in wanted)


def _exact_sum(terms, kernel):
    """Σ of ``terms`` (see sum_dd) as (hi, lo), lo 0 only where a product or sum overflowed.

    Computed in blocks of BLOCK elements on reused work rows (a fresh 1e6-element
    array per operation made x/(1 + x²) and its derivative 60 ms, where the
    arithmetic takes a few); the terms that are numbers are summed once, a
    number factor is split once, and a square a·a splits a once.
    """
    # each term as (factors, exact scale): c·a where b is the number 1 (as the
    # code generator writes it), else a·b (·d) scaled by c = ±2^k; an array of
    # ones is looked at only where c is no power of two
    products = []
    for c, a, *rest in terms:
        power_of_two = abs(float(np.frexp(float(c))[0])) == 0.5
        b = rest[0]
        if len(rest) == 1 and ((np.ndim(b) == 0 and float(b) == 1.0)
                               or (not power_of_two and np.all(np.asarray(b) == 1.0))):
            products.append(((c, a), 1.0))  # c·a exactly
        elif power_of_two:
            products.append(((a, *rest), float(c)))
        else:
            raise ValueError(f"{kernel}: a coefficient of a product must be ±2^k, not {float(c)!r}")
    shape = np.broadcast_shapes(*(np.shape(v) for factors, _ in products for v in factors))
    size = int(np.prod(shape, dtype=np.int64))

    def flat(v):  # a number stays a 0-d float64; an array is flattened to the common shape
        v = np.asarray(v, dtype=np.float64)
        return v if v.ndim == 0 else np.broadcast_to(v, shape).reshape(-1)

    numbers, arrays = [], []
    for factors, scale in products:
        values = sorted((flat(v) for v in factors), key=np.ndim, reverse=True)  # an array first
        square = len(factors) == 2 and factors[0] is factors[1] and values[0].ndim > 0
        if values[0].ndim == 0:
            numbers.append((values, scale, square, None))
        else:  # a number second factor is split here, once, not in every block
            arrays.append((values, scale, square, _split_number(values[1]) if values[1].ndim == 0 else None))
    out_hi, out_lo = np.empty(size), np.empty(size)
    work = _scratch("sum_dd", (10, max(1, min(size, BLOCK))))
    with np.errstate(over="ignore", invalid="ignore"):  # a product past 1e300: lo is 0 there (below)
        base_hi, base_lo, *row = np.zeros((10, 1))
        for values, scale, _, _ in numbers:  # the numbers' sum, exactly, once
            base_hi, row[3] = _add_product(base_hi, base_lo, [np.broadcast_to(v, (1,)) for v in values], scale,
                                           False, None, *row), base_hi
        for start in range(0, size, BLOCK):
            m = min(BLOCK, size - start)
            hi, lo, *rows = (r[:m] for r in work)
            hi[...] = base_hi
            lo[...] = base_lo
            for values, scale, square, b_parts in arrays:
                block = [v if v.ndim == 0 else v[start:start + m] for v in values]
                hi, rows[3] = _add_product(hi, lo, block, scale, square, b_parts, *rows), hi  # hi: the old total row
            total, lo = _renormalise(hi, lo, rows[0], rows[1])
            out_hi[start:start + m] = total
            out_lo[start:start + m] = lo
    return out_hi.reshape(shape), out_lo.reshape(shape)


def _split_number(b):
    """Veltkamp's halves (high, low) of one float64 number, as Python floats (see _two_product's b_parts)."""
    high, low = _halves(np.reshape(np.asarray(b, dtype=np.float64), 1))
    return float(high[0]), float(low[0])


def _add_product(hi, lo, factors, scale, square, b_parts, p, e, t, total, w1, w2, w3, w4):
    """hi + lo + scale·Π factors: lo in place, and the new hi, which is the row ``total`` (the product
    exact, Dekker's, the third factor's part rounded; the sum Knuth's TwoSum).  An array factor
    comes first; ``b_parts`` are the halves of the second where it is a number (else None)."""
    a, b, *more = factors
    if square:  # a·a: a split once, (ah·ah − p) + 2·ah·al + al·al
        np.multiply(a, a, out=p)
        _veltkamp(a, w1, w2)
        np.multiply(w1, w1, out=e)
        e -= p
        np.multiply(w1, w2, out=w3)
        w3 *= 2
        e += w3
        np.multiply(w2, w2, out=w3)
        e += w3
    else:
        _two_product(a, b, p, e, w1, w2, w3, w4, b_parts=b_parts)
    for d in more:  # (p + e)·d = p·d exactly, + e·d rounded
        e *= d
        np.copyto(t, p)
        _two_product(t, d, p, total, w1, w2, w3, w4)
        e += total
    if scale != 1.0:  # ±2^k: exact
        p *= scale
        e *= scale
    _two_sum(hi, p, total, w1, t)  # total + w1 = hi + p exactly
    lo += w1
    lo += e
    return total

def quotient_dd(terms, divisor, *wanted):
    """A quotient (Σ cₖ·aₖ·bₖ)/d = hi + lo in double-double arithmetic.

    ``terms`` are sum_dd's, ``divisor`` an array or number, then the names
    wanted: "hi", "lo" and "hi_lo", the product hi·lo (the first-order term
    of (hi + lo)², 0 where hi is not finite).  The numerator is sum_dd's
    exact sum, hi = its hi/d rounded and lo = (its remainder, exact by
    Dekker's product, + its lo)/d, so hi + lo carries the quotient to about
    2⁻¹⁰⁰ relative: a Gaussian's φ((x − m)/s) of the rounded quotient errs by
    r² rounding errors (155 ULP at r = 26.7).  lo is 0 where |hi| > 1e6, as
    in sum_dd, and where the remainder overflows or d is 0.

    Examples
    --------
    (1 + 10⁻¹⁷)/3 = 0.333… + 2.18e−17, where the float64 sum and quotient
    give 1/3 rounded (mpmath: 2.1837050410419276e−17 past it):

    >>> hi, lo = quotient_dd(((1.0, 1.0, 1.0), (1.0, 1e-17, 1.0)), 3.0, "hi", "lo")
    >>> float(hi), float(lo)
    (0.3333333333333333, 2.1837050410419275e-17)
    """
    top, rest, d, q, lo, rows = _scaled_sum(terms, divisor, wanted, "quotient_dd")
    with np.errstate(all="ignore"):  # d = 0 or a remainder past 1e300: lo is 0 there
        _divide_dd(top, rest, d, 0.0, q, lo, rows)
        hi, lo = _renormalise(q, lo, *rows[:2])
    return _parts(hi, lo, wanted)


def product_dd(terms, factor, *wanted):
    """A product f·Σ cₖ·aₖ·bₖ = hi + lo in double-double arithmetic.

    As quotient_dd, with the factor f for its divisor: the sum is sum_dd's
    exact one, and f times its hi is Dekker's exact product.  A logistic
    loss's margin −y·(w·x + b) is the example: written out as −y·w·x − y·b
    its two products overflow to ±inf where the margin does not (NaN for a
    finite or infinite loss), and its rounded value errs by the margin's size
    times eps (24 ULP in softplus of it).

    Examples
    --------
    >>> hi, lo = product_dd(((1.0, 1.0, 1.0), (1.0, 1e-17, 1.0)), 3.0, "hi", "lo")
    >>> float(hi), float(lo)
    (3.0, 3e-17)
    """
    total, rest, f, hi, lo, (p, e, *four) = _scaled_sum(terms, factor, wanted, "product_dd")
    with np.errstate(all="ignore"):  # a product past 1e300: lo is 0 there (_parts)
        _two_product(f, total, hi, lo, *four)
        np.multiply(f, rest, out=e)
        lo += e
        total, lo = _renormalise(hi, lo, p, e)
    return _parts(total, lo, wanted)


def _scaled_sum(terms, scale, wanted, kernel):
    """Σ terms (hi, lo), the scale, rows for the result (hi, lo) and six work rows, all of one shape."""
    _check_parts(wanted, kernel)
    total, rest = _exact_sum(terms, kernel)
    total, rest, scale = np.broadcast_arrays(total, rest, np.asarray(scale, dtype=np.float64))
    return total, rest, scale, np.empty(total.shape), np.empty(total.shape), [np.empty(total.shape) for _ in range(6)]


def sech2(x):
    """sech²(x) = e·(1 + a(2 + a)) with e = e^{-2|x|}, a = |tanh x|: no overflow, no cancellation.

    4e/(1 + e)², written without division (1 + a = 2/(1 + e)) and without
    squaring a rounded 1 + a.  In cache-sized blocks (see logistic).
    """
    x = np.asarray(x)
    y = np.empty(x.shape, np.result_type(x, 1.0))
    xs, ys = x.reshape(-1), y.reshape(-1)
    e = np.empty(min(xs.size, 32768), y.dtype)
    a = np.empty(e.size, y.dtype)
    for start in range(0, xs.size, 32768):
        xb, yb = xs[start:start + 32768], ys[start:start + 32768]
        e, a = e[:xb.size], a[:xb.size]
        np.tanh(xb, out=a)
        np.abs(a, out=a)
        np.add(a, 2, out=e)
        np.multiply(a, e, out=yb)
        yb += 1
        np.abs(xb, out=e)
        with np.errstate(over="ignore"):  # −2|x| = −inf past 8.99e307: e = 0, the limit
            e *= -2
        np.exp(e, out=e)
        yb *= e
    return y


def _long_parts(x):
    """(hi, lo) in float64 with x = hi + lo, for an np.longdouble x wider than a double; else None.

    The normal kernels compute in float64: given a long double argument they
    took its rounding to a double, and a first-order term in lo puts back
    what that cost (erfc(x − y) computed again in long double for its tiny
    result erred by 2·|x − y|²·eps relative: 771 ULP at x − y = 22.1).  lo is
    0 where hi is not finite or past 1e6, where these functions are flat.

    Examples
    --------
    >>> third = np.longdouble(1) / 3
    >>> hi, lo = _long_parts(np.asarray(third))
    >>> float(hi), bool(lo != 0) == bool(np.finfo(np.longdouble).nmant > 52)
    (0.3333333333333333, True)
    """
    if x.dtype != np.longdouble or np.finfo(np.longdouble).nmant <= np.finfo(np.float64).nmant:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        hi = x.astype(np.float64)
        lo = (x - hi).astype(np.float64)
    return hi, np.where(np.isfinite(hi) & (np.abs(hi) < 1e6), lo, 0.0)


#: 2/√π, the derivative of erf at 0 (the first-order term of erf, erfc and erfcx of hi + lo)
_TWO_OVER_ROOT_PI = 1.1283791670955126


def erfc(x):
    """Complementary error function, from the normal tail of derive/fits.py (NumPy only).

    erfc(x) = 2·Φ(−x√2) = 2·H(|x|·√2)·e^{−x²} for x ≥ 0 and 2 minus that for
    x < 0 (no cancellation: the result is at least 1), with H the fitted
    e^{a²/2}·Φ(−a) of _normal_tail and x² formed exactly (see
    _exact_square): erfc of a rounded x² would err by about x² rounding
    errors.  The rounding of |x|·√2 moves H by at most about an ulp (H falls
    like 1/a).  Within 4.2 ULP of mpmath on [−6, 28] where SciPy's erfc errs
    by up to 504 (x ≈ 23).  Computed in float64 in blocks of 16000 elements;
    the result has x's floating type.

    Examples
    --------
    >>> erfc(np.array([-np.inf, 0.0, 1.0, 27.0])).tolist()
    [2.0, 1.0, 0.15729920705028513, 5.2371e-319]
    """
    x = np.asarray(x)
    parts = _long_parts(x)
    if parts is not None:  # erfc(hi + lo) = erfc(hi) − lo·(2/√π)·e^{−hi²}
        hi, lo = parts
        return erfc(hi).astype(x.dtype) - (lo * _TWO_OVER_ROOT_PI * gaussian(hi)).astype(x.dtype)
    out = np.empty(x.shape, np.result_type(x, 1.0))
    work = _scratch("erfc", (6, min(x.size, BLOCK)))
    work[5] = 28.0  # erfc(28) = 0 in float64 already (e^{-784})
    for xb, (yb,), (b, hi, lo, t, q, cap) in _blocks(x, (out,), work):
        np.abs(xb, out=b)
        np.minimum(b, cap, out=b)  # NaN stays NaN
        np.multiply(b, 1.4142135623730951, out=t)
        _normal_tail(t, q, hi, lo)  # H(|x|·√2)
        _exact_square(b, hi, lo, t)
        np.negative(hi, out=hi)
        np.exp(hi, out=hi)
        lo *= hi
        np.subtract(hi, lo, out=lo)  # e^{-x²} = e^{-hi}·(1 − lo) = e^{-hi} − e^{-hi}·lo
        q *= lo
        q *= 2  # erfc(|x|)
        np.less(xb, 0, out=t)
        t *= 2
        t -= q
        np.abs(t, out=yb, casting="same_kind")  # |2·[x < 0] − erfc(|x|)|
    return out[()] if out.ndim == 0 else out


def erfcx(x):
    """The scaled complementary error function e^{x²}·erfc(x), NumPy only.

    For x ≥ 0 it is 2·H(x·√2), with H(a) = e^{a²/2}·Φ(−a) the fitted normal
    tail of _normal_tail (about 1.5 eps): no exponential at all, so it keeps
    its digits where erfc underflows (x > 26.5) and e^{x²} overflows; the
    rounding of x·√2 moves H by at most about an ulp, as H falls like 1/a.
    Past x = 1e300 it is 1/(x·√π) (x·√2 would overflow).  For x < 0 it is
    2·e^{x²} − erfcx(−x), x² formed exactly (see _exact_square): the
    difference is at least 1, so nothing cancels, and it overflows to inf
    where e^{x²} does (x < −26.64).  The log-probabilities log Φ and
    log erfc, and the ratio φ/Φ, are written with it (derive/stabilize.py).

    Examples
    --------
    >>> erfcx(np.array([-1.0, 0.0, 1.0, 30.0, 1e6])).tolist()
    [5.008980080762283, 1.0, 0.427583576155807, 0.01879588886141675, 5.641895835474741e-07]
    """
    x = np.asarray(x)
    parts = _long_parts(x)
    if parts is not None:  # erfcx(hi + lo) = erfcx(hi) + lo·(2·hi·erfcx(hi) − 2/√π)
        hi, lo = parts
        value = erfcx(hi)
        return value.astype(x.dtype) + (lo * (2 * hi * value - _TWO_OVER_ROOT_PI)).astype(x.dtype)
    dtype = np.result_type(x, 1.0)
    v = np.array(x, dtype=np.float64).reshape(-1)
    a = np.abs(v)
    huge = a > 1e300
    t = np.minimum(a, 1e300) * 1.4142135623730951  # NaN stays NaN
    out, u, e = np.empty_like(t), np.empty_like(t), np.empty_like(t)
    _normal_tail(t, out, u, e)
    out *= 2
    out[huge] = 0.5641895835477563 / a[huge]
    negative = v < 0
    if negative.any():
        b = np.minimum(a[negative], 27.0)  # e^{27²} overflows already
        hi, lo, w = (np.empty_like(b) for _ in range(3))
        _exact_square(b, hi, lo, w)
        with np.errstate(over="ignore"):
            g = np.exp(hi)
        finite = np.isfinite(g)
        g[finite] += g[finite] * lo[finite]  # e^{hi + lo} = e^{hi}·(1 + lo)
        out[negative] = 2 * g - out[negative]
    out = out.reshape(np.shape(x)).astype(dtype, copy=False)
    return out[()] if out.ndim == 0 else out


#: 2/√π·(−1)^k/(k!(2k + 1)), k = 0…13: erf's Maclaurin series, whose terms past
#: the last are below 2e−21 of erf(x) for |x| < 0.5
_ERF_SERIES = (1.1283791670955126, -0.37612638903183754, 0.11283791670955126, -0.026866170645131252,
               0.005223977625442188, -0.0008548327023450853, 0.00012055332981789664,
               -1.492565035840625e-05, 1.6462114365889248e-06, -1.6365844691234924e-07,
               1.4807192815879218e-08, -1.2290555301717928e-09, 9.422759064650411e-11,
               -6.7113668551641105e-12)


def erf(x):
    """The error function, NumPy only: its series for |x| < 0.5, sign(x)·(1 − erfc(|x|)) beyond.

    1 − erfc(|x|) alone would keep only the digits of erfc near 1 for small x
    (erf(1e−10) has 16 digits, 1 − erfc(1e−10) 6); beyond 0.5 it is at least
    0.52 and erfc at most 0.48, so nothing cancels (the erfc kernel is within
    4.2 ULP).  Within 3 ULP of mpmath on [−6, 6] (tests/test_fits.py).

    Examples
    --------
    >>> erf(np.array([-np.inf, -1.0, 1e-10, 0.5, 30.0])).tolist()
    [-1.0, -0.8427007929497149, 1.1283791670955126e-10, 0.5204998778130465, 1.0]
    """
    x = np.asarray(x)
    parts = _long_parts(x)
    if parts is not None:  # erf(hi + lo) = erf(hi) + lo·(2/√π)·e^{−hi²}
        hi, lo = parts
        return erf(hi).astype(x.dtype) + (lo * _TWO_OVER_ROOT_PI * gaussian(hi)).astype(x.dtype)
    dtype = np.result_type(x, 1.0)
    x64 = x.astype(np.float64)
    out = np.empty(x64.shape)
    small = np.abs(x64) < 0.5
    u = x64[small]
    square = u * u
    series = np.full(u.shape, _ERF_SERIES[-1])
    for c in _ERF_SERIES[-2::-1]:
        series *= square
        series += c
    out[small] = u * series
    big = ~small
    out[big] = np.copysign(1 - erfc(np.abs(x64[big])), x64[big])
    out = out.astype(dtype, copy=False)
    return out[()] if out.ndim == 0 else out


def _exact_square(a, hi, lo, t):
    """hi + lo = a² with hi = fl(a²), for float64 a in [0, 64) (NaN passes): lo to about 2⁻⁶⁶.

    a is split on a fixed grid: ah = a rounded to a multiple of 2⁻²⁰ (by
    adding and taking away 1.5·2³², whose ulp that is) has at most 26
    significant bits below 64, so ah² is exact, and al = a − ah is exact;
    then lo = al·(a + ah) + (ah² − hi), where the two roundings of the first
    term (|al| ≤ 2⁻²¹) and the one of the second are below 2⁻⁶⁶: far below
    an ulp of e^{−a²} or of the argument of any function of a².  Nine
    operations (Dekker's product with Veltkamp's split, for any a, took
    twelve).  In place: a becomes al and t holds ah² − hi; hi and lo are
    returned.
    """
    np.multiply(a, a, out=hi)
    np.add(a, _SQUARE_GRID, out=t)
    t -= _SQUARE_GRID  # ah
    np.add(a, t, out=lo)  # a + ah
    a -= t  # al
    lo *= a
    t *= t
    t -= hi
    lo += t
    return hi, lo


#: 1.5·2³²: its ulp is 2⁻²⁰, so a + _SQUARE_GRID − _SQUARE_GRID is a rounded to a multiple of 2⁻²⁰ (|a| < 2³¹)
_SQUARE_GRID = 6442450944.0

#: 1/√(2π) = _GAUSS_HIGH + _GAUSS_LOW to 2⁻⁸⁰: the high part has 25 significant bits (Veltkamp's
#: split of 0.3989422804014327), so its product with a 26-bit number is exact; the low part
#: is the rest, rounded (mpmath, 50 digits)
_GAUSS_HIGH = 0.3989422768354416
_GAUSS_LOW = 3.5659910885844774e-09


def gauss(x):
    """Standard normal density φ(x) = e^{-x²/2}/√(2π), with x² formed exactly (see normal)."""
    return normal(x, "gauss")[0]


def gaussian(x):
    """The Gaussian e^{-x²}, with x² formed exactly (see normal).

    Examples
    --------
    >>> float(gaussian(20.123456789))  # np.exp(-x*x) is 203 ULP off
    1.3518354048055767e-176
    """
    return normal(x, "gaussian")[0]


def gaussian_half(x):
    """The Gaussian e^{-x²/2} (φ without 1/√(2π)), with x² formed exactly (see normal).

    Examples
    --------
    >>> float(gaussian_half(30.123456789))  # np.exp(-x*x/2) is 136 ULP off
    9.029743425379547e-198
    """
    return normal(x, "gaussian_half")[0]


def ndtr(x):
    """Standard normal CDF Φ(x) = ½·erfc(−x/√2), to about 2 ulp everywhere (see normal)."""
    return normal(x, "ndtr")[0]


def gauss_over_ndtr(x):
    """φ(x)/Φ(x), the derivative of log Φ(x): 1/(√(2π)·H(−x)) for x < 0, with no exponential (see normal).

    Examples
    --------
    >>> gauss_over_ndtr(np.array([-40.0, 0.0, 3.0])).tolist()  # φ/Φ of the rounded members is 0/0 at −40
    [40.02496884720727, 0.7978845608028654, 0.004437839042125664]
    """
    return normal(x, "gauss_over_ndtr")[0]


def gauss_over_ndtr_slope(x):
    """(φ/Φ)′(x) = (log Φ)″(x), without the cancellation of x + φ/Φ for x < 0 (see normal).

    Examples
    --------
    >>> gauss_over_ndtr_slope(np.array([-40.0, 0.0, 3.0])).tolist()  # x + φ/Φ cancels at −40
    [-0.9993773316214086, -0.6366197723675814, -0.013333211541740808]
    """
    return normal(x, "gauss_over_ndtr_slope")[0]


def ndtr_slope(x):
    """Φ(x) + x·φ(x), the slope of x·Φ(x) (GELU's derivative), without the cancellation of the sum for x < 0 (see normal).

    Examples
    --------
    >>> float(ndtr_slope(np.array([-3.0]))[0])  # mpmath: -0.011945647204183927…
    -0.011945647204183927
    """
    return normal(x, "ndtr_slope")[0]


#: D(u) − p₀ = Σ_{k≥1} p_k·u^k is evaluated in _CHUNKS chunks of _POWERS
#: terms: the rows u, u², …, u⁶ (three squares, two products), one matrix product that sums
#: every chunk's terms, q_j = Σ_i p_{6j+i}·u^i, and Horner's rule in u⁶ over
#: the chunks (six operations): eleven passes over a block and a 4×6 by
#: 6×16000 product where Horner's rule in u took 45 passes (4×6 and 5×5
#: chunks were the quickest of 4×6, 5×5, 6×4, 3×8 and 2×12)
_POWERS, _CHUNKS = 6, 4


def _chunk_matrix():
    """The coefficients p₁…p₂₃ as the rows of the chunks (q_j = row j · [u, u², …, u⁶]), made once."""
    matrix = getattr(_chunk_matrix, "matrix", None)
    if matrix is None:
        matrix = np.zeros((_CHUNKS, _POWERS))
        for k, p in enumerate(NORMAL_TAIL[1:]):
            matrix[k // _POWERS, k % _POWERS] = p
        _chunk_matrix.matrix = matrix
    return matrix


def _normal_tail(a, out, u, e):
    """out = H(a) = e^{a²/2}·Φ(−a) for a ≥ 0, by the polynomial of derive/fits.py.

    H(a) = (½ + D(u))/(1 + a) with u = 2K/(K + a) − 1 and D a polynomial
    (D is at most 0.1, so its rounding errors shrink five-fold in ½ + D).
    D − p₀ is summed by chunks (see _POWERS): the powers of u and one matrix
    product (BLAS, one thread at this size), then Horner's rule in u⁶; its
    error is within a quarter of an ulp of ½ where Horner's rule in u erred
    by a sixth, and gelu_and_grad takes 8–12 % less time.  1 + a = s + e exactly
    (s − 1 is exact for s ≤ 41, and so is a − (s − 1)), and N/(s + e) =
    (N − N·e/s)/s to within u²: the correction, with N taken as ½, goes into
    the sum before ½ + p₀ is added, so the rounding of 1 + a costs nothing.
    a, out, u and e are contiguous arrays of one shape (u and e work rows);
    no branch.
    """
    a, out, u, e = (r.reshape(-1) for r in (a, out, u, e))  # views: the caller's arrays are contiguous
    n = a.shape[0]
    if n <= BLOCK:  # the rows of a block: kept
        powers, chunks = _scratch("normal_powers", (_POWERS, n)), _scratch("normal_chunks", (_CHUNKS, n))
    else:  # a long call (ndtr_wide's tails): made for it
        powers, chunks = np.empty((_POWERS, n)), np.empty((_CHUNKS, n))
    v = powers[0]
    np.add(a, NORMAL_TAIL_CENTER, out=v)
    np.divide(2 * NORMAL_TAIL_CENTER, v, out=v)
    v -= 1  # u
    for k in range(1, _POWERS):  # u^(k+1) = u^⌈(k+1)/2⌉ · u^⌊(k+1)/2⌋
        if k % 2:  # an even power, a square: one row read (6.6 → 3 µs per 16,000)
            np.square(powers[k // 2], out=powers[k])
        else:
            np.multiply(powers[k // 2], powers[k // 2 - 1], out=powers[k])
    np.matmul(_chunk_matrix(), powers, out=chunks)
    sixth = powers[-1]
    np.multiply(chunks[-1], sixth, out=out)
    for j in range(_CHUNKS - 2, 0, -1):
        out += chunks[j]
        out *= sixth
    out += chunks[0]
    np.add(a, 1, out=u)  # s = fl(1 + a)
    np.subtract(u, 1, out=e)
    np.subtract(a, e, out=e)  # e = (1 + a) − s
    e /= u
    e *= 0.5
    out -= e
    out += NORMAL_TAIL[0] + 0.5  # ½ + p₀ is rounded once, here
    out /= u
    return out


def normal(x, *wanted):
    """The standard normal CDF Φ ("ndtr"), density φ ("gauss"), e^{-x²} ("gaussian") and e^{-x²/2} ("gaussian_half") asked for.

    With a = min(|x|, 40) (Φ(−40) and φ(40) are 0 already) and a² = hi + lo
    exactly (see _exact_square), g = e^{-hi/2} − e^{-hi/2}·lo/2 is e^{-x²/2} to
    about an ulp: e^{-x²/2} of a rounded x² would err by x²/2 rounding errors
    (360 ULP at x = 38).  φ = g/√(2π).  Φ(−a) = H(a)·g with H(a) =
    e^{a²/2}·Φ(−a) = ½·erfcx(a/√2) from the polynomial fitted by
    derive/fits.py (_normal_tail, about 1.5 eps), and Φ(a) = 1 − Φ(−a), which
    does not cancel (Φ(−a) ≤ ½): one formula for every element, no branch, no
    SciPy.  Computed in float64 in blocks of 16000 elements whose work rows
    are reused (see _scratch); one array per name is returned, in x's
    floating type.

    Examples
    --------
    >>> cdf, pdf = normal(np.array([-40.0, 0.0, 1.0]), "ndtr", "gauss")
    >>> cdf.tolist(), pdf.tolist()
    ([0.0, 0.5, 0.8413447460685429], [0.0, 0.3989422804014327, 0.24197072451914337])
    """
    known = ("ndtr", "gauss", "gaussian", "gaussian_half", "ndtr_slope", "gauss_over_ndtr", "gauss_over_ndtr_slope")
    if set(wanted) - set(known):
        raise ValueError(f"normal: unknown member(s) {sorted(set(wanted) - set(known))}; known: {known}")
    x = np.asarray(x)
    parts = _long_parts(x)
    if parts is not None:  # a long double argument to first order (the other members at hi)
        hi, lo = parts
        values = dict(zip(wanted + ("gauss",), normal(hi, *wanted, "gauss")))
        steps = {"ndtr": lambda v: v + lo * values["gauss"], "gauss": lambda v: v * (1 - hi * lo),
                 "gaussian": lambda v: v * (1 - 2 * hi * lo), "gaussian_half": lambda v: v * (1 - hi * lo)}
        return tuple(np.asarray(steps.get(name, lambda v: v)(values[name])).astype(x.dtype) for name in wanted)
    dtype = np.result_type(x, 1.0)
    outs = [np.empty(x.shape, dtype) for _ in wanted]
    work = _scratch("normal", (9, min(x.size, BLOCK)))
    work[5] = 40.0  # a row: NumPy's minimum against a scalar takes a slower loop
    for xb, blocks, (a, hi, lo, t, q, forty, s1, s2, slope) in _blocks(x, outs, work):
        np.abs(xb, out=a)
        np.minimum(a, forty, out=a)  # NaN stays NaN
        tail = any(name in wanted for name in ("ndtr", "ndtr_slope", "gauss_over_ndtr", "gauss_over_ndtr_slope"))
        if tail:
            _normal_tail(a, q, t, hi)
        if "ndtr_slope" in wanted:  # S = H(a) − a·c, c = 1/√(2π), before a is split
            np.add(a, _SQUARE_GRID, out=s1)
            s1 -= _SQUARE_GRID  # ah, 26 bits (see _exact_square)
            np.multiply(s1, _GAUSS_HIGH, out=s2)  # ah·c_hi: exact (25 bits)
            np.subtract(q, s2, out=slope)  # H − ah·c_hi, rounded once
            np.subtract(a, s1, out=s2)  # al
            s2 *= 0.3989422804014327  # al·c
            s1 *= _GAUSS_LOW  # ah·c_lo
            s1 += s2
            slope -= s1  # S, within about an ulp of S
        _exact_square(a, hi, lo, t)
        if "gaussian" in wanted:  # e^{-x²} = e^{-hi} − e^{-hi}·lo
            np.negative(hi, out=t)
            np.exp(t, out=t)
            np.multiply(t, lo, out=a)
            np.subtract(t, a, out=blocks[wanted.index("gaussian")], casting="same_kind")
        hi *= -0.5
        np.exp(hi, out=hi)
        lo *= -0.5
        lo *= hi
        lo += hi  # g = e^{-x²/2} = hi·(1 + lo) = hi + hi·lo (1 + lo would round lo away)
        if "gauss_over_ndtr" in wanted:
            _write_gauss_over_ndtr(xb, q, lo, hi, t, blocks[wanted.index("gauss_over_ndtr")])
        if "gauss_over_ndtr_slope" in wanted:
            _write_gauss_over_ndtr_slope(xb, q, lo, hi, t, blocks[wanted.index("gauss_over_ndtr_slope")])
        if tail:
            np.greater_equal(xb, 0, out=s1)  # m = [x ≥ 0]
        for name, yb in zip(wanted, blocks):
            if name in ("gaussian", "gauss_over_ndtr", "gauss_over_ndtr_slope"):
                continue
            if name == "gauss":
                np.multiply(lo, 0.3989422804014327, out=yb, casting="same_kind")
                continue
            if name == "gaussian_half":  # g itself
                np.copyto(yb, lo, casting="same_kind")
                continue
            if name == "ndtr_slope":  # g·S for x < 0, 1 − g·S for x ≥ 0: m + (1 − 2m)·g·S
                slope *= lo
                np.multiply(s1, -2.0, out=s2)
                s2 += 1
                slope *= s2
                np.add(slope, s1, out=yb, casting="same_kind")
                continue
            q *= lo  # Φ(−a)
            # Φ(x) = |[x ≥ 0] − Φ(−a)|: Φ(−a) for x < 0, 1 − Φ(−a) else (a
            # branch-free select: copyto(where=) on mixed signs is 20× slower)
            np.subtract(s1, q, out=t)
            np.abs(t, out=yb, casting="same_kind")
    return tuple(outs)


def _ratio_where_nonnegative(h, g, r1, r2):
    """r2 = φ(a)/Φ(a) = c·g/(1 − H(a)·g) for the x = a ≥ 0 of a block (Φ ≥ ½: no cancellation),
    from H(a) = ``h`` and g = e^{-a²/2}; r1 is a work row (it ends holding Φ(a))."""
    np.multiply(h, g, out=r1)
    np.subtract(1.0, r1, out=r1)  # Φ(|x|)
    np.multiply(g, 0.3989422804014327, out=r2)
    np.divide(r2, r1, out=r2)


def _write_gauss_over_ndtr(x, h, g, r1, r2, out):
    """φ(x)/Φ(x), the derivative of log Φ(x), into ``out``, from H(a) = ``h`` and g = e^{-a²/2}
    (a = min(|x|, 40), as the kernel ``normal`` has them); r1, r2 are work rows.

    For x < 0, φ(x)/Φ(x) = (g/√(2π))/(H(a)·g) = 1/(√(2π)·H(a)): g, and its
    rounding, are gone, where φ/Φ of the two members rounded g·c and H·g and
    their quotient (4.24 ULP at x = −31.76; 2.97 this way on 7,000 points of
    [−40, 0]).  For x ≥ 0 it is φ/Φ, Φ ≥ ½.  Below −40, where the kernel's a
    stops, H of |x| itself (φ/Φ ~ |x|: |x| past 1e300, where H is subnormal).
    """
    _ratio_where_nonnegative(h, g, r1, r2)
    np.divide(0.3989422804014327, h, out=r1)  # x < 0
    out[...] = np.where(x >= 0, r2, r1)
    far = np.flatnonzero(x < -40)
    if far.size:
        b = -x[far]
        hb, u, e = np.empty_like(b), np.empty_like(b), np.empty_like(b)
        _normal_tail(np.minimum(b, 1e300), hb, u, e)
        out[far] = np.where(b > 1e300, b, 0.3989422804014327 / hb)


def _write_gauss_over_ndtr_slope(x, h, g, r1, r2, out):
    """(φ/Φ)′(x) = (log Φ)″(x) = −λ(x + λ), λ = φ/Φ, into ``out`` (arguments as _write_gauss_over_ndtr).

    For x < 0, x + λ cancels like 1/x² (4.5e3 ULP at x = −38.7 from λ);
    there it is −(1 − P(u)) with u = 2K/(K + |x|) − 1 and P the polynomial
    fitted by derive.fits.normal_ratio_slope_fit (within 1.5 ULP), for any
    x < 0 (−1 where |x| is huge).  For x ≥ 0, λ ≤ √(2/π) and x + λ does not
    cancel: −λ(x + λ) from λ = φ/Φ, Φ ≥ ½.
    """
    _ratio_where_nonnegative(h, g, r1, r2)  # λ for x ≥ 0
    np.clip(x, -40.0, 40.0, out=r1)  # (λ is 0 past 40, and x < 0 takes r2: ±inf must not make inf·0)
    r1 += r2
    r1 *= r2
    np.negative(r1, out=r1)  # x ≥ 0
    u = np.abs(x)
    u += NORMAL_TAIL_CENTER
    np.divide(2 * NORMAL_TAIL_CENTER, u, out=u)
    u -= 1
    np.multiply(u, NORMAL_RATIO_SLOPE[-1], out=r2)
    for p in NORMAL_RATIO_SLOPE[-2:0:-1]:
        r2 += p
        r2 *= u
    r2 += NORMAL_RATIO_SLOPE[0] - 1.0  # −(1 − P), with 1 − p₀ rounded once
    out[...] = np.where(x >= 0, r1, r2)


def ndtr_wide(u):
    """Φ(u) in the floating type of u, for np.longdouble in a subnormal tail.

    Φ(−a) = e^{−a²/2}·H(a) with a = |u|: the exponential in u's type (in
    np.longdouble e^{−720} is a normal number, where as a double it is
    subnormal with a few digits left), H(a) = e^{a²/2}·Φ(−a) from the fitted
    polynomial in float64 (about 1.5 eps, see _normal_tail); 1 − Φ(−a) for
    u ≥ 0.

    Examples
    --------
    >>> round(float(ndtr_wide(np.longdouble(-38.0)) / np.longdouble("2.88542836007e-316")), 9)  # mpmath
    1.0
    """
    u = np.asarray(u)
    a = np.abs(u)
    a64 = a.astype(np.float64)
    factor, rows_u, rows_e = np.empty_like(a64), np.empty_like(a64), np.empty_like(a64)
    _normal_tail(np.minimum(a64, 40.0), factor, rows_u, rows_e)
    lower = np.exp(-a * a / 2) * factor.astype(u.dtype)
    return np.where(u < 0, lower, 1 - lower)


def quiet_divide(a, b):
    """a/b with NumPy's divide-by-zero and overflow warnings silenced, for a
    quotient whose inf is the value wanted (2/B of mish's x/(1 + 2/B) where B
    underflows to 0: x/inf = ∓0 is the limit).

    Examples
    --------
    >>> float(-800.0 / (1 + quiet_divide(2.0, np.float64(0.0))))
    -0.0
    """
    with np.errstate(divide="ignore", over="ignore"):
        return np.divide(a, b)


def quiet_multiply(a, c):
    """a·c with NumPy's overflow warning silenced, for a product whose ±inf is
    the value wanted (−2|x| of sech²'s e^{−2|x|} past |x| = 8.99e307:
    e^{−inf} = 0 is the limit).

    Examples
    --------
    >>> float(np.exp(quiet_multiply(np.float64(1e308), -2.0)))
    0.0
    """
    with np.errstate(over="ignore"):
        return np.multiply(a, c)


def xlogy(x, y):
    """x·log(y), and 0 where x = 0 (even if y = 0)."""
    return x * np.log(np.where(x == 0, 1, y))


def xlog1py(x, y):
    """x·log1p(y), and 0 where x = 0 (even if y = -1)."""
    return x * np.log1p(np.where(x == 0, 0, y))


def xdivy(x, y):
    """x/y, and 0 where x = 0 (even if y = 0): the derivative of xlogy(x, y) in y.

    One division; only where it gives NaN are the 0/0 quotients mended
    (a NaN x or y stays NaN).  A nonzero x over y = 0 is ±inf, the
    gradient of a loss that is infinite there.

    Examples
    --------
    >>> xdivy(np.array([0.0, 1.0, 1.0]), np.array([0.0, 4.0, 0.0])).tolist()
    [0.0, 0.25, inf]
    """
    # 0/0 is the only NaN over a y of 0 that a non-NaN x gives: the limit 0·x there
    return quotient_with_limit(x, y, lambda: 0.0 * np.asarray(x, np.float64))


def quotient_with_limit(n, d, limit):
    """n/d, and ``limit()`` where d = 0 (a callable: evaluated only for a call that has one).

    One division; where it gives NaN and some d is 0, those elements are
    taken from the limit (a NaN n or d elsewhere stays NaN).  For a loss
    gradient whose 0/0 has a value (see derive.primitives.quotient_with_limit).

    Examples
    --------
    >>> p, y = np.array([1.0, 0.5, 0.0]), np.array([1.0, 0.5, 0.0])
    >>> quotient_with_limit(p - y, p * (1 - p), lambda: -xdivy(y, p) + xdivy(1 - y, 1 - p)).tolist()
    [-1.0, 0.0, 1.0]
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        q = np.divide(n, d)
        maybe = np.isnan(np.add.reduce(q, axis=None))  # (inf − inf is NaN too: then only checked)
    if maybe:
        zero = np.broadcast_to(np.asarray(d) == 0, q.shape)
        if zero.any():
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                value = limit()  # (only its elements where d = 0 are taken)
            q = np.where(zero & np.isnan(q), value, q)
    return q


#: the most terms a dot product is handed to BLAS for (np.vdot): OpenBLAS
#: splits a ddot of more than 10,000 terms across its threads, and the other
#: core then holds the cache lines of both factors, so that the next write to
#: them waits for each line to come back: after np.vdot of 40,960 terms a
#: pass that fills one of its factors took 76 µs, against 6 (0.5 ns a term
#: more for every write that follows, a third of softmax_cross_entropy's time)
_SERIAL_DOT = 8192


def _serial_dot(a, b, terms=None):
    """Σ a·b over every element, on this thread alone (see _SERIAL_DOT).

    np.vdot for a few terms; for more, the products (into ``terms``, a work
    array of their shape, if given) and their pairwise sum, np.add.reduce.

    Examples
    --------
    >>> a = np.arange(20000.0)
    >>> float(_serial_dot(a, np.ones(20000))) == float(np.vdot(a, np.ones(20000))) == 199990000.0
    True
    """
    if np.size(a) <= _SERIAL_DOT:
        return np.vdot(a, b)
    with np.errstate(invalid="ignore"):  # 0·inf: NaN, as np.vdot's, and no warning
        terms = np.multiply(a, b, out=terms)
    return np.add.reduce(terms, axis=None)


def zero_safe_dot(a, b, terms=None, split=None):
    """Σ a·b over every element, where a term with a factor 0 counts 0 (the xlogy convention).

    _serial_dot (into ``terms``, if given, for many terms); or, given
    ``split`` (a work array of the terms' shape), the products (into
    ``terms`` if given) summed nearly exactly by split_sum,
    for many terms in a row (a plain sum erred by 4 ULP on the 100 terms of a
    cross-entropy with logits of ±1e4 and a label-smoothed target).  Where
    the sum is NaN, again with 0·(±inf) taken as 0, so that a target of 0 on
    a masked logit (log-probability −inf) adds nothing to a cross-entropy,
    while a NaN factor still gives NaN.

    Examples
    --------
    >>> float(zero_safe_dot(np.array([0.0, 1.0]), np.array([-np.inf, -0.5])))
    -0.5
    >>> float(zero_safe_dot(np.array([0.5, 1.0]), np.array([-np.inf, -0.5])))
    -inf
    """
    if split is None:
        total = _serial_dot(a, b, terms)
    else:
        with np.errstate(invalid="ignore"):
            terms = np.multiply(a, b, out=terms)
        total = split_sum(terms, split)
    if np.isnan(total):
        with np.errstate(invalid="ignore"):
            terms = np.multiply(a, b)
        total = np.add.reduce(np.where((a == 0) | (b == 0), 0.0, terms), axis=None)
    return total


def split_sum(terms, hi):
    """Σ terms, nearly exact: each term t is split into hi = t rounded to a
    multiple of q = 2^(E−26), where 2^E ≥ max |t|, and lo = t − hi (|lo| ≤ q/2),
    both exact (the rounding is t + 1.5·2^(E+26) − 1.5·2^(E+26)).  Every
    partial sum of the hi is a multiple of q below 2^(E+27) for fewer than
    2^27 terms, so Σ hi is exact in any order, and Σ lo errs by about
    n²·eps·2^-26 of the largest term.  Where a large term comes first, a plain
    sum rounds every small term that follows at the large one's ulp (3 to 4
    ULP for the 100 terms of a cross-entropy with logits of ±1e4 and a
    label-smoothed target).  ``terms`` is overwritten (it ends holding the
    lo); ``hi`` is a work array of its shape.  Sums of terms beyond 2^±900
    (or not finite) are plain pairwise sums.

    Examples
    --------
    >>> t = np.array([1e4, 1e-3, 1e-3, 1e-3])
    >>> float(split_sum(t.copy(), np.empty(4))) == 10000.003
    True
    """
    return _exact_rowsum(terms, None, hi, terms)[0].reshape(())[()]


def rowsum(u):
    """Σ over the last axis, kept as an axis of length 1."""
    return np.sum(u, axis=-1, keepdims=True)


def _shifted(z, arrays=(), dtype=None):
    """The common work of the softmax family, over blocks of rows of z.

    ``arrays`` are arrays shaped like z, or like z with a last axis of length
    1, to be cut into the same blocks of rows (inputs to read, outputs to
    write).  Yields, for successive blocks of rows,
    ``(shifted, lost, e, s, top, blocks, spare)``:

    * shifted = z − max, rounded, and lost its rounding error, recovered exactly
      (Dekker's Fast2Sum, its operands ordered by magnitude with a minimum and
      a maximum): exp magnifies that rounding by |z − max| (250 ULP at a
      difference of 700), so it is folded back in as exp(hi + lo) = exp(hi)·(1 + lo);
    * e = exp(shifted)·(1 + lost);
    * s = Σ e over all entries but one maximal entry (a tied maximum counts 1),
      so that log1p(s) and 1/(1 + s) keep the digits of a sum far below 1;
    * top = the maximum; blocks = the blocks of ``arrays``; spare = a work
      row of the block's shape that the caller may overwrite.

    The work is done in ``dtype`` (z's floating type if None).

    The arrays are in a work layout whose reductions run over the axis of
    length 1 in ``s`` and ``top``: for short rows (≤ 32 classes) the classes
    come first, so that every NumPy loop runs down the rows rather than over a
    handful of classes.  A block holds about 65536 numbers, so that the
    temporaries are few and reused, and the NumPy calls per block few beside
    the work they do.
    """
    z = np.asarray(z)
    if z.ndim == 0:
        np.max(z, axis=-1)  # NumPy's own error: there is no last axis
    classes = z.shape[-1]
    dtype = dtype or np.result_type(z, 1.0)
    rows_in = z.reshape(-1, classes)
    rows_of = [a.reshape(-1, a.shape[-1]) for a in arrays]
    # 65536 numbers a block: for short rows a few dozen NumPy calls per block
    # cost more than the cache misses of 512 kB rows
    step = max(1, 65536 // max(classes, 1))
    transposed = classes <= 32
    first = min(step, rows_in.shape[0])
    axis = 0 if transposed else -1
    work = _scratch("softmax", (4, classes, first) if transposed else (4, first, classes), dtype)
    for start in range(0, rows_in.shape[0], step):
        zb = rows_in[start:start + step]
        blocks = [rows[start:start + step] for rows in rows_of]
        n = zb.shape[0]
        if transposed:
            zb, blocks = zb.T, [b.T for b in blocks]
            w, shifted, back, e = work[:, :, :n]
        else:
            w, shifted, back, e = work[:, :n]
        np.copyto(w, zb)
        top = np.maximum.reduce(w, axis=axis, keepdims=True)  # ufunc.reduce: not np.max's 7 µs of Python
        # lost = (z − top) − shifted exactly, by Dekker's Fast2Sum of
        # a = min(z, −top) and b = max(z, −top): a + b = z − top and |a| ≥ |b|
        # for every z ≤ top (z ≤ −top: a = z, |z| ≥ |top|; else a = −top and
        # −top < z ≤ top), so b − (s − a) is exact (four operations, no test);
        # at z = −inf (a masked logit) s − a is NaN, mended below; a row of
        # −inf (or +inf) only gives NaN in z − top, as its softmax is.  Past
        # |z| = 8.99e307 z − top can overflow to −inf (z = −1.8e308 beside a
        # top of 1.8e308): e = 0 there, as it should, lost = inf and e·lost NaN,
        # mended the same way, and no warning, as the softmax is finite
        negative_top = np.negative(top)
        with np.errstate(invalid="ignore", over="ignore"):
            np.subtract(w, top, out=shifted)
            np.minimum(w, negative_top, out=back)
            np.maximum(w, negative_top, out=w)
            np.subtract(shifted, back, out=back)
            lost = np.subtract(w, back, out=w)
            s = _exponentials(shifted, lost, e, back, axis)
        if np.isnan(np.add.reduce(s, axis=None)) and np.isfinite(top).all():
            # a −inf logit in a row whose maximum is finite: its shifted value is
            # −inf exactly, so lost = 0 and e = 0 there (a NaN logit stays NaN)
            lost[np.isneginf(shifted)] = 0
            s = _exponentials(shifted, lost, e, back, axis)
        yield shifted, lost, e, s, top, blocks, back


def _exponentials(shifted, lost, e, back, axis):
    """e = exp(shifted)·(1 + lost) (into ``e``) and s, its sum over ``axis`` less one maximal entry.

    e is exactly 1 at a maximum (z − top = 0, lost = 0) and below 1
    elsewhere, unless it rounds to 1 there, when it counts 1 either way.
    ``back`` is a work row (it ends holding the low parts of the split).
    Float64 only (the split's constant is float64's).
    """
    np.exp(shifted, out=e)
    # e·(1 + lost) as e + e·lost: 1 + lost would round lost (up to half an
    # ulp of the shifted logit) to the grid of 1, half an ulp of e more
    np.multiply(e, lost, out=back)
    e += back
    # s = Σ e − 1 rounded once: each e ∈ [0, 1] is split into hi = e rounded
    # to a multiple of 2^-26 (by adding and taking away 1.5·2^26) and
    # lo = e − hi (|lo| ≤ 2^-27), both exact; every partial sum of the hi is
    # a multiple of 2^-26 below 2^27, so Σ hi − 1 is exact in any order (a
    # maximal entry is exactly 1, a tied one too, and an e that rounds to 1
    # counts 1 either way), and Σ lo, which keeps a sum of tiny terms (1e−18
    # beside the 1 of the maximum) whole, errs by far less than an ulp of s.
    # A plain sum of the e − ⌊e⌋ erred by up to 3 eps: softmax − y at 4.1 ULP
    # with 10 classes and a label-smoothed target, 7.6 with 32 and tied maxima
    # (split_sum's split with the grid fixed, since e ≤ 1, and e kept; hi, then
    # lo, in ``back``: no scratch row more to bring into cache)
    hi = np.add(e, _SPLIT, out=back)
    hi -= _SPLIT
    s = np.add.reduce(hi, axis=axis, keepdims=True)
    s -= 1
    lo = np.subtract(e, hi, out=back)
    s += np.add.reduce(lo, axis=axis, keepdims=True)
    return s


#: 1.5·2^26: f + _SPLIT − _SPLIT is f rounded to a multiple of 2^-26 (|f| < 2^25)
_SPLIT = 100663296.0


#: the members whose last operation is the division by 1 + s: one of them can
#: be scaled by a divisor on the way (see softmax_rows' ``into``)
_DIVIDED = ("softmax", "softmax_complement", "softmax_residual")


def _members(wanted, targets, shifted, lost, e, s, top, spare, labels=None, divisors=None):
    """Write each softmax-family member in ``wanted`` into its target (one block).

    "log_softmax_dot" is Σ y·log softmax(z) over the block for the ``labels``
    y, into a 0-d target: Σ y·(z − max) + Σ y·lost − Σ_rows (Σ y)·log1p(s),
    three dot products (one over the rows only) in place of log_softmax's two
    passes and a dot product; every term has the sign of the sum but the
    tiny lost, so nothing cancels.  A 0 in y counts 0 against a masked
    logit's −inf (zero_safe_dot).

    ``divisors`` maps a member of ``_DIVIDED`` to a number it is divided by
    as well: its denominator is (1 + s)·divisor, so the member/divisor costs
    no pass of its own.  ``spare`` is a work row of the block's shape that
    _shifted no longer needs.

    "softmax_residual" is softmax(z) − y for the ``labels`` y (a block in the
    same layout): ((e − y) − y·s)/(1 + s), which keeps its digits where
    softmax(z) and y are both close to 1 (at a dominant entry e = 1, so
    e − y is exact and the result is −y·s/(1 + s)).
    """
    log1p_s = np.log1p(s)
    total = s + 1
    divisors = divisors or {}
    # several operations into a contiguous row, then one into the target
    # (a transposed, strided view for short rows)
    row = _scratch("softmax_row", e.shape, e.dtype)
    for name, target in zip(wanted, targets):
        denominator = total * divisors[name] if name in divisors else total
        if name == "softmax":
            np.divide(e, denominator, out=target)
        elif name == "softmax_complement":
            # (s + (1 − e))/(1 + s): e is exactly 1 at a maximal entry, so
            # there it is s/(1 + s) with no cancellation; elsewhere the
            # numerator is at least 1 − e, or s ≥ e when e is near 1
            np.subtract(1, e, out=row)
            row += s
            np.divide(row, denominator, out=target)
        elif name == "log_softmax":
            np.subtract(shifted, log1p_s, out=row)
            np.add(row, lost, out=target)
        elif name == "log_softmax_dot":
            classes = tuple(i for i in range(e.ndim) if e.shape[i] != s.shape[i])  # (none for 1 class)
            weights = np.add.reduce(labels, axis=classes, keepdims=True) if classes else labels
            # rows of more than 32 classes: their terms summed nearly exactly
            # (with 100, a plain sum erred by 4 ULP; with 10 to 32, 2.6 at most)
            wide = classes and e.shape[classes[0]] > 32
            target[...] = (zero_safe_dot(labels, shifted, row, spare if wide else None) + _serial_dot(labels, lost, row)
                           - zero_safe_dot(weights, log1p_s))
        elif name == "softmax_residual":
            # two contiguous rows, then one operation on the target; ``spare``
            # is _shifted's own work row, free by now (one scratch array fewer
            # to bring back into cache on a call after other work)
            np.multiply(labels, s, out=row)
            np.subtract(e, labels, out=spare)
            spare -= row
            np.divide(spare, denominator, out=target)
        else:
            np.add(top, log1p_s, out=target)


def _check_members(wanted, labels=False):
    known = ("softmax", "softmax_complement", "log_softmax", "logsumexp") + \
        (("softmax_residual", "log_softmax_dot") if labels else ())
    if set(wanted) - set(known):
        raise ValueError(f"softmax_family: unknown member(s) {sorted(set(wanted) - set(known))}; known: {known}")


def softmax_family(z, *wanted):
    """The members of the softmax family asked for, by name, from one pass over z (a tuple).

    Each is computed as its own kernel computes it (softmax, softmax_complement,
    log_softmax, logsumexp), sharing the shifted exponentials and their sum,
    in float64 (and rounded once into z's floating type).

    Examples
    --------
    >>> p, logp = softmax_family(np.array([40.0, -0.5, 0.0]), "softmax", "log_softmax")
    >>> bool(np.allclose(np.exp(logp), p))
    True
    """
    _check_members(wanted)
    z = np.asarray(z)
    shape = z.shape[:-1] if z.ndim else ()
    classes = z.shape[-1] if z.ndim else 1
    dtype = np.result_type(z, 1.0)
    outs = [np.empty(shape + (1 if name == "logsumexp" else classes,), dtype) for name in wanted]
    for shifted, lost, e, s, top, targets, spare in _shifted(z, outs, np.float64):
        _members(wanted, targets, shifted, lost, e, s, top, spare)
    return tuple(outs)


def softmax_rows(z, wanted, inputs=(), outputs=(), rows=0, direct=False, into=None):
    """Blocks of rows of z, each with the softmax-family members in ``wanted``.

    For the fused row losses: yields ``(members, input blocks, output blocks,
    work rows)`` for successive blocks of rows, all in the work layout of
    ``_shifted`` (the members and ``rows`` work rows are reused scratch
    arrays; ``inputs`` and ``outputs`` are arrays shaped like z, cut into the
    same blocks), so that a loss and its gradient are computed a block at a
    time with no full-size temporaries.  The work is done in float64.  The
    output blocks are contiguous float64 rows copied into the outputs after
    each block, unless ``direct``: then they are the outputs' own blocks
    (strided for short rows), for a loop that writes each of them with one
    operation and reads nothing from it.

    ``into = (member, index, divisor)`` has the kernel write that member
    divided by ``divisor`` into output ``index`` itself (a member of
    ``_DIVIDED``: its own division by 1 + s takes the divisor too), so that a
    gradient such as (softmax(z) − y)/N costs the loop no operation and no
    pass over the block.

    Examples
    --------
    >>> z = np.array([[40.0, -0.5, 0.0]]); y = np.array([[1.0, 0.0, 0.0]])
    >>> [f"{-np.sum(logp * t):.4g}" for (logp,), (t,), _, _ in softmax_rows(z, ("log_softmax",), (y,))]
    ['6.825e-18']

    The member "log_softmax_dot" is that sum of a block, Σ y·log softmax(z),
    without the member log_softmax (a 0-d array):

    >>> [f"{-float(d):.4g}" for (d,), _, _, _ in softmax_rows(z, ("log_softmax_dot",), (y,))]
    ['6.825e-18']

    The member "softmax_residual" is softmax(z) − y for the first input y,
    without cancellation where both are close to 1:

    >>> [r.T.tolist() for (r,), _, _, _ in softmax_rows(z, ("softmax_residual",), (y,))]
    [[[-6.82511136444657e-18, 2.576757109154981e-18, 4.248354255291589e-18]]]
    """
    _check_members(wanted, labels=bool(inputs))
    if into is not None and (into[0] not in wanted or into[0] not in _DIVIDED
                             or not 0 <= into[1] < len(outputs)):
        raise ValueError(f"softmax_rows: cannot write {into[0]!r} into output {into[1]} "
                         f"(a wanted member of {_DIVIDED} and one of {len(outputs)} outputs)")
    arrays = list(inputs) + list(outputs)
    for shifted, lost, e, s, top, blocks, spare in _shifted(z, arrays, np.float64):
        # strided blocks (the transposed layout) are read and written once, through
        # contiguous float64 rows, so that the loop's operations all run on those
        ins = [b if b.flags.c_contiguous and b.dtype == e.dtype else
               _copy_into(_scratch(f"softmax_in{i}", b.shape, e.dtype), b) for i, b in enumerate(blocks[:len(inputs)])]
        final = blocks[len(inputs):]
        outs = [b if b.flags.c_contiguous or direct else _scratch(f"softmax_out{i}", b.shape, e.dtype)
                for i, b in enumerate(final)]
        shapes = {"logsumexp": s.shape, "log_softmax_dot": ()}
        members = [outs[into[1]] if into is not None and name == into[0] else
                   _scratch(f"softmax_member{i}", shapes.get(name, e.shape), e.dtype)
                   for i, name in enumerate(wanted)]
        _members(wanted, members, shifted, lost, e, s, top, spare, ins[0] if ins else None,
                 {into[0]: into[2]} if into is not None else None)
        work = _scratch("softmax_work", (rows,) + e.shape, e.dtype) if rows else ()
        yield tuple(members), tuple(ins), tuple(outs), tuple(work)
        for out, block in zip(outs, final):
            if out is not block:
                np.copyto(block, out)


def _veltkamp(a, hi, lo):
    """a = hi + lo exactly, each of at most 26 significant bits (|a| < 2^995): Veltkamp's split."""
    np.multiply(a, 134217729.0, out=hi)
    np.subtract(hi, a, out=lo)
    np.subtract(hi, lo, out=hi)  # hi = t − (t − a)
    np.subtract(a, hi, out=lo)


def _two_product(a, b, p, err, ah, al, bh, bl, b_parts=None):
    """p + err = a·b exactly (Dekker's product), into the rows p and err; ah … bl are work rows.

    ``b_parts``: b's halves (see _halves), made once for a b that is one
    number a row, which then need not be split again on every element.
    """
    np.multiply(a, b, out=p)
    _veltkamp(a, ah, al)
    if b_parts is None:
        _veltkamp(b, bh, bl)
        b_parts = bh, bl
    high, low = b_parts
    np.multiply(ah, high, out=err)
    err -= p
    np.multiply(ah, low, out=ah)
    err += ah
    np.multiply(al, high, out=bh)
    err += bh
    np.multiply(al, low, out=al)
    err += al  # ((ah·bh − p) + ah·bl + al·bh) + al·bl


def _halves(a):
    """Veltkamp's split of a small array (one number a row): (hi, lo) as new arrays."""
    hi, lo = np.empty_like(a), np.empty_like(a)
    _veltkamp(a, hi, lo)
    return hi, lo


def sum_carried(*terms):
    """Σ terms in their own floating type, each addition's rounding carried (Knuth's TwoSum).

    For the formulas computed again in np.longdouble where float64 lost a
    tiny input (see _again_wide): in (−s + x − y)·(s + x − y)/s³, the
    derivative of the Gaussian NLL at x = y = −1, s = 1e−300, −s + x rounds
    to x even in long double, and x − y is then 0, not −s.  Carried, the
    sum is −s, and the derivative 1/s.  Where the sum is not finite it is
    the plain one (inf − inf is no error to carry).

    Examples
    --------
    >>> s = np.longdouble(1e-300)
    >>> float(-s + np.longdouble(-1) - np.longdouble(-1))  # the plain sum loses s
    0.0
    >>> float(sum_carried(-s, np.longdouble(-1), np.longdouble(1)))
    -1e-300
    >>> sum_carried(np.array([1.0, np.inf]), np.array([2.0, 1.0])).tolist()
    [3.0, inf]
    """
    total, carried = terms[0], 0
    with np.errstate(invalid="ignore"):
        for term in terms[1:]:
            s = total + term
            part = s - total
            carried = carried + ((total - (s - part)) + (term - part))
            total = s
        return np.where(np.isfinite(total), total + carried, total)


def _two_sum(a, b, s=None, err=None, t=None):
    """(s, err) with s + err = a + b exactly (Knuth's TwoSum), into the rows s and err
    with t a work row, or into new arrays (for one number a row)."""
    s = np.add(a, b, out=s)
    t = np.subtract(s, a, out=t)  # bb
    err = np.subtract(s, t, out=err)
    np.subtract(a, err, out=err)  # a − (s − bb)
    np.subtract(b, t, out=t)  # b − bb
    err += t
    return s, err


def _divide_dd(hi, lo, d, delta, q, r, rows, d_parts=None):
    """q + r = (hi + lo)/(d + δ) to about 2^-100 relative: q = hi/d rounded, r from
    its remainder hi − q·d (exact, by Dekker's product) and the small parts.
    ``rows`` are six work rows of q's shape; ``d_parts`` d's halves (_halves)."""
    t1, t2, *four = rows
    np.divide(hi, d, out=q)
    _two_product(q, d, t1, t2, *four, b_parts=d_parts)
    np.subtract(hi, t1, out=r)
    r -= t2
    r += lo
    np.multiply(q, delta, out=t1)
    r -= t1
    r /= d


def _exact_rowsum(terms, axes, hi, lo):
    """Σ terms over ``axes`` (None: all) as a pair (sum, rest) per row, kept as axes of
    length 1: the terms split on a grid fixed by the largest, as split_sum
    says (the parts on the grid sum exactly, the rest plainly), the two sums
    added by TwoSum.  ``hi`` and ``lo`` are work arrays of terms' shape (lo may
    be terms itself)."""
    largest = max(float(np.max(terms)), -float(np.min(terms))) if terms.size else 0.0  # NaN if a term is
    if not 2.0 ** -900 < largest < 2.0 ** 900:  # 0, huge, inf or NaN: a plain sum
        total = np.add.reduce(terms, axis=axes, keepdims=True)
        return total, np.zeros_like(total)
    grid = 1.5 * 2.0 ** (int(np.frexp(largest)[1]) + 26)
    np.add(terms, grid, out=hi)
    hi -= grid
    np.subtract(terms, hi, out=lo)
    high = np.add.reduce(hi, axis=axes, keepdims=True)  # exact
    return _two_sum(high, np.add.reduce(lo, axis=axes, keepdims=True))


def _vjp_blocks(z, g):
    """The output, and its blocks of rows for the VJP kernels: (e, d, δ, g, out, axes, rows).

    e = e^{z − max} with the shift's rounding folded in and d + δ = 1 + s
    exactly, s = Σ e less the top term rounded once (see _shifted); g and out
    are the blocks of g and of the output, axes those of the classes (in the
    work layout of _shifted) and rows ten work rows of the block's shape.
    """
    out = np.empty(np.shape(z))

    def blocks():
        for _, _, e, s, _, (gb, ob), _ in _shifted(z, (g, out), np.float64):
            axes = tuple(i for i in range(e.ndim) if e.shape[i] != s.shape[i])
            d, delta = _two_sum(1.0, s)  # d + δ = 1 + s
            yield e, d, delta, gb, ob, axes, _scratch("vjp", (10,) + e.shape)

    return out, blocks()


def _mend(ob, plain):
    """Where the double-double result is not finite (an infinite or huge cotangent), the plain form's."""
    if not np.isfinite(np.add.reduce(ob, axis=None)):
        with np.errstate(all="ignore"):
            value = plain()
        bad = ~np.isfinite(ob)
        ob[bad] = value[bad]


def softmax_vjp(z, g):
    """gᵀJ of softmax at z, s·(g − ⟨g, s⟩) over the last axis, within about 2.6 ULP.

    Where g_j − ⟨g, s⟩ keeps between half and all of its terms' size, their
    rounding errors count up to twice: the plain form reached 5.79 ULP (7.05
    on a screen of 1,000,000 rows).  Here, with e = e^{z − max} and
    1 + s = d + δ exactly (see _vjp_blocks), ⟨g, s⟩ = Σ g·e/(d + δ) is formed
    in double-double (each g·e exact by Dekker's product, their sum on
    split_sum's grid, the division with its remainder), and so are
    g_j − ⟨g, s⟩ (TwoSum) and e_j·(g_j − ⟨g, s⟩)/(d + δ): what is left is the
    rounding of e_j and the last one.  About 60 operations an element,
    against the plain form's 6.  z and g of the same shape, float64.

    Examples
    --------
    >>> softmax_vjp(np.array([[40.0, -0.5, 0.0]]), np.array([[1.0, 0.0, 0.0]])).tolist()
    [[6.825111364446569e-18, -2.576757109154981e-18, -4.248354255291589e-18]]
    """
    out, blocks = _vjp_blocks(z, g)
    for e, d, delta, gb, ob, axes, w in blocks:
        with np.errstate(over="ignore", invalid="ignore"):
            _veltkamp(e, w[6], w[7])  # e's halves, kept for both products with e
            _two_product(gb, e, w[0], w[1], *w[2:6], b_parts=(w[6], w[7]))  # g·e = w0 + w1
            high, low = _exact_rowsum(w[0], axes, w[2], w[3])
            low = low + np.add.reduce(w[1], axis=axes, keepdims=True)
            dot, dot_lo, *small = np.empty((8,) + high.shape)
            _divide_dd(high, low, d, delta, dot, dot_lo, small)  # ⟨g, s⟩ per row
            np.negative(dot, out=dot)
            _two_sum(gb, dot, w[0], w[1], w[2])  # g − ⟨g, s⟩ = w0 + w1 − dot_lo
            w[1] -= dot_lo
            _two_product(w[0], e, w[2], w[3], w[4], w[5], w[8], w[9], b_parts=(w[6], w[7]))  # e·w0 = w2 + w3
            np.multiply(e, w[1], out=w[4])
            w[3] += w[4]
            _divide_dd(w[2], w[3], d, delta, w[0], w[1], w[4:10], _halves(d))
            np.add(w[0], w[1], out=ob)
        _mend(ob, lambda: (e / (d + delta)) * (gb - np.add.reduce(gb * (e / (d + delta)), axis=axes, keepdims=True)))
    return out


def log_softmax_vjp(z, g):
    """gᵀJ of log_softmax at z, g − (Σ g)·s over the last axis, within about 2.2 ULP.

    As softmax_vjp: (Σ g)·e/(d + δ) in double-double (Σ g on split_sum's grid,
    the product by Dekker, the division with its remainder) and
    g − (Σ g)·s by TwoSum; the plain form reached 4.52 ULP (4.87 on a screen
    of 1,000,000 rows).  About 45 operations an element.

    Examples
    --------
    >>> log_softmax_vjp(np.array([[40.0, -0.5, 0.0]]), np.array([[1.0, 0.0, 0.0]])).tolist()
    [[6.825111364446569e-18, -2.576757109154981e-18, -4.248354255291589e-18]]
    """
    out, blocks = _vjp_blocks(z, g)
    for e, d, delta, gb, ob, axes, w in blocks:
        with np.errstate(over="ignore", invalid="ignore"):
            total, rest = _exact_rowsum(gb, axes, w[0], w[1])  # Σ g per row
            _two_product(e, total, w[0], w[1], *w[2:6], b_parts=_halves(total))  # (Σ g)·e = w0 + w1 + rest·e
            np.multiply(rest, e, out=w[2])
            w[1] += w[2]
            _divide_dd(w[0], w[1], d, delta, w[2], w[3], w[4:10], _halves(d))  # (Σ g)·s = w2 + w3
            np.negative(w[2], out=w[2])
            _two_sum(gb, w[2], w[0], w[1], w[4])
            w[1] -= w[3]
            np.add(w[0], w[1], out=ob)
        _mend(ob, lambda: gb - np.add.reduce(gb, axis=axes, keepdims=True) * (e / (d + delta)))
    return out


def _copy_into(row, block):
    np.copyto(row, block)
    return row


def logsumexp(z):
    """log Σ exp(z) over the last axis = max + log1p(Σ of the other terms)."""
    return softmax_family(z, "logsumexp")[0]


def log_softmax(z):
    """z − logsumexp(z) = (z − max) − log1p(Σ others), exact for the top entry."""
    return softmax_family(z, "log_softmax")[0]


def softmax(z):
    """exp(z − max)/(1 + Σ others)."""
    return softmax_family(z, "softmax")[0]


def softmax_complement(z):
    """1 − softmax(z), without cancellation at the dominant entry: s/(1 + s) there."""
    return softmax_family(z, "softmax_complement")[0]


def away_from(x, point, radius, to=None):
    """The elements of x within ``radius`` of ``point``, and x with them moved away.

    For a removable singular point of a formula (sin(x)/x at 0, where it is
    0/0, and its derivative loses every digit on the way there): the formula
    is evaluated on the moved array, at ``to`` (by default point + 2·radius)
    in place of those elements, a point where it is finite and warns of
    nothing, so that no work is done on values thrown away, and
    :func:`taylor_near` writes the Taylor polynomial about the point there.
    Returns ``(moved, near)``: near is the mask, or None (and moved is x
    itself) where no element is near.

    Examples
    --------
    >>> moved, near = away_from(np.array([-1.0, 0.0, 1e-9, 3.0]), 0.0, 0.5)
    >>> moved.tolist(), near.tolist()
    ([-1.0, 1.0, 1.0, 3.0], [False, True, True, False])
    >>> away_from(np.array([2.0]), 0.0, 0.5)[1] is None
    True
    """
    x = np.asarray(x)
    with np.errstate(invalid="ignore", over="ignore"):  # x = ±inf, NaN: not near
        near = np.abs(x - point) < radius
    if not near.any():
        return x, None
    moved = x.dtype.type(point + 2 * radius if to is None else to)
    if moved == point:  # 2·radius below half an ulp of the point in x's type (float32)
        moved = np.nextafter(x.dtype.type(point), x.dtype.type(np.inf))
    return np.where(near, moved, x), near


def outside(x, intervals, to):
    """x with its elements in any of the ``intervals`` [low, high) moved to ``to``.

    For the stretches that a user's code computes again in np.longdouble
    (see derive/refine.py): the double formula is evaluated at ``to``, where
    it is finite and warns of nothing, instead of where it may overflow
    (x/(1 + x²) past 1.3e154) for values thrown away.  x itself where no
    element is inside.

    Examples
    --------
    >>> outside(np.array([-3.0, 0.5, 1e200, np.nan]), ((1e154, np.inf), (-4.0, -2.0)), 1.0).tolist()
    [1.0, 0.5, 1.0, nan]
    """
    x = np.asarray(x)
    inside = np.zeros(x.shape, dtype=bool)
    for low, high in intervals:
        inside |= (x >= low) & (x < high)  # NaN: in none
    if not inside.any():
        return x
    return np.where(inside, x.dtype.type(to), x)


def taylor_near(y, x, near, point, highs, lows=None):
    """y, with its elements where ``near`` holds set to Σ c_k·(x − point)^k, in place.

    The coefficients c_k = highs[k] + lows[k] (ascending powers; lows 0 if
    None) are summed by :func:`poly_dd`, Horner's rule in double-double
    arithmetic, so that a series whose terms cancel ((e^x − 1 − x)/x² at
    x = −8: terms up to 6.5 beside a value of 0.11) keeps its digits: the
    error is about an ulp of the value plus the terms' size times 2^-104.
    x − point is exact within a factor 2 of the point (Sterbenz), and
    rounded once beyond.  See away_from.

    Examples
    --------
    >>> y, x = np.array([0.0, 5.0]), np.array([1e-3, 2.0])
    >>> taylor_near(y, x, np.array([True, False]), 0.0, (1.0, 0.0, -1 / 6, 0.0, 1 / 120)).tolist()  # sin(x)/x
    [0.9999998333333416, 5.0]
    """
    if near is None:
        return y
    lows = lows if lows is not None else (0.0,) * len(highs)
    hi, lo = poly_dd(np.asarray(x, dtype=np.float64)[near] - point, tuple(zip(highs[::-1], lows[::-1])), "hi", "lo")
    y[near] = hi + lo
    return y
