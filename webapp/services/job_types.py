"""The kinds of job: their stages, their params and the function that does their work.

Shared by the side that creates and cancels jobs (`jobs.py`) and the worker
side that runs them (`job_runner.py`).
"""
from dataclasses import dataclass, field
from typing import Callable

from ..models import Deployment
from .job_recorder import JobRecorder

RUNNING_STATUSES = ("STARTED", "CANCELING")
QUEUED_STATUSES = ("CREATED", "PENDING")

REGROUP_PARAMS = (
    "Captures grouped",
    "Events created",
    "Events touched",
    "Empty events deleted",
    "Duplicate timestamps",
    "Ungrouped captures",
    "Captures missing timestamp",
)
SYNC_PARAMS = ("Total files", "Captures added", "Failed", "Files missing from source", "Unreadable files", "Files changed")
THUMBNAIL_PARAMS = ("Generated", "Reused", "Failed")
DELETE_PARAMS = ("Captures deleted", "Sessions deleted", "Thumbnails deleted", "Jobs unlinked")


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

    def stages_in(self, config) -> list[Stage]:
        """The stages a job of this type has under `config`."""
        return [stage for stage in self.stages if stage.enabled_in(config)]


def _run_regroup(deployment: Deployment, recorder: JobRecorder) -> None:
    from .regroup import regroup_deployment

    regroup_deployment(deployment, job=recorder, stage_key="regroup_events")


def _thumbnails_configured(config) -> bool:
    from .thumbnails import configured_sizes

    return bool(configured_sizes(config))


def _run_sync(deployment: Deployment, recorder: JobRecorder) -> None:
    from .sync import sync_deployment

    sync_deployment(deployment, job=recorder)


def _run_delete(deployment: Deployment, recorder: JobRecorder) -> None:
    from .station_delete import delete_station

    delete_station(deployment, recorder)


JOB_TYPES: dict[str, JobType] = {
    job_type.key: job_type
    for job_type in (
        JobType(
            "regroup_events",
            "Regroup sessions",
            (Stage("regroup_events", "Regroup sessions", REGROUP_PARAMS),),
            _run_regroup,
        ),
        JobType(
            "data_storage_sync",
            "Data storage sync",
            (
                Stage("data_storage_sync", "Data storage sync", SYNC_PARAMS),
                Stage("regroup_sessions", "Regroup sessions", REGROUP_PARAMS),
                Stage("thumbnails", "Thumbnails", THUMBNAIL_PARAMS, enabled=_thumbnails_configured),
            ),
            _run_sync,
        ),
        JobType(
            "delete_deployment",
            "Delete station",
            (Stage("delete_deployment", "Delete station", DELETE_PARAMS),),
            _run_delete,
            cancelled_note="Cancelled while running; what was deleted before the cancel stays deleted, "
            "the rest of the station is kept.",
        ),
    )
}


def get_job_type(key: str) -> JobType:
    """The registered job type for `key`; JobError if there is none."""
    try:
        return JOB_TYPES[key]
    except KeyError:
        raise JobError(f"Unknown job type {key!r}.") from None
