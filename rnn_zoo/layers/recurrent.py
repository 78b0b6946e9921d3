"""RNN: the layer that runs a one-step cell over time, and the cell-name registry.

A cell (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``) owns the weights and the
math of one step. ``RNN`` owns time: masking, initial and stateful states,
``go_backwards``, dropout masks that stay fixed across time; the kernel that
runs the loop comes from :mod:`rnn_zoo.kernels.select`.

Every cell splits its step in two so that the sequence layer can hoist the
input projection out of the loop: ``project_inputs`` (one large matrix product
over all timesteps) and ``step`` (the recurrent part). ``call`` chains the two,
so the cells also work one step at a time and inside ``keras.layers.RNN``.
"""

from __future__ import annotations

import inspect

import keras
from keras import ops, regularizers, tree

from rnn_zoo import _checks
from rnn_zoo.kernels import CellSpec, run_reference, select
from rnn_zoo.layers import _timespans
from rnn_zoo.layers.cell import RecurrentCell

_SEQUENCE_LAYERS: dict[str, type] = {}


def register_sequence_layer(name: str):
    """Registers a sequence-layer class under a cell name (``"lstm"``, ...).

    Builders look cells up by these names, so a newly registered cell is
    available to every builder at once.
    """

    def decorator(cls):
        _SEQUENCE_LAYERS[name] = cls
        return cls

    return decorator


def cell_names() -> list[str]:
    """The cell names that builders accept, e.g. ``["gru", "lstm", "simple"]``."""
    return sorted(_SEQUENCE_LAYERS)


def get_sequence_layer(name: str) -> type:
    """Returns the sequence-layer class registered as ``name``."""
    if not isinstance(name, str) or name.lower() not in _SEQUENCE_LAYERS:
        raise ValueError(
            f"Unknown `cell`: expected one of {cell_names()!r}. Received: cell={name!r}"
        )
    return _SEQUENCE_LAYERS[name.lower()]


class _CarriedStates(keras.layers.Layer):
    """Holds a stateful layer's states between calls, as non-trainable variables.

    Tracked variables, so that a jitted ``fit``/``predict`` on JAX carries them
    too; not part of the layer's config (the layer makes it in ``build``).
    """

    def __init__(self, sizes, batch_size, **kwargs):
        super().__init__(**kwargs)
        # An int per state, or a state's shape without the batch axis.
        self.sizes = [(s,) if isinstance(s, int) else tuple(s) for s in sizes]
        self.batch_size = batch_size
        self.values = None

    def build(self, input_shape=None):
        self.values = [
            self.add_weight(
                shape=(self.batch_size, *size),
                initializer="zeros",
                trainable=False,
                name=f"state_{i}",
            )
            for i, size in enumerate(self.sizes)
        ]
        self.built = True


# The arguments a sequence layer owns itself; the rest configure its cell.
_SEQUENCE_ARGS = (
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "zero_output_for_mask",
    "implementation",
    "use_cudnn",
)


def _implementation(implementation, kwargs) -> str:
    """The ``implementation`` argument, or its old name ``kernel`` (old ``.keras`` files)."""
    if "kernel" in kwargs:
        old = kwargs.pop("kernel")
        if implementation not in ("auto", old):
            raise ValueError(
                "`kernel` is the old name of `implementation`; pass one of them. "
                f"Received: implementation={implementation!r}, kernel={old!r}"
            )
        implementation = old
    return select.check_implementation(implementation)


def _check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, int)) or value not in (0, 1):
        raise TypeError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return bool(value)


def _check_cell(cell, name: str) -> None:
    if isinstance(cell, RecurrentCell):
        return
    if not hasattr(cell, "state_size") or not callable(cell):
        raise TypeError(
            "`cell` must be a recurrent cell: an rnn_zoo cell or a Keras-style "
            "cell with `state_size` and `call(inputs, states)` (or a list of "
            f"them). Received: {name}={cell!r}"
        )


def _keras_state_size(cell) -> list:
    """A cell's ``state_size`` as Keras's ``RNN`` reads it: a list with one
    entry per state, each an int or a nested list (a stacked cell's states)."""
    size = cell.state_size
    return [size] if isinstance(size, int) else list(size)


