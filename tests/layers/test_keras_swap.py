"""Code written against ``keras.layers`` runs unchanged with ``rnn_zoo.layers``.

Each case below is code as a Keras user writes it (the examples of Keras's
layer and cell docstrings, shrunk to tiny shapes, and a cell of the user's
own), written once against a module ``L`` and run with ``L = keras.layers``
and with ``L = rnn_zoo.layers``. With the Keras weights copied by
``set_weights``, the outputs agree to 1e-5. The file runs on TensorFlow here
and on JAX and PyTorch through tests/test_backends.py, except the configs,
saved files and constructor arguments (``backend_neutral``: serialization,
the same on every backend).
"""

import inspect

import keras
import numpy as np
import pytest
from keras import ops

import rnn_zoo.layers
from rnn_zoo.saving import load_model

BATCH, TIMESTEPS, FEATURES = 3, 5, 4
ATOL = 1e-5


def _x(batch=BATCH, timesteps=TIMESTEPS, features=FEATURES, seed=0):
    return (
        np.random.default_rng(seed)
        .normal(size=(batch, timesteps, features))
        .astype("float32")
    )


def _tokens():
    # Right and left padding with 0, masked by Embedding(mask_zero=True).
    return np.array([[3, 1, 4, 0, 0], [0, 0, 2, 7, 1], [5, 9, 2, 6, 5]], "int32")


@keras.saving.register_keras_serializable(package="test_keras_swap")
class MinimalRNNCell(keras.layers.Layer):
    """The user-defined cell of ``keras.layers.RNN``'s docstring."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="uniform", name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units),
            initializer="uniform",
            name="recurrent_kernel",
        )

    def call(self, inputs, states):
        prev_output = states[0]
        h = ops.matmul(inputs, self.kernel)
        output = h + ops.matmul(prev_output, self.recurrent_kernel)
        return output, [output]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class PairStateCell(keras.layers.Layer):
    """A cell of the user's own with nested states, ``training``, an
    ``output_size`` unlike its states and its own ``get_initial_state``."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, [units, 2 * units]]
        self.output_size = 2 * units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="glorot_uniform"
        )

    def get_initial_state(self, batch_size=None):
        return [
            ops.ones((batch_size, self.units)),
            [
                ops.zeros((batch_size, self.units)),
                ops.zeros((batch_size, 2 * self.units)),
            ],
        ]

    def call(self, inputs, states, training=False):
        h, (a, b) = states
        h = ops.tanh(ops.matmul(inputs, self.kernel) + 0.5 * h)
        a = a + h
        b = ops.concatenate([h, a], axis=-1)
        return b, [h, [a, b]]


# The cases: code against a module L; each returns (layer or model, inputs). ----


def lstm_docstring(L):
    inputs = _x()
    lstm = L.LSTM(4)
    lstm(inputs)
    return lstm, inputs


def lstm_docstring_states(L):
    inputs = _x()
    lstm = L.LSTM(4, return_sequences=True, return_state=True)
    whole_seq_output, final_memory_state, final_carry_state = lstm(inputs)
    return lstm, inputs


def lstm_keras_arguments(L):
    inputs = _x()
    lstm = L.LSTM(
        3,
        "tanh",
        "sigmoid",
        return_sequences=True,
        unroll=True,
        use_cudnn=False,
        implementation=1,
        activity_regularizer="l2",
    )
    lstm(inputs)
    return lstm, inputs


def gru_docstring(L):
    inputs = _x()
    gru = L.GRU(4, return_sequences=True, return_state=True)
    gru(inputs)
    return gru, inputs


def gru_reset_before(L):
    inputs = _x()
    gru = L.GRU(4, reset_after=False, go_backwards=True, return_sequences=True)
    gru(inputs)
    return gru, inputs


def simple_rnn_docstring(L):
    inputs = _x()
    simple_rnn = L.SimpleRNN(4, return_sequences=True, return_state=True)
    simple_rnn(inputs)
    return simple_rnn, inputs


def simple_rnn_unrolled_backwards(L):
    inputs = _x()
    simple_rnn = L.SimpleRNN(4, "relu", go_backwards=True, unroll=True)
    simple_rnn(inputs)
    return simple_rnn, inputs


def lstm_cell_docstring(L):
    inputs = _x()
    rnn = L.RNN(L.LSTMCell(4))
    rnn(inputs)
    return rnn, inputs


def gru_cell_docstring(L):
    inputs = _x()
    rnn = L.RNN(L.GRUCell(4), return_sequences=True, return_state=True)
    whole_sequence_output, final_state = rnn(inputs)
    return rnn, inputs


def gru_cell_reset_before(L):
    inputs = _x()
    rnn = L.RNN(L.GRUCell(4, reset_after=False), go_backwards=True)
    rnn(inputs)
    return rnn, inputs


