"""Review sentiment: a word-level recurrent classifier on a tfds catalog dataset.

Reads a movie review one word at a time and says whether it is positive or
negative. The reviews are tensorflow-datasets' ``imdb_reviews`` (25,000
training and 25,000 test reviews from IMDB, labelled ``neg``/``pos``); any
other tfds catalog dataset whose supervised pair is ``(Text, ClassLabel)``
works too (``--tfds ag_news_subset``: news descriptions, 4 topics), with the
labels read from the dataset's info.

``tfds.load`` reads the official ``train`` and ``test`` splits (the last 10%
of ``train`` held out for validation); a ``TextVectorization`` fitted on the
training reviews turns text into word ids in the ``tf.data`` pipeline
(:mod:`rnn_zoo.data.text_classification`). The data must be downloaded once,
which needs internet: pass ``--download``.

    rnn-zoo train sentiment --output /tmp/imdb --download         # first time: ~80 MB
    rnn-zoo train sentiment --output /tmp/imdb --data-dir /data/tfds
    rnn-zoo train sentiment --output /tmp/news --tfds ag_news_subset --download
    rnn-zoo train sentiment --output /tmp/smoke --smoke           # seconds: slices, 1 epoch
    rnn-zoo predict /tmp/imdb "A wonderful film." "Two wasted hours."

It writes ``model.keras`` (input: padded word ids), ``run.json`` (with the
vocabulary, the labels and the sequence length), ``export/`` (a SavedModel
whose ``classify`` signature takes raw review strings) and ``metrics.json``.
"""

from __future__ import annotations

import argparse

import keras

from rnn_zoo import baselines, build_classifier, training
from rnn_zoo.data import text_classification as text_data
from rnn_zoo.export import export_text_classifier

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
# The last 10% of the official train split is held out for validation.
VALIDATION_PERCENT = 10
# Vocabulary size, padding and the unknown-word id included: the most
# frequent training words.
MAX_TOKENS = 20_000
# Reviews are cut to their first 256 words (an IMDB review has ~230 on
# average) and shorter ones padded: a fixed length bounds the time per step.
SEQUENCE_LENGTH = 256
# Size of each word's embedding vector.
EMBEDDING_DIM = 64
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
# Adam's learning rate.
LEARNING_RATE = 1e-3
# Upper bound on epochs: EarlyStopping ends training once validation loss stalls.
EPOCHS = 10
# Reviews per training step.
BATCH_SIZE = 64
# Reviews in the shuffle buffer: all of IMDB's training split, an exact shuffle.
SHUFFLE_BUFFER = 25_000
# Epochs without a better validation loss before training stops: IMDB
# overfits within a few epochs.
PATIENCE = 2
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
    """``rnn-zoo train sentiment``'s flags: the dataset, where it is, the vocabulary.

    >>> args = parse_args(["--output", "/tmp/imdb", "--data-dir", "/data/tfds"])
    >>> args.tfds, args.data_dir, args.download
    ('imdb_reviews', '/data/tfds', False)
    """
    parser = training.recipe_parser(RECIPE, DESCRIPTION, globals())
    add = parser.add_argument
    add("--tfds", default=TFDS_NAME, metavar="NAME", help="a (text, label) dataset")
    add("--data-dir", metavar="DIR", help="tfds's data directory (default: its own)")
    add("--download", action="store_true", help="fetch it if needed (needs internet)")
    add("--max-tokens", type=int, default=MAX_TOKENS, help="vocabulary size")
    add("--sequence-length", type=int, default=SEQUENCE_LENGTH, help="words read")
    args = training.check_args(parser, parser.parse_args(argv))
    if args.max_tokens < 3:
        parser.error(
            f"--max-tokens must be at least 3 (padding, unknown, a word), got {args.max_tokens}"
        )
    if args.sequence_length < 1:
        parser.error(f"--sequence-length must be positive, got {args.sequence_length}")
    return args


"""
## Data

`tfds.load` gives `(text, label)` pairs; a `TextVectorization` layer, fitted
on the training text, maps each review to `SEQUENCE_LENGTH` word ids in the
`tf.data` pipeline.
"""


