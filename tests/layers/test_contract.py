"""Every public rnn_zoo layer keeps the layer contract (tests/layers/contract.py).

Each public class gets the whole contract (config, ``.keras``, shapes, fit with
and without ``jit_compile``, ``mixed_float16``) in one configuration, marked
``full`` below; its other configurations (``return_sequences``,
``return_state``, ``go_backwards``, merge modes, ...) get the checks that
depend on them: config, ``.keras`` round trip and shapes. Every fit step costs
seconds (tracing the time loop and its gradient), and training runs the same
code in every configuration.
"""

import keras
import pytest

from rnn_zoo.layers import (
    GRU,
    LSTM,
    Bidirectional,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
    StackedRNN,
)
from tests.layers.contract import (
    check_cell_contract,
    check_fit_step,
    check_layer_contract,
    functional_model,
    random_inputs,
)

INPUT_SHAPE = (2, 5, 3)  # (batch, timesteps, features)
UNITS = 4

BACKEND = keras.backend.backend()
# On torch, jit_compile=True is torch.compile: 25-45 s for the first model on a
# 2-core machine (less once inductor's on-disk cache is warm) and 7 s or more
# for each later one. It is tested once, on LSTM, in
# test_fit_step_under_torch_compile.
JIT = BACKEND != "torch"
# On JAX, jit_compile=False runs the train step op by op and compiles the time
# loop again at each of them (about 7 s a layer here): only the LSTM case runs it.
EAGER_FIT_REPRESENTATIVE = "lstm-backwards_state"


def _options(name: str, full: bool) -> dict:
    if not full:
        return {"fit": False, "jit_compile": False, "mixed_precision": False}
    return {
        "fit": BACKEND != "jax" or name == EAGER_FIT_REPRESENTATIVE,
        "jit_compile": JIT,
    }


def _cases(table: dict, full: set):
    # The JAX and torch runs (tests/test_backends.py) take the full
    # configurations only: one per class, which trains, saves and reloads the
    # same time loop as its other configurations. Their shapes on every
    # backend are also in test_numerics (return_state, go_backwards, merge
    # modes against keras.layers).
    return [
        pytest.param(
            name,
            name in full,
            id=name,
            marks=() if name in full else pytest.mark.backend_neutral,
        )
        for name in table
    ]


CELLS = {
    "simple_rnn_cell": (
        lambda dtype=None: SimpleRNNCell(UNITS, dtype=dtype),
        {"return_sequences": True, "return_state": True},
    ),
    "lstm_cell": (
        lambda dtype=None: LSTMCell(UNITS, dtype=dtype),
        {"return_state": True},
    ),
    "gru_cell": (
        lambda dtype=None: GRUCell(UNITS, dtype=dtype),
        {"go_backwards": True},
    ),
    "gru_cell_reset_before": (
        lambda dtype=None: GRUCell(UNITS, reset_after=False, dtype=dtype),
        {"return_sequences": True},
    ),
}


@pytest.mark.parametrize(
    ("name", "full"),
    _cases(CELLS, {"simple_rnn_cell", "lstm_cell", "gru_cell_reset_before"}),
)
def test_cell_contract(name, full):
    make_cell, rnn_kwargs = CELLS[name]
    check_cell_contract(make_cell, INPUT_SHAPE, rnn_kwargs, **_options(name, full))


SEQUENCE_LAYERS = {
    "simple_rnn_tanh": lambda **kwargs: SimpleRNN(UNITS, **kwargs),
    "simple_rnn_relu": lambda **kwargs: SimpleRNN(UNITS, activation="relu", **kwargs),
    "lstm": lambda **kwargs: LSTM(UNITS, **kwargs),
    "gru_reset_after": lambda **kwargs: GRU(UNITS, **kwargs),
    "gru_reset_before": lambda **kwargs: GRU(UNITS, reset_after=False, **kwargs),
}
# Together these cover return_sequences False and True, return_state and
# go_backwards for every layer.
VARIANTS = {
    "last": {},
    "sequences_state": {"return_sequences": True, "return_state": True},
    "backwards_state": {"go_backwards": True, "return_state": True},
}
SEQUENCE_CASES = {
    f"{layer}-{variant}": (layer, variant)
    for layer in SEQUENCE_LAYERS
    for variant in VARIANTS
}
FULL_SEQUENCE_CASES = {
    "simple_rnn_tanh-sequences_state",
    "lstm-backwards_state",
    "gru_reset_after-last",
}


