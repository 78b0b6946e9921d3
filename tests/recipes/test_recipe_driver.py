"""rnn_zoo.training.recipe: the skeleton of a recipe's main(), on a tiny recipe."""

import json
import random

import keras
import numpy as np
import pytest

from rnn_zoo import training

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="recipes train on tf.data",
    ),
]

CONSTANTS = dict(
    EPOCHS=2,
    BATCH_SIZE=8,
    CELL="gru",
    UNITS=4,
    NUM_LAYERS=1,
    DROPOUT=0.0,
    LEARNING_RATE=1e-2,
    SEED=7,
)


def _parse(output, constants=CONSTANTS, *argv):
    parser = training.recipe_parser("tiny", "A tiny recipe.", constants)
    return training.check_args(
        parser, parser.parse_args(["--output", str(output), *argv])
    )


def _data(seed=0):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(48, 5, 3)).astype("float32")
    y = (x.sum(axis=(1, 2)) > 0).astype("int32")

    def dataset(a, b):
        return tf.data.Dataset.from_tensor_slices((a, b)).batch(8)

    return training.RecipeData(
        train=dataset(x[:32], y[:32]),
        validation=dataset(x[32:40], y[32:40]),
        test=dataset(x[40:], y[40:]),
        info={"classes": 2},
    )


def _build_model(args, info):
    inputs = keras.Input((5, 3))
    x = keras.layers.GRU(args.units)(inputs)
    outputs = keras.layers.Dense(info["classes"], activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss="sparse_categorical_crossentropy",
    )
    return model


def test_parser_defaults_come_from_the_constants(tmp_path):
    args = _parse(tmp_path)
    assert (args.epochs, args.batch_size, args.cell, args.units) == (2, 8, "gru", 4)
    assert (args.dropout, args.learning_rate, args.seed) == (0.0, 1e-2, 7)
    assert not hasattr(args, "bidirectional")
    args = _parse(tmp_path, {**CONSTANTS, "BIDIRECTIONAL": True}, "--units", "9")
    assert args.bidirectional is True and args.units == 9


def test_parser_names_the_missing_constants():
    constants = {k: v for k, v in CONSTANTS.items() if k not in ("SEED", "UNITS")}
    with pytest.raises(ValueError, match=r"\['UNITS', 'SEED'\]"):
        training.recipe_parser("tiny", "A tiny recipe.", constants)


def test_a_run_seeds_keras(tmp_path):
    args = _parse(tmp_path)
    training.RecipeRun("tiny", args)
    first = (random.random(), keras.random.uniform((3,)).numpy())
    training.RecipeRun("tiny", args)
    again = (random.random(), keras.random.uniform((3,)).numpy())
    assert first[0] == again[0]
    np.testing.assert_array_equal(first[1], again[1])


def test_save_needs_a_fit_first(tmp_path):
    run = training.RecipeRun("tiny", _parse(tmp_path))
    with pytest.raises(RuntimeError, match="fit"):
        run.save(_build_model(run.args, {"classes": 2}), {}, {})


def test_a_run_trains_and_writes_its_directory(tmp_path, capsys):
    run = training.RecipeRun("tiny", _parse(tmp_path))
    data = _data()
    model = run.build(_build_model, data.info)
    run.fit(model, data, patience=5)
    assert run.epochs_run == 2 and run.best_epoch in (1, 2)
    metrics = run.save(model, data.info, {"test_thing": 0.5}, patience=5)
    run.wrote("export/")

    written = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert written == metrics
    assert written["test_thing"] == 0.5 and written["epochs_run"] == 2
    assert written["config"]["patience"] == 5 and written["config"]["units"] == 4
    run_json = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert run_json["recipe"] == "tiny" and run_json["info"] == {"classes": 2}
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(
        loaded.predict(np.ones((1, 5, 3)), verbose=0),
        model.predict(np.ones((1, 5, 3)), verbose=0),
    )
    assert run.export_dir == str(tmp_path / "export")
    out = capsys.readouterr().out
    assert "Total params" in out  # build() summarised the model
    assert out.strip().endswith(
        f"Wrote {tmp_path}: model.keras, export/, metrics.json, run.json"
    )


def test_train_reads_patience_and_smoke_epochs_from_the_constants(tmp_path):
    constants = {**CONSTANTS, "EPOCHS": 3, "PATIENCE": 5, "SMOKE_EPOCHS": 2}
    run = training.RecipeRun("tiny", _parse(tmp_path, constants, "--smoke"), constants)
    model = run.train(_build_model, _data(), summary=False)
    assert isinstance(model, keras.Model) and model.optimizer.iterations > 0
    assert run.epochs_run == 2  # SMOKE_EPOCHS, not EPOCHS
    with pytest.raises(ValueError, match="PATIENCE"):
        training.RecipeRun("tiny", _parse(tmp_path), CONSTANTS).train(
            _build_model, _data()
        )


def test_save_records_the_named_constants(tmp_path):
    constants = {**CONSTANTS, "PATIENCE": 5, "EMBEDDING_DIM": 3, "CLIPNORM": 1.0}
    run = training.RecipeRun("tiny", _parse(tmp_path), constants)
    model = run.train(_build_model, _data(), summary=False)
    metrics = run.save(model, {}, {}, "EMBEDDING_DIM PATIENCE", "CLIPNORM", extra=7)
    config = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))[
        "config"
    ]
    assert config == metrics["config"]
    assert (config["embedding_dim"], config["patience"]) == (3, 5)
    assert (config["clipnorm"], config["extra"]) == (1.0, 7)
    assert "EMBEDDING_DIM" not in config and "seq_length" not in config
    with pytest.raises(ValueError, match="SEQ_LENGTH"):
        run.save(model, {}, {}, "PATIENCE SEQ_LENGTH")


