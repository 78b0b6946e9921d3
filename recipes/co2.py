"""Mauna Loa CO2: forecast the next year of weekly CO2 from the two before.

A recurrent forecaster reads the last ``--window`` weeks (default 104) of
the Mauna Loa CO2 record and predicts the next ``--horizon`` weeks (default
52) in ppm, from the weekly series that ``statsmodels`` ships (1958-2001;
:mod:`rnn_zoo.data.co2` fills gaps, splits by date, scales). ``--mode
direct`` (the default) predicts all weeks at once; ``--mode autoregressive``
predicts one week at a time and reads its own prediction back.

The baseline, on the same test windows: the seasonal-naive forecast, which
predicts each week with the value of the same week a year (52 weeks)
earlier. It gets the seasonal cycle right and misses one year of trend
(~1.5 ppm), so beating it means learning the trend.

    rnn-zoo train co2 --output /tmp/co2                # about 1.5 min on 2 CPU cores
    rnn-zoo train co2 --output /tmp/co2_ar --mode autoregressive
    rnn-zoo train co2 --output /tmp/smoke --smoke      # seconds: fewer windows, 1 epoch

It writes ``model.keras`` (input and output in scaled units, see
:func:`rnn_zoo.data.co2.normalize`), ``export/`` (a SavedModel whose
``forecast`` signature takes raw history in ppm ``(batch, window)`` and
answers in ppm ``(batch, horizon)``), ``forecast.png`` (the last test
window's forecast against what was measured), ``metrics.json`` and
``run.json``.
"""

from __future__ import annotations

import argparse
import functools
import os

import keras
import numpy as np

from rnn_zoo import build_forecaster, metrics, training
from rnn_zoo.baselines import seasonal_naive
from rnn_zoo.data import co2 as co2_data
from rnn_zoo.export import export_forecaster

RECIPE = "co2"
DESCRIPTION = "Mauna Loa CO2: forecast the next weeks vs a seasonal-naive baseline"
REQUIRES: dict[str, str] = {"statsmodels": "statsmodels", "matplotlib": "matplotlib"}

"""
## Configuration
"""

# Weeks of history in (two seasonal cycles) and weeks forecast out (one year).
WINDOW = co2_data.DEFAULT_WINDOW
HORIZON = co2_data.DEFAULT_HORIZON
# Train, validation and test shares of the weeks, in time order.
FRACTIONS = (0.7, 0.15, 0.15)
# "direct": all weeks at once; "autoregressive": one week at a time.
MODE = "direct"
# The recurrent cell: "lstm", "gru" or "simple".
CELL = "lstm"
# Recurrent units per layer.
UNITS = 64
# Stacked recurrent layers.
NUM_LAYERS = 1
# Dropout between layers and before the output; the windows overlap heavily,
# so there is less independent data than their number suggests.
DROPOUT = 0.0
# The training loss, in scaled units: "mse" or "mae".
LOSS = "mse"
# Adam's learning rate.
LEARNING_RATE = 3e-3
# Upper bound on epochs: EarlyStopping ends training once validation loss stalls.
EPOCHS = 30
# Windows per training step (23 steps per epoch on the 1,444 training windows).
BATCH_SIZE = 64
# Epochs without a better validation loss before training stops.
PATIENCE = 8
# Seeds the shuffling, the initial weights and dropout (the split is by date).
SEED = 1337
# --smoke: weeks between forecast origins (fewer windows of the same data), epochs.
SMOKE_STRIDE = 13
SMOKE_EPOCHS = 1
# Forecast weeks whose test MAE metrics.json reports separately.
REPORTED_WEEKS = (1, 4, 13, 26, 52)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``rnn-zoo train co2``'s flags: the constants above, the mode, loss, window and horizon.

    >>> args = parse_args(["--output", "/tmp/co2", "--mode", "autoregressive"])
    >>> args.mode, args.window, args.horizon
    ('autoregressive', 104, 52)
    """
    parser = training.recipe_parser(RECIPE, DESCRIPTION, globals())
    add = parser.add_argument
    add(
        "--mode",
        choices=["direct", "autoregressive"],
        default=MODE,
        help=f"all weeks at once or one at a time (default {MODE})",
    )
    add("--loss", choices=["mse", "mae"], default=LOSS, help=f"default {LOSS}")
    add("--window", type=int, default=WINDOW, help=f"weeks in (default {WINDOW})")
    add("--horizon", type=int, default=HORIZON, help=f"weeks out (default {HORIZON})")
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
    # The same windows for load_data, the baseline and the plot.
    stride = SMOKE_STRIDE if args.smoke else 1
    return co2_data.load_co2(
        window=args.window, horizon=args.horizon, fractions=FRACTIONS, stride=stride
    )


def load_data(args: argparse.Namespace) -> training.RecipeData:
    """Batched ``tf.data`` splits of scaled windows ``((b, window, 1), (b, horizon, 1))``.

    >>> data = load_data(parse_args(["--output", "/tmp/co2", "--smoke"]))
    >>> data.info["window"], data.info["horizon"]
    (104, 52)
    """
    data = _load(args)
    dataset = functools.partial(
        co2_data.make_dataset,
        scale=data.scale,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    counts, periods = data.info["num_windows"], data.info["periods"]
    windows = ", ".join(
        f"{counts[s]} {s} ({periods[s][0]}..{periods[s][1]})" for s in co2_data.SPLITS
    )
    summary = (
        f"{args.window} weeks in -> {args.horizon} weeks out; windows: {windows}; "
        f"{data.info['interpolated_weeks']} missing weeks interpolated; "
        f"scale {data.scale:.3f} ppm"
    )
    splits = (data.train, data.validation, data.test)
    return training.recipe_data(dataset, splits, data.info, summary)


"""
## Model

