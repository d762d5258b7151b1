# PLACEHOLDER: replaced by the grouping branch
"""Regroup one station's captures into sessions (minimal stand-in, no lock).

Same signature and stats as the real service so the jobs code and its tests
run before the grouping branch is merged.
"""
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func

from ..config import DEFAULT_SESSION_GAP_SECONDS
from ..extensions import db
from ..models import Capture, Deployment, Event, utcnow
from .captures import refresh_deployment_stats

log = logging.getLogger(__name__)


@dataclass
class RegroupResult:
    stats: dict[str, int] = field(default_factory=dict)
    skipped: bool = False


def _key(start: datetime, keying: str) -> str:
    if keying == "night":
        return (start - timedelta(hours=12)).date().isoformat()
    if keying == "run":
        return start.isoformat(timespec="seconds")
    return start.date().isoformat()


def regroup_deployment(deployment: Deployment, job=None, stage_key: str = "regroup_events") -> RegroupResult:
    """Regroup the station's captures by the project's (or station's) gap; commits at the end."""
    logger = job.logger if job is not None else log
    check = job.check_cancelled if job is not None else (lambda: None)
    project = deployment.project
    gap = deployment.session_time_gap_seconds or (project.session_time_gap_seconds if project else None)
    if not gap or gap <= 0:
        logger.warning("Session gap %r is not a positive number of seconds; using %d.", gap, DEFAULT_SESSION_GAP_SECONDS)
        gap = DEFAULT_SESSION_GAP_SECONDS
    keying = (project.session_keying if project else None) or "date"
    max_session = current_app.config.get("MAX_SESSION_SECONDS", 24 * 3600)

    rows = db.session.execute(
        db.select(Capture.timestamp).where(Capture.deployment_id == deployment.id, Capture.timestamp.is_not(None))
    ).scalars().all()
    missing = db.session.scalar(
        db.select(func.count(Capture.id)).where(Capture.deployment_id == deployment.id, Capture.timestamp.is_(None))
    )
    distinct = sorted(set(rows))
    check()

    sessions: dict[str, list[datetime]] = {}
    run_start = previous = None
    runs = []
    for ts in distinct:
        if previous is None or (ts - previous).total_seconds() >= gap or (ts - run_start).total_seconds() > max_session:
            run_start = ts
            runs.append([ts, ts])
        runs[-1][1] = ts
        previous = ts
    for start, end in runs:
        bounds = sessions.setdefault(_key(start, keying), [start, end])
        bounds[0], bounds[1] = min(bounds[0], start), max(bounds[1], end)

    existing = {e.group_by: e for e in db.session.scalars(db.select(Event).filter_by(deployment_id=deployment.id))}
    created = touched = 0
    db.session.execute(db.update(Capture).where(Capture.deployment_id == deployment.id).values(event_id=None))
    for group_by, (start, end) in sessions.items():
        event = existing.get(group_by)
        if event is None:
            event = Event(deployment_id=deployment.id, project_id=deployment.project_id, group_by=group_by)
            db.session.add(event)
            created += 1
        else:
            touched += 1
        db.session.flush()
        for run_start_, run_end in runs:
            if _key(run_start_, keying) == group_by:
                db.session.execute(
                    db.update(Capture)
                    .where(Capture.deployment_id == deployment.id, Capture.timestamp.between(run_start_, run_end))
                    .values(event_id=event.id)
                )
        event.start, event.end = start, end
        event.captures_count = db.session.scalar(db.select(func.count(Capture.id)).where(Capture.event_id == event.id))
    check()

    deleted = 0
    for group_by, event in existing.items():
        if group_by not in sessions:
            db.session.delete(event)
            deleted += 1
    db.session.flush()
    ungrouped = db.session.scalar(
        db.select(func.count(Capture.id)).where(
            Capture.deployment_id == deployment.id, Capture.timestamp.is_not(None), Capture.event_id.is_(None)
        )
    )
    refresh_deployment_stats(deployment)
    deployment.last_regrouped_at = utcnow()
    deployment.grouped_gap_seconds = gap
    deployment.grouped_keying = keying
    deployment.regroup_pending = False
    check()
    db.session.commit()
    stats = {
        "Captures grouped": len(rows) - ungrouped,
        "Events created": created,
        "Events touched": touched,
        "Empty events deleted": deleted,
        "Duplicate timestamps": len(rows) - len(distinct),
        "Ungrouped captures": ungrouped,
        "Captures missing timestamp": missing,
    }
    if job is not None:
        job.set_params(stage_key, stats)
    logger.info("Grouped %d captures into %d sessions.", stats["Captures grouped"], len(sessions))
    return RegroupResult(stats=stats)
