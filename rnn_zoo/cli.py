"""The ``rnn-zoo`` command: train a recipe, or ask an exported model.

    rnn-zoo train names --output DIR [recipe flags]
    rnn-zoo predict DIR Rossi Schmidt Nowak

A recipe is a module under :mod:`rnn_zoo.recipes` (the repository's
``recipes/`` folder) with ``main(argv)``; adding one to :data:`RECIPES` makes
it a ``train`` target. ``predict`` needs only TensorFlow and the SavedModel
that a recipe wrote to ``DIR/export``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import unicodedata
from collections.abc import Sequence

# Recipe name -> (module, one-line description). A recipe module is imported
# only when it runs, so one recipe's imports never slow down or break another.
RECIPES: dict[str, tuple[str, str]] = {
    "names": (
        "rnn_zoo.recipes.names",
        "surname -> language (14 languages, faker's surname lists)",
    ),
    "vowels": (
        "rnn_zoo.recipes.vowels",
        "Japanese vowels: 12-dim speech frames -> one of 9 speakers",
    ),
    "truecase": (
        "rnn_zoo.recipes.truecase",
        "truecasing: per-character case tags on Pride and Prejudice",
    ),
    "co2": (
        "rnn_zoo.recipes.co2",
        "Mauna Loa CO2: forecast the next weeks vs a seasonal-naive baseline",
    ),
    "generate_names": (
        "rnn_zoo.recipes.generate_names",
        "generate surnames conditioned on a language (faker's surname lists)",
    ),
    "charlm": (
        "rnn_zoo.recipes.charlm",
        "character-level language model on Pride and Prejudice (bits per character)",
    ),
    "g2p": (
        "rnn_zoo.recipes.g2p",
        "English grapheme -> phoneme on CMUdict (seq2seq; phoneme and word error rate)",
    ),
    "sentiment": (
        "rnn_zoo.recipes.sentiment",
        "review sentiment from a tfds catalog dataset (imdb_reviews; needs internet)",
    ),
}


def _recipe_list() -> str:
    return "\n".join(
        f"  {name:<10} {description}" for name, (_, description) in RECIPES.items()
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnn-zoo",
        description="rnn_zoo: train recurrent-network recipes and query exported models.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train",
        help="train a recipe",
        description="Train a recipe. Recipe flags follow its name; "
        "`rnn-zoo train RECIPE --help` lists them.",
        epilog="recipes:\n" + _recipe_list(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("recipe", metavar="RECIPE", help="one of: " + ", ".join(RECIPES))
    # Everything after the recipe name belongs to the recipe's own parser,
    # --help included.
    train.add_argument("recipe_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    train.set_defaults(run=_train, command_parser=train)

    predict = commands.add_parser(
        "predict",
        help="classify names with an exported model",
        description="Classify each NAME with the SavedModel a recipe exported, "
        "printing the most probable labels.",
    )
    predict.add_argument(
        "model_dir",
        metavar="DIR",
        help="a recipe's --output directory (or its export/ SavedModel directory)",
    )
    predict.add_argument("names", metavar="NAME", nargs="+", help="names to classify")
    predict.add_argument(
        "--top",
        type=int,
        default=3,
        help="how many labels to print per name (default 3)",
    )
    predict.set_defaults(run=_predict, command_parser=predict)
    return parser


def _train(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.recipe not in RECIPES:
        parser.error(
            f"unknown recipe {args.recipe!r}; known recipes: {', '.join(sorted(RECIPES))}"
        )
    module = importlib.import_module(RECIPES[args.recipe][0])
    module.main(list(args.recipe_args))
    return 0


def _find_saved_model(model_dir: str) -> str | None:
    for candidate in (os.path.join(model_dir, "export"), model_dir):
        if os.path.isfile(os.path.join(candidate, "saved_model.pb")):
            return candidate
    return None


def _predict(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.top < 1:
        parser.error(f"--top must be a positive integer, got {args.top}")
    path = _find_saved_model(args.model_dir)
    if path is None:
        parser.error(
            f"no SavedModel in {args.model_dir!r} or {os.path.join(args.model_dir, 'export')!r}; "
            "give the --output directory of `rnn-zoo train`"
        )
    import tensorflow as tf

    served = tf.saved_model.load(path)
    labels = [label.decode("utf-8") for label in served.labels()["labels"].numpy()]
    # The model was trained on NFC text; a terminal may hand over decomposed accents.
    names = [unicodedata.normalize("NFC", name) for name in args.names]
    probabilities = served.classify(tf.constant(names))["probabilities"].numpy()
    top = min(args.top, len(labels))
    # An empty name would print as nothing; show it as "".
    shown = [name if name.strip() else repr(name) for name in names]
    width = max(len(name) for name in shown)
    for name, row in zip(shown, probabilities):
        best = row.argsort()[::-1][:top]
        answers = ", ".join(f"{labels[i]} {row[i]:.1%}" for i in best)
        print(f"{name:<{width}}  {answers}")
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
    """
    parser = _build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    # Errors are reported with the usage line of the subcommand that failed.
    return args.run(args.command_parser, args)


if __name__ == "__main__":
    sys.exit(main())
