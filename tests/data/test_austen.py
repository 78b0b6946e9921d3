"""rnn_zoo.data.austen on the Pride and Prejudice text embedded in the package."""

import math
import re

import keras
import numpy as np
import pytest

from rnn_zoo.data import austen


def tensorflow_only(test):
    """The tensorflow_only marker, and a skip on other backends (tf.data)."""
    test = pytest.mark.tensorflow_only(test)
    return pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="tf.data needs TensorFlow"
    )(test)


@pytest.fixture(scope="module")
def data():
    return austen.load_austen()


@pytest.fixture(scope="module")
def chapters():
    return austen.load_chapters()


def test_the_embedded_text_is_the_whole_novel():
    text = austen.read_text()
    lines = text.split("\n")
    assert len(lines) == 13030
    assert len(text) - text.count("\n") == 671738
    assert lines[0] == "PRIDE AND PREJUDICE"
    assert "It is a truth universally acknowledged" in text
    assert text.endswith("had been the means of uniting them.")


def test_sixty_one_chapters_without_headings_or_line_wrapping(chapters):
    assert [c.number for c in chapters] == list(range(1, 62))
    assert chapters[0].paragraphs[0].startswith("It is a truth universally")
    for chapter in chapters:
        assert chapter.paragraphs, chapter.number
        for paragraph in chapter.paragraphs:
            assert "\n" not in paragraph and paragraph == paragraph.strip()
            assert "  " not in paragraph
            assert not re.fullmatch(r"Chapter \d+", paragraph)
    # Undoing the wrapping keeps every word of the book in order.
    words = austen.read_text().split()
    kept = " ".join(c.text for c in chapters).split()
    assert words[words.index("Chapter") :] == [
        w for c in chapters for w in ["Chapter", str(c.number), *c.text.split()]
    ]
    assert len(kept) == len(words) - 6 - 2 * 61  # title, byline and headings


def test_split_is_chronological_and_disjoint(data, chapters):
    assert data.chapters == {
        "train": tuple(range(1, 50)),
        "validation": tuple(range(50, 56)),
        "test": tuple(range(56, 62)),
    }
    by_number = {c.number: c.text for c in chapters}
    for split in ("train", "validation", "test"):
        text = getattr(data, split)
        assert text == "\n".join(by_number[n] for n in data.chapters[split])
    assert (len(data.train), len(data.validation), len(data.test)) == (
        536051,
        77999,
        67553,
    )
    # The first paragraph of each later split is nowhere in the earlier ones.
    assert data.validation.split("\n")[0] not in data.train
    assert data.test.split("\n")[0] not in data.train + data.validation
    other = austen.load_austen(validation_chapters=3, test_chapters=10)
    assert other.chapters["validation"] == (49, 50, 51)
    assert other.chapters["test"] == tuple(range(52, 62))


def test_smoke_slice_is_a_prefix_of_each_split(data):
    small = austen.load_austen(max_chars=5000)
    for split in ("train", "validation", "test"):
        text = getattr(small, split)
        assert 4000 < len(text) <= 5000
        assert getattr(data, split).startswith(text + "\n")
    assert set(small.vocabulary) == set(small.train)


def test_vocabulary_ids(data):
    assert list(data.vocabulary) == sorted(set(data.train))
    assert data.vocab_size == len(data.vocabulary) + 4
    assert set(data.validation) | set(data.test) <= set(data.vocabulary)
    assert list(data.lower_vocabulary) == sorted(set(data.train.lower()))
    ids = austen.encode("Elizabeth\u00e9", data.vocabulary)
    assert ids.dtype == np.int32
    assert ids[0] == data.vocabulary.index("E") + austen.FIRST_CHAR_ID
    assert ids[-1] == austen.UNK_ID
    assert min(ids[:-1]) >= austen.FIRST_CHAR_ID
    assert (austen.PAD_ID, austen.UNK_ID, austen.START_ID, austen.END_ID) == (
        0,
        1,
        2,
        3,
    )
    assert austen.decode(ids, data.vocabulary) == "Elizabeth\ufffd"
    assert (
        austen.decode([austen.START_ID, *ids[:3], austen.END_ID, *ids], data.vocabulary)
        == "Eli"
    )


def test_truecase_labels_reconstruct_the_original_casing(data):
    line = data.test.split("\n")[3]
    lower = austen.lowercase(line)
    tags = austen.truecase_tags(line)
    assert len(lower) == len(tags) == len(line) and lower == line.lower()
    assert set(tags.tolist()) == {austen.TAG_LOWER, austen.TAG_UPPER}
    assert austen.recase(lower, tags) == line
    for i in np.flatnonzero(tags == austen.TAG_UPPER):
        assert line[i].isupper()
    # Over the whole test split too.
    assert (
        austen.recase(data.test.lower(), austen.truecase_tags(data.test)) == data.test
    )


