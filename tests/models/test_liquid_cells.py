"""The liquid cells of issue 16 (CfC, LTC) wherever a cell name is taken: the
registry, every builder, decoding step by step, and the builders' timespans input."""

import keras
import numpy as np
import pytest

import rnn_zoo
from rnn_zoo.layers import LTC, CfC, get_sequence_layer

CELLS = {"cfc": CfC, "ltc": LTC}
# Small cells: the CfC's backbone and the LTC's solver steps are per timestep.
CELL_KWARGS = {"cfc": {"backbone_units": 4}, "ltc": {"ode_unfolds": 2}}


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.mark.parametrize("name", list(CELLS))
def test_registered_under_its_name(name):
    assert get_sequence_layer(name) is CELLS[name]
    assert name in rnn_zoo.layers.cell_names()
    assert CELLS[name].cell_class.uses_time


@pytest.mark.parametrize("name", list(CELLS))
def test_every_builder_builds_and_runs_the_cell(name):
    ids = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32")
    series = np.random.default_rng(0).random((2, 4, 1)).astype("float32")
    kw = CELL_KWARGS[name]
    models = [
        (rnn_zoo.build_classifier(3, vocab_size=10, cell=name, units=4, num_layers=2,
                                  bidirectional=True, attention=True, **kw), ids, (2, 3)),
        (rnn_zoo.build_tagger(3, vocab_size=10, cell=name, units=4, **kw), ids, (2, 4, 3)),
        (rnn_zoo.build_forecaster(2, window=4, mode="autoregressive", cell=name,
                                  units=4, **kw), series, (2, 2, 1)),
        (rnn_zoo.build_seq2seq(10, 12, cell=name, units=4, attention="luong", **kw),
         {"source_ids": ids, "target_ids": ids}, (2, 4, 12)),
        (rnn_zoo.build_generator(10, cell=name, units=4, **kw), ids, (2, 4, 10)),
    ]  # fmt: skip
    for model, x, shape in models:
        out = model(x)
        assert tuple(out.shape) == shape
        assert np.isfinite(keras.ops.convert_to_numpy(out)).all()


def test_builders_take_timespans():
    ids = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32")
    series = np.random.default_rng(0).random((2, 4, 1)).astype("float32")
    gaps = np.random.default_rng(1).uniform(0.2, 3.0, (2, 4)).astype("float32")
    kw = CELL_KWARGS["cfc"]
    models = [
        (rnn_zoo.build_classifier(3, input_features=1, cell="cfc", units=4, num_layers=2,
                                  timespans=True, **kw), series, (2, 3)),
        (rnn_zoo.build_tagger(3, vocab_size=10, cell="cfc", units=4, bidirectional=True,
                              timespans=True, **kw), ids, (2, 4, 3)),
        (rnn_zoo.build_forecaster(2, window=4, cell="cfc", units=4, timespans=True,
                                  **kw), series, (2, 2, 1)),
    ]  # fmt: skip
    for model, x, shape in models:
        assert [i.name for i in model.inputs][1] == "timespans"
        irregular = keras.ops.convert_to_numpy(model([x, gaps]))
        regular = keras.ops.convert_to_numpy(model([x, np.ones_like(gaps)]))
        assert irregular.shape == shape
        assert not np.allclose(irregular, regular)
    # Training reads them too.
    classifier = models[0][0]
    classifier.compile("adam", "sparse_categorical_crossentropy")
    history = classifier.fit(
        [series, gaps], np.array([0, 2]), batch_size=2, epochs=1, verbose=0
    )
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: rnn_zoo.build_classifier(3, input_features=2, cell="lstm", timespans=True), ValueError, "`timespans=True` adds an input of elapsed times, which only a cell that uses time reads (such as 'cfc' or 'ltc'). Received: cell='lstm', timespans=True"),
        (lambda: rnn_zoo.build_classifier(3, input_features=2, cell="cfc", timespans="yes"), TypeError, "`timespans` must be True or False. Received: timespans='yes'"),
        (lambda: rnn_zoo.build_forecaster(2, cell="cfc", mode="autoregressive", timespans=True), ValueError, "`timespans=True` needs mode='direct'"),
    ],
)  # fmt: skip
def test_bad_timespans_arguments_name_the_argument(build, error, message):
    with pytest.raises(error) as info:
        build()
    assert message in str(info.value)
