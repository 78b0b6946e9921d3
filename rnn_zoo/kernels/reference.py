"""The reference time loop, written in plain ``keras.ops`` so any backend runs it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from keras import ops

from rnn_zoo.kernels.loop import scan


def run_reference(
    step: Callable,
    inputs,
    initial_states: Sequence,
    mask=None,
    go_backwards: bool = False,
    return_sequences: bool = True,
    initial_output=None,
    zero_output_for_mask: bool = False,
    unroll: bool = False,
    timespans=None,
):
    """Runs ``step`` over the time axis of ``inputs``.

    Args:
        step: ``step(x_t, states) -> (output_t, new_states)``, one timestep.
            ``x_t`` is ``inputs[:, t]`` (usually already projected by the
            cell's input kernel).
        inputs: ``(batch, timesteps, features)``.
        initial_states: list of ``(batch, units)`` tensors.
        mask: optional boolean ``(batch, timesteps)``. At a masked step the
            states are carried over unchanged and the output repeats the
            previous step's output (zeros before the first valid step), as
            ``keras.layers.RNN`` does.
        go_backwards: process the sequence from the last step to the first.
            The returned sequence is then in processing (reversed) order.
        return_sequences: whether to also return every step's output.
        initial_output: the "previous output" before the first step, which a
            masked leading step repeats; defaults to zeros shaped like
            ``initial_states[0]`` (right for cells whose output is their first
            state).
        zero_output_for_mask: output zeros at masked steps instead of
            repeating the previous output.
        unroll: run the steps as a Python loop (one copy of ``step`` per
            timestep in the graph) instead of a scan; needs a known number of
            timesteps. States and outputs may have more than one feature axis.

    Returns:
        ``(last_output, outputs, final_states)``; ``outputs`` is
        ``(batch, timesteps, units)`` or ``None``.
    """
    xs = ops.transpose(inputs, (1, 0, 2))  # (T, B, F): scan runs over axis 0
    # What the scan reads per step: the inputs, then the timespans and the
    # mask where given.
    per_step = [xs]
    timed, masked = timespans is not None, mask is not None
    if timed:
        per_step.append(ops.transpose(timespans, (1, 0, 2)))  # (T, B, 1)
    if masked:
        per_step.append(ops.expand_dims(ops.transpose(mask, (1, 0)), -1))  # (T, B, 1)
    if go_backwards:
        per_step = [ops.flip(x, axis=0) for x in per_step]

    initial_states = list(initial_states)
    if initial_output is None:
        initial_output = ops.zeros_like(initial_states[0])

    def run_step(x, states):
        x_t = x[0]
        out, new_states = step(x_t, states, x[1]) if timed else step(x_t, states)
        # The carry keeps its dtype: off TensorFlow, Keras's type promotion can
        # return float32 from float64 ops, which a scan's carry refuses.
        out = ops.cast(out, initial_output.dtype)
        return out, [ops.cast(n, s.dtype) for n, s in zip(new_states, states)]

    def body(carry, x):
        x = tuple(x) if isinstance(x, (tuple, list)) else (x,)
        prev_out, states = carry[0], list(carry[1:])
        out, new_states = run_step(x, states)
        if masked:
            m_t = x[-1]
            out = ops.where(
                _like(m_t, out),
                out,
                ops.zeros_like(out) if zero_output_for_mask else prev_out,
            )
            new_states = [
                ops.where(_like(m_t, s), n, s) for n, s in zip(new_states, states)
            ]
        return (out, *new_states), out

    scan_xs = tuple(per_step) if len(per_step) > 1 else per_step[0]

    init = (initial_output, *initial_states)
    if unroll:
        final, stacked = _unrolled(body, init, scan_xs)
    else:
        final, stacked = scan(body, init, scan_xs, ys_like=initial_output)
    last_output, final_states = final[0], list(final[1:])
    if return_sequences:
        outputs = ops.moveaxis(stacked, 0, 1)
    else:
        outputs = None
    return last_output, outputs, final_states


def _like(mask_t, tensor):
    """The ``(batch, 1)`` step mask shaped to broadcast against ``tensor``."""
    for _ in range(len(tensor.shape) - len(mask_t.shape)):
        mask_t = ops.expand_dims(mask_t, -1)
    return mask_t


def _unrolled(body, init, xs):
    """``scan(body, init, xs)`` as a Python loop over the static leading axis."""
    first = xs[0] if isinstance(xs, tuple) else xs
    steps = first.shape[0]
    if steps is None:
        raise ValueError(
            "`unroll=True` needs a known number of timesteps: give the input a "
            "static time axis (keras.Input(shape=(timesteps, features))). "
            f"Received: sequences with {steps} timesteps"
        )
    carry, ys = init, []
    for t in range(steps):
        x_t = tuple(x[t] for x in xs) if isinstance(xs, tuple) else xs[t]
        carry, y = body(carry, x_t)
        ys.append(y)
    return carry, ops.stack(ys, axis=0)
