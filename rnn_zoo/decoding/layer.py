"""Decoding as a Keras layer, so that it is saved, exported and served with the model."""

from __future__ import annotations

import keras
from keras import ops

from rnn_zoo import _checks
from rnn_zoo.decoding.beam import beam_search_states, check_beam_arguments
from rnn_zoo.decoding.loop import check_decode_ids, decode_loop
from rnn_zoo.decoding.sampling import check_sampling, sample_states

METHODS = ("greedy", "beam", "sample")


@keras.saving.register_keras_serializable(package="rnn_zoo")
class Seq2SeqDecoder(keras.layers.Layer):
    """Decodes source ids with a trained :func:`rnn_zoo.build_seq2seq` model.

    The layer holds the trained model (its weights are the layer's) and the
    decoding configuration, so a model built on it saves to ``.keras``,
    reloads with ``safe_mode=True`` and exports to a SavedModel with the
    decoding inside the graph, as ``tfa.seq2seq.BeamSearchDecoder`` was a
    layer of the model. :func:`build_decoding_model` wraps it in a model.
    Its config holds the whole seq2seq model: save one decoder per ``.keras``
    file (two decoders over one model in one file do not reload; build one
    decoding model per method).

    Args:
        model: a trained :func:`rnn_zoo.build_seq2seq` model.
        method: ``"greedy"``, ``"beam"`` (:func:`rnn_zoo.beam_search`) or
            ``"sample"`` (:func:`rnn_zoo.sample_decode`).
        max_length: most target tokens per source.
        start_id: the token the decoder starts from.
        end_id: the token that ends a target (kept in the output).
        beam_width: ``"beam"``: hypotheses kept per source.
        length_penalty: ``"beam"``: Wu et al.'s ``alpha``.
        coverage_penalty: ``"beam"``: Wu et al.'s ``beta`` (attention only).
        temperature, top_k, top_p: ``"sample"``: see
            :func:`rnn_zoo.decoding.sample_logits`.
        seed: ``"sample"``: an integer gives the same samples on every call
            for the same batch; ``None`` gives fresh samples on each call.

    Call arguments:
        source_ids: ``(batch, source_time)`` int token ids, 0 = padding.

    Returns:
        A dict: ``ids`` ``(batch, hypotheses, max_length)`` int32 (0 after
        the end id; ``hypotheses`` is ``beam_width`` for beam search, else 1)
        and ``scores`` ``(batch, hypotheses)`` float32, best first (beam
        search: its ranking score; greedy and sampling: the log-probability).

    Example:

    >>> import numpy as np
    >>> from rnn_zoo import build_seq2seq
    >>> model = build_seq2seq(10, 12, units=8, attention="bahdanau")
    >>> decoder = Seq2SeqDecoder(model, method="beam", beam_width=3,
    ...                          max_length=5, start_id=1, end_id=2)
    >>> out = decoder(np.array([[3, 4, 5], [6, 7, 0]]))
    >>> tuple(out["ids"].shape), tuple(out["scores"].shape)
    ((2, 3, 5), (2, 3))
    """

    def __init__(
        self,
        model,
        method="beam",
        max_length=32,
        start_id=1,
        end_id=2,
        beam_width=5,
        length_penalty=0.0,
        coverage_penalty=0.0,
        temperature=1.0,
        top_k=None,
        top_p=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        from rnn_zoo.models.seq2seq import Seq2SeqSteps

        if isinstance(model, dict):
            model = keras.saving.deserialize_keras_object(model)
        if not isinstance(model, keras.Model):
            raise TypeError(
                "`model` must be a keras.Model from rnn_zoo.build_seq2seq. "
                f"Received: model={type(model).__name__}"
            )
        names = {layer.name for layer in model.layers}
        if not {"encoder", "decoder", "target_embedding", "logits"} <= names:
            raise ValueError(
                "`model` must come from rnn_zoo.build_seq2seq (or a .keras reload "
                f"of one). Received: a model named {model.name!r} with layers "
                f"{sorted(names)}"
            )
        self.model = model
        self.steps = Seq2SeqSteps(model)
        self.method = _checks.check_choice(method, "method", METHODS)
        self.max_length = _checks.check_positive_int(max_length, "max_length")
        self.start_id, self.end_id = check_decode_ids(
            start_id, end_id, self.steps.vocab_size
        )
        self.beam_width, self.length_penalty, self.coverage_penalty = (
            check_beam_arguments(beam_width, length_penalty, coverage_penalty)
        )
        if self.coverage_penalty and not self.steps.attention:
            raise ValueError(
                "`coverage_penalty` needs a model with attention. Received: "
                f"coverage_penalty={coverage_penalty}"
            )
        self.temperature, self.top_k, self.top_p = check_sampling(
            temperature, top_k, top_p, self.steps.vocab_size
        )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(
                f"`seed` must be an integer or None. Received: seed={seed!r}"
            )
        self.seed = seed
        self.seed_generator = (
            keras.random.SeedGenerator(None)
            if method == "sample" and seed is None
            else None
        )
        self.built = True

    @property
    def num_hypotheses(self) -> int:
        return self.beam_width if self.method == "beam" else 1

    def call(self, source_ids):
        if len(source_ids.shape) != 2:
            raise ValueError(
                f"Layer '{self.name}' expects `source_ids` of shape (batch, "
                f"source_time). Received: shape {tuple(source_ids.shape)}"
            )
        if "int" not in keras.backend.standardize_dtype(source_ids.dtype):
            raise TypeError(
                f"Layer '{self.name}' expects integer `source_ids`. Received: "
                f"dtype {keras.backend.standardize_dtype(source_ids.dtype)}"
            )
        steps = self.steps
        source_ids = ops.cast(source_ids, "int32")
        batch = ops.shape(source_ids)[0]
        states = steps.initial_states(source_ids)
        if self.method == "beam":
            ids, scores = beam_search_states(
                steps,
                states,
                batch,
                beam_width=self.beam_width,
                max_length=self.max_length,
                start_id=self.start_id,
                end_id=self.end_id,
                alpha=self.length_penalty,
                beta=self.coverage_penalty,
            )
            return {"ids": ids, "scores": scores}
        logits, states = steps.step(ops.full((batch,), self.start_id, "int32"), states)
        if self.method == "greedy":
            ids, scores = decode_loop(
                steps,
                states,
                logits,
                max_length=self.max_length,
                end_id=self.end_id,
                select=lambda logits, i: ops.argmax(logits, axis=-1),
                banned=(0, self.start_id),
                return_scores=True,
            )
        else:
            ids, scores = sample_states(
                steps,
                states,
                logits,
                batch,
                max_length=self.max_length,
                start_id=self.start_id,
                end_id=self.end_id,
                temperature=self.temperature,
                top_k=self.top_k,
                top_p=self.top_p,
                seed=self.seed if self.seed is not None else self.seed_generator,
                return_scores=True,
            )
        return {"ids": ids[:, None, :], "scores": scores[:, None]}

    def compute_output_spec(self, source_ids):
        batch, k = source_ids.shape[0], self.num_hypotheses
        return {
            "ids": keras.KerasTensor((batch, k, self.max_length), dtype="int32"),
            "scores": keras.KerasTensor((batch, k), dtype="float32"),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "model": keras.saving.serialize_keras_object(self.model),
                "method": self.method,
                "max_length": self.max_length,
                "start_id": self.start_id,
                "end_id": self.end_id,
                "beam_width": self.beam_width,
                "length_penalty": self.length_penalty,
                "coverage_penalty": self.coverage_penalty,
                "temperature": self.temperature,
                "top_k": self.top_k,
                "top_p": self.top_p,
                "seed": self.seed,
            }
        )
        return config


def build_decoding_model(model: keras.Model, **decoding) -> keras.Model:
    """A ``keras.Model`` from source ids to decoded ids and scores.

    Args:
        model: a trained :func:`rnn_zoo.build_seq2seq` model.
        **decoding: :class:`Seq2SeqDecoder`'s arguments (``method``,
            ``max_length``, ``start_id``, ``end_id``, ``beam_width``, ...).

    Returns:
        A model with input ``source_ids`` and outputs ``{"ids", "scores"}``;
        it shares ``model``'s weights, saves as ``.keras`` and exports.

    Example:

    >>> import numpy as np
    >>> from rnn_zoo import build_seq2seq
    >>> decoding = build_decoding_model(build_seq2seq(10, 12, units=8),
    ...                                 method="greedy", max_length=4)
    >>> tuple(decoding.predict(np.array([[3, 4]]), verbose=0)["ids"].shape)
    (1, 1, 4)
    """
    source_ids = keras.Input(shape=(None,), dtype="int32", name="source_ids")
    outputs = Seq2SeqDecoder(model, name="decoding", **decoding)(source_ids)
    return keras.Model(source_ids, outputs, name=f"{model.name}_decoding")
