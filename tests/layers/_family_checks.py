"""Behaviour checks every cell family's test file runs on its own layer.

Each takes a factory ``make_layer(**rnn_kwargs)`` of an unbuilt sequence layer
(``SRU``, ``QRNN``, ...) and asserts what a user relies on, by comparing the
layer with itself: padding anywhere gives the unpadded result, a stateful
layer and an initial state continue a sequence, ``step()`` one timestep at a
time gives the sequence, dropout acts in training only, and a float64
finite-difference gradient check (TensorFlow only: off it Keras computes
float64 partly in float32, keras-team/keras#23704).

Shapes are few and small on purpose: every distinct shape is another compile
of the time loop on JAX.
"""

from __future__ import annotations

import os

import keras
import numpy as np
from keras import ops

from rnn_zoo.layers import StackedRNN
from tests.layers._grads import cotangent, finite_differences, value_and_grads
from tests.layers.contract import numpy_list, random_inputs

BATCH, TIMESTEPS, FEATURES, UNITS = 2, 6, 3, 4
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
# True where a step is real: 4 real steps in row 0 and 5 in row 1 of each.
MASKS = {
    "right": np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 0]], bool),
    "left": np.array([[0, 0, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1]], bool),
    "holed": np.array([[0, 1, 1, 0, 1, 1], [1, 1, 0, 1, 1, 1]], bool),
}
PAD = 100.0  # what sits in masked steps: large enough to show if it leaks


def assert_close(got, want, **kwargs) -> None:
    got, want = numpy_list(got), numpy_list(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **{**TOLERANCE, **kwargs})


def _pad(sequences, mask, value=PAD):
    """Puts each (1, length, features) sequence at the True steps of its mask row."""
    padded = np.full(mask.shape + (sequences[0].shape[-1],), value, "float32")
    for i, sequence in enumerate(sequences):
        padded[i, mask[i]] = sequence[0]
    return padded


def check_padding_anywhere(make_layer, go_backwards: bool) -> None:
    """Right-, left- and holed padding give the unpadded outputs and states."""
    layer = make_layer(return_state=True, go_backwards=go_backwards)
    real = [random_inputs((1, n, FEATURES), seed=1 + i) for i, n in enumerate([4, 5])]
    expected = [numpy_list(layer(sequence)) for sequence in real]
    mask = np.concatenate(list(MASKS.values()))
    got = numpy_list(layer(_pad(real * len(MASKS), mask), mask=mask))
    for row, padding in enumerate(np.repeat(list(MASKS), BATCH)):
        for g, w in zip(got, expected[row % BATCH], strict=True):
            np.testing.assert_allclose(
                g[row : row + 1], w, err_msg=f"{padding} padding", **TOLERANCE
            )


def check_stateful(make_layer) -> None:
    """A stateful layer continues the sequence across calls; reset_state restarts it."""
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    first, second = x[:, :3], x[:, 3:]
    stateful = make_layer(return_sequences=True, stateful=True)
    whole = make_layer(return_sequences=True)
    whole.build(x.shape)
    stateful.build(first.shape)
    whole.set_weights(numpy_list(stateful.trainable_weights))
    expected = ops.convert_to_numpy(whole(x))
    got_first = ops.convert_to_numpy(stateful(first))
    got_second = ops.convert_to_numpy(stateful(second))
    np.testing.assert_allclose(
        np.concatenate([got_first, got_second], 1), expected, **TOLERANCE
    )
    stateful.reset_state()
    for state in numpy_list(stateful.states):
        np.testing.assert_array_equal(state, 0.0)
    np.testing.assert_allclose(
        ops.convert_to_numpy(stateful(first)), got_first, **TOLERANCE
    )


def check_initial_state(make_layer) -> None:
    """Returned states fed back as ``initial_state`` continue the sequence;
    zeros are the default; other states change the result."""
    layer = make_layer(return_sequences=True, return_state=True)
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    whole_outputs, *whole_states = numpy_list(layer(x))
    first_outputs, *states = layer(x[:, :3])
    second_outputs, *final_states = layer(x[:, 3:], initial_state=states)
    assert_close(
        [ops.concatenate([first_outputs, second_outputs], axis=1), *final_states],
        [whole_outputs, *whole_states],
    )
    zeros = [np.zeros((BATCH, size), "float32") for size in layer.state_size]
    assert_close(layer(x, initial_state=zeros), [whole_outputs, *whole_states])
    halves = [np.full((BATCH, size), 0.5, "float32") for size in layer.state_size]
    assert not np.allclose(
        ops.convert_to_numpy(layer(x, initial_state=halves)[0]), whole_outputs
    )


def check_step_matches_sequence(make_layer, cell: str, **cell_kwargs) -> None:
    """The cell one step at a time, and ``StackedRNN(cell, **cell_kwargs).step``,
    give the sequence."""
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    layer = make_layer(return_sequences=True, return_state=True)
    outputs, *final_states = numpy_list(layer(x))
    states = layer.cell.get_initial_state(BATCH)
    stepped = []
    for t in range(TIMESTEPS):
        output, states = layer.cell(x[:, t], states)
        stepped.append(ops.convert_to_numpy(output))
    assert_close([np.stack(stepped, 1), *states], [outputs, *final_states])

    stack = StackedRNN(
        cell, units=UNITS, num_layers=2, return_sequences=True, **cell_kwargs
    )
    expected = ops.convert_to_numpy(stack(x))
    states = [np.zeros((BATCH, size), "float32") for size in stack.state_size]
    stepped = []
    for t in range(TIMESTEPS):
        output, states = stack.step(x[:, t], states)
        stepped.append(ops.convert_to_numpy(output))
    np.testing.assert_allclose(np.stack(stepped, 1), expected, **TOLERANCE)


