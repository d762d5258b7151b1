"""Sources: storage sources and their grants, a station's files and their capture times, and the sync."""
from .capture_rows import insert_captures, refresh_deployment_stats
from .file_facts import timestamp_from_name
from .files import S3_URL, DataSourceError, UnreadableFile, is_image_name, timestamp_from_exif
from .folders import browse, sources_of
from .storage import (
    NOT_INSIDE,
    all_sources,
    check_data_source,
    decrypt_secret,
    display_path,
    grant,
    grants_by_source,
    named_location,
    register_source,
    revoke,
    s3_client,
    s3_parts,
    set_open_to_all,
    source_form,
    source_of,
    sources_for_project,
    sources_query,
)
from .sync import SYNC_PARAMS, SyncResult, sync_deployment

__all__ = [
    "all_sources",
    "browse",
    "check_data_source",
    "DataSourceError",
    "decrypt_secret",
    "display_path",
    "grant",
    "grants_by_source",
    "named_location",
    "insert_captures",
    "is_image_name",
    "NOT_INSIDE",
    "refresh_deployment_stats",
    "register_source",
    "revoke",
    "s3_client",
    "s3_parts",
    "S3_URL",
    "set_open_to_all",
    "source_form",
    "source_of",
    "sources_for_project",
    "sources_of",
    "sources_query",
    "sync_deployment",
    "SYNC_PARAMS",
    "SyncResult",
    "timestamp_from_exif",
    "timestamp_from_name",
    "UnreadableFile",
]
