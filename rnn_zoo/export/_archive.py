"""The pieces every SavedModel export shares: argument checks, the character
lookup, endpoint names, and writing the archive."""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence

import keras


def _check_strings(values, name: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(
            f"`{name}` must be a list of strings. Received: {name}={values!r}"
        )
    values = list(values)
    if not values or not all(isinstance(v, str) and v for v in values):
        raise ValueError(
            f"`{name}` must be a non-empty list of non-empty strings. "
            f"Received: {name}={values!r}"
        )
    if len(set(values)) != len(values):
        raise ValueError(
            f"`{name}` must not repeat entries. Received: {name}={values!r}"
        )
    return values


def _char_table(characters: Sequence[str], first_id: int, unknown_id: int):
    """A lookup table: ``characters[i]`` -> id ``first_id + i``, anything else -> ``unknown_id``."""
    import tensorflow as tf

    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(list(characters)),
            tf.range(first_id, first_id + len(characters), dtype=tf.int64),
        ),
        default_value=unknown_id,
    )


def _named(function, names: Sequence[str]):
    """``function`` with the parameter names ``names``.

    Clients call a restored endpoint by its input names (``classify(frames=...,
    lengths=...)``), which TensorFlow takes from the Python function.
    """
    function.__signature__ = inspect.Signature(
        [
            inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            for name in names
        ]
    )
    return function


def _write_archive(filepath, tracked, endpoints, verbose: bool) -> str:
    """Writes a SavedModel of ``endpoints`` (``(name, function, input_signature)``).

    ``tracked`` are the model and the lookup tables the functions use. The first
    endpoint also becomes ``serving_default`` (ExportArchive's rule).
    """
    archive = keras.export.ExportArchive()
    for resource in tracked:
        archive.track(resource)
    for name, function, signature in endpoints:
        archive.add_endpoint(name, function, input_signature=signature)
    filepath = os.fspath(filepath)
    archive.write_out(filepath, verbose=verbose)
    return filepath
