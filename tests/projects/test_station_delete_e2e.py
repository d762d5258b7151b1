"""Deleting a 200k-capture station through a real worker, while the site keeps taking writes (SQLite)."""
import time
from datetime import datetime, timedelta

import pytest

from tests.conftest import FreshGlobalsClient, add_user, csrf_token_from
from tests.jobs.test_jobs_e2e import finished
from tests.stack import Site
from webapp.extensions import db
from webapp.models import Capture, Deployment, Event, Job, Membership, Project
from webapp.projects import request_deletion

pytestmark = pytest.mark.e2e

BIG = 200_000


def _fill(station_id: int, project_id: int, size: int, sessions: int) -> None:
    raw = db.session.connection().connection.driver_connection
    start = datetime(2024, 6, 1, 21)
    raw.executemany(
        "INSERT INTO capture (deployment_id, path, timestamp, size) VALUES (?, ?, ?, ?)",
        ((station_id, f"{i:07d}.jpg", (start + timedelta(seconds=10 * i)).isoformat(sep=" "), 1) for i in range(size)),
    )
    raw.executemany(
        "INSERT INTO event (deployment_id, project_id, group_by, captures_count) VALUES (?, ?, ?, ?)",
        ((station_id, project_id, f"s{i}", 1) for i in range(sessions)),
    )
    db.session.commit()


@pytest.fixture
def site(tmp_path):
    """The embedded shape: a SQLite database and a SQLite queue, with `worker -w 2`."""
    site = Site(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", f"sqlite:///{tmp_path / 'huey.db'}", "ami-sessions")
    site.start_consumer(2)
    yield site
    site.stop_all()


def test_a_big_station_is_deleted_in_batches_while_web_writes_succeed(site):
    app = site.app
    with app.app_context():
        manager = add_user("manager@example.org", "pw-manager")
        project = Project(name="P")
        big = Deployment(name="Big", project=project, captures_count=BIG, events_count=200)
        small = Deployment(name="Small", project=project, captures_count=50, events_count=2)
        db.session.add_all([project, big, small, Membership(user=manager, project=project, role="ProjectManager")])
        db.session.commit()
        big_id, small_id, project_id = big.id, small.id, project.id
        _fill(big_id, project_id, BIG, 200)
        _fill(small_id, project_id, 50, 2)
        job = request_deletion(big, manager, "Big", queue=site.queue)
        job_id = job.id
        db.session.remove()

    app.test_client_class = FreshGlobalsClient
    client = app.test_client()
    page = client.get("/login")
    client.post("/login", data={"email": "manager@example.org", "password": "pw-manager",
                                "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    token = csrf_token_from(client.get("/projects/").get_data(as_text=True))
    writes_during_delete = 0
    deadline = time.monotonic() + 120
    with app.app_context():
        while True:
            db.session.expire_all()
            status = db.session.scalar(db.select(Job.status).filter_by(id=job_id))
            left = db.session.scalar(db.select(db.func.count(Capture.id)).filter_by(deployment_id=big_id))
            db.session.rollback()
            if status in ("SUCCESS", "FAILURE", "REVOKED"):
                break
            assert time.monotonic() < deadline, site.logs()
            # The station shows as being deleted, and a web write to another station goes through.
            if 0 < left < BIG:
                assert "being deleted" in client.get(f"/projects/{project_id}/").get_data(as_text=True)
                gap = 1 + writes_during_delete % 5
                response = client.post(f"/deployments/{small_id}/settings", data={"session_gap_hours": str(gap), "csrf_token": token})
                assert response.status_code == 303
                db.session.expire_all()
                assert db.session.get(Deployment, small_id).session_time_gap_seconds == gap * 3600
                db.session.rollback()
                writes_during_delete += 1
            time.sleep(0.05)
        job = finished(site, type("J", (), {"id": job_id})(), timeout=60)
        assert job.status == "SUCCESS", job.logs
        assert writes_during_delete >= 3
        assert db.session.get(Deployment, big_id) is None
        assert db.session.scalar(db.select(db.func.count(Capture.id)).filter_by(deployment_id=big_id)) == 0
        assert db.session.scalar(db.select(db.func.count(Event.id)).filter_by(deployment_id=big_id)) == 0
        assert db.session.scalar(db.select(db.func.count(Capture.id)).filter_by(deployment_id=small_id)) == 50
        assert db.session.scalar(db.select(db.func.count(Event.id)).filter_by(deployment_id=small_id)) == 2
        assert job.param("delete_deployment", "captures_deleted") == BIG
        assert job.param("delete_deployment", "sessions_deleted") == 200
        assert (job.deployment_id, job.deployment_name) == (None, "Big")
        assert any(f"Deleted station “Big” (id {big_id}): {BIG} captures, 200 sessions" in line for line in job.logs["stdout"])
        db.session.remove()
