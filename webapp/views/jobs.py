"""Jobs: the list, one job's page, its live status fragment and cancelling."""
from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..extensions import db
from ..job_types import JOB_TYPES
from ..jobs import JobError, JobFilters, cancel, jobs_page
from ..models import JOB_STATUSES, Job
from ..permissions import can, require, role_of, run_job_permission, visible_projects
from .lookup import get_visible

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

# htmx stops a poll on this status (the fragment also drops its trigger).
STOP_POLLING = 286
LOG_TAIL = 12


def status_context(job: Job) -> dict:
    stdout = (job.logs or {}).get("stdout", [])
    return {
        "job": job,
        "log_tail": stdout[-LOG_TAIL:],
        "warnings": [line for line in stdout if " WARNING " in line],
        "errors": (job.logs or {}).get("stderr", [])[-3:] if job.status == "FAILURE" else [],
        "can_cancel": not job.is_finished and job.project is not None and can(run_job_permission(job.job_type_key), job.project),
    }


def status_response(job: Job, polled: bool = True, seen: str | None = None):
    """The status fragment, and the events the page's other panels listen for (HX-Trigger).

    `job-changed` when the job's status is not the `seen` one the fragment
    last showed (the job page's times and log follow it); a finished job is
    answered without its poll trigger (and, to a poll, with 286) and also
    says `sessions-changed` (the station page's counts, sessions, histogram,
    health and history follow it).
    """
    response = make_response(render_template("jobs/_status.html", **status_context(job)))
    events = []
    if seen is not None and seen != job.status:
        events.append("job-changed")
    if job.is_finished:
        if polled:
            response.status_code = STOP_POLLING
        events.append("sessions-changed")
    if events:
        response.headers["HX-Trigger"] = ", ".join(events)
    return response


@bp.route("/")
@login_required
def index():
    filters = JobFilters.from_args(request.args)
    page = jobs_page(current_user, filters, request.args.get("page", 1))
    return render_template(
        "jobs/index.html",
        page=page,
        filters=filters,
        projects=db.session.scalars(visible_projects(current_user)).all(),
        job_types=JOB_TYPES,
        statuses=JOB_STATUSES,
    )


@bp.route("/<int:job_id>/")
@login_required
def detail(job_id: int):
    job = get_visible(Job, job_id)
    # Tracebacks name server paths and code; members see the error message only.
    traceback = (job.logs or {}).get("traceback") if current_user.is_superuser else None
    return render_template(
        "jobs/detail.html", role=role_of(current_user, job.project), traceback=traceback, **status_context(job)
    )


@bp.route("/<int:job_id>/status")
@login_required
def status(job_id: int):
    return status_response(get_visible(Job, job_id), seen=request.args.get("seen"))


@bp.route("/<int:job_id>/cancel", methods=["POST"])
@login_required
def cancel_job(job_id: int):
    job = get_visible(Job, job_id)
    require(run_job_permission(job.job_type_key), job.project)
    try:
        cancel(job)
    except JobError as error:
        if request.headers.get("HX-Request"):
            return status_response(job, polled=False)
        flash(str(error), "warning")
        return redirect(url_for(".detail", job_id=job.id), code=303)
    if request.headers.get("HX-Request"):
        return status_response(job, polled=False)
    flash(f"Job {job.id} is being cancelled.", "success")
    return redirect(url_for(".detail", job_id=job.id), code=303)
