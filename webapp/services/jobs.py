"""Jobs: the registry of job types and every job's lifecycle.

CREATED → PENDING (enqueued) → STARTED → SUCCESS | FAILURE, and
CANCELING → REVOKED when someone cancels. A job's work is a JobType's `run`,
called by the thin Huey task in `tasks/jobs.py` (or in the foreground by the
CLI); it reports through a JobRecorder (stages, params, logs).
"""
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from flask import current_app
from huey.exceptions import TaskTimeout
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from ..extensions import db
from ..models import FINISHED_STATUSES, Deployment, Job, Lock, User, utcnow
from .job_recorder import JobCancelled, JobRecorder, JobTimeLimitExceeded, log_line  # noqa: F401  (part of this API)
from .sql import short_wait

RUNNING_STATUSES = ("STARTED", "CANCELING")

REGROUP_PARAMS = (
    "Captures grouped",
    "Events created",
    "Events touched",
    "Empty events deleted",
    "Duplicate timestamps",
    "Ungrouped captures",
    "Captures missing timestamp",
)
SYNC_PARAMS = ("Total files", "Captures added", "Failed", "Files missing from source")
DELETE_PARAMS = ("Captures deleted", "Sessions deleted", "Thumbnails deleted", "Jobs unlinked")


class JobError(ValueError):
    """A job that cannot be created or changed as asked (shown to the user)."""


class QueueUnavailable(JobError):
    """The queue refused the job; the job row says FAILURE and why."""


@dataclass(frozen=True)
class Stage:
    """A stage of a job type: its key, name and the params it shows from the start."""
    key: str
    name: str
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobType:
    """A kind of job: its stages and the function that does its work."""
    key: str
    name: str
    stages: tuple[Stage, ...]
    run: Callable[[Deployment, JobRecorder], None] = field(repr=False)
    # What the log says when the job is cancelled while running.
    cancelled_note: str = "Cancelled while running; the station's previous data is kept."


def _run_regroup(deployment: Deployment, recorder: JobRecorder) -> None:
    from .regroup import regroup_deployment

    regroup_deployment(deployment, job=recorder, stage_key="regroup_events")


def _run_sync(deployment: Deployment, recorder: JobRecorder) -> None:
    from .sync import sync_deployment

    sync_deployment(deployment, job=recorder)


def _run_delete(deployment: Deployment, recorder: JobRecorder) -> None:
    from .station_delete import delete_station

    delete_station(deployment, recorder)


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
        JobType(
            "delete_deployment",
            "Delete station",
            (Stage("delete_deployment", "Delete station", DELETE_PARAMS),),
            _run_delete,
            cancelled_note="Cancelled while running; what was deleted before the cancel stays deleted, "
            "the rest of the station is kept.",
        ),
    )
}


def get_job_type(key: str) -> JobType:
    """The registered job type for `key`; JobError if there is none."""
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
        deployment_name=deployment.name,
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


def enqueue(job: Job, queue=None) -> Job:
    """Mark the job PENDING and hand it to the queue (runs inline in immediate mode).

    `queue` defaults to the app's Huey (`tasks.huey`). The task carries the
    job's time limit (JOB_TIME_LIMIT_SECONDS), enforced twice: the work
    checks it between batches, and Huey's own task timeout interrupts a
    single step that overruns it (process workers only).
    """
    from tasks import huey
    from tasks.jobs import tasks_on

    queue = queue if queue is not None else huey
    limit = float(current_app.config["JOB_TIME_LIMIT_SECONDS"])
    job.status = "PENDING"
    job.progress = dict(job.progress, summary={**job.progress.get("summary", {}), "status": "PENDING"})
    db.session.commit()
    task = tasks_on(queue).run_job.s(job.id, limit, id=job_task_id(job.id), timeout=limit + min(30.0, 0.1 * limit))
    try:
        queue.enqueue(task)
    except Exception as error:
        # The queue is down (e.g. Redis unreachable): say so on the job, never leave it PENDING.
        recorder = JobRecorder(job)
        recorder.logger.error("The job could not be queued: %s", error)
        recorder.finish("FAILURE")
        db.session.expire_all()
        raise QueueUnavailable(f"The job queue is unavailable ({type(error).__name__}); job {job.id} was not started.") from error
    db.session.expire_all()
    return job


def job_task_id(job_id: int) -> str:
    """The Huey task id of a job, so a queued job can be revoked by its id."""
    return f"job-{job_id}"


HEARTBEAT_WAIT_MS = 200


