"""A file that cannot be read is not a file without a capture time: it is
counted under "Unreadable files", named in the log, not stored, and read again
by the next sync."""
import io
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import add_deployment, grant_data_root, s3_source
from tests.jobs.test_jobs import params, run
from webapp.extensions import db
from webapp.models import Capture
from webapp.sources import UnreadableFile, timestamp_from_exif
from webapp.sources import sync as sync_module

TAKEN = datetime(2024, 6, 3, 23, 15)


def jpeg_with_exif_time(when: datetime = TAKEN) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
    image = io.BytesIO()
    Image.new("RGB", (64, 64), "green").save(image, "JPEG", exif=exif)
    return image.getvalue()


def stored(deployment) -> dict:
    db.session.expire_all()
    return dict(db.session.execute(db.select(Capture.path, Capture.timestamp).filter_by(deployment_id=deployment.id)).all())


def test_a_truncated_image_is_unreadable_but_a_non_image_has_no_time(tmp_path):
    whole = jpeg_with_exif_time()
    head = tmp_path / "head.jpg"
    head.write_bytes(whole[:24])  # cut inside the EXIF segment
    half = tmp_path / "half.jpg"
    half.write_bytes(_plain_jpeg()[: len(_plain_jpeg()) // 2])  # cut inside the picture
    for path in (head, half):
        with pytest.raises(UnreadableFile):
            timestamp_from_exif(path)
    with pytest.raises(UnreadableFile):
        timestamp_from_exif(tmp_path / "vanished.jpg")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "text.jpg"
    text.write_bytes(b"not an image at all")
    assert timestamp_from_exif(empty) is None and timestamp_from_exif(text) is None
    whole_path = tmp_path / "whole.jpg"
    whole_path.write_bytes(whole)
    assert timestamp_from_exif(whole_path) == TAKEN


def _plain_jpeg() -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(image, "JPEG")
    return image.getvalue()


def test_a_half_written_local_file_is_retried_by_the_next_sync(project, app):
    folder = Path(app.config["DATA_SOURCE_ROOTS"][0]) / "uploading"
    folder.mkdir()
    (folder / "20240601_220000.jpg").write_bytes(b"")
    whole = jpeg_with_exif_time()
    (folder / "IMG_0002.jpg").write_bytes(whole[: len(whole) // 3])  # still being uploaded
    grant_data_root(project)
    deployment = add_deployment(project, data_source=str(folder))

    first = run("data_storage_sync", deployment)
    assert first.status == "SUCCESS", first.logs
    assert params(first, "data_storage_sync") == {
        "total_files": 2, "captures_added": 1, "failed": 0, "files_missing_from_source": 0, "unreadable_files": 1,
        "files_changed": 0, "times_changed": 0,
    }
    assert any(" WARNING " in line and "Could not read IMG_0002.jpg" in line for line in first.logs["stdout"])
    assert set(stored(deployment)) == {"20240601_220000.jpg"}

    (folder / "IMG_0002.jpg").write_bytes(whole)  # the upload completed
    second = run("data_storage_sync", deployment)
    assert params(second, "data_storage_sync")["captures_added"] == 1
    assert params(second, "data_storage_sync")["unreadable_files"] == 0
    assert stored(deployment)["IMG_0002.jpg"] == TAKEN


def test_an_s3_read_error_is_retried_by_the_next_sync(project, s3, s3_endpoint, monkeypatch):  # noqa: F811
    client, bucket = s3
    s3_source(f"s3://{bucket}", s3_endpoint, project)
    key = "station7/IMG_0002.jpg"
    client.put_object(Bucket=bucket, Key=key, Body=jpeg_with_exif_time())
    client.put_object(Bucket=bucket, Key="station7/20240601_220000.jpg", Body=b"x")
    deployment = add_deployment(project, data_source=f"s3://{bucket}/station7")

    real_listing = sync_module.list_s3

    def listing_then_delete(*args, **kwargs):
        """The real listing; the object goes away once it is listed, so its read fails."""
        yield from real_listing(*args, **kwargs)
        client.delete_object(Bucket=bucket, Key=key)

    monkeypatch.setattr(sync_module, "list_s3", listing_then_delete)
    first = run("data_storage_sync", deployment)
    monkeypatch.undo()
    assert first.status == "SUCCESS", first.logs
    assert params(first, "data_storage_sync")["unreadable_files"] == 1
    assert params(first, "data_storage_sync")["failed"] == 0
    assert any("Could not read IMG_0002.jpg" in line and "NoSuchKey" in line for line in first.logs["stdout"])
    assert set(stored(deployment)) == {"20240601_220000.jpg"}

    client.put_object(Bucket=bucket, Key=key, Body=jpeg_with_exif_time())
    second = run("data_storage_sync", deployment)
    assert params(second, "data_storage_sync")["captures_added"] == 1
    assert stored(deployment)["IMG_0002.jpg"] == TAKEN
