"""Argument checks shared across rnn_zoo (layers, builders, data, export).

Each check raises before any backend op, with a message that names the argument,
what was expected and what was received (DESIGN.md, house rule 2).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np
from keras import backend, ops


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"`{name}` must be a positive integer. Received: {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    if value <= 0:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value}"
        )
    return int(value)


def check_units(units, name: str = "units") -> int:
    return check_positive_int(units, name)


def check_real(value, name: str, *, minimum: float = 0.0, strict: bool = True) -> float:
    """A finite float above ``minimum`` (``strict``) or at least ``minimum``.

    >>> check_real(0.1, "dt")
    0.1
    """
    bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{name}` must be a finite float {bound}. Received: {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    value = float(value)
    below = value <= minimum if strict else value < minimum
    if below or value != value or value in (float("inf"), float("-inf")):
        raise ValueError(
            f"`{name}` must be a finite float {bound}. Received: {name}={value}"
        )
    return value


def check_rate(rate, name: str) -> float:
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(
            f"`{name}` must be a float in [0, 1). Received: {name}={rate!r} "
            f"of type {type(rate).__name__}"
        )
    if not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"`{name}` must be a float in [0, 1). Received: {name}={rate}")
    return float(rate)


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(
            f"Unknown `{name}`: expected one of {sorted(choices, key=str)!r}. "
            f"Received: {name}={value!r}"
        )
    return value


def check_sequence_shape(shape, layer_name: str, arg: str = "inputs") -> None:
    """A sequence is (batch, timesteps, features) with at least one timestep."""
    shape = tuple(shape)
    if len(shape) != 3:
        raise ValueError(
            f"Layer '{layer_name}' expects `{arg}` of rank 3 "
            f"(batch, timesteps, features). Received: {arg}.shape={shape}"
        )
    if shape[1] == 0:
        raise ValueError(
            f"Layer '{layer_name}' expects `{arg}` with at least 1 timestep. "
            f"Received: {arg}.shape={shape}"
        )
    if shape[2] is None:
        raise ValueError(
            f"Layer '{layer_name}' needs the feature size (last axis) of `{arg}` "
            f"to be known. Received: {arg}.shape={shape}"
        )


def check_float(x, layer_name: str, arg: str = "inputs") -> None:
    dtype = backend.standardize_dtype(x.dtype)
    if "float" not in dtype:
        raise TypeError(
            f"Layer '{layer_name}' expects a floating-point `{arg}` "
            f"(cast it, or put an Embedding layer in front of integer ids). "
            f"Received: {arg}.dtype={dtype}"
        )


def check_mask(mask, inputs_shape, layer_name: str) -> None:
    if mask is None:
        return
    dtype = backend.standardize_dtype(mask.dtype)
    if dtype != "bool":
        raise TypeError(
            f"Layer '{layer_name}' expects a boolean `mask` "
            f"(True for steps to use). Received: mask.dtype={dtype}"
        )
    mshape = tuple(mask.shape)
    expected = tuple(inputs_shape[:2])
    if len(mshape) != 2 or any(
        m is not None and e is not None and m != e for m, e in zip(mshape, expected)
    ):
        raise ValueError(
            f"Layer '{layer_name}' expects `mask` of shape (batch, timesteps) = "
            f"{expected}. Received: mask.shape={mshape}"
        )


def check_initial_state(initial_state, state_units, batch_size, layer_name: str):
    """`initial_state` is a list of (batch, units) tensors, one per state."""
    states = (
        list(initial_state)
        if isinstance(initial_state, (list, tuple))
        else [initial_state]
    )
    if len(states) != len(state_units):
        raise ValueError(
            f"Layer '{layer_name}' expects `initial_state` to be a list of "
            f"{len(state_units)} tensor(s). Received: {len(states)} tensor(s)"
        )
    for i, (state, units) in enumerate(zip(states, state_units)):
        shape = tuple(state.shape)
        if len(shape) != 2 or (shape[1] is not None and shape[1] != units):
            raise ValueError(
                f"Layer '{layer_name}' expects `initial_state[{i}]` of shape "
                f"(batch, {units}). Received: initial_state[{i}].shape={shape}"
            )
        if batch_size is not None and shape[0] is not None and shape[0] != batch_size:
            raise ValueError(
                f"Layer '{layer_name}' expects `initial_state[{i}]` to have the "
                f"batch size of `inputs` ({batch_size}). "
                f"Received: initial_state[{i}].shape={shape}"
            )
    return states


def check_text(value, name: str = "text") -> str:
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be a string. Received: {name}={value!r}")
    return value


def check_characters(vocabulary, name: str = "vocabulary") -> tuple[str, ...]:
    """A non-empty sequence of distinct single characters, as a tuple."""
    if isinstance(vocabulary, str) or not isinstance(vocabulary, Sequence):
        raise TypeError(
            f"`{name}` must be a list of characters. Received: {name}={vocabulary!r}"
        )
    if not vocabulary or not all(
        isinstance(c, str) and len(c) == 1 for c in vocabulary
    ):
        raise ValueError(
            f"`{name}` must be a non-empty list of single characters. "
            f"Received: {name}={list(vocabulary)[:10]!r}"
        )
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError(f"`{name}` must not repeat characters.")
    return tuple(vocabulary)


def check_fractions(fractions, name: str = "fractions") -> tuple[float, float, float]:
    """Three shares in (0, 1) for train, validation and test that sum to 1.

    >>> check_fractions([0.8, 0.1, 0.1])
    (0.8, 0.1, 0.1)
    """
    if (
        isinstance(fractions, str)
        or not isinstance(fractions, Sequence)
        or len(fractions) != 3
        or not all(
            isinstance(f, numbers.Real) and not isinstance(f, bool) and 0 < f < 1
            for f in fractions
        )
        or abs(sum(fractions) - 1.0) > 1e-6
    ):
        raise ValueError(
            f"`{name}` must be three numbers in (0, 1) for train, validation "
            f"and test that sum to 1. Received: {name}={fractions!r}"
        )
    return tuple(float(f) for f in fractions)


def check_at_run_time(
    tensor,
    numpy_check: Callable[[np.ndarray], None],
    tf_valid: Callable,
    tf_message: Callable[..., list],
):
    """Returns ``tensor`` after checking its values wherever they become known.

    - concrete values (eager calls, ``run_eagerly``, PyTorch): ``numpy_check``
      raises its ``ValueError`` before any use;
    - a TensorFlow graph (``fit``/``predict`` under ``tf.function``, an
      exported SavedModel): an ``Assert`` op on ``tf_valid(tensor)`` with
      ``tf_message(tensor)`` (a list of strings and tensors), so the step
      fails with ``InvalidArgumentError``;
    - a JAX trace (``jit``): a host callback that runs ``numpy_check`` when
      the compiled step runs.
    """
    try:
        values = ops.convert_to_numpy(tensor)
    except Exception:  # symbolic: a TensorFlow graph or a JAX trace
        values = None
    if values is not None:
        numpy_check(values)
        return tensor
    if backend.backend() == "tensorflow":
        import tensorflow as tf

        check = tf.debugging.Assert(tf_valid(tensor), tf_message(tensor))
        with tf.control_dependencies([check]):
            return tf.identity(tensor)
    if backend.backend() == "jax":
        import jax

        jax.debug.callback(lambda v: numpy_check(np.asarray(v)), tensor)
    return tensor
