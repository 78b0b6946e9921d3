"""rnn_zoo: a Keras 3 model zoo for recurrent neural networks.

Our own recurrent layers (:mod:`rnn_zoo.layers`) composed by builders into
models for sequence tasks, trained through ``tf.data`` and exported to
SavedModel for serving.

The public names below are imported on first use (PEP 562), so that
``import rnn_zoo.cli`` (and ``rnn-zoo --help``) does not import Keras and
TensorFlow; ``from rnn_zoo import build_classifier`` and
``rnn_zoo.layers.LSTM`` work as with eager imports.

Example:

>>> import rnn_zoo
>>> rnn_zoo.build_classifier(num_classes=3, vocab_size=20, units=8).output_shape
(None, 3)
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "beam_search": "rnn_zoo.decoding",
    "build_decoding_model": "rnn_zoo.decoding",
    "generate": "rnn_zoo.decoding",
    "greedy_decode": "rnn_zoo.decoding",
    "sample_decode": "rnn_zoo.decoding",
    "explain": "rnn_zoo.explain",
    "build_classifier": "rnn_zoo.models",
    "build_forecaster": "rnn_zoo.models",
    "build_generator": "rnn_zoo.models",
    "build_seq2seq": "rnn_zoo.models",
    "build_tagger": "rnn_zoo.models",
    "create_model": "rnn_zoo.models",
    "list_models": "rnn_zoo.models",
    "register_model": "rnn_zoo.models",
}
# Public subpackages.
_SUBMODULES = ("layers",)

# Literal, so that linters and IDEs read it; a test checks it against _EXPORTS.
__all__ = [
    "__version__",
    "beam_search",
    "build_classifier",
    "build_decoding_model",
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


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value) -> None:
        # Importing the submodule rnn_zoo.explain binds it to rnn_zoo.explain,
        # where the public name is its function: keep the function.
        if (
            name in _EXPORTS
            and isinstance(value, types.ModuleType)
            and value.__name__ == f"{__name__}.{name}"
        ):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:  # what type checkers and IDEs see; never run
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
