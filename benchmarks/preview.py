"""Live preview benchmark: `python -m benchmarks.preview [--stations 10] [--captures 100000] [--pg | --no-pg]`.

Builds a project of N stations of night-burst captures (the regroup
benchmark's generator) in a temporary database, regroups each once, then
times, in the same run:

- floor: one ordered read of every station's timestamps (raw cursor, no parsing);
- baseline: the straightforward preview (SELECT DISTINCT, parse, grouping.group_sessions per station);
- cold: the project's preview with empty caches (sessions.preview_project);
- new rule: the project's preview with another gap and keying, station times cached (typing);
- cached: one station asked again with the same rule (the worst station).

Verdicts (ratios within the run, absolute times beside them): cold ≤ 1.5 × the
floor for 10 × 100k (the preview is that read plus numpy); cached ≤ 0.1 × cold
(a cached answer costs a tenth of reading, as 50 ms against 500 ms did).
"""
import argparse
import os
import sys
import tempfile
import time
from datetime import datetime

from benchmarks.common import PG_ADMIN_URL, drop_pg, in_child, make_app, pg_database, resident_mb
from benchmarks.regroup_data import capture_rows
from benchmarks.report import Table, Verdicts, megabytes

TARGET_CAPTURES = 1_000_000  # 10 stations × 100k, as issue 12 set them
COLD_OVER_FLOOR = 1.5
# Previews of many gaps on one station: what the process keeps after them must stay under this (issue 22).
GAPS_TRIED = 300
MEMO_BUDGET_MB = 50
CACHED_OVER_COLD = 0.1
TABLE = Table(
    ("backend", "<10"), ("stations", ""), ("captures", ""), ("floor s", ".3f"), ("baseline s", ".3f"),
    ("cold s", ".3f"), ("new rule s", ".3f"), ("cached s", ".4f"), ("cold/floor", ".2f"), ("base/cold", ".2f"),
)
HEADER = TABLE.header


def _load(stations: int, captures: int):
    from webapp.extensions import db
    from webapp.models import Deployment, Project
    from webapp.sources import refresh_deployment_stats

    db.create_all()
    project = Project(name="Preview bench")
    deployments = [Deployment(name=f"Station {i:02d}", project=project) for i in range(stations)]
    db.session.add_all([project, *deployments])
    db.session.commit()
    raw = db.session.connection().connection.driver_connection
    for number, deployment in enumerate(deployments):
        rows = capture_rows(captures, deployment.id, seed=number + 1)
        if db.engine.dialect.name == "postgresql":
            with raw.cursor() as cursor:
                with cursor.copy("COPY capture (deployment_id, path, timestamp, size) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        else:
            raw.executemany("INSERT INTO capture (deployment_id, path, timestamp, size) VALUES (?, ?, ?, ?)", rows)
        db.session.commit()
        refresh_deployment_stats(deployment)
        db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("ANALYZE capture"))
        db.session.commit()
    return project, deployments


def _floor(deployments) -> float:
    from webapp.extensions import db

    raw = db.session.connection().connection.driver_connection
    pg = db.engine.dialect.name == "postgresql"
    p = "%s" if pg else "?"
    began = time.perf_counter()
    for deployment in deployments:
        cursor = raw.cursor(name=f"floor{deployment.id}") if pg else raw.cursor()
        cursor.execute(
            f"SELECT timestamp FROM capture WHERE deployment_id = {p} AND timestamp IS NOT NULL ORDER BY timestamp",
            (deployment.id,),
        )
        for _ in cursor:
            pass
        cursor.close()
    elapsed = time.perf_counter() - began
    db.session.commit()
    return elapsed


def _baseline(deployments, gap: int, keying: str) -> float:
    """The straightforward preview: distinct timestamps as datetimes, then the pure grouping per station."""
    from webapp.extensions import db
    from webapp.grouping import group_sessions
    from webapp.models import Capture

    began = time.perf_counter()
    for deployment in deployments:
        rows = db.session.execute(
            db.select(Capture.timestamp)
            .where(Capture.deployment_id == deployment.id, Capture.timestamp.is_not(None))
            .distinct()
            .order_by(Capture.timestamp)
        ).scalars()
        group_sessions([value if isinstance(value, datetime) else datetime.fromisoformat(value) for value in rows],
                       gap, keying)
    return time.perf_counter() - began


