"""One session: its span, count and rule, its captures as thumbnails (paged), its neighbours."""
from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from .. import thumbnails
from ..models import Event
from ..permissions import role_of
from ..sessions import neighbours, session_gallery_page
from .lookup import get_visible

bp = Blueprint("events", __name__, url_prefix="/events")

GRID_LABEL = "small"
VIEWER_LABEL = "medium"


def _labels() -> tuple[str | None, str | None]:
    """The grid's and the viewer's sizes: `small` and `medium` where configured, else the first and last."""
    sizes = list(thumbnails.configured_sizes())
    if not sizes:
        return None, None
    grid = GRID_LABEL if GRID_LABEL in sizes else sizes[0]
    viewer = VIEWER_LABEL if VIEWER_LABEL in sizes else sizes[-1]
    return grid, viewer


@bp.route("/<int:event_id>/")
@login_required
def detail(event_id: int):
    session = get_visible(Event, event_id)
    deployment = session.deployment
    grid_label, viewer_label = _labels()
    previous, following = neighbours(session)
    return render_template(
        "events/detail.html",
        session=session,
        deployment=deployment,
        project=deployment.project,
        captures=session_gallery_page(session, request.args.get("page", 1), label=grid_label),
        grid_label=grid_label,
        grid_width=thumbnails.configured_sizes().get(grid_label) if grid_label else None,
        viewer_label=viewer_label,
        previous=previous,
        following=following,
        role=role_of(current_user, deployment.project),
    )
