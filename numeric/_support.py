"""Input handling shared by the generated functions (NumPy only).

Everything after the marker line below is copied verbatim into standalone
modules written by ``nnderive codegen -o FILE``.
"""

import threading
import warnings

import numpy as np

# --- support functions ---


def _float_array(x):
    """x as a floating array: float16, float32 and float64 kept, everything else float64."""
    x = np.asarray(x)
    if x.dtype.kind != "f" or x.dtype.itemsize > 8:
        x = x.astype(np.float64)
    return x


def _like(value, x):
    """value with x's dtype and shape; a 0-d result becomes a NumPy scalar."""
    value = np.asarray(value)
    if value.dtype != x.dtype:
        value = value.astype(x.dtype)
    if value.shape != x.shape:
        value = np.broadcast_to(value, x.shape).copy()
    return value[()] if value.ndim == 0 else value


def _broadcast_like(*arrays):
    """A stand-in for _like of a function of several arrays: their broadcast shape and common type (no copy).

    >>> _broadcast_like(np.float32(1), np.zeros((2, 3))).shape
    (2, 3)
    """
    dtype = np.result_type(*arrays)
    return np.broadcast_to(np.empty((), dtype), np.broadcast_shapes(*(np.shape(a) for a in arrays)))


def _scalar_math() -> bool:
    """Whether NumPy computes float64 tanh, log1p and expm1 by scalar libm calls on this CPU.

    NumPy has vector code for them (SVML) only where the CPU has AVX-512
    (x86-64-v4); elsewhere, on an AMD EPYC without AVX-512, np.tanh takes
    13.8 ns an element and np.log1p 12.7, against 5.1 for np.exp and 4.8
    for np.log, and the generated code that computes tanh from e^{-2|x|}
    and log1p(e^x) from log(1 + e^x) is the faster (see
    derive.codegen.tanh_from_exponential and log1p_from_log).  Read from
    NumPy's own account of its dispatch (numpy.lib.introspect, NumPy ≥ 2.0):
    log1p has no vector code but SVML's.  False where it cannot be read: the
    other form is right everywhere too.  The environment variable
    NNDERIVE_SCALAR_MATH=1 or 0 chooses instead (the same bits on two CPUs,
    as far as NumPy's own functions give them, or a form timed on both).

    Examples
    --------
    >>> isinstance(_scalar_math(), bool)
    True
    """
    import os

    chosen = os.environ.get("NNDERIVE_SCALAR_MATH", "").strip()
    if chosen:
        if chosen not in ("0", "1"):
            raise ValueError(f"NNDERIVE_SCALAR_MATH must be 0 or 1 (or unset), not {chosen!r}")
        return chosen == "1"
    try:
        from numpy.lib.introspect import opt_func_info

        current = opt_func_info(func_name="^log1p$", signature="float64")["log1p"]["dd"]["current"]
    except (ImportError, KeyError, TypeError):  # pragma: no cover - NumPy < 2.0
        return False
    return str(current).startswith("baseline")


#: see _scalar_math: which of two forms the generated functions that compute
#: tanh, sech² or log1p(e^x) take (tanh, softplus); both are
#: within the catalogue's bounds, and the tests run both whatever the CPU
_SCALAR_MATH = _scalar_math()

#: elements per block of the elementwise functions that call a kernel (and of
#: the kernels): a float64 block (125 kB) and its few intermediates stay in the
#: L2 cache of a current core, and the block-sized arrays a kernel returns stay
#: below the 128 kB mmap threshold of glibc, so they are reused, not page-faulted
BLOCK = 16000

