r"""A Sphinx extension that renders catalogue derivations when the docs are built.

Add ``"derive.sphinxext"`` to ``extensions`` in a project's ``conf.py`` and
write, in any reST page::

    .. derivation:: sigmoid
       :steps:
       :plot:
       :code:
       :certificate:

The directive always prints the definition, the textbook derivative (with how
it was proven equal to SymPy's own derivative), the parameters and the
conventions at kinks; each option adds one part:

``:steps:``
    the step-by-step derivation of :func:`derive.steps.catalogue_steps`, every
    step with the way it was verified;
``:plot:``
    the function and its derivative, drawn with matplotlib at build time
    (through matplotlib's ``plot`` directive, which this extension loads);
``:code:``
    the NumPy source that :mod:`derive.codegen` generates for the entry, and
    the stable kernels it calls;
``:certificate:``
    the verification certificate of :func:`derive.verify.certify`: worst
    error in ULPs against mpmath and where, float32, and the finite-difference
    gradient check;
``:reference:``
    where the function comes from;
``:no-summary:``
    leave out the definition and derivative (for a page that shows the parts
    under headings of its own);
``:no-headings:``
    leave out the small heading above each part;
``:no-conventions:``
    leave the conventions out of the summary (for a page that states them
    under a heading of its own);
``:points: N``
    the grid size of this directive's certificate.

Nothing is written by hand: the page is made from :mod:`derive.catalogue` by
the same functions the command line and the tests call, so it cannot drift
from the code.  Every page that uses the directive depends on the source files
of :mod:`derive` and :mod:`numeric`; an incremental build rebuilds it when one
of them changes.

The directive ``.. catalogue-table::`` (option ``:kind:``) lists the catalogue
entries in a table, linked to their reference pages when the project has
them (``nnderive_reference_dir``).

Configuration values (``conf.py``)
----------------------------------
``nnderive_certificate_points`` (default 400)
    size of the grid a certificate is measured on.  ``nnderive verify`` uses
    3000 points; a docs build uses fewer to stay fast, and the page says how
    many.
``nnderive_cache`` (default True)
    keep certificates in the build's doctree directory, keyed by a hash of
    every source file of :mod:`derive` and :mod:`numeric`, so a rebuild
    measures only after the code changed.
``nnderive_parallel`` (default 0)
    when positive, the certificates of the whole catalogue are measured at the
    start of the build in that many worker processes (-1: one per CPU).
``nnderive_reference_dir`` (default "")
    when set (e.g. ``"reference/functions"``), a page per catalogue entry and
    an index are written there at the start of the build; files are rewritten
    only when their text changes.

The functions that make the reST need no Sphinx:

>>> print(definition_latex("relu"))
\operatorname{relu}(x) = \begin{cases} x & \text{for}\: x > 0 \\0 & \text{otherwise} \end{cases}
>>> print(derivative_latex("softplus"))
\frac{d}{dx} \operatorname{softplus}(x) = \sigma\left(x\right)
>>> text = derivation_rst("relu", steps=True)
>>> ".. math::" in text and "piecewise rule" in text
True
>>> rst_escape("|x| * 2_")
'\\|x\\| \\* 2\\_'
"""

from __future__ import annotations

import hashlib
import inspect
import os
import pickle
import re
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import sympy as sp

from .catalogue import ENTRIES, Entry, get

__all__ = [
    "setup",
    "definition_latex",
    "derivative_latex",
    "derivation_rst",
    "summary_rst",
    "steps_rst",
    "code_rst",
    "certificate_rst",
    "plot_rst",
    "plot_data",
    "plot_function",
    "reference_page",
    "write_reference_pages",
    "catalogue_table_rst",
    "rules_table_rst",
    "certificate_table_rst",
    "network_rst",
    "certificate",
    "code_hash",
    "rst_escape",
    "DEFAULT_POINTS",
]

#: grid size of the certificates shown in the docs (``nnderive verify`` uses 3000)
DEFAULT_POINTS = 400

_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "lambda", "mu", "sigma", "tau",
          "theta", "phi", "psi", "omega", "kappa", "rho", "eta", "zeta", "nu", "xi", "chi"}


# ---------------------------------------------------------------- LaTeX


def rst_escape(text: str) -> str:
    r"""Escape the characters that reST would read as markup (``*``, ``|``, ``_`` …)."""
    out = []
    for c in text:
        out.append("\\" + c if c in "\\*`|_[]<>" else c)
    return "".join(out)


