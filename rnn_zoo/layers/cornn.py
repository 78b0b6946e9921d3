"""CoRNNCell and CoRNN: coupled oscillatory recurrent networks (Rusch & Mishra, 2021)."""

from __future__ import annotations

import keras
from keras import ops

from rnn_zoo import _checks
from rnn_zoo.layers.cell import RecurrentCell
from rnn_zoo.layers.recurrent import CellSequenceLayer, register_sequence_layer

DAMPING = ("implicit", "explicit")


@keras.saving.register_keras_serializable(package="rnn_zoo")
class CoRNNCell(RecurrentCell):
    """One step of a coupled oscillatory recurrent network.

    Rusch & Mishra 2021 (ICLR), "Coupled Oscillatory Recurrent Neural
    Network (coRNN): An accurate and (gradient) stable architecture for
    learning long time dependencies". The state is a network of damped,
    driven, coupled oscillators, the second-order ODE (the paper's eq. 1)::

        y'' = sigma(W y + W~ y' + V u + b) - gamma * y - epsilon * y'

    written as a first-order system in ``(y, z = y')`` and discretised with
    the paper's implicit-explicit (IMEX) scheme, eq. 3, with time step
    ``dt``: the damping ``epsilon * z`` is taken at the new step (implicit),
    everything else at the old one (explicit)::

        z_n = z_{n-1} + dt * sigma(W y_{n-1} + W~ z_{n-1} + V u_n + b)
                      - dt * gamma * y_{n-1} - dt * epsilon * z_n
            = (z_{n-1} + dt * (sigma(...) - gamma * y_{n-1})) / (1 + dt * epsilon)
        y_n = y_{n-1} + dt * z_n

    ``damping="explicit"`` takes ``epsilon * z_{n-1}`` instead, as the
    authors' released code (github.com/tk-rusch/coRNN) computes it. The
    output is ``y_n``.

    ``kernel`` is ``V`` ``(features, units)``, ``recurrent_kernel`` is
    ``[W; W~]`` ``(2 * units, units)`` (the rows that ``y`` multiplies, then
    those of ``z``) and ``bias`` ``(units,)``. States are ``[y, z]``.

    Args:
        units: positive integer, the number of oscillators.
        dt: positive float, the time step (default 0.076, the authors'
            setting for permuted sequential MNIST).
        gamma: float >= 0, the restoring force per unit of ``y``
            (default 0.4, as ``dt``).
        epsilon: float >= 0, the damping per unit of ``z`` (default 8.0, as
            ``dt``).
        damping: ``"implicit"`` (default, the paper's IMEX scheme) or
            ``"explicit"`` (the authors' code).
        activation: ``sigma`` above (default ``"tanh"``).
        use_bias: whether to add ``bias``.
        kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: Keras
            initializers, regularizers and constraints of the three weights.
        dropout: in ``[0, 1)``, fraction of the inputs dropped in training
            (one mask per sequence).
        recurrent_dropout: in ``[0, 1)``, fraction of ``[y, z]`` dropped
            before the recurrent product in training (one mask per
            sequence; the oscillators themselves are not dropped).
        seed: seed of the dropout masks.

    Call arguments:
        inputs: ``(batch, features)``, one timestep.
        states: list of two ``(batch, units)`` tensors, ``[y, z]``.
        training: enables dropout.

    Example:

    >>> import numpy as np
    >>> cell = CoRNNCell(4, dt=0.05, gamma=1.0, epsilon=2.0)
    >>> y, (y, z) = cell(np.ones((2, 3), "float32"), cell.get_initial_state(2))
    >>> tuple(y.shape), tuple(z.shape)  # (batch, units) each
    ((2, 4), (2, 4))
    >>> tuple(cell.recurrent_kernel.shape)  # [W; W~]: (2 * units, units)
    (8, 4)
    """

    num_states = 2

    def __init__(
        self,
        units,
        dt=0.076,
        gamma=0.4,
        epsilon=8.0,
        damping="implicit",
        activation="tanh",
        **kwargs,
    ):
        super().__init__(units, activation=activation, **kwargs)
        self.dt = _checks.check_real(dt, "dt")
        self.gamma = _checks.check_real(gamma, "gamma", strict=False)
        self.epsilon = _checks.check_real(epsilon, "epsilon", strict=False)
        self.damping = _checks.check_choice(damping, "damping", DAMPING)

    def _add_kernels(self, input_dim: int) -> None:
        self.kernel = self.add_weight(
            shape=(input_dim, self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(2 * self.units, self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )

    def dropout_masks(self, batch_size, input_dim, dtype, training):
        input_mask, recurrent_mask = super().dropout_masks(
            batch_size, input_dim, dtype, training
        )
        if recurrent_mask is not None:
            # One mask over [y, z], the recurrent product's input.
            recurrent_mask = keras.random.dropout(
                ops.ones((batch_size, 2 * self.units), dtype=dtype),
                self.recurrent_dropout,
                seed=self.seed_generator,
            )
        return input_mask, recurrent_mask

    def step(self, projected, states, weights, recurrent_mask=None):
        y, z = states
        yz = ops.concatenate([y, z], axis=-1)
        if recurrent_mask is not None:
            yz = yz * recurrent_mask
        drive = self.activation(projected + ops.matmul(yz, weights["recurrent_kernel"]))
        if self.damping == "implicit":
            z = (z + self.dt * (drive - self.gamma * y)) / (
                1.0 + self.dt * self.epsilon
            )
        else:
            z = z + self.dt * (drive - self.gamma * y - self.epsilon * z)
        y = y + self.dt * z
        return y, [y, z]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "dt": self.dt,
                "gamma": self.gamma,
                "epsilon": self.epsilon,
                "damping": self.damping,
            }
        )
        return config


@register_sequence_layer("cornn")
@keras.saving.register_keras_serializable(package="rnn_zoo")
class CoRNN(CellSequenceLayer):
    """A coupled oscillatory recurrent layer over a whole sequence (Rusch & Mishra, 2021).

    Takes every argument of ``CoRNNCell`` (``units``, ``dt``, ``gamma``,
    ``epsilon``, ``damping``, ...) and of ``RNN`` (``return_sequences``,
    ``return_state``, ``go_backwards``, ``stateful``). ``get_weights()`` is
    ``[kernel, recurrent_kernel, bias]`` with ``recurrent_kernel``
    ``(2 * units, units)``. With ``return_state=True`` it returns
    ``[output, y, z]``.

    Example:

    >>> import numpy as np
    >>> layer = CoRNN(8, dt=0.05, return_sequences=True, return_state=True)
    >>> seq, y, z = layer(np.zeros((2, 5, 3), "float32"))
    >>> tuple(seq.shape), tuple(z.shape)  # (batch, timesteps, units), (batch, units)
    ((2, 5, 8), (2, 8))
    """

    cell_class = CoRNNCell
    cell_attributes = CellSequenceLayer.cell_attributes + (
        "dt",
        "gamma",
        "epsilon",
        "damping",
    )
