"""Thumbnails of captures: made on first request, answered as a redirect to the stored file."""
from flask import redirect, request, url_for

from ... import thumbnails
from ...errors import error_response
from ...models import MAX_DB_ID
from ..lookup import require_on_project_id
from ..thumbnails import CACHE_CONTROL, stored_file_url
from . import bp, schemas
from .operations import operation


@bp.get("/captures/thumbnails/<int:capture_id>/")
@operation("Make the thumbnail on first request; 302 to the stored file (Cache-Control: private, max-age=300)",
           query=schemas.ThumbnailQuery, status=302, errors=(400, 401, 403, 404, 422, 502, 503))
def capture_thumbnail(capture_id: int, query: schemas.ThumbnailQuery):
    try:
        if not 0 < capture_id <= MAX_DB_ID:
            raise thumbnails.ThumbnailError("Not found.")
        located, label, width = thumbnails.find(capture_id, query.label)
        require_on_project_id(located.project_id)
        located = thumbnails.ensure(located, label, width)
    except thumbnails.ThumbnailError as error:
        if error.placeholder and _wants_an_image():
            return _placeholder(error.detail)
        return error_response(error.status, error.detail)
    response = redirect(stored_file_url(located, label), code=302)
    # Browsers cache a 302 only when told to; five minutes stays well inside a signed URL's hour.
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


@bp.get("/captures/thumbnails/")
@operation("Not allowed: thumbnails are fetched one capture at a time", status=405, errors=(401,))
def capture_thumbnail_list():
    response = error_response(405, "Thumbnails cannot be listed; ask for one at /api/v2/captures/thumbnails/<capture_id>/?label=<label>.")
    response.headers["Allow"] = ""
    return response


def _wants_an_image() -> bool:
    """An <img> asks for images before anything else; a script's */* gets the JSON error."""
    return request.accept_mimetypes.best_match(["application/json", "image/*"]) == "image/*"


def _placeholder(detail: str):
    """The placeholder picture, for an image that cannot be shown now or ever; why is in a header."""
    response = redirect(url_for("static", filename="thumbnail-placeholder.svg"), code=302)
    response.headers["X-Thumbnail-Problem"] = detail.encode("latin-1", "replace").decode("latin-1")
    response.headers["Cache-Control"] = "no-store"
    return response
