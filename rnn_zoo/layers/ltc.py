"""LTCCell and LTC: liquid time-constant cells (Hasani et al., 2021)."""

from __future__ import annotations

import math
import numbers

import keras
import numpy as np
from keras import constraints, initializers, ops

from rnn_zoo import _checks
from rnn_zoo.layers import _liquid
from rnn_zoo.layers.cell import RecurrentCell
from rnn_zoo.layers.recurrent import CellSequenceLayer, register_sequence_layer
from rnn_zoo.layers.wirings import Wiring, get_wiring

MAPPINGS = ("affine", "linear", None)
# ncps's initial ranges (uniform) of the neuron and synapse parameters.
INITIALIZATION_RANGES = {
    "gleak": (0.001, 1.0),
    "vleak": (-0.2, 0.2),
    "cm": (0.4, 0.6),
    "w": (0.001, 1.0),
    "sigma": (3.0, 8.0),
    "mu": (0.3, 0.8),
    "sensory_w": (0.001, 1.0),
    "sensory_sigma": (3.0, 8.0),
    "sensory_mu": (0.3, 0.8),
}
# Conductances and capacitances stay non-negative (ncps.keras's NonNeg).
_NON_NEGATIVE = ("gleak", "cm", "w", "sensory_w")


def _check_ranges(ranges) -> dict:
    if ranges is None:
        return {}
    if not isinstance(ranges, dict):
        raise TypeError(
            "`initialization_ranges` must be a dict of (low, high) pairs. "
            f"Received: initialization_ranges={ranges!r}"
        )
    checked = {}
    for name, pair in ranges.items():
        if name not in INITIALIZATION_RANGES:
            raise ValueError(
                f"Unknown key in `initialization_ranges`: expected some of "
                f"{sorted(INITIALIZATION_RANGES)}. Received: {name!r}"
            )
        low, high = (float(v) for v in pair)
        if low > high or (name in _NON_NEGATIVE and low < 0):
            floor = " with low >= 0" if name in _NON_NEGATIVE else ""
            raise ValueError(
                f"`initialization_ranges[{name!r}]` must be (low, high) with low <= "
                f"high{floor}. Received: {tuple(pair)!r}"
            )
        checked[name] = [low, high]
    return checked


