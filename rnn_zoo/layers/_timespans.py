"""``timespans``: the elapsed time of every step, for cells that use time.

A continuous-time cell (``CfC``, ``LTC``) advances its state by the time that
passed since the previous observation. The sequence layers take it as
``timespans``, ``(batch, timesteps)`` or ``(batch, timesteps, 1)``, positive
and finite (1.0 where it is not given); a cell says whether it reads it with
its class attribute ``uses_time``.

A masked step leaves the state unchanged, so its timespan is not used (and
not checked): give the time since the last real observation at the next real
step.
"""

from __future__ import annotations

import numpy as np
from keras import backend, ops

from rnn_zoo import _checks


def uses_time(cell) -> bool:
    """Whether ``cell`` reads ``timespans`` (an rnn_zoo cell's ``uses_time``;
    False for a Keras-style cell without it)."""
    return bool(getattr(cell, "uses_time", False))


def refuse_timespans(layer_name: str, cell) -> None:
    raise ValueError(
        f"Layer '{layer_name}': its cell {type(cell).__name__} does not use time, "
        "so `timespans` cannot be given (the continuous-time cells CfC and LTC "
        "take them). Received: timespans for a cell with uses_time=False"
    )


def check_timespans_shape(shape, sequences_shape, layer_name: str) -> None:
    """``(batch, timesteps)`` or ``(batch, timesteps, 1)``, the sequences' batch and length."""
    shape, sequences_shape = tuple(shape), tuple(sequences_shape)
    expected = f"(batch, timesteps) or (batch, timesteps, 1) = {sequences_shape[:2]}"
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, None)):
        raise ValueError(
            f"Layer '{layer_name}' expects `timespans` of shape {expected}. "
            f"Received: timespans.shape={shape}"
        )
    for axis, name in ((0, "batch size"), (1, "number of timesteps")):
        got, want = shape[axis], sequences_shape[axis]
        if got is not None and want is not None and got != want:
            raise ValueError(
                f"Layer '{layer_name}' expects `timespans` with the {name} of "
                f"`sequences` ({want}), of shape {expected}. Received: "
                f"timespans.shape={shape}"
            )


def _message(layer_name: str) -> str:
    return (
        f"Layer '{layer_name}' expects `timespans` to be positive and finite "
        "(the time elapsed at each real step)."
    )


def _check_values(values: np.ndarray, layer_name: str) -> None:
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        raise ValueError(
            f"{_message(layer_name)} Received: {int(bad.sum())} value(s) that are "
            f"not, the first {float(values[bad].ravel()[0])!r}"
        )


def prepare_timespans(timespans, sequences_shape, mask, dtype, layer_name: str):
    """Checks ``timespans`` and returns them as ``(batch, timesteps, 1)`` in ``dtype``.

    Masked steps read 1.0 (their state is carried over; a padded 0 there is
    not an error).
    """
    if not hasattr(timespans, "shape"):
        timespans = np.asarray(timespans)
    check_timespans_shape(timespans.shape, sequences_shape, layer_name)
    kind = backend.standardize_dtype(timespans.dtype)
    if not ("float" in kind or "int" in kind) or kind == "bool":
        raise TypeError(
            f"Layer '{layer_name}' expects real-valued `timespans`. Received: "
            f"timespans.dtype={kind}"
        )
    timespans = ops.cast(timespans, dtype)
    if len(timespans.shape) == 2:
        timespans = ops.expand_dims(timespans, -1)
    if mask is not None:
        timespans = ops.where(
            ops.expand_dims(mask, -1), timespans, ops.ones_like(timespans)
        )

    def valid(ts):  # the graph check: TensorFlow only
        import tensorflow as tf

        return tf.reduce_all(tf.math.is_finite(ts) & (ts > 0))

    def message(ts):
        import tensorflow as tf

        return [_message(layer_name) + " Received: minimum", tf.reduce_min(ts)]

    return _checks.check_at_run_time(
        timespans, lambda v: _check_values(v, layer_name), valid, message
    )


def with_sequences_mask(sequences, args: tuple, kwargs: dict) -> dict:
    """``kwargs`` with ``mask`` set to the mask that ``sequences`` carries.

    Keras fills a layer's ``mask`` argument from its input only when the
    call has one tensor argument: with ``timespans`` (or an initial state)
    beside the sequences, a ``Masking`` layer's mask would be lost and the
    padding read as real steps. The sequence layers' ``__call__`` passes it
    on with this (unless a mask is given, by keyword or positionally).
    """
    if len(args) >= 2 or kwargs.get("mask") is not None:
        return kwargs
    mask = getattr(sequences, "_keras_mask", None)
    return kwargs if mask is None else {**kwargs, "mask": mask}
