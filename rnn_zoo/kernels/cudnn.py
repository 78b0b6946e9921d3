"""cuDNN's sequence kernel for rnn_zoo layers on TensorFlow GPUs (``CudnnRNNV3``), and cuDNN's weight layout.

cuDNN runs a whole sequence, forward and backward, in its own GPU kernels. It
takes one flat weight vector in its canonical layout, which PyTorch's
``torch.nn.LSTM``/``GRU`` also use: for one layer and direction the input
weights ``W_ih`` (``gates * units`` rows of ``inputs``), the recurrent
weights ``W_hh`` (``gates * units`` rows of ``units``), then the input and
recurrent biases; gates ``i, f, g, o`` for an LSTM (Keras's order) and
``r, z, n`` for a GRU (Keras has ``z, r, h``). Keras's LSTM has one bias; it
goes in ``b_ih`` with a zero ``b_hh``. cuDNN's GRU is the ``reset_after=True``
GRU, and its plain RNN is SimpleRNN with ``tanh`` or ``relu``.

Masks: cuDNN takes sequence lengths, so only a right-padded mask whose rows
each have at least one real step can use it. Whether a mask is one is only
known from its values, so the choice is made inside the graph (``tf.cond``):
any other mask runs the ``fallback`` kernel the caller gives, never an
error. cuDNN's outputs past a sequence's end are zero; Keras
repeats the last real output there (or outputs zero with
``zero_output_for_mask``), which is restored here. ``go_backwards`` with a
mask reverses each sequence within its length, as Keras's own cuDNN path
does, so the padding comes first in processing order.

JAX is not served here: ``jax.experimental.rnn``'s cuDNN LSTM matched the
reference on an H100 (outputs and gradients), but its lowering leaves the
layouts of its results to XLA, and inside a ``lax.cond`` XLA read its
outputs as time-major (rnn_zoo's GPU test caught wrong outputs for a
right-padded batch). Until that can be fixed and checked on a GPU, JAX runs
the reference ``lax.scan`` on every device.

Numerics are tested against :func:`rnn_zoo.kernels.reference.run_reference`
(``tests/layers/test_kernels.py``): on any machine with the op replaced by
an emulation of its documented contract, and by the same matrices on a GPU
with TensorFlow's GPU build (not yet run: no such machine was available);
the weight layout against PyTorch's, which is cuDNN's, on any machine.
"""

from __future__ import annotations

from keras import ops

from rnn_zoo.layers.convert import gru_gate_order

# rnn_zoo's fused kernel family -> cuDNN's RNN mode.
CUDNN_MODES = {
    "lstm": "lstm",
    "gru": "gru",
    "simple_tanh": "rnn_tanh",
    "simple_relu": "rnn_relu",
}


def canonical_weights(kind: str, weights: dict, units: int) -> list:
    """``[W_ih, W_hh, b_ih, b_hh]`` in cuDNN's (and ``torch.nn``'s) layout.

    Args:
        kind: ``"lstm"``, ``"gru"`` (``reset_after=True``), ``"simple_tanh"``
            or ``"simple_relu"``.
        weights: the cell's ``step_weights``: ``kernel`` ``(inputs,
            gates * units)``, ``recurrent_kernel`` ``(units, gates * units)``,
            ``bias`` (``(2, 3 * units)`` for a GRU) or None.
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


def right_padded_lengths(mask):
    """``(lengths, ok)``: each row's real steps (int32), and whether cuDNN can take the mask.

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


# ---------------------------------------------------------------- TensorFlow


def _cudnn_rnn_v3(**kwargs):
    """``tf.raw_ops.CudnnRNNV3`` (one name for the tests' CPU emulation to replace)."""
    import tensorflow as tf

    return tf.raw_ops.CudnnRNNV3(**kwargs)


def run_tf(
    kind,
    sequences,
    initial_states,
    weights,
    units,
    fallback,
    mask=None,
    go_backwards=False,
    return_sequences=True,
    zero_output_for_mask=False,
):
    """``tf.raw_ops.CudnnRNNV3`` for a batch-major ``(B, T, F)`` sequence.

    ``fallback()`` returns what this does, ``(last_output, outputs or None,
    final_states)``, through another kernel; it runs instead when ``mask``
    is not right padding.
    """
    import tensorflow as tf

    params = flat_params(kind, weights, units)
    xs = tf.transpose(sequences, (1, 0, 2))  # time-major: (T, B, F)
    batch, steps = tf.shape(xs)[1], tf.shape(xs)[0]
    h0 = initial_states[0][None]  # (layers, B, units)
    # The GRU and plain RNN have no cell state; the op still takes a tensor.
    c0 = initial_states[1][None] if kind == "lstm" else tf.zeros((), xs.dtype)

    def cudnn(xs, lengths):
        ys, h, c, _, _ = _cudnn_rnn_v3(
            input=xs,
            input_h=h0,
            input_c=c0,
            params=params,
            sequence_lengths=lengths,
            rnn_mode=CUDNN_MODES[kind],
            input_mode="linear_input",
            direction="unidirectional",
            is_training=True,
            time_major=True,
        )
        states = [h[0], c[0]] if kind == "lstm" else [h[0]]
        return ys, states

    if mask is None:
        # go_backwards without a mask is the plain reversed sequence.
        ys, states = cudnn(
            tf.reverse(xs, [0]) if go_backwards else xs, tf.fill([batch], steps)
        )
        outputs = tf.transpose(ys, (1, 0, 2))
        return outputs[:, -1], outputs if return_sequences else None, states

    lengths, ok = right_padded_lengths(mask)

    def fast():
        if not go_backwards:
            ys, states = cudnn(xs, lengths)
        else:
            # Each sequence reversed within its length; its outputs put back
            # in that order and the whole axis reversed: the padding comes
            # first in processing order, as on the reference path.
            reversed_xs = tf.reverse_sequence(xs, lengths, seq_axis=0, batch_axis=1)
            ys, states = cudnn(reversed_xs, lengths)
            ys = tf.reverse(
                tf.reverse_sequence(ys, lengths, seq_axis=0, batch_axis=1), [0]
            )
        outputs = tf.transpose(ys, (1, 0, 2))
        last, outputs = keras_masking(
            outputs, states[0], mask, zero_output_for_mask, go_backwards
        )
        return last, outputs if return_sequences else None, states

    return tf.cond(ok, fast, fallback)


def num_params(kind: str, inputs: int, units: int) -> int:
    """Length of cuDNN's weight vector for one layer and direction."""
    gates = {"lstm": 4, "gru": 3}.get(kind, 1)
    return int(gates * units * (inputs + units + 2))


__all__ = [
    "CUDNN_MODES",
    "canonical_weights",
    "flat_params",
    "keras_masking",
    "num_params",
    "right_padded_lengths",
    "run_tf",
]
