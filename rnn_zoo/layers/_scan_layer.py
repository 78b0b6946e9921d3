"""The shared base of cells and layers whose recurrence is linear in the state.

A cell here computes, besides its one-step ``step``, the coefficients of
``h_t = a_t * h_{t-1} + b_t`` for every timestep at once
(``scan_coefficients``); the sequence layer hands them to
:func:`rnn_zoo.kernels.scan.run_scan`, a parallel scan, instead of looping
over ``step``. ``implementation``/``kernel="reference"`` keeps the loop.
"""

from __future__ import annotations

import keras
from keras import constraints, initializers, ops, regularizers

from rnn_zoo.kernels.scan import run_scan
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

    Subclasses implement ``scan_coefficients(projected, weights)`` returning
    ``(a, b)`` (their logarithms when ``log_space``) for any leading axes, and
    ``step``. There is no recurrent kernel, so no recurrent dropout.
    """

    num_states = 1
    log_space = False

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

    def scan_coefficients(self, projected, weights):
        """``(a, b)`` of every step from the projected inputs (logs when ``log_space``)."""
        raise NotImplementedError

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
    """A sequence layer over a ``LinearRecurrentCell`` that runs the parallel scan.

    ``kernel="reference"`` runs the cell's ``step`` in the reference loop
    instead; both give the same outputs and states (tested).
    """

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

    def _run_reference(self, sequences, initial_state, weights, recurrent_mask, mask):
        # RNN.call lands here whenever no fused kernel runs; the scan is this
        # family's fast path, the loop its reference.
        if self.kernel == "reference":
            return super()._run_reference(
                sequences, initial_state, weights, recurrent_mask, mask
            )
        projected = self.cell.project_inputs(sequences, weights)
        a, b = self.cell.scan_coefficients(projected, weights)
        return run_scan(
            a,
            b,
            initial_state[0],
            mask=mask,
            go_backwards=self.go_backwards,
            return_sequences=self.return_sequences,
            zero_output_for_mask=self.zero_output_for_mask,
            log_space=self.cell.log_space,
        )
