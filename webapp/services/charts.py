"""The geometry of a station's pictures, computed server-side for SVG templates.

- the gap histogram: bars over a log time axis (1 s … 7 days), bar heights on
  a log count scale so a few dozen off-windows still show beside 100k in-burst
  steps, with lines for the current and the previewed gap;
- the session timeline: one row per night from noon to noon, captures as
  ticks (one per occupied pixel column), sessions as bands clipped to rows.

Everything here returns plain data; templates/deployments/_gap_histogram.html
and _timeline.html draw it.
"""
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from ..extensions import db
from ..gaps import AXIS_TICKS, BIN_COUNT, axis_position, bin_edges, format_seconds
from ..grouping import to_microseconds
from ..models import Deployment, Event
from .station_times import US, station_times

# Histogram canvas (SVG user units; the picture scales to its container).
HIST_WIDTH, HIST_HEIGHT = 720, 250
HIST_LEFT, HIST_RIGHT, HIST_TOP, HIST_BOTTOM = 56, 16, 16, 206

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
class Bar:
    x: float
    y: float
    width: float
    height: float
    low_seconds: float
    high_seconds: float
    count: int

    @property
    def label(self) -> str:
        return f"{format_seconds(self.low_seconds)} – {format_seconds(self.high_seconds)}: {self.count} gaps"


@dataclass
class GapLine:
    x: float
    seconds: int
    label: str


@dataclass
class Histogram:
    width: int
    height: int
    plot: tuple[float, float, float, float]  # left, top, right, bottom
    bars: list[Bar]
    ticks: list[tuple[float, str]]
    current: GapLine | None
    preview: GapLine | None
    total_gaps: int


def _x_of(seconds: float) -> float:
    return HIST_LEFT + axis_position(seconds) * (HIST_WIDTH - HIST_LEFT - HIST_RIGHT)


def gap_histogram(deployment: Deployment, current_gap: int | None, preview_gap: int | None = None) -> Histogram:
    """The station's gap histogram with its current gap and, if given, a previewed one."""
    counts = station_times(deployment).gap_bins()
    edges = bin_edges()
    plot_width = HIST_WIDTH - HIST_LEFT - HIST_RIGHT
    plot_height = HIST_BOTTOM - HIST_TOP
    top = math.log10(1 + max(counts, default=0)) or 1.0
    bars = []
    for index, count in enumerate(counts):
        if not count:
            continue
        height = max(1.5, math.log10(1 + count) / top * plot_height)
        bars.append(
            Bar(
                x=round(HIST_LEFT + index / BIN_COUNT * plot_width, 2),
                y=round(HIST_BOTTOM - height, 2),
                width=round(plot_width / BIN_COUNT - 1, 2),
                height=round(height, 2),
                low_seconds=edges[index],
                high_seconds=edges[index + 1],
                count=count,
            )
        )

    def line(seconds, label):
        if seconds is None:
            return None
        return GapLine(x=round(_x_of(seconds), 2), seconds=int(seconds), label=f"{label} {format_seconds(seconds)}")

    return Histogram(
        width=HIST_WIDTH,
        height=HIST_HEIGHT,
        plot=(HIST_LEFT, HIST_TOP, HIST_WIDTH - HIST_RIGHT, HIST_BOTTOM),
        bars=bars,
        ticks=[(round(_x_of(seconds), 2), text) for seconds, text in AXIS_TICKS],
        current=line(current_gap, "current gap"),
        preview=line(preview_gap, "previewed gap"),
        total_gaps=sum(counts),
    )


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
    months: list[date]  # every month with captures or sessions, for paging

    @property
    def previous_month(self) -> date | None:
        earlier = [m for m in self.months if m < self.month]
        return earlier[-1] if earlier else None

    @property
    def next_month(self) -> date | None:
        later = [m for m in self.months if m > self.month]
        return later[0] if later else None

    @property
    def bands_count(self) -> int:
        return sum(len(row.bands) for row in self.rows)


