"""Every registered model: build, one training step, .keras round trip, SavedModel."""

import keras
import numpy as np
import pytest

import rnn_zoo
from rnn_zoo.models.registry import get_model_entry

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="exports a SavedModel"
)

BATCH, TIME = 4, 7


def _int_input(vocab, rng, shape):
    ids = rng.integers(1, vocab, size=shape).astype("int32")
    ids[0, -2:] = 0  # padding in one row
    return ids


def _batch(name, model, rng):
    """Random inputs and targets shaped as the model's task expects."""
    kwargs = get_model_entry(name).kwargs
    builder = get_model_entry(name).builder
    if builder is rnn_zoo.build_classifier:
        if "vocab_size" in kwargs:
            x = _int_input(kwargs["vocab_size"], rng, (BATCH, TIME))
        else:
            x = rng.normal(size=(BATCH, TIME, kwargs["input_features"])).astype(
                "float32"
            )
        return x, rng.integers(0, kwargs["num_classes"], BATCH)
    if builder is rnn_zoo.build_tagger:
        x = _int_input(kwargs["vocab_size"], rng, (BATCH, TIME))
        return x, rng.integers(0, kwargs["num_tags"], (BATCH, TIME))
    if builder is rnn_zoo.build_forecaster:
        x = rng.normal(size=(BATCH, 20, 1)).astype("float32")
        return x, rng.normal(size=(BATCH, kwargs["horizon"], 1)).astype("float32")
    if builder is rnn_zoo.build_generator:
        ids = _int_input(kwargs["vocab_size"], rng, (BATCH, TIME))
        x = ids
        if "num_conditions" in kwargs:
            x = {
                "token_ids": ids,
                "condition": rng.integers(0, kwargs["num_conditions"], BATCH).astype(
                    "int32"
                ),
            }
        return x, ids
    source = _int_input(kwargs["source_vocab_size"], rng, (BATCH, TIME))
    target = _int_input(kwargs["target_vocab_size"], rng, (BATCH, 5))
    return {"source_ids": source, "target_ids": target}, target


def _loss(model):
    if model.output_shape[-1] and model.layers[-1].name == "logits":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if model.layers[-1].name == "forecast":
        return "mse"
    return "sparse_categorical_crossentropy"


@pytest.mark.slow
@pytest.mark.parametrize("name", rnn_zoo.list_models())
def test_registered_model_trains_saves_and_exports(name, tmp_path):
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    # The registered structure (cell, layers, directions, heads) at a width
    # that keeps the suite fast; create_model's overrides are tested below.
    model = rnn_zoo.create_model(name, units=16)
    assert model.name == name
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)
    rng = np.random.default_rng(0)
    x, y = _batch(name, model, rng)
    model.compile(optimizer="adam", loss=_loss(model))
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"])
    changed = [
        not np.array_equal(b, w.numpy())
        for b, w in zip(before, model.trainable_weights)
    ]
    assert any(changed), "one training step left every weight unchanged"

    expected = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, atol=1e-6)

    export_dir = str(tmp_path / "export")
    model.export(export_dir, verbose=False)
    served = tf.saved_model.load(export_dir)
    served_x = (
        {k: tf.constant(v) for k, v in x.items()}
        if isinstance(x, dict)
        else tf.constant(x)
    )
    np.testing.assert_allclose(served.serve(served_x).numpy(), expected, atol=1e-5)


def test_create_model_applies_overrides():
    model = rnn_zoo.create_model("lstm_classifier_small", num_classes=14, vocab_size=60)
    assert model.output_shape == (None, 14)
    assert model.get_layer("embedding").input_dim == 60


def test_list_models_filters_by_pattern():
    taggers = rnn_zoo.list_models("*tagger*")
    assert taggers and all("tagger" in name for name in taggers)
    assert set(taggers) < set(rnn_zoo.list_models())


def test_unknown_model_names_the_registered_ones():
    with pytest.raises(
        ValueError, match="Unknown model 'lstm_huge'.*lstm_classifier_small"
    ):
        rnn_zoo.create_model("lstm_huge")


def test_registering_a_taken_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        rnn_zoo.register_model(
            "lstm_classifier_small", rnn_zoo.build_classifier, "dup", num_classes=2
        )
