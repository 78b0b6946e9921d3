"""LayerNormLSTMCell and LayerNormLSTM: an LSTM with layer normalisation (Ba et al., 2016)."""

from __future__ import annotations

import numbers

import keras
from keras import initializers, ops

from rnn_zoo.layers.cell import RecurrentCell
from rnn_zoo.layers.recurrent import CellSequenceLayer, register_sequence_layer

_HALF = ("float16", "bfloat16")


def _norm_dtype(dtype) -> str:
    """float32 for half precision (its moments lose too much), else ``dtype``."""
    dtype = keras.backend.standardize_dtype(dtype)
    return "float32" if dtype in _HALF else dtype


def _layer_norm(x, gamma, beta, epsilon):
    """Normalises the last axis in ``_norm_dtype``; returns ``x``'s dtype."""
    dtype = x.dtype
    compute = _norm_dtype(dtype)
    x = ops.cast(x, compute)
    mean = ops.mean(x, axis=-1, keepdims=True)
    variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
    normalized = (x - mean) * ops.rsqrt(variance + epsilon)
    return ops.cast(
        normalized * ops.cast(gamma, compute) + ops.cast(beta, compute), dtype
    )


@keras.saving.register_keras_serializable(package="rnn_zoo")
class LayerNormLSTMCell(RecurrentCell):
    """One step of an LSTM with layer normalisation.

    Ba, Kiros & Hinton 2016, "Layer Normalization" (its layer-normalised
    LSTM), in the variant ``tfa.rnn.LayerNormLSTMCell`` (TensorFlow Addons)
    offered: the input and the recurrent products are
    normalised separately, each over all ``4 * units`` gate pre-activations,
    before the bias is added, and the new cell state is normalised before it
    is used and carried::

        z   = LN_x(x_t @ kernel) + LN_h(h_{t-1} @ recurrent_kernel) + bias
        i, f, g, o = split(z)                          Keras's gate order
        c_t = LN_c(sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g))
        h_t = sigmoid(o) * tanh(c_t)

    ``LN(a) = gamma * (a - mean(a)) / sqrt(var(a) + norm_epsilon) + beta``,
    each with its own ``gamma`` and ``beta``. ``get_weights()`` is
    ``[kernel, recurrent_kernel, bias, kernel_norm_gamma, kernel_norm_beta,
    recurrent_norm_gamma, recurrent_norm_beta, state_norm_gamma,
    state_norm_beta]``, the order of ``tfa.rnn.LayerNormLSTMCell``'s weights.
    States are ``[h, c]``.

    Args:
        units: positive integer, size of the output and of each state.
        activation: activation of the candidate and of the cell output
            (default ``"tanh"``).
        recurrent_activation: activation of the gates (default ``"sigmoid"``).
        use_bias: whether to add ``bias`` ``(4 * units,)``.
        unit_forget_bias: start the forget gate's bias at 1 (as ``LSTMCell``).
        norm_gamma_initializer: initializer of the three ``gamma`` (``"ones"``).
        norm_beta_initializer: initializer of the three ``beta`` (``"zeros"``).
        norm_epsilon: positive float added to the variances (default 1e-3,
            ``tfa``'s).
        kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: as for
            ``LSTMCell``.
        dropout: in ``[0, 1)``, fraction of the inputs dropped in training.
        recurrent_dropout: in ``[0, 1)``, fraction of ``h`` dropped before the
            recurrent product in training.
        seed: seed of the dropout masks.

    Call arguments:
        inputs: ``(batch, features)``, one timestep.
        states: ``[h, c]``, each ``(batch, units)``.
        training: enables dropout.

    Example:

    >>> import numpy as np
    >>> cell = LayerNormLSTMCell(4)
    >>> h, (h, c) = cell(np.ones((2, 3), "float32"), cell.get_initial_state(2))
    >>> tuple(h.shape), tuple(c.shape)  # (batch, units) each
    ((2, 4), (2, 4))
    >>> len(cell.weights)  # kernel, recurrent kernel, bias, 3 x (gamma, beta)
    9
    """

    gates = 4
    num_states = 2

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        unit_forget_bias=True,
        norm_gamma_initializer="ones",
        norm_beta_initializer="zeros",
        norm_epsilon=1e-3,
        **kwargs,
    ):
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.norm_gamma_initializer = initializers.get(norm_gamma_initializer)
        self.norm_beta_initializer = initializers.get(norm_beta_initializer)
        if isinstance(norm_epsilon, bool) or not isinstance(norm_epsilon, numbers.Real):
            raise TypeError(
                "`norm_epsilon` must be a positive float. Received: "
                f"norm_epsilon={norm_epsilon!r} of type {type(norm_epsilon).__name__}"
            )
        if not norm_epsilon > 0:
            raise ValueError(
                f"`norm_epsilon` must be a positive float. Received: norm_epsilon={norm_epsilon}"
            )
        self.norm_epsilon = float(norm_epsilon)

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

    def build(self, input_shape):
        super().build(input_shape)
        for norm, width in (
            ("kernel_norm", 4 * self.units),
            ("recurrent_norm", 4 * self.units),
            ("state_norm", self.units),
        ):
            for part, initializer in (
                ("gamma", self.norm_gamma_initializer),
                ("beta", self.norm_beta_initializer),
            ):
                name = f"{norm}_{part}"
                weight = self.add_weight(
                    shape=(width,), name=name, initializer=initializer
                )
                setattr(self, name, weight)

    def step_weights(self, dtype) -> dict:
        weights = super().step_weights(dtype)
        for norm in ("kernel_norm", "recurrent_norm", "state_norm"):
            for part in ("gamma", "beta"):
                name = f"{norm}_{part}"
                weights[name] = ops.cast(getattr(self, name), _norm_dtype(dtype))
        return weights

    def _norm(self, x, weights, norm):
        return _layer_norm(
            x, weights[f"{norm}_gamma"], weights[f"{norm}_beta"], self.norm_epsilon
        )

    def input_bias(self, weights):
        # The bias comes after the normalisation, in step(): the projection
        # stays linear in the inputs, which the attention decoder relies on
        # (it adds the fed-back attention's share to it).
        return None

    def step(self, projected, states, weights, recurrent_mask=None):
        h_prev, c_prev = states
        h_for_matmul = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        recurrent = ops.matmul(h_for_matmul, weights["recurrent_kernel"])
        z = self._norm(projected, weights, "kernel_norm") + self._norm(
            recurrent, weights, "recurrent_norm"
        )
        if weights["bias"] is not None:
            z = z + weights["bias"]
        z_i, z_f, z_g, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_prev + i * self.activation(z_g)
        c = self._norm(c, weights, "state_norm")
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "recurrent_activation": keras.activations.serialize(
                    self.recurrent_activation
                ),
                "unit_forget_bias": self.unit_forget_bias,
                "norm_gamma_initializer": initializers.serialize(
                    self.norm_gamma_initializer
                ),
                "norm_beta_initializer": initializers.serialize(
                    self.norm_beta_initializer
                ),
                "norm_epsilon": self.norm_epsilon,
            }
        )
        return config


@register_sequence_layer("layernorm_lstm")
@keras.saving.register_keras_serializable(package="rnn_zoo")
class LayerNormLSTM(CellSequenceLayer):
    """An LSTM with layer normalisation over a whole sequence (Ba et al., 2016).

    Takes every argument of ``LayerNormLSTMCell`` (``units``,
    ``norm_epsilon``, ``norm_gamma_initializer``, ...) and of ``RNN``
    (``return_sequences``, ``return_state``, ``go_backwards``, ``stateful``).
    With ``return_state=True`` it returns ``[output, h, c]``.

    Example:

    >>> import numpy as np
    >>> layer = LayerNormLSTM(8, return_state=True)
    >>> out, h, c = layer(np.zeros((2, 5, 3), "float32"))
    >>> tuple(out.shape), tuple(c.shape)  # (batch, units) each
    ((2, 8), (2, 8))
    """

    cell_class = LayerNormLSTMCell
    cell_attributes = CellSequenceLayer.cell_attributes + (
        "recurrent_activation",
        "unit_forget_bias",
        "norm_gamma_initializer",
        "norm_beta_initializer",
        "norm_epsilon",
    )
