"""HamiltonianRNN: leapfrog on a learned separable Hamiltonian, in NumPy step by
step; its energy and closed-form gradients; energy conservation and time
reversal over 10,000 free steps; finite differences, the contract, behaviour."""

import inspect
import os

import keras
import numpy as np
import pytest
from keras import ops

from rnn_zoo.layers import (
    RNN,
    Bidirectional,
    HamiltonianRNN,
    HamiltonianRNNCell,
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
# JAX computes float64 in float32 unless it has x64.
FLOAT64 = BACKEND != "jax" or bool(os.environ.get("JAX_ENABLE_X64"))


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


# --- the equations in NumPy ----------------------------------------------------


def logcosh(x):
    return np.logaddexp(x, -x) - np.log(2.0)


def energy_numpy(q, p, w, force=0.0):
    """H(q, p) = T(p) + V(q) - q . f, written out."""
    K, M, C, c, r, A, s = w
    kinetic = 0.5 * np.sum((p @ M) ** 2, -1) + np.sum(s * logcosh(p @ A), -1)
    potential = 0.5 * np.sum((q @ K) ** 2, -1) + np.sum(r * logcosh(q @ C + c), -1)
    return kinetic + potential - np.sum(q * force, -1)


def gradients_numpy(q, p, w):
    """dV/dq and dT/dp of ``energy_numpy`` without the force (logcosh' = tanh)."""
    K, M, C, c, r, A, s = w
    dV = (q @ K) @ K.T + (r * np.tanh(q @ C + c)) @ C.T
    dT = (p @ M) @ M.T + (s * np.tanh(p @ A)) @ A.T
    return dV, dT


def leapfrog_numpy(x, W, b, w, q, p, dt, substeps=1):
    """Störmer-Verlet (kick-drift-kick) of H - q . (x_t W + b), per input step."""
    h, qs = dt / substeps, []
    for t in range(x.shape[1]):
        force = x[:, t] @ W + b
        for _ in range(substeps):
            p = p - 0.5 * h * (gradients_numpy(q, p, w)[0] - force)
            q = q + h * gradients_numpy(q, p, w)[1]
            p = p - 0.5 * h * (gradients_numpy(q, p, w)[0] - force)
        qs.append(q)
    return np.stack(qs, 1), q, p


def _split(weights):
    """``get_weights()`` as (W, energy weights, b)."""
    return weights[0], weights[1:8], weights[8]


def _random_cell_weights(layer_or_cell, scale, seed=3, dtype="float32"):
    rng = np.random.default_rng(seed)
    layer_or_cell.set_weights(
        [
            rng.uniform(-scale, scale, w.shape).astype(dtype)
            for w in layer_or_cell.get_weights()
        ]
    )


def test_weights_have_the_documented_shapes():
    layer = HamiltonianRNN(U, energy_units=5)
    layer.build((B, T, F))
    assert [w.shape for w in layer.get_weights()] == [
        (F, U), (U, U), (U, U), (U, 5), (5,), (5,), (U, 5), (5,), (U,)
    ]  # fmt: skip


@pytest.mark.parametrize("substeps", [1, 3])
def test_matches_leapfrog_written_out(substeps):
    layer = HamiltonianRNN(
        U, dt=0.3, integration_steps=substeps, return_sequences=True, return_state=True
    )
    layer.build((B, T, F))
    _random_cell_weights(layer, 1.0)
    W, w, b = _split(layer.get_weights())
    x = random_inputs((B, T, F))
    q0, p0 = random_inputs((B, U), seed=7), random_inputs((B, U), seed=8)
    expected = leapfrog_numpy(x, W, b, w, q0, p0, 0.3, substeps)
    checks.assert_close(layer(x, initial_state=[q0, p0]), expected)


def test_energy_and_its_closed_form_gradients_match_numpy_and_finite_differences():
    layer = HamiltonianRNN(U, dtype="float64")
    layer.build((B, T, F))
    _random_cell_weights(layer, 1.0, dtype="float64")
    W, w, b = _split(layer.get_weights())
    rng = np.random.default_rng(1)
    q, p, x = rng.standard_normal((3, B, U)), rng.standard_normal((3, B, U))[0], None
    q = q[0]
    x = rng.standard_normal((B, F))
    # Only TensorFlow computes every op of energy() in float64 (on torch the
    # energy is off by 4e-7, on JAX without x64 float32).
    exact = BACKEND == "tensorflow"
    tolerance = {"rtol": 1e-12 if exact else 1e-5, "atol": 0 if exact else 1e-5}
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer.energy(q, p)), energy_numpy(q, p, w, b), **tolerance
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer.energy(q, p, inputs=x)),
        energy_numpy(q, p, w, x @ W + b),
        **tolerance,
    )
    # The gradients the step uses are those of the energy it reports.
    eps = 1e-6
    dV, dT = gradients_numpy(q, p, w)
    for which, analytic in ((0, dV), (1, dT)):
        numeric = np.zeros_like(analytic)
        for i in range(U):
            step = np.zeros(U)
            step[i] = eps
            args = (
                [[q + step, p], [q - step, p]]
                if which == 0
                else [[q, p + step], [q, p - step]]
            )
            numeric[:, i] = (energy_numpy(*args[0], w) - energy_numpy(*args[1], w)) / (
                2 * eps
            )
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
    cell_dV = layer.cell._potential_gradient(q, layer.cell.step_weights("float64"))
    np.testing.assert_allclose(ops.convert_to_numpy(cell_dV), dV, **tolerance)


