"""The streaming sync on real files and a real database: a file replaced at a known path is read
again (and its capture moves to the right session), a file only touched keeps everything, batches
stay bounded, a quick sync lists only the new nights, and a cancel while listing or while the EXIF
pool reads leaves nothing half-written."""
import io
import os
import time
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from benchmarks.s3_proxy import DelayProxy
from tests.api_helpers import call, token_for
from tests.conftest import add_deployment, csrf_token_from, grant_data_root, s3_source
from tests.jobs.test_jobs import params, run
from webapp import jobs
from webapp.extensions import db
from webapp.models import Capture, Event, Job, StorageSource
from webapp.sources import sync as sync_module
from webapp.sources import capture_rows, capture_times, local_listing

pytestmark = pytest.mark.pg
NIGHT_1 = datetime(2024, 6, 1, 22, 0)
NIGHT_2 = datetime(2024, 6, 3, 23, 15)


def jpeg(when: datetime, colour="green") -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
    out = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(out, "JPEG", exif=exif)
    return out.getvalue()


def station_folder(app, project, name="station") -> Path:
    folder = Path(app.config["DATA_SOURCE_ROOTS"][0]) / name
    folder.mkdir()
    grant_data_root(project)
    return folder


def captures(deployment) -> dict:
    db.session.expire_all()
    rows = db.session.execute(db.select(Capture.path, Capture.id, Capture.timestamp).filter_by(deployment_id=deployment.id))
    return {path: (capture_id, timestamp) for path, capture_id, timestamp in rows}


def session_of(deployment, when: datetime):
    return db.session.execute(
        db.select(Event.id, Event.start).where(Event.deployment_id == deployment.id, Event.start <= when, Event.end >= when)
    ).one_or_none()


def later(path: Path, seconds: int = 60) -> None:
    stat = path.stat()
    os.utime(path, (stat.st_atime + seconds, stat.st_mtime + seconds))


def test_a_file_replaced_with_another_time_moves_its_capture_to_the_right_session(app, project):
    folder = station_folder(app, project)
    (folder / "IMG_0001.JPG").write_bytes(jpeg(NIGHT_1))
    (folder / "IMG_0002.JPG").write_bytes(jpeg(NIGHT_1.replace(minute=10)))
    (folder / "IMG_0003.JPG").write_bytes(jpeg(NIGHT_2))
    deployment = add_deployment(project, data_source=str(folder))
    assert run("data_storage_sync", deployment).status == "SUCCESS"
    before = captures(deployment)
    assert session_of(deployment, NIGHT_1) is not None

    # The camera restarted its numbering: IMG_0002 is now a photo of the second night.
    (folder / "IMG_0002.JPG").write_bytes(jpeg(NIGHT_2.replace(minute=20), colour="blue"))
    later(folder / "IMG_0002.JPG")
    job = run("data_storage_sync", deployment)
    assert job.status == "SUCCESS", job.logs
    stage = params(job, "data_storage_sync")
    assert stage["files_changed"] == 1 and stage["times_changed"] == 1 and stage["captures_added"] == 0
    after = captures(deployment)
    assert after["IMG_0002.JPG"] == (before["IMG_0002.JPG"][0], NIGHT_2.replace(minute=20))
    assert any("IMG_0002.JPG" in line and "2024-06-01 22:10:00" in line and "2024-06-03 23:20:00" in line
               for line in job.logs["stdout"])
    first_night, second_night = session_of(deployment, NIGHT_1), session_of(deployment, NIGHT_2)
    assert session_of(deployment, NIGHT_1.replace(minute=10)) is None  # the first night now ends at 22:00
    assert session_of(deployment, NIGHT_2.replace(minute=20)) == second_night != first_night
    counts = dict(db.session.execute(db.select(Event.id, Event.captures_count).filter_by(deployment_id=deployment.id)).all())
    assert counts == {first_night.id: 1, second_night.id: 2}


def test_a_file_touched_but_unchanged_keeps_its_capture_and_session(app, project):
    folder = station_folder(app, project)
    (folder / "IMG_0001.JPG").write_bytes(jpeg(NIGHT_1))
    (folder / "20240603_231500.jpg").write_bytes(jpeg(NIGHT_1))  # the name's time wins over EXIF
    deployment = add_deployment(project, data_source=str(folder))
    run("data_storage_sync", deployment)
    before = captures(deployment)
    sessions = db.session.execute(db.select(Event.id, Event.start, Event.end, Event.captures_count)).all()
    for name in ("IMG_0001.JPG", "20240603_231500.jpg"):
        later(folder / name)
    job = run("data_storage_sync", deployment)
    stage = params(job, "data_storage_sync")
    assert stage["files_changed"] == 2 and stage["times_changed"] == 0
    assert captures(deployment) == before
    assert db.session.execute(db.select(Event.id, Event.start, Event.end, Event.captures_count)).all() == sessions


