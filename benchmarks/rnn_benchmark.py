"""Speed of rnn_zoo's recurrent layers against keras.layers.* and torch.nn.* in one run.

    python -m benchmarks.rnn_benchmark            # the whole matrix (long: tens of minutes)
    python -m benchmarks.rnn_benchmark --quick    # tiny sizes, 1 repeat: a smoke run
    python -m benchmarks.rnn_benchmark --cells lstm --masks none --dtypes float32 --lengths 100
    # the issue's speed targets: the modern cells against GRU/LSTM and their own loops
    python -m benchmarks.rnn_benchmark --cells gru lstm mingru sru qrnn indrnn \
        --impls rnn_zoo torch rnn_zoo-generic --modes train --dtypes float32 \
        --masks none --lengths 1000

The matrix is cell (lstm, gru, simple, and rnn_zoo's modern cells sru,
qrnn, indrnn, layernorm_lstm, mingru, minlstm, rglru, which only rnn_zoo
has) x implementation (rnn_zoo, keras, torch) x mode (train: forward, backward and an Adam update; inference: one
forward pass) x dtype (float32, mixed) x mask (none; right-padded with
lengths drawn uniformly from [T/2, T]) x sequence length T, for a one-layer
model, batch 64, 128 inputs, 256 units, whose loss is the mean squared error
of the last (real) output. Every case is timed after warm-up; its figure is the
median of several repeats. rnn_zoo's figures are also given as speed-ups
against Keras and PyTorch measured in the same run, and every case against a
FLOP floor: the time the case's matrix products would take at the large float32
matrix-product rate measured at the start and end of the run.

Only the public layer API is used (``rnn_zoo.layers.LSTM`` ...), so the figures
are for whatever kernel the layers choose; ``rnn_zoo.explain``'s report is
recorded per case. Keras runs on the backend that
``KERAS_BACKEND`` selects (TensorFlow by default) through ``train_on_batch`` /
``predict_on_batch``; PyTorch is called directly, on a CUDA GPU where it
sees one (each case then waits for the GPU), else on the CPU. Results go to
``--output``: results.json, results.md and results.png. Nothing here asserts
anything about time: run it on a quiet machine and say when it was not.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import keras
import numpy as np

import rnn_zoo
from rnn_zoo import layers as zoo_layers

CELLS = {
    # name: (rnn_zoo class, keras class, torch.nn class name (None: rnn_zoo
    # only), input-product columns per unit, recurrent-product columns per unit)
    "lstm": (zoo_layers.LSTM, keras.layers.LSTM, "LSTM", 4, 4),
    "gru": (zoo_layers.GRU, keras.layers.GRU, "GRU", 3, 3),
    "simple": (zoo_layers.SimpleRNN, keras.layers.SimpleRNN, "RNN", 1, 1),
    # The modern cells: Keras and PyTorch have no such layer; their rows are
    # compared with the classic cells' (see the "Modern cells" table).
    # SRU: 4 matrices where inputs != units; QRNN: window 2, fo-pooling (3
    # gates over 2 inputs); RG-LRU: the input map, then a (units, 2 units) gate.
    "sru": (zoo_layers.SRU, None, None, 4, 0),
    "qrnn": (zoo_layers.QRNN, None, None, 6, 0),
    "indrnn": (zoo_layers.IndRNN, None, None, 1, 0),
    "layernorm_lstm": (zoo_layers.LayerNormLSTM, None, None, 4, 4),
    "mingru": (zoo_layers.MinGRU, None, None, 2, 0),
    "minlstm": (zoo_layers.MinLSTM, None, None, 3, 0),
    "rglru": (zoo_layers.RGLRU, None, None, 1, 2),
}
CLASSIC = ("lstm", "gru", "simple")
# What each modern cell is measured against (the speed targets).
BASELINES = {
    "mingru": "gru",
    "minlstm": "lstm",
    "sru": "lstm",
    "qrnn": "lstm",
    "indrnn": "lstm",
    "layernorm_lstm": "lstm",
    "rglru": "gru",
}
IMPLS = ("rnn_zoo", "keras", "torch")
# Opt-in (--impls): rnn_zoo's layers with implementation="reference", the generic
# keras.ops loop, to show what the fast kernel (cuDNN on a GPU) is worth.
GENERIC = "rnn_zoo-generic"
MODES = ("train", "inference")
DTYPES = ("float32", "mixed")
MASKS = ("none", "right")

MIXED_MEANS = (
    "Keras (rnn_zoo and keras.layers): the recurrent layer under the "
    "`mixed_bfloat16` dtype policy (float32 variables, bfloat16 computation and "
    "output; the loss is computed in float32, no loss scaling). PyTorch: the "
    "forward pass inside `torch.autocast(device, dtype=torch.bfloat16)` on its "
    "device, CPU or CUDA (float32 "
    "parameters; only the ops on autocast's bfloat16 list run in bfloat16; "
    "the table below says what each torch.nn module returned), loss and "
    "backward in float32. Where autocast fails (oneDNN's LSTM on CPUs without "
    "AVX512-BF16), the module and inputs are cast to bfloat16 instead, and "
    "the table says so."
)
MASK_MEANS = (
    "`right`: each sequence's length is drawn uniformly from [T/2, T] and the "
    "steps after it are padding (zeros). Keras layers get a boolean mask "
    "input (True at real steps); torch.nn gets a `pack_padded_sequence` "
    "(enforce_sorted=False). The loss uses the output at each sequence's last "
    "real step."
)
FLOPS_MEANS = (
    "FLOPs count the matrix products only, on real (unpadded) steps: forward = "
    "2 x steps x units x (input columns x inputs + recurrent columns x units), "
    "the columns per unit being the gates (the modern cells have no recurrent "
    "product, except the LayerNorm-LSTM; the RG-LRU's gates read its input map); "
    "a training step counts 3x the "
    "forward (the forward, the gradients with respect to inputs and states, and "
    "the weight gradients). `x floor` = measured time / (FLOPs / matmul rate), "
    "where the rate is the best float32 large matrix product measured in the "
    "same run (numpy, TensorFlow, torch)."
)

_FULL = {
    "batch": 64,
    "features": 128,
    "units": 256,
    "lengths": [100, 1000],
    "warmup": 2,
    "repeats": 5,
    "matmul_size": 2048,
}
_QUICK = {
    "batch": 8,
    "features": 16,
    "units": 32,
    "lengths": [10],
    "warmup": 1,
    "repeats": 1,
    "matmul_size": 512,
    # The modern cells only when asked for (--cells): each is another model
    # to trace and compile.
    "cells": list(CLASSIC),
    # Tracing each Keras training function takes seconds here, so --quick
    # covers the dtypes only when asked to (--dtypes float32 mixed).
    "dtypes": ["float32"],
}


# ---------------------------------------------------------------- measuring


def _first_call_ms(fn: Callable[[], object]) -> float:
    """The first call: tracing, and for a compiled kernel its XLA compilation,
    which a user pays once per new input shape (a run, a request length)."""
    start = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - start)


def _median_ms(fn: Callable[[], object], warmup: int, repeats: int) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return times


def _matmul_rates(size: int, repeats: int = 5) -> dict[str, float]:
    """GFLOP/s of a float32 ``size x size`` matrix product, per library."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype("float32")
    b = rng.standard_normal((size, size)).astype("float32")
    products: dict[str, Callable[[], object]] = {"numpy": lambda: a @ b}
    with contextlib.suppress(ImportError):
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        products["torch"] = lambda: torch.mm(ta, tb)
        if torch.cuda.is_available():
            # Full float32 (no TF32), as the recurrent cases run by default
            # only where a library allows TF32 itself.
            ca, cb = ta.cuda(), tb.cuda()

            def cuda_mm():
                torch.mm(ca, cb)
                torch.cuda.synchronize()

            products["torch-cuda"] = cuda_mm
    with contextlib.suppress(ImportError):
        import tensorflow as tf

        fa, fb = tf.constant(a), tf.constant(b)
        # .numpy() waits for the result; the copy back is small next to the product.
        products["tensorflow"] = lambda: tf.linalg.matmul(fa, fb).numpy()
    rates = {}
    for name, fn in products.items():
        ms = statistics.median(_median_ms(fn, 1, repeats))
        rates[name] = 2 * size**3 / (ms / 1000) / 1e9
    return rates


