"""Irregular sampling: Japanese vowels with half of every utterance's frames dropped.

The vowels task (:mod:`rnn_zoo.data.vowels`: which of 9 speakers said "ae",
from frames of 12 LPC cepstrum coefficients; the official 270/370 split, 54
of train held out for validation), made irregular by the ODE-RNN
literature's protocol (:mod:`rnn_zoo.data.irregular`): each frame is kept
with probability ``KEEP_PROBABILITY`` (seeded, a different draw per split;
at least one per utterance), and the time since the previous kept frame is
its timespan. Four models train on it with the same budget (epochs,
optimizer, seed, about the same parameter count):

- ``cfc``: :class:`rnn_zoo.layers.CfC` reading the timespans;
- ``ltc``: :class:`rnn_zoo.layers.LTC` reading the timespans;
- ``gru``: a GRU that sees only the kept frames, in order;
- ``gru_gap``: a GRU with the timespan as a 13th input feature.

The baseline, in the same script: the nearest-centroid classifier of the
vowels recipe over each utterance's per-coefficient mean and standard
deviation of its kept frames. There is no published figure for this exact
task: the CfC paper (Hasani et al. 2022) and the ODE-RNN paper (Rubanova et
al. 2019) report irregular sampling on other datasets (PhysioNet,
PersonActivity, event-based MNIST); on the regular vowels task published
results are about 94-99 % test accuracy.

    rnn-zoo train irregular --output /tmp/irregular          # a few min on 2 cores
    rnn-zoo train irregular --output /tmp/smoke --smoke      # a slice, 1 epoch

It writes ``model.keras`` (the best model on validation accuracy),
``export/`` (a SavedModel whose ``classify`` signature takes raw kept
``frames`` ``(batch, time, 12)``, their ``timespans`` ``(batch, time)`` and
``lengths`` ``(batch,)``), ``metrics.json`` (every model's scores) and
``run.json`` (with the standardization statistics).
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np

from rnn_zoo import baselines, build_classifier, metrics, training
from rnn_zoo.data import irregular
from rnn_zoo.data import vowels as vowels_data
from rnn_zoo.export import write_classifier_archive

RECIPE = "irregular"
DESCRIPTION = "Japanese vowels, half the frames dropped: CfC/LTC with timespans vs GRU"
REQUIRES: dict[str, str] = {"sktime": "sktime"}

"""
## Configuration
"""

# Share of each speaker's 30 official training utterances held out for validation.
VALIDATION_FRACTION = 0.2
# Each frame is kept with this probability (0.5: half dropped, inside the
# literature's 30-60 %).
KEEP_PROBABILITY = 0.5
# --smoke: utterances per speaker (the same real data, a small slice) and epochs.
SMOKE_PER_SPEAKER = 10
SMOKE_EPOCHS = 1
# The compared models: name -> (cell, how the model gets the elapsed times;
# see rnn_zoo.data.irregular.prepare_inputs).
MODELS = {
    "cfc": ("cfc", "timespans"),
    "ltc": ("ltc", "timespans"),
    "gru": ("gru", "none"),
    "gru_gap": ("gru", "feature"),
}
# The cell --cell names only for the flag set's sake; MODELS decides the cells.
CELL = "cfc"
# CfC's recurrent units; every other model gets the units that bring it
# closest to CfC's parameter count.
UNITS = 32
# CfC's backbone (the shared layer before its heads): kept small so that the
# matched GRU and LTC are not much wider than CfC.
BACKBONE_UNITS = 32
# One recurrent layer.
NUM_LAYERS = 1
# Dropout on the input frames and before the softmax (216 training utterances).
DROPOUT = 0.2
# Adam's learning rate, for every model.
LEARNING_RATE = 3e-3
# Upper bound on epochs: EarlyStopping ends training once validation loss stalls.
EPOCHS = 60
# Utterances per training step.
BATCH_SIZE = 32
# Epochs without a better validation loss before a model's training stops.
PATIENCE = 10
# Seeds the split, the dropped frames, the shuffling, the weights and dropout.
SEED = 1337
# Test utterances the script classifies at the end through the exported model.
NUM_EXAMPLES = 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``rnn-zoo train irregular``'s flags, defaulting to the constants above.

    >>> vars(parse_args(["--output", "/tmp/irregular", "--units", "8"]))["units"]
    8
    """
    parser = training.recipe_parser(RECIPE, DESCRIPTION, globals())
    return training.check_args(parser, parser.parse_args(argv))


"""
## Data

The vowels splits; then each split's frames dropped with its own seed
(``SEED``, ``SEED + 1``, ``SEED + 2``), standardized with the training
frames' statistics (of the full training utterances, as the vowels recipe).
"""


