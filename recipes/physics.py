"""Physics: learn a pendulum and a two-body orbit from noisy trajectories, then roll out.

As in Greydanus et al. 2019 (Hamiltonian Neural Networks), each system is
simulated to high accuracy (scipy's DOP853, tolerances 1e-10) from random
initial states, and Gaussian noise is added to what the models see:

- the ideal pendulum, ``H = 3 (1 - cos q) + p^2 / 2`` (HNN's m = l = 1,
  g = 3), started at radius 1.3 to 2.3 in phase space, noise 0.1;
- the two-body problem in its centre-of-mass frame (the relative position
  ``q`` and momentum ``p`` in the plane, ``H = |p|^2 / 2 - 1 / |q|``), on
  near-circular orbits of radius 0.5 to 1.5, noise 0.05.

Every model learns to predict the next ``HORIZON`` states from noisy
windows of ``OBSERVED``-step trajectories (``DT`` apart), then rolls out
``ROLLOUT`` = 1,000 steps past the observed window of held-out
trajectories. Four forecasters, the same data:

- ``hamiltonian``: ``rnn_zoo.layers.HamiltonianRNN`` whose ``(q, p)`` are
  the system's own coordinates: it starts from the last observed (noisy)
  state and integrates its learned energy with leapfrog, no input (the
  force channel is zero: a closed system);
- ``gru`` and ``lstm``: ``build_forecaster`` (direct mode) reading the last
  ``WINDOW`` states, with units chosen so that each model has the
  Hamiltonian model's parameter count (closest); rolled out ``HORIZON``
  steps at a time on their own predictions;
- the baseline, in the script: the linear one-step map ``x' = A x + c``
  fitted by least squares to the noisy training pairs.

Reported per system and model: the position error (RMSE over the rollout,
against the exact trajectory) and the energy drift (mean of ``|H(x_t) -
H(x_0)| / |H(x_0)|`` over the rollout, the true ``H``, from the exact
initial state). The claim under test: a physics-inspired RNN cuts the
energy-conservation error by 90 % (``energy_drift_reduction`` >= 0.9,
against the better of GRU and LSTM); the recipe reports what it measures.

    rnn-zoo train physics --output /tmp/physics            # minutes on 2 CPU cores
    rnn-zoo train physics --output /tmp/smoke --smoke      # seconds: few trajectories, 1 epoch

It writes ``model.keras`` (the pendulum's Hamiltonian forecaster: inputs
``{"forces": (batch, T, 1) zeros, "q0": (batch, 1), "p0": (batch, 1)}`` for
any ``T``; output the states ``(batch, T, 2)``), ``metrics.json`` and ``run.json``. Training is
Keras's ``fit`` with early stopping (several models per run, so not the
checkpointed loop of the single-model recipes).
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np

from rnn_zoo import build_forecaster, training
from rnn_zoo.layers import HamiltonianRNN

RECIPE = "physics"
DESCRIPTION = (
    "Pendulum and two-body orbit: a Hamiltonian RNN vs GRU/LSTM, 1,000-step "
    "rollouts, position error and energy drift"
)
REQUIRES: dict[str, str] = {"scipy": "scipy"}

"""
## Configuration
"""

# The physical systems learned, each on its own.
SYSTEMS = ("pendulum", "two_body")
# Time between observed states.
DT = 0.1
# Noise (standard deviation) on every observed coordinate, per system.
NOISE = {"pendulum": 0.1, "two_body": 0.05}
# Training, validation and test trajectories per system.
TRAJECTORIES = (64, 16, 16)
# Observed steps per trajectory.
OBSERVED = 40
# States a forecaster reads (GRU, LSTM) and states it predicts per call.
WINDOW = 8
HORIZON = 8
# Steps rolled out past the observed window of each test trajectory.
ROLLOUT = 1000
# Hidden width of the learned T(p) and V(q) of the Hamiltonian cell.
ENERGY_UNITS = 64
# The comparison cells (each at the Hamiltonian model's parameter count).
CELL = "gru"
COMPARED = ("gru", "lstm")
# Recurrent units: unused by the Hamiltonian model (its units are the
# system's degrees of freedom); the compared cells' units are matched.
UNITS = 8
NUM_LAYERS = 1
DROPOUT = 0.0
# Adam's learning rate.
LEARNING_RATE = 3e-3
# Upper bound on epochs: EarlyStopping ends training once validation loss stalls.
EPOCHS = 60
BATCH_SIZE = 64
PATIENCE = 8
SEED = 1337
# --smoke: trajectories per split, rollout steps, epochs.
SMOKE_TRAJECTORIES = (4, 2, 2)
SMOKE_ROLLOUT = 40
SMOKE_EPOCHS = 1
# The claim under test: the energy drift cut by this share.
CLAIMED_REDUCTION = 0.9


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``rnn-zoo train physics``'s flags: the constants above.

    >>> parse_args(["--output", "/tmp/physics", "--smoke"]).smoke
    True
    """
    parser = training.recipe_parser(RECIPE, DESCRIPTION, globals())
    return training.check_args(parser, parser.parse_args(argv))


