"""CfCCell and CfC: closed-form continuous-time cells (Hasani et al., 2022)."""

from __future__ import annotations

import numbers

import keras
from keras import initializers, ops

from rnn_zoo import _checks
from rnn_zoo.layers import _liquid
from rnn_zoo.layers.cell import RecurrentCell
from rnn_zoo.layers.recurrent import CellSequenceLayer, register_sequence_layer

MODES = ("default", "pure", "no_gate")


def _check_backbone_layers(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            "`backbone_layers` must be a non-negative integer (0: no backbone). "
            f"Received: backbone_layers={value!r} of type {type(value).__name__}"
        )
    if value < 0:
        raise ValueError(
            "`backbone_layers` must be a non-negative integer (0: no backbone). "
            f"Received: backbone_layers={value}"
        )
    return int(value)


@keras.saving.register_keras_serializable(package="rnn_zoo")
class CfCCell(RecurrentCell):
    """One step of a closed-form continuous-time (CfC) cell.

    Hasani et al. 2022 (Nature Machine Intelligence), "Closed-form
    continuous-time neural networks", as ``ncps.keras.CfCCell`` computes it.
    A backbone (``backbone_layers`` dense layers of ``backbone_units``) reads
    the input and the previous state, ``z = backbone([x_t, h_{t-1}])``, and
    four heads give the closed-form solution after the elapsed time ``dt``::

        default:  s = sigmoid(-f_a(z) * dt + f_b(z))
                  h_t = g(z) * (1 - s) + s * k(z)
        no_gate:  h_t = g(z) + s * k(z)
        pure:     h_t = A - A * exp(-dt * (|w_tau| + |g(z)|)) * g(z)

    with ``g``, ``k``, ``f_a``, ``f_b`` affine (``ff1``, ``ff2``, ``time_a``,
    ``time_b``); ``pure`` is the direct solution of the liquid ODE with
    learned ``A`` and ``w_tau``. With ``backbone_layers=0`` the heads read
    ``[x_t, h_{t-1}]`` directly. The state is ``h``; with ``mixed_memory`` an
    LSTM-style memory feeds the cell (states ``[c, h]``, see
    :mod:`rnn_zoo.layers._liquid`).

    Weights, each named as its ``ncps`` counterpart: ``memory_kernel``,
    ``memory_recurrent_kernel``, ``memory_bias`` (with ``mixed_memory``),
    ``backbone_kernel_i``/``backbone_bias_i`` (``ncps``'s ``backbone{i}``
    Dense), ``ff1_kernel``/``ff1_bias``, then ``w_tau``, ``A`` (``pure``) or
    ``ff2_kernel``, ``ff2_bias``, ``time_a_kernel``, ``time_a_bias``,
    ``time_b_kernel``, ``time_b_bias``. Kernels that read ``[x, h]`` have the
    input's rows first. :func:`rnn_zoo.layers.from_ncps` carries an
    ``ncps.keras.CfC``'s weights over.

    ``ncps.torch``'s CfC applies a ``tanh`` to ``g`` and ``k``; ``ncps.keras``
    (which this follows) does not. As in ``ncps.keras``, ``w_tau`` starts at
    0, where ``|w_tau|`` has a zero gradient: training leaves it at 0 unless
    it is set to a non-zero value (``set_weights`` or ``from_ncps``).

    Args:
        units: positive integer, the size of the state and the output.
        mode: ``"default"``, ``"pure"`` or ``"no_gate"`` (above).
        activation: the backbone's activation; default ``"lecun_tanh"``,
            ``1.7159 * tanh(0.666 x)`` as ``ncps``; any Keras activation.
        backbone_units: positive integer, the width of each backbone layer.
        backbone_layers: non-negative integer, the number of backbone layers
            (0: the heads read ``[x, h]``).
        backbone_dropout: in ``[0, 1)``, dropout after each backbone layer in
            training; one mask per sequence (``ncps`` draws one per step).
        mixed_memory: put the LSTM-style memory in front (``ncps``'s
            ``mixed_memory=True``).
        use_bias: whether the backbone, the heads and the memory add biases.
        kernel_initializer: initializer of every kernel (default
            ``"glorot_uniform"``, as ``ncps``).
        recurrent_initializer: initializer of ``memory_recurrent_kernel``
            (default ``"orthogonal"``, as ``ncps``).
        bias_initializer: initializer of the biases (default zeros).
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: as their
            initializers, for the same weights.
        dropout: in ``[0, 1)``, variational dropout of the inputs in training.
        recurrent_dropout: in ``[0, 1)``, variational dropout of the previous
            state ``h`` where the cell reads it, in training.
        seed: seed of the dropout masks.

    Call arguments:
        inputs: ``(batch, features)``, one timestep.
        states: list of the states, ``[h]`` (``[c, h]`` with mixed memory),
            each ``(batch, units)``.
        training: enables dropout.
        timespans: ``(batch,)`` or ``(batch, 1)``, the time elapsed at this
            step, positive; 1.0 if not given.

    Example:

    >>> import numpy as np
    >>> cell = CfCCell(4, backbone_units=8)
    >>> x = np.ones((2, 3), "float32")
    >>> h, (state,) = cell(x, cell.get_initial_state(2), timespans=np.full(2, 0.5))
    >>> tuple(h.shape), tuple(state.shape)  # (batch, units) each
    ((2, 4), (2, 4))
    """

    uses_time = True

    def __init__(
        self,
        units,
        mode="default",
        activation="lecun_tanh",
        backbone_units=128,
        backbone_layers=1,
        backbone_dropout=0.0,
        mixed_memory=False,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(
            units,
            activation=_liquid.get_activation(activation),
            kernel_initializer=kernel_initializer,
            **kwargs,
        )
        self.mode = _checks.check_choice(mode, "mode", MODES)
        self.backbone_layers = _check_backbone_layers(backbone_layers)
        self.backbone_units = _checks.check_positive_int(
            backbone_units, "backbone_units"
        )
        self.backbone_dropout = _checks.check_rate(backbone_dropout, "backbone_dropout")
        self.mixed_memory = _liquid.check_mixed_memory(mixed_memory)

    @property
    def state_size(self) -> list[int]:
        return [self.units] * (2 if self.mixed_memory else 1)

    @property
    def _heads(self) -> tuple[str, ...]:
        return ("ff1",) if self.mode == "pure" else ("ff1", "ff2", "time_a", "time_b")

    def _dense(self, name: str, rows: int, columns: int):
        index = len(self.weights)
        kernel = self.add_weight(
            shape=(rows, columns),
            name=f"{name}_kernel",
            initializer=_liquid.fresh_initializer(self.kernel_initializer, index),
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        bias = None
        if self.use_bias:
            bias = self.add_weight(
                shape=(columns,),
                name=f"{name}_bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        return kernel, bias

    def build(self, input_shape):
        cell_input = _liquid.build_inputs(self, input_shape)
        units = self.units
        width = cell_input + units
        self.backbone = []
        for i in range(self.backbone_layers):
            self.backbone.append(
                self._dense(f"backbone_{i}", width, self.backbone_units)
            )
            width = self.backbone_units
        self.heads = {name: self._dense(name, width, units) for name in self._heads}
        if self.mode == "pure":
            self.w_tau = self.add_weight(
                shape=(1, units), name="w_tau", initializer=initializers.Zeros()
            )
            self.A = self.add_weight(
                shape=(1, units), name="A", initializer=initializers.Ones()
            )

    def step_weights(self, dtype) -> dict:
        def cast(value):
            return None if value is None else ops.cast(value, dtype)

        layers = [(cast(k), cast(b)) for k, b in self.backbone]
        heads = [(cast(k), cast(b)) for k, b in self.heads.values()]
        head_kernel = ops.concatenate([k for k, _ in heads], axis=-1)
        head_bias = None
        if self.use_bias:
            head_bias = ops.concatenate([b for _, b in heads], axis=-1)
        # The first layer reads [x, h]: its x rows go before the loop (or,
        # with the memory, per step) and its h rows in the step.
        first_kernel, first_bias = layers[0] if layers else (head_kernel, head_bias)
        rows = self.units if self.mixed_memory else self.input_dim
        weights = {
            "cell_kernel": first_kernel[:rows],
            "cell_bias": first_bias,
            "state_kernel": first_kernel[rows:],
            "backbone": layers[1:],
            "head_kernel": head_kernel,
            "head_bias": head_bias,
        }
        if self.mode == "pure":
            weights.update(w_tau=cast(self.w_tau), A=cast(self.A))
        if self.mixed_memory:
            weights.update(_liquid.memory_weights(self, dtype))
        else:
            weights.update(kernel=weights["cell_kernel"], bias=first_bias)
        return weights

    def dropout_masks(self, batch_size, input_dim, dtype, training):
        input_mask, state_mask = super().dropout_masks(
            batch_size, input_dim, dtype, training
        )
        backbone_masks = []
        if training and self.backbone_dropout > 0:
            backbone_masks = [
                keras.random.dropout(
                    ops.ones((batch_size, self.backbone_units), dtype=dtype),
                    self.backbone_dropout,
                    seed=self.seed_generator,
                )
                for _ in range(self.backbone_layers)
            ]
        if state_mask is None and not backbone_masks:
            return input_mask, None
        return input_mask, {"state": state_mask, "backbone": backbone_masks}

    def step(self, projected, states, weights, recurrent_mask=None, timespans=None):
        masks = recurrent_mask or {}
        h = states[-1]
        if self.mixed_memory:
            memory, cell_input = _liquid.memory_step(projected, states[0], h, weights)
            projected = ops.matmul(cell_input, weights["cell_kernel"])
            if weights["cell_bias"] is not None:
                projected = projected + weights["cell_bias"]
        if masks.get("state") is not None:
            h = h * masks["state"]
        z = projected + ops.matmul(h, weights["state_kernel"])
        if self.backbone_layers:
            z = self.activation(z)
            dropout = masks.get("backbone") or [None] * self.backbone_layers
            if dropout[0] is not None:
                z = z * dropout[0]
            for (kernel, bias), mask in zip(weights["backbone"], dropout[1:]):
                z = ops.matmul(z, kernel)
                z = self.activation(z if bias is None else z + bias)
                if mask is not None:
                    z = z * mask
            z = ops.matmul(z, weights["head_kernel"])
            if weights["head_bias"] is not None:
                z = z + weights["head_bias"]
        dt = 1.0 if timespans is None else timespans
        if self.mode == "pure":
            a = weights["A"]
            decay = ops.exp(-dt * (ops.abs(weights["w_tau"]) + ops.abs(z)))
            h = a - a * decay * z
        else:
            ff1, ff2, time_a, time_b = ops.split(z, 4, axis=-1)
            s = ops.sigmoid(time_b - time_a * dt)
            h = ff1 + s * ff2 if self.mode == "no_gate" else ff1 * (1.0 - s) + s * ff2
        return h, ([memory, h] if self.mixed_memory else [h])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mode": self.mode,
                "backbone_units": self.backbone_units,
                "backbone_layers": self.backbone_layers,
                "backbone_dropout": self.backbone_dropout,
                "mixed_memory": self.mixed_memory,
            }
        )
        return config


@register_sequence_layer("cfc")
@keras.saving.register_keras_serializable(package="rnn_zoo")
class CfC(CellSequenceLayer):
    """A closed-form continuous-time layer over a whole sequence (Hasani et al., 2022).

    Takes every argument of ``CfCCell`` (``units``, ``mode``,
    ``backbone_units``, ``backbone_layers``, ``backbone_dropout``,
    ``mixed_memory``, ...) and of ``RNN`` (``return_sequences``,
    ``return_state``, ``go_backwards``, ``stateful``), and ``timespans`` at
    the call: the time elapsed at every step, ``(batch, timesteps)`` or
    ``(batch, timesteps, 1)`` (1.0 where not given). With
    ``return_state=True`` it returns ``[output, h]`` (``[output, c, h]``
    with ``mixed_memory``).

    Example:

    >>> import numpy as np
    >>> layer = CfC(8, backbone_units=16, return_sequences=True)
    >>> x = np.zeros((2, 5, 3), "float32")
    >>> gaps = np.array([[1.0, 0.5, 2.0, 1.0, 0.1]] * 2, "float32")
    >>> tuple(layer(x, timespans=gaps).shape)  # (batch, timesteps, units)
    (2, 5, 8)
    """

    cell_class = CfCCell
    cell_attributes = CellSequenceLayer.cell_attributes + (
        "mode",
        "backbone_units",
        "backbone_layers",
        "backbone_dropout",
        "mixed_memory",
    )
