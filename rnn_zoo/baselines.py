"""Baselines the recipes compare their models against, for reuse on any data.

A recipe fits a baseline on the training split and scores it on the same test
examples as the network, so the network's number has a reference point.

- Character language models: :class:`NGramModel` (interpolated Witten-Bell
  n-grams, scored in bits per character) and :class:`BigramModel` (one add-k
  bigram table per class, scored in perplexity).
- Truecasing: :func:`rule_truecase` (sentence starts and "I") and
  :class:`UnigramTruecaser` (each word's most frequent casing); both return
  the tags of :mod:`rnn_zoo.data.austen`.
- Chinese word segmentation: :class:`MaxMatchSegmenter` (forward maximum
  matching with the training words, the SIGHAN bakeoffs' baseline).
- Chinese named entities: :class:`EntityDictionaryTagger` (the training
  entities matched longest first) and :class:`MostFrequentTagger` (each
  character's most frequent tag).
- Grapheme to phoneme: :func:`letter_baseline` and :func:`baseline_pronounce`
  (each letter says its most frequent phoneme).
- Classification: :func:`majority_class` and :func:`majority_class_accuracy`
  (always answer the most common training class: the floor to beat),
  :func:`nearest_centroid` over :func:`sequence_summary` features,
  :class:`NaiveBayesClassifier` (multinomial naive Bayes over character
  n-grams, for text), and
  :func:`build_keras_classifier` (rnn_zoo's classifier architecture written
  with Keras's own recurrent layers).
- Forecasting: :func:`seasonal_naive` (each step repeats the value one
  season earlier).
"""

from __future__ import annotations

import collections
import math
import re
from collections.abc import Iterable, Sequence

import keras
import numpy as np

from rnn_zoo import _checks
from rnn_zoo.data.austen import TAG_LOWER, TAG_UPPER, lowercase, truecase_tags

# A word for the unigram truecaser: letters, with inner apostrophes (don't).
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


"""
## Character language models
"""


class NGramModel:
    """An interpolated character n-gram model (Witten-Bell smoothing).

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
        vocabulary: the characters of the model's alphabet.
        max_order: the longest n-gram counted (1 = unigram); any order up to
            it can then be scored.

    Example:

    >>> model = NGramModel("abababab", ["a", "b"], max_order=2)
    >>> model.bits_per_character("abab", order=2) < model.bits_per_character("abab", order=1)
    True
    """

    def __init__(self, text: str, vocabulary: Sequence[str], max_order: int = 6):
        self.max_order = _checks.check_positive_int(max_order, "max_order")
        self.vocabulary = _checks.check_characters(vocabulary)
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
        return "".join(c if c in known else "\ufffd" for c in _checks.check_text(text))

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


class BigramModel:
    """Character bigrams per class (e.g. per language) with add-k smoothing.

    ``P(next | previous character, class)``, counted on the training strings
    (a start token is the first "previous", an end token the last "next")
    and add-k smoothed over the training characters, the end token and
    "unknown".

    Args:
        names: the training strings.
        labels: their class ids.
        k: added to every count (``> 0``), so that unseen pairs keep some
            probability.

    Example:

    >>> model = BigramModel(["Aa", "Ab"], [0, 0], k=0.1)
    >>> round(model.perplexity(["Aa"], [0]), 3) > 1
    True
    """

    def __init__(self, names: Sequence[str], labels: Sequence[int], *, k: float):
        if not k > 0:
            raise ValueError(f"`k` must be positive. Received: k={k!r}")
        self.k = float(k)
        # The outcomes: the characters, the end, and any unseen character.
        self.outcomes = sorted({c for name in names for c in name}) + ["</s>", "<unk>"]
        self.known = set(self.outcomes[:-2])
        self.counts: dict = collections.defaultdict(collections.Counter)
        for name, label in zip(names, labels):
            for previous, following in self._pairs(name):
                self.counts[(label, previous)][following] += 1
        self.totals = {key: sum(c.values()) for key, c in self.counts.items()}

    def _pairs(self, name: str):
        chars = [c if c in self.known else "<unk>" for c in name]
        return zip(["<s>"] + chars, chars + ["</s>"])

    def log_probability(self, name: str, label: int) -> tuple[float, int]:
        """Natural-log probability of ``name`` (its end included) and its count of outcomes."""
        total = 0.0
        steps = 0
        size = len(self.outcomes)
        for previous, following in self._pairs(name):
            key = (label, previous)
            count = self.counts[key][following] if key in self.counts else 0
            total += math.log(
                (count + self.k) / (self.totals.get(key, 0) + self.k * size)
            )
            steps += 1
        return total, steps

    def perplexity(self, names: Sequence[str], labels: Sequence[int]) -> float:
        """Perplexity per character (end included) over ``names``."""
        total = 0.0
        steps = 0
        for name, label in zip(names, labels):
            log_p, n = self.log_probability(name, label)
            total += log_p
            steps += n
        return math.exp(-total / steps)


