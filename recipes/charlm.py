"""A character-level language model of Jane Austen's prose, and samples from it.

A GRU (:func:`rnn_zoo.build_generator`) reads *Pride and Prejudice*
(:mod:`rnn_zoo.data.austen`: chapters 1-49 train, 50-55 validate, 56-61
test) one character at a time and predicts the next one, in chunks of 100
characters. The metric is bits per character on the test chapters; the
baselines are character n-gram models (:class:`rnn_zoo.baselines.NGramModel`):
a unigram and the order best on the validation chapters, fitted on the same
training chapters. Both read the test chapters as one stream, each character
predicted from the text before it (the GRU's state carried across the whole
test text, as the n-gram's history runs across it). Then
:func:`rnn_zoo.generate` continues three prompts.

Run it:

    rnn-zoo train charlm --output /tmp/charlm          # 15 min of training on 2 busy CPU cores
    rnn-zoo train charlm --output /tmp/charlm --extra-text  # + Austen's other novels
    rnn-zoo train charlm --output /tmp/smoke --smoke   # seconds: a slice, 1 epoch
    rnn-zoo evaluate /tmp/charlm

It writes ``model.keras`` (character ids after the start id 2 -> logits),
``export/`` (a SavedModel that continues prompt strings in its graph),
``metrics.json`` and ``run.json`` under ``--output``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math

import keras
import numpy as np

from rnn_zoo import build_generator, generate, training
from rnn_zoo.baselines import NGramModel
from rnn_zoo.data import austen, janeaustenr
from rnn_zoo.export import export_char_generator
from rnn_zoo.metrics import bits_per_character

RECIPE = "charlm"
DESCRIPTION = (
    "character-level language model on Pride and Prejudice (bits per character)"
)
# The text ships inside rnn_zoo: nothing optional to install.
REQUIRES: dict[str, str] = {}

"""
## Configuration
"""

# Characters per chunk: the context the model sees at most.
SEQ_LENGTH = austen.DEFAULT_SEQ_LENGTH
# The recurrent cell: "lstm", "gru" or "simple". After 150 s of training:
# GRU 192 units (lr 5e-3) 1.94 validation bits per character, GRU 128
# (lr 1e-2) 1.96, LSTM 128 (lr 3e-3, batch 64) 2.49.
CELL = "gru"
# Recurrent units per layer; 256 costs ~4x the time per step of 128.
UNITS = 192
# GRU layers, stacked.
NUM_LAYERS = 1
# Size of each character's embedding vector (70 characters).
EMBEDDING_DIM = 32
# Dropout on embeddings, between layers and before the output layer.
DROPOUT = 0.0
# Adam's peak learning rate, high for a short budget; gradients are clipped to
# norm CLIPNORM so that a large step on a recurrent net stays bounded.
LEARNING_RATE = 5e-3
CLIPNORM = 1.0
# The learning rate follows a cosine from LEARNING_RATE down to this fraction
# of it over the EPOCHS (at a constant 5e-3 the validation loss stalled near
# epoch 13 of 15; after 6 epochs of the cosine the test stream scored 1.84).
FINAL_LEARNING_RATE_FRACTION = 0.05
# Most epochs (early stopping may end sooner): 47 s each on 2 CPU cores shared
# with other jobs; the default run stopped after 19 (best 17: 1.6881 test bits
# per character).
EPOCHS = 20
# Chunks per step: on a CPU a step costs about the same at 32 or 64 (the time
# loop dominates), so smaller batches give more updates per minute.
BATCH_SIZE = 32
# Epochs the validation loss may go without improving before training stops.
PATIENCE = 2
# --extra-text: train the GRU and the n-gram alike on Austen's five other
# novels too (3.3 M characters after the 536 k of chapters 1-49;
# rnn_zoo.data.janeaustenr, needs `sudo apt-get install r-cran-janeaustenr`
# and rdata). Off by default: an epoch then takes ~7x as long, and the
# n-gram gains more than this budget lets the GRU gain (its 7-gram reaches
# 1.6324 test bits per character).
EXTRA_TEXT = False
# Seeds the shuffling, the initial weights, dropout and the samples.
SEED = 1337
# The n-gram baseline's highest order; every order up to it is scored on the
# validation chapters and the best one is reported on the test chapters.
MAX_NGRAM_ORDER = 6
# Sampling: characters per sample, temperature and top-k; the export's
# `generate` signature uses the same, with SEED.
GENERATE_LENGTH = 300
TEMPERATURE = 0.7
TOP_K = 10
# --smoke: characters kept from each split (the start of its chapters), epochs
# and characters per sample.
SMOKE_CHARS = 6000
SMOKE_EPOCHS = 1
SMOKE_GENERATE_LENGTH = 40
# Prompts the script continues at the end.
PROMPTS = ["It is a truth universally acknowledged", "Mr. Darcy", '"My dear Lizzy,']


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's flags (``rnn-zoo train charlm --help``): the constants above.

    >>> args = parse_args(["--output", "/tmp/charlm", "--units", "64"])
    >>> args.cell, args.units, args.epochs
    ('gru', 64, 20)
    """
    parser = training.recipe_parser(RECIPE, DESCRIPTION, globals())
    parser.add_argument(
        "--extra-text",
        action="store_true",
        help="also train on Austen's five other novels (r-cran-janeaustenr)",
    )
    parser.set_defaults(extra_text=EXTRA_TEXT)
    return training.check_args(parser, parser.parse_args(argv))


