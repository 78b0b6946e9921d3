"""StackedRNN: N recurrent layers, one on top of the other, as ``torch.nn.LSTM(num_layers=N)``."""

from __future__ import annotations

import keras

from rnn_zoo import _checks
from rnn_zoo.layers import _timespans
from rnn_zoo.layers.bidirectional import MERGE_MODES, Bidirectional
from rnn_zoo.layers.recurrent import get_sequence_layer


@keras.saving.register_keras_serializable(package="rnn_zoo")
class StackedRNN(keras.layers.Layer):
    """A deep recurrent network: ``num_layers`` layers of one cell type.

    Every layer but the last returns its whole sequence to the next; dropout
    is applied between layers (not after the last, as in ``torch.nn.LSTM``);
    with ``residual=True`` each layer after the first that returns a sequence
    adds its input to its output (Wu et al., 2016), which needs equal input
    and output sizes.

    Weights are ordered layer by layer (forward then backward within a
    bidirectional layer), each ``[kernel, recurrent_kernel, bias]``: the
    order of ``torch.nn.LSTM``'s parameters, which the converters in
    :mod:`rnn_zoo.layers.convert` rely on.

    Args:
        cell: a registered cell name: ``"simple"``, ``"lstm"`` or ``"gru"``.
        units: positive integer, or a list of one per layer.
        num_layers: how many layers (ignored when ``units`` is a list).
        bidirectional: make each layer a ``Bidirectional``.
        merge_mode: how a bidirectional layer merges its two directions.
        dropout: in ``[0, 1)``, dropout on the sequence between layers.
        residual: add residual connections (see above).
        return_sequences: return the last layer's whole sequence.
        return_state: also return every layer's final states, layer by layer
            (forward states, then backward ones), as ``[output, *states]``.
        stateful: make every layer stateful.
        **cell_kwargs: passed to every layer (``recurrent_dropout``,
            ``activation``, initializers, ``reset_after``, ...); not
            ``go_backwards``: use ``bidirectional``.

    Call arguments:
        sequences: ``(batch, timesteps, features)``.
        initial_state: every layer's states in the order of ``return_state``.
        mask: boolean ``(batch, timesteps)``, passed to every layer.
        training: enables dropout.

    Example:

    >>> import numpy as np
    >>> stack = StackedRNN("gru", units=16, num_layers=3, dropout=0.1, residual=True)
    >>> tuple(stack(np.zeros((2, 9, 4), "float32")).shape)  # (batch, units)
    (2, 16)
    """

    def __init__(
        self,
        cell="lstm",
        units=64,
        num_layers=1,
        bidirectional=False,
        merge_mode="concat",
        dropout=0.0,
        residual=False,
        return_sequences=False,
        return_state=False,
        stateful=False,
        **cell_kwargs,
    ):
        layer_kwargs = {
            key: cell_kwargs.pop(key)
            for key in ("name", "dtype", "trainable")
            if key in cell_kwargs
        }
        super().__init__(**layer_kwargs)
        layer_class = get_sequence_layer(cell)
        if cell_kwargs.get("go_backwards"):
            # Each layer would hand a reversed sequence to the next while the
            # mask and the residual connections stay in forward order.
            raise ValueError(
                "StackedRNN reads its sequences forwards; use `bidirectional=True` "
                "for the backward direction. Received: go_backwards=True"
            )
        if isinstance(units, (list, tuple)):
            if not units:
                raise ValueError(
                    "`units` must be a positive integer or a non-empty list. Received: units=[]"
                )
            units_list = [_checks.check_units(u) for u in units]
        else:
            num_layers = _checks.check_units(num_layers, "num_layers")
            units_list = [_checks.check_units(units)] * int(num_layers)
        self.cell = cell
        self.units = list(units) if isinstance(units, (list, tuple)) else units
        self.num_layers = len(units_list)
        self.bidirectional = bool(bidirectional)
        if merge_mode not in MERGE_MODES or (merge_mode is None and self.bidirectional):
            raise ValueError(
                "StackedRNN needs merged directions: expected `merge_mode` in "
                f"'concat', 'sum', 'mul', 'ave'. Received: merge_mode={merge_mode!r}"
            )
        self.merge_mode = merge_mode
        self.dropout = _checks.check_rate(dropout, "dropout")
        self.residual = bool(residual)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.stateful = bool(stateful)
        self.cell_kwargs = dict(cell_kwargs)
        if "kernel" in self.cell_kwargs:  # the old name, in old .keras files
            self.cell_kwargs["implementation"] = self.cell_kwargs.pop("kernel")
        self.supports_masking = True

        self.rnn_layers = []
        for i, layer_units in enumerate(units_list):
            last = i == len(units_list) - 1
            layer = layer_class(
                layer_units,
                return_sequences=not last or self.return_sequences,
                return_state=True,
                stateful=self.stateful,
                name=f"{cell}_{i}",
                dtype=layer_kwargs.get("dtype"),
                **cell_kwargs,
            )
            if self.bidirectional:
                layer = Bidirectional(
                    layer,
                    merge_mode=merge_mode,
                    name=f"bidirectional_{i}",
                    dtype=layer_kwargs.get("dtype"),
                )
            self.rnn_layers.append(layer)
        self.dropout_layers = [
            # Same dtype policy as the recurrent layers: a float32 Dropout would
            # hand float32 to a float16 residual sum under mixed precision.
            keras.layers.Dropout(
                self.dropout, name=f"dropout_{i}", dtype=layer_kwargs.get("dtype")
            )
            for i in range(len(units_list) - 1)
        ]

    @property
    def state_size(self) -> list[int]:
        sizes = []
        for layer in self.rnn_layers:
            inner = layer.forward_layer if self.bidirectional else layer
            sizes += inner.state_size * (2 if self.bidirectional else 1)
        return sizes

    def _residual_applies(self, index: int) -> bool:
        last = index == self.num_layers - 1
        return self.residual and index > 0 and (not last or self.return_sequences)

    def build(self, sequences_shape, initial_state_shape=None, timespans_shape=None):
        _checks.check_sequence_shape(sequences_shape, self.name, "sequences")
        shape = tuple(sequences_shape)
        for i, layer in enumerate(self.rnn_layers):
            layer.build(shape)
            out_shape = tuple(layer.compute_output_shape(shape)[0])
            if self._residual_applies(i) and out_shape[-1] != shape[-1]:
                raise ValueError(
                    f"`residual=True` needs layer {i} of '{self.name}' to keep the "
                    f"feature size: its input has {shape[-1]} features and its "
                    f"output {out_shape[-1]}. Use equal `units` (and merge_mode "
                    "'sum'/'ave'/'mul' or half the units for 'concat')."
                )
            shape = out_shape
        self.built = True

    def __call__(self, sequences, *args, **kwargs):
        # Keep the sequences' mask when timespans or states come beside them.
        kwargs = _timespans.with_sequences_mask(sequences, args, kwargs)
        return super().__call__(sequences, *args, **kwargs)

    def call(
        self, sequences, initial_state=None, mask=None, training=False, timespans=None
    ):
        per_layer_states = [None] * self.num_layers
        # Every layer reads the same elapsed times.
        time = {} if timespans is None else {"timespans": timespans}
        if initial_state is not None:
            initial_state = list(initial_state)
            expected = len(self.state_size)
            if len(initial_state) != expected:
                raise ValueError(
                    f"Layer '{self.name}' expects `initial_state` to be a list of "
                    f"{expected} tensor(s), every layer's states in order. "
                    f"Received: {len(initial_state)} tensor(s)"
                )
            per_layer = len(initial_state) // self.num_layers
            per_layer_states = [
                initial_state[i * per_layer : (i + 1) * per_layer]
                for i in range(self.num_layers)
            ]
        x = sequences
        final_states = []
        for i, layer in enumerate(self.rnn_layers):
            if i > 0:
                x = self.dropout_layers[i - 1](x, training=training)
            output, *states = layer(
                x,
                initial_state=per_layer_states[i],
                mask=mask,
                training=training,
                **time,
            )
            if self._residual_applies(i):
                output = output + x
            final_states += states
            x = output
        if self.return_state:
            return [x, *final_states]
        return x

    def step(self, inputs, states, training=False, timespans=None):
        """Advances every layer by one timestep: for decoders and generators.

        The same weights as :meth:`call`, one step at a time: layer ``i``'s
        cell reads layer ``i - 1``'s output (dropout between layers and
        residual connections as in :meth:`call`). Only a forward stack can
        step; a bidirectional one needs the whole sequence.

        Args:
            inputs: ``(batch, features)``, one timestep.
            states: every layer's states, in the order of ``state_size``.
            training: enables dropout.
            timespans: for cells that use time, the ``(batch,)`` or
                ``(batch, 1)`` time elapsed at this step (1.0 if not given).

        Returns:
            ``(output, new_states)``: the last layer's ``(batch, units)``
            output and every layer's new states.

        Example:

        >>> import numpy as np
        >>> stack = StackedRNN("lstm", units=8, num_layers=2, return_sequences=True)
        >>> x = np.zeros((3, 5, 4), "float32")
        >>> _ = stack(x)
        >>> states = [np.zeros((3, 8), "float32")] * 4
        >>> output, states = stack.step(x[:, 0], states)
        >>> tuple(output.shape)  # (batch, units)
        (3, 8)
        """
        if self.bidirectional:
            raise ValueError(
                f"Layer '{self.name}' is bidirectional and cannot run one step at "
                "a time: its backward direction needs the whole sequence. "
                "Received: bidirectional=True"
            )
        states = list(states)
        if len(states) != len(self.state_size):
            raise ValueError(
                f"Layer '{self.name}' expects `states` to be a list of "
                f"{len(self.state_size)} tensor(s), every layer's states in order. "
                f"Received: {len(states)} tensor(s)"
            )
        x = inputs
        new_states = []
        offset = 0
        for i, layer in enumerate(self.rnn_layers):
            if i > 0:
                x = self.dropout_layers[i - 1](x, training=training)
            count = len(layer.state_size)
            time = {} if timespans is None else {"timespans": timespans}
            output, layer_states = layer.cell(
                x, states[offset : offset + count], training=training, **time
            )
            offset += count
            if self.residual and i > 0:
                output = output + x
            new_states += list(layer_states)
            x = output
        return x, new_states

    def compute_output_shape(
        self, sequences_shape, initial_state_shape=None, timespans_shape=None
    ):
        shape = tuple(sequences_shape)
        for layer in self.rnn_layers:
            shape = tuple(layer.compute_output_shape(shape)[0])
        if self.return_state:
            batch = sequences_shape[0]
            return [shape] + [(batch, size) for size in self.state_size]
        return shape

    def compute_mask(self, sequences, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    def reset_state(self):
        for layer in self.rnn_layers:
            layer.reset_state()

    def reset_states(self):
        self.reset_state()

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "cell": self.cell,
                "units": self.units,
                "num_layers": self.num_layers,
                "bidirectional": self.bidirectional,
                "merge_mode": self.merge_mode,
                "dropout": self.dropout,
                "residual": self.residual,
                "return_sequences": self.return_sequences,
                "return_state": self.return_state,
                "stateful": self.stateful,
                **self.cell_kwargs,
            }
        )
        return config
