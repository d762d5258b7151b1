"""Regroup benchmark: `python -m benchmarks.regroup [--sizes 10000,100000] [--pg | --no-pg]`.

For each size a child process builds a station of night-burst captures (~3 %
duplicate and ~0.5 % missing timestamps) in a temporary database, then times,
on the same data:

- floor: one ordered read of the station's timestamps through the DB-API
  cursor (PostgreSQL: a server-side cursor), nothing else;
- read: the regroup's own read step alone (services/timestamps.py);
- first: a first regroup (no sessions yet), the median of five;
- no-chg: a regroup that changes nothing, with the rows it wrote counted by
  triggers on the capture, event and deployment tables;
- baseline: the per-capture `event_id` design the spans replaced
  (benchmarks/event_id_baseline.py, its own tables filled with the same
  captures), a first regroup, median of five (one run at 1M);
- write ms: the longest write transaction of the first regroup;
- peak MB: the peak resident memory (VmHWM) of a fresh process that
  does what a worker does for one job: start the app, then one first regroup
  of the station; `imports MB` is that process's peak before the regroup.
  Measured apart from the loading and the floor, whose own memory is not the
  regroup's.

On SQLite at the largest size it also measures a web write during regroups:
API POSTs that start a job (the real app through its test client, a SQLite
queue that nobody consumes) while another process runs first regroups of the
station back to back; it prints their p50/p95/max latency.
"""
import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
ROUNDS = 5
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://127.0.0.1:5432/test")
HEADER = (
    f"{'backend':<10} {'captures':>9} {'floor s':>8} {'read s':>7} {'first s':>8} {'no-chg s':>8} {'baseline s':>10} "
    f"{'first/floor':>11} {'base/first':>10} {'write ms':>8} {'nochg rows':>10} {'peak MB':>8} {'imports MB':>10}"
)
# Enough back-to-back regroups (~0.35 s each at 1M) for ~100 POSTs, so the p95 is not one request.
WEB_REGROUPS = 10
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


def _make_app(url: str, instance: str, huey_url: str = "memory://"):
    from webapp import create_app

    return create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "HUEY_URL": huey_url, "INSTANCE_PATH": instance}
    )


def _load(size: int):
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


def _reset(deployment_id: int) -> None:
    from webapp.extensions import db

    db.session.execute(db.text("DELETE FROM event WHERE deployment_id = :d"), {"d": deployment_id})
    db.session.commit()


def _floor(deployment) -> float:
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


def _read_step(deployment) -> float:
    from webapp.extensions import db
    from webapp.sessions.timestamps import read_timestamps

    began = time.perf_counter()
    read_timestamps(deployment.id)
    elapsed = time.perf_counter() - began
    db.session.rollback()
    return elapsed


_TABLES = ("capture", "event", "deployment")


def _count_writes(run) -> int:
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


def _baseline(deployment, rounds: int) -> float:
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


def _measure(url: str, size: int, web: bool, out) -> None:
    import logging

    # The duplicate-timestamp warning is expected on this data; keep the table readable.
    logging.getLogger("webapp.sessions.regroup").setLevel(logging.ERROR)
    from webapp.extensions import db
    from webapp.models import Event
    from webapp.sessions import regroup_deployment

    with tempfile.TemporaryDirectory() as instance:
        app = _make_app(url, instance)
        with app.app_context():
            deployment = _load(size)
            floor = statistics.median(_floor(deployment) for _ in range(ROUNDS))
            read = statistics.median(_read_step(deployment) for _ in range(ROUNDS))
            first_times, writes = [], []
            for round_ in range(ROUNDS):
                if round_:
                    _reset(deployment.id)
                began = time.perf_counter()
                first = regroup_deployment(deployment)
                first_times.append(time.perf_counter() - began)
                writes.append(first.longest_write_seconds)
            first_s = statistics.median(first_times)
            again_box = {}

            def again():
                began = time.perf_counter()
                again_box["result"] = regroup_deployment(deployment)
                again_box["seconds"] = time.perf_counter() - began

            nochg_rows = _count_writes(again)
            assert again_box["result"].stats == {**first.stats, "Events created": 0, "Events touched": 0}, (
                first.stats, again_box["result"].stats)
            _reset(deployment.id)
            db.session.commit()
            imports_mb, peak_mb = _regroup_peak(url, instance, deployment.id)
            sessions = db.session.query(Event).filter_by(deployment_id=deployment.id).count()
            baseline_s = _baseline(deployment, 1 if size >= 1_000_000 else ROUNDS)
            web_ms = _web_writes(url, instance, deployment.id) if web else None
            db.session.remove()
            db.engine.dispose()
    out.put(
        {"floor": floor, "read": read, "first": first_s, "again": again_box["seconds"], "baseline": baseline_s,
         "peak_mb": peak_mb, "imports_mb": imports_mb, "sessions": sessions, "grouped": first.stats["Captures grouped"],
         "write_ms": max(writes) * 1000, "nochg_rows": nochg_rows, "web_ms": web_ms}
    )


