"""SimpleRNNCell and SimpleRNN: the fully connected (Elman) recurrent network."""

from __future__ import annotations

import keras
from keras import ops

from rnn_zoo.layers.cell import RecurrentCell
from rnn_zoo.layers.recurrent import CellSequenceLayer, register_sequence_layer


@keras.saving.register_keras_serializable(package="rnn_zoo")
class SimpleRNNCell(RecurrentCell):
    """One step of a fully connected recurrent network.

    ``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``, the
    math and weight layout of ``keras.layers.SimpleRNNCell`` and of
    ``torch.nn.RNN`` (``nonlinearity="tanh"`` or ``"relu"``).

    Args:
        units: positive integer, size of the output and state.
        activation: ``"tanh"`` (default) or ``"relu"``; any Keras activation
            works, though only those two have a ``torch.nn.RNN`` counterpart.
        use_bias: whether to add ``bias`` ``(units,)``.
        kernel_initializer, recurrent_initializer, bias_initializer: Keras
            initializers of the three weights.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Keras
            regularizers of the three weights.
        kernel_constraint, recurrent_constraint, bias_constraint: Keras
            constraints of the three weights.
        dropout: in ``[0, 1)``, fraction of the inputs dropped in training.
        recurrent_dropout: in ``[0, 1)``, fraction of the previous state
            dropped in training.
        seed: seed of the dropout masks.

    Call arguments:
        inputs: ``(batch, features)``.
        states: list of one ``(batch, units)`` tensor.
        training: enables dropout.

    Example:

    >>> import numpy as np
    >>> cell = SimpleRNNCell(4)
    >>> out, states = cell(np.ones((2, 3), "float32"), [np.zeros((2, 4), "float32")])
    >>> tuple(out.shape)  # (batch, units)
    (2, 4)
    """

    gates = 1
    num_states = 1
    fused_family = "simple"

    def fused_params(self):
        reasons = self._activation_reasons(activation=("tanh", "relu"))
        return {"activation": self._activation_name("activation")}, reasons

    def step(self, projected, states, weights, recurrent_mask=None):
        h_prev = states[0]
        if recurrent_mask is not None:
            h_prev = h_prev * recurrent_mask
        h = self.activation(projected + ops.matmul(h_prev, weights["recurrent_kernel"]))
        return h, [h]


@register_sequence_layer("simple")
@keras.saving.register_keras_serializable(package="rnn_zoo")
class SimpleRNN(CellSequenceLayer):
    """A fully connected recurrent layer over a whole sequence.

    Takes every argument of ``SimpleRNNCell`` (``units``, ``activation``, ...)
    and of ``RNN`` (``return_sequences``, ``return_state``, ``go_backwards``,
    ``stateful``). ``get_weights()`` is ``[kernel, recurrent_kernel, bias]``
    with the shapes of ``keras.layers.SimpleRNN``.

    Example:

    >>> import numpy as np
    >>> layer = SimpleRNN(16, return_sequences=True)
    >>> tuple(layer(np.zeros((2, 7, 3), "float32")).shape)  # (batch, timesteps, units)
    (2, 7, 16)
    """

    cell_class = SimpleRNNCell
    # keras.layers' positional order.
    positional_args = (
        "activation",
        "use_bias",
        "kernel_initializer",
        "recurrent_initializer",
        "bias_initializer",
        "kernel_regularizer",
        "recurrent_regularizer",
        "bias_regularizer",
        "activity_regularizer",
        "kernel_constraint",
        "recurrent_constraint",
        "bias_constraint",
        "dropout",
        "recurrent_dropout",
        "return_sequences",
        "return_state",
        "go_backwards",
        "stateful",
        "unroll",
        "seed",
    )
