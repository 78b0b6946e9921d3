"""build_classifier: many-to-one sequence classification."""

from __future__ import annotations

import keras

from rnn_zoo import _checks
from rnn_zoo.layers import Bidirectional, StackedRNN, get_sequence_layer


def _optional_positive_int(value, name):
    return None if value is None else _checks.check_positive_int(value, name)


def build_classifier(
    num_classes: int,
    *,
    vocab_size: int | None = None,
    input_features: int | None = None,
    cell: str = "lstm",
    units: int = 128,
    num_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    residual: bool = False,
    embedding_dim: int = 64,
    max_length: int | None = None,
    name: str | None = None,
    **cell_kwargs,
) -> keras.Model:
    """Builds a many-to-one classifier: a sequence in, class probabilities out.

    Give exactly one of ``vocab_size`` (the input is padded integer token ids,
    ``0`` is padding and is masked) or ``input_features`` (the input is a float
    sequence ``(batch, timesteps, input_features)``; put padding behind a
    ``keras.layers.Masking`` yourself, or feed equal lengths).

    Args:
        num_classes: number of classes (>= 2); the model outputs softmax
            probabilities ``(batch, num_classes)``.
        vocab_size: size of the token vocabulary, padding id 0 included.
        input_features: feature size of float input sequences.
        cell: ``"simple"``, ``"lstm"``, ``"gru"`` or any registered cell name.
        units: recurrent units per layer (per direction).
        num_layers: stacked recurrent layers.
        bidirectional: read the sequence in both directions.
        dropout: in ``[0, 1)``, dropout on the embeddings, between recurrent
            layers and before the output layer.
        recurrent_dropout: in ``[0, 1)``, dropout on the recurrent state.
        residual: residual connections between stacked layers.
        embedding_dim: size of the token embeddings (token input only).
        max_length: fixed number of timesteps, or ``None`` for any length.
        name: the model's name.
        **cell_kwargs: passed to every recurrent layer (initializers,
            ``reset_after``, ``activation``, ...).

    Returns:
        An uncompiled ``keras.Model``.

    Example:

    >>> model = build_classifier(5, vocab_size=100, cell="gru", units=32)
    >>> model.output_shape  # (batch, num_classes)
    (None, 5)
    """
    num_classes = _checks.check_units(num_classes, "num_classes")
    if num_classes < 2:
        raise ValueError(
            f"`num_classes` must be at least 2. Received: num_classes={num_classes}"
        )
    if (vocab_size is None) == (input_features is None):
        raise ValueError(
            "Give exactly one of `vocab_size` (integer token input) or "
            "`input_features` (float sequence input). Received: "
            f"vocab_size={vocab_size!r}, input_features={input_features!r}"
        )
    vocab_size = _optional_positive_int(vocab_size, "vocab_size")
    input_features = _optional_positive_int(input_features, "input_features")
    max_length = _optional_positive_int(max_length, "max_length")
    dropout = _checks.check_rate(dropout, "dropout")
    get_sequence_layer(cell)  # validates the name before anything is built
    _checks.check_units(num_layers, "num_layers")

    if vocab_size is not None:
        inputs = keras.Input(shape=(max_length,), dtype="int32", name="token_ids")
        x = keras.layers.Embedding(
            vocab_size, embedding_dim, mask_zero=True, name="embedding"
        )(inputs)
    else:
        inputs = keras.Input(shape=(max_length, input_features), name="features")
        x = inputs
    if dropout:
        x = keras.layers.Dropout(dropout, name="input_dropout")(x)

    if num_layers == 1:
        rnn = get_sequence_layer(cell)(
            units, recurrent_dropout=recurrent_dropout, name=cell, **cell_kwargs
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
            name="stacked_" + cell,
            **cell_kwargs,
        )
    x = rnn(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name=name or f"{cell}_classifier")
