"""Checks of ``timespans`` that every cell with ``uses_time`` runs on its own layer.

Each takes a factory ``make_layer(**rnn_kwargs)`` of an unbuilt sequence layer
(``CfC``, ``LTC``), and compares the layer with itself or with the
``ncps.keras`` reference stepped by hand. Shapes are the family checks' (one
compile per shape on JAX).
"""

from __future__ import annotations

import os
import tempfile

import keras
import numpy as np
import pytest
from keras import ops

from tests.layers import _family_checks as checks
from tests.layers.contract import check_fit_step, numpy_list, random_inputs

B, T, F = checks.BATCH, checks.TIMESTEPS, checks.FEATURES


def irregular_timespans(shape=(B, T), seed: int = 3) -> np.ndarray:
    """Positive elapsed times between 0.1 and 3 (as after dropping observations)."""
    return np.random.default_rng(seed).uniform(0.1, 3.0, shape).astype("float32")


def randomize_weights(layer, seed: int = 4, scale: float = 1.0) -> None:
    """Uniform weights, so that every weight (A, w_tau, erev, ...) reaches the output."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [
            rng.uniform(-scale, scale, w.shape).astype(w.dtype)
            for w in layer.get_weights()
        ]
    )


def check_time_changes_the_output(make_layer) -> None:
    """timespans of 1.0 are the default; other timespans change the outputs;
    (batch, T) and (batch, T, 1) are the same."""
    layer = make_layer(return_sequences=True)
    x = random_inputs((B, T, F))
    default = ops.convert_to_numpy(layer(x))
    ones = ops.convert_to_numpy(layer(x, timespans=np.ones((B, T), "float32")))
    np.testing.assert_array_equal(ones, default)
    ts = irregular_timespans()
    irregular = ops.convert_to_numpy(layer(x, timespans=ts))
    assert not np.allclose(irregular, default, atol=1e-4)
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer(x, timespans=ts[..., None])),
        irregular,
        **checks.TOLERANCE,
    )


def check_padding_with_timespans(make_layer) -> None:
    """Padding anywhere, with any (even 0) timespans at padded steps, gives the
    unpadded result with the real steps' timespans."""
    layer = make_layer(return_state=True)
    real = [random_inputs((1, n, F), seed=1 + i) for i, n in enumerate([4, 5])]
    times = [irregular_timespans((1, n), seed=7 + i) for i, n in enumerate([4, 5])]
    expected = [numpy_list(layer(x, timespans=ts)) for x, ts in zip(real, times)]
    mask = np.concatenate(list(checks.MASKS.values()))
    x = checks._pad(real * len(checks.MASKS), mask)
    ts = checks._pad([t[..., None] for t in times] * len(checks.MASKS), mask, 0.0)
    got = numpy_list(layer(x, timespans=ts[..., 0], mask=mask))
    for row in range(mask.shape[0]):
        for g, w in zip(got, expected[row % B], strict=True):
            np.testing.assert_allclose(g[row : row + 1], w, **checks.TOLERANCE)


def check_masking_layer_with_timespans(make_layer, cell: str) -> None:
    """A ``Masking`` layer's mask reaches the layer, alone and inside
    ``Bidirectional`` and ``StackedRNN``, when ``timespans`` come beside the
    sequences (Keras fills ``mask`` only for a call with one tensor): a
    padded row gives the unpadded answer, even with 0 timespans on padding."""
    from rnn_zoo.layers import Bidirectional, StackedRNN

    for wrap in (
        lambda: make_layer(),
        lambda: Bidirectional(make_layer()),
        lambda: StackedRNN(cell, units=3, num_layers=2),
    ):
        inputs, timespans = keras.Input((None, F)), keras.Input((None,))
        masked = keras.layers.Masking(0.0)(inputs)
        model = keras.Model([inputs, timespans], wrap()(masked, timespans=timespans))
        x, ts = random_inputs((1, 4, F), seed=2), irregular_timespans((1, 4))
        expected = ops.convert_to_numpy(model([x, ts]))
        padded_x = np.concatenate([x, np.zeros((1, 2, F), x.dtype)], axis=1)
        padded_ts = np.concatenate([ts, np.zeros((1, 2), ts.dtype)], axis=1)
        got = ops.convert_to_numpy(model([padded_x, padded_ts]))
        np.testing.assert_allclose(got, expected, **checks.TOLERANCE)


