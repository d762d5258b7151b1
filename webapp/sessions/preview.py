"""What a regroup would do to a station, without writing anything.

The preview groups the station's cached timestamps (sessions/station_times.py)
with the proposed rule through the regroup's own `grouping.group_spans`, and compares the result with
the station's current sessions, which are time spans: a proposed session and a
current one share captures exactly when their spans intersect (both spans start
and end on captures, and the proposed spans cover every capture).

The proposed sessions are kept per app under (station, capture counters,
rule), so a value already tried answers with one small query: the station's
current session spans.
"""
import numpy as np
from flask import current_app

from ..config import DEFAULT_MAX_SESSION_SECONDS
from ..extensions import db
from ..grouping import US, group_spans, to_microseconds
from ..models import Deployment, Event
from .station_times import app_cache, fingerprint, station_times

# The previews kept per app, in bytes of their spans: a few MB, however many gaps people try.
CACHE_BYTES = 4 * 1024 * 1024
PROJECT_PREVIEW_STATIONS = 50


def max_session_seconds() -> int:
    """The longest a session may last (the 24 h cap unless configured otherwise)."""
    return current_app.config.get("MAX_SESSION_SECONDS", DEFAULT_MAX_SESSION_SECONDS)


def preview_regroup(deployment: Deployment, gap_seconds: int | None = None, keying: str | None = None) -> dict:
    """Sessions now and after a regroup with `gap_seconds` and `keying` (defaults: the station's own).

    Returns `{gap_seconds, keying, max_session_seconds, sessions_before, sessions_after,
    longest_session_seconds, sessions_merged, sessions_split, sessions_capped,
    single_capture_sessions, captures_grouped}`:
    sessions_merged — current sessions that would share a session with another current one;
    sessions_split — current sessions whose captures would spread over two or more sessions;
    sessions_capped — sessions that would end at the maximum duration rather than at a gap
    (the next capture follows within the gap); single_capture_sessions — sessions of one capture.
    `longest_session_seconds` is 0 for a station without timestamped captures.
    """
    # The same defaults (and fallbacks for bad stored values) as the regroup itself.
    rule = deployment.grouping_rule
    gap_seconds = rule.gap_seconds if gap_seconds is None else gap_seconds
    keying = rule.keying if keying is None else keying
    cap = max_session_seconds()
    cache = app_cache("preview", CACHE_BYTES, _weight)
    station = fingerprint(deployment)
    key = (*station, gap_seconds, keying, cap)
    proposed = cache.get(key)
    if proposed is None:
        proposed = _proposed(station_times(deployment), gap_seconds, keying, cap)
        # Previews of this station's earlier captures can never be asked for again.
        cache.put(key, proposed, replaces=lambda k: k[0] == station[0] and k[: len(station)] != station)
    spans, stats = proposed
    current = _current_spans(deployment.id)
    merged, split = _compare(spans.tolist(), current[0])
    return {
        "gap_seconds": gap_seconds,
        "keying": keying,
        "max_session_seconds": cap,
        "sessions_before": len(current[1]),
        **stats,
        "sessions_merged": merged,
        "sessions_split": split,
    }


def preview_project(project, gap_seconds: int, keying: str) -> tuple[list[tuple[Deployment, dict]], int]:
    """(station, preview) for the project's first PROJECT_PREVIEW_STATIONS stations with a proposed project rule,
    and how many stations were left out. A station's own gap still wins over the proposed one."""
    query = db.select(Deployment).where(Deployment.project_id == project.id).order_by(Deployment.name, Deployment.id)
    stations = list(db.session.scalars(query.limit(PROJECT_PREVIEW_STATIONS + 1)))
    more = 0
    if len(stations) > PROJECT_PREVIEW_STATIONS:
        stations = stations[:PROJECT_PREVIEW_STATIONS]
        more = db.session.scalar(db.select(db.func.count()).select_from(query.order_by(None).subquery())) - len(stations)
    rows = []
    for deployment in stations:
        own = deployment.session_time_gap_seconds
        rows.append((deployment, preview_regroup(deployment, own if own and own > 0 else gap_seconds, keying)))
    return rows, more


def _weight(proposed: tuple[np.ndarray, dict]) -> int:
    """A cached preview's bytes: its spans' array and a little for the numbers beside it."""
    return proposed[0].nbytes + 512


def _proposed(times, gap_seconds: int, keying: str, cap: int) -> tuple[np.ndarray, dict]:
    """The proposed sessions' spans (µs, an n × 2 int64 array: 16 bytes a session, where a list of
    tuples would take ten times that) and the numbers that need no current session."""
    spans = group_spans(times.values, gap_seconds, keying, cap)
    starts, ends = spans.start, spans.end
    gap_us = round(gap_seconds * US)
    # A session that the next capture follows within the gap was ended by the cap.
    capped = int(np.count_nonzero(starts[1:] - ends[:-1] < gap_us)) if len(spans) else 0
    return np.column_stack((starts, ends)).astype(np.int64, copy=False), {
        "sessions_after": len(spans),
        "longest_session_seconds": int((ends - starts).max()) // US if len(spans) else 0,
        "sessions_capped": capped,
        "single_capture_sessions": int(np.count_nonzero(spans.counts == 1)),
        "captures_grouped": len(times),
    }


def _current_spans(deployment_id: int) -> tuple[list[tuple[int, int]], list]:
    """The station's current session spans in µs, ordered by start, and every session row's id."""
    rows = db.session.execute(
        db.select(Event.id, Event.start, Event.end)
        .where(Event.deployment_id == deployment_id)
        .order_by(Event.start.asc().nulls_last(), Event.id)
    ).all()
    spans = [(to_microseconds(start), to_microseconds(end)) for _, start, end in rows if start is not None and end is not None]
    return spans, [row.id for row in rows]


def _compare(proposed: list[tuple[int, int]], current: list[tuple[int, int]]) -> tuple[int, int]:
    """(current sessions merged with another, current sessions split) between two ordered span lists."""
    per_proposed = [0] * len(proposed)
    per_current = [0] * len(current)
    pairs = []
    i = j = 0
    while i < len(proposed) and j < len(current):
        p_start, p_end = proposed[i]
        c_start, c_end = current[j]
        if p_end < c_start:
            i += 1
        elif c_end < p_start:
            j += 1
        else:
            pairs.append((i, j))
            per_proposed[i] += 1
            per_current[j] += 1
            if p_end <= c_end:
                i += 1
            if c_end <= p_end:
                j += 1
    merged = {j for i, j in pairs if per_proposed[i] > 1}
    split = sum(1 for n in per_current if n > 1)
    return len(merged), split
