"""Greedy decoding of an encoder-decoder."""

from __future__ import annotations

import keras
from keras import ops

from rnn_zoo.decoding.loop import check_decode_ids, decode_loop, encoder_decoder_inputs


def greedy_decode(
    model: keras.Model,
    source_ids,
    *,
    max_length: int,
    start_id: int,
    end_id: int,
):
    """Decodes each source with the most probable token at every step.

    Written in ``keras.ops``: it runs eagerly and traces inside a
    ``tf.function`` (e.g. a SavedModel's serving function).

    Args:
        model: a :func:`rnn_zoo.build_seq2seq` model (or its step decoder).
        source_ids: ``(batch, source_time)`` int token ids, 0 = padding.
        max_length: most target tokens per source.
        start_id: the token the decoder starts from.
        end_id: the token that ends a target (kept in the output).

    Returns:
        ``(batch, max_length)`` int32 target ids, 0 after ``end_id``.

    Example:

    >>> import numpy as np
    >>> from rnn_zoo import build_seq2seq
    >>> model = build_seq2seq(10, 12, units=8)
    >>> ids = greedy_decode(model, np.array([[3, 4, 5]]), max_length=6,
    ...                     start_id=1, end_id=2)
    >>> tuple(ids.shape)  # (batch, max_length)
    (1, 6)
    """
    steps, source_ids = encoder_decoder_inputs(model, source_ids, "greedy_decode")
    start_id, end_id = check_decode_ids(start_id, end_id, steps.vocab_size)
    states = steps.initial_states(source_ids)
    start = ops.full((ops.shape(source_ids)[0],), start_id, "int32")
    logits, states = steps.step(start, states)
    return decode_loop(
        steps,
        states,
        logits,
        max_length=max_length,
        end_id=end_id,
        select=lambda logits, i: ops.argmax(logits, axis=-1),
        banned=(0, start_id),
    )
