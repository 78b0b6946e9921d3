"""Beam search, greedy decoding and sampling: what a user of the decoders relies on.

Scores are checked against an independent recomputation: the model run
teacher-forced on the hypothesis, its log-softmax summed by hand.
"""

import math

import keras
import numpy as np
import pytest
from keras import ops

import rnn_zoo
from rnn_zoo.decoding import (
    beam_search,
    coverage_penalty,
    greedy_decode,
    length_penalty,
    sample_decode,
    sample_logits,
    step_decoder,
)
from rnn_zoo.decoding.beam import beam_search_states
from rnn_zoo.decoding.sampling import gumbel_noise

START, END, VOCAB, MAX_LENGTH = 1, 2, 9, 5
SOURCE = np.array(
    [[3, 4, 5, 0, 0], [6, 7, 0, 0, 0], [8, 9, 10, 11, 3], [5, 5, 6, 0, 0]], "int32"
)

CONFIGS = {
    "plain": dict(attention=None, bidirectional=False),
    "bahdanau": dict(attention="bahdanau", bidirectional=False),
    "luong": dict(attention="luong", bidirectional=False),
    "bidirectional": dict(attention=None, bidirectional=True),
    "two-layer": dict(attention="luong", bidirectional=True, num_layers=2, cell="gru"),
}


def seq2seq_model(config: str) -> keras.Model:
    """A tiny untrained seq2seq whose next-token distributions are far from
    uniform and depend on the source (an untrained model's are near uniform,
    which would make every ranking a near tie)."""
    keras.utils.set_random_seed(1)
    model = rnn_zoo.build_seq2seq(
        12, VOCAB, units=6, embedding_dim=5, **CONFIGS[config]
    )
    rng = np.random.default_rng(0)
    for name in ("source_embedding", "target_embedding"):
        embeddings = model.get_layer(name).embeddings
        embeddings.assign(rng.normal(size=embeddings.shape).astype("float32"))
    kernel = model.get_layer("logits").kernel
    kernel.assign(2.0 * rng.normal(size=kernel.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def models():
    return {name: seq2seq_model(name) for name in CONFIGS}


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def hypothesis_lengths(ids):
    """Tokens up to and including the end id (all of them when there is none)."""
    ends = ids == END
    return np.where(ends.any(-1), ends.argmax(-1) + 1, ids.shape[-1])


def teacher_forced_log_probs(model, source, ids):
    """``(rows, length)`` log P of each token of ``ids`` given the ones before,
    from one teacher-forced call; padding and the start id are never picked."""
    target_ids = np.concatenate(
        [np.full((len(ids), 1), START, "int32"), ids[:, :-1]], axis=1
    )
    logits = to_numpy(model({"source_ids": source, "target_ids": target_ids}))
    logits = logits.astype("float64")
    logits[..., [0, START]] = -1e9
    top = logits.max(-1, keepdims=True)
    log_probs = logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))
    return np.take_along_axis(log_probs, ids[..., None], -1)[..., 0]


def recomputed_scores(model, source, ids, alpha):
    """``log P(Y|X) / ((5 + |Y|) / 6) ** alpha`` for ``(batch, beam, length)`` ids."""
    batch, beam, length = ids.shape
    flat = ids.reshape(batch * beam, length)
    picked = teacher_forced_log_probs(model, np.repeat(source, beam, axis=0), flat)
    lengths = hypothesis_lengths(flat)
    valid = np.arange(length)[None, :] < lengths[:, None]
    log_prob = np.where(valid, picked, 0.0).sum(-1)
    return (log_prob / ((5.0 + lengths) / 6.0) ** alpha).reshape(batch, beam)


def assert_well_formed(ids):
    """Ids are real tokens up to the end id and padding after it."""
    flat = ids.reshape(-1, ids.shape[-1])
    lengths = hypothesis_lengths(flat)
    for row, n in zip(flat, lengths):
        assert np.all(row[: n - 1] >= 3), row  # no padding, start or end inside
        assert np.all(row[n:] == 0), row


