"""Exports: sessions.csv round-trips; the Camtrap DP package validates against the vendored 1.0.2 schemas."""
import copy
import csv
import gc
import io
import json
import warnings
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from frictionless import Package

from tests.api_helpers import call, token_for
from tests.conftest import add_deployment, add_user
from tests.sessions.test_insights import add_captures, mothbox_nights
from webapp.exports import SESSIONS_CSV_COLUMNS, with_offset
from webapp.extensions import db
from webapp.models import Capture, Deployment, Event
from webapp.sessions import regroup_deployment

SCHEMAS = Path(__file__).parents[1] / "data" / "camtrap-dp-1.0.2"


@pytest.fixture
def token(manager):
    return token_for(manager)


@pytest.fixture
def stations(project):
    first = add_deployment(project, 'Mothbox, "north"')
    add_captures(first, mothbox_nights(3) + mothbox_nights(1))  # duplicates too
    second = add_deployment(project, "Meadow")
    add_captures(second, mothbox_nights(2))
    add_deployment(project, "Empty")
    for station in (first, second):
        regroup_deployment(station)
    return first, second


def test_sessions_csv_round_trips(app, client, token, project, stations):
    response = call(client, "GET", f"/projects/{project.id}/export/sessions.csv", token)
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(rows[0]) == SESSIONS_CSV_COLUMNS
    events = db.session.scalars(db.select(Event).order_by(Event.deployment_id, Event.start)).all()
    assert len(rows) == len(events) == 4 + 3
    names = {s.id: s.name for s in stations}
    for row, event in zip(rows, events):
        start, end = datetime.fromisoformat(row["start"]), datetime.fromisoformat(row["end"])
        assert start.utcoffset() == timedelta(0)  # stations default to UTC
        assert (start.replace(tzinfo=None), end.replace(tzinfo=None)) == (event.start, event.end)
        assert row == {
            **row, "session_id": str(event.id), "deployment_id": str(event.deployment_id),
            "deployment_name": names[event.deployment_id], "group_by": event.group_by,
            "duration_seconds": str(int(event.duration_seconds)), "captures_count": str(event.captures_count),
            "gap_seconds": "7200", "keying": "date", "max_session_seconds": "86400",
        }
    assert sum(int(r["captures_count"]) for r in rows) == 4 * 241 + 2 * 241


def test_exports_are_for_members_only(app, client, project, stations):
    stranger = token_for(add_user("stranger@example.org"))
    for path in ("sessions.csv", "camtrap-dp.zip"):
        assert call(client, "GET", f"/projects/{project.id}/export/{path}", stranger).status_code == 404
        assert call(client, "GET", f"/projects/{project.id}/export/{path}").status_code == 401


def test_offsets_follow_daylight_saving_time():
    # Europe/Amsterdam moved from +01:00 to +02:00 at 02:00 local on 2024-03-31.
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Amsterdam")
    assert with_offset(datetime(2024, 3, 30, 22, 0), zone) == "2024-03-30T22:00:00+01:00"
    assert with_offset(datetime(2024, 3, 31, 4, 0), zone) == "2024-03-31T04:00:00+02:00"
    assert with_offset(datetime(2024, 10, 27, 4, 0), zone) == "2024-10-27T04:00:00+01:00"
    assert with_offset(None, zone) == ""


def _local_descriptor(descriptor: dict) -> dict:
    """The package's descriptor with its table schemas read from the vendored copies (no network)."""
    local = copy.deepcopy(descriptor)
    local.pop("profile")
    for resource in local["resources"]:
        resource["schema"] = json.loads((SCHEMAS / f"{resource['name']}-table-schema.json").read_text())
    return local


def _profile_without_remote_refs() -> dict:
    profile = json.loads((SCHEMAS / "camtrap-dp-profile.json").read_text())
    profile["allOf"] = [part for part in profile["allOf"] if "$ref" not in part]
    profile["allOf"][0]["properties"]["spatial"].pop("$ref")
    return profile


