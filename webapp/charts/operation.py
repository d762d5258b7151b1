"""The operation calendar's SVG geometry: stations (rows) × nights (columns), computed server-side.

Cells are coloured by captures per night in a few classes; runs of
OUTAGE_NIGHTS or more nights without captures inside a station's operating
period are marked as outages; stations with problems get a marker. Returns
plain data; templates/projects/operation.html draws it.
"""
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date

from .operation_data import OperationMatrix

# Station names sit left of the cells, clipped to what fits.
LEFT = 150
NAME_CHARACTERS = 24
TOP = 22
ROW_HEIGHT = 18
CELL_HEIGHT = 14
MAX_CELL_WIDTH = 14
MIN_CELL_WIDTH = 2
TARGET_WIDTH = 900
MONTH_LABEL_WIDTH = 56
OUTAGE_NIGHTS = 3
# Lower bounds of the colour classes (captures per night); 0 is its own class.
CLASSES = ((1, "1–99"), (100, "100–499"), (500, "500–1,999"), (2000, "2,000 or more"))


@dataclass
class Outage:
    x: float
    width: float
    nights: int
    title: str


@dataclass
class CalendarRow:
    deployment_id: int
    name: str
    label: str
    y: float
    # (x, css class, title) of each night inside the operating period.
    cells: list[tuple[float, str, str]] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    nights_with_captures: int = 0


@dataclass
class Calendar:
    width: int
    height: int
    cell_width: float
    cell_height: int
    rows: list[CalendarRow]
    months: list[tuple[float, str]]
    nights: list[date]
    legend: list[tuple[str, str]]

    @property
    def outages_count(self) -> int:
        return sum(len(row.outages) for row in self.rows)


_LOWS = [low for low, _ in CLASSES]
_CLASS_NAMES = [f"op-{level}" for level in range(len(CLASSES) + 1)]


def colour_class(count: int) -> str:
    """The cell's colour class: op-0 for none, then one per band of CLASSES."""
    return _CLASS_NAMES[bisect_right(_LOWS, count)]


def _outages(counts: list[int | None], nights: list[date], cell: float) -> list[Outage]:
    outages, run_start = [], None
    for index, count in enumerate([*counts, None]):
        if count == 0 and run_start is None:
            run_start = index
        elif count != 0 and run_start is not None:
            length = index - run_start
            if length >= OUTAGE_NIGHTS:
                title = f"Outage: {length} nights without captures, {nights[run_start]} to {nights[index - 1]}"
                outages.append(Outage(LEFT + run_start * cell, length * cell, length, title))
            run_start = None
    return outages


def operation_calendar(matrix: OperationMatrix, problems: dict[int, list[str]] | None = None) -> Calendar:
    """The geometry of `matrix`; `problems` maps a station id to the problems to mark on its row."""
    problems = problems or {}
    nights = matrix.nights
    cell = max(MIN_CELL_WIDTH, min(MAX_CELL_WIDTH, TARGET_WIDTH / max(len(nights), 1)))
    keys = [night.isoformat() for night in nights]
    rows = []
    for index, station in enumerate(matrix.rows):
        label = station.name if len(station.name) <= NAME_CHARACTERS else station.name[: NAME_CHARACTERS - 1] + "…"
        row = CalendarRow(station.deployment_id, station.name, label, TOP + index * ROW_HEIGHT,
                          problems=problems.get(station.deployment_id, []))
        # (x, colour class, night, count): the template's svg_cells writes each cell and its title.
        row.cells = [(LEFT + column * cell, colour_class(count), keys[column], count)
                     for column, count in enumerate(station.counts) if count is not None]
        row.nights_with_captures = sum(1 for count in station.counts if count)
        row.outages = _outages(station.counts, nights, cell)
        rows.append(row)
    months = [(LEFT + i * cell, f"{night:%b %Y}") for i, night in enumerate(nights) if night.day == 1]
    # The first night's month is named too, unless the next month's label would overlap it.
    if nights and nights[0].day != 1 and (not months or months[0][0] - LEFT >= MONTH_LABEL_WIDTH):
        months.insert(0, (LEFT, f"{nights[0]:%b %Y}"))
    legend = [("op-0", "no captures")] + [(f"op-{i}", label) for i, (_, label) in enumerate(CLASSES, start=1)]
    return Calendar(
        width=int(LEFT + len(nights) * cell + 8), height=TOP + max(len(rows), 1) * ROW_HEIGHT + 4,
        cell_width=cell, cell_height=CELL_HEIGHT, rows=rows, months=months, nights=nights, legend=legend,
    )
