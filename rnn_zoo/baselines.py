"""Baselines the recipes compare their models against, for reuse on any data.

A recipe scores a baseline on the same test examples as the network, so the
network's number has a reference point.

- Classification: :func:`majority_class` and :func:`majority_class_accuracy`
  (always answer the most common training class: the floor to beat),
  :func:`nearest_centroid` over :func:`sequence_summary` features, and
  :func:`build_keras_classifier` (rnn_zoo's classifier architecture written
  with Keras's own recurrent layers).
- Forecasting: :func:`seasonal_naive` (each step repeats the value one
  season earlier).
"""

from __future__ import annotations

import keras
import numpy as np

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
