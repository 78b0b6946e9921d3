"""MinGRU and MinLSTM (Feng et al. 2024, "Were RNNs All We Needed?").

Against the paper's equations written out in NumPy below, against
``mingru-keras`` (another Keras 3 minGRU) with the same weights, the parallel
scan against the reference loop, float64 finite differences, padding,
``stateful``, stepping, dropout, the layer contract and the argument checks.
"""

import keras
import numpy as np
import pytest

import rnn_zoo
from rnn_zoo.layers import MinGRU, MinGRUCell, MinLSTM, MinLSTMCell, cell_names
from rnn_zoo.training.run import base_parser
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
CASES = {
    "mingru-log": (MinGRU, {"variant": "log"}),
    "mingru-linear": (MinGRU, {"variant": "linear"}),
    "minlstm-log": (MinLSTM, {"variant": "log"}),
    "minlstm-linear": (MinLSTM, {"variant": "linear"}),
}


def _maker(name):
    cls, cell_kwargs = CASES[name]

    def make(**kwargs):
        return cls(UNITS, **cell_kwargs, **kwargs)

    return make


# --- the paper's equations, in NumPy --------------------------------------------


def _g(x):
    return np.where(x >= 0, x + 0.5, sigmoid(x))


def _numpy_min_rnn(family, variant, kernel, bias):
    """One step of minGRU (section 3.1) or minLSTM (section 3.2) as the paper
    writes it in sequential mode; the log-space versions apply g to h~."""
    units = kernel.shape[1] // (2 if family == "mingru" else 3)

    def linear(x, k):
        return (
            x @ kernel[:, k * units : (k + 1) * units]
            + bias[k * units : (k + 1) * units]
        )

    def candidate(x, k):
        h_tilde = linear(x, k)
        return _g(h_tilde) if variant == "log" else h_tilde

    def mingru(x, h):
        z = sigmoid(linear(x, 0))
        return (1 - z) * h + z * candidate(x, 1)

    def minlstm(x, h):
        f, i = sigmoid(linear(x, 0)), sigmoid(linear(x, 1))
        f_prime, i_prime = f / (f + i), i / (f + i)
        return f_prime * h + i_prime * candidate(x, 2)

    return mingru if family == "mingru" else minlstm


@pytest.mark.parametrize("mask_name", ["none", "holes"])
@pytest.mark.parametrize("name", list(CASES))
def test_matches_the_papers_equations(name, mask_name):
    x = random_inputs(INPUT_SHAPE)
    h0 = np.abs(random_inputs((INPUT_SHAPE[0], UNITS), seed=1))
    mask = MASKS[mask_name]
    cls, cell_kwargs = CASES[name]
    for implementation in ("auto", "reference"):
        layer = cls(
            UNITS,
            return_sequences=True,
            return_state=True,
            implementation=implementation,
            **cell_kwargs,
        )
        layer.build(x.shape)
        checks.set_random_weights(layer)
        kernel, bias = layer.get_weights()
        step = _numpy_min_rnn(name.split("-")[0], cell_kwargs["variant"], kernel, bias)
        want_seq, want_h = numpy_recurrence(step, x, h0, mask)
        seq, h = numpy_list(layer(x, initial_state=[h0], mask=mask))
        np.testing.assert_allclose(seq, want_seq, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(h, want_h, rtol=1e-5, atol=1e-5)


def test_log_space_candidate_is_g():
    """g(x) = x + 0.5 for x >= 0 and sigmoid(x) below: continuous at 0 and positive."""
    from rnn_zoo.kernels.scan import g, log_g

    x = np.array([-30.0, -2.0, -1e-4, 0.0, 1e-4, 3.0], "float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(g(x)), _g(x), rtol=1e-6)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(log_g(x)), np.log(_g(x.astype("float64"))), rtol=1e-5
    )


def test_minimal_gru_matches_mingru_keras():
    """mingru-keras (PyPI, Keras 3) computes the plain minGRU from a zero state
    with a sigmoid Dense gate and a linear Dense candidate: the same as
    variant="linear", with kernel = [gate | candidate]."""
    mingru_keras = pytest.importorskip("mingru_keras")
    x = random_inputs(INPUT_SHAPE)
    ours = MinGRU(UNITS, variant="linear", return_sequences=True)
    ours.build(x.shape)
    checks.set_random_weights(ours)
    kernel, bias = ours.get_weights()
    theirs = mingru_keras.MinGRU(UNITS)
    theirs.build(x.shape)
    theirs.gate.set_weights([kernel[:, :UNITS], bias[:UNITS]])
    theirs.candidate.set_weights([kernel[:, UNITS:], bias[UNITS:]])
    np.testing.assert_allclose(
        numpy_list(ours(x))[0], numpy_list(theirs(x))[0], rtol=1e-5, atol=1e-5
    )


# Every family with and without a mask; the other mask patterns once (the scan
# folds masks the same way for every family: tests/layers/test_scan.py).
SCAN_CASES = [(name, mask) for name in CASES for mask in ("none", "holes")] + [
    ("mingru-log", "left"),
    ("minlstm-log", "empty_row"),
]


@pytest.mark.parametrize("name, mask_name", SCAN_CASES)
def test_scan_matches_reference_loop(name, mask_name):
    checks.check_scan_matches_reference(_maker(name), MASKS[mask_name])


@pytest.mark.parametrize("name", ["mingru-log", "minlstm-linear"])
def test_every_scan_method_matches_reference_loop(name, monkeypatch):
    checks.check_every_scan_method_in_the_layer(_maker(name), monkeypatch)


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="Keras computes float64 in float32 on this backend (keras-team/keras#23704)",
)
@pytest.mark.parametrize("name", list(CASES))
def test_gradients_match_finite_differences(name):
    checks.check_finite_differences(_maker(name))


