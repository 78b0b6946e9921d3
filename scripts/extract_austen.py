"""Extracts "Pride and Prejudice" from the Debian r-cran-janeaustenr package.

Run once, by a maintainer, to (re)create
``rnn_zoo/data/texts/pride_and_prejudice.txt.gz``; rnn_zoo itself reads only
that embedded file. Needs the Debian package ``r-cran-janeaustenr`` and the
PyPI package ``rdata``:

    sudo apt-get install r-cran-janeaustenr
    pip install rdata
    python scripts/extract_austen.py

The package's R data is read by :func:`rnn_zoo.data.janeaustenr.read_lines`
(one element per line of the Project Gutenberg text).
"""

from __future__ import annotations

import argparse
import gzip
import os

from rnn_zoo.data import janeaustenr

DEFAULT_SOURCE = janeaustenr.DEFAULT_DATA_PATH
DEFAULT_TARGET = os.path.join(
    os.path.dirname(__file__),
    "..",
    "rnn_zoo",
    "data",
    "texts",
    "pride_and_prejudice.txt.gz",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", default=DEFAULT_SOURCE, help="Rdata path, no suffix"
    )
    parser.add_argument("--target", default=DEFAULT_TARGET)
    args = parser.parse_args()
    lines = janeaustenr.read_lines("prideprejudice", args.source)
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
