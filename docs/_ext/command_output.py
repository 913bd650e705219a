"""``.. command-output::``: run shell commands at build time and show their output.

Each line of the content is one command, run in order in one fresh temporary
directory (so a later command can read the file an earlier one wrote)::

    .. command-output::

       nnderive codegen relu -o my_activations.py
       python -c "import my_activations; print(my_activations.relu(-1.0))"

``nnderive ARGS`` runs :func:`derive.cli.main` (the console script's entry
point) in this process; ``python ARGS`` runs the current interpreter in a
subprocess.  A command that exits with a status other than 0 fails the build
(a warning, an error under ``-W``), unless the line ends with ``# exits N``
and it exits with exactly N (used to show how bad input is reported).

Options: ``:head: N`` shows the first N lines of each command's output,
``:tail: N`` the last N.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
import traceback
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

_EXPECT = re.compile(r"\s+#\s*exits\s+(\d+)\s*$")


def run_nnderive(args: list[str]) -> tuple[int, str]:
    """``nnderive ARGS`` in this process: (exit status, stdout and stderr)."""
    from derive.cli import main

    out = io.StringIO()
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps --help to the terminal width
    try:
        status, text = _run_main(main, args, out)
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return status, text


def _run_main(main: Any, args: list[str], out: io.StringIO) -> tuple[int, str]:
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            status = main(args)
        except SystemExit as stop:  # argparse exits on --help and on usage errors
            status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except Exception:  # a crash is reported at the directive, like a failed command
            status = 1
            print(traceback.format_exc(), file=out)
    return int(status or 0), out.getvalue()


def run_python(args: list[str], cwd: str) -> tuple[int, str]:
    result = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                            check=False, timeout=300,
                            env={**os.environ, "PYTHONWARNINGS": "default"})
    return result.returncode, result.stdout + result.stderr


class CommandOutput(SphinxDirective):
    has_content = True
    option_spec = {"head": directives.positive_int, "tail": directives.positive_int}

    def run(self) -> list[nodes.Node]:
        shown: list[str] = []
        previous = os.getcwd()
        with tempfile.TemporaryDirectory(prefix="nnderive-docs-cmd-") as directory:
            os.chdir(directory)
            try:
                for offset, line in enumerate(self.content):
                    if not line.strip():
                        continue
                    expected = 0
                    match = _EXPECT.search(line)
                    command = line
                    if match:
                        expected = int(match.group(1))
                        command = line[: match.start()]
                    argv = shlex.split(command)
                    if argv[0] == "nnderive":
                        status, output = run_nnderive(argv[1:])
                    elif argv[0] == "python":
                        status, output = run_python(argv[1:], directory)
                    else:
                        raise self.error(f"command-output runs 'nnderive' and 'python' "
                                         f"commands only; got {argv[0]!r}")
                    if status != expected:
                        logger.warning("command %r exited with %d (expected %d):\n%s",
                                       command, status, expected, output,
                                       location=(self.env.docname,
                                                 self.content_offset + offset + 1),
                                       type="command_output")
                    lines = output.rstrip("\n").splitlines()
                    head = self.options.get("head")
                    if head and len(lines) > head:
                        lines = lines[:head] + [f"... ({len(lines) - head} more lines)"]
                    tail = self.options.get("tail")
                    if tail and len(lines) > tail:
                        lines = [f"... ({len(lines) - tail} lines)"] + lines[-tail:]
                    shown.append("$ " + command.strip())
                    shown.extend(lines)
            finally:
                os.chdir(previous)
        from derive.sphinxext import _package_files

        for path in _package_files():  # rebuild the page when the code changes
            self.env.note_dependency(str(path))
        text = "\n".join(shown)
        block = nodes.literal_block(text, text, language="console")
        self.set_source_info(block)
        return [block]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("command-output", CommandOutput)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
