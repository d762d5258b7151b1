"""The streaming sync's parts, checked against plain definitions: the merge of a listing with the
known rows, the sorted listing of a folder (and its quick-sync cut), the chunked read of the known
rows in the same order on both databases, and the EXIF head parser against Pillow."""
import io
import os
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, TiffImagePlugin

from tests.conftest import add_deployment
from webapp.extensions import db
from webapp.models import Capture
from webapp.sources.capture_rows import is_changed, known_files
from webapp.sources.exif import HEAD_BYTES, NOT_FOUND, exif_time_from_head
from webapp.sources import file_facts
from webapp.sources.files import FileEntry, timestamp_from_exif
from webapp.sources.local_listing import list_local_batches
from webapp.sources.merge import CHANGED, NEW, VANISHED, merge_listing

BASE = datetime(2024, 6, 1, 22, 0)
NAMES = st.text(alphabet="ab-._/0Aé", min_size=1, max_size=6).filter(
    lambda p: all(part not in ("", ".", "..") for part in p.split("/"))
)


@settings(max_examples=300, deadline=None)
@given(
    listed=st.dictionaries(NAMES, st.tuples(st.integers(0, 3), st.integers(0, 3))),
    known=st.dictionaries(NAMES, st.tuples(st.integers(0, 3), st.integers(0, 3))),
)
def test_the_merge_finds_exactly_the_new_changed_and_vanished_files(listed, known):
    entries = [FileEntry(p, size, BASE + timedelta(seconds=t)) for p, (size, t) in sorted(listed.items())]
    rows = [(p, i, size, BASE + timedelta(seconds=t), None) for i, (p, (size, t)) in enumerate(sorted(known.items()))]
    out = list(merge_listing(iter(entries), iter(rows)))
    by_kind = {kind: {(entry or row)[0] for k, entry, row in out if k == kind} for kind in (NEW, CHANGED, VANISHED)}
    assert by_kind[NEW] == listed.keys() - known.keys()
    assert by_kind[VANISHED] == known.keys() - listed.keys()
    rows_by_path = {row[0]: row for row in rows}
    assert by_kind[CHANGED] == {e.path for e in entries if e.path in known and is_changed(e, rows_by_path[e.path])}
    paths = [(entry or row)[0] for _, entry, row in out]
    assert paths == sorted(paths)


def _write_tree(root, paths):
    written = set()
    for path in paths:
        full = root / path
        try:
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_bytes(b"x")
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            continue  # a name already taken by a folder, or a folder by a file
        written.add(path)
    return written


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paths=st.sets(NAMES.map(lambda p: p + ".jpg"), max_size=25), cut=st.one_of(st.none(), NAMES))
def test_a_folder_is_listed_in_path_order_and_a_quick_listing_only_after_its_start(tmp_path_factory, paths, cut):
    root = tmp_path_factory.mktemp("tree")
    written = _write_tree(root, paths)
    (root / "notes.txt").write_bytes(b"not an image")
    listed = [path for batch in list_local_batches(str(root), after=cut) for path in batch.paths]
    expected = sorted(p for p in written if cut is None or p > cut)
    assert listed == expected


TRICKY = ["a.jpg", "a/b.jpg", "a-b.jpg", "a0.jpg", "A.jpg", "é.jpg", "a/a/c.jpg", "a b.jpg", "z.jpg", "ä/x.jpg", "a/é.jpg"]


@pytest.mark.pg
@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 100])
def test_known_rows_come_in_pythons_path_order_in_chunks(project, chunk):
    deployment = add_deployment(project, data_source="")
    db.session.add_all(Capture(deployment_id=deployment.id, path=p, size=1) for p in TRICKY)
    db.session.commit()
    assert [row[0] for row in known_files(deployment, chunk=chunk)] == sorted(TRICKY)
    assert [row[0] for row in known_files(deployment, after="a/", chunk=chunk)] == sorted(p for p in TRICKY if p > "a/")


