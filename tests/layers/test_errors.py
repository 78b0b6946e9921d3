"""Bad inputs raise rnn_zoo's own ValueError/TypeError, naming the argument and
what was received (DESIGN.md, house rule 2), before any backend op runs."""

import contextlib
import re
from pathlib import Path

import keras
import numpy as np
import pytest

import rnn_zoo
from rnn_zoo.layers import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
    StackedRNN,
    cell_names,
    get_sequence_layer,
)

BATCH, TIMESTEPS, FEATURES, UNITS = 2, 5, 3, 4
RNN_ZOO_DIR = Path(rnn_zoo.__file__).resolve().parent


@contextlib.contextmanager
def raises(exception, *fragments):
    """``pytest.raises(exception, match=...)`` where the message holds every
    fragment, in order, and the exception comes from rnn_zoo's own code."""
    pattern = ".*".join(re.escape(fragment) for fragment in fragments)
    with pytest.raises(exception, match=pattern) as info:
        yield info
    assert type(info.value) is exception
    raised_in = Path(info.traceback[-1].path).resolve()
    assert RNN_ZOO_DIR in raised_in.parents, f"raised in {raised_in}, not by rnn_zoo"


def _x(*shape, dtype="float32"):
    return np.ones(shape or (BATCH, TIMESTEPS, FEATURES), dtype)


def _built(layer):
    layer(_x())
    return layer


SEQUENCE_LAYERS = {
    "simple": lambda: SimpleRNN(UNITS),
    "lstm": lambda: LSTM(UNITS),
    "gru": lambda: GRU(UNITS),
    "rnn": lambda: RNN(LSTMCell(UNITS)),
    "bidirectional": lambda: Bidirectional(GRU(UNITS)),
    "stacked": lambda: StackedRNN("lstm", units=UNITS, num_layers=2),
}
sequence_layers = pytest.mark.parametrize(
    "make_layer", SEQUENCE_LAYERS.values(), ids=SEQUENCE_LAYERS
)


# Inputs ---------------------------------------------------------------------


@sequence_layers
@pytest.mark.parametrize("shape", [(BATCH, TIMESTEPS), (BATCH, TIMESTEPS, FEATURES, 1)])
def test_wrong_input_rank(make_layer, shape):
    with raises(
        ValueError, "`sequences` of rank 3", f"Received: sequences.shape={shape}"
    ):
        make_layer()(_x(*shape))


@sequence_layers
def test_wrong_input_rank_in_a_functional_model(make_layer):
    with raises(
        ValueError, "`sequences` of rank 3", "Received: sequences.shape=(None, 5)"
    ):
        make_layer()(keras.Input(shape=(TIMESTEPS,)))


@sequence_layers
def test_zero_timesteps(make_layer):
    with raises(
        ValueError, "at least 1 timestep", "Received: sequences.shape=(2, 0, 3)"
    ):
        make_layer()(_x(BATCH, 0, FEATURES))


@sequence_layers
def test_integer_inputs(make_layer):
    with raises(
        TypeError, "floating-point `sequences`", "Received: sequences.dtype=int32"
    ):
        make_layer()(_x(dtype="int32"))


def test_integer_inputs_to_a_functional_model():
    inputs = keras.Input(shape=(TIMESTEPS, FEATURES), dtype="int32")
    model = keras.Model(inputs, LSTM(UNITS)(inputs))
    with raises(
        TypeError, "floating-point `sequences`", "Received: sequences.dtype=int32"
    ):
        model.predict(_x(dtype="int32"), verbose=0)


@sequence_layers
def test_feature_size_changed_after_build(make_layer):
    layer = _built(make_layer())
    with raises(ValueError, "3 features", "Received: sequences.shape=(2, 5, 4)"):
        layer(_x(BATCH, TIMESTEPS, FEATURES + 1))


# Masks ------------------------------------------------------------------------


@sequence_layers
@pytest.mark.parametrize(
    "shape", [(BATCH, TIMESTEPS - 1), (BATCH + 1, TIMESTEPS), (BATCH, TIMESTEPS, 1)]
)
def test_mask_of_the_wrong_shape(make_layer, shape):
    with raises(
        ValueError,
        "`mask` of shape (batch, timesteps) = (2, 5)",
        f"Received: mask.shape={shape}",
    ):
        make_layer()(_x(), mask=np.ones(shape, bool))


