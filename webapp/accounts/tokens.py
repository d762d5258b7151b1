"""API tokens: issuing named tokens, listing and revoking them, and knowing who a token is.

Only a token's hash is stored, so a token is shown once, when it is issued.
Its last use is recorded at most once a minute (LAST_USE_RESOLUTION), so the
API does not write to the database on every request, and through a
connection of its own that gives up at once when the database is busy: a
missed mark is simply written on a later request.
"""
from datetime import timedelta

from sqlalchemy.exc import OperationalError

from ..extensions import db
from ..models import ApiToken, User, hash_token, utcnow
from ..sql import short_wait
from ..validation import ValidationError

LAST_USE_RESOLUTION = timedelta(minutes=1)
LAST_USE_WAIT_MS = 50
MAX_TOKEN_NAME_LENGTH = ApiToken.name.type.length


class TokenNotFound(LookupError):
    """No token of this user has that id."""


def clean_token_name(value) -> str:
    """A token's name: what it is for, non-empty, at most MAX_TOKEN_NAME_LENGTH characters."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("Give the token a name, for example the script that will use it.")
    value = value.strip()
    if len(value) > MAX_TOKEN_NAME_LENGTH:
        raise ValueError(f"At most {MAX_TOKEN_NAME_LENGTH} characters.")
    return value


def issue_token(user: User, name) -> tuple[ApiToken, str]:
    """A new token for the user; returns its row and the token itself (never stored)."""
    try:
        name = clean_token_name(name)
    except ValueError as error:
        raise ValidationError({"name": [str(error)]}) from None
    token = user.new_api_token(name)
    db.session.commit()
    row = db.session.scalar(db.select(ApiToken).filter_by(token_hash=hash_token(token)))
    return row, token


def user_tokens(user: User) -> list[ApiToken]:
    """The user's tokens, newest first."""
    return db.session.scalars(
        db.select(ApiToken).filter_by(user_id=user.id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).all()


def revoke_token(user: User, token_id: int) -> ApiToken:
    """Delete one of the user's tokens; from the next request on it is refused (401)."""
    token = db.session.scalar(db.select(ApiToken).filter_by(id=token_id, user_id=user.id))
    if token is None:
        raise TokenNotFound(token_id)
    db.session.delete(token)
    db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    """The user a presented token belongs to, or None; marks the token as used (throttled)."""
    row = db.session.execute(
        db.select(ApiToken.id, ApiToken.user_id, ApiToken.last_used_at).where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        # A disabled user's tokens are refused like unknown ones (and counted as such).
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USE_RESOLUTION:
        _mark_used(row.id, now)
    return user


def _mark_used(token_id: int, now) -> None:
    table = ApiToken.__table__
    stale = db.or_(table.c.last_used_at.is_(None), table.c.last_used_at <= now - LAST_USE_RESOLUTION)
    try:
        with short_wait(db.engine, LAST_USE_WAIT_MS) as conn:
            conn.execute(table.update().where(table.c.id == token_id, stale).values(last_used_at=now))
            conn.commit()
    except OperationalError:
        return
