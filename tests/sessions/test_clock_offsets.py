"""Clock offsets: applying one moves the captures into the right nights, removing it restores the
original times and sessions exactly, a later sync's captures are corrected too, overlaps are refused."""
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import add_deployment, grant_data_root
from tests.sessions.test_regroup import add_captures, burst
from webapp import jobs
from webapp.extensions import db
from webapp.models import Capture, ClockOffset, Event, Job
from webapp.sessions import add_clock_offset, apply_clock_offsets, offset_seconds_of, remove_clock_offset
from webapp.validation import ValidationError

RESET = datetime(2000, 1, 1, 22, 0)
TRUE_NIGHT = datetime(2026, 6, 6, 22, 0)
OFFSET = int((TRUE_NIGHT - RESET).total_seconds())


def good_nights(first=datetime(2026, 6, 1, 22)):
    """Five nights of two bursts each, the second after midnight."""
    return [ts for n in range(5) for ts in burst(first + timedelta(days=n)) + burst(first + timedelta(days=n, hours=4))]


def run(job_type_key, deployment):
    job = jobs.create_job(job_type_key, deployment)
    jobs.enqueue(job)
    db.session.expire_all()
    return db.session.get(Job, job.id)


def sessions(deployment):
    db.session.expire_all()
    rows = db.session.scalars(db.select(Event).filter_by(deployment_id=deployment.id).order_by(Event.start)).all()
    return [(e.id, e.group_by, e.start, e.end, e.captures_count) for e in rows]


def capture_times(deployment):
    return dict(db.session.execute(
        db.select(Capture.id, db.func.coalesce(Capture.original_timestamp, Capture.timestamp))
        .where(Capture.deployment_id == deployment.id)).all()), dict(db.session.execute(
        db.select(Capture.id, Capture.timestamp).where(Capture.deployment_id == deployment.id)).all())


@pytest.fixture
def station(project):
    project.session_keying = "night"
    deployment = add_deployment(project)
    add_captures(deployment, good_nights())
    # The night of 6 June, taken by a clock that restarted at its factory date.
    add_captures(deployment, burst(RESET) + burst(RESET + timedelta(hours=4)), prefix="reset")
    assert run("regroup_events", deployment).status == "SUCCESS"
    return deployment


def offset_for(deployment, manager, **fields):
    data = {"start": RESET - timedelta(hours=1), "end": RESET + timedelta(days=1), "offset_seconds": OFFSET}
    return add_clock_offset(deployment, data | fields, manager)


def test_applying_moves_the_reset_night_into_its_true_night_and_keeps_the_original(station, manager):
    before = sessions(station)
    assert [s[1] for s in before] == ["2000-01-01"] + [f"2026-06-0{n}" for n in range(1, 6)]
    offset_for(station, manager)
    job = run("apply_clock_offsets", station)
    assert job.status == "SUCCESS", job.logs
    assert [s["key"] for s in job.stages] == ["apply_clock_offsets", "regroup_sessions"]
    stage = {p["key"]: p["value"] for p in job.stage("apply_clock_offsets")["params"]}
    assert stage == {"captures_corrected": 12, "captures_restored": 0}
    after = sessions(station)
    assert [s[1] for s in after] == [f"2026-06-0{n}" for n in range(1, 7)]
    assert after[-1][2:] == (TRUE_NIGHT, TRUE_NIGHT + timedelta(hours=4, minutes=25), 12)
    # The untouched nights keep their sessions, ids included.
    assert after[:5] == [s for s in before if s[1].startswith("2026")]
    corrected = db.session.execute(
        db.select(Capture.original_timestamp, Capture.timestamp).where(Capture.original_timestamp.is_not(None))
    ).all()
    assert len(corrected) == 12 and all(ts - original == timedelta(seconds=OFFSET) for original, ts in corrected)
    assert db.session.get(type(station), station.id).first_capture_timestamp == datetime(2026, 6, 1, 22)


