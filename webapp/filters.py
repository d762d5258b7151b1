"""Jinja filters shared by every template."""
from datetime import datetime

from markupsafe import Markup, escape

from .gaps import format_seconds


def hours(seconds) -> str:
    """Seconds shown as hours, without a trailing `.0` (5400 → "1.5")."""
    if seconds is None:
        return "—"
    value = round(seconds / 3600, 4)
    return f"{value:g}"


def dt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def duration(seconds) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


def gap(seconds) -> str:
    """A gap for people, in s, min, h or d."""
    return "—" if seconds is None else format_seconds(seconds)


def degrees(value) -> str:
    """Decimal degrees as typed back into a form: up to 8 decimals (about 1 mm), no exponent; "" for none."""
    if value is None:
        return ""
    text = f"{value:.8f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def offset(seconds: int) -> str:
    """A clock offset as a person reads it: "+2,922 d 0 h 00 min" (signed; days of 24 h)."""
    sign = "−" if seconds < 0 else "+"
    days, rest = divmod(abs(int(seconds)), 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    text = f"{sign}{days:,} d {h} h {m:02d} min"
    return f"{text} {s:02d} s" if s else text


def svg_cells(cells, width: float, height: float, y: float, name: str) -> Markup:
    """The operation calendar's cells of station `name` as SVG `<rect>`s titled "<name>, night of
    <night>: <count> captures", joined in Python.

    A year of 100 stations is 36,500 cells: a Jinja loop over them cost about
    a second per page, a join a few dozen milliseconds (benchmarks/operation.py).
    The name is escaped once per row, not once per cell.
    """
    station = escape(name)
    return Markup("".join(
        f'<rect class="{cls}" x="{x:g}" y="{y:g}" width="{width:g}" height="{height:g}"><title>{station}, night of '
        f'{night}: {count:,} {"capture" if count == 1 else "captures"}</title></rect>'
        for x, cls, night, count in cells
    ))


def init_app(app):
    app.add_template_filter(hours)
    app.add_template_filter(dt)
    app.add_template_filter(duration)
    app.add_template_filter(gap)
    app.add_template_filter(degrees)
    app.add_template_filter(offset)
    app.add_template_filter(svg_cells)
