"""What the file exports (LiteRT, ONNX) share: the output path, the atomic
write, the error class and the recurrent layers they refuse."""

from __future__ import annotations

import os
import tempfile


class ExportError(ValueError):
    """A model, or one of its layers, that the chosen format cannot hold."""


def check_output_path(path, argument: str = "path") -> str:
    """``path`` as a string: a file that does not exist, in a writable folder."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"`{argument}` must be a file path. Received: {argument}={path!r}"
        )
    path = os.fspath(path)
    if os.path.exists(path):
        raise ValueError(
            f"`{argument}` must be a path that does not exist yet (rnn_zoo does not "
            f"overwrite an export). Received: {argument}={path!r}, which exists"
        )
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(
            f"`{argument}` must be in a writable directory. Received: "
            f"{argument}={path!r} ({parent!r} is not a writable directory)"
        )
    return path


def write_atomically(path: str, content: bytes) -> None:
    """Writes ``content`` to ``path`` through a temporary file: all of it or nothing."""
    handle, temporary = tempfile.mkstemp(
        dir=os.path.dirname(os.path.abspath(path)), suffix=".partial"
    )
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def check_recurrent(layer, kwargs, format: str, backward: bool = False, why=None):
    """Raises for a recurrent layer a file export cannot hold, naming it and why."""
    if why is None and layer.return_state:
        why = "return_state=True (the exported graph outputs the sequence only)"
    elif why is None and layer.stateful:
        why = "stateful=True (an exported file's calls share no state)"
    elif why is None and layer.go_backwards and not backward:
        why = "go_backwards=True outside a Bidirectional layer"
    elif why is None and kwargs.get("initial_state") is not None:
        why = "an initial_state input"
    elif why is None and layer.keras_cell:
        why = f"a Keras cell ({type(layer.cell).__name__}), not an rnn_zoo cell"
    if why:
        raise ExportError(
            f"Layer '{layer.name}' ({type(layer).__name__}) cannot be exported "
            f"to {format}: {why}."
        )
