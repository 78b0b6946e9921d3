"""Mauna Loa CO2: forecast the next weeks of atmospheric CO2 from the past ones.

The series: weekly mean CO2 concentration (ppm) in air sampled at the Mauna
Loa Observatory, Hawaii, from 1958-03-29 to 2001-12-29, 2,284 weeks (C. D.
Keeling and T. P. Whorf, Scripps Institution of Oceanography; public domain).
It is read at run time from the installed ``statsmodels`` package
(``statsmodels.api.datasets.co2``, BSD licence), so no data is copied into
rnn_zoo. It rises ~1.5 ppm a year with a ~6 ppm seasonal cycle on top.

Missing weeks: 59 weeks have no measurement (22 gaps, the longest 18 weeks
in 1964; all of them before 1986). They are filled by linear interpolation
between the measured weeks on either side, within each split separately, so
a filled value never comes from another split; ``Co2Data.interpolated``
marks them. With the default split every filled week lies in the training
period, so validation and test inputs and targets are all measured values.

The split is chronological: the first 70% of the weeks are the training
period, the next 15% validation, the last 15% test (with the defaults:
1958-03-29..1988-11-12, 1988-11-19..1995-06-10, 1995-06-17..2001-12-29).
A window's *forecast origin* is its last history week; it pairs the
``window`` weeks up to the origin (the inputs) with the ``horizon`` weeks
after it (the targets). A window belongs to the split that holds all its
targets, so no training target is a validation or test week and no training
input is either. Validation and test windows read history from the periods
before them, which is known at their forecast origin, as it would be in use;
no input is ever later than the origin.

Scaling: the trend carries the test years (357-374 ppm) above every training
value (313-355 ppm), so standardizing with the training mean would ask the
network for outputs it never saw. Each window is therefore centred on its
own history mean (the *anchor*, computed from the inputs only) and divided by
one training statistic, ``Co2Data.scale``: the standard deviation of the
training windows' history and target values around their anchors.
:func:`normalize` and :func:`denormalize` do this with TensorFlow ops, for
the training pipeline and the exported SavedModel alike.

Example:

>>> data = load_co2()
>>> data.train.history.shape, data.train.targets.shape  # (windows, weeks)
((1444, 104), (1444, 52))
>>> str(data.dates[data.test.origins[0] + 1])  # the first test target week
'1995-06-17'
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rnn_zoo import _checks

if TYPE_CHECKING:
    import tensorflow as tf

# Two years of weekly history (two seasonal cycles) by default ...
DEFAULT_WINDOW = 104
# ... to forecast the next year.
DEFAULT_HORIZON = 52
# Weeks in a (52-week) year: the seasonal period.
SEASON = 52
SPLITS = ("train", "validation", "test")
_INSTALL_HINT = 'pip install statsmodels  (or pip install "rnn_zoo[recipes]")'


@dataclasses.dataclass(frozen=True, eq=False)
class Windows:
    """The (history, targets) windows of one split, in ppm.

    Attributes:
        history: float32 ``(n, window)``, the weeks up to each forecast origin.
        targets: float32 ``(n, horizon)``, the weeks after it.
        origins: int64 ``(n,)``, the index (into ``Co2Data.values``) of each
            window's last history week.
    """

    history: np.ndarray
    targets: np.ndarray
    origins: np.ndarray

    def __len__(self) -> int:
        return len(self.origins)

    def __eq__(self, other) -> bool:
        return isinstance(other, Windows) and all(
            np.array_equal(getattr(self, f), getattr(other, f))
            for f in ("history", "targets", "origins")
        )


@dataclasses.dataclass(frozen=True, eq=False)
class Co2Data:
    """The prepared CO2 forecasting task.

    Attributes:
        dates: ``datetime64[D]`` ``(weeks,)``, the week of each value.
        values: float32 ``(weeks,)``, ppm, gaps filled.
        interpolated: bool ``(weeks,)``, True where a gap was filled.
        bounds: ``{split: (first week, one past the last week)}``, the
            chronological periods.
        window, horizon: weeks of history in, weeks of forecast out.
        train, validation, test: the windows whose targets lie in each period.
        scale: the training statistic that divides anchored values.
    """

    dates: np.ndarray
    values: np.ndarray
    interpolated: np.ndarray
    bounds: dict
    window: int
    horizon: int
    train: Windows
    validation: Windows
    test: Windows
    scale: float

    @property
    def info(self) -> dict:
        """The JSON-serializable facts a model and its export need."""
        return {
            "window": self.window,
            "horizon": self.horizon,
            "scale": self.scale,
            "anchor": "history mean",
            "units": "ppm",
            "frequency": "weekly (weeks ending on Saturday)",
            "periods": {
                split: [str(self.dates[start]), str(self.dates[end - 1])]
                for split, (start, end) in self.bounds.items()
            },
            "num_windows": {split: len(getattr(self, split)) for split in SPLITS},
            "interpolated_weeks": int(self.interpolated.sum()),
        }


def read_series() -> tuple[np.ndarray, np.ndarray]:
    """The raw weekly series from statsmodels: (dates, ppm with NaN gaps).

    Returns:
        ``(dates, values)``: ``datetime64[D]`` and float64 arrays of 2,284
        weeks; ``values`` is NaN where no measurement exists.

    Example:

    >>> dates, values = read_series()
    >>> str(dates[0]), float(values[0]), int(np.isnan(values).sum())
    ('1958-03-29', 316.1, 59)
    """
    try:
        import statsmodels.api as sm
    except ImportError as error:
        raise ImportError(
            f"The Mauna Loa CO2 data ships with statsmodels, which is not "
            f"installed: {_INSTALL_HINT}"
        ) from error
    frame = sm.datasets.co2.load_pandas().data
    dates = frame.index.to_numpy().astype("datetime64[D]")
    return dates, frame["co2"].to_numpy(np.float64)


def _fill_gaps(values: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN runs; edge gaps take the nearest value."""
    missing = np.isnan(values)
    if missing.all():
        raise ValueError("A split period has no measured week to interpolate from.")
    weeks = np.arange(len(values))
    filled = values.copy()
    filled[missing] = np.interp(weeks[missing], weeks[~missing], values[~missing])
    return filled