# --- beam_width=1 is greedy ----------------------------------------------------------


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_beam_width_1_is_greedy_decoding(models, config):
    model = models[config]
    greedy = to_numpy(
        greedy_decode(model, SOURCE, max_length=MAX_LENGTH, start_id=START, end_id=END)
    )
    ids, scores = beam_search(
        model, SOURCE, beam_width=1, max_length=MAX_LENGTH, start_id=START, end_id=END
    )
    ids, scores = to_numpy(ids), to_numpy(scores)
    assert ids.shape == (4, 1, MAX_LENGTH) and scores.shape == (4, 1)
    np.testing.assert_array_equal(ids[:, 0], greedy)
    # greedy's own score: the log-probability of its ids, teacher-forced
    np.testing.assert_allclose(
        scores[:, 0],
        recomputed_scores(model, SOURCE, greedy[:, None], 0.0)[:, 0],
        rtol=1e-5,
        atol=1e-5,
    )


# --- scores ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config, alpha",
    [
        ("plain", 0.0),
        ("bahdanau", 0.6),
        ("luong", 0.0),
        ("bidirectional", 1.0),
        ("two-layer", 2.0),
    ],
)
def test_beam_scores_are_ordered_and_equal_a_teacher_forced_recomputation(
    models, config, alpha
):
    model = models[config]
    ids, scores = beam_search(
        model,
        SOURCE,
        beam_width=3,
        max_length=MAX_LENGTH,
        start_id=START,
        end_id=END,
        length_penalty=alpha,
    )
    ids, scores = to_numpy(ids), to_numpy(scores)
    assert ids.shape == (4, 3, MAX_LENGTH) and ids.dtype == np.int32
    assert scores.shape == (4, 3) and scores.dtype == np.float32
    assert np.all(np.diff(scores, axis=1) <= 0), scores
    assert_well_formed(ids)
    for row in ids:  # the hypotheses of one source differ
        assert len({tuple(h) for h in row}) == 3
    np.testing.assert_allclose(
        scores, recomputed_scores(model, SOURCE, ids, alpha), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("config", ["bahdanau", "two-layer"])
def test_beam_search_of_a_source_does_not_depend_on_its_padding_or_batch(
    models, config
):
    model = models[config]
    kwargs = dict(beam_width=3, max_length=MAX_LENGTH, start_id=START, end_id=END)
    ids, scores = beam_search(model, SOURCE, length_penalty=0.6, **kwargs)
    alone_ids, alone_scores = beam_search(
        model, SOURCE[1:2, :2], length_penalty=0.6, **kwargs
    )
    np.testing.assert_array_equal(to_numpy(alone_ids)[0], to_numpy(ids)[1])
    np.testing.assert_allclose(
        to_numpy(alone_scores)[0], to_numpy(scores)[1], atol=1e-5
    )


@pytest.mark.parametrize("config", ["bahdanau", "two-layer"])
def test_coverage_penalty_scores_equal_a_recomputation(models, config):
    model = models[config]
    alpha, beta, length, beam = 0.5, 0.4, 3, 3
    # Sources longer than the hypotheses, so that some source steps are not
    # fully covered and the penalty is in play.
    source = np.array([[3, 4, 5, 6, 7, 8, 9, 10], [4, 4, 5, 5, 11, 0, 0, 0]], "int32")
    ids, scores = beam_search(
        model,
        source,
        beam_width=beam,
        max_length=length,
        start_id=START,
        end_id=END,
        length_penalty=alpha,
        coverage_penalty=beta,
    )
    ids, scores = to_numpy(ids), to_numpy(scores)
    assert np.all(np.diff(scores, axis=1) <= 0), scores
    flat = ids.reshape(-1, length)
    repeated = np.repeat(source, beam, axis=0)
    # The attention each source step received while the hypothesis's tokens
    # were picked: step t reads token t - 1 (the start id first).
    steps = step_decoder(model)
    states = steps.initial_states(repeated)
    target_ids = np.concatenate([np.full((len(flat), 1), START), flat[:, :-1]], 1)
    lengths = hypothesis_lengths(flat)
    coverage = np.zeros(repeated.shape)
    for t in range(length):
        _, states = steps.step(target_ids[:, t], states)
        alignments = to_numpy(steps.alignments(states))
        coverage += np.where((t < lengths)[:, None], alignments, 0.0)
    covered = np.log(np.where(repeated != 0, np.minimum(coverage, 1.0), 1.0))
    penalty = beta * covered.sum(-1)
    assert np.all(penalty < -0.01)
    expected = recomputed_scores(model, source, ids, alpha) + penalty.reshape(2, beam)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)


