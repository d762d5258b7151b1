"""Users and their API tokens (only a token's hash is stored)."""
import hashlib
import secrets

from flask import current_app, has_app_context
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from ..config import DEFAULT_PASSWORD_HASH_METHOD
from ..extensions import db
from .common import utcnow


def hash_token(token: str) -> str:
    # API tokens are 256-bit random values, so a fast digest is enough to keep
    # a database leak from revealing usable tokens.
    return hashlib.sha256(token.encode()).hexdigest()


def password_hash_method() -> str:
    """The werkzeug method new password hashes are made with (the app's PASSWORD_HASH_METHOD)."""
    if has_app_context():
        return current_app.config.get("PASSWORD_HASH_METHOD", DEFAULT_PASSWORD_HASH_METHOD)
    return DEFAULT_PASSWORD_HASH_METHOD


class User(UserMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), nullable=False, unique=True)
    password_hash = db.Column(db.String(256), nullable=False)
    is_superuser = db.Column(db.Boolean, nullable=False, default=False)
    # Part of the login id kept in the session cookie: raising it ends every
    # session of the user (sign-out, password change).
    session_version = db.Column(db.Integer, nullable=False, default=1, server_default="1")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # Set when a superuser disables the account: no sign-in, no session, no token from then on.
    disabled_at = db.Column(db.DateTime)

    memberships = db.relationship("Membership", back_populates="user", cascade="all, delete-orphan")
    api_tokens = db.relationship("ApiToken", back_populates="user", cascade="all, delete-orphan")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=password_hash_method())

    @property
    def is_active(self) -> bool:
        # flask-login's notion: login_user refuses an inactive user.
        return self.disabled_at is None

    @property
    def has_password(self) -> bool:
        """False for a user made by an invitation that was not accepted yet (no password can match)."""
        return bool(self.password_hash)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version or 1}"

    def check_password(self, password: str) -> bool:
        return self.has_password and check_password_hash(self.password_hash, password)

    def new_api_token(self, name: str = "cli") -> str:
        """Issue one more API token for the user; only its hash is stored."""
        token = secrets.token_urlsafe(32)
        self.api_tokens.append(ApiToken(name=name, token_hash=hash_token(token)))
        return token

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class ApiToken(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    name = db.Column(db.String(100), nullable=False, default="", server_default="")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # Written at most once a minute per token (see accounts/tokens.py), never per request.
    last_used_at = db.Column(db.DateTime)

    user = db.relationship("User", back_populates="api_tokens")


class Invitation(db.Model):
    """A one-time link that lets its holder set the password of `user`; only the token's hash is stored."""
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id", ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime, nullable=False)
    used_at = db.Column(db.DateTime)

    user = db.relationship("User", foreign_keys=[user_id])