@keras.saving.register_keras_serializable(package="rnn_zoo")
class LTCCell(RecurrentCell):
    """One step of a liquid time-constant (LTC) cell.

    Hasani et al. 2021 (AAAI), "Liquid Time-constant Networks", as
    ``ncps.keras.LTCCell`` computes it. Each neuron's potential ``v`` follows

        cm dv/dt = gleak (vleak - v) + sum_j w_j s_j(v_j) (erev_j - v)

    with sigmoid synapses ``s_j(u) = sigmoid(sigma_j (u - mu_j))`` from the
    other neurons and from the (mapped) inputs, masked by the ``wiring``. A
    step of elapsed time ``dt`` is ``ode_unfolds`` steps of the fused
    semi-implicit Euler solver (the paper's Eq. 3)::

        v <- (cm / (dt / unfolds) * v + gleak * vleak + sum w s erev)
             / (cm / (dt / unfolds) + gleak + sum w s + epsilon)

    The input is mapped ``x * input_w + input_b`` (``input_mapping``
    ``"affine"``; ``"linear"`` without ``input_b``, ``None`` not at all); the
    output is the first ``output_dim`` neurons (the wiring's motor neurons;
    all of them without a wiring) mapped the same way by ``output_w``,
    ``output_b``. The state is ``v`` (``[c, v]`` with ``mixed_memory``, see
    :mod:`rnn_zoo.layers._liquid`).

    Weights, named and shaped as ``ncps``'s: ``gleak``, ``vleak``, ``cm``
    ``(units,)``; ``sigma``, ``mu``, ``w``, ``erev`` ``(units, units)``
    (source rows); ``sensory_sigma``, ``sensory_mu``, ``sensory_w``,
    ``sensory_erev`` ``(inputs, units)``; ``input_w``, ``input_b``,
    ``output_w``, ``output_b`` as the mappings ask; the memory's in front
    with ``mixed_memory``. ``gleak``, ``cm``, ``w`` and ``sensory_w`` are kept
    non-negative; ``erev`` and ``sensory_erev`` start at the synapses' signs.

    Args:
        units: positive integer, the number of neurons (the state size), or
            a wiring (its ``units``).
        wiring: an :mod:`rnn_zoo.layers.wirings` wiring of ``units`` neurons
            (``FullyConnected``, ``NCP``, ``AutoNCP``); default fully
            connected, every neuron an output.
        input_mapping: ``"affine"`` (default), ``"linear"`` or ``None``.
        output_mapping: ``"affine"`` (default), ``"linear"`` or ``None``.
        ode_unfolds: positive integer, solver steps per timestep (default 6).
        epsilon: positive float added to the denominator (default 1e-8).
        initialization_ranges: ``{name: (low, high)}`` overriding the uniform
            initial ranges of ``INITIALIZATION_RANGES``.
        mixed_memory: put the LSTM-style memory in front; its weights use
            ``kernel_initializer`` (``"glorot_uniform"``) and
            ``recurrent_initializer`` (``"orthogonal"``).
        dropout: in ``[0, 1)``, variational dropout of the inputs in training.
        recurrent_dropout: in ``[0, 1)``, variational dropout of the previous
            state where the step reads it, in training.
        seed: seed of the dropout masks.

    Call arguments:
        inputs: ``(batch, features)``, one timestep.
        states: ``[v]`` (``[c, v]`` with mixed memory), each ``(batch, units)``.
        training: enables dropout.
        timespans: ``(batch,)`` or ``(batch, 1)``, the time elapsed at this
            step, positive; 1.0 if not given.

    Example:

    >>> import numpy as np
    >>> from rnn_zoo.layers.wirings import AutoNCP
    >>> cell = LTCCell(8, wiring=AutoNCP(8, 2))
    >>> out, (v,) = cell(np.ones((2, 3), "float32"), cell.get_initial_state(2))
    >>> tuple(out.shape), tuple(v.shape)  # (batch, motor neurons), (batch, units)
    ((2, 2), (2, 8))
    """

    uses_time = True

    def __init__(
        self,
        units,
        wiring=None,
        input_mapping="affine",
        output_mapping="affine",
        ode_unfolds=6,
        epsilon=1e-8,
        initialization_ranges=None,
        mixed_memory=False,
        **kwargs,
    ):
        if isinstance(units, Wiring):
            if wiring is not None and wiring != units:
                raise ValueError(
                    "Give the wiring once, as `units` or as `wiring`. Received: "
                    f"units={units!r}, wiring={wiring!r}"
                )
            units, wiring = units.units, units
        super().__init__(units, **kwargs)
        self.wiring = get_wiring(wiring)
        if self.wiring is not None and self.wiring.units != self.units:
            raise ValueError(
                f"`wiring` must have `units` neurons ({self.units}). Received: a "
                f"{type(self.wiring).__name__} wiring of {self.wiring.units} neurons"
            )
        self.input_mapping = _checks.check_choice(
            input_mapping, "input_mapping", MAPPINGS
        )
        self.output_mapping = _checks.check_choice(
            output_mapping, "output_mapping", MAPPINGS
        )
        self.ode_unfolds = _checks.check_positive_int(ode_unfolds, "ode_unfolds")
        if (
            isinstance(epsilon, bool)
            or not isinstance(epsilon, numbers.Real)
            or not math.isfinite(epsilon)
            or epsilon <= 0
        ):
            raise ValueError(
                f"`epsilon` must be a positive float. Received: epsilon={epsilon!r}"
            )
        self.epsilon = float(epsilon)
        self.initialization_ranges = _check_ranges(initialization_ranges)
        self.mixed_memory = _liquid.check_mixed_memory(mixed_memory)

    @property
    def state_size(self) -> list[int]:
        return [self.units] * (2 if self.mixed_memory else 1)

    @property
    def output_size(self) -> int:
        return self.units if self.wiring is None else self.wiring.output_dim

    def _uniform(self, name, shape):
        low, high = self.initialization_ranges.get(name, INITIALIZATION_RANGES[name])
        initializer = (
            initializers.Constant(low)
            if low == high
            else initializers.RandomUniform(low, high)
        )
        return self.add_weight(
            shape=shape,
            name=name,
            initializer=initializer,
            constraint=constraints.NonNeg() if name in _NON_NEGATIVE else None,
        )

    def _constant(self, name, value):
        value = np.asarray(value, "float32")
        return self.add_weight(
            shape=value.shape, name=name, initializer=initializers.Constant(value)
        )

    def build(self, input_shape):
        units = self.units
        sensory_size = _liquid.build_inputs(self, input_shape)
        self.sensory_size = sensory_size
        if self.wiring is None:
            adjacency = np.ones((units, units), np.int8)
            sensory = np.ones((sensory_size, units), np.int8)
        else:
            adjacency, sensory = self.wiring.build(sensory_size)
        self.sparsity_mask = np.abs(adjacency).astype("float32")
        self.sensory_sparsity_mask = np.abs(sensory).astype("float32")
        for name in ("gleak", "vleak", "cm"):
            setattr(self, name, self._uniform(name, (units,)))
        for name in ("sigma", "mu", "w"):
            setattr(self, name, self._uniform(name, (units, units)))
        self.erev = self._constant("erev", adjacency)
        for name in ("sensory_sigma", "sensory_mu", "sensory_w"):
            setattr(self, name, self._uniform(name, (sensory_size, units)))
        self.sensory_erev = self._constant("sensory_erev", sensory)
        self.input_w = self.input_b = self.output_w = self.output_b = None
        for side, size in (("input", sensory_size), ("output", self.output_size)):
            mapping = getattr(self, f"{side}_mapping")
            if mapping in ("affine", "linear"):
                setattr(self, f"{side}_w", self._constant(f"{side}_w", np.ones(size)))
            if mapping == "affine":
                setattr(self, f"{side}_b", self._constant(f"{side}_b", np.zeros(size)))

    def step_weights(self, dtype) -> dict:
        def cast(value):
            return None if value is None else ops.cast(value, dtype)

        w = cast(self.w) * ops.cast(self.sparsity_mask, dtype)
        sensory_w = cast(self.sensory_w) * ops.cast(self.sensory_sparsity_mask, dtype)
        weights = {
            name: cast(getattr(self, name))
            for name in (
                "gleak",
                "vleak",
                "cm",
                "sigma",
                "mu",
                "sensory_sigma",
                "sensory_mu",
                "input_w",
                "input_b",
                "output_w",
                "output_b",
            )
        }
        # The masked conductances, and their products with the reversal
        # potentials, once per sequence.
        weights.update(
            w=w,
            w_erev=w * cast(self.erev),
            sensory_w=sensory_w,
            sensory_w_erev=sensory_w * cast(self.sensory_erev),
            leak=weights["gleak"] * weights["vleak"],
        )
        if self.mixed_memory:
            weights.update(_liquid.memory_weights(self, dtype))
        else:
            # The input mapping as a diagonal kernel: a product like every
            # cell's, whose rows the attention decoder can split.
            scale = weights["input_w"]
            if scale is None:
                scale = ops.ones((self.sensory_size,), dtype=dtype)
            weights.update(kernel=ops.diag(scale), bias=weights["input_b"])
        return weights

    def _map_inputs(self, inputs, weights):
        if weights["input_w"] is not None:
            inputs = inputs * weights["input_w"]
        if weights["input_b"] is not None:
            inputs = inputs + weights["input_b"]
        return inputs

    def step(self, projected, states, weights, recurrent_mask=None, timespans=None):
        v = states[-1]
        if self.mixed_memory:
            memory, cell_input = _liquid.memory_step(projected, states[0], v, weights)
            projected = self._map_inputs(cell_input, weights)
        if recurrent_mask is not None:
            v = v * recurrent_mask
        # The inputs' synapses: (batch, inputs, units), summed over the inputs.
        s = ops.sigmoid(
            weights["sensory_sigma"]
            * (ops.expand_dims(projected, -1) - weights["sensory_mu"])
        )
        numerator_in = ops.sum(s * weights["sensory_w_erev"], axis=1)
        denominator_in = ops.sum(s * weights["sensory_w"], axis=1)
        dt = 1.0 if timespans is None else timespans
        cm_t = weights["cm"] / (dt / self.ode_unfolds)
        leak, gleak = weights["leak"], weights["gleak"]
        for _ in range(self.ode_unfolds):
            s = ops.sigmoid(weights["sigma"] * (ops.expand_dims(v, -1) - weights["mu"]))
            numerator = ops.sum(s * weights["w_erev"], axis=1) + numerator_in
            denominator = ops.sum(s * weights["w"], axis=1) + denominator_in
            v = (cm_t * v + leak + numerator) / (
                cm_t + gleak + denominator + self.epsilon
            )
        output = v[:, : self.output_size]
        if weights["output_w"] is not None:
            output = output * weights["output_w"]
        if weights["output_b"] is not None:
            output = output + weights["output_b"]
        return output, ([memory, v] if self.mixed_memory else [v])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "wiring": None
                if self.wiring is None
                else keras.saving.serialize_keras_object(self.wiring),
                "input_mapping": self.input_mapping,
                "output_mapping": self.output_mapping,
                "ode_unfolds": self.ode_unfolds,
                "epsilon": self.epsilon,
                "initialization_ranges": self.initialization_ranges or None,
                "mixed_memory": self.mixed_memory,
            }
        )
        return config


