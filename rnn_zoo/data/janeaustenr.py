"""Jane Austen's six novels, read from the Debian package ``r-cran-janeaustenr``.

The ``janeaustenr`` R package (MIT; the novels are in the public domain)
holds the Project Gutenberg texts of the six completed novels, one
character vector of lines each. Debian installs it offline with
``sudo apt-get install r-cran-janeaustenr``; its data is R's lazy-load
database in ``/usr/lib/R/site-library/janeaustenr/data``: ``Rdata.rdx``
(a gzip-compressed serialized index: object name -> [offset, length] in the
``.rdb``) and ``Rdata.rdb``, where each object is a 4-byte big-endian length
followed by a zlib stream of a serialized R object. The PyPI package
``rdata`` parses those (``pip install "rnn_zoo[austen]"``). Nothing is copied
into rnn_zoo; this module only reads and shapes.

The recipes use the novels as extra training text beside *Pride and
Prejudice* (:mod:`rnn_zoo.data.austen`, embedded in rnn_zoo, whose chapter
split they keep): :func:`load_other_novels` returns the five novels that are
NOT *Pride and Prejudice*, so no validation or test chapter of it can leak
into training through this path.

Preparation (:func:`paragraphs`), as :func:`rnn_zoo.data.austen.load_chapters`
does for *Pride and Prejudice*: the title lines before the first chapter
(and *Northanger Abbey*'s advertisement) are dropped, and so are the
``CHAPTER n`` / ``VOLUME n`` headings and the closing ``THE END`` /
``FINIS``; the Gutenberg line wrapping is undone (one paragraph a line).
*Northanger Abbey*'s last paragraph is a note on the edition, kept as it is.

=====================  ===============================  ==========
object                 novel                            characters
=====================  ===============================  ==========
``sensesensibility``   Sense and Sensibility (1811)        667,458
``prideprejudice``     Pride and Prejudice (1813)          681,605
``mansfieldpark``      Mansfield Park (1814)               880,570
``emma``               Emma (1815)                         879,333
``northangerabbey``    Northanger Abbey (1818)             430,967
``persuasion``         Persuasion (1818)                   463,021
=====================  ===============================  ==========

(Characters after :func:`paragraphs`, paragraphs joined with ``"\\n"``.)

Example (it needs the Debian package, so it is not run as a doctest;
tests/data/test_janeaustenr.py runs it where the package is installed):

>>> novels = load_other_novels()  # doctest: +SKIP
>>> list(novels)  # doctest: +SKIP
['sensesensibility', 'mansfieldpark', 'emma', 'northangerabbey', 'persuasion']
>>> novels["emma"][:38]  # doctest: +SKIP
'Emma Woodhouse, handsome, clever, and '
>>> OTHER_NOVELS == tuple(n for n in NOVELS if n != "prideprejudice")
True
"""

from __future__ import annotations

import functools
import gzip
import os
import re
import struct
import warnings
import zlib
from collections.abc import Sequence

from rnn_zoo.data import austen

# Where Debian's r-cran-janeaustenr puts the data (no suffix: .rdb and .rdx).
DEFAULT_DATA_PATH = "/usr/lib/R/site-library/janeaustenr/data/Rdata"
APT_INSTALL = "sudo apt-get install r-cran-janeaustenr"
PIP_INSTALL = 'pip install "rnn_zoo[austen]"'
# The novels in publication order, by their object names in the package.
NOVELS = (
    "sensesensibility",
    "prideprejudice",
    "mansfieldpark",
    "emma",
    "northangerabbey",
    "persuasion",
)
# The novel rnn_zoo embeds and splits by chapter; never extra text.
SPLIT_NOVEL = "prideprejudice"
OTHER_NOVELS = tuple(n for n in NOVELS if n != SPLIT_NOVEL)

_HEADING = re.compile(r"^(CHAPTER|Chapter|VOLUME) [IVXLC\d]+$")
_CLOSING = frozenset({"THE END", "FINIS", "Finis"})