#: elements per block of the elementwise functions whose loop makes no array
#: (every operation writes into a work row or an output): an eighth as many
#: blocks as BLOCK, so an eighth of the per-block Python work (3.5 µs a block
#: for sigmoid_and_grad), and each output written in runs of 1 MB, not 125 kB.
#: Measured on 1e6 float64 with recycled memory (benchmarks/README.md): 0.83
#: to 0.99 of the time with BLOCK (sigmoid, tanh, softplus, silu, mish), and
#: the same time with fresh pages, although the rows now spill from L2 to L3;
#: 125,000 against 62,500 (2026-12-07, three runs of 25–40 rounds, one
#: process): sigmoid 0.83–0.90 against 0.89–1.01 of hand NumPy, softplus
#: 0.93–0.96 against 0.99–1.03, the rest the same; 250,000 no faster, and
#: from 500,000 on slower.  A function keeps up to eight 1 MB work rows per
#: thread.  A kernel's body keeps BLOCK: its results would be mapped afresh by
#: glibc for every block (gelu_and_grad took 1.6 times as long with 62,500)
LONG_BLOCK = 125000


_SCRATCH = threading.local()


def _scratch(name, shape, dtype=np.float64):
    """A reusable array of ``shape`` for the work called ``name``, one per thread.

    Work rows are made once per thread, not once per call: NumPy takes an
    array of more than 128 kB from mmap and gives it back to the system when
    it is freed, so a fresh one is page-faulted in on every call (about 3 µs
    per 4 kB page on the machine of ``benchmarks/README.md``: 0.6 ms for
    silu's six rows).  The view for a (name, shape, dtype) is made once too
    (cutting and reshaping cost about 1.5 µs, a fifth of a small softmax's
    fixed cost at six rows a call).  Callers must not hold the array past
    their return.
    """
    views = getattr(_SCRATCH, "views", None)
    if views is None:
        views = _SCRATCH.views = {}
    key = (name, shape, dtype)
    view = views.get(key)
    if view is not None:
        return view
    size = 1
    for length in shape:  # not np.prod: 13 µs a call, a tenth of a small softmax block
        size *= int(length)
    buffer = f"{name}_{np.dtype(dtype).char}"
    held = getattr(_SCRATCH, buffer, None)
    if held is None or held.size < size:
        held = np.empty(size, dtype)
        setattr(_SCRATCH, buffer, held)
        views.clear()  # the views made before are of the smaller array
    if len(views) >= 256:  # many shapes (a user's many sizes): start again
        views.clear()
    view = views[key] = held[:size].reshape(shape)
    return view


def _outputs(x, count):
    """``count`` new arrays shaped like x, of x's floating type (the work is done in float64: see _blocks)."""
    return [np.empty(x.shape, x.dtype) for _ in range(count)]


#: rows of constants and 0-d numbers, made once and shared (read-only, so
#: that no thread can change what another reads): filling a row of each
#: constant and converting each number cost 3-4 µs a call, a third of a
#: small call's time
_CONSTANT_ROWS: dict = {}
_FLOAT64 = np.dtype(np.float64)
_NUMBERS: dict = {}


def _work(x, rows, masks, constants=(), native=False, long=False):
    """Rows for one block: ``rows`` work rows, ``masks`` boolean rows, a row of each constant.

    The work rows and constants are float64, or, for a ``native`` function
    (one that rounds nothing, see _blocks), of x's own type; ``long``: rows
    of LONG_BLOCK elements, not BLOCK (as _blocks is told).  Each group is a
    tuple of 1-D rows, made once per thread for each (rows, masks, constants,
    length, type) and kept with the scratch views (cutting the 2-D scratch
    arrays into rows on every call cost about 1.5 µs, a sixth of a small
    call's time).
    """
    size = min(x.size, LONG_BLOCK if long else BLOCK)
    dtype = x.dtype if native else _FLOAT64
    constants = tuple(constants)
    key = ("work", rows, masks, constants, size, dtype)
    views = getattr(_SCRATCH, "views", None)
    held = views.get(key) if views is not None else None
    if held is not None:
        return held
    filled = _CONSTANT_ROWS.get((constants, dtype))
    if filled is None or filled.shape[1] < size:
        filled = np.empty((len(constants), size), dtype)
        filled[...] = np.reshape(constants, (-1, 1))
        filled.flags.writeable = False
        _CONSTANT_ROWS[(constants, dtype)] = filled
    work = _scratch("rows", (rows, size), dtype)
    mask = _scratch("masks", (masks, size), bool)
    held = (tuple(work), tuple(mask), tuple(filled[:, :size]))
    _SCRATCH.views[key] = held  # (cleared with the views, when a scratch array is made anew)
    return held


