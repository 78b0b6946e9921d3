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
"""

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

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "EXPORT_DIR",
    "METRICS_FILE",
    "MODEL_FILE",
    "NonFiniteLossError",
    "RECIPES_EXTRA",
    "RUN_FILE",
    "RecipeData",
    "RecipeRun",
    "ResumeError",
    "base_parser",
    "builder_args",
    "callbacks",
    "check_args",
    "fit",
    "fit_resumable",
    "load_model",
    "load_run",
    "missing_packages",
    "num_replicas",
    "print_metrics",
    "recipe_data",
    "recipe_parser",
    "resume_plan",
    "run_flags",
    "run_record",
    "save_run",
    "strategy_scope",
    "targets_of",
]
