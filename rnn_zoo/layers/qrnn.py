"""QRNNCell and QRNN: quasi-recurrent neural networks (Bradbury et al., 2017)."""

from __future__ import annotations

import keras
from keras import ops

from rnn_zoo import _checks
from rnn_zoo.layers.cell import RecurrentCell
from rnn_zoo.layers.recurrent import CellSequenceLayer, register_sequence_layer

POOLINGS = ("f", "fo", "ifo")
WINDOWS = (1, 2)
_NO_RECURRENT_WEIGHTS = (
    "recurrent_initializer",
    "recurrent_regularizer",
    "recurrent_constraint",
)


@keras.saving.register_keras_serializable(package="rnn_zoo")
class QRNNCell(RecurrentCell):
    """One step of a quasi-recurrent network.

    Bradbury et al. 2017 (ICLR), "Quasi-Recurrent Neural Networks": the gates
    come from a causal convolution of width ``window`` over the inputs (no
    recurrent product at all) and a pooling that is the only recurrence. With
    ``window=2`` and ``pooling="fo"`` (the defaults)::

        z_t = tanh(W_z [x_t, x_{t-1}] + b_z)          candidate
        f_t = sigmoid(W_f [x_t, x_{t-1}] + b_f)       forget gate
        o_t = sigmoid(W_o [x_t, x_{t-1}] + b_o)       output gate
        c_t = f_t * c_{t-1} + (1 - f_t) * z_t         fo-pooling
        h_t = o_t * c_t

    ``pooling="f"`` has no output gate (``h_t = c_t``); ``pooling="ifo"``
    adds an input gate ``i_t`` (``c_t = f_t * c_{t-1} + i_t * z_t``).

    The convolution is hoisted out of the time loop: the whole sequence is
    projected once by ``kernel`` ``(window * features, gates * units)``, whose
    rows are ``[W for x_t; W for x_{t-1}]`` and whose columns are the blocks
    ``z, f, o, i`` in that order (as many as ``pooling`` has). With ``window=2`` the
    previous input's share of the gates, ``x_{t-1} @ kernel[features:]``
    ``(batch, gates * units)``, is carried as the second state, so that
    ``step()`` works one timestep at a time, a ``stateful`` layer continues a
    sequence across calls, a masked step is skipped (the next real step sees
    the last real input) and ``go_backwards`` sees the input that came before
    in processing order. It starts at zeros (the convolution's zero padding).
    States are ``[c]`` or ``[c, previous]``.

    Zoneout, the paper's regulariser (its section 2.1): in training, with
    ``zoneout=p``, ``f_t = 1 - dropout(1 - f_t)`` with a fresh dropout mask
    at every timestep, so that each channel keeps its previous ``c`` with
    probability ``p`` at each step. Dropout scales the entries it keeps by
    ``1 / (1 - p)`` (as the paper's Chainer ``dropout`` does), which keeps
    ``f``'s expectation, so inference uses ``f`` unchanged; where
    ``f < p`` the scaled gate of a channel not zoned out is below 0. The
    masks of all the steps are drawn at once (:meth:`step_noise`) and read
    like the gates, by the reference loop and by the ``tf-elementwise``
    kernel alike.

    Args:
        units: positive integer, size of the output and of ``c``.
        window: 1 or 2, the width of the causal convolution.
        pooling: ``"fo"`` (default), ``"f"`` or ``"ifo"``, see above.
        activation: activation of the candidate ``z`` (default ``"tanh"``).
        recurrent_activation: activation of the gates (default ``"sigmoid"``).
        use_bias: whether to add ``bias`` ``(gates * units,)``.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: Keras
            initializers, regularizers and constraints of the two weights.
        dropout: in ``[0, 1)``, fraction of the inputs dropped in training
            (one mask per sequence), as the paper's dropout between layers.
        recurrent_dropout: must be 0: there is no recurrent weight to drop.
        zoneout: in ``[0, 1)`` (default 0), the probability that a channel
            keeps its previous state at a training step (see above). Not
            with ``pooling="ifo"``, whose input gate would still add
            ``i_t * z_t`` to a zoned channel.
        seed: seed of the dropout mask.

    Call arguments:
        inputs: ``(batch, features)``, one timestep.
        states: ``[c]`` (``window=1``) or ``[c, previous]`` (``window=2``).
        training: enables dropout and zoneout.

    Example:

    >>> import numpy as np
    >>> cell = QRNNCell(4)  # window=2, fo-pooling
    >>> cell.state_size  # [c (units), previous input's share (3 gates * units)]
    [4, 12]
    >>> h, (c, previous) = cell(np.ones((2, 3), "float32"), cell.get_initial_state(2))
    >>> tuple(h.shape), tuple(previous.shape)  # (batch, units), (batch, 3 * units)
    ((2, 4), (2, 12))
    """

    def __init__(
        self,
        units,
        window=2,
        pooling="fo",
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        zoneout=0.0,
        **kwargs,
    ):
        for name in _NO_RECURRENT_WEIGHTS:
            value = kwargs.pop(name, None)
            if value is not None:
                raise TypeError(
                    f"QRNN has no recurrent weights: expected no `{name}`. "
                    f"Received: {name}={value!r}"
                )
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        if isinstance(window, bool) or window not in WINDOWS:
            raise ValueError(f"`window` must be 1 or 2. Received: window={window!r}")
        self.window = int(window)
        self.pooling = _checks.check_choice(pooling, "pooling", POOLINGS)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        if self.recurrent_dropout:
            raise ValueError(
                "QRNN has no recurrent weights to drop: expected "
                f"`recurrent_dropout=0`. Received: recurrent_dropout={self.recurrent_dropout}"
            )
        self.zoneout = _checks.check_rate(zoneout, "zoneout")
        if self.zoneout and self.pooling == "ifo":
            raise ValueError(
                "`zoneout` keeps a channel's state by setting its forget gate "
                "to 1, which pooling='ifo' (c = f * c + i * z) does not: "
                "expected zoneout=0 with pooling='ifo', or pooling 'f' or "
                f"'fo'. Received: zoneout={self.zoneout}, pooling='ifo'"
            )

    fused_family = "qrnn"

    def fused_params(self):
        activation, reasons = self._keras_activation("activation")
        gate, more = self._keras_activation("recurrent_activation")
        params = {
            "window": self.window,
            "pooling": self.pooling,
            "gates": self.gates,
            "activation": activation,
            "recurrent_activation": gate,
        }
        return params, reasons + more

    @property
    def gates(self) -> int:
        return len(self.pooling) + 1  # the candidate z, then one block per gate

    @property
    def state_size(self) -> list[int]:
        if self.window == 1:
            return [self.units]
        return [self.units, self.gates * self.units]

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Cell '{self.name}' needs a known input feature size. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.input_dim = int(input_dim)
        self.kernel = self.add_weight(
            shape=(self.window * self.input_dim, self.gates * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self._add_bias((self.gates * self.units,))

    def step_weights(self, dtype) -> dict:
        kernel = ops.cast(self.kernel, dtype)
        if self.window == 2:
            # One product gives both shares: [x_t's | x_t's for step t + 1].
            kernel = ops.concatenate(
                [kernel[: self.input_dim], kernel[self.input_dim :]], axis=-1
            )
        bias = None
        if self.bias is not None:
            bias = ops.cast(self.bias, dtype)
            if self.window == 2:
                bias = ops.pad(bias, [(0, self.gates * self.units)])
        return {"kernel": kernel, "bias": bias}

    @property
    def step_noise_reason(self) -> str:
        return f"zoneout={self.zoneout}" if self.zoneout else ""

    def step_noise(self, batch_size, timesteps, dtype, training):
        """Zoneout's masks in training: the dropout of ones ``(batch, [time,] units)``."""
        if not (training and self.zoneout > 0):
            return None
        leading = (batch_size,) if timesteps is None else (batch_size, timesteps)
        return keras.random.dropout(
            ops.ones((*leading, self.units), dtype=dtype),
            self.zoneout,
            seed=self.seed_generator,
        )

    def project_inputs(self, inputs, weights):
        """The gates' share of ``inputs``, then zoneout's masks (when drawn)
        as ``units`` more columns, so that the reference loop reads each
        step's mask with its gates."""
        projected = super().project_inputs(inputs, weights)
        noise = weights.get("step_noise")
        if noise is None:
            return projected
        return ops.concatenate([projected, ops.cast(noise, projected.dtype)], -1)

    def step(self, projected, states, weights, recurrent_mask=None):
        c_prev = states[0]
        keep = None
        if weights.get("step_noise") is not None:
            projected, keep = (
                projected[..., : -self.units],
                projected[..., -self.units :],
            )
        if self.window == 2:
            current, own_share = ops.split(projected, 2, axis=-1)
            gates = current + states[1]
        else:
            gates = projected
        blocks = ops.split(gates, self.gates, axis=-1)
        z = self.activation(blocks[0])
        f = self.recurrent_activation(blocks[1])
        if keep is not None:  # zoneout: f = 1 - dropout(1 - f)
            f = 1.0 - (1.0 - f) * keep
        if self.pooling == "ifo":
            c = f * c_prev + self.recurrent_activation(blocks[3]) * z
        else:
            c = f * c_prev + (1.0 - f) * z
        h = c if self.pooling == "f" else self.recurrent_activation(blocks[2]) * c
        new_states = [c] if self.window == 1 else [c, own_share]
        return h, new_states

    def get_config(self):
        config = super().get_config()
        for name in _NO_RECURRENT_WEIGHTS:
            config.pop(name)
        config.update(
            {
                "window": self.window,
                "pooling": self.pooling,
                "zoneout": self.zoneout,
                "recurrent_activation": keras.activations.serialize(
                    self.recurrent_activation
                ),
            }
        )
        return config


@register_sequence_layer("qrnn")
@keras.saving.register_keras_serializable(package="rnn_zoo")
class QRNN(CellSequenceLayer):
    """A quasi-recurrent layer over a whole sequence (Bradbury et al., 2017).

    Takes every argument of ``QRNNCell`` (``units``, ``window``, ``pooling``,
    ``zoneout``, ...) and of ``RNN`` (``return_sequences``, ``return_state``,
    ``go_backwards``, ``stateful``). ``get_weights()`` is ``[kernel, bias]``.
    With ``return_state=True`` it returns ``[output, c]`` (``window=1``) or
    ``[output, c, previous]`` (``window=2``).

    Example:

    >>> import numpy as np
    >>> layer = QRNN(8, window=2, return_sequences=True)
    >>> tuple(layer(np.zeros((2, 5, 3), "float32")).shape)  # (batch, timesteps, units)
    (2, 5, 8)
    >>> regularised = QRNN(8, zoneout=0.1)  # a fresh zoneout mask per step, in training
    >>> tuple(regularised(np.ones((2, 5, 3), "float32"), training=True).shape)
    (2, 8)
    """

    cell_class = QRNNCell
    cell_attributes = CellSequenceLayer.cell_attributes + (
        "window",
        "pooling",
        "recurrent_activation",
        "zoneout",
    )
