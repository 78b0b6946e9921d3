"""Attention: each mechanism's formula, masking, pooling, the attention decoder.

The mechanisms are checked twice: on small examples whose numbers are written
out below (worked by hand from the formulas in the class docstrings), and
against NumPy implementations of the same formulas on random inputs.
"""

import os
import tempfile

import keras
import numpy as np
import pytest
from keras import ops

import rnn_zoo
from rnn_zoo.layers import (
    AttentionDecoder,
    AttentionDecoderCell,
    AttentionPooling,
    BahdanauAttention,
    GRUCell,
    LSTMCell,
    LuongAttention,
    SimpleRNNCell,
)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def to_numpy(x):
    return ops.convert_to_numpy(x)


def rng(seed=0):
    return np.random.default_rng(seed)


def normal(shape, seed=0, scale=1.0):
    return (scale * rng(seed).standard_normal(shape)).astype("float32")


# --- NumPy references -----------------------------------------------------------


def np_masked_softmax(scores, mask=None):
    """Softmax over the last axis; masked entries 0, an all-masked row all 0."""
    if mask is None:
        mask = np.ones(scores.shape, bool)
    mask = np.broadcast_to(mask, scores.shape)
    shifted = scores - np.max(np.where(mask, scores, -np.inf), -1, keepdims=True)
    exps = np.where(mask, np.exp(np.where(mask, shifted, 0.0)), 0.0)
    total = exps.sum(-1, keepdims=True)
    return np.divide(exps, total, out=np.zeros_like(exps), where=total > 0)


def layer_weights(layer):
    return {w.name: to_numpy(w).astype("float64") for w in layer.weights}


def np_attention(layer, query, memory, mask=None):
    """(context, weights) of ``layer``'s formula, in float64 NumPy."""
    w = layer_weights(layer)
    query, memory = np.float64(query), np.float64(memory)
    q = query if query.ndim == 3 else query[:, None, :]  # (b, q_time, q_dim)
    additive = isinstance(layer, BahdanauAttention) or layer.score_mode == "concat"
    if additive:
        # v . tanh(W_q q + W_m m_j [+ b])
        total = (q @ w["query_kernel"])[:, :, None, :] + (memory @ w["memory_kernel"])[
            :, None, :, :
        ]
        v = w["v"]
        if isinstance(layer, BahdanauAttention) and layer.normalize:
            v = w["g"] * v / np.linalg.norm(v)
            total = total + w["b"]
        scores = np.tanh(total) @ v
    elif layer.score_mode == "dot":
        scores = np.einsum("bqd,bkd->bqk", q, memory)
    else:  # general: q . W m_j
        scores = np.einsum("bqd,bkd->bqk", q, memory @ w["memory_kernel"])
    if isinstance(layer, LuongAttention) and layer.scale:
        scores = scores * w["g"]
    weights = np_masked_softmax(scores, None if mask is None else mask[:, None, :])
    context = weights @ memory
    if query.ndim == 2:
        return context[:, 0], weights[:, 0]
    return context, weights


def np_pooling(layer, sequences, mask=None):
    w = layer_weights(layer)
    scores = np.tanh(np.float64(sequences) @ w["kernel"] + w["bias"]) @ w["v"]
    weights = np_masked_softmax(scores, mask)
    return np.einsum("bt,btd->bd", weights, sequences), weights


# --- the mechanisms ---------------------------------------------------------------

# name -> factory(units); "units" is the additive mechanisms' hidden size.
MECHANISMS = {
    "bahdanau": lambda units: BahdanauAttention(units),
    "bahdanau-normalize": lambda units: BahdanauAttention(units, normalize=True),
    "luong-dot": lambda units: LuongAttention("dot"),
    "luong-dot-scale": lambda units: LuongAttention("dot", scale=True),
    "luong-general": lambda units: LuongAttention("general"),
    "luong-general-scale": lambda units: LuongAttention("general", scale=True),
    "luong-concat": lambda units: LuongAttention("concat", units=units),
    "luong-concat-scale": lambda units: LuongAttention(
        "concat", scale=True, units=units
    ),
}

