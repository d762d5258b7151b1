"""Whether a station's capture schedule fits its session gap (see gaps.schedule_fit)."""
from ..gaps import ScheduleFit, schedule_fit
from ..models import Deployment
from .station_times import station_times


def station_schedule_fit(deployment: Deployment, gap_seconds: int | None = None) -> ScheduleFit | None:
    """The schedule-fit risk of the station's gap (or `gap_seconds`), None when its off-windows are clear of it."""
    if gap_seconds is None:
        gap_seconds = deployment.grouping_rule.gap_seconds
    return schedule_fit(station_times(deployment).long_gaps_seconds(), gap_seconds)
