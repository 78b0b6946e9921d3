"""build_seq2seq: encoder-decoder for unaligned sequence pairs."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from rnn_zoo import _checks
from rnn_zoo.layers import (
    AttentionDecoder,
    AttentionDecoderCell,
    BahdanauAttention,
    LuongAttention,
    StackedRNN,
    get_sequence_layer,
)
from rnn_zoo.models import _body

# The attention build_seq2seq accepts: None, or a mechanism by name.
ATTENTION = (None, "bahdanau", "luong")


def _bridge(get, encoder_states, *, num_layers: int, bidirectional: bool) -> list:
    """Encoder final states -> decoder initial states, layer by layer.

    A bidirectional layer's forward and backward states are concatenated and
    projected to the decoder's size (``bridge_{layer}_{state}``, tanh).
    """
    if not bidirectional:
        return list(encoder_states)
    per_layer = len(encoder_states) // num_layers
    per_direction = per_layer // 2
    bridged = []
    for i in range(num_layers):
        layer_states = encoder_states[i * per_layer : (i + 1) * per_layer]
        for s in range(per_direction):
            both = get(f"bridge_concat_{i}_{s}")(
                [layer_states[s], layer_states[per_direction + s]]
            )
            bridged.append(get(f"bridge_{i}_{s}")(both))
    return bridged


def build_seq2seq(
    source_vocab_size: int,
    target_vocab_size: int,
    *,
    cell: str = "lstm",
    units: int = 256,
    num_layers: int = 1,
    bidirectional: bool = True,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    embedding_dim: int | None = None,
    embeddings=None,
    target_embeddings=None,
    freeze_embeddings: bool = False,
    attention: str | None = None,
    name: str | None = None,
    **cell_kwargs,
) -> keras.Model:
    """Builds an encoder-decoder trained with teacher forcing.

    The encoder (``num_layers``, optionally bidirectional) reads the source;
    its final states, bridged layer by layer, start the decoder, which reads
    the target shifted right and predicts the next target token at every
    step. Decode new sources with :func:`rnn_zoo.greedy_decode`,
    :func:`rnn_zoo.beam_search` or :func:`rnn_zoo.sample_decode`, or wrap the
    model in :func:`rnn_zoo.build_decoding_model` to make decoding part of a
    Keras model (saved, exported and served with it).

    Inputs (a dict): ``source_ids`` ``(batch, source_time)`` and
    ``target_ids`` ``(batch, target_time)`` = start id + target without its
    last token; id 0 is padding and is masked in both. Targets for the loss:
    the target followed by the end id, 0 on padding.

    Args:
        source_vocab_size: source vocabulary size, padding id 0 included.
        target_vocab_size: target vocabulary size, padding id 0 included.
        cell: a registered cell name.
        units: recurrent units per layer (per direction in the encoder).
        num_layers: layers in the encoder and in the decoder.
        bidirectional: a bidirectional encoder (states are bridged by a dense
            layer per state).
        dropout: in ``[0, 1)``, on embeddings, between layers and before the
            output layer.
        recurrent_dropout: in ``[0, 1)``, dropout on the recurrent state.
        embedding_dim: size of the source and target embeddings (by default
            the width of ``embeddings`` or ``target_embeddings``, else 64).
        embeddings: a pretrained ``(source_vocab_size, embedding_dim)``
            matrix the source embeddings start from (e.g.
            :func:`rnn_zoo.data.glove.embedding_matrix`).
        target_embeddings: the same for the target vocabulary.
        freeze_embeddings: keep the pretrained matrices fixed during training
            (default: fine-tune them).
        attention: ``None`` (the decoder reads only the bridged states),
            ``"bahdanau"`` (additive) or ``"luong"`` (multiplicative,
            ``"general"`` score): the decoder is then an
            :class:`rnn_zoo.layers.AttentionDecoder` that attends to the
            encoder outputs at every step and feeds its attention back as
            input (Luong et al., 2015).
        name: the model's name.
        **cell_kwargs: passed to every recurrent layer.

    Returns:
        An uncompiled ``keras.Model`` with output ``logits`` ``(batch,
        target_time, target_vocab_size)``: compile with
        ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``.

    Example:

    >>> model = build_seq2seq(30, 40, units=32)
    >>> model.output_shape  # (batch, target_time, target_vocab_size)
    (None, None, 40)
    """
    source_vocab_size = _checks.check_positive_int(
        source_vocab_size, "source_vocab_size"
    )
    target_vocab_size = _checks.check_positive_int(
        target_vocab_size, "target_vocab_size"
    )
    if embedding_dim is None:
        for matrix in (embeddings, target_embeddings):
            if matrix is not None and np.ndim(matrix) == 2:
                embedding_dim = np.shape(matrix)[1]
                break
        else:
            embedding_dim = _body.DEFAULT_EMBEDDING_DIM
    embedding_dim = _checks.check_positive_int(embedding_dim, "embedding_dim")
    if isinstance(attention, str):
        attention = attention.lower()
    if attention not in ATTENTION:
        raise ValueError(
            f"`attention` must be one of {list(ATTENTION)}. Received: attention={attention!r}"
        )
    dropout = _body.check_common(cell=cell, num_layers=num_layers, dropout=dropout)
    units = _checks.check_units(units)
    bidirectional = bool(bidirectional)

    layers = {}

    def add(layer):
        layers[layer.name] = layer
        return layer

    source_ids = keras.Input(shape=(None,), dtype="int32", name="source_ids")
    target_ids = keras.Input(shape=(None,), dtype="int32", name="target_ids")

    # Encoder: its outputs (the memory the attention decoder reads) and its
    # final states.
    x = _body.token_embedding(
        source_ids,
        vocab_size=source_vocab_size,
        embedding_dim=embedding_dim,
        name="source_embedding",
        embeddings=embeddings,
        freeze_embeddings=freeze_embeddings and embeddings is not None,
    )
    if dropout:
        x = keras.layers.Dropout(dropout, name="source_dropout")(x)
    encoder = StackedRNN(
        cell,
        units=units,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        return_sequences=True,
        return_state=True,
        name="encoder",
        **cell_kwargs,
    )
    memory, *encoder_states = encoder(x)  # memory: (batch, source_time, features)
    if bidirectional:
        per_direction = len(encoder.state_size) // num_layers // 2
        for i in range(num_layers):
            for s in range(per_direction):
                # Each state keeps its own size (not every cell's states are
                # `units` wide: QRNN carries its previous input's share).
                size = encoder.state_size[2 * per_direction * i + s]
                add(keras.layers.Concatenate(name=f"bridge_concat_{i}_{s}"))
                add(keras.layers.Dense(size, activation="tanh", name=f"bridge_{i}_{s}"))
    states = _bridge(
        layers.__getitem__,
        encoder_states,
        num_layers=num_layers,
        bidirectional=bidirectional,
    )

    # Decoder, teacher-forced.
    y = _body.token_embedding(
        target_ids,
        vocab_size=target_vocab_size,
        embedding_dim=embedding_dim,
        name="target_embedding",
        embeddings=target_embeddings,
        freeze_embeddings=freeze_embeddings and target_embeddings is not None,
        argument="target_embeddings",
    )
    if dropout:
        y = keras.layers.Dropout(dropout, name="target_dropout")(y)
    if attention is None:
        y = StackedRNN(
            cell,
            units=units,
            num_layers=num_layers,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            return_sequences=True,
            name="decoder",
            **cell_kwargs,
        )(y, initial_state=states)
    else:
        cell_class = get_sequence_layer(cell).cell_class
        cells = [
            cell_class(
                units,
                recurrent_dropout=recurrent_dropout,
                name=f"cell_{i}",
                **cell_kwargs,
            )
            for i in range(num_layers)
        ]
        if attention == "bahdanau":
            mechanism = BahdanauAttention(units, name="attention")
        else:
            mechanism = LuongAttention("general", name="attention")
        y = AttentionDecoder(
            AttentionDecoderCell(cells, mechanism, dropout=dropout, name="cell"),
            name="decoder",
        )(y, memory, initial_state=states)
    if dropout:
        y = keras.layers.Dropout(dropout, name="output_dropout")(y)
    logits = keras.layers.Dense(target_vocab_size, name="logits")(y)
    return keras.Model(
        {"source_ids": source_ids, "target_ids": target_ids},
        logits,
        name=name or f"{cell}_seq2seq",
    )


class Seq2SeqSteps:
    """Runs a :func:`build_seq2seq` model's decoder one token at a time.

    The decoding functions of :mod:`rnn_zoo.decoding` drive it; it reuses the
    model's own layers, so it always has the trained weights.

    The states it passes around are the decoder's recurrent states; with
    attention they are followed by the last step's alignments ``(batch,
    source_time)`` and then :attr:`num_constants` tensors that never change
    during decoding (the encoder memory, its attention keys and its mask).
    Beam search reorders the first part and only tiles the constants.

    Args:
        model: a model from :func:`build_seq2seq` (or its ``.keras`` reload).
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self.encoder = model.get_layer("encoder")
        self.source_embedding = model.get_layer("source_embedding")
        self.embedding = model.get_layer("target_embedding")
        self.decoder = model.get_layer("decoder")
        self.logits = model.get_layer("logits")
        self.attention = isinstance(self.decoder, AttentionDecoder)
        # memory, keys, memory mask
        self.num_constants = 3 if self.attention else 0

    @property
    def vocab_size(self) -> int:
        return self.embedding.input_dim

    @property
    def max_source_id(self) -> int:
        return self.source_embedding.input_dim - 1

    def initial_states(self, source_ids) -> list:
        """Encodes ``(batch, source_time)`` ids into the decoder's first states."""
        source_ids = ops.cast(source_ids, "int32")
        mask = ops.not_equal(source_ids, 0)
        x = self.source_embedding(source_ids)
        memory, *states = self.encoder(x, mask=mask)
        states = _bridge(
            self.model.get_layer,
            states,
            num_layers=self.encoder.num_layers,
            bidirectional=self.encoder.bidirectional,
        )
        if not self.attention:
            return states
        cell = self.decoder.cell
        batch = ops.shape(source_ids)[0]
        dtype = self.decoder.compute_dtype
        memory = ops.cast(memory, dtype)
        feed = ops.zeros((batch, cell.attention_units), dtype)
        alignments = ops.zeros(ops.shape(source_ids), dtype)
        keys = cell.attention.prepare(memory)
        return [*states, feed, alignments, memory, keys, mask]

    def alignments(self, states):
        """The last step's ``(batch, source_time)`` attention weights, or ``None``."""
        return states[-self.num_constants - 1] if self.attention else None

    def step(self, tokens, states):
        """``(batch,)`` token ids -> ``((batch, vocab) logits, new states)``."""
        x = self.embedding(ops.cast(tokens, "int32"))
        if not self.attention:
            output, states = self.decoder.step(x, states)
            return self.logits(output), states
        states = list(states)
        memory, keys, mask = states[-3:]
        decoder_states = states[: -self.num_constants - 1]
        x = ops.cast(x, memory.dtype)
        output, decoder_states, alignments = self.decoder.cell.step(
            x, decoder_states, memory, keys, mask
        )
        alignments = ops.cast(alignments, states[-4].dtype)
        return self.logits(output), [*decoder_states, alignments, memory, keys, mask]