# The hand examples: batch 1, memory m_1 = [1, 0], m_2 = [0, 1], m_3 = [1, 1]
# and two queries q_a = [1, 0], q_b = [-1, 2]. With weights w the context is
# w_1 m_1 + w_2 m_2 + w_3 m_3 = [w_1 + w_3, w_2 + w_3].
HAND_MEMORY = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]], "float32")
HAND_QUERIES = np.array([[1.0, 0.0], [-1.0, 2.0]], "float32")
IDENTITY = [[1.0, 0.0], [0.0, 1.0]]
SWAP = [[0.0, 1.0], [1.0, 0.0]]
# The additive examples use W_q = I and W_m = SWAP, so W_q q + W_m m_j is
# q_a: [1, 1], [2, 0], [2, 1] and q_b: [-1, 3], [0, 2], [0, 3].
HAND = {
    # scores q_a: [1, 0, 1]; q_b: [-1, 2, 1]
    "luong-dot": (
        {},
        [[0.4223188, 0.1553624, 0.4223188], [0.03511903, 0.70538451, 0.25949646]],
        [[0.8446376, 0.5776812], [0.29461549, 0.96488097]],
    ),
    # g = 2: scores q_a: [2, 0, 2]; q_b: [-2, 4, 2]
    "luong-dot-scale": (
        {"g": 2.0},
        [[0.46831053, 0.06337894, 0.46831053], [0.00217852, 0.87887824, 0.11894324]],
        [[0.93662106, 0.53168947], [0.12112176, 0.99782148]],
    ),
    # W = [[1, 0], [1, 1]]: W m_j = [1, 0], [1, 1], [2, 1];
    # scores q_a: [1, 1, 2]; q_b: [-1, 1, 0]
    "luong-general": (
        {"memory_kernel": [[1.0, 0.0], [1.0, 1.0]]},
        [[0.21194156, 0.21194156, 0.57611688], [0.09003057, 0.66524096, 0.24472847]],
        [[0.78805844, 0.78805844], [0.33475904, 0.90996943]],
    ),
    # the same, times g = 0.5
    "luong-general-scale": (
        {"memory_kernel": [[1.0, 0.0], [1.0, 1.0]], "g": 0.5},
        [[0.27406862, 0.27406862, 0.45186276], [0.18632372, 0.50648039, 0.30719589]],
        [[0.72593138, 0.72593138], [0.49351961, 0.81367628]],
    ),
    # v = [1, -1]: scores q_a: [tanh 1 - tanh 1, tanh 2 - tanh 0, tanh 2 - tanh 1]
    #   = [0, 0.96402758, 0.20243342];
    # q_b: [tanh -1 - tanh 3, tanh 0 - tanh 2, tanh 0 - tanh 3]
    "luong-concat": (
        {"query_kernel": IDENTITY, "memory_kernel": SWAP, "v": [1.0, -1.0]},
        [[0.20632957, 0.54104493, 0.2526255], [0.18688558, 0.41286386, 0.40025055]],
        [[0.45895507, 0.79367043], [0.58713614, 0.81311442]],
    ),
    # the same, times g = 2
    "luong-concat-scale": (
        {"query_kernel": IDENTITY, "memory_kernel": SWAP, "v": [1.0, -1.0], "g": 2.0},
        [[0.10666408, 0.73343548, 0.15990043], [0.09553561, 0.46625918, 0.43820521]],
        [[0.26656452, 0.89333592], [0.53374082, 0.90446439]],
    ),
    # v = [2, 1]: scores q_a: [2 tanh 1 + tanh 1, 2 tanh 2, 2 tanh 2 + tanh 1]
    #   = [2.28478247, 1.92805516, 2.68964932];
    # q_b: [2 tanh -1 + tanh 3, tanh 2, tanh 3]
    "bahdanau": (
        {"query_kernel": IDENTITY, "memory_kernel": SWAP, "v": [2.0, 1.0]},
        [[0.31259122, 0.21880239, 0.46860639], [0.09966591, 0.4431839, 0.45715019]],
        [[0.78119761, 0.68740878], [0.5568161, 0.90033409]],
    ),
    # v = [3, 4], g = 0.5: g v / ||v|| = [0.3, 0.4]; b = [0.5, -0.5]:
    # score = 0.3 tanh(x_1 + 0.5) + 0.4 tanh(x_2 - 0.5), x = W_q q + W_m m_j;
    # q_a: [0.45639134, 0.11113743, 0.48083115]
    "bahdanau-normalize": (
        {
            "query_kernel": IDENTITY,
            "memory_kernel": SWAP,
            "v": [3.0, 4.0],
            "g": 0.5,
            "b": [0.5, -0.5],
        },
        [[0.36592754, 0.25909154, 0.37498092], [0.27802951, 0.35510416, 0.36686633]],
        [[0.74090846, 0.63407246], [0.64489584, 0.72197049]],
    ),
}


