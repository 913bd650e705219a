"""``.. accuracy-table::``: nnderive against naive SymPy code and SciPy, measured at build time.

For each function and input the table shows the true value (mpmath, with as
many digits as it takes; :func:`derive.verify.reference`) and, for each
implementation, the float64 result and its error in ULPs:

* *naive SymPy*: ``sympy.lambdify(x, definition, "numpy")`` of the plain
  textbook definition (and of ``sympy.diff`` of it for the derivatives);
* *SciPy*: ``scipy.special.expit``, ``softplus``, ``log_expit`` (no
  derivatives there);
* *PyTorch*: ``torch.sigmoid``, ``torch.nn.functional.softplus`` (whose
  default switches to x above 20), ``logsigmoid`` and autograd for the
  derivatives, only when torch is installed where the docs are built;
* *nnderive*: ``numeric.NAME`` and ``numeric.NAME_grad``.

Options: ``:functions:`` (names, default ``sigmoid softplus log_sigmoid``) and
``:points:`` (default ``-750 -710 -40 40 710 750``).
"""

from __future__ import annotations

import math
import traceback
import warnings
from typing import Any, Callable

import numpy as np
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

DEFAULT_FUNCTIONS = ("sigmoid", "softplus", "log_sigmoid")
DEFAULT_POINTS = (-750.0, -710.0, -40.0, 40.0, 710.0, 750.0)


def _scipy(name: str, derivative: bool) -> Callable | None:
    import scipy.special as special

    if derivative:
        return None
    return {"sigmoid": special.expit, "softplus": getattr(special, "softplus", None),
            "log_sigmoid": special.log_expit}.get(name)


def _torch(name: str, derivative: bool) -> Callable | None:
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    forward = {"sigmoid": torch.sigmoid, "softplus": F.softplus,
               "log_sigmoid": F.logsigmoid}.get(name)
    if forward is None:
        return None

    def run(x: float) -> float:
        t = torch.tensor(x, dtype=torch.float64, requires_grad=derivative)
        y = forward(t)
        if not derivative:
            return float(y)
        y.backward()
        return float(t.grad)

    return run


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _call(fn: Callable, x: float) -> tuple[float, bool]:
    """fn(x) and whether NumPy warned (overflow, invalid, division by zero;
    underflow to a subnormal or 0 is how float64 works and is not reported)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(over="warn", invalid="warn", divide="warn", under="ignore"):
            value = float(np.asarray(fn(np.float64(x))))
    return value, bool(caught)


def _cell(fn: Callable, x: float, reference: Any) -> str:
    from numeric.accuracy import ulp_error

    value, warned = _call(fn, x)
    error = ulp_error(value, reference)
    shown = f"{value:.6g}"
    if math.isinf(error):
        verdict = "**wrong**"
    elif error > 4:  # beyond the bound nnderive holds itself to
        verdict = f"**{error:.2g} ULP**"
    else:
        verdict = f"{error:.2g} ULP" if error >= 0.005 else "0 ULP"
    return f"``{shown}`` {verdict}" + (" (warning)" if warned else "")


def measure(functions=DEFAULT_FUNCTIONS, points=DEFAULT_POINTS
            ) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the table."""
    import mpmath
    import sympy as sp

    import numeric
    from derive.catalogue import get
    from derive.verify import reference

    with_torch = torch_available()
    header = ["function", "x", "true value", "naive SymPy", "SciPy"]
    header += ["PyTorch"] if with_torch else []
    header += ["nnderive"]
    rows = []
    for derivative in (False, True):
        for name in functions:
            entry = get(name)
            x = entry.variable
            expr = sp.diff(entry.definition, x) if derivative else entry.definition
            naive = sp.lambdify(x, expr, "numpy")
            exact = sp.lambdify(x, expr, "mpmath")
            ours = getattr(numeric, name + ("_grad" if derivative else ""))
            scipy_fn = _scipy(name, derivative)
            torch_fn = _torch(name, derivative) if with_torch else None
            label = f"``{name}{chr(39) if derivative else ''}``"
            for point in points:
                ref = reference(exact, [point])
                row = [label, f"{point:g}", f"``{mpmath.nstr(ref, 8)}``"]
                row.append(_cell(naive, point, ref))
                row.append(_cell(scipy_fn, point, ref) if scipy_fn else "—")
                if with_torch:
                    row.append(_cell(torch_fn, point, ref) if torch_fn else "—")
                row.append(_cell(ours, point, ref))
                rows.append(row)
    return header, rows


class AccuracyTable(SphinxDirective):
    option_spec = {"functions": str, "points": str}

    def run(self) -> list[nodes.Node]:
        from derive.sphinxext import _package_files

        for path in _package_files():
            self.env.note_dependency(str(path))
        functions = tuple(self.options.get("functions", " ".join(DEFAULT_FUNCTIONS)).split())
        points = tuple(float(p) for p in self.options.get(
            "points", " ".join(str(p) for p in DEFAULT_POINTS)).split())
        try:
            header, rows = measure(functions, points)
        except Exception:
            raise self.error(f"accuracy-table: failed\n{traceback.format_exc()}") from None
        lines = [".. list-table::", "   :header-rows: 1", ""]
        for row in [header, *rows]:
            lines.append(f"   * - {row[0]}")
            lines += [f"     - {cell}" for cell in row[1:]]
        container = nodes.container(classes=["accuracy-table"])
        self.state.nested_parse(StringList(lines, source="<accuracy-table>"), self.content_offset,
                                container)
        return container.children


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("accuracy-table", AccuracyTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
