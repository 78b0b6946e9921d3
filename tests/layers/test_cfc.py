"""CfC (Hasani et al., 2022): ncps.keras with the same weights (from_ncps/to_ncps),
irregular timespans, finite differences, the layer contract and behaviour."""

import keras
import numpy as np
import pytest
from keras import ops

from rnn_zoo.layers import CfC, CfCCell, from_ncps, to_ncps
from tests.layers import _family_checks as checks
from tests.layers import _liquid_checks as liquid
from tests.layers.contract import (
    check_cell_contract,
    check_layer_contract,
    numpy_list,
    random_inputs,
)

ncps_keras = pytest.importorskip("ncps.keras")

BACKEND = keras.backend.backend()
B, T, F, U = checks.BATCH, checks.TIMESTEPS, checks.FEATURES, checks.UNITS
BACKBONE = 5


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


CONFIGS = {
    "default": {},
    "pure": {"mode": "pure"},
    "no_gate": {"mode": "no_gate"},
    "no_backbone": {"backbone_layers": 0},
    "two_layers_relu": {"backbone_layers": 2, "activation": "relu"},
    "mixed_memory": {"mixed_memory": True},
    "pure_mixed_memory": {"mode": "pure", "mixed_memory": True},
}


def _ncps_cfc(**kwargs):
    """A built ncps.keras.CfC with random weights (A, w_tau and the biases too)."""
    theirs = ncps_keras.CfC(
        U, backbone_units=BACKBONE, return_sequences=True, return_state=True, **kwargs
    )
    theirs.build((B, T, F))  # not a call: ncps's mixed memory does not run on JAX
    liquid.randomize_weights(theirs)
    return theirs


def ncps_steps(theirs, x, timespans):
    """ncps.keras's own cell, one step at a time, with each step's elapsed time.

    ``ncps.keras.CfC`` (a keras.layers.RNN) does not pass per-step times
    through Keras 3's RNN, so the cell is called directly: CfCCell reads
    ``(inputs, time)``; MixedMemoryRNN hands ``time=`` to its CfCCell, one
    scalar per call, so that case runs one sequence at a time.
    """
    cell = theirs.cell
    if type(cell).__name__ != "MixedMemoryRNN":
        h, outputs = np.zeros((x.shape[0], U), "float32"), []
        for t in range(x.shape[1]):
            out, (h,) = cell((x[:, t], timespans[:, t : t + 1]), [h])
            outputs.append(ops.convert_to_numpy(out))
        return np.stack(outputs, 1), [ops.convert_to_numpy(h)]
    rows, memories, hs = [], [], []
    for b in range(x.shape[0]):
        memory, h, outputs = (
            np.zeros((1, U), "float32"),
            np.zeros((1, U), "float32"),
            [],
        )
        for t in range(x.shape[1]):
            out, (memory, (h,)) = cell(
                x[b : b + 1, t], [memory, h], time=float(timespans[b, t])
            )
            outputs.append(ops.convert_to_numpy(out))
        rows.append(np.concatenate(outputs))
        memories.append(ops.convert_to_numpy(memory))
        hs.append(ops.convert_to_numpy(h))
    return np.stack(rows), [np.concatenate(memories), np.concatenate(hs)]


