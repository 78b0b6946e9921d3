"""Truecasing: put the capitals back into lower-cased English, one character at a time.

A bidirectional GRU (:func:`rnn_zoo.build_tagger`) reads lower-cased text
and tags each character "upper" or "lower/uncased"; the exact labels come
from the original text: Jane Austen's *Pride and Prejudice*, embedded in
rnn_zoo (:mod:`rnn_zoo.data.austen`), chapters 1-49 train, 50-55 validate,
56-61 test. A training or validation example is a run of whole sentences
of one paragraph, at most 128 characters; a test example is a whole
paragraph, so every test text starts where a sentence starts, as a text
sent to a truecaser does.

The metric is the F1 score of the "upper" tag over every test character
(98% of the characters are lower case or uncased, so accuracy says little);
a character is "upper" when that tag's share of P(upper) + P(lower) exceeds
a threshold chosen on the validation chapters.
Three baselines (:mod:`rnn_zoo.baselines`) run on the same characters: a
rule (capitalise sentence starts and "I"), each word's most frequent casing
in the training chapters (a unigram truecaser), and both together.

Run it:

    rnn-zoo train truecase --output /tmp/truecase          # 6 min of training on 2 busy CPU cores
    rnn-zoo train truecase --output /tmp/smoke --smoke     # seconds: a slice, 1 epoch
    rnn-zoo evaluate /tmp/truecase

It writes ``model.keras`` (lower-cased character ids -> probabilities of
padding, lower, upper per character), ``export/`` (a SavedModel: raw strings
-> truecased strings), ``metrics.json`` and ``run.json`` under ``--output``.
"""

from __future__ import annotations

import argparse

import keras
import numpy as np

from rnn_zoo import build_tagger, training
from rnn_zoo.baselines import UnigramTruecaser, rule_truecase
from rnn_zoo.data import austen
from rnn_zoo.export import export_truecaser
from rnn_zoo.metrics import casing_metrics

RECIPE = "truecase"
DESCRIPTION = "truecasing: per-character case tags on Pride and Prejudice"
# The text ships inside rnn_zoo: nothing optional to install.
REQUIRES: dict[str, str] = {}

"""
## Configuration
"""

