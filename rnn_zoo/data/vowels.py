"""Japanese vowels: which of 9 speakers said "ae", from 12-dim speech frames.

The task: many-to-one classification of multivariate sequences. Nine Japanese
men each said the vowels /ae/; every utterance was cut into frames and each
frame described by 12 LPC cepstrum coefficients (a 12-degree linear
prediction analysis), so one example is a float sequence of 7 to 29 frames x
12 features, labelled with its speaker (M. Kudo, J. Toyama and M. Shimbo,
"Multidimensional curve classification using passing-through regions",
Pattern Recognition Letters 20 (11-13), 1999; the UCI Machine Learning
Repository's "Japanese Vowels"). The data is read at run time from the
installed ``sktime`` package (BSD licence,
``sktime.datasets.load_japanese_vowels``), so none is copied into rnn_zoo.

The splits:

- ``test``: the official test split, 370 utterances (24 to 88 per speaker,
  recorded later and unevenly, as the dataset describes), kept as it is.
- ``train`` and ``validation``: the official training split, 30 utterances
  per speaker, divided per speaker with a seeded ``numpy`` permutation: the
  default ``validation_fraction=0.2`` gives 6 per speaker to validation (54)
  and 24 to training (216).

Preparation: each feature is standardized with the mean and standard
deviation of every frame of the training split (never validation or test);
:class:`VowelsData` keeps them, and :func:`prepare_frames` applies them. A
batch is right-padded to its longest utterance with :data:`PAD_VALUE`, which a
model built with ``build_classifier(..., mask_value=PAD_VALUE)`` masks, so an
utterance gets the same answer alone or in any batch.

Example:

>>> data = load_japanese_vowels(seed=0)
>>> len(data.train), len(data.validation), len(data.test)
(216, 54, 370)
>>> ds = make_dataset(data.test, data.mean, data.std, batch_size=32)
>>> frames, labels = next(iter(ds))
>>> frames.shape[0], frames.shape[2], labels.shape  # frames: (batch, longest, 12)
(32, 12, TensorShape([32]))
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from typing import TYPE_CHECKING

import numpy as np

from rnn_zoo import _checks

if TYPE_CHECKING:
    import tensorflow as tf

# The class names, in label order: label ``i`` is speaker ``SPEAKERS[i]``
# (the dataset numbers its speakers 1 to 9).
SPEAKERS: tuple[str, ...] = tuple(str(i) for i in range(1, 10))
# LPC cepstrum coefficients per frame.
NUM_FEATURES = 12
# The longest utterance in either official split (train: 26, test: 29 frames);
# Split.frames is padded to it.
MAX_LENGTH = 29
# Padding frames hold this value in every feature after standardization, and
# the model masks them. 0 is the training mean: a real frame would have to hit
# the mean of all 12 coefficients exactly to be mistaken for padding.
PAD_VALUE = 0.0
# Training utterances per speaker in the official split.
_TRAIN_PER_SPEAKER = 30
_INSTALL_HINT = 'pip install sktime  (or pip install "rnn_zoo[recipes]")'


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
    """One split: raw (unstandardized) utterances and their speakers.

    Attributes:
        frames: float32 ``(n, MAX_LENGTH, 12)``; utterance ``i`` is
            ``frames[i, :lengths[i]]``, followed by zeros.
        lengths: int32 ``(n,)``, frames per utterance (7 to 29).
        labels: int32 ``(n,)``, the speaker index (into :data:`SPEAKERS`).
    """

    frames: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def __eq__(self, other) -> bool:
        return isinstance(other, Split) and all(
            np.array_equal(getattr(self, f), getattr(other, f))
            for f in ("frames", "lengths", "labels")
        )


@dataclasses.dataclass(frozen=True, eq=False)
class VowelsData:
    """The prepared Japanese vowels task.

    Attributes:
        speakers: the class names; label ``i`` is ``speakers[i]``.
        train, validation, test: the splits (see the module docstring).
        mean, std: float32 ``(12,)``, per-feature statistics of the training
            split's frames, used to standardize every split.
    """

    speakers: tuple[str, ...]
    train: Split
    validation: Split
    test: Split
    mean: np.ndarray
    std: np.ndarray

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, VowelsData)
            and self.speakers == other.speakers
            and all(
                getattr(self, s) == getattr(other, s)
                for s in ("train", "validation", "test")
            )
            and np.array_equal(self.mean, other.mean)
            and np.array_equal(self.std, other.std)
        )

    @property
    def info(self) -> dict:
        """The JSON-serializable facts a model and its export need."""
        return {
            "speakers": list(self.speakers),
            "num_features": NUM_FEATURES,
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "pad_value": PAD_VALUE,
            "num_examples": {
                "train": len(self.train),
                "validation": len(self.validation),
                "test": len(self.test),
            },
        }


@functools.lru_cache(maxsize=2)
def _read_split(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames, lengths, labels) of one official split, in the dataset's order."""
    try:
        from sktime.datasets import load_japanese_vowels as sktime_loader
    except ImportError as error:
        raise ImportError(
            f"The Japanese vowels data ships with sktime, which is not installed: "
            f"{_INSTALL_HINT}"
        ) from error
    X, y = sktime_loader(split=split, return_type="pd-multiindex")
    groups = [group.to_numpy(np.float32) for _, group in X.groupby(level=0, sort=False)]
    if len(groups) != len(y) or X.shape[1] != NUM_FEATURES:
        raise RuntimeError(
            f"sktime's Japanese vowels {split} split has an unexpected layout "
            f"({len(groups)} series, {len(y)} labels, {X.shape[1]} features); "
            "rnn_zoo.data.vowels needs updating for this sktime version."
        )
    frames = np.zeros((len(groups), MAX_LENGTH, NUM_FEATURES), np.float32)
    lengths = np.array([len(g) for g in groups], np.int32)
    for row, group in zip(frames, groups):
        row[: len(group)] = group
    labels = np.array([SPEAKERS.index(str(label)) for label in y], np.int32)
    for array in (frames, lengths, labels):
        array.setflags(write=False)  # cached: callers must not change it
    return frames, lengths, labels


