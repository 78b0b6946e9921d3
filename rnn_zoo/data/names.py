"""Surnames labelled with their language, read from the installed ``faker`` package.

The task: given a surname's characters, say which language it comes from
(character-level, many-to-one). ``faker`` (MIT licence) ships a list of common
surnames for each locale in ``faker.providers.person.<locale>.Provider``; this
module reads those lists at run time, so no data is copied into rnn_zoo.

The 14 languages, one Latin-script locale each; "faker" counts the unique
surnames faker 40.54 ships, "kept" those left after ambiguous names are
dropped (15,502 in all):

========== ======== ===================================== ====== =====
language   locale   attribute(s)                          faker  kept
========== ======== ===================================== ====== =====
English    en_GB    ``last_names``                          500    456
German     de_AT    ``last_names``                          937    861
French     fr_FR    ``last_names``                          400    334
Italian    it_IT    ``last_names``                        1,164  1,152
Spanish    es_ES    ``last_names``                        1,085  1,037
Dutch      nl_NL    ``last_names``                        1,073  1,027
Swedish    sv_SE    ``last_names``                          500    446
Finnish    fi_FI    ``last_names``                          400    371
Croatian   hr_HR    ``last_names``                          799    788
Irish      ga_IE    ``last_names``                        2,379  2,378
Slovak     sk_SK    ``last_names``                        1,771  1,729
Estonian   et_EE    ``last_names_est``                      380    351
Polish     pl_PL    ``male_last_names``, ``unisex_...``   3,890  3,787
Zulu       zu_ZA    ``last_names``                          787    785
========== ======== ===================================== ====== =====

Why these: every Latin-script locale whose language has at least ~400 unique
surnames, one locale per language, so that each class has enough names for a
10% test split. Choices between locales of one language:

- English is ``en_GB``, not ``en_US``: the US list (1,000) is the US census
  top 1,000 and holds many Spanish and other non-English surnames (Garcia,
  Nguyen, ...), which would teach "English" the wrong letters.
- German is ``de_AT`` (937), the largest German list (``de_DE`` has 404).
- Irish is ``ga_IE`` (the Irish-language forms, *Ó Briain*); ``en_IE`` holds
  the anglicised forms, which are mostly English spellings.
- Estonian keeps ``last_names_est`` and leaves out ``last_names_rus`` (126
  Russian surnames in Estonian transliteration), which are not Estonian.
- Polish: faker's ``pl_PL.last_names`` is a placeholder (``["Doe"]``); the
  surnames are in ``male_last_names`` (the ``-ski``/``-cki`` forms, 200) and
  ``unisex_last_names`` (3,690). faker derives the female ``-ska`` forms at
  call time; they are not generated here.

Left out: Czech (``cs_CZ``, 200 names, a quarter of them also on the Slovak
list), Hungarian (100), Danish (91), Norwegian (101), Portuguese (96/102),
Turkish (60), Slovenian (173), Latvian (142), Lithuanian (36), Icelandic
(``is_IS`` only has given-name stems), ``en_IN`` and ``en_KE`` (surnames
from many languages of India and Kenya, no single label), the other locales
of a language already chosen (``en_US``, ``es_MX``, ``fr_BE``, ``nl_BE``, ...),
and every non-Latin script.

Preparation (:func:`load_names`): each name is Unicode NFC-normalised and
stripped of surrounding whitespace; duplicates within a language are merged;
a name that occurs under more than one language (*Martin* is English, French
and German) has no single right answer, so it is dropped from every language
(``NamesData.num_ambiguous`` says how many: 265 distinct names with faker
40.54). Case is kept: capitals and particles (*van der*, *Ó*, *Mac*) are part
of the evidence, so the model expects names written as names usually are
(``"Rossi"``, not ``"ROSSI"``).

The split is stratified: each language's names, sorted then shuffled with a
seeded ``numpy`` generator, give 80% / 10% / 10% to train / validation / test.
The character vocabulary comes from the training split only; id 0 is padding
and id 1 stands for any character not in it. Names longer than
``max_length`` characters are truncated to their first ``max_length``
characters (the default 24 cuts 2 of the 15,502 names).

Example:

>>> data = load_names(seed=0)
>>> data.languages[:3]
('English', 'German', 'French')
>>> train = make_dataset(data.train, data.vocabulary, batch_size=32, seed=0)
>>> ids, labels = next(iter(train))
>>> ids.dtype, labels.shape  # ids is (batch, longest name in the batch)
(tf.int32, TensorShape([32]))
"""