# Most characters per example: runs of whole sentences up to this length.
# A step's time grows with the longest example of the batch; 128 instead of
# 256 gave 3.6x the updates in the same time (and 0.93 vs 0.74 validation
# F1 after 150 s); the context that decides a capital is a few words.
EXAMPLE_LENGTH = 128
# --smoke: characters kept from each split (the start of its chapters) and epochs.
SMOKE_CHARS = 6000
SMOKE_EPOCHS = 1
# The recurrent cell: "lstm", "gru" or "simple". In 150 s of training the
# GRU made 928 updates and reached 0.957 validation F1; the LSTM 747 and 0.932.
CELL = "gru"
# Recurrent units per direction.
UNITS = 64
# Stacked recurrent layers: one, reading the whole text both ways, suffices.
NUM_LAYERS = 1
# Whether a letter is a capital depends on what follows it too ("mr. darcy"
# vs "mr. and"), so the tagger reads both ways.
BIDIRECTIONAL = True
# Size of each character's embedding vector (45 lower-cased characters).
EMBEDDING_DIM = 32
# Dropout on embeddings and before the output layer; a few epochs of a 40k
# parameter model on 530k characters do not overfit.
DROPOUT = 0.0
# Adam's peak learning rate, high for a short budget; gradients are clipped to
# norm CLIPNORM so that a large step on a recurrent net stays bounded.
LEARNING_RATE = 1e-2
CLIPNORM = 1.0
# The learning rate follows a cosine from LEARNING_RATE down to this fraction
# of it over the EPOCHS: at a constant 1e-2 the validation loss stopped
# improving after epoch 8 (of 8, and of 16); 6 epochs of the cosine reached
# 0.9361 validation F1 where 8 constant ones reached 0.93.
FINAL_LEARNING_RATE_FRACTION = 0.02
# Most epochs (early stopping may end sooner): 30 s each on 2 CPU cores shared
# with other jobs; the default run's best was epoch 10 (test F1 0.9808).
EPOCHS = 12
# Examples per training step (181 steps per epoch on the 5,770 training
# examples). A step costs about the same at 32 or 64 examples on a CPU (the
# time loop dominates), so smaller batches give more updates per minute.
BATCH_SIZE = 32
# Early stopping: epochs without a better validation loss before it stops.
PATIENCE = 2
# Seeds the shuffling, the initial weights and dropout (the split is fixed).
SEED = 1337
# A character is upper case when P(upper) / (P(upper) + P(lower)) exceeds a
# threshold: the one of these with the best validation F1 (capitals are 2% of
# the characters, and the cross-entropy's 0.5 finds too few of them: after 6
# epochs 0.4 gave 0.9361 validation F1, 0.5 gave 0.9317).
UPPER_THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
# Lower-cased text the script truecases at the end, with the exported model.
EXAMPLE_TEXTS = [
    "it is a truth universally acknowledged, that mr. darcy is proud.",
    "elizabeth bennet walked to netherfield with jane on monday.",
    "i am sure lady catherine de bourgh will call at longbourn in may.",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's flags (``rnn-zoo train truecase --help``).

    >>> parse_args(["--output", "/tmp/truecase", "--units", "32"]).units
    32
    """
    parser = training.recipe_parser(
        RECIPE, "Train a character-level truecaser on Pride and Prejudice.", globals()
    )
    return training.check_args(parser, parser.parse_args(argv))


"""
## Data

The input is the lower-cased example as character ids (vocabulary from the
lower-cased training chapters; 0 = padding, 1 = unknown), the target one
tag per character (0 = padding, 1 = lower/uncased, 2 = upper).
"""


def _split(args: argparse.Namespace) -> austen.AustenData:
    return austen.load_austen(max_chars=SMOKE_CHARS if args.smoke else None)


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """The three splits as batched ``tf.data`` pipelines of ``(ids, tags)``.

    ``info`` holds ``vocabulary`` (the lower-cased characters;
    ``vocabulary[i]`` has id ``i + 4``), ``vocab_size``, ``tags``,
    ``example_length``, ``chapters`` and ``num_examples`` / ``num_characters``
    per split.
    """
    split = _split(args)
    examples = {
        name: austen.truecase_examples(getattr(split, name), EXAMPLE_LENGTH)
        for name in ("train", "validation")
    }
    # Whole paragraphs, shortest first so that a batch pads little (the order
    # does not change the metrics).
    examples["test"] = sorted(split.test.split("\n"), key=len)

    def dataset(texts, shuffle=False):
        batches = dict(batch_size=args.batch_size, seed=args.seed)
        return austen.make_truecase_dataset(
            texts, split.lower_vocabulary, shuffle=shuffle, **batches
        )

    info = {
        "vocabulary": list(split.lower_vocabulary),
        "vocab_size": split.lower_vocab_size,
        "tags": ["padding", "lower", "upper"],
        "example_length": EXAMPLE_LENGTH,
        "chapters": {name: list(numbers) for name, numbers in split.chapters.items()},
        "num_examples": {name: len(value) for name, value in examples.items()},
        "num_characters": {
            name: sum(map(len, value)) for name, value in examples.items()
        },
    }
    chapters = " / ".join(f"{c[0]}-{c[-1]}" for c in info["chapters"].values())
    sizes = ", ".join(
        f"{len(texts)} {name} examples ({sum(map(len, texts))} chars)"
        for name, texts in examples.items()
    )
    summary = (
        f"Pride and Prejudice, chapters {chapters}: {sizes}; "
        f"{len(split.lower_vocabulary)} lower-cased characters"
    )
    splits = (examples["train"], examples["validation"], examples["test"])
    return training.recipe_data(dataset, splits, info, summary)


"""
## Model

`rnn_zoo.build_tagger`: embeddings, a bidirectional GRU, a softmax over the
tags at every character; the loss and accuracy skip the masked padding.
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The tagger, compiled with Adam (clipped gradients) and cross-entropy.

    >>> args = parse_args(["--output", "/tmp/truecase", "--units", "8"])
    >>> info = {"vocab_size": 20, "tags": ["p", "l", "u"], "num_examples": {"train": 64}}
    >>> build_model(args, info).output_shape
    (None, None, 3)
    """
    # The cosine runs over every step of EPOCHS epochs.
    steps = args.epochs * -(-info["num_examples"]["train"] // args.batch_size)
    learning_rate = keras.optimizers.schedules.CosineDecay(
        args.learning_rate, steps, alpha=FINAL_LEARNING_RATE_FRACTION
    )
    model = build_tagger(
        len(info["tags"]),
        vocab_size=info["vocab_size"],
        **training.builder_args(args),  # cell, units, layers, direction, dropout
        embedding_dim=EMBEDDING_DIM,
        name="truecaser",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=CLIPNORM),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """The search space for ``rnn-zoo tune truecase``: the tagger's architecture."""
    from rnn_zoo.models.hypermodels import TaggerHyperModel

    return TaggerHyperModel(
        name="truecaser",
        num_tags=len(info["tags"]),
        vocab_size=info["vocab_size"],
        embedding_dim=EMBEDDING_DIM,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


"""
## Evaluation

Every character of the test paragraphs counts once; the model's tag is
"upper" where P(upper) / (P(upper) + P(lower)) exceeds the threshold chosen
on the validation examples (`UPPER_THRESHOLDS`). The baselines read the same
paragraphs.
"""


def upper_shares(model: keras.Model, dataset, vocabulary: list[str]):
    """Per text: its true tags, P(upper) / (P(upper) + P(lower)) per character, its text."""
    true, shares, texts = [], [], []
    for ids, tags in dataset:
        ids, tags = ids.numpy(), tags.numpy()
        probabilities = np.asarray(model.predict_on_batch(ids))
        share = probabilities[..., 2] / (probabilities[..., 1] + probabilities[..., 2])
        for row_ids, row_tags, row_share in zip(ids, tags, share):
            length = int(np.sum(row_ids != austen.PAD_ID))
            true.append(row_tags[:length])
            shares.append(row_share[:length])
            texts.append(austen.decode(row_ids[:length], vocabulary))
    return true, shares, texts


def tags_of(shares, threshold: float) -> list[np.ndarray]:
    """Tags (1 lower, 2 upper) from :func:`upper_shares`' shares and a threshold."""
    return [
        np.where(s > threshold, austen.TAG_UPPER, austen.TAG_LOWER).astype(np.int32)
        for s in shares
    ]


def predict_tags(
    model: keras.Model, ids: np.ndarray, threshold: float = 0.5
) -> np.ndarray:
    """Tags (1 lower, 2 upper; 0 on padding) for a padded batch of character ids."""
    probabilities = np.asarray(model.predict_on_batch(ids))
    share = probabilities[..., 2] / (probabilities[..., 1] + probabilities[..., 2])
    tags = np.where(share > threshold, austen.TAG_UPPER, austen.TAG_LOWER)
    return np.where(ids == austen.PAD_ID, austen.TAG_PAD, tags).astype(np.int32)


def evaluate(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace
) -> dict:
    """Test F1 (precision, recall, accuracy) of the model and of the baselines.

    ``baseline_upper_f1`` is the best baseline's; ``baselines`` holds each
    one's scores (``rule``, ``unigram``, ``rule_and_unigram``).
    """
    vocabulary = data.info["vocabulary"]
    # The threshold: the best validation F1 (the first of a tie).
    val_true, val_shares, _ = upper_shares(model, data.validation, vocabulary)
    validation_f1 = {
        t: casing_metrics(val_true, tags_of(val_shares, t))["upper_f1"]
        for t in UPPER_THRESHOLDS
    }
    threshold = max(UPPER_THRESHOLDS, key=validation_f1.get)

    true, shares, texts = upper_shares(model, data.test, vocabulary)
    scores = casing_metrics(true, tags_of(shares, threshold))

    unigram = UnigramTruecaser(
        austen.truecase_examples(_split(args).train, EXAMPLE_LENGTH)
    )
    rule_tags = [rule_truecase(text) for text in texts]
    unigram_tags = [unigram.tags(text) for text in texts]
    baselines = {
        "rule": casing_metrics(true, rule_tags),
        "unigram": casing_metrics(true, unigram_tags),
        # Upper where either says upper: sentence starts plus known names.
        "rule_and_unigram": casing_metrics(
            true, [np.maximum(r, u) for r, u in zip(rule_tags, unigram_tags)]
        ),
    }
    for value in baselines.values():
        del value["characters"]
    print(
        f"Threshold {threshold} (validation upper-case F1 "
        f"{validation_f1[threshold]:.4f}; at 0.5: {validation_f1.get(0.5, float('nan')):.4f})"
    )
    rows = {"Test": scores, **{f"Baseline {k}": v for k, v in baselines.items()}}
    for name, value in rows.items():
        print(
            f"{name}: upper-case F1 {value['upper_f1']:.4f} (precision "
            f"{value['upper_precision']:.4f}, recall {value['upper_recall']:.4f}; "
            f"character accuracy {value['accuracy']:.4f})"
        )
    return {
        "test_upper_f1": scores["upper_f1"],
        "test_upper_precision": scores["upper_precision"],
        "test_upper_recall": scores["upper_recall"],
        "test_char_accuracy": scores["accuracy"],
        "test_characters": scores["characters"],
        "upper_threshold": threshold,
        "validation_upper_f1": validation_f1[threshold],
        "baseline_upper_f1": max(b["upper_f1"] for b in baselines.values()),
        "baselines": baselines,
    }


"""
## Export

Lower-casing, the character lookup, padding, the tagger and the re-casing
all run in the SavedModel's graph, so it takes raw strings.
"""


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """Writes the SavedModel (signature ``truecase``: strings -> truecased strings)."""
    return export_truecaser(
        model,
        export_dir,
        vocabulary=info["vocabulary"],
        upper_threshold=info["upper_threshold"],
    )


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the truecaser; returns the metrics."""
    run = training.RecipeRun(RECIPE, parse_args(argv), globals())

    # ## Data, model (in --strategy's scope), training (checkpointed, early
    # stopping) and evaluation
    model, data, metrics = run.train_and_evaluate(load_data, build_model, evaluate)
    # The SavedModel capitalises with the threshold chosen on validation.
    info = {**data.info, "upper_threshold": metrics["upper_threshold"]}
    run.save(
        model,
        info,
        metrics,
        "EMBEDDING_DIM PATIENCE CLIPNORM FINAL_LEARNING_RATE_FRACTION EXAMPLE_LENGTH",
    )

    # ## Export and inference
    # The SavedModel carries its own lookup and answers raw strings; loading
    # it needs only TensorFlow, not rnn_zoo.
    import tensorflow as tf

    served = tf.saved_model.load(export(model, info, run.export_dir))
    answers = served.truecase(tf.constant(EXAMPLE_TEXTS))["truecased"].numpy()
    for text, answer in zip(EXAMPLE_TEXTS, answers):
        print(f"{text}\n  -> {answer.decode('utf-8')}")
    run.wrote("export/")
    return metrics


if __name__ == "__main__":
    main()
