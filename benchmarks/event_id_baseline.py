"""The per-capture design the span regroup replaced, kept as the benchmark's baseline.

Every capture carried its session's id (`event_id`); a regroup read the
station's timestamps with their current session, inserted missing sessions,
moved captures with one range UPDATE per run whose members pointed elsewhere,
recomputed each touched session from its captures and deleted empty ones, all
in one transaction (on SQLite under the write lock for the whole pass). It
lives on tables of its own (`bl_capture`, `bl_event`), filled from the same
captures, so both designs are measured on the same data in the same run.
"""
from datetime import datetime

from webapp.grouping import RunCutter, session_key

RECOMPUTE_CHUNK = 5000

_DDL = {
    "sqlite": [
        "CREATE TABLE bl_event (id INTEGER PRIMARY KEY, deployment_id INTEGER NOT NULL, group_by VARCHAR(32) NOT NULL, "
        "start_time DATETIME, end_time DATETIME, captures_count INTEGER NOT NULL DEFAULT 0, UNIQUE (deployment_id, group_by))",
        "CREATE TABLE bl_capture (id INTEGER PRIMARY KEY, deployment_id INTEGER NOT NULL, timestamp DATETIME, "
        "event_id INTEGER REFERENCES bl_event (id) ON DELETE SET NULL)",
    ],
    "postgresql": [
        "CREATE TABLE bl_event (id SERIAL PRIMARY KEY, deployment_id INTEGER NOT NULL, group_by VARCHAR(32) NOT NULL, "
        "start_time TIMESTAMP, end_time TIMESTAMP, captures_count INTEGER NOT NULL DEFAULT 0, UNIQUE (deployment_id, group_by))",
        "CREATE TABLE bl_capture (id INTEGER PRIMARY KEY, deployment_id INTEGER NOT NULL, timestamp TIMESTAMP, "
        "event_id INTEGER REFERENCES bl_event (id) ON DELETE SET NULL)",
    ],
}
_INDEXES = [
    "CREATE INDEX ix_bl_capture_deployment_timestamp ON bl_capture (deployment_id, timestamp)",
    "CREATE INDEX ix_bl_capture_event ON bl_capture (event_id, timestamp)",
]


def create_tables(raw, dialect: str) -> None:
    """The baseline's tables, filled with a copy of `capture` (same ids, timestamps, no session yet)."""
    cursor = raw.cursor()
    for statement in _DDL[dialect]:
        cursor.execute(statement)
    cursor.execute("INSERT INTO bl_capture (id, deployment_id, timestamp) SELECT id, deployment_id, timestamp FROM capture")
    for statement in _INDEXES:
        cursor.execute(statement)
    if dialect == "postgresql":
        cursor.execute("ANALYZE bl_capture")
    raw.commit()
    cursor.close()


def reset(raw) -> None:
    """Back to ungrouped: no sessions, no capture pointing to one."""
    cursor = raw.cursor()
    cursor.execute("UPDATE bl_capture SET event_id = NULL WHERE event_id IS NOT NULL")
    cursor.execute("DELETE FROM bl_event")
    raw.commit()
    cursor.close()


def regroup(raw, dialect: str, deployment_id: int, gap: int, keying: str = "date", max_session: int = 86400) -> int:
    """One pass of the per-capture design in one transaction; returns the number of sessions."""
    p = "%s" if dialect == "postgresql" else "?"
    if dialect == "sqlite":
        raw.execute("BEGIN IMMEDIATE")
    runs = _read_runs(raw, dialect, p, deployment_id, gap, max_session)
    keys = [session_key(run[2], keying) for run in runs]
    cursor = raw.cursor()
    cursor.execute(f"SELECT group_by, id FROM bl_event WHERE deployment_id = {p}", (deployment_id,))
    ids = dict(cursor.fetchall())
    missing = sorted({key for key in keys if key not in ids})
    conflict = "ON CONFLICT (deployment_id, group_by) DO NOTHING"
    cursor.executemany(
        f"INSERT INTO bl_event (deployment_id, group_by, captures_count) VALUES ({p}, {p}, 0) {conflict}",
        [(deployment_id, key) for key in missing],
    )
    cursor.execute(f"SELECT group_by, id FROM bl_event WHERE deployment_id = {p}", (deployment_id,))
    ids = dict(cursor.fetchall())
    distinct = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
    assignments, touched = [], set()
    for (first, last, _, event_ids), key in zip(runs, keys):
        event_id = ids[key]
        if event_ids != {event_id}:
            assignments.append((event_id, deployment_id, first, last, event_id))
            touched.add(event_id)
            touched.update(i for i in event_ids if i is not None)
    cursor.executemany(
        f"UPDATE bl_capture SET event_id = {p} WHERE deployment_id = {p} AND timestamp >= {p} AND timestamp <= {p} "
        f"AND event_id {distinct} {p}",
        assignments,
    )
    touched = sorted(touched)
    for start in range(0, len(touched), RECOMPUTE_CHUNK):
        chunk = touched[start : start + RECOMPUTE_CHUNK]
        marks = ", ".join([p] * len(chunk))
        cursor.execute(
            "UPDATE bl_event SET (start_time, end_time, captures_count) = (SELECT MIN(c.timestamp), MAX(c.timestamp), "
            f"COUNT(*) FROM bl_capture c WHERE c.event_id = bl_event.id) WHERE bl_event.id IN ({marks})",
            chunk,
        )
    cursor.execute(
        f"DELETE FROM bl_event WHERE deployment_id = {p} AND NOT EXISTS "
        "(SELECT 1 FROM bl_capture c WHERE c.event_id = bl_event.id)",
        (deployment_id,),
    )
    raw.commit()
    cursor.close()
    return len(ids)


def _read_runs(raw, dialect, p, deployment_id, gap, max_session):
    """[first value, last value, start datetime, {event ids}] per run, from one ordered read."""
    if dialect == "postgresql":
        cursor = raw.cursor(name="baseline_read")
        cursor.itersize = 20000
        parse = None
    else:
        cursor = raw.cursor()
        parse = datetime.fromisoformat
    cursor.execute(
        f"SELECT timestamp, event_id FROM bl_capture WHERE deployment_id = {p} AND timestamp IS NOT NULL ORDER BY timestamp",
        (deployment_id,),
    )
    cutter = RunCutter(gap, max_session)
    runs = []
    previous = object()
    for value, event_id in cursor:
        if value != previous:
            previous = value
            if cutter.starts_new(parse(value) if parse else value):
                runs.append([value, value, parse(value) if parse else value, set()])
        run = runs[-1]
        run[1] = value
        run[3].add(event_id)
    cursor.close()
    return runs
