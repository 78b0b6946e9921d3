"""The names recipe end to end through the rnn-zoo command, in smoke mode.

One smoke run (real data, a slice, one epoch) writes model.keras, export/ and
metrics.json; the tests then check what a user of each artifact relies on.
"""

import json
import re

import keras
import numpy as np
import pytest

from rnn_zoo import build_classifier, cli
from rnn_zoo.data import names as names_data

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipe uses tf.data and exports a SavedModel",
    ),
]

# A mix of real surnames, an unknown character, a name longer than max_length
# and a one-letter name.
NAMES = [
    "Rossi",
    "Schmidt",
    "Nowak",
    "Ó Briain",
    "Жуков",
    "Mac Giolla Phádraig-Ó Súilleabháin",
    "Li",
]


@pytest.fixture(scope="module")
def run_dir(smoke_run):
    # The same smoke run as tests/test_cli.py's and tests/test_serving.py's:
    # trained once per session (tests/conftest.py).
    return smoke_run("names", "--units", "16")


@pytest.fixture(scope="module")
def served(run_dir):
    import tensorflow as tf

    return tf.saved_model.load(str(run_dir / "export"))


@pytest.fixture(scope="module")
def preprocessing(run_dir):
    return json.loads((run_dir / "vocabulary.json").read_text(encoding="utf-8"))


def _classify(served, names):
    import tensorflow as tf

    out = served.classify(tf.constant(names))
    return {key: value.numpy() for key, value in out.items()}


def test_smoke_run_writes_its_artifacts(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["epochs_run"] == 1
    assert metrics["config"]["units"] == 16 and metrics["config"]["smoke"] is True
    assert metrics["config"]["implementation"] == "rnn_zoo"
    assert metrics["num_names"]["test"] == 14 * 4
    assert (run_dir / "export" / "saved_model.pb").is_file()


def test_model_keras_loads_in_safe_mode(run_dir, preprocessing):
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    assert model.output_shape == (None, len(preprocessing["languages"]))
    assert any(type(layer).__module__.startswith("rnn_zoo") for layer in model.layers)


def test_saved_model_answers_raw_strings(served, preprocessing):
    import tensorflow as tf

    languages = preprocessing["languages"]
    out = _classify(served, NAMES)
    assert out["probabilities"].shape == (len(NAMES), len(languages))
    np.testing.assert_allclose(out["probabilities"].sum(axis=-1), 1.0, atol=1e-5)
    assert list(out["index"]) == list(out["probabilities"].argmax(axis=-1))
    assert [label.decode() for label in out["label"]] == [
        languages[i] for i in out["index"]
    ]
    assert [x.decode() for x in served.labels()["labels"].numpy()] == languages
    # The server-facing signatures give the same answers.
    for signature in ("serving_default", "classify"):
        outputs = served.signatures[signature](names=tf.constant(NAMES))
        np.testing.assert_allclose(
            outputs["probabilities"].numpy(), out["probabilities"], atol=1e-6
        )


def test_saved_model_agrees_with_model_keras(run_dir, served, preprocessing):
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    ids = names_data.encode(
        NAMES, preprocessing["vocabulary"], preprocessing["max_length"]
    )
    padded = np.zeros((len(ids), max(map(len, ids))), "int32")
    for row, name_ids in zip(padded, ids):
        row[: len(name_ids)] = name_ids
    expected = model.predict(padded, verbose=0)
    np.testing.assert_allclose(
        _classify(served, NAMES)["probabilities"], expected, atol=1e-5
    )


def test_padding_does_not_change_the_answer(served):
    alone = _classify(served, ["Li"])["probabilities"][0]
    in_batch = _classify(served, ["Mac Giolla Phádraig", "Li", "Vuorinen"])[
        "probabilities"
    ][1]
    np.testing.assert_allclose(in_batch, alone, atol=1e-5)


def test_empty_and_odd_strings_do_not_crash(run_dir, served):
    import tensorflow as tf

    out = served.classify(tf.constant(["", "   ", b"Ro\xffssi", "Rossi"]))
    probabilities = out["probabilities"].numpy()
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)
    # An empty name is an all-padding sequence: the softmax of the output bias.
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    bias = model.get_layer("probabilities").bias.numpy()
    prior = np.exp(bias - bias.max()) / np.exp(bias - bias.max()).sum()
    np.testing.assert_allclose(probabilities[0], prior, atol=1e-5)
    np.testing.assert_allclose(probabilities[1], prior, atol=1e-5)
    assert served.classify(tf.constant([], tf.string))["probabilities"].shape[0] == 0


