"""Training that survives faults: kills, killed checkpoint writes, NaNs, changed flags.

The main test kills a real ``rnn-zoo train`` process with SIGKILL in the
middle of an epoch, resumes it, and compares every variable (weights,
optimizer slots, dropout seed states) with an uninterrupted run's, bit for
bit. The in-process tests cover what one smoke epoch cannot: resuming
across epoch boundaries with early stopping, and the write and read path of
a checkpoint.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from rnn_zoo import cli
from rnn_zoo.recipes import names
from rnn_zoo.training import checkpoint as _checkpoint
from rnn_zoo.training import resumable as _training

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipes train on tf.data",
    ),
]

# 448 training names in batches of 4: 112 steps, long enough to kill in the middle.
SMOKE_FLAGS = [
    "--smoke",
    "--units",
    "8",
    "--batch-size",
    "4",
    "--checkpoint-every",
    "5",
]
SMOKE_STEPS = 112
# Where no run is killed mid-epoch: the same 448 names in 7 steps.
QUICK_FLAGS = ["--smoke", "--units", "8", "--batch-size", "64"]
QUICK_STEPS = 7


def _train_command(output):
    return [
        sys.executable,
        "-m",
        "rnn_zoo.cli",
        "train",
        "names",
        "--output",
        str(output),
    ]


def _run(command, **kwargs):
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, **kwargs
    )


def _steps(directory):
    return [
        int(os.path.basename(p).split("-")[1])
        for p in _checkpoint.list_checkpoints(str(directory))
    ]


def _newest(run_dir):
    path, state = _checkpoint.latest_checkpoint(str(run_dir / "checkpoints"))
    return state, _checkpoint.read_arrays(path)


def _assert_same_arrays(a, b):
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and np.array_equal(a[name], b[name]), name


def test_a_run_killed_mid_epoch_resumes_to_the_uninterrupted_weights(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    done = _run([*_train_command(reference), *SMOKE_FLAGS])
    assert done.returncode == 0, done.stderr[-3000:]

    process = subprocess.Popen(
        [*_train_command(killed), *SMOKE_FLAGS],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 300
        while not any(10 <= s < SMOKE_STEPS for s in _steps(killed / "checkpoints")):
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.time() < deadline, "no checkpoint after 300 s"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (killed / "metrics.json").exists()

    # The same command again: it resumes by default.
    resumed = _run([*_train_command(killed), *SMOKE_FLAGS])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    match = re.search(
        r"Resuming from \S+: epoch 1/1, after (\d+) of its steps", resumed.stdout
    )
    assert match, resumed.stdout[-3000:]
    assert 10 <= int(match.group(1)) < SMOKE_STEPS  # it was killed mid-epoch

    # Every variable (weights, Adam's slots and iteration count, the dropout
    # seed states, the metrics) and the history are those of the reference.
    (ref_state, ref_arrays), (state, arrays) = _newest(reference), _newest(killed)
    assert state["global_step"] == ref_state["global_step"] == SMOKE_STEPS
    _assert_same_arrays(arrays, ref_arrays)
    assert state["history"] == ref_state["history"]
    from rnn_zoo.saving import load_model

    for a, b in zip(
        load_model(str(killed / "model.keras")).get_weights(),
        load_model(str(reference / "model.keras")).get_weights(),
        strict=True,
    ):
        assert np.array_equal(a, b)
    for name in ("test_accuracy", "test_loss", "best_epoch", "epochs_run"):
        ref_metrics = json.loads((reference / "metrics.json").read_text())
        assert (
            json.loads((killed / "metrics.json").read_text())[name] == ref_metrics[name]
        )


# --- epoch boundaries and early stopping, in process --------------------------


class _Crash(Exception):
    pass


class _CrashAt(keras.callbacks.Callback):
    """Raises at a global step: the process dies there, as far as training knows."""

    def __init__(self, step):
        super().__init__()
        self.step, self.seen = step, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step:
            raise _Crash


def _tiny(seed=3, nan_at=None):
    """A dropout regressor on a reshuffled dataset: 8 steps per epoch."""
    import tensorflow as tf

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")
    if nan_at is not None:
        x[nan_at] = np.nan
    train = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(64, seed=seed, reshuffle_each_iteration=True)
        .batch(8)
        .prefetch(2)
    )
    validation = tf.data.Dataset.from_tensor_slices((x[:16], y[:16])).batch(8)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    hidden = keras.layers.Dropout(0.5)(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", metrics=["mae"])
    return model, train, validation


def _fit(output, epochs=6, crash_at=None, every=3, nan_at=None):
    import argparse

    model, train, validation = _tiny(nan_at=nan_at)
    args = argparse.Namespace(
        output=str(output), checkpoint_every=every, resume=None, seed=3
    )
    callbacks = [
        keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True, verbose=1)
    ]
    if crash_at is not None:
        callbacks.append(_CrashAt(crash_at))
    history, _ = _training.fit_resumable(
        model, train, validation, args, epochs=epochs, callbacks=callbacks
    )
    return model, history


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    output = tmp_path_factory.mktemp("uninterrupted")
    model, history = _fit(output)
    return output, model.get_weights(), history.history


@pytest.mark.parametrize(
    "crash_at",
    [2, 8, 13, 16, 21],
    ids=["before-1st-ckpt", "end-of-epoch-1", "mid-epoch-2", "epoch-2-end", "mid-3"],
)
def test_resuming_across_epochs_gives_the_uninterrupted_run(
    tmp_path, uninterrupted, crash_at, capsys
):
    output, weights, history = uninterrupted
    with pytest.raises(_Crash):
        _fit(tmp_path, crash_at=crash_at)
    model, resumed = _fit(tmp_path)
    assert "Resuming from" in capsys.readouterr().out
    assert resumed.history == history
    for a, b in zip(model.get_weights(), weights, strict=True):
        assert np.array_equal(a, b)
    _assert_same_arrays(_newest(tmp_path)[1], _newest(output)[1])


def test_early_stopping_state_survives_the_restart(uninterrupted):
    output, _, history = uninterrupted
    state, _ = _newest(output)
    # The reference stopped early and restored its best epoch: this is what
    # the resumed runs above had to reproduce.
    assert len(history["loss"]) < 6
    assert state["stop_training"] is True
    assert state["early_stopping"][0]["best_weights"] is not None


_MIRRORED = """
import argparse, shutil, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
from rnn_zoo.training import resumable as _training

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


