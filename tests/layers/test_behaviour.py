"""What a user relies on when running rnn_zoo's recurrent layers.

Padding and masks, state carried between calls, initial states, dropout,
empty batches, stacks and bidirectional layers. The numerics against Keras and
PyTorch are in test_numerics.py; these tests compare rnn_zoo with itself (a
padded batch with its unpadded sequences, two halves with the whole, ...).
"""

import functools
import os

import keras
import numpy as np
import pytest
from keras import ops

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
)
from tests.layers.contract import numpy_list, random_inputs

BATCH, TIMESTEPS, FEATURES, UNITS = 2, 6, 3, 4
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
LAYERS = {
    "simple": SimpleRNN,
    "lstm": LSTM,
    "gru": GRU,
    "gru_reset_before": functools.partial(GRU, reset_after=False),
}
# True where a step is real: 4 real steps in row 0 and 5 in row 1 of each.
MASKS = {
    "right": np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 0]], bool),
    "left": np.array([[0, 0, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1]], bool),
    "holed": np.array([[0, 1, 1, 0, 1, 1], [1, 1, 0, 1, 1, 1]], bool),
}
PAD = 100.0  # what sits in masked steps: large enough to show if it leaks


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def _real_sequences(lengths, seed=1):
    return [
        random_inputs((1, n, FEATURES), seed=seed + i) for i, n in enumerate(lengths)
    ]


def _pad(sequences, mask, value=PAD):
    """Puts each (1, length, features) sequence at the True steps of its mask row."""
    padded = np.full(mask.shape + (sequences[0].shape[-1],), value, "float32")
    for i, sequence in enumerate(sequences):
        padded[i, mask[i]] = sequence[0]
    return padded


def _assert_close(got, want):
    for g, w in zip(numpy_list(got), numpy_list(want), strict=True):
        np.testing.assert_allclose(g, w, **TOLERANCE)


# Masks and padding ----------------------------------------------------------


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_padding_anywhere_gives_the_unpadded_output_and_state(name, go_backwards):
    layer = LAYERS[name](UNITS, return_state=True, go_backwards=go_backwards)
    real = _real_sequences([4, 5])
    expected = [numpy_list(layer(sequence)) for sequence in real]
    # One batch holds the sequences padded on the right, on the left and with holes.
    mask = np.concatenate(list(MASKS.values()))
    got = numpy_list(layer(_pad(real * len(MASKS), mask), mask=mask))
    for row, padding in enumerate(np.repeat(list(MASKS), BATCH)):
        for g, w in zip(got, expected[row % BATCH], strict=True):
            np.testing.assert_allclose(
                g[row : row + 1], w, err_msg=f"{padding} padding", **TOLERANCE
            )


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_masked_steps_repeat_the_previous_output_or_zeros(zero_output_for_mask):
    layer = GRU(UNITS, return_sequences=True, zero_output_for_mask=zero_output_for_mask)
    mask = MASKS["holed"]
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    outputs = ops.convert_to_numpy(layer(x, mask=mask))
    for i in range(BATCH):
        previous = np.zeros(UNITS, "float32")  # before the first real step
        for t in range(TIMESTEPS):
            if mask[i, t]:
                assert np.abs(outputs[i, t]).max() > 0
                previous = outputs[i, t]
            elif zero_output_for_mask:
                np.testing.assert_array_equal(outputs[i, t], 0.0)
            else:
                np.testing.assert_array_equal(outputs[i, t], previous)


def test_all_true_mask_changes_nothing():
    layer = LSTM(UNITS, return_sequences=True, return_state=True)
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    _assert_close(layer(x, mask=np.ones((BATCH, TIMESTEPS), bool)), layer(x))


MIDDLE_LAYERS = {
    "lstm": lambda: LSTM(UNITS, return_sequences=True),
    "gru_backwards": lambda: GRU(UNITS, return_sequences=True, go_backwards=True),
    "bidirectional": lambda: Bidirectional(SimpleRNN(UNITS, return_sequences=True)),
    "stacked": lambda: StackedRNN(
        "gru", units=UNITS, num_layers=2, return_sequences=True
    ),
}


