"""Checks the three Chinese tagging recipes' smoke tests share: softmax against CRF.

Each recipe trains both taggers (rnn_zoo.training.tagging), records both in
metrics.json, saves both (OUTPUT/softmax/model.keras, OUTPUT/crf/model.keras)
and exports the better on validation. These helpers check that record and
give the other model a run directory of its own, exported through the CLI.
"""

import json
import shutil

import keras
import numpy as np

from rnn_zoo import cli
from rnn_zoo.data import peoples_daily
from rnn_zoo.layers import CRFModel
from rnn_zoo.models.tagger import best_tags

KINDS = {"softmax", "crf"}


def check_both_models(metrics: dict, metric: str, headline: dict) -> None:
    """Both models' scores are recorded and the exported one is the better on validation.

    ``headline`` maps the metrics' top-level keys to the score keys they copy
    from the exported model's test scores (``{"test_word_f1": "f1"}``).
    """
    models = metrics["models"]
    assert set(models) == KINDS
    for kind, scores in models.items():
        for split in ("validation", "test"):
            assert 0.0 <= scores[split][metric] <= 1.0, (kind, split)
    validation = {kind: models[kind]["validation"][metric] for kind in KINDS}
    # The better validation score; a tie goes to the CRF.
    best = "crf" if validation["crf"] >= validation["softmax"] else "softmax"
    assert metrics["model"] == best
    for key, score_key in headline.items():
        assert metrics[key] == models[best]["test"][score_key], key
    # The same budget: --smoke trains each for SMOKE_EPOCHS (1).
    assert {kind: t["epochs_run"] for kind, t in metrics["trainings"].items()} == {
        "softmax": 1,
        "crf": 1,
    }
    assert metrics["train_seconds"] == round(
        sum(t["train_seconds"] for t in metrics["trainings"].values()), 1
    )


def load(path) -> keras.Model:
    return keras.saving.load_model(path, safe_mode=True)


def check_saved_models(run_dir) -> dict[str, keras.Model]:
    """Both trained models load; model.keras is the one metrics.json names."""
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    models = {kind: load(run_dir / kind / "model.keras") for kind in KINDS}
    assert isinstance(models["crf"], CRFModel)
    assert not isinstance(models["softmax"], CRFModel)
    exported = load(run_dir / "model.keras")
    assert isinstance(exported, CRFModel) == (metrics["model"] == "crf")
    return models


def encode(run_dir, texts) -> np.ndarray:
    """The texts as a padded batch of the run's character ids."""
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    padded = np.zeros((len(texts), max(map(len, texts))), "int32")
    for row, text in zip(padded, texts):
        row[: len(text)] = peoples_daily.encode(text, run["info"]["vocabulary"])
    return padded


def expected_tags(model, run_dir, texts, tag_names) -> list[list[str]]:
    """Each text's tags by the Keras model (Viterbi for a CRF), in Python."""
    ids = encode(run_dir, texts)
    tags = np.asarray(best_tags(model, model(ids, training=False), ids != 0))
    return [peoples_daily.tag_names_of(row, tag_names) for row in tags]


def other_run(run_dir, tmp_path):
    """A run directory holding the model the recipe did not export, exported by ``rnn-zoo export``."""
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    other = (KINDS - {metrics["model"]}).pop()
    target = tmp_path / f"{other}_run"
    target.mkdir()
    shutil.copy(run_dir / "run.json", target / "run.json")
    shutil.copy(run_dir / other / "model.keras", target / "model.keras")
    assert cli.main(["export", str(target)]) == 0
    return other, target
