"""Regroup and sync as jobs (Huey immediate mode), cancel, time limit, the
stale-job reaper and the regroup/sync commands."""
import io
import logging
import re
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import add_deployment, grant_data_root, s3_source
from webapp import jobs
from webapp.extensions import db
from webapp.jobs import runner as job_runner
from webapp.models import Capture, Event, Job, Lock, utcnow

NIGHT_1 = ["20240601_220000.jpg", "20240601_221000.jpg", "20240601_223000.jpg", "20240601_223000-b.jpg"]
NIGHT_2 = ["cam/2024-06-02 21-00-00.JPG", "cam/2024-06-02 21-30-00.png"]
NO_TIME = ["cam/IMG_0001.jpg"]


def write_files(folder, names):
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


@pytest.fixture
def data_dir(app):
    station = Path(app.config["DATA_SOURCE_ROOTS"][0]) / "station1"
    station.mkdir()
    write_files(station, NIGHT_1 + NIGHT_2 + NO_TIME)
    return station


@pytest.fixture
def deployment(project, data_dir):
    grant_data_root(project)
    return add_deployment(project, data_source=str(data_dir))


def params(job, stage_key):
    return {p["key"]: p["value"] for p in job.stage(stage_key)["params"]}


def run(job_type_key, deployment):
    job = jobs.create_job(job_type_key, deployment)
    jobs.enqueue(job)
    db.session.expire_all()
    return db.session.get(Job, job.id)


def test_sync_adds_captures_then_regroups_in_two_stages(deployment):
    job = run("data_storage_sync", deployment)
    assert job.status == "SUCCESS", job.logs
    assert [(s["key"], s["status"], s["progress"]) for s in job.stages] == [
        ("data_storage_sync", "SUCCESS", 1.0),
        ("regroup_sessions", "SUCCESS", 1.0),
        ("thumbnails", "SUCCESS", 1.0),
    ]
    assert params(job, "data_storage_sync") == {
        "total_files": 7, "captures_added": 7, "failed": 1, "files_missing_from_source": 0, "unreadable_files": 0,
        "files_changed": 0, "times_changed": 0,
    }
    assert params(job, "regroup_sessions") == {
        "captures_grouped": 6, "events_created": 2, "events_touched": 2, "empty_events_deleted": 0,
        "duplicate_timestamps": 1, "ungrouped_captures": 0, "captures_missing_timestamp": 1,
    }
    # The test files are empty: every example capture's thumbnail fails, is counted and logged.
    assert params(job, "thumbnails") == {"generated": 0, "reused": 0, "failed": 5}
    stdout = job.logs["stdout"]
    found = next(i for i, line in enumerate(stdout) if "Found 7 files" in line)
    grouped = next(i for i, line in enumerate(stdout) if "Regrouped deployment" in line and ": 6 captures in 2 sessions" in line)
    assert found < grouped, "the sync stage runs before the regroup stage"
    assert any(" WARNING " in line and "cam/IMG_0001.jpg" in line for line in stdout)
    assert job.started_at and job.finished_at and job.heartbeat_at
    nameless = db.session.scalar(db.select(Capture).filter_by(deployment_id=deployment.id, path="cam/IMG_0001.jpg"))
    assert nameless.timestamp is None
    from webapp.sessions import captures_page

    sessions = {capture.path: event_id for capture, event_id, _ in captures_page(deployment, per_page=100).items}
    assert sessions["cam/IMG_0001.jpg"] is None
    db.session.refresh(deployment)
    assert deployment.captures_count == 7 and deployment.events_count == 2
    assert deployment.first_capture_timestamp == datetime(2024, 6, 1, 22, 0)