def test_removing_restores_the_original_times_and_sessions_exactly(station, manager):
    before_sessions, (originals, before_times) = sessions(station), capture_times(station)
    offset = offset_for(station, manager)
    run("apply_clock_offsets", station)
    assert capture_times(station)[1] != before_times
    remove_clock_offset(db.session.get(ClockOffset, offset.id))
    job = run("apply_clock_offsets", station)
    stage = {p["key"]: p["value"] for p in job.stage("apply_clock_offsets")["params"]}
    assert stage == {"captures_corrected": 0, "captures_restored": 12}
    assert capture_times(station) == (originals, before_times)
    assert db.session.scalar(db.select(db.func.count()).where(Capture.original_timestamp.is_not(None))) == 0
    after = sessions(station)
    # Same spans and counts; the five nights that never moved keep their ids.
    assert [s[1:] for s in after] == [s[1:] for s in before_sessions]
    assert [s[0] for s in after[1:]] == [s[0] for s in before_sessions[1:]]


def test_applying_twice_changes_nothing_more(station, manager):
    offset_for(station, manager)
    assert apply_clock_offsets(station) == {"Captures corrected": 12, "Captures restored": 0}
    _, times = capture_times(station)
    assert apply_clock_offsets(station) == {"Captures corrected": 0, "Captures restored": 0}
    assert capture_times(station)[1] == times


def test_a_negative_offset_of_twelve_hours_puts_noon_captures_at_night(project, manager):
    deployment = add_deployment(project)
    add_captures(deployment, burst(datetime(2026, 6, 2, 10)))  # a clock 12 h ahead: 22:00 shows as 10:00
    add_clock_offset(deployment, {"start": datetime(2026, 6, 2), "end": datetime(2026, 6, 3),
                                  "offset_seconds": -12 * 3600}, manager)
    apply_clock_offsets(deployment)
    assert sorted(capture_times(deployment)[1].values())[0] == datetime(2026, 6, 1, 22)


def test_captures_synced_later_inside_the_range_are_corrected_before_the_regroup(project, manager, app):
    folder = Path(app.config["DATA_SOURCE_ROOTS"][0]) / "reset-station"
    folder.mkdir()
    grant_data_root(project)
    deployment = add_deployment(project, data_source=str(folder))
    add_clock_offset(deployment, {"start": datetime(2000, 1, 1), "end": datetime(2000, 1, 2),
                                  "offset_seconds": OFFSET}, manager)
    (folder / "20000101_220000.jpg").write_bytes(b"")
    (folder / "20260601_220000.jpg").write_bytes(b"")
    job = run("data_storage_sync", deployment)
    assert job.status == "SUCCESS", job.logs
    assert sorted(capture_times(deployment)[1].values()) == [datetime(2026, 6, 1, 22), TRUE_NIGHT]
    assert [s[2] for s in sessions(deployment)] == [datetime(2026, 6, 1, 22), TRUE_NIGHT]


@pytest.mark.parametrize("fields, field", [
    ({"start": RESET, "end": RESET + timedelta(hours=2)}, "start"),  # overlaps the first
    ({"end": RESET - timedelta(days=2)}, "end"),
    ({"offset_seconds": 0}, "offset_seconds"),
    ({"offset_seconds": 200 * 366 * 86400}, "offset_seconds"),
    ({"start": "yesterday"}, "start"),
    ({"start": datetime(1800, 1, 1)}, "start"),
])
def test_bad_offsets_are_refused_with_a_field_error(station, manager, fields, field):
    offset_for(station, manager)
    with pytest.raises(ValidationError) as raised:
        offset_for(station, manager, **fields)
    assert field in raised.value.errors
    assert db.session.scalar(db.select(db.func.count(ClockOffset.id))) == 1


def test_years_are_counted_by_the_calendar_from_the_range_start():
    anchor = datetime(2016, 1, 1, 22)
    assert offset_seconds_of(anchor, years=8, days=3) == int((datetime(2024, 1, 4, 22) - anchor).total_seconds())
    assert offset_seconds_of(datetime(2024, 2, 29), years=1) == 365 * 86400  # to 28 February 2025
    assert offset_seconds_of(anchor, hours=12, sign=-1) == -12 * 3600


def test_deleting_the_station_deletes_its_offsets(station, manager):
    offset_for(station, manager)
    job = run("delete_deployment", station)
    assert job.status == "SUCCESS", job.logs
    assert db.session.scalar(db.select(db.func.count(ClockOffset.id))) == 0
