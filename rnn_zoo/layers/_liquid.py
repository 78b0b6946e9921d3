"""What the liquid cells (``CfC``, ``LTC``) share: LeCun's tanh and the mixed memory.

``mixed_memory`` (Lechner & Hasani 2020, "Learning long-term dependencies in
irregularly-sampled time series", as ``ncps.keras.MixedMemoryRNN``) puts an
LSTM-style memory in front of the continuous-time cell: the memory reads the
input and the cell's previous state, and its output is the cell's input::

    [i, g_in, g_f, g_out] = x W + h_{t-1} U + b
    c_t  = c_{t-1} * sigmoid(g_f + 1) + tanh(i) * sigmoid(g_in)
    x'_t = tanh(c_t) * sigmoid(g_out)          the continuous-time cell's input

The states are then ``[c, h]``, memory first, as in ``ncps``.
"""

from __future__ import annotations

import keras
from keras import ops

# ncps's MixedMemoryRNN adds this to the forget gate's pre-activation.
FORGET_GATE_BIAS = 1.0


@keras.saving.register_keras_serializable(package="rnn_zoo")
def lecun_tanh(x):
    """LeCun et al. 1998's scaled tanh, ``1.7159 * tanh(0.666 * x)`` (``ncps``'s default)."""
    return 1.7159 * ops.tanh(0.666 * x)


def get_activation(activation):
    """A Keras activation, where the name ``"lecun_tanh"`` means :func:`lecun_tanh`."""
    if activation == "lecun_tanh":
        return lecun_tanh
    return keras.activations.get(activation)


def fresh_initializer(initializer, index: int):
    """A copy of ``initializer`` for the ``index``-th weight that it starts.

    A Keras 3 random initializer draws the same values at every call (its
    seed is fixed when it is made), so weights of one shape would start equal
    (a CfC's four heads, making its time gate a no-op); a copy draws anew,
    and a seeded one moves its seed by ``index``.
    """
    config = initializer.get_config()
    if "seed" not in config:
        return initializer
    if isinstance(config["seed"], int):
        config["seed"] += index
    return type(initializer).from_config(config)


def check_mixed_memory(value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(
            "`mixed_memory` must be True or False. Received: "
            f"mixed_memory={value!r} of type {type(value).__name__}"
        )
    return value


def build_inputs(cell, input_shape) -> int:
    """Checks the input size, adds the memory's weights with ``mixed_memory``,
    and returns the size the continuous-time part reads (the memory's output
    or the features themselves)."""
    input_dim = input_shape[-1]
    if input_dim is None:
        raise ValueError(
            f"Cell '{cell.name}' needs a known input feature size. "
            f"Received: input_shape={tuple(input_shape)}"
        )
    cell.input_dim = int(input_dim)
    if cell.mixed_memory:
        add_memory_weights(cell, cell.input_dim, cell.units)
        return cell.units
    return cell.input_dim


def add_memory_weights(cell, input_dim: int, units: int) -> None:
    """The memory's ``memory_kernel``, ``memory_recurrent_kernel`` and ``memory_bias``."""
    cell.memory_kernel = cell.add_weight(
        shape=(input_dim, 4 * units),
        name="memory_kernel",
        initializer=fresh_initializer(cell.kernel_initializer, 100),
        regularizer=cell.kernel_regularizer,
        constraint=cell.kernel_constraint,
    )
    cell.memory_recurrent_kernel = cell.add_weight(
        shape=(units, 4 * units),
        name="memory_recurrent_kernel",
        initializer=cell.recurrent_initializer,
        regularizer=cell.recurrent_regularizer,
        constraint=cell.recurrent_constraint,
    )
    cell.memory_bias = None
    if cell.use_bias:
        cell.memory_bias = cell.add_weight(
            shape=(4 * units,),
            name="memory_bias",
            initializer=cell.bias_initializer,
            regularizer=cell.bias_regularizer,
            constraint=cell.bias_constraint,
        )


def memory_weights(cell, dtype) -> dict:
    bias = cell.memory_bias
    return {
        "kernel": ops.cast(cell.memory_kernel, dtype),
        "bias": None if bias is None else ops.cast(bias, dtype),
        "memory_recurrent_kernel": ops.cast(cell.memory_recurrent_kernel, dtype),
    }


def memory_step(projected, memory, h, weights):
    """One step of the memory from ``x W + b``; returns ``(c_t, x'_t)``."""
    z = projected + ops.matmul(h, weights["memory_recurrent_kernel"])
    i, input_gate, forget_gate, output_gate = ops.split(z, 4, axis=-1)
    memory = memory * ops.sigmoid(forget_gate + FORGET_GATE_BIAS) + ops.tanh(
        i
    ) * ops.sigmoid(input_gate)
    return memory, ops.tanh(memory) * ops.sigmoid(output_gate)
