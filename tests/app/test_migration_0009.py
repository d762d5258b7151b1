"""Migration 0009 on a database with stations in it: they gain an empty place, and a downgrade drops it again."""
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from tests.app.test_migrations import _fresh_pg_database
from webapp import create_app
from webapp.extensions import db


def test_upgrade_to_0009_leaves_existing_stations_unplaced_and_downgrades(tmp_path, backend, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("pg_url").rsplit("/", 1)[0] + "/" + _fresh_pg_database(request)
    app = create_app({"INSTANCE_PATH": tmp_path, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
    with app.app_context():
        upgrade(revision="0008")
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO deployment (id, name, search_name, data_source, captures_count, events_count, captures_version, created_at) "
                "VALUES (1, 'Meadow', 'meadow', '', 0, 0, 0, '2026-01-01 00:00:00')"
            )
        upgrade()
        with db.engine.begin() as conn:
            before = conn.exec_driver_sql("SELECT id, name, latitude, longitude FROM deployment").all()
            conn.exec_driver_sql("UPDATE deployment SET latitude = 45.5352, longitude = -73.1738")
            placed = conn.exec_driver_sql("SELECT latitude, longitude FROM deployment").one()
        downgrade(revision="0008")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("deployment")}
            after = conn.exec_driver_sql("SELECT id, name FROM deployment").all()
        db.engine.dispose()
    assert [tuple(r) for r in before] == [(1, "Meadow", None, None)]
    assert tuple(placed) == (45.5352, -73.1738)
    assert not {"latitude", "longitude"} & columns and [tuple(r) for r in after] == [(1, "Meadow")]
