"""QRNN (Bradbury et al., 2017): the paper's equations in NumPy, finite
differences, the previous input carried through masks and go_backwards, the
layer contract and behaviour."""

import keras
import numpy as np
import pytest
from keras import ops

from rnn_zoo.layers import QRNN, Bidirectional, QRNNCell, StackedRNN
from tests.layers import _family_checks as checks
from tests.layers.contract import (
    check_cell_contract,
    check_layer_contract,
    random_inputs,
)

BACKEND = keras.backend.backend()
B, T, F, U = checks.BATCH, checks.TIMESTEPS, checks.FEATURES, checks.UNITS


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def qrnn_numpy(x, kernel, bias, window, pooling, c0, x_before=None):
    """Bradbury et al. 2017 (masked convolution, then f-, fo- or
    ifo-pooling), one timestep at a time; ``x_before`` is the input before
    ``x[:, 0]`` (zeros: the convolution's padding)."""
    batch, steps, features = x.shape
    units = c0.shape[-1]
    x_prev = np.zeros((batch, features)) if x_before is None else x_before
    c, hs = c0, []
    for t in range(steps):
        window_inputs = [x[:, t], x_prev] if window == 2 else [x[:, t]]
        gates = np.concatenate(window_inputs, -1) @ kernel + bias
        z = np.tanh(gates[:, :units])
        f = _sigmoid(gates[:, units : 2 * units])
        if pooling == "ifo":
            c = f * c + _sigmoid(gates[:, 3 * units :]) * z
        else:
            c = f * c + (1 - f) * z
        hs.append(
            c if pooling == "f" else _sigmoid(gates[:, 2 * units : 3 * units]) * c
        )
        x_prev = x[:, t]
    return np.stack(hs, 1), c


def _layer_with_random_weights(weights_seed=3, **kwargs):
    layer = QRNN(U, return_sequences=True, return_state=True, **kwargs)
    layer.build((B, T, F))
    rng = np.random.default_rng(weights_seed)
    layer.set_weights(
        [rng.uniform(-1, 1, w.shape).astype("float32") for w in layer.get_weights()]
    )
    return layer


CONFIGS = [
    pytest.param(1, "fo", id="window1-fo"),
    pytest.param(2, "fo", id="window2-fo"),
    pytest.param(2, "f", id="window2-f"),
    pytest.param(2, "ifo", id="window2-ifo"),
]


@pytest.mark.parametrize("window, pooling", CONFIGS)
def test_matches_the_papers_equations(window, pooling):
    layer = _layer_with_random_weights(window=window, pooling=pooling)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (window * F, (len(pooling) + 1) * U)
    x = random_inputs((B, T, F))
    c0 = random_inputs((B, U), seed=7)
    x_before = random_inputs((B, F), seed=8)
    # The carried state is the input before the sequence's share of the gates.
    initial = [c0] if window == 1 else [c0, x_before @ kernel[F:]]
    outputs, c = qrnn_numpy(
        x, kernel, bias, window, pooling, c0, x_before if window == 2 else None
    )
    got = layer(x, initial_state=initial)
    expected = [outputs, c] + ([x[:, -1] @ kernel[F:]] if window == 2 else [])
    checks.assert_close(got, expected)


def test_go_backwards_convolves_in_processing_order():
    layer = _layer_with_random_weights(go_backwards=True)
    kernel, bias = layer.get_weights()
    x = random_inputs((B, T, F))
    outputs, c = qrnn_numpy(x[:, ::-1], kernel, bias, 2, "fo", np.zeros((B, U)))
    checks.assert_close(layer(x)[:2], [outputs, c])


# --- gradients, float64 -------------------------------------------------------


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="Keras computes float64 in float32 on this backend (keras-team/keras#23704)",
)
@pytest.mark.parametrize("window, pooling", [(2, "fo"), (1, "ifo")])
def test_gradients_match_finite_differences(window, pooling):
    checks.check_finite_differences(
        lambda **kwargs: QRNN(U, window=window, pooling=pooling, **kwargs)
    )


# --- behaviour ---------------------------------------------------------------


def _qrnn(**kwargs):
    return QRNN(U, **kwargs)


@pytest.mark.backend_neutral
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_padding_anywhere_gives_the_unpadded_output_and_state(go_backwards):
    # Holes and leading padding: the step after a gap sees the last real input.
    checks.check_padding_anywhere(_qrnn, go_backwards)


def test_stateful_carries_the_state_and_the_previous_input_across_calls():
    checks.check_stateful(_qrnn)


@pytest.mark.backend_neutral
def test_initial_state_continues_a_sequence():
    checks.check_initial_state(_qrnn)


