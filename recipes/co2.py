"""Mauna Loa CO2: forecast the next year of weekly CO2 from the two before.

A recurrent forecaster reads the last ``--window`` weeks (default 104) of
the Mauna Loa CO2 record and predicts the next ``--horizon`` weeks (default
52) in ppm. The data is the weekly series that ``statsmodels`` ships
(1958-2001); see :mod:`rnn_zoo.data.co2` for the gap filling, the
chronological train/validation/test split and the scaling.

The model: ``rnn_zoo.build_forecaster``. ``--mode direct`` (the default)
reads the history with an LSTM and predicts all weeks at once;
``--mode autoregressive`` predicts one week at a time and reads its own
prediction back.

The baseline, computed in the same script on the same test windows: the
seasonal-naive forecast, which predicts each week with the value of the same
week one year (52 weeks) earlier. It gets the seasonal cycle right and misses
one year of trend (~1.5 ppm), so beating it means learning the trend.

Run it:

    rnn-zoo train co2 --output /tmp/co2                # about 1.5 min on 2 CPU cores
    rnn-zoo train co2 --output /tmp/co2_ar --mode autoregressive
    rnn-zoo train co2 --output /tmp/smoke --smoke      # seconds: fewer windows, 1 epoch
    rnn-zoo evaluate /tmp/co2

It writes, under ``--output``:

- ``model.keras``: the trained Keras model (input and output in scaled units,
  see :func:`rnn_zoo.data.co2.normalize`);
- ``export/``: a SavedModel whose ``forecast`` signature takes raw history
  in ppm ``(batch, window)`` and returns the forecast in ppm
  ``(batch, horizon)``; the scaling happens in the graph;
- ``forecast.png``: the forecast for the last test window against what was
  measured, with the baseline's;
- ``metrics.json``: test MAE and RMSE in ppm next to the baseline's, epochs,
  runtime and the configuration;
- ``run.json``: the recipe, its flags and the scaling.
"""

from __future__ import annotations

import argparse
import os
import time

import keras
import numpy as np

from rnn_zoo import build_forecaster, training
from rnn_zoo.data import co2 as co2_data

RECIPE = "co2"
DESCRIPTION = "Mauna Loa CO2: forecast the next weeks vs a seasonal-naive baseline"
REQUIRES: dict[str, str] = {"statsmodels": "statsmodels", "matplotlib": "matplotlib"}

"""
## Configuration
"""

