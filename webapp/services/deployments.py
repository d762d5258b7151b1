"""Stations (deployments): creating them and their own session gap."""
from ..extensions import db
from ..models import Deployment, Project
from .captures import DataSourceError
from .projects import ValidationError, clean_fields, clean_gap_seconds, clean_name
from .storage import check_data_source


def _clean_optional_gap(value):
    return None if value is None else clean_gap_seconds(value)


def _clean_station_fields(project: Project | None, data: dict, required: tuple[str, ...] = ()) -> dict:
    """Validate the station fields present in `data`; every error is collected at once.

    The data source must lie inside a storage source the project may use.
    """
    errors = {field: [f"A {field.replace('_', ' ')} is required."] for field in required if field not in data}
    try:
        cleaned = clean_fields(data, {"name": clean_name, "session_time_gap_seconds": _clean_optional_gap})
    except ValidationError as error:
        errors.update(error.errors)
        cleaned = {}
    if "data_source" in data:
        try:
            cleaned["data_source"] = check_data_source(project, data["data_source"])
        except DataSourceError as error:
            errors["data_source"] = [str(error)]
    if errors:
        raise ValidationError(errors)
    return cleaned


def create_deployment(project: Project, data: dict) -> Deployment:
    """Create a station; its data source must lie inside a storage source granted to the project."""
    deployment = Deployment(project=project, **_clean_station_fields(project, data, required=("name", "data_source")))
    db.session.add(deployment)
    db.session.commit()
    return deployment


def update_deployment(deployment: Deployment, data: dict) -> Deployment:
    """Change a station's name, data source or own gap (`None` = use the project's gap)."""
    for field, value in _clean_station_fields(deployment.project, data).items():
        setattr(deployment, field, value)
    db.session.commit()
    return deployment