def case_flops(cell: str, mode: str, real_steps: int, features: int, units: int) -> int:
    """Matrix-product FLOPs of one case (see FLOPS_MEANS)."""
    inputs, recurrent = CELLS[cell][3:5]
    forward = 2 * real_steps * units * (inputs * features + recurrent * units)
    return 3 * forward if mode == "train" else forward


# ---------------------------------------------------------------- the cases


def _explain(layer, mask=None) -> list[dict]:
    """``rnn_zoo.explain(layer, mask)``: the kernel the layer runs in each mode, and why."""
    return [dict(row) for row in rnn_zoo.explain(layer, mask=mask)]


def _kernel_label(explained: list[dict] | None, mode: str) -> str:
    """The kernel rnn_zoo ran for ``mode``, for the Markdown table."""
    if not explained:
        return ""
    return explained[0]["training" if mode == "train" else "inference"]


def _keras_cases(layer, x, y, mask) -> dict[str, Callable[[], object]]:
    steps, features = x.shape[1:]
    sequences = keras.Input(shape=(steps, features), name="sequences")
    if mask is None:
        model = keras.Model(sequences, layer(sequences))
        inputs = keras.ops.convert_to_tensor(x)
    else:
        mask_input = keras.Input(shape=(steps,), dtype="bool", name="mask")
        model = keras.Model([sequences, mask_input], layer(sequences, mask=mask_input))
        inputs = [keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(mask)]
    model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
    targets = keras.ops.convert_to_tensor(y)
    return {
        "train": lambda: model.train_on_batch(inputs, targets),
        "inference": lambda: model.predict_on_batch(inputs),
    }