# Upper bound on epochs: EarlyStopping ends training once validation loss stalls.
EPOCHS = 30
# Windows per training step (23 steps per epoch on the 1,444 training windows).
BATCH_SIZE = 64
# The recurrent cell: "lstm", "gru" or "simple".
CELL = "lstm"
# Recurrent units per layer.
UNITS = 64
# Stacked recurrent layers.
NUM_LAYERS = 1
# Dropout between layers and before the output; the windows overlap heavily,
# so there is less independent data than their number suggests.
DROPOUT = 0.0
# Adam's learning rate.
LEARNING_RATE = 3e-3
# Epochs without a better validation loss before training stops.
PATIENCE = 8
# "direct": all weeks at once; "autoregressive": one week at a time.
MODE = "direct"
# The training loss, in scaled units: "mse" or "mae".
LOSS = "mse"
# Weeks of history in (two seasonal cycles) and weeks forecast out (one year).
WINDOW = co2_data.DEFAULT_WINDOW
HORIZON = co2_data.DEFAULT_HORIZON
# Train, validation and test shares of the weeks, in time order.
FRACTIONS = (0.7, 0.15, 0.15)
# Seeds the shuffling, the initial weights and dropout (the split is by date).
SEED = 1337
# --smoke: weeks between forecast origins (fewer windows of the same data), epochs.
SMOKE_STRIDE = 13
SMOKE_EPOCHS = 1
# Forecast weeks whose test MAE metrics.json reports separately.
REPORTED_WEEKS = (1, 4, 13, 26, 52)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The recipe's command-line flags (``rnn-zoo train co2 --help``).

    Args:
        argv: the flags; ``None`` reads ``sys.argv``.

    Returns:
        The parsed flags; bad values exit with status 2 and the flag's name.

    Example:

    >>> args = parse_args(["--output", "/tmp/co2", "--mode", "autoregressive"])
    >>> args.mode, args.window, args.horizon
    ('autoregressive', 104, 52)
    """
    parser = training.base_parser(
        RECIPE,
        "Train a weekly CO2 forecaster on the Mauna Loa record (statsmodels).",
        defaults=dict(
            epochs=EPOCHS,
            batch_size=BATCH_SIZE,
            cell=CELL,
            units=UNITS,
            num_layers=NUM_LAYERS,
            dropout=DROPOUT,
            learning_rate=LEARNING_RATE,
            seed=SEED,
        ),
    )
    parser.add_argument(
        "--mode",
        choices=["direct", "autoregressive"],
        default=MODE,
        help=f"predict all weeks at once or one at a time (default {MODE})",
    )
    parser.add_argument(
        "--loss", choices=["mse", "mae"], default=LOSS, help=f"default {LOSS}"
    )
    parser.add_argument(
        "--window",
        type=int,
        default=WINDOW,
        help=f"weeks of history in; at least {co2_data.SEASON} for the "
        f"baseline (default {WINDOW})",
    )
    parser.add_argument(
        "--horizon",
        type=int,
        default=HORIZON,
        help=f"weeks forecast out (default {HORIZON})",
    )
    args = parser.parse_args(argv)
    if args.window < co2_data.SEASON:
        parser.error(
            f"--window must be at least {co2_data.SEASON} weeks, so that the "
            f"seasonal-naive baseline sees last year, got {args.window}"
        )
    if args.horizon < 1:
        parser.error(f"--horizon must be a positive integer, got {args.horizon}")
    return training.check_args(parser, args)


"""
## Data

Weekly ppm values, gaps filled by interpolation within each period, split by
date into 70% / 15% / 15%; windows of `window` weeks of history and the
`horizon` weeks after, each window centred on its own history mean and
divided by one training statistic.
"""


def _load(args: argparse.Namespace) -> co2_data.Co2Data:
    # The same windows for load_data and for the baseline in evaluate.
    return co2_data.load_co2(
        window=args.window,
        horizon=args.horizon,
        fractions=FRACTIONS,
        stride=SMOKE_STRIDE if args.smoke else 1,
    )


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """The three splits as batched ``tf.data`` pipelines of scaled windows.

    Args:
        args: the recipe's flags (``window``, ``horizon``, ``batch_size``,
            ``seed``, ``smoke`` are read).

    Returns:
        A :class:`~rnn_zoo.recipes.training.RecipeData` of ``(inputs
        (batch, window, 1), targets (batch, horizon, 1))`` whose ``info``
        holds ``window``, ``horizon``, ``scale``, the periods and the window
        counts.

    Example:

    >>> data = load_data(parse_args(["--output", "/tmp/co2", "--smoke"]))
    >>> data.info["window"], data.info["horizon"]
    (104, 52)
    """
    data = _load(args)

    def dataset(windows, shuffle=False):
        return co2_data.make_dataset(
            windows,
            data.scale,
            batch_size=args.batch_size,
            shuffle=shuffle,
            seed=args.seed,
        )

    return training.RecipeData(
        train=dataset(data.train, shuffle=True),
        validation=dataset(data.validation),
        test=dataset(data.test),
        info=data.info,
    )


"""
## Model

