"""Sessions leaving the site: `sessions.csv` and a Camtrap DP 1.0 package of a project.

Both read the database in batches (`yield_per`, a server-side cursor on
PostgreSQL) while the response is sent, so memory stays flat whatever the
project's size: the CSV is yielded row by row; the package is zipped as a
stream (each member's sizes follow its data) and passed on in chunks.

Capture times are the station's local clock; only here, where they leave the
site, do they get the UTC offset of the station's time zone (DST included).
"""
import csv
import io
import json
import uuid
import zipfile
from datetime import datetime, timezone
from typing import Iterator

from ..extensions import db
from ..models import Capture, Deployment, Project
from ..projects import PLACEHOLDER_NOTE
from ..sessions import CLOCK_KINDS, max_session_seconds
from .common import (
    BATCH_ROWS,
    _events,
    _project_deployments,
    check_sessions,
    spreadsheet_safe,
    station_zone,
    with_offset,
)

CHUNK_BYTES = 64 * 1024
CAMTRAP_PROFILE = "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2/camtrap-dp-profile.json"
CAMTRAP_SCHEMA = "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2/{name}-table-schema.json"
# Every column of the Camtrap DP 1.0.2 tables, in the schemas' order (validators require them all).
DEPLOYMENT_COLUMNS = (
    "deploymentID", "locationID", "locationName", "latitude", "longitude", "coordinateUncertainty", "deploymentStart",
    "deploymentEnd", "setupBy", "cameraID", "cameraModel", "cameraDelay", "cameraHeight", "cameraDepth", "cameraTilt",
    "cameraHeading", "detectionDistance", "timestampIssues", "baitUse", "featureType", "habitat", "deploymentGroups",
    "deploymentTags", "deploymentComments",
)
MEDIA_COLUMNS = (
    "mediaID", "deploymentID", "captureMethod", "timestamp", "filePath", "filePublic", "fileName", "fileMediatype",
    "exifData", "favorite", "mediaComments",
)
OBSERVATION_COLUMNS = (
    "observationID", "deploymentID", "mediaID", "eventID", "eventStart", "eventEnd", "observationLevel",
    "observationType", "cameraSetupType", "scientificName", "count", "lifeStage", "sex", "behavior", "individualID",
    "individualPositionRadius", "individualPositionAngle", "individualSpeed", "bboxX", "bboxY", "bboxWidth",
    "bboxHeight", "classificationMethod", "classifiedBy", "classificationTimestamp", "classificationProbability",
    "observationTags", "observationComments",
)
MEDIA_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff", ".tiff": "image/tiff"}


def camtrap_dp_zip(project: Project) -> Iterator[bytes]:
    """The project's Camtrap DP 1.0 package as zip bytes, in chunks, written while they are sent.

    ExportConflict is raised here, before anything is yielded; the rows are
    read (in batches) only as the client takes the chunks, so the first byte
    leaves at once and memory holds about one chunk whatever the project's size.
    """
    deployments = _project_deployments(project)
    ids = list(deployments)
    if ids:
        check_sessions(ids)
    return _package(project, deployments)


class _Pipe(io.RawIOBase):
    """Where the zip writer puts its bytes until they are passed on. Not seekable: zipfile then
    writes each member's sizes after its data (a data descriptor), as a stream needs."""

    def __init__(self):
        super().__init__()
        self._parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        self.size = 0
        return data


def _package(project: Project, deployments: dict[int, Deployment]) -> Iterator[bytes]:
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        exported = yield from _pumped(pipe, _write_deployments(archive, deployments))
        skipped = yield from _pumped(pipe, _write_media(archive, deployments, exported))
        yield from _pumped(pipe, _write_observations(archive, deployments, exported))
        archive.writestr("datapackage.json", json.dumps(_descriptor(project, deployments, exported, skipped), indent=2))
    yield pipe.drain()


def _pumped(pipe: _Pipe, table_writer: Iterator[None]):
    """Run a table's writer (a generator that yields after each row), passing on every CHUNK_BYTES
    of the archive as they are ready; returns what the writer returns."""
    while True:
        try:
            next(table_writer)
        except StopIteration as done:
            return done.value
        if pipe.size >= CHUNK_BYTES:
            yield pipe.drain()


def _table(archive: zipfile.ZipFile, name: str):
    raw = archive.open(name, "w", force_zip64=True)
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


class _SafeWriter(csv.DictWriter):
    """A table's rows with every text cell made spreadsheet-safe (names and paths come from users)."""

    def writerow(self, rowdict):
        return super().writerow({key: spreadsheet_safe(value) for key, value in rowdict.items()})


