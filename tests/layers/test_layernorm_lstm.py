"""LayerNormLSTM (Ba et al., 2016, as tfa.rnn.LayerNormLSTMCell): the equations
in NumPy, finite differences, the layer contract and behaviour."""

import keras
import numpy as np
import pytest

from rnn_zoo.layers import (
    Bidirectional,
    LayerNormLSTM,
    LayerNormLSTMCell,
    StackedRNN,
)
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


def _layer_norm(a, gamma, beta, epsilon):
    mean = a.mean(-1, keepdims=True)
    variance = a.var(-1, keepdims=True)
    return (a - mean) / np.sqrt(variance + epsilon) * gamma + beta


def layernorm_lstm_numpy(x, weights, h0, c0, epsilon):
    """Ba et al. 2016 (supplementary LSTM equations), in tfa's variant: the input
    and recurrent products normalised apart, then the bias; the new c normalised."""
    kernel, recurrent_kernel, bias, gk, bk, gr, br, gs, bs = weights
    h, c, hs = h0, c0, []
    for t in range(x.shape[1]):
        z = (
            _layer_norm(x[:, t] @ kernel, gk, bk, epsilon)
            + _layer_norm(h @ recurrent_kernel, gr, br, epsilon)
            + bias
        )
        i, f, g, o = np.split(z, 4, axis=-1)
        c = _layer_norm(_sigmoid(f) * c + _sigmoid(i) * np.tanh(g), gs, bs, epsilon)
        h = _sigmoid(o) * np.tanh(c)
        hs.append(h)
    return np.stack(hs, 1), h, c


@pytest.mark.parametrize("epsilon", [1e-3, 0.5])
def test_matches_the_equations(epsilon):
    layer = LayerNormLSTM(
        U, norm_epsilon=epsilon, return_sequences=True, return_state=True
    )
    layer.build((B, T, F))
    rng = np.random.default_rng(3)
    weights = [
        rng.uniform(-1, 1, w.shape).astype("float32") for w in layer.get_weights()
    ]
    layer.set_weights(weights)
    assert [w.shape for w in weights] == [
        (F, 4 * U), (U, 4 * U), (4 * U,), (4 * U,), (4 * U,), (4 * U,), (4 * U,), (U,), (U,)
    ]  # fmt: skip
    x = random_inputs((B, T, F))
    h0, c0 = random_inputs((B, U), seed=7), random_inputs((B, U), seed=8)
    expected = layernorm_lstm_numpy(x, weights, h0, c0, epsilon)
    checks.assert_close(layer(x, initial_state=[h0, c0]), expected)


def test_initial_weights():
    layer = LayerNormLSTM(
        U,
        norm_gamma_initializer=keras.initializers.Constant(0.5),
        norm_beta_initializer="ones",
    )
    layer.build((B, T, F))
    _, _, bias, *norms = layer.get_weights()
    np.testing.assert_array_equal(bias[U : 2 * U], 1.0)  # unit_forget_bias
    np.testing.assert_array_equal(bias[:U], 0.0)
    for gamma in norms[::2]:
        np.testing.assert_array_equal(gamma, 0.5)
    for beta in norms[1::2]:
        np.testing.assert_array_equal(beta, 1.0)


# --- gradients, float64 -------------------------------------------------------


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="Keras computes float64 in float32 on this backend (keras-team/keras#23704)",
)
def test_gradients_match_finite_differences():
    checks.check_finite_differences(
        lambda **kwargs: LayerNormLSTM(U, norm_epsilon=0.1, **kwargs)
    )


# --- behaviour ---------------------------------------------------------------


def _layernorm_lstm(**kwargs):
    return LayerNormLSTM(U, **kwargs)


@pytest.mark.backend_neutral
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_padding_anywhere_gives_the_unpadded_output_and_state(go_backwards):
    checks.check_padding_anywhere(_layernorm_lstm, go_backwards)


@pytest.mark.backend_neutral
def test_stateful_carries_the_state_across_calls():
    checks.check_stateful(_layernorm_lstm)


@pytest.mark.backend_neutral
def test_initial_state_continues_a_sequence():
    checks.check_initial_state(_layernorm_lstm)


@pytest.mark.backend_neutral
def test_step_gives_the_sequence():
    checks.check_step_matches_sequence(
        _layernorm_lstm, "layernorm_lstm", norm_epsilon=0.01
    )


@pytest.mark.backend_neutral
def test_dropout_only_in_training():
    checks.check_dropout_only_in_training(
        _layernorm_lstm, dropout=0.5, recurrent_dropout=0.5
    )


@pytest.mark.backend_neutral
def test_bidirectional_and_stacked():
    x = random_inputs((B, T, F))
    out = Bidirectional(LayerNormLSTM(U, return_sequences=True))(x)
    assert tuple(out.shape) == (B, T, 2 * U)
    stack = StackedRNN("layernorm_lstm", units=U, num_layers=2, return_state=True)
    out, *states = stack(x)
    assert [tuple(s.shape) for s in states] == [(B, U)] * 4


@pytest.mark.backend_neutral
def test_runs_inside_keras_rnn():
    checks.check_runs_inside_keras_rnn(lambda: LayerNormLSTMCell(U))


def test_batch_of_zero_sequences_gives_empty_outputs():
    checks.check_empty_batch(_layernorm_lstm)


def test_float64_layer_runs_on_every_backend():
    checks.check_float64(_layernorm_lstm)


# --- the layer contract --------------------------------------------------------

FIT = {"fit": BACKEND != "jax", "jit_compile": BACKEND != "torch"}
CONTRACT_SHAPE = (2, 5, 3)


def test_cell_contract():
    check_cell_contract(
        lambda dtype=None: LayerNormLSTMCell(U, dtype=dtype),
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
        lambda dtype=None: LayerNormLSTM(
            U, go_backwards=True, return_state=True, dtype=dtype
        ),
        CONTRACT_SHAPE,
        **FIT,
    )


# --- bad input ---------------------------------------------------------------


@pytest.mark.backend_neutral
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"norm_epsilon": 0.0}, ValueError, "`norm_epsilon` must be a positive float. Received: norm_epsilon=0.0"),
        ({"norm_epsilon": "1e-3"}, TypeError, "`norm_epsilon` must be a positive float. Received: norm_epsilon='1e-3' of type str"),
        ({"norm_gamma_initializer": "nope"}, ValueError, "nope"),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_argument(kwargs, error, message):
    with pytest.raises(error) as info:
        LayerNormLSTM(U, **kwargs)
    assert message in str(info.value)