def _latex(expr: sp.Basic) -> str:
    """LaTeX of an expression; multi-letter parameter names print upright."""
    names = {s: rf"\mathrm{{{s.name}}}" for s in expr.free_symbols
             if isinstance(s, sp.Symbol) and len(s.name) > 1 and s.name not in _GREEK
             and s.name != "yhat" and not s.name[-1].isdigit()}
    return sp.latex(expr, symbol_names=names)


def _operator(name: str) -> str:
    if name == "sigmoid":
        return r"\sigma"
    return r"\operatorname{" + name.replace("_", r"\_") + "}"


def _lhs(entry: Entry) -> str:
    if entry.kind == "activation":
        return rf"{_operator(entry.name)}(x)"
    if entry.kind == "vector_map":
        return rf"{_operator(entry.name)}(z)"
    return r"\ell(\hat{y}, y)"


def definition_latex(name: str) -> str:
    """The entry's definition as one LaTeX equation, ``f(x) = …``."""
    entry = get(name)
    return f"{_lhs(entry)} = {_latex(entry.definition)}"


def derivative_latex(name: str) -> str:
    """The textbook derivative as one LaTeX equation (a VJP for vector maps)."""
    from .calculus import derive

    entry = get(name)
    textbook = _latex(derive(name).textbook)
    if entry.kind == "activation":
        return rf"\frac{{d}}{{dx}} {_lhs(entry)} = {textbook}"
    if entry.kind == "vector_map":
        return rf"g^{{\top}} J = {textbook}"
    return rf"\frac{{\partial L}}{{\partial \hat{{y}}}} = {textbook}"


def _math(latex: str, indent: str = "") -> list[str]:
    return [f"{indent}.. math::", "", f"{indent}   {latex}", ""]


def _rubric(title: str, headings: bool) -> list[str]:
    return [f".. rubric:: {title}", ""] if headings else []


# ---------------------------------------------------------------- parts


def summary_rst(name: str, conventions: bool = True) -> list[str]:
    """Definition, derivative, proof, parameters and conventions as reST lines."""
    from .calculus import derive

    entry = get(name)
    d = derive(name)
    lines = [rst_escape(entry.summary[0].upper() + entry.summary[1:]) + ".", ""]
    lines += _math(definition_latex(name))
    if entry.kind == "vector_map":
        lines += ["over the last axis (Σ sums the components of one row); backpropagation "
                  "needs the vector–Jacobian product with the upstream gradient *g*:", ""]
    elif entry.kind == "loss":
        over = "rows" if entry.reduction == "mean_rows" else "elements"
        lines += [f"The loss is the mean :math:`L = \\frac{{1}}{{N}} \\sum \\ell` over the "
                  f"{over} (*N* of them); its gradient with respect to the prediction:", ""]
    else:
        lines += ["Its derivative, in the form a textbook prints:", ""]
    lines += _math(derivative_latex(name))
    lines += [f"Proven equal to SymPy's own derivative of the definition "
              f"({rst_escape(str(d.proof))}); the generated code is proven equal to "
              f"both ({rst_escape(str(d.code_proof))}).", ""]
    if entry.params:
        lines += ["Parameters:", ""]
        for p in entry.params:
            lines.append(f"- :math:`{_latex(p.symbol)}` = ``{float(p.default)!r}``: "
                         f"{rst_escape(p.meaning)}")
        lines.append("")
    if entry.conventions and conventions:
        lines += [f"Convention: {rst_escape(entry.conventions)}.", ""]
    return lines


def _step_latex(expr: sp.Basic) -> str:
    try:  # the step printer orders terms the way a textbook does
        from .steps import _latex as steps_latex
    except ImportError:  # pragma: no cover - derive.steps without its printer
        return _latex(expr)
    return steps_latex(expr)


def steps_rst(name: str) -> list[str]:
    """The verified step-by-step derivation as a numbered list."""
    from .steps import catalogue_steps

    derivation = catalogue_steps(name)
    lines: list[str] = []
    lhs = None
    for number, step in enumerate(derivation.steps, 1):
        head = ""
        if step.lhs != lhs:
            lhs = step.lhs
            head = _step_latex(lhs) + " "
        marker = f"{number}. "
        lines.append(f"{marker}{rst_escape(step.justification)} "
                     f"(verified: {rst_escape(step.verified_by)})")
        lines.append("")
        lines += _math(f"{head}= {_step_latex(step.current)}", indent=" " * len(marker))
    for note in derivation.notes:
        lines += [rst_escape(note), ""]
    if not derivation.complete:
        lines += ["Some steps fell back to SymPy's own ``diff`` (rule \"sympy\").", ""]
    return lines