def _takes_training(cell) -> bool:
    call = getattr(cell, "call", cell)
    try:
        parameters = inspect.signature(call).parameters
    except (TypeError, ValueError):
        return False
    return "training" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def _dropout_masks(cell, inputs, states, reset: bool = False) -> None:
    """Draws (or drops) a Keras cell's dropout masks once per sequence, as
    ``keras.layers.RNN`` does, so that they stay fixed over time."""
    if hasattr(cell, "get_dropout_mask") and hasattr(cell, "reset_dropout_mask"):
        if reset:
            cell.reset_dropout_mask()
            cell.reset_recurrent_dropout_mask()
        else:
            cell.get_dropout_mask(inputs)
            first = states[0] if isinstance(states, (list, tuple)) else states
            cell.get_recurrent_dropout_mask(first)
    for i, inner in enumerate(getattr(cell, "cells", None) or []):
        inner_states = states[i] if not reset else None
        _dropout_masks(inner, inputs, inner_states, reset)
        if not reset:
            # The next cell reads this one's output, as in StackedRNNCells.call.
            inner_states = (
                list(inner_states) if tree.is_nested(inner_states) else [inner_states]
            )
            inputs, _ = inner(inputs, inner_states)


@keras.saving.register_keras_serializable(package="rnn_zoo")
class RNN(keras.layers.Layer):
    """Runs a recurrent cell over the time axis of a sequence.

    The sequence layers ``SimpleRNN``, ``LSTM`` and ``GRU`` are ``RNN`` with
    their cell built from their own arguments. ``RNN`` takes any rnn_zoo cell,
    and, like ``keras.layers.RNN``, any Keras-style cell: an object with
    ``state_size`` and ``call(inputs, states[, training])`` returning
    ``(output, new_states)`` (``keras.layers.LSTMCell``, a cell of your own, a
    list of cells, which it stacks in ``keras.layers.StackedRNNCells``).
    A Keras-style cell runs on the reference loop (``rnn_zoo.explain`` says
    so) with rnn_zoo's masking, ``stateful``, ``go_backwards``,
    ``return_state`` and ``initial_state`` semantics.

    Args:
        cell: an rnn_zoo ``RecurrentCell``, a Keras-style cell, or a list of
            cells. A Keras-style cell's ``state_size`` is an int, or a list
            with an int (or a nested list) per state; an optional
            ``output_size`` (default: the first state's size) and
            ``get_initial_state(batch_size)`` (default: zeros) are used
            when present; states of more than one feature axis need
            ``get_initial_state``.
        return_sequences: return the output of every timestep
            ``(batch, timesteps, units)`` instead of the last one
            ``(batch, units)``.
        return_state: also return the final states, as ``[output, *states]``.
        go_backwards: process the sequence in reverse; with
            ``return_sequences`` the outputs come in that reversed order.
        stateful: carry the final states of one batch into the next call as
            its initial states. Needs a fixed batch size
            (``keras.Input(batch_shape=...)``); ``reset_state()`` zeroes them.
        unroll: run the reference loop as a Python loop with one copy of the
            step per timestep (faster for very short sequences, more memory;
            needs a known number of timesteps), as Keras's ``unroll=True``
            does. It rules out the fused kernels.
        zero_output_for_mask: output zeros at masked steps instead of
            repeating the previous output (``Bidirectional`` sets it on its
            layers when they return sequences, as Keras does).
        implementation: how the time loop runs: ``"auto"`` (default) takes
            the fastest kernel that computes exactly this layer on the
            current backend (on TensorFlow a fused sequence op with its own
            backward pass) and falls back to the reference loop otherwise;
            ``"fused"`` raises instead of falling back; ``"reference"``
            always runs the plain ``keras.ops`` loop. Keras's integers 1 and
            2 (``keras.layers.LSTM``'s ``implementation``, how its own loop
            groups the gate products) mean ``"auto"``; ``kernel=`` is read
            as this argument's old name. The weights and results are the
            same either way; ``rnn_zoo.explain`` says which kernel runs and
            why (see :mod:`rnn_zoo.kernels.select`).
        use_cudnn: as in ``keras.layers.LSTM``: ``"auto"`` (default) lets
            ``implementation`` decide; ``False`` rules out the cuDNN kernels
            (another fused kernel or the reference loop runs); ``True``
            runs a cuDNN kernel or raises a ``ValueError`` at the call that
            says why it cannot.

    Call arguments:
        sequences: float tensor ``(batch, timesteps, features)``, at least one
            timestep. A batch of 0 sequences is allowed and gives empty outputs.
        initial_state: list of the cell's states, each ``(batch, units)``.
        mask: boolean ``(batch, timesteps)``, True where a step is real.
            Padding may sit on the right, on the left, or anywhere: a masked
            step leaves the states unchanged and repeats the previous output.
            A mask coming from an ``Embedding(mask_zero=True)`` or ``Masking``
            layer is picked up automatically and passed on when
            ``return_sequences=True``.
        training: enables dropout and recurrent dropout.
        timespans: for a cell that uses time (``cell.uses_time``: ``CfC``,
            ``LTC``), the time elapsed at every step, ``(batch, timesteps)``
            or ``(batch, timesteps, 1)``, positive and finite; 1.0 at every
            step when not given. A masked step's timespan is not read (give
            the time since the last real step at the next real one). Any
            other cell refuses them.

    Example:

    >>> import numpy as np
    >>> from rnn_zoo.layers import RNN, LSTMCell
    >>> layer = RNN(LSTMCell(8), return_sequences=True)
    >>> tuple(layer(np.zeros((2, 5, 3), "float32")).shape)  # (batch, timesteps, units)
    (2, 5, 8)
    """

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        implementation="auto",
        use_cudnn="auto",
        **kwargs,
    ):
        implementation = _implementation(implementation, kwargs)
        use_cudnn = select.check_use_cudnn(use_cudnn)
        unroll = _check_flag(unroll, "unroll")
        if unroll and (implementation == "fused" or use_cudnn is True):
            asked = "use_cudnn=True" if use_cudnn is True else "implementation='fused'"
            raise ValueError(
                f"`unroll=True` runs the reference loop, which rules out {asked}. "
                f"Received: unroll=True, {asked}"
            )
        if implementation == "reference" and use_cudnn is True:
            raise ValueError(
                "`use_cudnn=True` asks for the cuDNN kernel, `implementation="
                "'reference'` for the reference loop; pass one of them. Received: "
                "implementation='reference', use_cudnn=True"
            )
        super().__init__(**kwargs)
        self.implementation = implementation
        self.use_cudnn = use_cudnn
        self.unroll = unroll
        if isinstance(cell, (list, tuple)) and cell:
            for i, one in enumerate(cell):
                _check_cell(one, f"cell[{i}]")
            cell = keras.layers.StackedRNNCells(list(cell))
        _check_cell(cell, "cell")
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self.carried_states = None
        if not select.compiles_with_xla(self.kernel_choice(training=False)):
            # cuDNN's op does not compile with XLA: keep compile()'s
            # jit_compile="auto" from turning XLA on around it, as
            # keras.layers.LSTM does.
            self.supports_jit = False

    @property
    def keras_cell(self) -> bool:
        """Whether the cell is a Keras-style cell rather than an rnn_zoo one."""
        return not isinstance(self.cell, RecurrentCell)

    def _cell_spec(self, training):
        if self.keras_cell:
            return CellSpec.unavailable(
                f"{type(self.cell).__name__} is not an rnn_zoo cell: a Keras-style "
                "cell runs on the reference loop"
            )
        return self.cell.fused_spec(training)

    def kernel_choice(self, training: bool = True, mask=None) -> select.KernelChoice:
        """The kernel this layer runs for a call with ``training`` and ``mask``, and why."""
        return select.choose(
            lambda: self._cell_spec(training),
            units=getattr(self.cell, "units", 0) or 0,
            go_backwards=self.go_backwards,
            return_sequences=self.return_sequences,
            zero_output_for_mask=self.zero_output_for_mask,
            dtype=self.compute_dtype,
            mask=mask,
            implementation=self.implementation,
            use_cudnn=self.use_cudnn,
            unroll=self.unroll,
        )

    @property
    def state_size(self) -> list:
        if self.keras_cell:
            return _keras_state_size(self.cell)
        return self.cell.state_size

    @property
    def units(self):
        return getattr(self.cell, "units", None)

    def _keras_initial_state(self, batch_size, dtype=None) -> list:
        """A Keras-style cell's initial states, in its ``state_size``'s structure."""
        dtype = dtype or getattr(self.cell, "compute_dtype", self.compute_dtype)
        get_initial_state = getattr(self.cell, "get_initial_state", None)
        if get_initial_state is not None:
            states = get_initial_state(batch_size=batch_size)
            return list(states) if tree.is_nested(states) else [states]
        return tree.map_structure(
            lambda size: ops.zeros((batch_size, size), dtype=dtype), self.state_size
        )

    def _carried_sizes(self, batch_size) -> list:
        if not self.keras_cell:
            return self.state_size
        flat = tree.flatten(self.state_size)
        if getattr(self.cell, "get_initial_state", None) is None and all(
            isinstance(size, int) for size in flat
        ):
            return flat
        return [
            tuple(s.shape[1:])
            for s in tree.flatten(self._keras_initial_state(batch_size))
        ]

    @property
    def uses_time(self) -> bool:
        """Whether the cell reads ``timespans``."""
        return _timespans.uses_time(self.cell)

    def build(self, sequences_shape, initial_state_shape=None, timespans_shape=None):
        _checks.check_sequence_shape(sequences_shape, self.name, "sequences")
        self._check_unroll(sequences_shape)
        if timespans_shape is not None:
            self._check_timespans_shape(timespans_shape, sequences_shape)
        step_shape = tuple(sequences_shape[:1]) + tuple(sequences_shape[2:])
        if isinstance(self.cell, keras.layers.Layer) and not self.cell.built:
            self.cell.build(step_shape)
            self.cell.built = True
        if self.stateful:
            batch_size = sequences_shape[0]
            if batch_size is None:
                raise ValueError(
                    f"Layer '{self.name}' is `stateful=True`, which needs a fixed "
                    "batch size: build it with keras.Input(batch_shape=(batch, "
                    f"timesteps, features)). Received: sequences.shape={tuple(sequences_shape)}"
                )
            # A sublayer made after the cell, so that get_weights() keeps the
            # cell's [kernel, recurrent_kernel, bias] first and the carried
            # states come last.
            self.carried_states = _CarriedStates(
                self._carried_sizes(batch_size), batch_size, name="carried_states"
            )
            self.carried_states.build()
        self.built = True

    @property
    def states(self):
        """The carried state variables of a ``stateful`` layer, else ``None``."""
        return None if self.carried_states is None else self.carried_states.values

    def reset_state(self):
        """Zeroes the carried states of a ``stateful`` layer."""
        if self.states is not None:
            for state in self.states:
                # .value: on JAX, zeros_like does not take a Keras Variable.
                state.assign(ops.zeros_like(state.value))

    def reset_states(self):
        self.reset_state()

    def _check_timespans_shape(self, timespans_shape, sequences_shape):
        if not self.uses_time:
            _timespans.refuse_timespans(self.name, self.cell)
        _timespans.check_timespans_shape(timespans_shape, sequences_shape, self.name)

    def _check_call_inputs(self, sequences, initial_state, mask):
        _checks.check_sequence_shape(sequences.shape, self.name, "sequences")
        _checks.check_float(sequences, self.name, "sequences")
        input_dim = getattr(self.cell, "input_dim", None)
        if isinstance(input_dim, int) and sequences.shape[-1] != input_dim:
            raise ValueError(
                f"Layer '{self.name}' was built for sequences with "
                f"{input_dim} features. Received: sequences.shape="
                f"{tuple(sequences.shape)}"
            )
        _checks.check_mask(mask, sequences.shape, self.name)
        self._check_unroll(sequences.shape)
        if initial_state is not None:
            if self.keras_cell:
                initial_state = self._check_keras_initial_state(initial_state)
            else:
                initial_state = _checks.check_initial_state(
                    initial_state, self.state_size, sequences.shape[0], self.name
                )
        if self.stateful and self.states is not None:
            expected = self.states[0].shape[0]
            if sequences.shape[0] is not None and sequences.shape[0] != expected:
                raise ValueError(
                    f"Layer '{self.name}' is stateful with batch size {expected}. "
                    f"Received: sequences.shape={tuple(sequences.shape)}"
                )
        return initial_state

    def _check_unroll(self, sequences_shape):
        if self.unroll and sequences_shape[1] is None:
            raise ValueError(
                f"Layer '{self.name}' has `unroll=True`, which needs a known number "
                "of timesteps: give the input a static time axis (keras.Input("
                "shape=(timesteps, features))). Received: sequences.shape="
                f"{tuple(sequences_shape)}"
            )

    def _check_keras_initial_state(self, initial_state):
        states = (
            list(initial_state) if tree.is_nested(initial_state) else [initial_state]
        )
        expected = len(tree.flatten(self.state_size))
        received = len(tree.flatten(states))
        if len(states) != len(self.state_size) or received != expected:
            raise ValueError(
                f"Layer '{self.name}' expects `initial_state` to be a list of "
                f"{len(self.state_size)} state(s) ({expected} tensor(s)) in the "
                f"structure of its cell's state_size {self.state_size}. Received: "
                f"{received} tensor(s)"
            )
        return states

    def __call__(self, sequences, *args, **kwargs):
        # Keep the sequences' mask when timespans or states come beside them.
        kwargs = _timespans.with_sequences_mask(sequences, args, kwargs)
        return super().__call__(sequences, *args, **kwargs)

    def call(
        self, sequences, initial_state=None, mask=None, training=False, timespans=None
    ):
        initial_state = self._check_call_inputs(sequences, initial_state, mask)
        if timespans is not None:
            if not hasattr(timespans, "shape"):
                timespans = ops.convert_to_tensor(timespans)
            self._check_timespans_shape(timespans.shape, sequences.shape)
            timespans = _timespans.prepare_timespans(
                timespans, sequences.shape, mask, self._time_dtype(), self.name
            )
        if self.keras_cell:
            return self._call_keras_cell(
                sequences, initial_state, mask, training, timespans
            )
        dtype = self.compute_dtype
        batch_size = ops.shape(sequences)[0]
        if initial_state is None:
            if self.stateful:
                initial_state = [ops.cast(s, dtype) for s in self.states]
            else:
                initial_state = self.cell.get_initial_state(batch_size)
        initial_state = [ops.cast(s, dtype) for s in initial_state]

        weights = self.cell.step_weights(dtype)
        input_mask, recurrent_mask = self.cell.dropout_masks(
            batch_size, sequences.shape[-1], dtype, training
        )
        if input_mask is not None:
            sequences = sequences * ops.expand_dims(input_mask, 1)
        noise = self.cell.step_noise(
            batch_size, ops.shape(sequences)[1], dtype, training
        )
        if noise is not None:  # per-step noise, read like the sequence
            weights = dict(weights, step_noise=noise)
        training = bool(training) if isinstance(training, (bool, type(None))) else True

        def reference():
            return self._run_reference(
                sequences, initial_state, weights, recurrent_mask, mask, timespans
            )

        last_output, outputs, states = select.run(
            self.kernel_choice(training, mask),
            sequences,
            initial_state,
            weights,
            mask,
            training=training,
            reference=reference,
            name=self.name,
        )
        return self._finish(last_output, outputs, states)

    def _finish(self, last_output, outputs, states):
        if self.stateful:
            for variable, state in zip(self.states, tree.flatten(states)):
                variable.assign(ops.cast(state, variable.dtype))
        output = outputs if self.return_sequences else last_output
        if self.return_state:
            return [output, *states]
        return output

    def _time_dtype(self):
        return getattr(self.cell, "compute_dtype", None) or self.compute_dtype

    def _call_keras_cell(self, sequences, initial_state, mask, training, timespans):
        cell = self.cell
        dtype = getattr(cell, "compute_dtype", None) or self.compute_dtype
        batch_size = ops.shape(sequences)[0]
        if initial_state is None:
            if self.stateful:
                structure = self._keras_initial_state(batch_size, dtype)
                initial_state = tree.pack_sequence_as(structure, list(self.states))
            else:
                initial_state = self._keras_initial_state(batch_size, dtype)
        initial_state = tree.map_structure(lambda s: ops.cast(s, dtype), initial_state)
        structure = initial_state
        flat_states = tree.flatten(initial_state)
        cell_kwargs = {"training": training} if _takes_training(cell) else {}
        output_size = getattr(cell, "output_size", None)
        if output_size is None:
            initial_output = ops.zeros_like(flat_states[0])
        else:
            shape = (
                (output_size,) if isinstance(output_size, int) else tuple(output_size)
            )
            initial_output = ops.zeros((batch_size, *shape), dtype=dtype)

        def step(x_t, states, dt_t=None):
            time = {} if dt_t is None else {"timespans": dt_t}
            output, new_states = cell(
                x_t,
                tree.pack_sequence_as(structure, list(states)),
                **cell_kwargs,
                **time,
            )
            new_states = new_states if tree.is_nested(new_states) else [new_states]
            return output, tree.flatten(new_states)

        def reference():
            _dropout_masks(cell, sequences[:, 0], initial_state)
            try:
                return run_reference(
                    step,
                    sequences,
                    flat_states,
                    mask=mask,
                    go_backwards=self.go_backwards,
                    return_sequences=self.return_sequences,
                    initial_output=initial_output,
                    zero_output_for_mask=self.zero_output_for_mask,
                    unroll=self.unroll,
                    timespans=timespans,
                )
            finally:
                _dropout_masks(cell, None, None, reset=True)

        last_output, outputs, states = select.run(
            self.kernel_choice(training, mask),
            sequences,
            flat_states,
            {},
            mask,
            training=bool(training),
            reference=reference,
            name=self.name,
        )
        return self._finish(
            last_output, outputs, tree.pack_sequence_as(structure, list(states))
        )

    def _run_reference(
        self, sequences, initial_state, weights, recurrent_mask, mask, timespans=None
    ):
        projected = self.cell.project_inputs(sequences, weights)
        initial_output = None
        if self._output_size() != tuple(initial_state[0].shape[1:]):
            # What a leading masked step repeats, when the output is not the
            # first state's size (an LTC's motor neurons, HamiltonianRNN's [q, p]).
            initial_output = ops.zeros(
                (ops.shape(sequences)[0], *self._output_size()),
                dtype=initial_state[0].dtype,
            )

        def step(x_t, states, dt_t=None):
            if dt_t is None:
                return self.cell.step(x_t, states, weights, recurrent_mask)
            return self.cell.step(x_t, states, weights, recurrent_mask, timespans=dt_t)

        return run_reference(
            step,
            projected,
            initial_state,
            mask=mask,
            go_backwards=self.go_backwards,
            return_sequences=self.return_sequences,
            initial_output=initial_output,
            zero_output_for_mask=self.zero_output_for_mask,
            unroll=self.unroll,
            timespans=timespans,
        )

    def _output_size(self):
        size = getattr(self.cell, "output_size", None)
        if size is None:
            size = tree.flatten(self.state_size)[0]
        return (size,) if isinstance(size, int) else tuple(size)

    def compute_output_shape(
        self, sequences_shape, initial_state_shape=None, timespans_shape=None
    ):
        batch = sequences_shape[0]
        if self.return_sequences:
            output_shape = (batch, sequences_shape[1], *self._output_size())
        else:
            output_shape = (batch, *self._output_size())
        if self.return_state:
            return [output_shape] + tree.map_structure(
                lambda size: (batch, size), self.state_size
            )
        return output_shape

    def compute_mask(self, sequences, mask=None, **kwargs):
        output_mask = None
        if self.return_sequences and mask is not None:
            # The outputs of a backward layer run in reversed time; so does its mask.
            output_mask = ops.flip(mask, axis=1) if self.go_backwards else mask
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "cell": keras.saving.serialize_keras_object(self.cell),
                **{key: getattr(self, key) for key in _SEQUENCE_ARGS},
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)


