"""Batch-1 latency of a names-sized classifier in every edge format.

    python -m benchmarks.edge                  # names size: vocab 60, embeddings 64, LSTM 128, T 24
    python -m benchmarks.edge --units 8 --repeats 20 --output /tmp/edge_bench   # a smoke run

One whole name (24 right-padded ids, batch 1) through: the Keras model
(``model(ids)`` in a ``tf.function``), rnn_zoo's LiteRT float, dynamic-range
and int8 files (LiteRT's interpreter, variables reset before each call, as
:func:`rnn_zoo.export.litert_predict` does), rnn_zoo's ONNX model (ONNX
Runtime), and ``keras.layers.LSTM``'s model of the same size converted the way
Keras 3 does it (``TFLiteConverter.from_keras_model``, Flex ops allowed; the
op kinds of its file are listed). Medians over ``--repeats`` calls after 5
warm-up calls, the file sizes. Writes edge.json and edge.md to ``--output``.
The random weights do not change the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np


def _median_ms(call, repeats: int) -> float:
    for _ in range(5):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _litert_call(path, ids):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    runner = interpreter.get_signature_runner()
    (name,) = runner.get_input_details()

    def call():
        interpreter.reset_all_variables()
        return runner(**{name: ids})

    return call


def _keras_lstm_file(args, path):
    """keras.layers.LSTM's model converted as Keras 3 does it; its op kinds."""
    import keras
    import tensorflow as tf

    from rnn_zoo.export import litert_ops

    inputs = keras.Input((args.length,), batch_size=1, dtype="int32")
    x = keras.layers.Embedding(args.vocab, args.embedding_dim, mask_zero=True)(inputs)
    x = keras.layers.LSTM(args.units)(x)
    model = keras.Model(inputs, keras.layers.Dense(14, activation="softmax")(x))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS,
        tf.lite.OpsSet.SELECT_TF_OPS,
    ]
    with open(path, "wb") as file:
        file.write(converter.convert())
    return sorted(set(litert_ops(path)))


def run(args) -> list[dict]:
    import keras
    import onnxruntime
    import tensorflow as tf

    from rnn_zoo import build_classifier
    from rnn_zoo.export import export_litert, export_onnx

    os.makedirs(args.output, exist_ok=True)
    keras.utils.set_random_seed(0)
    model = build_classifier(
        14,
        vocab_size=args.vocab,
        embedding_dim=args.embedding_dim,
        units=args.units,
        max_length=args.length,
    )
    ids = np.zeros((1, args.length), np.int32)
    ids[0, :7] = np.arange(2, 9)  # a 7-character name
    rows = []
    serve = tf.function(lambda x: model(x, training=False))
    rows.append(
        {
            "format": "Keras (tf.function)",
            "ms": _median_ms(lambda: serve(ids), args.repeats),
            "bytes": None,
        }
    )
    calibration = np.random.default_rng(0).integers(2, args.vocab, (64, args.length))
    for quantize in (None, "dynamic", "int8"):
        path = os.path.join(args.output, f"rnn_zoo_{quantize or 'float'}.tflite")
        if os.path.exists(path):
            os.remove(path)
        export_litert(
            model,
            path,
            quantize=quantize,
            representative_data=calibration if quantize == "int8" else None,
        )
        rows.append(
            {
                "format": f"LiteRT {quantize or 'float'} (rnn_zoo)",
                "ms": _median_ms(_litert_call(path, ids), args.repeats),
                "bytes": os.path.getsize(path),
            }
        )
    path = os.path.join(args.output, "rnn_zoo.onnx")
    if os.path.exists(path):
        os.remove(path)
    export_onnx(model, path)
    session = onnxruntime.InferenceSession(path)
    feed = {"inputs": ids.astype("int64")}
    rows.append(
        {
            "format": "ONNX Runtime (rnn_zoo)",
            "ms": _median_ms(lambda: session.run(None, feed), args.repeats),
            "bytes": os.path.getsize(path),
        }
    )
    path = os.path.join(args.output, "keras_lstm.tflite")
    ops = _keras_lstm_file(args, path)
    rows.append(
        {
            "format": "LiteRT, keras.layers.LSTM converted by Keras",
            "ms": _median_ms(_litert_call(path, ids), args.repeats),
            "bytes": os.path.getsize(path),
            "ops": ops,
        }
    )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| format | batch-1 median (ms) | file bytes |", "|---|---|---|"]
    for row in rows:
        size = "" if row["bytes"] is None else f"{row['bytes']:,}"
        lines.append(f"| {row['format']} | {row['ms']:.3f} | {size} |")
    ops = [row for row in rows if "ops" in row]
    for row in ops:
        lines.append(f"\n{row['format']}: ops {', '.join(row['ops'])}")
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=60)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--length", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--output", default="edge_benchmark")
    args = parser.parse_args(argv)
    rows = run(args)
    with open(os.path.join(args.output, "edge.json"), "w") as file:
        json.dump(rows, file, indent=2)
    table = markdown(rows)
    with open(os.path.join(args.output, "edge.md"), "w") as file:
        file.write(table + "\n")
    print(table)
    return rows


if __name__ == "__main__":
    main()
