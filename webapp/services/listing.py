"""The site's paginated lists: a project's stations, a station's sessions, jobs.

Each list is a fixed number of SQL statements whatever its length (a count and
one page of rows), read from the cached counters on the rows themselves.
"""
from dataclasses import dataclass
from typing import Callable

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import joinedload

from ..config import DEFAULT_SESSION_GAP_SECONDS
from ..extensions import db
from ..grouping import DEFAULT_KEYING, KEYINGS
from ..models import FINISHED_STATUSES, MAX_DB_ID, JOB_STATUSES, Deployment, Event, Job, Project, User
from ..permissions import visible_projects
from ..text import search_key
from .jobs import JOB_TYPES
from .numbers import parse_whole

STATIONS_PER_PAGE = 50
SESSIONS_PER_PAGE = 100
JOBS_PER_PAGE = 50

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


def clean_page(value) -> int:
    """A page number from a query string; anything else is page 1."""
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 1)
    return parse_whole(value, 1, MAX_DB_ID) or 1


def clean_sort(sort, direction) -> tuple[str, str]:
    """A whitelisted (sort key, "asc"|"desc")."""
    sort = sort if sort in STATION_SORTS else DEFAULT_STATION_SORT
    direction = direction if direction in ("asc", "desc") else "asc"
    return sort, direction


class RowsPagination(Pagination):
    """Flask-SQLAlchemy's pagination of a select of several columns: items are row tuples.

    Built by `rows_page` with the total already counted (Flask-SQLAlchemy's
    `count=False`), because a caller often knows a cheaper count than a
    subquery of the rows; a page past the end reads no rows.
    """

    def _query_items(self) -> list[tuple]:
        if self._query_offset >= self._query_args["total"]:
            return []
        rows = self._query_args["rows"].limit(self.per_page).offset(self._query_offset)
        return [tuple(row) for row in db.session.execute(rows)]

    def _query_count(self) -> int:
        return self._query_args["total"]


def rows_page(rows, total: int, page: int, per_page: int) -> Pagination:
    """One page of `rows` (a select of columns) whose number is `total`: one statement."""
    result = RowsPagination(
        page=clean_page(page), per_page=per_page, max_per_page=None, error_out=False, count=False, rows=rows, total=total
    )
    result.total = total
    return result


def paginate(query, page, per_page: int, options=()) -> Pagination:
    """One page of `query` (a select) and the total count: two statements.

    Flask-SQLAlchemy's pagination, with a page past the end shown as the last
    page. `options` (eager loads) apply to the page's rows only.
    """
    page = clean_page(page)
    result = db.paginate(query.options(*options), page=page, per_page=per_page, error_out=False)
    if page > result.pages > 0:
        result = db.paginate(query.options(*options), page=result.pages, per_page=per_page, error_out=False)
    return result


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


def sessions_page(deployment: Deployment, page=1) -> Pagination:
    """The station's sessions ordered by start."""
    query = (
        db.select(Event)
        .where(Event.deployment_id == deployment.id)
        .order_by(Event.start.asc().nulls_last(), Event.id)
    )
    return paginate(query, page, SESSIONS_PER_PAGE)


def recent_jobs(deployment: Deployment, limit: int = 10) -> list[Job]:
    """The station's newest jobs, newest first."""
    return list(
        db.session.scalars(
            db.select(Job).where(Job.deployment_id == deployment.id).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
        )
    )


@dataclass
class JobFilters:
    """The jobs list's filters, read from query parameters."""
    project: int | None = None
    deployment: int | None = None
    type: str | None = None
    status: str | None = None

    @classmethod
    def from_args(cls, args) -> "JobFilters":
        """Unknown or malformed values are dropped, never an error."""

        def as_id(name):
            return parse_whole(args.get(name), 1, MAX_DB_ID)

        job_type = args.get("type")
        status = args.get("status")
        return cls(
            project=as_id("project"),
            deployment=as_id("deployment"),
            type=job_type if job_type in JOB_TYPES else None,
            status=status if status in JOB_STATUSES else None,
        )

    def as_args(self) -> dict:
        return {k: v for k, v in vars(self).items() if v is not None}


def jobs_page(user: User, filters: JobFilters, page=1) -> Pagination:
    """Jobs of the projects the user may see, newest first, filtered."""
    query = db.select(Job)
    if not user.is_superuser:
        visible_ids = visible_projects(user).with_only_columns(Project.id).order_by(None)
        query = query.where(Job.project_id.in_(visible_ids))
    if filters.project:
        query = query.where(Job.project_id == filters.project)
    if filters.deployment:
        query = query.where(Job.deployment_id == filters.deployment)
    if filters.type:
        query = query.where(Job.job_type_key == filters.type)
    if filters.status:
        query = query.where(Job.status == filters.status)
    query = query.order_by(Job.created_at.desc(), Job.id.desc())
    return paginate(query, page, JOBS_PER_PAGE, options=(joinedload(Job.deployment), joinedload(Job.project)))


def unfinished(jobs: list[Job]) -> list[Job]:
    """The jobs of `jobs` that have not finished yet, in the same order."""
    return [job for job in jobs if job.status not in FINISHED_STATUSES]
