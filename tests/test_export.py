"""rnn_zoo.export: the classifier and forecaster SavedModels, on tiny models."""

import keras
import numpy as np
import pytest

from rnn_zoo import build_classifier, build_forecaster, build_tagger
from rnn_zoo.export import (
    export_char_classifier,
    export_forecaster,
    export_frames_classifier,
    export_text_classifier,
    export_truecaser,
)

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="a SavedModel is TensorFlow's",
    ),
]


def test_forecaster_scales_in_the_graph(tmp_path):
    import tensorflow as tf

    model = build_forecaster(3, window=6, units=4)
    history = np.random.default_rng(0).normal(size=(2, 6)).astype("float32")

    def normalize(h):
        anchor = tf.reduce_mean(h, axis=1, keepdims=True)
        return ((h - anchor) / 2.0)[:, :, None], anchor

    def denormalize(outputs, anchor):
        return outputs[:, :, 0] * 2.0 + anchor

    plain = tf.saved_model.load(export_forecaster(model, tmp_path / "a", window=6))
    scaled = tf.saved_model.load(
        export_forecaster(
            model,
            tmp_path / "b",
            window=6,
            normalize=normalize,
            denormalize=denormalize,
        )
    )
    raw = model.predict(history[:, :, None], verbose=0)[:, :, 0]
    np.testing.assert_allclose(
        plain.forecast(history=tf.constant(history))["forecast"].numpy(), raw, atol=1e-5
    )
    inputs, anchor = normalize(tf.constant(history))
    expected = model.predict(inputs, verbose=0)[:, :, 0] * 2.0 + anchor.numpy()
    out = scaled.signatures["serving_default"](history=tf.constant(history))
    np.testing.assert_allclose(out["forecast"].numpy(), expected, atol=1e-5)


def test_frames_classifier_preprocesses_frames_and_lengths(tmp_path):
    import tensorflow as tf

    model = build_classifier(3, input_features=2, mask_value=0.0, units=4)

    def preprocess(frames, lengths):
        real = tf.sequence_mask(lengths, tf.shape(frames)[1])
        return tf.where(real[:, :, None], frames + 1.0, 0.0)

    path = export_frames_classifier(
        model,
        tmp_path / "x",
        labels=["a", "b", "c"],
        num_features=2,
        preprocess=preprocess,
    )
    served = tf.saved_model.load(path)
    frames = np.full((2, 4, 2), 0.5, "float32")
    out = served.classify(frames=tf.constant(frames), lengths=tf.constant([4, 2]))
    expected = model.predict(preprocess(frames, [4, 2]), verbose=0)
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)
    assert [x.decode() for x in out["label"].numpy()] == [
        "abc"[i] for i in expected.argmax(axis=-1)
    ]
    assert [x.decode() for x in served.labels()["labels"].numpy()] == ["a", "b", "c"]


def test_text_classifier_vectorizes_raw_text(tmp_path):
    import tensorflow as tf

    vectorizer = keras.layers.TextVectorization(
        output_sequence_length=5, vocabulary=["great", "film", "dull"]
    )
    model = build_classifier(2, vocab_size=5, units=4)
    path = export_text_classifier(
        model, tmp_path / "t", labels=["neg", "pos"], vectorizer=vectorizer
    )
    served = tf.saved_model.load(path)
    texts = ["great film", "dull dull unknown", ""]
    out = served.classify(tf.constant(texts))
    ids = vectorizer(texts).numpy().astype("int32")
    np.testing.assert_allclose(
        out["probabilities"].numpy(), model.predict(ids, verbose=0), atol=1e-5
    )
    default = served.signatures["serving_default"](texts=tf.constant(texts))
    np.testing.assert_allclose(
        default["probabilities"].numpy(), out["probabilities"].numpy(), atol=1e-6
    )
    # More words than output_sequence_length (unknown words count too): the
    # answer is for the first 5 words, and `truncated` says so.
    long = ["great film " * 3, "great film dull unknown words", "a b c d e f"]
    out = served.classify(tf.constant(long))
    assert out["truncated"].numpy().tolist() == [True, False, True]
    assert served.classify(tf.constant(texts))["truncated"].numpy().tolist() == [
        False,
        False,
        False,
    ]


