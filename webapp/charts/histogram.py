"""A station's gap histogram, computed server-side for an SVG template.

Bars over a log time axis (1 s … 7 days), bar heights on a log count scale so
a few dozen off-windows still show beside 100k in-burst steps, with lines for
the current and the previewed gap. Returns plain data;
templates/deployments/_gap_histogram.html draws it.
"""
import math
from dataclasses import dataclass

from ..gaps import AXIS_TICKS, BIN_COUNT, axis_position, bin_edges, format_seconds
from ..models import Deployment
from ..sessions import station_times

# Histogram canvas (SVG user units; the picture scales to its container).
HIST_WIDTH, HIST_HEIGHT = 720, 250
HIST_LEFT, HIST_RIGHT, HIST_TOP, HIST_BOTTOM = 56, 16, 16, 206
# The time axis ticks a narrow screen keeps (seconds): 1 s, 1 min, 1 h, 1 d, 7 d.
MAJOR_TICKS = (1, 60, 3600, 86400, 7 * 86400)


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
    ticks: list[tuple[float, str, bool]]  # (x, label, minor): a phone shows the major ones only
    current: GapLine | None
    preview: GapLine | None
    total_gaps: int
    count_ticks: list[tuple[float, str]]  # (y, label): the log count scale, at powers of ten


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
        ticks=[(round(_x_of(seconds), 2), text, seconds not in MAJOR_TICKS) for seconds, text in AXIS_TICKS],
        current=line(current_gap, "current gap"),
        preview=line(preview_gap, "previewed gap"),
        total_gaps=sum(counts),
        count_ticks=_count_ticks(max(counts, default=0), top, plot_height),
    )


def _count_ticks(largest: int, top: float, plot_height: float) -> list[tuple[float, str]]:
    """1, 10, 100, … up to the largest bar, placed on the bars' log scale."""
    ticks, value = [], 1
    while largest and value <= largest:
        y = HIST_BOTTOM - math.log10(1 + value) / top * plot_height
        ticks.append((round(y, 2), f"{value:,}"))
        value *= 10
    return ticks
