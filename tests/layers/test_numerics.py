"""rnn_zoo's layers compute what Keras's and PyTorch's recurrent layers compute.

With the same weights, outputs, final states and gradients (with respect to
the inputs, the initial states and every weight) agree with
``keras.layers.SimpleRNN/LSTM/GRU/Bidirectional`` and with
``torch.nn.RNN/LSTM/GRU`` to 1e-5 in float32; a float64 finite-difference check
pins each cell's gradients down independently of both references.

PyTorch is a plain reference library here, whatever the Keras backend is.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from keras import ops

from rnn_zoo.layers import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
    StackedRNN,
    from_torch_state_dict,
)
from tests.layers._grads import cotangent, finite_differences, value_and_grads

BATCH, TIMESTEPS, FEATURES, UNITS = 3, 5, 4, 5
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}

# Per-sequence lengths of the padded masks; one sequence is full, one has a
# single real step.
LENGTHS = np.array([5, 3, 1])
MASKS = {
    None: None,
    "right": np.arange(TIMESTEPS)[None, :] < LENGTHS[:, None],
    "left": np.arange(TIMESTEPS)[None, :] >= TIMESTEPS - LENGTHS[:, None],
    # Holes anywhere, a masked first step and a masked last step.
    "holed": np.array(
        [
            [1, 0, 1, 1, 1],
            [0, 1, 1, 0, 0],
            [1, 1, 0, 0, 1],
        ],
        dtype=bool,
    ),
}


def _inputs(seed=0, shape=(BATCH, TIMESTEPS, FEATURES)):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _states(count, seed=1, units=UNITS):
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((BATCH, units)).astype("float32") * 0.5
        for _ in range(count)
    ]


def _assert_all_close(actual, expected, what):
    assert len(actual) == len(expected), what
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape, f"{what}[{i}]: shape {a.shape} != {e.shape}"
        np.testing.assert_allclose(a, e, err_msg=f"{what}[{i}]", **TOLERANCE)


# --- against keras.layers ----------------------------------------------------

# (rnn_zoo class, keras class, extra keras arguments)
KERAS_TWINS = {
    "simple": (SimpleRNN, keras.layers.SimpleRNN, {}),
    "lstm": (LSTM, keras.layers.LSTM, {"use_cudnn": False}),
    "gru": (GRU, keras.layers.GRU, {"use_cudnn": False}),
}

# Every cell variant the issue names; the first four run every sequence
# option, the others one each of the two that exercise the most at once.
CELLS = {
    "simple-tanh": ("simple", {"activation": "tanh"}),
    "lstm": ("lstm", {}),
    "gru-reset_after": ("gru", {"reset_after": True}),
    "gru-reset_before": ("gru", {"reset_after": False}),
    "simple-relu": ("simple", {"activation": "relu"}),
    "lstm-nobias": ("lstm", {"use_bias": False}),
    "gru-reset_after-nobias": ("gru", {"use_bias": False}),
    "gru-reset_before-nobias": ("gru", {"reset_after": False, "use_bias": False}),
}
MAIN_CELLS = list(CELLS)[:4]


def _cells(*names):
    return [pytest.param(*CELLS[name], id=name) for name in names]


# (layer options, mask, initial_state). A masked step repeats the previous
# output; no option here masks a first step while passing an initial state
# with return_sequences, which KERAS_JAX_LEADING_MASK covers.
SEQUENCE_OPTIONS = [
    pytest.param({"return_sequences": True}, None, False, id="sequences"),
    pytest.param(
        {"return_sequences": True, "return_state": True},
        "right",
        True,
        id="right-padded-initial_state",
    ),
    pytest.param({"return_state": True}, "holed", True, id="holed-last-initial_state"),
    pytest.param(
        {"return_sequences": True, "return_state": True, "go_backwards": True},
        "holed",
        False,
        id="backwards-holed",
    ),
    pytest.param(
        {"return_state": True, "go_backwards": True},
        "left",
        True,
        id="backwards-last-initial_state",
    ),
]


def _randomize(layer, seed=2):
    """Gives every weight (biases included) random values, so none hides."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.uniform(-0.6, 0.6, w.shape).astype(w.dtype) for w in layer.get_weights()]
    )


