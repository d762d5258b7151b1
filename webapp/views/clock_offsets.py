"""A station's clock offsets page: the list, the add form (Project manager) and remove buttons.

The form takes the offset as "add/subtract N years, days, hours, minutes" and
turns it into seconds from the range's start (sessions.offset_seconds_of); an
empty start or end means the station's first or last capture as read from its files.
"""
from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..jobs import JobError, start_job
from ..models import ClockOffset, Deployment
from ..numbers import parse_whole
from ..permissions import can, require, role_of
from ..sessions import add_clock_offset, clock_offsets, first_original_time, offset_seconds_of, remove_clock_offset
from ..validation import ValidationError
from .lookup import get_or_404, get_visible

bp = Blueprint("clock_offsets", __name__)
APPLY_JOB = "apply_clock_offsets"
PARTS = {"years": 100, "days": 36600, "hours": 876000, "minutes": 52560000}


def _page(deployment: Deployment, values: dict | None = None, errors: dict | None = None, status: int = 200):
    return render_template(
        "clock_offsets/index.html", deployment=deployment, project=deployment.project,
        offsets=clock_offsets(deployment), values=values or {"direction": "add"}, errors=errors or {},
        can_edit=can("update_deployment", deployment.project), role=role_of(current_user, deployment.project),
        original_range=first_original_time(deployment),
    ), status


def _time_field(name: str, fallback: datetime | None, errors: dict) -> datetime | None:
    text = request.form.get(name, "").strip()
    if not text:
        if fallback is None:
            errors[name] = ["The station has no captures yet: give a time."]
        return fallback
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        errors[name] = ["Must be a date and time, e.g. 2024-06-01T22:00."]
        return None


def _offset_from_form(deployment: Deployment) -> tuple[dict, dict]:
    """The offset the form describes ({start, end, offset_seconds}) and any field errors."""
    errors: dict[str, list[str]] = {}
    first, last = first_original_time(deployment)
    start, end = _time_field("start", first, errors), _time_field("end", last, errors)
    parts = {}
    for name, maximum in PARTS.items():
        text = request.form.get(name, "").strip() or "0"
        parts[name] = parse_whole(text, 0, maximum)
        if parts[name] is None:
            errors.setdefault("offset", []).append(f"{name.capitalize()}: a whole number from 0 to {maximum:,}.")
    sign = -1 if request.form.get("direction") == "subtract" else 1
    if errors:
        return {}, errors
    try:
        seconds = offset_seconds_of(start, sign=sign, **parts)
    except (ValueError, OverflowError):
        # Only a start far outside the bounds the offset itself is held to can leave the calendar.
        return {}, {"start": ["Must lie between 1900 and 2199."]}
    return {"start": start, "end": end, "offset_seconds": seconds}, errors


def _queue(deployment: Deployment, done: str):
    try:
        job = start_job(APPLY_JOB, deployment, current_user)
        flash(f"{done} Job {job.id} applies the offsets and regroups the station.", "success")
    except JobError as error:
        flash(f"{done} The job that applies it could not start: {error}", "error")


@bp.route("/deployments/<int:deployment_id>/clock-offsets", methods=["GET", "POST"])
@login_required
def index(deployment_id: int):
    deployment = get_visible(Deployment, deployment_id)
    if request.method == "GET":
        return _page(deployment)
    require("update_deployment", deployment.project)
    values = {name: request.form.get(name, "") for name in ("start", "end", "direction", *PARTS)}
    data, errors = _offset_from_form(deployment)
    if not errors:
        try:
            add_clock_offset(deployment, data, current_user)
        except ValidationError as error:
            errors = dict(error.errors)
            if "offset_seconds" in errors:
                errors["offset"] = errors.pop("offset_seconds")
    if errors:
        return _page(deployment, values, errors, 400)
    _queue(deployment, "Clock offset added.")
    return redirect(url_for(".index", deployment_id=deployment.id), code=303)


@bp.route("/deployments/<int:deployment_id>/clock-offsets/<int:offset_id>/remove", methods=["POST"])
@login_required
def remove(deployment_id: int, offset_id: int):
    deployment = get_visible(Deployment, deployment_id)
    require("update_deployment", deployment.project)
    offset = get_or_404(ClockOffset, offset_id)
    if offset.deployment_id != deployment.id:
        return _page(deployment, status=404)[0], 404
    remove_clock_offset(offset)
    _queue(deployment, "Clock offset removed; the captures get their original times back.")
    return redirect(url_for(".index", deployment_id=deployment.id), code=303)
