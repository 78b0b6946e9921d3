"""Scale-out: recipes under tf.distribute strategies, distributed keras-tuner, JAX.

The distributed runs are real: ``rnn-zoo`` subprocesses, MirroredStrategy on
two logical CPU devices, MultiWorkerMirroredStrategy with two worker
processes and keras-tuner's chief oracle with two workers, all on
127.0.0.1. Each distributed run is compared with the same command on one
device: same seed, same global batch, no dropout (dropout draws its masks
per replica, so with dropout the runs agree only statistically).
"""

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import keras
import numpy as np
import pytest

from rnn_zoo import cli, distribute, tuning
from rnn_zoo.recipes import names
from rnn_zoo.saving import load_model

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipes use tf.data and tf.distribute",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
# The names recipe on its smoke slice: 448 training names, 7 global batches
# of 64 (32 per replica), one epoch.
FLAGS = ["--smoke", "--units", "16", "--dropout", "0"]
# Splitting a batch's sums over replicas changes float32 rounding only:
# measured 6e-8 on the weights after the smoke epoch.
WEIGHT_ATOL = 1e-5
LOSS_RTOL = 1e-5
# Ample for a smoke run on a loaded 2-core machine; a hung cluster fails.
TIMEOUT = 480
RUN_FILES = ("model.keras", "run.json", "metrics.json", "export/saved_model.pb")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(argv, log: Path, **env) -> subprocess.Popen:
    """``rnn-zoo argv`` in a new process, its output in ``log``."""
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "rnn_zoo.cli", *map(str, argv)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "1", **env},
            cwd=ROOT,
        )


def _finish(processes, logs) -> None:
    try:
        for process in processes:
            process.wait(timeout=TIMEOUT)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, log in zip(processes, logs):
        assert process.returncode == 0, log.read_text()[-3000:]


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))


