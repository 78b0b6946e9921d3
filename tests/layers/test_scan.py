"""rnn_zoo.kernels.scan: the parallel scans (associative and chunked) of
h_t = a_t * h_{t-1} + b_t against the sequential reference loop: outputs, final states and gradients to 1e-5
(float32), in linear and log space, for every mask pattern, go_backwards,
zero_output_for_mask and initial states.

One shape throughout (every distinct shape is another XLA compile).
"""

import keras
import numpy as np
import pytest
from keras import ops

from rnn_zoo.kernels.scan import run_scan
from tests.layers._grads import value_and_grads
from tests.layers._masks import MASKS

BATCH, TIMESTEPS, UNITS = 3, 6, 4


class _Scan(keras.layers.Layer):
    """run_scan as a weightless layer, so the gradient helper can call it."""

    def __init__(self, **options):
        super().__init__()
        self.options = options
        self.built = True  # no weights; stateless_call (JAX) needs it built

    def call(self, a, b, h0, valid=None):
        return run_scan(a, b, h0, mask=valid, **self.options)


def _coefficients(log_space, seed=0):
    rng = np.random.default_rng(seed)
    shape = (BATCH, TIMESTEPS, UNITS)
    if log_space:
        # log a <= 0 (a decay), log b anything: b > 0.
        return (
            -rng.uniform(0.05, 2.0, shape).astype("float32"),
            rng.standard_normal(shape).astype("float32"),
        )
    return (
        rng.uniform(0.1, 1.0, shape).astype("float32"),
        rng.standard_normal(shape).astype("float32"),
    )


def _run(method, a, b, h0, mask, compiled=False, **options):
    layer = _Scan(method=method, **options)

    def forward(call, a, b, h0):
        last, outputs, states = call(
            a, b, h0, valid=None if mask is None else ops.convert_to_tensor(mask)
        )
        return [last, states[0]] + ([outputs] if outputs is not None else [])

    outputs, grads, _ = value_and_grads(layer, forward, [a, b, h0], compiled)
    return outputs, grads