def code_rst(name: str) -> list[str]:
    """The generated NumPy functions of the entry, and the kernels they call."""
    from numeric import _kernels

    from .codegen import HEADER, entry_source

    source, kernels = entry_source(get(name))
    lines = [f"What ``nnderive codegen {name}`` writes for this entry (the file starts "
             f"with the header ``{HEADER}``):", "", ".. code-block:: python", ""]
    lines += [f"   {line}" if line else "" for line in source.splitlines()]
    lines.append("")
    if kernels:
        lines += ["The stable kernels it calls (copied into a standalone module; in the "
                  "package they live in ``numeric._kernels``):", "", ".. code-block:: python", ""]
        for kernel in sorted(kernels):
            text = inspect.getsource(getattr(_kernels, kernel))
            text = text.replace(f"def {kernel}(", f"def _{kernel}(", 1)
            lines += [f"   {line}" if line else "" for line in text.rstrip().splitlines()]
            lines.append("")
    return lines


def _input(text: str) -> str:
    """A worst-input string without NumPy's scalar wrappers: ``x=-19.5``."""
    return re.sub(r"np\.float(?:64|32)\(([^)]*)\)", r"\1", text)


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if not np.isfinite(value):
        return str(value)
    return f"{value:.3g}"


def _by_rows(cert: Any) -> bool:
    """Whether the certificate's screen was of rows (a vector map or a loss over rows)."""
    from .verify import screen_group

    return screen_group(cert) in ("row losses", "vector maps")


def certificate_rst(cert: Any, points: int) -> list[str]:
    """A certificate (:class:`derive.verify.Certificate`) as a table and a verdict."""
    from .verify import STATED_EXCEPTIONS

    rows = [("function", "max error (ULP)", "worst input", "float32 max error (ULP)")]
    f32 = {m.function.replace(" (float32)", ""): m for m in cert.float32}
    for m in (cert.forward, cert.derivative):
        m32 = f32.get(m.function)
        rows.append((f"``{m.function}``", _fmt(m.max_ulp), f"``{_input(m.worst_input)}``",
                     _fmt(m32.max_ulp) if m32 is not None else "—"))
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in rows:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    lines.append("")
    check = cert.gradient_check
    lines += [
        f"Reference: the plain definition and SymPy's derivative of it, evaluated with "
        f"mpmath at 50 digits or more, on a grid of {cert.forward.points} inputs "
        f"(``nnderive_certificate_points = {points}``; ``nnderive verify {cert.name}`` "
        f"measures the full grid) including the float64 tails"
        + (f", and the worst {'rows' if _by_rows(cert) else 'points'} of a "
           f"{cert.screened:,}-{'row' if _by_rows(cert) else 'point'} screen"
           f"{' per target' if cert.kind == 'loss' and not _by_rows(cert) else ''} against the "
           f"definition in long double" if getattr(cert, "screened", 0) else "") + ".",
        "",
        f"Gradient check: finite differences of the generated function agree with the "
        f"generated derivative to a relative error of {_fmt(check.max_relative_error)} "
        f"(worst at ``{_input(check.worst_input)}``) over {check.points} points"
        + (f"; {check.skipped_kinks} points next to kinks skipped" if check.skipped_kinks else "")
        + (f"; {check.unresolvable} points where finite differences cannot resolve the "
           f"derivative left out" if check.unresolvable else "") + ".",
        "",
    ]
    near = cert.forward.near_zero_points + cert.derivative.near_zero_points
    if near:
        lines += [f"{near} inputs lie next to an interior zero, where relative error means "
                  f"nothing; there the absolute error was checked instead.", ""]
    stated = [e for e in cert.exceptions if "stated exception" in e]
    if cert.passed and stated:
        lines += ["**Status: passed with a stated exception** (no spurious inf/NaN, no warnings; "
                  "errors above 4 ULP, within the bound stated in the README):", ""]
        lines += [f"- ``{_input(e)}``" for e in stated]
        lines.append("")
    elif cert.passed and cert.name in STATED_EXCEPTIONS:
        lines += ["**Status: passed** (every error on this grid within 4 ULP, no spurious "
                  "inf/NaN, no warnings). Denser scans (``benchmarks/dense_scan.py``) find "
                  f"errors above 4 ULP elsewhere, so it is held to a stated bound of "
                  f"{STATED_EXCEPTIONS[cert.name]:g} ULP (see the README).", ""]
    elif cert.passed:
        lines += ["**Status: passed** (every error within 4 ULP, no spurious inf/NaN, "
                  "no warnings).", ""]
    else:
        lines += ["**Status: exceptions measured**:", ""]
        lines += [f"- ``{_input(e)}``" for e in cert.exceptions] or ["- (see ``nnderive verify``)"]
        lines.append("")
    return lines


