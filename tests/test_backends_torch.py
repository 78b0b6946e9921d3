"""The layer and decoding suites on the PyTorch backend (see test_backends.py)."""

import keras
import pytest

from tests.test_backends import run_suites_on


@pytest.mark.backends
@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the other backends are driven from the TensorFlow run",
)
def test_layer_and_decoding_suites_pass_on_torch():
    run_suites_on("torch")
