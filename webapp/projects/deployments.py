"""Stations (deployments): creating them, their own session gap, time zone and coordinates."""
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ..extensions import db
from ..models import Deployment, Project
from ..sessions import clean_gap_seconds
from ..sources import DataSourceError, check_data_source
from ..validation import ValidationError, clean_fields, clean_name
from .coordinates import clean_latitude, clean_longitude, pair_errors


def _clean_optional_gap(value):
    return None if value is None else clean_gap_seconds(value)


MAX_TIME_ZONE_LENGTH = Deployment.time_zone.type.length


def clean_time_zone(value) -> str:
    """An IANA time zone name (e.g. "Europe/Paris", "UTC"), trimmed.

    Only names of the IANA database are accepted: a path-like or legacy name
    that zoneinfo could still open (e.g. "posixrules") is refused, so what is
    stored is always a name other programs (exports, Camtrap DP) understand.
    """
    if not isinstance(value, str):
        raise ValueError("Must be an IANA time zone name, for example Europe/Paris or UTC.")
    value = value.strip()
    if not value:
        raise ValueError("Enter a time zone, for example Europe/Paris or UTC.")
    if len(value) > MAX_TIME_ZONE_LENGTH or value not in _iana_names():
        raise ValueError(f"“{value[:80]}” is not an IANA time zone name; use one like Europe/Paris, America/Toronto or UTC.")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"The time zone “{value}” is not installed on the server.") from None
    return value


_IANA_NAMES: frozenset[str] | None = None


# Files of the system's zone folder that are not zone names.
_NOT_ZONES = {"localtime", "posixrules", "Factory"}


def _iana_names() -> frozenset[str]:
    global _IANA_NAMES
    if _IANA_NAMES is None:
        _IANA_NAMES = frozenset(available_timezones() - _NOT_ZONES)
    return _IANA_NAMES


def time_zone_names() -> list[str]:
    """Every IANA time zone name the server knows, sorted (for a form's suggestions)."""
    return sorted(_iana_names())


STATION_FIELDS = {
    "name": clean_name,
    "session_time_gap_seconds": _clean_optional_gap,
    "time_zone": clean_time_zone,
    "latitude": clean_latitude,
    "longitude": clean_longitude,
}


def _place_errors(data: dict, current: Deployment | None) -> dict:
    """The pair rule on the place the station would have: a coordinate sent alone pairs with the stored other."""
    if "latitude" not in data and "longitude" not in data:
        return {}
    place = [STATION_FIELDS[f](data[f]) if f in data else getattr(current, f, None) for f in ("latitude", "longitude")]
    return pair_errors(*place)


def _clean_station_fields(
    project: Project | None, data: dict, required: tuple[str, ...] = (), current: Deployment | None = None
) -> dict:
    """Validate the station fields present in `data`; every error is collected at once.

    The data source must lie inside a storage source the project may use.
    Latitude and longitude go together: one sent alone pairs with the
    station's stored other (`current`), and the pair must be both or neither.
    """
    errors = {field: [f"A {field.replace('_', ' ')} is required."] for field in required if field not in data}
    try:
        cleaned = clean_fields(data, STATION_FIELDS)
    except ValidationError as error:
        errors.update(error.errors)
        cleaned = {}
    if not {"latitude", "longitude"} & set(errors):
        errors.update(_place_errors(data, current))
    if "data_source" in data:
        try:
            cleaned["data_source"] = check_data_source(project, data["data_source"])
        except DataSourceError as error:
            errors["data_source"] = [str(error)]
    if errors:
        raise ValidationError(errors)
    return cleaned


def check_station_fields(project: Project | None, data: dict, current: Deployment | None = None) -> dict:
    """The station fields of `data`, cleaned, or ValidationError with every field's errors; saves nothing."""
    return _clean_station_fields(project, data, current=current)


def create_deployment(project: Project, data: dict) -> Deployment:
    """Create a station; its data source must lie inside a storage source granted to the project."""
    deployment = Deployment(project=project, **_clean_station_fields(project, data, required=("name", "data_source")))
    db.session.add(deployment)
    db.session.commit()
    return deployment


class StationBeingDeleted(ValueError):
    """A change asked of a station whose delete job is running."""


def update_deployment(deployment: Deployment, data: dict) -> Deployment:
    """Change a station's name, data source, time zone, coordinates or own gap (`None` = use the project's gap).

    Refused with StationBeingDeleted while the station is being deleted.
    """
    if deployment.deleting:
        raise StationBeingDeleted(f"Station “{deployment.name}” is being deleted; it can no longer be changed.")
    for field, value in _clean_station_fields(deployment.project, data, current=deployment).items():
        setattr(deployment, field, value)
    db.session.commit()
    return deployment


class Unplaced(NamedTuple):
    """A project's stations without coordinates: how many, and the first few by name."""

    count: int
    first: list[Deployment]


def stations_without_coordinates(project: Project, limit: int = 5) -> Unplaced:
    """The project's stations (not being deleted) whose exports carry the 0/0 placeholder."""
    where = (
        Deployment.project_id == project.id,
        Deployment.deleting.is_(False),
        db.or_(Deployment.latitude.is_(None), Deployment.longitude.is_(None)),
    )
    count = db.session.scalar(db.select(db.func.count()).select_from(Deployment).where(*where))
    first = db.session.scalars(
        db.select(Deployment).where(*where).order_by(Deployment.search_name, Deployment.id).limit(limit)
    ).all() if count else []
    return Unplaced(count, list(first))
