"""Users from the browser: superusers create, disable and invite users; an invitation is a one-time
link (only its hash stored, 7 days) that sets the new user's password; a Project manager who adds an
email with no account gets such a link, and the person is a member at once."""
import re
from datetime import timedelta

import pytest

from tests.api_helpers import call, token_for
from tests.conftest import AuthActions, FreshGlobalsClient, add_user, csrf_token_from
from webapp.extensions import db
from webapp.models import Invitation, Membership, User, hash_token, utcnow

LINK = re.compile(r'<code id="new-invitation" class="token">(http://localhost/invite/([A-Za-z0-9_-]+))</code>')


@pytest.fixture
def admin(app):
    return add_user("root@example.org", "pw-root-long", superuser=True)


def _signed_in(app, email, password):
    app.test_client_class = FreshGlobalsClient
    client = app.test_client()
    assert AuthActions(client).login(email, password).status_code == 302
    return client


def _post(client, path, data, page="/projects/"):
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


def _invite(client, email):
    response = _post(client, "/admin/users/invite", {"invite_email": email})
    assert response.status_code == 200, response.get_data(as_text=True)
    url, token = LINK.search(response.get_data(as_text=True)).groups()
    return url, token


def _accept(app, token, password, address="198.51.100.20"):
    app.test_client_class = FreshGlobalsClient
    client = app.test_client()
    opened = client.get(f"/invite/{token}", environ_base={"REMOTE_ADDR": address})
    if opened.status_code != 200:
        return client, opened
    csrf = csrf_token_from(opened.get_data(as_text=True))
    answer = client.post(f"/invite/{token}", data={"password": password, "csrf_token": csrf},
                         environ_base={"REMOTE_ADDR": address})
    return client, answer


def test_invitation_path_create_open_set_password_sign_in_and_reuse(app, admin):
    client = _signed_in(app, "root@example.org", "pw-root-long")
    url, token = _invite(client, "New.Person@Example.org")
    # Only the hash is stored; the user exists, invited, with no usable password.
    invitation = db.session.scalar(db.select(Invitation))
    assert invitation.token_hash == hash_token(token) and token not in invitation.token_hash
    assert timedelta(days=7) - timedelta(minutes=1) < invitation.expires_at - invitation.created_at <= timedelta(days=7)
    invited = db.session.scalar(db.select(User).filter_by(email="new.person@example.org"))
    assert not invited.has_password and invited.is_active
    assert AuthActions(app.test_client()).login("new.person@example.org", "").status_code == 400
    listing = client.get("/admin/users").get_data(as_text=True)
    assert "invited, link valid until" in listing and token not in listing  # shown once

    guest = app.test_client()
    opened = guest.get(f"/invite/{token}")
    assert opened.status_code == 200 and "new.person@example.org" in opened.get_data(as_text=True)
    csrf = csrf_token_from(opened.get_data(as_text=True))
    # No CSRF token: refused, and the link stays usable.
    assert guest.post(f"/invite/{token}", data={"password": "a-good-long-password"}).status_code == 400
    # The password policy of every password.
    short = guest.post(f"/invite/{token}", data={"password": "short", "csrf_token": csrf})
    assert short.status_code == 400 and "at least 10 characters" in short.get_data(as_text=True)
    accepted = guest.post(f"/invite/{token}", data={"password": "a-good-long-password", "csrf_token": csrf})
    assert accepted.status_code == 303 and accepted.headers["Location"] == "/projects/"
    assert guest.get("/projects/").status_code == 200  # signed in as the new user
    assert _signed_in(app, "new.person@example.org", "a-good-long-password").get("/account/tokens").status_code == 200

    # Used: the link is refused, whoever opens it.
    _, reused = _accept(app, token, "another-long-password")
    assert reused.status_code == 404 and "cannot be used" in reused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, invited.id).check_password("a-good-long-password")


def test_expired_and_unknown_links_are_refused(app, admin):
    client = _signed_in(app, "root@example.org", "pw-root-long")
    _, token = _invite(client, "late@example.org")
    invitation = db.session.scalar(db.select(Invitation))
    invitation.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    _, expired = _accept(app, token, "a-good-long-password")
    assert expired.status_code == 404 and "expired" in expired.get_data(as_text=True)
    _, unknown = _accept(app, "not-a-token", "a-good-long-password")
    assert unknown.status_code == 404
    # A new invitation withdraws the old link and works.
    _, fresh = _invite(client, "late@example.org")
    _, old = _accept(app, token, "a-good-long-password")
    assert old.status_code == 404
    _, accepted = _accept(app, fresh, "a-good-long-password")
    assert accepted.status_code == 303


