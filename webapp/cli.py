"""Command-line interface (`flask --app wsgi …`)."""
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
    """Create a user; fails if the email is taken."""
    email = email.strip().lower()
    if db.session.scalar(db.select(User).filter_by(email=email)):
        raise click.ClickException(f"A user with email {email} already exists.")
    if not password:
        raise click.ClickException("The password must not be empty.")
    user = User(email=email, is_superuser=superuser)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"Created {'superuser' if superuser else 'user'} {email}.")


@click.command("create-token")
@click.argument("email")
def create_token_command(email: str):
    """Print a new API token for the user (the previous one stops working)."""
    user = db.session.scalar(db.select(User).filter_by(email=email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    token = user.new_api_token()
    db.session.commit()
    click.echo(token)


@click.command("seed-demo")
def seed_demo_command():
    """Create the demo project, stations, captures and users (idempotent)."""
    from .services.demo import seed_demo

    roots = current_app.config["DATA_SOURCE_ROOTS"]
    data_root = Path(roots[0])
    data_root.mkdir(parents=True, exist_ok=True)
    created = seed_demo(data_root)
    if not created:
        click.echo("Demo data already present; nothing created.")
    for line in created:
        click.echo(f"Created {line}")


@click.command("worker")
@click.option("-w", "--workers", default=1, show_default=True, help="Number of worker processes.")
def worker_command(workers: int):
    """Run a Huey consumer for the configured queue."""
    from tasks import huey
    from tasks import jobs  # noqa: F401  (registers the tasks the consumer runs)

    # A short polling delay keeps the embedded (SQLite) queue responsive;
    # Redis blocks on its own and ignores it.
    consumer = huey.create_consumer(workers=workers, worker_type="process", max_delay=0.5)
    consumer.run()


def init_app(app):
    for command in (init_db_command, create_user_command, create_token_command, seed_demo_command, worker_command):
        app.cli.add_command(command)
