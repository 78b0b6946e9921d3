"""Checks shared by the tests of the linear-recurrence layers (MinGRU, MinLSTM, RGLRU).

Each takes a layer factory ``make(**kwargs)`` returning an unbuilt sequence
layer, and asserts a behaviour a user relies on: the parallel scan computes
what the reference loop computes (outputs, states, gradients), padding on
either side changes nothing, ``stateful`` continues a sequence, the cell
steps as the layer runs, float64 gradients match finite differences.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from rnn_zoo.layers import StackedRNN
from tests.layers._grads import cotangent, finite_differences, value_and_grads
from tests.layers._masks import MASKS
from tests.layers.contract import numpy_list, random_inputs

BATCH, TIMESTEPS, FEATURES, UNITS = 3, 6, 4, 5
INPUT_SHAPE = (BATCH, TIMESTEPS, FEATURES)


SCAN_KERNEL = {"tensorflow": "tf-scan", "jax": "jax-scan", "torch": "torch-scan"}[
    keras.backend.backend()
]


def numpy_recurrence(step, xs, h0, mask=None):
    """Runs ``step(x_t, h) -> h`` over ``xs`` (batch, time, features) in NumPy
    with rnn_zoo's masking rules: a masked step keeps the state and repeats the
    previous output (zeros before the first valid step).

    Returns ``(outputs, final_state)``.
    """
    h = np.asarray(h0, "float64")
    out = np.zeros_like(h)
    outputs = []
    for t in range(xs.shape[1]):
        new = step(xs[:, t].astype("float64"), h)
        if mask is None:
            h, out = new, new
        else:
            m = mask[:, t : t + 1]
            h = np.where(m, new, h)
            out = np.where(m, new, out)
        outputs.append(out)
    return np.stack(outputs, axis=1), h


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def set_random_weights(layer, seed: int = 7, scale: float = 0.8) -> None:
    """Weights away from the initialisers' zeros, so every term matters."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.uniform(-scale, scale, w.shape) for w in layer.get_weights()]
    )


def _outputs_and_grads(layer, x, h0, mask):
    def forward(call, x, h0):
        kwargs = {} if mask is None else {"mask": ops.convert_to_tensor(mask)}
        return call(x, initial_state=[h0], **kwargs)

    return value_and_grads(layer, forward, [x, h0])


def check_scan_matches_reference(make, mask, **layer_kwargs) -> None:
    """The scan (``implementation="auto"``) and the reference loop give the same
    outputs, final state and gradients (inputs, initial state, every weight)
    to 1e-5, forwards and backwards."""
    x = random_inputs(INPUT_SHAPE)
    h0 = random_inputs((BATCH, UNITS), seed=1)
    for go_backwards in (False, True):
        kwargs = dict(
            return_sequences=True, return_state=True, go_backwards=go_backwards
        )
        kwargs.update(layer_kwargs)
        scan = make(**kwargs)
        loop = make(implementation="reference", **kwargs)
        scan.build(x.shape)
        loop.build(x.shape)
        set_random_weights(scan)
        loop.set_weights(scan.get_weights())
        assert scan.kernel_choice(training=True, mask=mask).kernel == SCAN_KERNEL
        assert loop.kernel_choice(training=True, mask=mask).kernel == "reference"
        got = _outputs_and_grads(scan, x, h0, mask)
        want = _outputs_and_grads(loop, x, h0, mask)
        for what, g, w in zip(("outputs", "input grads", "weight grads"), got, want):
            assert len(g) == len(w)
            for i, (gi, wi) in enumerate(zip(g, w)):
                np.testing.assert_allclose(
                    gi,
                    wi,
                    rtol=1e-5,
                    atol=1e-5,
                    err_msg=f"{what} {i}, go_backwards={go_backwards}",
                )


def check_every_scan_method_in_the_layer(make, monkeypatch) -> None:
    """The layer's kernel with each way of scanning (the device picks one):
    the same as the reference loop, with a mask, in both directions."""
    from rnn_zoo.kernels import scan

    monkeypatch.setattr(scan, "_CHUNK", 4)  # T = 6: two chunks, one padded
    for method in scan.METHODS:
        monkeypatch.setattr(scan, "method_for", lambda device, m=method: m)
        check_scan_matches_reference(make, MASKS["holes"])


def check_padding_changes_nothing(make) -> None:
    """Left-, right- and unpadded versions of a sequence: the same last output,
    final state and outputs at the real steps."""
    valid = 4
    x = random_inputs((BATCH, valid, FEATURES), seed=3)
    pad = np.zeros((BATCH, TIMESTEPS - valid, FEATURES), "float32")
    ones = np.ones((BATCH, valid), bool)
    zeros = np.zeros((BATCH, TIMESTEPS - valid), bool)
    for go_backwards in (False, True):
        layer = make(
            return_sequences=True, return_state=True, go_backwards=go_backwards
        )
        layer.build(x.shape)
        set_random_weights(layer, seed=4)
        seq, h = numpy_list(layer(x))
        last = seq[:, -1]
        right_seq, right_h = numpy_list(
            layer(np.concatenate([x, pad], 1), mask=np.concatenate([ones, zeros], 1))
        )
        left_seq, left_h = numpy_list(
            layer(np.concatenate([pad, x], 1), mask=np.concatenate([zeros, ones], 1))
        )
        for padded_h, padded_seq in ((right_h, right_seq), (left_h, left_seq)):
            np.testing.assert_allclose(padded_h, h, atol=1e-6)
            np.testing.assert_allclose(padded_seq[:, -1], last, atol=1e-6)
        # Real steps, in processing order: right padding is processed last
        # forwards and first backwards; left padding the other way round.
        tail = slice(TIMESTEPS - valid, None)
        head = slice(None, valid)
        np.testing.assert_allclose(
            right_seq[:, tail if go_backwards else head], seq, atol=1e-6
        )
        np.testing.assert_allclose(
            left_seq[:, head if go_backwards else tail], seq, atol=1e-6
        )


