"""Adding, editing and deleting a station, and the folder picker of its data source."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..extensions import db
from ..filters import degrees, hours
from ..models import Deployment, Project
from ..permissions import can, role_of
from ..services import folders
from ..services.captures import DataSourceError
from ..services.coordinates import degrees_from_text
from ..services.deployments import (
    StationBeingDeleted,
    check_station_fields,
    create_deployment,
    time_zone_names,
    update_deployment,
)
from ..services.jobs import JobError
from ..services.projects import ValidationError, clean_gap_hours
from ..services.station_delete import delete_stalled, request_deletion
from .lookup import get_visible

bp = Blueprint("stations", __name__)

FIELDS = ("name", "data_source", "session_gap_hours", "time_zone")
PLACE_FIELDS = ("latitude", "longitude")


def _listing(project: Project, value: str | None):
    local, remote = folders.sources_of(project)
    return folders.browse(local, value, remote)


def _posted_values(current: dict) -> tuple[dict, bool]:
    """The form's typed values, and whether the coordinates were posted at all.

    A post without both coordinate fields (a script written before they
    existed) leaves the station's place as it is (`current`).
    """
    values = {field: request.form.get(field, "") for field in FIELDS}
    place_posted = any(field in request.form for field in PLACE_FIELDS)
    for field in PLACE_FIELDS:
        values[field] = request.form.get(field, "") if place_posted else current[field]
    return values, place_posted


def _form_data(values: dict, place_posted: bool = True) -> tuple[dict, dict]:
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


def _merge(errors: dict, service_errors: dict) -> None:
    """Add the service's field errors; a field's own typing error (not a number) stays the one shown."""
    for field, messages in service_errors.items():
        errors.setdefault(field, messages)


def _form_page(template: str, project: Project, values: dict, errors: dict, status: int = 200, opened=None, **context):
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
            return _listing(project, folder)
        except DataSourceError:
            pass
    return _listing(project, None)


@bp.route("/projects/<int:project_id>/stations/new", methods=["GET", "POST"])
@login_required
def new(project_id: int):
    project = get_visible(Project, project_id, "create_deployment")
    if request.method == "GET":
        values = {"name": "", "data_source": "", "session_gap_hours": "", "time_zone": "UTC", "latitude": "", "longitude": ""}
        return _form_page("stations/new.html", project, values, {})
    values, place_posted = _posted_values({"latitude": "", "longitude": ""})
    data, errors = _form_data(values, place_posted)
    try:
        if errors:
            # The hours or degrees are wrong: nothing is created, but the other fields are checked too.
            check_station_fields(project, data)
        else:
            deployment = create_deployment(project, data)
    except ValidationError as error:
        db.session.rollback()
        _merge(errors, error.errors)
    if errors:
        if "session_time_gap_seconds" in errors:
            errors["session_gap_hours"] = errors.pop("session_time_gap_seconds")
        return _form_page("stations/new.html", project, values, errors, 400)
    flash(f"Station “{deployment.name}” added. Sync its captures now to bring in its files.", "success")
    return redirect(url_for("deployments.detail", deployment_id=deployment.id), code=303)


def _edit_values(deployment: Deployment) -> dict:
    own_gap = deployment.session_time_gap_seconds
    return {
        "name": deployment.name,
        "data_source": deployment.data_source,
        "session_gap_hours": "" if own_gap is None else hours(own_gap),
        "time_zone": deployment.time_zone,
        "latitude": degrees(deployment.latitude),
        "longitude": degrees(deployment.longitude),
    }


def _edit_page(deployment: Deployment, values: dict, errors: dict, status: int = 200, confirm: str = "", confirm_errors=()):
    return _form_page(
        "stations/edit.html",
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


@bp.route("/deployments/<int:deployment_id>/edit", methods=["GET", "POST"])
@login_required
def edit(deployment_id: int):
    deployment = get_visible(Deployment, deployment_id, "update_deployment")
    if request.method == "GET":
        return _edit_page(deployment, _edit_values(deployment), {})
    values, place_posted = _posted_values(_edit_values(deployment))
    data, errors = _form_data(values, place_posted)
    old_source = deployment.data_source
    try:
        if errors:
            check_station_fields(deployment.project, data, current=deployment)
        else:
            update_deployment(deployment, data)
    except ValidationError as error:
        db.session.rollback()
        _merge(errors, error.errors)
    except StationBeingDeleted as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("deployments.detail", deployment_id=deployment.id), code=303)
    if errors:
        if "session_time_gap_seconds" in errors:
            errors["session_gap_hours"] = errors.pop("session_time_gap_seconds")
        db.session.refresh(deployment)
        return _edit_page(deployment, values, errors, 400)
    message = f"Station “{deployment.name}” saved."
    if deployment.data_source != old_source:
        message += (
            " Its data source changed: existing captures are kept, and files missing from the new source "
            "are counted in the next sync's “Files missing from source”."
        )
    flash(message, "success")
    return redirect(url_for("deployments.detail", deployment_id=deployment.id), code=303)


@bp.route("/deployments/<int:deployment_id>/delete", methods=["POST"])
@login_required
def delete(deployment_id: int):
    deployment = get_visible(Deployment, deployment_id, "delete_deployment")
    typed = request.form.get("confirm_name", "")
    try:
        job = request_deletion(deployment, current_user, typed)
    except ValidationError as error:
        db.session.rollback()
        return _edit_page(deployment, _edit_values(deployment), {}, 400, typed, error.errors.get("confirm_name", []))
    except JobError as error:
        flash(str(error), "error")
        return redirect(url_for("deployments.detail", deployment_id=deployment.id), code=303)
    flash(f"Station “{job.deployment_name}” is being deleted by job {job.id}; its data goes in batches.", "success")
    target = url_for("projects.detail", project_id=job.project_id) if job.project_id else url_for("projects.index")
    return redirect(target, code=303)


@bp.route("/projects/<int:project_id>/stations/folders")
@login_required
def browse(project_id: int):
    """The picker fragment: the base folders, or the subfolders of `?path=`."""
    project = get_visible(Project, project_id, "create_deployment")
    try:
        listing = _listing(project, request.args.get("path") or None)
    except DataSourceError as error:
        return render_template("stations/_folders.html", listing=None, error=str(error), project=project), 400
    return render_template("stations/_folders.html", listing=listing, error=None, project=project)
