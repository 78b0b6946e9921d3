"""rnn_zoo.data.vowels on the Japanese vowels data of the installed sktime package."""

import keras
import numpy as np
import pytest

from rnn_zoo.data import vowels

pytest.importorskip("sktime", reason="the Japanese vowels data ships with sktime")


def tensorflow_only(test):
    """The tensorflow_only marker, and a skip on other backends (tf.data)."""
    test = pytest.mark.tensorflow_only(test)
    return pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="tf.data needs TensorFlow"
    )(test)


@pytest.fixture(scope="module")
def data():
    return vowels.load_japanese_vowels(seed=0)


def _rows(split):
    """Each utterance as bytes, to compare splits as sets."""
    return {
        frames[:length].tobytes() for frames, length in zip(split.frames, split.lengths)
    }


def test_official_splits_and_a_stratified_validation_split(data):
    assert data.speakers == tuple("123456789")
    assert (len(data.train), len(data.validation), len(data.test)) == (216, 54, 370)
    assert np.bincount(data.train.labels).tolist() == [24] * 9
    assert np.bincount(data.validation.labels).tolist() == [6] * 9
    # The official test split, uneven across speakers (24 to 88), untouched.
    assert np.bincount(data.test.labels).tolist() == [
        31,
        35,
        88,
        44,
        29,
        24,
        40,
        50,
        29,
    ]


def test_utterances_have_their_documented_shape(data):
    for split in (data.train, data.validation, data.test):
        assert split.frames.shape == (len(split), vowels.MAX_LENGTH, 12)
        assert split.frames.dtype == np.float32 and split.labels.dtype == np.int32
        assert split.lengths.min() >= 7 and split.lengths.max() <= 29
        beyond = np.arange(vowels.MAX_LENGTH)[None, :] >= split.lengths[:, None]
        assert np.all(split.frames[beyond] == 0.0)
        # Real frames are measurements, not padding.
        assert np.all(np.abs(split.frames[~beyond]).sum(axis=-1) > 0)
    assert data.test.lengths.max() == 29


def test_splits_are_disjoint_and_train_plus_validation_is_the_official_train(data):
    train, validation, test = (
        _rows(data.train),
        _rows(data.validation),
        _rows(data.test),
    )
    assert len(train) == 216 and len(validation) == 54
    assert not train & validation
    assert not (train | validation) & test
    again = vowels.load_japanese_vowels(seed=5)
    assert _rows(again.train) | _rows(again.validation) == train | validation
    assert _rows(again.test) == test


def test_the_split_is_seeded(data):
    assert vowels.load_japanese_vowels(seed=0) == data
    other = vowels.load_japanese_vowels(seed=1)
    assert _rows(other.validation) != _rows(data.validation)
    assert other.test == data.test


