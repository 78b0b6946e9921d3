"""Streaming SavedModels: a causal model advanced one chunk at a time, its state carried.

A stream (speech, a sensor, a user typing) arrives in chunks, and a causal
recurrent model can answer after each one in constant memory: it needs only
its states. :func:`export_streaming` writes a SavedModel whose signatures
start a stream and advance it by one chunk of any length, with every state
in the inputs and the outputs, so the server keeps no session:

- ``initial_states``: input ``batch_size`` (int32 scalar), or the model's
  context inputs where its states start from them (a conditioned
  generator's ``condition``); outputs ``state_0``, ``state_1``, ...
- ``step`` (also ``serving_default``): the chunk (the model's own sequence
  input of any length, or raw strings with ``vocabulary``) and every
  ``state_i``; outputs the model's outputs for the chunk (per step where the
  model answers per step, else its answer for everything read so far) and
  the new ``state_i``.

Feeding a sequence chunk by chunk gives the outputs of the whole sequence at
once, masked steps included. Each recurrent layer carries its cell's states
and its last output (which a masked step repeats); the export runs rnn_zoo's
own layers with ``initial_state`` and ``return_state``, so the weights and
kernels are the model's.

Only causal models stream: unidirectional rnn_zoo layers and forward
``StackedRNN`` stacks, and around them layers that act on each timestep
alone (embeddings, dense layers, dropout, masking, ...). Anything that looks
ahead (a bidirectional layer, a backward layer, attention pooling, a CRF,
a convolution over time) is refused by name with the reason.

Example:

>>> import numpy as np, tensorflow as tf
>>> from rnn_zoo import build_classifier
>>> model = build_classifier(3, vocab_size=10, units=4)
>>> path = export_streaming(model, "/tmp/rnn_zoo_streaming_doctest", overwrite=True)
>>> served = tf.saved_model.load(path)
>>> states = served.initial_states(batch_size=tf.constant(2))
>>> answer = served.step(token_ids=tf.constant([[3, 4], [5, 0]]), **states)
>>> answer["probabilities"].shape  # (batch, classes): the answer so far
TensorShape([2, 3])
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence

import keras
from keras import ops, tree

from rnn_zoo.export import _archive
from rnn_zoo.layers import RNN, Bidirectional, StackedRNN
from rnn_zoo.layers.embedding import TokenEmbedding

# Layers that act on each timestep alone: streamed chunk by chunk they give
# what they give on the whole sequence.
_PER_STEP = (
    keras.layers.Activation,
    keras.layers.AlphaDropout,
    keras.layers.BatchNormalization,
    keras.layers.Dense,
    keras.layers.Dropout,
    keras.layers.Embedding,
    keras.layers.GaussianDropout,
    keras.layers.GaussianNoise,
    keras.layers.LeakyReLU,
    keras.layers.Masking,
    keras.layers.ReLU,
    keras.layers.Softmax,
    TokenEmbedding,
)

# keras.ops that the graph records around the layers (mask computations):
# elementwise, or reductions over the feature axis only.
_ELEMENTWISE_OPS = frozenset(
    "Add Cast Equal Greater GreaterEqual Less LessEqual LogicalAnd LogicalNot "
    "LogicalOr Multiply NotEqual Subtract".split()
)
_FEATURE_REDUCTIONS = frozenset(("All", "Any", "Max", "Mean", "Min", "Sum"))

# Why the look-ahead layers rnn_zoo has cannot stream.
_LOOKS_AHEAD = {
    "AttentionPooling": "it pools over every step of the whole sequence",
    "CRF": "its Viterbi decoding chooses each tag from the whole sequence",
    "AttentionDecoder": "it attends over the whole source sequence",
    "AutoregressiveRollout": (
        "it rolls its forecast out from the end of the whole history "
        "(build the forecaster with mode='direct' to stream it)"
    ),
}


class StreamingError(ValueError):
    """A model that cannot stream; the message names the layer and why."""


def _not_streamable(layer, why: str) -> StreamingError:
    return StreamingError(
        f"Layer '{layer.name}' ({type(layer).__name__}) cannot stream: {why}. "
        "Streaming needs a causal model: unidirectional rnn_zoo recurrent "
        "layers and layers that act on each timestep alone."
    )


class _Layer:
    """One streamed recurrent layer: a twin of the model's layer on the same cell."""

    def __init__(self, layer: RNN):
        # The same cell object, so the same weights; a twin that returns every
        # step and its states (the model's layer may return neither).
        self.layer = layer
        self.twin = RNN(
            layer.cell,
            return_sequences=True,
            return_state=True,
            zero_output_for_mask=layer.zero_output_for_mask,
            # The reference loop: a fused kernel compiles with XLA once per
            # chunk length (9 one-step chunks through 11 cells: 29 s fused,
            # 4.4 s reference, on a loaded shared 2-core machine); results
            # agree to rounding (tests/layers/test_kernels.py).
            implementation="reference",
            name=f"{layer.name}_streaming",
            dtype=layer.dtype_policy,
        )
        sizes = [(s,) if isinstance(s, int) else tuple(s) for s in layer.state_size]
        # The carried output: what a masked step at the start of a chunk repeats.
        self.sizes = [*sizes, layer._output_size()]
        self.names = [f"{layer.name}/state_{i}" for i in range(len(sizes))] + [
            f"{layer.name}/output"
        ]

    def zeros(self, batch_size) -> list:
        dtype = self.layer.compute_dtype
        return [ops.zeros((batch_size, *size), dtype) for size in self.sizes]

    def __call__(self, x, states, mask):
        *cell_states, last = states
        outputs, *new_states = self.twin(x, initial_state=cell_states, mask=mask)
        if mask is not None and not self.layer.zero_output_for_mask:
            # The twin's masked steps before the chunk's first real step repeat
            # zeros; in the whole sequence they repeat the previous chunk's output.
            seen = ops.cumsum(ops.cast(mask, "int32"), axis=1) > 0
            outputs = ops.where(seen[:, :, None], outputs, last[:, None, :])
        last = outputs[:, -1]
        return outputs, [*new_states, last]


