"""rnn_zoo.metrics: every metric, on hand-made cases."""

import math

import numpy as np
import pytest

from rnn_zoo import build_generator, metrics


def test_bits_per_character():
    logits = np.log(np.array([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]]))
    assert metrics.bits_per_character(logits, np.array([[1, 0]])) == pytest.approx(2.0)
    assert metrics.bits_per_character(logits, np.array([[0, 2]])) == pytest.approx(
        -math.log2(0.8)
    )
    # Another padding id: id 0 is scored, id 2 skipped.
    assert metrics.bits_per_character(
        logits, np.array([[0, 2]]), pad_id=2
    ) == pytest.approx(1.0)


def test_perplexity_of_a_known_model_over_batches():
    model = build_generator(4, units=3)
    logits = model.get_layer("logits")
    kernel, bias = logits.get_weights()
    # Zero kernel: every step gives the bias's distribution (0.1, 0.2, 0.3, 0.4).
    probabilities = np.array([0.1, 0.2, 0.3, 0.4])
    logits.set_weights([np.zeros_like(kernel), np.log(probabilities)])
    batches = [
        (np.array([[1, 2, 3]]), np.array([[3, 2, 0]])),
        (np.array([[1, 1]]), np.array([[1, 3]])),
    ]
    # Targets 3, 2, 1, 3 (padding skipped), one mean over all four.
    expected = math.exp(-np.mean(np.log(probabilities[[3, 2, 1, 3]])))
    assert metrics.perplexity(model, batches) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="dataset"):
        metrics.perplexity(model, [(np.array([[1]]), np.array([[0]]))])


def test_casing_metrics():
    true = [np.array([2, 1, 1, 2, 0]), np.array([1, 2])]
    predicted = [np.array([2, 2, 1, 1, 1]), np.array([1, 2])]
    scores = metrics.casing_metrics(true, predicted)
    assert scores["characters"] == 6
    assert scores["accuracy"] == pytest.approx(4 / 6)
    assert scores["upper_precision"] == pytest.approx(2 / 3)
    assert scores["upper_recall"] == pytest.approx(2 / 3)
    assert scores["upper_f1"] == pytest.approx(2 / 3)


def test_edit_distance():
    assert metrics.edit_distance([], []) == 0
    assert metrics.edit_distance("kitten", "sitting") == 3
    assert metrics.edit_distance(["K", "AE", "T"], []) == 3
    assert metrics.edit_distance(["AE", "T"], ["T", "AE"]) == 2


def test_word_error_rate_accepts_any_listed_pronunciation():
    tomato = [("T", "AH", "M", "EY", "T", "OW"), ("T", "AH", "M", "AA", "T", "OW")]
    references = [tomato, tomato, [("K", "AE", "T")]]
    predictions = [tomato[1], tomato[0], ("K", "AA", "T")]
    assert metrics.word_error_rate(predictions, references) == pytest.approx(1 / 3)
    assert metrics.word_error_rate([tomato[0]], [tomato]) == 0.0


def test_phoneme_error_rate_scores_against_the_closest_pronunciation():
    tomato = [("T", "AH", "M", "EY", "T", "OW"), ("T", "AH", "M", "AA", "T", "OW")]
    # One substitution from the 2nd pronunciation, two from the 1st: 1 counts.
    predictions = [("T", "AH", "M", "AA", "D", "OW"), ("K", "AE", "T", "S")]
    references = [tomato, [("K", "AE", "T")]]
    # (1 + 1 insertion) / (6 + 3)
    assert metrics.phoneme_error_rate(predictions, references) == pytest.approx(2 / 9)
    # Summed over the set, not averaged per word: a long word weighs more.
    assert metrics.phoneme_error_rate(
        [(), ("K", "AE", "T")], references
    ) == pytest.approx(6 / 9)
    # The closest pronunciation's length is the denominator: 1 error in 1.
    short = [("AH",), ("AH", "B", "K", "D", "E")]
    assert metrics.phoneme_error_rate([("AH", "B")], [short]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "predictions, references, error",
    [
        ([("K",)], [("K",)], ValueError),  # a reference list, not a pronunciation
        ([("K",)], [[("K",)], [("T",)]], ValueError),  # lengths differ
        ([], [], ValueError),
        ("K AE T", [[("K", "AE", "T")]], TypeError),
    ],
)
def test_metric_arguments_are_checked(predictions, references, error):
    with pytest.raises(error, match="predictions|references"):
        metrics.word_error_rate(predictions, references)
    with pytest.raises(error, match="predictions|references"):
        metrics.phoneme_error_rate(predictions, references)


