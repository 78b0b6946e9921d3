"""Training checkpoints on disk: atomic to write, verified to read.

A checkpoint is a directory ``OUTPUT/checkpoints/ckpt-<global step>``
holding:

- ``state.json``: the training position (epoch, step), the run's flags, the
  history so far, the callbacks' state and, last, ``files``: the SHA-256 of
  every other file in the checkpoint;
- ``arrays.npz``: named numpy arrays (every model, optimizer and metric
  variable, random seed states included, and early stopping's best weights);
- ``tf/``: a ``tf.train.Checkpoint`` of TensorFlow objects that carry their
  own state, such as the ``tf.data`` iterator (its position, its shuffle
  buffer and the shuffle's seed state).

How a write survives a kill: everything is written into a hidden temporary
directory beside the checkpoints, each file and the directory are fsynced,
and only then is the directory renamed to its final name (one atomic
``rename``), and the parent fsynced. A kill at any moment leaves either the
complete new checkpoint or none (plus a ``.tmp-*`` directory that the next
write removes); the older checkpoints are pruned only after the new one is
in place, keeping the newest :data:`KEEP`. Reading checks every file's
SHA-256, so a damaged checkpoint is skipped for the one before it.

A write that fails (a full disk, a file-size limit, a TensorFlow write
error) removes its temporary directory and raises
:class:`CheckpointWriteError`, an ``OSError`` that names the checkpoint and
the newest complete one, which is left as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from typing import Any

import numpy as np

CHECKPOINT_DIR = "checkpoints"
# How many complete checkpoints stay on disk.
KEEP = 2
# Bumped when the layout changes; an older layout is refused, not misread.
FORMAT = 1
STATE_FILE = "state.json"
ARRAYS_FILE = "arrays.npz"
TF_PREFIX = os.path.join("tf", "ckpt")
_NAME = re.compile(r"^ckpt-(\d{9})$")
_TMP_PREFIX = ".tmp-"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read (damaged, foreign or of another layout)."""


class CheckpointWriteError(OSError):
    """A checkpoint that could not be written (full disk, file-size limit, ...).

    ``errno`` is the failed write's, when the operating system gave one; the
    checkpoints written before are intact.
    """

    def __init__(self, message: str, errno: int | None = None):
        super().__init__(message)
        self.errno = errno


def checkpoint_name(global_step: int) -> str:
    return f"ckpt-{global_step:09d}"


def list_checkpoints(directory: str) -> list[str]:
    """The complete checkpoints in ``directory``, oldest first (by global step)."""
    if not os.path.isdir(directory):
        return []
    names = sorted(n for n in os.listdir(directory) if _NAME.match(n))
    return [os.path.join(directory, n) for n in names]


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files_under(root: str) -> list[str]:
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            found.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(found)


def remove_partial_writes(directory: str) -> list[str]:
    """Deletes the temporary directories that killed writes left behind."""
    if not os.path.isdir(directory):
        return []
    removed = []
    for name in os.listdir(directory):
        if name.startswith(_TMP_PREFIX):
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)
            removed.append(name)
    return removed


