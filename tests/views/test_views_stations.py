"""Adding, editing and deleting a station from the browser, and the data-source folder picker."""
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.api.test_api_captures import COUNT_OVER_CAPTURE, _statements
from tests.conftest import add_deployment, add_source, add_user, csrf_token_from
from webapp.extensions import db
from webapp.models import Capture, Deployment, Event, Job, Membership


def _post(client, url, data):
    token = csrf_token_from(client.get("/projects/").get_data(as_text=True))
    return client.post(url, data=dict(data, csrf_token=token))


LABEL = "Survey"
NOT_INSIDE = "not inside a storage source of this project"


@pytest.fixture
def data_root(app, project):
    """The project's storage source "Survey" (a folder of the data root) with some image folders.

    Beside it, a source granted to no project ("Private") and an S3 source granted to this one.
    """
    root = os.path.join(app.config["DATA_SOURCE_ROOTS"][0], "survey")
    for folder, files in {"site-a/2024-06-12": 3, "site-a/2024-06-13": 2, "site-b": 1, "empty": 0}.items():
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        for i in range(files):
            open(os.path.join(root, folder, f"20240612-22{i:02d}00.jpg"), "wb").close()
    open(os.path.join(root, "site-b", "notes.txt"), "w").close()
    private = os.path.join(app.config["DATA_SOURCE_ROOTS"][0], "private")
    os.makedirs(private)
    open(os.path.join(private, "20240612-220000.jpg"), "wb").close()
    add_source(root, project, name=LABEL)
    add_source(private, name="Private")
    add_source("s3://moth-bucket", project, name="Bucket")
    return os.path.realpath(root)


@pytest.fixture
def member(project):
    user = add_user("member@example.org", "pw-member")
    db.session.add(Membership(user=user, project=project, role="MLDataManager"))
    db.session.commit()
    return user


def _form(data_root, **overrides):
    return {"name": "North meadow", "data_source": os.path.join(data_root, "site-a"), "session_gap_hours": "",
            "time_zone": "Europe/Paris", **overrides}


# -- add a station ---------------------------------------------------------

def test_new_station_form_offers_the_roots_folders_with_image_counts(client, auth, project, data_root):
    auth.login()
    html = client.get(f"/projects/{project.id}/stations/new").get_data(as_text=True)
    for field in ("name", "data_source", "session_gap_hours", "time_zone"):
        assert f'name="{field}"' in html
    assert 'value="UTC"' in html and '<option value="Europe/Paris">' in html
    assert f'data-folder="{LABEL}"' in html and "6 image files" in html
    assert 'data-folder="Bucket"' in html and "s3://moth-bucket" in html
    assert "Private" not in html
    assert "data-hx-get=" in html and " hx-get=" not in html.split('id="folder-picker"')[1]


def test_the_picker_opens_one_level_at_a_time(client, auth, project, data_root):
    auth.login()
    response = client.get(f"/projects/{project.id}/stations/folders", query_string={"path": data_root})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    label = LABEL
    assert f'data-folder="{label}/site-a"' in html and "5 image files" in html
    assert f'data-folder="{label}/site-b"' in html and "1 image file<" in html
    assert f'data-folder="{label}/empty"' in html and "0 image files" in html
    assert "2024-06-12" not in html  # the next level only when opened
    inner = client.get(f"/projects/{project.id}/stations/folders", query_string={"path": os.path.join(data_root, "site-a")})
    assert f'data-folder="{label}/site-a/2024-06-12"' in inner.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/etc", "/", "relative/path", "{root}/../..", "{root}/missing", "{root}/../private"])
def test_the_picker_refuses_folders_outside_the_roots_without_saying_which(client, auth, project, data_root, path):
    auth.login()
    response = client.get(f"/projects/{project.id}/stations/folders", query_string={"path": path.format(root=data_root)})
    assert response.status_code == 400
    assert "Not a folder you can choose." in response.get_data(as_text=True)


