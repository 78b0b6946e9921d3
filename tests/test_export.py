"""rnn_zoo.export: the classifier, forecaster and CRF tagger SavedModels, on tiny models."""

import itertools

import keras
import numpy as np
import pytest

from rnn_zoo import build_classifier, build_forecaster, build_tagger, cli
from rnn_zoo.export import (
    export_char_classifier,
    export_char_tagger,
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


# B/M/E/S after the padding tag 0, as in cws_zh.
BMES = ["B", "M", "E", "S"]


def _brute_viterbi(potentials, transitions, start, end):
    """The best sequence of tags 1..4 (never padding) by scoring all 4**T, in NumPy."""
    best, best_score = None, -np.inf
    for path in itertools.product(range(1, 5), repeat=len(potentials)):
        score = start[path[0]] + end[path[-1]]
        score += sum(potentials[t, tag] for t, tag in enumerate(path))
        score += sum(transitions[a, b] for a, b in zip(path, path[1:]))
        if score > best_score:
            best, best_score = path, score
    return list(best)


@pytest.fixture(scope="module")
def crf_export(tmp_path_factory):
    model = build_tagger(5, vocab_size=5, units=3, crf=True)
    crf = model.crf
    rng = np.random.default_rng(0)
    # Transitions strong enough that the path differs from each step's argmax.
    crf.transitions.assign(rng.normal(0, 3, (5, 5)).astype("float32"))
    crf.start_transitions.assign(rng.normal(0, 1, 5).astype("float32"))
    crf.end_transitions.assign(rng.normal(0, 1, 5).astype("float32"))
    # The padding tag's own potential the highest everywhere: it must still never win.
    dense = model.get_layer("tag_potentials")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel, bias + np.array([50, 0, 0, 0, 0], "float32")])
    path = export_char_tagger(
        model,
        tmp_path_factory.mktemp("crf") / "export",
        vocabulary=["中", "国", "人"],
        tags=BMES,
        first_id=2,
        unknown_id=1,
        word_end_tags=["E", "S"],
        require_chinese=True,
    )
    return model, path


def test_char_tagger_serves_the_crf_viterbi_path_in_the_graph(crf_export):
    import tensorflow as tf

    model, path = crf_export
    served = tf.saved_model.load(path)
    texts = ["中国人中国", "国人", "中x"]  # x: an unknown character
    out = served.tag(tf.constant(texts))
    potentials = served.potentials(tf.constant(texts))["potentials"].numpy()
    assert not hasattr(served, "probabilities")
    ids = np.array([[2, 3, 4, 2, 3], [3, 4, 0, 0, 0], [2, 1, 0, 0, 0]])
    np.testing.assert_allclose(potentials, np.asarray(model(ids)), atol=1e-5)
    crf = model.crf
    weights = [
        np.asarray(w)
        for w in (crf.transitions, crf.start_transitions, crf.end_transitions)
    ]
    differs = False
    for text, row, tags, words in zip(
        texts, potentials, out["tags"].numpy(), out["words"].numpy()
    ):
        expected = _brute_viterbi(row[: len(text)], *weights)
        names = [BMES[tag - 1] for tag in expected]
        assert [t.decode() for t in tags[: len(text)]] == names
        assert all(t == b"" for t in tags[len(text) :])  # padding
        spaced = "".join(
            c + (" " if n in ("E", "S") else "") for c, n in zip(text, names)
        )
        assert words.decode() == spaced.strip()
        differs |= expected != (1 + np.argmax(row[: len(text), 1:], axis=-1)).tolist()
    assert differs, (
        "the transitions should change some path: the test would not see them"
    )


def test_predict_prints_the_crf_tags_and_words(crf_export, capsys):
    import tensorflow as tf

    _, path = crf_export
    served = tf.saved_model.load(path)  # kept: its functions need its variables
    expected = served.tag(tf.constant(["中国人"]))
    assert cli.main(["predict", path, "中国人"]) == 0
    out = capsys.readouterr().out
    tags = " ".join(t.decode() for t in expected["tags"].numpy()[0])
    assert out.startswith("中国人") and f"tags: {tags}" in out
    assert f"words: {expected['words'].numpy()[0].decode()}" in out


