"""The benchmark scripts run end to end at tiny sizes; nothing here asserts anything about time."""

import json

import pytest

from benchmarks import edge, memory, rnn_benchmark


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench")
    # One cell, but every implementation, mode, dtype and mask.
    result = rnn_benchmark.main(
        [
            "--quick",
            "--cells",
            "lstm",
            "--dtypes",
            "float32",
            "mixed",
            "--lengths",
            "6",
            "--output",
            str(output),
        ]
    )
    return result, output


def test_quick_benchmark_times_every_case_of_the_matrix(quick_run):
    result, _ = quick_run
    cases = result["cases"]
    expected = {
        (impl, mode, dtype, mask)
        for impl in ("rnn_zoo", "keras", "torch")
        for mode in ("train", "inference")
        for dtype in ("float32", "mixed")
        for mask in ("none", "right")
    }
    assert {(c["impl"], c["mode"], c["dtype"], c["mask"]) for c in cases} == expected
    for case in cases:
        assert "error" not in case, case
        assert case["ms"] > 0 and case["x_floor"] > 0
        assert case["steps"] == 6
        # The warm-up column: the first call is timed apart from the repeats.
        assert case["first_call_ms"] > 0
    for case in cases:
        if case["impl"] == "rnn_zoo":
            assert case["vs_keras"] > 0 and case["vs_torch"] > 0
    # Training counts three times the forward's matrix products; the padded
    # batch counts only its real steps.
    by_key = {(c["impl"], c["mode"], c["dtype"], c["mask"]): c for c in cases}
    train = by_key[("rnn_zoo", "train", "float32", "none")]["flops"]
    infer = by_key[("rnn_zoo", "inference", "float32", "none")]["flops"]
    padded = by_key[("rnn_zoo", "inference", "float32", "right")]["flops"]
    assert train == 3 * infer
    assert infer / 2 <= padded < infer
    # "mixed" must reach torch's LSTM (through autocast, or a bfloat16 module
    # where oneDNN has no autocast LSTM), or the torch column is float32.
    torch_mixed = by_key[("torch", "train", "mixed", "none")]
    assert torch_mixed["torch_output_dtype"] == "bfloat16"
    assert torch_mixed["torch_mixed"].startswith(("autocast", "bfloat16 module"))
    assert "torch_mixed" not in by_key[("torch", "train", "float32", "none")]
    assert result["matmul_gflops"] > 0


