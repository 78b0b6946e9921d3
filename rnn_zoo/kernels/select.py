"""Which kernel runs a recurrent layer, and why not a faster one; the fallback and strict mode.

A sequence layer (:class:`rnn_zoo.layers.RNN` and its ``LSTM``/``GRU``/
``SimpleRNN``) takes ``implementation="auto" | "fused" | "reference"``:

- ``"auto"`` (default): the fastest kernel of the table
  (:data:`rnn_zoo.kernels.KERNELS`) that computes exactly what the layer asks
  for on the current backend and device, else the reference loop;
- ``"fused"``: the fast kernel or an error that says why it cannot run
  (strict mode: never a silent fallback);
- ``"reference"``: the plain ``keras.ops`` loop every fast path is tested
  against.

Two arguments of ``keras.layers.LSTM``/``GRU`` narrow the choice the same way
as in Keras: ``use_cudnn=False`` rules out the cuDNN kernels (``tf-cudnn``,
``torch-cudnn``), ``use_cudnn=True`` allows only them and raises where none
can run (strict, like ``"fused"``); ``unroll=True`` asks for the reference
loop, unrolled over the (static) timesteps.

The decision, in order:

1. the cell's :class:`~rnn_zoo.kernels.CellSpec` (its family, or why it has
   none, e.g. ``recurrent_dropout`` in training);
2. the kernels of the current backend and device that run the family, by
   priority; the first whose ``check`` accepts the spec (dtype, tracing
   context, ``go_backwards`` with a mask, ...) is chosen, and the refusals of
   the faster ones are the reasons;
3. the mask's pattern, for a kernel that takes right padding only: an eager
   mask is looked at (right padding runs the kernel, any other mask the
   reference loop); in a traced graph the same choice is a ``tf.cond``,
   "decided in the graph". The mask never picks a different fast kernel, so
   a compiled model and an eager call agree.

:func:`choose` makes the decision and :func:`run` carries it out, falling
back to the reference loop where a kernel raises
:class:`~rnn_zoo.kernels.KernelUnavailable`; :func:`rnn_zoo.explain` reports
the same decision for a whole model. Nothing here knows a layer class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import numpy as np
from keras import ops

from rnn_zoo.kernels import KERNELS, CellSpec, KernelSpec, KernelUnavailable
from rnn_zoo.kernels.layout import right_padded_lengths

IMPLEMENTATIONS = ("auto", "fused", "reference")
USE_CUDNN = ("auto", True, False)

# Why a backend has no kernel at all, where that deserves more than a line.
_BACKEND_NOTES = {
    ("jax", "GPU"): "jax.experimental.rnn's cuDNN LSTM is not used: its lowering "
    "leaves the layout of its outputs to XLA, which read them transposed inside "
    "a lax.cond (an H100, jax 0.11.2); the reference lax.scan runs",
    ("jax", None): "JAX has no fused op on CPU: the reference lax.scan with the "
    "input projection hoisted is its fastest path",
}

GRAPH = "decided in the graph"


def check_implementation(value, name: str = "implementation") -> str:
    """``value`` as one of :data:`IMPLEMENTATIONS`.

    ``keras.layers.LSTM``'s ``implementation`` takes the integers 1 and 2
    (how its generic loop groups the gate products); here they mean
    ``"auto"``, so that code written for Keras's layers runs unchanged.
    """
    if not isinstance(value, bool) and value in (1, 2):
        return "auto"
    if value not in IMPLEMENTATIONS:
        raise ValueError(
            f"Unknown `{name}`: expected one of {list(IMPLEMENTATIONS)!r} (or "
            f"Keras's 1 or 2, meaning 'auto'). Received: {name}={value!r}"
        )
    return value


def check_use_cudnn(value, name: str = "use_cudnn"):
    """``value`` as one of :data:`USE_CUDNN` (``"auto"``, True, False)."""
    if not any(value is v or (isinstance(v, str) and value == v) for v in USE_CUDNN):
        raise ValueError(
            f"Unknown `{name}`: expected 'auto', True or False. "
            f"Received: {name}={value!r}"
        )
    return value


def is_cudnn(kernel: str) -> bool:
    """Whether the kernel named ``kernel`` is one of the cuDNN kernels ``use_cudnn`` governs."""
    return "cudnn" in kernel


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


@dataclasses.dataclass(frozen=True)
class KernelChoice:
    """The kernel a layer runs and why no faster one was chosen.

    Attributes:
        kernel: a name in :data:`rnn_zoo.kernels.KERNELS` (``"tf-fused"``,
            ``"tf-cudnn"``, ``"torch-fused"``, ``"torch-cudnn"``, ...) or
            ``"reference"``.
        fused: the fastest kernel the backend and device have for the cell's
            family, or None.
        reasons: why ``fused`` was not chosen; when it was, why no faster
            kernel was (usually empty).
        mask: what the decision knew of the mask: ``"none"``, ``"right"``,
            ``"other"``, ``"unknown"`` (not looked at: the kernel takes any
            mask) or ``"decided in the graph"``.
        spec: the :class:`~rnn_zoo.kernels.KernelSpec` the kernel runs with.
        implementation: the layer's ``implementation`` argument.
        use_cudnn: the layer's ``use_cudnn`` argument.
    """

    kernel: str
    fused: str | None
    reasons: tuple[str, ...]
    mask: str = "none"
    spec: KernelSpec | None = None
    implementation: str = "auto"
    use_cudnn: bool | str = "auto"

    @property
    def strict(self) -> bool:
        """Whether a fallback to the reference loop is an error."""
        return self.implementation == "fused" or self.use_cudnn is True


def _is_concrete(mask) -> bool:
    """Whether ``mask``'s values can be read now (not a traced or meta tensor)."""
    if isinstance(mask, (np.ndarray, list, tuple)):
        return True
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.executing_eagerly() and not tf.is_symbolic_tensor(mask)
    if backend == "torch":
        return getattr(getattr(mask, "device", None), "type", "meta") != "meta"
    if backend == "jax":
        import jax

        return not isinstance(mask, jax.core.Tracer)
    return False


