"""Token embeddings that refuse ids outside their vocabulary.

``keras.layers.Embedding`` reads a token id of -1 as the last row of its table
on TensorFlow and JAX (NumPy's negative indexing), and an id at or above the
vocabulary size either crashes deep inside the graph (TensorFlow on CPU) or
reads a row of NaNs or zeros (JAX, GPUs). rnn_zoo's builders embed their token
inputs with :class:`TokenEmbedding` instead, which checks every batch:

- concrete values (eager calls, ``run_eagerly``, PyTorch's eager ``fit``):
  a ``ValueError`` before any lookup;
- a TensorFlow graph (``fit``/``predict``/``evaluate`` under ``tf.function``,
  an exported SavedModel): an ``Assert`` op, so the step fails with
  ``InvalidArgumentError`` carrying the same message and the ids' range;
- a JAX trace (``jit``): a host callback that raises the same ``ValueError``
  when the compiled step runs (:mod:`rnn_zoo._keras_patches` keeps the
  model's weights through the error, which Keras's JAX trainer loses).

The check is one min and one max over the ids, next to nothing beside the
lookup it guards.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from rnn_zoo import _checks


def _message(where: str, vocab_size: int) -> str:
    return (
        f"{where}: token ids must be in [0, {vocab_size}) (0 = padding, "
        f"{vocab_size} = the vocabulary size); map unknown tokens to an unknown "
        "id before the model."
    )


def _check_values(values: np.ndarray, where: str, vocab_size: int) -> None:
    if values.size and (values.min() < 0 or values.max() >= vocab_size):
        raise ValueError(
            f"{_message(where, vocab_size)}\nReceived: ids from {values.min()} to "
            f"{values.max()}"
        )


def check_token_ids(ids, vocab_size: int, where: str):
    """Returns ``ids`` after checking each is in ``[0, vocab_size)``.

    Raises:
        ValueError: (concrete ids, or at run time on JAX) naming ``where``, the
            valid range and the ids' range received.
        tensorflow.errors.InvalidArgumentError: the same message, when a
            TensorFlow graph runs with a bad id.
    """

    def valid(ids):  # the graph check: TensorFlow only
        import tensorflow as tf

        return tf.logical_and(
            tf.reduce_all(tf.greater_equal(ids, 0)),
            tf.reduce_all(tf.less(ids, tf.cast(vocab_size, ids.dtype))),
        )

    def message(ids):
        import tensorflow as tf

        return [
            _message(where, vocab_size) + " Received: ids from",
            tf.reduce_min(ids),
            "to",
            tf.reduce_max(ids),
        ]

    return _checks.check_at_run_time(
        ids, lambda v: _check_values(v, where, vocab_size), valid, message
    )


@keras.saving.register_keras_serializable(package="rnn_zoo")
class TokenEmbedding(keras.layers.Embedding):
    """``keras.layers.Embedding`` that refuses ids outside ``[0, input_dim)``.

    Same arguments, weights and outputs as ``keras.layers.Embedding``; a
    negative id or one at or above ``input_dim`` is an error (see the module
    docstring for where it is raised) instead of a silent lookup of another
    row.

    Example:

    >>> import numpy as np
    >>> layer = TokenEmbedding(10, 4)
    >>> tuple(layer(np.array([[1, 2, 0]])).shape)
    (1, 3, 4)
    >>> try:
    ...     layer(np.array([[1, -1]]))
    ... except ValueError as error:
    ...     print("Received: ids from -1 to 1" in str(error))
    True
    """

    def call(self, inputs):
        if "int" not in keras.backend.standardize_dtype(inputs.dtype):
            inputs = ops.cast(inputs, "int32")
        inputs = check_token_ids(inputs, self.input_dim, self.name)
        return super().call(inputs)
