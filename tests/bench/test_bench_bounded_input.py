"""The hostile-input benchmark runs end to end with one round, so it cannot rot."""
from benchmarks import bounded_input
from tests.bench.verdict_lines import verdict_lines


def test_bounded_input_benchmark_runs(capsys):
    assert bounded_input.main(["--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "1e999990" in out and "11 MB of digits" in out
    verdicts = verdict_lines(out)
    assert len(verdicts) == 3 and all("× the valid form" in line for line in verdicts)