# --- the length penalty, on a decoder whose probabilities are known ------------------


class TableSteps:
    """A step decoder whose next-token logits depend only on the previous token."""

    encoder = None  # beam search decodes encoder-decoders
    num_constants = 0
    attention = False

    def __init__(self, table):
        self.table = ops.convert_to_tensor(np.array(table, "float32"))
        self.vocab_size = self.table.shape[-1]

    def initial_states(self, source_ids):
        return [ops.zeros((ops.shape(source_ids)[0], 1))]

    def step(self, tokens, states):
        return ops.take(self.table, ops.cast(tokens, "int32"), axis=0), states


# Ids: 0 padding, 1 start, 2 end, 3 "a". Ids 0 and 1 are never picked, so the
# probabilities over {end, a} are exact: after the start P(end) = 0.55,
# P(a) = 0.45; after "a" P(end) = 0.95, P(a) = 0.05.
TABLE = [
    [0.0, 0.0, 0.0, 0.0],
    [0.0, 0.0, math.log(0.55), math.log(0.45)],
    [0.0, 0.0, 0.0, 0.0],
    [0.0, 0.0, math.log(0.95), math.log(0.05)],
]
SHORT = math.log(0.55)  # "end": length 1
LONG = math.log(0.45) + math.log(0.95)  # "a end": length 2


@pytest.mark.parametrize(
    "alpha, expected_ids, expected_scores",
    [
        # log P alone: the short hypothesis wins.
        (0.0, [[2, 0, 0], [3, 2, 0]], [SHORT, LONG]),
        # lp(1) = 1, lp(2) = (7 / 6) ** 3 = 1.588: LONG / 1.588 = -0.535 > -0.598.
        (3.0, [[3, 2, 0], [2, 0, 0]], [LONG / (7 / 6) ** 3, SHORT]),
    ],
)
def test_length_penalty_reranks_as_the_formula_says(
    alpha, expected_ids, expected_scores
):
    steps = TableSteps(TABLE)
    source = np.array([[5, 6]], "int32")
    ids, scores = beam_search_states(
        steps,
        steps.initial_states(source),
        1,
        beam_width=2,
        max_length=3,
        start_id=START,
        end_id=END,
        alpha=alpha,
    )
    np.testing.assert_array_equal(to_numpy(ids)[0], expected_ids)
    np.testing.assert_allclose(to_numpy(scores)[0], expected_scores, atol=1e-6)


def test_length_penalty_and_coverage_penalty_functions():
    # ((5 + |Y|) / 6) ** alpha for |Y| = 1, 4, 7 and alpha = 0.6
    np.testing.assert_allclose(
        to_numpy(length_penalty(np.array([1, 4, 7]), 0.6)),
        [1.0, 1.5**0.6, 2.0**0.6],
        rtol=1e-6,
    )
    np.testing.assert_allclose(to_numpy(length_penalty(np.array([3, 9]), 0.0)), 1.0)
    # beta * sum over valid source steps of log(min(coverage, 1)), beta = 0.4:
    # row 0: log 0.5 + log 1 (step 2 is padding) = -0.6931472;
    # row 1: log 1 + log 0.25 + log 1 = -1.3862944.
    coverage = np.array([[0.5, 1.2, 0.3], [1.0, 0.25, 2.0]], "float32")
    mask = np.array([[True, True, False], [True, True, True]])
    np.testing.assert_allclose(
        to_numpy(coverage_penalty(coverage, mask, 0.4)),
        [0.4 * -0.6931472, 0.4 * -1.3862944],
        rtol=1e-6,
    )


