"""Surname -> language: a character-level recurrent classifier.

Reads a surname one character at a time and says which of 14 languages it
comes from, from the per-locale surname lists that the ``faker`` package
ships (:mod:`rnn_zoo.data.names` chooses, cleans and splits them). The
model: character embeddings, rnn_zoo's own LSTM (its masking skips the
padding), a softmax over the languages. ``--baseline keras`` trains the same
architecture with ``keras.layers.LSTM`` on the same data and seed; always
answering the most common language is the floor both must beat.

    rnn-zoo train names --output /tmp/names            # about 3 min on 2 CPU cores
    rnn-zoo train names --output /tmp/names_keras --baseline keras
    rnn-zoo train names --output /tmp/smoke --smoke     # seconds: a slice, 1 epoch
    rnn-zoo predict /tmp/names Rossi Schmidt Nowak
    rnn-zoo tune names --max-trials 10 --output /tmp/names_tuned

It writes ``model.keras`` (input: padded character ids), ``vocabulary.json``
(the languages, the characters and ``max_length``, to feed ``model.keras``),
``export/`` (a SavedModel whose ``classify`` signature takes raw strings),
``metrics.json`` and ``run.json``.
"""

from __future__ import annotations

import argparse
import json
import os

import keras

from rnn_zoo import baselines, build_classifier, metrics, training
from rnn_zoo.data import names as names_data
from rnn_zoo.export import export_char_classifier, streaming

RECIPE = "names"
DESCRIPTION = "surname -> language (14 languages, faker's surname lists)"
# faker is one of rnn_zoo's own dependencies: nothing optional to install.
REQUIRES: dict[str, str] = {}

"""
## Configuration
"""

