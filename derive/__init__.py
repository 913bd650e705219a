"""nnderive's symbolic side: derive, prove, stabilize, generate and verify.

Examples
--------
>>> import derive
>>> entry = derive.get("softplus")
>>> derive.derive_entry("softplus").textbook
sigmoid(x)
>>> len(derive.catalog()) >= 27
True
"""

from __future__ import annotations

from typing import Sequence

from .calculus import Derived, Proof, derive as derive_entry, prove_equal
from .catalogue import ENTRIES, Entry, UnknownNameError, get, names
from .stabilize import stabilize


def catalog() -> list[Entry]:
    """Every catalogue entry, in catalogue order."""
    return list(ENTRIES)


def generate(names: Sequence[str] | None = None, *, standalone: bool = True) -> str:
    """NumPy source of the catalogue functions ``names`` (all when ``None``)."""
    from .codegen import generate_module

    return generate_module(names, standalone=standalone)


# Import the submodule first: ``import derive.verify`` then finds it loaded and
# leaves the function below in place of the module attribute.
from . import verify as _verify_module  # noqa: E402,F401


def verify(names: Sequence[str] | None = None, *, points: int = 3000):
    """Certificates for ``names`` (every entry when ``None``); see :mod:`derive.verify`."""
    from .verify import verify as _verify

    return _verify(names, points=points)


def differentiate(expr, wrt, **options):
    """Differentiate a user's expression (a SymPy object or a string parsed
    safely, never evaluated) with recorded, verified steps."""
    from .parsing import parse_expression, parse_variables
    from .steps import derivation_steps

    if isinstance(expr, str):
        expr = parse_expression(expr)
    if isinstance(wrt, str):
        variables = parse_variables(wrt)
        wrt = variables[0] if len(variables) == 1 else variables
    return derivation_steps(expr, wrt, **options)


__all__ = ["catalog", "get", "names", "generate", "verify", "differentiate", "derive_entry",
           "stabilize", "prove_equal", "Entry", "Derived", "Proof", "UnknownNameError"]
