"""Surname -> language: a character-level recurrent classifier.

Reads a surname one character at a time and says which of 14 languages it
comes from (English, German, French, Italian, Spanish, Dutch, Swedish,
Finnish, Croatian, Irish, Slovak, Estonian, Polish, Zulu). The surnames are
the per-locale lists that the ``faker`` package ships; see
:mod:`rnn_zoo.data.names` for how they are chosen, cleaned and split.

The model: character embeddings, rnn_zoo's own LSTM (its masking skips the
padding), a softmax over the languages. ``--baseline keras`` trains the same
architecture with ``keras.layers.LSTM`` on the same data and seed, for
comparison; always answering the most common language is the floor that
both must beat.

Run it:

    rnn-zoo train names --output /tmp/names            # about 3 min on 2 CPU cores
    rnn-zoo train names --output /tmp/names_keras --baseline keras
    rnn-zoo train names --output /tmp/smoke --smoke     # seconds: a slice, 1 epoch
    rnn-zoo predict /tmp/names Rossi Schmidt Nowak
    rnn-zoo evaluate /tmp/names
    rnn-zoo tune names --max-trials 10 --output /tmp/names_tuned

It writes, under ``--output``:

- ``model.keras``: the trained Keras model (input: padded character ids);
- ``vocabulary.json``: the languages, the characters and ``max_length``, to
  turn names into ids for ``model.keras``;
- ``export/``: a SavedModel that takes raw strings (``classify`` signature),
  for a model server or ``rnn-zoo predict``;
- ``metrics.json``: test accuracy, epochs, runtime and the configuration;
- ``run.json``: the recipe, its flags and the vocabulary, for
  ``rnn-zoo evaluate`` and ``rnn-zoo export``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import keras
import numpy as np

from rnn_zoo import build_classifier, training
from rnn_zoo.data import names as names_data
from rnn_zoo.export import export_char_classifier

RECIPE = "names"
DESCRIPTION = "surname -> language (14 languages, faker's surname lists)"
# faker is one of rnn_zoo's own dependencies: nothing optional to install.
REQUIRES: dict[str, str] = {}

"""
## Configuration
"""

# Upper bound on epochs: EarlyStopping ends training once validation loss stalls.
EPOCHS = 30
# Names per training step (194 steps per epoch on the full training split).
BATCH_SIZE = 64
# The recurrent cell: "lstm", "gru" or "simple".
CELL = "lstm"
# Recurrent units per layer (per direction); 128 trains in ~8 s per epoch on 2 CPU cores.
UNITS = 128
# Stacked recurrent layers; names are short (7.6 characters on average).
NUM_LAYERS = 1
# Reading both ways (64 units each) reached 82% validation accuracy, not more
# than one direction of 128 (83%), at ~1.5x the time per epoch.
BIDIRECTIONAL = False
# Dropout on embeddings, between layers and before the softmax.
DROPOUT = 0.2
# Size of each character's embedding vector.
EMBEDDING_DIM = 64
# Adam's learning rate; with 2e-3 validation loss bottoms out after ~10 epochs.
LEARNING_RATE = 2e-3
# Epochs without a better validation loss before training stops.
PATIENCE = 3
# Longer names are truncated to their first 24 characters (2 of 15,502).
MAX_LENGTH = names_data.DEFAULT_MAX_LENGTH
# Seeds the split, the shuffling, the initial weights and dropout.
SEED = 1337
# --smoke: names per language (the same real data, a small slice) and epochs.
SMOKE_NAMES_PER_LANGUAGE = 40
SMOKE_EPOCHS = 1
# Names the script classifies at the end, to show the exported model at work.
EXAMPLE_NAMES = ["Rossi", "Schmidt", "Nowak", "Virtanen", "de Vries", "Ó Briain"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's command-line flags (``rnn-zoo train names --help``).

    Args:
        argv: the flags; ``None`` reads ``sys.argv``.

    Returns:
        The parsed flags; bad values exit with status 2 and the flag's name.

    Example:

    >>> args = parse_args(["--output", "/tmp/names", "--cell", "gru"])
    >>> args.cell, args.units
    ('gru', 128)
    """
    parser = training.base_parser(
        RECIPE,
        "Train a surname -> language classifier on faker's surname lists.",
        defaults=dict(
            epochs=EPOCHS,
            batch_size=BATCH_SIZE,
            cell=CELL,
            units=UNITS,
            num_layers=NUM_LAYERS,
            bidirectional=BIDIRECTIONAL,
            dropout=DROPOUT,
            learning_rate=LEARNING_RATE,
            seed=SEED,
        ),
    )
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
    """The three splits as batched ``tf.data`` pipelines of ``(ids, label)``.

    Args:
        args: the recipe's flags (``seed``, ``batch_size``, ``smoke`` are read).

    Returns:
        A :class:`~rnn_zoo.recipes.training.RecipeData` whose ``info`` holds
        ``languages``, ``vocabulary``, ``vocab_size``, ``max_length``,
        ``majority_label`` (the most common training language) and
        ``num_names`` (per split).

    Example:

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
        )

    info = {
        "languages": list(data.languages),
        "vocabulary": list(data.vocabulary),
        "vocab_size": data.vocab_size,
        "max_length": MAX_LENGTH,
        "majority_label": int(np.bincount(data.train.labels).argmax()),
        "num_names": {
            "train": len(data.train),
            "validation": len(data.validation),
            "test": len(data.test),
            "ambiguous_dropped": data.num_ambiguous,
        },
    }
    return training.RecipeData(
        train=dataset(data.train, shuffle=True),
        validation=dataset(data.validation),
        test=dataset(data.test),
        info=info,
    )


"""
## Model

