"""The linear-chain CRF: exact against brute force, masks, gradients, training, saving."""

import itertools

import keras
import numpy as np
import pytest
from keras import ops

from rnn_zoo.layers import CRF, CRFModel
from rnn_zoo.layers.crf import crf_decode, crf_log_likelihood
from rnn_zoo.saving import load_model
from tests.layers._grads import cotangent, finite_differences, value_and_grads

K = 3  # tags
T = 4  # steps
BACKEND = keras.backend.backend()

# Rows of a (2, T) mask: each pattern pads one row and leaves the other whole.
MASKS = {
    "none": None,
    "right": [[1, 1, 1, 0], [1, 1, 1, 1]],
    "left": [[0, 0, 1, 1], [1, 1, 1, 1]],
    "hole": [[1, 0, 1, 1], [1, 1, 0, 0]],
}


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(2, T, K)),
        rng.normal(size=(K, K)),
        rng.normal(size=K),
        rng.normal(size=K),
    )


def _brute_scores(unary, transitions, start, end) -> dict:
    """Every tag sequence of ``unary`` (the unpadded steps) and its score."""
    scores = {}
    for tags in itertools.product(range(K), repeat=len(unary)):
        score = start[tags[0]] + end[tags[-1]]
        score += sum(unary[t, tag] for t, tag in enumerate(tags))
        score += sum(transitions[a, b] for a, b in zip(tags, tags[1:]))
        scores[tags] = score
    return scores


def _brute_log_likelihood(potentials, tags, mask, transitions, start, end):
    out = []
    for row, row_tags, row_mask in zip(potentials, tags, mask):
        real = row_mask.astype(bool)
        if not real.any():
            out.append(0.0)
            continue
        scores = _brute_scores(row[real], transitions, start, end)
        log_z = np.log(np.sum(np.exp(list(scores.values()))))
        out.append(scores[tuple(row_tags[real])] - log_z)
    return np.array(out)


def _full(mask):
    return np.ones((2, T), bool) if mask is None else np.array(mask, bool)


@pytest.mark.parametrize("pattern", list(MASKS))
def test_log_likelihood_and_partition_equal_brute_force(pattern):
    potentials, transitions, start, end = _problem()
    mask = _full(MASKS[pattern])
    # Every tag sequence of both rows at once: their probabilities must match
    # brute force one by one (so log Z does too) and sum to 1 per row.
    every = np.array(list(itertools.product(range(K), repeat=T)))  # (81, T)
    n = len(every)
    rows = np.repeat(potentials, n, axis=0)  # row 0 n times, then row 1
    tags = np.concatenate([every, every])
    masks = np.repeat(mask, n, axis=0)
    got = ops.convert_to_numpy(
        crf_log_likelihood(
            rows,
            tags,
            None if MASKS[pattern] is None else masks,
            transitions,
            start,
            end,
        )
    )
    expected = _brute_log_likelihood(rows, tags, masks, transitions, start, end)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    for row in range(2):
        # Sequences that differ only at masked steps are one sequence.
        total = np.exp(got[row * n : (row + 1) * n]).sum()
        np.testing.assert_allclose(total, K ** (T - mask[row].sum()), rtol=1e-6)


@pytest.mark.parametrize("pattern", list(MASKS))
def test_viterbi_equals_brute_force(pattern):
    potentials, transitions, start, end = _problem(1)
    mask = _full(MASKS[pattern])
    tags, score = crf_decode(potentials, MASKS[pattern], transitions, start, end)
    tags, score = ops.convert_to_numpy(tags), ops.convert_to_numpy(score)
    for row in range(2):
        real = mask[row]
        scores = _brute_scores(potentials[row][real], transitions, start, end)
        best = max(scores, key=scores.get)
        assert tags[row][real].tolist() == list(best)
        assert (tags[row][~real] == 0).all()  # padding decodes to tag 0
        np.testing.assert_allclose(score[row], scores[best], atol=1e-5)


def test_a_padded_row_scores_as_the_unpadded_row():
    potentials, transitions, start, end = _problem(2)
    rng = np.random.default_rng(3)
    short = potentials[:1, :2]
    tags = rng.integers(0, K, size=(1, 2))
    # The same two real steps, right-, left- and hole-padded to T steps; the
    # padding holds junk potentials and tags.
    places = ([0, 1], [2, 3], [0, 3])
    padded = rng.normal(size=(3, T, K))
    padded_tags = rng.integers(0, K, size=(3, T))
    mask = np.zeros((3, T), bool)
    for row, where in enumerate(places):
        padded[row, where], padded_tags[row, where] = short[0], tags[0]
        mask[row, where] = True
    args = (transitions, start, end)
    np.testing.assert_allclose(
        ops.convert_to_numpy(crf_log_likelihood(padded, padded_tags, mask, *args)),
        np.repeat(
            ops.convert_to_numpy(crf_log_likelihood(short, tags, None, *args)), 3
        ),
        atol=1e-6,
    )
    # (Decoding under the same patterns: test_viterbi_equals_brute_force.)


