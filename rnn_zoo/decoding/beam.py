"""Beam search over an encoder-decoder, with Wu et al. (2016)'s length and coverage penalties."""

from __future__ import annotations

import numbers

import keras
from keras import ops

from rnn_zoo import _checks
from rnn_zoo.decoding.loop import (
    NEG,
    allowed_ids,
    check_decode_ids,
    encoder_decoder_inputs,
)


def length_penalty(lengths, alpha: float):
    """``lp(Y) = ((5 + |Y|) / 6) ** alpha`` (Wu et al., 2016, eq. 14).

    A hypothesis is ranked by ``log P(Y|X) / lp(Y)``: ``alpha = 0`` ranks by
    log-probability alone; a larger ``alpha`` favours longer hypotheses.
    """
    lengths = ops.cast(lengths, "float32")
    return ops.power((5.0 + lengths) / 6.0, alpha)


def coverage_penalty(coverage, mask, beta: float):
    """``cp(X; Y) = beta * sum_i log(min(sum_j p_ij, 1))`` over the valid source steps.

    ``coverage`` is the attention each source step received, summed over the
    target steps so far ``(..., source_time)``; padded source steps
    (``mask`` False) are left out. It is 0 for a hypothesis that covered
    every source step fully, negative otherwise.
    """
    covered = ops.log(ops.clip(ops.minimum(coverage, 1.0), 1e-10, 1.0))
    return beta * ops.sum(ops.where(mask, covered, ops.zeros_like(covered)), axis=-1)


