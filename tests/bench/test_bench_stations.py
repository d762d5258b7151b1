"""The stations-list benchmark runs end to end at a tiny size, so it cannot rot."""
from benchmarks import stations as bench


def test_stations_benchmark_runs_at_a_tiny_size(capsys):
    assert bench.main(["--stations", "30", "--rounds", "2", "--no-pg"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("sqlite ")]
    assert len(rows) == len(bench.cases(1))
    assert all(line.split()[1] == "30" for line in rows)
    assert any(line.startswith(("PASS", "MISS")) and "(sqlite, 30 stations" in line and "the unfiltered list" in line for line in out.splitlines())
