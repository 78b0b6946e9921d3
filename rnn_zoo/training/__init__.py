"""Training a recipe's model: flags, the resumable fit loop, checkpoints, run directories.

The library owns these so that every recipe (and any user script) trains the
same way; recipes only call them. ``rnn_zoo.training`` never imports a recipe.

- :mod:`rnn_zoo.training.run`: the shared flags (:func:`base_parser`), the
  callbacks, :func:`fit`, and the run directory (``run.json``,
  ``metrics.json``, ``model.keras``, ``export/``).
- :mod:`rnn_zoo.training.resumable`: ``fit``'s epoch loop, checkpointed every
  N steps: resume after a kill, roll back on a non-finite loss.
- :mod:`rnn_zoo.training.checkpoint`: checkpoints on disk (atomic writes,
  SHA-256-checked reads, keep 2).
- :mod:`rnn_zoo.training.recipe`: the skeleton every recipe's ``main()``
  shares (:class:`RecipeRun`: seed, clock, build, fit, save;
  :func:`recipe_parser`: flags from the recipe's constants).
- :mod:`rnn_zoo.training.tagging`: a softmax tagger against a CRF tagger in
  one recipe (train both alike, score both, export the better on validation).

The names below are imported from those modules on first use (PEP 562): the
``rnn-zoo`` command reads the run-directory constants without importing Keras.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Public name -> the module of this package that defines it.
_EXPORTS = {
    **dict.fromkeys(
        ("RecipeRun", "builder_args", "recipe_data", "recipe_parser", "targets_of"),
        "recipe",
    ),
    **dict.fromkeys(
        (
            "DEFAULT_CHECKPOINT_EVERY",
            "NonFiniteLossError",
            "ResumeError",
            "fit_resumable",
            "resume_plan",
            "run_flags",
        ),
        "resumable",
    ),
    **dict.fromkeys(
        (
            "EXPORT_DIR",
            "METRICS_FILE",
            "MODEL_FILE",
            "RECIPES_EXTRA",
            "RUN_FILE",
            "RecipeData",
            "base_parser",
            "callbacks",
            "check_args",
            "fit",
            "load_model",
            "load_run",
            "missing_packages",
            "num_replicas",
            "print_metrics",
            "run_record",
            "save_run",
            "strategy_scope",
        ),
        "run",
    ),
}

# Literal, so that linters and IDEs read it; a test checks it against _EXPORTS.
__all__ = [
    "RecipeRun",
    "builder_args",
    "recipe_data",
    "recipe_parser",
    "targets_of",
    "DEFAULT_CHECKPOINT_EVERY",
    "EXPORT_DIR",
    "METRICS_FILE",
    "MODEL_FILE",
    "NonFiniteLossError",
    "RECIPES_EXTRA",
    "RUN_FILE",
    "RecipeData",
    "ResumeError",
    "base_parser",
    "callbacks",
    "check_args",
    "fit",
    "fit_resumable",
    "load_model",
    "load_run",
    "missing_packages",
    "num_replicas",
    "print_metrics",
    "resume_plan",
    "run_flags",
    "run_record",
    "save_run",
    "strategy_scope",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what type checkers and IDEs see; never run
    from rnn_zoo.training.recipe import (
        RecipeRun,
        builder_args,
        recipe_data,
        recipe_parser,
        targets_of,
    )
    from rnn_zoo.training.resumable import (
        DEFAULT_CHECKPOINT_EVERY,
        NonFiniteLossError,
        ResumeError,
        fit_resumable,
        resume_plan,
        run_flags,
    )
    from rnn_zoo.training.run import (
        EXPORT_DIR,
        METRICS_FILE,
        MODEL_FILE,
        RECIPES_EXTRA,
        RUN_FILE,
        RecipeData,
        base_parser,
        callbacks,
        check_args,
        fit,
        load_model,
        load_run,
        missing_packages,
        num_replicas,
        print_metrics,
        run_record,
        save_run,
        strategy_scope,
    )
