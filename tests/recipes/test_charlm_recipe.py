"""The charlm recipe end to end through the rnn-zoo command, in smoke mode.

One smoke run (the start of each split of the real text, one epoch) writes
model.keras, export/, metrics.json and run.json; the tests then check what a
user of each artifact relies on.
"""

import json
import math
import os

import keras
import numpy as np
import pytest

from rnn_zoo import cli, generate
from rnn_zoo.data import austen, janeaustenr

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipe uses tf.data and exports a SavedModel",
    ),
]

PROMPTS = ["Mr. Darcy", "It is a truth universally acknowledged", ""]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    output = tmp_path_factory.mktemp("charlm_smoke")
    argv = ["train", "charlm", "--output", str(output), "--smoke", "--units", "16"]
    assert cli.main(argv) == 0
    return output


@pytest.fixture(scope="module")
def metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def info(run_dir):
    return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["info"]


@pytest.fixture(scope="module")
def model(run_dir):
    return keras.saving.load_model(run_dir / "model.keras", safe_mode=True)


@pytest.fixture(scope="module")
def served(run_dir):
    import tensorflow as tf

    return tf.saved_model.load(str(run_dir / "export"))


def _generate(served, prompts):
    import tensorflow as tf

    out = served.generate(tf.constant(prompts))["continuation"].numpy()
    return [t.decode("utf-8") for t in out]


def _logits(served, prefixes):
    import tensorflow as tf

    return served.next_char_logits(tf.constant(prefixes))["logits"].numpy()


def test_metrics_hold_bits_per_character_and_the_baselines(metrics, info):
    uniform = math.log2(info["vocab_size"])
    # One epoch of a tiny model is near uniform, but finite and positive.
    assert 0.0 < metrics["test_bits_per_char"] < uniform + 1.0
    assert metrics["test_perplexity"] == pytest.approx(
        2 ** metrics["test_bits_per_char"]
    )
    # Every test character of the smoke slice is scored once.
    assert metrics["test_characters"] == info["num_characters"]["test"]
    # The n-gram baseline chosen on validation beats the unigram, which beats uniform.
    assert 1 <= metrics["baseline_ngram_order"] <= 6
    assert (
        metrics["baseline_ngram_bits_per_char"]
        < metrics["baseline_unigram_bits_per_char"]
        < uniform
    )
    validation = metrics["baseline_validation_bits_per_char"]
    assert min(validation, key=validation.get) == str(metrics["baseline_ngram_order"])
    assert metrics["epochs_run"] == 1
    assert metrics["config"]["units"] == 16 and metrics["config"]["smoke"] is True
    assert len(metrics["samples"]) == 3
    for text in metrics["samples"].values():
        # Shorter only if the (barely trained) model picked the end id.
        assert 0 < len(text) <= info["generate_length"]


def test_the_test_score_reads_the_test_text_as_one_stream(model, metrics, info):
    from rnn_zoo.recipes import charlm

    # The saved model's cross-entropy, in NumPy, over the test slice read in
    # one pass from the start id (the state never reset): the headline score.
    text = austen.load_austen(max_chars=charlm.SMOKE_CHARS).test
    ids = austen.encode(text, info["vocabulary"])
    inputs = np.concatenate([[austen.START_ID], ids[:-1]])[None].astype("int32")
    logits = model.predict(inputs, verbose=0)[0].astype("float64")
    top = logits.max(axis=-1)
    log_z = top + np.log(np.exp(logits - top[:, None]).sum(axis=-1))
    bits = np.mean(log_z - logits[np.arange(len(ids)), ids]) / np.log(2)
    assert metrics["test_bits_per_char"] == pytest.approx(bits, abs=1e-4)
    # The chunked score (each chunk read afresh) is another number.
    assert np.isfinite(metrics["test_bits_per_char_chunks"])
    assert metrics["test_bits_per_char_chunks"] != pytest.approx(bits, abs=1e-6)


def test_model_keras_loads_in_safe_mode(model, info):
    assert model.output_shape == (None, None, info["vocab_size"])
    assert any(type(layer).__module__.startswith("rnn_zoo") for layer in model.layers)


def test_next_char_logits_agree_with_model_keras(served, model, info):
    vocabulary = info["vocabulary"]
    ids = [austen.encode(p, vocabulary) for p in PROMPTS]
    width = max(map(len, ids)) + 1
    padded = np.zeros((len(ids), width), "int32")
    for row, x in zip(padded, ids):
        row[: len(x) + 1] = [austen.START_ID, *x]
    logits = model.predict(padded, verbose=0)
    expected = np.stack([logits[i, len(x)] for i, x in enumerate(ids)])
    np.testing.assert_allclose(_logits(served, PROMPTS), expected, atol=1e-4)


