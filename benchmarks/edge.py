"""Edge latency, throughput, file size and memory of a names-sized and a g2p-sized model in every format.

    python -m benchmarks.edge                # both models, 200 repeats, throughput at batch 64
    python -m benchmarks.edge --quick --output /tmp/edge_bench   # tiny sizes: a smoke run

Two models built by :func:`rnn_zoo.build_classifier` (random weights: they do
not change the timings): ``names`` (vocab 60, embeddings 64, LSTM 128, 24 ids,
14 classes: the names recipe) and ``g2p`` (vocab 30, embeddings 64, LSTM 256,
32 ids, 40 classes). ``g2p`` has the width of the g2p recipe's encoder (a
bidirectional LSTM of 128 per direction reads a word into 256 features), as
one causal layer, so that it streams: the recipe's seq2seq itself (a
bidirectional encoder and an attention decoder) is refused by the streaming
export (it looks ahead) and is not a one-input model for the file exports.

Each model goes through: Keras (``model(ids)`` in a ``tf.function``), a
SavedModel (Keras's ``model.export``, ids in), a streaming SavedModel
(:func:`rnn_zoo.export.export_streaming`), rnn_zoo's LiteRT float, dynamic and
int8 files (LiteRT's interpreter, variables reset before each call), rnn_zoo's
ONNX file (ONNX Runtime), and ``keras.layers.LSTM``'s model of the same size
converted the way Keras 3 does it (``TFLiteConverter.from_keras_model``,
Flex ops allowed; the op kinds of its file are listed). Columns:

- one stream step: batch 1, one id, the states carried from the step before
  (only the streaming SavedModel has a step; the other formats read the
  whole prefix again, which is the next column);
- whole sequence: batch 1, a 7-character name right-padded to the length;
- throughput: sequences per second at ``--batch`` (LiteRT files have a fixed
  batch: a second file is written at that batch);
- file bytes (a SavedModel's directory summed);
- peak memory: a fresh process per format that imports only its runtime,
  loads the file and runs 5 batch-1 calls; its peak resident set size
  (``VmHWM``, :func:`benchmarks.memory.peak_rss_mb`) minus that of a process
  that only imported the same runtime, and that idle figure.

Medians over ``--repeats`` calls after 5 warm-up calls (``--repeats`` // 4,
at least 3, at ``--batch``). Writes results.json, results.md and results.png
to ``--output``, with the machine and its load average before and after.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

from benchmarks.memory import _repo_root, peak_rss_mb

_CHILD_FLAG = "--child"
MODELS = {
    "names": {
        "vocab": 60,
        "embedding_dim": 64,
        "units": 128,
        "length": 24,
        "classes": 14,
    },
    "g2p": {
        "vocab": 30,
        "embedding_dim": 64,
        "units": 256,
        "length": 32,
        "classes": 40,
    },
}
QUICK = {"vocab": 12, "embedding_dim": 4, "units": 8, "length": 8, "classes": 3}
# The runtime a format's file is served by: what its memory child imports.
RUNTIMES = {
    "keras": "keras",
    "savedmodel": "tensorflow",
    "streaming": "tensorflow",
    "litert_float": "litert",
    "litert_dynamic": "litert",
    "litert_int8": "litert",
    "onnx": "onnxruntime",
    "keras_lstm_litert": "litert",
}
LABELS = {
    "keras": "Keras (`model(ids)` in a `tf.function`)",
    "savedmodel": "SavedModel (`model.export`)",
    "streaming": "streaming SavedModel (rnn_zoo)",
    "litert_float": "LiteRT float (rnn_zoo, fused LSTM)",
    "litert_dynamic": "LiteRT dynamic (rnn_zoo)",
    "litert_int8": "LiteRT int8 (rnn_zoo)",
    "onnx": "ONNX Runtime (rnn_zoo, `LSTM` node)",
    "keras_lstm_litert": "LiteRT, `keras.layers.LSTM` converted by Keras",
}


def _median_ms(call, repeats: int) -> float:
    for _ in range(5):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _ids(batch: int, length: int) -> np.ndarray:
    ids = np.zeros((batch, length), np.int32)
    ids[:, : min(7, length)] = np.arange(2, 2 + min(7, length))  # a 7-character name
    return ids


# ------------------------------------------------------- loading each format


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


def _savedmodel_call(path, ids):
    import tensorflow as tf

    loaded = tf.saved_model.load(path)  # kept: its variables live as long as it
    ids = tf.constant(ids)
    return lambda: loaded.serve(ids)


def _streaming_calls(path, ids):
    """(whole chunk from the initial states, one step with the states carried)."""
    import tensorflow as tf

    served = tf.saved_model.load(path)
    batch = ids.shape[0]
    initial = served.initial_states(batch_size=tf.constant(batch))
    chunk = tf.constant(ids)
    one = tf.constant(ids[:, :1])
    carried = dict(initial)

    def whole():
        return served.step(token_ids=chunk, **initial)

    def step():
        out = served.step(token_ids=one, **carried)
        carried.update({k: v for k, v in out.items() if k.startswith("state_")})
        return out

    return whole, step


def _onnx_call(path, ids):
    import onnxruntime

    session = onnxruntime.InferenceSession(path)
    feed = {session.get_inputs()[0].name: ids.astype("int64")}
    return lambda: session.run(None, feed)


def _keras_call(path, ids):
    import keras
    import tensorflow as tf

    import rnn_zoo.layers.embedding  # noqa: F401  (registers the layers)

    model = keras.saving.load_model(path)
    serve = tf.function(lambda x: model(x, training=False))
    return lambda: serve(ids)


def _call(fmt: str, path: str, ids):
    if fmt == "keras":
        return _keras_call(path, ids)
    if fmt == "savedmodel":
        return _savedmodel_call(path, ids)
    if fmt == "streaming":
        return _streaming_calls(path, ids)[0]
    if fmt == "onnx":
        return _onnx_call(path, ids)
    return _litert_call(path, ids)


# ---------------------------------------------------------------- the child


def _child(runtime: str, fmt: str | None, path: str | None, length: int) -> dict:
    """Runs in a fresh process: imports the runtime, loads and calls the file."""
    modules = {
        "keras": ("tensorflow", "keras", "rnn_zoo"),
        "tensorflow": ("tensorflow",),
        "litert": ("ai_edge_litert.interpreter",),
        "onnxruntime": ("onnxruntime",),
    }[runtime]
    for module in modules:
        __import__(module)
    if fmt is not None:
        call = _call(fmt, path, _ids(1, length))
        for _ in range(5):
            call()
    return {"runtime": runtime, "format": fmt, "peak_rss_mb": peak_rss_mb()}


def _measure_memory(runtime: str, fmt=None, path=None, length=1) -> dict:
    command = [sys.executable, "-m", "benchmarks.edge", _CHILD_FLAG, runtime]
    command += [fmt or "-", path or "-", str(length)]
    process = subprocess.run(
        command, capture_output=True, text=True, cwd=_repo_root(), check=False
    )
    lines = process.stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        tail = (process.stderr or "").strip().splitlines()[-3:]
        return {"error": f"exit status {process.returncode}: " + " / ".join(tail)}
    return json.loads(lines[-1])


# ------------------------------------------------------------- the exports


def _size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(path)
        for name in names
    )


def _keras_lstm_file(size: dict, batch: int, path: str) -> list[str]:
    """keras.layers.LSTM's model converted as Keras 3 does it; its op kinds."""
    import keras
    import tensorflow as tf

    from rnn_zoo.export import litert_ops

    inputs = keras.Input((size["length"],), batch_size=batch, dtype="int32")
    x = keras.layers.Embedding(size["vocab"], size["embedding_dim"], mask_zero=True)(
        inputs
    )
    x = keras.layers.LSTM(size["units"])(x)
    outputs = keras.layers.Dense(size["classes"], activation="softmax")(x)
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, outputs))
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS,
        tf.lite.OpsSet.SELECT_TF_OPS,
    ]
    with open(path, "wb") as file:
        file.write(converter.convert())
    return sorted(set(litert_ops(path)))


