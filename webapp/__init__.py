"""ami-sessions: group insect-monitoring captures into sessions."""
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from . import config as config_module
from .extensions import csrf, db, limiter, login_manager, migrate, principal

MIGRATIONS_DIR = str(config_module.REPO_ROOT / "migrations")


def create_app(config: dict | None = None) -> Flask:
    """Build the application; nothing runs at import time."""
    instance_path = Path((config or {}).get("INSTANCE_PATH", config_module.INSTANCE_PATH))
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(config_module.REPO_ROOT / "templates"),
        static_folder=str(config_module.REPO_ROOT / "static"),
    )
    # "/api/v2/projects/1" and "/api/v2/projects/1/" are the same resource; a
    # redirect would answer an API client with an HTML page.
    app.url_map.strict_slashes = False
    app.config.from_mapping(config_module.from_environment(instance_path))
    if config:
        app.config.update(config)
    instance_path.mkdir(parents=True, exist_ok=True)
    proxies = int(app.config.get("TRUSTED_PROXY_COUNT") or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind nginx the client's address and scheme arrive in headers the proxy sets.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    from .request_body import ChunkedBodyLimit

    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, app.config.get("MAX_CONTENT_LENGTH"))
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    principal.init_app(app)
    limiter.init_app(app)

    import tasks

    from . import auth, cli, errors, filters, headers, job_types, permissions, thumbnails
    from .accounts import check_settings
    from .sessions import check_lock_settings
    from .views import register_blueprints

    check_settings(app.config)
    check_lock_settings(app.config)
    tasks.init_app(app)
    job_types.init_app(app)

    auth.init_app(app)
    permissions.init_app(app)
    errors.init_app(app)
    headers.init_app(app)
    filters.init_app(app)
    cli.init_app(app)
    thumbnails.init_app(app)
    register_blueprints(app)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL lets the web server read while the worker writes; SQLite needs FKs switched on."""
    import sqlite3

    from .sql import SQLITE_BUSY_TIMEOUT_MS

    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Pool, "checkout")
def _postgresql_application_name(dbapi_connection, connection_record, connection_proxy):
    """Name each PostgreSQL connection after what uses it (see sql.labelled_connections)."""
    if type(dbapi_connection).__module__.startswith("psycopg"):
        from .sql import name_connection

        name_connection(dbapi_connection, connection_record)
