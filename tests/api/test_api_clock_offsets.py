"""`/api/v2/deployments/<id>/clock-offsets/`: members read, Project managers add and remove; each write
queues the apply job, which corrects or restores the captures and regroups."""
from datetime import datetime

import pytest

from tests.api_helpers import call, token_for, user_with_token
from tests.conftest import add_deployment
from tests.sessions.test_regroup import add_captures, burst
from webapp.extensions import db
from webapp.models import Capture, ClockOffset, Job, Membership

RESET = datetime(2000, 1, 1, 22)
SHIFT = int((datetime(2026, 6, 6, 22) - RESET).total_seconds())
BODY = {"start": "2000-01-01T00:00:00", "end": "2000-01-02T12:00:00", "offset_seconds": SHIFT}


@pytest.fixture
def station(project):
    deployment = add_deployment(project)
    add_captures(deployment, burst(RESET) + burst(datetime(2026, 6, 5, 22)))
    return deployment


def times(station):
    db.session.expire_all()
    return sorted(db.session.scalars(db.select(Capture.timestamp).where(Capture.deployment_id == station.id)))


def test_a_manager_adds_an_offset_which_a_job_applies_and_removes_it_again(client, manager, station):
    token = token_for(manager)
    original = times(station)
    response = call(client, "POST", f"/deployments/{station.id}/clock-offsets/", token, json=BODY)
    assert response.status_code == 201, response.json
    offset = response.json
    assert {k: offset[k] for k in ("start", "end", "offset_seconds", "created_by")} == {
        "start": "2000-01-01T00:00:00", "end": "2000-01-02T12:00:00", "offset_seconds": SHIFT,
        "created_by": manager.email}
    job = db.session.get(Job, offset["job_id"])
    assert job.job_type_key == "apply_clock_offsets" and job.status == "SUCCESS", job.logs
    assert times(station)[0] == datetime(2026, 6, 5, 22) and times(station)[-1] == datetime(2026, 6, 6, 22, 25)
    captures = call(client, "GET", f"/captures/?deployment={station.id}", token).json["results"]
    assert captures[-1]["original_timestamp"] == "2000-01-01T22:25:00" and captures[0]["original_timestamp"] is None
    listed = call(client, "GET", f"/deployments/{station.id}/clock-offsets/", token).json
    assert listed["count"] == 1 and listed["results"][0]["id"] == offset["id"]

    removed = call(client, "DELETE", f"/deployments/{station.id}/clock-offsets/{offset['id']}/", token)
    assert removed.status_code == 202 and db.session.get(Job, removed.json["job_id"]).status == "SUCCESS"
    assert times(station) == original
    assert call(client, "GET", f"/deployments/{station.id}/clock-offsets/", token).json["count"] == 0


def test_members_read_but_do_not_write_and_outsiders_see_nothing(client, project, manager, station):
    add_clock = call(client, "POST", f"/deployments/{station.id}/clock-offsets/", token_for(manager), json=BODY)
    member, member_token = user_with_token("member@example.org")
    db.session.add(Membership(user_id=member.id, project_id=project.id, role="Researcher"))
    db.session.commit()
    _, outsider_token = user_with_token("outsider@example.org")
    path = f"/deployments/{station.id}/clock-offsets/"
    assert call(client, "GET", path, member_token).json["count"] == 1
    assert call(client, "POST", path, member_token, json=BODY).status_code == 403
    assert call(client, "DELETE", f"{path}{add_clock.json['id']}/", member_token).status_code == 403
    assert call(client, "GET", path, outsider_token).status_code == 404
    assert call(client, "DELETE", f"{path}{add_clock.json['id']}/", outsider_token).status_code == 404
    assert db.session.scalar(db.select(db.func.count(ClockOffset.id))) == 1


@pytest.mark.parametrize("body, field", [
    (BODY | {"start": "2000-01-01T23:00:00", "end": "2000-01-01T23:30:00"}, "start"),  # overlaps
    (BODY | {"start": "2000-01-01T00:00:00+02:00"}, "start"),
    (BODY | {"end": "not a time"}, "end"),
    (BODY | {"offset_seconds": "12h"}, "offset_seconds"),
    (BODY | {"offset_seconds": 0}, "offset_seconds"),
    ({"start": "2000-01-01T00:00:00"}, "end"),
])
def test_bad_offsets_are_400_with_field_errors_and_nothing_is_stored(client, manager, station, body, field):
    token = token_for(manager)
    path = f"/deployments/{station.id}/clock-offsets/"
    assert call(client, "POST", path, token, json=BODY | {"start": "2000-01-01T22:00:00",
                                                           "end": "2000-01-01T23:59:00"}).status_code == 201
    response = call(client, "POST", path, token, json=body)
    assert response.status_code == 400 and field in response.json["errors"], response.json
    assert db.session.scalar(db.select(db.func.count(ClockOffset.id))) == 1


def test_an_offset_of_another_station_is_404(client, project, manager, station):
    token = token_for(manager)
    other = add_deployment(project, "Other")
    offset = call(client, "POST", f"/deployments/{other.id}/clock-offsets/", token, json=BODY).json
    assert call(client, "DELETE", f"/deployments/{station.id}/clock-offsets/{offset['id']}/", token).status_code == 404
    assert call(client, "DELETE", f"/deployments/{station.id}/clock-offsets/99999999999/", token).status_code == 404


def test_no_offset_is_added_or_removed_on_a_station_being_deleted(client, manager, station):
    token = token_for(manager)
    offset = call(client, "POST", f"/deployments/{station.id}/clock-offsets/", token, json=BODY).json
    station.deleting = True
    db.session.commit()
    path = f"/deployments/{station.id}/clock-offsets/"
    assert call(client, "POST", path, token, json=BODY | {"start": "2001-01-01T00:00:00",
                                                          "end": "2001-01-02T00:00:00"}).status_code == 409
    assert call(client, "DELETE", f"{path}{offset['id']}/", token).status_code == 409
    assert db.session.scalar(db.select(db.func.count(ClockOffset.id))) == 1
