"""The contract every rnn_zoo layer keeps, as one reusable check.

``check_layer_contract`` takes a layer factory and asserts what a user relies
on when putting the layer in a model: its config and its ``.keras`` file
rebuild a layer that computes the same thing, its symbolic shapes are its
eager shapes, ``model.fit`` trains it (with and without ``jit_compile``), and
it runs under ``mixed_float16``. ``check_cell_contract`` does the same for a
one-step cell, on its own and inside ``rnn_zoo.layers.RNN``.

Eager calls are few on purpose: on JAX each one compiles the time loop again.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

import keras
import numpy as np
from keras import ops, tree

from rnn_zoo.layers import RNN


def numpy_list(values) -> list[np.ndarray]:
    """A tensor or a (nested) list of them as a flat list of NumPy arrays."""
    return [
        ops.convert_to_numpy(v.value if isinstance(v, keras.Variable) else v)
        for v in tree.flatten(values)
    ]


def random_inputs(shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _shapes(values) -> list[tuple]:
    return [tuple(v.shape) for v in tree.flatten(values)]


def _dtypes(values) -> list[str]:
    return [keras.backend.standardize_dtype(v.dtype) for v in tree.flatten(values)]


def _shape_list(shape_tree) -> list[tuple]:
    """``compute_output_shape``'s answer, one shape or a list of them, as a list."""
    if all(isinstance(d, int) or d is None for d in shape_tree):
        return [tuple(shape_tree)]
    return [tuple(shape) for shape in shape_tree]


