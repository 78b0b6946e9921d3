"""The decoding loop shared by greedy decoding and sampling."""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import ops

from rnn_zoo import _checks


def step_decoder(model: keras.Model):
    """The step decoder of a :func:`build_seq2seq` or :func:`build_generator` model.

    Raises:
        ValueError: when ``model`` was built by neither.
    """
    from rnn_zoo.models.generator import GeneratorSteps
    from rnn_zoo.models.seq2seq import Seq2SeqSteps

    if isinstance(model, (GeneratorSteps, Seq2SeqSteps)):
        return model
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model. Received: model={type(model).__name__}"
        )
    names = {layer.name for layer in model.layers}
    if {"encoder", "decoder", "target_embedding", "logits"} <= names:
        return Seq2SeqSteps(model)
    if {"token_embedding", "rnn", "logits"} <= names:
        return GeneratorSteps(model)
    raise ValueError(
        "`model` must come from rnn_zoo.build_seq2seq or rnn_zoo.build_generator "
        f"(or a .keras reload of one). Received: a model named {model.name!r} "
        f"with layers {sorted(names)}"
    )


def check_token_id(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"`{name}` must be a non-negative integer token id. Received: {name}={value!r}"
        )
    return value


def decode_loop(
    steps,
    states: list,
    logits,
    *,
    max_length: int,
    end_id: int | None,
    select: Callable,
    banned: tuple[int, ...] = (0,),
):
    """Picks ``max_length`` tokens, feeding each one back, until every row ends.

    Args:
        steps: a step decoder (:func:`step_decoder`).
        states: the decoder states after the last fed token.
        logits: ``(batch, vocab)`` logits for the first token to pick.
        max_length: most tokens to pick.
        end_id: the token that ends a row (kept in the output), or ``None``.
        select: ``select(logits, step) -> (batch,) int32``: the choice rule.
        banned: ids never picked: padding (0) and the start id, which a
            model trained on shifted sequences still gives some probability.

    Returns:
        ``(batch, max_length)`` int32 token ids, 0 after a row's end id.
    """
    max_length = _checks.check_positive_int(max_length, "max_length")
    batch = ops.shape(logits)[0]
    outputs = ops.zeros((batch, max_length), "int32")
    finished = ops.zeros((batch,), "bool")
    positions = ops.arange(max_length, dtype="int32")
    vocab = logits.shape[-1]
    allowed = ops.convert_to_tensor(
        [i not in set(banned) for i in range(vocab)], "bool"
    )[None, :]

    def cond(i, logits, states, finished, outputs):
        return ops.logical_and(i < max_length, ops.logical_not(ops.all(finished)))

    def body(i, logits, states, finished, outputs):
        logits = ops.where(allowed, logits, ops.full_like(logits, -1e9))
        token = ops.cast(select(logits, i), "int32")
        token = ops.where(finished, ops.zeros_like(token), token)
        outputs = ops.where(ops.equal(positions, i)[None, :], token[:, None], outputs)
        if end_id is not None:
            finished = ops.logical_or(finished, ops.equal(token, end_id))
        logits, states = steps.step(token, states)
        return i + 1, logits, list(states), finished, outputs

    _, _, _, _, outputs = ops.while_loop(
        cond,
        body,
        (ops.convert_to_tensor(0, "int32"), logits, list(states), finished, outputs),
        maximum_iterations=max_length,
    )
    return outputs
