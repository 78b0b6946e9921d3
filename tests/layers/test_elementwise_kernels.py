"""The ``tf-elementwise`` kernel (SRU, IndRNN, QRNN) and the scan's ``"compiled"``
loops against the cells' reference loops: outputs, final states and gradients
(inputs, initial states, every weight) to 1e-5 in float32, for every mask
pattern, both directions, initial states and ``return_sequences`` both ways.

TensorFlow only: the kernels are TensorFlow's (the other backends run the
reference loop, tested in the cells' own files). Few, small shapes: each one
is another XLA compile.
"""

import keras
import numpy as np
import pytest
from keras import ops

import rnn_zoo
from rnn_zoo.layers import QRNN, RGLRU, SRU, IndRNN, MinGRU, MinLSTM
from tests.layers._grads import value_and_grads
from tests.layers._masks import MASKS
from tests.layers.contract import random_inputs

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf-elementwise and the compiled scan are TensorFlow kernels",
)

BATCH, TIMESTEPS, UNITS = 3, 6, 5


# name: (layer class, features, layer arguments, kernel)
CASES = {
    "sru": (SRU, 4, {}, "tf-elementwise"),
    "sru-square-tanh": (SRU, UNITS, {"activation": "tanh"}, "tf-elementwise"),
    "indrnn-relu": (IndRNN, 4, {}, "tf-elementwise"),
    "indrnn-tanh-bounded": (
        IndRNN,
        4,
        {"activation": "tanh", "recurrent_max_abs": 0.5},
        "tf-elementwise",
    ),
    "qrnn-w2-fo": (QRNN, 4, {}, "tf-elementwise"),
    "qrnn-w1-f": (QRNN, 4, {"window": 1, "pooling": "f"}, "tf-elementwise"),
    "qrnn-w2-ifo": (QRNN, 4, {"pooling": "ifo"}, "tf-elementwise"),
    # Other activations: the gates before the loop, then h = a * h + b.
    "qrnn-w1-fo-relu": (
        QRNN,
        4,
        {"window": 1, "activation": "relu", "recurrent_activation": "hard_sigmoid"},
        "tf-elementwise",
    ),
    "mingru-log": (MinGRU, 4, {}, "tf-scan"),
    "mingru-linear": (MinGRU, 4, {"variant": "linear"}, "tf-scan"),
    "minlstm-log": (MinLSTM, 4, {}, "tf-scan"),
    "minlstm-linear": (MinLSTM, 4, {"variant": "linear"}, "tf-scan"),
    "rglru": (RGLRU, 4, {}, "tf-scan"),
    "rglru-no-projection": (RGLRU, UNITS, {"input_projection": False}, "tf-scan"),
}


def _pair(name, **kwargs):
    """The fast layer and the reference loop with the same random weights."""
    cls, features, options, kernel = CASES[name]
    fast = cls(UNITS, **options, **kwargs)
    loop = cls(UNITS, **options, implementation="reference", **kwargs)
    shape = (BATCH, TIMESTEPS, features)
    fast.build(shape)
    loop.build(shape)
    rng = np.random.default_rng(7)
    # Away from the initialisers' zeros and ones, so every term matters.
    fast.set_weights([rng.uniform(-0.8, 0.8, w.shape) for w in fast.get_weights()])
    loop.set_weights(fast.get_weights())
    return fast, loop, shape, kernel


def _initial_states(layer):
    return [
        random_inputs((BATCH, size), seed=1 + i)
        for i, size in enumerate(layer.cell.state_size)
    ]


def _outputs_and_grads(layer, x, states, mask, training=False):
    def forward(call, x, *states):
        kwargs = {} if mask is None else {"mask": ops.convert_to_tensor(mask)}
        return call(x, initial_state=list(states), training=training, **kwargs)

    return value_and_grads(layer, forward, [x, *states])


def _assert_same(got, want, context):
    for what, g, w in zip(("outputs", "input grads", "weight grads"), got, want):
        assert len(g) == len(w), (what, context)
        for i, (gi, wi) in enumerate(zip(g, w)):
            np.testing.assert_allclose(
                gi, wi, rtol=1e-5, atol=1e-5, err_msg=f"{what} {i}, {context}"
            )


@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("name", list(CASES))
def test_fast_path_matches_the_reference_loop(name, mask_name):
    mask = MASKS[mask_name]
    for go_backwards in (False, True):
        fast, loop, shape, kernel = _pair(
            name, return_sequences=True, return_state=True, go_backwards=go_backwards
        )
        assert fast.kernel_choice(training=True, mask=mask).kernel == kernel
        x = random_inputs(shape, seed=3)
        states = _initial_states(fast)
        _assert_same(
            _outputs_and_grads(fast, x, states, mask),
            _outputs_and_grads(loop, x, states, mask),
            f"{name}, mask={mask_name}, go_backwards={go_backwards}",
        )


