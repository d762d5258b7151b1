"""Regroup one station's captures into sessions.

A pass is a handful of set-based statements in one transaction:

1. read the station's capture timestamps once, in order, with each capture's
   current session (raw DB-API cursor: the hot read), cutting runs on the fly;
2. create the sessions whose key is new (INSERT … ON CONFLICT DO NOTHING);
3. move captures to their run's session with one prepared range UPDATE per run,
   executed as one batch, and only for runs where some capture's session
   differs; those UPDATEs skip rows that already point to the right session;
4. recompute start, end and captures_count, in one statement, for the sessions
   whose captures changed or whose stored values differ from what the read
   implies; delete the station's sessions left without captures;
5. refresh the station's cached counts and record the settings it was grouped
   with.

A regroup that changes nothing therefore writes no capture or session row.
Anything that raises rolls the whole pass back: the previous grouping stays.

Concurrency: a pass runs under the station's lock (services/locks.py). A caller
that cannot take it marks the lock and does nothing; the owner cannot let go
of a marked lock without one more pass, so captures a concurrent sync added
are never left ungrouped.
"""
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, func, select, text

from ..config import DEFAULT_MAX_SESSION_SECONDS, DEFAULT_SESSION_GAP_SECONDS
from ..extensions import db
from ..grouping import DEFAULT_KEYING, GROUP_BY_MAX_LENGTH, KEYINGS, RunCutter, session_key
from ..models import Capture, Deployment, Event, utcnow
from . import locks
from .captures import refresh_deployment_stats
from .jobs import REGROUP_PARAMS
from .sql import insert_ignoring_conflicts

log = logging.getLogger(__name__)

DEFAULT_LOCK_TTL_SECONDS = 660
DUPLICATE_SAMPLES = 20
# How long a skipped regroup waits to mark the owner's lock, and between tries.
MARK_WAIT_MS = 200
MARK_RETRY_SECONDS = 0.2
RECOMPUTE_CHUNK = 5000
PG_FETCH_ROWS = 20000

_capture = Capture.__table__
_event = Event.__table__
_deployment = Deployment.__table__

# Recompute a session from its captures; the row-value form is understood by
# SQLite (>= 3.15) and PostgreSQL alike and reads each session's captures once.
_RECOMPUTE = text(
    "UPDATE event SET (start_time, end_time, captures_count) = "
    "(SELECT MIN(capture.timestamp), MAX(capture.timestamp), COUNT(*) "
    "FROM capture WHERE capture.event_id = event.id) "
    "WHERE event.deployment_id = :deployment_id AND event.id IN :ids"
).bindparams(bindparam("ids", expanding=True))

_DELETE_EMPTY = text(
    "DELETE FROM event WHERE event.deployment_id = :deployment_id "
    "AND NOT EXISTS (SELECT 1 FROM capture WHERE capture.event_id = event.id)"
)

_READ_SQL = (
    "SELECT timestamp, event_id FROM capture "
    "WHERE deployment_id = {p} AND timestamp IS NOT NULL ORDER BY timestamp"
)
# Both comparisons are on the indexed (deployment_id, timestamp) pair with the
# value as read from the column, so the plan is an index range search per run.
_ASSIGN_SQL = {
    "sqlite": "UPDATE capture SET event_id = ? WHERE deployment_id = ? "
    "AND timestamp >= ? AND timestamp <= ? AND event_id IS NOT ?",
    "postgresql": "UPDATE capture SET event_id = %s WHERE deployment_id = %s "
    "AND timestamp >= %s AND timestamp <= %s AND event_id IS DISTINCT FROM %s",
}


@dataclass
class RegroupResult:
    """What a regroup did: the stage params by name (REGROUP_PARAMS order), and whether it was skipped."""

    stats: dict[str, int] = field(default_factory=lambda: {name: 0 for name in REGROUP_PARAMS})
    skipped: bool = False
    passes: int = 0


@dataclass
class _RunRecord:
    first: object  # timestamp as the driver returned it (bound back unchanged)
    last: object
    start: datetime
    end: datetime
    rows: int
    event_ids: set


def lock_key(deployment_id: int) -> str:
    """The name of a station's regroup lock."""
    return f"regroup:deployment:{deployment_id}"


def effective_gap_seconds(deployment: Deployment, logger: logging.Logger | None = None) -> int:
    """The station's gap, else its project's; a missing or non-positive value → 7200 s, with a warning."""
    logger = logger or log
    if deployment.session_time_gap_seconds is not None:
        value, source = deployment.session_time_gap_seconds, f"station {deployment.id}"
    elif deployment.project is not None:
        value, source = deployment.project.session_time_gap_seconds, f"project {deployment.project_id}"
    else:
        value, source = None, f"station {deployment.id} (no project)"
    if value is None or value <= 0:
        logger.warning(
            "Session gap %r of %s is not a positive number of seconds; using the default %d s.",
            value,
            source,
            DEFAULT_SESSION_GAP_SECONDS,
        )
        return DEFAULT_SESSION_GAP_SECONDS
    return int(value)