def _jpeg(when: datetime | None, original: bool, size: int, quality: int, jfif_comment: int) -> bytes:
    exif = Image.Exif()
    if when is not None:
        text = when.strftime("%Y:%m:%d %H:%M:%S")
        if original:
            exif.get_ifd(0x8769)[0x9003] = text
        else:
            exif[0x0132] = text
    exif[0x010F] = "Camera maker " * jfif_comment
    out = io.BytesIO()
    Image.new("RGB", (size, size), (size % 255, 80, 120)).save(out, "JPEG", exif=exif, quality=quality,
                                                               comment=b"c" * jfif_comment)
    return out.getvalue()


WHEN = st.one_of(st.none(), st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)).map(
    lambda d: d.replace(microsecond=0)))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(when=WHEN, original=st.booleans(), size=st.integers(1, 300), quality=st.integers(5, 95),
       padding=st.integers(0, 40))
def test_the_head_parser_agrees_with_pillow_on_jpegs(tmp_path, when, original, size, quality, padding):
    data = _jpeg(when, original, size, quality, padding)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    found = exif_time_from_head(data[:HEAD_BYTES])
    pillow = timestamp_from_exif(path)
    if when is None:
        assert found is NOT_FOUND and pillow is None  # no time: the sync falls back to Pillow, which agrees
    else:
        assert found == pillow == when


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(when=WHEN.filter(lambda w: w is not None), size=st.integers(1, 64), original=st.booleans())
def test_the_head_parser_agrees_with_pillow_on_tiffs(tmp_path, when, size, original):
    text = when.strftime("%Y:%m:%d %H:%M:%S")
    path = tmp_path / "photo.tif"
    if original:  # DateTimeOriginal in the Exif IFD
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = text
        Image.new("RGB", (size, size), "blue").save(path, "TIFF", exif=exif.tobytes())
    else:  # DateTime in IFD0
        info = TiffImagePlugin.ImageFileDirectory_v2()
        info[0x0132] = text
        Image.new("RGB", (size, size), "blue").save(path, "TIFF", tiffinfo=info)
    data = path.read_bytes()
    assert exif_time_from_head(data[:HEAD_BYTES]) == timestamp_from_exif(path) == when


def test_a_jpeg_cut_before_its_image_data_is_left_to_pillow(tmp_path):
    data = _jpeg(BASE, True, 64, 80, 0)
    head = data[: len(data) // 3]
    assert exif_time_from_head(head) is NOT_FOUND
    assert exif_time_from_head(data) == BASE
    assert exif_time_from_head(b"\x89PNG\r\n\x1a\n") is NOT_FOUND


def test_a_quick_listing_does_not_open_folders_before_its_start(tmp_path, monkeypatch):
    for night in ("2024-06-01", "2024-06-02", "2024-06-03"):
        (tmp_path / night).mkdir()
        (tmp_path / night / f"{night}_1.jpg").write_bytes(b"x")
    opened = []
    real = os.scandir

    def scandir(path):
        opened.append(os.path.basename(str(path).rstrip("/")))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    listed = [path for batch in list_local_batches(str(tmp_path), after="2024-06-02/2024-06-02_1.jpg")
              for path in batch.paths]
    assert listed == ["2024-06-03/2024-06-03_1.jpg"]
    assert "2024-06-01" not in opened and "2024-06-02" in opened


def _name_time_every_pattern(name: str):
    """timestamp_from_name as the contract words it: every pattern tried in order, at every offset."""
    stem = name.rpartition("/")[2]
    for pattern in file_facts._NAME_PATTERNS:
        for match in pattern.finditer(stem):
            found = file_facts._valid(match.groups())
            if found:
                return found
    for match in file_facts._SHORT_PATTERN.finditer(stem):
        year, *rest = match.groups()
        found = file_facts._valid((2000 + int(year), *rest))
        if found:
            return found
    return None


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789_-:. aZ/", max_size=40))
def test_the_name_time_skips_the_first_pattern_only_where_it_cannot_match(name):
    assert file_facts.timestamp_from_name(name) == _name_time_every_pattern(name)
