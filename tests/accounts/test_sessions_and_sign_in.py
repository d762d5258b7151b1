"""Sessions end on sign-out and password change; sign-in reveals nothing and never fails on `next`;
passwords and emails follow one rule everywhere."""
import time

import pytest

from tests.conftest import csrf_token_from
from webapp import accounts
from webapp.extensions import db
from webapp.models import User
from webapp.validation import ValidationError


def test_a_cookie_from_before_logout_is_redirected_to_login(client, auth, manager):
    auth.login()
    saved = client.get_cookie("session").value
    assert client.get("/projects/").status_code == 200
    auth.logout()
    client.set_cookie("session", saved)
    response = client.get("/projects/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_logout_ends_the_users_sessions_in_other_browsers_too(app, client, auth, manager):
    other = app.test_client()
    from tests.conftest import AuthActions

    AuthActions(other).login()
    auth.login()
    auth.logout()
    assert other.get("/projects/").status_code == 302


def test_a_password_change_ends_every_session(client, auth, manager, runner):
    auth.login()
    assert client.get("/projects/").status_code == 200
    result = runner.invoke(args=["set-password", "manager@example.org", "--password", "a-new-long-password"])
    assert result.exit_code == 0, result.output
    assert client.get("/projects/").status_code == 302
    assert auth.login(password="a-new-long-password").status_code == 302
    short = runner.invoke(args=["set-password", "manager@example.org", "--password", "short"])
    assert short.exit_code == 1 and "at least 10 characters" in short.output


def test_the_csrf_secret_rotates_at_sign_in(client, auth, manager):
    before = csrf_token_from(client.get("/login").get_data(as_text=True))
    auth.login()
    after = csrf_token_from(client.get("/projects/").get_data(as_text=True))
    assert before != after
    # A token from before sign-in is refused afterwards.
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    assert client.get("/projects/").status_code == 200


@pytest.mark.parametrize("target", [
    "/projects/\r\nX-Injected: 1", "/\\evil.example", "\\\\evil.example/x",
    "//evil.example", "https://evil.example/", "javascript:alert(1)", "/projects/\x00", "/\x7f",
    "projects/", " /projects/",
])
def test_a_next_that_is_not_a_clean_path_is_ignored(client, manager, target):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", query_string={"next": target},
                           data={"email": "manager@example.org", "password": "pw-manager", "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/projects/"
    assert "X-Injected" not in response.headers


def test_the_probes_crlf_next_signs_in_instead_of_failing(client, manager):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=/projects/%0d%0aX-Injected:1",
                           data={"email": "manager@example.org", "password": "pw-manager", "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/projects/"
    assert client.get("/projects/").status_code == 200


def test_a_clean_next_is_followed(client, manager, project):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", query_string={"next": f"/projects/{project.id}/?page=2"},
                           data={"email": "manager@example.org", "password": "pw-manager", "csrf_token": token})
    assert response.headers["Location"] == f"/projects/{project.id}/?page=2"


def test_unknown_and_known_emails_cost_the_same(app, manager):
    # A hash that costs what a real one does: the suite's cheap one would leave the lookup's own cost to compare.
    app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:100000"
    manager.set_password("pw-manager")
    db.session.commit()

    def cost(email):
        start = time.perf_counter()
        for _ in range(3):
            assert accounts.authenticate(email, "wrong-password") is None
        return time.perf_counter() - start

    known, unknown = cost("manager@example.org"), cost("nobody@example.org")
    # A hash check is tens of milliseconds; a bare lookup is well under one. Equal within a wide margin.
    assert unknown > known / 3


@pytest.mark.parametrize("email, password, field", [
    ("", "long-enough-pw", "email"),
    ("   ", "long-enough-pw", "email"),
    ("no-at-sign", "long-enough-pw", "email"),
    ("a@b", "long-enough-pw", "email"),
    ("a b@example.org", "long-enough-pw", "email"),
    ("ok@example.org", "short", "password"),
    ("ok@example.org", "", "password"),
    ("ok@example.org", "x" * 501, "password"),
])
def test_one_rule_for_emails_and_passwords(app, runner, email, password, field):
    with pytest.raises(ValidationError) as raised:
        accounts.create_user(email, password)
    assert field in raised.value.errors
    result = runner.invoke(args=["create-user", email, "--password", password])
    assert result.exit_code == 1
    assert db.session.scalar(db.select(db.func.count(User.id))) == 0


def test_cli_refuses_the_probes_password_and_blank_email(runner):
    assert runner.invoke(args=["create-user", "x@example.org", "--password", "a"]).exit_code == 1
    assert runner.invoke(args=["create-user", "", "--password", "long-enough-pw"]).exit_code == 1
    created = runner.invoke(args=["create-user", "X@Example.org", "--password", "long-enough-pw"])
    assert created.exit_code == 0
    assert db.session.scalar(db.select(User.email)) == "x@example.org"