"""
## Data

Exact (1e-10) trajectories from random initial states; the models see them
with noise, the errors are measured against them without.
"""


def energy(system: str, states: np.ndarray) -> np.ndarray:
    """The true Hamiltonian of ``states`` ``(..., 2 d)`` ([q, p]).

    >>> float(energy("pendulum", np.array([0.0, 1.0])))
    0.5
    """
    d = states.shape[-1] // 2
    q, p = states[..., :d], states[..., d:]
    kinetic = 0.5 * np.sum(p**2, -1)
    if system == "pendulum":
        return 3.0 * (1.0 - np.cos(q[..., 0])) + kinetic
    return kinetic - 1.0 / np.linalg.norm(q, axis=-1)


def _vector_field(system: str):
    def pendulum(_, x):
        return [x[1], -3.0 * np.sin(x[0])]

    def two_body(_, x):
        q = x[:2]
        r3 = np.linalg.norm(q) ** 3
        return [x[2], x[3], -q[0] / r3, -q[1] / r3]

    return pendulum if system == "pendulum" else two_body


def initial_states(system: str, count: int, rng: np.random.Generator) -> np.ndarray:
    """HNN's initial conditions: pendulum radius 1.3-2.3, orbits of radius 0.5-1.5."""
    if system == "pendulum":
        radius = rng.uniform(1.3, 2.3, count)
        angle = rng.uniform(0, 2 * np.pi, count)
        return np.stack([radius * np.cos(angle), radius * np.sin(angle)], -1)
    radius = rng.uniform(0.5, 1.5, count)
    angle = rng.uniform(0, 2 * np.pi, count)
    speed = np.sqrt(1.0 / radius) * rng.uniform(0.9, 1.1, count)
    q = np.stack([np.cos(angle), np.sin(angle)], -1) * radius[:, None]
    p = np.stack([-np.sin(angle), np.cos(angle)], -1) * speed[:, None]
    return np.concatenate([q, p], -1)


def simulate(system: str, starts: np.ndarray, steps: int) -> np.ndarray:
    """``(count, steps + 1, 2 d)`` states ``DT`` apart, DOP853 at 1e-10."""
    from scipy.integrate import solve_ivp

    times = np.arange(steps + 1) * DT
    field = _vector_field(system)
    runs = [
        solve_ivp(
            field, (0, times[-1]), start, method="DOP853", t_eval=times,
            rtol=1e-10, atol=1e-10,
        ).y.T
        for start in starts
    ]  # fmt: skip
    return np.stack(runs).astype("float64")


