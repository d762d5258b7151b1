"""Finding the object a URL names, for pages and API alike: missing or invisible is 404."""
from flask import abort

from ..extensions import db
from ..models import MAX_DB_ID, Project
from ..permissions import require


def get_or_404(model, object_id: int | None):
    if object_id is None or not 0 < object_id <= MAX_DB_ID:
        abort(404)
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    return obj


class ProjectRef:
    """A project known only by its id, read together with the object it holds."""

    def __init__(self, project_id: int):
        self.id = project_id


def require_on_project_id(project_id: int | None, codename: str = "view_project") -> None:
    """`require` for a hot path that read its object's project id in the same query (404/403)."""
    require(codename, ProjectRef(project_id) if project_id is not None else None)


def get_visible(model, object_id: int, codename: str = "view_project"):
    """The object, after checking `codename` on its project (404 if invisible, 403 if not allowed)."""
    obj = get_or_404(model, object_id)
    require(codename, obj if isinstance(obj, Project) else obj.project)
    return obj
