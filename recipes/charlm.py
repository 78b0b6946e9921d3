"""A character-level language model of Jane Austen's prose, and samples from it.

rnn_zoo's GRU (:func:`rnn_zoo.build_generator`) reads *Pride and Prejudice*
one character at a time and predicts the next one (the char-rnn set-up). The
text is embedded in rnn_zoo (public domain; see :mod:`rnn_zoo.data.austen`),
split by chapter: 1-49 train, 50-55 validate, 56-61 test. Each split is cut
into contiguous chunks of 100 characters; the input is the start id and the
first 99 characters of a chunk, the target the chunk.

The metric is bits per character on the test chapters: the mean
cross-entropy over every test character, divided by ln 2. The baselines,
fitted on the training chapters in the same script and scored on the same
characters, are character n-gram models with interpolated Witten-Bell
smoothing: a unigram, and the order that does best on the validation
chapters (6 on the full text). The n-gram models see the characters before
each one across chunk borders; the recurrent model starts every chunk from
its start id, so it predicts the first characters of a chunk with less
context.

Then :func:`rnn_zoo.generate` samples three continuations of prompts
(temperature 0.7, top-k 10, fixed seed).

Run it:

    rnn-zoo train charlm --output /tmp/charlm          # about 4 min on 2 CPU cores
    rnn-zoo train charlm --output /tmp/smoke --smoke   # seconds: a slice, 1 epoch
    rnn-zoo evaluate /tmp/charlm

It writes, under ``--output``:

- ``model.keras``: the trained Keras model (input: character ids after the
  start id 2, 0 = padding; output: next-character logits);
- ``export/``: a SavedModel with a ``generate`` signature (prompt strings
  -> a continuation of 300 characters, sampled in the graph
  with a fixed seed) and a ``next_char_logits`` signature (prefix strings
  -> logits for the next character), plus ``vocabulary``;
- ``metrics.json``: test bits per character next to the baselines', the
  samples, epochs, runtime and the configuration;
- ``run.json``: the recipe, its flags and the vocabulary.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import keras
import numpy as np

from rnn_zoo import baselines, build_generator, generate, metrics, training
from rnn_zoo.data import austen

RECIPE = "charlm"
DESCRIPTION = (
    "character-level language model on Pride and Prejudice (bits per character)"
)
# The text ships inside rnn_zoo: nothing optional to install.
REQUIRES: dict[str, str] = {}

"""
## Configuration
"""

# Upper bound on epochs: EarlyStopping ends training once validation loss stalls.
# Fifteen take ~8 minutes on 2 shared CPU cores (~31 s each); validation loss
# stops improving near epoch 13 (test 1.83 bits per character; 6 epochs: 1.89).
EPOCHS = 15
# Chunks per training step (168 steps per epoch on the 5,361 training chunks).
# A step costs about the same at 32 or 64 chunks on a CPU (the time loop
# dominates), so smaller batches give more updates per minute.
BATCH_SIZE = 32
# The recurrent cell: "lstm", "gru" or "simple". After 150 s of training:
# GRU 192 units (lr 5e-3) 1.94 validation bits per character, GRU 128
# (lr 1e-2) 1.96, LSTM 128 (lr 3e-3, batch 64) 2.49.
CELL = "gru"
# Recurrent units per layer; 256 costs ~4x the time per step of 128.
UNITS = 192
# Stacked recurrent layers.
NUM_LAYERS = 1
# Dropout on embeddings, between layers and before the output layer.
DROPOUT = 0.0
# Size of each character's embedding vector (70 characters).
EMBEDDING_DIM = 32
# Adam's learning rate, high for a short budget; gradients are clipped to norm
# CLIPNORM so that a large step on a recurrent net stays bounded.
LEARNING_RATE = 5e-3
CLIPNORM = 1.0
# Epochs without a better validation loss before training stops.
PATIENCE = 2
# Characters per chunk: the context the model sees at most.
SEQ_LENGTH = austen.DEFAULT_SEQ_LENGTH
# The n-gram baseline's highest order; every order up to it is scored on the
# validation chapters and the best one is reported on the test chapters.
MAX_NGRAM_ORDER = 6
# Seeds the shuffling, the initial weights, dropout and the samples.
SEED = 1337
# --smoke: characters kept from each split (the start of its chapters) and epochs.
SMOKE_CHARS = 6000
SMOKE_EPOCHS = 1
# Sampling: characters per sample, temperature and top-k; the export's
# `generate` signature uses the same, with SEED.
GENERATE_LENGTH = 300
SMOKE_GENERATE_LENGTH = 40
TEMPERATURE = 0.7
TOP_K = 10
# Prompts the script continues at the end.
PROMPTS = [
    "It is a truth universally acknowledged",
    "Mr. Darcy",
    '"My dear Lizzy,',
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's command-line flags (``rnn-zoo train charlm --help``).

    Args:
        argv: the flags; ``None`` reads ``sys.argv``.

    Returns:
        The parsed flags; bad values exit with status 2 and the flag's name.

    Example:

    >>> args = parse_args(["--output", "/tmp/charlm", "--units", "64"])
    >>> args.units, args.cell
    (64, 'gru')
    """
    parser = training.base_parser(
        RECIPE,
        "Train a character-level language model on Pride and Prejudice.",
        defaults=dict(
            epochs=EPOCHS,
            batch_size=BATCH_SIZE,
            cell=CELL,
            units=UNITS,
            num_layers=NUM_LAYERS,
            dropout=DROPOUT,
            learning_rate=LEARNING_RATE,
            seed=SEED,
        ),
    )
    return training.check_args(parser, parser.parse_args(argv))


