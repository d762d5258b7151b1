"""Browsers are told the rules: security headers on every kind of response."""
import re
from pathlib import Path


from tests.api_helpers import call, token_for
from tests.conftest import make_app
from webapp.config import from_environment
from webapp.extensions import db

EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


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
