"""The stations-list benchmark runs end to end at a tiny size, so it cannot rot."""
from benchmarks import stations as bench
from tests.bench.verdict_lines import verdict_lines


def test_stations_benchmark_runs_at_a_tiny_size(capsys):
    assert bench.main(["--stations", "30", "--rounds", "2", "--no-pg"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("sqlite ")]
    assert len(rows) == len(bench.cases(1))
    assert all(line.split()[1] == "30" for line in rows)
    floor, worst = verdict_lines(out)
    assert "unfiltered stations list p95 (sqlite, 30 stations)" in floor and "× its own statements run bare" in floor
    assert "stations list p95 (sqlite, 30 stations, worst: " in worst and "× the unfiltered list" in worst
