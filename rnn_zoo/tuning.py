"""Hyperparameter search for a recipe with keras-tuner (``rnn-zoo tune``).

:func:`tune` drives a recipe module through its protocol
(:mod:`rnn_zoo.recipes._common`): it loads the recipe's data, lets
``keras_tuner.RandomSearch`` try ``max_trials`` points of the recipe's
``hypermodel``, then trains the best point once more from scratch and writes
an ordinary run directory (``model.keras``, ``run.json``, ``metrics.json``,
``export/``), so ``rnn-zoo evaluate``, ``export`` and ``predict`` work on it as
on a ``train`` run.

Example:

>>> from rnn_zoo.recipes import names
>>> args = names.parse_args(["--output", "/tmp/names_tuned", "--smoke"])
>>> metrics = tune(names, args, max_trials=2, directory="/tmp/names_tuned/tuner")  # doctest: +SKIP
>>> sorted(metrics["best_hyperparameters"])  # doctest: +SKIP
['bidirectional', 'cell', 'dropout', 'learning_rate', 'num_layers', 'units']
"""

from __future__ import annotations

import argparse
import os
import time
from types import ModuleType

import keras
import keras_tuner
import numpy as np

from rnn_zoo import _checks

# Early-stopping patience when a recipe module sets no PATIENCE of its own.
DEFAULT_PATIENCE = 3


def _recipe_name(recipe_module: ModuleType) -> str:
    return getattr(recipe_module, "RECIPE", recipe_module.__name__.rsplit(".", 1)[-1])


def tune(
    recipe_module: ModuleType,
    args: argparse.Namespace,
    *,
    max_trials: int,
    directory: str,
    executions_per_trial: int = 1,
    overwrite: bool = False,
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

    Returns:
        The recipe's test metrics plus ``best_hyperparameters``,
        ``best_val_loss``, ``trials_run``, ``epochs_run``, ``search_seconds``,
        ``train_seconds``, ``total_seconds`` and ``config``; the same dict is
        written to ``metrics.json``.

    Example:

    >>> from rnn_zoo.recipes import names
    >>> args = names.parse_args(["--output", "/tmp/tuned", "--smoke"])
    >>> tune(names, args, max_trials=2, directory="/tmp/tuned/tuner")["trials_run"]  # doctest: +SKIP
    2
    """
    from rnn_zoo.recipes import _common

    max_trials = _checks.check_positive_int(max_trials, "max_trials")
    executions_per_trial = _checks.check_positive_int(
        executions_per_trial, "executions_per_trial"
    )
    recipe = _recipe_name(recipe_module)
    patience = getattr(recipe_module, "PATIENCE", DEFAULT_PATIENCE)
    epochs = 1 if args.smoke else args.epochs
    start = time.time()
    keras.utils.set_random_seed(args.seed)

    data = recipe_module.load_data(args)
    hypermodel = recipe_module.hypermodel(args, data.info)
    tuner = keras_tuner.RandomSearch(
        hypermodel,
        objective="val_loss",
        max_trials=max_trials,
        executions_per_trial=executions_per_trial,
        seed=args.seed,
        directory=directory,
        project_name=recipe,
        overwrite=overwrite,
    )
    tuner.search_space_summary()
    tuner.search(
        data.train,
        validation_data=data.validation,
        epochs=epochs,
        callbacks=_common.callbacks(args, patience=patience),
        shuffle=False,  # a recipe's training split shuffles itself, seeded
    )
    search_seconds = time.time() - start
    tuner.results_summary(num_trials=min(max_trials, 5))
    best_trial = tuner.oracle.get_best_trials(1)[0]
    best = best_trial.hyperparameters

    # The tuner's checkpoints hold each trial's best epoch only; one full
    # training of the best point, seeded like `train`, gives the run's model.
    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    model = hypermodel.build(best)
    fit_start = time.time()
    history = model.fit(
        data.train,
        validation_data=data.validation,
        epochs=epochs,
        callbacks=_common.callbacks(args, patience=patience),
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
                "keras_version": keras.__version__,
                "backend": keras.backend.backend(),
            },
        }
    )
    _common.save_run(recipe, args, model, data.info, metrics)
    recipe_module.export(
        model, data.info, os.path.join(args.output, _common.EXPORT_DIR)
    )
    return metrics
