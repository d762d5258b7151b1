"""Who may do what through the API: every role against every endpoint that changes something
(and the reads), as one expected status per role."""
from pathlib import Path

import pytest
from flask import current_app, request
from werkzeug.exceptions import Unauthorized

from tests.api_helpers import call, token_for, user_with_token
from tests.conftest import add_deployment, add_project, add_user, grant_data_root
from webapp import jobs
from webapp.extensions import db, login_manager
from webapp.models import Job
from webapp.permissions import ROLE_PERMISSIONS, ROLES

ACTORS = ("anonymous", "non_member", *ROLES, "superuser")
MANAGERS = {"ProjectManager", "superuser"}
MEMBERS = {*ROLES, "superuser"}


def _setup(app):
    """A private project with one member per role, a non-member, a superuser and a station."""
    tokens = {"anonymous": None}
    users = {}
    for actor in ACTORS[1:]:
        user, tokens[actor] = user_with_token(f"{actor.lower()}@example.org", superuser=actor == "superuser")
        users[actor] = user
    project = add_project("Private", members=[(users[role], role) for role in ROLES])
    add_user("newcomer@example.org")
    grant_data_root(project)
    folder = Path(current_app.config["DATA_SOURCE_ROOTS"][0]) / "station"
    folder.mkdir(exist_ok=True)
    deployment = add_deployment(project, "Station", data_source=str(folder))
    return tokens, project, deployment


def _regroup_job(deployment):
    """A job that is still waiting (created, not enqueued), so cancelling it is possible."""
    return jobs.create_job("regroup_events", deployment)


# endpoint name → (method, path template, body builder, allowed actors, success status)
ENDPOINTS = {
    "patch project": ("PATCH", "/projects/{project}/", lambda ctx: {"session_time_gap_seconds": 3600},
                      MANAGERS, 200),
    "add member": ("POST", "/projects/{project}/members/",
                   lambda ctx: {"email": "newcomer@example.org", "role": "BasicMember"}, MANAGERS, 201),
    "create station": ("POST", "/deployments/",
                       lambda ctx: {"project_id": ctx["project"], "name": "New", "data_source": ctx["root"]},
                       MANAGERS, 201),
    "patch station": ("PATCH", "/deployments/{deployment}/", lambda ctx: {"session_time_gap_seconds": 600},
                      MANAGERS, 200),
    "sync": ("POST", "/deployments/{deployment}/sync/", lambda ctx: None, {"MLDataManager"} | MANAGERS, 202),
    "regroup": ("POST", "/deployments/{deployment}/regroup-sessions/", lambda ctx: None, MANAGERS, 202),
    "cancel job": ("POST", "/jobs/{job}/cancel/", lambda ctx: None, {"MLDataManager"} | MANAGERS, 202),
    "create project": ("POST", "/projects/", lambda ctx: {"name": "Mine"}, {"non_member"} | MEMBERS, 201),
    "get project": ("GET", "/projects/{project}/", lambda ctx: None, MEMBERS, 200),
    "get station": ("GET", "/deployments/{deployment}/", lambda ctx: None, MEMBERS, 200),
    "preview": ("GET", "/deployments/{deployment}/regroup-preview/", lambda ctx: None, MEMBERS, 200),
    "events": ("GET", "/events/?deployment={deployment}", lambda ctx: None, MEMBERS, 200),
    "jobs": ("GET", "/jobs/?deployment={deployment}", lambda ctx: None, MEMBERS, 200),
    "captures": ("GET", "/captures/?deployment={deployment}", lambda ctx: None, MEMBERS, 200),
    "get job": ("GET", "/jobs/{job}/", lambda ctx: None, MEMBERS, 200),
    "export sessions.csv": ("GET", "/projects/{project}/export/sessions.csv", lambda ctx: None, MEMBERS, 200),
    "export camtrap dp": ("GET", "/projects/{project}/export/camtrap-dp.zip", lambda ctx: None, MEMBERS, 200),
}


def expected_status(actor: str, allowed: set, success: int) -> int:
    if actor == "anonymous":
        return 401
    if actor in allowed:
        return success
    if actor == "non_member":
        return 404  # private projects: outsiders cannot tell it exists
    return 403


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_permission_matrix(app, client, endpoint):
    method, template, body, allowed, success = ENDPOINTS[endpoint]
    tokens, project, deployment = _setup(app)
    expected, actual = {}, {}
    for actor in ACTORS:
        ctx = {"project": project.id, "deployment": deployment.id, "job": _regroup_job(deployment).id,
               "root": app.config["DATA_SOURCE_ROOTS"][0]}
        response = call(client, method, template.format(**ctx), tokens[actor], json=body(ctx))
        expected[actor] = expected_status(actor, allowed, success)
        actual[actor] = response.status_code
        response.get_data()  # an export streams: read it through, in this test's context
        if response.status_code == 403:
            assert response.get_json() == {"detail": "You do not have permission to perform this action."}
        if response.status_code == 401:
            assert response.headers["WWW-Authenticate"] == "Token"
    assert actual == expected


