"""The kernel contract: the table, how a cell declares its family, the choice and its fallback.

``rnn_zoo.kernels.KERNELS`` maps names to kernels with one signature;
``select`` chooses from the cell's declaration, the backend, device, dtype
and the mask, falls back to the reference loop where a kernel raises
``KernelUnavailable``, and enforces ``implementation="fused"``;
``rnn_zoo.explain`` reports that same choice. (The numerics of every fast
kernel against the reference loop are in test_kernels.py.)
"""

from __future__ import annotations

import dataclasses
import importlib

import keras
import numpy as np
import pytest
from keras import ops

import rnn_zoo
from rnn_zoo import layers
from rnn_zoo.kernels import (
    KERNELS,
    CellSpec,
    KernelUnavailable,
    register_kernel,
    select,
)
from tests.layers.test_kernels import _emulated_cudnn_rnn_v3

B, T, F, U = 3, 6, 4, 5
LENGTHS = np.array([T, 3, 1])
RIGHT = np.arange(T)[None] < LENGTHS[:, None]
LEFT = RIGHT[:, ::-1].copy()


def _close(a, b):
    np.testing.assert_allclose(
        ops.convert_to_numpy(a), ops.convert_to_numpy(b), atol=1e-5, rtol=1e-5
    )


def _spy(monkeypatch, name):
    """Replaces kernel ``name``'s run with a wrapper that records each call."""
    calls = []
    kernel = KERNELS[name]
    run = kernel.run

    if not callable(run):  # "module:function"
        module, _, attr = run.partition(":")
        run = getattr(importlib.import_module(module), attr)

    def spy(spec, *args, **kwargs):
        calls.append(spec)
        return run(spec, *args, **kwargs)

    monkeypatch.setitem(KERNELS, name, dataclasses.replace(kernel, run=spy))
    return calls


# ------------------------------------------------- what a cell declares


def test_cells_declare_their_family():
    assert layers.LSTMCell(4).fused_spec() == CellSpec.of("lstm")
    assert layers.GRUCell(4).fused_spec().family == "gru"
    relu = layers.SimpleRNNCell(4, activation="relu").fused_spec()
    assert (relu.family, relu.param("activation")) == ("simple", "relu")

    no_fast_path = {
        "reset_after=False": layers.GRUCell(4, reset_after=False),
        "activation='sigmoid'": layers.SimpleRNNCell(4, activation="sigmoid"),
        "recurrent_activation='tanh'": layers.LSTMCell(4, recurrent_activation="tanh"),
    }
    for reason, cell in no_fast_path.items():
        spec = cell.fused_spec()
        assert any(reason in r for r in spec.reasons), spec
        assert layers.RNN(cell).kernel_choice().kernel == "reference"

    dropout = layers.LSTMCell(4, recurrent_dropout=0.3)
    assert dropout.fused_spec(training=False).family == "lstm"
    assert "recurrent_dropout=0.3" in dropout.fused_spec(training=True).reasons[0]


def test_a_cell_that_changes_the_step_or_declares_nothing_runs_the_reference_loop():
    class Peephole(layers.LSTMCell):
        def step(self, projected, states, weights, recurrent_mask=None):
            return super().step(projected, states, weights, recurrent_mask)

    class Plain(layers.RecurrentCell):
        def step(self, projected, states, weights, recurrent_mask=None):
            h = ops.tanh(projected + ops.matmul(states[0], weights["recurrent_kernel"]))
            return h, [h]

    assert "Peephole overrides LSTMCell.step" in Peephole(4).fused_spec().reasons
    assert Plain(4).fused_spec().reasons == ("Plain has no fused kernel",)
    for cell in (Peephole(U), Plain(U)):
        layer = layers.RNN(cell)
        assert layer.kernel_choice().kernel == "reference"
        assert tuple(layer(np.ones((B, T, F), "float32")).shape) == (B, U)


# ----------------------------------------------- the implementation argument


def test_old_kernel_argument_still_loads():
    # Configs written before the rename carry "kernel"; they load, and the
    # layer writes "implementation" from then on.
    config = layers.GRU(U).get_config()
    config.pop("implementation")
    config["kernel"] = "reference"
    layer = layers.GRU.from_config(config)
    assert layer.implementation == "reference"
    assert layer.get_config()["implementation"] == "reference"
    assert "kernel" not in layer.get_config()

    rnn_config = layers.RNN(layers.LSTMCell(U)).get_config()
    rnn_config.pop("implementation")
    rnn_config["kernel"] = "fused"
    assert layers.RNN.from_config(rnn_config).implementation == "fused"

    stack = layers.StackedRNN("lstm", units=U, num_layers=2, kernel="reference")
    assert stack.get_config()["implementation"] == "reference"
    assert "kernel" not in stack.get_config()
    stack(np.zeros((B, T, F), "float32"))
    assert {row["implementation"] for row in rnn_zoo.explain(stack)} == {"reference"}

    with pytest.raises(ValueError, match="old name of `implementation`"):
        layers.LSTM(U, implementation="fused", kernel="reference")


