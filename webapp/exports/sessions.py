"""`sessions.csv`: one row per session of a project, streamed line by line."""
from typing import Iterator

from ..models import Project
from ..sessions import max_session_seconds
from .common import _events, _project_deployments, csv_line, elapsed_seconds, station_zone, with_offset

SESSIONS_CSV_COLUMNS = (
    "session_id", "deployment_id", "deployment_name", "group_by", "start", "end", "duration_seconds",
    "captures_count", "gap_seconds", "keying", "max_session_seconds",
)


def sessions_csv(project: Project) -> Iterator[str]:
    """`sessions.csv` of the project, one line at a time (header first)."""
    deployments = _project_deployments(project)
    cap = max_session_seconds()
    zones = {d.id: station_zone(d) for d in deployments.values()}
    yield csv_line(SESSIONS_CSV_COLUMNS)
    if not deployments:
        return
    for event in _events(list(deployments)):
        deployment = deployments[event.deployment_id]
        zone = zones[event.deployment_id]
        yield csv_line((
            event.id, deployment.id, deployment.name, event.group_by,
            with_offset(event.start, zone), with_offset(event.end, zone),
            elapsed_seconds(event.start, event.end, zone), event.captures_count,
            deployment.grouped_gap_seconds if deployment.grouped_gap_seconds is not None else "",
            deployment.grouped_keying or "", cap,
        ))
