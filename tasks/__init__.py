"""The app's Huey queue, built from its configuration, and the job queue the services use.

`HUEY_URL`: `sqlite:///path` → SqliteHuey (the embedded default),
`redis://…` → RedisHuey, `memory://` → immediate mode (tasks run inline, for
unit tests). `HUEY_NAME` names the queue, so several sites (or test runs) can
share one Redis. Nothing is built at import time: `init_app` builds the queue
from the app's config when the application factory runs.
"""
import os
from urllib.parse import urlsplit

from huey import MemoryHuey, RedisHuey, SqliteHuey

from webapp.jobs import job_task_id

from .jobs import tasks_on

NAME = "ami-sessions"


def make_huey(url: str, name: str | None = None):
    """The Huey instance for a queue URL (see the module docstring)."""
    name = name or NAME
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryHuey(name, immediate=True)
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else url[len("sqlite://") :]
        if not path.startswith("/"):
            path = "/" + path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return SqliteHuey(name, filename=path)
    if scheme in ("redis", "rediss"):
        return RedisHuey(name, url=url)
    raise ValueError(f"HUEY_URL must start with sqlite://, redis:// or memory://, not {url!r}")


class JobQueue:
    """The services' view of a Huey queue: submit a job's task, revoke it by the job's id.

    Services receive this object (the app's, or one a caller passes) and never
    import `tasks`, so dependencies point one way: tasks → services.
    """

    def __init__(self, huey):
        self.huey = huey
        self.tasks = tasks_on(huey)

    def submit(self, job_id: int, time_limit: float) -> None:
        """Queue the job's task under the job's task id (runs inline in immediate mode).

        Huey's own task timeout, a little above the job's limit, interrupts a
        single step that overruns it (process workers only).
        """
        task = self.tasks.run_job.s(
            job_id, time_limit, id=job_task_id(job_id), timeout=time_limit + min(30.0, 0.1 * time_limit)
        )
        self.huey.enqueue(task)

    def revoke(self, job_id: int) -> None:
        """Make sure the job's queued task never runs."""
        self.huey.revoke_by_id(job_task_id(job_id), revoke_once=True)


def init_app(app) -> None:
    """Build the app's queue from `HUEY_URL` / `HUEY_NAME` and register the job tasks on it."""
    huey = make_huey(app.config["HUEY_URL"], app.config.get("HUEY_NAME"))
    app.extensions["huey"] = huey
    app.extensions["job_queue"] = JobQueue(huey)
    app.extensions["job_queue_for"] = JobQueue
