"""Extracts "Pride and Prejudice" from the Debian r-cran-janeaustenr package.

Run once, by a maintainer, to (re)create
``rnn_zoo/data/texts/pride_and_prejudice.txt.gz``; rnn_zoo itself reads only
that embedded file. Needs the Debian package ``r-cran-janeaustenr`` and the
PyPI package ``rdata``:

    sudo apt-get install r-cran-janeaustenr
    pip install rdata
    python scripts/extract_austen.py

The package stores its data as R's lazy-load database: ``Rdata.rdx`` (a
gzip-compressed serialized index: object name -> [offset, length] in the
``.rdb``) and ``Rdata.rdb``, where each object is a 4-byte big-endian
uncompressed length followed by a zlib stream of a serialized R object (here a
character vector, one element per line of the Project Gutenberg text).
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import warnings
import zlib

import rdata

DEFAULT_SOURCE = "/usr/lib/R/site-library/janeaustenr/data/Rdata"
DEFAULT_TARGET = os.path.join(
    os.path.dirname(__file__),
    "..",
    "rnn_zoo",
    "data",
    "texts",
    "pride_and_prejudice.txt.gz",
)


def _parse(raw: bytes):
    # The payloads have no RDS/RDA header; rdata guesses RDS (right) and warns.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return rdata.conversion.convert(rdata.parser.parse_data(raw))


def read_novel(source: str, name: str) -> list[str]:
    """The lines of one novel (``prideprejudice``, ``emma``, ...) in the package."""
    with gzip.open(source + ".rdx") as f:
        index = _parse(f.read())
    variables = {str(k): v for k, v in index["variables"].items()}
    if name not in variables:
        raise ValueError(
            f"No object {name!r} in {source}.rdb; it has {sorted(variables)}"
        )
    offset, length = (int(x) for x in variables[name])
    with open(source + ".rdb", "rb") as f:
        f.seek(offset)
        blob = f.read(length)
    (size,) = struct.unpack(">I", blob[:4])
    raw = zlib.decompress(blob[4:])
    if len(raw) != size:
        raise ValueError(f"{name}: expected {size} bytes, decompressed {len(raw)}")
    return [str(line) for line in _parse(raw)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", default=DEFAULT_SOURCE, help="Rdata path, no suffix"
    )
    parser.add_argument("--target", default=DEFAULT_TARGET)
    args = parser.parse_args()
    lines = read_novel(args.source, "prideprejudice")
    text = "\n".join(lines)
    # mtime=0: the same text gives the same bytes, so git sees no spurious change.
    with (
        open(args.target, "wb") as raw,
        gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9
        ) as f,
    ):
        f.write(text.encode("utf-8"))
    print(
        f"{len(lines)} lines, {len(text)} characters -> {os.path.normpath(args.target)}"
    )


if __name__ == "__main__":
    main()
