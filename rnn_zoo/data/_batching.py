"""Batching variable-length sequences into a few padded shapes.

Each distinct ``(batch, steps)`` shape of a batch is a trace of the training
step and, for rnn_zoo's fused TensorFlow kernels, one XLA compilation of
the forward and backward loops. Padding each batch to its own longest
sequence gives a shape per length (15 training shapes for the surnames,
measured), and the longest of 64 random sequences is far longer than the
average one (about 17 characters against 7.6 for the surnames). Batching
sequences of similar length together and padding them to a bucket's
length fixes both: a few shapes, and little padding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf


def bucket_boundaries(bucket_lengths: Sequence[int], max_length: int) -> list[int]:
    """``tf.data`` bucket boundaries for buckets padded to ``bucket_lengths``.

    Bucket ``i`` holds lengths below ``boundaries[i]`` and is padded to
    ``boundaries[i] - 1``; the last boundary is past ``max_length``, so every
    sequence (truncated to ``max_length``) has a bucket.

    >>> bucket_boundaries((6, 8, 10), 24)
    [7, 9, 11, 25]
    >>> bucket_boundaries((6, 8, 10), 8)
    [7, 9]
    """
    boundaries = [b + 1 for b in sorted(bucket_lengths) if b < max_length]
    return [*boundaries, max_length + 1]


def batch_by_length(
    dataset: tf.data.Dataset,
    *,
    length: Callable,
    lengths: Sequence[int],
    batch_size: int,
    bucket_lengths: Sequence[int],
    max_length: int,
    padded_shapes: Callable[[int | None], object],
    padding_values: object,
    fixed_length: int | None = None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Padded batches of similar-length sequences, padded to a bucket's length.

    Args:
        dataset: unbatched elements.
        length: element -> its sequence length (a scalar tensor).
        lengths: every element's length, in Python: the number of batches
            is known before the first epoch (Keras then shows a progress
            bar and does not warn that the input "ran out of data").
        batch_size: elements per batch.
        bucket_lengths: the padded lengths of the buckets (those below
            ``max_length``; ``max_length`` is always the last).
        max_length: the longest a sequence can be.
        padded_shapes: steps -> the ``padded_shapes`` structure of
            ``padded_batch`` (steps is None for "the bucket's").
        padding_values: as ``padded_batch`` takes them.
        fixed_length: no buckets: every batch is padded to this many steps,
            one shape (a short run compiles one training step); nothing is
            dropped.
        drop_remainder: drop each bucket's last, smaller batch. A training
            split shuffled every epoch would otherwise end each bucket with a
            batch of a new size every epoch: a new shape, a new compilation.
            The names dropped differ from epoch to epoch.
    """
    if fixed_length is not None:
        return dataset.padded_batch(
            batch_size,
            padded_shapes=padded_shapes(fixed_length),
            padding_values=padding_values,
        )
    import numpy as np
    import tensorflow as tf

    boundaries = bucket_boundaries(bucket_lengths, max_length)
    per_bucket = np.bincount(
        np.searchsorted(boundaries, np.minimum(lengths, max_length), side="right"),
        minlength=len(boundaries) + 1,
    )
    rounding = np.floor_divide if drop_remainder else lambda n, b: -(-n // b)
    num_batches = int(rounding(per_bucket, batch_size).sum())
    dataset = dataset.bucket_by_sequence_length(
        length,
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padded_shapes=padded_shapes(None),
        padding_values=padding_values,
        pad_to_bucket_boundary=True,
        drop_remainder=drop_remainder,
    )
    return dataset.apply(tf.data.experimental.assert_cardinality(num_batches))
