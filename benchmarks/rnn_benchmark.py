"""Speed of rnn_zoo's recurrent layers against keras.layers.* and torch.nn.* in one run.

    python -m benchmarks.rnn_benchmark            # B=64, T=100, 128 inputs, 256 units
    python -m benchmarks.rnn_benchmark --quick    # a short smoke run

Each case is one training step (forward, backward, Adam update) or one
inference pass of a one-layer model, timed after warm-up; the figure is the
median of several repeats, and every rnn_zoo figure is also given as a ratio
against Keras and PyTorch measured in the same run. Results go to
``--output`` as JSON and a Markdown table. Keras runs on the backend that
``KERAS_BACKEND`` selects (TensorFlow by default); PyTorch is called directly.
Nothing here asserts anything about time: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import keras
import numpy as np

from rnn_zoo import layers as zoo_layers

CELLS = {
    "lstm": (zoo_layers.LSTM, keras.layers.LSTM, "LSTM"),
    "gru": (zoo_layers.GRU, keras.layers.GRU, "GRU"),
    "simple": (zoo_layers.SimpleRNN, keras.layers.SimpleRNN, "RNN"),
}


def _median_ms(fn, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _keras_case(layer, x, y, mode):
    inputs = keras.Input(shape=x.shape[1:])
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer="adam", loss="mse")
    if mode == "train":
        return lambda: model.train_on_batch(x, y)
    return lambda: model.predict_on_batch(x)


def _torch_case(cell, x, y, mode, units):
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    module = getattr(torch.nn, CELLS[cell][2])(x.shape[-1], units, batch_first=True)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    optimizer = torch.optim.Adam(module.parameters())

    def train():
        optimizer.zero_grad()
        out, _ = module(xt)
        loss = torch.mean((out[:, -1] - yt) ** 2)
        loss.backward()
        optimizer.step()

    def infer():
        with torch.no_grad():
            module(xt)

    return train if mode == "train" else infer


def run(args) -> list[dict]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, args.steps, args.features)).astype("float32")
    y = rng.standard_normal((args.batch, args.units)).astype("float32")
    rows = []
    for cell in args.cells:
        zoo_class, keras_class, _ = CELLS[cell]
        for mode in ("train", "inference"):
            extra = {"use_cudnn": False} if cell != "simple" else {}
            timings = {
                "rnn_zoo": _keras_case(zoo_class(args.units), x, y, mode),
                "keras": _keras_case(keras_class(args.units, **extra), x, y, mode),
                "torch": _torch_case(
                    cell, x, y, "train" if mode == "train" else "infer", args.units
                ),
            }
            row = {"cell": cell, "mode": mode}
            for impl, fn in timings.items():
                row[impl] = _median_ms(fn, args.warmup, args.repeats)
            row["vs_keras"] = row["keras"] / row["rnn_zoo"]
            row["vs_torch"] = row["torch"] / row["rnn_zoo"]
            print(
                f"{cell:>6} {mode:>9}: rnn_zoo {row['rnn_zoo']:8.1f} ms  keras "
                f"{row['keras']:8.1f} ms  torch {row['torch']:8.1f} ms  "
                f"(speed-up vs keras {row['vs_keras']:.2f}x, vs torch {row['vs_torch']:.2f}x)",
                flush=True,
            )
            rows.append(row)
    return rows


def _markdown(rows, args) -> str:
    lines = [
        f"One layer, batch {args.batch}, {args.steps} steps, {args.features} inputs, "
        f"{args.units} units, float32; median of {args.repeats} after {args.warmup} "
        f"warm-up; Keras backend {keras.backend.backend()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores.",
        "",
        "| cell | mode | rnn_zoo ms | keras ms | torch ms | keras / rnn_zoo | torch / rnn_zoo |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['cell']} | {r['mode']} | {r['rnn_zoo']:.1f} | {r['keras']:.1f} | "
            f"{r['torch']:.1f} | {r['vs_keras']:.2f} | {r['vs_torch']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="short sequences, few repeats"
    )
    parser.add_argument(
        "--cells", nargs="+", choices=sorted(CELLS), default=["lstm", "gru", "simple"]
    )
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", default="benchmarks/results")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.features, args.units = 10, 16, 32
        args.warmup, args.repeats = 1, 3
    rows = run(args)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "rnn_benchmark.json"), "w") as f:
        json.dump({"config": vars(args), "rows": rows}, f, indent=1)
    with open(os.path.join(args.output, "rnn_benchmark.md"), "w") as f:
        f.write(_markdown(rows, args))
    return rows


if __name__ == "__main__":
    main()
