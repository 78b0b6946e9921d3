"""The cell leaderboard: every registered rnn_zoo cell on the same six tasks.

    python -m benchmarks.cells                         # the standard budget (see below)
    python -m benchmarks.cells --quick                 # CI smoke run: seconds
    python -m benchmarks.cells --tasks adding names --cells lstm mingru sru
    python -m benchmarks.cells --merge runs/co2 runs/charlm --output runs/all  # one table

Every cell that rnn_zoo's sequence-layer registry holds at run time (the
classic ``simple``, ``lstm``, ``gru`` and the modern ones; a newly registered
cell joins by itself) trains on each task with the same seed, the same
optimizer settings and the same number of epochs:

- ``names`` (test accuracy), ``vowels`` (test accuracy), ``co2`` (test MAE in
  ppm), ``charlm`` (test bits per character): the recipes' own data, model
  builder and evaluation, driven through the recipe protocol
  (``parse_args``, ``load_data``, ``build_model``, ``evaluate``) with
  ``--cell``, ``--units`` and ``--epochs``, so each row is the recipe's model
  with another cell. The recipe's early stopping is not used: every cell
  trains the task's epochs on the full training split.
- ``adding``: the adding problem (Hochreiter & Schmidhuber 1997) at T = 1,000
  (``--adding-length``): each step is (a value uniform in [0, 1), a marker);
  exactly two steps are marked, one in each half of the sequence, and the
  target is the sum of their values. Always answering 1.0 scores an MSE of
  1/6 = 0.167; a model must carry a value across hundreds of steps to beat it.
  The sets are generated here from a fixed seed (synthetic by definition).
- ``fashion_pixels``: Fashion-MNIST read one pixel at a time (T = 784, one
  feature), the first ``--fashion-train`` training and ``--fashion-test`` test
  images of the official splits (:mod:`rnn_zoo.data.fashion`; the files come
  from the Debian package ``dataset-fashion-mnist``: without it the task is
  skipped with a printed line saying why).

Matched parameter budget: each task has a base width (``BASE_UNITS``; the
recipe's ``UNITS``), and each cell gets the number of units whose recurrent
layers' parameter count is closest to that of an LSTM of the base width on
the same input (ties go to the smaller width). Cells with elementwise
recurrences have few parameters per unit, so they get wide.

For each cell and task the rows record the metric, the training seconds per
epoch (the median over the epochs; the first epoch includes tracing),
inference seconds over the test split (one ``predict`` pass after the
recipe's evaluation has traced it), the recurrent and total parameter counts,
and the kernel ``rnn_zoo.explain(model)`` reports for training and inference.
Results go to ``--output``: results.json (machine, settings, every row),
results.md (cells x tasks, then one table per task) and results.png (metric
against training time, one panel per task). ``--merge`` trains nothing: it
combines the results.json of runs of parts (``--tasks``/``--cells``) into
one such table, PNG and JSON (:func:`merge`). Nothing here asserts anything
about time: run it on a quiet machine and say when it was not.

The standard budget (``TASKS`` below, ``python -m benchmarks.cells``) is
sized for this project's 2-core CPU (AMD EPYC, TensorFlow 2.21, shared, load
average about 5): **about 85 minutes** for the 10 cells x 6 tasks, estimated
on 2 Dec 2026 as follows. ``names``, ``vowels`` and ``adding`` ran at the
standard settings in 35 minutes (6, 3 and 26; docs/benchmarks.md). For
``co2`` and ``charlm``, the median of 3 timed training steps per cell after
its first, times steps per epoch, times epochs: 13 and 9 minutes, plus 7 s
per cell for charlm's n-gram baseline in the recipe's ``evaluate`` (on
co2, lstm, mingru and sru then ran 10 epochs at 0.5, 18.8 and 10.4 s an
epoch against the estimated 0.4, 22.2 and 12.7). For
``fashion_pixels``, lstm and mingru ran 500 images for 2 epochs (0.11 and
1.9 s a step); the other cells' steps, timed at base width 64, scaled by
their width at 32: about 7 s a step for all 10 cells, 60 steps x 3 epochs,
21 minutes. Most of the time goes to the elementwise cells (minGRU,
minLSTM, QRNN, SRU, IndRNN) at T = 784 and 1,000: matched to the LSTM's
parameters they are 300-1,450 units wide.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import cache

import keras
import numpy as np

import rnn_zoo
from benchmarks.rnn_benchmark import machine_info, run_window, write_results
from rnn_zoo.layers import cell_names, get_sequence_layer

SEED = 1337
# The adding problem's and Fashion-MNIST's fixed settings (not recipes').
ADDING_LENGTH = 1000
ADDING_TRAIN, ADDING_TEST = 2000, 500
FASHION_TRAIN, FASHION_TEST = 3000, 500
# Adam with clipped gradients for the two long tasks: an unclipped step at
# T = 1,000 can blow a recurrent net up.
LONG_TASK_LEARNING_RATE = 1e-3
LONG_TASK_CLIPNORM = 1.0
LONG_TASK_BATCH_SIZE = 50
# The MSE of always answering 1.0 on the adding problem: Var(u1 + u2) = 2/12.
ADDING_BASELINE_MSE = 1.0 / 6.0


@dataclasses.dataclass(frozen=True)
class Task:
    """One column of the leaderboard."""

    name: str
    metric: str  # what the metric is, for the tables
    higher_is_better: bool
    base_units: int  # the LSTM width the parameter budget is matched to
    input_dim: int  # what the first recurrent layer reads per step
    epochs: int
    recipe: str | None = None  # a recipe module in `recipes`, or None
    metric_key: str | None = None  # the recipe's evaluate() key
    token_input: bool = False  # padded ids (0 = padding) in, for the mask

    @property
    def label(self) -> str:
        return f"{self.name} ({self.metric}, {'higher' if self.higher_is_better else 'lower'} is better)"


TASKS = {
    # Base widths are the recipes' UNITS and inputs what their first recurrent
    # layer reads (names: 64-d embeddings; charlm: 32-d embeddings), but for
    # charlm the base is an LSTM of 128, not the recipe's GRU of 192, and for
    # the two long tasks 32: at T = 1,000 the elementwise cells matched to an
    # LSTM of 64 are 1,100-5,600 units wide and take 2-8 s a step here.
    # Epochs: each task's share of the 2-hour budget (see the docstring).
    "names": Task(
        "names",
        "accuracy",
        True,
        base_units=128,
        input_dim=64,
        epochs=5,
        recipe="names",
        metric_key="test_accuracy",
        token_input=True,
    ),
    "vowels": Task(
        "vowels",
        "accuracy",
        True,
        base_units=64,
        input_dim=12,
        epochs=30,
        recipe="vowels",
        metric_key="test_accuracy",
    ),
    "co2": Task(
        "co2",
        "MAE ppm",
        False,
        base_units=64,
        input_dim=1,
        epochs=10,
        recipe="co2",
        metric_key="test_mae_ppm",
    ),
    "charlm": Task(
        "charlm",
        "bits/char",
        False,
        base_units=128,
        input_dim=32,
        epochs=3,
        recipe="charlm",
        metric_key="test_bits_per_char",
        token_input=True,
    ),
    "adding": Task("adding", "MSE", False, base_units=32, input_dim=2, epochs=4),
    "fashion_pixels": Task(
        "fashion_pixels", "accuracy", True, base_units=32, input_dim=1, epochs=3
    ),
}
# --quick: the tasks that need no Debian package, and two cells.
QUICK_TASKS = ("names", "vowels", "co2", "charlm", "adding")
QUICK_CELLS = ("lstm", "mingru")
QUICK_ADDING = dict(length=20, train=64, test=32)
QUICK_FASHION = dict(train=64, test=32)


class SkipTask(Exception):
    """A task cannot run on this machine (its data is missing); the message says why."""


# ---------------------------------------------------------------- the budget


@cache
def recurrent_params(cell: str, units: int, input_dim: int, num_layers: int = 1) -> int:
    """Parameters of ``num_layers`` stacked ``cell`` layers of ``units`` over ``input_dim`` inputs.

    >>> recurrent_params("lstm", 8, 4)  # 4 gates x (8 x (4 + 8) + 8)
    416
    """
    total, width = 0, input_dim
    for _ in range(num_layers):
        layer = get_sequence_layer(cell)(units)
        layer.build((None, None, width))
        total += int(layer.count_params())
        width = units
    return total


def matched_units(
    cell: str, base_units: int, input_dim: int, num_layers: int = 1
) -> int:
    """The units whose recurrent parameter count is closest to an LSTM of ``base_units``.

    The count grows with the units, so a doubling search brackets the target
    and a bisection finds the first width at or above it; that width or the
    one below, whichever is closer (the smaller on a tie).

    >>> matched_units("lstm", 32, 8)
    32
    >>> matched_units("gru", 64, 12)  # a GRU has 3 gates to the LSTM's 4
    74
    """
    target = recurrent_params("lstm", base_units, input_dim, num_layers)
    high = 1
    while recurrent_params(cell, high, input_dim, num_layers) < target:
        high *= 2
    low = high // 2 + 1 if high > 1 else 1
    while low < high:
        middle = (low + high) // 2
        if recurrent_params(cell, middle, input_dim, num_layers) < target:
            low = middle + 1
        else:
            high = middle
    if high > 1:
        above = recurrent_params(cell, high, input_dim, num_layers) - target
        below = target - recurrent_params(cell, high - 1, input_dim, num_layers)
        if below <= above:
            return high - 1
    return high


# ---------------------------------------------------------------- the adding problem


def adding_problem(
    num_examples: int, length: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem: ``x`` float32 ``(n, length, 2)``, ``y`` float32 ``(n,)``.

    Feature 0 holds values uniform in [0, 1); feature 1 marks exactly two
    steps with 1.0, one in each half of the sequence; ``y`` is the sum of the
    two marked values.

    >>> x, y = adding_problem(3, 10, seed=0)
    >>> x.shape, y.shape, x[..., 1].sum(axis=1).tolist()
    ((3, 10, 2), (3,), [2.0, 2.0, 2.0])
    """
    if length < 2:
        raise ValueError(f"`length` must be 2 or more. Received: length={length}")
    rng = np.random.default_rng(seed)
    values = rng.random((num_examples, length), dtype=np.float32)
    half = length // 2
    first = rng.integers(0, half, size=num_examples)
    second = rng.integers(half, length, size=num_examples)
    markers = np.zeros((num_examples, length), np.float32)
    rows = np.arange(num_examples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return np.stack([values, markers], axis=-1), targets.astype(np.float32)


# ---------------------------------------------------------------- the tasks


@dataclasses.dataclass
class Prepared:
    """A task's data, loaded once, and how to build and score a model on it."""

    # A new batched tf.data.Dataset of (inputs, targets) at each call: a
    # seeded dataset that reshuffles each epoch draws the next epoch's order
    # from its own state, so every cell gets a fresh one and trains on the
    # same sequence of epoch orders.
    make_train: Callable[[], object]
    test: object
    build: Callable[[str, int], keras.Model]  # (cell, units) -> compiled model
    score: Callable[[keras.Model], float]  # the task's metric on the test split
    info: dict


def _recipe_module(name: str):
    return importlib.import_module(f"recipes.{name}")


def _prepare_recipe(task: Task, settings: argparse.Namespace, scratch: str) -> Prepared:
    recipe = _recipe_module(task.recipe)
    output = os.path.join(scratch, task.name)

    def recipe_args(cell: str = "lstm", units: int = task.base_units):
        flags = ["--output", output, "--cell", cell, "--units", str(units)]
        flags += ["--epochs", str(settings.epochs[task.name]), "--seed", str(SEED)]
        return recipe.parse_args(flags + (["--smoke"] if settings.quick else []))

    data = recipe.load_data(recipe_args())

    def build(cell: str, units: int) -> keras.Model:
        return recipe.build_model(recipe_args(cell, units), data.info)

    def score(model: keras.Model) -> float:
        return float(recipe.evaluate(model, data, recipe_args())[task.metric_key])

    info = {
        "recipe": f"recipes/{task.recipe}.py",
        "learning_rate": recipe.LEARNING_RATE,
        "batch_size": recipe.BATCH_SIZE,
        "smoke_data": bool(settings.quick),
    }
    if hasattr(recipe, "CLIPNORM"):
        info["clipnorm"] = recipe.CLIPNORM

    def make_train():
        return recipe.load_data(recipe_args()).train

    return Prepared(make_train, data.test, build, score, info)


def _dataset(x, y, batch_size: int, shuffle: bool):
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(y), seed=SEED, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _long_task_optimizer():
    return keras.optimizers.Adam(LONG_TASK_LEARNING_RATE, clipnorm=LONG_TASK_CLIPNORM)


def _prepare_adding(task: Task, settings: argparse.Namespace) -> Prepared:
    length, n_train, n_test = (
        settings.adding_length,
        settings.adding_train,
        settings.adding_test,
    )
    # Two seeds, so that no test sequence is a training sequence.
    x_train, y_train = adding_problem(n_train, length, seed=SEED)
    x_test, y_test = adding_problem(n_test, length, seed=SEED + 1)
    batch = LONG_TASK_BATCH_SIZE

    def build(cell: str, units: int) -> keras.Model:
        inputs = keras.Input((length, 2), name="values_and_markers")
        x = get_sequence_layer(cell)(units, name="recurrent")(inputs)
        outputs = keras.layers.Dense(1, name="sum")(x)
        model = keras.Model(inputs, outputs, name=f"adding_{cell}")
        model.compile(optimizer=_long_task_optimizer(), loss="mse")
        return model

    def score(model: keras.Model) -> float:
        predicted = model.predict(test, verbose=0)[:, 0]
        return float(np.mean((predicted - y_test) ** 2))

    test = _dataset(x_test, y_test, batch, shuffle=False)
    info = {
        "length": length,
        "train": n_train,
        "test": n_test,
        "baseline_mse_answer_1": float(np.mean((1.0 - y_test) ** 2)),
        "learning_rate": LONG_TASK_LEARNING_RATE,
        "clipnorm": LONG_TASK_CLIPNORM,
        "batch_size": batch,
    }

    def make_train():
        return _dataset(x_train, y_train, batch, shuffle=True)

    return Prepared(make_train, test, build, score, info)


def _prepare_fashion(task: Task, settings: argparse.Namespace) -> Prepared:
    from rnn_zoo import build_classifier
    from rnn_zoo.data import fashion

    try:
        data = fashion.load_fashion_mnist(
            max_train=settings.fashion_train, max_test=settings.fashion_test
        )
    except FileNotFoundError as error:
        raise SkipTask(str(error)) from None
    batch = LONG_TASK_BATCH_SIZE

    def make_train():
        return fashion.make_dataset(
            data.train, batch_size=batch, shuffle=True, seed=SEED
        )

    test = fashion.make_dataset(data.test, batch_size=batch)

    def build(cell: str, units: int) -> keras.Model:
        model = build_classifier(
            len(fashion.CLASSES),
            input_features=1,
            max_length=fashion.PIXELS,
            cell=cell,
            units=units,
            name=f"fashion_pixels_{cell}",
        )
        model.compile(
            optimizer=_long_task_optimizer(),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def score(model: keras.Model) -> float:
        return float(model.evaluate(test, verbose=0)[1])

    info = {
        "train": len(data.train),
        "test": len(data.test),
        "subset": "the first images of the official train and test splits",
        "data_dir": data.data_dir,
        "learning_rate": LONG_TASK_LEARNING_RATE,
        "clipnorm": LONG_TASK_CLIPNORM,
        "batch_size": batch,
    }
    return Prepared(make_train, test, build, score, info)


def prepare(task: Task, settings: argparse.Namespace, scratch: str) -> Prepared:
    """Loads ``task``'s data once; raises :class:`SkipTask` when it is missing.

    ``scratch``: a directory the run deletes afterwards, for the recipes'
    ``--output`` (nothing is saved there).
    """
    if task.recipe is not None:
        return _prepare_recipe(task, settings, scratch)
    if task.name == "adding":
        return _prepare_adding(task, settings)
    return _prepare_fashion(task, settings)


# ---------------------------------------------------------------- one row


class _EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def _first_mask(task: Task, dataset):
    """The mask the recurrent layers see on the first test batch (for explain)."""
    inputs, _ = next(iter(dataset))
    inputs = np.asarray(inputs)
    if task.token_input:
        return inputs != 0
    if task.name == "vowels":
        from rnn_zoo.data.vowels import PAD_VALUE

        return np.any(inputs != PAD_VALUE, axis=-1)
    return None


def _kernel(model: keras.Model, mask) -> dict:
    report = rnn_zoo.explain(model, mask=mask)
    return {
        "training": "+".join(dict.fromkeys(row["training"] for row in report)),
        "inference": "+".join(dict.fromkeys(row["inference"] for row in report)),
        "reasons": sorted({reason for row in report for reason in row["reasons"]}),
    }


def run_cell(task: Task, prepared: Prepared, cell: str, settings) -> dict:
    """Trains and scores one cell on one task; returns its row."""
    units = matched_units(cell, task.base_units, task.input_dim)
    row = {
        "task": task.name,
        "cell": cell,
        "units": units,
        "base_units": task.base_units,
        "recurrent_params": recurrent_params(cell, units, task.input_dim),
        "lstm_params": recurrent_params("lstm", task.base_units, task.input_dim),
        "epochs": settings.epochs[task.name],
    }
    keras.utils.set_random_seed(SEED)
    model = prepared.build(cell, units)
    row["model_params"] = int(model.count_params())
    row["kernel"] = _kernel(model, _first_mask(task, prepared.test))
    timer = _EpochTimer()
    # The datasets reshuffle themselves each epoch (seeded).
    model.fit(
        prepared.make_train(),
        epochs=row["epochs"],
        callbacks=[timer],
        shuffle=False,
        verbose=0,
    )
    row["epoch_seconds"] = [round(s, 3) for s in timer.seconds]
    row["train_seconds_per_epoch"] = statistics.median(timer.seconds)
    row["metric"] = prepared.score(model)
    model.predict(prepared.test.take(1), verbose=0)  # traces predict
    start = time.perf_counter()
    model.predict(prepared.test, verbose=0)
    row["inference_seconds"] = time.perf_counter() - start
    row["metric_name"] = task.metric
    return row


def run(
    settings: argparse.Namespace, on_row: Callable | None = None
) -> tuple[list[dict], dict, dict]:
    """Every selected task x cell: (rows, skipped tasks and why, task infos).

    ``on_row(rows, skipped, infos)``, if given, is called after each row (the
    command writes a partial results.json there).
    """
    with tempfile.TemporaryDirectory(prefix="cells_") as scratch:
        return _run(settings, scratch, on_row or (lambda *_: None))


def _run(
    settings: argparse.Namespace, scratch: str, on_row: Callable
) -> tuple[list[dict], dict, dict]:
    rows, skipped, infos = [], {}, {}
    for name in settings.tasks:
        task = TASKS[name]
        try:
            prepared = prepare(task, settings, scratch)
        except SkipTask as why:
            print(f"skipping {name}: {why}", flush=True)
            skipped[name] = str(why)
            continue
        infos[name] = prepared.info
        for cell in settings.cells:
            try:
                row = run_cell(task, prepared, cell, settings)
            except Exception as error:  # noqa: BLE001 - one failed cell is a row
                row = {"task": name, "cell": cell, "error": repr(error)[:500]}
                print(f"{name:>15} {cell:>15} failed: {row['error']}", flush=True)
            else:
                print(
                    f"{name:>15} {cell:>15} units={row['units']:<5} "
                    f"params={row['recurrent_params']:<7} {task.metric} "
                    f"{row['metric']:.4f}  {row['train_seconds_per_epoch']:.1f} s/epoch  "
                    f"inference {row['inference_seconds']:.2f} s  "
                    f"kernel {row['kernel']['training']}",
                    flush=True,
                )
            rows.append(row)
            on_row(rows, skipped, infos)
    return rows, skipped, infos


# ---------------------------------------------------------------- reporting


def _info_value(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def markdown(result: dict) -> str:
    settings, machine, rows = result["settings"], result["machine"], result["rows"]
    tasks = [t for t in settings["tasks"] if t not in result["skipped"]]
    by_key = {(r["cell"], r["task"]): r for r in rows}
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    lines = [
        "# rnn_zoo cell leaderboard",
        "",
        f"{machine['cpu']}, {machine['cores']} cores; Keras backend "
        f"{machine['keras_backend']}; {versions}.",
        *[_run_line(run, "runs" in result) for run in result.get("runs", [result])],
        "",
        "Each entry: the metric (seconds per training epoch, median). Units "
        "per cell: the width whose recurrent parameters are closest to an "
        "LSTM of the task's base width on the same input (per-task tables). "
        f"Seed {SEED}; epochs per task: "
        + ", ".join(f"{t} {settings['epochs'][t]}" for t in tasks)
        + ".",
        "",
        "| cell | " + " | ".join(TASKS[t].label for t in tasks) + " |",
        "|---|" + "---|" * len(tasks),
    ]
    for cell in settings["cells"]:
        entries = []
        for task in tasks:
            row = by_key.get((cell, task))
            if row is None:
                entries.append("")
            elif "error" in row:
                entries.append("failed")
            else:
                entries.append(
                    f"{row['metric']:.3f} ({row['train_seconds_per_epoch']:.1f} s)"
                )
        lines.append(f"| {cell} | " + " | ".join(entries) + " |")
    for task in tasks:
        info = result["task_info"].get(task, {})
        lines += [
            "",
            f"## {TASKS[task].label}",
            "",
            "Base width "
            f"{TASKS[task].base_units} (LSTM: "
            f"{recurrent_params('lstm', TASKS[task].base_units, TASKS[task].input_dim)} "
            f"recurrent parameters over {TASKS[task].input_dim} inputs); "
            f"{settings['epochs'][task]} epochs; "
            + ", ".join(f"{k} {_info_value(v)}" for k, v in info.items())
            + ".",
            "",
            "| cell | units | recurrent params | / LSTM | model params | metric | "
            "s/epoch | inference s | kernel (train / infer) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for cell in settings["cells"]:
            row = by_key.get((cell, task))
            if row is None:
                continue
            if "error" in row:
                lines.append(f"| {cell} | failed: {row['error'][:120]} |||||||")
                continue
            kernel = row["kernel"]
            lines.append(
                f"| {cell} | {row['units']} | {row['recurrent_params']} | "
                f"{row['recurrent_params'] / row['lstm_params']:.3f} | "
                f"{row['model_params']} | {row['metric']:.4f} | "
                f"{row['train_seconds_per_epoch']:.2f} | "
                f"{row['inference_seconds']:.2f} | "
                f"{kernel['training']} / {kernel['inference']} |"
            )
    if result["skipped"]:
        lines += ["", "## Skipped tasks", ""]
        lines += [f"- {task}: {why}" for task, why in result["skipped"].items()]
    return "\n".join(lines) + "\n"


def _run_line(run: dict, merged: bool) -> str:
    line = f"Run {run['started']} to {run['finished']}"
    if run.get("partial"):
        line += " (cut short: the rows it finished)"
    if merged:
        line += f" ({', '.join(run['tasks'])}; cells {', '.join(run['cells'])})"
    return (
        f"{line}; load average {run['load_before']} before, {run['load_after']} after."
    )


def merge(results: list[dict]) -> dict:
    """One leaderboard from the results of several runs (say ``--tasks``
    runs of parts of the standard budget), as ``main`` returns them.

    Tasks and cells keep the order in which they first appear; a row of the
    same task and cell in a later result replaces the earlier one. A task
    in more than one result must have run with the same epochs and task
    settings (data sizes, optimizer) in each, and the results must agree on
    ``--quick``: one table compares equal budgets. ``runs`` records each
    run's time, load, tasks and cells; ``machine`` is the first result's.

    >>> a = {"settings": {"tasks": ["co2"], "cells": ["lstm"], "epochs": {"co2": 10},
    ...      "quick": False, "base_units": {"co2": 64}, "input_dim": {"co2": 1}},
    ...      "machine": {"cpu": "x"}, "started": "s", "finished": "f",
    ...      "load_before": [1], "load_after": [2], "task_info": {"co2": {}},
    ...      "skipped": {}, "rows": [{"task": "co2", "cell": "lstm", "metric": 0.5}]}
    >>> b = {**a, "settings": {**a["settings"], "cells": ["gru"]},
    ...      "rows": [{"task": "co2", "cell": "gru", "metric": 0.6}]}
    >>> merged = merge([a, b])
    >>> merged["settings"]["cells"], [r["cell"] for r in merged["rows"]]
    (['lstm', 'gru'], ['lstm', 'gru'])
    """
    if not results:
        raise ValueError(
            "`results` must hold at least one leaderboard result. Received: []"
        )
    quick = {bool(r["settings"].get("quick")) for r in results}
    if len(quick) > 1:
        raise ValueError(
            "`results` mix --quick runs and full runs: expected one or the "
            "other in one table. Received: quick="
            + str([bool(r["settings"].get("quick")) for r in results])
        )
    tasks, cell_list, rows, runs = [], [], {}, []
    per_task: dict[str, dict] = {}  # epochs, base_units, input_dim, info
    skipped: dict[str, str] = {}
    for index, result in enumerate(results):
        settings = result["settings"]
        for task in settings["tasks"]:
            own = {
                "epochs": settings["epochs"][task],
                "info": result["task_info"].get(task),
            }
            seen = per_task.get(task)
            if seen is not None and own["info"] is not None:
                for key in ("epochs", "info"):
                    if seen["info"] is not None and seen[key] != own[key]:
                        raise ValueError(
                            f"Task '{task}' ran with {key} {seen[key]!r} in "
                            f"results[{seen['index']}] and {own[key]!r} in "
                            f"results[{index}]: expected the same budget in one "
                            "table"
                        )
            if seen is None or seen["info"] is None:
                per_task[task] = {
                    **own,
                    "index": index,
                    "base_units": settings["base_units"][task],
                    "input_dim": settings["input_dim"][task],
                }
            if task not in tasks:
                tasks.append(task)
            if task in result["skipped"]:
                skipped.setdefault(task, result["skipped"][task])
        cell_list += [c for c in settings["cells"] if c not in cell_list]
        for row in result["rows"]:
            rows[(row["task"], row["cell"])] = row
        runs.append(
            {
                key: result[key]
                for key in ("started", "finished", "load_before", "load_after")
            }
            | {"tasks": settings["tasks"], "cells": settings["cells"]}
            | {"partial": bool(result.get("partial"))}
        )
    for task in list(skipped):
        if any(key[0] == task for key in rows):
            del skipped[task]  # another run had the data
    settings = dict(results[0]["settings"])
    settings.update(
        tasks=tasks,
        cells=cell_list,
        epochs={t: per_task[t]["epochs"] for t in tasks},
        base_units={t: per_task[t]["base_units"] for t in tasks},
        input_dim={t: per_task[t]["input_dim"] for t in tasks},
    )
    return {
        "settings": settings,
        "machine": results[0]["machine"],
        "started": min(r["started"] for r in results),
        "finished": max(r["finished"] for r in results),
        "load_before": results[0]["load_before"],
        "load_after": results[-1]["load_after"],
        "task_info": {
            t: per_task[t]["info"] for t in tasks if per_task[t]["info"] is not None
        },
        "skipped": skipped,
        "runs": runs,
        "rows": [rows[(t, c)] for t in tasks for c in cell_list if (t, c) in rows],
    }


def read_results(path: str) -> dict:
    """A run's results.json, from its path or from the directory holding it."""
    if os.path.isdir(path):
        path = os.path.join(path, "results.json")
    if not os.path.isfile(path):
        raise ValueError(
            f"`--merge` takes results.json files or the directories holding "
            f"them. Received: {path!r}, which does not exist"
        )
    with open(path) as f:
        return json.load(f)


def plot(result: dict, path: str) -> bool:
    """Metric against training seconds per epoch: one panel per task, one point per cell."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker
    except ImportError:
        print("matplotlib is not installed: no results.png", file=sys.stderr)
        return False
    tasks = [
        t
        for t in result["settings"]["tasks"]
        if any(r["task"] == t and "error" not in r for r in result["rows"])
    ]
    if not tasks:
        return False
    ncols = min(3, len(tasks))
    nrows = -(-len(tasks) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.5 * ncols, 3.6 * nrows), squeeze=False
    )
    for ax, task in zip(axes.flat, tasks):
        for row in result["rows"]:
            if row["task"] != task or "error" in row:
                continue
            x, y = row["train_seconds_per_epoch"], row["metric"]
            ax.scatter([x], [y])
            ax.annotate(
                row["cell"],
                (x, y),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
        baseline = result["task_info"].get(task, {}).get("baseline_mse_answer_1")
        if baseline is not None:
            ax.axhline(baseline, color="grey", linestyle="--", linewidth=1)
            ax.annotate(
                "answering 1.0",
                (0, baseline),
                xycoords=("axes fraction", "data"),
                fontsize=7,
                color="grey",
                xytext=(3, 3),
                textcoords="offset points",
            )
        ax.set_xscale("log")
        # Plain numbers at 1, 2, 5 x 10^k; none on the minor ticks (they overlap).
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel("training s / epoch (median)")
        ax.set_ylabel(TASKS[task].metric)
        ax.set_title(TASKS[task].label, fontsize=9)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    machine = result["machine"]
    fig.suptitle(
        f"rnn_zoo cells at a matched parameter budget; {machine['cpu']}, "
        f"{machine['cores']} cores",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# ---------------------------------------------------------------- the command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cells", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI smoke run: the recipes' --smoke slices, 1 epoch, cells "
        f"{' '.join(QUICK_CELLS)} and tasks {' '.join(QUICK_TASKS)} unless given",
    )
    parser.add_argument(
        "--cells", nargs="+", default=None, help="registered cell names (default: all)"
    )
    parser.add_argument(
        "--tasks", nargs="+", default=None, help=f"of {', '.join(TASKS)} (default: all)"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs for every task (default: TASKS')",
    )
    parser.add_argument(
        "--adding-length", type=int, default=None, help="T of the adding problem"
    )
    parser.add_argument("--adding-train", type=int, default=None)
    parser.add_argument("--adding-test", type=int, default=None)
    parser.add_argument("--fashion-train", type=int, default=None)
    parser.add_argument("--fashion-test", type=int, default=None)
    parser.add_argument(
        "--merge",
        nargs="+",
        default=None,
        metavar="RESULTS",
        help="train nothing: merge earlier runs' results.json (files or their "
        "directories) into one table, PNG and JSON in --output",
    )
    parser.add_argument("--output", default="benchmarks/results/cells")
    return parser


def _resolve(args: argparse.Namespace) -> argparse.Namespace:
    registered = cell_names()
    if args.cells is None:
        args.cells = list(QUICK_CELLS) if args.quick else registered
    unknown = [c for c in args.cells if c not in registered]
    if unknown:
        raise ValueError(
            f"`--cells` must be registered cell names: {registered}. Received: {unknown}"
        )
    if args.tasks is None:
        args.tasks = list(QUICK_TASKS) if args.quick else list(TASKS)
    unknown = [t for t in args.tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"`--tasks` must be of {list(TASKS)}. Received: {unknown}")
    args.cells = list(dict.fromkeys(args.cells))
    args.tasks = list(dict.fromkeys(args.tasks))
    sizes = {
        "adding_length": QUICK_ADDING["length"] if args.quick else ADDING_LENGTH,
        "adding_train": QUICK_ADDING["train"] if args.quick else ADDING_TRAIN,
        "adding_test": QUICK_ADDING["test"] if args.quick else ADDING_TEST,
        "fashion_train": QUICK_FASHION["train"] if args.quick else FASHION_TRAIN,
        "fashion_test": QUICK_FASHION["test"] if args.quick else FASHION_TEST,
    }
    for name, default in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
        if getattr(args, name) < 1:
            raise ValueError(
                f"`--{name.replace('_', '-')}` must be a positive integer. "
                f"Received: {getattr(args, name)}"
            )
    if args.adding_length < 2:
        raise ValueError(
            f"`--adding-length` must be 2 or more. Received: {args.adding_length}"
        )
    if args.epochs is not None and args.epochs < 1:
        raise ValueError(
            f"`--epochs` must be a positive integer. Received: {args.epochs}"
        )
    epochs = args.epochs or (1 if args.quick else None)
    args.epochs = {t: epochs or TASKS[t].epochs for t in TASKS}
    return args


def main(argv: list[str] | None = None) -> dict:
    """Runs the selected cells x tasks, writes the results; returns what results.json holds."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.merge is not None:
        return _merge_command(parser, args)
    try:
        args = _resolve(args)
    except ValueError as error:
        parser.error(str(error))
    started = datetime.datetime.now().isoformat(timespec="seconds")
    load_before = [round(x, 2) for x in os.getloadavg()]
    settings = {k: v for k, v in vars(args).items() if k != "output"}
    settings.update(
        seed=SEED,
        base_units={t: TASKS[t].base_units for t in args.tasks},
        input_dim={t: TASKS[t].input_dim for t in args.tasks},
        budget_rule="units whose recurrent parameter count is closest to an LSTM "
        "of the task's base width on the same input (ties: the smaller)",
    )
    machine = machine_info()

    def result_of(rows, skipped, infos) -> dict:
        return {
            "settings": settings,
            "machine": machine,
            **run_window(started, load_before),
            "task_info": infos,
            "skipped": skipped,
            "rows": rows,
        }

    def checkpoint(rows, skipped, infos):
        # The rows so far, so that a run cut short can be merged (--merge)
        # with a run of the rest (--cells).
        _write_json({**result_of(rows, skipped, infos), "partial": True}, args.output)

    result = result_of(*run(args, on_row=checkpoint))
    write_results(result, args.output, markdown, plot)
    return result


def _write_json(result: dict, output: str) -> None:
    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, "results.json")
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=1, default=str)
    os.replace(path + ".tmp", path)


def _merge_command(parser, args) -> dict:
    given = [
        f"--{name.replace('_', '-')}"
        for name, value in vars(args).items()
        if name not in ("merge", "output") and value not in (None, False)
    ]
    if given:
        parser.error(
            "`--merge` trains nothing, so it takes only --output: expected no "
            f"other flags. Received: {' '.join(given)}"
        )
    try:
        result = merge([read_results(path) for path in args.merge])
    except (ValueError, KeyError) as error:
        parser.error(f"--merge: {error}")
    write_results(result, args.output, markdown, plot)
    return result


if __name__ == "__main__":
    main()
