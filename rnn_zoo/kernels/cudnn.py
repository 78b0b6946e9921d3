"""cuDNN's sequence kernel for TensorFlow GPUs (``CudnnRNNV3``): the table's ``tf-cudnn``.

cuDNN runs a whole sequence, forward and backward, in its own GPU kernels. It
takes one flat weight vector in its canonical layout, which is PyTorch's
``torch.nn`` layout too (:mod:`rnn_zoo.kernels.layout`). cuDNN's GRU is the
``reset_after=True`` GRU, and its plain RNN is SimpleRNN with ``tanh`` or
``relu``; it computes in float32 or float16.

Masks: cuDNN takes sequence lengths, so only a right-padded mask whose rows
each have at least one real step can use it. Whether a mask is one is only
known from its values: :mod:`rnn_zoo.kernels.select` looks at an eager mask,
and in a graph chooses between this kernel and the reference loop with a
``tf.cond``. (The fallback there is the reference loop, not ``tf-fused``:
the fused op's hand-written gradient cannot be taken through a ``tf.cond``
branch, TensorFlow loses the tensors it captures.) :func:`run` is only
called with no mask or a right-padded one. cuDNN's outputs past a sequence's
end are zero; Keras repeats the last real output there (or outputs zero with
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

from rnn_zoo.kernels import KernelUnavailable
from rnn_zoo.kernels.layout import flat_params, keras_masking, variant

# rnn_zoo's fused variant -> cuDNN's RNN mode.
CUDNN_MODES = {
    "lstm": "lstm",
    "gru": "gru",
    "simple_tanh": "rnn_tanh",
    "simple_relu": "rnn_relu",
}


def _in_xla_function() -> bool:
    """Whether TensorFlow is tracing an XLA-compiled function (``jit_compile=True``)."""
    try:
        import tensorflow as tf
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - TensorFlow without its private modules
        return False
    graph = tf.compat.v1.get_default_graph()
    return bool(control_flow_util.GraphOrParentsInXlaContext(graph))


def check(spec) -> None:
    """Refuses what cuDNN cannot run: other dtypes, and XLA-compiled functions."""
    if spec.dtype not in ("float32", "float16"):
        raise KernelUnavailable(
            f"compute dtype {spec.dtype} (cuDNN: float32 or float16)"
        )
    if _in_xla_function():
        raise KernelUnavailable(
            "inside an XLA-compiled function: cuDNN's op does not compile"
        )


def _cudnn_rnn_v3(**kwargs):
    """``tf.raw_ops.CudnnRNNV3`` (one name for the tests' CPU emulation to replace)."""
    import tensorflow as tf

    return tf.raw_ops.CudnnRNNV3(**kwargs)


def run(spec, sequences, initial_state, weights, mask, *, training):
    """``tf.raw_ops.CudnnRNNV3`` for a batch-major ``(B, T, F)`` sequence.

    ``mask`` is None or right padding with a real step in every row (the
    caller makes sure); an empty batch is refused.
    """
    import tensorflow as tf

    if sequences.shape[0] == 0:
        raise KernelUnavailable("an empty batch (cuDNN refuses one)")
    kind = variant(spec)
    params = flat_params(kind, weights, spec.units)
    xs = tf.transpose(sequences, (1, 0, 2))  # time-major: (T, B, F)
    batch, steps = tf.shape(xs)[1], tf.shape(xs)[0]
    h0 = initial_state[0][None]  # (layers, B, units)
    # The GRU and plain RNN have no cell state; the op still takes a tensor.
    c0 = initial_state[1][None] if kind == "lstm" else tf.zeros((), xs.dtype)

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

    sequences_out = spec.return_sequences
    if mask is None:
        # go_backwards without a mask is the plain reversed sequence.
        ys, states = cudnn(
            tf.reverse(xs, [0]) if spec.go_backwards else xs, tf.fill([batch], steps)
        )
        outputs = tf.transpose(ys, (1, 0, 2))
        return outputs[:, -1], outputs if sequences_out else None, states

    lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    if not spec.go_backwards:
        ys, states = cudnn(xs, lengths)
    else:
        # Each sequence reversed within its length; its outputs put back
        # in that order and the whole axis reversed: the padding comes
        # first in processing order, as on the reference path.
        reversed_xs = tf.reverse_sequence(xs, lengths, seq_axis=0, batch_axis=1)
        ys, states = cudnn(reversed_xs, lengths)
        ys = tf.reverse(tf.reverse_sequence(ys, lengths, seq_axis=0, batch_axis=1), [0])
    outputs = tf.transpose(ys, (1, 0, 2))
    last, outputs = keras_masking(
        outputs, states[0], mask, spec.zero_output_for_mask, spec.go_backwards
    )
    return last, outputs if sequences_out else None, states
