"""README.md stays a front page and the documentation's links hold.

README.md is at most 300 lines, its Quickstart holds exactly the two commands
a newcomer runs, every relative link in README.md and docs/ points to a file
that exists (and, for a `#section` of a Markdown file, to a heading in it), and
every page under docs/ is linked from README.md, and the Python examples parse
and use only names the package exports. Plain text only: no network, no
TensorFlow.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

MAX_README_LINES = 300
QUICKSTART_COMMANDS = [
    "pip install . && rnn-zoo train names --output runs/names",
    'pip install -e ".[test]" && python -m pytest',
]
# The long sections that left the README; each must keep a page it links to.
MOVED_PAGES = [
    "docs/speed.md",
    "docs/serving.md",
    "docs/scale-out.md",
    "docs/fault-tolerance.md",
    "docs/recipes.md",
]

_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_INLINE_CODE = re.compile(r"`[^`]*`")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _outside_fences(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, in_fence = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            lines.append(line)
    return lines


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code removed."""
    return [_INLINE_CODE.sub("", line) for line in _outside_fences(text)]


def _links(text: str) -> list[str]:
    return [m.group(1) for line in _prose_lines(text) for m in _LINK.finditer(line)]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(text: str) -> set[str]:
    anchors, seen = set(), {}
    for line in _outside_fences(text):
        match = _HEADING.match(line)
        if not match:
            continue
        slug = _slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def broken_links(page: Path) -> list[str]:
    """Every relative link of a Markdown page whose file or heading is missing."""
    problems = []
    for target in _links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # http:, https:, mailto: ...: not checked offline
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        if not dest.exists():
            problems.append(f"{page.name}: {target} (no such file)")
        elif anchor and dest.suffix == ".md":
            if anchor not in _anchors(dest.read_text(encoding="utf-8")):
                problems.append(f"{page.name}: {target} (no such heading)")
    return problems


def quickstart_commands(text: str) -> list[str]:
    """The non-blank lines of the code blocks in the Quickstart section."""
    commands, inside, in_fence = [], False, False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and line.startswith("## "):
            inside = line.strip() == "## Quickstart"
        elif inside and in_fence and line.strip():
            commands.append(line.strip())
    return commands


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def _exported(package: Path) -> set[str]:
    """The names in a package's ``__all__``, read without importing it."""
    tree = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return set(ast.literal_eval(node.value))
    raise AssertionError(f"{package} has no __all__")


def unknown_names(code: str, root: Path = ROOT) -> list[str]:
    """``rnn_zoo.X`` and ``from rnn_zoo[.sub] import X`` names that are not exported."""
    problems = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "rnn_zoo"
        ):
            package = root.joinpath(*node.module.split("."))
            exported = _exported(package)
            problems += [
                f"{node.module}.{a.name}" for a in node.names if a.name not in exported
            ]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "rnn_zoo"
            and node.attr not in _exported(root / "rnn_zoo")
        ):
            problems.append(f"rnn_zoo.{node.attr}")
    return problems


def _doc_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def test_readme_is_at_most_300_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines; keep it a front page of at most "
        f"{MAX_README_LINES} and move long material to a docs/ page"
    )


def test_quickstart_holds_exactly_the_two_commands():
    assert quickstart_commands(README.read_text(encoding="utf-8")) == (
        QUICKSTART_COMMANDS
    )


@pytest.mark.parametrize(
    "page",
    [README, *_doc_pages()],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_relative_links_point_to_existing_files(page):
    assert broken_links(page) == []


def test_every_docs_page_is_linked_from_the_readme():
    linked = {
        (ROOT / target.partition("#")[0]).resolve()
        for target in _links(README.read_text(encoding="utf-8"))
        if target.partition("#")[0]
    }
    unlinked = [
        str(page.relative_to(ROOT)) for page in _doc_pages() if page not in linked
    ]
    assert unlinked == []
    for page in MOVED_PAGES:
        assert (ROOT / page).resolve() in linked, f"README.md does not link {page}"


@pytest.mark.parametrize(
    "page",
    [README, *_doc_pages()],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_python_examples_parse_and_use_exported_names(page):
    for code in python_blocks(page.read_text(encoding="utf-8")):
        assert unknown_names(code) == [], code


# The checks themselves must be able to fail.


def test_a_missing_file_or_heading_is_reported(tmp_path):
    (tmp_path / "other.md").write_text("# Title\n\n## Known limits\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md) [ok](other.md#known-limits) [ok](#page) [web](https://x.org/y)\n"
        "[gone](missing.md) [bad anchor](other.md#nowhere) ![img](img/none.png)\n"
        "`[in code](absent.md)`\n\n```\n[in a fence](absent.md)\n```\n"
    )
    assert broken_links(page) == [
        "page.md: missing.md (no such file)",
        "page.md: other.md#nowhere (no such heading)",
        "page.md: img/none.png (no such file)",
    ]


def test_anchors_follow_githubs_slugs():
    text = (
        "# The main job: surname -> language\n"
        "## Kernels and `rnn_zoo.explain`\n"
        "## T = 1,000\n## Notes\n## Notes\n"
        "```\n# a comment in code\n```\n"
    )
    assert _anchors(text) == {
        "the-main-job-surname---language",
        "kernels-and-rnn_zooexplain",
        "t--1000",
        "notes",
        "notes-1",
    }


def test_quickstart_check_sees_an_extra_or_changed_command():
    good = (
        "# x\n\n## Quickstart\n\n```bash\n" + QUICKSTART_COMMANDS[0] + "\n```\n\n"
        "text\n\n```bash\n" + QUICKSTART_COMMANDS[1] + "\n```\n\n## Next\n\n"
        "```bash\nrnn-zoo list\n```\n"
    )
    assert quickstart_commands(good) == QUICKSTART_COMMANDS
    extra = good.replace("```\n\ntext", "rnn-zoo list\n```\n\ntext")
    assert quickstart_commands(extra) != QUICKSTART_COMMANDS
    changed = good.replace("runs/names", "runs/x")
    assert quickstart_commands(changed) != QUICKSTART_COMMANDS


def test_an_example_with_a_name_the_package_does_not_export_is_reported():
    code = (
        "import rnn_zoo\n"
        "from rnn_zoo import build_classifier, build_transformer\n"
        "from rnn_zoo.layers import LSTM, Mamba\n"
        "rnn_zoo.build_tagger(4, vocab_size=9)\n"
        "rnn_zoo.build_tagr(4, vocab_size=9)\n"
    )
    assert unknown_names(code) == [
        "rnn_zoo.build_transformer",
        "rnn_zoo.layers.Mamba",
        "rnn_zoo.build_tagr",
    ]
    with pytest.raises(SyntaxError):
        unknown_names("model = rnn_zoo.build_tagger(4,\n")
