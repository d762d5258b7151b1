"""The stations list's filter box: name (ignoring case and accents) and state, kept in the URL."""
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event

from tests.conftest import add_deployment
from webapp.extensions import db
from webapp.models import Deployment, Job
from webapp.projects import update_deployment


def _rows(html):
    return re.findall(r'<td><a href="/deployments/\d+/">([^<]+)</a>(?: <span class="badge badge-deleting">being deleted</span>)?</td>', html)


def _names(html):
    return sorted(_rows(html))


def _list(client, project, query):
    response = client.get(f"/projects/{project.id}/?{query}")
    assert response.status_code == 200
    return _names(response.get_data(as_text=True))


def _job(deployment, key, status, minutes):
    job = Job(
        name=key, job_type_key=key, status=status, deployment_id=deployment.id, project_id=deployment.project_id,
        created_at=datetime(2026, 1, 1) + timedelta(minutes=minutes), progress={}, logs={},
    )
    db.session.add(job)
    db.session.commit()
    return job


def test_name_matches_ignoring_case_and_accents(client, auth, project):
    for name in ("Étang Nord", "ETANG sud", "étang-Ouest", "Marais", "Straße 5", "50%_off", "500 off"):
        add_deployment(project, name)
    auth.login()
    assert _list(client, project, "q=etang") == ["ETANG sud", "Étang Nord", "étang-Ouest"]
    assert _list(client, project, "q=%C3%89TANG") == ["ETANG sud", "Étang Nord", "étang-Ouest"]  # ÉTANG
    assert _list(client, project, "q=  etang   NORD ") == ["Étang Nord"]
    assert _list(client, project, "q=STRASSE") == ["Straße 5"]
    assert _list(client, project, "q=foret") == []
    # LIKE's wildcards are matched as themselves.
    assert _list(client, project, "q=%25") == ["50%_off"]
    assert _list(client, project, "q=_o") == ["50%_off"]


def test_search_name_follows_every_way_a_name_is_saved(app, project):
    station = add_deployment(project, "Forêt")
    assert station.search_name == "foret"
    update_deployment(station, {"name": "Clairière Œste"})
    assert db.session.scalar(db.select(Deployment.search_name).where(Deployment.id == station.id)) == "clairiere œste"
    db.session.execute(db.insert(Deployment.__table__), [{"name": "Été", "project_id": project.id, "data_source": ""}])
    assert db.session.scalar(db.select(Deployment.search_name).where(Deployment.name == "Été")) == "ete"


def test_needs_regroup_matches_the_list_badge(client, auth, project):
    project.session_time_gap_seconds = 7200
    stale_gap = add_deployment(project, "Stale gap", captures_count=5, grouped_gap_seconds=3600, grouped_keying="date")
    stale_keying = add_deployment(project, "Stale keying", captures_count=5, grouped_gap_seconds=7200, grouped_keying="night")
    never = add_deployment(project, "Never grouped", captures_count=5)
    add_deployment(project, "Current", captures_count=5, grouped_gap_seconds=7200, grouped_keying="date")
    add_deployment(project, "Own gap current", captures_count=5, session_time_gap_seconds=600, grouped_gap_seconds=600, grouped_keying="date")
    add_deployment(project, "Own gap zero", captures_count=5, session_time_gap_seconds=0, grouped_gap_seconds=7200, grouped_keying="date")
    add_deployment(project, "Own gap negative", captures_count=5, session_time_gap_seconds=-5, grouped_gap_seconds=7200, grouped_keying="date")
    zero_stale = add_deployment(project, "Own gap zero, stale", captures_count=5, session_time_gap_seconds=0, grouped_gap_seconds=3600, grouped_keying="date")
    add_deployment(project, "No captures", captures_count=0, grouped_gap_seconds=1, grouped_keying="run")
    auth.login()
    expected = sorted(d.name for d in db.session.scalars(db.select(Deployment)) if d.grouped_with_other_settings)
    assert expected == sorted([stale_gap.name, stale_keying.name, never.name, zero_stale.name])
    assert _list(client, project, "state=needs-regroup") == expected


def test_last_job_failed_reads_only_the_newest_job(client, auth, project):
    failed_last = add_deployment(project, "Failed last")
    _job(failed_last, "regroup_events", "SUCCESS", 1)
    _job(failed_last, "data_storage_sync", "FAILURE", 2)
    recovered = add_deployment(project, "Recovered")
    _job(recovered, "data_storage_sync", "FAILURE", 1)
    _job(recovered, "data_storage_sync", "SUCCESS", 2)
    add_deployment(project, "No jobs")
    auth.login()
    assert _list(client, project, "state=last-job-failed") == ["Failed last"]


