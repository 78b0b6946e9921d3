"""Pieces every builder shares: the input layer and the recurrent body."""

from __future__ import annotations

import keras
import numpy as np

from rnn_zoo import _checks
from rnn_zoo.layers import Bidirectional, StackedRNN, get_sequence_layer
from rnn_zoo.layers.embedding import TokenEmbedding


def optional_positive_int(value, name: str) -> int | None:
    return None if value is None else _checks.check_positive_int(value, name)


def check_common(
    *, cell: str, num_layers: int, dropout: float, name_of_dropout: str = "dropout"
) -> float:
    """Validates the arguments every builder takes before anything is built."""
    get_sequence_layer(cell)  # raises on an unknown cell name
    _checks.check_units(num_layers, "num_layers")
    return _checks.check_rate(dropout, name_of_dropout)


# The token embeddings' size when neither `embedding_dim` nor `embeddings` sets it.
DEFAULT_EMBEDDING_DIM = 64


def check_embeddings(
    embeddings, vocab_size: int, embedding_dim: int | None, argument: str = "embeddings"
) -> np.ndarray | None:
    """A pretrained ``(vocab_size, embedding_dim)`` matrix, checked (or ``None``)."""
    if embeddings is None:
        return None
    try:
        matrix = np.asarray(embeddings, dtype="float32")
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"`{argument}` must be a (vocab_size, embedding_dim) array of floats. "
            f"Received: {type(embeddings).__name__} ({error})"
        ) from None
    if matrix.ndim != 2:
        raise ValueError(
            f"`{argument}` must be a 2-D (vocab_size, embedding_dim) matrix. "
            f"Received: shape {matrix.shape}"
        )
    if matrix.shape[0] != vocab_size:
        raise ValueError(
            f"`{argument}` must have one row per token id, {vocab_size} rows for "
            f"vocab_size={vocab_size}. Received: shape {matrix.shape}"
        )
    if embedding_dim is not None and matrix.shape[1] != embedding_dim:
        raise ValueError(
            f"`{argument}` must be {embedding_dim} wide for embedding_dim="
            f"{embedding_dim} (leave embedding_dim out to take the matrix's "
            f"width). Received: shape {matrix.shape}"
        )
    if not np.isfinite(matrix).all():
        raise ValueError(f"`{argument}` must hold finite values. Received: NaN or inf")
    return matrix


def token_embedding(
    inputs,
    *,
    vocab_size: int,
    embedding_dim: int | None,
    name: str,
    embeddings=None,
    freeze_embeddings: bool = False,
    argument: str = "embeddings",
    mask_zero: bool = True,
):
    """Embeds ``inputs`` (token ids) with a :class:`TokenEmbedding`.

    With ``embeddings`` (a pretrained matrix, e.g.
    :func:`rnn_zoo.data.glove.embedding_matrix`) the table starts from it,
    and ``freeze_embeddings`` keeps it fixed during training. The matrix goes
    into the weights, not the config, so a model's config stays small.
    """
    if embedding_dim is not None:
        embedding_dim = _checks.check_positive_int(embedding_dim, "embedding_dim")
    if not isinstance(freeze_embeddings, bool):
        raise TypeError(
            "`freeze_embeddings` must be True or False. Received: "
            f"freeze_embeddings={freeze_embeddings!r}"
        )
    matrix = check_embeddings(embeddings, vocab_size, embedding_dim, argument)
    if freeze_embeddings and matrix is None:
        raise ValueError(
            "`freeze_embeddings=True` freezes a pretrained matrix: give one with "
            f"`{argument}=`. Received: {argument}=None"
        )
    if embedding_dim is None:
        embedding_dim = DEFAULT_EMBEDDING_DIM if matrix is None else matrix.shape[1]
    layer = TokenEmbedding(
        vocab_size,
        embedding_dim,
        mask_zero=mask_zero,
        name=name,
        trainable=not (freeze_embeddings and matrix is not None),
    )
    x = layer(inputs)
    if matrix is not None:
        layer.embeddings.assign(matrix)
    return x


def sequence_input(
    *,
    vocab_size: int | None,
    input_features: int | None,
    max_length: int | None,
    embedding_dim: int | None,
    mask_value: float | None = None,
    embeddings=None,
    freeze_embeddings: bool = False,
):
    """Token ids (embedded, padding id 0 masked) or float features.

    Returns:
        ``(inputs, x)``: the ``keras.Input`` and the ``(batch, time,
        features)`` tensor the recurrent body reads.
    """
    if (vocab_size is None) == (input_features is None):
        raise ValueError(
            "Give exactly one of `vocab_size` (integer token input) or "
            "`input_features` (float sequence input). Received: "
            f"vocab_size={vocab_size!r}, input_features={input_features!r}"
        )
    vocab_size = optional_positive_int(vocab_size, "vocab_size")
    input_features = optional_positive_int(input_features, "input_features")
    max_length = optional_positive_int(max_length, "max_length")
    if vocab_size is not None:
        if mask_value is not None:
            raise ValueError(
                "`mask_value` applies to float `input_features` only; token "
                f"input masks its padding id 0. Received: mask_value={mask_value!r}"
            )
        inputs = keras.Input(shape=(max_length,), dtype="int32", name="token_ids")
        x = token_embedding(
            inputs,
            vocab_size=vocab_size,
            embedding_dim=embedding_dim,
            name="embedding",
            embeddings=embeddings,
            freeze_embeddings=freeze_embeddings,
        )
        return inputs, x
    if embeddings is not None:
        raise ValueError(
            "`embeddings` is a pretrained table for token input (`vocab_size`); "
            "float `input_features` are not embedded. Received: an embeddings "
            "matrix with input_features"
        )
    inputs = keras.Input(shape=(max_length, input_features), name="features")
    x = inputs
    if mask_value is not None:
        x = keras.layers.Masking(float(mask_value), name="masking")(x)
    return inputs, x


def timespans_input(timespans, *, cell: str, length: int | None, name="timespans"):
    """The ``keras.Input`` of the elapsed times (``(batch, length)``) or ``None``.

    Only a cell that uses time (``uses_time``: ``"cfc"``, ``"ltc"``) reads them.
    """
    if not isinstance(timespans, bool):
        raise TypeError(
            f"`timespans` must be True or False. Received: timespans={timespans!r}"
        )
    if not timespans:
        return None
    if not getattr(get_sequence_layer(cell).cell_class, "uses_time", False):
        raise ValueError(
            "`timespans=True` adds an input of elapsed times, which only a cell "
            "that uses time reads (such as 'cfc' or 'ltc'). Received: "
            f"cell={cell!r}, timespans=True"
        )
    return keras.Input(shape=(length,), name=name)


def recurrent_body(
    x,
    *,
    cell: str,
    units: int,
    num_layers: int,
    bidirectional: bool,
    dropout: float,
    recurrent_dropout: float,
    residual: bool,
    return_sequences: bool,
    timespans=None,
    **cell_kwargs,
):
    """One recurrent layer (optionally bidirectional) or a ``StackedRNN``,
    reading ``timespans`` (a ``timespans_input``) where given."""
    if num_layers == 1:
        rnn = get_sequence_layer(cell)(
            units,
            recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences,
            name=cell,
            **cell_kwargs,
        )
        if bidirectional:
            rnn = Bidirectional(rnn, name="bidirectional")
    else:
        rnn = StackedRNN(
            cell,
            units=units,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            residual=residual,
            recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences,
            name="stacked_" + cell,
            **cell_kwargs,
        )
    if timespans is not None:
        return rnn(x, timespans=timespans)
    return rnn(x)
