"""rnn_zoo.export.export_streaming: chunk by chunk equals the whole sequence.

One SavedModel holds a branch per registered cell (so a cell added to the
registry is tested here for free), exported once and reloaded; each test
feeds the same padded sequences in chunks of 1, 3 and random sizes with the
states carried, and compares with the Keras model on the whole sequence.
The builders' other shapes (features with a mask value, a conditioned
generator, a stack, a forecaster) are checked the same way, and every
refusal names the layer and says why.
"""

import os

import keras
import numpy as np
import pytest

from rnn_zoo import (
    build_classifier,
    build_forecaster,
    build_generator,
    build_tagger,
)
from rnn_zoo.export import StreamingError, export_streaming
from rnn_zoo.layers import StackedRNN, cell_names, get_sequence_layer

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="a SavedModel is TensorFlow's",
    ),
]

VOCAB, UNITS, BATCH, STEPS = 7, 3, 3, 9
TOL = 1e-5


def _ids():
    ids = np.random.default_rng(0).integers(1, VOCAB, (BATCH, STEPS)).astype("int32")
    ids[0, 6:] = 0  # right padding: the last chunks of row 0 are all masked
    ids[1, :4] = 0  # left padding: the first chunks of row 1 are all masked
    ids[2, [2, 5]] = 0  # holes
    return ids


def _chunkings():
    rng = np.random.default_rng(1)
    sizes = []
    while sum(sizes) < STEPS:
        sizes.append(int(rng.integers(1, 5)))
    return {"1": [1] * STEPS, "3": [3, 3, 3], "random": sizes}


def _stream(served, chunks, states, input_name="token_ids"):
    """Runs ``step`` over ``chunks``; returns the per-chunk outputs and the last states."""
    import tensorflow as tf

    answers = []
    for chunk in chunks:
        out = served.step(**{input_name: tf.constant(chunk)}, **states)
        states = {key: out[key] for key in states}
        answers.append({k: v.numpy() for k, v in out.items() if k not in states})
    return answers, states


def _split(x, sizes):
    return np.split(x, np.cumsum(sizes)[:-1], axis=1)


def _joined(answers, key, per_step):
    if per_step:
        return np.concatenate([a[key] for a in answers], axis=1)
    return answers[-1][key]


@pytest.fixture(scope="module")
def every_cell(tmp_path_factory):
    """A model with, per registered cell, a per-step branch and a last-output
    branch (both masked), plus a residual StackedRNN; exported once."""
    import tensorflow as tf

    ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(VOCAB, 4, mask_zero=True, name="embedding")(ids)
    outputs = {}
    for name in cell_names():
        layer = get_sequence_layer(name)
        outputs[f"{name}_steps"] = layer(UNITS, return_sequences=True, name=name)(x)
    # The last output (a classifier's), carried over fully masked chunks.
    outputs["sru_last"] = get_sequence_layer("sru")(UNITS, name="sru_last")(x)
    outputs["stack"] = StackedRNN(
        "gru", units=4, num_layers=2, residual=True, return_sequences=True, name="stack"
    )(x)
    model = keras.Model(ids, list(outputs.values()))
    path = export_streaming(model, tmp_path_factory.mktemp("streaming") / "cells")
    return model, list(outputs), tf.saved_model.load(path)


@pytest.mark.parametrize("chunking", ["1", "3", "random"])
def test_every_registered_cell_streams_as_the_whole_sequence(every_cell, chunking):
    import tensorflow as tf

    model, names, served = every_cell
    ids = _ids()
    whole = dict(zip(names, [np.asarray(y) for y in model(ids)]))
    states = served.initial_states(batch_size=tf.constant(BATCH))
    answers, _ = _stream(served, _split(ids, _chunkings()[chunking]), states)
    output_names = model.output_names
    for name, key in zip(names, output_names):
        got = _joined(answers, key, per_step=not name.endswith("_last"))
        np.testing.assert_allclose(got, whole[name], atol=TOL, err_msg=name)