@pytest.mark.parametrize("mask_name", ["none", "holes"])
@pytest.mark.parametrize("name", ["qrnn-w2-fo", "qrnn-w1-f"])
def test_qrnn_zoneout_in_training_matches_the_reference_loop(name, mask_name):
    # The same seed draws the same per-step masks on both paths.
    mask = MASKS[mask_name]
    for go_backwards in (False, True):
        options = {"return_sequences": True, "return_state": True}
        fast, loop, shape, _ = _pair(
            name, zoneout=0.3, seed=5, go_backwards=go_backwards, **options
        )
        assert fast.kernel_choice(training=True, mask=mask).kernel == "tf-elementwise"
        x = random_inputs(shape, seed=3)
        states = _initial_states(fast)
        got = _outputs_and_grads(fast, x, states, mask, training=True)
        _assert_same(
            got,
            _outputs_and_grads(loop, x, states, mask, training=True),
            f"{name}, zoneout, mask={mask_name}, go_backwards={go_backwards}",
        )
        inference = _outputs_and_grads(fast, x, states, mask)
        assert not np.allclose(got[0][0], inference[0][0])  # zoneout did act


@pytest.mark.parametrize(
    "name", ["sru", "indrnn-relu", "qrnn-w2-fo", "mingru-log", "minlstm-log", "rglru"]
)
def test_last_output_and_zero_output_for_mask_match_the_reference_loop(name):
    for mask_name, options in (
        # Without a mask the kernel hands back the last state only.
        ("none", {"return_sequences": False, "return_state": True}),
        ("holes", {"return_sequences": False, "return_state": True}),
        ("holes", {"return_sequences": True, "zero_output_for_mask": True}),
    ):
        fast, loop, shape, _ = _pair(name, **options)
        x = random_inputs(shape, seed=4)
        states = _initial_states(fast)
        mask = MASKS[mask_name]
        _assert_same(
            _outputs_and_grads(fast, x, states, mask),
            _outputs_and_grads(loop, x, states, mask),
            f"{name}, mask={mask_name}, {options}",
        )


def test_inference_in_a_compiled_function_matches_the_reference_loop():
    import tensorflow as tf

    for name in ("sru", "qrnn-w2-fo", "indrnn-relu", "minlstm-log"):
        fast, loop, shape, _ = _pair(name, return_sequences=True)
        x = random_inputs(shape, seed=5)
        mask = MASKS["left"]
        # The mask a traced argument: its pattern is unknown to the choice.
        got = tf.function(lambda x, m, layer=fast: layer(x, mask=m))(x, mask)
        np.testing.assert_allclose(got, loop(x, mask=mask), rtol=1e-5, atol=1e-5)


def test_explain_names_the_elementwise_kernel_and_the_reference_fallbacks():
    model = keras.Sequential(
        [
            keras.Input((TIMESTEPS, 4)),
            SRU(UNITS, return_sequences=True),
            IndRNN(UNITS, return_sequences=True),
            QRNN(UNITS, return_sequences=True),
            MinGRU(UNITS, return_sequences=True),
            # Outside the families: a user's activation, recurrent dropout in training.
            IndRNN(UNITS, activation="sigmoid", return_sequences=True),
            SRU(UNITS, recurrent_dropout=0.5),
        ]
    )
    rows = rnn_zoo.explain(model)
    assert [row["training"] for row in rows] == [
        "tf-elementwise",
        "tf-elementwise",
        "tf-elementwise",
        "tf-scan",
        "reference",
        "reference",
    ]
    assert rows[-1]["inference"] == "tf-elementwise"
    assert "activation='sigmoid'" in " ".join(rows[4]["reasons"])


def test_strict_mode_names_why_the_kernel_cannot_run():
    layer = IndRNN(UNITS, activation="sigmoid", implementation="fused")
    with pytest.raises(ValueError, match="activation='sigmoid'"):
        layer(random_inputs((BATCH, TIMESTEPS, 4)))


def test_mixed_precision_runs_the_kernel_and_returns_the_policy_dtype():
    for cls in (SRU, IndRNN, QRNN):
        layer = cls(UNITS, dtype="mixed_bfloat16", return_sequences=True)
        x = random_inputs((BATCH, TIMESTEPS, 4))
        out = layer(x, mask=MASKS["holes"])
        assert layer.kernel_choice(mask=MASKS["holes"]).kernel == "tf-elementwise"
        assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
        reference = cls(
            UNITS,
            dtype="mixed_bfloat16",
            return_sequences=True,
            implementation="reference",
        )
        reference.build(x.shape)
        reference.set_weights(layer.get_weights())
        np.testing.assert_allclose(
            ops.convert_to_numpy(ops.cast(out, "float32")),
            ops.convert_to_numpy(
                ops.cast(reference(x, mask=MASKS["holes"]), "float32")
            ),
            atol=0.05,
        )
