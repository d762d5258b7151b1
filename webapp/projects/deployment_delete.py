"""Deleting a station: its captures, sessions, thumbnails and job links, as a background job.

A station can hold a million captures. Deleting them in one statement would
hold SQLite's only write lock for many seconds (every other write of the site
would wait) and could not be cancelled, so the job deletes in batches of
DELETE_BATCH rows, each its own short transaction, checks for a cancel
between batches and, on SQLite, checkpoints the WAL itself and leaves the
write lock free for a moment after each batch, so a waiting web request gets
its turn quickly (benchmarks/station_delete.py measures that wait).

While the job runs the station is flagged `deleting`: pages show it as being
deleted and no sync or regroup can start on it (see jobs.blocker).
Jobs of the station outlive it: their `deployment_id` becomes NULL and
`deployment_name` keeps saying which station they were for.
"""
import time

from sqlalchemy import exists, func, or_, select, text

from ..extensions import db
from ..jobs import JobError, JobRecorder, cancel, create_job, enqueue
from ..models import FINISHED_STATUSES, Capture, Deployment, Event, Job, User
from ..sources import refresh_deployment_stats
from ..sql import dialect_name
from ..validation import ValidationError

JOB_TYPE_KEY = "delete_deployment"
STAGE_KEY = "delete_deployment"
DELETE_PARAMS = ("Captures deleted", "Sessions deleted", "Thumbnails deleted", "Jobs unlinked")
DELETE_BATCH = 2000
# A write waiting on SQLite's busy handler retries after sleeps that grow to
# 100 ms; a pause at least that long after each batch lets every waiting
# web request in before the next batch takes the write lock again.
SQLITE_PAUSE_SECONDS = 0.1
OTHER_JOBS_POLL_SECONDS = 0.5


def request_deletion(deployment: Deployment, user: User | None, typed_name, queue=None) -> Job:
    """Flag the station as being deleted, stop its other jobs and queue the delete job.

    `typed_name` must be the station's name exactly (the confirmation a user
    types). Raises ValidationError for a wrong confirmation and JobError if
    the station is already being deleted or the job cannot be queued.
    """
    if not isinstance(typed_name, str) or typed_name.strip() != deployment.name.strip():
        raise ValidationError({"confirm_name": [f"Type the station's name, “{deployment.name}”, to confirm."]})
    table = Deployment.__table__
    # Conditional, so two delete requests never queue two jobs. A station
    # flagged by a delete job that never ran (cancelled while queued, worker
    # lost) may be deleted again.
    flagged = db.session.execute(
        table.update()
        .where(table.c.id == deployment.id, or_(table.c.deleting.is_(False), ~exists(_live_delete_jobs(deployment.id))))
        .values(deleting=True)
    ).rowcount
    if not flagged:
        db.session.rollback()
        raise JobError(f"Station “{deployment.name}” is already being deleted.")
    db.session.commit()
    for job in db.session.scalars(
        select(Job).where(Job.deployment_id == deployment.id, Job.status.not_in(FINISHED_STATUSES))
    ).all():
        try:
            cancel(job, queue)
        except JobError:
            continue  # it finished meanwhile
    db.session.refresh(deployment)
    try:
        job = create_job(JOB_TYPE_KEY, deployment, user)
        return enqueue(job, queue)
    except JobError:
        db.session.rollback()
        db.session.execute(table.update().where(table.c.id == deployment.id).values(deleting=False))
        db.session.commit()
        raise


def _live_delete_jobs(deployment_id: int):
    return select(Job.id).where(
        Job.deployment_id == deployment_id, Job.job_type_key == JOB_TYPE_KEY, Job.status.not_in(FINISHED_STATUSES)
    )


def live_delete_job(deployment: Deployment) -> Job | None:
    """The station's delete job that has not finished yet, if any."""
    return db.session.scalar(select(Job).where(Job.id.in_(_live_delete_jobs(deployment.id))).order_by(Job.id.desc()))


def delete_stalled(deployment: Deployment) -> bool:
    """Whether the station is flagged as being deleted but no delete job will finish it."""
    return deployment.deleting and live_delete_job(deployment) is None