class _Recurrent:
    """A streamed recurrent node of the model: one layer, or a forward stack."""

    def __init__(self, layer):
        self.layer = layer
        if isinstance(layer, StackedRNN):
            self.parts = [_Layer(inner) for inner in layer.rnn_layers]
            self.residual = [layer._residual_applies(i) for i in range(len(self.parts))]
        else:
            self.parts = [_Layer(layer)]
            self.residual = [False]
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state

    @property
    def sizes(self) -> list:
        return [size for part in self.parts for size in part.sizes]

    @property
    def names(self) -> list:
        return [name for part in self.parts for name in part.names]

    def initial(self, batch_size, given) -> list:
        """Every part's states; ``given`` (the model's initial_state) where it has one."""
        given = None if given is None else list(tree.flatten(given))
        states = []
        for part in self.parts:
            zeros = part.zeros(batch_size)
            count = len(zeros) - 1
            if given is not None:
                zeros[:count] = [ops.cast(s, zeros[0].dtype) for s in given[:count]]
                given = given[count:]
            states += zeros
        return states

    def __call__(self, x, states, mask):
        new_states = []
        outputs = x
        for part, residual in zip(self.parts, self.residual):
            count = len(part.sizes)
            step_in = outputs
            outputs, part_states = part(step_in, states[:count], mask)
            states = states[count:]
            if residual:
                outputs = outputs + step_in
            new_states += part_states
        result = outputs if self.return_sequences else outputs[:, -1]
        if not self.return_state:
            return result, new_states
        # The model's layer returns its cells' states, without the outputs.
        cell_states, offset = [], 0
        for part in self.parts:
            cell_states += new_states[offset : offset + len(part.sizes) - 1]
            offset += len(part.sizes)
        return [result, *cell_states], new_states