"""
## Truecasing
"""


def rule_truecase(text: str) -> np.ndarray:
    """Tags that capitalise the first letter after a sentence end, and "I".

    A sentence starts at the beginning of ``text`` and after ``.``, ``!`` or
    ``?`` (any quotes or brackets in between are skipped); the word ``i``
    (also in ``i'm``, ``i'll``) is capitalised.

    Args:
        text: lower-cased text.

    Returns:
        int32 tags ``(len(text),)``: ``TAG_UPPER`` or ``TAG_LOWER`` of
        :mod:`rnn_zoo.data.austen`.

    Example:

    >>> from rnn_zoo.data.austen import recase
    >>> recase("he left. i stayed!", rule_truecase("he left. i stayed!"))
    'He left. I stayed!'
    """
    _checks.check_text(text)
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
    """Each word takes its most frequent casing in the training text.

    Words are runs of letters (with inner apostrophes); for each lower-cased
    word the most frequent original spelling is kept (ties: the first seen).
    Unseen words and everything outside words stay lower case.

    Args:
        texts: cased training texts.

    Example:

    >>> from rnn_zoo.data.austen import recase
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
            for match in _WORD.finditer(_checks.check_text(text, "texts[i]")):
                word = match.group()
                counts[lowercase(word)][word] += 1
        self.casing = {
            lower: forms.most_common(1)[0][0] for lower, forms in counts.items()
        }

    def tags(self, text: str) -> np.ndarray:
        """int32 tags ``(len(text),)`` for lower-cased ``text``."""
        tags = np.full(len(_checks.check_text(text)), TAG_LOWER, np.int32)
        for match in _WORD.finditer(text):
            form = self.casing.get(match.group())
            if form is not None and len(form) == len(match.group()):
                tags[match.start() : match.end()] = truecase_tags(form)
        return tags


"""
## Chinese word segmentation and named entities
"""


class MaxMatchSegmenter:
    """Forward maximum matching: at each position, the longest dictionary word.

    The classic baseline of the SIGHAN segmentation bakeoffs, with the
    training split's words as the dictionary. A character that starts no
    dictionary word is a word of its own.

    Args:
        words: the dictionary (e.g. every word of the training split).

    Example:

    >>> MaxMatchSegmenter(["中国", "中国人", "人民", "民"]).segment("中国人民好")
    ['中国人', '民', '好']
    """

    def __init__(self, words: Iterable[str]):
        if isinstance(words, str):
            raise TypeError("`words` must be a list of strings, not one string.")
        self.words = {w for w in words if w}
        if not self.words:
            raise ValueError("`words` must hold at least one non-empty word.")
        self.longest = max(map(len, self.words))

    def segment(self, text: str) -> list[str]:
        """The words of ``text``."""
        words, i = [], 0
        while i < len(text):
            for size in range(min(self.longest, len(text) - i), 0, -1):
                if size == 1 or text[i : i + size] in self.words:
                    words.append(text[i : i + size])
                    i += size
                    break
        return words


class EntityDictionaryTagger:
    """BIO tags from a dictionary of entities, matched longest first, left to right.

    Each entity string keeps its most frequent type in the training data;
    at each position the longest known entity starting there is tagged,
    anything else is ``O``.

    Args:
        entities: ``(text, type)`` of every training entity.

    Example:

    >>> tagger = EntityDictionaryTagger([("北京", "LOC"), ("北京大学", "ORG")])
    >>> tagger.tags("在北京大学和北京")
    ['O', 'B-ORG', 'I-ORG', 'I-ORG', 'I-ORG', 'O', 'B-LOC', 'I-LOC']
    """

    def __init__(self, entities: Iterable[tuple[str, str]]):
        counts: dict[str, collections.Counter] = collections.defaultdict(
            collections.Counter
        )
        for text, kind in entities:
            if text:
                counts[text][kind] += 1
        if not counts:
            raise ValueError("`entities` must hold at least one (text, type) pair.")
        self.types = {text: c.most_common(1)[0][0] for text, c in counts.items()}
        self.longest = max(map(len, self.types))

    def tags(self, text: str) -> list[str]:
        """One BIO tag per character of ``text``."""
        tags, i = ["O"] * len(text), 0
        while i < len(text):
            for size in range(min(self.longest, len(text) - i), 0, -1):
                kind = self.types.get(text[i : i + size])
                if kind:
                    tags[i : i + size] = [f"B-{kind}"] + [f"I-{kind}"] * (size - 1)
                    i += size - 1
                    break
            i += 1
        return tags


class MostFrequentTagger:
    """Each character (or word) takes its most frequent tag in the training data.

    Unseen characters take the most frequent tag overall. Lists of words in
    place of texts tag words the same way.

    Args:
        texts: training texts (or lists of words).
        tags: one tag sequence per text, one tag per character (or word).

    Example:

    >>> tagger = MostFrequentTagger(["张三", "开了"], [["B-PER", "I-PER"], ["O", "O"]])
    >>> tagger.tags("张开吗")  # 吗 is unseen: O, the most frequent tag
    ['B-PER', 'O', 'O']
    """

    def __init__(self, texts: Iterable[str], tags: Iterable[Sequence[str]]):
        counts: dict[str, collections.Counter] = collections.defaultdict(
            collections.Counter
        )
        overall: collections.Counter = collections.Counter()
        for text, row in zip(texts, tags, strict=True):
            if len(text) != len(row):
                raise ValueError(
                    f"`tags` must have one tag per character of `texts`. Received "
                    f"{len(row)} tags for {text[:40]!r}"
                )
            for char, tag in zip(text, row):
                counts[char][tag] += 1
                overall[tag] += 1
        if not overall:
            raise ValueError("`texts` must hold at least one character.")
        self.default = overall.most_common(1)[0][0]
        self.best = {char: c.most_common(1)[0][0] for char, c in counts.items()}

    def tags(self, text: str) -> list[str]:
        """One tag per character of ``text``."""
        return [self.best.get(char, self.default) for char in text]


"""
## Grapheme to phoneme
"""


def _letters(word: str) -> list[str]:
    letters = []
    for char in word.replace("'", ""):
        if not letters or letters[-1] != char:
            letters.append(char)
    return letters


def letter_baseline(
    words: Sequence[str], pronunciations: Sequence[Sequence[Sequence[str]]]
) -> dict[str, str]:
    """Each letter's most frequent phoneme in one-to-one-aligned training words.

    The table comes from the words whose spelling (apostrophes dropped,
    doubled letters read once) has as many letters as the first
    pronunciation has phonemes, so that letter i says phoneme i.

    Args:
        words: the training words.
        pronunciations: their pronunciations (the first of each is used).

    Returns:
        ``{letter: phoneme}``; use with :func:`baseline_pronounce`.

    Example:

    >>> table = letter_baseline(["cat", "kit"], [[("K", "AE", "T")], [("K", "IH", "T")]])
    >>> baseline_pronounce("tack", table)  # "ck" is one letter too many
    ('T', 'AE', 'K', 'K')
    """
    counts: dict[str, collections.Counter] = collections.defaultdict(
        collections.Counter
    )
    for word, prons in zip(words, pronunciations):
        letters = _letters(word)
        if len(letters) == len(prons[0]):
            for letter, phoneme in zip(letters, prons[0]):
                counts[letter][phoneme] += 1
    return {letter: c.most_common(1)[0][0] for letter, c in sorted(counts.items())}


def baseline_pronounce(word: str, table: dict[str, str]) -> tuple[str, ...]:
    """The letter-by-letter baseline's pronunciation of ``word``.

    Args:
        word: a lowercase word.
        table: from :func:`letter_baseline`; a letter not in it is silent.

    Returns:
        The phonemes.

    Example:

    >>> baseline_pronounce("bee", {"b": "B", "e": "IY"})
    ('B', 'IY')
    """
    return tuple(table[letter] for letter in _letters(word) if letter in table)


"""
## Classification
"""


def majority_class(labels) -> int:
    """The most common label (the smallest one on a tie).

    Example:

    >>> majority_class([2, 0, 2, 1])
    2
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(
            "`labels` must be a non-empty 1-D array of class ids. "
            f"Received: labels.shape={labels.shape}"
        )
    return int(np.bincount(labels).argmax())


