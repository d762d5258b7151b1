"""The regroup benchmark's station and what it times on it: the captures, the floor read, the baseline."""
import random
import statistics
import time
from datetime import datetime, timedelta

# Each night: three bursts (2 h on, 1.5 h off, 2 h on, 1 h off, 1.5 h on), a shot every 20 s.
BURSTS = ((21 * 3600, 2 * 3600), (24 * 3600 + 1800, 2 * 3600), (27 * 3600 + 1800, 5400))


STEP = 20


def capture_rows(size: int, deployment_id: int, seed: int = 1):
    """(deployment_id, path, timestamp text, size) rows in time order, as a sync would add them."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1)
    produced = 0
    night = 0
    previous = None
    while True:
        base = start + timedelta(days=night)
        for offset, length in BURSTS:
            for second in range(offset, offset + length, STEP):
                if produced == size:
                    return
                roll = rng.random()
                if roll < 0.005:
                    stamp = None
                elif roll < 0.035 and previous is not None:
                    stamp = previous
                else:
                    stamp = (base + timedelta(seconds=second)).isoformat(sep=" ", timespec="microseconds")
                    previous = stamp
                yield (deployment_id, f"night{night:05d}/{produced:08d}.jpg", stamp, 1000)
                produced += 1
        night += 1


def load(size: int):
    """Schema, one project and station, and `size` captures, inserted in bulk."""
    from webapp.extensions import db
    from webapp.models import Deployment, Project

    db.create_all()
    project = Project(name="Bench")
    deployment = Deployment(name="Bench station", project=project)
    db.session.add_all([project, deployment])
    db.session.commit()
    raw = db.session.connection().connection.driver_connection
    rows = capture_rows(size, deployment.id)
    if db.engine.dialect.name == "postgresql":
        with raw.cursor() as cursor:
            with cursor.copy("COPY capture (deployment_id, path, timestamp, size) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    else:
        raw.executemany("INSERT INTO capture (deployment_id, path, timestamp, size) VALUES (?, ?, ?, ?)", rows)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("ANALYZE capture"))
        db.session.commit()
    # The station's cached counts, as a sync leaves them.
    from webapp.sources import refresh_deployment_stats

    refresh_deployment_stats(deployment)
    db.session.commit()
    return deployment


def reset(deployment_id: int) -> None:
    from webapp.extensions import db

    db.session.execute(db.text("DELETE FROM event WHERE deployment_id = :d"), {"d": deployment_id})
    db.session.commit()


def floor(deployment) -> float:
    """One ordered read of every timestamp of the station through the DB-API cursor."""
    from webapp.extensions import db

    db.session.commit()
    raw = db.session.connection().connection.driver_connection
    pg = db.engine.dialect.name == "postgresql"
    p = "%s" if pg else "?"
    began = time.perf_counter()
    cursor = raw.cursor(name="floor") if pg else raw.cursor()
    if pg:
        cursor.itersize = 20000
    cursor.execute(
        f"SELECT timestamp FROM capture WHERE deployment_id = {p} AND timestamp IS NOT NULL ORDER BY timestamp",
        (deployment.id,),
    )
    for _ in cursor:
        pass
    cursor.close()
    elapsed = time.perf_counter() - began
    db.session.rollback()
    return elapsed


def read_step(deployment) -> float:
    from webapp.extensions import db
    from webapp.sessions.timestamps import read_timestamps

    began = time.perf_counter()
    read_timestamps(deployment.id)
    elapsed = time.perf_counter() - began
    db.session.rollback()
    return elapsed


def health_step(deployment) -> float:
    """The health check a regroup makes (sessions/health.py), alone, on the station's read and cut."""
    from flask import current_app

    from webapp.extensions import db
    from webapp.grouping import group_spans
    from webapp.sessions import applied_rule
    from webapp.sessions.station_health import check_regrouped
    from webapp.sessions.timestamps import read_timestamps

    rule = applied_rule(deployment)
    values = read_timestamps(deployment.id).values
    spans = group_spans(values, rule.gap_seconds, rule.keying, current_app.config["MAX_SESSION_SECONDS"])
    db.session.rollback()
    began = time.perf_counter()
    check_regrouped(deployment, values, spans)
    return time.perf_counter() - began


_TABLES = ("capture", "event", "deployment")


def count_writes(run) -> int:
    """Rows written to the capture, event and deployment tables while `run()` runs (triggers)."""
    from webapp.extensions import db

    sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:
        setup = ["CREATE TABLE bench_write_log (tbl TEXT)"] + [
            f"CREATE TRIGGER bench_{t}_{op} AFTER {op} ON {t} BEGIN INSERT INTO bench_write_log VALUES ('{t}'); END"
            for t in _TABLES for op in ("INSERT", "UPDATE", "DELETE")
        ]
        teardown = [f"DROP TRIGGER bench_{t}_{op}" for t in _TABLES for op in ("INSERT", "UPDATE", "DELETE")]
    else:
        setup = [
            "CREATE TABLE bench_write_log (tbl TEXT)",
            "CREATE FUNCTION bench_log() RETURNS trigger AS $$ BEGIN "
            "INSERT INTO bench_write_log VALUES (TG_TABLE_NAME); RETURN NULL; END $$ LANGUAGE plpgsql",
        ] + [
            f"CREATE TRIGGER bench_{t} AFTER INSERT OR UPDATE OR DELETE ON {t} FOR EACH ROW EXECUTE FUNCTION bench_log()"
            for t in _TABLES
        ]
        teardown = [f"DROP TRIGGER bench_{t} ON {t}" for t in _TABLES] + ["DROP FUNCTION bench_log()"]
    for statement in setup:
        db.session.execute(db.text(statement))
    db.session.commit()
    try:
        run()
        return db.session.execute(db.text("SELECT COUNT(*) FROM bench_write_log")).scalar()
    finally:
        db.session.rollback()
        for statement in teardown + ["DROP TABLE bench_write_log"]:
            db.session.execute(db.text(statement))
        db.session.commit()


def baseline(deployment, rounds: int) -> float:
    from benchmarks import event_id_baseline
    from webapp.extensions import db

    db.session.commit()
    raw = db.session.connection().connection.driver_connection
    dialect = db.engine.dialect.name
    event_id_baseline.create_tables(raw, dialect)
    times = []
    for _ in range(rounds):
        event_id_baseline.reset(raw)
        began = time.perf_counter()
        event_id_baseline.regroup(raw, dialect, deployment.id, 7200)
        times.append(time.perf_counter() - began)
    db.session.rollback()
    return statistics.median(times)
