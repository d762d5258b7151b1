"""Projects list, a new project, one project's stations (with bulk actions), its settings and its operation calendar."""
from datetime import date

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import jobs
from ..charts import MAX_NIGHTS, RangeError, operation_calendar, operation_matrix
from ..config import DEFAULT_SESSION_GAP_SECONDS
from ..extensions import db
from ..filters import hours
from ..models import SESSION_KEYINGS, Project
from ..paging import clean_page
from ..permissions import can, require, role_of, start_job_permission, visible_projects
from ..projects import (
    PROJECT_FIELDS,
    STATION_STATES,
    StationFilters,
    create_project,
    stations_needing_regroup,
    stations_page,
    stations_without_coordinates,
    update_project,
)
from ..sessions import (
    ACTIVE_AT,
    KEYING_HELP,
    THRESHOLD_FIELDS,
    HealthRules,
    clean_gap_hours,
    clean_rules,
    preview_project,
    problems_by_station,
    stations_with_problems,
)
from ..validation import ValidationError, clean_fields
from .lookup import get_visible

bp = Blueprint("projects", __name__, url_prefix="/projects")


@bp.route("/")
@login_required
def index():
    projects = db.session.scalars(visible_projects(current_user)).all()
    return render_template("projects/index.html", projects=projects)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Any signed-in user creates a project and becomes its ProjectManager."""
    if request.method == "GET":
        values = {"name": "", "session_gap_hours": hours(DEFAULT_SESSION_GAP_SECONDS), "session_keying": "date"}
        return _new_page(values, {})
    values = {field: request.form.get(field, "") for field in ("name", "session_gap_hours", "session_keying")}
    errors = {}
    data = {"name": values["name"], "session_keying": values["session_keying"]}
    try:
        data["session_time_gap_seconds"] = clean_gap_hours(values["session_gap_hours"])
    except ValueError as error:
        errors["session_gap_hours"] = [str(error)]
    try:
        if errors:
            # The gap is wrong: nothing is created, but the other fields' errors are shown too.
            clean_fields(data, PROJECT_FIELDS)
        else:
            project = create_project(current_user, data)
    except ValidationError as error:
        db.session.rollback()
        errors.update(error.errors)
    if errors:
        if "session_time_gap_seconds" in errors:
            errors["session_gap_hours"] = errors.pop("session_time_gap_seconds")
        return _new_page(values, errors, 400)
    flash(f"Project “{project.name}” created; you are its ProjectManager. Add its first station.", "success")
    return redirect(url_for(".detail", project_id=project.id), code=303)


def _new_page(values: dict, errors: dict, status: int = 200):
    return (
        render_template("projects/new.html", values=values, errors=errors, keyings=SESSION_KEYINGS, keying_help=KEYING_HELP),
        status,
    )


def _stations_context(project: Project, args) -> dict:
    filters = StationFilters.from_args(args)
    return {
        "project": project,
        "filters": filters,
        "states": STATION_STATES,
        "can_add_station": can("create_deployment", project),
        "can_export": can("export_project_data", project),
        "page": stations_page(project, filters, args.get("page", 1)),
        "busy": jobs.project_busy(project),
        "bulk_actions": [
            action for action, key in jobs.ACTIONS.items() if can(start_job_permission(key), project)
        ],
    }


@bp.route("/<int:project_id>/")
@login_required
def detail(project_id: int):
    project = get_visible(Project, project_id)
    return render_template(
        "projects/detail.html",
        can_edit=can("update_project", project),
        can_edit_stations=can("update_deployment", project),
        unplaced=stations_without_coordinates(project),
        with_problems=stations_with_problems(project.id),
        role=role_of(current_user, project),
        **_stations_context(project, request.args),
    )


@bp.route("/<int:project_id>/stations")
@login_required
def stations(project_id: int):
    """The stations list alone, for the filter box; the address bar shows the full page's URL with the same filters."""
    context = _stations_context(get_visible(Project, project_id), request.args)
    response = make_response(render_template("projects/_stations.html", **context))
    response.headers["HX-Replace-Url"] = url_for(
        ".detail", project_id=project_id, **context["filters"].as_args(page=context["page"].page if context["page"].page > 1 else None)
    )
    return response


@bp.route("/<int:project_id>/stations/jobs", methods=["POST"])
@login_required
def bulk_jobs(project_id: int):
    project = get_visible(Project, project_id)
    action = request.form.get("action")
    if action not in jobs.ACTIONS:
        abort(400, "Choose an action: regroup or sync.")
    require(start_job_permission(jobs.ACTIONS[action]), project)
    filters = StationFilters.from_args(request.form)
    back = url_for(".detail", project_id=project.id, **filters.as_args(page=clean_page(request.form.get("page"))))
    selected = request.form.getlist("deployment_ids")
    if not selected:
        flash("Select at least one station first.", "warning")
        return redirect(back, code=303)
    result = jobs.start_jobs(jobs.ACTIONS[action], project, selected, current_user)
    flash(result.summary(), _category(result))
    return redirect(back, code=303)


def _category(result: jobs.BulkResult) -> str:
    return "success" if result.jobs and not result.queue_down else "warning"


