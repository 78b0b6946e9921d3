"""rnn_zoo.metrics: the classification and forecasting metrics."""

import numpy as np
import pytest

from rnn_zoo import metrics

"""
## Classification and forecasting
"""


def test_accuracy_per_class_and_balanced_accuracy():
    labels = np.array([0, 0, 0, 0, 1, 2, 2])
    predicted = np.array([0, 0, 0, 1, 1, 0, 2])
    per_class = metrics.accuracy_per_class(labels, predicted, ["a", "b", "c", "d"])
    # "d" has no example: left out, not NaN.
    assert per_class == {"a": 0.75, "b": 1.0, "c": 0.5}
    assert metrics.balanced_accuracy(per_class) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="same shape"):
        metrics.accuracy_per_class(labels, predicted[:3], ["a", "b", "c"])


def test_forecast_errors_over_all_steps_and_by_step():
    forecast = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    targets = np.array([[1.0, 2.0, 6.0], [2.0, 2.0, 0.0]])
    errors = metrics.forecast_errors(forecast, targets, steps=(1, 3, 4))
    assert errors["mae"] == pytest.approx(7 / 6)
    assert errors["rmse"] == pytest.approx(np.sqrt(19 / 6))
    assert errors["mae_by_step"] == {"1": 0.5, "3": 3.0}  # step 4 is past the horizon
    with pytest.raises(ValueError, match="windows, horizon"):
        metrics.forecast_errors([1.0], [2.0])
