"""The job lifecycle and the recorder, independent of any job type's work."""
import pytest

from tests.conftest import add_deployment
from webapp import jobs
from webapp.extensions import db
from webapp.job_types import JOB_TYPES
from webapp.jobs import JobRecorder
from webapp.jobs import runner as job_runner
from webapp.models import Job


@pytest.fixture
def deployment(project):
    return add_deployment(project)


def test_create_job_has_stages_and_params_at_zero(deployment, manager):
    job = jobs.create_job("data_storage_sync", deployment, manager)
    assert job.status == "CREATED" and job.name == "Data storage sync"
    assert [s["key"] for s in job.stages] == ["data_storage_sync", "regroup_sessions", "thumbnails"]
    assert [p["key"] for p in job.stage("thumbnails")["params"]] == ["generated", "reused", "failed"]
    regroup = job.stage("regroup_sessions")
    assert [p["key"] for p in regroup["params"]] == [
        "captures_grouped", "events_created", "events_touched", "empty_events_deleted",
        "duplicate_timestamps", "ungrouped_captures", "captures_missing_timestamp",
    ]
    assert all(p["value"] == 0 for p in regroup["params"])
    assert job.project_id == deployment.project_id and job.created_by_id == manager.id


def test_sync_has_no_thumbnails_stage_when_thumbnails_are_off(app, deployment):
    app.config["THUMBNAIL_SIZES"] = {}
    job = jobs.create_job("data_storage_sync", deployment)
    assert [s["key"] for s in job.stages] == ["data_storage_sync", "regroup_sessions"]


def test_create_job_refuses_station_without_project(app):
    orphan = add_deployment(None, name="Orphan")
    with pytest.raises(jobs.JobError, match="no project"):
        jobs.create_job("regroup_events", orphan)
    with pytest.raises(jobs.JobError, match="Unknown job type"):
        jobs.get_job_type("nope")


def test_recorder_writes_through_its_own_connection_and_survives_rollback(deployment):
    job = jobs.create_job("regroup_events", deployment)
    recorder = JobRecorder(job)
    deployment.name = "changed inside a transaction"
    db.session.flush()
    recorder.logger.warning("something odd: %d things", 3)
    recorder.set_param("regroup_events", "Captures grouped", 12)
    recorder.set_status("STARTED")
    db.session.rollback()
    recorder.finish("SUCCESS")
    db.session.expire_all()
    stored = db.session.get(Job, job.id)
    assert stored.status == "SUCCESS"
    assert stored.param("regroup_events", "captures_grouped") == 12
    assert stored.logs["stdout"][-1].endswith("WARNING something odd: 3 things")
    assert stored.has_warning
    assert stored.heartbeat_at is not None
    assert db.session.get(type(deployment), deployment.id).name == "Station 1"


def test_recorder_progress_is_visible_while_the_job_runs(deployment):
    job = jobs.create_job("data_storage_sync", deployment)
    recorder = JobRecorder(job)
    recorder.set_stage("data_storage_sync", status="STARTED", progress=0.5)
    recorder.logger.info("halfway")
    recorder.flush(force=True)
    other = db.engine.connect()
    try:
        row = other.execute(db.select(Job.__table__.c.progress, Job.__table__.c.logs).where(Job.__table__.c.id == job.id)).one()
    finally:
        other.close()
    assert row.progress["stages"][0]["progress"] == 0.5
    assert row.progress["summary"]["progress"] == pytest.approx(0.5 / len(row.progress["stages"]))
    assert row.logs["stdout"][-1].endswith("INFO halfway")


