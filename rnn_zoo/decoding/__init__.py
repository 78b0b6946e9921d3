"""Decoding: turning a trained generator or encoder-decoder into sequences.

A model is driven through a *step decoder* (``initial_states`` + ``step``,
see :func:`step_decoder`); greedy decoding and sampling share one loop
written in ``keras.ops``, so it also runs inside a ``tf.function`` (an
exported SavedModel decodes in its own graph).
"""

from rnn_zoo.decoding.greedy import greedy_decode
from rnn_zoo.decoding.loop import decode_loop, step_decoder
from rnn_zoo.decoding.sampling import generate, sample_logits

__all__ = ["decode_loop", "generate", "greedy_decode", "sample_logits", "step_decoder"]
