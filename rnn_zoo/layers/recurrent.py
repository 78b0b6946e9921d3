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

import keras
from keras import ops

from rnn_zoo import _checks
from rnn_zoo.kernels import run_reference, select
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
        self.sizes = list(sizes)
        self.batch_size = batch_size
        self.values = None

    def build(self, input_shape=None):
        self.values = [
            self.add_weight(
                shape=(self.batch_size, size),
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
    "zero_output_for_mask",
    "implementation",
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


@keras.saving.register_keras_serializable(package="rnn_zoo")
class RNN(keras.layers.Layer):
    """Runs a recurrent cell over the time axis of a sequence.

    The sequence layers ``SimpleRNN``, ``LSTM`` and ``GRU`` are ``RNN`` with
    their cell built from their own arguments; ``RNN`` itself takes any rnn_zoo
    cell.

    Args:
        cell: an rnn_zoo ``RecurrentCell``.
        return_sequences: return the output of every timestep
            ``(batch, timesteps, units)`` instead of the last one
            ``(batch, units)``.
        return_state: also return the final states, as ``[output, *states]``.
        go_backwards: process the sequence in reverse; with
            ``return_sequences`` the outputs come in that reversed order.
        stateful: carry the final states of one batch into the next call as
            its initial states. Needs a fixed batch size
            (``keras.Input(batch_shape=...)``); ``reset_state()`` zeroes them.
        zero_output_for_mask: output zeros at masked steps instead of
            repeating the previous output (``Bidirectional`` sets it on its
            layers when they return sequences, as Keras does).
        implementation: how the time loop runs: ``"auto"`` (default) takes
            the fastest kernel that computes exactly this layer on the
            current backend (on TensorFlow a fused sequence op with its own
            backward pass) and falls back to the reference loop otherwise;
            ``"fused"`` raises instead of falling back; ``"reference"``
            always runs the plain ``keras.ops`` loop. Keras's integers 1 and
            2 (``keras.layers.LSTM``'s ``implementation``) mean ``"auto"``;
            ``kernel=`` is read as this argument's old name. The weights and
            results are the same either way; ``rnn_zoo.explain`` says which
            kernel runs and why (see :mod:`rnn_zoo.kernels.select`).

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
        zero_output_for_mask=False,
        implementation="auto",
        **kwargs,
    ):
        implementation = _implementation(implementation, kwargs)
        super().__init__(**kwargs)
        self.implementation = implementation
        if not isinstance(cell, RecurrentCell):
            raise TypeError(
                "`cell` must be an rnn_zoo RecurrentCell (SimpleRNNCell, LSTMCell, "
                f"GRUCell, ...). Received: cell={cell!r}"
            )
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

    def kernel_choice(self, training: bool = True, mask=None) -> select.KernelChoice:
        """The kernel this layer runs for a call with ``training`` and ``mask``, and why."""
        return select.choose(
            lambda: self.cell.fused_spec(training),
            units=self.cell.units,
            go_backwards=self.go_backwards,
            return_sequences=self.return_sequences,
            zero_output_for_mask=self.zero_output_for_mask,
            dtype=self.compute_dtype,
            mask=mask,
            implementation=self.implementation,
        )

    @property
    def state_size(self) -> list[int]:
        return self.cell.state_size

    @property
    def units(self) -> int:
        return self.cell.units

    def build(self, sequences_shape, initial_state_shape=None):
        _checks.check_sequence_shape(sequences_shape, self.name, "sequences")
        if not self.cell.built:
            self.cell.build(tuple(sequences_shape[:1]) + tuple(sequences_shape[2:]))
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
                self.state_size, batch_size, name="carried_states"
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

    def _check_call_inputs(self, sequences, initial_state, mask):
        _checks.check_sequence_shape(sequences.shape, self.name, "sequences")
        _checks.check_float(sequences, self.name, "sequences")
        if sequences.shape[-1] != self.cell.input_dim:
            raise ValueError(
                f"Layer '{self.name}' was built for sequences with "
                f"{self.cell.input_dim} features. Received: sequences.shape="
                f"{tuple(sequences.shape)}"
            )
        _checks.check_mask(mask, sequences.shape, self.name)
        if initial_state is not None:
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

    def call(self, sequences, initial_state=None, mask=None, training=False):
        initial_state = self._check_call_inputs(sequences, initial_state, mask)
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
        training = bool(training) if isinstance(training, (bool, type(None))) else True

        def reference():
            return self._run_reference(
                sequences, initial_state, weights, recurrent_mask, mask
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
        if self.stateful:
            for variable, state in zip(self.states, states):
                variable.assign(ops.cast(state, variable.dtype))
        output = outputs if self.return_sequences else last_output
        if self.return_state:
            return [output, *states]
        return output

    def _run_reference(self, sequences, initial_state, weights, recurrent_mask, mask):
        projected = self.cell.project_inputs(sequences, weights)

        def step(x_t, states):
            return self.cell.step(x_t, states, weights, recurrent_mask)

        return run_reference(
            step,
            projected,
            initial_state,
            mask=mask,
            go_backwards=self.go_backwards,
            return_sequences=self.return_sequences,
            zero_output_for_mask=self.zero_output_for_mask,
        )

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch = sequences_shape[0]
        if self.return_sequences:
            output_shape = (batch, sequences_shape[1], self.cell.output_size)
        else:
            output_shape = (batch, self.cell.output_size)
        if self.return_state:
            return [output_shape] + [(batch, size) for size in self.state_size]
        return output_shape

    def compute_mask(self, sequences, mask=None):
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
                "return_sequences": self.return_sequences,
                "return_state": self.return_state,
                "go_backwards": self.go_backwards,
                "stateful": self.stateful,
                "zero_output_for_mask": self.zero_output_for_mask,
                "implementation": self.implementation,
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

    def __init__(
        self,
        units,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        zero_output_for_mask=False,
        implementation="auto",
        **kwargs,
    ):
        implementation = _implementation(implementation, kwargs)
        layer_kwargs = {
            key: kwargs.pop(key)
            for key in (
                "name",
                "dtype",
                "trainable",
                "input_shape",
                "batch_input_shape",
            )
            if key in kwargs
        }
        cell = self.cell_class(
            units, name="cell", dtype=layer_kwargs.get("dtype"), **kwargs
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            zero_output_for_mask=zero_output_for_mask,
            implementation=implementation,
            **layer_kwargs,
        )

    def get_config(self):
        config = keras.layers.Layer.get_config(self)
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        config.update(cell_config)
        config.update({key: getattr(self, key) for key in _SEQUENCE_ARGS})
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
