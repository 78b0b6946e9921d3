"""rnn_zoo.data.names on the surname lists of the installed faker package."""

import unicodedata

import keras
import numpy as np
import pytest

from rnn_zoo.data import names


def tensorflow_only(test):
    """The tensorflow_only marker, and a skip on other backends (tf.data)."""
    test = pytest.mark.tensorflow_only(test)
    return pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="tf.data needs TensorFlow"
    )(test)


@pytest.fixture(scope="module")
def data():
    return names.load_names(seed=0)


def test_every_chosen_language_loads_hundreds_of_clean_names():
    surnames = names.load_surnames()
    assert list(surnames) == list(names.LOCALES)
    for language, values in surnames.items():
        assert len(values) >= 300, language
        assert len(set(values)) == len(values), language
        for name in values:
            assert name and name == name.strip(), (language, name)
            assert unicodedata.normalize("NFC", name) == name, (language, name)
    # The Polish list is the real one, not faker's ["Doe"] placeholder.
    assert "Kowalski" in surnames["Polish"] and "Doe" not in surnames["Polish"]
    # Estonian leaves out faker's Russian-origin list.
    assert "Tamm" in surnames["Estonian"] and "Abramov" not in surnames["Estonian"]


def test_no_name_has_two_labels(data):
    label_of = {}
    for split in (data.train, data.validation, data.test):
        for name, label in zip(split.names, split.labels):
            assert label_of.setdefault(name, label) == label, name
    assert data.num_ambiguous > 100
    # "Martin" is on the English, French and German lists: dropped everywhere.
    assert "Martin" not in label_of
    assert sum(data.counts.values()) == len(label_of)
    # Every language keeps most of its names.
    surnames = names.load_surnames()
    for language, count in data.counts.items():
        assert count >= 0.8 * len(surnames[language]), language


def test_split_is_seeded_stratified_and_disjoint(data):
    again = names.load_names(seed=0)
    assert again == data
    other = names.load_names(seed=1)
    assert other.test.names != data.test.names
    assert set(other.test.names) | set(other.train.names) | set(
        other.validation.names
    ) == set(data.test.names) | set(data.train.names) | set(data.validation.names)

    train, val, test = (set(s.names) for s in (data.train, data.validation, data.test))
    assert not train & val and not train & test and not val & test
    for label, language in enumerate(data.languages):
        n = data.counts[language]
        assert data.test.labels.count(label) == round(0.1 * n), language
        assert data.validation.labels.count(label) == round(0.1 * n), language
        assert data.train.labels.count(label) == n - 2 * round(0.1 * n), language


def test_max_per_language_takes_a_seeded_sample(data):
    small = names.load_names(seed=0, max_per_language=20)
    assert set(small.counts.values()) == {20}
    assert len(small.train) == 16 * len(small.languages)
    assert small == names.load_names(seed=0, max_per_language=20)
    everything = (
        set(data.train.names) | set(data.validation.names) | set(data.test.names)
    )
    assert set(small.train.names) <= everything


def test_vocabulary_comes_from_the_training_split_only(data):
    train_chars = {char for name in data.train.names for char in name}
    assert list(data.vocabulary) == sorted(train_chars)
    assert data.vocab_size == len(data.vocabulary) + 2
    # A character never seen in training ("Ж") maps to the OOV id.
    ids = names.encode(["Aalto", "Ж"], data.vocabulary)
    assert ids[1] == [names.OOV_ID]
    assert ids[0][0] == data.vocabulary.index("A") + 2
    assert all(2 <= i < data.vocab_size for i in ids[0])


def test_encode_truncates_to_max_length():
    vocabulary = ["a", "b"]
    assert names.encode(["ab" * 20], vocabulary, max_length=5) == [[2, 3, 2, 3, 2]]
    assert names.encode([""], vocabulary) == [[]]


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"languages": ["English", "Klingon"]}, ValueError),
        ({"languages": ["English"]}, ValueError),
        ({"languages": "English"}, TypeError),
        ({"fractions": (0.5, 0.5, 0.5)}, ValueError),
        ({"max_per_language": 3}, ValueError),
        ({"seed": "0"}, TypeError),
    ],
)
def test_load_names_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        names.load_names(**kwargs)


def test_encode_rejects_bad_arguments():
    with pytest.raises(TypeError, match="names"):
        names.encode("Rossi", ["R"])
    with pytest.raises(ValueError, match="max_length"):
        names.encode(["Rossi"], ["R"], max_length=0)


def _rows(batches):
    """(ids without padding, label) of every name in ``batches``, in order."""
    return [
        (tuple(int(i) for i in row if i), int(label))
        for x, y in batches
        for row, label in zip(x.numpy(), y.numpy())
    ]


@tensorflow_only
def test_dataset_batches_names_of_similar_length_padded_to_a_bucket(data):
    import tensorflow as tf

    small = names.load_names(seed=0, max_per_language=20)
    ds = names.make_dataset(small.test, small.vocabulary, batch_size=8, shuffle=False)
    ids_spec, labels_spec = ds.element_spec
    assert ids_spec.dtype == tf.int32 and ids_spec.shape.as_list() == [None, None]
    assert labels_spec.dtype == tf.int32 and labels_spec.shape.as_list() == [None]

    batches = list(ds)
    # Every name exactly once, with its label; only the order changes.
    encoded = names.encode(small.test.names, small.vocabulary)
    expected = [(tuple(ids), label) for ids, label in zip(encoded, small.test.labels)]
    assert sorted(_rows(batches)) == sorted(expected)
    longest = max(len(ids) for ids in encoded)
    for x, _ in batches:
        lengths = np.count_nonzero(x.numpy(), axis=1)
        # Padded on the right to the first bucket length that holds the
        # batch's longest name (the split's longest closes the buckets).
        buckets = [b for b in names.BUCKET_LENGTHS if b < longest] + [longest]
        assert x.shape[1] == min(b for b in buckets if b >= lengths.max())
        for row, n in zip(x.numpy(), lengths):
            assert row[:n].all() and not row[n:].any()


