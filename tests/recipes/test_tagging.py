"""rnn_zoo.training.tagging and the taggers' decoding, on tiny models.

train_softmax_and_crf itself runs in the three Chinese tagging recipes'
smoke tests (tests/recipes/test_{cws,ner,pos}_zh_recipe.py), which check
both models' records and saved files.
"""

import keras
import numpy as np
import pytest

from rnn_zoo import build_tagger
from rnn_zoo.models.tagger import best_tags, predict_tags
from rnn_zoo.training import tagging

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="recipes train on tf.data",
    ),
]


def test_predict_tags_is_best_tags_of_each_batch():
    model = build_tagger(4, vocab_size=6, units=2, crf=True)
    batches = [np.array([[2, 3, 0]]), np.array([[4, 5, 2, 3], [3, 0, 0, 0]])]
    rows = predict_tags(model, [(b, None) for b in batches])
    expected = [
        row for b in batches for row in np.asarray(best_tags(model, model(b), b != 0))
    ]
    assert [len(r) for r in rows] == [4, 4, 4]  # padded to the widest batch
    for got, want, ids in zip(rows, expected, [r for b in batches for r in b]):
        np.testing.assert_array_equal(got[: len(want)], want)
        assert (got[len(want) :] == 0).all()
        assert ((got[: len(ids)] == 0) == (ids == 0)).all()  # 0 only on padding


def test_compare_picks_the_better_validation_score_and_the_crf_on_a_tie():
    def score(model, split):
        return {
            "f1": {
                "s": {"validation": 0.8, "test": 0.9},
                "c": {"validation": 0.7, "test": 0.95},
            }[model][split]
        }

    result = tagging.compare({"softmax": "s", "crf": "c"}, score, "f1")
    assert result["best"] == "softmax"  # on validation, not on test
    assert result["models"]["crf"] == {"validation": {"f1": 0.7}, "test": {"f1": 0.95}}
    tied = tagging.compare({"crf": "s", "softmax": "s"}, score, "f1")
    assert tied["best"] == "crf"


def test_as_models_names_what_it_received():
    model = build_tagger(3, vocab_size=5, units=2)
    assert tagging.as_models(model) == {"softmax": model}
    with pytest.raises(TypeError, match=r"`model` must be a keras.Model or a mapping"):
        tagging.as_models("softmax")
    with pytest.raises(
        ValueError,
        match=r"map names among \['softmax', 'crf'\] to models\. Received names: \['lstm'\]",
    ):
        tagging.as_models({"lstm": model})


def test_print_table_aligns_and_marks_missing_values(capsys):
    tagging.print_table(
        {"softmax": {"f1": 0.5, "n": 3}, "a longer name": {"f1": 0.25}},
        {"f1": "F1", "n": "count"},
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "model          F1      count",
        "softmax        0.5000  3",
        "a longer name  0.2500  -",
    ]