def built_mechanism(name, query_shape, memory_shape, units=2):
    layer = MECHANISMS[name](units)
    layer.build(query_shape, memory_shape)
    return layer


@pytest.mark.parametrize("query_rank", [2, 3])
@pytest.mark.parametrize("name", sorted(HAND))
def test_mechanism_matches_the_hand_computed_example(name, query_rank):
    assignments, weights_ab, context_ab = HAND[name]
    layer = built_mechanism(name, (None, 2), (None, 3, 2))
    by_name = {w.name: w for w in layer.weights}
    assert set(assignments) <= set(by_name)
    for weight_name, value in assignments.items():
        by_name[weight_name].assign(np.array(value, "float32"))
    if query_rank == 2:  # q_a alone
        query, expected_w, expected_c = HAND_QUERIES[:1], weights_ab[:1], context_ab[:1]
    else:  # (1, query_time 2, 2): q_a then q_b
        query, expected_w, expected_c = HAND_QUERIES[None], [weights_ab], [context_ab]
    context, weights = layer(query, HAND_MEMORY, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(weights), expected_w, atol=1e-5)
    np.testing.assert_allclose(to_numpy(context), expected_c, atol=1e-5)


def randomize(layer, seed=1):
    """Every weight (g and b included, which start at constants) drawn at random."""
    for i, w in enumerate(layer.weights):
        w.assign(normal(w.shape, seed + i, scale=0.7))


@pytest.mark.parametrize("query_rank", [2, 3])
@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_mechanism_matches_the_numpy_reference(name, query_rank):
    # batch 3, memory_time 5, memory dim 6, query dim 4 ("dot": 6 too)
    query_dim = 6 if "dot" in name else 4
    query_shape = (3, query_dim) if query_rank == 2 else (3, 2, query_dim)
    query, memory = normal(query_shape, 2), normal((3, 5, 6), 3)
    layer = built_mechanism(name, query_shape, memory.shape, units=3)
    randomize(layer)
    context, weights = layer(query, memory, return_attention_scores=True)
    expected_context, expected_weights = np_attention(layer, query, memory)
    assert tuple(context.shape) == query_shape[:-1] + (6,)
    assert tuple(weights.shape) == query_shape[:-1] + (5,)
    np.testing.assert_allclose(to_numpy(weights), expected_weights, atol=1e-5)
    np.testing.assert_allclose(to_numpy(context), expected_context, atol=1e-5)


# --- masking ----------------------------------------------------------------------

# Row 0: two valid steps; row 1: all valid; row 2: all padding.
MEMORY_MASK = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], bool)


