"""Test-session settings shared by every test file.

The order in which pytest-xdist hands out the test files. CI runs the suite
with ``--dist loadfile`` (pyproject.toml): each file goes whole to one worker,
in collection order (``--no-loadscope-reorder``). Left to itself, xdist would
hand out the files with the most tests first, which puts the few-test files
that take longest (the jax and torch subprocess runs, the recipes' subprocess
runs) at the very end, where one worker runs them while the other has nothing
left to do. Longest first is the classic fix (LPT scheduling): the long files
start at once and the many short ones fill the gaps.

:data:`SLOWEST_FIRST` lists the files that take longest on a 2-core CI
machine, longest first (measured with ``pytest --durations=0`` /
``--junitxml``, summed per file; see the CI section of docs/architecture.md).
Files not listed follow in pytest's usual order. The order inside a file is
never changed. tests/test_ci.py checks that every listed file exists, so a
renamed file cannot silently drop out of the list.

The ``smoke_run`` fixture trains a recipe's smoke run once per session for
every test file that needs it.
"""

import hashlib
import os
import shutil
from pathlib import Path

import pytest

SLOWEST_FIRST = (
    # Measured on 2 Dec 2026 (seconds summed per file, one full run on a
    # loaded 2-core machine, so ~4x a quiet one): the jax and torch runs
    # (1317, 689; each is a subprocess pytest with its own 2 workers),
    # resume 1269, distribute 922, registry 856, benchmark smoke 611,
    # serving 601, then 100-350 each.
    "tests/test_backends.py",
    "tests/test_backends_torch.py",
    "tests/recipes/test_resume.py",
    "tests/recipes/test_distribute.py",
    "tests/models/test_registry.py",
    "tests/test_benchmark_smoke.py",
    "tests/test_serving.py",
    "tests/layers/test_contract.py",
    "tests/models/test_builders.py",
    "tests/models/test_hypermodels.py",
    "tests/recipes/test_vowels_recipe.py",
    "tests/layers/test_kernels.py",
    "tests/recipes/test_g2p_recipe.py",
    "tests/layers/test_behaviour.py",
    "tests/recipes/test_generate_names_recipe.py",
    "tests/recipes/test_names_recipe.py",
    "tests/data/test_tfds_builders.py",
    "tests/recipes/test_sentiment_recipe.py",
    "tests/recipes/test_truecase_recipe.py",
    "tests/recipes/test_co2_recipe.py",
    "tests/test_cli.py",
    # Added 2 Dec 2026 (not yet measured in a full run): the new recipes'
    # smoke runs (20-60 s each here) and the CRF file.
    "tests/recipes/test_wordlm_recipe.py",
    "tests/recipes/test_cws_zh_recipe.py",
    "tests/recipes/test_sentiment_zh_recipe.py",
    "tests/recipes/test_ner_zh_recipe.py",
    "tests/recipes/test_pos_zh_recipe.py",
    "tests/layers/test_crf.py",
    "tests/decoding/test_decoding_layer.py",
    "tests/recipes/test_charlm_recipe.py",
    # Added 7 Dec 2026: the seven modern cells in every builder, hypermodel
    # and recipe parser (113 s with -n 0 at load average 20).
    "tests/models/test_modern_cells_a.py",
)


def _file_of(item: pytest.Item) -> str:
    """The item's file as in its node id (relative to the rootdir, with /)."""
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    rank = {path: i for i, path in enumerate(SLOWEST_FIRST)}
    # A stable sort: files keep their tests together and in their own order.
    items.sort(key=lambda item: rank.get(_file_of(item), len(rank)))


def _shared_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary folder that every xdist worker of this session shares."""
    base = tmp_path_factory.getbasetemp()
    # Workers get <session temp>/popen-gwN; the session temp is shared.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """``smoke_run(recipe, *flags)``: the run directory of ``rnn-zoo train
    recipe --smoke *flags``, trained once per test session.

    Test files that need the same smoke run (a recipe's own tests, the
    serving tests) share one training instead of repeating it, also across
    xdist workers: the first caller trains under a file lock, the others wait
    for it and read the finished run. Treat the directory as read-only; a
    test that writes a run trains its own in ``tmp_path``.
    """
    import fcntl  # POSIX file locks; CI runs on Linux

    from rnn_zoo import cli

    root = _shared_temp(tmp_path_factory) / "smoke_runs"
    root.mkdir(exist_ok=True)

    def run(recipe: str, *flags: str) -> Path:
        key = hashlib.sha256(" ".join((recipe, *flags)).encode()).hexdigest()[:12]
        output = root / f"{recipe}_{key}"
        with open(root / f"{recipe}_{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not (output / ".trained").exists():
                    shutil.rmtree(output, ignore_errors=True)
                    argv = ["train", recipe, "--output", str(output), "--smoke"]
                    assert cli.main([*argv, *flags]) == 0, argv + list(flags)
                    (output / ".trained").touch()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return output

    return run
