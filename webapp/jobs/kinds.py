"""What a kind of job is: its stages, their params and the function that does its work.

The kinds themselves are declared above this package, in `webapp.job_types`,
next to nothing but the work they run; this module only knows their shape and
finds the app's registry, so no work function depends on the registry.
"""
from dataclasses import dataclass, field
from typing import Callable

from flask import current_app

from ..models import Deployment
from .recorder import JobRecorder

RUNNING_STATUSES = ("STARTED", "CANCELING")
QUEUED_STATUSES = ("CREATED", "PENDING")


def job_task_id(job_id: int) -> str:
    """The queue's task id of a job, so a queued job can be revoked by its id."""
    return f"job-{job_id}"


class JobError(ValueError):
    """A job that cannot be created or changed as asked (shown to the user)."""


class QueueUnavailable(JobError):
    """The queue refused the job; the job row says FAILURE and why."""


@dataclass(frozen=True)
class Stage:
    """A stage of a job type: its key, name and the params it shows from the start."""
    key: str
    name: str
    params: tuple[str, ...] = ()
    # Whether a job created under this configuration has the stage (None: always).
    enabled: Callable[[dict], bool] | None = field(default=None, repr=False)

    def enabled_in(self, config) -> bool:
        return self.enabled is None or self.enabled(config)


@dataclass(frozen=True)
class JobType:
    """A kind of job: its stages and the function that does its work."""
    key: str
    name: str
    stages: tuple[Stage, ...]
    run: Callable[[Deployment, JobRecorder], None] = field(repr=False)
    # What the log says when the job is cancelled while running.
    cancelled_note: str = "Cancelled while running; the station's previous data is kept."
    # Called with the station's id when a job of this kind ends without its work having run to its
    # end: cancelled before it started, or found lost by the reaper. A cancel or failure while it
    # runs is the work's own to clean up; this is for what a job marked on its station beforehand.
    on_unfinished: Callable[[int], None] | None = field(default=None, repr=False)

    def stages_in(self, config) -> list[Stage]:
        """The stages a job of this type has under `config`."""
        return [stage for stage in self.stages if stage.enabled_in(config)]


def after_unfinished(job) -> None:
    """Let the job's kind undo what it marked on its station, for a job that ended without running to its end."""
    job_type = job_types().get(job.job_type_key)
    if job_type is not None and job_type.on_unfinished is not None and job.deployment_id is not None:
        job_type.on_unfinished(job.deployment_id)


def job_types() -> dict[str, JobType]:
    """The job types the app runs (`app.extensions["job_types"]`, set by `webapp.job_types`)."""
    return current_app.extensions["job_types"]


def get_job_type(key: str) -> JobType:
    """The registered job type for `key`; JobError if there is none."""
    try:
        return job_types()[key]
    except KeyError:
        raise JobError(f"Unknown job type {key!r}.") from None
