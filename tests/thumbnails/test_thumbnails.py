"""Thumbnails: generation for every source mode, the regeneration rules, concurrent
first requests, cleanup with their capture or station, and the endpoint's answers."""
import io
import logging
import multiprocessing
import os
import subprocess
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from tests.api_helpers import call, user_with_token
from tests.conftest import add_deployment, add_project, add_source, s3_source
from tests.thumbnails.images import (
    CAPTURE_TIME, add_capture, fetch_file, get_thumbnail, only_row, stored_file, token, write_image,
)
from webapp import thumbnails
from webapp.extensions import db
from webapp.models import Capture, Deployment, Thumbnail


@pytest.mark.parametrize("kind", ["jpeg", "rgba-png", "p-png", "tiff16"])
def test_first_request_makes_an_rgb_progressive_jpeg(app, client, station, manager, kind):
    name = {"jpeg": "a-20240612220000.jpg", "rgba-png": "a-20240612220000.png",
            "p-png": "a-20240612220000.png", "tiff16": "a-20240612220000.tif"}[kind]
    capture = add_capture(station, name, kind)
    value = token(manager)
    response = get_thumbnail(client, capture.id, value, "small")
    assert response.headers["Cache-Control"] == "private, max-age=300"
    image = fetch_file(client, response, value)
    assert image.format == "JPEG" and image.mode == "RGB"
    assert image.info.get("progressive") or image.info.get("progression")
    assert image.size == (240, 160)
    row = only_row(capture.id)
    assert (row.width, row.height) == (240, 160)
    assert stored_file(app, row).is_file()
    if kind == "tiff16":
        # 16-bit values are scaled, not clipped: the 40000 half is mid-grey, the 0 half black.
        left, right = image.getpixel((20, 80)), image.getpixel((200, 80))
        assert 140 < left[0] < 170 and right[0] < 10
    if kind == "rgba-png":
        # Transparent areas become white, not black.
        assert image.getpixel((5, 5))[0] > 240


def test_no_label_is_the_first_configured_size_and_medium_is_wider(app, client, station, manager):
    capture = add_capture(station)
    value = token(manager)
    assert fetch_file(client, get_thumbnail(client, capture.id, value), value).width == 240
    assert fetch_file(client, get_thumbnail(client, capture.id, value, "medium"), value).width == 900
    assert only_row(capture.id, "medium").width == 1024


def test_second_request_reuses_the_row_and_file(app, client, station, manager):
    capture = add_capture(station)
    value = token(manager)
    first = get_thumbnail(client, capture.id, value)
    row = only_row(capture.id)
    before = (row.id, row.updated_at, stored_file(app, row).stat().st_mtime_ns)
    second = get_thumbnail(client, capture.id, value)
    row = only_row(capture.id)
    assert (row.id, row.updated_at, stored_file(app, row).stat().st_mtime_ns) == before
    assert second.headers["Location"] == first.headers["Location"]


def test_newer_source_regenerates_in_the_same_row(app, client, station, manager):
    capture = add_capture(station, last_modified=datetime(2024, 6, 13, 8, 0))
    value = token(manager)
    get_thumbnail(client, capture.id, value)
    row = only_row(capture.id)
    first_id, first_updated = row.id, row.updated_at
    assert row.source_mtime == datetime(2024, 6, 13, 8, 0)
    # The file is replaced by a different picture and the next sync records its newer time.
    write_image(Path(station.data_source) / capture.path, "jpeg", size=(600, 900))
    db.session.get(Capture, capture.id).last_modified = datetime(2024, 6, 14, 8, 0)
    db.session.commit()
    image = fetch_file(client, get_thumbnail(client, capture.id, value), value)
    row = only_row(capture.id)
    assert row.id == first_id and row.updated_at > first_updated
    assert row.source_mtime == datetime(2024, 6, 14, 8, 0)
    assert image.size == (240, 360)


def test_changed_width_regenerates(app, client, station, manager):
    capture = add_capture(station)
    value = token(manager)
    get_thumbnail(client, capture.id, value)
    row_id = only_row(capture.id).id
    app.config["THUMBNAIL_SIZES"] = {"small": 120, "medium": 1024}
    image = fetch_file(client, get_thumbnail(client, capture.id, value), value)
    row = only_row(capture.id)
    assert image.width == 120 and row.width == 120 and row.id == row_id