def test_never_synced_means_no_successful_sync(client, auth, project):
    synced = add_deployment(project, "Synced")
    _job(synced, "data_storage_sync", "SUCCESS", 1)
    _job(synced, "data_storage_sync", "FAILURE", 2)
    tried = add_deployment(project, "Sync failed")
    _job(tried, "data_storage_sync", "FAILURE", 1)
    regrouped = add_deployment(project, "Regrouped only")
    _job(regrouped, "regroup_events", "SUCCESS", 1)
    add_deployment(project, "Brand new")
    auth.login()
    assert _list(client, project, "state=never-synced") == ["Brand new", "Regrouped only", "Sync failed"]


def test_being_deleted(client, auth, project):
    add_deployment(project, "Leaving", deleting=True)
    add_deployment(project, "Staying")
    auth.login()
    assert _list(client, project, "state=being-deleted") == ["Leaving"]
    assert _list(client, project, "") == ["Leaving", "Staying"]


def test_filters_and_sort_stay_in_every_link_and_unknown_values_are_dropped(client, auth, project):
    for i in range(55):
        add_deployment(project, f"Étang {i:02d}", captures_count=i)
    add_deployment(project, "Marais", captures_count=3)
    auth.login()
    html = client.get(f"/projects/{project.id}/?q=etang&sort=captures&dir=desc").get_data(as_text=True)
    assert "55 stations match" in html
    assert 'value="etang"' in html  # the box shows what was typed
    assert f'href="/projects/{project.id}/?q=etang&amp;sort=captures&amp;dir=desc&amp;page=2"' in html
    assert f'href="/projects/{project.id}/?q=etang&amp;sort=name&amp;dir=asc"' in html
    assert _rows(html)[:2] == ["Étang 54", "Étang 53"] and "Marais" not in _rows(html)
    # The form works without JavaScript: a plain GET to the page itself.
    assert f'<form method="get" action="/projects/{project.id}/"' in html and 'name="q"' in html
    assert _list(client, project, "state=bogus&q=marais") == ["Marais"]
    assert len(_list(client, project, "q=" + "x" * 5000)) == 0


def test_filter_fragment_swaps_the_list_and_puts_the_filters_in_the_address_bar(client, auth, project):
    add_deployment(project, "Étang Nord")
    add_deployment(project, "Marais")
    auth.login()
    response = client.get(f"/projects/{project.id}/stations?q=ETANG&state=&sort=name&dir=asc", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith("{#") is False and 'id="stations-list"' in html
    assert _names(html) == ["Étang Nord"] and "1 station matches" in html
    assert response.headers["HX-Replace-Url"] == f"/projects/{project.id}/?q=ETANG&sort=name&dir=asc"
    page = client.get(f"/projects/{project.id}/").get_data(as_text=True)
    assert f'data-hx-get="/projects/{project.id}/stations"' in page
    assert 'data-hx-trigger="input changed delay:300ms from:#station-q' in page
    assert client.get(f"/projects/{project.id}/stations?q=zzz").get_data(as_text=True).count("No station matches") == 1


def test_bulk_action_returns_to_the_filtered_list(client, auth, project):
    from tests.conftest import csrf_token_from

    station = add_deployment(project, "Étang")
    auth.login()
    token = csrf_token_from(client.get("/projects/").get_data(as_text=True))
    response = client.post(
        f"/projects/{project.id}/stations/jobs",
        data={"csrf_token": token, "action": "regroup", "deployment_ids": [str(station.id)], "q": "etang", "state": "never-synced"},
    )
    assert response.status_code == 303
    assert "q=etang" in response.headers["Location"] and "state=never-synced" in response.headers["Location"]


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


def _add_stations(project, start, n):
    for i in range(start, start + n):
        station = add_deployment(project, f"Étang {i:03d}", captures_count=i, grouped_gap_seconds=60)
        _job(station, "data_storage_sync", "FAILURE" if i % 2 else "SUCCESS", i)


@pytest.mark.parametrize("query", ["q=ETANG&state=last-job-failed&sort=captures", "state=needs-regroup", "state=never-synced&q=e"])
@pytest.mark.parametrize("path", ["", "stations"])
def test_filtered_list_query_count_does_not_grow_with_rows(client, auth, project, query, path):
    auth.login()
    _add_stations(project, 0, 3)
    few = _count_statements(client, f"/projects/{project.id}/{path}?{query}")
    _add_stations(project, 3, 57)
    many = _count_statements(client, f"/projects/{project.id}/{path}?{query}")
    assert len(few) == len(many), (few, many)
    # Sign-in, project, role, coordinates note, problems count, work under way, the count and the page.
    assert len(many) <= 9
