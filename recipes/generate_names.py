"""Generate surnames in a chosen language: a conditioned character-level generator.

One-to-many: given a language (English, German, ... Zulu: the 14 of
:mod:`rnn_zoo.data.names`, read from faker's surname lists), the model writes
a surname one character at a time. The language's embedding sets the initial
state of an LSTM (:func:`rnn_zoo.build_generator` with ``num_conditions``);
trained with teacher forcing, it reads ``[start] R o s s i`` and predicts
``R o s s i [end]``: the next character at every step.

The metric: perplexity per character on the held-out test names, the
exponential of the mean cross-entropy over every real character and the end
token (lower is better; a model that knew nothing would score the
vocabulary's size, 117). The baseline it is compared with, in this script:
a character bigram model per language (add-k smoothed, k chosen on the
validation names), scored on the same test names and characters.

Then :func:`rnn_zoo.generate` samples names per language (temperature 0.8,
the 10 most probable characters at each step, a fixed seed), and the script
counts how many samples are memorised training names, real names the model
never saw (from the validation and test lists), or new.

One run with the defaults (20 epochs, ~4 minutes on 2 CPU cores shared with
other jobs, validation loss still falling at the last epoch) reached a test
perplexity of 6.19 per character against the bigrams' 8.92; of 700 samples,
5.7% were training names, 1.0% real names it never saw and 93.3% new.

Run it:

    rnn-zoo train generate_names --output /tmp/gen_names          # ~4 min on 2 CPU cores
    rnn-zoo train generate_names --output /tmp/smoke --smoke      # seconds: a slice, 1 epoch

It writes, under ``--output``:

- ``model.keras``: the trained Keras model (inputs ``token_ids`` and
  ``condition``; ``run.json`` holds the characters and the languages);
- ``export/``: a SavedModel whose ``generate`` signature takes language
  names (tf.string) and a seed and returns generated surnames;
- ``metrics.json``: test and validation perplexity, the bigram baseline's,
  the sample statistics and samples, epochs, runtime and configuration;
  ``run.json``: the recipe, its flags and the vocabularies.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import time
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from rnn_zoo import build_generator, generate, training
from rnn_zoo.data import names as names_data

RECIPE = "generate_names"
DESCRIPTION = "generate surnames conditioned on a language (faker's surname lists)"
# faker is one of rnn_zoo's own dependencies: nothing optional to install.
REQUIRES: dict[str, str] = {}

"""
## Configuration
"""

# Upper bound on epochs: EarlyStopping ends training once validation loss stalls.
EPOCHS = 20
# Names per training step (194 steps per epoch on the full training split).
BATCH_SIZE = 64
# The recurrent cell.
CELL = "lstm"
# Recurrent units per layer.
UNITS = 128
# Stacked recurrent layers.
NUM_LAYERS = 1
# Dropout on embeddings, between layers and before the output layer.
DROPOUT = 0.2
# Size of each character's embedding vector.
EMBEDDING_DIM = 64
# Adam's learning rate.
LEARNING_RATE = 3e-3
# Epochs without a better validation loss before training stops.
PATIENCE = 2
# Seeds the split, the shuffling, the initial weights, dropout and the samples.
SEED = 1337
# Sampling: divide the logits by 0.8 (a little more conservative than the
# model's own distribution) and draw among the 10 most probable characters.
TEMPERATURE = 0.8
TOP_K = 10
# Samples printed per language, and drawn per language for the memorisation count.
SAMPLES_SHOWN = 5
SAMPLES_COUNTED = 50
# Add-k smoothing values the bigram baseline tries on the validation names.
BIGRAM_KS = (0.01, 0.03, 0.1, 0.3, 1.0)
# --smoke: names per language (the same real data, a small slice) and epochs.
SMOKE_NAMES_PER_LANGUAGE = 40
SMOKE_EPOCHS = 1

# Token ids: 0 padding, 1 start, 2 end, 3 a character not in the training
# names; character vocabulary[i] is id i + 4.
PAD_ID, START_ID, END_ID, UNKNOWN_ID = 0, 1, 2, 3
RESERVED_TOKENS = ("<pad>", "<s>", "</s>", "<unk>")
FIRST_CHAR_ID = len(RESERVED_TOKENS)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's command-line flags (``rnn-zoo train generate_names --help``).

    Args:
        argv: the flags; ``None`` reads ``sys.argv``.

    Returns:
        The parsed flags; bad values exit with status 2 and the flag's name.

    Example:

    >>> args = parse_args(["--output", "/tmp/gen", "--units", "64"])
    >>> args.units, args.cell
    (64, 'lstm')
    """
    parser = training.base_parser(
        RECIPE,
        "Train a language-conditioned surname generator on faker's surname lists.",
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

The surnames and the stratified 80/10/10 split of `rnn_zoo.data.names`
(ambiguous names dropped, so each name has one language). Each name becomes
``[start] + characters`` (the model's input) and ``characters + [end]`` (its
targets), with its language id as the condition. Names are kept whole (the
longest has 40 characters).
"""


def encode(names: Sequence[str], tokens: Sequence[str]) -> list[list[int]]:
    """Character ids of each name (no start or end id; not padded).

    Args:
        names: surnames.
        tokens: the generator's tokens (``info["tokens"]``): the four reserved
            ones, then the characters.

    Returns:
        One list of ids per name; a character not in ``tokens`` is
        :data:`UNKNOWN_ID`.

    Example:

    >>> encode(["Aba"], ["<pad>", "<s>", "</s>", "<unk>", "A", "a"])
    [[4, 3, 5]]
    """
    if isinstance(names, str):
        raise TypeError(
            f"`names` must be a list of strings, not one string. Received: names={names!r}"
        )
    ids = {t: i for i, t in enumerate(tokens) if i >= FIRST_CHAR_ID}
    return [[ids.get(char, UNKNOWN_ID) for char in name] for name in names]


def decode(rows, tokens: Sequence[str]) -> list[str]:
    """Names from generated id rows: the characters before each row's end id.

    Args:
        rows: int array ``(batch, steps)`` (:func:`rnn_zoo.generate`'s
            output), or lists of ids.
        tokens: the generator's tokens.

    Returns:
        One string per row; reserved ids are dropped.

    Example:

    >>> decode([[4, 5, 2, 0]], ["<pad>", "<s>", "</s>", "<unk>", "A", "a"])
    ['Aa']
    """
    names = []
    for row in rows:
        row = np.asarray(row).tolist()
        if END_ID in row:
            row = row[: row.index(END_ID)]
        names.append("".join(tokens[i] for i in row if i >= FIRST_CHAR_ID))
    return names


def _dataset(split, tokens, *, batch_size, shuffle, seed):
    import tensorflow as tf

    rows = encode(split.names, tokens)
    flat = np.fromiter((i for row in rows for i in row), dtype=np.int32)
    chars = tf.RaggedTensor.from_row_lengths(
        flat, np.asarray([len(r) for r in rows], np.int64)
    )
    labels = np.asarray(split.labels, np.int32)

    def teacher_forcing(chars, label):
        chars = tf.convert_to_tensor(chars)
        inputs = {
            "token_ids": tf.concat([[START_ID], chars], 0),
            "condition": label,
        }
        return inputs, tf.concat([chars, [END_ID]], 0)

    dataset = tf.data.Dataset.from_tensor_slices((chars, labels))
    if shuffle:
        dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(teacher_forcing).padded_batch(
        batch_size,
        padded_shapes=({"token_ids": [None], "condition": []}, [None]),
        padding_values=(
            {"token_ids": np.int32(PAD_ID), "condition": np.int32(0)},
            np.int32(PAD_ID),
        ),
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def _names(args: argparse.Namespace) -> names_data.NamesData:
    return names_data.load_names(
        seed=args.seed,
        max_per_language=SMOKE_NAMES_PER_LANGUAGE if args.smoke else None,
    )


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """The three splits as batched ``tf.data`` pipelines for teacher forcing.

    Args:
        args: the recipe's flags (``seed``, ``batch_size``, ``smoke`` are read).

    Returns:
        A :class:`~rnn_zoo.recipes.training.RecipeData` of
        ``({"token_ids", "condition"}, targets)`` batches; its ``info`` holds
        ``languages``, ``tokens`` (the token of each id), ``max_length``
        (steps to generate: the longest training name and its end) and
        ``num_names`` per split.

    Example:

    >>> data = load_data(parse_args(["--output", "/tmp/gen", "--smoke"]))
    >>> data.info["tokens"][:4]
    ['<pad>', '<s>', '</s>', '<unk>']
    """
    data = _names(args)
    tokens = list(RESERVED_TOKENS) + list(data.vocabulary)

    def dataset(split, shuffle=False):
        return _dataset(
            split, tokens, batch_size=args.batch_size, shuffle=shuffle, seed=args.seed
        )

    info = {
        "languages": list(data.languages),
        "tokens": tokens,
        "max_length": 1 + max(len(name) for name in data.train.names),
        "num_names": {
            "train": len(data.train),
            "validation": len(data.validation),
            "test": len(data.test),
        },
    }
    return training.RecipeData(
        train=dataset(data.train, shuffle=True),
        validation=dataset(data.validation),
        test=dataset(data.test),
        info=info,
    )


"""
## Model

`rnn_zoo.build_generator` with one condition per language: the language's
embedding sets the LSTM's initial state; logits over the characters at
every step.
"""


def _loss() -> keras.losses.Loss:
    # The model outputs logits; padded steps are masked out of the loss.
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The compiled, language-conditioned generator.

    Args:
        args: the recipe's flags (architecture and ``learning_rate``).
        info: ``load_data``'s info (``tokens``, ``languages``).

    Returns:
        A :func:`rnn_zoo.build_generator` model compiled with Adam and the
        cross-entropy of its logits.

    Example:

    >>> args = parse_args(["--output", "/tmp/gen", "--units", "16"])
    >>> model = build_model(args, {"tokens": ["x"] * 30, "languages": ["a", "b"]})
    >>> model.output_shape
    (None, None, 30)
    """
    model = build_generator(
        len(info["tokens"]),
        num_conditions=len(info["languages"]),
        cell=args.cell,
        units=args.units,
        num_layers=args.num_layers,
        dropout=args.dropout,
        embedding_dim=EMBEDDING_DIM,
        name="names_generator",
    )
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss=_loss())
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """The search space for ``rnn-zoo tune generate_names``: the generator.

    The tuner picks the cell, units, layers, dropout and learning rate; the
    characters, the languages and ``EMBEDDING_DIM`` stay fixed.

    Args:
        args: the recipe's flags (unused: everything searched is searched).
        info: ``load_data``'s info.

    Returns:
        A :class:`~rnn_zoo.models.hypermodels.GeneratorHyperModel`.

    Example:

    >>> args = parse_args(["--output", "/tmp/gen"])
    >>> hypermodel(args, {"tokens": ["x"] * 30, "languages": ["a", "b"]})  # doctest: +ELLIPSIS
    <rnn_zoo.models.hypermodels.GeneratorHyperModel object at ...>
    """
    from rnn_zoo.models.hypermodels import GeneratorHyperModel

    del args
    return GeneratorHyperModel(
        vocab_size=len(info["tokens"]),
        num_conditions=len(info["languages"]),
        embedding_dim=EMBEDDING_DIM,
        name="names_generator",
        loss=_loss(),
    )


