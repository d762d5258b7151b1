"""User accounts: the rules for emails and passwords, signing in, changing a password, and ending sessions."""
import re
from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import User, password_hash_method
from ..validation import ValidationError
from . import throttle

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 500
MAX_EMAIL_LENGTH = User.email.type.length
# One "@", no spaces, a dot in the domain: what a person can mistype, not RFC 5322.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


@cache
def _dummy_hash(method: str) -> str:
    """A hash checked when the email is unknown, so a wrong email costs as long as a wrong password
    (made with the method real passwords are).

    Made on first use, not at import: scrypt takes ~0.1 s and 32 MB, which
    every worker and CLI process would otherwise pay at start.
    """
    return generate_password_hash("not-a-real-password", method=method)


def clean_email(value) -> str:
    """A valid email address, trimmed and lower-cased."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("An email is required.")
    value = value.strip().lower()
    if len(value) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(value):
        raise ValueError("Enter a valid email address.")
    return value


def check_new_password(value) -> str:
    """A password a user may choose: at least MIN_PASSWORD_LENGTH characters."""
    if not isinstance(value, str) or len(value) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if len(value) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"A password has at most {MAX_PASSWORD_LENGTH} characters.")
    return value


class SignInThrottled(Exception):
    """Too many failed sign-ins for the account or the address: no password is checked for `retry_after` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(throttle.sign_in_wait_message(retry_after))
        self.retry_after = retry_after


def create_user(email, password, superuser: bool = False) -> User:
    """Create a user after checking the email and the password; ValidationError says what is wrong."""
    errors = {}
    try:
        email = clean_email(email)
    except ValueError as error:
        errors["email"] = [str(error)]
    try:
        check_new_password(password)
    except ValueError as error:
        errors["password"] = [str(error)]
    if "email" not in errors and db.session.scalar(db.select(User.id).filter_by(email=email)) is not None:
        errors["email"] = [f"A user with email {email} already exists."]
    if errors:
        raise ValidationError(errors)
    user = User(email=email, is_superuser=superuser)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None; as slow for an unknown email as for a wrong password."""
    user = db.session.scalar(db.select(User).filter_by(email=(email or "").strip().lower()))
    # An invited user has no password yet: checked against the dummy too, so the time does not tell.
    if user is None or not user.has_password:
        check_password_hash(_dummy_hash(password_hash_method()), password or "")
        return None
    # A disabled user is refused after the password check, so the answer takes as long.
    return user if user.check_password(password or "") and user.is_active else None


def end_sessions(user: User) -> None:
    """End every signed-in session of the user: their cookies' login ids stop matching."""
    user.session_version = (user.session_version or 1) + 1
    db.session.commit()


def change_password(user: User, password) -> None:
    """Set a new password (checked like a new user's) and end every session of the user."""
    try:
        check_new_password(password)
    except ValueError as error:
        raise ValidationError({"password": [str(error)]}) from None
    user.set_password(password)
    end_sessions(user)


def change_own_password(user: User, current_password, new_password, repeat_password, address: str) -> None:
    """A signed-in user replaces their own password, proving the current one.

    A wrong current password counts as a failed sign-in of the account and of
    `address`, in the same throttle as the sign-in form, and while either is
    used up nothing is checked (SignInThrottled): the form guesses no faster
    than the sign-in form does. The new password follows the rule of every
    password (check_new_password) and must be typed twice alike.

    Every problem is raised at once as a ValidationError (fields
    `current_password`, `new_password`, `repeat_password`) and nothing
    changes. On success the hash is replaced and every session of the user
    ends, this one too: the caller signs the current browser in again. API
    tokens are left as they are.
    """
    wait = throttle.sign_in_retry_after(user.email, address)
    if wait is not None:
        raise SignInThrottled(wait)
    errors = {}
    if not isinstance(current_password, str) or not current_password:
        errors["current_password"] = ["Enter your current password."]
    elif not user.check_password(current_password):
        throttle.record_sign_in_failure(user.email, address)
        errors["current_password"] = ["Your current password is not correct."]
    try:
        check_new_password(new_password)
    except ValueError as error:
        errors["new_password"] = [str(error)]
    if "new_password" not in errors and repeat_password != new_password:
        errors["repeat_password"] = ["The two new passwords differ."]
    if errors:
        raise ValidationError(errors)
    change_password(user, new_password)