def test_an_all_masked_row_has_likelihood_zero_and_decodes_to_zeros():
    potentials, transitions, start, end = _problem(4)
    mask = np.array([[0, 0, 0, 0], [1, 1, 0, 1]], bool)
    tags = np.full((2, T), 2)
    ll = ops.convert_to_numpy(
        crf_log_likelihood(potentials, tags, mask, transitions, start, end)
    )
    decoded, score = crf_decode(potentials, mask, transitions, start, end)
    assert ll[0] == 0.0 and ll[1] < 0.0
    assert ops.convert_to_numpy(decoded)[0].tolist() == [0, 0, 0, 0]
    assert ops.convert_to_numpy(score)[0] == 0.0


class _LogLikelihood(CRF):
    """The CRF's log-likelihood of fixed tags as a layer call, to differentiate."""

    def __init__(self, tags, mask, **kwargs):
        super().__init__(K, **kwargs)
        self.tags, self.mask = tags, mask

    def call(self, potentials):
        return self.log_likelihood(potentials, self.tags, self.mask)


def test_gradients_equal_finite_differences():
    potentials, transitions, start, end = _problem(5)
    tags = np.random.default_rng(6).integers(0, K, size=(2, T))
    mask = _full(MASKS["hole"])
    layer = _LogLikelihood(tags, mask, dtype="float64", name="log_likelihood")
    layer.build((2, T, K))
    layer.set_weights([transitions, start, end])
    _, (input_grad,), weight_grads = value_and_grads(
        layer, lambda call, x: call(x), [potentials], compiled=True
    )
    # The cotangent value_and_grads weights the (batch,) output with.
    weights = cotangent(0, (2,))

    def loss():
        ll = _brute_log_likelihood(potentials, tags, mask, transitions, start, end)
        return float(np.sum(ll * weights))

    expected = finite_differences(loss, [potentials, transitions, start, end], 1e-6)
    # (float32 on JAX without x64; the differences themselves are float64.)
    for got, want in zip([input_grad, *weight_grads], expected):
        np.testing.assert_allclose(got, want, atol=1e-5)


# --- in a model ---------------------------------------------------------------


def _copy_task(n=96, seed=0):
    """Tokens 1 and 2 are tagged 1 and 2; token 3 repeats the previous tag.

    The tag of a 3 is not in its token: a model that tags each token alone
    tops out at the best tag per token (:func:`_per_token_ceiling`); the
    transitions learn "stay".
    """
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 4, size=(n, 6))
    x[:, 0] = rng.integers(1, 3, size=n)
    y = np.zeros_like(x)
    for t in range(6):
        y[:, t] = np.where(x[:, t] == 3, y[:, t - 1], x[:, t])
    lengths = rng.integers(3, 7, size=n)
    pad = np.arange(6)[None] >= lengths[:, None]
    x[pad], y[pad] = 0, 0
    return x, y, ~pad


def _per_token_ceiling(x, y, real) -> float:
    """The accuracy of the best tag for each token, chosen knowing the answers."""
    right = 0
    for token in np.unique(x[real]):
        right += np.bincount(y[real][x[real] == token]).max()
    return right / real.sum()


def _token_crf_model():
    # No recurrence: only the CRF's transitions can carry a tag forwards.
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(4, 8, mask_zero=True)(inputs)
    outputs = CRF(K, name="crf")(keras.layers.Dense(K)(x))
    return CRFModel(inputs, outputs)


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    x, y, real = _copy_task()
    model = _token_crf_model()
    model.compile(optimizer=keras.optimizers.Adam(0.1), metrics=["accuracy"])
    history = model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    return model, history


def test_fit_learns_transitions_that_a_per_token_model_cannot(trained):
    model, history = trained
    x, y, real = _copy_task(64, seed=1)
    tags = model.predict(x, verbose=0)
    assert tags.shape == x.shape and (tags[~real] == 0).all()
    accuracy = (tags[real] == y[real]).mean()
    # (A first-order CRF over per-token scores cannot tell 1 3 2 -> 1 1 2
    # from 2 3 1 -> 2 1 1 apart, so not 1.0.)
    assert accuracy > 0.93
    assert accuracy > _per_token_ceiling(x, y, real) + 0.05
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    # Compiled metrics score the potentials' per-step argmax.
    assert 0.5 < history.history["accuracy"][-1] < accuracy