def _regroups_in_a_process(url: str, instance: str, deployment_id: int, started, done) -> None:
    import logging

    logging.getLogger("webapp.sessions.regroup").setLevel(logging.ERROR)
    from webapp.extensions import db
    from webapp.models import Deployment
    from webapp.sessions import regroup_deployment

    app = _make_app(url, instance)
    with app.app_context():
        started.set()
        for _ in range(WEB_REGROUPS):
            _reset(deployment_id)
            regroup_deployment(db.session.get(Deployment, deployment_id))
        done.set()
        db.session.remove()
        db.engine.dispose()


def _high_water_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: Linux carries that across
    fork and exec, so a spawned child would report its parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _one_regroup(url: str, instance: str, deployment_id: int, out) -> None:
    import logging

    logging.getLogger("webapp.sessions.regroup").setLevel(logging.ERROR)
    from webapp.extensions import db
    from webapp.models import Deployment
    from webapp.sessions import regroup_deployment

    app = _make_app(url, instance)
    with app.app_context():
        deployment = db.session.get(Deployment, deployment_id)
        before = _high_water_mb()
        regroup_deployment(deployment)
        after = _high_water_mb()
        db.session.remove()
        db.engine.dispose()
    out.put((before, after))


def _regroup_peak(url: str, instance: str, deployment_id: int) -> tuple[float, float]:
    """(MB before, MB at the peak) of a fresh process that starts the app and runs one first regroup."""
    return _in_child(_one_regroup, (url, instance + "/peak", deployment_id), timeout=600)


def _web_writes(url: str, instance: str, deployment_id: int) -> list[float]:
    """Latencies (ms) of API POSTs that start a job, sent while another process regroups the station.

    The web app has a queue of its own that nobody consumes: with the
    measuring app's immediate (`memory://`) queue, each POST would run the
    regroup itself and hold the station's lock.
    """
    from webapp.extensions import db
    from webapp.models import User

    app = _make_app(url, instance + "/web", huey_url=f"sqlite:///{instance}/bench-queue.db")
    with app.app_context():
        user = User(email="bench@example.org", is_superuser=True)
        user.set_password("bench-password")
        token = user.new_api_token()
        db.session.add(user)
        db.session.commit()
        try:
            return _posts_during_regroups(app, url, instance, deployment_id, token)
        finally:
            db.session.remove()
            db.engine.dispose()


def _posts_during_regroups(app, url: str, instance: str, deployment_id: int, token: str) -> list[float]:
    client = app.test_client()
    endpoint = f"/api/v2/deployments/{deployment_id}/regroup-sessions/"
    # One request before the clock starts: the first creates the queue's tables and warms the app.
    assert client.post(endpoint, headers={"Authorization": f"Token {token}"}).status_code == 202
    context = multiprocessing.get_context("spawn")
    started, done = context.Event(), context.Event()
    process = context.Process(target=_regroups_in_a_process, args=(url, instance + "/b", deployment_id, started, done))
    process.start()
    started.wait(60)
    latencies = []
    while not done.is_set():
        began = time.perf_counter()
        response = client.post(endpoint, headers={"Authorization": f"Token {token}"})
        latencies.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 202, response.get_json()
        time.sleep(0.02)
    process.join(60)
    return latencies


def _in_child(target, args: tuple, timeout: float):
    """What `target(*args, out)` puts on `out`, run in a fresh spawned process; raises if the child failed."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=target, args=(*args, out))
    process.start()
    result = out.get(timeout=timeout)
    process.join(timeout=60)
    if process.exitcode != 0:
        raise RuntimeError(f"benchmark child {target.__name__}{args} exited with {process.exitcode}")
    return result


def measure(url: str, size: int, web: bool) -> dict:
    """Run one size in a fresh child process, so no size inherits another's memory or caches."""
    return _in_child(_measure, (url, size, web), timeout=1800)


