"""A session's captures, found by span: the captures of its station whose
timestamp lies in [start, end]. Example captures for lists of sessions, a
session's captures page by page, and its neighbours in the station.
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func

from ..extensions import db
from ..models import Capture, Event, Thumbnail
from .listing import Page, clean_page

EXAMPLES_PER_SESSION = 4
CAPTURES_PER_PAGE = 60


@dataclass(frozen=True)
class ExampleCapture:
    """A capture shown for a session, with its thumbnail's height at a label when one is stored."""
    id: int
    timestamp: datetime | None
    height: int | None = None


def in_span(event_table=Event):
    """The join condition "capture is in the session": same station, timestamp within the span."""
    return and_(
        Capture.deployment_id == event_table.deployment_id,
        Capture.timestamp >= event_table.start,
        Capture.timestamp <= event_table.end,
    )


def example_captures(events: list[Event], label: str | None = None) -> dict[int, list[ExampleCapture]]:
    """Up to four captures per session: first, middle and last by time, and the largest file.

    One statement for the whole list (window functions over the sessions'
    spans), so a page of sessions costs the same whatever its length. With a
    `label`, each example carries its stored thumbnail's height (for width/height
    attributes), else None.
    """
    ids = [e.id for e in events if e.start is not None and e.end is not None]
    if not ids:
        return {e.id: [] for e in events}
    spans = db.select(Event.id, Event.deployment_id, Event.start, Event.end).where(Event.id.in_(ids)).subquery()
    ranked = (
        db.select(
            spans.c.id.label("event_id"),
            Capture.id.label("capture_id"),
            Capture.timestamp,
            func.row_number().over(partition_by=spans.c.id, order_by=(Capture.timestamp, Capture.id)).label("position"),
            func.count().over(partition_by=spans.c.id).label("total"),
            func.row_number()
            .over(partition_by=spans.c.id, order_by=(Capture.size.desc(), Capture.timestamp, Capture.id))
            .label("by_size"),
        )
        .join(Capture, in_span(spans.c))
        .subquery()
    )
    query = db.select(ranked.c.event_id, ranked.c.capture_id, ranked.c.timestamp).where(
        db.or_(
            ranked.c.position == 1,
            ranked.c.position == ranked.c.total,
            ranked.c.position == (ranked.c.total + 1) // 2,
            ranked.c.by_size == 1,
        )
    )
    if label is not None:
        query = query.add_columns(Thumbnail.height).outerjoin(
            Thumbnail, and_(Thumbnail.capture_id == ranked.c.capture_id, Thumbnail.label == label)
        )
    else:
        query = query.add_columns(db.literal(None))
    found: dict[int, list[ExampleCapture]] = {e.id: [] for e in events}
    for event_id, capture_id, timestamp, height in db.session.execute(
        query.order_by(ranked.c.event_id, ranked.c.timestamp, ranked.c.capture_id)
    ):
        examples = found[event_id]
        if all(example.id != capture_id for example in examples):
            examples.append(ExampleCapture(capture_id, timestamp, height))
    return found


def captures_page(event: Event, page=1, per_page: int = CAPTURES_PER_PAGE, label: str | None = None) -> Page:
    """The session's captures in time order, one page; items are ExampleCapture (with the label's height)."""
    query = db.select(Capture.id, Capture.timestamp).where(
        Capture.deployment_id == event.deployment_id,
        Capture.timestamp >= event.start,
        Capture.timestamp <= event.end,
    )
    if label is not None:
        query = query.add_columns(Thumbnail.height).outerjoin(
            Thumbnail, and_(Thumbnail.capture_id == Capture.id, Thumbnail.label == label)
        )
    query = query.order_by(Capture.timestamp, Capture.id)
    if event.start is None or event.end is None:
        return Page([], 1, per_page, 0)
    result = _rows_page(query, page, per_page)
    result.items = [ExampleCapture(*row) for row in result.items]
    return result


def _rows_page(query, page, per_page: int) -> Page:
    """`listing.paginate` for a select of columns (rows, not ORM objects)."""
    page = clean_page(page)
    total = db.session.scalar(db.select(func.count()).select_from(query.order_by(None).subquery()))
    pages = max(1, -(-total // per_page))
    page = min(page, pages)
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page([tuple(row) for row in rows], page, per_page, total)


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
