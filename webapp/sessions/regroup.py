"""Regroup one station's captures into sessions.

A session is a span `[start, end]` of one station; spans never overlap, so a
capture's session is the one whose span holds its timestamp and no capture row
is ever written. A pass has four steps:

1. read — one ordered read of the station's timestamps (sessions/timestamps.py);
2. plan — the pure grouping (`grouping.group_spans`), then a diff against the
   stored sessions: a stored session keeps its id when a new session covers
   most of its captures, the others are deleted, the rest of the new sessions
   are created;
3. apply — only the session rows that differ, and the station's cached counts
   when they differ, in one short transaction (on SQLite it takes the write
   lock, BEGIN IMMEDIATE, only for this step). A regroup that changes nothing
   writes no row at all;
4. report — the station's health problems (sessions/health.py, found in the
   same timestamps and sessions, stored only when they changed), the stage params, one log line, a WARNING when the station's
   schedule has a regular off-window within ±10 % of the gap (gaps.schedule_fit),
   and, once the regroup's passes are done, its history row (sessions/history.py).

Anything that raises before the commit rolls the pass back: the previous
sessions stay exactly as they were.

Concurrency: a pass runs under the station's lock (jobs/locks.py). A
regroup that finds the lock held does nothing but log a WARNING. So that no
capture is left outside every session, the owner re-checks after releasing
the lock: captures are only ever added by `sources.insert_captures`, which
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
The rule is checked the same way: the station's own gap and its project's gap
and keying are read with the counter, so a rule changed during a pass (whose
own regroup found the lock held and did nothing) is applied by one more pass.
"""
import logging
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from ..config import DEFAULT_MAX_SESSION_SECONDS
from ..extensions import db
from ..gaps import schedule_fit
from ..grouping import SessionSpans, group_spans
from ..jobs import locks
from ..models import Deployment, Event, Project
from . import history, night_counts, station_health
from .regroup_plan import _Plan, _plan, _stored_sessions
from .rule import applied_rule, lock_key
from .station_times import StationTimes

log = logging.getLogger(__name__)

REGROUP_PARAMS = (
    "Captures grouped",
    "Events created",
    "Events touched",
    "Empty events deleted",
    "Duplicate timestamps",
    "Ungrouped captures",
    "Captures missing timestamp",
)
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


def check_lock_settings(config) -> None:
    """Refuse to start when a station's regroup lock could expire while its job still runs.

    A job is stopped at JOB_TIME_LIMIT_SECONDS; a lock that lived less long
    would let a second regroup of the same station start beside the first.
    """
    ttl = config.get("REGROUP_LOCK_TTL_SECONDS", DEFAULT_LOCK_TTL_SECONDS)
    limit = config["JOB_TIME_LIMIT_SECONDS"]
    if ttl <= limit:
        raise ValueError(
            f"REGROUP_LOCK_TTL_SECONDS ({ttl}) must be longer than JOB_TIME_LIMIT_SECONDS ({limit}): "
            "a regroup's lock must outlive its job."
        )


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
    """Passes under the lock until neither captures nor the rule changed during the last one (see the
    module docstring): a gap or keying changed mid-pass, whose own regroup found the lock held and did
    nothing, is applied by this one."""
    deployment_id = deployment.id
    key = lock_key(deployment_id)
    result = RegroupResult()
    created = deleted = 0
    try:
        while True:
            state = station_state(deployment_id)
            stats, write_seconds = _regroup_pass(deployment, logger, job, stage_key, version=state[0])
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
            now = station_state(deployment_id)
            if now == state:
                break
            what = "Captures were added" if now[0] != state[0] else "The station's session rule changed"
            token = locks.acquire(key, ttl, owner)
            if token is None:
                logger.info("%s during this regroup; the regroup now holding the lock includes them.", what)
                stats["Ungrouped captures"] = _count_ungrouped(deployment_id)
                break
            logger.info("%s during this regroup; making one more pass.", what)
            # The next pass reads the station and its project again, rule included.
            db.session.expire_all()
    finally:
        if token is not None:
            locks.release(key, token)
    result.stats = {**stats, "Events created": created, "Empty events deleted": deleted}
    return result


def captures_version(deployment_id: int) -> int:
    """The station's committed captures counter, read on a connection of its own."""
    return station_state(deployment_id)[0]


def station_state(deployment_id: int) -> tuple:
    """What a pass depends on, as committed, read on a connection of its own: the captures counter,
    the station's own gap, and its project's gap and keying. A pass is settled when this did not move."""
    project = Project.__table__
    query = (
        select(_deployment.c.captures_version, _deployment.c.session_time_gap_seconds,
               project.c.session_time_gap_seconds, project.c.session_keying)
        .select_from(_deployment.outerjoin(project, project.c.id == _deployment.c.project_id))
        .where(_deployment.c.id == deployment_id)
    )
    with db.engine.connect() as conn:
        row = conn.execute(query).first()
    return (row[0] or 0, *row[1:]) if row is not None else (0, None, None, None)


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


def _regroup_pass(deployment: Deployment, logger: logging.Logger, job, stage_key: str,
                  version: int) -> tuple[dict[str, int], float]:
    """One read, plan, apply and report; returns the stats and the write transaction's duration.

    `version` is the station's captures counter as read before the timestamps: the night counts
    are stored with it (sessions/night_counts.py)."""
    rule = applied_rule(deployment, logger)
    cap = int(current_app.config.get("MAX_SESSION_SECONDS", DEFAULT_MAX_SESSION_SECONDS))
    try:
        timestamps = _read(deployment, job, stage_key)
        spans = group_spans(timestamps.values, rule.gap_seconds, rule.keying, cap, samples=DUPLICATE_SAMPLES)
        _progress(job, stage_key, 0.6)
        if job is not None:
            job.check_cancelled()
        # From the same read and cut, no second pass over the captures: the station's health
        # (sessions/health.py) and captures per night, written with its counts only where they changed.
        derived = {
            **station_health.changes(deployment.id, station_health.check_regrouped(deployment, timestamps.values, spans)),
            **night_counts.changes(deployment.id, night_counts.count_nights(timestamps.values), version),
        }
        plan, write_seconds = _plan_and_apply(deployment, timestamps, spans, rule, cap, derived)
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


# -- plan --------------------------------------------------------------------------


# -- apply -------------------------------------------------------------------------


def _plan_and_apply(deployment: Deployment, timestamps, spans: SessionSpans, rule, cap: int,
                    derived: dict) -> tuple[_Plan, float]:
    """Plan against the stored sessions, then write the plan in one short transaction; returns it and its duration.

    The plan is made before the write begins: only the station's lock holder
    writes its sessions, so they cannot change in between. `derived` (station
    columns found from the same read: health, night counts) joins the plan's
    one update of the station row.
    """
    session = db.session
    plan = _plan(deployment, _stored_sessions(deployment.id), timestamps, spans, rule, cap)
    plan.station = {**plan.station, **derived}
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

