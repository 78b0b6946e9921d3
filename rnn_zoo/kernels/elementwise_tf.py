"""Elementwise recurrences on TensorFlow: XLA-compiled loops with hand-written backward loops.

The cells whose recurrence has no matrix product (minGRU, minLSTM, RG-LRU,
QRNN's pooling, SRU, IndRNN) spend, on a CPU, their time in the loop's
overhead and in autodiff's bookkeeping, not in arithmetic: a step is a few
elementwise ops on a ``(batch, units)`` tile, which TensorFlow's graph loop
dispatches one op at a time, and its gradient loop more so. Here, as
:mod:`rnn_zoo.kernels.fused_tf` does for the LSTM and GRU:

- the input projection is one product per part before the loop (its
  gradient one product after), done by ordinary ops TensorFlow
  differentiates;
- the loop, compiled by XLA, computes the gates and the state of one step
  from its slices of the projection, and saves only the state;
- its backward loop, also compiled, walks time in reverse carrying only the
  state's gradient; the gradients of the projection and of the per-unit
  weights (SRU's ``v_f``, IndRNN's ``u``) are computed after it, for all
  steps at once.

:func:`elementwise_recurrence` is that loop as one op with a
``tf.custom_gradient``, for the steps of :data:`STEPS`. Masks are
``(time, batch, 1)`` floats, 1.0 at a real step: a masked step keeps the
state and passes its gradient through.

:func:`run` is the kernel table's ``tf-elementwise`` entry for the
``"sru"``, ``"indrnn"`` and ``"qrnn"`` families (QRNN's pooling through the
``"linear"`` step, its gates computed before the loop), and the scan's ``"compiled"`` method
(:mod:`rnn_zoo.kernels.scan`) for ``"mingru"``, ``"minlstm"`` and
``"rglru"``. Its numerics are tested against the cells' reference loops
(tests/layers/test_elementwise_kernels.py).
"""

from __future__ import annotations

import functools

import keras
import tensorflow as tf

from rnn_zoo.kernels import KernelUnavailable

_JIT = {"jit_compile": True, "reduce_retracing": True, "autograph": False}


def _loop(n, body, init):
    return tf.while_loop(
        lambda t, *_: t < n, body, (tf.constant(0), *init), maximum_iterations=n
    )[1:]


def _shifted(h0, seq):
    """The state each step starts from: ``h0``, then ``seq`` (time-major) without its last step."""
    return tf.concat([h0[None], seq[:-1]], axis=0)


# --- the steps ----------------------------------------------------------------
#
# A step reads ``ks``, its slices of one or more (time, batch, units) tensors
# computed before the loop, and a per-unit weight ``w`` (or an empty one).
# The backward loop carries only the state gradient: ``carry(ks, h_prev, h,
# g, w)`` is the gradient of ``h_prev`` from the step's gradient ``g``. The
# gradients of ``ks`` (``grads``, the same arguments over every step at once)
# and of ``w`` (``weight_grad``) are then computed for the whole sequence,
# after the loop: vectorised, and the loop writes one tensor, not one per part.
#
# Time-major, one tensor per part: XLA reads a step as one contiguous block.
# A batch-major slice (x[:, t]) or a slice of a wider tensor split in the
# loop made XLA compute every element's index on its own, unvectorised
# (measured: a minGRU forward loop at T=1000, batch 64, 256 units took 156
# ms batch-major, 102 ms time-major split in the loop, 37 ms with the parts
# as separate time-major tensors). Unrolling 4 or 8 steps per iteration was
# no faster.


def _sigmoid_grad(s):
    return s * (1.0 - s)


class _Linear:
    """``ks = [a, b]``: ``h = a * h + b``."""

    parts = 2
    needs_prev = False

    def forward(self, ks, h, w):
        return ks[0] * h + ks[1]

    def carry(self, ks, h_prev, h, g, w):
        return g * ks[0]

    def grads(self, ks, prev, seq, g, w):
        return [g * prev, g]


class _Fill:
    """``ks = [v]``: ``h = v`` (held at masked steps: the last real ``v``)."""

    parts = 1
    needs_prev = False

    def forward(self, ks, h, w):
        return ks[0]

    def carry(self, ks, h_prev, h, g, w):
        return tf.zeros_like(g)

    def grads(self, ks, prev, seq, g, w):
        return [g]


