"""Regroup one station's captures into sessions.

A session is a span `[start, end]` of one station; spans never overlap, so a
capture's session is the one whose span holds its timestamp and no capture row
is ever written. A pass has four steps:

1. read — one ordered read of the station's timestamps (services/timestamps.py);
2. plan — the pure grouping (`grouping.group_spans`), then a diff against the
   stored sessions: a stored session keeps its id when a new session covers
   most of its captures, the others are deleted, the rest of the new sessions
   are created;
3. apply — only the session rows that differ, and the station's cached counts
   when they differ, in one short transaction (on SQLite it takes the write
   lock, BEGIN IMMEDIATE, only for this step). A regroup that changes nothing
   writes no row at all;
4. report — the stage params, one log line, a WARNING when the station's
   schedule has a regular off-window within ±10 % of the gap (gaps.schedule_fit),
   and, once the regroup's passes are done, its history row (services/history.py).

Anything that raises before the commit rolls the pass back: the previous
sessions stay exactly as they were.

Concurrency: a pass runs under the station's lock (services/locks.py). A
regroup that finds the lock held does nothing but log a WARNING. So that no
capture is left outside every session, the owner re-checks after releasing
the lock: captures are only ever added by `captures.insert_captures`, which
bumps `deployment.captures_version` in the same transaction. The owner reads
that counter before its timestamps and again after its release; if it moved,
it takes the lock again and makes another pass — or, if someone else took the
lock meanwhile, stops: that holder read the counter after our release, so its
read includes every capture committed before it, and it makes the same check
when it lets go. The counter is read after the release because a sync that
commits captures and then finds the lock held may do so at any moment until
the release. A counter rather than
`max(capture.id)`: on PostgreSQL ids are handed out at insert time but become
visible at commit, in any order, so a smaller id can appear after a larger one
was read; the counter's row is updated under a row lock in the inserting
transaction and becomes visible with its captures, never apart from them.
"""
import logging
import time
from dataclasses import dataclass, field

import numpy as np
from flask import current_app
from sqlalchemy import select

from ..config import DEFAULT_MAX_SESSION_SECONDS
from ..extensions import db
from ..gaps import schedule_fit
from ..grouping import SessionSpans, from_microseconds, group_spans, to_microseconds
from ..models import Deployment, Event, GroupingRule, utcnow
from . import history, locks
from .jobs import REGROUP_PARAMS
from .station_times import StationTimes

log = logging.getLogger(__name__)

DEFAULT_LOCK_TTL_SECONDS = 660
DUPLICATE_SAMPLES = 20
CANCEL_CHECK_SECONDS = 0.5

_event = Event.__table__
_deployment = Deployment.__table__


@dataclass
class RegroupResult:
    """What a regroup did: the stage params by name (REGROUP_PARAMS order), whether it was skipped,
    how many passes it made and its longest write transaction in seconds."""

    stats: dict[str, int] = field(default_factory=lambda: {name: 0 for name in REGROUP_PARAMS})
    skipped: bool = False
    passes: int = 0
    longest_write_seconds: float = 0.0


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


def lock_key(deployment_id: int) -> str:
    """The name of a station's regroup lock."""
    return f"regroup:deployment:{deployment_id}"


def applied_rule(deployment: Deployment, logger: logging.Logger | None = None) -> GroupingRule:
    """The station's grouping rule (Deployment.grouping_rule), logging a WARNING for each fallback."""
    logger = logger or log
    rule = deployment.grouping_rule
    if rule.gap_fell_back:
        owner = f"station {deployment.id}" if deployment.session_time_gap_seconds is not None else f"project {deployment.project_id}"
        logger.warning(
            "Session gap %s of %s is not a positive number of seconds; using %d s.",
            rule.configured_gap, owner, rule.gap_seconds,
        )
    if rule.keying_fell_back:
        logger.warning(
            "Session keying %r of project %s is unknown; using %r.", rule.configured_keying, deployment.project_id, rule.keying
        )
    return rule


