"""rnn-zoo export --format streaming and rnn-zoo serve on it, through the real server.

The names smoke run (shared with tests/test_serving.py) is exported as a
streaming SavedModel by the CLI; a client over HTTP on 127.0.0.1 starts
streams, sends each name in chunks of characters with the states it got
back, and must end with the answer of the whole-name SavedModel in
``export/``. Bad states get HTTP 400 naming the input, the expected and the
received value; bad exports exit with status 2.
"""

import os
import shutil

import keras
import numpy as np
import pytest

from benchmarks import serve_load
from rnn_zoo import cli

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipes export SavedModels",
    ),
]

pytest.importorskip("kserve", reason='serving needs pip install "rnn_zoo[serve]"')

NAMES = ["Rossi", "Nowak", "Wojciechowska", "Li"]


@pytest.fixture(scope="module")
def names_run(smoke_run):
    return smoke_run("names", "--units", "16")


@pytest.fixture(scope="module")
def streaming_dir(names_run, tmp_path_factory):
    target = tmp_path_factory.mktemp("streaming") / "names_streaming"
    argv = ["export", str(names_run), "--format", "streaming", "--to", str(target)]
    assert cli.main(argv) == 0
    return target


@pytest.fixture(scope="module")
def server(streaming_dir, tmp_path_factory):
    logs = tmp_path_factory.mktemp("serve_logs")
    with serve_load.ServerProcess(
        str(streaming_dir), name="names", log_path=str(logs / "server.log")
    ) as process:
        yield process


def _predict(server, body):
    return serve_load.request(server.port, "POST", "/v1/models/names:predict", body)


def _ok(server, body):
    status, answer = _predict(server, body)
    assert status == 200, answer
    return answer


def _start(server, batch):
    body = {"signature_name": "initial_states", "inputs": {"batch_size": batch}}
    return _ok(server, body)["outputs"]


def test_a_client_streaming_chunks_gets_the_whole_name_answer(server, names_run):
    import tensorflow as tf

    whole = tf.saved_model.load(str(names_run / "export"))
    expected = whole.classify(tf.constant(NAMES))["probabilities"].numpy()
    # Row format, one stream per instance: each carries its own states.
    states = _start(server, len(NAMES))
    keys = sorted(states)
    rows = [{key: states[key][i] for key in keys} for i in range(len(NAMES))]
    longest = max(len(name) for name in NAMES)
    for start in range(0, longest, 3):
        instances = [
            {"chunks": name[start : start + 3], **row} for name, row in zip(NAMES, rows)
        ]
        answers = _ok(server, {"signature_name": "step", "instances": instances})
        rows = [{key: answer[key] for key in keys} for answer in answers["predictions"]]
    got = np.array([answer["probabilities"] for answer in answers["predictions"]])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    labels = whole.classify(tf.constant(NAMES))["label"].numpy()
    assert [a["label"] for a in answers["predictions"]] == [x.decode() for x in labels]
    # Columnar format, one character at a time (serving_default is step).
    states = _start(server, 1)
    for char in NAMES[0]:
        outputs = _ok(server, {"inputs": {"chunks": [char], **states}})["outputs"]
        states = {key: outputs[key] for key in keys}
    np.testing.assert_allclose(outputs["probabilities"][0], expected[0], atol=1e-5)


def _bad_states(states):
    state = states["state_0"][0]
    width = len(state)
    return [
        (
            {k: v for k, v in states.items() if k != "state_1"},
            "must be an object with exactly the inputs ['chunks', 'state_0', "
            "'state_1', 'state_2']",
        ),
        (
            {**states, "state_0": [state[:-1]]},
            f"input 'state_0' must have {width} entries, got {width - 1}",
        ),
        (
            {**states, "state_0": [["x"] * width]},
            "input 'state_0' at [0] must be a number, got the string 'x'",
        ),
        (
            {**states, "state_0": [state, state]},
            "the \"inputs\" differ in batch size: 'chunks' has 1, 'state_0' has 2",
        ),
        (
            {**states, "state_2": [[1e39] * width]},
            "input 'state_2' at [0] must be a finite float32 number, got the number 1e+39",
        ),
    ]


def test_bad_states_get_400_naming_the_input_and_the_server_keeps_serving(server):
    states = _start(server, 1)
    for inputs, fragment in _bad_states(states):
        status, answer = _predict(server, {"inputs": {"chunks": ["Ro"], **inputs}})
        assert status == 400, (fragment, answer)
        assert fragment in answer["error"], answer["error"]
    status, answer = _predict(
        server, {"signature_name": "initial_states", "instances": [2]}
    )
    assert status == 400 and "scalar input(s) ['batch_size']" in answer["error"]
    status, answer = _predict(
        server, {"signature_name": "initial_states", "inputs": {"batch_size": 0}}
    )
    assert status == 400 and "`batch_size` must be at least 1" in answer["error"]
    assert server.process.poll() is None
    _ok(server, {"inputs": {"chunks": ["Ro"], **states}})


def _export(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["export", *argv])
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_export_format_errors_exit_2_and_write_nothing(
    names_run, streaming_dir, tmp_path, capsys
):
    err = _export([str(names_run), "--format", "tflite"], capsys)
    assert "argument --format: invalid choice: 'tflite'" in err
    err = _export(
        [str(names_run), "--format", "streaming", "--to", str(streaming_dir)], capsys
    )
    assert f"--to {str(streaming_dir)!r} exists" in err
    (tmp_path / "file").write_text("x")
    err = _export(
        [str(names_run), "--format", "streaming", "--to", str(tmp_path / "file" / "x")],
        capsys,
    )
    assert "is not in a writable directory" in err
    # A run whose model cannot stream: a bidirectional one in a copy of the run.
    from rnn_zoo import build_classifier
    from rnn_zoo.training import run

    copy = tmp_path / "bidirectional_run"
    shutil.copytree(names_run, copy, ignore=shutil.ignore_patterns("export", "tuner"))
    model = run.load_model(str(names_run))
    vocab, classes = model.get_layer("embedding").input_dim, model.output_shape[-1]
    build_classifier(classes, vocab_size=vocab, units=4, bidirectional=True).save(
        copy / "model.keras"
    )
    err = _export(
        [str(copy), "--format", "streaming", "--to", str(tmp_path / "s")], capsys
    )
    assert "Layer 'bidirectional' (Bidirectional) cannot stream" in err
    assert sorted(os.listdir(tmp_path)) == ["bidirectional_run", "file"]
