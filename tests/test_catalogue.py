import pytest

from derive.catalogue import ENTRIES, UnknownNameError, get, names

CONTRACT = {
    "activation": ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu",
                   "gelu_tanh", "softplus", "softsign", "silu", "mish", "hard_sigmoid",
                   "hard_tanh", "log_sigmoid"],
    "vector_map": ["softmax", "log_softmax"],
    "loss": ["mse", "mae", "huber", "binary_cross_entropy", "binary_cross_entropy_with_logits",
             "cross_entropy", "softmax_cross_entropy", "hinge", "kl_divergence"],
}


@pytest.mark.parametrize("kind", CONTRACT)
def test_contract_names_are_in_the_catalogue(kind):
    assert set(CONTRACT[kind]) <= set(names(kind))


def test_names_are_unique():
    assert len({e.name for e in ENTRIES}) == len(ENTRIES)


def test_unknown_name_suggests_close_names():
    with pytest.raises(UnknownNameError) as info:
        get("sigmod")
    assert "sigmoid" in str(info.value)
    assert isinstance(info.value, KeyError)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_every_entry_is_documented(entry):
    assert entry.summary and entry.reference
    if entry.kinks:
        assert entry.conventions, "kinks need a stated convention"


def test_pytorch_defaults():
    assert get("leaky_relu").params[0].default == pytest.approx(0.01)
    assert get("elu").params[0].default == 1
    assert get("huber").params[0].default == 1
