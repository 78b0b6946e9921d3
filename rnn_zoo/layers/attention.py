"""Attention for recurrent networks: mechanisms, pooling and the attention decoder.

Keras 3's ``Attention``/``AdditiveAttention`` score whole sequences at once;
a decoder that attends at every step (and feeds its attention back as input,
Luong et al., 2015) needs the score of one query against a memory that was
prepared once. The mechanisms here do both: ``prepare(memory)`` projects the
memory (the keys) once per source, ``attend(query, memory, keys, mask)``
scores one step's query, and ``call`` does both for a query sequence.

- :class:`BahdanauAttention`: additive (Bahdanau et al., 2015), optionally
  weight-normalized (Salimans & Kingma, 2016) as in ``tfa.seq2seq``.
- :class:`LuongAttention`: ``"dot"``, ``"general"`` or ``"concat"`` scores
  (Luong et al., 2015), optionally scaled by a learned scalar.
- :class:`AttentionPooling`: many-to-one, a learned query over a sequence.
- :class:`AttentionDecoderCell` / :class:`AttentionDecoder`: any rnn_zoo
  cell (or a stack of them) that attends to an encoder memory at every step.

Padded memory steps get exactly zero weight; a row whose memory is all
padding gets all-zero weights and a zero context (never NaN).
"""

from __future__ import annotations

import keras
from keras import ops

from rnn_zoo import _checks
from rnn_zoo.kernels.loop import scan
from rnn_zoo.layers.cell import RecurrentCell

# Scores of padded steps before the softmax: exp() of it underflows to 0.
_NEG = -1e9


def masked_softmax(scores, mask=None):
    """Softmax over the last axis that gives masked positions exactly zero weight.

    Args:
        scores: ``(..., keys)`` float scores.
        mask: boolean, broadcastable to ``scores``; ``False`` = padding.

    Returns:
        Weights shaped like ``scores``, in float32 or wider. Each row sums to
        1 over its valid positions; a row with no valid position is all 0.
    """
    dtype = (
        "float32"
        if keras.backend.standardize_dtype(scores.dtype)
        in (
            "float16",
            "bfloat16",
        )
        else scores.dtype
    )
    scores = ops.cast(scores, dtype)
    if mask is None:
        return ops.softmax(scores, axis=-1)
    mask = ops.cast(mask, "bool")
    weights = ops.softmax(ops.where(mask, scores, ops.full_like(scores, _NEG)), axis=-1)
    return weights * ops.cast(mask, dtype)


def _check_memory(layer_name, memory, memory_mask):
    if len(memory.shape) != 3:
        raise ValueError(
            f"Layer '{layer_name}' expects `memory` of rank 3 (batch, "
            f"memory_time, features). Received: memory.shape={tuple(memory.shape)}"
        )
    _checks.check_float(memory, layer_name, "memory")
    if memory_mask is not None:
        expected = tuple(memory.shape[:2])
        got = tuple(memory_mask.shape)
        if len(got) != 2 or any(
            a is not None and b is not None and a != b for a, b in zip(got, expected)
        ):
            raise ValueError(
                f"Layer '{layer_name}' expects `memory_mask` shaped (batch, "
                f"memory_time) = {expected}. Received: memory_mask.shape={got}"
            )


