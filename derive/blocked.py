"""Blocked, in-place NumPy code for elementwise functions (a codegen pass).

An elementwise function of ``x`` printed as NumPy expressions makes a fresh
array for every operation: on 1e6 float64 elements that is 8 MB written (and
page-faulted in) per ``+`` or ``*``.  This pass prints the same expressions as
a loop over cache-sized blocks of ``x`` in which every operation writes into a
preallocated work row (``out=``) and the last operation of each output writes
straight into that output's block, so the only full-size arrays made are the
outputs themselves.

The expressions come from :func:`derive.codegen._print_block`'s stages (fused
kernels, common subexpressions); this module turns each one into three-address
NumPy calls, reusing a work row as soon as its value is dead.  Operations it
does not know (``Piecewise``, relations, kernels) are printed whole by the
stable printer and copied into their row, so every expression can be printed.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("xb", real=True)
>>> emitted = emit_statements([], [sp.exp(-sp.Abs(x)) + 1], ["b0"], _printer())
>>> print("\\n".join(emitted.lines))
np.bitwise_or(xb.view(np.int64), _SIGN_BIT, out=b0.view(np.int64))  # b0 = -|xb|
np.exp(b0, out=b0)
np.add(b0, k0, out=b0)
>>> emitted.numbers  # k0, a 0-d array: a Python number costs a conversion per call
['1.0']
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.logic.boolalg import BooleanFunction

#: relations printed as the NumPy comparison of the same meaning (into a mask row)
RELATIONS = {
    sp.StrictGreaterThan: "greater",
    sp.GreaterThan: "greater_equal",
    sp.StrictLessThan: "less",
    sp.LessThan: "less_equal",
    sp.Eq: "equal",
    sp.Ne: "not_equal",
}

class NotAtMost(BooleanFunction):
    """not (u ≤ c): u > c for numbers, and true where u is NaN.

    The condition of Piecewise((u, u > c), (0, True)) (relu) in the code, so
    that a NaN u is kept, NaN, not made 0 (np.maximum and PyTorch propagate
    it too): its mask is the comparison u ≤ c and its select the complement
    (see _piecewise); the same operations as u > c.
    """

    @classmethod
    def eval(cls, u, c):
        return None

    def _eval_as_set(self):  # over the reals (no NaN there): u > c
        return sp.StrictGreaterThan(*self.args).as_set()


def keep_nan(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each Piecewise((u, u > c), (0, True)) of a u that is not a number kept where u is NaN.

    Examples
    --------
    >>> x = sp.Symbol("x", real=True)
    >>> keep_nan(sp.Piecewise((x, x > 0), (0, True)))
    Piecewise((x, NotAtMost(x, 0)), (0, True))
    >>> keep_nan(sp.Piecewise((1, x > 0), (0, True)))  # an indicator: 0 at NaN, as PyTorch's relu′
    Piecewise((1, x > 0), (0, True))
    """
    def rewrite(piecewise):
        (value, condition), (other, last) = piecewise.args
        if other == 0 and last == sp.true and not value.is_number and isinstance(condition, sp.StrictGreaterThan):
            return sp.Piecewise((value, NotAtMost(condition.lhs, condition.rhs)), (0, True))
        return piecewise

    return expr.replace(lambda e: isinstance(e, sp.Piecewise) and len(e.args) == 2, rewrite)


#: SymPy functions printed as the NumPy ufunc of the same meaning
UFUNCS = {
    sp.exp: "np.exp",
    sp.log: "np.log",
    log1p: "np.log1p",
    expm1: "np.expm1",
    sp.tanh: "np.tanh",
    sp.Abs: "np.abs",
    sp.sin: "np.sin",
    sp.cos: "np.cos",
    sp.atan: "np.arctan",
}


#: the functions of a _Gathered select (see _Emitter._gathered): each costs
#: more than the gather (tens of ns an element where NumPy calls libm, against
#: a few for +, × and the index)
GATHERED = frozenset({sp.tanh, log1p, expm1, sp.sin, sp.cos, sp.atan})


def _printer():
    from .codegen import StablePrinter

    return StablePrinter()