def _compare_with_keras(ours, theirs, mask_name, num_states, compiled=False):
    x = _inputs()
    mask = MASKS[mask_name]
    theirs.build(x.shape)
    ours.build(x.shape)
    _randomize(theirs)
    ours.set_weights(theirs.get_weights())
    assert [w.shape for w in ours.get_weights()] == [
        w.shape for w in theirs.get_weights()
    ]

    def forward(call, x, *states):
        kwargs = {}
        if mask is not None:
            kwargs["mask"] = ops.convert_to_tensor(mask)
        if states:
            kwargs["initial_state"] = list(states)
        return call(x, **kwargs)

    inputs = [x] + _states(num_states)
    expected = value_and_grads(theirs, forward, inputs, compiled)
    actual = value_and_grads(ours, forward, inputs, compiled)
    for what, a, e in zip(("outputs", "input grads", "weight grads"), actual, expected):
        _assert_all_close(a, e, what)


def _sequence_cases():
    options = {option.id: option for option in SEQUENCE_OPTIONS}
    pairs = [(name, option) for name in MAIN_CELLS for option in options]
    pairs += [
        ("simple-relu", "right-padded-initial_state"),
        ("lstm-nobias", "backwards-holed"),
        ("gru-reset_after-nobias", "right-padded-initial_state"),
        ("gru-reset_before-nobias", "backwards-holed"),
    ]
    return [
        pytest.param(*CELLS[name], *options[option].values, id=f"{name}-{option}")
        for name, option in pairs
    ]


@pytest.mark.parametrize(
    "cell, cell_kwargs, options, mask_name, initial_state", _sequence_cases()
)
def test_sequence_layer_matches_keras(
    cell, cell_kwargs, options, mask_name, initial_state
):
    ours_class, keras_class, keras_only = KERAS_TWINS[cell]
    ours = ours_class(UNITS, **cell_kwargs, **options)
    theirs = keras_class(UNITS, **cell_kwargs, **keras_only, **options)
    num_states = len(ours.state_size) if initial_state else 0
    _compare_with_keras(ours, theirs, mask_name, num_states)


@pytest.mark.parametrize("cell, cell_kwargs", _cells("lstm-nobias", "gru-reset_before"))
def test_compiled_sequence_layer_matches_keras(cell, cell_kwargs):
    # In a tf.function / under jax.jit, as fit() runs it: TensorFlow's graph
    # while_loop and JAX's compiled scan, not their eager forms.
    options = {"return_sequences": True, "return_state": True, "go_backwards": True}
    ours_class, keras_class, keras_only = KERAS_TWINS[cell]
    ours = ours_class(UNITS, **cell_kwargs, **options)
    theirs = keras_class(UNITS, **cell_kwargs, **keras_only, **options)
    _compare_with_keras(ours, theirs, "holed", 0, compiled=True)


# Keras's JAX backend repeats the previous *state* at a masked step
# (keras/src/backend/jax/rnn.py), its TensorFlow and PyTorch backends the
# previous output, zeros before the first real step. They differ when an
# initial state is given and a leading step is masked: rnn_zoo outputs zeros
# there on every backend (rnn_zoo.kernels.reference.run_reference).
KERAS_JAX_LEADING_MASK = pytest.mark.xfail(
    keras.backend.backend() == "jax",
    reason="keras.layers.RNN on JAX repeats the initial state at leading masked steps",
    strict=True,
)


@KERAS_JAX_LEADING_MASK
@pytest.mark.parametrize("cell, cell_kwargs", _cells("lstm"))
def test_leading_masked_steps_with_initial_state_match_keras(cell, cell_kwargs):
    options = {"return_sequences": True, "return_state": True, "go_backwards": True}
    ours_class, keras_class, keras_only = KERAS_TWINS[cell]
    ours = ours_class(UNITS, **cell_kwargs, **options)
    theirs = keras_class(UNITS, **cell_kwargs, **keras_only, **options)
    _compare_with_keras(ours, theirs, "holed", len(ours.state_size))


