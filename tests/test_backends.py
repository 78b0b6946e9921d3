"""rnn_zoo is a Keras 3 library: its layer and decoding tests must also pass on JAX and PyTorch.

Keras picks its backend once per process, so each other backend runs the layer
and decoding test suites in a subprocess with ``KERAS_BACKEND`` set. A failure
prints that run's report. The torch run lives in its own file
(test_backends_torch.py) so that pytest-xdist runs the two backends side by
side.
"""

import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITES = ("tests/layers", "tests/decoding")


def run_suites_on(
    backend: str, paths: tuple[str, ...] = SUITES, ignore: tuple[str, ...] = ()
) -> None:
    """Runs ``paths`` (by default tests/layers and tests/decoding) under ``KERAS_BACKEND=backend``."""
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONHASHSEED": "0"}
    if backend == "jax":
        # Most of the JAX run is XLA compiling tiny eager ops and loops; the
        # CPU backend's cheaper code generation cuts that by about a sixth
        # (measured on tests/layers/test_layernorm_lstm.py: 40 -> 34 CPU-s).
        env["XLA_FLAGS"] = " ".join(
            (
                os.environ.get("XLA_FLAGS", ""),
                "--xla_backend_optimization_level=0",
                "--xla_llvm_disable_expensive_passes=true",
            )
        ).strip()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *paths,
            *(f"--ignore={path}" for path in ignore),
            "-q",
            # One process: the outer run already keeps the cores busy, and each
            # extra xdist worker would import TensorFlow and the backend again.
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=2400,
    )
    report = (result.stdout + result.stderr)[-8000:]
    assert result.returncode == 0, (
        f"{' or '.join(paths)} failed with KERAS_BACKEND={backend}:\n{report}"
    )
    assert " passed" in result.stdout, report


@pytest.mark.backends
@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the other backends are driven from the TensorFlow run",
)
def test_layer_and_decoding_suites_pass_on_jax():
    # Beam search and sampling (tests/decoding/test_beam.py) and the attention
    # layers (tests/layers/test_attention.py) are backend-neutral keras.ops
    # code that the torch run covers; on JAX, where each eager op dispatches
    # separately, they took minutes of CI. The decoding layers, which run
    # attention decoders traced through Keras models, still run here.
    run_suites_on(
        "jax",
        ("tests/layers", "tests/decoding/test_decoding_layer.py"),
        ignore=("tests/layers/test_attention.py",),
    )


@pytest.mark.backends
@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the other backends are driven from the TensorFlow run",
)
def test_float64_layers_run_on_jax_with_x64():
    # With 64-bit JAX, Keras's type promotion hands float32 back from some
    # float64 ops; the time loop must keep its carry's dtype.
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_ENABLE_X64": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/layers/test_behaviour.py",
            "-q",
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            "-k",
            "float64",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = (result.stdout + result.stderr)[-8000:]
    assert result.returncode == 0, report
    assert "3 passed" in result.stdout, report
