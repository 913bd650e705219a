"""Accuracy of the code for a user's own expressions, before and after the measured stages.

For each expression, the certificate of ``nnderive diff EXPR --verify`` (the
default grid on [−20, 20] and its dense screen, against mpmath) of three
versions of the generated code:

* plain: the stabilize rules only (``removable=False, refine=False``);
* patched: with the Taylor polynomials at removable singular points
  (derive/singular.py);
* refined: and with the stretches computed again in np.longdouble where the
  double code was measured to err (derive/refine.py): what ships.

Usage::

    python benchmarks/user_expressions.py            # the table (about 3 minutes)
    python benchmarks/user_expressions.py --json results.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derive import codegen
from derive.parsing import parse_expression
from derive.verify import verify_expression

EXPRESSIONS = [
    "sin(x)/x", "(1 - cos(x))/x^2", "x/(exp(x) - 1)", "log(1 + x)/x", "tanh(x)/x", "atan(x)/x",
    "(x - sin(x))/x^3", "(exp(x) - 1 - x)/x^2", "sin(x - 1)/(x - 1)",
    "sigmoid(x)^2", "x*sigmoid(x)", "x/(1 + x^2)", "x*exp(x)", "erfc(x)",
    "tanh(x)", "softplus(x)", "sin(x)",
]

VERSIONS = {"plain": (False, False), "patched": (True, False), "refined": (True, True)}


def certify(text: str, version: str) -> dict:
    """The certificate of one version of the code of ``text`` (a dict)."""
    removable, refine = VERSIONS[version]
    expr = parse_expression(text)
    variable, = expr.free_symbols
    real = codegen.expression_source

    def source(*args, **kwargs):  # the version's stages only
        kwargs.setdefault("removable", removable)
        kwargs.setdefault("refine", refine)
        return real(*args, **kwargs)

    codegen._SOURCES.clear()
    codegen.expression_source = source
    try:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cert = verify_expression(expr, variable)
        seconds = time.perf_counter() - start
    finally:
        codegen.expression_source = real
    return {"f_ulp": cert.forward.max_ulp, "df_ulp": cert.derivative.max_ulp,
            "nonfinite": cert.forward.nonfinite + cert.derivative.nonfinite,
            "passed": cert.passed, "seconds": seconds}


def _cell(result: dict) -> str:
    worst = max(result["f_ulp"], result["df_ulp"])
    text = "NaN/inf" if result["nonfinite"] else f"{worst:.3g}"
    return f"{text:>9s} {'ok' if result['passed'] else 'EXC':>3s}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the results as JSON to FILE")
    parser.add_argument("--only", nargs="+", metavar="EXPR", help="these expressions only")
    args = parser.parse_args(argv)
    texts = args.only or EXPRESSIONS
    if args.json and args.json.exists():
        parser.error(f"{args.json} exists; not overwritten")
    print("worst ULP of f and f′ on nnderive diff --verify's grid (NaN/inf: a non-finite result where the "
          "truth is finite; ok: within 4 ULP, the certificate's bound)\n")
    print(f"{'expression':24s} " + " ".join(f"{v:>13s}" for v in VERSIONS))
    results = {}
    for text in texts:
        results[text] = {v: certify(text, v) for v in VERSIONS}
        print(f"{text:24s} " + " ".join(_cell(results[text][v]) for v in VERSIONS), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
