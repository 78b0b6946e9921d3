"""A run's test accuracy in every edge format, against its Keras model.

    python -m benchmarks.edge_accuracy RUN_DIR [--output DIR]

Loads ``RUN_DIR/model.keras`` (a names-style classifier run: token ids in),
writes the LiteRT float, dynamic-range and int8 files (int8 calibrated on
256 training names) and the ONNX model into ``--output``, and scores each on
the run's test split, padded to the run's ``max_length`` on the right: test
accuracy, agreement with the Keras model's labels, the largest probability
difference, and the file size. Prints a Markdown table and writes
edge_accuracy.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os

import numpy as np


def _split(dataset, length: int):
    inputs, labels = [], []
    for x, y in dataset:
        x = np.asarray(x)
        inputs.append(np.pad(x, [(0, 0), (0, length - x.shape[1])]))
        labels.append(np.asarray(y))
    return np.concatenate(inputs), np.concatenate(labels)


def measure(run_dir: str, output: str, calibration_rows: int = 256) -> list[dict]:
    """One row per format: accuracy, agreement with Keras, max |dp|, bytes."""
    import onnxruntime

    from rnn_zoo.export import export_litert, export_onnx, litert_predict
    from rnn_zoo.training import run

    recipe, run_args, info = run.load_run(run_dir)
    module = importlib.import_module(f"rnn_zoo.recipes.{recipe}")
    model = run.load_model(run_dir)
    data = module.load_data(run_args)
    length = int(info["max_length"])
    test_x, test_y = _split(data.test, length)
    train_x, _ = _split(data.train.take(1 + calibration_rows // 16), length)
    keras_p = model.predict(test_x, verbose=0)
    os.makedirs(output, exist_ok=True)
    files = {}
    for quantize in (None, "dynamic", "int8"):
        path = os.path.join(output, f"model_{quantize or 'float'}.tflite")
        if os.path.exists(path):
            os.remove(path)
        export_litert(
            model,
            path,
            quantize=quantize,
            representative_data=train_x[:calibration_rows]
            if quantize == "int8"
            else None,
            batch_size=16,
            max_length=length,
        )
        files[f"litert {quantize or 'float'}"] = (path, litert_predict(path, test_x))
    path = os.path.join(output, "model.onnx")
    if os.path.exists(path):
        os.remove(path)
    export_onnx(model, path)
    session = onnxruntime.InferenceSession(path)
    files["onnx"] = (path, session.run(None, {"inputs": test_x.astype("int64")})[0])
    rows = [
        {
            "format": "keras",
            "test_accuracy": float(np.mean(keras_p.argmax(-1) == test_y)),
            "agreement": 1.0,
            "max_abs_diff": 0.0,
            "bytes": os.path.getsize(os.path.join(run_dir, run.MODEL_FILE)),
        }
    ]
    for name, (path, probabilities) in files.items():
        rows.append(
            {
                "format": name,
                "test_accuracy": float(np.mean(probabilities.argmax(-1) == test_y)),
                "agreement": float(
                    np.mean(probabilities.argmax(-1) == keras_p.argmax(-1))
                ),
                "max_abs_diff": float(np.abs(probabilities - keras_p).max()),
                "bytes": os.path.getsize(path),
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| format | test accuracy | agrees with Keras | max abs diff | file bytes |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['format']} | {row['test_accuracy']:.4f} | "
            f"{row['agreement']:.4f} | {row['max_abs_diff']:.2g} | {row['bytes']:,} |"
        )
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a names-style run directory")
    parser.add_argument("--output", default="edge_accuracy", help="where files go")
    args = parser.parse_args(argv)
    rows = measure(args.run_dir, args.output)
    with open(os.path.join(args.output, "edge_accuracy.json"), "w") as file:
        json.dump(rows, file, indent=2)
    print(markdown(rows))
    return rows


if __name__ == "__main__":
    main()
