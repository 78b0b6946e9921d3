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
  characters, 69% at 128). Two classic baselines run on the same examples:
  :func:`rule_truecase` (capitalise the first letter after a sentence end,
  and the word "I") and :class:`UnigramTruecaser` (each word's most frequent
  casing in the training chapters).
- **Character language model** (for :func:`rnn_zoo.build_generator`): the
  split's text cut into contiguous chunks of ``seq_length`` characters; the
  inputs are the start id followed by the chunk's first ``seq_length - 1``
  characters, the targets the chunk itself (:func:`lm_arrays`). Every
  character of the split is a target exactly once, so the mean cross-entropy
  over the targets divided by ln 2 is the split's bits per character. The
  baselines are character n-gram models with interpolated Witten-Bell
  smoothing (:class:`NGramModel`) fitted on the training chapters: order 1
  (a smoothed unigram) and the order that does best on the validation
  chapters (6).

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

import collections
import dataclasses
import gzip
import importlib.resources
import math
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
# A word for the unigram truecaser: letters, with inner apostrophes (don't).
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


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
        paragraphs = tuple(
            " ".join(block.split())
            for block in re.split(r"\n[ \t]*\n", body)
            if block.strip()
        )
        chapters.append(Chapter(int(number), paragraphs))
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


def _check_text(text, name: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"`{name}` must be a string. Received: {name}={text!r}")
    return text


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
    return sorted(set(_check_text(text)))


