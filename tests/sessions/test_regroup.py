"""The regroup service on SQLite and PostgreSQL: the reference's tables, locks, failures, exactness."""
import multiprocessing
import random
from datetime import datetime, timedelta

import pytest

from tests.conftest import add_deployment, add_project
from webapp import create_app, jobs
from webapp.extensions import db
from webapp.jobs import locks
from webapp.models import Capture, Deployment, Event, Job, Project
from webapp.sessions import REGROUP_PARAMS, lock_key, regroup, regroup_deployment

DAY = datetime(2026, 6, 1)


def burst(start: datetime, count: int = 6, step_minutes: int = 5) -> list[datetime]:
    """A burst of captures: `count` shots every `step_minutes` (6 × 5 min ends 25 min after it starts)."""
    return [start + timedelta(minutes=step_minutes * i) for i in range(count)]


CROSS_MIDNIGHT = burst(DAY.replace(hour=22)) + burst(DAY.replace(hour=1) + timedelta(days=1))
SAME_DATE = burst(DAY.replace(hour=20)) + burst(DAY.replace(hour=22))


def add_captures(deployment: Deployment, timestamps, prefix: str = "img") -> None:
    start = db.session.query(Capture).filter_by(deployment_id=deployment.id).count()
    db.session.add_all(
        Capture(deployment_id=deployment.id, path=f"{prefix}/{start + i}.jpg", timestamp=ts)
        for i, ts in enumerate(timestamps)
    )
    db.session.commit()


def stored_sessions(deployment: Deployment) -> list[tuple]:
    db.session.expire_all()
    rows = db.session.query(Event).filter_by(deployment_id=deployment.id).order_by(Event.start).all()
    return [(e.group_by, e.start, e.end, e.captures_count) for e in rows]


def capture_keys(deployment: Deployment) -> dict:
    """Each capture's timestamp → the set of session keys its captures are in (membership by span)."""
    rows = db.session.execute(
        db.select(Capture.timestamp, Event.group_by)
        .outerjoin(
            Event,
            (Event.deployment_id == Capture.deployment_id)
            & (Event.start <= Capture.timestamp)
            & (Event.end >= Capture.timestamp),
        )
        .where(Capture.deployment_id == deployment.id)
    ).all()
    result: dict = {}
    for timestamp, group_by in rows:
        result.setdefault(timestamp, set()).add(group_by)
    return result


def reference(timestamps, gap: int, keying: str = "date", max_seconds: int = 86400):
    """A straightforward restatement of the grouping rules, independent of webapp.grouping."""
    valid = [t for t in timestamps if t is not None]
    distinct = sorted(set(valid))
    runs: list[list[datetime]] = []
    for t in distinct:
        if runs and (t - runs[-1][-1]).total_seconds() < gap and (t - runs[-1][0]).total_seconds() <= max_seconds:
            runs[-1].append(t)
        else:
            runs.append([t])
    key_of = {}
    for run in runs:
        first = run[0]
        if keying == "date":
            k = first.strftime("%Y-%m-%d")
        elif keying == "night":
            k = (first - timedelta(hours=12)).strftime("%Y-%m-%d")
        else:
            k = first.strftime("%Y-%m-%dT%H:%M:%S")
        for t in run:
            key_of[t] = k
    sessions: dict = {}
    for t in valid:
        k = key_of[t]
        start, end, count = sessions.get(k, (t, t, 0))
        sessions[k] = (min(start, t), max(end, t), count + 1)
    expected = sorted(((k, s, e, c) for k, (s, e, c) in sessions.items()), key=lambda r: r[1])
    return expected, key_of


def run_regroup_job(deployment: Deployment) -> Job:
    job = jobs.create_job("regroup_events", deployment)
    return jobs.run_job(job.id)


def stdout_warnings(job: Job) -> list[str]:
    return [line for line in job.logs["stdout"] if " WARNING " in line]


@pytest.fixture
def station(project):
    return add_deployment(project)


# -- the reference's tables ---------------------------------------------------


