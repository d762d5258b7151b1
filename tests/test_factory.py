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


def test_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///" + str(tmp_path / "other.db"))
    monkeypatch.setenv("DATA_SOURCE_ROOTS", f"{tmp_path}/a:{tmp_path}/b")
    monkeypatch.setenv("REGROUP_LOCK_TTL_SECONDS", "30")
    app = create_app({"INSTANCE_PATH": tmp_path})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("other.db")
    assert app.config["DATA_SOURCE_ROOTS"] == [f"{tmp_path}/a", f"{tmp_path}/b"]
    assert app.config["REGROUP_LOCK_TTL_SECONDS"] == 30


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_app):
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


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
