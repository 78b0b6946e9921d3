"""The ``.tflite`` flatbuffer: its op list, and the SimpleRNN custom op made built in."""

from __future__ import annotations

import numpy as np

# The custom op a SimpleRNN becomes before the flatbuffer rewrite.
RNN_CUSTOM_CODE = "RnnZooUnidirectionalSequenceRnn"


def _schema():
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    return schema, flatbuffer_utils


def _op_names(model_object) -> list[str]:
    schema, _ = _schema()
    builtin = {v: k for k, v in vars(schema.BuiltinOperator).items() if k.isupper()}
    names = []
    for subgraph in model_object.subgraphs:
        for operator in subgraph.operators:
            code = model_object.operatorCodes[operator.opcodeIndex]
            number = max(code.builtinCode, code.deprecatedBuiltinCode)
            if number == schema.BuiltinOperator.CUSTOM:
                names.append(f"CUSTOM:{code.customCode.decode()}")
            else:
                names.append(builtin[number])
    return names


def litert_ops(path_or_content) -> list[str]:
    """The operator of every node of a ``.tflite`` file, in order (custom ops as
    ``CUSTOM:name``; Flex ops are ``CUSTOM:Flex...``)."""
    _, flatbuffer_utils = _schema()
    if isinstance(path_or_content, (bytes, bytearray)):
        content = path_or_content
    else:
        with open(path_or_content, "rb") as file:
            content = file.read()
    return _op_names(flatbuffer_utils.convert_bytearray_to_object(content))


def fuse_rnn(content: bytes) -> bytes:
    """The custom RNN ops rewritten as built-in UNIDIRECTIONAL_SEQUENCE_RNN."""
    schema, flatbuffer_utils = _schema()
    model = flatbuffer_utils.convert_bytearray_to_object(content)
    codes = [
        i
        for i, code in enumerate(model.operatorCodes)
        if code.customCode is not None and code.customCode.decode() == RNN_CUSTOM_CODE
    ]
    if not codes:
        return content
    builtin = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_RNN
    for i in codes:
        code = model.operatorCodes[i]
        code.builtinCode, code.deprecatedBuiltinCode = builtin, min(builtin, 127)
        code.customCode, code.version = None, 1
    empty_buffer = 0  # buffer 0 is the flatbuffer's empty sentinel
    for subgraph in model.subgraphs:
        for operator in subgraph.operators:
            if operator.opcodeIndex not in codes:
                continue
            options = schema.SequenceRNNOptionsT()
            options.timeMajor = False
            options.fusedActivationFunction = _activation_of(operator)
            operator.builtinOptionsType = schema.BuiltinOptions.SequenceRNNOptions
            operator.builtinOptions = options
            operator.customOptions = None
            operator.customOptionsFormat = 0
            state = subgraph.tensors[operator.inputs[4]]
            state.isVariable = True
            state.buffer = empty_buffer
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _activation_of(operator):
    schema, _ = _schema()
    if operator.customOptions is None:
        return schema.ActivationFunctionType.TANH
    options = np.asarray(operator.customOptions, dtype=np.uint8).tobytes()
    if b"relu" in options:
        return schema.ActivationFunctionType.RELU
    return schema.ActivationFunctionType.TANH