def effective_keying(deployment: Deployment, logger: logging.Logger | None = None) -> str:
    """The project's session keying; an unknown value → "date", with a warning."""
    logger = logger or log
    keying = deployment.project.session_keying if deployment.project is not None else DEFAULT_KEYING
    if keying not in KEYINGS:
        logger.warning(
            "Session keying %r of project %s is unknown; using %r.", keying, deployment.project_id, DEFAULT_KEYING
        )
        return DEFAULT_KEYING
    return keying


def regroup_deployment(deployment: Deployment, job=None, stage_key: str = "regroup_events") -> RegroupResult:
    """Regroup a station's captures into sessions, under the station's lock.

    `job` is a JobRecorder (optional): logs go to its logger, stage status,
    progress and params to `stage_key`. Pending changes of `db.session` are
    committed first (on SQLite the lock's own connection could not write while
    this session holds uncommitted writes); the regroup then commits its own
    transaction.

    Stats (`RegroupResult.stats`, keyed by REGROUP_PARAMS names):
    Captures grouped — the station's captures with a timestamp, each now in a
    session; Events created — sessions inserted by this regroup; Events
    touched — sessions holding the station's captures after the regroup
    (created or kept, written or not, as the reference counts them); Empty
    events deleted — the station's sessions deleted for having no capture;
    Duplicate timestamps — distinct timestamps shared by two or more captures;
    Ungrouped captures — captures with a timestamp still without a session
    after the regroup (0 unless something wrote concurrently); Captures
    missing timestamp — captures that belong to no session for lack of a time.
    With several passes (see below) the stats are the last pass's, except
    Events created and Empty events deleted, which are summed.

    If another process holds the lock, no work is done: a WARNING "regroup
    skipped … another regroup is in progress." is logged, the owner is asked
    for one more pass (see _acquire_or_mark) and the result has skipped=True
    and zero stats.
    """
    logger = job.logger if job is not None else log
    db.session.commit()
    deployment_id = deployment.id
    key = lock_key(deployment_id)
    ttl = current_app.config.get("REGROUP_LOCK_TTL_SECONDS", DEFAULT_LOCK_TTL_SECONDS)
    owner = locks.default_owner(f"job {job.job_id}" if job is not None else "regroup")
    if job is not None:
        job.set_stage(stage_key, status="STARTED", progress=0.0)

    token = _acquire_or_mark(key, ttl, owner)
    if token is None:
        logger.warning(
            "regroup skipped for deployment %s: another regroup is in progress. "
            "It will include this station's latest captures.",
            deployment_id,
        )
        db.session.expire(deployment)
        result = RegroupResult(skipped=True)
        if job is not None:
            job.set_params(stage_key, result.stats)
            job.set_stage(stage_key, status="SUCCESS", progress=1.0)
        return result

    result = RegroupResult()
    created = deleted = 0
    try:
        while True:
            locks.take_mark(key, token)
            if job is not None:
                job.check_cancelled()
            stats = _regroup_pass(deployment, logger, job, stage_key, token)
            created += stats["Events created"]
            deleted += stats["Empty events deleted"]
            result.passes += 1
            outcome = locks.release_unless_marked(key, token)
            if outcome == "marked":
                locks.extend(key, token, ttl)
                logger.info("Another regroup was asked for meanwhile; making one more pass.")
                continue
            token = None
            if outcome == "lost":
                logger.warning(
                    "The regroup lock of deployment %s expired during the regroup and was taken by another worker.",
                    deployment_id,
                )
            break
    finally:
        if token is not None:
            if locks.take_mark(key, token):
                logger.error(
                    "A regroup of deployment %s that was skipped while this one ran is not done either; "
                    "regroup the station again.",
                    deployment_id,
                )
            locks.release(key, token)

    result.stats = {**stats, "Events created": created, "Empty events deleted": deleted}
    if job is not None:
        job.set_params(stage_key, result.stats)
        job.set_stage(stage_key, status="SUCCESS", progress=1.0)
    return result