def _assert_matches(run_dir: Path, single: dict) -> None:
    weights = load_model(str(run_dir / "model.keras")).get_weights()
    assert len(weights) == len(single["weights"])
    for got, expected in zip(weights, single["weights"]):
        np.testing.assert_allclose(got, expected, rtol=0, atol=WEIGHT_ATOL)
    metrics = _metrics(run_dir)
    assert metrics["test_loss"] == pytest.approx(single["test_loss"], rel=LOSS_RTOL)
    assert metrics["test_accuracy"] == single["test_accuracy"]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The one-device run that every distributed run must reproduce."""
    output = tmp_path_factory.mktemp("single")
    assert cli.main(["train", "names", "--output", str(output), *FLAGS]) == 0
    metrics = _metrics(output)
    assert metrics["config"]["strategy"] == "none"
    assert metrics["config"]["replicas"] == 1
    return {
        "weights": load_model(str(output / "model.keras")).get_weights(),
        "test_loss": metrics["test_loss"],
        "test_accuracy": metrics["test_accuracy"],
    }


def test_mirrored_on_two_cpu_devices_matches_one_device(single, tmp_path):
    output = tmp_path / "mirrored"
    log = tmp_path / "mirrored.log"
    argv = ["train", "names", "--output", output, *FLAGS]
    process = _start([*argv, "--strategy", "mirrored", "--devices", "2"], log)
    _finish([process], [log])
    config = _metrics(output)["config"]
    # Two replicas really trained, each on half of every global batch of 64.
    assert config["replicas"] == 2 and config["batch_size"] == 64
    assert config["strategy"] == "mirrored" and config["devices"] == 2
    for name in RUN_FILES:
        assert (output / name).is_file(), name
    _assert_matches(output, single)


def test_multiworker_two_processes_match_one_device_and_chief_writes(single, tmp_path):
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    outputs = [tmp_path / "chief_run", tmp_path / "worker_run"]
    temps = [tmp_path / "tmp0", tmp_path / "tmp1"]
    logs = [tmp_path / "worker0.log", tmp_path / "worker1.log"]
    processes = []
    for index in range(2):
        temps[index].mkdir()
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        argv = ["train", "names", "--output", outputs[index], *FLAGS]
        processes.append(
            _start(
                [*argv, "--strategy", "multiworker"],
                logs[index],
                TF_CONFIG=json.dumps(tf_config),
                TMPDIR=str(temps[index]),
            )
        )
    _finish(processes, logs)

    # Worker 0 is the chief: its run directory is complete.
    for name in (*RUN_FILES, "vocabulary.json"):
        assert (outputs[0] / name).is_file(), name
    metrics = _metrics(outputs[0])
    assert metrics["config"]["strategy"] == "multiworker"
    assert metrics["config"]["replicas"] == 2
    # Worker 1 trained and saved too, into a temporary directory that it
    # removed; its --output was never touched.
    wrote = re.search(r"Wrote (\S+):", logs[1].read_text()).group(1)
    assert Path(wrote).parent == temps[1] and not Path(wrote).exists()
    assert not outputs[1].exists() and not any(temps[1].iterdir())
    _assert_matches(outputs[0], single)


def test_distributed_tuning_splits_the_trials_and_the_chief_reports(tmp_path):
    oracle = f"127.0.0.1:{_free_port()}"
    max_trials = 4
    roles = ["chief", "tuner0", "tuner1"]
    outputs = {role: tmp_path / role for role in roles}
    logs = [tmp_path / f"{role}.log" for role in roles]
    common = ["tune", "names", "--max-trials", max_trials, "--smoke"]
    processes = [
        _start(
            [
                *common,
                "--output",
                outputs[role],
                "--tuner-id",
                role,
                "--oracle",
                oracle,
            ],
            log,
        )
        for role, log in zip(roles, logs)
    ]
    _finish(processes, logs)

    ran = {}
    for worker in ("tuner0", "tuner1"):
        record = json.loads((outputs[worker] / f"worker_{worker}.json").read_text())
        assert record["tuner_id"] == worker and record["oracle"] == oracle
        ran[worker] = record["trials_run"]
        # A worker writes no run of its own: the chief does.
        assert not (outputs[worker] / "model.keras").exists()
    # Every trial ran once, and both workers took part.
    assert all(ran.values()), ran
    assert sorted(ran["tuner0"] + ran["tuner1"]) == [str(i) for i in range(max_trials)]

    metrics = _metrics(outputs["chief"])
    assert metrics["trials_run"] == max_trials
    assert metrics["config"]["tuner_id"] == "chief"
    trials = [
        json.loads(path.read_text())
        for path in (outputs["chief"] / "tuner" / "names").glob("trial_*/trial.json")
    ]
    assert len(trials) == max_trials
    assert {trial["status"] for trial in trials} == {"COMPLETED"}
    best = min(trials, key=lambda trial: trial["score"])
    assert metrics["best_val_loss"] == pytest.approx(best["score"])
    assert metrics["best_hyperparameters"] == best["hyperparameters"]["values"]
    for name in RUN_FILES:
        assert (outputs["chief"] / name).is_file(), name


PREDICT_ON_BATCH = """
import numpy as np
from rnn_zoo import build_classifier, distribute

strategy = distribute.get_strategy("mirrored", devices=2)
with strategy.scope():
    model = build_classifier(3, vocab_size=20, units=8)
    model.compile(loss="sparse_categorical_crossentropy")
ids = np.random.default_rng(0).integers(1, 20, size=(5, 7)).astype("int32")
with distribute.keras_fixes(strategy):
    got = model.predict_on_batch(ids)
