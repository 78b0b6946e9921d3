"""RGLRU, the real-gated linear recurrent unit of Griffin/Hawk (De et al. 2024).

Against the paper's equations (1)-(4) written out in NumPy below, with the
parameterisation and initialisation of google-deepmind/recurrentgemma; the
parallel scan against the reference loop, float64 finite differences,
padding, ``stateful``, stepping, the layer contract and the argument checks.
"""

import keras
import numpy as np
import pytest

import rnn_zoo
from rnn_zoo.layers import RGLRU, RGLRUCell, cell_names
from tests.layers import _linear_checks as checks
from tests.layers._linear_checks import (
    INPUT_SHAPE,
    MASKS,
    UNITS,
    numpy_recurrence,
    sigmoid,
)
from tests.layers.contract import (
    check_cell_contract,
    check_layer_contract,
    numpy_list,
    random_inputs,
)

BACKEND = keras.backend.backend()


def _softplus(x):
    return np.log1p(np.exp(x))


def _numpy_rglru(weights, units, c=8.0, input_projection=True):
    """One RG-LRU step: r = sigmoid(W_a u + b_a), i = sigmoid(W_x u + b_x),
    a_t = a^(c r) with a = exp(-softplus(a_param)) (recurrentgemma),
    h = a_t h + sqrt(1 - a_t^2) (i u); u = x W + b_u with the input projection."""
    if input_projection:
        kernel, gate_kernel, bias, a_param = weights
    else:
        (gate_kernel, bias, a_param), kernel = weights, None
    a = np.exp(-_softplus(a_param))

    def step(x, h):
        u = x
        if kernel is not None:
            u = x @ kernel + bias[:units]
        gates = u @ gate_kernel + bias[-2 * units :]
        r, i = sigmoid(gates[:, :units]), sigmoid(gates[:, units:])
        a_t = a ** (c * r)
        return a_t * h + np.sqrt(1 - a_t**2) * (i * u)

    return step


@pytest.mark.parametrize("mask_name", ["none", "holes"])
def test_matches_the_papers_equations(mask_name):
    x = random_inputs(INPUT_SHAPE)
    h0 = random_inputs((INPUT_SHAPE[0], UNITS), seed=1)
    mask = MASKS[mask_name]
    for implementation in ("auto", "reference"):
        layer = RGLRU(
            UNITS,
            return_sequences=True,
            return_state=True,
            implementation=implementation,
        )
        layer.build(x.shape)
        checks.set_random_weights(layer)
        step = _numpy_rglru(layer.get_weights(), UNITS)
        want_seq, want_h = numpy_recurrence(step, x, h0, mask)
        seq, h = numpy_list(layer(x, initial_state=[h0], mask=mask))
        np.testing.assert_allclose(seq, want_seq, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(h, want_h, rtol=1e-5, atol=1e-5)


def test_without_input_projection_and_another_c():
    x = random_inputs((2, 4, UNITS))
    layer = RGLRU(
        UNITS, input_projection=False, c=2.0, return_sequences=True, return_state=True
    )
    layer.build(x.shape)
    checks.set_random_weights(layer)
    assert [w.path.split("/")[-1] for w in layer.weights] == [
        "gate_kernel",
        "bias",
        "a_param",
    ]
    step = _numpy_rglru(layer.get_weights(), UNITS, c=2.0, input_projection=False)
    want_seq, want_h = numpy_recurrence(step, x, np.zeros((2, UNITS)))
    seq, h = numpy_list(layer(x))
    np.testing.assert_allclose(seq, want_seq, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h, want_h, rtol=1e-5, atol=1e-5)


def test_a_starts_on_the_ring():
    """recurrentgemma's initialisation: a = exp(-softplus(a_param)) uniform (by
    area) between min_radius and max_radius; gate biases at zero."""
    cell = RGLRUCell(64, min_radius=0.5, max_radius=0.7, seed=1)
    cell.build((None, 3))
    a = np.exp(-_softplus(keras.ops.convert_to_numpy(cell.a_param).astype("float64")))
    assert a.min() >= 0.5 - 1e-6 and a.max() <= 0.7 + 1e-6
    assert a.max() - a.min() > 0.1  # spread over the ring, not one value
    default = RGLRUCell(64, seed=2)
    default.build((None, 3))
    a = np.exp(
        -_softplus(keras.ops.convert_to_numpy(default.a_param).astype("float64"))
    )
    assert a.min() >= 0.9 - 1e-6 and a.max() <= 0.999 + 1e-6
    assert not np.any(keras.ops.convert_to_numpy(default.bias))


def _make(**kwargs):
    return RGLRU(UNITS, **kwargs)


@pytest.mark.parametrize("mask_name", ["none", "holes", "empty_row"])
def test_scan_matches_reference_loop(mask_name):
    checks.check_scan_matches_reference(_make, MASKS[mask_name])


def test_every_scan_method_matches_reference_loop(monkeypatch):
    checks.check_every_scan_method_in_the_layer(_make, monkeypatch)


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="Keras computes float64 in float32 on this backend (keras-team/keras#23704)",
)
def test_gradients_match_finite_differences():
    checks.check_finite_differences(_make)


