"""*Pride and Prejudice* as words: tokens, a word vocabulary and LM chunks.

The same chronological chapter split as :mod:`rnn_zoo.data.austen` (chapters
1-49 train, 50-55 validate, 56-61 test). Text is lower-cased (GloVe 6B's
vocabulary is lower-cased too) and cut into words (letters with inner
apostrophes), numbers and single punctuation marks, with ``'s`` and ``n't``
split off as GloVe's tokenizer does (``"elizabeth's"`` -> ``elizabeth 's``,
``"don't"`` -> ``do n't``); Gutenberg's ``_italics_`` underscores are
dropped. The vocabulary holds
the training words seen at least ``min_count`` times; the rest read as the
unknown word.

Ids: 0 padding, 1 unknown, 2 start (a chunk's first input), then the words
by falling training frequency (ties alphabetical).
"""

from __future__ import annotations

import collections
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rnn_zoo import _checks

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

PAD_ID = 0
UNK_ID = 1
START_ID = 2
FIRST_WORD_ID = 3
# The strings of the reserved ids (a vocabulary lists them first).
RESERVED = ("", "<unk>", "<s>")
DEFAULT_MIN_COUNT = 2
DEFAULT_SEQ_LENGTH = 35

# GloVe's tokenizer (Stanford's) splits "'s" and "n't" off their words.
_CLITIC = re.compile(r"(?<=[a-z])(?=['’]s\b)|(?=n['’]t\b)")
_TOKEN = re.compile(r"['’]s\b|n['’]t\b|[a-z]+(?:['’][a-z]+)*|[0-9]+|[^\sa-z0-9_]")


def tokenize(text: str) -> list[str]:
    """Lower-cased words, numbers and punctuation marks of ``text``.

    >>> tokenize("“I am _not_ afraid of you,” said Elizabeth's sister; don't.")
    ['“', 'i', 'am', 'not', 'afraid', 'of', 'you', ',', '”', 'said', 'elizabeth', "'s", 'sister', ';', 'do', "n't", '.']
    """
    text = _CLITIC.sub(" ", _checks.check_text(text).lower())
    return [t.replace("’", "'") for t in _TOKEN.findall(text)]


def build_vocabulary(
    tokens: Sequence[str], min_count: int = DEFAULT_MIN_COUNT
) -> list[str]:
    """The reserved ids' strings, then the words seen ``min_count`` times or more.

    Position = id: ``vocabulary[FIRST_WORD_ID]`` is the most frequent word.

    >>> build_vocabulary(["a", "b", "a", "c", "b", "a"], min_count=2)
    ['', '<unk>', '<s>', 'a', 'b']
    """
    min_count = _checks.check_positive_int(min_count, "min_count")
    counts = collections.Counter(tokens)
    words = sorted(
        (w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w)
    )
    return [*RESERVED, *words]


def encode(tokens: Sequence[str], vocabulary: Sequence[str]) -> np.ndarray:
    """int32 ids of ``tokens`` (unknown words -> :data:`UNK_ID`).

    >>> encode(["a", "z", "b"], ["", "<unk>", "<s>", "a", "b"]).tolist()
    [3, 1, 4]
    """
    index = {word: i for i, word in enumerate(vocabulary) if i >= FIRST_WORD_ID}
    return np.array([index.get(t, UNK_ID) for t in tokens], np.int32)


def lm_arrays(
    ids: np.ndarray, seq_length: int = DEFAULT_SEQ_LENGTH
) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous chunks of word ``ids`` as ``(inputs, targets)`` for a generator.

    Chunk ``k`` targets words ``[k * seq_length, (k + 1) * seq_length)``; its
    inputs are the start id and the first ``seq_length - 1`` of them. The
    last chunk is padded with 0 in both. Every word is a target once.

    >>> inputs, targets = lm_arrays(np.array([5, 6, 7, 8, 9]), seq_length=3)
    >>> inputs.tolist(), targets.tolist()
    ([[2, 5, 6], [2, 8, 0]], [[5, 6, 7], [8, 9, 0]])
    """
    seq_length = _checks.check_positive_int(seq_length, "seq_length")
    if seq_length < 2:
        raise ValueError(
            f"`seq_length` must be at least 2. Received: seq_length={seq_length}"
        )
    ids = np.asarray(ids, np.int32)
    if ids.size == 0:
        raise ValueError("`ids` is empty: there is nothing to model.")
    chunks = -(-ids.size // seq_length)
    targets = np.zeros((chunks, seq_length), np.int32)
    targets.flat[: ids.size] = ids
    inputs = np.concatenate(
        [np.full((chunks, 1), START_ID, np.int32), targets[:, :-1]], axis=1
    )
    inputs[targets == PAD_ID] = PAD_ID
    return inputs, targets


def make_lm_dataset(
    ids: np.ndarray,
    *,
    seq_length: int = DEFAULT_SEQ_LENGTH,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Batches of :func:`lm_arrays` chunks, reshuffled every epoch when ``shuffle``.

    >>> ds = make_lm_dataset(np.arange(3, 40), seq_length=5, batch_size=4)
    >>> [t.shape.as_list() for t in next(iter(ds))]
    [[4, 5], [4, 5]]
    """
    import tensorflow as tf

    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    inputs, targets = lm_arrays(ids, seq_length)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if shuffle:
        dataset = dataset.shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
