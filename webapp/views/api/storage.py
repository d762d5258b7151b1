"""Storage sources and their grants to projects (superusers only)."""
from ... import sources
from ...models import Project, StorageSource
from ...permissions import require_superuser
from ..lookup import get_or_404
from . import bp, paginate, schemas, serializers
from .operations import operation, read_body


@bp.get("/storage-sources/")
@operation("Storage sources (superusers); credentials are never returned", response=schemas.StorageSource,
           paged=True)
def storage_source_list():
    require_superuser()
    grants = sources.grants_by_source()
    return paginate(sources.sources_query(), lambda s: serializers.storage_source(s, grants.get(s.id, ())))


@bp.post("/storage-sources/")
@operation("Register a storage source (superusers)", body=schemas.StorageSourceCreate,
           response=schemas.StorageSource, status=201)
def storage_source_create():
    require_superuser()
    source = sources.register_source(read_body())
    return serializers.storage_source(source, ()), 201


@bp.post("/storage-sources/<int:source_id>/grants/")
@operation("Let a project's stations use the source (superusers)", body=schemas.StorageGrantCreate,
           response=schemas.StorageGrant, status=201)
def storage_grant_create(source_id: int):
    require_superuser()
    source = get_or_404(StorageSource, source_id)
    project = get_or_404(Project, read_body()["project_id"])
    sources.grant(source, project)
    return serializers.storage_grant(source.id, project.id), 201