def _take(frames, lengths, labels, index) -> Split:
    return Split(frames[index], lengths[index], labels[index])


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`seed` must be an integer. Received: seed={seed!r}")
    return int(seed)


def load_japanese_vowels(
    seed: int = 0,
    *,
    validation_fraction: float = 0.2,
    max_per_class: int | None = None,
) -> VowelsData:
    """Loads the utterances, carves validation out of train and standardizes.

    Args:
        seed: seeds the validation split and the ``max_per_class`` sample;
            the same seed gives the same splits on every run and machine.
        validation_fraction: in ``(0, 1)``, the part of each speaker's
            training utterances that goes to validation (at least one, and
            at least one stays in training).
        max_per_class: keep a seeded sample of at most this many utterances
            per speaker from the official training split and from the test
            split (for smoke runs); at least 2. ``None`` keeps all.

    Returns:
        A :class:`VowelsData`.

    Example:

    >>> data = load_japanese_vowels(seed=0, max_per_class=10)
    >>> len(data.train), len(data.validation), len(data.test)
    (72, 18, 90)
    """
    seed = _check_seed(seed)
    if (
        isinstance(validation_fraction, bool)
        or not isinstance(validation_fraction, numbers.Real)
        or not 0.0 < validation_fraction < 1.0
    ):
        raise ValueError(
            "`validation_fraction` must be a number in (0, 1). "
            f"Received: validation_fraction={validation_fraction!r}"
        )
    if max_per_class is not None:
        max_per_class = _checks.check_positive_int(max_per_class, "max_per_class")
        if max_per_class < 2:
            raise ValueError(
                "`max_per_class` must be at least 2, so that each speaker has "
                "utterances in both train and validation. "
                f"Received: max_per_class={max_per_class}"
            )

    rng = np.random.default_rng(seed)
    train_frames, train_lengths, train_labels = _read_split("TRAIN")
    train_index, val_index = [], []
    for label in range(len(SPEAKERS)):
        # The dataset's order is fixed, so the permutation alone decides.
        index = rng.permutation(np.flatnonzero(train_labels == label))
        if max_per_class is not None:
            index = index[:max_per_class]
        n_val = min(len(index) - 1, max(1, round(validation_fraction * len(index))))
        val_index.extend(sorted(index[:n_val]))
        train_index.extend(sorted(index[n_val:]))
    train = _take(train_frames, train_lengths, train_labels, np.array(train_index))
    validation = _take(train_frames, train_lengths, train_labels, np.array(val_index))

    test_frames, test_lengths, test_labels = _read_split("TEST")
    test_index = np.arange(len(test_labels))
    if max_per_class is not None:
        test_index = np.sort(
            np.concatenate(
                [
                    rng.permutation(np.flatnonzero(test_labels == label))[
                        :max_per_class
                    ]
                    for label in range(len(SPEAKERS))
                ]
            )
        )
    test = _take(test_frames, test_lengths, test_labels, test_index)

    # Only real frames count: the zeros after each utterance are not data.
    real = np.arange(MAX_LENGTH)[None, :] < train.lengths[:, None]
    train_values = train.frames[real]  # (frames in the training split, 12)
    return VowelsData(
        speakers=SPEAKERS,
        train=train,
        validation=validation,
        test=test,
        mean=train_values.mean(axis=0).astype(np.float32),
        std=train_values.std(axis=0).astype(np.float32),
    )


