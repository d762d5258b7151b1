"""The worker side of jobs: run one job to its end, beat while it runs, reap jobs whose worker died.

Called by the thin Huey tasks in `tasks/jobs.py`, and in the foreground by
the CLI. Every write here is conditional on the job not being finished, so a
finished job's status never changes (see `JobRecorder.flush`).
"""
import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Callable

from flask import current_app
from huey.exceptions import TaskTimeout
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from ..extensions import db
from ..models import Deployment, Job, Lock, utcnow
from ..sql import labelled_connections, short_wait
from .kinds import QUEUED_STATUSES, RUNNING_STATUSES, JobError, after_unfinished, get_job_type, job_task_id
from .recorder import JobCancelled, JobRecorder, log_line

HEARTBEAT_WAIT_MS = 200

logger = logging.getLogger(__name__)


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

    Exceptions of the work mark the job FAILURE (the error message in its
    log, the traceback in the server's log) and are re-raised for the caller
    to record. So does overrunning `time_limit` seconds (default
    JOB_TIME_LIMIT_SECONDS). A heartbeat thread keeps `heartbeat_at` fresh
    meanwhile, so the reaper can tell a long step from a dead worker. The job's
    PostgreSQL connections are named `ami-sessions job <id> (pid <worker pid>)`
    in pg_stat_activity.
    """
    with labelled_connections(f"job {job_id}"):
        return _run_job(job_id, time_limit)


def _run_job(job_id: int, time_limit: float | None) -> Job | None:
    job = db.session.get(Job, job_id)
    if job is None or job.is_finished:
        return job
    if not _claim(job_id):
        _note_revoked_before_start(job_id)
        return reloaded(job_id)
    if time_limit is None:
        time_limit = float(current_app.config["JOB_TIME_LIMIT_SECONDS"])
    recorder = JobRecorder(job)
    recorder.set_time_limit(time_limit)
    recorder.set_status("STARTED", started_at=utcnow())
    heartbeat = _Heartbeat(db.engine, job_id, float(current_app.config["JOB_HEARTBEAT_SECONDS"]))
    heartbeat.start()
    try:
        _work(job, recorder, time_limit)
    finally:
        heartbeat.stop()
    return reloaded(job_id)


def _work(job: Job, recorder: JobRecorder, time_limit: float) -> None:
    """Do the job type's work and finish the job with its outcome."""
    job_type = get_job_type(job.job_type_key)
    deployment = db.session.get(Deployment, job.deployment_id) if job.deployment_id else None
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
        elif isinstance(error, DBAPIError) and error.connection_invalidated:
            recorder.logger.error(
                "The database connection was lost during the job; its open transaction was rolled back, "
                "so the station's previous data is kept. Run the job again."
            )
        logger.error("Job %s (%s) failed", job.id, job.job_type_key, exc_info=error)
        recorder.record_exception(error)
        recorder.finish("FAILURE")
        raise
    else:
        recorder.flush(force=True, wait=True)
        if recorder.cancel_requested:
            recorder.logger.warning("A cancel arrived after the work had been committed; the job completed.")
        recorder.finish("SUCCESS")


def _claim(job_id: int) -> bool:
    """Move a queued job to STARTED unless a cancel got there first (one conditional UPDATE).

    The claim must not queue behind another job's long write (SQLite's single
    writer would make every regroup of a busy station start after the running
    one ends); if the database is busy, a read of the job decides instead.
    """
    table = Job.__table__
    queued = (table.c.id == job_id, table.c.status.in_(QUEUED_STATUSES), table.c.cancel_requested.is_(False))
    try:
        with short_wait(db.engine, HEARTBEAT_WAIT_MS) as conn:
            claimed = conn.execute(table.update().where(*queued).values(status="STARTED", started_at=utcnow()))
            conn.commit()
            return claimed.rowcount == 1
    except OperationalError:
        with db.engine.connect() as conn:
            return conn.execute(db.select(table.c.id).where(*queued)).first() is not None


def reloaded(job_id: int) -> Job:
    """The job as stored now (what another connection wrote included)."""
    db.session.expire_all()
    return db.session.get(Job, job_id)


def _note_revoked_before_start(job_id: int) -> None:
    """A job cancelled between being queued and being claimed ends REVOKED without running."""
    job = reloaded(job_id)
    if not job.is_finished:
        recorder = JobRecorder(job)
        recorder.logger.info("Cancelled before it started.")
        recorder.finish("REVOKED")
    after_unfinished(job)


def reap_stale_jobs(now: datetime | None = None, queued_task_ids: Callable[[], set[str]] | None = None) -> int:
    """Fail jobs that nothing will ever finish, and drop expired locks; returns how many jobs.

    - A running job is stale when it has not beaten for 2 × JOB_HEARTBEAT_SECONDS:
      its worker died (Huey does not acknowledge delivery, so nothing else
      would ever end it). It is marked FAILURE "Worker lost".
    - A queued job (CREATED or PENDING) older than JOB_QUEUE_LOST_SECONDS whose
      task is no longer in the queue (`queued_task_ids()`, the ids of the
      queue's waiting and scheduled tasks) was lost with the queue, e.g. a
      Redis restarted without persistence, or a web process killed between
      creating and queueing it. It is marked FAILURE "Queued task lost". A job
      still waiting in a long queue keeps its task there and is left alone, and
      so is one claimed within JOB_CLAIM_GRACE_SECONDS of the queue's reading
      (its task was on its way to a worker).
      Without `queued_task_ids` queued jobs are not checked.

    Run every REAPER_INTERVAL_SECONDS by each consumer (`tasks/consumer.py`).
    Each job is failed by a statement conditional on it still being stale or
    queued, so a worker that starts or finishes it meanwhile keeps its own outcome.
    """
    now = now or utcnow()
    config = current_app.config
    cutoff = now - timedelta(seconds=2 * config["JOB_HEARTBEAT_SECONDS"])
    last_sign = db.func.coalesce(Job.heartbeat_at, Job.started_at, Job.created_at)
    still_stale = (Job.status.in_(RUNNING_STATUSES), last_sign < cutoff)
    stale = db.session.scalars(db.select(Job).where(*still_stale)).all()
    reaped = []
    for job in stale:
        seen = job.heartbeat_at or job.started_at or job.created_at
        message = f"Worker lost: no heartbeat since {seen.isoformat(timespec='seconds')}; the job was marked failed."
        if _mark_lost(job, still_stale, now, message):
            reaped.append(job)
    if queued_task_ids is not None:
        still_queued = (
            Job.status.in_(QUEUED_STATUSES),
            Job.created_at < now - timedelta(seconds=config["JOB_QUEUE_LOST_SECONDS"]),
        )
        waiting = db.session.scalars(db.select(Job).where(*still_queued)).all()
        in_queue = queued_task_ids() if waiting else set()
        missing = [job for job in waiting if job_task_id(job.id) not in in_queue]
        if missing:
            # A worker takes a task off the queue a moment before it claims the job: a job whose
            # task is running, not lost, is STARTED once this grace has passed and is left alone.
            db.session.commit()
            time.sleep(config["JOB_CLAIM_GRACE_SECONDS"])
        for job in missing:
            message = (
                f"Queued task lost: the job waited since {job.created_at.isoformat(timespec='seconds')} "
                "but its task is no longer in the queue (was the queue restarted?); the job was marked failed. "
                "Start it again."
            )
            if _mark_lost(job, still_queued, now, message):
                reaped.append(job)
    db.session.execute(db.delete(Lock).where(Lock.expires_at < now))
    db.session.commit()
    for job in reaped:
        after_unfinished(job)
    return len(reaped)


def _mark_lost(job: Job, still, now: datetime, message: str) -> bool:
    """Mark the job FAILURE with `message` if it is still as `still` says; whether it was."""
    return bool(
        db.session.execute(
            db.update(Job).where(Job.id == job.id, *still).values(**_lost_values(job, now, message)),
            execution_options={"synchronize_session": False},
        ).rowcount
    )


def _lost_values(job: Job, now: datetime, message: str) -> dict:
    """The columns of a job marked FAILURE because no worker will finish it, with `message` in both logs."""
    stages = [
        dict(stage, status="FAILURE") if stage.get("status") == "STARTED" else stage
        for stage in job.progress.get("stages", [])
    ]
    return {
        "status": "FAILURE",
        "finished_at": now,
        "progress": {**job.progress, "summary": {**job.progress.get("summary", {}), "status": "FAILURE"}, "stages": stages},
        "logs": {
            **job.logs,
            "stdout": [*job.logs.get("stdout", []), log_line("ERROR", message)],
            "stderr": [*job.logs.get("stderr", []), log_line("ERROR", message)],
        },
    }