def test_the_picker_does_not_follow_a_symlink_out_of_the_roots(client, auth, project, data_root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "20240101-000000.jpg").write_bytes(b"")
    os.symlink(outside, os.path.join(data_root, "escape"))
    auth.login()
    html = client.get(f"/projects/{project.id}/stations/folders", query_string={"path": data_root}).get_data(as_text=True)
    assert "escape" not in html
    response = client.get(f"/projects/{project.id}/stations/folders", query_string={"path": os.path.join(data_root, "escape")})
    assert response.status_code == 400


def test_manager_adds_a_station_and_is_offered_a_first_sync(client, auth, project, data_root):
    auth.login()
    response = _post(client, f"/projects/{project.id}/stations/new", _form(data_root, session_gap_hours="3"))
    assert response.status_code == 303
    station = db.session.scalar(db.select(Deployment).filter_by(name="North meadow"))
    assert response.headers["Location"].endswith(f"/deployments/{station.id}/")
    assert (station.project_id, station.data_source, station.time_zone) == (project.id, os.path.join(data_root, "site-a"), "Europe/Paris")
    assert station.session_time_gap_seconds == 10800
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Station “North meadow” added." in html
    assert "Sync captures now" in html
    assert f'href="/deployments/{station.id}/edit"' in html


def test_an_s3_url_may_be_typed(client, auth, project, data_root):
    auth.login()
    response = _post(client, f"/projects/{project.id}/stations/new", _form(data_root, data_source="s3://moth-bucket/site-a"))
    assert response.status_code == 303
    assert db.session.scalar(db.select(Deployment.data_source)) == "s3://moth-bucket/site-a"


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"name": ""}, "name", "A name is required."),
        ({"data_source": "/etc"}, "data_source", NOT_INSIDE),
        ({"data_source": "{root}/../.."}, "data_source", NOT_INSIDE),
        ({"data_source": "{root}/../private"}, "data_source", NOT_INSIDE),
        ({"data_source": "s3://other-bucket/site-a"}, "data_source", NOT_INSIDE),
        ({"data_source": "s3://"}, "data_source", "Not a valid s3://bucket/prefix URL."),
        ({"data_source": ""}, "data_source", "A data source is required."),
        ({"session_gap_hours": "zero"}, "session_gap_hours", "Enter a number of hours"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "is not an IANA time zone name"),
        ({"time_zone": "../../etc/passwd"}, "time_zone", "is not an IANA time zone name"),
        ({"time_zone": ""}, "time_zone", "Enter a time zone"),
    ],
)
def test_new_station_field_errors_are_400_beside_the_field_with_values_kept(client, auth, project, data_root, overrides, field, message):
    overrides = {k: v.format(root=data_root) for k, v in overrides.items()}
    form = _form(data_root, **overrides)
    auth.login()
    response = _post(client, f"/projects/{project.id}/stations/new", form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'<p class="field-error" id="{field}-error">' in html and message in html.split(f'id="{field}-error">')[1].split("</p>")[0]
    assert f'value="{form["name"]}"' in html and f'value="{form["time_zone"]}"' in html
    assert db.session.scalar(db.select(db.func.count(Deployment.id))) == 0


def test_a_symlink_leaving_the_roots_is_refused_as_data_source(client, auth, project, data_root, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(outside, os.path.join(data_root, "link"))
    auth.login()
    response = _post(client, f"/projects/{project.id}/stations/new", _form(data_root, data_source=os.path.join(data_root, "link")))
    assert response.status_code == 400
    assert NOT_INSIDE in response.get_data(as_text=True)


def test_member_without_create_deployment_gets_403_and_outsider_404(client, auth, project, data_root, member):
    auth.login("member@example.org", "pw-member")
    assert client.get(f"/projects/{project.id}/stations/new").status_code == 403
    assert client.get(f"/projects/{project.id}/stations/folders").status_code == 403
    assert _post(client, f"/projects/{project.id}/stations/new", _form(data_root)).status_code == 403
    assert "Add station" not in client.get(f"/projects/{project.id}/").get_data(as_text=True)
    auth.logout()
    add_user("outsider@example.org", "pw-out")
    auth.login("outsider@example.org", "pw-out")
    assert client.get(f"/projects/{project.id}/stations/new").status_code == 404
    assert client.get(f"/projects/{project.id}/stations/folders", query_string={"path": data_root}).status_code == 404
    assert _post(client, f"/projects/{project.id}/stations/new", _form(data_root)).status_code == 404
    assert db.session.scalar(db.select(db.func.count(Deployment.id))) == 0


# -- edit a station ----------------------------------------------------------

@pytest.fixture
def station(project, data_root):
    return add_deployment(project, "Old name", data_source=os.path.join(data_root, "site-a"))


def test_edit_form_shows_the_current_values(client, auth, station):
    auth.login()
    html = client.get(f"/deployments/{station.id}/edit").get_data(as_text=True)
    assert 'name="name" value="Old name"' in html and 'name="time_zone" value="UTC"' in html
    # The source's name and the path inside it, never the server's folder.
    assert 'name="data_source" value="Survey:site-a"' in html and station.data_source not in html
    assert "Files missing from source" in html


def test_edit_changes_name_time_zone_and_data_source_and_explains_the_source_change(client, auth, station, data_root):
    auth.login()
    new_source = os.path.join(data_root, "site-b")
    response = _post(client, f"/deployments/{station.id}/edit",
                     {"name": "New name", "data_source": new_source, "session_gap_hours": "", "time_zone": "America/Toronto"})
    assert response.status_code == 303
    db.session.expire_all()
    station = db.session.get(Deployment, station.id)
    assert (station.name, station.data_source, station.time_zone) == ("New name", new_source, "America/Toronto")
    html = client.get(response.headers["Location"]).get_data(as_text=True).replace("&#39;", "'")
    assert "existing captures are kept" in html and "“Files missing from source”" in html


def test_edit_errors_are_400_and_nothing_is_saved(client, auth, station):
    auth.login()
    response = _post(client, f"/deployments/{station.id}/edit",
                     {"name": "Renamed", "data_source": "/etc", "session_gap_hours": "", "time_zone": "Nowhere/Town"})
    assert NOT_INSIDE in response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="data_source-error"' in html and 'id="time_zone-error"' in html
    assert 'value="Renamed"' in html and 'value="Nowhere/Town"' in html
    db.session.expire_all()
    assert db.session.get(Deployment, station.id).name == "Old name"


def test_edit_needs_update_deployment(client, auth, station, member, data_root):
    auth.login("member@example.org", "pw-member")
    assert client.get(f"/deployments/{station.id}/edit").status_code == 403
    assert _post(client, f"/deployments/{station.id}/edit", _form(data_root)).status_code == 403
    assert _post(client, f"/deployments/{station.id}/delete", {"confirm_name": "Old name"}).status_code == 403
    assert "/edit" not in client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    auth.logout()
    add_user("outsider@example.org", "pw-out")
    auth.login("outsider@example.org", "pw-out")
    assert client.get(f"/deployments/{station.id}/edit").status_code == 404
    assert _post(client, f"/deployments/{station.id}/delete", {"confirm_name": "Old name"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Deployment, station.id).name == "Old name"


# -- delete a station -------------------------------------------------------

def _fill(station, captures: int, sessions: int = 2):
    start = datetime(2024, 6, 12, 22)
    rows = [{"deployment_id": station.id, "path": f"{station.id}/{i:07d}.jpg", "timestamp": start + timedelta(seconds=10 * i), "size": 1}
            for i in range(captures)]
    db.session.execute(db.insert(Capture.__table__), rows)
    for i in range(sessions):
        db.session.add(Event(deployment_id=station.id, project_id=station.project_id, group_by=f"2024-06-{12 + i}",
                             start=start, end=start, captures_count=1))
    station.captures_count, station.events_count = captures, sessions
    db.session.commit()


def test_delete_asks_for_the_name(client, auth, station):
    _fill(station, 10)
    auth.login()
    response = _post(client, f"/deployments/{station.id}/delete", {"confirm_name": "old name"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="confirm_name-error"' in html and "Type the station&#39;s name" in html and 'value="old name"' in html
    db.session.expire_all()
    assert db.session.get(Deployment, station.id).deleting is False
    assert db.session.scalar(db.select(db.func.count(Capture.id))) == 10


def test_delete_runs_as_a_job_and_removes_only_this_station(client, auth, project, station, data_root):
    from webapp.projects import deployment_delete as station_delete

    station_id, other = station.id, add_deployment(project, "Neighbour")
    captures = station_delete.DELETE_BATCH * 2 + 7
    _fill(station, captures, sessions=3)
    _fill(other, 25, sessions=1)
    auth.login()
    assert _post(client, f"/deployments/{station_id}/regroup", {}).status_code == 303
    db.session.expire_all()
    sessions = db.session.scalar(db.select(db.func.count(Event.id)).filter_by(deployment_id=station_id))
    assert sessions >= 1
    response = _post(client, f"/deployments/{station_id}/delete", {"confirm_name": " Old name "})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/projects/{project.id}/")
    db.session.expire_all()
    assert db.session.get(Deployment, station_id) is None
    assert db.session.scalar(db.select(db.func.count(Capture.id)).filter_by(deployment_id=station_id)) == 0
    assert db.session.scalar(db.select(db.func.count(Event.id)).filter_by(deployment_id=station_id)) == 0
    assert db.session.scalar(db.select(db.func.count(Capture.id)).filter_by(deployment_id=other.id)) == 25
    assert db.session.scalar(db.select(db.func.count(Event.id)).filter_by(deployment_id=other.id)) == 1
    jobs = db.session.scalars(db.select(Job).order_by(Job.id)).all()
    assert [j.job_type_key for j in jobs] == ["regroup_events", "delete_deployment"]
    assert all(j.deployment_id is None and j.deployment_name == "Old name" for j in jobs)
    delete = jobs[-1]
    assert delete.status == "SUCCESS"
    assert delete.param("delete_deployment", "captures_deleted") == captures
    assert delete.param("delete_deployment", "sessions_deleted") == sessions
    assert delete.param("delete_deployment", "thumbnails_deleted") == 0
    assert delete.param("delete_deployment", "jobs_unlinked") == 2
    assert any("Deleted station “Old name”" in line and f"{captures} captures, {sessions} sessions" in line
               for line in delete.logs["stdout"])
    html = client.get(f"/jobs/{delete.id}/").get_data(as_text=True)
    assert "Old name" in html and "(deleted)" in html
    assert client.get(f"/deployments/{station_id}/").status_code == 404


def test_a_station_being_deleted_takes_no_job_and_no_edit(client, auth, station, manager, data_root, api_token_for_manager, monkeypatch):
    from webapp.projects import deployment_delete as station_delete

    # The delete job stays queued for the whole test.
    monkeypatch.setattr(station_delete, "enqueue", lambda job, queue=None: job)
    station_delete.request_deletion(station, manager, "Old name")
    auth.login()
    html = client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    assert "This station is being deleted." in html and ">Regroup sessions<" not in html
    assert "being deleted" in client.get(f"/projects/{station.project_id}/").get_data(as_text=True)
    response = _post(client, f"/deployments/{station.id}/sync", {})
    assert response.status_code == 303
    assert "is being deleted; no job can start on it." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _post(client, f"/deployments/{station.id}/edit", _form(data_root)).status_code == 303
    db.session.expire_all()
    assert db.session.get(Deployment, station.id).name == "Old name"
    headers = {"Authorization": f"Token {api_token_for_manager}"}
    for path in ("sync", "regroup-sessions"):
        answer = client.post(f"/api/v2/deployments/{station.id}/{path}/", headers=headers)
        assert answer.status_code == 409 and "being deleted" in answer.get_json()["detail"]
    answer = client.patch(f"/api/v2/deployments/{station.id}/", headers=headers, json={"name": "x"})
    assert answer.status_code == 409
    assert db.session.scalar(db.select(db.func.count(Job.id))) == 1
    # A second delete request queues no second job.
    response = _post(client, f"/deployments/{station.id}/delete", {"confirm_name": "Old name"})
    assert response.status_code == 303
    assert "already being deleted" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Job.id))) == 1


@pytest.fixture
def api_token_for_manager(manager):
    token = manager.new_api_token("tests")
    db.session.commit()
    return token


def test_the_edit_picker_opens_at_the_stations_folder(client, auth, station, data_root):
    auth.login()
    html = client.get(f"/deployments/{station.id}/edit").get_data(as_text=True)
    label = LABEL
    assert f"Folder <b>{label}/site-a</b>" in html and f'data-folder="{label}/site-a/2024-06-12"' in html


def test_a_superuser_edits_a_station_outside_any_project(client, auth, app):
    add_user("root@example.org", "pw-root", superuser=True)
    loose = add_deployment(None, "Unassigned")
    auth.login("root@example.org", "pw-root")
    html = client.get(f"/deployments/{loose.id}/edit").get_data(as_text=True)
    assert 'name="time_zone"' in html and 'id="folder-picker"' not in html
    response = _post(client, f"/deployments/{loose.id}/edit",
                     {"name": "Renamed", "data_source": "", "session_gap_hours": "", "time_zone": "UTC"})
    assert response.status_code == 400 and "A data source is required." in response.get_data(as_text=True)


# -- its captures -----------------------------------------------------------

CAPTURES_TOTAL = re.compile(r"Page (\d+) of (\d+) \(\d+–\d+ of (\d+)\)")


def _write_night(folder: Path, night: datetime, count: int, nameless: int) -> None:
    """`count` files a minute apart from `night`, and `nameless` files with no time in their name (captures without one)."""
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"{night + timedelta(minutes=i):%Y%m%d-%H%M%S}.jpg").write_bytes(b"")
    for i in range(nameless):
        (folder / f"IMG_{i:04d}.jpg").write_bytes(b"")


def _captures_paging(client, station, page=None) -> tuple[str, int, int]:
    """The station page's captures section, its page number and its total of captures."""
    html = client.get(f"/deployments/{station.id}/" + (f"?captures_page={page}" if page else "")).get_data(as_text=True)
    section = html[html.index('<div id="captures">'):]
    section = section[: section.index("</nav>")]
    number, _, total = CAPTURES_TOTAL.search(section).groups()
    return section, int(number), int(total)


def test_the_station_page_pages_every_capture_before_and_after_a_sync(client, auth, project, manager, data_root):
    from webapp import jobs

    folder = Path(data_root) / "paged"
    _write_night(folder / "2024-06-12", datetime(2024, 6, 12, 22), 60, nameless=2)
    station = add_deployment(project, "Paged", data_source=str(folder))
    jobs.run_job(jobs.create_job("data_storage_sync", station, manager).id)
    auth.login()

    def real() -> int:
        return db.session.scalar(db.select(db.func.count()).select_from(Capture).filter_by(deployment_id=station.id))

    assert real() == 62
    sent = _statements(lambda: _captures_paging(client, station))
    assert _captures_paging(client, station)[2] == real()
    # The whole station's total is its cached count: the page counts no captures.
    assert sent and not [s for s in sent if COUNT_OVER_CAPTURE.search(s)], sent
    # A second sync adds another night (a capture without a time among it).
    _write_night(folder / "2024-06-13", datetime(2024, 6, 13, 22), 45, nameless=0)
    (folder / "2024-06-13" / "IMG_9999.jpg").write_bytes(b"")
    jobs.run_job(jobs.create_job("data_storage_sync", station, manager).id)
    assert real() == 108
    section, number, total = _captures_paging(client, station, page=99)
    assert (number, total) == (3, real())
    # The last page holds the last captures: those without a time, the newest file among them.
    assert section.count("no capture time") == 3 and "<code>2024-06-13/IMG_9999.jpg</code>" in section
