"""LiteRT (TensorFlow Lite) export: rnn_zoo's recurrent layers as LiteRT's fused ops.

Keras 3's own LSTM converts to a ``WHILE`` loop of elementwise built-ins, or
to Flex (TensorFlow) ops, which the stock runtime and microcontroller
interpreters lack (LiteRT#41, tensorflow#73254). :func:`export_litert`
instead rebuilds the model as a ``tf.function`` in which each recurrent layer
is a composite function the converter replaces with a built-in sequence op:

- ``LSTM``: a function marked ``api_implements="lstm_..."`` with the argument
  order of Keras 2's ``standard_lstm`` (inputs, h, c, kernel,
  recurrent_kernel, bias). TensorFlow's ``PrepareCompositeFunctions`` pass
  (``ConvertKerasLSTMLayer``) swaps its body for
  ``UNIDIRECTIONAL_SEQUENCE_LSTM``; it needs a fixed batch size, so the file
  has one (``batch_size``).
- ``SimpleRNN``: the converter has no such pass for the RNN (its only path
  was TF1's OpHint), so the function is marked ``tfl_fusable_op``, comes out
  as a custom op with the fused op's operands in order, and is rewritten in
  the flatbuffer into the built-in ``UNIDIRECTIONAL_SEQUENCE_RNN`` (its
  hidden state made the variable tensor the kernel requires).
- every other rnn_zoo cell (GRU, SRU, ...): its own ``step`` unrolled over
  the file's fixed length, which gives built-in elementwise ops only.

``BIDIRECTIONAL_SEQUENCE_LSTM`` is not produced: no converter pass creates it
from a TF2 graph. A ``Bidirectional`` layer becomes two unidirectional fused
ops, the backward one over ``REVERSE_SEQUENCE`` of each sequence's own steps.

Variable lengths: the fused ops take no mask. The file takes a fixed
``(batch_size, max_length)`` input, right-padded (padding id 0, as the
builders mask); the lengths are counted in the graph from the mask, and each
layer's last output is read at each sequence's own last step (a
``return_sequences`` output repeats that step's output over the padding, as
rnn_zoo's masked layers do). Interior padding (a zero between tokens) is not
what the builders' data has and is not served.

The fused ops keep their states in variable tensors that persist between
invocations: call ``interpreter.reset_all_variables()`` before each
``invoke`` (or use :func:`litert_predict`, which does).

Example:

>>> import os, tempfile, numpy as np, rnn_zoo
>>> model = rnn_zoo.build_classifier(3, vocab_size=20, units=4, max_length=8)
>>> path = export_litert(model, os.path.join(tempfile.mkdtemp(), "names.tflite"))
>>> "UNIDIRECTIONAL_SEQUENCE_LSTM" in litert_ops(path)
True
>>> litert_predict(path, np.array([[3, 4, 5, 0, 0, 0, 0, 0]])).shape  # (batch, classes)
(1, 3)
"""

from __future__ import annotations

import os

import keras
import numpy as np

from rnn_zoo.export._common import (  # noqa: F401 - ExportError is public here
    ExportError,
    check_output_path,
    check_recurrent,
    write_atomically,
)
from rnn_zoo.export._flatbuffer import RNN_CUSTOM_CODE, fuse_rnn, litert_ops

QUANTIZE_MODES = (None, "dynamic", "int8")
# The activation rides in the custom op's options (a flexbuffer map).
_RNN_IMPLEMENTS = (
    'name: "{name}" attr {{ key: "tfl_fusable_op" value {{ b: true }} }} '
    'attr {{ key: "activation" value {{ s: "{activation}" }} }}'
)


def _check_quantize(quantize, representative_data):
    if quantize not in QUANTIZE_MODES:
        raise ValueError(
            "`quantize` must be None, 'dynamic' or 'int8'. Received: "
            f"quantize={quantize!r}"
        )
    if quantize == "int8":
        if representative_data is None:
            raise ValueError(
                "`quantize='int8'` calibrates on `representative_data`: give a "
                "sample of training inputs. Received: representative_data=None"
            )
        data = np.asarray(representative_data)
        if data.ndim < 2 or len(data) == 0:
            raise ValueError(
                "`representative_data` must be a non-empty batch of model inputs. "
                f"Received: shape {data.shape}"
            )
        return data
    if representative_data is not None:
        raise ValueError(
            "`representative_data` calibrates int8 only. Received: "
            f"quantize={quantize!r} with representative_data"
        )
    return None


