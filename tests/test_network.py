"""Symbolic proofs of neurons, dense layers and backpropagation, and their agreement
with the numeric side (the generated dense functions and the MLP)."""

import numpy as np
import pytest
import sympy as sp

from derive import catalogue
from derive.network import (
    Derivation,
    _backprop_equations,
    _network_symbols,
    activation_derivative,
    backprop,
    dense_layer,
    linear_collapse,
    neuron,
    prove_equal,
)
from numeric import dense, dense_backward
from numeric.mlp import MLP

x = catalogue.x


@pytest.fixture(scope="module")
def default_derivation():
    return backprop()  # 3 inputs, 4 hidden (tanh), 2 outputs (sigmoid), mse


# ---------------------------------------------------------------- proofs


def test_prove_equal_records_its_method():
    t = sp.Symbol("t", real=True)
    assert prove_equal("same", [t + 1], [1 + t]).method == "identical ×1"
    assert prove_equal("square", [(t + 1) ** 2], [t ** 2 + 2 * t + 1]).method == "expand ×1"
    numeric = prove_equal("double angle", [sp.sin(2 * t)], [2 * sp.sin(t) * sp.cos(t)])
    assert numeric.holds and numeric.method == "numeric ×1"
    assert "24 points, 50 digits" in numeric.detail


def test_prove_equal_rejects_what_is_false():
    t = sp.Symbol("t", real=True)
    assert not prove_equal("off by 1e-30", [sp.sin(2 * t)],
                           [2 * sp.sin(t) * sp.cos(t) * (1 + sp.Float("1e-30", 50))]).holds
    assert not prove_equal("wrong", [sp.tanh(t)], [sp.sinh(t) / sp.cosh(t) + t ** 3]).holds
    with pytest.raises(ValueError, match="2 left-hand entries but 1 right-hand"):
        prove_equal("lengths", [t, t], [t])


def test_numeric_proofs_are_reproducible():
    t = sp.Symbol("t", real=True)
    a = prove_equal("c", [sp.sin(2 * t)], [2 * sp.sin(t) * sp.cos(t)], seed=3)
    b = prove_equal("c", [sp.sin(2 * t)], [2 * sp.sin(t) * sp.cos(t)], seed=3)
    assert a == b


# ---------------------------------------------------------------- neuron


@pytest.mark.parametrize("name", catalogue.names("activation"))
def test_neuron_partial_derivatives_for_every_activation(name):
    d = neuron(3, name, loss=None)
    assert d.all_proven, d.to_text()
    assert len(d.proofs) == 4  # f' lemma, weights, bias, inputs


@pytest.mark.parametrize("activation, loss", [
    ("sigmoid", "mse"), ("sigmoid", "binary_cross_entropy"), ("relu", "mae"),
    ("tanh", "hinge"), ("identity", "binary_cross_entropy_with_logits"), ("elu", "huber"),
])
def test_neuron_with_a_loss(activation, loss):
    d = neuron(2, activation, loss=loss)
    assert d.all_proven, d.to_text()


def test_neuron_sigmoid_gradient_in_textbook_form():
    d = neuron(2, "sigmoid", loss="mse")
    z = d.expressions["z"]
    s = 1 / (1 + sp.exp(-z))
    assert sp.simplify(d.expressions["da/dw_1"] - s * (1 - s) * sp.Symbol("x_1", real=True)) == 0
    a, y = sp.symbols("a y", real=True)
    assert d.expressions["dL/da"] == 2 * a - 2 * y


def test_activation_derivative_textbook_forms():
    from derive.primitives import sigmoid
    _, textbook, proof = activation_derivative("sigmoid")
    assert textbook == sigmoid(x) * (1 - sigmoid(x)) and proof.holds
    _, textbook, proof = activation_derivative("tanh")
    assert textbook == 1 - sp.tanh(x) ** 2 and proof.holds


# ---------------------------------------------------------------- dense layer


def test_dense_layer_backward_is_proven_for_any_loss():
    d = dense_layer(batch=2, n_in=3, n_out=2)
    assert d.all_proven
    assert [p.entries for p in d.proofs] == [4, 6, 6, 2]


