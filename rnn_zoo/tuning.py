"""Hyperparameter search for a recipe with keras-tuner (``rnn-zoo tune``).

:func:`tune` drives a recipe module through its protocol
(:mod:`rnn_zoo.training`): it loads the recipe's data, lets
``keras_tuner.RandomSearch`` try ``max_trials`` points of the recipe's
``hypermodel``, then trains the best point once more from scratch and writes
an ordinary run directory (``model.keras``, ``run.json``, ``metrics.json``,
``export/``), so ``rnn-zoo evaluate``, ``export`` and ``predict`` work on it as
on a ``train`` run.

Distributed search (keras-tuner's own mode): one process is the *chief*
(``tuner_id="chief"``): it holds the oracle, serves it over gRPC at
``oracle="HOST:PORT"`` and runs no trial; any number of *workers* (any other
``tuner_id``, the same ``oracle``) ask it for trials, train them and report
their scores. When ``max_trials`` trials have run, the workers stop and write
``worker_<tuner_id>.json`` (the trials they ran), and the chief trains the best
configuration and writes the run directory as above. ``tune`` sets the
``KERASTUNER_TUNER_ID``, ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``
environment variables that keras-tuner reads, for its own duration.

Example:

>>> import importlib  # the recipe module `rnn-zoo tune names` runs
>>> names = importlib.import_module("rnn_zoo.recipes.names")  # doctest: +SKIP
>>> args = names.parse_args(["--output", "/tmp/names_tuned", "--smoke"])  # doctest: +SKIP
>>> metrics = tune(names, args, max_trials=2, directory="/tmp/names_tuned/tuner")  # doctest: +SKIP
>>> sorted(metrics["best_hyperparameters"])  # doctest: +SKIP
['bidirectional', 'cell', 'dropout', 'learning_rate', 'num_layers', 'units']
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from types import ModuleType

# Keras and keras-tuner are imported by `tune`: `rnn-zoo tune` checks its
# flags with `check_distributed` before it imports them.

# Early-stopping patience when a recipe module sets no PATIENCE of its own.
DEFAULT_PATIENCE = 3


# What a distributed worker writes into its output directory.
WORKER_FILE = "worker_{tuner_id}.json"


def _recipe_name(recipe_module: ModuleType) -> str:
    return getattr(recipe_module, "RECIPE", recipe_module.__name__.rsplit(".", 1)[-1])


def check_distributed(tuner_id: str | None, oracle: str | None) -> None:
    """Checks the distributed-search arguments of :func:`tune`.

    Raises:
        ValueError: when only one of ``tuner_id`` and ``oracle`` is given,
            ``oracle`` is not ``HOST:PORT`` with a port in 1-65535, or
            ``tuner_id`` is empty, has whitespace, or contains ``chief``
            without being ``chief`` (keras-tuner would make it a chief).
    """
    if (tuner_id is None) != (oracle is None):
        raise ValueError(
            "A distributed search needs both `tuner_id` and `oracle` (HOST:PORT "
            f"of the chief). Received: tuner_id={tuner_id!r}, oracle={oracle!r}"
        )
    if tuner_id is None:
        return
    if (
        not isinstance(tuner_id, str)
        or not tuner_id
        or any(c.isspace() for c in tuner_id)
        or ("chief" in tuner_id and tuner_id != "chief")
    ):
        raise ValueError(
            "`tuner_id` must be 'chief' for the process that holds the oracle, or "
            "a worker name without whitespace or 'chief' in it (e.g. 'tuner0'). "
            f"Received: tuner_id={tuner_id!r}"
        )
    host, _, port = str(oracle).rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(
            "`oracle` must be HOST:PORT with a port in 1-65535, e.g. "
            f"'10.0.0.1:8000'. Received: oracle={oracle!r}"
        )


@contextlib.contextmanager
def _oracle_environment(tuner_id: str | None, oracle: str | None):
    """Sets keras-tuner's distribution variables for the ``with`` body only."""
    if tuner_id is None:
        yield
        return
    host, _, port = oracle.rpartition(":")
    names = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict(zip(names, (tuner_id, host, port))))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _random_search(**kwargs):
    """keras-tuner's RandomSearch, remembering the trials this process ran."""
    import keras_tuner

    class RandomSearch(keras_tuner.RandomSearch):
        def __init__(self, *args, **kwargs):
            self.trials_run_here: list[str] = []
            super().__init__(*args, **kwargs)

        def on_trial_end(self, trial):
            self.trials_run_here.append(trial.trial_id)
            super().on_trial_end(trial)

    return RandomSearch(**kwargs)


