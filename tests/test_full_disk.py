"""A full disk or a file-size limit while writing: a clear message, a non-zero
status, and the last good checkpoint intact.

Each case runs in a subprocess under a small ``RLIMIT_FSIZE`` (SIGXFSZ
ignored, as Python does anyway, so a write past the limit fails with EFBIG
instead of killing the process): the same failure a full disk gives, on any
machine, without filling one.
"""

import errno
import json
import os
import resource
import signal
import subprocess
import sys
import textwrap

import pytest

# Bytes a file may grow to in the subprocesses: a small checkpoint fits, a
# large one and a SavedModel's variables do not.
LIMIT = 64 * 1024


def _limited(limit=LIMIT):
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _run_limited(argv, timeout=300, limit=LIMIT):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, *argv],
        preexec_fn=lambda: _limited(limit),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


CHECKPOINT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from rnn_zoo.training import checkpoint

    directory = sys.argv[1]
    good = {"w": np.arange(100, dtype="float32")}
    first = checkpoint.write_checkpoint(directory, 1, {"epoch": 1}, good)
    try:
        # 1 MiB of weights: past the file-size limit.
        checkpoint.write_checkpoint(
            directory, 2, {"epoch": 2}, {"w": np.zeros(1 << 18, "float32")}
        )
    except checkpoint.CheckpointWriteError as error:
        path, state = checkpoint.latest_checkpoint(directory)
        arrays = checkpoint.read_arrays(path)
        print(json.dumps({
            "message": str(error),
            "errno": error.errno,
            "latest": path == first and state["epoch"] == 1,
            "same": bool(np.array_equal(arrays["w"], good["w"])),
        }))
        from rnn_zoo import cli
        import argparse
        cli._exit_no_room(argparse.ArgumentParser(prog="rnn-zoo train"), error, "Resume.")
    """
)


def test_a_checkpoint_past_the_size_limit_leaves_the_last_good_one(tmp_path):
    directory = tmp_path / "checkpoints"
    result = _run_limited(["-c", CHECKPOINT_SCRIPT, str(directory)], timeout=120)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["errno"] == errno.EFBIG
    assert "cannot write checkpoint" in report["message"]
    assert "ckpt-000000002" in report["message"]
    assert "ckpt-000000001, is intact" in report["message"]
    assert report["latest"] and report["same"]
    # No half-written checkpoint is left behind.
    assert sorted(os.listdir(directory)) == ["ckpt-000000001"]
    # The command's last word: one line, no traceback.
    assert result.stderr.startswith("rnn-zoo train: error: cannot write checkpoint")
    assert "File too large" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0


@pytest.mark.tensorflow_only
def test_export_past_the_size_limit_is_a_clear_error(smoke_run, tmp_path):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the recipes export SavedModels")
    run_dir = smoke_run("names", "--units", "16")  # the serving tests' run
    target = tmp_path / "export"
    result = _run_limited(
        ["-m", "rnn_zoo.cli", "export", str(run_dir), "--to", str(target)]
    )
    assert result.returncode == 1, result.stderr
    assert "rnn-zoo export: error: cannot write" in result.stderr
    assert "File too large" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("format", ["litert", "onnx"])
def test_a_file_export_past_the_size_limit_leaves_nothing(format, smoke_run, tmp_path):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the LiteRT converter is TensorFlow's")
    run_dir = smoke_run("names", "--units", "16")
    target = tmp_path / f"model.{format}"
    result = _run_limited(
        ["-m", "rnn_zoo.cli", "export", str(run_dir), "--format", format]
        + ["--to", str(target)],
        limit=8 * 1024,  # the smoke model's file is larger
    )
    assert result.returncode == 1, result.stderr
    assert "rnn-zoo export: error: cannot write" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no partial file
