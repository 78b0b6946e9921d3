"""rnn_zoo.data.irregular: the dropped observations, their timespans, the inputs."""

import re

import numpy as np
import pytest

from rnn_zoo.data import irregular

N, T, F = 200, 10, 2


@pytest.fixture(scope="module")
def regular():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(N, T, F)).astype("float32")
    lengths = rng.integers(1, T + 1, N)
    frames[np.arange(T)[None, :] >= lengths[:, None]] = 0.0
    return frames, lengths


def test_same_seed_same_draw_other_seed_other_draw(regular):
    a = irregular.drop_observations(*regular, keep_probability=0.5, seed=3)
    b = irregular.drop_observations(*regular, keep_probability=0.5, seed=3)
    c = irregular.drop_observations(*regular, keep_probability=0.5, seed=4)
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.frames, b.frames)
    assert not np.array_equal(a.times, c.times)


@pytest.mark.parametrize("keep", [0.4, 0.7])
def test_kept_fraction_and_frames_are_the_kept_observations(regular, keep):
    frames, lengths = regular
    series = irregular.drop_observations(frames, lengths, keep_probability=keep, seed=1)
    assert series.lengths.min() >= 1  # at least one kept everywhere
    assert np.all(series.lengths <= lengths)
    # Inside the literature's 30-60 % dropped (2,000 draws: within ~0.03).
    assert abs(series.lengths.sum() / lengths.sum() - keep) < 0.05
    for i in range(N):
        t = series.times[i, : series.lengths[i]]
        assert np.all(np.diff(t) > 0) and t.max() < lengths[i]
        np.testing.assert_array_equal(series.frames[i, : len(t)], frames[i, t])
        assert np.all(series.frames[i, len(t) :] == 0.0)


def test_timespans_are_the_gaps_between_kept_observations(regular):
    series = irregular.drop_observations(*regular, keep_probability=0.5, seed=2)
    assert np.all(series.timespans > 0)
    for i in range(N):
        n = series.lengths[i]
        t = series.times[i, :n]
        expected = np.concatenate([[t[0] + 1], t[1:] - t[:-1]])
        np.testing.assert_array_equal(series.timespans[i, :n], expected)
        assert np.all(series.timespans[i, n:] == irregular.PAD_TIMESPAN)
        assert np.all(series.times[i, n:] == -1)


def test_a_series_that_would_lose_everything_keeps_one():
    frames = np.ones((50, 3, 1), "float32")
    series = irregular.drop_observations(
        frames, [1] * 50, keep_probability=0.01, seed=0
    )
    np.testing.assert_array_equal(series.lengths, 1)
    np.testing.assert_array_equal(series.timespans[:, 0], 1.0)


def test_keep_probability_one_keeps_everything(regular):
    frames, lengths = regular
    series = irregular.drop_observations(frames, lengths, keep_probability=1.0, seed=0)
    np.testing.assert_array_equal(series.lengths, lengths)
    np.testing.assert_array_equal(series.frames, frames)


def test_inputs_for_each_kind_of_model(regular):
    series = irregular.drop_observations(*regular, keep_probability=0.5, seed=2)
    mean, std = np.zeros(F), np.full(F, 2.0)
    args = (series.frames[:4], series.timespans[:4], series.lengths[:4], mean, std)
    width = int(series.lengths[:4].max())
    x = irregular.prepare_inputs(*args, time_input="none").numpy()
    assert x.shape == (4, width, F)
    np.testing.assert_allclose(
        x[0, : series.lengths[0]], series.frames[0, : series.lengths[0]] / 2
    )
    x2, t = irregular.prepare_inputs(*args, time_input="timespans")
    np.testing.assert_array_equal(x2.numpy(), x)
    np.testing.assert_array_equal(t.numpy(), series.timespans[:4, :width])
    gap = irregular.prepare_inputs(*args, time_input="feature").numpy()
    np.testing.assert_array_equal(gap[..., :F], x)
    real = np.arange(width)[None, :] < series.lengths[:4, None]
    np.testing.assert_array_equal(gap[..., F], np.where(real, t.numpy(), 0.0))
    labels = np.arange(N) % 3
    ds = irregular.make_dataset(
        series, labels, mean, std, time_input="timespans", batch_size=4
    )
    (bx, bt), by = next(iter(ds))
    np.testing.assert_array_equal(bx.numpy(), x)
    np.testing.assert_array_equal(by.numpy(), labels[:4])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(frames=np.ones((2, 3))), ValueError, "`frames` must be of rank 3"),
        (dict(lengths=[3]), ValueError, "`lengths` must be integers of shape (2,)"),
        (dict(lengths=[0, 3]), ValueError, "`lengths` must be in [1, 3] (the time axis). Received: min 0"),
        (dict(lengths=[3, 4]), ValueError, "Received: min 3, max 4"),
        (dict(keep_probability=0.0), ValueError, "`keep_probability` must be a number in (0, 1]. Received: keep_probability=0.0"),
        (dict(keep_probability=1.5), ValueError, "keep_probability=1.5"),
        (dict(keep_probability=True), ValueError, "keep_probability=True"),
        (dict(seed=1.5), TypeError, "`seed` must be an integer. Received: seed=1.5"),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_argument(kwargs, error, message):
    call = dict(frames=np.ones((2, 3, 1)), lengths=[3, 2], keep_probability=0.5, seed=0)
    call.update(kwargs)
    frames, lengths = call.pop("frames"), call.pop("lengths")
    with pytest.raises(error, match=re.escape(message)):
        irregular.drop_observations(frames, lengths, **call)


def test_bad_dataset_arguments_name_the_argument(regular):
    series = irregular.drop_observations(*regular, keep_probability=0.5, seed=0)
    mean, std = np.zeros(F), np.ones(F)
    with pytest.raises(
        ValueError, match=r"Unknown `time_input`.*Received: time_input='gap'"
    ):
        irregular.make_dataset(series, np.zeros(N), mean, std, time_input="gap")
    with pytest.raises(ValueError, match=r"`labels` must have shape \(200,\).*\(3,\)"):
        irregular.make_dataset(series, [0, 1, 2], mean, std, time_input="none")
    with pytest.raises(TypeError, match="`series` must be an IrregularSeries"):
        irregular.make_dataset(regular, np.zeros(N), mean, std, time_input="none")
