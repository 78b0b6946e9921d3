"""Model builders, one task pattern per module."""

from rnn_zoo.models.classifier import build_classifier

__all__ = ["build_classifier"]