def test_predict_prints_the_top_three_languages(run_dir, served, preprocessing, capsys):
    capsys.readouterr()
    assert cli.main(["predict", str(run_dir), "Rossi", "Nowak"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    probabilities = _classify(served, ["Rossi", "Nowak"])["probabilities"]
    languages = preprocessing["languages"]
    for line, name, row in zip(lines, ["Rossi", "Nowak"], probabilities):
        assert line.startswith(name + " ")
        answers = re.findall(r"(\w+) (\d+\.\d)%", line)
        expected = [(languages[i], f"{100 * row[i]:.1f}") for i in np.argsort(-row)[:3]]
        assert answers == expected


def test_predict_accepts_the_export_directory_too(run_dir, capsys):
    capsys.readouterr()
    cli.main(["predict", str(run_dir / "export"), "Virtanen", "--top", "1"])
    assert re.fullmatch(r"Virtanen  \w+ \d+\.\d%\n", capsys.readouterr().out)


def test_keras_baseline_runs_the_same_script(tmp_path):
    output = tmp_path / "baseline"
    argv = [
        "train",
        "names",
        "--output",
        str(output),
        "--smoke",
        "--units",
        "8",
        "--baseline",
        "keras",
    ]
    assert cli.main(argv) == 0
    metrics = json.loads((output / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["config"]["implementation"] == "keras"
    model = keras.saving.load_model(output / "model.keras", safe_mode=True)
    assert any(isinstance(layer, keras.layers.LSTM) for layer in model.layers)


@pytest.mark.parametrize(
    "cell, num_layers, bidirectional",
    [("lstm", 1, False), ("gru", 2, True), ("simple", 2, False)],
)
def test_keras_baseline_is_the_same_architecture(cell, num_layers, bidirectional):
    from rnn_zoo.baselines import build_keras_classifier

    kwargs = dict(
        vocab_size=12,
        cell=cell,
        units=6,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=0.1,
        embedding_dim=4,
    )
    ours = build_classifier(5, **kwargs)
    theirs = build_keras_classifier(5, **kwargs)
    # Same weights in the same layout give the same probabilities, padding included.
    theirs.set_weights(ours.get_weights())
    ids = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10]], "int32")
    np.testing.assert_allclose(
        theirs.predict(ids, verbose=0), ours.predict(ids, verbose=0), atol=1e-5
    )


def _expect_usage_error(argv, capsys, *fragments):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    for fragment in fragments:
        assert fragment in err


def test_unknown_recipe_lists_the_known_ones(capsys):
    _expect_usage_error(
        ["train", "poems", "--output", "x"], capsys, "unknown recipe 'poems'", "names"
    )


def test_unwritable_output_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    _expect_usage_error(
        ["train", "names", "--output", str(blocker / "out"), "--smoke"],
        capsys,
        "--output",
        "not a writable directory",
    )


def test_missing_output_and_bad_flags_are_errors(capsys):
    _expect_usage_error(["train", "names", "--smoke"], capsys, "--output")
    _expect_usage_error(
        ["train", "names", "--output", "x", "--cell", "transformer"], capsys, "--cell"
    )
    _expect_usage_error(
        ["train", "names", "--output", "x", "--units", "0"], capsys, "--units"
    )


def test_predict_without_a_saved_model_is_a_clear_error(tmp_path, capsys):
    _expect_usage_error(["predict", str(tmp_path), "Rossi"], capsys, "no SavedModel")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--help"], "predict"),
        (["train", "--help"], "names"),
        (["train", "names", "--help"], "--baseline"),
        (["predict", "--help"], "--top"),
    ],
)
def test_help(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 0
    assert fragment in capsys.readouterr().out
