"""SRU (Lei et al., 2018): the paper's equations in NumPy, the ``sru`` package
with the same weights, finite differences, the layer contract and behaviour."""

import functools
import warnings

import keras
import numpy as np
import pytest
from keras import ops

from rnn_zoo.layers import SRU, Bidirectional, SRUCell, StackedRNN
from tests.layers import _family_checks as checks
from tests.layers._grads import cotangent, value_and_grads
from tests.layers.contract import (
    check_cell_contract,
    check_layer_contract,
    numpy_list,
    random_inputs,
)

BACKEND = keras.backend.backend()
B, T, F, U = checks.BATCH, checks.TIMESTEPS, checks.FEATURES, checks.UNITS


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def sru_numpy(x, kernel, weight_c, bias, c0, activation=None, scale=1.0):
    """Lei et al. 2018's SRU, step by step, in ``sru``'s weight layout."""
    batch, steps, features = x.shape
    units = c0.shape[-1]
    k = kernel.shape[-1] // units
    v_f, v_r = weight_c[:units], weight_c[units:]
    b_f, b_r = bias[:units], bias[units:]
    g = activation or (lambda a: a)
    c, hs = c0, []
    for t in range(steps):
        u = (x[:, t] @ kernel).reshape(batch, units, k)  # unit-major, k per unit
        f = _sigmoid(u[..., 1] + v_f * c + b_f)
        r = _sigmoid(u[..., 2] + v_r * c + b_r)
        c = f * c + (1 - f) * u[..., 0]
        highway = x[:, t] * scale if k == 3 else u[..., 3]
        hs.append(r * g(c) + (1 - r) * highway)
    return np.stack(hs, 1), c


def _layer_with_random_weights(features, units=U, seed=3, **kwargs):
    layer = SRU(units, return_sequences=True, return_state=True, **kwargs)
    layer.build((B, T, features))
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.uniform(-1, 1, w.shape).astype("float32") for w in layer.get_weights()]
    )
    return layer


@pytest.mark.parametrize(
    "features, kwargs",
    [
        pytest.param(U, {}, id="highway_is_the_input"),
        pytest.param(F, {"highway_bias": -1.0}, id="highway_projection"),
        pytest.param(U, {"activation": "tanh", "rescale": False}, id="tanh_no_rescale"),
    ],
)
def test_matches_the_papers_equations(features, kwargs):
    layer = _layer_with_random_weights(features, **kwargs)
    x = random_inputs((B, T, features))
    c0 = random_inputs((B, U), seed=7)
    kernel, weight_c, bias = layer.get_weights()
    assert kernel.shape == (features, U * (3 if features == U else 4))
    expected = sru_numpy(
        x,
        kernel,
        weight_c,
        bias,
        c0,
        activation=np.tanh if kwargs.get("activation") == "tanh" else None,
        scale=layer.cell.highway_scale,
    )
    got = layer(x, initial_state=[c0])
    checks.assert_close(got, expected)


def test_highway_scale_is_srus():
    assert SRUCell(U).highway_scale == pytest.approx(np.sqrt(3.0))
    assert SRUCell(U, highway_bias=-2.0).highway_scale == pytest.approx(
        np.sqrt(1 + 2 * np.exp(-2.0))
    )
    assert SRUCell(U, rescale=False).highway_scale == 1.0


def test_initial_weights_follow_srus_recipe():
    # Initial reset bias = highway_bias; forget bias 0; peepholes within sqrt(1.5).
    layer = SRU(U, highway_bias=-2.0)
    layer.build((B, T, F))
    _, weight_c, bias = layer.get_weights()
    np.testing.assert_array_equal(bias, [0.0] * U + [-2.0] * U)
    assert np.abs(weight_c).max() <= np.sqrt(1.5)
    assert np.abs(weight_c).std() > 0.1


# --- against the sru package, same weights -----------------------------------


@functools.cache
def _sru_package():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # no CUDA here
            import sru  # compiles its CPU extension on first import
    except Exception as error:  # ImportError, or no compiler for its extension
        return None, f"the sru package does not import here: {error}"
    return sru, None


def _sru_twin(features):
    sru, reason = _sru_package()
    if sru is None:
        pytest.skip(reason)
    import torch

    torch.manual_seed(0)
    theirs = sru.SRUCell(features, U, highway_bias=-1.0)
    ours = SRU(U, highway_bias=-1.0, return_sequences=True, return_state=True)
    ours.build((B, T, features))
    # Their weights as they are: same layout, same order.
    ours.set_weights(
        [
            theirs.weight.detach().numpy(),
            theirs.weight_c.detach().numpy(),
            theirs.bias.detach().numpy(),
        ]
    )
    return torch, theirs, ours


@pytest.mark.parametrize("features", [U, F], ids=["k3", "k4"])
def test_matches_the_sru_package_with_right_padding(features):
    torch, theirs, ours = _sru_twin(features)
    theirs.eval()
    x = random_inputs((B, T, features))
    c0 = random_inputs((B, U), seed=7)
    mask = checks.MASKS["right"]
    with torch.no_grad():
        h, c = theirs(
            torch.from_numpy(x.transpose(1, 0, 2)),
            torch.from_numpy(c0),
            mask_pad=torch.from_numpy(~mask.T),
        )
    outputs, state = numpy_list(ours(x, initial_state=[c0], mask=mask))
    h = h.numpy().transpose(1, 0, 2)
    # sru zeroes the output at padded steps; rnn_zoo repeats the last real one.
    np.testing.assert_allclose(outputs[mask], h[mask], **checks.TOLERANCE)
    np.testing.assert_allclose(state, c.numpy(), **checks.TOLERANCE)


