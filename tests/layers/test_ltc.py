"""LTC (Hasani et al., 2021): ncps.keras with the same weights and wirings
(from_ncps/to_ncps), irregular timespans, finite differences, wirings, the
layer contract and behaviour."""

import keras
import numpy as np
import pytest
from keras import ops

from rnn_zoo.layers import (
    LTC,
    NCP,
    AutoNCP,
    CustomWiring,
    FullyConnected,
    LTCCell,
    from_ncps,
    to_ncps,
)
from tests.layers import _family_checks as checks
from tests.layers import _liquid_checks as liquid
from tests.layers.contract import (
    check_cell_contract,
    check_layer_contract,
    numpy_list,
    random_inputs,
)

ncps_keras = pytest.importorskip("ncps.keras")
ncps_wirings = pytest.importorskip("ncps.wirings")

BACKEND = keras.backend.backend()
B, T, F, U = checks.BATCH, checks.TIMESTEPS, checks.FEATURES, checks.UNITS
NEURONS = 7  # an AutoNCP of 7 neurons, 2 of them outputs


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def _ncps_ltc(wiring, **kwargs):
    """A built ncps.keras.LTC with random (valid) weights."""
    theirs = ncps_keras.LTC(wiring, return_sequences=True, return_state=True, **kwargs)
    theirs.build((B, T, F))  # not a call: ncps's mixed memory does not run on JAX
    rng = np.random.default_rng(4)
    for variable in theirs.weights:
        value = ops.convert_to_numpy(variable.value)
        variable.assign(value * rng.uniform(0.5, 1.5, value.shape).astype("float32"))
    return theirs


def ncps_steps(theirs, x, timespans):
    """ncps.keras's LTCCell one step at a time, each with its elapsed time.

    ``LTCCell.call`` maps the ``(inputs, time)`` tuple instead of the inputs
    (ncps 1.0.1), so its own mapping and solver are called as ``call`` means
    to call them.
    """
    cell = theirs.cell
    # Backend tensors throughout: torch's operators do not take NumPy arrays.
    x, timespans = ops.convert_to_tensor(x), ops.convert_to_tensor(timespans)
    v, outputs = ops.zeros((x.shape[0], cell.state_size)), []
    for t in range(x.shape[1]):
        v = cell._ode_solver(cell._map_inputs(x[:, t]), v, timespans[:, t : t + 1])
        outputs.append(ops.convert_to_numpy(cell._map_outputs(v)))
    return np.stack(outputs, 1), ops.convert_to_numpy(v)


