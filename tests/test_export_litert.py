"""rnn_zoo.export.export_litert: the files run in LiteRT's own interpreter."""

import os

import keras
import numpy as np
import pytest

from rnn_zoo import build_classifier, build_tagger, cli
from rnn_zoo.export import export_litert, litert_ops, litert_predict
from rnn_zoo.export.litert import ExportError

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the LiteRT converter is TensorFlow's",
    ),
]
pytest.importorskip("ai_edge_litert")

LENGTH = 8


def _ids(rows=4, seed=0):
    """Right-padded token ids: a full row, an empty-tail row, one token, ..."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 20, size=(rows, LENGTH))
    for row, length in enumerate([LENGTH, 5, 1, 3, 7, 2, 6, 4][:rows]):
        ids[row, length:] = 0
    return ids


def _model(cell="lstm", builder=build_classifier, **kwargs):
    keras.utils.set_random_seed(1)
    return builder(
        3,
        vocab_size=20,
        units=4,
        embedding_dim=5,
        max_length=LENGTH,
        cell=cell,
        **kwargs,
    )


@pytest.mark.parametrize(
    "cell, kwargs, fused",
    [
        ("lstm", {}, "UNIDIRECTIONAL_SEQUENCE_LSTM"),
        ("simple", {}, "UNIDIRECTIONAL_SEQUENCE_RNN"),
        ("simple", {"activation": "relu"}, "UNIDIRECTIONAL_SEQUENCE_RNN"),
        ("lstm", {"bidirectional": True}, "UNIDIRECTIONAL_SEQUENCE_LSTM"),
        ("gru", {}, None),
        ("sru", {}, None),
    ],
)
def test_float_file_equals_the_keras_model(cell, kwargs, fused, tmp_path):
    model = _model(cell, **kwargs)
    path = export_litert(model, tmp_path / "model.tflite", batch_size=2)
    ops = litert_ops(path)
    assert not [op for op in ops if op.startswith("CUSTOM")], ops  # no Flex op
    if fused is None:  # GRU, SRU: the cell's step unrolled in built-ins, no loop
        assert "WHILE" not in ops and not any("SEQUENCE" in op for op in ops), ops
    else:
        assert ops.count(fused) == (2 if kwargs.get("bidirectional") else 1), ops
        assert "WHILE" not in ops, ops
    ids = _ids()
    np.testing.assert_allclose(
        litert_predict(path, ids), model.predict(ids, verbose=0), atol=1e-5
    )


@pytest.mark.parametrize("kwargs", [{"bidirectional": False}, {"bidirectional": True}])
def test_tagger_outputs_at_every_step_equal_the_keras_model(kwargs, tmp_path):
    # return_sequences: padded steps repeat the last output (unidirectional)
    # or are zeros (bidirectional), as rnn_zoo's masked layers give them.
    model = _model(builder=build_tagger, **kwargs)
    path = export_litert(model, tmp_path / "tagger.tflite", batch_size=4)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in litert_ops(path)
    ids = _ids()
    np.testing.assert_allclose(
        litert_predict(path, ids), model.predict(ids, verbose=0), atol=1e-5
    )


def test_the_states_persist_between_raw_invocations(tmp_path):
    # Why litert_predict resets the variables: the fused op keeps its final
    # states in variable tensors, and a raw second invoke starts from them.
    from ai_edge_litert.interpreter import Interpreter

    model = _model()
    path = export_litert(model, tmp_path / "model.tflite")
    interpreter = Interpreter(model_path=path)
    runner = interpreter.get_signature_runner()
    ids = _ids(1).astype("int32")
    first = runner(inputs=ids)["probabilities"]
    second = runner(inputs=ids)["probabilities"]
    interpreter.reset_all_variables()
    third = runner(inputs=ids)["probabilities"]
    assert np.abs(first - second).max() > 1e-6
    np.testing.assert_array_equal(first, third)
    np.testing.assert_allclose(litert_predict(path, ids), first, atol=1e-7)


def test_bad_arguments_name_what_was_expected(tmp_path):
    model = _model()
    target = tmp_path / "model.tflite"
    with pytest.raises(
        ValueError, match=r"`quantize` must be None, 'dynamic' or 'int8'.*'float16'"
    ):
        export_litert(model, target, quantize="float16")
    with pytest.raises(ValueError, match="representative_data=None"):
        export_litert(model, target, quantize="int8")
    with pytest.raises(ValueError, match="calibrates int8 only"):
        export_litert(model, target, representative_data=_ids())
    with pytest.raises(ValueError, match="not a writable directory"):
        export_litert(model, tmp_path / "missing" / "model.tflite")
    target.write_bytes(b"keep me")
    with pytest.raises(ValueError, match="which exists"):
        export_litert(model, target)
    assert target.read_bytes() == b"keep me"


def test_a_layer_litert_cannot_hold_is_named_and_nothing_is_written(tmp_path):
    stacked = _model(num_layers=2)
    target = tmp_path / "stacked.tflite"
    with pytest.raises(
        ExportError, match=r"Layer '.*' \(StackedRNN\) cannot be exported"
    ):
        export_litert(stacked, target)
    inputs = keras.Input((LENGTH,), dtype="int32")
    from rnn_zoo.layers import LSTM

    x = keras.layers.Embedding(20, 5)(inputs)
    x, h, c = LSTM(4, return_state=True, name="stateful_out")(x)
    with pytest.raises(ExportError, match="'stateful_out' .*return_state=True"):
        export_litert(keras.Model(inputs, x), target)
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def names_run(smoke_run):
    return smoke_run("names", "--units", "16")


def test_names_run_quantized_files_stay_close_to_keras(names_run, tmp_path):
    from benchmarks.edge_accuracy import measure

    rows = {row["format"]: row for row in measure(str(names_run), str(tmp_path))}
    keras_row = rows["keras"]
    assert rows["litert float"]["max_abs_diff"] < 1e-5
    assert rows["litert float"]["test_accuracy"] == keras_row["test_accuracy"]
    for name in ("litert dynamic", "litert int8"):
        # A one-epoch smoke model's probabilities are nearly uniform, so its
        # labels flip on tiny changes: the probabilities are compared here,
        # the accuracy of a full run is in docs/edge.md (within 1 point).
        assert rows[name]["max_abs_diff"] < 0.05, rows[name]
    assert rows["litert dynamic"]["bytes"] < rows["litert float"]["bytes"]
    assert rows["litert int8"]["bytes"] < rows["litert float"]["bytes"]
    assert rows["onnx"]["max_abs_diff"] < 1e-5


def test_cli_exports_litert_and_refuses_bad_requests(names_run, tmp_path, capsys):
    target = tmp_path / "names.tflite"
    argv = ["export", str(names_run), "--format", "litert", "--to", str(target)]
    assert cli.main([*argv, "--quantize", "int8"]) == 0
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in litert_ops(target)
    for bad, fragment in [
        (argv, "exists"),
        (
            [*argv[:-1], str(tmp_path / "x.tflite"), "--quantize", "half"],
            "invalid choice",
        ),
        (["export", str(names_run), "--format", "tflite"], "invalid choice: 'tflite'"),
        (
            ["export", str(names_run), "--format", "onnx", "--quantize", "int8"],
            "give --format litert",
        ),
    ]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            cli.main(bad)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert fragment in err and "Traceback" not in err, err