@pytest.mark.parametrize("features", [U, F], ids=["k3", "k4"])
def test_gradients_match_the_sru_package(features):
    torch, theirs, ours = _sru_twin(features)
    x = random_inputs((B, T, features))
    c0 = random_inputs((B, U), seed=7)
    x_t = torch.from_numpy(x.transpose(1, 0, 2).copy()).requires_grad_(True)
    c0_t = torch.from_numpy(c0).requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sru warns that CPU training is slow
        h, c = theirs(x_t, c0_t)
    h = h.permute(1, 0, 2)
    loss = (h * torch.from_numpy(cotangent(0, h.shape))).sum() + (
        c * torch.from_numpy(cotangent(1, c.shape))
    ).sum()
    params = [theirs.weight, theirs.weight_c, theirs.bias]
    expected = torch.autograd.grad(loss, [x_t, c0_t, *params])
    expected = [g.numpy() for g in expected]
    expected[0] = expected[0].transpose(1, 0, 2)

    def forward(call, x, c0):
        return call(x, initial_state=[c0])

    outputs, input_grads, weight_grads = value_and_grads(
        ours, forward, [x, c0], compiled=True
    )
    np.testing.assert_allclose(outputs[0], h.detach().numpy(), **checks.TOLERANCE)
    for got, want in zip(input_grads + weight_grads, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


# --- gradients, float64 -------------------------------------------------------


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="Keras computes float64 in float32 on this backend (keras-team/keras#23704)",
)
@pytest.mark.parametrize("units", [F, U], ids=["k3", "k4"])
def test_gradients_match_finite_differences(units):
    checks.check_finite_differences(
        lambda **kwargs: SRU(units, activation="tanh", recurrent_dropout=0.0, **kwargs)
    )


# --- behaviour ---------------------------------------------------------------


def _sru(**kwargs):
    return SRU(U, **kwargs)


@pytest.mark.backend_neutral
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_padding_anywhere_gives_the_unpadded_output_and_state(go_backwards):
    checks.check_padding_anywhere(_sru, go_backwards)


@pytest.mark.backend_neutral
def test_stateful_carries_the_state_across_calls():
    checks.check_stateful(_sru)


@pytest.mark.backend_neutral
def test_initial_state_continues_a_sequence():
    checks.check_initial_state(_sru)


@pytest.mark.backend_neutral
def test_step_gives_the_sequence():
    checks.check_step_matches_sequence(_sru, "sru", highway_bias=-1.0)


@pytest.mark.backend_neutral
def test_dropout_only_in_training():
    checks.check_dropout_only_in_training(_sru, dropout=0.5, recurrent_dropout=0.5)


def test_recurrent_dropout_masks_the_state_share_of_the_output():
    # sru's `dropout`: h = x' + (g(c) - x') * r * mask; a dropped unit outputs x'.
    layer = SRU(F, recurrent_dropout=0.5, return_sequences=True, rescale=False)
    x = random_inputs((B, T, F))
    training = ops.convert_to_numpy(layer(x, training=True))
    dropped = np.isclose(training, x, atol=1e-6).all(axis=1)  # (batch, units)
    assert dropped.any() and not dropped.all()


@pytest.mark.backend_neutral
def test_bidirectional_and_stacked():
    x = random_inputs((B, T, F))
    out = Bidirectional(SRU(U, return_sequences=True))(x)
    assert tuple(out.shape) == (B, T, 2 * U)
    stack = StackedRNN("sru", units=U, num_layers=2, residual=True, return_state=True)
    out, *states = stack(x)
    assert [tuple(s.shape) for s in states] == [(B, U)] * 2


@pytest.mark.backend_neutral
def test_runs_inside_keras_rnn():
    checks.check_runs_inside_keras_rnn(lambda: SRUCell(U))


def test_batch_of_zero_sequences_gives_empty_outputs():
    checks.check_empty_batch(_sru)


def test_float64_layer_runs_on_every_backend():
    checks.check_float64(_sru)


# --- the layer contract --------------------------------------------------------

FIT = {"fit": BACKEND != "jax", "jit_compile": BACKEND != "torch"}
CONTRACT_SHAPE = (2, 5, 3)


def test_cell_contract():
    check_cell_contract(
        lambda dtype=None: SRUCell(U, dtype=dtype),
        CONTRACT_SHAPE,
        {"return_sequences": True, "return_state": True},
        # Config, .keras and shapes of RNN(cell): training runs the same
        # code as the sequence layer's full contract below.
        fit=False,
        jit_compile=False,
        mixed_precision=False,
    )


def test_sequence_layer_contract():
    check_layer_contract(
        lambda dtype=None: SRU(U, go_backwards=True, return_state=True, dtype=dtype),
        CONTRACT_SHAPE,
        **FIT,
    )


def test_sequence_layer_contract_highway_is_the_input():
    check_layer_contract(
        lambda dtype=None: SRU(
            3, highway_bias=-1.0, return_sequences=True, dtype=dtype
        ),
        CONTRACT_SHAPE,
        fit=False,
        jit_compile=False,
        mixed_precision=False,
    )


# --- bad input ---------------------------------------------------------------


@pytest.mark.backend_neutral
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"highway_bias": "-1"}, TypeError, "`highway_bias` must be a float. Received: highway_bias='-1' of type str"),
        ({"highway_bias": float("nan")}, ValueError, "`highway_bias` must be a finite float. Received: highway_bias=nan"),
        ({"rescale": 1}, TypeError, "`rescale` must be True or False. Received: rescale=1 of type int"),
        ({"recurrent_dropout": 1.0}, ValueError, "`recurrent_dropout` must be a float in [0, 1). Received: recurrent_dropout=1.0"),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_argument(kwargs, error, message):
    with pytest.raises(error) as info:
        SRU(U, **kwargs)
    assert message in str(info.value)
