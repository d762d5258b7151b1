"""Who may open or post to which page: every HTML route (pages and htmx
fragments, GET and POST) against every kind of user, as one expected answer each.

The routes come from the app's URL map, so a new page that is not listed in
PAGES fails `test_every_html_route_is_in_the_matrix`. Adding a page is one line
in PAGES: its endpoint, method, path (formatted with the ids in `Context`), the
form it posts, and who may use it (one of the rule helpers below).
"""
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from flask import current_app
from PIL import Image

from tests.conftest import FreshGlobalsClient, add_deployment, add_project, csrf_token_from, grant_data_root
from webapp import jobs
from webapp.extensions import db
from webapp.models import ApiToken, Capture, Event, Membership, Thumbnail, User
from webapp.permissions import ROLE_PERMISSIONS, ROLES
from webapp.thumbnails import storage_for

ACTORS = ("anonymous", "non_member", *ROLES, "superuser")
LOGIN = "login"  # a redirect to the sign-in form, to come back after signing in


# -- who may: actor → the expected answer ------------------------------------

def public(anonymous, signed_in):
    """Anyone; signed-in users may get another answer (e.g. redirected off the login form)."""
    return lambda actor: anonymous if actor == "anonymous" else signed_in


def signed_in(success):
    """Every signed-in user, member of the project or not."""
    return lambda actor: LOGIN if actor == "anonymous" else success


def superusers(success, others=403):
    """Superusers only (site administration); every other signed-in user gets `others`."""
    return lambda actor: LOGIN if actor == "anonymous" else success if actor == "superuser" else others


def members(success):
    """The project's members (and superusers); others cannot tell the project exists."""
    return needs("view_project", success)


def needs(codename, success):
    """Members whose role grants `codename` (and superusers); other members 403, outsiders 404."""

    def expected(actor):
        if actor == "anonymous":
            return LOGIN
        if actor == "superuser":
            return success
        if actor == "non_member":
            return 404
        return success if codename in ROLE_PERMISSIONS[actor] else 403

    return expected


def superusers(success):
    """Site administration: superusers only; every other signed-in user 403."""

    def expected(actor):
        if actor == "anonymous":
            return LOGIN
        return success if actor == "superuser" else 403

    return expected


@dataclass
class Context:
    """The ids a path or a form may name; a fresh job for each actor, so each may cancel one."""
    project: int
    deployment: int
    event: int
    capture: int
    manager_membership: int
    token: int
    job: int
    data_folder: str
    source: int