@pytest.mark.parametrize("query_rank", [2, 3])
@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_masked_memory_steps_get_exactly_zero_weight(name, query_rank):
    query_dim = 6 if "dot" in name else 4
    query_shape = (3, query_dim) if query_rank == 2 else (3, 2, query_dim)
    query, memory = normal(query_shape, 4), normal((3, 5, 6), 5)
    layer = built_mechanism(name, query_shape, memory.shape, units=3)
    randomize(layer)
    context, weights = layer(
        query, memory, memory_mask=MEMORY_MASK, return_attention_scores=True
    )
    context, weights = to_numpy(context), to_numpy(weights)
    mask = MEMORY_MASK if query_rank == 2 else MEMORY_MASK[:, None, :]
    mask = np.broadcast_to(mask, weights.shape)
    assert np.all(weights[~mask] == 0.0)
    np.testing.assert_allclose(weights[:2].sum(-1), 1.0, atol=1e-6)
    # The all-padding row: zero weights, zero context, no NaN.
    assert np.all(np.isfinite(context)) and np.all(np.isfinite(weights))
    assert np.all(weights[2] == 0.0) and np.all(context[2] == 0.0)
    expected_context, expected_weights = np_attention(layer, query, memory, MEMORY_MASK)
    np.testing.assert_allclose(weights, expected_weights, atol=1e-5)
    np.testing.assert_allclose(context, expected_context, atol=1e-5)
    # What lies at padded steps is never read.
    garbage = np.where(MEMORY_MASK[:, :, None], memory, 1e4).astype("float32")
    context_g, weights_g = layer(
        query, garbage, memory_mask=MEMORY_MASK, return_attention_scores=True
    )
    np.testing.assert_allclose(to_numpy(weights_g), weights, atol=1e-6)
    np.testing.assert_allclose(to_numpy(context_g), context, atol=1e-6)


@pytest.mark.parametrize("query_rank", [2, 3])
@pytest.mark.parametrize("name", ["bahdanau", "luong-general", "luong-dot"])
def test_memory_mask_comes_from_the_keras_mask(name, query_rank):
    query_dim = 6 if "dot" in name else 4
    query_shape = (3, query_dim) if query_rank == 2 else (3, 2, query_dim)
    ids = np.array([[3, 4, 0, 0, 0], [5, 6, 7, 8, 9], [0, 0, 0, 0, 0]], "int32")
    embedding = keras.layers.Embedding(10, 6, mask_zero=True)
    layer = MECHANISMS[name](3)
    query_in = keras.Input(query_shape[1:])
    ids_in = keras.Input((None,), dtype="int32")
    outputs = layer(query_in, embedding(ids_in), return_attention_scores=True)
    model = keras.Model([query_in, ids_in], outputs)
    query = normal(query_shape, 6)
    context, weights = model([query, ids])
    expected_context, expected_weights = layer(
        query, embedding(ids), memory_mask=ids != 0, return_attention_scores=True
    )
    mask = np.broadcast_to(
        (ids != 0) if query_rank == 2 else (ids != 0)[:, None, :], weights.shape
    )
    assert np.all(to_numpy(weights)[~mask] == 0.0)
    np.testing.assert_array_equal(to_numpy(weights), to_numpy(expected_weights))
    np.testing.assert_array_equal(to_numpy(context), to_numpy(expected_context))


# --- AttentionPooling -------------------------------------------------------------


@pytest.mark.parametrize("units", [None, 6])
def test_attention_pooling_matches_the_numpy_reference(units):
    sequences = normal((4, 5, 4), 7)
    # The last row is all padding.
    mask = np.array(
        [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], bool
    )
    layer = AttentionPooling(units)
    layer.build(sequences.shape)
    randomize(layer)
    assert tuple(layer.kernel.shape) == (4, units or 4)
    pooled, weights = layer(sequences, mask=mask, return_attention_scores=True)
    expected_pooled, expected_weights = np_pooling(layer, sequences, mask)
    np.testing.assert_allclose(to_numpy(weights), expected_weights, atol=1e-5)
    np.testing.assert_allclose(to_numpy(pooled), expected_pooled, atol=1e-5)
    assert np.all(to_numpy(weights)[~mask] == 0.0)
    np.testing.assert_allclose(to_numpy(weights)[:3].sum(-1), 1.0, atol=1e-6)
    assert np.all(to_numpy(pooled)[3] == 0.0)  # all padding: zeros, no NaN
    # Without a mask every step counts.
    pooled, weights = layer(sequences, return_attention_scores=True)
    expected_pooled, expected_weights = np_pooling(layer, sequences)
    np.testing.assert_allclose(to_numpy(weights), expected_weights, atol=1e-5)
    np.testing.assert_allclose(to_numpy(pooled), expected_pooled, atol=1e-5)


