"""keras-tuner HyperModels over the builders, and a real `rnn-zoo tune` run."""

import json

import keras
import keras_tuner
import numpy as np
import pytest

import rnn_zoo
from rnn_zoo import cli
from rnn_zoo.models.hypermodels import (
    ClassifierHyperModel,
    ForecasterHyperModel,
    GeneratorHyperModel,
    Seq2SeqHyperModel,
    TaggerHyperModel,
)

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the tune run uses tf.data and exports a SavedModel",
    ),
]

SEARCHED = {"cell", "units", "num_layers", "bidirectional", "dropout", "learning_rate"}
LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


# HyperModel class, its builder, fixed builder kwargs, compile kwargs.
CASES = {
    "classifier": (
        ClassifierHyperModel,
        rnn_zoo.build_classifier,
        dict(num_classes=3, vocab_size=20),
        dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
    ),
    "tagger": (
        TaggerHyperModel,
        rnn_zoo.build_tagger,
        dict(num_tags=3, vocab_size=20),
        dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
    ),
    "forecaster": (
        ForecasterHyperModel,
        rnn_zoo.build_forecaster,
        dict(horizon=2, window=8),
        dict(loss="mse", metrics=["mae"]),
    ),
    "generator": (
        GeneratorHyperModel,
        rnn_zoo.build_generator,
        dict(vocab_size=20),
        dict(loss=LOGITS),
    ),
    "seq2seq": (
        Seq2SeqHyperModel,
        rnn_zoo.build_seq2seq,
        dict(source_vocab_size=20, target_vocab_size=15),
        dict(loss=LOGITS, metrics=[keras.metrics.SparseCategoricalAccuracy()]),
    ),
}

# A second point of the space, different from the defaults in every value.
SAMPLE = dict(
    cell="lstm",
    units=64,
    num_layers=2,
    bidirectional=True,
    dropout=0.2,
    learning_rate=3e-3,
)


# Hyperparameters of one builder only, and a non-default value for each.
EXTRA = {"classifier": {"attention": True}, "seq2seq": {"attention": "luong"}}


@pytest.mark.parametrize("case", list(CASES))
def test_builds_and_compiles_what_the_builder_builds(case):
    hypermodel_class, builder, fixed, compile_kwargs = CASES[case]
    hypermodel = hypermodel_class(**fixed, **compile_kwargs)
    hp = keras_tuner.HyperParameters()
    first = hypermodel.build(hp)  # declares the space, takes its defaults
    defaults = dict(hp.values)
    searched = SEARCHED - ({"bidirectional"} if case == "generator" else set())
    searched |= set(EXTRA.get(case, {}))
    assert set(defaults) == searched
    hp.values.update({k: v for k, v in SAMPLE.items() if k in searched})
    hp.values.update(EXTRA.get(case, {}))
    second = hypermodel.build(hp)
    for model, values in ((first, defaults), (second, dict(hp.values))):
        architecture = {
            k: None if v == "none" else v
            for k, v in values.items()
            if k != "learning_rate"
        }
        assert model.count_params() == builder(**fixed, **architecture).count_params()
        assert float(model.optimizer.learning_rate) == pytest.approx(
            values["learning_rate"]
        )
    assert first.count_params() != second.count_params()
    for model in (first, second):
        assert model.compiled and isinstance(model.optimizer, keras.optimizers.Adam)
        assert model.loss is compile_kwargs["loss"]
    # Fitting a HyperModel's model is covered by the tune run below (and each
    # builder's training step by the registry tests): tracing a training step
    # per builder here would cost ~10 s each.


def test_fixed_arguments_pin_their_hyperparameters():
    hypermodel = ClassifierHyperModel(
        num_classes=3,
        vocab_size=20,
        cell="gru",
        units=48,
        learning_rate=3e-3,
        loss="sparse_categorical_crossentropy",
    )
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert (hp.values["cell"], hp.values["units"]) == ("gru", 48)
    expected = rnn_zoo.build_classifier(
        3, vocab_size=20, **{k: v for k, v in hp.values.items() if k != "learning_rate"}
    )
    assert model.count_params() == expected.count_params()
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-3)
    space = {p.name: p for p in hp.space}
    samples = [
        {n: p.random_sample(seed) for n, p in space.items()} for seed in range(20)
    ]
    assert {(s["cell"], s["units"], s["learning_rate"]) for s in samples} == {
        ("gru", 48, 3e-3)
    }
    # The others are still searched.
    assert len({s["num_layers"] for s in samples}) > 1