def _numbers(*values, dtype=np.float64):
    """Each value as a 0-d array (float64, or ``dtype``), for the ufunc calls of a blocked loop (read-only, shared)."""
    numbers = _NUMBERS.get((values, dtype))
    if numbers is None:
        numbers = tuple(np.array(v, dtype) for v in values)
        for number in numbers:
            number.flags.writeable = False
        _NUMBERS[(values, dtype)] = numbers
    return numbers


def _bits(x):
    """The signed integer type as wide as x's floating type (for selecting by bits)."""
    return np.dtype(f"i{x.dtype.itemsize}").type


#: the sign bit of a float64, as an int64: ``bitwise_or`` with it gives −|u|
_SIGN_BIT = np.array(np.iinfo(np.int64).min)


def _blocks(x, outputs, rows=(), native=False, long=False):
    """Successive ``(block of x, blocks of the outputs, the rows)`` over the flattened arrays, all float64.

    ``rows`` are work rows of one block's length (see _work); each comes
    back cut to the block's length, the same views for every full block:
    cutting a 2-D work array into rows in every block cost about 3 µs a
    block, a tenth of a cheap function's time.  An input of one block comes
    back as it is, in a tuple (no generator: 1 µs of a small call's 8).
    For float16 and float32 x, see _cut_narrow, unless the function is
    ``native``: one whose values are x or numbers chosen by comparisons
    (relu, hard_tanh), which rounds nothing and works in x's own type.
    Blocks are of BLOCK elements, or of LONG_BLOCK for a ``long`` loop (one
    that makes no array: see LONG_BLOCK).
    """
    xs = x.reshape(-1)
    flat = [y.reshape(-1) for y in outputs]
    length = LONG_BLOCK if long else BLOCK
    if xs.dtype != np.float64 and not native:
        return _cut_narrow(xs, flat, tuple(rows), length)
    if 0 < xs.size <= length:
        return ((xs, flat, tuple(rows)),)
    return _cut(xs, flat, tuple(rows), length)


def _cut(xs, flat, rows, length):
    """The blocks of _blocks for an input of more than one block of ``length``, in its own type."""
    for start in range(0, xs.size, length):
        xb = xs[start:start + length]
        blocks = [y[start:start + length] for y in flat]
        yield xb, blocks, (rows if xb.size == length else tuple(r[:xb.size] for r in rows))


def _cut_narrow(xs, flat, rows, length):
    """The blocks of _blocks for float16 or float32 x and outputs.

    Each block of x is widened into a float64 row, and each block of the
    outputs is a float64 row too, rounded into the output (once) when the
    loop's body for the block has run: the outputs are the float64 results
    rounded once, as a float64 computation of the whole array and one
    ``astype`` would give them, without the full-size float64 copy of x and
    of each output (for float32 sigmoid_and_grad on 1e6 elements, four
    passes over 8 MB arrays: half its time).
    """
    size = min(xs.size, length)
    wide = _scratch("narrow", (1 + len(flat), size))
    for start in range(0, xs.size, length):
        k = min(length, xs.size - start)
        xb, blocks = wide[0, :k], [row[:k] for row in wide[1:]]
        np.copyto(xb, xs[start:start + k])
        yield xb, blocks, (rows if k == size else tuple(r[:k] for r in rows))
        for y, block in zip(flat, blocks):
            np.copyto(y[start:start + k], block, casting="same_kind")


