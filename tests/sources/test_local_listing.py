"""The batched parts of a sync against their one-by-one definitions: name times read in one pass,
a listing whose stats are taken by helper processes, a helper lost on the way, whole-batch
comparison, modification times written by SQLite, and the clock check over a batch."""
import io
import os
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.conftest import add_deployment
from tests.jobs.test_jobs import params, run
from tests.sources.test_sync_changed import captures, station_folder
from webapp.extensions import db
from webapp.models import Capture
from webapp.sessions import BackwardsCounter, HealthRules
from webapp.sources import file_facts, local_listing
from webapp.sources import sync as sync_module
from webapp.sources.capture_rows import KnownRows, NewCaptures, insert_capture_columns, is_changed, known_file
from webapp.sources.files import FileBatch, from_micros, to_micros
from webapp.sources.merge import merge_listing, unchanged

NAME = st.text(alphabet="0123456789_-:. aZ/٢", max_size=40) | st.builds(
    lambda when, sep, tail: when.strftime(f"%Y%m%d{sep}%H%M%S") + tail,
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from(["", "_", "-", "T"]), st.sampled_from([".jpg", "-3-snapshot.jpg", "99.JPG", ""]),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(NAME, max_size=12))
def test_name_times_are_the_times_timestamp_from_name_finds(names):
    names += ["20240230_210000.jpg", "20241301013000x20240101010101.jpg", "00000101000000.jpg", "٢٠٢٤٠٥٠١_٢١٠٠٠٠.jpg"]
    expected = [file_facts.time_text(file_facts.timestamp_from_name(name)) for name in names]
    assert file_facts.name_times(names) == expected


def _tree(root, count: int) -> list[str]:
    paths = []
    for index in range(count):
        night = f"2024-06-{index % 3 + 1:02d}"
        sub = "late/" if index % 7 == 0 else ""
        path = f"{night}/{sub}202406{index % 3 + 1:02d}_22{index // 60 % 60:02d}{index % 60:02d}.jpg"
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(b"x" * (index % 5))
        paths.append(path)
    (root / "loose.jpg").write_bytes(b"")
    (root / "notes.txt").write_bytes(b"")
    return sorted(paths + ["loose.jpg"])


def _columns(batches):
    rows = [(path, size, modified) for batch in batches for path, size, modified in zip(batch.paths, batch.sizes, batch.modified)]
    return rows


@pytest.mark.parametrize("after", [None, "2024-06-02/20240602_220100.jpg", "2024-06-01/late/"])
def test_helpers_list_the_same_files_in_the_same_order_as_this_process(tmp_path, monkeypatch, after):
    paths = _tree(tmp_path, 400)
    here = list(local_listing.list_local_batches(str(tmp_path), after, limit=25))
    monkeypatch.setattr(local_listing, "HELPERS_AFTER", 0)
    helped = list(local_listing.list_local_batches(str(tmp_path), after, limit=25, with_times=True, helpers=2))
    assert _columns(helped) == _columns(here)
    assert [row[0] for row in _columns(here)] == [p for p in paths if after is None or p > after]
    assert all(len(batch.paths) <= 25 for batch in helped)
    # The helpers read the names' times too (these files hold no EXIF: the same as from names alone).
    assert all(batch.times == file_facts.name_times(batch.names) for batch in helped)


def test_a_helper_lost_on_the_way_leaves_the_rest_to_this_process(tmp_path, monkeypatch):
    paths = _tree(tmp_path, 300)
    monkeypatch.setattr(local_listing, "HELPERS_AFTER", 0)
    started = []
    real_start = local_listing.StatHelpers.start.__func__

    def start(cls, count):
        helpers = real_start(cls, count)
        started.append(helpers)
        return helpers

    monkeypatch.setattr(local_listing.StatHelpers, "start", classmethod(start))
    listed = []
    for index, batch in enumerate(local_listing.list_local_batches(str(tmp_path), limit=20, helpers=2)):
        listed += batch.paths
        if index == 3:
            started[0].processes[1].kill()
    assert listed == paths
    assert started and started[0].processes == []


def test_a_file_gone_before_its_stat_is_left_out_here_and_in_a_helper(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"ab")
    sizes, modified = file_facts.stat_files(str(tmp_path) + os.sep, ["a.jpg", "gone.jpg"])
    assert sizes[0] == 2 and sizes[1] == -1 and modified[1] is None
    helpers = local_listing.StatHelpers.start(1)
    with helpers:
        run = (str(tmp_path) + os.sep, "", ["a.jpg", "gone.jpg", "zz.jpg"])
        (batch,) = helpers.batches([run], with_times=False)
    assert batch.paths == ["a.jpg"] and batch.sizes == [2]


BASE = datetime(2024, 6, 1, 22, 0)
LISTED = st.dictionaries(st.sampled_from(["a.jpg", "b.jpg", "c/d.jpg", "c.jpg", "é.jpg"]),
                         st.tuples(st.integers(0, 2), st.one_of(st.none(), st.integers(0, 2))), max_size=5)