def test_quick_benchmark_writes_json_markdown_and_png(quick_run):
    result, output = quick_run
    saved = json.loads((output / "results.json").read_text())
    assert saved["cases"] == json.loads(json.dumps(result["cases"]))
    machine = saved["machine"]
    assert machine["cores"] >= 1 and machine["cpu"]
    assert {"keras", "tensorflow", "torch"} <= set(machine["versions"])
    table = (output / "results.md").read_text()
    headline, rest = table.split("## All cases")
    assert "## Headline: float32, no mask, T=6" in headline
    assert "| lstm | train |" in headline and "| lstm | inference |" in headline
    assert "mixed" not in headline.split("## Headline")[1]
    assert "| lstm | train | mixed | right | 6 |" in rest
    assert "mixed_bfloat16" in table and "autocast" in table
    assert "| torch.nn under mixed | how | output dtype |" in table
    warmup = table.split("## Warm-up: the first call against the median")[1]
    assert "rnn_zoo first ms | rnn_zoo first - median" in warmup
    assert "| lstm | train | float32 | none | 6 |" in warmup
    assert (output / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_case_flops_match_a_hand_count():
    # The LSTM step: batch 64, T=100, 128 inputs, 256 units ~ 15 GFLOP.
    flops = rnn_benchmark.case_flops("lstm", "train", 64 * 100, 128, 256)
    assert flops == 3 * 2 * 6400 * 4 * 256 * (128 + 256)
    assert rnn_benchmark.case_flops("simple", "inference", 10, 3, 4) == 2 * 10 * 4 * 7


def test_benchmark_rejects_bad_sizes(capsys):
    with pytest.raises(SystemExit):
        rnn_benchmark.main(["--quick", "--lengths", "1"])
    assert "`--lengths` must all be 2 or more. Received: [1]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        rnn_benchmark.main(["--quick", "--units", "0"])
    assert "`--units` must be a positive integer" in capsys.readouterr().err


def test_memory_script_measures_each_implementation(tmp_path):
    result = memory.main(
        [
            "--lengths",
            "4",
            "--batch",
            "2",
            "--features",
            "3",
            "--units",
            "4",
            # keras.layers and rnn_zoo run the same Keras training step; one
            # fresh TensorFlow process fewer keeps this smoke test short.
            "--impls",
            "rnn_zoo",
            "torch",
            "--output",
            str(tmp_path),
        ]
    )
    rows = result["rows"]
    assert [r["impl"] for r in rows] == ["rnn_zoo", "torch"]
    for row in rows:
        assert "error" not in row, row
        # A training step allocates something beyond the imports.
        assert row["peak_rss_mb"] > result["baseline_mb"] > 0
    assert json.loads((tmp_path / "memory.json").read_text())["rows"] == rows
    table = (tmp_path / "memory.md").read_text()
    assert "| T | input batch MB | rnn_zoo MB | torch MB |" in table
    assert "| 4 |" in table


def test_memory_linear_fit():
    fit = memory.linear_fit([(500, 110.0), (1000, 210.0), (2000, 410.0)])
    assert fit["mb_per_1000_steps"] == pytest.approx(200.0)
    assert fit["intercept_mb"] == pytest.approx(10.0)
    assert fit["max_relative_residual"] == pytest.approx(0.0, abs=1e-12)
    bent = memory.linear_fit([(500, 100.0), (1000, 100.0), (2000, 400.0)])
    assert bent["max_relative_residual"] > 0.1
    assert memory.linear_fit([(500, 1.0)]) is None


def test_quick_default_cells_are_the_classic_ones():
    args = rnn_benchmark._resolve(rnn_benchmark._parser().parse_args(["--quick"]))
    assert args.cells == ["lstm", "gru", "simple"]
    args = rnn_benchmark._resolve(rnn_benchmark._parser().parse_args([]))
    assert set(args.cells) == set(rnn_benchmark.CELLS)
    assert {
        "sru",
        "qrnn",
        "indrnn",
        "layernorm_lstm",
        "mingru",
        "minlstm",
        "rglru",
    } <= (set(args.cells))


def test_a_modern_cell_runs_on_rnn_zoo_only_and_is_compared_with_its_baseline(
    tmp_path,
):
    result = rnn_benchmark.main(
        [
            "--quick",
            "--cells",
            "indrnn",
            "--modes",
            "train",
            "--masks",
            "none",
            "--lengths",
            "4",
            "--impls",
            "rnn_zoo",
            "keras",
            "torch",
            "rnn_zoo-generic",
            "--output",
            str(tmp_path),
        ]
    )
    # Keras and PyTorch have no IndRNN: no case, rather than a failed one.
    assert [c["impl"] for c in result["cases"]] == ["rnn_zoo", "rnn_zoo-generic"]
    zoo = result["cases"][0]
    assert "error" not in zoo and zoo["ms"] > 0 and zoo["vs_rnn_zoo-generic"] > 0
    assert zoo["kernel"][0]["training"] == "tf-elementwise"
    assert zoo["flops"] == 3 * 2 * 8 * 4 * 32 * 16  # input product only
    table = (tmp_path / "results.md").read_text()
    assert "## Modern cells against the classic ones" in table


def test_modern_cells_get_speed_ups_against_their_baselines():
    def case(cell, impl, ms):
        return dict(
            cell=cell,
            impl=impl,
            mode="train",
            dtype="float32",
            mask="none",
            steps=9,
            ms=ms,
        )

    cases = [
        case("gru", "rnn_zoo", 10.0),
        case("gru", "torch", 6.0),
        case("mingru", "rnn_zoo", 2.0),
        case("sru", "rnn_zoo", 4.0),  # its baseline (lstm) is not in the run
    ]
    compared = rnn_benchmark.compare_modern(cases)
    assert [c["cell"] for c in compared] == ["mingru", "sru"]
    assert compared[0]["vs_base_rnn_zoo"] == 5.0
    assert compared[0]["vs_base_torch"] == 3.0
    assert "vs_base_rnn_zoo" not in compared[1] and compared[1]["base"] == "lstm"


def test_edge_quick_times_every_format_and_writes_its_results(tmp_path):
    result = edge.main(["--quick", "--models", "names", "--output", str(tmp_path)])
    (model,) = result["models"]
    rows = {row["format"]: row for row in model["rows"]}
    assert set(rows) == set(edge.LABELS)
    for name, row in rows.items():
        assert isinstance(row["whole_ms"], float) and row["whole_ms"] > 0, row
        assert isinstance(row["per_s"], float) and row["per_s"] > 0, row
        assert row["rss_growth_mb"] > 0 and row["idle_rss_mb"] > 0, row
        if name != "keras":
            assert row["bytes"] > 0
    # Only the streaming SavedModel has a step of its own.
    assert rows["streaming"]["step_ms"] > 0
    assert all(
        "step_ms" not in row for name, row in rows.items() if name != "streaming"
    )
    # Memory: each runtime's idle process, LiteRT's far below TensorFlow's.
    assert rows["litert_float"]["idle_rss_mb"] < rows["savedmodel"]["idle_rss_mb"]
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["models"][0]["rows"] == json.loads(json.dumps(model["rows"]))
    assert len(saved["load_before"]) == 3 and len(saved["load_after"]) == 3
    table = (tmp_path / "results.md").read_text()
    assert "| streaming SavedModel (rnn_zoo) |" in table
    assert "sequences/s at batch 4" in table and "error" not in table
    assert (tmp_path / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
