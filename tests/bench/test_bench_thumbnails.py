"""The thumbnail benchmark runs end to end at a tiny size, so it cannot rot."""
from benchmarks import thumbnails as thumbs
from tests.bench.verdict_lines import verdict_lines


def test_thumbnail_benchmark_runs_at_a_tiny_size(capsys):
    assert thumbs.main(["--size", "600x400", "--rounds", "1", "--requests", "20"]) == 0
    out = capsys.readouterr().out
    assert "warm 302: p50" in out
    assert [line.split()[0] for line in out.splitlines() if line.startswith(("small ", "medium "))] == ["small", "medium"]
    verdicts = verdict_lines(out)
    assert len(verdicts) == 5
    assert sum("× the reduced-scale decode" in line for line in verdicts) == 2
    assert sum("× faster than a full decode" in line for line in verdicts) == 2
    assert "× a project's JSON" in verdicts[-1]
