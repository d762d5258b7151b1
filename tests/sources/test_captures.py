import os
from datetime import datetime

import pytest

from webapp.sources import timestamp_from_exif, timestamp_from_name
from webapp.sources.local_listing import list_local_batches


@pytest.mark.parametrize(
    "name, expected",
    [
        ("20240612221500-snapshot.jpg", datetime(2024, 6, 12, 22, 15, 0)),
        ("cam1/snap_20240612_221500.JPG", datetime(2024, 6, 12, 22, 15, 0)),
        ("2024-06-12_22-15-00.png", datetime(2024, 6, 12, 22, 15, 0)),
        ("2024_06_12T22:15:00.tif", datetime(2024, 6, 12, 22, 15, 0)),
        ("img-240612221500.jpeg", datetime(2024, 6, 12, 22, 15, 0)),
        ("x99920240612221500.jpg", datetime(2024, 6, 12, 22, 15, 0)),
        ("20241399999999-bad-then-20240101000000.jpg", datetime(2024, 1, 1, 0, 0, 0)),
        ("snapshot.jpg", None),
        ("2024-06-12.jpg", None),
    ],
)
def test_timestamp_from_name(name, expected):
    assert timestamp_from_name(name) == expected


def test_timestamp_from_exif(tmp_path):
    from PIL import Image

    path = tmp_path / "noname.jpg"
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2024:06:12 23:01:02"
    Image.new("RGB", (8, 8)).save(path, "JPEG", exif=exif)
    assert timestamp_from_exif(path) == datetime(2024, 6, 12, 23, 1, 2)
    plain = tmp_path / "plain.jpg"
    Image.new("RGB", (8, 8)).save(plain, "JPEG")
    assert timestamp_from_exif(plain) is None
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    assert timestamp_from_exif(broken) is None


def test_the_local_listing_is_recursive_and_filters_extensions(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for rel in ("1.jpg", "a/2.JPEG", "a/b/3.tiff", "a/b/4.PNG", "a/notes.txt", "a/b/5.tif"):
        (tmp_path / rel).write_bytes(b"x" * 3)
    paths = [path for batch in list_local_batches(str(tmp_path)) for path in batch.paths]
    assert paths == ["1.jpg", "a/2.JPEG", "a/b/3.tiff", "a/b/4.PNG", "a/b/5.tif"]


def test_the_local_listing_leaves_out_links_that_point_outside(tmp_path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"x")
    (root / "own.jpg").write_bytes(b"x")
    os.symlink(outside / "secret.jpg", root / "link-out.jpg")
    os.symlink(root / "own.jpg", root / "link-in.jpg")
    os.symlink(outside, root / "linked-dir")
    assert [path for batch in list_local_batches(str(root)) for path in batch.paths] == ["link-in.jpg", "own.jpg"]
