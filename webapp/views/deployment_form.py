"""The station form (add and edit): typed values in, field errors out, and its data-source folder picker."""
from flask import render_template, request
from flask_login import current_user

from ..filters import degrees, hours
from ..models import Deployment, Project
from ..permissions import can, role_of
from ..projects import degrees_from_text, delete_stalled, time_zone_names
from ..sessions import clean_gap_hours
from ..sources import DataSourceError, browse, display_path, source_form, sources_of

FIELDS = ("name", "data_source", "session_gap_hours", "time_zone")
PLACE_FIELDS = ("latitude", "longitude")


def folder_listing(project: Project, value: str | None):
    """The picker's folders: the storage sources granted to the project, or the subfolders of `value`."""
    local, remote = sources_of(project)
    return browse(local, value, remote)


def posted_values(current: dict) -> tuple[dict, bool]:
    """The form's typed values, and whether the coordinates were posted at all.

    A post without both coordinate fields (a script written before they
    existed) leaves the station's place as it is (`current`).
    """
    values = {field: request.form.get(field, "") for field in FIELDS}
    place_posted = any(field in request.form for field in PLACE_FIELDS)
    for field in PLACE_FIELDS:
        values[field] = request.form.get(field, "") if place_posted else current[field]
    return values, place_posted


def form_data(values: dict, place_posted: bool = True) -> tuple[dict, dict]:
    """The service's data from the typed values, and the errors of the fields typed as text (hours, degrees)."""
    data = {"name": values["name"], "data_source": values["data_source"], "time_zone": values["time_zone"]}
    errors = {}
    typed_gap = values["session_gap_hours"]
    try:
        # Empty: the station follows the project's gap.
        data["session_time_gap_seconds"] = clean_gap_hours(typed_gap) if typed_gap.strip() else None
    except ValueError as error:
        errors["session_gap_hours"] = [str(error)]
    if place_posted:
        for field in PLACE_FIELDS:
            try:
                # Empty: no coordinate (the service checks the range and that both or neither are given).
                data[field] = degrees_from_text(field, values[field])
            except ValueError as error:
                errors[field] = [str(error)]
    return data, errors


def merge_errors(errors: dict, service_errors: dict) -> None:
    """Add the service's field errors; a field's own typing error (not a number) stays the one shown."""
    for field, messages in service_errors.items():
        errors.setdefault(field, messages)


def form_page(template: str, project: Project, values: dict, errors: dict, status: int = 200, opened=None, **context):
    return (
        render_template(
            template,
            project=project,
            values=values,
            errors=errors,
            time_zones=time_zone_names(),
            # A station outside any project (superusers only) has no storage sources to browse.
            picker=_opened_listing(project, opened) if project is not None else None,
            role=role_of(current_user, project),
            **context,
        ),
        status,
    )


def _opened_listing(project: Project, folder: str | None):
    """The picker opened at `folder` (a station's current source) where it can be, else at the base folders."""
    if folder:
        try:
            return folder_listing(project, folder)
        except DataSourceError:
            pass
    return folder_listing(project, None)


def data_source_value(deployment: Deployment) -> str:
    """The station's data source as the form shows it: `<source name>:<path inside it>`.

    A path inside no source of the project (its grant was revoked) is shown
    whole to superusers only; others see its last part, which saving refuses
    as it would refuse the path itself.
    """
    shown = source_form(deployment.project, deployment.data_source)
    if shown is not None:
        return shown
    return deployment.data_source if current_user.is_superuser else display_path(deployment.project, deployment.data_source)


def edit_values(deployment: Deployment) -> dict:
    own_gap = deployment.session_time_gap_seconds
    return {
        "name": deployment.name,
        "data_source": data_source_value(deployment),
        "session_gap_hours": "" if own_gap is None else hours(own_gap),
        "time_zone": deployment.time_zone,
        "latitude": degrees(deployment.latitude),
        "longitude": degrees(deployment.longitude),
    }


def edit_page(deployment: Deployment, values: dict, errors: dict, status: int = 200, confirm: str = "", confirm_errors=()):
    return form_page(
        "deployments/edit.html",
        deployment.project,
        values,
        errors,
        status,
        opened=deployment.data_source,
        deployment=deployment,
        can_delete=can("delete_deployment", deployment.project),
        delete_stalled=delete_stalled(deployment),
        confirm=confirm,
        confirm_errors=list(confirm_errors),
    )