def test_resync_adds_nothing_and_reports_vanished_files(deployment, data_dir):
    run("data_storage_sync", deployment)
    (data_dir / NIGHT_1[0]).unlink()
    job = run("data_storage_sync", deployment)
    assert job.status == "SUCCESS"
    assert params(job, "data_storage_sync") == {
        "total_files": 6, "captures_added": 0, "failed": 0, "files_missing_from_source": 1, "unreadable_files": 0,
        "files_changed": 0, "times_changed": 0,
    }
    assert any(" WARNING " in line and NIGHT_1[0] in line and "kept" in line for line in job.logs["stdout"])
    assert db.session.scalar(db.select(db.func.count(Capture.id)).filter_by(deployment_id=deployment.id)) == 7


def _capture_writes(statements) -> list[str]:
    return [s for s in statements if re.match(r"\s*(INSERT INTO|UPDATE|DELETE FROM) capture\b", s, re.I)]


@pytest.fixture
def statements():
    """Every SQL statement the engine runs while the test does."""
    from sqlalchemy import event as sa_event

    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    sa_event.remove(db.engine, "before_cursor_execute", record)


def test_an_unchanged_resync_reports_no_changed_files_and_writes_no_capture(deployment, statements):
    run("data_storage_sync", deployment)
    statements.clear()
    job = run("data_storage_sync", deployment)
    assert job.status == "SUCCESS"
    assert params(job, "data_storage_sync")["files_changed"] == 0
    assert not any("files changed" in line for line in job.logs["stdout"])
    assert _capture_writes(statements) == []


