"""The shared base of cells and layers whose recurrence is linear in the state.

``h_t = a_t * h_{t-1} + b_t`` with ``a_t``, ``b_t`` from the input only: the
cell's ``step`` is the reference, and its ``fused_family`` names the math the
parallel scan of :mod:`rnn_zoo.kernels.scan` computes for the whole sequence
(the kernel table picks it under ``implementation="auto"``).
"""

from __future__ import annotations

import keras
from keras import constraints, initializers, ops, regularizers

from rnn_zoo.layers.cell import RecurrentCell
from rnn_zoo.layers.recurrent import CellSequenceLayer

# RecurrentCell's arguments that a cell without recurrent kernel must refuse.
_NO_SUCH_WEIGHTS = (
    "activation",
    "recurrent_initializer",
    "recurrent_regularizer",
    "recurrent_constraint",
)


class LinearRecurrentCell(RecurrentCell):
    """A cell with one state and ``h_t = a_t * h_{t-1} + b_t``, ``a_t, b_t`` from the input.

    Subclasses set ``fused_family`` (a family of :mod:`rnn_zoo.kernels.scan`)
    and implement ``step``. There is no recurrent kernel, so no recurrent
    dropout.
    """

    num_states = 1

    def __init__(
        self,
        units,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        for name in _NO_SUCH_WEIGHTS:
            if name in kwargs:
                raise TypeError(
                    f"{type(self).__name__} has no recurrent kernel and no "
                    f"activation, so no `{name}`. Received: {name}={kwargs[name]!r}"
                )
        # Taken (builders pass recurrent_dropout=0.0 to every cell), never used.
        if recurrent_dropout != 0:
            raise ValueError(
                f"{type(self).__name__} has no recurrent weights to drop: "
                "`recurrent_dropout` must be 0 (use `dropout` for the inputs). "
                f"Received: recurrent_dropout={recurrent_dropout!r}"
            )
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

    def _add_kernels(self, input_dim: int) -> None:
        self.kernel = self.add_weight(
            shape=(input_dim, self.gates * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    def step_weights(self, dtype) -> dict:
        return {
            "kernel": ops.cast(self.kernel, dtype),
            "bias": None if self.bias is None else ops.cast(self.bias, dtype),
        }

    def get_config(self):
        # Not RecurrentCell's: there is no recurrent kernel and no activation.
        config = keras.layers.Layer.get_config(self)
        config.update(
            {
                "units": self.units,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
                "dropout": self.dropout,
                "seed": self.seed,
            }
        )
        return config


class LinearRecurrenceLayer(CellSequenceLayer):
    """A sequence layer over a ``LinearRecurrentCell``: the parallel scan under
    ``implementation="auto"``, the cell's ``step`` in a loop under ``"reference"``."""

    cell_class = LinearRecurrentCell
    cell_attributes = (
        "use_bias",
        "kernel_initializer",
        "bias_initializer",
        "kernel_regularizer",
        "bias_regularizer",
        "kernel_constraint",
        "bias_constraint",
        "dropout",
        "seed",
    )
