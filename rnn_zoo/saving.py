"""Loading ``.keras`` archives without running anything they carry.

A ``.keras`` file is a zip of ``config.json`` (the architecture),
``metadata.json`` and ``model.weights.h5``. Keras's ``safe_mode=True`` refuses
to deserialize Python lambdas; :func:`load_model` checks the archive before
Keras sees it as well:

- it must be a zip whose member names stay inside the archive (no absolute
  paths, no ``..``), with only the members Keras writes;
- every object its config names must come from ``keras`` or ``rnn_zoo`` (a
  config naming ``os``, ``subprocess`` or any other module is refused before
  anything is imported);
- no ``Lambda`` layer and no serialized Python function anywhere;
- ``config.json`` is at most :data:`MAX_CONFIG_BYTES` (16 MiB) of JSON,
  nested at most :data:`MAX_CONFIG_DEPTH` (100) levels deep, and every
  ``class_name``, ``module`` and ``registered_name`` in it is a string and
  every ``config`` an object (checked without recursion, so no archive can
  end in a ``RecursionError``);
- then Keras loads it with ``safe_mode=True``.

Nothing is unpickled: Keras's format holds JSON and HDF5 only.
"""

from __future__ import annotations

import json
import os
import posixpath
import tempfile
import zipfile

import keras

# What keras.saving.save_model writes at the top of a .keras archive.
_MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}
_ALLOWED_MODULES = ("keras", "rnn_zoo")
# Config objects that carry code rather than naming it.
_CODE_CLASSES = {"Lambda", "__lambda__"}
# The largest config.json read (bytes). rnn_zoo's largest models write well
# under 1 MiB; weights live in model.weights.h5, not here.
MAX_CONFIG_BYTES = 16 * 1024 * 1024
# The deepest nesting of objects and lists in config.json. A stacked,
# bidirectional, attention-decoding model nests under 30 levels; Python's
# JSON parser and Keras's deserializer recurse, so deeper is refused.
MAX_CONFIG_DEPTH = 100
# Keys that name things: each must hold a string (or be absent/null).
_NAME_KEYS = ("class_name", "module", "registered_name")


class UnsafeArchiveError(ValueError):
    """A ``.keras`` archive that :func:`load_model` refuses to load."""


def _check_members(archive: zipfile.ZipFile, path: str) -> None:
    for name in archive.namelist():
        parts = name.replace("\\", "/").split("/")
        if (
            name.startswith(("/", "\\"))
            or ".." in parts
            or (len(name) > 1 and name[1] == ":")
            or posixpath.normpath(name.replace("\\", "/")).startswith("..")
        ):
            raise UnsafeArchiveError(
                f"Refusing to load {path!r}: its member {name!r} points outside "
                "the archive (path traversal)."
            )
        top = parts[0]
        if top not in _MEMBERS and top != "assets":
            raise UnsafeArchiveError(
                f"Refusing to load {path!r}: unexpected member {name!r} (a .keras "
                f"archive holds {sorted(_MEMBERS)} and assets/)."
            )
    missing = {"config.json", "model.weights.h5"} - set(archive.namelist())
    if missing:
        raise UnsafeArchiveError(
            f"Refusing to load {path!r}: it lacks {sorted(missing)}, so it is not a "
            "model saved by keras.saving.save_model."
        )


def _module_allowed(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in _ALLOWED_MODULES)


def _check_object(node: dict, path: str, where: str) -> None:
    for key in _NAME_KEYS:
        value = node.get(key)
        if value is not None and not isinstance(value, str):
            raise UnsafeArchiveError(
                f"Refusing to load {path!r}: {where}.{key} must be a string; "
                f"received {type(value).__name__} {str(value)[:40]!r}."
            )
    if "class_name" in node and "config" in node:
        config = node["config"]
        if config is not None and not isinstance(config, (dict, str)):
            raise UnsafeArchiveError(
                f"Refusing to load {path!r}: {where}.config must be an object; "
                f"received {type(config).__name__}."
            )
    class_name = node.get("class_name")
    if class_name in _CODE_CLASSES:
        raise UnsafeArchiveError(
            f"Refusing to load {path!r}: {where} holds a {class_name!r} object, "
            "which carries Python code. rnn_zoo models contain no Lambda layers."
        )
    module = node.get("module")
    if (
        isinstance(module, str)
        and class_name is not None
        and not _module_allowed(module)
    ):
        raise UnsafeArchiveError(
            f"Refusing to load {path!r}: {where} names {class_name!r} from module "
            f"{module!r}; only objects from {list(_ALLOWED_MODULES)} are loaded."
        )
    registered = node.get("registered_name")
    if isinstance(registered, str) and ">" in registered:
        package = registered.split(">", 1)[0]
        if package not in _ALLOWED_MODULES:
            raise UnsafeArchiveError(
                f"Refusing to load {path!r}: {where} names the registered object "
                f"{registered!r}, from outside {list(_ALLOWED_MODULES)}."
            )


def _check_config(config, path: str) -> None:
    # Iterative (a stack of (node, where, depth)): a deep config is refused at
    # MAX_CONFIG_DEPTH instead of overflowing Python's stack.
    stack = [(config, "config", 1)]
    while stack:
        node, where, depth = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        if depth > MAX_CONFIG_DEPTH:
            raise UnsafeArchiveError(
                f"Refusing to load {path!r}: its config nests deeper than "
                f"{MAX_CONFIG_DEPTH} levels (at {where[:80]}...)."
            )
        if isinstance(node, dict):
            _check_object(node, path, where)
            children = [(value, f"{where}.{key}") for key, value in node.items()]
        else:
            children = [(value, f"{where}[{i}]") for i, value in enumerate(node)]
        stack.extend((child, name, depth + 1) for child, name in reversed(children))