class AttentionMechanism(keras.layers.Layer):
    """Base class of the attention mechanisms: a query scores a memory.

    Subclasses implement ``build(query_shape, memory_shape)``,
    ``prepare(memory) -> keys`` and ``score(query, keys) -> (batch, [query_time,]
    memory_time)`` for a query ``(batch, [query_time,] query_dim)``.

    Call arguments:
        query: ``(batch, query_dim)`` (one step) or ``(batch, query_time,
            query_dim)``.
        memory: ``(batch, memory_time, memory_dim)``, e.g. encoder outputs.
        memory_mask: boolean ``(batch, memory_time)``; taken from the
            memory's Keras mask when not given.
        return_attention_scores: also return the weights.

    Returns:
        the context (``query``'s leading axes + ``memory_dim``) and, with
        ``return_attention_scores``, the weights (``query``'s leading axes +
        ``memory_time``).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def prepare(self, memory):
        """The memory's keys, computed once per source."""
        return memory

    def score(self, query, keys):
        raise NotImplementedError

    def attend(self, query, memory, keys, memory_mask=None):
        """``(context, weights)`` for a query against prepared ``keys``."""
        weights = masked_softmax(
            self.score(query, keys),
            None
            if memory_mask is None
            else (memory_mask if len(query.shape) == 2 else memory_mask[:, None, :]),
        )
        weights = ops.cast(weights, memory.dtype)
        if len(query.shape) == 2:
            context = ops.einsum("bk,bkd->bd", weights, memory)
        else:
            context = ops.einsum("bqk,bkd->bqd", weights, memory)
        return context, weights

    def call(self, query, memory, memory_mask=None, return_attention_scores=False):
        if len(query.shape) not in (2, 3):
            raise ValueError(
                f"Layer '{self.name}' expects `query` of rank 2 (batch, "
                "query_dim) or 3 (batch, query_time, query_dim). Received: "
                f"query.shape={tuple(query.shape)}"
            )
        _check_memory(self.name, memory, memory_mask)
        context, weights = self.attend(query, memory, self.prepare(memory), memory_mask)
        if return_attention_scores:
            return context, weights
        return context

    def compute_output_spec(
        self, query, memory, memory_mask=None, return_attention_scores=False
    ):
        lead = tuple(query.shape[:-1])
        context = keras.KerasTensor(
            lead + (memory.shape[-1],), dtype=self.compute_dtype
        )
        if return_attention_scores:
            return context, keras.KerasTensor(
                lead + (memory.shape[1],), dtype=self.compute_dtype
            )
        return context

    def compute_mask(self, query, previous_mask=None):
        return None


@keras.saving.register_keras_serializable(package="rnn_zoo")
class BahdanauAttention(AttentionMechanism):
    """Additive attention (Bahdanau et al., 2015), as ``tfa.seq2seq.BahdanauAttention``.

    ``score(q, k_j) = v . tanh(W_q q + W_m m_j)``. With ``normalize=True``,
    ``v`` is weight-normalized (``g * v / ||v||``, ``g`` a learned scalar) and
    a bias ``b`` joins the sum inside ``tanh``.

    Args:
        units: size of the projected query and keys.
        normalize: weight-normalize ``v`` and add the bias ``b``.

    Example:

    >>> import numpy as np
    >>> attention = BahdanauAttention(8)
    >>> memory = np.random.rand(2, 5, 6).astype("float32")
    >>> context, weights = attention(np.ones((2, 4), "float32"), memory,
    ...                              return_attention_scores=True)
    >>> tuple(context.shape), tuple(weights.shape)  # (batch, memory_dim), (batch, memory_time)
    ((2, 6), (2, 5))
    """

    def __init__(self, units, normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.units = _checks.check_units(units)
        self.normalize = bool(normalize)

    def build(self, query_shape, memory_shape):
        self.query_kernel = self.add_weight(
            shape=(query_shape[-1], self.units), name="query_kernel"
        )
        self.memory_kernel = self.add_weight(
            shape=(memory_shape[-1], self.units), name="memory_kernel"
        )
        self.v = self.add_weight(shape=(self.units,), name="v")
        if self.normalize:
            self.g = self.add_weight(
                shape=(),
                name="g",
                initializer=keras.initializers.Constant((1.0 / self.units) ** 0.5),
            )
            self.b = self.add_weight(shape=(self.units,), name="b", initializer="zeros")

    def prepare(self, memory):
        return ops.matmul(memory, ops.cast(self.memory_kernel, memory.dtype))

    def score(self, query, keys):
        dtype = keys.dtype
        q = ops.matmul(query, ops.cast(self.query_kernel, dtype))
        v = ops.cast(self.v, dtype)
        if len(query.shape) == 2:
            total = keys + q[:, None, :]  # (batch, memory_time, units)
        else:
            total = keys[:, None, :, :] + q[:, :, None, :]  # (b, q_time, m_time, units)
        if self.normalize:
            v = ops.cast(self.g, dtype) * v / ops.sqrt(ops.sum(v * v))
            total = total + ops.cast(self.b, dtype)
        return ops.sum(v * ops.tanh(total), axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "normalize": self.normalize})
        return config