@pytest.mark.parametrize("window", [1, 2])
def test_step_gives_the_sequence(window):
    checks.check_step_matches_sequence(
        lambda **kwargs: QRNN(U, window=window, **kwargs), "qrnn", window=window
    )


@pytest.mark.backend_neutral
def test_dropout_only_in_training():
    checks.check_dropout_only_in_training(_qrnn, dropout=0.5)


@pytest.mark.backend_neutral
def test_bidirectional_and_stacked():
    x = random_inputs((B, T, F))
    out = Bidirectional(QRNN(U, return_sequences=True))(x)
    assert tuple(out.shape) == (B, T, 2 * U)
    stack = StackedRNN("qrnn", units=U, num_layers=2, return_state=True)
    out, *states = stack(x)
    assert [tuple(s.shape) for s in states] == [(B, U), (B, 3 * U)] * 2


@pytest.mark.backend_neutral
def test_runs_inside_keras_rnn():
    checks.check_runs_inside_keras_rnn(lambda: QRNNCell(U))


def test_batch_of_zero_sequences_gives_empty_outputs():
    checks.check_empty_batch(_qrnn)


def test_float64_layer_runs_on_every_backend():
    checks.check_float64(_qrnn)


# --- zoneout ----------------------------------------------------------------


def qrnn_zoneout_numpy(x, kernel, bias, window, pooling, keep):
    """``qrnn_numpy`` with the paper's zoneout, ``f = 1 - dropout(1 - f)``:
    ``keep`` ``(batch, time, units)`` is the dropout of ones at each step."""
    batch, steps, features = x.shape
    units = keep.shape[-1]
    x_prev, c, hs = np.zeros((batch, features)), np.zeros((batch, units)), []
    for t in range(steps):
        window_inputs = [x[:, t], x_prev] if window == 2 else [x[:, t]]
        gates = np.concatenate(window_inputs, -1) @ kernel + bias
        z = np.tanh(gates[:, :units])
        f = 1 - (1 - _sigmoid(gates[:, units : 2 * units])) * keep[:, t]
        c = f * c + (1 - f) * z
        hs.append(
            c if pooling == "f" else _sigmoid(gates[:, 2 * units : 3 * units]) * c
        )
        x_prev = x[:, t]
    return np.stack(hs, 1), c


@pytest.mark.parametrize("window, pooling", [(2, "fo"), (1, "f")])
def test_zoneout_in_training_follows_the_papers_equations(window, pooling):
    options = {"window": window, "pooling": pooling, "zoneout": 0.4, "seed": 11}
    layer = _layer_with_random_weights(**options)
    kernel, bias = layer.get_weights()
    # A fresh cell of the same seed draws the layer's masks.
    keep = QRNN(U, **options).cell.step_noise(B, T, "float32", training=True)
    keep = ops.convert_to_numpy(keep)
    assert set(np.unique(keep)) <= {0.0, np.float32(1 / 0.6)}
    x = random_inputs((B, T, F))
    outputs, c = qrnn_zoneout_numpy(x, kernel, bias, window, pooling, keep)
    checks.assert_close(layer(x, training=True)[:2], [outputs, c])


def test_zero_zoneout_and_inference_compute_the_papers_equations():
    x = random_inputs((B, T, F))
    c0 = np.zeros((B, U), "float32")
    for zoneout, training in ((0.0, True), (0.5, False)):
        layer = _layer_with_random_weights(zoneout=zoneout)
        kernel, bias = layer.get_weights()
        outputs, c = qrnn_numpy(x, kernel, bias, 2, "fo", c0)
        checks.assert_close(layer(x, training=training)[:2], [outputs, c])


def test_zoneout_keeps_the_rate_of_channels_at_each_training_step():
    # f-pooling, h = c: a zoned channel's output repeats the previous step's
    # exactly (f = 1); B * T * 300 = 3600 (step, channel) pairs.
    rate, units = 0.3, 300
    layer = QRNN(units, window=1, pooling="f", zoneout=rate, return_sequences=True)
    x = random_inputs((B, T, F))
    h = ops.convert_to_numpy(layer(x, training=True))
    previous = np.concatenate([np.zeros_like(h[:, :1]), h[:, :-1]], axis=1)
    kept = np.mean(h == previous)
    assert abs(kept - rate) < 4 * np.sqrt(rate * (1 - rate) / h.size), kept
    # A fresh mask at each step and call: not the same channels every time.
    assert not np.all(h[:, 1:] == previous[:, 1:]) and kept > 0
    again = ops.convert_to_numpy(layer(x, training=True))
    assert not np.array_equal(again == previous, h == previous)
    # Inference: no step keeps its state.
    h = ops.convert_to_numpy(layer(x))
    assert not np.any(h[:, 1:] == h[:, :-1])


