"""keras-tuner HyperModels over rnn_zoo's builders, one per task pattern.

Each HyperModel takes the builder's fixed keyword arguments (the data's
sizes: ``num_classes``, ``vocab_size``, ``horizon``, ...) plus the ``loss`` and
``metrics`` to compile with, and searches the same space:

================= ============================================ ==============
hyperparameter    default range                                keras-tuner
================= ============================================ ==============
``cell``          every registered cell (``cell_names()``)     ``Choice``
``units``         32 to 256, step 32                           ``Int``
``num_layers``    1 to 3                                       ``Int``
``bidirectional`` False / True (not for generators, nor for    ``Boolean``
                  autoregressive forecasters)
``dropout``       0.0 to 0.5, step 0.1                         ``Float``
``learning_rate`` 1e-4 to 1e-2, log sampling (Adam's)          ``Float``
``attention``     classifiers: False / True (attention pooling); ``Boolean`` /
                  seq2seq: ``"none"``, ``"bahdanau"``,         ``Choice``
                  ``"luong"``
================= ============================================ ==============

A searched name given as a fixed keyword argument is pinned
(``hp.Fixed``); ``search_space`` narrows or replaces a range. The model is
compiled with ``keras.optimizers.Adam(learning_rate)``.

Example:

>>> import keras_tuner
>>> hypermodel = ClassifierHyperModel(
...     num_classes=9, input_features=12, cell="gru",
...     loss="sparse_categorical_crossentropy", metrics=["accuracy"],
... )
>>> hp = keras_tuner.HyperParameters()
>>> model = hypermodel.build(hp)
>>> hp.values["cell"], model.output_shape  # cell is pinned
('gru', (None, 9))
"""

from __future__ import annotations

import importlib
from typing import Any

import keras
import keras_tuner

from rnn_zoo.layers import cell_names

# The searched hyperparameters, in the order they are declared, with the
# keras-tuner kind and the default range of each.
_KINDS = {
    "cell": "choice",
    "units": "int",
    "num_layers": "int",
    "bidirectional": "boolean",
    "dropout": "float",
    "learning_rate": "float",
}
_DEFAULT_RANGES = {
    "units": {"min_value": 32, "max_value": 256, "step": 32},
    "num_layers": {"min_value": 1, "max_value": 3},
    "bidirectional": {},
    "dropout": {"min_value": 0.0, "max_value": 0.5, "step": 0.1},
    "learning_rate": {"min_value": 1e-4, "max_value": 1e-2, "sampling": "log"},
}


