"""The API's answers: shapes, validation, CSRF for session requests, pagination, huge ids."""
from datetime import datetime
from pathlib import Path

import pytest

from tests.api_helpers import call, token_for, user_with_token
from tests.conftest import add_deployment, add_project, add_source, csrf_token_from, grant_data_root
from webapp import jobs
from webapp.extensions import db
from webapp.models import Capture, Deployment, Event, Job, Membership, Project


@pytest.fixture
def token(manager):
    return token_for(manager)


@pytest.fixture
def station(project):
    grant_data_root(project)
    return add_deployment(project, "Station 1")


def _body_endpoints(project, station, root):
    return [
        ("POST", "/projects/", {"name": "New"}),
        ("PATCH", f"/projects/{project.id}/", {"session_time_gap_seconds": 3600}),
        ("POST", f"/projects/{project.id}/members/", {"email": "manager@example.org", "role": "ProjectManager"}),
        ("POST", "/deployments/", {"project_id": project.id, "name": "New", "data_source": root}),
        ("PATCH", f"/deployments/{station.id}/", {"session_time_gap_seconds": None}),
    ]


@pytest.mark.parametrize("raw", ["{bad", "[1, 2]", '"text"', "", "null", "1" * 5000, "[" * 100000])
def test_malformed_or_non_object_json_is_400_everywhere(app, client, token, project, station, raw):
    for method, path, _ in _body_endpoints(project, station, app.config["DATA_SOURCE_ROOTS"][0]):
        response = client.open(f"/api/v2{path}", method=method, data=raw,
                               headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
        assert response.status_code == 400, (method, path)
        assert response.get_json()["detail"]


def test_valid_bodies_work_everywhere(app, client, token, project, station):
    for method, path, body in _body_endpoints(project, station, app.config["DATA_SOURCE_ROOTS"][0]):
        response = call(client, method, path, token, json=body)
        assert response.status_code in (200, 201), (method, path, response.get_json())


WRONG = [
    ("POST", "/projects/", {"name": ""}, "name"),
    ("POST", "/projects/", {"name": "x" * 201}, "name"),
    ("POST", "/projects/", {"name": 5}, "name"),
    ("POST", "/projects/", {"unknown": 1}, "name"),
    ("POST", "/projects/", {"name": "A", "session_keying": "weekly"}, "session_keying"),
    ("PATCH", "/projects/{p}/", {"session_time_gap_seconds": "7200"}, "session_time_gap_seconds"),
    ("PATCH", "/projects/{p}/", {"session_time_gap_seconds": 59}, "session_time_gap_seconds"),
    ("PATCH", "/projects/{p}/", {"session_time_gap_seconds": 7 * 24 * 3600 + 1}, "session_time_gap_seconds"),
    ("PATCH", "/projects/{p}/", {"session_time_gap_seconds": 90.5}, "session_time_gap_seconds"),
    ("PATCH", "/projects/{p}/", {"session_time_gap_seconds": True}, "session_time_gap_seconds"),
    ("PATCH", "/projects/{p}/", {"session_time_gap_seconds": -7200}, "session_time_gap_seconds"),
    ("PATCH", "/projects/{p}/", {"name": "a\x00b"}, "name"),
    ("POST", "/projects/{p}/members/", {"email": "nobody@example.org", "role": "BasicMember"}, "email"),
    ("POST", "/projects/{p}/members/", {"email": "manager@example.org", "role": "Admin"}, "role"),
    ("POST", "/deployments/", {"project_id": "1", "name": "N", "data_source": "s3://b/p"}, "project_id"),
    ("POST", "/deployments/", {"project_id": True, "name": "N", "data_source": "s3://b/p"}, "project_id"),
    ("POST", "/deployments/", {"project_id": "{p}", "name": "N", "data_source": "/etc"}, "data_source"),
    ("POST", "/deployments/", {"project_id": "{p}", "name": "N", "data_source": "../../"}, "data_source"),
    ("POST", "/deployments/", {"project_id": "{p}", "name": "N", "data_source": "s3://b/" + "x" * 1100},
     "data_source"),
    ("POST", "/deployments/", {"project_id": "{p}", "name": "N", "data_source": 3}, "data_source"),
    ("POST", "/deployments/", {"project_id": "{p}", "data_source": "s3://b/p"}, "name"),
    ("PATCH", "/deployments/{d}/", {"session_time_gap_seconds": 30}, "session_time_gap_seconds"),
    ("PATCH", "/deployments/{d}/", {"session_time_gap_seconds": "x"}, "session_time_gap_seconds"),
    ("PATCH", "/deployments/{d}/", {"name": None}, "name"),
]


@pytest.mark.parametrize("method,template,body,field", WRONG)
def test_wrong_values_are_400_with_field_errors_and_change_nothing(
    app, client, token, project, station, method, template, body, field
):
    path = template.format(p=project.id, d=station.id)
    body = {k: (project.id if v == "{p}" else v) for k, v in body.items()}
    before = (project.session_time_gap_seconds, project.name, station.session_time_gap_seconds, station.name)
    counts = [db.session.scalar(db.select(db.func.count()).select_from(m)) for m in (Project, Deployment, Membership)]
    response = call(client, method, path, token, json=body)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]
    db.session.expire_all()
    assert (project.session_time_gap_seconds, project.name, station.session_time_gap_seconds, station.name) == before
    assert [db.session.scalar(db.select(db.func.count()).select_from(m)) for m in (Project, Deployment, Membership)] \
        == counts