def write_checkpoint(
    directory: str,
    global_step: int,
    state: dict[str, Any],
    arrays: dict[str, np.ndarray],
    tf_objects: dict[str, Any] | None = None,
    *,
    keep: int = KEEP,
) -> str:
    """Writes one checkpoint atomically, then prunes to the newest ``keep``.

    Args:
        directory: the checkpoints directory (created if missing).
        global_step: names the checkpoint; a later checkpoint has a larger one.
        state: JSON-serializable training state.
        arrays: named arrays.
        tf_objects: trackable TensorFlow objects for ``tf.train.Checkpoint``
            (a ``tf.data`` iterator, say).
        keep: how many checkpoints to leave.

    Returns:
        The new checkpoint's path.
    """
    os.makedirs(directory, exist_ok=True)
    remove_partial_writes(directory)
    final = os.path.join(directory, checkpoint_name(global_step))
    tmp = tempfile.mkdtemp(
        prefix=f"{_TMP_PREFIX}{checkpoint_name(global_step)}-", dir=directory
    )
    try:
        os.chmod(tmp, 0o755)  # mkdtemp's 0o700 would hide the checkpoint from others
        with open(os.path.join(tmp, ARRAYS_FILE), "wb") as f:
            np.savez(f, **arrays)
        if tf_objects:
            import tensorflow as tf

            tf.train.Checkpoint(**tf_objects).write(os.path.join(tmp, TF_PREFIX))
        files = {name: _sha256(os.path.join(tmp, name)) for name in _files_under(tmp)}
        payload = {**state, "format": FORMAT, "global_step": global_step}
        payload["files"] = files
        with open(os.path.join(tmp, STATE_FILE), "w", encoding="utf-8") as f:
            json.dump(payload, f, ensure_ascii=False)
        for folder, _, names in os.walk(tmp):
            for name in names:
                _fsync_path(os.path.join(folder, name))
            _fsync_path(folder)
        replaced = None
        if os.path.exists(final):
            # The same step written again: move the old copy aside first, so
            # that a kill between the renames still leaves complete checkpoints.
            replaced = tempfile.mkdtemp(prefix=_TMP_PREFIX + "old-", dir=directory)
            os.rename(final, os.path.join(replaced, "old"))
        os.rename(tmp, final)
        _fsync_path(directory)
        if replaced is not None:
            shutil.rmtree(replaced, ignore_errors=True)
    except BaseException as error:
        shutil.rmtree(tmp, ignore_errors=True)
        if not isinstance(error, Exception) or not _is_write_error(error):
            raise
        previous = list_checkpoints(directory)
        raise CheckpointWriteError(
            f"cannot write checkpoint {final}: {_reason(error)}; the newest "
            f"complete checkpoint, {previous[-1] if previous else '(none yet)'}, "
            "is intact",
            getattr(error, "errno", None),
        ) from error
    for old in list_checkpoints(directory)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _is_write_error(error: Exception) -> bool:
    if isinstance(error, OSError):
        return True
    # tf.train.Checkpoint's writes fail with a tf.errors.OpError.
    import sys

    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(error, tf.errors.OpError)


def _reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(getattr(error, "message", None) or error).splitlines()[0]


def read_state(path: str) -> dict[str, Any]:
    """A checkpoint's ``state.json``, after checking every file's SHA-256.

    Raises:
        CheckpointError: a missing or damaged file, or another layout.
    """
    try:
        with open(os.path.join(path, STATE_FILE), encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path}: unreadable {STATE_FILE} ({error})") from None
    if state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {state.get('format')!r}, this rnn_zoo "
            f"reads format {FORMAT}"
        )
    for name, digest in state.get("files", {}).items():
        file_path = os.path.join(path, name)
        if not os.path.isfile(file_path) or _sha256(file_path) != digest:
            raise CheckpointError(f"{path}: {name} is missing or damaged")
    return state


def read_arrays(path: str) -> dict[str, np.ndarray]:
    with np.load(os.path.join(path, ARRAYS_FILE), allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def restore_tf_objects(path: str, tf_objects: dict[str, Any]) -> None:
    """Restores ``tf_objects`` (as given to :func:`write_checkpoint`) in place."""
    import tensorflow as tf

    tf.train.Checkpoint(**tf_objects).read(
        os.path.join(path, TF_PREFIX)
    ).assert_existing_objects_matched()


def latest_checkpoint(directory: str) -> tuple[str, dict[str, Any]] | None:
    """The newest checkpoint that reads back whole, with its state; ``None`` if none.

    A damaged checkpoint is reported and skipped for the one before it.
    """
    for path in reversed(list_checkpoints(directory)):
        try:
            return path, read_state(path)
        except CheckpointError as error:
            print(f"Skipping a damaged checkpoint: {error}")
    return None