@pytest.mark.parametrize("middle", list(MIDDLE_LAYERS))
def test_embedding_mask_reaches_every_layer(middle):
    # Embedding(mask_zero=True) -> recurrent layer (return_sequences) -> LSTM:
    # a padded batch gives what each sequence gives alone, with the padding on
    # either side.
    token_ids = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(10, FEATURES, mask_zero=True)(token_ids)
    x = MIDDLE_LAYERS[middle]()(x)
    model = keras.Model(token_ids, LSTM(UNITS)(x))

    real = [np.array([[3, 1, 4]]), np.array([[1, 5, 9, 2, 6]])]
    expected = np.concatenate([ops.convert_to_numpy(model(ids)) for ids in real])
    padded = np.array(
        [
            [3, 1, 4, 0, 0, 0],  # right padding
            [1, 5, 9, 2, 6, 0],
            [0, 0, 0, 3, 1, 4],  # left padding
            [0, 1, 5, 9, 2, 6],
        ]
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(padded)), np.concatenate([expected] * 2), **TOLERANCE
    )


def test_masking_layer_mask_reaches_the_layer():
    inputs = keras.Input(shape=(None, FEATURES))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    model = keras.Model(inputs, LSTM(UNITS, return_state=True)(masked))
    real = _real_sequences([4, 5])
    expected = [numpy_list(model(sequence)) for sequence in real]
    got = numpy_list(model(_pad(real, MASKS["right"], value=0.0)))
    for i in range(BATCH):
        _assert_close([g[i : i + 1] for g in got], expected[i])


# Carried and initial states -------------------------------------------------


@pytest.mark.parametrize("name", list(LAYERS))
def test_stateful_carries_state_across_calls_and_reset_state_clears_it(name):
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    first, second = x[:, :3], x[:, 3:]
    stateful = LAYERS[name](UNITS, return_sequences=True, stateful=True)
    whole = LAYERS[name](UNITS, return_sequences=True)
    whole.build(x.shape)
    stateful.build(first.shape)
    # A stateful layer's weights also hold its carried states.
    whole.set_weights(numpy_list(stateful.trainable_weights))
    expected = ops.convert_to_numpy(whole(x))

    got_first = ops.convert_to_numpy(stateful(first))
    got_second = ops.convert_to_numpy(stateful(second))
    np.testing.assert_allclose(
        np.concatenate([got_first, got_second], 1), expected, **TOLERANCE
    )
    np.testing.assert_allclose(
        numpy_list(stateful.states)[0], expected[:, -1], **TOLERANCE
    )

    stateful.reset_state()
    for state in numpy_list(stateful.states):
        np.testing.assert_array_equal(state, 0.0)
    np.testing.assert_allclose(
        ops.convert_to_numpy(stateful(first)), got_first, **TOLERANCE
    )


def test_stateful_layer_in_a_model_with_a_fixed_batch_size():
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    inputs = keras.Input(batch_shape=(BATCH, None, FEATURES))
    layer = LSTM(UNITS, stateful=True)
    model = keras.Model(inputs, layer(inputs))
    whole = LSTM(UNITS)
    whole.build(x.shape)
    whole.set_weights(numpy_list(layer.trainable_weights))

    # predict runs the compiled path, which must carry the states too.
    model.predict(x[:, :2], verbose=0)
    np.testing.assert_allclose(
        model.predict(x[:, 2:], verbose=0), ops.convert_to_numpy(whole(x)), **TOLERANCE
    )


