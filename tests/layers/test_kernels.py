"""The fast kernels compute what the reference loop computes: outputs, states and gradients.

Each case builds one layer with ``implementation="auto"`` (the fused kernel
where the backend has one) and a copy with ``implementation="reference"`` and
the same weights,
then compares them on the same batch, masks of every pattern included.
Also: the kernel table and its contract (``rnn_zoo.kernels``), the kernel
report (``rnn_zoo.explain``), strict mode, serialization, mixed precision and
XLA.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import rnn_zoo
from rnn_zoo import layers
from rnn_zoo.kernels import CellSpec, layout, select

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


CUDNN_MODE = {
    "lstm": "lstm",
    "gru": "gru",
    "simple_tanh": "rnn_tanh",
    "simple_relu": "rnn_relu",
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
    fast = CELLS[cell](implementation="auto", **kwargs)
    slow = CELLS[cell](implementation="reference", **kwargs)
    fast.build((B, T, F))
    slow.build((B, T, F))
    rng = np.random.default_rng(1)
    # Larger recurrent weights than the initializers give, so that every
    # gate saturates somewhere and the relu cell both grows and clips.
    slow.set_weights(
        [rng.normal(scale=0.6, size=w.shape).astype("float32") for w in fast.weights]
    )
    fast.set_weights(slow.get_weights())
    return fast, slow


ON_GPU = select.current_device() == "GPU"


@pytest.fixture(autouse=True)
def full_float32_matmuls():
    """On a GPU, float32 products in full precision (no TF32), so that cuDNN and
    the reference loop agree to 1e-5 as they do on a CPU."""
    if not ON_GPU:
        yield
        return
    backend = keras.backend.backend()
    if backend == "jax":
        yield  # JAX runs the reference loop on every device
    elif backend == "torch":
        import torch

        before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = (
                before
            )
    else:
        import tensorflow as tf

        before = tf.config.experimental.tensor_float_32_execution_enabled()
        tf.config.experimental.enable_tensor_float_32_execution(False)
        try:
            yield
        finally:
            tf.config.experimental.enable_tensor_float_32_execution(before)


@pytest.fixture
def small_chunks(monkeypatch):
    """Three steps per chunk on TensorFlow, so that T=7 spans two full chunks
    and one padded with two steps (by default: a chunk of 4 and one padded
    with one)."""
    if keras.backend.backend() == "tensorflow":
        from rnn_zoo.kernels import fused_tf

        monkeypatch.setattr(fused_tf, "MAX_CHUNK", 3)
        monkeypatch.setattr(fused_tf, "MIN_CHUNK", 3)


def _skip_without_a_fast_kernel(layer, mask):
    """Skips a comparison of the reference loop with itself: on a backend (or
    for a mask) where ``implementation="auto"`` picks the reference loop in
    both modes, the two layers run the same code and the test cannot fail."""
    choices = [layer.kernel_choice(training=t, mask=mask).kernel for t in (False, True)]
    if set(choices) == {"reference"}:
        pytest.skip(
            f"no fast kernel on {keras.backend.backend()} for this case "
            "(auto runs the reference loop)"
        )


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
    _skip_without_a_fast_kernel(fast, mask)
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
    _skip_without_a_fast_kernel(fast, mask)
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

    # On the layer's device (a GPU where there is one), as Keras puts it.
    x = keras.ops.convert_to_tensor(x).requires_grad_(True)
    h0 = [keras.ops.convert_to_tensor(h).requires_grad_(True) for h in h0]
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
    _skip_without_a_fast_kernel(fast, mask)
    h0 = [rng.normal(size=(B, U)).astype("float32") for _ in fast.state_size]
    # Every output and state feeds the loss with its own weights.
    probes = [rng.normal(size=(U,)).astype("float32") for _ in range(3)]
    want = _gradients(slow, x, h0, mask, probes, True)
    # On TensorFlow, training=False saves nothing in the forward loop and
    # recomputes for the backward pass: the same gradients either way.
    # cuDNN's vanilla-RNN backward on an H100 (torch 2.11, cuDNN 9.19) gave
    # input gradients 2e-4 off in relative terms, without TF32; its LSTM and
    # GRU stay within 1e-5.
    tol = 3e-4 if ON_GPU and cell.startswith("simple") else 1e-5
    for training in (True, False):
        for g, w in zip(_gradients(fast, x, h0, mask, probes, training), want):
            _close(g, w, tol)


@TF_ONLY
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fused_kernel_is_the_default_on_tensorflow(cell):
    layer = CELLS[cell]()
    assert layer.kernel_choice(training=True).kernel == "tf-fused"
    report = rnn_zoo.explain(layer)
    assert report[0]["training"] == report[0]["inference"] == "tf-fused"
    assert report[0]["reasons"] == []


def test_cudnn_weights_are_in_torch_nn_layout():
    # cuDNN's flat weight vector is torch.nn's parameters, flattened in
    # order: checked against rnn_zoo's own converter to torch.nn, per cell.
    torch = pytest.importorskip("torch")
    from rnn_zoo.layers import convert

    modules = {"lstm": "LSTM", "gru": "GRU", "simple_tanh": "RNN", "simple_relu": "RNN"}
    for cell in sorted(CELLS):
        layer, _ = _pair(cell)
        state = convert.to_torch_state_dict(layer)
        names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
        want = np.concatenate([np.asarray(state[n]).reshape(-1) for n in names])
        weights = layer.cell.step_weights("float32")
        got = keras.ops.convert_to_numpy(layout.flat_params(cell, weights, U))
        assert got.shape == (layout.num_params(cell, F, U),)
        np.testing.assert_array_equal(got, want)
        module = getattr(torch.nn, modules[cell])(F, U, batch_first=True)
        assert sum(p.numel() for p in module.parameters()) == got.size


@pytest.mark.parametrize(
    "kind, ok", [("right", True), ("none", True), ("left", False), ("holes", False)]
)
def test_cudnn_takes_right_padding_only(kind, ok):
    mask = _mask(kind, np.random.default_rng(0))
    if mask is None:
        mask = np.ones((B, T), bool)
    lengths, right = layout.right_padded_lengths(keras.ops.convert_to_tensor(mask))
    assert bool(keras.ops.convert_to_numpy(right)) is ok
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(lengths), mask.sum(1))
    empty_row = np.arange(T)[None] < np.array([[T], [0], [2]])
    _, right = layout.right_padded_lengths(keras.ops.convert_to_tensor(empty_row))
    assert not bool(keras.ops.convert_to_numpy(right))


def _emulated_cudnn_rnn_v3(calls):
    """``CudnnRNNV3``'s documented contract in TensorFlow ops, for a CPU.

    Written from cuDNN's formulas, not from rnn_zoo's cells: time-major
    input, one layer, the canonical flat weights (``W_ih``, ``W_hh``, ``b_ih``,
    ``b_hh``; gates ``i, f, g, o`` or ``r, z, n``), zero outputs past each
    sequence's length and the states of its last real step.
    """
    import tensorflow as tf

    def op(input, input_h, input_c, params, sequence_lengths, rnn_mode, **kwargs):
        assert kwargs["time_major"] and kwargs["direction"] == "unidirectional"
        calls.append(rnn_mode)
        steps, _, features = input.shape
        units = input_h.shape[-1]
        gates = {"lstm": 4, "gru": 3}.get(rnn_mode, 1)
        sizes = [gates * units * features, gates * units * units, gates * units]
        w_ih, w_hh, b_ih, b_hh = tf.split(params, sizes + [gates * units])
        w_ih = tf.reshape(w_ih, (gates * units, features))
        w_hh = tf.reshape(w_hh, (gates * units, units))
        h, c = input_h[0], input_c[0] if rnn_mode == "lstm" else None
        outputs = []
        for t in range(steps):
            xw = tf.matmul(input[t], w_ih, transpose_b=True) + b_ih
            hw = tf.matmul(h, w_hh, transpose_b=True) + b_hh
            if rnn_mode == "lstm":
                i, f, g, o = tf.split(xw + hw, 4, axis=-1)
                c_new = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
                h_new = tf.sigmoid(o) * tf.tanh(c_new)
            elif rnn_mode == "gru":
                xr, xz, xn = tf.split(xw, 3, axis=-1)
                hr, hz, hn = tf.split(hw, 3, axis=-1)
                r, z = tf.sigmoid(xr + hr), tf.sigmoid(xz + hz)
                n = tf.tanh(xn + r * hn)
                h_new = (1 - z) * n + z * h
            else:
                act = tf.tanh if rnn_mode == "rnn_tanh" else tf.nn.relu
                h_new = act(xw + hw)
            real = (t < sequence_lengths)[:, None]
            h = tf.where(real, h_new, h)
            if c is not None:
                c = tf.where(real, c_new, c)
            outputs.append(tf.where(real, h_new, tf.zeros_like(h_new)))
        c_out = c[None] if c is not None else input_c
        return tf.stack(outputs), h[None], c_out, tf.zeros(()), tf.zeros(())

    return op


@pytest.fixture
def emulated_gpu(monkeypatch):
    """rnn_zoo sees a GPU and runs its cuDNN path with the op emulated on the CPU;
    yields the list of the op's calls (one RNN mode per call)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the cuDNN op is TensorFlow's")
    from rnn_zoo.kernels import cudnn

    calls = []
    monkeypatch.setattr(select, "current_device", lambda: "GPU")
    monkeypatch.setattr(cudnn, "_cudnn_rnn_v3", _emulated_cudnn_rnn_v3(calls))
    yield calls


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask_kind", ["none", "right", "left", "holes"])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_tf_cudnn_path_matches_reference(cell, mask_kind, go_backwards, emulated_gpu):
    # The real op needs TensorFlow's GPU build (test_cudnn_is_chosen_on_a_gpu
    # and the matrices above run it there). Here its contract is emulated:
    # the weight layout, masks as lengths, go_backwards and the fallback
    # for masks that are not right padding are rnn_zoo's and are checked.
    rng = np.random.default_rng(5)
    fast, slow = _pair(
        cell,
        return_sequences=True,
        return_state=True,
        go_backwards=go_backwards,
        zero_output_for_mask=mask_kind == "holes",
    )
    assert fast.kernel_choice().kernel == "tf-cudnn"
    assert fast.supports_jit is False  # compile(jit_compile="auto") keeps XLA off
    x = rng.normal(size=(B, T, F)).astype("float32")
    mask = _mask(mask_kind, rng)
    h0 = [rng.normal(size=(B, U)).astype("float32") for _ in fast.state_size]
    emulated_gpu.clear()
    for got, want in zip(
        fast(x, initial_state=h0, mask=mask), slow(x, initial_state=h0, mask=mask)
    ):
        _close(got, want)
    # Eagerly tf.cond runs one branch: cuDNN for right padding, else the
    # reference loop.
    mode = CUDNN_MODE[cell]
    assert emulated_gpu == ([mode] if mask_kind in ("none", "right") else [])
    probes = [rng.normal(size=(U,)).astype("float32") for _ in range(3)]
    want = _gradients(slow, x, h0, mask, probes, True)
    for g, w in zip(_gradients(fast, x, h0, mask, probes, True), want):
        _close(g, w)


