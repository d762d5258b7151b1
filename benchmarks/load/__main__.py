"""Load run: `python -m benchmarks.load` (`make load`). Targets 127.0.0.1 only, bounded in users and time.

1. A throw-away PostgreSQL database (`flask init-db`), one project with
   LOAD_STATIONS stations (1,000) and LOAD_CAPTURES captures (1M) spread over
   them, inserted set-based; every station regrouped by a real job, so the
   site has sessions and finished jobs to show.
2. gunicorn with 4 workers against that database and a Redis queue of its own.
3. locust, headless: LOAD_USERS (50) users for LOAD_SECONDS (60 s); see
   locustfile.py for what they do.
4. p50/p95/p99 and errors per route against the goals, then the slowest SQL
   statement of each route, run once more under EXPLAIN ANALYZE.

Environment: TEST_PG_ADMIN_URL (postgresql://127.0.0.1:5432/test), LOAD_REDIS_URL
(redis://127.0.0.1:6379/0), LOAD_KEEP_DB=1 keeps the database, LOAD_DATABASE=<name>
runs against a kept one instead of building a new one.
"""
import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/0")
STATIONS = int(os.environ.get("LOAD_STATIONS", "1000"))
CAPTURES = int(os.environ.get("LOAD_CAPTURES", "1000000"))
USERS = min(int(os.environ.get("LOAD_USERS", "50")), 200)
SECONDS = min(int(os.environ.get("LOAD_SECONDS", "60")), 600)
WEB_WORKERS = int(os.environ.get("WEB_WORKERS", "4"))
EMAIL, PASSWORD = "load@example.org", "load-password"
# p95 goals in ms, per route name (locustfile.py).
GOALS = {"job status fragment": 100, "stations list (sorted, paged)": 300}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def build_site(url: str, env: dict) -> dict:
    """Schema through the migrations, then the network: users, project, stations, captures, sessions, jobs."""
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "init-db"], cwd=REPO, env=env, check=True)
    from webapp import create_app, jobs
    from webapp.extensions import db
    from webapp.models import Deployment, Membership, Project, User

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": env["SECRET_KEY"], "HUEY_URL": "memory://",
                      "INSTANCE_PATH": Path(env["LOAD_INSTANCE"])})
    with app.app_context():
        user = User(email=EMAIL)
        user.set_password(PASSWORD)
        project = Project(name="National network")
        db.session.add_all([user, project, Membership(user=user, project=project, role="ProjectManager")])
        db.session.flush()
        db.session.execute(
            db.insert(Deployment),
            [{"name": f"Station {i:04d}", "project_id": project.id} for i in range(STATIONS)],
        )
        db.session.commit()
        project_id = project.id
        station_ids = db.session.scalars(db.select(Deployment.id).where(Deployment.project_id == project.id)).all()
        started = time.monotonic()
        per_station = CAPTURES // STATIONS
        # Each station: nights of 200 shots 60 s apart from 21:00 (one session a night).
        db.session.execute(
            db.text(
                "INSERT INTO capture (deployment_id, path, timestamp, size) "
                "SELECT d.id, 'c/' || g || '.jpg', timestamp '2024-01-01 21:00' "
                "+ (g / 200) * interval '1 day' + ((g % 200) * 60) * interval '1 second', 0 "
                "FROM deployment d CROSS JOIN generate_series(0, :n - 1) AS g WHERE d.project_id = :p"
            ),
            {"n": per_station, "p": project.id},
        )
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        log(f"{per_station * len(station_ids):,} captures inserted in {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        job_ids = []
        for station_id in station_ids:
            job = jobs.create_job("regroup_events", db.session.get(Deployment, station_id))
            job_ids.append(jobs.run_job(job.id).id)
            db.session.remove()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        log(f"{len(station_ids)} stations regrouped (one job each) in {time.monotonic() - started:.0f} s")
        return {"app": app, "project_id": project_id, "station_ids": station_ids, "job_ids": job_ids}


def start_gunicorn(env: dict, port: int, out) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(WEB_WORKERS), "--bind", f"127.0.0.1:{port}",
         "--no-control-socket", "wsgi:app"],
        cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )
    import urllib.request

    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2)
            return server
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not answer within 60 s")
            time.sleep(0.3)


def report(stats_csv: Path) -> bool:
    """Per route: requests, errors, p50/p95/p99 against the goals. True when every goal is met."""
    rows = [row for row in csv.DictReader(stats_csv.open()) if row["Name"] != "Aggregated"]
    ok = True
    print(f"\n{'route':<32} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}  goal")
    for row in sorted(rows, key=lambda r: r["Name"]):
        name, failures = row["Name"], int(row["Failure Count"])
        p95 = float(row["95%"])
        goal = GOALS.get(name)
        verdict = ""
        if goal is not None:
            met = p95 <= goal and failures == 0
            ok &= met
            verdict = f"p95 <= {goal} ms: {'PASS' if met else 'FAIL'}"
        elif failures:
            ok = False
            verdict = "errors: FAIL"
        print(f"{name:<32} {row['Request Count']:>8} {failures:>6} {row['50%']:>7} {row['95%']:>7} {row['99%']:>7}  {verdict}")
    return ok


