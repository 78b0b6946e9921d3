"""The cells of issue 15 (SRU, QRNN, IndRNN, LayerNormLSTM, MinGRU, MinLSTM,
RG-LRU) and the physics cells of issue 16 (CoRNN, HamiltonianRNN) wherever a
cell name is taken: the registry, every builder, decoding step by step, every
hypermodel's search space and every recipe's --cell flag."""

import importlib
import pkgutil

import keras
import keras_tuner
import numpy as np
import pytest

import recipes
import rnn_zoo
from rnn_zoo.decoding import step_decoder
from rnn_zoo.layers import (
    QRNN,
    RGLRU,
    SRU,
    CoRNN,
    HamiltonianRNN,
    IndRNN,
    LayerNormLSTM,
    MinGRU,
    MinLSTM,
    cell_names,
    get_sequence_layer,
)
from rnn_zoo.models.hypermodels import ClassifierHyperModel
from rnn_zoo.training.run import base_parser
from tests.models.test_hypermodels import CASES as HYPERMODELS

CELLS = {
    "sru": SRU,
    "qrnn": QRNN,
    "indrnn": IndRNN,
    "layernorm_lstm": LayerNormLSTM,
    "cornn": CoRNN,
    "hamiltonian": HamiltonianRNN,
    "mingru": MinGRU,
    "minlstm": MinLSTM,
    "rglru": RGLRU,
}


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.mark.parametrize("name", list(CELLS))
def test_registered_under_its_name(name):
    assert get_sequence_layer(name) is CELLS[name]
    assert name in rnn_zoo.layers.cell_names()


def test_recipes_and_hypermodels_offer_every_cell():
    parser = base_parser(
        "names",
        "test",
        {
            "epochs": 1,
            "batch_size": 2,
            "cell": "gru",
            "units": 4,
            "num_layers": 1,
            "dropout": 0.0,
            "learning_rate": 0.01,
            "seed": 0,
        },
    )
    for name in CELLS:
        assert parser.parse_args(["--output", "/tmp/x", "--cell", name]).cell == name
    hp = keras_tuner.HyperParameters()
    ClassifierHyperModel(
        num_classes=3, vocab_size=20, units=4, loss="sparse_categorical_crossentropy"
    ).build(hp)
    assert set(CELLS) <= set(hp.get_config()["space"][0]["config"]["values"])


@pytest.mark.parametrize("name", list(CELLS))
def test_every_builder_builds_and_runs_the_cell(name):
    ids = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32")
    series = np.random.default_rng(0).random((2, 4, 1)).astype("float32")
    models = [
        (rnn_zoo.build_classifier(3, vocab_size=10, cell=name, units=4, num_layers=2,
                                  bidirectional=True, attention=True), ids, (2, 3)),
        (rnn_zoo.build_tagger(3, vocab_size=10, cell=name, units=4), ids, (2, 4, 3)),
        (rnn_zoo.build_forecaster(2, window=4, mode="autoregressive", cell=name,
                                  units=4), series, (2, 2, 1)),
        (rnn_zoo.build_seq2seq(10, 12, cell=name, units=4, attention="luong"),
         {"source_ids": ids, "target_ids": ids}, (2, 4, 12)),
        (rnn_zoo.build_generator(10, num_conditions=3, cell=name, units=4,
                                 num_layers=2),
         {"token_ids": ids, "condition": np.array([0, 2], "int32")}, (2, 4, 10)),
    ]  # fmt: skip
    for model, x, shape in models:
        out = model(x)
        assert tuple(out.shape) == shape
        assert np.isfinite(keras.ops.convert_to_numpy(out)).all()


@pytest.mark.parametrize("name", list(CELLS))
def test_bidirectional_seq2seq_steps_give_the_teacher_forced_logits(name):
    # The bridge maps each encoder state to its own size (QRNN's second state
    # is 3 * units wide), and the decoder's cells step one token at a time.
    model = rnn_zoo.build_seq2seq(
        10, 12, cell=name, units=4, num_layers=2, bidirectional=True
    )
    source = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32")
    target = np.array([[1, 4, 5, 6], [1, 7, 8, 0]], "int32")
    logits = keras.ops.convert_to_numpy(
        model({"source_ids": source, "target_ids": target})
    )
    steps = step_decoder(model)
    states = steps.initial_states(source)
    stepped = []
    for t in range(4):
        step_logits, states = steps.step(target[:, t], states)
        stepped.append(step_logits)
    stepped = np.stack(stepped, axis=1)
    np.testing.assert_allclose(stepped[0], logits[0], atol=1e-5)
    np.testing.assert_allclose(stepped[1, :3], logits[1, :3], atol=1e-5)


def test_every_recipe_takes_every_registered_cell():
    names = [m.name for m in pkgutil.iter_modules(recipes.__path__)]
    assert len(names) >= 13
    for recipe in names:
        module = importlib.import_module(f"recipes.{recipe}")
        for name in cell_names():
            args = module.parse_args(["--output", "/tmp/unused", "--cell", name])
            assert args.cell == name, (recipe, name)


@pytest.mark.parametrize("case", list(HYPERMODELS))
def test_every_hypermodel_searches_every_registered_cell(case):
    hypermodel_class, _, fixed, compile_kwargs = HYPERMODELS[case]
    hypermodel = hypermodel_class(**fixed, **compile_kwargs)
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    space = {p.name: p for p in hp.space}
    assert list(space["cell"].values) == cell_names()
    # One modern cell per hypermodel, in turn, builds a model of that cell.
    name = list(CELLS)[list(HYPERMODELS).index(case)]
    hp.values["cell"] = name
    model = hypermodel.build(hp)
    config = model.to_json()
    # The layer's class, or StackedRNN's cell name.
    assert f'"{CELLS[name].__name__}"' in config or f'"cell": "{name}"' in config


def test_attention_decoder_projects_the_fed_back_attention_either_way(monkeypatch):
    # RG-LRU's gates are a product of its projected input, so its attention
    # decoder projects [inputs, attention] whole at each step; for a GRU the
    # two ways are the same function.
    from rnn_zoo.layers import (
        AttentionDecoder,
        AttentionDecoderCell,
        GRUCell,
        LuongAttention,
    )

    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(2, 4, 3)).astype("float32")
    memory = rng.normal(size=(2, 5, 6)).astype("float32")
    decoder = AttentionDecoder(AttentionDecoderCell(GRUCell(4), LuongAttention()))
    hoisted = keras.ops.convert_to_numpy(decoder(inputs, memory))
    assert decoder.cell.hoists_projection
    monkeypatch.setattr(GRUCell, "projection_splits_by_rows", False)
    assert not decoder.cell.hoists_projection
    whole = keras.ops.convert_to_numpy(decoder(inputs, memory))
    np.testing.assert_allclose(whole, hoisted, rtol=1e-5, atol=1e-6)
    assert not AttentionDecoderCell(RGLRU(4).cell, LuongAttention()).hoists_projection