def test_tf_cudnn_path_in_a_compiled_model(emulated_gpu):
    # In a tf.function both branches of the mask's tf.cond are traced; a
    # left-padded batch takes the reference loop at run time.
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, T, F)).astype("float32")
    y = rng.normal(size=(4, U)).astype("float32")
    masks = [np.arange(T)[None] < np.array([[T], [3], [5], [1]])]
    masks.append(masks[0][:, ::-1].copy())  # left padding
    weights = []
    for implementation in ("auto", "reference"):
        keras.utils.set_random_seed(0)
        sequences = keras.Input((T, F))
        mask = keras.Input((T,), dtype="bool")
        out = layers.LSTM(U, implementation=implementation)(sequences, mask=mask)
        model = keras.Model([sequences, mask], out)
        model.compile(optimizer="sgd", loss="mse")
        assert model.jit_compile is False
        for m in masks:
            model.train_on_batch([x, m], y)
        weights.append(model.get_weights())
    assert "lstm" in emulated_gpu  # traced into the training graph
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_tf_cudnn_steps_aside_under_xla(emulated_gpu):
    # cuDNN's op does not compile with XLA. compile(jit_compile=True) on a
    # model with a cuDNN layer proceeds without XLA (Keras warns: the layer
    # has supports_jit=False, as keras.layers.LSTM on a GPU); inside a
    # user's own XLA function the layer runs tf-fused, and says why.
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, T, F)).astype("float32")
    y = rng.normal(size=(4, U)).astype("float32")
    sequences = keras.Input((T, F))
    layer = layers.GRU(U)
    model = keras.Model(sequences, layer(sequences))
    with pytest.warns(UserWarning, match="jit_compile"):
        model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    assert model.jit_compile is False
    emulated_gpu.clear()
    model.train_on_batch(x, y)
    assert emulated_gpu == ["gru"]
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def choice():
        picked = layer.kernel_choice(training=True)
        assert picked.kernel == "tf-fused"
        assert "XLA" in picked.reasons[0]
        return tf.constant(0)

    choice()


