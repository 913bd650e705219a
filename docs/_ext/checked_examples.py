"""Run every ``>>>`` example of the docs while the HTML is built.

Each page's doctest blocks run in order in one namespace (so a tutorial can
build on its earlier examples), in a fresh temporary working directory.  A
block whose output differs from what the page shows, or that raises where the
page shows no traceback, is reported as a warning at that block, which fails
a build run with ``-W``.  The examples are plain doctests, so they also run
with ``python -m doctest docs/tutorials/neuron.rst`` (``tests/test_docs.py``
runs them that way too).

Option flags: ``ELLIPSIS`` and ``NORMALIZE_WHITESPACE`` for every example.
"""

from __future__ import annotations

import contextlib
import doctest
import os
import tempfile
import time
from typing import Any

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@contextlib.contextmanager
def _in_temporary_directory():
    previous = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="nnderive-docs-") as directory:
        os.chdir(directory)
        try:
            yield directory
        finally:
            os.chdir(previous)


def _doctree_read(app: Any, doctree: nodes.document) -> None:
    docname = app.env.docname
    source = str(app.env.doc2path(docname))
    # Only the page's own examples: docstrings pulled in by autodoc are run by
    # ``pytest --doctest-modules`` in their module's namespace.
    blocks = [block for block in doctree.findall(nodes.doctest_block)
              if block.source == source]
    if not blocks or not app.config.checked_examples:
        return
    globs: dict[str, Any] = {"__name__": "__docs__"}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS, verbose=False)
    started = time.perf_counter()
    with _in_temporary_directory():
        for block in blocks:
            report: list[str] = []
            test = parser.get_doctest(block.astext(), globs, docname, source, block.line)
            failed_before = runner.failures
            runner.run(test, out=report.append, clear_globs=False)
            globs = test.globs  # DocTest works on a copy; carry it to the next block
            if runner.failures != failed_before:
                logger.warning("example failed:\n%s", "".join(report).strip(),
                               location=block, type="checked_examples")
    elapsed = time.perf_counter() - started
    logger.verbose("checked_examples: %s: %d blocks, %d examples in %.1f s", docname,
                   len(blocks), runner.tries, elapsed)


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("checked_examples", True, "env", types=(bool,))
    app.connect("doctree-read", _doctree_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
