"""Stations list benchmark: `python -m benchmarks.stations [--stations 1000] [--rounds 40] [--pg | --no-pg]`.

Builds one project of N stations (names with accents, varied counts and
grouping settings, three jobs each), signs a Project manager in, and times the
stations list as the server answers it (in-process WSGI: routing, queries,
template) for each filter: none (the floor, the list as it was before the
filter box), a name typed in the box, each state, a sort, page 2, and the
htmx fragment. Rounds take every case in turn, so the shared machine's load
falls on all of them alike. Prints p50/p95 per case, the p95 against the
unfiltered list, the p50 of the list's own service call (count + page,
through the ORM) and the p95 of the statements the page sends, replayed bare
through the DB-API cursor.

Verdicts: the unfiltered list's p95 against its statements run bare (the
page's floor), and the worst case's p95 against the unfiltered list's.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta

from benchmarks.common import PG_ADMIN_URL, drop_pg, make_app, percentile, pg_database
from benchmarks.report import Table, Verdicts, milliseconds

# A filter, sort or page costs at most what the unfiltered list itself costs again.
OVER_FLOOR = 2.0
# The unfiltered page against its own statements run bare: routing, permissions, ORM and template may cost
# this many times the SQL. SQLite's bare reads are in-process and cheap, so its ratio runs higher
# (10–13× measured at 1,000 stations, PostgreSQL 5×).
OVER_BARE_SQL = {"sqlite": 20.0, "postgresql": 10.0}
TABLE = Table(("backend", "<10"), ("stations", ""), ("case", "<24"), ("p50 ms", ".1f"), ("p95 ms", ".1f"),
              ("p95/floor", ".2f"), ("sql p50 ms", ".1f"), ("bare p95 ms", ".1f"))
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


def _statements(app, client, path: str) -> list[tuple[str, object]]:
    """The reads one request of `path` sends to the database, as the driver receives them (text and
    parameters). Writes are left out: replaying them would change what the next round reads."""
    from sqlalchemy import event

    from webapp.extensions import db

    with app.app_context():
        engine = db.engine
    sent = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == 200, path
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent


def _bare_sql_ms(app, statements: list[tuple[str, object]]) -> float:
    """Time (ms) of the page's own statements run bare: the DB-API cursor, every row fetched, no ORM,
    routing or template. The floor of the page: what it would cost if Python and Jinja were free."""
    from webapp.extensions import db

    with app.app_context():
        raw = db.session.connection().connection.driver_connection
        began = time.perf_counter()
        cursor = raw.cursor()
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            cursor.fetchall()
        cursor.close()
        elapsed = (time.perf_counter() - began) * 1000
        db.session.rollback()
        db.session.remove()
    return elapsed


def _page_ms(client, path: str) -> float:
    began = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - began) * 1000
    assert response.status_code == 200, path
    return elapsed


def _timings(app, client, paths: list[str], rounds: int) -> dict[str, tuple[list[float], list[float]]]:
    """(page ms, bare statements ms) per path, `rounds` of each. Rounds go through every path in turn, and
    each page is followed by its bare statements, so a burst of load on the shared machine lands on the
    floor and the cases alike instead of on whichever case was being timed."""
    for path in paths:
        for _ in range(3):  # warm the template and statement caches
            assert client.get(path).status_code == 200, path
    statements = {path: _statements(app, client, path) for path in paths}
    times = {path: ([], []) for path in paths}
    for _ in range(rounds):
        for path in paths:
            times[path][0].append(_page_ms(client, path))
            times[path][1].append(_bare_sql_ms(app, statements[path]))
    return times


def run(url: str, stations: int, rounds: int) -> list[dict]:
    """Per case: its label, the page's p50 and p95, the service call's p50 and the bare statements' p95 (ms)."""
    from webapp.extensions import db

    with tempfile.TemporaryDirectory() as instance:
        app = make_app(url, instance, WTF_CSRF_ENABLED=False)
        with app.app_context():
            project_id = seed(stations)
        client = app.test_client()
        assert client.post("/login", data={"email": EMAIL, "password": PASSWORD}).status_code == 302
        labelled = cases(project_id)
        times = _timings(app, client, [path for _, path in labelled], rounds)
        results = []
        for label, path in labelled:
            page, bare = times[path]
            results.append({"case": label, "p50": statistics.median(page), "p95": percentile(page, 0.95),
                            "service": _query_ms(app, project_id, path, rounds), "bare": percentile(bare, 0.95)})
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
    return results


def report(backend: str, stations: int, results: list[dict], verdicts: Verdicts) -> list[str]:
    """The table of cases; the verdicts go to `verdicts`. The first case, unfiltered, is judged against its
    own statements run bare; every other case against it."""
    floor = results[0]
    lines = [TABLE.header]
    for r in results:
        lines.append(TABLE.row(backend, stations, r["case"], r["p50"], r["p95"], r["p95"] / floor["p95"], r["service"],
                               r["bare"]))
    at = f"{backend}, {stations} stations"
    verdicts.at_most(f"unfiltered stations list p95 ({at})", floor["p95"], floor["bare"],
                     "its own statements run bare", OVER_BARE_SQL[backend], show=milliseconds)
    worst = max(results[1:] or results, key=lambda r: r["p95"])
    verdicts.at_most(f"stations list p95 ({at}, worst: {worst['case']})", worst["p95"], floor["p95"],
                     "the unfiltered list", OVER_FLOOR, show=milliseconds)
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
    verdicts = Verdicts()
    with tempfile.TemporaryDirectory() as folder:
        results = run(f"sqlite:///{folder}/stations.db", args.stations, args.rounds)
        print("\n".join(report("sqlite", args.stations, results, verdicts)), flush=True)
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
                results = run(url, args.stations, args.rounds)
                print("\n".join(report("postgresql", args.stations, results, verdicts)), flush=True)
            finally:
                drop_pg(name)
    verdicts.print_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
