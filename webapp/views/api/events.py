"""Sessions (events) of the stations a user can see."""
from flask_login import current_user

from ...extensions import db
from ...models import Deployment, Event
from . import bp, get_deployment, paginate, schemas, serializers, visible_project_ids
from .operations import operation


@bp.get("/events/")
@operation("Sessions, ordered by start", query=schemas.DeploymentFilter, response=schemas.Event, paged=True)
def event_list(query: schemas.DeploymentFilter):
    statement = db.select(Event).join(Deployment, Event.deployment_id == Deployment.id)
    if query.deployment is not None:
        statement = statement.where(Event.deployment_id == get_deployment(query.deployment).id)
    elif not current_user.is_superuser:
        statement = statement.where(Deployment.project_id.in_(visible_project_ids()))
    return paginate(statement.order_by(Event.start, Event.id), serializers.event)