@sequence_layers
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_mask_that_is_not_boolean(make_layer, dtype):
    with raises(TypeError, "boolean `mask`", f"Received: mask.dtype={dtype}"):
        make_layer()(_x(), mask=np.ones((BATCH, TIMESTEPS), dtype))


# Initial states ------------------------------------------------------------------


def _states(*shapes):
    return [np.zeros(shape, "float32") for shape in shapes]


INITIAL_STATE_CASES = {
    "lstm_count": (
        lambda: LSTM(UNITS),
        _states((BATCH, UNITS)),
        ["`initial_state` to be a list of 2 tensor(s)", "Received: 1 tensor(s)"],
    ),
    "gru_count": (
        lambda: GRU(UNITS),
        _states((BATCH, UNITS), (BATCH, UNITS)),
        ["`initial_state` to be a list of 1 tensor(s)", "Received: 2 tensor(s)"],
    ),
    "lstm_size": (
        lambda: LSTM(UNITS),
        _states((BATCH, UNITS), (BATCH, UNITS + 1)),
        [
            "`initial_state[1]` of shape (batch, 4)",
            "Received: initial_state[1].shape=(2, 5)",
        ],
    ),
    "simple_rank": (
        lambda: SimpleRNN(UNITS),
        _states((BATCH, 1, UNITS)),
        [
            "`initial_state[0]` of shape (batch, 4)",
            "Received: initial_state[0].shape=(2, 1, 4)",
        ],
    ),
    "gru_batch": (
        lambda: GRU(UNITS),
        _states((BATCH + 1, UNITS)),
        ["batch size of", "(2)", "Received: initial_state[0].shape=(3, 4)"],
    ),
    "bidirectional_count": (
        lambda: Bidirectional(LSTM(UNITS)),
        _states(*[(BATCH, UNITS)] * 2),
        ["`initial_state` to be a list of 4 tensor(s)", "Received: 2 tensor(s)"],
    ),
    "bidirectional_size": (
        lambda: Bidirectional(GRU(UNITS)),
        _states((BATCH, UNITS), (BATCH, UNITS - 1)),
        [
            "`initial_state[0]` of shape (batch, 4)",
            "Received: initial_state[0].shape=(2, 3)",
        ],
    ),
    "stacked_count": (
        lambda: StackedRNN("lstm", units=UNITS, num_layers=2),
        _states(*[(BATCH, UNITS)] * 2),
        ["`initial_state` to be a list of 4 tensor(s)", "Received: 2 tensor(s)"],
    ),
    "stacked_batch": (
        lambda: StackedRNN("gru", units=UNITS, num_layers=2),
        _states((BATCH, UNITS), (BATCH + 1, UNITS)),
        ["batch size of", "Received: initial_state[0].shape=(3, 4)"],
    ),
}


@pytest.mark.parametrize("case", list(INITIAL_STATE_CASES))
def test_bad_initial_state(case):
    make_layer, initial_state, fragments = INITIAL_STATE_CASES[case]
    with raises(ValueError, *fragments):
        make_layer()(_x(), initial_state=initial_state)


# Constructor arguments -------------------------------------------------------------

UNIT_OWNERS = {
    "simple_rnn": SimpleRNN,
    "lstm": LSTM,
    "gru": GRU,
    "simple_rnn_cell": SimpleRNNCell,
    "lstm_cell": LSTMCell,
    "gru_cell": GRUCell,
    "stacked": lambda units: StackedRNN("gru", units=units),
    "stacked_list": lambda units: StackedRNN("gru", units=[UNITS, units]),
}


@pytest.mark.parametrize("units", [0, -3])
@pytest.mark.parametrize("make_layer", UNIT_OWNERS.values(), ids=UNIT_OWNERS)
def test_units_not_positive(make_layer, units):
    with raises(
        ValueError, "`units` must be a positive integer", f"Received: units={units}"
    ):
        make_layer(units)


@pytest.mark.parametrize(
    ("units", "received"),
    [
        (2.5, "units=2.5 of type float"),
        ("8", "units='8' of type str"),
        (True, "units=True of type bool"),
        (None, "units=None"),
    ],
)
@pytest.mark.parametrize("make_layer", UNIT_OWNERS.values(), ids=UNIT_OWNERS)
def test_units_not_an_integer(make_layer, units, received):
    with raises(
        TypeError, "`units` must be a positive integer", f"Received: {received}"
    ):
        make_layer(units)