def _night_of(moment: datetime) -> date:
    return (moment - NOON).date()


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def timeline_months(deployment: Deployment) -> list[date]:
    """First days of the months (of nights) from the station's first to its last capture."""
    first, last = deployment.first_capture_timestamp, deployment.last_capture_timestamp
    if first is None or last is None:
        return []
    months, month = [], _month_start(_night_of(first))
    end = _month_start(_night_of(last))
    while month <= end:
        months.append(month)
        month = _next_month(month)
    return months


def session_timeline(deployment: Deployment, month: date | None = None) -> Timeline:
    """The nights of one month (default: the last with captures), with their captures and sessions."""
    months = timeline_months(deployment)
    if month is None:
        month = months[-1] if months else _month_start(date.today())
    month = _month_start(month)
    window_start = datetime.combine(month, datetime.min.time()) + NOON
    window_end = datetime.combine(_next_month(month), datetime.min.time()) + NOON
    plot_width = TIMELINE_WIDTH - TIMELINE_LEFT - TIMELINE_RIGHT

    def x_in_row(moment: datetime, row_start: datetime) -> float:
        return TIMELINE_LEFT + (moment - row_start) / DAY * plot_width

    # Captures: the cached distinct times inside the month, one tick per occupied pixel column.
    distinct = station_times(deployment).distinct
    start_us = to_microseconds(window_start)
    lo, hi = np.searchsorted(distinct, [start_us, to_microseconds(window_end)])
    day_us = 86400 * US
    offsets = distinct[lo:hi] - start_us
    # One (night, pixel column) pair per occupied column.
    occupied = np.unique((offsets // day_us) * plot_width + (offsets % day_us) * plot_width // day_us)
    ticks_by_night: dict[date, list[int]] = {}
    for night_index, column in zip(*np.divmod(occupied, plot_width)):
        ticks_by_night.setdefault(month + timedelta(days=int(night_index)), []).append(int(column))

    # Sessions: spans that intersect the month's window.
    sessions = list(
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
    bands_by_night: dict[date, list[Band]] = {}
    for position, event in enumerate(sessions):
        night = max(_night_of(event.start), month)
        while True:
            row_start = datetime.combine(night, datetime.min.time()) + NOON
            row_end = row_start + DAY
            if row_start >= window_end or row_start > event.end:
                break
            left = x_in_row(max(event.start, row_start), row_start)
            right = x_in_row(min(event.end, row_end), row_start)
            width = max(right - left, 2.0)
            bands_by_night.setdefault(night, []).append(
                Band(
                    event_id=event.id,
                    x=round(left, 2),
                    width=round(width, 2),
                    colour=position % BAND_COLOURS,
                    label=f"#{event.id}" if width >= 8 * (len(str(event.id)) + 1) else "",
                    title=f"Session #{event.id} ({event.group_by}): {event.start:%Y-%m-%d %H:%M:%S} – "
                    f"{event.end:%Y-%m-%d %H:%M:%S}, {event.captures_count} captures",
                )
            )
            night += DAY
    nights = sorted(set(ticks_by_night) | set(bands_by_night))
    rows = []
    for number, night in enumerate(nights):
        rows.append(
            Row(
                night=night,
                y=TIMELINE_TOP + number * ROW_HEIGHT,
                bands=bands_by_night.get(night, []),
                ticks=[round(TIMELINE_LEFT + column + 0.5, 1) for column in ticks_by_night.get(night, ())],
            )
        )
    hour_ticks = [
        (round(TIMELINE_LEFT + hours_ / 24 * plot_width, 2), f"{(12 + hours_) % 24:02d}:00") for hours_ in range(0, 25, 3)
    ]
    return Timeline(
        month=month,
        width=TIMELINE_WIDTH,
        height=TIMELINE_TOP + max(len(rows), 1) * ROW_HEIGHT + 8,
        rows=rows,
        hour_ticks=hour_ticks,
        sessions=sessions,
        months=months,
    )