def _valid_package(client, token, project, folder) -> dict:
    """The project's Camtrap DP package unpacked into `folder`, checked against the vendored schemas; its descriptor."""
    response = call(client, "GET", f"/projects/{project.id}/export/camtrap-dp.zip", token)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        assert sorted(archive.namelist()) == ["datapackage.json", "deployments.csv", "media.csv", "observations.csv"]
        archive.extractall(folder)
    descriptor = json.loads((folder / "datapackage.json").read_text())
    jsonschema.validate(descriptor, _profile_without_remote_refs())
    with warnings.catch_warnings():
        # frictionless leaves its file handles to the garbage collector.
        warnings.simplefilter("ignore", ResourceWarning)
        report = Package(_local_descriptor(descriptor), basepath=str(folder)).validate()
        gc.collect()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    return descriptor


def test_camtrap_dp_package_validates(app, client, token, project, stations, tmp_path):
    descriptor = _valid_package(client, token, project, tmp_path)
    assert descriptor["profile"].endswith("/1.0.2/camtrap-dp-profile.json")
    assert descriptor["amiSessions"]["sessionRule"] == {
        **descriptor["amiSessions"]["sessionRule"], "gapSeconds": 7200, "keying": "date", "maxSessionSeconds": 86400}
    assert descriptor["temporal"] == {"start": "2026-06-01", "end": "2026-06-04"}

    media, observations, deployments = (
        list(csv.DictReader(io.StringIO((tmp_path / f"{name}.csv").read_text())))
        for name in ("media", "observations", "deployments")
    )
    assert len(media) == 6 * 241 and len(observations) == 7 and len(deployments) == 2  # the empty station is left out
    assert {o["observationLevel"] for o in observations} == {"event"}
    assert {o["observationType"] for o in observations} == {"unclassified"}
    # Every media row falls inside exactly one event of its deployment.
    spans = [(o["deploymentID"], datetime.fromisoformat(o["eventStart"]), datetime.fromisoformat(o["eventEnd"]))
             for o in observations]
    for row in media:
        moment = datetime.fromisoformat(row["timestamp"])
        assert sum(1 for d, start, end in spans if d == row["deploymentID"] and start <= moment <= end) == 1


def test_deployments_carry_the_station_coordinates_and_mark_the_placeholder(app, client, token, project, stations, tmp_path):
    first, second = stations
    first.latitude, first.longitude = 45.5352, -73.1738
    db.session.commit()
    descriptor = _valid_package(client, token, project, tmp_path / "one")
    rows = {r["deploymentID"]: r for r in csv.DictReader(io.StringIO((tmp_path / "one" / "deployments.csv").read_text()))}
    placed, unplaced = rows[str(first.id)], rows[str(second.id)]
    assert (float(placed["latitude"]), float(placed["longitude"])) == (45.5352, -73.1738)
    assert "placeholder" not in placed["deploymentComments"]
    # Camtrap DP requires coordinates: 0/0 stands in, and says so.
    assert (float(unplaced["latitude"]), float(unplaced["longitude"])) == (0, 0)
    assert "Coordinates not set in ami-sessions" in unplaced["deploymentComments"]
    assert "0 is a placeholder" in unplaced["deploymentComments"]
    notes = descriptor["amiSessions"]
    assert notes["coordinatesKnown"] is False
    assert notes["stationsWithoutCoordinates"] == [{"deploymentID": str(second.id), "locationName": "Meadow"}]
    assert descriptor["spatial"] == {"type": "Point", "coordinates": [-73.1738, 45.5352]}

    second.latitude, second.longitude = 45.5201, -73.1295
    db.session.commit()
    descriptor = _valid_package(client, token, project, tmp_path / "both")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "both" / "deployments.csv").read_text())))
    assert [(float(r["latitude"]), float(r["longitude"])) for r in rows] == [(45.5352, -73.1738), (45.5201, -73.1295)]
    assert not any("placeholder" in r["deploymentComments"] for r in rows)
    assert descriptor["amiSessions"]["coordinatesKnown"] is True
    assert descriptor["amiSessions"]["stationsWithoutCoordinates"] == []
    west, east, south, north = -73.1738, -73.1295, 45.5201, 45.5352
    assert descriptor["spatial"] == {"type": "Polygon", "coordinates": [
        [[west, south], [east, south], [east, north], [west, north], [west, south]]]}