def _check_layer(layer, timed: bool):
    """The streamed node for ``layer``, None for a per-step layer, or raises."""
    if isinstance(layer, Bidirectional) or (
        isinstance(layer, StackedRNN) and layer.bidirectional
    ):
        raise _not_streamable(
            layer,
            "it is bidirectional: its backward direction reads the sequence "
            "from its end, which a stream has not reached",
        )
    if isinstance(layer, RNN):
        if layer.go_backwards:
            raise _not_streamable(
                layer, "it has go_backwards=True: it reads the sequence from its end"
            )
        return _Recurrent(layer)
    if isinstance(layer, StackedRNN):
        return _Recurrent(layer)
    if not timed or isinstance(layer, keras.layers.InputLayer):
        return None
    if not isinstance(layer, keras.layers.Layer):  # a keras.ops operation
        kind = type(layer).__name__
        axis = getattr(layer, "axis", None)
        axes = tuple(tree.flatten(axis)) if axis is not None else ()
        if kind in _ELEMENTWISE_OPS or (kind in _FEATURE_REDUCTIONS and axes == (-1,)):
            return None
        raise _not_streamable(
            layer, f"the operation {kind} is not known to act on each timestep alone"
        )
    if isinstance(layer, keras.layers.RNN | keras.layers.Bidirectional):
        raise _not_streamable(
            layer,
            "it is Keras's own recurrent layer; rnn_zoo streams its own "
            "layers (rnn_zoo.layers.LSTM etc. take the same weights)",
        )
    if type(layer).__name__ in _LOOKS_AHEAD:
        raise _not_streamable(layer, _LOOKS_AHEAD[type(layer).__name__])
    if isinstance(layer, keras.layers.LayerNormalization) and tuple(
        a % 3 for a in layer.axis
    ) == (2,):
        return None
    if not isinstance(layer, _PER_STEP):
        raise _not_streamable(
            layer,
            "it is not known to act on each timestep alone, so it may "
            "look ahead or across the sequence (a convolution, pooling, "
            "attention or reshaping over time)",
        )
    return None


_RECURRENT = (RNN, StackedRNN, Bidirectional)


def _node_inputs(node) -> list:
    """The tensors a layer call reads; a recurrent layer's sequence and mask only."""
    if isinstance(node.operation, _RECURRENT) and node.arguments.args:
        mask = node.arguments.kwargs.get("mask")
        return [tree.flatten(node.arguments.args)[0]] + (
            [mask] if isinstance(mask, keras.KerasTensor) else []
        )
    return list(node.input_tensors)


def _nodes(model):
    """The model's layer calls in the order the model runs them (Keras's own
    order: ``Functional._run_through_graph``, deepest first)."""
    depth_nodes = model._nodes_by_depth
    for depth in sorted(depth_nodes, reverse=True):
        for node in depth_nodes[depth]:
            if node.operation is not None and not node.is_input:
                yield node