@pytest.mark.parametrize("gap, sessions", [(7200, 2), (14400, 1)])
def test_cross_midnight_bursts_split_or_merge_by_gap(station, gap, sessions):
    station.session_time_gap_seconds = gap
    add_captures(station, CROSS_MIDNIGHT)
    result = regroup_deployment(station)
    assert not result.skipped
    assert len(stored_sessions(station)) == sessions
    assert result.stats["Captures grouped"] == 12 and result.stats["Events created"] == sessions


@pytest.mark.parametrize("keying, sessions", [("date", 1), ("night", 1), ("run", 2)])
def test_same_date_bursts_with_a_one_hour_gap(app, keying, sessions):
    project = add_project(session_time_gap_seconds=3600, session_keying=keying)
    station = add_deployment(project)
    add_captures(station, SAME_DATE)
    regroup_deployment(station)
    got = stored_sessions(station)
    assert len(got) == sessions
    assert sum(count for *_, count in got) == 12
    if keying == "run":
        assert [g for g, *_ in got] == ["2026-06-01T20:00:00", "2026-06-01T22:00:00"]
    else:
        # Several runs share one key; the session spans all of them.
        assert got[0][1:] == (DAY.replace(hour=20), DAY.replace(hour=22, minute=25), 12)


@pytest.mark.parametrize("keying, sessions", [("night", 1), ("run", 2), ("date", 2)])
def test_cross_midnight_bursts_with_a_two_hour_gap_by_keying(app, keying, sessions):
    station = add_deployment(add_project(session_time_gap_seconds=7200, session_keying=keying))
    add_captures(station, CROSS_MIDNIGHT)
    regroup_deployment(station)
    got = stored_sessions(station)
    assert len(got) == sessions
    if keying == "night":
        assert got[0][0] == "2026-06-01"


@pytest.mark.parametrize("project_gap, sessions", [(7200, 2), (14400, 1)])
def test_project_setting_is_used_when_the_station_has_none(app, project_gap, sessions):
    station = add_deployment(add_project(session_time_gap_seconds=project_gap))
    add_captures(station, CROSS_MIDNIGHT)
    job = run_regroup_job(station)
    assert job.status == "SUCCESS"
    assert len(stored_sessions(station)) == sessions
    assert job.param("regroup_events", "events_created") == sessions
    assert job.param("regroup_events", "captures_grouped") == 12
    station = db.session.get(Deployment, station.id)
    assert station.grouped_gap_seconds == project_gap and station.grouped_keying == "date"
    assert station.last_regrouped_at is not None and station.events_count == sessions


def test_station_override_wins_over_the_project(app):
    station = add_deployment(add_project(session_time_gap_seconds=7200), session_time_gap_seconds=14400)
    add_captures(station, CROSS_MIDNIGHT)
    regroup_deployment(station)
    assert len(stored_sessions(station)) == 1
    assert db.session.get(Deployment, station.id).grouped_gap_seconds == 14400


@pytest.mark.parametrize("bad", [0, -1, -7200])
def test_invalid_gap_falls_back_to_the_default_with_a_warning(app, bad):
    station = add_deployment(add_project(session_time_gap_seconds=bad))
    add_captures(station, CROSS_MIDNIGHT)
    job = run_regroup_job(station)
    assert job.status == "SUCCESS"
    assert len(stored_sessions(station)) == 2
    warnings = stdout_warnings(job)
    assert any(f"Session gap {bad}" in line and "7200" in line for line in warnings), warnings
    assert db.session.get(Deployment, station.id).grouped_gap_seconds == 7200


def test_invalid_station_override_also_falls_back(project):
    station = add_deployment(project, session_time_gap_seconds=0)
    add_captures(station, CROSS_MIDNIGHT)
    job = run_regroup_job(station)
    assert any("Session gap 0 of station" in line for line in stdout_warnings(job))
    assert len(stored_sessions(station)) == 2


# -- locks ----------------------------------------------------------------------