def test_overlapping_sessions_are_refused_before_anything_is_written(app, client, token, project, stations):
    first, _ = stations
    events = db.session.scalars(db.select(Event).where(Event.deployment_id == first.id).order_by(Event.start)).all()
    events[1].start = events[0].end - timedelta(minutes=1)
    db.session.commit()
    response = call(client, "GET", f"/projects/{project.id}/export/camtrap-dp.zip", token)
    assert response.status_code == 409
    assert f"Sessions {events[0].id} and {events[1].id}" in response.get_json()["detail"]


@pytest.mark.skipif(not hasattr(Deployment, "time_zone"), reason="needs the station time zone column (issue 13)")
def test_exports_carry_the_station_offset_across_a_dst_change(app, client, token, project):
    station = add_deployment(project, "Amsterdam")
    station.time_zone = "Europe/Amsterdam"
    db.session.commit()
    # Two nights around the switch to summer time (02:00 local on 2024-03-31).
    night = datetime(2024, 3, 29, 22)
    add_captures(station, [night + timedelta(minutes=m) for m in range(0, 60, 5)]
                 + [night + timedelta(days=2, minutes=m) for m in range(0, 60, 5)])
    regroup_deployment(station)
    rows = list(csv.DictReader(io.StringIO(
        call(client, "GET", f"/projects/{project.id}/export/sessions.csv", token).get_data(as_text=True))))
    assert [(r["start"], r["end"]) for r in rows] == [
        ("2024-03-29T22:00:00+01:00", "2024-03-29T22:55:00+01:00"),
        ("2024-03-31T22:00:00+02:00", "2024-03-31T22:55:00+02:00"),
    ]
    archive = zipfile.ZipFile(io.BytesIO(
        call(client, "GET", f"/projects/{project.id}/export/camtrap-dp.zip", token).get_data()))
    media = list(csv.DictReader(io.StringIO(archive.read("media.csv").decode())))
    assert media[0]["timestamp"] == "2024-03-29T22:00:00+01:00"
    assert media[-1]["timestamp"] == "2024-03-31T22:55:00+02:00"


def test_names_and_paths_that_look_like_formulas_are_exported_as_text(app, client, token, project, tmp_path):
    """CSV injection (OWASP): a cell a spreadsheet would run starts with an apostrophe; the package stays valid."""
    station = add_deployment(project, '=HYPERLINK("http://x","y")')
    add_captures(station, mothbox_nights(1))
    db.session.execute(
        db.update(Capture).where(Capture.deployment_id == station.id, Capture.path == "img/0.jpg").values(path="@SUM(1).jpg")
    )
    db.session.execute(
        db.update(Capture).where(Capture.deployment_id == station.id, Capture.path == "img/1.jpg").values(path="-2+3.jpg")
    )
    db.session.commit()
    regroup_deployment(station)

    sessions = call(client, "GET", f"/projects/{project.id}/export/sessions.csv", token).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(sessions)))
    assert {row["deployment_name"] for row in rows} == {"'=HYPERLINK(\"http://x\",\"y\")"}
    assert all(not row[column].startswith(("=", "+", "-", "@")) for row in rows for column in row)

    _valid_package(client, token, project, tmp_path)
    media = list(csv.DictReader(io.StringIO((tmp_path / "media.csv").read_text())))
    by_name = {row["fileName"]: row for row in media}
    assert by_name["'@SUM(1).jpg"]["filePath"] == "'@SUM(1).jpg"
    assert by_name["'-2+3.jpg"]["filePath"] == "'-2+3.jpg"
    deployments = list(csv.DictReader(io.StringIO((tmp_path / "deployments.csv").read_text())))
    assert deployments[0]["locationName"] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
               for table in (media, deployments) for row in table for cell in row.values())


