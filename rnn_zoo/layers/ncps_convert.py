"""Converters between rnn_zoo's liquid layers and ``ncps.keras``'s ``CfC`` and ``LTC``.

``from_ncps`` brings a trained ``ncps.keras.CfC`` or ``ncps.keras.LTC`` (built,
with its weights) into rnn_zoo; ``to_ncps`` makes the ``ncps`` layer from an
rnn_zoo ``CfC`` or ``LTC``. Both carry every weight by name (the layouts are
the same), the configuration and the wiring's matrices; the two layers then
compute the same outputs. ``from_ncps`` reads the ``ncps`` layer's attributes
and needs no import of ``ncps``; ``to_ncps`` needs the ``ncps`` package.

Not convertible: ``ncps``'s wired CfC (``CfC(wiring)``, a stack of sparse
CfC cells) and a ``CfCCell`` with a ``sparsity_mask``; on the rnn_zoo side,
``dropout``/``recurrent_dropout``, ``use_bias=False`` and LTC
``initialization_ranges`` that ``ncps`` has no place for (the weights carry
over; the ranges matter only to a fresh start).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from rnn_zoo.layers import _liquid
from rnn_zoo.layers.cfc import CfC
from rnn_zoo.layers.ltc import LTC
from rnn_zoo.layers.wirings import CustomWiring

# The RNN arguments both sides share.
_SEQUENCE_ARGS = (
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "zero_output_for_mask",
)
# rnn_zoo's names of the memory weights -> ncps.keras.MixedMemoryRNN's.
_MEMORY = {
    "memory_kernel": "input_kernel",
    "memory_recurrent_kernel": "recurrent_kernel",
    "memory_bias": "bias",
}


def _ncps_name(name: str) -> str:
    """The ``ncps.keras`` name of an rnn_zoo CfC or LTC weight (``ff1_kernel`` -> ``ff1_weight``, ...)."""
    if name in _MEMORY:
        return _MEMORY[name]
    if name.startswith("backbone_"):  # backbone_0_kernel -> backbone0/kernel
        _, index, kind = name.split("_")
        return f"backbone{index}/{kind}"
    if name.startswith("time_"):  # time_a_kernel -> time_a/kernel
        return name[:6] + "/" + name[7:]
    if name.startswith("ff"):
        return name.replace("_kernel", "_weight")
    return name


def _ncps_weights(layer) -> dict[str, np.ndarray]:
    """An ncps layer's weights by their rnn_zoo-comparable names (``backbone0/kernel``, ``ff1_weight``)."""
    weights = {}
    for variable in layer.weights:
        parts = variable.path.split("/")
        name = parts[-1]
        if parts[-2] in ("time_a", "time_b") or parts[-2].startswith("backbone"):
            name = f"{parts[-2]}/{name}"
        weights[name] = ops.convert_to_numpy(variable.value)
    return weights


def _activation_name(activation) -> str:
    name = getattr(activation, "__name__", str(activation))
    if name == "lecun_tanh":
        return "lecun_tanh"
    try:
        if keras.activations.get(name) is activation:
            return name
    except (ValueError, TypeError):
        pass
    raise ValueError(
        "The ncps layer's backbone activation is not a Keras activation or "
        f"lecun_tanh, which rnn_zoo cannot name. Received: activation={activation!r}"
    )


def from_ncps(ncps_layer):
    """An rnn_zoo ``CfC`` or ``LTC`` with an ``ncps.keras`` layer's configuration and weights.

    Args:
        ncps_layer: a built ``ncps.keras.CfC`` (any mode, backbone,
            ``mixed_memory``; not wired) or ``ncps.keras.LTC`` (any wiring,
            mappings, unfolds, ``mixed_memory``).

    Returns:
        The rnn_zoo layer, built for the same input features, computing the
        same outputs (and taking ``timespans`` at the call).

    Example (needs ``ncps``)::

        theirs = ncps.keras.CfC(16, mode="pure", return_sequences=True)
        theirs(x)                        # built
        ours = from_ncps(theirs)         # rnn_zoo.layers.CfC, same weights
        ours(x, timespans=gaps)
    """
    kind = type(ncps_layer).__name__
    if kind not in ("CfC", "LTC") or not hasattr(ncps_layer, "cell"):
        raise TypeError(
            "`ncps_layer` must be an ncps.keras.CfC or ncps.keras.LTC layer. "
            f"Received: {type(ncps_layer).__module__}.{kind}"
        )
    if not ncps_layer.built or not ncps_layer.weights:
        raise ValueError(
            "`ncps_layer` must be built (call it once on a batch) so that its "
            f"weights exist. Received: an unbuilt {kind}"
        )
    cell = ncps_layer.cell
    mixed_memory = type(cell).__name__ == "MixedMemoryRNN"
    inner = cell.rnn_cell if mixed_memory else cell
    sequence = {key: getattr(ncps_layer, key) for key in _SEQUENCE_ARGS}
    if kind == "CfC":
        if type(inner).__name__ != "CfCCell" or inner.sparsity_mask is not None:
            raise ValueError(
                "rnn_zoo's CfC converts ncps's fully connected CfC (with a "
                "backbone); a wired CfC or a sparsity_mask has no counterpart. "
                f"Received: {type(inner).__name__}"
            )
        layers = inner._backbone_layers
        ours = CfC(
            inner.units,
            mode=inner.mode,
            activation=_activation_name(inner._activation),
            backbone_units=inner._backbone_units if layers else 128,
            backbone_layers=layers,
            backbone_dropout=inner._backbone_dropout,
            mixed_memory=mixed_memory,
            **sequence,
        )
        input_dim = (
            cell.input_kernel.shape[0] if mixed_memory else _cfc_input_dim(inner)
        )
    else:
        wiring = inner.wiring
        ours = LTC(
            wiring.units,
            wiring=CustomWiring(
                wiring.adjacency_matrix,
                wiring.sensory_adjacency_matrix,
                wiring.output_dim,
            ),
            input_mapping=inner._input_mapping,
            output_mapping=inner._output_mapping,
            ode_unfolds=inner._ode_unfolds,
            epsilon=inner._epsilon,
            mixed_memory=mixed_memory,
            **sequence,
        )
        input_dim = cell.input_kernel.shape[0] if mixed_memory else wiring.input_dim
    batch = ncps_layer.states[0].shape[0] if ncps_layer.stateful else None
    ours.build((batch, None, int(input_dim)))
    theirs = _ncps_weights(ncps_layer)
    ours.set_weights([theirs[_ncps_name(w.name)] for w in ours.cell.weights])
    return ours


