"""A project's members: everyone who sees the project sees the list; its managers change it."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import accounts
from ..extensions import db
from ..models import Membership, Project
from ..permissions import ROLES, can, require, role_of
from ..projects import add_member, change_role, is_last_manager, members, remove_member, set_member
from ..validation import ValidationError
from .lookup import get_visible

bp = Blueprint("members", __name__, url_prefix="/projects")


def _page(project: Project, values: dict | None = None, errors: dict | None = None,
          row_errors: dict | None = None, status: int = 200, invitation: dict | None = None):
    """The members page; `row_errors` maps a membership id to the messages shown on its row."""
    memberships = members(project)
    return (
        render_template(
            "members/index.html",
            project=project,
            memberships=memberships,
            last_managers={m.id for m in memberships if is_last_manager(m)},
            roles=ROLES,
            values=values or {"email": "", "role": "BasicMember"},
            errors=errors or {},
            row_errors=row_errors or {},
            can_manage=can("manage_members", project),
            role=role_of(current_user, project),
            invitation=invitation,
            lifetime_days=accounts.INVITATION_LIFETIME.days,
        ),
        status,
    )


def _membership(project: Project, membership_id: int) -> Membership:
    membership = db.session.get(Membership, membership_id)
    if membership is None or membership.project_id != project.id:
        abort(404)
    return membership


@bp.route("/<int:project_id>/members", methods=["GET", "POST"])
@login_required
def index(project_id: int):
    project = get_visible(Project, project_id)
    if request.method == "GET":
        return _page(project)
    require("manage_members", project)
    values = {"email": request.form.get("email", ""), "role": request.form.get("role", "")}
    invited = None
    try:
        if values["role"] in ROLES and accounts.needs_invitation(values["email"]):
            # Someone without an account: an invited user now, the membership at once, and a link to pass on.
            # An invited member who lost the link gets a new one (and the role asked for).
            invited = accounts.invite(values["email"], current_user._get_current_object())
            membership = set_member(project, values["email"], values["role"])
        else:
            membership = add_member(project, values["email"], values["role"])
    except ValidationError as error:
        db.session.rollback()
        return _page(project, values, error.errors, status=400)
    except accounts.InvitationsThrottled as error:
        page, _ = _page(project, values, {"email": [str(error)]})
        return page, 429, {"Retry-After": str(error.retry_after)}
    if invited is not None:
        user, token = invited
        shown = {"email": user.email, "url": url_for("auth.invitation", token=token, _external=True)}
        flash(f"{user.email} added as {membership.role}; they join once they use the invitation link.", "success")
        body, status = _page(project, invitation=shown)
        # The page shows a secret link: no cache may keep it.
        return body, status, {"Cache-Control": "no-store"}
    flash(f"{membership.user.email} added as {membership.role}.", "success")
    return redirect(url_for(".index", project_id=project.id), code=303)


@bp.route("/<int:project_id>/members/<int:membership_id>/role", methods=["POST"])
@login_required
def role(project_id: int, membership_id: int):
    project = get_visible(Project, project_id, "manage_members")
    membership = _membership(project, membership_id)
    try:
        change_role(membership, request.form.get("role", ""))
    except ValidationError as error:
        db.session.rollback()
        return _page(project, row_errors={membership.id: error.errors.get("role", [])}, status=400)
    flash(f"{membership.user.email} is now {membership.role}.", "success")
    return redirect(url_for(".index", project_id=project.id), code=303)


@bp.route("/<int:project_id>/members/<int:membership_id>/remove", methods=["POST"])
@login_required
def remove(project_id: int, membership_id: int):
    project = get_visible(Project, project_id, "manage_members")
    membership = _membership(project, membership_id)
    email, removed_self = membership.user.email, membership.user_id == current_user.id
    try:
        remove_member(membership)
    except ValidationError as error:
        db.session.rollback()
        return _page(project, row_errors={membership.id: error.errors.get("role", [])}, status=400)
    flash(f"{email} removed from the project.", "success")
    if removed_self and not current_user.is_superuser:
        # They can no longer see the project.
        return redirect(url_for("projects.index"), code=303)
    return redirect(url_for(".index", project_id=project.id), code=303)