def test_keras_integer_implementations_mean_auto():
    # keras.layers.LSTM(implementation=1 or 2) code runs unchanged.
    for value in (1, 2):
        assert layers.LSTM(U, implementation=value).implementation == "auto"
    for value in (0, 3, True, "cudnn"):
        with pytest.raises(ValueError, match="`implementation`"):
            layers.LSTM(U, implementation=value)


# --------------------------------------------------------- masks and explain


@pytest.mark.parametrize(
    "mask, kind",
    [
        (None, "none"),
        (RIGHT, "right"),
        (LEFT, "other"),
        (RIGHT & (LENGTHS > 1)[:, None], "other"),
    ],
)
def test_mask_kind_reads_an_eager_mask(mask, kind):
    # The last case has a row with no real step: lengths cannot stand for it.
    assert select.mask_kind(mask) == kind
    if mask is not None:
        assert select.mask_kind(ops.convert_to_tensor(mask)) == kind


@pytest.mark.parametrize("mask_name", ["right", "left"])
def test_explain_reports_the_kernel_a_masked_batch_really_runs(monkeypatch, mask_name):
    # Where the fast kernel takes right padding only (PyTorch's packed
    # sequences, cuDNN), a left-padded batch runs the reference loop, and
    # the report says so; where it takes any mask (tf-fused), it runs.
    mask = {"right": RIGHT, "left": LEFT}[mask_name]
    layer = layers.LSTM(U, return_sequences=True)
    x = np.random.default_rng(0).normal(size=(B, T, F)).astype("float32")
    layer(x)
    fast = layer.kernel_choice().kernel
    if fast == "reference":
        pytest.skip(f"{keras.backend.backend()} has no fast kernel here")
    right_only = KERNELS[fast].masks == "right"
    want = "reference" if (right_only and mask_name == "left") else fast

    row = rnn_zoo.explain(layer, mask=mask)[0]
    assert row["training"] == row["inference"] == want
    if want == "reference":
        assert row["mask"] == "other"
        assert any("not right padding" in r for r in row["reasons"]), row

    calls = _spy(monkeypatch, fast)
    reference = layers.LSTM(U, return_sequences=True, implementation="reference")
    reference(x)
    reference.set_weights(layer.get_weights())
    _close(layer(x, mask=mask), reference(x, mask=mask))
    assert len(calls) == (want == fast)


def test_strict_mode_refuses_a_mask_the_kernel_cannot_take():
    layer = layers.LSTM(U, implementation="fused")
    fast = layer.kernel_choice().kernel
    if fast == "reference" or KERNELS[fast].masks != "right":
        pytest.skip("no fast kernel here, or one that takes any mask")
    x = np.ones((B, T, F), "float32")
    layer(x, mask=RIGHT)
    with pytest.raises(ValueError, match="implementation='fused'.*not right padding"):
        layer(x, mask=LEFT)


