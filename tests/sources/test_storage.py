"""Storage sources: a project's stations read only from sources granted to it."""
import os
from pathlib import Path

import pytest

from tests.api_helpers import call, token_for, user_with_token
from tests.conftest import add_deployment, add_project, add_source, add_user, csrf_token_from
from webapp import jobs
from webapp.config import REPO_ROOT
from webapp.extensions import db
from webapp.models import Capture, Deployment, Job, StorageGrant, StorageSource
from webapp.sources import storage

NOT_INSIDE = "not inside a storage source of this project"


@pytest.fixture
def root(app) -> Path:
    return Path(app.config["DATA_SOURCE_ROOTS"][0])


@pytest.fixture
def teams(app, root, manager, project):
    """Two projects, each with its own folder as a granted source; `project` is ours."""
    ours = root / "ours"
    theirs = root / "theirs"
    for folder in (ours / "station", theirs / "station"):
        folder.mkdir(parents=True)
        (folder / "20240601220000.jpg").write_bytes(b"")
    other = add_project("Theirs", members=[(add_user("them@example.org"), "ProjectManager")])
    add_source(ours, project, name="Our folder")
    add_source(theirs, other, name="Their folder")
    return ours, theirs, other


@pytest.fixture
def token(manager):
    return token_for(manager)


def _create(client, token, project, data_source):
    return call(client, "POST", "/deployments/", token,
                json={"project_id": project.id, "name": "Probe", "data_source": data_source})


def _data_source_errors(response):
    assert response.status_code == 400, response.get_json()
    return response.get_json()["errors"]["data_source"]


def test_a_station_in_another_projects_folder_is_400(client, token, project, teams):
    ours, theirs, _ = teams
    assert _data_source_errors(_create(client, token, project, str(theirs / "station"))) == [NOT_INSIDE]
    assert _data_source_errors(_create(client, token, project, str(theirs))) == [NOT_INSIDE]
    assert _create(client, token, project, str(ours / "station")).status_code == 201
    assert db.session.scalar(db.select(db.func.count(Deployment.id))) == 1


def test_a_station_at_the_data_root_is_400(client, token, project, teams, root):
    assert _data_source_errors(_create(client, token, project, str(root))) == [NOT_INSIDE]


def test_the_answer_is_the_same_whether_a_path_exists_or_not(client, token, project, teams, root, tmp_path):
    ours, theirs, _ = teams
    probes = [str(theirs / "station"), str(theirs / "missing"), "/etc", "/no/such/folder", str(tmp_path),
              str(root / "nothing-here"), "../../", "station", str(ours / ".." / "theirs")]
    for probe in probes:
        assert _data_source_errors(_create(client, token, project, probe)) == [NOT_INSIDE], probe
    # Inside a source of the project, a missing folder may say so.
    assert _data_source_errors(_create(client, token, project, str(ours / "missing"))) == [
        "The folder does not exist."]


def test_a_symlink_out_of_a_granted_folder_is_400(client, token, project, teams):
    ours, theirs, _ = teams
    os.symlink(theirs / "station", ours / "shortcut")
    assert _data_source_errors(_create(client, token, project, str(ours / "shortcut"))) == [NOT_INSIDE]


def test_patch_checks_the_data_source_too(client, token, project, teams):
    ours, theirs, _ = teams
    created = _create(client, token, project, str(ours / "station")).get_json()
    response = call(client, "PATCH", f"/deployments/{created['id']}/", token, json={"data_source": str(theirs)})
    assert _data_source_errors(response) == [NOT_INSIDE]
    assert db.session.get(Deployment, created["id"]).data_source == str((ours / "station").resolve())


def test_an_ungranted_bucket_is_400(client, token, project, teams):
    _, _, other = teams
    add_source("s3://their-bucket", other)
    add_source("s3://shared-bucket/ours", project)
    for url in ("s3://their-bucket/x", "s3://any-bucket", "s3://shared-bucket/other", "s3://shared-bucket/oursx",
                "s3://shared-bucket/ours/../other"):
        assert _data_source_errors(_create(client, token, project, url)) != [], url
        assert _data_source_errors(_create(client, token, project, url))[0] in (
            NOT_INSIDE, "Not a valid s3://bucket/prefix URL."), url
    assert _create(client, token, project, "s3://shared-bucket/ours/night-1").status_code == 201