def test_the_signatures_and_their_state_names(every_cell):
    import tensorflow as tf

    model, _, served = every_cell
    assert set(served.signatures) == {
        "step",
        "serving_default",
        "initial_states",
        "state_names",
    }
    names = [n.decode() for n in served.state_names()["names"].numpy()]
    for expected in ["lstm/state_0", "lstm/state_1", "lstm/output", "sru_last/output"]:
        assert expected in names
    # The stack's layers, in order.
    stack = [n for n in names if n.startswith("gru_")]
    assert stack == ["gru_0/state_0", "gru_0/output", "gru_1/state_0", "gru_1/output"]
    states = served.initial_states(batch_size=tf.constant(2))
    assert set(states) == {f"state_{i}" for i in range(len(names))}
    assert all(float(tf.reduce_max(tf.abs(s))) == 0.0 for s in states.values())


def test_the_step_refuses_states_of_another_batch_or_non_finite(every_cell):
    import tensorflow as tf

    _, _, served = every_cell
    states = served.initial_states(batch_size=tf.constant(2))
    chunk = tf.constant(_ids()[:2, :3])
    with pytest.raises(tf.errors.InvalidArgumentError, match="`state_0` must have"):
        served.step(token_ids=chunk, **{**states, "state_0": states["state_0"][:1]})
    bad = tf.tensor_scatter_nd_update(states["state_1"], [[1, 0]], [np.inf])
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="`state_1` must be finite"
    ):
        served.step(token_ids=chunk, **{**states, "state_1": bad})


def _stream_model(model, chunks, context=None):
    """StreamingModel in process (no SavedModel): the builders' other shapes."""
    from rnn_zoo.export.streaming import StreamingModel

    streaming = StreamingModel(model)
    states = (
        streaming.initial_states(context=context)
        if context is not None
        else streaming.initial_states(chunks[0].shape[0])
    )
    answers = []
    for chunk in chunks:
        outputs, states = streaming.step([chunk], states)
        answers.append(np.asarray(outputs[0]))
    return answers, streaming


@pytest.mark.parametrize(
    "build",
    [
        lambda: build_classifier(3, input_features=2, mask_value=0.0, units=UNITS),
        lambda: build_tagger(
            3,
            input_features=2,
            mask_value=0.0,
            units=UNITS,
            bidirectional=False,
            num_layers=2,
        ),
        lambda: build_forecaster(2, num_targets=2, units=UNITS),
    ],
    ids=["classifier", "tagger", "forecaster"],
)
def test_the_builders_feature_models_stream_with_masks(build):
    model = build()
    features = np.random.default_rng(2).normal(size=(BATCH, STEPS, 2)).astype("float32")
    if model.name.endswith(("classifier", "tagger")):
        features[0, 6:] = 0.0  # masked by mask_value
        features[1, :4] = 0.0
    whole = model.predict(features, verbose=0)
    answers, streaming = _stream_model(model, _split(features, _chunkings()["random"]))
    got = np.concatenate(answers, 1) if streaming.output_timed[0] else answers[-1]
    np.testing.assert_allclose(got, whole, atol=TOL)


def test_a_conditioned_generator_starts_from_its_condition(tmp_path):
    import tensorflow as tf

    model = build_generator(VOCAB, num_conditions=2, units=UNITS, num_layers=2)
    served = tf.saved_model.load(export_streaming(model, tmp_path / "gen"))
    ids, condition = _ids(), np.array([1, 0, 1], "int32")
    whole = model.predict({"token_ids": ids, "condition": condition}, verbose=0)
    states = served.initial_states(condition=tf.constant(condition))
    answers, _ = _stream(served, _split(ids, _chunkings()["3"]), states)
    np.testing.assert_allclose(_joined(answers, "logits", True), whole, atol=TOL)


class _Window(keras.layers.Layer):
    """A layer of no known per-step kind (reads across time)."""

    def call(self, x):
        return x + keras.ops.mean(x, axis=1, keepdims=True)


def _with(layer):
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 4)(ids)
    return keras.Model(ids, layer(x))


