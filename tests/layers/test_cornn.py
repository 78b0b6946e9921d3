"""CoRNN (Rusch & Mishra, 2021): the paper's IMEX equations and the authors'
explicit variant in NumPy, finite differences, the layer contract and behaviour."""

import inspect

import keras
import numpy as np
import pytest

from rnn_zoo.layers import RNN, Bidirectional, CoRNN, CoRNNCell, StackedRNN
from tests.layers import _family_checks as checks
from tests.layers.contract import (
    check_cell_contract,
    check_layer_contract,
    random_inputs,
)

BACKEND = keras.backend.backend()
B, T, F, U = checks.BATCH, checks.TIMESTEPS, checks.FEATURES, checks.UNITS
# Large enough steps that the dynamics move visibly within T = 6.
SETTINGS = {"dt": 0.3, "gamma": 1.5, "epsilon": 2.0}


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def cornn_numpy(x, V, W_y, W_z, b, y0, z0, dt, gamma, epsilon, implicit=True):
    """Rusch & Mishra 2021, eq. 3 (IMEX), one step at a time:

    z_n = z_{n-1} + dt tanh(W y_{n-1} + W~ z_{n-1} + V u_n + b)
                  - dt gamma y_{n-1} - dt epsilon z_n
    y_n = y_{n-1} + dt z_n

    ``implicit=False``: ``- dt epsilon z_{n-1}`` (the authors' code).
    """
    y, z, ys = y0, z0, []
    for n in range(x.shape[1]):
        drive = np.tanh(y @ W_y + z @ W_z + x[:, n] @ V + b)
        if implicit:
            # Solve z_n (1 + dt epsilon) = z_{n-1} + dt (drive - gamma y_{n-1}).
            z = (z + dt * drive - dt * gamma * y) / (1 + dt * epsilon)
        else:
            z = z + dt * drive - dt * gamma * y - dt * epsilon * z
        y = y + dt * z
        ys.append(y)
    return np.stack(ys, 1), y, z


def _layer_with_random_weights(seed=3, **kwargs):
    layer = CoRNN(U, return_sequences=True, return_state=True, **kwargs)
    layer.build((B, T, F))
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.uniform(-1, 1, w.shape).astype("float32") for w in layer.get_weights()]
    )
    return layer


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({**SETTINGS}, id="imex"),
        pytest.param({**SETTINGS, "damping": "explicit"}, id="explicit"),
        pytest.param({"dt": 0.5, "gamma": 0.0, "epsilon": 0.0}, id="undamped"),
    ],
)
def test_matches_the_papers_equations(kwargs):
    layer = _layer_with_random_weights(**kwargs)
    V, recurrent, b = layer.get_weights()
    assert V.shape == (F, U) and recurrent.shape == (2 * U, U) and b.shape == (U,)
    x = random_inputs((B, T, F))
    y0, z0 = random_inputs((B, U), seed=7), random_inputs((B, U), seed=8)
    expected = cornn_numpy(
        x,
        V,
        recurrent[:U],
        recurrent[U:],
        b,
        y0,
        z0,
        kwargs["dt"],
        kwargs["gamma"],
        kwargs["epsilon"],
        implicit=kwargs.get("damping", "implicit") == "implicit",
    )
    checks.assert_close(layer(x, initial_state=[y0, z0]), expected)


def test_implicit_and_explicit_damping_differ_and_the_implicit_one_damps_stiff_settings():
    # dt * epsilon = 3 > 2: the explicit update of z overshoots and grows,
    # the IMEX one divides by 1 + dt * epsilon and stays bounded.
    x = np.zeros((1, 40, F), "float32")
    z0 = np.ones((1, U), "float32")
    results = {}
    for damping in ("implicit", "explicit"):
        layer = CoRNN(U, dt=0.3, gamma=0.0, epsilon=10.0, damping=damping)
        layer.build(x.shape)
        layer.set_weights([np.zeros(w.shape, "float32") for w in layer.get_weights()])
        layer_states = CoRNN.from_config({**layer.get_config(), "return_state": True})
        layer_states.build(x.shape)
        layer_states.set_weights(layer.get_weights())
        _, _, z = layer_states(x, initial_state=[np.zeros_like(z0), z0])
        results[damping] = np.abs(keras.ops.convert_to_numpy(z)).max()
    assert results["implicit"] < 1e-6
    assert results["explicit"] > 1e3


# --- gradients, float64 -------------------------------------------------------


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="Keras computes float64 in float32 on this backend (keras-team/keras#23704)",
)
@pytest.mark.parametrize("damping", ["implicit", "explicit"])
def test_gradients_match_finite_differences(damping):
    checks.check_finite_differences(
        lambda **kwargs: CoRNN(U, damping=damping, **SETTINGS, **kwargs)
    )


