"""Thin tasks: find the app, then let the job runner do the work."""
import os
from contextlib import contextmanager
from types import SimpleNamespace

from huey import crontab

_apps: dict[int, object] = {}


@contextmanager
def _app_context(queue):
    """The caller's context in immediate mode; otherwise a fresh one per task.

    Process workers inherit the parent's app context and its database
    connections, so each process builds its own app and opens a new context.
    """
    from flask import has_app_context

    from webapp.extensions import db

    if queue.immediate and has_app_context():
        yield
        return
    from webapp import create_app

    app = _apps.get(os.getpid())
    if app is None:
        app = _apps[os.getpid()] = create_app()
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()


def _queued_task_ids(queue) -> set[str]:
    """Ids of the tasks waiting in the queue or scheduled for later."""
    return {task.id for task in queue.pending()} | {task.id for task in queue.scheduled()}


def tasks_on(queue) -> SimpleNamespace:
    """The job tasks registered on a Huey instance (once per instance).

    The app's own queue is built by `tasks.init_app`; tests that feed a
    worker's queue from another process register the same tasks, under the
    same names, on theirs.
    """
    registered = getattr(queue, "_ami_tasks", None)
    if registered is not None:
        return registered

    def run_job(job_id: int, time_limit: float | None = None):
        from webapp import jobs

        with _app_context(queue):
            jobs.run_job(job_id, time_limit)

    def reap_stale_jobs():
        from webapp import jobs

        with _app_context(queue):
            return jobs.reap_stale_jobs(queued_task_ids=lambda: _queued_task_ids(queue))

    registered = queue._ami_tasks = SimpleNamespace(
        run_job=queue.task(context=False, name="run_job")(run_job),
        reap_stale_jobs=queue.periodic_task(crontab(minute="*"), name="reap_stale_jobs")(reap_stale_jobs),
    )
    return registered