def _nesting_depth(text: str) -> int:
    """The deepest nesting of [ and { in JSON text (outside strings), in one pass."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def check_archive(path: str | os.PathLike) -> dict:
    """Checks a ``.keras`` archive without loading it; returns its config.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeArchiveError: (a ``ValueError``) the archive is not a zip, has
            members outside the archive or that Keras does not write, names
            objects from other modules, or holds a ``Lambda`` or a function;
            its config.json is not JSON, over :data:`MAX_CONFIG_BYTES`,
            nested deeper than :data:`MAX_CONFIG_DEPTH`, or has a non-string
            where a name belongs.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No .keras archive at {path!r}")
    if not zipfile.is_zipfile(path):
        raise UnsafeArchiveError(
            f"Refusing to load {path!r}: it is not a .keras archive (not a zip file)."
        )
    with zipfile.ZipFile(path) as archive:
        _check_members(archive, path)
        size = archive.getinfo("config.json").file_size
        if size > MAX_CONFIG_BYTES:
            raise UnsafeArchiveError(
                f"Refusing to load {path!r}: its config.json is {size} bytes; at most "
                f"{MAX_CONFIG_BYTES} ({MAX_CONFIG_BYTES // 2**20} MiB) are read."
            )
        with archive.open("config.json") as member:
            # The header's size can lie; never read past the limit.
            raw = member.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise UnsafeArchiveError(
                f"Refusing to load {path!r}: its config.json is over "
                f"{MAX_CONFIG_BYTES} bytes ({MAX_CONFIG_BYTES // 2**20} MiB), the most read."
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UnsafeArchiveError(
                f"Refusing to load {path!r}: its config.json is not valid JSON ({error})."
            ) from error
        # Checked before parsing: json.loads recurses and would overflow.
        if _nesting_depth(text) > MAX_CONFIG_DEPTH:
            raise UnsafeArchiveError(
                f"Refusing to load {path!r}: its config nests deeper than "
                f"{MAX_CONFIG_DEPTH} levels."
            )
        try:
            config = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as error:
            raise UnsafeArchiveError(
                f"Refusing to load {path!r}: its config.json is not valid JSON ({error})."
            ) from None
    if not isinstance(config, dict):
        raise UnsafeArchiveError(
            f"Refusing to load {path!r}: its config.json must hold an object; "
            f"received {type(config).__name__}."
        )
    _check_config(config, path)
    return config


# keras.layers classes that rnn_zoo.layers has under the same name and
# weight layout: load_model(..., rnn_zoo_layers=True) swaps them in.
SWAPPABLE = (
    "SimpleRNN",
    "LSTM",
    "GRU",
    "RNN",
    "Bidirectional",
    "SimpleRNNCell",
    "LSTMCell",
    "GRUCell",
)


def _swap_keras_layers(config) -> int:
    """Rewrites keras.layers' recurrent classes in ``config`` to rnn_zoo's; returns the count."""
    import rnn_zoo.layers

    swapped = 0
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            name = node.get("class_name")
            if node.get("module") == "keras.layers" and name in SWAPPABLE:
                node["module"] = getattr(rnn_zoo.layers, name).__module__
                node["registered_name"] = f"rnn_zoo>{name}"
                swapped += 1
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return swapped


def load_model(
    path: str | os.PathLike, *, compile: bool = True, rnn_zoo_layers: bool = False
) -> keras.Model:
    """Loads a ``.keras`` model after :func:`check_archive`, with ``safe_mode=True``.

    Args:
        path: the ``.keras`` file (e.g. a run directory's ``model.keras``).
        compile: restore the training configuration too.
        rnn_zoo_layers: load a model saved with ``keras.layers``' recurrent
            layers (``SimpleRNN``, ``LSTM``, ``GRU``, ``RNN``,
            ``Bidirectional`` and the three cells) with rnn_zoo's classes of
            the same name instead: same weights, same outputs, rnn_zoo's
            kernels. (Keras itself resolves its own classes first, so
            ``custom_objects`` cannot do this.)

    Returns:
        The model.

    Raises:
        FileNotFoundError, UnsafeArchiveError: see :func:`check_archive`.

    Example:

    >>> from rnn_zoo import build_classifier
    >>> build_classifier(3, vocab_size=10, units=4).save("/tmp/tiny.keras")
    >>> load_model("/tmp/tiny.keras").output_shape
    (None, 3)
    """
    # Registers rnn_zoo's serializable classes before Keras reads the config
    # (`import rnn_zoo` alone imports them lazily, on first use).
    import rnn_zoo.decoding  # noqa: F401
    import rnn_zoo.layers  # noqa: F401

    config = check_archive(path)
    if not isinstance(rnn_zoo_layers, bool):
        raise TypeError(
            "`rnn_zoo_layers` must be True or False. Received: "
            f"rnn_zoo_layers={rnn_zoo_layers!r}"
        )
    if not rnn_zoo_layers or not _swap_keras_layers(config):
        return keras.saving.load_model(os.fspath(path), safe_mode=True, compile=compile)
    # The same archive with the rewritten config.json, in a temporary file.
    with tempfile.TemporaryDirectory() as folder:
        swapped = os.path.join(folder, "model.keras")
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(swapped, "w") as target:
            for item in source.infolist():
                if item.filename == "config.json":
                    target.writestr(item, json.dumps(config))
                else:
                    target.writestr(item, source.read(item.filename))
        return keras.saving.load_model(swapped, safe_mode=True, compile=compile)
