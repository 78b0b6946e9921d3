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


# The logit of a banned id: exp() of it (minus any real logit) underflows to 0.
NEG = -1e9


def allowed_ids(vocab_size: int, banned) -> object:
    """``(1, vocab)`` bool: False at the ``banned`` ids."""
    banned = set(banned)
    return ops.convert_to_tensor([i not in banned for i in range(vocab_size)], "bool")[
        None, :
    ]


def encoder_decoder_inputs(model, source_ids, caller: str):
    """The step decoder of a seq2seq ``model`` and its checked ``source_ids``.

    Raises:
        ValueError: ``model`` is a generator; ``source_ids`` is not ``(batch,
            source_time)`` with at least one step; concrete ids fall outside
            the source vocabulary.
    """
    steps = step_decoder(model)
    if not hasattr(steps, "encoder"):
        raise ValueError(
            f"{caller} decodes an encoder-decoder (rnn_zoo.build_seq2seq); use "
            "rnn_zoo.generate for a generator."
        )
    source_ids = ops.convert_to_tensor(source_ids)
    if len(source_ids.shape) != 2 or source_ids.shape[1] == 0:
        raise ValueError(
            "`source_ids` must be a (batch, source_time) array of token ids with "
            f"at least one step. Received: shape {tuple(source_ids.shape)}"
        )
    if "int" not in keras.backend.standardize_dtype(source_ids.dtype):
        raise TypeError(
            "`source_ids` must hold integer token ids. Received: dtype "
            f"{keras.backend.standardize_dtype(source_ids.dtype)}"
        )
    try:
        values = ops.convert_to_numpy(source_ids)
    except Exception:  # symbolic (inside a tf.function): checked by the caller
        values = None
    if values is not None and values.size:
        vocab = steps.max_source_id + 1
        if values.min() < 0 or values.max() >= vocab:
            raise ValueError(
                f"`source_ids` must be ids in [0, {vocab}) (0 = padding). "
                f"Received: ids from {values.min()} to {values.max()}"
            )
    return steps, source_ids


def check_token_id(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"`{name}` must be a non-negative integer token id. Received: {name}={value!r}"
        )
    return value


def check_decode_ids(
    start_id, end_id, vocab_size: int, *, end_optional: bool = False
) -> tuple[int, int | None]:
    """Checks the start and end tokens against the target vocabulary.

    ``start_id`` must be a real token (not padding, 0) below ``vocab_size``;
    ``end_id`` (``None`` allowed with ``end_optional``) too, and it
    must differ from ``start_id``: a hypothesis that starts with its end token
    would be over before it began.

    Raises:
        ValueError: naming the argument, the valid range and the value received.
    """
    start_id = check_token_id(start_id, "start_id")
    checked = [("start_id", start_id)]
    if end_id is not None or not end_optional:
        end_id = check_token_id(end_id, "end_id")
        checked.append(("end_id", end_id))
    for name, value in checked:
        if value == 0:
            raise ValueError(
                f"`{name}` must not be the padding id 0: the decoder never "
                f"reads or picks padding. Received: {name}=0"
            )
        if value >= vocab_size:
            raise ValueError(
                f"`{name}` must be a token id of the target vocabulary, in "
                f"[1, {vocab_size}). Received: {name}={value}"
            )
    if end_id is not None and start_id == end_id:
        raise ValueError(
            "`start_id` and `end_id` must be different tokens. Received: "
            f"start_id={start_id}, end_id={end_id}"
        )
    return start_id, end_id


def decode_loop(
    steps,
    states: list,
    logits,
    *,
    max_length: int,
    end_id: int | None,
    select: Callable,
    banned: tuple[int, ...] = (0,),
    return_scores: bool = False,
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
        return_scores: also return each row's log-probability: the sum of
            its picked tokens' log-softmax (over the allowed ids), end id
            included.

    Returns:
        ``(batch, max_length)`` int32 token ids, 0 after a row's end id; with
        ``return_scores``, ``(ids, (batch,) float32 scores)``.
    """
    max_length = _checks.check_positive_int(max_length, "max_length")
    batch = ops.shape(logits)[0]
    outputs = ops.zeros((batch, max_length), "int32")
    finished = ops.zeros((batch,), "bool")
    positions = ops.arange(max_length, dtype="int32")
    allowed = allowed_ids(logits.shape[-1], banned)
    scores = ops.zeros((batch,), "float32")

    def cond(i, logits, states, finished, outputs, scores):
        return ops.logical_and(i < max_length, ops.logical_not(ops.all(finished)))

    def body(i, logits, states, finished, outputs, scores):
        logits = ops.where(allowed, logits, ops.full_like(logits, NEG))
        token = ops.cast(select(logits, i), "int32")
        token = ops.where(finished, ops.zeros_like(token), token)
        log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        picked = ops.take_along_axis(log_probs, token[:, None], axis=1)[:, 0]
        scores = scores + ops.where(finished, ops.zeros_like(picked), picked)
        outputs = ops.where(ops.equal(positions, i)[None, :], token[:, None], outputs)
        if end_id is not None:
            finished = ops.logical_or(finished, ops.equal(token, end_id))
        logits, states = steps.step(token, states)
        return i + 1, logits, list(states), finished, outputs, scores

    *_, outputs, scores = ops.while_loop(
        cond,
        body,
        (
            ops.convert_to_tensor(0, "int32"),
            logits,
            list(states),
            finished,
            outputs,
            scores,
        ),
        maximum_iterations=max_length,
    )
    if return_scores:
        return outputs, scores
    return outputs


def read_prompt(steps, states: list, logits, prompt_ids, *, pad_id: int = 0):
    """Feeds each row's prompt to a step decoder; a row's padding leaves it as it is.

    Written in ``keras.ops`` with a symbolic loop, so it runs inside a
    SavedModel's graph on prompts of any length.

    Args:
        steps: a step decoder (:func:`step_decoder`).
        states: the decoder states before the prompt (after the start id).
        logits: ``(batch, vocab)`` logits before the prompt.
        prompt_ids: ``(batch, time)`` int ids, shorter rows padded with
            ``pad_id`` at the end.
        pad_id: the padding id.

    Returns:
        ``(logits, states)`` after each row's last prompt id: the logits of
        the first token to pick and the states for :func:`decode_loop`.
    """
    prompt_ids = ops.convert_to_tensor(prompt_ids)

    def cond(t, logits, states):
        return t < ops.shape(prompt_ids)[1]

    def body(t, logits, states):
        token = ops.take(prompt_ids, t, axis=1)
        new_logits, new_states = steps.step(token, states)
        valid = ops.not_equal(token, pad_id)[:, None]
        logits = ops.where(valid, new_logits, logits)
        states = [ops.where(valid, n, o) for n, o in zip(new_states, states)]
        return t + 1, logits, states

    _, logits, states = ops.while_loop(
        cond, body, (ops.convert_to_tensor(0, "int32"), logits, list(states))
    )
    return logits, list(states)
