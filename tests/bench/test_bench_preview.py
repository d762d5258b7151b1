"""The preview benchmark runs end to end at a tiny size, so it cannot rot."""
from benchmarks import preview as bench
from tests.bench.verdict_lines import verdict_lines


def test_preview_benchmark_runs_at_a_tiny_size(capsys):
    assert bench.main(["--stations", "2", "--captures", "500", "--no-pg"]) == 0
    out = capsys.readouterr().out
    assert bench.HEADER in out
    (line,) = [line for line in out.splitlines() if line.startswith("sqlite ")]
    assert line.split()[1:3] == ["2", "1000"]
    cold, cached, memory = verdict_lines(out)
    assert cold.split(":")[0].endswith("cold preview (sqlite)") and "× the timestamp read floor" in cold
    assert cached.split(":")[0].endswith("cached preview (sqlite)") and "× the cold preview" in cached
    assert memory.split(":")[0].endswith("on one station of 500 captures (sqlite)") and "× the memory budget" in memory
