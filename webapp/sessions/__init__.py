"""Sessions: the session rule, the regroup of a station's captures into sessions, its preview and history,
and the captures a session holds.

The pure cutting of timestamps into runs is `webapp.grouping`; this package
reads the database around it.
"""
from .capture_listing import captures_page
from .clock_offsets import (
    APPLY_PARAMS,
    add_clock_offset,
    apply_clock_offsets,
    clock_offsets,
    first_original_time,
    has_clock_offsets,
    offset_seconds_of,
    remove_clock_offset,
)
from .health import ACTIVE_AT, CLOCK_KINDS, KINDS, THRESHOLD_FIELDS, BackwardsCounter, HealthRules, clean_rules
from .history import regroup_history, regroup_history_query
from .preview import max_session_seconds, preview_project, preview_regroup
from .regroup import REGROUP_PARAMS, RegroupResult, check_lock_settings, regroup_deployment
from .rule import (
    KEYING_HELP,
    MAX_GAP_SECONDS,
    MIN_GAP_SECONDS,
    applied_rule,
    clean_gap_hours,
    clean_gap_seconds,
    clean_keying,
    lock_key,
)
from .schedule import station_schedule_fit
from .session_captures import CAPTURES_PER_PAGE, example_captures, neighbours, session_gallery_page
from .session_list import sessions_page
from .station_health import problems_by_station, record_backwards, rules_for, station_health, stations_with_problems
from .station_times import clear_caches, station_times

__all__ = [
    "ACTIVE_AT",
    "add_clock_offset",
    "applied_rule",
    "apply_clock_offsets",
    "APPLY_PARAMS",
    "BackwardsCounter",
    "captures_page",
    "CAPTURES_PER_PAGE",
    "check_lock_settings",
    "clean_gap_hours",
    "clean_gap_seconds",
    "clean_keying",
    "clean_rules",
    "clear_caches",
    "CLOCK_KINDS",
    "clock_offsets",
    "example_captures",
    "first_original_time",
    "has_clock_offsets",
    "HealthRules",
    "KEYING_HELP",
    "KINDS",
    "lock_key",
    "MAX_GAP_SECONDS",
    "max_session_seconds",
    "MIN_GAP_SECONDS",
    "neighbours",
    "offset_seconds_of",
    "preview_project",
    "preview_regroup",
    "problems_by_station",
    "record_backwards",
    "regroup_deployment",
    "regroup_history",
    "regroup_history_query",
    "REGROUP_PARAMS",
    "RegroupResult",
    "remove_clock_offset",
    "rules_for",
    "session_gallery_page",
    "sessions_page",
    "station_health",
    "station_schedule_fit",
    "station_times",
    "stations_with_problems",
    "THRESHOLD_FIELDS",
]
