"""Regroups through a real `flask --app wsgi worker -w 2` on SQLite (the embedded shape):
two overlapping regroups of one station, and a cancel during a pass."""
import time
from datetime import datetime, timedelta

import pytest

from tasks.jobs import tasks_on
from tests.jobs.test_jobs_e2e import finished, new_station, params, station_folder
from tests.stack import Site
from webapp import jobs
from webapp.extensions import db
from webapp.models import Event, Job, Lock
from webapp.sessions import lock_key

pytestmark = pytest.mark.e2e

CAPTURES = 300_000


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("regroup-e2e")
    site = Site(root, f"sqlite:///{root / 'app.db'}", f"sqlite:///{root / 'huey.db'}", "ami-sessions")
    site.start_consumer(workers=2)
    yield site
    site.stop_all()


@pytest.fixture
def ctx(site):
    with site.app.app_context():
        yield site
        db.session.remove()


def big_station(site):
    """A station with CAPTURES captures over 100 nights, inserted in bulk."""
    deployment = new_station(site, station_folder(site, []))
    start = datetime(2024, 1, 1, 20, 0)
    raw = db.session.connection().connection.driver_connection
    raw.executemany(
        "INSERT INTO capture (deployment_id, path, timestamp, size) VALUES (?, ?, ?, 0)",
        (
            (deployment.id, f"{i}.jpg", (start + timedelta(days=i // 3000, seconds=5 * (i % 3000))).isoformat(sep=" ", timespec="microseconds"))
            for i in range(CAPTURES)
        ),
    )
    db.session.commit()
    return deployment


def lock_row(connection, deployment_id):
    return connection.execute(db.select(Lock.owner).where(Lock.key == lock_key(deployment_id))).first()


def wait_until_locked(deployment_id, job_id, timeout=30.0) -> bool:
    """Poll until the station's lock is held (True) or the job finished without our seeing it (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.engine.connect() as conn:
            if lock_row(conn, deployment_id) is not None:
                return True
            status = conn.execute(db.select(Job.status).where(Job.id == job_id)).scalar()
        if status in ("SUCCESS", "FAILURE", "REVOKED"):
            return False
        time.sleep(0.002)
    raise AssertionError("the regroup never took the station's lock")


def test_two_overlapping_regroups_of_one_station_show_the_warning(ctx):
    """The first regroup is held inside its pass (the test holds SQLite's write lock, so it can neither
    write its sessions nor release its lock) while the second one runs: no timing luck involved."""
    deployment = big_station(ctx)
    for _ in range(5):
        first = jobs.enqueue(jobs.create_job("regroup_events", deployment), queue=ctx.queue)
        second = jobs.create_job("regroup_events", deployment)
        if not wait_until_locked(deployment.id, first.id):
            finished(ctx, second_run(ctx, second), timeout=60)
            continue
        writer = db.engine.connect()
        writer.exec_driver_sql("BEGIN IMMEDIATE")
        if lock_row(writer, deployment.id) is not None:
            break
        writer.rollback()
        writer.close()
        finished(ctx, first, timeout=60)
        finished(ctx, second_run(ctx, second), timeout=60)
    else:
        pytest.fail("the first regroup never held its lock long enough to be caught")
    try:
        # Queued straight on Huey: the job row already exists and the database is ours to write for now.
        second_run(ctx, second)
        deadline = time.monotonic() + 20
        while f"regroup skipped for deployment {deployment.id}" not in ctx.logs(tail=None):
            assert time.monotonic() < deadline, ctx.logs()[-3000:]
            time.sleep(0.05)
    finally:
        writer.rollback()
        writer.close()
    first, second = finished(ctx, first, timeout=60), finished(ctx, second, timeout=60)
    assert first.status == "SUCCESS" and params(first, "regroup_events")["captures_grouped"] == CAPTURES, first.logs
    assert second.status == "SUCCESS", second.logs
    assert params(second, "regroup_events")["captures_grouped"] == 0
    assert any(" WARNING " in line and "another regroup is in progress" in line for line in second.logs["stdout"])
    assert db.session.scalar(db.select(db.func.count(Event.id)).filter_by(deployment_id=deployment.id)) == 100


def second_run(site, job: Job) -> Job:
    limit = float(site.app.config["JOB_TIME_LIMIT_SECONDS"])
    site.queue.enqueue(tasks_on(site.queue).run_job.s(job.id, limit, id=jobs.job_task_id(job.id)))
    return job


def test_a_cancel_lands_during_a_regroup_pass_of_300k_captures(ctx):
    deployment = big_station(ctx)
    for _ in range(3):
        job = jobs.enqueue(jobs.create_job("regroup_events", deployment), queue=ctx.queue)
        if not wait_until_locked(deployment.id, job.id):
            continue
        asked = time.monotonic()
        jobs.cancel(db.session.get(Job, job.id), queue=ctx.queue)
        job = finished(ctx, job, timeout=60)
        seen = time.monotonic() - asked
        if job.status == "SUCCESS":
            continue  # the pass ended before the request was written; try again
        break
    assert job.status == "REVOKED", job.logs
    assert "Cancelled while running" in job.logs["stdout"][-1]
    assert seen < 1.5, seen
    assert db.session.scalar(db.select(db.func.count(Event.id)).filter_by(deployment_id=deployment.id)) == 0
    with db.engine.connect() as conn:
        assert lock_row(conn, deployment.id) is None
