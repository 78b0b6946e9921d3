"""HamiltonianRNNCell and HamiltonianRNN: a learned separable Hamiltonian advanced
by a symplectic leapfrog integrator (after Greydanus et al., 2019, and Chen et al., 2020)."""

from __future__ import annotations

import math

import keras
from keras import initializers, ops

from rnn_zoo import _checks
from rnn_zoo.layers.cell import RecurrentCell
from rnn_zoo.layers.recurrent import CellSequenceLayer, register_sequence_layer


def _logcosh(x):
    # log(cosh(x)) without overflow: |x| + log(1 + exp(-2|x|)) - log 2.
    a = ops.abs(x)
    return a + ops.softplus(-2.0 * a) - math.log(2.0)


@keras.saving.register_keras_serializable(package="rnn_zoo")
class HamiltonianRNNCell(RecurrentCell):
    """One step of a Hamiltonian recurrent network: leapfrog on a learned energy.

    The state is a position ``q`` and a momentum ``p``, each ``(units,)``,
    that move under a learned separable Hamiltonian, in the line of
    Greydanus et al. 2019 (NeurIPS), "Hamiltonian Neural Networks", and
    Chen et al. 2020 (ICLR), "Symplectic Recurrent Neural Networks"::

        H(q, p) = T(p) + V(q)
        T(p) = 1/2 |p M|^2 + sum_j s_j * logcosh((p A)_j)
        V(q) = 1/2 |q K|^2 + sum_j r_j * logcosh((q C + c)_j) - q . b

    Each of ``T`` and ``V`` is a quadratic form plus a one-hidden-layer
    network of ``energy_units`` log-cosh units, so their gradients are
    closed-form (``logcosh' = tanh``) and the cell runs in ``keras.ops`` on
    every backend, without autodiff inside the step::

        dT/dp = (p M) M^T + (s * tanh(p A)) A^T
        dV/dq = (q K) K^T + (r * tanh(q C + c)) C^T - b

    ``T`` has no hidden bias so that it is even, ``T(-p) = T(p)``: that is
    what makes the dynamics reversible by flipping ``p``.

    **How the input enters.** The input is a force ``f_t = x_t W``, which
    adds the potential ``-q . f_t`` (linear in ``q``, held for the step).
    Each step is then the Störmer-Verlet (leapfrog, kick-drift-kick) map of
    ``H(q, p) - q . f_t``, with ``n = integration_steps`` substeps of
    ``h = dt / n``::

        p <- p - h/2 * (dV/dq(q) - f_t)
        q <- q + h   *  dT/dp(p)
        p <- p - h/2 * (dV/dq(q) - f_t)

    a symplectic map for any input. Without input (``x = 0``) the cell
    conserves its own energy ``H`` (``energy(q, p)``) up to the integrator's
    bounded ``O(h^2)`` oscillation, with no secular drift, and integrating
    back from ``(q, -p)`` returns to the start. Leapfrog is stable while
    ``h`` times the highest frequency of the learned dynamics stays below 2;
    the defaults (orthogonal matrices, unit scales: frequencies 1 to 2) give
    room up to ``h`` of about 1. The output is ``q`` (or ``[q, p]``, see
    ``output_momentum``).

    Weights, in ``get_weights()`` order: ``kernel`` ``W`` ``(features,
    units)``; ``potential_quadratic`` ``K``, ``kinetic_quadratic`` ``M``
    ``(units, units)``; ``potential_kernel`` ``C`` ``(units,
    energy_units)``, ``potential_bias`` ``c`` and ``potential_scale``
    ``r`` ``(energy_units,)``; ``kinetic_kernel`` ``A`` ``(units,
    energy_units)``, ``kinetic_scale`` ``s`` ``(energy_units,)``;
    ``bias`` ``b`` ``(units,)``, a constant force. States are ``[q, p]``.

    Args:
        units: positive integer, the number of positions (and momenta).
        dt: positive float, the time one input step advances (default 0.1).
        integration_steps: positive integer, leapfrog substeps per input
            step (default 1).
        energy_units: positive integer, hidden width of ``T`` and ``V``
            (default ``units``).
        output_momentum: output ``[q, p]`` ``(2 * units,)`` instead of ``q``
            (the whole phase-space trajectory with ``return_sequences``).
        use_bias: whether to have the constant force ``b`` (in ``V``).
        kernel_initializer: initializer of ``W`` (``"glorot_uniform"``).
        recurrent_initializer: initializer of ``K``, ``M``, ``C`` and ``A``
            (``"orthogonal"``); the scales ``r``, ``s`` start at 1.
        bias_initializer: initializer of ``b`` and ``c`` (``"zeros"``).
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: Keras
            regularizers and constraints (the recurrent ones apply to ``K``,
            ``M``, ``C`` and ``A``; the bias ones to ``b`` and ``c``).
        dropout: in ``[0, 1)``, fraction of the inputs dropped in training
            (one mask per sequence).
        seed: seed of the dropout mask.

    There is no recurrent dropout: dropping part of ``q`` or ``p`` would
    break the symplectic map.

    Call arguments:
        inputs: ``(batch, features)``, one timestep.
        states: list of two ``(batch, units)`` tensors, ``[q, p]``.
        training: enables dropout.

    Example:

    >>> import numpy as np
    >>> cell = HamiltonianRNNCell(4, dt=0.1)
    >>> q0, p0 = np.zeros((2, 4), "float32"), np.ones((2, 4), "float32")
    >>> q, (q, p) = cell(np.zeros((2, 3), "float32"), [q0, p0])
    >>> tuple(q.shape), tuple(cell.energy(q, p).shape)  # (batch, units), (batch,)
    ((2, 4), (2,))
    >>> before, after = cell.energy(q0, p0), cell.energy(q, p)
    >>> bool(np.allclose(before, after, rtol=1e-2))  # energy kept, to O(dt^2)
    True
    """

    num_states = 2

    def __init__(
        self,
        units,
        dt=0.1,
        integration_steps=1,
        energy_units=None,
        output_momentum=False,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        recurrent_dropout=0.0,
        **kwargs,
    ):
        if "activation" in kwargs:
            raise TypeError(
                "HamiltonianRNNCell has no `activation`: its step is the "
                "leapfrog map of its energy. Received: "
                f"activation={kwargs['activation']!r}"
            )
        super().__init__(
            units,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            recurrent_dropout=recurrent_dropout,
            **kwargs,
        )
        if self.recurrent_dropout:
            raise ValueError(
                "`recurrent_dropout` must be 0 for a Hamiltonian cell: dropping "
                "part of q or p would break the symplectic map. Received: "
                f"recurrent_dropout={self.recurrent_dropout}"
            )
        self.dt = _checks.check_real(dt, "dt")
        self.integration_steps = _checks.check_positive_int(
            integration_steps, "integration_steps"
        )
        self.energy_units = _checks.check_positive_int(
            self.units if energy_units is None else energy_units, "energy_units"
        )
        if not isinstance(output_momentum, bool):
            raise TypeError(
                "`output_momentum` must be True or False. Received: "
                f"output_momentum={output_momentum!r}"
            )
        self.output_momentum = output_momentum

    @property
    def output_size(self) -> int:
        return 2 * self.units if self.output_momentum else self.units

    def _add_weight(self, name, shape, kind):
        initializer, regularizer, constraint = {
            "recurrent": (
                self.recurrent_initializer,
                self.recurrent_regularizer,
                self.recurrent_constraint,
            ),
            "bias": (
                self.bias_initializer,
                self.bias_regularizer,
                self.bias_constraint,
            ),
            "scale": (initializers.get("ones"), None, None),
        }[kind]
        return self.add_weight(
            shape=shape,
            name=name,
            initializer=initializer,
            regularizer=regularizer,
            constraint=constraint,
        )

    def build(self, input_shape):
        self._set_input_dim(input_shape)
        units, hidden = self.units, self.energy_units
        self.kernel = self.add_weight(
            shape=(self.input_dim, units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.potential_quadratic = self._add_weight(
            "potential_quadratic", (units, units), "recurrent"
        )
        self.kinetic_quadratic = self._add_weight(
            "kinetic_quadratic", (units, units), "recurrent"
        )
        self.potential_kernel = self._add_weight(
            "potential_kernel", (units, hidden), "recurrent"
        )
        self.potential_bias = self._add_weight("potential_bias", (hidden,), "bias")
        self.potential_scale = self._add_weight("potential_scale", (hidden,), "scale")
        self.kinetic_kernel = self._add_weight(
            "kinetic_kernel", (units, hidden), "recurrent"
        )
        self.kinetic_scale = self._add_weight("kinetic_scale", (hidden,), "scale")
        self._add_bias((units,))

    _ENERGY_WEIGHTS = (
        "potential_quadratic",
        "kinetic_quadratic",
        "potential_kernel",
        "potential_bias",
        "potential_scale",
        "kinetic_kernel",
        "kinetic_scale",
    )

    def step_weights(self, dtype) -> dict:
        weights = {
            "kernel": ops.cast(self.kernel, dtype),
            "bias": None if self.bias is None else ops.cast(self.bias, dtype),
        }
        for name in self._ENERGY_WEIGHTS:
            weights[name] = ops.cast(getattr(self, name), dtype)
        return weights

    # The learned energy and its closed-form gradients -----------------------

    @staticmethod
    def _kinetic_gradient(p, w):
        quadratic = ops.matmul(
            ops.matmul(p, w["kinetic_quadratic"]), ops.transpose(w["kinetic_quadratic"])
        )
        hidden = w["kinetic_scale"] * ops.tanh(ops.matmul(p, w["kinetic_kernel"]))
        return quadratic + ops.matmul(hidden, ops.transpose(w["kinetic_kernel"]))

    @staticmethod
    def _potential_gradient(q, w):
        """``dV/dq`` without the constant force, which the step adds with the input's."""
        quadratic = ops.matmul(
            ops.matmul(q, w["potential_quadratic"]),
            ops.transpose(w["potential_quadratic"]),
        )
        pre = ops.matmul(q, w["potential_kernel"]) + w["potential_bias"]
        hidden = w["potential_scale"] * ops.tanh(pre)
        return quadratic + ops.matmul(hidden, ops.transpose(w["potential_kernel"]))

    def energy(self, q, p, inputs=None):
        """The learned energy ``H(q, p) = T(p) + V(q)``, ``(batch,)``.

        With ``inputs`` ``(batch, features)``, that of the step they drive,
        ``H(q, p) - q . (inputs W)``. The cell must be built.
        """
        if not self.built:
            raise ValueError(
                f"Cell '{self.name}' has no weights yet: call it (or build it) "
                "before asking for its energy."
            )
        dtype = self.compute_dtype
        w = self.step_weights(dtype)
        q, p = ops.cast(q, dtype), ops.cast(p, dtype)
        kinetic = 0.5 * ops.sum(ops.square(ops.matmul(p, w["kinetic_quadratic"])), -1)
        kinetic = kinetic + ops.sum(
            w["kinetic_scale"] * _logcosh(ops.matmul(p, w["kinetic_kernel"])), -1
        )
        potential = 0.5 * ops.sum(
            ops.square(ops.matmul(q, w["potential_quadratic"])), -1
        )
        pre = ops.matmul(q, w["potential_kernel"]) + w["potential_bias"]
        potential = potential + ops.sum(w["potential_scale"] * _logcosh(pre), -1)
        force = None
        if inputs is not None:
            force = ops.matmul(ops.cast(inputs, dtype), w["kernel"])
        if w["bias"] is not None:
            force = w["bias"] if force is None else force + w["bias"]
        if force is not None:
            potential = potential - ops.sum(q * force, -1)
        return kinetic + potential

    def step(self, projected, states, weights, recurrent_mask=None):
        q, p = states
        force = projected  # x_t W + b
        h = self.dt / self.integration_steps
        for _ in range(self.integration_steps):
            p = p - (0.5 * h) * (self._potential_gradient(q, weights) - force)
            q = q + h * self._kinetic_gradient(p, weights)
            p = p - (0.5 * h) * (self._potential_gradient(q, weights) - force)
        output = ops.concatenate([q, p], axis=-1) if self.output_momentum else q
        return output, [q, p]

    def get_config(self):
        config = super().get_config()
        for key in ("activation", "recurrent_dropout"):
            config.pop(key)
        config.update(
            {
                "dt": self.dt,
                "integration_steps": self.integration_steps,
                "energy_units": self.energy_units,
                "output_momentum": self.output_momentum,
            }
        )
        return config


@register_sequence_layer("hamiltonian")
@keras.saving.register_keras_serializable(package="rnn_zoo")
class HamiltonianRNN(CellSequenceLayer):
    """A Hamiltonian recurrent layer over a whole sequence.

    Takes every argument of ``HamiltonianRNNCell`` (``units``, ``dt``,
    ``integration_steps``, ``energy_units``, ...) and of ``RNN``
    (``return_sequences``, ``return_state``, ``go_backwards``,
    ``stateful``). With ``return_state=True`` it returns ``[output, q, p]``;
    ``energy(q, p)`` is the cell's learned energy.

    Example:

    >>> import numpy as np
    >>> layer = HamiltonianRNN(8, dt=0.1, return_sequences=True, return_state=True)
    >>> seq, q, p = layer(np.zeros((2, 5, 3), "float32"))
    >>> tuple(seq.shape), tuple(layer.energy(q, p).shape)  # (batch, T, units), (batch,)
    ((2, 5, 8), (2,))
    """

    cell_class = HamiltonianRNNCell
    cell_attributes = tuple(
        a
        for a in CellSequenceLayer.cell_attributes
        if a not in ("activation", "recurrent_dropout")
    ) + ("dt", "integration_steps", "energy_units", "output_momentum")

    def energy(self, q, p, inputs=None):
        """The cell's learned energy ``H(q, p)``, ``(batch,)``; see ``HamiltonianRNNCell.energy``."""
        return self.cell.energy(q, p, inputs)