from __future__ import annotations

import dataclasses
import importlib
import numbers
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rnn_zoo import _checks
from rnn_zoo.data import _batching

if TYPE_CHECKING:
    import tensorflow as tf

# Language -> (faker locale, the Provider attributes that hold its surnames).
LOCALES: dict[str, tuple[str, tuple[str, ...]]] = {
    "English": ("en_GB", ("last_names",)),
    "German": ("de_AT", ("last_names",)),
    "French": ("fr_FR", ("last_names",)),
    "Italian": ("it_IT", ("last_names",)),
    "Spanish": ("es_ES", ("last_names",)),
    "Dutch": ("nl_NL", ("last_names",)),
    "Swedish": ("sv_SE", ("last_names",)),
    "Finnish": ("fi_FI", ("last_names",)),
    "Croatian": ("hr_HR", ("last_names",)),
    "Irish": ("ga_IE", ("last_names",)),
    "Slovak": ("sk_SK", ("last_names",)),
    "Estonian": ("et_EE", ("last_names_est",)),
    "Polish": ("pl_PL", ("male_last_names", "unisex_last_names")),
    "Zulu": ("zu_ZA", ("last_names",)),
}

PAD_ID = 0
OOV_ID = 1
# Ids 0 and 1 are reserved, so the first character of the vocabulary is id 2.
FIRST_CHAR_ID = 2
DEFAULT_MAX_LENGTH = 24
# The padded lengths of the batches (then the split's longest name): half the
# surnames have at most 7 characters, 90 % at most 11.
BUCKET_LENGTHS = (6, 8, 10, 12, 16)


@dataclasses.dataclass(frozen=True)
class Split:
    """One split: parallel tuples of names and integer labels."""

    names: tuple[str, ...]
    labels: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.names)


@dataclasses.dataclass(frozen=True)
class NamesData:
    """The prepared surnames task.

    Attributes:
        languages: the class names; label ``i`` is ``languages[i]``.
        train, validation, test: the stratified splits.
        vocabulary: the training split's characters, sorted; character
            ``vocabulary[i]`` has id ``i + 2``.
        num_ambiguous: distinct names dropped because they occur under more
            than one language.
        counts: names kept per language (all splits together).
    """

    languages: tuple[str, ...]
    train: Split
    validation: Split
    test: Split
    vocabulary: tuple[str, ...]
    num_ambiguous: int
    counts: dict[str, int]

    @property
    def vocab_size(self) -> int:
        """Embedding rows needed: the characters plus padding and OOV."""
        return len(self.vocabulary) + FIRST_CHAR_ID


def _check_languages(languages) -> tuple[str, ...]:
    if languages is None:
        return tuple(LOCALES)
    if isinstance(languages, str) or not isinstance(languages, Sequence):
        raise TypeError(
            "`languages` must be a list of language names. "
            f"Received: languages={languages!r}"
        )
    unknown = [lang for lang in languages if lang not in LOCALES]
    if unknown or len(set(languages)) < 2 or len(set(languages)) != len(languages):
        raise ValueError(
            "`languages` must list at least 2 distinct languages from "
            f"{list(LOCALES)}. Received: languages={list(languages)!r}"
        )
    return tuple(languages)


