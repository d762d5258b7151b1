import pytest

from tests.conftest import add_deployment, add_project, add_user, grant_data_root
from webapp import projects as deployments_service
from webapp import projects as projects_service
from webapp.extensions import db
from webapp.models import Deployment, Membership
from webapp.sessions import clean_gap_hours, clean_gap_seconds
from webapp.validation import ValidationError


@pytest.mark.parametrize("text, seconds", [("2", 7200), ("1.5", 5400), (" 4 ", 14400), ("0,5", 1800), ("168", 604800), ("0.0167", 60)])
def test_gap_hours_to_seconds(text, seconds):
    assert clean_gap_hours(text) == seconds


@pytest.mark.parametrize(
    "text, message",
    [("", "Enter the session gap"), ("abc", "Enter a number"), ("nan", "Enter a number"), ("0", "more than 0"),
     ("-1", "more than 0"), ("0.01", "at least 1 minute"), ("168.1", "at most 168 hours"), ("1e9", "at most 168")],
)
def test_gap_hours_errors(text, message):
    with pytest.raises(ValueError, match=message):
        clean_gap_hours(text)


@pytest.mark.parametrize("value", [True, "7200", 7200.5, 59, 604801, None, float("inf"), [7200]])
def test_gap_seconds_rejects(value):
    with pytest.raises(ValueError):
        clean_gap_seconds(value)


def test_gap_seconds_accepts_whole_numbers():
    assert clean_gap_seconds(7200) == 7200
    assert clean_gap_seconds(14400.0) == 14400


def test_create_and_update_project(app, manager):
    project = projects_service.create_project(manager, {"name": "  Moths  ", "session_keying": "night"})
    assert project.name == "Moths" and project.session_keying == "night" and project.session_time_gap_seconds == 7200
    assert project.memberships[0].role == "ProjectManager"
    with pytest.raises(ValidationError) as raised:
        projects_service.update_project(project, {"session_time_gap_seconds": 0, "session_keying": "week", "name": ""})
    assert set(raised.value.errors) == {"session_time_gap_seconds", "session_keying", "name"}
    assert project.session_time_gap_seconds == 7200  # nothing half-applied
    projects_service.update_project(project, {"session_time_gap_seconds": 14400, "unknown": 1})
    assert project.session_time_gap_seconds == 14400


def test_set_member(app, project):
    user = add_user("someone@example.org")
    membership = projects_service.set_member(project, "Someone@example.org ", "Researcher")
    assert membership.user_id == user.id and membership.role == "Researcher"
    projects_service.set_member(project, "someone@example.org", "MLDataManager")
    assert [m.role for m in project.memberships if m.user_id == user.id] == ["MLDataManager"]
    with pytest.raises(ValidationError) as raised:
        projects_service.set_member(project, "ghost@example.org", "King")
    assert set(raised.value.errors) == {"email", "role"}
    assert Membership.query.filter_by(project_id=project.id).count() == 2


def test_create_deployment_validates_data_source(app, project, tmp_path):
    grant_data_root(project)
    folder = tmp_path / "data" / "st1"
    folder.mkdir()
    deployment = deployments_service.create_deployment(project, {"name": "St 1", "data_source": str(folder)})
    assert deployment.data_source == str(folder.resolve())
    with pytest.raises(ValidationError) as raised:
        deployments_service.create_deployment(project, {"name": "", "data_source": "/etc"})
    assert set(raised.value.errors) == {"name", "data_source"}
    with pytest.raises(ValidationError):
        deployments_service.create_deployment(project, {"name": "x", "data_source": 5})


def test_effective_gap_and_stations_needing_regroup(app, project):
    station = add_deployment(project, captures_count=10, grouped_gap_seconds=7200, grouped_keying="date")
    assert station.grouping_rule.gap_seconds == 7200 and station.grouping_rule.gap_source == "project"
    assert projects_service.stations_needing_regroup(project) == []
    projects_service.update_project(project, {"session_time_gap_seconds": 14400})
    assert projects_service.stations_needing_regroup(project) == [station]
    deployments_service.update_deployment(station, {"session_time_gap_seconds": 7200})
    assert (station.grouping_rule.gap_seconds, station.grouping_rule.gap_source) == (7200, "station")
    assert projects_service.stations_needing_regroup(project) == []
    deployments_service.update_deployment(station, {"session_time_gap_seconds": None})
    assert (station.grouping_rule.gap_seconds, station.grouping_rule.gap_source) == (14400, "project")


def test_the_only_project_manager_cannot_be_demoted(app, project, manager):
    with pytest.raises(ValidationError) as raised:
        projects_service.set_member(project, manager.email, "BasicMember")
    assert "only ProjectManager" in raised.value.errors["role"][0]
    other = add_user("second@example.org")
    projects_service.set_member(project, other.email, "ProjectManager")
    projects_service.set_member(project, manager.email, "BasicMember")
    roles = {m.user.email: m.role for m in project.memberships}
    assert roles == {"manager@example.org": "BasicMember", "second@example.org": "ProjectManager"}


def test_a_stored_gap_of_zero_is_the_default_everywhere_and_needs_no_regroup_after_one(app):
    """One rule: a zero gap falls back to 7200 s for the regroup, the preview and the "needs regroup" check alike."""
    from tests.sessions.test_regroup import CROSS_MIDNIGHT, add_captures
    from webapp.sessions import preview_regroup, regroup_deployment

    project = add_project(session_time_gap_seconds=0)
    station = add_deployment(project)
    add_captures(station, CROSS_MIDNIGHT)
    rule = station.grouping_rule
    assert (rule.gap_seconds, rule.gap_source, rule.configured_gap) == (7200, "default", 0)
    assert preview_regroup(station)["gap_seconds"] == 7200
    regroup_deployment(station)
    station = db.session.get(Deployment, station.id)
    assert station.grouped_gap_seconds == 7200
    assert not station.grouped_with_other_settings
    assert projects_service.stations_needing_regroup(project) == []