def _export_all(size: dict, batch: int, folder: str) -> tuple[dict, dict, dict]:
    """Writes every format: {format: batch-1 path}, {format: batch path}, notes."""
    import keras

    from rnn_zoo import build_classifier
    from rnn_zoo.export import export_litert, export_onnx, export_streaming

    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    keras.utils.set_random_seed(0)
    model = build_classifier(
        size["classes"],
        vocab_size=size["vocab"],
        embedding_dim=size["embedding_dim"],
        units=size["units"],
        max_length=size["length"],
    )
    paths = {"keras": os.path.join(folder, "model.keras")}
    model.save(paths["keras"])
    paths["savedmodel"] = os.path.join(folder, "savedmodel")
    model.export(paths["savedmodel"], format="tf_saved_model", verbose=False)
    paths["streaming"] = export_streaming(model, os.path.join(folder, "streaming"))
    calibration = np.random.default_rng(0).integers(
        2, size["vocab"], (64, size["length"])
    )
    batched = dict(paths)
    for quantize in ("float", "dynamic", "int8"):
        for b, where in ((1, paths), (batch, batched)):
            path = os.path.join(folder, f"rnn_zoo_{quantize}_b{b}.tflite")
            export_litert(
                model,
                path,
                quantize=None if quantize == "float" else quantize,
                representative_data=calibration if quantize == "int8" else None,
                batch_size=b,
            )
            where[f"litert_{quantize}"] = path
    paths["onnx"] = batched["onnx"] = export_onnx(
        model, os.path.join(folder, "rnn_zoo.onnx")
    )
    notes = {}
    for b, where in ((1, paths), (batch, batched)):
        path = os.path.join(folder, f"keras_lstm_b{b}.tflite")
        try:
            ops = _keras_lstm_file(size, b, path)
        except Exception as error:  # noqa: BLE001  (a conversion failure is a result)
            notes[f"keras_lstm_litert batch {b}"] = f"does not convert: {error}"
            continue
        where["keras_lstm_litert"] = path
        notes[f"keras_lstm_litert batch {b} ops"] = ", ".join(ops)
    return paths, batched, notes