def test_attention_pooling_does_not_depend_on_padding():
    layer = AttentionPooling()
    alone = normal((1, 3, 4), 8)
    other = normal((1, 5, 4), 9)
    # The sequence padded to 5 steps with values that would dominate if read.
    padded = np.concatenate([alone, np.full((1, 2, 4), 50.0, "float32")], axis=1)
    batch = np.concatenate([padded, other])
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    pooled_alone, weights_alone = layer(alone, return_attention_scores=True)
    pooled, weights = layer(batch, mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(
        to_numpy(pooled)[0], to_numpy(pooled_alone)[0], atol=1e-6
    )
    np.testing.assert_allclose(
        to_numpy(weights)[0, :3], to_numpy(weights_alone)[0], atol=1e-6
    )
    assert np.all(to_numpy(weights)[0, 3:] == 0.0)


def test_classifier_returns_attention_weights_zero_on_padding():
    model = rnn_zoo.build_classifier(
        3,
        vocab_size=12,
        units=6,
        embedding_dim=4,
        attention=True,
        return_attention=True,
    )
    assert len(model.outputs) == 2
    ids = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10]], "int32")
    probs, weights = (to_numpy(x) for x in model(ids))
    assert probs.shape == (2, 3) and weights.shape == (2, 5)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-6)
    assert np.all(weights[0, 3:] == 0.0) and np.all(weights[0, :3] > 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    # The padded sequence is classified as the sequence alone.
    probs_alone, weights_alone = (to_numpy(x) for x in model(ids[:1, :3]))
    np.testing.assert_allclose(probs_alone[0], probs[0], atol=1e-6)
    np.testing.assert_allclose(weights_alone[0], weights[0, :3], atol=1e-6)


def test_classifier_return_attention_needs_attention():
    with pytest.raises(ValueError, match="return_attention"):
        rnn_zoo.build_classifier(3, vocab_size=12, units=4, return_attention=True)


# --- AttentionDecoderCell / AttentionDecoder --------------------------------------

CELLS = {"lstm": LSTMCell, "gru": GRUCell, "simple_rnn": SimpleRNNCell}
BATCH, TIME, FEATURES, MEMORY_TIME, MEMORY_DIM = 2, 4, 3, 5, 6
# Row 0 ends with padding; row 1 has a padded step in the middle.
INPUTS_MASK = np.array([[1, 1, 1, 0], [1, 0, 1, 0]], bool)
DECODER_MEMORY_MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)


def make_decoder_cell(cell, num_cells, mechanism):
    cell_class = CELLS[cell]
    cells = [cell_class(6, name="bottom"), cell_class(5, name="top")][:num_cells]
    attention = (
        BahdanauAttention(4) if mechanism == "bahdanau" else LuongAttention("general")
    )
    return AttentionDecoderCell(cells if num_cells > 1 else cells[0], attention)


DECODER_CASES = [
    # every cell, one and two of them, both mechanisms, with masks ...
    *[
        (cell, num_cells, mechanism, True)
        for cell in sorted(CELLS)
        for num_cells in (1, 2)
        for mechanism in ("bahdanau", "luong")
    ],
    # ... and without
    ("lstm", 2, "bahdanau", False),
    ("gru", 1, "luong", False),
    ("simple_rnn", 2, "luong", False),
]