def test_char_classifier_says_which_strings_it_truncated(tmp_path):
    import tensorflow as tf

    model = build_classifier(2, vocab_size=6, units=4)  # 4 characters + 2
    path = export_char_classifier(
        model, tmp_path / "c", labels=["a", "b"], vocabulary=list("Rios"), max_length=3
    )
    served = tf.saved_model.load(path)
    out = served.classify(tf.constant(["Ros", " Rossi ", "Ri", "Ròs"]))
    # Code points, not bytes, after stripping whitespace: "Ròs" fits.
    assert out["truncated"].numpy().tolist() == [False, True, False, False]
    # The truncated string is answered for its first max_length characters.
    probabilities = out["probabilities"].numpy()
    np.testing.assert_allclose(probabilities[1], probabilities[0], atol=1e-6)
    default = served.signatures["serving_default"](names=tf.constant(["Rossi"]))
    assert default["truncated"].numpy().tolist() == [True]


def test_char_classifier_answers_do_not_depend_on_the_bucket_or_batch(tmp_path):
    import tensorflow as tf

    model = build_classifier(2, vocab_size=6, units=4)
    path = export_char_classifier(
        model,
        tmp_path / "b",
        labels=["a", "b"],
        vocabulary=list("Rios"),
        max_length=8,
        bucket_lengths=(2, 4),
    )
    served = tf.saved_model.load(path)
    names = ["R", "Ros", "Rossi", "Rossiiii", ""]
    batch = served.classify(tf.constant(names))["probabilities"].numpy()
    # Each name alone (1 row, its own bucket) against the batch of 5 (padded
    # to 8 rows and to the longest bucket), and against the model itself on
    # the unpadded ids.
    for i, name in enumerate(names):
        alone = served.classify(tf.constant([name]))["probabilities"].numpy()
        np.testing.assert_allclose(alone[0], batch[i], atol=1e-6)
        ids = [[2 + "Rios".index(c) for c in name] or [0]]
        np.testing.assert_allclose(
            model.predict(np.array(ids), verbose=0)[0], batch[i], atol=1e-6
        )


def test_classifier_runs_the_model_on_a_power_of_two_rows():
    import tensorflow as tf

    from rnn_zoo.export import _pad_rows_call

    class Rows(keras.layers.Layer):
        def call(self, x):
            return tf.fill([tf.shape(x)[0], 1], tf.shape(x)[0])

    inputs = keras.Input((3,), dtype="int32")
    model = keras.Model(inputs, Rows()(inputs))
    seen = tf.function(lambda x: _pad_rows_call(model, x))
    for rows, padded in ((0, 1), (1, 1), (3, 4), (4, 4), (5, 8)):
        out = seen(tf.zeros((rows, 3), tf.int32)).numpy()
        assert out.shape == (rows, 1) and (out == padded).all(), (rows, out)


def test_char_classifier_rejects_bad_bucket_lengths(tmp_path):
    model = build_classifier(2, vocab_size=6, units=4)
    for bad in ((0, 4), (2.5,), "4"):
        with pytest.raises(ValueError, match="`bucket_lengths` must be positive"):
            export_char_classifier(
                model,
                tmp_path / "x",
                labels=["a", "b"],
                vocabulary=list("Rios"),
                bucket_lengths=bad,
            )


def test_truecaser_capitalises_above_its_threshold(tmp_path):
    import tensorflow as tf

    model = build_tagger(3, vocab_size=7, units=4)  # ids 4-6: "a", "b", " "
    texts = ["ab ba", "b a"]
    ids = np.array([[4, 5, 6, 5, 4], [5, 6, 4, 0, 0]], "int32")
    probabilities = model.predict(ids, verbose=0)
    share = probabilities[..., 2] / (probabilities[..., 1] + probabilities[..., 2])
    # A threshold between the shares of the first two characters splits them.
    threshold = float(np.mean(np.sort(share[0, :2])))
    served = tf.saved_model.load(
        export_truecaser(
            model, tmp_path / "t", vocabulary=["a", "b", " "], upper_threshold=threshold
        )
    )
    out = [t.decode() for t in served.truecase(tf.constant(texts))["truecased"].numpy()]
    for text, row, answer in zip(texts, share, out):
        expected = "".join(c.upper() if s > threshold else c for c, s in zip(text, row))
        assert answer == expected
    assert out[0][:2] in ("Ab", "aB")
    for bad in (0.0, 1.0, "0.5"):
        with pytest.raises(ValueError, match=f"`upper_threshold` must be .*{bad!r}"):
            export_truecaser(
                model, tmp_path / "u", vocabulary=["a", "b", " "], upper_threshold=bad
            )
