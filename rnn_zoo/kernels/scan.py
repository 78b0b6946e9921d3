"""Linear recurrences ``h_t = a_t * h_{t-1} + b_t``: parallel scans and their reference loop.

Cells whose recurrence is elementwise and linear in the state (minGRU,
minLSTM, RG-LRU) compute ``a_t`` and ``b_t`` from their inputs for every
timestep at once; what is left is a first-order linear recurrence, which an
associative scan (``keras.ops.associative_scan``, on every backend) computes
in ``O(log T)`` sequential depth instead of a loop of ``T`` steps. The pairs
compose as ``(a1, b1) then (a2, b2) = (a1 * a2, a2 * b1 + b2)``.

``log_space=True`` takes ``log a_t`` and ``log b_t`` instead (``b_t > 0``),
the variant Feng et al. (2024, "Were RNNs All We Needed?") train minGRU and
minLSTM with. The paper computes it with a cumulative sum and a
``logcumsumexp`` (Heinsen's method); here the same pairs compose in log space
(``(la1 + la2, logaddexp(la2 + lb1, lb2))``), which gives the same values
without subtracting two large cumulative sums, so long sequences keep their
precision. The initial state enters linearly, ``h_t = A_t h_0 + B_t``, so it
may have any sign. Half-precision inputs are scanned in float32.

Masks fold into the pairs: a masked step keeps the state (``a = 1``,
``b = 0``). The outputs then follow :func:`rnn_zoo.kernels.reference.run_reference`'s
rules exactly: at a masked step the output repeats the previous output (zeros
before the first valid step) or, with ``zero_output_for_mask``, is zero.
Four ways to scan, the same results (tested against each other):

- ``method="parallel"``: the associative scan, ``O(log T)`` depth
  (``keras.ops.associative_scan`` on JAX and PyTorch; on TensorFlow an
  odd/even recursion here that keeps static shapes and compiles with XLA,
  which Keras's TensorFlow version does not);
- ``method="chunked"`` (the default of :func:`run_scan`): chunks of 32 steps
  scanned all at once one position at a time, the chunks' totals the same
  way, then composed: ``O(T)`` work in about 64 whole-tensor steps;
- ``method="sequential"``: the reference loop
  (:func:`~rnn_zoo.kernels.reference.run_reference`) over the precomputed
  pairs, one step at a time; the parallel forms are tested against it;
- ``method="compiled"``: on TensorFlow, the XLA-compiled loop of
  :mod:`rnn_zoo.kernels.elementwise_tf` with its hand-written backward loop
  (in :func:`run`, the families' gates are computed inside it); on
  the other backends the same as ``"sequential"``.

The kernel (:func:`run`) loops on a CPU and takes the associative scan on an
accelerator: see :func:`method_for` for the measurements behind that.

:func:`run` is the kernel the table (:mod:`rnn_zoo.kernels`) registers as
``tf-scan``, ``jax-scan`` and ``torch-scan``: it computes ``a_t`` and ``b_t``
of the families below from the sequence and the cell's weights, then scans.

- ``"mingru"`` (Feng et al. 2024): ``kernel`` ``[W_z | W_h]``, ``bias``;
  ``z = sigmoid(x W_z + b_z)``, ``a = 1 - z``, ``b = z * h~`` with
  ``h~ = x W_h + b_h`` (parameter ``variant="linear"``) or ``g(x W_h + b_h)``
  scanned in log space (``variant="log"``).
- ``"minlstm"``: ``kernel`` ``[W_f | W_i | W_h]``, ``bias``;
  ``a = f / (f + i)``, ``b = i / (f + i) * h~``, the same two variants.
- ``"rglru"`` (De et al. 2024): ``kernel`` (the input projection, or None:
  parameter ``input_projection``), ``gate_kernel`` ``[W_a | W_x]``, ``bias``,
  ``a_param``; ``log a = -c * sigmoid(u W_a + b_a) * softplus(a_param)``,
  ``b = sqrt(1 - a^2) * sigmoid(u W_x + b_x) * u`` (parameter ``c``).
"""

from __future__ import annotations

from keras import backend, ops

from rnn_zoo.kernels import KernelUnavailable
from rnn_zoo.kernels.reference import run_reference

METHODS = ("chunked", "parallel", "sequential", "compiled")
# Chunk length of the chunked scan: about sqrt(T) up to 1,000 steps.
_CHUNK = 32
FAMILIES = ("mingru", "minlstm", "rglru")

