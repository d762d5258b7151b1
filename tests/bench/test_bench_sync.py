"""The sync benchmark runs end to end at a tiny size, so it cannot rot."""
from benchmarks import sync as bench


def test_sync_benchmark_runs_at_a_tiny_size(capsys):
    assert bench.main(["--sizes", "300,1200", "--exif", "60", "--s3-objects", "300", "--s3-nights", "5",
                       "--delay-ms", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    verdicts = [line for line in out if line.startswith(("PASS ", "MISS "))]
    # local: re-sync, first sync, peak, growth; exif: floor (and camtraptools where installed); s3: full, quick
    assert len(verdicts) in (7, 8), out
    assert any("S3 quick sync after one new night" in line for line in verdicts)
    assert all("×" in line and "target" in line for line in verdicts)
    assert out[-1].endswith("targets met")