@pytest.mark.skipif(not ON_GPU, reason="cuDNN needs a GPU")
def test_cudnn_is_chosen_on_a_gpu():
    backend = keras.backend.backend()
    want = {"jax": "reference", "torch": "torch-cudnn", "tensorflow": "tf-cudnn"}
    for cell in ("lstm", "gru"):
        layer = CELLS[cell]()
        assert layer.kernel_choice(training=True).kernel == want[backend]
        report = rnn_zoo.explain(layer)[0]
        assert report["device"] == "GPU"
        assert report["training"] == report["inference"] == want[backend]
    if backend == "jax":
        assert "jax.experimental.rnn" in report["reasons"][0]
    if backend == "tensorflow":
        bf16 = CELLS["lstm"](dtype="mixed_bfloat16").kernel_choice(training=True)
        assert bf16.kernel == "tf-fused"
        assert any("bfloat16" in r for r in bf16.reasons), bf16


def test_explain_lists_each_recurrent_layer_and_why():
    inputs = keras.Input((None, F))
    x = layers.StackedRNN("lstm", units=U, num_layers=2, return_sequences=True)(inputs)
    x = layers.GRU(U, recurrent_dropout=0.25, return_sequences=True)(x)
    x = layers.SimpleRNN(U, activation="sigmoid", return_sequences=True)(x)
    x = layers.LSTM(U, implementation="reference", return_sequences=True)(x)
    outputs = keras.layers.GRU(U)(x)
    report = rnn_zoo.explain(keras.Model(inputs, outputs))
    names = [row["layer"] for row in report]
    assert len(report) == 6, names
    by_type = [(row["type"], row["training"], row["inference"]) for row in report]

    def fast(family):
        return select.choose(CellSpec.of(family), units=U).kernel

    assert by_type[:2] == [("LSTM", fast("lstm"), fast("lstm"))] * 2
    assert by_type[2] == ("GRU", "reference", fast("gru"))
    assert "recurrent_dropout=0.25" in report[2]["reasons"][-1]
    assert by_type[3] == ("SimpleRNN", "reference", "reference")
    assert any("activation='sigmoid'" in r for r in report[3]["reasons"])
    assert any("implementation='reference'" in r for r in report[4]["reasons"])
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
    layer = layers.GRU(U, implementation="fused", reset_after=False)
    with pytest.raises(ValueError, match=r"implementation='fused'.*reset_after=False"):
        layer(np.zeros((B, T, F), "float32"))
    strict = layers.LSTM(U, implementation="fused", recurrent_dropout=0.5)
    x = np.ones((B, T, F), "float32")
    assert tuple(strict(x, training=False).shape) == (B, U)  # no dropout: runs fused
    with pytest.raises(ValueError, match="recurrent_dropout=0.5"):
        strict(x, training=True)


def test_implementation_argument_is_checked_and_serialized():
    with pytest.raises(
        ValueError, match=r"`implementation`.*Received: implementation='cudnn'"
    ):
        layers.LSTM(U, implementation="cudnn")
    layer = layers.GRU(U, implementation="reference")
    config = layer.get_config()
    assert config["implementation"] == "reference" and "kernel" not in config
    clone = layers.GRU.from_config(config)
    assert clone.implementation == "reference"
    stack = layers.StackedRNN("lstm", units=U, num_layers=2, implementation="reference")
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
        for implementation in ("auto", "reference"):
            keras.utils.set_random_seed(0)
            inputs = keras.Input((T, F))
            lstm = layers.LSTM(U, implementation=implementation)
            model = keras.Model(inputs, lstm(inputs))
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
    for implementation, jit in (("auto", True), ("reference", False)):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((T, F))
        masked = keras.layers.Masking()(inputs)
        gru = layers.GRU(U, implementation=implementation)
        model = keras.Model(inputs, gru(masked))
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
