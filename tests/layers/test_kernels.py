"""The fast kernels compute what the reference loop computes: outputs, states and gradients.

Each case builds one layer with ``kernel="auto"`` (the fused kernel where the
backend has one) and a copy with ``kernel="reference"`` and the same weights,
then compares them on the same batch, masks of every pattern included.
Also: the kernel report (``rnn_zoo.explain``), strict mode, serialization,
mixed precision and XLA.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import rnn_zoo
from rnn_zoo import layers
from rnn_zoo.kernels import select

B, T, F, U = 3, 7, 4, 5
TF_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="gradients taken with tf.GradientTape",
)

CELLS = {
    "lstm": lambda **kw: layers.LSTM(U, **kw),
    "gru": lambda **kw: layers.GRU(U, **kw),
    "simple_tanh": lambda **kw: layers.SimpleRNN(U, **kw),
    "simple_relu": lambda **kw: layers.SimpleRNN(U, activation="relu", **kw),
}


def _mask(kind, rng):
    if kind == "none":
        return None
    lengths = np.array([T, 4, 1])
    steps = np.arange(T)[None]
    if kind == "right":
        return steps < lengths[:, None]
    if kind == "left":
        return steps >= (T - lengths)[:, None]
    mask = rng.random((B, T)) > 0.4  # holes anywhere, one row all padding
    mask[2] = False
    return mask


def _pair(cell, **kwargs):
    fast = CELLS[cell](kernel="auto", **kwargs)
    slow = CELLS[cell](kernel="reference", **kwargs)
    x = np.zeros((B, T, F), "float32")
    fast(x)
    slow(x)
    rng = np.random.default_rng(1)
    # Larger recurrent weights than the initializers give, so that every
    # gate saturates somewhere and the relu cell both grows and clips.
    slow.set_weights(
        [rng.normal(scale=0.6, size=w.shape).astype("float32") for w in fast.weights]
    )
    fast.set_weights(slow.get_weights())
    return fast, slow


@pytest.fixture
def small_chunks(monkeypatch):
    """Three steps per chunk on TensorFlow, so that T=7 spans two full chunks
    and one padded with two steps (by default: a chunk of 4 and one padded
    with one)."""
    if keras.backend.backend() == "tensorflow":
        from rnn_zoo.kernels import fused_tf

        monkeypatch.setattr(fused_tf, "MAX_CHUNK", 3)
        monkeypatch.setattr(fused_tf, "MIN_CHUNK", 3)


def _close(a, b, tol=1e-5):
    a, b = keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
    scale = max(1.0, float(np.abs(b).max()) if b.size else 1.0)
    np.testing.assert_allclose(a, b, atol=tol * scale, rtol=tol)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask_kind", ["none", "right", "left", "holes"])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_fused_outputs_match_reference(cell, mask_kind, go_backwards, small_chunks):
    rng = np.random.default_rng(0)
    fast, slow = _pair(
        cell, return_sequences=True, return_state=True, go_backwards=go_backwards
    )
    x = rng.normal(size=(B, T, F)).astype("float32")
    mask = _mask(mask_kind, rng)
    h0 = [rng.normal(size=(B, U)).astype("float32") for _ in fast.state_size]
    for training in (False, True):
        got = fast(x, initial_state=h0, mask=mask, training=training)
        want = slow(x, initial_state=h0, mask=mask, training=training)
        for g, w in zip(got, want):
            _close(g, w)


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
@pytest.mark.parametrize("mask_kind", ["none", "right", "left", "holes"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_last_output_without_the_sequence_matches_reference(
    cell, mask_kind, zero_output_for_mask
):
    # In inference with return_sequences=False the fused loop writes nothing
    # per step; the last output comes from the final state (zero for a row
    # with no real step). T=41 (a prime) takes 14 chunks of 3 steps, the last
    # padded with one.
    steps = 41
    rng = np.random.default_rng(3)
    kwargs = dict(return_state=True, zero_output_for_mask=zero_output_for_mask)
    fast, slow = _pair(cell, **kwargs)
    x = rng.normal(size=(B, steps, F)).astype("float32")
    mask = None
    if mask_kind != "none":
        mask = _mask(mask_kind, rng)
        mask = np.concatenate([mask, np.repeat(mask[:, -1:], steps - T, 1)], 1)
        if mask_kind == "holes":
            mask[1, ::3] = False
    for training in (False, True):
        got = fast(x, mask=mask, training=training)
        want = slow(x, mask=mask, training=training)
        for g, w in zip(got, want):
            _close(g, w)


def _gradients(layer, x, h0, mask, probes, training):
    """d(loss)/d(inputs, initial states, weights) on the TensorFlow or torch backend."""
    backend = keras.backend.backend()
    probes = [keras.ops.convert_to_tensor(p) for p in probes]

    def loss_of(x, h0):
        out, *states = layer(x, initial_state=h0, mask=mask, training=training)
        return keras.ops.sum(out * probes[0]) + sum(
            keras.ops.sum(s * p) for s, p in zip(states, probes[1:])
        )

    if backend == "tensorflow":
        import tensorflow as tf

        x, h0 = tf.constant(x), [tf.constant(h) for h in h0]
        with tf.GradientTape() as tape:
            tape.watch([x, *h0])
            loss = loss_of(x, h0)
        return tape.gradient(loss, [x, *h0, *layer.trainable_weights])
    import torch

    x = torch.tensor(x, requires_grad=True)
    h0 = [torch.tensor(h, requires_grad=True) for h in h0]
    loss = loss_of(x, h0)
    weights = [w.value for w in layer.trainable_weights]
    return torch.autograd.grad(loss, [x, *h0, *weights])


@pytest.mark.skipif(
    keras.backend.backend() == "jax", reason="JAX runs the reference loop only"
)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("mask_kind", ["none", "right", "left", "holes"])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_fused_gradients_match_reference(
    cell, mask_kind, return_sequences, small_chunks
):
    rng = np.random.default_rng(2)
    fast, slow = _pair(cell, return_sequences=return_sequences, return_state=True)
    x = rng.normal(size=(B, T, F)).astype("float32")
    mask = _mask(mask_kind, rng)
    h0 = [rng.normal(size=(B, U)).astype("float32") for _ in fast.state_size]
    # Every output and state feeds the loss with its own weights.
    probes = [rng.normal(size=(U,)).astype("float32") for _ in range(3)]
    want = _gradients(slow, x, h0, mask, probes, True)
    # On TensorFlow, training=False saves nothing in the forward loop and
    # recomputes for the backward pass: the same gradients either way.
    for training in (True, False):
        for g, w in zip(_gradients(fast, x, h0, mask, probes, training), want):
            _close(g, w)


@TF_ONLY
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fused_kernel_is_the_default_on_tensorflow(cell):
    layer = CELLS[cell]()
    assert select.choose(layer, training=True).kernel == "tf-fused"
    report = rnn_zoo.explain(layer)
    assert report[0]["training"] == report[0]["inference"] == "tf-fused"
    assert report[0]["reasons"] == []


def test_explain_lists_each_recurrent_layer_and_why():
    inputs = keras.Input((None, F))
    x = layers.StackedRNN("lstm", units=U, num_layers=2, return_sequences=True)(inputs)
    x = layers.GRU(U, recurrent_dropout=0.25, return_sequences=True)(x)
    x = layers.SimpleRNN(U, activation="sigmoid", return_sequences=True)(x)
    x = layers.LSTM(U, kernel="reference", return_sequences=True)(x)
    outputs = keras.layers.GRU(U)(x)
    report = rnn_zoo.explain(keras.Model(inputs, outputs))
    names = [row["layer"] for row in report]
    assert len(report) == 6, names
    by_type = [(row["type"], row["training"], row["inference"]) for row in report]
    fused = select.FUSED_KERNELS.get(keras.backend.backend(), "reference")
    assert by_type[:2] == [("LSTM", fused, fused)] * 2
    assert by_type[2] == ("GRU", "reference", fused)
    assert "recurrent_dropout=0.25" in report[2]["reasons"][-1]
    assert by_type[3] == ("SimpleRNN", "reference", "reference")
    assert any("activation='sigmoid'" in r for r in report[3]["reasons"])
    assert any("kernel='reference'" in r for r in report[4]["reasons"])
    assert by_type[5] == ("GRU", "keras", "keras")
    text = str(report)
    for name in names:
        assert name in text
    assert f"backend: {keras.backend.backend()}" in text


def test_explain_refuses_non_layers():
    with pytest.raises(TypeError, match="model_or_layer"):
        rnn_zoo.explain("lstm")


@TF_ONLY
def test_strict_kernel_raises_instead_of_falling_back():
    layer = layers.GRU(U, kernel="fused", reset_after=False)
    with pytest.raises(ValueError, match=r"kernel='fused'.*reset_after=False"):
        layer(np.zeros((B, T, F), "float32"))
    strict = layers.LSTM(U, kernel="fused", recurrent_dropout=0.5)
    x = np.ones((B, T, F), "float32")
    assert tuple(strict(x, training=False).shape) == (B, U)  # no dropout: runs fused
    with pytest.raises(ValueError, match="recurrent_dropout=0.5"):
        strict(x, training=True)


def test_kernel_argument_is_checked_and_serialized():
    with pytest.raises(ValueError, match=r"`kernel`.*Received: kernel='cudnn'"):
        layers.LSTM(U, kernel="cudnn")
    layer = layers.GRU(U, kernel="reference")
    clone = layers.GRU.from_config(layer.get_config())
    assert clone.kernel == "reference"
    stack = layers.StackedRNN("lstm", units=U, num_layers=2, kernel="reference")
    stack(np.zeros((B, T, F), "float32"))
    assert {row["training"] for row in rnn_zoo.explain(stack)} == {"reference"}


@TF_ONLY
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_fused_kernel_under_mixed_precision(policy):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, T, F)).astype("float32")
    y = rng.normal(size=(8, U)).astype("float32")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        results = []
        for kernel in ("auto", "reference"):
            keras.utils.set_random_seed(0)
            inputs = keras.Input((T, F))
            model = keras.Model(inputs, layers.LSTM(U, kernel=kernel)(inputs))
            model.compile(optimizer="adam", loss="mse")  # loss scaling with float16
            before = model.predict_on_batch(x)
            model.train_on_batch(x, y)
            results.append((before, model.get_weights()))
    finally:
        keras.config.set_dtype_policy(previous)
    (fast_out, fast_w), (slow_out, slow_w) = results
    assert fast_out.dtype == slow_out.dtype
    np.testing.assert_allclose(
        np.asarray(fast_out, "float32"), np.asarray(slow_out, "float32"), atol=2e-2
    )
    for a, b in zip(fast_w, slow_w):
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(a, b, atol=2e-2)


@TF_ONLY
def test_fused_kernel_trains_under_jit_compile():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(8, T, F)).astype("float32")
    mask_steps = rng.integers(1, T + 1, size=8)
    x[np.arange(T)[None] >= mask_steps[:, None]] = 0.0
    y = rng.normal(size=(8, U)).astype("float32")
    weights = []
    for kernel, jit in (("auto", True), ("reference", False)):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((T, F))
        masked = keras.layers.Masking()(inputs)
        model = keras.Model(inputs, layers.GRU(U, kernel=kernel)(masked))
        model.compile(optimizer="sgd", loss="mse", jit_compile=jit)
        model.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_empty_batch_gives_empty_outputs():
    out, h, c = layers.LSTM(U, return_sequences=True, return_state=True)(
        np.zeros((0, T, F), "float32")
    )
    assert tuple(out.shape) == (0, T, U)
    assert tuple(h.shape) == tuple(c.shape) == (0, U)