`rnn_zoo.build_forecaster`: an LSTM reads the scaled history; in direct
mode one dense layer predicts every week, in autoregressive mode the same
LSTM rolls forward one week at a time.
"""


def build_model(args: argparse.Namespace, info: dict) -> keras.Model:
    """The forecaster, compiled with Adam, ``--loss`` and MAE as a metric.

    >>> args = parse_args(["--output", "/tmp/co2", "--units", "8"])
    >>> build_model(args, {"window": 104, "horizon": 52}).output_shape
    (None, 52, 1)
    """
    model = build_forecaster(
        info["horizon"],
        window=info["window"],
        mode=args.mode,
        name="co2_forecaster",
        **training.builder_args(args),  # cell, units, num_layers, dropout
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss=args.loss,
        metrics=["mae"],
    )
    return model


def hypermodel(args: argparse.Namespace, info: dict):
    """``rnn-zoo tune co2``'s search space; the window, horizon and mode stay fixed.

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


def _in_ppm(forecast: np.ndarray, targets: np.ndarray, prefix: str) -> dict:
    errors = metrics.forecast_errors(forecast, targets, steps=REPORTED_WEEKS)
    return {
        f"{prefix}mae_ppm": errors["mae"],
        f"{prefix}rmse_ppm": errors["rmse"],
        f"{prefix}mae_ppm_by_week": errors["mae_by_step"],
    }


def evaluate(model: keras.Model, data: training.RecipeData, args) -> dict:
    """Test MAE and RMSE in ppm (overall and by forecast week), and the baseline's."""
    raw = _load(args)
    # The anchors cancel in (forecast - target), so errors in ppm are errors
    # in model units times the scale.
    scaled = model.predict(data.test, verbose=0)[:, :, 0]
    targets = training.targets_of(data.test)[:, :, 0]
    scale = data.info["scale"]
    results = _in_ppm(scaled * scale, targets * scale, "test_")
    baseline = seasonal_naive(raw.test.history, raw.horizon, season=co2_data.SEASON)
    results.update(_in_ppm(baseline, raw.test.targets, "baseline_test_"))
    results["baseline"] = "seasonal naive: the same week 52 weeks earlier"
    for who, prefix in (
        ("Model", "test_"),
        ("Seasonal-naive baseline", "baseline_test_"),
    ):
        mae, rmse = results[prefix + "mae_ppm"], results[prefix + "rmse_ppm"]
        print(f"{who}: test MAE {mae:.3f} ppm, RMSE {rmse:.3f} ppm")
    return results


def export(model: keras.Model, info: dict, export_dir: str) -> str:
    """The SavedModel that forecasts in ppm from raw ppm history (scaling in its graph)."""
    scale = float(info["scale"])
    return export_forecaster(
        model,
        export_dir,
        window=info["window"],
        normalize=lambda history: co2_data.normalize(history, scale),
        denormalize=lambda outputs, anchor: co2_data.denormalize(
            outputs, anchor, scale
        ),
    )


def plot_forecast(path, dates, values, origin, *, window, forecast, baseline) -> str:
    """Draws the history up to ``origin``, what followed, the forecast and the baseline."""
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
    label = "seasonal naive (a year earlier)"
    axes.plot(dates[future], baseline, "--", color="tab:orange", label=label)
    axes.axvline(dates[origin], color="0.6", linewidth=0.8)
    axes.set_ylabel("CO2 (ppm)")
    axes.set_title(f"Mauna Loa CO2: {horizon}-week forecast from {dates[origin]}")
    axes.legend(loc="upper left")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path)
    return path


def main(argv: list[str] | None = None) -> dict:
    """Trains, evaluates and exports the CO2 forecaster, and plots a forecast."""
    # Seeds everything, starts the clock; reads the constants above.
    run = training.RecipeRun(RECIPE, parse_args(argv), globals())
    args = run.args

    # ## Data, model (built in --strategy's scope), training (checkpointed,
    # early stopping on the validation loss) and evaluation
    model, data, results = run.train_and_evaluate(load_data, build_model, evaluate)

    # ## Save and export
    run.save(model, data.info, results, "PATIENCE", fractions=list(FRACTIONS))
    export_dir = export(model, data.info, run.export_dir)

    # ## Inference
    # The exported SavedModel takes the last `window` weeks in ppm and needs
    # only TensorFlow. Forecast from the last test window's origin and draw
    # it against what was measured.
    import tensorflow as tf

    raw = _load(args)
    served = tf.saved_model.load(export_dir)
    last = raw.test.history[-1:]
    forecast = served.forecast(tf.constant(last))["forecast"].numpy()[0]
    origin = int(raw.test.origins[-1])
    plot = plot_forecast(
        os.path.join(args.output, "forecast.png"),
        raw.dates,
        raw.values,
        origin,
        window=args.window,
        forecast=forecast,
        baseline=seasonal_naive(last, args.horizon, season=co2_data.SEASON)[0],
    )
    error = np.abs(forecast - raw.test.targets[-1]).mean()
    print(
        f"Forecast from {raw.dates[origin]}: next week {forecast[0]:.1f} ppm "
        f"(measured {raw.test.targets[-1][0]:.1f}), in {args.horizon} weeks "
        f"{forecast[-1]:.1f} ppm (measured {raw.test.targets[-1][-1]:.1f}); "
        f"MAE {error:.2f} ppm over this window. Plot: {plot}"
    )
    run.wrote("export/", "forecast.png")
    return results


if __name__ == "__main__":
    main()
