"""The skeleton every recipe's ``main()`` shares, written once.

A recipe reads top to bottom like a keras-io example: configuration
constants, data, model, train, evaluate, export, a few predictions. What
every recipe does the same way between those steps (flags from the
constants, seeding, the clock, building in ``--strategy``'s scope, the
checkpointed fit, ``metrics.json``/``run.json``/``model.keras``) lives here,
so that a recipe's ``main()`` is only the part that is its own::

    def parse_args(argv=None):
        parser = training.recipe_parser(RECIPE, DESCRIPTION, globals())
        ...  # the recipe's own flags
        return training.check_args(parser, parser.parse_args(argv))

    def load_data(args):
        ...  # read the splits; dataset(split, shuffle) batches one
        summary = f"{len(train)} training examples, ..."
        return training.recipe_data(dataset, (train, validation, test), info, summary)

    def build_model(args, info):
        model = build_classifier(..., **training.builder_args(args))
        ...  # compile

    def evaluate(model, data, args):
        ...  # held-out metrics; prints the headline ones
        return results

    def main(argv=None):
        # Seeds everything, starts the clock, reads PATIENCE and SMOKE_EPOCHS.
        run = training.RecipeRun(RECIPE, parse_args(argv), globals())
        # load_data, print data.summary, build, fit, evaluate:
        model, data, results = run.train_and_evaluate(load_data, build_model, evaluate)
        run.save(model, data.info, results, "EMBEDDING_DIM PATIENCE")
        export_dir = export(model, data.info, run.export_dir)
        ...  # a few predictions from export_dir
        run.wrote("export/")
        return results

It fits every task pattern (classifier, tagger, forecaster, language model,
seq2seq): nothing here knows what the model predicts. The recipe protocol
the CLI drives (``parse_args``, ``load_data``, ``build_model``, ...) is
described in :mod:`rnn_zoo.training.run`.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np

from rnn_zoo.training import run as _run

# The flags every recipe has, each defaulting to the recipe's constant of the
# same name in upper case (EPOCHS, BATCH_SIZE, ...).
COMMON_FLAGS = (
    "epochs",
    "batch_size",
    "cell",
    "units",
    "num_layers",
    "dropout",
    "learning_rate",
    "seed",
)
# Flags a recipe has only when it defines the constant (BIDIRECTIONAL).
OPTIONAL_FLAGS = ("bidirectional",)


def recipe_parser(
    recipe: str, description: str, constants: Mapping[str, Any]
) -> argparse.ArgumentParser:
    """:func:`rnn_zoo.training.base_parser` with defaults from a recipe's constants.

    Args:
        recipe: the recipe's name (``rnn-zoo train NAME``).
        description: one line for ``--help``.
        constants: the recipe's configuration, usually its ``globals()``:
            ``EPOCHS``, ``BATCH_SIZE``, ``CELL``, ``UNITS``, ``NUM_LAYERS``,
            ``DROPOUT``, ``LEARNING_RATE``, ``SEED`` and, for a recipe that
            can read both ways, ``BIDIRECTIONAL``.

    Returns:
        The parser; add the recipe's own flags, then
        ``training.check_args(parser, parser.parse_args(argv))``.

    Example:

    >>> constants = dict(EPOCHS=3, BATCH_SIZE=8, CELL="gru", UNITS=4,
    ...     NUM_LAYERS=1, DROPOUT=0.0, LEARNING_RATE=1e-3, SEED=0)
    >>> parser = recipe_parser("demo", "A demo.", constants)
    >>> args = parser.parse_args(["--output", "/tmp/demo", "--units", "16"])
    >>> args.cell, args.units, hasattr(args, "bidirectional")
    ('gru', 16, False)
    """
    missing = [name.upper() for name in COMMON_FLAGS if name.upper() not in constants]
    if missing:
        raise ValueError(
            f"`constants` must define every common flag's default; missing "
            f"{missing}. Received: {sorted(k for k in constants if k.isupper())}"
        )
    defaults = {
        name: constants[name.upper()]
        for name in COMMON_FLAGS + OPTIONAL_FLAGS
        if name.upper() in constants
    }
    return _run.base_parser(recipe, description, defaults=defaults)


def builder_args(args: argparse.Namespace) -> dict[str, Any]:
    """The common flags that every builder takes by the same name.

    ``cell``, ``units``, ``num_layers``, ``dropout`` and, for a recipe with
    ``--bidirectional``, ``bidirectional``: pass them on with
    ``build_classifier(..., **training.builder_args(args))``.

    Example:

    >>> import argparse
    >>> args = argparse.Namespace(cell="gru", units=8, num_layers=2, dropout=0.1,
    ...     learning_rate=1e-3, seed=0)
    >>> builder_args(args)
    {'cell': 'gru', 'units': 8, 'num_layers': 2, 'dropout': 0.1}
    """
    names = ("cell", "units", "num_layers", "dropout", *OPTIONAL_FLAGS)
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def recipe_data(
    dataset: Callable[..., Any],
    splits: Sequence[Any],
    info: dict,
    summary: str = "",
) -> _run.RecipeData:
    """A :class:`RecipeData` from one pipeline function and the three splits.

    Args:
        dataset: ``dataset(split, shuffle=...)`` -> a batched
            ``tf.data.Dataset``; it is called on the training split with
            ``shuffle=True``, then on validation and test with
            ``shuffle=False``.
        splits: ``(train, validation, test)``, whatever ``dataset`` takes.
        info: the JSON-serializable facts for ``run.json``.
        summary: one line on what was loaded, printed before training
            (:attr:`RecipeData.summary`).

    Example:

    >>> import tensorflow as tf
    >>> def dataset(values, shuffle=False):
    ...     ds = tf.data.Dataset.from_tensor_slices((values, values))
    ...     return (ds.shuffle(8, seed=0) if shuffle else ds).batch(4)
    >>> data = recipe_data(dataset, ([1, 2, 3], [4], [5, 6]), {"size": 6})
    >>> targets_of(data.test).tolist(), data.info
    ([5, 6], {'size': 6})
    """
    train, validation, test = splits
    return _run.RecipeData(
        train=dataset(train, shuffle=True),
        validation=dataset(validation, shuffle=False),
        test=dataset(test, shuffle=False),
        info=info,
        summary=summary,
    )


def targets_of(dataset) -> np.ndarray:
    """The targets of a batched ``(inputs, targets)`` dataset, concatenated.

    Example:

    >>> import tensorflow as tf
    >>> ds = tf.data.Dataset.from_tensor_slices(([1, 2, 3], [0, 1, 1])).batch(2)
    >>> targets_of(ds).tolist()
    [0, 1, 1]
    """
    return np.concatenate([np.asarray(y) for _, y in dataset])


class RecipeRun:
    """One training run of a recipe, from its flags to its run directory.

    Creating it seeds Keras (``args.seed``: the split's shuffling, initial
    weights and dropout) and starts the clock that ``metrics.json``'s
    ``total_seconds`` reads; create it right after parsing the flags and
    before loading data, so that every random draw follows the seed.

    Args:
        recipe: the recipe's name, written to ``run.json``.
        args: the parsed flags (``output``, ``seed``, ``smoke``, ...).
        constants: the recipe's configuration, usually its ``globals()``, as
            for :func:`recipe_parser`: :meth:`train` reads ``PATIENCE`` and
            ``SMOKE_EPOCHS`` from it, :meth:`save` the constants it names.

    Attributes:
        export_dir: where the recipe writes its SavedModel (``OUTPUT/export``).
        epochs_run, best_epoch, train_seconds: set by :meth:`fit`.

    Example:

    >>> import argparse
    >>> run = RecipeRun("demo", argparse.Namespace(seed=0, output="/tmp/demo"))
    >>> run.export_dir
    '/tmp/demo/export'
    """

    def __init__(
        self,
        recipe: str,
        args: argparse.Namespace,
        constants: Mapping[str, Any] | None = None,
    ):
        self.recipe = recipe
        self.args = args
        self.constants = dict(constants or {})
        self.start = time.time()
        keras.utils.set_random_seed(args.seed)
        self.export_dir = os.path.join(args.output, _run.EXPORT_DIR)
        self.epochs_run: int | None = None
        self.best_epoch: int | None = None
        self.train_seconds: float | None = None
        # name -> its fit's record, for runs that train several models.
        self.trainings: dict[str, dict] = {}
        self._names: dict[int, str] = {}

    def build(
        self,
        build_model: Callable[[argparse.Namespace, dict], keras.Model],
        info: dict,
        *,
        summary: bool = True,
    ) -> keras.Model:
        """``build_model(args, info)`` in ``--strategy``'s scope, summarised.

        In the scope the variables (weights, optimizer slots, metrics) are
        mirrored on every replica; without ``--strategy`` nothing changes.
        """
        with _run.strategy_scope(self.args):
            model = build_model(self.args, info)
        if summary:
            model.summary()
        return model

    def fit(
        self,
        model: keras.Model,
        data: _run.RecipeData,
        *,
        patience: int,
        smoke_epochs: int = 1,
        name: str | None = None,
    ) -> None:
        """Trains with :func:`rnn_zoo.training.fit` and records how it went.

        Early stopping on the validation loss after ``patience`` epochs
        without improvement (the best weights restored); ``--smoke`` runs
        ``smoke_epochs``; checkpointed and resumable. With ``name`` (a run
        that trains several models) the checkpoints go to
        ``OUTPUT/NAME/checkpoints`` and the record to ``trainings[name]``.
        """
        args = self.args
        if name is not None:
            args = argparse.Namespace(
                **{**vars(args), "output": os.path.join(args.output, name)}
            )
        self.epochs_run, self.best_epoch, self.train_seconds = _run.fit(
            model, data, args, patience=patience, smoke_epochs=smoke_epochs
        )
        if name is not None:
            self.trainings[name] = {
                "epochs_run": self.epochs_run,
                "best_epoch": self.best_epoch,
                "train_seconds": round(self.train_seconds, 1),
            }
            self._names[id(model)] = name

    def train(
        self,
        build_model: Callable[[argparse.Namespace, dict], keras.Model],
        data: _run.RecipeData,
        *,
        patience: int | None = None,
        smoke_epochs: int | None = None,
        summary: bool = True,
        name: str | None = None,
    ) -> keras.Model:
        """Prints ``data.summary``, then :meth:`build`, then :meth:`fit`; returns the model.

        ``patience`` and ``smoke_epochs`` default to the recipe's
        ``PATIENCE`` and ``SMOKE_EPOCHS`` (1 when it has none). ``name``
        names one of several models a run trains: Keras is seeded again
        with ``--seed`` before it is built (every model starts from the same
        seed), and :meth:`fit` keeps its checkpoints and record apart.

        Raises:
            ValueError: when neither ``patience`` nor ``PATIENCE`` is given.
        """
        if patience is None:
            if "PATIENCE" not in self.constants:
                raise ValueError(
                    "RecipeRun.train() needs `patience` or a PATIENCE constant in "
                    f"`constants`. Received constants: {sorted(self.constants)}"
                )
            patience = self.constants["PATIENCE"]
        if smoke_epochs is None:
            smoke_epochs = self.constants.get("SMOKE_EPOCHS", 1)
        if data.summary:
            print(data.summary)
        if name is not None:
            keras.utils.set_random_seed(self.args.seed)
        model = self.build(build_model, data.info, summary=summary)
        self.fit(model, data, patience=patience, smoke_epochs=smoke_epochs, name=name)
        return model

    def train_and_evaluate(
        self,
        load_data: Callable[[argparse.Namespace], _run.RecipeData],
        build_model: Callable[[argparse.Namespace, dict], keras.Model],
        evaluate: Callable[[keras.Model, _run.RecipeData, argparse.Namespace], dict],
    ) -> tuple[keras.Model, _run.RecipeData, dict]:
        """The steps every recipe takes in the same order, with its own functions.

        ``load_data(args)``, then :meth:`train` (which prints the data's
        summary, builds in ``--strategy``'s scope and fits), then
        ``evaluate(model, data, args)`` on the held-out splits.

        Returns:
            ``(model, data, results)``: the trained model, the
            :class:`RecipeData` and ``evaluate``'s metrics.
        """
        data = load_data(self.args)
        model = self.train(build_model, data)
        return model, data, evaluate(model, data, self.args)

    def save(
        self,
        model: keras.Model,
        info: dict,
        metrics: dict,
        *names: str,
        **config: Any,
    ) -> dict:
        """Adds the training record to ``metrics``, then writes the run directory.

        ``metrics`` gains the split sizes (each ``num_*`` dict of ``info``,
        such as ``num_examples``: ``{"train": ..., "validation": ...}``),
        ``epochs_run``, ``best_epoch``, ``train_seconds``,
        ``total_seconds`` and ``config`` (the flags, the recipe's fixed
        settings, the replicas, the Keras version and backend; see
        :func:`rnn_zoo.training.run_record`); in a run of several named
        models, the epochs are ``model``'s, ``train_seconds`` sums them all
        and ``trainings`` holds each one's record. Then ``model.keras``,
        ``run.json`` (recipe, flags, ``info``) and ``metrics.json`` are
        written to ``OUTPUT``.

        Args:
            names: the recipe's constants to record, separated by spaces as
                in ``"EMBEDDING_DIM PATIENCE"``: each is written under its
                lower-case name with its value from ``constants``, as
                :func:`recipe_parser` reads the flags' defaults.
            config: further fixed settings, written after ``names``.

        Returns:
            ``metrics``, updated in place.

        Raises:
            RuntimeError: when :meth:`fit` has not run.
            ValueError: when a name is not one of the constants.
        """
        if self.epochs_run is None:
            raise RuntimeError(
                "RecipeRun.save() records the training: call RecipeRun.fit() first."
            )
        wanted = [name for group in names for name in group.split()]
        missing = [name for name in wanted if name not in self.constants]
        if missing:
            raise ValueError(
                f"`names` must name the recipe's constants; {missing} are not in "
                f"`constants`. Received constants: {sorted(self.constants)}"
            )
        config = {**{name.lower(): self.constants[name] for name in wanted}, **config}
        for key, value in info.items():
            if key.startswith("num_") and isinstance(value, dict):
                metrics.setdefault(key, value)
        epochs_run, best_epoch, seconds = (
            self.epochs_run,
            self.best_epoch,
            self.train_seconds,
        )
        if self.trainings:
            record = self.trainings.get(self._names.get(id(model)), {})
            epochs_run = record.get("epochs_run", epochs_run)
            best_epoch = record.get("best_epoch", best_epoch)
            seconds = sum(t["train_seconds"] for t in self.trainings.values())
            metrics["trainings"] = self.trainings
        metrics.update(
            _run.run_record(
                self.args, self.start, epochs_run, best_epoch, seconds, **config
            )
        )
        _run.save_run(self.recipe, self.args, model, info, metrics)
        return metrics

    def wrote(self, *names: str) -> None:
        """Prints the run directory's artifacts: ``model.keras``, ``names``, the JSON files."""
        written = ("model.keras", *names, _run.METRICS_FILE, _run.RUN_FILE)
        print(f"Wrote {self.args.output}: {', '.join(written)}")
