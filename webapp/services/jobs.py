"""Jobs: the registry of job types and every job's lifecycle.

CREATED → PENDING (enqueued) → STARTED → SUCCESS | FAILURE, and
CANCELING → REVOKED when someone cancels. A job's work is a JobType's `run`,
called by the thin Huey task in `tasks/jobs.py` (or in the foreground by the
CLI); it reports through a JobRecorder (stages, params, logs).
"""
from dataclasses import dataclass, field
from typing import Callable

from ..extensions import db
from ..models import Deployment, Job, User, utcnow
from .job_recorder import JobCancelled, JobRecorder  # noqa: F401  (JobCancelled is part of this API)

REGROUP_PARAMS = (
    "Captures grouped",
    "Events created",
    "Events touched",
    "Empty events deleted",
    "Duplicate timestamps",
    "Ungrouped captures",
    "Captures missing timestamp",
)
SYNC_PARAMS = ("Total files", "Captures added", "Failed")


class JobError(ValueError):
    """A job that cannot be created or changed as asked (shown to the user)."""


@dataclass(frozen=True)
class Stage:
    key: str
    name: str
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobType:
    key: str
    name: str
    stages: tuple[Stage, ...]
    run: Callable[[Deployment, JobRecorder], None] = field(repr=False)


def _run_regroup(deployment: Deployment, recorder: JobRecorder) -> None:
    from .regroup import regroup_deployment

    regroup_deployment(deployment, job=recorder, stage_key="regroup_events")


def _run_sync(deployment: Deployment, recorder: JobRecorder) -> None:
    from .sync import sync_deployment

    sync_deployment(deployment, job=recorder)


JOB_TYPES: dict[str, JobType] = {
    job_type.key: job_type
    for job_type in (
        JobType(
            "regroup_events",
            "Regroup sessions",
            (Stage("regroup_events", "Regroup sessions", REGROUP_PARAMS),),
            _run_regroup,
        ),
        JobType(
            "data_storage_sync",
            "Data storage sync",
            (
                Stage("data_storage_sync", "Data storage sync", SYNC_PARAMS),
                Stage("regroup_sessions", "Regroup sessions", REGROUP_PARAMS),
            ),
            _run_sync,
        ),
    )
}


def get_job_type(key: str) -> JobType:
    try:
        return JOB_TYPES[key]
    except KeyError:
        raise JobError(f"Unknown job type {key!r}.") from None


def create_job(job_type_key: str, deployment: Deployment, user: User | None = None) -> Job:
    """Create a job row for a station with all its stages and params present (at 0)."""
    job_type = get_job_type(job_type_key)
    if deployment.project_id is None:
        raise JobError(f"Station {deployment.id} belongs to no project; assign it to a project first.")
    job = Job(
        name=job_type.name,
        job_type_key=job_type.key,
        status="CREATED",
        deployment_id=deployment.id,
        project_id=deployment.project_id,
        created_by_id=user.id if user is not None else None,
        progress={"summary": {"status": "CREATED", "progress": 0.0}, "stages": []},
        logs={"stdout": [], "stderr": []},
    )
    progress = job.progress
    for stage in job_type.stages:
        progress["stages"].append(
            {
                "key": stage.key,
                "name": stage.name,
                "status": "CREATED",
                "progress": 0.0,
                "params": [],
            }
        )
    db.session.add(job)
    db.session.flush()
    recorder = JobRecorder(job)
    for stage in job_type.stages:
        recorder.add_stage(stage.key, stage.name, stage.params)
    job.progress = recorder.progress
    db.session.commit()
    return job


def enqueue(job: Job) -> Job:
    """Mark the job PENDING and hand it to the queue (runs inline in immediate mode)."""
    from tasks import huey
    from tasks.jobs import run_job

    job.status = "PENDING"
    job.progress = dict(job.progress, summary={**job.progress.get("summary", {}), "status": "PENDING"})
    db.session.commit()
    huey.enqueue(run_job.s(job.id, id=job_task_id(job.id)))
    db.session.expire_all()
    return job


def job_task_id(job_id: int) -> str:
    """The Huey task id of a job, so a queued job can be revoked by its id."""
    return f"job-{job_id}"


def run_job(job_id: int) -> Job | None:
    """Run one job to its end in this process. Called by the task and by the CLI.

    Exceptions of the work mark the job FAILURE (last traceback line in stdout,
    full traceback in stderr) and are re-raised for the caller to record.
    """
    job = db.session.get(Job, job_id)
    if job is None or job.is_finished:
        return job
    recorder = JobRecorder(job)
    if job.cancel_requested:
        recorder.logger.info("Cancelled before it started.")
        recorder.finish("REVOKED")
        return _reloaded(job_id)
    job_type = get_job_type(job.job_type_key)
    deployment = db.session.get(Deployment, job.deployment_id) if job.deployment_id else None
    recorder.set_status("STARTED", started_at=utcnow())
    try:
        if deployment is None:
            raise JobError("The station of this job no longer exists.")
        job_type.run(deployment, recorder)
    except JobCancelled:
        db.session.rollback()
        recorder.logger.warning("Cancelled while running; the station's previous data is kept.")
        recorder.finish("REVOKED")
    except BaseException as error:
        db.session.rollback()
        recorder.record_exception(error)
        recorder.finish("FAILURE")
        raise
    else:
        recorder.finish("SUCCESS")
    return _reloaded(job_id)


def _reloaded(job_id: int) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def cancel(job: Job) -> Job:
    """Cancel a job: a queued one is revoked at once, a running one is asked to stop.

    A running job checks the request between batches, rolls its work back,
    releases its lock and ends REVOKED.
    """
    if job.is_finished:
        raise JobError(f"Job {job.id} has already finished ({job.status}).")
    if job.status in ("CREATED", "PENDING"):
        from tasks import huey

        huey.revoke_by_id(job_task_id(job.id))
        job.cancel_requested = True
        job.status = "REVOKED"
        job.finished_at = utcnow()
        job.progress = dict(job.progress, summary={**job.progress.get("summary", {}), "status": "REVOKED"})
        job.logs = {**job.logs, "stdout": [*job.logs.get("stdout", []), f"{utcnow().isoformat(timespec='seconds')} INFO Cancelled before it started."]}
    else:
        job.cancel_requested = True
        job.status = "CANCELING"
    db.session.commit()
    return job
