"""Attention visualisation: where an attention decoder looked while writing each token."""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from rnn_zoo.decoding.loop import check_decode_ids, step_decoder


def attention_alignments(model: keras.Model, source_ids, target_ids, *, start_id: int):
    """The attention weights of a seq2seq model while it reads given targets.

    The decoder is run step by step (teacher-forced) on ``start_id`` followed
    by each target row, with the model's own weights, and every step's
    weights over the source are kept.

    Args:
        model: a :func:`rnn_zoo.build_seq2seq` model built with ``attention``.
        source_ids: ``(batch, source_time)`` int ids, 0 = padding.
        target_ids: ``(batch, target_time)`` int ids of the targets (e.g.
            decoded ones, end id included), 0 = padding.
        start_id: the token the decoder starts from.

    Returns:
        ``(batch, target_time, source_time)`` float numpy array: row ``t`` is
        the attention paid while writing target token ``t``; rows of padded
        target steps and columns of padded source steps are 0.

    Example:

    >>> import numpy as np
    >>> from rnn_zoo import build_seq2seq
    >>> model = build_seq2seq(10, 12, units=8, attention="luong")
    >>> attention_alignments(model, np.array([[3, 4, 5]]), np.array([[6, 2]]),
    ...                      start_id=1).shape  # (batch, target_time, source_time)
    (1, 2, 3)
    """
    steps = step_decoder(model)
    if not getattr(steps, "attention", False):
        raise ValueError(
            "`model` has no attention: build it with build_seq2seq(attention="
            "'bahdanau' or 'luong')."
        )
    start_id, _ = check_decode_ids(start_id, None, steps.vocab_size, end_optional=True)
    source_ids = np.asarray(source_ids)
    target_ids = np.asarray(target_ids)
    if (
        source_ids.ndim != 2
        or target_ids.ndim != 2
        or len(source_ids) != len(target_ids)
    ):
        raise ValueError(
            "`source_ids` and `target_ids` must be (batch, time) arrays with the "
            f"same batch. Received: shapes {source_ids.shape} and {target_ids.shape}"
        )
    states = steps.initial_states(source_ids)
    tokens = np.full((len(source_ids),), start_id, "int32")
    rows = []
    for t in range(target_ids.shape[1]):
        _, states = steps.step(tokens, states)
        alignment = ops.convert_to_numpy(steps.alignments(states))
        rows.append(np.where(target_ids[:, t : t + 1] > 0, alignment, 0.0))
        tokens = target_ids[:, t].astype("int32")
    return np.stack(rows, axis=1)


def plot_alignment(
    alignment,
    source_tokens: Sequence[str],
    target_tokens: Sequence[str],
    path: str | os.PathLike,
    *,
    title: str | None = None,
) -> str:
    """Saves one example's alignment matrix as a PNG heat map.

    Args:
        alignment: ``(target_len, source_len)`` weights (more rows or columns
            than tokens, e.g. padding, are cut off).
        source_tokens: the source tokens, one per column (x axis).
        target_tokens: the target tokens, one per row (y axis).
        path: the PNG file to write.
        title: the figure's title.

    Returns:
        ``path`` as a string.

    Example:

    >>> import numpy as np
    >>> plot_alignment(np.eye(3), list("cat"), ["K", "AE", "T"],
    ...                "/tmp/cat.png")  # doctest: +SKIP
    '/tmp/cat.png'
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "plot_alignment needs matplotlib: pip install 'rnn_zoo[recipes]' "
            "(or pip install matplotlib)"
        ) from error
    alignment = np.asarray(alignment, dtype="float32")
    source_tokens, target_tokens = list(source_tokens), list(target_tokens)
    if alignment.ndim != 2:
        raise ValueError(
            "`alignment` must be a (target_len, source_len) matrix. Received: "
            f"shape {alignment.shape}"
        )
    if (
        len(target_tokens) > alignment.shape[0]
        or len(source_tokens) > alignment.shape[1]
    ):
        raise ValueError(
            f"`alignment` of shape {alignment.shape} is too small for "
            f"{len(target_tokens)} target and {len(source_tokens)} source tokens"
        )
    if not source_tokens or not target_tokens:
        raise ValueError("`source_tokens` and `target_tokens` must not be empty.")
    alignment = alignment[: len(target_tokens), : len(source_tokens)]
    figure, axes = plt.subplots(
        figsize=(1.0 + 0.45 * len(source_tokens), 1.0 + 0.4 * len(target_tokens))
    )
    image = axes.imshow(alignment, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(source_tokens)), source_tokens)
    axes.set_yticks(range(len(target_tokens)), target_tokens)
    axes.set_xlabel("source")
    axes.set_ylabel("target")
    if title:
        axes.set_title(title)
    figure.colorbar(image, ax=axes, fraction=0.05)
    figure.tight_layout()
    path = os.fspath(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_decoded_attention(
    model: keras.Model,
    source_ids,
    source_tokens: Sequence[str],
    target_vocabulary: Sequence[str],
    path: str | os.PathLike,
    *,
    max_length: int,
    start_id: int,
    end_id: int,
    title: str | None = None,
) -> str:
    """Decodes one source greedily and saves the attention while writing each token.

    Args:
        model: a :func:`rnn_zoo.build_seq2seq` model built with ``attention``.
        source_ids: ``(1, source_time)`` int ids of one source.
        source_tokens: its tokens, one per column.
        target_vocabulary: the token of each target id (the rows' labels).
        path: the PNG file to write.
        max_length, start_id, end_id: as in :func:`rnn_zoo.greedy_decode`.
        title: the figure's title.

    Returns:
        ``path`` as a string.
    """
    from rnn_zoo.decoding import greedy_decode

    decoded = ops.convert_to_numpy(
        greedy_decode(
            model, source_ids, max_length=max_length, start_id=start_id, end_id=end_id
        )
    )
    alignment = attention_alignments(model, source_ids, decoded, start_id=start_id)
    length = int((decoded[0] > 0).sum())
    targets = [target_vocabulary[i] for i in decoded[0, :length]]
    return plot_alignment(alignment[0], source_tokens, targets, path, title=title)
