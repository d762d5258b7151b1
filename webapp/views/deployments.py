"""Stations (Deployment in code): one station's page and its fragments, adding, editing and deleting one,
the folder picker of its data source, and the buttons that start its jobs."""
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import thumbnails
from ..charts import gap_histogram, session_timeline
from ..extensions import db
from ..filters import hours
from ..jobs import ACTIONS, JobError, recent_jobs, start_job, unfinished
from ..models import Deployment, Project
from ..paging import clean_page
from ..permissions import can, require, role_of, start_job_permission
from ..projects import (
    StationBeingDeleted,
    check_station_fields,
    create_deployment,
    delete_stalled,
    request_deletion,
    update_deployment,
)
from ..sessions import (
    CLOCK_KINDS,
    captures_page,
    clean_gap_hours,
    clean_keying,
    example_captures,
    preview_regroup,
    regroup_history,
    sessions_page,
    station_schedule_fit,
)
from ..sources import DataSourceError, display_path
from ..validation import ValidationError
from .deployment_form import edit_page, edit_values, folder_listing, form_data, form_page, merge_errors, posted_values
from .jobs import status_context, status_response
from .lookup import get_visible

bp = Blueprint("deployments", __name__)


def _summary_context(deployment: Deployment) -> dict:
    return {
        "deployment": deployment,
        "project": deployment.project,
        "rule": deployment.grouping_rule,
        "data_source_shown": display_path(deployment.project, deployment.data_source),
    }


def _sessions_context(deployment: Deployment, page) -> dict:
    """A page of the station's sessions with their example captures' `small` thumbnails (one query)."""
    sessions = sessions_page(deployment, page)
    sizes = thumbnails.configured_sizes()
    label = "small" if "small" in sizes else next(iter(sizes), None)
    examples = example_captures(sessions.items, label) if label else {}
    return {"sessions": sessions, "examples": examples, "example_label": label, "example_width": sizes.get(label)}


def _detail_page(deployment: Deployment, gap_value: str | None = None, gap_errors: list[str] = (), status: int = 200):
    project = deployment.project
    jobs = recent_jobs(deployment)
    history, history_total = regroup_history(deployment)
    if gap_value is None:
        own_gap = deployment.session_time_gap_seconds
        gap_value = "" if own_gap is None else hours(own_gap)
    return (
        render_template(
            "deployments/detail.html",
            captures=captures_page(
                deployment, page=clean_page(request.args.get("captures_page")), clamp=True
            ),
            jobs=jobs,
            live_jobs=[status_context(job) for job in unfinished(jobs)],
            can_regroup=project is not None and can("regroup_sessions_deployment", project),
            can_sync=project is not None and can("sync_deployment", project),
            can_edit=can("update_deployment", project),
            can_edit_project=project is not None and can("update_project", project),
            clock_kinds=CLOCK_KINDS,
            can_delete=can("delete_deployment", project),
            delete_stalled=delete_stalled(deployment),
            never_synced=not deployment.captures_count and not any(j.job_type_key == "data_storage_sync" for j in jobs),
            gap_value=gap_value,
            gap_errors=list(gap_errors),
            role=role_of(current_user, project),
            hist=gap_histogram(deployment, deployment.grouping_rule.gap_seconds),
            fit=station_schedule_fit(deployment),
            history=history,
            history_total=history_total,
            **_sessions_context(deployment, request.args.get("page", 1)),
            **_summary_context(deployment),
        ),
        status,
    )


@bp.route("/deployments/<int:deployment_id>/")
@login_required
def detail(deployment_id: int):
    return _detail_page(get_visible(Deployment, deployment_id))