`rnn_zoo.build_classifier`: character embeddings, a recurrent layer, a
softmax. The Keras baseline is the same architecture written with Keras's
own layers, so that the two can be compared on equal terms.
"""


def build_keras_baseline(
    num_classes: int,
    *,
    vocab_size: int,
    cell: str,
    units: int,
    num_layers: int,
    bidirectional: bool,
    dropout: float,
    embedding_dim: int,
) -> keras.Model:
    """``build_classifier``'s architecture with ``keras.layers.LSTM``/``GRU``/``SimpleRNN``.

    Args:
        num_classes: size of the softmax output.
        vocab_size, cell, units, num_layers, bidirectional, dropout,
            embedding_dim: as for :func:`rnn_zoo.build_classifier`; ``cell`` is
            ``"lstm"``, ``"gru"`` or ``"simple"``.

    Example:

    >>> model = build_keras_baseline(3, vocab_size=10, cell="lstm", units=8,
    ...     num_layers=1, bidirectional=False, dropout=0.0, embedding_dim=4)
    >>> model.output_shape  # (batch, num_classes)
    (None, 3)
    """
    keras_layers = {
        "lstm": keras.layers.LSTM,
        "gru": keras.layers.GRU,
        "simple": keras.layers.SimpleRNN,
    }
    if cell not in keras_layers:
        raise ValueError(
            f"`cell` has no Keras counterpart for the baseline: expected one of "
            f"{sorted(keras_layers)}. Received: cell={cell!r}"
        )
    layer_class = keras_layers[cell]
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(
        vocab_size, embedding_dim, mask_zero=True, name="embedding"
    )(inputs)
    if dropout:
        x = keras.layers.Dropout(dropout, name="input_dropout")(x)
    for i in range(num_layers):
        last = i == num_layers - 1
        if i > 0 and dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i - 1}")(x)
        layer = layer_class(units, return_sequences=not last, name=f"{cell}_{i}")
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{i}")
        x = layer(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name=f"keras_{cell}_classifier")


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The compiled classifier: rnn_zoo's, or Keras's with ``--baseline keras``.

    Args:
        args: the recipe's flags (architecture, ``learning_rate``, ``baseline``).
        info: ``load_data``'s info (``languages``, ``vocab_size``).

    Returns:
        A model compiled with Adam, sparse categorical cross-entropy and accuracy.

    Example:

    >>> args = parse_args(["--output", "/tmp/names", "--units", "16"])
    >>> model = build_model(args, {"languages": ["a", "b"], "vocab_size": 10})
    >>> model.output_shape
    (None, 2)
    """
    architecture = dict(
        vocab_size=info["vocab_size"],
        cell=args.cell,
        units=args.units,
        num_layers=args.num_layers,
        bidirectional=args.bidirectional,
        dropout=args.dropout,
        embedding_dim=EMBEDDING_DIM,
    )
    num_classes = len(info["languages"])
    if args.baseline == "keras":
        model = build_keras_baseline(num_classes, **architecture)
    else:
        model = build_classifier(num_classes, name="names_classifier", **architecture)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """The search space for ``rnn-zoo tune names``: rnn_zoo's classifier.

    The tuner picks the cell, units, layers, direction, dropout and learning
    rate; the vocabulary, the languages and ``EMBEDDING_DIM`` stay fixed.

    Args:
        args: the recipe's flags; ``--baseline keras`` cannot be tuned.
        info: ``load_data``'s info.

    Returns:
        A :class:`~rnn_zoo.models.hypermodels.ClassifierHyperModel`.

    Example:

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


def evaluate(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace
) -> dict:
    """Test-split metrics of a trained names model.

    Args:
        model: a compiled model (``build_model``'s, or one loaded from
            ``model.keras``).
        data: ``load_data``'s result.
        args: the recipe's flags (unused; part of the recipe protocol).

    Returns:
        ``test_accuracy``, ``test_loss``, ``test_balanced_accuracy`` (the mean
        of the per-language accuracies), ``test_accuracy_per_language`` and
        ``majority_class_accuracy`` (always answering the most common
        training language: the floor to beat).

    Example:

    >>> metrics = evaluate(model, data, args)  # doctest: +SKIP
    >>> sorted(metrics)[:2]  # doctest: +SKIP
    ['majority_class_accuracy', 'test_accuracy']
    """
    del args  # the test split is in `data`
    test_loss, test_accuracy = model.evaluate(data.test, verbose=0)
    predicted = np.argmax(model.predict(data.test, verbose=0), axis=-1)
    labels = np.concatenate([y.numpy() for _, y in data.test])
    per_language = {
        language: float(np.mean(predicted[labels == i] == i))
        for i, language in enumerate(data.info["languages"])
    }
    return {
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "test_balanced_accuracy": float(np.mean(list(per_language.values()))),
        "test_accuracy_per_language": per_language,
        "majority_class_accuracy": float(
            np.mean(labels == data.info["majority_label"])
        ),
    }


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """Writes the SavedModel that takes raw strings (``classify`` signature).

    The character lookup, truncation and padding run in the graph
    (:func:`rnn_zoo.export.export_char_classifier`).

    Args:
        model: the trained classifier.
        info: ``load_data``'s info (``languages``, ``vocabulary``, ``max_length``).
        export_dir: the SavedModel directory to write.

    Returns:
        ``export_dir``.

    Example:

    >>> export(model, data.info, "/tmp/names/export")  # doctest: +SKIP
    '/tmp/names/export'
    """
    return export_char_classifier(
        model,
        export_dir,
        labels=info["languages"],
        vocabulary=info["vocabulary"],
        max_length=info["max_length"],
    )


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the names classifier; returns the metrics.

    Args:
        argv: command-line flags (``--output DIR`` is required); ``None``
            reads ``sys.argv``.

    Returns:
        The metrics written to ``metrics.json``.

    Example:

    >>> metrics = main(["--output", "/tmp/names_smoke", "--smoke"])  # doctest: +SKIP
    >>> metrics["epochs_run"]  # doctest: +SKIP
    1
    """
    args = parse_args(argv)
    start = time.time()
    keras.utils.set_random_seed(args.seed)

    # ## Data
    data = load_data(args)
    info = data.info
    counts = info["num_names"]
    print(
        f"{len(info['languages'])} languages, "
        f"{counts['train'] + counts['validation'] + counts['test']} names "
        f"({counts['ambiguous_dropped']} ambiguous names dropped): {counts['train']} "
        f"train, {counts['validation']} validation, {counts['test']} test; "
        f"{len(info['vocabulary'])} characters"
    )

    # ## Model
    # In --strategy's scope: the variables are mirrored on every replica.
    with training.strategy_scope(args):
        model = build_model(args, info)
    model.summary()

    # ## Train
    epochs_run, best_epoch, train_seconds = training.fit(
        model, data, args, patience=PATIENCE, smoke_epochs=SMOKE_EPOCHS
    )

    # ## Evaluate
    metrics = evaluate(model, data, args)
    majority = info["languages"][info["majority_label"]]
    print(
        f"Test accuracy: {metrics['test_accuracy']:.4f} (mean per-language accuracy "
        f"{metrics['test_balanced_accuracy']:.4f}); always answering {majority}: "
        f"{metrics['majority_class_accuracy']:.4f}"
    )
    metrics.update(
        {
            "num_names": counts,
            **training.run_record(
                args,
                start,
                epochs_run,
                best_epoch,
                train_seconds,
                implementation="keras" if args.baseline == "keras" else "rnn_zoo",
                embedding_dim=EMBEDDING_DIM,
                patience=PATIENCE,
                max_length=MAX_LENGTH,
            ),
        }
    )

    # ## Save and export
    # model.keras is fed character ids, so the vocabulary goes beside it; the
    # SavedModel in export/ carries its own lookup and takes raw strings.
    with open(os.path.join(args.output, "vocabulary.json"), "w", encoding="utf-8") as f:
        json.dump(
            {
                "languages": info["languages"],
                "vocabulary": info["vocabulary"],
                "max_length": MAX_LENGTH,
            },
            f,
            ensure_ascii=False,
            indent=1,
        )
    training.save_run(RECIPE, args, model, info, metrics)
    export_dir = export(model, info, os.path.join(args.output, training.EXPORT_DIR))

    # ## Inference
    # The exported SavedModel answers raw strings; loading it needs only
    # TensorFlow, not rnn_zoo.
    import tensorflow as tf

    served = tf.saved_model.load(export_dir)
    answers = served.classify(tf.constant(EXAMPLE_NAMES))
    for name, label, probabilities in zip(
        EXAMPLE_NAMES, answers["label"].numpy(), answers["probabilities"].numpy()
    ):
        print(f"{name:>10} -> {label.decode()} ({probabilities.max():.0%})")
    print(
        f"Wrote {args.output}: model.keras, vocabulary.json, export/, metrics.json, run.json"
    )
    return metrics


if __name__ == "__main__":
    main()