"""
## Baseline

A character bigram model per language: P(next | previous character,
language), counted on the training names (the start token is the first
"previous", the end token the last "next") and add-k smoothed over the
training characters, the end token and "unknown".
"""


class BigramModel:
    """Per-language character bigrams with add-k smoothing.

    Args:
        names: the training names.
        labels: their language ids.
        k: added to every count (``> 0``), so that unseen pairs keep some
            probability.

    Example:

    >>> model = BigramModel(["Aa", "Ab"], [0, 0], k=0.1)
    >>> round(model.perplexity(["Aa"], [0]), 3) > 1
    True
    """

    def __init__(self, names: Sequence[str], labels: Sequence[int], *, k: float):
        if not k > 0:
            raise ValueError(f"`k` must be positive. Received: k={k!r}")
        self.k = float(k)
        # The outcomes: the characters, the end, and any unseen character.
        self.outcomes = sorted({c for name in names for c in name}) + ["</s>", "<unk>"]
        self.known = set(self.outcomes[:-2])
        self.counts: dict = collections.defaultdict(collections.Counter)
        for name, label in zip(names, labels):
            for previous, following in self._pairs(name):
                self.counts[(label, previous)][following] += 1
        self.totals = {key: sum(c.values()) for key, c in self.counts.items()}

    def _pairs(self, name: str):
        chars = [c if c in self.known else "<unk>" for c in name]
        return zip(["<s>"] + chars, chars + ["</s>"])

    def log_probability(self, name: str, label: int) -> tuple[float, int]:
        """Natural-log probability of ``name`` (its end included) and its count of outcomes."""
        total = 0.0
        steps = 0
        size = len(self.outcomes)
        for previous, following in self._pairs(name):
            key = (label, previous)
            count = self.counts[key][following] if key in self.counts else 0
            total += math.log(
                (count + self.k) / (self.totals.get(key, 0) + self.k * size)
            )
            steps += 1
        return total, steps

    def perplexity(self, names: Sequence[str], labels: Sequence[int]) -> float:
        """Perplexity per character (end included) over ``names``."""
        total = 0.0
        steps = 0
        for name, label in zip(names, labels):
            log_p, n = self.log_probability(name, label)
            total += log_p
            steps += n
        return math.exp(-total / steps)