def torch_device() -> str:
    """Where torch.nn runs: ``"cuda"`` where PyTorch sees a GPU, else ``"cpu"``."""
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def _torch_cases(cell, x, y, lengths, dtype, units):
    """Train and inference closures for torch.nn, and how "mixed" ran there."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence

    device = torch_device()
    torch.manual_seed(0)
    module = getattr(torch.nn, CELLS[cell][2])(x.shape[-1], units, batch_first=True)
    module.to(device)
    optimizer = torch.optim.Adam(module.parameters())
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    lengths_t = None if lengths is None else torch.from_numpy(lengths)
    use_autocast = dtype == "mixed"

    def forward():
        inputs = xt
        if lengths_t is not None:
            inputs = pack_padded_sequence(
                xt, lengths_t, batch_first=True, enforce_sorted=False
            )
        context = (
            torch.autocast(device, dtype=torch.bfloat16)
            if use_autocast
            else contextlib.nullcontext()
        )
        with context:
            _, final = module(inputs)
        final = final[0] if isinstance(final, tuple) else final
        return final[-1]  # (batch, units): the state after each real last step

    def wait():
        # CUDA runs asynchronously: a case ends when the GPU is done.
        if device == "cuda":
            torch.cuda.synchronize()

    def train():
        optimizer.zero_grad()
        loss = torch.mean((forward().float() - yt) ** 2)
        loss.backward()
        optimizer.step()
        wait()

    def infer():
        with torch.inference_mode():
            forward()
        wait()

    how = {}
    if dtype == "mixed":
        how["torch_mixed"] = "autocast"
        try:
            with torch.inference_mode():
                forward()
        except RuntimeError as error:
            # oneDNN has no bfloat16 LSTM under autocast on CPUs without
            # AVX512-BF16; a bfloat16 module is the nearest torch offers there.
            use_autocast = False
            module.to(torch.bfloat16)
            xt = xt.to(torch.bfloat16)
            optimizer = torch.optim.Adam(module.parameters())
            how["torch_mixed"] = (
                "bfloat16 module and inputs (autocast failed: "
                f"{str(error).splitlines()[0][:120]})"
            )
    with torch.inference_mode():
        how["torch_output_dtype"] = str(forward().dtype).replace("torch.", "")
    return {"train": train, "inference": infer}, how


def _make_layer(impl: str, cell: str, dtype: str, units: int):
    layer_dtype = "mixed_bfloat16" if dtype == "mixed" else "float32"
    if impl == GENERIC:
        return CELLS[cell][0](units, dtype=layer_dtype, implementation="reference")
    layer_class = CELLS[cell][0] if impl == "rnn_zoo" else CELLS[cell][1]
    return layer_class(units, dtype=layer_dtype)


def _data(args, steps: int, masked: bool, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((args.batch, steps, args.features)).astype("float32")
    y = rng.standard_normal((args.batch, args.units)).astype("float32")
    if not masked:
        return x, y, None, None
    lengths = rng.integers(max(1, steps // 2), steps + 1, size=args.batch)
    mask = np.arange(steps)[None, :] < lengths[:, None]
    x[~mask] = 0.0
    return x, y, mask, lengths.astype("int64")


def run(args) -> list[dict]:
    """Times every selected case; returns one dict per (implementation, case)."""
    cases = []
    for cell in args.cells:
        for dtype in args.dtypes:
            for mask_kind in args.masks:
                for steps in args.lengths:
                    cases += _run_config(args, cell, dtype, mask_kind, steps)
    compare_modern(cases)
    return cases


def compare_modern(cases: list[dict]) -> list[dict]:
    """Adds to each modern cell's rnn_zoo case its speed-ups against its
    baseline (:data:`BASELINES`) in the same run: ``vs_base_rnn_zoo`` (rnn_zoo's
    layer) and ``vs_base_torch`` (torch.nn's), with ``base`` the baseline's name.
    Returns the cases that got them."""
    by_key = {
        (c["cell"], c["impl"], c["mode"], c["dtype"], c["mask"], c["steps"]): c
        for c in cases
    }
    compared = []
    for case in cases:
        base = BASELINES.get(case["cell"])
        if base is None or case["impl"] != "rnn_zoo" or not case.get("ms"):
            continue
        case["base"] = base
        for impl in ("rnn_zoo", "torch"):
            other = by_key.get(
                (base, impl, case["mode"], case["dtype"], case["mask"], case["steps"])
            )
            if other and other.get("ms"):
                case[f"vs_base_{impl}"] = other["ms"] / case["ms"]
        compared.append(case)
        print(
            f"{case['cell']:>14} {case['mode']:>9} {case['dtype']:>7} "
            f"mask={case['mask']:<5} T={case['steps']:<5} "
            + "  ".join(
                f"{base} {impl} / {case['cell']} {case[f'vs_base_{impl}']:.2f}"
                for impl in ("rnn_zoo", "torch")
                if f"vs_base_{impl}" in case
            ),
            flush=True,
        )
    return compared


def _run_config(args, cell, dtype, mask_kind, steps) -> list[dict]:
    masked = mask_kind == "right"
    x, y, mask, lengths = _data(args, steps, masked, seed=steps)
    real_steps = int(lengths.sum()) if masked else args.batch * steps
    found = {}
    impls = [i for i in args.impls if _available(cell, i)]
    for impl in impls:
        base = {
            "cell": cell,
            "dtype": dtype,
            "mask": mask_kind,
            "steps": steps,
            "impl": impl,
        }
        extra: dict = {}
        try:
            if impl == "torch":
                fns, how = _torch_cases(cell, x, y, lengths, dtype, args.units)
                extra.update(how)
            else:
                layer = _make_layer(impl, cell, dtype, args.units)
                fns = _keras_cases(layer, x, y, mask)
                if impl in ("rnn_zoo", GENERIC):
                    extra["kernel"] = _explain(layer, mask)
        except Exception as error:
            fns, setup_error = {}, f"{type(error).__name__}: {error}"
        for mode in args.modes:
            case = dict(base, mode=mode, **extra)
            case["flops"] = case_flops(
                cell, mode, real_steps, args.features, args.units
            )
            try:
                if not fns:
                    raise RuntimeError(setup_error)
                case["first_call_ms"] = _first_call_ms(fns[mode])
                case["times_ms"] = _median_ms(
                    fns[mode], max(args.warmup - 1, 0), args.repeats
                )
                case["ms"] = statistics.median(case["times_ms"])
            except Exception as error:  # one failing case must not stop the matrix
                case["ms"] = None
                case["error"] = str(error)
            found[(impl, mode)] = case
    for mode in args.modes:
        zoo = found.get(("rnn_zoo", mode))
        for other in ("keras", "torch", GENERIC):
            theirs = found.get((other, mode))
            if zoo and theirs and zoo["ms"] and theirs["ms"]:
                zoo[f"vs_{other}"] = theirs["ms"] / zoo["ms"]
        _print_cases([found[(impl, mode)] for impl in impls])
    return [found[(impl, mode)] for mode in args.modes for impl in impls]


def _available(cell: str, impl: str) -> bool:
    """Whether ``impl`` has the cell: Keras and PyTorch only the classic ones."""
    if impl == "keras":
        return CELLS[cell][1] is not None
    if impl == "torch":
        return CELLS[cell][2] is not None
    return True


def _floor_ms(flops: int, rate_gflops: float) -> float:
    return 1000 * flops / (rate_gflops * 1e9)


def _print_cases(cases):
    first = cases[0]
    parts = []
    for case in cases:
        text = f"{case['ms']:8.1f} ms" if case["ms"] else "  failed"
        parts.append(f"{case['impl']} {text}")
    zoo = next((c for c in cases if c["impl"] == "rnn_zoo"), {})
    ratios = "  ".join(
        f"{other}/rnn_zoo {zoo[f'vs_{other}']:.2f}"
        for other in ("keras", "torch", GENERIC)
        if f"vs_{other}" in zoo
    )
    print(
        f"{first['cell']:>6} {first['mode']:>9} {first['dtype']:>7} "
        f"mask={first['mask']:<5} T={first['steps']:<5} " + "  ".join(parts),
        ratios,
        flush=True,
    )
    for case in cases:
        if "error" in case:
            print(f"    {case['impl']} failed: {case['error']}", flush=True)


# ---------------------------------------------------------------- reporting


def _keras_device() -> str:
    from rnn_zoo.kernels.select import current_device

    return current_device()


def _gpu_name() -> str | None:
    with contextlib.suppress(ImportError):
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    return None


def run_window(started: str, load_before: list) -> dict:
    """When a run started and ended (now), and the load average at both ends."""
    return {
        "started": started,
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def machine_info() -> dict:
    """CPU model, cores, load and library versions, for the record."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    versions = {"python": platform.python_version(), "keras": keras.__version__}
    versions["numpy"] = np.__version__
    versions["rnn_zoo"] = rnn_zoo.__version__
    for name in ("tensorflow", "torch", "jax"):
        with contextlib.suppress(ImportError):
            versions[name] = __import__(name).__version__
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "keras_backend": keras.backend.backend(),
        "keras_device": _keras_device(),
        "torch_device": torch_device(),
        "gpu": _gpu_name(),
        "versions": versions,
    }