def _candidate(x, g_of_x):
    """minGRU's ``g`` (``x + 0.5`` for ``x >= 0``, ``sigmoid(x)`` below), or ``x``."""
    return tf.where(x >= 0, x + 0.5, tf.sigmoid(x)) if g_of_x else x


def _candidate_grad(x, g_of_x):
    if not g_of_x:
        return tf.ones_like(x)
    return tf.where(x >= 0, tf.ones_like(x), _sigmoid_grad(tf.sigmoid(x)))


class _MinGRU:
    """``ks = [k_z, k_h]``: ``h = (1 - z) * h + z * h~``, ``z = sigmoid(k_z)``."""

    parts = 2
    needs_prev = False

    def __init__(self, g_of_x):
        self.g_of_x = g_of_x

    def forward(self, ks, h, w):
        k_z, k_h = ks
        return h + tf.sigmoid(k_z) * (_candidate(k_h, self.g_of_x) - h)

    def carry(self, ks, h_prev, h, g, w):
        return g * tf.sigmoid(-ks[0])  # 1 - z

    def grads(self, ks, prev, seq, g, w):
        k_z, k_h = ks
        z = tf.sigmoid(k_z)
        cand = _candidate(k_h, self.g_of_x)
        dk_z = g * (cand - prev) * _sigmoid_grad(z)
        return [dk_z, g * z * _candidate_grad(k_h, self.g_of_x)]


class _MinLSTM:
    """``ks = [k_f, k_i, k_h]``: ``h = (f * h + i * h~) / (f + i)``."""

    parts = 3
    needs_prev = False

    def __init__(self, g_of_x):
        self.g_of_x = g_of_x

    def forward(self, ks, h, w):
        k_f, k_i, k_h = ks
        f, i = tf.sigmoid(k_f), tf.sigmoid(k_i)
        return (f * h + i * _candidate(k_h, self.g_of_x)) / (f + i)

    def carry(self, ks, h_prev, h, g, w):
        f, i = tf.sigmoid(ks[0]), tf.sigmoid(ks[1])
        return g * f / (f + i)

    def grads(self, ks, prev, seq, g, w):
        k_f, k_i, k_h = ks
        f, i = tf.sigmoid(k_f), tf.sigmoid(k_i)
        cand = _candidate(k_h, self.g_of_x)
        gs = g / (f + i)
        return [
            gs * (prev - seq) * _sigmoid_grad(f),
            gs * (cand - seq) * _sigmoid_grad(i),
            gs * i * _candidate_grad(k_h, self.g_of_x),
        ]


class _IndRNN:
    """``ks = [p]``, ``w = u``: ``h = act(p + u * h)``, ``act`` relu or tanh."""

    parts = 1
    needs_prev = False

    def __init__(self, activation):
        self.activation = activation

    def forward(self, ks, h, w):
        z = ks[0] + w * h
        return tf.nn.relu(z) if self.activation == "relu" else tf.tanh(z)

    def _dp(self, h, g):
        if self.activation == "relu":
            return tf.where(h > 0, g, tf.zeros_like(g))
        return g * (1.0 - h * h)

    def carry(self, ks, h_prev, h, g, w):
        return self._dp(h, g) * w

    def grads(self, ks, prev, seq, g, w):
        return [self._dp(seq, g)]

    def weight_grad(self, dks, prev, ks, g, w):
        return tf.reduce_sum(dks[0] * prev, axis=(0, 1))


class _SRU:
    """``ks = [x~, F]``, ``w = v_f``: ``c = f * c + (1 - f) * x~``,
    ``f = sigmoid(F + v_f * c)``."""

    parts = 2
    needs_prev = True

    def forward(self, ks, c, w):
        x, f_pre = ks
        return x + tf.sigmoid(f_pre + w * c) * (c - x)

    def carry(self, ks, c_prev, c, g, w):
        x, f_pre = ks
        f = tf.sigmoid(f_pre + w * c_prev)
        return g * (f + (c_prev - x) * _sigmoid_grad(f) * w)

    def grads(self, ks, prev, seq, g, w):
        x, f_pre = ks
        f = tf.sigmoid(f_pre + w * prev)
        return [g * (1.0 - f), g * (prev - x) * _sigmoid_grad(f)]

    def weight_grad(self, dks, prev, ks, g, w):
        return tf.reduce_sum(dks[1] * prev, axis=(0, 1))


