"""Thumbnail files kept in a local THUMBNAIL_ROOT, served only to members of the capture's project."""
from flask import Blueprint, abort, current_app, send_file, url_for
from flask_login import login_required

from .. import thumbnails
from ..thumbnails import storage_for
from .lookup import require_on_project_id

bp = Blueprint("thumbnails", __name__, url_prefix="/thumbnails")

CACHE_CONTROL = "private, max-age=300"


def thumbnail_url(capture_id: int, label: str, external: bool = False) -> str:
    """The address clients use for a capture's thumbnail: the API endpoint that makes and redirects."""
    return url_for("api.capture_thumbnail", capture_id=capture_id, label=label, _external=external)


def thumbnail_urls(capture_id: int, external: bool = False) -> dict[str, str]:
    """`{label: url}` for every configured size."""
    return {label: thumbnail_url(capture_id, label, external) for label in thumbnails.configured_sizes()}


def stored_file_url(located: thumbnails.Located, label: str) -> str:
    """Where the stored file is fetched: a signed S3 URL, or this blueprint's checked route."""
    signed = storage_for(current_app.config["THUMBNAIL_ROOT"]).signed_url(located.path)
    if signed:
        return signed
    version = int(located.updated_at.timestamp()) if located.updated_at else 0
    return url_for("thumbnails.file", capture_id=located.capture_id, label=label, v=version)


@bp.route("/<int:capture_id>/<label>.jpg")
@login_required
def file(capture_id: int, label: str):
    """The stored file, after the same membership check as the endpoint (so a URL alone is not enough);
    a file missing from THUMBNAIL_ROOT is made again first."""
    if label not in thumbnails.configured_sizes():
        abort(404)
    located = thumbnails.locate(capture_id, label)
    if located is None:
        abort(404)
    require_on_project_id(located.project_id)
    storage = storage_for(current_app.config["THUMBNAIL_ROOT"])
    path = storage.local_path(located.path or "")
    if path is None:
        abort(404)
    if not located.path or not path.is_file():
        # The row says made but the file is gone (removed by hand, a restore without thumbnails): make it again
        # now, so the page shows the image instead of a broken one.
        try:
            located = thumbnails.ensure(located, label, thumbnails.configured_sizes()[label], remake=True)
        except thumbnails.ThumbnailError as error:
            abort(error.status)
        path = storage.local_path(located.path)
    response = send_file(path, mimetype="image/jpeg", conditional=True, etag=True, max_age=300)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response
