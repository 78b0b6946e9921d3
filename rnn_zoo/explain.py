"""``rnn_zoo.explain``: which kernel each recurrent layer of a model runs, and why.

>>> import keras
>>> from rnn_zoo import explain, layers
>>> inputs = keras.Input((None, 8))
>>> x = layers.LSTM(16, return_sequences=True, name="encoder")(inputs)
>>> outputs = layers.GRU(16, recurrent_dropout=0.2, name="summary")(x)
>>> report = explain(keras.Model(inputs, outputs))
>>> [(row["layer"], row["training"], row["inference"]) for row in report]
[('encoder', 'tf-fused', 'tf-fused'), ('summary', 'reference', 'tf-fused')]
>>> report[1]["reasons"]
['recurrent_dropout=0.2 (in training; the fused kernels have no recurrent dropout)']
>>> print(report)  # doctest: +SKIP

The report is the decision the layers make when they run
(:func:`rnn_zoo.kernels.select.choose`). Where a kernel takes right-padded
masks only (cuDNN, PyTorch's packed sequences), pass the ``mask`` the model
will see: a left-padded batch is then reported as the reference loop that
runs it.
"""

from __future__ import annotations

import keras

from rnn_zoo.kernels import select


class KernelReport(list):
    """A list of one dict per recurrent layer, printed as a table.

    Each row: ``layer`` (its path in the model), ``type``, ``cell``, ``units``,
    ``training`` and ``inference`` (the kernel each mode runs),
    ``implementation`` (the layer's argument), ``mask`` (what the decision
    knew of the mask: ``"none"``, ``"right"``, ``"other"``, ...), ``reasons``
    (why a faster kernel was not chosen, in either mode), ``backend`` and
    ``device``.
    """

    def __str__(self) -> str:
        if not self:
            return "no recurrent layers"
        head = ("layer", "type", "training", "inference", "why not faster")
        rows = [
            (
                r["layer"],
                r["type"],
                r["training"],
                r["inference"],
                "; ".join(r["reasons"]) or "-",
            )
            for r in self
        ]
        widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(4)]
        lines = [f"backend: {self[0]['backend']}, device: {self[0]['device']}"]
        for row in [head, *rows]:
            cells = [str(v).ljust(w) for v, w in zip(row[:4], widths)]
            lines.append("  ".join([*cells, str(row[4])]).rstrip())
        return "\n".join(lines)


def _walk(layer, prefix=""):
    path = f"{prefix}{layer.name}"
    yield path, layer
    for child in getattr(layer, "_layers", []):
        yield from _walk(child, path + "/")


def explain(model_or_layer, mask=None) -> KernelReport:
    """Lists each recurrent layer of ``model_or_layer`` and the kernel it runs.

    Args:
        model_or_layer: a Keras model or layer (rnn_zoo's or Keras's own).
        mask: the boolean ``(batch, timesteps)`` mask the recurrent layers
            receive, or None for unmasked batches. Its pattern (right
            padding or not) decides between some kernels and the reference
            loop.

    Returns:
        a :class:`KernelReport`: one dict per recurrent layer, in model order;
        ``print`` it for a table.
    """
    from rnn_zoo.layers.attention import AttentionDecoder
    from rnn_zoo.layers.recurrent import RNN

    if not isinstance(model_or_layer, keras.layers.Layer):
        raise TypeError(
            "`model_or_layer` must be a Keras model or layer. "
            f"Received: model_or_layer={model_or_layer!r}"
        )
    backend, device = keras.backend.backend(), select.current_device()
    report = KernelReport()
    for path, layer in _walk(model_or_layer):
        if isinstance(layer, RNN):
            train = layer.kernel_choice(training=True, mask=mask)
            infer = layer.kernel_choice(training=False, mask=mask)
            reasons = list(dict.fromkeys(train.reasons + infer.reasons))
            cell = type(layer.cell).__name__
            kinds = (train.kernel, infer.kernel)
            implementation, mask_kind = layer.implementation, infer.mask
        elif isinstance(layer, AttentionDecoder):
            cell = type(layer.cell).__name__
            kinds = ("reference", "reference")
            reasons = [
                "attention decoders step in keras.ops (each step attends "
                "to the memory; the input projection is hoisted)"
            ]
            implementation, mask_kind = None, None
        elif isinstance(layer, keras.layers.RNN):
            cell = type(layer.cell).__name__
            kinds = ("keras", "keras")
            reasons = ["a keras.layers layer: Keras chooses its kernel"]
            implementation, mask_kind = getattr(layer, "implementation", None), None
        else:
            continue
        report.append(
            {
                "layer": path.split("/", 1)[1] if "/" in path else path,
                "type": type(layer).__name__,
                "cell": cell,
                "units": getattr(layer, "units", None),
                "training": kinds[0],
                "inference": kinds[1],
                "implementation": implementation,
                "mask": mask_kind,
                "reasons": reasons,
                "backend": backend,
                "device": device,
            }
        )
    return report