#: np.longdouble reaches below the smallest normal double (x86-64: 80-bit
#: extended; aarch64 Linux: IEEE quad); where it is only a double (Windows,
#: Apple silicon) there is nothing wider to refine the tails with
_WIDE = bool(np.finfo(np.longdouble).tiny < np.finfo(np.float64).tiny)


def _lowest(x):
    """The smallest number in x, NaN ignored (inf where there is none): one pass over x.

    The generated functions ask it of each block, whether any of its x needs
    the clamp at −1e300, and keep the least over the blocks, whether any x
    is in a subnormal tail (see _refine_tail).
    """
    return float(np.fmin.reduce(x, axis=None, initial=np.inf))  # a float: 1e300 does not fit a float32


def _highest(x):
    """The largest number in x, NaN ignored (−inf where there is none): one pass over x."""
    return float(np.fmax.reduce(x, axis=None, initial=-np.inf))


def _refine_tail(x, outputs, tail, which, low, high):
    """The outputs at the x in [low, high) again, from ``tail`` in np.longdouble (rounded once into them).

    For functions made from an exponential that is subnormal there (x·e^x
    near x = −713: see derive.codegen.subnormal_tail), or held at the value
    of a clamp past it (σ′ above x = 709.78: derive.codegen.held_at_clamp;
    an infinite end is in the interval, so that σ′(∞) = 0).  The caller has
    found (with _lowest or _highest) that some x may be in the interval;
    only the elements that are are computed again.  ``which`` picks the
    outputs of ``tail`` = (f, f′); where its exponentials overflow even in
    np.longdouble (e^x past x = 11356) the limits they give are the values.
    """
    if not _WIDE or x.size == 0:  # (float32 too: 0 there, in float64 a subnormal)
        return
    xs = x.reshape(-1)
    # the bounds as float64 numbers, so that float16 x are compared in float64 (a
    # Python float would be rounded to float16 first: −39.30385 to −39.3125)
    low, high = np.float64(low), np.float64(high)
    inside = (xs >= low) if high == np.inf else (xs < high) if low == -np.inf else (xs >= low) & (xs < high)
    index = np.flatnonzero(inside)
    if index.size:
        with np.errstate(over="ignore"):
            values = tail(xs[index].astype(np.longdouble))
        for k, y in zip(which, outputs):
            y.reshape(-1)[index] = values[k]


class _QuietOverflow:
    """``with _QuietOverflow() as overflow:``: NumPy's overflow, division-by-zero and
    invalid-value reports off inside; ``overflow.happened`` tells whether an overflow
    occurred, ``overflow.divided`` whether a division by zero did (see _again_wide and
    _overflowed).

    The code generated for a user's expression computes its formula so,
    since an overflow on the way need not reach the result: e^{800} in
    exp(−e^{−x}) at x = −800, which is 0; nor need the 0·inf it may meet,
    which _again_wide computes again in np.longdouble; nor a division by
    zero: log(x² + y²) at x = −1e−300, y = 0 is log 0 in float64, where x²
    underflows, and −1381.6 in long double.  What reaches the result is
    reported by _overflowed, as the caller's ``np.errstate`` asks (read here,
    on entry).
    """

    def __enter__(self):
        self.happened = self.divided = self.underflowed = False
        self.finite = False  # _again_wide found every result finite: nothing for _overflowed to report
        caller = np.geterr()
        self.mode, self.invalid_mode, self.divide_mode = caller["over"], caller["invalid"], caller["divide"]
        self.under_mode = caller["under"]
        self._state = np.errstate(over="call", invalid="call", divide="call", under="call", call=self._record)
        self._state.__enter__()
        return self

    def _record(self, kind, flag):
        if kind.startswith("divide"):
            self.divided = True
        elif kind.startswith("underflow"):  # (a 0 of the results may be one: see _again_wide)
            self.underflowed = True
            if self.under_mode == "raise":  # a caller who asked for underflow reports gets NumPy's own
                raise FloatingPointError(kind)
            if self.under_mode == "warn":
                warnings.warn(kind, RuntimeWarning, stacklevel=3)
        elif not kind.startswith("invalid"):  # (a NaN that reaches y is reported by _overflowed)
            self.happened = True

    def __exit__(self, *exc):
        return self._state.__exit__(*exc)


