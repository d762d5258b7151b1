"""Jobs: their rows, the queue, the worker side that runs them, what they record, and the station lock.

This package knows the shape of a kind of job (`JobType`, `Stage`) but not the
kinds themselves: those are registered above it, in `webapp.job_types`, and
found through the app. Work functions in other rooms report into the
`JobRecorder` they are handed.
"""
from . import locks
from .deployment_jobs import ACTIONS, BulkResult, blocker, check_can_start, start_job, start_jobs, start_jobs_for
from .kinds import (
    QUEUED_STATUSES,
    RUNNING_STATUSES,
    JobError,
    JobType,
    QueueUnavailable,
    Stage,
    get_job_type,
    job_task_id,
    job_types,
)
from .listing import JobFilters, jobs_page, project_busy, recent_jobs, unfinished
from .queue import JobQueue, cancel, create_job, enqueue, job_queue
from .recorder import JobCancelled, JobRecorder, JobTimeLimitExceeded, log_line
from .runner import reap_stale_jobs, reloaded, run_job

__all__ = [
    "ACTIONS",
    "blocker",
    "check_can_start",
    "BulkResult",
    "cancel",
    "create_job",
    "enqueue",
    "get_job_type",
    "job_queue",
    "job_task_id",
    "job_types",
    "JobCancelled",
    "JobError",
    "JobFilters",
    "JobQueue",
    "JobRecorder",
    "jobs_page",
    "JobTimeLimitExceeded",
    "JobType",
    "locks",
    "log_line",
    "QUEUED_STATUSES",
    "QueueUnavailable",
    "reap_stale_jobs",
    "project_busy",
    "recent_jobs",
    "reloaded",
    "run_job",
    "RUNNING_STATUSES",
    "Stage",
    "start_job",
    "start_jobs",
    "start_jobs_for",
    "unfinished",
]
