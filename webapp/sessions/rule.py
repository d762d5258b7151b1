"""The session rule's one home: which gap and keying apply, how people may set them, and the lock a regroup takes.

Stored settings are read through `Deployment.grouping_rule`; the cleaners here
check what people type (hours in forms) or send (seconds in the API).
"""
import logging
import math

from ..models import SESSION_KEYINGS, Deployment, GroupingRule
from ..numbers import parse_decimal

log = logging.getLogger(__name__)

MIN_GAP_SECONDS = 60


MAX_GAP_SECONDS = 7 * 24 * 3600


MAX_GAP_HOURS = MAX_GAP_SECONDS // 3600


KEYING_HELP = {
    "date": "One session per calendar date on which a run starts (the reference behaviour).",
    "night": "One session per monitoring night: runs that start before noon belong to the evening before.",
    "run": "Every run of captures is its own session, so the gap always takes effect.",
}


def clean_gap_seconds(value) -> int:
    """A gap given in seconds (API): a whole number between 1 minute and 7 days."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("Must be a whole number of seconds.")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ValueError("Must be a whole number of seconds.")
    value = int(value)
    if value < MIN_GAP_SECONDS or value > MAX_GAP_SECONDS:
        raise ValueError(f"Must be between {MIN_GAP_SECONDS} seconds (1 minute) and {MAX_GAP_SECONDS} seconds (7 days).")
    return value


def clean_gap_hours(text) -> int:
    """A gap typed in hours (settings form, decimals allowed), returned in whole seconds.

    The text is read with a length limit and the hours range-checked before
    any arithmetic (see numbers.py).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("Enter the session gap in hours.")
    hours = parse_decimal(text)
    if hours is None:
        raise ValueError("Enter a number of hours, for example 2 or 1.5.")
    if hours <= 0:
        raise ValueError("The gap must be more than 0 hours.")
    if hours > MAX_GAP_HOURS + 1:
        raise ValueError("The gap must be at most 168 hours (7 days).")
    seconds = int((hours * 3600).to_integral_value())
    if seconds < MIN_GAP_SECONDS:
        raise ValueError("The gap must be at least 1 minute (0.0167 hours).")
    if seconds > MAX_GAP_SECONDS:
        raise ValueError("The gap must be at most 168 hours (7 days).")
    return seconds


def clean_keying(value) -> str:
    """A session keying: one of SESSION_KEYINGS."""
    if value not in SESSION_KEYINGS:
        raise ValueError(f"Must be one of: {', '.join(SESSION_KEYINGS)}.")
    return value


def lock_key(deployment_id: int) -> str:
    """The name of a station's regroup lock."""
    return f"regroup:deployment:{deployment_id}"


def applied_rule(deployment: Deployment, logger: logging.Logger | None = None) -> GroupingRule:
    """The station's grouping rule (Deployment.grouping_rule), logging a WARNING for each fallback."""
    logger = logger or log
    rule = deployment.grouping_rule
    if rule.gap_fell_back:
        owner = f"station {deployment.id}" if deployment.session_time_gap_seconds is not None else f"project {deployment.project_id}"
        logger.warning(
            "Session gap %s of %s is not a positive number of seconds; using %d s.",
            rule.configured_gap, owner, rule.gap_seconds,
        )
    if rule.keying_fell_back:
        logger.warning(
            "Session keying %r of project %s is unknown; using %r.", rule.configured_keying, deployment.project_id, rule.keying
        )
    return rule
