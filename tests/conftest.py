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

The files in :data:`SPLIT_BY_TEST` are the exception to "each file goes
whole to one worker": each of their tests is its own unit of work
(:func:`pytest_xdist_make_scheduler`), so the pieces of the JAX and torch
runs (tests/test_backends.py) spread over both workers instead of queueing
on one. They hold no module fixtures, which is what ``loadfile`` protects.

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
    # (1317, 689; now pieces that both workers take, see SPLIT_BY_TEST),
    # resume 1269, distribute 922, registry 856, benchmark smoke 611,
    # serving 601, then 100-350 each. On 7 Dec, alone with -n 0 at load ~20:
    # resume 1390 s, of which the SIGKILL test 653.
    "tests/test_backends.py",
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
    # Added 8 Dec 2026: the irregular recipe (88 s with -n 0 on the loaded
    # machine: four models, LTC the slowest, plus a SavedModel export).
    "tests/recipes/test_irregular_recipe.py",
    # Added 7 Dec 2026: the edge exports (340 s and 180 s with -n 0 on a
    # loaded machine; each conversion is a trace and a converter run).
    "tests/test_export_litert.py",
    "tests/test_export_onnx.py",
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
    # Added 7 Dec 2026: parses five novels' R data once (~100 s on a 2-core
    # machine at load 15-20, so ~20 s on a quiet one).
    "tests/data/test_janeaustenr.py",
    # Added 7 Dec 2026 (-n 0 alone on the loaded shared 2-core machine): the
    # streaming export, 172 s (one export of every cell, ~40 s of it); the
    # streaming server, 281 s, 235 s of it the names smoke run it shares
    # with tests/test_serving.py.
    "tests/test_export_streaming.py",
    "tests/test_serving_streaming.py",
    # Added 7 Dec 2026 (issue 16; one run each on the loaded 2-core machine):
    # the physics recipe's smoke run 126 s, HamiltonianRNN 108 s (its
    # 10,000-step rollouts), CoRNN 77 s.
    "tests/recipes/test_physics_recipe.py",
    "tests/layers/test_hamiltonian.py",
    "tests/layers/test_cornn.py",
    # Added 7 Dec 2026, the liquid cells (measured alone with -n 0 on a
    # machine at load ~28, not yet in a full run): models/test_liquid_cells
    # 257 s, test_ltc 198 s, test_cfc 135 s.
    "tests/models/test_liquid_cells.py",
    "tests/layers/test_ltc.py",
    "tests/layers/test_cfc.py",
    # Added 7 Dec 2026: the seven modern cells in every builder, hypermodel
    # and recipe parser (113 s with -n 0 at load average 20).
    "tests/models/test_modern_cells_a.py",
)


# Files whose tests xdist may hand to different workers (see the docstring).
SPLIT_BY_TEST = ("tests/test_backends.py",)


def _file_of(item: pytest.Item) -> str:
    """The item's file as in its node id (relative to the rootdir, with /)."""
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    rank = {path: i for i, path in enumerate(SLOWEST_FIRST)}
    # A stable sort: files keep their tests together and in their own order.
    items.sort(key=lambda item: rank.get(_file_of(item), len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadfile``, except that each test of :data:`SPLIT_BY_TEST`
    is a unit of its own (xdist's own extension point for scheduling)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LoadFileSplitScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return nodeid if file in SPLIT_BY_TEST else file

    return LoadFileSplitScheduling(config, log)


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