def test_stacked_stateful_carries_every_layers_state():
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    stateful = StackedRNN("lstm", units=UNITS, num_layers=2, stateful=True)
    whole = StackedRNN("lstm", units=UNITS, num_layers=2)
    stateful.build(x[:, :3].shape)
    whole.build(x.shape)
    whole.set_weights(numpy_list(stateful.trainable_weights))
    expected = ops.convert_to_numpy(whole(x))
    first = ops.convert_to_numpy(stateful(x[:, :3]))
    np.testing.assert_allclose(
        ops.convert_to_numpy(stateful(x[:, 3:])), expected, **TOLERANCE
    )
    stateful.reset_state()
    np.testing.assert_allclose(
        ops.convert_to_numpy(stateful(x[:, :3])), first, **TOLERANCE
    )


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_initial_state_continues_a_sequence(name):
    layer = LAYERS[name](UNITS, return_sequences=True, return_state=True)
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    whole_outputs, *whole_states = numpy_list(layer(x))
    first_outputs, *states = layer(x[:, :3])
    second_outputs, *final_states = layer(x[:, 3:], initial_state=states)
    _assert_close(
        [ops.concatenate([first_outputs, second_outputs], axis=1), *final_states],
        [whole_outputs, *whole_states],
    )
    # A zero initial state is the default; a non-zero one is used.
    zeros = [np.zeros((BATCH, UNITS), "float32")] * len(states)
    _assert_close(layer(x, initial_state=zeros), [whole_outputs, *whole_states])
    ones = [np.ones((BATCH, UNITS), "float32")] * len(states)
    assert not np.allclose(
        ops.convert_to_numpy(layer(x, initial_state=ones)[0]), whole_outputs
    )


def test_initial_state_as_model_inputs():
    # The encoder-decoder pattern: states enter the model as inputs.
    sequences = keras.Input(shape=(None, FEATURES))
    h, c = keras.Input(shape=(UNITS,)), keras.Input(shape=(UNITS,))
    layer = LSTM(UNITS, return_state=True)
    model = keras.Model([sequences, h, c], layer(sequences, initial_state=[h, c]))
    assert [tuple(o.shape) for o in model.outputs] == [(None, UNITS)] * 3

    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    states = [random_inputs((BATCH, UNITS), seed=s) for s in (1, 2)]
    _assert_close(model([x, *states]), layer(x, initial_state=states))


# Dropout ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LAYERS))
def test_dropout_only_in_training(name):
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    layer = LAYERS[name](
        UNITS, dropout=0.5, recurrent_dropout=0.5, return_sequences=True
    )
    plain = LAYERS[name](UNITS, return_sequences=True)
    layer.build(x.shape)
    plain.build(x.shape)
    plain.set_weights(layer.get_weights())
    inference = ops.convert_to_numpy(layer(x))
    np.testing.assert_array_equal(
        ops.convert_to_numpy(layer(x, training=False)), inference
    )
    np.testing.assert_allclose(inference, ops.convert_to_numpy(plain(x)), **TOLERANCE)
    training = ops.convert_to_numpy(layer(x, training=True))
    assert not np.allclose(training, inference)
    # A new dropout mask on every training call.
    assert not np.allclose(ops.convert_to_numpy(layer(x, training=True)), training)


def test_input_dropout_mask_is_drawn_once_per_sequence():
    # output_t = x_t * mask: identity kernel, no recurrence, no bias, linear.
    layer = SimpleRNN(
        FEATURES,
        activation="linear",
        use_bias=False,
        dropout=0.5,
        kernel_initializer="identity",
        recurrent_initializer="zeros",
        return_sequences=True,
    )
    x = np.ones((BATCH, TIMESTEPS, FEATURES), "float32")
    kept = ops.convert_to_numpy(layer(x, training=True))
    # Each input is dropped, or kept and scaled by 1 / (1 - 0.5) ...
    assert set(np.unique(kept)) <= {0.0, 2.0}
    # ... and the same inputs are dropped at every timestep.
    np.testing.assert_array_equal(kept, np.broadcast_to(kept[:, :1], kept.shape))


# Empty batches ----------------------------------------------------------------

