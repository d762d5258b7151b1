"""The station delete service: confirmation, the jobs it stops, cancel and failure midway."""
from datetime import datetime, timedelta

import pytest

from tests.conftest import add_deployment
from webapp import jobs
from webapp.extensions import db
from webapp.models import Capture, Deployment, Event, Job
from webapp.projects import deployment_delete as station_delete
from webapp.validation import ValidationError


@pytest.fixture
def station(project):
    station = add_deployment(project, "Pond")
    start = datetime(2024, 6, 12, 22)
    db.session.execute(db.insert(Capture.__table__), [
        {"deployment_id": station.id, "path": f"{i:04d}.jpg", "timestamp": start + timedelta(minutes=i), "size": 1}
        for i in range(95)
    ])
    db.session.add(Event(deployment_id=station.id, project_id=project.id, group_by="2024-06-12", captures_count=95))
    station.captures_count, station.events_count = 95, 1
    db.session.commit()
    return station


def _delete_job(station, manager) -> Job:
    db.session.execute(Deployment.__table__.update().where(Deployment.__table__.c.id == station.id).values(deleting=True))
    db.session.commit()
    return jobs.create_job("delete_deployment", station, manager)


def test_a_wrong_confirmation_changes_nothing(station, manager):
    with pytest.raises(ValidationError) as raised:
        station_delete.request_deletion(station, manager, "pond")
    assert "Type the station's name, “Pond”, to confirm." in raised.value.errors["confirm_name"][0].replace("’", "'")
    db.session.expire_all()
    assert db.session.get(Deployment, station.id).deleting is False
    assert db.session.scalar(db.select(db.func.count(Job.id))) == 0


def test_queued_jobs_of_the_station_are_revoked_and_running_ones_asked_to_stop(station, manager, monkeypatch):
    queued = jobs.create_job("regroup_events", station, manager)
    queued.status = "PENDING"
    running = jobs.create_job("data_storage_sync", station, manager)
    running.status = "STARTED"
    db.session.commit()
    # The delete job itself is left queued here: this test is about the others.
    monkeypatch.setattr(station_delete, "enqueue", lambda job, queue=None: job)
    job = station_delete.request_deletion(station, manager, "Pond")
    db.session.expire_all()
    assert db.session.get(Job, queued.id).status == "REVOKED"
    assert db.session.get(Job, running.id).status == "CANCELING"
    assert (job.job_type_key, job.deployment_name) == ("delete_deployment", "Pond")
    assert db.session.get(Deployment, station.id).deleting is True


def test_a_cancel_midway_keeps_the_rest_and_frees_the_station(station, manager, monkeypatch):
    monkeypatch.setattr(station_delete, "DELETE_BATCH", 10)
    monkeypatch.setattr(station_delete, "SQLITE_PAUSE_SECONDS", 0)
    real = station_delete._delete_in_batches

    def cancel_after_first_batch(table, deployment_id, job, on_batch):
        def then_cancel(removed):
            on_batch(removed)
            db.session.execute(Job.__table__.update().where(Job.__table__.c.id == job.job_id).values(cancel_requested=True))
            db.session.commit()
        real(table, deployment_id, job, then_cancel)

    monkeypatch.setattr(station_delete, "_delete_in_batches", cancel_after_first_batch)
    job = jobs.run_job(_delete_job(station, manager).id)
    assert job.status == "REVOKED"
    assert any("what was deleted before the cancel stays deleted" in line for line in job.logs["stdout"])
    assert any("was not deleted completely: 10 captures" in line for line in job.logs["stdout"])
    db.session.expire_all()
    station = db.session.get(Deployment, station.id)
    assert station.deleting is False and station.captures_count == 85
    assert db.session.scalar(db.select(db.func.count(Capture.id))) == 85
    assert job.deployment_id == station.id


def test_a_failure_midway_is_logged_and_frees_the_station(station, manager, monkeypatch):
    monkeypatch.setattr(station_delete, "DELETE_BATCH", 40)
    monkeypatch.setattr(station_delete, "SQLITE_PAUSE_SECONDS", 0)

    def broken_unlink(deployment_id, name):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(station_delete, "_unlink_jobs", broken_unlink)
    with pytest.raises(RuntimeError):
        jobs.run_job(_delete_job(station, manager).id)
    db.session.rollback()
    db.session.expire_all()
    job = db.session.scalar(db.select(Job))
    assert job.status == "FAILURE"
    assert any("RuntimeError: disk on fire" in line for line in job.logs["stdout"])
    station = db.session.get(Deployment, station.id)
    assert station.deleting is False
    assert (station.captures_count, station.events_count) == (0, 0)


