"""The dense layer y = x Wᵀ + b, batched as rows, and its backward pass.

The backward pass is proven at a concrete size by SymPy (each gradient is the
derivative of the scalar Σ g ⊙ y, element by element) and printed as NumPy
matrix products.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .codegen import HEADER


@lru_cache(maxsize=None)
def prove_dense_backward(batch: int = 2, n_in: int = 3, n_out: int = 2) -> str:
    """Prove dx = g W, dW = gᵀ x, db = Σ_rows g for y = x Wᵀ + b.

    Returns a one-line description of what was proven; raises AssertionError
    otherwise.

    >>> prove_dense_backward()
    'proven element by element at batch 2, 3 inputs, 2 outputs'
    """
    x = sp.Matrix(batch, n_in, lambda i, j: sp.Symbol(f"x{i}{j}"))
    W = sp.Matrix(n_out, n_in, lambda i, j: sp.Symbol(f"W{i}{j}"))
    b = sp.Matrix(1, n_out, lambda i, j: sp.Symbol(f"b{j}"))
    G = sp.Matrix(batch, n_out, lambda i, j: sp.Symbol(f"g{i}{j}"))
    y = x * W.T + sp.ones(batch, 1) * b
    scalar = sum(G[i, j] * y[i, j] for i in range(batch) for j in range(n_out))
    dx, dW, db = G * W, G.T * x, sp.ones(1, batch) * G
    for name, grad, wrt in (("dx", dx, x), ("dW", dW, W), ("db", db, b)):
        for i in range(wrt.rows):
            for j in range(wrt.cols):
                if sp.expand(sp.diff(scalar, wrt[i, j]) - grad[i, j]) != 0:
                    raise AssertionError(f"{name}[{i},{j}] is wrong")
    return f"proven element by element at batch {batch}, {n_in} inputs, {n_out} outputs"


def layers_module_source() -> str:
    """Source of ``numeric/layers.py``."""
    proof = prove_dense_backward()
    return f'''{HEADER}
"""The dense layer y = x Wᵀ + b (rows are samples) and its backward pass.

Backward pass {proof} by SymPy (derive/layers.py).
"""

import numpy as np

from ._support import _float_array

__all__ = ["dense", "dense_backward"]


def _check(x, W, name):
    if x.ndim != 2:
        raise ValueError(f"{{name}}: x must have shape (batch, in), got shape {{x.shape}}")
    if W.ndim != 2 or W.shape[1] != x.shape[1]:
        raise ValueError(
            f"{{name}}: W has shape {{W.shape}} but x has shape {{x.shape}}; "
            "W must be (out, in) with in = x.shape[1]"
        )


def dense(x, W, b):
    """y = x Wᵀ + b for x of shape (batch, in), W (out, in), b (out,).

    Examples
    --------
    >>> dense(np.ones((2, 3)), np.ones((4, 3)), np.arange(4.0)).tolist()
    [[3.0, 4.0, 5.0, 6.0], [3.0, 4.0, 5.0, 6.0]]
    """
    x, W, b = _float_array(x), np.asarray(W), np.asarray(b)
    _check(x, W, "dense")
    if b.shape != (W.shape[0],):
        raise ValueError(f"dense: b has shape {{b.shape}} but W has shape {{W.shape}}; "
                         f"b must be ({{W.shape[0]}},)")
    y = x @ W.T
    y += b
    return y


def dense_backward(x, W, g, input_grad=True):
    """Gradients of a dense layer given g = ∂L/∂y of shape (batch, out).

    dx = g W,  dW = gᵀ x,  db = Σ_batch g.

    Parameters
    ----------
    x, W, g : array_like
        The layer's input (batch, in), weights (out, in) and upstream gradient.
    input_grad : bool, default True
        If false, dx is not computed (None): the first layer of a network
        needs no gradient with respect to the data.

    Returns
    -------
    dx, dW, db : ndarray
        Shaped like x, W and b.
    """
    x, W, g = _float_array(x), np.asarray(W), np.asarray(g)
    _check(x, W, "dense_backward")
    if g.shape != (x.shape[0], W.shape[0]):
        raise ValueError(
            f"dense_backward: g has shape {{g.shape}}, expected (batch, out) = "
            f"{{(x.shape[0], W.shape[0])}} from x {{x.shape}} and W {{W.shape}}"
        )
    return (g @ W if input_grad else None), g.T @ x, g.sum(axis=0)
'''