LUONG_SCORES = ("dot", "general", "concat")


@keras.saving.register_keras_serializable(package="rnn_zoo")
class LuongAttention(AttentionMechanism):
    """Multiplicative attention (Luong et al., 2015).

    - ``"dot"``: ``score(q, m_j) = q . m_j`` (query and memory of one size);
    - ``"general"``: ``q . W m_j`` (as ``tfa.seq2seq.LuongAttention``);
    - ``"concat"``: ``v . tanh(W [q; m_j])``, with ``units`` the size of ``W``'s
      output.

    With ``scale=True`` the score is multiplied by a learned scalar ``g``
    (initialized to 1), as ``tfa``'s ``scale=True``.

    Args:
        score_mode: ``"dot"``, ``"general"`` or ``"concat"``.
        scale: learn a scalar that multiplies the scores.
        units: ``"concat"`` only: the hidden size (default: the query size).

    Example:

    >>> import numpy as np
    >>> attention = LuongAttention("general")
    >>> memory = np.random.rand(2, 5, 6).astype("float32")
    >>> tuple(attention(np.ones((2, 3, 4), "float32"), memory).shape)  # (b, q_time, m_dim)
    (2, 3, 6)
    """

    def __init__(self, score_mode="general", scale=False, units=None, **kwargs):
        super().__init__(**kwargs)
        self.score_mode = _checks.check_choice(score_mode, "score_mode", LUONG_SCORES)
        self.scale = bool(scale)
        self.units = None if units is None else _checks.check_units(units)

    def build(self, query_shape, memory_shape):
        query_dim, memory_dim = query_shape[-1], memory_shape[-1]
        if self.score_mode == "dot" and query_dim != memory_dim:
            raise ValueError(
                f"Layer '{self.name}' with score_mode='dot' needs the query and "
                "the memory to have the same feature size (use 'general' "
                f"otherwise). Received: query_dim={query_dim}, memory_dim={memory_dim}"
            )
        if self.score_mode == "general":
            self.memory_kernel = self.add_weight(
                shape=(memory_dim, query_dim), name="memory_kernel"
            )
        elif self.score_mode == "concat":
            units = self.units or query_dim
            self.query_kernel = self.add_weight(
                shape=(query_dim, units), name="query_kernel"
            )
            self.memory_kernel = self.add_weight(
                shape=(memory_dim, units), name="memory_kernel"
            )
            self.v = self.add_weight(shape=(units,), name="v")
        if self.scale:
            self.g = self.add_weight(shape=(), name="g", initializer="ones")

    def prepare(self, memory):
        if self.score_mode == "dot":
            return memory
        return ops.matmul(memory, ops.cast(self.memory_kernel, memory.dtype))

    def score(self, query, keys):
        dtype = keys.dtype
        if self.score_mode == "concat":
            q = ops.matmul(query, ops.cast(self.query_kernel, dtype))
            if len(query.shape) == 2:
                total = keys + q[:, None, :]
            else:
                total = keys[:, None, :, :] + q[:, :, None, :]
            scores = ops.sum(ops.cast(self.v, dtype) * ops.tanh(total), axis=-1)
        elif len(query.shape) == 2:
            scores = ops.einsum("bd,bkd->bk", query, keys)
        else:
            scores = ops.einsum("bqd,bkd->bqk", query, keys)
        if self.scale:
            scores = scores * ops.cast(self.g, dtype)
        return scores

    def get_config(self):
        config = super().get_config()
        config.update(
            {"score_mode": self.score_mode, "scale": self.scale, "units": self.units}
        )
        return config


MECHANISMS = {"bahdanau": BahdanauAttention, "luong": LuongAttention}


