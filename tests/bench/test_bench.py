"""The benchmark runs end to end at a tiny size, so it cannot rot."""
from benchmarks import bounded_input
from benchmarks import regroup as bench
from benchmarks.regroup_data import capture_rows


def test_benchmark_runs_at_a_tiny_size(capsys):
    assert bench.main(["--sizes", "2000", "--no-pg"]) == 0
    out = capsys.readouterr().out
    assert bench.HEADER in out
    (line,) = [line for line in out.splitlines() if line.startswith("sqlite ")]
    assert line.split()[1] == "2000"
    verdicts = [line for line in out.splitlines() if line.startswith(("PASS", "MISS"))]
    assert any("× the timestamp read floor" in line for line in verdicts)
    assert any("× the same POST alone" in line for line in verdicts)
    assert all("×" in line or "rows written" in line for line in verdicts)


def test_generated_data_has_duplicates_and_missing_timestamps():
    rows = list(capture_rows(20000, 1))
    stamps = [r[2] for r in rows]
    missing = stamps.count(None) / len(rows)
    duplicates = (len(rows) - stamps.count(None) - len(set(stamps) - {None})) / len(rows)
    assert 0.002 < missing < 0.01 and 0.015 < duplicates < 0.045
    assert len({r[1] for r in rows}) == len(rows)


def test_thumbnail_benchmark_runs_at_a_tiny_size(capsys):
    from benchmarks import thumbnails as thumbs

    assert thumbs.main(["--size", "600x400", "--rounds", "1", "--requests", "20"]) == 0
    out = capsys.readouterr().out
    assert "warm 302: p50" in out
    assert [line.split()[0] for line in out.splitlines() if line.startswith(("small ", "medium "))] == ["small", "medium"]
    assert sum(line.startswith(("PASS", "MISS")) for line in out.splitlines()) == 5
def test_bounded_input_benchmark_runs(capsys):
    assert bounded_input.main(["--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "1e999990" in out and "11 MB of digits" in out
    assert sum(line.startswith(("PASS", "MISS")) for line in out.splitlines()) == 3
