"""Scale-out with ``tf.distribute``: the strategy a recipe trains under.

Every recipe takes ``--strategy`` (and ``--devices`` with ``mirrored``):

- ``none`` (the default): TensorFlow's default strategy, one device.
- ``mirrored``: ``tf.distribute.MirroredStrategy`` on one machine: every
  visible GPU (the first ``--devices N`` of them), or, on a machine without
  a GPU, ``--devices N`` logical CPU devices (TensorFlow splits the CPU with
  ``tf.config.set_logical_device_configuration``; this runs the distributed
  code path on a laptop or in CI).
- ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` across
  processes or hosts described by the ``TF_CONFIG`` environment variable.
  Every worker runs the same command; the chief (the ``chief`` task, or
  worker 0 when the cluster has none) writes the run directory, the other
  workers write theirs to a temporary directory that is removed when they
  exit (saving is a collective operation, so every worker saves).

The batch size is the *global* batch: a recipe's ``tf.data`` pipeline yields
``--batch-size`` examples per step whatever the strategy, and Keras hands it
to ``strategy.experimental_distribute_dataset``, which splits every batch
into ``batch_size / replicas`` examples per replica. The gradients are summed
over replicas of a loss that Keras divides by the number of replicas, so one
step computes what one device computes on the whole batch, to float32
rounding, for a loss averaged over examples and a batch that splits evenly.
Keras averages a loss over unpadded steps (taggers, language models) on each
replica, weighs the replicas' means equally (as for a last batch that splits
unevenly) and clips gradients per replica: such runs agree closely, not to
rounding. Dropout masks are drawn per replica.

Keras 3.15's TensorFlow trainer needs three fixes under a strategy (the
order of the shuffled examples, multi-worker ``fit``, ``predict_on_batch``):
:func:`keras_fixes` applies them for the body of a ``with`` block and undoes
them afterwards. The library enters it around the calls that train or
evaluate under a strategy (``rnn_zoo.training``'s fit loop, ``tune``, a
recipe run by ``rnn-zoo train``); nothing is patched on import or when a
flag is parsed.

Across workers, the datasets are sharded by data
(``tf.data.experimental.AutoShardPolicy.DATA``, see :func:`shard_by_data`):
every worker runs the whole pipeline, seeded alike, and keeps its slice of
each global batch. The recipes' datasets come from in-memory tensors, so
there are no files to shard (``FILE``, which ``AUTO`` tries first, does not
apply), and ``OFF`` would train every worker on every example.

Example:

>>> strategy = get_strategy("none")
>>> strategy.num_replicas_in_sync
1
>>> is_chief(strategy)
True
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import tempfile
import warnings

# The values of --strategy.
STRATEGIES = ("none", "mirrored", "multiworker")
# How long the cluster's coordination service waits for a worker's heartbeat
# before it declares the worker dead and aborts every collective. TensorFlow's
# default is 10 s; it aborted one of our 2-worker runs on a loaded 2-core machine.
HEARTBEAT_TIMEOUT_SECONDS = 60

# The strategy this process trains under. TensorFlow splits the CPU into
# logical devices once per process, before it first runs an op, and a
# MultiWorkerMirroredStrategy joins its cluster once; so a process has one.
_active: tuple[tuple[str, int | None], object] | None = None


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Adds ``--strategy`` and ``--devices`` to a recipe's parser."""
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="none",
        help="tf.distribute strategy: none (one device), mirrored (all GPUs of "
        "this machine, or --devices logical CPU devices), multiworker (the "
        "cluster in TF_CONFIG); --batch-size is the global batch, split across "
        "replicas (default none)",
    )
    parser.add_argument(
        "--devices",
        type=int,
        default=None,
        metavar="N",
        help="with --strategy mirrored: use the first N GPUs, or split a "
        "machine without a GPU into N logical CPU devices (default: every GPU, "
        "or one CPU)",
    )