@pytest.mark.parametrize("cell, num_cells, mechanism, masked", DECODER_CASES)
def test_attention_decoder_equals_the_cell_step_by_step(
    cell, num_cells, mechanism, masked
):
    decoder_cell = make_decoder_cell(cell, num_cells, mechanism)
    decoder = AttentionDecoder(decoder_cell, return_alignments=True, return_state=True)
    inputs = normal((BATCH, TIME, FEATURES), 10)
    memory = normal((BATCH, MEMORY_TIME, MEMORY_DIM), 11)
    # The cells' states (not zeros, so that they are read); the fed-back
    # attention starts at zeros.
    sizes = decoder_cell.state_size
    initial = [normal((BATCH, n), 20 + i, 0.5) for i, n in enumerate(sizes[:-1])]
    masks = (
        {"inputs_mask": INPUTS_MASK, "memory_mask": DECODER_MEMORY_MASK}
        if masked
        else {}
    )
    outputs, alignments, *final = decoder(
        inputs, memory, initial_state=initial, **masks
    )
    units = decoder_cell.attention_units
    assert units == (5 if num_cells == 2 else 6)  # the top cell's units
    assert tuple(outputs.shape) == (BATCH, TIME, units)
    assert tuple(alignments.shape) == (BATCH, TIME, MEMORY_TIME)
    assert [tuple(s.shape) for s in final] == [(BATCH, n) for n in sizes]

    memory_t = ops.convert_to_tensor(memory)
    keys = decoder_cell.attention.prepare(memory_t)
    memory_mask = ops.convert_to_tensor(DECODER_MEMORY_MASK) if masked else None
    states = [ops.convert_to_tensor(s) for s in initial] + [
        ops.zeros((BATCH, sizes[-1]))
    ]
    expected_outputs, expected_alignments = [], []
    for t in range(TIME):
        out, new_states, weights = decoder_cell.step(
            ops.convert_to_tensor(inputs[:, t]), states, memory_t, keys, memory_mask
        )
        if masked:  # padded step: states carry over, output and weights are 0
            valid = ops.convert_to_tensor(INPUTS_MASK[:, t : t + 1])
            new_states = [ops.where(valid, n, s) for n, s in zip(new_states, states)]
            out = ops.where(valid, out, 0.0)
            weights = ops.where(valid, weights, 0.0)
        states = new_states
        expected_outputs.append(to_numpy(out))
        expected_alignments.append(to_numpy(weights))
    outputs, alignments = to_numpy(outputs), to_numpy(alignments)
    np.testing.assert_allclose(outputs, np.stack(expected_outputs, 1), atol=1e-5)
    np.testing.assert_allclose(alignments, np.stack(expected_alignments, 1), atol=1e-5)
    for got, want in zip(final, states):
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), atol=1e-5)

    valid_steps = INPUTS_MASK if masked else np.ones((BATCH, TIME), bool)
    np.testing.assert_allclose(alignments[valid_steps].sum(-1), 1.0, atol=1e-6)
    if masked:
        assert np.all(outputs[~valid_steps] == 0.0)
        assert np.all(alignments[~valid_steps] == 0.0)
        padded_memory = np.broadcast_to(
            ~DECODER_MEMORY_MASK[:, None, :], alignments.shape
        )
        assert np.all(alignments[padded_memory] == 0.0)
        # Both rows end with a padded step: the final states are those after
        # step 2, as when the sequence stops there.
        _, _, *final_3 = decoder(
            inputs[:, :3],
            memory,
            initial_state=initial,
            inputs_mask=INPUTS_MASK[:, :3],
            memory_mask=DECODER_MEMORY_MASK,
        )
        for got, want in zip(final, final_3):
            np.testing.assert_allclose(to_numpy(got), to_numpy(want), atol=1e-6)


# --- serialization ----------------------------------------------------------------

SAVED_MECHANISMS = [
    "bahdanau-normalize",
    "luong-dot-scale",
    "luong-general",
    "luong-concat",
]


def decoder_model(mechanism):
    """Source ids -> memory; target ids -> AttentionDecoder -> AttentionPooling."""
    source = keras.Input((None,), dtype="int32", name="source")
    target = keras.Input((None,), dtype="int32", name="target")
    memory = keras.layers.Embedding(12, 6, mask_zero=True, name="memory")(source)
    inputs = keras.layers.Embedding(12, 3, mask_zero=True, name="inputs")(target)
    cell = AttentionDecoderCell(
        [GRUCell(4, name="c0"), LSTMCell(6, name="c1")],
        MECHANISMS[mechanism](5),
        name="cell",
    )
    decoder = AttentionDecoder(cell, return_alignments=True, name="decoder")
    outputs, alignments = decoder(inputs, memory)
    pooled = AttentionPooling(units=3, name="pooling")(outputs)
    return keras.Model([source, target], [outputs, alignments, pooled])


