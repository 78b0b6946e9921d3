"""Japanese vowels: which of 9 speakers said "ae", from 12-dim speech frames.

Each utterance is a sequence of 7 to 29 frames of 12 LPC cepstrum
coefficients; the model reads the frames in order with rnn_zoo's own LSTM
and answers with a softmax over the 9 speakers (many-to-one classification
of multivariate sequences). The data is the UCI "Japanese Vowels" set as the
``sktime`` package ships it, with its official 270/370 train/test split
(:mod:`rnn_zoo.data.vowels` holds out validation and standardizes).

The baseline, on the same splits: a nearest-centroid classifier over each
utterance's per-coefficient mean and standard deviation, which already reads
much of a speaker's voice from the average spectrum. Published results on
this split range from about 94% to 99% test accuracy.

    rnn-zoo train vowels --output /tmp/vowels          # about 1 min on 2 CPU cores
    rnn-zoo train vowels --output /tmp/smoke --smoke   # seconds: a slice, 1 epoch
    rnn-zoo evaluate /tmp/vowels
    rnn-zoo tune vowels --max-trials 10 --output /tmp/vowels_tuned

It writes ``model.keras`` (input: standardized frames, padded with
``PAD_VALUE``), ``export/`` (a SavedModel whose ``classify`` signature takes
raw frames ``(batch, time, 12)`` and ``lengths`` ``(batch,)``),
``metrics.json`` and ``run.json`` (with the standardization statistics).
"""

from __future__ import annotations

import argparse

import keras
import numpy as np

from rnn_zoo import baselines, build_classifier, metrics, training
from rnn_zoo.data import vowels as vowels_data
from rnn_zoo.export import export_frames_classifier

RECIPE = "vowels"
DESCRIPTION = "Japanese vowels: 12-dim speech frames -> one of 9 speakers"
REQUIRES: dict[str, str] = {"sktime": "sktime"}

"""
## Configuration
"""

# Share of each speaker's 30 official training utterances held out for validation.
VALIDATION_FRACTION = 0.2
# --smoke: utterances per speaker (the same real data, a small slice) and epochs.
SMOKE_PER_SPEAKER = 10
SMOKE_EPOCHS = 1
# The recurrent cell: "lstm", "gru" or "simple".
CELL = "lstm"
# Recurrent units per layer (per direction).
UNITS = 64
# Stacked recurrent layers.
NUM_LAYERS = 1
# Read the utterance in one direction; --bidirectional reads it both ways.
BIDIRECTIONAL = False
# Dropout on the input frames and before the softmax: 216 training
# utterances are few for ~20k weights.
DROPOUT = 0.2
# Adam's learning rate.
LEARNING_RATE = 3e-3
# Upper bound on epochs: EarlyStopping ends training once validation loss stalls.
EPOCHS = 150
# Utterances per training step (7 steps per epoch on the 216 training utterances).
BATCH_SIZE = 32
# Epochs without a better validation loss before training stops; the 54
# validation utterances make val_loss noisy, so wait a while.
PATIENCE = 15
# Seeds the validation split, the shuffling, the initial weights and dropout.
SEED = 1337
# Test utterances the script classifies at the end through the exported model.
NUM_EXAMPLES = 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``rnn-zoo train vowels``'s flags, defaulting to the constants above.

    >>> vars(parse_args(["--output", "/tmp/vowels", "--units", "8"]))["units"]
    8
    """
    parser = training.recipe_parser(RECIPE, DESCRIPTION, globals())
    return training.check_args(parser, parser.parse_args(argv))


"""
## Data

The official test split as it is; validation carved per speaker out of the
official training split; each coefficient standardized with the training
frames' mean and standard deviation; batches right-padded with
`PAD_VALUE`, which the model masks.
"""


def _load(args: argparse.Namespace) -> vowels_data.VowelsData:
    # The same splits for load_data, the baseline and the examples (the
    # sktime read is cached, so the later calls are cheap).
    return vowels_data.load_japanese_vowels(
        seed=args.seed,
        validation_fraction=VALIDATION_FRACTION,
        max_per_class=SMOKE_PER_SPEAKER if args.smoke else None,
    )


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """Batched ``tf.data`` splits of ``(frames, speaker)``; ``info`` holds the statistics.

    >>> data = load_data(parse_args(["--output", "/tmp/vowels", "--smoke"]))
    >>> data.info["num_examples"]
    {'train': 72, 'validation': 18, 'test': 90}
    """
    data = _load(args)

    def dataset(split, shuffle=False):
        return vowels_data.make_dataset(
            split,
            data.mean,
            data.std,
            batch_size=args.batch_size,
            shuffle=shuffle,
            seed=args.seed,
        )

    counts = ", ".join(f"{n} {split}" for split, n in data.info["num_examples"].items())
    summary = (
        f"{len(data.info['speakers'])} speakers: {counts} utterances of "
        f"{data.info['num_features']} coefficients per frame"
    )
    splits = (data.train, data.validation, data.test)
    return training.recipe_data(dataset, splits, data.info, summary)


"""
## Model

