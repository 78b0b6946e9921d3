"""rnn_zoo.baselines: the classification and forecasting baselines."""

import numpy as np
import pytest

from rnn_zoo import baselines

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