def check_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Rejects bad ``--strategy``/``--devices``/``TF_CONFIG`` with ``parser.error``."""
    strategy = getattr(args, "strategy", "none")
    devices = getattr(args, "devices", None)
    if devices is not None:
        if strategy != "mirrored":
            parser.error(
                f"--devices applies to --strategy mirrored, got --strategy {strategy}"
            )
        if devices < 1:
            parser.error(f"--devices must be a positive integer, got {devices}")
    if strategy == "multiworker":
        try:
            cluster_config()
        except ValueError as error:
            parser.error(f"--strategy multiworker: {error}")


def cluster_config() -> dict:
    """The ``TF_CONFIG`` environment variable, checked: ``{"cluster": ..., "task": ...}``.

    Raises:
        ValueError: when ``TF_CONFIG`` is missing, is not JSON, or lacks a
            cluster with workers or a task whose type and index are in it.
    """
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ValueError(
            "the cluster is read from the TF_CONFIG environment variable, which "
            'is not set; expected e.g. TF_CONFIG=\'{"cluster": {"worker": '
            '["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}\''
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {text!r}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster.get("worker"):
        raise ValueError(
            'TF_CONFIG must hold a "cluster" with a list of "worker" addresses; '
            f"received: {text!r}"
        )
    if (
        not isinstance(task, dict)
        or task.get("type") not in cluster
        or not isinstance(task.get("index"), int)
        or not 0 <= task["index"] < len(cluster[task["type"]])
    ):
        raise ValueError(
            'TF_CONFIG must hold a "task" {"type": ..., "index": ...} naming one '
            f"of the cluster's tasks {sorted(cluster)}; received: {text!r}"
        )
    return config


def get_strategy(name: str = "none", *, devices: int | None = None):
    """The ``tf.distribute.Strategy`` for ``--strategy name --devices devices``.

    The first call with ``mirrored`` or ``multiworker`` creates the strategy
    (call it before TensorFlow runs its first op: ``--devices`` on a CPU and
    a multi-worker cluster are set up at most once per process); later calls
    with the same arguments return the same object.

    Args:
        name: one of :data:`STRATEGIES`.
        devices: for ``mirrored``, how many GPUs (the first ones) or, without
            a GPU, logical CPU devices; ``None``: every GPU, or one CPU.

    Returns:
        A ``tf.distribute.Strategy``; for ``none``, TensorFlow's default one.

    Raises:
        ValueError: for an unknown ``name``, bad ``devices``, more GPUs asked
            for than visible, or a bad ``TF_CONFIG``.
        RuntimeError: when this process already trains under another
            strategy, or TensorFlow initialized its devices before
            ``--devices`` could split the CPU.
    """
    global _active
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(
            f"`name` must be one of {list(STRATEGIES)}. Received: name={name!r}"
        )
    if devices is not None:
        if name != "mirrored":
            raise ValueError(
                "`devices` applies to the mirrored strategy. Received: "
                f"name={name!r}, devices={devices!r}"
            )
        if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
            raise ValueError(
                f"`devices` must be a positive integer. Received: devices={devices!r}"
            )
    if name == "none":
        return tf.distribute.get_strategy()
    key = (name, devices)
    if _active is not None:
        if _active[0] != key:
            raise RuntimeError(
                f"This process already trains under --strategy {_active[0][0]} "
                f"--devices {_active[0][1]}; a process has one strategy. "
                f"Received: strategy={name!r}, devices={devices!r}"
            )
        return _active[1]
    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy(_mirrored_devices(devices))
    else:
        _configure_coordination(cluster_config())
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    _active = (key, strategy)
    return strategy


def strategy_for(args: argparse.Namespace):
    """The strategy a recipe's ``--strategy``/``--devices`` ask for; ``None`` for ``none``."""
    name = getattr(args, "strategy", "none")
    if name == "none":
        return None
    return get_strategy(name, devices=getattr(args, "devices", None))


def _configure_coordination(config: dict) -> None:
    """Configures the cluster's coordination service as TensorFlow would, with a longer heartbeat timeout.

    ``MultiWorkerMirroredStrategy`` configures it itself (10 s heartbeat
    timeout) unless it was configured first. TensorFlow has no public way
    to set it; where its internals differ, its own configuration stays.
    """
    try:
        from tensorflow.python.eager import context

        ctx = context.context()
        if ctx.coordination_service is not None:
            return
        cluster = config["cluster"]
        jobs = [job for job in ("chief", "worker") if job in cluster]
        if config["task"]["type"] not in jobs:
            return
        ctx.configure_coordination_service(
            service_type="standalone",
            service_leader=f"/job:{jobs[0]}/replica:0/task:0",
            heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_SECONDS * 1000,
        )
        for job in jobs:
            entry = ctx.coordination_service.coordinated_job_list.add()
            entry.name = job
            entry.num_tasks = len(cluster[job])
    except (ImportError, AttributeError, TypeError):
        return


