"""The wordlm recipe end to end through the rnn-zoo command, in smoke mode.

One smoke run from GloVe (the start of each split of the real text, one
epoch); the tests check what a user of each artifact relies on. The random
start is the same code path without the matrix (build_model's doctest).
"""

import json

import keras
import numpy as np
import pytest

from rnn_zoo import cli
from rnn_zoo.data import austen_words, glove

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipe uses tf.data and exports a SavedModel",
    ),
]


def _run(tmp_path_factory, embeddings):
    output = tmp_path_factory.mktemp(f"wordlm_{embeddings}")
    argv = ["train", "wordlm", "--output", str(output), "--smoke", "--units", "16"]
    assert cli.main([*argv, "--embeddings", embeddings]) == 0
    return output


@pytest.fixture(scope="module")
def glove_run(tmp_path_factory):
    return _run(tmp_path_factory, "glove")


def _read(run_dir, name):
    return json.loads((run_dir / name).read_text(encoding="utf-8"))


def test_metrics_hold_perplexity_and_the_baselines(glove_run):
    metrics, info = (
        _read(glove_run, "metrics.json"),
        _read(glove_run, "run.json")["info"],
    )
    # One epoch of a 16-unit model on a 6,000-character slice: about a
    # uniform guess's (it has not learned yet), but finite.
    assert 1.0 < metrics["test_perplexity"] < 2 * info["vocab_size"]
    assert metrics["test_perplexity"] == pytest.approx(
        2 ** metrics["test_bits_per_word"]
    )
    assert metrics["test_words"] == info["num_words"]["test"]
    assert 1 <= metrics["baseline_ngram_order"] <= 4
    assert (
        metrics["baseline_ngram_perplexity"] <= metrics["baseline_unigram_perplexity"]
    )
    assert metrics["embeddings"] == info["embeddings"] == "glove"


def test_the_glove_run_starts_from_glove(glove_run, capsys):
    # The saved table moved from GloVe by training, but only a little in one
    # smoke epoch: it stays far closer to GloVe than to a fresh random one.
    model = keras.saving.load_model(glove_run / "model.keras", safe_mode=True)
    vocabulary = _read(glove_run, "run.json")["info"]["vocabulary"]
    table = keras.ops.convert_to_numpy(model.get_layer("token_embedding").embeddings)
    start = glove.embedding_matrix(vocabulary, seed=1337, verbose=False)
    the = vocabulary.index("the")
    assert np.abs(table[the] - start[the]).max() < 0.1
    assert np.corrcoef(table[the], start[the])[0, 1] > 0.99


def test_the_export_gives_the_models_logits(glove_run):
    import tensorflow as tf

    model = keras.saving.load_model(glove_run / "model.keras", safe_mode=True)
    served = tf.saved_model.load(str(glove_run / "export"))
    ids = np.array([[austen_words.START_ID, 5, 6, 7]], "int32")
    np.testing.assert_allclose(
        served.serve(tf.constant(ids)).numpy(), model.predict(ids, verbose=0), atol=1e-5
    )
