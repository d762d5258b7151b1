"""Thin tasks: find the app, then let the jobs service do the work."""
import os
from contextlib import contextmanager

from tasks import huey

_apps: dict[int, object] = {}


@contextmanager
def _app_context():
    """The caller's context in immediate mode; otherwise a fresh one per task.

    Process workers inherit the parent's app context and its database
    connections, so each process builds its own app and opens a new context.
    """
    from flask import has_app_context

    from webapp.extensions import db

    if huey.immediate and has_app_context():
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


@huey.task(context=False)
def run_job(job_id: int):
    from webapp.services import jobs

    with _app_context():
        jobs.run_job(job_id)
