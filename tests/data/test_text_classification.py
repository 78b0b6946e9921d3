"""rnn_zoo.data.text_classification: tfds text classification splits and word ids.

The catalog datasets cannot be downloaded here: ``tfds.testing.mock_data``
serves random examples with the real features through the real ``tfds.load``.
"""

import keras
import numpy as np
import pytest

from rnn_zoo.data import text_classification as text_data

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="tfds and tf.data",
    ),
]


def test_loads_the_named_splits_and_the_labels(tmp_path):
    import tensorflow_datasets as tfds

    splits = {"fit": "train[:10]", "held_out": "train[-6:]", "test": "test[:4]"}
    with tfds.testing.mock_data(num_examples=20):
        datasets, labels = text_data.load_text_classification(
            "ag_news_subset", splits, data_dir=str(tmp_path)
        )
        assert labels == ["World", "Sports", "Business", "Sci/Tech"]
        assert list(datasets) == ["fit", "held_out", "test"]
        # mock_data serves num_examples per split, whatever the slice.
        text, label = next(iter(datasets["fit"]))
        assert text.dtype == "string" and label.shape == ()
        counts = text_data.label_counts(datasets["fit"], len(labels))
    assert counts.shape == (4,) and counts.sum() == 20


@pytest.mark.parametrize(
    "name, error, fragment",
    [
        ("mnist", ValueError, "not a text classification dataset"),
        ("imdb_reviewz", ValueError, "not a tfds catalog dataset"),
        ("imdb_reviews", FileNotFoundError, "not prepared"),
    ],
)
def test_wrong_or_missing_data_is_a_clear_error(tmp_path, name, error, fragment):
    with pytest.raises(error, match=fragment):
        text_data.load_text_classification(
            name, {"train": "train"}, data_dir=str(tmp_path / "tfds")
        )
    # Nothing was downloaded: tfds creates DATA_DIR/downloads when it starts one.
    assert not (tmp_path / "tfds" / "downloads").exists()


def test_vectorizer_fits_a_vocabulary_and_pads():
    vectorizer = text_data.make_vectorizer(5, max_tokens=4)
    vectorizer.adapt(["the film, the film!", "the end<br />"])
    vocabulary = vectorizer.get_vocabulary()
    assert vocabulary == ["", "[UNK]", "the", "film"]
    ids = vectorizer(["The END of the film", ""]).numpy()
    np.testing.assert_array_equal(ids, [[2, 1, 1, 2, 3], [0, 0, 0, 0, 0]])
    again = text_data.make_vectorizer(5, vocabulary=vocabulary)
    np.testing.assert_array_equal(again(["The END of the film"]).numpy(), ids[:1])
