"""A project's stations as a paged list: sorted by a whitelisted column, filtered by name and state.

A fixed number of SQL statements whatever the length (a count and one page of
rows), read from the cached counters on the station rows themselves.
"""
from dataclasses import dataclass
from typing import Callable

from flask_sqlalchemy.pagination import Pagination

from ..config import DEFAULT_SESSION_GAP_SECONDS
from ..extensions import db
from ..grouping import DEFAULT_KEYING, KEYINGS
from ..models import Deployment, Job, Project
from ..paging import paginate
from ..text import search_key

STATIONS_PER_PAGE = 50


# Sort key in the URL → column. Anything else falls back to the default.
STATION_SORTS = {
    "name": Deployment.name,
    "captures": Deployment.captures_count,
    "sessions": Deployment.events_count,
    "first": Deployment.first_capture_timestamp,
    "last": Deployment.last_capture_timestamp,
    "regrouped": Deployment.last_regrouped_at,
}


DEFAULT_STATION_SORT = "name"


def clean_sort(sort, direction) -> tuple[str, str]:
    """A whitelisted (sort key, "asc"|"desc")."""
    sort = sort if sort in STATION_SORTS else DEFAULT_STATION_SORT
    direction = direction if direction in ("asc", "desc") else "asc"
    return sort, direction


MAX_STATION_QUERY = 200


def _needs_regroup(project: Project):
    # The SQL twin of Deployment.grouped_with_other_settings and GroupingRule:
    # the station's own gap if set, else the project's; a zero or negative one
    # means the default; the project's keying, or the default if unknown.
    configured = db.func.coalesce(Deployment.session_time_gap_seconds, project.session_time_gap_seconds)
    wanted_gap = db.case((configured > 0, configured), else_=DEFAULT_SESSION_GAP_SECONDS)
    wanted_keying = project.session_keying if project.session_keying in KEYINGS else DEFAULT_KEYING
    return db.and_(
        Deployment.captures_count > 0,
        db.or_(
            Deployment.grouped_gap_seconds.is_distinct_from(wanted_gap),
            Deployment.grouped_keying.is_distinct_from(wanted_keying),
        ),
    )


def _last_job_failed(project: Project):
    latest_status = (
        db.select(Job.status)
        .where(Job.deployment_id == Deployment.id)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(1)
        .correlate(Deployment)
        .scalar_subquery()
    )
    return latest_status == "FAILURE"


def _never_synced(project: Project):
    return ~db.select(Job.id).where(
        Job.deployment_id == Deployment.id, Job.job_type_key == "data_storage_sync", Job.status == "SUCCESS"
    ).correlate(Deployment).exists()


def _being_deleted(project: Project):
    return Deployment.deleting.is_(True)


def _has_problems(project: Project):
    return Deployment.has_problems.is_(True)


@dataclass(frozen=True)
class StationState:
    """A state the stations list can be filtered by: its label and its SQL condition."""
    label: str
    condition: Callable[[Project], object]


# URL value → state. Each condition is one SQL expression on the station row,
# so a filtered page stays the same two statements whatever the state.
STATION_STATES = {
    "needs-regroup": StationState("Needs regroup", _needs_regroup),
    "last-job-failed": StationState("Last job failed", _last_job_failed),
    "never-synced": StationState("Never synced", _never_synced),
    "being-deleted": StationState("Being deleted", _being_deleted),
    "has-problems": StationState("Has problems", _has_problems),
}


@dataclass(frozen=True)
class StationFilters:
    """The stations list's name filter, state, sort and direction, as kept in the URL."""
    name: str = ""
    state: str | None = None
    sort: str = DEFAULT_STATION_SORT
    direction: str = "asc"

    @classmethod
    def from_args(cls, args) -> "StationFilters":
        """Unknown or malformed values are dropped, never an error."""
        sort, direction = clean_sort(args.get("sort"), args.get("dir"))
        state = args.get("state")
        name = " ".join((args.get("q") or "").split())[:MAX_STATION_QUERY]
        return cls(name=name, state=state if state in STATION_STATES else None, sort=sort, direction=direction)

    def as_args(self, **changes) -> dict:
        """Query parameters for links that keep this list's filters (empty ones left out)."""
        args = {"q": self.name or None, "state": self.state, "sort": self.sort, "dir": self.direction}
        args.update(changes)
        return {key: value for key, value in args.items() if value not in (None, "")}

    @property
    def active(self) -> bool:
        return bool(self.name or self.state)


def stations_page(project: Project, filters: StationFilters = StationFilters(), page=1) -> Pagination:
    """The project's stations matching `filters` (name ignoring case and accents, state), sorted; one page."""
    column = STATION_SORTS[filters.sort]
    ordered = column.asc() if filters.direction == "asc" else column.desc()
    query = db.select(Deployment).where(Deployment.project_id == project.id)
    if filters.name:
        query = query.where(Deployment.search_name.contains(search_key(filters.name), autoescape=True))
    if filters.state:
        query = query.where(STATION_STATES[filters.state].condition(project))
    query = query.order_by(ordered.nulls_last(), Deployment.id)
    return paginate(query, page, STATIONS_PER_PAGE)
