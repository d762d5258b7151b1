"""Jobs through real `flask --app wsgi worker` processes, in both shapes the site runs in:

- embedded: SQLite database, SqliteHuey queue, one consumer with 4 process workers;
- scale-out: PostgreSQL (a fresh database) and RedisHuey (a queue name of its
  own, `HUEY_NAME`), three consumer processes as on three worker machines.

The test process feeds the workers' queue through its own Huey instance on the
same storage (`jobs.enqueue(job, queue=…)`) and watches the job rows.
"""
import os
import time
import uuid
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import add_deployment, add_project, add_source
from tests.stack import Site, pg_redis_site
from webapp import jobs
from webapp.extensions import db
from webapp.models import Capture, Event, Job

pytestmark = pytest.mark.e2e

SHAPES = ["sqlite", "postgresql+redis"]


@pytest.fixture(scope="module", params=SHAPES)
def site(request, tmp_path_factory):
    """One running site per shape, shared by this module's tests."""
    root = tmp_path_factory.mktemp("e2e")
    with ExitStack() as stack:
        if request.param == "sqlite":
            site = Site(root, f"sqlite:///{root / 'app.db'}", f"sqlite:///{root / 'huey.db'}", "ami-sessions")
            stack.callback(site.stop_all)
            site.start_consumer(workers=4)
        else:
            site = stack.enter_context(pg_redis_site(root, consumers=3))
        yield site


@pytest.fixture
def ctx(site):
    with site.app.app_context():
        yield site
        db.session.remove()


def station_folder(site, files) -> Path:
    folder = site.data / uuid.uuid4().hex[:8]
    folder.mkdir()
    for name in files:
        (folder / name).write_bytes(b"")
    return folder


def new_station(site, folder) -> object:
    project = add_project(name=f"P {folder.name}")
    add_source(folder, project)
    return add_deployment(project, data_source=str(folder))


def wait_for(site, job_id, until, what, timeout=20.0) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        if until(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} never {what}: {job.status} {job.logs}\n{site.logs()}")
        db.session.rollback()
        time.sleep(0.05)


def finished(site, job, timeout=20.0) -> Job:
    return wait_for(site, job.id, lambda j: j.is_finished, "finished", timeout)


def params(job, stage_key):
    return {p["key"]: p["value"] for p in job.stage(stage_key)["params"]}


def times(n, start=datetime(2024, 6, 1, 21, 0)):
    return [f"{(start + timedelta(seconds=30 * i)):%Y%m%d_%H%M%S}.jpg" for i in range(n)]


def test_sync_then_regroup_through_a_worker(ctx):
    folder = station_folder(ctx, times(5) + times(3, datetime(2024, 6, 2, 22, 0)) + ["IMG_1.jpg"])
    deployment = new_station(ctx, folder)
    sync = finished(ctx, jobs.enqueue(jobs.create_job("data_storage_sync", deployment), queue=ctx.queue))
    assert sync.status == "SUCCESS", sync.logs
    assert [s["status"] for s in sync.stages] == ["SUCCESS", "SUCCESS", "SUCCESS"]
    # The files are empty: each example thumbnail fails, is counted, and the sync still succeeds.
    assert params(sync, "thumbnails") == {"generated": 0, "reused": 0, "failed": 6}
    assert params(sync, "data_storage_sync")["captures_added"] == 9
    assert params(sync, "data_storage_sync")["failed"] == 1
    assert params(sync, "regroup_sessions")["captures_grouped"] == 8
    assert params(sync, "regroup_sessions")["events_created"] == 2
    assert sync.heartbeat_at is not None and sync.started_at <= sync.finished_at

    regroup = finished(ctx, jobs.enqueue(jobs.create_job("regroup_events", deployment), queue=ctx.queue))
    assert regroup.status == "SUCCESS", regroup.logs
    assert params(regroup, "regroup_events")["events_touched"] == 0
    assert db.session.scalar(db.select(db.func.count(Event.id)).filter_by(deployment_id=deployment.id)) == 2