def _input_spec(model, batch_size: int, max_length):
    import tensorflow as tf

    if len(model.inputs) != 1:
        raise ExportError(
            "`model` must have one input (token ids or features) for LiteRT. "
            f"Received: {len(model.inputs)} inputs"
        )
    tensor = model.inputs[0]
    shape = list(tensor.shape)
    if len(shape) not in (2, 3):
        raise ExportError(
            "`model`'s input must be (batch, timesteps) ids or (batch, timesteps, "
            f"features). Received: shape {tuple(shape)}"
        )
    length = shape[1] if shape[1] is not None else max_length
    if length is None:
        raise ValueError(
            "`max_length` must be given for a model whose input has no fixed "
            "length: the LiteRT file has one. Received: max_length=None"
        )
    if max_length is not None and shape[1] is not None and max_length != shape[1]:
        raise ValueError(
            f"`max_length` must equal the model's input length {shape[1]}. "
            f"Received: max_length={max_length}"
        )
    dtype = tf.int32 if "int" in str(tensor.dtype) else tf.float32
    return tf.TensorSpec([batch_size, int(length), *shape[2:]], dtype, name="inputs")


# The fused ops as composite functions -------------------------------------


def _lstm_function():
    import tensorflow as tf

    def standard_lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        # The body is what the fused op computes; the converter replaces it.
        def step(carry, x_t):
            h, c = carry
            z = x_t @ kernel + h @ recurrent_kernel + bias
            i, f, g, o = tf.split(z, 4, axis=-1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            return tf.sigmoid(o) * tf.tanh(c), c

        hs, cs = tf.scan(
            step, tf.transpose(inputs, [1, 0, 2]), initializer=(init_h, init_c)
        )
        outputs = tf.transpose(hs, [1, 0, 2])
        return outputs[:, -1], outputs, hs[-1], cs[-1], tf.constant(0.0)

    return tf.function(
        standard_lstm,
        autograph=False,
        experimental_attributes={
            "api_implements": "lstm_rnn_zoo",
            "time_major": False,
            "go_backwards": False,
        },
    )


def _rnn_function(activation: str):
    import tensorflow as tf

    act = {"tanh": tf.tanh, "relu": tf.nn.relu}[activation]

    def sequence_rnn(inputs, weights, recurrent_weights, bias, hidden_state):
        def step(h, x_t):
            return act(
                x_t @ tf.transpose(weights) + h @ tf.transpose(recurrent_weights) + bias
            )

        hs = tf.scan(step, tf.transpose(inputs, [1, 0, 2]), initializer=hidden_state)
        return tf.transpose(hs, [1, 0, 2])

    return tf.function(
        sequence_rnn,
        autograph=False,
        experimental_implements=_RNN_IMPLEMENTS.format(
            name=RNN_CUSTOM_CODE, activation=activation
        ),
    )


def _activation_name(function) -> str | None:
    name = getattr(function, "__name__", None)
    return name if name in ("tanh", "relu", "sigmoid") else None


class _Graph:
    """Runs a Keras model layer by layer with the recurrent layers swapped."""

    def __init__(self, model, batch_size: int, length: int):
        self.model = model
        self.batch_size = batch_size
        self.length = length
        self._lstm = _lstm_function()
        self._rnn = {}

        # The weights' values, read now: traced as constants, the composite
        # functions reach the converter whole (freezing variables afterwards
        # would inline them, and the fused-op passes would see a loop).
        self._values = [(v, keras.ops.convert_to_numpy(v)) for v in model.variables]

    def __call__(self, inputs):
        import tensorflow as tf

        mapping = [(v, tf.constant(value)) for v, value in self._values]
        with keras.StatelessScope(state_mapping=mapping):
            return self.model._run_through_graph([inputs], operation_fn=self._operation)

    def _operation(self, operation):
        from rnn_zoo.layers import Bidirectional, StackedRNN
        from rnn_zoo.layers.recurrent import RNN

        if isinstance(operation, Bidirectional):
            return lambda x, mask=None, **kwargs: self._bidirectional(
                operation, x, mask, kwargs
            )
        if isinstance(operation, RNN):
            return lambda x, mask=None, **kwargs: self._recurrent(
                operation, x, mask, kwargs
            )
        if isinstance(operation, StackedRNN):
            raise ExportError(
                f"Layer '{operation.name}' (StackedRNN) cannot be exported to "
                "LiteRT yet: export a model built with num_layers=1, or stack "
                "the layers in the functional model."
            )
        return lambda *args, **kwargs: operation(*args, **kwargs)

    # Lengths and masks ----------------------------------------------------

    def _lengths(self, x, mask):
        import tensorflow as tf

        if mask is None:
            return tf.fill([self.batch_size], self.length)
        return tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)

    def _finish(self, layer, outputs, lengths):
        """Keras's masked outputs from a fused op's full sequence."""
        import tensorflow as tf

        last_step = tf.maximum(lengths - 1, 0)
        if layer.return_sequences and layer.zero_output_for_mask:
            valid = tf.sequence_mask(lengths, self.length, dtype=outputs.dtype)
            return outputs * valid[:, :, None]
        if layer.return_sequences:
            steps = tf.minimum(tf.range(self.length)[None, :], last_step[:, None])
            return tf.gather(outputs, steps, batch_dims=1)
        last = tf.gather(outputs, last_step, batch_dims=1)
        # An empty sequence keeps the zero initial state.
        return last * tf.cast(lengths > 0, last.dtype)[:, None]

    # The layers -----------------------------------------------------------

    def _recurrent(self, layer, x, mask, kwargs):
        check_recurrent(layer, kwargs, "LiteRT")
        lengths = self._lengths(x, mask)
        return self._finish(layer, self._sequence(layer, x, lengths), lengths)

    def _sequence(self, layer, x, lengths):
        """The layer's outputs at every step (valid where t < length)."""
        import tensorflow as tf

        from rnn_zoo.layers import LSTM, SimpleRNN

        cell = layer.cell
        activations = (
            _activation_name(getattr(cell, "activation", None)),
            _activation_name(getattr(cell, "recurrent_activation", None)),
        )
        if isinstance(layer, LSTM) and activations == ("tanh", "sigmoid"):
            kernel, recurrent, bias, zeros = self._weights(cell)
            return self._lstm(x, zeros, zeros, kernel, recurrent, bias)[1]
        if isinstance(layer, SimpleRNN) and activations[0] in ("tanh", "relu"):
            kernel, recurrent, bias, zeros = self._weights(cell)
            function = self._rnn.setdefault(
                activations[0], _rnn_function(activations[0])
            )
            return function(
                x, tf.transpose(kernel), tf.transpose(recurrent), bias, zeros
            )
        return self._unrolled(layer, x, lengths)

    def _weights(self, cell):
        """kernel, recurrent_kernel, bias (zeros without one), zero state."""
        import tensorflow as tf

        kernel = tf.convert_to_tensor(cell.kernel.value)
        recurrent = tf.convert_to_tensor(cell.recurrent_kernel.value)
        bias = (
            tf.convert_to_tensor(cell.bias.value)
            if cell.bias is not None
            else tf.zeros([kernel.shape[-1]])
        )
        return kernel, recurrent, bias, tf.zeros([self.batch_size, cell.units])

    def _unrolled(self, layer, x, lengths):
        """Any rnn_zoo cell: its step over the fixed length, built-in ops only."""
        import tensorflow as tf

        cell = layer.cell
        weights = cell.step_weights(x.dtype)
        projected = cell.project_inputs(x, weights)
        states = [
            tf.convert_to_tensor(s) for s in cell.get_initial_state(self.batch_size)
        ]
        outputs = []
        for t in range(self.length):
            output, new_states = cell.step(projected[:, t], states, weights, None)
            valid = (t < lengths)[:, None]
            states = [tf.where(valid, n, s) for n, s in zip(new_states, states)]
            outputs.append(output)
        return tf.stack(outputs, axis=1)

    def _bidirectional(self, layer, x, mask, kwargs):
        import tensorflow as tf

        from rnn_zoo.layers.bidirectional import _merge

        forward, backward = layer.forward_layer, layer.backward_layer
        if layer.return_state or layer.merge_mode is None:
            raise ExportError(
                f"Layer '{layer.name}' (Bidirectional) cannot be exported to LiteRT "
                "with return_state=True or merge_mode=None."
            )
        check_recurrent(forward, kwargs, "LiteRT")
        lengths = self._lengths(x, mask)
        out_f = self._finish(forward, self._sequence(forward, x, lengths), lengths)
        reverse = tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)
        steps = self._sequence(backward, reverse, lengths)
        if layer.return_sequences:
            # Back in time order; padded steps are zeros, as Keras's backward layer.
            out_b = tf.reverse_sequence(steps, lengths, seq_axis=1, batch_axis=0)
            valid = tf.sequence_mask(lengths, self.length, dtype=out_b.dtype)
            out_b = out_b * valid[:, :, None]
        else:
            out_b = self._finish(backward, steps, lengths)
        return _merge(out_f, out_b, layer.merge_mode)