def test_the_delete_permission_belongs_to_project_managers_only():
    from webapp.permissions import ROLE_PERMISSIONS

    holders = {role for role, codenames in ROLE_PERMISSIONS.items() if "run_delete_deployment_job" in codenames}
    assert holders == {"ProjectManager"}
    assert {role for role, codenames in ROLE_PERMISSIONS.items() if "delete_deployment" in codenames} == {"ProjectManager"}


def test_a_delete_job_cancelled_while_queued_can_be_requested_again(client, auth, station, manager, monkeypatch):
    station_id = station.id
    monkeypatch.setattr(station_delete, "enqueue", lambda job, queue=None: job)
    first = station_delete.request_deletion(station, manager, "Pond")
    jobs.cancel(first)
    db.session.expire_all()
    assert db.session.get(Job, first.id).status == "REVOKED"
    assert db.session.get(Deployment, station_id).deleting is False
    auth.login()
    html = client.get(f"/deployments/{station_id}/").get_data(as_text=True)
    assert "This station is being deleted." not in html and "Regroup sessions" in html
    assert 'name="confirm_name"' in client.get(f"/deployments/{station_id}/edit").get_data(as_text=True)
    assert jobs.blocker("regroup_events", db.session.get(Deployment, station_id)) is None
    monkeypatch.undo()
    second = station_delete.request_deletion(db.session.get(Deployment, station_id), manager, "Pond")
    db.session.expire_all()
    assert db.session.get(Job, second.id).status == "SUCCESS"
    assert db.session.get(Deployment, station_id) is None
    assert db.session.scalar(db.select(db.func.count(Capture.id))) == 0


def test_a_running_delete_job_blocks_a_second_request(station, manager, monkeypatch):
    monkeypatch.setattr(station_delete, "enqueue", lambda job, queue=None: job)
    station_delete.request_deletion(station, manager, "Pond")
    with pytest.raises(jobs.JobError, match="already being deleted"):
        station_delete.request_deletion(station, manager, "Pond")
    assert db.session.scalar(db.select(db.func.count(Job.id))) == 1


def test_a_delete_job_cancelled_as_a_worker_claims_it_frees_the_station(station, manager, monkeypatch):
    """The cancel lands between the queue handing the job out and the worker's claim: it ends REVOKED unrun."""
    monkeypatch.setattr(station_delete, "enqueue", lambda job, queue=None: job)
    job = station_delete.request_deletion(station, manager, "Pond")
    db.session.execute(db.update(Job).where(Job.id == job.id).values(status="PENDING", cancel_requested=True))
    db.session.commit()
    assert jobs.run_job(job.id).status == "REVOKED"
    db.session.expire_all()
    assert db.session.get(Deployment, station.id).deleting is False
    assert db.session.get(Deployment, station.id).captures_count == 95


@pytest.mark.parametrize("state", ["STARTED", "PENDING"])
def test_a_delete_job_lost_by_the_reaper_frees_the_station(app, station, manager, monkeypatch, state):
    """A worker that died mid-delete (or a queue that lost the task): the rest of the station is usable again."""
    monkeypatch.setattr(station_delete, "enqueue", lambda job, queue=None: job)
    job = station_delete.request_deletion(station, manager, "Pond")
    long_ago = datetime.utcnow() - timedelta(hours=2)
    db.session.execute(db.update(Job).where(Job.id == job.id).values(
        status=state, started_at=long_ago if state == "STARTED" else None, heartbeat_at=None, created_at=long_ago))
    db.session.execute(db.delete(Capture).where(Capture.deployment_id == station.id, Capture.path < "0010"))
    db.session.commit()
    assert jobs.reap_stale_jobs(queued_task_ids=set) == 1
    db.session.expire_all()
    assert db.session.get(Job, job.id).status == "FAILURE"
    left = db.session.get(Deployment, station.id)
    assert left.deleting is False and left.captures_count == 85