def test_a_held_lock_means_no_work_and_a_warning_that_claims_only_what_is_true(station):
    import time

    add_captures(station, CROSS_MIDNIGHT)
    token = locks.acquire(lock_key(station.id), 600, "another worker")
    assert token
    job = jobs.create_job("regroup_events", station)
    started = time.monotonic()
    job = jobs.run_job(job.id)
    # No wait loop: the lock is tried once.
    assert time.monotonic() - started < 2
    assert job.status == "SUCCESS"
    assert job.param("regroup_events", "captures_grouped") == 0
    (warning,) = stdout_warnings(job)
    assert "another regroup is in progress" in warning
    assert f"regroup skipped for deployment {station.id}" in warning
    # Nothing was marked or promised on this job's behalf.
    assert "will include" not in warning and "latest captures" not in warning
    assert stored_sessions(station) == []
    held = locks.holder(lock_key(station.id))
    assert held.owner == "another worker" and held.token == token


def test_an_expired_lock_is_taken_over_and_the_old_owner_cannot_release_it(app):
    key = "regroup:deployment:999"
    first = locks.acquire(key, 0, "first")
    assert first
    second = locks.acquire(key, 600, "second")
    assert second and second != first
    assert locks.acquire(key, 600, "third") is None
    assert locks.release(key, first) is False
    assert locks.holder(key).token == second
    assert locks.release(key, second) is True
    assert locks.holder(key) is None


def test_held_context_manager_releases_on_error(app):
    with pytest.raises(RuntimeError):
        with locks.held("k", 600) as token:
            assert token and locks.holder("k").token == token
            raise RuntimeError("boom")
    assert locks.holder("k") is None


def test_a_stale_lock_does_not_block_a_regroup(station):
    add_captures(station, CROSS_MIDNIGHT)
    locks.acquire(lock_key(station.id), 0, "dead worker")
    result = regroup_deployment(station)
    assert not result.skipped and len(stored_sessions(station)) == 2
    assert locks.holder(lock_key(station.id)) is None


def _sync_commits(station, timestamps, prefix):
    """What a sync does: insert captures (bumping the station's counter) and commit."""
    from webapp.sources import insert_captures

    deployment = db.session.get(Deployment, station.id)
    insert_captures(deployment, [{"path": f"{prefix}/{i}.jpg", "size": 1, "timestamp": t} for i, t in enumerate(timestamps)])
    db.session.commit()


def test_captures_a_skipped_sync_added_make_the_owner_pass_again(station, monkeypatch):
    add_captures(station, CROSS_MIDNIGHT)
    real_pass = regroup._regroup_pass
    late = burst(DAY.replace(hour=22) + timedelta(days=3))
    skipped = []

    def pass_then_a_sync_arrives(deployment, logger, job, stage_key, **options):
        outcome = real_pass(deployment, logger, job, stage_key, **options)
        if not skipped:
            # A sync commits new captures and finds the lock held, after our read.
            _sync_commits(station, late, "late")
            skipped.append(regroup_deployment(db.session.get(Deployment, station.id)))
        return outcome

    monkeypatch.setattr(regroup, "_regroup_pass", pass_then_a_sync_arrives)
    result = regroup_deployment(station)
    assert skipped[0].skipped and skipped[0].stats["Captures grouped"] == 0
    assert result.passes == 2
    assert result.stats["Captures grouped"] == 18 and result.stats["Ungrouped captures"] == 0
    assert len(stored_sessions(station)) == 3
    assert locks.holder(lock_key(station.id)) is None


