"""rnn_zoo's own Keras recurrent layers.

Cells handle one timestep; sequence layers run a cell over time; wrappers
compose sequence layers. Every class is registered serializable under the
``rnn_zoo`` package.
"""

from rnn_zoo import _keras_patches
from rnn_zoo.layers.attention import (
    AttentionDecoder,
    AttentionDecoderCell,
    AttentionMechanism,
    AttentionPooling,
    BahdanauAttention,
    LuongAttention,
    masked_softmax,
)
from rnn_zoo.layers.bidirectional import Bidirectional
from rnn_zoo.layers.cell import RecurrentCell
from rnn_zoo.layers.cfc import CfC, CfCCell
from rnn_zoo.layers.convert import from_torch_state_dict, to_torch_state_dict
from rnn_zoo.layers.cornn import CoRNN, CoRNNCell
from rnn_zoo.layers.crf import CRF, CRFModel
from rnn_zoo.layers.embedding import TokenEmbedding
from rnn_zoo.layers.gru import GRU, GRUCell
from rnn_zoo.layers.hamiltonian import HamiltonianRNN, HamiltonianRNNCell
from rnn_zoo.layers.indrnn import IndRNN, IndRNNCell
from rnn_zoo.layers.layernorm_lstm import LayerNormLSTM, LayerNormLSTMCell
from rnn_zoo.layers.lstm import LSTM, LSTMCell
from rnn_zoo.layers.ltc import LTC, LTCCell
from rnn_zoo.layers.min_rnn import MinGRU, MinGRUCell, MinLSTM, MinLSTMCell
from rnn_zoo.layers.ncps_convert import from_ncps, to_ncps
from rnn_zoo.layers.qrnn import QRNN, QRNNCell
from rnn_zoo.layers.recurrent import (
    RNN,
    cell_names,
    get_sequence_layer,
    register_sequence_layer,
)
from rnn_zoo.layers.rglru import RGLRU, RGLRUCell
from rnn_zoo.layers.rollout import AutoregressiveRollout
from rnn_zoo.layers.simple_rnn import SimpleRNN, SimpleRNNCell
from rnn_zoo.layers.sru import SRU, SRUCell
from rnn_zoo.layers.stack import StackedRNN
from rnn_zoo.layers.wirings import NCP, AutoNCP, CustomWiring, FullyConnected, Wiring

_keras_patches.install()

__all__ = [
    "AttentionDecoder",
    "AttentionDecoderCell",
    "AttentionMechanism",
    "AttentionPooling",
    "BahdanauAttention",
    "LuongAttention",
    "masked_softmax",
    "AutoregressiveRollout",
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "GRUCell",
    "LSTMCell",
    "RecurrentCell",
    "SimpleRNN",
    "SimpleRNNCell",
    "StackedRNN",
    "cell_names",
    "from_torch_state_dict",
    "get_sequence_layer",
    "register_sequence_layer",
    "to_torch_state_dict",
    "TokenEmbedding",
    "CRF",
    "CRFModel",
    # The modern cells (issue 15).
    "IndRNN",
    "IndRNNCell",
    "LayerNormLSTM",
    "LayerNormLSTMCell",
    "QRNN",
    "QRNNCell",
    "SRU",
    "SRUCell",
    # Linear-recurrence cells (parallel scan).
    "MinGRU",
    "MinGRUCell",
    "MinLSTM",
    "MinLSTMCell",
    "RGLRU",
    "RGLRUCell",
    # Physics-inspired cells (issue 16).
    "CoRNN",
    "CoRNNCell",
    "HamiltonianRNN",
    "HamiltonianRNNCell",
    # Liquid (continuous-time) cells (issue 16).
    "CfC",
    "CfCCell",
    "LTC",
    "LTCCell",
    "Wiring",
    "FullyConnected",
    "NCP",
    "AutoNCP",
    "CustomWiring",
    "from_ncps",
    "to_ncps",
]
