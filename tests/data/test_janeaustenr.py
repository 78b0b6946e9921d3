"""rnn_zoo.data.janeaustenr on Debian's installed r-cran-janeaustenr (mocked only for the missing-rdata case)."""

import builtins
import os
import re

import pytest

from rnn_zoo.data import austen, janeaustenr

installed = pytest.mark.skipif(
    not os.path.isfile(janeaustenr.DEFAULT_DATA_PATH + ".rdb"),
    reason=f"needs the Debian package: {janeaustenr.APT_INSTALL}",
)


@pytest.fixture(scope="module")
def novels():
    return janeaustenr.load_other_novels()


@installed
def test_the_five_other_novels_in_publication_order(novels):
    assert list(novels) == [
        "sensesensibility",
        "mansfieldpark",
        "emma",
        "northangerabbey",
        "persuasion",
    ]
    openings = {
        "sensesensibility": "The family of Dashwood had long been settled in Sussex.",
        "mansfieldpark": "About thirty years ago Miss Maria Ward, of Huntingdon,",
        "emma": "Emma Woodhouse, handsome, clever, and rich,",
        "northangerabbey": "No one who had ever seen Catherine Morland in her infancy",
        "persuasion": "Sir Walter Elliot, of Kellynch Hall, in Somersetshire,",
    }
    for name, opening in openings.items():
        assert novels[name].startswith(opening), name
    assert novels["sensesensibility"].endswith("coolness between their husbands.")
    assert novels["emma"].endswith("in the perfect happiness of the union.")
    # 3.3 million characters, each novel 430k-880k.
    assert 3_300_000 < sum(map(len, novels.values())) < 3_340_000


@installed
def test_headings_front_matter_and_wrapping_are_gone(novels):
    for name, text in novels.items():
        paragraphs = text.split("\n")
        assert all(p and p == " ".join(p.split()) for p in paragraphs), name
        assert not any(
            re.fullmatch(r"(CHAPTER|VOLUME) [IVXLC\d]+", p) for p in paragraphs
        )
        assert paragraphs[-1] not in ("THE END", "FINIS", "Finis"), name
        assert "Jane Austen" not in paragraphs[0], name


@installed
def test_no_pride_and_prejudice_text_in_the_other_novels(novels):
    # Every validation and test paragraph long enough to be unique (short
    # ones such as "Yes." recur in any novel).
    data = austen.load_austen()
    held_out = [
        p for p in (data.validation + "\n" + data.test).split("\n") if len(p) > 60
    ]
    assert len(held_out) > 400
    extra = "\n".join(novels.values())
    assert not [p for p in held_out if p in extra]


@installed
def test_pride_and_prejudice_reads_as_the_embedded_text():
    # The package's prideprejudice object, prepared here, is the text rnn_zoo
    # embeds and splits by chapter: the same paragraphs, in order.
    paragraphs = janeaustenr.paragraphs(janeaustenr.read_lines("prideprejudice"))
    embedded = [p for c in austen.load_chapters() for p in c.paragraphs]
    assert paragraphs == embedded


def test_paragraphs_drop_headings_and_unwrap():
    lines = ["TITLE", "", "CHAPTER I", "", "One", "line.", "  ", "Two.", "VOLUME II"]
    lines += ["Chapter 2", "", "Three.", "", "", "THE END"]
    assert janeaustenr.paragraphs(lines) == ["One line.", "Two.", "Three."]


def test_bad_input_is_refused():
    with pytest.raises(
        ValueError, match=r"`name` must be one of .*Received: name='ulysses'"
    ):
        janeaustenr.read_lines("ulysses")
    with pytest.raises(TypeError, match="`lines` must be a list of lines"):
        janeaustenr.paragraphs("CHAPTER I\n\nText.")
    with pytest.raises(ValueError, match=r"at least one chapter heading.*\['A', 'b'\]"):
        janeaustenr.paragraphs(["A", "b"])


def test_missing_package_gives_the_apt_command(tmp_path):
    # The real check on a path without the data files (no mock needed).
    with pytest.raises(
        FileNotFoundError, match=r"sudo apt-get install r-cran-janeaustenr"
    ):
        janeaustenr.load_other_novels(str(tmp_path / "Rdata"))


def test_missing_rdata_gives_the_pip_command(monkeypatch):
    # The real path: the tests above read the package with rdata. rdata is
    # looked for first, so this holds without the Debian package too.
    real_import = builtins.__import__

    def no_rdata(name, *args, **kwargs):
        if name == "rdata":
            raise ModuleNotFoundError("No module named 'rdata'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rdata)
    with pytest.raises(ModuleNotFoundError, match=r'pip install "rnn_zoo\[austen\]"'):
        janeaustenr.read_lines("persuasion")