"""
## Evaluation

Perplexity per character: exp of the mean cross-entropy over every real
character and the end token of the held-out names (padding excluded), the
same events the bigram baseline is scored on.
"""


def perplexity(model: keras.Model, dataset) -> float:
    """Perplexity per character of a generator over a teacher-forcing dataset.

    Args:
        model: a :func:`rnn_zoo.build_generator` model.
        dataset: batches of ``({"token_ids", "condition"}, targets)``.

    Returns:
        ``exp(mean cross-entropy)`` over the non-padding targets.

    Example:

    >>> perplexity(model, data.test)  # doctest: +SKIP
    5.8
    """
    total = 0.0
    count = 0
    for inputs, targets in dataset:
        logits = model(inputs, training=False)
        log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        targets = ops.cast(targets, "int32")
        picked = ops.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
        real = ops.cast(ops.not_equal(targets, PAD_ID), "float32")
        total += float(ops.convert_to_numpy(ops.sum(picked * real)))
        count += int(ops.convert_to_numpy(ops.sum(real)))
    return math.exp(-total / count)


def sample_names(
    model: keras.Model,
    info: dict,
    languages: Sequence[str],
    *,
    per_language: int,
    seed: int,
) -> dict[str, list[str]]:
    """Samples ``per_language`` names for each of ``languages`` with :func:`rnn_zoo.generate`.

    Args:
        model: the trained generator.
        info: ``load_data``'s info.
        languages: language names from ``info["languages"]``.
        per_language: samples per language.
        seed: the same seed gives the same names.

    Returns:
        ``{language: names}``.

    Example:

    >>> sample_names(model, info, ["Italian"], per_language=2, seed=0)  # doctest: +SKIP
    {'Italian': ['Bertolli', 'Caruso']}
    """
    condition = [
        info["languages"].index(lang) for lang in languages for _ in range(per_language)
    ]
    ids = generate(
        model,
        condition=np.asarray(condition, "int32"),
        max_length=info["max_length"],
        start_id=START_ID,
        end_id=END_ID,
        temperature=TEMPERATURE,
        top_k=TOP_K,
        seed=seed,
    )
    names = decode(ids, info["tokens"])
    return {
        lang: names[i * per_language : (i + 1) * per_language]
        for i, lang in enumerate(languages)
    }


