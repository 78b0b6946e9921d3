"""CI itself: .ci/run fails whenever the tests fail, and the test order stays valid.

.ci/run is run with a stand-in ``python`` first on the PATH, so these tests
take a fraction of a second and check the script's logic, not the suite.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from xdist.scheduler import LoadFileScheduling

from tests import conftest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or shutil.which("bash") is None, reason="needs bash"
)


def test_every_file_in_the_slowest_first_order_exists():
    missing = [path for path in conftest.SLOWEST_FIRST if not (ROOT / path).is_file()]
    assert not missing, (
        f"tests/conftest.py SLOWEST_FIRST names files that do not exist: {missing}"
    )
    assert len(set(conftest.SLOWEST_FIRST)) == len(conftest.SLOWEST_FIRST)


class _Config:
    """What xdist's schedulers read from the pytest config."""

    def __init__(self, dist):
        self.values = {"dist": dist, "tx": ["2*popen"]}

    def getvalue(self, name):
        return self.values[name]


def test_the_split_files_go_to_the_workers_test_by_test():
    assert set(conftest.SPLIT_BY_TEST) <= set(conftest.SLOWEST_FIRST)
    scheduler = conftest.pytest_xdist_make_scheduler(_Config("loadfile"), None)
    split = conftest.SPLIT_BY_TEST[0]
    # The method xdist's own LoadFileScheduling overrides: a renamed one
    # would silently send the split file whole to one worker again.
    assert type(scheduler)._split_scope is not LoadFileScheduling._split_scope
    assert scheduler._split_scope(f"{split}::test_a[x]") == f"{split}::test_a[x]"
    other = "tests/test_ci.py::test_ci_stops_when_the_install_fails"
    assert scheduler._split_scope(other) == "tests/test_ci.py"
    assert isinstance(scheduler, LoadFileScheduling)
    assert conftest.pytest_xdist_make_scheduler(_Config("load"), None) is None


def _run_ci(tmp_path: Path, pip_status: int, pytest_status: int):
    """Runs a copy of .ci/run whose ``python`` logs its arguments and exits
    with ``pip_status`` for ``-m pip`` and ``pytest_status`` for ``-m pytest``."""
    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", checkout / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    stand_in = bin_dir / "python"
    stand_in.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {log}\n'
        f'if [ "$2" = pip ]; then exit {pip_status}; fi\n'
        f'if [ "$2" = pytest ]; then exit {pytest_status}; fi\n'
        "exit 99\n"
    )
    stand_in.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", str(checkout / ".ci" / "run")],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return result.returncode, calls


def test_ci_installs_then_runs_exactly_the_readme_test_command(tmp_path):
    status, calls = _run_ci(tmp_path, pip_status=0, pytest_status=0)
    assert status == 0
    assert len(calls) == 2
    assert calls[0].startswith("-m pip install") and "-e .[test]" in calls[0]
    # Nothing after "pytest": the README's command, pyproject.toml's options.
    assert calls[1] == "-m pytest"


@pytest.mark.parametrize(
    "pytest_status",
    [
        1,  # a test failed
        2,  # interrupted, or a usage error
        5,  # no test was collected: CI that ran nothing must not pass
    ],
)
def test_ci_fails_when_pytest_does(tmp_path, pytest_status):
    status, calls = _run_ci(tmp_path, pip_status=0, pytest_status=pytest_status)
    assert status != 0
    assert calls[-1] == "-m pytest"


def test_ci_stops_when_the_install_fails(tmp_path):
    status, calls = _run_ci(tmp_path, pip_status=1, pytest_status=0)
    assert status != 0
    assert len(calls) == 1 and "pip install" in calls[0]