def _assert_close(got, want, what):
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5, err_msg=f"{what} {i}")


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 4 steps, so that T = 6 spans two chunks (one padded)."""
    from rnn_zoo.kernels import scan

    monkeypatch.setattr(scan, "_CHUNK", 4)


CASES = (
    [
        pytest.param("parallel", mask, log, id=f"parallel-{mask}-{log}")
        for mask in MASKS
        for log in ("linear", "log")
    ]
    + [
        pytest.param("chunked", mask, log, id=f"chunked-{mask}-{log}")
        for mask in ("none", "holes", "empty_row")
        for log in ("linear", "log")
    ]
    + [
        # TensorFlow's XLA-compiled loop (elsewhere the sequential loop itself).
        pytest.param("compiled", mask, log, id=f"compiled-{mask}-{log}")
        for mask in ("none", "holes", "empty_row")
        for log in ("linear", "log")
    ]
)


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backwards"])
@pytest.mark.parametrize("method, mask_name, space", CASES)
def test_parallel_scan_matches_the_reference_loop(
    method, mask_name, space, go_backwards, small_chunks
):
    log_space = space == "log"
    a, b = _coefficients(log_space)
    h0 = np.random.default_rng(1).standard_normal((BATCH, UNITS)).astype("float32")
    mask = MASKS[mask_name]
    options = {"log_space": log_space, "go_backwards": go_backwards}
    want, want_grads = _run("sequential", a, b, h0, mask, **options)
    got, got_grads = _run(method, a, b, h0, mask, **options)
    _assert_close(got, want, "output")
    _assert_close(got_grads, want_grads, "gradient")
    assert all(np.isfinite(g).all() for g in got_grads)


@pytest.mark.parametrize("log_space", [False, True], ids=["linear", "log"])
def test_zero_output_for_mask_and_last_output_only(log_space, small_chunks):
    a, b = _coefficients(log_space, seed=2)
    h0 = np.random.default_rng(3).standard_normal((BATCH, UNITS)).astype("float32")
    mask = MASKS["holes"]
    for options in (
        {"zero_output_for_mask": True},
        {"return_sequences": False},
        {"zero_output_for_mask": True, "go_backwards": True},
    ):
        want, want_grads = _run(
            "sequential", a, b, h0, mask, log_space=log_space, **options
        )
        for method in ("parallel", "chunked", "compiled"):
            got, got_grads = _run(
                method, a, b, h0, mask, log_space=log_space, **options
            )
            _assert_close(got, want, f"{method} output {options}")
            _assert_close(got_grads, want_grads, f"{method} gradient {options}")


def test_chunks_of_chunks(small_chunks):
    """T = 21 in chunks of 4: six chunks, whose totals are scanned in chunks again."""
    rng = np.random.default_rng(7)
    a = rng.uniform(0.1, 1.0, (2, 21, 3)).astype("float32")
    b = rng.standard_normal((2, 21, 3)).astype("float32")
    h0 = rng.standard_normal((2, 3)).astype("float32")
    mask = rng.uniform(size=(2, 21)) > 0.3
    want, want_grads = _run("sequential", a, b, h0, mask)
    got, got_grads = _run("chunked", a, b, h0, mask)
    _assert_close(got, want, "output")
    _assert_close(got_grads, want_grads, "gradient")


def test_scan_values_match_the_recurrence_written_out():
    """The reference loop itself against h_t = a_t h_{t-1} + b_t in NumPy."""
    a, b = _coefficients(False, seed=4)
    h0 = np.random.default_rng(5).standard_normal((BATCH, UNITS)).astype("float32")
    mask = MASKS["holes"]
    h, expected, last = h0.astype("float64"), [], np.zeros((BATCH, UNITS))
    for t in range(TIMESTEPS):
        m = mask[:, t : t + 1]
        h = np.where(m, a[:, t] * h + b[:, t], h)
        last = np.where(m, h, last)
        expected.append(last)
    for method in ("sequential", "parallel", "chunked"):
        out, seq, states = run_scan(a, b, h0, mask=mask, method=method)
        np.testing.assert_allclose(
            ops.convert_to_numpy(seq), np.stack(expected, 1), atol=1e-5
        )
        np.testing.assert_allclose(ops.convert_to_numpy(states[0]), h, atol=1e-5)
        np.testing.assert_allclose(ops.convert_to_numpy(out), expected[-1], atol=1e-5)


def test_log_space_handles_long_sequences_without_losing_precision():
    """Heinsen's cumsum/logcumsumexp form loses digits here; the log-space pairs do not."""
    rng = np.random.default_rng(6)
    steps = 400
    log_a = -rng.uniform(0.5, 1.5, (1, steps, 2)).astype("float32")
    log_b = rng.standard_normal((1, steps, 2)).astype("float32")
    h0 = np.zeros((1, 2), "float32")
    _, seq, _ = run_scan(log_a, log_b, h0, log_space=True, method="parallel")
    h, expected = np.zeros((1, 2)), []
    for t in range(steps):
        h = np.exp(log_a[:, t].astype("float64")) * h + np.exp(
            log_b[:, t].astype("float64")
        )
        expected.append(h)
    np.testing.assert_allclose(
        ops.convert_to_numpy(seq), np.stack(expected, 1), rtol=1e-5
    )


def test_half_precision_scans_in_float32_and_returns_the_input_dtype():
    a, b = _coefficients(False)
    h0 = np.zeros((BATCH, UNITS), "float16")
    last, seq, states = run_scan(
        a.astype("float16"), b.astype("float16"), h0, mask=MASKS["holes"]
    )
    assert [
        keras.backend.standardize_dtype(t.dtype) for t in (last, seq, states[0])
    ] == ["float16"] * 3
    _, want, _ = run_scan(
        a.astype("float16").astype("float32"),
        b.astype("float16").astype("float32"),
        h0.astype("float32"),
        mask=MASKS["holes"],
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(seq).astype("float32"),
        ops.convert_to_numpy(want),
        atol=2e-3,
    )


def test_unknown_method_is_refused():
    a, b = _coefficients(False)
    with pytest.raises(ValueError, match=r"`method`.*'parallel'.*method='loop'"):
        run_scan(a, b, np.zeros((BATCH, UNITS), "float32"), method="loop")
