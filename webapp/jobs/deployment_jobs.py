"""Starting regroup and sync jobs for stations, one at a time or in bulk.

The rules for when a station cannot get a job live here, so the station page,
the stations list's bulk actions and the settings page agree on them.
"""
from dataclasses import dataclass, field

from ..extensions import db
from ..models import MAX_DB_ID, Deployment, Job, Project, User
from ..numbers import parse_whole
from .kinds import JobError, QueueUnavailable
from .queue import JobQueue, create_job, enqueue

# The job a station action starts: the page's action name → the job type key.
ACTIONS = {"regroup": "regroup_events", "sync": "data_storage_sync"}


def blocker(job_type_key: str, deployment: Deployment) -> str | None:
    """Why this station cannot get a job of this type now, or None if it can."""
    if deployment.project_id is None:
        return "no project"
    if deployment.deleting:
        return "being deleted"
    if job_type_key == "data_storage_sync" and not (deployment.data_source or "").strip():
        return "no data source"
    return None


def start_job(
    job_type_key: str, deployment: Deployment, user: User | None, queue: JobQueue | None = None,
    options: dict | None = None,
) -> Job:
    """Create and enqueue one job for the station (with its `options`, see queue.create_job);
    JobError says why it cannot.

    QueueUnavailable (a JobError) means the job was created but the queue
    refused it: the job is FAILURE with the reason in its log.
    """
    check_can_start(job_type_key, deployment)
    job = create_job(job_type_key, deployment, user, options)
    return enqueue(job, queue)


def check_can_start(job_type_key: str, deployment: Deployment) -> None:
    """Raise JobError saying why the station cannot get a job of this type now (see `blocker`).

    Every way of starting a station's job goes through it: the pages, the API
    and the `flask sync` / `flask regroup` commands.
    """
    reason = blocker(job_type_key, deployment)
    if reason == "no project":
        raise JobError(f"Station “{deployment.name}” belongs to no project; assign it to a project first.")
    if reason == "being deleted":
        raise JobError(f"Station “{deployment.name}” is being deleted; no job can start on it.")
    if reason == "no data source":
        raise JobError(f"Station “{deployment.name}” has no data source to sync from.")


# Stations named in a bulk action's message; the rest are counted.
NAMED_IN_SUMMARY = 5


@dataclass
class BulkResult:
    """What a bulk action did: the jobs it queued and the stations it skipped, with why."""
    jobs: list[Job] = field(default_factory=list)
    # (label shown to the user, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    queue_down: bool = False

    def summary(self, limit: int = NAMED_IN_SUMMARY) -> dict:
        """What to tell the user, bounded whatever the number of stations (it travels in the session
        cookie as a flash): counts, the first `limit` jobs and skipped stations by name, how many more."""
        return {
            "queued": len(self.jobs),
            "jobs": [[job.id, job.deployment.name] for job in self.jobs[:limit]],
            "more_jobs": max(0, len(self.jobs) - limit),
            "skipped": [[label, reason] for label, reason in self.skipped[:limit]],
            "more_skipped": max(0, len(self.skipped) - limit),
            "project_id": self.jobs[0].project_id if self.jobs else None,
        }

    def start(self, job_type_key: str, deployment: Deployment, user: User | None, queue: JobQueue | None) -> None:
        """Start one station's job, or record why it was skipped; never raises JobError.

        Once the queue has refused a job, the remaining stations are skipped
        without creating jobs that could only fail the same way.
        """
        reason = blocker(job_type_key, deployment)
        if reason:
            self.skipped.append((deployment.name, reason))
            return
        if self.queue_down:
            self.skipped.append((deployment.name, "the job queue is unavailable"))
            return
        try:
            self.jobs.append(start_job(job_type_key, deployment, user, queue))
        except QueueUnavailable as error:
            self.queue_down = True
            self.skipped.append((deployment.name, str(error)))
        except JobError as error:
            self.skipped.append((deployment.name, str(error)))


def start_jobs(
    job_type_key: str, project: Project, deployment_ids, user: User | None, queue: JobQueue | None = None
) -> BulkResult:
    """One job per selected station of this project.

    `deployment_ids` are raw form values: anything that is not the id of a
    station of this project is reported as skipped and never acted on.
    """
    result = BulkResult()
    wanted: list[int] = []
    for raw in deployment_ids:
        value = parse_whole(raw, 1, MAX_DB_ID)
        if value is not None:
            wanted.append(value)
        else:
            result.skipped.append((repr(str(raw))[:40], "not a station id"))
    wanted = list(dict.fromkeys(wanted))
    found = {
        d.id: d
        for d in db.session.scalars(
            db.select(Deployment).where(Deployment.project_id == project.id, Deployment.id.in_(wanted))
        )
    } if wanted else {}
    for deployment_id in wanted:
        deployment = found.get(deployment_id)
        if deployment is None:
            result.skipped.append((f"station {deployment_id}", "not in this project"))
        else:
            result.start(job_type_key, deployment, user, queue)
    return result


def start_jobs_for(
    job_type_key: str, deployments: list[Deployment], user: User | None, queue: JobQueue | None = None
) -> BulkResult:
    """One job per given station (already known to be the caller's), skipping those that cannot."""
    result = BulkResult()
    for deployment in deployments:
        result.start(job_type_key, deployment, user, queue)
    return result
