"""Roles, permissions and visibility: every access rule of the site lives here.

Each project role grants a set of permission codenames (the reference platform's
names). flask-principal carries them as needs `(codename, project_id)` on the
request's identity; superusers hold one need that satisfies every check.
Projects are private: a user who is not a member sees 404, a member without the
permission sees 403.
"""
from collections import namedtuple

from flask import abort, g
from flask_login import current_user
from flask_principal import Identity, Permission, RoleNeed, UserNeed, identity_loaded

from .extensions import db, principal
from .models import Membership, Project

ProjectNeed = namedtuple("ProjectNeed", ["codename", "project_id"])
SUPERUSER_NEED = RoleNeed("superuser")

JOB_TYPE_KEYS = ("regroup_events", "data_storage_sync", "delete_deployment", "apply_clock_offsets")
# Job types whose running (and cancelling) data managers share with project managers.
_DATA_JOB_TYPE_KEYS = ("regroup_events", "data_storage_sync")

# Every member may take a project's sessions away (sessions.csv, Camtrap DP, the effort matrix): the
# contract promises exports to members, and the codename makes that a rule checked in one place.
_BASIC = {"view_project", "create_job", "export_project_data"}
_ML_DATA_MANAGER = (
    _BASIC
    | {f"run_{key}_job" for key in _DATA_JOB_TYPE_KEYS}
    | {"sync_deployment"}
)
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "BasicMember": frozenset(_BASIC),
    "Researcher": frozenset(_BASIC),
    "Identifier": frozenset(_BASIC | {"create_identification"}),
    "MLDataManager": frozenset(_ML_DATA_MANAGER),
    "ProjectManager": frozenset(
        _ML_DATA_MANAGER
        | {
            "update_project",
            "manage_members",
            "create_deployment",
            "update_deployment",
            "delete_deployment",
            "run_delete_deployment_job",
            "run_apply_clock_offsets_job",
            "regroup_sessions_deployment",
        }
    ),
}
ROLES = tuple(ROLE_PERMISSIONS)
PERMISSION_DENIED = "You do not have permission to perform this action."


# Starting a job on a station needs more than running that job type: the
# reference gates its station actions with these codenames.
START_JOB_PERMISSIONS = {
    "regroup_events": "regroup_sessions_deployment",
    "data_storage_sync": "sync_deployment",
    "delete_deployment": "delete_deployment",
    # Clock offsets are a change to the station: whoever may edit it may apply them.
    "apply_clock_offsets": "update_deployment",
}


def start_job_permission(job_type_key: str) -> str:
    """The codename a user needs on a station's project to start a job of this type there."""
    return START_JOB_PERMISSIONS[job_type_key]


def run_job_permission(job_type_key: str) -> str:
    return f"run_{job_type_key}_job"


def role_of(user, project) -> str | None:
    """The user's role in the project, or None for a non-member."""
    if user is None or not user.is_authenticated or project is None:
        return None
    membership = db.session.scalar(
        db.select(Membership).filter_by(user_id=user.id, project_id=project.id)
    )
    return membership.role if membership else None


def visible_projects(user):
    """A select of the projects the user may see: their memberships, or all for a superuser."""
    query = db.select(Project).order_by(Project.name, Project.id)
    if user.is_superuser:
        return query
    return query.join(Membership).where(Membership.user_id == user.id)


def _identity_needs(user) -> set:
    needs = {UserNeed(user.id)}
    if user.is_superuser:
        needs.add(SUPERUSER_NEED)
    rows = db.session.execute(
        db.select(Membership.project_id, Membership.role).filter_by(user_id=user.id)
    )
    for project_id, role in rows:
        needs.update(ProjectNeed(c, project_id) for c in ROLE_PERMISSIONS.get(role, ()))
    return needs


def permission(codename: str, project) -> Permission:
    """The flask-principal permission for one codename on one project."""
    project_id = project.id if project is not None else None
    return Permission(ProjectNeed(codename, project_id), SUPERUSER_NEED)


def can(codename: str, project) -> bool:
    """Whether the current request's identity holds `codename` on `project`."""
    if project is None:
        return SUPERUSER_NEED in g.identity.provides
    return permission(codename, project).can()


def can_view(project) -> bool:
    return project is not None and can("view_project", project)


def require_view(project) -> None:
    """404 unless the current user may see the project (private projects)."""
    if not can_view(project):
        abort(404)


def require(codename: str, project) -> None:
    """404 if the project is invisible to the user, 403 if the permission is missing.

    Objects outside any project (a station not yet assigned) are visible to
    superusers only.
    """
    if project is None:
        if not can(codename, None):
            abort(404)
        return
    require_view(project)
    if not can(codename, project):
        abort(403, PERMISSION_DENIED)


def init_app(app):
    @principal.identity_loader
    def load_identity():
        if current_user.is_authenticated:
            return Identity(current_user.id, "session-or-token")
        return None

    @identity_loaded.connect_via(app)
    def on_identity_loaded(sender, identity):
        if current_user.is_authenticated and identity.id == current_user.id:
            identity.provides.update(_identity_needs(current_user))


def require_superuser() -> None:
    """403 unless the signed-in user is a superuser (site-wide settings such as storage sources)."""
    if not can("manage_storage", None):
        abort(403, PERMISSION_DENIED)