def plot_rst(name: str) -> list[str]:
    """A matplotlib ``plot`` directive drawing the entry and its derivative."""
    entry = get(name)
    alt = f"plot of {name} and its derivative"
    if entry.kind == "loss":
        alt = f"plot of the {name} loss and its gradient"
    return [".. plot::", f"   :alt: {alt}", "",
            "   from derive.sphinxext import plot_function",
            f"   plot_function({name!r})", ""]


def derivation_rst(name: str, *, summary: bool = True, steps: bool = False,
                   plot: bool = False, code: bool = False, certificate: bool = False,
                   reference: bool = False, headings: bool = True, conventions: bool = True,
                   points: int = DEFAULT_POINTS, cache_dir: str | os.PathLike | None = None
                   ) -> str:
    """The reST the ``derivation`` directive renders for the entry ``name``."""
    get(name)  # an unknown name fails here, with the close names suggested
    lines: list[str] = []
    if summary:
        lines += summary_rst(name, conventions)
    if steps:
        lines += _rubric("Step by step", headings) + steps_rst(name)
    if plot:
        lines += _rubric("Plot", headings) + plot_rst(name)
    if code:
        lines += _rubric("Generated NumPy code", headings) + code_rst(name)
    if certificate:
        cert = _certificate(name, points, cache_dir)
        lines += _rubric("Verification certificate", headings) + certificate_rst(cert, points)
    if reference:
        entry = get(name)
        lines += _rubric("Reference", headings) + [rst_escape(entry.reference or "—"), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- plots


def plot_data(name: str, n: int = 801) -> dict[str, Any]:
    """The curves of :func:`plot_function`: inputs, f, its derivative and labels.

    Activations are drawn on [-5, 5]; a vector map as its first component
    with the other logits 0; a loss against the prediction for one fixed
    target (stated in the labels), with N = 1.

    >>> data = plot_data("relu", n=5)
    >>> data["x"].tolist(), data["f"].tolist(), data["df"].tolist()
    ([-5.0, -2.5, 0.0, 2.5, 5.0], [0.0, 0.0, 0.0, 2.5, 5.0], [0.0, 0.0, 0.0, 1.0, 1.0])
    """
    import numeric

    entry = get(name)
    f = getattr(numeric, name)
    if entry.kind == "activation":
        x = np.linspace(-5.0, 5.0, n)
        df = getattr(numeric, name + "_grad")
        return {"x": x, "f": f(x), "df": df(x), "xlabel": "x",
                "flabel": f"{name}(x)", "dflabel": f"{name}'(x)"}
    if entry.kind == "vector_map":
        x = np.linspace(-6.0, 6.0, n)
        z = np.zeros((n, 3))
        z[:, 0] = x
        g = np.zeros_like(z)
        g[:, 0] = 1.0
        vjp = getattr(numeric, name + "_vjp")
        return {"x": x, "f": f(z)[:, 0], "df": vjp(z, g)[:, 0], "xlabel": "z₁ (z₂ = z₃ = 0)",
                "flabel": f"{name}(z)₁", "dflabel": f"∂{name}(z)₁/∂z₁"}
    grad = getattr(numeric, name + "_grad")
    t = {"hinge": 1.0, "binary_cross_entropy": 1.0,
         "binary_cross_entropy_with_logits": 1.0}.get(name, 0.0)
    if entry.reduction == "mean_rows":
        if entry.domain == (0.0, 1.0):
            x = np.linspace(0.01, 0.99, n)
            rows = np.stack([x, 1 - x], axis=1)
        else:
            x = np.linspace(-6.0, 6.0, n)
            rows = np.stack([x, np.zeros_like(x)], axis=1)
        target = np.array([0.3, 0.7]) if name == "kl_divergence" else np.array([1.0, 0.0])
        values = [float(f(r[None, :], target[None, :])) for r in rows]
        grads = [float(grad(r[None, :], target[None, :])[0, 0]) for r in rows]
        first = "p" if entry.domain == (0.0, 1.0) else "z"
        label = f"ŷ = ({first}, {'1 − p' if first == 'p' else '0'}), y = {tuple(target.tolist())}"
        return {"x": x, "f": np.array(values), "df": np.array(grads),
                "xlabel": f"{first}  ({label})",
                "flabel": "L", "dflabel": "∂L/∂ŷ₁"}
    x = np.linspace(0.01, 0.99, n) if entry.domain == (0.0, 1.0) else (
        np.linspace(-6.0, 6.0, n) if "logits" in name else np.linspace(-3.0, 3.0, n))
    values = [float(f(np.array([v]), np.array([t]))) for v in x]
    grads = [float(grad(np.array([v]), np.array([t]))[0]) for v in x]
    return {"x": x, "f": np.array(values), "df": np.array(grads), "xlabel": f"ŷ  (y = {t:g})",
            "flabel": "L", "dflabel": "∂L/∂ŷ"}


def plot_function(name: str, ax: Any = None) -> Any:
    """Draw an entry and its derivative with matplotlib; returns the axes.

    The derivative is drawn dashed and broken where it jumps; at a kink the
    value the convention gives (relu'(0) = 0, …) is marked with a dot.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    data = plot_data(name)
    x, f, df = data["x"], data["f"], data["df"]
    jumps = np.abs(np.diff(df)) > 20 * (np.nanmedian(np.abs(np.diff(df))) + 1e-3)
    df_line = df.copy()
    df_line[1:][jumps] = np.nan
    ax.axhline(0, color="0.85", lw=0.8)
    ax.axvline(0, color="0.85", lw=0.8)
    ax.plot(x, f, lw=2, label=data["flabel"])
    ax.plot(x, df_line, "--", lw=2, label=data["dflabel"])
    entry = get(name)
    if entry.kind == "activation":
        import numeric

        grad = getattr(numeric, name + "_grad")
        for k in entry.kinks:
            ax.plot([k], [float(grad(np.array([k]))[0])], "o", color="C1", ms=5)
    finite = np.concatenate([f[np.isfinite(f)], df[np.isfinite(df)]])
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo > 12:
        ax.set_ylim(max(lo, -6), min(hi, 6))
    ax.set_xlabel(data["xlabel"])
    ax.grid(alpha=0.3)
    ax.legend(loc="best", frameon=False)
    ax.set_title(name)
    return ax


# ---------------------------------------------------------------- certificates


def _package_files() -> list[Path]:
    import numeric

    here = Path(__file__).resolve().parent
    there = Path(numeric.__file__).resolve().parent
    return sorted([*here.glob("*.py"), *there.glob("*.py")])


@lru_cache(maxsize=None)
def code_hash() -> str:
    """A hash of every source file of :mod:`derive` and :mod:`numeric` and the
    versions of NumPy, SymPy and mpmath: the key of cached certificates."""
    import mpmath

    digest = hashlib.sha256()
    for version in (np.__version__, sp.__version__, mpmath.__version__):
        digest.update(version.encode())
    for path in _package_files():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _cache_path(cache_dir: str | os.PathLike, name: str, points: int) -> Path:
    return Path(cache_dir) / f"{name}-{points}-{code_hash()}.pickle"


def _certificate(name: str, points: int, cache_dir: str | os.PathLike | None) -> Any:
    from .verify import certify

    if cache_dir is None:
        return certify(name, points=points)
    path = _cache_path(cache_dir, name, points)
    if path.exists():
        with open(path, "rb") as handle:
            return pickle.load(handle)
    cert = certify(name, points=points)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        pickle.dump(cert, handle)
    os.replace(tmp, path)
    return cert


def certificate(name: str, points: int = DEFAULT_POINTS,
                cache_dir: str | os.PathLike | None = None) -> Any:
    """The certificate of ``name`` (cached on disk in ``cache_dir`` when given)."""
    return _certificate(name, points, cache_dir)


def _certify_into_cache(name: str, points: int, cache_dir: str) -> str:
    _certificate(name, points, cache_dir)
    return name


def precompute_certificates(names: Sequence[str], points: int, cache_dir: str | os.PathLike,
                            workers: int) -> list[str]:
    """Measure the certificates of ``names`` missing from the cache, in parallel
    worker processes; returns the names measured."""
    missing = [n for n in names if not _cache_path(cache_dir, n, points).exists()]
    if not missing:
        return []
    if workers < 0:  # the CPUs this process may run on (a container may allow fewer)
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
    workers = max(1, min(workers, len(missing)))
    if workers == 1:
        for n in missing:
            _certify_into_cache(n, points, str(cache_dir))
        return missing
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        list(pool.map(_certify_into_cache, missing, [points] * len(missing),
                      [str(cache_dir)] * len(missing)))
    return missing


# ---------------------------------------------------------------- pages


def reference_page(name: str) -> str:
    """The reST of the reference page of one catalogue entry."""
    entry = get(name)
    title = f"``{name}``"
    kinks = ", ".join(f"x = {k:g}" for k in entry.kinks)
    lines = [
        ".. This page is generated from derive/catalogue.py by derive.sphinxext; "
        "do not edit.", "",
        f".. _function-{name}:", "",
        title, "=" * len(title), "",
        f"*{entry.kind.replace('_', ' ')}* — Python: ``numeric.{name}``"
        + {"activation": f", ``numeric.{name}_grad``, ``numeric.{name}_and_grad``",
           "vector_map": f", ``numeric.{name}_vjp``",
           "loss": f", ``numeric.{name}_grad``"}[entry.kind], "",
        f".. derivation:: {name}", "   :no-conventions:", "",
        "Conventions at kinks", "--------------------", "",
    ]
    conventions = entry.conventions[:1].upper() + entry.conventions[1:]
    if entry.conventions or entry.kinks:
        if entry.kinks:
            lines += [f"Not differentiable at {kinks}. "
                      + (rst_escape(conventions) + "." if conventions else ""), ""]
        else:
            lines += [rst_escape(conventions) + ".", ""]
    else:
        lines += ["None: the function is smooth everywhere on its domain.", ""]
    for heading, option in (("Plot", "plot"), ("Step-by-step derivation", "steps"),
                            ("Generated NumPy code", "code"),
                            ("Verification certificate", "certificate")):
        lines += [heading, "-" * len(heading), "",
                  f".. derivation:: {name}", "   :no-summary:", "   :no-headings:",
                  f"   :{option}:", ""]
    lines += ["Reference", "---------", "", rst_escape(entry.reference or "—"), ""]
    return "\n".join(lines)


def _index_page() -> str:
    lines = [".. This page is generated from derive/catalogue.py by derive.sphinxext; "
             "do not edit.", "", "Catalogue of functions", "======================", "",
             "One page per entry of the catalogue, made from it when the documentation "
             "is built: definition, textbook derivative, the verified steps, a plot, the "
             "generated NumPy code and its verification certificate.", ""]
    for kind, heading in (("activation", "Activations"), ("vector_map", "Vector maps"),
                          ("loss", "Losses")):
        lines += [heading, "-" * len(heading), "", ".. catalogue-table::", f"   :kind: {kind}",
                  "", ".. toctree::", "   :hidden:", ""]
        lines += [f"   {e.name}" for e in ENTRIES if e.kind == kind]
        lines.append("")
    return "\n".join(lines)


def write_reference_pages(directory: str | os.PathLike) -> list[Path]:
    """Write ``index.rst`` and one ``NAME.rst`` per entry into ``directory``;
    a file is rewritten only when its text changes, and pages of entries no
    longer in the catalogue are removed.  Returns the files written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pages = {"index.rst": _index_page()}
    pages.update({f"{e.name}.rst": reference_page(e.name) for e in ENTRIES})
    written = []
    for filename, text in pages.items():
        path = directory / filename
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    marker = "generated from derive/catalogue.py by derive.sphinxext"
    for path in directory.glob("*.rst"):
        if path.name not in pages and marker in path.read_text(encoding="utf-8"):
            path.unlink()
    return written


def catalogue_table_rst(kind: str | None = None, link: str | None = None) -> list[str]:
    """A list-table of the catalogue's entries (of one ``kind``), linked to their
    reference pages when ``link`` is the docname prefix of those pages."""
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 25 75", "",
             "   * - name", "     - what it is"]
    for e in ENTRIES:
        if kind is not None and e.kind != kind:
            continue
        name = f":doc:`{e.name} </{link}/{e.name}>`" if link else f"``{e.name}``"
        lines += [f"   * - {name}", f"     - {rst_escape(e.summary)}"]
    lines.append("")
    return lines


