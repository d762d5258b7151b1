"""Projects: their settings and members, their stations (create, change, list, delete) and station places."""
from .coordinates import PLACEHOLDER_NOTE, clean_latitude, clean_longitude, degrees_from_text
from .deployment_delete import (
    DELETE_PARAMS,
    delete_stalled,
    delete_station,
    live_delete_job,
    release_deletion,
    request_deletion,
)
from .deployment_list import STATION_STATES, StationFilters, clean_sort, stations_page
from .deployments import (
    StationBeingDeleted,
    check_station_fields,
    clean_time_zone,
    create_deployment,
    stations_without_coordinates,
    time_zone_names,
    update_deployment,
)
from .memberships import add_member, change_role, is_last_manager, members, remove_member, set_member
from .projects import PROJECT_FIELDS, create_project, stations_needing_regroup, update_project

__all__ = [
    "add_member",
    "change_role",
    "check_station_fields",
    "clean_latitude",
    "clean_longitude",
    "clean_sort",
    "clean_time_zone",
    "create_deployment",
    "create_project",
    "degrees_from_text",
    "DELETE_PARAMS",
    "delete_stalled",
    "delete_station",
    "is_last_manager",
    "live_delete_job",
    "members",
    "PLACEHOLDER_NOTE",
    "PROJECT_FIELDS",
    "remove_member",
    "release_deletion",
    "request_deletion",
    "set_member",
    "STATION_STATES",
    "StationBeingDeleted",
    "StationFilters",
    "stations_needing_regroup",
    "stations_page",
    "stations_without_coordinates",
    "time_zone_names",
    "update_deployment",
    "update_project",
]
