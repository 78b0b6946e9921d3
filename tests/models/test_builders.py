"""What users of each builder rely on: masks, shapes, step-wise = teacher-forced, decoding."""

import keras
import numpy as np
import pytest

import rnn_zoo
from rnn_zoo.decoding import step_decoder
from rnn_zoo.decoding.sampling import gumbel_noise, sample_logits


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


# --- tagger -----------------------------------------------------------------


def test_tagger_ignores_targets_at_padded_steps():
    model = rnn_zoo.build_tagger(3, vocab_size=10, units=8)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.array([[2, 3, 4, 0, 0], [5, 6, 0, 0, 0]])
    y = np.array([[1, 2, 1, 0, 0], [2, 2, 0, 0, 0]])
    other = y.copy()
    other[0, 3:], other[1, 2:] = 2, 1
    np.testing.assert_allclose(
        model.evaluate(x, y, verbose=0), model.evaluate(x, other, verbose=0)
    )


def test_tagger_tags_do_not_depend_on_padding():
    model = rnn_zoo.build_tagger(4, vocab_size=12, units=8, num_layers=2)
    short = np.array([[3, 4, 5]])
    padded = np.array([[3, 4, 5, 0, 0, 0]])
    np.testing.assert_allclose(
        model.predict(short, verbose=0),
        model.predict(padded, verbose=0)[:, :3],
        atol=1e-6,
    )


def test_crf_tagger_predicts_viterbi_tags_and_its_loss_is_the_crf_nll():
    keras.utils.set_random_seed(0)
    model = rnn_zoo.build_tagger(
        3, vocab_size=6, units=4, cell="gru", bidirectional=False, crf=True
    )
    assert isinstance(model, rnn_zoo.layers.CRFModel)
    assert model.output_shape == (None, None, 3)  # potentials
    x = np.array([[1, 2, 3, 0], [4, 5, 0, 0]])
    y = np.array([[1, 2, 1, 0], [2, 2, 0, 0]])
    tags = model.predict(x, verbose=0)
    assert tags.shape == (2, 4) and tags.dtype == np.int32
    assert tags[0, 3] == 0 and (tags[1, 2:] == 0).all()  # padding
    want, _ = model.get_layer("crf").decode(model(x), x != 0)
    np.testing.assert_array_equal(tags, keras.ops.convert_to_numpy(want))
    # The loss fit minimises: the mean negative log-likelihood, padding masked
    # by the embedding.
    nll = -model.get_layer("crf").log_likelihood(model(x), y, x != 0)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model.compute_loss(x, y, model(x))),
        np.mean(keras.ops.convert_to_numpy(nll)),
        rtol=1e-5,
    )
    assert model.predict(x[:0], verbose=0).shape == (0, 4)
    with pytest.raises(ValueError, match=r"without `loss`"):
        model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"tags. must be tag ids in \[0, 3\)"):
        model.compute_loss(x, np.array([[1, 3, 1, 0], [0, 0, 0, 0]]), model(x))


def test_classifier_mask_value_masks_float_padding():
    model = rnn_zoo.build_classifier(3, input_features=4, units=8, mask_value=0.0)
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    padded = np.concatenate([x, np.zeros((2, 2, 4), "float32")], axis=1)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), model.predict(padded, verbose=0), atol=1e-6
    )


def test_mask_value_is_refused_for_token_input():
    with pytest.raises(ValueError, match="mask_value"):
        rnn_zoo.build_tagger(3, vocab_size=10, mask_value=0.0)


# --- forecaster ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["direct", "autoregressive"])
def test_forecaster_output_shape(mode):
    model = rnn_zoo.build_forecaster(6, num_targets=2, window=10, mode=mode, units=8)
    out = model.predict(np.zeros((3, 10, 2), "float32"), verbose=0)
    assert out.shape == (3, 6, 2)


def test_autoregressive_forecast_feeds_back_its_predictions_and_covariates():
    model = rnn_zoo.build_forecaster(
        5, num_covariates=2, window=8, mode="autoregressive", units=8, num_layers=2
    )
    rng = np.random.default_rng(1)
    history = rng.normal(size=(3, 8, 3)).astype("float32")
    future = rng.normal(size=(3, 5, 2)).astype("float32")
    forecast = model.predict(
        {"history": history, "future_covariates": future}, verbose=0
    )
    rollout = model.get_layer("forecast")
    output, *states = rollout.stack(history)
    prediction = rollout.head(output)
    expected = [prediction]
    for t in range(1, 5):
        step_input = np.concatenate([prediction, future[:, t - 1]], axis=-1)
        output, states = rollout.stack.step(step_input, states)
        prediction = rollout.head(output)
        expected.append(prediction)
    np.testing.assert_allclose(forecast, np.stack(expected, axis=1), atol=1e-5)
    # Other covariates give another forecast: they are read.
    changed = model.predict(
        {"history": history, "future_covariates": future + 1}, verbose=0
    )
    assert not np.allclose(changed, forecast)


def test_autoregressive_forecaster_is_not_bidirectional():
    with pytest.raises(ValueError, match="bidirectional"):
        rnn_zoo.build_forecaster(4, mode="autoregressive", bidirectional=True)


