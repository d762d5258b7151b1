"""The station page's own session gap form: saving, clearing, errors and who may use it."""
import re
from html import unescape as html_unescape

import pytest

from tests.conftest import add_deployment, add_user, csrf_token_from
from webapp.extensions import db
from webapp.models import Deployment, Membership
from webapp.projects import stations_needing_regroup


def _post(client, station, data):
    page = client.get("/projects/")
    data = dict(data, csrf_token=csrf_token_from(page.get_data(as_text=True)))
    return client.post(f"/deployments/{station.id}/settings", data=data)


def _stored_gap(station):
    db.session.expire_all()
    return db.session.get(Deployment, station.id).session_time_gap_seconds


def _summary_gap(html):
    match = re.search(r"<span>Session gap</span><b>([^<]+)</b>\s*<small class=\"muted\">([^<]+)</small>", html)
    assert match, "the summary shows no session gap"
    return tuple(html_unescape(part) for part in match.groups())


@pytest.fixture
def station(project):
    return add_deployment(project, "North", captures_count=10, grouped_gap_seconds=7200, grouped_keying="date")


@pytest.fixture
def member(project):
    user = add_user("member@example.org", "pw-member")
    db.session.add(Membership(user=user, project=project, role="BasicMember"))
    db.session.commit()
    return user


def test_form_shows_empty_override_and_the_projects_gap(client, auth, station):
    auth.login()
    html = client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    assert 'for="session_gap_hours">Station\'s own session gap (hours)' in html
    assert 'name="session_gap_hours" value=""' in html
    assert "Leave empty to use the project's gap (2 h). A change applies when the station is regrouped." in html
    assert f'action="/deployments/{station.id}/settings"' in html
    assert _summary_gap(html) == ("2 h", "from the project")