class CellSequenceLayer(RNN):
    """An ``RNN`` whose cell is built from the layer's own arguments.

    Subclasses set ``cell_class``; their config is the cell's arguments plus the
    sequence arguments, flat, as ``keras.layers.LSTM``'s is.
    """

    cell_class: type = RecurrentCell
    cell_attributes: tuple[str, ...] = (
        "activation",
        "use_bias",
        "kernel_initializer",
        "recurrent_initializer",
        "bias_initializer",
        "kernel_regularizer",
        "recurrent_regularizer",
        "bias_regularizer",
        "kernel_constraint",
        "recurrent_constraint",
        "bias_constraint",
        "dropout",
        "recurrent_dropout",
        "seed",
    )

    # The order of the positional arguments after ``units``; SimpleRNN, LSTM and
    # GRU set keras.layers' own, so that positional Keras code runs unchanged.
    positional_args: tuple[str, ...] = (
        "return_sequences",
        "return_state",
        "go_backwards",
        "stateful",
        "zero_output_for_mask",
        "implementation",
    )
    # Keras Layer arguments that belong to the sequence layer, not to its cell.
    _layer_kwargs = (
        "name",
        "dtype",
        "trainable",
        "input_shape",
        "batch_input_shape",
        "activity_regularizer",
    )

    def __init__(self, units, *args, **kwargs):
        owner = type(self).__name__
        if len(args) > len(self.positional_args):
            raise TypeError(
                f"{owner}: expected at most {len(self.positional_args) + 1} "
                f"positional arguments (units, {', '.join(self.positional_args)}). "
                f"Received: {len(args) + 1}"
            )
        for key, value in zip(self.positional_args, args):
            if key in kwargs:
                raise TypeError(
                    f"{owner}: got `{key}` both by position and by keyword. "
                    f"Received: {key}={value!r} and {key}={kwargs[key]!r}"
                )
            kwargs[key] = value
        sequence_kwargs = {k: kwargs.pop(k) for k in _SEQUENCE_ARGS if k in kwargs}
        if "kernel" in kwargs:  # the old name of `implementation`
            sequence_kwargs["kernel"] = kwargs.pop("kernel")
        layer_kwargs = {k: kwargs.pop(k) for k in self._layer_kwargs if k in kwargs}
        unknown = sorted(set(kwargs) - self._cell_args())
        try:
            if unknown:
                raise TypeError(
                    f"unknown argument(s) {unknown}: expected the arguments of "
                    f"{self.cell_class.__name__} and of RNN. Received: "
                    + ", ".join(f"{k}={kwargs[k]!r}" for k in unknown)
                )
            cell = self.cell_class(
                units, name="cell", dtype=layer_kwargs.get("dtype"), **kwargs
            )
            super().__init__(cell, **sequence_kwargs, **layer_kwargs)
        except (TypeError, ValueError) as exc:
            # Name the layer the user built, not its cell.
            if str(exc).startswith(f"{owner}: "):
                raise
            raise type(exc)(f"{owner}: {exc}") from exc

    @classmethod
    def _cell_args(cls) -> set[str]:
        """The keyword arguments the cell class takes, over its base classes."""
        names = set()
        for klass in cls.cell_class.__mro__:
            if klass is keras.layers.Layer:
                break
            init = vars(klass).get("__init__")
            if init is not None:
                names.update(
                    name
                    for name, p in inspect.signature(init).parameters.items()
                    if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
                )
        return names - {"self", "units"}

    def get_config(self):
        config = keras.layers.Layer.get_config(self)
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype", "implementation"):
            cell_config.pop(key, None)
        config.update(cell_config)
        config.update({key: getattr(self, key) for key in _SEQUENCE_ARGS})
        config["activity_regularizer"] = regularizers.serialize(
            self.activity_regularizer
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __getattr__(self, name):
        # The cell's hyper-parameters read as layer attributes (layer.dropout,
        # layer.activation, ...), as on keras.layers.LSTM. Only called when
        # normal lookup fails; on the torch backend nn.Module's __getattr__
        # is what finds sublayers, so defer to it first.
        parent = getattr(super(), "__getattr__", None)
        if name in type(self).cell_attributes:
            return getattr(self.cell, name)
        if parent is not None:
            return parent(name)
        raise AttributeError(
            f"'{type(self).__name__}' object has no attribute '{name}'"
        )