# case → (endpoint, method, path, form, who may)
PAGES = {
    "home": ("auth.home", "GET", "/", None, public(302, 302)),
    "sign-in form": ("auth.login", "GET", "/login", None, public(200, 302)),
    "sign in": ("auth.login", "POST", "/login", {"email": "nobody@example.org", "password": "x"}, public(400, 302)),
    "sign out": ("auth.logout", "POST", "/logout", {}, signed_in(302)),
    "projects": ("projects.index", "GET", "/projects/", None, signed_in(200)),
    "project": ("projects.detail", "GET", "/projects/{project}/", None, members(200)),
    "bulk regroup": ("projects.bulk_jobs", "POST", "/projects/{project}/stations/jobs",
                     {"action": "regroup", "deployment_ids": "{deployment}"}, needs("regroup_sessions_deployment", 303)),
    "bulk sync": ("projects.bulk_jobs", "POST", "/projects/{project}/stations/jobs",
                  {"action": "sync", "deployment_ids": "{deployment}"}, needs("sync_deployment", 303)),
    "stations list": ("projects.stations", "GET", "/projects/{project}/stations?q=a", None, members(200)),
    "settings": ("projects.settings", "GET", "/projects/{project}/settings", None, members(200)),
    "save settings": ("projects.settings", "POST", "/projects/{project}/settings",
                      {"session_gap_hours": "3", "session_keying": "date"}, needs("update_project", 303)),
    "save health thresholds": ("projects.health_settings", "POST", "/projects/{project}/settings/health",
                               {"plausible_start": "2010-01-01", "future_margin_days": "1", "outage_nights": "3",
                                "storm_factor": "5", "storm_minimum": "500", "daytime_percent": "5",
                                "backwards_minutes": "60", "active_at": "night"}, needs("update_project", 303)),
    "settings preview": ("projects.preview", "GET", "/projects/{project}/preview?session_gap_hours=3", None,
                         members(200)),
    "regroup all": ("projects.regroup_all", "POST", "/projects/{project}/regroup-all", {},
                    needs("regroup_sessions_deployment", 303)),
    "station": ("deployments.detail", "GET", "/deployments/{deployment}/", None, members(200)),
    "station gap": ("deployments.settings", "POST", "/deployments/{deployment}/settings", {"session_gap_hours": "3"},
                    needs("update_deployment", 303)),
    "station preview": ("deployments.preview", "GET", "/deployments/{deployment}/preview?session_gap_hours=3", None,
                        members(200)),
    "station timeline": ("deployments.timeline", "GET", "/deployments/{deployment}/timeline", None, members(200)),
    "station summary": ("deployments.summary", "GET", "/deployments/{deployment}/summary", None, members(200)),
    "station jobs": ("deployments.jobs", "GET", "/deployments/{deployment}/jobs", None, members(200)),
    "station sessions": ("deployments.sessions", "GET", "/deployments/{deployment}/sessions", None, members(200)),
    "station regroup": ("deployments.regroup", "POST", "/deployments/{deployment}/regroup", {},
                        needs("regroup_sessions_deployment", 303)),
    "station sync": ("deployments.sync", "POST", "/deployments/{deployment}/sync", {}, needs("sync_deployment", 303)),
    "operation calendar": ("projects.operation", "GET", "/projects/{project}/operation", None, members(200)),
    "clock offsets": ("clock_offsets.index", "GET", "/deployments/{deployment}/clock-offsets", None, members(200)),
    "add clock offset": ("clock_offsets.index", "POST", "/deployments/{deployment}/clock-offsets",
                         {"start": "not a time", "hours": "1"}, needs("update_deployment", 400)),
    # No offset 99999 exists: who may remove one gets to the lookup (404), the rest are stopped before it.
    "remove clock offset": ("clock_offsets.remove", "POST", "/deployments/{deployment}/clock-offsets/99999/remove", {},
                            needs("update_deployment", 404)),
    "session": ("events.detail", "GET", "/events/{event}/", None, members(200)),
    "thumbnail file": ("thumbnails.file", "GET", "/thumbnails/{capture}/small.jpg", None, members(200)),
    "new project form": ("projects.new", "GET", "/projects/new", None, signed_in(200)),
    "create project": ("projects.new", "POST", "/projects/new",
                       {"name": "", "session_gap_hours": "2", "session_keying": "date"}, signed_in(400)),
    "members": ("members.index", "GET", "/projects/{project}/members", None, members(200)),
    # An email without an account: an invitation link and a membership (200, the link shown once).
    "add member": ("members.index", "POST", "/projects/{project}/members",
                   {"email": "nobody@example.org", "role": "BasicMember"}, needs("manage_members", 200)),
    "add member, bad role": ("members.index", "POST", "/projects/{project}/members",
                             {"email": "nobody@example.org", "role": "Emperor"}, needs("manage_members", 400)),
    "change role": ("members.role", "POST", "/projects/{project}/members/{manager_membership}/role",
                    {"role": "BasicMember"}, needs("manage_members", 400)),
    "remove member": ("members.remove", "POST", "/projects/{project}/members/{manager_membership}/remove", {},
                      needs("manage_members", 400)),
    "password form": ("account.password", "GET", "/account/password", None, signed_in(200)),
    # The actors have no password ("!" as hash): the current password is always wrong.
    "change password": ("account.password", "POST", "/account/password",
                        {"current_password": "not-the-password", "new_password": "a-long-new-password",
                         "repeat_password": "a-long-new-password"}, signed_in(400)),
    "api tokens": ("account.tokens", "GET", "/account/tokens", None, signed_in(200)),
    "create api token": ("account.tokens", "POST", "/account/tokens", {"name": "script"}, signed_in(200)),
    "revoke api token": ("account.revoke", "POST", "/account/tokens/{token}/revoke", {}, signed_in(404)),
    "new station form": ("deployments.new", "GET", "/projects/{project}/stations/new", None, needs("create_deployment", 200)),
    "add station": ("deployments.new", "POST", "/projects/{project}/stations/new",
                    {"name": "", "data_source": "{data_folder}", "session_gap_hours": "", "time_zone": "UTC"},
                    needs("create_deployment", 400)),
    "station folders": ("deployments.browse", "GET", "/projects/{project}/stations/folders", None,
                        needs("create_deployment", 200)),
    "edit station form": ("deployments.edit", "GET", "/deployments/{deployment}/edit", None, needs("update_deployment", 200)),
    "edit station": ("deployments.edit", "POST", "/deployments/{deployment}/edit",
                     {"name": "", "data_source": "{data_folder}", "session_gap_hours": "", "time_zone": "UTC"},
                     needs("update_deployment", 400)),
    "delete station": ("deployments.delete", "POST", "/deployments/{deployment}/delete", {"confirm_name": "not its name"},
                       needs("delete_deployment", 400)),
    "jobs": ("jobs.index", "GET", "/jobs/", None, signed_in(200)),
    "job": ("jobs.detail", "GET", "/jobs/{job}/", None, members(200)),
    "job status": ("jobs.status", "GET", "/jobs/{job}/status", None, members(200)),
    "cancel job": ("jobs.cancel_job", "POST", "/jobs/{job}/cancel", {}, needs("run_regroup_events_job", 303)),
    "storage": ("admin.storage_sources", "GET", "/admin/storage", None, superusers(200)),
    "register storage": ("admin.storage_sources", "POST", "/admin/storage",
                         {"name": "New source", "location": "{data_folder}"}, superusers(303)),
    "grant storage": ("admin.storage_grant", "POST", "/admin/storage/{source}/grants",
                      {"project_id": "{project}", "action": "grant"}, superusers(303)),
    "users": ("admin.users", "GET", "/admin/users", None, superusers(200)),
    "create user": ("admin.users", "POST", "/admin/users", {"email": "", "password": ""}, superusers(400)),
    "invite user": ("admin.invite", "POST", "/admin/users/invite", {"invite_email": "invitee@example.org"},
                    superusers(200)),
    # No user 99999: a superuser gets to the lookup (404), everyone else is stopped before it.
    "disable user": ("admin.disable_user", "POST", "/admin/users/99999/disable", {"action": "disable"},
                     superusers(404)),
    # Anyone may open an invitation link; an unknown one is 404 for everyone.
    "invitation": ("auth.invitation", "GET", "/invite/not-a-real-link", None, public(404, 404)),
    "accept invitation": ("auth.invitation", "POST", "/invite/not-a-real-link", {"password": "a-long-password"},
                          public(404, 404)),
    "open storage": ("admin.storage_open", "POST", "/admin/storage/{source}/open",
                     {"open_to_all_projects": "on"}, superusers(303)),
}