def test_batches_stay_bounded_on_a_tree_larger_than_a_batch(app, project, monkeypatch):
    folder = station_folder(app, project)
    for night in range(3):
        (folder / f"2024-06-0{night + 1}").mkdir()
        for minute in range(90):
            (folder / f"2024-06-0{night + 1}" / f"2024060{night + 1}_22{minute // 60:02d}{minute % 60:02d}.jpg").write_bytes(b"")
    monkeypatch.setattr(sync_module, "BATCH_SIZE", 40)
    sizes, real_insert = [], sync_module.insert_capture_columns

    def counting_insert(deployment, columns):
        sizes.append(len(columns.paths))
        return real_insert(deployment, columns)

    monkeypatch.setattr(sync_module, "insert_capture_columns", counting_insert)
    deployment = add_deployment(project, data_source=str(folder))
    job = run("data_storage_sync", deployment)
    assert params(job, "data_storage_sync")["captures_added"] == 270
    assert max(sizes) <= 40 and sum(sizes) == 270 and len(sizes) == 7
    sizes.clear()
    assert params(run("data_storage_sync", deployment), "data_storage_sync")["captures_added"] == 0 and sizes == []


def test_a_local_quick_sync_lists_only_the_new_nights_and_never_duplicates(app, project):
    folder = station_folder(app, project)
    for day in (1, 2):
        (folder / f"2024-06-0{day}").mkdir()
        for minute in (0, 30):
            (folder / f"2024-06-0{day}" / f"2024060{day}_2200{minute:02d}.jpg").write_bytes(b"")
    deployment = add_deployment(project, data_source=str(folder))
    run("data_storage_sync", deployment)
    (folder / "2024-06-03").mkdir()
    (folder / "2024-06-03" / "20240603_220000.jpg").write_bytes(b"")
    (folder / "2024-06-02" / "20240602_230000.jpg").write_bytes(b"")  # after the newest known file of its night
    (folder / "2024-06-01" / "20240601_230000.jpg").write_bytes(b"")  # in an older night: left to a full sync
    (folder / "2024-06-01" / "20240601_220000.jpg").unlink()  # not looked for by a quick sync

    job = jobs.create_job("data_storage_sync", deployment, options={"since": "last"})
    jobs.enqueue(job)
    job = db.session.get(Job, job.id)
    stage = params(job, "data_storage_sync")
    assert (stage["total_files"], stage["captures_added"], stage["files_missing_from_source"]) == (2, 2, 0)
    assert "2024-06-03/20240603_220000.jpg" in captures(deployment)
    assert "2024-06-01/20240601_230000.jpg" not in captures(deployment)

    full = run("data_storage_sync", deployment)
    stage = params(full, "data_storage_sync")
    assert (stage["captures_added"], stage["files_missing_from_source"]) == (1, 1)
    assert len(captures(deployment)) == 7


def test_an_s3_quick_sync_after_one_new_night_makes_few_list_requests(app, project, s3, s3_endpoint):
    client, bucket = s3
    for day in range(1, 9):
        for minute in range(5):
            client.put_object(Bucket=bucket, Key=f"cam/2024-06-{day:02d}/202406{day:02d}_2200{minute:02d}.jpg", Body=b"")
    with DelayProxy(s3_endpoint, delay=0.0) as proxy:
        s3_source(f"s3://{bucket}", proxy.url, project)
        deployment = add_deployment(project, data_source=f"s3://{bucket}/cam")
        full = run("data_storage_sync", deployment)
        assert params(full, "data_storage_sync")["captures_added"] == 40
        full_lists = proxy.lists
        for minute in range(5):
            client.put_object(Bucket=bucket, Key=f"cam/2024-06-09/20240609_2200{minute:02d}.jpg", Body=b"")
        proxy.reset()
        job = jobs.create_job("data_storage_sync", deployment, options={"since": "last"})
        jobs.enqueue(job)
        job = db.session.get(Job, job.id)
    assert job.status == "SUCCESS", job.logs
    assert params(job, "data_storage_sync")["captures_added"] == 5
    assert proxy.lists <= 3 < full_lists
    assert len(captures(deployment)) == 45