class _Emitter:
    """Three-address code with work rows ``w0, w1, …`` (float) and ``m0, …`` (bool)."""

    def __init__(self, printer, live_symbols: dict[sp.Symbol, str], integers: str = "np.int64"):
        self.printer = printer
        self.integers = integers  # the name of the integer type the bit selects view rows as
        self.lines: list[str] = []
        self.names = dict(live_symbols)  # CSE symbol → the row that holds it
        self.free_rows: list[str] = []
        self.rows = 0
        self.free_masks: list[str] = []
        self.masks = 0
        self.selects: dict[str, str] = {}  # mask row → the row of its int64 select (−[c])
        self.fews: dict[str, str] = {}  # mask row → the name of "it holds for few elements"
        self.constants: list[str] = []  # values of the constant rows c0, c1, …
        self.numbers: list[str] = []  # values of the 0-d arrays k0, k1, …

    # -- work rows ---------------------------------------------------------
    def row(self) -> str:
        if self.free_rows:
            return self.free_rows.pop()
        self.rows += 1
        return f"w{self.rows - 1}"

    def mask(self) -> str:
        if self.free_masks:
            return self.free_masks.pop()
        self.masks += 1
        return f"m{self.masks - 1}"

    def release(self, name: str) -> None:
        if name.startswith("w") and name[1:].isdigit() and name not in self.free_rows:
            self.free_rows.append(name)
        elif name.startswith("m") and name[1:].isdigit() and name not in self.free_masks:
            self.free_masks.append(name)
            for key in (name, f"{name}_not"):  # (a complement's: see _piecewise)
                self.fews.pop(key, None)
                if key in self.selects:  # its select row (see _piecewise) goes with it
                    self.release(self.selects.pop(key))

    # -- operands ----------------------------------------------------------
    def scalar(self, expr) -> str | None:
        """The name of a number's 0-d array, or a parameter (no array work), else None."""
        if expr.is_number:
            return self.number(expr)
        if isinstance(expr, sp.Symbol) and expr not in self.names and not expr.name.startswith("xb"):
            return expr.name
        return None

    def operand(self, expr) -> tuple[str, bool]:
        """(text, owned): owned rows may be overwritten by the caller; a text passes through."""
        if isinstance(expr, str):  # a row or a printed number already
            return expr, False
        text = self.scalar(expr)
        if text is not None:
            return text, False
        if type(expr).__name__ == "_NonNegative":
            # an operand of _Maximum, as 0.0/1.0 in a float row: NumPy's
            # maximum of a float and a boolean array casts (1.3 vs 0.45 ns)
            u, compare = expr.args[0], "greater_equal"
            if u.could_extract_minus_sign():  # [−u ≥ 0] = [u ≤ 0]
                u, compare = -u, "less_equal"
            arg = self.operand(u)
            row = self.row()
            self.lines.append(f"np.{compare}({arg[0]}, {self.number(0)}, out={row})")
            self.into(row, arg)
            return row, True
        if isinstance(expr, sp.Symbol):
            return self.names.get(expr, expr.name), False
        target = self.row()
        self.value(expr, target)
        return target, True

    def _named(self, value, held: list[str], prefix: str) -> str:
        """``prefix<i>``, the name of ``value`` among the values in ``held`` (added if new)."""
        text = self.printer.doprint(sp.Float(sp.N(value, 30), 17))
        if text not in held:
            held.append(text)
        return f"{prefix}{held.index(text)}"

    def number(self, value) -> str:
        """``k<i>``, a 0-d float64 array of ``value`` made once per call: a Python
        number in a ufunc call is converted on every call (1.3 µs per call, a
        tenth of a 16,000-element addition)."""
        return self._named(value, self.numbers, "k")

    def constant_row(self, number) -> str:
        """``c<i>``, a row of ``number`` (for maximum and minimum)."""
        return self._named(number, self.constants, "c")

    def named(self, item) -> bool:
        """Whether an operand is a name already (a row, a number, a symbol): no work to compute it."""
        return isinstance(item, (str, sp.Symbol)) or self.scalar(item) is not None

    def operand_in(self, item, target: str) -> tuple[str, bool]:
        """An operand (text or expression) that may be computed in ``target`` itself."""
        if self.named(item) or type(item).__name__ == "_NonNegative":
            return self.operand(item)
        self.value(item, target)
        return target, False

    def into(self, target: str, operand: tuple[str, bool]) -> None:
        """Release an operand's row unless it is the target."""
        text, owned = operand
        if owned and text != target:
            self.release(text)

    # -- expressions -------------------------------------------------------
    def fold(self, op: str, operands: Sequence, target: str) -> None:
        """target = operands[0] op operands[1] op …, left to right (texts or expressions)."""
        first = self.operand_in(operands[0], target)
        if len(operands) == 1:
            if first[0] != target:
                self.lines.append(f"{target}[...] = {first[0]}")
            return
        current = first
        for item in operands[1:]:
            operand = self.operand(item)
            if operand[0] == target:  # pragma: no cover - the target is never a later operand
                raise AssertionError(f"{target} overwritten before use")
            self.lines.append(f"np.{op}({current[0]}, {operand[0]}, out={target})")
            self.into(target, current)
            self.into(target, operand)
            current = (target, False)

    def value(self, expr, target: str) -> None:
        """Lines that leave the value of ``expr`` in the array ``target``."""
        emit = self.lines.append
        if self.scalar(expr) is not None or isinstance(expr, sp.Symbol):
            text = self.operand(expr)[0]
            if text != target:  # else: computed in its target already
                emit(f"{target}[...] = {text}")
            return
        if expr.func in UFUNCS:
            arg = self.operand_in(expr.args[0], target)
            emit(f"{UFUNCS[expr.func]}({arg[0]}, out={target})")
            self.into(target, arg)
            return
        if isinstance(expr, sp.Add):
            self._add(expr, target)
            return
        if isinstance(expr, sp.Mul):
            self._mul(expr, target)
            return
        if isinstance(expr, sp.Pow):
            self._pow(expr, target)
            return
        name = type(expr).__name__
        if name in ("_Quotient", "ratio"):  # (ratio: stabilize's a/b kept as one division)
            self.fold("divide", list(expr.args), target)
            return
        if name == "_QuietQuotient":  # a/b where inf is the value wanted (see codegen)
            numerator, denominator = (self.operand(a) for a in expr.args)
            emit("with np.errstate(divide='ignore', over='ignore'):  # a/0 = inf: its limit")
            emit(f"    np.divide({numerator[0]}, {denominator[0]}, out={target})")
            self.into(target, numerator)
            self.into(target, denominator)
            return
        if name == "_QuietProduct":  # a·c where −inf is the value wanted (see codegen)
            factor = self.operand_in(expr.args[0], target)
            constant = self.operand(expr.args[1])
            emit("with np.errstate(over='ignore'):  # a·c = ±inf: its limit")
            emit(f"    np.multiply({factor[0]}, {constant[0]}, out={target})")
            self.into(target, factor)
            self.into(target, constant)
            return
        if name == "_Sum":
            self.fold("add", list(expr.args), target)
            return
        if name == "_CompensatedSum":  # v + (hi + lo) rounded once: TwoSum of v and hi
            operands = [self.operand(a) for a in expr.args]
            (v, _), (hi, _), (lo, _) = operands
            s, bb, err = self.row(), self.row(), self.row()
            emit(f"np.add({v}, {hi}, out={s})")
            emit(f"np.subtract({s}, {v}, out={bb})")
            emit(f"np.subtract({s}, {bb}, out={err})")
            emit(f"np.subtract({v}, {err}, out={err})")  # v − (s − bb)
            emit(f"np.subtract({hi}, {bb}, out={bb})")  # hi − bb
            emit(f"np.add({err}, {bb}, out={err})")
            emit(f"np.add({err}, {lo}, out={err})")
            emit(f"np.add({s}, {err}, out={target})")
            for row in (s, bb, err):
                self.release(row)
            for operand in operands:
                self.into(target, operand)
            return
        if name == "_QuotientOverOnePlus":  # n/(a + 1) with the rounding of a + 1 folded back
            operands = [self.operand(a) for a in expr.args]
            (n, _), (a, _) = operands
            one = self.number(1)
            d, t, err = self.row(), self.row(), self.row()
            emit(f"np.add({a}, {one}, out={d})")
            emit(f"np.subtract({d}, {a}, out={t})")  # bb
            emit(f"np.subtract({d}, {t}, out={err})")
            emit(f"np.subtract({a}, {err}, out={err})")  # a − (d − bb)
            emit(f"np.subtract({one}, {t}, out={t})")  # 1 − bb
            emit(f"np.add({err}, {t}, out={err})")  # a + 1 = d + err exactly
            emit(f"np.divide({n}, {d}, out={t})")
            emit(f"np.divide({err}, {d}, out={err})")
            emit(f"np.multiply({err}, {t}, out={err})")
            emit(f"np.subtract({t}, {err}, out={target})")  # n/(d + err) = t − t·err/d
            for row in (d, t, err):
                self.release(row)
            for operand in operands:
                self.into(target, operand)
            return
        if name == "_Product":
            self.fold("multiply", list(expr.args), target)
            return
        if isinstance(expr, (sp.Max, sp.Min)):  # printed as np.maximum, np.minimum too
            name = "_Maximum" if isinstance(expr, sp.Max) else "_Minimum"
        if name == "_Clip" and not any(bound.free_symbols for bound in expr.args[1:]):
            from .codegen import _Maximum, _Minimum  # (codegen imports this module)

            clipped, low, high = expr.args  # as the printer writes it: the maximum first
            if low != -sp.oo:
                clipped = _Maximum(clipped, low)
            if high != sp.oo:
                clipped = _Minimum(clipped, high)
            self.value(clipped, target)
            return
        if name in ("_Maximum", "_Minimum"):
            # a number as a row of that number: NumPy's maximum against a
            # scalar takes a slower loop than against an array (2 vs 0.6 ns)
            operands = [self.constant_row(a) if a.is_number else a for a in expr.args]
            self.fold(name[1:].lower(), operands, target)
            return
        if name == "_CopySign":  # |a| with the sign of b
            magnitude = self.operand_in(expr.args[0], target)
            sign = self.operand(expr.args[1])
            emit(f"np.copysign({magnitude[0]}, {sign[0]}, out={target})")
            self.into(target, magnitude)
            self.into(target, sign)
            return
        if name == "_Gathered":  # f(a) where c holds, b elsewhere; f computed only where c holds
            self._gathered(expr, target)
            return
        if isinstance(expr, sp.Piecewise) and expr.args[-1][1] == sp.true:
            self._piecewise(expr, target)
            return
        # anything else (relations, kernels): printed whole
        rows = {s: sp.Symbol(self.names[s]) for s in expr.free_symbols if s in self.names}
        emit(f"{target}[...] = {self.printer.doprint(expr.xreplace(rows))}")

    # -- selects -----------------------------------------------------------
    def condition(self, condition) -> tuple[str, bool]:
        """(mask row, owned) holding ``condition``: a relation of two operands is one comparison."""
        if isinstance(condition, sp.Symbol) and condition in self.names:
            return self.names[condition], False
        row = self.mask()
        compare = RELATIONS.get(type(condition))
        logical = {sp.Or: "logical_or", sp.And: "logical_and"}.get(type(condition))
        if compare is not None and all(self.named(side) for side in condition.args):
            left, right = (self.operand(side)[0] for side in condition.args)
            self.lines.append(f"np.{compare}({left}, {right}, out={row})")
        elif compare is not None and isinstance(condition.args[0], sp.Abs) and self.named(condition.args[1]):
            # |u| < c: |u| into a row of its own (printed whole it made two arrays)
            left = self.operand(condition.args[0])
            self.lines.append(f"np.{compare}({left[0]}, {self.operand(condition.args[1])[0]}, out={row})")
            if left[1]:
                self.release(left[0])
        elif logical:
            parts = [self.condition(a) for a in sorted(condition.args, key=sp.default_sort_key)]
            first = parts[0][0]
            for other, _ in parts[1:]:
                self.lines.append(f"np.{logical}({first}, {other}, out={row})")
                first = row
            for part, owned in parts:
                if owned:
                    self.release(part)
        else:
            names = {s: sp.Symbol(self.names[s]) for s in condition.free_symbols if s in self.names}
            self.lines.append(f"{row}[...] = {self.printer.doprint(condition.xreplace(names))}")
        return row, True

    def _piecewise(self, expr: sp.Piecewise, target: str) -> None:
        """Piecewise((a₁, c₁), …, (b, True)) as selects into ``target`` that do not branch per element.

        Every branch is computed over the whole block (as ``np.where`` would);
        then each aᵢ is chosen where cᵢ holds.  Where cᵢ holds for few
        elements of the block (at most 1/16: a saturated tail, say), by
        ``np.copyto(where=)``, which skips runs of False (2 µs per 16,000);
        elsewhere by bits, with s = −[c] as int64 (all ones or all zeros):
        b ^ ((a ^ b) & s), or a & s where b is 0 (about 20 µs per 16,000, what
        the mask looks like notwithstanding).  np.where branches per element:
        about 50 µs per 16,000 on a mask of mixed signs, such as relu's.  The
        bits are np.where's.
        """
        *pieces, (default, _) = expr.args
        zero = default.is_number and default == 0 and len(pieces) == 1
        branch = pieces[0][0] if len(pieces) == 1 else None
        if branch is not None and branch.is_number and default.is_number and 0 in (branch, default) \
                and (branch + default).is_positive:
            # k·[c] or k·[not c] for k > 0: 1.0 and 0.0 copied from the mask, times k
            # (exact, and +0.0 where the branch is 0; a negative k would make −0.0)
            mask, owned = self.condition(pieces[0][1])
            if branch == 0:
                negated = self.mask()
                self.lines.append(f"np.logical_not({mask}, out={negated})")
                if owned:
                    self.release(mask)
                mask, owned = negated, True
            self.lines.append(f"np.copyto({target}, {mask})")
            if owned:
                self.release(mask)
            k = branch if branch != 0 else default
            if k != 1:
                self.lines.append(f"np.multiply({target}, {self.number(k)}, out={target})")
            return
        if not zero:
            self.value(default, target)
        for branch, condition in reversed(pieces):
            complement = isinstance(condition, NotAtMost)  # kept where the mask u ≤ c is false
            if complement:
                condition = sp.LessThan(*condition.args)
            mask, owned = self.condition(condition)
            chosen = self._row_of(branch)
            key = f"{mask}_not" if complement else mask
            few = self.fews.get(key)
            if few is None:
                few = self.fews[key] = f"few_{key}"
                kept = f"({mask}.size - np.count_nonzero({mask}))" if complement else f"np.count_nonzero({mask})"
                self.lines.append(f"{few} = {kept} * 16 <= {mask}.size")
            masked = ([f"{target}[...] = {self.number(0)}"] if zero else []) + \
                [f"np.copyto({target}, {chosen[0]}, where={'~' if complement else ''}{mask})"]
            bitwise = []
            select = self.selects.get(key)
            if select is None:  # made in the first bitwise branch on this mask, kept for the others
                select = self.selects[key] = self.row()
                # the mask's bytes as int8 0/1, negated and widened: 4.5 µs per 16,000,
                # where negating the bool mask with dtype=int64 took 7.6 (for the
                # complement, 0/1 less 1: all ones where the mask is 0)
                bitwise.append(f"np.subtract({mask}.view(np.int8), 1, out={select}.view({self.integers}))"
                               if complement else
                               f"np.negative({mask}.view(np.int8), out={select}.view({self.integers}))")
            view = f".view({self.integers})"
            bits = f"{select}{view}"
            if zero:
                bitwise.append(f"np.bitwise_and({chosen[0]}{view}, {bits}, out={target}{view})")
            else:
                differ = self.row()
                other = f"{differ}{view}"
                bitwise += [f"np.bitwise_xor({chosen[0]}{view}, {target}{view}, out={other})",
                            f"np.bitwise_and({other}, {bits}, out={other})",
                            f"np.bitwise_xor({target}{view}, {other}, out={target}{view})"]
                self.release(differ)
            self.lines += [f"if {few}:"] + ["    " + line for line in masked] + \
                ["else:"] + ["    " + line for line in bitwise]
            self.into(target, chosen)
            if owned:  # a condition of its own: its mask and select rows are free now
                self.release(mask)

    def _gathered(self, expr, target: str) -> None:
        """_Gathered(f(a), c, b) (see derive.codegen): b, and f(a) where c holds, f a ufunc of GATHERED.

        b is computed over the whole block, a too (the argument of f: cheap
        operations, |u| say); where c holds for at most half of the block,
        its elements are gathered (np.flatnonzero, 0.6 ns an element), f is
        computed on them alone and scattered into the target; elsewhere f is
        computed by the ufunc's ``where=`` into the target.  Either way f
        never sees an element where c fails (it may overflow there), and the
        values are the same (f is elementwise).  tanh on 14 % of a block of
        N(0, 3²) took 3 ms per 1e6 elements where the whole block took 13.5
        (AMD EPYC, scalar tanh).
        """
        branch, condition, default = expr.args
        if branch.func not in GATHERED:  # pragma: no cover - made only by codegen, for these
            raise ValueError(f"_Gathered: {branch.func} is not one of {sorted(map(str, GATHERED))}")
        self.value(default, target)
        mask, owned = self.condition(condition)
        argument = self.operand(branch.args[0])
        ufunc, taken = UFUNCS[branch.func], f"at_{mask}"
        self.lines += [
            f"if np.count_nonzero({mask}) * 2 <= {mask}.size:  # {ufunc} only where it is taken",
            f"    {taken} = np.flatnonzero({mask})",
            f"    {target}[{taken}] = {ufunc}({argument[0]}[{taken}])",
            "else:",
            f"    {ufunc}({argument[0]}, out={target}, where={mask})",
        ]
        self.into(target, argument)
        if owned:
            self.release(mask)

    def _row_of(self, expr) -> tuple[str, bool]:
        """An array holding ``expr`` (a number as a constant row, a parameter in a row of its own)."""
        if expr.is_number:
            return self.constant_row(expr), False
        operand = self.operand(expr)
        if self.scalar(expr) is not None:  # a parameter: a Python number
            row = self.row()
            self.lines.append(f"{row}[...] = {operand[0]}")
            return row, True
        return operand

    def _add(self, expr, target: str) -> None:
        constant, terms = expr.as_coeff_add()
        positive = [t for t in terms if not t.could_extract_minus_sign()]
        negative = [-t for t in terms if t.could_extract_minus_sign()]
        tail = [self.scalar(constant)] if constant else []
        if len(positive) == 1 and negative and not tail and self.named(positive[0]):
            # a − b − …: a held already is not copied into the target first
            self.fold("subtract", positive + [negative.pop(0)], target)
        elif positive:
            self.fold("add", positive + tail, target)
        elif tail:  # c − u − …: subtracted from the number, not negated and added
            if not self.named(negative[0]):
                self.value(negative.pop(0), target)  # u in the target itself, then c − u there
                self.lines.append(f"np.subtract({tail[0]}, {target}, out={target})")
            else:
                self.fold("subtract", tail + [negative.pop(0)], target)
        else:
            self.value(-negative.pop(0), target)
            if tail:
                self.fold("add", [target] + tail, target)
        if negative:
            self.fold("subtract", [target] + negative, target)

    def _mul(self, expr, target: str) -> None:
        coefficient, factors = expr.as_coeff_mul()
        numerator = [f for f in factors if not (f.is_Pow and f.exp.is_number and f.exp < 0)]
        denominator = []
        for f in factors:
            if f not in numerator:  # u/v**n as u/v/v…: v**n can overflow where u/v/v does not
                base, power = (1 / f).as_base_exp()
                repeat = int(power) if power.is_Integer and 1 < power <= 3 else 1
                denominator += [base] * repeat if repeat > 1 else [1 / f]
        negate = coefficient == -1
        scalars = [] if abs(coefficient) == 1 else [self.scalar(coefficient)]
        operands = numerator + scalars
        if not numerator:  # c/(u·…): 1/u is Pow, so here c ≠ ±1 or several factors
            operands, negate = [self.scalar(coefficient if scalars else abs(coefficient))], negate and not scalars
        if negate and len(operands) == 1 and not denominator and isinstance(operands[0], sp.Abs):
            # −|u| in one pass instead of two: set the sign bit of u's float64s
            operand = self.operand_in(operands[0].args[0], target)
            self.lines.append(f"np.bitwise_or({operand[0]}.view(np.int64), _SIGN_BIT, "
                              f"out={target}.view(np.int64))  # {target} = -|{operand[0]}|")
            self.into(target, operand)
            return
        if negate and len(operands) == 1 and not denominator:
            operand = self.operand_in(operands[0], target)
            self.lines.append(f"np.negative({operand[0]}, out={target})")
            self.into(target, operand)
            return
        if len(operands) > 1 or not denominator:
            self.fold("multiply", operands, target)
            operands = [target]
        held = []
        for base in dict.fromkeys(denominator):  # v of u/v/v computed once, into a row
            if denominator.count(base) > 1 and not self.named(base):
                held.append(self.operand(base))
                denominator = [held[-1][0] if d == base else d for d in denominator]
        self.fold("divide", operands + denominator, target)
        for operand in held:
            self.into(target, operand)
        if negate:
            self.lines.append(f"np.negative({target}, out={target})")

    def _pow(self, expr, target: str) -> None:
        emit = self.lines.append
        base, exponent = expr.as_base_exp()
        operand = self.operand(base)
        if exponent == 2:
            emit(f"np.square({operand[0]}, out={target})")
        elif exponent == 3:
            emit(f"np.square({operand[0]}, out={target})")
            emit(f"np.multiply({target}, {operand[0]}, out={target})")
        elif exponent == sp.S.Half:
            emit(f"np.sqrt({operand[0]}, out={target})")
        elif exponent == -1:
            emit(f"np.divide({self.number(1)}, {operand[0]}, out={target})")
        elif exponent.is_Integer and exponent < 0:
            # (1/u)**n: underflows quietly where 1/u**n would overflow first
            emit(f"np.divide({self.number(1)}, {operand[0]}, out={target})")
            emit(f"np.power({target}, {-int(exponent)}, out={target})")
        else:
            emit(f"np.power({operand[0]}, {self.printer.doprint(exponent)}, out={target})")
        self.into(target, operand)