class _RGLRU:
    """The RG-LRU: ``ks = [k_a, k_x, u]``, ``w = c * softplus(a_param)``:
    ``log a = -w * sigmoid(k_a)``, ``h = a * h + sqrt(1 - a^2) * sigmoid(k_x) * u``,
    the square root's derivative capped at 1000 as
    :func:`rnn_zoo.kernels.scan.sqrt_bounded_grad` does."""

    parts = 3
    needs_prev = False
    max_gradient = 1000.0

    def forward(self, ks, h, w):
        k_a, k_x, u = ks
        log_a = -w * tf.sigmoid(k_a)
        b = tf.sqrt(-tf.math.expm1(2.0 * log_a)) * tf.sigmoid(k_x) * u
        return tf.exp(log_a) * h + b

    def carry(self, ks, h_prev, h, g, w):
        return g * tf.exp(-w * tf.sigmoid(ks[0]))

    def _d_log_a(self, ks, prev, g, w):
        k_a, k_x, u = ks
        r = tf.sigmoid(k_a)
        log_a = -w * r
        a = tf.exp(log_a)
        one_minus = -tf.math.expm1(2.0 * log_a)
        slope = 0.5 / tf.sqrt(tf.maximum(one_minus, 0.25 / self.max_gradient**2))
        i = tf.sigmoid(k_x)
        # d/d log a of a * h_prev + sqrt(1 - a^2) * i * u.
        d_log_a = g * a * (prev - 2.0 * a * slope * i * u)
        return d_log_a, r, one_minus, i

    def grads(self, ks, prev, seq, g, w):
        _, _, u = ks
        d_log_a, r, one_minus, i = self._d_log_a(ks, prev, g, w)
        mult = tf.sqrt(one_minus)
        return [
            d_log_a * (-w) * _sigmoid_grad(r),
            g * mult * u * _sigmoid_grad(i),
            g * mult * i,
        ]

    def weight_grad(self, dks, prev, ks, g, w):
        d_log_a, r, _, _ = self._d_log_a(ks, prev, g, w)
        return tf.reduce_sum(-d_log_a * r, axis=(0, 1))


STEPS = {
    "linear": _Linear(),
    "rglru": _RGLRU(),
    "fill": _Fill(),
    "mingru": _MinGRU(False),
    "mingru_g": _MinGRU(True),
    "minlstm": _MinLSTM(False),
    "minlstm_g": _MinLSTM(True),
    "indrnn_relu": _IndRNN("relu"),
    "indrnn_tanh": _IndRNN("tanh"),
    "sru": _SRU(),
}


def _hold(new, old, m_t):
    """``new`` at a real step, ``old`` at a masked one (``m_t`` is 1.0 or 0.0)."""
    return new if m_t is None else tf.where(m_t > 0, new, old)


@functools.cache
def _forward_fn(kind: str, masked: bool):
    step = STEPS[kind]

    def forward(w, h0, mask, *ks):
        n = tf.shape(ks[0])[0]

        def body(t, h, ta):
            new = step.forward([k[t] for k in ks], h, w)
            h = _hold(new, h, mask[t] if masked else None)
            return t + 1, h, ta.write(t, h)

        ta = tf.TensorArray(h0.dtype, size=n, element_shape=h0.shape)
        _, ta = _loop(n, body, [h0, ta])
        return ta.stack()

    return tf.function(forward, **_JIT)