def test_forecaster_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        rnn_zoo.build_forecaster(4, mode="recursive")


# --- generator -------------------------------------------------------------------


@pytest.mark.parametrize("conditioned", [False, True])
def test_generator_steps_give_the_teacher_forced_logits(conditioned):
    model = rnn_zoo.build_generator(
        15, num_conditions=3 if conditioned else None, units=8, num_layers=2
    )
    ids = np.array([[1, 4, 5, 6], [1, 7, 8, 0]], "int32")
    condition = np.array([0, 2], "int32")
    x = {"token_ids": ids, "condition": condition} if conditioned else ids
    logits = model.predict(x, verbose=0)
    steps = step_decoder(model)
    states = steps.initial_states(2, condition if conditioned else None)
    stepped = []
    for t in range(4):
        step_logits, states = steps.step(ids[:, t], states)
        stepped.append(step_logits)
    stepped = np.stack(stepped, axis=1)
    np.testing.assert_allclose(stepped[0], logits[0], atol=1e-5)
    np.testing.assert_allclose(stepped[1, :3], logits[1, :3], atol=1e-5)


def test_generate_is_reproducible_with_a_seed_and_ends_rows():
    model = rnn_zoo.build_generator(20, num_conditions=3, units=16)
    kwargs = dict(condition=[0, 1, 2] * 4, max_length=10, start_id=1, end_id=2, top_k=5)
    first = rnn_zoo.generate(model, seed=7, **kwargs)
    assert first.shape == (12, 10) and first.dtype == np.int32
    np.testing.assert_array_equal(first, rnn_zoo.generate(model, seed=7, **kwargs))
    assert not np.array_equal(first, rnn_zoo.generate(model, seed=8, **kwargs))
    for row in first:
        ended = np.flatnonzero(row == 2)
        body = row[: ended[0]] if len(ended) else row
        assert np.all(body >= 3), "padding or start ids generated"
        if len(ended):
            assert np.all(row[ended[0] + 1 :] == 0)


def test_temperature_zero_is_greedy_and_top_k_1_equals_it():
    model = rnn_zoo.build_generator(20, units=16)
    greedy = rnn_zoo.generate(
        model, num_samples=3, max_length=6, start_id=1, temperature=0
    )
    top1 = rnn_zoo.generate(
        model, num_samples=3, max_length=6, start_id=1, top_k=1, seed=3
    )
    np.testing.assert_array_equal(greedy, top1)
    assert np.all(greedy == greedy[0])  # no condition, no prompt: every row the same


def test_top_k_samples_only_the_k_most_probable_tokens():
    logits = np.log(np.array([[0.05, 0.4, 0.3, 0.2, 0.05]], "float32"))
    noise = gumbel_noise((2000, 1, 5), seed=0)
    picked = {
        int(sample_logits(logits, temperature=1.0, top_k=2, noise=noise[i])[0])
        for i in range(2000)
    }
    assert picked == {1, 2}


def test_sampling_follows_the_softmax():
    probabilities = np.array([[0.1, 0.6, 0.3]], "float32")
    noise = gumbel_noise((4000, 1, 3), seed=1)
    picked = [
        int(sample_logits(np.log(probabilities), noise=noise[i])[0])
        for i in range(4000)
    ]
    np.testing.assert_allclose(
        np.bincount(picked, minlength=3) / 4000, probabilities[0], atol=0.03
    )


def test_prompts_of_different_lengths_match_each_prompt_alone():
    model = rnn_zoo.build_generator(20, units=16)
    kwargs = dict(max_length=5, start_id=1, temperature=0)
    both = rnn_zoo.generate(model, prompt=[[3, 4, 5], [6]], **kwargs)
    np.testing.assert_array_equal(
        both[0], rnn_zoo.generate(model, prompt=[[3, 4, 5]], **kwargs)[0]
    )
    np.testing.assert_array_equal(
        both[1], rnn_zoo.generate(model, prompt=[[6]], **kwargs)[0]
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(num_samples=2, temperature=-1.0), ValueError, "temperature"),
        (dict(num_samples=2, top_k=0), ValueError, "top_k"),
        (dict(num_samples=2, seed="a"), TypeError, "seed"),
        (dict(prompt="abc"), TypeError, "prompt"),
        (dict(prompt=[[3, 99]]), ValueError, "prompt"),
        (dict(), ValueError, "num_samples"),
        (dict(num_samples=2, condition=[0, 1]), ValueError, "not conditioned"),
        (dict(num_samples=2, start_id=-1), ValueError, "start_id"),
        (dict(num_samples=2, start_id=0), ValueError, r"start_id.*padding id 0"),
        (dict(num_samples=2, start_id=20), ValueError, r"start_id.*\[1, 20\)"),
        (dict(num_samples=2, end_id=20), ValueError, r"end_id.*\[1, 20\)"),
        (dict(num_samples=2, end_id=1), ValueError, "different"),
    ],
)
def test_generate_rejects_bad_arguments(kwargs, error, match):
    model = rnn_zoo.build_generator(20, units=8)
    kwargs = {"max_length": 4, "start_id": 1, **kwargs}
    with pytest.raises(error, match=match):
        rnn_zoo.generate(model, **kwargs)


