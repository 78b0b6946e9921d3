"""rnn_zoo.export.export_onnx: native recurrent nodes, checked in ONNX Runtime."""

import keras
import numpy as np
import pytest

from rnn_zoo import build_classifier, build_tagger, cli
from rnn_zoo.export import export_onnx
from rnn_zoo.export.litert import ExportError

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")


def _ids(rows, length, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 20, size=(rows, length))
    for row in range(rows):
        ids[row, [length, 1, length - 2, 3][row % 4] :] = 0
    return ids


@pytest.mark.parametrize(
    "builder, cell, kwargs, node",
    [
        (build_classifier, "lstm", {}, "LSTM"),
        (build_classifier, "gru", {}, "GRU"),
        (build_classifier, "gru", {"reset_after": False}, "GRU"),
        (build_classifier, "simple", {}, "RNN"),
        (build_classifier, "lstm", {"bidirectional": True}, "LSTM"),
        (build_tagger, "gru", {"bidirectional": False}, "GRU"),
        (build_tagger, "lstm", {"bidirectional": True}, "LSTM"),
    ],
)
def test_onnx_runtime_equals_the_keras_model(builder, cell, kwargs, node, tmp_path):
    keras.utils.set_random_seed(2)
    model = builder(3, vocab_size=20, units=4, embedding_dim=5, cell=cell, **kwargs)
    path = export_onnx(model, tmp_path / "model.onnx")
    types = [n.op_type for n in onnx.load(path).graph.node]
    assert types.count(node) == 1 and "Loop" not in types, types
    session = onnxruntime.InferenceSession(path)
    # Dynamic batch and length axes: two shapes through one file.
    for ids in (_ids(4, 8), _ids(3, 5, seed=1)):
        (got,) = session.run(None, {"inputs": ids})
        np.testing.assert_allclose(got, model.predict(ids, verbose=0), atol=1e-5)


def test_a_layer_onnx_cannot_hold_is_named(tmp_path):
    model = build_classifier(3, vocab_size=20, units=4, cell="sru")
    target = tmp_path / "sru.onnx"
    with pytest.raises(ExportError, match=r"Layer 'sru.*' \(SRU\) .*no ONNX node"):
        export_onnx(model, target)
    assert not target.exists()
    with pytest.raises(ValueError, match="`opset` must be 14 or later"):
        export_onnx(model, target, opset=13)
    target.write_bytes(b"keep me")
    with pytest.raises(ValueError, match="which exists"):
        export_onnx(build_classifier(3, vocab_size=20, units=4), target)
    assert target.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["sru.onnx"]


def test_cli_exports_onnx(smoke_run, tmp_path, capsys):
    run_dir = smoke_run("names", "--units", "16")
    target = tmp_path / "names.onnx"
    assert (
        cli.main(["export", str(run_dir), "--format", "onnx", "--to", str(target)]) == 0
    )
    assert "LSTM" in [n.op_type for n in onnx.load(target).graph.node]
    assert str(target) in capsys.readouterr().out


def test_cli_names_a_layer_onnx_cannot_hold(smoke_run, tmp_path, capsys):
    run_dir = smoke_run("names", "--units", "4", "--cell", "sru")
    target = tmp_path / "names.onnx"
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["export", str(run_dir), "--format", "onnx", "--to", str(target)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "(SRU) cannot be exported to ONNX" in err and "Traceback" not in err, err
    assert not target.exists()
