"""The documentation: offline, built from the catalogue, every example checked.

* The built site (``docs/_build/html``, made by
  ``python -m sphinx -W --keep-going -b html docs docs/_build/html``) loads no
  script, stylesheet, font, image or frame from the network, and MathJax is
  served from its own ``_static``.  Set ``NNDERIVE_DOCS_BUILD=1`` to build the
  site here first (a few minutes); without a built site these tests skip.
* The example project of the how-to builds with ``-W``.
* Every ``>>>`` example of every page runs under :mod:`doctest` (no Sphinx
  needed), and the reference pages cover the catalogue.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BUILT = DOCS / "_build" / "html"
BUILD_COMMAND = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
                 str(DOCS), str(BUILT)]

EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"""(?:@import\s+(?:url\()?|url\()\s*['"]?([^'")\s;]+)""", re.IGNORECASE)


# ------------------------------------------------------------------ the scanner


class _Resources(HTMLParser):
    """Collect what a page loads: (what, address) pairs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "script" and a.get("src"):
            self.found.append(("script", a["src"]))
        elif tag == "link" and a.get("href"):
            rel = a.get("rel", "").lower()
            # stylesheets, preloaded fonts/scripts, icons: anything the browser fetches
            if any(r in rel for r in ("stylesheet", "preload", "modulepreload", "icon",
                                      "prefetch", "import")):
                self.found.append((f"link rel={rel}", a["href"]))
        elif tag in ("img", "iframe", "embed", "source", "audio", "video", "input") \
                and a.get("src"):
            self.found.append((tag, a["src"]))
        elif tag == "object" and a.get("data"):
            self.found.append(("object", a["data"]))
        if a.get("style"):
            self.found += [("style attribute", u) for u in CSS_URL.findall(a["style"])]
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.found += [("<style>", u) for u in CSS_URL.findall(data)]


def loaded_resources(html: str) -> list[tuple[str, str]]:
    """Every (kind, address) a page makes the browser load."""
    parser = _Resources()
    parser.feed(html)
    return parser.found


def external_resources(html: str) -> list[tuple[str, str]]:
    """The resources of a page that come from the network (http, https, //host)."""
    return [(kind, url) for kind, url in loaded_resources(html) if EXTERNAL.match(url)]


def external_css_urls(css: str) -> list[str]:
    """``@import`` and ``url(…)`` of a stylesheet (fonts included) that leave the site."""
    return [u for u in CSS_URL.findall(css) if EXTERNAL.match(u)]


def test_scanner_finds_cdn_scripts_stylesheets_and_fonts():
    page = """<html><head>
      <script defer src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>
      <script src="_static/local.js"></script>
      <link rel="stylesheet" href="//fonts.googleapis.com/css?family=Lato">
      <link rel="preload" as="font" href="https://example.org/font.woff2">
      <link rel="canonical" href="https://nnderive.example/">
      <style>@import url("https://example.org/x.css"); body { background: url(img.png) }</style>
      </head><body><a href="https://example.org/">a link is fine</a>
      <img src="http://example.org/plot.png"><div style="background:url('//x.org/a.png')"></div>
      </body></html>"""
    found = external_resources(page)
    urls = {url for _, url in found}
    assert urls == {
        "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js",
        "//fonts.googleapis.com/css?family=Lato",
        "https://example.org/font.woff2",
        "https://example.org/x.css",
        "http://example.org/plot.png",
        "//x.org/a.png",
    }
    assert external_css_urls("@font-face { src: url(https://f.org/a.woff2) } "
                             "a { background: url(local.png) }") == ["https://f.org/a.woff2"]


# ------------------------------------------------------------------ the built site


@pytest.fixture(scope="module")
def site() -> Path:
    if os.environ.get("NNDERIVE_DOCS_BUILD") == "1":
        pytest.importorskip("sphinx")
        pytest.importorskip("matplotlib")
        pytest.importorskip("numpydoc")
        result = subprocess.run(BUILD_COMMAND, cwd=ROOT, capture_output=True, text=True,
                                check=False)
        assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    if not (BUILT / "index.html").is_file():
        pytest.skip("docs not built: run 'python -m sphinx -W --keep-going -b html docs "
                    "docs/_build/html' or set NNDERIVE_DOCS_BUILD=1")
    return BUILT


def _pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.parts)


def test_no_page_loads_anything_from_the_network(site):
    problems = []
    for page in _pages(site):
        for kind, url in external_resources(page.read_text(encoding="utf-8")):
            problems.append(f"{page.relative_to(site)}: {kind} {url}")
    for css in site.rglob("*.css"):
        for url in external_css_urls(css.read_text(encoding="utf-8", errors="replace")):
            problems.append(f"{css.relative_to(site)}: {url}")
    assert not problems, "external resources:\n" + "\n".join(problems)


def test_local_resources_exist(site):
    missing = []
    for page in _pages(site):
        for kind, url in loaded_resources(page.read_text(encoding="utf-8")):
            if EXTERNAL.match(url) or url.startswith(("data:", "#")):
                continue
            target = (page.parent / url.split("?")[0].split("#")[0]).resolve()
            if not target.exists():
                missing.append(f"{page.relative_to(site)}: {kind} {url}")
    assert not missing, "\n".join(missing)


def test_mathjax_is_served_from_the_site(site):
    page = (site / "tutorials" / "softmax.html").read_text(encoding="utf-8")
    scripts = [url for kind, url in loaded_resources(page) if kind == "script"]
    mathjax = [url.split("?")[0] for url in scripts if "mathjax" in url.lower()]
    assert mathjax == ["../_static/mathjax/tex-svg-full.js"]
    assert (site / "_static" / "mathjax" / "tex-svg-full.js").stat().st_size > 1_000_000
    assert r"\frac" in page  # the maths is there for MathJax to typeset


def test_every_catalogue_entry_has_a_reference_page_with_plot_code_and_certificate(site):
    from derive.catalogue import ENTRIES

    for entry in ENTRIES:
        page = (site / "reference" / "functions" / f"{entry.name}.html").read_text(
            encoding="utf-8")
        for part in ("Step-by-step derivation", "Generated NumPy code",
                     "Verification certificate", "Conventions at kinks", "Reference"):
            assert part in page, (entry.name, part)
        assert re.search(r'<img [^>]*src="[^"]+\.svg"', page), entry.name
        text = re.sub(r"<[^>]+>", "", page)
        assert f"def {entry.name}(" in text, entry.name


def test_the_rules_page_lists_every_stabilize_rule(site):
    from derive.stabilize import HYPOT, RULES

    text = re.sub(r"<[^>]+>", "", (site / "reference" / "rules.html").read_text(encoding="utf-8"))
    for rule in (*RULES, HYPOT):
        assert rule.name in text, rule.name
    assert "√(x² + 1) − x cancels for x &gt; 1" in text or "√(x² + 1) − x cancels for x > 1" in text


# ------------------------------------------------------------------ without Sphinx


def _rst_files() -> list[Path]:
    """The hand-written pages (reference/functions is generated)."""
    def keep(path: Path) -> bool:
        parts = path.relative_to(DOCS).parts
        return parts[0] not in ("_build", "node_modules") and parts[:2] != ("reference",
                                                                            "functions")
    return sorted(p for p in DOCS.rglob("*.rst") if keep(p))


@pytest.mark.parametrize("path", _rst_files(), ids=lambda p: str(p.relative_to(DOCS)))
def test_examples_of_every_page(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    failures, _ = doctest.testfile(
        str(path), module_relative=False, verbose=False, report=True,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert failures == 0


def test_reference_pages_cover_the_catalogue_and_are_rewritten_only_on_change(tmp_path):
    from derive.catalogue import ENTRIES
    from derive.sphinxext import write_reference_pages

    written = write_reference_pages(tmp_path)
    assert {p.name for p in written} == {f"{e.name}.rst" for e in ENTRIES} | {"index.rst"}
    assert write_reference_pages(tmp_path) == []
    stale = tmp_path / "removed_entry.rst"
    stale.write_text(".. This page is generated from derive/catalogue.py by "
                     "derive.sphinxext; do not edit.\n")
    own = tmp_path / "notes.rst"
    own.write_text("My own page\n")
    write_reference_pages(tmp_path)
    assert not stale.exists() and own.exists()


def test_derivation_rst_for_every_entry():
    from derive.catalogue import ENTRIES
    from derive.sphinxext import derivation_rst

    for entry in ENTRIES:
        text = derivation_rst(entry.name, steps=True, code=True, plot=True)
        assert ".. math::" in text and ".. code-block:: python" in text, entry.name
        assert f"plot_function({entry.name!r})" in text


def test_plot_data_for_every_entry_is_finite_where_it_should_be():
    import numpy as np

    from derive.catalogue import ENTRIES
    from derive.sphinxext import plot_data

    for entry in ENTRIES:
        data = plot_data(entry.name, n=101)
        assert data["x"].shape == data["f"].shape == data["df"].shape == (101,)
        assert np.isfinite(data["f"]).all() and np.isfinite(data["df"]).all(), entry.name


def test_unknown_name_is_refused_with_suggestions():
    from derive.catalogue import UnknownNameError
    from derive.sphinxext import derivation_rst

    with pytest.raises(UnknownNameError, match="did you mean 'relu'"):
        derivation_rst("rleu")


# ------------------------------------------------------------------ with Sphinx


def test_example_project_of_the_howto_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("matplotlib")
    out = tmp_path / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(DOCS / "howto" / "example_project"), str(out)],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "piecewise rule" in page and "Status: passed" in page
    assert re.search(r'<img [^>]*src="[^"]+\.(png|svg)"', page)
    assert "Generated NumPy code" not in page  # :code: was not asked for


def test_certificate_page_names_a_stated_bound_the_grid_does_not_reach():
    # softmax_cross_entropy is within 4 ULP on its certificate's grid, but the dense
    # scans find 4.3: its page must not say "every error within 4 ULP" unqualified
    from derive.sphinxext import certificate_rst
    from derive.verify import STATED_EXCEPTIONS, certify

    cert = certify("hinge", points=200, screen=False)
    text = "\n".join(certificate_rst(cert, 200))
    assert "every error within 4 ULP" in text and "stated bound" not in text
    import copy

    other = copy.copy(cert)  # (certify caches: the cached certificate stays as it is)
    other.name = "softmax_cross_entropy"  # the same verdict for an entry with a stated bound
    text = "\n".join(certificate_rst(other, 200))
    assert f"stated bound of {STATED_EXCEPTIONS['softmax_cross_entropy']:g} ULP" in text