def delete_station(deployment: Deployment, job: JobRecorder) -> dict[str, int]:
    """The delete job's work: remove everything of the station, batch by batch, then the station.

    Returns the counts it wrote to the stage params. A failure or a cancel
    keeps what was already deleted deleted, brings the station's counts up to
    date and clears its `deleting` flag, so it can be used or deleted again.
    """
    deployment_id, name = deployment.id, deployment.name
    job.set_stage(STAGE_KEY, "STARTED", 0.0)
    counts = dict.fromkeys(DELETE_PARAMS, 0)
    try:
        _wait_for_other_jobs(deployment_id, job)
        total = max(1, deployment.captures_count + deployment.events_count)
        done = 0

        def progress(param: str, removed: int) -> None:
            nonlocal done
            counts[param] += removed
            done += removed
            job.set_param(STAGE_KEY, param, counts[param], flush=False)
            job.set_stage(STAGE_KEY, progress=min(0.99, done / total))

        counts["Thumbnails deleted"] = delete_thumbnails(deployment_id, job)
        job.set_param(STAGE_KEY, "Thumbnails deleted", counts["Thumbnails deleted"])
        _delete_in_batches(Capture.__table__, deployment_id, job, lambda n: progress("Captures deleted", n))
        _delete_in_batches(Event.__table__, deployment_id, job, lambda n: progress("Sessions deleted", n))
        job.check_cancelled()
        counts["Jobs unlinked"] = _unlink_jobs(deployment_id, name)
        db.session.execute(Deployment.__table__.delete().where(Deployment.__table__.c.id == deployment_id))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        release_deletion(deployment_id)
        job.logger.warning(
            "Station “%s” was not deleted completely: %d captures, %d sessions and %d thumbnails were removed "
            "before it stopped; the rest of the station is kept and can be deleted again.",
            name, counts["Captures deleted"], counts["Sessions deleted"], counts["Thumbnails deleted"],
        )
        raise
    job.set_params(STAGE_KEY, counts)
    job.logger.info(
        "Deleted station “%s” (id %d): %d captures, %d sessions, %d thumbnails; %d jobs keep their records "
        "and name the station.",
        name, deployment_id, counts["Captures deleted"], counts["Sessions deleted"],
        counts["Thumbnails deleted"], counts["Jobs unlinked"],
    )
    return counts


def delete_thumbnails(deployment_id: int, job: JobRecorder) -> int:
    """Remove the station's generated thumbnails (rows, then files; batched like the rest); returns how many."""
    from ..thumbnails import delete_station_thumbnails

    removed = delete_station_thumbnails(deployment_id)
    if removed:
        job.logger.info("Deleted %d thumbnails of the station.", removed)
    return removed


def _wait_for_other_jobs(deployment_id: int, job: JobRecorder) -> None:
    """Wait until the station's other jobs (asked to cancel when the delete was requested) have ended."""
    announced = False
    while True:
        db.session.expire_all()
        others = db.session.scalar(
            select(func.count(Job.id)).where(
                Job.deployment_id == deployment_id, Job.id != job.job_id, Job.status.not_in(FINISHED_STATUSES)
            )
        )
        db.session.rollback()
        if not others:
            return
        if not announced:
            job.logger.info("Waiting for %d other job(s) of the station to stop.", others)
            announced = True
        job.check_cancelled()
        time.sleep(OTHER_JOBS_POLL_SECONDS)


def _delete_in_batches(table, deployment_id: int, job: JobRecorder, on_batch) -> None:
    """DELETE the station's rows of `table`, DELETE_BATCH at a time, one short transaction each."""
    ids = select(table.c.id).where(table.c.deployment_id == deployment_id).limit(DELETE_BATCH).scalar_subquery()
    statement = table.delete().where(table.c.id.in_(ids))
    pause = dialect_name() == "sqlite"
    while True:
        job.check_cancelled()
        removed = db.session.execute(statement).rowcount
        db.session.commit()
        if removed:
            on_batch(removed)
        if removed < DELETE_BATCH:
            return
        if pause:
            # The batch's pages are copied from the WAL into the database here,
            # by the job, rather than by whichever web request's commit next
            # crosses the auto-checkpoint threshold (it would pay for them).
            db.session.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))
            db.session.commit()
            time.sleep(SQLITE_PAUSE_SECONDS)


def _unlink_jobs(deployment_id: int, name: str) -> int:
    """Detach the station's jobs from it, keeping its name on them; returns how many. Does not commit."""
    table = Job.__table__
    return db.session.execute(
        table.update()
        .where(table.c.deployment_id == deployment_id)
        .values(deployment_id=None, deployment_name=func.coalesce(table.c.deployment_name, name))
    ).rowcount


def release_deletion(deployment_id: int) -> None:
    """After a delete that stopped, or never ran: the station's counts match what remains, and it is
    usable (and deletable) again."""
    deployment = db.session.get(Deployment, deployment_id)
    if deployment is None:
        return
    refresh_deployment_stats(deployment)
    deployment.deleting = False
    db.session.commit()