def _fmt(value, spec=".1f", missing="—") -> str:
    return missing if value is None else format(value, spec)


def _grouped(cases):
    """{(cell, mode, dtype, mask, steps): {impl: case}} in run order."""
    groups: dict = {}
    for case in cases:
        key = (case["cell"], case["mode"], case["dtype"], case["mask"], case["steps"])
        groups.setdefault(key, {})[case["impl"]] = case
    return groups


def _headline_steps(cases) -> int | None:
    steps = sorted({c["steps"] for c in cases})
    if not steps:
        return None
    return 100 if 100 in steps else steps[0]


def markdown(result: dict) -> str:
    config, machine = result["config"], result["machine"]
    cases = result["cases"]
    groups = _grouped(cases)
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    lines = [
        "# rnn_zoo recurrent layers vs keras.layers vs torch.nn",
        "",
        f"{machine['cpu']}, {machine['cores']} cores"
        + (f", {machine['gpu']}" if machine.get("gpu") else "")
        + f"; Keras backend {machine['keras_backend']} on "
        f"{machine.get('keras_device', 'CPU')}, torch on {machine['torch_device']}; "
        f"{versions}.",
        f"Run {result['started']} to {result['finished']}; load average "
        f"{result['load_before']} before, {result['load_after']} after.",
        f"One layer, batch {config['batch']}, {config['features']} inputs, "
        f"{config['units']} units; median of {config['repeats']} after "
        f"{config['warmup']} warm-up; {config['threads']} compute threads for "
        "TensorFlow and torch. Float32 matrix-product rate "
        f"{result['matmul_gflops']:.1f} GFLOP/s ({config['matmul_size']}^2, best of "
        + ", ".join(
            f"{name} {rate:.1f}" for name, rate in result["matmul_rates"].items()
        )
        + ").",
        "",
        "`keras / rnn_zoo` and `torch / rnn_zoo` are speed-ups: above 1, rnn_zoo "
        "is faster. " + FLOPS_MEANS,
        "",
        "Mixed: " + MIXED_MEANS,
        "",
        "Mask: " + MASK_MEANS,
        "",
    ]
    torch_mixed = {
        c["cell"]: (c["torch_mixed"], c["torch_output_dtype"])
        for c in cases
        if "torch_mixed" in c
    }
    if torch_mixed:
        lines += ["| torch.nn under mixed | how | output dtype |", "|---|---|---|"]
        lines += [
            f"| {cell} | {how} | {out} |" for cell, (how, out) in torch_mixed.items()
        ]
        lines.append("")
    head_steps = _headline_steps(cases)
    header = (
        "| cell | mode | rnn_zoo ms | keras ms | torch ms | keras / rnn_zoo | "
        "torch / rnn_zoo | GFLOP | rnn_zoo x floor | rnn_zoo kernel |"
    )
    headline = [
        (key, impls)
        for key, impls in groups.items()
        if key[2:] == ("float32", "none", head_steps)
    ]
    lines += [f"## Headline: float32, no mask, T={head_steps}", ""]
    if headline:
        lines += [header, "|---|---|---|---|---|---|---|---|---|---|"]
        for key, impls in headline:
            zoo = impls.get("rnn_zoo", {})
            lines.append(
                f"| {key[0]} | {key[1]} | "
                + " | ".join(_fmt(impls.get(i, {}).get("ms")) for i in IMPLS)
                + f" | {_fmt(zoo.get('vs_keras'), '.2f')} | "
                f"{_fmt(zoo.get('vs_torch'), '.2f')} | "
                f"{_fmt(_any(impls, 'flops') / 1e9, '.2f')} | "
                f"{_fmt(zoo.get('x_floor'), '.2f')} | "
                f"{_kernel_label(zoo.get('kernel'), key[1])} |"
            )
    else:
        lines.append("(not in this run: it needs --dtypes float32 --masks none)")
    lines += [
        "",
        "## All cases",
        "",
        "| cell | mode | dtype | mask | T | rnn_zoo ms | keras ms | torch ms | "
        "keras / rnn_zoo | torch / rnn_zoo | GFLOP | x floor rnn_zoo | "
        "x floor keras | x floor torch |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, impls in groups.items():
        zoo = impls.get("rnn_zoo", {})
        lines.append(
            "| "
            + " | ".join(str(k) for k in key)
            + " | "
            + " | ".join(_fmt(impls.get(i, {}).get("ms")) for i in IMPLS)
            + f" | {_fmt(zoo.get('vs_keras'), '.2f')} | "
            f"{_fmt(zoo.get('vs_torch'), '.2f')} | "
            f"{_fmt(_any(impls, 'flops') / 1e9, '.3g')} | "
            + " | ".join(_fmt(impls.get(i, {}).get("x_floor"), ".2f") for i in IMPLS)
            + " |"
        )
    lines += [
        "",
        "## Warm-up: the first call against the median",
        "",
        "The first call of a case traces it and, for a compiled kernel, compiles "
        "it (XLA compiles once per input shape): the tax a user pays on every "
        "new run and every new batch shape. `first - median` is that tax.",
        "",
        "| cell | mode | dtype | mask | T | "
        + " | ".join(f"{i} first ms | {i} first - median" for i in IMPLS)
        + " |",
        "|---|---|---|---|---|" + "---|---|" * len(IMPLS),
    ]
    for key, impls in groups.items():
        cells = []
        for impl in IMPLS:
            case = impls.get(impl, {})
            first, ms = case.get("first_call_ms"), case.get("ms")
            cells += [
                _fmt(first),
                _fmt(first - ms if first is not None and ms else None),
            ]
        lines.append(
            "| " + " | ".join(str(k) for k in key) + " | " + " | ".join(cells) + " |"
        )
    modern = [c for c in cases if "base" in c]
    if modern:
        lines += [
            "",
            "## Modern cells against the classic ones (same run)",
            "",
            "Each modern cell's rnn_zoo layer against its baseline: rnn_zoo's "
            "layer and torch.nn's (above 1, the modern cell is faster), and "
            "against its own reference loop where `--impls` has "
            f"{GENERIC}.",
            "",
            "| cell | mode | dtype | mask | T | ms | kernel | baseline | "
            "rnn_zoo baseline / cell | torch baseline / cell | reference / kernel |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in modern:
            lines.append(
                f"| {c['cell']} | {c['mode']} | {c['dtype']} | {c['mask']} | "
                f"{c['steps']} | {_fmt(c['ms'])} | "
                f"{_kernel_label(c.get('kernel'), c['mode'])} | {c['base']} | "
                f"{_fmt(c.get('vs_base_rnn_zoo'), '.2f')} | "
                f"{_fmt(c.get('vs_base_torch'), '.2f')} | "
                f"{_fmt(c.get('vs_' + GENERIC), '.2f')} |"
            )
    generic = [
        (key, impls)
        for key, impls in groups.items()
        if impls.get(GENERIC, {}).get("ms")
    ]
    if generic:
        lines += [
            "",
            "## rnn_zoo's kernel against its generic loop (implementation='reference')",
            "",
            "| cell | mode | dtype | mask | T | kernel | ms | generic ms | "
            "generic / kernel |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for key, impls in generic:
            zoo = impls.get("rnn_zoo", {})
            lines.append(
                "| "
                + " | ".join(str(k) for k in key)
                + f" | {_kernel_label(zoo.get('kernel'), key[1])} | "
                f"{_fmt(zoo.get('ms'))} | {_fmt(impls[GENERIC]['ms'])} | "
                f"{_fmt(zoo.get('vs_' + GENERIC), '.2f')} |"
            )
    failed = [c for c in cases if "error" in c]
    if failed:
        lines += ["", "## Failed cases", ""]
        lines += [
            f"- {c['impl']} {c['cell']} {c['mode']} {c['dtype']} mask={c['mask']} "
            f"T={c['steps']}: {c['error']}"
            for c in failed
        ]
    return "\n".join(lines) + "\n"


def _any(impls: dict, key: str):
    return next(iter(impls.values()))[key]


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend, or None (and says so)
    where matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no results.png", file=sys.stderr)
        return None
    return plt


def plot(result: dict, path: str) -> bool:
    """A bar chart of ms per case: one panel per (mode, dtype, mask, T)."""
    plt = pyplot()
    if plt is None:
        return False
    groups = _grouped(result["cases"])
    panels: dict = {}
    for (cell, mode, dtype, mask, steps), impls in groups.items():
        panels.setdefault((mode, dtype, mask, steps), {})[cell] = impls
    ncols = min(4, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4 * ncols, 3.2 * nrows), squeeze=False
    )
    width = 0.8 / len(IMPLS)
    for ax, ((mode, dtype, mask, steps), cells) in zip(axes.flat, panels.items()):
        names = list(cells)
        for i, impl in enumerate(IMPLS):
            values = [cells[c].get(impl, {}).get("ms") or 0.0 for c in names]
            positions = [j + (i - 1) * width for j in range(len(names))]
            ax.bar(positions, values, width, label=impl)
        ax.set_xticks(range(len(names)), names)
        ax.set_title(f"{mode}, {dtype}, mask={mask}, T={steps}", fontsize=9)
        ax.set_ylabel("ms (median)")
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    machine = result["machine"]
    fig.suptitle(
        f"One recurrent layer, batch {result['config']['batch']}, "
        f"{result['config']['units']} units; {machine['cpu']}, {machine['cores']} cores",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# ---------------------------------------------------------------- the command


def write_results(
    result: dict,
    output: str,
    markdown: Callable[[dict], str],
    plot: Callable[[dict, str], object],
) -> None:
    """Writes ``output``/results.json, results.md (``markdown(result)``) and
    results.png (``plot(result, path)``), and says so."""
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, "results.json"), "w") as f:
        json.dump(result, f, indent=1, default=str)
    with open(os.path.join(output, "results.md"), "w") as f:
        f.write(markdown(result))
    plot(result, os.path.join(output, "results.png"))
    print(f"wrote {output}/results.json, results.md, results.png")


def _set_threads(threads: int) -> None:
    """The same number of compute threads for TensorFlow and torch."""
    with contextlib.suppress(ImportError):
        import torch

        torch.set_num_threads(threads)
    with contextlib.suppress(ImportError):
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            # TensorFlow has run an op already in this process (a test run):
            # its thread pools are fixed.
            print("TensorFlow's threads were set already", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.rnn_benchmark",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes (batch 8, T=10, 16 inputs, 32 units), 1 repeat, float32",
    )
    parser.add_argument(
        "--cells",
        nargs="+",
        choices=list(CELLS),
        default=None,
        help="default: every cell (with --quick: the classic lstm, gru, simple)",
    )
    parser.add_argument(
        "--impls", nargs="+", choices=[*IMPLS, GENERIC], default=list(IMPLS)
    )
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=None)
    parser.add_argument("--masks", nargs="+", choices=MASKS, default=list(MASKS))
    parser.add_argument(
        "--lengths", nargs="+", type=int, default=None, help="sequence lengths T"
    )
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--features", type=int, default=None)
    parser.add_argument("--units", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--matmul-size", type=int, default=None)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for TensorFlow and torch (default: all cores); on a "
        "shared machine 1 keeps the figures comparable",
    )
    parser.add_argument("--output", default="benchmarks/results")
    return parser