def evaluate(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace
) -> dict:
    """Held-out perplexities, the bigram baseline's, and what the samples copy.

    Args:
        model: a trained generator (``build_model``'s, or one loaded from
            ``model.keras``).
        data: ``load_data``'s result.
        args: the recipe's flags: they select the same seeded split (the
            names the baseline counts and the samples are checked against)
            and seed the samples.

    Returns:
        ``test_perplexity``, ``validation_perplexity``,
        ``baseline_test_perplexity`` (the bigrams), ``baseline_k`` (its
        smoothing), and over ``SAMPLES_COUNTED`` samples per language:
        ``samples_memorised`` (the fraction that are training names of their
        language), ``samples_real_unseen`` (names of their language's
        validation or test lists, never trained on) and ``samples_new``
        (the rest).

    Example:

    >>> metrics = evaluate(model, data, args)  # doctest: +SKIP
    >>> metrics["test_perplexity"] < metrics["baseline_test_perplexity"]  # doctest: +SKIP
    True
    """
    names = _names(args)
    val_ppl = {
        k: BigramModel(names.train.names, names.train.labels, k=k).perplexity(
            names.validation.names, names.validation.labels
        )
        for k in BIGRAM_KS
    }
    best_k = min(val_ppl, key=val_ppl.get)
    bigram = BigramModel(names.train.names, names.train.labels, k=best_k)

    languages = data.info["languages"]
    samples = sample_names(
        model, data.info, languages, per_language=SAMPLES_COUNTED, seed=args.seed
    )
    train_names = collections.defaultdict(set)
    held_out = collections.defaultdict(set)
    for name, label in zip(names.train.names, names.train.labels):
        train_names[languages[label]].add(name)
    for split in (names.validation, names.test):
        for name, label in zip(split.names, split.labels):
            held_out[languages[label]].add(name)
    total = sum(len(s) for s in samples.values())
    memorised = sum(n in train_names[lang] for lang, s in samples.items() for n in s)
    unseen = sum(n in held_out[lang] for lang, s in samples.items() for n in s)
    return {
        "test_perplexity": perplexity(model, data.test),
        "validation_perplexity": perplexity(model, data.validation),
        "baseline_test_perplexity": bigram.perplexity(
            names.test.names, names.test.labels
        ),
        "baseline_k": best_k,
        "samples_memorised": memorised / total,
        "samples_real_unseen": unseen / total,
        "samples_new": (total - memorised - unseen) / total,
    }


