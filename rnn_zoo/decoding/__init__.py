"""Decoding: turning a trained generator or encoder-decoder into sequences.

A model is driven through a *step decoder* (``initial_states`` + ``step``,
see :func:`step_decoder`). Greedy decoding, beam search and sampling are
written in ``keras.ops``, so they also run inside a ``tf.function``;
:class:`Seq2SeqDecoder` makes decoding a layer of a Keras model, so an
exported SavedModel decodes in its own graph.
"""

from rnn_zoo.decoding.beam import beam_search, coverage_penalty, length_penalty
from rnn_zoo.decoding.greedy import greedy_decode
from rnn_zoo.decoding.layer import Seq2SeqDecoder, build_decoding_model
from rnn_zoo.decoding.loop import decode_loop, read_prompt, step_decoder
from rnn_zoo.decoding.sampling import generate, sample_decode, sample_logits

__all__ = [
    "Seq2SeqDecoder",
    "beam_search",
    "build_decoding_model",
    "coverage_penalty",
    "decode_loop",
    "generate",
    "greedy_decode",
    "length_penalty",
    "read_prompt",
    "sample_decode",
    "sample_logits",
    "step_decoder",
]
