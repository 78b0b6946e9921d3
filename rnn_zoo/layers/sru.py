"""SRUCell and SRU: simple recurrent units (Lei et al., 2018)."""

from __future__ import annotations

import math
import numbers

import keras
from keras import initializers, ops

from rnn_zoo.layers.cell import RecurrentCell
from rnn_zoo.layers.recurrent import CellSequenceLayer, register_sequence_layer


@keras.saving.register_keras_serializable(package="rnn_zoo")
class SRUCell(RecurrentCell):
    """One step of a simple recurrent unit.

    Lei et al. 2018 (EMNLP), "Simple Recurrent Units for Highly Parallelizable
    Recurrence", as the reference ``sru`` PyTorch package (version 2.x,
    ``sru.SRUCell``) computes it: one input product for the whole sequence,
    then an elementwise recurrence with peephole weights ``v`` on the state::

        x~_t = W x_t
        f_t  = sigmoid(W_f x_t + v_f * c_{t-1} + b_f)        forget gate
        r_t  = sigmoid(W_r x_t + v_r * c_{t-1} + b_r)        reset (highway) gate
        c_t  = f_t * c_{t-1} + (1 - f_t) * x~_t
        h_t  = r_t * g(c_t) + (1 - r_t) * x'_t

    where the highway term ``x'_t`` is the input itself times a constant
    (``rescale``) when it has ``units`` features, else a fourth projection
    ``W' x_t`` (sru's ``has_skip_term=True`` with ``num_matrices=4``).

    Weights use ``sru``'s layout, so ``set_weights`` takes an ``sru.SRUCell``'s
    ``[weight, weight_c, bias]`` as they are: ``kernel`` is
    ``(features, units * k)`` with the ``k`` = 3 or 4 matrices interleaved per
    unit (column ``j * k + m`` is matrix ``m`` of unit ``j``: candidate,
    forget, reset, highway), ``recurrent_kernel`` is ``[v_f, v_r]``
    ``(2 * units,)`` and ``bias`` ``[b_f, b_r]`` ``(2 * units,)``. The only
    state is ``c``.

    Not here: ``sru``'s ``n_proj`` factorisation, ``layer_norm`` and
    ``custom_m`` options.

    Args:
        units: positive integer, size of the output and of the state.
        activation: ``g`` above; ``"linear"`` (default, as ``sru``) or
            ``"tanh"`` (``sru``'s ``use_tanh=True``); any Keras activation works.
        highway_bias: float, the initial value of the reset gate's bias
            ``b_r`` (``sru``'s ``highway_bias``, default 0).
        rescale: multiply the highway term by ``sqrt(1 + 2 * exp(highway_bias))``
            so that it keeps the variance of the gated term (``sru``'s
            ``rescale=True``, default): at every step when the input has
            ``units`` features; through the initial highway matrix otherwise.
        use_bias: whether to add ``bias``.
        kernel_initializer: initializer of ``kernel`` (default
            ``"lecun_uniform"``, ``sru``'s ``U(-sqrt(3 / features), ...)``);
            as in ``sru``, the gate columns are then scaled by ``sqrt(0.5)``
            and, with ``rescale``, the highway columns by the highway scale.
        recurrent_initializer: initializer of ``recurrent_kernel``; default
            uniform in ``[-sqrt(1.5), sqrt(1.5)]`` as ``sru``.
        bias_initializer: initializer of ``bias`` (``highway_bias`` is added
            to its reset half).
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: Keras
            regularizers and constraints of the three weights.
        dropout: in ``[0, 1)``, variational dropout of the inputs in training
            (one mask per sequence; ``sru``'s ``rnn_dropout``, except that here
            the highway term ``x'_t`` reads the dropped input too).
        recurrent_dropout: in ``[0, 1)``, ``sru``'s ``dropout``: a mask drawn
            once per sequence on ``g(c_t)``'s share of the output in training,
            ``h_t = x'_t + (g(c_t) - x'_t) * r_t * mask`` (the state ``c`` is
            not dropped).
        seed: seed of the dropout masks.

    Call arguments:
        inputs: ``(batch, features)``, one timestep.
        states: list of one ``(batch, units)`` tensor, ``c``.
        training: enables dropout.

    Example:

    >>> import numpy as np
    >>> cell = SRUCell(4)
    >>> h, (c,) = cell(np.ones((2, 3), "float32"), cell.get_initial_state(2))
    >>> tuple(h.shape), tuple(c.shape)  # (batch, units) each
    ((2, 4), (2, 4))
    >>> tuple(cell.kernel.shape)  # (features, units * 4): 3 features != 4 units
    (3, 16)
    """

    num_states = 1
    fused_family = "sru"

    def __init__(
        self,
        units,
        activation="linear",
        highway_bias=0.0,
        rescale=True,
        use_bias=True,
        kernel_initializer="lecun_uniform",
        recurrent_initializer=None,
        **kwargs,
    ):
        if recurrent_initializer is None:
            limit = math.sqrt(1.5)
            recurrent_initializer = initializers.RandomUniform(-limit, limit)
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            **kwargs,
        )
        if isinstance(highway_bias, bool) or not isinstance(highway_bias, numbers.Real):
            raise TypeError(
                "`highway_bias` must be a float. Received: "
                f"highway_bias={highway_bias!r} of type {type(highway_bias).__name__}"
            )
        if not math.isfinite(highway_bias):
            raise ValueError(
                f"`highway_bias` must be a finite float. Received: highway_bias={highway_bias}"
            )
        if not isinstance(rescale, bool):
            raise TypeError(
                "`rescale` must be True or False. Received: "
                f"rescale={rescale!r} of type {type(rescale).__name__}"
            )
        self.highway_bias = float(highway_bias)
        self.rescale = rescale
        self.highway_scale = (
            math.sqrt(1.0 + 2.0 * math.exp(self.highway_bias)) if rescale else 1.0
        )

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Cell '{self.name}' needs a known input feature size. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.input_dim = int(input_dim)
        # A fourth matrix projects the input for the highway term when its size
        # is not the output's (sru's num_matrices).
        self.num_matrices = 3 if self.input_dim == self.units else 4
        units, k, base = self.units, self.num_matrices, self.kernel_initializer
        column_scales = [1.0, math.sqrt(0.5), math.sqrt(0.5), self.highway_scale][:k]

        def kernel_initializer(shape, dtype=None):
            kernel = ops.reshape(base(shape, dtype=dtype), (shape[0], units, k))
            scales = ops.convert_to_tensor(column_scales, dtype=kernel.dtype)
            return ops.reshape(kernel * scales, shape)

        self.kernel = self.add_weight(
            shape=(self.input_dim, units * k),
            name="kernel",
            initializer=kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(2 * units,),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        bias_base, highway_bias = self.bias_initializer, self.highway_bias

        def bias_initializer(shape, dtype=None):
            forget = bias_base((units,), dtype=dtype)
            reset = bias_base((units,), dtype=dtype) + highway_bias
            return ops.concatenate([forget, reset])

        self._add_bias((2 * units,), bias_initializer)

    def step_weights(self, dtype) -> dict:
        k, units = self.num_matrices, self.units
        # sru interleaves the k matrices per unit; one reordering per sequence
        # gives contiguous [candidate | forget | reset (| highway)] blocks.
        kernel = ops.reshape(
            ops.transpose(
                ops.reshape(ops.cast(self.kernel, dtype), (self.input_dim, units, k)),
                (0, 2, 1),
            ),
            (self.input_dim, k * units),
        )
        bias = None
        if self.bias is not None:
            zeros = ops.zeros((units,), dtype=dtype)
            blocks = [zeros, ops.cast(self.bias, dtype)] + [zeros] * (k - 3)
            bias = ops.concatenate(blocks)
        return {
            "kernel": kernel,
            "recurrent_kernel": ops.cast(self.recurrent_kernel, dtype),
            "bias": bias,
        }

    @property
    def projection_splits_by_rows(self) -> bool:
        # Without a highway matrix the inputs themselves are the highway.
        return getattr(self, "num_matrices", 4) == 4

    def project_inputs(self, inputs, weights):
        """``[candidate | forget | reset | highway]`` pre-activations, ``4 * units`` wide."""
        projected = super().project_inputs(inputs, weights)
        if self.num_matrices == 3:
            highway = inputs * self.highway_scale if self.rescale else inputs
            projected = ops.concatenate([projected, highway], axis=-1)
        return projected

    def step(self, projected, states, weights, recurrent_mask=None):
        c_prev = states[0]
        candidate, forget, reset, highway = ops.split(projected, 4, axis=-1)
        v_f, v_r = ops.split(weights["recurrent_kernel"], 2)
        f = ops.sigmoid(forget + v_f * c_prev)
        r = ops.sigmoid(reset + v_r * c_prev)
        c = f * c_prev + (1.0 - f) * candidate
        if recurrent_mask is not None:
            r = r * recurrent_mask
        h = highway + (self.activation(c) - highway) * r
        return h, [c]

    def fused_params(self):
        activation, reasons = self._keras_activation("activation")
        params = {
            "activation": activation,
            # A fourth matrix, or the input itself times this.
            "highway_projection": getattr(self, "num_matrices", 3) == 4,
            "highway_scale": self.highway_scale if self.rescale else 1.0,
        }
        return params, reasons

    def get_config(self):
        config = super().get_config()
        config.update({"highway_bias": self.highway_bias, "rescale": self.rescale})
        return config


@register_sequence_layer("sru")
@keras.saving.register_keras_serializable(package="rnn_zoo")
class SRU(CellSequenceLayer):
    """A simple recurrent unit layer over a whole sequence (Lei et al., 2018).

    Takes every argument of ``SRUCell`` (``units``, ``highway_bias``,
    ``rescale``, ...) and of ``RNN`` (``return_sequences``, ``return_state``,
    ``go_backwards``, ``stateful``). ``get_weights()`` is ``[kernel,
    recurrent_kernel, bias]`` in the layout of an ``sru.SRUCell``'s
    ``[weight, weight_c, bias]``. With ``return_state=True`` it returns
    ``[output, c]``.

    Example:

    >>> import numpy as np
    >>> layer = SRU(8, return_sequences=True, return_state=True)
    >>> seq, c = layer(np.zeros((2, 5, 8), "float32"))
    >>> tuple(seq.shape), tuple(c.shape)  # (batch, timesteps, units), (batch, units)
    ((2, 5, 8), (2, 8))
    """

    cell_class = SRUCell
    cell_attributes = CellSequenceLayer.cell_attributes + ("highway_bias", "rescale")