# ----------------------------------------------------------------- the run


def _timed(function, *args):
    try:
        return function(*args)
    except Exception as error:  # noqa: BLE001  (recorded in the table)
        return f"error: {type(error).__name__}: {str(error).splitlines()[0][:160]}"


def _call_ms(fmt: str, path: str, ids, repeats: int) -> float:
    return _median_ms(_call(fmt, path, ids), repeats)


def run_model(name: str, size: dict, args) -> dict:
    folder = os.path.join(args.output, name)
    paths, batched, notes = _export_all(size, args.batch, folder)
    one, many = _ids(1, size["length"]), _ids(args.batch, size["length"])
    throughput_repeats = max(3, args.repeats // 4)
    idle = {
        runtime: _measure_memory(runtime) for runtime in sorted(set(RUNTIMES.values()))
    }
    rows = []
    for fmt in LABELS:
        if fmt not in paths:
            continue
        row = {"format": fmt, "label": LABELS[fmt], "bytes": _size(paths[fmt])}
        if fmt == "keras":
            row["bytes"] = None  # the .keras file is not what is served
        if fmt == "streaming":
            whole, step = _streaming_calls(paths[fmt], one)
            row["step_ms"] = _timed(_median_ms, step, args.repeats)
            row["whole_ms"] = _timed(_median_ms, whole, args.repeats)
        else:
            row["whole_ms"] = _timed(_call_ms, fmt, paths[fmt], one, args.repeats)
        if fmt in batched:
            ms = _timed(_call_ms, fmt, batched[fmt], many, throughput_repeats)
            row["per_s"] = ms if isinstance(ms, str) else 1000 * args.batch / ms
        runtime = RUNTIMES[fmt]
        memory = _measure_memory(runtime, fmt, paths[fmt], size["length"])
        row["runtime"] = runtime
        row["idle_rss_mb"] = idle[runtime].get("peak_rss_mb")
        if "peak_rss_mb" in memory and row["idle_rss_mb"] is not None:
            row["peak_rss_mb"] = memory["peak_rss_mb"]
            row["rss_growth_mb"] = memory["peak_rss_mb"] - row["idle_rss_mb"]
        else:
            error = memory.get("error") or idle[runtime].get("error")
            row["memory_error"] = f"error: {error[-160:]}"
        rows.append(row)
        print(f"{name}: {row}", flush=True)
    return {"model": name, "size": size, "rows": rows, "notes": notes}


def markdown(result: dict) -> str:
    def cell(value, spec):
        if value is None:
            return "—"
        return value if isinstance(value, str) else format(value, spec)

    lines = [
        f"# Edge formats ({result['date']})",
        "",
        f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; "
        f"load average before {result['load_before']}, after {result['load_after']}. "
        f"Medians of {result['repeats']} calls (batch 1), "
        f"throughput at batch {result['batch']}.",
    ]
    for model in result["models"]:
        size = model["size"]
        lines += [
            "",
            f"## {model['model']}: vocab {size['vocab']}, embeddings "
            f"{size['embedding_dim']}, LSTM {size['units']}, {size['length']} ids",
            "",
            "| format | one stream step (ms) | whole sequence, batch 1 (ms) | "
            f"sequences/s at batch {result['batch']} | file bytes | "
            "peak RSS growth (MiB) | runtime idle RSS (MiB) |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in model["rows"]:
            growth = row.get("rss_growth_mb", row.get("memory_error"))
            lines.append(
                f"| {row['label']} | {cell(row.get('step_ms'), '.3f')} | "
                f"{cell(row['whole_ms'], '.3f')} | {cell(row.get('per_s'), ',.0f')} | "
                f"{cell(row['bytes'], ',')} | {cell(growth, '.1f')} | "
                f"{cell(row.get('idle_rss_mb'), '.0f')} ({row['runtime']}) |"
            )
        lines += ["", *(f"- {key}: {value}" for key, value in model["notes"].items())]
    return "\n".join(lines) + "\n"


def plot(result: dict, path: str) -> bool:
    """Whole-sequence batch-1 ms per format, one panel per model."""
    from benchmarks.rnn_benchmark import pyplot

    plt = pyplot()
    if plt is None:
        return False
    models = result["models"]
    fig, axes = plt.subplots(
        1, len(models), figsize=(6 * len(models), 4), squeeze=False
    )
    for ax, model in zip(axes[0], models):
        rows = [r for r in model["rows"] if not isinstance(r["whole_ms"], str)]
        ax.barh([r["format"] for r in rows], [r["whole_ms"] for r in rows])
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.invert_yaxis()
        ax.set_xlabel("whole sequence, batch 1 (ms, median)")
        ax.set_title(f"{model['model']} (LSTM {model['size']['units']})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", choices=sorted(MODELS), default=list(MODELS)
    )
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, 5 repeats, batch 4"
    )
    parser.add_argument("--output", default="edge_benchmark")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.batch < 1:
        parser.error(
            "`--repeats` and `--batch` must be positive integers. "
            f"Received: --repeats {args.repeats}, --batch {args.batch}"
        )
    if args.quick:
        args.repeats, args.batch = 5, 4
    from benchmarks import rnn_benchmark

    load_before = [round(x, 2) for x in os.getloadavg()]
    result = {
        "date": datetime.date.today().isoformat(),
        "repeats": args.repeats,
        "batch": args.batch,
        "quick": args.quick,
        "load_before": load_before,
        "models": [
            run_model(name, QUICK if args.quick else MODELS[name], args)
            for name in args.models
        ],
    }
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"] = rnn_benchmark.machine_info()
    rnn_benchmark.write_results(result, args.output, markdown, plot)
    print(markdown(result))
    return result


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == _CHILD_FLAG:
        runtime, fmt, path, length = sys.argv[2:6]
        fmt, path = (None, None) if fmt == "-" else (fmt, path)
        print(json.dumps(_child(runtime, fmt, path, int(length))))
    else:
        main()
