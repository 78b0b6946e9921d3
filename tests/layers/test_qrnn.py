"""QRNN (Bradbury et al., 2017): the paper's equations in NumPy, finite
differences, the previous input carried through masks and go_backwards, the
layer contract and behaviour."""

import keras
import numpy as np
import pytest

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


def _layer_with_random_weights(seed=3, **kwargs):
    layer = QRNN(U, return_sequences=True, return_state=True, **kwargs)
    layer.build((B, T, F))
    rng = np.random.default_rng(seed)
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
    ],
)  # fmt: skip
def test_bad_arguments_name_the_argument(kwargs, error, message):
    with pytest.raises(error) as info:
        QRNN(U, **kwargs)
    assert message in str(info.value)
