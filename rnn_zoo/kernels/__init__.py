"""How a recurrent sequence is executed.

The layers in :mod:`rnn_zoo.layers` describe *what* a cell computes; the modules
here decide *how* the time loop runs. :mod:`rnn_zoo.kernels.reference` is the
plain ``keras.ops`` path that runs on every backend and that every fast path is
tested against.
"""

from rnn_zoo.kernels.reference import run_reference

__all__ = ["run_reference"]
