"""Metrics the recipes report, for reuse on any model of the same task pattern.

Plain functions over NumPy arrays or Python sequences: each is computed once
over a whole test split (a sum over every character, word or example, not a
mean of per-batch means), so it gives the same number whatever the batch size.

- Character language models: :func:`bits_per_character` (from logits) and
  :func:`perplexity` (of a generator over a teacher-forcing dataset).
- Truecasing: :func:`casing_metrics` (accuracy, and precision, recall and
  F1 of the upper-case tag).
- Chinese word segmentation: :func:`bmes_words` (tags to words) and
  :func:`segmentation_scores` (word precision, recall and F1 as the SIGHAN
  bakeoffs score them).
- Named entities: :func:`bio_entities` (tags to spans, as CoNLL's
  ``conlleval`` reads them) and :func:`entity_scores` (entity-level
  precision, recall and F1, micro-averaged and per type).
- Sequence to sequence: :func:`edit_distance`, :func:`word_error_rate` and
  :func:`phoneme_error_rate` (against any of several references).
- Classification: :func:`accuracy_per_class` and :func:`balanced_accuracy`.
- Forecasting: :func:`forecast_errors` (MAE, RMSE, and MAE per forecast step).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import keras
import numpy as np
from keras import ops

from rnn_zoo.data.austen import TAG_PAD, TAG_UPPER

"""
## Language models
"""


def bits_per_character(logits, targets, *, pad_id: int = 0) -> float:
    """Mean cross-entropy in bits over the non-padding targets.

    Args:
        logits: ``(..., vocab_size)`` unnormalised scores.
        targets: ``(...)`` int ids; ``pad_id`` is padding and is skipped.
        pad_id: the padding id.

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
    keep = targets != pad_id
    logits, targets = logits[keep], targets[keep]
    top = logits.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(logits - top).sum(axis=-1)) + top[:, 0]
    nll = log_norm - logits[np.arange(len(targets)), targets]
    return float(nll.mean() / math.log(2))


def perplexity(model: keras.Model, dataset, *, pad_id: int = 0) -> float:
    """Perplexity per token of a model that outputs logits, over a labelled dataset.

    ``exp`` of the mean cross-entropy over every non-padding target of every
    batch (for a generator trained with teacher forcing: every real
    character and the end token).

    Args:
        model: a model returning ``(batch, time, vocab)`` logits, e.g.
            :func:`rnn_zoo.build_generator`'s.
        dataset: an iterable of ``(inputs, targets)`` batches, targets
            ``(batch, time)`` ids.
        pad_id: the padding id of the targets.

    Returns:
        The perplexity; a model that knows nothing scores the vocabulary size.

    Example:

    >>> from rnn_zoo import build_generator
    >>> model = build_generator(5, units=4)
    >>> model.get_layer("logits").set_weights(
    ...     [np.zeros_like(w) for w in model.get_layer("logits").get_weights()])
    >>> batch = (np.array([[1, 3, 4]]), np.array([[3, 4, 0]]))
    >>> round(perplexity(model, [batch]), 4)  # uniform over 5 tokens
    5.0
    """
    total = 0.0
    count = 0
    for inputs, targets in dataset:
        logits = model(inputs, training=False)
        log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        targets = ops.cast(targets, "int32")
        picked = ops.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
        real = ops.cast(ops.not_equal(targets, pad_id), "float32")
        total += float(ops.convert_to_numpy(ops.sum(picked * real)))
        count += int(ops.convert_to_numpy(ops.sum(real)))
    if not count:
        raise ValueError("`dataset` holds no target to score (all padding or empty).")
    return math.exp(-total / count)


"""
## Truecasing
"""


def casing_metrics(true_tags: Iterable, predicted_tags: Iterable) -> dict[str, float]:
    """Per-character accuracy and the precision, recall and F1 of the upper-case tag.

    Tags are those of :mod:`rnn_zoo.data.austen` (0 padding, 1 lower, 2
    upper); padding in ``true_tags`` is skipped.

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
## Chinese word segmentation and named entities
"""


