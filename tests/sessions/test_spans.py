"""Sessions are spans: membership by span equals the pure grouping, spans never overlap, ids are stable."""
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import add_deployment, add_project
from tests.sessions.test_regroup import CROSS_MIDNIGHT, DAY, add_captures, burst
from webapp.extensions import db
from webapp.grouping import KEYINGS, iter_runs, session_key
from webapp.models import Capture, Deployment, Event
from webapp.sessions import regroup_deployment

BASE = datetime(2026, 3, 28, 18, 0)


def sessions_of(station) -> list[Event]:
    db.session.expire_all()
    return db.session.scalars(db.select(Event).filter_by(deployment_id=station.id).order_by(Event.start)).all()


def membership(station) -> list[tuple]:
    """(capture id, timestamp, key of every session whose span holds it) for each capture."""
    rows = db.session.execute(
        db.select(Capture.id, Capture.timestamp, Event.group_by)
        .outerjoin(
            Event,
            (Event.deployment_id == Capture.deployment_id) & (Event.start <= Capture.timestamp) & (Event.end >= Capture.timestamp),
        )
        .where(Capture.deployment_id == station.id)
    ).all()
    found: dict = {}
    for capture_id, timestamp, key in rows:
        found.setdefault((capture_id, timestamp), []).append(key)
    return [(capture_id, timestamp, keys) for (capture_id, timestamp), keys in found.items()]


def pure_keys(timestamps, gap, keying, cap) -> dict:
    """Each distinct timestamp → its session key, from the pure grouping's runs."""
    keys = {}
    for run in iter_runs(sorted(set(timestamps)), gap, cap):
        key = session_key(run.start, keying)
        for t in sorted(set(timestamps)):
            if run.start <= t <= run.end:
                keys[t] = key
    return keys