def test_project_create_get_patch_and_list(app, client, token, manager):
    response = call(client, "POST", "/projects/", token, json={"name": " Moths ", "extra": "ignored"})
    assert response.status_code == 201
    created = response.get_json()
    assert (created["name"], created["session_time_gap_seconds"], created["session_keying"]) == ("Moths", 7200, "date")
    assert db.session.scalar(db.select(Membership.role).filter_by(project_id=created["id"])) == "ProjectManager"
    response = call(client, "PATCH", f"/projects/{created['id']}/", token,
                    json={"session_time_gap_seconds": 5400, "session_keying": "night"})
    assert response.status_code == 200
    assert response.get_json()["session_time_gap_seconds"] == 5400
    assert call(client, "GET", f"/projects/{created['id']}/", token).get_json()["session_keying"] == "night"
    listing = call(client, "GET", "/projects/", token).get_json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == created["id"]


def test_members_post_sets_one_role(app, client, token, project):
    _, other_token = user_with_token("other@example.org")
    for role in ("BasicMember", "MLDataManager"):
        response = call(client, "POST", f"/projects/{project.id}/members/", token,
                        json={"email": "Other@Example.org", "role": role})
        assert response.status_code == 201
        assert response.get_json()["role"] == role
    assert db.session.scalars(db.select(Membership.role).filter_by(project_id=project.id, user_id=2)).all() == [
        "MLDataManager"]
    assert call(client, "GET", f"/projects/{project.id}/", other_token).status_code == 200


def test_deployment_create_get_patch(app, client, token, project, tmp_path):
    grant_data_root(project)
    add_source("s3://bucket", project)
    folder = tmp_path / "data" / "station-a"
    folder.mkdir()
    response = call(client, "POST", "/deployments/", token,
                    json={"project_id": project.id, "name": "A", "data_source": str(folder)})
    assert response.status_code == 201
    created = response.get_json()
    for key in ("id", "name", "project_id", "data_source", "captures_count", "events_count",
                "first_capture_timestamp", "last_capture_timestamp"):
        assert key in created
    assert created["session_time_gap_seconds"] is None
    path = f"/deployments/{created['id']}/"
    response = call(client, "PATCH", path, token, json={"session_time_gap_seconds": 900})
    assert response.get_json()["session_time_gap_seconds"] == 900
    assert response.get_json()["effective_session_time_gap_seconds"] == 900
    response = call(client, "PATCH", path, token, json={"session_time_gap_seconds": None})
    assert response.get_json()["effective_session_time_gap_seconds"] == project.session_time_gap_seconds
    s3 = call(client, "POST", "/deployments/", token,
              json={"project_id": project.id, "name": "B", "data_source": "s3://bucket/prefix"})
    assert s3.status_code == 201