@pytest.mark.parametrize(
    "call, error, fragment",
    [
        (lambda: metrics.casing_metrics([[1, 2]], [[1]]), ValueError, "predicted_tags"),
        (
            lambda: metrics.bits_per_character(np.zeros((2, 3)), np.zeros((3,))),
            ValueError,
            "logits",
        ),
    ],
)
def test_bad_arguments_are_clear_errors(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


"""
## Classification and forecasting
"""


def test_accuracy_per_class_and_balanced_accuracy():
    labels = np.array([0, 0, 0, 0, 1, 2, 2])
    predicted = np.array([0, 0, 0, 1, 1, 0, 2])
    per_class = metrics.accuracy_per_class(labels, predicted, ["a", "b", "c", "d"])
    # "d" has no example: left out, not NaN.
    assert per_class == {"a": 0.75, "b": 1.0, "c": 0.5}
    assert metrics.balanced_accuracy(per_class) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="same shape"):
        metrics.accuracy_per_class(labels, predicted[:3], ["a", "b", "c"])


def test_forecast_errors_over_all_steps_and_by_step():
    forecast = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    targets = np.array([[1.0, 2.0, 6.0], [2.0, 2.0, 0.0]])
    errors = metrics.forecast_errors(forecast, targets, steps=(1, 3, 4))
    assert errors["mae"] == pytest.approx(7 / 6)
    assert errors["rmse"] == pytest.approx(np.sqrt(19 / 6))
    assert errors["mae_by_step"] == {"1": 0.5, "3": 3.0}  # step 4 is past the horizon
    with pytest.raises(ValueError, match="windows, horizon"):
        metrics.forecast_errors([1.0], [2.0])


def test_segmentation_scores_count_exact_word_spans():
    true = [["中国", "人民", "的", "朋友"], ["新", "世纪"]]
    # 中国 right; 人 民 wrong; 的 right; 朋友 right | 新世纪: one word, wrong.
    predicted = [["中国", "人", "民", "的", "朋友"], ["新世纪"]]
    scores = metrics.segmentation_scores(true, predicted)
    assert (scores["correct"], scores["predicted_words"], scores["true_words"]) == (
        3,
        6,
        6,
    )
    assert scores["precision"] == scores["recall"] == pytest.approx(0.5)
    assert scores["f1"] == pytest.approx(0.5)
    # A word in the right place counts, the same word elsewhere does not.
    scores = metrics.segmentation_scores([["人", "人人"]], [["人人", "人"]])
    assert scores["correct"] == 0
    with pytest.raises(ValueError, match="same text.*sentence 0"):
        metrics.segmentation_scores([["中国"]], [["中", "华"]])


def test_bmes_words_read_any_tag_sequence():
    assert metrics.bmes_words("中华人民共和国", list("BMMMMME")) == ["中华人民共和国"]
    # B B: two words; M after E starts one; a trailing B ends with the text.
    assert metrics.bmes_words("中国人民好", ["B", "B", "E", "M", "B"]) == [
        "中",
        "国人",
        "民",
        "好",
    ]
    with pytest.raises(ValueError, match="one tag per character.*2 tags for 3"):
        metrics.bmes_words("中国人", ["B", "E"])
    with pytest.raises(ValueError, match="'X'"):
        metrics.bmes_words("中", ["X"])


def test_bio_entities_read_invalid_sequences_as_conlleval():
    tags = ["I-PER", "I-PER", "O", "B-LOC", "I-ORG", "I-ORG", "B-ORG", "B-ORG"]
    assert metrics.bio_entities(tags) == [
        (0, 2, "PER"),  # I- without B- starts an entity
        (3, 4, "LOC"),
        (4, 6, "ORG"),  # a change of type starts one
        (6, 7, "ORG"),
        (7, 8, "ORG"),  # B- after B- of the same type: two entities
    ]
    assert metrics.bio_entities([]) == []
    with pytest.raises(ValueError, match="'PER'"):
        metrics.bio_entities(["PER"])


def test_entity_scores_need_span_and_type_micro_and_per_type():
    true = [
        ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"],
        ["B-ORG", "I-ORG", "O", "B-PER"],
    ]
    predicted = [
        # PER right; LOC with a wrong span.
        ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "O"],
        # ORG typed as LOC; PER right; plus a spurious PER.
        ["B-LOC", "I-LOC", "I-PER", "B-PER"],
    ]
    scores = metrics.entity_scores(true, predicted)
    assert (
        scores["correct"],
        scores["predicted_entities"],
        scores["true_entities"],
    ) == (
        2,
        5,
        4,
    )
    assert scores["precision"] == pytest.approx(2 / 5)
    assert scores["recall"] == pytest.approx(2 / 4)
    assert scores["f1"] == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    per_type = scores["per_type"]
    assert per_type["PER"] == {
        "precision": pytest.approx(2 / 3),
        "recall": 1.0,
        "f1": pytest.approx(0.8),
        "support": 2,
    }
    assert per_type["LOC"]["precision"] == 0.0 and per_type["LOC"]["support"] == 1
    assert per_type["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    with pytest.raises(ValueError, match="sentence 1: 1 predicted, 2 true"):
        metrics.entity_scores([["O"], ["O", "O"]], [["O"], ["O"]])