def test_empty_path_regenerates(app, client, station, manager):
    capture = add_capture(station)
    value = token(manager)
    get_thumbnail(client, capture.id, value)
    row = only_row(capture.id)
    stored_file(app, row).unlink()
    row.path = ""
    db.session.commit()
    image = fetch_file(client, get_thumbnail(client, capture.id, value), value)
    assert image.width == 240
    assert stored_file(app, only_row(capture.id)).is_file()


def test_a_thumbnail_file_removed_from_the_root_is_made_again_on_the_next_request(app, client, station, manager):
    capture = add_capture(station)
    value = token(manager)
    first = get_thumbnail(client, capture.id, value)
    fetch_file(client, first, value)
    row = only_row(capture.id)
    row_id, made_at = row.id, row.updated_at
    stored_file(app, row).unlink()
    # The row still says made, so the endpoint redirects as before; the file route makes the file again.
    second = get_thumbnail(client, capture.id, value)
    assert second.headers["Location"] == first.headers["Location"]
    image = fetch_file(client, second, value)
    assert image.format == "JPEG" and image.size == (240, 160)
    healed = only_row(capture.id)
    assert healed.id == row_id and healed.updated_at > made_at and stored_file(app, healed).is_file()
    # The browser's cached redirect (the file URL itself) heals too.
    stored_file(app, healed).unlink()
    again = client.get(first.headers["Location"], headers={"Authorization": f"Token {value}"})
    data = again.get_data()
    again.close()
    assert again.status_code == 200 and Image.open(io.BytesIO(data)).size == (240, 160)
    # With the original gone as well there is nothing to make it from: an honest 404.
    stored_file(app, healed).unlink()
    (Path(station.data_source) / capture.path).unlink()
    gone = client.get(first.headers["Location"], headers={"Authorization": f"Token {value}"})
    gone.close()
    assert gone.status_code == 404


def test_none_source_time_does_not_crash(app, client, station, manager):
    capture = add_capture(station, last_modified=None)
    value = token(manager)
    get_thumbnail(client, capture.id, value)
    row = only_row(capture.id)
    assert row.source_mtime is None
    updated = row.updated_at
    # Second request: both times None, the row is trusted.
    assert get_thumbnail(client, capture.id, value).status_code == 302
    assert only_row(capture.id).updated_at == updated
    # A capture that gains a time is newer than a thumbnail made without one.
    db.session.get(Capture, capture.id).last_modified = datetime(2024, 6, 13)
    db.session.commit()
    assert get_thumbnail(client, capture.id, value).status_code == 302
    assert only_row(capture.id).source_mtime == datetime(2024, 6, 13)


def test_concurrent_first_requests_end_with_one_row_and_a_valid_file(app, station, manager):
    capture = add_capture(station, size=(3000, 2000))
    value = token(manager)
    capture_id = capture.id
    barrier = threading.Barrier(4)
    statuses = []

    def request_once():
        with app.app_context():
            client = app.test_client()
            barrier.wait()
            statuses.append(get_thumbnail(client, capture_id, value).status_code)
            db.session.remove()

    threads = [threading.Thread(target=request_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302] * 4
    row = only_row(capture_id)
    with Image.open(stored_file(app, row)) as image:
        image.load()
        assert image.size == (240, 160)


def _generate_in_process(config: dict, capture_id: int, barrier) -> None:
    from webapp import create_app

    app = create_app(config)
    with app.app_context():
        located, label, width = thumbnails.find(capture_id, "small")
        barrier.wait()
        thumbnails.ensure(located, label, width)
        db.session.remove()
        db.engine.dispose()


def test_two_processes_on_postgresql_end_with_one_row(app, station, backend):
    if backend != "postgresql":
        pytest.skip("two processes racing for the row: PostgreSQL")
    capture = add_capture(station, size=(3000, 2000))
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "DATA_SOURCE_ROOTS",
                                                "THUMBNAIL_ROOT", "THUMBNAIL_SIZES")}
    config.update(INSTANCE_PATH=app.instance_path, TESTING=True, HUEY_URL="memory://")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    processes = [context.Process(target=_generate_in_process, args=(config, capture.id, barrier)) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0]
    row = only_row(capture.id)
    with Image.open(stored_file(app, row)) as image:
        image.load()
        assert image.size == (240, 160)