@pytest.mark.parametrize("name", ["mingru-log", "minlstm-linear"])
def test_padding_on_either_side_changes_nothing(name):
    checks.check_padding_changes_nothing(_maker(name))


def test_stateful_continues_the_sequence():
    checks.check_stateful_continues_the_sequence(_maker("minlstm-log"))


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_stacked_step_matches_the_sequence(name):
    checks.check_stack_steps_as_it_runs(name)


def test_dropout_is_the_same_on_both_paths():
    checks.check_dropout_is_the_same_on_both_paths(_maker("mingru-log"))


# --- the layer contract -------------------------------------------------------------

JIT = BACKEND != "torch"  # torch.compile: see tests/layers/test_contract.py


def test_mingru_layer_contract():
    check_layer_contract(
        lambda dtype=None: MinGRU(UNITS, return_sequences=True, dtype=dtype),
        INPUT_SHAPE,
        fit=BACKEND != "jax",
        jit_compile=JIT,
    )


def test_minlstm_layer_contract():
    check_layer_contract(
        lambda dtype=None: MinLSTM(
            UNITS, variant="linear", return_state=True, go_backwards=True, dtype=dtype
        ),
        INPUT_SHAPE,
        fit=BACKEND != "jax",
        jit_compile=JIT,
    )


@pytest.mark.parametrize(
    "make_cell",
    [
        lambda dtype=None: MinGRUCell(UNITS, variant="linear", dtype=dtype),
        lambda dtype=None: MinLSTMCell(UNITS, dtype=dtype),
    ],
    ids=["mingru_cell", "minlstm_cell"],
)
def test_cell_contract(make_cell):
    check_cell_contract(
        make_cell,
        INPUT_SHAPE,
        {"return_sequences": True},
        fit=False,
        jit_compile=False,
        mixed_precision=False,
    )


# --- everywhere a cell name is taken ---------------------------------------------


@pytest.mark.backend_neutral
@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_builders_and_recipes_take_the_cell_name(name):
    assert name in cell_names()
    args = base_parser(
        "names",
        "test",
        {
            "epochs": 1,
            "batch_size": 2,
            "cell": "gru",
            "units": 8,
            "num_layers": 1,
            "dropout": 0.0,
            "learning_rate": 1e-3,
            "seed": 0,
        },
    ).parse_args(["--output", "unused", "--cell", name])
    assert args.cell == name
    model = rnn_zoo.build_classifier(
        3, vocab_size=10, cell=name, units=UNITS, num_layers=2, bidirectional=True
    )
    ids = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32")
    assert np.isfinite(model.predict(ids, verbose=0)).all()
    report = rnn_zoo.explain(model)
    assert len(report) == 4  # two layers, two directions
    assert {row["training"] for row in report} == {checks.SCAN_KERNEL}
    assert {row["inference"] for row in report} == {checks.SCAN_KERNEL}


# --- bad input ----------------------------------------------------------------------


@pytest.mark.backend_neutral
@pytest.mark.parametrize("cls", [MinGRU, MinLSTM, MinGRUCell, MinLSTMCell])
def test_bad_arguments_are_refused(cls):
    with pytest.raises(
        ValueError,
        match=r"Unknown `variant`: expected one of \['linear', 'log'\]\. Received: variant='heinsen'",
    ):
        cls(UNITS, variant="heinsen")
    with pytest.raises(
        ValueError,
        match=r"no recurrent weights.*`recurrent_dropout` must be 0.*Received: recurrent_dropout=0.2",
    ):
        cls(UNITS, recurrent_dropout=0.2)
    with pytest.raises(
        TypeError,
        match=r"no recurrent kernel.*`recurrent_initializer`. Received: recurrent_initializer='orthogonal'",
    ):
        cls(UNITS, recurrent_initializer="orthogonal")
    with pytest.raises(
        ValueError,
        match=r"`dropout` must be a float in \[0, 1\)\. Received: dropout=1.5",
    ):
        cls(UNITS, dropout=1.5)
    with pytest.raises(
        ValueError, match=r"`units` must be a positive integer\. Received: units=0"
    ):
        cls(0)
