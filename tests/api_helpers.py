"""Helpers shared by the API tests: users with tokens and authenticated calls."""
from tests.conftest import add_user
from webapp.extensions import db

API = "/api/v2"


def token_for(user) -> str:
    token = user.new_api_token()
    db.session.commit()
    return token


def user_with_token(email: str, superuser: bool = False):
    user = add_user(email, superuser=superuser)
    return user, token_for(user)


def headers(token: str | None) -> dict:
    return {"Authorization": f"Token {token}"} if token else {}


def call(client, method: str, path: str, token: str | None = None, json=None, **kwargs):
    sent = {**headers(token), **kwargs.pop("headers", {})}
    return client.open(f"{API}{path}", method=method, headers=sent, json=json, **kwargs)
