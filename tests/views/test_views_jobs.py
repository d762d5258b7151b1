"""Station page, its job buttons, the jobs list and the live job status fragment.

Job rows are given their status, progress and logs directly: these tests check
what the pages show, not the work (regroup and sync have their own tests).
"""
from datetime import datetime, timedelta

import pytest

from tests.conftest import add_deployment, add_project, add_user, csrf_token_from
from webapp.extensions import db
from webapp.jobs import create_job
from webapp.models import Event, Job, Membership

HX = {"HX-Request": "true"}


def _post(client, url, data=None, headers=None):
    page = client.get("/projects/")
    data = dict(data or {}, csrf_token=csrf_token_from(page.get_data(as_text=True)))
    return client.post(url, data=data, headers=headers or {})


def _member(project, email, role):
    user = add_user(email, "pw")
    db.session.add(Membership(user=user, project=project, role=role))
    db.session.commit()
    return user


@pytest.fixture
def station(project):
    return add_deployment(project, "Meadow", data_source="/data/meadow", captures_count=40, events_count=2)


def _job(station, status="STARTED", key="regroup_events", stdout=(), values=None, progress=0.5):
    job = create_job(key, station)
    job.status = status
    stages = [dict(s) for s in job.progress["stages"]]
    for stage in stages:
        stage["status"] = status
        stage["progress"] = progress
        stage["params"] = [dict(p, value=(values or {}).get(p["key"], p["value"])) for p in stage["params"]]
    job.progress = {"summary": {"status": status, "progress": progress}, "stages": stages}
    job.logs = {"stdout": list(stdout), "stderr": []}
    if status in ("SUCCESS", "FAILURE", "REVOKED"):
        job.finished_at = datetime(2024, 6, 13, 3, 0)
    db.session.commit()
    return job


# -- station page ------------------------------------------------------------

def test_station_page_shows_counts_gap_source_sessions_and_jobs(client, auth, project, station):
    station.session_time_gap_seconds = 14400
    station.grouped_gap_seconds = 7200
    station.grouped_keying = "date"
    station.last_regrouped_at = datetime(2024, 6, 14, 8, 0)
    base = datetime(2024, 6, 12, 22, 0)
    db.session.add_all(
        [
            Event(deployment_id=station.id, project_id=project.id, group_by="2024-06-13", start=base + timedelta(hours=3, minutes=35), end=base + timedelta(hours=4, minutes=30), captures_count=12),
            Event(deployment_id=station.id, project_id=project.id, group_by="2024-06-12", start=base, end=base + timedelta(hours=1), captures_count=13),
        ]
    )
    db.session.commit()
    job = _job(station, "SUCCESS", progress=1.0)
    auth.login()
    html = client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    assert "Meadow" in html and ">40<" in html
    assert "4 h" in html and "this station&#39;s own gap" in html
    assert "with a 2 h gap" in html
    # Sessions ordered by start, with durations.
    assert html.index("2024-06-12 22:00:00") < html.index("2024-06-13 01:35:00")
    assert "1 h 00 min" in html and "55 min 00 s" in html
    assert 'data-hx-trigger="sessions-changed from:body"' in html
    assert f'href="/jobs/{job.id}/"' in html
    assert "Regroup sessions" in html and "Sync captures" in html
    assert 'data-hx-post="/deployments/%d/regroup"' % station.id in html
    assert 'name="csrf_token"' in html
    assert "ProjectManager" in html


def test_station_buttons_follow_permissions(client, auth, project, station):
    _member(project, "basic@example.org", "BasicMember")
    _member(project, "ml@example.org", "MLDataManager")
    auth.login("basic@example.org", "pw")
    html = client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    assert "Regroup sessions</button>" not in html and "Sync captures</button>" not in html
    assert _post(client, f"/deployments/{station.id}/regroup").status_code == 403
    assert _post(client, f"/deployments/{station.id}/sync").status_code == 403
    auth.logout()
    auth.login("ml@example.org", "pw")
    html = client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    assert "Regroup sessions</button>" not in html and "Sync captures</button>" in html
    assert _post(client, f"/deployments/{station.id}/regroup").status_code == 403
    assert db.session.scalar(db.select(db.func.count(Job.id))) == 0


def test_station_of_invisible_project_is_404(client, auth, project, station):
    add_user("outsider@example.org", "pw")
    auth.login("outsider@example.org", "pw")
    assert client.get(f"/deployments/{station.id}/").status_code == 404
    assert client.get(f"/deployments/{station.id}/sessions").status_code == 404
    assert _post(client, f"/deployments/{station.id}/regroup").status_code == 404
    assert client.get("/deployments/9999/").status_code == 404


def test_regroup_button_without_js_redirects_to_the_job_page(client, auth, project, station):
    auth.login()
    response = _post(client, f"/deployments/{station.id}/regroup")
    job = db.session.scalars(db.select(Job)).one()
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/jobs/{job.id}/")
    assert job.job_type_key == "regroup_events" and job.deployment_id == station.id


