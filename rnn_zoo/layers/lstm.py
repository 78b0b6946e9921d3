"""LSTMCell and LSTM: long short-term memory (Hochreiter & Schmidhuber, 1997)."""

from __future__ import annotations

import keras
from keras import initializers, ops

from rnn_zoo.layers.cell import RecurrentCell, check_cell_implementation
from rnn_zoo.layers.recurrent import CellSequenceLayer, register_sequence_layer


@keras.saving.register_keras_serializable(package="rnn_zoo")
class LSTMCell(RecurrentCell):
    """One step of an LSTM.

    Gates in the order of ``keras.layers.LSTMCell`` and ``torch.nn.LSTM``:
    input ``i``, forget ``f``, candidate ``c``, output ``o``. ``kernel`` is
    ``(features, 4 * units)``, ``recurrent_kernel`` ``(units, 4 * units)``,
    ``bias`` ``(4 * units,)``. States are ``[h, c]``.

    Args:
        units: positive integer, size of the output and of each state.
        activation: activation of the candidate and of the cell output
            (default ``"tanh"``).
        recurrent_activation: activation of the gates (default ``"sigmoid"``).
        use_bias: whether to add ``bias``.
        unit_forget_bias: start the forget gate's bias at 1 (Jozefowicz et al.,
            2015); it forces ``bias_initializer="zeros"`` for that block only.
        kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: as for
            ``keras.layers.LSTMCell``.
        dropout: in ``[0, 1)``, fraction of the inputs dropped in training.
        recurrent_dropout: in ``[0, 1)``, fraction of ``h`` dropped before the
            recurrent product in training.
        seed: seed of the dropout masks.
        implementation: Keras's 1 or 2 (how ``keras.layers.LSTMCell`` groups
            its gate products); accepted for code written against Keras and
            kept in the config. rnn_zoo's cell computes the same either way.

    Example:

    >>> import numpy as np
    >>> cell = LSTMCell(4)
    >>> h, (h, c) = cell(np.ones((2, 3), "float32"), cell.get_initial_state(2))
    >>> tuple(h.shape), tuple(c.shape)  # (batch, units) each
    ((2, 4), (2, 4))
    """

    gates = 4
    num_states = 2
    fused_family = "lstm"

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        implementation=2,
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.implementation = check_cell_implementation(implementation, "LSTMCell")

    def _add_bias(self, shape, initializer=None):
        if self.use_bias and self.unit_forget_bias:
            units, base = self.units, self.bias_initializer

            def initializer(_, *args, **kwargs):
                return ops.concatenate(
                    [
                        base((units,), *args, **kwargs),
                        initializers.get("ones")((units,), *args, **kwargs),
                        base((2 * units,), *args, **kwargs),
                    ]
                )

        super()._add_bias(shape, initializer)

    def step(self, projected, states, weights, recurrent_mask=None):
        h_prev, c_prev = states
        if recurrent_mask is not None:
            h_for_matmul = h_prev * recurrent_mask
        else:
            h_for_matmul = h_prev
        z = projected + ops.matmul(h_for_matmul, weights["recurrent_kernel"])
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_prev + i * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        return h, [h, c]

    def fused_params(self):
        return {}, self._activation_reasons(
            activation="tanh", recurrent_activation="sigmoid"
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "recurrent_activation": keras.activations.serialize(
                    self.recurrent_activation
                ),
                "unit_forget_bias": self.unit_forget_bias,
                "implementation": self.implementation,
            }
        )
        return config


@register_sequence_layer("lstm")
@keras.saving.register_keras_serializable(package="rnn_zoo")
class LSTM(CellSequenceLayer):
    """An LSTM layer over a whole sequence.

    Takes every argument of ``LSTMCell`` and of ``RNN``
    (``return_sequences``, ``return_state``, ``go_backwards``, ``stateful``).
    ``get_weights()`` is ``[kernel, recurrent_kernel, bias]`` with the shapes
    and gate order of ``keras.layers.LSTM``, so weights move both ways with
    ``set_weights``. With ``return_state=True`` it returns
    ``[output, h, c]``.

    Example:

    >>> import numpy as np
    >>> layer = LSTM(32, return_state=True)
    >>> out, h, c = layer(np.zeros((4, 10, 8), "float32"))
    >>> tuple(out.shape), tuple(h.shape), tuple(c.shape)  # (batch, units) each
    ((4, 32), (4, 32), (4, 32))
    """

    cell_class = LSTMCell
    # keras.layers' positional order.
    positional_args = (
        "activation",
        "recurrent_activation",
        "use_bias",
        "kernel_initializer",
        "recurrent_initializer",
        "bias_initializer",
        "unit_forget_bias",
        "kernel_regularizer",
        "recurrent_regularizer",
        "bias_regularizer",
        "activity_regularizer",
        "kernel_constraint",
        "recurrent_constraint",
        "bias_constraint",
        "dropout",
        "recurrent_dropout",
        "seed",
        "return_sequences",
        "return_state",
        "go_backwards",
        "stateful",
        "unroll",
        "use_cudnn",
    )
    cell_attributes = CellSequenceLayer.cell_attributes + (
        "recurrent_activation",
        "unit_forget_bias",
    )
