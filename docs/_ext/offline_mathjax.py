"""Serve MathJax from the built site itself, so equations render offline.

Sphinx's default ``mathjax_path`` is a CDN; a page opened from disk without a
network then shows raw LaTeX.  This extension

1. makes sure the ``mathjax`` npm package pinned in ``docs/package.json`` and
   ``docs/package-lock.json`` (version and sha512 integrity) is installed in
   ``docs/node_modules`` (running ``npm ci`` once if it is not);
2. copies MathJax's single-file SVG bundle ``es5/tex-svg-full.js`` (every TeX
   extension included; SVG output needs no web fonts) with the ``ui`` and
   ``a11y`` components its menu may load, and MathJax's licence, into the
   build's ``_static/mathjax/``;
3. points ``mathjax_path`` at that copy.

The built site then loads no script, stylesheet or font from anywhere but its
own directory.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

BUNDLE = "tex-svg-full.js"
#: what is copied from node_modules/mathjax into _static/mathjax
COPIED = ("es5/" + BUNDLE, "es5/ui", "es5/a11y", "LICENSE")
#: the path Sphinx puts in the <script> tag, relative to _static
MATHJAX_PATH = "mathjax/" + BUNDLE


def mathjax_dir(docs_dir: Path) -> Path:
    return docs_dir / "node_modules" / "mathjax"


def ensure_mathjax(docs_dir: Path) -> Path:
    """The installed mathjax package directory, installing it with ``npm ci`` if needed."""
    package = mathjax_dir(docs_dir)
    if (package / "es5" / BUNDLE).is_file():
        return package
    npm = shutil.which("npm")
    if npm is None:
        raise ExtensionError(
            "MathJax is not installed in docs/node_modules and npm was not found. "
            "Install Node.js/npm and run: npm ci --prefix docs")
    logger.info("offline_mathjax: npm ci --prefix docs (MathJax, pinned in docs/package-lock.json)")
    result = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", str(docs_dir)],
        capture_output=True, text=True, check=False)
    if result.returncode != 0 or not (package / "es5" / BUNDLE).is_file():
        raise ExtensionError("npm ci --prefix docs failed:\n" + result.stdout + result.stderr)
    return package


def _config_inited(app: Any, config: Any) -> None:
    ensure_mathjax(Path(app.confdir))
    config.mathjax_path = MATHJAX_PATH


def _build_finished(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    package = mathjax_dir(Path(app.confdir))
    target = Path(app.outdir) / "_static" / "mathjax"
    for relative in COPIED:
        source = package / relative
        destination = target / Path(relative).name
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", _config_inited)
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
