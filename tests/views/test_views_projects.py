"""Project pages: the stations list (sorting, pagination, bulk jobs) and the settings form."""
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event

from tests.conftest import add_deployment, add_project, add_user, csrf_token_from
from webapp.extensions import db
from webapp.models import Deployment, Job, Project


def _post(client, url, data):
    page = client.get("/projects/")
    data = dict(data, csrf_token=csrf_token_from(page.get_data(as_text=True)))
    return client.post(url, data=data)


@pytest.fixture
def member(app, project):
    user = add_user("member@example.org", "pw-member")
    from webapp.models import Membership

    db.session.add(Membership(user=user, project=project, role="BasicMember"))
    db.session.commit()
    return user


# -- settings -------------------------------------------------------------

def test_settings_form_shows_gap_in_hours_and_keying_help(client, auth, project):
    project.session_time_gap_seconds = 5400
    db.session.commit()
    auth.login()
    page = client.get(f"/projects/{project.id}/settings")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="session_gap_hours"' in html and 'value="1.5"' in html
    assert 'for="session_gap_hours">Session gap (hours)' in html
    assert "applies to a station when it is regrouped" in html
    for keying in ("date", "night", "run"):
        assert f'value="{keying}"' in html
    assert "One session per monitoring night" in html
    assert "ProjectManager" in html  # the nav shows the role