def test_bad_links_are_throttled_per_address(app, admin):
    client = _signed_in(app, "root@example.org", "pw-root-long")
    _, token = _invite(client, "patient@example.org")
    guesser = app.test_client()
    for attempt in range(30):
        assert guesser.get(f"/invite/guess-{attempt}", environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code == 404
    locked = guesser.get(f"/invite/{token}", environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    # Another address still gets in with the real link.
    _, accepted = _accept(app, token, "a-good-long-password", address="192.0.2.10")
    assert accepted.status_code == 303


def test_making_invitations_is_throttled_per_inviter(app, admin):
    app.config["INVITATION_LIMIT"] = "3 per hour"
    client = _signed_in(app, "root@example.org", "pw-root-long")
    for number in range(3):
        _invite(client, f"person{number}@example.org")
    fourth = _post(client, "/admin/users/invite", {"invite_email": "person3@example.org"})
    assert fourth.status_code == 429 and "Too many invitations" in fourth.get_data(as_text=True)
    assert db.session.scalar(db.select(User).filter_by(email="person3@example.org")) is None


def test_disabled_user_cannot_sign_in_use_a_session_a_token_or_an_invitation(app, admin, project, manager):
    token = token_for(manager)
    assert call(app.test_client(), "GET", "/projects/", token).status_code == 200
    session = _signed_in(app, "manager@example.org", "pw-manager")
    client = _signed_in(app, "root@example.org", "pw-root-long")
    _, link = _invite(client, "pending@example.org")
    pending = db.session.scalar(db.select(User).filter_by(email="pending@example.org"))
    for user in (manager, pending):
        response = _post(client, f"/admin/users/{user.id}/disable", {"action": "disable"})
        assert response.status_code == 303
    assert "disabled" in client.get("/admin/users").get_data(as_text=True)
    # Their open session ends, sign-in and API tokens are refused, and the invitation too.
    assert session.get("/projects/").status_code == 302
    assert AuthActions(app.test_client()).login("manager@example.org", "pw-manager").status_code == 400
    assert call(app.test_client(), "GET", "/projects/", token).status_code == 401
    _, refused = _accept(app, link, "a-good-long-password")
    assert refused.status_code == 404
    # Enabled again: the same password and token work.
    assert _post(client, f"/admin/users/{manager.id}/disable", {"action": "enable"}).status_code == 303
    assert AuthActions(app.test_client()).login("manager@example.org", "pw-manager").status_code == 302
    assert call(app.test_client(), "GET", "/projects/", token).status_code == 200
    # Nobody disables themselves.
    assert _post(client, f"/admin/users/{admin.id}/disable", {"action": "disable"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(User, admin.id).is_active


def test_superuser_creates_a_user_with_field_errors(app, admin):
    client = _signed_in(app, "root@example.org", "pw-root-long")
    bad = _post(client, "/admin/users", {"email": "not-an-email", "password": "short"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "Enter a valid email address." in text and "at least 10 characters" in text
    assert 'value="not-an-email"' in text
    created = _post(client, "/admin/users", {"email": "made@example.org", "password": "a-good-long-password"})
    assert created.status_code == 303
    assert _signed_in(app, "made@example.org", "a-good-long-password").get("/projects/").status_code == 200
    twice = _post(client, "/admin/users", {"email": "made@example.org", "password": "a-good-long-password"})
    assert twice.status_code == 400 and "already exists" in twice.get_data(as_text=True)
    invite_existing = _post(client, "/admin/users/invite", {"invite_email": "made@example.org"})
    assert invite_existing.status_code == 400 and "already has an account" in invite_existing.get_data(as_text=True)
    escaped = _post(client, "/admin/users", {"email": "<b>x</b>@example.org", "password": "x"})
    assert "<b>x</b>" not in escaped.get_data(as_text=True)


def test_manager_adding_an_email_without_account_gets_a_link_and_a_member(app, project, manager):
    client = _signed_in(app, "manager@example.org", "pw-manager")
    path = f"/projects/{project.id}/members"
    answer = _post(client, path, {"email": "colleague@example.org", "role": "Researcher"}, page=path)
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    url, token = LINK.search(text).groups()
    assert "colleague@example.org" in text and "invited" in text
    colleague = db.session.scalar(db.select(User).filter_by(email="colleague@example.org"))
    assert db.session.scalar(db.select(Membership.role).filter_by(user_id=colleague.id, project_id=project.id)) == "Researcher"
    # Adding them again gives a new link (the lost one is withdrawn) and keeps one membership.
    again = _post(client, path, {"email": "colleague@example.org", "role": "BasicMember"}, page=path)
    _, new_token = LINK.search(again.get_data(as_text=True)).groups()
    assert new_token != token
    assert db.session.scalar(db.select(db.func.count()).select_from(Membership).filter_by(user_id=colleague.id)) == 1
    guest, accepted = _accept(app, new_token, "colleague-password")
    assert accepted.status_code == 303
    assert guest.get(f"/projects/{project.id}/").status_code == 200
    # A bad email or role is still a field error, and no user is made.
    bad = _post(client, path, {"email": "nobody@example.org", "role": "Emperor"}, page=path)
    assert bad.status_code == 400 and db.session.scalar(db.select(User).filter_by(email="nobody@example.org")) is None