def _writer(out, columns) -> csv.DictWriter:
    writer = _SafeWriter(out, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    return writer


def _write_deployments(archive, deployments: dict[int, Deployment]) -> Iterator[None]:
    """deployments.csv: the stations with captures (Camtrap DP needs a start and an end); returns their ids."""
    exported = []
    with _table(archive, "deployments.csv") as out:
        writer = _writer(out, DEPLOYMENT_COLUMNS)
        for deployment in deployments.values():
            if deployment.first_capture_timestamp is None:
                continue
            zone = station_zone(deployment)
            comment = f"Time zone {zone.key}."
            if deployment.has_coordinates:
                latitude, longitude = deployment.latitude, deployment.longitude
            else:
                # Camtrap DP requires coordinates: 0/0 keeps the package valid, and the comment
                # (and datapackage.json) says it stands in for a place nobody entered.
                latitude, longitude = 0, 0
                comment = f"{PLACEHOLDER_NOTE} {comment}"
            writer.writerow({
                "deploymentID": str(deployment.id), "locationName": deployment.name,
                "latitude": latitude, "longitude": longitude,
                "deploymentStart": with_offset(deployment.first_capture_timestamp, zone),
                "deploymentEnd": with_offset(deployment.last_capture_timestamp, zone),
                # A clock problem the last regroup still found: an offset that fixed it made it go away.
                "timestampIssues": "true" if any(p["kind"] in CLOCK_KINDS for p in deployment.health_problems or [])
                else "false",
                "deploymentComments": comment,
            })
            exported.append(deployment.id)
            yield
    return exported


def _write_media(archive, deployments: dict[int, Deployment], exported: list[int]) -> Iterator[None]:
    """media.csv: one row per capture with a timestamp; returns how many captures had none."""
    skipped = 0
    with _table(archive, "media.csv") as out:
        writer = _writer(out, MEDIA_COLUMNS)
        if not exported:
            return 0
        query = (
            db.select(Capture.id, Capture.deployment_id, Capture.timestamp, Capture.path, Capture.original_timestamp)
            .where(Capture.deployment_id.in_(exported))
            .order_by(Capture.deployment_id, Capture.timestamp, Capture.id)
            .execution_options(yield_per=BATCH_ROWS)
        )
        zones = {i: station_zone(deployments[i]) for i in exported}
        for capture_id, deployment_id, timestamp, path, original in db.session.execute(query):
            if timestamp is None:
                skipped += 1
                continue
            name = path.rsplit("/", 1)[-1]
            extension = name[name.rfind("."):].lower() if "." in name else ""
            writer.writerow({
                "mediaID": str(capture_id), "deploymentID": str(deployment_id), "captureMethod": "timeLapse",
                "timestamp": with_offset(timestamp, zones[deployment_id]), "filePath": path, "filePublic": "false",
                "fileName": name, "fileMediatype": MEDIA_TYPES.get(extension, "image/jpeg"),
                # A clock offset moved it: the time its file says is kept here (sessions/clock_offsets.py).
                "mediaComments": f"clock corrected from {with_offset(original, zones[deployment_id])}" if original else "",
            })
            yield
    return skipped


def _write_observations(archive, deployments: dict[int, Deployment], exported: list[int]) -> Iterator[None]:
    """observations.csv: one event-level `unclassified` observation per session."""
    with _table(archive, "observations.csv") as out:
        writer = _writer(out, OBSERVATION_COLUMNS)
        if not exported:
            return
        zones = {i: station_zone(deployments[i]) for i in exported}
        for event in _events(exported):
            zone = zones[event.deployment_id]
            writer.writerow({
                "observationID": f"session-{event.id}", "deploymentID": str(event.deployment_id),
                "eventID": str(event.id), "eventStart": with_offset(event.start, zone),
                "eventEnd": with_offset(event.end, zone), "observationLevel": "event",
                "observationType": "unclassified",
            })
            yield


def spatial_coverage(stations: list[Deployment]) -> dict:
    """GeoJSON of the stations' places: a point, or the bounding box of several.

    Stations without coordinates are left out; with none known the package
    still needs a `spatial`, so it is the 0/0 placeholder (flagged beside it).
    """
    places = [(d.longitude, d.latitude) for d in stations if d.has_coordinates]
    if not places:
        return {"type": "Point", "coordinates": [0, 0]}
    west, east = min(p[0] for p in places), max(p[0] for p in places)
    south, north = min(p[1] for p in places), max(p[1] for p in places)
    if (west, south) == (east, north):
        return {"type": "Point", "coordinates": [west, south]}
    return {
        "type": "Polygon",
        "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
    }


def _descriptor(project: Project, deployments: dict[int, Deployment], exported: list[int], skipped: int) -> dict:
    stations = [deployments[i] for i in exported]
    missing = [d for d in stations if not d.has_coordinates]
    starts = [d.first_capture_timestamp for d in stations]
    ends = [d.last_capture_timestamp for d in stations]
    resources = [
        {"name": name, "path": f"{name}.csv", "profile": "tabular-data-resource", "format": "csv",
         "mediatype": "text/csv", "encoding": "utf-8", "schema": CAMTRAP_SCHEMA.format(name=name)}
        for name in ("deployments", "media", "observations")
    ]
    return {
        "profile": CAMTRAP_PROFILE,
        "name": f"ami-sessions-project-{project.id}",
        "id": str(uuid.uuid4()),
        "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "title": project.name,
        "contributors": [{"title": project.name, "role": "contributor"}],
        "project": {
            "id": str(project.id),
            "title": project.name,
            "description": project.description or "",
            "samplingDesign": "targeted",
            "captureMethod": ["timeLapse"],
            "individualAnimals": False,
            "observationLevel": ["event"],
        },
        "spatial": spatial_coverage(stations),
        "temporal": {
            "start": min(starts).date().isoformat() if starts else datetime.now(timezone.utc).date().isoformat(),
            "end": max(ends).date().isoformat() if ends else datetime.now(timezone.utc).date().isoformat(),
        },
        "taxonomic": [],
        # Camtrap DP has no field for how events were made: the rule is recorded here.
        "amiSessions": {
            "sessionRule": {
                "gapSeconds": project.session_time_gap_seconds,
                "keying": project.session_keying,
                "maxSessionSeconds": max_session_seconds(),
                "stations": {
                    str(d.id): {"gapSeconds": d.grouped_gap_seconds, "keying": d.grouped_keying} for d in stations
                },
            },
            "coordinatesKnown": not missing,
            # Data Package allows custom properties: the stations whose 0/0 in deployments.csv is a placeholder.
            "stationsWithoutCoordinates": [{"deploymentID": str(d.id), "locationName": d.name} for d in missing],
            "capturesWithoutTimestamp": skipped,
        },
        "resources": resources,
    }
