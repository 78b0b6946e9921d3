"""rnn_zoo.data.co2 on the Mauna Loa series of the installed statsmodels package."""

import keras
import numpy as np
import pytest

from rnn_zoo.data import co2

pytest.importorskip(
    "statsmodels", reason="the Mauna Loa CO2 data ships with statsmodels"
)


def tensorflow_only(test):
    """The tensorflow_only marker, and a skip on other backends (tf.data)."""
    test = pytest.mark.tensorflow_only(test)
    return pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="tf.data needs TensorFlow"
    )(test)


@pytest.fixture(scope="module")
def data():
    return co2.load_co2()


def test_the_raw_series_is_weekly_with_gaps():
    dates, values = co2.read_series()
    assert len(dates) == len(values) == 2284
    assert np.all(np.diff(dates) == np.timedelta64(7, "D"))
    assert int(np.isnan(values).sum()) == 59
    assert 310 < np.nanmin(values) and np.nanmax(values) < 380


def test_gaps_are_filled_linearly_and_measured_weeks_kept(data):
    _, raw = co2.read_series()
    missing = np.isnan(raw)
    np.testing.assert_array_equal(data.interpolated, missing)
    assert not np.isnan(data.values).any()
    np.testing.assert_allclose(data.values[~missing], raw[~missing], rtol=1e-6)
    # The 18-week gap from 1964-01-25: a straight line from 319.8 to 322.0.
    start = int(np.flatnonzero(data.dates == np.datetime64("1964-01-25"))[0])
    gap = data.values[start - 1 : start + 19]
    np.testing.assert_allclose(gap, np.linspace(319.8, 322.0, 20), rtol=1e-6)


def test_filling_never_reads_across_a_split_boundary():
    # Put the train/validation boundary inside the 18-week gap (weeks 304-321):
    # each side is filled from its own measured weeks only.
    data = co2.load_co2(fractions=(0.135, 0.5, 0.365), window=52, horizon=13)
    train_end = data.bounds["train"][1]
    assert 304 < train_end < 322
    np.testing.assert_allclose(data.values[304:train_end], 319.8, rtol=1e-6)
    np.testing.assert_allclose(data.values[train_end:322], 322.0, rtol=1e-6)


def test_periods_are_chronological_and_cover_the_series(data):
    assert data.bounds == {
        "train": (0, 1599),
        "validation": (1599, 1942),
        "test": (1942, 2284),
    }
    assert data.info["periods"]["test"] == ["1995-06-17", "2001-12-29"]
    # Every gap lies in the training period: validation and test are measured.
    assert not data.interpolated[1599:].any()


def test_window_shapes_and_counts(data):
    assert (len(data.train), len(data.validation), len(data.test)) == (1444, 292, 291)
    for split in (data.train, data.validation, data.test):
        assert split.history.shape == (len(split), 104)
        assert split.targets.shape == (len(split), 52)
        assert split.history.dtype == split.targets.dtype == np.float32
        np.testing.assert_array_equal(np.diff(split.origins), 1)