def test_deleting_a_capture_or_a_station_removes_rows_and_files(app, client, project, station, manager):
    value = token(manager)
    first = add_capture(station, "20240612220000.jpg")
    second = add_capture(station, "20240612220500.jpg", timestamp=CAPTURE_TIME + timedelta(minutes=5))
    for capture in (first, second):
        for label in ("small", "medium"):
            assert get_thumbnail(client, capture.id, value, label).status_code == 302
    first_files = [stored_file(app, only_row(first.id, label)) for label in ("small", "medium")]
    second_files = [stored_file(app, only_row(second.id, label)) for label in ("small", "medium")]

    thumbnails.delete_capture(db.session.get(Capture, first.id))
    assert db.session.scalar(db.select(db.func.count()).select_from(Thumbnail).filter_by(capture_id=first.id)) == 0
    assert not any(path.exists() for path in first_files)
    assert all(path.exists() for path in second_files)

    thumbnails.delete_deployment(db.session.get(Deployment, station.id))
    assert db.session.scalar(db.select(db.func.count()).select_from(Thumbnail)) == 0
    assert not any(path.exists() for path in second_files)


@pytest.fixture
def unwritable(tmp_path):
    """Make a folder refuse deletions for real: chattr +i as root (root ignores modes), else chmod."""
    made = []

    def make(folder: Path):
        if os.geteuid() == 0:
            result = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
            if result.returncode != 0:
                pytest.skip(f"cannot make a folder immutable here: {result.stderr.decode().strip()}")
        else:
            folder.chmod(0o555)
        made.append(folder)

    yield make
    for folder in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)


def test_a_failing_storage_delete_is_logged_and_the_delete_succeeds(app, client, station, manager, unwritable, caplog):
    capture = add_capture(station)
    value = token(manager)
    get_thumbnail(client, capture.id, value)
    path = stored_file(app, only_row(capture.id))
    unwritable(path.parent)
    with caplog.at_level(logging.ERROR, logger="webapp.thumbnails.thumbnails"):
        thumbnails.delete_capture(db.session.get(Capture, capture.id))
    assert db.session.get(Capture, capture.id) is None
    assert db.session.scalar(db.select(db.func.count()).select_from(Thumbnail)) == 0
    assert path.exists()
    assert any("not deleted" in record.getMessage() and capture.path not in record.getMessage() for record in caplog.records)


def test_rolled_back_delete_keeps_the_files(app, client, station, manager):
    capture = add_capture(station)
    value = token(manager)
    get_thumbnail(client, capture.id, value)
    path = stored_file(app, only_row(capture.id))
    db.session.delete(db.session.get(Capture, capture.id))
    db.session.flush()
    db.session.rollback()
    assert path.exists() and only_row(capture.id)


def test_error_answers(app, client, station, manager):
    capture = add_capture(station)
    value = token(manager)
    response = get_thumbnail(client, capture.id, value, "huge")
    assert response.status_code == 404
    assert "huge" in response.get_json()["detail"] and "small, medium" in response.get_json()["detail"]
    assert get_thumbnail(client, 999999, value).status_code == 404
    listing = call(client, "GET", "/captures/thumbnails/", value)
    assert listing.status_code == 405 and listing.get_json()["detail"]
    app.config["THUMBNAIL_SIZES"] = {}
    off = get_thumbnail(client, capture.id, value)
    assert off.status_code == 404 and "off" in off.get_json()["detail"]


def test_unreadable_sources_are_clear_errors(app, client, station, manager):
    value = token(manager)
    gone = add_capture(station, "20240612220000.jpg")
    (Path(station.data_source) / gone.path).unlink()
    response = get_thumbnail(client, gone.id, value)
    assert response.status_code == 404 and "missing" in response.get_json()["detail"]
    broken = add_capture(station, "20240612221000.jpg", timestamp=CAPTURE_TIME + timedelta(minutes=10))
    (Path(station.data_source) / broken.path).write_bytes(b"not an image at all")
    response = get_thumbnail(client, broken.id, value)
    assert response.status_code == 502 and "could not be read" in response.get_json()["detail"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Thumbnail)) == 0


def test_non_members_get_neither_the_endpoint_nor_the_file(app, client, station, manager):
    capture = add_capture(station)
    value = token(manager)
    response = get_thumbnail(client, capture.id, value)
    location = response.headers["Location"]
    assert fetch_file(client, response, value).width == 240

    outsider, outsider_token = user_with_token("outsider@example.org")
    add_project("Other project", members=[(outsider, "ProjectManager")])
    assert get_thumbnail(client, capture.id, outsider_token).status_code == 404
    assert client.get(location, headers={"Authorization": f"Token {outsider_token}"}).status_code == 404
    # Altering the file URL to another label or capture changes nothing.
    assert client.get(location.replace("small", "medium"), headers={"Authorization": f"Token {outsider_token}"}).status_code == 404
    assert client.get(location).status_code in (302, 401)
    assert client.get(location).status_code != 200


