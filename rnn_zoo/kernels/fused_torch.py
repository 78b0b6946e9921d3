"""PyTorch's own fused recurrent ops (``torch.lstm``, ``torch.gru``, ``torch.rnn_*``): the table's ``torch-fused`` and ``torch-cudnn``.

On the torch backend a Keras loop runs step by step in Python; ``torch.nn.LSTM``
instead calls one ATen op that runs the whole sequence (oneDNN or its own C++
loop on CPU, cuDNN on GPU) with a matching fused backward. This module calls
the same ops with an rnn_zoo cell's weights, mapped to PyTorch's layout
(:mod:`rnn_zoo.kernels.layout`: transposed kernels; the GRU's gates reordered
from Keras's ``z, r, h`` to PyTorch's ``r, z, n``; Keras's single LSTM bias
as ``b_ih`` with a zero ``b_hh``). Autograd differentiates through it, so
gradients reach the Keras variables.

Masks: a right-padded mask becomes sequence lengths and a packed sequence,
as ``torch.nn.utils.rnn.pack_padded_sequence`` does; the outputs after a
sequence's end then repeat its last output (Keras's masking semantics) or
are zero with ``zero_output_for_mask``. Any other mask (left padding, holes,
an all-padding row), ``go_backwards`` with a mask and an empty batch raise
:class:`~rnn_zoo.kernels.KernelUnavailable`, and the reference loop runs.
"""

from __future__ import annotations

import torch

from rnn_zoo.kernels import KernelUnavailable
from rnn_zoo.kernels.layout import (
    canonical_weights,
    keras_masking,
    right_padded_lengths,
    variant,
)

OPS = {
    "lstm": torch.lstm,
    "gru": torch.gru,
    "simple_tanh": torch.rnn_tanh,
    "simple_relu": torch.rnn_relu,
}


def check(spec) -> None:
    """Refuses what the ops cannot run, before any tensor is seen.

    (Inside ``torch.compile`` no kernel is asked: see ``select``.)
    """
    if spec.go_backwards and spec.mask != "none":
        raise KernelUnavailable(
            "go_backwards with a mask (packed sequences run forwards only)"
        )


def _params(kind, weights, units):
    # cuDNN's canonical layout is torch.nn's parameter layout. On a GPU cuDNN
    # wants the four tensors as consecutive views of one buffer (as
    # torch.nn.LSTM.flatten_parameters leaves them), else it copies them into
    # one at every call.
    parts = canonical_weights(kind, weights, units)
    flat = torch.cat([p.reshape(-1) for p in parts])
    views, start = [], 0
    for p in parts:
        views.append(flat[start : start + p.numel()].view(p.shape))
        start += p.numel()
    return views


def _right_padded_lengths(mask):
    """Sequence lengths; raises unless ``mask`` is right padding with no empty row."""
    lengths, ok = right_padded_lengths(mask)
    if mask.device.type == "meta":  # Keras computing output shapes
        return lengths
    if not bool(ok):
        raise KernelUnavailable(
            "a mask that is not right padding with a real step in every row"
        )
    return lengths


def run(spec, sequences, initial_state, weights, mask, *, training):
    """Runs a sequence with PyTorch's fused op (see :mod:`rnn_zoo.kernels`)."""
    if torch.compiler.is_compiling():
        # select refuses this too, where Dynamo traces the choice; where the
        # choice ran eagerly (a graph break) this is the first traced line.
        raise KernelUnavailable("inside torch.compile")
    if sequences.shape[0] == 0:
        raise KernelUnavailable("an empty batch (PyTorch's ops refuse one)")
    if mask is not None and spec.go_backwards:
        raise KernelUnavailable("go_backwards with a mask")
    kind = variant(spec)
    op = OPS[kind]
    params = _params(kind, weights, spec.units)
    # cuDNN keeps what its backward needs only in training mode; a gradient
    # of a training=False call (as TensorFlow and JAX allow) needs it too.
    training = bool(training) or (
        torch.is_grad_enabled()
        and (sequences.requires_grad or any(p.requires_grad for p in params))
    )
    hx = [s[None] for s in initial_state]
    hx = tuple(hx) if kind == "lstm" else hx[0]
    keep_seq = spec.return_sequences
    if mask is None:
        x = torch.flip(sequences, [1]) if spec.go_backwards else sequences
        out = op(x, hx, params, True, 1, 0.0, training, False, True)
        outputs, states = out[0], list(out[1:])
        finals = [s[0] for s in states]
        return outputs[:, -1], outputs if keep_seq else None, finals
    mask = mask.bool()
    if spec.mask == "right":  # select has looked at this mask already
        lengths = right_padded_lengths(mask)[0]
    else:
        lengths = _right_padded_lengths(mask)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        sequences, lengths.cpu(), batch_first=True, enforce_sorted=False
    )
    hx = (
        tuple(h.index_select(1, packed.sorted_indices) for h in hx)
        if kind == "lstm"
        else hx.index_select(1, packed.sorted_indices)
    )
    out = op(packed.data, packed.batch_sizes, hx, params, True, 1, 0.0, training, False)
    data, states = out[0], list(out[1:])
    finals = [s[0].index_select(0, packed.unsorted_indices) for s in states]
    packed_out = torch.nn.utils.rnn.PackedSequence(
        data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
    )
    outputs, _ = torch.nn.utils.rnn.pad_packed_sequence(
        packed_out, batch_first=True, total_length=sequences.shape[1]
    )
    # finals[0]: the output at each sequence's last real step.
    last_output, outputs = keras_masking(
        outputs, finals[0], mask, spec.zero_output_for_mask, go_backwards=False
    )
    return last_output, outputs if keep_seq else None, finals
