"""Bulk station actions and "Regroup all" with a queue that really refuses jobs
(a RedisHuey pointed at a port nothing listens on): the page answers normally,
says which stations got a job and which were skipped and why, and every job
that was created but not queued is FAILURE with the reason in its log."""
import re
import socket

import pytest

import tasks
from tests.conftest import add_deployment, csrf_token_from
from webapp.extensions import db
from webapp.models import Job


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def queue_down(app):
    app.config["HUEY_URL"] = f"redis://127.0.0.1:{closed_port()}/0"
    tasks.init_app(app)
    yield
    app.config["HUEY_URL"] = "memory://"
    tasks.init_app(app)


def _post(client, url, data):
    token = csrf_token_from(client.get("/projects/").get_data(as_text=True))
    return client.post(url, data=dict(data, csrf_token=token))


def _flash(client, response) -> str:
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    start = html.index("No job queued")
    return " ".join(re.sub(r"<[^>]+>", "", html[start : html.index("</div>", start)]).split())


def _all_jobs():
    db.session.expire_all()
    return db.session.scalars(db.select(Job).order_by(Job.id)).all()


def test_bulk_sync_with_the_queue_down_reports_each_station(client, auth, project, queue_down, tmp_path):
    alpha = add_deployment(project, "Alpha", data_source=str(tmp_path))
    beta = add_deployment(project, "Beta", data_source=str(tmp_path))
    bare = add_deployment(project, "Bare", data_source="")
    auth.login()
    response = _post(client, f"/projects/{project.id}/stations/jobs",
                     {"action": "sync", "deployment_ids": [str(alpha.id), str(beta.id), str(bare.id)]})
    assert response.status_code == 303
    message = _flash(client, response)
    assert message.startswith("No job queued — skipped: ")
    assert "Alpha (The job queue is unavailable (ConnectionError); job" in message
    assert "Beta (the job queue is unavailable)" in message
    assert "Bare (no data source)" in message
    (failed,) = _all_jobs()  # no job was created for the stations after the queue refused one
    assert failed.deployment_id == alpha.id and failed.status == "FAILURE" and failed.finished_at
    assert any(" ERROR The job could not be queued: " in line for line in failed.logs["stdout"])


def test_regroup_all_with_the_queue_down_answers_normally(client, auth, project, queue_down):
    for name in ("North", "South"):
        add_deployment(project, name, captures_count=10, grouped_gap_seconds=3600, grouped_keying="date")
    auth.login()
    response = _post(client, f"/projects/{project.id}/regroup-all", {})
    assert response.status_code == 303
    message = _flash(client, response)
    assert "North (The job queue is unavailable" in message and "South (the job queue is unavailable)" in message
    (failed,) = _all_jobs()
    assert failed.status == "FAILURE" and any("could not be queued" in line for line in failed.logs["stdout"])
    assert failed.stage("regroup_events")["status"] == "CREATED"


def test_station_page_with_the_queue_down_says_why(client, auth, project, queue_down):
    station = add_deployment(project, "North")
    auth.login()
    response = _post(client, f"/deployments/{station.id}/regroup", {})
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The job queue is unavailable" in html
    (failed,) = _all_jobs()
    assert failed.status == "FAILURE"


def test_cancelling_a_queued_job_with_the_queue_down_still_revokes_it(client, auth, project, queue_down):
    from webapp import jobs

    job = jobs.create_job("regroup_events", add_deployment(project, "North"))
    auth.login()
    response = _post(client, f"/jobs/{job.id}/cancel", {})
    assert response.status_code == 303
    (revoked,) = _all_jobs()
    assert revoked.status == "REVOKED" and "Cancelled before it started." in revoked.logs["stdout"][-1]
