"""The Alembic migrations build the same schema as the models, on an empty database."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect

from webapp import create_app
from webapp.extensions import db


def test_upgrade_empty_database_matches_models(tmp_path, backend, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        url = request.getfixturevalue("pg_url").rsplit("/", 1)[0] + "/" + _fresh_pg_database(request)
    app = create_app({"INSTANCE_PATH": tmp_path, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
    with app.app_context():
        upgrade()
        upgrade()  # idempotent
        engine = create_engine(url)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            tables = set(inspect(conn).get_table_names())
        engine.dispose()
        db.engine.dispose()
    assert diff == []
    assert {"user", "project", "membership", "deployment", "capture", "event", "job", "lock"} <= tables


def _fresh_pg_database(request) -> str:
    import uuid

    import psycopg

    from tests.conftest import PG_ADMIN_URL

    name = f"ami_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    request.addfinalizer(drop)
    return name