def feed_fifo(fifo: Path, timeout=10.0) -> None:
    """Write to the FIFO once the worker has opened it for reading, then close it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            assert time.monotonic() < deadline, "the worker never opened the FIFO"
            time.sleep(0.02)
            continue
        os.write(fd, b"not an image")
        os.close(fd)
        return


def slow_station(site):
    """1001 files; the first has no time in its name, so the sync reads its EXIF,
    and it is a FIFO: the sync blocks on it until the test writes to it."""
    folder = station_folder(site, times(1000))
    os.mkfifo(folder / "0000_no_time.jpg")
    return new_station(site, folder), folder / "0000_no_time.jpg"


def test_running_job_shows_its_log_beats_and_cancels(ctx):
    deployment, fifo = slow_station(ctx)
    job = jobs.enqueue(jobs.create_job("data_storage_sync", deployment), queue=ctx.queue)
    # The listing streams: the job logs that it is listing, then blocks reading the FIFO's EXIF.
    running = wait_for(ctx, job.id, lambda j: any("Listing" in line for line in j.logs["stdout"]), "logged")
    assert running.status == "STARTED" and running.finished_at is None
    assert running.stage("data_storage_sync")["status"] == "STARTED"
    first_beat = running.heartbeat_at
    # Blocked in one step, the job still beats (JOB_HEARTBEAT_SECONDS=1 in the worker).
    wait_for(ctx, job.id, lambda j: j.heartbeat_at > first_beat, "beat", timeout=5)

    assert jobs.cancel(db.session.get(Job, job.id), queue=ctx.queue).status == "CANCELING"
    feed_fifo(fifo)
    job = finished(ctx, job)
    assert job.status == "REVOKED", job.logs
    assert [s["status"] for s in job.stages] == ["REVOKED", "CREATED", "CREATED"]
    # The cancel is seen inside the first batch (checked by time, not per batch): nothing was added.
    assert db.session.scalar(db.select(db.func.count(Capture.id)).filter_by(deployment_id=deployment.id)) == 0
    assert "Cancelled while running" in job.logs["stdout"][-1]


def test_a_step_that_overruns_the_time_limit_fails_the_job(ctx):
    deployment, fifo = slow_station(ctx)
    ctx.app.config["JOB_TIME_LIMIT_SECONDS"] = 1
    try:
        job = jobs.enqueue(jobs.create_job("data_storage_sync", deployment), queue=ctx.queue)
    finally:
        ctx.app.config["JOB_TIME_LIMIT_SECONDS"] = 600
    job = finished(ctx, job)
    assert job.status == "FAILURE"
    assert any("exceeded its time limit of 1 s" in line for line in job.logs["stdout"])
    assert "TaskTimeout" in job.logs["stdout"][-1]
    assert "Traceback" in job.logs["traceback"]
    assert not any("Traceback" in line for line in job.logs["stderr"])
    assert job.stage("data_storage_sync")["status"] == "FAILURE"
    assert (job.finished_at - job.started_at).total_seconds() < 5


def test_concurrent_regroups_of_one_station_equal_a_single_run(ctx):
    from webapp.sessions import regroup_deployment

    deployment = new_station(ctx, station_folder(ctx, []))
    start = datetime(2024, 6, 1, 20, 0)
    rows = [
        {"deployment_id": deployment.id, "path": f"{i}.jpg", "size": 0,
         "timestamp": start + timedelta(days=i // 2000, seconds=10 * (i % 2000))}
        for i in range(20000)
    ]
    db.session.execute(db.insert(Capture), rows)
    db.session.commit()
    queued = [jobs.enqueue(jobs.create_job("regroup_events", deployment), queue=ctx.queue) for _ in range(4)]
    done = [finished(ctx, job, timeout=60) for job in queued]
    assert all(job.status == "SUCCESS" for job in done), [job.logs for job in done]
    grouped = [params(job, "regroup_events")["captures_grouped"] for job in done]
    assert 20000 in grouped
    for job, count in zip(done, grouped):
        if count == 0:
            assert any(" WARNING " in line and "another regroup is in progress" in line for line in job.logs["stdout"])

    def sessions():
        db.session.expire_all()
        return db.session.execute(
            db.select(Event.group_by, Event.start, Event.end, Event.captures_count)
            .filter_by(deployment_id=deployment.id).order_by(Event.group_by)
        ).all()

    after_concurrent = sessions()
    regroup_deployment(db.session.get(type(deployment), deployment.id))
    assert sessions() == after_concurrent and len(after_concurrent) == 10