`rnn_zoo.build_forecaster`: an LSTM reads the scaled history; in direct
mode one dense layer predicts every week, in autoregressive mode the same
LSTM rolls forward one week at a time.
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The compiled forecaster.

    Args:
        args: the recipe's flags (architecture, ``mode``, ``loss``,
            ``learning_rate``).
        info: ``load_data``'s info (``window``, ``horizon``).

    Returns:
        A model compiled with Adam, ``args.loss`` and MAE as a metric.

    Example:

    >>> args = parse_args(["--output", "/tmp/co2", "--units", "8"])
    >>> build_model(args, {"window": 104, "horizon": 52}).output_shape
    (None, 52, 1)
    """
    model = build_forecaster(
        info["horizon"],
        window=info["window"],
        mode=args.mode,
        cell=args.cell,
        units=args.units,
        num_layers=args.num_layers,
        dropout=args.dropout,
        name="co2_forecaster",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss=args.loss,
        metrics=["mae"],
    )
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """The search space for ``rnn-zoo tune co2``: rnn_zoo's forecaster.

    The tuner picks the cell, units, layers, direction (direct mode only),
    dropout and learning rate; the window, horizon and mode stay fixed.

    Args:
        args: the recipe's flags (``mode``, ``loss``).
        info: ``load_data``'s info.

    Returns:
        A :class:`~rnn_zoo.models.hypermodels.ForecasterHyperModel`.

    Example:

    >>> args = parse_args(["--output", "/tmp/co2"])
    >>> hypermodel(args, {"window": 104, "horizon": 52})  # doctest: +ELLIPSIS
    <rnn_zoo.models.hypermodels.ForecasterHyperModel object at ...>
    """
    from rnn_zoo.models.hypermodels import ForecasterHyperModel

    return ForecasterHyperModel(
        horizon=info["horizon"],
        window=info["window"],
        mode=args.mode,
        name="co2_forecaster",
        loss=args.loss,
        metrics=["mae"],
    )


"""
## Evaluation

Errors in ppm over every week of every test window (forecast origins one week
apart), next to the seasonal-naive baseline on the same windows.
"""


def seasonal_naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """Each forecast week takes the value of the same week a year earlier.

    Week ``h`` after the origin (``h = 1 .. horizon``) gets the history value
    52 weeks before it; beyond 52 weeks the last year repeats.

    Args:
        history: ``(n, window)`` with ``window >= 52``, ppm.
        horizon: weeks to forecast.

    Returns:
        ``(n, horizon)``, ppm.

    Example:

    >>> history = np.arange(104.0)[None, :]  # weeks 0..103; the origin is week 103
    >>> seasonal_naive(history, 3).tolist()  # weeks 104..106 -> weeks 52..54
    [[52.0, 53.0, 54.0]]
    """
    window = history.shape[1]
    if window < co2_data.SEASON:
        raise ValueError(
            f"`history` must hold at least {co2_data.SEASON} weeks for a "
            f"seasonal-naive forecast. Received: history.shape={history.shape}"
        )
    weeks = window - co2_data.SEASON + np.arange(horizon) % co2_data.SEASON
    return history[:, weeks]


def _errors(forecast: np.ndarray, targets: np.ndarray, prefix: str) -> dict:
    error = forecast - targets  # (windows, horizon), ppm
    by_week = np.abs(error).mean(axis=0)
    return {
        f"{prefix}mae_ppm": float(np.abs(error).mean()),
        f"{prefix}rmse_ppm": float(np.sqrt((error**2).mean())),
        f"{prefix}mae_ppm_by_week": {
            str(week): float(by_week[week - 1])
            for week in REPORTED_WEEKS
            if week <= len(by_week)
        },
    }


def evaluate(
    model: keras.Model, data: training.RecipeData, args: argparse.Namespace
) -> dict:
    """Test-split errors of a trained forecaster in ppm, and the baseline's.

    Args:
        model: a compiled model (``build_model``'s, or one loaded from
            ``model.keras``).
        data: ``load_data``'s result (``data.info["scale"]`` turns errors
            back into ppm).
        args: the recipe's flags (``window``, ``horizon``, ``smoke`` rebuild
            the same windows for the baseline).

    Returns:
        ``test_mae_ppm``, ``test_rmse_ppm`` and ``test_mae_ppm_by_week``
        (forecast weeks of :data:`REPORTED_WEEKS`), the same three for the
        baseline (``baseline_test_...``) and ``baseline`` (what it is).

    Example:

    >>> metrics = evaluate(model, data, args)  # doctest: +SKIP
    >>> metrics["test_mae_ppm"] < metrics["baseline_test_mae_ppm"]  # doctest: +SKIP
    True
    """
    raw = _load(args)
    # The anchors cancel in (forecast - target), so errors in ppm are errors
    # in model units times the scale.
    scaled = model.predict(data.test, verbose=0)[:, :, 0]
    targets = np.concatenate([y.numpy()[:, :, 0] for _, y in data.test])
    scale = data.info["scale"]
    metrics = _errors(scaled * scale, targets * scale, "test_")
    baseline = seasonal_naive(raw.test.history, raw.horizon)
    metrics.update(_errors(baseline, raw.test.targets, "baseline_test_"))
    metrics["baseline"] = "seasonal naive: the same week 52 weeks earlier"
    return metrics


"""
## Export