@pytest.mark.parametrize("path", ["/projects/{project}/export/sessions.csv", "/projects/{project}/export/camtrap-dp.zip"])
def test_exports_are_decided_by_the_export_project_data_permission(app, client, monkeypatch, path):
    """Every role holds export_project_data today; a role without it is refused, so the check is real."""
    tokens, project, deployment = _setup(app)
    assert all("export_project_data" in ROLE_PERMISSIONS[role] for role in ROLES)
    monkeypatch.setitem(ROLE_PERMISSIONS, "Researcher", ROLE_PERMISSIONS["Researcher"] - {"export_project_data"})
    statuses = {}
    for actor in ("Researcher", "BasicMember", "ProjectManager"):
        response = call(client, "GET", path.format(project=project.id), tokens[actor])
        response.get_data()
        statuses[actor] = response.status_code
    assert statuses == {"Researcher": 403, "BasicMember": 200, "ProjectManager": 200}


def test_superuser_regroup_answers_202_with_the_job(app, client):
    """Seed row 5: a superuser's POST answers at once with the job's ids; the job row exists."""
    admin, token = user_with_token("admin@example.org", superuser=True)
    project = add_project("P")
    deployment = add_deployment(project)
    response = call(client, "POST", f"/deployments/{deployment.id}/regroup-sessions/", token)
    assert response.status_code == 202
    body = response.get_json()
    assert set(body) == {"job_id", "deployment_id", "project_id"}
    assert (body["deployment_id"], body["project_id"]) == (deployment.id, project.id)
    job = db.session.get(Job, body["job_id"])
    assert (job.job_type_key, job.deployment_id, job.created_by_id) == ("regroup_events", deployment.id, admin.id)


def test_non_member_gets_404_missing_station_404_no_auth_401(app, client):
    """Seed rows 6–8, with private projects (a non-member sees 404, not 403)."""
    outsider = add_user("outsider@example.org")
    _, admin_token = user_with_token("admin@example.org", superuser=True)
    deployment = add_deployment(add_project("P"))
    path = f"/deployments/{deployment.id}/regroup-sessions/"

    response = call(client, "POST", path, token_for(outsider))
    assert (response.status_code, response.get_json()) == (404, {"detail": "Not found."})
    response = call(client, "POST", "/deployments/99999999/regroup-sessions/", admin_token)
    assert (response.status_code, response.get_json()) == (404, {"detail": "Not found."})
    response = call(client, "POST", path)
    assert response.status_code == 401
    assert response.get_json() == {"detail": "Authentication credentials were not provided."}
    assert db.session.scalar(db.select(db.func.count()).select_from(Job)) == 0


def test_a_bad_token_is_401_even_with_a_valid_session(app, client, auth, project):
    auth.login()
    response = client.get("/api/v2/projects/", headers={"Authorization": "Token not-a-token"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"


def test_a_token_wins_over_another_users_session(app, client, auth, project):
    auth.login()
    _, token = user_with_token("other@example.org")
    response = call(client, "GET", f"/projects/{project.id}/", token)
    assert response.status_code == 404


def test_station_without_project_is_visible_to_superusers_only(app, client, project, manager):
    orphan = add_deployment(None, "Orphan")
    _, admin_token = user_with_token("admin@example.org", superuser=True)
    assert call(client, "GET", f"/deployments/{orphan.id}/", token_for(manager)).status_code == 404
    assert call(client, "GET", f"/deployments/{orphan.id}/", admin_token).status_code == 200
    for action in ("regroup-sessions", "sync"):
        response = call(client, "POST", f"/deployments/{orphan.id}/{action}/", admin_token)
        assert response.status_code == 400
        assert "belongs to no project" in response.get_json()["detail"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Job)) == 0


def test_login_manager_answers_401_json_for_the_api(app, client):
    with app.test_request_context("/api/v2/projects/"):
        assert request.blueprint == "api"
        with pytest.raises(Unauthorized):
            login_manager.unauthorized()
    response = client.get("/projects/")
    assert response.status_code == 302  # the pages still redirect to the login form
