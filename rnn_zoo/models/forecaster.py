"""build_forecaster: a window of past values to the next ``horizon`` steps."""

from __future__ import annotations

import keras

from rnn_zoo import _checks
from rnn_zoo.layers.rollout import AutoregressiveRollout
from rnn_zoo.models import _body

MODES = ("direct", "autoregressive")


def build_forecaster(
    horizon: int,
    *,
    num_targets: int = 1,
    num_covariates: int = 0,
    window: int | None = None,
    mode: str = "direct",
    cell: str = "lstm",
    units: int = 64,
    num_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    residual: bool = False,
    timespans: bool = False,
    name: str | None = None,
    **cell_kwargs,
) -> keras.Model:
    """Builds a time-series forecaster.

    The input ``history`` holds the last ``window`` rows of the series, each
    row the targets first, then the covariates. Scale the values yourself
    (the model predicts in the units it reads).

    - ``mode="direct"``: the recurrent body reads the history and one dense
      layer predicts all ``horizon`` steps at once (no error accumulation;
      the body may be bidirectional).
    - ``mode="autoregressive"``: the body predicts one step, reads its own
      prediction and predicts the next (:class:`~rnn_zoo.layers.AutoregressiveRollout`);
      with covariates, a second input ``future_covariates`` ``(batch, horizon,
      num_covariates)`` gives their known future values (row ``t`` belongs
      to forecast step ``t``).

    Args:
        horizon: how many future steps to predict.
        num_targets: how many series to forecast.
        num_covariates: extra features per row that are inputs only.
        window: fixed history length, or ``None`` for any.
        mode: ``"direct"`` or ``"autoregressive"``.
        cell: a registered cell name.
        units: recurrent units per layer (per direction).
        num_layers: stacked recurrent layers.
        bidirectional: direct mode only.
        dropout: in ``[0, 1)``, between layers and before the output.
        recurrent_dropout: in ``[0, 1)``, dropout on the recurrent state.
        residual: residual connections between stacked layers (direct mode).
        timespans: direct mode only: add a second input ``timespans``
            ``(batch, window)``, the time elapsed at every history row
            (irregularly sampled series), read by a cell that uses time
            (``"cfc"``, ``"ltc"``); the inputs are then ``[history, timespans]``.
        name: the model's name.
        **cell_kwargs: passed to every recurrent layer.

    Returns:
        An uncompiled ``keras.Model`` whose output ``forecast`` is
        ``(batch, horizon, num_targets)``.

    Example:

    >>> model = build_forecaster(12, window=48, units=16)
    >>> model.output_shape  # (batch, horizon, num_targets)
    (None, 12, 1)
    """
    horizon = _checks.check_positive_int(horizon, "horizon")
    num_targets = _checks.check_positive_int(num_targets, "num_targets")
    if (
        isinstance(num_covariates, bool)
        or not isinstance(num_covariates, int)
        or num_covariates < 0
    ):
        raise ValueError(
            "`num_covariates` must be a non-negative integer. "
            f"Received: num_covariates={num_covariates!r}"
        )
    window = _body.optional_positive_int(window, "window")
    mode = _checks.check_choice(mode, "mode", MODES)
    dropout = _body.check_common(cell=cell, num_layers=num_layers, dropout=dropout)
    if mode == "autoregressive" and bidirectional:
        raise ValueError(
            "An autoregressive forecaster reads forwards, one step at a time: "
            "use mode='direct' for a bidirectional body. Received: "
            "mode='autoregressive', bidirectional=True"
        )
    time = _body.timespans_input(timespans, cell=cell, length=window)
    if time is not None and mode == "autoregressive":
        raise ValueError(
            "`timespans=True` needs mode='direct': an autoregressive forecaster "
            "steps at a fixed interval past the history. Received: "
            "mode='autoregressive', timespans=True"
        )
    features = num_targets + num_covariates
    history = keras.Input(shape=(window, features), name="history")
    name = name or f"{cell}_forecaster"

    if mode == "autoregressive":
        inputs = {"history": history}
        future = None
        if num_covariates:
            future = keras.Input(
                shape=(horizon, num_covariates), name="future_covariates"
            )
            inputs["future_covariates"] = future
        rollout = AutoregressiveRollout(
            horizon,
            num_targets=num_targets,
            num_covariates=num_covariates,
            cell=cell,
            units=units,
            num_layers=num_layers,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            name="forecast",
            **cell_kwargs,
        )
        outputs = rollout(history, future) if future is not None else rollout(history)
        return keras.Model(
            inputs if future is not None else history, outputs, name=name
        )

    x = _body.recurrent_body(
        history,
        cell=cell,
        units=units,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        residual=residual,
        return_sequences=False,
        timespans=time,
        **cell_kwargs,
    )
    if dropout:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    x = keras.layers.Dense(horizon * num_targets, name="projection")(x)
    outputs = keras.layers.Reshape((horizon, num_targets), name="forecast")(x)
    inputs = history if time is None else [history, time]
    return keras.Model(inputs, outputs, name=name)