def _windows(values, start, end, window, horizon, stride) -> Windows:
    # Origins o with every target o+1..o+horizon in [start, end) and every
    # history week o-window+1..o at or after week 0.
    first = max(start - 1, window - 1)
    origins = np.arange(first, end - horizon, stride, dtype=np.int64)
    history_index = origins[:, None] + np.arange(-window + 1, 1)[None, :]
    target_index = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    return Windows(
        history=values[history_index].reshape(-1, window),
        targets=values[target_index].reshape(-1, horizon),
        origins=origins,
    )


def load_co2(
    *,
    window: int = DEFAULT_WINDOW,
    horizon: int = DEFAULT_HORIZON,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    stride: int = 1,
) -> Co2Data:
    """Reads the series, fills its gaps, splits it in time and cuts windows.

    Args:
        window: weeks of history per window.
        horizon: weeks to forecast per window.
        fractions: the train, validation and test shares of the weeks, in
            time order.
        stride: weeks between consecutive forecast origins (1: every week;
            larger values give fewer windows, for smoke runs).

    Returns:
        A :class:`Co2Data`.

    Raises:
        ValueError: when a period is too short to hold one window's targets.

    Example:

    >>> data = load_co2(window=52, horizon=13, stride=4)
    >>> len(data.test), data.test.history.shape[1], data.test.targets.shape[1]
    (83, 52, 13)
    """
    window = _checks.check_positive_int(window, "window")
    horizon = _checks.check_positive_int(horizon, "horizon")
    stride = _checks.check_positive_int(stride, "stride")
    fractions = _checks.check_fractions(fractions)

    dates, raw = read_series()
    n = len(raw)
    train_end = round(fractions[0] * n)
    validation_end = train_end + round(fractions[1] * n)
    bounds = {
        "train": (0, train_end),
        "validation": (train_end, validation_end),
        "test": (validation_end, n),
    }
    values = np.concatenate(
        [_fill_gaps(raw[start:end]) for start, end in bounds.values()]
    ).astype(np.float32)

    splits = {}
    for split, (start, end) in bounds.items():
        splits[split] = _windows(values, start, end, window, horizon, stride)
        if not len(splits[split]):
            raise ValueError(
                f"The {split} period ({end - start} weeks) holds no window of "
                f"window={window} weeks of history (earlier weeks count too) and "
                f"horizon={horizon} weeks of targets: lower `window` or `horizon`, "
                f"or give the {split} period a larger share of `fractions`."
            )
    train = splits["train"]
    anchors = train.history.mean(axis=1, keepdims=True)
    around = np.concatenate([train.history - anchors, train.targets - anchors], axis=1)
    return Co2Data(
        dates=dates,
        values=values,
        interpolated=np.isnan(raw),
        bounds=bounds,
        window=window,
        horizon=horizon,
        train=train,
        validation=splits["validation"],
        test=splits["test"],
        scale=float(around.std()),
    )


