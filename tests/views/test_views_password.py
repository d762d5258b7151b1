"""Changing one's own password in the browser: field errors, the sign-in throttle, sessions, tokens untouched."""
import pytest

from tests.api_helpers import call, token_for
from tests.conftest import AuthActions, csrf_token_from
from webapp.extensions import db
from webapp.models import User

NEW = "a-brand-new-password"
ADDRESS = "198.51.100.7"


def _change(client, current="pw-manager", new=NEW, repeat=NEW, csrf=True, address=ADDRESS):
    data = {"current_password": current, "new_password": new, "repeat_password": repeat}
    if csrf:
        data["csrf_token"] = csrf_token_from(client.get("/account/password").get_data(as_text=True))
    return client.post("/account/password", data=data, environ_base={"REMOTE_ADDR": address})


def _hash():
    db.session.expire_all()
    return db.session.scalar(db.select(User.password_hash).filter_by(email="manager@example.org"))


@pytest.fixture
def signed_in(client, auth, manager):
    auth.login()
    return client


def _field_error(response, field) -> str:
    html = response.get_data(as_text=True)
    assert f'id="{field}" name="{field}" value=""' in html
    start = html.index(f'id="{field}-error"')
    return html[start:html.index("</p>", start)]


@pytest.mark.parametrize(
    "current, new, repeat, field, message",
    [
        ("wrong-password", NEW, NEW, "current_password", "Your current password is not correct."),
        ("", NEW, NEW, "current_password", "Enter your current password."),
        ("pw-manager", NEW, NEW + "x", "repeat_password", "The two new passwords differ."),
        ("pw-manager", "short-pw1", "short-pw1", "new_password", "at least 10 characters"),
    ],
)
def test_a_bad_change_is_a_field_error_and_keeps_the_password(signed_in, auth, current, new, repeat, field, message):
    before = _hash()
    response = _change(signed_in, current, new, repeat)
    assert response.status_code == 400
    assert message in _field_error(response, field)
    # No password typed is ever sent back.
    if current:
        assert current not in response.get_data(as_text=True)
    assert _hash() == before
    assert signed_in.get("/projects/").status_code == 200
    auth.logout()
    assert auth.login(password="pw-manager").status_code == 302


def test_a_change_signs_out_other_sessions_keeps_this_one_and_tokens(app, signed_in, auth, manager):
    other = app.test_client()
    AuthActions(other).login()
    assert other.get("/projects/").status_code == 200
    token = token_for(manager)
    before = _hash()

    response = _change(signed_in)
    assert response.status_code == 303 and response.headers["Location"].endswith("/account/password")
    page = signed_in.get("/account/password")
    assert page.status_code == 200
    assert "Password changed." in page.get_data(as_text=True)
    assert _hash() != before and _hash().split("$")[0] == before.split("$")[0]
    assert signed_in.get("/projects/").status_code == 200
    other_answer = other.get("/projects/")
    assert other_answer.status_code == 302 and "/login" in other_answer.headers["Location"]
    assert call(app.test_client(), "GET", "/projects/", token).status_code == 200

    fresh = app.test_client()
    assert AuthActions(fresh).login(password="pw-manager").status_code == 400
    assert AuthActions(fresh).login(password=NEW).status_code == 302


def test_the_page_says_tokens_are_not_affected(signed_in):
    html = signed_in.get("/account/password").get_data(as_text=True)
    assert "API tokens</a> are not affected" in html
    assert 'autocomplete="current-password"' in html and 'autocomplete="new-password"' in html
    assert 'href="/account/password"' in signed_in.get("/projects/").get_data(as_text=True)


def test_a_change_without_csrf_is_refused(signed_in):
    before = _hash()
    response = _change(signed_in, csrf=False)
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert _hash() == before


def test_the_page_needs_sign_in(client, manager):
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wrong_current_passwords_count_against_the_sign_in_throttle(app, signed_in, manager):
    # Nine wrong here and one at the sign-in form use up the account's ten.
    for attempt in range(9):
        assert _change(signed_in, current=f"wrong-{attempt}").status_code == 400
    stranger = app.test_client()
    assert AuthActions(stranger).login(password="wrong-9").status_code == 400
    locked = _change(signed_in)
    assert locked.status_code == 429 and 0 < int(locked.headers["Retry-After"]) <= 900
    assert "Too many failed sign-ins" in _field_error(locked, "current_password")
    assert AuthActions(stranger).login(password="pw-manager").status_code == 429
    assert AuthActions(stranger).login(password="pw-manager").status_code == 429
    # Nothing changed, and the form's own failures lock the sign-in form from another address too.
    db.session.expire_all()
    assert db.session.get(User, manager.id).check_password("pw-manager")
    other_address = app.test_client()
    page = other_address.get("/login")
    response = other_address.post(
        "/login",
        data={"email": "manager@example.org", "password": "pw-manager",
              "csrf_token": csrf_token_from(page.get_data(as_text=True))},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert response.status_code == 429