def test_create_station_in_missing_project_is_404(app, client, token):
    for project_id in (424242, 2**40):
        response = call(client, "POST", "/deployments/", token,
                        json={"project_id": project_id, "name": "N", "data_source": "s3://b/p"})
        assert response.status_code == 404


@pytest.mark.parametrize("path", [
    "/projects/{huge}/", "/projects/{huge}/members/", "/deployments/{huge}/", "/deployments/{huge}/sync/",
    "/deployments/{huge}/regroup-sessions/", "/deployments/{huge}/regroup-preview/", "/jobs/{huge}/",
    "/jobs/{huge}/cancel/", "/events/?deployment={huge}", "/jobs/?deployment={huge}",
])
def test_huge_ids_are_404_not_500(app, client, path):
    _, admin = user_with_token("admin@example.org", superuser=True)
    for huge in (2**31, 2**63, 10**30):
        method = "POST" if path.endswith(("members/", "sync/", "sessions/", "cancel/")) else "GET"
        response = call(client, method, path.format(huge=huge), admin, json={})
        assert response.status_code == 404, (path, huge, response.status_code)


def test_a_page_far_beyond_the_last_is_empty(app, client, token):
    for path in ("/projects/", "/events/", "/jobs/"):
        response = call(client, "GET", f"{path}?page=24019198012642647", token)
        assert response.status_code == 200, path
        assert response.get_json()["results"] == []


@pytest.mark.parametrize("query", ["page=0", "page=x", "page_size=501", "page_size=0", "page=-1",
                                   "deployment=abc", "deployment=0", "page=1.5", "page=" + "9" * 60])
def test_bad_query_parameters_are_400(app, client, token, query):
    for path in ("/projects/", "/events/", "/jobs/"):
        response = call(client, "GET", f"{path}?{query}", token)
        if "deployment" in query and path == "/projects/":
            assert response.status_code == 200  # unknown parameters are ignored
        else:
            assert response.status_code == 400, (path, query)
            assert response.get_json()["errors"]


def test_preview_bad_parameters_are_400(app, client, token, station):
    for query in ("gap_seconds=59", "gap_seconds=abc", "gap_seconds=604801", "keying=weekly", "gap_seconds=1e3",
                  "gap_seconds=" + "9" * 60, "gap_seconds=-60"):
        response = call(client, "GET", f"/deployments/{station.id}/regroup-preview/?{query}", token)
        assert response.status_code == 400, query


def test_lists_paginate(app, client, token, manager):
    for i in range(7):
        add_project(f"P{i}", members=[(manager, "BasicMember")])
    page = call(client, "GET", "/projects/?page=2&page_size=3", token).get_json()
    assert page["count"] == 7
    assert [p["name"] for p in page["results"]] == ["P3", "P4", "P5"]
    assert "page=3" in page["next"] and "page=1" in page["previous"]
    last = call(client, "GET", "/projects/?page=3&page_size=3", token).get_json()
    assert last["next"] is None and len(last["results"]) == 1
    assert call(client, "GET", "/projects/?page=99", token).get_json()["results"] == []


def _capture(deployment, ts: str):
    number = db.session.scalar(db.select(db.func.count()).select_from(Capture))
    db.session.add(Capture(deployment_id=deployment.id, path=f"img-{number}.jpg", timestamp=datetime.fromisoformat(ts)))


def test_events_listed_by_start_for_members_only(app, client, token, project, station):
    other = add_deployment(add_project("Other"), "Elsewhere")
    for deployment, group_by, start in ((station, "2024-06-02", "2024-06-02T21:00"),
                                        (station, "2024-06-01", "2024-06-01T21:00"),
                                        (other, "2024-06-01", "2024-06-01T21:00")):
        db.session.add(Event(deployment_id=deployment.id, project_id=deployment.project_id, group_by=group_by,
                             start=datetime.fromisoformat(start), end=datetime.fromisoformat(start),
                             captures_count=1))
    db.session.commit()
    body = call(client, "GET", f"/events/?deployment={station.id}", token).get_json()
    assert body["count"] == 2
    assert [e["group_by"] for e in body["results"]] == ["2024-06-01", "2024-06-02"]
    assert body["results"][0]["start"] == "2024-06-01T21:00:00"
    assert set(body["results"][0]) >= {"id", "deployment_id", "group_by", "start", "end", "captures_count"}
    assert call(client, "GET", "/events/", token).get_json()["count"] == 2
    assert call(client, "GET", f"/events/?deployment={other.id}", token).status_code == 404