def regroup_deployment(deployment: Deployment, job=None, stage_key: str = "regroup_events") -> RegroupResult:
    """Regroup a station's captures into sessions, under the station's lock.

    `job` is a JobRecorder (optional): logs go to its logger, stage status,
    progress and params to `stage_key`. Pending changes of `db.session` are
    committed first; each pass commits its own short write.

    Stats (`RegroupResult.stats`, keyed by REGROUP_PARAMS names):
    Captures grouped — timestamped captures inside the new spans; Events
    created — sessions inserted; Events touched — sessions whose span or count
    changed (created ones included); Empty events deleted — stored sessions
    that no new session continues; Duplicate timestamps — distinct timestamps
    shared by two or more captures; Ungrouped captures — timestamped captures
    outside every span when the regroup ends (0 after a complete pass);
    Captures missing timestamp — captures that belong to no session for lack
    of a time. With several passes the stats are the last pass's, except
    Events created and Empty events deleted, which are summed.

    If another process holds the lock, no work is done: a WARNING containing
    "another regroup is in progress" is logged and the result has
    skipped=True and zero stats. The holder groups whatever this caller's
    sync committed before (see the module docstring).
    """
    logger = job.logger if job is not None else log
    db.session.commit()
    deployment_id = deployment.id
    key = lock_key(deployment_id)
    ttl = current_app.config.get("REGROUP_LOCK_TTL_SECONDS", DEFAULT_LOCK_TTL_SECONDS)
    owner = locks.default_owner(f"job {job.job_id}" if job is not None else "regroup")
    if job is not None:
        job.set_stage(stage_key, status="STARTED", progress=0.0)

    # Counted before the lock and its read closed at once: a read left open in
    # this session while the passes run would hold SQLite's snapshot and keep a
    # concurrent regroup from seeing the lock it must skip on.
    sessions_before = history.sessions_count(deployment_id)
    db.session.commit()
    token = locks.acquire(key, ttl, owner)
    if token is None:
        return _report_skipped(deployment, logger, job, stage_key)
    result = _passes_until_settled(deployment, token, owner, ttl, logger, job, stage_key)
    history.record_regroup(
        deployment, job.job_id if job is not None else None, sessions_before,
        int(current_app.config.get("MAX_SESSION_SECONDS", DEFAULT_MAX_SESSION_SECONDS)),
    )
    if job is not None:
        job.set_params(stage_key, result.stats)
        job.set_stage(stage_key, status="SUCCESS", progress=1.0)
    return result


def _passes_until_settled(deployment, token, owner, ttl, logger, job, stage_key) -> RegroupResult:
    """Passes under the lock until no capture arrived during the last one (see the module docstring)."""
    deployment_id = deployment.id
    key = lock_key(deployment_id)
    result = RegroupResult()
    created = deleted = 0
    try:
        while True:
            version = captures_version(deployment_id)
            stats, write_seconds = _regroup_pass(deployment, logger, job, stage_key)
            created += stats["Events created"]
            deleted += stats["Empty events deleted"]
            result.passes += 1
            result.longest_write_seconds = max(result.longest_write_seconds, write_seconds)
            released, token = locks.release(key, token), None
            if not released:
                logger.warning(
                    "The regroup lock of deployment %s expired during the regroup and was taken by another worker.",
                    deployment_id,
                )
            if captures_version(deployment_id) == version:
                break
            token = locks.acquire(key, ttl, owner)
            if token is None:
                logger.info("Captures were added during this regroup; the regroup now holding the lock includes them.")
                stats["Ungrouped captures"] = _count_ungrouped(deployment_id)
                break
            logger.info("Captures were added during this regroup; making one more pass.")
    finally:
        if token is not None:
            locks.release(key, token)
    result.stats = {**stats, "Events created": created, "Empty events deleted": deleted}
    return result


def captures_version(deployment_id: int) -> int:
    """The station's committed captures counter, read on a connection of its own."""
    with db.engine.connect() as conn:
        return conn.execute(select(_deployment.c.captures_version).where(_deployment.c.id == deployment_id)).scalar() or 0


def _count_ungrouped(deployment_id: int) -> int:
    from .capture_listing import count_outside_sessions

    return count_outside_sessions(deployment_id)


def _report_skipped(deployment: Deployment, logger, job, stage_key: str) -> RegroupResult:
    logger.warning(
        "regroup skipped for deployment %s: another regroup is in progress. "
        "It checks for captures added meanwhile before it ends, and groups them.",
        deployment.id,
    )
    db.session.expire(deployment)
    result = RegroupResult(skipped=True)
    if job is not None:
        job.set_params(stage_key, result.stats)
        job.set_stage(stage_key, status="SUCCESS", progress=1.0)
    return result