@bp.route("/deployments/<int:deployment_id>/settings", methods=["POST"])
@login_required
def settings(deployment_id: int):
    deployment = get_visible(Deployment, deployment_id)
    require("update_deployment", deployment.project)
    typed = request.form.get("session_gap_hours", "")
    try:
        # An empty field removes the station's own gap, so the project's applies again.
        gap_seconds = clean_gap_hours(typed) if typed.strip() else None
        update_deployment(deployment, {"session_time_gap_seconds": gap_seconds})
    except ValidationError as error:
        db.session.rollback()
        messages = [message for field_errors in error.errors.values() for message in field_errors]
        return _detail_page(deployment, typed, messages, 400)
    except ValueError as error:
        return _detail_page(deployment, typed, [str(error)], 400)
    if gap_seconds is None:
        flash("Station now uses the project's gap.", "success")
    else:
        flash(f"Station gap set to {hours(gap_seconds)} h.", "success")
    return redirect(url_for(".detail", deployment_id=deployment.id), code=303)


@bp.route("/deployments/<int:deployment_id>/preview")
@login_required
def preview(deployment_id: int):
    """What a regroup with the typed gap would do (an htmx fragment, with the histogram swapped out of band)."""
    deployment = get_visible(Deployment, deployment_id)
    typed = request.args.get("session_gap_hours", "").strip()
    keying = request.args.get("keying") or None
    try:
        gap_seconds = clean_gap_hours(typed) if typed else None
        keying = clean_keying(keying) if keying else None
    except ValueError as error:
        return render_template("deployments/_preview.html", error=str(error)), 400
    result = preview_regroup(deployment, gap_seconds=gap_seconds, keying=keying)
    return render_template(
        "deployments/_preview.html",
        # The Health panel asks for its own box (a second #preview would clash with the gap form's).
        preview_id="health-preview" if request.args.get("panel") == "health" else "preview",
        deployment=deployment,
        preview=result,
        fit=station_schedule_fit(deployment, result["gap_seconds"]),
        hist=gap_histogram(deployment, deployment.grouping_rule.gap_seconds, result["gap_seconds"]),
    )


@bp.route("/deployments/<int:deployment_id>/timeline")
@login_required
def timeline(deployment_id: int):
    deployment = get_visible(Deployment, deployment_id)
    month = _month_arg(request.args.get("month", ""))
    return render_template(
        "deployments/timeline.html",
        deployment=deployment,
        project=deployment.project,
        timeline=session_timeline(deployment, month),
        role=role_of(current_user, deployment.project),
    )


def _month_arg(text: str) -> date | None:
    """`YYYY-MM` → the month's first day; anything else → None (the station's last month)."""
    try:
        year, month = text.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        return None


@bp.route("/deployments/<int:deployment_id>/summary")
@login_required
def summary(deployment_id: int):
    return render_template("deployments/_summary.html", **_summary_context(get_visible(Deployment, deployment_id)))


@bp.route("/deployments/<int:deployment_id>/jobs")
@login_required
def jobs(deployment_id: int):
    deployment = get_visible(Deployment, deployment_id)
    return render_template("deployments/_jobs.html", deployment=deployment, jobs=recent_jobs(deployment))


@bp.route("/deployments/<int:deployment_id>/sessions")
@login_required
def sessions(deployment_id: int):
    deployment = get_visible(Deployment, deployment_id)
    return render_template(
        "deployments/_sessions.html",
        deployment=deployment,
        **_sessions_context(deployment, request.args.get("page", 1)),
    )


def _start(deployment_id: int, action: str, options: dict | None = None):
    deployment = get_visible(Deployment, deployment_id)
    job_type_key = ACTIONS[action]
    require(start_job_permission(job_type_key), deployment.project)
    try:
        job = start_job(job_type_key, deployment, current_user, options=options)
    except JobError as error:
        if request.headers.get("HX-Request"):
            return render_template("jobs/_error.html", message=str(error)), 400
        flash(str(error), "error")
        return redirect(url_for(".detail", deployment_id=deployment.id), code=303)
    if request.headers.get("HX-Request"):
        return status_response(job, polled=False)
    flash(f"Queued job {job.id}: {job.name} of “{deployment.name}”.", "success")
    return redirect(url_for("jobs.detail", job_id=job.id), code=303)


@bp.route("/deployments/<int:deployment_id>/regroup", methods=["POST"])
@login_required
def regroup(deployment_id: int):
    return _start(deployment_id, "regroup")