def simple_rnn_cell_docstring(L):
    inputs = _x()
    rnn = L.RNN(L.SimpleRNNCell(4), return_sequences=True, return_state=True)
    rnn(inputs)
    return rnn, inputs


def stacked_cells(L):
    inputs = _x()
    rnn = L.RNN([L.LSTMCell(4), L.GRUCell(3)], return_state=True)
    rnn(inputs)
    return rnn, inputs


def keras_cell(L):
    # A Keras cell in either module's RNN.
    inputs = _x()
    rnn = L.RNN(keras.layers.LSTMCell(4), return_sequences=True, return_state=True)
    rnn(inputs)
    return rnn, inputs


def minimal_cell_docstring(L):
    x = keras.Input((None, FEATURES))
    y = L.RNN(MinimalRNNCell(4))(x)
    return keras.Model(x, y), _x()


def minimal_cells_stacked(L):
    x = keras.Input((None, FEATURES))
    y = L.RNN([MinimalRNNCell(4), MinimalRNNCell(6)], return_sequences=True)(x)
    return keras.Model(x, y), _x()


def nested_state_cell(L):
    inputs = _x()
    rnn = L.RNN(PairStateCell(3), return_sequences=True, return_state=True)
    rnn(inputs)
    return rnn, inputs


def bidirectional_docstring(L):
    x = keras.Input((TIMESTEPS, FEATURES))
    y = L.Bidirectional(L.LSTM(4, return_sequences=True))(x)
    return keras.Model(x, y), _x()


def bidirectional_states(L):
    inputs = _x()
    layer = L.Bidirectional(L.GRU(4, return_state=True), merge_mode="sum")
    layer(inputs)
    return layer, inputs


def embedding_mask_zero(L):
    tokens = keras.Input((TIMESTEPS,), dtype="int32")
    x = keras.layers.Embedding(10, FEATURES, mask_zero=True)(tokens)
    x = L.Bidirectional(L.GRU(4, return_sequences=True))(x)
    x = L.LSTM(3, return_sequences=True)(x)
    y = L.SimpleRNN(2, go_backwards=True)(x)
    return keras.Model(tokens, y), _tokens()


def masking_layer(L):
    inputs = _x()
    inputs[0, 3:] = 0.0  # right padding
    inputs[1, :2] = 0.0  # left padding
    x = keras.Input((TIMESTEPS, FEATURES))
    h = keras.layers.Masking(mask_value=0.0)(x)
    seq, state = L.GRU(4, return_sequences=True, return_state=True)(h)
    y = L.RNN(MinimalRNNCell(3), go_backwards=True)(seq)
    return keras.Model(x, [seq, state, y]), inputs


def initial_state(L):
    x = keras.Input((TIMESTEPS, FEATURES))
    h0 = keras.Input((4,))
    c0 = keras.Input((4,))
    y = L.LSTM(4)(x, initial_state=[h0, c0])
    rng = np.random.default_rng(1)
    states = [rng.normal(size=(BATCH, 4)).astype("float32") for _ in range(2)]
    return keras.Model([x, h0, c0], y), [_x(), *states]


CASES = [
    lstm_docstring,
    lstm_docstring_states,
    lstm_keras_arguments,
    gru_docstring,
    gru_reset_before,
    simple_rnn_docstring,
    simple_rnn_unrolled_backwards,
    lstm_cell_docstring,
    gru_cell_docstring,
    gru_cell_reset_before,
    simple_rnn_cell_docstring,
    stacked_cells,
    keras_cell,
    minimal_cell_docstring,
    minimal_cells_stacked,
    nested_state_cell,
    bidirectional_docstring,
    bidirectional_states,
    embedding_mask_zero,
    masking_layer,
    initial_state,
]


def _assert_same(expected, received):
    expected, received = keras.tree.flatten(expected), keras.tree.flatten(received)
    assert len(expected) == len(received)
    for e, r in zip(expected, received):
        e, r = ops.convert_to_numpy(e), ops.convert_to_numpy(r)
        assert e.shape == r.shape
        np.testing.assert_allclose(r, e, atol=ATOL, rtol=0)


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_same_code_same_outputs(case):
    theirs, inputs = case(keras.layers)
    ours, _ = case(rnn_zoo.layers)
    ours.set_weights(theirs.get_weights())
    _assert_same(theirs(inputs), ours(inputs))


def test_rnn_zoo_classes_are_built():
    # The swap really swaps: rnn_zoo's layers and cells ran above.
    lstm, _ = lstm_keras_arguments(rnn_zoo.layers)
    rnn, _ = gru_cell_docstring(rnn_zoo.layers)
    assert type(lstm) is rnn_zoo.layers.LSTM
    assert type(rnn.cell) is rnn_zoo.layers.GRUCell


