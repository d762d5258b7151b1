"""A project's operation matrix: captures per station and night, as each station's last regroup counted
them (or, for a station whose captures changed since, from one grouped query over its rows).

A night is the date of (local time − 12 h), as the `night` keying counts it.
Inside a station's operating period (its first to its last night with a
capture) a night without captures counts 0; outside it, None. The calendar
page, `GET /api/v2/projects/<id>/operation/` and `operation.csv` all read this.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, text

from ..extensions import db
from ..models import Deployment, Project
from ..sql import dialect_name, night_sql

DEFAULT_NIGHTS = 90
# Two years and a leap day: a season or two side by side, and a bounded answer.
MAX_NIGHTS = 731
NOON = timedelta(hours=12)
# Nights a person can mean; outside them date arithmetic could leave the calendar (year 1 or 9999).
EARLIEST_NIGHT, LATEST_NIGHT = date(1900, 1, 1), date(2199, 12, 31)


class RangeError(ValueError):
    """A range of nights that cannot be shown (end before start, or longer than MAX_NIGHTS)."""


@dataclass
class StationRow:
    deployment_id: int
    name: str
    counts: list[int | None]


@dataclass
class OperationMatrix:
    nights: list[date]
    rows: list[StationRow]


def night_of(moment: datetime) -> date:
    return (moment - NOON).date()


def _stations(project: Project) -> list:
    return db.session.execute(
        db.select(Deployment.id, Deployment.name, Deployment.first_capture_timestamp, Deployment.last_capture_timestamp,
                  Deployment.night_counts, Deployment.night_counts_version, Deployment.captures_version)
        .where(Deployment.project_id == project.id).order_by(Deployment.name, Deployment.id)
    ).all()


def night_range(stations, start: date | None, end: date | None) -> tuple[date, date] | None:
    """The nights to show: as asked, else the last DEFAULT_NIGHTS with data (all of a shorter project).

    None when nothing is asked and no station has a capture. RangeError for an
    end before the start or more than MAX_NIGHTS nights.
    """
    for asked in (start, end):
        if asked is not None and not EARLIEST_NIGHT <= asked <= LATEST_NIGHT:
            raise RangeError(f"Nights must lie between {EARLIEST_NIGHT} and {LATEST_NIGHT}.")
    firsts = [night_of(s.first_capture_timestamp) for s in stations if s.first_capture_timestamp is not None]
    lasts = [night_of(s.last_capture_timestamp) for s in stations if s.last_capture_timestamp is not None]
    span = timedelta(days=DEFAULT_NIGHTS - 1)
    if start is None and end is None:
        if not lasts:
            return None
        end = max(lasts)
        start = max(end - span, min(firsts))
    elif end is None:
        end = start + span
    elif start is None:
        start = end - span
    if end < start:
        raise RangeError("The end night must not be before the start night.")
    if (end - start).days + 1 > MAX_NIGHTS:
        raise RangeError(f"At most {MAX_NIGHTS} nights at once (two years); choose a shorter range.")
    return start, end


def night_counts(project: Project, start: date, end: date, stations: list[int] | None = None) -> dict[tuple[int, str], int]:
    """Captures per (station, night as YYYY-MM-DD) of the project's stations (or of `stations`),
    counted from their rows in one grouped query."""
    night = night_sql(dialect_name(), "timestamp")
    # An expanding parameter renders its own parentheses.
    which = "(SELECT id FROM deployment WHERE project_id = :project)" if stations is None else ":stations"
    statement = text(
        f"SELECT deployment_id, {night} AS night, count(*) FROM capture "
        f"WHERE deployment_id IN {which} "
        "AND timestamp >= :low AND timestamp < :high "
        f"GROUP BY deployment_id, {night}"
    ).bindparams(bindparam("low", type_=db.DateTime), bindparam("high", type_=db.DateTime))
    if stations is not None:
        statement = statement.bindparams(bindparam("stations", expanding=True))
    low = datetime.combine(start, datetime.min.time()) + NOON
    high = datetime.combine(end + timedelta(days=1), datetime.min.time()) + NOON
    values = {"project": project.id, "low": low, "high": high}
    if stations is not None:
        values["stations"] = stations
    rows = db.session.execute(statement, values)
    return {(deployment_id, str(night)): count for deployment_id, night, count in rows}


def _counts(project: Project, stations, start: date, end: date) -> dict[int, dict[str, int]]:
    """`{station id: {night: count}}`: what the stations' last regroups stored where it is current
    (sessions/night_counts.py), the others counted from their capture rows (nights outside the
    range may be included; they are never looked up)."""
    counts: dict[int, dict[str, int]] = {}
    stale = []
    for station in stations:
        if station.night_counts is not None and station.night_counts_version == station.captures_version:
            counts[station.id] = station.night_counts
        elif station.first_capture_timestamp is not None:
            stale.append(station.id)
    if stale:
        for (station_id, night), count in night_counts(project, start, end, stale).items():
            counts.setdefault(station_id, {})[night] = count
    return counts


def operation_matrix(project: Project, start: date | None = None, end: date | None = None) -> OperationMatrix:
    """Stations (by name) × nights of the range, with counts; RangeError for a range that cannot be shown."""
    stations = _stations(project)
    bounds = night_range(stations, start, end)
    if bounds is None:
        return OperationMatrix([], [StationRow(s.id, s.name, []) for s in stations])
    start, end = bounds
    nights = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    counts = _counts(project, stations, start, end)
    keys = [night.isoformat() for night in nights]
    rows = []
    for station in stations:
        if station.first_capture_timestamp is None:
            rows.append(StationRow(station.id, station.name, [None] * len(nights)))
            continue
        first, last = night_of(station.first_capture_timestamp), night_of(station.last_capture_timestamp)
        # A count found outside the cached first–last nights (a sync not yet regrouped) still shows.
        found = counts.get(station.id, {})
        rows.append(StationRow(station.id, station.name, [
            found.get(key, 0 if first <= night <= last else None) for night, key in zip(nights, keys)
        ]))
    return OperationMatrix(nights, rows)
