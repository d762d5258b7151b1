"""Once a job is finished its status never changes: a worker the reaper took
for lost, but that was only slow, cannot overwrite the reaper's FAILURE; its
outcome is noted in the log instead."""
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import current_app

from tests.conftest import add_deployment
from webapp import jobs
from webapp.extensions import db
from webapp.job_types import JOB_TYPES
from webapp.jobs import runner as job_runner
from webapp.models import Capture, Job, utcnow


@pytest.fixture
def deployment(project):
    return add_deployment(project)


def reap_from_another_worker():
    """The periodic sweep, on its own thread and database session, an hour from now."""
    app = current_app._get_current_object()
    reaped = []

    def sweep():
        with app.app_context():
            reaped.append(job_runner.reap_stale_jobs(utcnow() + timedelta(hours=1)))
            db.session.remove()

    thread = threading.Thread(target=sweep)
    thread.start()
    thread.join()
    assert reaped == [1]


def slow_work(fail: bool):
    def work(station, recorder):
        recorder.set_stage("regroup_events", status="STARTED")
        recorder.flush(force=True)
        reap_from_another_worker()
        db.session.add(Capture(deployment_id=station.id, path="late.jpg", size=1))
        if fail:
            raise RuntimeError("disk on fire")
        db.session.commit()
        recorder.set_param("regroup_events", "Captures grouped", 1)

    return work


def captures():
    return db.session.scalars(db.select(Capture.path)).all()


@pytest.mark.parametrize("fail", [False, True], ids=["late success", "late failure"])
def test_a_slow_worker_cannot_overwrite_the_reapers_failure(deployment, monkeypatch, fail):
    monkeypatch.setitem(JOB_TYPES, "regroup_events", replace(JOB_TYPES["regroup_events"], run=slow_work(fail)))
    job = jobs.create_job("regroup_events", deployment)
    if fail:
        with pytest.raises(RuntimeError):
            job_runner.run_job(job.id)
    else:
        job_runner.run_job(job.id)
    done = job_runner.reloaded(job.id)
    assert done.status == "FAILURE" and done.progress["summary"]["status"] == "FAILURE"
    assert done.stage("regroup_events")["status"] == "FAILURE"
    stdout = done.logs["stdout"]
    assert any(" ERROR Worker lost: no heartbeat since " in line for line in stdout)
    assert any(" ERROR Worker lost: " in line for line in done.logs["stderr"])
    assert " WARNING The worker finished after being marked lost: " in stdout[-1]
    if fail:
        assert "FAILURE (RuntimeError: disk on fire); its work was rolled back" in stdout[-1]
        assert captures() == []
    else:
        assert "SUCCESS; its work was committed" in stdout[-1]
        assert captures() == ["late.jpg"]
        # The late worker's params are not written over the failed job's.
        assert {p["key"]: p["value"] for p in done.stage("regroup_events")["params"]}["captures_grouped"] == 0
    assert stdout[-1].endswith("The job stays FAILURE.")


def test_a_finished_job_ignores_the_recorders_writes(deployment):
    job = jobs.create_job("regroup_events", deployment)
    jobs.cancel(job)
    recorder = job_runner.JobRecorder(job_runner.reloaded(job.id))
    recorder.set_status("STARTED")
    recorder.logger.info("should not appear")
    recorder.flush(force=True, wait=True)
    stored = job_runner.reloaded(job.id)
    assert stored.status == "REVOKED" and not any("should not appear" in line for line in stored.logs["stdout"])
    assert recorder.overtaken_by == "REVOKED"
    assert isinstance(stored, Job)
