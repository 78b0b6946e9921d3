"""Which kernel runs a recurrent layer, and why not a faster one.

A sequence layer (:class:`rnn_zoo.layers.RNN` and its ``LSTM``/``GRU``/
``SimpleRNN``) takes ``kernel="auto" | "fused" | "reference"``:

- ``"auto"`` (default): the fastest kernel that computes exactly what the
  layer asks for on the current backend and device, else the reference loop;
- ``"fused"``: the fast kernel or an error that says why it cannot run
  (strict mode: never a silent fallback);
- ``"reference"``: the plain ``keras.ops`` loop every fast path is tested
  against.

:func:`choose` makes the decision; :func:`rnn_zoo.explain` reports it for a
whole model.
"""

from __future__ import annotations

import dataclasses

import keras

KERNEL_MODES = ("auto", "fused", "reference")

# The fast kernels, in words, for the report and the docs.
DESCRIPTIONS = {
    "tf-fused": "TensorFlow fused sequence op: XLA-compiled forward and backward "
    "loops, weight gradients as one product after the loop",
    "tf-cudnn": "cuDNN through TensorFlow's CudnnRNNV3 op (GPU); a mask that is "
    "not right padding runs the reference loop, chosen in the graph",
    "torch-fused": "PyTorch's own sequence op (torch.lstm/gru/rnn_tanh/rnn_relu, "
    "as torch.nn.LSTM runs it); right-padded masks as packed sequences; other "
    "masks, and go_backwards with a mask, run the reference loop",
    "torch-cudnn": "torch-fused on a CUDA device, where PyTorch runs it with cuDNN",
    "reference": "keras.ops loop (lax.scan on JAX, a while loop on TensorFlow, a "
    "Python loop on torch) with the input projection hoisted",
}
# What each backend's fast kernel is on a CPU, by backend.
FUSED_KERNELS = {
    "tensorflow": "tf-fused",
    "torch": "torch-fused",
}


def current_device() -> str:
    """``"GPU"`` where the backend computes on one, else ``"CPU"`` (or JAX's platform)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    if backend == "jax":
        import jax

        return jax.devices()[0].platform.upper()
    if backend == "torch":
        import torch

        return "GPU" if torch.cuda.is_available() else "CPU"
    return "CPU"


def fast_kernel(backend: str, device: str, kind: str, dtype: str):
    """The fastest kernel for a fusable cell ``kind`` at ``dtype``, and why not a faster one.

    Returns ``(kernel or None, reasons)``.
    """
    if backend == "tensorflow":
        if device != "GPU":
            return "tf-fused", []
        if dtype in ("float32", "float16"):
            return "tf-cudnn", []
        return "tf-fused", [f"compute dtype {dtype} (cuDNN: float32 or float16)"]
    if backend == "torch":
        return ("torch-cudnn" if device == "GPU" else "torch-fused"), []
    if backend == "jax":
        if device != "GPU":
            return None, [
                "JAX has no fused op on CPU: the reference lax.scan with the "
                "input projection hoisted is its fastest path"
            ]
        return None, [
            "jax.experimental.rnn's cuDNN LSTM is not used: its lowering leaves "
            "the layout of its outputs to XLA, which read them transposed "
            "inside a lax.cond (an H100, jax 0.11.2); the reference lax.scan "
            "runs"
        ]
    return None, [f"the {backend} backend has no fused kernel"]


@dataclasses.dataclass(frozen=True)
class KernelChoice:
    """The kernel a layer runs and why no faster one was chosen.

    Attributes:
        kernel: a key of :data:`DESCRIPTIONS`: ``"tf-fused"``, ``"tf-cudnn"``,
            ``"torch-fused"``, ``"torch-cudnn"`` or ``"reference"``.
        fused: the fastest kernel the backend and device have for the cell,
            or None.
        reasons: why ``fused`` was not chosen; when it was, why no faster
            kernel (cuDNN) was (usually empty).
    """

    kernel: str
    fused: str | None
    reasons: tuple[str, ...]


def fused_kind(cell) -> tuple[str | None, list[str]]:
    """The fused kernel family that computes ``cell``'s step exactly, or why none does."""
    from rnn_zoo.layers.gru import GRUCell
    from rnn_zoo.layers.lstm import LSTMCell
    from rnn_zoo.layers.simple_rnn import SimpleRNNCell

    def name(fn):
        return keras.activations.serialize(fn)

    reasons = []
    families = ((LSTMCell, "lstm"), (GRUCell, "gru"), (SimpleRNNCell, "simple"))
    found = [(base, kind) for base, kind in families if isinstance(cell, base)]
    if not found:
        return None, [f"{type(cell).__name__} has no fused kernel"]
    base, kind = found[0]
    if type(cell).step is not base.step:
        reasons.append(f"{type(cell).__name__} overrides {base.__name__}.step")
    if kind == "simple":
        if name(cell.activation) not in ("tanh", "relu"):
            reasons.append(
                f"activation={name(cell.activation)!r} (fused: 'tanh' or 'relu')"
            )
        kind = f"simple_{name(cell.activation)}"
    else:
        if name(cell.activation) != "tanh":
            reasons.append(f"activation={name(cell.activation)!r} (fused: 'tanh')")
        if name(cell.recurrent_activation) != "sigmoid":
            reasons.append(
                f"recurrent_activation={name(cell.recurrent_activation)!r} "
                "(fused: 'sigmoid')"
            )
    if kind == "gru" and not cell.reset_after:
        reasons.append("reset_after=False (fused: the reset_after=True GRU)")
    return (None if reasons else kind), reasons


