"""Stations (deployments): creating them and their own session gap."""
from ..extensions import db
from ..models import Deployment, Project
from .captures import DataSourceError, validate_data_source
from .projects import ValidationError, clean_fields, clean_gap_seconds, clean_name

MAX_DATA_SOURCE_LENGTH = Deployment.data_source.type.length


def _clean_optional_gap(value):
    return None if value is None else clean_gap_seconds(value)


def _clean_station_fields(data: dict, roots: list[str], required: tuple[str, ...] = ()) -> dict:
    """Validate the station fields present in `data`; every error is collected at once."""
    errors = {field: [f"A {field.replace('_', ' ')} is required."] for field in required if field not in data}
    try:
        cleaned = clean_fields(data, {"name": clean_name, "session_time_gap_seconds": _clean_optional_gap})
    except ValidationError as error:
        errors.update(error.errors)
        cleaned = {}
    if "data_source" in data:
        try:
            if not isinstance(data["data_source"], str):
                raise DataSourceError("Must be a folder path or an s3:// URL.")
            if len(data["data_source"]) > MAX_DATA_SOURCE_LENGTH:
                raise DataSourceError(f"At most {MAX_DATA_SOURCE_LENGTH} characters.")
            cleaned["data_source"] = validate_data_source(data["data_source"], roots)
        except DataSourceError as error:
            errors["data_source"] = [str(error)]
    if errors:
        raise ValidationError(errors)
    return cleaned


def create_deployment(project: Project, data: dict, roots: list[str]) -> Deployment:
    """Create a station; its data source must be an allowed local folder or an s3:// URL."""
    deployment = Deployment(project=project, **_clean_station_fields(data, roots, required=("name", "data_source")))
    db.session.add(deployment)
    db.session.commit()
    return deployment


def update_deployment(deployment: Deployment, data: dict, roots: list[str]) -> Deployment:
    """Change a station's name, data source or own gap (`None` = use the project's gap)."""
    for field, value in _clean_station_fields(data, roots).items():
        setattr(deployment, field, value)
    db.session.commit()
    return deployment
