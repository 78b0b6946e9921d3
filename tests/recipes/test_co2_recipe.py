"""The co2 recipe end to end through the rnn-zoo command, in smoke mode.

One smoke run (the real series, fewer windows, one epoch) writes model.keras,
export/, forecast.png, metrics.json and run.json; the tests then check what a
user of each artifact relies on.
"""

import json
import math

import keras
import numpy as np
import pytest

from rnn_zoo import cli
from rnn_zoo.data import co2 as co2_data

pytest.importorskip(
    "statsmodels", reason="the Mauna Loa CO2 data ships with statsmodels"
)
pytest.importorskip("matplotlib", reason="the recipe draws its forecast")

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipe uses tf.data and exports a SavedModel",
    ),
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    output = tmp_path_factory.mktemp("co2_smoke")
    argv = ["train", "co2", "--output", str(output), "--smoke", "--units", "8"]
    assert cli.main(argv) == 0
    return output


@pytest.fixture(scope="module")
def metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def served(run_dir):
    import tensorflow as tf

    return tf.saved_model.load(str(run_dir / "export"))


@pytest.fixture(scope="module")
def smoke_data():
    # The smoke run's windows (same stride as the recipe's).
    from rnn_zoo.recipes import co2

    return co2_data.load_co2(stride=co2.SMOKE_STRIDE)


def _forecast(served, history):
    import tensorflow as tf

    return served.forecast(history=tf.constant(history, tf.float32))["forecast"].numpy()


def test_metrics_hold_the_model_and_the_baseline(metrics):
    for prefix in ("test_", "baseline_test_"):
        mae, rmse = metrics[prefix + "mae_ppm"], metrics[prefix + "rmse_ppm"]
        assert math.isfinite(mae) and math.isfinite(rmse)
        assert 0 < mae <= rmse < 50, prefix
        assert set(metrics[prefix + "mae_ppm_by_week"]) == {"1", "4", "13", "26", "52"}
    assert "seasonal naive" in metrics["baseline"]
    assert metrics["epochs_run"] == 1
    assert 0 < metrics["train_seconds"] <= metrics["total_seconds"]
    assert metrics["config"]["smoke"] is True and metrics["config"]["mode"] == "direct"
    assert metrics["num_windows"] == {"train": 112, "validation": 23, "test": 23}


def test_the_baseline_is_last_years_value_on_the_same_test_windows(metrics, smoke_data):
    from rnn_zoo.baselines import seasonal_naive

    test = smoke_data.test
    forecast = seasonal_naive(test.history, 52)
    # Week h after the origin gets the measurement of week h - 52.
    for i in (0, len(test) - 1):
        origin = test.origins[i]
        np.testing.assert_array_equal(
            forecast[i], smoke_data.values[origin - 51 : origin + 1]
        )
    mae = np.abs(forecast - test.targets).mean()
    assert metrics["baseline_test_mae_ppm"] == pytest.approx(mae, rel=1e-5)
    # One year of trend (~1.5 ppm) is what the seasonal-naive forecast misses.
    assert 1.0 < mae < 2.5


def test_forecast_png_is_written(run_dir):
    png = (run_dir / "forecast.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_model_keras_loads_in_safe_mode_and_agrees_with_the_saved_model(
    run_dir, served, smoke_data
):
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    assert model.output_shape == (None, 52, 1)
    history = smoke_data.test.history[:5]
    scale = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["info"][
        "scale"
    ]
    assert scale == pytest.approx(smoke_data.scale)
    inputs, anchor = co2_data.normalize(history, scale)
    expected = co2_data.denormalize(model.predict(inputs, verbose=0), anchor, scale)
    np.testing.assert_allclose(_forecast(served, history), expected, atol=1e-3)


def test_saved_model_forecasts_in_ppm_from_raw_history(served, smoke_data):
    import tensorflow as tf

    history = smoke_data.test.history[:4]
    forecast = _forecast(served, history)
    assert forecast.shape == (4, 52) and forecast.dtype == np.float32
    # The forecast lives where the history does (after one epoch, roughly).
    assert np.all(np.abs(forecast - history.mean(axis=1, keepdims=True)) < 30)
    # The anchoring runs in the graph: shifting the history by 10 ppm shifts
    # the forecast by 10 ppm.
    np.testing.assert_allclose(
        _forecast(served, history + 10.0), forecast + 10.0, atol=1e-3
    )
    default = served.signatures["serving_default"](history=tf.constant(history))
    np.testing.assert_allclose(default["forecast"].numpy(), forecast, atol=1e-6)


def test_autoregressive_mode_builds_the_same_contract():
    from rnn_zoo.recipes import co2

    args = co2.parse_args(
        ["--output", "/tmp", "--mode", "autoregressive", "--units", "4"]
    )
    model = co2.build_model(args, {"window": 104, "horizon": 52})
    assert model.output_shape == (None, 52, 1)
    assert model.predict(np.zeros((2, 104, 1), "float32"), verbose=0).shape == (
        2,
        52,
        1,
    )


def test_hypermodel_builds_the_recipe_model():
    import keras_tuner

    from rnn_zoo.recipes import co2

    args = co2.parse_args(["--output", "/tmp"])
    model = co2.hypermodel(args, {"window": 104, "horizon": 52}).build(
        keras_tuner.HyperParameters()
    )
    assert model.input_shape == (None, 104, 1) and model.output_shape == (None, 52, 1)


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--window", "26"], "--window must be at least 52"),
        (["--horizon", "0"], "--horizon"),
        (["--mode", "teacher"], "--mode"),
        (["--loss", "huber"], "--loss"),
    ],
)
def test_bad_flags_are_usage_errors(flags, fragment, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "co2", "--output", str(tmp_path), *flags])
    assert exit_info.value.code == 2
    assert fragment in capsys.readouterr().err