class Crash(keras.callbacks.Callback):
    seen = 0

    def on_train_batch_end(self, batch, logs=None):
        Crash.seen += 1
        if Crash.seen == CRASH_AT:
            raise KeyboardInterrupt


def run(output):
    keras.utils.set_random_seed(3)
    x = np.random.default_rng(3).normal(size=(64, 4)).astype("float32")
    train = tf.data.Dataset.from_tensor_slices((x, x.sum(1, keepdims=True)))
    train = train.shuffle(64, seed=3).batch(8)
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
                                  keras.layers.Dropout(0.5), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
    args = argparse.Namespace(output=output, checkpoint_every=3, resume=None)
    try:
        _training.fit_resumable(model, train, None, args, epochs=3, callbacks=[Crash()])
    except KeyboardInterrupt:
        return None
    return model.get_weights()


CRASH_AT = None
reference = run(sys.argv[1] + "/reference")
CRASH_AT = 13
run(sys.argv[1] + "/resumed")
resumed = run(sys.argv[1] + "/resumed")
print("EQUAL", all(np.array_equal(a, b) for a, b in zip(reference, resumed, strict=True)))
"""


def test_a_run_under_mirrored_strategy_resumes_to_the_same_weights(tmp_path):
    # A distribution strategy's iterator cannot be checkpointed: the resumed
    # run replays the seed draws and skips the batches already trained on.
    done = _run([sys.executable, "-c", _MIRRORED, str(tmp_path)])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Resuming from" in done.stdout and "EQUAL True" in done.stdout
    newest, _ = _checkpoint.latest_checkpoint(str(tmp_path / "resumed" / "checkpoints"))
    assert os.path.isfile(os.path.join(newest, "arrays.npz"))
    assert not os.path.exists(os.path.join(newest, "tf"))  # no iterator in it


# --- NaN ---------------------------------------------------------------------


def _assert_rolled_back(message, model, directory):
    """The behaviour a user relies on, whichever guard (loss or weights) fired."""
    assert message.startswith("Training stopped: "), message
    assert "rolled back to the newest checkpoint" in message
    assert "--no-resume" in message  # what to do next
    checkpoints = _checkpoint.list_checkpoints(directory)
    assert checkpoints
    for path in checkpoints:
        for name, array in _checkpoint.read_arrays(path).items():
            if np.issubdtype(array.dtype, np.floating):
                assert np.isfinite(array).all(), (path, name)
    # The model holds the newest checkpoint's (finite) weights, not the broken ones.
    newest = _checkpoint.read_arrays(checkpoints[-1])
    for i, variable in enumerate(model.variables):
        np.testing.assert_array_equal(np.asarray(variable), newest[f"v{i:05d}"])


def test_a_nan_loss_stops_training_and_never_reaches_a_checkpoint(tmp_path):
    # A NaN input row makes the loss NaN and the next update NaN: the loss guard
    # or the weight guard may fire first depending on the CPU's kernels; either
    # must stop training and roll back.
    import argparse

    model, train, validation = _tiny(nan_at=5)
    args = argparse.Namespace(
        output=str(tmp_path), checkpoint_every=1, resume=None, seed=3
    )
    with pytest.raises(_training.NonFiniteLossError) as info:
        _training.fit_resumable(model, train, validation, args, epochs=6, callbacks=[])
    _assert_rolled_back(str(info.value), model, str(tmp_path / "checkpoints"))


def test_a_diverging_recipe_exits_with_the_rollback_message(tmp_path, capsys):
    # A learning rate of 1e38 overflows the weights to inf within a few steps.
    argv = ["train", "names", "--output", str(tmp_path), *SMOKE_FLAGS]
    argv += ["--learning-rate", "1e38", "--checkpoint-every", "1"]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "Training stopped: " in err
    assert "rolled back to the newest checkpoint" in err
    assert "--no-resume" in err
    assert not (tmp_path / "model.keras").exists()
    checkpoints = _checkpoint.list_checkpoints(str(tmp_path / "checkpoints"))
    assert checkpoints
    for path in checkpoints:
        for array in _checkpoint.read_arrays(path).values():
            if np.issubdtype(array.dtype, np.floating):
                assert np.isfinite(array).all(), path


# --- flags --------------------------------------------------------------------


def _fake_checkpoint(output, argv):
    args = names.parse_args(["--output", str(output), *argv])
    state = {"flags": _training.run_flags(args), "epoch": 0, "step": 0}
    _checkpoint.write_checkpoint(
        str(output / "checkpoints"), 5, state, {"v00000": np.zeros(2)}
    )


def _usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_resuming_with_other_flags_is_refused_naming_them(tmp_path, capsys):
    _fake_checkpoint(tmp_path, ["--smoke", "--units", "8"])
    err = _usage_error(
        [
            "train",
            "names",
            "--output",
            str(tmp_path),
            "--units",
            "16",
            "--dropout",
            "0.1",
        ],
        capsys,
    )
    assert "--units 8 in the checkpoint, 16 now" in err
    assert "--smoke True in the checkpoint, False now" in err
    assert "--dropout 0.2 in the checkpoint, 0.1 now" in err
    assert "--no-resume" in err
    # Where it is written, how often and TensorBoard do not matter.
    argv = ["--smoke", "--units", "8", "--checkpoint-every", "7", "--tensorboard"]
    args = names.parse_args(["--output", str(tmp_path), *argv])
    assert _training.resume_plan(args)[1]["global_step"] == 5


def test_resume_without_a_checkpoint_is_an_error(tmp_path, capsys):
    err = _usage_error(
        ["train", "names", "--output", str(tmp_path), "--smoke", "--resume"], capsys
    )
    assert "--resume: there is no checkpoint to resume" in err


def test_no_resume_starts_over_and_says_so(tmp_path, capsys):
    _fake_checkpoint(tmp_path, ["--smoke", "--units", "99"])
    argv = ["train", "names", "--output", str(tmp_path), *QUICK_FLAGS, "--no-resume"]
    assert cli.main([*argv, "--checkpoint-every", "0"]) == 0
    out = capsys.readouterr().out
    assert "--no-resume: starting over; deleting 1 checkpoint(s)" in out
    state, _ = _newest(tmp_path)
    assert state["flags"]["units"] == 8
    assert _steps(tmp_path / "checkpoints") == [0, QUICK_STEPS]  # start and epoch end


# --- the checkpoint files -------------------------------------------------------

_WRITER = """
import sys, numpy as np
from rnn_zoo.training import checkpoint as _checkpoint
big = np.random.default_rng(0).normal(size=(2_000_000,))
step = 0
while True:
    step += 1
    _checkpoint.write_checkpoint(sys.argv[1], step, {"step": step}, {"big": big + step})