def normalize(history, scale: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Raw ppm history -> the model's input, and the anchor to undo it.

    Args:
        history: float ``(batch, window)``, ppm.
        scale: :attr:`Co2Data.scale`.

    Returns:
        ``(inputs, anchor)``: float32 ``(batch, window, 1)`` values
        ``(history - anchor) / scale``, and the anchor, each row's history
        mean, float32 ``(batch, 1)``.

    Example:

    >>> inputs, anchor = normalize([[1.0, 3.0]], scale=2.0)
    >>> inputs.numpy().ravel().tolist(), anchor.numpy().tolist()
    ([-0.5, 0.5], [[2.0]])
    """
    import tensorflow as tf

    history = tf.convert_to_tensor(history, tf.float32)
    anchor = tf.reduce_mean(history, axis=1, keepdims=True)
    return ((history - anchor) / scale)[:, :, None], anchor


def normalize_targets(targets, anchor, scale: float) -> tf.Tensor:
    """Ppm targets ``(batch, horizon)`` -> the model's units ``(batch, horizon, 1)``.

    Args:
        targets: float ``(batch, horizon)``, ppm.
        anchor: ``(batch, 1)``, from :func:`normalize` of the same windows.
        scale: :attr:`Co2Data.scale`.

    Returns:
        float32 ``(batch, horizon, 1)``.

    Example:

    >>> normalize_targets([[4.0]], [[2.0]], scale=2.0).numpy().tolist()
    [[[1.0]]]
    """
    import tensorflow as tf

    targets = tf.convert_to_tensor(targets, tf.float32)
    return ((targets - anchor) / scale)[:, :, None]


def denormalize(forecast, anchor, scale: float) -> tf.Tensor:
    """The model's output ``(batch, horizon, 1)`` -> ppm ``(batch, horizon)``.

    Args:
        forecast: float ``(batch, horizon, 1)``, the model's output.
        anchor: ``(batch, 1)``, from :func:`normalize` of the same windows.
        scale: :attr:`Co2Data.scale`.

    Returns:
        float32 ``(batch, horizon)``, ppm.

    Example:

    >>> denormalize([[[1.0]]], [[2.0]], scale=2.0).numpy().tolist()
    [[4.0]]
    """
    import tensorflow as tf

    forecast = tf.convert_to_tensor(forecast, tf.float32)
    return forecast[:, :, 0] * scale + anchor


def make_dataset(
    windows: Windows,
    scale: float,
    *,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``(inputs, targets)`` batches in model units.

    ``inputs`` is float32 ``(batch, window, 1)`` and ``targets`` float32
    ``(batch, horizon, 1)``, both anchored on the window's history mean and
    divided by ``scale`` (:func:`normalize`).

    Args:
        windows: a :class:`Windows` of :class:`Co2Data`.
        scale: :attr:`Co2Data.scale`.
        batch_size: windows per batch (the last batch may be smaller).
        shuffle: shuffle the windows each epoch (training).
        seed: the shuffle seed.

    Returns:
        A batched, prefetched ``tf.data.Dataset``.

    Example:

    >>> data = load_co2(stride=52)
    >>> ds = make_dataset(data.test, data.scale, batch_size=4)
    >>> [t.shape.as_list() for t in ds.element_spec]
    [[None, 104, 1], [None, 52, 1]]
    """
    import tensorflow as tf

    if not isinstance(windows, Windows):
        raise TypeError(
            f"`windows` must be a co2 Windows. Received: windows={windows!r}"
        )
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    if (
        isinstance(scale, bool)
        or not isinstance(scale, numbers.Real)
        or not np.isfinite(scale)
        or scale <= 0
    ):
        raise ValueError(
            f"`scale` must be a positive finite number. Received: scale={scale!r}"
        )
    if len(windows) == 0:
        raise ValueError("`windows` is empty: there is nothing to batch.")

    def to_model_units(history, targets):
        inputs, anchor = normalize(history, scale)
        return inputs, normalize_targets(targets, anchor, scale)

    dataset = tf.data.Dataset.from_tensor_slices((windows.history, windows.targets))
    if shuffle:
        dataset = dataset.shuffle(
            len(windows), seed=seed, reshuffle_each_iteration=True
        )
    dataset = dataset.batch(batch_size).map(to_model_units)
    return dataset.prefetch(tf.data.AUTOTUNE)
