"""GRUCell and GRU: gated recurrent units (Cho et al., 2014)."""

from __future__ import annotations

import keras
from keras import ops

from rnn_zoo.layers.cell import RecurrentCell, check_cell_implementation
from rnn_zoo.layers.recurrent import CellSequenceLayer, register_sequence_layer


@keras.saving.register_keras_serializable(package="rnn_zoo")
class GRUCell(RecurrentCell):
    """One step of a GRU.

    Gates in the order of ``keras.layers.GRUCell``: update ``z``, reset ``r``,
    candidate ``h``. ``kernel`` is ``(features, 3 * units)``,
    ``recurrent_kernel`` ``(units, 3 * units)``.

    ``reset_after=True`` (default; the cuDNN and ``torch.nn.GRU`` variant)
    applies the reset gate after the recurrent product and keeps separate
    input and recurrent biases: ``bias`` is ``(2, 3 * units)``.
    ``reset_after=False`` (the original paper) applies it before, with one
    ``bias`` ``(3 * units,)``.

    Args:
        units: positive integer, size of the output and state.
        activation: activation of the candidate (default ``"tanh"``).
        recurrent_activation: activation of the gates (default ``"sigmoid"``).
        use_bias: whether to add ``bias``.
        reset_after: see above.
        kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: as for
            ``keras.layers.GRUCell``.
        dropout: in ``[0, 1)``, fraction of the inputs dropped in training.
        recurrent_dropout: in ``[0, 1)``, fraction of ``h`` dropped before the
            recurrent product in training.
        seed: seed of the dropout masks.
        implementation: Keras's 1 or 2 (how ``keras.layers.GRUCell`` groups
            its gate products); accepted for code written against Keras and
            kept in the config. rnn_zoo's cell computes the same either way.

    Example:

    >>> import numpy as np
    >>> cell = GRUCell(4)
    >>> h, states = cell(np.ones((2, 3), "float32"), cell.get_initial_state(2))
    >>> tuple(h.shape)  # (batch, units)
    (2, 4)
    """

    gates = 3
    num_states = 1
    fused_family = "gru"

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
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
        self.reset_after = bool(reset_after)
        self.implementation = check_cell_implementation(implementation, "GRUCell")

    def _add_bias(self, shape, initializer=None):
        if self.reset_after:
            shape = (2,) + tuple(shape)
        super()._add_bias(shape, initializer)

    def input_bias(self, weights):
        bias = weights["bias"]
        if bias is None or not self.reset_after:
            return bias
        return bias[0]

    def step(self, projected, states, weights, recurrent_mask=None):
        h_prev = states[0]
        h_for_matmul = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        rk = weights["recurrent_kernel"]
        x_z, x_r, x_h = ops.split(projected, 3, axis=-1)
        if self.reset_after:
            recurrent = ops.matmul(h_for_matmul, rk)
            if weights["bias"] is not None:
                recurrent = recurrent + weights["bias"][1]
            r_z, r_r, r_h = ops.split(recurrent, 3, axis=-1)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            candidate = self.activation(x_h + r * r_h)
        else:
            units = self.units
            recurrent = ops.matmul(h_for_matmul, rk[:, : 2 * units])
            r_z, r_r = ops.split(recurrent, 2, axis=-1)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            candidate = self.activation(
                x_h + ops.matmul(r * h_for_matmul, rk[:, 2 * units :])
            )
        h = z * h_prev + (1.0 - z) * candidate
        return h, [h]

    def fused_params(self):
        reasons = self._activation_reasons(
            activation="tanh", recurrent_activation="sigmoid"
        )
        if not self.reset_after:
            reasons.append("reset_after=False (fused: the reset_after=True GRU)")
        return {}, reasons

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "recurrent_activation": keras.activations.serialize(
                    self.recurrent_activation
                ),
                "reset_after": self.reset_after,
                "implementation": self.implementation,
            }
        )
        return config


@register_sequence_layer("gru")
@keras.saving.register_keras_serializable(package="rnn_zoo")
class GRU(CellSequenceLayer):
    """A GRU layer over a whole sequence.

    Takes every argument of ``GRUCell`` and of ``RNN`` (``return_sequences``,
    ``return_state``, ``go_backwards``, ``stateful``). ``get_weights()`` is
    ``[kernel, recurrent_kernel, bias]`` with the shapes and gate order of
    ``keras.layers.GRU`` (bias ``(2, 3 * units)`` when ``reset_after``).

    Example:

    >>> import numpy as np
    >>> layer = GRU(16, return_sequences=True, return_state=True)
    >>> seq, h = layer(np.zeros((2, 6, 3), "float32"))
    >>> tuple(seq.shape), tuple(h.shape)  # (batch, timesteps, units), (batch, units)
    ((2, 6, 16), (2, 16))
    """

    cell_class = GRUCell
    # keras.layers' positional order.
    positional_args = (
        "activation",
        "recurrent_activation",
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
        "seed",
        "return_sequences",
        "return_state",
        "go_backwards",
        "stateful",
        "unroll",
        "reset_after",
        "use_cudnn",
    )
    cell_attributes = CellSequenceLayer.cell_attributes + (
        "recurrent_activation",
        "reset_after",
    )
