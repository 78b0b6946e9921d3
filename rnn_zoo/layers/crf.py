"""A linear-chain conditional random field: the layer, its likelihood, Viterbi.

The model scores a tag sequence ``y`` over the unmasked steps ``t_1 < ... <
t_n`` of a row as::

    start[y_1] + sum_k potentials[t_k, y_k]
               + sum_{k>1} transitions[y_{k-1}, y_k] + end[y_n]

``transitions[i, j]`` is the score of tag ``j`` following tag ``i``. A masked
step is skipped wherever it is (right or left padding, or a hole in the
middle): the chain links the unmasked steps on either side of it, so a padded
row scores and decodes exactly as the same row without its padding. A row
whose steps are all masked has log-likelihood 0, best score 0 and decodes to
tag 0 everywhere; masked steps always decode to tag 0.

:func:`crf_log_likelihood` (the forward algorithm, in log space) and
:func:`crf_decode` (Viterbi with backpointers) are ``keras.ops`` loops over
time (:func:`rnn_zoo.kernels.loop.scan`), so they trace with an unknown number
of steps under ``tf.function`` and ``jax.jit`` and run on every backend.

In a model, :class:`CRF` passes its input potentials through unchanged (with
their mask) and owns the weights; :class:`CRFModel` trains the negative
log-likelihood with them and makes ``predict`` return the Viterbi tags.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from rnn_zoo import _checks
from rnn_zoo.kernels.loop import scan


def _as_float(potentials):
    potentials = ops.convert_to_tensor(potentials)
    dtype = keras.backend.standardize_dtype(potentials.dtype)
    if dtype not in ("float32", "float64"):
        # Half-precision sums over long chains lose the likelihood's digits.
        potentials = ops.cast(potentials, "float32")
    return potentials


def _check_steps(values, potentials, name: str) -> None:
    """``values`` (tags or a mask) must be ``(batch, time)`` like the potentials."""
    shape, steps = tuple(values.shape), tuple(potentials.shape[:2])
    if len(shape) != 2 or any(
        a is not None and b is not None and a != b for a, b in zip(shape, steps)
    ):
        raise ValueError(
            f"`{name}` must have shape (batch, time), matching the potentials' "
            f"{steps}. Received: {name} with shape {shape}"
        )


def _as_mask(mask, potentials):
    if mask is None:
        return ops.ones_like(potentials[..., 0], dtype="bool")
    mask = ops.cast(mask, "bool")
    _check_steps(mask, potentials, "mask")
    return mask


def _check_potentials(shape, num_tags: int | None = None) -> None:
    shape = tuple(shape)
    if len(shape) != 3:
        raise ValueError(
            "`potentials` must have shape (batch, time, num_tags). Received: "
            f"shape {shape}"
        )
    if num_tags is not None and shape[-1] is not None and shape[-1] != num_tags:
        raise ValueError(
            f"`potentials` must have num_tags={num_tags} scores per step (the "
            f"CRF's tag vocabulary). Received: potentials with shape {shape}, "
            f"{shape[-1]} scores per step"
        )


def _tags_message(num_tags: int) -> str:
    return f"`tags` must be tag ids in [0, {num_tags}) (num_tags={num_tags})."


def _check_tag_values(values: np.ndarray, num_tags: int) -> None:
    if values.size and (values.min() < 0 or values.max() >= num_tags):
        raise ValueError(
            f"{_tags_message(num_tags)} Received: tags from {values.min()} to "
            f"{values.max()}"
        )


def _check_tags(tags, num_tags: int):
    """Returns ``tags`` as int32 after checking each is in ``[0, num_tags)``.

    Concrete tags raise ``ValueError`` at once; in a TensorFlow graph an
    ``Assert`` op carries the same message, and under ``jax.jit`` a host
    callback raises it when the step runs. A tag outside the range would
    otherwise read another tag's transition score (or NaN) silently.
    """
    try:
        values = ops.convert_to_numpy(tags)
    except Exception:  # symbolic: a TensorFlow graph or a JAX trace
        values = None
    if values is not None:
        _check_tag_values(values, num_tags)
        return ops.cast(tags, "int32")
    tags = ops.cast(tags, "int32")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        valid = tf.logical_and(tf.reduce_all(tags >= 0), tf.reduce_all(tags < num_tags))
        check = tf.debugging.Assert(
            valid,
            [
                _tags_message(num_tags) + " Received: tags from",
                tf.reduce_min(tags),
                "to",
                tf.reduce_max(tags),
            ],
        )
        with tf.control_dependencies([check]):
            return tf.identity(tags)
    if backend == "jax":
        import jax

        jax.debug.callback(lambda v: _check_tag_values(np.asarray(v), num_tags), tags)
    return tags


def _weights(potentials, transitions, start, end):
    dtype = potentials.dtype
    return (
        ops.cast(transitions, dtype),
        ops.cast(start, dtype),
        ops.cast(end, dtype),
    )


def crf_log_likelihood(potentials, tags, mask, transitions, start, end):
    """Log-likelihood of ``tags`` under a linear-chain CRF, one per row.

    Args:
        potentials: ``(batch, time, num_tags)`` unary scores.
        tags: ``(batch, time)`` tag ids in ``[0, num_tags)``; any id at masked
            steps.
        mask: ``(batch, time)``, true at real steps, or ``None`` (all real).
            Masked steps are skipped wherever they are (module docstring).
        transitions: ``(num_tags, num_tags)``, from tag ``i`` to tag ``j``.
        start: ``(num_tags,)`` scores of the first tag.
        end: ``(num_tags,)`` scores of the last tag.

    Returns:
        ``(batch,)``: ``score(tags) - log Z``; 0 for a row with no real step.

    Example:

    >>> import numpy as np
    >>> potentials = np.zeros((1, 3, 2), "float32")
    >>> ll = crf_log_likelihood(potentials, np.zeros((1, 3)), None,
    ...                         np.zeros((2, 2)), np.zeros(2), np.zeros(2))
    >>> round(float(ll[0]), 4)  # log(1 / 2**3): all 8 sequences score alike
    -2.0794
    """
    potentials = _as_float(potentials)
    _check_potentials(potentials.shape)
    num_tags = potentials.shape[-1]
    tags = _check_tags(ops.convert_to_tensor(tags), num_tags)
    _check_steps(tags, potentials, "tags")
    mask = _as_mask(mask, potentials)
    transitions, start, end = _weights(potentials, transitions, start, end)
    flat_transitions = ops.reshape(transitions, (-1,))

    def step(carry, x):
        alpha, started, previous, score = carry
        unary, tag, real = x
        # The forward algorithm: alpha[j] = log sum_i exp(alpha[i] + T[i, j]).
        chained = ops.logsumexp(alpha[:, :, None] + transitions[None], axis=1)
        new_alpha = ops.where(started[:, None], chained, start[None]) + unary
        alpha = ops.where(real[:, None], new_alpha, alpha)
        # The gold path's score, linked to the previous real step's tag.
        link = ops.where(
            started,
            ops.take(flat_transitions, previous * num_tags + tag),
            ops.take(start, tag),
        )
        gained = ops.take_along_axis(unary, tag[:, None], axis=1)[:, 0] + link
        score = score + ops.where(real, gained, ops.zeros_like(gained))
        previous = ops.where(real, tag, previous)
        started = ops.logical_or(started, real)
        return (alpha, started, previous, score), real

    init = (
        ops.zeros_like(potentials[:, 0]),
        ops.zeros_like(mask[:, 0]),
        ops.zeros_like(tags[:, 0]),
        ops.zeros_like(potentials[:, 0, 0]),
    )
    xs = (
        ops.moveaxis(potentials, 1, 0),
        ops.moveaxis(tags, 1, 0),
        ops.moveaxis(mask, 1, 0),
    )
    (alpha, started, previous, score), _ = scan(step, init, xs, mask[:, 0])
    log_z = ops.logsumexp(alpha + end[None], axis=1)
    score = score + ops.take(end, previous)
    zero = ops.zeros_like(score)
    return ops.where(started, score - log_z, zero)


def crf_decode(potentials, mask, transitions, start, end):
    """The highest-scoring tag sequence of each row (Viterbi).

    Args:
        potentials: ``(batch, time, num_tags)`` unary scores.
        mask: ``(batch, time)``, true at real steps, or ``None``.
        transitions: ``(num_tags, num_tags)``, from tag ``i`` to tag ``j``.
        start: ``(num_tags,)`` scores of the first tag.
        end: ``(num_tags,)`` scores of the last tag.

    Returns:
        ``(tags, score)``: ``(batch, time)`` int32 tags (0 at masked steps)
        and the ``(batch,)`` score of that sequence (0 for a row with no
        real step).

    Example:

    >>> import numpy as np
    >>> potentials = np.array([[[0., 1.], [0., 1.], [1., 0.]]], "float32")
    >>> transitions = np.array([[0., 0.], [-5., 0.]], "float32")  # no 1 -> 0
    >>> tags, score = crf_decode(potentials, None, transitions,
    ...                          np.zeros(2), np.zeros(2))
    >>> np.asarray(tags).tolist(), round(float(score[0]), 4)
    ([[1, 1, 1]], 2.0)
    """
    potentials = _as_float(potentials)
    _check_potentials(potentials.shape)
    num_tags = potentials.shape[-1]
    mask = _as_mask(mask, potentials)
    transitions, start, end = _weights(potentials, transitions, start, end)
    identity = ops.arange(num_tags, dtype="int32")[None]

    def forward(carry, x):
        delta, started = carry
        unary, real = x
        scores = delta[:, :, None] + transitions[None]  # (batch, from, to)
        best_previous = ops.cast(ops.argmax(scores, axis=1), "int32")
        chained = ops.max(scores, axis=1)
        new_delta = ops.where(started[:, None], chained, start[None]) + unary
        delta = ops.where(real[:, None], new_delta, delta)
        # A masked step (and the first real one) points every tag to itself,
        # so the backtrace walks through it to the previous real step.
        linked = ops.logical_and(real, started)[:, None]
        pointers = ops.where(linked, best_previous, identity)
        return (delta, ops.logical_or(started, real)), pointers

    init = (ops.zeros_like(potentials[:, 0]), ops.zeros_like(mask[:, 0]))
    xs = (ops.moveaxis(potentials, 1, 0), ops.moveaxis(mask, 1, 0))
    pointers_like = ops.zeros_like(potentials[:, 0], dtype="int32")
    (delta, started), pointers = scan(forward, init, xs, pointers_like)
    final = delta + end[None]
    last = ops.cast(ops.argmax(final, axis=1), "int32")
    score = ops.where(started, ops.max(final, axis=1), ops.zeros_like(final[:, 0]))

    def backward(tag, step_pointers):
        return ops.take_along_axis(step_pointers, tag[:, None], axis=1)[:, 0], tag

    _, reversed_tags = scan(backward, last, ops.flip(pointers, axis=0), last)
    tags = ops.moveaxis(ops.flip(reversed_tags, axis=0), 0, 1)
    return ops.where(mask, tags, ops.zeros_like(tags)), score


@keras.saving.register_keras_serializable(package="rnn_zoo")
class CRF(keras.layers.Layer):
    """A linear-chain CRF over per-step tag potentials.

    The layer holds the CRF's weights and returns its input potentials
    unchanged, with their mask (from an embedding's ``mask_zero``, a
    ``Masking`` layer or ``mask=``), so a model ends in it and its output is
    ``(batch, time, num_tags)`` potentials. :class:`CRFModel` (what
    ``build_tagger(..., crf=True)`` returns) trains the negative
    log-likelihood and decodes with Viterbi; :meth:`log_likelihood` and
    :meth:`decode` do the same by hand. Masked steps may be anywhere; see the
    module docstring.

    Args:
        num_tags: the size of the tag vocabulary (>= 2).
        **kwargs: base ``Layer`` arguments (``name``, ``dtype``, ...).

    Weights:
        ``transitions`` ``(num_tags, num_tags)``: score of tag ``j`` right
        after tag ``i``; ``start_transitions`` and ``end_transitions``
        ``(num_tags,)``: scores of the first and the last tag.

    Call arguments:
        inputs: ``(batch, time, num_tags)`` potentials.
        mask: ``(batch, time)`` booleans, true at real steps.

    Example:

    >>> import numpy as np
    >>> crf = CRF(3)
    >>> potentials = np.zeros((2, 4, 3), "float32")
    >>> tuple(crf(potentials).shape)  # (batch, time, num_tags), unchanged
    (2, 4, 3)
    >>> tags, score = crf.decode(potentials, mask=np.array([[1, 1, 1, 0]] * 2))
    >>> tuple(tags.shape), tuple(score.shape)
    ((2, 4), (2,))
    """

    def __init__(self, num_tags: int, **kwargs):
        super().__init__(**kwargs)
        self.num_tags = _checks.check_units(num_tags, "num_tags")
        if self.num_tags < 2:
            raise ValueError(
                f"`num_tags` must be at least 2. Received: num_tags={num_tags}"
            )
        self.supports_masking = True

    def build(self, input_shape):
        _check_potentials(input_shape, self.num_tags)
        small = keras.initializers.RandomUniform(-0.1, 0.1)
        self.transitions = self.add_weight(
            name="transitions", shape=(self.num_tags, self.num_tags), initializer=small
        )
        self.start_transitions = self.add_weight(
            name="start_transitions", shape=(self.num_tags,), initializer=small
        )
        self.end_transitions = self.add_weight(
            name="end_transitions", shape=(self.num_tags,), initializer=small
        )

    def call(self, inputs, mask=None):
        _check_potentials(inputs.shape, self.num_tags)
        return inputs

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def _ensure_built(self, potentials) -> None:
        if not self.built:
            self.build(tuple(potentials.shape))

    def log_likelihood(self, potentials, tags, mask=None):
        """``(batch,)`` log-likelihoods of ``tags`` (:func:`crf_log_likelihood`)."""
        potentials = ops.convert_to_tensor(potentials)
        self._ensure_built(potentials)
        _check_potentials(potentials.shape, self.num_tags)
        return crf_log_likelihood(
            potentials,
            tags,
            mask,
            self.transitions,
            self.start_transitions,
            self.end_transitions,
        )

    def decode(self, potentials, mask=None):
        """``(tags, score)``: the Viterbi path of each row (:func:`crf_decode`)."""
        potentials = ops.convert_to_tensor(potentials)
        self._ensure_built(potentials)
        _check_potentials(potentials.shape, self.num_tags)
        return crf_decode(
            potentials,
            mask,
            self.transitions,
            self.start_transitions,
            self.end_transitions,
        )

    def get_config(self):
        return {**super().get_config(), "num_tags": self.num_tags}


def _mask_of(tensor):
    # Keras keeps a tensor's mask beside it (an attribute, or a table keyed by
    # the array on JAX); its own compiled losses read it from there too.
    from keras.src.backend import get_keras_mask

    return get_keras_mask(tensor)


@keras.saving.register_keras_serializable(package="rnn_zoo")
class CRFModel(keras.Model):
    """A functional model ending in a :class:`CRF`, trained and decoded by it.

    Built like any functional model, ``CRFModel(inputs, outputs)``, where
    ``outputs`` is a :class:`CRF` layer's output (``(batch, time, num_tags)``
    potentials carrying the padding mask). Then:

    - ``compile(optimizer=...)`` takes no ``loss``: ``fit`` and ``evaluate``
      minimise the CRF's negative log-likelihood, the mean over the batch
      (``sample_weight``: one weight per sequence), plus any regularisation
      losses. Compiled metrics see the potentials (``"accuracy"`` scores
      their per-step argmax, padded steps excluded); score ``predict``'s
      Viterbi tags for the tagger's real accuracy.
    - ``predict`` returns the Viterbi tags, ``(batch, time)`` int32 with 0 at
      padded steps; calling the model, ``model(x)``, returns the potentials.
    - ``export(path)`` (TensorFlow, ``format="tf_saved_model"``) writes a
      SavedModel whose ``serve`` endpoint runs Viterbi and returns ``{"tags",
      "score"}``.

    Example:

    >>> import numpy as np
    >>> inputs = keras.Input((None,), dtype="int32")
    >>> x = keras.layers.Embedding(10, 8, mask_zero=True)(inputs)
    >>> potentials = CRF(3)(keras.layers.Dense(3)(x))
    >>> model = CRFModel(inputs, potentials)
    >>> tags, score = model.viterbi(model(np.array([[4, 5, 0]])))  # = predict
    >>> tuple(tags.shape), int(tags[0, 2])  # 0 at the padded step
    ((1, 3), 0)
    """

    @property
    def crf(self) -> CRF:
        """The model's :class:`CRF` layer."""
        layers = [layer for layer in self.layers if isinstance(layer, CRF)]
        if len(layers) != 1:
            raise ValueError(
                "A CRFModel needs exactly one CRF layer (its output layer). "
                f"Received: {len(layers)} CRF layers in {self.name!r}"
            )
        return layers[0]

    def compile(self, *args, loss=None, **kwargs):
        if loss is not None:
            raise ValueError(
                "A CRFModel trains the CRF's negative log-likelihood: compile "
                f"it without `loss`. Received: loss={loss!r}"
            )
        super().compile(*args, **kwargs)

    def compile_from_config(self, config):
        # Keras skips this for a model with its own compile(); ours only
        # refuses a loss, so the saved optimizer and metrics are restored.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def viterbi(self, potentials):
        """``(tags, score)`` for model outputs (their mask included)."""
        return self.crf.decode(potentials, _mask_of(potentials))

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        nll = -self.crf.log_likelihood(y_pred, y, _mask_of(y_pred))
        if sample_weight is not None:
            weight = ops.cast(sample_weight, nll.dtype)
            if len(weight.shape) > 1:
                weight = ops.reshape(weight, (-1,))
            nll = nll * weight
        loss = ops.mean(nll)
        for extra in self.losses:
            loss = loss + ops.cast(extra, loss.dtype)
        return loss

    def predict(self, x, *args, **kwargs):
        tags = super().predict(x, *args, **kwargs)
        if np.ndim(tags) == 3:
            # An empty batch: rnn_zoo's predict answers it with the model's
            # outputs (the potentials) for zero rows; the tags have no last axis.
            return np.zeros(np.shape(tags)[:2], "int32")
        return tags

    def predict_step(self, *args):
        if keras.backend.backend() != "jax":
            (data,) = args
            x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
            return self.viterbi(self(x, training=False))[0]
        # JAX's trainer hands the weights in as values (the model's own are
        # detached while predict runs).
        (trainable, non_trainable), data = args
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        mapping = list(zip(self.trainable_variables, trainable)) + list(
            zip(self.non_trainable_variables, non_trainable)
        )
        with keras.StatelessScope(state_mapping=mapping):
            tags = self.viterbi(self(x, training=False))[0]
        return tags, non_trainable

    def export(
        self,
        filepath,
        format="tf_saved_model",
        verbose=None,
        input_signature=None,
        **kwargs,
    ):
        if format != "tf_saved_model" or keras.backend.backend() != "tensorflow":
            return super().export(
                filepath, format, verbose, input_signature=input_signature, **kwargs
            )
        import tensorflow as tf

        if input_signature is None:
            input_signature = [
                tf.TensorSpec(i.shape, i.dtype, name=i.name) for i in self.inputs
            ]
        archive = keras.export.ExportArchive()
        archive.track(self)

        def serve(*inputs):
            inputs = inputs[0] if len(inputs) == 1 else list(inputs)
            tags, score = self.viterbi(self(inputs, training=False))
            return {"tags": tags, "score": score}

        archive.add_endpoint("serve", serve, input_signature=input_signature)
        archive.write_out(filepath, verbose=bool(verbose))
