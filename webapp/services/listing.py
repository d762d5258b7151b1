"""The site's paginated lists: a project's stations, a station's sessions, jobs.

Each list is a fixed number of SQL statements whatever its length (a count and
one page of rows), read from the cached counters on the rows themselves.
"""
from dataclasses import dataclass

from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import FINISHED_STATUSES, MAX_DB_ID, JOB_STATUSES, Deployment, Event, Job, Project, User
from ..permissions import visible_projects
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


@dataclass
class Page:
    """One page of a list, with what the pagination links need."""
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return (self.page - 1) * self.per_page + len(self.items)


def paginate(query, page, per_page: int, options=()) -> Page:
    """One page of `query` (a select) and the total count: two statements.

    `options` (eager loads) apply to the page's rows only, not to the count.
    """
    page = clean_page(page)
    total = db.session.scalar(db.select(db.func.count()).select_from(query.order_by(None).subquery()))
    pages = max(1, -(-total // per_page))
    page = min(page, pages)
    items = list(db.session.scalars(query.options(*options).limit(per_page).offset((page - 1) * per_page)).unique())
    return Page(items, page, per_page, total)


def stations_page(project: Project, sort=None, direction=None, page=1) -> tuple[Page, str, str]:
    """The project's stations sorted by a whitelisted column; returns (page, sort, direction)."""
    sort, direction = clean_sort(sort, direction)
    column = STATION_SORTS[sort]
    ordered = column.asc() if direction == "asc" else column.desc()
    query = (
        db.select(Deployment)
        .where(Deployment.project_id == project.id)
        .order_by(ordered.nulls_last(), Deployment.id)
    )
    return paginate(query, page, STATIONS_PER_PAGE), sort, direction


def sessions_page(deployment: Deployment, page=1) -> Page:
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


def jobs_page(user: User, filters: JobFilters, page=1) -> Page:
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
