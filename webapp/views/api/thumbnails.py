"""Thumbnails of captures: made on first request, answered as a redirect to the stored file."""
from flask import redirect, request

from ...errors import error_response
from ...models import MAX_DB_ID
from ...services import thumbnails
from ..lookup import require_on_project_id
from ..thumbnails import CACHE_CONTROL, stored_file_url
from . import bp


@bp.get("/captures/thumbnails/<int:capture_id>/")
def capture_thumbnail(capture_id: int):
    """302 to the thumbnail of `?label=` (default: the first configured size)."""
    try:
        if not 0 < capture_id <= MAX_DB_ID:
            raise thumbnails.ThumbnailError("Not found.")
        located, label, width = thumbnails.find(capture_id, request.args.get("label"))
        require_on_project_id(located.project_id)
        located = thumbnails.ensure(located, label, width)
    except thumbnails.ThumbnailError as error:
        return error_response(error.status, error.detail)
    response = redirect(stored_file_url(located, label), code=302)
    # Browsers cache a 302 only when told to; five minutes stays well inside a signed URL's hour.
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


@bp.get("/captures/thumbnails/")
def capture_thumbnail_list():
    """Thumbnails are fetched one capture at a time; there is no listing."""
    response = error_response(405, "Thumbnails cannot be listed; ask for one at /api/v2/captures/thumbnails/<capture_id>/?label=<label>.")
    response.headers["Allow"] = ""
    return response