"""
## Data

The chapters of the embedded novel, split chronologically, as character ids
(vocabulary from the training chapters; 0 = padding, 1 = unknown, 2 =
start), cut into chunks of `SEQ_LENGTH` characters.
"""


def _split(args: argparse.Namespace) -> austen.AustenData:
    return austen.load_austen(max_chars=SMOKE_CHARS if args.smoke else None)


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """The three splits as batched ``tf.data`` pipelines of ``(inputs, targets)``.

    Args:
        args: the recipe's flags (``batch_size``, ``seed``, ``smoke`` are read).

    Returns:
        A :class:`~rnn_zoo.recipes.training.RecipeData` whose ``info`` holds
        ``vocabulary`` (``vocabulary[i]`` has id ``i + 4``), ``vocab_size``,
        ``start_id``, ``seq_length``, ``generate_length`` (characters the
        export samples), ``chapters`` and ``num_characters`` per split.

    Example:

    >>> data = load_data(parse_args(["--output", "/tmp/charlm", "--smoke"]))
    >>> data.info["start_id"], data.info["seq_length"]
    (2, 100)
    """
    split = _split(args)

    def dataset(name, shuffle=False):
        return austen.make_lm_dataset(
            getattr(split, name),
            split.vocabulary,
            seq_length=SEQ_LENGTH,
            batch_size=args.batch_size,
            shuffle=shuffle,
            seed=args.seed,
        )

    info = {
        "vocabulary": list(split.vocabulary),
        "vocab_size": split.vocab_size,
        "start_id": austen.START_ID,
        "seq_length": SEQ_LENGTH,
        # The export's `generate` signature samples this many characters.
        "generate_length": SMOKE_GENERATE_LENGTH if args.smoke else GENERATE_LENGTH,
        "chapters": {name: list(numbers) for name, numbers in split.chapters.items()},
        "num_characters": {
            name: len(getattr(split, name)) for name in ("train", "validation", "test")
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

`rnn_zoo.build_generator`: character embeddings, a GRU, a dense layer
giving next-character logits at every step.
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The compiled character language model.

    Args:
        args: the recipe's flags (architecture and ``learning_rate``).
        info: ``load_data``'s info (``vocab_size``).

    Returns:
        A model compiled with Adam (gradients clipped to norm ``CLIPNORM``)
        and cross-entropy on logits.

    Example:

    >>> args = parse_args(["--output", "/tmp/charlm", "--units", "8"])
    >>> build_model(args, {"vocab_size": 20}).output_shape
    (None, None, 20)
    """
    model = build_generator(
        info["vocab_size"],
        cell=args.cell,
        units=args.units,
        num_layers=args.num_layers,
        dropout=args.dropout,
        embedding_dim=EMBEDDING_DIM,
        name="char_lm",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=CLIPNORM),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """The search space for ``rnn-zoo tune charlm``: the generator's architecture.

    Args:
        args: the recipe's flags (unused: the tuner searches them).
        info: ``load_data``'s info.

    Returns:
        A :class:`~rnn_zoo.models.hypermodels.GeneratorHyperModel`.

    Example:

    >>> args = parse_args(["--output", "/tmp/charlm"])
    >>> hypermodel(args, {"vocab_size": 20})  # doctest: +ELLIPSIS
    <rnn_zoo.models.hypermodels.GeneratorHyperModel object at ...>
    """
    from rnn_zoo.models.hypermodels import GeneratorHyperModel

    del args
    return GeneratorHyperModel(
        vocab_size=info["vocab_size"],
        embedding_dim=EMBEDDING_DIM,
        name="char_lm",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )


"""
## Evaluation

Bits per character over every test character (each is the target of exactly
one chunk position), and the n-gram baselines on the same characters.
"""


def evaluate(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace
) -> dict:
    """Test bits per character of a language model, and of the n-gram baselines.

    Args:
        model: a trained generator (``build_model``'s, or one loaded from
            ``model.keras``).
        data: ``load_data``'s result.
        args: the recipe's flags (``smoke`` picks the same slice of text).

    Returns:
        ``test_bits_per_char`` (the headline), ``test_perplexity`` (per
        character), ``test_characters``, ``baseline_ngram_bits_per_char`` with
        ``baseline_ngram_order`` (chosen on validation),
        ``baseline_unigram_bits_per_char`` and
        ``baseline_validation_bits_per_char`` (per order).

    Example:

    >>> metrics = evaluate(model, data, args)  # doctest: +SKIP
    >>> metrics["test_bits_per_char"] < metrics["baseline_unigram_bits_per_char"]  # doctest: +SKIP
    True
    """
    total_bits, count = 0.0, 0
    for inputs, targets in data.test:
        targets = targets.numpy()
        logits = np.asarray(model.predict_on_batch(inputs))
        n = int(np.sum(targets != austen.PAD_ID))
        total_bits += metrics.bits_per_character(logits, targets) * n
        count += n
    bits = total_bits / count

    split = _split(args)
    ngram = baselines.NGramModel(
        split.train, split.vocabulary, max_order=MAX_NGRAM_ORDER
    )
    validation = {
        order: ngram.bits_per_character(split.validation, order=order)
        for order in range(1, MAX_NGRAM_ORDER + 1)
    }
    best_order = min(validation, key=validation.get)
    return {
        "test_bits_per_char": bits,
        "test_perplexity": 2.0**bits,
        "test_characters": count,
        "baseline_ngram_bits_per_char": ngram.bits_per_character(
            split.test, order=best_order
        ),
        "baseline_ngram_order": best_order,
        "baseline_unigram_bits_per_char": ngram.bits_per_character(split.test, order=1),
        "baseline_validation_bits_per_char": {str(k): v for k, v in validation.items()},
    }


"""
## Sampling

`rnn_zoo.generate` feeds the start id and the prompt, then samples one
character at a time from softmax(logits / temperature) among the top-k.
"""


def sample(
    model: keras.Model,
    info: dict,
    prompts: list[str],
    *,
    max_length: int = GENERATE_LENGTH,
    seed: int = SEED,
) -> list[str]:
    """Continues each prompt with ``max_length`` sampled characters.

    Args:
        model: the trained language model.
        info: ``load_data``'s info (``vocabulary``).
        prompts: the texts to continue.
        max_length: characters to sample per prompt.
        seed: fixes the samples.

    Returns:
        The continuations (without their prompts).

    Example:

    >>> sample(model, data.info, ["Mr. Darcy"], max_length=20)  # doctest: +SKIP
    [' was not the subject']
    """
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


"""
## Export

`rnn_zoo.generate` prepares its batch in NumPy, so the export rebuilds the
same sampling from the pieces it is made of (`rnn_zoo.decoding`: the step
decoder, Gumbel noise drawn with a fixed seed, the decoding loop), all of
which trace into a graph. The noise is shared by the rows of a batch, so a
prompt gets the same continuation alone or in any batch, and the same one
`rnn_zoo.generate(..., seed=SEED)` gives it alone.
"""


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """Writes the language model as a SavedModel that continues raw strings.

    Signatures:

    - ``generate`` and ``serving_default`` (the same function): input
      ``prompts``, tf.string ``(batch,)`` UTF-8; output ``continuation``,
      tf.string ``(batch,)``: ``info["generate_length"]`` characters sampled after
      each prompt with temperature ``TEMPERATURE``, top-k ``TOP_K`` and the
      fixed seed ``SEED`` (the same prompt always gets the same
      continuation); shorter only if the model picks the end id.
    - ``next_char_logits``: input ``prefixes``, tf.string ``(batch,)``;
      output ``logits``, float32 ``(batch, vocab_size)``: the model's logits
      for the character after each prefix (read after the start id).
    - ``vocabulary``: no input; output ``characters``, tf.string
      ``(vocab_size,)``: the character of each logit (empty for ids 0-3).

    Characters outside the vocabulary (and invalid UTF-8) become the unknown
    id 1; prompts are not truncated.

    Args:
        model: the trained language model.
        info: ``load_data``'s info (``vocabulary``, ``generate_length``).
        export_dir: the SavedModel directory to write.

    Returns:
        ``export_dir``.

    Example:

    >>> export(model, data.info, "/tmp/charlm/export")  # doctest: +SKIP
    '/tmp/charlm/export'
    >>> served = tf.saved_model.load("/tmp/charlm/export")  # doctest: +SKIP
    >>> served.generate(tf.constant(["Mr. Darcy"]))["continuation"].shape  # doctest: +SKIP
    TensorShape([1])
    """
    import tensorflow as tf

    from rnn_zoo.decoding import decode_loop, sample_logits, step_decoder
    from rnn_zoo.decoding.sampling import gumbel_noise

    steps = step_decoder(model)
    length = int(info["generate_length"])
    vocabulary = list(info["vocabulary"])
    vocab_size = len(vocabulary) + austen.FIRST_CHAR_ID
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
    # id -> character; the reserved ids (and the padding after an end id)
    # decode to nothing, unknown to U+FFFD, as austen.decode does.
    characters = tf.constant(["", "\ufffd", "", ""] + vocabulary)

    def encode(texts):
        chars = tf.strings.unicode_split(texts, "UTF-8", errors="replace")
        ids = tf.ragged.map_flat_values(table.lookup, chars)
        return tf.cast(ids.to_tensor(default_value=austen.PAD_ID), "int32")

    def read(ids):
        """Feeds the start id, then each row's ids; padding leaves a row as it is."""
        batch = tf.shape(ids)[0]
        states = steps.initial_states(batch)
        logits, states = steps.step(tf.fill([batch], austen.START_ID), states)

        def body(t, logits, states):
            token = ids[:, t]
            new_logits, new_states = steps.step(token, states)
            valid = (token != austen.PAD_ID)[:, None]
            logits = tf.where(valid, new_logits, logits)
            states = [tf.where(valid, n, o) for n, o in zip(new_states, states)]
            return t + 1, logits, states

        _, logits, states = tf.while_loop(
            lambda t, *_: t < tf.shape(ids)[1],
            body,
            (tf.constant(0), logits, list(states)),
        )
        return logits, states

    def continue_prompts(prompts):
        logits, states = read(encode(prompts))
        # One noise draw shared by every row (batch axis of size 1, broadcast):
        # the same draw rnn_zoo.generate makes for a batch of one.
        noise = gumbel_noise((length, 1, vocab_size), SEED)

        def select(logits, i):
            return sample_logits(
                logits,
                temperature=TEMPERATURE,
                top_k=TOP_K,
                noise=tf.gather(noise, i, axis=0),
            )

        ids = decode_loop(
            steps,
            states,
            logits,
            max_length=length,
            end_id=austen.END_ID,
            select=select,
            banned=(austen.PAD_ID, austen.START_ID),
        )
        return {
            "continuation": tf.strings.reduce_join(tf.gather(characters, ids), axis=1)
        }

    def next_char_logits(prefixes):
        logits, _ = read(encode(prefixes))
        return {"logits": logits}

    def list_vocabulary():
        return {"characters": characters}

    strings = [tf.TensorSpec(shape=(None,), dtype=tf.string, name="prompts")]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(table)
    # "generate" comes first, so ExportArchive also makes it serving_default.
    archive.add_endpoint("generate", continue_prompts, input_signature=strings)
    archive.add_endpoint(
        "next_char_logits",
        next_char_logits,
        input_signature=[
            tf.TensorSpec(shape=(None,), dtype=tf.string, name="prefixes")
        ],
    )
    archive.add_endpoint("vocabulary", list_vocabulary, input_signature=[])
    archive.write_out(export_dir, verbose=False)
    return export_dir


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates, samples from and exports the language model; returns the metrics.

    Args:
        argv: command-line flags (``--output DIR`` is required); ``None``
            reads ``sys.argv``.

    Returns:
        The metrics written to ``metrics.json``.

    Example:

    >>> metrics = main(["--output", "/tmp/charlm_smoke", "--smoke"])  # doctest: +SKIP
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
            f"{info['num_characters'][s]} {s} characters"
            for s in ("train", "validation", "test")
        )
        + f"; {len(info['vocabulary'])} distinct characters"
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
        f"Test bits per character: {metrics['test_bits_per_char']:.4f} over "
        f"{metrics['test_characters']} characters (per-character perplexity "
        f"{metrics['test_perplexity']:.2f}); baselines: "
        f"{metrics['baseline_ngram_order']}-gram "
        f"{metrics['baseline_ngram_bits_per_char']:.4f}, unigram "
        f"{metrics['baseline_unigram_bits_per_char']:.4f}; uniform over the "
        f"{len(info['vocabulary'])} characters {math.log2(len(info['vocabulary'])):.4f}"
    )

    # ## Sample
    samples = sample(
        model, info, PROMPTS, max_length=info["generate_length"], seed=args.seed
    )
    for prompt, text in zip(PROMPTS, samples):
        print(f"--- {prompt!r} (temperature {TEMPERATURE}, top-k {TOP_K}):")
        print(prompt + text)
    metrics.update(
        {
            "samples": {prompt: text for prompt, text in zip(PROMPTS, samples)},
            "num_characters": info["num_characters"],
            **training.run_record(
                args,
                start,
                epochs_run,
                best_epoch,
                train_seconds,
                embedding_dim=EMBEDDING_DIM,
                patience=PATIENCE,
                clipnorm=CLIPNORM,
                seq_length=SEQ_LENGTH,
                max_ngram_order=MAX_NGRAM_ORDER,
                temperature=TEMPERATURE,
                top_k=TOP_K,
            ),
        }
    )

    # ## Save and export
    training.save_run(RECIPE, args, model, info, metrics)
    export_dir = export(model, info, os.path.join(args.output, training.EXPORT_DIR))

    # ## Inference
    # The exported SavedModel continues raw strings in its own graph; loading
    # it needs only TensorFlow, not rnn_zoo.
    import tensorflow as tf

    served = tf.saved_model.load(export_dir)
    answer = served.generate(tf.constant(PROMPTS[:1]))["continuation"].numpy()[0]
    print(f"SavedModel, {PROMPTS[0]!r} ->\n{PROMPTS[0]}{answer.decode('utf-8')}")
    print(f"Wrote {args.output}: model.keras, export/, metrics.json, run.json")
    return metrics


if __name__ == "__main__":
    main()
