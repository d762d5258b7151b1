"""Projects and their members."""
from flask_login import current_user

from ...permissions import visible_projects
from ...projects import create_project, set_member, update_project
from . import bp, get_project, paginate, schemas, serializers
from .operations import operation, read_body


@bp.get("/projects/")
@operation("Projects the user is a member of (all for a superuser)", response=schemas.Project, paged=True)
def project_list():
    return paginate(visible_projects(current_user), serializers.project)


@bp.post("/projects/")
@operation("Create a project; the caller becomes its ProjectManager", body=schemas.ProjectCreate,
           response=schemas.Project, status=201)
def project_create():
    return serializers.project(create_project(current_user, read_body())), 201


@bp.get("/projects/<int:project_id>/")
@operation("One project (members)", response=schemas.Project)
def project_detail(project_id: int):
    return serializers.project(get_project(project_id))


@bp.patch("/projects/<int:project_id>/")
@operation("Change settings (update_project)", body=schemas.ProjectUpdate, response=schemas.Project)
def project_update(project_id: int):
    project = get_project(project_id, "update_project")
    return serializers.project(update_project(project, read_body()))


@bp.post("/projects/<int:project_id>/members/")
@operation("Give a user a role (manage_members)", body=schemas.MemberInput, response=schemas.Membership, status=201)
def member_set(project_id: int):
    project = get_project(project_id, "manage_members")
    body = read_body()
    return serializers.membership(set_member(project, body["email"], body["role"])), 201