@functools.cache
def _backward_fn(kind: str, masked: bool, last_only: bool = False):
    step = STEPS[kind]

    def backward(w, h0, seq, mask, upstream, *ks):
        # upstream: the gradient of every state, or (last_only) of the last.
        n = tf.shape(seq)[0]

        def body(i, carry, ta):
            t = n - 1 - i
            g = carry if last_only else upstream[t] + carry
            m_t = mask[t] if masked else None
            real = g if m_t is None else g * m_t
            h_prev = None
            if step.needs_prev:
                h_prev = tf.where(t > 0, seq[tf.maximum(t - 1, 0)], h0)
            d_prev = step.carry([k[t] for k in ks], h_prev, seq[t], real, w)
            if m_t is not None:  # a masked step passes its gradient through
                d_prev = d_prev + (g - real)
            return i + 1, d_prev, ta.write(t, real)

        ta = tf.TensorArray(h0.dtype, size=n, element_shape=h0.shape)
        start = upstream if last_only else tf.zeros_like(h0)
        dh0, ta = _loop(n, body, [start, ta])
        prev = _shifted(h0, seq)
        g = ta.stack()
        dks = step.grads(ks, prev, seq, g, w)
        if hasattr(step, "weight_grad"):
            dw = step.weight_grad(dks, prev, ks, g, w)
        else:
            dw = tf.zeros_like(w)
        return [dw, dh0, *dks]

    return tf.function(backward, **_JIT)


def elementwise_recurrence(kind: str, ks, h0, w=None, mask=None, last_only=False):
    """Runs the step ``kind`` of :data:`STEPS` over time; every held state.

    Args:
        kind: a key of :data:`STEPS`.
        ks: the step's parts, each ``(time, batch, units)`` (see the steps).
        h0: ``(batch, units)``, the initial state.
        w: ``(units,)``, the step's per-unit weight, where it has one.
        mask: ``(time, batch, 1)``, 1.0 at real steps, 0.0 at masked ones
            (which keep the state), or None.
        last_only: return only the last state: its gradient is then all the
            backward loop reads (no ``(time, batch, units)`` of zeros).

    Returns:
        ``(time, batch, units)``: the state after every step, or
        ``(batch, units)``, the last, with ``last_only``.
    """
    masked = mask is not None
    if mask is None:
        mask = tf.zeros((0, 0, 0), h0.dtype)
    if w is None:
        w = tf.zeros((0,), h0.dtype)

    @tf.custom_gradient
    def op(w, h0, *ks):
        # The loops are differentiated by hand: keep the tape out of them.
        w, h0 = tf.stop_gradient(w), tf.stop_gradient(h0)
        ks = [tf.stop_gradient(k) for k in ks]
        seq = _forward_fn(kind, masked)(w, h0, mask, *ks)

        def grad(upstream):
            backward = _backward_fn(kind, masked, last_only)
            return backward(w, h0, seq, mask, upstream, *ks)

        return (seq[-1] if last_only else seq), grad

    out = op(w, h0, *ks)
    # The compiled loops are traced with relaxed shapes: restore what is known.
    time = [] if last_only else [ks[0].shape[0]]
    out.set_shape(tf.TensorShape(time).concatenate(h0.shape))
    return out


def linear_recurrence(a, b, h0, mask=None):
    """``h_t = a_t * h_{t-1} + b_t`` over time-major ``(time, batch, units)`` ``a``, ``b``."""
    return elementwise_recurrence("linear", [a, b], h0, None, mask)


# --- the kernel -------------------------------------------------------------------