class StreamingModel:
    """A causal Keras model split into ``initial_states`` and ``step`` functions.

    Checks the model when it is made (a layer that cannot stream raises a
    :class:`StreamingError` naming it and why). Runs on any backend; the
    export wraps its two functions in a SavedModel.

    Args:
        model: a functional Keras model of rnn_zoo layers (a
            :func:`rnn_zoo.build_classifier`, ``build_tagger``,
            ``build_forecaster`` (direct) or ``build_generator`` model).

    Attributes:
        chunk_inputs: the model inputs that arrive in chunks (their time axis
            is the stream's).
        context_inputs: the other inputs ``initial_states`` reads (a
            generator's condition).
        state_names: ``layer/state_i`` and ``layer/output`` of each state, in order.
        state_sizes: each state's shape without the batch axis.
        state_dtypes: each state's dtype (its layer's compute dtype).
    """

    def __init__(self, model: keras.Model):
        if not isinstance(model, keras.Model) or not hasattr(model, "_nodes_by_depth"):
            raise TypeError(
                "`model` must be a functional keras.Model (keras.Model(inputs, "
                f"outputs), as rnn_zoo's builders make). Received: model={model!r}"
            )
        self.model = model
        # Which model inputs each tensor reads, following the graph once; a
        # recurrent layer's outputs read its sequence only (the stream carries
        # its states).
        reads: dict[int, set] = {id(x): {id(x)} for x in model.inputs}
        sequence_inputs: set = set()
        context: set = set()
        for node in _nodes(model):
            ins = _node_inputs(node)
            if isinstance(node.operation, _RECURRENT):
                sequence_inputs |= reads.get(id(ins[0]), set())
                for x in tree.flatten(node.arguments.kwargs.get("initial_state")):
                    context |= reads.get(id(x), set())
            read = set().union(*(reads.get(id(x), set()) for x in ins))
            for out in node.outputs:
                reads[id(out)] = read
        # Which tensors have the stream's time axis; each layer that reads one
        # must act on each timestep alone, or be a streamable recurrent layer.
        # (A model input is a sequence if a recurrent layer reads it, or if it
        # has a time axis and no recurrent layer starts from it.)
        timed = {
            id(x): id(x) in sequence_inputs
            or (len(x.shape) >= 2 and id(x) not in context)
            for x in model.inputs
        }
        self._streamed: dict[int, _Recurrent] = {}
        for node in _nodes(model):
            is_timed = any(timed.get(id(x), False) for x in _node_inputs(node))
            recurrent = _check_layer(node.operation, is_timed)
            if recurrent is not None:
                self._streamed[id(node)] = recurrent
            for i, out in enumerate(node.outputs):
                timed[id(out)] = (
                    recurrent.return_sequences and i == 0
                    if recurrent is not None
                    else is_timed
                )
        if not self._streamed:
            raise StreamingError(
                f"Model '{model.name}' has no recurrent layer to stream: nothing "
                "carries state from one chunk to the next"
            )
        self.chunk_inputs = [x for x in model.inputs if id(x) in sequence_inputs]
        self.context_inputs = [
            x for x in model.inputs if id(x) in context and id(x) not in sequence_inputs
        ]
        needed = set().union(*(reads.get(id(x), set()) for x in model.outputs))
        others = [
            x for x in model.inputs if id(x) in needed and id(x) not in sequence_inputs
        ]
        if others:
            raise StreamingError(
                f"Model '{model.name}' reads the input(s) "
                f"{[x.name for x in others]} beside the sequence at every chunk; "
                "a stream carries only the sequence and the states"
            )
        self.output_timed = [timed.get(id(x), False) for x in model.outputs]
        self._order = [self._streamed[key] for key in self._streamed]
        self.state_names = [n for r in self._order for n in r.names]
        self.state_sizes = [s for r in self._order for s in r.sizes]
        self.state_dtypes = [
            part.layer.compute_dtype
            for r in self._order
            for part in r.parts
            for _ in part.sizes
        ]

    def initial_states(self, batch_size=None, context=None) -> list:
        """Every state before the first chunk.

        Args:
            batch_size: how many streams (when the model has no context inputs).
            context: the context inputs, a list in ``context_inputs`` order.
        """
        values = {id(x): v for x, v in zip(self.context_inputs, context or [])}
        if context:
            batch_size = ops.shape(context[0])[0]
        given = {}
        for node in _nodes(self.model):
            recurrent = self._streamed.get(id(node))
            if recurrent is not None:
                init = node.arguments.kwargs.get("initial_state")
                if init is not None and all(
                    id(x) in values for x in tree.flatten(init)
                ):
                    given[id(node)] = [values[id(x)] for x in tree.flatten(init)]
                continue
            if not values or any(id(x) not in values for x in node.input_tensors):
                continue
            args, kwargs = node.arguments.fill_in(values)
            for x, y in zip(
                node.outputs, tree.flatten(node.operation(*args, **kwargs))
            ):
                values[id(x)] = y
        states = []
        for key, recurrent in self._streamed.items():
            states += recurrent.initial(batch_size, given.get(key))
        return states

    def step(self, chunks: list, states: list) -> tuple[list, list]:
        """Advances every stream by one chunk.

        Args:
            chunks: the chunk of each of ``chunk_inputs``, ``(batch, steps, ...)``.
            states: every state, in ``state_names`` order.

        Returns:
            ``(outputs, new_states)``: the model's outputs (flat, in its output
            order) and every new state.
        """
        from keras.src.backend import get_keras_mask

        values = {id(x): v for x, v in zip(self.chunk_inputs, chunks)}
        states = list(states)
        new_states: dict[int, list] = {}
        for node in _nodes(self.model):
            recurrent = self._streamed.get(id(node))
            if recurrent is not None:
                x, *mask = [values[id(t)] for t in _node_inputs(node)]
                if mask:
                    mask = mask[0]
                elif len(node.input_tensors) == 1:
                    # Keras's rule (Layer.__call__): a call with one tensor
                    # argument gets that tensor's mask; one with more
                    # (initial_state=...) gets none.
                    mask = get_keras_mask(x)
                else:
                    mask = None
                count = len(recurrent.sizes)
                offset = sum(
                    len(r.sizes) for r in self._order[: self._order.index(recurrent)]
                )
                result, new = recurrent(x, states[offset : offset + count], mask)
                new_states[id(node)] = new
                for out, y in zip(node.outputs, tree.flatten(result)):
                    values[id(out)] = y
                continue
            if any(id(x) not in values for x in node.input_tensors):
                continue
            args, kwargs = node.arguments.fill_in(values)
            for x, y in zip(
                node.outputs, tree.flatten(node.operation(*args, **kwargs))
            ):
                values[id(x)] = y
        outputs = [values[id(x)] for x in self.model.outputs]
        return outputs, [s for key in self._streamed for s in new_states[key]]


