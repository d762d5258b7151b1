"""Browsers are told the rules: security headers on every kind of response."""
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.api_helpers import call, token_for
from tests.conftest import (
    AuthActions,
    FreshGlobalsClient,
    add_deployment,
    add_project,
    add_user,
    grant_data_root,
    make_app,
)
from webapp.config import from_environment
from webapp.extensions import db
from webapp.headers import CONTENT_SECURITY_POLICY
from webapp.models import Capture

EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _assert_headers(response):
    policy = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, name


def test_headers_on_html_json_error_and_static_responses(client, manager, project):
    token = token_for(manager)
    responses = {
        "html": client.get("/login"),
        "json": call(client, "GET", "/projects/", token),
        "html error": client.get("/no-such-page"),
        "json error": call(client, "GET", "/nothing/", token),
        "redirect": client.get("/projects/"),
        "static": client.get("/static/site.css"),
        "static js": client.get("/static/htmx.min.js"),
    }
    assert responses["html error"].status_code == 404 and responses["json error"].status_code == 404
    assert responses["static"].status_code == 200
    for kind, response in responses.items():
        _assert_headers(response)
        response.close()


def test_signed_in_pages_are_not_stored(client, auth, project):
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    auth.login()
    for path in ("/projects/", f"/projects/{project.id}/", "/jobs/", "/no-such-page"):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "no-store", path
        _assert_headers(response)


def test_every_signed_in_answer_that_is_not_a_page_is_not_stored_either(app, client, auth, manager, project):
    """API JSON (token or session), exports, JSON errors, fragments: no-store; thumbnail redirects keep their own."""
    grant_data_root(project)
    folder = Path(app.config["DATA_SOURCE_ROOTS"][0]) / "station"
    folder.mkdir(parents=True, exist_ok=True)
    station = add_deployment(project, "Station", data_source=str(folder))
    token = token_for(manager)
    asks = {
        "json by token": lambda: call(client, "GET", f"/projects/{project.id}/", token),
        "json list by token": lambda: call(client, "GET", f"/jobs/?deployment={station.id}", token),
        "json 404 by token": lambda: call(client, "GET", "/nothing/", token),
        "json 400 by token": lambda: call(client, "PATCH", f"/projects/{project.id}/", token, {"session_time_gap_seconds": -1}),
        "sessions.csv": lambda: call(client, "GET", f"/projects/{project.id}/export/sessions.csv", token),
        "camtrap dp zip": lambda: call(client, "GET", f"/projects/{project.id}/export/camtrap-dp.zip", token),
        "json by session": lambda: client.get(f"/api/v2/deployments/{station.id}/"),
        "openapi": lambda: client.get("/api/v2/openapi.json"),
    }
    for kind, ask in asks.items():
        if kind == "json by session":
            auth.login()
        # Each answer is closed before the next: a streamed export holds its request context until then.
        response = ask()
        assert response.headers.get("Cache-Control") == "no-store", kind
        response.close()
    capture = Capture(deployment_id=station.id, path="20240601220000.jpg", size=1)
    db.session.add(capture)
    db.session.commit()
    redirect = client.get(f"/api/v2/captures/thumbnails/{capture.id}/?label=small")
    assert redirect.status_code in (302, 404)
    if redirect.status_code == 302:
        assert redirect.headers["Cache-Control"] == "private, max-age=300"
    static = client.get("/static/site.css")
    assert "no-store" not in static.headers.get("Cache-Control", "")
    static.close()
    auth.logout()
    assert "no-store" not in client.get("/api/v2/openapi.json").headers.get("Cache-Control", "")


def test_htmx_is_told_not_to_inject_inline_styles_and_templates_have_no_inline_code():
    base = (TEMPLATES / "base.html").read_text()
    assert """<meta name="htmx-config" content='{"includeIndicatorStyles":false}'>""" in base
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", text), template


