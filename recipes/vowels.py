"""Japanese vowels: which of 9 speakers said "ae", from 12-dim speech frames.

Each utterance is a sequence of 7 to 29 frames of 12 LPC cepstrum
coefficients; the model reads the frames in order with rnn_zoo's own LSTM
and answers with a softmax over the 9 speakers (many-to-one classification
of multivariate sequences). The data is the UCI "Japanese Vowels" set as the
``sktime`` package ships it, with its official 270/370 train/test split; see
:mod:`rnn_zoo.data.vowels` for the validation split and the standardization.

The baseline, computed in the same script on the same splits: a nearest
centroid classifier over each utterance's per-coefficient mean and standard
deviation (24 numbers, standardized with training statistics), which already
reads much of a speaker's voice from the average spectrum. Published
results on this split range from about 94% to 99% test accuracy.

Run it:

    rnn-zoo train vowels --output /tmp/vowels          # about 1 min on 2 CPU cores
    rnn-zoo train vowels --output /tmp/smoke --smoke   # seconds: a slice, 1 epoch
    rnn-zoo evaluate /tmp/vowels
    rnn-zoo tune vowels --max-trials 10 --output /tmp/vowels_tuned

It writes, under ``--output``:

- ``model.keras``: the trained Keras model (input: standardized frames,
  padded with ``PAD_VALUE``, see :func:`rnn_zoo.data.vowels.prepare_frames`);
- ``export/``: a SavedModel whose ``classify`` signature takes raw frames
  ``(batch, time, 12)`` and ``lengths`` ``(batch,)`` and standardizes them
  in the graph;
- ``metrics.json``: test accuracy next to the baseline's, epochs, runtime and
  the configuration;
- ``run.json``: the recipe, its flags and the standardization statistics.
"""

from __future__ import annotations

import argparse
import os
import time

import keras
import numpy as np

from rnn_zoo import build_classifier, training
from rnn_zoo.data import vowels as vowels_data
from rnn_zoo.export import write_classifier_archive

RECIPE = "vowels"
DESCRIPTION = "Japanese vowels: 12-dim speech frames -> one of 9 speakers"
REQUIRES: dict[str, str] = {"sktime": "sktime"}

"""
## Configuration
"""

# Upper bound on epochs: EarlyStopping ends training once validation loss stalls.
EPOCHS = 150
# Utterances per training step (7 steps per epoch on the 216 training utterances).
BATCH_SIZE = 32
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
# Epochs without a better validation loss before training stops; the 54
# validation utterances make val_loss noisy, so wait a while.
PATIENCE = 15
# Share of each speaker's 30 official training utterances held out for validation.
VALIDATION_FRACTION = 0.2
# Seeds the validation split, the shuffling, the initial weights and dropout.
SEED = 1337
# --smoke: utterances per speaker (the same real data, a small slice) and epochs.
SMOKE_PER_SPEAKER = 10
SMOKE_EPOCHS = 1
# Test utterances the script classifies at the end through the exported model.
NUM_EXAMPLES = 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's command-line flags (``rnn-zoo train vowels --help``).

    Args:
        argv: the flags; ``None`` reads ``sys.argv``.

    Returns:
        The parsed flags; bad values exit with status 2 and the flag's name.

    Example:

    >>> args = parse_args(["--output", "/tmp/vowels", "--cell", "gru"])
    >>> args.cell, args.units
    ('gru', 64)
    """
    parser = training.base_parser(
        RECIPE,
        "Train a speaker classifier on the Japanese vowels speech frames (sktime).",
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

The official test split as it is; validation carved per speaker out of the
official training split; each coefficient standardized with the training
frames' mean and standard deviation; batches right-padded with
`PAD_VALUE`, which the model masks.
"""


def _load(args: argparse.Namespace) -> vowels_data.VowelsData:
    # The same splits for load_data and for the baseline in evaluate (the
    # sktime read is cached, so the second call is cheap).
    return vowels_data.load_japanese_vowels(
        seed=args.seed,
        validation_fraction=VALIDATION_FRACTION,
        max_per_class=SMOKE_PER_SPEAKER if args.smoke else None,
    )


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """The three splits as batched ``tf.data`` pipelines of ``(frames, speaker)``.

    Args:
        args: the recipe's flags (``seed``, ``batch_size``, ``smoke`` are read).

    Returns:
        A :class:`~rnn_zoo.recipes.training.RecipeData` whose ``info`` holds
        ``speakers``, ``num_features``, ``mean``, ``std``, ``pad_value`` and
        ``num_examples`` (per split).

    Example:

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

    return training.RecipeData(
        train=dataset(data.train, shuffle=True),
        validation=dataset(data.validation),
        test=dataset(data.test),
        info=data.info,
    )


"""
## Model

