"""The irregular recipe end to end through the rnn-zoo command, in smoke mode.

One shared smoke run (real Japanese vowels, half the frames dropped, a
slice, 1 epoch, 4 CfC units) trains the four models; the tests check the
metrics and the exported SavedModel, which takes the timespans.
"""

import json
import math

import keras
import numpy as np
import pytest

pytest.importorskip("sktime", reason="the Japanese vowels data ships with sktime")

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipe uses tf.data and exports a SavedModel",
    ),
]

MODELS = {"cfc", "ltc", "gru", "gru_gap"}


@pytest.fixture(scope="module")
def run_dir(smoke_run):
    return smoke_run("irregular", "--units", "4")


@pytest.fixture(scope="module")
def metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def data():
    from rnn_zoo.recipes import irregular

    return irregular.load_data(
        irregular.parse_args(["--output", "/tmp/unused", "--smoke"])
    )


def test_metrics_hold_every_model_and_the_baseline(metrics):
    assert set(metrics["models"]) == MODELS
    params = [r["params"] for r in metrics["models"].values()]
    # Matched parameter counts: within 25 % of CfC's at these tiny sizes.
    cfc = metrics["models"]["cfc"]["params"]
    assert all(abs(p - cfc) <= 0.25 * cfc for p in params), params
    for name, r in metrics["models"].items():
        assert r["epochs"] == 1, name
        assert 0.0 <= r["test_accuracy"] <= 1.0 and math.isfinite(r["test_loss"])
        assert 0.0 <= r["validation_accuracy"] <= 1.0
    assert metrics["models"]["cfc"]["time_input"] == "timespans"
    assert metrics["models"]["gru_gap"]["time_input"] == "feature"
    best = max(MODELS, key=lambda n: metrics["models"][n]["validation_accuracy"])
    assert (
        metrics["models"][metrics["best"]]["validation_accuracy"]
        == (metrics["models"][best]["validation_accuracy"])
    )
    assert (
        metrics["test_accuracy"] == metrics["models"][metrics["best"]]["test_accuracy"]
    )
    # The baseline on half the frames of real utterances is far above chance.
    assert metrics["baseline_test_accuracy"] > 0.5
    assert metrics["config"]["keep_probability"] == 0.5
    assert metrics["num_examples"] == {"train": 72, "validation": 18, "test": 90}


def test_about_half_the_frames_are_kept(run_dir, data):
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["info"]
    assert 0.4 <= info["test_frames_kept"] <= 0.6
    assert np.all(data["test"].lengths >= 1)


def test_saved_model_takes_timespans_and_agrees_with_the_keras_model(
    run_dir, metrics, data
):
    import tensorflow as tf

    from rnn_zoo.data import irregular as irregular_data
    from rnn_zoo.recipes import irregular

    served = tf.saved_model.load(str(run_dir / "export"))
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    test, vowels = data["test"], data["vowels"]
    frames, spans, lengths = test.frames[:9], test.timespans[:9], test.lengths[:9]
    out = served.classify(
        frames=tf.constant(frames),
        timespans=tf.constant(spans),
        lengths=tf.constant(lengths),
    )
    time_input = irregular.MODELS[metrics["best"]][1]
    inputs = irregular_data.prepare_inputs(
        frames, spans, lengths, vowels.mean, vowels.std, time_input=time_input
    )
    expected = model.predict(inputs, verbose=0)
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)
    labels = [label.decode() for label in out["label"].numpy()]
    assert labels == [str(i + 1) for i in expected.argmax(axis=-1)]


def test_cfc_saved_model_reads_the_timespans(tmp_path, data):
    # Whichever model wins, a CfC export answers as its Keras model and
    # changes its answer when only the timespans change.
    import tensorflow as tf

    from rnn_zoo.recipes import irregular

    args = irregular.parse_args(["--output", str(tmp_path), "--units", "4"])
    model = irregular.build_model("cfc", 4, args, data["info"])
    path = irregular.export(model, "timespans", data["info"], str(tmp_path / "x"))
    served = tf.saved_model.load(path)
    test = data["test"]
    frames, spans, lengths = test.frames[:3], test.timespans[:3], test.lengths[:3]
    got = served.classify(
        frames=tf.constant(frames), timespans=tf.constant(spans), lengths=lengths
    )["probabilities"].numpy()
    vowels = data["vowels"]
    x, t = irregular.irregular.prepare_inputs(
        frames, spans, lengths, vowels.mean, vowels.std, time_input="timespans"
    )
    np.testing.assert_allclose(got, model.predict([x, t], verbose=0), atol=1e-5)
    stretched = served.classify(
        frames=tf.constant(frames), timespans=tf.constant(spans * 5), lengths=lengths
    )["probabilities"].numpy()
    assert np.abs(stretched - got).max() > 1e-4
