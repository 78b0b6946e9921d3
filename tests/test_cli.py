"""The rnn-zoo command: every subcommand's help, its errors, and evaluate,
export and predict on a real names run (one smoke run shared by the module)."""

import ast
import importlib.util
import json
import re
import shutil
import textwrap

import keras
import numpy as np
import pytest

from rnn_zoo import cli

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipes use tf.data and export SavedModels",
    ),
]

INSTALL = 'pip install "rnn_zoo[recipes]"'


@pytest.fixture(scope="module")
def run_dir(smoke_run):
    # Shared with the names recipe's and the serving tests (tests/conftest.py);
    # the tests here only read it (exports go to their own tmp_path).
    return smoke_run("names", "--units", "16")


def _expect_usage_error(argv, capsys, *fragments):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["--help"], ["list", "train", "tune", "evaluate", "export", "predict"]),
        (["list", "--help"], ["recipes"]),
        (["train", "--help"], ["RECIPE", "names", "g2p"]),
        (["train", "names", "--help"], ["--output", "--baseline", "--tensorboard"]),
        (
            ["tune", "--help"],
            [
                "RECIPE",
                "--max-trials",
                "--output",
                "--executions-per-trial",
                "--overwrite",
            ],
        ),
        (["evaluate", "--help"], ["DIR"]),
        (["export", "--help"], ["DIR", "--to"]),
        (["predict", "--help"], ["DIR", "INPUT", "--top"]),
    ],
)
def test_every_command_has_help(argv, fragments, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for fragment in fragments:
        assert fragment in out


OWN_RECIPES = [
    "charlm",
    "co2",
    "cws_zh",
    "g2p",
    "generate_names",
    "irregular",
    "names",
    "ner_zh",
    "physics",
    "pos_zh",
    "sentiment",
    "sentiment_zh",
    "truecase",
    "vowels",
    "wordlm",
]


def _source_constants(module_name):
    spec = importlib.util.find_spec(module_name)
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    found = {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        target = node.target if isinstance(node, ast.AnnAssign) else target
        if isinstance(target, ast.Name):
            found[target.id] = node.value
    return found


def test_the_recipes_come_from_entry_points_and_their_modules():
    recipes = cli.find_recipes()
    assert sorted(recipes) == OWN_RECIPES
    for name, recipe in recipes.items():
        assert recipe.module == f"rnn_zoo.recipes.{name}"
        assert recipe.distribution.replace("-", "_") == "rnn_zoo"
        constants = _source_constants(recipe.module)
        # The module is the one place for these: the run records RECIPE, so
        # it must be the name `rnn-zoo evaluate` finds the recipe under.
        assert ast.literal_eval(constants["RECIPE"]) == name
        assert recipe.description == " ".join(
            ast.literal_eval(constants["DESCRIPTION"]).split()
        )
        assert recipe.requires == ast.literal_eval(constants["REQUIRES"])
    assert cli.find_recipes()["vowels"].requires == {"sktime": "sktime"}


def test_list_shows_every_recipe_and_the_named_models(capsys):
    import rnn_zoo

    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name, recipe in cli.find_recipes().items():
        description = re.escape(recipe.description)
        assert re.search(rf"^  {name} +{description}", out, re.MULTILINE)
    # Read from the registry's source, they are the names the registry holds.
    models = out.split("models (rnn_zoo.create_model(NAME)):\n")[1].split()
    assert models == rnn_zoo.list_models()


@pytest.mark.parametrize("command", ["train", "tune"])
def test_unknown_recipe_lists_the_known_ones(command, capsys):
    argv = [command, "poems", "--output", "x"]
    if command == "tune":
        argv += ["--max-trials", "1"]
    err = _expect_usage_error(argv, capsys, "unknown recipe 'poems'")
    for name in OWN_RECIPES:
        assert name in err


@pytest.fixture
def third_party_recipe(tmp_path, monkeypatch):
    """An installed package that declares a recipe in rnn_zoo's entry-point group.

    Its data needs a package that is not installed, and its module cannot be
    imported: the CLI must read it without importing it.
    """
    (tmp_path / "zoo_extra_recipe.py").write_text(
        textwrap.dedent(
            """
            raise AssertionError("list and --help must not import a recipe")
            RECIPE = "fake"
            DESCRIPTION = (
                "a recipe for this test"
            )
            REQUIRES: dict[str, str] = {"rnn_zoo_no_such_package": "rnn-zoo-nsp>=1"}
            """
        )
    )
    dist_info = tmp_path / "zoo_extra-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: zoo-extra\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[rnn_zoo.recipes]\nfake = zoo_extra_recipe\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "fake"


def test_a_package_can_add_a_recipe(third_party_recipe, capsys):
    recipe = cli.find_recipes()[third_party_recipe]
    assert recipe.module == "zoo_extra_recipe"
    assert recipe.description == "a recipe for this test"
    assert recipe.distribution == "zoo-extra"
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    assert "fake" in capsys.readouterr().out


def test_missing_data_package_names_the_install_command(
    third_party_recipe, monkeypatch, capsys
):
    # The error comes before the recipe's module (which raises) is imported.
    for argv in (
        ["train", "fake", "--output", "x"],
        ["tune", "fake", "--max-trials", "1", "--output", "x"],
    ):
        _expect_usage_error(
            argv,
            capsys,
            "recipe 'fake' needs rnn-zoo-nsp>=1, which is not installed",
            "pip install 'rnn-zoo-nsp>=1'",
        )
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    line = [ln for ln in out if ln.startswith("  fake ")][0]
    assert "needs rnn-zoo-nsp>=1" in line and "pip install 'rnn-zoo-nsp>=1'" in line

    # One of rnn_zoo's own recipes names rnn_zoo's extra instead.
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sktime" else find_spec(name, *a),
    )
    _expect_usage_error(
        ["train", "vowels", "--output", "x"], capsys, "needs sktime", INSTALL
    )


def test_unwritable_output_is_a_clear_error(tmp_path, capsys):
    # A path under a regular file is never a writable directory, even for root.
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    out = str(blocker / "out")
    _expect_usage_error(
        ["train", "names", "--output", out, "--smoke"],
        capsys,
        "--output",
        "not a writable directory",
    )
    _expect_usage_error(
        ["tune", "names", "--max-trials", "1", "--output", out, "--smoke"],
        capsys,
        "--output",
        "not a writable directory",
    )


def test_bad_tune_flags_are_errors(capsys):
    _expect_usage_error(["tune", "names", "--output", "x"], capsys, "--max-trials")
    _expect_usage_error(
        ["tune", "names", "--max-trials", "0", "--output", "x"],
        capsys,
        "--max-trials must be a positive integer",
    )


@pytest.mark.parametrize("command", ["evaluate", "export"])
def test_a_directory_without_a_run_is_a_clear_error(command, tmp_path, capsys):
    _expect_usage_error([command, str(tmp_path)], capsys, "is not a run directory")


@pytest.mark.parametrize(
    "run_json, fragment",
    [
        ("{not json", "run.json: must be the JSON `rnn-zoo train` wrote"),
        ('{"args": {}}', "field 'recipe' is missing"),
        ('["names"]', "must hold a JSON object"),
        ('{"recipe": "names"}', "field 'args' is missing"),
    ],
)
def test_an_unreadable_run_json_is_a_clear_error(run_json, fragment, tmp_path, capsys):
    (tmp_path / "run.json").write_text(run_json)
    (tmp_path / "model.keras").write_bytes(b"")
    for command in ("evaluate", "export"):
        err = _expect_usage_error([command, str(tmp_path)], capsys, fragment)
        assert "Traceback" not in err


def _damaged_copy(run_dir, tmp_path, edit):
    """A copy of the run directory whose run.json ``edit(run)`` changed."""
    copy = tmp_path / "damaged"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("checkpoints"))
    run = json.loads((copy / "run.json").read_text(encoding="utf-8"))
    edit(run)
    (copy / "run.json").write_text(json.dumps(run), encoding="utf-8")
    return copy


