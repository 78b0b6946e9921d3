"""rnn_zoo is a Keras 3 library: its layer and decoding tests must also pass on JAX and PyTorch.

Keras picks its backend once per process, so each other backend runs test
files of tests/layers and tests/decoding in subprocesses with
``KERAS_BACKEND`` set. A failure prints that run's report.

What runs where (docs/architecture.md, "Tests and CI"):

- :data:`PIECES` splits each backend's run into pieces of similar length.
  tests/conftest.py lets xdist hand each test of this file to any worker
  (``SPLIT_BY_TEST``), so the pieces run on both cores side by side instead
  of as one long serial process on one of them. Each backend's last piece
  is "the rest": every file of the suites that no other piece names, so a
  new test file runs on every backend without being listed here.
- :data:`NOT_ON` names the files a backend skips whole, each with its reason
  and where the same code is tested instead.
- Inside the files, tests marked ``backend_neutral`` run on TensorFlow only:
  they exercise code that is the same on every backend (argument checks,
  configs, the generic reference loop's behaviour for cells whose step is
  plain ``keras.ops``), while the numerics, gradients, kernels, scans and
  training of every family still run on every backend.
"""

import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITES = ("tests/layers", "tests/decoding")

# Files a backend does not run at all: file -> (backends, why, where instead).
NOT_ON = {
    "tests/layers/test_elementwise_kernels.py": (
        ("jax", "torch"),
        "tf-elementwise and the compiled scan are TensorFlow kernels; the file "
        "skips itself elsewhere",
    ),
    # Backend-neutral keras.ops code that the torch run covers; on JAX, where
    # each eager op dispatches separately, they took minutes of CI. The
    # decoding layers, which run attention decoders traced through Keras
    # models, still run on JAX.
    "tests/layers/test_attention.py": (("jax",), "keras.ops code; runs on torch"),
    "tests/decoding/test_beam.py": (("jax",), "keras.ops code; runs on torch"),
}

# backend -> its pieces, longest first; None stands for the rest of SUITES.
# Two per backend: each piece imports TensorFlow and the backend again (about
# 10 CPU-s), so more pieces cost more than they balance. JAX, seconds per
# file measured with -v on a loaded 2-core machine (7 Dec 2026, load ~20):
# keras_swap 395, min_rnn 377, behaviour 339, contract 230, layernorm_lstm
# 228, decoding_layer 219, crf 110, indrnn 106, the others under 60 each,
# before the backend_neutral marks took out about a third of contract,
# layernorm_lstm, indrnn and decoding_layer.
PIECES = {
    "jax": (
        (
            "tests/layers/test_behaviour.py",
            "tests/layers/test_contract.py",
            "tests/decoding/test_decoding_layer.py",
            "tests/layers/test_crf.py",
            "tests/layers/test_keras_swap.py",
        ),
        None,
    ),
    "torch": (
        (
            "tests/layers/test_contract.py",
            "tests/layers/test_behaviour.py",
            "tests/layers/test_numerics.py",
            "tests/layers/test_keras_swap.py",
            "tests/layers/test_attention.py",
        ),
        None,
    ),
}


def _skipped(backend: str) -> list[str]:
    return [path for path, (on, _) in NOT_ON.items() if backend in on]


def piece_arguments(backend: str, piece) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The paths one piece runs and the paths it ignores."""
    if piece is not None:
        return tuple(piece), ()
    listed = [path for other in PIECES[backend] if other for path in other]
    return SUITES, tuple(listed + _skipped(backend))


def run_suites_on(
    backend: str,
    paths: tuple[str, ...] = SUITES,
    ignore: tuple[str, ...] = (),
    extra_env: dict | None = None,
    extra_args: tuple[str, ...] = (),
) -> str:
    """Runs ``paths`` under ``KERAS_BACKEND=backend``, without the tests marked
    ``backend_neutral``; returns the report."""
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "PYTHONHASHSEED": "0",
        **(extra_env or {}),
    }
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
            "-m",
            "not backend_neutral",
            # One process per piece: the outer run already keeps the cores
            # busy, and each extra worker would import TensorFlow and the
            # backend again.
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            *extra_args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=2400,
    )
    report = (result.stdout + result.stderr)[-8000:]
    assert result.returncode == 0, (
        f"{' '.join(paths)} failed with KERAS_BACKEND={backend}:\n{report}"
    )
    assert " passed" in result.stdout, report
    return result.stdout


def _piece_id(backend: str, piece) -> str:
    if piece is None:
        return f"{backend}-rest"
    return f"{backend}-" + "+".join(Path(path).stem[5:] for path in piece[:2])


def _cases():
    cases = [
        (backend, piece, index)
        for backend, pieces in PIECES.items()
        for index, piece in enumerate(pieces)
    ]
    # Longest first across both backends: each backend's pieces are listed
    # longest first, and a JAX piece takes about twice a torch one.
    cases.sort(key=lambda case: (case[2], case[0] != "jax"))
    return [
        pytest.param(backend, piece, id=_piece_id(backend, piece))
        for backend, piece, _ in cases
    ]


FROM_TENSORFLOW = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the other backends are driven from the TensorFlow run",
)


@pytest.mark.parametrize(("backend", "piece"), _cases())
@pytest.mark.backends
@FROM_TENSORFLOW
def test_layer_and_decoding_suites_pass_on(backend, piece):
    paths, ignore = piece_arguments(backend, piece)
    run_suites_on(backend, paths, ignore)


@pytest.mark.backends
@FROM_TENSORFLOW
def test_float64_layers_run_on_jax_with_x64():
    # With 64-bit JAX, Keras's type promotion hands float32 back from some
    # float64 ops; the time loop must keep its carry's dtype.
    report = run_suites_on(
        "jax",
        ("tests/layers/test_behaviour.py",),
        extra_env={"JAX_ENABLE_X64": "1"},
        extra_args=("-k", "float64"),
    )
    assert "3 passed" in report, report


def _suite_files() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for suite in SUITES
        for path in (ROOT / suite).glob("test_*.py")
    }


@pytest.mark.parametrize("backend", PIECES)
def test_each_suite_file_runs_once_on_each_backend_or_says_why_not(backend):
    listed = [path for piece in PIECES[backend] if piece for path in piece]
    assert len(listed) == len(set(listed)), f"a file is in two {backend} pieces"
    assert set(listed) <= _suite_files(), "PIECES names a file that does not exist"
    assert set(NOT_ON) <= _suite_files(), "NOT_ON names a file that does not exist"
    assert not set(listed) & set(_skipped(backend)), "a skipped file is in a piece"
    assert PIECES[backend][-1] is None, "the last piece must be the rest"
    paths, ignore = piece_arguments(backend, None)
    rest = {path for path in _suite_files() if path not in ignore}
    assert rest | set(listed) | set(_skipped(backend)) == _suite_files()
