"""rnn_zoo._keras_patches: empty batches and errors inside a step, on every backend.

tests/test_backends*.py rerun tests/layers under JAX and PyTorch, where Keras's
own trainers fail these cases differently.
"""

import keras
import numpy as np
import pytest

import rnn_zoo


@pytest.mark.parametrize(
    "build, inputs, shape",
    [
        (
            lambda: rnn_zoo.build_classifier(
                3, vocab_size=10, units=4, embedding_dim=3
            ),
            np.zeros((0, 5), "int32"),
            (0, 3),
        ),
        (
            lambda: rnn_zoo.build_tagger(4, input_features=2, units=4),
            np.zeros((0, 6, 2), "float32"),
            (0, 6, 4),
        ),
        (
            lambda: rnn_zoo.build_seq2seq(7, 9, units=4, embedding_dim=3),
            {
                "source_ids": np.zeros((0, 4), "int32"),
                "target_ids": np.zeros((0, 3), "int32"),
            },
            (0, 3, 9),
        ),
    ],
    ids=["classifier", "tagger", "seq2seq"],
)
def test_predict_on_an_empty_batch_returns_zero_rows(build, inputs, shape):
    model = build()
    outputs = model.predict(inputs, verbose=0)
    assert isinstance(outputs, np.ndarray)
    assert outputs.shape == shape
    assert outputs.dtype == np.float32


def test_a_model_without_rnn_zoo_layers_keeps_keras_behaviour():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(UnboundLocalError):  # Keras's own failure, untouched
        model.predict(np.zeros((0, 3), "float32"), verbose=0)


def test_the_weights_survive_an_error_inside_predict_and_fit():
    # Keras's JAX trainer detached the weights for the loop and lost them
    # when a step raised.
    keras.utils.set_random_seed(0)
    model = rnn_zoo.build_classifier(3, input_features=2, units=4)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    good = np.ones((2, 5, 2), "float32")
    before = model.predict(good, verbose=0)
    with pytest.raises(ValueError):
        model.predict(np.ones((2, 5, 3), "float32"), verbose=0)  # 3 features, not 2
    np.testing.assert_allclose(model.predict(good, verbose=0), before, atol=1e-6)
    with pytest.raises(ValueError):
        model.fit(np.ones((2, 5, 3), "float32"), np.array([0, 1]), verbose=0)
    np.testing.assert_allclose(model.predict(good, verbose=0), before, atol=1e-6)
    model.fit(good, np.array([0, 1]), epochs=1, verbose=0)
    assert not np.allclose(model.predict(good, verbose=0), before)