def test_regroup_button_with_htmx_answers_the_status_fragment(client, auth, project, station):
    auth.login()
    response = _post(client, f"/deployments/{station.id}/regroup", headers=HX)
    job = db.session.scalars(db.select(Job)).one()
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="job-{job.id}-status"' in html and "<html" not in html


def test_sync_button_on_station_without_source_is_400_fragment(client, auth, project):
    bare = add_deployment(project, "Bare", data_source="")
    auth.login()
    page = client.get(f"/deployments/{bare.id}/").get_data(as_text=True)
    assert '<button type="button" disabled aria-describedby="no-source">Sync captures</button>' in page
    response = _post(client, f"/deployments/{bare.id}/sync", headers=HX)
    assert response.status_code == 400
    assert "has no data source" in response.get_data(as_text=True)
    assert 'role="alert"' in response.get_data(as_text=True)
    response = _post(client, f"/deployments/{bare.id}/sync")
    assert response.status_code == 303
    assert "has no data source" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Job.id))) == 0


def test_sessions_fragment(client, auth, project, station):
    db.session.add(Event(deployment_id=station.id, project_id=project.id, group_by="2024-06-12", start=datetime(2024, 6, 12, 22), end=datetime(2024, 6, 12, 23), captures_count=13))
    db.session.commit()
    auth.login()
    response = client.get(f"/deployments/{station.id}/sessions", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="sessions"')
    assert 'data-sessions-count="1"' in html and "2024-06-12 22:00:00" in html


# -- the status fragment -------------------------------------------------------

def test_running_job_fragment_polls_with_200(client, auth, project, station):
    job = _job(station, "STARTED", stdout=["2024-06-13T03:00:00 INFO Regrouping 40 captures"])
    auth.login()
    response = client.get(f"/jobs/{job.id}/status", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'data-hx-get="/jobs/{job.id}/status?seen=STARTED"' in html and 'data-hx-trigger="every 1s"' in html
    assert 'data-hx-swap="outerHTML"' in html
    assert "HX-Trigger" not in response.headers
    # A poll that last saw the job queued is told its status moved (the job page's times follow).
    moved = client.get(f"/jobs/{job.id}/status?seen=PENDING", headers=HX)
    assert moved.headers["HX-Trigger"] == "job-changed"
    assert "STARTED" in html and 'value="50"' in html
    assert "Regrouping 40 captures" in html
    assert "warning-box" not in html
    assert f'data-hx-post="/jobs/{job.id}/cancel"' in html


def test_finished_job_fragment_stops_polling_with_286_and_refreshes_sessions(client, auth, project, station):
    job = _job(station, "SUCCESS", progress=1.0, values={"captures_grouped": 40, "events_created": 1})
    auth.login()
    response = client.get(f"/jobs/{job.id}/status?seen=STARTED", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 286
    assert response.headers["HX-Trigger"] == "job-changed, sessions-changed"
    assert "hx-trigger" not in html and "hx-get" not in html
    assert "Cancel</button>" not in html
    assert '<tr data-param="captures_grouped"><th scope="row">Captures grouped</th><td class="num">40</td></tr>' in html
    names = ["Captures grouped", "Events created", "Events touched", "Empty events deleted", "Duplicate timestamps", "Ungrouped captures", "Captures missing timestamp"]
    positions = [html.index(f">{name}<") for name in names]
    assert positions == sorted(positions)


def test_sync_job_fragment_has_a_bar_and_params_per_stage(client, auth, project, station):
    job = _job(station, "STARTED", key="data_storage_sync", values={"total_files": 12})
    auth.login()
    html = client.get(f"/jobs/{job.id}/status").get_data(as_text=True)
    assert html.count("<progress") == 3
    assert 'data-stage="data_storage_sync"' in html and 'data-stage="regroup_sessions"' in html
    assert 'data-stage="thumbnails"' in html
    assert '<th scope="row">Total files</th><td class="num">12</td>' in html


def test_warning_in_log_shows_warning_box(client, auth, project, station):
    line = "2024-06-13T03:00:01 WARNING Station 1: another regroup is in progress; this one did nothing."
    job = _job(station, "SUCCESS", progress=1.0, stdout=["2024-06-13T03:00:00 INFO Start", line])
    auth.login()
    html = client.get(f"/jobs/{job.id}/status").get_data(as_text=True)
    box = html[html.index('class="warning-box"'):]
    assert 'role="alert"' in box[:40]
    assert "another regroup is in progress" in box[: box.index("</div>")]


def test_log_lines_are_escaped(client, auth, project, station):
    job = _job(station, "STARTED", stdout=["2024-06-13T03:00:00 WARNING bad file <img src=x onerror=alert(1)>.jpg"])
    auth.login()
    html = client.get(f"/jobs/{job.id}/status").get_data(as_text=True)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in html


def test_failed_job_shows_error_box(client, auth, project, station):
    job = _job(station, "FAILURE", progress=0.2)
    job.logs = {"stdout": ["2024-06-13T03:00:00 ERROR boom"], "stderr": ["Traceback …", "RuntimeError: boom"]}
    db.session.commit()
    auth.login()
    response = client.get(f"/jobs/{job.id}/status")
    assert response.status_code == 286
    assert "error-box" in response.get_data(as_text=True) and "RuntimeError: boom" in response.get_data(as_text=True)


def test_status_of_invisible_job_is_404(client, auth, project, station):
    job = _job(station)
    add_user("outsider@example.org", "pw")
    auth.login("outsider@example.org", "pw")
    assert client.get(f"/jobs/{job.id}/status").status_code == 404
    assert client.get(f"/jobs/{job.id}/").status_code == 404
    assert client.get("/jobs/424242/status").status_code == 404


# -- cancel ----------------------------------------------------------------

def test_cancel_running_job(client, auth, project, station):
    job = _job(station, "STARTED")
    auth.login()
    response = _post(client, f"/jobs/{job.id}/cancel", headers=HX)
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Job, job.id).status == "CANCELING"
    assert "CANCELING" in response.get_data(as_text=True)


def test_cancel_needs_run_permission(client, auth, project, station):
    job = _job(station, "STARTED")
    _member(project, "basic@example.org", "BasicMember")
    auth.login("basic@example.org", "pw")
    html = client.get(f"/jobs/{job.id}/status").get_data(as_text=True)
    assert "Cancel</button>" not in html
    assert _post(client, f"/jobs/{job.id}/cancel", headers=HX).status_code == 403
    db.session.expire_all()
    assert db.session.get(Job, job.id).status == "STARTED"


def test_cancel_finished_job_without_js(client, auth, project, station):
    job = _job(station, "SUCCESS", progress=1.0)
    auth.login()
    response = _post(client, f"/jobs/{job.id}/cancel")
    assert response.status_code == 303
    assert "has already finished" in client.get(response.headers["Location"]).get_data(as_text=True)


# -- jobs list and job page ---------------------------------------------------

def test_jobs_list_filters_and_hides_other_projects(client, auth, project, station, manager):
    other = add_project("Secret")
    secret_station = add_deployment(other, "Hidden")
    second = add_deployment(project, "Forest", data_source="/data/forest")
    regroup = _job(station, "SUCCESS", progress=1.0)
    sync = _job(second, "FAILURE", key="data_storage_sync")
    secret = _job(secret_station, "SUCCESS")
    auth.login()
    html = client.get("/jobs/").get_data(as_text=True)
    assert f'href="/jobs/{regroup.id}/"' in html and f'href="/jobs/{sync.id}/"' in html
    assert f'href="/jobs/{secret.id}/"' not in html and "Hidden" not in html
    assert html.index(f'href="/jobs/{sync.id}/"') < html.index(f'href="/jobs/{regroup.id}/"')  # newest first
    html = client.get("/jobs/?type=data_storage_sync").get_data(as_text=True)
    assert f'href="/jobs/{sync.id}/"' in html and f'href="/jobs/{regroup.id}/"' not in html
    html = client.get("/jobs/?status=SUCCESS").get_data(as_text=True)
    assert f'href="/jobs/{regroup.id}/"' in html and f'href="/jobs/{sync.id}/"' not in html
    html = client.get(f"/jobs/?deployment={second.id}").get_data(as_text=True)
    assert f'href="/jobs/{sync.id}/"' in html and f'href="/jobs/{regroup.id}/"' not in html
    html = client.get(f"/jobs/?project={other.id}").get_data(as_text=True)
    assert f'href="/jobs/{secret.id}/"' not in html and "No jobs match." in html
    assert client.get("/jobs/?project=x&deployment=-1&type=nope&status=DONE&page=zz").status_code == 200


def test_job_page_shows_full_log_and_fragment(client, auth, project, station):
    lines = [f"2024-06-13T03:00:{i:02d} INFO line {i}" for i in range(30)]
    job = _job(station, "SUCCESS", progress=1.0, stdout=lines)
    auth.login()
    html = client.get(f"/jobs/{job.id}/").get_data(as_text=True)
    assert "line 0\n" in html and "line 29" in html
    assert f'id="job-{job.id}-status"' in html
    assert "Meadow" in html and "Jobs</a>" in html


def test_station_summary_and_jobs_fragments_refresh_with_the_sessions(client, auth, project, station):
    job = _job(station, "SUCCESS", progress=1.0)
    auth.login()
    page = client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    for url in (f"/deployments/{station.id}/summary", f"/deployments/{station.id}/jobs", f"/deployments/{station.id}/sessions"):
        assert f'data-hx-get="{url}' in page
    summary = client.get(f"/deployments/{station.id}/summary", headers=HX).get_data(as_text=True)
    assert summary.lstrip().startswith('<div id="station-summary"') and "<html" not in summary
    assert 'data-hx-trigger="sessions-changed from:body"' in summary and ">40<" in summary
    jobs = client.get(f"/deployments/{station.id}/jobs", headers=HX).get_data(as_text=True)
    assert f'href="/jobs/{job.id}/"' in jobs and "<html" not in jobs
