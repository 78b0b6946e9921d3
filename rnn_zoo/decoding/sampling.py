"""Sampling from a generator or encoder-decoder: temperature, top-k and top-p."""

from __future__ import annotations

import random

import keras
import numpy as np
from keras import ops

from rnn_zoo import _checks
from rnn_zoo.decoding.loop import (
    check_decode_ids,
    decode_loop,
    encoder_decoder_inputs,
    read_prompt,
    step_decoder,
)


def gumbel_noise(shape, seed: int):
    """Gumbel(0, 1) noise: ``argmax(logits + noise)`` samples ``softmax(logits)``.

    Drawn in one piece before a decoding loop, so the loop itself stays
    stateless (it traces on every backend) and a seed fixes every step.
    """
    uniform = keras.random.uniform(shape, minval=1e-7, maxval=1.0, seed=seed)
    return -ops.log(-ops.log(uniform))


def sample_logits(
    logits,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    noise=None,
):
    """Picks one token per row from ``(batch, vocab)`` logits.

    Args:
        logits: ``(batch, vocab)``.
        temperature: divides the logits; 0 picks the most probable token.
        top_k: sample among the ``top_k`` most probable tokens only.
        top_p: nucleus sampling (Holtzman et al., 2020): sample among the
            most probable tokens whose probabilities (after temperature and
            ``top_k``) first reach ``top_p`` together; the most probable
            token is always kept.
        noise: ``(batch, vocab)`` :func:`gumbel_noise` for this step
            (required when ``temperature > 0``).

    Returns:
        ``(batch,)`` int32 token ids.

    Example:

    >>> import numpy as np
    >>> logits = np.log(np.array([[0.1, 0.6, 0.3]], "float32"))
    >>> int(sample_logits(logits, temperature=0)[0])
    1
    """
    if temperature == 0:
        return ops.cast(ops.argmax(logits, axis=-1), "int32")
    logits = ops.cast(logits, "float32") / temperature
    if top_k is not None:
        kth = ops.top_k(logits, top_k, sorted=True)[0][:, -1:]
        logits = ops.where(logits < kth, ops.full_like(logits, -1e9), logits)
    if top_p is not None and top_p < 1.0:
        ordered = ops.top_k(logits, logits.shape[-1], sorted=True)[0]
        before = ops.cumsum(ops.softmax(ordered, axis=-1), axis=-1) - ops.softmax(
            ordered, axis=-1
        )
        # The smallest logit kept: tokens before it hold less than top_p.
        kept = ops.where(before < top_p, ordered, ops.full_like(ordered, np.inf))
        smallest = ops.min(kept, axis=-1, keepdims=True)
        logits = ops.where(logits < smallest, ops.full_like(logits, -1e9), logits)
    return ops.cast(ops.argmax(logits + noise, axis=-1), "int32")


def check_sampling(temperature, top_k, top_p, vocab_size: int):
    """Validated ``(temperature, top_k, top_p)``; ``top_k`` capped at the vocabulary."""
    temperature = _check_temperature(temperature)
    if top_k is not None:
        top_k = min(_checks.check_positive_int(top_k, "top_k"), vocab_size)
    if top_p is not None:
        if isinstance(top_p, bool) or not isinstance(top_p, (int, float)):
            raise TypeError(
                f"`top_p` must be a number in (0, 1]. Received: top_p={top_p!r}"
            )
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"`top_p` must be in (0, 1]. Received: top_p={top_p!r}")
        top_p = float(top_p)
    return temperature, top_k, top_p


def check_seed(seed) -> int:
    """A fixed integer seed, or a fresh one for ``None``."""
    if seed is None:
        return random.randrange(2**31)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"`seed` must be an integer or None. Received: seed={seed!r}")
    return seed


def sample_decode(
    model: keras.Model,
    source_ids,
    *,
    max_length: int,
    start_id: int,
    end_id: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    return_scores: bool = False,
):
    """Samples one target per source from an encoder-decoder.

    The noise for every step is drawn before the loop from ``seed``, so a
    fixed seed gives the same samples on every call (for the same batch),
    eagerly and inside a ``tf.function``.

    Args:
        model: a :func:`rnn_zoo.build_seq2seq` model (or its step decoder).
        source_ids: ``(batch, source_time)`` int token ids, 0 = padding.
        max_length: most target tokens per source.
        start_id: the token the decoder starts from.
        end_id: the token that ends a target (kept in the output).
        temperature, top_k, top_p: see :func:`sample_logits`.
        seed: an integer, or ``None`` for a fresh one.
        return_scores: also return each sample's log-probability.

    Returns:
        ``(batch, max_length)`` int32 ids, 0 after ``end_id`` (and the
        ``(batch,)`` scores with ``return_scores``).

    Example:

    >>> import numpy as np
    >>> from rnn_zoo import build_seq2seq
    >>> model = build_seq2seq(10, 12, units=8)
    >>> ids = sample_decode(model, np.array([[3, 4, 5]]), max_length=6,
    ...                     start_id=1, end_id=2, top_p=0.9, seed=7)
    >>> tuple(ids.shape)
    (1, 6)
    """
    steps, source_ids = encoder_decoder_inputs(model, source_ids, "sample_decode")
    start_id, end_id = check_decode_ids(start_id, end_id, steps.vocab_size)
    max_length = _checks.check_positive_int(max_length, "max_length")
    temperature, top_k, top_p = check_sampling(
        temperature, top_k, top_p, steps.vocab_size
    )
    seed = check_seed(seed)
    batch = ops.shape(source_ids)[0]
    states = steps.initial_states(source_ids)
    logits, states = steps.step(ops.full((batch,), start_id, "int32"), states)
    return sample_states(
        steps,
        states,
        logits,
        batch,
        max_length=max_length,
        start_id=start_id,
        end_id=end_id,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        return_scores=return_scores,
    )