def test_sqrt_normalisation_keeps_a_finite_gradient_as_a_goes_to_one():
    """sqrt(1 - a^2) has an unbounded derivative at a = 1; as in recurrentgemma,
    its derivative is capped at 1000, so a gate near zero trains without NaNs."""
    from rnn_zoo.kernels.scan import sqrt_bounded_grad
    from tests.layers._grads import cotangent, value_and_grads

    class Sqrt(keras.layers.Layer):
        def build(self, input_shape):
            self.built = True

        def call(self, x):
            return sqrt_bounded_grad(x)

    x = np.array([0.0, 1e-12, 0.25], "float32")
    layer = Sqrt()
    layer.build(x.shape)
    (value,), (grad,), _ = value_and_grads(layer, lambda call, x: call(x), [x])
    np.testing.assert_allclose(value, np.sqrt(x), rtol=1e-6)
    # d sqrt(x)/dx = 1 / (2 sqrt(x)): 1 at 0.25, capped at 1000 below 2.5e-7.
    expected = cotangent(0, x.shape) * np.array([1000.0, 1000.0, 1.0])
    np.testing.assert_allclose(grad, expected, rtol=1e-5)


def test_padding_on_either_side_changes_nothing():
    checks.check_padding_changes_nothing(_make)


def test_stateful_continues_the_sequence():
    checks.check_stateful_continues_the_sequence(_make)


def test_stacked_step_matches_the_sequence():
    checks.check_stack_steps_as_it_runs("rglru")


def test_dropout_is_the_same_on_both_paths():
    checks.check_dropout_is_the_same_on_both_paths(_make)


# --- the layer contract -------------------------------------------------------------


def test_layer_contract():
    check_layer_contract(
        lambda dtype=None: RGLRU(
            UNITS, return_sequences=True, go_backwards=True, dtype=dtype
        ),
        INPUT_SHAPE,
        fit=BACKEND != "jax",
        jit_compile=BACKEND != "torch",  # torch.compile: see test_contract.py
    )


def test_cell_contract():
    check_cell_contract(
        lambda dtype=None: RGLRUCell(UNITS, dtype=dtype),
        INPUT_SHAPE,
        {"return_state": True},
        fit=False,
        jit_compile=False,
        mixed_precision=False,
    )


@pytest.mark.backend_neutral
def test_builders_take_the_cell_name():
    assert "rglru" in cell_names()
    model = rnn_zoo.build_classifier(
        3, vocab_size=10, cell="rglru", units=UNITS, num_layers=2, bidirectional=True
    )
    ids = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32")
    assert np.isfinite(model.predict(ids, verbose=0)).all()
    report = rnn_zoo.explain(model)
    assert {row["training"] for row in report} == {checks.SCAN_KERNEL}


# --- bad input ----------------------------------------------------------------------


@pytest.mark.backend_neutral
@pytest.mark.parametrize("cls", [RGLRU, RGLRUCell])
def test_bad_arguments_are_refused(cls):
    with pytest.raises(
        ValueError, match=r"`c` must be a float in \(0.0, inf\)\. Received: c=0"
    ):
        cls(UNITS, c=0)
    with pytest.raises(
        TypeError, match=r"`c` must be a float.*Received: c='8' of type str"
    ):
        cls(UNITS, c="8")
    with pytest.raises(
        ValueError,
        match=r"`min_radius` must be a float in \(0.0, 1.0\)\. Received: min_radius=1.2",
    ):
        cls(UNITS, min_radius=1.2)
    with pytest.raises(
        ValueError,
        match=r"`max_radius` must be a float in \(0.0, 1.0\)\. Received: max_radius=1",
    ):
        cls(UNITS, max_radius=1)
    with pytest.raises(
        ValueError,
        match=r"`min_radius` must be below `max_radius`\. Received: min_radius=0.99, max_radius=0.9",
    ):
        cls(UNITS, min_radius=0.99, max_radius=0.9)
    with pytest.raises(
        TypeError,
        match=r"`input_projection` must be True or False\. Received: input_projection='yes'",
    ):
        cls(UNITS, input_projection="yes")
    with pytest.raises(
        ValueError,
        match=r"`recurrent_dropout` must be 0.*Received: recurrent_dropout=0.1",
    ):
        cls(UNITS, recurrent_dropout=0.1)


@pytest.mark.backend_neutral
def test_without_input_projection_needs_as_many_features_as_units():
    layer = RGLRU(UNITS, input_projection=False)
    with pytest.raises(
        ValueError,
        match=r"input_projection=False.*as many input features as units \(5\)\. Received: input_shape=\(3, 4\)",
    ):
        layer(random_inputs(INPUT_SHAPE))
