"""Captures of a station, or of one of its sessions, in time order."""
from ...extensions import db
from ...models import Event
from ...services.capture_listing import captures_page
from . import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, BadRequest, bp, get_deployment, page_envelope, query_int, serializers


@bp.get("/captures/")
def capture_list():
    deployment_id = query_int("deployment", maximum=None)
    if deployment_id is None:
        raise BadRequest("Invalid query parameters.", {"deployment": ["A station id is required."]})
    event_id = query_int("event", maximum=None)
    page = query_int("page", 1)
    page_size = query_int("page_size", DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
    deployment = get_deployment(deployment_id)
    event = None
    if event_id is not None:
        event = db.session.get(Event, event_id)
        if event is None or event.deployment_id != deployment.id:
            raise BadRequest("Invalid query parameter 'event'.", {"event": [f"Not a session of station {deployment.id}."]})
    found = captures_page(deployment, event, page, page_size)
    results = [serializers.capture(capture, session_id) for capture, session_id, _ in found.items]
    return page_envelope(found.total, page, page_size, results)