def rules_table_rst() -> list[str]:
    """A list-table of the stabilize rules, in the order they are tried: name, rewrite, what it mends.

    Examples
    --------
    >>> lines = rules_table_rst()
    >>> lines[0], any("``softplus``" in line for line in lines)
    ('.. list-table::', True)
    """
    from .stabilize import HYPOT, RULES

    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 20 40 40", "",
             "   * - rule", "     - rewrite", "     - what it mends"]
    for rule in (*RULES, HYPOT):
        lines += [f"   * - ``{rule.name}``", f"     - {rst_escape(rule.pattern)}", f"     - {rst_escape(rule.why)}"]
    lines.append("")
    return lines


def _verdict(cert: Any) -> str:
    if not cert.passed:
        return "**exceptions**"
    return "passed, stated exception" if any("stated exception" in e for e in cert.exceptions) else "passed"


def certificate_table_rst(certificates: Sequence[Any], link: str | None = None) -> list[str]:
    """A list-table with one row per certificate: proof, worst errors, status."""
    lines = [".. list-table::", "   :header-rows: 1", "",
             "   * - name", "     - derivative proven", "     - max ULP f", "     - max ULP f′",
             "     - max ULP float32", "     - gradient check",
             "     - inputs checked absolutely", "     - status"]
    for cert in certificates:
        name = f":doc:`{cert.name} </{link}/{cert.name}>`" if link else f"``{cert.name}``"
        f32 = max((m.max_ulp for m in cert.float32), default=None)
        lines += [f"   * - {name}", f"     - {cert.proof.split(':')[0]}",
                  f"     - {_fmt(cert.forward.max_ulp)}", f"     - {_fmt(cert.derivative.max_ulp)}",
                  f"     - {_fmt(f32) if f32 is not None else '—'}",
                  f"     - {_fmt(cert.gradient_check.max_relative_error)}",
                  f"     - {cert.forward.near_zero_points + cert.derivative.near_zero_points}",
                  f"     - {_verdict(cert)}"]
    lines.append("")
    return lines


