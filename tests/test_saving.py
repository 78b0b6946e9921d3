"""rnn_zoo.saving: a .keras archive is checked before Keras reads it.

Each malicious archive is crafted from a real saved model by editing its
config or its zip members, and must be refused with UnsafeArchiveError (a
ValueError) whose message says what is wrong, before anything it names is
imported.
"""

import json
import sys
import zipfile

import keras
import numpy as np
import pytest

from rnn_zoo import build_classifier, cli, create_model, list_models
from rnn_zoo.saving import UnsafeArchiveError, check_archive, load_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = build_classifier(3, vocab_size=12, units=4, attention=True)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    path = tmp_path_factory.mktemp("saving") / "model.keras"
    model.save(path)
    return model, path


def _rewrite(source, target, *, config=None, extra=None, drop=()):
    """Copies a .keras zip, replacing config.json and adding/removing members."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            if item.filename in drop:
                continue
            data = old.read(item.filename)
            if item.filename == "config.json" and config is not None:
                data = json.dumps(config).encode()
            new.writestr(item.filename, data)
        for name, data in (extra or {}).items():
            new.writestr(name, data)
    return target


def _config(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def test_a_clean_archive_loads_with_the_same_outputs(saved):
    model, path = saved
    loaded = load_model(path)
    ids = np.array([[3, 4, 5, 0], [6, 7, 8, 9]])
    np.testing.assert_array_equal(
        loaded.predict(ids, verbose=0), model.predict(ids, verbose=0)
    )
    assert check_archive(path)["class_name"] == "Functional"


def test_a_lambda_layer_is_refused(tmp_path):
    inputs = keras.Input((3,))
    outputs = keras.layers.Lambda(lambda x: x * 2, name="code")(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(UnsafeArchiveError, match="'Lambda' object"):
        load_model(path)


def test_a_module_outside_keras_and_rnn_zoo_is_refused_before_import(saved, tmp_path):
    _, path = saved
    # A module that would leave a trace if it were ever imported.
    marker = tmp_path / "imported"
    (tmp_path / "rnn_zoo_evil_module.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nclass Dense: pass\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        config = _config(path)
        layer = config["config"]["layers"][-1]
        layer["module"] = "rnn_zoo_evil_module"
        evil = _rewrite(path, tmp_path / "evil.keras", config=config)
        with pytest.raises(
            UnsafeArchiveError, match="from module 'rnn_zoo_evil_module'"
        ):
            load_model(evil)
    finally:
        sys.path.remove(str(tmp_path))
    assert not marker.exists()
    assert "rnn_zoo_evil_module" not in sys.modules


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda layer: layer.update(module="os", class_name="system"), "module 'os'"),
        (lambda layer: layer.update(registered_name="evil>Dense"), "'evil>Dense'"),
        (
            lambda layer: layer["config"].update(
                activation={
                    "module": "builtins",
                    "class_name": "__lambda__",
                    "config": {},
                }
            ),
            "'__lambda__' object",
        ),
    ],
)
def test_configs_naming_foreign_objects_or_code_are_refused(
    saved, tmp_path, edit, match
):
    _, path = saved
    config = _config(path)
    edit(config["config"]["layers"][-1])
    with pytest.raises(UnsafeArchiveError, match=match):
        load_model(_rewrite(path, tmp_path / "edited.keras", config=config))


@pytest.mark.parametrize(
    "member",
    ["../escape.txt", "/etc/cron.d/job", "assets/../../escape.txt", "C:/x.txt"],
)
def test_members_outside_the_archive_are_refused(saved, tmp_path, member):
    _, path = saved
    bad = _rewrite(path, tmp_path / "traversal.keras", extra={member: b"x"})
    with pytest.raises(UnsafeArchiveError, match="outside the archive"):
        load_model(bad)
    assert not (tmp_path.parent / "escape.txt").exists()


def test_unexpected_members_are_refused(saved, tmp_path):
    _, path = saved
    bad = _rewrite(path, tmp_path / "pickle.keras", extra={"payload.pkl": b"\x80\x04."})
    with pytest.raises(UnsafeArchiveError, match="unexpected member 'payload.pkl'"):
        load_model(bad)


def test_broken_archives_are_refused(saved, tmp_path):
    _, path = saved
    not_zip = tmp_path / "model.keras"
    not_zip.write_bytes(b"not a zip")
    with pytest.raises(UnsafeArchiveError, match="not a zip file"):
        load_model(not_zip)
    no_weights = _rewrite(path, tmp_path / "noweights.keras", drop={"model.weights.h5"})
    with pytest.raises(UnsafeArchiveError, match="model.weights.h5"):
        load_model(no_weights)
    with (
        zipfile.ZipFile(path) as old,
        zipfile.ZipFile(tmp_path / "json.keras", "w") as new,
    ):
        for item in old.infolist():
            data = (
                b"{not json"
                if item.filename == "config.json"
                else old.read(item.filename)
            )
            new.writestr(item.filename, data)
    with pytest.raises(UnsafeArchiveError, match="not valid JSON"):
        load_model(tmp_path / "json.keras")
    with pytest.raises(FileNotFoundError, match="No .keras archive"):
        load_model(tmp_path / "missing.keras")


def _rewrite_config_bytes(source, target, data):
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            is_config = item.filename == "config.json"
            new.writestr(item.filename, data if is_config else old.read(item.filename))
    return target


def _deep(depth):
    node = {"class_name": "Dense", "module": "keras.layers", "config": {}}
    for _ in range(depth):
        node = {"class_name": "Dense", "module": "keras.layers", "config": {"x": node}}
    return node


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda layer: layer.update(class_name=["Dense"]),
            r"\.class_name must be a string; received list",
        ),
        (
            lambda layer: layer.update(module={"os": 1}),
            r"\.module must be a string; received dict",
        ),
        (
            lambda layer: layer.update(registered_name=3),
            r"\.registered_name must be a string; received int",
        ),
        (
            lambda layer: layer.update(config=[1, 2]),
            r"\.config must be an object; received list",
        ),
        # Nested inside the structure, yet refused without recursion.
        (
            lambda layer: layer["config"].update(extra=_deep(120)),
            "nests deeper than 100 levels",
        ),
    ],
)
def test_malformed_configs_are_refused(saved, tmp_path, edit, match):
    _, path = saved
    config = _config(path)
    edit(config["config"]["layers"][-1])
    with pytest.raises(UnsafeArchiveError, match=match):
        load_model(_rewrite(path, tmp_path / "edited.keras", config=config))


def test_deep_oversized_or_non_json_config_files_are_refused(saved, tmp_path):
    from rnn_zoo import saving

    _, path = saved
    cases = [
        # Deeper than Python's own recursion limit: json.loads itself would fail.
        (b"[" * 50_000 + b"]" * 50_000, "nests deeper than 100 levels"),
        (b'{"a": "' + b"x" * (saving.MAX_CONFIG_BYTES + 1) + b'"}', "16 MiB"),
        (b"\xff\xfe not utf-8", "not valid JSON"),
        (b'["a", "list"]', "must hold an object; received list"),
    ]
    for i, (data, match) in enumerate(cases):
        bad = _rewrite_config_bytes(path, tmp_path / f"bad{i}.keras", data)
        with pytest.raises(UnsafeArchiveError, match=match):
            load_model(bad)


def test_the_depth_count_skips_brackets_inside_strings():
    from rnn_zoo import saving

    assert saving._nesting_depth(r'{"a": ["[[[{", {"b": "\\"}]}') == 3


RUN_ARGS = {
    "epochs": 1,
    "batch_size": 8,
    "units": 4,
    "num_layers": 1,
    "dropout": 0.0,
    "learning_rate": 0.01,
    "seed": 1,
    "cell": "lstm",
    "smoke": True,
}


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda layer: layer.update(module="subprocess"), "module 'subprocess'"),
        (lambda layer: layer.update(class_name=7), "class_name must be a string"),
        (lambda layer: layer.update(config=_deep(150)), "nests deeper than 100"),
    ],
)
def test_cli_evaluate_and_export_refuse_an_unsafe_run(
    saved, tmp_path, capsys, edit, message
):
    _, path = saved
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = _config(path)
    edit(config["config"]["layers"][-1])
    _rewrite(path, run_dir / "model.keras", config=config)
    run = {"recipe": "names", "args": RUN_ARGS, "info": {}}
    (run_dir / "run.json").write_text(json.dumps(run), encoding="utf-8")
    for command in ("evaluate", "export"):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([command, str(run_dir)])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err


@pytest.mark.parametrize("name", list_models())
def test_registered_models_hold_no_lambda(name):
    model = create_model(name)
    classes = {type(layer).__name__ for layer in model._flatten_layers()}
    assert "Lambda" not in classes