def _uses(expr, symbol) -> int:
    return sum(1 for node in sp.preorder_traversal(expr) if node == symbol)


class Emitted(NamedTuple):
    """The in-place statements and what they need made before the loop."""

    lines: list[str]  #: the statements
    rows: int  #: float work rows w0, w1, … they use
    masks: int  #: boolean work rows m0, m1, …
    constants: list[str]  #: values of the constant rows c0, c1, …
    numbers: list[str]  #: values of the 0-d arrays k0, k1, …


def emit_statements(replacements: Sequence[tuple[sp.Symbol, sp.Expr]], outputs: Sequence[sp.Expr],
                    targets: Sequence[str], printer, after: Emitted | None = None,
                    integers: str = "np.int64") -> Emitted:
    """In-place lines computing the CSE ``replacements`` and then each output into its target.

    A row is reused once the symbol it holds has no later use.  Numbers are
    0-d arrays ``k0, k1, …``, except as operands of maximum and minimum, which
    get rows ``c0, c1, …`` of that number (NumPy's maximum against a 0-d
    array or a scalar takes a slower loop: 1.8 against 0.5 ns per element).
    With ``after`` (the statements of another variant of the same loop), the
    numbers and constant rows it named keep their names, so that both
    variants can share one set.  ``integers`` names the signed integer type,
    as wide as the rows' floats, that a select by bits views them as ("bits",
    a name the function binds, for one that works in its input's own type).
    """
    emitter = _Emitter(printer, {}, integers)
    if after is not None:
        emitter.constants, emitter.numbers = list(after.constants), list(after.numbers)
    later = list(replacements) + [(None, o) for o in outputs]
    # an output that is a shared value itself is computed in its target, not copied there
    in_target = {}
    for expr, target in zip(outputs, targets):
        if isinstance(expr, sp.Symbol) and expr not in in_target:
            in_target[expr] = target
    for index, (symbol, expr) in enumerate(replacements):
        if isinstance(expr, sp.logic.boolalg.Boolean):  # a condition: a boolean row
            row, _ = emitter.condition(expr)
        else:
            row = in_target.get(symbol) or emitter.row()
            emitter.value(expr, row)
        emitter.names[symbol] = row
        _free_dead(emitter, later[index + 1:], replacements[:index + 1])
    for index, (expr, target) in enumerate(zip(outputs, targets)):
        emitter.value(expr, target)
        _free_dead(emitter, [(None, o) for o in outputs[index + 1:]], replacements)
    return Emitted(emitter.lines, emitter.rows, emitter.masks, emitter.constants, emitter.numbers)


def _free_dead(emitter: _Emitter, rest, defined) -> None:
    """Release the rows of the symbols that nothing in ``rest`` uses any more."""
    for symbol, _ in defined:
        if symbol in emitter.names and not any(_uses(e, symbol) for _, e in rest):
            emitter.release(emitter.names.pop(symbol))


__all__ = ["emit_statements", "Emitted", "UFUNCS"]
