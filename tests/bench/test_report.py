"""The benchmarks' one verdict helper: a ratio within the run decides, absolute values are only shown."""
import pytest

from benchmarks.report import Table, Verdicts, seconds
from tests.bench.verdict_lines import verdict_lines


def test_a_ratio_over_its_target_misses_and_under_it_passes():
    verdicts = Verdicts()
    over = verdicts.at_most("cold preview", 0.600, 0.400, "the read floor", 1.25)
    under = verdicts.at_most("cached preview", 0.004, 0.400, "the cold preview", 0.1)
    assert over == "MISS cold preview: 1.50× the read floor (target ≤ 1.25×; 600 ms vs 400 ms)"
    assert under == "PASS cached preview: 0.01× the cold preview (target ≤ 0.10×; 4.0 ms vs 400 ms)"
    assert verdicts.missed == 1


def test_a_ratio_exactly_on_its_target_passes():
    verdicts = Verdicts()
    assert verdicts.at_most("write", 2.0, 1.0, "the floor", 2.0).startswith("PASS")
    assert verdicts.at_least("regroup", 1.0, 5.0, "the baseline", 5.0).startswith("PASS")
    assert verdicts.missed == 0


def test_a_speed_up_is_the_baseline_over_ours():
    verdicts = Verdicts()
    assert verdicts.at_least("first regroup", 0.5, 4.0, "the baseline", 5).startswith("PASS first regroup: 8.00× faster")
    assert verdicts.at_least("first regroup", 1.0, 4.0, "the baseline", 5).startswith("MISS first regroup: 4.00× faster")
    assert verdicts.lines[0].endswith("(target ≥ 5.00×; 500 ms vs 4.00 s)")
    assert verdicts.missed == 1


def test_nothing_measured_never_passes():
    verdicts = Verdicts()
    assert verdicts.at_most("anything", 1.0, 0.0, "an empty floor", 100).startswith("MISS anything: inf×")
    assert verdicts.at_least("anything", 0.0, 1.0, "a baseline", 1).startswith("MISS anything: nan× faster")
    assert verdicts.missed == 2


def test_a_count_is_judged_against_its_limit():
    verdicts = Verdicts()
    assert verdicts.count("no-change regroup", 0, 0, "rows written") == "PASS no-change regroup: 0 rows written (target ≤ 0)"
    assert verdicts.count("no-change regroup", 3, 0, "rows written").startswith("MISS")


def test_print_all_prints_every_line_in_order_and_each_has_the_checked_form(capsys):
    verdicts = Verdicts()
    verdicts.at_most("a", 3.0, 1.0, "the floor", 2.0)
    verdicts.at_least("b", 1.0, 3.0, "the baseline", 2.0)
    verdicts.count("c", 0, 0, "rows written")
    verdicts.print_all()
    assert [line.split()[0] for line in verdict_lines(capsys.readouterr().out)] == ["MISS", "PASS", "PASS"]


def test_absolute_values_read_in_their_unit():
    assert [seconds(2.5), seconds(0.25), seconds(0.0123), seconds(0.00005)] == ["2.50 s", "250 ms", "12.3 ms", "50 µs"]


def test_a_table_row_lines_up_under_its_header_as_it_is_printed():
    table = Table(("case", "<12"), ("n", "3"), ("ms", "5.1f"))
    assert table.header == "case" + " " * 12 + "n" + " " * 5 + "ms"
    assert table.row("floor", 7, 1.04) == "floor" + " " * 11 + "7" + " " * 4 + "1.0"
    assert table.row("name filter", 12, None) == "name filter" + " " * 4 + "12" + " " * 6 + "-"
    assert table.row("skipped", 3, "n/a") == "skipped" + " " * 9 + "3" + " " * 4 + "n/a"
    with pytest.raises(ValueError):
        table.row("too few", 1)


def test_the_benchmark_tests_refuse_a_verdict_without_its_ratio():
    with pytest.raises(AssertionError):
        verdict_lines("PASS  p95 <= 50 ms at 1000 stations on sqlite (worst: last job failed, 27.6 ms)")
    with pytest.raises(AssertionError):
        verdict_lines("MISS cold small: 259 ms (target ≤ 200 ms)")
