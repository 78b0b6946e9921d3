"""The sentiment recipe end to end through the rnn-zoo command, in smoke mode.

IMDB cannot be downloaded here, so the catalog dataset is faked with
``tfds.testing.mock_data``: random text and labels with imdb_reviews' real
features, served through the recipe's real ``tfds.load`` call. The tests check
the pipeline, the export and the artifacts (not accuracy), and that without
the data the recipe stops at once with a clear message.
"""

import json
import re

import keras
import numpy as np
import pytest

from rnn_zoo import cli

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipe uses tfds, tf.data and exports a SavedModel",
    ),
]

# Examples mock_data generates for every split.
NUM_EXAMPLES = 64


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    import tensorflow_datasets as tfds

    output = tmp_path_factory.mktemp("sentiment_smoke")
    argv = ["train", "sentiment", "--tfds", "imdb_reviews", "--output", str(output)]
    with tfds.testing.mock_data(num_examples=NUM_EXAMPLES):
        assert cli.main(argv + ["--smoke", "--units", "8"]) == 0
    return output


@pytest.fixture(scope="module")
def info(run_dir):
    return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["info"]


@pytest.fixture(scope="module")
def served(run_dir):
    import tensorflow as tf

    return tf.saved_model.load(str(run_dir / "export"))


def _texts(vocabulary):
    """Reviews made of known words (any case, punctuation, HTML breaks),
    unknown words, a review longer than the sequence length, and nothing."""
    words = vocabulary[2:8]
    return [
        " ".join(words),
        f"{words[0].upper()}, {words[1]}!<br /><br />{words[2]}... zzzz qqqq",
        "Nothing here is in the vocabulary",
        " ".join(words * 40),
        "",
    ]


def _ids(text, vocabulary, length):
    """The recipe's vectorization, written out in Python."""
    text = re.sub(r"<br\s*/?>", " ", text.lower())
    text = re.sub(r"[^\w\s]|_", "", text)
    index = {word: i for i, word in enumerate(vocabulary)}
    ids = [index.get(word, 1) for word in text.split()][:length]
    return ids + [0] * (length - len(ids))


def _classify(served, texts):
    import tensorflow as tf

    out = served.classify(tf.constant(texts))
    return {key: value.numpy() for key, value in out.items()}


