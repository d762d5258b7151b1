"""Sessions (events) of the stations a user can see, with example captures and their thumbnails."""
from flask_login import current_user

from ...extensions import db
from ...models import Deployment, Event
from ...sessions import example_captures
from ..lookup import get_visible
from ..thumbnails import thumbnail_urls
from . import bp, get_deployment, paginate, schemas, serializers, visible_project_ids
from .operations import operation


def _with_examples(events: list[Event]) -> list[dict]:
    """The sessions' JSON with their example captures, found in one query for the whole page."""
    examples = example_captures(events)
    return [
        serializers.event(
            e,
            [serializers.example_capture(c, thumbnail_urls(c.id, external=True)) for c in examples.get(e.id, [])],
        )
        for e in events
    ]


@bp.get("/events/")
@operation("Sessions, ordered by start", query=schemas.DeploymentFilter, response=schemas.Event, paged=True)
def event_list(query: schemas.DeploymentFilter):
    statement = db.select(Event).join(Deployment, Event.deployment_id == Deployment.id)
    if query.deployment is not None:
        statement = statement.where(Event.deployment_id == get_deployment(query.deployment).id)
    elif not current_user.is_superuser:
        statement = statement.where(Deployment.project_id.in_(visible_project_ids()))
    return paginate(statement.order_by(Event.start, Event.id), serializers.event, serialize_page=_with_examples)


@bp.get("/events/<int:event_id>/")
@operation("One session (members)", response=schemas.Event)
def event_detail(event_id: int):
    return _with_examples([get_visible(Event, event_id)])[0]