def _f1(correct: int, predicted: int, true: int) -> dict[str, float]:
    precision = correct / predicted if predicted else 0.0
    recall = correct / true if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def bmes_words(text: str, tags: Sequence[str]) -> list[str]:
    """The words of ``text`` under one B/M/E/S tag per character.

    Any tag sequence gives words: a word ends after an ``E`` or ``S`` and
    before a ``B`` or ``S`` (so ``B B`` is two words and ``M`` after ``E``
    starts one).

    Example:

    >>> bmes_words("中国人民的", ["B", "E", "B", "E", "S"])
    ['中国', '人民', '的']
    >>> bmes_words("中国人", ["B", "B", "M"])
    ['中', '国人']
    """
    if len(tags) != len(text):
        raise ValueError(
            f"`tags` must have one tag per character of `text`. Received: "
            f"{len(tags)} tags for {len(text)} characters"
        )
    words, start = [], 0
    for i, tag in enumerate(tags):
        if tag not in ("B", "M", "E", "S"):
            raise ValueError(f'`tags` must be "B", "M", "E" or "S". Received: {tag!r}')
        if i > start and tag in ("B", "S"):
            words.append(text[start:i])
            start = i
        if tag in ("E", "S"):
            words.append(text[start : i + 1])
            start = i + 1
    if start < len(text):
        words.append(text[start:])
    return words


def _spans(words: Sequence[str]) -> set[tuple[int, int]]:
    spans, position = set(), 0
    for word in words:
        spans.add((position, position + len(word)))
        position += len(word)
    return spans


def segmentation_scores(
    true_words: Iterable[Sequence[str]], predicted_words: Iterable[Sequence[str]]
) -> dict[str, float]:
    """Word-level precision, recall and F1 of a segmentation, as SIGHAN scores it.

    A predicted word is correct when its character span in the sentence is
    exactly a true word's span; precision is correct / predicted words,
    recall correct / true words, both summed over every sentence.

    Args:
        true_words: the gold words of each sentence.
        predicted_words: the predicted words of the same sentences (their
            characters must join to the same text).

    Returns:
        ``{"precision", "recall", "f1", "true_words", "predicted_words",
        "correct"}``.

    Example:

    >>> scores = segmentation_scores([["中国", "人民"]], [["中国", "人", "民"]])
    >>> scores["precision"], scores["recall"]  # 1 of 3 predicted, 1 of 2 true
    (0.3333333333333333, 0.5)
    """
    counts = {"true_words": 0, "predicted_words": 0, "correct": 0}
    pairs = zip(true_words, predicted_words, strict=True)
    for i, (true, predicted) in enumerate(pairs):
        if "".join(true) != "".join(predicted):
            raise ValueError(
                f"`predicted_words` must segment the same text as `true_words`. "
                f"Received for sentence {i}: {''.join(predicted)[:40]!r} and "
                f"{''.join(true)[:40]!r}"
            )
        true_spans, predicted_spans = _spans(true), _spans(predicted)
        counts["true_words"] += len(true)
        counts["predicted_words"] += len(predicted)
        counts["correct"] += len(true_spans & predicted_spans)
    scores = _f1(counts["correct"], counts["predicted_words"], counts["true_words"])
    return {**scores, **counts}