"""
## Export

A SavedModel that takes language names and a seed and samples surnames in
its own graph, with the same decoding loop as `rnn_zoo.generate`.
"""


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """Writes the SavedModel with a ``generate`` signature over language names.

    Signatures:

    - ``generate`` (also ``serving_default``): inputs ``languages`` (tf.string
      ``(batch,)``, names from ``info["languages"]``) and ``seed`` (int32
      scalar, in ``[0, 2**31 - 2]``); output ``names`` (tf.string
      ``(batch,)``), one sampled surname per row (temperature
      :data:`TEMPERATURE`, top-k :data:`TOP_K`, at most ``max_length - 1``
      characters). The same languages and seed give the same names, and the
      same as ``rnn_zoo.generate(model, condition=..., seed=seed,
      temperature=TEMPERATURE, top_k=TOP_K)`` on the Keras model. As there,
      the seed fixes the random draws of the whole batch: a row's name also
      depends on the batch size and its position in the batch.
    - ``languages``: no input; output ``languages``, the names accepted.

    An unknown language name fails the call (``InvalidArgumentError`` that
    names the accepted languages). :func:`rnn_zoo.generate` itself converts
    its arguments with numpy and returns numpy, so it cannot run inside the
    SavedModel's graph; the export drives the same decoding loop
    (:func:`rnn_zoo.decoding.decode_loop` with
    :func:`rnn_zoo.decoding.sample_logits`) with the seed as a tensor.

    Args:
        model: the trained :func:`rnn_zoo.build_generator` model.
        info: ``load_data``'s info.
        export_dir: the SavedModel directory to write.

    Returns:
        ``export_dir``.

    Example:

    >>> import tensorflow as tf
    >>> path = export(model, data.info, "/tmp/gen/export")  # doctest: +SKIP
    >>> served = tf.saved_model.load(path)  # doctest: +SKIP
    >>> served.generate(languages=tf.constant(["Italian"]), seed=tf.constant(0))["names"]  # doctest: +SKIP
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'Bertolli'], dtype=object)>
    """
    import tensorflow as tf

    from rnn_zoo.decoding import decode_loop, sample_logits, step_decoder

    known = list(info["languages"])
    tokens = list(info["tokens"])
    max_length = int(info["max_length"])
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(known), tf.range(len(known), dtype=tf.int64)
        ),
        default_value=-1,
    )
    characters = tf.constant([""] * FIRST_CHAR_ID + tokens[FIRST_CHAR_ID:])
    language_names = tf.constant(known)
    steps = step_decoder(model)
    vocab_size = len(tokens)

    def generate_names(languages, seed):
        condition = table.lookup(languages)
        tf.debugging.assert_non_negative(
            condition,
            message="unknown language; expected one of " + ", ".join(known),
        )
        condition = tf.cast(condition, tf.int32)
        batch = tf.shape(condition)[0]
        states = steps.initial_states(batch, condition)
        logits, states = steps.step(tf.fill([batch], START_ID), states)
        # The Gumbel noise rnn_zoo.generate draws for an integer seed.
        uniform = tf.random.stateless_uniform(
            [max_length, batch, vocab_size],
            seed=tf.stack([seed, 0]),
            minval=1e-7,
            maxval=1.0,
        )
        noise = -tf.math.log(-tf.math.log(uniform))

        def select(logits, i):
            return sample_logits(
                logits, temperature=TEMPERATURE, top_k=TOP_K, noise=noise[i]
            )

        ids = decode_loop(
            steps,
            states,
            logits,
            max_length=max_length,
            end_id=END_ID,
            select=select,
            banned=(PAD_ID, START_ID),
        )
        # Characters before the end id: ids after it are 0, reserved ids read "".
        before_end = tf.cumsum(tf.cast(ids == END_ID, tf.int32), axis=1) == 0
        ids = tf.where(before_end, ids, tf.zeros_like(ids))
        return {"names": tf.strings.reduce_join(tf.gather(characters, ids), axis=-1)}

    def list_languages():
        return {"languages": language_names}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(table)
    # The first endpoint also becomes serving_default.
    archive.add_endpoint(
        "generate",
        generate_names,
        input_signature=[
            tf.TensorSpec(shape=(None,), dtype=tf.string, name="languages"),
            tf.TensorSpec(shape=(), dtype=tf.int32, name="seed"),
        ],
    )
    archive.add_endpoint("languages", list_languages, input_signature=[])
    archive.write_out(export_dir, verbose=False)
    return export_dir


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the surname generator; returns the metrics.

    Args:
        argv: command-line flags (``--output DIR`` is required); ``None``
            reads ``sys.argv``.

    Returns:
        The metrics written to ``metrics.json``.

    Example:

    >>> metrics = main(["--output", "/tmp/gen_smoke", "--smoke"])  # doctest: +SKIP
    >>> metrics["epochs_run"]  # doctest: +SKIP
    1
    """
    args = parse_args(argv)
    start = time.time()
    keras.utils.set_random_seed(args.seed)

    # ## Data
    data = load_data(args)
    info = data.info
    counts = info["num_names"]
    print(
        f"{len(info['languages'])} languages: {counts['train']} training, "
        f"{counts['validation']} validation, {counts['test']} test names; "
        f"{len(info['tokens']) - FIRST_CHAR_ID} characters"
    )

    # ## Model
    # In --strategy's scope: the variables are mirrored on every replica.
    with training.strategy_scope(args):
        model = build_model(args, info)
    model.summary()

    # ## Train
    # Teacher forcing: the model reads the true previous character.
    epochs_run, best_epoch, train_seconds = training.fit(
        model, data, args, patience=PATIENCE, smoke_epochs=SMOKE_EPOCHS
    )

    # ## Evaluate
    metrics = evaluate(model, data, args)
    print(
        f"Test perplexity per character: {metrics['test_perplexity']:.3f} "
        f"(validation {metrics['validation_perplexity']:.3f}); per-language "
        f"character bigrams (add-{metrics['baseline_k']}): "
        f"{metrics['baseline_test_perplexity']:.3f}"
    )
    print(
        f"Of {SAMPLES_COUNTED} samples per language: "
        f"{metrics['samples_memorised']:.1%} are training names, "
        f"{metrics['samples_real_unseen']:.1%} real names never trained on, "
        f"{metrics['samples_new']:.1%} new"
    )
    samples = sample_names(
        model, info, info["languages"], per_language=SAMPLES_SHOWN, seed=args.seed
    )
    for language, names in samples.items():
        print(f"{language:>9}: {', '.join(names)}")
    metrics.update(
        {
            "samples": samples,
            "num_names": counts,
            **training.run_record(
                args,
                start,
                epochs_run,
                best_epoch,
                train_seconds,
                embedding_dim=EMBEDDING_DIM,
                patience=PATIENCE,
                temperature=TEMPERATURE,
                top_k=TOP_K,
                samples_counted=SAMPLES_COUNTED,
            ),
        }
    )

    # ## Save and export
    training.save_run(RECIPE, args, model, info, metrics)
    export_dir = export(model, info, os.path.join(args.output, training.EXPORT_DIR))

    # ## Inference
    # The exported SavedModel samples in its own graph; loading it needs only
    # TensorFlow, not rnn_zoo.
    import tensorflow as tf

    served = tf.saved_model.load(export_dir)
    asked = ["Italian", "Finnish", "Zulu"]
    answers = served.generate(languages=tf.constant(asked), seed=tf.constant(7))
    for language, name in zip(asked, answers["names"].numpy()):
        print(f"export, seed 7: {language} -> {name.decode()}")
    print(f"Wrote {args.output}: model.keras, export/, metrics.json, run.json")
    return metrics


if __name__ == "__main__":
    main()
