"""Sessions (events) of the stations a user can see, with example captures and their thumbnails."""
from flask_login import current_user

from ...extensions import db
from ...models import Deployment, Event
from ...services.session_captures import example_captures
from ..lookup import get_visible
from ..thumbnails import thumbnail_urls
from . import bp, get_deployment, paginate, query_int, serializers, visible_project_ids


def _with_examples(events: list[Event]) -> list[dict]:
    examples = example_captures(events)
    return [
        serializers.event(
            e,
            [serializers.example_capture(c, thumbnail_urls(c.id, external=True)) for c in examples.get(e.id, [])],
        )
        for e in events
    ]


@bp.get("/events/")
def event_list():
    deployment_id = query_int("deployment", maximum=None)
    query = db.select(Event).join(Deployment, Event.deployment_id == Deployment.id)
    if deployment_id is not None:
        query = query.where(Event.deployment_id == get_deployment(deployment_id).id)
    elif not current_user.is_superuser:
        query = query.where(Deployment.project_id.in_(visible_project_ids()))
    return paginate(query.order_by(Event.start, Event.id), serializers.event, serialize_page=_with_examples)


@bp.get("/events/<int:event_id>/")
def event_detail(event_id: int):
    return _with_examples([get_visible(Event, event_id)])[0]