RATE_OWNERS = {
    "lstm_dropout": lambda rate: LSTM(UNITS, dropout=rate),
    "gru_recurrent_dropout": lambda rate: GRU(UNITS, recurrent_dropout=rate),
    "simple_rnn_cell_dropout": lambda rate: SimpleRNNCell(UNITS, dropout=rate),
    "lstm_cell_recurrent_dropout": lambda rate: LSTMCell(UNITS, recurrent_dropout=rate),
    "stacked_dropout": lambda rate: StackedRNN(
        "lstm", units=UNITS, num_layers=2, dropout=rate
    ),
    "stacked_recurrent_dropout": lambda rate: StackedRNN(
        "lstm", units=UNITS, recurrent_dropout=rate
    ),
}


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
@pytest.mark.parametrize("owner", list(RATE_OWNERS))
def test_dropout_outside_zero_one(owner, rate):
    name = "recurrent_dropout" if owner.endswith("recurrent_dropout") else "dropout"
    with raises(
        ValueError, f"`{name}` must be a float in [0, 1)", f"Received: {name}={rate}"
    ):
        RATE_OWNERS[owner](rate)


@pytest.mark.parametrize("owner", list(RATE_OWNERS))
def test_dropout_not_a_number(owner):
    name = "recurrent_dropout" if owner.endswith("recurrent_dropout") else "dropout"
    with raises(
        TypeError, f"`{name}` must be a float in [0, 1)", f"Received: {name}='0.5'"
    ):
        RATE_OWNERS[owner]("0.5")


UNKNOWN_CELL = {
    "get_sequence_layer": lambda: get_sequence_layer("lstmm"),
    "stacked": lambda: StackedRNN("foo"),
    "build_classifier": lambda: rnn_zoo.build_classifier(3, vocab_size=10, cell="foo"),
}


@pytest.mark.parametrize("call", UNKNOWN_CELL.values(), ids=UNKNOWN_CELL)
def test_unknown_cell_name(call):
    with raises(
        ValueError,
        f"Unknown `cell`: expected one of {cell_names()!r}",
        "Received: cell=",
    ):
        call()


def test_unknown_cell_name_is_quoted_back():
    with raises(ValueError, "Received: cell='lstmm'"):
        get_sequence_layer("lstmm")
    with raises(ValueError, "Received: cell=None"):
        get_sequence_layer(None)


@pytest.mark.parametrize("merge_mode", ["foo", "Concat", 0])
def test_unknown_merge_mode(merge_mode):
    with raises(
        ValueError, "Unknown `merge_mode`", f"Received: merge_mode={merge_mode!r}"
    ):
        Bidirectional(LSTM(UNITS), merge_mode=merge_mode)


@pytest.mark.parametrize(
    ("bidirectional", "merge_mode"), [(True, "foo"), (False, "foo"), (True, None)]
)
def test_stacked_merge_mode(bidirectional, merge_mode):
    with raises(ValueError, "`merge_mode`", f"Received: merge_mode={merge_mode!r}"):
        StackedRNN(
            "lstm", units=UNITS, bidirectional=bidirectional, merge_mode=merge_mode
        )


def test_stacked_rejects_go_backwards():
    with raises(ValueError, "use `bidirectional=True`", "Received: go_backwards=True"):
        StackedRNN("gru", units=UNITS, num_layers=2, go_backwards=True)


def test_stacked_num_layers_not_positive():
    with raises(
        ValueError, "`num_layers` must be a positive integer", "Received: num_layers=0"
    ):
        StackedRNN("lstm", units=UNITS, num_layers=0)


def test_stacked_residual_needs_equal_sizes():
    stack = StackedRNN(
        "gru", units=[UNITS, UNITS + 1], residual=True, return_sequences=True
    )
    with raises(
        ValueError, "`residual=True`", "its input has 4 features and its output 5"
    ):
        stack(_x())


def test_rnn_needs_a_recurrent_cell():
    with raises(
        TypeError,
        "`cell` must be a recurrent cell",
        "`state_size` and `call(inputs, states)`",
        "Received: cell='lstm'",
    ):
        RNN("lstm")
    with raises(TypeError, "`cell` must be a recurrent cell", "Received: cell[1]=3"):
        RNN([LSTMCell(UNITS), 3])


