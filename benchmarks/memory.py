"""Peak memory of one LSTM training step on long sequences: rnn_zoo vs Keras vs PyTorch.

    python -m benchmarks.memory                  # T = 500, 1000, 2000; batch 64, 128 in, 256 units
    python -m benchmarks.memory --lengths 8 16 --batch 2 --features 3 --units 4   # a smoke run

Each measurement is a fresh Python process that imports the same libraries
(keras with its backend, torch, rnn_zoo), builds a one-layer LSTM model (loss:
mean squared error of the last output) and runs one training step (forward,
backward, Adam update; for the Keras layers through ``train_on_batch``, so
tracing is included). Its peak resident set size (``VmHWM``) minus that of
an idle process that only imported the same libraries is the figure. The
input batch itself (batch x T x features float32) is part of every figure
alike and is listed separately. Fitting the figures against T shows whether
memory grows linearly in T. Results go to ``--output`` as memory.json and
memory.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import time

IMPLS = ("rnn_zoo", "keras", "torch")
_CHILD_FLAG = "--child"


# ---------------------------------------------------------------- the child


def _child(impl: str, steps: int, batch: int, features: int, units: int) -> dict:
    """Runs in the fresh process: one training step, then reports its peak RSS."""
    import keras
    import numpy as np
    import torch

    from rnn_zoo import layers as zoo_layers

    result = {"impl": impl, "steps": steps}
    if impl != "idle":
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, steps, features)).astype("float32")
        y = rng.standard_normal((batch, units)).astype("float32")
        start = time.perf_counter()
        if impl == "torch":
            module = torch.nn.LSTM(features, units, batch_first=True)
            optimizer = torch.optim.Adam(module.parameters())
            _, (h, _) = module(torch.from_numpy(x))
            torch.mean((h[-1] - torch.from_numpy(y)) ** 2).backward()
            optimizer.step()
        else:
            layer_class = zoo_layers.LSTM if impl == "rnn_zoo" else keras.layers.LSTM
            inputs = keras.Input(shape=(steps, features))
            model = keras.Model(inputs, layer_class(units)(inputs))
            model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
            model.train_on_batch(keras.ops.convert_to_tensor(x), y)
        result["step_s"] = time.perf_counter() - start
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB.

    VmHWM belongs to the process image, so it starts afresh at exec; Linux's
    ru_maxrss also keeps the peak of the forked parent before the exec, which
    is the parent's whole size when the parent is a test run holding TensorFlow.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _measure(impl: str, steps: int, args) -> dict:
    command = [
        sys.executable,
        "-m",
        "benchmarks.memory",
        _CHILD_FLAG,
        impl,
        str(steps),
        str(args.batch),
        str(args.features),
        str(args.units),
    ]
    process = subprocess.run(
        command, capture_output=True, text=True, cwd=_repo_root(), check=False
    )
    lines = process.stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        tail = (process.stderr or "").strip().splitlines()[-3:]
        return {
            "impl": impl,
            "steps": steps,
            "error": f"exit status {process.returncode}: " + " / ".join(tail),
        }
    return json.loads(lines[-1])


def _repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- the report


def linear_fit(points: list[tuple[int, float]]) -> dict | None:
    """Least-squares ``mb = intercept + slope * T`` and its worst relative miss."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    var_t = sum((t - mean_t) ** 2 for t, _ in points)
    if var_t == 0:
        return None
    slope = sum((t - mean_t) * (m - mean_m) for t, m in points) / var_t
    intercept = mean_m - slope * mean_t
    worst = max(abs(m - (intercept + slope * t)) / max(abs(m), 1e-9) for t, m in points)
    return {
        "mb_per_1000_steps": 1000 * slope,
        "intercept_mb": intercept,
        "max_relative_residual": worst,
    }