def check_stateful_continues_the_sequence(make) -> None:
    x = random_inputs(INPUT_SHAPE, seed=5)
    whole = make(return_sequences=True)
    whole.build(x.shape)
    set_random_weights(whole, seed=6)
    expected = numpy_list(whole(x))[0]
    half = TIMESTEPS // 2
    stateful = make(return_sequences=True, stateful=True)
    stateful.build(x[:, :half].shape)
    stateful.set_weights(whole.get_weights() + [np.zeros((BATCH, UNITS))])
    first = numpy_list(stateful(x[:, :half]))[0]
    second = numpy_list(stateful(x[:, half:]))[0]
    np.testing.assert_allclose(np.concatenate([first, second], 1), expected, atol=1e-5)
    stateful.reset_state()
    np.testing.assert_allclose(numpy_list(stateful(x[:, :half]))[0], first, atol=1e-6)


def check_stack_steps_as_it_runs(name: str, **cell_kwargs) -> None:
    """``StackedRNN.step`` (decoding, generation) one step at a time gives the
    outputs of the whole-sequence call (the scan)."""
    x = random_inputs(INPUT_SHAPE, seed=8)
    stack = StackedRNN(
        name, units=UNITS, num_layers=2, return_sequences=True, **cell_kwargs
    )
    expected = numpy_list(stack(x))[0]
    states = [np.zeros((BATCH, UNITS), "float32")] * 2
    for t in range(TIMESTEPS):
        output, states = stack.step(x[:, t], states)
        np.testing.assert_allclose(
            ops.convert_to_numpy(output), expected[:, t], atol=1e-5, err_msg=f"t={t}"
        )


def check_dropout_is_the_same_on_both_paths(make) -> None:
    """Input dropout: one mask per sequence, the same draw on the scan and the
    loop (same seed), and only in training."""
    x = random_inputs(INPUT_SHAPE, seed=9)
    scan = make(dropout=0.5, seed=3, return_sequences=True)
    loop = make(dropout=0.5, seed=3, return_sequences=True, implementation="reference")
    scan.build(x.shape)
    loop.build(x.shape)
    loop.set_weights(scan.get_weights())
    trained = numpy_list(scan(x, training=True))[0]
    np.testing.assert_allclose(
        trained, numpy_list(loop(x, training=True))[0], atol=1e-5
    )
    inferred = numpy_list(scan(x))[0]
    assert not np.allclose(trained, inferred)
    np.testing.assert_allclose(inferred, numpy_list(loop(x))[0], atol=1e-5)


def check_finite_differences(make) -> None:
    """float64 gradients of the scan against central differences (TensorFlow:
    Keras computes float64 in float32 on the other backends, keras-team/keras#23704)."""
    import tensorflow as tf

    eps = 1e-6
    rng = np.random.default_rng(5)
    batch, timesteps = 2, 4
    x = rng.standard_normal((batch, timesteps, FEATURES))
    h0 = rng.standard_normal((batch, UNITS))
    mask = np.array([[1, 0, 1, 1], [0, 1, 1, 0]], dtype=bool)
    layer = make(return_sequences=True, return_state=True, dtype="float64")
    layer.build(x.shape)
    set_random_weights(layer, seed=11)
    assert all(v.dtype == "float64" for v in layer.weights)
    assert layer.kernel_choice(training=True, mask=mask).kernel == SCAN_KERNEL
    _, input_grads, weight_grads = _outputs_and_grads(layer, x, h0, mask)
    assert all(g.dtype == np.float64 for g in input_grads + weight_grads)

    non_trainable = [v.value for v in layer.non_trainable_variables]

    @tf.function
    def outputs_of(weights, x, h0):
        outputs, _ = layer.stateless_call(
            weights, non_trainable, x, initial_state=[h0], mask=mask
        )
        return outputs

    def loss(weights, inputs):
        outputs = outputs_of(weights, *inputs)
        return sum(
            np.sum(o.numpy() * cotangent(i, o.shape)) for i, o in enumerate(outputs)
        )

    def central_differences(arrays, weights, inputs):
        return finite_differences(lambda: loss(weights, inputs), arrays, eps)

    weights = [ops.convert_to_numpy(v) for v in layer.trainable_variables]
    inputs = [x, h0]
    numeric = central_differences(inputs, weights, inputs) + central_differences(
        weights, weights, inputs
    )
    for analytic, expected in zip(input_grads + weight_grads, numeric):
        np.testing.assert_allclose(analytic, expected, rtol=1e-6, atol=1e-8)