def _measure(url: str, stations: int, captures: int, out) -> None:
    import logging

    logging.getLogger("webapp.sessions.regroup").setLevel(logging.ERROR)
    from webapp.extensions import db
    from webapp.sessions import clear_caches, preview_project, preview_regroup, regroup_deployment

    with tempfile.TemporaryDirectory() as instance:
        app = make_app(url, instance)
        with app.app_context():
            project, deployments = _load(stations, captures)
            for deployment in deployments:
                regroup_deployment(deployment)
            floor = _floor(deployments)
            baseline = _baseline(deployments, 7200, "date")
            clear_caches()
            began = time.perf_counter()
            preview_project(project, 7200, "date")
            cold = time.perf_counter() - began
            began = time.perf_counter()
            preview_project(project, 5400, "night")
            new_rule = time.perf_counter() - began
            cached = 0.0
            for deployment in deployments:
                began = time.perf_counter()
                preview_regroup(deployment, 7200, "date")
                cached = max(cached, time.perf_counter() - began)
            memo_mb = _memory_of_many_gaps(deployments[0])
            db.session.remove()
            db.engine.dispose()
    out.put({"backend": url.split(":", 1)[0].split("+")[0], "floor": floor, "baseline": baseline, "cold": cold,
             "new rule": new_rule, "cached": cached, "memo MB": memo_mb})


def _memory_of_many_gaps(deployment) -> float:
    """MB the process keeps after GAPS_TRIED previews of one station, each with another gap (people
    typing gaps): the first gaps are below the capture step, so every capture is its own session."""
    import gc

    from webapp.sessions import preview_regroup

    gc.collect()
    before = resident_mb()
    for gap in range(5, 5 + GAPS_TRIED):
        preview_regroup(deployment, gap, "run")
    gc.collect()
    return max(resident_mb() - before, 0.0)


def _measured(url: str, args, results: list[dict]) -> None:
    """One backend's figures, measured in a fresh process so neither backend inherits the other's caches;
    its row is printed at once, as the run takes minutes at the default size."""
    m = in_child(_measure, (url, args.stations, args.captures), timeout=1800)
    print(_row(m, args.stations, args.captures), flush=True)
    results.append(m)


def _row(m: dict, stations: int, captures: int) -> str:
    return TABLE.row(m["backend"], stations, stations * captures, m["floor"], m["baseline"], m["cold"],
                     m["new rule"], m["cached"], m["cold"] / m["floor"], m["baseline"] / m["cold"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=10)
    parser.add_argument("--captures", type=int, default=100_000, help="captures per station")
    parser.add_argument("--pg", dest="pg", action="store_true", default=None)
    parser.add_argument("--no-pg", dest="pg", action="store_false")
    args = parser.parse_args(argv)
    print(f"Live preview benchmark ({os.cpu_count()} CPUs; times are wall-clock server time)")
    print(HEADER, flush=True)
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        _measured(f"sqlite:///{tmp}/bench.db", args, results)
    if args.pg is not False:
        database = pg_database()
        if database is None:
            if args.pg:
                print(f"PostgreSQL at {PG_ADMIN_URL} does not answer.")
                return 1
            print(f"(PostgreSQL at {PG_ADMIN_URL} not reachable: skipped)")
        else:
            name, url = database
            try:
                _measured(url, args, results)
            finally:
                drop_pg(name)
    if args.stations * args.captures < TARGET_CAPTURES:
        print(f"(the targets are set for {TARGET_CAPTURES} captures: at {args.stations * args.captures} "
              "fixed costs dominate, so the ratios mean little)")
    verdicts = Verdicts()
    for m in results:
        backend = m["backend"]
        verdicts.at_most(f"cold preview ({backend})", m["cold"], m["floor"], "the timestamp read floor", COLD_OVER_FLOOR)
        verdicts.at_most(f"cached preview ({backend})", m["cached"], m["cold"], "the cold preview", CACHED_OVER_COLD)
        verdicts.at_most(f"memory kept after {GAPS_TRIED} gaps on one station of {args.captures} captures ({backend})",
                         m["memo MB"], MEMO_BUDGET_MB, "the memory budget", 1.0, show=megabytes)
    verdicts.print_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