@register_sequence_layer("ltc")
@keras.saving.register_keras_serializable(package="rnn_zoo")
class LTC(CellSequenceLayer):
    """A liquid time-constant layer over a whole sequence (Hasani et al., 2021).

    Takes every argument of ``LTCCell`` (``units`` or a wiring, ``wiring``,
    ``ode_unfolds``, ``epsilon``, ``input_mapping``, ``output_mapping``,
    ``mixed_memory``, ...) and of ``RNN``, and ``timespans`` at the call (the
    time elapsed at every step, ``(batch, timesteps)`` or ``(batch,
    timesteps, 1)``; 1.0 where not given). Its output has the wiring's
    ``output_dim`` features (``units`` without a wiring); with
    ``return_state=True`` it returns ``[output, v]`` (``[output, c, v]``
    with ``mixed_memory``).

    Example:

    >>> import numpy as np
    >>> from rnn_zoo.layers.wirings import AutoNCP
    >>> layer = LTC(10, wiring=AutoNCP(10, 2), return_sequences=True)
    >>> x = np.zeros((2, 5, 3), "float32")
    >>> tuple(layer(x, timespans=np.full((2, 5), 0.5, "float32")).shape)
    (2, 5, 2)
    """

    cell_class = LTCCell
    cell_attributes = CellSequenceLayer.cell_attributes + (
        "wiring",
        "input_mapping",
        "output_mapping",
        "ode_unfolds",
        "epsilon",
        "initialization_ranges",
        "mixed_memory",
    )

    def __init__(self, units, *args, **kwargs):
        if isinstance(units, Wiring):  # LTC(wiring), as ncps's LTC takes it
            if kwargs.get("wiring") not in (None, units):
                raise ValueError(
                    "Give the wiring once, as `units` or as `wiring`. Received: "
                    f"units={units!r}, wiring={kwargs['wiring']!r}"
                )
            kwargs["wiring"] = units
            units = units.units
        super().__init__(units, *args, **kwargs)