def test_preview_counts_sessions_and_writes_nothing(app, client, token, project, station):
    event = Event(deployment_id=station.id, project_id=project.id, group_by="old")
    db.session.add(event)
    db.session.flush()
    # Night 1 crosses midnight; night 2 has a 3 h pause; duplicate timestamps count once.
    for ts in ("2024-06-01 22:00:00", "2024-06-01 23:30:00", "2024-06-02 00:30:00", "2024-06-02 01:00:00",
               "2024-06-02 21:00:00", "2024-06-03 00:00:00", "2024-06-03 00:00:00"):
        _capture(station, ts)
        db.session.flush()
    db.session.commit()
    path = f"/deployments/{station.id}/regroup-preview/"

    def preview(query=""):
        response = call(client, "GET", f"{path}?{query}", token)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    default = preview()
    assert default.items() >= {"gap_seconds": 7200, "keying": "date", "sessions_before": 1, "sessions_after": 3,
                       "longest_session_seconds": 3 * 3600}.items()
    # Runs: [22:00–01:00], [21:00], [00:00]; date keys: 06-01, 06-02, 06-03.
    assert preview("keying=night")["sessions_after"] == 2
    assert preview("keying=run")["sessions_after"] == 3
    assert preview("keying=run&gap_seconds=60")["sessions_after"] == 6
    assert preview("keying=night&gap_seconds=14400").items() >= {
        "gap_seconds": 14400, "keying": "night", "sessions_before": 1, "sessions_after": 2,
        "longest_session_seconds": 3 * 3600}.items()
    # The 24 h cap cuts before 06-03 00:00; the first run's date keeps 06-02 21:00.
    assert preview("keying=date&gap_seconds=604800")["sessions_after"] == 2
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 1
    assert db.session.get(Deployment, station.id).grouped_gap_seconds is None
    assert db.session.scalar(db.select(db.func.count()).select_from(Job)) == 0


def test_preview_of_an_empty_station(app, client, token, station):
    body = call(client, "GET", f"/deployments/{station.id}/regroup-preview/", token).get_json()
    assert body.items() >= {"gap_seconds": 7200, "keying": "date", "sessions_before": 0, "sessions_after": 0,
                            "longest_session_seconds": 0}.items()


JOB_KEYS = {"id", "name", "job_type_key", "status", "deployment_id", "project_id", "created_at", "started_at",
            "finished_at", "progress", "logs"}


def test_regroup_and_sync_answer_202_and_the_job_has_the_contract_shape(app, client, token, project, station):
    folder = Path(app.config["DATA_SOURCE_ROOTS"][0]) / "station"
    folder.mkdir()
    station.data_source = str(folder)
    db.session.commit()
    for action, key, stage_keys in (("regroup-sessions", "regroup_events", ["regroup_events"]),
                                    ("sync", "data_storage_sync", ["data_storage_sync", "regroup_sessions", "thumbnails"])):
        response = call(client, "POST", f"/deployments/{station.id}/{action}/", token)
        assert response.status_code == 202
        accepted = response.get_json()
        assert accepted == {"job_id": accepted["job_id"], "deployment_id": station.id, "project_id": project.id}
        job = call(client, "GET", f"/jobs/{accepted['job_id']}/", token).get_json()
        assert set(job) == JOB_KEYS
        assert job["job_type_key"] == key and job["deployment_id"] == station.id
        assert job["status"] in ("PENDING", "STARTED", "SUCCESS", "FAILURE")
        assert job["progress"]["summary"]["status"] == job["status"]
        assert set(job["progress"]["summary"]) == {"status", "progress"}
        assert [s["key"] for s in job["progress"]["stages"]] == stage_keys
        for stage in job["progress"]["stages"]:
            assert set(stage) == {"key", "name", "status", "progress", "params"}
            assert all(set(p) == {"name", "key", "value"} for p in stage["params"])
        regroup_stage = job["progress"]["stages"][len(stage_keys) > 1]
        assert [p["key"] for p in regroup_stage["params"]][:2] == ["captures_grouped", "events_created"]
        assert set(job["logs"]) == {"stdout", "stderr"}
        assert job["created_at"].endswith("Z")
        datetime.fromisoformat(job["created_at"].removesuffix("Z"))
    listing = call(client, "GET", f"/jobs/?deployment={station.id}", token).get_json()
    assert listing["count"] == 2
    assert [j["job_type_key"] for j in listing["results"]] == ["data_storage_sync", "regroup_events"]


