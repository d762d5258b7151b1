"""No server paths for members: outside superuser pages a local data source is shown and accepted as
`<source name>:<path inside it>`; the API's `data_source` uses that form for everyone but superusers,
and POST/PATCH accept both forms."""
import json
import os
import re

import pytest
from flask import current_app

from tests.api_helpers import call, token_for
from tests.conftest import AuthActions, FreshGlobalsClient, add_deployment, add_project, add_source, add_user
from webapp.extensions import db
from webapp.models import Deployment, Job, Membership


@pytest.fixture
def survey(app, project, manager):
    """A station on the source "Survey" (a folder of the data root) with a few named images, synced once."""
    root = os.path.join(current_app.config["DATA_SOURCE_ROOTS"][0], "survey")
    for folder, count in {"site-a/2024-06-12": 3, "site-b": 1}.items():
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        for number in range(count):
            open(os.path.join(root, folder, f"20240612-22{number:02d}00.jpg"), "wb").close()
    add_source(root, project, name="Survey")
    station = add_deployment(project, "Meadow", data_source=os.path.realpath(os.path.join(root, "site-a")))
    # HUEY_URL memory:// runs the job at once.
    assert call(_client(app), "POST", f"/deployments/{station.id}/sync/", token_for(manager)).status_code == 202
    return station


def _client(app):
    app.test_client_class = FreshGlobalsClient
    return app.test_client()


def _data_roots():
    roots = [os.path.realpath(root) for root in current_app.config["DATA_SOURCE_ROOTS"]]
    return roots + [root for root in current_app.config["DATA_SOURCE_ROOTS"] if root not in roots]


def _leaks(text: str) -> list[str]:
    return [root for root in _data_roots() if root in text]


def _member(project, email, role):
    user = add_user(email, "pw-long-enough")
    db.session.add(Membership(user=user, project=project, role=role))
    db.session.commit()
    return user


@pytest.mark.parametrize("role", ["BasicMember", "ProjectManager"])
def test_members_see_no_server_path_on_pages_forms_picker_or_api(app, project, survey, role):
    email = f"{role.lower()}@example.org"
    user = _member(project, email, role)
    client = _client(app)
    assert AuthActions(client).login(email, "pw-long-enough").status_code == 302
    job_id = db.session.scalar(db.select(db.func.max(Job.id)).where(Job.deployment_id == survey.id))
    pages = [
        f"/projects/{project.id}/", f"/projects/{project.id}/stations", f"/projects/{project.id}/settings",
        f"/deployments/{survey.id}/", f"/deployments/{survey.id}/summary", f"/deployments/{survey.id}/jobs",
        f"/deployments/{survey.id}/sessions", f"/deployments/{survey.id}/timeline", f"/jobs/{job_id}/", "/jobs/",
        f"/projects/{project.id}/members",
    ]
    if role == "ProjectManager":
        pages += [
            f"/deployments/{survey.id}/edit", f"/projects/{project.id}/stations/new",
            f"/projects/{project.id}/stations/folders", f"/projects/{project.id}/stations/folders?path=Survey:site-a",
        ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert _leaks(response.get_data(as_text=True)) == [], page
    token = token_for(user)
    answers = [
        f"/deployments/{survey.id}/", f"/deployments/?project={project.id}", f"/captures/?deployment={survey.id}",
        f"/events/?deployment={survey.id}", f"/jobs/?deployment={survey.id}", f"/jobs/{job_id}/",
        f"/projects/{project.id}/",
    ]
    for path in answers:
        response = call(client, "GET", path, token)
        assert response.status_code == 200, path
        assert _leaks(json.dumps(response.get_json())) == [], path
    assert call(client, "GET", f"/deployments/{survey.id}/", token).get_json()["data_source"] == "Survey:site-a"
    if role == "ProjectManager":
        edit = client.get(f"/deployments/{survey.id}/edit").get_data(as_text=True)
        assert 'name="data_source" value="Survey:site-a"' in edit
        picker = client.get(f"/projects/{project.id}/stations/folders").get_data(as_text=True)
        assert 'data-pick-value="Survey:"' in picker
        inside = client.get(f"/projects/{project.id}/stations/folders?path=Survey:site-a").get_data(as_text=True)
        assert 'data-pick-value="Survey:site-a/2024-06-12"' in inside


def test_the_job_ran_and_the_check_can_see_a_leak(app, project, survey):
    # The station really synced its captures, and the grep finds the root where it is printed.
    db.session.expire_all()
    assert db.session.get(Deployment, survey.id).captures_count == 3
    assert _leaks(f"x {survey.data_source} y")


def test_superusers_get_the_server_path_in_the_api_and_the_roots_on_the_storage_page(app, project, survey):
    root = add_user("root@example.org", "pw-root-long", superuser=True)
    body = call(_client(app), "GET", f"/deployments/{survey.id}/", token_for(root)).get_json()
    assert body["data_source"] == survey.data_source and body["data_source_display"] == "Survey/site-a"
    client = _client(app)
    assert AuthActions(client).login("root@example.org", "pw-root-long").status_code == 302
    storage = client.get("/admin/storage").get_data(as_text=True)
    roots = re.search(r'<ul id="data-roots">(.*?)</ul>', storage, re.S).group(1)
    assert all(f"<code>{root}</code>" in roots for root in current_app.config["DATA_SOURCE_ROOTS"])


def test_the_picker_links_storage_sources_for_superusers_only(app, manager):
    empty = add_project("No sources", members=[(manager, "ProjectManager")])
    add_user("root@example.org", "pw-root-long", superuser=True)
    for email, password, linked in (("manager@example.org", "pw-manager", False), ("root@example.org", "pw-root-long", True)):
        client = _client(app)
        assert AuthActions(client).login(email, password).status_code == 302
        html = client.get(f"/projects/{empty.id}/stations/folders").get_data(as_text=True)
        assert ('<a href="/admin/storage">Storage sources</a>' in html) is linked, email


@pytest.mark.parametrize("value", ["Survey:site-b", "Survey:/site-b/", "{root}/site-b"])
def test_post_and_patch_accept_both_forms(app, project, survey, manager, value):
    token = token_for(manager)
    client = _client(app)
    folder = os.path.realpath(os.path.join(current_app.config["DATA_SOURCE_ROOTS"][0], "survey"))
    typed = value.format(root=folder)
    created = call(client, "POST", "/deployments/", token,
                   json={"project_id": project.id, "name": "New", "data_source": typed})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["data_source"] == "Survey:site-b"
    assert db.session.get(Deployment, created.get_json()["id"]).data_source == os.path.join(folder, "site-b")
    patched = call(client, "PATCH", f"/deployments/{survey.id}/", token, json={"data_source": typed})
    assert patched.status_code == 200 and patched.get_json()["data_source"] == "Survey:site-b"


@pytest.mark.parametrize("value", ["Survey:../..", "Survey:../../../etc", "Nowhere:site-a", "site-a", "Survey:missing"])
def test_named_forms_cannot_leave_the_source_or_name_another(app, project, survey, manager, value):
    response = call(_client(app), "PATCH", f"/deployments/{survey.id}/", token_for(manager), json={"data_source": value})
    assert response.status_code == 400 and "data_source" in response.get_json()["errors"]
    assert _leaks(json.dumps(response.get_json())) == []