#: the derivations of :mod:`derive.network` the ``network-derivation`` directive renders
NETWORK_DERIVATIONS = ("neuron", "dense_layer", "backprop", "linear_collapse")


def network_rst(name: str, **options: str) -> list[str]:
    """A derivation of :mod:`derive.network` (``backprop``, ``neuron``, …) as reST:
    numbered steps with their equations and proofs."""
    from . import network

    if name not in NETWORK_DERIVATIONS:
        raise ValueError(f"unknown network derivation {name!r}; choose one of "
                         + ", ".join(NETWORK_DERIVATIONS))
    derivation = getattr(network, name)(**options)
    lines = [f"**{rst_escape(derivation.title)}**", ""]
    for number, step in enumerate(derivation.steps, 1):
        marker = f"{number}. "
        indent = " " * len(marker)
        lines += [f"{marker}**{rst_escape(step.title)}.** {rst_escape(step.explanation)}", ""]
        for equation in step.equations:
            lines += _math(equation.latex, indent=indent)
        if step.proof is not None:
            mark = "✔" if step.proof.holds else "✘ NOT PROVEN:"
            lines += [f"{indent}{mark} {rst_escape(str(step.proof))}", ""]
    return lines


# ---------------------------------------------------------------- Sphinx


def _directives() -> tuple[type, ...]:
    from docutils import nodes
    from docutils.parsers.rst import directives
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    def _parse(directive: SphinxDirective, text: str) -> list:
        container = nodes.container(classes=["nnderive"])
        content = StringList(text.splitlines(), source=f"<derivation {directive.arguments[0]}>")
        directive.state.nested_parse(content, directive.content_offset, container)
        return container.children

    class DerivationDirective(SphinxDirective):
        """``.. derivation:: NAME`` with ``:steps:``, ``:plot:``, ``:code:``,
        ``:certificate:``, ``:reference:``, ``:no-summary:``, ``:no-headings:``,
        ``:no-conventions:`` and ``:points:``."""

        required_arguments = 1
        has_content = False
        option_spec = {
            "steps": directives.flag,
            "plot": directives.flag,
            "code": directives.flag,
            "certificate": directives.flag,
            "reference": directives.flag,
            "no-summary": directives.flag,
            "no-headings": directives.flag,
            "no-conventions": directives.flag,
            "points": directives.positive_int,
        }

        def run(self) -> list:
            from .catalogue import UnknownNameError

            name = self.arguments[0]
            for path in _package_files():
                self.env.note_dependency(str(path))
            config = self.config
            cache = None
            if config.nnderive_cache:
                cache = Path(self.env.app.doctreedir) / "nnderive-certificates"
            try:
                text = derivation_rst(
                    name,
                    summary="no-summary" not in self.options,
                    steps="steps" in self.options,
                    plot="plot" in self.options,
                    code="code" in self.options,
                    certificate="certificate" in self.options,
                    reference="reference" in self.options,
                    headings="no-headings" not in self.options,
                    conventions="no-conventions" not in self.options,
                    points=self.options.get("points", config.nnderive_certificate_points),
                    cache_dir=cache,
                )
            except UnknownNameError as error:
                raise self.error(str(error)) from None
            except Exception:  # reported at the directive; the build goes on (-W fails it)
                raise self.error(f"derivation {name}: failed\n{traceback.format_exc()}") from None
            return _parse(self, text)

    class CatalogueTableDirective(SphinxDirective):
        """``.. catalogue-table::`` with ``:kind: activation|vector_map|loss``."""

        required_arguments = 0
        option_spec = {"kind": lambda arg: directives.choice(
            arg, ("activation", "vector_map", "loss"))}

        def run(self) -> list:
            self.env.note_dependency(str(Path(__file__).resolve().parent / "catalogue.py"))
            link = self.config.nnderive_reference_dir.strip("/") or None
            text = "\n".join(catalogue_table_rst(self.options.get("kind"), link))
            container = nodes.container(classes=["nnderive-catalogue"])
            self.state.nested_parse(StringList(text.splitlines(), source="<catalogue-table>"),
                                    self.content_offset, container)
            return container.children

    class CertificateTableDirective(SphinxDirective):
        """``.. certificate-table::``: the certificates of the whole catalogue
        (option ``:kind:``)."""

        required_arguments = 0
        option_spec = {"kind": lambda arg: directives.choice(
            arg, ("activation", "vector_map", "loss"))}

        def run(self) -> list:
            for path in _package_files():
                self.env.note_dependency(str(path))
            config = self.config
            cache = (Path(self.env.app.doctreedir) / "nnderive-certificates"
                     if config.nnderive_cache else None)
            kind = self.options.get("kind")
            try:
                certificates = [_certificate(e.name, config.nnderive_certificate_points, cache)
                                for e in ENTRIES if kind is None or e.kind == kind]
            except Exception:
                raise self.error(f"certificate-table: failed\n{traceback.format_exc()}") from None
            link = config.nnderive_reference_dir.strip("/") or None
            text = "\n".join(certificate_table_rst(certificates, link))
            container = nodes.container(classes=["nnderive-certificates"])
            self.state.nested_parse(StringList(text.splitlines(), source="<certificate-table>"),
                                    self.content_offset, container)
            return container.children

    class NetworkDerivationDirective(SphinxDirective):
        """``.. network-derivation:: backprop`` (or ``neuron``, ``dense_layer``,
        ``linear_collapse``) with the keyword options of that function:
        ``:hidden:``, ``:output:``, ``:loss:``, ``:activation:``."""

        required_arguments = 1
        option_spec = {"hidden": directives.unchanged, "output": directives.unchanged,
                       "loss": directives.unchanged, "activation": directives.unchanged}

        def run(self) -> list:
            for path in _package_files():
                self.env.note_dependency(str(path))
            try:
                text = "\n".join(network_rst(self.arguments[0], **self.options))
            except (ValueError, TypeError) as error:
                raise self.error(str(error)) from None
            except Exception:
                raise self.error(f"network-derivation: failed\n{traceback.format_exc()}") from None
            container = nodes.container(classes=["nnderive-network"])
            self.state.nested_parse(StringList(text.splitlines(), source="<network-derivation>"),
                                    self.content_offset, container)
            return container.children

    class RulesTableDirective(SphinxDirective):
        """``.. stabilize-rules::``: the stabilize rules, from :data:`derive.stabilize.RULES`."""

        required_arguments = 0

        def run(self) -> list:
            self.env.note_dependency(str(Path(__file__).resolve().parent / "stabilize.py"))
            container = nodes.container(classes=["nnderive-rules"])
            self.state.nested_parse(StringList(rules_table_rst(), source="<stabilize-rules>"),
                                    self.content_offset, container)
            return container.children

    return (DerivationDirective, CatalogueTableDirective, CertificateTableDirective,
            NetworkDerivationDirective, RulesTableDirective)


