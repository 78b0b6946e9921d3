"""The vowels recipe end to end through the rnn-zoo command, in smoke mode.

One smoke run (real data, a slice, one epoch) writes model.keras, export/,
metrics.json and run.json; the tests then check what a user of each
artifact relies on.
"""

import json
import math

import keras
import numpy as np
import pytest

from rnn_zoo import cli
from rnn_zoo.data import vowels as vowels_data

pytest.importorskip("sktime", reason="the Japanese vowels data ships with sktime")

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipe uses tf.data and exports a SavedModel",
    ),
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    output = tmp_path_factory.mktemp("vowels_smoke")
    argv = ["train", "vowels", "--output", str(output), "--smoke", "--units", "8"]
    assert cli.main(argv) == 0
    return output


@pytest.fixture(scope="module")
def served(run_dir):
    import tensorflow as tf

    return tf.saved_model.load(str(run_dir / "export"))


@pytest.fixture(scope="module")
def info(run_dir):
    return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["info"]


@pytest.fixture(scope="module")
def test_split():
    # The smoke run's test slice (same seed and size as the recipe's).
    from rnn_zoo.recipes import vowels

    return vowels_data.load_japanese_vowels(
        seed=vowels.SEED, max_per_class=vowels.SMOKE_PER_SPEAKER
    ).test


def _classify(served, frames, lengths):
    import tensorflow as tf

    out = served.classify(
        frames=tf.constant(frames, tf.float32), lengths=tf.constant(lengths, tf.int32)
    )
    return {key: value.numpy() for key, value in out.items()}


def test_metrics_hold_the_model_and_the_baseline(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    for key in ("test_accuracy", "test_balanced_accuracy", "baseline_test_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert math.isfinite(metrics["test_loss"])
    # The nearest-centroid baseline on real utterances is far above chance (1/9).
    assert metrics["baseline_test_accuracy"] > 0.6
    assert "nearest centroid" in metrics["baseline"]
    assert metrics["epochs_run"] == 1
    assert 0 < metrics["train_seconds"] <= metrics["total_seconds"]
    assert metrics["num_examples"] == {"train": 72, "validation": 18, "test": 90}
    assert metrics["config"]["smoke"] is True and metrics["config"]["units"] == 8
    assert set(metrics["test_accuracy_per_class"]) == set("123456789")


def test_run_json_keeps_the_training_statistics(info):
    assert info["speakers"] == list("123456789")
    assert len(info["mean"]) == len(info["std"]) == 12
    assert all(s > 0 for s in info["std"])


def test_model_keras_loads_in_safe_mode_and_agrees_with_the_saved_model(
    run_dir, served, info, test_split
):
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    assert model.output_shape == (None, 9)
    assert any(type(layer).__module__.startswith("rnn_zoo") for layer in model.layers)
    frames, lengths = test_split.frames[:20], test_split.lengths[:20]
    inputs = vowels_data.prepare_frames(frames, lengths, info["mean"], info["std"])
    expected = model.predict(inputs, verbose=0)
    np.testing.assert_allclose(
        _classify(served, frames, lengths)["probabilities"], expected, atol=1e-5
    )


def test_saved_model_answers_raw_frames(served, test_split):
    import tensorflow as tf

    frames, lengths = test_split.frames[:7], test_split.lengths[:7]
    out = _classify(served, frames, lengths)
    assert out["probabilities"].shape == (7, 9)
    np.testing.assert_allclose(out["probabilities"].sum(axis=-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out["index"], out["probabilities"].argmax(axis=-1))
    assert [label.decode() for label in out["label"]] == [
        str(i + 1) for i in out["index"]
    ]
    assert [s.decode() for s in served.labels()["labels"].numpy()] == list("123456789")
    default = served.signatures["serving_default"](
        frames=tf.constant(frames), lengths=tf.constant(lengths)
    )
    np.testing.assert_allclose(
        default["probabilities"].numpy(), out["probabilities"], atol=1e-6
    )


def test_padding_does_not_change_the_answer(served, test_split):
    # One utterance cut to its length, alone; then in a batch beside a longer
    # one, padded with garbage the lengths tell the model to ignore.
    i = int(np.argmin(test_split.lengths))
    length = int(test_split.lengths[i])
    alone = _classify(served, test_split.frames[i : i + 1, :length], [length])
    padded = np.full((2, 29, 12), 123.0, np.float32)
    padded[0, :length] = test_split.frames[i, :length]
    padded[1] = test_split.frames[int(np.argmax(test_split.lengths))]
    in_batch = _classify(served, padded, [length, 29])
    np.testing.assert_allclose(
        in_batch["probabilities"][0], alone["probabilities"][0], atol=1e-5
    )


def test_odd_lengths_do_not_crash(served, test_split):
    frames = test_split.frames[:3]
    out = _classify(served, frames, [0, 100, -4])
    np.testing.assert_allclose(out["probabilities"].sum(axis=-1), 1.0, atol=1e-5)
    # A length past the frames means all of them.
    full = _classify(served, frames[1:2], [29])
    np.testing.assert_allclose(
        out["probabilities"][1], full["probabilities"][0], atol=1e-5
    )
    assert _classify(served, np.zeros((0, 5, 12)), [])["probabilities"].shape == (0, 9)


def test_the_baseline_reaches_published_accuracy_on_the_full_split():
    from rnn_zoo.baselines import nearest_centroid, sequence_summary

    data = vowels_data.load_japanese_vowels(seed=0)
    predicted = nearest_centroid(
        sequence_summary(data.train.frames, data.train.lengths),
        data.train.labels,
        sequence_summary(data.test.frames, data.test.lengths),
    )
    assert predicted.shape == (370,)
    assert np.mean(predicted == data.test.labels) > 0.9


def test_hypermodel_builds_the_recipe_model():
    import keras_tuner

    from rnn_zoo.recipes import vowels

    info = {"speakers": list("123456789"), "num_features": 12, "pad_value": 0.0}
    model = vowels.hypermodel(None, info).build(keras_tuner.HyperParameters())
    assert model.input_shape == (None, None, 12) and model.output_shape == (None, 9)


def test_bad_flags_are_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "vowels", "--output", str(tmp_path), "--units", "0"])
    assert exit_info.value.code == 2
    assert "--units" in capsys.readouterr().err