def _settings_page(project: Project, values: dict, errors: dict, status: int = 200,
                   health_values: dict | None = None, health_errors: dict | None = None):
    return (
        render_template(
            "projects/settings.html",
            project=project,
            values=values,
            errors=errors,
            health_values=health_values or HealthRules.of(project.health_settings).as_dict(),
            health_errors=health_errors or {},
            threshold_fields=THRESHOLD_FIELDS,
            active_at_choices=ACTIVE_AT,
            keyings=SESSION_KEYINGS,
            keying_help=KEYING_HELP,
            can_edit=can("update_project", project),
            can_regroup=can("regroup_sessions_deployment", project),
            stale=stations_needing_regroup(project),
            busy=jobs.project_busy(project),
            role=role_of(current_user, project),
        ),
        status,
    )


@bp.route("/<int:project_id>/settings", methods=["GET", "POST"])
@login_required
def settings(project_id: int):
    project = get_visible(Project, project_id)
    if request.method == "GET":
        values = {
            "session_gap_hours": hours(project.session_time_gap_seconds),
            "session_keying": project.session_keying,
        }
        return _settings_page(project, values, {})
    require("update_project", project)
    values = {
        "session_gap_hours": request.form.get("session_gap_hours", ""),
        "session_keying": request.form.get("session_keying", ""),
    }
    errors = {}
    data = {"session_keying": values["session_keying"]}
    try:
        data["session_time_gap_seconds"] = clean_gap_hours(values["session_gap_hours"])
    except ValueError as error:
        errors["session_gap_hours"] = [str(error)]
    if not errors:
        try:
            update_project(project, data)
        except ValidationError as error:
            errors.update(error.errors)
    if errors:
        if "session_time_gap_seconds" in errors:
            errors["session_gap_hours"] = errors.pop("session_time_gap_seconds")
        db.session.rollback()
        return _settings_page(project, values, errors, 400)
    flash(
        f"Settings saved: session gap {hours(project.session_time_gap_seconds)} h, "
        f"keying “{project.session_keying}”. Stations change when they are regrouped.",
        "success",
    )
    return redirect(url_for(".settings", project_id=project.id), code=303)


@bp.route("/<int:project_id>/settings/health", methods=["POST"])
@login_required
def health_settings(project_id: int):
    """The thresholds of the station health checks; they apply at each station's next regroup."""
    project = get_visible(Project, project_id)
    require("update_project", project)
    values = {name: request.form.get(name, "") for name in (*THRESHOLD_FIELDS, "active_at")}
    rules, errors = clean_rules(values)
    if errors:
        current = {"session_gap_hours": hours(project.session_time_gap_seconds), "session_keying": project.session_keying}
        return _settings_page(project, current, {}, 400, health_values=values, health_errors=errors)
    project.health_settings = rules.as_dict()
    db.session.commit()
    flash("Health thresholds saved; each station is checked with them at its next regroup.", "success")
    return redirect(url_for(".settings", project_id=project.id), code=303)


@bp.route("/<int:project_id>/preview")
@login_required
def preview(project_id: int):
    """What regrouping every station with the typed settings would do (an htmx fragment)."""
    project = get_visible(Project, project_id)
    typed = request.args.get("session_gap_hours", "").strip()
    keying = request.args.get("session_keying") or project.session_keying
    try:
        gap_seconds = clean_gap_hours(typed) if typed else project.session_time_gap_seconds
        if keying not in SESSION_KEYINGS:
            raise ValueError(f"Choose a keying: {', '.join(SESSION_KEYINGS)}.")
    except ValueError as error:
        return render_template("projects/_preview.html", error=str(error)), 400
    rows, more = preview_project(project, gap_seconds, keying)
    return render_template("projects/_preview.html", rows=rows, more=more, gap_seconds=gap_seconds, keying=keying)


@bp.route("/<int:project_id>/regroup-all", methods=["POST"])
@login_required
def regroup_all(project_id: int):
    project = get_visible(Project, project_id)
    require("regroup_sessions_deployment", project)
    stale = stations_needing_regroup(project)
    if not stale:
        flash("Every station is already grouped with the current settings.", "info")
    else:
        result = jobs.start_jobs_for("regroup_events", stale, current_user)
        flash(result.summary(), _category(result))
    return redirect(url_for(".settings", project_id=project.id), code=303)


def _night_arg(name: str, errors: dict) -> date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = ["Must be a date, YYYY-MM-DD."]
        return None


@bp.route("/<int:project_id>/operation")
@login_required
def operation(project_id: int):
    """The operation calendar: stations × nights, captures per night, outages marked (?start=&end=)."""
    project = get_visible(Project, project_id)
    errors: dict[str, list[str]] = {}
    start, end = _night_arg("start", errors), _night_arg("end", errors)
    matrix, status = None, 200
    if not errors:
        try:
            matrix = operation_matrix(project, start, end)
        except RangeError as error:
            errors["end"] = [str(error)]
    if errors:
        status = 400
        matrix = operation_matrix(project)
    return render_template(
        "projects/operation.html", project=project, errors=errors,
        calendar=operation_calendar(matrix, problems=problems_by_station(project.id)),
        start=request.args.get("start", ""), end=request.args.get("end", ""), max_nights=MAX_NIGHTS,
        can_export=can("export_project_data", project), role=role_of(current_user, project),
    ), status