def sample_states(
    steps,
    states,
    logits,
    batch,
    *,
    max_length,
    start_id,
    end_id,
    temperature,
    top_k,
    top_p,
    seed,
    return_scores=False,
):
    """The sampling loop from the first logits (arguments already checked)."""
    noise = gumbel_noise((max_length, batch, logits.shape[-1]), seed)

    def select(logits, i):
        return sample_logits(
            logits,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            noise=ops.take(noise, i, axis=0),
        )

    return decode_loop(
        steps,
        states,
        logits,
        max_length=max_length,
        end_id=end_id,
        select=select,
        banned=(0, start_id),
        return_scores=return_scores,
    )


def _check_temperature(temperature) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(
            f"`temperature` must be a number >= 0. Received: temperature={temperature!r}"
        )
    if not (temperature >= 0 and np.isfinite(temperature)):
        raise ValueError(
            f"`temperature` must be a finite number >= 0. Received: temperature={temperature!r}"
        )
    return float(temperature)


def generate(
    model: keras.Model,
    *,
    condition=None,
    prompt=None,
    num_samples: int | None = None,
    max_length: int,
    start_id: int,
    end_id: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """Samples sequences from a :func:`rnn_zoo.build_generator` model.

    Every row starts from ``start_id``, reads its prompt (if any), then
    samples up to ``max_length`` tokens, each fed back as the next input.

    Args:
        model: a generator model (or its step decoder).
        condition: for a conditioned model, ``(batch,)`` class ids or
            ``(batch, condition_features)`` vectors.
        prompt: a list of token-id lists (no start id), one per row; rows
            may differ in length.
        num_samples: the batch size when neither ``condition`` nor
            ``prompt`` gives it.
        max_length: most tokens to generate per row.
        start_id: the token every row starts from.
        end_id: the token that ends a row (kept), or ``None``.
        temperature: ``> 0`` samples from ``softmax(logits / temperature)``;
            ``0`` takes the most probable token.
        top_k: sample among the ``top_k`` most probable tokens.
        top_p: sample among the most probable tokens that together hold
            ``top_p`` of the probability (nucleus sampling).
        seed: a fixed seed gives the same samples on every call; ``None``
            draws a fresh one.

    Returns:
        ``(batch, max_length)`` int32 numpy array of the generated ids (after
        the prompt), 0 after ``end_id``.

    Example:

    >>> from rnn_zoo import build_generator
    >>> model = build_generator(20, units=16)
    >>> generate(model, num_samples=2, max_length=5, start_id=1, seed=0).shape
    (2, 5)
    """
    steps = step_decoder(model)
    if hasattr(steps, "encoder"):
        raise ValueError(
            "`generate` samples from a build_generator model; decode an "
            "encoder-decoder with rnn_zoo.greedy_decode."
        )
    vocab_size = steps.embedding.input_dim
    start_id, end_id = check_decode_ids(start_id, end_id, vocab_size, end_optional=True)
    max_length = _checks.check_positive_int(max_length, "max_length")
    temperature, top_k, top_p = check_sampling(temperature, top_k, top_p, vocab_size)
    seed = check_seed(seed)

    if steps.conditioned and condition is None:
        raise ValueError(
            "This generator is conditioned: pass `condition` (one per row)."
        )
    if not steps.conditioned and condition is not None:
        raise ValueError("This generator is not conditioned; received a `condition`.")
    sizes = {}
    if condition is not None:
        condition = np.asarray(condition)
        sizes["condition"] = len(condition)
    if prompt is not None:
        if isinstance(prompt, (str, bytes)) or not all(
            isinstance(row, (list, tuple, np.ndarray)) for row in prompt
        ):
            raise TypeError(
                "`prompt` must be a list of token-id lists, one per row. "
                f"Received: prompt={prompt!r}"
            )
        prompt = [list(map(int, row)) for row in prompt]
        for row in prompt:
            if any(t < 1 or t >= vocab_size for t in row):
                raise ValueError(
                    f"`prompt` token ids must be in [1, {vocab_size}). Received: {row}"
                )
        sizes["prompt"] = len(prompt)
    if num_samples is not None:
        sizes["num_samples"] = _checks.check_positive_int(num_samples, "num_samples")
    if not sizes:
        raise ValueError(
            "Give `num_samples`, `condition` or `prompt` to set the batch size."
        )
    if len(set(sizes.values())) != 1:
        raise ValueError(f"The batch sizes disagree: {sizes}")
    batch = next(iter(sizes.values()))
    if condition is not None and steps.condition_embedding is not None:
        num_conditions = steps.condition_embedding.input_dim
        if condition.ndim != 1 or np.any(
            (condition < 0) | (condition >= num_conditions)
        ):
            raise ValueError(
                f"`condition` must be class ids in [0, {num_conditions}), one per "
                f"row. Received: {condition.tolist()}"
            )

    states = steps.initial_states(batch, condition)
    logits, states = steps.step(ops.full((batch,), start_id, "int32"), states)
    if prompt:
        # Rows whose prompt has ended keep their states and logits.
        padded = np.zeros((batch, max(len(row) for row in prompt)), "int32")
        for r, row in enumerate(prompt):
            padded[r, : len(row)] = row
        logits, states = read_prompt(steps, states, logits, padded)

    ids = sample_states(
        steps,
        states,
        logits,
        batch,
        max_length=max_length,
        start_id=start_id,
        end_id=end_id,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
    )
    return np.asarray(ops.convert_to_numpy(ids))
