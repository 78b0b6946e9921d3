"""Fused sequence kernels for TensorFlow: the time loop as one op with its own backward.

``keras.layers.LSTM`` on TensorFlow's CPU runs its cell in a graph loop and
lets autodiff build the backward loop: each step's weight gradient is its
own small product and each elementwise op of the cell its own kernel
launch. These kernels work as cuDNN and oneDNN do instead:

- in training the input projection ``x @ W + b`` is one large product
  before the loop, and its two gradients one product each after the
  backward loop;
- the forward loop, compiled by XLA, does only the recurrent product and
  the gates per step, saving the gate activations;
- in inference the forward loop projects the inputs itself, a chunk of
  steps per product (no (T, B, gates * units) buffer), and saves nothing;
- the backward loop, also compiled, walks time in reverse computing each
  step's gate gradients and ``dh = dz @ W_h^T``, nothing else;
- the recurrent weight gradient is one ``(units, T*B) @ (T*B, gates*units)``
  product after the loop, the recurrent bias gradient one sum.

Masks of any pattern (right padding, left padding, holes) are exact: at a
masked step the states are carried over, as on the reference path, and the
backward loop passes their gradients through. If a gradient of an
inference call (``training=False``) is asked for, the backward pass first
runs the saving forward loop.

Functions here work on time-major tensors and only on the recurrence;
:func:`run_fused` adapts them to a layer's batch-major inputs and Keras's
masking semantics. Numerics are tested against
:func:`rnn_zoo.kernels.reference.run_reference`, outputs and gradients.
"""

from __future__ import annotations

import functools

import tensorflow as tf

from rnn_zoo.kernels.layout import variant

# Shapes vary (batch, time) and are relaxed to one trace; XLA still compiles
# one executable per concrete shape, and caches it.
_JIT = {"jit_compile": True, "reduce_retracing": True, "autograph": False}


class _LSTM:
    """Gates ``i, f, g, o``; states ``[h, c]``; saves the activated gates and ``tanh(c)``."""

    num_states = 2
    has_recurrent_bias = False

    def forward(self, x_t, states, wh, rb, u):
        h, c = states
        z = x_t + tf.matmul(h, wh)
        # XLA writes the concatenation straight from the activations: one
        # (B, 4 * units) buffer per step, no copy.
        gates = tf.concat(
            [
                tf.sigmoid(z[:, : 2 * u]),
                tf.tanh(z[:, 2 * u : 3 * u]),
                tf.sigmoid(z[:, 3 * u :]),
            ],
            axis=-1,
        )
        i, f, g, o = (gates[:, k * u : (k + 1) * u] for k in range(4))
        c_new = f * c + i * g
        tc = tf.tanh(c_new)
        return [o * tc, c_new], [gates, tc]

    def backward(self, saved, prev, d, u):
        gates, tc = saved
        _, c_prev = prev
        dh, dc = d
        i, f, g, o = (gates[:, k * u : (k + 1) * u] for k in range(4))
        dc = dc + dh * o * (1.0 - tc * tc)
        dz = tf.concat(
            [
                dc * g * i * (1.0 - i),
                dc * c_prev * f * (1.0 - f),
                dc * i * (1.0 - g * g),
                dh * tc * o * (1.0 - o),
            ],
            axis=-1,
        )
        # (input-side gradient, recurrent-side gradient, direct state gradients)
        return dz, dz, [None, dc * f]


class _GRU:
    """Keras's ``reset_after=True`` GRU: gates ``z, r, h``; saves ``sigmoid``, candidate, ``h W_h``."""

    num_states = 1
    has_recurrent_bias = True

    def forward(self, x_t, states, wh, rb, u):
        (h,) = states
        rec = tf.matmul(h, wh) + rb
        s = tf.sigmoid(x_t[:, : 2 * u] + rec[:, : 2 * u])  # z, r
        z, r = s[:, :u], s[:, u:]
        rh = rec[:, 2 * u :]
        cand = tf.tanh(x_t[:, 2 * u :] + r * rh)
        h_new = cand + z * (h - cand)
        return [h_new], [s, cand, rh]

    def backward(self, saved, prev, d, u):
        s, cand, rh = saved
        (h_prev,) = prev
        (dh,) = d
        z, r = s[:, :u], s[:, u:]
        da = dh * (1.0 - z) * (1.0 - cand * cand)
        dgates = tf.concat(
            [dh * (h_prev - cand) * z * (1.0 - z), da * rh * r * (1.0 - r)], axis=-1
        )
        dx = tf.concat([dgates, da], axis=-1)
        drec = tf.concat([dgates, da * r], axis=-1)
        return dx, drec, [dh * z]