@pytest.mark.parametrize("config", list(CONFIGS))
def test_matches_ncps_keras_with_irregular_timespans(config):
    theirs = _ncps_cfc(**CONFIGS[config])
    ours = from_ncps(theirs)
    assert isinstance(ours, CfC) and ours.mode == CONFIGS[config].get("mode", "default")
    x, ts = random_inputs((B, T, F)), liquid.irregular_timespans()
    expected_outputs, expected_states = ncps_steps(theirs, x, ts)
    outputs, *states = numpy_list(ours(x, timespans=ts))
    np.testing.assert_allclose(outputs, expected_outputs, rtol=1e-5, atol=1e-5)
    for got, want in zip(states, expected_states, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("config", ["default", "pure", "mixed_memory"])
def test_to_ncps_gives_the_same_layer(config):
    ours = CfC(U, backbone_units=BACKBONE, return_sequences=True, **CONFIGS[config])
    x = random_inputs((B, T, F))
    ours(x)
    liquid.randomize_weights(ours)
    theirs = to_ncps(ours)
    assert isinstance(theirs, ncps_keras.CfC)
    # The whole ncps layer (regular time), and its cell with irregular time.
    # On JAX, Keras's scan refuses the nested states of ncps's MixedMemoryRNN.
    if not (BACKEND == "jax" and CONFIGS[config].get("mixed_memory")):
        np.testing.assert_allclose(
            ops.convert_to_numpy(theirs(x)), ops.convert_to_numpy(ours(x)), atol=1e-5
        )
    ts = liquid.irregular_timespans()
    expected, _ = ncps_steps(theirs, x, ts)
    np.testing.assert_allclose(
        ops.convert_to_numpy(ours(x, timespans=ts)), expected, atol=1e-5
    )
    back = from_ncps(theirs)
    for got, want in zip(back.get_weights(), ours.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_defaults_are_ncps_defaults():
    ours, theirs = CfC(U), ncps_keras.CfC(U)
    x = random_inputs((B, T, F))
    ours(x), theirs(x)
    assert sorted(tuple(w.shape) for w in ours.weights) == sorted(
        tuple(w.shape) for w in theirs.weights
    )
    assert ours.backbone_units == 128 and ours.backbone_layers == 1
    np.testing.assert_allclose(
        ours.cell.activation(np.float32(1.0)), 1.7159 * np.tanh(0.666)
    )


def test_converters_refuse_what_has_no_counterpart():
    from ncps import wirings

    wired = ncps_keras.CfC(wirings.AutoNCP(8, 2))
    wired(random_inputs((B, T, F)))
    with pytest.raises(
        ValueError, match="a wired CfC or a sparsity_mask has no counterpart"
    ):
        from_ncps(wired)
    with pytest.raises(ValueError, match="must be built"):
        from_ncps(ncps_keras.CfC(U))
    with pytest.raises(TypeError, match="must be an ncps.keras.CfC or ncps.keras.LTC"):
        from_ncps(keras.layers.LSTM(U))
    layer = CfC(U, backbone_units=BACKBONE, recurrent_dropout=0.5)
    layer(random_inputs((B, T, F)))
    with pytest.raises(
        ValueError, match="has no `recurrent_dropout`. Received: recurrent_dropout=0.5"
    ):
        to_ncps(layer)


# --- gradients, float64 -------------------------------------------------------


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="Keras computes float64 in float32 on this backend (keras-team/keras#23704)",
)
@pytest.mark.parametrize("config", ["default", "pure", "mixed_memory"])
def test_gradients_match_finite_differences(config):
    checks.check_finite_differences(
        lambda **kwargs: CfC(U, backbone_units=3, **CONFIGS[config], **kwargs),
        timespans=True,
    )


# --- behaviour ---------------------------------------------------------------


def _cfc(**kwargs):
    return CfC(U, backbone_units=BACKBONE, **kwargs)


def _cfc_mixed(**kwargs):
    return CfC(U, backbone_units=BACKBONE, mixed_memory=True, **kwargs)


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_padding_anywhere_gives_the_unpadded_output_and_state(go_backwards):
    checks.check_padding_anywhere(_cfc_mixed, go_backwards)


def test_padding_with_timespans():
    liquid.check_padding_with_timespans(_cfc)


def test_masking_layer_mask_reaches_the_layer_beside_timespans():
    liquid.check_masking_layer_with_timespans(_cfc, "cfc")


def test_timespans_change_the_output():
    liquid.check_time_changes_the_output(_cfc)


def test_go_backwards_reverses_the_timespans():
    liquid.check_go_backwards_reverses_the_timespans(_cfc_mixed)


def test_step_with_timespans_gives_the_sequence():
    liquid.check_step_with_timespans(_cfc, "cfc", backbone_units=BACKBONE)


def test_stateful_carries_the_state_across_calls():
    checks.check_stateful(_cfc_mixed)


def test_initial_state_continues_a_sequence():
    checks.check_initial_state(_cfc)


def test_step_gives_the_sequence():
    checks.check_step_matches_sequence(_cfc, "cfc", backbone_units=BACKBONE)


def test_dropout_only_in_training():
    checks.check_dropout_only_in_training(
        _cfc, dropout=0.5, recurrent_dropout=0.5, backbone_dropout=0.5
    )


def test_backbone_dropout_alone_acts_in_training():
    checks.check_dropout_only_in_training(_cfc, backbone_dropout=0.5)


def test_runs_inside_keras_rnn():
    checks.check_runs_inside_keras_rnn(lambda: CfCCell(U, backbone_units=BACKBONE))


def test_batch_of_zero_sequences_gives_empty_outputs():
    checks.check_empty_batch(_cfc)


def test_float64_layer_runs_on_every_backend():
    checks.check_float64(_cfc)


def test_functional_model_with_timespans():
    liquid.check_functional_model_with_timespans(lambda: _cfc(return_sequences=True))


# --- the layer contract --------------------------------------------------------

FIT = {"fit": BACKEND != "jax", "jit_compile": BACKEND != "torch"}
CONTRACT_SHAPE = (2, 5, 3)


def test_cell_contract():
    check_cell_contract(
        lambda dtype=None: CfCCell(
            U, backbone_units=BACKBONE, mixed_memory=True, dtype=dtype
        ),
        CONTRACT_SHAPE,
        {"return_sequences": True, "return_state": True},
        fit=False,
        jit_compile=False,
        mixed_precision=False,
    )


def test_sequence_layer_contract():
    check_layer_contract(
        lambda dtype=None: CfC(
            U,
            backbone_units=BACKBONE,
            mode="no_gate",
            go_backwards=True,
            return_state=True,
            dtype=dtype,
        ),
        CONTRACT_SHAPE,
        **FIT,
    )


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"mode": "gated"}, ValueError, "Unknown `mode`: expected one of ['default', 'no_gate', 'pure']. Received: mode='gated'"),
        ({"backbone_units": 0}, ValueError, "`backbone_units` must be a positive integer. Received: backbone_units=0"),
        ({"backbone_units": 2.5}, TypeError, "`backbone_units` must be a positive integer. Received: backbone_units=2.5 of type float"),
        ({"backbone_layers": -1}, ValueError, "`backbone_layers` must be a non-negative integer (0: no backbone). Received: backbone_layers=-1"),
        ({"backbone_dropout": 1.0}, ValueError, "`backbone_dropout` must be a float in [0, 1). Received: backbone_dropout=1.0"),
        ({"mixed_memory": "yes"}, TypeError, "`mixed_memory` must be True or False. Received: mixed_memory='yes' of type str"),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_argument(kwargs, error, message):
    with pytest.raises(error) as info:
        CfC(U, **kwargs)
    assert message in str(info.value)
    assert str(info.value).startswith("CfC: ")


@liquid.bad_timespans
def test_bad_timespans_name_the_argument(timespans, error, message):
    liquid.check_timespans_errors(_cfc, timespans, error, message)