# The export -----------------------------------------------------------------


def export_litert(
    model: keras.Model,
    path,
    quantize: str | None = None,
    representative_data=None,
    *,
    batch_size: int = 1,
    max_length: int | None = None,
) -> str:
    """Writes ``model`` as a ``.tflite`` file of LiteRT built-in ops only.

    rnn_zoo's ``LSTM`` layers become ``UNIDIRECTIONAL_SEQUENCE_LSTM``,
    ``SimpleRNN`` layers ``UNIDIRECTIONAL_SEQUENCE_RNN`` (both directions of a
    ``Bidirectional`` one each); other rnn_zoo cells run their own step
    unrolled in built-in ops. No Flex (TensorFlow) op is ever allowed.

    Args:
        model: a functional Keras model with one input, token ids
            ``(batch, timesteps)`` or features ``(batch, timesteps, features)``,
            right-padded (the builders' models).
        path: the ``.tflite`` file to write; it must not exist.
        quantize: ``None`` (float32), ``"dynamic"`` (int8 weights, float
            activations) or ``"int8"`` (weights and activations, calibrated on
            ``representative_data``; float where an op has no int8 kernel).
        representative_data: for ``"int8"``: a sample of training inputs
            (``(n, timesteps)`` ids or ``(n, timesteps, features)``).
        batch_size: the file's fixed batch size (the fused LSTM needs one).
        max_length: the file's fixed number of timesteps, for a model whose
            input length is not fixed.

    Returns:
        ``path``.
    """
    import tensorflow as tf

    from rnn_zoo import _checks

    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    if max_length is not None:
        max_length = _checks.check_positive_int(max_length, "max_length")
    calibration = _check_quantize(quantize, representative_data)
    path = check_output_path(path)
    if not isinstance(model, keras.Model) or not hasattr(model, "_run_through_graph"):
        raise TypeError(
            "`model` must be a functional Keras model (the builders' models). "
            f"Received: {type(model).__name__}"
        )
    spec = _input_spec(model, batch_size, max_length)
    graph = _Graph(model, batch_size, spec.shape[1])
    names = list(model.output_names)

    def serve(inputs):
        outputs = graph(inputs)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return dict(zip(names, outputs))

    function = tf.function(serve, input_signature=[spec], autograph=False)
    holder = tf.Module()
    holder.serve = function
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()], holder
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = True  # the RNN's custom op, rewritten below
    if quantize is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "int8":
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS,
        ]
        converter.representative_dataset = _calibration(calibration, spec)
    try:
        content = converter.convert()
    except Exception as error:  # noqa: BLE001 - the converter's own error class
        raise ExportError(
            f"`model` {model.name!r} cannot be converted to LiteRT built-in ops: "
            f"{str(error).strip().splitlines()[-1]}"
        ) from None
    content = fuse_rnn(content)
    foreign = sorted({op for op in litert_ops(content) if op.startswith("CUSTOM:")})
    if foreign:
        raise ExportError(
            f"`model` {model.name!r} needs ops LiteRT does not build in: {foreign}"
        )
    write_atomically(path, content)
    return path


