"""Projects and their members."""
from flask_login import current_user

from ...permissions import visible_projects
from ...services.projects import create_project, set_member, update_project
from . import bp, get_project, json_body, paginate, serializers



@bp.get("/projects/")
def project_list():
    return paginate(visible_projects(current_user), serializers.project)


@bp.post("/projects/")
def project_create():
    data = json_body()
    project = create_project(current_user, data)
    return serializers.project(project), 201


@bp.get("/projects/<int:project_id>/")
def project_detail(project_id: int):
    return serializers.project(get_project(project_id))


@bp.patch("/projects/<int:project_id>/")
def project_update(project_id: int):
    project = get_project(project_id, "update_project")
    project = update_project(project, json_body())
    return serializers.project(project)


@bp.post("/projects/<int:project_id>/members/")
def member_set(project_id: int):
    project = get_project(project_id, "manage_members")
    data = json_body()
    membership = set_member(project, data.get("email"), data.get("role"))
    return serializers.membership(membership), 201