class _BuilderHyperModel(keras_tuner.HyperModel):
    """The shared search over one builder; subclasses name the builder.

    Subclasses set ``_builder_name`` (a builder exported by
    :mod:`rnn_zoo.models`), ``_required`` (the fixed arguments without a
    default) and may override :meth:`_searches_bidirectional`.
    """

    _builder_name: str = ""
    _required: tuple[str, ...] = ()
    # Hyperparameters only this builder has: name -> (kind, choices or range).
    _extra: dict[str, tuple[str, Any]] = {}

    def __init__(
        self,
        *,
        loss: Any,
        metrics: list | None = None,
        search_space: dict[str, Any] | None = None,
        **builder_kwargs,
    ):
        # keras-tuner's own `name` would clash with the builder's `name`
        # (the model's name), which stays a builder argument.
        super().__init__(name=None, tunable=True)
        missing = [arg for arg in self._required if arg not in builder_kwargs]
        if missing:
            raise TypeError(
                f"{type(self).__name__} needs the fixed builder argument(s) "
                f"{missing} ({self._builder_name}'s arguments without a default). "
                f"Received: {sorted(builder_kwargs)}"
            )
        if loss is None:
            raise ValueError(
                f"`loss` is needed to compile the model. Received: loss={loss!r}"
            )
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise TypeError(
                f"`metrics` must be a list (or None). Received: metrics={metrics!r}"
            )
        self.loss = loss
        self.metrics = list(metrics) if metrics is not None else None
        searchable = self._searchable(builder_kwargs)
        # A searched name passed as a fixed argument is pinned, not searched.
        self.pinned = {
            name: builder_kwargs.pop(name)
            for name in searchable
            if name in builder_kwargs
        }
        self.builder_kwargs = builder_kwargs
        self.search_space = self._check_search_space(search_space, searchable)
        self.searched = searchable

    def _searches_bidirectional(self, builder_kwargs: dict) -> bool:
        return True

    def _searchable(self, builder_kwargs: dict) -> tuple[str, ...]:
        return tuple(
            name
            for name in _KINDS
            if name != "bidirectional" or self._searches_bidirectional(builder_kwargs)
        ) + tuple(self._extra)

    def _check_search_space(self, search_space, searchable) -> dict:
        if search_space is None:
            return {}
        if not isinstance(search_space, dict):
            raise TypeError(
                "`search_space` must be a dict of hyperparameter name -> list of "
                f"values or dict of range arguments. Received: search_space={search_space!r}"
            )
        for name, space in search_space.items():
            if name not in searchable:
                raise ValueError(
                    f"{type(self).__name__} cannot search {name!r}: expected one of "
                    f"{list(searchable)}. Received: search_space={search_space!r}"
                )
            if name in self.pinned:
                raise ValueError(
                    f"{name!r} is both pinned (a fixed argument, {name}="
                    f"{self.pinned[name]!r}) and in `search_space`; give one of the two."
                )
            if isinstance(space, (list, tuple)):
                if not space:
                    raise ValueError(
                        f"`search_space[{name!r}]` must list at least one value. "
                        f"Received: {space!r}"
                    )
            elif not isinstance(space, dict):
                raise TypeError(
                    f"`search_space[{name!r}]` must be a list of values (a Choice) or "
                    "a dict of range arguments such as {'min_value': 16, "
                    f"'max_value': 64}}. Received: {space!r}"
                )
        return dict(search_space)

    def _declare(self, hp: keras_tuner.HyperParameters, name: str):
        if name in self.pinned:
            return hp.Fixed(name, self.pinned[name])
        space = self.search_space.get(name)
        if isinstance(space, (list, tuple)):
            return hp.Choice(name, list(space))
        kind, default = self._extra.get(name, (_KINDS.get(name), None))
        if kind == "choice":
            values = cell_names() if name == "cell" else list(default)
            return hp.Choice(name, **{"values": values, **(space or {})})
        arguments = {
            **(_DEFAULT_RANGES[name] if default is None else default),
            **(space or {}),
        }
        if kind == "int":
            return hp.Int(name, **arguments)
        if kind == "float":
            return hp.Float(name, **arguments)
        return hp.Boolean(name, **arguments)

    def _builder(self):
        models = importlib.import_module("rnn_zoo.models")
        return getattr(models, self._builder_name)

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        values = {name: self._declare(hp, name) for name in self.searched}
        learning_rate = values.pop("learning_rate")
        if values.get("attention") == "none":  # keras-tuner choices cannot be None
            values["attention"] = None
        model = self._builder()(**self.builder_kwargs, **values)
        # Metric objects keep state: each trial's model gets its own copies.
        metrics = (
            None
            if self.metrics is None
            else [
                type(m).from_config(m.get_config())
                if isinstance(m, keras.metrics.Metric)
                else m
                for m in self.metrics
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=self.loss,
            metrics=metrics,
        )
        return model


class ClassifierHyperModel(_BuilderHyperModel):
    """Searches :func:`rnn_zoo.build_classifier` (many-to-one).

    Args:
        loss: the loss to compile with.
        metrics: the metrics to compile with.
        search_space: ``{hyperparameter: list of values | dict of range
            arguments}`` that replaces or narrows the default ranges (see the
            module docstring).
        **builder_kwargs: ``build_classifier``'s arguments: ``num_classes``
            (required), ``vocab_size`` or ``input_features``, and any other;
            a searched one (``cell``, ``units``, ``num_layers``,
            ``bidirectional``, ``dropout``) or ``learning_rate`` is pinned.

    Example:

    >>> import keras_tuner
    >>> hypermodel = ClassifierHyperModel(
    ...     num_classes=14, vocab_size=60, units=64,
    ...     loss="sparse_categorical_crossentropy", metrics=["accuracy"],
    ... )
    >>> tuner = keras_tuner.RandomSearch(
    ...     hypermodel, objective="val_loss", max_trials=5, directory="/tmp/tuner"
    ... )  # doctest: +SKIP
    """

    _builder_name = "build_classifier"
    _required = ("num_classes",)
    _extra = {"attention": ("boolean", {})}


class TaggerHyperModel(_BuilderHyperModel):
    """Searches :func:`rnn_zoo.build_tagger` (one tag per timestep).

    Args:
        loss: the loss to compile with (e.g. ``"sparse_categorical_crossentropy"``).
        metrics: the metrics to compile with.
        search_space: overrides of the default ranges (see the module docstring).
        **builder_kwargs: ``build_tagger``'s arguments: ``num_tags``
            (required), ``vocab_size`` or ``input_features``, ...; searched
            names given here are pinned.

    Example:

    >>> import keras_tuner
    >>> hypermodel = TaggerHyperModel(
    ...     num_tags=3, vocab_size=40, loss="sparse_categorical_crossentropy"
    ... )
    >>> hypermodel.build(keras_tuner.HyperParameters()).output_shape  # (batch, time, tags)
    (None, None, 3)
    """

    _builder_name = "build_tagger"
    _required = ("num_tags",)


class ForecasterHyperModel(_BuilderHyperModel):
    """Searches :func:`rnn_zoo.build_forecaster`.

    ``bidirectional`` is searched in ``mode="direct"`` only: an
    autoregressive forecaster reads the series forwards.

    Args:
        loss: the loss to compile with (e.g. ``"mse"``).
        metrics: the metrics to compile with.
        search_space: overrides of the default ranges (see the module docstring).
        **builder_kwargs: ``build_forecaster``'s arguments: ``horizon``
            (required), ``num_targets``, ``num_covariates``, ``window``,
            ``mode``, ...; searched names given here are pinned.

    Example:

    >>> import keras_tuner
    >>> hypermodel = ForecasterHyperModel(horizon=4, window=16, loss="mse")
    >>> hypermodel.build(keras_tuner.HyperParameters()).output_shape
    (None, 4, 1)
    """

    _builder_name = "build_forecaster"
    _required = ("horizon",)

    def _searches_bidirectional(self, builder_kwargs: dict) -> bool:
        return builder_kwargs.get("mode", "direct") != "autoregressive"


class GeneratorHyperModel(_BuilderHyperModel):
    """Searches :func:`rnn_zoo.build_generator` (a language model); never bidirectional.

    Args:
        loss: the loss to compile with; the model outputs logits, so e.g.
            ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``.
        metrics: the metrics to compile with.
        search_space: overrides of the default ranges (see the module docstring).
        **builder_kwargs: ``build_generator``'s arguments: ``vocab_size``
            (required), ``num_conditions`` or ``condition_features``, ...;
            searched names given here are pinned.

    Example:

    >>> import keras, keras_tuner
    >>> hypermodel = GeneratorHyperModel(
    ...     vocab_size=30,
    ...     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ... )
    >>> hypermodel.build(keras_tuner.HyperParameters()).output_shape  # logits
    (None, None, 30)
    """

    _builder_name = "build_generator"
    _required = ("vocab_size",)

    def _searches_bidirectional(self, builder_kwargs: dict) -> bool:
        return False


class Seq2SeqHyperModel(_BuilderHyperModel):
    """Searches :func:`rnn_zoo.build_seq2seq` (the encoder may be bidirectional).

    Args:
        loss: the loss to compile with; the model outputs logits, so e.g.
            ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``.
        metrics: the metrics to compile with.
        search_space: overrides of the default ranges (see the module docstring).
        **builder_kwargs: ``build_seq2seq``'s arguments: ``source_vocab_size``
            and ``target_vocab_size`` (required), ``embedding_dim``, ...;
            searched names given here are pinned.

    Example:

    >>> import keras, keras_tuner
    >>> hypermodel = Seq2SeqHyperModel(
    ...     source_vocab_size=30, target_vocab_size=40,
    ...     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ... )
    >>> hypermodel.build(keras_tuner.HyperParameters()).output_shape  # logits
    (None, None, 40)
    """

    _builder_name = "build_seq2seq"
    _required = ("source_vocab_size", "target_vocab_size")
    _extra = {"attention": ("choice", ("none", "bahdanau", "luong"))}