def majority_class_accuracy(labels, majority: int) -> float:
    """Accuracy of always answering ``majority`` (from the training labels).

    Example:

    >>> majority_class_accuracy([2, 0, 2, 1], majority=2)
    0.5
    """
    return float(np.mean(np.asarray(labels) == majority))


def sequence_summary(frames, lengths) -> np.ndarray:
    """Each sequence's per-feature mean and standard deviation over its real steps.

    Args:
        frames: float ``(n, time, features)``; steps at or after a row's
            length are ignored.
        lengths: int ``(n,)``, each row's real steps (at least 1).

    Returns:
        ``(n, 2 * features)``: the means, then the standard deviations.

    Example:

    >>> frames = np.array([[[1.0], [3.0], [99.0]]])  # 2 real steps, 1 padding
    >>> sequence_summary(frames, [2]).tolist()
    [[2.0, 1.0]]
    """
    frames = np.asarray(frames)
    lengths = np.asarray(lengths)
    real = np.arange(frames.shape[1])[None, :] < lengths[:, None]
    weights = real[:, :, None] / lengths[:, None, None]
    mean = (frames * weights).sum(axis=1)
    std = np.sqrt((((frames - mean[:, None]) ** 2) * weights).sum(axis=1))
    return np.concatenate([mean, std], axis=1)