def mask_kind(mask) -> str:
    """``"none"``, ``"right"`` (right padding, a real step in every row), ``"other"``,
    or ``"unknown"`` where the values are not known yet (a traced graph)."""
    if mask is None:
        return "none"
    if not _is_concrete(mask):
        return "unknown"
    _, ok = right_padded_lengths(ops.convert_to_tensor(mask))
    return "right" if bool(ops.convert_to_numpy(ok)) else "other"


def _candidates(backend: str, device: str, family: str | None) -> list:
    kernels = [
        k
        for k in KERNELS.values()
        if k.backend == backend and device in k.devices and family in k.families
    ]
    return sorted(kernels, key=lambda k: -k.priority)


def _no_kernel_note(backend: str, device: str, family: str) -> str:
    note = _BACKEND_NOTES.get((backend, device)) or _BACKEND_NOTES.get((backend, None))
    return note or f"no {backend} kernel runs the {family} family on {device}"


def _tracing_refusal(backend: str) -> str | None:
    """Why no kernel may run in the current tracing context, if none may."""
    if backend == "torch":
        import torch

        if torch.compiler.is_compiling():
            # Dynamo traces the keras.ops loop; it cannot trace this choice
            # (nor the cell's declaration: Keras's serialization in it).
            return "inside torch.compile"
    return None


