"""The recipes' training loop: Keras's ``fit`` epoch loop, checkpointed so that a kill loses little.

``Model.fit`` cannot start in the middle of an epoch, so :func:`fit_resumable`
runs the same loop itself, step by step through ``model.train_function``
(Keras's compiled train step, the one ``fit`` calls) with Keras's callbacks
(early stopping, TensorBoard, the progress bar, the history) called at the
same points as ``fit`` calls them.

Every ``--checkpoint-every`` steps, at the start and at each epoch's end it
writes a checkpoint (:mod:`rnn_zoo.training.checkpoint`) of everything the
rest of the run depends on:

- every model variable (weights and the dropout layers' ``SeedGenerator``
  states), every optimizer variable (slots and iteration count) and every
  metric variable (the epoch's running loss and accuracy);
- the ``tf.data`` iterator: its position, its shuffle buffer and the
  shuffle's seed state, so the rest of this epoch and every later epoch see
  the batches they would have seen;
- the epoch and step, the history so far, and early stopping's state
  (patience count, best value, best epoch and best weights).

A run restarted with the same flags continues from the newest checkpoint
and ends with the same weights, bit for bit on CPU, as if it had never been
stopped (``tests/recipes/test_resume.py`` kills a real run to check it).

Non-finite values never reach a checkpoint: when a step's loss is NaN or
infinite, or a variable about to be checkpointed is (a non-finite gradient
shows up there, and in the next step's loss), training stops, the model
is rolled back to the newest checkpoint and :class:`NonFiniteLossError`
says so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import tempfile
import time
from typing import Any

import keras
import numpy as np

from rnn_zoo.training import checkpoint as _checkpoint

# Training steps between two checkpoints (besides each epoch's end).
DEFAULT_CHECKPOINT_EVERY = 100
# Flags that may change between a run and its resumption: they do not change
# what is trained (where it is written, how often it is checkpointed, logs).
RESUMABLE_FLAG_CHANGES = frozenset(
    {"output", "resume", "checkpoint_every", "tensorboard"}
)


class ResumeError(ValueError):
    """The output directory's checkpoint cannot be resumed with these flags."""


class NonFiniteLossError(RuntimeError):
    """Training diverged (a NaN or infinite loss or weight) and was rolled back."""


