"""Captures of a station, or of one of its sessions, in time order."""
from ...extensions import db
from ...models import MAX_DB_ID, Event
from ...sessions import captures_page
from ..thumbnails import thumbnail_urls
from . import BadRequest, bp, get_deployment, page_envelope, schemas, serializers
from .operations import operation, parse_query


@bp.get("/captures/")
@operation(
    "A station's captures (or one session's), ordered by timestamp; event_id is the session whose span holds it",
    query=schemas.CaptureFilter,
    response=schemas.Capture,
    paged=True,
)
def capture_list(query: schemas.CaptureFilter):
    paging = parse_query(schemas.PageQuery)
    deployment = get_deployment(query.deployment)
    event = None
    if query.event is not None:
        event = db.session.get(Event, query.event) if query.event <= MAX_DB_ID else None
        if event is None or event.deployment_id != deployment.id:
            raise BadRequest("Invalid query parameter 'event'.", {"event": [f"Not a session of station {deployment.id}."]})
    found = captures_page(deployment, event, paging.page, paging.page_size)
    results = [
        serializers.capture(capture, session_id, thumbnail_urls(capture.id, external=True))
        for capture, session_id, _ in found.items
    ]
    return page_envelope(found.total, paging.page, paging.page_size, results)
