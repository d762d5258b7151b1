"""Migration 0008 on a database with stations in it: names are folded for search, nothing else changes."""
from flask_migrate import upgrade

from tests.app.test_migrations import _fresh_pg_database
from tests.conftest import disposing_context
from webapp import create_app
from webapp.extensions import db


def test_upgrade_to_0008_folds_existing_names_and_keeps_sessions(tmp_path, backend, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("pg_url").rsplit("/", 1)[0] + "/" + _fresh_pg_database(request)
    app = create_app({"INSTANCE_PATH": tmp_path, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
    with disposing_context(app):
        upgrade(revision="0006")
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO project (id, name, description, session_time_gap_seconds, session_keying, created_at) "
                "VALUES (1, 'P', '', 3600, 'date', '2026-01-01 00:00:00')"
            )
            for i, name in ((1, "Étang Nord"), (2, "FORÊT")):
                conn.exec_driver_sql(
                    "INSERT INTO deployment (id, name, project_id, data_source, captures_count, events_count, captures_version, created_at) "
                    f"VALUES ({i}, '{name}', 1, '', 1, 1, 0, '2026-01-01 00:00:00')"
                )
            conn.exec_driver_sql(
                "INSERT INTO event (id, deployment_id, project_id, group_by, start_time, end_time, captures_count) "
                "VALUES (7, 1, 1, '2026-06-01', '2026-06-01 22:00:00', '2026-06-01 23:00:00', 1)"
            )
            conn.exec_driver_sql(
                "INSERT INTO capture (id, deployment_id, path, timestamp, size) VALUES (3, 1, 'a.jpg', '2026-06-01 22:00:00', 0)"
            )
        upgrade()
        with db.engine.connect() as conn:
            stations = conn.exec_driver_sql("SELECT id, search_name, deleting FROM deployment ORDER BY id").all()
            events = conn.exec_driver_sql("SELECT id FROM event").scalars().all()
            captures = conn.exec_driver_sql("SELECT id FROM capture").scalars().all()
    assert [(i, name, bool(deleting)) for i, name, deleting in stations] == [(1, "etang nord", False), (2, "foret", False)]
    assert events == [7] and captures == [3]