def test_standardization_uses_the_training_frames_only(data):
    real = np.arange(vowels.MAX_LENGTH)[None, :] < data.train.lengths[:, None]
    frames = data.train.frames[real]
    np.testing.assert_allclose(data.mean, frames.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(data.std, frames.std(axis=0), rtol=1e-5)
    # Validation frames would move the statistics: they are left out.
    real_val = np.arange(vowels.MAX_LENGTH)[None, :] < data.validation.lengths[:, None]
    both = np.concatenate([frames, data.validation.frames[real_val]])
    assert not np.allclose(data.mean, both.mean(axis=0), rtol=1e-4, atol=0)
    info = data.info
    assert info["mean"] == [float(v) for v in data.mean]
    assert info["num_examples"] == {"train": 216, "validation": 54, "test": 370}


def test_max_per_class_takes_a_seeded_slice():
    small = vowels.load_japanese_vowels(seed=0, max_per_class=10)
    assert (len(small.train), len(small.validation), len(small.test)) == (72, 18, 90)
    assert np.bincount(small.test.labels).tolist() == [10] * 9
    assert vowels.load_japanese_vowels(seed=0, max_per_class=10) == small
    tiny = vowels.load_japanese_vowels(seed=0, max_per_class=2)
    assert len(tiny.train) == len(tiny.validation) == 9


@tensorflow_only
def test_prepare_frames_standardizes_and_pads():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(3, 6, 12)).astype("float32")
    mean, std = rng.normal(size=12), rng.uniform(0.5, 2.0, size=12)
    x = vowels.prepare_frames(frames, [4, 2, 0], mean, std).numpy()
    assert x.shape == (3, 4, 12)  # cut to the longest length
    np.testing.assert_allclose(x[0], (frames[0, :4] - mean) / std, rtol=1e-5)
    np.testing.assert_allclose(x[1, :2], (frames[1, :2] - mean) / std, rtol=1e-5)
    assert np.all(x[1, 2:] == vowels.PAD_VALUE) and np.all(x[2] == vowels.PAD_VALUE)
    # A length past the frames counts them all; negative counts as none.
    assert vowels.prepare_frames(frames, [9, -1, 1], mean, std).shape == (3, 6, 12)
    # Empty utterances still give one (padding) step.
    empty = vowels.prepare_frames(np.zeros((2, 0, 12), "float32"), [0, 0], mean, std)
    assert empty.shape == (2, 1, 12)


@tensorflow_only
def test_make_dataset_batches_standardized_padded_frames(data):
    ds = vowels.make_dataset(data.test, data.mean, data.std, batch_size=50)
    batches = list(ds)
    assert [len(y) for _, y in batches] == [50] * 7 + [20]
    labels = np.concatenate([y.numpy() for _, y in batches])
    np.testing.assert_array_equal(labels, data.test.labels)
    frames, _ = batches[0]
    lengths = data.test.lengths[:50]
    assert frames.shape == (50, lengths.max(), 12)
    expected = (data.test.frames[0, : lengths[0]] - data.mean) / data.std
    np.testing.assert_allclose(frames[0, : lengths[0]], expected, rtol=1e-5, atol=1e-6)
    assert np.all(frames[0, lengths[0] :] == vowels.PAD_VALUE)


@tensorflow_only
def test_shuffling_is_seeded_and_changes_every_epoch(data):
    def order(ds):
        return np.concatenate([y.numpy() for _, y in ds])

    ds = vowels.make_dataset(data.train, data.mean, data.std, shuffle=True, seed=3)
    first, second = order(ds), order(ds)
    assert not np.array_equal(first, second)
    assert sorted(first) == sorted(data.train.labels)
    again = vowels.make_dataset(data.train, data.mean, data.std, shuffle=True, seed=3)
    np.testing.assert_array_equal(order(again), first)


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"seed": "0"}, TypeError, "`seed`"),
        ({"seed": True}, TypeError, "`seed`"),
        ({"validation_fraction": 0.0}, ValueError, "`validation_fraction`"),
        ({"validation_fraction": 1.0}, ValueError, "`validation_fraction`"),
        ({"max_per_class": 1}, ValueError, "`max_per_class` must be at least 2"),
        ({"max_per_class": 0}, ValueError, "`max_per_class`"),
        ({"max_per_class": 2.5}, TypeError, "`max_per_class`"),
    ],
)
def test_bad_load_arguments_are_named(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        vowels.load_japanese_vowels(**kwargs)


@tensorflow_only
def test_bad_dataset_arguments_are_named(data):
    with pytest.raises(TypeError, match="`split`"):
        vowels.make_dataset(data.train.frames, data.mean, data.std)
    with pytest.raises(ValueError, match=r"`mean` must have shape \(12,\)"):
        vowels.make_dataset(data.train, data.mean[:3], data.std)
    with pytest.raises(ValueError, match="`std` must be positive"):
        vowels.make_dataset(data.train, data.mean, np.zeros(12))
    with pytest.raises(ValueError, match="`batch_size`"):
        vowels.make_dataset(data.train, data.mean, data.std, batch_size=0)