schedules = st.lists(
    st.one_of(
        st.none(),
        st.integers(min_value=0, max_value=4 * 86400).map(lambda s: BASE + timedelta(seconds=s)),
        # Runs of close shots, so sessions hold several captures and gaps fall on both sides of the cut.
        st.integers(min_value=0, max_value=4 * 24).map(lambda h: BASE + timedelta(hours=h, minutes=h % 7)),
    ),
    max_size=60,
).flatmap(lambda stamps: st.tuples(st.just(stamps), st.lists(st.sampled_from(stamps), max_size=8) if stamps else st.just([])))
rules = st.tuples(st.sampled_from([60, 1800, 3600, 7200, 14400]), st.sampled_from(KEYINGS), st.sampled_from([3600, 6 * 3600, 86400]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(schedule=schedules, first=rules, second=rules)
def test_membership_by_span_equals_the_pure_grouping(app, schedule, first, second):
    stamps, duplicates = schedule
    stamps = stamps + duplicates
    project = add_project(f"P {datetime.now().timestamp()}")
    station = add_deployment(project)
    add_captures(station, stamps)
    timestamps = [t for t in stamps if t is not None]
    for gap, keying, cap in (first, second):
        project.session_keying = keying
        station.session_time_gap_seconds = gap
        app.config["MAX_SESSION_SECONDS"] = cap
        db.session.commit()
        try:
            result = regroup_deployment(db.session.get(Deployment, station.id))
        finally:
            app.config["MAX_SESSION_SECONDS"] = 86400
        expected = pure_keys(timestamps, gap, keying, cap)
        for capture_id, timestamp, keys in membership(station):
            if timestamp is None:
                assert keys == [None]
            else:
                # Exactly one session holds each capture, so equal timestamps are never split.
                assert keys == [expected[timestamp]], (capture_id, timestamp, keys, gap, keying, cap)
        spans = sessions_of(station)
        for before, after in zip(spans, spans[1:]):
            assert before.end < after.start
        assert sum(e.captures_count for e in spans) == len(timestamps)
        assert result.stats["Ungrouped captures"] == 0
        assert all((e.gap_seconds, e.keying, e.max_session_seconds) == (gap, keying, cap) for e in spans)


def test_ids_hold_across_a_no_op_regroup_and_where_a_session_only_grows(project):
    station = add_deployment(project)
    add_captures(station, CROSS_MIDNIGHT)
    regroup_deployment(station)
    first, second = [e.id for e in sessions_of(station)]
    regroup_deployment(db.session.get(Deployment, station.id))
    assert [e.id for e in sessions_of(station)] == [first, second]
    # A larger gap merges the night into the first session: it only grows and keeps its id.
    station = db.session.get(Deployment, station.id)
    station.session_time_gap_seconds = 14400
    db.session.commit()
    result = regroup_deployment(station)
    (merged,) = sessions_of(station)
    assert merged.id == first and merged.captures_count == 12
    assert result.stats["Events created"] == 0 and result.stats["Empty events deleted"] == 1
    # New captures that extend a session keep its id too.
    add_captures(station, burst(DAY.replace(hour=1) + timedelta(days=1, minutes=40), 3), prefix="more")
    regroup_deployment(db.session.get(Deployment, station.id))
    (grown,) = sessions_of(station)
    assert grown.id == first and grown.captures_count == 15


def test_kept_sessions_can_take_each_others_keys(app):
    """date → night: each kept session moves to the key the next one had (unique per station)."""
    project = add_project("Keys", session_keying="date")
    station = add_deployment(project)
    mornings = [DAY.replace(hour=10) + timedelta(days=d) for d in range(4)]
    add_captures(station, [t for m in mornings for t in burst(m)])
    regroup_deployment(station)
    before = [(e.id, e.group_by) for e in sessions_of(station)]
    assert [key for _, key in before] == ["2026-06-01", "2026-06-02", "2026-06-03", "2026-06-04"]
    project.session_keying = "night"
    db.session.commit()
    result = regroup_deployment(db.session.get(Deployment, station.id))
    after = [(e.id, e.group_by) for e in sessions_of(station)]
    assert after == [(i, key) for (i, _), key in zip(before, ["2026-05-31", "2026-06-01", "2026-06-02", "2026-06-03"])]
    assert result.stats["Events touched"] == 0 and result.stats["Events created"] == 0


def test_a_split_session_keeps_its_id_where_most_of_its_captures_went(project):
    station = add_deployment(project, session_time_gap_seconds=14400)
    add_captures(station, burst(DAY.replace(hour=20), 4) + burst(DAY.replace(hour=22), 8))
    regroup_deployment(station)
    (whole,) = sessions_of(station)
    station = db.session.get(Deployment, station.id)
    project.session_keying = "run"
    station.session_time_gap_seconds = 3600
    db.session.commit()
    regroup_deployment(station)
    small, large = sessions_of(station)
    assert large.id == whole.id and large.captures_count == 8 and small.id != whole.id


def test_the_read_takes_any_stored_form_and_every_window(app):
    """Windows partition the rows whatever their count; other ISO forms than SQLAlchemy's parse too."""
    import numpy as np

    from webapp.grouping import to_microseconds
    from webapp.sessions import timestamps

    station = add_deployment(add_project("Forms"))
    stamps = [BASE + timedelta(seconds=37 * i, microseconds=i) for i in range(1000)]
    add_captures(station, stamps + stamps[:10] + [None])
    db.session.execute(
        db.text("INSERT INTO capture (deployment_id, path, timestamp, size) VALUES (:d, 'odd.jpg', '2026-03-28T18:00:05', 0)"),
        {"d": station.id},
    )
    db.session.commit()
    expected = sorted([to_microseconds(t) for t in stamps + stamps[:10]] + [to_microseconds(BASE + timedelta(seconds=5))])
    for rows in (0, 1000, 10**9):
        read = timestamps.read_timestamps(station.id, expected_rows=rows)
        assert read.values.tolist() == expected and read.missing == 1
    old = timestamps.WINDOW_ROWS
    timestamps.WINDOW_ROWS = 7
    try:
        assert timestamps.read_timestamps(station.id, expected_rows=1011).values.tolist() == expected
    finally:
        timestamps.WINDOW_ROWS = old
    five = to_microseconds(BASE + timedelta(seconds=5))
    assert np.array_equal(timestamps.parse_texts(["2026-03-28 18:00:05"]), [five])
    assert timestamps.parse_joined("2026-03-28 18:00:05,2026-03-28 18:00:05").tolist() == [five, five]
    assert timestamps.parse_joined("2026-03-28 18:00:05.5,2026-03-28 18:00:05").tolist() == [five + 500_000, five]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)), min_size=1, max_size=300),
    st.booleans(),
    st.sampled_from([" ", "T"]),
)
def test_the_fixed_width_parse_equals_numpys_iso_parser(values, whole_seconds, middle):
    """Any dates (leap days, before 1970, out of order, many dates in one slice), either
    separator, with and without microseconds: the same µs as numpy's own ISO parser."""
    import numpy as np

    from webapp.sessions import timestamps

    if whole_seconds:
        values = [value.replace(microsecond=0) for value in values]
    spec = "seconds" if whole_seconds else "microseconds"
    texts = [value.isoformat(sep=middle, timespec=spec) for value in values]
    expected = np.array([value.isoformat(timespec="microseconds") for value in values], dtype="datetime64[us]").astype(np.int64)
    old = timestamps.PARSE_SLICE_ROWS
    timestamps.PARSE_SLICE_ROWS = 64
    try:
        assert timestamps.parse_joined(",".join(texts)).tolist() == expected.tolist()
    finally:
        timestamps.PARSE_SLICE_ROWS = old


def test_a_row_of_another_form_falls_back_to_the_general_parser():
    from webapp.grouping import to_microseconds
    from webapp.sessions import timestamps

    same_width_not_a_date = "2026-03-28 18:00:05,2026-03-28 18:0x:05"
    with pytest.raises(ValueError):
        timestamps.parse_joined(same_width_not_a_date)
    assert timestamps.parse_joined("2026-03-28 18:00:05,2026-03-28 18:00:05.25").tolist() == [
        to_microseconds(datetime(2026, 3, 28, 18, 0, 5)), to_microseconds(datetime(2026, 3, 28, 18, 0, 5, 250_000))]