def test_smoke_run_writes_its_artifacts(run_dir, info):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    for key in ("test_accuracy", "majority_class_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["epochs_run"] == 1
    assert metrics["train_seconds"] > 0 and metrics["total_seconds"] > 0
    config = metrics["config"]
    assert config["tfds"] == "imdb_reviews" and config["smoke"] is True
    assert config["units"] == 8
    # The official splits and a held-out slice of train.
    assert config["splits"]["test"].startswith("test[")
    assert config["splits"]["validation"].startswith("train[-")
    assert (run_dir / "model.keras").is_file()
    assert (run_dir / "export" / "saved_model.pb").is_file()
    # The labels and their number come from the dataset's info.
    assert info["labels"] == ["neg", "pos"]
    assert info["num_examples"] == {
        s: NUM_EXAMPLES for s in ("train", "validation", "test")
    }
    assert sum(info["train_label_counts"]) == NUM_EXAMPLES
    # Word-level vocabulary: padding, unknown word, then words of the training text.
    vocabulary = info["vocabulary"]
    assert vocabulary[:2] == ["", "[UNK]"] and info["vocab_size"] == len(vocabulary)
    assert len(vocabulary) > 10
    assert all(
        word and " " not in word and word == word.lower() for word in vocabulary[2:]
    )


def test_model_keras_loads_in_safe_mode(run_dir, info):
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    assert model.output_shape == (None, 2)
    assert model.get_layer("embedding").input_dim == info["vocab_size"]
    assert any(type(layer).__module__.startswith("rnn_zoo") for layer in model.layers)


def test_saved_model_classifies_raw_strings(served, info):
    import tensorflow as tf

    texts = _texts(info["vocabulary"])
    out = _classify(served, texts)
    assert out["probabilities"].shape == (len(texts), 2)
    np.testing.assert_allclose(out["probabilities"].sum(axis=-1), 1.0, atol=1e-5)
    assert list(out["index"]) == list(out["probabilities"].argmax(axis=-1))
    assert [label.decode() for label in out["label"]] == [
        info["labels"][i] for i in out["index"]
    ]
    assert [x.decode() for x in served.labels()["labels"].numpy()] == ["neg", "pos"]
    for signature in ("serving_default", "classify"):
        outputs = served.signatures[signature](texts=tf.constant(texts))
        np.testing.assert_allclose(
            outputs["probabilities"].numpy(), out["probabilities"], atol=1e-6
        )


def test_saved_model_agrees_with_model_keras(run_dir, served, info):
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    texts = _texts(info["vocabulary"])
    ids = np.array(
        [_ids(t, info["vocabulary"], info["sequence_length"]) for t in texts], "int32"
    )
    # The known words really are looked up, not all mapped to "unknown".
    assert ids[0][:6].tolist() == list(range(2, 8))
    assert ids[1][:5].tolist() == [2, 3, 4, 1, 1]
    expected = model.predict(ids, verbose=0)
    np.testing.assert_allclose(
        _classify(served, texts)["probabilities"], expected, atol=1e-5
    )


def test_an_empty_review_gets_the_models_prior(run_dir, served):
    probabilities = _classify(served, ["", "   "])["probabilities"]
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    bias = model.get_layer("probabilities").bias.numpy()
    prior = np.exp(bias - bias.max()) / np.exp(bias - bias.max()).sum()
    np.testing.assert_allclose(probabilities, [prior, prior], atol=1e-5)


def test_predict_reads_the_run(run_dir, served, capsys):
    capsys.readouterr()
    assert cli.main(["predict", str(run_dir), "a fine film", "--top", "1"]) == 0
    line = capsys.readouterr().out.strip()
    label = _classify(served, ["a fine film"])["label"][0].decode()
    assert re.fullmatch(rf"a fine film  {label} \d+\.\d%", line)


def test_other_text_datasets_get_their_own_labels(tmp_path):
    """Any (text, ClassLabel) catalog dataset: ag_news_subset has 4 topics."""
    import tensorflow_datasets as tfds

    from rnn_zoo.recipes import sentiment

    args = sentiment.parse_args(
        ["--output", str(tmp_path), "--tfds", "ag_news_subset", "--smoke"]
    )
    args.batch_size = 16
    with tfds.testing.mock_data(num_examples=32):
        data = sentiment.load_data(args)
    assert data.info["labels"] == ["World", "Sports", "Business", "Sci/Tech"]
    ids, labels = next(iter(data.train))
    assert ids.dtype == "int32" and ids.shape == (16, sentiment.SMOKE_SEQUENCE_LENGTH)
    assert labels.dtype == "int32" and set(labels.numpy()) <= {0, 1, 2, 3}
    model = sentiment.build_model(args, data.info)
    assert model.output_shape == (None, 4)
    hypermodel = sentiment.hypermodel(args, data.info)
    import keras_tuner

    assert hypermodel.build(keras_tuner.HyperParameters()).output_shape == (None, 4)


def test_without_the_data_the_recipe_stops_at_once(tmp_path):
    """No mock, nothing prepared, no internet: a clear error, no download tried."""
    data_dir = tmp_path / "tfds"
    argv = ["train", "sentiment", "--output", str(tmp_path / "run"), "--smoke"]
    with pytest.raises(FileNotFoundError) as error:
        cli.main(argv + ["--data-dir", str(data_dir)])
    message = str(error.value)
    for fragment in (
        "'imdb_reviews'",
        "not prepared",
        str(data_dir),
        "internet",
        "--download",
    ):
        assert fragment in message
    # tfds creates DATA_DIR/downloads as soon as it starts a download.
    assert not (data_dir / "downloads").exists()


@pytest.mark.parametrize(
    "name, fragment",
    [("mnist", "not a text classification dataset"), ("imdb_reviewz", "not a tfds")],
)
def test_a_dataset_that_is_not_text_classification_is_refused(tmp_path, name, fragment):
    argv = ["train", "sentiment", "--output", str(tmp_path), "--tfds", name, "--smoke"]
    with pytest.raises(ValueError, match=fragment):
        cli.main(argv + ["--data-dir", str(tmp_path / "tfds")])


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--max-tokens", "2"], "--max-tokens"),
        (["--sequence-length", "0"], "--sequence-length"),
    ],
)
def test_bad_flags_are_usage_errors(tmp_path, capsys, flags, fragment):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "sentiment", "--output", str(tmp_path), *flags])
    assert exit_info.value.code == 2
    assert fragment in capsys.readouterr().err