def windows(trajectories: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (WINDOW states, the HORIZON after) of each trajectory."""
    history, future = [], []
    for t in range(WINDOW, trajectories.shape[1] - HORIZON + 1):
        history.append(trajectories[:, t - WINDOW : t])
        future.append(trajectories[:, t : t + HORIZON])
    return (
        np.concatenate(history).astype("float32"),
        np.concatenate(future).astype("float32"),
    )


def load_system(system: str, args: argparse.Namespace) -> dict:
    """Noisy observed trajectories per split and the exact test futures."""
    rng = np.random.default_rng(args.seed + SYSTEMS.index(system))
    counts = SMOKE_TRAJECTORIES if args.smoke else TRAJECTORIES
    rollout = SMOKE_ROLLOUT if args.smoke else ROLLOUT
    splits = {}
    for split, count in zip(("train", "validation", "test"), counts):
        steps = OBSERVED - 1 + (rollout if split == "test" else 0)
        exact = simulate(system, initial_states(system, count, rng), steps)
        observed = exact[:, :OBSERVED]
        noisy = observed + rng.normal(0, NOISE[system], observed.shape)
        splits[split] = {"noisy": noisy, "future": exact[:, OBSERVED:]}
        splits[split]["start"] = exact[:, OBSERVED - 1]
    return {"system": system, "rollout": rollout, **splits}


"""
## Models

The Hamiltonian forecaster integrates from a state; the GRU and LSTM read
a window; all predict HORIZON states per call in training.
"""


def hamiltonian_model(dof: int) -> keras.Model:
    """``{forces (b, T, 1), q0 (b, dof), p0 (b, dof)} -> states (b, T, 2 dof)``, any T."""
    forces = keras.Input((None, 1), name="forces")
    q0, p0 = keras.Input((dof,), name="q0"), keras.Input((dof,), name="p0")
    layer = HamiltonianRNN(
        dof,
        dt=DT,
        energy_units=ENERGY_UNITS,
        output_momentum=True,
        return_sequences=True,
        name="hamiltonian",
    )
    inputs = {"forces": forces, "q0": q0, "p0": p0}
    return keras.Model(inputs, layer(forces, initial_state=[q0, p0]))


def forecaster(cell: str, units: int, dof: int) -> keras.Model:
    return build_forecaster(
        HORIZON, num_targets=2 * dof, window=WINDOW, cell=cell, units=units
    )


def matched_units(cell: str, dof: int, target: int) -> int:
    """The units whose forecaster's parameter count is closest to ``target``."""

    def count(units):
        return forecaster(cell, units, dof).count_params()

    # The count grows with the units: bisect for the first at or above it.
    low, high = 1, 64
    while low < high:
        middle = (low + high) // 2
        low, high = (middle + 1, high) if count(middle) < target else (low, middle)
    if high > 1 and target - count(high - 1) <= count(high) - target:
        return high - 1
    return high


def _fit(model, x, y, validation, args) -> int:
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="mse")
    stop = keras.callbacks.EarlyStopping(patience=PATIENCE, restore_best_weights=True)
    history = model.fit(
        x, y, validation_data=validation, batch_size=args.batch_size,
        epochs=SMOKE_EPOCHS if args.smoke else args.epochs, callbacks=[stop],
        shuffle=True, verbose=0,
    )  # fmt: skip
    return len(history.history["loss"])


def _hamiltonian_inputs(history: np.ndarray, steps: int) -> dict:
    # The last observed state is (q0, p0); no force acts on a closed system.
    d = history.shape[-1] // 2
    last = history[:, -1]
    forces = np.zeros((len(history), steps, 1), "float32")
    return {"forces": forces, "q0": last[:, :d], "p0": last[:, d:]}


"""
## Rollouts and errors
"""


def rollout_hamiltonian(model, noisy: np.ndarray, steps: int) -> np.ndarray:
    # One call: `steps` free leapfrog steps from the last observed state.
    return model.predict(_hamiltonian_inputs(noisy.astype("float32"), steps), verbose=0)