"""


def test_a_write_killed_part_way_leaves_the_previous_checkpoint_readable(tmp_path):
    directory = tmp_path / "checkpoints"
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(directory)])
    try:
        deadline = time.time() + 300
        # Kill it while a temporary directory exists after 2 whole checkpoints:
        # in the middle of writing the 3rd or a later one.
        while not (
            len(_steps(directory)) >= 2
            and any(n.startswith(".tmp-") for n in os.listdir(directory))
        ):
            assert writer.poll() is None and time.time() < deadline
            time.sleep(0.002)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    # The kill landed in the middle of a write...
    assert [n for n in os.listdir(directory) if n.startswith(".tmp-")]
    # ...and the newest complete checkpoint reads back whole.
    path, state = _checkpoint.latest_checkpoint(str(directory))
    assert state["step"] == max(_steps(directory))
    big = np.random.default_rng(0).normal(size=(2_000_000,))
    assert np.array_equal(_checkpoint.read_arrays(path)["big"], big + state["step"])
    # The next write clears what the killed one left.
    _checkpoint.write_checkpoint(str(directory), 10**6, {"step": 0}, {})
    assert not [n for n in os.listdir(directory) if n.startswith(".tmp-")]


def test_a_writer_failing_before_the_rename_keeps_the_previous_checkpoint(
    tmp_path, monkeypatch
):
    directory = str(tmp_path)
    _checkpoint.write_checkpoint(directory, 1, {"n": 1}, {"a": np.arange(3)})

    def fail(path):
        raise OSError("disk full")

    monkeypatch.setattr(_checkpoint, "_fsync_path", fail)
    with pytest.raises(OSError, match="disk full"):
        _checkpoint.write_checkpoint(directory, 2, {"n": 2}, {"a": np.arange(4)})
    monkeypatch.undo()
    path, state = _checkpoint.latest_checkpoint(directory)
    assert state["n"] == 1 and os.listdir(directory) == ["ckpt-000000001"]
    assert np.array_equal(_checkpoint.read_arrays(path)["a"], np.arange(3))


def test_a_damaged_checkpoint_is_skipped_for_the_one_before(tmp_path, capsys):
    directory = str(tmp_path)
    for step in (1, 2, 3):
        _checkpoint.write_checkpoint(
            directory, step, {"n": step}, {"a": np.full(3, step)}
        )
    assert _steps(directory) == [2, 3]  # the newest two are kept
    with open(os.path.join(directory, "ckpt-000000003", "arrays.npz"), "r+b") as f:
        f.seek(100)
        f.write(b"\x00\xff")
    path, state = _checkpoint.latest_checkpoint(directory)
    assert state["n"] == 2 and path.endswith("ckpt-000000002")
    assert "ckpt-000000003: arrays.npz is missing or damaged" in capsys.readouterr().out