def test_recorder_keeps_error_messages_in_both_streams_and_the_traceback_apart(deployment):
    job = jobs.create_job("regroup_events", deployment)
    recorder = JobRecorder(job)
    try:
        raise RuntimeError("disk on fire")
    except RuntimeError as error:
        recorder.record_exception(error)
    recorder.finish("FAILURE")
    stored = db.session.get(Job, job.id)
    db.session.refresh(stored)
    assert stored.status == "FAILURE" and stored.finished_at is not None
    assert stored.logs["stdout"][-1].endswith("ERROR RuntimeError: disk on fire")
    assert stored.logs["stderr"][-1].endswith("ERROR RuntimeError: disk on fire")
    assert not any("Traceback" in line for line in stored.logs["stdout"] + stored.logs["stderr"])
    assert stored.logs["traceback"].startswith("Traceback") and "disk on fire" in stored.logs["traceback"]


def test_param_keys_derive_from_names():
    from webapp.models import param_key

    assert param_key("Captures missing timestamp") == "captures_missing_timestamp"
    assert param_key("Empty events deleted") == "empty_events_deleted"
    assert param_key("Total files (S3)") == "total_files__s3_"


def test_cancel_of_a_created_job_revokes_it(deployment):
    job = jobs.create_job("regroup_events", deployment)
    jobs.cancel(job)
    assert job.status == "REVOKED" and job.cancel_requested and job.finished_at
    assert job.logs["stdout"][-1].endswith("INFO Cancelled before it started.")
    with pytest.raises(jobs.JobError, match="already finished"):
        jobs.cancel(job)
    # A revoked job that still reaches a worker does nothing.
    assert jobs.run_job(job.id).status == "REVOKED"


def test_cancel_of_a_running_job_asks_it_to_stop(deployment):
    job = jobs.create_job("regroup_events", deployment)
    job.status = "STARTED"
    db.session.commit()
    jobs.cancel(job)
    assert job.status == "CANCELING" and job.cancel_requested
    recorder = JobRecorder(job)
    with pytest.raises(jobs.JobCancelled):
        recorder.check_cancelled()


def test_a_cancel_after_the_work_committed_is_noted_and_the_job_succeeds(deployment, monkeypatch):
    from dataclasses import replace

    def work_then_someone_cancels(station, recorder):
        db.session.commit()
        with db.engine.begin() as conn:
            conn.execute(Job.__table__.update().where(Job.__table__.c.id == recorder.job_id).values(cancel_requested=True, status="CANCELING"))

    monkeypatch.setitem(JOB_TYPES, "regroup_events", replace(JOB_TYPES["regroup_events"], run=work_then_someone_cancels))
    job = jobs.create_job("regroup_events", deployment)
    done = jobs.run_job(job.id)
    assert done.status == "SUCCESS"
    assert any("A cancel arrived after the work had been committed" in line for line in done.logs["stdout"])
    assert done.logs["stdout"][-1].split(" ", 1)[0].endswith("Z")


def test_a_queue_that_refuses_the_job_fails_it_visibly(deployment):
    from tasks import make_huey

    down = make_huey("redis://127.0.0.1:1/0")  # nothing listens on port 1
    job = jobs.create_job("regroup_events", deployment)
    with pytest.raises(jobs.QueueUnavailable, match="queue is unavailable"):
        jobs.enqueue(job, queue=down)
    stored = db.session.get(Job, job.id)
    assert stored.status == "FAILURE" and stored.finished_at
    assert any("could not be queued" in line for line in stored.logs["stdout"])


def test_a_worker_cannot_start_a_job_revoked_after_it_read_it(deployment):
    job = jobs.create_job("regroup_events", deployment)
    # The worker has read the job (still CREATED); the cancel lands before it claims it.
    with db.engine.begin() as conn:
        conn.execute(Job.__table__.update().where(Job.__table__.c.id == job.id).values(cancel_requested=True))
    done = jobs.run_job(job.id)
    assert done.status == "REVOKED" and done.started_at is None


def test_cancel_of_a_job_a_worker_just_claimed_asks_it_to_stop(deployment):
    job = jobs.create_job("regroup_events", deployment)
    assert job.status == "CREATED"
    assert job_runner._claim(job.id)  # a worker claims it after the page read it as CREATED
    cancelled = jobs.cancel(job)
    assert cancelled.status == "CANCELING" and cancelled.cancel_requested