def choose(
    cell: CellSpec | Callable[[], CellSpec],
    *,
    units: int,
    go_backwards: bool = False,
    return_sequences: bool = True,
    zero_output_for_mask: bool = False,
    dtype="float32",
    mask=None,
    implementation: str = "auto",
    use_cudnn: bool | str = "auto",
    unroll: bool = False,
) -> KernelChoice:
    """The kernel a layer with cell ``cell`` runs on the current backend and device.

    Args:
        cell: what the cell declares (``RecurrentCell.fused_spec(training)``),
            or a function that returns it, called only where a kernel may
            run at all (not while ``torch.compile`` traces).
        units, go_backwards, return_sequences, zero_output_for_mask: the
            layer's.
        dtype: the layer's compute dtype.
        mask: the call's mask (a tensor or array), or None; looked at only
            where the kernel takes right padding only.
        implementation: the layer's ``implementation``.
        use_cudnn: ``"auto"``, or False to rule out the cuDNN kernels, or
            True to allow only them (strict).
        unroll: the layer runs the reference loop unrolled.
    """
    backend = keras.backend.backend()
    refusal = _tracing_refusal(backend)
    implementation = check_implementation(implementation)
    use_cudnn = check_use_cudnn(use_cudnn)
    if refusal is not None:
        mask_seen = "none" if mask is None else "unknown"
        return KernelChoice(
            "reference", None, (refusal,), mask_seen, None, implementation, use_cudnn
        )
    if callable(cell):
        cell = cell()
    device = current_device()
    spec = KernelSpec(
        family=cell.family or "",
        params=cell.params,
        units=int(units),
        go_backwards=bool(go_backwards),
        return_sequences=bool(return_sequences),
        zero_output_for_mask=bool(zero_output_for_mask),
        mask="none" if mask is None else "unknown",
        dtype=keras.backend.standardize_dtype(dtype),
        backend=backend,
        device=device,
    )

    def fallback(fused, reasons, mask="none" if mask is None else "unknown"):
        return KernelChoice(
            "reference", fused, tuple(reasons), mask, spec, implementation, use_cudnn
        )

    candidates = _candidates(backend, device, cell.family)
    fused = candidates[0].name if candidates else None
    reasons = list(cell.reasons)
    if cell.family is not None and not candidates:
        reasons.insert(0, _no_kernel_note(backend, device, cell.family))
    if implementation == "reference":
        reasons.append("implementation='reference' was asked for")
    if unroll:
        reasons.append("unroll=True was asked for (the reference loop, unrolled)")
    refused = []
    if use_cudnn is False:
        refused += [
            f"use_cudnn=False rules out {k.name}"
            for k in candidates
            if is_cudnn(k.name)
        ]
        candidates = [k for k in candidates if not is_cudnn(k.name)]
    elif use_cudnn is True:
        candidates = [k for k in candidates if is_cudnn(k.name)]
        if cell.family is not None and not candidates:
            reasons.append(
                f"use_cudnn=True, but no cuDNN kernel runs on {backend} {device}"
            )
    if reasons or cell.family is None:
        return fallback(fused, reasons)

    kernel = None
    for candidate in candidates:
        try:
            candidate.refuse(spec)
        except KernelUnavailable as exc:
            refused.append(str(exc))
        else:
            kernel = candidate
            break
    if kernel is None:
        return fallback(fused, refused)

    if kernel.masks == "right" and mask is not None:
        kind = mask_kind(mask)
        if kind == "other":
            refused.append(
                "a mask that is not right padding with a real step in every row "
                f"({kernel.name} takes sequence lengths)"
            )
            return fallback(fused, refused, kind)
        if kind == "unknown":
            refused.append(
                f"{GRAPH}: a right-padded mask runs {kernel.name}, any other "
                "mask the reference loop"
            )
            kind = GRAPH
        spec = dataclasses.replace(spec, mask=kind)
    return KernelChoice(
        kernel.name, fused, tuple(refused), spec.mask, spec, implementation, use_cudnn
    )


def compiles_with_xla(choice: KernelChoice) -> bool:
    """Whether the chosen kernel runs inside an XLA-compiled function."""
    return choice.kernel == "reference" or KERNELS[choice.kernel].compiles_with_xla


def _strict_error(name: str, reasons, choice: KernelChoice | None = None) -> ValueError:
    if choice is not None and choice.use_cudnn is True:
        return ValueError(
            f"Layer '{name}' was built with use_cudnn=True, but cuDNN cannot "
            f"run it: {'; '.join(reasons)}. Use use_cudnn='auto' to fall back "
            "to a non-cuDNN kernel."
        )
    return ValueError(
        f"Layer '{name}' was built with implementation='fused', but the fused "
        f"kernel cannot run it: {'; '.join(reasons)}. Use implementation='auto' "
        "to fall back to the reference loop."
    )


def run(
    choice: KernelChoice,
    sequences,
    initial_state,
    weights: dict,
    mask,
    *,
    training: bool,
    reference: Callable,
    name: str = "rnn",
):
    """Runs ``choice``'s kernel; ``reference()`` where it cannot run.

    ``reference()`` runs the layer's reference loop and returns what a kernel
    does, ``(last_output, outputs or None, final_states)``. With
    ``implementation="fused"`` a fallback raises a ``ValueError`` instead
    (in a graph, where the mask decides, an assertion fails at run time);
    so does ``use_cudnn=True``.
    """
    strict = choice.strict
    if choice.kernel == "reference":
        if strict:
            raise _strict_error(name, choice.reasons, choice)
        return reference()
    if sequences.shape[0] == 0:
        return reference()  # nothing to compute; not every op takes an empty batch
    kernel = KERNELS[choice.kernel]

    def fast():
        return kernel(
            choice.spec, sequences, initial_state, weights, mask, training=training
        )

    if choice.mask == GRAPH and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        _, ok = right_padded_lengths(mask)
        if not strict:
            return tf.cond(ok, fast, reference)
        message = str(
            _strict_error(
                name, [f"the mask is not right padding ({kernel.name})"], choice
            )
        )
        with tf.control_dependencies([tf.debugging.Assert(ok, [message])]):
            return fast()
    try:
        return fast()
    except KernelUnavailable as exc:
        if strict:
            raise _strict_error(name, [str(exc)], choice) from exc
        return reference()