class _Simple:
    """``h = act(x_t W + b + h W_h)`` with ``tanh`` or ``relu``; saves the new ``h``."""

    num_states = 1
    has_recurrent_bias = False

    def __init__(self, activation):
        self.activation = activation

    def forward(self, x_t, states, wh, rb, u):
        a = x_t + tf.matmul(states[0], wh)
        h_new = tf.tanh(a) if self.activation == "tanh" else tf.nn.relu(a)
        return [h_new], [h_new]

    def backward(self, saved, prev, d, u):
        (h,) = saved
        (dh,) = d
        if self.activation == "tanh":
            da = dh * (1.0 - h * h)
        else:
            da = dh * tf.cast(h > 0, dh.dtype)
        return da, da, [None]


CELLS = {
    "lstm": _LSTM(),
    "gru": _GRU(),
    "simple_tanh": _Simple("tanh"),
    "simple_relu": _Simple("relu"),
}


def _while(n, body, init):
    return tf.while_loop(
        lambda t, *_: t < n, body, (tf.constant(0), *init), maximum_iterations=n
    )[1:]


def _hold(new, old, m_t):
    """``new`` at a real step, ``old`` at a masked or padding one (``m_t`` is 1 or 0)."""
    return new if m_t is None else tf.where(m_t > 0, new, old)


@functools.cache
def _train_forward_fn(kind: str, masked: bool, units: int):
    """The forward loop of training over projected inputs ``xp``: saves the
    held states (h first) and the activations the backward pass needs."""
    cell = CELLS[kind]

    def forward(xp, wh, rb, mask, *states0):
        n = tf.shape(xp)[0]
        k = len(states0)
        _, probe = cell.forward(xp[0], list(states0), wh, rb, units)
        tas = [
            tf.TensorArray(v.dtype, size=n, element_shape=v.shape)
            for v in (*states0, *probe)
        ]

        def body(t, *carry):
            states, tas = list(carry[:k]), list(carry[k:])
            new, saved = cell.forward(xp[t], states, wh, rb, units)
            m_t = mask[t] if masked else None
            new = [_hold(a, old, m_t) for a, old in zip(new, states)]
            tas = [ta.write(t, v) for ta, v in zip(tas, (*new, *saved))]
            return (t + 1, *new, *tas)

        out = _while(n, body, [*states0, *tas])
        finals, tas = out[:k], out[k:]
        return [*finals, *(ta.stack() for ta in tas)]

    return tf.function(forward, **_JIT)


@functools.cache
def _backward_fn(kind: str, masked: bool, units: int):
    cell = CELLS[kind]

    def backward(whT, mask, d_seq, saved, prev, d_finals):
        n = tf.shape(d_seq)[0]
        k = len(d_finals)
        dx_ta = tf.TensorArray(d_seq.dtype, size=n)
        drec_ta = tf.TensorArray(d_seq.dtype, size=n)
        separate = cell.has_recurrent_bias  # input and recurrent sides differ (GRU)

        def body(i, *carry):
            t = n - 1 - i
            d, dx_ta, drec_ta = list(carry[:k]), carry[k], carry[k + 1]
            d[0] = d[0] + d_seq[t]
            m_t = mask[t] if masked else None
            d_new = d if m_t is None else [g * m_t for g in d]
            dx, drec, d_prev = cell.backward(
                [v[t] for v in saved], [v[t] for v in prev], d_new, units
            )
            d_prev = [tf.zeros_like(d[0]) if g is None else g for g in d_prev]
            d_prev[0] = d_prev[0] + tf.matmul(drec, whT)
            if m_t is not None:
                d_prev = [a + g * (1.0 - m_t) for a, g in zip(d_prev, d)]
            dx_ta = dx_ta.write(t, dx)
            drec_ta = drec_ta.write(t, drec) if separate else drec_ta
            return (i + 1, *d_prev, dx_ta, drec_ta)

        out = _while(n, body, [*d_finals, dx_ta, drec_ta])
        d0, dx_ta, drec_ta = out[:k], out[k], out[k + 1]
        dx = dx_ta.stack()
        drec = drec_ta.stack() if separate else dx
        return [dx, drec, *d0]

    return tf.function(backward, **_JIT)


