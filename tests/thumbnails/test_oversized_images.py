"""Images too large to decode, and one render per (capture, label): a data source
cannot make the web process decode a bomb, or decode one image several times at once."""
import struct
import threading
import time
import zlib
from datetime import timedelta
from pathlib import Path

import pytest

from tests.api_helpers import call
from tests.thumbnails.images import CAPTURE_TIME, add_capture, get_thumbnail, only_row, token
from webapp import thumbnails
from webapp.extensions import db
from webapp.jobs import locks
from webapp.models import Capture, Thumbnail
from webapp.thumbnails.rows import render_lock_key

IMAGE_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def write_png_bomb(path: Path, side: int) -> Path:
    """A grey PNG of side × side pixels, written row by row: a few hundred KB that decode to side² bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    squeeze = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + one grey byte per pixel
    body = b"".join(squeeze.compress(row) for _ in range(side)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def add_bomb(station, side: int, name: str = "20240612223000.png") -> Capture:
    path = write_png_bomb(Path(station.data_source) / name, side)
    capture = Capture(deployment_id=station.id, path=name, timestamp=CAPTURE_TIME + timedelta(minutes=30),
                      size=path.stat().st_size)
    db.session.add(capture)
    db.session.commit()
    return capture


def thumbnail_rows() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(Thumbnail))


def test_an_image_over_the_pixel_limit_is_never_decoded_and_shows_the_placeholder(app, client, station, manager):
    app.config["THUMBNAIL_MAX_PIXELS"] = 1_000_000
    value = token(manager)
    capture = add_bomb(station, 1200)  # 1.44 MP: over the limit, under twice it (our own check)
    as_image = call(client, "GET", f"/captures/thumbnails/{capture.id}/", value, headers={"Accept": IMAGE_ACCEPT})
    assert as_image.status_code == 302
    assert as_image.headers["Location"].endswith("/static/thumbnail-placeholder.svg")
    assert "1200 × 1200 px" in as_image.headers["X-Thumbnail-Problem"]
    assert as_image.headers["Cache-Control"] == "no-store"
    placeholder = client.get(as_image.headers["Location"])
    assert placeholder.status_code == 200 and placeholder.mimetype == "image/svg+xml"
    placeholder.close()
    # A script asking for JSON (or anything) gets the reason as an error.
    as_json = get_thumbnail(client, capture.id, value)
    assert as_json.status_code == 422
    assert "THUMBNAIL_MAX_PIXELS" in as_json.get_json()["detail"] and "1 MP" in as_json.get_json()["detail"]
    assert thumbnail_rows() == 0
    # Within the limit, the same file is an ordinary thumbnail.
    app.config["THUMBNAIL_MAX_PIXELS"] = 2_000_000
    assert get_thumbnail(client, capture.id, value).status_code == 302
    assert only_row(capture.id).width == 240


def test_pillow_refuses_a_far_larger_image_at_open_and_the_answer_is_the_same(app, client, station, manager):
    from PIL import Image

    value = token(manager)
    capture = add_bomb(station, 1500)
    limit = Image.MAX_IMAGE_PIXELS
    # What create_app does with THUMBNAIL_MAX_PIXELS=1_000_000: 2.25 MP is over twice Pillow's limit.
    Image.MAX_IMAGE_PIXELS = app.config["THUMBNAIL_MAX_PIXELS"] = 1_000_000
    try:
        response = get_thumbnail(client, capture.id, value)
    finally:
        Image.MAX_IMAGE_PIXELS = app.config["THUMBNAIL_MAX_PIXELS"] = limit
    assert response.status_code == 422 and "not decoded" in response.get_json()["detail"]
    assert thumbnail_rows() == 0


def test_the_limit_is_pillows_limit_in_every_process_of_the_site(tmp_path):
    from PIL import Image

    from webapp import create_app

    before = Image.MAX_IMAGE_PIXELS
    try:
        create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'a.db'}",
                    "INSTANCE_PATH": tmp_path, "HUEY_URL": "memory://", "THUMBNAIL_MAX_PIXELS": 12_345_678})
        assert Image.MAX_IMAGE_PIXELS == 12_345_678
    finally:
        Image.MAX_IMAGE_PIXELS = before


def test_the_sync_logs_an_oversized_image_in_its_thumbnail_stage_and_succeeds(app, station, manager):
    from webapp import jobs

    app.config["THUMBNAIL_MAX_PIXELS"] = 1_000_000
    write_png_bomb(Path(station.data_source) / "20240612223000.png", 1200)
    job = jobs.run_job(jobs.create_job("data_storage_sync", station).id)
    assert job.status == "SUCCESS", job.logs
    assert job.stage("thumbnails")["status"] == "SUCCESS"
    assert {p["key"]: p["value"] for p in job.stage("thumbnails")["params"]}["failed"] == 1
    assert any("is not decoded: the image is 1200 × 1200 px" in line for line in job.logs["stdout"])


def test_a_request_waits_for_the_render_another_holds_and_never_decodes_a_second_copy(app, station, manager):
    capture = add_capture(station, size=(3000, 2000))
    value = token(manager)
    capture_id = capture.id
    key = render_lock_key(capture_id, "small")
    held = locks.acquire(key, 60, "another web process")
    answers = []

    def request_once():
        with app.app_context():
            answers.append(get_thumbnail(app.test_client(), capture_id, value))
            db.session.remove()

    waiting = threading.Thread(target=request_once)
    waiting.start()
    time.sleep(0.5)
    assert answers == [] and thumbnail_rows() == 0  # it waits, and has not rendered a copy of its own
    # "Another process" renders and frees the lock; the waiting request serves that row.
    located, label, width = thumbnails.find(capture_id, "small")
    from webapp.thumbnails.rows import _render

    made = _render(located, label, width)
    locks.release(key, held)
    waiting.join(10)
    assert answers[0].status_code == 302
    row = only_row(capture_id)
    assert row.updated_at == made.updated_at  # served the one render, made no second


def test_a_render_held_past_the_wait_gets_the_placeholder(app, client, station, manager):
    app.config["THUMBNAIL_WAIT_SECONDS"] = 1
    capture = add_capture(station)
    value = token(manager)
    held = locks.acquire(render_lock_key(capture.id, "small"), 60, "a slow render")
    try:
        started = time.monotonic()
        as_image = call(client, "GET", f"/captures/thumbnails/{capture.id}/", value, headers={"Accept": IMAGE_ACCEPT})
        waited = time.monotonic() - started
        as_json = get_thumbnail(client, capture.id, value)
    finally:
        locks.release(render_lock_key(capture.id, "small"), held)
    assert as_image.status_code == 302 and as_image.headers["Location"].endswith("thumbnail-placeholder.svg")
    assert 1 <= waited < 5
    assert as_json.status_code == 503 and "still making" in as_json.get_json()["detail"]
    assert thumbnail_rows() == 0
    # Once free, the next request renders.
    assert get_thumbnail(client, capture.id, value).status_code == 302


def _peak_and_now_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024


@pytest.mark.e2e
def test_a_bomb_in_a_synced_folder_costs_a_web_process_under_100_mb_with_5_concurrent_requests(tmp_path):
    """13,000 × 13,000 px (169 MP, 169 MB decoded grey) in a data source, asked for 5 times at once
    from one gunicorn process with 5 threads: its peak RSS grows by under 100 MB."""
    import requests

    from tests.api_helpers import user_with_token
    from tests.conftest import add_deployment, add_project, grant_data_root
    from tests.stack import Site, wait_until
    from tests.thumbnails.images import write_image
    from webapp import jobs
    from webapp.models import Job

    site = Site(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", f"sqlite:///{tmp_path / 'huey.db'}", "ami-sessions")
    try:
        with site.app.app_context():
            user, value = user_with_token("manager@example.org")
            project = add_project(name="Bombs", members=[(user, "ProjectManager")])
            grant_data_root(project)
            folder = site.data / "station"
            write_png_bomb(folder / "20240612223000.png", 13_000)
            write_image(folder / "20240612220000.jpg")
            station = add_deployment(project, "Meadow", data_source=str(folder))
            sync = jobs.enqueue(jobs.create_job("data_storage_sync", station), queue=site.queue)
            sync_id = sync.id
        site.start_consumer(workers=1)
        base = site.start_web(workers=1, threads=5)

        def finished():
            with site.app.app_context():
                db.session.expire_all()
                return db.session.get(Job, sync_id).finished_at is not None

        wait_until(finished, "the sync to finish", timeout=60, site=site)
        with site.app.app_context():
            job = db.session.get(Job, sync_id)
            assert job.status == "SUCCESS", job.logs
            # Both files have a time: the sync decoded neither whole, and its thumbnail stage names the bomb.
            assert any("is not decoded: the image is 13000 × 13000 px" in line for line in job.logs["stdout"])
            bomb, normal = (db.session.scalar(db.select(Capture.id).filter_by(path=name))
                            for name in ("20240612223000.png", "20240612220000.jpg"))
        api = f"{base}/api/v2/captures/thumbnails"
        auth = {"Authorization": f"Token {value}", "Accept": IMAGE_ACCEPT}
        # Warm the worker (imports, first render) before its baseline is read.
        assert requests.get(f"{api}/{normal}/?label=medium", headers=auth, allow_redirects=False).status_code == 302
        worker = int(Path(f"/proc/{site.processes[-1].pid}/task/{site.processes[-1].pid}/children").read_text().split()[0])
        _, before = _peak_and_now_mb(worker)
        answers = []
        barrier = threading.Barrier(5)

        def ask():
            barrier.wait()
            answers.append(requests.get(f"{api}/{bomb}/?label=medium", headers=auth, allow_redirects=False, timeout=30))

        threads = [threading.Thread(target=ask) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        peak, _ = _peak_and_now_mb(worker)
        assert peak - before < 100, f"the web worker grew from {before:.0f} MB to a peak of {peak:.0f} MB"
        assert [a.status_code for a in answers] == [302] * 5
        assert all(a.headers["Location"].endswith("thumbnail-placeholder.svg") for a in answers)
    finally:
        site.stop_all()
