"""A station's sessions as a paged list, in time order."""
from flask_sqlalchemy.pagination import Pagination

from ..extensions import db
from ..models import Deployment, Event
from ..paging import paginate

SESSIONS_PER_PAGE = 100


def sessions_page(deployment: Deployment, page=1) -> Pagination:
    """The station's sessions ordered by start."""
    query = (
        db.select(Event)
        .where(Event.deployment_id == deployment.id)
        .order_by(Event.start.asc().nulls_last(), Event.id)
    )
    return paginate(query, page, SESSIONS_PER_PAGE)
