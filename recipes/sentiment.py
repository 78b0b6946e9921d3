"""Review sentiment: a word-level recurrent classifier on a tfds catalog dataset.

Reads a movie review one word at a time and says whether it is positive or
negative. The reviews are tensorflow-datasets' ``imdb_reviews`` (25,000
training and 25,000 test reviews from IMDB, labelled ``neg``/``pos``); any
other tfds catalog dataset whose supervised pair is ``(Text, ClassLabel)``
works too (``--tfds ag_news_subset``: news descriptions, 4 topics), with the
number of classes read from the dataset's info.

The data path is the ordinary one: ``tfds.load(name, split=...,
as_supervised=True)`` with the official ``train`` and ``test`` splits; the
last 10% of ``train`` (a tfds split slice, the same examples on every run)
is held out for validation and early stopping. A
``keras.layers.TextVectorization`` with a vocabulary from the training
reviews turns text into word ids inside the ``tf.data`` pipeline: id 0 is
padding (masked by the embedding of :func:`rnn_zoo.build_classifier`), id 1
any word outside the vocabulary.

The dataset must be downloaded once (needs internet): either pass
``--download``, or prepare it yourself with
``tfds.builder("imdb_reviews", data_dir=D).download_and_prepare()``. Without
it the recipe stops at once with a message saying so, instead of tfds
retrying a download for minutes on a machine without internet.

Run it:

    rnn-zoo train sentiment --output /tmp/imdb --download         # first time: downloads ~80 MB
    rnn-zoo train sentiment --output /tmp/imdb                    # afterwards
    rnn-zoo train sentiment --output /tmp/imdb --data-dir /data/tfds
    rnn-zoo train sentiment --output /tmp/news --tfds ag_news_subset --download
    rnn-zoo train sentiment --output /tmp/smoke --smoke           # seconds: slices, 1 epoch
    rnn-zoo predict /tmp/imdb "A wonderful film." "Two wasted hours."

It writes, under ``--output``:

- ``model.keras``: the trained Keras model (input: padded word ids);
- ``run.json``: the recipe, its flags and ``info`` (the vocabulary, the
  labels, the sequence length), to turn text into ids for ``model.keras``;
- ``export/``: a SavedModel that takes raw review strings (``classify``
  signature; the vectorization runs in the graph), for a model server or
  ``rnn-zoo predict``;
- ``metrics.json``: test accuracy, the majority-class baseline, epochs,
  runtime and the configuration.
"""

from __future__ import annotations

import argparse
import os
import time

import keras
import numpy as np

from rnn_zoo import build_classifier, training
from rnn_zoo.export import write_classifier_archive

RECIPE = "sentiment"
DESCRIPTION = (
    "review sentiment from a tfds catalog dataset (imdb_reviews; needs internet once)"
)
# tensorflow-datasets is one of rnn_zoo's own dependencies; the data itself
# is downloaded by tfds (--download), not installed from a package.
REQUIRES: dict[str, str] = {}

"""
## Configuration
"""