def load_data(args: argparse.Namespace) -> dict:
    """The vowels data and each split's :class:`~rnn_zoo.data.irregular.IrregularSeries`.

    >>> data = load_data(parse_args(["--output", "/tmp/irregular", "--smoke"]))
    >>> [len(data[split]) for split in ("train", "validation", "test")]
    [72, 18, 90]
    """
    vowels = vowels_data.load_japanese_vowels(
        seed=args.seed,
        validation_fraction=VALIDATION_FRACTION,
        max_per_class=SMOKE_PER_SPEAKER if args.smoke else None,
    )
    data = {"vowels": vowels, "info": vowels.info}
    for offset, split in enumerate(("train", "validation", "test")):
        raw = getattr(vowels, split)
        data[split] = irregular.drop_observations(
            raw.frames,
            raw.lengths,
            keep_probability=KEEP_PROBABILITY,
            seed=args.seed + offset,
        )
    kept = float(np.sum(data["test"].lengths) / np.sum(vowels.test.lengths))
    data["info"].update(keep_probability=KEEP_PROBABILITY, test_frames_kept=kept)
    return data


def datasets(data: dict, time_input: str, args) -> training.RecipeData:
    """The batched splits of one model's input (``time_input``)."""
    vowels = data["vowels"]

    def dataset(split, shuffle=False):
        return irregular.make_dataset(
            data[split],
            getattr(vowels, split).labels,
            vowels.mean,
            vowels.std,
            time_input=time_input,
            batch_size=args.batch_size,
            shuffle=shuffle,
            seed=args.seed,
        )

    return training.recipe_data(
        dataset, ("train", "validation", "test"), data["info"], ""
    )


"""
## Models

`rnn_zoo.build_classifier` on float input (a Masking layer for the padding),
the recurrent layer, a softmax over the speakers; the continuous-time cells
with a second input, ``timespans``.
"""