def _resolve(args) -> argparse.Namespace:
    defaults = dict(_FULL, dtypes=list(DTYPES), cells=list(CELLS))
    if args.quick:
        defaults.update(_QUICK)
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.threads is None:
        args.threads = os.cpu_count() or 1
    for name in ("batch", "features", "units", "repeats", "matmul_size", "threads"):
        if getattr(args, name) < 1:
            raise ValueError(
                f"`--{name.replace('_', '-')}` must be a positive integer. "
                f"Received: {getattr(args, name)}"
            )
    if args.warmup < 0:
        raise ValueError(f"`--warmup` must be 0 or more. Received: {args.warmup}")
    if any(steps < 2 for steps in args.lengths):
        raise ValueError(f"`--lengths` must all be 2 or more. Received: {args.lengths}")
    # Each filter once, in the order given.
    for name in ("cells", "impls", "modes", "dtypes", "masks", "lengths"):
        setattr(args, name, list(dict.fromkeys(getattr(args, name))))
    return args


def main(argv: list[str] | None = None) -> dict:
    """Runs the selected matrix, writes the results; returns what results.json holds."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        args = _resolve(args)
    except ValueError as error:
        parser.error(str(error))
    _set_threads(args.threads)
    started = datetime.datetime.now().isoformat(timespec="seconds")
    load_before = [round(x, 2) for x in os.getloadavg()]
    rates_before = _matmul_rates(args.matmul_size)
    cases = run(args)
    rates_after = _matmul_rates(args.matmul_size)
    # The floor is what the machine can do: the best rate seen in the run.
    rates = {k: max(v, rates_after.get(k, 0.0)) for k, v in rates_before.items()}
    rate = max(rates.values())
    for case in cases:
        if case["ms"]:
            case["x_floor"] = case["ms"] / _floor_ms(case["flops"], rate)
    config = {k: v for k, v in vars(args).items() if k != "output"}
    result = {
        "config": config,
        "machine": machine_info(),
        **run_window(started, load_before),
        "matmul_rates": rates,
        "matmul_rates_start": rates_before,
        "matmul_rates_end": rates_after,
        "matmul_gflops": rate,
        "meaning": {"mixed": MIXED_MEANS, "mask": MASK_MEANS, "flops": FLOPS_MEANS},
        "cases": cases,
    }
    write_results(result, args.output, markdown, plot)
    return result


if __name__ == "__main__":
    main()
