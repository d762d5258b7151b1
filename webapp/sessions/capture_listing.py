"""A station's captures in time order, each with the session whose span holds it.

Sessions are spans that never overlap within a station, so a capture's
session is found by a range join on (deployment, start ≤ timestamp ≤ end),
never by a column of the capture. The station page, the session page and
the captures API read through these functions.
"""
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import and_, func, select

from ..extensions import db
from ..models import Capture, Deployment, Event
from ..paging import rows_page

CAPTURES_PER_PAGE = 50


def _in_span(event):
    return and_(
        event.deployment_id == Capture.deployment_id,
        event.start <= Capture.timestamp,
        event.end >= Capture.timestamp,
    )


def captures_query(deployment: Deployment, event: Event | None = None):
    """SELECT (Capture, session id, session key) for a station, or one of its sessions, ordered by timestamp then id.

    Captures without a timestamp come last (station only); their session id is None.
    """
    if event is not None:
        return (
            select(Capture, db.literal(event.id).label("event_id"), db.literal(event.group_by).label("group_by"))
            .where(
                Capture.deployment_id == event.deployment_id,
                Capture.timestamp >= event.start,
                Capture.timestamp <= event.end,
            )
            .order_by(Capture.timestamp, Capture.id)
        )
    return (
        select(Capture, Event.id.label("event_id"), Event.group_by)
        .outerjoin(Event, _in_span(Event))
        .where(Capture.deployment_id == deployment.id)
        .order_by(Capture.timestamp.asc().nulls_last(), Capture.id)
    )


def captures_page(
    deployment: Deployment, event: Event | None = None, page: int = 1, per_page: int = CAPTURES_PER_PAGE, clamp: bool = False
) -> Pagination:
    """One page of a station's (or one session's) captures: one range join, and a count for a session.

    A whole station's total is its cached `captures_count`, not a count (277 ms
    over 1M captures on PostgreSQL): like the listing it includes captures
    without a timestamp, every insert of captures adds to it in the same
    transaction (sources.insert_captures), and syncs and regroups recompute
    it. A session's total is counted, over the session's index range.

    `items` are (Capture, session id or None, session key or None) rows.
    With `clamp`, a page past the end is the last page (for pages; the API answers an empty one).
    """
    if event is not None and event.deployment_id != deployment.id:
        raise ValueError(f"session {event.id} is not a session of station {deployment.id}")
    if event is not None:
        total = db.session.scalar(
            select(func.count()).select_from(Capture).where(
                Capture.deployment_id == deployment.id, Capture.timestamp >= event.start, Capture.timestamp <= event.end
            )
        ) if event.start is not None else 0
    else:
        total = deployment.captures_count
    if clamp:
        page = min(page, max(1, -(-total // per_page)))
    return rows_page(captures_query(deployment, event), total, page, per_page)


def count_outside_sessions(deployment_id: int) -> int:
    """Timestamped captures of the station that no session's span holds.

    The station's timestamped captures minus those inside each span: spans
    never overlap, so no capture is subtracted twice. Index ranges only.
    """
    inside = (
        select(func.count())
        .select_from(Capture)
        .where(Capture.deployment_id == Event.deployment_id, Capture.timestamp >= Event.start, Capture.timestamp <= Event.end)
        .correlate(Event)
        .scalar_subquery()
    )
    grouped = db.session.scalar(select(func.coalesce(func.sum(inside), 0)).where(Event.deployment_id == deployment_id))
    timestamped = db.session.scalar(
        select(func.count()).select_from(Capture).where(Capture.deployment_id == deployment_id, Capture.timestamp.is_not(None))
    )
    return int(timestamped) - int(grouped)
