"""Regroup benchmark: `python -m benchmarks.regroup [--sizes 10000,100000] [--pg | --no-pg]`.

For each size a child process builds a station of night-burst captures (~3 %
duplicate and ~0.5 % missing timestamps) in a temporary database, then times,
on the same data:

- floor: one ordered read of the station's timestamps through the DB-API
  cursor (PostgreSQL: a server-side cursor), nothing else;
- read: the regroup's own read step alone (sessions/timestamps.py);
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
queue that nobody consumes), first with nothing else running, then while
another process runs first regroups of the station back to back; it prints
their p50/p95/max latency.

The verdicts (`targets`, at the largest size) are ratios within the run:
first regroup against the floor and against the baseline, peak memory against
the same worker before its regroup, the longest write against the whole
regroup, and the web write's p95 during regroups against its p95 alone; the
no-change regroup's written rows are a count. docs/performance.md ("Verdicts
are ratios") says why each target is what it is.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime

from benchmarks.common import PG_ADMIN_URL, drop_pg, high_water_mb, in_child, make_app, percentile, pg_database
from benchmarks.regroup_data import baseline, count_writes, floor, health_step, load, read_step, reset
from benchmarks.regroup_web import WEB_REGROUPS, web_writes
from benchmarks.report import Table, Verdicts, megabytes, milliseconds

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
TARGET_SIZE = 1_000_000
ROUNDS = 5
# The targets, each a ratio within one run; docs/performance.md ("Verdicts are ratios") gives the measured
# ratios they were chosen from.
FIRST_OVER_FLOOR = 1.3  # the regroup is the floor's read plus numpy grouping and a small write
SPEEDUP = {"sqlite": 5, "postgresql": 10}  # over the per-capture event_id design it replaced
# The worker's own floor is the same fresh process with the app loaded and nothing done yet.
PEAK_OVER_IMPORTS = 1.5
# The write lock is all a regroup takes from the site's other writers (SQLite): a small share of the regroup.
WRITE_OVER_FIRST = 0.1
WEB_OVER_IDLE = 3.0  # a POST waits for at most a write transaction, so it may cost a few times its idle self
HEALTH_OVER_FIRST = 0.1  # the station health check, made inside each regroup (issue: at most +10 %)
TABLE = Table(
    ("backend", "<10"), ("captures", ""), ("floor s", ".2f"), ("read s", ".2f"), ("first s", ".2f"),
    ("no-chg s", ".2f"), ("baseline s", ".2f"), ("first/floor", ".2f"), ("base/first", ".2f"), ("write ms", ".1f"),
    ("nochg rows", ""), ("peak MB", ".0f"), ("imports MB", ".0f"),
)
HEADER = TABLE.header


def _measure(url: str, size: int, web: bool, out) -> None:
    import logging

    # The duplicate-timestamp warning is expected on this data; keep the table readable.
    logging.getLogger("webapp.sessions.regroup").setLevel(logging.ERROR)
    from webapp.extensions import db
    from webapp.models import Event
    from webapp.sessions import regroup_deployment

    with tempfile.TemporaryDirectory() as instance:
        app = make_app(url, instance)
        with app.app_context():
            deployment = load(size)
            floor_s = statistics.median(floor(deployment) for _ in range(ROUNDS))
            read_s = statistics.median(read_step(deployment) for _ in range(ROUNDS))
            health_s = statistics.median(health_step(deployment) for _ in range(ROUNDS))
            first_times, writes = [], []
            for round_ in range(ROUNDS):
                if round_:
                    reset(deployment.id)
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

            nochg_rows = count_writes(again)
            assert again_box["result"].stats == {**first.stats, "Events created": 0, "Events touched": 0}, (
                first.stats, again_box["result"].stats)
            reset(deployment.id)
            db.session.commit()
            imports_mb, peak_mb = _regroup_peak(url, instance, deployment.id)
            sessions = db.session.query(Event).filter_by(deployment_id=deployment.id).count()
            baseline_s = baseline(deployment, 1 if size >= 1_000_000 else ROUNDS)
            idle_ms, web_ms = web_writes(url, instance, deployment.id) if web else (None, None)
            db.session.remove()
            db.engine.dispose()
    out.put(
        {"floor": floor_s, "read": read_s, "first": first_s, "again": again_box["seconds"], "baseline": baseline_s,
         "peak_mb": peak_mb, "imports_mb": imports_mb, "sessions": sessions, "grouped": first.stats["Captures grouped"],
         "write_ms": max(writes) * 1000, "nochg_rows": nochg_rows, "idle_ms": idle_ms,
         "web_ms": web_ms, "health": health_s}
    )


def _one_regroup(url: str, instance: str, deployment_id: int, out) -> None:
    import logging

    logging.getLogger("webapp.sessions.regroup").setLevel(logging.ERROR)
    from webapp.extensions import db
    from webapp.models import Deployment
    from webapp.sessions import regroup_deployment

    app = make_app(url, instance)
    with app.app_context():
        deployment = db.session.get(Deployment, deployment_id)
        before = high_water_mb()
        regroup_deployment(deployment)
        after = high_water_mb()
        db.session.remove()
        db.engine.dispose()
    out.put((before, after))


def _regroup_peak(url: str, instance: str, deployment_id: int) -> tuple[float, float]:
    """(MB before, MB at the peak) of a fresh process that starts the app and runs one first regroup."""
    return in_child(_one_regroup, (url, instance + "/peak", deployment_id), timeout=600)


def measure(url: str, size: int, web: bool) -> dict:
    """Run one size in a fresh child process, so no size inherits another's memory or caches."""
    return in_child(_measure, (url, size, web), timeout=1800)


