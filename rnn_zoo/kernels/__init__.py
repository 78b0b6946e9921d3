"""How a recurrent sequence is executed: the kernel table.

The layers in :mod:`rnn_zoo.layers` describe *what* a cell computes; the modules
here decide *how* the time loop runs, from tensors and plain values only (no
module here imports a layer).

- :func:`~rnn_zoo.kernels.reference.run_reference` is the plain ``keras.ops``
  loop that runs any cell's ``step`` on every backend, and that every fast
  kernel is tested against.
- The fast kernels are in :data:`KERNELS`, each a :class:`Kernel` whose
  ``run`` has one signature::

      run(spec, sequences, initial_state, weights, mask, *, training)
          -> (last_output, outputs or None, final_states)

  ``spec`` is a :class:`KernelSpec` (plain values), ``sequences`` is
  ``(batch, timesteps, features)`` with input dropout applied,
  ``initial_state`` the list of ``(batch, units)`` states, ``weights`` the
  cell's weights in Keras's layout (``kernel``, ``recurrent_kernel``,
  ``bias``), ``mask`` a boolean ``(batch, timesteps)`` or None. In training
  ``weights`` may also hold ``"step_noise"``, random numbers the cell draws
  for every step at once, ``(batch, timesteps, n)`` in input order (QRNN's
  zoneout masks, ``RecurrentCell.step_noise``): a kernel applies them as the
  cell's step does, or raises :class:`KernelUnavailable`. A kernel that
  cannot run a case raises :class:`KernelUnavailable`; it never falls back
  itself.
- :mod:`rnn_zoo.kernels.select` picks the kernel, falls back to the
  reference loop and enforces strict mode; nothing else does.

A cell declares the family its step computes with a :class:`CellSpec`
(``RecurrentCell.fused_spec``). The families the built-in kernels run:

- ``"lstm"``: Keras's LSTM with ``tanh``/``sigmoid``; gates ``i, f, g, o``,
  one bias ``(4 * units,)``; states ``[h, c]``.
- ``"gru"``: Keras's ``reset_after=True`` GRU with ``tanh``/``sigmoid``;
  gates ``z, r, h``, bias ``(2, 3 * units)`` (input, recurrent); states ``[h]``.
- ``"simple"``: ``h = activation(x W + b + h W_h)``, parameter
  ``activation`` ``"tanh"`` or ``"relu"``; states ``[h]``.

- ``"mingru"``, ``"minlstm"`` (parameter ``variant``: ``"log"`` or
  ``"linear"``) and ``"rglru"`` (parameters ``c``, ``input_projection``):
  ``h = a * h + b`` with ``a``, ``b`` from the input; states ``[h]``. The
  parallel scan of :mod:`rnn_zoo.kernels.scan` runs them on every backend
  (``tf-scan``, ``jax-scan``, ``torch-scan``).
- ``"sru"`` (parameters ``activation``, ``highway_projection``,
  ``highway_scale``), ``"indrnn"`` (``activation`` ``"relu"`` or ``"tanh"``)
  and ``"qrnn"`` (``window``, ``pooling``, ``gates``, ``activation``,
  ``recurrent_activation``): elementwise recurrences without a per-step
  matrix product, run on TensorFlow by ``tf-elementwise``
  (:mod:`rnn_zoo.kernels.elementwise_tf`).

A new kernel (say a parallel scan for a new linear-recurrence family) is one
:func:`register_kernel` call; ``select`` needs no edit.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from rnn_zoo.kernels.reference import run_reference


class KernelUnavailable(NotImplementedError):
    """A kernel cannot run this case; the reason is the message.

    :mod:`rnn_zoo.kernels.select` catches it and runs the reference loop, or,
    for a layer built with ``implementation="fused"``, raises a ``ValueError``
    that names the reason.
    """


def _frozen(params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(dict(params).items()))


@dataclasses.dataclass(frozen=True)
class CellSpec:
    """What a cell tells the kernels: the family its step computes, or why none.

    Attributes:
        family: a family name (``"lstm"``, ``"gru"``, ``"simple"``, or a new
            one a registered kernel runs), or None for a cell of no family.
        params: the family's parameters, as sorted ``(name, value)`` pairs of
            plain values (see :meth:`param`).
        reasons: why no kernel can run the cell in this configuration (say
            ``activation="sigmoid"``, or recurrent dropout in training);
            empty when a kernel of ``family`` may run it.
    """

    family: str | None
    params: tuple[tuple[str, Any], ...] = ()
    reasons: tuple[str, ...] = ()

    @classmethod
    def of(cls, family: str, **params) -> CellSpec:
        """A cell whose step computes ``family`` with ``params``."""
        return cls(family, _frozen(params))

    @classmethod
    def unavailable(cls, *reasons: str) -> CellSpec:
        """A cell no kernel runs, and why."""
        return cls(None, (), tuple(reasons))

    def param(self, name: str, default=None):
        return dict(self.params).get(name, default)


@dataclasses.dataclass(frozen=True)
class KernelSpec:
    """Everything but tensors that a kernel needs, as plain values.

    Attributes:
        family, params: from the cell's :class:`CellSpec`.
        units: the cell's state size.
        go_backwards: process the sequence from its last step; the outputs
            come in processing order, as on the reference path.
        return_sequences: return every step's output, else None.
        zero_output_for_mask: zeros at masked steps instead of the previous
            output.
        mask: ``"none"``, ``"right"`` (right padding, every row with a real
            step), ``"other"`` or ``"unknown"`` (a mask whose values are not
            known yet: in a traced graph, or not looked at).
        dtype: the compute dtype, e.g. ``"float32"``.
        backend: Keras's backend name.
        device: ``"CPU"``, ``"GPU"`` (or JAX's platform in capitals).
    """

    family: str
    params: tuple[tuple[str, Any], ...] = ()
    units: int = 0
    go_backwards: bool = False
    return_sequences: bool = True
    zero_output_for_mask: bool = False
    mask: str = "none"
    dtype: str = "float32"
    backend: str = "tensorflow"
    device: str = "CPU"

    def param(self, name: str, default=None):
        return dict(self.params).get(name, default)


def _resolve(target):
    """A callable, or ``"module:function"`` imported on first use (so that
    registering a torch kernel imports no torch on TensorFlow)."""
    if target is None or callable(target):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclasses.dataclass(frozen=True)
class Kernel:
    """One entry of the kernel table.

    Attributes:
        name: the name reports use, e.g. ``"tf-fused"``.
        run: the kernel (see the module docstring), or ``"module:function"``.
        check: ``check(spec)`` raises :class:`KernelUnavailable` for a case
            the kernel cannot run, decided before any tensor is seen (dtype,
            parameters, tracing context), or None; ``"module:function"`` too.
        families: the cell families it runs.
        backend: the Keras backend it runs on.
        devices: the devices it runs on (``"CPU"``, ``"GPU"``, ...).
        masks: ``"any"``, or ``"right"`` when it takes right-padded masks
            only (``select`` then sends any other mask to the reference
            loop, in the graph where the mask is only known there).
        priority: higher runs first where several kernels can.
        compiles_with_xla: False where the op cannot run inside an
            XLA-compiled function (the layer then keeps Keras's
            ``jit_compile="auto"`` off).
        description: one line for reports and docs.
    """

    name: str
    run: Callable | str
    families: tuple[str, ...]
    backend: str
    devices: tuple[str, ...] = ("CPU", "GPU")
    check: Callable | str | None = None
    masks: str = "any"
    priority: int = 0
    compiles_with_xla: bool = True
    description: str = ""

    def __call__(self, spec, sequences, initial_state, weights, mask, *, training):
        return _resolve(self.run)(
            spec, sequences, initial_state, weights, mask, training=training
        )

    def refuse(self, spec: KernelSpec) -> None:
        """Raises :class:`KernelUnavailable` when the kernel cannot run ``spec``."""
        if spec.family not in self.families:
            raise KernelUnavailable(
                f"{self.name} does not run the {spec.family} family"
            )
        check = _resolve(self.check)
        if check is not None:
            check(spec)


KERNELS: dict[str, Kernel] = {}


def register_kernel(name: str, run: Callable | str, **fields) -> Kernel:
    """Adds a kernel to the table (or replaces the one of that name).

    Args:
        name: the kernel's name in reports.
        run: ``run(spec, sequences, initial_state, weights, mask, *,
            training)``, or ``"module:function"`` to import on first use.
        **fields: the other :class:`Kernel` fields (``families``,
            ``backend`` required).

    Example:

    >>> def run(spec, sequences, initial_state, weights, mask, *, training):
    ...     raise KernelUnavailable("a sketch")
    >>> kernel = register_kernel("jax-sketch", run, families=("linear",), backend="jax")
    >>> KERNELS.pop("jax-sketch").name
    'jax-sketch'
    """
    if name == "reference":
        raise ValueError(
            "`name` 'reference' is the reference loop's. Received: name='reference'"
        )
    kernel = Kernel(name, run, **fields)
    KERNELS[name] = kernel
    return kernel


_VARIANTS = ("lstm", "gru", "simple")

register_kernel(
    "tf-cudnn",
    "rnn_zoo.kernels.cudnn:run",
    check="rnn_zoo.kernels.cudnn:check",
    families=_VARIANTS,
    backend="tensorflow",
    devices=("GPU",),
    masks="right",
    priority=20,
    compiles_with_xla=False,
    description="cuDNN through TensorFlow's CudnnRNNV3 op (GPU); a mask that is "
    "not right padding runs the reference loop, chosen in the graph",
)
register_kernel(
    "tf-fused",
    "rnn_zoo.kernels.fused_tf:run",
    families=_VARIANTS,
    backend="tensorflow",
    priority=10,
    description="TensorFlow fused sequence op: XLA-compiled forward and backward "
    "loops, weight gradients as one product after the loop",
)
register_kernel(
    "torch-cudnn",
    "rnn_zoo.kernels.fused_torch:run",
    check="rnn_zoo.kernels.fused_torch:check",
    families=_VARIANTS,
    backend="torch",
    devices=("GPU",),
    masks="right",
    priority=20,
    description="torch-fused on a CUDA device, where PyTorch runs it with cuDNN",
)
register_kernel(
    "torch-fused",
    "rnn_zoo.kernels.fused_torch:run",
    check="rnn_zoo.kernels.fused_torch:check",
    families=_VARIANTS,
    backend="torch",
    devices=("CPU",),
    masks="right",
    priority=10,
    description="PyTorch's own sequence op (torch.lstm/gru/rnn_tanh/rnn_relu, "
    "as torch.nn.LSTM runs it); right-padded masks as packed sequences; other "
    "masks, and go_backwards with a mask, run the reference loop",
)

# One parallel scan for the linear-recurrence families, on every backend.
for _backend in ("tensorflow", "jax", "torch"):
    register_kernel(
        {"tensorflow": "tf-scan", "jax": "jax-scan", "torch": "torch-scan"}[_backend],
        "rnn_zoo.kernels.scan:run",
        check="rnn_zoo.kernels.scan:check",
        families=("mingru", "minlstm", "rglru"),
        backend=_backend,
        priority=10,
        description="parallel scan of h = a * h + b (rnn_zoo.kernels.scan): a and "
        "b for every step at once, then an associative scan (log space for the "
        "log-space minGRU/minLSTM); masks, initial state and go_backwards folded in",
    )

# The elementwise recurrences that are not linear (SRU's peepholes, IndRNN's
# activation) and QRNN's pooling: XLA-compiled loops, hand-written backward.
register_kernel(
    "tf-elementwise",
    "rnn_zoo.kernels.elementwise_tf:run",
    families=("sru", "indrnn", "qrnn"),
    backend="tensorflow",
    priority=10,
    description="XLA-compiled elementwise loop with a hand-written backward loop "
    "(rnn_zoo.kernels.elementwise_tf): the input projection one product before "
    "it, its gradient one product after, per-unit weight gradients one sum",
)

__all__ = [
    "KERNELS",
    "CellSpec",
    "Kernel",
    "KernelSpec",
    "KernelUnavailable",
    "register_kernel",
    "run_reference",
]