EMPTY_BATCH_LAYERS = {
    "lstm": (
        lambda: LSTM(UNITS, return_sequences=True, return_state=True),
        [(0, 6, 4)] + [(0, 4)] * 2,
    ),
    "gru": (lambda: GRU(UNITS), [(0, 4)]),
    "bidirectional": (
        lambda: Bidirectional(SimpleRNN(UNITS, return_sequences=True)),
        [(0, 6, 8)],
    ),
    "stacked": (
        lambda: StackedRNN("lstm", units=UNITS, num_layers=2, return_state=True),
        [(0, 4)] * 5,
    ),
}


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("name", list(EMPTY_BATCH_LAYERS))
def test_batch_of_zero_sequences_gives_empty_outputs(name, masked):
    make_layer, shapes = EMPTY_BATCH_LAYERS[name]
    x = np.zeros((0, TIMESTEPS, FEATURES), "float32")
    mask = np.zeros((0, TIMESTEPS), bool) if masked else None
    outputs = numpy_list(make_layer()(x, mask=mask))
    assert [o.shape for o in outputs] == shapes
    assert all(o.dtype == np.float32 for o in outputs)


# Stacks and bidirectional layers ------------------------------------------------


def test_stacked_return_state_returns_every_layers_states():
    stack = StackedRNN("lstm", units=[UNITS, UNITS + 1], return_state=True)
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    output, *states = stack(x)
    assert [tuple(s.shape) for s in states] == [(BATCH, UNITS)] * 2 + [
        (BATCH, UNITS + 1)
    ] * 2
    assert stack.state_size == [UNITS, UNITS, UNITS + 1, UNITS + 1]
    # Layer by layer: the first layer's states, then the last one's (its h is the output).
    first = stack.rnn_layers[0]
    _, *first_states = first(x)
    _assert_close(states[:2], first_states)
    _assert_close(states[2], output)

    # Fed back as initial_state, the states continue the sequence.
    _, *half_states = stack(x[:, :3])
    continued = stack(x[:, 3:], initial_state=half_states)
    _assert_close(continued, [output, *states])


def test_stacked_bidirectional_return_state_order():
    stack = StackedRNN(
        "gru", units=UNITS, num_layers=2, bidirectional=True, return_state=True
    )
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    output, *states = stack(x)
    assert len(states) == 4  # per layer: forward h, backward h
    last = stack.rnn_layers[1]
    assert stack.state_size == [UNITS] * 4
    # The last layer's merged output is concat(forward h, backward h).
    _assert_close(output, ops.concatenate(states[2:], axis=-1))
    assert last.forward_layer.go_backwards is False


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merges_a_forward_and_a_backward_pass(merge_mode):
    layer = Bidirectional(GRU(UNITS, return_sequences=True), merge_mode=merge_mode)
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    got = layer(x)
    forward = ops.convert_to_numpy(layer.forward_layer(x))
    # The backward layer reads in reverse; its outputs come back in forward time order.
    backward = ops.convert_to_numpy(layer.backward_layer(x))[:, ::-1]
    expected = {
        "concat": np.concatenate([forward, backward], -1),
        "sum": forward + backward,
        "mul": forward * backward,
        "ave": (forward + backward) / 2,
        None: [forward, backward],
    }[merge_mode]
    _assert_close(got, expected)


def test_bidirectional_initial_state_goes_to_each_direction():
    layer = Bidirectional(LSTM(UNITS, return_state=True))
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    states = [random_inputs((BATCH, UNITS), seed=s) for s in range(4)]
    output, *final_states = layer(x, initial_state=states)
    assert len(final_states) == 4
    forward = layer.forward_layer(x, initial_state=states[:2])
    backward = layer.backward_layer(x, initial_state=states[2:])
    _assert_close(
        [output, *final_states],
        [ops.concatenate([forward[0], backward[0]], -1), *forward[1:], *backward[1:]],
    )
    assert not np.allclose(
        ops.convert_to_numpy(layer(x)[0]), ops.convert_to_numpy(output)
    )


def test_bidirectional_padding_anywhere_gives_the_unpadded_output():
    layer = Bidirectional(LSTM(UNITS))
    real = _real_sequences([4, 5])
    expected = [ops.convert_to_numpy(layer(s)) for s in real]
    mask = np.concatenate(list(MASKS.values()))  # right, left and holed padding
    got = ops.convert_to_numpy(layer(_pad(real * len(MASKS), mask), mask=mask))
    np.testing.assert_allclose(got, np.concatenate(expected * len(MASKS)), **TOLERANCE)


