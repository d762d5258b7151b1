"""A station's health: the problems its last regroup and syncs found."""
from ...sessions import station_health
from . import bp, get_deployment
from .calendar_schemas import StationHealth
from .operations import operation


@bp.get("/deployments/<int:deployment_id>/health/")
@operation("The station's problems (members); computed_at is null and problems empty for a station never regrouped",
           response=StationHealth)
def deployment_health(deployment_id: int):
    return StationHealth(**station_health(get_deployment(deployment_id))).model_dump(mode="json")