def test_an_s3_listing_by_prefix_finds_every_object_once_in_order(app, project, s3, s3_endpoint):
    client, bucket = s3
    keys = [f"cam/2024-06-{day:02d}/202406{day:02d}_22000{n}.jpg" for day in range(1, 6) for n in range(3)]
    keys += ["cam/loose_20240601_220000.jpg", "cam/2024-06-01_22-00-00.jpg", "cam/sub/deeper/20240601_220000.jpg"]
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=b"")
    s3_source(f"s3://{bucket}", s3_endpoint, project)
    deployment = add_deployment(project, data_source=f"s3://{bucket}/cam")
    job = run("data_storage_sync", deployment)
    assert params(job, "data_storage_sync")["total_files"] == len(keys)
    assert sorted(captures(deployment)) == sorted(key[len("cam/"):] for key in keys)


def _cancel(job_id: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(db.update(Job).where(Job.id == job_id).values(cancel_requested=True, status="CANCELING"))


def test_cancel_while_listing_ends_revoked_with_nothing_written(app, project, monkeypatch):
    folder = station_folder(app, project)
    for n in range(3000):
        (folder / f"20240601_{n // 3600 + 20:02d}{n // 60 % 60:02d}{n % 60:02d}.jpg").write_bytes(b"")
    deployment = add_deployment(project, data_source=str(folder))
    monkeypatch.setattr(sync_module, "CANCEL_CHECK_SECONDS", 0.0)
    seen = []
    real_listing = sync_module.list_local_batches

    def listing(root, after, limit, with_times, helpers):
        # Batches smaller than a write, so the cancel comes before any is written.
        for batch in real_listing(root, after, 100, with_times, helpers):
            seen.extend(batch.paths)
            if len(seen) == 500:
                _cancel(job.id)
            yield batch

    monkeypatch.setattr(sync_module, "list_local_batches", listing)
    job = jobs.create_job("data_storage_sync", deployment)
    jobs.enqueue(job)
    job = db.session.get(Job, job.id)
    db.session.refresh(job)
    assert job.status == "REVOKED" and job.stages[0]["status"] == "REVOKED"
    assert len(seen) < 3000  # the listing stopped
    assert captures(deployment) == {}
    db.session.refresh(deployment)
    assert deployment.captures_count == 0


@pytest.mark.parametrize("readers", [1, 4], ids=["in-thread", "pool"])
def test_cancel_while_exif_heads_are_read_ends_revoked_with_whole_batches_only(app, project, monkeypatch, readers):
    folder = station_folder(app, project)
    photo = jpeg(NIGHT_1)
    for n in range(120):
        (folder / f"IMG_{n:04d}.JPG").write_bytes(photo)
    deployment = add_deployment(project, data_source=str(folder))
    monkeypatch.setattr(sync_module, "CANCEL_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(sync_module, "BATCH_SIZE", 50)
    monkeypatch.setattr(capture_times, "POOL_CHUNK", 4)
    reads = []
    real_reader = sync_module.local_exif_time

    def reader(folder_path):
        read = real_reader(folder_path)

        def exif_time(rel):
            reads.append(rel)
            if len(reads) == 70:  # inside the second batch
                with app.app_context():
                    _cancel(job.id)
            time.sleep(0.002)
            return read(rel)

        return exif_time

    monkeypatch.setattr(sync_module, "_local_source", lambda folder_path, with_times=False: sync_module._Source(
        lambda after, limit: sync_module.list_local_batches(folder_path, after, limit), reader(folder_path),
        readers=readers))
    job = jobs.create_job("data_storage_sync", deployment)
    jobs.enqueue(job)
    job = db.session.get(Job, job.id)
    db.session.refresh(job)
    assert job.status == "REVOKED"
    assert len(reads) < 120
    stored = captures(deployment)
    assert len(stored) == 50 and all(timestamp == NIGHT_1 for _, timestamp in stored.values())
    db.session.refresh(deployment)
    assert deployment.captures_count == 50


def test_quick_sync_from_the_api_and_the_station_page(app, client, auth, project, manager):
    folder = station_folder(app, project)
    (folder / "20240601_220000.jpg").write_bytes(b"")
    deployment = add_deployment(project, data_source=str(folder))
    token = token_for(manager)
    response = call(client, "POST", f"/deployments/{deployment.id}/sync/?since=last", token)
    assert response.status_code == 202
    assert db.session.get(Job, response.get_json()["job_id"]).progress["options"] == {"since": "last"}
    response = call(client, "POST", f"/deployments/{deployment.id}/sync/?since=yesterday", token)
    assert response.status_code == 400 and "since" in response.get_json()["errors"]

    auth.login()
    page = client.get(f"/deployments/{deployment.id}").get_data(as_text=True)
    assert "Sync new nights" in page and 'name="since" value="last"' in page
    csrf = csrf_token_from(page)
    response = client.post(f"/deployments/{deployment.id}/sync", data={"csrf_token": csrf, "since": "last"})
    assert response.status_code == 303
    newest = db.session.scalars(db.select(Job).order_by(Job.id.desc())).first()
    assert newest.progress["options"] == {"since": "last"}
    assert client.post(f"/deployments/{deployment.id}/sync", data={"csrf_token": csrf, "since": "x"}).status_code == 400


TREE_PATHS = st.sets(st.sampled_from([
    f"{folder}{name}" for folder in ("", "a/", "a/b/", "a-b/", "z/") for name in ("1.jpg", "a.jpg", "b-2.JPG", "é.png")
]), max_size=14)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=TREE_PATHS, second=TREE_PATHS, touched=st.sets(st.integers(0, 20)), chunk=st.sampled_from([1, 2, 3, 50]),
       helpers=st.booleans())
def test_a_resync_finds_exactly_the_new_changed_and_vanished_files_across_chunks(
    app, project, monkeypatch, first, second, touched, chunk, helpers
):
    """Random trees against random known sets, with known rows read `chunk` at a time and batches of 2,
    the files stat'ed in this process or by helper processes."""
    monkeypatch.setattr(capture_rows, "KNOWN_CHUNK", chunk)
    monkeypatch.setattr(sync_module, "BATCH_SIZE", 2)
    monkeypatch.setattr(local_listing, "HELPERS_AFTER", 0)
    monkeypatch.setitem(app.config, "SYNC_STAT_HELPERS", 2 if helpers else 0)
    folder = Path(app.config["DATA_SOURCE_ROOTS"][0]) / f"tree-{len(os.listdir(app.config['DATA_SOURCE_ROOTS'][0]))}"
    folder.mkdir()
    if db.session.scalar(db.select(db.func.count(StorageSource.id))) == 0:
        grant_data_root(project)
    for path in first:
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(b"x")
    deployment = add_deployment(project, name=folder.name, data_source=str(folder))
    assert params(run("data_storage_sync", deployment), "data_storage_sync")["captures_added"] == len(first)
    ids = {path: capture_id for path, (capture_id, _) in captures(deployment).items()}

    kept = sorted(first & second)
    changed = {path for index, path in enumerate(kept) if index in touched}
    for path in first - second:
        (folder / path).unlink()
    for path in second - first:
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(b"x")
    for path in changed:
        (folder / path).write_bytes(b"longer")
    stage = params(run("data_storage_sync", deployment), "data_storage_sync")
    assert (stage["total_files"], stage["captures_added"], stage["files_missing_from_source"], stage["files_changed"]) == (
        len(second), len(second - first), len(first - second), len(changed))
    after = captures(deployment)
    assert set(after) == first | second
    assert all(after[path][0] == ids[path] for path in first)


def test_an_s3_listing_reads_every_page_and_keys_that_need_encoding(app, project, s3, s3_endpoint):
    client, bucket = s3
    odd = ["cam/a b/2024-06-01 22-00-00.jpg", "cam/é/20240601_220001.jpg", "cam/plus+sign_20240601_220002.jpg",
           "cam/percent%20_20240601_220003.jpg", "cam/amp&lt;_20240601_220004.jpg"]
    many = [f"cam/many/20240602_{n // 3600 + 20:02d}{n // 60 % 60:02d}{n % 60:02d}.jpg" for n in range(1100)]
    # A folder whose first page is files only is listed whole: its subfolder after them too.
    many.append("cam/many/zz/20240603_220000.jpg")
    for key in odd + many:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3_source(f"s3://{bucket}", s3_endpoint, project)
    deployment = add_deployment(project, data_source=f"s3://{bucket}/cam")
    job = run("data_storage_sync", deployment)
    assert params(job, "data_storage_sync")["captures_added"] == len(odd) + len(many), job.logs
    assert sorted(captures(deployment)) == sorted(key[len("cam/"):] for key in odd + many)
    # A listing that cannot be read says why in words.
    quick = jobs.create_job("data_storage_sync", deployment, options={"since": "last"})
    client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in odd + many[:900]]})
    client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in many[900:]]})
    client.delete_bucket(Bucket=bucket)
    jobs.enqueue(quick)
    quick = db.session.get(Job, quick.id)
    assert quick.status == "FAILURE" and "NoSuchBucket" in quick.logs["stdout"][-1]