def nearest_centroid(train_features, train_labels, test_features) -> np.ndarray:
    """Predicts the class whose training centroid is nearest (Euclidean).

    The features are first standardized with the training features' mean
    and standard deviation, so that no feature dominates by its units.

    Args:
        train_features: ``(n_train, d)``.
        train_labels: int ``(n_train,)``.
        test_features: ``(n_test, d)``.

    Returns:
        int ``(n_test,)``, the predicted labels.

    Example:

    >>> train = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    >>> nearest_centroid(train, np.array([0, 0, 1, 1]), [[9.0, 0.0], [1.0, 1.0]])
    array([1, 0])
    """
    train_x = np.asarray(train_features)
    test_x = np.asarray(test_features)
    train_labels = np.asarray(train_labels)
    mean, std = train_x.mean(axis=0), train_x.std(axis=0)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    classes = np.unique(train_labels)
    centroids = np.stack([train_x[train_labels == c].mean(axis=0) for c in classes])
    distances = ((test_x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=-1)
    return classes[np.argmin(distances, axis=1)]


class NaiveBayesClassifier:
    """Multinomial naive Bayes over character n-grams (add-alpha smoothing).

    Each text is the bag of its character n-grams for every ``n`` in
    ``orders`` (unigrams and bigrams by default); ``P(n-gram | class)`` is
    counted on the training texts with ``alpha`` added to every count of
    the training n-gram vocabulary, and a text's class is the one with the
    highest ``log P(class) + sum log P(n-gram | class)``. N-grams never
    seen in training are skipped. For Chinese text, where a word is one to
    a few characters, character bigrams stand in for words.

    Args:
        texts: the training texts.
        labels: their class ids ``0 .. num_classes - 1``.
        orders: the n-gram lengths counted.
        alpha: the additive smoothing (``> 0``; 1 is Laplace's).

    Example:

    >>> model = NaiveBayesClassifier(["很好", "好看", "很差", "难看"], [1, 1, 0, 0])
    >>> model.predict(["好", "差"]).tolist()
    [1, 0]
    """

    def __init__(
        self,
        texts: Sequence[str],
        labels,
        *,
        orders: Sequence[int] = (1, 2),
        alpha: float = 1.0,
    ):
        if isinstance(texts, str):
            raise TypeError(
                f"`texts` must be a list of strings, not one string. Received: texts={texts!r}"
            )
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) != len(texts) or len(labels) == 0:
            raise ValueError(
                "`labels` must hold one class id per text. Received: "
                f"{len(texts)} texts and labels of shape {labels.shape}"
            )
        if not (isinstance(alpha, (int, float)) and alpha > 0):
            raise ValueError(
                f"`alpha` must be a positive number. Received: alpha={alpha!r}"
            )
        self.orders = tuple(_checks.check_positive_int(n, "orders[i]") for n in orders)
        if not self.orders:
            raise ValueError(
                f"`orders` must name at least one n-gram length. Received: {orders!r}"
            )
        self.alpha = float(alpha)
        num_classes = int(labels.max()) + 1
        counts: list[collections.Counter] = [
            collections.Counter() for _ in range(num_classes)
        ]
        for text, label in zip(texts, labels):
            counts[label].update(self._ngrams(_checks.check_text(text, "texts[i]")))
        features = sorted(set().union(*counts))
        self.index = {gram: i for i, gram in enumerate(features)}
        table = np.zeros((num_classes, len(features)))
        for label, counter in enumerate(counts):
            for gram, count in counter.items():
                table[label, self.index[gram]] = count
        table += self.alpha
        # log P(n-gram | class), (num_classes, num_features).
        self.log_likelihood = np.log(table) - np.log(table.sum(axis=1, keepdims=True))
        prior = np.bincount(labels, minlength=num_classes).astype(float)
        self.log_prior = np.log(prior / prior.sum())

    def _ngrams(self, text: str) -> list[str]:
        return [text[i : i + n] for n in self.orders for i in range(len(text) - n + 1)]

    def log_scores(self, texts: Sequence[str]) -> np.ndarray:
        """``log P(class) + sum log P(n-gram | class)`` per text, ``(n, num_classes)``."""
        if isinstance(texts, str):
            raise TypeError(
                f"`texts` must be a list of strings, not one string. Received: texts={texts!r}"
            )
        scores = np.tile(self.log_prior, (len(texts), 1))
        for row, text in zip(scores, texts):
            known = [self.index[g] for g in self._ngrams(text) if g in self.index]
            row += self.log_likelihood[:, known].sum(axis=1)
        return scores

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """The most probable class of each text, int ``(n,)`` (ties: the smallest id)."""
        return np.argmax(self.log_scores(texts), axis=1)


