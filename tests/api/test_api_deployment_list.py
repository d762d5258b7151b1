"""GET /api/v2/deployments/?project=: a project's stations ordered by name, paged, filtered by state,
visible only to the project's members."""
import pytest

from tests.api_helpers import call, token_for
from tests.conftest import add_deployment, add_project, add_user
from tests.views.test_views_station_filter import _job
from webapp.extensions import db
from webapp.models import Membership
from webapp.projects import STATION_STATES


@pytest.fixture
def token(manager):
    return token_for(manager)


def _names(body):
    return [row["name"] for row in body["results"]]


def test_stations_ordered_by_name_and_paged(app, client, token, project):
    for name in ("Marais", "Aulne", "Zèbre", "Colline", "Bois"):
        add_deployment(project, name)
    add_deployment(add_project("Other", members=()), "Autre")
    first = call(client, "GET", f"/deployments/?project={project.id}&page_size=2", token)
    assert first.status_code == 200
    body = first.get_json()
    assert body["count"] == 5 and _names(body) == ["Aulne", "Bois"] and body["previous"] is None
    assert "page=2" in body["next"] and f"project={project.id}" in body["next"]
    assert {"id", "name", "project_id", "data_source", "captures_count", "events_count"} <= set(body["results"][0])
    last = call(client, "GET", f"/deployments/?project={project.id}&page_size=2&page=3", token).get_json()
    assert _names(last) == ["Zèbre"] and last["next"] is None and "page=2" in last["previous"]
    everything = call(client, "GET", f"/deployments/?project={project.id}", token).get_json()
    assert _names(everything) == ["Aulne", "Bois", "Colline", "Marais", "Zèbre"]
    past_end = call(client, "GET", f"/deployments/?project={project.id}&page=9", token).get_json()
    assert past_end["count"] == 5 and past_end["results"] == []


def test_state_filter_uses_the_stations_page_states(app, client, token, project):
    add_deployment(project, "Leaving", deleting=True)
    failed = add_deployment(project, "Failed last")
    _job(failed, "data_storage_sync", "SUCCESS", 1)
    _job(failed, "regroup_events", "FAILURE", 2)
    synced = add_deployment(project, "Synced")
    _job(synced, "data_storage_sync", "SUCCESS", 1)

    def listed(state):
        response = call(client, "GET", f"/deployments/?project={project.id}&state={state}", token)
        assert response.status_code == 200, response.get_json()
        return _names(response.get_json())

    assert listed("being-deleted") == ["Leaving"]
    assert listed("last-job-failed") == ["Failed last"]
    assert listed("never-synced") == ["Leaving"]
    # An empty state is no filter, as on the page.
    assert listed("") == ["Failed last", "Leaving", "Synced"]
    # Every state of the page is accepted.
    for state in STATION_STATES:
        assert call(client, "GET", f"/deployments/?project={project.id}&state={state}", token).status_code == 200


@pytest.mark.parametrize("query, field", [
    ("", "project"), ("project=abc", "project"), ("project=0", "project"),
    ("project={id}&page=0", "page"), ("project={id}&page=x", "page"), ("project={id}&state=bogus", "state"),
])
def test_bad_parameters_are_400_naming_the_field(app, client, token, project, query, field):
    response = call(client, "GET", f"/deployments/?{query.format(id=project.id)}", token)
    assert response.status_code == 400
    body = response.get_json()
    assert field in body["errors"] and body["detail"]


def test_only_members_see_a_projects_stations(app, client, project):
    add_deployment(project, "Secret")
    outsider = token_for(add_user("outsider@example.org"))
    for query in (f"project={project.id}", "project=999999", f"project={project.id}&state=never-synced"):
        response = call(client, "GET", f"/deployments/?{query}", outsider)
        assert response.status_code == 404 and response.get_json()["detail"], query
    member = add_user("member@example.org")
    add_project("Shared", members=[(member, "BasicMember")])
    db.session.add(Membership(user=member, project=project, role="BasicMember"))
    db.session.commit()
    assert _names(call(client, "GET", f"/deployments/?project={project.id}", token_for(member)).get_json()) == ["Secret"]
    superuser = token_for(add_user("root@example.org", superuser=True))
    assert _names(call(client, "GET", f"/deployments/?project={project.id}", superuser).get_json()) == ["Secret"]
    assert call(client, "GET", f"/deployments/?project={project.id}").status_code == 401


def test_a_page_is_a_fixed_number_of_statements_whatever_its_length(app, client, token, project):
    from sqlalchemy import event

    from tests.conftest import grant_data_root

    grant_data_root(project)
    root = app.config["DATA_SOURCE_ROOTS"][0]

    def statements(page_size):
        seen = []
        listener = lambda *args: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            body = call(client, "GET", f"/deployments/?project={project.id}&page_size={page_size}", token).get_json()
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert len(body["results"]) == page_size
        # Every station is shown inside its source, never by its server path.
        assert all(row["data_source"].startswith(f"Data root for {project.name}:") for row in body["results"])
        return len(seen)

    for number in range(40):
        add_deployment(project, f"Station {number:02d}", data_source=f"{root}/station-{number}")
    statements(5)  # the token's first use is marked once; later requests only read
    assert statements(40) == statements(5)