def rollout_forecaster(model, noisy: np.ndarray, steps: int) -> np.ndarray:
    history, out = noisy[:, -WINDOW:].astype("float32"), []
    for _ in range(-(-steps // HORIZON)):
        predicted = model.predict(history, verbose=0)
        out.append(predicted)
        history = np.concatenate([history, predicted], 1)[:, -WINDOW:]
    return np.concatenate(out, 1)[:, :steps]


def fit_linear(noisy: np.ndarray) -> np.ndarray:
    """Least squares ``[x, 1] @ A = x'`` over every observed pair."""
    x = noisy[:, :-1].reshape(-1, noisy.shape[-1])
    y = noisy[:, 1:].reshape(-1, noisy.shape[-1])
    design = np.concatenate([x, np.ones((len(x), 1))], 1)
    return np.linalg.lstsq(design, y, rcond=None)[0]


def rollout_linear(a: np.ndarray, noisy: np.ndarray, steps: int) -> np.ndarray:
    state, out = noisy[:, -1], []
    for _ in range(steps):
        state = np.concatenate([state, np.ones((len(state), 1))], 1) @ a
        out.append(state)
    return np.stack(out, 1)


def errors(system: str, predicted: np.ndarray, split: dict) -> dict:
    """Position RMSE against the exact future; mean relative energy drift."""
    d = predicted.shape[-1] // 2
    future = split["future"]
    position = float(np.sqrt(np.mean((predicted[..., :d] - future[..., :d]) ** 2)))
    start = energy(system, split["start"])[:, None]
    drift = np.abs(energy(system, predicted.astype("float64")) - start) / np.abs(start)
    finite = np.isfinite(drift)
    return {
        "position_rmse": position if np.isfinite(position) else float("inf"),
        "energy_drift": float(np.mean(np.where(finite, drift, np.inf))),
        "energy_drift_final": float(np.mean(np.where(finite, drift, np.inf)[:, -1])),
    }


def run_system(system: str, args: argparse.Namespace) -> tuple[keras.Model, dict]:
    """Trains the four forecasters on one system and rolls each out."""
    data = load_system(system, args)
    dof = data["train"]["noisy"].shape[-1] // 2
    x, y = windows(data["train"]["noisy"])
    vx, vy = windows(data["validation"]["noisy"])
    print(f"{system}: {len(x)} training windows, {len(vx)} validation windows")
    results = {"num_windows": {"train": len(x), "validation": len(vx)}}

    model = hamiltonian_model(dof)
    target = model.count_params()
    epochs = _fit(
        model,
        _hamiltonian_inputs(x, HORIZON),
        y,
        (_hamiltonian_inputs(vx, HORIZON), vy),
        args,
    )
    test = data["test"]
    steps = data["rollout"]
    predicted = rollout_hamiltonian(model, test["noisy"], steps)
    results["hamiltonian"] = {
        "params": target, "epochs": epochs, **errors(system, predicted, test)
    }  # fmt: skip
    for cell in COMPARED:
        units = matched_units(cell, dof, target)
        other = forecaster(cell, units, dof)
        epochs = _fit(other, x, y, (vx, vy), args)
        predicted = rollout_forecaster(other, test["noisy"], steps)
        results[cell] = {
            "params": other.count_params(), "units": units, "epochs": epochs,
            **errors(system, predicted, test),
        }  # fmt: skip
    linear = fit_linear(data["train"]["noisy"])
    results["baseline"] = {
        "params": int(linear.size),
        **errors(system, rollout_linear(linear, test["noisy"], steps), test),
    }
    best = min(results[cell]["energy_drift"] for cell in COMPARED)
    ours = results["hamiltonian"]["energy_drift"]
    results["energy_drift_reduction"] = float(1.0 - ours / best) if best else 0.0
    results["claim_met"] = bool(results["energy_drift_reduction"] >= CLAIMED_REDUCTION)
    return model, results


def main(argv: list[str] | None = None) -> dict:
    """Trains and rolls out every forecaster on each system; reports the drifts."""
    # Seeds everything, starts the clock; reads the constants above.
    run = training.RecipeRun(RECIPE, parse_args(argv), globals())
    args = run.args
    results, saved = {}, None
    for system in SYSTEMS:
        model, results[system] = run_system(system, args)
        saved = saved or model  # the pendulum's Hamiltonian model
    # The saved model's training record (several models per run: Keras's fit).
    run.epochs_run = results[SYSTEMS[0]]["hamiltonian"]["epochs"]
    run.best_epoch = run.epochs_run
    run.train_seconds = time.time() - run.start

    # ## Report
    for system in SYSTEMS:
        print(f"{system} ({results[system]['hamiltonian']['params']} parameters each):")
        for who in ("hamiltonian", *COMPARED, "baseline"):
            r = results[system][who]
            print(
                f"  {who:12s} position RMSE {r['position_rmse']:.3f}, "
                f"energy drift {r['energy_drift']:.2e} (final {r['energy_drift_final']:.2e})"
            )
        reduction = results[system]["energy_drift_reduction"]
        print(
            f"  energy drift cut by {100 * reduction:.1f} % against the better of "
            f"{' and '.join(COMPARED)} (claim: {100 * CLAIMED_REDUCTION:.0f} %): "
            + ("met" if results[system]["claim_met"] else "not met")
        )
    rollout = SMOKE_ROLLOUT if args.smoke else ROLLOUT
    info = {"systems": list(SYSTEMS), "dt": DT, "rollout": rollout}
    run.save(
        saved, info, results, "DT OBSERVED WINDOW HORIZON ENERGY_UNITS PATIENCE",
        noise=dict(NOISE), trajectories=list(TRAJECTORIES),
    )  # fmt: skip
    run.wrote()
    return results


if __name__ == "__main__":
    main()