def test_settings_save_stores_seconds_and_redirects(client, auth, project):
    auth.login()
    response = _post(client, f"/projects/{project.id}/settings", {"session_gap_hours": "1.5", "session_keying": "night"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/projects/{project.id}/settings")
    db.session.expire_all()
    assert db.session.get(Project, project.id).session_time_gap_seconds == 5400
    assert db.session.get(Project, project.id).session_keying == "night"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Settings saved: session gap 1.5 h" in page


@pytest.mark.parametrize(
    "typed, message",
    [
        ("", "Enter the session gap in hours."),
        ("two", "Enter a number of hours"),
        ("0", "more than 0 hours"),
        ("-3", "more than 0 hours"),
        ("0.01", "at least 1 minute"),
        ("169", "at most 168 hours"),
        ("nan", "Enter a number of hours"),
    ],
)
def test_settings_invalid_gap_is_400_with_error_beside_field_and_value_kept(client, auth, project, typed, message):
    auth.login()
    response = _post(client, f"/projects/{project.id}/settings", {"session_gap_hours": typed, "session_keying": "date"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html
    assert 'class="field has-error"' in html and 'aria-invalid="true"' in html
    assert f'name="session_gap_hours" value="{typed}"' in html
    db.session.expire_all()
    assert db.session.get(Project, project.id).session_time_gap_seconds == 7200


def test_settings_invalid_keying_is_400(client, auth, project):
    auth.login()
    response = _post(client, f"/projects/{project.id}/settings", {"session_gap_hours": "3", "session_keying": "weekly"})
    assert response.status_code == 400
    assert "Must be one of: date, night, run." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Project, project.id).session_time_gap_seconds == 7200


def test_settings_typed_value_is_escaped(client, auth, project):
    auth.login()
    response = _post(client, f"/projects/{project.id}/settings", {"session_gap_hours": '"><script>x</script>', "session_keying": "date"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;" in html


def test_settings_read_only_for_members_and_post_forbidden(client, auth, project, member):
    auth.login("member@example.org", "pw-member")
    page = client.get(f"/projects/{project.id}/settings")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="session_gap_hours"' not in html
    assert "2 hours" in html and "BasicMember" in html
    response = _post(client, f"/projects/{project.id}/settings", {"session_gap_hours": "3", "session_keying": "date"})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Project, project.id).session_time_gap_seconds == 7200


def test_settings_of_invisible_project_is_404(client, auth, project):
    add_user("outsider@example.org", "pw-out")
    auth.login("outsider@example.org", "pw-out")
    assert client.get(f"/projects/{project.id}/settings").status_code == 404
    assert _post(client, f"/projects/{project.id}/settings", {"session_gap_hours": "3"}).status_code == 404


def test_settings_offers_regroup_of_stations_grouped_with_another_gap(client, auth, project):
    for name in ("North", "South"):
        add_deployment(project, name, captures_count=10, grouped_gap_seconds=7200, grouped_keying="date")
    add_deployment(project, "Empty")  # nothing to regroup
    auth.login()
    _post(client, f"/projects/{project.id}/settings", {"session_gap_hours": "4", "session_keying": "date"})
    html = client.get(f"/projects/{project.id}/settings").get_data(as_text=True)
    assert "2 stations are still grouped with a different gap" in html
    assert "Regroup all 2 stations now" in html
    response = _post(client, f"/projects/{project.id}/regroup-all", {})
    assert response.status_code == 303
    jobs = db.session.scalars(db.select(Job).order_by(Job.id)).all()
    assert [j.job_type_key for j in jobs] == ["regroup_events", "regroup_events"]
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Queued 2 jobs: job {jobs[0].id} for North, job {jobs[1].id} for South" in flash_text(html)
    assert f'<a href="/jobs/{jobs[0].id}/">job {jobs[0].id}</a>' in html


def test_regroup_all_forbidden_for_members(client, auth, project, member):
    add_deployment(project, "North", captures_count=10, grouped_gap_seconds=3600, grouped_keying="date")
    auth.login("member@example.org", "pw-member")
    html = client.get(f"/projects/{project.id}/settings").get_data(as_text=True)
    assert "Regroup all" not in html
    assert _post(client, f"/projects/{project.id}/regroup-all", {}).status_code == 403
    assert db.session.scalar(db.select(db.func.count(Job.id))) == 0


# -- stations list ---------------------------------------------------------

def _stations(project, n):
    base = datetime(2024, 6, 1, 22, 0)
    rows = [
        Deployment(
            name=f"Station {i:03d}",
            project=project,
            captures_count=(i * 37) % 101,
            events_count=i % 7,
            first_capture_timestamp=base + timedelta(days=i),
            last_capture_timestamp=base + timedelta(days=i, hours=5),
        )
        for i in range(n)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def _names(html):
    return re.findall(r'<td><a href="/deployments/\d+/">([^<]+)</a></td>', html)


def test_stations_sorted_by_whitelisted_columns(client, auth, project):
    stations = _stations(project, 8)
    auth.login()
    by_captures = sorted(stations, key=lambda d: (-d.captures_count, d.id))
    html = client.get(f"/projects/{project.id}/?sort=captures&dir=desc").get_data(as_text=True)
    assert _names(html) == [d.name for d in by_captures]
    assert 'aria-sort="descending"' in html
    html = client.get(f"/projects/{project.id}/?sort=first&dir=asc").get_data(as_text=True)
    assert _names(html) == [d.name for d in stations]
    assert 'aria-sort="ascending"' in html
    # Unknown keys fall back to the name, never reach SQL.
    response = client.get(f"/projects/{project.id}/?sort=name;drop table&dir=sideways&page=abc")
    assert response.status_code == 200
    assert _names(response.get_data(as_text=True)) == sorted(d.name for d in stations)


def test_stations_paginated_by_50(client, auth, project):
    _stations(project, 60)
    auth.login()
    first = client.get(f"/projects/{project.id}/").get_data(as_text=True)
    assert len(_names(first)) == 50 and "Page 1 of 2" in first
    second = client.get(f"/projects/{project.id}/?page=2").get_data(as_text=True)
    assert _names(second) == [f"Station {i:03d}" for i in range(50, 60)]
    beyond = client.get(f"/projects/{project.id}/?page=99")
    assert beyond.status_code == 200 and "Page 2 of 2" in beyond.get_data(as_text=True)


def _count_statements(client, url):
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return statements


def test_stations_list_query_count_does_not_grow_with_rows(client, auth, project):
    auth.login()
    _stations(project, 3)
    few = _count_statements(client, f"/projects/{project.id}/?sort=captures")
    _stations(project, 57)
    many = _count_statements(client, f"/projects/{project.id}/?sort=captures")
    html = client.get(f"/projects/{project.id}/").get_data(as_text=True)
    assert len(_names(html)) == 50
    assert len(few) == len(many), (few, many)
    # Sign-in, project, role, coordinates note, problems count, work under way, the count and the page.
    assert len(many) <= 9


def test_bulk_actions_shown_by_permission(client, auth, project, member):
    _stations(project, 2)
    auth.login()
    html = client.get(f"/projects/{project.id}/").get_data(as_text=True)
    assert "Regroup captures into sessions" in html and "Sync captures" in html
    assert 'name="deployment_ids"' in html
    auth.logout()
    auth.login("member@example.org", "pw-member")
    html = client.get(f"/projects/{project.id}/").get_data(as_text=True)
    assert "Regroup captures into sessions" not in html and "Sync captures" not in html
    response = _post(client, f"/projects/{project.id}/stations/jobs", {"action": "regroup", "deployment_ids": ["1"]})
    assert response.status_code == 403
    assert db.session.scalar(db.select(db.func.count(Job.id))) == 0


def test_ml_data_manager_may_sync_but_not_regroup(client, auth, project):
    from webapp.models import Membership

    user = add_user("ml@example.org", "pw-ml")
    db.session.add(Membership(user=user, project=project, role="MLDataManager"))
    db.session.commit()
    station = add_deployment(project, "North", data_source="/data/north")
    auth.login("ml@example.org", "pw-ml")
    html = client.get(f"/projects/{project.id}/").get_data(as_text=True)
    assert "Sync captures" in html and "Regroup captures into sessions" not in html
    assert _post(client, f"/projects/{project.id}/stations/jobs", {"action": "regroup", "deployment_ids": [str(station.id)]}).status_code == 403
    response = _post(client, f"/projects/{project.id}/stations/jobs", {"action": "sync", "deployment_ids": [str(station.id)]})
    assert response.status_code == 303


def test_bulk_regroup_queues_one_job_per_station_and_reports_skips(client, auth, project):
    other = add_project("Other", members=[])
    a = add_deployment(project, "Alpha")
    b = add_deployment(project, "Beta")
    foreign = add_deployment(other, "Foreign")
    auth.login()
    response = _post(
        client,
        f"/projects/{project.id}/stations/jobs",
        {"action": "regroup", "deployment_ids": [str(a.id), str(b.id), str(foreign.id), "x1"], "sort": "captures", "dir": "desc"},
    )
    assert response.status_code == 303
    assert "sort=captures" in response.headers["Location"]
    jobs = db.session.scalars(db.select(Job).order_by(Job.id)).all()
    assert [(j.deployment_id, j.job_type_key) for j in jobs] == [(a.id, "regroup_events"), (b.id, "regroup_events")]
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Queued 2 jobs: job {jobs[0].id} for Alpha, job {jobs[1].id} for Beta — skipped: " in flash_text(html)
    assert f"station {foreign.id} (not in this project)" in html
    assert "(not a station id)" in html
    assert not db.session.scalars(db.select(Job).filter_by(deployment_id=foreign.id)).all()


def flash_text(html: str) -> str:
    """The flash messages' words, tags removed and white space folded."""
    flashes = re.findall(r'<div class="flash[^"]*" role="status">(.*?)</div>', html, re.S)
    return " ".join(" ".join(re.sub(r"<[^>]+>", "", flash).split()) for flash in flashes)


def test_a_bulk_action_over_thousands_of_stations_keeps_its_message_and_cookie_small(client, auth, project):
    a = add_deployment(project, "Alpha")
    auth.login()
    garbage = [f"x{i}" for i in range(5000)]
    response = _post(client, f"/projects/{project.id}/stations/jobs", {"action": "regroup", "deployment_ids": [str(a.id), *garbage]})
    assert response.status_code == 303
    cookie = " ".join(response.headers.getlist("Set-Cookie"))
    assert len(cookie) < 2000, len(cookie)
    job = db.session.scalar(db.select(Job))
    text = flash_text(client.get(response.headers["Location"]).get_data(as_text=True))
    assert f"Queued 1 job: job {job.id} for Alpha — skipped: &#39;x0&#39; (not a station id)" in text
    assert text.endswith("&#39;x4&#39; (not a station id) and 4995 more")


def test_bulk_sync_skips_stations_without_data_source(client, auth, project, tmp_path):
    with_source = add_deployment(project, "Has folder", data_source=str(tmp_path / "data"))
    without = add_deployment(project, "No folder", data_source="")
    auth.login()
    response = _post(client, f"/projects/{project.id}/stations/jobs", {"action": "sync", "deployment_ids": [str(with_source.id), str(without.id)]})
    jobs = db.session.scalars(db.select(Job)).all()
    assert [(j.deployment_id, j.job_type_key) for j in jobs] == [(with_source.id, "data_storage_sync")]
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Queued 1 job: job {jobs[0].id} for Has folder — skipped: No folder (no data source)" in flash_text(html)


def test_bulk_without_selection_or_with_unknown_action(client, auth, project):
    add_deployment(project, "Alpha")
    auth.login()
    response = _post(client, f"/projects/{project.id}/stations/jobs", {"action": "regroup"})
    assert "Select at least one station first." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _post(client, f"/projects/{project.id}/stations/jobs", {"action": "delete", "deployment_ids": ["1"]}).status_code == 400
    assert db.session.scalar(db.select(db.func.count(Job.id))) == 0


def test_bulk_post_without_csrf_token_is_refused(client, auth, project):
    station = add_deployment(project, "Alpha")
    auth.login()
    response = client.post(f"/projects/{project.id}/stations/jobs", data={"action": "regroup", "deployment_ids": [str(station.id)]})
    assert response.status_code == 400
    assert db.session.scalar(db.select(db.func.count(Job.id))) == 0


def test_huge_ids_in_forms_and_filters_are_reported_not_500(client, auth, project):
    huge = "9" * 25
    auth.login()
    response = _post(client, f"/projects/{project.id}/stations/jobs", {"action": "regroup", "deployment_ids": [huge, "-3"]})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "not a station id" in page
    assert db.session.scalar(db.select(db.func.count(Job.id))) == 0
    for name in ("project", "deployment"):
        assert client.get(f"/jobs/?{name}={huge}").status_code == 200