def test_the_kinetic_energy_is_even_in_p():
    cell = HamiltonianRNNCell(U)
    cell.build((B, F))
    _random_cell_weights(cell, 1.0)
    q, p = random_inputs((B, U), seed=1), random_inputs((B, U), seed=2)
    np.testing.assert_allclose(
        ops.convert_to_numpy(cell.energy(q, p)),
        ops.convert_to_numpy(cell.energy(q, -p)),
        rtol=1e-6,
    )


# --- energy conservation and time reversal --------------------------------------

FREE_STEPS = 10_000


class _Trajectory(keras.layers.Layer):
    """A Keras-style cell that outputs the whole state [q, p] of the cell it wraps."""

    def __init__(self, cell, **kwargs):
        super().__init__(**kwargs)
        self.cell = cell
        self.state_size = cell.state_size
        self.output_size = 2 * cell.units

    def build(self, input_shape):
        if not self.cell.built:
            self.cell.build(input_shape)

    def call(self, inputs, states):
        _, new_states = self.cell(inputs, states)
        return ops.concatenate(new_states, -1), new_states


def _free_rollout(cell, dtype):
    """``rollout(q0, p0)``: (q_t, p_t) for t = 1..FREE_STEPS with no input, in
    one compiled loop (``predict``)."""
    inputs = keras.Input((FREE_STEPS, 1), dtype=dtype)
    starts = [keras.Input((cell.units,), dtype=dtype) for _ in range(2)]
    layer = RNN(_Trajectory(cell, dtype=dtype), return_sequences=True, dtype=dtype)
    model = keras.Model([inputs, *starts], layer(inputs, initial_state=starts))
    zeros = np.zeros((B, FREE_STEPS, 1), dtype)

    def rollout(q0, p0):
        out = model.predict([zeros, q0, p0], batch_size=B, verbose=0)
        return out[..., : cell.units], out[..., cell.units :]

    return rollout


def _energy_is_conserved(energies, eps=0.0):
    """No secular drift: the energy error of the second half of the rollout is
    no larger than that of the first (with room for the oscillation's phase),
    and its linear trend over the rollout is below a fifth of its amplitude,
    plus the round-off of ``eps`` (the dtype's machine epsilon) accumulated
    over every step: in float32 rounding alone moves H by about eps * steps."""
    error = energies - energies[:, :1]
    half = error.shape[1] // 2
    first = np.abs(error[:, :half]).max(1)
    second = np.abs(error[:, half:]).max(1)
    steps = np.arange(error.shape[1])
    trend = np.polyfit(steps, error.T, 1)[0] * error.shape[1]
    round_off = eps * error.shape[1] * np.abs(energies[:, 0])
    return bool(
        np.all(second <= 1.5 * first)
        and np.all(np.abs(trend) < 0.2 * first + round_off)
    )