# The tfds catalog dataset: its supervised pair must be (Text, ClassLabel).
TFDS_NAME = "imdb_reviews"
# Upper bound on epochs: EarlyStopping ends training once validation loss stalls.
EPOCHS = 10
# Reviews per training step.
BATCH_SIZE = 64
# The recurrent cell: "lstm", "gru" or "simple".
CELL = "lstm"
# Recurrent units per layer (per direction).
UNITS = 64
# Stacked recurrent layers.
NUM_LAYERS = 1
# A review's sentiment often turns on its last sentences ("... but it never
# recovers"); reading both ways keeps both ends close to the output.
BIDIRECTIONAL = True
# Dropout on embeddings, between layers and before the softmax.
DROPOUT = 0.3
# Size of each word's embedding vector.
EMBEDDING_DIM = 64
# Adam's learning rate.
LEARNING_RATE = 1e-3
# Epochs without a better validation loss before training stops: IMDB
# overfits within a few epochs.
PATIENCE = 2
# Vocabulary size, padding and the unknown-word id included: the most
# frequent training words.
MAX_TOKENS = 20_000
# Reviews are cut to their first 256 words (an IMDB review has ~230 on
# average) and shorter ones padded: a fixed length bounds the time per step.
SEQUENCE_LENGTH = 256
# The last 10% of the official train split is held out for validation.
VALIDATION_PERCENT = 10
# Reviews in the shuffle buffer: all of IMDB's training split, an exact shuffle.
SHUFFLE_BUFFER = 25_000
# Seeds the shuffling, the initial weights and dropout.
SEED = 1337
# --smoke: a slice of the same splits, a smaller vocabulary and shorter
# reviews, one epoch.
SMOKE_TRAIN_EXAMPLES = 512
SMOKE_EVAL_EXAMPLES = 128
SMOKE_MAX_TOKENS = 2_000
SMOKE_SEQUENCE_LENGTH = 64
SMOKE_EPOCHS = 1
# Reviews the script classifies at the end, to show the exported model at work.
EXAMPLE_REVIEWS = [
    "A wonderful, moving film with a brilliant cast. I loved every minute.",
    "Dull plot, wooden acting and a pointless ending: two wasted hours.",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's command-line flags (``rnn-zoo train sentiment --help``).

    Args:
        argv: the flags; ``None`` reads ``sys.argv``.

    Returns:
        The parsed flags; bad values exit with status 2 and the flag's name.

    Example:

    >>> args = parse_args(["--output", "/tmp/imdb", "--data-dir", "/data/tfds"])
    >>> args.tfds, args.data_dir, args.download
    ('imdb_reviews', '/data/tfds', False)
    """
    parser = training.base_parser(
        RECIPE,
        "Train a review sentiment classifier on a tfds catalog text dataset.",
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
        "--tfds",
        default=TFDS_NAME,
        metavar="NAME",
        help="a tfds catalog dataset whose supervised pair is (text, class label) "
        f"(default {TFDS_NAME})",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="tfds's data directory (default: tfds's own, ~/tensorflow_datasets)",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="download and prepare the dataset into --data-dir if it is not there "
        "yet (needs internet once)",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=MAX_TOKENS,
        help=f"vocabulary size, padding and unknown word included (default {MAX_TOKENS})",
    )
    parser.add_argument(
        "--sequence-length",
        type=int,
        default=SEQUENCE_LENGTH,
        help=f"words read per review (default {SEQUENCE_LENGTH})",
    )
    args = training.check_args(parser, parser.parse_args(argv))
    if args.max_tokens < 3:
        parser.error(
            f"--max-tokens must be at least 3 (padding, unknown word and one "
            f"word), got {args.max_tokens}"
        )
    if args.sequence_length < 1:
        parser.error(
            f"--sequence-length must be a positive integer, got {args.sequence_length}"
        )
    return args


"""
## Data

`tfds.load` gives `(text, label)` pairs; a `TextVectorization` layer, fitted
on the training text, maps each review to `SEQUENCE_LENGTH` word ids in the
`tf.data` pipeline.
"""


def standardize(texts):
    """Lowercases text, turns HTML line breaks into spaces and drops punctuation.

    The same function runs in training and inside the exported SavedModel.
    IMDB reviews carry ``<br />`` tags, which would otherwise become the most
    frequent "word"; letters and digits of every script are kept.

    Args:
        texts: a tf.string tensor.

    Returns:
        The standardized tf.string tensor, same shape.

    Example:

    >>> import tensorflow as tf
    >>> standardize(tf.constant(["Great!<br />A must-see."])).numpy()
    array([b'great a mustsee'], dtype=object)
    """
    import tensorflow as tf

    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf.strings.regex_replace(texts, r"<br\s*/?>", " ")
    return tf.strings.regex_replace(texts, r"[^\p{L}\p{N}\s]", "")


def make_vectorizer(
    sequence_length: int,
    *,
    max_tokens: int | None = None,
    vocabulary: list[str] | None = None,
) -> keras.layers.TextVectorization:
    """A word-level ``TextVectorization``: text -> ``sequence_length`` int ids.

    Give ``max_tokens`` to fit a vocabulary later with ``adapt``, or the
    ``vocabulary`` a fitted one returned (``get_vocabulary()``, which starts
    with ``""`` for padding, id 0, and ``"[UNK]"``, id 1).

    Args:
        sequence_length: ids per text: longer texts are cut, shorter ones
            padded with 0 at the end.
        max_tokens: the vocabulary size to fit, padding and unknown included.
        vocabulary: a fitted vocabulary, in id order.

    Returns:
        The layer (standardization: :func:`standardize`; split on whitespace).

    Example:

    >>> vectorizer = make_vectorizer(4, vocabulary=["", "[UNK]", "great", "film"])
    >>> vectorizer(["Great film, great!"]).numpy().tolist()
    [[2, 3, 2, 0]]
    """
    return keras.layers.TextVectorization(
        max_tokens=max_tokens,
        standardize=standardize,
        split="whitespace",
        output_mode="int",
        output_sequence_length=sequence_length,
        vocabulary=vocabulary,
        name="vectorizer",
    )


def split_spec(args: argparse.Namespace) -> dict[str, str]:
    """The tfds split expressions of the train, validation and test splits.

    Args:
        args: the recipe's flags (``smoke`` is read).

    Returns:
        ``{"train": ..., "validation": ..., "test": ...}``.

    Example:

    >>> split_spec(parse_args(["--output", "/tmp/imdb"]))["validation"]
    'train[90%:]'
    """
    if args.smoke:
        # Both ends of train, so that the slices stay disjoint.
        return {
            "train": f"train[:{SMOKE_TRAIN_EXAMPLES}]",
            "validation": f"train[-{SMOKE_EVAL_EXAMPLES}:]",
            "test": f"test[:{SMOKE_EVAL_EXAMPLES}]",
        }
    cut = 100 - VALIDATION_PERCENT
    return {"train": f"train[:{cut}%]", "validation": f"train[{cut}%:]", "test": "test"}


def _text_and_label_keys(name: str, builder) -> tuple[str, str]:
    """Checks that the dataset is supervised text classification; its keys."""
    import tensorflow_datasets as tfds

    keys = builder.info.supervised_keys
    features = builder.info.features
    if (
        not isinstance(keys, tuple)
        or len(keys) != 2
        or not all(isinstance(key, str) for key in keys)
        or not isinstance(features[keys[0]], tfds.features.Text)
        or not isinstance(features[keys[1]], tfds.features.ClassLabel)
    ):
        raise ValueError(
            f"--tfds {name!r} is not a text classification dataset: the recipe "
            "needs supervised keys (text, label) with a Text and a ClassLabel "
            f"feature. Received: supervised_keys={keys!r}, features={features!r}"
        )
    return keys


def _load_splits(args: argparse.Namespace, builder, splits: dict[str, str]):
    """``tfds.load``, with clear errors when the data is not on this machine."""
    import tensorflow_datasets as tfds

    where = os.fspath(builder.data_dir_root)
    try:
        return tfds.load(
            args.tfds,
            split=list(splits.values()),
            as_supervised=True,
            data_dir=args.data_dir,
            # Without --download tfds only reads what is prepared: an offline
            # machine gets an answer at once, not after minutes of retries.
            download=args.download,
        )
    except AssertionError as error:
        if args.download or "could not find data" not in str(error):
            raise
        raise FileNotFoundError(
            f"The tfds dataset {args.tfds!r} is not prepared in {where}. It must "
            "be downloaded once, which needs internet: run again with --download "
            f"(and the same --data-dir), or prepare it with "
            f"tfds.builder({args.tfds!r}, data_dir=...).download_and_prepare()."
        ) from None
    except OSError as error:
        if not args.download:
            raise
        raise ConnectionError(
            f"Downloading the tfds dataset {args.tfds!r} into {where} failed; "
            "this needs internet once (then the recipe reads it from disk). "
            f"The error: {error}"
        ) from error


def _label_counts(ds, num_labels: int) -> np.ndarray:
    """Examples per label in a dataset of (text, label) pairs."""
    batches = ds.map(lambda text, label: label).batch(4096).as_numpy_iterator()
    labels = np.concatenate([np.zeros(0, np.int64), *batches])
    return np.bincount(labels, minlength=num_labels)


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """The three splits as batched ``tf.data`` pipelines of ``(word ids, label)``.

    Args:
        args: the recipe's flags (``tfds``, ``data_dir``, ``download``,
            ``max_tokens``, ``sequence_length``, ``batch_size``, ``seed``,
            ``smoke`` are read).

    Returns:
        A :class:`~rnn_zoo.recipes.training.RecipeData`; word ids are int32
        ``(batch, sequence_length)``, labels int32 ``(batch,)``. Its ``info``
        holds ``tfds``, ``labels``, ``vocabulary``, ``vocab_size``,
        ``sequence_length``, ``splits``, ``num_examples``,
        ``train_label_counts`` and ``majority_label``.

    Raises:
        ValueError: when ``--tfds`` is not a catalog dataset of
            (text, class label) pairs.
        FileNotFoundError: when the dataset is not prepared and
            ``--download`` was not given.

    Example:

    >>> data = load_data(parse_args(["--output", "/tmp/imdb", "--smoke"]))  # doctest: +SKIP
    >>> data.info["labels"]  # doctest: +SKIP
    ['neg', 'pos']
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(args.tfds, data_dir=args.data_dir)
    except tfds.core.DatasetNotFoundError:
        raise ValueError(
            f"--tfds {args.tfds!r} is not a tfds catalog dataset "
            f"(see tfds.list_builders()); try --tfds {TFDS_NAME}."
        ) from None
    _, label_key = _text_and_label_keys(args.tfds, builder)
    labels = list(builder.info.features[label_key].names)

    splits = split_spec(args)
    raw = dict(zip(splits, _load_splits(args, builder, splits)))
    label_counts = {split: _label_counts(ds, len(labels)) for split, ds in raw.items()}

    # The vocabulary comes from the training text only.
    sequence_length = SMOKE_SEQUENCE_LENGTH if args.smoke else args.sequence_length
    vectorizer = make_vectorizer(
        sequence_length,
        max_tokens=SMOKE_MAX_TOKENS if args.smoke else args.max_tokens,
    )
    vectorizer.adapt(raw["train"].map(lambda text, label: text).batch(1024))

    def vectorize(texts, labels):
        # (batch,) strings -> (batch, sequence_length) ids, 0 = padding.
        return tf.cast(vectorizer(texts), tf.int32), tf.cast(labels, tf.int32)

    def pipeline(ds, shuffle=False):
        if shuffle:
            ds = ds.shuffle(
                SHUFFLE_BUFFER, seed=args.seed, reshuffle_each_iteration=True
            )
        ds = ds.batch(args.batch_size)
        ds = ds.map(vectorize, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    vocabulary = [str(word) for word in vectorizer.get_vocabulary()]
    info = {
        "tfds": args.tfds,
        "labels": labels,
        "vocabulary": vocabulary,
        "vocab_size": len(vocabulary),
        "sequence_length": sequence_length,
        "splits": splits,
        "num_examples": {split: int(c.sum()) for split, c in label_counts.items()},
        "train_label_counts": label_counts["train"].tolist(),
        "majority_label": int(label_counts["train"].argmax()),
    }
    return training.RecipeData(
        train=pipeline(raw["train"], shuffle=True),
        validation=pipeline(raw["validation"]),
        test=pipeline(raw["test"]),
        info=info,
    )


"""
## Model

`rnn_zoo.build_classifier`: word embeddings (padding masked), a
bidirectional LSTM, a softmax over the labels.
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The compiled sentiment classifier.

    Args:
        args: the recipe's flags (architecture and ``learning_rate``).
        info: ``load_data``'s info (``labels``, ``vocab_size``).

    Returns:
        A model compiled with Adam, sparse categorical cross-entropy and accuracy.

    Example:

    >>> args = parse_args(["--output", "/tmp/imdb", "--units", "8"])
    >>> model = build_model(args, {"labels": ["neg", "pos"], "vocab_size": 50})
    >>> model.output_shape
    (None, 2)
    """
    model = build_classifier(
        len(info["labels"]),
        vocab_size=info["vocab_size"],
        cell=args.cell,
        units=args.units,
        num_layers=args.num_layers,
        bidirectional=args.bidirectional,
        dropout=args.dropout,
        embedding_dim=EMBEDDING_DIM,
        name="sentiment_classifier",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """The search space for ``rnn-zoo tune sentiment``: rnn_zoo's classifier.

    The tuner picks the cell, units, layers, direction, dropout and learning
    rate; the vocabulary, the labels and ``EMBEDDING_DIM`` stay fixed.

    Args:
        args: the recipe's flags (unused; part of the recipe protocol).
        info: ``load_data``'s info.

    Returns:
        A :class:`~rnn_zoo.models.hypermodels.ClassifierHyperModel`.

    Example:

    >>> args = parse_args(["--output", "/tmp/imdb"])
    >>> hypermodel(args, {"labels": ["neg", "pos"], "vocab_size": 50})  # doctest: +ELLIPSIS
    <rnn_zoo.models.hypermodels.ClassifierHyperModel object at ...>
    """
    from rnn_zoo.models.hypermodels import ClassifierHyperModel

    del args  # the fixed parts all come from the data
    return ClassifierHyperModel(
        num_classes=len(info["labels"]),
        vocab_size=info["vocab_size"],
        embedding_dim=EMBEDDING_DIM,
        name="sentiment_classifier",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


"""
## Evaluation

Accuracy on the official test split, next to always answering the most
common training label (IMDB is balanced, so that floor is 50%).
"""


def evaluate(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace
) -> dict:
    """Test-split metrics of a trained sentiment model.

    Args:
        model: a compiled model (``build_model``'s, or one loaded from
            ``model.keras``).
        data: ``load_data``'s result.
        args: the recipe's flags (unused; part of the recipe protocol).

    Returns:
        ``test_accuracy``, ``test_loss`` and ``majority_class_accuracy``
        (always answering the most common training label: the floor to beat).

    Example:

    >>> metrics = evaluate(model, data, args)  # doctest: +SKIP
    >>> sorted(metrics)  # doctest: +SKIP
    ['majority_class_accuracy', 'test_accuracy', 'test_loss']
    """
    del args  # the test split is in `data`
    test_loss, test_accuracy = model.evaluate(data.test, verbose=0)
    labels = np.concatenate([y.numpy() for _, y in data.test])
    return {
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "majority_class_accuracy": float(
            np.mean(labels == data.info["majority_label"])
        ),
    }


"""
## Export

The served model takes raw strings: the same `TextVectorization`, rebuilt
from the saved vocabulary, runs in the graph in front of the Keras model.
"""


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """Writes the SavedModel that classifies raw text.

    Signatures:

    - ``classify`` and ``serving_default`` (the same function): input
      ``texts``, tf.string ``(batch,)``; outputs ``label`` (tf.string
      ``(batch,)``), ``index`` (int32 ``(batch,)``) and ``probabilities``
      (float32 ``(batch, num_labels)``);
    - ``labels``: no input; output ``labels``, the label names in index order.

    An empty review is all padding, which the model masks entirely: it gets
    the softmax of the output layer's bias (the model's prior).

    Args:
        model: the trained classifier (word ids in, probabilities out).
        info: ``load_data``'s info (``labels``, ``vocabulary``,
            ``sequence_length``).
        export_dir: the SavedModel directory to write.

    Returns:
        ``export_dir``.

    Example:

    >>> export(model, data.info, "/tmp/imdb/export")  # doctest: +SKIP
    '/tmp/imdb/export'
    """
    import tensorflow as tf

    vectorizer = make_vectorizer(info["sequence_length"], vocabulary=info["vocabulary"])

    def preprocess(texts):
        return tf.cast(vectorizer(texts), tf.int32)  # (batch, sequence_length)

    # The vectorizer's lookup table must be saved with the graph; ExportArchive
    # tracks built layers only.
    vectorizer.build((None,))
    write_classifier_archive(
        model,
        export_dir,
        preprocess=preprocess,
        input_signature=[tf.TensorSpec(shape=(None,), dtype=tf.string, name="texts")],
        labels=info["labels"],
        track=[vectorizer],
    )
    return export_dir


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the sentiment classifier; returns the metrics.

    Args:
        argv: command-line flags (``--output DIR`` is required); ``None``
            reads ``sys.argv``.

    Returns:
        The metrics written to ``metrics.json``.

    Example:

    >>> metrics = main(["--output", "/tmp/imdb_smoke", "--smoke"])  # doctest: +SKIP
    >>> metrics["epochs_run"]  # doctest: +SKIP
    1
    """
    args = parse_args(argv)
    start = time.time()
    keras.utils.set_random_seed(args.seed)

    # ## Data
    data = load_data(args)
    info = data.info
    counts = info["num_examples"]
    print(
        f"{args.tfds}: {counts['train']} train, {counts['validation']} validation, "
        f"{counts['test']} test examples; labels {info['labels']}; "
        f"{info['vocab_size']} words in the vocabulary, "
        f"{info['sequence_length']} words per review"
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
    majority = info["labels"][info["majority_label"]]
    print(
        f"Test accuracy: {metrics['test_accuracy']:.4f}; always answering "
        f"{majority!r}: {metrics['majority_class_accuracy']:.4f}"
    )
    metrics.update(
        {
            "num_examples": counts,
            **training.run_record(
                args,
                start,
                epochs_run,
                best_epoch,
                train_seconds,
                embedding_dim=EMBEDDING_DIM,
                patience=PATIENCE,
                vocab_size=info["vocab_size"],
                sequence_length=info["sequence_length"],
                splits=info["splits"],
            ),
        }
    )

    # ## Save and export
    # model.keras is fed word ids (run.json holds the vocabulary); the
    # SavedModel in export/ vectorizes raw text itself.
    training.save_run(RECIPE, args, model, info, metrics)
    export_dir = export(model, info, os.path.join(args.output, training.EXPORT_DIR))

    # ## Inference
    # The exported SavedModel answers raw strings; loading it needs only
    # TensorFlow, not rnn_zoo.
    import tensorflow as tf

    served = tf.saved_model.load(export_dir)
    answers = served.classify(tf.constant(EXAMPLE_REVIEWS))
    for review, label, probabilities in zip(
        EXAMPLE_REVIEWS, answers["label"].numpy(), answers["probabilities"].numpy()
    ):
        print(f"{label.decode()} ({probabilities.max():.0%}): {review}")
    print(f"Wrote {args.output}: model.keras, run.json, metrics.json, export/")
    return metrics


if __name__ == "__main__":
    main()