@pytest.mark.parametrize(
    "build, fragment",
    [
        (
            lambda: build_tagger(3, vocab_size=VOCAB, units=UNITS),
            "Layer 'bidirectional' (Bidirectional) cannot stream: it is bidirectional",
        ),
        (
            lambda: build_tagger(3, vocab_size=VOCAB, units=UNITS, num_layers=2),
            "Layer 'stacked_lstm' (StackedRNN) cannot stream: it is bidirectional",
        ),
        (
            lambda: _with(
                get_sequence_layer("gru")(UNITS, go_backwards=True, name="back")
            ),
            "Layer 'back' (GRU) cannot stream: it has go_backwards=True",
        ),
        (
            lambda: build_classifier(3, vocab_size=VOCAB, units=UNITS, attention=True),
            "Layer 'attention' (AttentionPooling) cannot stream: it pools over",
        ),
        (
            lambda: build_tagger(
                3, vocab_size=VOCAB, units=UNITS, bidirectional=False, crf=True
            ),
            "Layer 'crf' (CRF) cannot stream: its Viterbi decoding",
        ),
        (
            lambda: build_forecaster(2, units=UNITS, mode="autoregressive"),
            "Layer 'forecast' (AutoregressiveRollout) cannot stream",
        ),
        (
            lambda: _with(keras.layers.LSTM(UNITS, name="keras_lstm")),
            "Layer 'keras_lstm' (LSTM) cannot stream: it is Keras's own",
        ),
        (
            lambda: _with(keras.layers.Conv1D(2, 3, padding="same", name="conv")),
            "Layer 'conv' (Conv1D) cannot stream: it is not known to act on each timestep",
        ),
        (
            lambda: _with(_Window(name="window")),
            "Layer 'window' (_Window) cannot stream",
        ),
        (
            lambda: _with(keras.layers.Dense(2)),
            "has no recurrent layer to stream",
        ),
    ],
    ids=[
        "bidirectional",
        "bidirectional-stack",
        "go-backwards",
        "attention-pooling",
        "crf",
        "autoregressive",
        "keras-lstm",
        "conv",
        "custom",
        "no-recurrent",
    ],
)
def test_a_model_that_cannot_stream_is_refused_by_name_and_nothing_is_written(
    build, fragment, tmp_path
):
    with pytest.raises(StreamingError) as error:
        export_streaming(build(), tmp_path / "out")
    assert fragment in str(error.value)
    assert os.listdir(tmp_path) == []


def test_an_output_path_that_exists_or_cannot_be_written_is_refused(tmp_path):
    model = build_classifier(2, vocab_size=VOCAB, units=UNITS)
    (tmp_path / "taken").mkdir()
    with pytest.raises(ValueError, match=r"`filepath` must be a new directory.*taken"):
        export_streaming(model, tmp_path / "taken")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"`filepath` must be in a writable directory"):
        export_streaming(model, tmp_path / "file" / "out")
    assert sorted(os.listdir(tmp_path)) == ["file", "taken"]
    assert os.listdir(tmp_path / "taken") == []


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    # The real write is tested above; here it fails half-way (a full disk).
    from rnn_zoo.export import _archive

    def write_archive(filepath, *args):
        os.makedirs(filepath)
        open(os.path.join(filepath, "saved_model.pb"), "w").close()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_archive, "_write_archive", write_archive)
    model = build_classifier(2, vocab_size=VOCAB, units=UNITS)
    with pytest.raises(OSError, match="No space left"):
        export_streaming(model, tmp_path / "out")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"labels": ["a", "b", "c"]}, "`labels` names the classes"),
        ({"vocabulary": "abc"}, "`vocabulary` must be a list of strings"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, fragment, tmp_path):
    model = build_classifier(2, vocab_size=VOCAB, units=UNITS)
    with pytest.raises((TypeError, ValueError), match=fragment):
        export_streaming(model, tmp_path / "out", **kwargs)
    with pytest.raises(TypeError, match="`model` must be a functional keras.Model"):
        export_streaming("model", tmp_path / "out")
    assert os.listdir(tmp_path) == []
