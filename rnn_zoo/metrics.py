"""Metrics the recipes report, for reuse on any model of the same task pattern.

Plain functions over NumPy arrays, each computed once over a whole test
split, so it gives the same number whatever the batch size.

- Classification: :func:`accuracy_per_class` and :func:`balanced_accuracy`.
- Forecasting: :func:`forecast_errors` (MAE, RMSE, and MAE per forecast step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

"""
## Classification
"""


def accuracy_per_class(labels, predicted, class_names: Sequence[str]) -> dict:
    """The accuracy over each class's examples, by class name.

    A class with no example in ``labels`` is left out (its accuracy is not
    defined).

    Args:
        labels: int ``(n,)``, the true class ids.
        predicted: int ``(n,)``, the predicted class ids.
        class_names: the name of each class id.

    Returns:
        ``{name: accuracy}`` in class-id order.

    Example:

    >>> accuracy_per_class([0, 0, 1, 1], [0, 1, 1, 1], ["neg", "pos", "other"])
    {'neg': 0.5, 'pos': 1.0}
    """
    labels = np.asarray(labels)
    predicted = np.asarray(predicted)
    if labels.shape != predicted.shape:
        raise ValueError(
            "`labels` and `predicted` must have the same shape. Received: "
            f"labels.shape={labels.shape}, predicted.shape={predicted.shape}"
        )
    return {
        name: float(np.mean(predicted[labels == i] == i))
        for i, name in enumerate(class_names)
        if np.any(labels == i)
    }


def balanced_accuracy(per_class: Mapping[str, float]) -> float:
    """The mean of the per-class accuracies: every class counts the same.

    Example:

    >>> balanced_accuracy({"neg": 0.5, "pos": 1.0})
    0.75
    """
    return float(np.mean(list(per_class.values())))


"""
## Forecasting
"""


def forecast_errors(forecast, targets, *, steps: Iterable[int] = ()) -> dict:
    """Errors of a multi-step forecast over every step of every window.

    Args:
        forecast: ``(windows, horizon)``.
        targets: ``(windows, horizon)``, what was measured.
        steps: forecast steps (1 = the first step after the origin) whose
            MAE is also reported on its own; steps past the horizon are
            skipped.

    Returns:
        ``{"mae": ..., "rmse": ..., "mae_by_step": {"1": ..., ...}}``.

    Example:

    >>> errors = forecast_errors([[1.0, 2.0]], [[1.0, 4.0]], steps=(1, 2, 3))
    >>> errors["mae"], errors["rmse"], errors["mae_by_step"]
    (1.0, 1.4142135623730951, {'1': 0.0, '2': 2.0})
    """
    error = np.asarray(forecast) - np.asarray(targets)
    if error.ndim != 2:
        raise ValueError(
            "`forecast` and `targets` must be (windows, horizon). Received: "
            f"forecast - targets of shape {error.shape}"
        )
    by_step = np.abs(error).mean(axis=0)
    return {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "mae_by_step": {
            str(step): float(by_step[step - 1])
            for step in steps
            if step <= len(by_step)
        },
    }