`rnn_zoo.build_classifier` on float input: a Masking layer for the padding,
the recurrent layer, a softmax over the speakers.
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The compiled speaker classifier.

    Args:
        args: the recipe's flags (architecture and ``learning_rate``).
        info: ``load_data``'s info (``speakers``, ``num_features``, ``pad_value``).

    Returns:
        A model compiled with Adam, sparse categorical cross-entropy and accuracy.

    Example:

    >>> args = parse_args(["--output", "/tmp/vowels", "--units", "8"])
    >>> info = {"speakers": list("123"), "num_features": 12, "pad_value": 0.0}
    >>> build_model(args, info).output_shape
    (None, 3)
    """
    model = build_classifier(
        len(info["speakers"]),
        input_features=info["num_features"],
        mask_value=info["pad_value"],
        cell=args.cell,
        units=args.units,
        num_layers=args.num_layers,
        bidirectional=args.bidirectional,
        dropout=args.dropout,
        name="vowels_classifier",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """The search space for ``rnn-zoo tune vowels``: rnn_zoo's classifier.

    The tuner picks the cell, units, layers, direction, dropout and learning
    rate; the speakers, the features and the padding value stay fixed.

    Args:
        args: the recipe's flags (unused; part of the recipe protocol).
        info: ``load_data``'s info.

    Returns:
        A :class:`~rnn_zoo.models.hypermodels.ClassifierHyperModel`.

    Example:

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


def _summary_features(split: vowels_data.Split) -> np.ndarray:
    # Each utterance's per-coefficient mean and standard deviation over its
    # real frames: (n, 24).
    real = np.arange(split.frames.shape[1])[None, :] < split.lengths[:, None]
    weights = real[:, :, None] / split.lengths[:, None, None]
    mean = (split.frames * weights).sum(axis=1)
    std = np.sqrt((((split.frames - mean[:, None]) ** 2) * weights).sum(axis=1))
    return np.concatenate([mean, std], axis=1)