# Cells ----------------------------------------------------------------------------


@pytest.mark.parametrize("cell_class", [SimpleRNNCell, LSTMCell, GRUCell])
def test_cells_run_inside_keras_rnn(cell_class):
    # The cells keep Keras's cell protocol, so keras.layers.RNN runs them too.
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    ours = RNN(cell_class(UNITS), return_sequences=True, return_state=True)
    theirs = keras.layers.RNN(
        cell_class(UNITS), return_sequences=True, return_state=True
    )
    ours.build(x.shape)
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    _assert_close(theirs(x), ours(x))


@pytest.mark.parametrize("layer_class", [SimpleRNN, LSTM, GRU])
def test_float64_layer_runs_on_every_backend(layer_class):
    # Off TensorFlow, Keras's type promotion returns float32 from some float64
    # ops; the time loop must keep its carry's dtype instead of failing inside
    # the backend's scan.
    layer = layer_class(UNITS, dtype="float64", return_sequences=True)
    x = np.random.default_rng(0).random((BATCH, TIMESTEPS, FEATURES))
    out = ops.convert_to_numpy(layer(x))
    assert out.shape == (BATCH, TIMESTEPS, UNITS)
    assert np.all(np.isfinite(out))
    if keras.backend.backend() != "jax" or os.environ.get("JAX_ENABLE_X64"):
        # JAX computes float64 only with JAX_ENABLE_X64 (tests/test_backends.py
        # runs this test that way).
        assert out.dtype == np.float64


# Keras's own arguments and Keras-style cells ----------------------------------------


@pytest.mark.parametrize("name", ["simple", "lstm", "gru_reset_before"])
def test_unroll_gives_the_reference_loop_results(name):
    # With a holed mask and go_backwards: the unrolled loop keeps the masking rules.
    x = _pad(_real_sequences([4, 5]), MASKS["holed"])
    kwargs = {"return_sequences": True, "return_state": True, "go_backwards": True}
    rolled = LAYERS[name](UNITS, implementation="reference", **kwargs)
    unrolled = LAYERS[name](UNITS, unroll=True, **kwargs)
    rolled.build(x.shape)
    unrolled.build(x.shape)
    unrolled.set_weights(rolled.get_weights())
    _assert_close(unrolled(x, mask=MASKS["holed"]), rolled(x, mask=MASKS["holed"]))
    choice = unrolled.kernel_choice(training=False)
    assert choice.kernel == "reference"
    assert any("unroll=True" in reason for reason in choice.reasons)


def test_use_cudnn_false_never_runs_a_cudnn_kernel():
    layer = LSTM(UNITS, use_cudnn=False)
    assert "cudnn" not in layer.kernel_choice(training=False).kernel
    assert layer.get_config()["use_cudnn"] is False
    assert LSTM.from_config(layer.get_config()).use_cudnn is False


def test_use_cudnn_selects_among_the_kernels_of_this_machine():
    # The selection alone, on any machine: a cuDNN-named kernel registered
    # for this backend and device stands in for the GPU's (the real kernels
    # run in tests/layers/test_kernels.py where a GPU is present).
    from rnn_zoo.kernels import KERNELS, register_kernel, select

    def run(spec, sequences, initial_state, weights, mask, *, training):
        raise AssertionError("only chosen here, never run")

    backend, device = keras.backend.backend(), select.current_device()
    register_kernel(
        "test-cudnn",
        run,
        families=("lstm",),
        backend=backend,
        devices=(device,),
        priority=10**6,
    )
    try:
        assert LSTM(UNITS).kernel_choice(training=False).kernel == "test-cudnn"
        assert (
            LSTM(UNITS, use_cudnn=True).kernel_choice(training=False).kernel
            == "test-cudnn"
        )
        choice = LSTM(UNITS, use_cudnn=False).kernel_choice(training=False)
        assert choice.kernel != "test-cudnn"
        assert "use_cudnn=False rules out test-cudnn" in choice.reasons
    finally:
        KERNELS.pop("test-cudnn")