print("replicas", strategy.num_replicas_in_sync, "rows", got.shape[0])
np.testing.assert_allclose(got, model(ids, training=False), atol=1e-6)
# The plain call that needs no fix.
got = model.predict(ids, batch_size=len(ids), verbose=0)
np.testing.assert_allclose(got, model(ids, training=False), atol=1e-6)
"""


def test_predict_on_batch_under_two_replicas_answers_each_row_once(tmp_path):
    # truecase and charlm evaluate with predict_on_batch (under `rnn-zoo
    # train`'s keras_fixes); Keras 3.15 alone would return every row once
    # per replica.
    result = subprocess.run(
        [sys.executable, "-c", PREDICT_ON_BATCH],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas 2 rows 5" in result.stdout


def _trainer_attributes():
    from keras.src.backend.tensorflow import trainer

    cls = trainer.TensorFlowTrainer
    return {
        "reduce_per_replica": vars(trainer)["reduce_per_replica"],
        "_maybe_symbolic_build": vars(cls)["_maybe_symbolic_build"],
        "predict_on_batch": vars(cls)["predict_on_batch"],
    }


def test_keras_fixes_last_for_the_block_only():
    import tensorflow as tf

    originals = _trainer_attributes()
    # Not a strategy this process trains under (that is chosen once).
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with distribute.keras_fixes(None):
        assert _trainer_attributes() == originals
    with distribute.keras_fixes(strategy):
        fixed = _trainer_attributes()
        assert all(fixed[name] is not originals[name] for name in originals)
        with distribute.keras_fixes(strategy):
            assert _trainer_attributes() == fixed
        # Leaving an inner block keeps the outer one's fixes.
        assert _trainer_attributes() == fixed
    assert _trainer_attributes() == originals
    # Undone on an exception too.
    with pytest.raises(KeyError), distribute.keras_fixes(strategy):
        fixed = _trainer_attributes()
        assert all(fixed[name] is not originals[name] for name in originals)
        raise KeyError("inside")
    assert _trainer_attributes() == originals


def test_choosing_a_strategy_patches_nothing(tmp_path):
    # A flag-parsing side effect no more: parsing --strategy mirrored (which
    # creates the strategy) leaves Keras's trainer as it is.
    script = (
        "from rnn_zoo.recipes import names\n"
        "from keras.src.backend.tensorflow import trainer\n"
        "before = (trainer.reduce_per_replica, trainer.TensorFlowTrainer.__dict__.copy())\n"
        f"names.parse_args(['--output', {str(tmp_path)!r}, '--strategy', 'mirrored', "
        "'--devices', '2'])\n"
        "after = (trainer.reduce_per_replica, trainer.TensorFlowTrainer.__dict__.copy())\n"
        "print('unchanged', before == after)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "unchanged True" in result.stdout


# The scale-out documentation (moved out of README.md); its examples must run.
SCALE_OUT_DOC = ROOT / "docs" / "scale-out.md"


def _doc_snippet(marker: str) -> str:
    text = SCALE_OUT_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, f"one snippet in docs/scale-out.md with {marker!r}"
    return found[0]


def test_scale_out_doc_jax_data_parallel_snippet_runs_on_two_devices(tmp_path):
    script = tmp_path / "snippet.py"
    script.write_text(_doc_snippet("keras.distribution.DataParallel"))
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
        env={
            **os.environ,
            "KERAS_BACKEND": "jax",
            "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Two devices; weights replicated; every batch split on its first axis.
    assert "2 devices" in result.stdout, result.stdout
    assert "data layout: ('batch', None)" in result.stdout, result.stdout


def _error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        names.parse_args(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--devices", "2"], "--devices applies to --strategy mirrored"),
        (["--strategy", "mirrored", "--devices", "0"], "--devices must be a positive"),
        (["--strategy", "ring"], "invalid choice: 'ring'"),
    ],
)
def test_bad_strategy_flags_are_named(flags, fragment, tmp_path, capsys):
    assert fragment in _error(["--output", str(tmp_path), *flags], capsys)


@pytest.mark.parametrize(
    "tf_config, fragment",
    [
        (None, "TF_CONFIG environment variable, which is not set"),
        ("{not json", "TF_CONFIG is not valid JSON"),
        ('{"cluster": {}, "task": {}}', 'a list of "worker" addresses'),
        (
            '{"cluster": {"worker": ["h:1"]}, "task": {"type": "worker", "index": 1}}',
            "naming one of the cluster's tasks",
        ),
    ],
)
def test_multiworker_needs_a_valid_tf_config(
    tf_config, fragment, tmp_path, capsys, monkeypatch
):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    argv = ["--output", str(tmp_path), "--strategy", "multiworker"]
    err = _error(argv, capsys)
    assert "--strategy multiworker" in err and fragment in err


def test_get_strategy_checks_its_arguments():
    with pytest.raises(ValueError, match="Received: name='ring'"):
        distribute.get_strategy("ring")
    with pytest.raises(ValueError, match="`devices` applies to the mirrored"):
        distribute.get_strategy("none", devices=2)
    # No strategy: TensorFlow's default one, a single replica that writes.
    strategy = distribute.get_strategy("none")
    assert strategy.num_replicas_in_sync == 1 and distribute.is_chief(strategy)


@pytest.mark.parametrize(
    "cluster, task_type, task_id, chief",
    [
        ({"worker": ["a:1", "b:1"]}, "worker", 0, True),
        ({"worker": ["a:1", "b:1"]}, "worker", 1, False),
        ({"chief": ["c:1"], "worker": ["a:1"]}, "chief", 0, True),
        ({"chief": ["c:1"], "worker": ["a:1"]}, "worker", 0, False),
    ],
)
def test_only_the_chief_writes_the_run(cluster, task_type, task_id, chief):
    import tensorflow as tf

    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id
    )
    # Read the way a MultiWorkerMirroredStrategy exposes it.
    strategy = types.SimpleNamespace(cluster_resolver=resolver)
    assert distribute.is_chief(strategy) is chief


def test_datasets_are_sharded_by_data_unless_they_say_otherwise():
    import tensorflow as tf

    policy = tf.data.experimental.AutoShardPolicy
    sharded = distribute.shard_by_data(tf.data.Dataset.range(4).batch(2))
    assert sharded.options().experimental_distribute.auto_shard_policy == policy.DATA
    assert [b.tolist() for b in sharded.as_numpy_iterator()] == [[0, 1], [2, 3]]
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy.OFF
    kept = distribute.shard_by_data(tf.data.Dataset.range(4).with_options(options))
    assert kept.options().experimental_distribute.auto_shard_policy == policy.OFF


@pytest.mark.parametrize(
    "tuner_id, oracle, fragment",
    [
        ("chief", None, "needs both `tuner_id` and `oracle`"),
        (None, "127.0.0.1:8000", "needs both `tuner_id` and `oracle`"),
        ("tuner0", "127.0.0.1", "HOST:PORT"),
        ("tuner0", "127.0.0.1:70000", "port in 1-65535"),
        ("not chief", "127.0.0.1:8000", "without whitespace"),
        ("subchief", "127.0.0.1:8000", "'chief' in it"),
    ],
)
def test_distributed_tuning_arguments_are_checked(tuner_id, oracle, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        tuning.check_distributed(tuner_id, oracle)


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--oracle", "127.0.0.1:8000"], "--tuner-id"),
        (["--strategy", "multiworker"], "--strategy multiworker cannot tune"),
    ],
)
def test_tune_command_rejects_bad_distribution(flags, fragment, tmp_path, capsys):
    argv = ["tune", "names", "--max-trials", "1", "--output", str(tmp_path), *flags]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert fragment in capsys.readouterr().err


def test_scale_out_doc_multiworker_example_is_a_valid_tf_config(monkeypatch):
    text = SCALE_OUT_DOC.read_text(encoding="utf-8")
    configs = re.findall(r"TF_CONFIG='(\{.*?\})'", textwrap.dedent(text))
    assert configs, "docs/scale-out.md shows TF_CONFIG"
    for config in configs:
        monkeypatch.setenv("TF_CONFIG", config)
        assert distribute.cluster_config()["task"]["type"] == "worker"