def test_zoneout_round_trips_through_the_config():
    layer = QRNN(U, zoneout=0.25)
    assert QRNN.from_config(layer.get_config()).zoneout == 0.25
    assert QRNNCell.from_config(layer.cell.get_config()).zoneout == 0.25
    assert layer.zoneout == 0.25


def test_zoneout_in_a_cell_step_and_inside_keras_rnn():
    cell = QRNNCell(U, window=1, pooling="f", zoneout=0.5)
    x = random_inputs((B, F))
    states = cell.get_initial_state(B)
    states = [s + 1.0 for s in states]
    h, _ = cell(x, states, training=True)
    kept = np.isclose(ops.convert_to_numpy(h), 1.0)
    assert 0 < kept.mean() < 1  # f = 1 keeps c = 1 in some channels
    h, _ = cell(x, states)
    assert not np.any(np.isclose(ops.convert_to_numpy(h), 1.0))
    out = keras.layers.RNN(cell, return_sequences=True)(
        random_inputs((B, T, F)), training=True
    )
    assert tuple(out.shape) == (B, T, U)


def test_an_attention_decoder_refuses_a_zoneout_cell_and_names_it():
    from rnn_zoo.layers import AttentionDecoderCell, LuongAttention

    with pytest.raises(ValueError) as info:
        AttentionDecoderCell([QRNNCell(U), QRNNCell(U, zoneout=0.2)], LuongAttention())
    assert (
        "`cells[1]` (QRNNCell) draws noise at every step, which the sequence "
        "layers (RNN and the named layers) do and an attention decoder does not: "
        "expected a cell without it. Received: zoneout=0.2"
    ) in str(info.value)


# --- the layer contract --------------------------------------------------------

FIT = {"fit": BACKEND != "jax", "jit_compile": BACKEND != "torch"}
CONTRACT_SHAPE = (2, 5, 3)


def test_cell_contract():
    check_cell_contract(
        lambda dtype=None: QRNNCell(U, dtype=dtype),
        CONTRACT_SHAPE,
        {"return_sequences": True, "return_state": True},
        # Config, .keras and shapes of RNN(cell): training runs the same
        # code as the sequence layer's full contract below.
        fit=False,
        jit_compile=False,
        mixed_precision=False,
    )


def test_sequence_layer_contract():
    check_layer_contract(
        lambda dtype=None: QRNN(U, go_backwards=True, return_state=True, dtype=dtype),
        CONTRACT_SHAPE,
        **FIT,
    )


def test_sequence_layer_contract_window1_ifo():
    check_layer_contract(
        lambda dtype=None: QRNN(U, window=1, pooling="ifo", dtype=dtype),
        CONTRACT_SHAPE,
        fit=False,
        jit_compile=False,
        mixed_precision=False,
    )


# --- bad input ---------------------------------------------------------------


@pytest.mark.backend_neutral
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"window": 3}, ValueError, "`window` must be 1 or 2. Received: window=3"),
        ({"window": True}, ValueError, "`window` must be 1 or 2. Received: window=True"),
        ({"pooling": "io"}, ValueError, "Unknown `pooling`: expected one of ['f', 'fo', 'ifo']. Received: pooling='io'"),
        ({"recurrent_dropout": 0.25}, ValueError, "expected `recurrent_dropout=0`. Received: recurrent_dropout=0.25"),
        ({"recurrent_initializer": "orthogonal"}, TypeError, "expected no `recurrent_initializer`. Received: recurrent_initializer='orthogonal'"),
        ({"zoneout": 1.0}, ValueError, "`zoneout` must be a float in [0, 1). Received: zoneout=1.0"),
        ({"zoneout": -0.1}, ValueError, "`zoneout` must be a float in [0, 1). Received: zoneout=-0.1"),
        ({"zoneout": "0.1"}, TypeError, "`zoneout` must be a float in [0, 1). Received: zoneout='0.1' of type str"),
        ({"zoneout": True}, TypeError, "`zoneout` must be a float in [0, 1). Received: zoneout=True of type bool"),
        ({"zoneout": 0.1, "pooling": "ifo"}, ValueError, "expected zoneout=0 with pooling='ifo', or pooling 'f' or 'fo'. Received: zoneout=0.1, pooling='ifo'"),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_argument(kwargs, error, message):
    with pytest.raises(error) as info:
        QRNN(U, **kwargs)
    assert message in str(info.value)