def test_windows_hold_the_weeks_around_their_origin(data):
    for split in (data.train, data.validation, data.test):
        for i in (0, len(split) // 2, len(split) - 1):
            origin = split.origins[i]
            np.testing.assert_array_equal(
                split.history[i], data.values[origin - 103 : origin + 1]
            )
            np.testing.assert_array_equal(
                split.targets[i], data.values[origin + 1 : origin + 53]
            )


def test_no_window_leaks_across_the_chronological_split(data):
    for name in co2.SPLITS:
        start, end = data.bounds[name]
        origins = getattr(data, name).origins
        # Every target lies in the window's own period ...
        assert origins.min() + 1 >= start and origins.max() + 52 <= end
        # ... and no input is later than the forecast origin (the history
        # ends there; it may reach back into earlier periods).
        assert origins.min() - 103 >= 0
    # So the last training target (and input) is the last training week.
    assert data.train.origins.max() + 52 == data.bounds["train"][1] - 1
    # Every validation and test week is a target of some window.
    assert data.validation.origins.min() + 1 == data.bounds["validation"][0]
    assert data.test.origins.min() + 1 == data.bounds["test"][0]
    assert data.test.origins.max() + 52 == data.bounds["test"][1] - 1


def test_scale_comes_from_the_training_windows_only(data):
    anchors = data.train.history.mean(axis=1, keepdims=True)
    around = np.concatenate(
        [data.train.history - anchors, data.train.targets - anchors], axis=1
    )
    assert data.scale == pytest.approx(float(around.std()), rel=1e-6)
    # The test windows alone would give another scale: they are not used.
    test_anchors = data.test.history.mean(axis=1, keepdims=True)
    assert float((data.test.history - test_anchors).std()) != pytest.approx(
        data.scale, rel=1e-3
    )
    assert data.info["scale"] == data.scale


def test_stride_keeps_every_kth_origin(data):
    sparse = co2.load_co2(stride=13)
    np.testing.assert_array_equal(sparse.train.origins, data.train.origins[::13])
    np.testing.assert_array_equal(sparse.test.history, data.test.history[::13])
    assert sparse.scale != data.scale  # fewer windows, its own statistic


@tensorflow_only
def test_normalize_and_denormalize_invert_each_other():
    rng = np.random.default_rng(0)
    history = (340 + rng.normal(size=(4, 10))).astype("float32")
    inputs, anchor = co2.normalize(history, 2.0)
    assert inputs.shape == (4, 10, 1) and anchor.shape == (4, 1)
    np.testing.assert_allclose(anchor[:, 0], history.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(inputs.numpy().mean(axis=1), 0.0, atol=1e-4)
    targets = (341 + rng.normal(size=(4, 3))).astype("float32")
    scaled = co2.normalize_targets(targets, anchor, 2.0)
    np.testing.assert_allclose(co2.denormalize(scaled, anchor, 2.0), targets, rtol=1e-6)


@tensorflow_only
def test_make_dataset_gives_scaled_windows_in_order(data):
    ds = co2.make_dataset(data.test, data.scale, batch_size=100)
    inputs, targets = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    assert [len(x) for x in inputs] == [100, 100, 91]
    inputs, targets = np.concatenate(inputs), np.concatenate(targets)
    assert inputs.shape == (291, 104, 1) and targets.shape == (291, 52, 1)
    anchor = data.test.history.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(
        inputs[:, :, 0], (data.test.history - anchor) / data.scale, atol=1e-4
    )
    np.testing.assert_allclose(
        targets[:, :, 0], (data.test.targets - anchor) / data.scale, atol=1e-4
    )
    # Scaled values stay near unit size, test years included.
    assert np.abs(targets).max() < 5


@tensorflow_only
def test_shuffling_is_seeded(data):
    def first_inputs(ds):
        return np.concatenate([x.numpy()[:, 0, 0] for x, _ in ds])

    ds = co2.make_dataset(data.validation, data.scale, shuffle=True, seed=1)
    first = first_inputs(ds)
    assert not np.array_equal(first, first_inputs(ds))
    again = co2.make_dataset(data.validation, data.scale, shuffle=True, seed=1)
    np.testing.assert_array_equal(first_inputs(again), first)


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"window": 0}, ValueError, "`window`"),
        ({"horizon": 1.5}, TypeError, "`horizon`"),
        ({"stride": 0}, ValueError, "`stride`"),
        ({"fractions": (0.8, 0.2)}, ValueError, "`fractions`"),
        ({"fractions": (0.5, 0.3, 0.3)}, ValueError, "`fractions`"),
        ({"fractions": "abc"}, ValueError, "`fractions`"),
        # The validation period (343 weeks) cannot hold 400 weeks of targets.
        ({"horizon": 400}, ValueError, r"validation period \(343 weeks\) holds no"),
    ],
)
def test_bad_load_arguments_are_named(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        co2.load_co2(**kwargs)


@tensorflow_only
def test_bad_dataset_arguments_are_named(data):
    with pytest.raises(TypeError, match="`windows`"):
        co2.make_dataset(data.train.history, data.scale)
    for scale in (0.0, -1.0, float("nan"), "2"):
        with pytest.raises(ValueError, match="`scale`"):
            co2.make_dataset(data.train, scale)
    with pytest.raises(ValueError, match="`batch_size`"):
        co2.make_dataset(data.train, data.scale, batch_size=-1)