def row(backend: str, size: int, m: dict) -> str:
    return TABLE.row(
        backend, size, m["floor"], m["read"], m["first"], m["again"], m["baseline"], m["first"] / m["floor"],
        m["baseline"] / m["first"], m["write_ms"], m["nochg_rows"], m["peak_mb"], m["imports_mb"],
    )


def web_line(idle: list[float], during: list[float]) -> str:
    return (
        f"web write (SQLite): {len(idle)} POSTs alone p95 {percentile(idle, 0.95):.0f} ms; {len(during)} POSTs during "
        f"{WEB_REGROUPS} back-to-back first regroups p50 {percentile(during, 0.5):.0f} ms, "
        f"p95 {percentile(during, 0.95):.0f} ms, max {max(during):.0f} ms"
    )


def targets(results: dict) -> Verdicts:
    """The verdicts at the largest size measured (1M is the target size), each a ratio within one run."""
    verdicts = Verdicts()
    for backend in ("sqlite", "postgresql"):
        measured = results.get(backend, {})
        if not measured:
            continue
        size = max(measured)
        m = measured[size]
        at = f"({backend}, {size})"
        verdicts.at_most(f"first regroup {at}", m["first"], m["floor"], "the timestamp read floor", FIRST_OVER_FLOOR)
        verdicts.at_least(f"first regroup {at}", m["first"], m["baseline"], "the event_id baseline", SPEEDUP[backend])
        verdicts.count(f"no-change regroup {at}", m["nochg_rows"], 0, "rows written")
        verdicts.at_most(f"health check in a first regroup {at}", m["health"], m["first"], "the whole first regroup",
                         HEALTH_OVER_FIRST)
        verdicts.at_most(f"peak memory of a worker's first regroup {at}", m["peak_mb"], m["imports_mb"],
                         "the worker with the app loaded", PEAK_OVER_IMPORTS, show=megabytes)
        if backend == "sqlite":
            verdicts.at_most(f"longest write transaction {at}", m["write_ms"] / 1000, m["first"],
                             "the whole first regroup", WRITE_OVER_FIRST)
            if m.get("web_ms"):
                verdicts.at_most(f"web write p95 during regroups {at}", percentile(m["web_ms"], 0.95),
                                 percentile(m["idle_ms"], 0.95), "the same POST alone", WEB_OVER_IDLE,
                                 show=milliseconds)
    return verdicts


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
        database = pg_database()
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
                    drop_pg(name)
                    with __import__("psycopg").connect(PG_ADMIN_URL, autocommit=True) as conn:
                        conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                drop_pg(name)
    sqlite_largest = results["sqlite"][max(results["sqlite"])]
    if sqlite_largest.get("web_ms"):
        print(web_line(sqlite_largest["idle_ms"], sqlite_largest["web_ms"]))
    if max(sizes) < TARGET_SIZE:
        print(f"(the targets are set for {TARGET_SIZE} captures: at {max(sizes)} fixed costs dominate, "
              "so the ratios mean little)")
    targets(results).print_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
