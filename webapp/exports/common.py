"""What both exports share: a project's stations, their sessions read in batches, and times with the station's UTC offset."""
import csv
import io
from datetime import datetime
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..extensions import db
from ..models import Deployment, Event, Project

BATCH_ROWS = 2000


class ExportConflict(ValueError):
    """The data cannot be exported as it is (e.g. overlapping sessions); nothing is written."""


def station_zone(deployment: Deployment) -> ZoneInfo:
    """The station's time zone (`time_zone`, an IANA name; UTC when unset or unknown)."""
    name = getattr(deployment, "time_zone", None) or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def with_offset(moment: datetime | None, zone: ZoneInfo) -> str:
    """A local clock time as ISO 8601 with the zone's UTC offset at that moment ("" for none)."""
    if moment is None:
        return ""
    return moment.replace(tzinfo=zone).isoformat(timespec="seconds")


def elapsed_seconds(start: datetime | None, end: datetime | None, zone: ZoneInfo) -> int:
    """Whole seconds from `start` to `end`, local clock times of `zone`, as their UTC offsets say.

    What a reader computes from the `start` and `end` written beside it: across
    a change to summer time an hour less than the clock difference, across the
    change back an hour more. (Python subtracts two times of one zone as wall
    clock times, so each is brought to UTC first.)
    """
    if start is None or end is None:
        return 0
    first, last = start.replace(tzinfo=zone), end.replace(tzinfo=zone)
    return int(((end - last.utcoffset()) - (start - first.utcoffset())).total_seconds())


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A text cell that cannot run as a formula: one that starts like a formula gets a leading
    apostrophe, which spreadsheets show as text. Numbers (not text) pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_line(values) -> str:
    """One CSV line, every text cell made spreadsheet-safe."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([spreadsheet_safe(value) for value in values])
    return buffer.getvalue()


def _project_deployments(project: Project) -> dict[int, Deployment]:
    return {
        d.id: d
        for d in db.session.scalars(db.select(Deployment).where(Deployment.project_id == project.id).order_by(Deployment.id))
    }


def _events(deployment_ids) -> Iterator[Event]:
    query = (
        db.select(Event)
        .where(Event.deployment_id.in_(deployment_ids), Event.start.is_not(None))
        .order_by(Event.deployment_id, Event.start, Event.id)
        .execution_options(yield_per=BATCH_ROWS)
    )
    result = db.session.scalars(query)
    try:
        for event in result:
            yield event
            db.session.expunge(event)
    finally:
        # A caller that stops early must not leave a server-side cursor open.
        result.close()


def check_sessions(deployment_ids) -> None:
    """ExportConflict if two sessions of one station overlap (a capture would then sit in two events)."""
    previous = None
    events = _events(deployment_ids)
    try:
        for event in events:
            if previous is not None and previous[0] == event.deployment_id and event.start <= previous[2]:
                raise ExportConflict(
                    f"Sessions {previous[1]} and {event.id} of station {event.deployment_id} overlap; "
                    "regroup the station before exporting."
                )
            previous = (event.deployment_id, event.id, event.end)
    finally:
        events.close()