# Longer names are truncated to their first 24 characters (2 of 15,502).
MAX_LENGTH = names_data.DEFAULT_MAX_LENGTH
# --smoke: names per language (the same real data, a small slice) and epochs.
SMOKE_NAMES_PER_LANGUAGE = 40
SMOKE_EPOCHS = 1
# The recurrent cell: "lstm", "gru" or "simple".
CELL = "lstm"
# Recurrent units per layer (per direction); 128 trains in ~8 s per epoch on 2 CPU cores.
UNITS = 128
# Stacked recurrent layers; names are short (7.6 characters on average).
NUM_LAYERS = 1
# Reading both ways (64 units each) reached 82% validation accuracy, not more
# than one direction of 128 (83%), at ~1.5x the time per epoch.
BIDIRECTIONAL = False
# Size of each character's embedding vector.
EMBEDDING_DIM = 64
# Dropout on embeddings, between layers and before the softmax.
DROPOUT = 0.2
# Adam's learning rate; with 2e-3 validation loss bottoms out after ~10 epochs.
LEARNING_RATE = 2e-3
# Upper bound on epochs: EarlyStopping ends training once validation loss stalls.
EPOCHS = 30
# Names per training step (194 steps per epoch on the full training split).
BATCH_SIZE = 64
# Epochs without a better validation loss before training stops.
PATIENCE = 3
# Seeds the split, the shuffling, the initial weights and dropout.
SEED = 1337
# Names the script classifies at the end, to show the exported model at work.
EXAMPLE_NAMES = ["Rossi", "Schmidt", "Nowak", "Virtanen", "de Vries", "Ó Briain"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``rnn-zoo train names``'s flags: the constants above, and ``--baseline``.

    >>> parse_args(["--output", "/tmp/names", "--baseline", "keras"]).baseline
    'keras'
    """
    parser = training.recipe_parser(RECIPE, DESCRIPTION, globals())
    parser.add_argument(
        "--baseline",
        choices=["keras"],
        default=None,
        help="build the same model with Keras's own recurrent layers instead of rnn_zoo's",
    )
    return training.check_args(parser, parser.parse_args(argv))


"""
## Data

Surnames from 14 faker locales, ambiguous names dropped, a stratified
80/10/10 split, characters -> ids with a vocabulary from the training split
(0 = padding, 1 = unknown character).
"""


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """Batched ``tf.data`` splits of ``(ids, label)``; ``info`` holds the vocabulary.

    >>> data = load_data(parse_args(["--output", "/tmp/names", "--smoke"]))
    >>> data.info["languages"][:2]
    ['English', 'German']
    """
    data = names_data.load_names(
        seed=args.seed,
        max_per_language=SMOKE_NAMES_PER_LANGUAGE if args.smoke else None,
    )

    def dataset(split, shuffle=False):
        return names_data.make_dataset(
            split,
            data.vocabulary,
            batch_size=args.batch_size,
            max_length=MAX_LENGTH,
            shuffle=shuffle,
            seed=args.seed,
            # --smoke: one batch shape, so training compiles one step; a full
            # run batches names of similar length (a few shapes, little padding).
            fixed_length=args.smoke,
            # Training drops each length bucket's last, smaller batch (about
            # 1.5 % of the names, others every epoch): a new batch size each
            # epoch would be a new shape to compile each epoch.
            drop_remainder=shuffle,
        )

    info = {
        "languages": list(data.languages),
        "vocabulary": list(data.vocabulary),
        "vocab_size": data.vocab_size,
        "max_length": MAX_LENGTH,
        "majority_label": baselines.majority_class(data.train.labels),
        "num_names": {
            "train": len(data.train),
            "validation": len(data.validation),
            "test": len(data.test),
            "ambiguous_dropped": data.num_ambiguous,
        },
    }
    splits = (data.train, data.validation, data.test)
    summary = (
        f"{len(data.languages)} languages, {sum(map(len, splits))} names "
        f"({data.num_ambiguous} ambiguous names dropped): {len(data.train)} train, "
        f"{len(data.validation)} validation, {len(data.test)} test; "
        f"{len(data.vocabulary)} characters"
    )
    return training.recipe_data(dataset, splits, info, summary)


"""
## Model

`rnn_zoo.build_classifier`: character embeddings, a recurrent layer, a
softmax. The Keras baseline (`rnn_zoo.baselines.build_keras_classifier`) is
the same architecture written with Keras's own layers.
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The compiled classifier: rnn_zoo's, or Keras's with ``--baseline keras``.

    >>> args = parse_args(["--output", "/tmp/names", "--units", "16"])
    >>> build_model(args, {"languages": ["a", "b"], "vocab_size": 10}).output_shape
    (None, 2)
    """
    # cell, units, num_layers, bidirectional and dropout come from the flags.
    architecture = dict(
        vocab_size=info["vocab_size"],
        embedding_dim=EMBEDDING_DIM,
        **training.builder_args(args),
    )
    num_classes = len(info["languages"])
    if args.baseline == "keras":
        model = baselines.build_keras_classifier(num_classes, **architecture)
    else:
        model = build_classifier(num_classes, name="names_classifier", **architecture)
    optimizer = keras.optimizers.Adam(args.learning_rate)
    model.compile(
        optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """``rnn-zoo tune names``'s search space: cell, size, dropout, learning rate.

    >>> args = parse_args(["--output", "/tmp/names"])
    >>> hypermodel(args, {"languages": ["a", "b"], "vocab_size": 10})  # doctest: +ELLIPSIS
    <rnn_zoo.models.hypermodels.ClassifierHyperModel object at ...>
    """
    from rnn_zoo.models.hypermodels import ClassifierHyperModel

    if args.baseline is not None:
        raise ValueError(
            "The tuner searches rnn_zoo's classifier; `--baseline` has no search "
            f"space. Received: --baseline {args.baseline}"
        )
    return ClassifierHyperModel(
        num_classes=len(info["languages"]),
        vocab_size=info["vocab_size"],
        embedding_dim=EMBEDDING_DIM,
        name="names_classifier",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


"""
## Evaluation

Accuracy over all test names, and per language: the classes differ in size
(from 35 test names for Estonian to 379 for Polish), so the mean
per-language accuracy shows whether small languages are neglected.
"""


def evaluate(model: keras.Model, data: training.RecipeData, args) -> dict:
    """Test accuracy and loss, per language (``test_accuracy_per_class``) and
    balanced, and the majority-class floor."""
    del args  # the test split is in `data`
    languages, majority = data.info["languages"], data.info["majority_label"]
    scores = metrics.classifier_scores(model, data.test, languages)
    results = {f"test_{name}": value for name, value in scores.items()}
    labels = training.targets_of(data.test)
    results["majority_class_accuracy"] = baselines.majority_class_accuracy(
        labels, majority
    )
    print(
        f"Test accuracy: {scores['accuracy']:.4f} (mean per-language accuracy "
        f"{results['test_balanced_accuracy']:.4f}); always answering "
        f"{languages[majority]}: {results['majority_class_accuracy']:.4f}"
    )
    return results


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """The SavedModel that takes raw strings; the character lookup runs in its graph."""
    return export_char_classifier(
        model,
        export_dir,
        labels=info["languages"],
        vocabulary=info["vocabulary"],
        max_length=info["max_length"],
        # The training batches' lengths: shapes the model already compiled.
        bucket_lengths=names_data.BUCKET_LENGTHS,
    )


def export_streaming(model: keras.Model, info: dict, export_dir: str) -> str:
    """``rnn-zoo export DIR --format streaming``: a name read in chunks of characters.

    After each chunk the SavedModel answers for the characters so far
    (docs/streaming.md); a ``--baseline keras`` model (Keras's own LSTM)
    cannot stream.
    """
    return streaming.export_streaming(
        model, export_dir, vocabulary=info["vocabulary"], labels=info["languages"]
    )


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the names classifier; returns the metrics."""
    # Seeds everything, starts the clock; reads the constants above.
    run = training.RecipeRun(RECIPE, parse_args(argv), globals())
    args = run.args

    # ## Data, model (built in --strategy's scope), training (checkpointed,
    # early stopping on the validation loss) and evaluation
    model, data, results = run.train_and_evaluate(load_data, build_model, evaluate)

    # ## Save and export
    # model.keras is fed character ids, so the vocabulary goes beside it; the
    # SavedModel in export/ carries its own lookup and takes raw strings.
    info = data.info
    run.save(
        model,
        info,
        results,
        "EMBEDDING_DIM PATIENCE MAX_LENGTH",
        implementation="keras" if args.baseline == "keras" else "rnn_zoo",
    )
    vocabulary = {k: info[k] for k in ("languages", "vocabulary", "max_length")}
    with open(os.path.join(args.output, "vocabulary.json"), "w", encoding="utf-8") as f:
        json.dump(vocabulary, f, ensure_ascii=False, indent=1)
    export_dir = export(model, info, run.export_dir)

    # ## Inference
    # The exported SavedModel answers raw strings; it needs only TensorFlow.
    import tensorflow as tf

    served = tf.saved_model.load(export_dir)
    answers = served.classify(tf.constant(EXAMPLE_NAMES))
    for name, label, probabilities in zip(
        EXAMPLE_NAMES, answers["label"].numpy(), answers["probabilities"].numpy()
    ):
        print(f"{name:>10} -> {label.decode()} ({probabilities.max():.0%})")
    run.wrote("vocabulary.json", "export/")
    return results


if __name__ == "__main__":
    main()