def _dense_blocks(x, kernel, bias, parts: int):
    """``x @ kernel + bias`` for time-major ``x``, as ``parts`` separate
    ``(time, batch, width / parts)`` tensors: one product per part, so that
    no part is a strided slice of a wider tensor. ``bias_add`` on the 2-D
    product: TensorFlow's CPU runs the two as one fused op."""
    flat = tf.reshape(x, (-1, x.shape[-1]))
    shape = tf.concat([tf.shape(x)[:2], [kernel.shape[-1] // parts]], 0)
    kernels = tf.split(kernel, parts, axis=-1)
    biases = [None] * parts if bias is None else tf.split(bias, parts)
    blocks = []
    for k, b in zip(kernels, biases):
        y = tf.matmul(flat, k)
        blocks.append(tf.reshape(y if b is None else tf.nn.bias_add(y, b), shape))
    return blocks


def _outputs(h, mask, zero_output_for_mask, output_is_state):
    """The outputs at masked steps by the reference loop's rules: the previous
    output (zeros before the first real step), or zeros."""
    if mask is None:
        return h
    if zero_output_for_mask:
        return h * mask
    if output_is_state:  # the held state is the previous output
        return h * tf.cast(tf.cumsum(mask, axis=0) > 0, h.dtype)
    return elementwise_recurrence("fill", [h], tf.zeros_like(h[0]), None, mask)


def _states(spec, kind, ks, h0, w, mask):
    """For a cell whose output is its state: ``(h, finals, True)``, ``h``
    only the last state (batch, units) where nothing else is asked for."""
    if mask is None and not spec.return_sequences:
        last = elementwise_recurrence(kind, ks, h0, w, None, last_only=True)
        return last, [last], True
    h = elementwise_recurrence(kind, ks, h0, w, mask)
    return h, [h[-1]], True


def _indrnn(spec, x, states, weights, mask):
    p = _dense_blocks(x, weights["kernel"], weights.get("bias"), 1)
    kind = f"indrnn_{spec.param('activation')}"
    return _states(spec, kind, p, states[0], weights["recurrent_kernel"], mask)


def _sru(spec, x, states, weights, mask):
    units = spec.units
    parts = 4 if spec.param("highway_projection") else 3
    blocks = _dense_blocks(x, weights["kernel"], weights.get("bias"), parts)
    cand, forget, reset = blocks[:3]
    highway = blocks[3] if parts == 4 else x * spec.param("highway_scale", 1.0)
    v = weights["recurrent_kernel"]
    c = elementwise_recurrence("sru", [cand, forget], states[0], v[:units], mask)
    r = tf.sigmoid(reset + v[units:] * _shifted(states[0], c))
    act = keras.activations.get(spec.param("activation"))
    h = highway + (act(c) - highway) * r
    return h, [c[-1]], False


def _qrnn(spec, x, states, weights, mask):
    gates, window = spec.param("gates"), spec.param("window")
    width = gates * spec.units
    bias = weights.get("bias")
    if window == 1:
        blocks = _dense_blocks(x, weights["kernel"], bias, gates)
        new_states = []
    else:
        blocks, new_states = _qrnn_window2(x, states[1], weights, mask, gates, width)
    act = keras.activations.get(spec.param("activation"))
    gate = keras.activations.get(spec.param("recurrent_activation"))
    pooling = spec.param("pooling")
    # The gates before the loop, then h = a * h + b. (Their activations
    # inside the loop, as minGRU's, measured 5-8% more CPU time.)
    z, f = act(blocks[0]), gate(blocks[1])
    keep = weights.get("step_noise")  # zoneout's masks, time-major
    if keep is not None:
        f = 1.0 - (1.0 - f) * keep
    b = gate(blocks[3]) * z if pooling == "ifo" else (1.0 - f) * z
    c = linear_recurrence(f, b, states[0], mask)
    h = c if pooling == "f" else gate(blocks[2]) * c
    return h, [c[-1], *new_states], pooling == "f"


def _qrnn_window2(x, previous, weights, mask, gates, width):
    """The gates ``x_t W_1 + x_{t-1} W_2 + b`` as one product of
    ``[x_t | x_{t-1}]`` per gate, the carried ``previous`` share standing for
    ``x_{-1} W_2`` (and, with a mask, for every step before the first real
    one: a masked input is skipped). Returns the gates and the new share.

    No ``x_t W_2`` share per step: summing shifted shares (three more
    ``(T, batch, units)`` tensors, their sums and copies, forward and
    backward) took half a QRNN training step (measured: 0.97 s of CPU
    against 0.47 s this way, T = 1000, batch 64, 256 units)."""
    kernel = weights["kernel"]  # (features, 2 * width): [W_1 | W_2]
    w_own = kernel[:, width:]
    stacked = tf.concat([kernel[:, :width], w_own], axis=0)
    bias = weights.get("bias")
    bias = None if bias is None else bias[:width]
    if mask is not None:
        # The input each step sees as x_{t-1}: the last real one before it.
        x_seen = elementwise_recurrence("fill", [x], tf.zeros_like(x[0]), None, mask)
    else:
        x_seen = x
    x_prev = tf.concat([tf.zeros_like(x[:1]), x_seen[:-1]], axis=0)
    blocks = _dense_blocks(tf.concat([x, x_prev], axis=-1), stacked, bias, gates)
    shares = tf.split(previous, gates, axis=-1)
    if mask is None:
        blocks = [
            tf.tensor_scatter_nd_add(b, [[0]], p[None]) for b, p in zip(blocks, shares)
        ]
        own = tf.matmul(x[-1], w_own)
    else:
        # 1.0 where no real step came before (x_prev is then the zeros).
        before = tf.cast(tf.cumsum(mask, axis=0, exclusive=True) == 0, x.dtype)
        blocks = [b + before * p for b, p in zip(blocks, shares)]
        seen_any = tf.reduce_max(mask, axis=0)  # (batch, 1)
        own = tf.matmul(x_seen[-1], w_own) * seen_any + previous * (1.0 - seen_any)
    return blocks, [own]


def _min_rnn(spec, x, states, weights, mask):
    parts = STEPS[spec.family].parts
    ks = _dense_blocks(x, weights["kernel"], weights.get("bias"), parts)
    kind = spec.family + ("_g" if spec.param("variant", "log") == "log" else "")
    return _states(spec, kind, ks, states[0], None, mask)


def _rglru(spec, x, states, weights, mask):
    units, bias = spec.units, weights.get("bias")
    u = x
    if spec.param("input_projection", True):
        u = _dense_blocks(
            x, weights["kernel"], None if bias is None else bias[:units], 1
        )[0]
    gate_bias = None if bias is None else bias[-2 * units :]
    k_a, k_x = _dense_blocks(u, weights["gate_kernel"], gate_bias, 2)
    w = spec.param("c", 8.0) * tf.nn.softplus(weights["a_param"])
    return _states(spec, "rglru", [k_a, k_x, u], states[0], w, mask)


_FAMILIES = {
    "rglru": _rglru,
    "indrnn": _indrnn,
    "sru": _sru,
    "qrnn": _qrnn,
    "mingru": _min_rnn,
    "minlstm": _min_rnn,
}


def run(spec, sequences, initial_state, weights, mask, *, training):
    """The kernel table's ``tf-elementwise`` entry (see :mod:`rnn_zoo.kernels`),
    and :mod:`rnn_zoo.kernels.scan`'s ``"compiled"`` method for minGRU and minLSTM.

    Takes any mask; half-precision inputs run in float32 (the loops on a CPU
    emulate half precision) and are handed back in their dtype.
    """
    if spec.family not in _FAMILIES:
        raise KernelUnavailable(f"tf-elementwise does not run the {spec.family} family")
    dtype = sequences.dtype
    low = dtype in (tf.float16, tf.bfloat16)

    def cast(v):
        return v if v is None or not low else tf.cast(v, tf.float32)

    x = tf.transpose(cast(sequences), (1, 0, 2))  # (time, batch, features)
    weights = {k: cast(v) for k, v in weights.items()}
    states = [cast(s) for s in initial_state]
    m = None
    if mask is not None:
        m = tf.cast(tf.transpose(mask, (1, 0)), x.dtype)[..., None]
    if weights.get("step_noise") is not None:
        # Per-step noise (QRNN's zoneout), read like the sequence.
        weights["step_noise"] = tf.transpose(weights["step_noise"], (1, 0, 2))
    if spec.go_backwards:
        x = tf.reverse(x, [0])
        m = None if m is None else tf.reverse(m, [0])
        if weights.get("step_noise") is not None:
            weights["step_noise"] = tf.reverse(weights["step_noise"], [0])
    if weights.get("step_noise") is not None and spec.family != "qrnn":
        raise KernelUnavailable(
            f"tf-elementwise applies per-step noise to the qrnn family only, "
            f"not to {spec.family}"
        )
    h, finals, output_is_state = _FAMILIES[spec.family](spec, x, states, weights, m)
    finals = [tf.cast(s, dtype) for s in finals]
    if h.shape.rank == 2:  # the last state only (no mask, no sequence asked for)
        return tf.cast(h, dtype), None, finals
    outputs = tf.cast(_outputs(h, m, spec.zero_output_for_mask, output_is_state), dtype)
    sequence = tf.transpose(outputs, (1, 0, 2)) if spec.return_sequences else None
    return outputs[-1], sequence, finals