def _all_finite(y):
    """Whether every element of y is finite, told by its sum (one fast pass, no boolean array):
    a sum that is not finite says no, also where it overflowed, and the caller looks closer.

    >>> _all_finite(np.array([1.0, 1e308, 1e308])), _all_finite(np.array([1.0, 2.0])), _all_finite(3.0)
    (False, True, True)
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.add.reduce(np.asarray(y), axis=None)))


#: below this magnitude (and not 0) a result may hold a subnormal
#: intermediate's few digits (see _again_wide): 2^-600, so
#: that a subnormal times a factor up to 2^474 is caught (∂/∂w of
#: x/(1 + |w·x|) at w = −2.1e115, x = −2.7e46 is −x²·(1/(1 + |wx|))², a
#: subnormal square times 7e92: 3.6e−231 where the truth is 2.3e−231)
TINY_RESULT = 2.0**-600


#: an input above this magnitude can overflow a product of a few of them
#: (2^256: a product of three such passes float64's range)
HUGE_INPUT = 2.0**256

#: a 0 of an input above this magnitude may be an underflowed factor times a large one:
#: ∂/∂y of x·σ(x·y) at x = −4.45e19, y = 1.77e−17 is x²·σ′(−788), 2e39 times a σ′ that
#: is 1e−342 (0 in float64), its truth 1.2e−303 (2^26: two such inputs lift e^{−745} to a normal number)
LARGE_INPUT = 2.0**26

#: an input (not 0) below this magnitude can underflow a product of a few of them
#: to 0 where the result is not: ∂/∂x of (x + y)²/(x − y) at x = −5e−324,
#: y = −1e−300 is (x² − 2xy − 3y²)/(x − y)/(x − y) with y² = 0 in float64, its truth −3
TINY_INPUT = 2.0**-256


def _extreme_inputs(magnitudes, shape, tiny=True, huge=False):
    """Where one of the arrays of ``magnitudes`` (the inputs' |·|) is below TINY_INPUT but not 0
    (``tiny``), or above HUGE_INPUT and finite (``huge``), broadcast to ``shape``; None where
    none is: two reductions per array in the common case.

    >>> _extreme_inputs([np.array([0.0, 1e-300, 2.0, 1e300]), np.array(3.0)], (4,)).tolist()
    [False, True, False, False]
    >>> _extreme_inputs([np.array([0.0, 1e-300, 2.0, 1e300])], (4,), tiny=False, huge=True).tolist()
    [False, False, False, True]
    >>> _extreme_inputs([np.array([0.0, 1.0, np.inf])], (3,), huge=True) is None
    True
    """
    found = None
    for magnitude in magnitudes:
        if not magnitude.size:
            continue
        with np.errstate(invalid="ignore"):
            low = tiny and np.min(magnitude) < TINY_INPUT
            high = huge and np.max(magnitude) > HUGE_INPUT
            if not (low or high):
                continue
            beyond = np.zeros(magnitude.shape, dtype=bool)
            if low:
                beyond |= (magnitude < TINY_INPUT) & (magnitude != 0)
            if high:
                beyond |= (magnitude > HUGE_INPUT) & (magnitude != np.inf)
        if beyond.any():
            found = np.broadcast_to(beyond, shape) if found is None else found | beyond
    return found


def _again_wide(ys, wide, quiet, *inputs, tiny_inputs=False, huge_inputs=False, series=()):
    """ys, computed again in np.longdouble where one is NaN or ±inf though every input is finite,
    or tiny but not 0.

    ``wide(*inputs)`` is the same formula as gave ys (a tuple of float64
    results), with np.longdouble inputs; ``quiet`` the _QuietOverflow they
    were computed in: every result is looked at (a kernel may compute past
    float64 with the reports off), and a value computed again that is beyond
    float64 counts as an overflow there.  np.longdouble reaches 1e±4932 on
    x86-64, so a formula whose intermediate passes float64's range on the
    way to a finite result gives it there: ∂/∂s of a Gaussian density is
    inf·inf·0 in float64 where (x − m)/s passes 1.3e154, its truth 0, and
    −y·(w·x) is −0·inf at y = 0, w·x = 1e600.  Only those elements are
    computed again; a value that is NaN in np.longdouble too stays as it
    was, and one beyond float64 rounds to ±inf (which _overflowed reports).

    A result below TINY_RESULT in magnitude, but not 0, may be a subnormal
    intermediate's few digits times a factor: ∂/∂x of exp(−(x² + y²)/2) is
    −x·e^{−711.5} at x = 37.69, y = 1.588, 6.0e−308 from a subnormal
    e^{−711.5} of 43 bits (23 ULP).  Those are computed again too, each on
    its own value alone (not on a flag of the call, which another element
    may raise), and not the 0s, which a branch (relu's) gives by the
    thousand; but a 0 of an input above LARGE_INPUT is (x/(|w·x| + 1) at
    w·x = −3.9e417 is x/inf = 0, its truth −1/w; w·σ′(800) at w = 1e300 is
    1e300 times an underflowed e^{−800}, its truth 3.7e−48, and x²·σ′(x·y)
    at x = −4.45e19, y = 1.77e−17 is 2e39 times an underflowed σ′(−788), its
    truth 1.2e−303; a 0 that is right stays 0 in long double).  So is every
    0 of a call in which something underflowed: ∂/∂m of a Gaussian density
    at (x − m)/s = 38.3, s = 1.4e−7 is r·φ(r)/s², 0 in float64 from a
    subnormal φ(r) and 4.4e−305 in long double.  With
    ``tiny_inputs`` (the code of several variables: that of one patches its
    removable points with their series, which the plain formula lacks), so
    is every result of an input below TINY_INPUT (not 0), whatever the other
    elements are: (x² − y²)/(x² + y²) at x = 1e−170, y = 2e−170 is a ratio
    of subnormal squares of a few digits in float64 (4e10 ULP), −0.6 in long
    double, and an underflowed y² made ∂/∂x of (x + y)²/(x − y) 0 at
    y = −1e−300, where it is −3.  With ``huge_inputs``, so is every result of
    a finite input above HUGE_INPUT: x·log(x/y) at x = 1.7e−74, y = 5.6e249
    is the log of a subnormal x/y in float64 (4e12 ULP).  In place of a tiny
    or infinite result the
    long double value is taken where it is not 0: a plain formula that
    cancels in long double, log(1 + e^x) at x = −700, gives 0 there
    (1 + e^{−700} is 1), not a wrong tiny value, since two terms of long
    double that differ do so by at least 2^-64 of themselves.  The elements
    of ``series`` (masks, or None) are left as they are: there the code took
    a removable point's series, which the plain formula lacks
    (the derivative of (x − sin x)/x³ is −x/30 + … at x = 1e−300, a tiny
    result, and 5e299 by the plain formula in long double, which cancels).  Where
    np.longdouble is only a double (_WIDE false), ys are unchanged.

    Examples
    --------
    >>> with _QuietOverflow() as quiet:
    ...     x = np.array([1e300, 2.0])
    ...     y = (x * x * np.exp(-x),)
    >>> y[0].tolist()[0]  # inf·0
    nan
    >>> wide = lambda x: (x * x * np.exp(-x),)  # the same formula, given np.longdouble x
    >>> _again_wide(y, wide, quiet, x)[0].tolist()  # (x86-64 Linux: np.longdouble is wider)
    [0.0, 0.5413411329464508]
    """
    finite_results = all(_all_finite(y) for y in ys)  # the common case: one sum of each result
    quiet.finite = finite_results
    if not _WIDE:
        return ys
    arrays = [np.asarray(a) for a in inputs]
    shape = np.broadcast_shapes(*(a.shape for a in arrays), *(np.shape(y) for y in ys))
    results = [np.asarray(y) for y in ys]  # (a result may be a Python number: f′ of x is 1)
    with np.errstate(invalid="ignore"):
        tiny = [(np.abs(y) < TINY_RESULT) & (y != 0) for y in results]
        zeros = [y == 0 for y in results]
        any_zero = any(z.any() for z in zeros)
        if any_zero and quiet.underflowed:  # a 0 of a call that underflowed on the way (see above)
            tiny = [small | z for z, small in zip(zeros, tiny)]
        magnitudes = [np.abs(a) for a in arrays] if any_zero or tiny_inputs or huge_inputs else []
        if any_zero:  # a 0 of a large input: a number over an overflowed one, or one times 0
            large = np.zeros(shape, dtype=bool)
            for magnitude in magnitudes:
                large |= magnitude > LARGE_INPUT
            tiny = [small | (z & large) for z, small in zip(zeros, tiny)]
        lost = _extreme_inputs(magnitudes, shape, tiny_inputs, huge_inputs)  # every result of an extreme input
        if lost is not None:
            tiny = [small | lost for small in tiny]
    if finite_results and not any(small.any() for small in tiny):
        return ys
    finite = np.ones(shape, dtype=bool)
    for a in arrays:
        finite &= np.isfinite(a)
    for near in series:  # a removable point's series is the value there, not the plain formula
        if near is not None:
            finite &= ~np.broadcast_to(near, shape)
    wrong = [(~np.isfinite(y) | small) & finite for y, small in zip(ys, tiny)]
    index = np.flatnonzero(np.logical_or.reduce(wrong)) if wrong else np.zeros(0, dtype=np.intp)
    if not index.size:
        return ys
    picked = [np.broadcast_to(a, shape).reshape(-1)[index].astype(np.longdouble) for a in arrays]
    with np.errstate(all="ignore"):
        values = wide(*picked)
        again = []
        for y, bad, small, value in zip(ys, wrong, tiny, values):
            y = np.array(np.broadcast_to(y, shape), dtype=np.float64)  # a copy, of the full shape
            value = np.broadcast_to(np.asarray(value, dtype=np.longdouble), index.shape)
            # the long double value where it is not NaN, and, in place of a ±inf or a
            # tiny result (not a NaN), where it is not 0 either (see above): the plain
            # formula of ∂/∂s of (x − m)²/(2s²) + log s is 0 in long double at
            # x = m = −1, s = 5e−324 (1 − s − 1 cancels), its truth 1/s, beyond float64
            was = y.reshape(-1)[index]
            keep = bad.reshape(-1)[index] & ~np.isnan(value) & (np.isnan(was) | (value != 0))
            keep &= ~np.broadcast_to(small, shape).reshape(-1)[index] | np.isfinite(value)
            rounded = value[keep].astype(np.float64)
            # finite in np.longdouble, beyond float64: _overflowed reports it (a pole's inf is NumPy's)
            quiet.happened |= bool((np.isinf(rounded) & np.isfinite(value[keep])).any())
            y.reshape(-1)[index[keep]] = rounded
            again.append(y)
    return tuple(again)


def _overflowed(y, overflow, *inputs):
    """y, reported as NumPy reports an overflow where it is ±inf from one (``overflow``, a _QuietOverflow)
    though every input is finite: the result is beyond float64; a division by zero where it is ±inf
    from one and no overflow occurred (a pole: log 0, 1/0); and an invalid operation where it is
    NaN though every input is finite (0·inf that np.longdouble did not mend either, see _again_wide,
    or log of a negative), whether or not NumPy saw it (a kernel may compute with its reports off).

    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     with _QuietOverflow() as overflow:
    ...         x = np.array([-800.0, 2.0, -1e300])
    ...         y = np.exp(-np.exp(-x)), x * np.exp(-x), np.log(x)
    ...     _ = [_overflowed(v, overflow, x) for v in y]
    >>> for w in caught:  # exp(−e^{800}) is 0: only x·e^{−x} overflows, and log x of x < 0 is NaN
    ...     print(w.message)
    overflow: the result is beyond float64 (±inf) at 2 points of finite input
    invalid value: the result is NaN at 2 points of finite input
    """
    if overflow.finite or _all_finite(y):  # the common case: one sum of y (see _again_wide)
        return y
    for happened, mode, wrong, what in (
            (overflow.happened, overflow.mode, np.isinf, "overflow: the result is beyond float64 (±inf)"),
            (overflow.divided and not overflow.happened, overflow.divide_mode, np.isinf,
             "divide by zero: the result is ±inf"),
            (True, overflow.invalid_mode, np.isnan, "invalid value: the result is NaN")):
        if not happened or mode == "ignore":
            continue
        found = wrong(y)
        for a in inputs:
            found = found & np.isfinite(a)
        count = int(np.count_nonzero(found))
        if count:
            message = f"{what} at {count} point{'s' if count > 1 else ''} of finite input"
            if mode == "raise":
                raise FloatingPointError(message)
            warnings.warn(message, RuntimeWarning, stacklevel=3)
    return y


def _result(y, x):
    """y in x's dtype (rounded once), and a NumPy scalar where y is 0-d."""
    if y.dtype != x.dtype:
        y = y.astype(x.dtype)
    return y[()] if y.ndim == 0 else y


def _same_shape(name, a, b):
    if a.shape != b.shape:
        raise ValueError(
            f"{name}: shapes {a.shape} and {b.shape} differ; both arguments must have the same shape"
        )


def _wide(x):
    """x as a float64 array (a copy only where x is float16 or float32): the
    generated vector maps and losses compute in float64 and round once, into
    the input's type, at the end (see _like, _mean, _result)."""
    return _float_array(x).astype(np.float64, copy=False)


def _loss_inputs(name, pred, target, rows):
    """(pred, target, like): pred and target as float64 arrays of the same
    shape, and ``like``, pred as given (float16, float32 or float64), whose
    type the results take.  A target is first rounded to pred's type, so
    that a float32 loss is the loss of float32 numbers, computed in float64."""
    like = _float_array(pred)
    target = np.asarray(target)
    if target.dtype != like.dtype:
        target = target.astype(like.dtype)
    if like.shape != target.shape:
        raise ValueError(
            f"{name}: pred has shape {like.shape} but target has shape {target.shape}; "
            "they must be the same"
        )
    if like.size == 0:
        raise ValueError(f"{name}: empty input of shape {like.shape}")
    if rows and like.ndim == 0:
        raise ValueError(f"{name}: needs at least one axis (classes on the last axis)")
    return _wide(like), _wide(target), like


def _terms(pred, rows):
    """N, the number of terms in the mean: rows for row losses, else elements."""
    return pred.size // pred.shape[-1] if rows else pred.size


def _mean(values, n, like):
    """Σ values / n, summed in float64 and rounded once to a scalar of like's
    dtype (ufunc.reduce: np.sum's wrapper costs 20 µs a call).

    Where the sum of finite values overflows but their mean need not (3,000
    losses of 1.7e308), they are summed again scaled by a power of two (exact
    but for values that become subnormal, far below the sum's last digit):
    the mean, not inf and an overflow warning.

    >>> f"{_mean(np.full(3000, 1.7e308), 3000, np.float64(0)):.6g}"
    '1.7e+308'
    """
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore"):
        total = np.add.reduce(values, axis=None)
        if np.isinf(total) and np.isfinite(values).all():
            scale = 2.0 ** (values.size.bit_length() + 1)  # Σ|values|/scale < max/2
            return like.dtype.type(np.add.reduce(values / scale, axis=None) / n * scale)
    return like.dtype.type(total / n)
