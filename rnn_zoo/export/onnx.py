"""ONNX export: rnn_zoo's LSTM, GRU and SimpleRNN layers as ONNX's own nodes.

Neither route the issue names gives native recurrent nodes for rnn_zoo's
layers (measured with tf2onnx 1.17, opset 17): the Keras model converts to an
unsupported ``PartitionedCall`` (the layers' fused TensorFlow kernel), and
the same model rebuilt in plain TensorFlow ops converts to a ``Loop``; Keras's
own ``model.export(format="onnx")`` runs tf2onnx the same way. So
:func:`export_onnx` writes the graph with ``onnx.helper`` from the Keras
layer graph and the weights: ``LSTM``/``GRU``/``RNN`` nodes whose
``sequence_lens`` input carries the padding mask (right padding; ``Y_h`` is
the state at each sequence's own last step, and the reverse direction of a
``Bidirectional`` layer starts there), ``Gather`` for the embeddings,
``MatMul``/``Add`` and the activation for ``Dense``. Batch and length axes are
dynamic.

Example:

>>> import os, tempfile, numpy as np, onnxruntime, rnn_zoo
>>> model = rnn_zoo.build_classifier(3, vocab_size=20, units=4)
>>> path = export_onnx(model, os.path.join(tempfile.mkdtemp(), "names.onnx"))
>>> session = onnxruntime.InferenceSession(path)
>>> session.run(None, {"inputs": np.array([[3, 4, 5, 0]])})[0].shape  # (batch, classes)
(1, 3)
"""

from __future__ import annotations

import keras
import numpy as np

from rnn_zoo.export._common import (
    ExportError,
    check_output_path,
    check_recurrent,
    write_atomically,
)

OPSET = 17
_ACTIVATIONS = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu"}


class _Builder:
    """The nodes and weights of an ONNX graph, with fresh names."""

    def __init__(self):
        self.nodes, self.initializers, self._count = [], [], 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value, hint: str = "const") -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs, outputs: int = 1, **attributes):
        from onnx import helper

        names = [self.name(op.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, list(inputs), names, **attributes))
        return names[0] if outputs == 1 else names


def _values(variable) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(variable), dtype="float32")


def _activation(function, layer) -> str | None:
    name = getattr(function, "__name__", None)
    if name in ("linear", None) and function is not None:
        return None if name == "linear" else _unknown(layer, function)
    if name == "softmax":
        return "Softmax"
    if name in _ACTIVATIONS:
        return _ACTIVATIONS[name]
    return _unknown(layer, function)


def _unknown(layer, function):
    raise ExportError(
        f"Layer '{layer.name}' ({type(layer).__name__}) cannot be exported to ONNX: "
        f"its activation {function!r} is not one of linear, softmax, "
        f"{', '.join(_ACTIVATIONS)}."
    )