def test_cancel_a_waiting_job_then_409(app, client, token, station):
    job = jobs.create_job("regroup_events", station)
    response = call(client, "POST", f"/jobs/{job.id}/cancel/", token)
    assert response.status_code == 202
    assert response.get_json()["status"] == "REVOKED"
    assert response.get_json()["progress"]["summary"]["status"] == "REVOKED"
    again = call(client, "POST", f"/jobs/{job.id}/cancel/", token)
    assert again.status_code == 409
    assert "already finished" in again.get_json()["detail"]


def test_session_auth_needs_the_csrf_header_for_unsafe_methods(app, client, auth, project):
    auth.login()
    assert client.get("/api/v2/projects/").status_code == 200
    path = f"/api/v2/projects/{project.id}/"
    response = client.patch(path, json={"session_time_gap_seconds": 3600})
    assert response.status_code == 400
    assert "CSRF" in response.get_json()["detail"]
    response = client.patch(path, json={"session_time_gap_seconds": 3600}, headers={"X-CSRFToken": "forged"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Project, project.id).session_time_gap_seconds == 7200
    response = client.patch(path, json={"session_time_gap_seconds": 3600}, headers={"X-CSRFToken": csrf_token_from(client.get("/projects/").get_data(as_text=True))})
    assert response.status_code == 200
    assert response.get_json()["session_time_gap_seconds"] == 3600


def test_tokens_need_no_csrf_and_leave_no_session(app, client, token, project):
    response = call(client, "PATCH", f"/projects/{project.id}/", token, json={"session_keying": "run"})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert call(client, "GET", f"/projects/{project.id}/").status_code == 401


def test_unknown_api_path_and_wrong_method_are_json(app, client, token):
    response = call(client, "GET", "/nothing/", token)
    assert response.status_code == 404 and response.get_json() == {"detail": "Not found."}
    response = call(client, "DELETE", "/projects/", token)
    assert response.status_code == 405 and response.is_json


def test_preview_gap_errors_name_the_same_bounds(app, client, token, station):
    for value in ("-1", "0", "59"):
        body = call(client, "GET", f"/deployments/{station.id}/regroup-preview/?gap_seconds={value}", token).get_json()
        assert body["errors"]["gap_seconds"] == ["Must be between 60 seconds (1 minute) and 604800 seconds (7 days)."]


def test_paths_without_the_trailing_slash_answer_json_directly(app, client, token, project):
    response = call(client, "GET", f"/projects/{project.id}", token)
    assert response.status_code == 200 and response.get_json()["id"] == project.id
    response = call(client, "PATCH", f"/projects/{project.id}", token, json={"session_time_gap_seconds": 3600})
    assert response.status_code == 200 and response.get_json()["session_time_gap_seconds"] == 3600


def test_a_name_that_is_not_text_says_so(app, client, token):
    response = call(client, "POST", "/projects/", token, json={"name": 123})
    assert response.status_code == 400
    assert response.get_json()["errors"]["name"] == ["Must be text."]


def test_sync_of_a_station_without_a_data_source_is_400(app, client, token, station):
    response = call(client, "POST", f"/deployments/{station.id}/sync/", token)
    assert response.status_code == 400
    assert "no data source" in response.get_json()["detail"]


def test_a_page_number_past_any_sql_offset_is_an_empty_page(app, client, token):
    response = call(client, "GET", "/projects/?page=184467440737095518", token)
    assert response.status_code == 200
    body = response.get_json()
    assert body["results"] == [] and body["next"] is None and "page=184467440737095517" in body["previous"]
