"""build_tagger: many-to-many aligned sequence labelling (one tag per step)."""

from __future__ import annotations

import weakref

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


# The padding tag's potential while decoding a CRF tagger: low enough that no
# path through it can win, finite so that the sums stay finite.
_NEVER = -1e9


def best_tags(model: keras.Model, outputs, mask, *, pad_tag: int = 0):
    """The best tag of every step of a tagger's outputs, never ``pad_tag``.

    A :func:`build_tagger` model trained on padded targets gives the padding
    tag an output of its own (id ``pad_tag``, usually 0). The best tags leave
    it out at real steps: a softmax tagger's likeliest other tag, or a CRF
    tagger's Viterbi path over the other tags (its potential is set to
    ``-1e9``, so the path is the best of those that never use it). Masked
    steps get ``pad_tag``. Written in ``keras.ops``: it runs eagerly and in a
    traced graph (the SavedModel exports use it).

    Args:
        model: the tagger (a ``CRFModel`` is decoded with its CRF).
        outputs: ``model(ids)``: ``(batch, time, num_tags)`` probabilities
            or CRF potentials.
        mask: ``(batch, time)`` booleans, true at real steps.
        pad_tag: the padding tag's id.

    Returns:
        ``(batch, time)`` int32 tag ids.

    Example:

    >>> import numpy as np
    >>> model = build_tagger(3, vocab_size=5, units=4, crf=True)
    >>> ids = np.array([[2, 3, 0]])
    >>> tags = best_tags(model, model(ids), ids != 0)
    >>> tags = np.asarray(tags)
    >>> tags.shape, int(tags[0, 2]), 0 in tags[0, :2]  # 0: padding only
    ((1, 3), 0, False)
    """
    from keras import ops

    outputs = ops.convert_to_tensor(outputs)
    padding = ops.cast(ops.one_hot(pad_tag, outputs.shape[-1]), "bool")
    if isinstance(model, CRFModel):
        blocked = ops.where(padding, _NEVER, ops.cast(outputs, "float32"))
        tags, _ = model.crf.decode(blocked, mask)
    else:
        # Probabilities are >= 0: -1 never wins.
        blocked = ops.where(padding, ops.cast(-1.0, outputs.dtype), outputs)
        tags = ops.argmax(blocked, axis=-1)
    return ops.where(mask, ops.cast(tags, "int32"), ops.cast(pad_tag, "int32"))


# CRFModel -> a functional model on its layers that predicts the potentials
# (CRFModel.predict gives Viterbi tags); kept so that its compiled predict
# step is reused from split to split.
_POTENTIALS = weakref.WeakKeyDictionary()


def _predictor(model: keras.Model) -> keras.Model:
    if not isinstance(model, CRFModel):
        return model
    if model not in _POTENTIALS:
        _POTENTIALS[model] = keras.Model(
            model.inputs, model.outputs, name=f"{model.name}_potentials"
        )
    return _POTENTIALS[model]


def predict_tags(
    model: keras.Model,
    dataset,
    *,
    pad_id: int = 0,
    pad_tag: int = 0,
    batch_size: int = 256,
):
    """:func:`best_tags` of every example of a batched ``(ids, tags)`` dataset.

    The batches are padded to one width and predicted together
    (``model.predict``, ``batch_size`` rows a step: one compiled function,
    not one per batch shape); a ``CRFModel`` gives its potentials through a
    functional model on the same layers, and its Viterbi runs after it with
    the padding tag left out.

    Args:
        model: a softmax or CRF :func:`build_tagger` model.
        dataset: batches of ``(ids, targets)`` (or of ``ids``), ids padded
            with ``pad_id``.
        pad_id: the padding character id (those steps get ``pad_tag``).
        pad_tag: the padding tag's id.
        batch_size: rows per prediction step.

    Returns:
        A list of int32 rows, one per example, padded to the longest.

    Example:

    >>> import numpy as np
    >>> model = build_tagger(4, vocab_size=6, units=4)
    >>> rows = predict_tags(model, [(np.array([[2, 3, 0], [4, 0, 0]]), None)])
    >>> [row.tolist()[1:] for row in rows][1], len(rows)
    ([0, 0], 2)
    """
    import numpy as np

    batches = [
        np.asarray(batch[0] if isinstance(batch, (tuple, list)) else batch)
        for batch in dataset
    ]
    if not batches:
        return []
    width = max(batch.shape[1] for batch in batches)
    ids = np.concatenate(
        [
            np.pad(b, [(0, 0), (0, width - b.shape[1])], constant_values=pad_id)
            for b in batches
        ]
    )
    # Whole steps of batch_size rows (padding rows decode to pad_tag): every
    # split of a recipe's fixed-width data then runs one compiled step.
    rows = len(ids)
    steps = -(-rows // batch_size)
    ids = np.pad(ids, [(0, steps * batch_size - rows), (0, 0)], constant_values=pad_id)
    outputs = _predictor(model).predict(ids, batch_size=batch_size, verbose=0)
    tags = best_tags(model, outputs, ids != pad_id, pad_tag=pad_tag)
    return list(np.asarray(tags, np.int32)[:rows])
