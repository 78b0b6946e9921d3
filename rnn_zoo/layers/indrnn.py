"""IndRNNCell and IndRNN: independently recurrent neural networks (Li et al., 2018)."""

from __future__ import annotations

import math
import numbers

import keras
from keras import initializers, ops

from rnn_zoo.layers.cell import RecurrentCell
from rnn_zoo.layers.recurrent import CellSequenceLayer, register_sequence_layer


@keras.saving.register_keras_serializable(package="rnn_zoo")
class IndRNNCell(RecurrentCell):
    """One step of an independently recurrent network.

    Li et al. 2018 (CVPR), "Independently Recurrent Neural Network (IndRNN):
    Building A Longer and Deeper RNN": every unit sees only its own previous
    value, through one recurrent weight, so the recurrence has no matrix
    product::

        h_t = activation(x_t @ kernel + recurrent_kernel * h_{t-1} + bias)

    ``kernel`` is ``(features, units)``, ``recurrent_kernel`` the vector
    ``u`` ``(units,)`` and ``bias`` ``(units,)``. The paper keeps gradients
    from exploding or vanishing over ``T`` steps by bounding ``|u|`` (for
    ReLU, ``|u| <= 2 ** (1 / T)`` keeps a signal from growing more than
    twofold): ``recurrent_max_abs`` clips ``u`` to ``[-bound, bound]`` where
    it is used, so a clipped weight gets no gradient while it stays out of
    bounds. The stored weight is not changed.

    Args:
        units: positive integer, size of the output and state.
        activation: ``"relu"`` (default, the paper's) or any Keras activation.
        recurrent_max_abs: ``None`` (default, no bound) or a positive float,
            the bound on ``|u|`` above.
        use_bias: whether to add ``bias``.
        kernel_initializer: initializer of ``kernel`` (``"glorot_uniform"``).
        recurrent_initializer: initializer of ``u``; default uniform in
            ``[0, min(1, recurrent_max_abs)]``.
        bias_initializer: initializer of ``bias`` (``"zeros"``).
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: Keras
            regularizers and constraints of the three weights.
        dropout: in ``[0, 1)``, fraction of the inputs dropped in training
            (one mask per sequence).
        recurrent_dropout: in ``[0, 1)``, fraction of ``h_{t-1}`` dropped in
            training (one mask per sequence).
        seed: seed of the dropout masks.

    Call arguments:
        inputs: ``(batch, features)``, one timestep.
        states: list of one ``(batch, units)`` tensor, ``h``.
        training: enables dropout.

    Example:

    >>> import numpy as np
    >>> cell = IndRNNCell(4, recurrent_max_abs=2 ** (1 / 100))  # for T = 100
    >>> h, (state,) = cell(np.ones((2, 3), "float32"), cell.get_initial_state(2))
    >>> tuple(h.shape), tuple(cell.recurrent_kernel.shape)  # (batch, units), (units,)
    ((2, 4), (4,))
    """

    def __init__(
        self,
        units,
        activation="relu",
        recurrent_max_abs=None,
        recurrent_initializer=None,
        **kwargs,
    ):
        if recurrent_max_abs is not None:
            if isinstance(recurrent_max_abs, bool) or not isinstance(
                recurrent_max_abs, numbers.Real
            ):
                raise TypeError(
                    "`recurrent_max_abs` must be None or a positive float. Received: "
                    f"recurrent_max_abs={recurrent_max_abs!r} of type "
                    f"{type(recurrent_max_abs).__name__}"
                )
            if not (recurrent_max_abs > 0 and math.isfinite(recurrent_max_abs)):
                raise ValueError(
                    "`recurrent_max_abs` must be None or a positive, finite float. "
                    f"Received: recurrent_max_abs={recurrent_max_abs}"
                )
            recurrent_max_abs = float(recurrent_max_abs)
        if recurrent_initializer is None:
            high = 1.0 if recurrent_max_abs is None else min(1.0, recurrent_max_abs)
            recurrent_initializer = initializers.RandomUniform(0.0, high)
        super().__init__(
            units,
            activation=activation,
            recurrent_initializer=recurrent_initializer,
            **kwargs,
        )
        self.recurrent_max_abs = recurrent_max_abs

    def _add_kernels(self, input_dim: int) -> None:
        self.kernel = self.add_weight(
            shape=(input_dim, self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units,),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )

    def step_weights(self, dtype) -> dict:
        weights = super().step_weights(dtype)
        if self.recurrent_max_abs is not None:
            bound = self.recurrent_max_abs
            weights["recurrent_kernel"] = ops.clip(
                weights["recurrent_kernel"], -bound, bound
            )
        return weights

    fused_family = "indrnn"

    def fused_params(self):
        reasons = self._activation_reasons(activation=("relu", "tanh"))
        return {"activation": self._activation_name("activation")}, reasons

    def step(self, projected, states, weights, recurrent_mask=None):
        h_prev = states[0]
        if recurrent_mask is not None:
            h_prev = h_prev * recurrent_mask
        h = self.activation(projected + weights["recurrent_kernel"] * h_prev)
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config["recurrent_max_abs"] = self.recurrent_max_abs
        return config


@register_sequence_layer("indrnn")
@keras.saving.register_keras_serializable(package="rnn_zoo")
class IndRNN(CellSequenceLayer):
    """An independently recurrent layer over a whole sequence (Li et al., 2018).

    Takes every argument of ``IndRNNCell`` (``units``, ``activation``,
    ``recurrent_max_abs``, ...) and of ``RNN`` (``return_sequences``,
    ``return_state``, ``go_backwards``, ``stateful``). ``get_weights()`` is
    ``[kernel, recurrent_kernel, bias]`` with ``recurrent_kernel``
    ``(units,)``.

    Example:

    >>> import numpy as np
    >>> layer = IndRNN(8, recurrent_max_abs=2 ** (1 / 5), return_sequences=True)
    >>> tuple(layer(np.zeros((2, 5, 3), "float32")).shape)  # (batch, timesteps, units)
    (2, 5, 8)
    """

    cell_class = IndRNNCell
    cell_attributes = CellSequenceLayer.cell_attributes + ("recurrent_max_abs",)
