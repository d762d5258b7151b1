"""The scale-out shape under contention and faults: PostgreSQL + RedisHuey + gunicorn + several consumers.

Everything goes through what an operator or a client has: the HTTP API (token
auth) served by gunicorn, job rows, `flask --app wsgi worker` processes and
PostgreSQL itself. A regroup is held in the middle of its transaction with a
table lock that lets reads through but makes its first session write wait
(`sessions_table_locked`): the faults then land mid-regroup however fast the
regroup is. Each test is bounded by the deadlines of its waits.
"""
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import add_deployment, add_project, add_user
from tests.stack import (
    backend_pids,
    free_port,
    pg_connect,
    pg_redis_site,
    sessions_table_locked,
    stop,
    wait_until,
)
from webapp.extensions import db

pytestmark = [pytest.mark.scale, pytest.mark.e2e]

HEARTBEAT = 1
SWEEP = 2
SKIPPED = "another regroup is in progress"
NIGHT_SHOTS = 2000
SHORT_GAP = 3600


def insert_captures(site, deployment_id: int, count: int) -> None:
    """`count` captures in nights of 2,000 shots 10 s apart from 21:00, with a 90-minute pause after
    the first 1,000: one session a night with a 2 h gap, two with a 1 h gap. Set-based, in the database."""
    with pg_connect(site.db_url) as conn:
        conn.execute(
            "INSERT INTO capture (deployment_id, path, timestamp, size) "
            "SELECT %(d)s, 'night/' || g || '.jpg', timestamp '2024-01-01 21:00' "
            "+ (g / %(n)s) * interval '1 day' + ((g %% %(n)s) * 10) * interval '1 second' "
            "+ CASE WHEN g %% %(n)s >= %(n)s / 2 THEN interval '90 minutes' ELSE interval '0' END, 0 "
            "FROM generate_series(0, %(c)s - 1) AS g",
            {"d": deployment_id, "n": NIGHT_SHOTS, "c": count},
        )
        conn.execute("ANALYZE capture")