def _assert_all_equal(got, want) -> None:
    got, want = numpy_list(got), numpy_list(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def check_config_round_trip(make_layer, layer, x, expected) -> None:
    """``from_config(get_config())`` gives the same config, and the same outputs
    once it has ``layer``'s weights."""
    unbuilt = make_layer()
    assert (
        type(unbuilt).from_config(unbuilt.get_config()).get_config()
        == unbuilt.get_config()
    )
    config = layer.get_config()
    clone = type(layer).from_config(config)
    clone.build(x.shape)
    # Built sublayers serialize their build shapes too, so compare once built.
    assert clone.get_config() == config
    clone.set_weights(layer.get_weights())
    _assert_all_equal(clone(x), expected)


def check_output_shapes(layer, symbolic, x, eager) -> None:
    """Symbolic shapes and dtypes == eager ones == ``compute_output_shape``'s."""
    eager_shapes = _shapes(eager)
    assert all(shape[0] == x.shape[0] for shape in eager_shapes), eager_shapes
    assert _shape_list(layer.compute_output_shape(x.shape)) == eager_shapes
    unbatched = [(None,) + shape[1:] for shape in eager_shapes]
    assert _shapes(symbolic) == unbatched
    assert _shape_list(layer.compute_output_shape((None,) + x.shape[1:])) == unbatched
    assert _dtypes(symbolic) == _dtypes(eager)


def check_saving_round_trip(model, x, expected) -> None:
    """A ``.keras`` file, loaded with ``safe_mode=True``, gives bit-identical outputs."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    assert [type(layer) for layer in loaded.layers] == [
        type(layer) for layer in model.layers
    ]
    got = loaded(x)
    assert _dtypes(got) == _dtypes(expected)
    _assert_all_equal(got, expected)


def check_fit_step(model, x, jit_compile) -> None:
    """One ``model.fit`` step gives a finite loss and moves every trainable weight
    (``x``: one array, or a list of them for a model of several inputs)."""
    batch = tree.flatten(x)[0].shape[0]
    targets = [np.ones((batch,) + tuple(o.shape[1:]), "float32") for o in model.outputs]
    if len(targets) == 1:
        targets = targets[0]
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss=["mse"] * len(model.outputs) if len(model.outputs) > 1 else "mse",
        jit_compile=jit_compile,
    )
    before = numpy_list(model.trainable_weights)
    assert before, "the model has no trainable weights"
    history = model.fit(x, targets, batch_size=batch, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = numpy_list(model.trainable_weights)
    unchanged = [
        w.path
        for w, b, a in zip(model.trainable_weights, before, after)
        if np.array_equal(b, a)
    ]
    assert not unchanged, f"fit(jit_compile={jit_compile}) left {unchanged} unchanged"


def functional_model(layer, input_shape) -> keras.Model:
    inputs = keras.Input(shape=tuple(input_shape[1:]))
    return keras.Model(inputs, layer(inputs))


def check_mixed_precision(make_layer, x) -> None:
    """``dtype="mixed_float16"``: float16 outputs, float32 weights, the policy
    survives a ``.keras`` round trip, and it trains."""
    layer = make_layer(dtype="mixed_float16")
    outputs = layer(x)
    assert _dtypes(outputs) == ["float16"] * len(tree.flatten(outputs))
    assert all(np.isfinite(v).all() for v in numpy_list(outputs))
    assert layer.weights
    assert {w.path: w.dtype for w in layer.weights} == {
        w.path: "float32" for w in layer.weights
    }
    model = functional_model(layer, x.shape)
    assert _dtypes(model.outputs) == ["float16"] * len(model.outputs)
    check_saving_round_trip(model, x, outputs)
    # Only the dtypes are under test here: take each backend's cheapest path
    # (un-jitted JAX compiles the time loop again at every op).
    check_fit_step(model, x, jit_compile=keras.backend.backend() == "jax")


def check_layer_contract(
    make_layer: Callable[..., keras.layers.Layer],
    input_shape: tuple[int, int, int],
    *,
    fit: bool = True,
    jit_compile: bool = True,
    mixed_precision: bool = True,
) -> None:
    """Asserts the layer contract for ``make_layer``.

    Args:
        make_layer: ``make_layer(dtype=None)`` returns a new, unbuilt layer
            that takes one ``(batch, timesteps, features)`` float tensor.
        input_shape: the concrete ``(batch, timesteps, features)`` to test with.
        fit: run one ``model.fit`` step with ``jit_compile=False``.
        jit_compile: run one with ``jit_compile=True``.
        mixed_precision: check ``dtype="mixed_float16"``, with a fit step.
    """
    keras.utils.set_random_seed(0)
    x = random_inputs(input_shape)
    layer = make_layer()
    eager = layer(x)
    symbolic_input = keras.Input(shape=tuple(input_shape[1:]))
    symbolic = layer(symbolic_input)
    check_output_shapes(layer, symbolic, x, eager)
    check_config_round_trip(make_layer, layer, x, eager)
    model = keras.Model(symbolic_input, symbolic)
    check_saving_round_trip(model, x, eager)
    if fit:
        check_fit_step(model, x, jit_compile=False)
    if jit_compile:
        check_fit_step(model, x, jit_compile=True)
    if mixed_precision:
        check_mixed_precision(make_layer, x)


def check_cell_contract(
    make_cell: Callable[..., keras.layers.Layer],
    input_shape: tuple[int, int, int],
    rnn_kwargs: dict | None = None,
    **contract_options,
) -> None:
    """The cell's config round trip and one-step call, then the layer contract of
    ``RNN(cell, **rnn_kwargs)``; ``contract_options`` go to ``check_layer_contract``."""
    keras.utils.set_random_seed(0)
    batch, _, features = input_shape
    cell = make_cell()
    x_t = random_inputs((batch, features))
    states = cell.get_initial_state(batch)
    assert _shapes(states) == [(batch, size) for size in cell.state_size]
    states = [s + 0.5 for s in states]  # a non-zero state reaches the recurrent kernel
    output, new_states = cell(x_t, states)
    assert tuple(output.shape) == (batch, cell.output_size)
    assert _shapes(new_states) == [(batch, size) for size in cell.state_size]
    assert _dtypes([output, *new_states]) == ["float32"] * (1 + len(cell.state_size))

    config = cell.get_config()
    clone = type(cell).from_config(config)
    assert clone.get_config() == config
    clone.build(x_t.shape)
    clone.set_weights(cell.get_weights())
    _assert_all_equal(clone(x_t, states), [output, *new_states])

    def make_layer(dtype=None):
        return RNN(make_cell(dtype=dtype), dtype=dtype, **(rnn_kwargs or {}))

    check_layer_contract(make_layer, input_shape, **contract_options)
