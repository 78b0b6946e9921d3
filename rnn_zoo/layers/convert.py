"""Weight converters between rnn_zoo layers and ``torch.nn.RNN/LSTM/GRU`` state dicts.

PyTorch is not needed: state dicts are read and written as NumPy arrays (a
``torch.Tensor`` is accepted on the way in, and ``torch.nn.Module.load_state_dict``
takes the arrays back after ``torch.from_numpy``).

Layouts: torch stores ``weight_ih_l{k}`` as ``(gates * units, features)`` with
the gates in rows, Keras stores ``kernel`` as ``(features, gates * units)``.
LSTM gates are ``i, f, g, o`` in both. GRU gates are ``r, z, n`` in torch and
``z, r, h`` in Keras; torch's GRU is Keras's ``reset_after=True``. torch has
two biases where Keras's LSTM and SimpleRNN have one (their sum).
"""

from __future__ import annotations

import numpy as np

from rnn_zoo.kernels.layout import gru_gate_order
from rnn_zoo.layers.bidirectional import Bidirectional
from rnn_zoo.layers.gru import GRU
from rnn_zoo.layers.lstm import LSTM
from rnn_zoo.layers.simple_rnn import SimpleRNN
from rnn_zoo.layers.stack import StackedRNN


def _numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch.Tensor
        value = value.detach().cpu().numpy()
    # A copy: np.asarray of a JAX array is a read-only view of its buffer,
    # which torch.from_numpy warns about and nobody may write to.
    return np.array(value)


def _gru_reorder(rows: np.ndarray, units: int) -> np.ndarray:
    """The gate blocks of ``rows`` (gates on axis 0) in the other framework's order."""
    return rows[gru_gate_order(units)]


def _directions(layer):
    """The plain sequence layers inside ``layer``, in torch's parameter order."""
    if isinstance(layer, StackedRNN):
        out = []
        for inner in layer.rnn_layers:
            out += _directions(inner)
        return out
    if isinstance(layer, Bidirectional):
        return [layer.forward_layer, layer.backward_layer]
    if isinstance(layer, (SimpleRNN, LSTM, GRU)):
        return [layer]
    raise TypeError(
        "Expected an rnn_zoo SimpleRNN, LSTM, GRU, Bidirectional or StackedRNN. "
        f"Received: layer={layer!r}"
    )


def _suffixes(layer) -> list[str]:
    bidirectional = isinstance(layer, Bidirectional) or (
        isinstance(layer, StackedRNN) and layer.bidirectional
    )
    n = len(_directions(layer))
    if bidirectional:
        return [f"l{i // 2}{'_reverse' if i % 2 else ''}" for i in range(n)]
    return [f"l{i}" for i in range(n)]


def _check_convertible(layer) -> None:
    if isinstance(layer, GRU) and not layer.cell.reset_after:
        raise ValueError(
            "torch.nn.GRU has no reset_after=False variant: expected a GRU with "
            "`reset_after=True`. Received: reset_after=False"
        )
    if isinstance(layer, SimpleRNN):
        name = getattr(layer.cell.activation, "__name__", str(layer.cell.activation))
        if name not in ("tanh", "relu"):
            raise ValueError(
                "torch.nn.RNN supports nonlinearity 'tanh' or 'relu'. "
                f"Received: activation={name!r}"
            )
    if not layer.built:
        raise ValueError(
            f"Layer '{layer.name}' has no weights yet: call it on a batch or "
            "build() it before converting."
        )