def html_routes(app) -> set[tuple[str, str]]:
    """(endpoint, method) of every route but the JSON API and static files."""
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and not rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_html_route_is_in_the_matrix(app):
    covered = {(endpoint, method) for endpoint, method, *_ in PAGES.values()}
    missing = html_routes(app) - covered
    assert not missing, f"add these routes to PAGES in {Path(__file__).name}: {sorted(missing)}"
    assert not covered - html_routes(app), "PAGES lists routes the app does not have"


def _users():
    # Signed in through the session cookie, so no password (and no slow hashing) is needed.
    users = {actor: User(email=f"{actor.lower()}@example.org", is_superuser=actor == "superuser", password_hash="!")
             for actor in ACTORS[1:]}
    db.session.add_all(users.values())
    project = add_project("Private", members=[(users[role], role) for role in ROLES])
    folder = Path(current_app.config["DATA_SOURCE_ROOTS"][0]) / "station"
    folder.mkdir(exist_ok=True)
    source = grant_data_root(project)
    deployment = add_deployment(project, "Station", data_source=str(folder))
    moment = datetime(2024, 6, 1, 22, 0)
    event = Event(deployment_id=deployment.id, project_id=project.id, group_by="2024-06-01", start=moment, end=moment,
                  captures_count=1)
    capture = Capture(deployment_id=deployment.id, path="20240601220000.jpg", timestamp=moment)
    db.session.add_all([event, capture])
    db.session.flush()
    # A stored thumbnail, so the file route has a file to serve to those who may see it.
    db.session.add(Thumbnail(capture_id=capture.id, label="small", width=240, height=160, path="permissions/small.jpg"))
    stored = storage_for(current_app.config["THUMBNAIL_ROOT"]).local_path("permissions/small.jpg")
    stored.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (240, 160), "white").save(stored, "JPEG")
    # Someone else's API token: nobody here may revoke it.
    owner = User(email="owner@example.org", password_hash="!")
    db.session.add(owner)
    owner.new_api_token()
    db.session.commit()
    return users, project, deployment, event, capture, folder, source.id


def _client_for(app, user):
    app.test_client_class = FreshGlobalsClient
    client = app.test_client()
    if user is not None:
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
    return client


def _answer(response) -> int | str:
    if response.status_code == 302 and response.headers["Location"].startswith("/login?next="):
        return LOGIN
    return response.status_code


@pytest.mark.parametrize("case", PAGES)
def test_page_permission_matrix(app, case):
    endpoint, method, template, form, who = PAGES[case]
    users, project, deployment, event, capture, folder, source_id = _users()
    manager_membership = db.session.scalar(
        db.select(Membership.id).filter_by(project_id=project.id, user_id=users["ProjectManager"].id)
    )
    token = db.session.scalar(db.select(ApiToken.id).join(User).filter(User.email == "owner@example.org"))
    ids = {"project": project.id, "deployment": deployment.id, "event": event.id, "capture": capture.id,
           "manager_membership": manager_membership, "token": token, "data_folder": str(folder), "source": source_id}
    expected, actual = {}, {}
    for actor in ACTORS:
        job = jobs.create_job("regroup_events", db.session.get(type(deployment), ids["deployment"]))
        ctx = Context(job=job.id, **ids)
        path = template.format(**vars(ctx))
        client = _client_for(app, users.get(actor))
        if method == "GET":
            response = client.get(path)
        else:
            token_page = "/login" if actor == "anonymous" else "/projects/"
            data = {key: value.format(**vars(ctx)) for key, value in form.items()}
            data["csrf_token"] = csrf_token_from(client.get(token_page).get_data(as_text=True))
            response = client.post(path, data=data)
        expected[actor] = who(actor)
        actual[actor] = _answer(response)
        response.close()
        db.session.rollback()
    assert actual == expected
