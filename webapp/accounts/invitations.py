"""Invitations and the users superusers manage from the browser.

An invitation is a one-time link for one user: the token is 256 random bits,
shown once, and only its hash is stored (as for API tokens). It expires after
INVITATION_LIFETIME; opening it lets its holder set the user's password under
the rule of every password, after which it is used and refused.

Inviting an email that has no account creates the user at once without a
password ("invited"): nobody can sign in as them until the link is used, and
a Project manager's invitation gives them their membership right away, so
the members page lists them from the start.
"""
import secrets
from datetime import timedelta

from ..extensions import db
from ..models import Invitation, User, hash_token, utcnow
from ..validation import ValidationError
from . import throttle
from .users import check_new_password, clean_email, end_sessions

INVITATION_LIFETIME = timedelta(days=7)
INVALID_INVITATION = "This invitation link cannot be used: it was used already, has expired, or was withdrawn."


class InvitationInvalid(Exception):
    """An unknown, used or expired link, or one for a disabled user (all answered alike)."""

    def __init__(self):
        super().__init__(INVALID_INVITATION)


class InvitationsThrottled(Exception):
    """Too many invitations made, or too many bad links opened, lately: wait `retry_after` seconds."""

    def __init__(self, retry_after: int, message: str):
        super().__init__(message)
        self.retry_after = retry_after


def _wait_message(wait: int) -> str:
    minutes = max(1, round(wait / 60))
    return f"Too many invitations lately. Try again in {minutes} minute{'s' if minutes != 1 else ''}."


def invite(email, invited_by: User) -> tuple[User, str]:
    """An invitation link's token for `email` (a new user without a password, or one still invited).

    Earlier unused links of that user are withdrawn, so only the newest works.
    A user who already has a password, or is disabled, cannot be invited
    (ValidationError on `email`). Counted against `invited_by` under
    INVITATION_LIMIT (InvitationsThrottled past it).
    """
    wait = throttle.invitations_retry_after(invited_by.id)
    if wait is not None:
        raise InvitationsThrottled(wait, _wait_message(wait))
    try:
        email = clean_email(email)
    except ValueError as error:
        raise ValidationError({"email": [str(error)]}) from None
    user = db.session.scalar(db.select(User).filter_by(email=email))
    if user is not None and user.has_password:
        raise ValidationError({"email": [f"{email} already has an account."]})
    if user is not None and not user.is_active:
        raise ValidationError({"email": [f"{email} is disabled; enable the account before inviting it again."]})
    if user is None:
        user = User(email=email, password_hash="")
        db.session.add(user)
        db.session.flush()
    db.session.execute(db.delete(Invitation).where(Invitation.user_id == user.id, Invitation.used_at.is_(None)))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(Invitation(user_id=user.id, token_hash=hash_token(token), created_by_id=invited_by.id,
                              created_at=now, expires_at=now + INVITATION_LIFETIME))
    db.session.commit()
    throttle.record_invitation_made(invited_by.id)
    return user, token


def needs_invitation(email) -> bool:
    """Whether `email` is valid and belongs to nobody yet, or to a user still invited (no password)."""
    try:
        email = clean_email(email)
    except ValueError:
        return False
    user = db.session.scalar(db.select(User).filter_by(email=email))
    return user is None or (not user.has_password and user.is_active)


def _usable(token, address: str) -> Invitation:
    wait = throttle.invitation_retry_after(address)
    if wait is not None:
        raise InvitationsThrottled(wait, throttle.sign_in_wait_message(wait))
    invitation = None
    if isinstance(token, str) and 0 < len(token) <= 100:
        invitation = db.session.scalar(db.select(Invitation).filter_by(token_hash=hash_token(token)))
    if (invitation is None or invitation.used_at is not None or invitation.expires_at <= utcnow()
            or not invitation.user.is_active):
        throttle.record_invitation_failure(address)
        raise InvitationInvalid()
    return invitation


def open_invitation(token, address: str) -> User:
    """The user an invitation link is for; InvitationInvalid (counted against `address`) if it cannot be used."""
    return _usable(token, address).user


def accept_invitation(token, password, address: str) -> User:
    """Use the link: set the user's password (the rule of every password) and end any other session.

    The link is marked used by one conditional UPDATE, so two submissions of
    the same link cannot both set a password.
    """
    invitation = _usable(token, address)
    try:
        check_new_password(password)
    except ValueError as error:
        raise ValidationError({"password": [str(error)]}) from None
    table = Invitation.__table__
    claimed = db.session.execute(
        table.update().where(table.c.id == invitation.id, table.c.used_at.is_(None)).values(used_at=utcnow())
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise InvitationInvalid()
    user = invitation.user
    user.set_password(password)
    end_sessions(user)
    return user


def all_users() -> list[User]:
    """Every user, by email."""
    return db.session.scalars(db.select(User).order_by(User.email)).all()


def pending_invitations() -> dict[int, Invitation]:
    """user id → their newest unused invitation that has not expired."""
    rows = db.session.scalars(
        db.select(Invitation)
        .where(Invitation.used_at.is_(None), Invitation.expires_at > utcnow())
        .order_by(Invitation.created_at)
    ).all()
    return {row.user_id: row for row in rows}


def set_disabled(user: User, disabled: bool) -> None:
    """Disable a user (every session ends, sign-in and API tokens are refused) or enable them again."""
    if disabled and user.disabled_at is None:
        user.disabled_at = utcnow()
        end_sessions(user)
    elif not disabled:
        user.disabled_at = None
        db.session.commit()

