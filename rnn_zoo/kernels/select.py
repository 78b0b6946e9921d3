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

# What each backend's fast kernel is, in words, for the report.
FUSED_KERNELS = {
    "tensorflow": "tf-fused",
    "torch": "torch-fused",
}
DESCRIPTIONS = {
    "tf-fused": "TensorFlow fused sequence op: XLA-compiled forward and backward "
    "loops, weight gradients as one product after the loop",
    "torch-fused": "PyTorch's own sequence op (torch.lstm/gru/rnn_tanh/rnn_relu, "
    "as torch.nn.LSTM runs it); right-padded masks as packed sequences; other "
    "masks, and go_backwards with a mask, run the reference loop",
    "reference": "keras.ops loop (lax.scan on JAX, a while loop on TensorFlow, a "
    "Python loop on torch) with the input projection hoisted",
}


@dataclasses.dataclass(frozen=True)
class KernelChoice:
    """The kernel a layer runs and why no faster one was chosen.

    Attributes:
        kernel: ``"tf-fused"``, ``"torch-fused"`` or ``"reference"``.
        fused: the fused kernel's name this backend has, or None.
        reasons: why ``fused`` was not chosen (empty when it was).
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


def choose(layer, training: bool = True) -> KernelChoice:
    """The kernel ``layer`` runs on the current backend, in training or inference."""
    backend = keras.backend.backend()
    fused = FUSED_KERNELS.get(backend)
    if backend == "torch":
        import torch

        if torch.compiler.is_compiling():
            # Dynamo traces the keras.ops loop; it cannot trace this choice.
            return KernelChoice("reference", fused, ("inside torch.compile",))
    reasons: list[str] = []
    if fused is None:
        reasons.append(f"the {backend} backend has no fused kernel yet")
    if getattr(layer, "kernel", "auto") == "reference":
        reasons.append("kernel='reference' was asked for")
    _, cell_reasons = fused_kind(layer.cell)
    reasons += cell_reasons
    if training and layer.cell.recurrent_dropout > 0:
        reasons.append(
            f"recurrent_dropout={layer.cell.recurrent_dropout} (in training; "
            "the fused kernels have no recurrent dropout)"
        )
    if reasons:
        return KernelChoice("reference", fused, tuple(reasons))
    return KernelChoice(fused, fused, ())


def check_strict(layer, choice: KernelChoice) -> None:
    """Raises when a layer built with ``kernel="fused"`` would fall back."""
    if getattr(layer, "kernel", "auto") == "fused" and choice.kernel == "reference":
        raise ValueError(
            f"Layer '{layer.name}' was built with kernel='fused', but the fused "
            f"kernel cannot run it: {'; '.join(choice.reasons)}. Use kernel='auto' "
            "to fall back to the reference loop."
        )