def _set(section, key, value):
    def edit(run):
        (run if section is None else run[section])[key] = value

    return edit


def _drop(section, key):
    return lambda run: (run if section is None else run[section]).pop(key)


def _shrink(*keys):
    # Drops the last entry of info lists and lowers vocab_size to match.
    def edit(run):
        for key in keys:
            run["info"][key] = run["info"][key][:-1]
        if "vocabulary" in keys:
            run["info"]["vocab_size"] -= 1

    return edit


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (
            _set(None, "recipe", 7),
            "field 'recipe' must be a recipe name (a string); received 7",
        ),
        (_set(None, "info", []), "field 'info' must be an object"),
        (
            _drop("args", "units"),
            "field 'args.units' is missing; expected a positive integer",
        ),
        (
            _set("args", "units", -3),
            "field 'args.units' must be a positive integer; received -3",
        ),
        (
            _set("args", "dropout", "0.1"),
            "field 'args.dropout' must be a number in [0, 1); received \"0.1\"",
        ),
        (_set("args", "smoke", "yes"), "field 'args.smoke' must be true or false"),
        (
            _set("info", "vocabulary", "abc"),
            "field 'info.vocabulary' must be a non-empty list of strings; received \"abc\"",
        ),
        (
            _set("info", "vocabulary", [1, 2]),
            "field 'info.vocabulary' must be a non-empty list of strings; received [1, 2]",
        ),
        (
            _set("info", "languages", []),
            "field 'info.languages' must be a non-empty list of strings; received []",
        ),
        (
            _set("info", "max_length", 0),
            "field 'info.max_length' must be a positive integer; received 0",
        ),
        (
            _set("info", "vocab_size", 1000),
            "field 'info.vocab_size' must be the vocabulary's length",
        ),
    ],
)
def test_a_damaged_run_json_names_the_field(run_dir, tmp_path, capsys, edit, fragment):
    damaged = _damaged_copy(run_dir, tmp_path, edit)
    for command in ("evaluate", "export"):
        err = _expect_usage_error([command, str(damaged)], capsys, fragment)
        assert f"{damaged / 'run.json'}: " in err and "Traceback" not in err