def _in_xla_function() -> bool:
    """Whether TensorFlow is tracing an XLA-compiled function (``jit_compile=True``)."""
    try:
        import tensorflow as tf
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - TensorFlow without its private modules
        return False
    graph = tf.compat.v1.get_default_graph()
    return bool(control_flow_util.GraphOrParentsInXlaContext(graph))


def choose(layer, training: bool = True) -> KernelChoice:
    """The kernel ``layer`` runs on the current backend and device, in training or inference."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if torch.compiler.is_compiling():
            # Dynamo traces the keras.ops loop; it cannot trace this choice.
            return KernelChoice(
                "reference", FUSED_KERNELS["torch"], ("inside torch.compile",)
            )
    kind, reasons = fused_kind(layer.cell)
    dtype = keras.backend.standardize_dtype(layer.compute_dtype)
    if kind is None:
        fused, device_reasons = FUSED_KERNELS.get(backend), []
    else:
        fused, device_reasons = fast_kernel(backend, current_device(), kind, dtype)
    if fused == "tf-cudnn" and _in_xla_function():
        fused = "tf-fused"
        device_reasons = [
            "inside an XLA-compiled function: cuDNN's op does not compile"
        ]
    if fused is None:
        reasons = device_reasons + reasons
    if getattr(layer, "kernel", "auto") == "reference":
        reasons.append("kernel='reference' was asked for")
    if training and layer.cell.recurrent_dropout > 0:
        reasons.append(
            f"recurrent_dropout={layer.cell.recurrent_dropout} (in training; "
            "the fused kernels have no recurrent dropout)"
        )
    if reasons or fused is None:
        return KernelChoice("reference", fused, tuple(reasons))
    return KernelChoice(fused, fused, tuple(device_reasons))


def check_strict(layer, choice: KernelChoice) -> None:
    """Raises when a layer built with ``kernel="fused"`` would fall back."""
    if getattr(layer, "kernel", "auto") == "fused" and choice.kernel == "reference":
        raise ValueError(
            f"Layer '{layer.name}' was built with kernel='fused', but the fused "
            f"kernel cannot run it: {'; '.join(choice.reasons)}. Use kernel='auto' "
            "to fall back to the reference loop."
        )
