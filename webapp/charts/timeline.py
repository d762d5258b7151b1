"""A station's session timeline, computed server-side for an SVG template.

One row per night from noon to noon, captures as ticks (one per occupied pixel
column), sessions as bands clipped to rows. Returns plain data;
templates/deployments/_timeline.html draws it.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from ..extensions import db
from ..grouping import US, to_microseconds
from ..models import Deployment, Event
from ..sessions import station_times

# Timeline canvas.
TIMELINE_WIDTH = 720
TIMELINE_LEFT = 70
TIMELINE_RIGHT = 22
TIMELINE_TOP = 24
ROW_HEIGHT = 30
BAND_HEIGHT = 16
TICK_HEIGHT = 8
NOON = timedelta(hours=12)
DAY = timedelta(days=1)
BAND_COLOURS = 5


@dataclass
class Band:
    event_id: int
    x: float
    width: float
    colour: int
    label: str  # the id, drawn when the band is wide enough
    title: str


@dataclass
class Row:
    night: date
    y: float
    bands: list[Band] = field(default_factory=list)
    ticks: list[float] = field(default_factory=list)


@dataclass
class Timeline:
    month: date  # first day
    width: int
    height: int
    rows: list[Row]
    hour_ticks: list[tuple[float, str]]
    sessions: list[Event]
    # The first and last months with captures (None: no captures), for paging between them.
    first_month: date | None
    last_month: date | None

    @property
    def previous_month(self) -> date | None:
        if self.first_month is None or self.month <= self.first_month:
            return None
        return min(_previous_month(self.month), self.last_month)

    @property
    def next_month(self) -> date | None:
        if self.last_month is None or self.month >= self.last_month:
            return None
        return max(_next_month(self.month), self.first_month)

    @property
    def bands_count(self) -> int:
        return sum(len(row.bands) for row in self.rows)


# A clock reset can date captures anywhere from year 1 to 9999: every step below stays inside that range.
FIRST_NOON = datetime.min + NOON


def _night_of(moment: datetime) -> date:
    return (moment - NOON).date() if moment >= FIRST_NOON else date.min


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    """The next month's first day; December 9999 is its own (there is no later month)."""
    if (day.year, day.month) == (9999, 12):
        return _month_start(day)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _previous_month(day: date) -> date:
    if (day.year, day.month) == (1, 1):
        return _month_start(day)
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def _noon_of(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time()) + NOON


def timeline_months(deployment: Deployment) -> tuple[date, date] | None:
    """The first and last months (of nights) with captures; None for a station without any."""
    first, last = deployment.first_capture_timestamp, deployment.last_capture_timestamp
    if first is None or last is None:
        return None
    return _month_start(_night_of(first)), _month_start(_night_of(last))


PLOT_WIDTH = TIMELINE_WIDTH - TIMELINE_LEFT - TIMELINE_RIGHT


def session_timeline(deployment: Deployment, month: date | None = None) -> Timeline:
    """The nights of one month (default: the last with captures), with their captures and sessions."""
    months = timeline_months(deployment)
    if month is None:
        month = months[1] if months else _month_start(date.today())
    month = _month_start(month)
    window_start = _noon_of(month)
    following = _next_month(month)
    window_end = _noon_of(following) if following > month else datetime.max
    ticks_by_night = _capture_ticks(deployment, month, window_start, window_end)
    sessions = _sessions_in(deployment, window_start, window_end)
    bands_by_night = _session_bands(sessions, month, window_end)
    nights = sorted(set(ticks_by_night) | set(bands_by_night))
    rows = [
        Row(
            night=night,
            y=TIMELINE_TOP + number * ROW_HEIGHT,
            bands=bands_by_night.get(night, []),
            ticks=[round(TIMELINE_LEFT + column + 0.5, 1) for column in ticks_by_night.get(night, ())],
        )
        for number, night in enumerate(nights)
    ]
    hour_ticks = [
        (round(TIMELINE_LEFT + hours_ / 24 * PLOT_WIDTH, 2), f"{(12 + hours_) % 24:02d}:00") for hours_ in range(0, 25, 3)
    ]
    return Timeline(
        month=month,
        width=TIMELINE_WIDTH,
        height=TIMELINE_TOP + max(len(rows), 1) * ROW_HEIGHT + 8,
        rows=rows,
        hour_ticks=hour_ticks,
        sessions=sessions,
        first_month=months[0] if months else None,
        last_month=months[1] if months else None,
    )


def _capture_ticks(deployment: Deployment, month: date, window_start: datetime, window_end: datetime) -> dict[date, list[int]]:
    """The cached distinct capture times inside the month, as one tick per occupied pixel column of each night."""
    distinct = station_times(deployment).distinct
    start_us = to_microseconds(window_start)
    lo, hi = np.searchsorted(distinct, [start_us, to_microseconds(window_end)])
    day_us = 86400 * US
    offsets = distinct[lo:hi] - start_us
    occupied = np.unique((offsets // day_us) * PLOT_WIDTH + (offsets % day_us) * PLOT_WIDTH // day_us)
    ticks_by_night: dict[date, list[int]] = {}
    for night_index, column in zip(*np.divmod(occupied, PLOT_WIDTH)):
        ticks_by_night.setdefault(month + timedelta(days=int(night_index)), []).append(int(column))
    return ticks_by_night


def _sessions_in(deployment: Deployment, window_start: datetime, window_end: datetime) -> list[Event]:
    """The station's sessions whose span intersects the window, in time order."""
    return list(
        db.session.scalars(
            db.select(Event)
            .where(
                Event.deployment_id == deployment.id,
                Event.start.is_not(None),
                Event.start < window_end,
                Event.end >= window_start,
            )
            .order_by(Event.start, Event.id)
        )
    )


def _session_bands(sessions: list[Event], month: date, window_end: datetime) -> dict[date, list[Band]]:
    """Each session as bands clipped to the noon-to-noon rows it crosses (a session over midnight is one band)."""
    bands_by_night: dict[date, list[Band]] = {}
    for position, event in enumerate(sessions):
        night = max(_night_of(event.start), month)
        while True:
            row_start = _noon_of(night)
            if row_start >= window_end or row_start > event.end:
                break
            bands_by_night.setdefault(night, []).append(_band(event, position, row_start))
            if night == date.max:
                break
            night += DAY
    return bands_by_night


def _band(event: Event, position: int, row_start: datetime) -> Band:
    """The part of a session inside one row, at least 2 units wide so a short session still shows."""
    left = _x_in_row(max(event.start, row_start), row_start)
    right = _x_in_row(min(event.end, row_start + DAY if row_start < datetime.max - DAY else datetime.max), row_start)
    width = max(right - left, 2.0)
    return Band(
        event_id=event.id,
        x=round(left, 2),
        width=round(width, 2),
        colour=position % BAND_COLOURS,
        label=f"#{event.id}" if width >= 8 * (len(str(event.id)) + 1) else "",
        title=f"Session #{event.id} ({event.group_by}): {event.start:%Y-%m-%d %H:%M:%S} – "
        f"{event.end:%Y-%m-%d %H:%M:%S}, {event.captures_count} captures",
    )


def _x_in_row(moment: datetime, row_start: datetime) -> float:
    return TIMELINE_LEFT + (moment - row_start) / DAY * PLOT_WIDTH
