"""What a regroup would do to a station, without writing anything."""
from flask import current_app

from ..config import DEFAULT_MAX_SESSION_SECONDS
from ..extensions import db
from ..grouping import group_spans
from ..models import Deployment, Event
from .timestamps import read_timestamps


def preview_regroup(deployment: Deployment, gap_seconds: int | None = None, keying: str | None = None) -> dict:
    """Sessions now and after a regroup with `gap_seconds` and `keying` (defaults: the station's grouping rule).

    Returns `{gap_seconds, keying, sessions_before, sessions_after, longest_session_seconds}`;
    `longest_session_seconds` is 0 for a station without timestamped captures.
    """
    rule = deployment.grouping_rule
    gap_seconds = rule.gap_seconds if gap_seconds is None else gap_seconds
    keying = rule.keying if keying is None else keying
    max_seconds = current_app.config.get("MAX_SESSION_SECONDS", DEFAULT_MAX_SESSION_SECONDS)
    spans = group_spans(read_timestamps(deployment.id, expected_rows=deployment.captures_count or 0).values, gap_seconds, keying, max_seconds)
    sessions_before = db.session.scalar(
        db.select(db.func.count()).select_from(Event).where(Event.deployment_id == deployment.id)
    )
    longest = int((spans.end - spans.start).max()) // 1_000_000 if len(spans) else 0
    return {
        "gap_seconds": gap_seconds,
        "keying": keying,
        "sessions_before": sessions_before,
        "sessions_after": len(spans),
        "longest_session_seconds": longest,
    }
