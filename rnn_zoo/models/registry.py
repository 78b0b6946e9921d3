"""Named model configurations: ``list_models()`` and ``create_model(name)``.

Each entry is a builder and its keyword arguments, registered by
:func:`register_model`; ``create_model(name, **overrides)`` calls the builder
with the entry's arguments updated by ``overrides``. Every entry's defaults
build a working model on their own (task sizes such as ``vocab_size`` or
``num_classes`` have placeholder values to override for real data).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable

import keras

from rnn_zoo.models.classifier import build_classifier
from rnn_zoo.models.forecaster import build_forecaster
from rnn_zoo.models.generator import build_generator
from rnn_zoo.models.seq2seq import build_seq2seq
from rnn_zoo.models.tagger import build_tagger


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered configuration.

    Attributes:
        name: the registry name.
        builder: the builder function.
        kwargs: the builder's keyword arguments.
        description: one line for ``rnn-zoo list``.
    """

    name: str
    builder: Callable[..., keras.Model]
    kwargs: dict
    description: str


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    name: str, builder: Callable[..., keras.Model], description: str, **kwargs
) -> ModelEntry:
    """Registers ``builder(**kwargs)`` under ``name``.

    Raises:
        ValueError: when ``name`` is taken.

    Example:

    >>> entry = register_model("my_gru_tagger", build_tagger,
    ...     "my tagger", num_tags=5, vocab_size=100, cell="gru", units=32)
    >>> create_model("my_gru_tagger").output_shape
    (None, None, 5)
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` must be a non-empty string. Received: name={name!r}")
    if name in _REGISTRY:
        raise ValueError(f"A model named {name!r} is already registered.")
    entry = ModelEntry(name, builder, dict(kwargs), description)
    _REGISTRY[name] = entry
    return entry


def list_models(pattern: str = "*") -> list[str]:
    """The registered names matching a shell-style ``pattern``, sorted.

    Example:

    >>> "bigru_tagger_base" in list_models("*tagger*")
    True
    """
    return sorted(name for name in _REGISTRY if fnmatch.fnmatch(name, pattern))


def get_model_entry(name: str) -> ModelEntry:
    """The :class:`ModelEntry` registered as ``name``."""
    if name not in _REGISTRY:
        raise ValueError(
            f"Unknown model {name!r}. Registered models: {', '.join(list_models())}"
        )
    return _REGISTRY[name]


def create_model(name: str, **overrides) -> keras.Model:
    """Builds the registered model ``name``, with ``overrides`` on its arguments.

    Args:
        name: a name from :func:`list_models`.
        **overrides: builder arguments that replace the entry's (e.g. the
            real ``vocab_size`` and ``num_classes``).

    Returns:
        An uncompiled ``keras.Model``.

    Example:

    >>> model = create_model("lstm_classifier_small", num_classes=14, vocab_size=60)
    >>> model.output_shape
    (None, 14)
    """
    entry = get_model_entry(name)
    return entry.builder(
        **{**entry.kwargs, **overrides, "name": overrides.get("name", name)}
    )


# ---------------------------------------------------------------------------
# The zoo. Sizes follow the recipes that trained them on this repository's data.

register_model(
    "lstm_classifier_small",
    build_classifier,
    "LSTM, 1x128, character/token classifier (the names recipe's model)",
    num_classes=2,
    vocab_size=256,
    cell="lstm",
    units=128,
    dropout=0.2,
)
register_model(
    "gru_classifier_small",
    build_classifier,
    "GRU, 1x128, token classifier",
    num_classes=2,
    vocab_size=256,
    cell="gru",
    units=128,
    dropout=0.2,
)
register_model(
    "bilstm_classifier_base",
    build_classifier,
    "bidirectional LSTM, 2x256 per direction, token classifier",
    num_classes=2,
    vocab_size=20000,
    cell="lstm",
    units=256,
    num_layers=2,
    bidirectional=True,
    dropout=0.3,
    embedding_dim=128,
)
register_model(
    "lstm_series_classifier_small",
    build_classifier,
    "LSTM, 1x64, multivariate time-series classifier with masked padding",
    num_classes=9,
    input_features=12,
    cell="lstm",
    units=64,
    mask_value=0.0,
)
register_model(
    "bilstm_tagger_small",
    build_tagger,
    "bidirectional LSTM, 1x64 per direction, per-token tagger",
    num_tags=3,
    vocab_size=128,
    cell="lstm",
    units=64,
    bidirectional=True,
)
register_model(
    "bigru_tagger_base",
    build_tagger,
    "bidirectional GRU, 2x256 per direction, per-token tagger",
    num_tags=9,
    vocab_size=20000,
    cell="gru",
    units=256,
    num_layers=2,
    bidirectional=True,
    dropout=0.2,
    embedding_dim=128,
)
register_model(
    "lstm_forecaster_small",
    build_forecaster,
    "LSTM, 1x64, direct multi-horizon forecaster (52 steps)",
    horizon=52,
    cell="lstm",
    units=64,
)
register_model(
    "gru_forecaster_autoregressive",
    build_forecaster,
    "GRU, 1x64, autoregressive forecaster (rolls out 52 steps)",
    horizon=52,
    cell="gru",
    units=64,
    mode="autoregressive",
)
register_model(
    "lstm_charlm_small",
    build_generator,
    "LSTM, 1x256, character-level language model",
    vocab_size=128,
    cell="lstm",
    units=256,
    dropout=0.1,
)
register_model(
    "lstm_charlm_base",
    build_generator,
    "LSTM, 2x512, character-level language model",
    vocab_size=128,
    cell="lstm",
    units=512,
    num_layers=2,
    dropout=0.2,
)
register_model(
    "gru_conditional_generator_small",
    build_generator,
    "GRU, 1x128, sequence generator conditioned on a class id",
    vocab_size=64,
    num_conditions=14,
    cell="gru",
    units=128,
)
register_model(
    "lstm_seq2seq_small",
    build_seq2seq,
    "LSTM encoder-decoder, bidirectional 1x128 encoder, 1x128 decoder",
    source_vocab_size=64,
    target_vocab_size=64,
    cell="lstm",
    units=128,
)
register_model(
    "gru_seq2seq_base",
    build_seq2seq,
    "GRU encoder-decoder, bidirectional 2x256 encoder, 2x256 decoder",
    source_vocab_size=64,
    target_vocab_size=64,
    cell="gru",
    units=256,
    num_layers=2,
    dropout=0.2,
)
register_model(
    "lstm_attention_seq2seq_small",
    build_seq2seq,
    "LSTM encoder-decoder with Luong attention, bidirectional 1x128 encoder "
    "(the g2p recipe's model)",
    source_vocab_size=64,
    target_vocab_size=64,
    cell="lstm",
    units=128,
    attention="luong",
    dropout=0.1,
)
register_model(
    "gru_bahdanau_seq2seq_base",
    build_seq2seq,
    "GRU encoder-decoder with Bahdanau attention, bidirectional 2x256 encoder, "
    "2x256 decoder",
    source_vocab_size=64,
    target_vocab_size=64,
    cell="gru",
    units=256,
    num_layers=2,
    attention="bahdanau",
    dropout=0.2,
)
register_model(
    "bigru_attention_classifier_small",
    build_classifier,
    "bidirectional GRU, 1x128 per direction, attention pooling over the steps",
    num_classes=2,
    vocab_size=256,
    cell="gru",
    units=128,
    bidirectional=True,
    attention=True,
    dropout=0.2,
)