def test_free_rollout_conserves_the_energy_and_reverses_to_the_start():
    dtype = "float64" if FLOAT64 else "float32"
    cell = HamiltonianRNNCell(3, dt=0.1, dtype=dtype)
    cell.build((B, 1))
    # Weights in [-0.5, 0.5]: larger ones make this 3-oscillator system
    # chaotic, where any round-off grows exponentially over 10,000 steps.
    _random_cell_weights(cell, 0.5, seed=0, dtype=dtype)
    rng = np.random.default_rng(0)
    q0, p0 = (rng.standard_normal((B, 3)).astype(dtype) for _ in range(2))
    rollout = _free_rollout(cell, dtype)
    q, p = rollout(q0, p0)
    energy = ops.convert_to_numpy(
        cell.energy(q.reshape(-1, 3), p.reshape(-1, 3))
    ).reshape(B, FREE_STEPS)
    start = ops.convert_to_numpy(cell.energy(q0, p0))
    energies = np.concatenate([start[:, None], energy], 1)
    # Float32 (JAX without x64): measured trends of 4e-5 against an
    # oscillation of 2.3e-4 at |H| 0.24, i.e. round-off, not the integrator.
    eps = 0.0 if FLOAT64 else float(np.finfo("float32").eps)
    assert _energy_is_conserved(energies, eps)
    # Leapfrog's bounded O(dt^2) oscillation (dt^2 = 1e-2; measured 1.2e-3).
    assert np.abs(energies - start[:, None]).max() < 1e-2 * np.abs(start).min()

    # The same weights under explicit Euler drift away within 500 steps (its
    # energy grows by about 1 + (dt omega)^2 a step): the check can fail.
    W, w, b = _split(cell.get_weights())
    qe, pe = q0.astype("float64"), p0.astype("float64")
    euler = [energy_numpy(qe, pe, w, b)]
    for _ in range(500):
        dV, dT = gradients_numpy(qe, pe, w)
        qe, pe = qe + 0.1 * dT, pe - 0.1 * (dV - b)
        euler.append(energy_numpy(qe, pe, w, b))
    euler = np.stack(euler, 1)
    assert np.isfinite(euler).all() and not _energy_is_conserved(euler, eps)

    # Time reversal: from (q_N, -p_N), N steps lead back to (q_0, -p_0).
    q_back, p_back = rollout(q[:, -1], -p[:, -1])
    # float32 round-off over 2 x 10,000 steps is about 1e-4 (JAX without x64).
    tolerance = 1e-4 if FLOAT64 else 1e-3
    np.testing.assert_allclose(q_back[:, -1], q0, atol=tolerance)
    np.testing.assert_allclose(-p_back[:, -1], p0, atol=tolerance)


# --- gradients, float64 -------------------------------------------------------


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="Keras computes float64 in float32 on this backend (keras-team/keras#23704)",
)
def test_gradients_match_finite_differences():
    checks.check_finite_differences(
        lambda **kwargs: HamiltonianRNN(
            U, dt=0.3, integration_steps=2, energy_units=3, **kwargs
        )
    )


# --- behaviour ---------------------------------------------------------------


def _hamiltonian(**kwargs):
    return HamiltonianRNN(U, dt=0.3, **kwargs)


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_padding_anywhere_gives_the_unpadded_output_and_state(go_backwards):
    checks.check_padding_anywhere(_hamiltonian, go_backwards)


def test_stateful_carries_the_state_across_calls():
    checks.check_stateful(_hamiltonian)


def test_initial_state_continues_a_sequence():
    checks.check_initial_state(_hamiltonian)


def test_step_gives_the_sequence():
    checks.check_step_matches_sequence(_hamiltonian, "hamiltonian", dt=0.3)


def test_dropout_only_in_training():
    checks.check_dropout_only_in_training(_hamiltonian, dropout=0.5)


def test_bidirectional_and_stacked():
    x = random_inputs((B, T, F))
    out = Bidirectional(HamiltonianRNN(U, return_sequences=True))(x)
    assert tuple(out.shape) == (B, T, 2 * U)
    stack = StackedRNN("hamiltonian", units=U, num_layers=2, return_state=True)
    out, *states = stack(x)
    assert [tuple(s.shape) for s in states] == [(B, U)] * 4


def test_runs_inside_keras_rnn():
    checks.check_runs_inside_keras_rnn(lambda: HamiltonianRNNCell(U, dt=0.3))