def test_a_source_open_to_all_projects_needs_no_grant(client, token, project, root):
    (root / "shared" / "st").mkdir(parents=True)
    add_source(root / "shared", open_to_all_projects=True)
    assert _create(client, token, project, str(root / "shared" / "st")).status_code == 201


def test_a_sync_after_the_grant_was_revoked_fails_clearly(app, project, teams, tmp_path):
    ours, _, _ = teams
    station = add_deployment(project, "North", data_source=str(ours / "station"))
    first = jobs.run_job(jobs.create_job("data_storage_sync", station).id)
    assert first.status == "SUCCESS" and first.param("data_storage_sync", "captures_added") == 1
    assert any("Listing Our folder/station" in line for line in first.logs["stdout"])
    storage.revoke(db.session.scalar(db.select(StorageSource).filter_by(name="Our folder")), project)
    (ours / "station" / "20240602220000.jpg").write_bytes(b"")
    try:
        jobs.run_job(jobs.create_job("data_storage_sync", station).id)
    except Exception:
        db.session.rollback()
    job = db.session.scalars(db.select(Job).order_by(Job.id.desc())).first()
    assert job.status == "FAILURE"
    assert NOT_INSIDE in job.logs["stdout"][-1] and "grant" in job.logs["stdout"][-1]
    assert db.session.scalar(db.select(db.func.count(Capture.id))) == 1
    assert str(tmp_path) not in str(job.logs) and str(tmp_path) not in str(first.logs)
    # The traceback members can read names the code's folder, not where the server keeps it.
    assert str(REPO_ROOT) not in str(job.logs) and "<app>/webapp/" in job.logs["traceback"]


def test_job_logs_name_server_folders_instead_of_showing_them(app, project, root):
    from webapp.jobs import JobRecorder

    station = add_deployment(project, "North")
    recorder = JobRecorder(jobs.create_job("regroup_events", station))
    recorder.append_log("WARNING", f"cannot read {root}/ours/x.jpg nor {app.instance_path}/y")
    try:
        open(root / "missing" / "file.jpg")
    except OSError as error:
        recorder.record_exception(error)
    recorder.flush(force=True, wait=True)
    logs = str(db.session.get(Job, recorder.job_id).logs)
    assert str(root) not in logs and app.instance_path not in logs and str(REPO_ROOT) not in logs
    assert "cannot read <data>/ours/x.jpg nor <instance>/y" in logs and "<data>/missing/file.jpg" in logs


def test_pages_show_the_data_source_relative_to_its_source(client, auth, project, teams, tmp_path):
    ours, _, _ = teams
    station = add_deployment(project, "North", data_source=str((ours / "station").resolve()))
    auth.login()
    html = client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    assert "Our folder/station" in html
    assert str(tmp_path) not in html


# -- registering sources and granting them ------------------------------------


def test_storage_api_is_for_superusers_only(client, project, root):
    _, member_token = user_with_token("member@example.org")
    body = {"name": "S", "location": str(root)}
    for method, path, json in (("GET", "/storage-sources/", None), ("POST", "/storage-sources/", body)):
        assert call(client, method, path, json=json).status_code == 401
        assert call(client, method, path, member_token, json=json).status_code == 403
    source = add_source(root)
    response = call(client, "POST", f"/storage-sources/{source.id}/grants/", member_token,
                    json={"project_id": project.id})
    assert response.status_code == 403
    assert db.session.scalar(db.select(db.func.count(StorageGrant.id))) == 0