def test_stateful():
    def run(L):
        x = keras.Input(batch_shape=(BATCH, TIMESTEPS, FEATURES))
        model = keras.Model(x, L.LSTM(4, stateful=True, return_sequences=True)(x))
        return model

    theirs, ours = run(keras.layers), run(rnn_zoo.layers)
    # rnn_zoo keeps the carried states as non-trainable weights after Keras's.
    kept = ours.get_weights()[len(theirs.get_weights()) :]
    ours.set_weights(theirs.get_weights() + kept)
    for seed in (0, 1):
        _assert_same(theirs(_x(seed=seed)), ours(_x(seed=seed)))
    theirs.layers[-1].reset_state()
    ours.layers[-1].reset_state()
    _assert_same(theirs(_x(seed=2)), ours(_x(seed=2)))


KERAS_CONFIGS = {
    "simple": lambda: keras.layers.SimpleRNN(3, unroll=True, activity_regularizer="l1"),
    "lstm": lambda: keras.layers.LSTM(
        3, unroll=True, use_cudnn=False, implementation=1, return_sequences=True
    ),
    "gru": lambda: keras.layers.GRU(3, reset_after=False, unroll=True),
    "rnn": lambda: keras.layers.RNN(keras.layers.LSTMCell(3), unroll=True),
}


@pytest.mark.backend_neutral
@pytest.mark.parametrize("make", KERAS_CONFIGS.values(), ids=KERAS_CONFIGS)
def test_keras_config_loads_into_rnn_zoo(make):
    theirs = make()
    inputs = _x()
    theirs(inputs)
    ours = getattr(rnn_zoo.layers, type(theirs).__name__).from_config(
        theirs.get_config()
    )
    assert ours.get_config()["unroll"] is True
    ours(inputs)
    ours.set_weights(theirs.get_weights())
    _assert_same(theirs(inputs), ours(inputs))


@pytest.mark.backend_neutral
def test_saved_keras_model_loads_onto_rnn_zoo(tmp_path):
    x = keras.Input((TIMESTEPS, FEATURES))
    h = keras.layers.Bidirectional(
        keras.layers.LSTM(4, unroll=True, use_cudnn=False, return_sequences=True)
    )(x)
    h = keras.layers.SimpleRNN(3, return_sequences=True)(h)
    h = keras.layers.RNN(keras.layers.GRUCell(3, reset_after=False))(h)
    theirs = keras.Model(x, h)
    theirs.save(tmp_path / "keras_model.keras")

    ours = load_model(tmp_path / "keras_model.keras", rnn_zoo_layers=True)
    assert type(ours.layers[1]) is rnn_zoo.layers.Bidirectional
    assert type(ours.layers[1].forward_layer) is rnn_zoo.layers.LSTM
    assert ours.layers[1].forward_layer.unroll is True
    assert type(ours.layers[2]) is rnn_zoo.layers.SimpleRNN
    assert type(ours.layers[3]) is rnn_zoo.layers.RNN
    assert type(ours.layers[3].cell) is rnn_zoo.layers.GRUCell
    _assert_same(theirs(_x()), ours(_x()))
    # Without the flag the file loads Keras's own classes, as keras.saving does.
    plain = load_model(tmp_path / "keras_model.keras")
    assert type(plain.layers[2]) is keras.layers.SimpleRNN
    with pytest.raises(TypeError, match="rnn_zoo_layers.*'yes'"):
        load_model(tmp_path / "keras_model.keras", rnn_zoo_layers="yes")


# What each class needs beyond Keras's defaults.
REQUIRED = {
    "RNN": lambda: {"cell": rnn_zoo.layers.LSTMCell(2)},
    "Bidirectional": lambda: {"layer": rnn_zoo.layers.LSTM(2)},
}


@pytest.mark.backend_neutral
@pytest.mark.parametrize(
    "name",
    [
        "SimpleRNN",
        "LSTM",
        "GRU",
        "SimpleRNNCell",
        "LSTMCell",
        "GRUCell",
        "RNN",
        "Bidirectional",
    ],
)
def test_every_keras_argument_is_accepted(name):
    # Each argument of Keras's constructor, by keyword with Keras's default
    # (units=2 where it has none), builds the rnn_zoo class and is in its config.
    parameters = inspect.signature(getattr(keras.layers, name).__init__).parameters
    kwargs = {
        key: p.default
        for key, p in parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    if "units" in parameters:
        kwargs["units"] = 2
    if name in ("LSTMCell", "GRUCell"):
        kwargs["implementation"] = 1  # popped from **kwargs by Keras's cells
    kwargs.update(REQUIRED.get(name, dict)())
    config = getattr(rnn_zoo.layers, name)(**kwargs).get_config()
    assert sorted(kwargs.keys() - config.keys() - {"weights"}) == []
    if name in ("SimpleRNN", "LSTM", "GRU", "RNN"):
        assert (config["unroll"], config["use_cudnn"]) == (False, "auto")
        assert config["implementation"] == "auto"