class _Graph:
    """Emits ONNX nodes for each Keras operation of a functional model."""

    def __init__(self, model):
        self.model = model
        self.b = _Builder()

    def run(self, input_name: str):
        return self.model._run_through_graph([input_name], operation_fn=self._operation)

    def _operation(self, operation):
        from rnn_zoo.layers import Bidirectional
        from rnn_zoo.layers.recurrent import RNN

        if isinstance(operation, Bidirectional):
            return lambda x, mask=None, **kw: self._bidirectional(
                operation, x, mask, kw
            )
        if isinstance(operation, RNN):
            return lambda x, mask=None, **kw: self._recurrent(operation, x, mask, kw)
        if isinstance(operation, keras.layers.Embedding):
            return lambda ids, **kw: self.b.node(
                "Gather",
                [self.b.const(_values(operation.embeddings), "embeddings"), ids],
            )
        if isinstance(operation, keras.layers.Dense):
            return lambda x, **kw: self._dense(operation, x)
        if isinstance(operation, keras.layers.Dropout):
            return lambda x, **kw: x
        if type(operation).__name__ == "NotEqual":
            return self._not_equal
        raise ExportError(
            f"Layer '{operation.name}' ({type(operation).__name__}) cannot be "
            "exported to ONNX: rnn_zoo maps Embedding, Dense, Dropout and rnn_zoo's "
            "LSTM, GRU, SimpleRNN (and Bidirectional of them) to ONNX nodes."
        )

    def _not_equal(self, x, y, **kw):
        value = self.b.const(np.array(y, dtype="int64"), "value")
        return self.b.node("Not", [self.b.node("Equal", [x, value])])

    def _dense(self, layer, x):
        out = self.b.node("MatMul", [x, self.b.const(_values(layer.kernel), "kernel")])
        if layer.bias is not None:
            out = self.b.node("Add", [out, self.b.const(_values(layer.bias), "bias")])
        op = _activation(layer.activation, layer)
        if op == "Softmax":
            return self.b.node("Softmax", [out], axis=-1)
        return out if op is None else self.b.node(op, [out])

    # Recurrent layers -----------------------------------------------------

    def _lengths(self, x, mask):
        b = self.b
        if mask is None:
            shape = b.node("Shape", [x])
            batch = b.node("Slice", [shape, b.const([0]), b.const([1])])
            steps = b.node("Slice", [shape, b.const([1]), b.const([2])])
            return b.node("Expand", [b.node("Cast", [steps], to=6), batch])
        cast = b.node("Cast", [mask], to=6)  # INT32
        return b.node("ReduceSum", [cast, b.const([1])], keepdims=0)

    def _check(self, layer, kwargs, backward: bool = False):
        from rnn_zoo.layers import GRU, LSTM, SimpleRNN

        why = None
        if not isinstance(layer, (LSTM, GRU, SimpleRNN)):
            why = "no ONNX node computes its cell (ONNX has LSTM, GRU and RNN)"
        check_recurrent(layer, kwargs, "ONNX", backward, why)

    def _weights(self, layer):
        """(op, W, R, B, attributes) of one direction in ONNX's layout."""
        from rnn_zoo.layers import GRU, LSTM

        cell = layer.cell
        units = cell.units
        kernel, recurrent = _values(cell.kernel), _values(cell.recurrent_kernel)
        gates = kernel.shape[1] // units
        if cell.bias is None:
            bias = np.zeros((2, gates * units), "float32")
        else:
            bias = _values(cell.bias).reshape(-1, gates * units)
            if len(bias) == 1:
                bias = np.concatenate([bias, np.zeros_like(bias)])
        activation = _activation(cell.activation, layer)
        recurrent_activation = getattr(cell, "recurrent_activation", None)
        attributes = {"hidden_size": units}
        gated = isinstance(layer, (LSTM, GRU))
        if gated and (activation, _activation(recurrent_activation, layer)) != (
            "Tanh",
            "Sigmoid",
        ):
            raise ExportError(
                f"Layer '{layer.name}' ({type(layer).__name__}) cannot be exported "
                "to ONNX with activations other than tanh and sigmoid."
            )
        if isinstance(layer, LSTM):
            # Keras's gate order i, f, c, o -> ONNX's i, o, f, c.
            order = [0, 3, 1, 2]
            op = "LSTM"
        elif isinstance(layer, GRU):
            order = [0, 1, 2]  # z, r, h in both
            op = "GRU"
            attributes["linear_before_reset"] = int(cell.reset_after)
        else:
            order = [0]
            op = "RNN"
            attributes["activations"] = [activation or "Identity"]

        def reorder(matrix):  # (rows, gates * units) -> (gates * units, rows)
            blocks = np.split(matrix, gates, axis=-1)
            return np.concatenate([blocks[i] for i in order], axis=-1).T

        w, r = reorder(kernel), reorder(recurrent)
        b = np.concatenate([reorder(bias[0:1]).T[0], reorder(bias[1:2]).T[0]])
        return op, w, r, b, attributes

    def _run(self, layers, x, lengths, direction):
        """One ONNX node over batch-major ``x``: (Y batch-major (B, T, D, H), Y_h)."""
        b = self.b
        parts = [self._weights(layer) for layer in layers]
        op, _, _, _, attributes = parts[0]
        w = b.const(np.stack([p[1] for p in parts]), "W")
        r = b.const(np.stack([p[2] for p in parts]), "R")
        bias = b.const(np.stack([p[3] for p in parts]), "B")
        time_major = b.node("Transpose", [x], perm=[1, 0, 2])
        y, y_h = b.node(
            op,
            [time_major, w, r, bias, lengths],
            outputs=2,
            direction=direction,
            **attributes,
        )
        return b.node("Transpose", [y], perm=[2, 0, 1, 3]), y_h  # (B, T, D, H)

    def _repeat_last(self, y, lengths):
        """Keras's masked sequence output: each padded step repeats the last one."""
        b = self.b
        steps = b.node("Slice", [b.node("Shape", [y]), b.const([1]), b.const([2])])
        time = b.node(
            "Range",
            [
                b.const(np.array(0, "int64")),
                b.node("Squeeze", [steps, b.const([0])]),
                b.const(np.array(1, "int64")),
            ],
        )
        last = b.node(
            "Max",
            [
                b.node(
                    "Sub",
                    [b.node("Cast", [lengths], to=7), b.const(np.array(1, "int64"))],
                ),
                b.const(np.array(0, "int64")),
            ],
        )
        index = b.node(
            "Min",
            [
                b.node("Unsqueeze", [time, b.const([0])]),
                b.node("Unsqueeze", [last, b.const([1])]),
            ],
        )  # (B, T)
        index = b.node("Unsqueeze", [index, b.const([2])])
        index = b.node("Expand", [index, b.node("Shape", [y])])
        return b.node("GatherElements", [y, index], axis=1)

    def _recurrent(self, layer, x, mask, kwargs):
        self._check(layer, kwargs)
        b = self.b
        lengths = self._lengths(x, mask)
        y, y_h = self._run([layer], x, lengths, "forward")
        if not layer.return_sequences:
            return b.node("Squeeze", [y_h, b.const([0])])
        y = b.node("Squeeze", [y, b.const([2])])
        # ONNX's padded steps are zeros, as zero_output_for_mask's.
        return y if layer.zero_output_for_mask else self._repeat_last(y, lengths)

    def _bidirectional(self, layer, x, mask, kwargs):
        b = self.b
        forward, backward = layer.forward_layer, layer.backward_layer
        if layer.return_state or layer.merge_mode is None:
            raise ExportError(
                f"Layer '{layer.name}' (Bidirectional) cannot be exported to ONNX "
                "with return_state=True or merge_mode=None."
            )
        self._check(forward, kwargs)
        self._check(backward, kwargs, backward=True)
        lengths = self._lengths(x, mask)
        y, y_h = self._run([forward, backward], x, lengths, "bidirectional")
        if layer.return_sequences:
            halves = b.node("Split", [y, b.const([1, 1])], outputs=2, axis=2)
            y_f, y_b = (b.node("Squeeze", [half, b.const([2])]) for half in halves)
            # The backward half's padded steps are zeros (Keras's and ONNX's).
            if not forward.zero_output_for_mask:
                y_f = self._repeat_last(y_f, lengths)
        else:
            y_f = b.node("Gather", [y_h, b.const(np.array(0, "int64"))], axis=0)
            y_b = b.node("Gather", [y_h, b.const(np.array(1, "int64"))], axis=0)
        mode = layer.merge_mode
        if mode == "concat":
            return b.node("Concat", [y_f, y_b], axis=-1)
        if mode == "ave":
            return b.node("Mul", [b.node("Add", [y_f, y_b]), b.const(np.float32(0.5))])
        return b.node({"sum": "Add", "mul": "Mul"}[mode], [y_f, y_b])


