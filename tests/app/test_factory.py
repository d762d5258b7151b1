import pytest

from webapp import create_app
from webapp.extensions import db


def test_testing_config_is_applied(app):
    assert app.testing
    assert app.config["HUEY_URL"] == "memory://"


def test_default_config_uses_instance_folder(tmp_path, monkeypatch):
    for name in ("DATABASE_URL", "HUEY_URL", "SECRET_KEY", "DATA_SOURCE_ROOTS"):
        monkeypatch.delenv(name, raising=False)
    app = create_app({"INSTANCE_PATH": tmp_path})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'app.db'}"
    assert app.config["HUEY_URL"] == f"sqlite:///{tmp_path / 'huey.db'}"
    assert app.config["DATA_SOURCE_ROOTS"] == [str(tmp_path / "data")]
    assert app.config["REGROUP_LOCK_TTL_SECONDS"] == 660
    # The secret key is persisted, so a restart keeps sessions valid.
    again = create_app({"INSTANCE_PATH": tmp_path})
    assert len(app.config["SECRET_KEY"]) == 64
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]


def test_passwords_are_hashed_with_scrypt_outside_the_test_suite(tmp_path, monkeypatch):
    """The suite's fast hash is its own: a site started from the environment uses scrypt,
    and so does a password set outside any app (CLI code paths before the app is up)."""
    from webapp.extensions import db
    from webapp.models import User

    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"INSTANCE_PATH": tmp_path})
    assert app.config["PASSWORD_HASH_METHOD"] == "scrypt"
    with app.app_context():
        user = User(email="someone@example.org")
        user.set_password("a long enough password")
        assert user.password_hash.startswith("scrypt:")
        assert user.check_password("a long enough password")
        db.engine.dispose()
    outside = User(email="other@example.org")
    outside.set_password("a long enough password")
    assert outside.password_hash.startswith("scrypt:")


def test_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///" + str(tmp_path / "other.db"))
    monkeypatch.setenv("DATA_SOURCE_ROOTS", f"{tmp_path}/a:{tmp_path}/b")
    monkeypatch.setenv("REGROUP_LOCK_TTL_SECONDS", "30")
    monkeypatch.setenv("JOB_TIME_LIMIT_SECONDS", "20")
    app = create_app({"INSTANCE_PATH": tmp_path})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("other.db")
    assert app.config["DATA_SOURCE_ROOTS"] == [f"{tmp_path}/a", f"{tmp_path}/b"]
    assert app.config["REGROUP_LOCK_TTL_SECONDS"] == 30


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_app):
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_trusted_proxy_headers_are_read_only_when_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("REAPER_INTERVAL_SECONDS", "5")
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "ami.example.org"}
    seen = {}
    for proxies in (0, 1):
        app = create_app({"INSTANCE_PATH": tmp_path, "TRUSTED_PROXY_COUNT": proxies, "HUEY_URL": "memory://"})

        @app.get("/_where")
        def where():
            from flask import request

            return f"{request.scheme} {request.host} {request.remote_addr}"

        seen[proxies] = app.test_client().get("/_where", headers=forwarded).get_data(as_text=True)
        assert app.config["REAPER_INTERVAL_SECONDS"] == 5
    assert seen[0] == "http localhost 127.0.0.1"
    assert seen[1] == "https ami.example.org 203.0.113.7"


def test_postgresql_connections_are_named_after_their_job(app):
    """An operator finds a job's backend, and the process behind it, in pg_stat_activity."""
    import os

    from webapp.sql import labelled_connections

    if db.engine.dialect.name != "postgresql":
        pytest.skip("application_name is PostgreSQL's")
    with labelled_connections("job 7"):
        with db.engine.connect() as conn:
            named = conn.exec_driver_sql("SHOW application_name").scalar()
    with db.engine.connect() as conn:
        plain = conn.exec_driver_sql("SHOW application_name").scalar()
    assert named == f"ami-sessions job 7 (pid {os.getpid()})"
    assert plain == f"ami-sessions (pid {os.getpid()})"


def test_each_app_builds_its_queue_from_its_own_config(tmp_path, monkeypatch):
    from huey import MemoryHuey, SqliteHuey

    import tasks

    monkeypatch.setenv("HUEY_URL", "memory://")  # the app's config wins over what the environment said
    assert not hasattr(tasks, "huey")  # nothing is built at import time
    app = create_app({"INSTANCE_PATH": tmp_path, "HUEY_URL": f"sqlite:///{tmp_path / 'q.db'}", "HUEY_NAME": "site-b"})
    queue = app.extensions["huey"]
    assert isinstance(queue, SqliteHuey) and queue.name == "site-b" and queue.storage.filename == str(tmp_path / "q.db")
    assert sorted(queue._registry._registry) == ["tasks.jobs.reap_stale_jobs", "tasks.jobs.run_job"]
    assert app.extensions["job_queue"].huey is queue
    other = create_app({"INSTANCE_PATH": tmp_path, "HUEY_URL": "memory://"})
    assert isinstance(other.extensions["huey"], MemoryHuey) and other.extensions["huey"] is not queue


def test_a_regroup_lock_that_could_expire_before_its_job_ends_stops_the_start(tmp_path):
    base = {"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'a.db'}",
            "INSTANCE_PATH": tmp_path, "HUEY_URL": "memory://"}
    with pytest.raises(ValueError, match=r"REGROUP_LOCK_TTL_SECONDS \(600\) must be longer than JOB_TIME_LIMIT_SECONDS \(600\)"):
        create_app({**base, "REGROUP_LOCK_TTL_SECONDS": 600, "JOB_TIME_LIMIT_SECONDS": 600})
    assert create_app({**base, "REGROUP_LOCK_TTL_SECONDS": 601, "JOB_TIME_LIMIT_SECONDS": 600}).config["REGROUP_LOCK_TTL_SECONDS"] == 601
