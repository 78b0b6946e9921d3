"""Datasets: one module per source (reading and shaping only), plus the tfds builders.

Each module is imported on its own (``from rnn_zoo.data import glove``); none
is imported with the package, so a module's optional dependency is needed only
by its users.
"""

__all__ = [
    "austen",
    "cmudict",
    "co2",
    "fashion",
    "glove",
    "names",
    "text_classification",
    "tfds_builders",
    "vowels",
    "zh_sentiment",
]