def test_setting_a_gap_stores_seconds_and_the_summary_shows_the_station_as_source(client, auth, project, station):
    auth.login()
    assert stations_needing_regroup(project) == []
    response = _post(client, station, {"session_gap_hours": "4"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/deployments/{station.id}/")
    assert _stored_gap(station) == 14400
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Station gap set to 4 h." in html
    assert _summary_gap(html) == ("4 h", "this station's own gap")
    assert 'name="session_gap_hours" value="4"' in html
    assert "not cut with the current settings (4 h" in html
    # The station list's badge and the project's regroup list agree with the page.
    assert [d.id for d in stations_needing_regroup(project)] == [station.id]
    assert "needs regroup" in client.get(f"/projects/{project.id}/").get_data(as_text=True)


def test_an_override_equal_to_the_grouped_gap_needs_no_regroup(client, auth, project, station):
    project.session_time_gap_seconds = 3600
    db.session.commit()
    auth.login()
    assert [d.id for d in stations_needing_regroup(project)] == [station.id]
    _post(client, station, {"session_gap_hours": "2"})
    assert _stored_gap(station) == 7200
    assert stations_needing_regroup(project) == []
    assert "needs regroup" not in client.get(f"/projects/{project.id}/").get_data(as_text=True)
    assert "not cut with the current settings" not in client.get(f"/deployments/{station.id}/").get_data(as_text=True)


@pytest.mark.parametrize("typed", ["", "   "])
def test_empty_field_returns_the_station_to_the_projects_gap(client, auth, station, typed):
    station.session_time_gap_seconds = 14400
    db.session.commit()
    auth.login()
    response = _post(client, station, {"session_gap_hours": typed})
    assert response.status_code == 303
    assert _stored_gap(station) is None
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Station now uses the project&#39;s gap." in html
    assert _summary_gap(html) == ("2 h", "from the project")


def test_decimal_hours_are_kept_to_the_second(client, auth, station):
    auth.login()
    assert _post(client, station, {"session_gap_hours": "1,5"}).status_code == 303
    assert _stored_gap(station) == 5400


@pytest.mark.parametrize(
    "typed, message",
    [
        ("four", "Enter a number of hours, for example 2 or 1.5."),
        ("0", "The gap must be more than 0 hours."),
        ("-3", "The gap must be more than 0 hours."),
        ("0.01", "The gap must be at least 1 minute (0.0167 hours)."),
        ("169", "The gap must be at most 168 hours (7 days)."),
        ("inf", "Enter a number of hours, for example 2 or 1.5."),
    ],
)
def test_invalid_gap_is_400_on_the_station_page_with_the_value_kept(client, auth, station, typed, message):
    station.session_time_gap_seconds = 10800
    db.session.commit()
    auth.login()
    response = _post(client, station, {"session_gap_hours": typed})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'<p class="field-error" id="gap-error">{message}</p>' in html
    assert 'class="field has-error"' in html and 'aria-invalid="true"' in html
    assert f'name="session_gap_hours" value="{typed}"' in html
    assert "<h2>Sessions</h2>" in html  # the whole station page, not a fragment
    assert _stored_gap(station) == 10800


def test_typed_value_is_escaped(client, auth, station):
    auth.login()
    response = _post(client, station, {"session_gap_hours": '"><script>x</script>'})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    assert _stored_gap(station) is None


def test_basic_member_sees_no_form_and_gets_403(client, auth, station, member):
    auth.login("member@example.org", "pw-member")
    page = client.get(f"/deployments/{station.id}/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="session_gap_hours"' not in html and "/settings" not in html
    assert _summary_gap(html) == ("2 h", "from the project")
    assert _post(client, station, {"session_gap_hours": "4"}).status_code == 403
    assert _stored_gap(station) is None


def test_non_member_gets_404(client, auth, station):
    add_user("outsider@example.org", "pw-out")
    auth.login("outsider@example.org", "pw-out")
    assert client.get(f"/deployments/{station.id}/").status_code == 404
    assert _post(client, station, {"session_gap_hours": "4"}).status_code == 404
    assert _stored_gap(station) is None


def test_unknown_station_is_404(client, auth, project):
    auth.login()
    token = csrf_token_from(client.get("/projects/").get_data(as_text=True))
    assert client.post("/deployments/999999/settings", data={"session_gap_hours": "4", "csrf_token": token}).status_code == 404


def test_post_without_csrf_token_is_refused(client, auth, station):
    auth.login()
    response = client.post(f"/deployments/{station.id}/settings", data={"session_gap_hours": "4"})
    assert response.status_code == 400
    assert _stored_gap(station) is None


def test_superuser_may_set_the_gap_of_a_station_outside_any_project(client, auth, app):
    add_user("root@example.org", "pw-root", superuser=True)
    loose = add_deployment(None, "Unassigned")
    auth.login("root@example.org", "pw-root")
    html = client.get(f"/deployments/{loose.id}/").get_data(as_text=True)
    assert "Leave empty to use the project's gap. A change applies" in html.replace("&#39;", "'")
    response = _post(client, loose, {"session_gap_hours": "3"})
    assert response.status_code == 303
    assert _stored_gap(loose) == 10800
    assert _summary_gap(client.get(response.headers["Location"]).get_data(as_text=True)) == ("3 h", "this station's own gap")


def test_the_station_page_lists_captures_with_the_session_whose_span_holds_them(client, auth, project):
    from datetime import datetime, timedelta

    from tests.sessions.test_regroup import add_captures
    from webapp.sessions import regroup_deployment

    station = add_deployment(project, "Lister")
    night = datetime(2026, 6, 1, 22, 0)
    add_captures(station, [night + timedelta(minutes=5 * i) for i in range(60)] + [None], prefix="cam")
    regroup_deployment(station)
    add_captures(station, [night + timedelta(days=3)], prefix="late")
    auth.login()
    html = client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    assert "<h2>Captures</h2>" in html and "<code>cam/0.jpg</code>" in html and "2026-06-01" in html
    assert "Captures pages" in html and "captures_page=2" in html
    last = client.get(f"/deployments/{station.id}/?captures_page=99").get_data(as_text=True)
    assert "<code>late/61.jpg</code>" in last and "not grouped yet" in last and "no capture time" in last
