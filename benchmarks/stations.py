"""Stations list benchmark: `python -m benchmarks.stations [--stations 1000] [--rounds 40] [--pg | --no-pg]`.

Builds one project of N stations (names with accents, varied counts and
grouping settings, three jobs each), signs a Project manager in, and times the
stations list as the server answers it (in-process WSGI: routing, queries,
template) for each filter: none (the floor, the list as it was before the
filter box), a name typed in the box, each state, a sort, page 2, and the
htmx fragment. Prints p50/p95 per case, the p95 against the unfiltered list
measured in the same run, and the p50 of the list's own SQL (count + page,
through the service) to tell the filter's cost from routing and template time.
Verdict: the worst case's p95 ≤ 2 × the unfiltered list's p95 (a filter,
sort or page costs at most what the list itself costs again).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta

from benchmarks.common import PG_ADMIN_URL, drop_pg, pg_database
from benchmarks.report import Verdicts, milliseconds, table

OVER_FLOOR = 2.0
NAMES = ("Étang", "Forêt", "Prairie", "Marais", "Côte", "Lisière", "Verger", "Clairière")
EMAIL, PASSWORD = "manager@bench.test", "pw-bench"


def cases(project_id: int) -> list[tuple[str, str]]:
    """(label, URL) of every timed request; the first is the floor."""
    base = f"/projects/{project_id}/"
    return [
        ("unfiltered (floor)", base),
        ("name 'etang'", base + "?q=etang"),
        ("name 'ÉTANG 12'", base + "?q=%C3%89TANG+12"),
        ("needs regroup", base + "?state=needs-regroup"),
        ("last job failed", base + "?state=last-job-failed"),
        ("never synced", base + "?state=never-synced"),
        ("being deleted", base + "?state=being-deleted"),
        ("name + state + sort", base + "?q=foret&state=last-job-failed&sort=captures&dir=desc"),
        ("page 2 by last capture", base + "?sort=last&dir=desc&page=2"),
        ("htmx fragment", f"/projects/{project_id}/stations?q=prairie&state=never-synced"),
    ]


def seed(stations: int) -> int:
    """Schema, a manager, one project with `stations` stations and three jobs per station."""
    from webapp.extensions import db
    from webapp.models import Deployment, Job, Membership, Project, User

    db.create_all()
    user = User(email=EMAIL)
    user.set_password(PASSWORD)
    project = Project(name="Bench", session_time_gap_seconds=7200, session_keying="date")
    db.session.add_all([user, project])
    db.session.flush()
    db.session.add(Membership(user_id=user.id, project_id=project.id, role="ProjectManager"))
    start = datetime(2024, 1, 1)
    deployments = [
        Deployment(
            name=f"{NAMES[i % len(NAMES)]} {i:04d}",
            project_id=project.id,
            captures_count=(i * 7919) % 50_000,
            events_count=i % 300,
            first_capture_timestamp=start + timedelta(hours=i),
            last_capture_timestamp=start + timedelta(days=30, hours=i),
            grouped_gap_seconds=7200 if i % 5 else 3600,
            grouped_keying="date",
            last_regrouped_at=start + timedelta(days=31),
            deleting=i % 97 == 0,
        )
        for i in range(stations)
    ]
    db.session.add_all(deployments)
    db.session.flush()
    jobs = []
    for i, deployment in enumerate(deployments):
        for j, (key, status) in enumerate(
            (("data_storage_sync", "SUCCESS" if i % 4 else "FAILURE"), ("regroup_events", "SUCCESS"), ("regroup_events", "FAILURE" if i % 6 == 0 else "SUCCESS"))
        ):
            jobs.append({"name": key, "job_type_key": key, "status": status, "deployment_id": deployment.id,
                         "project_id": project.id, "created_at": start + timedelta(minutes=3 * i + j),
                         "progress": {}, "logs": {}, "cancel_requested": False})
    db.session.execute(db.insert(Job.__table__), jobs)
    db.session.commit()
    # Planner statistics, as autovacuum (PostgreSQL) or a periodic ANALYZE would
    # have them: without them PostgreSQL guesses one row per table and picks a
    # nested loop for the job subqueries (~1 s instead of < 1 ms at 1,000 stations).
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()
    return project.id


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def _query_ms(app, project_id: int, path: str, rounds: int) -> float:
    """p50 of the list's own statements (the service call: count and one page), without routing or template."""
    from urllib.parse import parse_qsl, urlsplit

    from werkzeug.datastructures import MultiDict

    from webapp.extensions import db
    from webapp.models import Project
    from webapp.projects import StationFilters, stations_page

    args = MultiDict(parse_qsl(urlsplit(path).query))
    times = []
    with app.app_context():
        project = db.session.get(Project, project_id)
        filters = StationFilters.from_args(args)
        for _ in range(rounds):
            began = time.perf_counter()
            stations_page(project, filters, args.get("page", 1))
            times.append((time.perf_counter() - began) * 1000)
            db.session.expire_all()
        db.session.remove()
    return statistics.median(times)


def run(url: str, stations: int, rounds: int) -> list[tuple[str, float, float, float]]:
    """(label, p50 ms, p95 ms, queries p50 ms) for each case."""
    from webapp import create_app
    from webapp.extensions import db

    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "HUEY_URL": "memory://",
                          "INSTANCE_PATH": instance, "WTF_CSRF_ENABLED": False})
        with app.app_context():
            project_id = seed(stations)
        client = app.test_client()
        assert client.post("/login", data={"email": EMAIL, "password": PASSWORD}).status_code == 302
        results = []
        for label, path in cases(project_id):
            for _ in range(3):  # warm the template and statement caches
                assert client.get(path).status_code == 200, path
            times = []
            for _ in range(rounds):
                began = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200
            results.append((label, statistics.median(times), _p95(times), _query_ms(app, project_id, path, rounds)))
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
    return results


def report(backend: str, stations: int, results) -> list[str]:
    """The table of cases, then the verdict line (the first case, unfiltered, is the floor)."""
    floor = results[0][2]
    rows = [[backend, stations, label, f"{p50:.1f}", f"{p95:.1f}", f"{p95 / floor:.2f}", f"{sql:.1f}"]
            for label, p50, p95, sql in results]
    lines = table(["backend", "stations", "case", "p50 ms", "p95 ms", "p95/floor", "sql p50 ms"], rows).splitlines()
    worst = max(results[1:] or results, key=lambda r: r[2])
    verdicts = Verdicts()
    lines.append(verdicts.at_most(f"stations list p95 ({backend}, {stations} stations, worst: {worst[0]})", worst[2],
                                  floor, "the unfiltered list", OVER_FLOOR, show=milliseconds))
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=40)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--pg", action="store_true", help="require PostgreSQL (fail if unreachable)")
    group.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    print(f"stations list benchmark — {os.cpu_count()} cores, SQLite {__import__('sqlite3').sqlite_version}, "
          f"{datetime.now().isoformat(timespec='minutes')}, {args.rounds} requests per case")
    with tempfile.TemporaryDirectory() as folder:
        for line in report("sqlite", args.stations, run(f"sqlite:///{folder}/stations.db", args.stations, args.rounds)):
            print(line, flush=True)
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
                for line in report("postgresql", args.stations, run(url, args.stations, args.rounds)):
                    print(line, flush=True)
            finally:
                drop_pg(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
