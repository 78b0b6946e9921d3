"""benchmarks.cells, the cell leaderboard: a --quick run end to end, the budget rule, its data.

Nothing here asserts anything about time.
"""

import gzip
import json
import math
import os

import numpy as np
import pytest

from benchmarks import cells
from rnn_zoo.data import fashion
from rnn_zoo.layers import cell_names

QUICK_CELLS = ["lstm", "mingru"]
# One recipe task (through the recipe protocol) and the synthetic one keep
# the run short; the other recipes go through the same code.
QUICK_TASKS = ["names", "adding"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("cells")
    result = cells.main(["--quick", "--tasks", *QUICK_TASKS, "--output", str(output)])
    return result, output


def test_quick_run_writes_a_row_for_every_requested_cell_and_task(quick_run):
    result, output = quick_run
    for name in ("results.json", "results.md", "results.png"):
        assert os.path.getsize(output / name) > 0, name
    rows = {(r["cell"], r["task"]): r for r in result["rows"]}
    assert set(rows) == {(c, t) for c in QUICK_CELLS for t in QUICK_TASKS}
    for row in rows.values():
        assert "error" not in row, row
        assert math.isfinite(row["metric"]), row
        assert (
            row["recurrent_params"] > 0
            and row["model_params"] > row["recurrent_params"]
        )
        assert row["kernel"]["training"] and row["kernel"]["inference"], row
        assert row["epochs"] == 1 and len(row["epoch_seconds"]) == 1
        assert row["train_seconds_per_epoch"] > 0 and row["inference_seconds"] > 0
    # The LSTM runs at the task's base width; the others at the matched one.
    assert rows[("lstm", "names")]["units"] == cells.TASKS["names"].base_units
    assert rows[("mingru", "names")]["units"] > cells.TASKS["names"].base_units
    # The JSON is what main() returned; the table has a row per cell.
    on_disk = json.loads((output / "results.json").read_text())
    assert on_disk["rows"] == json.loads(json.dumps(result["rows"], default=str))
    assert on_disk["settings"]["cells"] == QUICK_CELLS
    assert "cpu" in on_disk["machine"]
    table = (output / "results.md").read_text()
    for cell in QUICK_CELLS:
        assert f"| {cell} | " in table
    assert "## names (accuracy" in table and "## adding (MSE" in table


def _part(result, tasks, cells_=None):
    """The result of a run of ``tasks`` (and ``cells_``) only, cut from a real run."""
    cells_ = cells_ or result["settings"]["cells"]
    part = json.loads(json.dumps(result, default=str))
    part["settings"].update(tasks=list(tasks), cells=list(cells_))
    part["task_info"] = {t: part["task_info"][t] for t in tasks}
    part["rows"] = [
        r for r in part["rows"] if r["task"] in tasks and r["cell"] in cells_
    ]
    return part


def _write(result, directory):
    directory.mkdir(parents=True)
    (directory / "results.json").write_text(json.dumps(result))
    return str(directory)


def test_merge_makes_one_table_png_and_json_of_runs_of_parts(quick_run, tmp_path):
    result, _ = quick_run
    # Two --tasks runs, the second with only one of the cells.
    first = _write(_part(result, ["names"]), tmp_path / "names")
    second = _write(_part(result, ["adding"], ["mingru"]), tmp_path / "adding")
    output = tmp_path / "merged"
    merged = cells.main(["--merge", first, second, "--output", str(output)])
    for name in ("results.json", "results.md", "results.png"):
        assert os.path.getsize(output / name) > 0, name
    assert merged["settings"]["tasks"] == QUICK_TASKS
    assert merged["settings"]["cells"] == QUICK_CELLS
    keys = [(r["task"], r["cell"]) for r in merged["rows"]]
    assert keys == [("names", "lstm"), ("names", "mingru"), ("adding", "mingru")]
    assert [run["tasks"] for run in merged["runs"]] == [["names"], ["adding"]]
    table = (output / "results.md").read_text()
    assert "## names (accuracy" in table and "## adding (MSE" in table
    header = next(line for line in table.splitlines() if line.startswith("| cell |"))
    assert "names (accuracy" in header and "adding (MSE" in header
    lstm = next(line for line in table.splitlines() if line.startswith("| lstm | "))
    assert lstm.endswith(" |  |")  # no adding row for the LSTM: an empty entry
    assert table.count("Run ") == 2  # one line per run, with its load
    assert json.loads((output / "results.json").read_text())["rows"] == merged["rows"]


def test_merge_takes_the_later_row_of_a_task_and_cell(quick_run):
    result, _ = quick_run
    again = _part(result, ["names"], ["lstm"])
    again["rows"][0]["metric"] = 0.123
    merged = cells.merge([_part(result, ["names"]), again])
    rows = {(r["task"], r["cell"]): r for r in merged["rows"]}
    assert rows[("names", "lstm")]["metric"] == 0.123
    assert ("names", "mingru") in rows


def test_merge_refuses_a_task_run_at_another_budget(quick_run):
    result, _ = quick_run
    other = _part(result, ["names"])
    other["settings"]["epochs"]["names"] = 7
    with pytest.raises(ValueError) as info:
        cells.merge([_part(result, ["names"]), other])
    assert (
        "Task 'names' ran with epochs 1 in results[0] and 7 in results[1]: "
        "expected the same budget in one table"
    ) in str(info.value)
    full = _part(result, ["adding"])
    full["settings"]["quick"] = False
    with pytest.raises(
        ValueError, match=r"mix --quick runs and full runs.*\[True, False\]"
    ):
        cells.merge([_part(result, ["names"]), full])


def test_merge_names_a_missing_file_and_takes_no_training_flags(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cells.main(["--merge", str(tmp_path / "nothing")])
    assert "which does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cells.main(["--merge", str(tmp_path), "--tasks", "co2"])
    assert "expected no other flags. Received: --tasks" in capsys.readouterr().err


def test_a_run_cut_short_leaves_its_finished_rows_to_merge(tmp_path, monkeypatch):
    real, calls = cells.run_cell, []

    def run_cell(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the run is stopped during the second cell
        return real(*args, **kwargs)

    monkeypatch.setattr(cells, "run_cell", run_cell)
    output = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        cells.main(["--quick", "--tasks", "adding", "--output", str(output)])
    partial = json.loads((output / "results.json").read_text())
    assert partial["partial"] is True
    assert [(r["task"], r["cell"]) for r in partial["rows"]] == [("adding", "lstm")]
    merged = cells.merge([partial])
    assert "cut short" in cells.markdown(merged)


def test_quick_defaults_are_two_cells_and_the_tasks_without_a_debian_package():
    args = cells._resolve(cells._parser().parse_args(["--quick"]))
    assert args.cells == ["lstm", "mingru"]
    assert "fashion_pixels" not in args.tasks
    assert set(args.tasks) == set(cells.TASKS) - {"fashion_pixels"}
    assert set(args.epochs.values()) == {1}
    full = cells._resolve(cells._parser().parse_args([]))
    # Every registered cell, and every task, in the standard budget.
    assert full.cells == cell_names() and full.tasks == list(cells.TASKS)
    assert full.adding_length == 1000


@pytest.mark.parametrize("cell", sorted(set(cell_names()) - {"lstm"}))
def test_matched_units_give_parameter_counts_within_3_percent_of_the_lstm(cell):
    # 3 %: half a width step of the narrowest cell (a GRU of 37 units over
    # one input is 2.0 % above the 32-unit LSTM, 36 units 3.2 % below).
    # A cell whose count grows in coarser steps (a CfC's fixed 128-unit
    # backbone adds ~650 parameters per unit) gets half its own step.
    for task in cells.TASKS.values():
        target = cells.recurrent_params("lstm", task.base_units, task.input_dim)
        units = cells.matched_units(cell, task.base_units, task.input_dim)
        count = cells.recurrent_params(cell, units, task.input_dim)
        step = cells.recurrent_params(cell, units + 1, task.input_dim) - count
        tolerance = max(0.03, 0.5 * step / target)
        assert abs(count - target) / target <= tolerance, (
            task.name,
            units,
            count,
            target,
        )
        # Closest: neither neighbour is nearer the LSTM's count.
        for other in (units - 1, units + 1):
            if other >= 1:
                other_count = cells.recurrent_params(cell, other, task.input_dim)
                assert abs(count - target) <= abs(other_count - target)


def test_recurrent_params_counts_a_known_lstm_and_matched_units_is_the_identity_for_it():
    # 4 gates x (units x (inputs + units) + bias)
    assert cells.recurrent_params("lstm", 64, 12) == 4 * (64 * (12 + 64) + 64)
    assert cells.matched_units("lstm", 100, 7) == 100


def test_adding_problem_targets_are_the_sum_of_the_two_marked_values():
    x, y = cells.adding_problem(200, 50, seed=3)
    assert x.shape == (200, 50, 2) and y.shape == (200,)
    assert x.dtype == np.float32 and y.dtype == np.float32
    markers = x[..., 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert (markers.sum(axis=1) == 2).all()
    # One marker in each half.
    assert (markers[:, :25].sum(axis=1) == 1).all()
    assert (markers[:, 25:].sum(axis=1) == 1).all()
    np.testing.assert_allclose(y, (x[..., 0] * markers).sum(axis=1), rtol=1e-6)
    assert ((x[..., 0] >= 0) & (x[..., 0] < 1)).all()
    # Fixed by the seed; another seed gives another set.
    np.testing.assert_array_equal(cells.adding_problem(200, 50, seed=3)[0], x)
    assert not np.array_equal(cells.adding_problem(200, 50, seed=4)[0], x)
    # Answering 1.0 scores about Var(u1 + u2) = 1/6.
    _, big = cells.adding_problem(20000, 20, seed=0)
    assert abs(np.mean((big - 1.0) ** 2) - cells.ADDING_BASELINE_MSE) < 0.01


def _write_fashion_files(directory, n_train=6, n_test=4):
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for key, filename in fashion.FILES.items():
        fashion.write_idx(str(directory / filename), arrays[key])
    return arrays


def test_every_cell_trains_on_the_same_sequence_of_epoch_orders():
    # A seeded dataset that reshuffles each epoch takes the next order from
    # its own state: sharing one between cells would give the second cell
    # epochs 6-10's orders where the first had 1-5.
    args = cells._resolve(cells._parser().parse_args(["--quick"]))
    task = cells.TASKS["adding"]
    prepared = cells.prepare(task, args, scratch=None)

    def epoch_orders(dataset, epochs=2):
        return [np.concatenate([y for _, y in dataset]) for _ in range(epochs)]

    first, second = (
        epoch_orders(prepared.make_train()),
        epoch_orders(prepared.make_train()),
    )
    assert not np.array_equal(first[0], first[1])  # it does reshuffle
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_idx_reader_reads_a_hand_written_idx_file(tmp_path):
    # Written byte by byte here, not by write_idx: magic 0 0 0x08 3, dims big-endian.
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = bytes([0, 0, 0x08, 3]) + b"\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04"
    path = tmp_path / "tiny-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(raw + images.tobytes())
    np.testing.assert_array_equal(fashion.read_idx(str(path)), images)
    # Big-endian int32 labels, uncompressed.
    labels = np.array([1, -2, 300], dtype=">i4")
    plain = tmp_path / "labels-idx1"
    plain.write_bytes(bytes([0, 0, 0x0C, 1, 0, 0, 0, 3]) + labels.tobytes())
    assert fashion.read_idx(str(plain)).tolist() == [1, -2, 300]
    # A file that is not IDX, and one shorter than its header says.
    (tmp_path / "bad").write_bytes(b"\x08\x03\x00\x00")
    with pytest.raises(ValueError, match="not an IDX file"):
        fashion.read_idx(str(tmp_path / "bad"))
    (tmp_path / "short").write_bytes(raw + images.tobytes()[:5])
    with pytest.raises(ValueError, match="truncated"):
        fashion.read_idx(str(tmp_path / "short"))


def test_fashion_loader_reads_a_directory_of_idx_files_into_pixel_sequences(tmp_path):
    arrays = _write_fashion_files(tmp_path / "fm")
    data = fashion.load_fashion_mnist(str(tmp_path / "fm"), max_train=5)
    assert data.data_dir == str(tmp_path / "fm")
    assert len(data.train) == 5 and len(data.test) == 4
    np.testing.assert_array_equal(data.train.images, arrays["train_images"][:5])
    np.testing.assert_array_equal(data.test.labels, arrays["test_labels"])
    pixels, labels = next(iter(fashion.make_dataset(data.test, batch_size=3)))
    assert pixels.shape == (3, 784, 1) and labels.shape == (3,)
    # Row by row: step 28 is the first pixel of the second row.
    expected = arrays["test_images"][0, 1, 0] / 255.0
    assert float(pixels[0, 28, 0]) == pytest.approx(expected)


def test_fashion_loader_finds_files_under_keras_home(tmp_path, monkeypatch):
    _write_fashion_files(tmp_path / "home" / "datasets" / "fashion-mnist")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    found = fashion.find_data_dir(str(tmp_path / "empty"))
    assert found == str(tmp_path / "home" / "datasets" / "fashion-mnist")


def test_missing_fashion_files_name_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(fashion, "DEBIAN_DIR", str(tmp_path / "no_debian"))
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        fashion.load_fashion_mnist(str(tmp_path / "nowhere"))


def test_the_leaderboard_skips_fashion_with_a_line_saying_why(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(fashion, "DEBIAN_DIR", str(tmp_path / "no_debian"))
    result = cells.main(
        ["--quick", "--tasks", "fashion_pixels", "--output", str(tmp_path / "out")]
    )
    assert result["rows"] == []
    assert "dataset-fashion-mnist" in result["skipped"]["fashion_pixels"]
    assert "skipping fashion_pixels: " in capsys.readouterr().out
    assert "Skipped tasks" in (tmp_path / "out" / "results.md").read_text()


def test_unknown_cell_names_the_registered_cells(capsys):
    with pytest.raises(SystemExit):
        cells.main(["--quick", "--cells", "nope"])
    error = capsys.readouterr().err
    assert "--cells" in error and "nope" in error
    for name in cell_names():
        assert f"'{name}'" in error


def test_unknown_task_names_the_tasks(capsys):
    with pytest.raises(SystemExit):
        cells.main(["--quick", "--tasks", "nope"])
    error = capsys.readouterr().err
    assert "--tasks" in error and "nope" in error
    for name in cells.TASKS:
        assert f"'{name}'" in error


@pytest.mark.parametrize(
    "flags", [["--epochs", "0"], ["--adding-length", "1"], ["--fashion-train", "0"]]
)
def test_bad_sizes_are_rejected_with_the_flag_name(flags, capsys):
    with pytest.raises(SystemExit):
        cells.main(["--quick", *flags])
    assert flags[0] in capsys.readouterr().err


def test_task_inputs_and_base_widths_follow_the_recipes():
    # The budget is matched over what the recipe's first recurrent layer reads.
    from recipes import charlm, co2, names, vowels
    from rnn_zoo.data import vowels as vowels_data

    tasks = cells.TASKS
    assert tasks["names"].input_dim == names.EMBEDDING_DIM
    assert tasks["charlm"].input_dim == charlm.EMBEDDING_DIM
    assert tasks["vowels"].input_dim == vowels_data.NUM_FEATURES
    assert tasks["co2"].input_dim == 1
    assert tasks["names"].base_units == names.UNITS
    assert tasks["vowels"].base_units == vowels.UNITS
    assert tasks["co2"].base_units == co2.UNITS
    for recipe in (names, vowels, co2, charlm):
        assert recipe.NUM_LAYERS == 1
