"""Shared fixtures: an app on a fresh database (SQLite always, PostgreSQL where
reachable; under CI=true PostgreSQL is required), a client, a CLI runner and
tiny helpers that read like what a user does."""
import os
import re
import socket
import uuid
from contextlib import contextmanager

import pytest
from flask import g, has_app_context
from flask.testing import FlaskClient

os.environ.setdefault("HUEY_URL", "memory://")

from webapp import create_app  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import Deployment, Membership, Project, StorageSource, User  # noqa: E402

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://127.0.0.1:5432/test")
CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')
CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def _pg_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def _backends() -> list[str]:
    wanted = os.environ.get("TEST_DATABASES")
    if wanted:
        return wanted.split(",")
    if os.environ.get("CI") == "true" or _pg_reachable():
        return ["sqlite", "postgresql"]
    return ["sqlite"]


BACKENDS = _backends()


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL database of this test session's own, dropped at the end."""
    import psycopg

    if not _pg_reachable():
        pytest.fail(f"PostgreSQL is required (CI=true) but {PG_ADMIN_URL} does not answer.")
    name = f"ami_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_pg_schema_ready = False


def make_app(backend: str, tmp_path, request, **overrides):
    global _pg_schema_ready
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    data_root = tmp_path / "data"
    data_root.mkdir(exist_ok=True)
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "INSTANCE_PATH": tmp_path / "instance",
        "HUEY_URL": "memory://",
        # No worker takes tasks off a memory queue: the reaper need not wait for claims in flight.
        "JOB_CLAIM_GRACE_SECONDS": 0,
        "DATA_SOURCE_ROOTS": [str(data_root)],
        # scrypt costs 0.1 s a hash or check, several times a test; test_factory checks the real default.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }
    config.update(overrides)
    app = create_app(config)
    with disposing_context(app):
        if backend == "sqlite":
            db.create_all()
        else:
            if not _pg_schema_ready:
                db.drop_all()
                db.create_all()
                _pg_schema_ready = True
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            db.session.execute(db.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            db.session.commit()
    return app


@contextmanager
def disposing_context(app):
    """The app's context; on the way out, failing or not, its session is removed and its engine disposed.

    An engine left with pooled PostgreSQL connections is collected later, in
    whichever test the garbage collector runs, as psycopg's "deleted while
    still open" warning.
    """
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def app(backend, tmp_path, request):
    app = make_app(backend, tmp_path, request)
    with disposing_context(app):
        yield app


@pytest.fixture
def sqlite_app(tmp_path, request):
    """For tests that need the embedded shape only (worker processes, browsers)."""
    app = make_app("sqlite", tmp_path, request)
    with disposing_context(app):
        yield app


class FreshGlobalsClient(FlaskClient):
    """Each request starts with an empty `g`, as in production.

    The fixtures keep one app context open for the whole test and Flask reuses
    it for every request, so flask-login's user (and the identity) cached in
    `g` would otherwise leak from one request into the next.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            g.__dict__.clear()
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = FreshGlobalsClient
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token_from(html: str) -> str:
    match = CSRF_META.search(html) or CSRF_INPUT.search(html)
    assert match, "page carries no CSRF token"
    return next(g for g in match.groups() if g)


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, email="manager@example.org", password="pw-manager"):
        page = self._client.get("/login")
        token = csrf_token_from(page.get_data(as_text=True))
        return self._client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def csrf_token(self) -> str:
        return csrf_token_from(self._client.get("/login").get_data(as_text=True))

    def logout(self):
        page = self._client.get("/projects/")
        token = csrf_token_from(page.get_data(as_text=True))
        return self._client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)


def add_user(email: str, password: str = "pw", superuser: bool = False) -> User:
    user = User(email=email, is_superuser=superuser)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def add_project(name="Project A", members=(), **fields) -> Project:
    """A project with `members` given as (user, role) pairs."""
    project = Project(name=name, **fields)
    db.session.add(project)
    for user, role in members:
        db.session.add(Membership(user=user, project=project, role=role))
    db.session.commit()
    return project


def add_deployment(project=None, name="Station 1", **fields) -> Deployment:
    deployment = Deployment(name=name, project=project, **fields)
    db.session.add(deployment)
    db.session.commit()
    return deployment


def add_source(location, *projects, name=None, **fields):
    """A storage source registered as a superuser would, granted to `projects`."""
    from webapp.sources import storage

    count = db.session.scalar(db.select(db.func.count()).select_from(StorageSource))
    source = storage.register_source({"name": name or f"Source {count + 1}", "location": str(location), **fields})
    for project in projects:
        storage.grant(source, project)
    return source


def grant_data_root(project):
    """The whole data root as one storage source granted to `project`: stations may use any folder in it."""
    from flask import current_app

    return add_source(current_app.config["DATA_SOURCE_ROOTS"][0], project, name=f"Data root for {project.name}")


@pytest.fixture
def manager(app):
    return add_user("manager@example.org", "pw-manager")


@pytest.fixture
def project(app, manager):
    return add_project(members=[(manager, "ProjectManager")])


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium for one browser test module (see tests/browser_site.py)."""
    from tests.browser_site import chromium

    with chromium() as browser:
        yield browser


# -- S3 (a moto server on this machine) -------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    """A bucket on the moto server; the server's own environment points nowhere useful,
    so a sync can only succeed through its storage source's endpoint and keys."""
    import boto3

    for name, value in {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "server-own-key",
        "AWS_SECRET_ACCESS_KEY": "server-own-secret",
        "AWS_DEFAULT_REGION": "eu-west-3",
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                          region_name="us-east-1")
    bucket = f"traps-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


def s3_source(location, endpoint, *projects):
    return add_source(location, *projects, endpoint_url=endpoint, access_key="test", secret_key="test")