def test_the_model_mask_skips_padding_anywhere(trained):
    model, _ = trained
    short = np.array([[1, 3, 3, 1, 3]])
    holes = np.array([[0, 1, 3, 0, 3, 1, 0, 3]])
    want = model.predict(short, verbose=0)[0]
    got = model.predict(holes, verbose=0)[0]
    assert got[holes[0] != 0].tolist() == want.tolist()
    assert want.tolist() == [1, 1, 1, 1, 1]
    assert (got[holes[0] == 0] == 0).all()


def test_keras_round_trip_keeps_training_and_decoding(trained, tmp_path):
    model, _ = trained
    path = str(tmp_path / "crf.keras")
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, CRFModel)
    assert loaded.crf.get_config() == model.crf.get_config()
    x, y, _ = _copy_task(8, seed=2)
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )
    np.testing.assert_allclose(
        loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-5
    )


@pytest.mark.tensorflow_only
@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.function and SavedModel")
def test_viterbi_traces_with_unknown_length_and_runs_in_the_saved_model(
    trained, tmp_path
):
    import tensorflow as tf

    model, _ = trained
    crf = CRF(K)
    crf.build((None, None, K))
    potentials, transitions, start, end = _problem(7)
    crf.set_weights([transitions, start, end])
    decode = tf.function(
        lambda p, m: crf.decode(p, m),
        input_signature=[
            tf.TensorSpec((None, None, K), tf.float32),
            tf.TensorSpec((None, None), tf.bool),
        ],
    )
    mask = _full(MASKS["hole"])
    graph_tags, graph_score = decode(potentials.astype("float32"), mask)
    tags, score = crf_decode(potentials, mask, transitions, start, end)
    np.testing.assert_array_equal(graph_tags.numpy(), ops.convert_to_numpy(tags))
    np.testing.assert_allclose(graph_score.numpy(), score, atol=1e-5)

    model.export(str(tmp_path / "saved"))
    reloaded = tf.saved_model.load(str(tmp_path / "saved"))
    x = np.array([[1, 3, 0, 2, 3, 3], [2, 0, 0, 0, 0, 0]], "int32")
    out = reloaded.serve(tf.constant(x))
    np.testing.assert_array_equal(out["tags"].numpy(), model.predict(x, verbose=0))
    _, want_score = model.viterbi(model(x))
    np.testing.assert_allclose(out["score"].numpy(), want_score, atol=1e-5)


# --- bad input ----------------------------------------------------------------


def test_potentials_of_the_wrong_width_are_refused():
    with pytest.raises(
        ValueError, match=r"num_tags=3 .*Received: potentials with shape \(2, 4, 5\)"
    ):
        CRF(3)(np.zeros((2, 4, 5), "float32"))
    inputs = keras.Input((None, 4))
    with pytest.raises(ValueError, match=r"num_tags=3 .*\(None, None, 4\), 4 scores"):
        CRF(3)(inputs)


def test_tags_outside_the_vocabulary_are_refused():
    crf = CRF(3)
    potentials = np.zeros((1, 3, 3), "float32")
    with pytest.raises(ValueError, match=r"\[0, 3\) \(num_tags=3\).*tags from 0 to 5"):
        crf.log_likelihood(potentials, np.array([[0, 5, 1]]))
    with pytest.raises(ValueError, match=r"tags from -1 to 1"):
        crf.log_likelihood(potentials, np.array([[-1, 1, 1]]))


def test_fit_refuses_tags_outside_the_vocabulary():
    # Inside the compiled step: a graph Assert (TensorFlow), a host check
    # (JAX, whose runtime error carries the message), a plain check (torch).
    model = _token_crf_model()
    model.compile(optimizer="adam")
    x = np.array([[1, 2, 3, 0]])
    with pytest.raises(Exception) as error:
        model.fit(x, np.array([[1, 2, 3, 0]]), verbose=0)
    message = str(error.value)
    assert "`tags` must be tag ids in [0, 3) (num_tags=3)" in message, message[-2000:]
    assert "tags from" in message


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r"num_tags.*at least 2.*num_tags=1"):
        CRF(1)
    model = _token_crf_model()
    with pytest.raises(ValueError, match=r"without `loss`.*loss='mse'"):
        model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=r"`mask` must have shape \(batch, time\)"):
        crf_decode(
            np.zeros((1, 2, 3)),
            np.ones((1, 2, 1)),
            np.zeros((3, 3)),
            np.zeros(3),
            np.zeros(3),
        )


def test_tags_and_masks_of_the_wrong_shape_are_refused():
    crf = CRF(3)
    potentials = np.zeros((2, 4, 3), "float32")
    with pytest.raises(
        ValueError, match=r"`tags` must .*\(2, 4\)\. Received: tags with shape \(2, 3\)"
    ):
        crf.log_likelihood(potentials, np.zeros((2, 3), "int32"))
    with pytest.raises(ValueError, match=r"Received: mask with shape \(2, 4, 1\)"):
        crf.decode(potentials, np.ones((2, 4, 1)))