def checkpoint_dir(args: argparse.Namespace) -> str:
    return os.path.join(args.output, _checkpoint.CHECKPOINT_DIR)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def run_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The flags that decide what is trained, as JSON would hold them."""
    flags = {k: v for k, v in vars(args).items() if k not in RESUMABLE_FLAG_CHANGES}
    return json.loads(json.dumps(flags))


def resume_plan(args: argparse.Namespace) -> tuple[str, dict] | None:
    """The checkpoint to resume from and its state, or ``None`` to start fresh.

    ``args.resume`` is ``True`` (must resume), ``False`` (start over) or
    ``None`` (resume when ``OUTPUT/checkpoints`` holds a checkpoint).

    Raises:
        ResumeError: ``--resume`` with no checkpoint, or a checkpoint written
            with other flags (each differing flag is named).
    """
    resume = getattr(args, "resume", None)
    if resume is False:
        return None
    directory = checkpoint_dir(args)
    found = _checkpoint.latest_checkpoint(directory)
    if found is None:
        if resume:
            raise ResumeError(
                f"--resume: there is no checkpoint to resume in {directory!r} "
                "(give the --output of the interrupted run)"
            )
        return None
    path, state = found
    saved, now = state.get("flags", {}), run_flags(args)
    differing = [
        f"{_flag(name)} {saved.get(name, '(absent)')!r} in the checkpoint, "
        f"{now.get(name, '(absent)')!r} now"
        for name in sorted(set(saved) | set(now))
        if saved.get(name, "(absent)") != now.get(name, "(absent)")
    ]
    if differing:
        raise ResumeError(
            f"--output {args.output!r} holds a checkpoint ({os.path.basename(path)}) "
            f"of a run with other flags: {'; '.join(differing)}. Resume it with "
            "its flags, or start over with --no-resume."
        )
    return path, state


def _state_variables(model: keras.Model) -> list:
    """Every variable a training step reads or writes, each once, in a fixed order."""
    seen: set[int] = set()
    result = []
    for variables in (
        model.variables,
        model.optimizer.variables,
        model.metrics_variables,
    ):
        for variable in variables:
            if id(variable) not in seen:
                seen.add(id(variable))
                result.append(variable)
    return result


def _non_finite(name: str, array: np.ndarray) -> str | None:
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        return name
    return None


def _early_stoppings(
    callbacks: list,
) -> list[tuple[int, keras.callbacks.EarlyStopping]]:
    return [
        (i, c)
        for i, c in enumerate(callbacks)
        if isinstance(c, keras.callbacks.EarlyStopping)
    ]


def _build(model: keras.Model, element_spec: Any) -> None:
    # Keras builds the metrics and the optimizer at the first train step; a
    # resumed run must build them before it can restore their state. This is
    # what fit does under a distribution strategy (Trainer._symbolic_build).
    strategy = getattr(model, "distribute_strategy", None)  # TensorFlow only
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model._symbolic_build(data_batch=element_spec)


def _train_step(model: keras.Model, iterator) -> dict | None:
    """One training step on the iterator's next batch; ``None`` at the epoch's end."""
    import tensorflow as tf

    if keras.backend.backend() == "tensorflow":
        try:
            return model.train_function(iterator)
        except (StopIteration, tf.errors.OutOfRangeError):
            return None
    try:
        batch = next(iterator)
    except (StopIteration, tf.errors.OutOfRangeError):
        return None
    batch = keras.tree.map_structure(lambda t: t.numpy(), batch)
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
    return model.train_on_batch(x, y, sample_weight=sample_weight, return_dict=True)


def fit_resumable(
    model: keras.Model,
    train: Any,
    validation: Any,
    args: argparse.Namespace,
    *,
    epochs: int,
    callbacks: list[keras.callbacks.Callback],
) -> tuple[keras.callbacks.History, float]:
    """Trains like ``model.fit(train, validation_data=validation, ...)``, checkpointed.

    Args:
        model: a compiled model.
        train, validation: ``tf.data`` datasets of ``(x, y)`` batches;
            ``train`` reshuffles itself each epoch, if at all.
        args: the recipe's flags: ``output`` (checkpoints go to
            ``OUTPUT/checkpoints``), ``checkpoint_every``, ``resume``; the
            others are recorded and must match to resume.
        epochs: the most epochs.
        callbacks: Keras callbacks, as for ``fit``.

    Returns:
        The ``History`` (of every epoch, resumed ones included) and the
        training seconds (summed over the resumed attempts; the steps a kill
        lost are not counted).

    Raises:
        ResumeError: see :func:`resume_plan`.
        NonFiniteLossError: the loss or a variable became NaN or infinite;
            the model holds the newest checkpoint's values.
    """
    from rnn_zoo import distribute

    # Keras's trainer needs fixes to train under a strategy; they last as
    # long as this loop (rnn_zoo.distribute.keras_fixes).
    strategy = distribute.strategy_for(args)
    if strategy is None:
        strategy = getattr(model, "_distribute_strategy", None)
    with distribute.keras_fixes(strategy):
        return _fit_resumable(
            model, train, validation, args, epochs=epochs, callbacks=callbacks
        )


def _fit_resumable(
    model: keras.Model,
    train: Any,
    validation: Any,
    args: argparse.Namespace,
    *,
    epochs: int,
    callbacks: list[keras.callbacks.Callback],
) -> tuple[keras.callbacks.History, float]:
    import tensorflow as tf

    directory = checkpoint_dir(args)
    every = getattr(args, "checkpoint_every", DEFAULT_CHECKPOINT_EVERY)
    plan = resume_plan(args)
    if plan is None:
        stale = _checkpoint.list_checkpoints(directory)
        if stale:
            reason = (
                "--no-resume"
                if getattr(args, "resume", None) is False
                else "no checkpoint there reads back whole"
            )
            print(
                f"{reason}: starting over; deleting {len(stale)} checkpoint(s) "
                f"in {directory}"
            )
        shutil.rmtree(directory, ignore_errors=True)

    strategy = getattr(model, "distribute_strategy", None)  # TensorFlow only
    dataset = train
    if strategy is not None:
        dataset = strategy.experimental_distribute_dataset(train)
    _build(model, train.element_spec)
    steps = int(train.cardinality())
    steps = steps if steps > 0 else None
    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(
        [*callbacks, history],
        add_progbar=True,
        verbose=1,
        epochs=epochs,
        steps=steps,
        model=model,
    )
    variables = _state_variables(model)
    stoppers = _early_stoppings(callbacks)
    model.stop_training = False
    model.make_train_function()
    callback_list.on_train_begin()

    # Each new iterator of a reshuffling dataset draws the next shuffle seed
    # from the dataset's seed generator; `made` counts them so that a resumed
    # run can put that generator back where it was.
    made = 0
    epoch = step = global_step = 0
    seconds_before = 0.0
    if plan is None:
        iterator, made = iter(dataset), 1
    else:
        path, state = plan
        _restore(path, state, model, variables, stoppers, history)
        made = state["iterators_made"]
        iterator = _restored_iterator(dataset, path, made, state["step"])
        epoch, step, global_step = state["epoch"], state["step"], state["global_step"]
        seconds_before = state["train_seconds"]
        model.stop_training = state["stop_training"]
        for newer in _checkpoint.list_checkpoints(directory):
            if os.path.basename(newer) > os.path.basename(path):
                shutil.rmtree(newer, ignore_errors=True)  # skipped as damaged
        print(
            f"Resuming from {path}: epoch {min(epoch + 1, epochs)}/{epochs}, "
            f"after {step} of its steps ({global_step} steps done in all)"
        )
    start = time.time()

    def save() -> None:
        arrays = {f"v{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(variables)}
        bad = [
            _non_finite(v.path, arrays[f"v{i:05d}"]) for i, v in enumerate(variables)
        ]
        bad = [name for name in bad if name]
        if bad:
            roll_back(f"non-finite values in {', '.join(bad[:3])}")
        stopper_state = []
        for i, stopper in stoppers:
            best_weights = stopper.best_weights
            for j, weight in enumerate(best_weights or []):
                arrays[f"cb{i}_best_{j:05d}"] = np.asarray(weight)
            stopper_state.append(
                {
                    "index": i,
                    "wait": int(stopper.wait),
                    "stopped_epoch": int(stopper.stopped_epoch),
                    "best": None if stopper.best is None else float(stopper.best),
                    "best_epoch": int(stopper.best_epoch),
                    "best_weights": None if best_weights is None else len(best_weights),
                }
            )
        state = {
            "epoch": epoch,
            "step": step,
            "epochs": epochs,
            "stop_training": bool(model.stop_training),
            "train_seconds": seconds_before + time.time() - start,
            "flags": run_flags(args),
            "variables": [[v.path, list(v.shape)] for v in variables],
            "history": {"epoch": history.epoch, "history": history.history},
            "early_stopping": stopper_state,
            "iterators_made": made,
        }
        saveable = isinstance(iterator, tf.data.Iterator)
        _checkpoint.write_checkpoint(
            directory,
            global_step,
            state,
            arrays,
            {"iterator": iterator} if saveable else None,
        )

    def roll_back(reason: str) -> None:
        found = _checkpoint.latest_checkpoint(directory)
        where = "its initial weights"
        if found is not None:
            path, state = found
            arrays = _checkpoint.read_arrays(path)
            for i, variable in enumerate(variables):
                variable.assign(arrays[f"v{i:05d}"])
            where = (
                f"the newest checkpoint, {path} (epoch {state['epoch'] + 1}, "
                f"step {state['step']})"
            )
        message = (
            f"Training stopped: {reason} at epoch {epoch + 1}, step {step}. No "
            f"checkpoint holds a non-finite value; the model was rolled back to "
            f"{where}. Resuming would repeat the same steps: start over with "
            "--no-resume and other flags (a lower --learning-rate, say)."
        )
        raise NonFiniteLossError(message)

    if plan is None:
        save()  # step 0: a finite state to roll back to from the first step
    logs: dict = {}
    while epoch < epochs and not model.stop_training:
        if step == 0:
            model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        while steps is None or step < steps:
            callback_list.on_train_batch_begin(step)
            step_logs = _train_step(model, iterator)
            if step_logs is None:
                break
            logs = step_logs
            step += 1
            global_step += 1
            callback_list.on_train_batch_end(step - 1, logs)
            loss = float(np.asarray(logs["loss"]))
            if not math.isfinite(loss):
                roll_back(f"the loss became {loss}")
            if every and global_step % every == 0:
                save()
            if model.stop_training:
                break
        epoch_logs = dict(model.get_metrics_result())
        if validation is not None:
            val_logs = model.evaluate(
                validation, callbacks=callback_list, return_dict=True
            )
            epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
        callback_list.on_epoch_end(epoch, epoch_logs)
        logs = epoch_logs
        epoch += 1
        step = 0
        if epoch < epochs and not model.stop_training:
            if steps is not None:
                # Keras's fit (3.x) makes one iterator at the end of an epoch of
                # known length and another at the next epoch's start, each
                # drawing a shuffle seed; doing the same keeps every recipe's
                # batches, and so its results, the same as under fit.
                iter(dataset)
                made += 1
            iterator = iter(dataset)
            made += 1
        save()

    if isinstance(model.optimizer, keras.optimizers.Optimizer):
        model.optimizer.finalize_variable_values(model.trainable_weights)
    callback_list.on_train_end(logs=logs)
    return history, seconds_before + time.time() - start


def _restored_iterator(dataset, path: str, made: int, step: int):
    """The checkpoint's iterator, with the dataset's shuffle seed state as it was.

    The iterator's own state (position, shuffle buffer, this epoch's seeds)
    comes from the checkpoint. The seed generator that later epochs' new
    iterators draw from is shared by the dataset's iterators; restoring an
    iterator sets it too, but a draw too far when the shuffle had already
    read all of its input (TF 2.21). So it is set again from an iterator
    made here after as many draws as the interrupted run had made, saved
    untouched and restored.

    An iterator that ``tf.train.Checkpoint`` cannot save (a distribution
    strategy's) is not in the checkpoint: the same draws are made again and
    the epoch's first ``step`` batches read and dropped, which puts a seeded
    pipeline where it was.
    """
    import tensorflow as tf

    for _ in range(made - 1):
        iter(dataset)
    iterator = iter(dataset)
    if not os.path.exists(os.path.join(path, os.path.dirname(_checkpoint.TF_PREFIX))):
        for _ in range(step):
            next(iterator)
        return iterator
    with tempfile.TemporaryDirectory() as scratch:
        untouched = os.path.join(scratch, "untouched")
        tf.train.Checkpoint(iterator=iterator).write(untouched)
        _checkpoint.restore_tf_objects(path, {"iterator": iterator})
        tf.train.Checkpoint(iterator=iter(dataset)).read(
            untouched
        ).assert_existing_objects_matched()
    return iterator


def _restore(path, state, model, variables, stoppers, history) -> None:
    """Sets the model, optimizer, metrics and callbacks to a checkpoint's."""
    # Shapes, not paths: Keras numbers its layer names per process.
    saved = [shape for _, shape in state["variables"]]
    shapes = [list(v.shape) for v in variables]
    if saved != shapes:
        raise ResumeError(
            f"{path} does not fit this model: it holds {len(saved)} variables, "
            f"the model has {len(shapes)} (or their shapes differ); start over "
            "with --no-resume"
        )
    arrays = _checkpoint.read_arrays(path)
    for i, variable in enumerate(variables):
        variable.assign(arrays[f"v{i:05d}"])
    for saved in state["early_stopping"]:
        index = saved["index"]
        stopper = dict(stoppers)[index]
        stopper.wait = saved["wait"]
        stopper.stopped_epoch = saved["stopped_epoch"]
        stopper.best = saved["best"]
        stopper.best_epoch = saved["best_epoch"]
        count = saved["best_weights"]
        stopper.best_weights = (
            None
            if count is None
            else [arrays[f"cb{index}_best_{j:05d}"] for j in range(count)]
        )
    history.epoch = list(state["history"]["epoch"])
    history.history = {k: list(v) for k, v in state["history"]["history"].items()}