"""
## Data

Character ids (vocabulary from the training chapters; 0 = padding, 1 =
unknown, 2 = start), cut into chunks of `SEQ_LENGTH` characters. With
`--extra-text` the training text is chapters 1-49 followed by the five other
novels (never *Pride and Prejudice*, so no validation or test chapter);
their characters outside the vocabulary read as unknown.
"""


def _split(args: argparse.Namespace) -> austen.AustenData:
    split = austen.load_austen(max_chars=SMOKE_CHARS if args.smoke else None)
    if not args.extra_text:
        return split
    novels = janeaustenr.load_other_novels().values()
    if args.smoke:
        novels = [text[:SMOKE_CHARS] for text in novels]
    return dataclasses.replace(split, train="\n".join([split.train, *novels]))


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """The splits as batched ``tf.data`` pipelines of ``(inputs, targets)``, and ``info``."""
    split = _split(args)

    def dataset(text, shuffle=False):
        # Chunks of SEQ_LENGTH characters; the targets are the inputs shifted by one.
        chunks = dict(seq_length=SEQ_LENGTH, batch_size=args.batch_size, seed=args.seed)
        return austen.make_lm_dataset(text, split.vocabulary, shuffle=shuffle, **chunks)

    info = {
        "vocabulary": list(split.vocabulary),
        "vocab_size": split.vocab_size,
        "start_id": austen.START_ID,
        "seq_length": SEQ_LENGTH,
        "generate_length": SMOKE_GENERATE_LENGTH if args.smoke else GENERATE_LENGTH,
        "chapters": {name: list(numbers) for name, numbers in split.chapters.items()},
        "num_characters": {
            name: len(getattr(split, name)) for name in ("train", "validation", "test")
        },
    }
    sizes = ", ".join(f"{n} {s} characters" for s, n in info["num_characters"].items())
    chapters = " / ".join(f"{c[0]}-{c[-1]}" for c in info["chapters"].values())
    summary = (
        f"Pride and Prejudice, chapters {chapters}: {sizes}; "
        f"{len(split.vocabulary)} distinct characters"
    )
    if args.extra_text:
        summary += "; the training text ends with Austen's five other novels"
    info["extra_text"] = list(janeaustenr.OTHER_NOVELS) if args.extra_text else []
    splits = (split.train, split.validation, split.test)
    return training.recipe_data(dataset, splits, info, summary)


