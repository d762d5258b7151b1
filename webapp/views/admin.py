"""Site administration for superusers: storage sources and which projects may use them, users and invitations."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import accounts, sources
from ..extensions import db
from ..models import MAX_DB_ID, Project, StorageSource, User
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
            data_roots=current_app.config["DATA_SOURCE_ROOTS"],
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


def _users_page(values: dict | None = None, errors: dict | None = None, invitation: dict | None = None,
                status: int = 200):
    return (
        render_template(
            "admin/users.html",
            users=accounts.all_users(),
            pending=accounts.pending_invitations(),
            values=values or {},
            errors=errors or {},
            invitation=invitation,
            min_length=accounts.MIN_PASSWORD_LENGTH,
            lifetime_days=accounts.INVITATION_LIFETIME.days,
        ),
        status,
    )


def invitation_shown(user, token: str) -> dict:
    """What a page shows, once, of a new invitation: who it is for and the whole link."""
    return {"email": user.email, "url": url_for("auth.invitation", token=token, _external=True)}


@bp.route("/users", methods=["GET", "POST"])
@login_required
def users():
    require_superuser()
    if request.method == "GET":
        return _users_page()
    form = request.form
    values = {"email": form.get("email", ""), "superuser": form.get("superuser") == "on"}
    try:
        user = accounts.create_user(values["email"], form.get("password", ""), superuser=values["superuser"])
    except ValidationError as error:
        db.session.rollback()
        return _users_page(values, error.errors, status=400)
    flash(f"User {user.email} created.", "success")
    return redirect(url_for(".users"), code=303)


@bp.route("/users/invite", methods=["POST"])
@login_required
def invite():
    require_superuser()
    email = request.form.get("invite_email", "")
    try:
        user, token = accounts.invite(email, current_user._get_current_object())
    except ValidationError as error:
        db.session.rollback()
        return _users_page({"invite_email": email}, {"invite_email": error.errors["email"]}, status=400)
    except accounts.InvitationsThrottled as error:
        page, _ = _users_page({"invite_email": email}, {"invite_email": [str(error)]})
        return page, 429, {"Retry-After": str(error.retry_after)}
    body, status = _users_page(invitation=invitation_shown(user, token))
    # The page shows a secret link: no cache may keep it.
    return body, status, {"Cache-Control": "no-store"}


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@login_required
def disable_user(user_id: int):
    require_superuser()
    user = get_or_404(User, user_id)
    disable = request.form.get("action") != "enable"
    if disable and user.id == current_user.id:
        flash("You cannot disable your own account.", "error")
        return redirect(url_for(".users"), code=303)
    accounts.set_disabled(user, disable)
    flash(f"{user.email} is {'disabled: they cannot sign in and their API tokens are refused' if disable else 'enabled again'}.",
          "success")
    return redirect(url_for(".users"), code=303)
