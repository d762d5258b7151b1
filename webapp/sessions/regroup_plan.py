"""A regroup's plan: the stored sessions matched to the new spans, and the rows to write.

A session keeps its id where most of its captures go; keys that move between
kept sessions are parked first (see `_plan`).
"""
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select

from ..extensions import db
from ..grouping import SessionSpans, from_microseconds, to_microseconds
from ..models import Deployment, Event, utcnow

_event = Event.__table__


@dataclass(frozen=True)
class _Stored:
    id: int
    group_by: str
    start: int | None  # µs since 1970
    end: int | None
    count: int
    values: tuple  # every column a regroup may write, to compare with the plan


@dataclass
class _Plan:
    """The rows a pass writes: deletions, updates of kept sessions (by id), inserts."""

    delete_ids: list[int] = field(default_factory=list)
    updates: dict[int, dict] = field(default_factory=dict)
    rekeyed: list[int] = field(default_factory=list)
    inserts: list[dict] = field(default_factory=list)
    touched: int = 0
    station: dict = field(default_factory=dict)

    @property
    def writes(self) -> bool:
        return bool(self.delete_ids or self.updates or self.inserts or self.station)


def _stored_sessions(deployment_id: int) -> list[_Stored]:
    rows = db.session.execute(
        select(
            _event.c.id, _event.c.group_by, _event.c.start_time, _event.c.end_time, _event.c.captures_count,
            _event.c.project_id, _event.c.gap_seconds, _event.c.keying, _event.c.max_session_seconds,
        )
        .where(_event.c.deployment_id == deployment_id)
        .order_by(_event.c.start_time, _event.c.id)
    )
    return [
        _Stored(
            row.id, row.group_by,
            None if row.start_time is None else to_microseconds(row.start_time),
            None if row.end_time is None else to_microseconds(row.end_time),
            row.captures_count,
            (row.group_by, row.start_time, row.end_time, row.captures_count, row.project_id,
             row.gap_seconds, row.keying, row.max_session_seconds),
        )
        for row in rows
    ]


def _matches(stored: list[_Stored], spans: SessionSpans, values: np.ndarray) -> dict[int, int]:
    """New session index → stored session id that keeps its id there.

    Each stored session is scored by how many of the station's timestamps
    inside its old span each new session holds; pairs are taken best first, so
    a session keeps its id where most of its captures went, and a new session
    takes the id of the stored one it holds most of.
    """
    pairs = []
    starts, ends = spans.start, spans.end
    for old in stored:
        if old.start is None or old.end is None:
            continue
        low = int(np.searchsorted(ends, old.start, side="left"))
        high = int(np.searchsorted(starts, old.end, side="right"))
        for index in range(low, high):
            first = max(old.start, int(starts[index]))
            last = min(old.end, int(ends[index]))
            if first > last:
                continue
            overlap = int(np.searchsorted(values, last, side="right") - np.searchsorted(values, first, side="left"))
            if overlap:
                pairs.append((-overlap, old.id, index))
    pairs.sort()
    taken_old: set[int] = set()
    matched: dict[int, int] = {}
    for _, old_id, index in pairs:
        if old_id in taken_old or index in matched:
            continue
        taken_old.add(old_id)
        matched[index] = old_id
    return matched


def _plan(deployment: Deployment, stored: list[_Stored], timestamps, spans: SessionSpans, rule, cap: int) -> _Plan:
    plan = _Plan()
    matched = _matches(stored, spans, timestamps.values)
    by_id = {old.id: old for old in stored}
    kept = set(matched.values())
    plan.delete_ids = [old.id for old in stored if old.id not in kept]
    rule_values = {"gap_seconds": rule.gap_seconds, "keying": rule.keying, "max_session_seconds": cap}
    for index, group_by in enumerate(spans.group_by):
        start, end, count = int(spans.start[index]), int(spans.end[index]), int(spans.counts[index])
        row = {
            "group_by": group_by,
            "start_time": from_microseconds(start),
            "end_time": from_microseconds(end),
            "captures_count": count,
            "project_id": deployment.project_id,
            **rule_values,
        }
        old_id = matched.get(index)
        if old_id is None:
            plan.inserts.append({"deployment_id": deployment.id, **row})
            plan.touched += 1
            continue
        old = by_id[old_id]
        if (old.start, old.end, old.count) != (start, end, count):
            plan.touched += 1
        if old.values != tuple(row.values()):
            plan.updates[old_id] = row
            if old.group_by != group_by:
                plan.rekeyed.append(old_id)
    plan.station = _station_changes(deployment, timestamps, spans, rule)
    return plan


def _station_changes(deployment: Deployment, timestamps, spans: SessionSpans, rule) -> dict:
    values = timestamps.values
    wanted = {
        "captures_count": len(values) + timestamps.missing,
        "events_count": len(spans),
        "first_capture_timestamp": from_microseconds(values[0]) if len(values) else None,
        "last_capture_timestamp": from_microseconds(values[-1]) if len(values) else None,
        "grouped_gap_seconds": rule.gap_seconds,
        "grouped_keying": rule.keying,
    }
    changes = {name: value for name, value in wanted.items() if getattr(deployment, name) != value}
    if changes or deployment.last_regrouped_at is None:
        changes["last_regrouped_at"] = utcnow()
    return changes