def test_conditioned_generate_checks_the_condition_ids():
    model = rnn_zoo.build_generator(20, num_conditions=3, units=8)
    with pytest.raises(ValueError, match=r"condition.*\[0, 3\)"):
        rnn_zoo.generate(model, condition=[0, 3], max_length=4, start_id=1)
    with pytest.raises(ValueError, match="conditioned"):
        rnn_zoo.generate(model, num_samples=2, max_length=4, start_id=1)


# --- seq2seq ------------------------------------------------------------------------


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_seq2seq_steps_give_the_teacher_forced_logits(cell, bidirectional):
    model = rnn_zoo.build_seq2seq(
        10, 12, cell=cell, units=8, num_layers=2, bidirectional=bidirectional
    )
    source = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32")
    target = np.array([[1, 4, 5, 6], [1, 7, 8, 0]], "int32")
    logits = model.predict({"source_ids": source, "target_ids": target}, verbose=0)
    steps = step_decoder(model)
    states = steps.initial_states(source)
    stepped = []
    for t in range(4):
        step_logits, states = steps.step(target[:, t], states)
        stepped.append(step_logits)
    stepped = np.stack(stepped, axis=1)
    np.testing.assert_allclose(stepped[0], logits[0], atol=1e-5)
    np.testing.assert_allclose(stepped[1, :3], logits[1, :3], atol=1e-5)


def test_greedy_decode_picks_the_argmax_of_each_step():
    model = rnn_zoo.build_seq2seq(10, 12, units=8)
    source = np.array([[3, 4, 5], [6, 7, 8]], "int32")
    decoded = np.asarray(
        rnn_zoo.greedy_decode(model, source, max_length=5, start_id=1, end_id=2)
    )
    # Teacher-force the decoded prefix: each token is the argmax (padding and
    # start excluded) of the logits after the tokens before it.
    target = np.concatenate([np.ones((2, 1), "int32"), decoded[:, :-1]], axis=1)
    logits = model.predict({"source_ids": source, "target_ids": target}, verbose=0)
    logits[..., :2] = -np.inf
    for row in range(2):
        for t in range(5):
            if t and decoded[row, t - 1] in (0, 2):
                assert decoded[row, t] == 0
            else:
                assert decoded[row, t] == np.argmax(logits[row, t])


def test_greedy_decode_traces_in_a_tf_function_and_survives_a_reload(tmp_path):
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.function")
    model = rnn_zoo.build_seq2seq(10, 12, units=8, num_layers=2)
    source = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32")
    eager = np.asarray(
        rnn_zoo.greedy_decode(model, source, max_length=6, start_id=1, end_id=2)
    )

    @tf.function(input_signature=[tf.TensorSpec((None, None), tf.int32)])
    def decode(ids):
        return rnn_zoo.greedy_decode(model, ids, max_length=6, start_id=1, end_id=2)

    np.testing.assert_array_equal(decode(tf.constant(source)).numpy(), eager)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_array_equal(
        np.asarray(
            rnn_zoo.greedy_decode(reloaded, source, max_length=6, start_id=1, end_id=2)
        ),
        eager,
    )


def test_greedy_decode_of_a_source_does_not_depend_on_padding():
    model = rnn_zoo.build_seq2seq(10, 12, units=8)
    alone = rnn_zoo.greedy_decode(
        model, np.array([[3, 4]]), max_length=5, start_id=1, end_id=2
    )
    batch = rnn_zoo.greedy_decode(
        model,
        np.array([[3, 4, 0, 0, 0], [5, 6, 7, 8, 9]]),
        max_length=5,
        start_id=1,
        end_id=2,
    )
    np.testing.assert_array_equal(np.asarray(alone)[0], np.asarray(batch)[0])


@pytest.mark.parametrize("attention", ["transformer", "dot", 1])
def test_seq2seq_refuses_attention_it_does_not_have(attention):
    with pytest.raises(ValueError, match="`attention` must be one of"):
        rnn_zoo.build_seq2seq(10, 12, attention=attention)


def test_decoding_refuses_a_model_it_cannot_drive():
    classifier = rnn_zoo.build_classifier(3, vocab_size=10, units=4)
    with pytest.raises(ValueError, match="build_seq2seq or rnn_zoo.build_generator"):
        rnn_zoo.greedy_decode(
            classifier, np.array([[3]]), max_length=2, start_id=1, end_id=2
        )
    generator = rnn_zoo.build_generator(10, units=4)
    with pytest.raises(ValueError, match="encoder-decoder"):
        rnn_zoo.greedy_decode(
            generator, np.array([[3]]), max_length=2, start_id=1, end_id=2
        )


def test_stacked_rnn_step_refuses_a_bidirectional_stack():
    stack = rnn_zoo.layers.StackedRNN("gru", units=4, bidirectional=True)
    stack(np.zeros((1, 2, 3), "float32"))
    with pytest.raises(ValueError, match="bidirectional"):
        stack.step(np.zeros((1, 3), "float32"), [np.zeros((1, 4), "float32")] * 2)
