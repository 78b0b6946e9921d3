"""The benchmark script runs end to end (``--quick``); it asserts nothing about time."""

import json

from benchmarks import rnn_benchmark


def test_quick_benchmark_writes_its_tables(tmp_path):
    rows = rnn_benchmark.main(["--quick", "--cells", "lstm", "--output", str(tmp_path)])
    assert [(r["cell"], r["mode"]) for r in rows] == [
        ("lstm", "train"),
        ("lstm", "inference"),
    ]
    for row in rows:
        for impl in ("rnn_zoo", "keras", "torch"):
            assert row[impl] > 0
    saved = json.loads((tmp_path / "rnn_benchmark.json").read_text())
    assert saved["rows"] == rows
    table = (tmp_path / "rnn_benchmark.md").read_text()
    assert "| lstm | train |" in table and "| lstm | inference |" in table
