"""Storage sources and their grants to projects (superusers only)."""
from ...models import Project, StorageSource
from ...permissions import require_superuser
from ...services import storage
from ..lookup import get_or_404
from . import BadRequest, bp, json_body, paginate, parse_id, serializers


@bp.get("/storage-sources/")
def storage_source_list():
    require_superuser()
    grants = storage.grants_by_source()
    return paginate(storage.sources_query(), lambda s: serializers.storage_source(s, grants.get(s.id, ())))


@bp.post("/storage-sources/")
def storage_source_create():
    require_superuser()
    source = storage.register_source(json_body())
    return serializers.storage_source(source, ()), 201


@bp.post("/storage-sources/<int:source_id>/grants/")
def storage_grant_create(source_id: int):
    require_superuser()
    source = get_or_404(StorageSource, source_id)
    data = json_body()
    try:
        project_id = parse_id(data.get("project_id"))
    except ValueError as error:
        raise BadRequest("Invalid input.", {"project_id": [str(error)]}) from None
    project = get_or_404(Project, project_id)
    storage.grant(source, project)
    return {"source_id": source.id, "project_id": project.id}, 201