def test_secure_session_cookie_is_a_setting(monkeypatch, tmp_path, request):
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    assert from_environment(tmp_path)["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "on")
    assert from_environment(tmp_path)["SESSION_COOKIE_SECURE"] is True
    app = make_app("sqlite", tmp_path, request, SESSION_COOKIE_SECURE=True)
    with app.app_context():
        response = app.test_client().get("/login", base_url="https://localhost")
        assert "Secure" in response.headers["Set-Cookie"]
        db.session.remove()
        db.engine.dispose()


def _directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in (p.strip() for p in policy.split(";"))}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _station_with_a_capture(tmp_path):
    from tests.thumbnails.images import CAPTURE_TIME, write_image

    manager = add_user("manager@example.org", "pw-manager")
    project = add_project(members=[(manager, "ProjectManager")])
    grant_data_root(project)
    folder = Path(tmp_path / "data" / "station")
    station = add_deployment(project, "Meadow", data_source=str(folder))
    image = write_image(folder / "20240612220000.jpg")
    capture = Capture(deployment_id=station.id, path=image.name, timestamp=CAPTURE_TIME, size=image.stat().st_size)
    db.session.add(capture)
    db.session.commit()
    return station, capture


@pytest.fixture
def s3_store_app(backend, tmp_path, request, s3, s3_endpoint, monkeypatch):
    """An app started with its thumbnails in a bucket of the moto server (the server's own AWS settings)."""
    _, bucket = s3
    for name, value in {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    app = make_app(backend, tmp_path, request, THUMBNAIL_ROOT=f"s3://{bucket}/thumbs")
    app.test_client_class = FreshGlobalsClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_s3_thumbnails_are_allowed_from_exactly_the_origin_they_redirect_to(s3_store_app, tmp_path, s3_endpoint):
    import urllib.request

    station, capture = _station_with_a_capture(tmp_path)
    client = s3_store_app.test_client()
    AuthActions(client).login()
    page = client.get(f"/deployments/{station.id}/")
    assert page.status_code == 200
    directives = _directives(page)
    redirect = client.get(f"/api/v2/captures/thumbnails/{capture.id}/?label=small")
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert _origin(location) == s3_endpoint
    assert directives["img-src"] == f"'self' {_origin(location)}"
    # Only images widen: everything else is the site's own policy.
    assert {name: value for name, value in directives.items() if name != "img-src"} == {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in CONTENT_SECURITY_POLICY.split("; ")
    }
    assert _directives(redirect) == directives
    with urllib.request.urlopen(location, timeout=10) as answer:
        assert answer.headers["Content-Type"] == "image/jpeg"


def test_a_local_thumbnail_folder_keeps_images_to_the_site(app, client, tmp_path):
    station, capture = _station_with_a_capture(tmp_path)
    AuthActions(client).login()
    page = client.get(f"/deployments/{station.id}/")
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "img-src" not in page.headers["Content-Security-Policy"]
    redirect = client.get(f"/api/v2/captures/thumbnails/{capture.id}/?label=small")
    assert redirect.status_code == 302 and redirect.headers["Location"].startswith("/thumbnails/")


def test_the_origin_is_read_from_a_signed_url_not_the_endpoint(monkeypatch):
    """On AWS a signed URL names the bucket in its host, unlike the client's regional endpoint."""
    from webapp.thumbnails.storage import S3Storage

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "eu-west-3"}.items():
        monkeypatch.setenv(name, value)
    store = S3Storage("thumbs-bucket", "site")
    assert store.redirect_origin() == _origin(store.signed_url("001/1/small.jpg")) != _origin(store.client.meta.endpoint_url)


def test_every_page_links_the_favicon_and_it_is_served_as_svg(client, auth, project):
    from xml.etree import ElementTree

    login = client.get("/login").get_data(as_text=True)
    auth.login()
    projects = client.get("/projects/").get_data(as_text=True)
    link = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
    assert link in login and link in projects
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert ElementTree.fromstring(icon.get_data()).tag == "{http://www.w3.org/2000/svg}svg"
    icon.close()
