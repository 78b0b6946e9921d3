"""rnn_zoo: a Keras 3 model zoo for recurrent neural networks.

Our own recurrent layers (:mod:`rnn_zoo.layers`) composed by builders into
models for sequence tasks, trained through ``tf.data`` and exported to
SavedModel for serving.
"""

__version__ = "0.1.0"

from rnn_zoo import layers
from rnn_zoo.decoding import (
    beam_search,
    build_decoding_model,
    generate,
    greedy_decode,
    sample_decode,
)
from rnn_zoo.explain import explain
from rnn_zoo.models import (
    build_classifier,
    build_forecaster,
    build_generator,
    build_seq2seq,
    build_tagger,
    create_model,
    list_models,
    register_model,
)

__all__ = [
    "__version__",
    "beam_search",
    "build_decoding_model",
    "build_classifier",
    "build_forecaster",
    "build_generator",
    "build_seq2seq",
    "build_tagger",
    "create_model",
    "explain",
    "generate",
    "greedy_decode",
    "layers",
    "list_models",
    "register_model",
    "sample_decode",
]