# The Keras-only arguments -----------------------------------------------------

KERAS_LAYERS = {"simple": SimpleRNN, "lstm": LSTM, "gru": GRU}
keras_layers = pytest.mark.parametrize(
    "layer_class", KERAS_LAYERS.values(), ids=KERAS_LAYERS
)


@keras_layers
def test_errors_name_the_layer_not_its_cell(layer_class):
    owner = layer_class.__name__
    with raises(ValueError, f"{owner}: `dropout` must be a float in [0, 1)"):
        layer_class(UNITS, dropout=2.0)
    with raises(
        TypeError, f"{owner}: unknown argument(s) ['colour']", "Received: colour=1"
    ):
        layer_class(UNITS, colour=1)


@keras_layers
def test_bad_use_cudnn(layer_class):
    with raises(
        ValueError,
        f"{layer_class.__name__}: Unknown `use_cudnn`: expected 'auto', True or False",
        "Received: use_cudnn='yes'",
    ):
        layer_class(UNITS, use_cudnn="yes")


@keras_layers
def test_unroll_excludes_strict_kernels(layer_class):
    with raises(ValueError, "`unroll=True` runs the reference loop", "use_cudnn=True"):
        layer_class(UNITS, unroll=True, use_cudnn=True)
    with raises(ValueError, "Received: unroll=True, implementation='fused'"):
        layer_class(UNITS, unroll=True, implementation="fused")
    with raises(TypeError, "`unroll` must be True or False", "Received: unroll='no'"):
        layer_class(UNITS, unroll="no")


def test_unroll_needs_known_timesteps():
    with raises(
        ValueError,
        "`unroll=True`, which needs a known number of timesteps",
        "Received: sequences.shape=(None, None, 3)",
    ):
        LSTM(UNITS, unroll=True)(keras.Input(shape=(None, FEATURES)))


def test_use_cudnn_true_is_strict_where_cudnn_cannot_run():
    # recurrent dropout in training rules cuDNN out on every device.
    layer = GRU(UNITS, recurrent_dropout=0.5, use_cudnn=True)
    with raises(
        ValueError,
        "built with use_cudnn=True, but cuDNN cannot run it",
        "recurrent_dropout",
    ):
        layer(_x(), training=True)


@pytest.mark.parametrize("cell_class", [LSTMCell, GRUCell], ids=["lstm", "gru"])
def test_cell_implementation_is_keras_1_or_2(cell_class):
    with raises(
        ValueError,
        f"{cell_class.__name__}: `implementation` must be 1 or 2",
        "Received: implementation=3",
    ):
        cell_class(UNITS, implementation=3)


def test_bidirectional_needs_a_recurrent_layer():
    with raises(
        TypeError, "`layer` must be a recurrent layer", "Received: layer=<Dense"
    ):
        Bidirectional(keras.layers.Dense(UNITS))


def test_bidirectional_backward_layer_must_read_backwards():
    with raises(
        ValueError,
        "`backward_layer` must read in the opposite direction",
        "Received: go_backwards=False",
    ):
        Bidirectional(LSTM(UNITS), backward_layer=LSTM(UNITS))


# Stateful layers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: LSTM(UNITS, stateful=True),
        lambda: StackedRNN("gru", units=UNITS, num_layers=2, stateful=True),
        lambda: Bidirectional(SimpleRNN(UNITS, stateful=True)),
    ],
    ids=["lstm", "stacked", "bidirectional"],
)
def test_stateful_needs_a_fixed_batch_size(make_layer):
    with raises(
        ValueError,
        "`stateful=True`",
        "fixed batch size",
        "Received: sequences.shape=(None, 5, 3)",
    ):
        make_layer()(keras.Input(shape=(TIMESTEPS, FEATURES)))


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: GRU(UNITS, stateful=True),
        lambda: StackedRNN("lstm", units=UNITS, num_layers=2, stateful=True),
    ],
    ids=["gru", "stacked"],
)
def test_stateful_called_with_another_batch_size(make_layer):
    layer = _built(make_layer())
    with raises(
        ValueError, "stateful with batch size 2", "Received: sequences.shape=(3, 5, 3)"
    ):
        layer(_x(BATCH + 1, TIMESTEPS, FEATURES))
