"""Wirings: fixed sparse connectivity for the liquid cells (neural circuit policies).

Lechner et al. 2020 (Nature Machine Intelligence), "Neural circuit policies
enabling auditable autonomy": a wiring says which neuron reads which (the
recurrent ``adjacency``, ``(units, units)``, source rows and target columns)
and which input feature reaches which neuron (``sensory``,
``(input_dim, units)``); each synapse is excitatory (+1) or inhibitory (-1),
0 where there is none. The first ``output_dim`` neurons are the outputs
(motor neurons). An ``LTC`` with a wiring masks its synapses with it and
starts its reversal potentials at the synapses' signs.

A wiring is deterministic: ``build(input_dim)`` draws its synapses from its
own ``seed`` each time, so a layer rebuilt from its config has the same
connectivity. Each class is registered serializable under ``rnn_zoo``.
"""

from __future__ import annotations

import keras
import numpy as np

from rnn_zoo import _checks


class Wiring:
    """The base of the wirings: ``units`` neurons, the first ``output_dim`` the outputs."""

    def __init__(self, units, output_dim=None):
        self.units = _checks.check_units(units)
        output_dim = self.units if output_dim is None else output_dim
        self.output_dim = _checks.check_positive_int(output_dim, "output_dim")
        if self.output_dim > self.units:
            raise ValueError(
                f"`output_dim` must be at most the number of neurons ({self.units}). "
                f"Received: output_dim={output_dim}"
            )

    def build(self, input_dim: int) -> tuple[np.ndarray, np.ndarray]:
        """``(adjacency, sensory)``: ``(units, units)`` and ``(input_dim, units)``
        int8 matrices of synapse signs (+1, -1, 0 for none)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"units": self.units, "output_dim": self.output_dim}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()


def _signs(rng, shape, excitatory: float) -> np.ndarray:
    return np.where(rng.random(shape) < excitatory, 1, -1).astype(np.int8)


@keras.saving.register_keras_serializable(package="rnn_zoo")
class FullyConnected(Wiring):
    """Every input reaches every neuron and every neuron every other.

    Two thirds of the synapses start excitatory (as ``ncps``'s
    ``FullyConnected``), drawn from ``seed``.

    Args:
        units: the number of neurons (the state size).
        output_dim: how many neurons are outputs (default all).
        self_connections: whether a neuron reads itself.
        seed: seed of the synapse signs.

    Example:

    >>> adjacency, sensory = FullyConnected(4, output_dim=2).build(3)
    >>> adjacency.shape, sensory.shape, bool((adjacency != 0).all())
    ((4, 4), (3, 4), True)
    """

    def __init__(self, units, output_dim=None, self_connections=True, seed=1111):
        super().__init__(units, output_dim)
        self.self_connections = bool(self_connections)
        self.seed = int(seed)

    def build(self, input_dim):
        rng = np.random.default_rng(self.seed)
        adjacency = _signs(rng, (self.units, self.units), 2 / 3)
        if not self.self_connections:
            np.fill_diagonal(adjacency, 0)
        return adjacency, _signs(rng, (input_dim, self.units), 2 / 3)

    def get_config(self):
        return {
            **super().get_config(),
            "self_connections": self.self_connections,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="rnn_zoo")
class NCP(Wiring):
    """A neural circuit policy: sensory -> inter -> command (recurrent) -> motor neurons.

    Neurons are numbered motor first, then command, then inter, so the
    outputs are the first ``motor_neurons``. Each input feature reaches
    ``sensory_fanout`` inter neurons, each inter neuron ``inter_fanout``
    command neurons, the command neurons have ``recurrent_command_synapses``
    synapses among themselves, and each motor neuron reads ``motor_fanin``
    command neurons; a neuron no synapse reaches gets one. Signs are
    excitatory or inhibitory with equal chance, from ``seed``.

    Example:

    >>> wiring = NCP(4, 3, 2, sensory_fanout=2, inter_fanout=2,
    ...              recurrent_command_synapses=3, motor_fanin=2)
    >>> wiring.units, wiring.output_dim
    (9, 2)
    """

    def __init__(
        self,
        inter_neurons,
        command_neurons,
        motor_neurons,
        sensory_fanout,
        inter_fanout,
        recurrent_command_synapses,
        motor_fanin,
        seed=22222,
    ):
        sizes = {
            "inter_neurons": inter_neurons,
            "command_neurons": command_neurons,
            "motor_neurons": motor_neurons,
            "sensory_fanout": sensory_fanout,
            "inter_fanout": inter_fanout,
            "motor_fanin": motor_fanin,
        }
        for name, value in sizes.items():
            _checks.check_positive_int(value, name)
        for fan, limit in (
            ("sensory_fanout", "inter_neurons"),
            ("inter_fanout", "command_neurons"),
            ("motor_fanin", "command_neurons"),
        ):
            if sizes[fan] > sizes[limit]:
                raise ValueError(
                    f"`{fan}` must be at most `{limit}` ({sizes[limit]}). "
                    f"Received: {fan}={sizes[fan]}"
                )
        if (
            isinstance(recurrent_command_synapses, bool)
            or recurrent_command_synapses < 0
        ):
            raise ValueError(
                "`recurrent_command_synapses` must be a non-negative integer. "
                f"Received: recurrent_command_synapses={recurrent_command_synapses!r}"
            )
        super().__init__(inter_neurons + command_neurons + motor_neurons, motor_neurons)
        self.inter_neurons = int(inter_neurons)
        self.command_neurons = int(command_neurons)
        self.motor_neurons = int(motor_neurons)
        self.sensory_fanout = int(sensory_fanout)
        self.inter_fanout = int(inter_fanout)
        self.recurrent_command_synapses = int(recurrent_command_synapses)
        self.motor_fanin = int(motor_fanin)
        self.seed = int(seed)

    def build(self, input_dim):
        rng = np.random.default_rng(self.seed)
        motor = np.arange(self.motor_neurons)
        command = self.motor_neurons + np.arange(self.command_neurons)
        inter = (
            self.motor_neurons + self.command_neurons + np.arange(self.inter_neurons)
        )
        sensory = np.zeros((input_dim, self.units), np.int8)
        adjacency = np.zeros((self.units, self.units), np.int8)

        def connect(matrix, sources, targets, fanout):
            """Each source reaches ``fanout`` targets; an unreached target gets a source."""
            for source in sources:
                for target in rng.choice(targets, size=fanout, replace=False):
                    matrix[source, target] = rng.choice([-1, 1])
            for target in targets:
                if not matrix[sources, target].any():
                    matrix[rng.choice(sources), target] = rng.choice([-1, 1])

        connect(
            sensory, np.arange(input_dim), inter, min(self.sensory_fanout, len(inter))
        )
        connect(adjacency, inter, command, self.inter_fanout)
        for _ in range(self.recurrent_command_synapses):
            source, target = rng.choice(command), rng.choice(command)
            adjacency[source, target] = rng.choice([-1, 1])
        # Each motor neuron reads motor_fanin command neurons, and each command
        # neuron reaches a motor neuron: a fan-out from the motor side, transposed.
        reads = np.zeros((self.units, self.units), np.int8)
        connect(reads, motor, command, self.motor_fanin)
        return adjacency + reads.T, sensory

    def get_config(self):
        return {
            "inter_neurons": self.inter_neurons,
            "command_neurons": self.command_neurons,
            "motor_neurons": self.motor_neurons,
            "sensory_fanout": self.sensory_fanout,
            "inter_fanout": self.inter_fanout,
            "recurrent_command_synapses": self.recurrent_command_synapses,
            "motor_fanin": self.motor_fanin,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="rnn_zoo")
class AutoNCP(NCP):
    """An ``NCP`` from its size alone, as ``ncps``'s ``AutoNCP`` sizes one.

    Of the ``units - output_size`` hidden neurons 40 % are command neurons
    (at least one) and the rest inter neurons; the fan-outs are the layer
    sizes times ``1 - sparsity_level`` (at least one).

    Args:
        units: the number of neurons; more than ``output_size + 2``.
        output_size: the number of motor (output) neurons.
        sparsity_level: in [0.1, 1.0), how sparse the synapses are.
        seed: seed of the synapses.

    Example:

    >>> wiring = AutoNCP(10, 3)
    >>> wiring.units, wiring.output_dim, wiring.command_neurons
    (10, 3, 2)
    """

    def __init__(self, units, output_size, sparsity_level=0.5, seed=22222):
        units = _checks.check_units(units)
        output_size = _checks.check_positive_int(output_size, "output_size")
        if output_size >= units - 2:
            raise ValueError(
                f"`output_size` must be less than units - 2 ({units - 2}) for "
                f"units={units}. Received: output_size={output_size}"
            )
        if not 0.1 <= sparsity_level < 1.0:
            raise ValueError(
                "`sparsity_level` must be in [0.1, 1.0). Received: "
                f"sparsity_level={sparsity_level!r}"
            )
        density = 1.0 - sparsity_level
        hidden = units - output_size
        command = max(int(0.4 * hidden), 1)
        inter = hidden - command
        super().__init__(
            inter,
            command,
            output_size,
            sensory_fanout=max(int(inter * density), 1),
            inter_fanout=max(int(command * density), 1),
            recurrent_command_synapses=max(int(command * density * 2), 1),
            motor_fanin=max(int(command * density), 1),
            seed=seed,
        )
        self.output_size = output_size
        self.sparsity_level = float(sparsity_level)

    def get_config(self):
        return {
            "units": self.units,
            "output_size": self.output_size,
            "sparsity_level": self.sparsity_level,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="rnn_zoo")
class CustomWiring(Wiring):
    """A wiring given by its matrices (what :func:`rnn_zoo.layers.from_ncps` makes).

    Args:
        adjacency: ``(units, units)`` synapse signs, source rows.
        sensory: ``(input_dim, units)`` synapse signs of the inputs.
        output_dim: how many of the first neurons are outputs.
    """

    def __init__(self, adjacency, sensory, output_dim=None):
        self.adjacency = np.sign(np.asarray(adjacency)).astype(np.int8)
        self.sensory = np.sign(np.asarray(sensory)).astype(np.int8)
        units = self.adjacency.shape[0]
        if (
            self.adjacency.shape != (units, units)
            or self.sensory.ndim != 2
            or (self.sensory.shape[1] != units)
        ):
            raise ValueError(
                "`adjacency` must be (units, units) and `sensory` (input_dim, "
                f"units). Received: adjacency.shape={self.adjacency.shape}, "
                f"sensory.shape={self.sensory.shape}"
            )
        super().__init__(units, output_dim)

    def build(self, input_dim):
        if input_dim != self.sensory.shape[0]:
            raise ValueError(
                f"This wiring's `sensory` matrix is for {self.sensory.shape[0]} input "
                f"features. Received: {input_dim} features"
            )
        return self.adjacency.copy(), self.sensory.copy()

    def get_config(self):
        return {
            "adjacency": self.adjacency.tolist(),
            "sensory": self.sensory.tolist(),
            "output_dim": self.output_dim,
        }


def get_wiring(wiring):
    """``None``, a ``Wiring``, or a serialized one (a layer's config)."""
    if wiring is None or isinstance(wiring, Wiring):
        return wiring
    if isinstance(wiring, dict):
        wiring = keras.saving.deserialize_keras_object(wiring)
        if isinstance(wiring, Wiring):
            return wiring
    raise TypeError(
        "`wiring` must be an rnn_zoo wiring (FullyConnected, NCP, AutoNCP, "
        f"CustomWiring) or None. Received: wiring={wiring!r}"
    )