@pytest.mark.parametrize(
    "keys, fragment",
    [
        (("vocabulary",), "field 'info.vocab_size' gives"),
        (("languages",), "field 'info.languages' gives"),
    ],
)
def test_a_vocabulary_that_does_not_fit_the_model_is_refused(
    run_dir, tmp_path, capsys, keys, fragment
):
    damaged = _damaged_copy(run_dir, tmp_path, _shrink(*keys))
    # Refused after the model loads, before the data or any inference.
    err = _expect_usage_error(["evaluate", str(damaged)], capsys, fragment)
    assert "model.keras" in err and "test split" not in capsys.readouterr().out


def test_predict_and_serve_refuse_a_damaged_run_json(run_dir, tmp_path, capsys):
    damaged = _damaged_copy(run_dir, tmp_path, _set("info", "max_length", -1))
    fragment = "field 'info.max_length' must be a positive integer; received -1"
    _expect_usage_error(["predict", str(damaged), "Rossi"], capsys, fragment)
    _expect_usage_error(["predict", str(damaged / "export"), "Rossi"], capsys, fragment)
    _expect_usage_error(["serve", str(damaged), "--port", "8501"], capsys, fragment)
    (damaged / "run.json").write_text("{not json")
    _expect_usage_error(
        ["serve", str(damaged), "--port", "8501"], capsys, "cannot be parsed"
    )


def test_unknown_flags_are_errors(tmp_path, capsys):
    _expect_usage_error(
        ["evaluate", str(tmp_path), "--bogus"],
        capsys,
        "unrecognized arguments: --bogus",
    )


def test_evaluate_prints_the_metrics_of_the_saved_run(run_dir, capsys):
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    capsys.readouterr()
    assert cli.main(["evaluate", str(run_dir)]) == 0
    out = capsys.readouterr().out
    # The run's flags reload the same test split, so the numbers agree.
    for key in ("test_accuracy", "test_loss", "majority_class_accuracy"):
        assert f"{key}: {metrics[key]:.4f}" in out


