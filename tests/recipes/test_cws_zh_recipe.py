"""The cws_zh recipe end to end through the rnn-zoo command, in smoke mode.

One smoke run (the first lines of each split of People's Daily, one epoch
of the softmax tagger and one of the CRF tagger) writes model.keras (the
better on validation), softmax/ and crf/ (each model), export/, metrics.json
and run.json; the tests then check what a user of each artifact relies on,
for both models.
"""

import importlib.util
import json

import keras
import numpy as np
import pytest

from rnn_zoo import cli
from rnn_zoo.data import peoples_daily
from rnn_zoo.metrics import bmes_words
from tests.recipes import _taggers

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipe uses tf.data and exports a SavedModel",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("snownlp") is None,
        reason='needs snownlp: pip install "rnn_zoo[zh]"',
    ),
]

TEXTS = ["迈向充满希望的新世纪", "中国人民", "国"]


@pytest.fixture(scope="module")
def run_dir(smoke_run):
    return smoke_run("cws_zh", "--units", "8")


@pytest.fixture(scope="module")
def served(run_dir):
    import tensorflow as tf

    return tf.saved_model.load(str(run_dir / "export"))


def test_metrics_hold_both_models_word_f1_and_the_baseline(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    for key in ("test_word_f1", "test_word_precision", "test_word_recall"):
        assert 0.0 <= metrics[key] <= 1.0, key
    _taggers.check_both_models(
        metrics,
        "f1",
        {
            "test_word_f1": "f1",
            "test_word_recall": "recall",
            "test_words": "true_words",
        },
    )
    baseline = metrics["baselines"]["max_match"]
    assert metrics["baseline_word_f1"] == baseline["f1"]
    # Maximum matching with a dictionary of 60 lines still finds many words.
    assert baseline["f1"] > 0.4
    assert metrics["test_words"] == baseline["true_words"] > 1000
    assert metrics["num_lines"] == {"train": 60, "validation": 60, "test": 60}
    assert metrics["epochs_run"] == 1
    for scores in metrics["models"].values():
        assert scores["test"]["true_words"] == baseline["true_words"]
    assert metrics["config"]["units"] == 8 and metrics["config"]["smoke"] is True
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["info"]["tags"] == ["padding", "B", "M", "E", "S"]
    assert run["info"]["vocab_size"] == len(run["info"]["vocabulary"]) + 2


def _check_export(model, export_dir):
    """The SavedModel's tags, words and scores are model.keras's (Viterbi for a CRF)."""
    import tensorflow as tf

    served = tf.saved_model.load(str(export_dir))
    out = served.tag(tf.constant(TEXTS))
    name = "potentials" if isinstance(model, _taggers.CRFModel) else "probabilities"
    ids = _taggers.encode(export_dir.parent, TEXTS)
    np.testing.assert_allclose(
        getattr(served, name)(tf.constant(TEXTS))[name].numpy(),
        np.asarray(model(ids, training=False)),
        atol=1e-5,
    )
    expected = _taggers.expected_tags(
        model, export_dir.parent, TEXTS, peoples_daily.CWS_TAGS
    )
    for text, names, tags, words in zip(
        TEXTS, expected, out["tags"].numpy(), out["words"].numpy()
    ):
        assert [t.decode() for t in tags[: len(text)]] == names
        assert all(t == b"" for t in tags[len(text) :])  # padding
        assert words.decode().split(" ") == bmes_words(text, names)


def test_saved_model_agrees_with_model_keras(run_dir):
    models = _taggers.check_saved_models(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    _check_export(models[metrics["model"]], run_dir / "export")


def test_the_other_model_exports_too(run_dir, tmp_path):
    # Whichever model won, the other (softmax or CRF) exports through
    # `rnn-zoo export` and serves the same way (`rnn-zoo predict` of a CRF
    # export: tests/test_export.py).
    other, other_dir = _taggers.other_run(run_dir, tmp_path)
    _check_export(_taggers.load(run_dir / other / "model.keras"), other_dir / "export")


def test_predict_segments_chinese_and_refuses_other_text(run_dir, capsys):
    assert cli.main(["predict", str(run_dir), "中国人民"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("中国人民") and "words: " in out
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["predict", str(run_dir), "中国", "hello", ""])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "`texts` must each hold at least one Chinese character" in err
    assert "Received texts without one: ['hello', '']" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