@pytest.mark.parametrize("change", ["project gap", "station gap", "keying"])
def test_a_rule_changed_during_a_pass_is_applied_by_the_lock_holder(station, monkeypatch, change):
    """The regroup asked for with the new rule finds the lock held and does nothing: the holder applies it."""
    add_captures(station, CROSS_MIDNIGHT)
    real_pass = regroup._regroup_pass
    skipped = []

    def pass_then_someone_changes_the_rule(deployment, logger, job, stage_key, **options):
        outcome = real_pass(deployment, logger, job, stage_key, **options)
        if not skipped:
            with db.engine.begin() as conn:  # another request, its own transaction
                if change == "project gap":
                    conn.execute(db.update(Project).where(Project.id == station.project_id)
                                 .values(session_time_gap_seconds=24 * 3600))
                elif change == "station gap":
                    conn.execute(db.update(Deployment).where(Deployment.id == station.id)
                                 .values(session_time_gap_seconds=24 * 3600))
                else:
                    conn.execute(db.update(Project).where(Project.id == station.project_id).values(session_keying="run"))
            skipped.append(regroup_deployment(db.session.get(Deployment, station.id)))
        return outcome

    monkeypatch.setattr(regroup, "_regroup_pass", pass_then_someone_changes_the_rule)
    first = stored_sessions(station)
    result = regroup_deployment(station)
    assert skipped[0].skipped
    assert result.passes == 2
    db.session.expire_all()
    rule = db.session.get(Deployment, station.id).grouping_rule
    events = db.session.scalars(db.select(Event).where(Event.deployment_id == station.id)).all()
    assert {(e.gap_seconds, e.keying) for e in events} == {(rule.gap_seconds, rule.keying)}
    assert (rule.gap_seconds, rule.keying) != (7200, "date")
    assert stored_sessions(station) != first or change == "keying"


def test_captures_added_while_someone_else_takes_the_lock_are_left_to_that_holder(station, monkeypatch):
    """The owner re-checks after its release; if another regroup holds the lock by then, that one's read includes them."""
    add_captures(station, CROSS_MIDNIGHT)
    real_release = locks.release
    key = lock_key(station.id)
    others = []

    def release_then_others_arrive(lock, token):
        released = real_release(lock, token)
        if not others and lock == key:
            _sync_commits(station, burst(DAY + timedelta(days=5)), "late")
            others.append(locks.acquire(key, 600, "next regroup"))
        return released

    monkeypatch.setattr(locks, "release", release_then_others_arrive)
    result = regroup_deployment(station)
    assert result.passes == 1 and others[0]
    assert result.stats["Ungrouped captures"] == 6
    assert locks.holder(key).owner == "next regroup"
    monkeypatch.setattr(locks, "release", real_release)
    locks.release(key, others[0])
    assert regroup_deployment(station).stats["Ungrouped captures"] == 0
    assert len(stored_sessions(station)) == 3


def _regroup_in_a_process(url, instance, deployment_id, barrier, results):
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "HUEY_URL": "memory://", "INSTANCE_PATH": instance}
    )
    with app.app_context():
        deployment = db.session.get(Deployment, deployment_id)
        barrier.wait(timeout=60)
        result = regroup_deployment(deployment)
        results.put((result.skipped, result.passes, result.stats))
        db.session.remove()
        db.engine.dispose()