@tensorflow_only
def test_a_training_epoch_has_one_shape_per_bucket(data):
    ds = names.make_dataset(
        data.train, data.vocabulary, batch_size=64, seed=0, drop_remainder=True
    )
    shapes = {tuple(x.shape) for x, _ in ds}
    # Every batch full (no new batch size each epoch), one length per bucket.
    assert {batch for batch, _ in shapes} == {64}
    assert len(shapes) <= len(names.BUCKET_LENGTHS) + 1
    kept = sum(len(y) for _, y in ds)
    assert len(data.train) - 64 * len(shapes) < kept <= len(data.train)


@tensorflow_only
@pytest.mark.parametrize("drop_remainder", [False, True])
def test_the_number_of_batches_is_known_before_the_first_epoch(data, drop_remainder):
    # Keras shows "n/N" and does not warn that the input "ran out of data".
    ds = names.make_dataset(
        data.validation, data.vocabulary, batch_size=64, drop_remainder=drop_remainder
    )
    assert int(ds.cardinality()) == len(list(ds)) > 0


@tensorflow_only
def test_fixed_length_pads_every_batch_to_the_longest_name_of_the_split():
    small = names.load_names(seed=0, max_per_language=20)
    longest = max(len(name) for name in small.test.names)
    fixed = list(
        names.make_dataset(
            small.test, small.vocabulary, batch_size=8, shuffle=False, fixed_length=True
        )
    )
    bucketed = names.make_dataset(
        small.test, small.vocabulary, batch_size=8, shuffle=False
    )
    # One shape for every batch, in the split's order; the same names.
    assert [x.shape[1] for x, _ in fixed] == [longest] * 4
    assert [label for _, label in _rows(fixed)] == list(small.test.labels)
    assert sorted(_rows(fixed)) == sorted(_rows(bucketed))

    tokens = list(names.GENERATOR_TOKENS) + list(small.vocabulary)
    make = names.make_generator_dataset
    fixed = list(make(small.test, tokens, batch_size=8, fixed_length=True))
    batches = list(make(small.test, tokens, batch_size=8))
    assert len(fixed) == len(batches) == 4
    # The generator pads to the longest in the batch, or with fixed_length
    # to the split's: the same ids, more padding on the right.
    for (x, y), (x_var, y_var) in zip(fixed, batches):
        x, x_var = x["token_ids"], x_var["token_ids"]
        assert x.shape[1] == longest + 1 and x_var.shape[1] <= longest + 1
        np.testing.assert_array_equal(x[:, : x_var.shape[1]], x_var)
        assert not np.any(x[:, x_var.shape[1] :])
        assert y.shape[1] == longest + 1
        np.testing.assert_array_equal(y[:, : y_var.shape[1]], y_var)


@tensorflow_only
def test_dataset_shuffle_is_seeded_and_changes_every_epoch():
    small = names.load_names(seed=0, max_per_language=20)

    def epochs(seed, n=2):
        ds = names.make_dataset(small.train, small.vocabulary, batch_size=50, seed=seed)
        return [[label for _, label in _rows(ds)] for _ in range(n)]

    first = epochs(seed=5)
    assert first == epochs(seed=5)
    assert first[0] != first[1]
    assert sorted(first[0]) == sorted(small.train.labels)
    assert epochs(seed=6)[0] != first[0]


@tensorflow_only
def test_make_dataset_rejects_bad_arguments(data):
    with pytest.raises(TypeError, match="split"):
        names.make_dataset(data.train.names, data.vocabulary)
    with pytest.raises(ValueError, match="batch_size"):
        names.make_dataset(data.train, data.vocabulary, batch_size=0)


@tensorflow_only
def test_generator_dataset_is_teacher_forcing():
    small = names.load_names(seed=0, max_per_language=20)
    tokens = list(names.GENERATOR_TOKENS) + list(small.vocabulary)
    ds = names.make_generator_dataset(small.test, tokens, batch_size=8)
    inputs, targets = next(iter(ds))
    token_ids, targets = inputs["token_ids"].numpy(), targets.numpy()
    assert inputs["condition"].numpy().tolist() == list(small.test.labels[:8])
    assert token_ids.shape == targets.shape
    assert (token_ids[:, 0] == names.GENERATOR_START_ID).all()
    for row_in, row_out, name in zip(token_ids, targets, small.test.names):
        ids = names.encode_for_generator([name], tokens)[0]
        # The input is the start and the name, the target the name and the end.
        assert row_in[: len(ids) + 1].tolist() == [names.GENERATOR_START_ID, *ids]
        assert row_out[: len(ids) + 1].tolist() == [*ids, names.GENERATOR_END_ID]
        assert not row_in[len(ids) + 1 :].any() and not row_out[len(ids) + 1 :].any()
        assert names.decode_generated([row_out], tokens) == [name]
    with pytest.raises(TypeError, match="split"):
        names.make_generator_dataset(small.test.names, tokens)