def split_spec(args: argparse.Namespace) -> dict[str, str]:
    """The tfds split expressions of the train, validation and test splits.

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


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """Batched ``tf.data`` splits of ``(word ids, label)``, both int32.

    ``info`` holds ``tfds``, ``labels``, ``vocabulary``, ``vocab_size``,
    ``sequence_length``, ``splits``, ``num_examples``, ``train_label_counts``
    and ``majority_label``.
    """
    import tensorflow as tf

    splits = split_spec(args)
    raw, labels = text_data.load_text_classification(
        args.tfds, splits, data_dir=args.data_dir, download=args.download
    )
    label_counts = {
        split: text_data.label_counts(ds, len(labels)) for split, ds in raw.items()
    }

    # The vocabulary comes from the training text only.
    sequence_length = SMOKE_SEQUENCE_LENGTH if args.smoke else args.sequence_length
    vectorizer = text_data.make_vectorizer(
        sequence_length, max_tokens=SMOKE_MAX_TOKENS if args.smoke else args.max_tokens
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
    sizes = ", ".join(f"{n} {split}" for split, n in info["num_examples"].items())
    summary = (
        f"{args.tfds}: {sizes} examples; labels {labels}; {len(vocabulary)} words "
        f"in the vocabulary, {sequence_length} words per review"
    )
    splits = (raw["train"], raw["validation"], raw["test"])
    return training.recipe_data(pipeline, splits, info, summary)


"""
## Model

`rnn_zoo.build_classifier`: word embeddings (padding masked), a
bidirectional LSTM, a softmax over the labels.
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The sentiment classifier, compiled with Adam and sparse cross-entropy.

    >>> args = parse_args(["--output", "/tmp/imdb", "--units", "8"])
    >>> model = build_model(args, {"labels": ["neg", "pos"], "vocab_size": 50})
    >>> model.output_shape
    (None, 2)
    """
    model = build_classifier(
        len(info["labels"]),
        vocab_size=info["vocab_size"],
        embedding_dim=EMBEDDING_DIM,
        name="sentiment_classifier",
        **training.builder_args(args),  # cell, units, layers, direction, dropout
    )
    optimizer = keras.optimizers.Adam(args.learning_rate)
    model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """``rnn-zoo tune sentiment``'s search space; the vocabulary and labels stay fixed.

    >>> args = parse_args(["--output", "/tmp/imdb"])
    >>> hypermodel(args, {"labels": ["neg", "pos"], "vocab_size": 50})  # doctest: +ELLIPSIS
    <rnn_zoo.models.hypermodels.ClassifierHyperModel object at ...>
    """
    from rnn_zoo.models.hypermodels import ClassifierHyperModel

    del args  # the fixed parts all come from the data
    return ClassifierHyperModel(
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        num_classes=len(info["labels"]),
        vocab_size=info["vocab_size"],
        embedding_dim=EMBEDDING_DIM,
        name="sentiment_classifier",
    )


"""
## Evaluation

Accuracy on the official test split, next to always answering the most
common training label (IMDB is balanced, so that floor is 50%).
"""


def evaluate(model: keras.Model, data: training.RecipeData, args) -> dict:
    """Test accuracy and loss, and the majority-class floor."""
    del args  # the test split is in `data`
    test_loss, test_accuracy = model.evaluate(data.test, verbose=0)
    labels = training.targets_of(data.test)
    majority = data.info["majority_label"]
    floor = baselines.majority_class_accuracy(labels, majority)
    print(
        f"Test accuracy: {test_accuracy:.4f}; always answering "
        f"{data.info['labels'][majority]!r}: {floor:.4f}"
    )
    return {
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "majority_class_accuracy": floor,
    }


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """The SavedModel that classifies raw text: the vectorizer runs in its graph."""
    vectorizer = text_data.make_vectorizer(
        info["sequence_length"], vocabulary=info["vocabulary"]
    )
    return export_text_classifier(
        model, export_dir, labels=info["labels"], vectorizer=vectorizer
    )


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the sentiment classifier; returns the metrics."""
    # Seeds everything, starts the clock; reads the constants above.
    run = training.RecipeRun(RECIPE, parse_args(argv), globals())

    # ## Data, model (built in --strategy's scope), training (checkpointed,
    # early stopping on the validation loss) and evaluation
    model, data, results = run.train_and_evaluate(load_data, build_model, evaluate)
    info = data.info

    # ## Save and export
    # model.keras is fed word ids (run.json holds the vocabulary); the
    # SavedModel in export/ vectorizes raw text itself.
    sizes = {key: info[key] for key in ("vocab_size", "sequence_length", "splits")}
    run.save(model, info, results, "EMBEDDING_DIM PATIENCE", **sizes)
    export_dir = export(model, info, run.export_dir)

    # ## Inference
    # The exported SavedModel answers raw strings; it needs only TensorFlow.
    import tensorflow as tf

    served = tf.saved_model.load(export_dir)
    probabilities = served.classify(tf.constant(EXAMPLE_REVIEWS))["probabilities"]
    for review, p in zip(EXAMPLE_REVIEWS, probabilities.numpy()):
        print(f"{info['labels'][p.argmax()]} ({p.max():.0%}): {review}")
    run.wrote("export/")
    return results


if __name__ == "__main__":
    main()