def explain_routes(site: dict) -> None:
    """Each route once in-process; the slowest statement it ran, under EXPLAIN ANALYZE."""
    import re

    from sqlalchemy import event

    from webapp.extensions import db

    app = site["app"]
    routes = {
        "stations list (sorted, paged)": f"/projects/{site['project_id']}/?sort=captures&dir=desc&page=10",
        "station page": f"/deployments/{site['station_ids'][len(site['station_ids']) // 2]}/",
        "job status fragment": f"/jobs/{site['job_ids'][-1]}/status",
    }
    client = app.test_client()
    with app.app_context():
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf-token" content="([^"]+)"', page)
        client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": next(g for g in token.groups() if g)})
        for name, path in routes.items():
            timings = []

            def before(conn, cursor, statement, parameters, context, executemany):
                conn.info["started"] = time.perf_counter()

            def after(conn, cursor, statement, parameters, context, executemany):
                timings.append((time.perf_counter() - conn.info.pop("started"), statement, parameters))

            client.get(path)  # warm
            event.listen(db.engine, "before_cursor_execute", before)
            event.listen(db.engine, "after_cursor_execute", after)
            try:
                started = time.perf_counter()
                client.get(path)
                took = time.perf_counter() - started
            finally:
                event.remove(db.engine, "before_cursor_execute", before)
                event.remove(db.engine, "after_cursor_execute", after)
            total = sum(t for t, _, _ in timings)
            print(f"\n## {name} — {path}\nin-process {took * 1000:.1f} ms; {len(timings)} statements, "
                  f"{total * 1000:.1f} ms as the app sees them (round trip + fetch), server execution below:")
            plans = []
            with db.engine.connect() as conn:
                for seen, statement, parameters in timings:
                    plan = [line for (line,) in conn.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS OFF) " + statement, parameters
                    ).fetchall()]
                    executed = float(re.search(r"Execution Time: ([\d.]+) ms", plan[-1]).group(1))
                    plans.append((executed, seen, " ".join(statement.split()), plan))
            for executed, seen, statement, _ in sorted(plans, key=lambda p: -p[0]):
                print(f"  {executed:7.3f} ms server, {seen * 1000:6.1f} ms app  {statement[:110]}")
            executed, _, statement, plan = max(plans, key=lambda p: p[0])
            print(f"dominant ({executed:.3f} ms): {statement}")
            print("\n".join(f"    {line}" for line in plan))


def existing_site(url: str, env: dict) -> dict:
    """The site a previous run kept (LOAD_KEEP_DB=1), found again by LOAD_DATABASE."""
    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import Deployment, Job, Project

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": env["SECRET_KEY"], "HUEY_URL": "memory://",
                      "INSTANCE_PATH": Path(env["LOAD_INSTANCE"])})
    with app.app_context():
        project_id = db.session.scalar(db.select(Project.id).filter_by(name="National network"))
        station_ids = db.session.scalars(db.select(Deployment.id).where(Deployment.project_id == project_id)).all()
        job_ids = db.session.scalars(db.select(Job.id).where(Job.project_id == project_id)).all()
        db.session.remove()
    return {"app": app, "project_id": project_id, "station_ids": station_ids, "job_ids": job_ids}


def signed_in_cookie(base_url: str) -> str:
    """One sign-in, whose session cookie every simulated user reuses: the run measures browsing,
    not 50 password hashes at once."""
    import re
    from http.cookiejar import CookieJar
    from urllib.parse import urlencode
    from urllib.request import HTTPCookieProcessor, build_opener

    jar = CookieJar()
    opener = build_opener(HTTPCookieProcessor(jar))
    page = opener.open(f"{base_url}/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf-token" content="([^"]+)"', page)
    form = {"email": EMAIL, "password": PASSWORD, "csrf_token": next(g for g in token.groups() if g)}
    opener.open(f"{base_url}/login", data=urlencode(form).encode())
    return next(cookie.value for cookie in jar if cookie.name == "session")


def main() -> int:
    reuse = os.environ.get("LOAD_DATABASE")
    name = reuse or f"ami_load_{uuid.uuid4().hex[:10]}"
    if not reuse:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    work = Path(tempfile.mkdtemp(prefix="ami-load-"))
    env = {**os.environ, "DATABASE_URL": url, "HUEY_URL": REDIS_URL, "HUEY_NAME": name, "SECRET_KEY": uuid.uuid4().hex,
           "LOAD_INSTANCE": str(work / "instance"), "DATA_SOURCE_ROOTS": str(work / "data")}
    server = None
    try:
        log(f"database {name}: {STATIONS} stations, {CAPTURES:,} captures")
        site = existing_site(url, env) if reuse else build_site(url, env)
        port = free_port()
        server = start_gunicorn(env, port, open(work / "gunicorn.log", "wb"))
        log(f"gunicorn ({WEB_WORKERS} workers) on 127.0.0.1:{port}; locust: {USERS} users for {SECONDS} s")
        locust_env = {**env, "LOAD_COOKIE": signed_in_cookie(f"http://127.0.0.1:{port}"),
                      "LOAD_PROJECT_ID": str(site["project_id"]),
                      "LOAD_STATION_IDS": ",".join(map(str, site["station_ids"])),
                      "LOAD_JOB_IDS": ",".join(map(str, site["job_ids"]))}
        subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(Path(__file__).with_name("locustfile.py")), "--headless",
             "--host", f"http://127.0.0.1:{port}", "-u", str(USERS), "-r", str(max(1, USERS // 10)),
             "-t", f"{SECONDS}s", "--stop-timeout", "5", "--reset-stats", "--csv", str(work / "load"), "--only-summary"],
            cwd=REPO, env=locust_env, check=False, timeout=SECONDS + 120,
        )
        ok = report(work / "load_stats.csv")
        explain_routes(site)
        print(f"\n{'PASS' if ok else 'FAIL'}: goals p95 <= {GOALS} and 0 errors; files in {work}")
        return 0 if ok else 1
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        if os.environ.get("LOAD_KEEP_DB") == "1":
            print(f"kept: LOAD_DATABASE={name} reruns against this site without building it again")
        else:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
