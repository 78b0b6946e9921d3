"""A softmax tagger against a CRF tagger in one recipe: train both, score both, pick one.

The tagging recipes (``cws_zh``, ``ner_zh``, ``pos_zh``) train the same
:func:`rnn_zoo.build_tagger` twice, ending in a softmax per character and
in a linear-chain CRF, on the same data, with the same seed and budget, and
export the one that scores better on the validation split by the recipe's
own metric. What they share is here::

    models, data = tagging.train_softmax_and_crf(run, load_data, build_model)
    results = tagging.compare(models, score, "f1")  # score(model, split)
    tagging.print_table({"crf": results["models"]["crf"]["test"], ...}, COLUMNS)
    tagging.print_choice(results, "f1", "word F1")  # Exported: crf (...)
    model = models[results["best"]]

``build_model(args, info, crf=...)`` builds and compiles either model; the
tags of both are read with :func:`rnn_zoo.models.tagger.predict_tags` (the
padding tag left out; Viterbi for the CRF).
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Callable, Mapping

import keras

from rnn_zoo.layers.crf import CRFModel
from rnn_zoo.training import run as _run

# The two models, in the order they train; a tie on validation goes to the
# later, the CRF (its tags are a consistent sequence).
MODELS = ("softmax", "crf")


def kind_of(model: keras.Model) -> str:
    """``"crf"`` for a ``CRFModel``, else ``"softmax"``.

    >>> from rnn_zoo import build_tagger
    >>> kind_of(build_tagger(3, vocab_size=5, units=2, crf=True))
    'crf'
    """
    return "crf" if isinstance(model, CRFModel) else "softmax"


def as_models(model) -> dict[str, keras.Model]:
    """``{kind: model}`` of one tagger or of a ``{kind: model}`` mapping.

    A recipe's ``evaluate(model, data, args)`` takes either: ``main`` hands
    it both models, ``rnn-zoo evaluate`` the run's ``model.keras``.

    Raises:
        TypeError: ``model`` is neither a Keras model nor a mapping of them.
        ValueError: a mapping with a name outside :data:`MODELS`.
    """
    if isinstance(model, keras.Model):
        return {kind_of(model): model}
    if not isinstance(model, Mapping) or not all(
        isinstance(m, keras.Model) for m in model.values()
    ):
        raise TypeError(
            "`model` must be a keras.Model or a mapping of model names to "
            f"keras.Model. Received: model={model!r}"
        )
    unknown = sorted(set(model) - set(MODELS))
    if not model or unknown:
        raise ValueError(
            f"`model` must map names among {list(MODELS)} to models. "
            f"Received names: {sorted(model)}"
        )
    return dict(model)


def train_softmax_and_crf(
    run,
    load_data: Callable[[argparse.Namespace], _run.RecipeData],
    build_model: Callable[..., keras.Model],
) -> tuple[dict[str, keras.Model], _run.RecipeData]:
    """Trains ``build_model(args, info, crf=False)``, then ``crf=True``, alike.

    Each model gets the data from its own ``load_data(args)`` call (the same
    batches in the same order), starts from ``--seed`` and trains within the
    same budget (``--epochs``, ``PATIENCE``; ``--smoke``: ``SMOKE_EPOCHS``)
    through :meth:`rnn_zoo.training.RecipeRun.train` under its name, so
    each has its own checkpoints (``OUTPUT/softmax/checkpoints``,
    ``OUTPUT/crf/checkpoints``) and its record in ``run.trainings``. Each
    trained model is saved as ``OUTPUT/NAME/model.keras`` (the one the recipe
    exports is also ``OUTPUT/model.keras``).

    Args:
        run: the recipe's :class:`rnn_zoo.training.RecipeRun`.
        load_data: the recipe's ``load_data``.
        build_model: the recipe's ``build_model``, with a ``crf`` keyword.

    Returns:
        ``({"softmax": model, "crf": model}, data)``: the trained models and
        the last :class:`RecipeData` (its test split is the same for both).
    """
    models = {}
    for kind in MODELS:
        print(f"\n## The {kind} tagger")
        data = load_data(run.args)
        build = functools.partial(build_model, crf=kind == "crf")
        models[kind] = run.train(build, data, name=kind, summary=kind == MODELS[0])
        folder = os.path.join(run.args.output, kind)
        os.makedirs(folder, exist_ok=True)
        models[kind].save(os.path.join(folder, _run.MODEL_FILE))
    return models, data


def compare(
    models: Mapping[str, keras.Model],
    score: Callable[[keras.Model, str], dict],
    metric: str,
) -> dict:
    """Each model's scores on the validation and test splits, and the better one.

    Args:
        models: ``{name: model}`` (:func:`as_models`).
        score: ``score(model, split)`` -> the recipe's scores of ``model`` on
            ``split`` (``"validation"`` or ``"test"``) as a dict.
        metric: the key of ``score``'s dict that decides (higher is better).

    Returns:
        ``{"models": {name: {"validation": scores, "test": scores}}, "best":
        name}``: ``best`` has the highest validation ``metric``; a tie goes
        to the later name in :data:`MODELS`.

    Example:

    >>> f1 = {("s", "validation"): 0.9, ("s", "test"): 0.8,
    ...       ("c", "validation"): 0.9, ("c", "test"): 0.85}
    >>> result = compare({"softmax": "s", "crf": "c"},
    ...                  lambda model, split: {"f1": f1[model, split]}, "f1")
    >>> result["best"], result["models"]["crf"]["test"]
    ('crf', {'f1': 0.85})
    """
    scores = {
        name: {split: score(model, split) for split in ("validation", "test")}
        for name, model in models.items()
    }
    order = [name for name in MODELS if name in models] + [
        name for name in models if name not in MODELS
    ]
    best = max(order, key=lambda n: (scores[n]["validation"][metric], order.index(n)))
    return {"models": scores, "best": best}


def print_choice(results: dict, metric: str, label: str) -> None:
    """Prints which model :func:`compare` chose and on what, when it had a choice.

    Example:

    >>> print_choice({"best": "crf", "models": {
    ...     "softmax": {"validation": {"f1": 0.9}}, "crf": {"validation": {"f1": 0.92}}}},
    ...     "f1", "word F1")
    Exported: crf (validation word F1 0.9200; softmax 0.9000)
    """
    models, best = results["models"], results["best"]
    if len(models) < 2:
        return
    others = "; ".join(
        f"{name} {scores['validation'][metric]:.4f}"
        for name, scores in models.items()
        if name != best
    )
    print(
        f"Exported: {best} (validation {label} "
        f"{models[best]['validation'][metric]:.4f}; {others})"
    )


def print_table(rows: Mapping[str, Mapping], columns: Mapping[str, str]) -> None:
    """Prints one line per row: its name, then each column's value (``-`` when missing).

    Args:
        rows: ``{name: {key: value}}``.
        columns: ``{key: header}``, in the order to print.

    Example:

    >>> print_table({"crf": {"f1": 0.91234, "n": 10}, "baseline": {"f1": 0.9}},
    ...             {"f1": "F1", "n": "words"})
    model     F1      words
    crf       0.9123  10
    baseline  0.9000  -
    """
    width = max(len("model"), *(len(name) for name in rows))
    cells = [["model", *columns.values()]]
    for name, values in rows.items():
        cells.append(
            [name]
            + [
                f"{v:.4f}" if isinstance(v, float) else "-" if v is None else str(v)
                for v in (values.get(key) for key in columns)
            ]
        )
    sizes = [width] + [
        max(len(row[i]) for row in cells) for i in range(1, len(cells[0]))
    ]
    for row in cells:
        print("  ".join(cell.ljust(size) for cell, size in zip(row, sizes)).rstrip())