CONFIGS = {
    "fully_connected": (lambda: ncps_wirings.FullyConnected(U), {}),
    "auto_ncp": (lambda: ncps_wirings.AutoNCP(NEURONS, 2), {}),
    "ncp_linear_unfolds_3": (
        lambda: ncps_wirings.NCP(2, 2, 2, 2, 1, 2, 1),
        {"input_mapping": "linear", "output_mapping": None, "ode_unfolds": 3},
    ),
}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_matches_ncps_keras_with_irregular_timespans(config):
    make_wiring, kwargs = CONFIGS[config]
    theirs = _ncps_ltc(make_wiring(), **kwargs)
    ours = from_ncps(theirs)
    assert isinstance(ours, LTC) and isinstance(ours.wiring, CustomWiring)
    x, ts = random_inputs((B, T, F)), liquid.irregular_timespans()
    expected_outputs, expected_state = ncps_steps(theirs, x, ts)
    outputs, state = numpy_list(ours(x, timespans=ts))
    np.testing.assert_allclose(outputs, expected_outputs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(state, expected_state, rtol=1e-5, atol=1e-5)
    # Regular time: the whole ncps layer.
    for got, want in zip(numpy_list(ours(x)), numpy_list(theirs(x)), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_mixed_memory_matches_ncps_keras():
    theirs = _ncps_ltc(ncps_wirings.AutoNCP(NEURONS, 2), mixed_memory=True)
    ours = from_ncps(theirs)
    x = random_inputs((B, T, F))
    # ncps's MixedMemoryRNN stepped by hand (its nested states are more than
    # Keras's scan takes on JAX); its LTCCell reads no time, so 1.0 per step.
    memory, v, outputs = (
        np.zeros((B, NEURONS), "float32"),
        np.zeros((B, NEURONS), "float32"),
        [],
    )
    for t in range(T):
        out, (memory, (v,)) = theirs.cell(x[:, t], [memory, v])
        outputs.append(ops.convert_to_numpy(out))
    got_outputs, got_memory, got_v = numpy_list(ours(x))
    expected = [np.stack(outputs, 1), memory, v]
    for got, want in zip([got_outputs, got_memory, got_v], expected, strict=True):
        np.testing.assert_allclose(
            got, ops.convert_to_numpy(want), rtol=1e-5, atol=1e-5
        )


def test_to_ncps_gives_the_same_layer():
    ours = LTC(NEURONS, wiring=AutoNCP(NEURONS, 2, seed=3), return_sequences=True)
    x = random_inputs((B, T, F))
    ours(x)
    theirs = to_ncps(ours)
    assert isinstance(theirs, ncps_keras.LTC)
    np.testing.assert_allclose(
        ops.convert_to_numpy(theirs(x)), ops.convert_to_numpy(ours(x)), atol=1e-5
    )
    ts = liquid.irregular_timespans()
    expected, _ = ncps_steps(theirs, x, ts)
    np.testing.assert_allclose(
        ops.convert_to_numpy(ours(x, timespans=ts)), expected, atol=1e-5
    )


def test_defaults_are_ncps_defaults():
    ours, theirs = LTC(U), ncps_keras.LTC(U)
    x = random_inputs((B, T, F))
    ours(x), theirs(x)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    assert ours.ode_unfolds == 6 and ours.epsilon == 1e-8
    # The constrained parameters stay non-negative after a step that pushes them down.
    assert {w.name for w in ours.weights if w.constraint is not None} == {
        "gleak",
        "cm",
        "w",
        "sensory_w",
    }


# --- wirings -------------------------------------------------------------------


def test_wiring_masks_the_synapses():
    wiring = AutoNCP(NEURONS, 2, sparsity_level=0.6, seed=5)
    layer = LTC(NEURONS, wiring=wiring, return_state=True)
    x = random_inputs((B, T, F))
    output, _ = layer(x)
    assert tuple(output.shape) == (B, 2)  # the motor neurons
    adjacency, sensory = wiring.build(F)
    np.testing.assert_array_equal(layer.cell.sparsity_mask, np.abs(adjacency))
    np.testing.assert_array_equal(
        ops.convert_to_numpy(layer.cell.erev.value), adjacency.astype("float32")
    )
    assert 0 < np.abs(adjacency).sum() < NEURONS**2
    # A weight on a missing synapse changes nothing; on a present one it does.
    absent = tuple(np.argwhere(adjacency == 0)[0])
    present = tuple(np.argwhere(adjacency != 0)[0])
    before = ops.convert_to_numpy(layer(x)[0])
    for index, changes in ((absent, False), (present, True)):
        w = ops.convert_to_numpy(layer.cell.w.value)
        w[index] += 5.0
        layer.cell.w.assign(w)
        after = ops.convert_to_numpy(layer(x)[0])
        assert np.allclose(after, before) != changes
        before = after


def test_ncp_structure():
    wiring = NCP(
        4,
        3,
        2,
        sensory_fanout=2,
        inter_fanout=2,
        recurrent_command_synapses=3,
        motor_fanin=2,
    )
    adjacency, sensory = wiring.build(F)
    motor, command, inter = range(0, 2), range(2, 5), range(5, 9)
    assert (np.abs(sensory[:, list(inter)]).sum(axis=1) == 2).all()  # fan-out 2
    assert not sensory[:, list(motor) + list(command)].any()
    assert (
        np.abs(adjacency[np.ix_(list(command), list(motor))]).sum(axis=0) >= 2
    ).all()
    assert not adjacency[np.ix_(list(motor), list(inter))].any()
    # Deterministic: a rebuilt wiring (from its config) has the same synapses.
    again = NCP.from_config(wiring.get_config()).build(F)
    np.testing.assert_array_equal(again[0], adjacency)
    np.testing.assert_array_equal(again[1], sensory)


def test_wired_layer_round_trips_through_keras_file():
    check_layer_contract(
        lambda dtype=None: LTC(AutoNCP(NEURONS, 2), return_sequences=True, dtype=dtype),
        CONTRACT_SHAPE,
        fit=False,
        jit_compile=False,
        mixed_precision=False,
    )


# --- gradients, float64 -------------------------------------------------------


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="Keras computes float64 in float32 on this backend (keras-team/keras#23704)",
)
@pytest.mark.parametrize("mixed_memory", [False, True], ids=["plain", "mixed_memory"])
def test_gradients_match_finite_differences(mixed_memory):
    # Positive conductances and capacitances, as the constraints keep them.
    def make(**kwargs):
        return LTC(U, ode_unfolds=2, mixed_memory=mixed_memory, **kwargs)

    checks.check_finite_differences(
        make, weights_scale=1.0, weights_low=0.1, timespans=True
    )


# --- behaviour ---------------------------------------------------------------


def _ltc(**kwargs):
    return LTC(U, ode_unfolds=3, **kwargs)


def _wired(**kwargs):
    return LTC(NEURONS, wiring=AutoNCP(NEURONS, U - 1), ode_unfolds=3, **kwargs)


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_padding_anywhere_gives_the_unpadded_output_and_state(go_backwards):
    checks.check_padding_anywhere(_wired, go_backwards)


def test_padding_with_timespans():
    liquid.check_padding_with_timespans(_wired)


def test_masking_layer_mask_reaches_the_layer_beside_timespans():
    liquid.check_masking_layer_with_timespans(_ltc, "ltc")


def test_timespans_change_the_output():
    liquid.check_time_changes_the_output(_ltc)


def test_go_backwards_reverses_the_timespans():
    liquid.check_go_backwards_reverses_the_timespans(_ltc)


def test_step_with_timespans_gives_the_sequence():
    liquid.check_step_with_timespans(_ltc, "ltc", ode_unfolds=3)


def test_stateful_carries_the_state_across_calls():
    checks.check_stateful(_ltc)


def test_initial_state_continues_a_sequence():
    checks.check_initial_state(_ltc)


def test_dropout_only_in_training():
    checks.check_dropout_only_in_training(_ltc, dropout=0.5, recurrent_dropout=0.5)


def test_runs_inside_keras_rnn():
    checks.check_runs_inside_keras_rnn(lambda: LTCCell(U, ode_unfolds=3))


def test_batch_of_zero_sequences_gives_empty_outputs():
    checks.check_empty_batch(_ltc)


def test_float64_layer_runs_on_every_backend():
    checks.check_float64(_ltc)


def test_functional_model_with_timespans():
    liquid.check_functional_model_with_timespans(lambda: _wired(return_sequences=True))


# --- the layer contract --------------------------------------------------------

FIT = {"fit": BACKEND != "jax", "jit_compile": BACKEND != "torch"}
CONTRACT_SHAPE = (2, 5, 3)


def test_cell_contract():
    check_cell_contract(
        lambda dtype=None: LTCCell(U, ode_unfolds=3, mixed_memory=True, dtype=dtype),
        CONTRACT_SHAPE,
        {"return_sequences": True, "return_state": True},
        fit=False,
        jit_compile=False,
        mixed_precision=False,
    )


def test_sequence_layer_contract():
    check_layer_contract(
        lambda dtype=None: LTC(
            U, ode_unfolds=1, go_backwards=True, return_state=True, dtype=dtype
        ),
        CONTRACT_SHAPE,
        **FIT,
    )


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"ode_unfolds": 0}, ValueError, "`ode_unfolds` must be a positive integer. Received: ode_unfolds=0"),
        ({"ode_unfolds": -2}, ValueError, "Received: ode_unfolds=-2"),
        ({"epsilon": 0.0}, ValueError, "`epsilon` must be a positive float. Received: epsilon=0.0"),
        ({"input_mapping": "sigmoid"}, ValueError, "Unknown `input_mapping`"),
        ({"wiring": FullyConnected(5)}, ValueError, "`wiring` must have `units` neurons (4). Received: a FullyConnected wiring of 5 neurons"),
        ({"wiring": "ncp"}, TypeError, "`wiring` must be an rnn_zoo wiring (FullyConnected, NCP, AutoNCP, CustomWiring) or None. Received: wiring='ncp'"),
        ({"initialization_ranges": {"gleak": (-1, 1)}}, ValueError, "`initialization_ranges['gleak']` must be (low, high) with low <= high with low >= 0. Received: (-1, 1)"),
        ({"initialization_ranges": {"tau": (0, 1)}}, ValueError, "Unknown key in `initialization_ranges`"),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_argument(kwargs, error, message):
    with pytest.raises(error) as info:
        LTC(U, **kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: AutoNCP(5, 3), ValueError, "`output_size` must be less than units - 2 (3) for units=5. Received: output_size=3"),
        (lambda: AutoNCP(10, 2, sparsity_level=1.0), ValueError, "`sparsity_level` must be in [0.1, 1.0). Received: sparsity_level=1.0"),
        (lambda: NCP(2, 2, 2, 3, 1, 1, 1), ValueError, "`sensory_fanout` must be at most `inter_neurons` (2). Received: sensory_fanout=3"),
        (lambda: FullyConnected(4, output_dim=5), ValueError, "`output_dim` must be at most the number of neurons (4). Received: output_dim=5"),
        (lambda: CustomWiring(np.ones((3, 3)), np.ones((2, 4))), ValueError, "`adjacency` must be (units, units) and `sensory` (input_dim, units)"),
    ],
)  # fmt: skip
def test_bad_wirings_name_the_argument(make, error, message):
    with pytest.raises(error) as info:
        make()
    assert message in str(info.value)


@liquid.bad_timespans
def test_bad_timespans_name_the_argument(timespans, error, message):
    liquid.check_timespans_errors(_ltc, timespans, error, message)
