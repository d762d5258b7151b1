"""Migration 0011 on a database with captures: they gain an empty original time, offsets can be stored, and a
downgrade puts corrected captures back at the time read from their file before dropping both."""
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from tests.app.test_migrations import _fresh_pg_database
from webapp import create_app
from webapp.extensions import db


def test_upgrade_to_0011_keeps_captures_and_downgrade_restores_original_times(tmp_path, backend, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("pg_url").rsplit("/", 1)[0] + "/" + _fresh_pg_database(request)
    app = create_app({"INSTANCE_PATH": tmp_path, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
    with app.app_context():
        upgrade(revision="0009")
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO deployment (id, name, search_name, data_source, captures_count, events_count, captures_version, created_at) "
                "VALUES (1, 'Meadow', 'meadow', '', 2, 0, 0, '2026-01-01 00:00:00')"
            )
            conn.exec_driver_sql(
                "INSERT INTO capture (id, deployment_id, path, timestamp, size) VALUES "
                "(1, 1, 'a.jpg', '2000-01-01 22:00:00', 0), (2, 1, 'b.jpg', '2026-06-01 22:00:00', 0)"
            )
        upgrade(revision="0011")
        with db.engine.begin() as conn:
            before = conn.exec_driver_sql("SELECT id, original_timestamp FROM capture ORDER BY id").all()
            conn.exec_driver_sql(
                "INSERT INTO clock_offset (deployment_id, start_time, end_time, offset_seconds, created_at) "
                "VALUES (1, '2000-01-01 00:00:00', '2000-01-02 00:00:00', 86400, '2026-12-04 00:00:00')"
            )
            conn.exec_driver_sql(
                "UPDATE capture SET original_timestamp = timestamp, timestamp = '2000-01-02 22:00:00' WHERE id = 1")
        downgrade(revision="0009")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("capture")}
            tables = set(inspect(conn).get_table_names())
            after = conn.exec_driver_sql("SELECT id, timestamp FROM capture ORDER BY id").all()
        db.engine.dispose()
    assert [tuple(r) for r in before] == [(1, None), (2, None)]
    assert "original_timestamp" not in columns and "clock_offset" not in tables
    assert [(r[0], str(r[1])[:19]) for r in after] == [(1, "2000-01-01 22:00:00"), (2, "2026-06-01 22:00:00")]