@pytest.mark.parametrize("implementation", [1, 2])
def test_keras_implementation_means_auto(implementation):
    layer = GRU(UNITS, implementation=implementation)
    assert layer.implementation == "auto"
    assert (
        GRUCell(UNITS, implementation=implementation).implementation == implementation
    )


class _CounterCell(keras.layers.Layer):
    """A Keras-style cell: h = h + x @ kernel, state_size an int, no get_initial_state."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.state_size))

    def call(self, inputs, states):
        h = states[0] + ops.matmul(inputs, self.kernel)
        return h, [h]


def test_keras_style_cell_runs_the_reference_loop_and_explain_says_why():
    import rnn_zoo

    layer = RNN(_CounterCell(UNITS), return_sequences=True)
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    assert tuple(layer(x).shape) == (BATCH, TIMESTEPS, UNITS)
    (row,) = rnn_zoo.explain(layer)
    assert row["inference"] == "reference"
    assert row["cell"] == "_CounterCell"
    assert any("not an rnn_zoo cell" in reason for reason in row["reasons"])


def test_keras_style_cell_stateful_and_initial_state():
    # Two stateful calls on halves give the one call on the whole sequence.
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    whole = RNN(_CounterCell(UNITS), return_sequences=True)
    halves = RNN(_CounterCell(UNITS), return_sequences=True, stateful=True)
    whole.build(x.shape)
    halves.build((BATCH, TIMESTEPS // 2, FEATURES))
    halves.set_weights(whole.get_weights() + halves.get_weights()[1:])
    got = [halves(x[:, : TIMESTEPS // 2]), halves(x[:, TIMESTEPS // 2 :])]
    _assert_close(ops.concatenate(got, axis=1), whole(x))
    halves.reset_state()
    _assert_close(halves(x[:, : TIMESTEPS // 2]), whole(x[:, : TIMESTEPS // 2]))
    # initial_state on a Keras-style cell, checked against its state_size.
    h0 = np.ones((BATCH, UNITS), "float32")
    first = ops.convert_to_numpy(whole(x[:, :1], initial_state=[h0]))
    np.testing.assert_allclose(
        first[:, 0], 1 + ops.convert_to_numpy(whole(x[:, :1]))[:, 0], **TOLERANCE
    )
    with pytest.raises(ValueError, match=r"list of 1 state\(s\).*Received: 2 tensor"):
        whole(x, initial_state=[h0, h0])


def test_keras_cell_dropout_runs_in_training():
    # A Keras cell's dropout masks are drawn once per sequence, as keras.layers.RNN does.
    layer = RNN(keras.layers.GRUCell(UNITS, dropout=0.5, recurrent_dropout=0.5))
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    inference = ops.convert_to_numpy(layer(x))
    training = ops.convert_to_numpy(layer(x, training=True))
    assert np.all(np.isfinite(training))
    assert not np.allclose(training, inference)
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), inference, **TOLERANCE)


@pytest.mark.parametrize("merge_mode", ["concat", None])
def test_bidirectional_mixed_policy_returns_the_compute_dtype(merge_mode):
    layer = Bidirectional(
        LSTM(UNITS, return_sequences=True, return_state=True),
        merge_mode=merge_mode,
        dtype="mixed_float16",
    )
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    outputs = keras.tree.flatten(layer(x))
    specs = keras.tree.flatten(layer.compute_output_spec(keras.KerasTensor(x.shape)))
    assert len(outputs) == len(specs)
    for output, spec in zip(outputs, specs):
        assert keras.backend.standardize_dtype(output.dtype) == "float16" == spec.dtype


def test_bidirectional_weights_argument_sets_both_directions():
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    source = Bidirectional(GRU(UNITS))
    source.build(x.shape)
    copy = Bidirectional(GRU(UNITS), weights=source.get_weights())
    _assert_close(copy(x), source(x))
