"""The station delete benchmark runs end to end at a tiny size, so it cannot rot."""
from benchmarks import station_delete as bench
from tests.bench.verdict_lines import verdict_lines


def test_station_delete_benchmark_runs_at_a_tiny_size(capsys):
    assert bench.main(["--sizes", "5000"]) == 0
    out = capsys.readouterr().out
    assert bench.HEADER in out
    modes = [line.split()[0] for line in out.splitlines() if line.split() and line.split()[0] in ("floor", "batched", "baseline")]
    assert modes == ["floor", "batched", "baseline"]
    p95, worst = verdict_lines(out)
    assert "batched delete of 5000 captures" in p95 and "× the median write alone" in p95
    assert "batched delete of 5000 captures" in worst and "× the worst during a one-transaction delete" in worst