def test_bidirectional_is_searched_only_where_the_model_allows_it():
    loss = "mse"
    for hypermodel, searched in (
        (ForecasterHyperModel(horizon=2, loss=loss), True),
        (ForecasterHyperModel(horizon=2, mode="autoregressive", loss=loss), False),
        (GeneratorHyperModel(vocab_size=10, loss=LOGITS), False),
        (TaggerHyperModel(num_tags=2, vocab_size=10, loss=loss), True),
    ):
        hp = keras_tuner.HyperParameters()
        hypermodel.build(hp)
        assert ("bidirectional" in hp.values) is searched


def test_search_space_overrides_the_default_ranges():
    hypermodel = TaggerHyperModel(
        num_tags=3,
        vocab_size=20,
        loss="sparse_categorical_crossentropy",
        search_space={
            "units": [16, 24],
            "dropout": {"max_value": 0.2},
            "cell": ["gru"],
        },
    )
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    space = {p.name: p for p in hp.space}
    assert list(space["units"].values) == [16, 24]
    assert space["dropout"].max_value == 0.2 and space["dropout"].step == 0.1
    assert list(space["cell"].values) == ["gru"]
    assert space["num_layers"].max_value == 3


@pytest.mark.parametrize(
    "make, error, fragment",
    [
        (
            lambda: ClassifierHyperModel(vocab_size=9, loss="mse"),
            TypeError,
            "num_classes",
        ),
        (
            lambda: Seq2SeqHyperModel(source_vocab_size=9, loss="mse"),
            TypeError,
            "target_vocab_size",
        ),
        (lambda: TaggerHyperModel(num_tags=2, loss=None), ValueError, "loss"),
        (
            lambda: TaggerHyperModel(
                num_tags=2, loss="mse", search_space={"heads": [2]}
            ),
            ValueError,
            "heads",
        ),
        (
            lambda: GeneratorHyperModel(
                vocab_size=9, loss="mse", search_space={"bidirectional": [True]}
            ),
            ValueError,
            "bidirectional",
        ),
        (
            lambda: ClassifierHyperModel(
                num_classes=2, units=32, loss="mse", search_space={"units": [8]}
            ),
            ValueError,
            "pinned",
        ),
        (
            lambda: ClassifierHyperModel(
                num_classes=2, loss="mse", search_space={"units": []}
            ),
            ValueError,
            "units",
        ),
        (
            lambda: ClassifierHyperModel(num_classes=2, loss="mse", search_space=[1]),
            TypeError,
            "search_space",
        ),
    ],
)
def test_bad_arguments_are_named(make, error, fragment):
    with pytest.raises(error, match=fragment):
        make()


@pytest.fixture(scope="module")
def tuned_dir(tmp_path_factory):
    output = tmp_path_factory.mktemp("tune_names")
    argv = ["tune", "names", "--max-trials", "2", "--smoke", "--output", str(output)]
    assert cli.main(argv) == 0
    return output


def test_tune_writes_a_run_with_the_best_hyperparameters(tuned_dir):
    metrics = json.loads((tuned_dir / "metrics.json").read_text(encoding="utf-8"))
    best = metrics["best_hyperparameters"]
    assert set(best) == SEARCHED | {"attention"}
    assert metrics["trials_run"] == 2 and metrics["epochs_run"] == 1
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["config"]["max_trials"] == 2
    run = json.loads((tuned_dir / "run.json").read_text(encoding="utf-8"))
    assert run["recipe"] == "names"
    # model.keras is the best configuration, rebuilt and trained.
    model = keras.saving.load_model(tuned_dir / "model.keras", safe_mode=True)
    architecture = {k: v for k, v in best.items() if k != "learning_rate"}
    expected = rnn_zoo.build_classifier(
        len(run["info"]["languages"]),
        vocab_size=run["info"]["vocab_size"],
        **architecture,
    )
    assert model.count_params() == expected.count_params()
    assert (tuned_dir / "tuner" / "names").is_dir()


def test_tune_exports_a_saved_model_that_takes_raw_strings(tuned_dir):
    import tensorflow as tf

    served = tf.saved_model.load(str(tuned_dir / "export"))
    out = served.classify(tf.constant(["Rossi", "Nowak"]))
    np.testing.assert_allclose(
        out["probabilities"].numpy().sum(axis=-1), 1.0, atol=1e-5
    )
