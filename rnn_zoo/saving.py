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
- then Keras loads it with ``safe_mode=True``.

Nothing is unpickled: Keras's format holds JSON and HDF5 only.
"""

from __future__ import annotations

import json
import os
import posixpath
import zipfile

import keras

# What keras.saving.save_model writes at the top of a .keras archive.
_MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}
_ALLOWED_MODULES = ("keras", "rnn_zoo")
# Config objects that carry code rather than naming it.
_CODE_CLASSES = {"Lambda", "__lambda__"}


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


def _check_config(node, path: str, where: str = "config") -> None:
    if isinstance(node, dict):
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
        for key, value in node.items():
            _check_config(value, path, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check_config(value, path, f"{where}[{i}]")


def check_archive(path: str | os.PathLike) -> dict:
    """Checks a ``.keras`` archive without loading it; returns its config.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeArchiveError: (a ``ValueError``) the archive is not a zip, has
            members outside the archive or that Keras does not write, names
            objects from other modules, or holds a ``Lambda`` or a function.
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
        try:
            config = json.loads(archive.read("config.json"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UnsafeArchiveError(
                f"Refusing to load {path!r}: its config.json is not valid JSON ({error})."
            ) from error
    _check_config(config, path)
    return config


def load_model(path: str | os.PathLike, *, compile: bool = True) -> keras.Model:
    """Loads a ``.keras`` model after :func:`check_archive`, with ``safe_mode=True``.

    Args:
        path: the ``.keras`` file (e.g. a run directory's ``model.keras``).
        compile: restore the training configuration too.

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

    check_archive(path)
    return keras.saving.load_model(os.fspath(path), safe_mode=True, compile=compile)
