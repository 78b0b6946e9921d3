"""The truecase recipe end to end through the rnn-zoo command, in smoke mode.

One smoke run (the start of each split of the real text, one epoch) writes
model.keras, export/, metrics.json and run.json; the tests then check what a
user of each artifact relies on.
"""

import json

import keras
import numpy as np
import pytest

from rnn_zoo import cli
from rnn_zoo.data import austen

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipe uses tf.data and exports a SavedModel",
    ),
]

TEXTS = [
    "it is a truth universally acknowledged.",
    "mr. darcy and elizabeth walked to pemberley. i was not there!",
    "z",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    output = tmp_path_factory.mktemp("truecase_smoke")
    argv = ["train", "truecase", "--output", str(output), "--smoke", "--units", "8"]
    assert cli.main(argv) == 0
    return output


@pytest.fixture(scope="module")
def run(run_dir):
    return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def model(run_dir):
    return keras.saving.load_model(run_dir / "model.keras", safe_mode=True)


@pytest.fixture(scope="module")
def served(run_dir):
    import tensorflow as tf

    return tf.saved_model.load(str(run_dir / "export"))


def _truecase(served, texts):
    import tensorflow as tf

    out = served.truecase(tf.constant(texts))
    return [t.decode("utf-8") for t in out["truecased"].numpy()], out[
        "probabilities"
    ].numpy()


def test_metrics_hold_the_f1_and_the_baselines(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    for key in (
        "test_upper_f1",
        "test_upper_precision",
        "test_upper_recall",
        "test_char_accuracy",
        "baseline_upper_f1",
    ):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert set(metrics["baselines"]) == {"rule", "unigram", "rule_and_unigram"}
    for scores in metrics["baselines"].values():
        assert 0.0 <= scores["upper_f1"] <= 1.0
        # Even the rule finds most capitals of the real text.
        assert scores["accuracy"] > 0.95
    from rnn_zoo.recipes import truecase

    assert metrics["upper_threshold"] in truecase.UPPER_THRESHOLDS
    assert 0.0 <= metrics["validation_upper_f1"] <= 1.0
    assert metrics["baseline_upper_f1"] == max(
        s["upper_f1"] for s in metrics["baselines"].values()
    )
    # The smoke test slice: the paragraphs of about SMOKE_CHARS characters of
    # chapter 56, without their line breaks.
    assert 5000 < metrics["test_characters"] <= 6000
    assert metrics["epochs_run"] == 1
    assert metrics["train_seconds"] <= metrics["total_seconds"]
    assert metrics["config"]["units"] == 8 and metrics["config"]["smoke"] is True
    assert metrics["config"]["bidirectional"] is True


def test_run_json_records_the_vocabulary(run):
    info = run["info"]
    assert run["recipe"] == "truecase"
    assert info["tags"] == ["padding", "lower", "upper"]
    assert info["vocab_size"] == len(info["vocabulary"]) + austen.FIRST_CHAR_ID
    # Lower-cased input: no capitals in the vocabulary.
    assert not any(c.isupper() for c in info["vocabulary"])
    assert info["chapters"]["test"] == list(range(56, 62))


def test_model_keras_loads_in_safe_mode(model, run):
    assert model.output_shape == (None, None, 3)
    assert any(type(layer).__module__.startswith("rnn_zoo") for layer in model.layers)


def test_saved_model_agrees_with_model_keras(served, model, run):
    vocabulary = run["info"]["vocabulary"]
    ids = [austen.encode(austen.lowercase(t), vocabulary) for t in TEXTS]
    padded = np.zeros((len(ids), max(map(len, ids))), "int32")
    for row, x in zip(padded, ids):
        row[: len(x)] = x
    expected = model.predict(padded, verbose=0)
    truecased, probabilities = _truecase(served, TEXTS)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    # The re-casing in the graph is the Python one, at the threshold chosen on
    # validation.
    from rnn_zoo.recipes.truecase import predict_tags

    tags = predict_tags(model, padded, run["info"]["upper_threshold"])
    for text, row, answer in zip(TEXTS, tags, truecased):
        assert answer == austen.recase(text, row[: len(text)])


def test_saved_model_lowercases_its_input_and_keeps_the_characters(served):
    shouted, _ = _truecase(served, [t.upper() for t in TEXTS])
    quiet, _ = _truecase(served, TEXTS)
    assert shouted == quiet
    for text, answer in zip(TEXTS, quiet):
        assert answer.lower() == text


def test_a_text_alone_or_in_a_padded_batch_gets_the_same_answer(served):
    alone, alone_probabilities = _truecase(served, [TEXTS[0]])
    batch, batch_probabilities = _truecase(served, [TEXTS[1], TEXTS[0], "ok"])
    assert batch[1] == alone[0]
    n = len(TEXTS[0])
    np.testing.assert_allclose(
        batch_probabilities[1, :n], alone_probabilities[0, :n], atol=1e-5
    )


def test_empty_and_odd_strings_do_not_crash(served):
    import tensorflow as tf

    out = served.truecase(tf.constant(["", "caf\u00e9 \u2603", b"a\xffb"]))
    truecased = [t.decode("utf-8") for t in out["truecased"].numpy()]
    assert truecased[0] == ""
    assert truecased[1].lower() == "caf\u00e9 \u2603"
    assert truecased[2].lower() == "a\ufffdb"
    empty = served.truecase(tf.constant([], tf.string))
    assert empty["truecased"].shape == (0,)


def test_signatures_for_a_model_server(served):
    import tensorflow as tf

    for name in ("serving_default", "truecase"):
        out = served.signatures[name](texts=tf.constant(TEXTS))
        assert [t.decode() for t in out["truecased"].numpy()] == _truecase(
            served, TEXTS
        )[0]


def test_evaluate_command_reproduces_the_test_metrics(run_dir, capsys):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    capsys.readouterr()
    assert cli.main(["evaluate", str(run_dir)]) == 0
    out = capsys.readouterr().out
    for key in ("test_upper_f1", "baseline_upper_f1", "test_char_accuracy"):
        assert f"{key}: {metrics[key]:.4f}" in out


def test_bad_flags_are_usage_errors(tmp_path, capsys):
    for argv, fragment in (
        (["--units", "0"], "--units"),
        (["--learning-rate", "0"], "--learning-rate"),
        (["--cell", "transformer"], "--cell"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["train", "truecase", "--output", str(tmp_path), *argv])
        assert exit_info.value.code == 2
        assert fragment in capsys.readouterr().err