def _check_penalty(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number >= 0. Received: {name}={value!r}")
    if not value >= 0 or value == float("inf"):
        raise ValueError(
            f"`{name}` must be a finite number >= 0. Received: {name}={value!r}"
        )
    return float(value)


def check_beam_arguments(beam_width, length_penalty_weight, coverage_penalty_weight):
    beam_width = _checks.check_positive_int(beam_width, "beam_width")
    return (
        beam_width,
        _check_penalty(length_penalty_weight, "length_penalty"),
        _check_penalty(coverage_penalty_weight, "coverage_penalty"),
    )


def beam_search(
    model: keras.Model,
    source_ids,
    *,
    beam_width: int,
    max_length: int,
    start_id: int,
    end_id: int,
    length_penalty: float = 0.0,
    coverage_penalty: float = 0.0,
):
    """Decodes each source with beam search.

    At every step each of the ``beam_width`` hypotheses is extended by every
    token and the ``beam_width`` best of the ``beam_width * vocab``
    candidates are kept, ranked by

        ``score(Y, X) = log P(Y|X) / lp(Y) + cp(X; Y)``

    with Wu et al. (2016)'s length penalty ``lp(Y) = ((5 + |Y|) / 6) **
    length_penalty`` and, for a model with attention and a hypothesis that
    has ended, the coverage penalty ``cp = coverage_penalty * sum_i log(min(
    sum_j a_ij, 1))``, as ``tfa.seq2seq.BeamSearchDecoder`` ranks them. A
    hypothesis ends at ``end_id`` (which counts in its length) and then keeps
    its score. Search stops when every hypothesis has ended or after
    ``max_length`` tokens. Padding (0) and ``start_id`` are never picked.

    Written in ``keras.ops``: it runs eagerly and traces inside a
    ``tf.function`` (e.g. a SavedModel's serving function). With
    ``beam_width=1`` it returns greedy decoding's tokens.

    Args:
        model: a :func:`rnn_zoo.build_seq2seq` model (or its step decoder).
        source_ids: ``(batch, source_time)`` int token ids, 0 = padding.
        beam_width: hypotheses kept per source (>= 1).
        max_length: most target tokens per hypothesis.
        start_id: the token the decoder starts from.
        end_id: the token that ends a hypothesis (kept in the output).
        length_penalty: ``alpha >= 0``.
        coverage_penalty: ``beta >= 0``; needs a model with attention.

    Returns:
        ``(ids, scores)``: ``(batch, beam_width, max_length)`` int32 token
        ids (0 after a hypothesis's end id) and ``(batch, beam_width)``
        float32 scores, best first.

    Example:

    >>> import numpy as np
    >>> from rnn_zoo import build_seq2seq
    >>> model = build_seq2seq(10, 12, units=8, attention="luong")
    >>> ids, scores = beam_search(model, np.array([[3, 4, 5]]), beam_width=4,
    ...                           max_length=6, start_id=1, end_id=2)
    >>> tuple(ids.shape), tuple(scores.shape)  # (batch, beam, length), (batch, beam)
    ((1, 4, 6), (1, 4))
    """
    steps, source_ids = encoder_decoder_inputs(model, source_ids, "beam_search")
    start_id, end_id = check_decode_ids(start_id, end_id, steps.vocab_size)
    beam_width, alpha, beta = check_beam_arguments(
        beam_width, length_penalty, coverage_penalty
    )
    max_length = _checks.check_positive_int(max_length, "max_length")
    if beta and not getattr(steps, "attention", False):
        raise ValueError(
            "`coverage_penalty` needs a model with attention (build_seq2seq("
            f"attention=...)). Received: coverage_penalty={coverage_penalty}"
        )
    states = steps.initial_states(source_ids)
    return beam_search_states(
        steps,
        states,
        ops.shape(source_ids)[0],
        beam_width=beam_width,
        max_length=max_length,
        start_id=start_id,
        end_id=end_id,
        alpha=alpha,
        beta=beta,
    )


def beam_search_states(
    steps,
    states: list,
    batch,
    *,
    beam_width: int,
    max_length: int,
    start_id: int,
    end_id: int,
    alpha: float = 0.0,
    beta: float = 0.0,
    banned: tuple[int, ...] | None = None,
):
    """:func:`beam_search` from a step decoder's initial ``states`` (arguments checked)."""
    k = beam_width
    num_constants = getattr(steps, "num_constants", 0)
    num_variable = len(states) - num_constants
    # Row b * k + j holds hypothesis j of source b.
    states = [ops.repeat(s, k, axis=0) for s in states]
    constants = states[num_variable:]
    logits, states = steps.step(ops.full((batch * k,), start_id, "int32"), states)
    vocab = logits.shape[-1]
    allowed = allowed_ids(vocab, (0, start_id) if banned is None else banned)
    # A hypothesis that has ended can only be followed by padding, at no cost.
    ended_row = ops.convert_to_tensor([0.0] + [NEG] * (vocab - 1), "float32")
    is_end = ops.equal(ops.arange(vocab, dtype="int32"), end_id)
    positions = ops.arange(max_length, dtype="int32")
    offsets = ops.arange(batch, dtype="int32")[:, None] * k  # (batch, 1)

    # Only the first hypothesis is live at the start, so the k best of its
    # extensions fill the beam (not k copies of one).
    log_probs = ops.tile(
        ops.convert_to_tensor([[0.0] + [NEG] * (k - 1)], "float32"), (batch, 1)
    )
    finished = ops.zeros((batch, k), "bool")
    lengths = ops.zeros((batch, k), "int32")
    ids = ops.zeros((batch, k, max_length), "int32")
    use_coverage = beta > 0
    if use_coverage:
        source_mask = constants[-1]  # (batch * k, source_time)
        coverage = ops.zeros(ops.shape(source_mask), "float32")
    else:
        coverage = ops.zeros((batch * k, 1), "float32")

    def cond(i, logits, states, log_probs, finished, lengths, ids, coverage):
        return ops.logical_and(i < max_length, ops.logical_not(ops.all(finished)))

    def body(i, logits, states, log_probs, finished, lengths, ids, coverage):
        logits = ops.where(allowed, ops.cast(logits, "float32"), NEG)
        step_log_probs = ops.reshape(
            ops.log_softmax(logits, axis=-1), (batch, k, vocab)
        )
        step_log_probs = ops.where(finished[:, :, None], ended_row, step_log_probs)
        total = log_probs[:, :, None] + step_log_probs  # (batch, k, vocab)
        new_lengths = lengths + ops.cast(ops.logical_not(finished), "int32")
        scores = total / length_penalty(new_lengths, alpha)[:, :, None]
        if use_coverage:
            alignments = ops.cast(steps.alignments(states), "float32")
            live = ops.logical_not(ops.reshape(finished, (batch * k, 1)))
            coverage = coverage + ops.where(live, alignments, 0.0)
            penalty = ops.reshape(
                coverage_penalty(coverage, source_mask, beta), (batch, k, 1)
            )
            ends = ops.logical_or(finished[:, :, None], is_end[None, None, :])
            scores = scores + ops.where(ends, penalty, 0.0)
        _, best = ops.top_k(ops.reshape(scores, (batch, k * vocab)), k)
        best = ops.cast(best, "int32")
        parent = ops.floor_divide(best, vocab)  # (batch, k)
        token = ops.mod(best, vocab)
        log_probs = ops.take_along_axis(ops.reshape(total, (batch, k * vocab)), best, 1)
        lengths = ops.take_along_axis(new_lengths, parent, 1)
        was_finished = ops.take_along_axis(finished, parent, 1)
        token = ops.where(was_finished, 0, token)
        ids = ops.take_along_axis(ids, parent[:, :, None], 1)
        ids = ops.where(ops.equal(positions, i)[None, None, :], token[:, :, None], ids)
        finished = ops.logical_or(was_finished, ops.equal(token, end_id))
        rows = ops.reshape(parent + offsets, (batch * k,))
        variable = [ops.take(s, rows, axis=0) for s in states[:num_variable]]
        coverage = ops.take(coverage, rows, axis=0)
        logits, states = steps.step(
            ops.reshape(token, (batch * k,)), variable + constants
        )
        return i + 1, logits, list(states), log_probs, finished, lengths, ids, coverage

    _, _, _, log_probs, finished, lengths, ids, coverage = ops.while_loop(
        cond,
        body,
        (
            ops.convert_to_tensor(0, "int32"),
            logits,
            list(states),
            log_probs,
            finished,
            lengths,
            ids,
            coverage,
        ),
        maximum_iterations=max_length,
    )
    scores = log_probs / length_penalty(lengths, alpha)
    if use_coverage:
        scores = scores + ops.reshape(
            coverage_penalty(coverage, source_mask, beta), (batch, k)
        )
    scores, order = ops.top_k(scores, k)
    ids = ops.take_along_axis(ids, ops.cast(order, "int32")[:, :, None], 1)
    return ids, scores
