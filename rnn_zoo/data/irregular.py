"""Irregularly sampled series: dropping observations, and the elapsed times.

The protocol of the ODE-RNN literature (Rubanova, Chen and Duvenaud,
"Latent ODEs for irregularly-sampled time series", NeurIPS 2019; Lechner and
Hasani's CfC/LTC experiments): take a regularly sampled series, keep each
observation independently with probability ``keep_probability`` (seeded),
and give the model the time that passed since the previous kept
observation. :func:`drop_observations` does that to a padded batch of series
(at least one observation of every series is kept); :func:`prepare_inputs`
turns the result into a model's input, with the times as a separate
``timespans`` input (``CfC``, ``LTC``), as an extra feature (any cell), or
not at all.

The original series is sampled at ``t = 0, 1, 2, ...``; a kept observation
at ``t`` after one kept at ``s`` has the timespan ``t - s``, and the first
kept one ``t + 1`` (the time since ``t = -1``, one step before the series
starts), so every timespan is positive.

Example:

>>> frames = np.arange(12, dtype="float32").reshape(2, 6, 1)
>>> series = drop_observations(frames, [6, 3], keep_probability=0.5, seed=0)
>>> series.lengths.tolist(), series.timespans[0, : series.lengths[0]].tolist()  # kept t = 1, 2, 3
([3, 1], [2.0, 1.0, 1.0])
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import TYPE_CHECKING

import numpy as np

from rnn_zoo import _checks

if TYPE_CHECKING:
    import tensorflow as tf

# How :func:`prepare_inputs` gives the model the elapsed times.
TIME_INPUTS = ("timespans", "feature", "none")
# Timespans of padding steps (after a series' length): positive, so that the
# whole array passes a continuous-time layer's check; masked steps are unread.
PAD_TIMESPAN = 1.0


@dataclasses.dataclass(frozen=True)
class IrregularSeries:
    """A padded batch of irregularly sampled series.

    Attributes:
        frames: float32 ``(n, T, features)``; series ``i`` is
            ``frames[i, :lengths[i]]`` (its kept observations, in order),
            followed by zeros.
        timespans: float32 ``(n, T)``, the time since the previous kept
            observation (:data:`PAD_TIMESPAN` after the length).
        lengths: int32 ``(n,)``, kept observations per series (at least 1).
        times: int32 ``(n, T)``, each kept observation's original time step
            (-1 after the length).
    """

    frames: np.ndarray
    timespans: np.ndarray
    lengths: np.ndarray
    times: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)


def drop_observations(
    frames, lengths, *, keep_probability: float, seed: int
) -> IrregularSeries:
    """Keeps each observation with probability ``keep_probability``, seeded.

    Args:
        frames: float ``(n, T, features)``, regularly sampled series,
            right-padded.
        lengths: integer ``(n,)``, observations per series, in ``[1, T]``.
        keep_probability: in ``(0, 1]``; 0.4 to 0.7 drops the 30-60 % of the
            literature's protocol.
        seed: seeds the draw (the same seed keeps the same observations).

    Returns:
        An :class:`IrregularSeries` with the same ``T`` and features.

    Raises:
        ValueError: ``frames`` not of rank 3, ``lengths`` of another batch
            or outside ``[1, T]``, ``keep_probability`` outside ``(0, 1]``.
        TypeError: ``seed`` not an integer.

    Example:

    >>> series = drop_observations(np.ones((4, 10, 2)), [10] * 4,
    ...     keep_probability=1.0, seed=0)
    >>> series.timespans[0].tolist() == [1.0] * 10
    True
    """
    frames = np.asarray(frames, np.float32)
    if frames.ndim != 3:
        raise ValueError(
            "`frames` must be of rank 3, (series, time, features). Received: "
            f"frames.shape={frames.shape}"
        )
    n, steps = frames.shape[:2]
    lengths = np.asarray(lengths)
    if lengths.shape != (n,) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(
            f"`lengths` must be integers of shape ({n},), one per series. "
            f"Received: lengths.shape={lengths.shape}, dtype={lengths.dtype}"
        )
    if n and (lengths.min() < 1 or lengths.max() > steps):
        raise ValueError(
            f"`lengths` must be in [1, {steps}] (the time axis). Received: "
            f"min {lengths.min()}, max {lengths.max()}"
        )
    if (
        isinstance(keep_probability, bool)
        or not isinstance(keep_probability, numbers.Real)
        or not 0.0 < keep_probability <= 1.0
    ):
        raise ValueError(
            "`keep_probability` must be a number in (0, 1]. Received: "
            f"keep_probability={keep_probability!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`seed` must be an integer. Received: seed={seed!r}")
    rng = np.random.default_rng(seed)
    observed = np.arange(steps)[None, :] < lengths[:, None]
    keep = (rng.random((n, steps)) < keep_probability) & observed
    for i in np.flatnonzero(~keep.any(axis=1)):  # keep at least one
        keep[i, rng.integers(lengths[i])] = True
    out = np.zeros_like(frames)
    timespans = np.full((n, steps), PAD_TIMESPAN, np.float32)
    times = np.full((n, steps), -1, np.int32)
    kept = keep.sum(axis=1).astype(np.int32)
    for i in range(n):
        t = np.flatnonzero(keep[i])
        out[i, : len(t)] = frames[i, t]
        times[i, : len(t)] = t
        timespans[i, : len(t)] = np.diff(t, prepend=-1)
    return IrregularSeries(out, timespans, kept, times)


def prepare_inputs(frames, timespans, lengths, mean, std, *, time_input: str):
    """A model's input from raw irregular series, in TensorFlow ops.

    The frames are standardized and padded as
    :func:`rnn_zoo.data.vowels.prepare_frames` does (cut to the longest
    length); the timespans are cut the same way. The training pipeline and
    an exported SavedModel both run this function.

    Args:
        frames: float ``(batch, time, features)``, raw observations.
        timespans: float ``(batch, time)``, the elapsed times.
        lengths: integer ``(batch,)``, observations per row.
        mean, std: ``(features,)``, the training statistics.
        time_input: ``"timespans"``: returns ``(frames, timespans)`` for a
            model built with ``timespans=True``; ``"feature"``: the frames
            with the timespan appended as one more feature (0 on padding, so
            the padding stays masked); ``"none"``: the frames alone.

    Example:

    >>> x, t = prepare_inputs(np.ones((1, 4, 2)), [[1.0, 2.0, 1.0, 1.0]], [2],
    ...     np.zeros(2), np.ones(2), time_input="timespans")
    >>> x.shape, t.numpy().tolist()
    (TensorShape([1, 2, 2]), [[1.0, 2.0]])
    """
    import tensorflow as tf

    from rnn_zoo.data import vowels

    time_input = _checks.check_choice(time_input, "time_input", TIME_INPUTS)
    x = vowels.prepare_frames(frames, lengths, mean, std)
    if time_input == "none":
        return x
    width = tf.shape(x)[1]
    t = tf.convert_to_tensor(timespans, tf.float32)[:, :width]
    t = tf.pad(t, [[0, 0], [0, width - tf.shape(t)[1]]], constant_values=PAD_TIMESPAN)
    if time_input == "timespans":
        return x, t
    lengths = tf.clip_by_value(tf.cast(lengths, tf.int32), 0, width)
    gap = tf.where(tf.sequence_mask(lengths, width), t, 0.0)
    return tf.concat([x, gap[:, :, None]], axis=-1)


def make_dataset(
    series: IrregularSeries,
    labels,
    mean,
    std,
    *,
    time_input: str,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Batches of ``(model input, labels)`` (:func:`prepare_inputs`).

    Args:
        series: an :class:`IrregularSeries`.
        labels: int ``(n,)``, one per series.
        mean, std: the training statistics.
        time_input: one of :data:`TIME_INPUTS` (see :func:`prepare_inputs`).
        batch_size: series per batch.
        shuffle: reshuffle every epoch, the same way for a given ``seed``.
        seed: the shuffle seed.

    Example:

    >>> series = drop_observations(np.ones((3, 5, 2)), [5, 4, 3],
    ...     keep_probability=0.5, seed=1)
    >>> ds = make_dataset(series, [0, 1, 0], np.zeros(2), np.ones(2),
    ...     time_input="feature", batch_size=2)
    >>> next(iter(ds))[0].shape[-1]  # 2 features and the gap
    3
    """
    import tensorflow as tf

    if not isinstance(series, IrregularSeries):
        raise TypeError(
            f"`series` must be an IrregularSeries. Received: series={series!r}"
        )
    time_input = _checks.check_choice(time_input, "time_input", TIME_INPUTS)
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    labels = np.asarray(labels, np.int32)
    if labels.shape != (len(series),):
        raise ValueError(
            f"`labels` must have shape ({len(series)},), one per series. "
            f"Received: labels.shape={labels.shape}"
        )
    dataset = tf.data.Dataset.from_tensor_slices(
        (series.frames, series.timespans, series.lengths, labels)
    )
    if shuffle:
        dataset = dataset.shuffle(len(series), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(
        lambda frames, timespans, lengths, y: (
            prepare_inputs(
                frames, timespans, lengths, mean, std, time_input=time_input
            ),
            y,
        )
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
