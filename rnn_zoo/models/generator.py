"""build_generator: one-to-many generation and character-level language models."""

from __future__ import annotations

import keras
from keras import ops

from rnn_zoo import _checks
from rnn_zoo.layers import StackedRNN
from rnn_zoo.layers.embedding import TokenEmbedding
from rnn_zoo.models import _body


def build_generator(
    vocab_size: int,
    *,
    num_conditions: int | None = None,
    condition_features: int | None = None,
    cell: str = "lstm",
    units: int = 256,
    num_layers: int = 1,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    residual: bool = False,
    embedding_dim: int | None = None,
    embeddings=None,
    freeze_embeddings: bool = False,
    condition_dim: int = 32,
    max_length: int | None = None,
    name: str | None = None,
    **cell_kwargs,
) -> keras.Model:
    """Builds a token generator: a language model, optionally conditioned.

    Trained with teacher forcing: the input ``token_ids`` is the sequence
    shifted right (it starts with a start id), the target is the sequence
    shifted left (the next token at every step, an end id last); id 0 is
    padding and is masked. A condition (a class id with ``num_conditions``,
    or a feature vector with ``condition_features``) sets the initial state
    of every recurrent layer through one dense layer per state.
    Generate with :func:`rnn_zoo.generate`.

    Args:
        vocab_size: size of the token vocabulary, padding id 0 included.
        num_conditions: condition on a class id in ``[0, num_conditions)``.
        condition_features: condition on a float vector of this size.
        cell: a registered cell name.
        units: recurrent units per layer.
        num_layers: stacked recurrent layers.
        dropout: in ``[0, 1)``, on the embeddings, between layers and before
            the output layer.
        recurrent_dropout: in ``[0, 1)``, dropout on the recurrent state.
        residual: residual connections between stacked layers.
        embedding_dim: size of the token embeddings (by default the width of ``embeddings``, else 64).
        embeddings: a pretrained ``(vocab_size, embedding_dim)`` matrix the
            token embeddings start from (e.g.
            :func:`rnn_zoo.data.glove.embedding_matrix`).
        freeze_embeddings: keep ``embeddings`` fixed during training (default:
            fine-tune them).
        condition_dim: size of the class embedding (``num_conditions`` only).
        max_length: fixed number of timesteps, or ``None`` for any.
        name: the model's name.
        **cell_kwargs: passed to every recurrent layer.

    Returns:
        An uncompiled ``keras.Model`` with output ``logits`` ``(batch, time,
        vocab_size)``: compile with
        ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``.
        Inputs: ``token_ids``, plus ``condition`` when conditioned (then the
        model takes a dict).

    Example:

    >>> model = build_generator(30, num_conditions=4, units=32)
    >>> model.output_shape  # (batch, time, vocab_size)
    (None, None, 30)
    """
    vocab_size = _checks.check_positive_int(vocab_size, "vocab_size")
    if num_conditions is not None and condition_features is not None:
        raise ValueError(
            "Give at most one of `num_conditions` (a class id) or "
            "`condition_features` (a feature vector). Received: "
            f"num_conditions={num_conditions!r}, condition_features={condition_features!r}"
        )
    num_conditions = _body.optional_positive_int(num_conditions, "num_conditions")
    condition_features = _body.optional_positive_int(
        condition_features, "condition_features"
    )
    condition_dim = _checks.check_positive_int(condition_dim, "condition_dim")
    max_length = _body.optional_positive_int(max_length, "max_length")
    dropout = _body.check_common(cell=cell, num_layers=num_layers, dropout=dropout)

    token_ids = keras.Input(shape=(max_length,), dtype="int32", name="token_ids")
    x = _body.token_embedding(
        token_ids,
        vocab_size=vocab_size,
        embedding_dim=embedding_dim,
        name="token_embedding",
        embeddings=embeddings,
        freeze_embeddings=freeze_embeddings,
    )
    if dropout:
        x = keras.layers.Dropout(dropout, name="input_dropout")(x)
    rnn = StackedRNN(
        cell,
        units=units,
        num_layers=num_layers,
        dropout=dropout,
        residual=residual,
        recurrent_dropout=recurrent_dropout,
        return_sequences=True,
        name="rnn",
        **cell_kwargs,
    )
    inputs = token_ids
    if num_conditions is None and condition_features is None:
        x = rnn(x)
    else:
        if num_conditions is not None:
            condition = keras.Input(shape=(), dtype="int32", name="condition")
            vector = TokenEmbedding(
                num_conditions, condition_dim, name="condition_embedding"
            )(condition)
        else:
            condition = keras.Input(shape=(condition_features,), name="condition")
            vector = condition
        states = [
            keras.layers.Dense(size, activation="tanh", name=f"condition_state_{j}")(
                vector
            )
            for j, size in enumerate(rnn.state_size)
        ]
        x = rnn(x, initial_state=states)
        inputs = {"token_ids": token_ids, "condition": condition}
    if dropout:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(inputs, logits, name=name or f"{cell}_generator")


class GeneratorSteps:
    """Runs a :func:`build_generator` model one token at a time.

    The decoding functions of :mod:`rnn_zoo.decoding` drive it; it reuses the
    model's own layers, so it always has the trained weights.

    Args:
        model: a model from :func:`build_generator` (or its ``.keras`` reload).
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self.embedding = model.get_layer("token_embedding")
        self.rnn = model.get_layer("rnn")
        self.logits = model.get_layer("logits")
        names = {layer.name for layer in model.layers}
        self.condition_embedding = (
            model.get_layer("condition_embedding")
            if "condition_embedding" in names
            else None
        )
        self.condition_states = [
            model.get_layer(f"condition_state_{j}")
            for j in range(len(self.rnn.state_size))
            if f"condition_state_{j}" in names
        ]

    @property
    def conditioned(self) -> bool:
        return bool(self.condition_states)

    def initial_states(self, batch_size, condition=None) -> list:
        """The recurrent states before the first token."""
        if not self.conditioned:
            return [
                ops.zeros((batch_size, size), self.rnn.compute_dtype)
                for size in self.rnn.state_size
            ]
        vector = condition
        if self.condition_embedding is not None:
            vector = self.condition_embedding(ops.cast(condition, "int32"))
        else:
            vector = ops.cast(vector, self.rnn.compute_dtype)
        return [dense(vector) for dense in self.condition_states]

    def step(self, tokens, states):
        """``(batch,)`` token ids -> ``((batch, vocab) logits, new states)``."""
        x = self.embedding(ops.cast(tokens, "int32"))
        output, states = self.rnn.step(x, states)
        return self.logits(output), states
