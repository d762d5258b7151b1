"""The operation calendar benchmark runs end to end at a tiny size, so it cannot rot."""
from benchmarks import operation as bench


def test_operation_benchmark_runs_at_a_tiny_size(capsys):
    assert bench.main(["--stations", "3", "--nights", "20", "--per-night", "2", "--rounds", "1", "--no-pg"]) == 0
    out = capsys.readouterr().out
    verdicts = [line for line in out.splitlines() if line.startswith(("PASS", "MISS"))]
    assert len(verdicts) == 1 and "operation calendar on sqlite" in verdicts[0] and "count query" in verdicts[0]
    assert "3 stations × 20 nights" in out
