"""A running site as it is deployed: a database, a queue, consumer processes and gunicorn.

Used by the end-to-end job tests (both shapes: SQLite + SqliteHuey, and
PostgreSQL + RedisHuey) and by the scale tests. Everything runs as real
processes on 127.0.0.1; each site has a database and a queue name of its own.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import pytest

from tasks import make_huey
from webapp import create_app
from webapp.config import REPO_ROOT
from webapp.extensions import db

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "stack-secret"
APPLICATION_NAME = re.compile(r"\(pid (\d+)\)")


def required(what: str) -> None:
    """Skip when a service is missing, except under CI=true, where it fails the test."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required under CI=true but does not answer.")
    pytest.skip(f"{what} does not answer")


def require_postgresql() -> None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return
    except psycopg.Error:
        required(f"PostgreSQL at {PG_ADMIN_URL}")


def require_redis(url: str = REDIS_URL) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError:
        required(f"Redis at {url}")


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A PostgreSQL database of its own (SQLAlchemy URL), dropped afterwards."""
    import psycopg

    require_postgresql()
    name = f"ami_stack_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_connect(sqlalchemy_url: str, **kwargs):
    """A plain psycopg connection to a site's database (for what the test does behind the site's back)."""
    import psycopg

    return psycopg.connect(sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://"), **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass


class Site:
    """One site: its app (for the test's own reads and writes), its environment and its processes."""

    def __init__(self, root: Path, db_url: str, queue_url: str, queue_name: str, **env):
        self.root, self.db_url, self.queue_url, self.queue_name = root, db_url, queue_url, queue_name
        self.data = root / "data"
        self.data.mkdir(exist_ok=True)
        self.app = create_app({
            "TESTING": True, "SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": db_url,
            "INSTANCE_PATH": root / "instance", "HUEY_URL": queue_url, "DATA_SOURCE_ROOTS": [str(self.data)],
        })
        with self.app.app_context():
            try:
                db.create_all()
            finally:
                db.session.remove()
                db.engine.dispose()
        self.queue = make_huey(queue_url, name=queue_name)
        self.env = {
            "DATABASE_URL": db_url, "HUEY_URL": queue_url, "HUEY_NAME": queue_name,
            "DATA_SOURCE_ROOTS": str(self.data), "SECRET_KEY": SECRET, "JOB_HEARTBEAT_SECONDS": "1",
            **{key: str(value) for key, value in env.items()},
        }
        self.processes: list[subprocess.Popen] = []
        self.base_url: str | None = None

    @property
    def postgresql(self) -> bool:
        return self.db_url.startswith("postgresql")

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        with open(self.root / log_name, "ab") as out:
            process = subprocess.Popen(
                args, cwd=REPO_ROOT, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def start_consumer(self, workers: int = 1) -> subprocess.Popen:
        """`flask --app wsgi worker -w N`, as on one worker machine."""
        index = sum(1 for p in self.processes if "worker" in p.args)
        return self._spawn(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "-w", str(workers)], f"consumer-{index}.log"
        )

    def start_web(self, workers: int = 4, threads: int = 1) -> str:
        """gunicorn with `workers` processes (of `threads` threads each) on a free port of 127.0.0.1;
        returns its base URL once it answers."""
        import requests

        port = free_port()
        self._spawn(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
             "--bind", f"127.0.0.1:{port}", "--timeout", "60", "--no-control-socket", "wsgi:app"],
            "gunicorn.log",
        )
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{self.base_url}/login", timeout=2).status_code == 200:
                    return self.base_url
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"gunicorn never answered:\n{self.logs()}"
            time.sleep(0.2)

    def logs(self, tail: int | None = 3000) -> str:
        """The output of the site's processes, each cut to its last `tail` characters (None: whole)."""
        texts = ((p.name, p.read_text(errors="replace")) for p in sorted(self.root.glob("*.log")))
        return "\n".join(f"--- {name}\n{text[-tail:] if tail else text}" for name, text in texts)

    def stop_all(self) -> None:
        for process in self.processes:
            stop(process)
        self.processes.clear()
        self.queue.flush()


@contextmanager
def pg_redis_site(root: Path, consumers: int = 3, web_workers: int | None = None, redis_url: str = REDIS_URL,
                  **env) -> Iterator[Site]:
    """PostgreSQL (a fresh database) + RedisHuey (a queue name of its own), `consumers` consumer processes,
    and gunicorn if `web_workers` is given."""
    require_redis(redis_url)
    with fresh_pg_database() as url:
        site = Site(root, url, redis_url, f"ami-test-{uuid.uuid4().hex[:8]}", **env)
        try:
            for _ in range(consumers):
                site.start_consumer()
            if web_workers:
                site.start_web(web_workers)
            yield site
        finally:
            site.stop_all()
            with site.app.app_context():
                db.engine.dispose()


def backend_pids(site: Site, job_id: int, waiting_on_lock: bool = False) -> list[tuple[int, int]]:
    """(backend pid, worker process pid) of the PostgreSQL connections a job's work uses now."""
    sql = (
        "SELECT pid, application_name FROM pg_stat_activity "
        "WHERE application_name LIKE %s AND state <> 'idle'"
        + (" AND wait_event_type = 'Lock'" if waiting_on_lock else "")
    )
    with pg_connect(site.db_url, autocommit=True) as conn:
        rows = conn.execute(sql, (f"ami-sessions job {job_id} (pid %",)).fetchall()
    return [(pid, int(APPLICATION_NAME.search(name).group(1))) for pid, name in rows]


@contextmanager
def sessions_table_locked(site: Site) -> Iterator[None]:
    """Hold a lock that lets readers through but makes any write to the session table wait.

    A regroup that changes sessions then stops at its first session write, in
    the middle of its transaction, for as long as the test needs, however fast
    the regroup itself is.
    """
    with pg_connect(site.db_url) as conn:
        conn.execute("LOCK TABLE event IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


def wait_until(predicate, what: str, timeout: float, site: Site | None = None, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy; fail with `what` (and the site's logs) after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (after {timeout} s)" + (f"\n{site.logs()}" if site else ""))
        time.sleep(interval)


def site_namespace(site: Site) -> SimpleNamespace:
    return SimpleNamespace(app=site.app, data=site.data, queue=site.queue, env=site.env, log=site.root / "consumer-0.log")