def load_surnames(languages: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Reads each language's surnames from the installed faker package.

    Names are NFC-normalised, stripped, de-duplicated and sorted; nothing is
    dropped across languages yet (see :func:`load_names`).

    Args:
        languages: which languages of :data:`LOCALES` to read (default: all).

    Returns:
        ``{language: sorted unique surnames}``.

    Example:

    >>> surnames = load_surnames(["Italian", "Finnish"])
    >>> surnames["Finnish"][:2]
    ['Aalto', 'Aaltonen']
    """
    languages = _check_languages(languages)
    result = {}
    for language in languages:
        locale, attributes = LOCALES[language]
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        names = set()
        for attribute in attributes:
            values = getattr(provider, attribute, None)
            if values is None:
                # A faker release that renames the attribute must fail loudly,
                # not silently shrink a class.
                raise RuntimeError(
                    f"faker's {locale} person provider has no `{attribute}`; "
                    "rnn_zoo.data.names.LOCALES needs updating for this faker "
                    "version."
                )
            # An OrderedDict (name -> frequency weight) iterates over its names.
            for name in values:
                name = unicodedata.normalize("NFC", str(name)).strip()
                if name:
                    names.add(name)
        result[language] = sorted(names)
    return result


def load_names(
    seed: int = 0,
    *,
    languages: Sequence[str] | None = None,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    max_per_language: int | None = None,
) -> NamesData:
    """Loads the surnames, drops ambiguous ones and splits them.

    Args:
        seed: seeds the split (and the ``max_per_language`` sample); the
            same seed gives the same split on every run and machine.
        languages: the classes, in label order (default: all of
            :data:`LOCALES`, in its order).
        fractions: train, validation and test fractions of each language.
        max_per_language: keep a seeded random sample of at most this many
            names per language (for smoke runs); ``None`` keeps all.

    Returns:
        A :class:`NamesData`.

    Example:

    >>> data = load_names(seed=0, max_per_language=50)
    >>> len(data.test) == sum(round(0.1 * n) for n in data.counts.values())
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`seed` must be an integer. Received: seed={seed!r}")
    fractions = _checks.check_fractions(fractions)
    if max_per_language is not None:
        if isinstance(max_per_language, bool) or not isinstance(
            max_per_language, numbers.Integral
        ):
            raise TypeError(
                "`max_per_language` must be a positive integer or None. "
                f"Received: max_per_language={max_per_language!r}"
            )
        if max_per_language < 10:
            raise ValueError(
                "`max_per_language` must be at least 10 so that each split "
                f"gets names. Received: max_per_language={max_per_language}"
            )
    surnames = load_surnames(languages)
    seen: dict[str, int] = {}
    for names in surnames.values():
        for name in names:
            seen[name] = seen.get(name, 0) + 1
    ambiguous = {name for name, count in seen.items() if count > 1}

    rng = np.random.default_rng(seed)
    splits = {"train": ([], []), "validation": ([], []), "test": ([], [])}
    counts = {}
    for label, (language, names) in enumerate(surnames.items()):
        names = [name for name in names if name not in ambiguous]
        # The list is sorted, so the permutation alone decides the split.
        order = rng.permutation(len(names))
        names = [names[i] for i in order]
        if max_per_language is not None:
            names = names[:max_per_language]
        counts[language] = len(names)
        n_val = round(fractions[1] * len(names))
        n_test = round(fractions[2] * len(names))
        n_train = len(names) - n_val - n_test
        parts = {
            "train": names[:n_train],
            "validation": names[n_train : n_train + n_val],
            "test": names[n_train + n_val :],
        }
        for split, part in parts.items():
            splits[split][0].extend(part)
            splits[split][1].extend([label] * len(part))

    train = Split(tuple(splits["train"][0]), tuple(splits["train"][1]))
    return NamesData(
        languages=tuple(surnames),
        train=train,
        validation=Split(*map(tuple, splits["validation"])),
        test=Split(*map(tuple, splits["test"])),
        vocabulary=tuple(build_vocabulary(train.names)),
        num_ambiguous=len(ambiguous),
        counts=counts,
    )


def build_vocabulary(names: Sequence[str]) -> list[str]:
    """The sorted distinct characters (Unicode code points) of ``names``.

    Character ``vocabulary[i]`` gets id ``i + 2``: id 0 is padding, id 1 is
    out-of-vocabulary.

    Args:
        names: the training names.

    Example:

    >>> build_vocabulary(["Aalto", "Abe"])
    ['A', 'a', 'b', 'e', 'l', 'o', 't']
    """
    if isinstance(names, str):
        raise TypeError(
            f"`names` must be a list of strings, not one string. Received: names={names!r}"
        )
    return sorted({char for name in names for char in name})


def _check_max_length(max_length) -> int:
    return _checks.check_positive_int(max_length, "max_length")


def encode(
    names: Sequence[str],
    vocabulary: Sequence[str],
    max_length: int = DEFAULT_MAX_LENGTH,
) -> list[list[int]]:
    """Character ids of each name, truncated to ``max_length`` (not padded).

    :func:`rnn_zoo.export.export_classifier` does the same in the TensorFlow
    graph; the two must agree (tested).

    Args:
        names: surnames.
        vocabulary: from :func:`build_vocabulary`.
        max_length: keep at most the first ``max_length`` characters.

    Example:

    >>> encode(["Abe", "Ax"], ["A", "a", "b", "e"])  # "x" is out of vocabulary
    [[2, 4, 5], [2, 1]]
    """
    if isinstance(names, str):
        raise TypeError(
            f"`names` must be a list of strings, not one string. Received: names={names!r}"
        )
    max_length = _check_max_length(max_length)
    ids = {char: i + FIRST_CHAR_ID for i, char in enumerate(vocabulary)}
    return [[ids.get(char, OOV_ID) for char in name[:max_length]] for name in names]


def _to_dense(ids, label):
    import tensorflow as tf

    return tf.convert_to_tensor(ids), label


def make_dataset(
    split: Split,
    vocabulary: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int = DEFAULT_MAX_LENGTH,
    shuffle: bool = True,
    seed: int | None = None,
    fixed_length: bool = False,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``(ids, labels)`` batches.

    ``ids`` is int32 ``(batch, steps)`` padded with 0 on the right, where
    ``steps`` is the first of :data:`BUCKET_LENGTHS` (or ``max_length``)
    that holds the batch's longest name: names of similar length are
    batched together, so that a batch runs little padding (8.3 steps on
    average for the surnames, against 17 when each batch of 64 is padded
    to its longest name) and there are only a few shapes to compile.
    ``labels`` is int32 ``(batch,)``. With ``shuffle`` the order changes
    every epoch, the same way on every run for a given ``seed``.

    Args:
        split: a :class:`Split` of :class:`NamesData`.
        vocabulary: ``NamesData.vocabulary``.
        batch_size: names per batch (the last batch may be smaller).
        max_length: longer names are truncated to their first characters.
        shuffle: shuffle the whole split each epoch (training).
        seed: the shuffle seed.
        fixed_length: no buckets: pad every batch to the longest name of the
            whole split, so that every batch has one shape and a compiled
            training step compiles once (a short run, such as a recipe's
            ``--smoke``, otherwise spends most of its time compiling).
        drop_remainder: drop each length bucket's last, smaller batch
            (training: a shuffled split would otherwise end each bucket with
            a batch of a new size, so a new shape to compile, every epoch;
            which names are dropped changes from epoch to epoch). Ignored
            with ``fixed_length``.

    Example:

    >>> data = load_names(seed=0, max_per_language=20)
    >>> ds = make_dataset(data.test, data.vocabulary, batch_size=4, shuffle=False)
    >>> [t.shape.as_list() for t in ds.element_spec]
    [[None, None], [None]]
    """
    import tensorflow as tf

    if not isinstance(split, Split):
        raise TypeError(f"`split` must be a names Split. Received: split={split!r}")
    _checks.check_positive_int(batch_size, "batch_size")
    if len(split) == 0:
        raise ValueError("`split` is empty: there are no names to batch.")
    encoded = encode(split.names, vocabulary, max_length)
    lengths = [len(ids) for ids in encoded]
    flat = np.fromiter((i for ids in encoded for i in ids), dtype=np.int32)
    ids = tf.RaggedTensor.from_row_lengths(flat, np.asarray(lengths, np.int64))
    labels = np.asarray(split.labels, np.int32)
    # Slicing a ragged tensor gives one variable-length vector per name, typed
    # as a rank-0-ragged tensor that padded_batch refuses; make it a plain one.
    dataset = tf.data.Dataset.from_tensor_slices((ids, labels)).map(_to_dense)
    if shuffle:
        dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    dataset = _batching.batch_by_length(
        dataset,
        length=lambda ids, label: tf.shape(ids)[0],
        lengths=lengths,
        batch_size=batch_size,
        bucket_lengths=BUCKET_LENGTHS,
        max_length=max(lengths),
        padded_shapes=lambda steps: ([steps], []),
        padding_values=(np.int32(PAD_ID), np.int32(0)),
        fixed_length=max(lengths) if fixed_length else None,
        drop_remainder=drop_remainder,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


"""
## The generator's view

A generator writes a name one character at a time after its language
(:func:`rnn_zoo.build_generator` with ``num_conditions``). Its tokens are
:data:`GENERATOR_TOKENS` (0 padding, 1 start, 2 end, 3 a character outside
the vocabulary), then the vocabulary: ``tokens[i]`` is the token of id ``i``.
"""

GENERATOR_TOKENS = ("<pad>", "<s>", "</s>", "<unk>")
GENERATOR_START_ID, GENERATOR_END_ID, GENERATOR_UNKNOWN_ID = 1, 2, 3
GENERATOR_FIRST_CHAR_ID = len(GENERATOR_TOKENS)


def encode_for_generator(
    names: Sequence[str], tokens: Sequence[str]
) -> list[list[int]]:
    """Character ids of each name for a generator (no start or end id; not padded).

    Args:
        names: surnames.
        tokens: :data:`GENERATOR_TOKENS` followed by the vocabulary.

    Example:

    >>> encode_for_generator(["Aba"], ["<pad>", "<s>", "</s>", "<unk>", "A", "a"])
    [[4, 3, 5]]
    """
    if isinstance(names, str):
        raise TypeError(
            f"`names` must be a list of strings, not one string. Received: names={names!r}"
        )
    ids = {t: i for i, t in enumerate(tokens) if i >= GENERATOR_FIRST_CHAR_ID}
    return [[ids.get(char, GENERATOR_UNKNOWN_ID) for char in name] for name in names]


def decode_generated(rows, tokens: Sequence[str]) -> list[str]:
    """Names from generated id rows: the characters before each row's end id.

    Args:
        rows: int array ``(batch, steps)`` (:func:`rnn_zoo.generate`'s
            output), or lists of ids.
        tokens: :data:`GENERATOR_TOKENS` followed by the vocabulary.

    Example:

    >>> decode_generated([[4, 5, 2, 0]], ["<pad>", "<s>", "</s>", "<unk>", "A", "a"])
    ['Aa']
    """
    names = []
    for row in rows:
        row = np.asarray(row).tolist()
        if GENERATOR_END_ID in row:
            row = row[: row.index(GENERATOR_END_ID)]
        names.append("".join(tokens[i] for i in row if i >= GENERATOR_FIRST_CHAR_ID))
    return names


def make_generator_dataset(
    split: Split,
    tokens: Sequence[str],
    *,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int | None = None,
    fixed_length: bool = False,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of teacher-forcing batches for a conditioned generator.

    Each name becomes ``({"token_ids": [start] + characters, "condition":
    its language id}, characters + [end])``; names are kept whole and padded
    with 0 to the longest in the batch.

    Args:
        split: a :class:`Split` of :class:`NamesData`.
        tokens: :data:`GENERATOR_TOKENS` followed by ``NamesData.vocabulary``.
        batch_size: names per batch.
        shuffle: reshuffle the split every epoch (training).
        seed: the shuffle seed.
        fixed_length: pad every batch to the longest name of the whole
            split instead of the batch's, so that every batch has one shape
            and a compiled training step compiles once (a short run, such as
            a recipe's ``--smoke``, otherwise spends most of its time
            compiling one step per batch length).

    Example:

    >>> data = load_names(seed=0, max_per_language=20)
    >>> tokens = list(GENERATOR_TOKENS) + list(data.vocabulary)
    >>> inputs, targets = next(iter(make_generator_dataset(data.test, tokens, batch_size=4)))
    >>> sorted(inputs), targets.shape[0]
    (['condition', 'token_ids'], 4)
    """
    import tensorflow as tf

    if not isinstance(split, Split):
        raise TypeError(f"`split` must be a names Split. Received: split={split!r}")
    _checks.check_positive_int(batch_size, "batch_size")
    rows = encode_for_generator(split.names, tokens)
    flat = np.fromiter((i for row in rows for i in row), dtype=np.int32)
    chars = tf.RaggedTensor.from_row_lengths(
        flat, np.asarray([len(r) for r in rows], np.int64)
    )
    labels = np.asarray(split.labels, np.int32)

    def teacher_forcing(chars, label):
        chars = tf.convert_to_tensor(chars)
        inputs = {
            "token_ids": tf.concat([[GENERATOR_START_ID], chars], 0),
            "condition": label,
        }
        return inputs, tf.concat([chars, [GENERATOR_END_ID]], 0)

    dataset = tf.data.Dataset.from_tensor_slices((chars, labels))
    if shuffle:
        dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    # The start id before the characters, the end id after them.
    steps = 1 + max(len(r) for r in rows) if fixed_length else None
    dataset = dataset.map(teacher_forcing).padded_batch(
        batch_size,
        padded_shapes=({"token_ids": [steps], "condition": []}, [steps]),
        padding_values=(
            {"token_ids": np.int32(PAD_ID), "condition": np.int32(0)},
            np.int32(PAD_ID),
        ),
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
