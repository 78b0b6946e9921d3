"""TokenEmbedding: keras.layers.Embedding that refuses ids outside its vocabulary.

Runs on every backend (tests/test_backends*.py rerun tests/layers under JAX and
PyTorch): eagerly, inside ``predict`` and ``fit`` (a TensorFlow graph, a JAX
``jit``), and through a builder's model.
"""

import keras
import numpy as np
import pytest

import rnn_zoo
from rnn_zoo.layers import TokenEmbedding
from rnn_zoo.saving import load_model

GOOD = np.array([[1, 2, 0], [9, 3, 0]], "int32")


def test_same_outputs_and_mask_as_keras_embedding():
    ours = TokenEmbedding(10, 4, mask_zero=True)
    theirs = keras.layers.Embedding(10, 4, mask_zero=True)
    ours.build((None, 3))
    theirs.build((None, 3))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(ours(GOOD)), keras.ops.convert_to_numpy(theirs(GOOD))
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(ours.compute_mask(GOOD)), GOOD != 0
    )


@pytest.mark.parametrize(
    "ids, received",
    [
        ([[1, -1, 0]], "ids from -1 to 1"),
        ([[1, 10]], "ids from 1 to 10"),
        ([[3, 250, -7]], "ids from -7 to 250"),
    ],
)
def test_eager_calls_refuse_ids_outside_the_vocabulary(ids, received):
    layer = TokenEmbedding(10, 4, name="words")
    with pytest.raises(ValueError, match=r"words: token ids must be in \[0, 10\)"):
        layer(np.array(ids, "int32"))
    with pytest.raises(ValueError, match=received):
        layer(np.array(ids, "int32"))


def test_float_ids_are_read_as_integers():
    layer = TokenEmbedding(10, 4)
    out = layer(np.array([[1.0, 2.0]], "float32"))
    assert tuple(out.shape) == (1, 2, 4)


@pytest.fixture
def classifier():
    keras.utils.set_random_seed(0)
    model = rnn_zoo.build_classifier(3, vocab_size=10, units=4, embedding_dim=3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _refused(error) -> bool:
    """The check's message, however the backend carried it out of the graph."""
    return "token ids must be in [0, 10)" in str(error)


def test_predict_refuses_a_negative_id(classifier):
    # -1 used to be read as id 9, the last row of the table.
    assert classifier.predict(GOOD, verbose=0).shape == (2, 3)
    with pytest.raises(Exception) as error:
        classifier.predict(np.array([[1, -1, 0]], "int32"), verbose=0)
    assert _refused(error.value), str(error.value)[-2000:]


def test_the_model_still_works_after_a_refused_batch(classifier):
    # On JAX, Keras detaches the weights during predict; an error inside the
    # step used to leave the model without them.
    good = classifier.predict(GOOD, verbose=0)
    for bad in (np.array([[1, -1, 0]], "int32"), np.array([[1, 10, 0]], "int32")):
        with pytest.raises(Exception) as error:
            classifier.predict(bad, verbose=0)
        assert _refused(error.value)
        np.testing.assert_allclose(classifier.predict(GOOD, verbose=0), good, atol=1e-6)
    with pytest.raises(Exception) as error:
        classifier.fit(np.array([[1, 10, 0]], "int32"), np.array([0]), verbose=0)
    assert _refused(error.value)
    classifier.fit(GOOD, np.array([0, 1]), epochs=1, verbose=0)


def test_fit_refuses_an_id_at_the_vocabulary_size(classifier):
    with pytest.raises(Exception) as error:
        classifier.fit(
            np.array([[1, 10, 0], [2, 3, 4]], "int32"),
            np.array([0, 1]),
            epochs=1,
            verbose=0,
        )
    assert _refused(error.value), str(error.value)[-2000:]


def test_builders_embed_with_token_embedding():
    seq2seq = rnn_zoo.build_seq2seq(7, 9, units=4, embedding_dim=3)
    generator = rnn_zoo.build_generator(9, num_conditions=2, units=4)
    for model, name in [
        (seq2seq, "source_embedding"),
        (seq2seq, "target_embedding"),
        (generator, "token_embedding"),
        (generator, "condition_embedding"),
    ]:
        assert isinstance(model.get_layer(name), TokenEmbedding), name
    with pytest.raises(
        ValueError, match=r"target_embedding: token ids must be in \[0, 9\)"
    ):
        seq2seq([np.array([[1, 2]]), np.array([[1, 9]])])


def test_keras_archive_round_trip(tmp_path, classifier):
    path = str(tmp_path / "model.keras")
    classifier.save(path)
    loaded = load_model(path)
    assert isinstance(loaded.get_layer("embedding"), TokenEmbedding)
    np.testing.assert_allclose(
        loaded.predict(GOOD, verbose=0), classifier.predict(GOOD, verbose=0), atol=1e-6
    )