def test_media_of_corrected_captures_name_their_original_time_and_the_package_stays_valid(
        app, client, token, project, stations, tmp_path, manager):
    from webapp.models import Capture
    from webapp.sessions import add_clock_offset, apply_clock_offsets

    first = stations[0]
    night = db.session.scalar(db.select(db.func.min(Capture.timestamp)).where(Capture.deployment_id == first.id))
    add_clock_offset(first, {"start": night, "end": night + timedelta(hours=1), "offset_seconds": -3600}, manager)
    corrected = apply_clock_offsets(first)["Captures corrected"]
    regroup_deployment(first)
    _valid_package(client, token, project, tmp_path)
    media = list(csv.DictReader(io.StringIO((tmp_path / "media.csv").read_text())))
    comments = [(row["timestamp"], row["mediaComments"]) for row in media if row["mediaComments"]]
    assert corrected and len(comments) == corrected
    for timestamp, comment in comments:
        original = datetime.fromisoformat(comment.removeprefix("clock corrected from "))
        assert original - datetime.fromisoformat(timestamp) == timedelta(hours=1)
    assert sum(1 for row in media if not row["mediaComments"]) == len(media) - corrected


def test_the_camtrap_dp_package_leaves_in_chunks_while_it_is_written(app, client, token, project, stations):
    from tests.sql_statements import sent_statements

    big = add_deployment(project, "Big")
    start = datetime(2026, 7, 1, 21, 0)
    db.session.execute(Capture.__table__.insert(), [
        {"deployment_id": big.id, "path": f"night-{i // 500:03d}/{i:06d}.jpg", "timestamp": start + timedelta(days=i // 500, seconds=10 * (i % 500))}
        for i in range(20_000)
    ])
    db.session.commit()
    regroup_deployment(big)

    def event_reads(sent):
        return [s for s in sent if "FROM event" in s and "ORDER BY event.deployment_id" in s]

    with sent_statements() as sent:
        response = call(client, "GET", f"/projects/{project.id}/export/camtrap-dp.zip", token, buffered=False)
        assert response.status_code == 200
        chunks = iter(response.response)
        first = next(chunks)
        # The first bytes leave while media.csv is being written: the sessions, read for the
        # overlap check, have not yet been read again for observations.csv.
        assert len(event_reads(sent)) == 1
        rest = list(chunks)
        response.close()
    assert len(event_reads(sent)) == 2 and len(rest) >= 3
    with zipfile.ZipFile(io.BytesIO(first + b"".join(rest))) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["deployments.csv", "media.csv", "observations.csv", "datapackage.json"]
        media = archive.read("media.csv").decode().splitlines()
        assert len(media) == 1 + 6 * 241 + 20_000


@pytest.mark.parametrize("nights, elapsed", [
    # Spring: the clock jumps from 02:00 to 03:00; 01:00 → 03:30 on the clock is 1 h 30 min.
    ([datetime(2024, 3, 31, 1, 0) + timedelta(minutes=m) for m in range(0, 60, 5)]
     + [datetime(2024, 3, 31, 3, 0) + timedelta(minutes=m) for m in range(0, 35, 5)], 5400),
    # Autumn: 02:00–03:00 comes twice; 01:00 → 03:30 on the clock is 3 h 30 min.
    ([datetime(2024, 10, 27, 1, 0) + timedelta(minutes=m) for m in range(0, 155, 5)], 12600),
])
def test_duration_agrees_with_start_and_end_across_a_dst_change(app, client, token, project, nights, elapsed):
    station = add_deployment(project, "Amsterdam", time_zone="Europe/Amsterdam")
    add_captures(station, nights)
    regroup_deployment(station)
    (row,) = csv.DictReader(io.StringIO(
        call(client, "GET", f"/projects/{project.id}/export/sessions.csv", token).get_data(as_text=True)))
    start, end = datetime.fromisoformat(row["start"]), datetime.fromisoformat(row["end"])
    assert int(row["duration_seconds"]) == (end - start).total_seconds() == elapsed
