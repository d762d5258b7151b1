"""Sign-in and API-token throttling (Flask-Limiter's storage, moving windows)."""
import pytest

from tests.api_helpers import call, token_for
from tests.conftest import AuthActions, FreshGlobalsClient, add_user, csrf_token_from, disposing_context, make_app
from webapp.config import from_environment


def _attempt(client, email, password, address="198.51.100.7"):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_the_eleventh_wrong_password_is_429_and_so_is_the_right_one(client, manager):
    for attempt in range(10):
        assert _attempt(client, "manager@example.org", f"wrong-{attempt}").status_code == 400
    eleventh = _attempt(client, "manager@example.org", "wrong-10")
    assert eleventh.status_code == 429
    assert 0 < int(eleventh.headers["Retry-After"]) <= 900
    assert "Too many failed sign-ins" in eleventh.get_data(as_text=True)
    right = _attempt(client, "manager@example.org", "pw-manager")
    assert right.status_code == 429 and "Retry-After" in right.headers
    assert client.get("/projects/").status_code == 302
    # The lock is per account: another user signs in from another address.
    add_user("other@example.org", "pw-other-long")
    assert _attempt(client, "other@example.org", "pw-other-long", "203.0.113.9").status_code == 302


def test_thirty_failures_from_one_address_lock_it_for_every_account(client, manager):
    for attempt in range(30):
        email = f"nobody{attempt % 3}@example.org"
        assert _attempt(client, email, "wrong").status_code == 400
    assert _attempt(client, "manager@example.org", "pw-manager").status_code == 429
    assert _attempt(client, "manager@example.org", "pw-manager", "203.0.113.9").status_code == 302


def test_bad_api_tokens_are_throttled_per_address(app, client, manager, project):
    good = token_for(manager)
    limit = 30
    for attempt in range(limit):
        response = call(client, "GET", "/projects/", f"bad-{attempt}", environ_base={"REMOTE_ADDR": "198.51.100.7"})
        assert response.status_code == 401
    blocked = call(client, "GET", "/projects/", good, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert blocked.status_code == 429
    assert blocked.get_json()["detail"].startswith("Too many requests with an unknown token")
    assert int(blocked.headers["Retry-After"]) > 0
    # Pages never reveal whether a token is valid: a throttled token is no user at all.
    page = client.get("/projects/", headers={"Authorization": f"Token {good}"}, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert page.status_code == 302
    assert call(client, "GET", "/projects/", good, environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200


def test_limits_and_storage_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    monkeypatch.setenv("HUEY_URL", "redis://127.0.0.1:6379/3")
    assert from_environment(tmp_path)["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"
    monkeypatch.setenv("HUEY_URL", "memory://")
    assert from_environment(tmp_path)["RATELIMIT_STORAGE_URI"] == "memory://"
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/4")
    monkeypatch.setenv("SIGN_IN_ACCOUNT_LIMIT", "3 per hour")
    config = from_environment(tmp_path)
    assert config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/4"
    assert config["SIGN_IN_ACCOUNT_LIMIT"] == "3 per hour"


def test_an_unreadable_limit_stops_the_start(tmp_path, request):
    with pytest.raises(ValueError, match="SIGN_IN_IP_LIMIT"):
        make_app("sqlite", tmp_path, request, SIGN_IN_IP_LIMIT="lots")


def _redis_reachable() -> bool:
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


@pytest.mark.skipif(not _redis_reachable(), reason="Redis on 127.0.0.1:6379 not reachable")
def test_counts_in_redis_are_shared_by_every_web_process(backend, tmp_path, request):
    """Two applications (two web processes) on one Redis: failures at one lock the account at the other."""
    import uuid

    # A fresh email is a fresh counter key, so other users of this Redis are left alone.
    uri = "redis://127.0.0.1:6379/9"
    email = f"shared-{uuid.uuid4().hex[:8]}@example.org"
    first = make_app(backend, tmp_path, request, RATELIMIT_STORAGE_URI=uri, SIGN_IN_ACCOUNT_LIMIT="3 per minute")
    with disposing_context(first):
        add_user(email, "right-password")
        first.test_client_class = FreshGlobalsClient
        client = first.test_client()
        for _ in range(3):
            assert _attempt(client, email, "wrong").status_code == 400
    second = make_app(backend, tmp_path, request, RATELIMIT_STORAGE_URI=uri, SIGN_IN_ACCOUNT_LIMIT="3 per minute")
    with disposing_context(second):
        second.test_client_class = FreshGlobalsClient
        assert AuthActions(second.test_client()).login(email, "right-password").status_code == 429