def build_model(name: str, units: int, args, info: dict) -> keras.Model:
    """One compiled speaker classifier of ``MODELS[name]``.

    >>> args = parse_args(["--output", "/tmp/irregular"])
    >>> info = {"speakers": list("123"), "num_features": 12, "pad_value": 0.0}
    >>> [t.name for t in build_model("cfc", 4, args, info).inputs]
    ['features', 'timespans']
    """
    cell, time_input = MODELS[name]
    extra = {"backbone_units": BACKBONE_UNITS} if cell == "cfc" else {}
    model = build_classifier(
        len(info["speakers"]),
        input_features=info["num_features"] + (time_input == "feature"),
        mask_value=info["pad_value"],
        cell=cell,
        units=units,
        num_layers=args.num_layers,
        dropout=args.dropout,
        timespans=time_input == "timespans",
        name=f"irregular_{name}",
        **extra,
    )
    model.compile(
        keras.optimizers.Adam(args.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def matched_units(name: str, target: int, args, info: dict) -> int:
    """The units (1 to 512) whose parameter count is closest to ``target``."""
    low, high = 1, 512
    while low < high:  # the smallest units with at least `target` parameters
        mid = (low + high) // 2
        if build_model(name, mid, args, info).count_params() < target:
            low = mid + 1
        else:
            high = mid
    counts = {
        u: build_model(name, u, args, info).count_params() for u in {low - 1, low}
    }
    return min((u for u in counts if u >= 1), key=lambda u: abs(counts[u] - target))


def train_one(name: str, units: int, data: dict, args) -> tuple[keras.Model, dict]:
    """Trains ``MODELS[name]`` with early stopping; its validation and test scores."""
    keras.utils.set_random_seed(args.seed)  # the same seed for every model
    splits = datasets(data, MODELS[name][1], args)
    model = build_model(name, units, args, data["info"])
    stop = keras.callbacks.EarlyStopping(patience=PATIENCE, restore_best_weights=True)
    start = time.time()
    history = model.fit(
        splits.train,
        validation_data=splits.validation,
        epochs=SMOKE_EPOCHS if args.smoke else args.epochs,
        callbacks=[stop],
        shuffle=False,  # the training dataset reshuffles itself each epoch
        verbose=0,
    )
    seconds = time.time() - start
    _, validation_accuracy = model.evaluate(splits.validation, verbose=0)
    scores = metrics.classifier_scores(model, splits.test, data["info"]["speakers"])
    return model, {
        "cell": MODELS[name][0],
        "time_input": MODELS[name][1],
        "units": units,
        "params": int(model.count_params()),
        "epochs": len(history.history["loss"]),
        "best_epoch": int(np.argmin(history.history["val_loss"])) + 1,
        "train_seconds": seconds,
        "validation_accuracy": float(validation_accuracy),
        **{f"test_{key}": value for key, value in scores.items()},
    }


"""
## Baseline

Nearest centroid over each utterance's per-coefficient mean and standard
deviation of its kept frames (the vowels recipe's baseline, on the same
irregular series).
"""


def baseline_accuracy(data: dict) -> float:
    """The nearest-centroid classifier's test accuracy on the kept frames."""
    train, test = data["train"], data["test"]
    predicted = baselines.nearest_centroid(
        baselines.sequence_summary(train.frames, train.lengths),
        data["vowels"].train.labels,
        baselines.sequence_summary(test.frames, test.lengths),
    )
    return float(np.mean(predicted == data["vowels"].test.labels))


def export(model: keras.Model, time_input: str, info: dict, export_dir: str) -> str:
    """The SavedModel over raw kept frames, their timespans and lengths."""
    import tensorflow as tf

    mean = np.asarray(info["mean"], np.float32)
    std = np.asarray(info["std"], np.float32)

    def preprocess(frames, timespans, lengths):
        # The training pipeline's own function: the two cannot disagree.
        return irregular.prepare_inputs(
            frames, timespans, lengths, mean, std, time_input=time_input
        )

    return write_classifier_archive(
        model,
        export_dir,
        preprocess=preprocess,
        input_signature=[
            tf.TensorSpec((None, None, info["num_features"]), tf.float32, "frames"),
            tf.TensorSpec((None, None), tf.float32, name="timespans"),
            tf.TensorSpec((None,), tf.int32, name="lengths"),
        ],
        labels=info["speakers"],
    )


def main(argv: list[str] | None = None) -> dict:
    """Trains the four models on the same budget, reports them, exports the best."""
    # Seeds everything, starts the clock; reads the constants above.
    run = training.RecipeRun(RECIPE, parse_args(argv), globals())
    args = run.args
    data = load_data(args)
    info = data["info"]
    print(
        f"{info['num_examples']} utterances; {info['test_frames_kept']:.0%} of the "
        f"test frames kept (keep probability {KEEP_PROBABILITY})"
    )

    # ## Training: CfC at --units sets the parameter budget the others match.
    target = build_model("cfc", args.units, args, info).count_params()
    results, models = {"models": {}}, {}
    for name in MODELS:
        units = args.units if name == "cfc" else matched_units(name, target, args, info)
        models[name], results["models"][name] = train_one(name, units, data, args)
    results["baseline_test_accuracy"] = baseline_accuracy(data)
    results["baseline"] = (
        "nearest centroid on the kept frames' per-coefficient mean and std"
    )
    best = max(MODELS, key=lambda n: results["models"][n]["validation_accuracy"])
    results["best"] = best
    results["test_accuracy"] = results["models"][best]["test_accuracy"]

    # ## Report
    print(f"{'model':8s} {'units':>5s} {'params':>7s} {'epochs':>6s} "
          f"{'val acc':>8s} {'test acc':>8s} {'seconds':>8s}")  # fmt: skip
    for name, r in results["models"].items():
        print(
            f"{name:8s} {r['units']:5d} {r['params']:7d} {r['epochs']:6d} "
            f"{r['validation_accuracy']:8.4f} {r['test_accuracy']:8.4f} "
            f"{r['train_seconds']:8.1f}"
        )
    print(
        f"nearest-centroid baseline: test accuracy {results['baseline_test_accuracy']:.4f}"
    )
    print(f"best on validation: {best}")

    # ## Save and export the best on validation
    run.epochs_run = results["models"][best]["epochs"]
    run.best_epoch = results["models"][best]["best_epoch"]
    run.train_seconds = sum(r["train_seconds"] for r in results["models"].values())
    run.save(
        models[best], info, results,
        "VALIDATION_FRACTION KEEP_PROBABILITY BACKBONE_UNITS PATIENCE",
    )  # fmt: skip
    export_dir = export(models[best], MODELS[best][1], info, run.export_dir)

    # ## Inference: the exported SavedModel needs only TensorFlow.
    import tensorflow as tf

    test = data["test"]
    served = tf.saved_model.load(export_dir)
    answers = served.classify(
        frames=tf.constant(test.frames[:NUM_EXAMPLES]),
        timespans=tf.constant(test.timespans[:NUM_EXAMPLES]),
        lengths=tf.constant(test.lengths[:NUM_EXAMPLES]),
    )
    for i, label in enumerate(answers["label"].numpy()):
        speaker = info["speakers"][data["vowels"].test.labels[i]]
        print(
            f"test utterance {i} ({test.lengths[i]} kept frames, speaker {speaker}) "
            f"-> speaker {label.decode()}"
        )
    run.wrote("export/")
    return results


if __name__ == "__main__":
    main()