def _check_target(filepath, overwrite: bool) -> str:
    path = os.path.abspath(os.fspath(filepath))
    if os.path.lexists(path) and not overwrite:
        raise ValueError(
            f"`filepath` must be a new directory: the export does not write over "
            f"what is there. Received: filepath={os.fspath(filepath)!r}, which exists "
            "(remove it, or pass overwrite=True)"
        )
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as error:
        raise ValueError(
            f"`filepath` must be in a writable directory. Received: "
            f"filepath={os.fspath(filepath)!r} ({error})"
        ) from None
    return path


def export_streaming(
    model: keras.Model,
    filepath: str | os.PathLike,
    *,
    vocabulary: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    overwrite: bool = False,
    verbose: bool = False,
) -> str:
    """Writes a causal model as a streaming SavedModel: initial states, then one chunk at a time.

    Signatures (every state is an input and an output; the caller carries them):

    - ``initial_states``: input ``batch_size`` (int32 scalar, at least 1), or
      the model's context inputs where its states start from them (a
      conditioned :func:`rnn_zoo.build_generator`'s ``condition``, whose
      length is the batch); outputs ``state_0``, ``state_1``, ...
    - ``step`` (also ``serving_default``): the chunk, the model's sequence
      input with any number of steps (``token_ids`` ``(batch, steps)``,
      ``features`` ``(batch, steps, features)``, ...; with ``vocabulary``:
      ``chunks``, tf.string ``(batch,)``, each row's next characters, which
      may be empty), plus every ``state_i``; outputs the model's outputs
      for the chunk (named after the model's output layers: per step for a
      tagger or a generator, the answer for everything read so far for a
      classifier or a forecaster), ``label`` and ``index`` with ``labels``,
      and the new ``state_i``. A state whose batch differs from the
      chunk's, or that holds NaN or infinity, fails the call
      (``InvalidArgumentError`` naming the state).
    - ``state_names``: no input; output ``names``, tf.string: which layer
      each ``state_i`` belongs to (``lstm/state_0``, ``lstm/output``, ...).

    The directory is written beside ``filepath`` and moved into place when
    it is complete, so a failed export leaves nothing behind.

    Args:
        model: a causal functional model of rnn_zoo layers (see
            :class:`StreamingModel`); a layer that cannot stream raises a
            :class:`StreamingError` (a ``ValueError``) naming it and why.
        filepath: the SavedModel directory to write; it must not exist.
        vocabulary: the characters of a character-level model
            (``vocabulary[i]`` has id ``i + 2``, as
            :func:`rnn_zoo.data.names.encode` assigns them; others map to the
            OOV id 1): the chunks are then raw strings.
        labels: a classifier's class names: ``step`` also gives ``label``
            and ``index``.
        overwrite: replace an existing ``filepath``.
        verbose: print ExportArchive's summary.

    Returns:
        ``filepath`` as a string.
    """
    import tensorflow as tf

    from rnn_zoo.data.names import FIRST_CHAR_ID, OOV_ID, PAD_ID

    streaming = StreamingModel(model)
    target = _check_target(filepath, bool(overwrite))
    chunk_specs = [
        tf.TensorSpec((None, None, *x.shape[2:]), x.dtype, name=x.name)
        for x in streaming.chunk_inputs
    ]
    track = [model]
    preprocess = None
    if vocabulary is not None:
        vocabulary = _archive._check_strings(vocabulary, "vocabulary")
        ids = streaming.chunk_inputs
        if len(ids) != 1 or "int" not in str(ids[0].dtype) or len(ids[0].shape) != 2:
            raise ValueError(
                "`vocabulary` turns raw strings into the ids of a model with one "
                "token input (batch, steps). Received: a model whose chunk inputs "
                f"are {[(x.name, tuple(x.shape), str(x.dtype)) for x in ids]}"
            )
        table = _archive._char_table(vocabulary, FIRST_CHAR_ID, OOV_ID)
        track.append(table)
        chunk_specs = [tf.TensorSpec((None,), tf.string, name="chunks")]

        def preprocess(chunks):
            chars = tf.strings.unicode_split(chunks, "UTF-8", errors="replace")
            ids = tf.ragged.map_flat_values(table.lookup, chars)
            # At least one step: a chunk of empty strings is one masked step.
            width = tf.maximum(tf.reduce_max(ids.row_lengths()), 1)
            shape = tf.stack([ids.nrows(), width])
            return [tf.cast(ids.to_tensor(default_value=PAD_ID, shape=shape), "int32")]

    if labels is not None:
        labels = _archive._check_strings(labels, "labels")
        classes = model.outputs[0].shape[-1]
        if (
            len(model.outputs) != 1
            or streaming.output_timed[0]
            or classes != len(labels)
        ):
            raise ValueError(
                "`labels` names the classes of a classifier's one output "
                f"(batch, classes). Received: {len(labels)} labels for outputs "
                f"{[tuple(x.shape) for x in model.outputs]}"
            )
        label_names = tf.constant(labels)
    state_specs = [
        tf.TensorSpec((None, *size), dtype, name=f"state_{i}")
        for i, (size, dtype) in enumerate(
            zip(streaming.state_sizes, streaming.state_dtypes)
        )
    ]
    state_keys = [spec.name for spec in state_specs]
    output_keys = list(model.output_names)

    def initial(*inputs):
        if streaming.context_inputs:
            states = streaming.initial_states(context=list(inputs))
        else:
            (batch_size,) = inputs
            tf.debugging.assert_positive(
                batch_size, message="`batch_size` must be at least 1"
            )
            states = streaming.initial_states(batch_size)
        return dict(zip(state_keys, states))

    def step(*inputs):
        chunks = list(inputs[: len(chunk_specs)])
        states = list(inputs[len(chunk_specs) :])
        if preprocess is not None:
            chunks = preprocess(*chunks)
        batch = tf.shape(chunks[0])[0]
        checks = []
        for key, state in zip(state_keys, states):
            checks.append(
                tf.debugging.assert_equal(
                    tf.shape(state)[0],
                    batch,
                    message=f"`{key}` must have the chunk's batch size",
                )
            )
            checks.append(
                tf.debugging.assert_all_finite(state, f"`{key}` must be finite")
            )
        with tf.control_dependencies(checks):
            states = [tf.identity(s) for s in states]
        outputs, new_states = streaming.step(chunks, states)
        answer = dict(zip(output_keys, outputs))
        if labels is not None:
            index = tf.argmax(outputs[0], axis=-1, output_type=tf.int32)
            answer.update(label=tf.gather(label_names, index), index=index)
        answer.update(zip(state_keys, new_states))
        return answer

    def names():
        return {"names": tf.constant(streaming.state_names)}

    if streaming.context_inputs:
        initial_specs = [
            tf.TensorSpec((None, *x.shape[1:]), x.dtype, name=x.name)
            for x in streaming.context_inputs
        ]
    else:
        initial_specs = [tf.TensorSpec((), tf.int32, name="batch_size")]
    step_specs = chunk_specs + state_specs
    _archive._named(initial, [spec.name for spec in initial_specs])
    _archive._named(step, [spec.name for spec in step_specs])
    partial = tempfile.mkdtemp(
        prefix=f".{os.path.basename(target)}.partial-", dir=os.path.dirname(target)
    )
    try:
        written = os.path.join(partial, "saved_model")
        _archive._write_archive(
            written,
            track,
            [
                ("step", step, step_specs),
                ("initial_states", initial, initial_specs),
                ("state_names", names, []),
            ],
            verbose,
        )
        if os.path.lexists(target):
            shutil.rmtree(target)
        os.replace(written, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return os.fspath(filepath)
