"""IndRNN (Li et al., 2018): the paper's equation in NumPy, the bound on the
recurrent weights, finite differences, the layer contract and behaviour."""

import keras
import numpy as np
import pytest
from keras import ops

from rnn_zoo.layers import Bidirectional, IndRNN, IndRNNCell, StackedRNN
from tests.layers import _family_checks as checks
from tests.layers._grads import value_and_grads
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


def indrnn_numpy(x, kernel, u, bias, h0, activation, bound=None):
    """Li et al. 2018: h_t = act(W x_t + u * h_{t-1} + b), u clipped to the bound."""
    if bound is not None:
        u = np.clip(u, -bound, bound)
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = activation(x[:, t] @ kernel + u * h + bias)
        hs.append(h)
    return np.stack(hs, 1), h


def _layer_with_random_weights(seed=3, **kwargs):
    layer = IndRNN(U, return_sequences=True, return_state=True, **kwargs)
    layer.build((B, T, F))
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.uniform(-1.5, 1.5, w.shape).astype("float32") for w in layer.get_weights()]
    )
    return layer


@pytest.mark.parametrize(
    "kwargs, activation",
    [
        pytest.param({}, lambda a: np.maximum(a, 0), id="relu"),
        pytest.param({"activation": "tanh"}, np.tanh, id="tanh"),
        pytest.param(
            {"recurrent_max_abs": 0.5}, lambda a: np.maximum(a, 0), id="relu-bounded"
        ),
    ],
)
def test_matches_the_papers_equation(kwargs, activation):
    layer = _layer_with_random_weights(**kwargs)
    kernel, u, bias = layer.get_weights()
    assert u.shape == (U,)
    x = random_inputs((B, T, F))
    h0 = np.abs(random_inputs((B, U), seed=7))
    bound = kwargs.get("recurrent_max_abs")
    if bound is not None:
        assert np.abs(u).max() > bound  # the clip is under test
    expected = indrnn_numpy(x, kernel, u, bias, h0, activation, bound)
    checks.assert_close(layer(x, initial_state=[h0]), expected)


def test_bound_clips_where_used_and_stops_the_gradient_of_clipped_weights():
    layer = _layer_with_random_weights(recurrent_max_abs=0.5)
    u = layer.get_weights()[1]
    x = random_inputs((B, T, F))

    def forward(call, x):
        return call(x)

    _, _, (_, u_grad, _) = value_and_grads(layer, forward, [x])
    outside = np.abs(u) > 0.5
    assert outside.any() and (~outside).any()
    np.testing.assert_array_equal(u_grad[outside], 0.0)
    assert np.abs(u_grad[~outside]).max() > 0
    np.testing.assert_array_equal(layer.get_weights()[1], u)  # stored weight kept


def test_default_recurrent_weights_lie_within_the_bound():
    layer = IndRNN(64, recurrent_max_abs=0.25)
    layer.build((B, T, F))
    u = ops.convert_to_numpy(layer.cell.recurrent_kernel)
    assert u.min() >= 0.0 and u.max() <= 0.25 and u.std() > 0


# --- gradients, float64 -------------------------------------------------------


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="Keras computes float64 in float32 on this backend (keras-team/keras#23704)",
)
def test_gradients_match_finite_differences():
    # tanh: ReLU's kink would break central differences at 0.
    checks.check_finite_differences(
        lambda **kwargs: IndRNN(U, activation="tanh", **kwargs)
    )


# --- behaviour ---------------------------------------------------------------


def _indrnn(**kwargs):
    return IndRNN(U, **kwargs)


@pytest.mark.backend_neutral
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_padding_anywhere_gives_the_unpadded_output_and_state(go_backwards):
    checks.check_padding_anywhere(_indrnn, go_backwards)


@pytest.mark.backend_neutral
def test_stateful_carries_the_state_across_calls():
    checks.check_stateful(_indrnn)


@pytest.mark.backend_neutral
def test_initial_state_continues_a_sequence():
    checks.check_initial_state(_indrnn)


@pytest.mark.backend_neutral
def test_step_gives_the_sequence():
    checks.check_step_matches_sequence(_indrnn, "indrnn", recurrent_max_abs=0.9)


@pytest.mark.backend_neutral
def test_dropout_only_in_training():
    checks.check_dropout_only_in_training(_indrnn, dropout=0.5, recurrent_dropout=0.5)


@pytest.mark.backend_neutral
def test_bidirectional_and_stacked():
    x = random_inputs((B, T, F))
    out = Bidirectional(IndRNN(U, return_sequences=True))(x)
    assert tuple(out.shape) == (B, T, 2 * U)
    stack = StackedRNN("indrnn", units=U, num_layers=2, return_state=True)
    out, *states = stack(x)
    assert [tuple(s.shape) for s in states] == [(B, U)] * 2


@pytest.mark.backend_neutral
def test_runs_inside_keras_rnn():
    checks.check_runs_inside_keras_rnn(lambda: IndRNNCell(U))


def test_batch_of_zero_sequences_gives_empty_outputs():
    checks.check_empty_batch(_indrnn)


def test_float64_layer_runs_on_every_backend():
    checks.check_float64(_indrnn)


# --- the layer contract --------------------------------------------------------

FIT = {"fit": BACKEND != "jax", "jit_compile": BACKEND != "torch"}
CONTRACT_SHAPE = (2, 5, 3)


def test_cell_contract():
    check_cell_contract(
        lambda dtype=None: IndRNNCell(U, recurrent_max_abs=2.0, dtype=dtype),
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
        lambda dtype=None: IndRNN(U, go_backwards=True, return_state=True, dtype=dtype),
        CONTRACT_SHAPE,
        **FIT,
    )


# --- bad input ---------------------------------------------------------------


@pytest.mark.backend_neutral
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"recurrent_max_abs": 0}, ValueError, "`recurrent_max_abs` must be None or a positive, finite float. Received: recurrent_max_abs=0"),
        ({"recurrent_max_abs": -1.0}, ValueError, "`recurrent_max_abs` must be None or a positive, finite float. Received: recurrent_max_abs=-1.0"),
        ({"recurrent_max_abs": float("inf")}, ValueError, "Received: recurrent_max_abs=inf"),
        ({"recurrent_max_abs": "1"}, TypeError, "`recurrent_max_abs` must be None or a positive float. Received: recurrent_max_abs='1' of type str"),
        ({"dropout": -0.1}, ValueError, "`dropout` must be a float in [0, 1). Received: dropout=-0.1"),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_argument(kwargs, error, message):
    with pytest.raises(error) as info:
        IndRNN(U, **kwargs)
    assert message in str(info.value)
