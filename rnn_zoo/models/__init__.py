"""Model builders, one task pattern per module, and the registry of named models."""

from rnn_zoo.models.classifier import build_classifier
from rnn_zoo.models.forecaster import build_forecaster
from rnn_zoo.models.generator import build_generator
from rnn_zoo.models.hypermodels import (
    ClassifierHyperModel,
    ForecasterHyperModel,
    GeneratorHyperModel,
    Seq2SeqHyperModel,
    TaggerHyperModel,
)
from rnn_zoo.models.registry import create_model, list_models, register_model
from rnn_zoo.models.seq2seq import build_seq2seq
from rnn_zoo.models.tagger import build_tagger

__all__ = [
    "ClassifierHyperModel",
    "ForecasterHyperModel",
    "GeneratorHyperModel",
    "Seq2SeqHyperModel",
    "TaggerHyperModel",
    "build_classifier",
    "build_forecaster",
    "build_generator",
    "build_seq2seq",
    "build_tagger",
    "create_model",
    "list_models",
    "register_model",
]