def test_exported_sampling_is_rnn_zoo_generate(served, model, info):
    from rnn_zoo.recipes import charlm

    for prompt in PROMPTS[:2]:
        ids = generate(
            model,
            prompt=[austen.encode(prompt, info["vocabulary"]).tolist()],
            max_length=info["generate_length"],
            start_id=austen.START_ID,
            end_id=austen.END_ID,
            temperature=charlm.TEMPERATURE,
            top_k=charlm.TOP_K,
            seed=charlm.SEED,
        )
        expected = austen.decode(ids[0], info["vocabulary"])
        assert _generate(served, [prompt]) == [expected]


def test_a_prompt_alone_or_in_a_padded_batch_gets_the_same_answer(served):
    alone = _generate(served, [PROMPTS[0]])[0]
    batch = _generate(served, PROMPTS)
    assert batch[0] == alone
    # Fixed seed: the same prompt always gets the same continuation.
    assert _generate(served, [PROMPTS[0]])[0] == alone
    np.testing.assert_allclose(
        _logits(served, PROMPTS)[0], _logits(served, [PROMPTS[0]])[0], atol=1e-5
    )


def test_continuations_are_text_of_the_fixed_length(served, info):
    vocabulary = set(info["vocabulary"]) | {"\ufffd"}
    texts = _generate(served, PROMPTS + ["caf\u00e9 \u2603", b"a\xffb"])
    assert len(texts) == len(PROMPTS) + 2
    for text in texts:
        assert 0 < len(text) <= info["generate_length"]
        assert set(text) <= vocabulary


def test_vocabulary_signature_names_every_logit(served, info):
    characters = [c.decode() for c in served.vocabulary()["characters"].numpy()]
    assert characters == ["", "\ufffd", "", ""] + info["vocabulary"]
    assert _logits(served, ["Mr"]).shape == (1, len(characters))
    import tensorflow as tf

    out = served.signatures["serving_default"](prompts=tf.constant(["Mr"]))
    assert out["continuation"].numpy()[0].decode() == _generate(served, ["Mr"])[0]


def test_evaluate_command_reproduces_the_test_metrics(run_dir, metrics, capsys):
    capsys.readouterr()
    assert cli.main(["evaluate", str(run_dir)]) == 0
    out = capsys.readouterr().out
    for key in ("test_bits_per_char", "baseline_ngram_bits_per_char"):
        assert f"{key}: {metrics[key]:.4f}" in out


def test_bad_flags_are_usage_errors(tmp_path, capsys):
    for argv, fragment in (
        (["--units", "0"], "--units"),
        (["--dropout", "1.5"], "--dropout"),
        (["--bidirectional"], "unrecognized"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["train", "charlm", "--output", str(tmp_path), *argv])
        assert exit_info.value.code == 2
        assert fragment in capsys.readouterr().err


@pytest.mark.skipif(
    not os.path.isfile(janeaustenr.DEFAULT_DATA_PATH + ".rdb"),
    reason=f"needs the Debian package: {janeaustenr.APT_INSTALL}",
)
def test_extra_text_appends_the_other_novels_to_training_only(tmp_path):
    from rnn_zoo.recipes import charlm

    argv = ["--output", str(tmp_path), "--smoke", "--extra-text"]
    data = charlm.load_data(charlm.parse_args(argv))
    plain = austen.load_austen(max_chars=charlm.SMOKE_CHARS)
    sizes = data.info["num_characters"]
    # The smoke slice of chapters 1-49, then SMOKE_CHARS of each other novel.
    assert sizes["train"] == len(plain.train) + 5 * (charlm.SMOKE_CHARS + 1)
    assert sizes["validation"] == len(plain.validation)
    assert sizes["test"] == len(plain.test)
    assert data.info["extra_text"] == list(janeaustenr.OTHER_NOVELS)
    # The n-gram baseline and the GRU read the same training text.
    assert data.info["vocabulary"] == list(plain.vocabulary)


def test_extra_text_without_the_package_names_the_apt_command(tmp_path, monkeypatch):
    from rnn_zoo.recipes import charlm

    # The real path is the test above; here the package's files are missing.
    monkeypatch.setattr(janeaustenr, "DEFAULT_DATA_PATH", str(tmp_path / "Rdata"))
    args = charlm.parse_args(["--output", str(tmp_path), "--smoke", "--extra-text"])
    with pytest.raises(
        FileNotFoundError, match="sudo apt-get install r-cran-janeaustenr"
    ):
        charlm.load_data(args)