# Each merge mode once, each with another cell and the options that matter
# most for it: (cell, layer options, mask, initial_state, merge_mode).
BIDIRECTIONAL_CASES = [
    (
        "simple-tanh",
        {"return_sequences": True, "return_state": True},
        "left",
        True,
        "concat",
    ),
    ("lstm", {"return_state": True}, "holed", True, "sum"),
    ("gru-reset_after", {"return_sequences": True}, "holed", False, "mul"),
    (
        "gru-reset_before",
        {"return_sequences": True, "return_state": True},
        "right",
        True,
        "ave",
    ),
    (
        "simple-relu",
        {"return_sequences": True, "return_state": True},
        "holed",
        False,
        None,
    ),
]


@pytest.mark.parametrize(
    "cell, cell_kwargs, options, mask_name, initial_state, merge_mode",
    [
        pytest.param(*CELLS[name], options, mask, initial, merge, id=f"{name}-{merge}")
        for name, options, mask, initial, merge in BIDIRECTIONAL_CASES
    ],
)
def test_bidirectional_matches_keras(
    cell, cell_kwargs, options, mask_name, initial_state, merge_mode
):
    ours_class, keras_class, keras_only = KERAS_TWINS[cell]
    ours = Bidirectional(
        ours_class(UNITS, **cell_kwargs, **options), merge_mode=merge_mode
    )
    theirs = keras.layers.Bidirectional(
        keras_class(UNITS, **cell_kwargs, **keras_only, **options),
        merge_mode=merge_mode,
    )
    num_states = 2 * len(ours.forward_layer.state_size) if initial_state else 0
    _compare_with_keras(ours, theirs, mask_name, num_states)


# --- against torch.nn --------------------------------------------------------

# (torch module class, its extra arguments, rnn_zoo cell name, rnn_zoo arguments)
TORCH_TWINS = {
    "rnn-tanh": (
        torch.nn.RNN,
        {"nonlinearity": "tanh"},
        "simple",
        {"activation": "tanh"},
    ),
    "rnn-relu": (
        torch.nn.RNN,
        {"nonlinearity": "relu"},
        "simple",
        {"activation": "relu"},
    ),
    "lstm": (torch.nn.LSTM, {}, "lstm", {}),
    "gru": (torch.nn.GRU, {}, "gru", {}),
}
SEQUENCE_CLASSES = {"simple": SimpleRNN, "lstm": LSTM, "gru": GRU}

# How the torch module is mirrored: (num_layers, bidirectional, rnn_zoo structure)
STRUCTURES = {
    "layer": (1, False, "layer"),
    "bidirectional": (1, True, "bidirectional"),
    "stacked": (2, False, "stacked"),
    "stacked-bidirectional": (2, True, "stacked"),
}


def _ours_for_torch(cell, cell_kwargs, num_layers, bidirectional, structure):
    if structure == "stacked":
        return StackedRNN(
            cell,
            units=UNITS,
            num_layers=num_layers,
            bidirectional=bidirectional,
            return_sequences=True,
            return_state=True,
            **cell_kwargs,
        )
    layer = SEQUENCE_CLASSES[cell](
        UNITS, return_sequences=True, return_state=True, **cell_kwargs
    )
    return Bidirectional(layer) if bidirectional else layer


def _torch_grads_in_keras_layout(module, gru, num_layers, bidirectional):
    """Each direction's ``[kernel, recurrent_kernel, bias]`` gradients, in rnn_zoo's order.

    Written independently of rnn_zoo's converters. Keras's single LSTM/RNN bias
    is torch's ``bias_ih + bias_hh``: its gradient is either one's. Keras's GRU
    gates are (z, r, h), torch's (r, z, n).
    """
    params = dict(module.named_parameters())

    def keras_rows(rows):
        if gru:
            rows = torch.cat([rows[UNITS : 2 * UNITS], rows[:UNITS], rows[2 * UNITS :]])
        return rows.detach().numpy()

    grads = []
    for layer in range(num_layers):
        for suffix in ("", "_reverse") if bidirectional else ("",):
            key = f"l{layer}{suffix}"
            grads.append(keras_rows(params[f"weight_ih_{key}"].grad).T)
            grads.append(keras_rows(params[f"weight_hh_{key}"].grad).T)
            if gru:
                b_ih = keras_rows(params[f"bias_ih_{key}"].grad)
                grads.append(
                    np.stack([b_ih, keras_rows(params[f"bias_hh_{key}"].grad)])
                )
            else:
                grads.append(keras_rows(params[f"bias_ih_{key}"].grad))
    return grads


