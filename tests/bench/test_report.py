"""The benchmarks' one verdict helper: a ratio within the run decides, absolute values are only shown."""
from benchmarks.report import Verdicts, seconds, table


def test_a_ratio_over_its_target_misses_and_under_it_passes():
    verdicts = Verdicts()
    over = verdicts.at_most("cold preview", 0.600, 0.400, "the read floor", 1.25)
    under = verdicts.at_most("cached preview", 0.004, 0.400, "the cold preview", 0.1)
    assert over == "MISS cold preview: 1.50× the read floor (target ≤ 1.25×; 600 ms vs 400 ms)"
    assert under.startswith("PASS cached preview: 0.01× the cold preview")
    assert verdicts.failed and verdicts.missed == 1


def test_a_speed_up_is_the_baseline_over_ours():
    verdicts = Verdicts()
    assert verdicts.at_least("first regroup", 0.5, 4.0, "the baseline", 5).startswith("PASS first regroup: 8.00× faster")
    assert verdicts.at_least("first regroup", 1.0, 4.0, "the baseline", 5).startswith("MISS first regroup: 4.00× faster")
    assert verdicts.lines[0].endswith("(target ≥ 5.00×; 500 ms vs 4.00 s)")


def test_a_count_is_judged_against_its_limit_and_a_zero_floor_never_passes():
    verdicts = Verdicts()
    assert verdicts.count("no-change regroup", 0, 0, "rows written").startswith("PASS")
    assert verdicts.count("no-change regroup", 3, 0, "rows written").startswith("MISS")
    assert verdicts.at_most("anything", 1.0, 0.0, "an empty floor", 100).startswith("MISS")


def test_absolute_values_read_in_their_unit_and_the_table_aligns():
    assert [seconds(2.5), seconds(0.25), seconds(0.0123), seconds(0.00005)] == ["2.50 s", "250 ms", "12.3 ms", "50 µs"]
    lines = table(["case", "ms"], [["floor", "1.0"], ["name filter", "12.5"]]).splitlines()
    assert lines == ["case           ms", "floor         1.0", "name filter  12.5"]
    assert table(["n", "what"], [["7", "a"], ["12", "bc"]]).splitlines() == [" n  what", " 7  a", "12  bc"]
