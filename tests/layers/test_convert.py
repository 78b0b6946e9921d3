"""Weights move between rnn_zoo layers and torch.nn.RNN/LSTM/GRU state dicts.

Keras -> torch -> Keras is exact; a state dict that does not fit the layer is
refused with a message naming the key and the shapes, before any weight
changes. The gradients through converted weights are in test_numerics.py.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch

from rnn_zoo.layers import (
    GRU,
    LSTM,
    Bidirectional,
    SimpleRNN,
    StackedRNN,
    from_torch_state_dict,
    to_torch_state_dict,
)

BATCH, TIMESTEPS, FEATURES, UNITS = 3, 5, 4, 5

# name: (rnn_zoo layer factory, torch module factory)
PAIRS = {
    "simple-tanh": (
        lambda: SimpleRNN(UNITS, return_sequences=True),
        lambda: torch.nn.RNN(FEATURES, UNITS, batch_first=True),
    ),
    "simple-relu": (
        lambda: SimpleRNN(UNITS, activation="relu", return_sequences=True),
        lambda: torch.nn.RNN(FEATURES, UNITS, nonlinearity="relu", batch_first=True),
    ),
    "lstm": (
        lambda: LSTM(UNITS, return_sequences=True),
        lambda: torch.nn.LSTM(FEATURES, UNITS, batch_first=True),
    ),
    "lstm-nobias": (
        lambda: LSTM(UNITS, use_bias=False, return_sequences=True),
        lambda: torch.nn.LSTM(FEATURES, UNITS, bias=False, batch_first=True),
    ),
    "gru": (
        lambda: GRU(UNITS, return_sequences=True),
        lambda: torch.nn.GRU(FEATURES, UNITS, batch_first=True),
    ),
    "gru-nobias": (
        lambda: GRU(UNITS, use_bias=False, return_sequences=True),
        lambda: torch.nn.GRU(FEATURES, UNITS, bias=False, batch_first=True),
    ),
    "bidirectional-lstm": (
        lambda: Bidirectional(LSTM(UNITS, return_sequences=True)),
        lambda: torch.nn.LSTM(FEATURES, UNITS, bidirectional=True, batch_first=True),
    ),
    "stacked-gru": (
        lambda: StackedRNN("gru", units=UNITS, num_layers=3, return_sequences=True),
        lambda: torch.nn.GRU(FEATURES, UNITS, num_layers=3, batch_first=True),
    ),
    "stacked-bidirectional-simple": (
        lambda: StackedRNN(
            "simple",
            units=UNITS,
            num_layers=2,
            bidirectional=True,
            return_sequences=True,
        ),
        lambda: torch.nn.RNN(
            FEATURES, UNITS, num_layers=2, bidirectional=True, batch_first=True
        ),
    ),
}


def _built(layer):
    layer.build((None, TIMESTEPS, FEATURES))
    return layer


def _randomized(layer, seed=0):
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.uniform(-0.5, 0.5, w.shape).astype(w.dtype) for w in layer.get_weights()]
    )
    return layer


def _torch_state(module):
    return {key: value.detach().clone() for key, value in module.state_dict().items()}


@pytest.mark.parametrize("name", list(PAIRS))
def test_keras_torch_keras_round_trip_is_exact(name):
    make_ours, make_torch = PAIRS[name]
    source = _randomized(_built(make_ours()))
    target = _built(make_ours())
    state = to_torch_state_dict(source)
    # Plain, writable arrays that torch.from_numpy takes without a warning.
    assert all(isinstance(v, np.ndarray) and v.flags.writeable for v in state.values())
    from_torch_state_dict(target, state)
    for got, want in zip(target.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


def _to_torch_module(layer, make_torch):
    module = make_torch()
    state = to_torch_state_dict(layer)
    # strict=True: the keys are exactly torch's, with torch's shapes.
    module.load_state_dict(
        {k: torch.from_numpy(v) for k, v in state.items()}, strict=True
    )
    return module


@pytest.mark.parametrize("name", list(PAIRS))
def test_to_torch_state_dict_loads_strictly(name):
    make_ours, make_torch = PAIRS[name]
    _to_torch_module(_built(make_ours()), make_torch)


@pytest.mark.parametrize(
    "name", ["simple-relu", "lstm", "gru", "stacked-bidirectional-simple"]
)
def test_to_torch_state_dict_computes_the_same(name):
    make_ours, make_torch = PAIRS[name]
    ours = _randomized(_built(make_ours()))
    module = _to_torch_module(ours, make_torch)
    x = np.random.default_rng(1).standard_normal((BATCH, TIMESTEPS, FEATURES))
    x = x.astype("float32")
    with torch.no_grad():
        expected = module(torch.from_numpy(x))[0].numpy()
    actual = ours(x)
    if isinstance(actual, list):  # StackedRNN returns states too
        actual = actual[0]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(actual), expected, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("name", ["lstm", "gru", "stacked-bidirectional-simple"])
def test_from_torch_state_dict_accepts_tensors_and_sums_lstm_biases(name):
    make_ours, make_torch = PAIRS[name]
    torch.manual_seed(0)
    module = make_torch()
    ours = _built(make_ours())
    from_torch_state_dict(ours, module.state_dict())
    back = to_torch_state_dict(ours)
    for key, value in module.state_dict().items():
        if key.startswith("weight") or name == "gru":
            np.testing.assert_array_equal(back[key], value.numpy(), err_msg=key)
    if name == "lstm":
        # Keras's single bias is torch's two summed; it comes back as bias_ih.
        summed = module.bias_ih_l0 + module.bias_hh_l0
        np.testing.assert_allclose(
            back["bias_ih_l0"], summed.detach().numpy(), rtol=1e-6
        )
        np.testing.assert_array_equal(back["bias_hh_l0"], 0.0)


def _assert_refused(layer, state, *fragments):
    before = [w.copy() for w in layer.get_weights()]
    with pytest.raises(ValueError) as info:
        from_torch_state_dict(layer, state)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    # Nothing was half-loaded.
    for got, want in zip(layer.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, want)


def test_wrong_units_are_refused_naming_key_and_shapes():
    layer = _built(LSTM(UNITS))
    state = _torch_state(torch.nn.LSTM(FEATURES, UNITS + 1))
    _assert_refused(layer, state, "weight_ih_l0", "(20, 4)", "(24, 4)")


def test_wrong_input_features_are_refused_naming_key_and_shapes():
    layer = _built(GRU(UNITS))
    state = _torch_state(torch.nn.GRU(FEATURES + 2, UNITS))
    _assert_refused(layer, state, "weight_ih_l0", "(15, 4)", "(15, 6)")


def test_wrong_cell_is_refused_naming_key_and_shapes():
    layer = _built(GRU(UNITS))
    state = _torch_state(torch.nn.LSTM(FEATURES, UNITS))
    _assert_refused(layer, state, "weight_ih_l0", "(15, 4)", "(20, 4)")


def test_missing_key_is_refused_naming_it():
    layer = _built(Bidirectional(SimpleRNN(UNITS)))
    state = _torch_state(torch.nn.RNN(FEATURES, UNITS, bidirectional=True))
    del state["bias_hh_l0_reverse"]
    _assert_refused(layer, state, "bias_hh_l0_reverse")


def test_a_later_layer_that_does_not_fit_leaves_every_layer_unchanged():
    layer = _randomized(_built(StackedRNN("lstm", units=UNITS, num_layers=2)))
    state = _torch_state(torch.nn.LSTM(FEATURES, UNITS, num_layers=2))
    state["weight_hh_l1"] = state["weight_hh_l1"][:, :-1]
    _assert_refused(layer, state, "weight_hh_l1", "(20, 5)", "(20, 4)")


@pytest.mark.parametrize(
    "layer, module, unexpected",
    [
        pytest.param(
            lambda: LSTM(UNITS),
            lambda: torch.nn.LSTM(FEATURES, UNITS, num_layers=2),
            "weight_ih_l1",
            id="more-layers",
        ),
        pytest.param(
            lambda: GRU(UNITS),
            lambda: torch.nn.GRU(FEATURES, UNITS, bidirectional=True),
            "weight_ih_l0_reverse",
            id="bidirectional",
        ),
        pytest.param(
            lambda: SimpleRNN(UNITS, use_bias=False),
            lambda: torch.nn.RNN(FEATURES, UNITS),
            "bias_ih_l0",
            id="biases-into-bias-free-layer",
        ),
    ],
)
def test_unexpected_keys_are_refused_naming_them(layer, module, unexpected):
    # Dropping them silently would compute something else than the torch module.
    _assert_refused(_built(layer()), _torch_state(module()), unexpected)


@pytest.mark.parametrize("direction", ["to", "from"])
def test_gru_reset_before_is_refused(direction):
    layer = _built(GRU(UNITS, reset_after=False))
    with pytest.raises(ValueError, match="reset_after"):
        if direction == "to":
            to_torch_state_dict(layer)
        else:
            from_torch_state_dict(layer, _torch_state(torch.nn.GRU(FEATURES, UNITS)))


def test_activation_without_torch_counterpart_is_refused():
    layer = _built(SimpleRNN(UNITS, activation="sigmoid"))
    with pytest.raises(ValueError, match="sigmoid"):
        to_torch_state_dict(layer)


def test_unbuilt_layer_is_refused():
    with pytest.raises(ValueError, match="build"):
        to_torch_state_dict(LSTM(UNITS))


def test_other_layers_are_refused():
    with pytest.raises(TypeError, match="Dense"):
        to_torch_state_dict(_built(keras.layers.Dense(UNITS)))
