"""The physics recipe end to end through the rnn-zoo command, in smoke mode.

One smoke run (a few trajectories per system, one epoch, a 40-step rollout)
writes model.keras, metrics.json and run.json; the tests check what a user
of each relies on, and the recipe's pieces against the physics.
"""

import importlib.util
import json

import keras
import numpy as np
import pytest

from rnn_zoo import saving

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="the recipe runs on TensorFlow"
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("scipy") is None, reason="simulates with scipy"
    ),
]

MODELS = ("hamiltonian", "gru", "lstm", "baseline")


@pytest.fixture(scope="module")
def run_dir(smoke_run):
    return smoke_run("physics")


def test_metrics_report_every_model_on_both_systems(run_dir):
    from rnn_zoo.recipes import physics

    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    for system in physics.SYSTEMS:
        result = metrics[system]
        for who in MODELS:
            assert result[who]["position_rmse"] > 0, (system, who)
            assert result[who]["energy_drift"] >= 0, (system, who)
        # The compared cells have the Hamiltonian model's parameter count.
        target = result["hamiltonian"]["params"]
        for cell in physics.COMPARED:
            assert abs(result[cell]["params"] - target) / target < 0.1
        reduction = result["energy_drift_reduction"]
        best = min(result[c]["energy_drift"] for c in physics.COMPARED)
        assert reduction == pytest.approx(
            1 - result["hamiltonian"]["energy_drift"] / best
        )
        assert result["claim_met"] == (reduction >= physics.CLAIMED_REDUCTION)


def test_saved_model_is_the_pendulums_hamiltonian_forecaster(run_dir):
    model = saving.load_model(str(run_dir / "model.keras"))
    layer = model.get_layer("hamiltonian")
    steps = 5
    q0, p0 = np.array([[0.5]], "float32"), np.array([[0.0]], "float32")
    forces = np.zeros((1, steps, 1), "float32")
    states = model.predict({"forces": forces, "q0": q0, "p0": p0}, verbose=0)
    assert states.shape == (1, steps, 2)
    energies = keras.ops.convert_to_numpy(
        layer.energy(states[0, :, :1], states[0, :, 1:])
    )
    start = keras.ops.convert_to_numpy(layer.energy(q0, p0))
    # Free leapfrog steps keep the learned energy (to O(dt^2)).
    np.testing.assert_allclose(energies, np.repeat(start, steps), rtol=1e-2, atol=1e-3)


def test_simulation_is_exact_and_conserves_the_true_energy():
    from rnn_zoo.recipes import physics

    rng = np.random.default_rng(0)
    for system in physics.SYSTEMS:
        starts = physics.initial_states(system, 2, rng)
        runs = physics.simulate(system, starts, 200)
        energies = physics.energy(system, runs)
        np.testing.assert_allclose(
            energies, np.broadcast_to(energies[:, :1], energies.shape), rtol=1e-8
        )
    # A small pendulum swing: q(t) = q0 cos(sqrt(3) t) to first order.
    run = physics.simulate("pendulum", np.array([[1e-3, 0.0]]), 50)
    times = np.arange(51) * physics.DT
    np.testing.assert_allclose(
        run[0, :, 0], 1e-3 * np.cos(np.sqrt(3.0) * times), atol=1e-9
    )


def test_linear_baseline_recovers_a_linear_map():
    from rnn_zoo.recipes import physics

    a = np.array([[0.9, 0.1], [-0.2, 0.95], [0.01, -0.02]])
    x = [np.random.default_rng(1).standard_normal((3, 2))]
    for _ in range(10):
        x.append(np.concatenate([x[-1], np.ones((3, 1))], 1) @ a)
    np.testing.assert_allclose(physics.fit_linear(np.stack(x, 1)), a, atol=1e-10)
