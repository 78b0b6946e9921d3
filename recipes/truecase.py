"""Truecasing: put the capitals back into lower-cased English, one character at a time.

The model reads lower-cased text character by character in both directions
(rnn_zoo's bidirectional GRU, :func:`rnn_zoo.build_tagger`) and tags each
character "upper" or "lower/uncased"; the exact labels come from the
original text. The text is Jane Austen's *Pride and Prejudice*, embedded in
rnn_zoo (public domain; see :mod:`rnn_zoo.data.austen`), split by chapter:
1-49 train, 50-55 validate, 56-61 test. A training or validation example is
a run of whole sentences of one paragraph, at most 128 characters (a longer
sentence is cut at a space), which keeps training fast; a test example is a
whole paragraph, so that every test text starts where a sentence starts, as
a text sent to a truecaser does, and no cut gives the model or a baseline
a false sentence start.

The metric is the F1 score of the "upper" tag over every test character
(with its precision and recall; per-character accuracy is reported too, but
98% of the characters are lower case or uncased, so it says little). Three
baselines run in the same script on the same test characters: capitalising
the first letter after a sentence end and the word "I" (a rule), each word's
most frequent casing in the training chapters (a unigram truecaser, the
classic baseline), and both together (the strongest).

Run it:

    rnn-zoo train truecase --output /tmp/truecase          # about 5 min on 2 CPU cores
    rnn-zoo train truecase --output /tmp/smoke --smoke     # seconds: a slice, 1 epoch
    rnn-zoo evaluate /tmp/truecase

It writes, under ``--output``:

- ``model.keras``: the trained Keras model (input: lower-cased character
  ids, 0 = padding; output: per-character probabilities of padding, lower,
  upper);
- ``export/``: a SavedModel whose ``truecase`` signature takes raw strings
  and returns them truecased (lower-casing, character lookup, tagging and
  re-casing all run in the graph);
- ``metrics.json``: the test F1 next to the baselines', epochs, runtime and
  the configuration;
- ``run.json``: the recipe, its flags and the vocabulary.
"""

from __future__ import annotations

import argparse
import os
import time

import keras
import numpy as np

from rnn_zoo import build_tagger, training
from rnn_zoo.baselines import UnigramTruecaser, rule_truecase
from rnn_zoo.data import austen
from rnn_zoo.metrics import casing_metrics

RECIPE = "truecase"
DESCRIPTION = "truecasing: per-character case tags on Pride and Prejudice"
# The text ships inside rnn_zoo: nothing optional to install.
REQUIRES: dict[str, str] = {}

"""
## Configuration
"""