NER = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
JOINT = ["B-n", "I-n", "B-v", "I-v"]


def _python_entities(text, tags):
    """conlleval's reading, written out: a chunk starts at B-X or at I-X after non-X."""
    found, kind, start = [], None, 0
    for i, tag in enumerate([*tags, "O"]):
        this = None if tag == "O" else tag[2:]
        if kind and (this != kind or tag.startswith("B-")):
            found.append(f"{text[start:i]}/{kind}")
            kind = None
        if this and kind is None:
            kind, start = this, i
    return " ".join(found)


def _python_words(text, tags):
    """A word starts at each B- (and at the first character), typed by its first character."""
    words = []
    for i, (char, tag) in enumerate(zip(text, tags)):
        if tag.startswith("B-") or i == 0:
            words.append([char, tag[2:]])
        else:
            words[-1][0] += char
    return " ".join(f"{word}/{kind}" for word, kind in words)


@pytest.mark.parametrize(
    "chunks, tags, read",
    [("entities", NER, _python_entities), ("words", JOINT, _python_words)],
)
def test_char_tagger_reads_bio_chunks_in_the_graph(tmp_path, chunks, tags, read):
    import tensorflow as tf

    # Seeded: the tags' variety below depends on the recurrent weights too.
    keras.utils.set_random_seed(3)
    model = build_tagger(len(tags) + 1, vocab_size=6, units=3)
    dense = model.get_layer("tag_probabilities")
    kernel, bias = dense.get_weights()
    # Large random weights: the tags change from character to character.
    rng = np.random.default_rng(1)
    dense.set_weights([rng.normal(0, 8, kernel.shape).astype("float32"), bias])
    path = export_char_tagger(
        model,
        tmp_path / "export",
        vocabulary=["中", "国", "人", "民"],
        tags=tags,
        first_id=2,
        unknown_id=1,
        chunks=chunks,
    )
    served = tf.saved_model.load(path)
    texts = ["中国人民中国人民人民中国", "民", "国人x中"]
    out = served.tag(tf.constant(texts))
    assert sorted(out) == sorted(["tags", chunks])
    kinds = set()
    for text, row, got in zip(texts, out["tags"].numpy(), out[chunks].numpy()):
        names = [t.decode() for t in row[: len(text)]]
        kinds |= set(names)
        assert got.decode() == read(text, names)
    # The weights give varied tags: chunks that begin, go on and change type.
    assert {k[:2] for k in kinds} >= {"B-", "I-"} and len({k[2:] for k in kinds}) >= 2


def test_char_tagger_refuses_chunks_it_cannot_read():
    model = build_tagger(5, vocab_size=4, units=2)
    common = dict(vocabulary=["中", "国"], first_id=2, unknown_id=1)
    with pytest.raises(ValueError, match=r"`chunks` must be None, \"entities\" or"):
        export_char_tagger(model, "/tmp/x", tags=BMES, chunks="spans", **common)
    with pytest.raises(
        ValueError,
        match=r"must each be O, B-X or I-X\. Received: \['B', 'E', 'M', 'S'\]",
    ):
        export_char_tagger(model, "/tmp/x", tags=BMES, chunks="entities", **common)
    with pytest.raises(
        ValueError, match=r"must each be B-X or I-X\. Received: \['O'\]"
    ):
        export_char_tagger(model, "/tmp/x", tags=NER[:4], chunks="words", **common)
    with pytest.raises(ValueError, match="`chunks` and `word_end_tags` both"):
        export_char_tagger(
            model,
            "/tmp/x",
            tags=NER[:4],
            chunks="entities",
            word_end_tags=["O"],
            **common,
        )