def _acquire_or_mark(key: str, ttl: float, owner: str) -> str | None:
    """Our lock token, or None once the lock's owner is sure to include our captures.

    Usually that is a mark on the owner's lock (it then makes one more pass).
    The mark is a write, and on SQLite the owner's pass holds the database
    until it commits; while that pass is open it already includes everything
    committed so far, so no mark is needed. Otherwise the mark is retried
    with a short wait until it lands or the lock comes free.
    """
    deadline = time.monotonic() + ttl
    while time.monotonic() < deadline:
        token = locks.acquire(key, ttl, owner)
        if token is not None:
            return token
        outcome = locks.mark(key, MARK_WAIT_MS)
        if outcome == "marked":
            return None
        if outcome == "busy":
            if _is_sqlite() and _owner_pass_is_open(key):
                return None
            time.sleep(MARK_RETRY_SECONDS)
    return None


def _is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def _owner_pass_is_open(key: str) -> bool:
    lock = locks.holder(key)
    return lock is not None and lock.pass_open and lock.expires_at > utcnow()


def _begin(connection) -> None:
    """Start the pass's transaction; on SQLite take the write lock at once.

    pysqlite only begins before DML, so the reads would otherwise run outside
    the transaction, and a WAL read snapshot that a later write cannot upgrade
    would fail instead of waiting.
    """
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.driver_connection
    if not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


def _regroup_pass(deployment: Deployment, logger: logging.Logger, job, stage_key: str, token: str) -> dict[str, int]:
    session = db.session
    key = lock_key(deployment.id)
    sqlite = _is_sqlite()
    if sqlite:
        # Flagged before the pass takes SQLite's write lock and cleared in the
        # pass's own commit: see _acquire_or_mark.
        locks.set_pass_open(key, token, True)
    try:
        stats = _pass_in_transaction(session, deployment, logger, job, stage_key)
        if sqlite:
            locks.set_pass_open(key, token, False, connection=session.connection())
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return stats


def _pass_in_transaction(session, deployment, logger, job, stage_key) -> dict[str, int]:
    connection = session.connection()
    _begin(connection)
    dialect = connection.dialect.name
    deployment_id = deployment.id
    gap = effective_gap_seconds(deployment, logger)
    keying = effective_keying(deployment, logger)
    max_session = current_app.config.get("MAX_SESSION_SECONDS", DEFAULT_MAX_SESSION_SECONDS)

    stored = {
        row.group_by: row
        for row in session.execute(
            select(
                _event.c.id, _event.c.group_by, _event.c.start_time, _event.c.end_time, _event.c.captures_count,
                _event.c.project_id,
            ).where(_event.c.deployment_id == deployment_id)
        )
    }
    raw = connection.connection.driver_connection
    runs, grouped, duplicates, samples = _read_runs(raw, dialect, deployment_id, gap, max_session)
    missing = session.scalar(
        select(func.count()).select_from(_capture).where(
            _capture.c.deployment_id == deployment_id, _capture.c.timestamp.is_(None)
        )
    )
    if duplicates:
        logger.warning(
            "%d timestamps are shared by two or more captures (all are grouped); examples: %s",
            duplicates,
            ", ".join(str(sample) for sample in samples),
        )
    _progress(job, stage_key, 0.4)
    if job is not None:
        job.check_cancelled()

    # Sessions as the runs imply them: key → [start, end, captures].
    expected: dict[str, list] = {}
    run_keys = []
    for run in runs:
        group_by = session_key(run.start, keying)
        if len(group_by) > GROUP_BY_MAX_LENGTH:
            raise ValueError(f"session key {group_by!r} is longer than {GROUP_BY_MAX_LENGTH} characters")
        run_keys.append(group_by)
        aggregate = expected.get(group_by)
        if aggregate is None:
            expected[group_by] = [run.start, run.end, run.rows]
        else:
            aggregate[0] = min(aggregate[0], run.start)
            aggregate[1] = max(aggregate[1], run.end)
            aggregate[2] += run.rows

    project_id = deployment.project_id
    new_keys = [group_by for group_by in expected if group_by not in stored]
    if new_keys:
        session.execute(
            insert_ignoring_conflicts(_event, ["deployment_id", "group_by"]),
            [
                {"deployment_id": deployment_id, "project_id": project_id, "group_by": group_by, "captures_count": 0}
                for group_by in new_keys
            ],
        )
    session.execute(
        _event.update()
        .where(_event.c.deployment_id == deployment_id, _event.c.project_id.is_distinct_from(project_id))
        .values(project_id=project_id)
    )
    ids = dict(
        session.execute(select(_event.c.group_by, _event.c.id).where(_event.c.deployment_id == deployment_id)).all()
    )

    assignments = []
    touched: set[int] = set()
    for run, group_by in zip(runs, run_keys):
        event_id = ids[group_by]
        if run.event_ids != {event_id}:
            assignments.append((event_id, deployment_id, run.first, run.last, event_id))
            touched.add(event_id)
            touched.update(i for i in run.event_ids if i is not None)
    moved = 0
    if assignments:
        cursor = raw.cursor()
        try:
            cursor.executemany(_ASSIGN_SQL[dialect], assignments)
            moved = max(cursor.rowcount or 0, 0)
        finally:
            cursor.close()
    released = session.execute(
        _capture.update()
        .where(
            _capture.c.deployment_id == deployment_id,
            _capture.c.timestamp.is_(None),
            _capture.c.event_id.is_not(None),
        )
        .values(event_id=None)
    ).rowcount
    _progress(job, stage_key, 0.7)
    if job is not None:
        job.check_cancelled()

    for group_by, row in stored.items():
        want = expected.get(group_by)
        if want is None or released or (row.start_time, row.end_time, row.captures_count) != tuple(want):
            touched.add(row.id)
    touched.update(ids[group_by] for group_by in new_keys)
    touched_ids = sorted(touched)
    for start in range(0, len(touched_ids), RECOMPUTE_CHUNK):
        session.execute(_RECOMPUTE, {"deployment_id": deployment_id, "ids": touched_ids[start : start + RECOMPUTE_CHUNK]})
    deleted = session.execute(_DELETE_EMPTY, {"deployment_id": deployment_id}).rowcount
    ungrouped = session.scalar(
        select(func.count()).select_from(_capture).where(
            _capture.c.deployment_id == deployment_id,
            _capture.c.timestamp.is_not(None),
            _capture.c.event_id.is_(None),
        )
    )
    if ungrouped:
        logger.warning("%d captures with a timestamp were left without a session (added while regrouping?).", ungrouped)

    refresh_deployment_stats(deployment)
    deployment.last_regrouped_at = utcnow()
    deployment.grouped_gap_seconds = gap
    deployment.grouped_keying = keying
    session.flush()

    stats = dict(
        zip(
            REGROUP_PARAMS,
            (grouped, len(new_keys), len(expected), deleted, duplicates, ungrouped, missing),
        )
    )
    logger.info(
        "Regrouped deployment %s with a %d s gap and %s keying: %d captures in %d sessions "
        "(%d created, %d recomputed, %d deleted, %d captures moved).",
        deployment_id, gap, keying, grouped, len(expected), len(new_keys), len(touched_ids), deleted, moved,
    )
    _progress(job, stage_key, 0.95)
    return stats


