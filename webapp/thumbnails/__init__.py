"""Thumbnails of captures: made on first request, stored locally or in S3, warmed by a sync, removed with their captures."""
from .cleanup import delete_capture, delete_deployment, delete_station_thumbnails, init_app
from .render import REDUCING_GAP, make_thumbnail
from .rows import Located, ThumbnailError, configured_sizes, ensure, find, is_fresh, locate, resolve_label
from .storage import StorageError, storage_for
from .warm import THUMBNAIL_PARAMS, THUMBNAIL_STAGE, warm_label, warm_session_examples, warm_stage

__all__ = [
    "configured_sizes",
    "delete_capture",
    "delete_deployment",
    "delete_station_thumbnails",
    "ensure",
    "find",
    "init_app",
    "is_fresh",
    "locate",
    "Located",
    "make_thumbnail",
    "REDUCING_GAP",
    "resolve_label",
    "storage_for",
    "StorageError",
    "THUMBNAIL_PARAMS",
    "THUMBNAIL_STAGE",
    "ThumbnailError",
    "warm_label",
    "warm_session_examples",
    "warm_stage",
]