def test_export_writes_a_saved_model_that_answers_like_the_run(
    run_dir, tmp_path, capsys
):
    import tensorflow as tf

    target = tmp_path / "again"
    assert cli.main(["export", str(run_dir), "--to", str(target)]) == 0
    assert (target / "saved_model.pb").is_file()
    names = tf.constant(["Rossi", "Nowak", "Ó Briain"])
    # Keep the loaded objects alive while their functions run.
    again, first = (tf.saved_model.load(str(d)) for d in (target, run_dir / "export"))
    np.testing.assert_allclose(
        again.classify(names)["probabilities"].numpy(),
        first.classify(names)["probabilities"].numpy(),
        atol=1e-6,
    )


def test_export_to_an_unwritable_place_is_a_clear_error(run_dir, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    _expect_usage_error(
        ["export", str(run_dir), "--to", str(blocker / "sub" / "export")],
        capsys,
        "--to",
        "not in a writable directory",
    )


def test_predict_keeps_the_classifier_output(run_dir, capsys):
    capsys.readouterr()
    assert cli.main(["predict", str(run_dir), "Rossi", "Nowak", "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["Rossi", "Nowak"]
    assert all(len(re.findall(r"\w+ \d+\.\d%", line)) == 2 for line in lines)


@pytest.mark.parametrize("empty", ["", "   "])
def test_predict_refuses_an_empty_name(run_dir, capsys, empty):
    err = _expect_usage_error(
        ["predict", str(run_dir), "Rossi", empty], capsys, "INPUT 2 is empty"
    )
    assert "Traceback" not in err


def test_predict_warns_when_a_name_is_longer_than_the_model_reads(run_dir, capsys):
    long = "Rossi" * 10  # 50 characters; the names model reads 24
    capsys.readouterr()
    assert cli.main(["predict", str(run_dir), long, long[:24], "Nowak"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "rnn-zoo predict: warning: INPUT 1 has 50 characters; the model reads at "
        "most 24 (its max_length) and answered for its first 24 characters: "
        f"{long[:24]!r}"
    ]
    lines = captured.out.splitlines()
    assert lines[0].endswith("  [answer for its first 24 characters]")
    # The same answer as for the first 24 characters, which are not marked.
    answer = lines[0].split()[1:-6]
    assert lines[1].split()[1:] == answer
    assert "[answer" not in lines[1] + lines[2]


def _save_module(path, function, spec):
    """A SavedModel with only a serving_default signature (no `classify`)."""
    import tensorflow as tf

    module = tf.Module()
    module.serve = tf.function(function, input_signature=[spec])
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})


def test_predict_sends_strings_to_serving_default(tmp_path, capsys):
    import tensorflow as tf

    def serve(text):
        return {
            "length": tf.strings.length(text, unit="UTF8_CHAR"),
            "upper": tf.strings.upper(text),
        }

    _save_module(tmp_path, serve, tf.TensorSpec([None], tf.string, name="text"))
    capsys.readouterr()
    assert cli.main(["predict", str(tmp_path), "abc", "Ó"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "abc  length: 3  upper: ABC",
        "Ó    length: 1  upper: Ó",
    ]


def test_predict_sends_json_numbers_to_a_numeric_model(tmp_path, capsys):
    import tensorflow as tf

    def serve(series):
        return {"total": tf.reduce_sum(series, axis=[1, 2])}

    _save_module(
        tmp_path, serve, tf.TensorSpec([None, None, 1], tf.float32, name="series")
    )
    capsys.readouterr()
    assert cli.main(["predict", str(tmp_path), "[[1], [2.5]]", "[[0], [-1]]"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["[[1], [2.5]]  total: 3.5", "[[0], [-1]]   total: -1"]
    _expect_usage_error(
        ["predict", str(tmp_path), "not json"], capsys, "JSON list of numbers"
    )


def test_ctrl_c_is_one_line_and_status_130(monkeypatch, capsys):
    # Ctrl-C while a command starts (e.g. during TensorFlow's import) ends
    # with one line, not a traceback; the server's own SIGINT handling is
    # tested through the real server in test_serving.py.
    def interrupted(parser, args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_list", interrupted)
    assert cli.main(["list"]) == 130
    assert capsys.readouterr().err == "rnn-zoo list: interrupted\n"
