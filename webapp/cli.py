"""Command-line interface (`flask --app wsgi …`)."""
import logging
from pathlib import Path

import click
from flask import current_app
from flask_migrate import upgrade

from .extensions import db
from .models import User


@click.command("init-db")
def init_db_command():
    """Create or upgrade the database schema (idempotent)."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    click.echo("Database is up to date.")


@click.command("create-user")
@click.argument("email")
@click.option("--password", required=True, help="The new user's password.")
@click.option("--superuser", is_flag=True, help="Allow this user everything.")
def create_user_command(email: str, password: str, superuser: bool):
    """Create a user; fails if the email is taken or invalid, or the password is under 10 characters."""
    from . import accounts
    from .validation import ValidationError

    try:
        user = accounts.create_user(email, password, superuser=superuser)
    except ValidationError as error:
        raise click.ClickException(" ".join(m for messages in error.errors.values() for m in messages)) from None
    click.echo(f"Created {'superuser' if superuser else 'user'} {user.email}.")


@click.command("set-password")
@click.argument("email")
@click.option("--password", required=True, help="The new password (at least 10 characters).")
def set_password_command(email: str, password: str):
    """Change a user's password; every session of the user ends."""
    from . import accounts
    from .validation import ValidationError

    user = db.session.scalar(db.select(User).filter_by(email=email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    try:
        accounts.change_password(user, password)
    except ValidationError as error:
        raise click.ClickException(" ".join(error.errors["password"])) from None
    click.echo(f"Password of {user.email} changed; their sessions have ended.")


@click.command("create-token")
@click.argument("email")
def create_token_command(email: str):
    """Print a new API token for the user, named "cli" (earlier tokens keep working)."""
    user = db.session.scalar(db.select(User).filter_by(email=email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    token = user.new_api_token("cli")
    db.session.commit()
    click.echo(token)


@click.command("seed-demo")
def seed_demo_command():
    """Create the demo project, stations, captures and users (idempotent)."""
    from .demo import seed_demo

    roots = current_app.config["DATA_SOURCE_ROOTS"]
    data_root = Path(roots[0])
    data_root.mkdir(parents=True, exist_ok=True)
    created = seed_demo(data_root)
    if not created:
        click.echo("Demo data already present; nothing created.")
    for line in created:
        click.echo(f"Created {line}")


@click.command("announce")
@click.option("--url", required=True, help="The site's address, asked until it answers.")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait for an answer.")
def announce_command(url: str, timeout: float):
    """Wait until the site answers at URL, then print the demo sign-in in a box (what `make run` shows last)."""
    import time
    import urllib.error
    import urllib.request

    from .demo import sign_in_box

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}/login", timeout=2):
                break
        except urllib.error.HTTPError:
            break  # any HTTP answer means the server is up
        except OSError:
            if time.monotonic() >= deadline:
                click.echo(f"The site did not answer at {url} within {timeout:g} s.", err=True)
                raise SystemExit(1)
            time.sleep(0.3)
    click.echo("\n" + sign_in_box(url) + "\n")


@click.command("worker")
@click.option("-w", "--workers", default=1, show_default=True, help="Number of worker processes.")
def worker_command(workers: int):
    """Run a Huey consumer for the configured queue."""
    from tasks.consumer import make_consumer

    huey = current_app.extensions["huey"]
    # Job log lines (and Huey's own) also go to the worker's output, for whoever runs it.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    make_consumer(huey, workers, float(current_app.config["REAPER_INTERVAL_SECONDS"])).run()


def _run_job_in_foreground(job_type_key: str, deployment_id: int, options: dict | None = None) -> None:
    """Create a job for the station, run it here (not via the queue), print its stage params."""
    from . import jobs
    from .models import Deployment, Job

    deployment = db.session.get(Deployment, deployment_id)
    if deployment is None:
        raise click.ClickException(f"No station with id {deployment_id}.")
    try:
        jobs.check_can_start(job_type_key, deployment)
        job = jobs.create_job(job_type_key, deployment, options=options)
    except jobs.JobError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Job {job.id}: {job.name} of station {deployment.id} ({deployment.name})")
    try:
        job = jobs.run_job(job.id)
    except Exception:
        # The job row holds the traceback; say what failed below.
        db.session.rollback()
        db.session.expire_all()
        job = db.session.get(Job, job.id)
    for stage in job.stages:
        for param in stage["params"]:
            click.echo(f"{stage['name']} / {param['name']}: {param['value']}")
    for line in job.logs.get("stdout", []):
        if " WARNING " in line:
            click.echo(line, err=True)
    if job.status != "SUCCESS":
        errors = [line for line in job.logs.get("stdout", []) if " ERROR " in line]
        reason = f": {errors[-1].split(' ERROR ', 1)[1]}" if errors else ""
        raise click.ClickException(f"Job {job.id} ended {job.status}{reason}")
    click.echo(f"Job {job.id} SUCCESS")


@click.command("regroup")
@click.argument("deployment_id", type=int)
def regroup_command(deployment_id: int):
    """Regroup a station's captures into sessions now, as a job; print its stats."""
    _run_job_in_foreground("regroup_events", deployment_id)


@click.command("sync")
@click.argument("deployment_id", type=int)
@click.option("--since-last", is_flag=True, help="A quick sync: list only what follows the newest night.")
def sync_command(deployment_id: int, since_last: bool):
    """Sync a station with its data source now, then regroup it, as a job; print its stats."""
    _run_job_in_foreground("data_storage_sync", deployment_id, {"since": "last"} if since_last else None)


def init_app(app):
    for command in (
        init_db_command,
        create_user_command,
        set_password_command,
        create_token_command,
        seed_demo_command,
        announce_command,
        worker_command,
        regroup_command,
        sync_command,
    ):
        app.cli.add_command(command)
