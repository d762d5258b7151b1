"""Who is making the request: browser session or `Authorization: Token …`."""
from flask import request

from .extensions import db, login_manager
from .models import User
from .services.tokens import user_for_token


def user_from_token_header() -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "token" or not token.strip():
        return None
    return user_for_token(token.strip())


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
        if user is None or user.session_version != int(version):
            return None
        return user

    @login_manager.request_loader
    def load_user_from_request(req):
        return user_from_token_header()