The SavedModel takes what a client has, the last `window` weekly values in
ppm, and answers in ppm; the anchoring and scaling run in the graph with the
same functions as the training pipeline.
"""


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """Writes the SavedModel that forecasts from raw ppm history.

    Signature ``forecast`` (also ``serving_default``): input ``history``
    float32 ``(batch, window)``, the last ``window`` weekly values in ppm,
    oldest first; output ``forecast`` float32 ``(batch, horizon)``, the next
    ``horizon`` weeks in ppm.

    Args:
        model: the trained forecaster.
        info: ``load_data``'s info (``window``, ``horizon``, ``scale``).
        export_dir: the SavedModel directory to write.

    Returns:
        ``export_dir``.

    Example:

    >>> export(model, data.info, "/tmp/co2/export")  # doctest: +SKIP
    '/tmp/co2/export'
    """
    import tensorflow as tf

    scale = float(info["scale"])

    def forecast(history):
        inputs, anchor = co2_data.normalize(history, scale)
        outputs = model(inputs, training=False)
        return {"forecast": co2_data.denormalize(outputs, anchor, scale)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    signature = [tf.TensorSpec((None, info["window"]), tf.float32, name="history")]
    archive.add_endpoint("forecast", forecast, input_signature=signature)
    archive.write_out(export_dir, verbose=False)
    return export_dir


def plot_forecast(
    path: str,
    dates: np.ndarray,
    values: np.ndarray,
    origin: int,
    *,
    window: int,
    forecast: np.ndarray,
    baseline: np.ndarray,
) -> str:
    """Draws one window's history, what followed, the forecast and the baseline.

    Args:
        path: the PNG file to write.
        dates, values: the whole series (:class:`~rnn_zoo.data.co2.Co2Data`).
        origin: the index of the window's last history week.
        window: weeks of history to draw.
        forecast, baseline: ``(horizon,)`` ppm, for the weeks after ``origin``.

    Returns:
        ``path``.

    Example:

    >>> plot_forecast("/tmp/co2/forecast.png", data.dates, data.values,
    ...     data.test.origins[-1], window=104, forecast=f, baseline=b)  # doctest: +SKIP
    '/tmp/co2/forecast.png'
    """
    # The object-oriented API with the Agg canvas: no pyplot, no display, no
    # global backend switch.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    horizon = len(forecast)
    past = slice(origin - window + 1, origin + 1)
    future = slice(origin + 1, origin + 1 + horizon)
    figure = Figure(figsize=(9, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(dates[past], values[past], color="0.3", label="history (model input)")
    axes.plot(dates[future], values[future], color="black", label="measured")
    axes.plot(dates[future], forecast, color="tab:blue", label="forecast")
    axes.plot(
        dates[future],
        baseline,
        color="tab:orange",
        linestyle="--",
        label="seasonal naive (a year earlier)",
    )
    axes.axvline(dates[origin], color="0.6", linewidth=0.8)
    axes.set_ylabel("CO2 (ppm)")
    axes.set_title(f"Mauna Loa CO2: {horizon}-week forecast from {dates[origin]}")
    axes.legend(loc="upper left")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path)
    return path


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the CO2 forecaster; returns the metrics.

    Args:
        argv: command-line flags (``--output DIR`` is required); ``None``
            reads ``sys.argv``.

    Returns:
        The metrics written to ``metrics.json``.

    Example:

    >>> metrics = main(["--output", "/tmp/co2_smoke", "--smoke"])  # doctest: +SKIP
    >>> metrics["epochs_run"]  # doctest: +SKIP
    1
    """
    args = parse_args(argv)
    start = time.time()
    keras.utils.set_random_seed(args.seed)

    # ## Data
    data = load_data(args)
    info = data.info
    counts, periods = info["num_windows"], info["periods"]
    print(
        f"{args.window} weeks in -> {args.horizon} weeks out; windows: "
        + ", ".join(
            f"{counts[s]} {s} ({periods[s][0]}..{periods[s][1]})"
            for s in co2_data.SPLITS
        )
        + f"; {info['interpolated_weeks']} missing weeks interpolated; "
        f"scale {info['scale']:.3f} ppm"
    )

    # ## Model
    # In --strategy's scope: the variables are mirrored on every replica.
    with training.strategy_scope(args):
        model = build_model(args, info)
    model.summary()

    # ## Train
    epochs_run, best_epoch, train_seconds = training.fit(
        model, data, args, patience=PATIENCE, smoke_epochs=SMOKE_EPOCHS
    )

    # ## Evaluate
    metrics = evaluate(model, data, args)
    print(
        f"Test MAE {metrics['test_mae_ppm']:.3f} ppm, RMSE "
        f"{metrics['test_rmse_ppm']:.3f} ppm; seasonal-naive baseline: MAE "
        f"{metrics['baseline_test_mae_ppm']:.3f} ppm, RMSE "
        f"{metrics['baseline_test_rmse_ppm']:.3f} ppm"
    )
    metrics.update(
        {
            "num_windows": counts,
            **training.run_record(
                args,
                start,
                epochs_run,
                best_epoch,
                train_seconds,
                patience=PATIENCE,
                fractions=list(FRACTIONS),
            ),
        }
    )

    # ## Save and export
    training.save_run(RECIPE, args, model, info, metrics)
    export_dir = export(model, info, os.path.join(args.output, training.EXPORT_DIR))

    # ## Inference
    # The exported SavedModel takes the last `window` weeks in ppm and needs
    # only TensorFlow, not rnn_zoo. Forecast from the last test window's
    # origin and draw it against what was measured.
    import tensorflow as tf

    raw = _load(args)
    served = tf.saved_model.load(export_dir)
    last = raw.test.history[-1:]
    forecast = served.forecast(tf.constant(last))["forecast"].numpy()[0]
    baseline = seasonal_naive(last, args.horizon)[0]
    origin = int(raw.test.origins[-1])
    plot = plot_forecast(
        os.path.join(args.output, "forecast.png"),
        raw.dates,
        raw.values,
        origin,
        window=args.window,
        forecast=forecast,
        baseline=baseline,
    )
    error = np.abs(forecast - raw.test.targets[-1]).mean()
    print(
        f"Forecast from {raw.dates[origin]}: next week {forecast[0]:.1f} ppm "
        f"(measured {raw.test.targets[-1][0]:.1f}), in {args.horizon} weeks "
        f"{forecast[-1]:.1f} ppm (measured {raw.test.targets[-1][-1]:.1f}); "
        f"MAE {error:.2f} ppm over this window. Plot: {plot}"
    )
    print(
        f"Wrote {args.output}: model.keras, export/, forecast.png, metrics.json, run.json"
    )
    return metrics


if __name__ == "__main__":
    main()