def check_go_backwards_reverses_the_timespans(make_layer) -> None:
    """A backward layer is the forward layer on the reversed inputs and timespans."""
    x, ts = random_inputs((B, T, F)), irregular_timespans()
    backward = make_layer(go_backwards=True, return_state=True)
    forward = make_layer(return_state=True)
    backward.build(x.shape)
    forward.build(x.shape)
    forward.set_weights(backward.get_weights())
    checks.assert_close(
        backward(x, timespans=ts), forward(x[:, ::-1], timespans=ts[:, ::-1])
    )


def check_step_with_timespans(make_layer, cell: str, **cell_kwargs) -> None:
    """The cell one step at a time, and ``StackedRNN.step``, with the step's
    timespans, give the sequence."""
    from rnn_zoo.layers import StackedRNN

    x, ts = random_inputs((B, T, F)), irregular_timespans()
    layer = make_layer(return_sequences=True, return_state=True)
    outputs, *final_states = numpy_list(layer(x, timespans=ts))
    states = layer.cell.get_initial_state(B)
    stepped = []
    for t in range(T):
        output, states = layer.cell(x[:, t], states, timespans=ts[:, t])
        stepped.append(ops.convert_to_numpy(output))
    checks.assert_close([np.stack(stepped, 1), *states], [outputs, *final_states])

    stack = StackedRNN(cell, units=checks.UNITS, num_layers=2, **cell_kwargs)
    expected = ops.convert_to_numpy(stack(x, timespans=ts))
    states = [np.zeros((B, size), "float32") for size in stack.state_size]
    for t in range(T):
        output, states = stack.step(x[:, t], states, timespans=ts[:, t : t + 1])
    np.testing.assert_allclose(
        ops.convert_to_numpy(output), expected, **checks.TOLERANCE
    )


def timespans_model(make_layer) -> keras.Model:
    """A functional model with ``timespans`` as its second input."""
    inputs = keras.Input((T, F), name="features")
    timespans = keras.Input((T,), name="timespans")
    outputs = make_layer()(inputs, timespans=timespans)
    return keras.Model([inputs, timespans], outputs)


def check_functional_model_with_timespans(make_layer) -> None:
    """A model taking timespans saves, loads (safe mode) and trains; the
    graph refuses non-positive timespans at run time."""
    model = timespans_model(make_layer)
    x, ts = random_inputs((B, T, F)), irregular_timespans()
    expected = ops.convert_to_numpy(model([x, ts]))
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(ops.convert_to_numpy(loaded([x, ts])), expected)
    predicted = model.predict([x, ts], verbose=0)
    np.testing.assert_allclose(predicted, expected, **checks.TOLERANCE)
    check_fit_step(model, [x, ts], jit_compile=False)
    bad = ts.copy()
    bad[1, 2] = -1.0
    with pytest.raises(Exception, match="`timespans` to be positive and finite"):
        model.predict([x, bad], verbose=0)


TIMESPANS_ERRORS = [
    (np.ones((B, T, 2)), ValueError, "expects `timespans` of shape (batch, timesteps) or (batch, timesteps, 1) = (2, 6). Received: timespans.shape=(2, 6, 2)"),
    (np.ones((B,)), ValueError, "Received: timespans.shape=(2,)"),
    (np.ones((3, T)), ValueError, "expects `timespans` with the batch size of `sequences` (2)"),
    (np.ones((B, T + 1)), ValueError, "with the number of timesteps of `sequences` (6)"),
    (np.zeros((B, T)), ValueError, "expects `timespans` to be positive and finite (the time elapsed at each real step). Received: 12 value(s) that are not, the first 0.0"),
    (np.full((B, T), np.nan), ValueError, "positive and finite"),
    (np.full((B, T), np.inf), ValueError, "the first inf"),
    (np.ones((B, T), bool), TypeError, "expects real-valued `timespans`. Received: timespans.dtype=bool"),
]  # fmt: skip


# The parametrization of each family's bad-timespans test.
bad_timespans = pytest.mark.parametrize(
    "timespans, error, message",
    TIMESPANS_ERRORS,
    ids=["features", "rank", "batch", "length", "zero", "nan", "inf", "bool"],
)


def check_timespans_errors(make_layer, timespans, error, message) -> None:
    layer = make_layer()
    with pytest.raises(error) as info:
        layer(random_inputs((B, T, F)), timespans=timespans)
    assert message in str(info.value)