def to_torch_state_dict(layer) -> dict[str, np.ndarray]:
    """Returns the ``torch.nn.RNN/LSTM/GRU`` state dict of ``layer``'s weights.

    A ``StackedRNN`` maps to ``num_layers=N`` and a ``Bidirectional`` (or
    ``StackedRNN(bidirectional=True)``) to ``bidirectional=True``.

    Example:

    >>> import numpy as np
    >>> from rnn_zoo.layers import LSTM
    >>> layer = LSTM(4)
    >>> _ = layer(np.zeros((1, 2, 3), "float32"))
    >>> sorted(to_torch_state_dict(layer))
    ['bias_hh_l0', 'bias_ih_l0', 'weight_hh_l0', 'weight_ih_l0']
    """
    state = {}
    for direction, suffix in zip(_directions(layer), _suffixes(layer)):
        _check_convertible(direction)
        cell = direction.cell
        units = cell.units
        kernel = _numpy(cell.kernel)
        recurrent = _numpy(cell.recurrent_kernel)
        bias = None if cell.bias is None else _numpy(cell.bias)
        if isinstance(direction, GRU):
            w_ih = _gru_reorder(kernel.T, units)
            w_hh = _gru_reorder(recurrent.T, units)
            b_ih = None if bias is None else _gru_reorder(bias[0], units)
            b_hh = None if bias is None else _gru_reorder(bias[1], units)
        else:
            w_ih, w_hh = kernel.T, recurrent.T
            b_ih = bias
            b_hh = None if bias is None else np.zeros_like(bias)
        state[f"weight_ih_{suffix}"] = np.ascontiguousarray(w_ih)
        state[f"weight_hh_{suffix}"] = np.ascontiguousarray(w_hh)
        if b_ih is not None:
            state[f"bias_ih_{suffix}"] = np.ascontiguousarray(b_ih)
            state[f"bias_hh_{suffix}"] = np.ascontiguousarray(b_hh)
    return state


def from_torch_state_dict(layer, state_dict) -> None:
    """Loads a ``torch.nn.RNN/LSTM/GRU`` state dict into a built ``layer``.

    The layer must have the same cell type, units, number of layers,
    directions and biases as the torch module: every expected key must be
    present with the expected shape, and no other key. Nothing is loaded
    unless everything fits.
    """
    loads, expected_keys = [], set()
    for direction, suffix in zip(_directions(layer), _suffixes(layer)):
        _check_convertible(direction)
        cell = direction.cell
        units = cell.units
        expected = {
            f"weight_ih_{suffix}": (cell.gates * units, cell.input_dim),
            f"weight_hh_{suffix}": (cell.gates * units, units),
        }
        if cell.use_bias:
            expected[f"bias_ih_{suffix}"] = (cell.gates * units,)
            expected[f"bias_hh_{suffix}"] = (cell.gates * units,)
        expected_keys.update(expected)
        arrays = {}
        for key, shape in expected.items():
            if key not in state_dict:
                raise ValueError(
                    f"`state_dict` lacks '{key}' for layer '{direction.name}'. "
                    f"Received keys: {sorted(state_dict)}"
                )
            arrays[key] = _numpy(state_dict[key])
            if arrays[key].shape != shape:
                raise ValueError(
                    f"`state_dict['{key}']` must have shape {shape} for layer "
                    f"'{direction.name}'. Received: {arrays[key].shape}"
                )
        w_ih, w_hh = arrays[f"weight_ih_{suffix}"], arrays[f"weight_hh_{suffix}"]
        b_ih = arrays.get(f"bias_ih_{suffix}")
        b_hh = arrays.get(f"bias_hh_{suffix}")
        if isinstance(direction, GRU):
            weights = [_gru_reorder(w_ih, units).T, _gru_reorder(w_hh, units).T]
            if cell.use_bias:
                weights.append(
                    np.stack([_gru_reorder(b_ih, units), _gru_reorder(b_hh, units)])
                )
        else:
            weights = [w_ih.T, w_hh.T]
            if cell.use_bias:
                weights.append(b_ih + b_hh)
        loads.append((direction, weights))
    # A key left over (another layer, the reverse direction, a bias) would
    # otherwise be dropped silently, and the layer compute something else.
    unexpected = sorted(set(state_dict) - expected_keys)
    if unexpected:
        raise ValueError(
            f"`state_dict` has keys that layer '{layer.name}' has no weight for: "
            f"{unexpected}. Expected exactly: {sorted(expected_keys)}"
        )
    for direction, weights in loads:
        direction.set_weights([np.ascontiguousarray(w) for w in weights])