def _calibration(data, spec):
    dtype = spec.dtype.as_numpy_dtype
    batch = spec.shape[0]

    def batches():
        for start in range(0, len(data) - batch + 1, batch):
            yield [np.asarray(data[start : start + batch], dtype)]

    return batches


def litert_predict(path, inputs) -> np.ndarray | dict:
    """Runs a ``.tflite`` file from :func:`export_litert` in LiteRT's interpreter.

    ``inputs`` of any number of rows is fed in the file's batch size (the last
    batch padded); the fused ops' states are reset before each call. Returns
    the output array (a dict of arrays for several outputs).
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=os.fspath(path))
    interpreter.allocate_tensors()
    runner = interpreter.get_signature_runner()
    ((name, detail),) = runner.get_input_details().items()
    batch = int(detail["shape"][0])
    inputs = np.asarray(inputs, dtype=detail["dtype"])
    results = {}
    for start in range(0, len(inputs), batch):
        chunk = inputs[start : start + batch]
        rows = len(chunk)
        if rows < batch:
            chunk = np.concatenate(
                [chunk, np.zeros((batch - rows, *chunk.shape[1:]), chunk.dtype)]
            )
        interpreter.reset_all_variables()
        for key, value in runner(**{name: chunk}).items():
            results.setdefault(key, []).append(value[:rows])
    results = {key: np.concatenate(value) for key, value in results.items()}
    return next(iter(results.values())) if len(results) == 1 else results
