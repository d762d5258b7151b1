"""Clock offsets: a station's capture times corrected by rows, never by rewriting files.

A capture whose ORIGINAL time (the one read from its file) lies in an
offset's `[start, end]` gets `timestamp` = original + offset, and the original
is kept in `original_timestamp`. So every query, the span rule and the exports
see the corrected time without knowing about offsets, and removing an offset
gives the original back exactly.

Applying is idempotent and set-based: one transaction first restores every
capture whose correction no longer matches an offset, then corrects the
uncorrected captures inside each offset's range, and bumps the station's
`captures_version` so a regroup running meanwhile makes one more pass.
"""
from datetime import datetime, timedelta

from sqlalchemy import bindparam, text

from ..extensions import db
from ..models import Capture, ClockOffset, Deployment, User
from ..sql import dialect_name, shifted_time_sql
from ..validation import ValidationError

APPLY_PARAMS = ("Captures corrected", "Captures restored")
# Times a person can mean: wide enough for any factory date a clock resets to (1970, 2000, …).
EARLIEST = datetime(1900, 1, 1)
LATEST = datetime(2199, 12, 31, 23, 59, 59)
# ±100 calendar years (with leap days): the corrected time then stays within 1800–2300.
MAX_OFFSET_SECONDS = 36525 * 86400


def clock_offsets(deployment: Deployment) -> list[ClockOffset]:
    """The station's offsets, earliest range first."""
    return list(db.session.scalars(
        db.select(ClockOffset).where(ClockOffset.deployment_id == deployment.id)
        .order_by(ClockOffset.start, ClockOffset.id)
    ))


def has_clock_offsets(deployment: Deployment) -> bool:
    return db.session.scalar(
        db.select(ClockOffset.id).where(ClockOffset.deployment_id == deployment.id).limit(1)
    ) is not None


def _clean_time(value, field: str, errors: dict) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            errors[field] = ["Must be a date and time, e.g. 2024-06-01T22:00:00."]
            return None
    if not isinstance(value, datetime):
        errors[field] = [f"A {field} time is required."]
        return None
    if value.tzinfo is not None:
        errors[field] = ["Must be the station's local clock time, without a UTC offset."]
        return None
    if not EARLIEST <= value <= LATEST:
        errors[field] = [f"Must lie between {EARLIEST.year} and {LATEST.year}."]
        return None
    return value


