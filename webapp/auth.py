"""Who is making the request: browser session or `Authorization: Token …`."""
from flask import g, request
from werkzeug.exceptions import TooManyRequests

from .accounts import record_token_failure, token_retry_after, user_for_token
from .extensions import db, login_manager
from .models import User


def _look_up_token() -> tuple[User | None, int | None]:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "token" or not token.strip():
        return None, None
    address = request.remote_addr or ""
    wait = token_retry_after(address)
    if wait is not None:
        return None, wait
    user = user_for_token(token.strip())
    if user is None:
        record_token_failure(address)
    return user, None


def _token_lookup() -> tuple[User | None, int | None]:
    """(user, seconds to wait) for the request's token: looked up, and a failure counted, once per request."""
    if "token_lookup" not in g:
        g.token_lookup = _look_up_token()
    return g.token_lookup


def user_from_token_header() -> User | None:
    """The user whose token the request carries, or None.

    Unknown tokens are counted per client address; past TOKEN_FAILURE_LIMIT
    the request is answered 429 without the token being looked up.
    """
    user, wait = _token_lookup()
    if wait is not None:
        raise TooManyRequests("Too many requests with an unknown token; try again later.", retry_after=wait)
    return user


def request_has_token() -> bool:
    return request.headers.get("Authorization", "").lower().startswith("token ")


def init_app(app):
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see this page."
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(login_id: str):
        """The user of a session cookie, unless their sessions were ended since it was issued."""
        user_id, _, version = login_id.partition(":")
        if not (user_id.isdigit() and version.isdigit() and len(user_id) <= 10 and len(version) <= 10):
            return None
        user = db.session.get(User, int(user_id))
        if user is None or user.session_version != int(version) or not user.is_active:
            return None
        return user

    @login_manager.request_loader
    def load_user_from_request(req):
        # Pages answer a throttled token as no user at all; the API answers 429.
        return _token_lookup()[0]
