"""MinGRU and MinLSTM: the minimal RNNs of Feng et al. (2024).

"Were RNNs All We Needed?" (Feng, Tung, Ahmed, Bengio and Hajimirsadeghi,
2024) strips the GRU and the LSTM down to gates that read the input only, so
that ``h_t = a_t * h_{t-1} + b_t`` with ``a_t``, ``b_t`` known for every step
before the recurrence runs: a parallel scan computes the sequence
(:mod:`rnn_zoo.kernels.scan`).
"""

from __future__ import annotations

import keras
from keras import ops

from rnn_zoo import _checks
from rnn_zoo.kernels.scan import g
from rnn_zoo.layers._scan_layer import LinearRecurrenceLayer, LinearRecurrentCell
from rnn_zoo.layers.recurrent import register_sequence_layer

VARIANTS = ("log", "linear")


class _MinCell(LinearRecurrentCell):
    def __init__(self, units, variant="log", **kwargs):
        super().__init__(units, **kwargs)
        self.variant = _checks.check_choice(variant, "variant", VARIANTS)

    def fused_params(self):
        return {"variant": self.variant}, []

    def _candidate(self, x):
        return g(x) if self.variant == "log" else x

    def get_config(self):
        config = super().get_config()
        config["variant"] = self.variant
        return config


@keras.saving.register_keras_serializable(package="rnn_zoo")
class MinGRUCell(_MinCell):
    """One step of minGRU (Feng et al. 2024, "Were RNNs All We Needed?", section 3.1).

    ``z_t = sigmoid(x_t W_z + b_z)``, ``h~_t = x_t W_h + b_h`` and
    ``h_t = (1 - z_t) * h_{t-1} + z_t * h~_t``: no reset gate, and neither
    gate nor candidate reads ``h_{t-1}``. ``variant="log"`` (default) is the
    paper's log-space minGRU: the candidate is ``g(x_t W_h + b_h)`` with
    ``g(x) = x + 0.5`` for ``x >= 0`` and ``sigmoid(x)`` below, so it stays
    positive and the sequence layer scans in log space; ``variant="linear"``
    is the plain minGRU (the candidate as is, a scan of ``a``, ``b``).
    ``kernel`` is ``(features, 2 * units)``, ``[W_z | W_h]``; ``bias``
    ``(2 * units,)``.

    Args:
        units: positive integer, size of the output and state.
        variant: ``"log"`` or ``"linear"``, see above.
        use_bias: whether to add ``bias``.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: Keras
            initializers, regularizers and constraints of the two weights.
        dropout: in ``[0, 1)``, fraction of the inputs dropped in training
            (one mask for the whole sequence). The paper has no dropout
            inside the cell; there is no recurrent dropout.
        seed: seed of the dropout mask.

    Call arguments:
        inputs: ``(batch, features)``.
        states: list of one ``(batch, units)`` tensor.
        training: enables dropout.

    Example:

    >>> import numpy as np
    >>> cell = MinGRUCell(4)
    >>> h, states = cell(np.ones((2, 3), "float32"), cell.get_initial_state(2))
    >>> tuple(h.shape)  # (batch, units)
    (2, 4)
    """

    gates = 2
    fused_family = "mingru"

    def step(self, projected, states, weights, recurrent_mask=None):
        k_z, k_h = ops.split(projected, 2, axis=-1)
        z = ops.sigmoid(k_z)
        h = (1.0 - z) * states[0] + z * self._candidate(k_h)
        return h, [h]