def test_a_newer_time_or_another_size_is_a_changed_file(deployment, data_dir, statements):
    import os

    run("data_storage_sync", deployment)
    same_size, other_size, untouched = data_dir / NIGHT_1[0], data_dir / NIGHT_1[1], data_dir / NIGHT_1[2]
    before = {path: path.stat().st_mtime for path in (same_size, other_size)}
    os.utime(same_size, (before[same_size] + 60, before[same_size] + 60))
    other_size.write_bytes(b"longer")
    os.utime(other_size, (before[other_size], before[other_size]))  # an older copy's time kept (rsync -t)
    # A time that went back with the same size is not a change the thumbnails need.
    os.utime(untouched, (untouched.stat().st_mtime - 60, untouched.stat().st_mtime - 60))
    statements.clear()
    job = run("data_storage_sync", deployment)
    assert params(job, "data_storage_sync")["files_changed"] == 2
    assert params(job, "data_storage_sync")["captures_added"] == 0
    logged = next(line for line in job.logs["stdout"] if "2 files changed" in line)
    assert NIGHT_1[0] in logged and NIGHT_1[1] in logged and NIGHT_1[2] not in logged
    # Set-based: one executemany for the batch, whatever its size.
    assert len([s for s in _capture_writes(statements) if s.lstrip().upper().startswith("UPDATE")]) == 1
    rows = {c.path: c for c in db.session.scalars(db.select(Capture).filter_by(deployment_id=deployment.id))}
    assert rows[NIGHT_1[1]].size == 6
    # The file's time to the microsecond (its nanoseconds cut, not rounded through a float).
    assert rows[NIGHT_1[0]].last_modified == datetime(1970, 1, 1) + timedelta(
        microseconds=same_size.stat().st_mtime_ns // 1000)
    assert rows[NIGHT_1[0]].timestamp == datetime(2024, 6, 1, 22, 0)
    assert params(run("data_storage_sync", deployment), "data_storage_sync")["files_changed"] == 0


def test_sync_uses_exif_when_the_name_has_no_time(deployment, data_dir):
    from PIL import Image

    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2024:06:03 23:15:00"
    image = io.BytesIO()
    Image.new("RGB", (8, 8)).save(image, "JPEG", exif=exif)
    (data_dir / "cam" / "IMG_0002.jpg").write_bytes(image.getvalue())
    job = run("data_storage_sync", deployment)
    assert params(job, "data_storage_sync")["failed"] == 1
    capture = db.session.scalar(db.select(Capture).filter_by(deployment_id=deployment.id, path="cam/IMG_0002.jpg"))
    assert capture.timestamp == datetime(2024, 6, 3, 23, 15)


def test_sync_of_a_source_outside_the_roots_fails_clearly(project, tmp_path):
    grant_data_root(project)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    write_files(outside, NIGHT_1)
    deployment = add_deployment(project, data_source=str(outside))
    job = run("data_storage_sync", deployment)
    assert job.status == "FAILURE"
    assert "not inside a storage source of this project" in job.logs["stdout"][-1]
    assert str(tmp_path) not in str(job.logs)
    assert job.stage("data_storage_sync")["status"] == "FAILURE"
    assert job.stage("regroup_sessions")["status"] == "CREATED"
    assert db.session.scalar(db.select(db.func.count(Capture.id))) == 0


@pytest.fixture
def failing_event_inserts(app):
    """A real database failure inside the regroup: every session insert is refused."""
    if db.engine.dialect.name == "sqlite":
        db.session.execute(db.text(
            "CREATE TRIGGER refuse_event BEFORE INSERT ON event BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END"
        ))
        db.session.commit()
        yield
        return
    db.session.execute(db.text(
        "CREATE FUNCTION refuse_event() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$ "
        "LANGUAGE plpgsql"
    ))
    db.session.execute(db.text("CREATE TRIGGER refuse_event BEFORE INSERT ON event FOR EACH ROW EXECUTE FUNCTION refuse_event()"))
    db.session.commit()
    yield
    db.session.rollback()
    db.session.execute(db.text("DROP TRIGGER refuse_event ON event"))
    db.session.execute(db.text("DROP FUNCTION refuse_event()"))
    db.session.commit()


def test_a_failing_regroup_fails_the_sync_job(deployment, failing_event_inserts):
    job = run("data_storage_sync", deployment)
    assert job.status == "FAILURE"
    assert job.stage("data_storage_sync")["status"] == "SUCCESS"
    assert job.stage("regroup_sessions")["status"] == "FAILURE"
    assert "disk full (simulated)" in job.logs["stdout"][-1] and " ERROR " in job.logs["stdout"][-1]
    assert "Traceback" in job.logs["traceback"]
    assert not any("Traceback" in line for line in job.logs["stderr"])
    # The captures the sync stage committed are kept; the failed regroup left no sessions.
    assert db.session.scalar(db.select(db.func.count(Capture.id))) == 7
    assert db.session.scalar(db.select(db.func.count(Event.id))) == 0


def test_regroup_job_has_its_stage_params(deployment):
    run("data_storage_sync", deployment)
    job = run("regroup_events", deployment)
    assert job.status == "SUCCESS" and job.name == "Regroup sessions"
    assert [s["key"] for s in job.stages] == ["regroup_events"]
    assert params(job, "regroup_events") == {
        "captures_grouped": 6, "events_created": 0, "events_touched": 0, "empty_events_deleted": 0,
        "duplicate_timestamps": 1, "ungrouped_captures": 0, "captures_missing_timestamp": 1,
    }


def test_run_job_fails_the_job_and_reraises(deployment, failing_event_inserts):
    db.session.add(Capture(deployment_id=deployment.id, path="a_20240601220000.jpg", timestamp=datetime(2024, 6, 1, 22)))
    db.session.commit()
    job = jobs.create_job("regroup_events", deployment)
    with pytest.raises(Exception, match="disk full"):
        jobs.run_job(job.id)
    job = db.session.get(Job, job.id)
    db.session.refresh(job)
    assert job.status == "FAILURE" and job.stage("regroup_events")["status"] == "FAILURE"


def test_time_limit_fails_the_job_between_batches(deployment):
    job = jobs.create_job("data_storage_sync", deployment)
    with pytest.raises(jobs.JobTimeLimitExceeded):
        jobs.run_job(job.id, time_limit=0)
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == "FAILURE"
    assert job.logs["stdout"][-1].endswith("ERROR webapp.jobs.recorder.JobTimeLimitExceeded: "
                                           "The job exceeded its time limit of 0 s.")
    assert job.stage("data_storage_sync")["status"] == "FAILURE"


def test_cancel_of_a_queued_job_revokes_its_task(deployment, tmp_path):
    """On a real (SQLite) queue with no consumer yet: the revoked task never runs."""
    from tasks import make_huey

    queue = make_huey(f"sqlite:///{tmp_path / 'queue.db'}")
    job = jobs.create_job("regroup_events", deployment)
    jobs.enqueue(job, queue=queue)
    assert db.session.get(Job, job.id).status == "PENDING" and len(queue) == 1
    jobs.cancel(db.session.get(Job, job.id), queue=queue)
    task = queue.dequeue()
    assert task.id == jobs.job_task_id(job.id)
    assert queue.is_revoked(task)
    assert queue.execute(task) is None
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == "REVOKED" and job.started_at is None
    assert db.session.scalar(db.select(db.func.count(Event.id))) == 0


class CancelWhenLogged(logging.Handler):
    """Asks to cancel the job, from another connection, when its log says `text`."""

    def __init__(self, text):
        super().__init__(logging.INFO)
        self.text = text

    def emit(self, record):
        if self.text in record.getMessage():
            job_id = int(record.name.rsplit(".", 1)[1])
            with db.engine.begin() as conn:
                conn.execute(db.update(Job).where(Job.id == job_id).values(cancel_requested=True, status="CANCELING"))


@pytest.fixture
def cancel_when_logged():
    handlers = []

    def install(text):
        handlers.append(CancelWhenLogged(text))
        logging.getLogger("ami.jobs").addHandler(handlers[-1])

    yield install
    for handler in handlers:
        logging.getLogger("ami.jobs").removeHandler(handler)


def test_cancel_during_the_sync_stage_stops_before_the_next_batch(deployment, cancel_when_logged):
    cancel_when_logged("Listing")
    job = run("data_storage_sync", deployment)
    assert job.status == "REVOKED" and job.finished_at
    assert [s["status"] for s in job.stages] == ["REVOKED", "CREATED", "CREATED"]
    assert "Cancelled while running" in job.logs["stdout"][-1]
    assert db.session.scalar(db.select(db.func.count(Capture.id))) == 0


def test_cancel_during_the_regroup_stage_rolls_the_regroup_back(deployment, cancel_when_logged):
    cancel_when_logged("Added 7 captures")
    job = run("data_storage_sync", deployment)
    assert job.status == "REVOKED"
    assert [s["status"] for s in job.stages] == ["SUCCESS", "REVOKED", "CREATED"]
    # The sync's committed batches stay; the cancelled regroup wrote nothing.
    assert db.session.scalar(db.select(db.func.count(Capture.id))) == 7
    assert db.session.scalar(db.select(db.func.count(Event.id))) == 0
    assert db.session.scalar(db.select(db.func.count(Lock.key))) == 0


def test_reaper_fails_jobs_without_heartbeat_and_drops_expired_locks(deployment, app):
    now = utcnow()
    beat = app.config["JOB_HEARTBEAT_SECONDS"]
    lost = jobs.create_job("data_storage_sync", deployment)
    alive = jobs.create_job("regroup_events", deployment)
    queued = jobs.create_job("regroup_events", deployment)
    for job, heartbeat in ((lost, now - timedelta(seconds=2 * beat + 1)), (alive, now - timedelta(seconds=beat))):
        job.status, job.started_at, job.heartbeat_at = "STARTED", now - timedelta(hours=1), heartbeat
        stages = [dict(job.stages[0], status="STARTED"), *job.stages[1:]]
        job.progress = {**job.progress, "stages": stages}
    queued.created_at = now - timedelta(hours=1)
    db.session.add_all([
        Lock(key="expired", token="t1", expires_at=now - timedelta(seconds=1)),
        Lock(key="live", token="t2", expires_at=now + timedelta(minutes=5)),
    ])
    db.session.commit()

    assert jobs.reap_stale_jobs(now) == 1
    db.session.expire_all()
    lost, alive, queued = (db.session.get(Job, j.id) for j in (lost, alive, queued))
    assert lost.status == "FAILURE" and lost.finished_at == now
    assert "Worker lost" in lost.logs["stdout"][-1] and " ERROR " in lost.logs["stdout"][-1]
    assert lost.stage("data_storage_sync")["status"] == "FAILURE"
    assert lost.progress["summary"]["status"] == "FAILURE"
    assert alive.status == "STARTED" and queued.status == "CREATED"
    assert db.session.scalars(db.select(Lock.key)).all() == ["live"]
    assert jobs.reap_stale_jobs(now) == 0


def test_reaper_fails_queued_jobs_whose_task_the_queue_lost(deployment, app):
    now = utcnow()
    limit = app.config["JOB_QUEUE_LOST_SECONDS"]
    old = now - timedelta(seconds=limit + 1)
    lost_pending, lost_created, still_queued, young = (jobs.create_job("regroup_events", deployment) for _ in range(4))
    for job, status, created in (
        (lost_pending, "PENDING", old), (lost_created, "CREATED", old), (still_queued, "PENDING", old),
        (young, "PENDING", now - timedelta(seconds=limit - 5)),
    ):
        job.status, job.created_at = status, created
    db.session.commit()
    in_queue = {jobs.job_task_id(still_queued.id)}

    assert jobs.reap_stale_jobs(now, queued_task_ids=lambda: in_queue) == 2
    db.session.expire_all()
    for job in (lost_pending, lost_created):
        job = db.session.get(Job, job.id)
        assert job.status == "FAILURE" and job.finished_at == now
        assert "Queued task lost" in job.logs["stdout"][-1] and " ERROR " in job.logs["stdout"][-1]
    assert db.session.get(Job, still_queued.id).status == "PENDING"
    assert db.session.get(Job, young.id).status == "PENDING"
    # Without a view of the queue, queued jobs are left alone.
    assert jobs.reap_stale_jobs(now + timedelta(hours=1)) == 0


def test_reaper_leaves_a_job_whose_task_a_worker_just_took_off_the_queue(deployment, app):
    """The task left the queue, and the worker claims the job a moment later: not lost."""
    import threading

    from webapp.jobs.runner import _claim

    app.config["JOB_CLAIM_GRACE_SECONDS"] = 1
    now = utcnow()
    job = jobs.create_job("regroup_events", deployment)
    job.status, job.created_at = "PENDING", now - timedelta(seconds=app.config["JOB_QUEUE_LOST_SECONDS"] + 60)
    db.session.commit()
    job_id = job.id
    claimed = []

    def worker_claims_it():
        time.sleep(0.3)
        with app.app_context():
            claimed.append(_claim(job_id))

    worker = threading.Thread(target=worker_claims_it)
    worker.start()
    reaped = jobs.reap_stale_jobs(now, queued_task_ids=set)
    worker.join()
    db.session.expire_all()
    assert claimed == [True]
    assert reaped == 0 and db.session.get(Job, job_id).status == "STARTED"


def test_the_consumer_enqueues_the_reaper_on_its_own_clock(app):
    """REAPER_INTERVAL_SECONDS, not Huey's minute, sets how often a consumer sweeps; other periodic tasks keep the minute."""
    from huey import MemoryHuey, crontab
    from huey.consumer import Scheduler

    from tasks.consumer import make_consumer

    queue = MemoryHuey(f"reaper-{uuid.uuid4().hex[:6]}")
    queue.periodic_task(crontab(minute="*"), name="hourly_report")(lambda: None)
    scheduler = make_consumer(queue, workers=1, reaper_interval=0.2)._create_scheduler()
    assert isinstance(scheduler, Scheduler)
    scheduler.interval = 0.05
    for _ in range(10):
        scheduler.loop()
    enqueued = [task.name for task in queue.pending()]
    assert enqueued.count("reap_stale_jobs") >= 2
    assert enqueued.count("hourly_report") == 1


def test_reaper_runs_as_a_periodic_task_every_minute(app):
    huey = app.extensions["huey"]
    periodic = [task for task in huey._registry.periodic_tasks if task.name == "reap_stale_jobs"]
    assert len(periodic) == 1 and isinstance(periodic[0], huey._ami_tasks.reap_stale_jobs.task_class)
    assert all(periodic[0].validate_datetime(datetime(2024, 6, 1, 3, minute)) for minute in range(60))


def test_heartbeat_thread_beats_during_a_long_step(deployment):
    job = jobs.create_job("regroup_events", deployment)
    job.status = "STARTED"
    db.session.commit()
    beat = job_runner._Heartbeat(db.engine, job.id, 0.05)
    beat.start()
    try:
        deadline = time.monotonic() + 5
        while db.session.scalar(db.select(Job.heartbeat_at).filter_by(id=job.id)) is None:
            assert time.monotonic() < deadline, "no heartbeat written"
            db.session.rollback()
            time.sleep(0.02)
    finally:
        beat.stop()
    assert not beat.is_alive()


def test_cli_regroup_and_sync_print_stage_params(runner, deployment):
    result = runner.invoke(args=["sync", str(deployment.id)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Data storage sync / Total files: 7" in lines
    assert "Data storage sync / Failed: 1" in lines
    assert "Regroup sessions / Captures grouped: 6" in lines
    assert lines[-1].endswith("SUCCESS")

    result = runner.invoke(args=["regroup", str(deployment.id)])
    assert result.exit_code == 0, result.output
    assert "Regroup sessions / Events touched: 0" in result.output.splitlines()
    assert "Total files" not in result.output
    kinds = db.session.scalars(db.select(Job.job_type_key).order_by(Job.id)).all()
    assert kinds == ["data_storage_sync", "regroup_events"]

    result = runner.invoke(args=["sync", "--since-last", str(deployment.id)])
    assert result.exit_code == 0, result.output
    assert "Data storage sync / Captures added: 0" in result.output.splitlines()
    quick = db.session.scalars(db.select(Job).order_by(Job.id.desc())).first()
    assert quick.progress["options"] == {"since": "last"}
    assert any("Quick sync of" in line for line in quick.logs["stdout"])


def test_cli_exits_1_for_unknown_station_and_failed_job(runner, deployment, failing_event_inserts):
    missing = runner.invoke(args=["regroup", "999999"])
    assert missing.exit_code == 1 and "No station with id 999999" in missing.output
    failed = runner.invoke(args=["sync", str(deployment.id)])
    assert failed.exit_code == 1
    assert "ended FAILURE" in failed.output and "disk full (simulated)" in failed.output
    assert "Regroup sessions / Captures grouped: 0" in failed.output


# -- the per-station lock (grouping branch) ------------------------------------

def hold_station_lock(deployment):
    """Take the station's regroup lock as a live regroup elsewhere would."""
    from webapp.jobs import locks
    from webapp.sessions import regroup

    assert locks.acquire(regroup.lock_key(deployment.id), ttl_seconds=600, owner="another worker")


def test_regroup_skipped_for_the_lock_warns_and_succeeds(deployment):
    run("data_storage_sync", deployment)
    hold_station_lock(deployment)
    job = run("regroup_events", deployment)
    assert job.status == "SUCCESS"
    assert params(job, "regroup_events")["captures_grouped"] == 0
    assert any(" WARNING " in line and "another regroup is in progress" in line for line in job.logs["stdout"])


def test_sync_whose_regroup_is_skipped_names_the_files_it_added(deployment):
    hold_station_lock(deployment)
    job = run("data_storage_sync", deployment)
    assert job.status == "SUCCESS"
    assert params(job, "regroup_sessions")["captures_grouped"] == 0
    stdout = job.logs["stdout"]
    assert any("another regroup is in progress" in line for line in stdout)
    assert any(" WARNING " in line and "added 7 files" in line and "will include them" in line for line in stdout)


# -- S3 ------------------------------------------------------------------------

def test_sync_from_s3(project, s3, s3_endpoint):
    from PIL import Image

    client, bucket = s3
    s3_source(f"s3://{bucket}", s3_endpoint, project)
    for name in NIGHT_1 + NIGHT_2 + NO_TIME + ["notes.txt"]:
        client.put_object(Bucket=bucket, Key=f"station9/{name}", Body=b"x" * 3)
    client.put_object(Bucket=bucket, Key="station99/20240601_220000.jpg", Body=b"")
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2024:06:03 23:15:00"
    image = io.BytesIO()
    Image.new("RGB", (8, 8)).save(image, "JPEG", exif=exif)
    client.put_object(Bucket=bucket, Key="station9/IMG_0002.jpg", Body=image.getvalue())

    deployment = add_deployment(project, data_source=f"s3://{bucket}/station9")
    job = run("data_storage_sync", deployment)
    assert job.status == "SUCCESS", job.logs
    assert params(job, "data_storage_sync") == {
        "total_files": 8, "captures_added": 8, "failed": 1, "files_missing_from_source": 0, "unreadable_files": 0,
        "files_changed": 0, "times_changed": 0,
    }
    assert params(job, "regroup_sessions")["captures_grouped"] == 7
    paths = set(db.session.scalars(db.select(Capture.path).filter_by(deployment_id=deployment.id)))
    assert "cam/IMG_0001.jpg" in paths and "notes.txt" not in paths and len(paths) == 8
    exif_capture = db.session.scalar(db.select(Capture).filter_by(deployment_id=deployment.id, path="IMG_0002.jpg"))
    assert exif_capture.timestamp == datetime(2024, 6, 3, 23, 15)
    assert db.session.scalar(db.select(Capture.size).filter_by(path="20240601_220000.jpg")) == 3

    again = run("data_storage_sync", deployment)
    assert params(again, "data_storage_sync")["captures_added"] == 0
    assert params(again, "data_storage_sync")["files_changed"] == 0
    # An object replaced under the same key: the listing's size and LastModified tell.
    client.put_object(Bucket=bucket, Key="station9/20240601_220000.jpg", Body=b"x" * 5)
    changed = run("data_storage_sync", deployment)
    assert params(changed, "data_storage_sync")["files_changed"] == 1
    assert params(changed, "data_storage_sync")["captures_added"] == 0
    db.session.expire_all()
    assert db.session.scalar(db.select(Capture.size).filter_by(path="20240601_220000.jpg")) == 5


def test_keys_stored_under_another_secret_key_fail_the_sync_clearly(app, project, s3, s3_endpoint):
    _, bucket = s3
    s3_source(f"s3://{bucket}", s3_endpoint, project)
    deployment = add_deployment(project, data_source=f"s3://{bucket}/station9")
    app.config["SECRET_KEY"] = "another-secret"
    job = run("data_storage_sync", deployment)
    assert job.status == "FAILURE"
    assert "cannot be read with this SECRET_KEY" in job.logs["stdout"][-1]


def test_sync_from_a_missing_bucket_fails_clearly(project, s3, s3_endpoint):
    s3_source("s3://no-such-bucket-here", s3_endpoint, project)
    deployment = add_deployment(project, data_source="s3://no-such-bucket-here/x")
    job = run("data_storage_sync", deployment)
    assert job.status == "FAILURE"
    assert "Cannot list Source 1/x" in job.logs["stdout"][-1]
    assert "NoSuchBucket" in job.logs["stdout"][-1]