def get_attention(attention, units: int) -> AttentionMechanism:
    """An attention mechanism from a name (``"bahdanau"``, ``"luong"``) or a layer."""
    if isinstance(attention, AttentionMechanism):
        return attention
    if isinstance(attention, str) and attention.lower() in MECHANISMS:
        if attention.lower() == "bahdanau":
            return BahdanauAttention(units, name="attention")
        return LuongAttention("general", name="attention")
    raise ValueError(
        f"`attention` must be one of {sorted(MECHANISMS)} or an attention layer. "
        f"Received: attention={attention!r}"
    )


@keras.saving.register_keras_serializable(package="rnn_zoo")
class AttentionPooling(keras.layers.Layer):
    """Attention-weighted average of a sequence: many-to-one.

    ``score_t = v . tanh(W h_t + b)``; the weights are the masked softmax of
    the scores over time and the output is ``sum_t weight_t h_t`` (Yang et
    al., 2016; Raffel & Ellis, 2015).

    Args:
        units: hidden size of the scoring network (default: the feature size).

    Call arguments:
        sequences: ``(batch, timesteps, features)``.
        mask: boolean ``(batch, timesteps)``; padded steps get zero weight.
        return_attention_scores: also return the ``(batch, timesteps)`` weights.

    Example:

    >>> import numpy as np
    >>> pooled, weights = AttentionPooling()(np.ones((2, 7, 4), "float32"),
    ...                                      return_attention_scores=True)
    >>> tuple(pooled.shape), tuple(weights.shape)
    ((2, 4), (2, 7))
    """

    def __init__(self, units=None, **kwargs):
        super().__init__(**kwargs)
        self.units = None if units is None else _checks.check_units(units)
        self.supports_masking = True

    def build(self, sequences_shape):
        _checks.check_sequence_shape(sequences_shape, self.name, "sequences")
        features = sequences_shape[-1]
        units = self.units or features
        self.kernel = self.add_weight(shape=(features, units), name="kernel")
        self.bias = self.add_weight(shape=(units,), name="bias", initializer="zeros")
        self.v = self.add_weight(shape=(units,), name="v")

    def call(self, sequences, mask=None, return_attention_scores=False):
        _checks.check_sequence_shape(sequences.shape, self.name, "sequences")
        _checks.check_float(sequences, self.name, "sequences")
        _checks.check_mask(mask, sequences.shape, self.name)
        dtype = sequences.dtype
        hidden = ops.tanh(
            ops.matmul(sequences, ops.cast(self.kernel, dtype))
            + ops.cast(self.bias, dtype)
        )
        scores = ops.sum(hidden * ops.cast(self.v, dtype), axis=-1)
        weights = ops.cast(masked_softmax(scores, mask), dtype)
        pooled = ops.einsum("bt,btd->bd", weights, sequences)
        if return_attention_scores:
            return pooled, weights
        return pooled

    def compute_output_spec(self, sequences, mask=None, return_attention_scores=False):
        pooled = keras.KerasTensor(
            (sequences.shape[0], sequences.shape[-1]), dtype=self.compute_dtype
        )
        if return_attention_scores:
            return pooled, keras.KerasTensor(
                tuple(sequences.shape[:2]), dtype=self.compute_dtype
            )
        return pooled

    def compute_mask(self, sequences, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        return config


def _deserialize_cells(cells):
    # Configs (from get_config) are rebuilt; anything else is checked as is.
    return [
        keras.saving.deserialize_keras_object(c) if isinstance(c, dict) else c
        for c in cells
    ]


@keras.saving.register_keras_serializable(package="rnn_zoo")
class AttentionDecoderCell(keras.layers.Layer):
    """Any rnn_zoo cell (or a stack of them) that attends to a memory at every step.

    One step, as ``tfa.seq2seq.AttentionWrapper`` with Luong et al.'s input
    feeding:

    1. the cells read ``[input_t; attention_{t-1}]`` (the first cell) and the
       output of the cell below (the others);
    2. the top cell's output ``h_t`` queries the memory: weights ``a_t`` and
       context ``c_t = sum_j a_tj m_j``;
    3. ``attention_t = tanh(W_c [h_t; c_t])`` is the step's output and is fed
       to the next step.

    The states are the cells' states (bottom to top) followed by
    ``attention_{t-1}``. :class:`AttentionDecoder` runs the cell over a whole
    (teacher-forced) sequence; :meth:`step` runs it one step at a time with
    the same weights (for greedy, beam and sampled decoding).

    Args:
        cells: an rnn_zoo ``RecurrentCell`` or a list of them, bottom first.
        attention: an attention mechanism layer.
        attention_units: size of ``attention_t`` (default: the top cell's
            units).
        dropout: in ``[0, 1)``, dropout between stacked cells (training only).
        seed: seed of that dropout.

    Example:

    >>> import numpy as np
    >>> from rnn_zoo.layers import LSTMCell
    >>> cell = AttentionDecoderCell(LSTMCell(8), LuongAttention("general"))
    >>> memory = np.random.rand(2, 5, 6).astype("float32")
    >>> cell.build((None, 3), memory.shape)
    >>> states = [np.zeros((2, n), "float32") for n in cell.state_size]
    >>> keys = cell.attention.prepare(memory)
    >>> out, states, weights = cell.step(np.ones((2, 3), "float32"), states,
    ...                                  memory, keys)
    >>> tuple(out.shape), tuple(weights.shape)  # (batch, attention_units), (batch, memory_time)
    ((2, 8), (2, 5))
    """

    def __init__(
        self, cells, attention, attention_units=None, dropout=0.0, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        cells = _deserialize_cells(
            cells if isinstance(cells, (list, tuple)) else [cells]
        )
        if not cells or not all(isinstance(c, RecurrentCell) for c in cells):
            raise TypeError(
                "`cells` must be an rnn_zoo RecurrentCell or a non-empty list of "
                f"them. Received: cells={cells!r}"
            )
        for i, cell in enumerate(cells):
            if cell.step_noise_reason:
                # Its per-step noise comes from a sequence layer's call
                # (RecurrentCell.step_noise); this cell's loop draws none.
                raise ValueError(
                    f"`cells[{i}]` ({type(cell).__name__}) draws noise at every "
                    "step, which the sequence layers (RNN and the named layers) "
                    "do and an attention decoder does not: expected a cell "
                    f"without it. Received: {cell.step_noise_reason}"
                )
        if isinstance(attention, dict):
            attention = keras.saving.deserialize_keras_object(attention)
        if not isinstance(attention, AttentionMechanism):
            raise TypeError(
                "`attention` must be an rnn_zoo attention layer (BahdanauAttention, "
                f"LuongAttention). Received: attention={attention!r}"
            )
        self.cells = cells
        self.attention = attention
        self.attention_units = (
            cells[-1].units
            if attention_units is None
            else _checks.check_units(attention_units, "attention_units")
        )
        self.dropout = _checks.check_rate(dropout, "dropout")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.attention_layer = keras.layers.Dense(
            self.attention_units,
            activation="tanh",
            use_bias=False,
            name="attention_layer",
        )

    @property
    def state_size(self) -> list[int]:
        return [s for c in self.cells for s in c.state_size] + [self.attention_units]

    @property
    def output_size(self) -> int:
        return self.attention_units

    def build(self, input_shape, memory_shape):
        self.input_dim = int(input_shape[-1])
        self.memory_dim = int(memory_shape[-1])
        size = self.input_dim + self.attention_units
        for c in self.cells:
            if not c.built:
                c.build((None, size))
            size = c.units
        top = self.cells[-1].units
        if not self.attention.built:
            self.attention.build((None, top), (None, None, self.memory_dim))
        self.attention_layer.build((None, top + self.memory_dim))
        self.built = True

    # The pieces AttentionDecoder hoists out of the time loop -----------------

    def step_weights(self, dtype):
        """Every cell's weights cast once; the first cell's input kernel split
        into the part for the inputs and the part for the fed-back attention."""
        weights = [c.step_weights(dtype) for c in self.cells]
        first = dict(weights[0])
        first["input_kernel"] = first["kernel"][: self.input_dim]
        first["feed_kernel"] = first["kernel"][self.input_dim :]
        weights[0] = first
        return weights

    @property
    def hoists_projection(self) -> bool:
        """Whether the inputs' share of the first cell's projection can be
        computed for all steps at once and the fed-back attention's added at
        each step (``RecurrentCell.projection_splits_by_rows``); otherwise
        each step projects ``[inputs, attention]`` whole."""
        return self.cells[0].projection_splits_by_rows

    def project_inputs(self, inputs, weights):
        """The first cell's input projection of ``inputs`` (any leading axes)."""
        return self.cells[0].project_inputs(
            inputs, dict(weights[0], kernel=weights[0]["input_kernel"])
        )

    def step(
        self,
        inputs,
        states,
        memory,
        keys,
        memory_mask=None,
        training=False,
        weights=None,
        projected=None,
        masks=None,
    ):
        """One decoder step: ``(attention_t, new_states, weights_t)``.

        Args:
            inputs: ``(batch, input_dim)`` (ignored when ``projected`` is given).
            states: :attr:`state_size` tensors.
            memory: ``(batch, memory_time, memory_dim)``.
            keys: ``self.attention.prepare(memory)``.
            memory_mask: boolean ``(batch, memory_time)``.
            training: enables dropout between cells.
            weights, projected, masks: what :class:`AttentionDecoder` computed
                once per sequence (``step_weights``, ``project_inputs`` of this
                step, each cell's dropout masks).
        """
        states = list(states)
        if len(states) != len(self.state_size):
            raise ValueError(
                f"Layer '{self.name}' expects `states` to be a list of "
                f"{len(self.state_size)} tensors (the cells' states, then the "
                f"previous attention). Received: {len(states)} tensor(s)"
            )
        dtype = memory.dtype
        if weights is None:
            weights = self.step_weights(dtype)
        if masks is None:
            masks = [(None, None)] * len(self.cells)
        feed = states[-1]
        input_mask, recurrent_mask = masks[0]
        if input_mask is not None:
            feed = feed * input_mask[:, self.input_dim :]
        if not self.hoists_projection:
            # [inputs, fed-back attention] through the cell's own projection.
            x = (
                inputs
                if input_mask is None
                else inputs * input_mask[:, : self.input_dim]
            )
            projected = self.cells[0].project_inputs(
                ops.concatenate([x, feed], axis=-1), weights[0]
            )
        else:
            if projected is None:
                x = (
                    inputs
                    if input_mask is None
                    else inputs * input_mask[:, : self.input_dim]
                )
                projected = self.project_inputs(x, weights)
            projected = projected + ops.matmul(feed, weights[0]["feed_kernel"])
        new_states = []
        offset = 0
        x = None
        for i, cell in enumerate(self.cells):
            count = len(cell.state_size)
            cell_states = states[offset : offset + count]
            offset += count
            if i > 0:
                if training and self.dropout > 0:
                    x = keras.random.dropout(x, self.dropout, seed=self.seed_generator)
                input_mask, recurrent_mask = masks[i]
                if input_mask is not None:
                    x = x * input_mask
                projected = cell.project_inputs(x, weights[i])
            x, cell_states = cell.step(
                projected, cell_states, weights[i], recurrent_mask
            )
            new_states += list(cell_states)
        context, alignments = self.attention.attend(x, memory, keys, memory_mask)
        attention = self.attention_layer(ops.concatenate([x, context], axis=-1))
        return attention, new_states + [attention], alignments

    def dropout_masks(self, batch_size, dtype, training):
        masks = []
        size = self.input_dim + self.attention_units
        for cell in self.cells:
            masks.append(cell.dropout_masks(batch_size, size, dtype, training))
            size = cell.units
        return masks

    def call(self, inputs, states, memory, memory_mask=None, training=False):
        """One step from raw inputs (prepares the memory's keys on each call)."""
        _check_memory(self.name, memory, memory_mask)
        keys = self.attention.prepare(memory)
        masks = self.dropout_masks(ops.shape(inputs)[0], memory.dtype, training)
        return self.step(
            inputs, states, memory, keys, memory_mask, training=training, masks=masks
        )

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, n), dtype=self.compute_dtype)
            for n in self.state_size
        ]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "cells": [keras.saving.serialize_keras_object(c) for c in self.cells],
                "attention": keras.saving.serialize_keras_object(self.attention),
                "attention_units": self.attention_units,
                "dropout": self.dropout,
                "seed": self.seed,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="rnn_zoo")
