"""The code base stays clean under the project's ruff settings (pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check_is_clean():
    ruff = shutil.which("ruff")
    command = [ruff] if ruff else [sys.executable, "-m", "ruff"]
    folders = [
        d for d in ("rnn_zoo", "recipes", "tests", "benchmarks") if (ROOT / d).is_dir()
    ]
    result = subprocess.run(
        command + ["check", *folders],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