def markdown(result: dict) -> str:
    config = result["config"]
    rows = result["rows"]
    impls = config["impls"]
    lines = [
        "# Peak memory of one LSTM training step",
        "",
        f"{result['machine']}; Keras backend {result['keras_backend']}; "
        f"{result['started']}. Batch {config['batch']}, {config['features']} inputs, "
        f"{config['units']} units, float32; one step (forward, backward, Adam). "
        "Each figure: peak RSS of a fresh process that ran the step, minus the "
        f"{result['baseline_mb']:.0f} MB of an idle process that imported the "
        "same libraries.",
        "",
        "| T | input batch MB | "
        + " | ".join(f"{impl} MB" for impl in impls)
        + (" | rnn_zoo / keras |" if {"rnn_zoo", "keras"} <= set(impls) else " |"),
        "|---|---|" + "---|" * len(impls) + ("---|" if "keras" in impls else ""),
    ]
    for steps in config["lengths"]:
        by_impl = {r["impl"]: r for r in rows if r["steps"] == steps}
        cells = []
        for impl in impls:
            row = by_impl.get(impl, {})
            cells.append(f"{row['delta_mb']:.0f}" if "delta_mb" in row else "failed")
        line = f"| {steps} | {_input_mb(config, steps):.1f} | " + " | ".join(cells)
        if {"rnn_zoo", "keras"} <= set(impls):
            zoo, keras_row = by_impl.get("rnn_zoo", {}), by_impl.get("keras", {})
            ratio = (
                f"{zoo['delta_mb'] / keras_row['delta_mb']:.2f}"
                if "delta_mb" in zoo and keras_row.get("delta_mb", 0) > 0
                else "—"
            )
            line += f" | {ratio}"
        lines.append(line + " |")
    lines += [
        "",
        "Linear fit of MB against T (least squares over the lengths above):",
        "",
    ]
    for impl in impls:
        fit = result["fits"].get(impl)
        if fit:
            lines.append(
                f"- {impl}: {fit['mb_per_1000_steps']:.1f} MB per 1,000 steps, "
                f"intercept {fit['intercept_mb']:.1f} MB, worst relative miss "
                f"{100 * fit['max_relative_residual']:.1f} %"
            )
        else:
            lines.append(f"- {impl}: not enough lengths measured")
    failed = [r for r in rows if "error" in r]
    if failed:
        lines += ["", "Failed:", ""]
        lines += [f"- {r['impl']} T={r['steps']}: {r['error']}" for r in failed]
    return "\n".join(lines) + "\n"


def _input_mb(config: dict, steps: int) -> float:
    return config["batch"] * steps * config["features"] * 4 / 2**20


def main(argv: list[str] | None = None) -> dict:
    """Measures every (implementation, T); writes memory.json and memory.md."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.memory", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--lengths", nargs="+", type=int, default=[500, 1000, 2000], help="T values"
    )
    parser.add_argument("--impls", nargs="+", choices=IMPLS, default=list(IMPLS))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--output", default="benchmarks/results")
    args = parser.parse_args(argv)
    for name in ("batch", "features", "units"):
        if getattr(args, name) < 1:
            parser.error(
                f"`--{name}` must be a positive integer. Received: {getattr(args, name)}"
            )
    if any(steps < 1 for steps in args.lengths):
        parser.error(f"`--lengths` must all be positive. Received: {args.lengths}")
    args.lengths = sorted(set(args.lengths))
    args.impls = list(dict.fromkeys(args.impls))

    started = datetime.datetime.now().isoformat(timespec="seconds")
    baseline = _measure("idle", 0, args)
    if "error" in baseline:
        raise RuntimeError(f"The idle baseline process failed: {baseline['error']}")
    rows = []
    for steps in args.lengths:
        for impl in args.impls:
            row = _measure(impl, steps, args)
            if "peak_rss_mb" in row:
                row["delta_mb"] = row["peak_rss_mb"] - baseline["peak_rss_mb"]
            rows.append(row)
            shown = f"{row['delta_mb']:8.1f} MB" if "delta_mb" in row else row["error"]
            print(f"{impl:>8} T={steps:<6} {shown}", flush=True)
    import keras

    from benchmarks.rnn_benchmark import machine_info

    machine = machine_info()
    result = {
        "config": {k: v for k, v in vars(args).items() if k != "output"},
        "started": started,
        "machine": f"{machine['cpu']}, {machine['cores']} cores",
        "versions": machine["versions"],
        "keras_backend": keras.backend.backend(),
        "baseline_mb": baseline["peak_rss_mb"],
        "rows": rows,
        "fits": {
            impl: linear_fit(
                [
                    (r["steps"], r["delta_mb"])
                    for r in rows
                    if r["impl"] == impl and "delta_mb" in r
                ]
            )
            for impl in args.impls
        },
    }
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "memory.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(args.output, "memory.md"), "w") as f:
        f.write(markdown(result))
    print(f"wrote {args.output}/memory.json, memory.md")
    return result


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == _CHILD_FLAG:
        impl, *sizes = sys.argv[2:]
        print(json.dumps(_child(impl, *map(int, sizes))))
    else:
        main()
