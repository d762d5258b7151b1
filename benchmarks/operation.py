"""Operation calendar benchmark: `python -m benchmarks.operation [--stations 100] [--nights 365] [--per-night 10]
[--rounds 10] [--pg | --no-pg]`.

Builds one project of N stations with a year of nights (a few captures each,
some outages), regroups each station as its sync would (which stores its
captures per night), signs a Project manager in, and times the calendar page
for the whole year as the server answers it (in-process WSGI: routing, the
stored counts, the geometry, the template). The reference, measured in the
same run, is the grouped count of every capture row the page was first built
on; the verdict is the page's median over it (target ≤ 3×), with the
absolute time against the 200 ms target printed beside it.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta

from benchmarks.common import PG_ADMIN_URL, drop_pg, pg_database
from benchmarks.report import Verdicts, milliseconds

TARGET_RATIO = 3.0
TARGET_MS = 200.0
EMAIL, PASSWORD = "manager@bench.test", "pw-bench"
FIRST_NIGHT = date(2025, 1, 1)


def seed(stations: int, nights: int, per_night: int) -> int:
    """Schema, a manager and one project of `stations` stations with `per_night` captures a night (outages too)."""
    from webapp.extensions import db
    from webapp.models import Capture, Deployment, Membership, Project, User
    from webapp.sessions import regroup_deployment

    db.create_all()
    user = User(email=EMAIL)
    user.set_password(PASSWORD)
    project = Project(name="Bench", session_time_gap_seconds=7200, session_keying="night")
    db.session.add_all([user, project])
    db.session.flush()
    db.session.add(Membership(user_id=user.id, project_id=project.id, role="ProjectManager"))
    evening = datetime.combine(FIRST_NIGHT, datetime.min.time()) + timedelta(hours=21)
    last = evening + timedelta(days=nights - 1, minutes=per_night * 7)
    for index in range(stations):
        deployment = Deployment(name=f"Station {index:03d}", project_id=project.id, captures_count=0,
                                first_capture_timestamp=evening, last_capture_timestamp=last)
        db.session.add(deployment)
        db.session.flush()
        rows = [
            {"deployment_id": deployment.id, "path": f"{night}/{shot}.jpg",
             "timestamp": evening + timedelta(days=night, minutes=shot * 7), "size": 1}
            for night in range(nights)
            # A week-long outage in each station's spring, a different week per station.
            if not (60 + index % 50 <= night < 67 + index % 50)
            for shot in range(per_night + (night * 7 + index) % 5)
        ]
        db.session.execute(db.insert(Capture.__table__), rows)
    db.session.commit()
    # As after their syncs: each station regrouped, which stores its captures per night.
    for deployment in db.session.scalars(db.select(Deployment).filter_by(project_id=project.id)).all():
        regroup_deployment(deployment)
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()
    return project.id


def _median_ms(action, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def run(url: str, stations: int, nights: int, per_night: int, rounds: int) -> tuple[float, float, int]:
    """(page median ms, count query median ms, captures) for one database."""
    from webapp import create_app
    from webapp.charts import night_counts
    from webapp.extensions import db
    from webapp.models import Capture, Project

    end = FIRST_NIGHT + timedelta(days=nights - 1)
    path_of = lambda project_id: f"/projects/{project_id}/operation?start={FIRST_NIGHT}&end={end}"  # noqa: E731
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "HUEY_URL": "memory://",
                          "INSTANCE_PATH": instance, "WTF_CSRF_ENABLED": False})
        with app.app_context():
            project_id = seed(stations, nights, per_night)
            captures = db.session.scalar(db.select(db.func.count(Capture.id)))
        client = app.test_client()
        assert client.post("/login", data={"email": EMAIL, "password": PASSWORD}).status_code == 302
        path = path_of(project_id)

        def page():
            response = client.get(path)
            assert response.status_code == 200 and b"night of" in response.data
        for _ in range(2):  # warm the template and statement caches
            page()
        page_ms = _median_ms(page, rounds)
        with app.app_context():
            project = db.session.get(Project, project_id)
            count_ms = _median_ms(lambda: night_counts(project, FIRST_NIGHT, end), rounds)
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
    return page_ms, count_ms, captures


def report(backend: str, args, page_ms: float, count_ms: float, captures: int) -> list[str]:
    absolute = "within" if page_ms <= TARGET_MS else "over"
    return [
        f"{backend}: {args.stations} stations × {args.nights} nights, {captures:,} captures; "
        f"page {page_ms:.1f} ms (median of {args.rounds}), grouped count {count_ms:.1f} ms; "
        f"{absolute} the {TARGET_MS:.0f} ms target ({page_ms / TARGET_MS:.2f}×)",
        Verdicts().at_most(f"operation calendar on {backend}", page_ms, count_ms, "its count query", TARGET_RATIO,
                           show=milliseconds),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--nights", type=int, default=365)
    parser.add_argument("--per-night", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--pg", action="store_true", help="require PostgreSQL (fail if unreachable)")
    group.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    print(f"operation calendar benchmark — {os.cpu_count()} cores, SQLite {__import__('sqlite3').sqlite_version}, "
          f"{datetime.now().isoformat(timespec='minutes')}")
    with tempfile.TemporaryDirectory() as folder:
        for line in report("sqlite", args, *run(f"sqlite:///{folder}/operation.db", args.stations, args.nights,
                                                args.per_night, args.rounds)):
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
                for line in report("postgresql", args, *run(url, args.stations, args.nights, args.per_night,
                                                            args.rounds)):
                    print(line, flush=True)
            finally:
                drop_pg(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
