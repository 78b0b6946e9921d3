"""build_tagger: many-to-many aligned sequence labelling (one tag per step)."""

from __future__ import annotations

import keras

from rnn_zoo import _checks
from rnn_zoo.layers.crf import CRF, CRFModel
from rnn_zoo.models import _body


def build_tagger(
    num_tags: int,
    *,
    vocab_size: int | None = None,
    input_features: int | None = None,
    cell: str = "lstm",
    units: int = 128,
    num_layers: int = 1,
    bidirectional: bool = True,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    residual: bool = False,
    embedding_dim: int | None = None,
    embeddings=None,
    freeze_embeddings: bool = False,
    max_length: int | None = None,
    mask_value: float | None = None,
    crf: bool = False,
    timespans: bool = False,
    name: str | None = None,
    **cell_kwargs,
) -> keras.Model:
    """Builds a sequence tagger: a softmax per timestep, or a CRF over them.

    The padding mask (token id 0, or ``mask_value`` for float input) reaches
    the output, so Keras's losses and metrics skip padded steps: compile with
    ``loss="sparse_categorical_crossentropy"`` and any tag at padded steps.

    With ``crf=True`` the model is a BiLSTM-CRF (any cell): a linear layer
    gives per-step tag potentials and a :class:`rnn_zoo.layers.CRF` links
    neighbouring tags. It is a :class:`rnn_zoo.layers.CRFModel`: compile it
    without a loss (``model.compile(optimizer="adam", metrics=["accuracy"])``;
    ``fit`` minimises the CRF's negative log-likelihood; the accuracy metric
    scores the potentials' per-step argmax), and ``predict`` returns the
    Viterbi tags,
    ``(batch, time)`` int32 with 0 at padded steps.

    Args:
        num_tags: number of tags (>= 2).
        vocab_size: size of the token vocabulary, padding id 0 included.
        input_features: feature size of float input sequences.
        cell: ``"simple"``, ``"lstm"``, ``"gru"`` or any registered cell name.
        units: recurrent units per layer (per direction).
        num_layers: stacked recurrent layers.
        bidirectional: read the sequence in both directions (a tag may depend
            on what follows it).
        dropout: in ``[0, 1)``, on the embeddings, between layers and before
            the output layer.
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
        crf: end in a linear-chain CRF instead of a softmax per step.
        timespans: add a second input ``timespans`` ``(batch, timesteps)``,
            the time elapsed at every step (irregularly sampled series), read
            by a cell that uses time (``"cfc"``, ``"ltc"``); the model's inputs
            are then ``[sequences, timespans]``.
        name: the model's name.
        **cell_kwargs: passed to every recurrent layer.

    Returns:
        An uncompiled ``keras.Model``: ``(batch, time)`` ids (or ``(batch,
        time, input_features)``) to ``(batch, time, num_tags)`` probabilities;
        with ``crf=True`` a ``CRFModel`` whose outputs are ``(batch, time,
        num_tags)`` potentials and whose ``predict`` gives tag ids.

    Example:

    >>> model = build_tagger(4, vocab_size=50, units=16)
    >>> model.output_shape  # (batch, time, num_tags)
    (None, None, 4)
    >>> tagger = build_tagger(4, vocab_size=50, units=16, crf=True)
    >>> type(tagger).__name__, tagger.crf.num_tags  # predict gives tag ids
    ('CRFModel', 4)
    """
    num_tags = _checks.check_units(num_tags, "num_tags")
    if num_tags < 2:
        raise ValueError(
            f"`num_tags` must be at least 2. Received: num_tags={num_tags}"
        )
    dropout = _body.check_common(cell=cell, num_layers=num_layers, dropout=dropout)
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
        return_sequences=True,
        **cell_kwargs,
    )
    if dropout:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    if time is not None:
        inputs = [inputs, time]
    if crf:
        potentials = keras.layers.Dense(num_tags, name="tag_potentials")(x)
        outputs = CRF(num_tags, name="crf")(potentials)
        return CRFModel(inputs, outputs, name=name or f"{cell}_crf_tagger")
    outputs = keras.layers.Dense(
        num_tags, activation="softmax", name="tag_probabilities"
    )(x)
    return keras.Model(inputs, outputs, name=name or f"{cell}_tagger")
