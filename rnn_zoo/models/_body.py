"""Pieces every builder shares: the input layer and the recurrent body."""

from __future__ import annotations

import keras

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


def sequence_input(
    *,
    vocab_size: int | None,
    input_features: int | None,
    max_length: int | None,
    embedding_dim: int,
    mask_value: float | None = None,
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
    embedding_dim = _checks.check_positive_int(embedding_dim, "embedding_dim")
    if vocab_size is not None:
        if mask_value is not None:
            raise ValueError(
                "`mask_value` applies to float `input_features` only; token "
                f"input masks its padding id 0. Received: mask_value={mask_value!r}"
            )
        inputs = keras.Input(shape=(max_length,), dtype="int32", name="token_ids")
        x = TokenEmbedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(
            inputs
        )
        return inputs, x
    inputs = keras.Input(shape=(max_length, input_features), name="features")
    x = inputs
    if mask_value is not None:
        x = keras.layers.Masking(float(mask_value), name="masking")(x)
    return inputs, x


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
    **cell_kwargs,
):
    """One recurrent layer (optionally bidirectional) or a ``StackedRNN``."""
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
    return rnn(x)