def bio_entities(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Entity spans ``(start, end, type)`` in BIO tags, read as CoNLL's conlleval does.

    ``B-X`` starts an entity; ``I-X`` continues one of type ``X`` and starts
    one after ``O`` or after another type (an invalid sequence is read, not
    refused); ``O``, ``B-`` or a change of type ends it.

    Example:

    >>> bio_entities(["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "I-ORG", "B-ORG"])
    [(0, 2, 'PER'), (3, 5, 'LOC'), (5, 6, 'ORG'), (6, 7, 'ORG')]
    """
    spans, start, kind = [], None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, this = tag.partition("-")
        if prefix not in ("B", "I", "O") or (prefix == "O") == bool(this):
            raise ValueError(
                f'`tags` must be "O", "B-TYPE" or "I-TYPE". Received: {tag!r}'
            )
        if start is not None and (prefix != "I" or this != kind):
            spans.append((start, i, kind))
            start = None
        if prefix != "O" and start is None:
            start, kind = i, this
    return spans


def entity_scores(
    true_tags: Iterable[Sequence[str]], predicted_tags: Iterable[Sequence[str]]
) -> dict:
    """Entity-level precision, recall and F1 in the CoNLL sense.

    An entity counts only when its span and its type are both right
    (:func:`bio_entities` reads the tags). Micro-averaged over every
    entity of every sentence, and per type.

    Args:
        true_tags: the gold BIO tags of each sentence.
        predicted_tags: the predicted tags, one per gold tag.

    Returns:
        ``{"precision", "recall", "f1", "true_entities", "predicted_entities",
        "correct", "per_type": {TYPE: {"precision", "recall", "f1",
        "support"}}}`` (``support``: the type's true entities).

    Example:

    >>> true = [["B-PER", "I-PER", "O", "B-LOC"]]
    >>> scores = entity_scores(true, [["B-PER", "I-PER", "O", "B-ORG"]])
    >>> scores["f1"], scores["per_type"]["PER"]["f1"], scores["per_type"]["LOC"]["recall"]
    (0.5, 1.0, 0.0)
    """
    true_all, predicted_all = set(), set()
    pairs = zip(true_tags, predicted_tags, strict=True)
    for i, (true, predicted) in enumerate(pairs):
        if len(true) != len(predicted):
            raise ValueError(
                f"`predicted_tags` must have one tag per tag of `true_tags`. "
                f"Received for sentence {i}: {len(predicted)} predicted, {len(true)} true"
            )
        true_all |= {(i, *span) for span in bio_entities(true)}
        predicted_all |= {(i, *span) for span in bio_entities(predicted)}
    correct = true_all & predicted_all
    per_type = {}
    for kind in sorted({e[3] for e in true_all | predicted_all}):
        count = [
            sum(e[3] == kind for e in s) for s in (correct, predicted_all, true_all)
        ]
        per_type[kind] = {**_f1(*count), "support": count[2]}
    return {
        **_f1(len(correct), len(predicted_all), len(true_all)),
        "true_entities": len(true_all),
        "predicted_entities": len(predicted_all),
        "correct": len(correct),
        "per_type": per_type,
    }


"""
## Sequence to sequence
"""


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions from ``a`` to ``b``.

    Args:
        a, b: sequences of comparable items (phonemes, characters).

    Returns:
        The distance, a non-negative integer.

    Example:

    >>> edit_distance(["K", "AE", "T"], ["K", "AA", "T", "S"])
    2
    """
    a, b = list(a), list(b)
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
            )
        previous = current
    return previous[-1]


def _check_pairs(predictions, references) -> list[list[tuple]]:
    if isinstance(predictions, str) or not isinstance(predictions, Sequence):
        raise TypeError(
            "`predictions` must be a list of phoneme sequences. "
            f"Received: predictions={predictions!r}"
        )
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise TypeError(
            "`references` must be a list (one entry per word) of lists of "
            f"pronunciations. Received: references={references!r}"
        )
    if len(predictions) != len(references) or not predictions:
        raise ValueError(
            "`predictions` and `references` must be non-empty and of the same "
            f"length. Received: {len(predictions)} predictions, "
            f"{len(references)} references"
        )
    result = []
    for i, refs in enumerate(references):
        if isinstance(refs, str) or not refs or isinstance(refs[0], str):
            raise ValueError(
                "Each entry of `references` must be a non-empty list of "
                "pronunciations (each a sequence of phonemes), even when a word "
                f"has one. Received: references[{i}]={refs!r}"
            )
        result.append([tuple(r) for r in refs])
    return result


def phoneme_error_rate(
    predictions: Sequence[Sequence[str]],
    references: Sequence[Sequence[Sequence[str]]],
) -> float:
    """Phoneme error rate over a test set: summed edit distances / summed reference lengths.

    Each word is scored against its closest reference pronunciation (the
    smallest edit distance; on a tie, the one listed first), so a word with
    several pronunciations is not penalised for choosing another correct
    one.

    Args:
        predictions: one predicted phoneme sequence per word.
        references: for each word, all its correct pronunciations (e.g.
            ``Split.pronunciations``).

    Returns:
        The rate, 0 when every prediction matches a reference (it can
        exceed 1 when predictions are much longer than the references).

    Example:

    >>> phoneme_error_rate(
    ...     [["T", "AH", "M", "AA", "T", "OW"], ["K", "AA", "T"]],
    ...     [[["T", "AH", "M", "EY", "T", "OW"], ["T", "AH", "M", "AA", "T", "OW"]],
    ...      [["K", "AE", "T"]]],
    ... )  # 0 errors in 6 phonemes + 1 in 3
    0.1111111111111111
    """
    references = _check_pairs(predictions, references)
    errors = 0
    length = 0
    for predicted, refs in zip(predictions, references):
        distances = [edit_distance(predicted, ref) for ref in refs]
        best = int(np.argmin(distances))  # argmin takes the first on a tie
        errors += distances[best]
        length += len(refs[best])
    return errors / max(length, 1)


def word_error_rate(
    predictions: Sequence[Sequence[str]],
    references: Sequence[Sequence[Sequence[str]]],
) -> float:
    """The fraction of words whose prediction equals none of their pronunciations.

    Args:
        predictions: one predicted phoneme sequence per word.
        references: for each word, all its correct pronunciations.

    Returns:
        The rate in [0, 1].

    Example:

    >>> word_error_rate(
    ...     [["T", "AH", "M", "AA", "T", "OW"], ["K", "AA", "T"]],
    ...     [[["T", "AH", "M", "EY", "T", "OW"], ["T", "AH", "M", "AA", "T", "OW"]],
    ...      [["K", "AE", "T"]]],
    ... )
    0.5
    """
    references = _check_pairs(predictions, references)
    wrong = sum(
        tuple(predicted) not in refs for predicted, refs in zip(predictions, references)
    )
    return wrong / len(references)


"""
## Classification
"""


def accuracy_per_class(labels, predicted, class_names: Sequence[str]) -> dict:
    """The accuracy over each class's examples, by class name.

    A class with no example in ``labels`` is left out (its accuracy is not
    defined).

    Args:
        labels: int ``(n,)``, the true class ids.
        predicted: int ``(n,)``, the predicted class ids.
        class_names: the name of each class id.

    Returns:
        ``{name: accuracy}`` in class-id order.

    Example:

    >>> accuracy_per_class([0, 0, 1, 1], [0, 1, 1, 1], ["neg", "pos", "other"])
    {'neg': 0.5, 'pos': 1.0}
    """
    labels = np.asarray(labels)
    predicted = np.asarray(predicted)
    if labels.shape != predicted.shape:
        raise ValueError(
            "`labels` and `predicted` must have the same shape. Received: "
            f"labels.shape={labels.shape}, predicted.shape={predicted.shape}"
        )
    return {
        name: float(np.mean(predicted[labels == i] == i))
        for i, name in enumerate(class_names)
        if np.any(labels == i)
    }


def balanced_accuracy(per_class: Mapping[str, float]) -> float:
    """The mean of the per-class accuracies: every class counts the same.

    Example:

    >>> balanced_accuracy({"neg": 0.5, "pos": 1.0})
    0.75
    """
    return float(np.mean(list(per_class.values())))


def macro_f1(labels, predicted, num_classes: int) -> float:
    """The mean over classes of each class's F1 (precision and recall of that class).

    A class that is neither in ``labels`` nor predicted scores F1 0 (so
    pass the true number of classes).

    Example:

    >>> round(macro_f1([0, 0, 1, 1], [0, 1, 1, 1], 2), 4)  # F1 2/3 and 4/5
    0.7333
    """
    labels = np.asarray(labels)
    predicted = np.asarray(predicted)
    if labels.shape != predicted.shape:
        raise ValueError(
            "`labels` and `predicted` must have the same shape. Received: "
            f"labels.shape={labels.shape}, predicted.shape={predicted.shape}"
        )
    scores = []
    for c in range(num_classes):
        true_positive = np.sum((labels == c) & (predicted == c))
        denominator = np.sum(labels == c) + np.sum(predicted == c)
        scores.append(2 * true_positive / denominator if denominator else 0.0)
    return float(np.mean(scores))


def classifier_scores(model: keras.Model, dataset, class_names: Sequence[str]) -> dict:
    """A classifier's loss and accuracy over a labelled dataset, overall and per class.

    Args:
        model: a compiled model giving ``(batch, num_classes)`` scores.
        dataset: batches of ``(inputs, labels)``, labels int ``(batch,)``.
        class_names: the name of each class id.

    Returns:
        ``{"loss", "accuracy", "balanced_accuracy", "accuracy_per_class"}``:
        the compiled loss, the fraction right, the mean of the per-class
        accuracies and ``{name: accuracy}`` (:func:`accuracy_per_class`).

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> model.set_weights([np.eye(2, dtype="float32"), np.zeros(2, "float32")])
    >>> model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> import tensorflow as tf
    >>> x, y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), np.array([0, 1, 1])
    >>> test = tf.data.Dataset.from_tensor_slices((x, y)).batch(2)
    >>> scores = classifier_scores(model, test, ["neg", "pos"])
    >>> round(scores["accuracy"], 4), scores["accuracy_per_class"]
    (0.6667, {'neg': 1.0, 'pos': 0.5})
    """
    labels, predicted = [], []
    for inputs, batch_labels in dataset:
        labels.append(np.asarray(batch_labels).reshape(-1))
        scores = model.predict_on_batch(inputs)
        predicted.append(np.argmax(np.asarray(scores), axis=-1).reshape(-1))
    if not labels:
        raise ValueError("`dataset` holds no batch to score.")
    labels, predicted = np.concatenate(labels), np.concatenate(predicted)
    per_class = accuracy_per_class(labels, predicted, class_names)
    loss = model.evaluate(dataset, verbose=0, return_dict=True)["loss"]
    return {
        "loss": float(loss),
        "accuracy": float(np.mean(labels == predicted)),
        "balanced_accuracy": balanced_accuracy(per_class),
        "accuracy_per_class": per_class,
    }


"""
## Forecasting
"""


def forecast_errors(forecast, targets, *, steps: Iterable[int] = ()) -> dict:
    """Errors of a multi-step forecast over every step of every window.

    Args:
        forecast: ``(windows, horizon)``.
        targets: ``(windows, horizon)``, what was measured.
        steps: forecast steps (1 = the first step after the origin) whose
            MAE is also reported on its own; steps past the horizon are
            skipped.

    Returns:
        ``{"mae": ..., "rmse": ..., "mae_by_step": {"1": ..., ...}}``.

    Example:

    >>> errors = forecast_errors([[1.0, 2.0]], [[1.0, 4.0]], steps=(1, 2, 3))
    >>> errors["mae"], errors["rmse"], errors["mae_by_step"]
    (1.0, 1.4142135623730951, {'1': 0.0, '2': 2.0})
    """
    error = np.asarray(forecast) - np.asarray(targets)
    if error.ndim != 2:
        raise ValueError(
            "`forecast` and `targets` must be (windows, horizon). Received: "
            f"forecast - targets of shape {error.shape}"
        )
    by_step = np.abs(error).mean(axis=0)
    return {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "mae_by_step": {
            str(step): float(by_step[step - 1])
            for step in steps
            if step <= len(by_step)
        },
    }