@keras.saving.register_keras_serializable(package="rnn_zoo")
class MinLSTMCell(_MinCell):
    """One step of minLSTM (Feng et al. 2024, "Were RNNs All We Needed?", section 3.2).

    ``f_t = sigmoid(x_t W_f + b_f)``, ``i_t = sigmoid(x_t W_i + b_i)``,
    ``h~_t = x_t W_h + b_h``, the gates normalised to sum to one
    (``f'_t = f_t / (f_t + i_t)``, ``i'_t = i_t / (f_t + i_t)``: the paper's
    length-independent scaling) and ``h_t = f'_t * h_{t-1} + i'_t * h~_t``.
    There is no output gate and no separate cell state: the output is the
    state. ``variant="log"`` (default) is the paper's log-space minLSTM (the
    candidate through ``g``, see ``MinGRUCell``); ``variant="linear"`` the
    plain one. ``kernel`` is ``(features, 3 * units)``, ``[W_f | W_i | W_h]``;
    ``bias`` ``(3 * units,)``.

    Args:
        units: positive integer, size of the output and state.
        variant: ``"log"`` or ``"linear"``.
        use_bias: whether to add ``bias``.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: Keras
            initializers, regularizers and constraints of the two weights.
        dropout: in ``[0, 1)``, fraction of the inputs dropped in training
            (one mask for the whole sequence); no recurrent dropout.
        seed: seed of the dropout mask.

    Call arguments:
        inputs: ``(batch, features)``.
        states: list of one ``(batch, units)`` tensor.
        training: enables dropout.

    Example:

    >>> import numpy as np
    >>> cell = MinLSTMCell(4, variant="linear")
    >>> h, states = cell(np.ones((2, 3), "float32"), cell.get_initial_state(2))
    >>> tuple(h.shape), len(states)  # (batch, units), one state
    ((2, 4), 1)
    """

    gates = 3
    fused_family = "minlstm"

    def step(self, projected, states, weights, recurrent_mask=None):
        k_f, k_i, k_h = ops.split(projected, 3, axis=-1)
        f, i = ops.sigmoid(k_f), ops.sigmoid(k_i)
        h = (f * states[0] + i * self._candidate(k_h)) / (f + i)
        return h, [h]


_MIN_ATTRIBUTES = LinearRecurrenceLayer.cell_attributes + ("variant",)


@register_sequence_layer("mingru")
@keras.saving.register_keras_serializable(package="rnn_zoo")
class MinGRU(LinearRecurrenceLayer):
    """A minGRU layer over a whole sequence, computed by a parallel scan.

    Takes every argument of ``MinGRUCell`` (``units``, ``variant``, ...) and
    of ``RNN`` (``return_sequences``, ``return_state``, ``go_backwards``,
    ``stateful``, ``implementation``). Under ``implementation="auto"`` the
    whole sequence runs as one parallel scan (the ``*-scan`` kernels of
    :mod:`rnn_zoo.kernels.scan`), in log space for ``variant="log"`` as the
    paper trains it; ``implementation="reference"`` runs
    ``MinGRUCell.step`` in a loop instead, with the same results. Masks of
    any padding, initial states and ``go_backwards`` fold into the scan.
    ``get_weights()`` is ``[kernel, bias]``.

    Example:

    >>> import numpy as np
    >>> layer = MinGRU(8, return_sequences=True, return_state=True)
    >>> seq, h = layer(np.zeros((2, 6, 3), "float32"))
    >>> tuple(seq.shape), tuple(h.shape)  # (batch, timesteps, units), (batch, units)
    ((2, 6, 8), (2, 8))
    """

    cell_class = MinGRUCell
    cell_attributes = _MIN_ATTRIBUTES


@register_sequence_layer("minlstm")
@keras.saving.register_keras_serializable(package="rnn_zoo")
class MinLSTM(LinearRecurrenceLayer):
    """A minLSTM layer over a whole sequence, computed by a parallel scan.

    Takes every argument of ``MinLSTMCell`` and of ``RNN``, like ``MinGRU``.
    One state, ``h``; ``get_weights()`` is ``[kernel, bias]``.

    Example:

    >>> import numpy as np
    >>> layer = MinLSTM(8)
    >>> tuple(layer(np.zeros((2, 6, 3), "float32")).shape)  # (batch, units)
    (2, 8)
    """

    cell_class = MinLSTMCell
    cell_attributes = _MIN_ATTRIBUTES