class Api:
    """The site's JSON API, as a script with a token sees it."""

    def __init__(self, site, token: str):
        import requests

        self.site, self.base = site, f"{site.base_url}/api/v2"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token}"

    def regroup(self, deployment_id: int):
        return self.http.post(f"{self.base}/deployments/{deployment_id}/regroup-sessions/", timeout=30)

    def job(self, job_id: int) -> dict:
        response = self.http.get(f"{self.base}/jobs/{job_id}/", timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def finished(self, job_id: int, timeout: float) -> dict:
        return wait_until(
            lambda: (job := self.job(job_id))["finished_at"] and job, f"job {job_id} never finished", timeout,
            self.site, interval=0.2,
        )

    def jobs(self, deployment_id: int) -> list[dict]:
        response = self.http.get(f"{self.base}/jobs/?deployment={deployment_id}&page_size=500", timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def set_gap(self, deployment_id: int, seconds: int) -> None:
        response = self.http.patch(
            f"{self.base}/deployments/{deployment_id}/", json={"session_time_gap_seconds": seconds}, timeout=30
        )
        assert response.status_code == 200, response.text

    def sessions(self, deployment_id: int) -> list[tuple]:
        rows, url = [], f"{self.base}/events/?deployment={deployment_id}&page_size=500"
        while url:
            page = self.http.get(url, timeout=30).json()
            rows += [(e["group_by"], e["start"], e["end"], e["captures_count"]) for e in page["results"]]
            url = page.get("next")
        return rows


def regroup_params(job: dict) -> dict:
    return {p["key"]: p["value"] for p in job["progress"]["stages"][0]["params"]}


def warned_skipped(job: dict) -> bool:
    return any(" WARNING " in line and SKIPPED in line for line in job["logs"]["stdout"])


def session_rows_are_sound(site, deployment_id: int, captures: int) -> None:
    """No duplicate session rows, no overlapping spans, and every capture counted once."""
    with pg_connect(site.db_url) as conn:
        duplicates = conn.execute(
            "SELECT group_by, count(*) FROM event WHERE deployment_id = %s GROUP BY group_by HAVING count(*) > 1",
            (deployment_id,),
        ).fetchall()
        overlaps = conn.execute(
            "SELECT count(*) FROM event a JOIN event b ON a.deployment_id = b.deployment_id AND a.id < b.id "
            "AND a.start_time <= b.end_time AND b.start_time <= a.end_time WHERE a.deployment_id = %s",
            (deployment_id,),
        ).fetchone()[0]
        counted = conn.execute(
            "SELECT coalesce(sum(captures_count), 0) FROM event WHERE deployment_id = %s", (deployment_id,)
        ).fetchone()[0]
    assert duplicates == [] and overlaps == 0
    assert counted == captures


@pytest.fixture
def people():
    """A project with a ProjectManager holding an API token; `people.station(n)` adds a station of n captures."""

    def setup(site):
        with site.app.app_context():
            manager = add_user("manager@scale.test", "pw")
            # One session per run: a 1 h gap splits each night in two, a 2 h gap does not.
            project = add_project(name="Scale", members=[(manager, "ProjectManager")], session_keying="run")
            token = manager.new_api_token()
            db.session.commit()
            project_id = project.id
            db.session.remove()

        def station(captures: int, name: str) -> int:
            with site.app.app_context():
                deployment_id = add_deployment(db.session.get(type(project), project_id), name=name).id
                db.session.remove()
            insert_captures(site, deployment_id, captures)
            return deployment_id

        return Api(site, token), station

    return setup


def test_fifty_regroups_of_one_station_at_once(tmp_path, people):
    """50 API calls at once for one station: all 202, one pass does the work, the rest say they were skipped."""
    captures = 100_000
    with pg_redis_site(tmp_path, consumers=3, web_workers=4, REAPER_INTERVAL_SECONDS=SWEEP) as site:
        api, station = people(site)
        busy, clean = station(captures, "Busy"), station(captures, "Clean")
        start = threading.Barrier(50)

        def call(_):
            start.wait()
            return api.regroup(busy)

        with sessions_table_locked(site):
            with ThreadPoolExecutor(50) as pool:
                answers = list(pool.map(call, range(50)))
            assert [r.status_code for r in answers] == [202] * 50, [r.text for r in answers if r.status_code != 202]
            job_ids = [r.json()["job_id"] for r in answers]
            # Held at its first session write, the first regroup is still running while the others
            # are handled; at most two jobs can be past their lock check then.
            wait_until(
                lambda: sum(bool(job["finished_at"]) for job in api.jobs(busy)) >= 48,
                "the concurrent regroups never finished", 60, site, interval=0.5,
            )
        wait_until(lambda: all(job["finished_at"] for job in api.jobs(busy)), "a regroup never finished", 120, site, 0.5)
        done = api.jobs(busy)
        assert sorted(job["id"] for job in done) == sorted(job_ids)
        assert all(job["status"] == "SUCCESS" for job in done), [j["logs"] for j in done if j["status"] != "SUCCESS"]
        worked = [job for job in done if regroup_params(job)["captures_grouped"] > 0]
        skipped = [job for job in done if regroup_params(job)["captures_grouped"] == 0]
        assert 1 <= len(worked) <= 2 and len(worked) + len(skipped) == 50
        assert all(warned_skipped(job) for job in skipped)
        assert not any(warned_skipped(job) for job in worked)

        alone = api.finished(api.regroup(clean).json()["job_id"], timeout=120)
        assert alone["status"] == "SUCCESS" and regroup_params(alone)["captures_grouped"] == captures
        busy_sessions = api.sessions(busy)
        assert len(busy_sessions) == captures // NIGHT_SHOTS
        assert busy_sessions == api.sessions(clean)
        session_rows_are_sound(site, busy, captures)
        assert "Traceback" not in (tmp_path / "gunicorn.log").read_text()


def test_worker_killed_mid_regroup_of_a_million_captures(tmp_path, people):
    """SIGKILL of a consumer mid-transaction: old sessions intact, job failed by the reaper, lock freed by its TTL."""
    # A short lock, so its expiry is waited for; the site refuses a job time limit the lock would not outlive.
    captures, ttl = 1_000_000, 30
    with pg_redis_site(
        tmp_path, consumers=3, web_workers=2, REAPER_INTERVAL_SECONDS=SWEEP, REGROUP_LOCK_TTL_SECONDS=ttl,
        JOB_TIME_LIMIT_SECONDS=ttl - 5,
    ) as site:
        api, station = people(site)
        deployment = station(captures, "Million")
        first = api.finished(api.regroup(deployment).json()["job_id"], timeout=180)
        assert first["status"] == "SUCCESS", first["logs"]
        before = api.sessions(deployment)
        assert len(before) == captures // NIGHT_SHOTS

        api.set_gap(deployment, SHORT_GAP)
        with sessions_table_locked(site):
            job_id = api.regroup(deployment).json()["job_id"]
            (_, worker_pid), *_ = wait_until(
                lambda: backend_pids(site, job_id, waiting_on_lock=True), "the regroup never reached its write", 90, site
            )
            consumer = next(p for p in site.processes if p.pid == os.getpgid(worker_pid))
            os.killpg(consumer.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            consumer.wait()
        site.start_consumer()

        lost = api.finished(job_id, timeout=2 * HEARTBEAT + SWEEP + 20)
        took = time.monotonic() - killed_at
        assert lost["status"] == "FAILURE"
        assert any("Worker lost" in line for line in lost["logs"]["stdout"])
        # 2 × heartbeat + one sweep, plus the time a loaded 2-core machine needs to run the sweep.
        assert took <= 2 * HEARTBEAT + SWEEP + 6, took
        assert api.sessions(deployment) == before

        def next_regroup_works():
            job = api.finished(api.regroup(deployment).json()["job_id"], timeout=180)
            assert job["status"] == "SUCCESS", job["logs"]
            return job if regroup_params(job)["captures_grouped"] else None

        after = wait_until(next_regroup_works, "no regroup succeeded after the lock's TTL", ttl + SWEEP + 30, site, 0.5)
        assert regroup_params(after)["captures_grouped"] == captures
        assert len(api.sessions(deployment)) == 2 * captures // NIGHT_SHOTS
        session_rows_are_sound(site, deployment, captures)


def test_database_connection_dropped_mid_job(tmp_path, people):
    """pg_terminate_backend on the job's connection: FAILURE saying so, data intact, the same worker runs the next job."""
    captures = 20_000
    with pg_redis_site(tmp_path, consumers=1, web_workers=1, REAPER_INTERVAL_SECONDS=SWEEP) as site:
        api, station = people(site)
        deployment = station(captures, "Dropped")
        assert api.finished(api.regroup(deployment).json()["job_id"], timeout=60)["status"] == "SUCCESS"
        before = api.sessions(deployment)
        api.set_gap(deployment, SHORT_GAP)

        with sessions_table_locked(site):
            job_id = api.regroup(deployment).json()["job_id"]
            (backend, worker_pid), *_ = wait_until(
                lambda: backend_pids(site, job_id, waiting_on_lock=True), "the regroup never reached its write", 60, site
            )
            with pg_connect(site.db_url, autocommit=True) as conn:
                assert conn.execute("SELECT pg_terminate_backend(%s)", (backend,)).fetchone()[0] is True
            failed = api.finished(job_id, timeout=30)
        assert failed["status"] == "FAILURE"
        assert any("database connection was lost" in line for line in failed["logs"]["stdout"]), failed["logs"]
        assert failed["progress"]["stages"][0]["status"] == "FAILURE"
        assert api.sessions(deployment) == before

        again = api.finished(api.regroup(deployment).json()["job_id"], timeout=60)
        assert again["status"] == "SUCCESS", again["logs"]
        assert len(api.sessions(deployment)) == 2 * captures // NIGHT_SHOTS
        os.kill(worker_pid, 0)  # the worker process that lost its connection is the one still serving
        session_rows_are_sound(site, deployment, captures)


def start_redis(port: int, tmp_path) -> subprocess.Popen:
    """A private redis-server without persistence (a restart loses what it held, the worst case)."""
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )
    import redis

    wait_until(lambda: _pings(redis, port), f"redis-server on {port} never answered", 10)
    return process


def _pings(redis, port) -> bool:
    try:
        return redis.Redis(port=port, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


def test_redis_restarted_mid_run(tmp_path, people):
    """A queue restart loses the waiting task: its job is failed by the reaper, never PENDING for ever;
    the consumers reconnect and run what comes next."""
    port = free_port()
    redis_server = start_redis(port, tmp_path)
    try:
        with pg_redis_site(
            tmp_path, consumers=1, web_workers=1, redis_url=f"redis://127.0.0.1:{port}/0",
            REAPER_INTERVAL_SECONDS=SWEEP, JOB_QUEUE_LOST_SECONDS=3,
        ) as site:
            api, station = people(site)
            busy, waiting = station(20_000, "Busy"), station(2_000, "Waiting")
            with sessions_table_locked(site):
                running = api.regroup(busy).json()["job_id"]
                wait_until(lambda: backend_pids(site, running, waiting_on_lock=True), "the regroup never started", 60, site)
                queued = api.regroup(waiting).json()["job_id"]
                assert api.job(queued)["status"] == "PENDING"
                stop(redis_server)
                # While the queue is down a new job fails at once and says why (503), never a silent PENDING.
                refused = api.regroup(waiting)
                assert refused.status_code == 503, refused.text
                redis_server = start_redis(port, tmp_path)
            assert api.finished(running, timeout=60)["status"] == "SUCCESS"

            lost = api.finished(queued, timeout=3 + 2 * SWEEP + 30)
            if lost["status"] == "FAILURE":
                assert any("Queued task lost" in line for line in lost["logs"]["stdout"]), lost["logs"]
            else:
                assert lost["status"] == "SUCCESS", lost["logs"]
            after = api.finished(api.regroup(waiting).json()["job_id"], timeout=60)
            assert after["status"] == "SUCCESS", after["logs"]
            assert regroup_params(after)["captures_grouped"] == 2_000
    finally:
        stop(redis_server)