def nearest_centroid_baseline(
    train: vowels_data.Split, test: vowels_data.Split
) -> np.ndarray:
    """Speaker predictions of a nearest-centroid classifier on summary features.

    Each utterance becomes its per-coefficient mean and standard deviation
    (24 numbers), standardized with the training utterances' statistics; a
    test utterance gets the speaker whose training centroid is nearest
    (Euclidean).

    Args:
        train: the utterances the centroids come from.
        test: the utterances to classify.

    Returns:
        int ``(len(test),)``, the predicted speaker indices.

    Example:

    >>> data = vowels_data.load_japanese_vowels(seed=0)
    >>> predicted = nearest_centroid_baseline(data.train, data.test)
    >>> round(float(np.mean(predicted == data.test.labels)), 2)
    0.94
    """
    train_x, test_x = _summary_features(train), _summary_features(test)
    mean, std = train_x.mean(axis=0), train_x.std(axis=0)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    classes = np.unique(train.labels)
    centroids = np.stack([train_x[train.labels == c].mean(axis=0) for c in classes])
    distances = ((test_x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=-1)
    return classes[np.argmin(distances, axis=1)]


def evaluate(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace
) -> dict:
    """Test-split metrics of a trained vowels model, and the baseline's.

    Args:
        model: a compiled model (``build_model``'s, or one loaded from
            ``model.keras``).
        data: ``load_data``'s result.
        args: the recipe's flags (``seed`` and ``smoke`` rebuild the same
            splits for the baseline).

    Returns:
        ``test_accuracy``, ``test_loss``, ``test_balanced_accuracy`` (the mean
        of the per-speaker accuracies), ``test_accuracy_per_speaker``,
        ``baseline_test_accuracy`` and ``baseline`` (what the baseline is).

    Example:

    >>> metrics = evaluate(model, data, args)  # doctest: +SKIP
    >>> metrics["test_accuracy"] > metrics["baseline_test_accuracy"]  # doctest: +SKIP
    True
    """
    test_loss, test_accuracy = model.evaluate(data.test, verbose=0)
    predicted = np.argmax(model.predict(data.test, verbose=0), axis=-1)
    labels = np.concatenate([y.numpy() for _, y in data.test])
    per_speaker = {
        speaker: float(np.mean(predicted[labels == i] == i))
        for i, speaker in enumerate(data.info["speakers"])
        if np.any(labels == i)
    }
    raw = _load(args)
    baseline = nearest_centroid_baseline(raw.train, raw.test)
    return {
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "test_balanced_accuracy": float(np.mean(list(per_speaker.values()))),
        "test_accuracy_per_speaker": per_speaker,
        "baseline_test_accuracy": float(np.mean(baseline == raw.test.labels)),
        "baseline": "nearest centroid on each utterance's per-coefficient mean and std",
    }


"""
## Export

The SavedModel takes what a client has: raw frames, right-padded with
anything, and each utterance's length; it standardizes and pads them in the
graph with the same function the training pipeline uses.
"""


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """Writes the SavedModel that classifies raw frames.

    Signatures:

    - ``classify`` and ``serving_default``: inputs ``frames`` float32
      ``(batch, time, 12)`` (raw coefficients; rows right-padded with any
      value) and ``lengths`` int32 ``(batch,)`` (frames used per row);
      outputs ``index`` (int32 ``(batch,)``, the speaker index), ``label``
      (tf.string ``(batch,)``, the speaker's name) and ``probabilities``
      (float32 ``(batch, 9)``).
    - ``labels``: no input; output ``labels``, the speakers in index order.

    Args:
        model: the trained classifier.
        info: ``load_data``'s info (``speakers``, ``num_features``, ``mean``, ``std``).
        export_dir: the SavedModel directory to write.

    Returns:
        ``export_dir``.

    Example:

    >>> export(model, data.info, "/tmp/vowels/export")  # doctest: +SKIP
    '/tmp/vowels/export'
    """
    import tensorflow as tf

    mean = np.asarray(info["mean"], np.float32)
    std = np.asarray(info["std"], np.float32)

    def preprocess(frames, lengths):
        return vowels_data.prepare_frames(frames, lengths, mean, std)

    write_classifier_archive(
        model,
        export_dir,
        preprocess=preprocess,
        input_signature=[
            tf.TensorSpec(
                (None, None, info["num_features"]), tf.float32, name="frames"
            ),
            tf.TensorSpec((None,), tf.int32, name="lengths"),
        ],
        labels=info["speakers"],
    )
    return export_dir


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the vowels classifier; returns the metrics.

    Args:
        argv: command-line flags (``--output DIR`` is required); ``None``
            reads ``sys.argv``.

    Returns:
        The metrics written to ``metrics.json``.

    Example:

    >>> metrics = main(["--output", "/tmp/vowels_smoke", "--smoke"])  # doctest: +SKIP
    >>> metrics["epochs_run"]  # doctest: +SKIP
    1
    """
    args = parse_args(argv)
    start = time.time()
    keras.utils.set_random_seed(args.seed)

    # ## Data
    data = load_data(args)
    info = data.info
    counts = info["num_examples"]
    print(
        f"{len(info['speakers'])} speakers: {counts['train']} train, "
        f"{counts['validation']} validation, {counts['test']} test utterances "
        f"of {info['num_features']} coefficients per frame"
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
        f"Test accuracy: {metrics['test_accuracy']:.4f} (mean per-speaker accuracy "
        f"{metrics['test_balanced_accuracy']:.4f}); nearest-centroid baseline: "
        f"{metrics['baseline_test_accuracy']:.4f}"
    )
    metrics.update(
        {
            "num_examples": counts,
            **training.run_record(
                args,
                start,
                epochs_run,
                best_epoch,
                train_seconds,
                patience=PATIENCE,
                validation_fraction=VALIDATION_FRACTION,
            ),
        }
    )

    # ## Save and export
    training.save_run(RECIPE, args, model, info, metrics)
    export_dir = export(model, info, os.path.join(args.output, training.EXPORT_DIR))

    # ## Inference
    # The exported SavedModel takes raw frames and lengths; loading it needs
    # only TensorFlow, not rnn_zoo.
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
            f"{info['speakers'][test.labels[i]]}) -> speaker {label.decode()} "
            f"({probabilities.max():.0%})"
        )
    print(f"Wrote {args.output}: model.keras, export/, metrics.json, run.json")
    return metrics


if __name__ == "__main__":
    main()