def _builder_inited(app: Any) -> None:
    config = app.config
    if config.nnderive_reference_dir:
        write_reference_pages(Path(app.srcdir) / config.nnderive_reference_dir)
    if config.nnderive_parallel and config.nnderive_cache:
        import time

        from sphinx.util import logging

        cache = Path(app.doctreedir) / "nnderive-certificates"
        started = time.perf_counter()
        measured = precompute_certificates([e.name for e in ENTRIES],
                                           config.nnderive_certificate_points, cache,
                                           config.nnderive_parallel)
        if measured:
            logging.getLogger(__name__).info(
                f"nnderive: measured {len(measured)} certificates "
                f"({config.nnderive_certificate_points}-point grid) in "
                f"{time.perf_counter() - started:.0f} s")


def setup(app: Any) -> dict[str, Any]:
    """Register the directives and configuration values with Sphinx."""
    app.setup_extension("matplotlib.sphinxext.plot_directive")
    derivation, table, certificates, network, rules = _directives()
    app.add_directive("network-derivation", network)
    app.add_directive("stabilize-rules", rules)
    app.add_directive("derivation", derivation)
    app.add_directive("catalogue-table", table)
    app.add_directive("certificate-table", certificates)
    app.add_config_value("nnderive_certificate_points", DEFAULT_POINTS, "env", types=(int,))
    app.add_config_value("nnderive_cache", True, "env", types=(bool,))
    app.add_config_value("nnderive_parallel", 0, "env", types=(int,))
    app.add_config_value("nnderive_reference_dir", "", "env", types=(str,))
    app.connect("builder-inited", _builder_inited)
    return {"version": "0.1.0", "parallel_read_safe": True, "parallel_write_safe": True}
