"""The generate_names recipe end to end through the rnn-zoo command, in smoke mode.

One smoke run (real surnames, a slice, one epoch) writes model.keras,
export/, metrics.json and run.json; the tests then check what a user of each
artifact relies on, and the metric and the baseline on hand-made cases.
"""

import json

import keras
import numpy as np
import pytest

from rnn_zoo import cli, generate
from rnn_zoo.data import names as names_data
from rnn_zoo.metrics import perplexity

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipe uses tf.data and exports a SavedModel",
    ),
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    output = tmp_path_factory.mktemp("generate_names_smoke")
    argv = ["train", "generate_names", "--output", str(output), "--smoke"]
    assert cli.main(argv + ["--units", "16"]) == 0
    return output


@pytest.fixture(scope="module")
def info(run_dir):
    return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["info"]


@pytest.fixture(scope="module")
def model(run_dir):
    return keras.saving.load_model(run_dir / "model.keras", safe_mode=True)


@pytest.fixture(scope="module")
def served(run_dir):
    import tensorflow as tf

    return tf.saved_model.load(str(run_dir / "export"))


def _served_names(served, languages, seed):
    import tensorflow as tf

    out = served.generate(languages=tf.constant(languages), seed=tf.constant(seed))
    return [name.decode() for name in out["names"].numpy()]


def test_smoke_run_writes_its_metrics(run_dir, info):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    vocab_size = len(info["tokens"])
    for key in ("test_perplexity", "validation_perplexity", "baseline_test_perplexity"):
        assert 1.0 < metrics[key] < 2 * vocab_size, key
    assert metrics["epochs_run"] == 1 and metrics["config"]["smoke"] is True
    assert metrics["num_names"]["test"] == 14 * 4
    fractions = ("samples_memorised", "samples_real_unseen", "samples_new")
    assert sum(metrics[key] for key in fractions) == pytest.approx(1.0)
    assert list(metrics["samples"]) == info["languages"]
    assert all(len(names) == 5 for names in metrics["samples"].values())
    assert metrics["train_seconds"] <= metrics["total_seconds"]


def test_model_keras_loads_in_safe_mode(model, info):
    assert model.output_shape == (None, None, len(info["tokens"]))
    assert info["tokens"][:4] == ["<pad>", "<s>", "</s>", "<unk>"]


def test_same_seed_same_names(model, info):
    from rnn_zoo.recipes import generate_names

    def sample(seed):
        return generate_names.sample_names(
            model, info, ["Italian", "Zulu"], per_language=4, seed=seed
        )

    assert sample(3) == sample(3)
    assert sample(3) != sample(4)


def test_saved_model_samples_like_generate_on_model_keras(model, info, served):
    from rnn_zoo.recipes import generate_names as recipe

    languages = ["Italian", "Finnish", "Zulu", "Italian"]
    ids = generate(
        model,
        condition=np.array([info["languages"].index(lang) for lang in languages]),
        max_length=info["max_length"],
        start_id=names_data.GENERATOR_START_ID,
        end_id=names_data.GENERATOR_END_ID,
        temperature=recipe.TEMPERATURE,
        top_k=recipe.TOP_K,
        seed=11,
    )
    expected = names_data.decode_generated(ids, info["tokens"])
    assert _served_names(served, languages, 11) == expected
    assert _served_names(served, languages, 11) == expected  # same seed, same names
    assert _served_names(served, languages, 12) != expected
    listed = [x.decode() for x in served.languages()["languages"].numpy()]
    assert listed == info["languages"]
    out = served.signatures["serving_default"](
        languages=keras.ops.convert_to_tensor(languages),
        seed=keras.ops.array(11, "int32"),
    )
    assert [x.decode() for x in out["names"].numpy()] == expected


def test_unknown_language_is_a_clear_error(served):
    import tensorflow as tf

    with pytest.raises(tf.errors.InvalidArgumentError, match="unknown language"):
        _served_names(served, ["Klingon"], 0)


def test_encode_and_decode_round_trip(info):
    # Names made of the smoke vocabulary's characters.
    names = ["".join(info["tokens"][4:10]), "".join(info["tokens"][-3:])]
    rows = names_data.encode_for_generator(names, info["tokens"])
    padded = [row + [names_data.GENERATOR_END_ID, 0, 5] for row in rows]
    assert names_data.decode_generated(padded, info["tokens"]) == names
    assert names_data.encode_for_generator(["\u2603"], info["tokens"]) == [
        [names_data.GENERATOR_UNKNOWN_ID]
    ]


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size(run_dir, info):
    from rnn_zoo.recipes import generate_names as recipe

    uniform = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    layer = uniform.get_layer("logits")
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    data = recipe.load_data(
        recipe.parse_args(["--output", str(run_dir), "--smoke", "--batch-size", "7"])
    )
    assert perplexity(uniform, data.test) == pytest.approx(len(info["tokens"]))