def _regroup_pass(deployment: Deployment, logger: logging.Logger, job, stage_key: str) -> tuple[dict[str, int], float]:
    """One read, plan, apply and report; returns the stats and the write transaction's duration."""
    rule = applied_rule(deployment, logger)
    cap = int(current_app.config.get("MAX_SESSION_SECONDS", DEFAULT_MAX_SESSION_SECONDS))
    try:
        timestamps = _read(deployment, job, stage_key)
        spans = group_spans(timestamps.values, rule.gap_seconds, rule.keying, cap, samples=DUPLICATE_SAMPLES)
        _progress(job, stage_key, 0.6)
        if job is not None:
            job.check_cancelled()
        plan, write_seconds = _plan_and_apply(deployment, timestamps, spans, rule, cap)
    except BaseException:
        db.session.rollback()
        raise
    stats = _report(deployment, logger, rule, timestamps, spans, plan, write_seconds)
    _progress(job, stage_key, 0.95)
    return stats, write_seconds


# -- read ------------------------------------------------------------------------


def _read(deployment: Deployment, job, stage_key: str):
    from .timestamps import read_timestamps

    last_check = time.monotonic()

    def tick() -> None:
        nonlocal last_check
        if job is not None and time.monotonic() - last_check >= CANCEL_CHECK_SECONDS:
            last_check = time.monotonic()
            job.check_cancelled()

    timestamps = read_timestamps(deployment.id, tick, expected_rows=deployment.captures_count or 0)
    _progress(job, stage_key, 0.5)
    return timestamps


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


# -- plan --------------------------------------------------------------------------


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


# -- apply -------------------------------------------------------------------------


def _plan_and_apply(deployment: Deployment, timestamps, spans: SessionSpans, rule, cap: int) -> tuple[_Plan, float]:
    """Plan against the stored sessions, then write the plan in one short transaction; returns it and its duration.

    The plan is made before the write begins: only the station's lock holder
    writes its sessions, so they cannot change in between.
    """
    session = db.session
    plan = _plan(deployment, _stored_sessions(deployment.id), timestamps, spans, rule, cap)
    if not plan.writes:
        session.rollback()
        return plan, 0.0
    began = time.perf_counter()
    _begin_write(session.connection())
    _apply(deployment, plan)
    session.commit()
    return plan, time.perf_counter() - began


def _begin_write(connection) -> None:
    """On SQLite take the write lock at the start of the write, so it is held for the write alone.

    pysqlite would begin only at the first DML statement, in deferred mode,
    which can fail instead of waiting when another writer commits first.
    """
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.driver_connection
    if not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


def _apply(deployment: Deployment, plan: _Plan) -> None:
    session = db.session
    if plan.delete_ids:
        session.execute(_event.delete().where(_event.c.id.in_(plan.delete_ids)))
    if plan.rekeyed:
        # Kept sessions may trade keys (unique per station): park the moving
        # ones on keys no session can have before giving them their new ones.
        session.execute(
            _event.update().where(_event.c.id.in_(plan.rekeyed)).values(group_by="~" + db.cast(_event.c.id, db.String))
        )
    for event_id, row in plan.updates.items():
        session.execute(_event.update().where(_event.c.id == event_id).values(**row))
    if plan.inserts:
        session.execute(_event.insert(), plan.inserts)
    if plan.station:
        session.execute(_deployment.update().where(_deployment.c.id == deployment.id).values(**plan.station))


# -- report ------------------------------------------------------------------------


def _report(deployment, logger, rule, timestamps, spans: SessionSpans, plan: _Plan, write_seconds: float) -> dict[str, int]:
    db.session.expire(deployment)
    if spans.duplicates:
        logger.warning(
            "%d timestamps are shared by two or more captures (all are grouped); examples: %s",
            spans.duplicates,
            ", ".join(str(sample) for sample in spans.duplicate_samples),
        )
    grouped = len(timestamps.values)
    fit = schedule_fit(StationTimes(timestamps.values).long_gaps_seconds(), rule.gap_seconds)
    if fit is not None:
        logger.warning(fit.message())
    logger.info(
        "Regrouped deployment %s with a %d s gap and %s keying: %d captures in %d sessions "
        "(%d created, %d updated, %d deleted; write %.0f ms).",
        deployment.id, rule.gap_seconds, rule.keying, grouped, len(spans),
        len(plan.inserts), len(plan.updates), len(plan.delete_ids), write_seconds * 1000,
    )
    return dict(
        zip(
            REGROUP_PARAMS,
            (grouped, len(plan.inserts), plan.touched, len(plan.delete_ids), spans.duplicates, 0, timestamps.missing),
        )
    )


def _progress(job, stage_key: str, value: float) -> None:
    if job is not None:
        job.set_stage(stage_key, progress=value)