def _symbolic(shape) -> list:
    """A Keras shape with ONNX's named dynamic axes: batch, then timesteps."""
    names = ["batch", "timesteps"]
    return [names[i] if d is None and i < 2 else d for i, d in enumerate(shape)]


def export_onnx(model: keras.Model, path, *, opset: int = OPSET) -> str:
    """Writes ``model`` as an ONNX model with native recurrent nodes.

    Args:
        model: a functional Keras model with one input, token ids ``(batch,
            timesteps)`` (``int64`` in the ONNX model) or features ``(batch,
            timesteps, features)``, right-padded; its layers rnn_zoo's
            ``LSTM``/``GRU``/``SimpleRNN`` (alone or in ``Bidirectional``),
            ``Embedding``, ``Dense``, ``Dropout``.
        path: the ``.onnx`` file to write; it must not exist.
        opset: the ONNX opset (14 or later).

    Returns:
        ``path``. Its input is ``inputs`` with dynamic ``batch`` and
        ``timesteps`` axes; its outputs are named as the model's outputs.
    """
    import onnx
    from onnx import TensorProto, helper

    from rnn_zoo import _checks

    opset = _checks.check_positive_int(opset, "opset")
    if opset < 14:
        raise ValueError(f"`opset` must be 14 or later. Received: opset={opset}")
    path = check_output_path(path)
    if not isinstance(model, keras.Model) or not hasattr(model, "_run_through_graph"):
        raise TypeError(
            "`model` must be a functional Keras model (the builders' models). "
            f"Received: {type(model).__name__}"
        )
    if len(model.inputs) != 1 or len(model.inputs[0].shape) not in (2, 3):
        raise ExportError(
            "`model` must have one (batch, timesteps[, features]) input for ONNX. "
            f"Received: inputs {[tuple(t.shape) for t in model.inputs]}"
        )
    tensor = model.inputs[0]
    ids = "int" in str(tensor.dtype)
    graph = _Graph(model)
    outputs = graph.run("inputs")
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    names = list(model.output_names)
    for name, produced in zip(names, outputs):
        graph.b.nodes.append(helper.make_node("Identity", [produced], [name]))
    shape = _symbolic((None, None, *tensor.shape[2:]))
    proto = helper.make_model(
        helper.make_graph(
            graph.b.nodes,
            model.name,
            [
                helper.make_tensor_value_info(
                    "inputs", TensorProto.INT64 if ids else TensorProto.FLOAT, shape
                )
            ],
            [
                helper.make_tensor_value_info(
                    name, TensorProto.FLOAT, _symbolic(output.shape)
                )
                for name, output in zip(names, model.outputs)
            ],
            graph.b.initializers,
        ),
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="rnn_zoo",
    )
    onnx.checker.check_model(proto, full_check=True)
    write_atomically(path, proto.SerializeToString())
    return path