class _Heartbeat(threading.Thread):
    """Beats for a running job while one long step keeps the recorder from flushing."""

    def __init__(self, engine: Engine, job_id: int, interval: float):
        super().__init__(name=f"job-{job_id}-heartbeat", daemon=True)
        self.engine, self.job_id, self.interval = engine, job_id, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        table = Job.__table__
        while not self.stopped.wait(self.interval):
            try:
                # Never queue behind the work's own write transaction.
                with short_wait(self.engine, HEARTBEAT_WAIT_MS) as conn:
                    conn.execute(
                        table.update()
                        .where(table.c.id == self.job_id, table.c.status.in_(RUNNING_STATUSES))
                        .values(heartbeat_at=utcnow())
                    )
                    conn.commit()
            except OperationalError:
                continue

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def run_job(job_id: int, time_limit: float | None = None) -> Job | None:
    """Run one job to its end in this process. Called by the task and by the CLI.

    Exceptions of the work mark the job FAILURE (last traceback line in stdout,
    full traceback in stderr) and are re-raised for the caller to record. So
    does overrunning `time_limit` seconds (default JOB_TIME_LIMIT_SECONDS).
    A heartbeat thread keeps `heartbeat_at` fresh meanwhile, so the reaper
    can tell a long step from a dead worker.
    """
    job = db.session.get(Job, job_id)
    if job is None or job.is_finished:
        return job
    if not _claim(job_id):
        job = _reloaded(job_id)
        if not job.is_finished:
            recorder = JobRecorder(job)
            recorder.logger.info("Cancelled before it started.")
            recorder.finish("REVOKED")
        return _reloaded(job_id)
    recorder = JobRecorder(job)
    job_type = get_job_type(job.job_type_key)
    deployment = db.session.get(Deployment, job.deployment_id) if job.deployment_id else None
    if time_limit is None:
        time_limit = float(current_app.config["JOB_TIME_LIMIT_SECONDS"])
    recorder.set_time_limit(time_limit)
    recorder.set_status("STARTED", started_at=utcnow())
    heartbeat = _Heartbeat(db.engine, job_id, float(current_app.config["JOB_HEARTBEAT_SECONDS"]))
    heartbeat.start()
    try:
        if deployment is None:
            raise JobError("The station of this job no longer exists.")
        job_type.run(deployment, recorder)
    except JobCancelled:
        db.session.rollback()
        recorder.logger.warning(job_type.cancelled_note)
        recorder.finish("REVOKED")
    except BaseException as error:
        db.session.rollback()
        if isinstance(error, TaskTimeout):
            recorder.logger.error("The job exceeded its time limit of %g s and was stopped.", time_limit)
        recorder.record_exception(error)
        recorder.finish("FAILURE")
        raise
    else:
        recorder.flush(force=True, wait=True)
        if recorder.cancel_requested:
            recorder.logger.warning("A cancel arrived after the work had been committed; the job completed.")
        recorder.finish("SUCCESS")
    finally:
        heartbeat.stop()
    return _reloaded(job_id)


def _claim(job_id: int) -> bool:
    """Move a queued job to STARTED unless a cancel got there first (one conditional UPDATE).

    The claim must not queue behind another job's long write (SQLite's single
    writer would make every regroup of a busy station start after the running
    one ends); if the database is busy, a read of the job decides instead.
    """
    table = Job.__table__
    queued = (table.c.id == job_id, table.c.status.in_(("CREATED", "PENDING")), table.c.cancel_requested.is_(False))
    try:
        with short_wait(db.engine, HEARTBEAT_WAIT_MS) as conn:
            claimed = conn.execute(table.update().where(*queued).values(status="STARTED", started_at=utcnow()))
            conn.commit()
            return claimed.rowcount == 1
    except OperationalError:
        with db.engine.connect() as conn:
            return conn.execute(db.select(table.c.id).where(*queued)).first() is not None


def _reloaded(job_id: int) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def cancel(job: Job, queue=None) -> Job:
    """Cancel a job: a queued one is revoked at once, a running one is asked to stop.

    A running job checks the request between batches, rolls its work back,
    releases its lock and ends REVOKED.
    """
    if job.is_finished:
        raise JobError(f"Job {job.id} has already finished ({job.status}).")
    table = Job.__table__
    if job.status in ("CREATED", "PENDING"):
        from tasks import huey

        (queue if queue is not None else huey).revoke_by_id(job_task_id(job.id), revoke_once=True)
        # Conditional, so a worker that claimed the job meanwhile wins and is asked to stop instead.
        revoked = db.session.execute(
            table.update()
            .where(table.c.id == job.id, table.c.status.in_(("CREATED", "PENDING")))
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
            return _reloaded(job.id)
    asked = db.session.execute(
        table.update()
        .where(table.c.id == job.id, table.c.status.not_in(FINISHED_STATUSES))
        .values(cancel_requested=True, status="CANCELING")
    ).rowcount
    db.session.commit()
    job = _reloaded(job.id)
    if not asked:
        raise JobError(f"Job {job.id} has already finished ({job.status}).")
    return job


def reap_stale_jobs(now: datetime | None = None) -> int:
    """Fail running jobs whose worker died, and drop expired locks; returns how many jobs.

    A job is stale when it has not beaten for 2 × JOB_HEARTBEAT_SECONDS
    (Huey does not acknowledge delivery, so nothing else would ever end it).
    Run every minute by the periodic task in `tasks/jobs.py`.
    """
    now = now or utcnow()
    cutoff = now - timedelta(seconds=2 * current_app.config["JOB_HEARTBEAT_SECONDS"])
    last_sign = db.func.coalesce(Job.heartbeat_at, Job.started_at, Job.created_at)
    stale = db.session.scalars(
        db.select(Job)
        .where(Job.status.in_(RUNNING_STATUSES), last_sign < cutoff)
        .with_for_update(skip_locked=True)
    ).all()
    for job in stale:
        seen = job.heartbeat_at or job.started_at or job.created_at
        message = f"Worker lost: no heartbeat since {seen.isoformat(timespec='seconds')}; the job was marked failed."
        stages = [
            dict(stage, status="FAILURE") if stage.get("status") == "STARTED" else stage
            for stage in job.progress.get("stages", [])
        ]
        job.progress = {**job.progress, "summary": {**job.progress.get("summary", {}), "status": "FAILURE"}, "stages": stages}
        job.logs = {
            "stdout": [*job.logs.get("stdout", []), log_line("ERROR", message)],
            "stderr": [*job.logs.get("stderr", []), log_line("ERROR", message)],
        }
        job.status = "FAILURE"
        job.finished_at = now
    db.session.execute(db.delete(Lock).where(Lock.expires_at < now))
    db.session.commit()
    return len(stale)
