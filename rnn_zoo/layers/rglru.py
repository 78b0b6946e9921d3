"""RGLRU: the real-gated linear recurrent unit of Griffin and Hawk (De et al., 2024).

"Griffin: Mixing Gated Linear Recurrences with Local Attention for Efficient
Language Models" (De, Smith, Fernando et al., 2024), section 2.4; the
reference code is google-deepmind/recurrentgemma (``layers.RGLRU``). The
recurrence is diagonal and linear in the state, so the sequence layer runs it
as a parallel scan (:mod:`rnn_zoo.kernels.scan`).
"""

from __future__ import annotations

import numbers

import keras
from keras import initializers, ops

from rnn_zoo.kernels.scan import rglru_decay
from rnn_zoo.layers._scan_layer import LinearRecurrenceLayer, LinearRecurrentCell
from rnn_zoo.layers.recurrent import register_sequence_layer


def _check_float(value, name: str, low: float, high: float) -> float:
    """A real number in the open interval ``(low, high)``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{name}` must be a float in ({low}, {high}). Received: {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    if not low < float(value) < high:
        raise ValueError(
            f"`{name}` must be a float in ({low}, {high}). Received: {name}={value}"
        )
    return float(value)


@keras.saving.register_keras_serializable(package="rnn_zoo")
class RGLRUCell(LinearRecurrentCell):
    """One step of the RG-LRU (De et al. 2024, Griffin/Hawk, equations 1-4).

    With ``u_t`` the cell's input, ``r_t = sigmoid(u_t W_a + b_a)`` (the
    recurrence gate) and ``i_t = sigmoid(u_t W_x + b_x)`` (the input gate),
    the decay is ``a_t = a ** (c * r_t)``, ``a = exp(-softplus(a_param))`` in
    ``(0, 1)`` (recurrentgemma's parameterisation), computed in log space as
    ``log a_t = -c * r_t * softplus(a_param)``, and
    ``h_t = a_t * h_{t-1} + sqrt(1 - a_t ** 2) * (i_t * u_t)``. The
    ``sqrt(1 - a_t ** 2)`` normalisation keeps ``h``'s scale; its derivative
    is capped at 1000, as in recurrentgemma. ``a_param`` is initialised so
    that ``a`` is uniform on the ring ``min_radius <= |a| <= max_radius``
    (by area), the gate kernels as recurrentgemma's (LeCun normal), biases
    at zero. This is the real-valued RG-LRU with dense gates (recurrentgemma's
    ``num_heads=1``), without the document-boundary reset.

    In Griffin, ``u_t`` is a linear map of the block's input (then a short
    convolution). ``input_projection=True`` (default) gives the cell that
    map, ``u_t = x_t @ kernel + bias_u``, so any input size works;
    ``input_projection=False`` applies the equations to ``x_t`` itself and
    needs ``features == units``.

    Weights: ``kernel`` ``(features, units)`` (only with
    ``input_projection``), ``gate_kernel`` ``(units, 2 * units)``
    (``[W_a | W_x]``), ``bias`` (``[b_u | b_a | b_x]``, ``(3 * units,)``, or
    ``(2 * units,)`` without ``input_projection``), ``a_param`` ``(units,)``.

    Args:
        units: positive integer, size of the output and state.
        input_projection: see above.
        c: positive float, the scale of the gate in the exponent of ``a``
            (the paper's ``c = 8``).
        min_radius, max_radius: ``0 < min_radius < max_radius < 1``, the
            ring ``a`` starts on (recurrentgemma: 0.9 and 0.999).
        use_bias: whether to add ``bias``.
        kernel_initializer: of ``kernel``.
        gate_initializer: of ``gate_kernel`` (default ``"lecun_normal"``).
        bias_initializer: of ``bias``.
        kernel_regularizer, bias_regularizer, kernel_constraint,
        bias_constraint: Keras regularizers and constraints; the kernel ones
            apply to ``kernel`` and ``gate_kernel``.
        dropout: in ``[0, 1)``, fraction of the inputs dropped in training
            (one mask for the whole sequence). The paper has no dropout in
            the RG-LRU; there is no recurrent dropout.
        seed: seed of the dropout mask and of ``a_param``'s initialisation.

    Call arguments:
        inputs: ``(batch, features)``.
        states: list of one ``(batch, units)`` tensor.
        training: enables dropout.

    Example:

    >>> import numpy as np
    >>> cell = RGLRUCell(4)
    >>> h, states = cell(np.ones((2, 3), "float32"), cell.get_initial_state(2))
    >>> tuple(h.shape)  # (batch, units)
    (2, 4)
    """

    gates = 3
    fused_family = "rglru"

    def __init__(
        self,
        units,
        input_projection=True,
        c=8.0,
        min_radius=0.9,
        max_radius=0.999,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        gate_initializer="lecun_normal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            units,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            seed=seed,
            **kwargs,
        )
        if not isinstance(input_projection, bool):
            raise TypeError(
                "`input_projection` must be True or False. Received: "
                f"input_projection={input_projection!r}"
            )
        self.input_projection = input_projection
        self.c = _check_float(c, "c", 0.0, float("inf"))
        self.min_radius = _check_float(min_radius, "min_radius", 0.0, 1.0)
        self.max_radius = _check_float(max_radius, "max_radius", 0.0, 1.0)
        if self.min_radius >= self.max_radius:
            raise ValueError(
                "`min_radius` must be below `max_radius`. Received: "
                f"min_radius={min_radius}, max_radius={max_radius}"
            )
        self.gate_initializer = initializers.get(gate_initializer)

    def _a_param_init(self, shape, dtype=None):
        # a = exp(-softplus(a_param)) uniform by area on the ring, as
        # recurrentgemma's rnn_real_param_init.
        unif = keras.random.uniform(shape, dtype="float32", seed=self.seed)
        low, high = self.min_radius**2, self.max_radius**2
        log_a = 0.5 * ops.log(unif * (high - low) + low + 1e-8)
        return ops.cast(ops.log(ops.expm1(-log_a)), dtype or "float32")

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Cell '{self.name}' needs a known input feature size. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.input_dim = int(input_dim)
        if not self.input_projection and self.input_dim != self.units:
            raise ValueError(
                f"Cell '{self.name}' has input_projection=False, which needs as "
                f"many input features as units ({self.units}). Received: "
                f"input_shape={tuple(input_shape)}"
            )
        self.kernel = None
        if self.input_projection:
            self.kernel = self.add_weight(
                shape=(self.input_dim, self.units),
                name="kernel",
                initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            )
        self.gate_kernel = self.add_weight(
            shape=(self.units, 2 * self.units),
            name="gate_kernel",
            initializer=self.gate_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self._add_bias(((3 if self.input_projection else 2) * self.units,))
        self.a_param = self.add_weight(
            shape=(self.units,), name="a_param", initializer=self._a_param_init
        )

    def step_weights(self, dtype) -> dict:
        return {
            "kernel": None if self.kernel is None else ops.cast(self.kernel, dtype),
            "gate_kernel": ops.cast(self.gate_kernel, dtype),
            "bias": None if self.bias is None else ops.cast(self.bias, dtype),
            "a_param": ops.cast(self.a_param, dtype),
        }

    def _matmul(self, x, kernel):
        if len(x.shape) == 3:
            # One 2-D product over all (batch, time) rows, as RecurrentCell does.
            flat = ops.matmul(ops.reshape(x, (-1, x.shape[-1])), kernel)
            return ops.reshape(flat, (*ops.shape(x)[:2], kernel.shape[-1]))
        return ops.matmul(x, kernel)

    # The gates are a product of the projected u, not of the inputs' rows.
    projection_splits_by_rows = False

    def project_inputs(self, inputs, weights):
        """``[u | u W_a + b_a | u W_x + b_x]``, ``(..., 3 * units)``, over any leading axes."""
        bias = weights["bias"]
        u = inputs
        if self.input_projection:
            u = self._matmul(inputs, weights["kernel"])
            if bias is not None:
                u = u + bias[: self.units]
        gates = self._matmul(u, weights["gate_kernel"])
        if bias is not None:
            gates = gates + bias[-2 * self.units :]
        return ops.concatenate([u, gates], axis=-1)

    def fused_params(self):
        return {"c": self.c, "input_projection": self.input_projection}, []

    def step(self, projected, states, weights, recurrent_mask=None):
        u, k_a, k_x = ops.split(projected, 3, axis=-1)
        log_a, b = rglru_decay(u, k_a, k_x, weights["a_param"], self.c)
        h = ops.exp(log_a) * states[0] + b
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_projection": self.input_projection,
                "c": self.c,
                "min_radius": self.min_radius,
                "max_radius": self.max_radius,
                "gate_initializer": initializers.serialize(self.gate_initializer),
            }
        )
        return config


@register_sequence_layer("rglru")
@keras.saving.register_keras_serializable(package="rnn_zoo")
class RGLRU(LinearRecurrenceLayer):
    """An RG-LRU layer over a whole sequence, computed by a parallel scan.

    Takes every argument of ``RGLRUCell`` (``units``, ``input_projection``,
    ``c``, ...) and of ``RNN`` (``return_sequences``, ``return_state``,
    ``go_backwards``, ``stateful``, ``implementation``). Under
    ``implementation="auto"`` the sequence runs as one parallel scan of
    ``h_t = a_t * h_{t-1} + b_t`` (the ``*-scan`` kernels of
    :mod:`rnn_zoo.kernels.scan`); ``implementation="reference"`` runs
    ``RGLRUCell.step`` in a loop instead, with the same results.
    ``get_weights()`` is ``[kernel, gate_kernel, bias, a_param]``.

    Example:

    >>> import numpy as np
    >>> layer = RGLRU(8, return_sequences=True)
    >>> tuple(layer(np.zeros((2, 6, 3), "float32")).shape)  # (batch, timesteps, units)
    (2, 6, 8)
    """

    cell_class = RGLRUCell
    cell_attributes = LinearRecurrenceLayer.cell_attributes + (
        "input_projection",
        "c",
        "min_radius",
        "max_radius",
        "gate_initializer",
    )