def test_dense_layer_agrees_with_the_generated_functions():
    d = dense_layer(batch=3, n_in=2, n_out=4)
    X, W, b, Y = (d.expressions[k] for k in ("X", "W", "b", "Y"))
    rng = np.random.default_rng(0)
    xv, wv, bv, gv = (rng.normal(size=s) for s in ((3, 2), (4, 2), (4,), (3, 4)))
    values = {**dict(zip(X, xv.ravel())), **dict(zip(W, wv.ravel())), **dict(zip(b, bv))}
    expected_y = np.array(Y.subs(values).tolist(), dtype=float)
    np.testing.assert_allclose(dense(xv, wv, bv), expected_y, rtol=1e-13)
    # the backward pass: gradients of L = Σ G ⊙ Y (a linear loss with ∂L/∂Y = G)
    G = sp.Matrix(3, 4, lambda i, j: sp.Float(gv[i, j], 30))
    scalar = sum(G[i, j] * Y[i, j] for i in range(3) for j in range(4))
    dx, dw, db = dense_backward(xv, wv, gv)
    for got, symbols in ((dx, X), (dw, W), (db, b)):
        expected = np.array([float(sp.diff(scalar, s).subs(values)) for s in symbols])
        np.testing.assert_allclose(got.ravel(), expected, rtol=1e-12)


# ---------------------------------------------------------------- backpropagation


def test_default_backprop_is_proven(default_derivation):
    d = default_derivation
    assert d.all_proven, d.to_text()
    proofs = {p.claim: p for p in d.proofs}
    w1 = proofs["∂L/∂W₁ = δ₁ xᵀ"]
    assert w1.entries == 24 and w1.methods["abstract"] == 12  # 4×3 entries, twice
    assert sum(p.entries for p in d.proofs) == 2 * (3 * 4 + 4 + 4 * 2 + 2 + 3) + 2


def test_tanh_identity_mse_is_proven_fully_symbolically():
    d = backprop(3, 4, 2, hidden="tanh", output="identity", loss="mse")
    assert d.all_proven
    assert all("numeric" not in p.methods for p in d.proofs), [p.method for p in d.proofs]


@pytest.mark.parametrize("sizes, hidden, output, loss", [
    ((2, 3, 2), "relu", "identity", "softmax_cross_entropy"),
    ((2, 2, 2), "sigmoid", "sigmoid", "binary_cross_entropy"),
    ((2, 3, 2), "relu", "softmax", "cross_entropy"),
    ((2, 2, 1), "leaky_relu", "identity", "huber"),
    ((2, 2, 2), "gelu", "identity", "mae"),
    ((2, 2, 2), "softplus", "log_softmax", "kl_divergence"),
    ((2, 2, 1), "elu", "identity", "hinge"),
    ((2, 2, 1), "silu", "identity", "binary_cross_entropy_with_logits"),
    ((2, 2, 1), "hard_tanh", "softsign", "mse"),
])
def test_backprop_for_other_activations_and_losses(sizes, hidden, output, loss):
    d = backprop(*sizes, hidden=hidden, output=output, loss=loss)
    assert d.all_proven, d.to_text()
    if output not in ("softmax", "log_softmax"):
        assert all("abstract" in p.methods for p in d.proofs[1:])


def test_a_wrong_backprop_rule_is_not_proven():
    """Forgetting f₁'(z₁) in δ₁ (or transposing W₂) must fail the proof."""
    s = _network_symbols(2, 2, 1)
    f = sp.Lambda(x, sp.tanh(x))
    loss = catalogue.get("mse")

    def loss_of(yh):
        return sum((p - t) ** 2 for p, t in zip(yh, s["y"])) / len(yh)

    full, good, _ = _backprop_equations(s, f, lambda z: 1 - sp.tanh(z) ** 2,
                                        lambda z2: z2, lambda z2, g: g, loss_of)
    _, bad, _ = _backprop_equations(s, f, lambda z: sp.Integer(1),
                                    lambda z2: z2, lambda z2, g: g, loss_of)
    truth = [sp.diff(full, v) for v in s["W1"]]
    assert prove_equal("good", truth, list(good["W1"])).holds
    assert not prove_equal("bad", truth, list(bad["W1"])).holds
    assert loss.reduction == "mean_elements"


