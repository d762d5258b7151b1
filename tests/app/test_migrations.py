"""The Alembic migrations build the same schema as the models, on an empty database."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect

from tests.conftest import disposing_context
from webapp import create_app
from webapp.extensions import db


def test_upgrade_empty_database_matches_models(tmp_path, backend, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        url = request.getfixturevalue("pg_url").rsplit("/", 1)[0] + "/" + _fresh_pg_database(request)
    app = create_app({"INSTANCE_PATH": tmp_path, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
    with disposing_context(app):
        upgrade()
        upgrade()  # idempotent
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
                tables = set(inspect(conn).get_table_names())
        finally:
            engine.dispose()
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


def test_upgrade_from_0001_keeps_every_session_and_its_membership(tmp_path, backend, request):
    """A database built by revision 0001 with sessions and captures in it: after the upgrade every
    session keeps its id, span and count, records its station's rule, and holds by span exactly the
    captures that pointed to it."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("pg_url").rsplit("/", 1)[0] + "/" + _fresh_pg_database(request)
    app = create_app({"INSTANCE_PATH": tmp_path, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
    statements = [
        "INSERT INTO project (id, name, description, session_time_gap_seconds, session_keying, created_at) "
        "VALUES (1, 'P', '', 3600, 'night', '2026-01-01 00:00:00')",
        "INSERT INTO deployment (id, name, project_id, data_source, captures_count, events_count, "
        "grouped_gap_seconds, grouped_keying, created_at) VALUES (4, 'S', 1, '', 6, 2, 3600, 'night', '2026-01-01 00:00:00')",
        "INSERT INTO deployment (id, name, project_id, data_source, captures_count, events_count, created_at) "
        "VALUES (5, 'Never grouped', 1, '', 0, 0, '2026-01-01 00:00:00')",
        "INSERT INTO event (id, deployment_id, project_id, group_by, start_time, end_time, captures_count) "
        "VALUES (7, 4, 1, '2026-05-31', '2026-06-01 01:00:00', '2026-06-01 02:00:00', 3)",
        "INSERT INTO event (id, deployment_id, project_id, group_by, start_time, end_time, captures_count) "
        "VALUES (9, 4, 1, '2026-06-01', '2026-06-01 22:00:00', '2026-06-01 22:10:00', 2)",
        "INSERT INTO lock (key, token, owner, acquired_at, expires_at, pending, pass_open) "
        "VALUES ('regroup:deployment:4', 't', 'w', '2026-01-01 00:00:00', '2026-01-01 00:10:00', TRUE, FALSE)",
    ]
    captures = [
        (1, "2026-06-01 01:00:00", 7), (2, "2026-06-01 01:30:00", 7), (3, "2026-06-01 02:00:00", 7),
        (4, "2026-06-01 22:00:00", 9), (5, "2026-06-01 22:10:00", 9), (6, None, None),
    ]
    statements += [
        f"INSERT INTO capture (id, deployment_id, path, timestamp, size, event_id) VALUES ({i}, 4, 'c{i}.jpg', "
        f"{'NULL' if ts is None else repr(ts)}, 0, {'NULL' if event is None else event})"
        for i, ts, event in captures
    ]
    with disposing_context(app):
        upgrade(revision="0001")
        with db.engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
        upgrade()
        with db.engine.connect() as conn:
            events = conn.exec_driver_sql(
                "SELECT id, group_by, start_time, end_time, captures_count, gap_seconds, keying, max_session_seconds "
                "FROM event ORDER BY id"
            ).all()
            members = dict(
                conn.exec_driver_sql(
                    "SELECT capture.id, event.id FROM capture LEFT JOIN event ON event.deployment_id = capture.deployment_id "
                    "AND capture.timestamp >= event.start_time AND capture.timestamp <= event.end_time"
                ).all()
            )
            versions = dict(conn.exec_driver_sql("SELECT id, captures_version FROM deployment").all())
            capture_columns = {c["name"] for c in inspect(conn).get_columns("capture")}
            lock_columns = {c["name"] for c in inspect(conn).get_columns("lock")}
            lock_count = conn.exec_driver_sql("SELECT COUNT(*) FROM lock").scalar()
    parsed = [
        (i, key, _time(start), _time(end), count, gap, keying, cap) for i, key, start, end, count, gap, keying, cap in events
    ]
    assert parsed == [
        (7, "2026-05-31", "2026-06-01 01:00:00", "2026-06-01 02:00:00", 3, 3600, "night", None),
        (9, "2026-06-01", "2026-06-01 22:00:00", "2026-06-01 22:10:00", 2, 3600, "night", None),
    ]
    assert members == {i: event for i, _, event in captures}
    assert versions == {4: 0, 5: 0}
    assert "event_id" not in capture_columns
    assert {"pending", "pass_open"}.isdisjoint(lock_columns) and lock_count == 1


def _time(value) -> str:
    from datetime import datetime

    return value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)[:19]