SOURCE_IDS = np.array([[3, 4, 5, 0], [6, 7, 8, 9]], "int32")
TARGET_IDS = np.array([[1, 2, 3], [1, 4, 0]], "int32")


@pytest.mark.parametrize("mechanism", SAVED_MECHANISMS)
def test_decoder_and_pooling_survive_config_and_keras_round_trips(mechanism):
    model = decoder_model(mechanism)
    outputs, alignments, pooled = (to_numpy(x) for x in model([SOURCE_IDS, TARGET_IDS]))
    assert outputs.shape == (2, 3, 6) and alignments.shape == (2, 3, 4)
    assert pooled.shape == (2, 6)
    # The Keras masks reached the decoder: padded source steps get no weight,
    # a padded target step outputs zeros.
    assert np.all(alignments[0, :, 3] == 0.0)
    assert np.all(outputs[1, 2] == 0.0) and np.all(alignments[1, 2] == 0.0)

    decoder = model.get_layer("decoder")
    config = decoder.get_config()
    clone = AttentionDecoder.from_config(config)
    assert (
        clone.get_config()["cell"]["config"]["attention"]
        == config["cell"]["config"]["attention"]
    )
    memory = model.get_layer("memory")(SOURCE_IDS)
    inputs = model.get_layer("inputs")(TARGET_IDS)
    clone.build(inputs.shape, memory.shape)
    clone.set_weights(decoder.get_weights())
    cloned = clone(
        inputs, memory, inputs_mask=TARGET_IDS != 0, memory_mask=SOURCE_IDS != 0
    )
    np.testing.assert_array_equal(to_numpy(cloned[0]), outputs)
    np.testing.assert_array_equal(to_numpy(cloned[1]), alignments)

    pooling = model.get_layer("pooling")
    # The decoder's output mask (the target's) reached the pooling.
    np.testing.assert_allclose(
        to_numpy(pooling(outputs, mask=TARGET_IDS != 0)), pooled, atol=1e-6
    )
    assert not np.allclose(to_numpy(pooling(outputs)), pooled, atol=1e-4)
    pooling_clone = AttentionPooling.from_config(pooling.get_config())
    assert pooling_clone.get_config() == pooling.get_config()

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "attention.keras")
        keras.saving.save_model(model, path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    reloaded = loaded([SOURCE_IDS, TARGET_IDS])
    for got, want in zip(reloaded, (outputs, alignments, pooled)):
        np.testing.assert_array_equal(to_numpy(got), want)
    mechanism_layer = loaded.get_layer("decoder").cell.attention
    assert type(mechanism_layer) is type(decoder.cell.attention)
    assert mechanism_layer.get_config() == decoder.cell.attention.get_config()


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_mechanism_config_round_trip(name):
    layer = MECHANISMS[name](5)
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


# --- gradients --------------------------------------------------------------------


@pytest.mark.parametrize("attention", ["bahdanau", "luong"])
def test_fit_step_trains_the_attention_weights(attention):
    model = rnn_zoo.build_seq2seq(
        12, 10, units=6, embedding_dim=4, bidirectional=False, attention=attention
    )
    # run_eagerly: the gradients are the same, and tracing the train step of
    # two while loops costs seconds this test does not need.
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=True,
    )
    mechanism = model.get_layer("decoder").cell.attention
    watched = [
        *mechanism.trainable_weights,
        *model.get_layer("decoder").cell.attention_layer.weights,
    ]
    assert "memory_kernel" in [w.name for w in watched]
    before = [to_numpy(w).copy() for w in watched]
    x = {"source_ids": SOURCE_IDS, "target_ids": np.array([[1, 5, 6], [1, 7, 0]])}
    y = np.array([[5, 6, 2], [7, 2, 0]])
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    unchanged = [
        w.path for w, b in zip(watched, before) if np.array_equal(to_numpy(w), b)
    ]
    assert not unchanged, f"not trained: {unchanged}"


# --- bad input --------------------------------------------------------------------