def test_superuser_registers_an_s3_source_whose_keys_are_never_shown(client, project):
    _, admin_token = user_with_token("admin@example.org", superuser=True)
    body = {"name": "Field bucket", "location": "s3://field-bucket/traps/", "endpoint_url": "https://s3.example.org",
            "access_key": "AKIDEXAMPLE", "secret_key": "very-secret-value"}
    response = call(client, "POST", "/storage-sources/", admin_token, json=body)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["location"] == "s3://field-bucket/traps" and created["has_credentials"] is True
    listed = call(client, "GET", "/storage-sources/", admin_token)
    for text in (response.get_data(as_text=True), listed.get_data(as_text=True)):
        assert "AKIDEXAMPLE" not in text and "very-secret-value" not in text
    row = db.session.get(StorageSource, created["id"])
    assert "very-secret-value" not in row.secret_key_encrypted and "AKIDEXAMPLE" not in row.access_key_encrypted
    assert storage.decrypt_secret(row.secret_key_encrypted) == "very-secret-value"
    granted = call(client, "POST", f"/storage-sources/{created['id']}/grants/", admin_token,
                   json={"project_id": project.id})
    assert granted.status_code == 201 and granted.get_json() == {"source_id": created["id"], "project_id": project.id}
    again = call(client, "POST", f"/storage-sources/{created['id']}/grants/", admin_token,
                 json={"project_id": project.id})
    assert again.status_code == 201
    assert call(client, "GET", "/storage-sources/", admin_token).get_json()["results"][0]["project_ids"] == [project.id]


def test_registering_checks_the_location_and_fields(client, root, tmp_path):
    _, admin_token = user_with_token("admin@example.org", superuser=True)
    (root / "a").mkdir()
    cases = [
        ({"name": "x", "location": str(tmp_path)}, "location"),
        ({"name": "x", "location": "/etc"}, "location"),
        ({"name": "x", "location": str(root / "missing")}, "location"),
        ({"name": "x", "location": "http://example.org/x"}, "location"),
        ({"name": "x", "location": "s3://Bad_Bucket"}, "location"),
        ({"name": "", "location": str(root / "a")}, "name"),
        ({"location": str(root / "a")}, "name"),
        ({"name": "x", "location": str(root / "a"), "access_key": "k", "secret_key": "s"}, "access_key"),
        ({"name": "x", "location": "s3://bucket", "access_key": "k"}, "secret_key"),
        ({"name": "x", "location": "s3://bucket", "endpoint_url": "ftp://x"}, "endpoint_url"),
        ({"name": "x", "location": "s3://bucket", "open_to_all_projects": "yes"}, "open_to_all_projects"),
    ]
    for body, field in cases:
        response = call(client, "POST", "/storage-sources/", admin_token, json=body)
        assert response.status_code == 400, body
        assert field in response.get_json()["errors"], (body, response.get_json())
    assert call(client, "POST", "/storage-sources/", admin_token,
                json={"name": "A", "location": str(root / "a")}).status_code == 201
    duplicate = call(client, "POST", "/storage-sources/", admin_token, json={"name": "A", "location": str(root / "a")})
    assert duplicate.status_code == 400 and "name" in duplicate.get_json()["errors"]
    assert call(client, "POST", "/storage-sources/999/grants/", admin_token, json={"project_id": 1}).status_code == 404
    source_id = db.session.scalar(db.select(StorageSource.id))
    for project_id in (4242, 2**40):
        missing = call(client, "POST", f"/storage-sources/{source_id}/grants/", admin_token,
                       json={"project_id": project_id})
        assert missing.status_code == 404
    bad = call(client, "POST", f"/storage-sources/{source_id}/grants/", admin_token, json={"project_id": "1"})
    assert bad.status_code == 400 and "project_id" in bad.get_json()["errors"]


# -- the admin page -----------------------------------------------------------


@pytest.fixture
def admin_client(client, auth, app):
    add_user("admin@example.org", "pw-admin-long", superuser=True)
    auth.login("admin@example.org", "pw-admin-long")
    return client