def _our_weights_in_torch_order(layer):
    """The ``[kernel, recurrent_kernel, bias]`` variables direction by direction."""
    if isinstance(layer, StackedRNN):
        return [
            v for inner in layer.rnn_layers for v in _our_weights_in_torch_order(inner)
        ]
    if isinstance(layer, Bidirectional):
        return _our_weights_in_torch_order(
            layer.forward_layer
        ) + _our_weights_in_torch_order(layer.backward_layer)
    cell = layer.cell
    return [cell.kernel, cell.recurrent_kernel, cell.bias]


# Every structure runs packed (right-padded, with initial states), relu in
# two of them; unpadded runs with default zero states in the deepest
# structure.
TORCH_CASES = [
    pytest.param(twin, structure, True, id=f"{twin}-{structure}-packed-initial_state")
    for twin in TORCH_TWINS
    for structure in STRUCTURES
    if twin != "rnn-relu" or structure in ("bidirectional", "stacked")
] + [
    pytest.param(
        twin, "stacked-bidirectional", False, id=f"{twin}-stacked-bidirectional-full"
    )
    for twin in ("lstm", "gru")
]


@pytest.mark.parametrize("twin, structure, padded", TORCH_CASES)
def test_matches_torch(twin, structure, padded):
    torch_class, torch_kwargs, cell, cell_kwargs = TORCH_TWINS[twin]
    num_layers, bidirectional, kind = STRUCTURES[structure]
    directions = 2 if bidirectional else 1
    lstm = cell == "lstm"

    torch.manual_seed(0)
    module = torch_class(
        FEATURES,
        UNITS,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=True,
        **torch_kwargs,
    )
    ours = _ours_for_torch(cell, cell_kwargs, num_layers, bidirectional, kind)
    x = _inputs()
    ours.build(x.shape)
    from_torch_state_dict(ours, module.state_dict())

    n_states = num_layers * directions
    h0, c0 = _states(n_states, seed=3), _states(n_states, seed=4)

    # torch: zeros at padded outputs, h_n/c_n of shape (layers * directions, batch, units).
    x_t = torch.tensor(x, requires_grad=True)
    h0_t = torch.tensor(np.stack(h0), requires_grad=True)
    c0_t = torch.tensor(np.stack(c0), requires_grad=True)
    if padded:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x_t, torch.tensor(LENGTHS), batch_first=True, enforce_sorted=False
        )
        output, state_n = module(packed, (h0_t, c0_t) if lstm else h0_t)
        output, _ = torch.nn.utils.rnn.pad_packed_sequence(
            output, batch_first=True, total_length=TIMESTEPS
        )
    else:
        output, state_n = module(x_t)
    h_n, c_n = state_n if lstm else (state_n, None)
    # rnn_zoo's order: the output, then each layer's forward states, then its backward ones.
    torch_outputs = [output]
    for k in range(n_states):
        torch_outputs += [h_n[k], c_n[k]] if lstm else [h_n[k]]
    loss = sum(
        (o * torch.tensor(cotangent(i, o.shape), dtype=o.dtype)).sum()
        for i, o in enumerate(torch_outputs)
    )
    loss.backward()
    expected_outputs = [o.detach().numpy() for o in torch_outputs]
    expected_input_grads = [x_t.grad.numpy()]
    initial = []
    for k in range(n_states if padded else 0):
        expected_input_grads.append(h0_t.grad[k].numpy())
        initial.append(h0[k])
        if lstm:
            expected_input_grads.append(c0_t.grad[k].numpy())
            initial.append(c0[k])
    expected_weight_grads = _torch_grads_in_keras_layout(
        module, cell == "gru", num_layers, bidirectional
    )

    def forward(call, x, *states):
        if not padded:
            return call(x)
        mask = ops.convert_to_tensor(MASKS["right"])
        output, *final = call(x, initial_state=list(states), mask=mask)
        # Padded steps repeat the previous output; torch pads them with zeros.
        output = output * ops.cast(mask[:, :, None], output.dtype)
        return [output, *final]

    outputs, input_grads, weight_grads = value_and_grads(ours, forward, [x] + initial)
    paths = [v.path for v in ours.trainable_weights]
    weight_grads = [
        weight_grads[paths.index(v.path)] for v in _our_weights_in_torch_order(ours)
    ]
    _assert_all_close(outputs, expected_outputs, "outputs")
    _assert_all_close(input_grads, expected_input_grads, "input grads")
    _assert_all_close(weight_grads, expected_weight_grads, "weight grads")