# log(0) for a masked step's b in log space. A finite number, not -inf: the
# gradient of logaddexp(-inf, -inf) is NaN. exp(-1e4) is 0 in float32.
_LOG_ZERO = -1e4


def _combine(earlier, later):
    a1, b1 = earlier
    a2, b2 = later
    return a1 * a2, a2 * b1 + b2


def _combine_log(earlier, later):
    la1, lb1 = earlier
    la2, lb2 = later
    return la1 + la2, ops.logaddexp(la2 + lb1, lb2)


def _interleave(even, odd):
    """``[e0, o0, e1, o1, ...]`` along axis 1; ``even`` may be one step longer."""
    pairs = odd.shape[1]
    units = even.shape[-1]
    woven = ops.reshape(
        ops.stack([even[:, :pairs], odd], axis=2),
        (ops.shape(even)[0], 2 * pairs, units),
    )
    if even.shape[1] > pairs:
        woven = ops.concatenate([woven, even[:, pairs:]], axis=1)
    return woven


def _scan_static(combine, elems):
    """An inclusive associative scan along axis 1 of a known length (Blelloch's
    odd/even recursion, ``O(T)`` work, ``O(log T)`` depth), in plain ``keras.ops``.

    On TensorFlow, ``keras.ops.associative_scan`` loses the static shapes
    when the batch size is unknown (as in ``fit``), so the layers after it
    (``Bidirectional``'s flip) fail, and it does not compile with XLA
    (``jit_compile=True``); this one keeps every shape static.
    """
    length = elems[0].shape[1]
    if length < 2:
        return elems
    # Pairs (0, 1), (2, 3), ...; their scan is the prefix at 1, 3, 5, ...
    reduced = combine(
        [e[:, 0 : length - 1 : 2] for e in elems], [e[:, 1::2] for e in elems]
    )
    odd = _scan_static(combine, reduced)
    # The prefix at 2, 4, ...: the one at 1, 3, ... then the element.
    rest = (length - 1) // 2
    if rest:
        later = combine([o[:, :rest] for o in odd], [e[:, 2::2] for e in elems])
        even = [ops.concatenate([e[:, :1], r], axis=1) for e, r in zip(elems, later)]
    else:
        even = [e[:, :1] for e in elems]
    return tuple(_interleave(e, o) for e, o in zip(even, odd))


def _scan_dynamic_tf(combine, elems, identity):
    """The same scan for a length unknown when TensorFlow traces: Hillis and
    Steele's doubling, ``log2(T)`` rounds in a ``tf.while_loop``."""
    import tensorflow as tf

    length = tf.shape(elems[0])[1]
    steps = tf.reshape(tf.range(length), (1, -1, 1))

    def body(offset, values):
        shifted = [
            tf.where(steps >= offset, tf.roll(v, offset, axis=1), tf.cast(i, v.dtype))
            for v, i in zip(values, identity)
        ]
        return offset * 2, tuple(combine(shifted, values))

    _, values = tf.while_loop(
        lambda offset, _: offset < length, body, (tf.constant(1), tuple(elems))
    )
    return values


def _associative_scan(combine, elems, identity):
    if elems[0].shape[1] is not None:
        if backend.backend() == "tensorflow":
            return _scan_static(combine, elems)
        return ops.associative_scan(combine, elems, axis=1)
    if backend.backend() == "tensorflow":
        return _scan_dynamic_tf(combine, elems, identity)
    return ops.associative_scan(combine, elems, axis=1)


def _prefix(combine, elems, identity, method):
    if method == "chunked" and elems[0].shape[1] is not None:
        return _scan_chunked(combine, elems, identity, _CHUNK)
    return _associative_scan(combine, elems, identity)


def _scan_unrolled(combine, elems, axis):
    """The inclusive scan one position at a time along ``axis`` (a static
    length), each step on every other axis at once."""
    # unstack, not a slice per step: a slice's gradient is a whole zero tensor.
    columns = [ops.unstack(e, axis=axis) for e in elems]
    acc = [c[0] for c in columns]
    out = [[x] for x in acc]
    for i in range(1, len(columns[0])):
        acc = combine(acc, [c[i] for c in columns])
        for o, x in zip(out, acc):
            o.append(x)
    return [ops.stack(o, axis=axis) for o in out]