def prepare_frames(frames, lengths, mean, std) -> tf.Tensor:
    """Standardizes utterances and marks their padding, as the model expects.

    Frames ``t >= lengths[i]`` of row ``i`` become :data:`PAD_VALUE` in every
    feature, and the time axis is cut to the longest length (at least 1, so
    that a batch of empty utterances still has a fully padded step). A
    length above the time axis counts the whole axis; a negative one counts
    as 0. TensorFlow ops only: the training pipeline and the exported
    SavedModel both run this same function, so they cannot disagree.

    Args:
        frames: float ``(batch, time, 12)``, raw coefficients.
        lengths: integer ``(batch,)``, frames used per row.
        mean, std: ``(12,)``, the training statistics
            (:attr:`VowelsData.mean`, :attr:`VowelsData.std`).

    Returns:
        float32 ``(batch, min(time, max(lengths)) or 1, 12)``.

    Example:

    >>> frames = np.ones((2, 5, 12), "float32")
    >>> x = prepare_frames(frames, [2, 3], np.zeros(12), np.full(12, 2.0))
    >>> x.shape, float(x[0, 1, 0]), float(x[0, 2, 0])  # row 0: 2 frames, padding
    (TensorShape([2, 3, 12]), 0.5, 0.0)
    """
    import tensorflow as tf

    frames = tf.convert_to_tensor(frames, tf.float32)
    lengths = tf.cast(tf.convert_to_tensor(lengths), tf.int32)
    lengths = tf.clip_by_value(lengths, 0, tf.shape(frames)[1])
    width = tf.maximum(tf.reduce_max(tf.concat([lengths, [0]], axis=0)), 1)
    frames = frames[:, :width]
    x = (frames - tf.constant(mean, tf.float32)) / tf.constant(std, tf.float32)
    # A zero-length time axis (width 1 over no frames) is padded to one step.
    x = tf.pad(x, [[0, 0], [0, width - tf.shape(x)[1]], [0, 0]])
    real = tf.sequence_mask(lengths, width)  # (batch, width)
    return tf.where(real[:, :, None], x, tf.constant(PAD_VALUE, tf.float32))


def make_dataset(
    split: Split,
    mean,
    std,
    *,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``(frames, labels)`` batches for the model.

    ``frames`` is float32 ``(batch, longest utterance in the batch, 12)``,
    standardized with ``mean``/``std`` and padded with :data:`PAD_VALUE`
    (:func:`prepare_frames`); ``labels`` is int32 ``(batch,)``. With
    ``shuffle`` the order changes every epoch, the same way on every run for
    a given ``seed``.

    Args:
        split: a :class:`Split` of :class:`VowelsData`.
        mean, std: the training statistics (:class:`VowelsData`).
        batch_size: utterances per batch (the last batch may be smaller).
        shuffle: shuffle the whole split each epoch (training).
        seed: the shuffle seed.

    Returns:
        A batched, prefetched ``tf.data.Dataset``.

    Example:

    >>> data = load_japanese_vowels(seed=0, max_per_class=4)
    >>> ds = make_dataset(data.test, data.mean, data.std, batch_size=8)
    >>> [t.shape.as_list() for t in ds.element_spec]
    [[None, None, 12], [None]]
    """
    import tensorflow as tf

    if not isinstance(split, Split):
        raise TypeError(f"`split` must be a vowels Split. Received: split={split!r}")
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    for name, value in (("mean", mean), ("std", std)):
        if np.shape(value) != (NUM_FEATURES,):
            raise ValueError(
                f"`{name}` must have shape ({NUM_FEATURES},), one value per "
                f"feature. Received: {name}.shape={np.shape(value)}"
            )
    if not np.all(np.asarray(std) > 0):
        raise ValueError(f"`std` must be positive. Received: std={np.asarray(std)!r}")
    if len(split) == 0:
        raise ValueError("`split` is empty: there are no utterances to batch.")
    dataset = tf.data.Dataset.from_tensor_slices(
        (split.frames, split.lengths, split.labels)
    )
    if shuffle:
        dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(
        lambda frames, lengths, labels: (
            prepare_frames(frames, lengths, mean, std),
            labels,
        )
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
