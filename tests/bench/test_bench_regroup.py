"""The regroup benchmark runs end to end at a tiny size, so it cannot rot."""
from benchmarks import regroup as bench
from benchmarks.regroup_data import capture_rows
from tests.bench.verdict_lines import verdict_lines


def test_benchmark_runs_at_a_tiny_size(capsys):
    assert bench.main(["--sizes", "2000", "--no-pg"]) == 0
    out = capsys.readouterr().out
    assert bench.HEADER in out
    (line,) = [line for line in out.splitlines() if line.startswith("sqlite ")]
    assert line.split()[1] == "2000"
    verdicts = verdict_lines(out)
    assert [line.split(":")[0].split(" ", 1)[1] for line in verdicts] == [
        "first regroup (sqlite, 2000)", "first regroup (sqlite, 2000)", "no-change regroup (sqlite, 2000)",
        "health check in a first regroup (sqlite, 2000)",
        "peak memory of a worker's first regroup (sqlite, 2000)", "longest write transaction (sqlite, 2000)",
        "web write p95 during regroups (sqlite, 2000)",
    ]
    assert "× the timestamp read floor" in verdicts[0] and "× faster than the event_id baseline" in verdicts[1]
    assert "× the same POST alone" in verdicts[-1]


def test_generated_data_has_duplicates_and_missing_timestamps():
    rows = list(capture_rows(20000, 1))
    stamps = [r[2] for r in rows]
    missing = stamps.count(None) / len(rows)
    duplicates = (len(rows) - stamps.count(None) - len(set(stamps) - {None})) / len(rows)
    assert 0.002 < missing < 0.01 and 0.015 < duplicates < 0.045
    assert len({r[1] for r in rows}) == len(rows)