def test_coverage_penalty_needs_attention(models):
    with pytest.raises(ValueError, match="coverage_penalty"):
        beam_search(
            models["plain"],
            SOURCE,
            beam_width=2,
            max_length=4,
            start_id=START,
            end_id=END,
            coverage_penalty=0.2,
        )


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(beam_width=0), ValueError, "beam_width"),
        (dict(beam_width=-1), ValueError, "beam_width"),
        (dict(beam_width=1.5), TypeError, "beam_width"),
        (dict(beam_width=True), TypeError, "beam_width"),
        (dict(length_penalty=-1), ValueError, "length_penalty"),
        (dict(length_penalty=float("nan")), ValueError, "length_penalty"),
        (dict(coverage_penalty=-0.5), ValueError, "coverage_penalty"),
        (dict(max_length=0), ValueError, "max_length"),
        (dict(start_id=-1), ValueError, "start_id"),
        (dict(end_id=None), ValueError, "end_id"),
        (dict(start_id=0), ValueError, r"start_id.*padding id 0.*start_id=0"),
        (dict(end_id=0), ValueError, r"end_id.*padding id 0.*end_id=0"),
        (dict(end_id=VOCAB), ValueError, rf"end_id.*\[1, {VOCAB}\).*end_id={VOCAB}"),
        (dict(start_id=VOCAB + 3), ValueError, rf"start_id.*\[1, {VOCAB}\)"),
        (dict(end_id=START), ValueError, r"different.*start_id=1, end_id=1"),
        (dict(source_ids=np.array([3, 4, 5])), ValueError, "source_ids"),
    ],
)
def test_beam_search_rejects_bad_arguments(models, kwargs, error, match):
    kwargs = {
        "source_ids": SOURCE,
        "beam_width": 2,
        "max_length": 4,
        "start_id": START,
        "end_id": END,
        **kwargs,
    }
    with pytest.raises(error, match=match):
        beam_search(models["bahdanau"], **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(max_length=0), "max_length"),
        (dict(source_ids=np.array([3, 4, 5])), "source_ids"),
        (dict(end_id=-2), "end_id"),
        (dict(start_id=0), r"start_id.*padding id 0"),
        (dict(end_id=VOCAB), rf"end_id.*\[1, {VOCAB}\)"),
        (dict(start_id=END), "different"),
    ],
)
def test_greedy_decode_rejects_bad_arguments(models, kwargs, match):
    kwargs = {
        "source_ids": SOURCE,
        "max_length": 4,
        "start_id": START,
        "end_id": END,
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        greedy_decode(models["bahdanau"], **kwargs)


@pytest.mark.tensorflow_only
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.function")
def test_greedy_and_beam_search_in_a_tf_function_equal_eager(models):
    import tensorflow as tf

    model = models["luong"]
    kwargs = dict(max_length=MAX_LENGTH, start_id=START, end_id=END)

    def decode(source_ids):
        greedy = greedy_decode(model, source_ids, **kwargs)
        ids, scores = beam_search(
            model,
            source_ids,
            beam_width=3,
            length_penalty=0.6,
            coverage_penalty=0.2,
            **kwargs,
        )
        return greedy, ids, scores

    traced = tf.function(
        decode, input_signature=[tf.TensorSpec((None, None), tf.int32)]
    )
    greedy, ids, scores = traced(tf.constant(SOURCE))
    eager_greedy, eager_ids, eager_scores = decode(SOURCE)
    np.testing.assert_array_equal(greedy.numpy(), to_numpy(eager_greedy))
    np.testing.assert_array_equal(ids.numpy(), to_numpy(eager_ids))
    np.testing.assert_allclose(scores.numpy(), to_numpy(eager_scores), atol=1e-6)


# --- sampling --------------------------------------------------------------------------

PROBABILITIES = np.array([0.05, 0.5, 0.3, 0.1, 0.05])


def draws(logits, count, seed, **kwargs):
    """``count`` samples from one row of logits, in one vectorized call."""
    logits = np.tile(np.asarray(logits, "float32")[None, :], (count, 1))
    noise = gumbel_noise(logits.shape, seed=seed)
    return to_numpy(sample_logits(logits, noise=noise, **kwargs))


@pytest.mark.parametrize(
    "kwargs", [dict(top_k=1), dict(top_p=1e-6), dict(top_k=1, top_p=0.9)]
)
def test_top_k_1_and_a_tiny_top_p_are_argmax(kwargs):
    logits = np.random.default_rng(3).normal(size=(500, 9)).astype("float32") * 2
    noise = gumbel_noise(logits.shape, seed=4)
    picked = to_numpy(sample_logits(logits, noise=noise, temperature=1.5, **kwargs))
    np.testing.assert_array_equal(picked, logits.argmax(-1))


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_top_p_1_samples_the_softmax(temperature):
    logits = np.log(PROBABILITIES)
    picked = draws(logits, 20000, 5, temperature=temperature, top_p=1.0)
    expected = np.exp(logits / temperature) / np.exp(logits / temperature).sum()
    np.testing.assert_allclose(
        np.bincount(picked, minlength=5) / 20000, expected, atol=0.02
    )


def test_top_p_keeps_the_smallest_set_of_tokens_reaching_it():
    # Sorted: 0.5 (id 1), 0.3 (id 2), 0.1, ...: 0.5 < 0.7 <= 0.8, so ids 1
    # and 2 are kept, renormalized to 0.625 and 0.375.
    picked = draws(np.log(PROBABILITIES), 20000, 6, top_p=0.7)
    assert set(np.unique(picked)) == {1, 2}
    np.testing.assert_allclose(np.mean(picked == 1), 0.625, atol=0.02)


def test_sample_decode_is_reproducible_with_a_seed(models):
    model = models["luong"]
    kwargs = dict(max_length=MAX_LENGTH, start_id=START, end_id=END, temperature=5.0)
    first = to_numpy(sample_decode(model, SOURCE, seed=3, **kwargs))
    assert first.shape == (4, MAX_LENGTH)
    assert_well_formed(first)
    np.testing.assert_array_equal(
        first, to_numpy(sample_decode(model, SOURCE, seed=3, **kwargs))
    )
    assert not np.array_equal(
        first, to_numpy(sample_decode(model, SOURCE, seed=4, **kwargs))
    )


def test_sample_decode_at_temperature_0_is_greedy(models):
    model = models["two-layer"]
    kwargs = dict(max_length=MAX_LENGTH, start_id=START, end_id=END)
    np.testing.assert_array_equal(
        to_numpy(sample_decode(model, SOURCE, temperature=0, seed=1, **kwargs)),
        to_numpy(greedy_decode(model, SOURCE, **kwargs)),
    )


@pytest.mark.parametrize(
    "top_p, error",
    [(0, ValueError), (1.5, ValueError), (-0.1, ValueError), ("x", TypeError)],
)
def test_sample_decode_rejects_a_bad_top_p(models, top_p, error):
    with pytest.raises(error, match="top_p"):
        sample_decode(
            models["plain"],
            SOURCE,
            max_length=4,
            start_id=START,
            end_id=END,
            top_p=top_p,
        )