@bp.route("/deployments/<int:deployment_id>/sync", methods=["POST"])
@login_required
def sync(deployment_id: int):
    """A full sync, or with `since=last` ("Sync new nights") a quick one of what follows the newest night."""
    since = request.form.get("since") or None
    if since not in (None, "last"):
        abort(400, "“since” may only be “last”.")
    return _start(deployment_id, "sync", {"since": since} if since else None)


@bp.route("/projects/<int:project_id>/stations/new", methods=["GET", "POST"])
@login_required
def new(project_id: int):
    project = get_visible(Project, project_id, "create_deployment")
    if request.method == "GET":
        values = {"name": "", "data_source": "", "session_gap_hours": "", "time_zone": "UTC", "latitude": "", "longitude": ""}
        return form_page("deployments/new.html", project, values, {})
    values, place_posted = posted_values({"latitude": "", "longitude": ""})
    data, errors = form_data(values, place_posted)
    try:
        if errors:
            # The hours or degrees are wrong: nothing is created, but the other fields are checked too.
            check_station_fields(project, data)
        else:
            deployment = create_deployment(project, data)
    except ValidationError as error:
        db.session.rollback()
        merge_errors(errors, error.errors)
    if errors:
        if "session_time_gap_seconds" in errors:
            errors["session_gap_hours"] = errors.pop("session_time_gap_seconds")
        return form_page("deployments/new.html", project, values, errors, 400)
    flash(f"Station “{deployment.name}” added. Sync its captures now to bring in its files.", "success")
    return redirect(url_for(".detail", deployment_id=deployment.id), code=303)


@bp.route("/deployments/<int:deployment_id>/edit", methods=["GET", "POST"])
@login_required
def edit(deployment_id: int):
    deployment = get_visible(Deployment, deployment_id, "update_deployment")
    if request.method == "GET":
        return edit_page(deployment, edit_values(deployment), {})
    values, place_posted = posted_values(edit_values(deployment))
    data, errors = form_data(values, place_posted)
    old_source = deployment.data_source
    try:
        if errors:
            check_station_fields(deployment.project, data, current=deployment)
        else:
            update_deployment(deployment, data)
    except ValidationError as error:
        db.session.rollback()
        merge_errors(errors, error.errors)
    except StationBeingDeleted as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for(".detail", deployment_id=deployment.id), code=303)
    if errors:
        if "session_time_gap_seconds" in errors:
            errors["session_gap_hours"] = errors.pop("session_time_gap_seconds")
        db.session.refresh(deployment)
        return edit_page(deployment, values, errors, 400)
    message = f"Station “{deployment.name}” saved."
    if deployment.data_source != old_source:
        message += (
            " Its data source changed: existing captures are kept, and files missing from the new source "
            "are counted in the next sync's “Files missing from source”."
        )
    flash(message, "success")
    return redirect(url_for(".detail", deployment_id=deployment.id), code=303)


@bp.route("/deployments/<int:deployment_id>/delete", methods=["POST"])
@login_required
def delete(deployment_id: int):
    deployment = get_visible(Deployment, deployment_id, "delete_deployment")
    typed = request.form.get("confirm_name", "")
    try:
        job = request_deletion(deployment, current_user, typed)
    except ValidationError as error:
        db.session.rollback()
        return edit_page(deployment, edit_values(deployment), {}, 400, typed, error.errors.get("confirm_name", []))
    except JobError as error:
        flash(str(error), "error")
        return redirect(url_for(".detail", deployment_id=deployment.id), code=303)
    flash(f"Station “{job.deployment_name}” is being deleted by job {job.id}; its data goes in batches.", "success")
    target = url_for("projects.detail", project_id=job.project_id) if job.project_id else url_for("projects.index")
    return redirect(target, code=303)


@bp.route("/projects/<int:project_id>/stations/folders")
@login_required
def browse(project_id: int):
    """The picker fragment: the base folders, or the subfolders of `?path=`."""
    project = get_visible(Project, project_id, "create_deployment")
    try:
        listing = folder_listing(project, request.args.get("path") or None)
    except DataSourceError as error:
        return render_template("deployments/_folders.html", listing=None, error=str(error), project=project), 400
    return render_template("deployments/_folders.html", listing=listing, error=None, project=project)