def test_truecase_examples_are_whole_sentences_that_cover_the_text(data):
    examples = austen.truecase_examples(data.validation)
    assert max(len(e) for e in examples) <= austen.DEFAULT_EXAMPLE_LENGTH
    # Nothing but the white space between examples is lost.
    assert "".join(examples).replace(" ", "") == data.validation.replace(
        " ", ""
    ).replace("\n", "")
    cursor = 0
    for example in examples:
        found = data.validation.index(example, cursor)
        assert data.validation[cursor:found].strip() == ""
        cursor = found + len(example)
    # Most examples begin a sentence; the rest continue one longer than
    # max_length (Austen's run to 600 characters and more).
    starts = [e[0].isupper() or e[0] in "\"'_" for e in examples]
    assert np.mean(starts) > 0.85


def test_truecase_arrays_lowercase_the_input(data):
    examples = austen.truecase_examples(data.test)[:5]
    ids, tags = austen.truecase_arrays(examples, data.lower_vocabulary)
    for example, x, y in zip(examples, ids, tags):
        assert austen.decode(x, data.lower_vocabulary) == example.lower()
        assert austen.recase(austen.decode(x, data.lower_vocabulary), y) == example


@tensorflow_only
def test_truecase_dataset_pads_ids_and_tags_alike(data):
    examples = austen.truecase_examples(data.test)[:10]
    ds = austen.make_truecase_dataset(examples, data.lower_vocabulary, batch_size=4)
    batches = list(ds)
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    ids, tags = batches[0]
    assert ids.dtype == tags.dtype == "int32"
    assert ids.shape[1] == max(len(e) for e in examples[:4])
    np.testing.assert_array_equal(ids.numpy() == 0, tags.numpy() == 0)
    np.testing.assert_array_equal(
        tags[1, : len(examples[1])], austen.truecase_tags(examples[1])
    )


def test_lm_inputs_are_targets_shifted_by_one(data):
    inputs, targets = austen.lm_arrays(data.test, data.vocabulary, seq_length=100)
    assert inputs.shape == targets.shape == (math.ceil(len(data.test) / 100), 100)
    assert (inputs[:, 0] == austen.START_ID).all()
    real = targets[:, 1:] > 0
    np.testing.assert_array_equal(inputs[:, 1:][real], targets[:, :-1][real])
    # Every test character is a target exactly once, in order.
    flat = targets.ravel()
    assert austen.decode(flat[flat > 0], data.vocabulary) == data.test
    # The padded tail of the last chunk is padding in both, so the input mask
    # (which the model propagates to its loss) skips exactly the padded targets.
    tail = len(data.test) % 100
    assert tail and (targets[-1, tail:] == 0).all()
    np.testing.assert_array_equal(inputs == 0, targets == 0)


@tensorflow_only
def test_lm_dataset_batches(data):
    ds = austen.make_lm_dataset(data.test, data.vocabulary, seq_length=50, batch_size=8)
    inputs, targets = next(iter(ds))
    assert inputs.shape == targets.shape == (8, 50)
    assert inputs.dtype == targets.dtype == "int32"
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])


@pytest.mark.parametrize(
    "call, error, fragment",
    [
        (lambda: austen.load_austen(test_chapters=0), ValueError, "test_chapters"),
        (
            lambda: austen.load_austen(validation_chapters=2.5),
            TypeError,
            "validation_chapters",
        ),
        (
            lambda: austen.load_austen(validation_chapters=30, test_chapters=31),
            ValueError,
            "at least one",
        ),
        (lambda: austen.load_austen(max_chars=10), ValueError, "max_chars"),
        (lambda: austen.encode(["a"], ["a"]), TypeError, "text"),
        (lambda: austen.encode("a", "ab"), TypeError, "vocabulary"),
        (lambda: austen.encode("a", ["ab"]), ValueError, "single characters"),
        (lambda: austen.recase("abc", [1, 2]), ValueError, "tags"),
        (
            lambda: austen.truecase_examples("Hi.", max_length=0),
            ValueError,
            "max_length",
        ),
        (
            lambda: austen.lm_arrays("abc", ["a"], seq_length=1),
            ValueError,
            "seq_length",
        ),
        (lambda: austen.lm_arrays("", ["a"]), ValueError, "empty"),
    ],
)
def test_bad_arguments_are_clear_errors(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()