def test_backprop_agrees_with_the_numeric_mlp(default_derivation):
    d = default_derivation
    s = _network_symbols(3, 4, 2)
    net = MLP([3, 4, 2], activations="tanh", output="sigmoid", loss="mse", seed=5)
    rng = np.random.default_rng(1)
    for p in net.parameters()[1::2]:
        p += rng.normal(scale=0.3, size=p.shape)
    xv, yv = rng.normal(size=(1, 3)), rng.uniform(size=(1, 2))
    symbols = [*s["x"], *s["y"], *s["W1"], *s["b1"], *s["W2"], *s["b2"]]
    names = ("L", "dW1", "db1", "dW2", "db2")
    symbolic = sp.lambdify(symbols, [d.expressions[k] for k in names], modules="numpy",
                           cse=True)
    values = np.concatenate([xv.ravel(), yv.ravel()] + [p.ravel() for p in net.parameters()])
    expected_loss, *expected = symbolic(*values)
    loss, grads = net.loss_and_gradients(xv, yv)
    assert loss == pytest.approx(float(expected_loss), rel=1e-12)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, np.reshape(want, got.shape), rtol=1e-11, atol=1e-15)


# ---------------------------------------------------------------- linear collapse


def test_linear_collapse_two_layers(default_derivation):
    d = linear_collapse()
    assert d.all_proven
    assert d.proofs[0].method == "expand ×1"
    assert d.expressions["W"].shape == (2, 3) and d.expressions["b"].shape == (2, 1)


def test_linear_collapse_deeper():
    d = linear_collapse((2, 3, 4, 3, 2))
    assert d.all_proven and d.proofs[1].entries == 2


# ---------------------------------------------------------------- rendering


def test_renderings(default_derivation):
    d = default_derivation
    text = d.to_text()
    assert "δ₁ = (W₂ᵀ δ₂) ⊙ f₁'(z₁) = ∂L/∂b₁" in text
    assert "f₂'(z) = (1 - sigmoid(z))*sigmoid(z)" in text
    assert text.count("✔") == len(d.proofs) and "✘" not in text
    markdown = d.to_markdown()
    assert markdown.startswith("# Backpropagation through 3-4-2")
    assert r"$$ \delta_1 = (W_2^\top \delta_2) \odot f_1'(z_1)" in markdown
    assert "**Proven**" in markdown
    latex = d.to_latex()
    assert latex.startswith(r"\section*{Backpropagation through 3-4-2")
    assert r"\[ \frac{\partial L}{\partial W_1} = \delta_1\, x^\top \]" in latex
    # pdfLaTeX-safe text: no raw Unicode subscripts or operators outside maths
    assert not any(c in latex for c in "₁₂ᵀ⊙∂δŷ")
    assert str(d) == text


def test_a_failed_proof_is_shown():
    from derive.network import Proof, Step
    d = Derivation("t", [Step("s", "e", (), Proof("claim", False, {"numeric": 1}, "x"))])
    assert "✘ claim: NOT PROVEN" in d.to_text() and not d.all_proven
    assert "**NOT proven**" in d.to_markdown()


# ---------------------------------------------------------------- bad input


def test_unknown_names_suggest_close_ones():
    with pytest.raises(catalogue.UnknownNameError, match="did you mean 'tanh'"):
        backprop(hidden="tanhh")
    with pytest.raises(catalogue.UnknownNameError, match="did you mean 'sigmoid'"):
        neuron(2, "sigmod")


def test_kinds_are_checked():
    with pytest.raises(ValueError, match="'mse' is a loss, not an elementwise activation"):
        neuron(2, "mse")
    with pytest.raises(ValueError, match="'softmax' is a vector map, not an elementwise"):
        backprop(hidden="softmax")
    with pytest.raises(ValueError, match="'tanh' is an activation, not a loss"):
        backprop(loss="tanh")
    with pytest.raises(ValueError, match="must be an activation or a vector map"):
        backprop(output="mse")


def test_sizes_are_checked():
    with pytest.raises(ValueError, match="sizes must be positive"):
        backprop(0, 2, 2)
    with pytest.raises(ValueError, match="n_inputs must be positive"):
        neuron(0)
    with pytest.raises(ValueError, match="sizes must be positive"):
        dense_layer(batch=0)
    with pytest.raises(ValueError, match="at least input, one hidden and output"):
        linear_collapse((3, 2))
