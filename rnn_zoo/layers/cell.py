"""RecurrentCell: the base of rnn_zoo's one-step cells.

A cell owns the weights and the math of one step. It splits its step in two so
that the sequence layer (:mod:`rnn_zoo.layers.recurrent`) can hoist the input
projection out of the time loop: ``project_inputs`` (one large matrix product
over all timesteps) and ``step`` (the recurrent part). ``call`` chains the two,
so a cell also works one step at a time and inside ``keras.layers.RNN``.
"""

from __future__ import annotations

import keras
from keras import constraints, initializers, ops, regularizers

from rnn_zoo import _checks
from rnn_zoo.kernels import CellSpec
from rnn_zoo.layers import _timespans


def check_cell_implementation(value, owner: str) -> int:
    """A Keras cell's ``implementation`` (1 or 2): how Keras groups the gate
    products, which changes nothing in an rnn_zoo cell's results."""
    if isinstance(value, bool) or value not in (1, 2):
        raise ValueError(
            f"{owner}: `implementation` must be 1 or 2 (Keras's cell "
            f"implementations). Received: implementation={value!r}"
        )
    return int(value)


class RecurrentCell(keras.layers.Layer):
    """Base class of rnn_zoo's one-step cells.

    Subclasses set ``gates`` (how many ``units``-wide blocks the kernels hold)
    and implement ``step``. Weights follow Keras's layout: ``kernel``
    ``(input_dim, gates * units)``, ``recurrent_kernel``
    ``(units, gates * units)`` and ``bias``.

    A cell whose step computes a family the fast kernels run says so with
    ``fused_family`` (a family of :mod:`rnn_zoo.kernels`) and, where its
    configuration matters, ``fused_params``; a cell without one runs the
    reference loop.

    A cell whose state follows continuous time sets ``uses_time = True``: its
    ``step`` then takes ``timespans``, the ``(batch, 1)`` time elapsed at the
    step (``None`` for 1.0), and the sequence layers accept ``timespans``.
    Every other cell refuses them.
    """

    gates = 1
    num_states = 1
    # The kernel family whose math ``step`` computes exactly, or None.
    fused_family: str | None = None
    # Whether ``step`` reads the elapsed time (``timespans=``).
    uses_time: bool = False

    def __init__(
        self,
        units,
        activation="tanh",
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
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _checks.check_units(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _checks.check_rate(dropout, "dropout")
        self.recurrent_dropout = _checks.check_rate(
            recurrent_dropout, "recurrent_dropout"
        )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    @property
    def state_size(self) -> list[int]:
        return [self.units] * self.num_states

    @property
    def output_size(self) -> int:
        return self.units

    def _add_kernels(self, input_dim: int) -> None:
        width = self.gates * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )

    def _add_bias(self, shape, initializer=None) -> None:
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=shape,
                name="bias",
                initializer=initializer or self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def _set_input_dim(self, input_shape) -> int:
        """Sets and returns ``input_dim``, the input's (known) feature size."""
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Cell '{self.name}' needs a known input feature size. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.input_dim = int(input_dim)
        return self.input_dim

    def build(self, input_shape):
        self._set_input_dim(input_shape)
        self._add_kernels(self.input_dim)
        self._add_bias((self.gates * self.units,))

    # The split API the sequence layer uses --------------------------------

    def step_weights(self, dtype) -> dict:
        """The weights cast once to the compute dtype, for a whole sequence."""
        weights = {
            "kernel": ops.cast(self.kernel, dtype),
            "recurrent_kernel": ops.cast(self.recurrent_kernel, dtype),
            "bias": None if self.bias is None else ops.cast(self.bias, dtype),
        }
        return weights

    def input_bias(self, weights):
        return weights["bias"]

    def project_inputs(self, inputs, weights):
        """``inputs @ kernel + input bias`` over any leading axes."""
        kernel = weights["kernel"]
        if len(inputs.shape) == 3:
            # One 2-D product over all (batch, time) rows: a broadcast batched
            # product is several times slower on CPU, its gradient more so.
            leading = ops.shape(inputs)[:2]
            flat = ops.reshape(inputs, (-1, inputs.shape[-1]))
            projected = ops.reshape(
                ops.matmul(flat, kernel), (*leading, kernel.shape[-1])
            )
        else:
            projected = ops.matmul(inputs, kernel)
        bias = self.input_bias(weights)
        if bias is not None:
            projected = projected + bias
        return projected

    def step(self, projected, states, weights, recurrent_mask=None):
        """One timestep from the projected input; returns ``(output, new_states)``.

        A cell with ``uses_time`` takes ``timespans=`` too.
        """
        raise NotImplementedError

    def dropout_masks(self, batch_size, input_dim, dtype, training):
        """Dropout masks, drawn once per sequence (variational dropout)."""
        input_mask = recurrent_mask = None
        if training and self.dropout > 0:
            input_mask = keras.random.dropout(
                ops.ones((batch_size, input_dim), dtype=dtype),
                self.dropout,
                seed=self.seed_generator,
            )
        if training and self.recurrent_dropout > 0:
            recurrent_mask = keras.random.dropout(
                ops.ones((batch_size, self.units), dtype=dtype),
                self.recurrent_dropout,
                seed=self.seed_generator,
            )
        return input_mask, recurrent_mask

    # Whether project_inputs(concat([x, y])) is x @ kernel[:n] + y @ kernel[n:]
    # + the input bias (n = x's width), so that a caller may project x for
    # all steps at once and add y's share at each step (the attention
    # decoder's fed-back attention); False where the projection is more.
    projection_splits_by_rows = True

    # The argument that makes the cell draw per-step noise in training, as
    # "name=value" (say "zoneout=0.1"), or "" for a cell that draws none.
    step_noise_reason = ""

    def step_noise(self, batch_size, timesteps, dtype, training):
        """Random numbers the step reads afresh at every timestep, or None.

        Dropout masks (:meth:`dropout_masks`) are drawn once per sequence; a
        regulariser that draws anew at every step (``QRNN``'s zoneout) draws
        here, for all ``timesteps`` at once: ``(batch_size, timesteps, n)``,
        or ``(batch_size, n)`` for one step (``timesteps=None``). The caller
        puts it in the step weights as ``weights["step_noise"]``, where
        ``project_inputs`` and ``step`` (the reference loop) and the kernels
        read it; a random draw inside the time loop would not work on every
        backend (a JAX scan cannot advance a seed generator).
        """
        return None

    # What the kernels may run ---------------------------------------------

    def fused_params(self) -> tuple[dict, list[str]]:
        """The family's parameters for this cell, and why this configuration is outside the family.

        Returns ``(params, reasons)``: plain values (activation names, ...)
        and, where the configuration is one no kernel computes (say
        ``activation="sigmoid"``), why; empty when it is inside.
        """
        return {}, []

    def _activation_reasons(self, **fused) -> list[str]:
        """Why activations differ from the fused family's, e.g. ``activation="tanh"``."""
        reasons = []
        for attribute, allowed in fused.items():
            allowed = (allowed,) if isinstance(allowed, str) else tuple(allowed)
            activation = getattr(self, attribute)
            # By identity: a function of the same name is not Keras's.
            if not any(activation is keras.activations.get(a) for a in allowed):
                name = getattr(activation, "__name__", type(activation).__name__)
                wanted = " or ".join(repr(a) for a in allowed)
                reasons.append(f"{attribute}={name!r} (fused: {wanted})")
        return reasons

    def _activation_name(self, attribute: str) -> str:
        return getattr(getattr(self, attribute), "__name__", "")

    def _keras_activation(self, attribute: str) -> tuple[str, list[str]]:
        """The name of a Keras activation the kernels can look up, or why not
        (a function of the user's own has no name a kernel could resolve)."""
        name = self._activation_name(attribute)
        try:
            if keras.activations.get(name) is getattr(self, attribute):
                return name, []
        except (ValueError, TypeError):
            pass
        return name, [f"{attribute}={name!r} is not a Keras activation"]

    def fused_spec(self, training: bool = False) -> CellSpec:
        """What the fast kernels need to know of this cell, or why they cannot run it."""
        name = type(self).__name__
        if self.fused_family is None:
            return CellSpec.unavailable(f"{name} has no fused kernel")
        owner = next(c for c in type(self).__mro__ if "fused_family" in vars(c))
        # A subclass that changes the math leaves the family.
        reasons = [
            f"{name} overrides {owner.__name__}.{method}"
            for method in ("step", "project_inputs")
            if getattr(type(self), method) is not getattr(owner, method)
        ]
        params, more = self.fused_params()
        reasons += more
        if training and self.recurrent_dropout > 0:
            reasons.append(
                f"recurrent_dropout={self.recurrent_dropout} (in training; "
                "the fused kernels have no recurrent dropout)"
            )
        if reasons:  # the family, but a configuration outside it
            return CellSpec(self.fused_family, (), tuple(reasons))
        return CellSpec.of(self.fused_family, **params)

    # The Keras cell protocol -------------------------------------------------

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype)
            for size in self.state_size
        ]

    def call(self, inputs, states, training=False, timespans=None):
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        time = {}
        if timespans is not None:
            time = {"timespans": self._step_timespans(timespans, inputs)}
        weights = self.step_weights(self.compute_dtype)
        input_mask, recurrent_mask = self.dropout_masks(
            ops.shape(inputs)[0], ops.shape(inputs)[-1], self.compute_dtype, training
        )
        if input_mask is not None:
            inputs = inputs * input_mask
        noise = self.step_noise(
            ops.shape(inputs)[0], None, self.compute_dtype, training
        )
        if noise is not None:
            weights = dict(weights, step_noise=noise)
        output, new_states = self.step(
            self.project_inputs(inputs, weights),
            states,
            weights,
            recurrent_mask,
            **time,
        )
        return output, new_states

    def _step_timespans(self, timespans, inputs):
        """One step's ``timespans`` (``(batch,)`` or ``(batch, 1)``) as ``(batch, 1)``, checked."""
        if not self.uses_time:
            _timespans.refuse_timespans(self.name, self)
        if not hasattr(timespans, "shape"):
            timespans = ops.convert_to_tensor(timespans)
        if len(timespans.shape) == 1:
            timespans = ops.expand_dims(timespans, -1)
        # One step is a sequence of one timestep to the shared check.
        checked = _timespans.prepare_timespans(
            ops.expand_dims(timespans, 1),
            (inputs.shape[0], 1, inputs.shape[-1]),
            None,
            self.compute_dtype,
            self.name,
        )
        return checked[:, 0]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(
                    self.recurrent_initializer
                ),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": regularizers.serialize(
                    self.recurrent_regularizer
                ),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "recurrent_constraint": constraints.serialize(
                    self.recurrent_constraint
                ),
                "bias_constraint": constraints.serialize(self.bias_constraint),
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed,
            }
        )
        return config