def _cfc_input_dim(cell) -> int:
    """The features a (non-mixed) ncps CfCCell reads: its first kernel's rows less the state."""
    if cell._backbone_layers:
        first = cell.backbone_fn.layers[0].kernel
    else:
        first = cell.ff1_kernel
    return int(first.shape[0]) - cell.units


def _ncps_wiring(cell):
    """An ``ncps.wirings.Wiring`` holding an rnn_zoo LTC cell's matrices."""
    from ncps import wirings

    wiring = wirings.Wiring(cell.units)
    if cell.wiring is None:
        signs = np.ones((cell.units, cell.units), np.int32)
        sensory = np.ones((cell.sensory_size, cell.units), np.int32)
    else:
        signs, sensory = cell.wiring.build(cell.sensory_size)
    # Only |adjacency| (the mask) matters once the reversal potentials are set.
    wiring.adjacency_matrix = np.asarray(signs, np.int32)
    wiring.input_dim = cell.sensory_size
    wiring.sensory_adjacency_matrix = np.asarray(sensory, np.int32)
    wiring.set_output_dim(cell.output_size)
    return wiring


def to_ncps(layer):
    """The ``ncps.keras`` ``CfC`` or ``LTC`` of an rnn_zoo ``CfC`` or ``LTC``, with its weights.

    Args:
        layer: a built rnn_zoo ``CfC`` or ``LTC`` without ``dropout``,
            ``recurrent_dropout`` or ``use_bias=False`` (``ncps`` has none).

    Returns:
        The ``ncps.keras`` layer, built, computing the same outputs.
    """
    import ncps.keras

    if not isinstance(layer, (CfC, LTC)):
        raise TypeError(
            f"`layer` must be an rnn_zoo CfC or LTC. Received: {type(layer).__name__}"
        )
    if not layer.built:
        raise ValueError(
            "`layer` must be built (call it once on a batch) so that its weights "
            f"exist. Received: an unbuilt {type(layer).__name__}"
        )
    cell = layer.cell
    for name in ("dropout", "recurrent_dropout"):
        if getattr(cell, name):
            raise ValueError(
                f"ncps's {type(layer).__name__} has no `{name}`. Received: "
                f"{name}={getattr(cell, name)}"
            )
    if not cell.use_bias:
        raise ValueError("ncps's layers always have biases. Received: use_bias=False")
    sequence = {key: getattr(layer, key) for key in _SEQUENCE_ARGS}
    if isinstance(layer, CfC):
        activation = cell.activation
        theirs = ncps.keras.CfC(
            cell.units,
            mixed_memory=cell.mixed_memory,
            mode=cell.mode,
            activation="lecun_tanh"
            if activation is _liquid.lecun_tanh
            else _activation_name(activation),
            backbone_units=cell.backbone_units,
            backbone_layers=cell.backbone_layers,
            backbone_dropout=cell.backbone_dropout,
            **sequence,
        )
    else:
        theirs = ncps.keras.LTC(
            _ncps_wiring(cell),
            mixed_memory=cell.mixed_memory,
            input_mapping=cell.input_mapping,
            output_mapping=cell.output_mapping,
            ode_unfolds=cell.ode_unfolds,
            epsilon=cell.epsilon,
            **sequence,
        )
    batch = layer.states[0].shape[0] if layer.stateful else None
    theirs.build((batch, None, cell.input_dim))
    ours = {_ncps_name(w.name): ops.convert_to_numpy(w.value) for w in cell.weights}
    targets = _ncps_weights(theirs)
    for variable, name in zip(theirs.weights, targets):
        variable.assign(ours[name])
    return theirs
