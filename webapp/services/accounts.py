"""User accounts: the rules for emails and passwords, signing in, and ending sessions."""
import re

from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import User
from .projects import ValidationError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 500
MAX_EMAIL_LENGTH = User.email.type.length
# One "@", no spaces, a dot in the domain: what a person can mistype, not RFC 5322.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
# Checked when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


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
    """The user with this email and password, or None; as slow for an unknown email as for a wrong password."""
    user = db.session.scalar(db.select(User).filter_by(email=(email or "").strip().lower()))
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    return user if user.check_password(password or "") else None


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