@settings(max_examples=300, deadline=None)
@given(listed=LISTED, known=LISTED, text=st.booleans())
def test_a_batch_is_unchanged_exactly_when_the_merge_finds_nothing(listed, known, text):
    def when(seconds):
        return None if seconds is None else BASE + timedelta(seconds=seconds)

    paths = sorted(listed)
    batch = FileBatch(paths, paths, [listed[p][0] for p in paths], [to_micros(when(listed[p][1])) for p in paths], None)
    rows = [(p, size, when(t) and (when(t).isoformat(" ") if text else when(t)), i, None)
            for i, (p, (size, t)) in enumerate(sorted(known.items()))]
    merged = list(merge_listing(batch.entries(), map(known_file, rows)))
    assert unchanged(batch, rows) == (not merged)


MICROS = [0, 1, -1, 999_999, -1_000_001, 1_717_279_200_123_456, -62_135_596_800_000_000, 253_402_300_799_999_999, None]


@pytest.mark.pg
def test_modification_times_are_written_as_python_reads_them(project):
    deployment = add_deployment(project, data_source="")
    paths = [f"{index}.jpg" for index in range(len(MICROS))]
    added = insert_capture_columns(deployment, NewCaptures(paths, [1] * len(paths), [None] * len(paths), MICROS))
    db.session.commit()
    assert added == len(paths)
    stored = dict(db.session.execute(db.select(Capture.path, Capture.last_modified)).all())
    assert [stored[path] for path in paths] == [from_micros(m) for m in MICROS]
    # ... and compare as unchanged against the same listing.
    rows = KnownRows(deployment)
    known, complete = rows.upto(None)
    batch = FileBatch(sorted(paths), sorted(paths), [1] * len(paths), [MICROS[paths.index(p)] for p in sorted(paths)], "")
    assert complete and unchanged(batch, known)
    assert not any(is_changed(entry, row) for entry, row in zip(batch.entries(), rows.whole_range()))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "a", "a/b"]), st.one_of(st.none(), st.integers(0, 600))), max_size=30),
       st.integers(1, 8))
def test_the_clock_check_over_a_batch_counts_as_file_by_file(files, cut):
    one, batched = BackwardsCounter(HealthRules()), BackwardsCounter(HealthRules())
    for folder, minutes in files:
        one.add(f"{folder}/x.jpg" if folder else "x.jpg", None if minutes is None else BASE + timedelta(minutes=minutes))
    # The same files, handed over in runs of one folder of at most `cut` files.
    start = 0
    while start < len(files):
        folder = files[start][0]
        end = start
        while end < len(files) and end - start < cut and files[end][0] == folder:
            end += 1
        moments = np.array([None if m is None else BASE + timedelta(minutes=m) for _, m in files[start:end]],
                           dtype="datetime64[us]")
        batched.add_moments(folder, moments)
        start = end
    assert (batched.count, batched.first, batched.last) == (one.count, one.first, one.last)


def _exif_jpeg(text: str | None) -> bytes:
    exif = Image.Exif()
    if text is not None:
        exif.get_ifd(0x8769)[0x9003] = text
    out = io.BytesIO()
    Image.new("RGB", (16, 12), "green").save(out, "JPEG", exif=exif)
    return out.getvalue()


@pytest.mark.pg
def test_a_first_sync_read_by_helpers_finds_the_same_times_as_one_read_here(app, project, monkeypatch):
    folder = station_folder(app, project)
    for index in range(60):
        (folder / f"IMG_{index:04d}.JPG").write_bytes(_exif_jpeg(f"2024:06:01 22:{index:02d}:00"))
        (folder / f"20240602_22{index:02d}00.jpg").write_bytes(b"")
    (folder / "IMG_9000.JPG").write_bytes(_exif_jpeg(None))  # no time: Pillow confirms it here
    (folder / "IMG_9001.JPG").write_bytes(_exif_jpeg("not a date"))  # a time field that is no date: settled
    (folder / "IMG_9002.JPG").write_bytes(_exif_jpeg("2024:06:03 01:00:00")[:300])  # cut short: read here
    (folder / "IMG_9003.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # another format, cut short: read here
    monkeypatch.setattr(sync_module, "BATCH_SIZE", 16)
    monkeypatch.setattr(local_listing, "HELPERS_AFTER", 0)
    found = {}
    for helpers in (0, 2):
        monkeypatch.setitem(app.config, "SYNC_STAT_HELPERS", helpers)
        deployment = add_deployment(project, name=f"with {helpers}", data_source=str(folder))
        job = run("data_storage_sync", deployment)
        found[helpers] = ({path: when for path, (_, when) in captures(deployment).items()},
                          params(job, "data_storage_sync"))
    assert found[0] == found[2]
    times, stage = found[2]
    assert times["IMG_0007.JPG"] == datetime(2024, 6, 1, 22, 7) and times["20240602_220700.jpg"] == datetime(2024, 6, 2, 22, 7)
    assert times["IMG_9000.JPG"] is None and times["IMG_9001.JPG"] is None
    assert "IMG_9002.JPG" not in times and "IMG_9003.png" not in times
    assert (stage["captures_added"], stage["failed"], stage["unreadable_files"]) == (122, 2, 2)