def _scan_chunked(combine, elems, identity, chunk: int):
    """The inclusive scan along axis 1 (a static length) in chunks: every chunk
    scanned at once, one position at a time; the chunks' totals scanned the same
    way, recursively; each chunk then composed with the total before it.

    ``O(T)`` work in about ``2 * chunk`` whole-tensor steps: on a CPU the
    associative scan's ``log2(T)`` levels of strided copies cost more than they
    save (see :func:`run_scan`'s ``method``).
    """
    length = elems[0].shape[1]
    if length <= chunk:
        return _scan_unrolled(combine, elems, axis=1)
    blocks = -(-length // chunk)
    pad = blocks * chunk - length
    units = elems[0].shape[-1]
    if pad:
        # Identity pairs at the end change no earlier prefix.
        elems = [
            ops.concatenate([e, ops.zeros_like(e[:, :pad]) + i], axis=1)
            for e, i in zip(elems, identity)
        ]
    batch = ops.shape(elems[0])[0]
    local = _scan_unrolled(
        combine, [ops.reshape(e, (batch, blocks, chunk, units)) for e in elems], axis=2
    )
    totals = _scan_chunked(combine, [x[:, :, -1] for x in local], identity, chunk)
    before = [
        ops.expand_dims(
            ops.concatenate([ops.zeros_like(t[:, :1]) + i, t[:, :-1]], axis=1), 2
        )
        for t, i in zip(totals, identity)
    ]
    out = combine(before, local)
    return [ops.reshape(o, (batch, blocks * chunk, units))[:, :length] for o in out]


def run_scan(
    a,
    b,
    initial_state,
    mask=None,
    go_backwards: bool = False,
    return_sequences: bool = True,
    zero_output_for_mask: bool = False,
    log_space: bool = False,
    method: str = "chunked",
):
    """Runs ``h_t = a_t * h_{t-1} + b_t`` over the time axis; the output is ``h_t``.

    Args:
        a: ``(batch, timesteps, units)``, the decay of each step; its log
            when ``log_space``.
        b: ``(batch, timesteps, units)``, what each step adds; its log
            when ``log_space`` (then every ``b_t > 0``).
        initial_state: ``(batch, units)``, ``h_0``, any sign.
        mask: optional boolean ``(batch, timesteps)``; a masked step keeps
            the state, and its output follows the reference loop's rules.
        go_backwards: process the sequence from the last step to the first;
            the returned sequence is then in processing (reversed) order.
        return_sequences: whether to also return every step's output.
        zero_output_for_mask: output zeros at masked steps instead of
            repeating the previous output.
        log_space: ``a`` and ``b`` are logarithms (see the module docstring).
        method: ``"chunked"``, ``"parallel"`` (the associative scan) or
            ``"sequential"`` (the reference loop, one step at a time); see
            the module docstring.

    Returns:
        ``(last_output, outputs, [final_state])`` as
        :func:`rnn_zoo.kernels.reference.run_reference` returns them;
        ``outputs`` is ``(batch, timesteps, units)`` or ``None``.
    """
    if method not in METHODS:
        raise ValueError(
            f"Unknown `method`: expected one of {list(METHODS)!r}. "
            f"Received: method={method!r}"
        )
    if method == "sequential" or (
        method == "compiled" and backend.backend() != "tensorflow"
    ):
        return _run_sequential(
            a,
            b,
            initial_state,
            mask,
            go_backwards,
            return_sequences,
            zero_output_for_mask,
            log_space,
        )
    dtype = backend.standardize_dtype(b.dtype)
    if dtype in ("float16", "bfloat16"):
        # The products of many decays and, in log space, logaddexp lose too
        # many digits in half precision.
        a, b, h0 = (ops.cast(t, "float32") for t in (a, b, initial_state))
    else:
        h0 = ops.cast(initial_state, dtype)
    if go_backwards:
        a, b = ops.flip(a, axis=1), ops.flip(b, axis=1)
        if mask is not None:
            mask = ops.flip(mask, axis=1)
    if mask is not None:
        m = ops.expand_dims(mask, -1)
        keep, nothing = (0.0, _LOG_ZERO) if log_space else (1.0, 0.0)
        a = ops.where(m, a, ops.cast(keep, a.dtype))
        b = ops.where(m, b, ops.cast(nothing, b.dtype))
    if method == "compiled" and backend.backend() == "tensorflow":
        from rnn_zoo.kernels.elementwise_tf import linear_recurrence

        if log_space:
            a, b = ops.exp(a), ops.exp(b)
        time_major = [ops.transpose(v, (1, 0, 2)) for v in (a, b)]
        h = ops.transpose(linear_recurrence(*time_major, h0), (1, 0, 2))
    elif log_space:
        log_decay, log_added = _associative_scan(_combine_log, (a, b), (0.0, _LOG_ZERO))
        h = ops.exp(log_decay) * ops.expand_dims(h0, 1) + ops.exp(log_added)
    else:
        decay, added = _prefix(_combine, (a, b), (1.0, 0.0), method)
        h = decay * ops.expand_dims(h0, 1) + added  # (batch, timesteps, units)
    final_state = h[:, -1]
    outputs = h
    if mask is not None:
        m = ops.expand_dims(mask, -1)
        if zero_output_for_mask:
            valid = m
        else:
            # The state after the last valid step is that step's output.
            valid = ops.cumsum(ops.cast(m, "int32"), axis=1) > 0
        outputs = ops.where(valid, h, ops.zeros_like(h))
    outputs = ops.cast(outputs, dtype)
    final_state = ops.cast(final_state, dtype)
    last_output = outputs[:, -1]
    return last_output, (outputs if return_sequences else None), [final_state]


def _run_sequential(
    a,
    b,
    initial_state,
    mask,
    go_backwards,
    return_sequences,
    zero_output_for_mask,
    log_space,
):
    if log_space:
        a, b = ops.exp(a), ops.exp(b)
    units = a.shape[-1]

    def step(ab_t, states):
        h = ab_t[:, :units] * states[0] + ab_t[:, units:]
        return h, [h]

    return run_reference(
        step,
        ops.concatenate([a, b], axis=-1),
        [initial_state],
        mask=mask,
        go_backwards=go_backwards,
        return_sequences=return_sequences,
        zero_output_for_mask=zero_output_for_mask,
    )


# --- the families' coefficients, and the kernel -----------------------------


def g(x):
    """minGRU's ``g``: positive and continuous, ``x + 0.5`` for ``x >= 0``, ``sigmoid(x)`` below."""
    return ops.where(x >= 0, x + 0.5, ops.sigmoid(x))


def log_g(x):
    """``log(g(x))`` without forming ``g``: ``-softplus(-x)`` is ``log(sigmoid(x))``."""
    return ops.where(x >= 0, ops.log(ops.relu(x) + 0.5), -ops.softplus(-x))


def sqrt_bounded_grad(x, max_gradient: float = 1000.0):
    """``sqrt(x)`` whose derivative is capped at ``max_gradient``.

    As recurrentgemma's ``sqrt_bound_derivative``: the RG-LRU's
    ``sqrt(1 - a_t^2)`` has an unbounded derivative as ``a_t -> 1``, which
    becomes NaN in low precision. ``stop_gradient`` makes it on every backend.
    """
    slope = 0.5 / ops.sqrt(ops.maximum(x, 1.0 / (4.0 * max_gradient**2)))
    return ops.stop_gradient(ops.sqrt(x)) + (x - ops.stop_gradient(x)) * (
        ops.stop_gradient(slope)
    )


def _dense(x, kernel, bias=None):
    """``x @ kernel + bias`` for ``(batch, time, features)`` as one 2-D product
    (a broadcast batched product is several times slower on CPU)."""
    flat = ops.matmul(ops.reshape(x, (-1, x.shape[-1])), kernel)
    y = ops.reshape(flat, (*ops.shape(x)[:2], kernel.shape[-1]))
    return y if bias is None else y + bias


def min_rnn_coefficients(
    family: str, projected, log_space: bool, candidate_g: bool | None = None
):
    """``(a, b)`` of minGRU or minLSTM from ``x W + b`` (their logs when ``log_space``).

    ``candidate_g`` (default: ``log_space``) puts the candidate through ``g``,
    as the log-space variant does; ``log_space=False, candidate_g=True`` is
    that variant's math without the logarithms, for a loop.
    """
    candidate_g = log_space if candidate_g is None else candidate_g
    if family == "mingru":
        k_z, k_h = ops.split(projected, 2, axis=-1)
        if log_space:
            # log(1 - z) = -softplus(k_z), log z = -softplus(-k_z).
            return -ops.softplus(k_z), -ops.softplus(-k_z) + log_g(k_h)
        h_tilde = g(k_h) if candidate_g else k_h
        return ops.sigmoid(-k_z), ops.sigmoid(k_z) * h_tilde
    k_f, k_i, k_h = ops.split(projected, 3, axis=-1)
    if log_space:
        # log f' = log f - log(f + i) = -softplus(log i - log f).
        diff = ops.softplus(-k_f) - ops.softplus(-k_i)
        return -ops.softplus(diff), -ops.softplus(-diff) + log_g(k_h)
    f, i = ops.sigmoid(k_f), ops.sigmoid(k_i)
    h_tilde = g(k_h) if candidate_g else k_h
    return f / (f + i), i / (f + i) * h_tilde


def rglru_decay(u, k_a, k_x, a_param, c: float):
    """The RG-LRU's ``(log a_t, b_t)`` from its input ``u`` and gate pre-activations."""
    log_a = -c * ops.sigmoid(k_a) * ops.softplus(a_param)
    multiplier = sqrt_bounded_grad(-ops.expm1(2.0 * log_a))
    return log_a, multiplier * ops.sigmoid(k_x) * u


def check(spec) -> None:
    """Refuses a family this kernel does not know."""
    if spec.family not in FAMILIES:
        raise KernelUnavailable(f"the scan does not run the {spec.family} family")


def run(spec, sequences, initial_state, weights, mask, *, training):
    """The kernel-table entry: the family's coefficients, then :func:`run_scan`."""
    check(spec)
    method = method_for(spec.device)
    if method == "compiled" and backend.backend() == "tensorflow":
        from rnn_zoo.kernels import elementwise_tf

        # The gates computed inside the loop, their gradients after its
        # backward loop: no (batch, time, units) a and b in memory.
        return elementwise_tf.run(
            spec, sequences, initial_state, weights, mask, training=training
        )
    bias = weights.get("bias")
    if spec.family == "rglru":
        units = spec.units
        u = sequences
        if spec.param("input_projection", True):
            u = _dense(
                sequences, weights["kernel"], None if bias is None else bias[:units]
            )
        gates = _dense(
            u, weights["gate_kernel"], None if bias is None else bias[-2 * units :]
        )
        k_a, k_x = ops.split(gates, 2, axis=-1)
        log_a, b = rglru_decay(u, k_a, k_x, weights["a_param"], spec.param("c", 8.0))
        a, log_space = ops.exp(log_a), False
    else:
        candidate_g = spec.param("variant", "log") == "log"
        # A loop needs no logarithms: they keep the parallel forms stable.
        log_space = candidate_g and method not in ("sequential", "compiled")
        projected = _dense(sequences, weights["kernel"], bias)
        a, b = min_rnn_coefficients(spec.family, projected, log_space, candidate_g)
    return run_scan(
        a,
        b,
        initial_state[0],
        mask=mask,
        go_backwards=spec.go_backwards,
        return_sequences=spec.return_sequences,
        zero_output_for_mask=spec.zero_output_for_mask,
        log_space=log_space,
        method=method,
    )


def method_for(device: str) -> str:
    """How :func:`run` scans on ``device``.

    On a CPU a loop over time is the fastest form: a MinGRU-sized recurrence
    (T = 1,000, batch 64, 256 units, forward and backward, CPU seconds on a
    loaded 2-core machine) took 0.53 s looped, 1.0 s chunked and 2.6 s by
    associative scan on TensorFlow, and 0.58, 1.1 and 0.97 s on JAX: every
    parallel form moves the whole sequence through memory several times,
    which a loop over cache-sized steps does not. TensorFlow's graph loop
    (``"sequential"``) still paid an op dispatch per elementwise op per step:
    a whole MinGRU training step took 0.91 s with it and 0.93 s with the
    cell's reference loop, against 0.30-0.36 s with the XLA-compiled loop
    (``"compiled"``, the gates inside the loop) in the same runs. On JAX
    ``lax.scan`` is compiled already (``"sequential"``). On an accelerator,
    where one step costs a kernel launch, the associative scan's
    ``O(log T)`` depth should win (not measured: no GPU here).
    """
    if device != "CPU":
        return "parallel"
    return "compiled" if backend.backend() == "tensorflow" else "sequential"
