"""The rnn-zoo command starts fast and quiet.

``--help``, ``list`` and usage errors answer without importing TensorFlow,
Keras, JAX or PyTorch (each takes seconds to import), and a command that does
import TensorFlow prints none of its start-up log lines unless asked to.
Every check runs in a fresh interpreter, where nothing is imported yet.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from rnn_zoo import cli

HEAVY = ("tensorflow", "keras", "jax", "torch")
# What TensorFlow's start-up logging says on x86 (oneDNN, the CPU features)
# and absl's notice that precedes it.
NOISE = ("cpu_feature_guard", "oneDNN", "absl")
TIMEOUT = 480

CHECK = textwrap.dedent(
    """
    import sys
    from rnn_zoo import cli

    try:
        code = cli.main({argv!r})
    except SystemExit as exit:
        code = exit.code
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
    print("exit", code, "heavy", heavy)
    """
)


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**env, **extra}


def _run_main(argv, cwd) -> subprocess.CompletedProcess:
    script = CHECK.format(argv=list(argv), heavy=HEAVY)
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        env=_env(),
    )


@pytest.mark.parametrize(
    "argv, code, fragment",
    [
        (["--help"], 0, "train"),
        (["list"], 0, "names"),
        (["train", "--help"], 0, "generate_names"),
        (["tune", "--help"], 0, "--max-trials"),
        (["serve", "--help"], 0, "--max-length"),
        (["trian", "names"], 2, "invalid choice: 'trian'"),
        (["train", "poems", "--output", "x"], 2, "unknown recipe 'poems'"),
        (["tune", "names", "--max-trials", "0", "--output", "x"], 2, "--max-trials"),
        (["tune", "names", "--output", "x", "--oracle", "h:1"], 2, "--tuner-id"),
        (["evaluate", "."], 2, "is not a run directory"),
        (["predict", ".", "Rossi"], 2, "no SavedModel"),
    ],
)
def test_help_list_and_usage_errors_import_no_framework(argv, code, fragment, tmp_path):
    result = _run_main(argv, tmp_path)
    assert f"exit {code} heavy []" in result.stdout, result.stdout + result.stderr
    assert fragment in result.stdout + result.stderr


def test_silencing_respects_the_users_choice(monkeypatch, capsys):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    assert cli.main(["--verbose", "list"]) == 0
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    assert cli.main(["list"]) == 0
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    assert cli.main(["list"]) == 0
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"


def test_only_tensorflows_loading_notices_are_dropped():
    dropped = [
        "WARNING: All log messages before absl::InitializeLog() is called are "
        "written to STDERR",
        "I0000 00:00:1796205496.369724    8186 port.cc:153] oneDNN custom "
        "operations are on.",
        "W0000 00:00:1796205496.427224    8186 cpu_feature_guard.cc:227] This "
        "TensorFlow binary is optimized",
    ]
    kept = [
        "E0000 00:00:1796205606.621805   11022 util.cc:131] a real error",
        "/site-packages/x.py:3: UserWarning: a Python warning",
        "I like this line",
    ]
    for line in dropped:
        assert cli._STARTUP_NOISE.match(line), line
    for line in kept:
        assert not cli._STARTUP_NOISE.match(line), line


def test_list_prints_no_tensorflow_logging(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rnn_zoo.cli", "list"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
        env=_env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("recipes (rnn-zoo train RECIPE --output DIR):")
    assert result.stderr == ""


@pytest.mark.slow
@pytest.mark.tensorflow_only
def test_a_training_run_prints_no_tensorflow_logging(tmp_path):
    argv = ["train", "names", "--output", tmp_path / "run", "--smoke", "--units", "8"]
    result = subprocess.run(
        [sys.executable, "-m", "rnn_zoo.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
        env=_env(KERAS_BACKEND="tensorflow"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    noisy = [
        line
        for line in (result.stderr + result.stdout).splitlines()
        if any(word in line for word in NOISE)
    ]
    assert noisy == [], "\n".join(noisy)


def test_the_lazy_public_api_is_the_declared_one():
    import importlib

    import rnn_zoo
    from rnn_zoo import training

    assert set(rnn_zoo.__all__) == {
        "__version__",
        *rnn_zoo._SUBMODULES,
        *rnn_zoo._EXPORTS,
    }
    assert set(training.__all__) == set(training._EXPORTS)
    for package in (rnn_zoo, training):
        for name in package.__all__:
            assert getattr(package, name) is not None, name
        assert set(package.__all__) <= set(dir(package))
    # Importing the module rnn_zoo.explain keeps rnn_zoo.explain the function.
    importlib.import_module("rnn_zoo.explain")
    assert callable(rnn_zoo.explain)
    assert rnn_zoo.layers.LSTM.__module__ == "rnn_zoo.layers.lstm"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        rnn_zoo.nothing  # noqa: B018


def test_loading_a_keras_file_registers_rnn_zoos_layers_first(tmp_path):
    from rnn_zoo import build_classifier

    path = tmp_path / "tiny.keras"
    build_classifier(3, vocab_size=10, units=4).save(str(path))
    # A fresh process that has imported none of rnn_zoo's layers yet.
    script = (
        "from rnn_zoo.saving import load_model\n"
        f"model = load_model({str(path)!r})\n"
        "print(sorted({type(layer).__module__ for layer in model.layers}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
        env=_env(TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rnn_zoo.layers.lstm" in result.stdout


def test_the_package_never_imports_the_recipes():
    # The CLI finds recipes through entry points at run time; no module of
    # rnn_zoo names them in an import (docstring examples aside).
    import ast
    from pathlib import Path

    package = Path(cli.__file__).resolve().parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            for name in names:
                if name == "recipes" or name.startswith(
                    ("recipes.", "rnn_zoo.recipes")
                ):
                    offenders.append(
                        f"{path.relative_to(package)}:{node.lineno} {name}"
                    )
    assert offenders == []