def _check_vocabulary(vocabulary) -> tuple[str, ...]:
    if isinstance(vocabulary, str) or not isinstance(vocabulary, Sequence):
        raise TypeError(
            "`vocabulary` must be a list of characters. "
            f"Received: vocabulary={vocabulary!r}"
        )
    if not vocabulary or not all(
        isinstance(c, str) and len(c) == 1 for c in vocabulary
    ):
        raise ValueError(
            "`vocabulary` must be a non-empty list of single characters. "
            f"Received: vocabulary={list(vocabulary)[:10]!r}"
        )
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError("`vocabulary` must not repeat characters.")
    return tuple(vocabulary)


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
    _check_text(text)
    ids = {
        char: i + FIRST_CHAR_ID for i, char in enumerate(_check_vocabulary(vocabulary))
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
    vocabulary = _check_vocabulary(vocabulary)
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
    _check_text(text)
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
    _check_text(text)
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
    _check_text(text)
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
    _check_text(text)
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
    vocabulary = _check_vocabulary(vocabulary)
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


def rule_truecase(text: str) -> np.ndarray:
    """Baseline tags: capitalise the first letter after a sentence end, and "I".

    A sentence starts at the beginning of ``text`` and after ``.``, ``!`` or
    ``?`` (any quotes or brackets in between are skipped); the word ``i``
    (also in ``i'm``, ``i'll``) is capitalised.

    Args:
        text: lower-cased text.

    Returns:
        int32 tags ``(len(text),)``.

    Example:

    >>> recase("he left. i stayed!", rule_truecase("he left. i stayed!"))
    'He left. I stayed!'
    """
    _check_text(text)
    tags = np.full(len(text), TAG_LOWER, np.int32)
    sentence_start = True
    for i, c in enumerate(text):
        if c.isalpha():
            alone = (i == 0 or not text[i - 1].isalpha()) and (
                i + 1 == len(text) or not text[i + 1].isalpha()
            )
            if sentence_start or (c == "i" and alone):
                tags[i] = TAG_UPPER
            sentence_start = False
        elif c in ".!?":
            sentence_start = True
    return tags


class UnigramTruecaser:
    """Baseline: each word takes its most frequent casing in the training text.

    Words are runs of letters (with inner apostrophes); for each lower-cased
    word the most frequent original spelling is kept (ties: the first seen).
    Unseen words and everything outside words stay lower case.

    Args:
        texts: cased training texts.

    Example:

    >>> truecaser = UnigramTruecaser(["Mr. Darcy saw Darcy.", "the Darcy"])
    >>> recase("darcy and the mr.", truecaser.tags("darcy and the mr."))
    'Darcy and the Mr.'
    """

    def __init__(self, texts: Iterable[str]):
        if isinstance(texts, str):
            raise TypeError("`texts` must be a list of strings, not one string.")
        counts: dict[str, collections.Counter] = collections.defaultdict(
            collections.Counter
        )
        for text in texts:
            for match in _WORD.finditer(_check_text(text, "texts[i]")):
                word = match.group()
                counts[lowercase(word)][word] += 1
        self.casing = {
            lower: forms.most_common(1)[0][0] for lower, forms in counts.items()
        }

    def tags(self, text: str) -> np.ndarray:
        """int32 tags ``(len(text),)`` for lower-cased ``text``."""
        tags = np.full(len(_check_text(text)), TAG_LOWER, np.int32)
        for match in _WORD.finditer(text):
            form = self.casing.get(match.group())
            if form is not None and len(form) == len(match.group()):
                tags[match.start() : match.end()] = truecase_tags(form)
        return tags


def casing_metrics(true_tags: Iterable, predicted_tags: Iterable) -> dict[str, float]:
    """Per-character accuracy and the precision, recall and F1 of the upper-case tag.

    Padding (tag 0 in ``true_tags``) is skipped.

    Args:
        true_tags: one tag array per example.
        predicted_tags: the predicted tags, same shapes.

    Returns:
        ``{"accuracy", "upper_precision", "upper_recall", "upper_f1",
        "characters"}``.

    Example:

    >>> casing_metrics([[2, 1, 1, 0]], [[2, 2, 1, 1]])["upper_precision"]
    0.5
    """
    true = np.concatenate([np.asarray(t).ravel() for t in true_tags])
    predicted = np.concatenate([np.asarray(p).ravel() for p in predicted_tags])
    if true.shape != predicted.shape:
        raise ValueError(
            "`predicted_tags` must have one tag per tag of `true_tags`. Received: "
            f"{predicted.shape[0]} predicted, {true.shape[0]} true"
        )
    keep = true != TAG_PAD
    true, predicted = true[keep], predicted[keep]
    hits = int(np.sum((predicted == TAG_UPPER) & (true == TAG_UPPER)))
    precision = hits / max(int(np.sum(predicted == TAG_UPPER)), 1)
    recall = hits / max(int(np.sum(true == TAG_UPPER)), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": float(np.mean(true == predicted)) if true.size else 0.0,
        "upper_precision": float(precision),
        "upper_recall": float(recall),
        "upper_f1": float(f1),
        "characters": int(true.size),
    }


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


def bits_per_character(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy in bits over the non-padding targets.

    Args:
        logits: ``(..., vocab_size)`` unnormalised scores.
        targets: ``(...)`` int ids; 0 is padding and is skipped.

    Returns:
        Bits per character.

    Example:

    >>> bits_per_character(np.zeros((1, 2, 4)), np.array([[3, 0]]))  # uniform over 4
    2.0
    """
    logits = np.asarray(logits, np.float64)
    targets = np.asarray(targets)
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            "`logits` must be `targets.shape` + (vocab_size,). Received: "
            f"logits.shape={logits.shape}, targets.shape={targets.shape}"
        )
    keep = targets != PAD_ID
    logits, targets = logits[keep], targets[keep]
    top = logits.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(logits - top).sum(axis=-1)) + top[:, 0]
    nll = log_norm - logits[np.arange(len(targets)), targets]
    return float(nll.mean() / math.log(2))


class NGramModel:
    """Baseline: an interpolated character n-gram model (Witten-Bell smoothing).

    ``P(c | h) = (count(h c) + T(h) P(c | h')) / (count(h) + T(h))``, where
    ``h'`` drops the oldest character of the history ``h``, ``T(h)`` is the
    number of distinct characters seen after ``h``, and the recursion ends in
    the uniform distribution over the vocabulary plus the unknown character.
    A history never seen falls through to the shorter one. Characters outside
    the vocabulary count as the one unknown character.

    On *Pride and Prejudice* (chapters 1-49 fitted, 50-55 scored) order 6 is
    best: 1.79 bits per character, against 4.40 for the unigram (order 1) and
    1.84 for order 7, which has too many unseen histories.

    Args:
        text: the training text.
        vocabulary: ``AustenData.vocabulary``.
        max_order: the longest n-gram counted (1 = unigram); any order up to
            it can then be scored.

    Example:

    >>> model = NGramModel("abababab", ["a", "b"], max_order=2)
    >>> model.bits_per_character("abab", order=2) < model.bits_per_character("abab", order=1)
    True
    """

    def __init__(self, text: str, vocabulary: Sequence[str], max_order: int = 6):
        self.max_order = _checks.check_positive_int(max_order, "max_order")
        self.vocabulary = _check_vocabulary(vocabulary)
        text = self._known(text)
        # Flat tables (one string key per n-gram) take a fraction of the
        # memory of a Counter per history: ~0.2 GB for order 6 on the book.
        self.ngrams: list[collections.Counter] = []
        self.totals: list[collections.Counter] = []  # history -> count(h .)
        self.types: list[collections.Counter] = []  # history -> T(h)
        for k in range(self.max_order):
            ngrams = collections.Counter(
                text[i - k : i + 1] for i in range(k, len(text))
            )
            totals: collections.Counter = collections.Counter()
            types: collections.Counter = collections.Counter()
            for gram, count in ngrams.items():
                totals[gram[:-1]] += count
                types[gram[:-1]] += 1
            self.ngrams.append(ngrams)
            self.totals.append(totals)
            self.types.append(types)

    def _known(self, text: str) -> str:
        known = set(self.vocabulary)
        # U+FFFD stands for every unknown character.
        return "".join(c if c in known else "\ufffd" for c in _check_text(text))

    def _probability(self, history: str, char: str) -> float:
        p = 1.0 / (len(self.vocabulary) + 1)
        for k in range(len(history) + 1):
            h = history[len(history) - k :]
            total = self.totals[k].get(h)
            if total is None:
                # Every longer history ends with this one: unseen too.
                break
            types = self.types[k][h]
            p = (self.ngrams[k].get(h + char, 0) + types * p) / (total + types)
        return p

    def bits_per_character(self, text: str, order: int | None = None) -> float:
        """Mean ``-log2 P`` of each character of ``text`` given the ones before it.

        Args:
            text: the evaluation text.
            order: the n-gram order to use, at most ``max_order`` (default).

        Returns:
            Bits per character.
        """
        if order is None:
            order = self.max_order
        order = _checks.check_positive_int(order, "order")
        if order > self.max_order:
            raise ValueError(
                f"`order` must be at most max_order={self.max_order}. "
                f"Received: order={order}"
            )
        text = self._known(text)
        if not text:
            raise ValueError("`text` is empty: there is nothing to score.")
        total = 0.0
        for i in range(len(text)):
            history = text[max(0, i - order + 1) : i]
            total -= math.log2(self._probability(history, text[i]))
        return total / len(text)