def test_batch_of_zero_sequences_gives_empty_outputs():
    checks.check_empty_batch(_hamiltonian)


def test_float64_layer_runs_on_every_backend():
    checks.check_float64(_hamiltonian)


# --- the layer contract --------------------------------------------------------

FIT = {"fit": BACKEND != "jax", "jit_compile": BACKEND != "torch"}
CONTRACT_SHAPE = (2, 5, 3)


def test_cell_contract():
    check_cell_contract(
        lambda dtype=None: HamiltonianRNNCell(U, energy_units=3, dtype=dtype),
        CONTRACT_SHAPE,
        {"return_sequences": True, "return_state": True},
        fit=False,
        jit_compile=False,
        mixed_precision=False,
    )


def test_sequence_layer_contract():
    check_layer_contract(
        lambda dtype=None: HamiltonianRNN(
            U, integration_steps=2, go_backwards=True, return_state=True, dtype=dtype
        ),
        CONTRACT_SHAPE,
        **FIT,
    )


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"dt": 0}, ValueError, "`dt` must be a finite float > 0. Received: dt=0.0"),
        ({"dt": -1.0}, ValueError, "`dt` must be a finite float > 0. Received: dt=-1.0"),
        ({"dt": float("inf")}, ValueError, "`dt` must be a finite float > 0. Received: dt=inf"),
        ({"dt": True}, TypeError, "`dt` must be a finite float > 0. Received: dt=True of type bool"),
        ({"integration_steps": 0}, ValueError, "`integration_steps` must be a positive integer. Received: integration_steps=0"),
        ({"integration_steps": 1.5}, TypeError, "`integration_steps` must be a positive integer. Received: integration_steps=1.5 of type float"),
        ({"energy_units": -2}, ValueError, "`energy_units` must be a positive integer. Received: energy_units=-2"),
        ({"recurrent_dropout": 0.2}, ValueError, "`recurrent_dropout` must be 0 for a Hamiltonian cell: dropping part of q or p would break the symplectic map. Received: recurrent_dropout=0.2"),
        ({"activation": "relu"}, TypeError, "HamiltonianRNNCell has no `activation`: its step is the leapfrog map of its energy. Received: activation='relu'"),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_argument(kwargs, error, message):
    with pytest.raises(error) as info:
        HamiltonianRNN(U, **kwargs)
    assert message in str(info.value)
    assert str(info.value).startswith("HamiltonianRNN: ")


@pytest.mark.parametrize("units", [0, -3])
def test_non_positive_units_are_refused(units):
    with pytest.raises(
        ValueError,
        match=rf"`units` must be a positive integer. Received: units={units}",
    ):
        HamiltonianRNN(units)


def test_energy_of_an_unbuilt_cell_says_to_build_it():
    with pytest.raises(ValueError, match="has no weights yet: call it"):
        HamiltonianRNNCell(U).energy(np.zeros((1, U)), np.zeros((1, U)))


def test_output_momentum_gives_the_phase_space_trajectory_under_any_mask():
    layer = HamiltonianRNN(U, dt=0.3, return_sequences=True, return_state=True)
    both = HamiltonianRNN.from_config({**layer.get_config(), "output_momentum": True})
    x = random_inputs((B, T, F))
    mask = checks.MASKS["left"]
    q_seq, q, p = layer(x, mask=mask)
    both.build(x.shape)
    both.set_weights(layer.get_weights())
    qp_seq, q2, p2 = both(x, mask=mask)
    assert tuple(qp_seq.shape) == (B, T, 2 * U)
    checks.assert_close([qp_seq[..., :U], q2, p2], [q_seq, q, p])
    checks.assert_close(qp_seq[:, -1, U:], p)
    assert both.compute_output_shape((B, T, F))[0] == (B, T, 2 * U)


@pytest.mark.skipif(
    "timespans" not in inspect.signature(RNN.call).parameters,
    reason="the sequence layers take no timespans yet (issue 16's liquid part)",
)
def test_timespans_are_refused_as_by_every_cell_that_does_not_use_time():
    x = random_inputs((B, T, F))
    with pytest.raises(ValueError, match="does not use time"):
        HamiltonianRNN(U)(x, timespans=np.ones((B, T), "float32"))
