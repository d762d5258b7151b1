"""webapp.grouping: properties of run cutting (hypothesis) and the keyings."""
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.grouping import (
    GROUP_BY_MAX_LENGTH,
    KEYINGS,
    RunCutter,
    cut_runs,
    from_microseconds,
    group_sessions,
    group_spans,
    iter_runs,
    session_key,
    to_microseconds,
)

BASE = datetime(2026, 1, 1)
timestamps = st.lists(
    st.integers(min_value=0, max_value=10 * 86400).map(lambda s: BASE + timedelta(seconds=s)), max_size=80
)
gaps = st.integers(min_value=1, max_value=3 * 86400)
caps = st.integers(min_value=0, max_value=2 * 86400)


@settings(max_examples=300, deadline=None)
@given(timestamps, gaps, caps)
def test_runs_partition_the_timestamps(stamps, gap, cap):
    runs = cut_runs(stamps, gap, cap)
    distinct = sorted(set(stamps))
    members = [[t for t in distinct if run.start <= t <= run.end] for run in runs]
    # Every timestamp in exactly one run; runs ordered and disjoint.
    assert sorted(t for m in members for t in m) == distinct
    assert all(a.end < b.start for a, b in zip(runs, runs[1:]))
    for run, inside in zip(runs, members):
        assert inside[0] == run.start and inside[-1] == run.end
        # No gap inside a run reaches the limit; no run is longer than the cap.
        assert all((b - a).total_seconds() < gap for a, b in zip(inside, inside[1:]))
        assert run.duration_seconds <= cap
    # A cut happens only where the rule asks for one.
    for before, after in zip(runs, runs[1:]):
        assert (after.start - before.end).total_seconds() >= gap or (after.start - before.start).total_seconds() > cap


@settings(max_examples=200, deadline=None)
@given(timestamps, gaps, st.randoms())
def test_result_ignores_input_order_and_duplicates(stamps, gap, rnd):
    shuffled = stamps + stamps[: len(stamps) // 2]
    rnd.shuffle(shuffled)
    assert cut_runs(shuffled, gap) == cut_runs(stamps, gap)
    for keying in ("date", "night", "run"):
        assert group_sessions(shuffled, gap, keying) == group_sessions(stamps, gap, keying)


@settings(max_examples=200, deadline=None)
@given(timestamps, gaps)
def test_session_keys(stamps, gap):
    runs = cut_runs(stamps, gap)
    for keying in ("date", "night", "run"):
        keys = [session_key(run.start, keying) for run in runs]
        assert all(len(k) <= GROUP_BY_MAX_LENGTH for k in keys)
        if keying == "run":
            assert len(set(keys)) == len(runs)
        sessions = group_sessions(stamps, gap, keying)
        assert set(sessions) == set(keys)
        for key, (start, end) in sessions.items():
            mine = [r for r, k in zip(runs, keys) if k == key]
            assert start == min(r.start for r in mine) and end == max(r.end for r in mine)


def test_keyings_on_the_reference_bursts():
    evening, morning = datetime(2026, 6, 1, 22), datetime(2026, 6, 2, 1)
    assert session_key(evening) == "2026-06-01" and session_key(morning) == "2026-06-02"
    assert session_key(evening, "night") == session_key(morning, "night") == "2026-06-01"
    assert session_key(datetime(2026, 6, 2, 11, 59), "night") == "2026-06-01"
    assert session_key(datetime(2026, 6, 2, 12), "night") == "2026-06-02"
    assert session_key(evening, "run") == "2026-06-01T22:00:00"
    with pytest.raises(ValueError, match="unknown session keying"):
        session_key(evening, "week")


def test_iter_runs_keeps_the_callers_items_and_checks_order():
    rows = [("a", BASE), ("b", BASE + timedelta(hours=1)), ("c", BASE + timedelta(hours=5))]
    runs = list(iter_runs(rows, 7200, key=lambda row: row[1]))
    assert [(r.first[0], r.last[0]) for r in runs] == [("a", "b"), ("c", "c")]
    with pytest.raises(ValueError, match="out of order"):
        list(iter_runs([BASE, BASE - timedelta(seconds=1)], 60))
    with pytest.raises(ValueError, match="positive"):
        RunCutter(0)


def test_max_session_duration_cuts_a_continuous_run():
    stamps = [BASE + timedelta(minutes=30 * i) for i in range(100)]  # 49.5 h, never a 2 h gap
    runs = cut_runs(stamps, 7200, 86400)
    assert [r.duration_seconds for r in runs] == [86400, 86400, 1800]


micro_timestamps = st.lists(
    st.integers(min_value=-40 * 365 * 86400 * 10**6, max_value=10 * 86400 * 10**6).map(
        lambda us: BASE + timedelta(microseconds=us)
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(micro_timestamps, gaps, caps, st.sampled_from(KEYINGS), st.data())
def test_group_spans_is_group_sessions_for_arrays(stamps, gap, cap, keying, data):
    """The array form used by the regroup gives the same sessions, counts every row once, and counts duplicates."""
    import numpy as np

    stamps = sorted(stamps + data.draw(st.lists(st.sampled_from(stamps), max_size=10)) if stamps else stamps)
    spans = group_spans(np.array([to_microseconds(t) for t in stamps], dtype=np.int64), gap, keying, cap)
    got = {key: (from_microseconds(s), from_microseconds(e)) for key, s, e in zip(spans.group_by, spans.start, spans.end)}
    assert got == group_sessions(stamps, gap, keying, cap)
    for key, start, end, count in zip(spans.group_by, spans.start, spans.end, spans.counts):
        assert count == sum(1 for t in stamps if from_microseconds(start) <= t <= from_microseconds(end))
    assert spans.duplicates == sum(1 for t in set(stamps) if stamps.count(t) > 1)
