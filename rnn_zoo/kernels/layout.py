"""Weight and mask layouts the fast kernels share: gate orders, cuDNN's flat weights, lengths.

cuDNN takes one flat weight vector in its canonical layout, which PyTorch's
``torch.nn.LSTM``/``GRU`` also use: for one layer and direction the input
weights ``W_ih`` (``gates * units`` rows of ``inputs``), the recurrent
weights ``W_hh`` (``gates * units`` rows of ``units``), then the input and
recurrent biases; gates ``i, f, g, o`` for an LSTM (Keras's order) and
``r, z, n`` for a GRU (Keras has ``z, r, h``). Keras's LSTM has one bias; it
goes in ``b_ih`` with a zero ``b_hh``. cuDNN's GRU is the ``reset_after=True``
GRU, and its plain RNN is SimpleRNN with ``tanh`` or ``relu``.

cuDNN and PyTorch's packed sequences take sequence lengths, so only a
right-padded mask whose rows each have at least one real step can use them
(:func:`right_padded_lengths`); their outputs past a sequence's end are zero,
where Keras repeats the last real output (:func:`keras_masking` restores it).

Used by :mod:`rnn_zoo.kernels.cudnn`, :mod:`rnn_zoo.kernels.fused_torch` and
the torch converters (:mod:`rnn_zoo.layers.convert`); nothing here imports a
backend.
"""

from __future__ import annotations

import numpy as np
from keras import ops


def variant(spec) -> str:
    """The fused variant of a kernel spec: ``"lstm"``, ``"gru"``, ``"simple_tanh"`` or ``"simple_relu"``.

    cuDNN and PyTorch name the plain RNN by its activation; rnn_zoo's
    ``"simple"`` family carries it as a parameter.
    """
    if spec.family == "simple":
        return f"simple_{spec.param('activation')}"
    return spec.family


def gru_gate_order(units: int) -> np.ndarray:
    """Indices that swap the first two of three gate blocks: torch's (r, z, n) <-> Keras's (z, r, h).

    Its own inverse; index a gate axis with it (``w[..., order]``) to go either way.
    """
    return np.concatenate(
        [np.arange(units, 2 * units), np.arange(units), np.arange(2 * units, 3 * units)]
    )


def canonical_weights(kind: str, weights: dict, units: int) -> list:
    """``[W_ih, W_hh, b_ih, b_hh]`` in cuDNN's (and ``torch.nn``'s) layout.

    Args:
        kind: ``"lstm"``, ``"gru"`` (``reset_after=True``), ``"simple_tanh"``
            or ``"simple_relu"`` (see :func:`variant`).
        weights: the cell's weights: ``kernel`` ``(inputs, gates * units)``,
            ``recurrent_kernel`` ``(units, gates * units)``, ``bias``
            (``(2, 3 * units)`` for a GRU) or None.
        units: the cell's units.
    """
    kernel, recurrent, bias = (
        weights["kernel"],
        weights["recurrent_kernel"],
        weights["bias"],
    )
    if bias is None:
        b_ih = b_hh = ops.zeros((kernel.shape[-1],), dtype=kernel.dtype)
    elif kind == "gru":
        b_ih, b_hh = bias[0], bias[1]
    else:
        b_ih, b_hh = bias, ops.zeros_like(bias)
    if kind == "gru":
        order = gru_gate_order(units)
        kernel, recurrent = (ops.take(w, order, axis=-1) for w in (kernel, recurrent))
        b_ih, b_hh = (ops.take(b, order, axis=-1) for b in (b_ih, b_hh))
    return [ops.transpose(kernel), ops.transpose(recurrent), b_ih, b_hh]


def flat_params(kind: str, weights: dict, units: int):
    """cuDNN's opaque weight vector for one layer and direction."""
    parts = canonical_weights(kind, weights, units)
    return ops.concatenate([ops.reshape(p, (-1,)) for p in parts], axis=0)


def num_params(kind: str, inputs: int, units: int) -> int:
    """Length of cuDNN's weight vector for one layer and direction."""
    gates = {"lstm": 4, "gru": 3}.get(kind, 1)
    return int(gates * units * (inputs + units + 2))


def right_padded_lengths(mask):
    """``(lengths, ok)``: each row's real steps (int32), and whether lengths can stand for the mask.

    ``ok`` is a boolean scalar tensor: the mask is right padding (every row
    is ``[True] * length + [False] * (T - length)``) and no row is empty.
    """
    mask = ops.cast(mask, "bool")
    lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
    steps = ops.arange(mask.shape[1], dtype="int32")
    expected = ops.less(ops.expand_dims(steps, 0), ops.expand_dims(lengths, 1))
    ok = ops.logical_and(
        ops.all(ops.equal(mask, expected)), ops.all(ops.greater(lengths, 0))
    )
    return lengths, ok


def keras_masking(outputs, last, mask, zero_output_for_mask, go_backwards):
    """Keras's outputs at padded steps from cuDNN's or a packed sequence's (zeros there).

    ``outputs`` is batch-major, in processing order; ``last`` the output at
    each row's last real step (cuDNN's final ``h``).
    """
    if go_backwards:
        # The padding came first: its outputs are the initial zero output
        # either way, and the last processed step is real.
        return last, outputs
    mask = ops.cast(mask, "bool")
    if zero_output_for_mask:
        last_output = ops.where(mask[:, -1:], last, ops.zeros_like(last))
        return last_output, outputs
    return last, ops.where(mask[..., None], outputs, last[:, None])