def test_luong_rejects_an_unknown_score_mode():
    with pytest.raises(ValueError, match="score_mode.*'bad'"):
        LuongAttention(score_mode="bad")


def test_luong_dot_needs_matching_sizes():
    layer = LuongAttention("dot")
    with pytest.raises(ValueError, match="score_mode='dot'.*query_dim=4, memory_dim=6"):
        layer(normal((2, 4)), normal((2, 5, 6)))


@pytest.mark.parametrize(
    "units, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError)]
)
def test_bahdanau_rejects_bad_units(units, error):
    with pytest.raises(error, match="units"):
        BahdanauAttention(units=units)


@pytest.mark.parametrize("name", ["bahdanau", "luong-general"])
def test_mechanism_rejects_memory_of_rank_2(name):
    with pytest.raises(ValueError, match=r"`memory` of rank 3.*memory\.shape=\(2, 6\)"):
        MECHANISMS[name](3)(normal((2, 4)), normal((2, 6)))


def test_mechanism_rejects_a_query_of_rank_4():
    with pytest.raises(ValueError, match="`query` of rank 2.*query.shape"):
        LuongAttention("general")(normal((2, 1, 1, 4)), normal((2, 5, 6)))


def test_mechanism_rejects_a_mask_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"memory_mask.*memory_mask\.shape=\(2, 4\)"):
        BahdanauAttention(3)(
            normal((2, 4)), normal((2, 5, 6)), memory_mask=np.ones((2, 4), bool)
        )


def test_decoder_rejects_an_inputs_mask_of_the_wrong_shape():
    decoder = AttentionDecoder(AttentionDecoderCell(GRUCell(4), LuongAttention()))
    with pytest.raises(ValueError, match=r"`mask`.*mask\.shape=\(2, 3\)"):
        decoder(normal((2, 4, 3)), normal((2, 5, 6)), inputs_mask=np.ones((2, 3), bool))


@pytest.mark.parametrize(
    "cells",
    [keras.layers.GRUCell(4), "gru", [], [GRUCell(4), keras.layers.Dense(3)]],
    ids=["keras_gru_cell", "string", "empty_list", "list_with_a_dense_layer"],
)
def test_decoder_cell_rejects_what_is_not_an_rnn_zoo_cell(cells):
    with pytest.raises(TypeError, match="`cells` must be an rnn_zoo RecurrentCell"):
        AttentionDecoderCell(cells, BahdanauAttention(4))


def test_decoder_cell_rejects_what_is_not_an_attention_mechanism():
    with pytest.raises(TypeError, match="`attention` must be an rnn_zoo attention"):
        AttentionDecoderCell(GRUCell(4), keras.layers.Attention())


def test_decoder_rejects_what_is_not_an_attention_decoder_cell():
    with pytest.raises(TypeError, match="`cell` must be an AttentionDecoderCell"):
        AttentionDecoder(GRUCell(4))


@pytest.mark.parametrize("count", [1, 4])
def test_decoder_rejects_a_wrong_number_of_initial_states(count):
    # LSTM: h and c, then the fed-back attention: 2 or 3 states.
    decoder = AttentionDecoder(AttentionDecoderCell(LSTMCell(4), BahdanauAttention(4)))
    states = [np.zeros((2, 4), "float32")] * count
    with pytest.raises(ValueError, match=rf"initial_state.*Received: {count} tensor"):
        decoder(normal((2, 3, 3)), normal((2, 5, 6)), initial_state=states)


def test_decoder_rejects_an_initial_state_of_the_wrong_size():
    decoder = AttentionDecoder(AttentionDecoderCell(GRUCell(4), BahdanauAttention(4)))
    with pytest.raises(ValueError, match=r"initial_state\[0\].*\(2, 7\)"):
        decoder(
            normal((2, 3, 3)),
            normal((2, 5, 6)),
            initial_state=[np.zeros((2, 7), "float32")],
        )


def test_seq2seq_rejects_an_unknown_attention():
    with pytest.raises(ValueError, match="attention.*'transformer'"):
        rnn_zoo.build_seq2seq(10, 12, units=4, attention="transformer")
