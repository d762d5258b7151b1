"""Migration 0013 on a database with users and tokens: every user stays active, invitations can be
stored, and a downgrade drops both without touching the users."""
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from tests.app.test_migrations import _fresh_pg_database
from webapp import create_app
from webapp.extensions import db


def test_upgrade_to_0013_keeps_users_active_and_downgrade_drops_invitations(tmp_path, backend, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("pg_url").rsplit("/", 1)[0] + "/" + _fresh_pg_database(request)
    app = create_app({"INSTANCE_PATH": tmp_path, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
    with app.app_context():
        upgrade(revision="0011")
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO \"user\" (id, email, password_hash, is_superuser, session_version, created_at) "
                "VALUES (1, 'old@example.org', 'pbkdf2:sha256:1$x$y', false, 1, '2026-01-01 00:00:00')"
            )
        upgrade(revision="0013")
        with db.engine.begin() as conn:
            disabled = conn.exec_driver_sql("SELECT disabled_at FROM \"user\" WHERE id = 1").scalar_one()
            conn.exec_driver_sql(
                "INSERT INTO invitation (user_id, token_hash, created_by_id, created_at, expires_at) "
                "VALUES (1, 'abc', 1, '2026-12-04 00:00:00', '2026-12-11 00:00:00')"
            )
        downgrade(revision="0011")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("user")}
            tables = set(inspect(conn).get_table_names())
            emails = conn.exec_driver_sql("SELECT email FROM \"user\"").scalars().all()
        db.engine.dispose()
    assert disabled is None
    assert "disabled_at" not in columns and "invitation" not in tables
    assert emails == ["old@example.org"]