# Upper bound on epochs: EarlyStopping ends training once validation loss stalls.
# Eight fit the 5-minute budget on 2 shared CPU cores (~30 s each).
EPOCHS = 8
# Examples per training step (181 steps per epoch on the 5,770 training
# examples). A step costs about the same at 32 or 64 examples on a CPU (the
# time loop dominates), so smaller batches give more updates per minute.
BATCH_SIZE = 32
# The recurrent cell: "lstm", "gru" or "simple". In 150 s of training the
# GRU made 928 updates and reached 0.957 validation F1; the LSTM 747 and 0.932.
CELL = "gru"
# Recurrent units per direction.
UNITS = 64
# Stacked recurrent layers.
NUM_LAYERS = 1
# Whether a letter is a capital depends on what follows it too ("mr. darcy"
# vs "mr. and"), so the tagger reads both ways.
BIDIRECTIONAL = True
# Dropout on embeddings and before the output layer; a few epochs of a 40k
# parameter model on 530k characters do not overfit.
DROPOUT = 0.0
# Size of each character's embedding vector (45 lower-cased characters).
EMBEDDING_DIM = 32
# Adam's learning rate, high for a short budget; gradients are clipped to norm
# CLIPNORM so that a large step on a recurrent net stays bounded.
LEARNING_RATE = 1e-2
CLIPNORM = 1.0
# Epochs without a better validation loss before training stops.
PATIENCE = 2
# Most characters per example: runs of whole sentences up to this length.
# A step's time grows with the longest example of the batch; 128 instead of
# 256 gave 3.6x the updates in the same time (and 0.93 vs 0.74 validation
# F1 after 150 s); the context that decides a capital is a few words.
EXAMPLE_LENGTH = 128
# Seeds the shuffling, the initial weights and dropout (the split is fixed).
SEED = 1337
# --smoke: characters kept from each split (the start of its chapters) and epochs.
SMOKE_CHARS = 6000
SMOKE_EPOCHS = 1
# Lower-cased text the script truecases at the end, with the exported model.
EXAMPLE_TEXTS = [
    "it is a truth universally acknowledged, that mr. darcy is proud.",
    "elizabeth bennet walked to netherfield with jane on monday.",
    "i am sure lady catherine de bourgh will call at longbourn in may.",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's command-line flags (``rnn-zoo train truecase --help``).

    Args:
        argv: the flags; ``None`` reads ``sys.argv``.

    Returns:
        The parsed flags; bad values exit with status 2 and the flag's name.

    Example:

    >>> args = parse_args(["--output", "/tmp/truecase", "--units", "32"])
    >>> args.units, args.bidirectional
    (32, True)
    """
    parser = training.base_parser(
        RECIPE,
        "Train a character-level truecaser on Pride and Prejudice.",
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
    return training.check_args(parser, parser.parse_args(argv))


"""
## Data

The chapters of the embedded novel, split chronologically; the training and
validation chapters cut into sentence-run examples, the test chapters into
paragraphs. The input is the lower-cased example as character ids
(vocabulary from the lower-cased training chapters; 0 = padding, 1 =
unknown), the target one tag per character (0 = padding, 1 = lower/uncased,
2 = upper).
"""


def _split(args: argparse.Namespace) -> austen.AustenData:
    return austen.load_austen(max_chars=SMOKE_CHARS if args.smoke else None)


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """The three splits as batched ``tf.data`` pipelines of ``(ids, tags)``.

    Args:
        args: the recipe's flags (``batch_size``, ``seed``, ``smoke`` are read).

    Returns:
        A :class:`~rnn_zoo.recipes.training.RecipeData` whose ``info`` holds
        ``vocabulary`` (the lower-cased characters; ``vocabulary[i]`` has id
        ``i + 4``), ``vocab_size``, ``tags``, ``example_length``,
        ``chapters`` and ``num_examples`` / ``num_characters`` per split.

    Example:

    >>> data = load_data(parse_args(["--output", "/tmp/truecase", "--smoke"]))
    >>> data.info["tags"]
    ['padding', 'lower', 'upper']
    """
    split = _split(args)
    examples = {
        name: austen.truecase_examples(getattr(split, name), EXAMPLE_LENGTH)
        for name in ("train", "validation")
    }
    # Whole paragraphs, shortest first so that a batch pads little (the order
    # does not change the metrics).
    examples["test"] = sorted(split.test.split("\n"), key=len)

    def dataset(name, shuffle=False):
        return austen.make_truecase_dataset(
            examples[name],
            split.lower_vocabulary,
            batch_size=args.batch_size,
            shuffle=shuffle,
            seed=args.seed,
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
    return training.RecipeData(
        train=dataset("train", shuffle=True),
        validation=dataset("validation"),
        test=dataset("test"),
        info=info,
    )


"""
## Model

`rnn_zoo.build_tagger`: character embeddings, a bidirectional GRU, a
softmax over the three tags at every character. The padding mask reaches the
output, so the loss and accuracy skip padded steps.
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The compiled tagger.

    Args:
        args: the recipe's flags (architecture and ``learning_rate``).
        info: ``load_data``'s info (``vocab_size``, ``tags``).

    Returns:
        A model compiled with Adam (gradients clipped to norm ``CLIPNORM``),
        sparse categorical cross-entropy and accuracy.

    Example:

    >>> args = parse_args(["--output", "/tmp/truecase", "--units", "8"])
    >>> build_model(args, {"vocab_size": 20, "tags": ["p", "l", "u"]}).output_shape
    (None, None, 3)
    """
    model = build_tagger(
        len(info["tags"]),
        vocab_size=info["vocab_size"],
        cell=args.cell,
        units=args.units,
        num_layers=args.num_layers,
        bidirectional=args.bidirectional,
        dropout=args.dropout,
        embedding_dim=EMBEDDING_DIM,
        name="truecaser",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=CLIPNORM),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """The search space for ``rnn-zoo tune truecase``: the tagger's architecture.

    Args:
        args: the recipe's flags (unused: the tuner searches them).
        info: ``load_data``'s info.

    Returns:
        A :class:`~rnn_zoo.models.hypermodels.TaggerHyperModel`.

    Example:

    >>> args = parse_args(["--output", "/tmp/truecase"])
    >>> hypermodel(args, {"vocab_size": 20, "tags": ["p", "l", "u"]})  # doctest: +ELLIPSIS
    <rnn_zoo.models.hypermodels.TaggerHyperModel object at ...>
    """
    from rnn_zoo.models.hypermodels import TaggerHyperModel

    del args
    return TaggerHyperModel(
        num_tags=len(info["tags"]),
        vocab_size=info["vocab_size"],
        embedding_dim=EMBEDDING_DIM,
        name="truecaser",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


"""
## Evaluation

Every character of the test paragraphs counts once. The model's tag is the
likelier of "lower" and "upper" (padding is never a choice). The baselines
read the same lower-cased paragraphs.
"""


def predict_tags(model: keras.Model, ids: np.ndarray) -> np.ndarray:
    """Tags (1 lower, 2 upper) for a padded batch of lower-cased character ids.

    Args:
        model: the trained tagger.
        ids: int32 ``(batch, time)``, 0 = padding.

    Returns:
        int32 ``(batch, time)``; 0 on padding.

    Example:

    >>> predict_tags(model, np.array([[5, 6, 0]], "int32"))  # doctest: +SKIP
    array([[2, 1, 0]], dtype=int32)
    """
    probabilities = np.asarray(model.predict_on_batch(ids))
    tags = (1 + np.argmax(probabilities[..., 1:], axis=-1)).astype(np.int32)
    return np.where(ids == austen.PAD_ID, austen.TAG_PAD, tags)


def evaluate(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace
) -> dict:
    """Test-split metrics of a truecaser, and of the baselines on the same text.

    Args:
        model: a trained tagger (``build_model``'s, or one loaded from
            ``model.keras``).
        data: ``load_data``'s result.
        args: the recipe's flags (``smoke`` picks the same slice of text).

    Returns:
        ``test_upper_f1`` (the headline), ``test_upper_precision``,
        ``test_upper_recall``, ``test_char_accuracy``, ``test_characters``,
        ``baseline_upper_f1`` (the best baseline's), and ``baselines``:
        ``{"rule" | "unigram" | "rule_and_unigram": {accuracy, upper_precision,
        upper_recall, upper_f1}}``.

    Example:

    >>> metrics = evaluate(model, data, args)  # doctest: +SKIP
    >>> metrics["test_upper_f1"] > metrics["baseline_upper_f1"]  # doctest: +SKIP
    True
    """
    vocabulary = data.info["vocabulary"]
    true, predicted, texts = [], [], []
    for ids, tags in data.test:
        ids, tags = ids.numpy(), tags.numpy()
        batch_predicted = predict_tags(model, ids)
        for row_ids, row_tags, row_predicted in zip(ids, tags, batch_predicted):
            length = int(np.sum(row_ids != austen.PAD_ID))
            true.append(row_tags[:length])
            predicted.append(row_predicted[:length])
            texts.append(austen.decode(row_ids[:length], vocabulary))
    scores = casing_metrics(true, predicted)

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
    return {
        "test_upper_f1": scores["upper_f1"],
        "test_upper_precision": scores["upper_precision"],
        "test_upper_recall": scores["upper_recall"],
        "test_char_accuracy": scores["accuracy"],
        "test_characters": scores["characters"],
        "baseline_upper_f1": max(b["upper_f1"] for b in baselines.values()),
        "baselines": baselines,
    }


"""
## Export

A SavedModel that takes raw strings: lower-casing, the character lookup,
padding, the tagger and the re-casing run in the graph, so a server needs
nothing but TensorFlow.
"""


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """Writes the truecaser as a SavedModel that maps raw strings to truecased strings.

    Signatures ``truecase`` and ``serving_default`` (the same function):
    input ``texts``, tf.string ``(batch,)`` UTF-8; outputs ``truecased``
    (tf.string ``(batch,)``) and ``probabilities`` (float32 ``(batch,
    longest text, 3)``: padding, lower, upper per character; rows are padded
    like the model's input). Each text is lower-cased
    (``tf.strings.lower``), split into characters, looked up (unknown
    characters -> id 1) and padded; a character becomes upper case when the
    model finds "upper" likelier than "lower". The model masks padding, so a
    text gets the same answer alone or in a batch. Texts are not truncated.

    Args:
        model: the trained tagger.
        info: ``load_data``'s info (``vocabulary``).
        export_dir: the SavedModel directory to write.

    Returns:
        ``export_dir``.

    Example:

    >>> export(model, data.info, "/tmp/truecase/export")  # doctest: +SKIP
    '/tmp/truecase/export'
    >>> served = tf.saved_model.load("/tmp/truecase/export")  # doctest: +SKIP
    >>> served.truecase(tf.constant(["mr. darcy"]))["truecased"]  # doctest: +SKIP
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'Mr. Darcy'], dtype=object)>
    """
    import tensorflow as tf

    vocabulary = list(info["vocabulary"])
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(vocabulary),
            tf.range(
                austen.FIRST_CHAR_ID,
                austen.FIRST_CHAR_ID + len(vocabulary),
                dtype=tf.int64,
            ),
        ),
        default_value=austen.UNK_ID,
    )

    def truecase(texts):
        lower = tf.strings.lower(texts, encoding="utf-8")
        # errors="replace" turns invalid UTF-8 into U+FFFD, an unknown character.
        chars = tf.strings.unicode_split(lower, "UTF-8", errors="replace")
        ids = tf.ragged.map_flat_values(table.lookup, chars)
        # At least one step, so that a batch of empty strings still has a
        # (fully masked) time axis.
        width = tf.maximum(tf.reduce_max(ids.row_lengths()), 1)
        dense = ids.to_tensor(
            default_value=austen.PAD_ID, shape=tf.stack([ids.nrows(), width])
        )
        probabilities = model(tf.cast(dense, "int32"), training=False)
        upper = (
            probabilities[..., austen.TAG_UPPER] > probabilities[..., austen.TAG_LOWER]
        )
        upper = tf.RaggedTensor.from_tensor(upper, lengths=chars.row_lengths())
        recased = tf.where(
            upper.flat_values,
            tf.strings.upper(chars.flat_values, encoding="utf-8"),
            chars.flat_values,
        )
        return {
            "truecased": tf.strings.reduce_join(
                chars.with_flat_values(recased), axis=1
            ),
            "probabilities": probabilities,
        }

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(table)
    # "truecase" comes first, so ExportArchive also makes it serving_default.
    archive.add_endpoint(
        "truecase",
        truecase,
        input_signature=[tf.TensorSpec(shape=(None,), dtype=tf.string, name="texts")],
    )
    archive.write_out(export_dir, verbose=False)
    return export_dir


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the truecaser; returns the metrics.

    Args:
        argv: command-line flags (``--output DIR`` is required); ``None``
            reads ``sys.argv``.

    Returns:
        The metrics written to ``metrics.json``.

    Example:

    >>> metrics = main(["--output", "/tmp/truecase_smoke", "--smoke"])  # doctest: +SKIP
    >>> metrics["epochs_run"]  # doctest: +SKIP
    1
    """
    args = parse_args(argv)
    start = time.time()
    keras.utils.set_random_seed(args.seed)

    # ## Data
    data = load_data(args)
    info = data.info
    print(
        f"Pride and Prejudice, chapters {info['chapters']['train'][0]}-"
        f"{info['chapters']['train'][-1]} / {info['chapters']['validation'][0]}-"
        f"{info['chapters']['validation'][-1]} / {info['chapters']['test'][0]}-"
        f"{info['chapters']['test'][-1]}: "
        + ", ".join(
            f"{info['num_examples'][s]} {s} examples ({info['num_characters'][s]} chars)"
            for s in ("train", "validation", "test")
        )
        + f"; {len(info['vocabulary'])} lower-cased characters"
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
    print(
        f"Test upper-case F1: {metrics['test_upper_f1']:.4f} (precision "
        f"{metrics['test_upper_precision']:.4f}, recall "
        f"{metrics['test_upper_recall']:.4f}; per-character accuracy "
        f"{metrics['test_char_accuracy']:.4f} over {metrics['test_characters']} "
        "characters)"
    )
    for name, scores in metrics["baselines"].items():
        print(
            f"Baseline {name}: upper-case F1 {scores['upper_f1']:.4f} (precision "
            f"{scores['upper_precision']:.4f}, recall {scores['upper_recall']:.4f}; "
            f"accuracy {scores['accuracy']:.4f})"
        )
    metrics.update(
        {
            "num_examples": info["num_examples"],
            **training.run_record(
                args,
                start,
                epochs_run,
                best_epoch,
                train_seconds,
                embedding_dim=EMBEDDING_DIM,
                patience=PATIENCE,
                clipnorm=CLIPNORM,
                example_length=EXAMPLE_LENGTH,
            ),
        }
    )

    # ## Save and export
    # model.keras takes character ids (the vocabulary is in run.json); the
    # SavedModel in export/ carries its own lookup and takes raw strings.
    training.save_run(RECIPE, args, model, info, metrics)
    export_dir = export(model, info, os.path.join(args.output, training.EXPORT_DIR))

    # ## Inference
    # The exported SavedModel answers raw strings; loading it needs only
    # TensorFlow, not rnn_zoo.
    import tensorflow as tf

    served = tf.saved_model.load(export_dir)
    answers = served.truecase(tf.constant(EXAMPLE_TEXTS))["truecased"].numpy()
    for text, answer in zip(EXAMPLE_TEXTS, answers):
        print(f"{text}\n  -> {answer.decode('utf-8')}")
    print(f"Wrote {args.output}: model.keras, export/, metrics.json, run.json")
    return metrics


if __name__ == "__main__":
    main()
