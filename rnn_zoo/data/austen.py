"""Jane Austen's *Pride and Prejudice* as character-level tasks: truecasing and a language model.

The text ships inside rnn_zoo (``rnn_zoo/data/texts/pride_and_prejudice.txt.gz``,
685 kB of ASCII once unpacked, 249 kB packed): the Project Gutenberg text as the
``janeaustenr`` R package (MIT) packages it; the novel itself is in the public
domain. ``scripts/extract_austen.py`` made the file once from the Debian
package ``r-cran-janeaustenr``; nothing here needs that package.

Preparation (:func:`load_chapters`): the title lines before "Chapter 1" are
dropped; the text is cut at its 61 ``Chapter N`` headings (the headings
themselves are dropped); inside a chapter the Gutenberg line wrapping is
undone, so each paragraph is one line, and paragraphs are joined with
``"\\n"``. Nothing else changes: quotes, ``_italics_`` underscores and the
``* * * * *`` letter separators stay as they are.

The split is chronological, by chapter, with no overlap: by default chapters
1-49 train (536,051 characters), 50-55 validate (77,999) and 56-61 test
(67,553). The character vocabulary comes from the training chapters only
(the validation and test chapters hold no character that training lacks).
Token ids, for both tasks:

====== =====================================================
id     meaning
====== =====================================================
0      padding (masked by the models)
1      unknown: a character not in the vocabulary
2      start: fed before the first character (language model)
3      end (reserved; the continuous text never ends a sequence)
4...   ``vocabulary[i]`` has id ``i + 4``
====== =====================================================

Two views of the same split:

- **Truecasing** (many-to-many aligned, for :func:`rnn_zoo.build_tagger`):
  the input is the lower-cased text as character ids, the target one tag per
  character: 0 padding, 1 lower case or uncased (:data:`TAG_LOWER`), 2 the
  original character is upper case (:data:`TAG_UPPER`). The labels come from
  the original text, so they are exact; :func:`recase` puts the casing back.
  An example (:func:`truecase_examples`) is a run of whole sentences of one
  paragraph, at most ``max_length`` characters, so that an example holds
  sentence boundaries inside it, as text sent to a truecaser does; a
  sentence longer than ``max_length`` is cut at a space. Most examples start
  where a sentence starts (90% of the training examples at the default 256
  characters, 69% at 128). The baselines (:func:`rnn_zoo.baselines.rule_truecase`,
  :class:`rnn_zoo.baselines.UnigramTruecaser`) and the metric
  (:func:`rnn_zoo.metrics.casing_metrics`) live outside this module.
- **Character language model** (for :func:`rnn_zoo.build_generator`): the
  split's text cut into contiguous chunks of ``seq_length`` characters; the
  inputs are the start id followed by the chunk's first ``seq_length - 1``
  characters, the targets the chunk itself (:func:`lm_arrays`). Every
  character of the split is a target exactly once, so the mean cross-entropy
  over the targets divided by ln 2 is the split's bits per character
  (:func:`rnn_zoo.metrics.bits_per_character`); the baseline is
  :class:`rnn_zoo.baselines.NGramModel`.

Example:

>>> data = load_austen()
>>> data.chapters["test"]
(56, 57, 58, 59, 60, 61)
>>> data.train[:48]
'It is a truth universally acknowledged, that a s'
>>> encode("It", data.vocabulary).tolist()  # 4 + the character's vocabulary index
[31, 67]
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib.resources
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from rnn_zoo import _checks

if TYPE_CHECKING:
    import tensorflow as tf

# The embedded text, under the rnn_zoo.data package.
TEXT_FILE = "texts/pride_and_prejudice.txt.gz"
NUM_CHAPTERS = 61

PAD_ID = 0
UNK_ID = 1
START_ID = 2
END_ID = 3
# Ids 0-3 are reserved, so vocabulary[0] has id 4.
FIRST_CHAR_ID = 4

# Truecasing tags; 0 is padding (Keras's masked loss skips it).
TAG_PAD = 0
TAG_LOWER = 1
TAG_UPPER = 2
NUM_TAGS = 3

DEFAULT_VALIDATION_CHAPTERS = 6
DEFAULT_TEST_CHAPTERS = 6
DEFAULT_EXAMPLE_LENGTH = 256
DEFAULT_SEQ_LENGTH = 100

_CHAPTER_HEADING = re.compile(r"^Chapter (\d+)$", re.MULTILINE)
# A sentence ends at . ! or ?, then any closing quotes, italics underscores or
# brackets, then white space.
_SENTENCE_END = re.compile(r"[.!?][\"'_)]*\s+")


def read_text() -> str:
    """The embedded text as it was extracted: Gutenberg's lines joined with ``"\\n"``.

    Returns:
        The whole book (684,767 characters), title lines included.

    Example:

    >>> read_text().splitlines()[0]
    'PRIDE AND PREJUDICE'
    """
    resource = importlib.resources.files("rnn_zoo.data").joinpath(TEXT_FILE)
    with resource.open("rb") as raw, gzip.GzipFile(fileobj=raw) as f:
        return f.read().decode("utf-8")


@dataclasses.dataclass(frozen=True)
class Chapter:
    """One chapter: its number and its paragraphs, each unwrapped to one line."""

    number: int
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        """The paragraphs joined with ``"\\n"``."""
        return "\n".join(self.paragraphs)


def unwrap_paragraphs(text: str) -> tuple[str, ...]:
    """Undoes Gutenberg's line wrapping: blocks between blank lines -> one line each.

    Args:
        text: wrapped lines joined with ``"\\n"``.

    Returns:
        The paragraphs, each with its runs of white space collapsed to one space.

    Example:

    >>> unwrap_paragraphs("It is a truth\\nuniversally acknowledged.\\n\\n  \\nYes.")
    ('It is a truth universally acknowledged.', 'Yes.')
    """
    return tuple(
        " ".join(block.split())
        for block in re.split(r"\n[ \t]*\n", _checks.check_text(text))
        if block.strip()
    )


def load_chapters() -> list[Chapter]:
    """The book's 61 chapters, in order, with the line wrapping undone.

    Returns:
        A list of :class:`Chapter`, numbers 1 to 61.

    Raises:
        RuntimeError: the embedded text does not have the expected chapters
            (a damaged package).

    Example:

    >>> chapters = load_chapters()
    >>> chapters[0].paragraphs[0][:33]
    'It is a truth universally acknowl'
    """
    parts = _CHAPTER_HEADING.split(read_text())
    chapters = []
    # parts = [title lines, "1", body 1, "2", body 2, ...]
    for number, body in zip(parts[1::2], parts[2::2]):
        chapters.append(Chapter(int(number), unwrap_paragraphs(body)))
    if [c.number for c in chapters] != list(range(1, NUM_CHAPTERS + 1)):
        raise RuntimeError(
            f"{TEXT_FILE} should hold chapters 1 to {NUM_CHAPTERS}; found "
            f"{[c.number for c in chapters]}. Reinstall rnn_zoo."
        )
    return chapters


@dataclasses.dataclass(frozen=True)
class AustenData:
    """The chronological chapter split of *Pride and Prejudice*.

    Attributes:
        train, validation, test: each split's text: its chapters'
            paragraphs joined with ``"\\n"``.
        chapters: ``{"train": chapter numbers, "validation": ..., "test": ...}``.
        vocabulary: the training text's characters, sorted; ``vocabulary[i]``
            has id ``i + 4`` (the language model's input and output).
        lower_vocabulary: the same for the lower-cased training text (the
            truecaser's input).
    """

    train: str
    validation: str
    test: str
    chapters: dict[str, tuple[int, ...]]
    vocabulary: tuple[str, ...]
    lower_vocabulary: tuple[str, ...]

    @property
    def vocab_size(self) -> int:
        """Embedding rows (and output logits) for the cased vocabulary, reserved ids included."""
        return len(self.vocabulary) + FIRST_CHAR_ID

    @property
    def lower_vocab_size(self) -> int:
        """Embedding rows for the lower-cased vocabulary, reserved ids included."""
        return len(self.lower_vocabulary) + FIRST_CHAR_ID


def _check_count(value, name: str, low: int) -> int:
    value = _checks.check_positive_int(value, name)
    if value < low:
        raise ValueError(f"`{name}` must be at least {low}. Received: {name}={value}")
    return value


def _truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    # Cut at a paragraph end when one is in reach, so no paragraph is split.
    cut = text.rfind("\n", 0, max_chars + 1)
    return text[: cut if cut > 0 else max_chars]


def load_austen(
    *,
    validation_chapters: int = DEFAULT_VALIDATION_CHAPTERS,
    test_chapters: int = DEFAULT_TEST_CHAPTERS,
    max_chars: int | None = None,
) -> AustenData:
    """Splits the book by chapter: train first, then validation, then test.

    Args:
        validation_chapters: how many chapters before the test chapters
            validate.
        test_chapters: how many of the last chapters test.
        max_chars: keep only about the first ``max_chars`` characters of each
            split (cut at a paragraph end; for smoke runs); ``None`` keeps all.
            The vocabulary comes from the kept training text.

    Returns:
        An :class:`AustenData`.

    Example:

    >>> data = load_austen(validation_chapters=5, test_chapters=10)
    >>> data.chapters["validation"], len(data.chapters["train"])
    ((47, 48, 49, 50, 51), 46)
    """
    validation_chapters = _check_count(validation_chapters, "validation_chapters", 1)
    test_chapters = _check_count(test_chapters, "test_chapters", 1)
    if validation_chapters + test_chapters > NUM_CHAPTERS - 1:
        raise ValueError(
            "`validation_chapters` + `test_chapters` must leave at least one of the "
            f"{NUM_CHAPTERS} chapters to train on. Received: validation_chapters="
            f"{validation_chapters}, test_chapters={test_chapters}"
        )
    if max_chars is not None:
        max_chars = _check_count(max_chars, "max_chars", 1000)
    chapters = load_chapters()
    n_train = NUM_CHAPTERS - validation_chapters - test_chapters
    groups = {
        "train": chapters[:n_train],
        "validation": chapters[n_train : n_train + validation_chapters],
        "test": chapters[n_train + validation_chapters :],
    }
    texts = {name: "\n".join(c.text for c in group) for name, group in groups.items()}
    if max_chars is not None:
        texts = {name: _truncate(text, max_chars) for name, text in texts.items()}
    return AustenData(
        **texts,
        chapters={
            name: tuple(c.number for c in group) for name, group in groups.items()
        },
        vocabulary=tuple(build_vocabulary(texts["train"])),
        lower_vocabulary=tuple(build_vocabulary(lowercase(texts["train"]))),
    )


def build_vocabulary(text: str) -> list[str]:
    """The sorted distinct characters of ``text``; ``vocabulary[i]`` gets id ``i + 4``.

    Args:
        text: the training text.

    Returns:
        A list of single characters.

    Example:

    >>> build_vocabulary("Mr. Bennet")
    [' ', '.', 'B', 'M', 'e', 'n', 'r', 't']
    """
    return sorted(set(_checks.check_text(text)))


def encode(text: str, vocabulary: Sequence[str]) -> np.ndarray:
    """Characters -> ids (unknown characters -> 1).

    Args:
        text: the text.
        vocabulary: from :func:`build_vocabulary`.

    Returns:
        int32 array ``(len(text),)``.

    Example:

    >>> encode("ab?", ["a", "b"]).tolist()
    [4, 5, 1]
    """
    _checks.check_text(text)
    ids = {
        char: i + FIRST_CHAR_ID
        for i, char in enumerate(_checks.check_characters(vocabulary))
    }
    return np.fromiter((ids.get(c, UNK_ID) for c in text), np.int32, count=len(text))


def decode(ids: Iterable[int], vocabulary: Sequence[str]) -> str:
    """Ids -> text: stops at the end id, skips padding and start, unknown -> U+FFFD.

    Args:
        ids: token ids.
        vocabulary: from :func:`build_vocabulary`.

    Returns:
        The text.

    Example:

    >>> decode([2, 4, 1, 5, 3, 4], ["a", "b"])
    'a\\ufffdb'
    """
    vocabulary = _checks.check_characters(vocabulary)
    chars = []
    for i in ids:
        i = int(i)
        if i == END_ID:
            break
        if i == UNK_ID:
            chars.append("\ufffd")
        elif i >= FIRST_CHAR_ID:
            chars.append(vocabulary[i - FIRST_CHAR_ID])
    return "".join(chars)


"""
## Truecasing
"""


def lowercase(text: str) -> str:
    """Lower-cases ``text`` character by character, keeping its length.

    A character whose lower case is longer than one character (``"İ"``) is
    kept as it is, so that tags stay aligned with characters.

    Example:

    >>> lowercase("Mr. DARCY")
    'mr. darcy'
    """
    _checks.check_text(text)
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def truecase_tags(text: str) -> np.ndarray:
    """One tag per character of the original text: 2 upper case, 1 anything else.

    Args:
        text: cased text.

    Returns:
        int32 array ``(len(text),)`` of :data:`TAG_LOWER` / :data:`TAG_UPPER`.

    Example:

    >>> truecase_tags("I saw Mr. B").tolist()
    [2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 2]
    """
    _checks.check_text(text)
    return np.fromiter(
        (TAG_UPPER if c.isupper() else TAG_LOWER for c in text),
        np.int32,
        count=len(text),
    )


def recase(text: str, tags: Sequence[int]) -> str:
    """Upper-cases the characters of ``text`` tagged 2; the inverse of the labelling.

    Args:
        text: usually lower-cased text.
        tags: one tag per character (2 = upper case).

    Returns:
        The recased text, as long as ``text``.

    Example:

    >>> recase("i saw mr. b", truecase_tags("I saw Mr. B"))
    'I saw Mr. B'
    """
    _checks.check_text(text)
    tags = list(tags)
    if len(tags) != len(text):
        raise ValueError(
            f"`tags` must have one tag per character of `text` ({len(text)}). "
            f"Received: {len(tags)} tags"
        )
    return "".join(
        c.upper() if t == TAG_UPPER and len(c.upper()) == 1 else c
        for c, t in zip(text, tags)
    )


def _sentences(paragraph: str) -> list[str]:
    """Cuts a paragraph after each sentence end, keeping every character."""
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(paragraph):
        pieces.append(paragraph[start : match.end()])
        start = match.end()
    if start < len(paragraph):
        pieces.append(paragraph[start:])
    return pieces


def _cut_long(sentence: str, max_length: int) -> list[str]:
    pieces = []
    while len(sentence) > max_length:
        cut = sentence.rfind(" ", 1, max_length)
        cut = cut + 1 if cut > 0 else max_length
        pieces.append(sentence[:cut])
        sentence = sentence[cut:]
    return pieces + [sentence] if sentence else pieces


def truecase_examples(text: str, max_length: int = DEFAULT_EXAMPLE_LENGTH) -> list[str]:
    """Cuts a split's text into truecasing examples: runs of whole sentences.

    Sentences of one paragraph are packed greedily while the example stays
    within ``max_length`` characters; a longer sentence is cut at its last
    space before the limit. Examples are substrings of ``text`` with the
    white space between them dropped.

    Args:
        text: a split's text (paragraphs separated by ``"\\n"``).
        max_length: most characters per example.

    Returns:
        The examples, in text order.

    Example:

    >>> truecase_examples("Yes. No. Maybe so.\\nHe left.", max_length=9)
    ['Yes. No.', 'Maybe so.', 'He left.']
    """
    _checks.check_text(text)
    max_length = _checks.check_positive_int(max_length, "max_length")
    examples = []
    for paragraph in text.split("\n"):
        current = ""
        for sentence in _sentences(paragraph):
            for piece in _cut_long(sentence, max_length):
                if current and len(current) + len(piece.rstrip()) > max_length:
                    examples.append(current.rstrip())
                    current = ""
                current += piece
        if current.strip():
            examples.append(current.rstrip())
    return [e for e in examples if e]


def truecase_arrays(examples: Sequence[str], vocabulary: Sequence[str]):
    """Each example as (lower-cased character ids, tags).

    Args:
        examples: cased examples (:func:`truecase_examples`).
        vocabulary: the lower-cased vocabulary (``AustenData.lower_vocabulary``).

    Returns:
        Two lists of int32 arrays, ids and tags, one pair per example.

    Example:

    >>> ids, tags = truecase_arrays(["Hi"], ["h", "i"])
    >>> ids[0].tolist(), tags[0].tolist()
    ([4, 5], [2, 1])
    """
    if isinstance(examples, str):
        raise TypeError("`examples` must be a list of strings, not one string.")
    vocabulary = _checks.check_characters(vocabulary)
    ids = [encode(lowercase(e), vocabulary) for e in examples]
    tags = [truecase_tags(e) for e in examples]
    return ids, tags


def _to_dense(ids, tags):
    import tensorflow as tf

    return tf.convert_to_tensor(ids), tf.convert_to_tensor(tags)


def make_truecase_dataset(
    examples: Sequence[str],
    vocabulary: Sequence[str],
    *,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``(ids, tags)`` batches for :func:`rnn_zoo.build_tagger`.

    Both are int32 ``(batch, longest example in the batch)``, padded with 0.

    Args:
        examples: cased examples (:func:`truecase_examples`).
        vocabulary: ``AustenData.lower_vocabulary``.
        batch_size: examples per batch.
        shuffle: reshuffle the examples every epoch (training).
        seed: the shuffle seed.

    Returns:
        The batched dataset.

    Example:

    >>> ds = make_truecase_dataset(["Hi there.", "Yes."], ["e", "h", "i"], batch_size=2)
    >>> [t.shape.as_list() for t in next(iter(ds))]
    [[2, 9], [2, 9]]
    """
    import tensorflow as tf

    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    ids, tags = truecase_arrays(examples, vocabulary)
    if not ids:
        raise ValueError("`examples` is empty: there is nothing to batch.")
    lengths = np.asarray([len(x) for x in ids], np.int64)
    dataset = tf.data.Dataset.from_tensor_slices(
        (
            tf.RaggedTensor.from_row_lengths(np.concatenate(ids), lengths),
            tf.RaggedTensor.from_row_lengths(np.concatenate(tags), lengths),
        )
    ).map(_to_dense)
    if shuffle:
        dataset = dataset.shuffle(len(ids), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.padded_batch(
        batch_size, padded_shapes=([None], [None]), padding_values=(PAD_ID, TAG_PAD)
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


"""
## Character language model
"""


def lm_arrays(
    text: str, vocabulary: Sequence[str], seq_length: int = DEFAULT_SEQ_LENGTH
) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous chunks of ``text`` as (inputs, targets) for :func:`rnn_zoo.build_generator`.

    Chunk ``k`` is characters ``[k * seq_length, (k + 1) * seq_length)``;
    its targets are those ids, its inputs the start id followed by the first
    ``seq_length - 1`` of them. The last chunk is padded with 0 in both
    arrays: the model masks its loss by the input's padding, so an input
    position whose target is padding must be padding too. Every character
    is a target once.

    Args:
        text: a split's text.
        vocabulary: ``AustenData.vocabulary``.
        seq_length: characters per chunk (>= 2).

    Returns:
        int32 ``inputs`` and ``targets``, both ``(chunks, seq_length)``.

    Example:

    >>> inputs, targets = lm_arrays("abcab", ["a", "b", "c"], seq_length=3)
    >>> inputs.tolist(), targets.tolist()
    ([[2, 4, 5], [2, 4, 0]], [[4, 5, 6], [4, 5, 0]])
    """
    seq_length = _check_count(seq_length, "seq_length", 2)
    ids = encode(text, vocabulary)
    if ids.size == 0:
        raise ValueError("`text` is empty: there is nothing to model.")
    chunks = -(-ids.size // seq_length)
    targets = np.zeros((chunks, seq_length), np.int32)
    targets.flat[: ids.size] = ids
    inputs = np.concatenate(
        [np.full((chunks, 1), START_ID, np.int32), targets[:, :-1]], axis=1
    )
    # The padded tail of the last chunk gets padding as input too.
    inputs[targets == PAD_ID] = PAD_ID
    return inputs, targets


def make_lm_dataset(
    text: str,
    vocabulary: Sequence[str],
    *,
    seq_length: int = DEFAULT_SEQ_LENGTH,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``(inputs, targets)`` batches of :func:`lm_arrays` chunks.

    Args:
        text: a split's text.
        vocabulary: ``AustenData.vocabulary``.
        seq_length: characters per chunk.
        batch_size: chunks per batch.
        shuffle: reshuffle the chunks every epoch (training).
        seed: the shuffle seed.

    Returns:
        The batched dataset; both tensors int32 ``(batch, seq_length)``.

    Example:

    >>> ds = make_lm_dataset("abcab" * 10, ["a", "b", "c"], seq_length=8, batch_size=4)
    >>> [t.shape.as_list() for t in next(iter(ds))]
    [[4, 8], [4, 8]]
    """
    import tensorflow as tf

    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    inputs, targets = lm_arrays(text, vocabulary, seq_length)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if shuffle:
        dataset = dataset.shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