@pytest.fixture
def emulated_gpu(monkeypatch):
    """TensorFlow with a GPU as rnn_zoo sees it, cuDNN's op emulated on the CPU."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the cuDNN op is TensorFlow's")
    from rnn_zoo.kernels import cudnn

    calls = []
    monkeypatch.setattr(select, "current_device", lambda: "GPU")
    monkeypatch.setattr(cudnn, "_cudnn_rnn_v3", _emulated_cudnn_rnn_v3(calls))
    return calls


def test_explain_on_a_gpu_reports_reference_for_left_padding(emulated_gpu):
    layer = layers.GRU(U)
    x = np.ones((B, T, F), "float32")
    layer(x)
    assert rnn_zoo.explain(layer, mask=RIGHT)[0]["training"] == "tf-cudnn"
    assert rnn_zoo.explain(layer, mask=LEFT)[0]["training"] == "reference"
    emulated_gpu.clear()
    layer(x, mask=LEFT)
    assert emulated_gpu == []  # cuDNN did not run
    layer(x, mask=RIGHT)
    assert emulated_gpu == ["gru"]


def test_strict_mode_in_a_graph_asserts_right_padding(emulated_gpu):
    # In a graph the mask is only known at run time: a strict layer checks it
    # there instead of falling back.
    import tensorflow as tf

    layer = layers.LSTM(U, implementation="fused")
    x = np.ones((B, T, F), "float32")
    layer(x)

    @tf.function(autograph=False)
    def call(x, mask):
        assert layer.kernel_choice(mask=mask).mask == select.GRAPH
        return layer(x, mask=mask)

    call(x, RIGHT)
    with pytest.raises(ValueError, match="not right padding"):
        layer(x, mask=LEFT)  # eagerly the mask is read before anything runs
    with pytest.raises(tf.errors.InvalidArgumentError, match="not right padding"):
        call(x, LEFT)


# ----------------------------------------------------- registering a kernel


class _Elman(layers.RecurrentCell):
    """A cell of a family no built-in kernel runs."""

    fused_family = "test-elman"

    def step(self, projected, states, weights, recurrent_mask=None):
        h = ops.tanh(projected + ops.matmul(states[0], weights["recurrent_kernel"]))
        return h, [h]


def _elman_kernel(calls):
    def run(spec, sequences, initial_state, weights, mask, *, training):
        calls.append(spec)
        if mask is not None:
            raise KernelUnavailable("test-elman takes no mask")
        h = initial_state[0]
        xs = ops.matmul(sequences, weights["kernel"]) + weights["bias"]
        outputs = []
        steps = range(T - 1, -1, -1) if spec.go_backwards else range(T)
        for t in steps:
            h = ops.tanh(xs[:, t] + ops.matmul(h, weights["recurrent_kernel"]))
            outputs.append(h)
        seq = ops.stack(outputs, axis=1) if spec.return_sequences else None
        return h, seq, [h]

    return run


@pytest.fixture
def elman_kernel():
    calls = []
    register_kernel(
        "test-elman",
        _elman_kernel(calls),
        families=("test-elman",),
        backend=keras.backend.backend(),
        devices=(select.current_device(),),
        description="a test kernel",
    )
    yield calls
    KERNELS.pop("test-elman")


def test_a_registered_kernel_runs_a_new_family(elman_kernel):
    # One register_kernel call and a cell's fused_family: select, the layer
    # and explain need no edit.
    x = np.random.default_rng(1).normal(size=(B, T, F)).astype("float32")
    fast = layers.RNN(_Elman(U), return_sequences=True, go_backwards=True)
    slow = layers.RNN(
        _Elman(U), return_sequences=True, go_backwards=True, implementation="reference"
    )
    fast(x)
    slow(x)
    slow.set_weights(fast.get_weights())
    assert fast.kernel_choice().kernel == "test-elman"
    assert rnn_zoo.explain(fast)[0]["training"] == "test-elman"
    _close(fast(x), slow(x))
    spec = elman_kernel[-1]
    assert (spec.family, spec.units, spec.go_backwards) == ("test-elman", U, True)


def test_a_kernel_that_raises_falls_back_or_fails_strictly(elman_kernel):
    x = np.random.default_rng(2).normal(size=(B, T, F)).astype("float32")
    fast = layers.RNN(_Elman(U))
    slow = layers.RNN(_Elman(U), implementation="reference")
    fast(x)
    slow(x)
    slow.set_weights(fast.get_weights())
    elman_kernel.clear()
    _close(fast(x, mask=RIGHT), slow(x, mask=RIGHT))  # the reference loop ran
    assert len(elman_kernel) == 1  # after the kernel said it could not
    strict = layers.RNN(_Elman(U), implementation="fused")
    strict(x)
    with pytest.raises(ValueError, match="test-elman takes no mask"):
        strict(x, mask=RIGHT)


def test_a_kernel_check_refuses_before_it_runs(elman_kernel, monkeypatch):
    def check(spec):
        if spec.dtype != "float64":
            raise KernelUnavailable(f"compute dtype {spec.dtype} (test: float64)")

    kernel = KERNELS["test-elman"]
    monkeypatch.setitem(KERNELS, "test-elman", dataclasses.replace(kernel, check=check))
    layer = layers.RNN(_Elman(U))
    choice = layer.kernel_choice()
    assert (choice.kernel, choice.fused) == ("reference", "test-elman")
    assert choice.reasons == ("compute dtype float32 (test: float64)",)
    layer(np.ones((B, T, F), "float32"))
    assert elman_kernel == []


def test_register_kernel_keeps_the_reference_name():
    with pytest.raises(ValueError, match="reference"):
        register_kernel("reference", _elman_kernel([]), families=("x",), backend="jax")