def build_keras_classifier(
    num_classes: int,
    *,
    vocab_size: int,
    cell: str,
    units: int,
    num_layers: int,
    bidirectional: bool,
    dropout: float,
    embedding_dim: int,
) -> keras.Model:
    """:func:`rnn_zoo.build_classifier`'s architecture with Keras's own layers.

    The same embedding, dropout placement, stacking and softmax, with
    ``keras.layers.LSTM``/``GRU``/``SimpleRNN``: trained on the same data
    and seed, it tells whether rnn_zoo's layers learn as well as Keras's.

    Args:
        num_classes: size of the softmax output.
        vocab_size, cell, units, num_layers, bidirectional, dropout,
            embedding_dim: as for :func:`rnn_zoo.build_classifier`; ``cell``
            is ``"lstm"``, ``"gru"`` or ``"simple"``.

    Example:

    >>> model = build_keras_classifier(3, vocab_size=10, cell="lstm", units=8,
    ...     num_layers=1, bidirectional=False, dropout=0.0, embedding_dim=4)
    >>> model.output_shape  # (batch, num_classes)
    (None, 3)
    """
    keras_layers = {
        "lstm": keras.layers.LSTM,
        "gru": keras.layers.GRU,
        "simple": keras.layers.SimpleRNN,
    }
    if cell not in keras_layers:
        raise ValueError(
            f"`cell` has no Keras counterpart for the baseline: expected one of "
            f"{sorted(keras_layers)}. Received: cell={cell!r}"
        )
    layer_class = keras_layers[cell]
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(
        vocab_size, embedding_dim, mask_zero=True, name="embedding"
    )(inputs)
    if dropout:
        x = keras.layers.Dropout(dropout, name="input_dropout")(x)
    for i in range(num_layers):
        last = i == num_layers - 1
        if i > 0 and dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i - 1}")(x)
        layer = layer_class(units, return_sequences=not last, name=f"{cell}_{i}")
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{i}")
        x = layer(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name=f"keras_{cell}_classifier")


"""
## Forecasting
"""


def seasonal_naive(history, horizon: int, *, season: int = 52) -> np.ndarray:
    """Each forecast step takes the value of the same step one season earlier.

    Step ``h`` after the origin (``h = 1 .. horizon``) gets the history value
    ``season`` steps before it; beyond one season the last season repeats.

    Args:
        history: ``(n, window)`` with ``window >= season``.
        horizon: steps to forecast.
        season: the seasonal period in steps (52 weeks: a year of weekly data).

    Returns:
        ``(n, horizon)``.

    Example:

    >>> history = np.arange(104.0)[None, :]  # weeks 0..103; the origin is week 103
    >>> seasonal_naive(history, 3).tolist()  # weeks 104..106 -> weeks 52..54
    [[52.0, 53.0, 54.0]]
    """
    history = np.asarray(history)
    window = history.shape[1]
    if window < season:
        raise ValueError(
            f"`history` must hold at least {season} steps (one season) for a "
            f"seasonal-naive forecast. Received: history.shape={history.shape}"
        )
    steps = window - season + np.arange(horizon) % season
    return history[:, steps]
