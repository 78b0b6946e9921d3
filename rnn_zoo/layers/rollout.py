"""AutoregressiveRollout: a recurrent forecaster that feeds its predictions back."""

from __future__ import annotations

import keras
from keras import ops

from rnn_zoo import _checks
from rnn_zoo.kernels.loop import scan
from rnn_zoo.layers.stack import StackedRNN


@keras.saving.register_keras_serializable(package="rnn_zoo")
class AutoregressiveRollout(keras.layers.Layer):
    """Reads a history, then predicts ``horizon`` steps one at a time.

    The recurrent stack reads the history rows ``(target, covariates)`` and
    predicts the next target from its last output; each prediction (with the
    covariates known for that future step, if any) becomes the next input.
    The same weights read the history and roll out the forecast, so the model
    is trained on its own multi-step predictions (no teacher forcing).

    Args:
        horizon: how many future steps to predict.
        num_targets: how many target series (the first features of a row).
        num_covariates: how many covariate features follow the targets.
        cell: a registered cell name.
        units: recurrent units per layer.
        num_layers: stacked recurrent layers.
        dropout: in ``[0, 1)``, between recurrent layers.
        **cell_kwargs: passed to every recurrent layer.

    Call arguments:
        history: ``(batch, window, num_targets + num_covariates)``.
        future_covariates: ``(batch, horizon, num_covariates)``, required
            when ``num_covariates > 0``.
        training: enables dropout.

    Example:

    >>> import numpy as np
    >>> rollout = AutoregressiveRollout(horizon=4, units=8)
    >>> tuple(rollout(np.zeros((2, 10, 1), "float32")).shape)  # (batch, horizon, targets)
    (2, 4, 1)
    """

    def __init__(
        self,
        horizon,
        num_targets=1,
        num_covariates=0,
        cell="lstm",
        units=64,
        num_layers=1,
        dropout=0.0,
        **cell_kwargs,
    ):
        layer_kwargs = {
            key: cell_kwargs.pop(key)
            for key in ("name", "dtype", "trainable")
            if key in cell_kwargs
        }
        super().__init__(**layer_kwargs)
        self.horizon = _checks.check_positive_int(horizon, "horizon")
        self.num_targets = _checks.check_positive_int(num_targets, "num_targets")
        if isinstance(num_covariates, bool) or not isinstance(num_covariates, int):
            raise TypeError(
                "`num_covariates` must be a non-negative integer. "
                f"Received: num_covariates={num_covariates!r}"
            )
        if num_covariates < 0:
            raise ValueError(
                "`num_covariates` must be a non-negative integer. "
                f"Received: num_covariates={num_covariates}"
            )
        self.num_covariates = num_covariates
        self.cell = cell
        self.units = units
        self.num_layers = num_layers
        self.dropout = dropout
        self.cell_kwargs = dict(cell_kwargs)
        self.stack = StackedRNN(
            cell,
            units=units,
            num_layers=num_layers,
            dropout=dropout,
            return_sequences=False,
            return_state=True,
            name="stack",
            dtype=layer_kwargs.get("dtype"),
            **cell_kwargs,
        )
        self.head = keras.layers.Dense(
            self.num_targets, name="head", dtype=layer_kwargs.get("dtype")
        )

    def build(self, history_shape, future_covariates_shape=None):
        _checks.check_sequence_shape(history_shape, self.name, "history")
        expected = self.num_targets + self.num_covariates
        if history_shape[-1] is not None and history_shape[-1] != expected:
            raise ValueError(
                f"Layer '{self.name}' expects `history` rows of num_targets + "
                f"num_covariates = {expected} features. Received: history shape "
                f"{tuple(history_shape)}"
            )
        self.stack.build(tuple(history_shape))
        self.head.build((history_shape[0], self.stack.rnn_layers[-1].units))
        self.built = True

    def call(self, history, future_covariates=None, training=False):
        if self.num_covariates and future_covariates is None:
            raise ValueError(
                f"Layer '{self.name}' has num_covariates={self.num_covariates}: pass "
                "`future_covariates` of shape (batch, horizon, num_covariates)."
            )
        output, *states = self.stack(history, training=training)
        prediction = self.head(output)
        if self.horizon == 1:
            return prediction[:, None, :]
        batch = ops.shape(history)[0]
        if self.num_covariates:
            # Row t - 1 holds the covariates of the step whose target was
            # just predicted; time-major for the scan.
            xs = ops.transpose(
                ops.cast(future_covariates[:, : self.horizon - 1], prediction.dtype),
                (1, 0, 2),
            )
        else:
            xs = ops.zeros((self.horizon - 1, batch, 0), prediction.dtype)

        def step(carry, covariates):
            prediction, states = carry
            step_input = ops.concatenate([prediction, covariates], axis=-1)
            output, states = self.stack.step(step_input, states, training=training)
            prediction = self.head(output)
            return (prediction, list(states)), prediction

        # A loop, not horizon unrolled copies of the step: the graph (and its
        # tracing time) stays the same size for any horizon.
        _, rest = scan(step, (prediction, list(states)), xs, prediction)
        return ops.concatenate(
            [prediction[:, None, :], ops.transpose(rest, (1, 0, 2))], axis=1
        )

    def compute_output_shape(self, history_shape, future_covariates_shape=None):
        return (history_shape[0], self.horizon, self.num_targets)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "horizon": self.horizon,
                "num_targets": self.num_targets,
                "num_covariates": self.num_covariates,
                "cell": self.cell,
                "units": self.units,
                "num_layers": self.num_layers,
                "dropout": self.dropout,
                **self.cell_kwargs,
            }
        )
        return config