`rnn_zoo.build_classifier` on float input: a Masking layer for the padding,
the recurrent layer, a softmax over the speakers.
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The compiled speaker classifier.

    >>> args = parse_args(["--output", "/tmp/vowels", "--units", "8"])
    >>> info = {"speakers": list("123"), "num_features": 12, "pad_value": 0.0}
    >>> build_model(args, info).output_shape
    (None, 3)
    """
    model = build_classifier(
        len(info["speakers"]),
        input_features=info["num_features"],
        mask_value=info["pad_value"],
        name="vowels_classifier",
        **training.builder_args(args),  # cell, units, layers, direction, dropout
    )
    optimizer = keras.optimizers.Adam(args.learning_rate)
    model.compile(
        optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """``rnn-zoo tune vowels``'s search space; speakers, features, padding stay fixed.

    >>> info = {"speakers": list("123"), "num_features": 12, "pad_value": 0.0}
    >>> hypermodel(None, info)  # doctest: +ELLIPSIS
    <rnn_zoo.models.hypermodels.ClassifierHyperModel object at ...>
    """
    from rnn_zoo.models.hypermodels import ClassifierHyperModel

    del args  # nothing in the flags changes the search space
    return ClassifierHyperModel(
        num_classes=len(info["speakers"]),
        input_features=info["num_features"],
        mask_value=info["pad_value"],
        name="vowels_classifier",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


"""
## Evaluation

Accuracy on the official test split, and per speaker (the test split has 24
to 88 utterances per speaker), next to the nearest-centroid baseline on the
same utterances.
"""


def evaluate(model: keras.Model, data: training.RecipeData, args) -> dict:
    """Test accuracy and loss, per speaker (``test_accuracy_per_class``) and
    balanced, and the nearest-centroid baseline's accuracy."""
    scores = metrics.classifier_scores(model, data.test, data.info["speakers"])
    raw = _load(args)
    baseline = baselines.nearest_centroid(
        baselines.sequence_summary(raw.train.frames, raw.train.lengths),
        raw.train.labels,
        baselines.sequence_summary(raw.test.frames, raw.test.lengths),
    )
    baseline_accuracy = float(np.mean(baseline == raw.test.labels))
    print(
        f"Test accuracy: {scores['accuracy']:.4f} (mean per-speaker accuracy "
        f"{scores['balanced_accuracy']:.4f}); nearest-centroid baseline: "
        f"{baseline_accuracy:.4f}"
    )
    return {
        **{f"test_{name}": value for name, value in scores.items()},
        "baseline_test_accuracy": baseline_accuracy,
        "baseline": "nearest centroid on each utterance's per-coefficient mean and std",
    }


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """The SavedModel that takes raw frames and lengths; it standardizes them in its graph."""
    mean = np.asarray(info["mean"], np.float32)
    std = np.asarray(info["std"], np.float32)

    def preprocess(frames, lengths):
        # The training pipeline's own function: the two cannot disagree.
        return vowels_data.prepare_frames(frames, lengths, mean, std)

    return export_frames_classifier(
        model,
        export_dir,
        labels=info["speakers"],
        num_features=info["num_features"],
        preprocess=preprocess,
    )


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the vowels classifier; returns the metrics."""
    # Seeds everything, starts the clock; reads the constants above.
    run = training.RecipeRun(RECIPE, parse_args(argv), globals())
    args = run.args

    # ## Data, model (built in --strategy's scope), training (checkpointed,
    # early stopping on the validation loss) and evaluation
    model, data, results = run.train_and_evaluate(load_data, build_model, evaluate)

    # ## Save and export
    run.save(model, data.info, results, "PATIENCE VALIDATION_FRACTION")
    export_dir = export(model, data.info, run.export_dir)

    # ## Inference
    # The exported SavedModel takes raw frames and lengths; it needs only TensorFlow.
    import tensorflow as tf

    test = _load(args).test
    served = tf.saved_model.load(export_dir)
    answers = served.classify(
        tf.constant(test.frames[:NUM_EXAMPLES]),
        tf.constant(test.lengths[:NUM_EXAMPLES]),
    )
    for i, (label, probabilities) in enumerate(
        zip(answers["label"].numpy(), answers["probabilities"].numpy())
    ):
        print(
            f"test utterance {i} ({test.lengths[i]} frames, speaker "
            f"{data.info['speakers'][test.labels[i]]}) -> speaker {label.decode()} "
            f"({probabilities.max():.0%})"
        )
    run.wrote("export/")
    return results


if __name__ == "__main__":
    main()
