"""Bidirectional: one recurrent layer reading forwards, a copy of it reading backwards."""

from __future__ import annotations

import keras
from keras import ops

from rnn_zoo import _checks
from rnn_zoo.layers import _timespans

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _merge(forward, backward, merge_mode):
    if merge_mode == "concat":
        return ops.concatenate([forward, backward], axis=-1)
    if merge_mode == "sum":
        return forward + backward
    if merge_mode == "mul":
        return forward * backward
    if merge_mode == "ave":
        return (forward + backward) / 2
    return [forward, backward]


@keras.saving.register_keras_serializable(package="rnn_zoo")
class Bidirectional(keras.layers.Layer):
    """Runs a recurrent layer over a sequence in both directions.

    The backward layer is a copy of ``layer``'s configuration with
    ``go_backwards`` flipped (its own weights), unless ``backward_layer`` is
    given. With ``return_sequences`` its outputs are put back in forward time
    order before merging. ``get_weights()`` is the forward layer's weights then
    the backward layer's, as in ``keras.layers.Bidirectional``.

    Args:
        layer: an rnn_zoo sequence layer (``SimpleRNN``, ``LSTM``, ``GRU``,
            ``RNN``).
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"``, or
            ``None`` to return ``[forward, backward]`` unmerged.
        weights: optional initial weights, the forward layer's then the
            backward layer's (``get_weights()``'s order), set when the layer
            is built. Not saved in the config (the weights are).
        backward_layer: optional layer for the backward direction; it must
            have ``go_backwards=True`` and the same ``return_sequences`` and
            ``return_state`` as ``layer``.

    Call arguments:
        sequences: ``(batch, timesteps, features)``.
        initial_state: the forward layer's states followed by the backward
            layer's.
        mask: boolean ``(batch, timesteps)``; padded steps are skipped in both
            directions.
        training: enables dropout.

    With ``return_state=True`` on ``layer`` the call returns
    ``[output, *forward_states, *backward_states]`` (``output`` is a list of
    two when ``merge_mode=None``).

    Example:

    >>> import numpy as np
    >>> from rnn_zoo.layers import LSTM
    >>> layer = Bidirectional(LSTM(8, return_sequences=True))
    >>> tuple(layer(np.zeros((2, 5, 3), "float32")).shape)  # (batch, timesteps, 2 * units)
    (2, 5, 16)
    """

    def __init__(
        self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs
    ):
        super().__init__(**kwargs)
        if not isinstance(layer, keras.layers.Layer) or not hasattr(
            layer, "go_backwards"
        ):
            raise TypeError(
                "`layer` must be a recurrent layer with `go_backwards` "
                f"(SimpleRNN, LSTM, GRU, RNN). Received: layer={layer!r}"
            )
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                "Unknown `merge_mode`: expected one of 'concat', 'sum', 'mul', "
                f"'ave' or None. Received: merge_mode={merge_mode!r}"
            )
        self.merge_mode = merge_mode
        # Padded steps of a returned sequence read as zeros in both directions
        # (keras.layers.Bidirectional does the same).
        config = {**layer.get_config(), "zero_output_for_mask": layer.return_sequences}
        # As Keras names them: a layer taken from another Bidirectional keeps
        # one "forward_" prefix.
        name = config["name"].removeprefix("forward_")
        self.forward_layer = layer.__class__.from_config(
            {**config, "name": "forward_" + name}
        )
        if backward_layer is None:
            self.backward_layer = layer.__class__.from_config(
                {
                    **config,
                    "name": "backward_" + name,
                    "go_backwards": not config["go_backwards"],
                }
            )
        else:
            for key in ("return_sequences", "return_state"):
                if getattr(backward_layer, key) != getattr(layer, key):
                    raise ValueError(
                        f"`backward_layer` must have the same `{key}` as `layer` "
                        f"({getattr(layer, key)}). Received: "
                        f"backward_layer.{key}={getattr(backward_layer, key)}"
                    )
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError(
                    "`backward_layer` must read in the opposite direction of `layer`: "
                    f"expected go_backwards={not layer.go_backwards}. "
                    f"Received: go_backwards={backward_layer.go_backwards}"
                )
            self.backward_layer = backward_layer
            self.backward_layer.zero_output_for_mask = layer.return_sequences
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        self.initial_weights = None if weights is None else list(weights)

    @property
    def layer(self):
        return self.forward_layer

    def build(self, sequences_shape, initial_state_shape=None, timespans_shape=None):
        _checks.check_sequence_shape(sequences_shape, self.name, "sequences")
        self.forward_layer.build(sequences_shape)
        self.backward_layer.build(sequences_shape)
        if self.initial_weights:
            half = len(self.initial_weights) // 2
            self.forward_layer.set_weights(self.initial_weights[:half])
            self.backward_layer.set_weights(self.initial_weights[half:])
            self.initial_weights = None
        self.built = True

    def __call__(self, sequences, *args, **kwargs):
        # Keep the sequences' mask when timespans or states come beside them.
        kwargs = _timespans.with_sequences_mask(sequences, args, kwargs)
        return super().__call__(sequences, *args, **kwargs)

    def call(
        self, sequences, initial_state=None, mask=None, training=False, timespans=None
    ):
        forward_state = backward_state = None
        # Both directions read the same elapsed times (the backward layer
        # reverses them with its steps).
        time = {} if timespans is None else {"timespans": timespans}
        if initial_state is not None:
            initial_state = list(initial_state)
            n_forward = len(self.forward_layer.state_size)
            expected = n_forward + len(self.backward_layer.state_size)
            if len(initial_state) != expected:
                raise ValueError(
                    f"Layer '{self.name}' expects `initial_state` to be a list of "
                    f"{expected} tensor(s), the forward states followed by the "
                    f"backward states. Received: {len(initial_state)} tensor(s)"
                )
            forward_state = initial_state[:n_forward]
            backward_state = initial_state[n_forward:]
        forward = self.forward_layer(
            sequences,
            initial_state=forward_state,
            mask=mask,
            training=training,
            **time,
        )
        backward = self.backward_layer(
            sequences,
            initial_state=backward_state,
            mask=mask,
            training=training,
            **time,
        )
        if self.return_state:
            forward, *forward_states = forward
            backward, *backward_states = backward
        if self.return_sequences:
            backward = ops.flip(backward, axis=1)
        output = _merge(forward, backward, self.merge_mode)
        if self.return_state:
            if self.merge_mode is None:
                output = [*output, *forward_states, *backward_states]
            else:
                output = [output, *forward_states, *backward_states]
        # Under a mixed policy (dtype="mixed_float16") the wrapped layers keep
        # their own policy; return this layer's compute dtype, as
        # compute_output_spec says and keras.layers.Bidirectional does.
        return keras.tree.map_structure(
            lambda t: ops.cast(t, self.compute_dtype), output
        )

    def _output_shapes(self, sequences_shape):
        forward = self.forward_layer.compute_output_shape(sequences_shape)
        states = []
        if self.return_state:
            forward, *states = forward
        forward = tuple(forward)
        if self.merge_mode == "concat":
            output = forward[:-1] + (forward[-1] * 2,)
        else:
            output = forward
        return output, [tuple(s) for s in states]

    def compute_output_shape(
        self, sequences_shape, initial_state_shape=None, timespans_shape=None
    ):
        output, states = self._output_shapes(sequences_shape)
        outputs = [output, output] if self.merge_mode is None else [output]
        if self.return_state:
            return outputs + states + states
        return outputs if self.merge_mode is None else output

    def compute_mask(self, sequences, mask=None):
        output_mask = mask if self.return_sequences else None
        n_outputs = 2 if self.merge_mode is None else 1
        if self.return_state:
            n_states = len(self.forward_layer.state_size)
            return [output_mask] * n_outputs + [None] * (2 * n_states)
        return [output_mask] * 2 if self.merge_mode is None else output_mask

    def reset_state(self):
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self):
        self.reset_state()

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layer": keras.saving.serialize_keras_object(self.forward_layer),
                "merge_mode": self.merge_mode,
                "backward_layer": keras.saving.serialize_keras_object(
                    self.backward_layer
                ),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layer = keras.saving.deserialize_keras_object(config.pop("layer"))
        layer_config = layer.get_config()
        # The forward layer was saved under its "forward_" name; strip it so the
        # rebuilt layer gets the same name again.
        if layer_config["name"].startswith("forward_"):
            layer = layer.__class__.from_config(
                {**layer_config, "name": layer_config["name"][len("forward_") :]}
            )
        backward = config.pop("backward_layer", None)
        if backward is not None:
            backward = keras.saving.deserialize_keras_object(backward)
        return cls(layer, backward_layer=backward, **config)
