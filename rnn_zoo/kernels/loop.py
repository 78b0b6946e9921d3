"""``scan`` over the leading axis, as ``jax.lax.scan`` defines it, on every backend.

``keras.ops.scan`` serves JAX and PyTorch. On TensorFlow it keeps the carry in
TensorArrays, requires the per-step outputs to mirror the carry and leaves the
loop without ``maximum_iterations``, which XLA (``jit_compile=True``) rejects;
the TensorFlow loop here has none of those limits.
"""

from __future__ import annotations

from keras import backend, ops, tree


def scan(body, init, xs, ys_like):
    """``body(carry, x) -> (carry, y)`` over ``xs``'s leading axis; returns ``(carry, ys)``.

    ``ys_like`` has the structure, shapes and dtypes of one step's ``y``.
    """
    if backend.backend() == "tensorflow":
        return _tf_scan(body, init, xs, ys_like)
    return ops.scan(body, init, xs)


def _tf_scan(body, init, xs, ys_like):
    import tensorflow as tf

    xs_flat = [tf.convert_to_tensor(x) for x in tree.flatten(xs)]
    steps = xs_flat[0].shape[0]
    n = steps if steps is not None else tf.shape(xs_flat[0])[0]
    xs_tas = [
        tf.TensorArray(x.dtype, size=n, element_shape=x.shape[1:]).unstack(x)
        for x in xs_flat
    ]
    ys_tas = [
        tf.TensorArray(y.dtype, size=n, element_shape=y.shape)
        for y in tree.flatten(ys_like)
    ]

    def loop_body(i, carry, ys_tas):
        x = tree.pack_sequence_as(xs, [ta.read(i) for ta in xs_tas])
        new_carry, y = body(carry, x)
        ys_tas = [ta.write(i, v) for ta, v in zip(ys_tas, tree.flatten(y))]
        return i + 1, new_carry, ys_tas

    _, carry, ys_tas = tf.while_loop(
        lambda i, *_: i < n,
        loop_body,
        (tf.constant(0), init, ys_tas),
        maximum_iterations=n,
    )
    ys = tree.pack_sequence_as(ys_like, [ta.stack() for ta in ys_tas])
    return carry, ys