def tune(
    recipe_module: ModuleType,
    args: argparse.Namespace,
    *,
    max_trials: int,
    directory: str,
    executions_per_trial: int = 1,
    overwrite: bool = False,
    tuner_id: str | None = None,
    oracle: str | None = None,
) -> dict:
    """Searches a recipe's hyperparameters, then trains, saves and exports the best.

    The objective is the validation loss; every trial (and the final model)
    trains for ``args.epochs`` epochs (1 with ``args.smoke``) under the
    recipe's early stopping (its ``PATIENCE``). The search is seeded with
    ``args.seed``; its trials are kept in ``directory`` so that a search
    interrupted or run again with a larger ``max_trials`` resumes where it
    stopped (unless ``overwrite``).

    Args:
        recipe_module: a recipe module (``rnn_zoo.recipes.names``, ...).
        args: the recipe's flags, from ``recipe_module.parse_args``; the run
            is written to ``args.output``.
        max_trials: how many hyperparameter points to try.
        directory: where keras-tuner keeps its trials.
        executions_per_trial: trainings per point (their mean is the score).
        overwrite: start afresh instead of resuming a search in ``directory``.
        tuner_id: for a distributed search, ``"chief"`` (serves the oracle)
            or a worker's name (runs trials); ``None``: search alone.
        oracle: for a distributed search, the chief's ``HOST:PORT``.

    With ``args.strategy == "mirrored"`` every trial trains under that
    strategy (keras-tuner's ``distribution_strategy``), as does the final
    model; ``multiworker`` is refused (a trial belongs to one tuner).

    Returns:
        The recipe's test metrics plus ``best_hyperparameters``,
        ``best_val_loss``, ``trials_run``, ``epochs_run``, ``search_seconds``,
        ``train_seconds``, ``total_seconds`` and ``config``; the same dict is
        written to ``metrics.json``. A distributed worker returns (and
        writes to ``args.output/worker_<tuner_id>.json``) ``tuner_id``,
        ``oracle``, ``trials_run`` (the ids of the trials it ran) and
        ``search_seconds`` instead, and no run directory.

    Example:

    >>> import importlib
    >>> names = importlib.import_module("rnn_zoo.recipes.names")  # doctest: +SKIP
    >>> args = names.parse_args(["--output", "/tmp/tuned", "--smoke"])  # doctest: +SKIP
    >>> tune(names, args, max_trials=2, directory="/tmp/tuned/tuner")["trials_run"]  # doctest: +SKIP
    2
    """
    import keras
    import numpy as np

    from rnn_zoo import _checks, training

    max_trials = _checks.check_positive_int(max_trials, "max_trials")
    executions_per_trial = _checks.check_positive_int(
        executions_per_trial, "executions_per_trial"
    )
    check_distributed(tuner_id, oracle)
    strategy_name = getattr(args, "strategy", "none")
    if strategy_name == "multiworker":
        raise ValueError(
            "A search runs each trial in one tuner process; spread trials over "
            "hosts with `tuner_id`/`oracle` (--tuner-id/--oracle) and give each "
            "tuner its GPUs with the mirrored strategy. Received: "
            "args.strategy='multiworker'"
        )
    recipe = _recipe_name(recipe_module)
    patience = getattr(recipe_module, "PATIENCE", DEFAULT_PATIENCE)
    epochs = 1 if args.smoke else args.epochs
    start = time.time()
    keras.utils.set_random_seed(args.seed)

    data = recipe_module.load_data(args)
    hypermodel = recipe_module.hypermodel(args, data.info)
    from rnn_zoo import distribute

    strategy = distribute.strategy_for(args)
    is_worker = tuner_id is not None and tuner_id != "chief"
    # Keras's trainer needs fixes to train under a strategy, for the search's
    # and the final training's fit and evaluate only.
    fixes = distribute.keras_fixes(strategy)
    with _oracle_environment(tuner_id, oracle), fixes:
        tuner = _random_search(
            hypermodel=hypermodel,
            objective="val_loss",
            max_trials=max_trials,
            executions_per_trial=executions_per_trial,
            seed=args.seed,
            directory=directory,
            project_name=recipe,
            overwrite=overwrite,
            distribution_strategy=strategy,
        )
        if tuner_id is not None:
            print(
                f"Distributed search: {tuner_id} "
                f"({'serves the oracle' if tuner_id == 'chief' else 'runs trials'})"
                f" at {oracle}",
                flush=True,
            )
        else:
            tuner.search_space_summary()
        # A chief serves the oracle here until every trial has run.
        tuner.search(
            data.train,
            validation_data=data.validation,
            epochs=epochs,
            callbacks=training.callbacks(args, patience=patience),
            shuffle=False,  # a recipe's training split shuffles itself, seeded
        )
    search_seconds = time.time() - start
    if is_worker:
        record = {
            "tuner_id": tuner_id,
            "oracle": oracle,
            "trials_run": list(tuner.trials_run_here),
            "search_seconds": round(search_seconds, 1),
        }
        path = os.path.join(args.output, WORKER_FILE.format(tuner_id=tuner_id))
        with open(path, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
        return record
    tuner.results_summary(num_trials=min(max_trials, 5))
    best_trial = tuner.oracle.get_best_trials(1)[0]
    best = best_trial.hyperparameters

    # The tuner's checkpoints hold each trial's best epoch only; one full
    # training of the best point, seeded like `train`, gives the run's model.
    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    with training.strategy_scope(args):
        model = hypermodel.build(best)
    fit_start = time.time()
    with distribute.keras_fixes(strategy):
        history = model.fit(
            data.train,
            validation_data=data.validation,
            epochs=epochs,
            callbacks=training.callbacks(args, patience=patience),
            shuffle=False,
        )
        train_seconds = time.time() - fit_start
        metrics = recipe_module.evaluate(model, data, args)
    metrics.update(
        {
            "best_hyperparameters": dict(best.values),
            "best_val_loss": float(best_trial.score),
            "trials_run": len(tuner.oracle.trials),
            "epochs_run": len(history.history["loss"]),
            "best_epoch": int(np.argmin(history.history["val_loss"])) + 1,
            "search_seconds": round(search_seconds, 1),
            "train_seconds": round(train_seconds, 1),
            "total_seconds": round(time.time() - start, 1),
            "config": {
                **{k: v for k, v in vars(args).items() if k != "output"},
                "tuner": "RandomSearch",
                "objective": "val_loss",
                "max_trials": max_trials,
                "executions_per_trial": executions_per_trial,
                "patience": patience,
                "tuner_id": tuner_id,
                "oracle": oracle,
                "replicas": training.num_replicas(args),
                "keras_version": keras.__version__,
                "backend": keras.backend.backend(),
            },
        }
    )
    training.save_run(recipe, args, model, data.info, metrics)
    recipe_module.export(
        model, data.info, os.path.join(args.output, training.EXPORT_DIR)
    )
    return metrics
