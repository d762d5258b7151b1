"""Station delete benchmark: `python -m benchmarks.station_delete [--sizes 200000]`.

How long a web write (saving a station's gap through the real page, POST →
303) waits on SQLite while another process deletes a big station. For each
size, on a fresh SQLite file holding that station (captures plus one session
per 1000 captures) and a small neighbour:

- floor: the write's latency with nothing else running (median of 20);
- batched: the delete job (`delete_deployment`, run by `run_job` in a child
  process, as a worker runs it: batches, a WAL checkpoint and a pause after
  each) while the parent writes every 20 ms;
- baseline: the same data deleted in one transaction (three DELETE
  statements) in a child process while the parent writes the same way.

Prints median, p95 and max write latency, how long each delete took, the
ratios against the floor, and two verdicts: the p95 write during the
batched delete costs at most 5 × the median write alone, and its worst write
waits at most a quarter of the worst write during the one-transaction
baseline (the worst is set by SQLite's busy handler, which sleeps up to
100 ms between retries, so it is judged against the design it replaced).
"""
import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta

from benchmarks.common import make_app, percentile
from benchmarks.report import Table, Verdicts, milliseconds

DEFAULT_SIZES = (200_000,)
P95_OVER_FLOOR = 5.0
WORST_OVER_BASELINE = 0.25
WRITE_EVERY_S = 0.02
FLOOR_WRITES = 20
TABLE = Table(
    ("mode", "<10"), ("captures", "9"), ("delete s", ".2f"), ("writes", ""), ("median ms", ".1f"), ("p95 ms", ".1f"),
    ("max ms", ".1f"), ("max/floor", ".1f"),
)
HEADER = TABLE.header


def _make_app(url: str, instance: str):
    return make_app(url, instance, WTF_CSRF_ENABLED=False, TESTING=True)