# --- float64 finite differences ----------------------------------------------

FD_CELLS = [
    pytest.param(SimpleRNNCell, {}, id="simple"),
    pytest.param(LSTMCell, {}, id="lstm"),
    pytest.param(GRUCell, {"reset_after": True}, id="gru-reset_after"),
    pytest.param(GRUCell, {"reset_after": False}, id="gru-reset_before"),
]


# Off TensorFlow, Keras computes float64 partly in float32:
# keras.backend.result_type maps float64 to float32 on JAX and PyTorch, so
# keras.ops.matmul on PyTorch and keras.ops.tanh on JAX (x64 enabled) return
# float32 (keras-team/keras#23704). Finite differences need true float64; the
# float32 comparisons above check the gradients on every backend.
@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="Keras computes float64 in float32 on this backend (keras-team/keras#23704)",
)
@pytest.mark.parametrize("cell_class, cell_kwargs", FD_CELLS)
def test_gradients_match_finite_differences(cell_class, cell_kwargs):
    import tensorflow as tf

    batch, timesteps, features, units = 2, 4, 3, 3
    eps = 1e-6
    rng = np.random.default_rng(5)
    x = rng.standard_normal((batch, timesteps, features))
    mask = np.array([[1, 0, 1, 1], [0, 1, 1, 0]], dtype=bool)
    layer = RNN(
        cell_class(units, dtype="float64", **cell_kwargs),
        return_sequences=True,
        return_state=True,
        dtype="float64",
    )
    layer(x)
    layer.set_weights([rng.uniform(-0.8, 0.8, w.shape) for w in layer.get_weights()])
    states = [rng.standard_normal((batch, units)) for _ in layer.state_size]
    assert all(v.dtype == "float64" for v in layer.weights)

    def forward(call, x, *states):
        return call(x, initial_state=list(states), mask=ops.convert_to_tensor(mask))

    _, input_grads, weight_grads = value_and_grads(layer, forward, [x] + states)
    assert all(g.dtype == np.float64 for g in input_grads + weight_grads)

    non_trainable = [v.value for v in layer.non_trainable_variables]

    @tf.function
    def outputs_of(weights, x, states):
        outputs, _ = layer.stateless_call(
            weights, non_trainable, x, initial_state=states, mask=mask
        )
        return outputs

    def loss(weights, inputs):
        outputs = outputs_of(weights, inputs[0], inputs[1:])
        return sum(
            np.sum(o.numpy() * cotangent(i, o.shape)) for i, o in enumerate(outputs)
        )

    def central_differences(arrays, weights, inputs):
        return finite_differences(lambda: loss(weights, inputs), arrays, eps)

    weights = [ops.convert_to_numpy(v) for v in layer.trainable_variables]
    inputs = [x] + states
    numeric_inputs = central_differences(inputs, weights, inputs)
    numeric_weights = central_differences(weights, weights, inputs)
    for analytic, numeric in zip(
        input_grads + weight_grads, numeric_inputs + numeric_weights
    ):
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