def _pg_database():
    """A throw-away PostgreSQL database, or None if the server does not answer."""
    try:
        import psycopg

        name = f"ami_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception:
        return None
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return name, f"{base}/{name}"


def _drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _ratio(a, b) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def row(backend: str, size: int, m: dict) -> str:
    return (
        f"{backend:<10} {size:>9} {m['floor']:>8.2f} {m['read']:>7.2f} {m['first']:>8.2f} {m['again']:>8.2f} "
        f"{m['baseline']:>10.2f} {_ratio(m['first'], m['floor']):>11} {_ratio(m['baseline'], m['first']):>10} "
        f"{m['write_ms']:>8.1f} {m['nochg_rows']:>10} {m['peak_mb']:>8.0f} {m['imports_mb']:>10.0f}"
    )


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def web_line(latencies: list[float]) -> str:
    return (
        f"web write during {WEB_REGROUPS} back-to-back first regroups (SQLite): {len(latencies)} POSTs, "
        f"p50 {_percentile(latencies, 0.5):.0f} ms, p95 {_percentile(latencies, 0.95):.0f} ms, max {max(latencies):.0f} ms"
    )


def targets(results: dict) -> list[str]:
    """PASS/MISS for the targets, at the largest size measured (1M is the target size)."""
    lines = []
    limits = {"sqlite": (1.0, 5), "postgresql": (1.5, 10)}
    for backend, (seconds, speedup) in limits.items():
        measured = results.get(backend, {})
        if not measured:
            continue
        size = max(measured)
        m = measured[size]
        checks = [
            (f"{backend}: first regroup <= 1.3 x floor at {size}", m["first"] <= 1.3 * m["floor"], _ratio(m["first"], m["floor"])),
            (f"{backend}: first regroup <= {seconds} s at {size}", m["first"] <= seconds, f"{m['first']:.2f} s"),
            (f"{backend}: >= {speedup} x faster than the event_id baseline at {size}", m["baseline"] >= speedup * m["first"],
             _ratio(m["baseline"], m["first"])),
            (f"{backend}: no-change regroup writes no row at {size}", m["nochg_rows"] == 0, f"{m['nochg_rows']} rows"),
            (f"{backend}: peak memory < 200 MB at {size}", m["peak_mb"] < 200, f"{m['peak_mb']:.0f} MB"),
        ]
        if backend == "sqlite":
            checks.append((f"sqlite: longest write transaction <= 50 ms at {size}", m["write_ms"] <= 50, f"{m['write_ms']:.1f} ms"))
            if m.get("web_ms"):
                p95 = _percentile(m["web_ms"], 0.95)
                checks.append((f"sqlite: web write p95 <= 100 ms during regroups at {size}", p95 <= 100, f"{p95:.0f} ms"))
        for label, ok, value in checks:
            lines.append(f"{'PASS' if ok else 'MISS'}  {label} ({value})")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--pg", action="store_true", help="require PostgreSQL (fail if unreachable)")
    group.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]

    print(f"regroup benchmark — {os.cpu_count()} cores, SQLite {__import__('sqlite3').sqlite_version}, "
          f"{datetime.now().isoformat(timespec='minutes')}")
    print(HEADER)
    sys.stdout.flush()
    results: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            url = f"sqlite:///{folder}/bench_{size}.db"
            m = measure(url, size, web=size == max(sizes))
            results.setdefault("sqlite", {})[size] = m
            print(row("sqlite", size, m), flush=True)
            os.remove(f"{folder}/bench_{size}.db")
    if not args.no_pg:
        database = _pg_database()
        if database is None:
            if args.pg:
                print(f"PostgreSQL at {PG_ADMIN_URL} does not answer.")
                return 1
            print(f"(PostgreSQL at {PG_ADMIN_URL} not reachable: skipped)")
        else:
            name, url = database
            try:
                for size in sizes:
                    m = measure(url, size, web=False)
                    results.setdefault("postgresql", {})[size] = m
                    print(row("postgresql", size, m), flush=True)
                    _drop_pg(name)
                    with __import__("psycopg").connect(PG_ADMIN_URL, autocommit=True) as conn:
                        conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                _drop_pg(name)
    sqlite_largest = results["sqlite"][max(results["sqlite"])]
    if sqlite_largest.get("web_ms"):
        print(web_line(sqlite_largest["web_ms"]))
    for line in targets(results):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
