"""Sessions (events) of the stations a user can see."""
from flask_login import current_user

from ...extensions import db
from ...models import Deployment, Event
from . import bp, get_deployment, paginate, query_int, serializers, visible_project_ids


@bp.get("/events/")
def event_list():
    deployment_id = query_int("deployment", maximum=None)
    query = db.select(Event).join(Deployment, Event.deployment_id == Deployment.id)
    if deployment_id is not None:
        query = query.where(Event.deployment_id == get_deployment(deployment_id).id)
    elif not current_user.is_superuser:
        query = query.where(Deployment.project_id.in_(visible_project_ids()))
    return paginate(query.order_by(Event.start, Event.id), serializers.event)
