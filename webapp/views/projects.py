"""Projects list and one project's stations."""
from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from ..extensions import db
from ..models import Deployment, Project
from ..permissions import require_view, role_of, visible_projects

bp = Blueprint("projects", __name__, url_prefix="/projects")


def get_visible_project(project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    if project is None:
        abort(404)
    require_view(project)
    return project


@bp.route("/")
@login_required
def index():
    projects = db.session.scalars(visible_projects(current_user)).all()
    return render_template("projects/index.html", projects=projects)


@bp.route("/<int:project_id>/")
@login_required
def detail(project_id: int):
    project = get_visible_project(project_id)
    deployments = db.session.scalars(
        db.select(Deployment).filter_by(project_id=project.id).order_by(Deployment.name, Deployment.id)
    ).all()
    return render_template(
        "projects/detail.html",
        project=project,
        deployments=deployments,
        role=role_of(current_user, project),
    )