def test_two_processes_regrouping_one_station_at_once(station, app, tmp_path):
    rng = random.Random(7)
    stamps = [DAY + timedelta(seconds=rng.randrange(0, 40 * 86400)) for _ in range(30000)]
    add_captures(station, stamps)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    processes = [
        context.Process(
            target=_regroup_in_a_process, args=(url, str(tmp_path / f"inst{i}"), station.id, barrier, results)
        )
        for i in range(2)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    worked = [o for o in outcomes if not o[0]]
    assert worked, outcomes
    if len(worked) == 1:
        # The loser marked the station; the winner's next pass (its first, if the mark
        # came before that pass began, else a second one) cleared the mark.
        assert worked[0][1] in (1, 2)
    assert locks.holder(lock_key(station.id)) is None
    concurrent = stored_sessions(station)
    expected, _ = reference(stamps, 7200)
    assert concurrent == expected
    db.session.execute(db.delete(Event))
    db.session.commit()
    regroup_deployment(db.session.get(Deployment, station.id))
    assert stored_sessions(station) == concurrent
    assert locks.holder(lock_key(station.id)) is None


# -- failure, exactness, writing nothing ----------------------------------------


def test_a_failure_mid_regroup_leaves_the_previous_grouping(station, monkeypatch):
    add_captures(station, CROSS_MIDNIGHT + [None, None])
    regroup_deployment(station)
    before_sessions, before_keys = stored_sessions(station), capture_keys(station)
    station.session_time_gap_seconds = 14400
    db.session.commit()

    real_apply = regroup._apply

    def broken(deployment, plan):
        real_apply(deployment, plan)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(regroup, "_apply", broken)
    job = run_regroup_job_expecting_failure(station)
    assert job.status == "FAILURE"
    assert any("disk on fire" in line for line in job.logs["stdout"])
    assert stored_sessions(station) == before_sessions and len(before_sessions) == 2
    assert capture_keys(station) == before_keys
    assert db.session.get(Deployment, station.id).grouped_gap_seconds == 7200
    assert locks.holder(lock_key(station.id)) is None


def run_regroup_job_expecting_failure(station):
    job = jobs.create_job("regroup_events", station)
    with pytest.raises(RuntimeError):
        jobs.run_job(job.id)
    db.session.expire_all()
    return db.session.get(Job, job.id)


def test_counts_and_bounds_stay_exact_as_the_gap_shrinks_and_grows(app):
    rng = random.Random(3)
    stamps = []
    for night in range(12):
        evening = DAY + timedelta(days=night, hours=rng.choice([19, 21, 23]))
        for offset_hours in (0, rng.choice([2, 3, 5])):
            stamps += burst(evening + timedelta(hours=offset_hours), rng.randint(3, 9), rng.choice([1, 7, 20]))
    stamps += rng.sample(stamps, 15) + [None] * 4
    project = add_project(session_time_gap_seconds=7200)
    station = add_deployment(project)
    add_captures(station, stamps)
    for keying in ("date", "night", "run"):
        project.session_keying = keying
        for gap in (7200, 600, 14400, 3600, 86400, 60, 7200):
            station.session_time_gap_seconds = gap
            db.session.commit()
            before = {row[1:] for row in stored_sessions(station)}
            result = regroup_deployment(station)
            expected, key_of = reference(stamps, gap, keying)
            assert stored_sessions(station) == expected, (keying, gap)
            keys = capture_keys(station)
            assert all(keys[t] == {key_of[t]} for t in keys if t is not None)
            assert keys[None] == {None}
            stats = result.stats
            assert stats["Captures grouped"] == len(stamps) - 4
            assert stats["Captures missing timestamp"] == 4 and stats["Ungrouped captures"] == 0
            assert stats["Duplicate timestamps"] == len({t for t in stamps if t and stamps.count(t) > 1})
            assert stats["Events touched"] == len([row for row in expected if row[1:] not in before])
            deployment = db.session.get(Deployment, station.id)
            assert deployment.events_count == len(expected) and deployment.captures_count == len(stamps)


def _install_write_counters(backend):
    if backend == "sqlite":
        statements = ["CREATE TABLE write_log (tbl TEXT)"] + [
            f"CREATE TRIGGER log_{table}_{op} AFTER {op} ON {table} BEGIN INSERT INTO write_log VALUES ('{table}'); END"
            for table in ("capture", "event", "deployment")
            for op in ("INSERT", "UPDATE", "DELETE")
        ]
    else:
        statements = [
            "CREATE TABLE write_log (tbl TEXT)",
            "CREATE FUNCTION log_write() RETURNS trigger AS $$ BEGIN "
            "INSERT INTO write_log VALUES (TG_TABLE_NAME); RETURN NULL; END $$ LANGUAGE plpgsql",
        ] + [
            f"CREATE TRIGGER log_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION log_write()"
            for table in ("capture", "event", "deployment")
        ]
    for statement in statements:
        db.session.execute(db.text(statement))
    db.session.commit()


def _remove_write_counters(backend):
    db.session.rollback()
    if backend == "sqlite":
        return
    for statement in (
        "DROP TRIGGER IF EXISTS log_capture ON capture",
        "DROP TRIGGER IF EXISTS log_event ON event",
        "DROP TRIGGER IF EXISTS log_deployment ON deployment",
        "DROP FUNCTION IF EXISTS log_write()",
        "DROP TABLE IF EXISTS write_log",
    ):
        db.session.execute(db.text(statement))
    db.session.commit()


def test_a_regroup_that_changes_nothing_writes_no_row(station, backend):
    add_captures(station, CROSS_MIDNIGHT + SAME_DATE[:3] + [None])
    _install_write_counters(backend)
    try:
        regroup_deployment(station)
        first = db.session.execute(db.text("SELECT COUNT(*) FROM write_log")).scalar()
        assert first > 0
        result = regroup_deployment(station)
        again = db.session.execute(db.text("SELECT COUNT(*) FROM write_log")).scalar()
        assert again == first
        assert result.stats["Events created"] == 0 and result.stats["Events touched"] == 0
        # One capture arrives: only the session whose span grows, and the station's counts, are written.
        db.session.execute(db.text("DELETE FROM write_log"))
        db.session.commit()
        add_captures(station, [DAY.replace(hour=22, minute=40)], prefix="more")
        db.session.execute(db.text("DELETE FROM write_log"))
        db.session.commit()
        regroup_deployment(station)
        written = db.session.execute(db.text("SELECT tbl, COUNT(*) FROM write_log GROUP BY tbl")).all()
        assert dict(written) == {"event": 1, "deployment": 1}
    finally:
        _remove_write_counters(backend)


def test_the_read_and_the_span_lookup_use_the_timestamp_index(sqlite_app):
    from webapp.sessions import timestamps

    connection = db.session.connection().connection.driver_connection
    window = f"SELECT {timestamps._AGGREGATE['sqlite']} {timestamps._RANGE.format(p='?')} AND timestamp >= ? AND timestamp < ?"
    plan = " ".join(row[-1] for row in connection.execute("EXPLAIN QUERY PLAN " + window, (1, "a", "b")))
    assert "SEARCH capture USING COVERING INDEX ix_capture_deployment_timestamp" in plan, plan
    assert "timestamp>? AND timestamp<?" in plan, plan


def test_duplicate_warning_logs_the_count_and_at_most_twenty_samples(station):
    stamps = [DAY + timedelta(minutes=i) for i in range(30)]
    add_captures(station, stamps * 2 + stamps[:1])
    job = run_regroup_job(station)
    (line,) = [line for line in stdout_warnings(job) if "shared by two or more" in line]
    assert " 30 timestamps" in line
    assert line.split("examples: ")[1].count(", ") == 19
    assert job.param("regroup_events", "duplicate_timestamps") == 30
    assert job.param("regroup_events", "captures_grouped") == 61
    assert stored_sessions(station)[0][3] == 61


def test_sessions_left_empty_are_deleted_and_null_timestamps_leave_sessions(station):
    add_captures(station, CROSS_MIDNIGHT)
    regroup_deployment(station)
    db.session.execute(
        db.update(Capture).where(Capture.timestamp >= DAY + timedelta(days=1)).values(timestamp=None)
    )
    db.session.commit()
    result = regroup_deployment(station)
    assert result.stats["Empty events deleted"] == 1
    assert result.stats["Captures missing timestamp"] == 6
    assert [s[0] for s in stored_sessions(station)] == ["2026-06-01"]
    assert capture_keys(station)[None] == {None}


def test_a_station_without_captures_regroups_to_nothing(station):
    result = regroup_deployment(station)
    assert result.stats == dict.fromkeys(REGROUP_PARAMS, 0)
    assert stored_sessions(station) == []


def test_sessions_carry_the_station_project(station, project):
    add_captures(station, CROSS_MIDNIGHT)
    regroup_deployment(station)
    other = add_project("Project B")
    station.project_id = other.id
    db.session.commit()
    regroup_deployment(db.session.get(Deployment, station.id))
    assert {e.project_id for e in db.session.query(Event).filter_by(deployment_id=station.id)} == {other.id}
