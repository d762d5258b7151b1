"""A session's captures, found by span: the captures of its station whose
timestamp lies in [start, end]. Example captures for lists of sessions, a
session's captures page by page, and its neighbours in the station.
"""
from dataclasses import dataclass
from datetime import datetime

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import and_, func

from ..extensions import db
from ..models import Capture, Event, Thumbnail
from ..paging import clean_page
from ..sql import dialect_name
from . import capture_listing

CAPTURES_PER_PAGE = 60


@dataclass(frozen=True)
class ExampleCapture:
    """A capture shown for a session, with its thumbnail's height at a label when one is stored."""
    id: int
    timestamp: datetime | None
    height: int | None = None


def _midpoint(start, end):
    """The middle of a span, in SQL (time arithmetic differs between the two databases)."""
    if dialect_name() == "sqlite":
        # julianday keeps milliseconds; datetime() writes it back in the stored text format.
        return func.datetime((func.julianday(start) + func.julianday(end)) / 2)
    return start + (end - start).self_group().op("/")(2)


def _pick(condition, *order):
    """A correlated scalar subquery: the id of one capture of the outer session's station."""
    return (
        db.select(Capture.id)
        .where(Capture.deployment_id == Event.deployment_id, condition)
        .order_by(*order)
        .limit(1)
        .correlate(Event)
        .scalar_subquery()
    )


def example_captures(events: list[Event], label: str | None = None) -> dict[int, list[ExampleCapture]]:
    """Up to four captures per session, in time order: the first, the one at the middle
    of its span, the last, and the largest file (a proxy for "most insects").

    Two statements for the whole list whatever its length: one picks the ids
    with correlated subqueries (each an index range of its session's span; only
    the largest file reads the span's rows), one reads those captures. With a
    `label`, each example carries its stored thumbnail's height, else None.
    """
    found: dict[int, list[ExampleCapture]] = {e.id: [] for e in events}
    ids = [e.id for e in events if e.start is not None and e.end is not None]
    if not ids:
        return found
    in_span = and_(Capture.timestamp >= Event.start, Capture.timestamp <= Event.end)
    picks = db.session.execute(
        db.select(
            Event.id,
            _pick(in_span, Capture.timestamp, Capture.id),
            _pick(and_(Capture.timestamp >= _midpoint(Event.start, Event.end), Capture.timestamp <= Event.end),
                  Capture.timestamp, Capture.id),
            _pick(in_span, Capture.timestamp.desc(), Capture.id.desc()),
            _pick(in_span, Capture.size.desc(), Capture.timestamp, Capture.id),
        ).where(Event.id.in_(ids))
    ).all()
    wanted = {capture_id for _, *chosen in picks for capture_id in chosen if capture_id is not None}
    if not wanted:
        return found
    query = db.select(Capture.id, Capture.timestamp).where(Capture.id.in_(wanted))
    if label is not None:
        query = query.add_columns(Thumbnail.height).outerjoin(
            Thumbnail, and_(Thumbnail.capture_id == Capture.id, Thumbnail.label == label)
        )
    else:
        query = query.add_columns(db.literal(None))
    captures = {row[0]: ExampleCapture(*row) for row in db.session.execute(query)}
    for event_id, *chosen in picks:
        unique = {capture_id: captures[capture_id] for capture_id in chosen if capture_id in captures}
        found[event_id] = sorted(unique.values(), key=lambda c: (c.timestamp, c.id))
    return found


def session_gallery_page(event: Event, page=1, per_page: int = CAPTURES_PER_PAGE, label: str | None = None) -> Pagination:
    """The session's captures in time order, one page (the captures listing's range query).

    Items are ExampleCapture, with their stored thumbnail's height at `label`
    (one more query for the page).
    """
    found = capture_listing.captures_page(event.deployment, event, clean_page(page), per_page, clamp=True)
    captures = [row[0] for row in found.items]
    heights = {}
    if label is not None and captures:
        heights = dict(
            db.session.execute(
                db.select(Thumbnail.capture_id, Thumbnail.height).where(
                    Thumbnail.capture_id.in_([c.id for c in captures]), Thumbnail.label == label
                )
            ).all()
        )
    found.items = [ExampleCapture(c.id, c.timestamp, heights.get(c.id)) for c in captures]
    return found


def neighbours(event: Event) -> tuple[Event | None, Event | None]:
    """The station's sessions just before and just after this one, by start."""
    same_station = Event.deployment_id == event.deployment_id
    before = db.session.scalar(
        db.select(Event)
        .where(same_station, db.or_(Event.start < event.start, and_(Event.start == event.start, Event.id < event.id)))
        .order_by(Event.start.desc(), Event.id.desc())
        .limit(1)
    )
    after = db.session.scalar(
        db.select(Event)
        .where(same_station, db.or_(Event.start > event.start, and_(Event.start == event.start, Event.id > event.id)))
        .order_by(Event.start, Event.id)
        .limit(1)
    )
    return before, after