def test_sync_makes_the_example_thumbnails_of_the_sessions_it_touched(app, station, manager):
    from webapp import jobs

    folder = Path(station.data_source)
    for minute in range(0, 50, 10):
        # The 22:10 capture is the largest file.
        write_image(folder / f"{CAPTURE_TIME + timedelta(minutes=minute):%Y%m%d%H%M%S}.jpg",
                    size=(600, 400) if minute == 10 else (300, 200))
    (folder / "20240612230000.jpg").write_bytes(b"broken")
    job = jobs.run_job(jobs.create_job("data_storage_sync", station).id)
    assert job.status == "SUCCESS", job.logs
    # One session of six: first, middle, last (the broken file) and the largest file.
    assert job.param("thumbnails", "generated") == 3 and job.param("thumbnails", "failed") == 1
    assert any(" WARNING " in line and "20240612230000.jpg" in line for line in job.logs["stdout"])
    rows = db.session.scalars(db.select(Thumbnail)).all()
    assert len(rows) == 3 and {row.label for row in rows} == {"small"}
    assert all(row.source_mtime is not None for row in rows)

    write_image(folder / "20240612225000.jpg", size=(300, 200))
    again = jobs.run_job(jobs.create_job("data_storage_sync", station).id)
    assert again.status == "SUCCESS"
    assert again.param("thumbnails", "reused") >= 2
    assert again.param("thumbnails", "generated") + again.param("thumbnails", "reused") + again.param("thumbnails", "failed") >= 3


def test_a_file_replaced_in_place_gets_a_new_thumbnail_after_the_next_sync(app, client, station, manager):
    from webapp import jobs

    source = write_image(Path(station.data_source) / "20240612220000.jpg")
    first_sync = jobs.run_job(jobs.create_job("data_storage_sync", station).id)
    assert first_sync.status == "SUCCESS", first_sync.logs
    capture = db.session.scalar(db.select(Capture).filter_by(deployment_id=station.id))
    value = token(manager)
    before = fetch_file(client, get_thumbnail(client, capture.id, value), value)
    row = only_row(capture.id)
    row_id, stored_before = row.id, stored_file(app, row).read_bytes()
    assert before.getpixel((120, 80))[0] < 250 or before.getpixel((120, 80))[1] > 20

    # The station's uploader rewrites the file: other pixels, a newer modification time.
    Image.new("RGB", (900, 600), (255, 0, 0)).save(source, "JPEG", quality=85)
    stat = source.stat()
    os.utime(source, (stat.st_atime, stat.st_mtime + 120))
    second_sync = jobs.run_job(jobs.create_job("data_storage_sync", station).id)
    assert second_sync.status == "SUCCESS", second_sync.logs
    assert second_sync.param("data_storage_sync", "files_changed") == 1
    assert second_sync.param("data_storage_sync", "captures_added") == 0
    assert any("1 files changed" in line and capture.path in line for line in second_sync.logs["stdout"])

    after = fetch_file(client, get_thumbnail(client, capture.id, value), value)
    row = only_row(capture.id)
    assert row.id == row_id
    assert stored_file(app, row).read_bytes() != stored_before
    red, green, blue = after.getpixel((120, 80))
    assert red > 240 and green < 20 and blue < 20


def test_a_file_rewritten_with_its_old_time_still_gets_a_new_thumbnail(app, client, station, manager):
    """`rsync -t` or `cp -p` keep the old modification time: the size tells the sync, and the
    thumbnail is made again all the same (same row, same stored key, new pixels)."""
    from webapp import jobs

    source = write_image(Path(station.data_source) / "20240612220000.jpg")
    old_times = source.stat()
    assert jobs.run_job(jobs.create_job("data_storage_sync", station).id).status == "SUCCESS"
    capture = db.session.scalar(db.select(Capture).filter_by(deployment_id=station.id))
    value = token(manager)
    fetch_file(client, get_thumbnail(client, capture.id, value), value)
    row = only_row(capture.id)
    row_id, path_before = row.id, row.path

    Image.new("RGB", (1200, 800), (0, 0, 255)).save(source, "JPEG", quality=85)
    os.utime(source, (old_times.st_atime, old_times.st_mtime))
    second_sync = jobs.run_job(jobs.create_job("data_storage_sync", station).id)
    assert second_sync.status == "SUCCESS", second_sync.logs
    assert second_sync.param("data_storage_sync", "files_changed") == 1

    after = fetch_file(client, get_thumbnail(client, capture.id, value), value)
    row = only_row(capture.id)
    assert (row.id, row.path) == (row_id, path_before)
    red, green, blue = after.getpixel((120, 80))
    assert blue > 240 and red < 20 and green < 20