def _progress(job, stage_key: str, value: float) -> None:
    if job is not None:
        job.set_stage(stage_key, progress=value)


def _read_runs(raw, dialect: str, deployment_id: int, gap: int, max_session: int):
    """Stream the station's timestamps in order once; return its runs and duplicate counts.

    Rows come from the driver's own cursor: SQLite gives timestamps as text
    (parsed once per distinct value), PostgreSQL as datetimes through a
    server-side cursor so memory stays flat.
    """
    if dialect == "postgresql":
        cursor = raw.cursor(name=f"regroup_{deployment_id}")
        cursor.itersize = PG_FETCH_ROWS
        cursor.execute(_READ_SQL.format(p="%s"), (deployment_id,))
        parse = None
    else:
        cursor = raw.cursor()
        cursor.arraysize = PG_FETCH_ROWS
        cursor.execute(_READ_SQL.format(p="?"), (deployment_id,))
        parse = datetime.fromisoformat
    cutter = RunCutter(gap, max_session)
    starts_new = cutter.starts_new
    runs: list[_RunRecord] = []
    grouped = duplicates = 0
    samples: list = []
    current = None
    previous = object()
    in_duplicate = False
    rows = 0
    event_ids: set = set()
    try:
        for value, event_id in cursor:
            if value == previous:
                rows += 1
                event_ids.add(event_id)
                if not in_duplicate:
                    in_duplicate = True
                    duplicates += 1
                    if len(samples) < DUPLICATE_SAMPLES:
                        samples.append(value)
                continue
            in_duplicate = False
            previous = value
            timestamp = parse(value) if parse is not None else value
            if starts_new(timestamp):
                if current is not None:
                    current.rows = rows
                    current.event_ids = event_ids
                    grouped += rows
                    runs.append(current)
                current = _RunRecord(value, value, timestamp, timestamp, 0, set())
                rows = 0
                event_ids = set()
            current.last = value
            current.end = timestamp
            rows += 1
            event_ids.add(event_id)
    finally:
        cursor.close()
    if current is not None:
        current.rows = rows
        current.event_ids = event_ids
        grouped += rows
        runs.append(current)
    return runs, grouped, duplicates, samples