"""
## Model

`rnn_zoo.build_generator`: character embeddings, a GRU, a dense layer
giving next-character logits at every step.
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The language model, compiled with Adam (clipped gradients) and cross-entropy.

    >>> args = parse_args(["--output", "/tmp/charlm", "--units", "8"])
    >>> info = {"vocab_size": 20, "num_characters": {"train": 6400}}
    >>> build_model(args, info).output_shape
    (None, None, 20)
    """
    # The cosine runs over every step of EPOCHS epochs of training chunks.
    chunks = -(-info["num_characters"]["train"] // SEQ_LENGTH)
    steps = args.epochs * -(-chunks // args.batch_size)
    learning_rate = keras.optimizers.schedules.CosineDecay(
        args.learning_rate, steps, alpha=FINAL_LEARNING_RATE_FRACTION
    )
    model = build_generator(
        info["vocab_size"],
        **training.builder_args(args),  # cell, units, num_layers, dropout
        embedding_dim=EMBEDDING_DIM,
        name="char_lm",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=CLIPNORM),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """The search space for ``rnn-zoo tune charlm``: the generator's architecture."""
    from rnn_zoo.models.hypermodels import GeneratorHyperModel

    return GeneratorHyperModel(
        vocab_size=info["vocab_size"],
        embedding_dim=EMBEDDING_DIM,
        name="char_lm",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )


"""
## Evaluation

The test chapters are read as one stream, as the n-gram reads them: the
start id, then every character, the recurrent state carried from the first
character to the last, so that each character is predicted from all the
test text before it (the n-gram uses the last `order - 1` of those
characters). Every test character is scored once; the n-gram baselines
score the same characters. The chunked score of training (each chunk of
`SEQ_LENGTH` read afresh from the start id, so a character sees 50 others
on average) is reported beside it.
"""


def stream_bits_per_character(
    model: keras.Model, text: str, vocabulary: list[str]
) -> float:
    """Bits per character of ``text`` read in one pass, the state carried throughout."""
    # One chunk as long as the text: (1, len(text)) inputs and targets.
    inputs, targets = austen.lm_arrays(text, vocabulary, seq_length=len(text))
    return bits_per_character(np.asarray(model.predict_on_batch(inputs)), targets)


def chunked_bits_per_character(model: keras.Model, dataset) -> float:
    """Bits per character over a dataset of chunks, each read from a fresh state."""
    total_bits, count = 0.0, 0
    for inputs, targets in dataset:
        targets = targets.numpy()
        logits = np.asarray(model.predict_on_batch(inputs))
        n = int(np.sum(targets != austen.PAD_ID))
        total_bits += bits_per_character(logits, targets) * n
        count += n
    return total_bits / count


def evaluate(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace
) -> dict:
    """Test bits per character of the model (one stream) and of the n-gram baselines (order chosen on validation)."""
    split = _split(args)
    vocabulary = data.info["vocabulary"]
    bits = stream_bits_per_character(model, split.test, vocabulary)
    count = len(split.test)

    ngram = NGramModel(split.train, split.vocabulary, max_order=MAX_NGRAM_ORDER)
    validation = {
        order: ngram.bits_per_character(split.validation, order=order)
        for order in range(1, MAX_NGRAM_ORDER + 1)
    }
    best_order = min(validation, key=validation.get)
    results = {
        "test_bits_per_char": bits,
        "test_perplexity": 2.0**bits,
        "test_characters": count,
        "test_bits_per_char_chunks": chunked_bits_per_character(model, data.test),
        "validation_bits_per_char": stream_bits_per_character(
            model, split.validation, vocabulary
        ),
        "baseline_ngram_bits_per_char": ngram.bits_per_character(
            split.test, order=best_order
        ),
        "baseline_ngram_order": best_order,
        "baseline_unigram_bits_per_char": ngram.bits_per_character(split.test, order=1),
        "baseline_validation_bits_per_char": {str(k): v for k, v in validation.items()},
    }
    print(
        f"Test bits per character: {bits:.4f} over {count} characters "
        f"(per-character perplexity {2.0**bits:.2f}; chunks of {SEQ_LENGTH} read "
        f"afresh: {results['test_bits_per_char_chunks']:.4f}); baselines: {best_order}-gram "
        f"{results['baseline_ngram_bits_per_char']:.4f}, unigram "
        f"{results['baseline_unigram_bits_per_char']:.4f}; uniform over the "
        f"{len(split.vocabulary)} characters {math.log2(len(split.vocabulary)):.4f}"
    )
    return results


"""
## Sampling and export

`rnn_zoo.generate` feeds the start id and the prompt, then samples from
softmax(logits / temperature) among the top-k; the export samples the same
way in its own graph, so a prompt gets what `generate(..., seed=SEED)` gives.
"""


def sample(
    model: keras.Model, info: dict, prompts: list[str], *, max_length: int, seed: int
) -> list[str]:
    """Continues each prompt with ``max_length`` sampled characters (prompts not repeated)."""
    ids = generate(
        model,
        prompt=[austen.encode(p, info["vocabulary"]).tolist() for p in prompts],
        max_length=max_length,
        start_id=austen.START_ID,
        # The text never ends, so the model hardly ever picks the end id; if
        # it does (an untrained model may), the continuation stops there.
        end_id=austen.END_ID,
        temperature=TEMPERATURE,
        top_k=TOP_K,
        seed=seed,
    )
    return [austen.decode(row, info["vocabulary"]) for row in ids]


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """Writes the SavedModel: ``generate`` (prompts -> continuations), ``next_char_logits``, ``vocabulary``."""
    return export_char_generator(
        model,
        export_dir,
        vocabulary=info["vocabulary"],
        first_id=austen.FIRST_CHAR_ID,
        unknown_id=austen.UNK_ID,
        start_id=austen.START_ID,
        end_id=austen.END_ID,
        max_length=int(info["generate_length"]),
        temperature=TEMPERATURE,
        top_k=TOP_K,
        seed=SEED,
    )


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates, samples from and exports the language model; returns the metrics."""
    # Seeds everything, starts the clock; reads the constants above.
    run = training.RecipeRun(RECIPE, parse_args(argv), globals())
    args = run.args

    # ## Data, model (built in --strategy's scope), training (checkpointed,
    # early stopping on the validation loss) and evaluation
    model, data, metrics = run.train_and_evaluate(load_data, build_model, evaluate)

    # ## Sample
    info = data.info
    samples = sample(
        model, info, PROMPTS, max_length=info["generate_length"], seed=args.seed
    )
    for prompt, text in zip(PROMPTS, samples):
        print(f"--- {prompt!r} (temperature {TEMPERATURE}, top-k {TOP_K}):")
        print(prompt + text)
    metrics["samples"] = dict(zip(PROMPTS, samples))
    run.save(
        model,
        info,
        metrics,
        "EMBEDDING_DIM PATIENCE CLIPNORM FINAL_LEARNING_RATE_FRACTION SEQ_LENGTH "
        "MAX_NGRAM_ORDER TEMPERATURE TOP_K",
    )

    # ## Export and inference
    # The SavedModel continues raw strings in its own graph; loading it needs
    # only TensorFlow, not rnn_zoo.
    import tensorflow as tf

    served = tf.saved_model.load(export(model, info, run.export_dir))
    answer = served.generate(tf.constant(PROMPTS[:1]))["continuation"].numpy()[0]
    print(f"SavedModel, {PROMPTS[0]!r} ->\n{PROMPTS[0]}{answer.decode('utf-8')}")
    run.wrote("export/")
    return metrics


if __name__ == "__main__":
    main()
