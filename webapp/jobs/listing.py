"""Jobs in lists: a station's newest, and the jobs page filtered by project, station, type and status."""
from dataclasses import dataclass

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import FINISHED_STATUSES, JOB_STATUSES, MAX_DB_ID, Deployment, Job, Project, User
from ..numbers import parse_whole
from ..paging import paginate
from ..permissions import visible_projects
from .kinds import job_types

JOBS_PER_PAGE = 50


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
            type=job_type if job_type in job_types() else None,
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


def project_busy(project: Project) -> bool:
    """Whether any job of the project is still to finish, or any of its stations is being deleted:
    the pages whose state such work changes keep polling until it is not."""
    running = db.select(Job.id).where(Job.project_id == project.id, Job.status.not_in(FINISHED_STATUSES))
    deleting = db.select(Deployment.id).where(Deployment.project_id == project.id, Deployment.deleting.is_(True))
    return bool(db.session.scalar(db.select(running.exists() | deleting.exists())))