def clean_offset(data: dict, deployment: Deployment) -> dict:
    """`start`, `end` and `offset_seconds`, checked; ValidationError names every bad field.

    An offset whose range overlaps another of the station is refused: each
    original time gets one correction, and removing one offset never changes
    what another does.
    """
    errors: dict[str, list[str]] = {}
    start = _clean_time(data.get("start"), "start", errors)
    end = _clean_time(data.get("end"), "end", errors)
    seconds = data.get("offset_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        errors["offset_seconds"] = ["Must be a whole number of seconds."]
    elif seconds == 0:
        errors["offset_seconds"] = ["An offset of 0 changes nothing."]
    elif abs(seconds) > MAX_OFFSET_SECONDS:
        errors["offset_seconds"] = [f"At most {MAX_OFFSET_SECONDS} seconds (100 years) either way."]
    if start and end and end < start:
        errors["end"] = ["Must not be before the start."]
    if not errors:
        clash = db.session.scalar(
            db.select(ClockOffset).where(
                ClockOffset.deployment_id == deployment.id, ClockOffset.start <= end, ClockOffset.end >= start
            ).limit(1)
        )
        if clash is not None:
            errors["start"] = [
                f"Overlaps the offset from {clash.start:%Y-%m-%d %H:%M:%S} to {clash.end:%Y-%m-%d %H:%M:%S}; "
                "remove it first or choose a range outside it."
            ]
    if errors:
        raise ValidationError(errors)
    return {"start": start, "end": end, "offset_seconds": seconds}


def add_clock_offset(deployment: Deployment, data: dict, user: User | None) -> ClockOffset:
    """Store a checked offset (committed); its captures change when the apply job runs."""
    offset = ClockOffset(deployment_id=deployment.id, created_by_id=user.id if user is not None else None,
                         **clean_offset(data, deployment))
    db.session.add(offset)
    db.session.commit()
    return offset


def remove_clock_offset(offset: ClockOffset) -> None:
    """Delete the offset (committed); its captures get their original time back when the apply job runs."""
    db.session.delete(offset)
    db.session.commit()


def first_original_time(deployment: Deployment) -> tuple[datetime | None, datetime | None]:
    """The station's earliest and latest capture time as read from the files (before any correction)."""
    original = db.func.coalesce(Capture.original_timestamp, Capture.timestamp)
    return db.session.execute(
        db.select(db.func.min(original), db.func.max(original)).where(Capture.deployment_id == deployment.id)
    ).one()


def offset_seconds_of(anchor: datetime, years: int = 0, days: int = 0, hours: int = 0, minutes: int = 0,
                      sign: int = 1) -> int:
    """Seconds of "+8 years 3 days" counted from `anchor` (the range's start), by the calendar.

    Years are calendar years from the anchor (with their leap days: 2016-03-01
    + 8 years is 2024-03-01; 29 February goes to 28 February in a common
    year), then days, hours and minutes of fixed length. Subtracting counts
    the years backwards from the anchor the same way.
    """
    year = anchor.year + sign * years
    try:
        moved = anchor.replace(year=year)
    except ValueError:
        moved = anchor.replace(year=year, day=28)
    moved += sign * timedelta(days=days, hours=hours, minutes=minutes)
    return int((moved - anchor).total_seconds())


def apply_clock_offsets(deployment: Deployment, recorder=None, stage_key: str | None = None) -> dict[str, int]:
    """Make the station's capture times agree with its offsets, in one transaction; returns APPLY_PARAMS.

    Idempotent: a second run changes nothing. A capture synced later inside
    an offset's range is corrected by the next run (the sync job runs this
    before its regroup when the station has offsets).
    """
    dialect = dialect_name()
    shifted_original = shifted_time_sql(dialect, "capture.original_timestamp", "seconds")
    restored = db.session.execute(text(
        "UPDATE capture SET timestamp = original_timestamp, original_timestamp = NULL "
        "WHERE deployment_id = :deployment AND original_timestamp IS NOT NULL AND NOT EXISTS ("
        " SELECT 1 FROM clock_offset o WHERE o.deployment_id = :deployment"
        " AND capture.original_timestamp BETWEEN o.start_time AND o.end_time"
        f" AND capture.timestamp = {shifted_original.replace(':seconds', 'o.offset_seconds')})"
    ), {"deployment": deployment.id}).rowcount
    shifted = shifted_time_sql(dialect, "timestamp", "seconds")
    corrected = 0
    for offset in clock_offsets(deployment):
        corrected += db.session.execute(text(
            f"UPDATE capture SET original_timestamp = timestamp, timestamp = {shifted} "
            "WHERE deployment_id = :deployment AND original_timestamp IS NULL "
            "AND timestamp BETWEEN :start AND :end"
        ).bindparams(bindparam("start", type_=db.DateTime), bindparam("end", type_=db.DateTime)), {"deployment": deployment.id, "seconds": offset.offset_seconds,
            "start": offset.start, "end": offset.end}).rowcount
    if corrected or restored:
        table = Deployment.__table__
        db.session.execute(table.update().where(table.c.id == deployment.id)
                           .values(captures_version=table.c.captures_version + 1))
    db.session.commit()
    stats = {"Captures corrected": corrected, "Captures restored": restored}
    if recorder is not None:
        recorder.logger.info("Clock offsets: %d captures corrected, %d restored to their original time.",
                             corrected, restored)
        if stage_key is not None:
            recorder.set_params(stage_key, stats)
    return stats
