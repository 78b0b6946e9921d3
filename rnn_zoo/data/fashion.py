"""Fashion-MNIST read from its IDX files, for sequential (pixel-by-pixel) tasks.

Fashion-MNIST (H. Xiao, K. Rasul and R. Vollgraf, "Fashion-MNIST: a Novel
Image Dataset for Benchmarking Machine Learning Algorithms", 2017; MIT
licence) holds 70,000 grey 28 x 28 images of clothing in 10 classes, 60,000
for training and 10,000 for testing. Read one pixel at a time in row order,
an image is a sequence of 784 steps of one feature, a long-range task for a
recurrent network (the class depends on pixels hundreds of steps apart).

The four ``*-ubyte.gz`` IDX files are read from the first directory that has
them: ``data_dir`` if given, ``$KERAS_HOME/datasets/fashion-mnist/`` (where
``keras.datasets.fashion_mnist.load_data()`` keeps them;
``~/.keras/datasets/fashion-mnist/`` without ``KERAS_HOME``), then
``/usr/share/datasets/fashion-mnist/``, where the Debian package
``dataset-fashion-mnist`` installs them (``apt-get install
dataset-fashion-mnist``). Nothing is downloaded.

Example, on a tiny IDX file written here:

>>> import os, tempfile
>>> import numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx3-ubyte.gz")
>>> write_idx(path, np.arange(8, dtype=np.uint8).reshape(2, 2, 2))
>>> read_idx(path).tolist()  # (images, rows, columns)
[[[0, 1], [2, 3]], [[4, 5], [6, 7]]]
"""

from __future__ import annotations

import dataclasses
import gzip
import os
from typing import TYPE_CHECKING

import numpy as np

from rnn_zoo import _checks

if TYPE_CHECKING:
    import tensorflow as tf

# The class names, in label order.
CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGE_SIZE = 28
# Steps of the pixel-by-pixel sequence (one grey value each).
PIXELS = IMAGE_SIZE * IMAGE_SIZE
# Where the Debian package installs the files, and the package itself.
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
APT_PACKAGE = "dataset-fashion-mnist"
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
# IDX type codes (the third byte of the magic number); multi-byte values are
# big-endian.
_IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _open(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def read_idx(path: str) -> np.ndarray:
    """The array in an IDX file (gzipped when ``path`` ends in ``.gz``).

    Raises:
        ValueError: when the file is not IDX or is shorter than its header says.
    """
    with _open(path) as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(
            f"{path!r} is not an IDX file: expected the magic bytes 0, 0, a type "
            f"code in {sorted(_IDX_TYPES)} and the rank. Received: {list(raw[:4])}"
        )
    dtype, rank = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * rank
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    size = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header < size:
        raise ValueError(
            f"{path!r} is truncated: its header says shape {shape} "
            f"({size} bytes of data). Received: {len(raw) - header} bytes"
        )
    data = np.frombuffer(raw[header : header + size], dtype=dtype)
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str, array: np.ndarray) -> None:
    """Writes ``array`` as an IDX file (gzipped when ``path`` ends in ``.gz``)."""
    array = np.asarray(array)
    codes = {
        dtype.kind + str(dtype.itemsize): code for code, dtype in _IDX_TYPES.items()
    }
    code = codes.get(array.dtype.kind + str(array.dtype.itemsize))
    if code is None:
        raise TypeError(
            "`array` must have an IDX dtype (uint8, int8, int16, int32, float32, "
            f"float64). Received: dtype={array.dtype}"
        )
    header = (
        bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    )
    data = array.astype(_IDX_TYPES[code]).tobytes()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + data)


def candidate_dirs(data_dir: str | None = None) -> list[str]:
    """Where the files are looked for, in order (see the module docstring)."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    dirs = [os.path.join(keras_home, "datasets", "fashion-mnist"), DEBIAN_DIR]
    return ([data_dir] if data_dir is not None else []) + dirs


def find_data_dir(data_dir: str | None = None) -> str:
    """The first of :func:`candidate_dirs` that holds the four IDX files.

    Raises:
        FileNotFoundError: when none does; the message names the Debian package.
    """
    for directory in candidate_dirs(data_dir):
        if all(os.path.isfile(os.path.join(directory, f)) for f in FILES.values()):
            return directory
    raise FileNotFoundError(
        f"Fashion-MNIST's IDX files ({', '.join(FILES.values())}) are in none of "
        f"{candidate_dirs(data_dir)}. Install the Debian package {APT_PACKAGE} "
        f"(apt-get install {APT_PACKAGE}), or copy the files into "
        "$KERAS_HOME/datasets/fashion-mnist/."
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
    """Images uint8 ``(n, 28, 28)`` and labels uint8 ``(n,)`` (into :data:`CLASSES`)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclasses.dataclass(frozen=True, eq=False)
class FashionData:
    train: Split
    test: Split
    data_dir: str


def load_fashion_mnist(
    data_dir: str | None = None,
    *,
    max_train: int | None = None,
    max_test: int | None = None,
) -> FashionData:
    """The official splits, or their first ``max_train`` / ``max_test`` images.

    Raises:
        FileNotFoundError: when the files are missing (names the apt package).
        ValueError: when ``max_train``/``max_test`` is not a positive integer.
    """
    limits = {}
    for name, value in (("max_train", max_train), ("max_test", max_test)):
        limits[name] = (
            None if value is None else _checks.check_positive_int(value, name)
        )
    directory = find_data_dir(data_dir)
    arrays = {k: read_idx(os.path.join(directory, f)) for k, f in FILES.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or len(images) != len(labels):
            raise ValueError(
                f"{directory!r}: the {split} images must be (n, 28, 28) with one "
                f"label each. Received: images {images.shape}, labels {labels.shape}"
            )
    return FashionData(
        train=Split(
            arrays["train_images"][: limits["max_train"]],
            arrays["train_labels"][: limits["max_train"]],
        ),
        test=Split(
            arrays["test_images"][: limits["max_test"]],
            arrays["test_labels"][: limits["max_test"]],
        ),
        data_dir=directory,
    )


def pixel_sequences(images: np.ndarray) -> np.ndarray:
    """float32 ``(n, 784, 1)`` in [0, 1]: each image read row by row, one pixel a step.

    >>> pixel_sequences(np.full((2, 28, 28), 255, np.uint8)).shape
    (2, 784, 1)
    """
    images = np.asarray(images)
    return (images.reshape(len(images), PIXELS, 1) / 255.0).astype("float32")


def make_dataset(
    split: Split,
    *,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """Batched ``(pixels (b, 784, 1), label (b,))``, reshuffled each epoch when ``shuffle``."""
    import tensorflow as tf

    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    ds = tf.data.Dataset.from_tensor_slices(
        (pixel_sequences(split.images), split.labels.astype("int32"))
    )
    if shuffle:
        ds = ds.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