def _load(size: int, name: str) -> int:
    """A station of `size` captures (one session per 1000) in the bench project; returns its id."""
    from webapp.extensions import db
    from webapp.models import Deployment, Project

    project = db.session.scalar(db.select(Project).filter_by(name="Bench"))
    station = Deployment(name=name, project=project, captures_count=size)
    db.session.add(station)
    db.session.commit()
    raw = db.session.connection().connection.driver_connection
    start = datetime(2024, 1, 1, 21)
    raw.executemany(
        "INSERT INTO capture (deployment_id, path, timestamp, size) VALUES (?, ?, ?, ?)",
        ((station.id, f"n{i // 1000:05d}/{i:08d}.jpg", (start + timedelta(seconds=20 * i)).isoformat(sep=" "), 1000)
         for i in range(size)),
    )
    raw.executemany(
        "INSERT INTO event (deployment_id, project_id, group_by, captures_count) VALUES (?, ?, ?, ?)",
        ((station.id, project.id, f"s{i:06d}", 1000) for i in range(max(1, size // 1000))),
    )
    db.session.commit()
    return station.id


def _setup(app) -> tuple[str, int]:
    """The project, its manager (their login id) and the small station the web writes go to."""
    from webapp.extensions import db
    from webapp.models import Deployment, Membership, Project, User

    with app.app_context():
        db.create_all()
        user = User(email="bench@example.org")
        user.set_password("bench")
        project = Project(name="Bench")
        neighbour = Deployment(name="Neighbour", project=project)
        db.session.add_all([user, project, neighbour, Membership(user=user, project=project, role="ProjectManager")])
        db.session.commit()
        return user.get_id(), neighbour.id


def _client(app, login_id: str):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = login_id
        session["_fresh"] = True
    return client


def _write(client, station_id: int, n: int) -> float:
    began = time.perf_counter()
    response = client.post(f"/deployments/{station_id}/settings", data={"session_gap_hours": str(1 + n % 5)})
    elapsed = (time.perf_counter() - began) * 1000
    if response.status_code != 303:
        raise RuntimeError(f"the web write answered {response.status_code}")
    return elapsed


def _child_delete(url: str, instance: str, mode: str, station_id: int, job_id: int | None, started, done) -> None:
    app = _make_app(url, instance)
    with app.app_context():
        from webapp import jobs
        from webapp.extensions import db

        db.session.execute(db.text("SELECT 1"))
        started.set()
        began = time.perf_counter()
        if mode == "batched":
            job = jobs.run_job(job_id)
            assert job.status == "SUCCESS", job.logs
        else:
            for table in ("capture", "event", "deployment"):
                column = "id" if table == "deployment" else "deployment_id"
                db.session.execute(db.text(f"DELETE FROM {table} WHERE {column} = :d"), {"d": station_id})
            db.session.commit()
        done.put(time.perf_counter() - began)
        db.session.remove()
        db.engine.dispose()


def _during(app, client, url, instance, mode: str, station_id: int, neighbour_id: int) -> dict:
    """Write every WRITE_EVERY_S while a child process deletes the station one way or the other."""
    job_id = None
    if mode == "batched":
        from webapp.extensions import db
        from webapp.jobs import create_job
        from webapp.models import Deployment

        with app.app_context():
            station = db.session.get(Deployment, station_id)
            station.deleting = True
            db.session.commit()
            job_id = create_job("delete_deployment", station).id
    context = multiprocessing.get_context("spawn")
    started, done = context.Event(), context.Queue()
    child = context.Process(target=_child_delete, args=(url, instance, mode, station_id, job_id, started, done))
    child.start()
    # Writes start when the child is about to delete (importing the app takes a second).
    if not started.wait(timeout=120):
        raise RuntimeError(f"the {mode} delete child did not start")
    latencies = []
    while child.is_alive() and done.empty():
        latencies.append(_write(client, neighbour_id, len(latencies)))
        time.sleep(WRITE_EVERY_S)
    seconds = done.get(timeout=600)
    child.join(timeout=60)
    if child.exitcode != 0:
        raise RuntimeError(f"the {mode} delete child exited with {child.exitcode}")
    return {"delete_s": seconds, "latencies": latencies}


def _stats(latencies: list[float]) -> tuple[float, float, float]:
    if not latencies:
        return float("nan"), float("nan"), float("nan")
    return statistics.median(latencies), percentile(latencies, 0.95), max(latencies)


def measure(size: int) -> dict:
    """Floor, batched and baseline figures for one station size (fresh SQLite file)."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        app = _make_app(url, folder)
        login_id, neighbour_id = _setup(app)
        client = _client(app, login_id)
        floor = [_write(client, neighbour_id, n) for n in range(FLOOR_WRITES)]
        results = {"floor": floor}
        for mode in ("batched", "baseline"):
            with app.app_context():
                from webapp.extensions import db

                station_id = _load(size, f"Big {mode}")
                db.session.remove()
            results[mode] = _during(app, client, url, folder, mode, station_id, neighbour_id)
        with app.app_context():
            from webapp.extensions import db

            left = db.session.scalar(db.text("SELECT count(*) FROM capture"))
            db.session.remove()
            db.engine.dispose()
        if left:
            raise RuntimeError(f"{left} captures were left after both deletes")
    return results


def row(mode: str, size: int, delete_s, latencies: list[float], floor_ms: float) -> str:
    median, p95, worst = _stats(latencies)
    return TABLE.row(mode, size, delete_s, len(latencies), median, p95, worst, worst / floor_ms)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(f"station delete benchmark — {os.cpu_count()} cores, SQLite {__import__('sqlite3').sqlite_version}, "
          f"{datetime.now().isoformat(timespec='minutes')}")
    print(HEADER)
    verdicts = Verdicts()
    for size in sizes:
        m = measure(size)
        floor_ms = statistics.median(m["floor"])
        print(row("floor", size, None, m["floor"], floor_ms))
        for mode in ("batched", "baseline"):
            print(row(mode, size, m[mode]["delete_s"], m[mode]["latencies"], floor_ms), flush=True)
        writes = len(m["batched"]["latencies"])
        _, p95, worst = _stats(m["batched"]["latencies"]) if writes else (0, float("inf"), float("inf"))
        baseline_worst = _stats(m["baseline"]["latencies"])[2] if m["baseline"]["latencies"] else 0.0
        verdicts.at_most(f"p95 web write during the batched delete of {size} captures ({writes} writes)", p95,
                         floor_ms, "the median write alone", P95_OVER_FLOOR, show=milliseconds)
        verdicts.at_most(f"worst web write during the batched delete of {size} captures", worst, baseline_worst,
                         "the worst during a one-transaction delete", WORST_OVER_BASELINE, show=milliseconds)
    verdicts.print_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