def test_s3_clients_have_finite_timeouts():
    from webapp.thumbnails.storage import s3_client

    config = s3_client().meta.config
    assert (config.connect_timeout, config.read_timeout) == (5, 30)


def test_s3_source_and_s3_storage_answer_with_a_signed_url(app, client, project, manager, s3, s3_endpoint, monkeypatch):
    import urllib.request

    s3_client_, bucket = s3
    # The source is read with its own keys; the thumbnail store is the server's own (its environment).
    s3_source(f"s3://{bucket}/traps", s3_endpoint, project)
    for name, value in {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    body = io.BytesIO()
    Image.effect_noise((900, 600), 40).convert("RGB").save(body, "JPEG")
    s3_client_.put_object(Bucket=bucket, Key="traps/20240612220000.jpg", Body=body.getvalue())
    station = add_deployment(project, "Cloud", data_source=f"s3://{bucket}/traps")
    capture = Capture(deployment_id=station.id, path="20240612220000.jpg", timestamp=CAPTURE_TIME, size=1)
    missing = Capture(deployment_id=station.id, path="20240612220500.jpg", timestamp=CAPTURE_TIME, size=1)
    db.session.add_all([capture, missing])
    db.session.commit()
    app.config["THUMBNAIL_ROOT"] = f"s3://{bucket}/thumbs"
    value = token(manager)

    response = get_thumbnail(client, capture.id, value)
    assert response.status_code == 302 and response.headers["Cache-Control"] == "private, max-age=300"
    location = response.headers["Location"]
    from urllib.parse import parse_qs, urlsplit

    signed = parse_qs(urlsplit(location).query)
    assert "Signature" in signed or "X-Amz-Signature" in signed
    # The signature outlives the 5-minute cache of the redirect, and expires within the hour.
    expires = int(signed["X-Amz-Expires"][0]) if "X-Amz-Expires" in signed else int(signed["Expires"][0]) - int(time.time())
    assert 300 < expires <= 3600
    with urllib.request.urlopen(location, timeout=10) as answer:
        image = Image.open(io.BytesIO(answer.read()))
    assert image.size == (240, 160)
    assert only_row(capture.id).path.endswith("/small.jpg")

    gone = get_thumbnail(client, missing.id, value)
    assert gone.status_code == 404 and "missing" in gone.get_json()["detail"]


def test_unreachable_s3_source_is_a_502(app, client, project, manager, monkeypatch):
    from tests.conftest import free_port

    for name, setting in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "AWS_ACCESS_KEY_ID": "test",
                          "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, setting)
    add_source("s3://offline-bucket/traps", project, endpoint_url=f"http://127.0.0.1:{free_port()}",
               access_key="test", secret_key="test")
    station = add_deployment(project, "Offline", data_source="s3://offline-bucket/traps")
    capture = Capture(deployment_id=station.id, path="20240612220000.jpg", timestamp=CAPTURE_TIME, size=1)
    db.session.add(capture)
    db.session.commit()
    response = get_thumbnail(client, capture.id, token(manager))
    assert response.status_code == 502 and "could not be reached" in response.get_json()["detail"]


def test_a_warm_hit_reads_one_row_and_never_checks_storage(app, client, station, manager):
    from sqlalchemy import event as sa_event

    capture = add_capture(station)
    value = token(manager)
    get_thumbnail(client, capture.id, value)
    row = only_row(capture.id)
    # Removed behind the site's back: a warm hit does not notice (no stat, no HEAD).
    stored_file(app, row).unlink()
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = get_thumbnail(client, capture.id, value)
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 302
    assert only_row(capture.id).updated_at == row.updated_at
    assert len([s for s in statements if "thumbnail" in s.lower()]) == 1
    assert not any(s.lstrip().upper().startswith(("INSERT", "UPDATE")) for s in statements)


def test_bulk_station_delete_removes_thumbnail_rows_and_files(app, client, station, manager):
    value = token(manager)
    capture = add_capture(station)
    for label in ("small", "medium"):
        get_thumbnail(client, capture.id, value, label)
    files = [stored_file(app, only_row(capture.id, label)) for label in ("small", "medium")]
    assert thumbnails.delete_station_thumbnails(station.id) == 2
    assert db.session.scalar(db.select(db.func.count()).select_from(Thumbnail)) == 0
    assert not any(path.exists() for path in files)
    assert db.session.get(Capture, capture.id) is not None


@pytest.mark.parametrize("had_a_row", [False, True])
def test_a_file_changed_during_a_render_leaves_the_thumbnail_stale(app, client, station, manager, had_a_row):
    """The render read the old file; the sync marked it stale meanwhile (same time, new size: `rsync -t`)."""
    from webapp.sources.capture_rows import update_changed_captures
    from webapp.thumbnails.rows import _render

    capture = add_capture(station, last_modified=datetime(2024, 6, 13))
    if had_a_row:
        assert get_thumbnail(client, capture.id, token(manager)).status_code == 302
        db.session.execute(db.update(Thumbnail).where(Thumbnail.capture_id == capture.id).values(width=0))
        db.session.commit()
    located, label, width = thumbnails.find(capture.id, "small")
    assert not thumbnails.is_fresh(located, width)
    # The sync, between the render's read of the row and its upsert:
    write_image(Path(station.data_source) / capture.path, size=(1200, 800))
    update_changed_captures(station, [{"capture_id": capture.id, "size": capture.size + 1000,
                                       "last_modified": datetime(2024, 6, 13)}])
    db.session.commit()
    _render(located, label, width)
    assert not thumbnails.is_fresh(thumbnails.locate(capture.id, label), width)
    # The next request makes it again, from the new file.
    assert get_thumbnail(client, capture.id, token(manager)).status_code == 302
    assert only_row(capture.id).height == 160 and thumbnails.is_fresh(thumbnails.locate(capture.id, label), width)


def _station_with_thumbnail_rows(project, name: str, count: int) -> int:
    """A station with `count` captures, each with a thumbnail row (its file missing): what a large station's delete finds."""
    station = add_deployment(project, name)
    db.session.execute(Capture.__table__.insert(), [
        {"deployment_id": station.id, "path": f"{i:07d}.jpg", "timestamp": CAPTURE_TIME + timedelta(seconds=i)}
        for i in range(count)
    ])
    ids = db.session.scalars(db.select(Capture.id).filter_by(deployment_id=station.id)).all()
    now = datetime(2024, 7, 1)
    db.session.execute(Thumbnail.__table__.insert(), [
        {"capture_id": i, "label": "small", "width": 240, "height": 160, "path": f"{i % 1000:03d}/{i}/small.jpg",
         "created_at": now, "updated_at": now}
        for i in ids
    ])
    db.session.commit()
    return station.id


def test_a_station_delete_reads_its_thumbnail_rows_one_batch_at_a_time(app, project):
    from tests.sql_statements import sent_statements

    batch = thumbnails.cleanup.DELETE_BATCH
    station_id = _station_with_thumbnail_rows(project, "Large", 5 * batch + 1)
    db.session.expire_all()
    with sent_statements() as sent:
        assert thumbnails.delete_station_thumbnails(station_id) == 5 * batch + 1
    reads = [s for s in sent if s.lstrip().upper().startswith("SELECT") and "thumbnail" in s.lower()]
    assert db.session.scalar(db.select(db.func.count()).select_from(Thumbnail)) == 0
    # Six full or partial batches and the empty read that ends them; each read is bounded.
    assert len(reads) == 7 and all("LIMIT" in statement.upper() for statement in reads)


@pytest.mark.parametrize("size", [(640, 427), (9000, 6000), (1001, 667)])
def test_thumbnails_are_exactly_the_configured_width(tmp_path, size):
    """A reduced-scale decode rounds the drafted size; the result is still the width asked for."""
    path = tmp_path / "photo.jpg"
    Image.new("RGB", size, (180, 170, 150)).save(path, "JPEG", quality=70)
    for width in (240, 1024):
        rendered = thumbnails.make_thumbnail(path, width)
        expected = min(width, size[0])  # never wider than the original
        assert rendered.width == expected
        assert rendered.height == round(size[1] * expected / size[0])
        assert Image.open(io.BytesIO(rendered.data)).size == (rendered.width, rendered.height)