def data_path(path: str | None = None) -> str:
    """The package's data (``Rdata``, without suffix), checked.

    Args:
        path: the ``.rdb``/``.rdx`` pair without suffix; default
            :data:`DEFAULT_DATA_PATH`.

    Returns:
        ``path``.

    Raises:
        FileNotFoundError: the files are missing; the message gives the
            ``apt-get install`` command.
    """
    path = DEFAULT_DATA_PATH if path is None else os.fspath(path)
    missing = [path + s for s in (".rdb", ".rdx") if not os.path.isfile(path + s)]
    if missing:
        raise FileNotFoundError(
            "Jane Austen's novels come from the Debian package r-cran-janeaustenr, "
            f"which is not installed (missing {', '.join(missing)}): {APT_INSTALL}"
        )
    return path


def _rdata():
    try:
        import rdata
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "Reading r-cran-janeaustenr's R data needs the `rdata` package, which "
            f"is not installed: {PIP_INSTALL} (or pip install rdata)."
        ) from error
    return rdata


def _parse(raw: bytes):
    rdata = _rdata()
    # The payloads have no RDS/RDA header; rdata guesses RDS (right) and warns.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return rdata.conversion.convert(rdata.parser.parse_data(raw))


def read_lines(name: str, path: str | None = None) -> list[str]:
    """One novel's lines, as the package stores them (Gutenberg's wrapping).

    Args:
        name: one of :data:`NOVELS`.
        path: see :func:`data_path`.

    Returns:
        The lines, title and blank lines included.

    Raises:
        ValueError: ``name`` is not a novel of the package.
        FileNotFoundError: the package is not installed.

    Example:

    >>> read_lines("persuasion")[0]  # doctest: +SKIP
    'Persuasion'
    """
    if name not in NOVELS:
        raise ValueError(f"`name` must be one of {NOVELS}. Received: name={name!r}")
    _rdata()
    path = data_path(path)
    with gzip.open(path + ".rdx") as f:
        index = _parse(f.read())
    variables = {str(k): v for k, v in index["variables"].items()}
    if name not in variables:
        raise FileNotFoundError(
            f"{path}.rdb has no object {name!r} (it has {sorted(variables)}); "
            f"reinstall the package: {APT_INSTALL}"
        )
    offset, length = (int(x) for x in variables[name])
    with open(path + ".rdb", "rb") as f:
        f.seek(offset)
        blob = f.read(length)
    (size,) = struct.unpack(">I", blob[:4])
    raw = zlib.decompress(blob[4:])
    if len(raw) != size:
        raise ValueError(f"{name}: expected {size} bytes, decompressed {len(raw)}")
    return [str(line) for line in _parse(raw)]


def paragraphs(lines: Sequence[str]) -> list[str]:
    """A novel's paragraphs: front matter, headings and the closing word dropped, wrapping undone.

    Args:
        lines: from :func:`read_lines`.

    Returns:
        One string per paragraph, white space runs collapsed to one space.

    Example:

    >>> paragraphs(["EMMA", "", "CHAPTER I", "", "Emma Woodhouse,", "handsome.",
    ...             "", "Yes.", "", "FINIS"])
    ['Emma Woodhouse, handsome.', 'Yes.']
    """
    if isinstance(lines, str):
        raise TypeError("`lines` must be a list of lines, not one string.")
    lines = [str(line).strip() for line in lines]
    first = next((i for i, line in enumerate(lines) if _HEADING.match(line)), None)
    if first is None:
        raise ValueError(
            "`lines` must hold at least one chapter heading (CHAPTER I, Chapter 1). "
            f"Received {len(lines)} lines starting {lines[:3]}"
        )
    body = [
        "" if _HEADING.match(line) or line in _CLOSING else line
        for line in lines[first:]
    ]
    return list(austen.unwrap_paragraphs("\n".join(body)))


def load_other_novels(path: str | None = None) -> dict[str, str]:
    """The five novels besides *Pride and Prejudice*, each as paragraphs joined with ``"\\n"``.

    Args:
        path: see :func:`data_path`.

    Returns:
        ``{name: text}`` in publication order (:data:`OTHER_NOVELS`).

    Raises:
        FileNotFoundError: ``r-cran-janeaustenr`` is not installed (the
            message gives the ``apt-get install`` command).
        ModuleNotFoundError: ``rdata`` is not installed.
    """
    # Parsing takes a few seconds a novel: done once per process and path.
    return dict(_other_novels(DEFAULT_DATA_PATH if path is None else os.fspath(path)))


@functools.lru_cache(maxsize=2)
def _other_novels(path: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (name, "\n".join(paragraphs(read_lines(name, path)))) for name in OTHER_NOVELS
    )
