"""The API tokens page: create (shown once), list without the secret, revoke; last use throttled."""
import re
from datetime import timedelta

from tests.api_helpers import call
from tests.conftest import add_user, csrf_token_from
from webapp.accounts import tokens as token_service
from webapp.extensions import db
from webapp.models import ApiToken, utcnow

NEW_TOKEN = re.compile(r'<code id="new-token" class="token">([^<]+)</code>')


def _post(client, url, data):
    token = csrf_token_from(client.get("/account/tokens").get_data(as_text=True))
    return client.post(url, data=dict(data, csrf_token=token))


def _session_cookie(client) -> dict:
    """The signed session cookie as the server would read it back."""
    from flask import current_app

    cookie = client.get_cookie(current_app.config["SESSION_COOKIE_NAME"])
    return current_app.session_interface.get_signing_serializer(current_app).loads(cookie.value) if cookie else {}


def _create(client, name):
    page = _post(client, "/account/tokens", {"name": name})
    assert page.status_code == 200, "the token is shown in the answer to the POST, not after a redirect"
    match = NEW_TOKEN.search(page.get_data(as_text=True))
    assert match, "the new token is not shown"
    return match.group(1), page


def test_a_new_token_never_travels_in_the_session_cookie(client, auth, manager):
    auth.login()
    token, page = _create(client, "cookie check")
    assert token not in repr(_session_cookie(client))
    assert all(token not in header for header in page.headers.getlist("Set-Cookie"))
    assert "Token “cookie check” created" in page.get_data(as_text=True)


def test_top_bar_links_to_the_tokens_page(client, auth, manager):
    auth.login()
    assert 'href="/account/tokens"' in client.get("/projects/").get_data(as_text=True)


def test_a_new_token_is_shown_once_then_listed_by_name_only(client, auth, manager):
    auth.login()
    token, page = _create(client, "nightly export")
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert 'data-copy-from="new-token"' in html and "shown only this once" in html
    assert "<script>" not in html.split("</head>", 1)[1]
    assert call(client, "GET", "/projects/", token).status_code == 200
    again = client.get("/account/tokens").get_data(as_text=True)
    assert token not in again and 'id="new-token"' not in again
    assert "nightly export" in again
    row = db.session.scalar(db.select(ApiToken).filter_by(user_id=manager.id))
    assert row.name == "nightly export" and row.token_hash != token


def test_token_list_shows_creation_and_last_use(client, auth, manager):
    auth.login()
    token, _ = _create(client, "script")
    html = client.get("/account/tokens").get_data(as_text=True)
    assert "never" in html
    client.get("/api/v2/projects/", headers={"Authorization": f"Token {token}"})
    db.session.expire_all()
    row = db.session.scalar(db.select(ApiToken).filter_by(name="script"))
    assert row.last_used_at is not None
    html = client.get("/account/tokens").get_data(as_text=True)
    assert row.last_used_at.strftime("%Y-%m-%d %H:%M:%S") in html


def test_empty_or_long_name_is_a_field_error(client, auth, manager):
    auth.login()
    response = _post(client, "/account/tokens", {"name": "  "})
    assert response.status_code == 400
    assert "Give the token a name" in response.get_data(as_text=True)
    response = _post(client, "/account/tokens", {"name": "x" * 101})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "At most 100 characters." in html and 'value="' + "x" * 101 + '"' in html
    assert db.session.scalar(db.select(db.func.count(ApiToken.id))) == 0


def test_a_revoked_token_gets_401_at_once_and_others_keep_working(client, auth, manager):
    auth.login()
    first, _ = _create(client, "first")
    second, _ = _create(client, "second")
    assert call(client, "GET", "/projects/", first).status_code == 200
    row = db.session.scalar(db.select(ApiToken).filter_by(name="first"))
    response = _post(client, f"/account/tokens/{row.id}/revoke", {})
    assert response.status_code == 303
    assert "Token “first” revoked" in client.get("/account/tokens").get_data(as_text=True)
    auth.logout()
    assert call(client, "GET", "/projects/", first).status_code == 401
    assert call(client, "GET", "/projects/", second).status_code == 200


def test_nobody_revokes_someone_elses_token(client, auth, manager):
    other = add_user("other@example.org")
    theirs = other.new_api_token("theirs")
    db.session.commit()
    row = db.session.scalar(db.select(ApiToken).filter_by(user_id=other.id))
    auth.login()
    assert _post(client, f"/account/tokens/{row.id}/revoke", {}).status_code == 404
    assert "theirs" not in client.get("/account/tokens").get_data(as_text=True)
    auth.logout()
    assert call(client, "GET", "/projects/", theirs).status_code == 200


def test_revoke_needs_csrf(client, auth, manager):
    auth.login()
    _create(client, "kept")
    row = db.session.scalar(db.select(ApiToken).filter_by(name="kept"))
    assert client.post(f"/account/tokens/{row.id}/revoke").status_code == 400
    assert db.session.get(ApiToken, row.id) is not None


def test_last_use_is_written_at_most_once_a_minute(client, manager, app):
    token = manager.new_api_token("throttled")
    db.session.commit()
    row_id = db.session.scalar(db.select(ApiToken.id).filter_by(name="throttled"))
    table = ApiToken.__table__
    writes = []

    from sqlalchemy import event

    def count_writes(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE API_TOKEN"):
            writes.append(statement)

    event.listen(db.engine, "before_cursor_execute", count_writes)
    try:
        for _ in range(5):
            assert call(client, "GET", "/projects/", token).status_code == 200
        assert len(writes) == 1
        db.session.expire_all()
        first_use = db.session.get(ApiToken, row_id).last_used_at
        assert first_use is not None
        # A minute later, the next request marks it once more.
        earlier = first_use - token_service.LAST_USE_RESOLUTION - timedelta(seconds=1)
        db.session.execute(table.update().where(table.c.id == row_id).values(last_used_at=earlier))
        db.session.commit()
        writes.clear()
        for _ in range(3):
            assert call(client, "GET", "/projects/", token).status_code == 200
        assert len(writes) == 1
        db.session.expire_all()
        assert db.session.get(ApiToken, row_id).last_used_at > earlier
    finally:
        event.remove(db.engine, "before_cursor_execute", count_writes)


def test_create_token_cli_names_its_tokens_cli(runner, manager):
    result = runner.invoke(args=["create-token", "manager@example.org"])
    assert result.exit_code == 0
    assert db.session.scalar(db.select(ApiToken.name).filter_by(user_id=manager.id)) == "cli"
    assert utcnow() - db.session.scalar(db.select(ApiToken.created_at)) < timedelta(minutes=1)


def test_tokens_page_needs_sign_in(client):
    assert client.get("/account/tokens").status_code == 302