def check_dropout_only_in_training(make_layer, **dropout) -> None:
    """Dropout changes training outputs (a new mask each call), never inference."""
    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    layer = make_layer(return_sequences=True, **dropout)
    plain = make_layer(return_sequences=True)
    layer.build(x.shape)
    plain.build(x.shape)
    plain.set_weights(layer.get_weights())
    inference = ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(inference, ops.convert_to_numpy(plain(x)), **TOLERANCE)
    training = ops.convert_to_numpy(layer(x, training=True))
    assert not np.allclose(training, inference)
    assert not np.allclose(ops.convert_to_numpy(layer(x, training=True)), training)


def check_finite_differences(
    make_layer,
    weights_scale: float = 0.8,
    timespans: bool = False,
    weights_low: float | None = None,
) -> None:
    """float64 gradients of outputs and states, with a holed mask, match central
    differences for the inputs, the initial states and every weight (and, with
    ``timespans``, for irregular elapsed times given at the call). Weights are
    uniform in ``[weights_low, weights_scale]`` (``weights_low`` defaults to
    ``-weights_scale``)."""
    import tensorflow as tf

    batch, timesteps, features = 2, 4, FEATURES
    eps = 1e-6
    rng = np.random.default_rng(5)
    x = rng.standard_normal((batch, timesteps, features))
    mask = np.array([[1, 0, 1, 1], [0, 1, 1, 0]], dtype=bool)
    layer = make_layer(return_sequences=True, return_state=True, dtype="float64")
    layer(x)
    layer.set_weights(
        [
            rng.uniform(
                -weights_scale if weights_low is None else weights_low,
                weights_scale,
                w.shape,
            )
            for w in layer.get_weights()
        ]
    )
    states = [rng.standard_normal((batch, size)) for size in layer.state_size]
    assert all(v.dtype == "float64" for v in layer.weights)
    # The arrays differentiated: x, then the timespans where given, then the states.
    sequences = [x, rng.uniform(0.2, 2.0, (batch, timesteps))] if timespans else [x]

    def call_kwargs(inputs):
        time = {"timespans": inputs[1]} if timespans else {}
        return {"initial_state": list(inputs[len(sequences) :]), "mask": mask, **time}

    def forward(call, *inputs):
        kwargs = call_kwargs(inputs)
        return call(inputs[0], **{**kwargs, "mask": ops.convert_to_tensor(mask)})

    inputs = sequences + states
    _, input_grads, weight_grads = value_and_grads(layer, forward, inputs)
    assert all(g.dtype == np.float64 for g in input_grads + weight_grads)
    non_trainable = [v.value for v in layer.non_trainable_variables]

    @tf.function
    def outputs_of(weights, inputs):
        outputs, _ = layer.stateless_call(
            weights, non_trainable, inputs[0], **call_kwargs(inputs)
        )
        return outputs

    def loss(weights, inputs):
        outputs = outputs_of(weights, inputs)
        return sum(
            np.sum(o.numpy() * cotangent(i, o.shape)) for i, o in enumerate(outputs)
        )

    def central_differences(arrays, weights, inputs):
        return finite_differences(lambda: loss(weights, inputs), arrays, eps)

    weights = [ops.convert_to_numpy(v) for v in layer.trainable_variables]
    numeric = central_differences(inputs, weights, inputs) + central_differences(
        weights, weights, inputs
    )
    for analytic, expected in zip(input_grads + weight_grads, numeric, strict=True):
        np.testing.assert_allclose(analytic, expected, rtol=1e-6, atol=1e-8)


def check_runs_inside_keras_rnn(make_cell) -> None:
    """The cell keeps Keras's cell protocol: ``keras.layers.RNN`` runs it too."""
    from rnn_zoo.layers import RNN

    x = random_inputs((BATCH, TIMESTEPS, FEATURES))
    ours = RNN(make_cell(), return_sequences=True, return_state=True)
    theirs = keras.layers.RNN(make_cell(), return_sequences=True, return_state=True)
    ours.build(x.shape)
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    assert_close(theirs(x), ours(x))


def check_empty_batch(make_layer) -> None:
    """A batch of 0 sequences, masked or not, gives empty outputs and states."""
    layer = make_layer(return_sequences=True, return_state=True)
    x = np.zeros((0, TIMESTEPS, FEATURES), "float32")
    for mask in (None, np.zeros((0, TIMESTEPS), bool)):
        outputs = numpy_list(layer(x, mask=mask))
        assert [o.shape for o in outputs] == [(0, TIMESTEPS, UNITS)] + [
            (0, size) for size in layer.state_size
        ]


def check_float64(make_layer) -> None:
    """A float64 layer runs on every backend and, where the backend computes
    float64 (TensorFlow; JAX with JAX_ENABLE_X64), returns float64."""
    layer = make_layer(return_sequences=True, dtype="float64")
    x = np.random.default_rng(0).random((BATCH, TIMESTEPS, FEATURES))
    out = ops.convert_to_numpy(layer(x))
    assert out.shape == (BATCH, TIMESTEPS, UNITS)
    assert np.all(np.isfinite(out))
    if keras.backend.backend() != "jax" or os.environ.get("JAX_ENABLE_X64"):
        assert out.dtype == np.float64
