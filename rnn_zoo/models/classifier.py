"""build_classifier: many-to-one sequence classification."""

from __future__ import annotations

import keras

from rnn_zoo import _checks
from rnn_zoo.layers import AttentionPooling
from rnn_zoo.models import _body


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
    embedding_dim: int | None = None,
    embeddings=None,
    freeze_embeddings: bool = False,
    max_length: int | None = None,
    mask_value: float | None = None,
    attention: bool = False,
    return_attention: bool = False,
    timespans: bool = False,
    name: str | None = None,
    **cell_kwargs,
) -> keras.Model:
    """Builds a many-to-one classifier: a sequence in, class probabilities out.

    Give exactly one of ``vocab_size`` (the input is padded integer token ids,
    ``0`` is padding and is masked) or ``input_features`` (the input is a float
    sequence ``(batch, timesteps, input_features)``; with ``mask_value`` the
    timesteps whose features all equal it are padding and are masked).

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
        embedding_dim: size of the token embeddings (token input only; by
            default the width of ``embeddings``, else 64).
        embeddings: a pretrained ``(vocab_size, embedding_dim)`` matrix the
            token embeddings start from (e.g.
            :func:`rnn_zoo.data.glove.embedding_matrix`); token input only.
        freeze_embeddings: keep ``embeddings`` fixed during training (default:
            fine-tune them).
        max_length: fixed number of timesteps, or ``None`` for any length.
        mask_value: float input only: the padding value to mask.
        attention: pool the recurrent outputs of every step with
            :class:`rnn_zoo.layers.AttentionPooling` (layer ``attention``;
            padded steps get zero weight) instead of taking the last state.
        return_attention: with ``attention``, the model also outputs the
            ``(batch, timesteps)`` attention weights: outputs are
            ``[probabilities, attention_weights]``.
        timespans: add a second input ``timespans`` ``(batch, timesteps)``,
            the time elapsed at every step (irregularly sampled series), read
            by a cell that uses time (``"cfc"``, ``"ltc"``); the model's inputs
            are then ``[sequences, timespans]``.
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
    dropout = _body.check_common(cell=cell, num_layers=num_layers, dropout=dropout)
    attention, return_attention = bool(attention), bool(return_attention)
    if return_attention and not attention:
        raise ValueError(
            "`return_attention=True` needs `attention=True`. Received: "
            f"attention={attention}, return_attention={return_attention}"
        )
    time = _body.timespans_input(timespans, cell=cell, length=max_length)
    inputs, x = _body.sequence_input(
        vocab_size=vocab_size,
        input_features=input_features,
        max_length=max_length,
        embedding_dim=embedding_dim,
        mask_value=mask_value,
        embeddings=embeddings,
        freeze_embeddings=freeze_embeddings,
    )
    if dropout:
        x = keras.layers.Dropout(dropout, name="input_dropout")(x)
    x = _body.recurrent_body(
        x,
        cell=cell,
        units=units,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        residual=residual,
        timespans=time,
        return_sequences=attention,
        **cell_kwargs,
    )
    weights = None
    if attention:
        # (batch, time, features) -> (batch, features), weights (batch, time)
        x, weights = AttentionPooling(name="attention")(x, return_attention_scores=True)
    if dropout:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="probabilities"
    )(x)
    if return_attention:
        outputs = [outputs, weights]
    if time is not None:
        inputs = [inputs, time]
    return keras.Model(inputs, outputs, name=name or f"{cell}_classifier")
