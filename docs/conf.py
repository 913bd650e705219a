"""Sphinx configuration of the nnderive documentation.

Build (from the repository root; see docs/README.md)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The site works offline: MathJax is served from the build itself
(``_ext/offline_mathjax.py``), plots are drawn with matplotlib at build time
and every code example is run while the pages are read
(``_ext/checked_examples.py``, ``_ext/command_output.py``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
try:
    import derive  # noqa: F401  (installed with: pip install -e '.[docs]')
except ImportError:  # building from a checkout that is not installed
    sys.path.insert(0, str(DOCS.parent))

project = "nnderive"
author = "the nnderive authors"
copyright = "2026, the nnderive authors"
release = version = "0.1.0"

extensions = [
    "sphinx.ext.duration",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "derive.sphinxext",
    "offline_mathjax",
    "checked_examples",
    "command_output",
    "accuracy_table",
]

# --- warnings are errors (-W); every reference must resolve ------------------
nitpicky = True
# Names in docstrings that point outside this project (no intersphinx: the
# build must not need the network).
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|sympy|sp|mpmath|scipy|matplotlib|docutils|sphinx)(\..*)?"),
    (r"py:.*", r"(typing|collections|pathlib|os|io|argparse|dataclasses)\..*"),
    (r"py:class", r"(array_like|array-like|ndarray|ArrayLike|DTypeLike|optional|callable)"),
    (r"py:class", r"(TextIO|Path|Literal|Any|Sequence|Callable|Mapping|Iterable)"),
]
# Targets that docstrings link to but that autodoc does not document: module
# constants outside their module's __all__ or without a "#:" doc comment, and
# attributes listed only in a numpydoc "Attributes" section (documenting every
# undocumented member instead would triple the time autodoc takes); and a
# relative :meth: in numeric.demos that cannot be resolved from the module.
nitpick_ignore_regex.append((r"py:data", r"[A-Z][A-Z0-9_]*"))  # ENTRIES, MAX_EXPONENT, …
nitpick_ignore = [
    ("py:attr", "Step.verified_by"),
    ("py:attr", "Derivation.notes"),
    ("py:meth", "format"),
]

# --- sources ------------------------------------------------------------------
root_doc = "index"
exclude_patterns = ["_build", "node_modules", "README.md", "howto/example_project"]
templates_path: list[str] = []

# --- nnderive extension ---------------------------------------------------------
nnderive_reference_dir = "reference/functions"
nnderive_certificate_points = 400
nnderive_parallel = -1  # measure the certificates in one process per CPU

# --- matplotlib plot directive (loaded by derive.sphinxext) ----------------------
plot_formats = [("svg", 100)]
plot_html_show_formats = False
plot_html_show_source_link = False
plot_include_source = False
plot_rcparams = {"svg.fonttype": "path", "figure.dpi": 100, "savefig.bbox": "tight"}
plot_apply_rcparams = True

# --- autodoc / numpydoc ----------------------------------------------------------
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# --- MathJax, served from _static (see _ext/offline_mathjax.py) -------------------
mathjax3_config = {
    "options": {"enableMenu": False},
    "svg": {"fontCache": "global"},
}

# --- HTML -------------------------------------------------------------------------
html_theme = "alabaster"
html_title = "nnderive"
html_static_path = ["_static"]
html_css_files = ["nnderive.css"]
html_theme_options = {
    "description": "Neural-network maths, derived with SymPy and verified",
    "fixed_sidebar": False,
    "page_width": "1100px",
    "sidebar_width": "230px",
    "font_family": "Georgia, 'Times New Roman', serif",
    "head_font_family": "Georgia, 'Times New Roman', serif",
    "code_font_family": "'DejaVu Sans Mono', Menlo, Consolas, monospace",
}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}
html_show_sourcelink = False
html_last_updated_fmt = None


# --- plain-text formulas in docstrings --------------------------------------------
# Docstrings (the generated ones above all) write formulas as plain text:
# "x/(1 + |x|)", "f(*args)".  reST would read |x| as a substitution and *args
# as the start of emphasis; escape those outside literals, roles and math blocks.
_CODE = re.compile(r"(``.+?``|:[\w:.-]+:`[^`]*`|`[^`]*`_?)")
_BARS = re.compile(r"(?<![\\|])\|(?=\S)([^|`\n]*?\S)\|(?![|_])")
_STARS = re.compile(r"(?<=[(\[,])(\*{1,2})(?=[A-Za-z_])")


def _escape_plain_text(line: str) -> str:
    parts = _CODE.split(line)
    for i in range(0, len(parts), 2):  # even parts are outside literals and roles
        parts[i] = _STARS.sub(lambda m: "\\*" * len(m.group(1)), _BARS.sub(r"\|\1\|", parts[i]))
    return "".join(parts)


def _escape_docstring(app, what, name, obj, options, lines):
    in_block, block_indent, in_doctest = False, 0, False
    for index, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if in_doctest:  # a doctest block runs to the next blank line
            in_doctest = bool(stripped)
            continue
        if in_block:  # a literal or math block: indented below its opening line
            if not stripped or indent > block_indent:
                continue
            in_block = False
        if stripped.startswith(">>>"):
            in_doctest = True
            continue
        if stripped.startswith(".. ") or stripped.endswith("::"):
            in_block, block_indent = True, indent
            if not stripped.endswith("::") and not stripped.startswith(".. math::"):
                in_block = stripped.startswith((".. code", ".. literal"))
            if in_block or stripped.startswith(".. "):
                continue
        if stripped == "|" or stripped.startswith(("| ", "+-", "+=")):  # line blocks, grid tables
            continue
        lines[index] = _escape_plain_text(line)


def setup(app):
    app.connect("autodoc-process-docstring", _escape_docstring, priority=600)
