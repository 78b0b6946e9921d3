"""Serving an exported SavedModel with TensorFlow Serving's REST protocol, on KServe.

``rnn-zoo serve DIR --port 8501`` loads the SavedModel a recipe exported
(``DIR/export``, or DIR itself when it is a SavedModel directory) and serves
it with KServe's Python model server (``pip install "rnn_zoo[serve]"``):

- ``POST /v1/models/NAME:predict`` with ``{"instances": [...]}`` (row format,
  answered with ``{"predictions": [...]}``) or ``{"inputs": ...}`` (columnar,
  answered with ``{"outputs": ...}``), and optionally ``"signature_name"``
  (default ``serving_default``); a scalar input (a streaming export's
  ``batch_size``, :mod:`rnn_zoo.export.streaming`) is one value for the
  request, in the columnar format;
- ``GET /v1/models/NAME``: TensorFlow Serving's ``model_version_status``;
- ``GET /v1/models/NAME/metadata``: every signature's inputs and outputs
  (names, dtypes, shapes) as TensorFlow Serving's ``signature_def`` JSON;
- KServe's own routes: ``GET /`` (live), ``GET /v2/health/ready``,
  ``GET /v2/models/NAME/ready``, ``GET /metrics`` (Prometheus).

Requests are checked before they reach TensorFlow (:class:`SavedModelEndpoint`
holds the protocol and the checks, KServe the HTTP server): a request that is
not valid JSON, has the wrong types or nesting, no instances, more than
``max_instances``, a string or sequence longer than ``max_length``, or an
unknown signature gets HTTP 400 and ``{"error": "..."}`` naming the problem;
an unknown model name gets 404, a body over :data:`MAX_BODY_BYTES` 413. The
server keeps serving after any of them.

The exported signatures pad a batch to its longest input and mask the
padding, so an input's answer does not depend on the lengths of the other
inputs in its request (at a given batch size and position, bit for bit).

Connections are bounded (:func:`serve`): a request head must arrive complete
within ``header_timeout`` seconds (else HTTP 408 and the connection closes),
an idle keep-alive connection closes after ``keep_alive_timeout`` seconds,
and a request on a connection beyond ``max_connections`` gets HTTP 503. A
client that disconnects before its answer is logged in one line. SIGINT and
SIGTERM stop the server gracefully: it stops accepting connections, answers
the requests in flight and exits normally.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of
# the route functions below (a `Request` parameter) at runtime.
import asyncio
import base64
import binascii
import contextlib
import json
import logging
import math
import os
import re
import signal
import sys
from dataclasses import dataclass

import numpy as np

# The signature TensorFlow Serving uses when a request names none.
DEFAULT_SIGNATURE = "serving_default"
# Instances per request unless --max-instances says otherwise.
DEFAULT_MAX_INSTANCES = 128
# Longest string (characters) or variable-length axis (steps) accepted when
# the export states no limit of its own: it bounds a request's work.
FALLBACK_MAX_LENGTH = 1024
# Seconds a client has to send a complete request head (request line and
# headers), from connecting or from the first byte of its next request.
DEFAULT_HEADER_TIMEOUT = 10.0
# Seconds an idle keep-alive connection stays open between requests
# (uvicorn's default; behind a load balancer, raise it above the balancer's
# own idle timeout so that the server never closes a connection first).
DEFAULT_KEEP_ALIVE_TIMEOUT = 5.0
# Open connections served at once; a request on one more gets HTTP 503.
DEFAULT_MAX_CONNECTIONS = 256
# Largest request body read; a larger one gets HTTP 413 before it is parsed.
MAX_BODY_BYTES = 64 * 1024 * 1024
# An exported directory holds one version of a model.
MODEL_VERSION = "1"
# Written beside the SavedModel by rnn_zoo's exports (:func:`write_export_info`):
# the input limits the export was built with, which the server enforces.
EXPORT_INFO_FILE = "rnn_zoo_export.json"
# The limits an export may record: the longest string (characters) or
# sequence (steps) one instance may have.
EXPORT_LIMITS = ("max_length", "min_han_characters")
# CJK unified ideographs (the basic block, extension A, compatibility, and
# extensions B-F in the supplementary planes): what "Chinese characters" means
# for an export that records min_han_characters.
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


def han_characters(text: str) -> int:
    """How many Chinese (CJK unified) characters ``text`` holds.

    >>> han_characters("这个手机很好用!"), han_characters("great phone")
    (7, 0)
    """
    return len(_HAN.findall(text))


# Exports written before EXPORT_INFO_FILE existed: the run.json info key of
# the recipe that holds the limit. Read for run directories of 0.1.0 only;
# to be removed in the next release.
_LEGACY_INPUT_LIMITS = {"names": "max_length", "g2p": "max_source_length"}
SERVE_EXTRA = 'pip install "rnn_zoo[serve]"'

_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_REQUEST_KEYS = ("instances", "inputs", "signature_name")


class RequestError(ValueError):
    """A request the server refuses with HTTP 400; the message names the problem."""


@dataclass(frozen=True)
class ServingTarget:
    """What ``rnn-zoo serve DIR`` serves.

    Attributes:
        saved_model: the SavedModel directory.
        name: the model name in the URLs (the recipe's name from
            ``run.json``, or the directory's name).
        max_length: the longest input the export accepts (characters), or
            None when it states no limit.
        recipe: the recipe that trained it, if the run directory says.
    """

    saved_model: str
    name: str
    max_length: int | None
    recipe: str | None


def write_export_info(export_dir: str | os.PathLike, **limits: int) -> str:
    """Records an export's input limits in ``export_dir/rnn_zoo_export.json``.

    The export functions of :mod:`rnn_zoo.export` call it after they write
    the SavedModel, so that ``rnn-zoo serve`` refuses the inputs the model
    was not built for, whatever trained it.

    Args:
        export_dir: the SavedModel directory.
        **limits: ``max_length``: the longest string (characters) or
            sequence (steps) one instance may have; ``min_han_characters``:
            the fewest Chinese characters a string must hold (a model of
            Chinese text refuses, say, English instead of guessing).

    Returns:
        The path of the file written.

    Example:

    >>> import tempfile
    >>> export_dir = tempfile.mkdtemp()
    >>> path = write_export_info(export_dir, max_length=24)
    >>> read_export_info(export_dir)
    {'max_length': 24}
    """
    unknown = sorted(set(limits) - set(EXPORT_LIMITS))
    if unknown:
        raise ValueError(
            f"An export records the limits {list(EXPORT_LIMITS)}. Received: {unknown}"
        )
    for name, value in limits.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"`{name}` must be a positive integer. Received: {name}={value!r}"
            )
    path = os.path.join(os.fspath(export_dir), EXPORT_INFO_FILE)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(dict(sorted(limits.items())), f, indent=1)
    return path


def read_export_info(export_dir: str | os.PathLike) -> dict:
    """The input limits recorded beside a SavedModel; ``{}`` when it records none.

    A missing or unreadable file, or a value that is not a positive integer,
    records nothing (the server then applies its own default).
    """
    path = os.path.join(os.fspath(export_dir), EXPORT_INFO_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(info, dict):
        return {}
    return {
        name: value
        for name, value in info.items()
        if name in EXPORT_LIMITS
        and isinstance(value, int)
        and not isinstance(value, bool)
        and value > 0
    }


def resolve(model_dir: str | os.PathLike) -> ServingTarget:
    """Finds the SavedModel, the model name and the input limit of a directory.

    Args:
        model_dir: a run directory (``rnn-zoo train ... --output DIR``), its
            ``export/`` directory, or any SavedModel directory.

    Returns:
        A :class:`ServingTarget`.

    Raises:
        FileNotFoundError: when neither ``model_dir`` nor ``model_dir/export``
            holds a SavedModel.
        rnn_zoo.training.run.RunFileError: (a ``ValueError``) the run.json
            beside it is damaged.
    """
    model_dir = os.path.abspath(os.fspath(model_dir))
    saved_model = None
    for candidate in (os.path.join(model_dir, "export"), model_dir):
        if any(
            os.path.isfile(os.path.join(candidate, f))
            for f in ("saved_model.pb", "saved_model.pbtxt")
        ):
            saved_model = candidate
            break
    if saved_model is None:
        raise FileNotFoundError(
            f"no SavedModel in {model_dir!r} or {os.path.join(model_dir, 'export')!r}: "
            "give the --output directory of `rnn-zoo train` or a SavedModel directory"
        )
    # run.json sits in the run directory, the export's parent.
    from rnn_zoo.training.run import read_run_file

    run = None
    for run_dir in (model_dir, os.path.dirname(saved_model)):
        path = os.path.join(run_dir, "run.json")
        if os.path.isfile(path):
            # Checked field by field: a damaged file is a RunFileError (a
            # ValueError naming the file and the field), not a traceback.
            run = read_run_file(path, need_args=False)
            break
    recipe = run.get("recipe") if isinstance(run, dict) else None
    max_length = read_export_info(saved_model).get("max_length")
    if max_length is None and recipe in _LEGACY_INPUT_LIMITS:
        # An export from before it recorded its limits: its run's info.
        info = run.get("info")
        value = (
            info.get(_LEGACY_INPUT_LIMITS[recipe]) if isinstance(info, dict) else None
        )
        if isinstance(value, int) and value > 0:
            max_length = value
    name = recipe or os.path.basename(saved_model.rstrip(os.sep))
    return ServingTarget(saved_model, name, max_length, recipe)


def check_model_name(name: str) -> str:
    """``name`` if it can stand in ``/v1/models/NAME:predict``, else ValueError."""
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        raise ValueError(
            "`name` must be letters, digits, '_', '.' or '-' (starting with a "
            f"letter or digit), to stand in /v1/models/NAME. Received: name={name!r}"
        )
    return name


def _kind(dtype) -> str:
    if dtype.name == "string":
        return "string"
    if dtype.is_bool:
        return "bool"
    if dtype.is_integer:
        return "int"
    if dtype.is_floating:
        return "float"
    return dtype.name


_KIND_WORDS = {
    "string": 'a string (or {"b64": "..."})',
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
}


def _describe(value) -> str:
    """How a JSON value reads in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        shown = repr(value)
        return f"the number {shown if len(shown) <= 24 else shown[:20] + '...'}"
    if isinstance(value, str):
        shown = value if len(value) <= 20 else value[:20] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return f"an object with keys {sorted(value)[:5]}"
    return type(value).__name__


class _Input:
    """One input of a signature: checks a batch of JSON values and makes its array."""

    def __init__(self, name: str, spec, max_length: int, min_han: int | None = None):
        self.name = name
        self.min_han = min_han
        self.dtype = spec.dtype
        self.kind = _kind(spec.dtype)
        shape = spec.shape
        # Per instance: the dimensions after the batch axis (None = any length).
        self.dims = tuple(shape.as_list()[1:]) if shape.rank is not None else None
        # A scalar input (a streaming export's batch_size) has no batch axis:
        # it is one value for the whole request, in the columnar format only.
        self.scalar = shape.rank == 0
        self.max_length = max_length

    def _leaf(self, value, where: str):
        kind = self.kind
        if kind == "string":
            if isinstance(value, dict) and set(value) == {"b64"}:
                try:
                    data = base64.b64decode(value["b64"], validate=True)
                except (binascii.Error, TypeError, ValueError) as error:
                    raise RequestError(
                        f"{where}: {{'b64': ...}} must hold base64 text ({error})"
                    ) from None
                size, unit = len(data), "bytes"
            elif isinstance(value, str):
                try:
                    data = value.encode("utf-8")
                except UnicodeEncodeError:
                    raise RequestError(
                        f"{where} is not valid Unicode (a lone surrogate escape)"
                    ) from None
                size, unit = len(value), "characters"
            else:
                raise RequestError(
                    f"{where} must be {_KIND_WORDS[kind]}, got {_describe(value)}"
                )
            if size > self.max_length:
                raise RequestError(
                    f"{where} is {size} {unit} long; this server accepts at most "
                    f"{self.max_length} (--max-length)"
                )
            if self.min_han and han_characters(data.decode("utf-8", "replace")) < (
                self.min_han
            ):
                raise RequestError(
                    f"{where} holds no Chinese characters ({_describe(value)}); "
                    "this model reads Chinese text"
                )
            return data
        if kind == "bool":
            if not isinstance(value, bool):
                raise RequestError(
                    f"{where} must be {_KIND_WORDS[kind]}, got {_describe(value)}"
                )
            return value
        if kind == "int":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise RequestError(
                    f"{where} must be {_KIND_WORDS[kind]}, got {_describe(value)}"
                )
            info = np.iinfo(self.dtype.as_numpy_dtype)
            if not info.min <= value <= info.max:
                raise RequestError(
                    f"{where} must fit {self.dtype.name} ({info.min} to {info.max}), "
                    f"got {_describe(value)}"
                )
            return value
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise RequestError(
                    f"{where} must be {_KIND_WORDS[kind]}, got {_describe(value)}"
                )
            limit = float(np.finfo(self.dtype.as_numpy_dtype).max)
            # Compare, don't convert: a JSON integer may be too large for a float.
            too_large = abs(value) > limit
            if too_large or (isinstance(value, float) and not math.isfinite(value)):
                raise RequestError(
                    f"{where} must be a finite {self.dtype.name} number, "
                    f"got {_describe(value)}"
                )
            return value
        raise RequestError(
            f"input {self.name!r} has dtype {self.dtype.name}, which JSON requests "
            "cannot carry"
        )

    def _walk(self, value, dims: tuple, where: str, flat: list) -> tuple:
        """Checks one instance's nesting against ``dims``; returns its shape."""
        if not dims:
            if isinstance(value, list):
                raise RequestError(
                    f"{where} must be {_KIND_WORDS.get(self.kind, self.kind)}, "
                    f"got a list (nested one level too deep)"
                )
            flat.append(self._leaf(value, where))
            return ()
        if not isinstance(value, list):
            raise RequestError(
                f"{where} must be a list ({len(dims)} more level"
                f"{'s' if len(dims) > 1 else ''} of nesting), got {_describe(value)}"
            )
        size, rest = dims[0], dims[1:]
        if not value:
            raise RequestError(f"{where} is an empty list")
        if size is not None and len(value) != size:
            raise RequestError(f"{where} must have {size} entries, got {len(value)}")
        if size is None and len(value) > self.max_length:
            raise RequestError(
                f"{where} has {len(value)} steps; this server accepts at most "
                f"{self.max_length} (--max-length)"
            )
        shape = None
        for i, item in enumerate(value):
            # "instance 0 of input 'frames' at [2][1]": the position inside.
            inner = f"{where}[{i}]" if where.endswith("]") else f"{where} at [{i}]"
            item_shape = self._walk(item, rest, inner, flat)
            if shape is None:
                shape = item_shape
            elif item_shape != shape:
                raise RequestError(
                    f"{where} is ragged: entry 0 has shape {list(shape)}, "
                    f"entry {i} has {list(item_shape)}"
                )
        return (len(value), *shape)

    def scalar_array(self, value) -> np.ndarray:
        """The 0-d array of a scalar input's JSON value."""
        value = self._leaf(value, f"input {self.name!r}")
        dtype = object if self.kind == "string" else self.dtype.as_numpy_dtype
        return np.array(value, dtype=dtype)

    def to_array(self, values: list) -> np.ndarray:
        """The batch array of a list of per-instance JSON values."""
        if self.dims is None:
            raise RequestError(
                f"input {self.name!r} has no known rank; it cannot be batched"
            )
        flat: list = []
        shape = None
        for i, value in enumerate(values):
            where = f"instance {i} of input {self.name!r}"
            item_shape = self._walk(value, self.dims, where, flat)
            if shape is None:
                shape = item_shape
            elif item_shape != shape:
                raise RequestError(
                    f"instances of input {self.name!r} differ in shape: "
                    f"instance 0 has {list(shape)}, instance {i} has "
                    f"{list(item_shape)}; pad them to one shape"
                )
        dtype = object if self.kind == "string" else self.dtype.as_numpy_dtype
        return np.array(flat, dtype=dtype).reshape((len(values), *shape))


class _Signature:
    """One signature of the SavedModel: its inputs, outputs and function."""

    def __init__(
        self, name: str, function, max_length: int, min_han: int | None = None
    ):
        self.name = name
        self.function = function
        specs = function.structured_input_signature[1]
        self.inputs = {
            key: _Input(key, spec, max_length, min_han)
            for key, spec in sorted(specs.items())
        }
        self.output_names = sorted(function.structured_outputs)


def _jsonable(array: np.ndarray):
    if array.dtype == object:
        decode = np.vectorize(
            lambda b: (
                b.decode("utf-8", errors="replace") if isinstance(b, bytes) else b
            ),
            otypes=[object],
        )
        return decode(array).tolist() if array.size else array.tolist()
    return array.tolist()


def _signature_defs(saved_model: str) -> dict:
    """TensorFlow Serving's JSON of each signature_def in the SavedModel file."""
    from google.protobuf import json_format, text_format
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    path = os.path.join(saved_model, "saved_model.pb")
    if os.path.isfile(path):
        with open(path, "rb") as f:
            proto.ParseFromString(f.read())
    else:
        with open(
            os.path.join(saved_model, "saved_model.pbtxt"), encoding="utf-8"
        ) as f:
            text_format.Parse(f.read(), proto)
    defs = proto.meta_graphs[0].signature_def
    return {
        name: json_format.MessageToDict(definition, preserving_proto_field_name=True)
        for name, definition in sorted(defs.items())
        # The initializer signature is TensorFlow's, not a serving endpoint.
        if not name.startswith("__")
    }


class SavedModelEndpoint:
    """A SavedModel's signatures behind TensorFlow Serving's REST JSON formats.

    Holds everything between the HTTP body and TensorFlow: parsing and
    checking a predict request, building each input's batch, running the
    signature, and shaping the answer as TensorFlow Serving does. The server
    (:func:`serve`) adds only HTTP. Thread-safe: concurrent requests may call
    :meth:`predict` at once.

    Args:
        saved_model: the SavedModel directory.
        name: the model's name in the URLs.
        max_instances: most instances (rows) one request may hold.
        max_length: longest string (characters) or variable-length axis
            (steps) of one instance.

    Example:

    >>> endpoint = SavedModelEndpoint("runs/names/export", name="names")  # doctest: +SKIP
    >>> endpoint.predict({"instances": ["Rossi"]})["predictions"][0]["label"]  # doctest: +SKIP
    'Italian'
    >>> endpoint.predict({"instances": []})  # doctest: +SKIP
    Traceback (most recent call last):
    RequestError: "instances" is empty: send at least one instance
    """

    def __init__(
        self,
        saved_model: str | os.PathLike,
        *,
        name: str,
        max_instances: int = DEFAULT_MAX_INSTANCES,
        max_length: int = FALLBACK_MAX_LENGTH,
    ):
        import tensorflow as tf

        from rnn_zoo import _checks

        self.name = check_model_name(name)
        self.max_instances = _checks.check_positive_int(max_instances, "max_instances")
        self.max_length = _checks.check_positive_int(max_length, "max_length")
        self.saved_model = os.fspath(saved_model)
        self._loaded = tf.saved_model.load(self.saved_model)
        # An export of a Chinese-text model records the Chinese characters a
        # string must hold (rnn_zoo.export writes it; see han_characters).
        min_han = read_export_info(self.saved_model).get("min_han_characters")
        self.signatures = {
            key: _Signature(key, function, self.max_length, min_han)
            for key, function in self._loaded.signatures.items()
        }
        if not self.signatures:
            raise ValueError(
                f"the SavedModel in {self.saved_model!r} has no signatures to serve"
            )
        self.default_signature = (
            DEFAULT_SIGNATURE
            if DEFAULT_SIGNATURE in self.signatures
            else sorted(self.signatures)[0]
        )
        self._signature_defs = _signature_defs(self.saved_model)

    def status(self) -> dict:
        """TensorFlow Serving's answer to ``GET /v1/models/NAME``."""
        return {
            "model_version_status": [
                {
                    "version": MODEL_VERSION,
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
            ]
        }

    def metadata(self) -> dict:
        """TensorFlow Serving's answer to ``GET /v1/models/NAME/metadata``.

        ``metadata.signature_def.signature_def`` maps each signature to its
        ``inputs`` and ``outputs`` (name -> ``dtype`` such as ``DT_STRING``,
        ``tensor_shape`` with ``-1`` for any size) and ``method_name``;
        ``metadata.rnn_zoo`` adds this server's limits and default signature.
        """
        return {
            "model_spec": {
                "name": self.name,
                "signature_name": "",
                "version": MODEL_VERSION,
            },
            "metadata": {
                "signature_def": {"signature_def": self._signature_defs},
                "rnn_zoo": {
                    "default_signature": self.default_signature,
                    "max_instances": self.max_instances,
                    "max_length": self.max_length,
                },
            },
        }

    def _signature(self, body: dict) -> _Signature:
        name = body.get("signature_name", self.default_signature)
        if not isinstance(name, str):
            raise RequestError(
                f'"signature_name" must be a string, got {_describe(name)}'
            )
        if name not in self.signatures:
            raise RequestError(
                f"unknown signature_name {name!r}; this model has: "
                f"{', '.join(sorted(self.signatures))}"
            )
        return self.signatures[name]

    def _check_count(self, count: int, what: str) -> None:
        if count == 0:
            raise RequestError(f"{what} is empty: send at least one instance")
        if count > self.max_instances:
            raise RequestError(
                f"{what} holds {count} instances; this server accepts at most "
                f"{self.max_instances} per request (--max-instances)"
            )

    def _row_columns(self, instances, signature: _Signature) -> dict:
        if not isinstance(instances, list):
            raise RequestError(
                f'"instances" must be a list, got {_describe(instances)}'
            )
        names = list(signature.inputs)
        if not names:
            raise RequestError(
                f"signature {signature.name!r} takes no inputs: send "
                f'{{"signature_name": "{signature.name}", "inputs": {{}}}}'
            )
        scalars = [name for name in names if signature.inputs[name].scalar]
        if scalars:
            raise RequestError(
                f"signature {signature.name!r} takes the scalar input(s) {scalars}, "
                'one value per request: send them in the columnar format {"inputs": '
                "{...}}"
            )
        self._check_count(len(instances), '"instances"')
        columns: dict = {name: [] for name in names}
        for i, instance in enumerate(instances):
            # One input: the instance is its value (or {name: value}).
            if len(names) == 1 and not (
                isinstance(instance, dict) and set(instance) == set(names)
            ):
                columns[names[0]].append(instance)
                continue
            if not isinstance(instance, dict):
                raise RequestError(
                    f"instance {i} must be an object with the inputs "
                    f"{names} of signature {signature.name!r}, got "
                    f"{_describe(instance)}"
                )
            if set(instance) != set(names):
                raise RequestError(
                    f"instance {i} must have exactly the inputs {names} of "
                    f"signature {signature.name!r}, got keys {sorted(instance)}"
                )
            for name in names:
                columns[name].append(instance[name])
        return columns

    def _columnar_columns(self, inputs, signature: _Signature) -> dict:
        names = list(signature.inputs)
        if not names:
            if inputs not in ({}, [], None):
                raise RequestError(
                    f"signature {signature.name!r} takes no inputs: send "
                    f'"inputs": {{}}, got {_describe(inputs)}'
                )
            return {}
        if len(names) == 1 and not (
            isinstance(inputs, dict) and set(inputs) == set(names)
        ):
            inputs = {names[0]: inputs}
        if not isinstance(inputs, dict) or set(inputs) != set(names):
            raise RequestError(
                f'"inputs" must be an object with exactly the inputs {names} of '
                f"signature {signature.name!r}, got {_describe(inputs)}"
            )
        count = None
        for name in names:
            column = inputs[name]
            if signature.inputs[name].scalar:
                continue
            if not isinstance(column, list):
                raise RequestError(
                    f'"inputs" {name!r} must be a list (one entry per instance), '
                    f"got {_describe(column)}"
                )
            self._check_count(len(column), f'"inputs" {name!r}')
            if count is not None and len(column) != count:
                raise RequestError(
                    f'the "inputs" differ in batch size: {names[0]!r} has {count}, '
                    f"{name!r} has {len(column)}"
                )
            count = len(column)
        return inputs

    def parse(self, body) -> tuple[_Signature, dict, bool]:
        """Checks a predict request: (signature, input arrays, row format?).

        Args:
            body: the request body: bytes or str of JSON, or the parsed JSON.

        Raises:
            RequestError: naming what is wrong with the request.
        """
        if isinstance(body, bytes | bytearray | str):
            try:
                body = json.loads(body, parse_constant=_reject_constant)
            except (ValueError, RecursionError) as error:
                raise RequestError(
                    f"the request body is not valid JSON: {error}"
                ) from None
        if not isinstance(body, dict):
            raise RequestError(
                'the request body must be a JSON object with "instances" or '
                f'"inputs", got {_describe(body)}'
            )
        unknown = sorted(set(body) - set(_REQUEST_KEYS))
        if unknown:
            raise RequestError(
                f"unknown request field(s) {unknown}; a predict request has "
                f'"instances" or "inputs", and optionally "signature_name"'
            )
        if ("instances" in body) == ("inputs" in body):
            raise RequestError(
                'a predict request must have exactly one of "instances" (row '
                'format) or "inputs" (columnar format)'
            )
        signature = self._signature(body)
        row = "instances" in body
        if row:
            columns = self._row_columns(body["instances"], signature)
        else:
            columns = self._columnar_columns(body["inputs"], signature)
        arrays = {
            name: (
                signature.inputs[name].scalar_array(values)
                if signature.inputs[name].scalar
                else signature.inputs[name].to_array(values)
            )
            for name, values in columns.items()
        }
        return signature, arrays, row

    def run(self, signature: _Signature, arrays: dict) -> dict:
        """Runs a signature on checked arrays; returns its outputs as NumPy."""
        import tensorflow as tf

        tensors = {
            name: tf.constant(array, dtype=signature.inputs[name].dtype)
            for name, array in arrays.items()
        }
        try:
            outputs = signature.function(**tensors)
        except tf.errors.InvalidArgumentError as error:
            # TensorFlow Serving answers INVALID_ARGUMENT with 400 too.
            raise RequestError(
                f"signature {signature.name!r} refused the input: {error.message}"
            ) from None
        return {name: outputs[name].numpy() for name in signature.output_names}

    def predict(self, body) -> dict:
        """Answers a predict request body as TensorFlow Serving does.

        Row format (``"instances"``) gets ``{"predictions": [...]}``, one entry
        per instance (the output's value when the signature has one output,
        else an object of all outputs); columnar format (``"inputs"``) gets
        ``{"outputs": ...}`` (the value, or an object of all outputs).

        Raises:
            RequestError: naming what is wrong with the request.
        """
        signature, arrays, row = self.parse(body)
        outputs = self.run(signature, arrays)
        if not row:
            values = {name: _jsonable(value) for name, value in outputs.items()}
            if len(values) == 1:
                return {"outputs": next(iter(values.values()))}
            return {"outputs": values}
        count = len(next(iter(arrays.values())))
        for name, value in outputs.items():
            if value.ndim == 0 or len(value) != count:
                raise RequestError(
                    f"output {name!r} of signature {signature.name!r} has no "
                    f"batch axis of {count}; ask with the columnar format "
                    '{"inputs": ...}'
                )
        values = {name: _jsonable(value) for name, value in outputs.items()}
        if len(values) == 1:
            return {"predictions": next(iter(values.values()))}
        return {
            "predictions": [
                {name: value[i] for name, value in values.items()} for i in range(count)
            ]
        }


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _import_kserve():
    """Imports kserve, which parses ``sys.argv`` when it is imported."""
    saved = sys.argv
    # kserve.model_server reads its own flags from sys.argv at import time;
    # rnn-zoo's flags are not for it.
    sys.argv = saved[:1]
    try:
        import kserve
        import kserve.model_server
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"serving needs KServe's model server ({error}); install it with: "
            f"{SERVE_EXTRA}",
            name=error.name,
        ) from error
    finally:
        sys.argv = saved
    return kserve


def _kserve_model(kserve, endpoint: SavedModelEndpoint):
    """A ``kserve.Model`` that answers with ``endpoint``."""
    from kserve.errors import InvalidInput

    class RnnZooModel(kserve.Model):
        def __init__(self):
            super().__init__(endpoint.name)
            self.endpoint = endpoint
            self.ready = True

        def load(self) -> bool:
            self.ready = True
            return True

        def validate(self, payload):
            # SavedModelEndpoint.parse checks requests (in predict's thread).
            return payload

        async def predict(self, payload, headers=None, response_headers=None):
            try:
                # TensorFlow runs outside the event loop, so that requests
                # keep being read (and run side by side) while one computes.
                return await asyncio.to_thread(self.endpoint.predict, payload)
            except RequestError as error:
                raise InvalidInput(str(error)) from None

    return RnnZooModel()


# Connection events (timeouts, disconnects) go to the server's own log.
_log = logging.getLogger("uvicorn.error")
# nginx's status for a request whose client closed the connection first; the
# answer is never sent, but the request's log lines say what happened.
_CLIENT_CLOSED = 499


def _peer(client) -> str:
    return f"{client[0]}:{client[1]}" if client else "a client"


def _head_timeout_protocol(header_timeout: float):
    """uvicorn's HTTP protocol, with a deadline for each request head.

    uvicorn closes idle keep-alive connections but waits for a request head
    as long as the client likes: a client that connects and sends nothing,
    or half a request line, holds its connection (and a place under
    ``max_connections``) forever. The deadline runs from the moment the
    connection opens, and on a kept-alive connection from the first byte of
    the next request (before it, ``timeout_keep_alive`` applies); trickling
    bytes does not extend it. When it passes, the client gets HTTP 408 and
    the connection closes.
    """
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class HeadTimeoutProtocol(AutoHTTPProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            self._head_timer = None
            self._start_head_timer()

        def data_received(self, data: bytes) -> None:
            if self._head_timer is None and (
                self.cycle is None or self.cycle.response_complete
            ):
                self._start_head_timer()
            super().data_received(data)
            # uvicorn starts a new request cycle once a head is complete (or
            # hands the connection to another protocol, for a WebSocket).
            if self.cycle is not self._head_cycle or (
                self.transport.get_protocol() is not self
            ):
                self._stop_head_timer()

        def connection_lost(self, exc):
            self._stop_head_timer()
            super().connection_lost(exc)

        def _start_head_timer(self) -> None:
            self._head_cycle = self.cycle
            self._head_timer = self.loop.call_later(header_timeout, self._head_late)

        def _stop_head_timer(self) -> None:
            if getattr(self, "_head_timer", None) is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_late(self) -> None:
            self._head_timer = None
            if self.transport.is_closing():
                return
            _log.info(
                "%s - no complete request head within %g s (--header-timeout): "
                "answered 408 and closed the connection",
                _peer(self.client),
                header_timeout,
            )
            body = b"Request Timeout: the request head did not arrive in time\n"
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\n"
                b"content-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
            )
            self.transport.close()

    return HeadTimeoutProtocol


def _client_gone(request, when: str):
    """Logs a client that closed its connection early; the (unsent) answer."""
    from fastapi.responses import Response

    _log.info(
        '%s - client disconnected %s ("%s %s"); nothing was answered',
        _peer(request.client),
        when,
        request.method,
        request.url.path,
    )
    return Response(status_code=_CLIENT_CLOSED)


def _add_routes(app, dataplane, endpoint: SavedModelEndpoint) -> None:
    """Adds TensorFlow Serving's routes ahead of KServe's (first match wins)."""
    from fastapi import Request
    from fastapi.responses import ORJSONResponse
    from kserve.errors import InvalidInput
    from starlette.requests import ClientDisconnect

    async def model_status(model_name: str):
        await dataplane.model_ready(model_name)  # ModelNotFound -> 404
        return endpoint.status()

    async def model_metadata(model_name: str):
        await dataplane.model_ready(model_name)
        return endpoint.metadata()

    async def predict(model_name: str, request: Request):
        await dataplane.model_ready(model_name)
        # The raw body: the model parses it (as TensorFlow Serving does,
        # whatever the Content-Type), so that bad JSON gets a clear 400.
        # Read at most MAX_BODY_BYTES of it: a huge body is refused unread.
        too_large = ORJSONResponse(
            {
                "error": f"the request body is larger than {MAX_BODY_BYTES} bytes; "
                "send fewer instances per request"
            },
            status_code=413,
        )
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return too_large
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    return too_large
                chunks.append(chunk)
        except ClientDisconnect:
            # Not a server error: KServe's handler would log it as a 500 with
            # a traceback, and uvicorn a second one.
            return _client_gone(request, "before sending the whole request body")
        try:
            response, _ = await dataplane.infer(
                model_name=model_name,
                request=b"".join(chunks),
                headers=dict(request.headers),
            )
        except InvalidInput as error:
            # Answered here rather than by KServe's handler, which logs a
            # traceback per bad request; the access log still shows the 400.
            return ORJSONResponse({"error": str(error)}, status_code=400)
        if await request.is_disconnected():
            return _client_gone(request, "before its answer was ready")
        return ORJSONResponse(response)

    app.add_api_route("/v1/models/{model_name}", model_status, methods=["GET"])
    app.add_api_route(
        "/v1/models/{model_name}/metadata", model_metadata, methods=["GET"]
    )
    app.add_api_route(
        "/v1/models/{model_name}:predict",
        predict,
        methods=["POST"],
        response_model=None,
    )


def seconds(text: str) -> float:
    """A positive, finite number of seconds from a command-line flag.

    For ``argparse``'s ``type=``: anything else is refused with a message
    that names the value.
    """
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive number of seconds, got {text!r}"
        )
    return value