class AttentionDecoder(keras.layers.Layer):
    """Runs an :class:`AttentionDecoderCell` over a (teacher-forced) sequence.

    Keras 3's ``RNN`` takes no ``constants``; this layer passes the encoder
    memory (and its mask) to every step, prepares the attention keys once and
    hoists the first cell's input projection out of the loop.

    Args:
        cell: an :class:`AttentionDecoderCell`.
        return_alignments: also return the alignment history ``(batch,
            timesteps, memory_time)`` (row ``t`` = step ``t``'s weights).
        return_state: also return the final states.

    Call arguments:
        inputs: ``(batch, timesteps, features)``, e.g. embedded target ids
            shifted right.
        memory: ``(batch, memory_time, memory_dim)``.
        initial_state: the cells' states (the fed-back attention then starts
            at zeros) or all of :attr:`AttentionDecoderCell.state_size`.
        inputs_mask, memory_mask: boolean masks; taken from the tensors' Keras
            masks when not given. At a padded input step the states carry
            over and the output is zeros.
        training: enables dropout.

    Returns:
        ``outputs`` ``(batch, timesteps, attention_units)``, then the
        alignments (``return_alignments``), then the final states
        (``return_state``).

    Example:

    >>> import numpy as np
    >>> from rnn_zoo.layers import GRUCell
    >>> decoder = AttentionDecoder(
    ...     AttentionDecoderCell(GRUCell(8), BahdanauAttention(8)),
    ...     return_alignments=True)
    >>> memory = np.random.rand(2, 5, 6).astype("float32")
    >>> out, alignments = decoder(np.ones((2, 4, 3), "float32"), memory)
    >>> tuple(out.shape), tuple(alignments.shape)  # (b, t, units), (b, t, memory_time)
    ((2, 4, 8), (2, 4, 5))
    """

    def __init__(self, cell, return_alignments=False, return_state=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        if not isinstance(cell, AttentionDecoderCell):
            raise TypeError(
                f"`cell` must be an AttentionDecoderCell. Received: cell={cell!r}"
            )
        self.cell = cell
        self.return_alignments = bool(return_alignments)
        self.return_state = bool(return_state)
        self.supports_masking = True

    @property
    def state_size(self):
        return self.cell.state_size

    def build(self, inputs_shape, memory_shape, initial_state_shape=None):
        _checks.check_sequence_shape(inputs_shape, self.name, "inputs")
        _checks.check_sequence_shape(memory_shape, self.name, "memory")
        if not self.cell.built:
            self.cell.build(
                tuple(inputs_shape[:1]) + tuple(inputs_shape[2:]), memory_shape
            )
        self.built = True

    def _initial_state(self, initial_state, batch, dtype):
        sizes = self.state_size
        if initial_state is None:
            return self.cell.get_initial_state(batch)
        initial_state = list(initial_state)
        if len(initial_state) == len(sizes) - 1:
            initial_state.append(ops.zeros((batch, sizes[-1]), dtype))
        if len(initial_state) != len(sizes):
            raise ValueError(
                f"Layer '{self.name}' expects `initial_state` to be a list of "
                f"{len(sizes) - 1} (the cells' states) or {len(sizes)} tensors. "
                f"Received: {len(initial_state)} tensor(s)"
            )
        for i, (state, size) in enumerate(zip(initial_state, sizes)):
            if len(state.shape) != 2 or state.shape[-1] != size:
                raise ValueError(
                    f"Layer '{self.name}' expects initial_state[{i}] shaped "
                    f"(batch, {size}). Received: shape {tuple(state.shape)}"
                )
        return [ops.cast(s, dtype) for s in initial_state]

    def call(
        self,
        inputs,
        memory,
        initial_state=None,
        inputs_mask=None,
        memory_mask=None,
        training=False,
    ):
        _checks.check_sequence_shape(inputs.shape, self.name, "inputs")
        _checks.check_float(inputs, self.name, "inputs")
        _check_memory(self.name, memory, memory_mask)
        _checks.check_mask(inputs_mask, inputs.shape, self.name)
        dtype = self.compute_dtype
        inputs = ops.cast(inputs, dtype)
        memory = ops.cast(memory, dtype)
        batch = ops.shape(inputs)[0]
        states = self._initial_state(initial_state, batch, dtype)
        cell = self.cell
        weights = cell.step_weights(dtype)
        masks = cell.dropout_masks(batch, dtype, training)
        input_mask = masks[0][0]
        x = inputs
        hoisted = cell.hoists_projection
        if hoisted:
            if input_mask is not None:
                x = x * input_mask[:, None, : cell.input_dim]
            x = cell.project_inputs(x, weights)  # (batch, time, gates*units)
        keys = cell.attention.prepare(memory)

        xs = ops.transpose(x, (1, 0, 2))
        if inputs_mask is not None:
            xs = (xs, ops.transpose(ops.cast(inputs_mask, "bool"), (1, 0))[:, :, None])
        memory_time = ops.shape(memory)[1]

        def body(carry, x_t):
            if inputs_mask is not None:
                x_t, m_t = x_t
            out, new_states, alignments = cell.step(
                None if hoisted else x_t,
                carry,
                memory,
                keys,
                memory_mask,
                training=training,
                weights=weights,
                projected=x_t if hoisted else None,
                masks=masks,
            )
            new_states = [ops.cast(n, s.dtype) for n, s in zip(new_states, carry)]
            alignments = ops.cast(alignments, dtype)
            if inputs_mask is not None:
                new_states = [ops.where(m_t, n, s) for n, s in zip(new_states, carry)]
                out = ops.where(m_t, out, ops.zeros_like(out))
                alignments = ops.where(m_t, alignments, ops.zeros_like(alignments))
            return new_states, (out, alignments)

        ys_like = (
            ops.zeros((batch, cell.attention_units), dtype),
            ops.zeros((batch, memory_time), dtype),
        )
        final_states, (outputs, alignments) = scan(body, states, xs, ys_like)
        outputs = ops.transpose(outputs, (1, 0, 2))
        result = [outputs]
        if self.return_alignments:
            result.append(ops.transpose(alignments, (1, 0, 2)))
        if self.return_state:
            result += list(final_states)
        return result[0] if len(result) == 1 else result

    def compute_output_spec(
        self,
        inputs,
        memory,
        initial_state=None,
        inputs_mask=None,
        memory_mask=None,
        training=False,
    ):
        batch, time = inputs.shape[0], inputs.shape[1]
        dtype = self.compute_dtype
        result = [
            keras.KerasTensor((batch, time, self.cell.attention_units), dtype=dtype)
        ]
        if self.return_alignments:
            result.append(
                keras.KerasTensor((batch, time, memory.shape[1]), dtype=dtype)
            )
        if self.return_state:
            result += [
                keras.KerasTensor((batch, n), dtype=dtype) for n in self.state_size
            ]
        return result[0] if len(result) == 1 else result

    def compute_mask(self, inputs, previous_mask=None):
        # Keras passes the first argument and its mask: the target steps'.
        extra = int(self.return_alignments) + (
            len(self.state_size) if self.return_state else 0
        )
        if extra:
            return [previous_mask] + [None] * extra
        return previous_mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "cell": keras.saving.serialize_keras_object(self.cell),
                "return_alignments": self.return_alignments,
                "return_state": self.return_state,
            }
        )
        return config