# --- behaviour ---------------------------------------------------------------


def _cornn(**kwargs):
    return CoRNN(U, **SETTINGS, **kwargs)


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_padding_anywhere_gives_the_unpadded_output_and_state(go_backwards):
    checks.check_padding_anywhere(_cornn, go_backwards)


def test_stateful_carries_the_state_across_calls():
    checks.check_stateful(_cornn)


def test_initial_state_continues_a_sequence():
    checks.check_initial_state(_cornn)


def test_step_gives_the_sequence():
    checks.check_step_matches_sequence(_cornn, "cornn", **SETTINGS)


def test_dropout_only_in_training():
    checks.check_dropout_only_in_training(_cornn, dropout=0.5, recurrent_dropout=0.5)


def test_bidirectional_and_stacked():
    x = random_inputs((B, T, F))
    out = Bidirectional(CoRNN(U, return_sequences=True))(x)
    assert tuple(out.shape) == (B, T, 2 * U)
    stack = StackedRNN("cornn", units=U, num_layers=2, return_state=True)
    out, *states = stack(x)
    assert [tuple(s.shape) for s in states] == [(B, U)] * 4


def test_runs_inside_keras_rnn():
    checks.check_runs_inside_keras_rnn(lambda: CoRNNCell(U, **SETTINGS))


def test_batch_of_zero_sequences_gives_empty_outputs():
    checks.check_empty_batch(_cornn)


def test_float64_layer_runs_on_every_backend():
    checks.check_float64(_cornn)


# --- the layer contract --------------------------------------------------------

FIT = {"fit": BACKEND != "jax", "jit_compile": BACKEND != "torch"}
CONTRACT_SHAPE = (2, 5, 3)


def test_cell_contract():
    check_cell_contract(
        lambda dtype=None: CoRNNCell(U, damping="explicit", dtype=dtype),
        CONTRACT_SHAPE,
        {"return_sequences": True, "return_state": True},
        fit=False,
        jit_compile=False,
        mixed_precision=False,
    )


def test_sequence_layer_contract():
    check_layer_contract(
        lambda dtype=None: CoRNN(
            U, go_backwards=True, return_state=True, dtype=dtype, **SETTINGS
        ),
        CONTRACT_SHAPE,
        **FIT,
    )


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"dt": 0}, ValueError, "`dt` must be a finite float > 0. Received: dt=0.0"),
        ({"dt": -0.1}, ValueError, "`dt` must be a finite float > 0. Received: dt=-0.1"),
        ({"dt": float("nan")}, ValueError, "`dt` must be a finite float > 0. Received: dt=nan"),
        ({"dt": "0.1"}, TypeError, "`dt` must be a finite float > 0. Received: dt='0.1' of type str"),
        ({"gamma": -1.0}, ValueError, "`gamma` must be a finite float >= 0. Received: gamma=-1.0"),
        ({"gamma": float("inf")}, ValueError, "`gamma` must be a finite float >= 0. Received: gamma=inf"),
        ({"epsilon": -0.5}, ValueError, "`epsilon` must be a finite float >= 0. Received: epsilon=-0.5"),
        ({"epsilon": None}, TypeError, "`epsilon` must be a finite float >= 0. Received: epsilon=None of type NoneType"),
        ({"damping": "semi"}, ValueError, "Unknown `damping`: expected one of ['explicit', 'implicit']. Received: damping='semi'"),
        ({"recurrent_dropout": 1.0}, ValueError, "`recurrent_dropout` must be a float in [0, 1). Received: recurrent_dropout=1.0"),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_argument(kwargs, error, message):
    with pytest.raises(error) as info:
        CoRNN(U, **kwargs)
    assert message in str(info.value)
    assert str(info.value).startswith("CoRNN: ")


@pytest.mark.parametrize("units", [0, -3])
def test_non_positive_units_are_refused(units):
    with pytest.raises(
        ValueError,
        match=rf"`units` must be a positive integer. Received: units={units}",
    ):
        CoRNN(units)


@pytest.mark.skipif(
    "timespans" not in inspect.signature(RNN.call).parameters,
    reason="the sequence layers take no timespans yet (issue 16's liquid part)",
)
def test_timespans_are_refused_as_by_every_cell_that_does_not_use_time():
    x = random_inputs((B, T, F))
    with pytest.raises(ValueError, match="does not use time"):
        CoRNN(U)(x, timespans=np.ones((B, T), "float32"))