@pytest.mark.parametrize(("name", "full"), _cases(SEQUENCE_CASES, FULL_SEQUENCE_CASES))
def test_sequence_layer_contract(name, full):
    layer, variant = SEQUENCE_CASES[name]

    def make_layer(dtype=None):
        return SEQUENCE_LAYERS[layer](dtype=dtype, **VARIANTS[variant])

    check_layer_contract(make_layer, INPUT_SHAPE, **_options(name, full))


BIDIRECTIONAL = {
    "concat": lambda dtype: Bidirectional(LSTM(UNITS, dtype=dtype), dtype=dtype),
    "sum_sequences": lambda dtype: Bidirectional(
        GRU(UNITS, return_sequences=True, dtype=dtype), merge_mode="sum", dtype=dtype
    ),
    "mul": lambda dtype: Bidirectional(
        SimpleRNN(UNITS, dtype=dtype), merge_mode="mul", dtype=dtype
    ),
    "ave_sequences": lambda dtype: Bidirectional(
        LSTM(UNITS, return_sequences=True, dtype=dtype), merge_mode="ave", dtype=dtype
    ),
    "none": lambda dtype: Bidirectional(
        GRU(UNITS, dtype=dtype), merge_mode=None, dtype=dtype
    ),
    "concat_state": lambda dtype: Bidirectional(
        LSTM(UNITS, return_state=True, dtype=dtype), dtype=dtype
    ),
    "concat_state_sequences": lambda dtype: Bidirectional(
        SimpleRNN(UNITS, return_sequences=True, return_state=True, dtype=dtype),
        dtype=dtype,
    ),
    "none_state": lambda dtype: Bidirectional(
        GRU(UNITS, reset_after=False, return_state=True, dtype=dtype),
        merge_mode=None,
        dtype=dtype,
    ),
}


@pytest.mark.parametrize(
    ("name", "full"), _cases(BIDIRECTIONAL, {"concat_state_sequences"})
)
def test_bidirectional_contract(name, full):
    check_layer_contract(
        lambda dtype=None: BIDIRECTIONAL[name](dtype),
        INPUT_SHAPE,
        **_options(name, full),
    )


STACKS = {
    "lstm_2": lambda dtype: StackedRNN("lstm", units=UNITS, num_layers=2, dtype=dtype),
    "simple_residual_dropout_sequences": lambda dtype: StackedRNN(
        "simple",
        units=[UNITS, UNITS],
        dropout=0.25,
        residual=True,
        return_sequences=True,
        dtype=dtype,
    ),
    "gru_bidirectional_state": lambda dtype: StackedRNN(
        "gru",
        units=UNITS,
        num_layers=2,
        bidirectional=True,
        merge_mode="sum",
        return_state=True,
        dtype=dtype,
    ),
    "lstm_bidirectional_concat_residual_state": lambda dtype: StackedRNN(
        "lstm",
        units=[UNITS // 2, UNITS // 2],
        bidirectional=True,
        residual=True,
        return_sequences=True,
        return_state=True,
        dtype=dtype,
    ),
}


@pytest.mark.parametrize(
    ("name", "full"),
    _cases(STACKS, {"simple_residual_dropout_sequences"}),
)
def test_stacked_rnn_contract(name, full):
    check_layer_contract(
        lambda dtype=None: STACKS[name](dtype), INPUT_SHAPE, **_options(name, full)
    )


@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="jit_compile=True is part of the contract tests on this backend",
)
def test_fit_step_under_torch_compile():
    keras.utils.set_random_seed(0)
    model = functional_model(LSTM(UNITS, return_state=True), INPUT_SHAPE)
    check_fit_step(model, random_inputs(INPUT_SHAPE), jit_compile=True)
