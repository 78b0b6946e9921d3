"""Text classification datasets from the tensorflow-datasets catalog, and word ids.

Any tfds catalog dataset whose supervised pair is ``(Text, ClassLabel)``
(``imdb_reviews``: movie reviews, ``neg``/``pos``; ``ag_news_subset``: news
descriptions, 4 topics) is read with the ordinary ``tfds.load(name,
split=..., as_supervised=True)``; :func:`load_text_classification` adds clear
errors for a dataset of the wrong kind and for data that is not on this
machine yet (instead of tfds retrying a download for minutes offline).

:func:`make_vectorizer` turns text into word ids with
``keras.layers.TextVectorization`` and :func:`standardize`, a TensorFlow
function, so the same layer runs in a ``tf.data`` pipeline and inside an
exported SavedModel: id 0 is padding, id 1 any word outside the vocabulary.

Example:

>>> vectorizer = make_vectorizer(4, vocabulary=["", "[UNK]", "great", "film"])
>>> vectorizer(["Great film, great!"]).numpy().tolist()
[[2, 3, 2, 0]]
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import keras
import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf


def standardize(texts: tf.Tensor) -> tf.Tensor:
    """Lowercases text, turns HTML line breaks into spaces and drops punctuation.

    IMDB reviews carry ``<br />`` tags, which would otherwise become the most
    frequent "word"; letters and digits of every script are kept.

    Example:

    >>> import tensorflow as tf
    >>> standardize(tf.constant(["Great!<br />A must-see."])).numpy()
    array([b'great a mustsee'], dtype=object)
    """
    import tensorflow as tf

    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf.strings.regex_replace(texts, r"<br\s*/?>", " ")
    return tf.strings.regex_replace(texts, r"[^\p{L}\p{N}\s]", "")


def make_vectorizer(
    sequence_length: int,
    *,
    max_tokens: int | None = None,
    vocabulary: list[str] | None = None,
) -> keras.layers.TextVectorization:
    """A word-level ``TextVectorization``: text -> ``sequence_length`` int ids.

    Give ``max_tokens`` to fit a vocabulary later with ``adapt``, or the
    ``vocabulary`` a fitted one returned (``get_vocabulary()``, which starts
    with ``""`` for padding, id 0, and ``"[UNK]"``, id 1).

    Args:
        sequence_length: ids per text: longer texts are cut, shorter ones
            padded with 0 at the end.
        max_tokens: the vocabulary size to fit, padding and unknown included.
        vocabulary: a fitted vocabulary, in id order.

    Returns:
        The layer (standardization: :func:`standardize`; split on whitespace).
    """
    return keras.layers.TextVectorization(
        max_tokens=max_tokens,
        standardize=standardize,
        split="whitespace",
        output_mode="int",
        output_sequence_length=sequence_length,
        vocabulary=vocabulary,
        name="vectorizer",
    )


def _check_text_classification(name: str, builder) -> str:
    """The label feature's key, once the dataset is known to be (Text, ClassLabel)."""
    import tensorflow_datasets as tfds

    keys = builder.info.supervised_keys
    features = builder.info.features
    if (
        not isinstance(keys, tuple)
        or len(keys) != 2
        or not all(isinstance(key, str) for key in keys)
        or not isinstance(features[keys[0]], tfds.features.Text)
        or not isinstance(features[keys[1]], tfds.features.ClassLabel)
    ):
        raise ValueError(
            f"The tfds dataset {name!r} is not a text classification dataset: "
            "it needs supervised keys (text, label) with a Text and a ClassLabel "
            f"feature. Received: supervised_keys={keys!r}, features={features!r}"
        )
    return keys[1]


def load_text_classification(
    name: str,
    splits: dict[str, str],
    *,
    data_dir: str | None = None,
    download: bool = False,
) -> tuple[dict[str, tf.data.Dataset], list[str]]:
    """Reads the ``(text, label)`` splits of a tfds text classification dataset.

    Args:
        name: a tfds catalog dataset whose supervised pair is
            ``(Text, ClassLabel)``.
        splits: ``{your name: tfds split expression}``, e.g.
            ``{"train": "train[:90%]", "validation": "train[90%:]"}``.
        data_dir: tfds's data directory (``None``: tfds's own).
        download: download and prepare the data if it is not there yet
            (needs internet once); without it only prepared data is read.

    Returns:
        ``(datasets, labels)``: unbatched ``tf.data`` datasets of
        ``(text, label)`` pairs keyed like ``splits``, and the label names
        in id order (from the dataset's info).

    Raises:
        ValueError: ``name`` is not in the catalog, or not text classification.
        FileNotFoundError: the data is not prepared and ``download`` is False.
        ConnectionError: ``download`` is True and the download failed.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError:
        raise ValueError(
            f"{name!r} is not a tfds catalog dataset (see tfds.list_builders())."
        ) from None
    labels = list(
        builder.info.features[_check_text_classification(name, builder)].names
    )
    where = os.fspath(builder.data_dir_root)
    try:
        datasets = tfds.load(
            name,
            split=list(splits.values()),
            as_supervised=True,
            data_dir=data_dir,
            # Without download tfds only reads what is prepared: an offline
            # machine gets an answer at once, not after minutes of retries.
            download=download,
        )
    except AssertionError as error:
        if download or "could not find data" not in str(error):
            raise
        raise FileNotFoundError(
            f"The tfds dataset {name!r} is not prepared in {where}. It must be "
            "downloaded once, which needs internet: run again with --download "
            "(download=True) and the same data directory, or prepare it with "
            f"tfds.builder({name!r}, data_dir=...).download_and_prepare()."
        ) from None
    except OSError as error:
        if not download:
            raise
        raise ConnectionError(
            f"Downloading the tfds dataset {name!r} into {where} failed; this "
            "needs internet once (then it is read from disk). "
            f"The error: {error}"
        ) from error
    return dict(zip(splits, datasets)), labels


def label_counts(dataset: tf.data.Dataset, num_labels: int) -> np.ndarray:
    """Examples per label in an unbatched dataset of ``(text, label)`` pairs.

    Example:

    >>> import tensorflow as tf
    >>> ds = tf.data.Dataset.from_tensor_slices((["a", "b", "c"], [1, 1, 0]))
    >>> label_counts(ds, 3).tolist()
    [1, 2, 0]
    """
    batches = dataset.map(lambda text, label: label).batch(4096).as_numpy_iterator()
    labels = np.concatenate([np.zeros(0, np.int64), *batches])
    return np.bincount(labels, minlength=num_labels)