def test_targets_of_concatenates_the_batches():
    data = _data()
    expected = np.concatenate([y.numpy() for _, y in data.test])
    np.testing.assert_array_equal(training.targets_of(data.test), expected)


def test_recipe_data_shuffles_the_training_split_only():
    calls = []

    def dataset(split, shuffle=True):  # a default that must not be relied on
        calls.append((split, shuffle))
        return f"batched {split}"

    data = training.recipe_data(dataset, ("a", "b", "c"), {"n": 3})
    assert calls == [("a", True), ("b", False), ("c", False)]
    assert (data.train, data.validation, data.test) == (
        "batched a",
        "batched b",
        "batched c",
    )
    assert data.info == {"n": 3}


def test_builder_args_pass_the_architecture_flags(tmp_path):
    args = _parse(tmp_path, CONSTANTS, "--units", "9", "--num-layers", "2")
    assert training.builder_args(args) == {
        "cell": "gru",
        "units": 9,
        "num_layers": 2,
        "dropout": 0.0,
    }
    args = _parse(tmp_path, {**CONSTANTS, "BIDIRECTIONAL": False}, "--bidirectional")
    assert training.builder_args(args)["bidirectional"] is True


def test_train_and_evaluate_runs_the_recipes_steps_in_order(tmp_path, capsys):
    constants = {**CONSTANTS, "PATIENCE": 5}
    run = training.RecipeRun("tiny", _parse(tmp_path), constants)
    steps = []

    def load_data(args):
        steps.append(("load_data", args.units))
        data = _data()
        data.summary = "48 tiny examples"
        return data

    def build_model(args, info):
        steps.append(("build_model", info["classes"]))
        return _build_model(args, info)

    def evaluate(model, data, args):
        steps.append(("evaluate", int(model.optimizer.iterations.numpy())))
        return {"test_loss": float(model.evaluate(data.test, verbose=0))}

    model, data, results = run.train_and_evaluate(load_data, build_model, evaluate)
    # Data, then the model, then evaluation of the trained model (2 epochs of
    # 4 batches each), with the run's flags.
    assert steps == [("load_data", 4), ("build_model", 2), ("evaluate", 8)]
    assert data.info == {"classes": 2} and run.epochs_run == 2
    assert set(results) == {"test_loss"} and np.isfinite(results["test_loss"])
    out = capsys.readouterr().out
    # The data's summary comes first, before the model's.
    assert out.index("48 tiny examples") < out.index("Total params")


def test_save_records_the_split_sizes_from_info(tmp_path):
    constants = {**CONSTANTS, "PATIENCE": 5}
    run = training.RecipeRun("tiny", _parse(tmp_path), constants)
    model = run.train(_build_model, _data(), summary=False)
    info = {
        "num_examples": {"train": 32, "validation": 8, "test": 8},
        "num_features": 3,  # not a split size: not copied
    }
    metrics = run.save(model, info, {"num_words": {"test": 1}})
    assert metrics["num_examples"] == {"train": 32, "validation": 8, "test": 8}
    assert metrics["num_words"] == {"test": 1}  # the recipe's own value wins
    assert "num_features" not in metrics
    written = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert written["num_examples"] == metrics["num_examples"]


def test_classifier_scores_agree_with_keras_accuracy(tmp_path):
    from rnn_zoo import metrics

    constants = {**CONSTANTS, "PATIENCE": 5}
    run = training.RecipeRun("tiny", _parse(tmp_path), constants)
    model = run.train(_build_model, _data(), summary=False)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    test = _data().test
    loss, accuracy = model.evaluate(test, verbose=0)
    scores = metrics.classifier_scores(model, test, ["negative", "positive"])
    assert scores["loss"] == pytest.approx(loss, rel=1e-6)
    assert scores["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    labels = training.targets_of(test)
    predicted = np.argmax(model.predict(test, verbose=0), axis=-1)
    for i, name in enumerate(["negative", "positive"]):
        if np.any(labels == i):
            expected = np.mean(predicted[labels == i] == i)
            assert scores["accuracy_per_class"][name] == pytest.approx(expected)
    assert scores["balanced_accuracy"] == pytest.approx(
        np.mean(list(scores["accuracy_per_class"].values()))
    )


def test_named_models_train_from_the_same_seed_apart_and_are_recorded(tmp_path):
    constants = {**CONSTANTS, "EPOCHS": 1, "PATIENCE": 1}
    run = training.RecipeRun("tiny", _parse(tmp_path, constants), constants)
    first = run.train(_build_model, _data(), name="first", summary=False)
    keras.random.uniform((5,))  # draws between the two do not change the second
    second = run.train(_build_model, _data(), name="second", summary=False)
    # Reseeded before each build: the same initial weights, so the same training.
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    for name in ("first", "second"):
        assert (tmp_path / name / "checkpoints").is_dir()  # each its own checkpoints
    assert not (tmp_path / "checkpoints").exists()
    assert set(run.trainings) == {"first", "second"}
    metrics = run.save(second, {}, {})
    seconds = [t["train_seconds"] for t in run.trainings.values()]
    assert metrics["trainings"] == run.trainings
    assert metrics["epochs_run"] == run.trainings["second"]["epochs_run"] == 1
    assert metrics["train_seconds"] == round(sum(seconds), 1)