def _check_seconds(value, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(
            f"`{name}` must be a positive, finite number of seconds. "
            f"Received: {name}={value!r}"
        )
    return float(value)


class _StoppedEarly(Exception):
    """SIGINT or SIGTERM came before the server started serving."""


@contextlib.contextmanager
def _stop_on_signals(state: dict):
    """SIGINT and SIGTERM stop the server gracefully, in this scope only.

    While it serves, uvicorn handles both itself: it stops accepting
    connections, answers the requests in flight, then raises the signal again
    for the handler it found. Python's own would turn that into a
    KeyboardInterrupt traceback (SIGINT) or death by signal (SIGTERM); this
    one asks the server to stop (again: harmless), so that serving returns
    normally. Before the server runs, it raises :class:`_StoppedEarly`.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        # Only the main thread has signal handlers (and uvicorn's too).
        yield
        return

    def stop(signum, frame):
        server = state.get("server")
        if server is None:
            raise _StoppedEarly(signal.Signals(signum).name)
        server.should_exit = True

    previous = {
        sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve(
    model_dir: str | os.PathLike,
    *,
    port: int,
    host: str = "127.0.0.1",
    name: str | None = None,
    max_instances: int = DEFAULT_MAX_INSTANCES,
    max_length: int | None = None,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> None:
    """Serves a run's SavedModel over HTTP until interrupted (Ctrl-C, SIGTERM).

    On SIGINT or SIGTERM the server stops accepting connections, answers the
    requests in flight (for up to 30 s) and returns; a second Ctrl-C stops it
    at once.

    Args:
        model_dir: a run directory, its ``export/``, or a SavedModel directory.
        port: the HTTP port.
        host: the address to listen on (``0.0.0.0`` for every interface).
        name: the model name in the URLs; default :func:`resolve`'s.
        max_instances: most instances per request.
        max_length: longest string or sequence per instance; default the
            export's own limit, else :data:`FALLBACK_MAX_LENGTH`.
        header_timeout: seconds a client has to send a complete request head,
            from connecting (or, on a kept-alive connection, from the first
            byte of its next request); later, it gets HTTP 408 and the
            connection closes.
        keep_alive_timeout: seconds an idle connection stays open after an
            answer.
        max_connections: open connections served at once; a request on a
            connection beyond them gets HTTP 503 and the connection closes.

    Example:

    >>> serve("runs/names", port=8501)  # doctest: +SKIP
    """
    from rnn_zoo import _checks

    port = _checks.check_positive_int(port, "port")
    if port > 65535:
        raise ValueError(f"`port` must be at most 65535. Received: port={port}")
    header_timeout = _check_seconds(header_timeout, "header_timeout")
    keep_alive_timeout = _check_seconds(keep_alive_timeout, "keep_alive_timeout")
    max_connections = _checks.check_positive_int(max_connections, "max_connections")
    target = resolve(model_dir)
    state: dict = {}
    try:
        with _stop_on_signals(state):
            state["server"] = _server(
                target,
                port=port,
                host=host,
                name=name,
                max_instances=max_instances,
                max_length=max_length,
                header_timeout=header_timeout,
                keep_alive_timeout=keep_alive_timeout,
                max_connections=max_connections,
            )
            asyncio.run(state["server"].serve())
    except _StoppedEarly as stopped:
        print(f"Stopped by {stopped} before serving.", file=sys.stderr, flush=True)


def _server(
    target: ServingTarget,
    *,
    port: int,
    host: str,
    name: str | None,
    max_instances: int,
    max_length: int | None,
    header_timeout: float,
    keep_alive_timeout: float,
    max_connections: int,
):
    """The uvicorn server of KServe's application, serving ``target``."""
    kserve = _import_kserve()
    import uvicorn
    from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
    from kserve.protocol.rest.server import RESTServer

    endpoint = SavedModelEndpoint(
        target.saved_model,
        name=name or target.name,
        max_instances=max_instances,
        max_length=max_length or target.max_length or FALLBACK_MAX_LENGTH,
    )
    server = kserve.ModelServer(http_port=port, enable_grpc=False, workers=1)
    server.register_model(_kserve_model(kserve, endpoint))
    _add_routes(kserve.model_server.app, server.dataplane, endpoint)
    rest = RESTServer(
        FASTAPI_APP_IMPORT_STRING,
        server.dataplane,
        server.model_repository_extension,
        port,
        timeout_keep_alive=keep_alive_timeout,
    )
    # KServe listens on 0.0.0.0; the host is the user's choice here.
    rest.config.host = host
    rest.config.http = _head_timeout_protocol(header_timeout)
    # uvicorn answers 503 once the open connections, counting the asking
    # one, reach limit_concurrency: max_connections are served, one more not.
    rest.config.limit_concurrency = max_connections + 1
    rest.create_application()
    print(
        f"Serving {endpoint.name!r} from {target.saved_model} on http://{host}:{port} "
        f"(POST /v1/models/{endpoint.name}:predict; signatures: "
        f"{', '.join(sorted(endpoint.signatures))})",
        flush=True,
    )
    # What RESTServer.start() runs, held here so that a signal can stop it.
    return uvicorn.Server(rest.config)
