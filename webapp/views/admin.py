"""Site administration for superusers: storage sources and which projects may use them."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from .. import sources
from ..extensions import db
from ..models import MAX_DB_ID, Project, StorageSource
from ..numbers import parse_whole
from ..permissions import require_superuser
from ..validation import ValidationError
from .lookup import get_or_404

bp = Blueprint("admin", __name__, url_prefix="/admin")

SOURCE_FIELDS = ("name", "location", "endpoint_url", "access_key")


def _storage_page(values: dict | None = None, errors: dict | None = None, status: int = 200):
    projects = db.session.scalars(db.select(Project).order_by(Project.name, Project.id)).all()
    return (
        render_template(
            "admin/storage.html",
            sources=sources.all_sources(),
            grants=sources.grants_by_source(),
            projects=projects,
            project_names={p.id: p.name for p in projects},
            values=values or {},
            errors=errors or {},
        ),
        status,
    )


@bp.route("/storage", methods=["GET", "POST"])
@login_required
def storage_sources():
    require_superuser()
    if request.method == "GET":
        return _storage_page()
    form = request.form
    data = {field: form.get(field, "") for field in (*SOURCE_FIELDS, "secret_key")}
    data["open_to_all_projects"] = form.get("open_to_all_projects") == "on"
    try:
        source = sources.register_source(data)
    except ValidationError as error:
        db.session.rollback()
        # Typed keys are never sent back to the browser.
        values = {field: data[field] for field in ("name", "location", "endpoint_url")}
        values["open_to_all_projects"] = data["open_to_all_projects"]
        return _storage_page(values, error.errors, 400)
    flash(f"Storage source “{source.name}” registered.", "success")
    return redirect(url_for(".storage_sources"), code=303)


def _project_from_form() -> Project | None:
    project_id = parse_whole(request.form.get("project_id"), 1, MAX_DB_ID)
    return db.session.get(Project, project_id) if project_id is not None else None


@bp.route("/storage/<int:source_id>/grants", methods=["POST"])
@login_required
def storage_grant(source_id: int):
    require_superuser()
    source = get_or_404(StorageSource, source_id)
    project = _project_from_form()
    if project is None:
        flash("Choose a project to grant the source to.", "error")
    elif request.form.get("action") == "revoke":
        sources.revoke(source, project)
        flash(f"“{project.name}” may no longer use “{source.name}”; its stations there fail their next sync.", "success")
    else:
        sources.grant(source, project)
        flash(f"“{project.name}” may now use “{source.name}”.", "success")
    return redirect(url_for(".storage_sources"), code=303)


@bp.route("/storage/<int:source_id>/open", methods=["POST"])
@login_required
def storage_open(source_id: int):
    require_superuser()
    source = get_or_404(StorageSource, source_id)
    sources.set_open_to_all(source, request.form.get("open_to_all_projects") == "on")
    state = "open to every project" if source.open_to_all_projects else "only for the projects granted it"
    flash(f"“{source.name}” is now {state}.", "success")
    return redirect(url_for(".storage_sources"), code=303)