def _post(client, path, data):
    token = csrf_token_from(client.get("/admin/storage").get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


def test_admin_page_is_for_superusers_only(client, auth, manager):
    assert client.get("/admin/storage").status_code == 302
    auth.login()
    assert client.get("/admin/storage").status_code == 403
    assert client.post("/admin/storage", data={"name": "x", "location": "/"}).status_code in (400, 403)
    assert db.session.scalar(db.select(db.func.count(StorageSource.id))) == 0


def test_admin_registers_grants_revokes_and_opens_a_source(admin_client, project, root):
    (root / "field").mkdir()
    bad = _post(admin_client, "/admin/storage", {"name": "Field", "location": "/etc", "secret_key": "typed-secret"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "outside DATA_SOURCE_ROOTS" in html
    assert 'value="Field"' in html and "typed-secret" not in html
    done = _post(admin_client, "/admin/storage", {"name": "Field", "location": str(root / "field")})
    assert done.status_code == 303
    page = admin_client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Storage source “Field” registered." in page
    source = db.session.scalar(db.select(StorageSource).filter_by(name="Field"))
    assert _post(admin_client, f"/admin/storage/{source.id}/grants",
                 {"project_id": project.id, "action": "grant"}).status_code == 303
    assert [s.name for s in storage.sources_for_project(project)] == ["Field"]
    _post(admin_client, f"/admin/storage/{source.id}/grants", {"project_id": project.id, "action": "revoke"})
    assert storage.sources_for_project(project) == []
    _post(admin_client, f"/admin/storage/{source.id}/open", {"open_to_all_projects": "on"})
    assert [s.name for s in storage.sources_for_project(project)] == ["Field"]
    _post(admin_client, f"/admin/storage/{source.id}/open", {})
    assert storage.sources_for_project(project) == []


def test_seed_demo_registers_and_grants_the_demo_folder(runner, app):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    source = db.session.scalar(db.select(StorageSource).filter_by(name="Demo folder"))
    stations = db.session.scalars(db.select(Deployment)).all()
    assert source is not None and stations
    for station in stations:
        assert storage.source_of(station.project, station.data_source) == source
        assert station.captures_count > 0


def test_an_s3_station_is_read_through_the_source_with_the_innermost_prefix(app, project):
    """Two sources on one bucket: the one closest to the station wins, not the first by name."""
    from webapp.sources import source_of

    outer = add_source("s3://traps", project, name="A whole bucket", endpoint_url="http://127.0.0.1:9",
                       access_key="outer", secret_key="outer-secret")
    inner = add_source("s3://traps/north", project, name="B north only", endpoint_url="http://127.0.0.1:9",
                       access_key="inner", secret_key="inner-secret")
    assert source_of(project, "s3://traps/north/station9").id == inner.id
    assert source_of(project, "s3://traps/north").id == inner.id
    assert source_of(project, "s3://traps/northern/station1").id == outer.id
    assert source_of(project, "s3://traps/south").id == outer.id
    assert source_of(project, "s3://other/north") is None


def test_the_folder_picker_reads_a_bounded_number_of_entries_per_request(tmp_path, monkeypatch):
    """A wide tree costs one bounded scan: past the request's budget, folders are shown uncounted and 'more…'."""
    import os

    from webapp.sources import browse, folders

    root = tmp_path / "root"
    for site in range(60):
        folder = root / f"site-{site:02d}"
        folder.mkdir(parents=True)
        for shot in range(40):
            (folder / f"2024060122{shot:04d}.jpg").touch()
    (root / "site-00" / "inner").mkdir()
    seen = []
    real_scandir = os.scandir

    class Counting:
        def __init__(self, path):
            self.inner = real_scandir(path)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.inner.close()

        def __iter__(self):
            for entry in self.inner:
                seen.append(entry.path)
                yield entry

    monkeypatch.setattr(folders.os, "scandir", Counting)
    monkeypatch.setattr(folders, "REQUEST_ENTRIES", 500)
    listing = browse([folders.Base("Root", root)], str(root))
    assert len(seen) <= 501 + 60  # the budget, plus at most one look into each folder it had already started
    assert listing.truncated is False and len(listing.folders) == 60
    assert listing.folders[0].images == 40 and listing.folders[0].has_subfolders
    assert not listing.folders[-1].counted_all and listing.folders[-1].images < 40
    assert sum(f.images for f in listing.folders) < 60 * 40

    seen.clear()
    monkeypatch.setattr(folders, "REQUEST_ENTRIES", 30)
    narrow = browse([folders.Base("Root", root)], str(root))
    assert narrow.truncated and len(narrow.folders) < 60 and len(seen) <= 31 + 60

    seen.clear()
    monkeypatch.setattr(folders, "REQUEST_ENTRIES", 10**9)
    monkeypatch.setattr(folders, "REQUEST_SECONDS", 0.0)
    timed = browse([folders.Base("Root", root)], str(root))
    assert len(seen) <= 256 and not any(f.counted_all for f in timed.folders)