# In inference the forward loop walks time in chunks of steps, unrolled
# inside each chunk:
# - it projects a chunk's inputs with one (chunk * batch, inputs) @
#   (inputs, gates * units) product that stays in cache, instead of writing a
#   (T, batch, gates * units) buffer and reading it back (262 MB at T=1000,
#   batch 64, 256 LSTM units);
# - every step reads its projected rows at a fixed offset. XLA fuses a
#   per-step dynamic slice into the gate arithmetic and computes each
#   element's index on its own (measured: a GRU loop at T=1000 ran 1.5x slower
#   than with fixed offsets).
# T is padded to whole chunks; padding steps hold the states like masked ones.
# Chunks of 4 measured as fast as chunks of 8 or 16 (T=100 and 1000) and
# compile 2x faster than 16 (XLA compiles once per sequence length).
# (The training loops keep one step per iteration: unrolled, with the
# activations saved, they measured slower.)
MAX_CHUNK = 4
MIN_CHUNK = 2


def chunk_size(steps: int | None) -> int:
    """Steps per chunk for sequences of ``steps``: little padding, long chunks."""
    if steps is None:
        return MAX_CHUNK
    if steps <= MAX_CHUNK:
        return max(int(steps), 1)
    sizes = range(MAX_CHUNK, min(MIN_CHUNK, MAX_CHUNK) - 1, -1)
    return min(sizes, key=lambda c: -(-steps // c) * c - steps)


def _pad_time(v, steps):
    """Pads the time axis (the first) of ``v`` with ``steps`` zeros."""
    paddings = tf.concat([[[0, steps]], tf.zeros((tf.rank(v) - 1, 2), tf.int32)], 0)
    return tf.pad(v, paddings)


@functools.cache
def _inference_fn(kind: str, masked: bool, units: int, keep_seq: bool, chunk: int):
    """The forward loop of inference: projects the inputs itself, saves nothing."""
    cell = CELLS[kind]

    def forward(x, w, b, wh, rb, mask, *states0):
        # Shapes from the tensors: the traced signature relaxes them to None.
        n, batch, features = tf.unstack(tf.shape(x))
        width = tf.shape(w)[-1]
        k = len(states0)
        chunks = (n + chunk - 1) // chunk
        pad = chunks * chunk - n
        x_blocks = tf.reshape(_pad_time(x, pad), (chunks, chunk * batch, features))
        if masked:
            mask = tf.reshape(_pad_time(mask, pad), (chunks, chunk, batch, 1))
        tas = []
        if keep_seq:
            h0 = states0[0]
            tas = [
                tf.TensorArray(h0.dtype, size=chunks * chunk, element_shape=h0.shape)
            ]

        def body(c, *carry):
            states = list(carry[:k])
            # The mask block is loop state, loaded by the previous iteration,
            # for the same reason as the fixed offsets.
            m_block = carry[k] if masked else None
            tas = list(carry[k + masked :])
            projected = tf.reshape(tf.matmul(x_blocks[c], w) + b, (chunk, batch, width))
            projected.set_shape((chunk, x.shape[1], w.shape[-1]))  # keep what is known
            for j in range(chunk):
                new, _ = cell.forward(projected[j], states, wh, rb, units)
                m_t = m_block[j] if masked else tf.cast(c * chunk + j < n, x.dtype)
                states = [_hold(a, old, m_t) for a, old in zip(new, states)]
                tas = [ta.write(c * chunk + j, states[0]) for ta in tas]
            ahead = [mask[tf.minimum(c + 1, chunks - 1)]] if masked else []
            return (c + 1, *states, *ahead, *tas)

        out = _while(chunks, body, [*states0, *([mask[0]] if masked else []), *tas])
        finals, tas = out[:k], out[k + masked :]
        return [*finals, *(ta.stack()[:n] for ta in tas)]

    return tf.function(forward, **_JIT)


def fused_recurrence(
    kind, x, w, b, states0, wh, rb=None, mask=None, training=True, keep_seq=True
):
    """Runs the recurrence of ``kind`` over time-major inputs ``x``.

    Args:
        kind: ``"lstm"``, ``"gru"``, ``"simple_tanh"`` or ``"simple_relu"``.
        x: ``(T, B, inputs)``; the loop projects them a chunk of steps at a time.
        w: the input kernel ``(inputs, gates * units)``.
        b: the input bias ``(gates * units,)``, or None.
        states0: the initial states, each ``(B, units)``; ``h`` first.
        wh: the recurrent kernel ``(units, gates * units)``.
        rb: the GRU's recurrent bias ``(gates * units,)`` (zeros without bias).
        mask: ``(T, B, 1)`` of 1.0 at real steps and 0.0 at masked ones, or None.
        training: save the activations for the backward pass; with False the
            forward loop saves nothing and a backward pass recomputes them.
        keep_seq: return the held ``h`` at every step; with False only the
            final states (nothing per step is written in inference).

    Returns:
        ``(H, finals)``: the held ``h`` at every step ``(T, B, units)`` (None
        without ``keep_seq``) and the final states.
    """
    cell = CELLS[kind]
    k = cell.num_states
    units = int(wh.shape[0])
    width = int(wh.shape[-1])
    masked = mask is not None
    has_bias = b is not None
    if rb is None:
        rb = tf.zeros((width,), wh.dtype)
    if b is None:
        b = tf.zeros((width,), w.dtype)
    if mask is None:
        mask = tf.zeros((0,), x.dtype)
    keep_seq = bool(keep_seq) or training

    chunk = chunk_size(x.shape[0])

    def project(x, w, b):
        flat = tf.matmul(tf.reshape(x, (-1, tf.shape(x)[-1])), w) + b
        return tf.reshape(flat, tf.concat([tf.shape(x)[:2], [width]], 0))

    @tf.custom_gradient
    def op(x, w, b, wh, rb, *states0):
        # The loops are differentiated by hand below: keep the tape out of them
        # (it would otherwise ask XLA for the loops' intermediate lists).
        x, w, b, wh, rb = (tf.stop_gradient(v) for v in (x, w, b, wh, rb))
        states0 = [tf.stop_gradient(s) for s in states0]
        if training:
            # One product for every step's input projection, then the loop.
            xp = project(x, w, b)
            out = _train_forward_fn(kind, masked, units)(xp, wh, rb, mask, *states0)
        else:
            forward = _inference_fn(kind, masked, units, keep_seq, chunk)
            out = forward(x, w, b, wh, rb, mask, *states0)
        finals, seqs = out[:k], out[k:]

        def grad(*upstream):
            d_seq = upstream[0] if keep_seq else None
            d_finals = upstream[int(keep_seq) :]
            if training:
                held, saved = seqs[:k], seqs[k:]
            else:  # a gradient of inference: run the saving loop now
                again = _train_forward_fn(kind, masked, units)(
                    project(x, w, b), wh, rb, mask, *states0
                )
                held, saved = again[k : 2 * k], again[2 * k :]
            # The states each step started from: the initial ones, then the held ones.
            prev = [tf.concat([s[None], h[:-1]], axis=0) for s, h in zip(states0, held)]
            d_finals = [
                tf.zeros_like(s) if g is None else g for s, g in zip(states0, d_finals)
            ]
            if d_seq is None:
                d_seq = tf.zeros_like(held[0])
            dz, drec, *d0 = _backward_fn(kind, masked, units)(
                tf.transpose(wh), mask, d_seq, saved, prev, d_finals
            )
            flat_h = tf.reshape(prev[0], (-1, units))
            dwh = tf.matmul(flat_h, tf.reshape(drec, (-1, width)), transpose_a=True)
            if cell.has_recurrent_bias:
                drb = tf.reduce_sum(drec, axis=(0, 1))
            else:  # rb is a constant zero made above: no gradient to sum
                drb = tf.zeros_like(rb)
            # The input projection's gradients: two products over all steps.
            flat_dz = tf.reshape(dz, (-1, width))
            dx = tf.reshape(tf.matmul(flat_dz, w, transpose_b=True), tf.shape(x))
            flat_x = tf.reshape(x, (-1, tf.shape(x)[-1]))
            dw = tf.matmul(flat_x, flat_dz, transpose_a=True)
            db = tf.reduce_sum(flat_dz, axis=0) if has_bias else tf.zeros_like(b)
            return [dx, dw, db, dwh, drb, *d0]

        return [*seqs[: int(keep_seq)], *finals], grad

    out = op(x, w, b, wh, rb, *states0)
    if keep_seq:
        return out[0], list(out[1:])
    return None, list(out)


def run_fused(
    kind,
    inputs,
    kernel,
    bias,
    initial_states,
    wh,
    rb=None,
    mask=None,
    go_backwards=False,
    return_sequences=True,
    zero_output_for_mask=False,
    training=True,
    time_major=False,
):
    """:func:`fused_recurrence` with the contract of :func:`~rnn_zoo.kernels.run_reference`.

    ``inputs`` is batch-major ``(B, T, features)`` (``(T, B, features)`` with
    ``time_major``), ``kernel``/``bias`` the input projection, ``mask`` a
    boolean ``(B, T)``. The output at a masked step repeats the previous
    output (zeros before the first real step), or is zero with
    ``zero_output_for_mask``; with ``go_backwards`` the outputs come in
    processing order. Returns ``(last_output, outputs or None, final_states)``.
    """
    xs = inputs if time_major else tf.transpose(inputs, (1, 0, 2))
    m = None
    if mask is not None:
        m = tf.cast(tf.transpose(mask, (1, 0)), xs.dtype)[..., None]
    if go_backwards:
        xs = tf.reverse(xs, [0])
        m = None if m is None else tf.reverse(m, [0])
    states = list(initial_states)
    dtype = xs.dtype
    low_precision = dtype in (tf.float16, tf.bfloat16)
    if low_precision and not tf.config.list_logical_devices("GPU"):
        # Mixed precision on a CPU: XLA's CPU loops in bfloat16/float16 run
        # slower than in float32 (CPUs emulate them), so the recurrence runs
        # in float32 and hands back the policy's dtype.
        xs, kernel, wh = (tf.cast(v, tf.float32) for v in (xs, kernel, wh))
        bias = None if bias is None else tf.cast(bias, tf.float32)
        rb = None if rb is None else tf.cast(rb, tf.float32)
        states = [tf.cast(s, tf.float32) for s in states]
    m32 = None if m is None else tf.cast(m, xs.dtype)
    h_seq, finals = fused_recurrence(
        kind, xs, kernel, bias, states, wh, rb, m32, training, return_sequences
    )
    finals = [tf.cast(s, dtype) for s in finals]
    if return_sequences or training:
        h_seq = tf.cast(h_seq, dtype)
        if m is not None:
            # The held h is the previous output, except before the first real step.
            keep = (
                m
                if zero_output_for_mask
                else tf.cast(tf.cumsum(m, axis=0) > 0, m.dtype)
            )
            h_seq = h_seq * keep
        last = h_seq[-1]
    else:
        # Inference without the sequence: the last output is the final h,
        # held like the sequence's last row would have been.
        last = finals[0]
        if m is not None:
            keep = m[-1] if zero_output_for_mask else tf.reduce_max(m, axis=0)
            last = last * keep
    outputs = tf.transpose(h_seq, (1, 0, 2)) if return_sequences else None
    return last, outputs, finals


def run(spec, sequences, initial_state, weights, mask, *, training):
    """The kernel table's entry ``tf-fused`` (see :mod:`rnn_zoo.kernels`).

    Takes any mask pattern and every family variant of :data:`CELLS`; it
    never refuses a case.
    """
    kind = variant(spec)
    bias, recurrent_bias = weights["bias"], None
    if kind == "gru" and bias is not None:
        bias, recurrent_bias = bias[0], bias[1]
    # Time-major from the start; the fused loop projects the inputs itself.
    return run_fused(
        kind,
        tf.transpose(sequences, (1, 0, 2)),
        weights["kernel"],
        bias,
        initial_state,
        weights["recurrent_kernel"],
        recurrent_bias,
        mask=mask,
        go_backwards=spec.go_backwards,
        return_sequences=spec.return_sequences,
        zero_output_for_mask=spec.zero_output_for_mask,
        training=bool(training),
        time_major=True,
    )