def _mirrored_devices(devices: int | None) -> list[str]:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        count = len(gpus) if devices is None else devices
        if count > len(gpus):
            raise ValueError(
                f"`devices` asks for {count} GPUs; this machine has {len(gpus)}. "
                f"Received: devices={devices}"
            )
        return [f"/gpu:{i}" for i in range(count)]
    count = devices or 1
    cpu = tf.config.list_physical_devices("CPU")[0]
    logical = tf.config.get_logical_device_configuration(cpu)
    if count > 1 and (logical is None or len(logical) != count):
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
            )
        except RuntimeError as error:
            raise RuntimeError(
                f"--devices {count} splits the CPU into logical devices, which "
                "TensorFlow allows only before it runs its first op; this "
                "process has already run one. Choose the strategy first (the "
                "recipes do it when they parse their flags), or start a new "
                f"process. TensorFlow said: {error}"
            ) from None
    return [f"/cpu:{i}" for i in range(count)]


def is_chief(strategy) -> bool:
    """Whether this process writes the run: always, but on a non-chief worker.

    The chief of a ``MultiWorkerMirroredStrategy`` cluster is its ``chief``
    task, or worker 0 when the cluster has none.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    cluster = resolver.cluster_spec().as_dict()
    return (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and ("chief" not in cluster)
    )


def worker_directory(strategy) -> str:
    """A temporary run directory for a non-chief worker, removed when it exits.

    Saving under ``MultiWorkerMirroredStrategy`` is collective: every worker
    saves, and only the chief's copy is kept (TensorFlow's multi-worker
    guide does the same).
    """
    resolver = strategy.cluster_resolver
    path = tempfile.mkdtemp(prefix=f"rnn_zoo_{resolver.task_type}{resolver.task_id}_")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def shard_by_data(dataset):
    """``dataset`` with ``AutoShardPolicy.DATA`` unless it sets a policy itself.

    Under ``multiworker`` each worker then runs the whole (seeded) pipeline
    and keeps its slice of every global batch, so a step sees the same
    examples as on one device; without a strategy the option does nothing.
    Anything but a ``tf.data.Dataset`` is returned as it is.
    """
    import tensorflow as tf

    if not isinstance(dataset, tf.data.Dataset):
        return dataset
    policy = tf.data.experimental.AutoShardPolicy
    if dataset.options().experimental_distribute.auto_shard_policy != policy.AUTO:
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy.DATA
    return dataset.with_options(options)


# Nesting depth of keras_fixes blocks, and what they replaced.
_fix_depth = 0
_NOT_SET = object()  # an attribute the owner did not define itself
_replaced: list[tuple[object, str, object]] = []


@contextlib.contextmanager
def keras_fixes(strategy):
    """Fixes Keras's TensorFlow trainer under ``strategy`` for the ``with`` body.

    Keras 3.15 (the version ``pyproject.toml`` pins) needs three fixes to
    train and evaluate under a ``tf.distribute`` strategy as on one device:

    1. Before the first step of ``fit`` or ``evaluate`` it builds the
       optimizer and metrics from a batch it draws from the dataset and
       averages across replicas. Drawing that batch starts an iteration of
       the training set, which advances tf.data's reshuffle seed: every
       epoch of a distributed run would see the example order that one
       device sees an epoch later (no upstream issue found). Under
       ``MultiWorkerMirroredStrategy`` the cross-worker average also fails
       on the nested batch (keras-team/keras#20585). The fix builds from the
       dataset's element spec (shapes and dtypes are all the build reads).
    2. Under ``MultiWorkerMirroredStrategy`` it averages each step's scalar
       logs across workers with ``axis=0``, which a scalar does not have (no
       upstream issue found). The fix averages scalars without an axis.
    3. ``predict_on_batch`` runs the whole batch on every replica and
       concatenates the answers: 2 replicas return every row twice (no
       upstream issue found). The fix splits the batch across the replicas
       as ``predict`` does; ``model.predict(x, batch_size=len(x))`` is the
       plain call that does the same without it.

    Everything else stays Keras's code. The fixes replace two methods of
    ``TensorFlowTrainer`` and one function of its module while the block
    runs (process-wide, as any class attribute; blocks may nest) and put
    Keras's own back when the outermost block exits, also on an exception.
    A function traced inside the block (``fit``'s train step) keeps the
    fixed behaviour it was traced with.

    Args:
        strategy: the ``tf.distribute.Strategy`` the calls run under, or
            ``None`` (nothing to fix: the block runs Keras's own code).

    Example:

    >>> with keras_fixes(None):  # no strategy: nothing is replaced
    ...     pass
    """
    global _fix_depth
    if strategy is None:
        yield
        return
    if _fix_depth == 0:
        _replaced[:] = _install_fixes()
    _fix_depth += 1
    try:
        yield
    finally:
        _fix_depth -= 1
        if _fix_depth == 0:
            for owner, name, original in reversed(_replaced):
                if original is _NOT_SET:
                    delattr(owner, name)
                else:
                    setattr(owner, name, original)
            _replaced.clear()


def _install_fixes() -> list[tuple[object, str, object]]:
    """Installs :func:`keras_fixes`'s fixes; returns ``(owner, name, original)`` of each."""
    try:
        from keras.src.backend.tensorflow import trainer
    except ImportError:
        trainer = None
    required = ("reduce_per_replica", "_collective_all_reduce_multi_worker")
    if (
        trainer is None
        or not all(hasattr(trainer, name) for name in required)
        or not hasattr(trainer.TensorFlowTrainer, "_maybe_symbolic_build")
        or not hasattr(trainer.TensorFlowTrainer, "predict_on_batch")
    ):
        warnings.warn(
            "rnn_zoo could not find the Keras functions it fixes for training "
            "under tf.distribute; training runs on this Keras version's own "
            "code (a distributed run may see the shuffled examples in another "
            "order than one device, and multiworker may fail: "
            "keras-team/keras#20585).",
            stacklevel=4,
        )
        return []
    multi_worker = trainer._collective_all_reduce_multi_worker
    keras_reduce = trainer.reduce_per_replica
    keras_build = trainer.TensorFlowTrainer._maybe_symbolic_build
    keras_predict_on_batch = trainer.TensorFlowTrainer.predict_on_batch

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not multi_worker(strategy):
            return keras_reduce(values, strategy, reduction)
        import keras

        def reduce(value):
            if getattr(value, "shape", None) is not None and value.shape.rank == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return keras_reduce(value, strategy, reduction)

        return keras.tree.map_structure(reduce, values)

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        adapter = getattr(iterator, "data_adapter", None)
        if (
            data_batch is None
            and adapter is not None
            and getattr(self, "_distribute_strategy", None) is not None
        ):
            data_batch = adapter.get_tf_dataset().element_spec
            iterator = None
        return keras_build(self, iterator=iterator, data_batch=data_batch)

    def predict_on_batch(self, x):
        strategy = getattr(self, "_distribute_strategy", None)
        if strategy is not None and strategy.num_replicas_in_sync > 1:
            import keras

            rows = int(keras.tree.flatten(x)[0].shape[0])
            if rows > 0:
                return self.predict(x, batch_size=rows, verbose=0)
        return keras_predict_on_batch(self, x)

    fixes = [
        (trainer, "reduce_per_replica", reduce_per_replica),
        (trainer.TensorFlowTrainer, "_maybe_symbolic_build", maybe_symbolic_build),
        (trainer.TensorFlowTrainer, "predict_on_batch", predict_on_batch),
    ]
    replaced = []
    for owner, name, fixed in fixes:
        # The owner's own attribute (not an inherited one), restored as it was.
        replaced.append((owner, name, vars(owner).get(name, _NOT_SET)))
        setattr(owner, name, fixed)
    return replaced
