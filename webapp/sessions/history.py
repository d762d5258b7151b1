"""Regroup history: one row per regroup that did work, shown on the station page and in the API."""
from ..extensions import db
from ..models import Deployment, Event, Job, RegroupRecord, utcnow

HISTORY_PAGE_SIZE = 20


def sessions_count(deployment_id: int) -> int:
    """How many sessions the station has now."""
    return db.session.scalar(db.select(db.func.count()).select_from(Event).where(Event.deployment_id == deployment_id))


def record_regroup(deployment: Deployment, job_id: int | None, sessions_before: int, max_session: int) -> RegroupRecord:
    """Write and commit the history row of a regroup that has just committed its sessions.

    The rule is the one the regroup recorded on the station; who is the job's creator.
    """
    job = db.session.get(Job, job_id) if job_id is not None else None
    record = RegroupRecord(
        deployment_id=deployment.id,
        job_id=job_id,
        user_id=job.created_by_id if job is not None else None,
        finished_at=utcnow(),
        gap_seconds=deployment.grouped_gap_seconds,
        keying=deployment.grouped_keying,
        max_session_seconds=max_session,
        sessions_before=sessions_before,
        sessions_after=sessions_count(deployment.id),
    )
    db.session.add(record)
    db.session.commit()
    return record


def regroup_history_query(deployment: Deployment):
    """A select of the station's regroups that did work, newest first (for paging)."""
    return (
        db.select(RegroupRecord)
        .where(RegroupRecord.deployment_id == deployment.id)
        .order_by(RegroupRecord.finished_at.desc(), RegroupRecord.id.desc())
    )


def regroup_history(deployment: Deployment, limit: int = HISTORY_PAGE_SIZE) -> tuple[list[RegroupRecord], int]:
    """The station's `limit` newest regroups that did work, and how many there are in all."""
    total = db.session.scalar(
        db.select(db.func.count()).select_from(RegroupRecord).where(RegroupRecord.deployment_id == deployment.id)
    )
    return list(db.session.scalars(regroup_history_query(deployment).limit(limit))), total
