"""Creating, queueing and cancelling jobs.

CREATED → PENDING (queued) → STARTED → SUCCESS | FAILURE, and
CANCELING → REVOKED when someone cancels. Once finished, a job's status never
changes. A job's work is a JobType's `run`, called on the worker side by
`runner.run_job` (from the thin Huey task, or in the foreground by the
CLI); it reports through a JobRecorder (stages, params, logs).

The queue is the app's `JobQueue` (`current_app.extensions["job_queue"]`,
built by `tasks.init_app`) unless a caller passes one: this module never
imports `tasks`.
"""
import logging
from typing import Protocol

from flask import current_app

from ..extensions import db
from ..models import FINISHED_STATUSES, Deployment, Job, User, param_key, utcnow
from .kinds import QUEUED_STATUSES, JobError, JobType, QueueUnavailable, after_unfinished, get_job_type
from .recorder import JobRecorder, log_line
from .runner import reloaded

logger = logging.getLogger(__name__)


class JobQueue(Protocol):
    """Where jobs are sent to run (`tasks.JobQueue` wraps the app's Huey)."""

    def submit(self, job_id: int, time_limit: float) -> None: ...

    def revoke(self, job_id: int) -> None: ...


def job_queue(queue=None) -> JobQueue:
    """`queue` as a JobQueue: the app's when None; a bare Huey instance (e.g. one a
    test shares with a worker process) is wrapped by the adapter `tasks` registered."""
    if queue is None:
        return current_app.extensions["job_queue"]
    if hasattr(queue, "submit"):
        return queue
    return current_app.extensions["job_queue_for"](queue)


def _new_progress(job_type: JobType) -> dict:
    """A job's progress before it runs: every stage this configuration has, CREATED, with its params at 0."""
    recorder_state = {"summary": {"status": "CREATED", "progress": 0.0}, "stages": []}
    for stage in job_type.stages_in(current_app.config):
        recorder_state["stages"].append(
            {
                "key": stage.key,
                "name": stage.name,
                "status": "CREATED",
                "progress": 0.0,
                "params": [{"name": name, "key": param_key(name), "value": 0} for name in stage.params],
            }
        )
    return recorder_state


def create_job(job_type_key: str, deployment: Deployment, user: User | None = None, options: dict | None = None) -> Job:
    """Create a job row for a station with all its stages and params present (at 0).

    `options` (JSON values) tell the work how to run, e.g. `{"since": "last"}` for a quick sync;
    they are kept in the row's progress, read back through `JobRecorder.options`.
    """
    job_type = get_job_type(job_type_key)
    if deployment.project_id is None:
        raise JobError(f"Station {deployment.id} belongs to no project; assign it to a project first.")
    job = Job(
        name=job_type.name,
        job_type_key=job_type.key,
        status="CREATED",
        deployment_id=deployment.id,
        deployment_name=deployment.name,
        project_id=deployment.project_id,
        created_by_id=user.id if user is not None else None,
        progress={**_new_progress(job_type), **({"options": options} if options else {})},
        logs={"stdout": [], "stderr": []},
    )
    db.session.add(job)
    db.session.commit()
    return job


def enqueue(job: Job, queue=None) -> Job:
    """Mark the job PENDING and hand it to the queue (runs inline in immediate mode).

    `queue` defaults to the app's (see `job_queue`). The job carries its time limit
    (JOB_TIME_LIMIT_SECONDS), which the work checks between batches and the
    queue enforces on a single step that overruns it. A queue that refuses the
    job (e.g. Redis unreachable) leaves it FAILURE with the reason in its log,
    and raises QueueUnavailable.
    """
    queue = job_queue(queue)
    limit = float(current_app.config["JOB_TIME_LIMIT_SECONDS"])
    table = Job.__table__
    db.session.execute(
        table.update()
        .where(table.c.id == job.id, table.c.status == "CREATED")
        .values(status="PENDING", progress=dict(job.progress, summary={**job.progress.get("summary", {}), "status": "PENDING"}))
    )
    db.session.commit()
    try:
        queue.submit(job.id, limit)
    except Exception as error:
        _fail_unqueued(job, error)
        raise QueueUnavailable(f"The job queue is unavailable ({type(error).__name__}); job {job.id} was not started.") from error
    db.session.expire_all()
    return job


def _fail_unqueued(job: Job, error: Exception) -> None:
    """Say on the job why it never ran, so it is not left PENDING."""
    db.session.rollback()
    db.session.expire_all()
    recorder = JobRecorder(db.session.get(Job, job.id))
    recorder.logger.error("The job could not be queued: %s", error)
    recorder.finish("FAILURE")
    db.session.expire_all()


def cancel(job: Job, queue=None) -> Job:
    """Cancel a job: a queued one is revoked at once, a running one is asked to stop.

    A running job checks the request between batches, rolls its work back,
    releases its lock and ends REVOKED.
    """
    if job.is_finished:
        raise JobError(f"Job {job.id} has already finished ({job.status}).")
    table = Job.__table__
    if job.status in QUEUED_STATUSES:
        try:
            job_queue(queue).revoke(job.id)
        except Exception:
            # Revoking only spares a worker a read: a job marked REVOKED below is never claimed.
            logger.warning("Could not revoke the queued task of job %s", job.id, exc_info=True)
        # Conditional, so a worker that claimed the job meanwhile wins and is asked to stop instead.
        revoked = db.session.execute(
            table.update()
            .where(table.c.id == job.id, table.c.status.in_(QUEUED_STATUSES))
            .values(
                cancel_requested=True,
                status="REVOKED",
                finished_at=utcnow(),
                progress=dict(job.progress, summary={**job.progress.get("summary", {}), "status": "REVOKED"}),
                logs={**job.logs, "stdout": [*job.logs.get("stdout", []), log_line("INFO", "Cancelled before it started.")]},
            )
        ).rowcount
        if revoked:
            db.session.commit()
            after_unfinished(job)
            return reloaded(job.id)
    asked = db.session.execute(
        table.update()
        .where(table.c.id == job.id, table.c.status.not_in(FINISHED_STATUSES))
        .values(cancel_requested=True, status="CANCELING")
    ).rowcount
    db.session.commit()
    job = reloaded(job.id)
    if not asked:
        raise JobError(f"Job {job.id} has already finished ({job.status}).")
    return job
