"""Database models.

Times: capture timestamps are the station's local clock time as written in the
file name, stored naive. Every other time (job, lock, audit) is UTC, stored
naive as well, produced only by `utcnow()`.
"""
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import Index, UniqueConstraint
from sqlalchemy.orm import validates
from werkzeug.security import check_password_hash, generate_password_hash

from .config import DEFAULT_PASSWORD_HASH_METHOD, DEFAULT_SESSION_GAP_SECONDS
from .extensions import db
from .grouping import DEFAULT_KEYING, KEYINGS
from .text import search_key

SESSION_KEYINGS = KEYINGS
# Ids are PostgreSQL `integer`s: a larger number names nothing (and must not reach the database).
MAX_DB_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


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

    memberships = db.relationship("Membership", back_populates="user", cascade="all, delete-orphan")
    api_tokens = db.relationship("ApiToken", back_populates="user", cascade="all, delete-orphan")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=password_hash_method())

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version or 1}"

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

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
    # Written at most once a minute per token (see services/tokens.py), never per request.
    last_used_at = db.Column(db.DateTime)

    user = db.relationship("User", back_populates="api_tokens")


class Project(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
    description = db.Column(db.Text, nullable=False, default="")
    session_time_gap_seconds = db.Column(
        db.Integer,
        nullable=False,
        default=DEFAULT_SESSION_GAP_SECONDS,
        info={
            "help_text": "A new session starts wherever two consecutive captures are at least "
            "this far apart. A change applies to a station the next time it is regrouped."
        },
    )
    session_keying = db.Column(db.String(16), nullable=False, default="date")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    memberships = db.relationship("Membership", back_populates="project", cascade="all, delete-orphan")
    deployments = db.relationship("Deployment", back_populates="project")

    def __repr__(self) -> str:
        return f"<Project {self.id} {self.name}>"


class StorageSource(db.Model):
    """A place a station's data may come from: a folder under DATA_SOURCE_ROOTS or `s3://bucket/prefix`.

    Registered by a superuser; a project's stations may use it once granted
    (or when it is open to all projects). S3 credentials are stored encrypted
    (see services/storage.py) and never shown back.
    """

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False, unique=True)
    location = db.Column(db.String(1024), nullable=False)
    endpoint_url = db.Column(db.String(1024))
    access_key_encrypted = db.Column(db.Text)
    secret_key_encrypted = db.Column(db.Text)
    open_to_all_projects = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    grants = db.relationship("StorageGrant", back_populates="source", cascade="all, delete-orphan")

    @property
    def is_s3(self) -> bool:
        return self.location.startswith("s3://")

    @property
    def has_credentials(self) -> bool:
        return bool(self.access_key_encrypted)

    def __repr__(self) -> str:
        return f"<StorageSource {self.id} {self.name}>"


class StorageGrant(db.Model):
    """A project's permission to use a storage source for its stations."""

    id = db.Column(db.Integer, primary_key=True)
    source_id = db.Column(db.Integer, db.ForeignKey("storage_source.id", ondelete="CASCADE"), nullable=False)
    project_id = db.Column(db.Integer, db.ForeignKey("project.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    source = db.relationship("StorageSource", back_populates="grants")
    project = db.relationship("Project")

    __table_args__ = (UniqueConstraint("source_id", "project_id"),)


class Membership(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    project_id = db.Column(db.Integer, db.ForeignKey("project.id", ondelete="CASCADE"), nullable=False)
    role = db.Column(db.String(32), nullable=False)

    user = db.relationship("User", back_populates="memberships")
    project = db.relationship("Project", back_populates="memberships")

    __table_args__ = (UniqueConstraint("user_id", "project_id"),)


@dataclass(frozen=True)
class GroupingRule:
    """The gap and keying that apply to a station, and where each comes from.

    The one home of "which gap applies": the station's own gap, else its
    project's; a missing, zero or negative value falls back to the default
    (`gap_source` "default", `configured_gap` keeps the bad value). An unknown
    keying falls back to "date". Pages, API, preview and regroup all ask this.
    """

    gap_seconds: int
    gap_source: str  # "station", "project" or "default"
    configured_gap: int | None
    keying: str
    configured_keying: str | None

    @classmethod
    def of(cls, deployment: "Deployment") -> "GroupingRule":
        project = deployment.project
        if deployment.session_time_gap_seconds is not None:
            configured, source = deployment.session_time_gap_seconds, "station"
        elif project is not None:
            configured, source = project.session_time_gap_seconds, "project"
        else:
            configured, source = None, "default"
        gap = configured if configured is not None and configured > 0 else DEFAULT_SESSION_GAP_SECONDS
        configured_keying = project.session_keying if project is not None else None
        keying = configured_keying if configured_keying in KEYINGS else DEFAULT_KEYING
        return cls(gap, source if gap == configured else "default", configured, keying, configured_keying)

    @property
    def gap_fell_back(self) -> bool:
        """A gap was configured but is not usable (zero or negative)."""
        return self.configured_gap is not None and self.gap_source == "default"

    @property
    def keying_fell_back(self) -> bool:
        return self.configured_keying is not None and self.configured_keying != self.keying


class Deployment(db.Model):
    """A monitoring station."""

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
    # `name` folded for searching (see text.search_key); kept in step with `name`
    # on every ORM assignment, and on Core inserts through the column default.
    search_name = db.Column(
        db.Text, nullable=False, default=lambda context: search_key(context.get_current_parameters().get("name"))
    )
    project_id = db.Column(db.Integer, db.ForeignKey("project.id", ondelete="SET NULL"), index=True)
    data_source = db.Column(db.String(1024), nullable=False, default="")
    # None means "use the project's gap".
    session_time_gap_seconds = db.Column(db.Integer)
    # IANA name of the station's clock; only adds the UTC offset where a time leaves the site.
    time_zone = db.Column(db.String(64), nullable=False, default="UTC", server_default="UTC")
    # Decimal degrees (WGS 84), both or neither (services/coordinates.py); None = not recorded.
    latitude = db.Column(db.Float)
    longitude = db.Column(db.Float)

    captures_count = db.Column(db.Integer, nullable=False, default=0)
    events_count = db.Column(db.Integer, nullable=False, default=0)
    first_capture_timestamp = db.Column(db.DateTime)
    last_capture_timestamp = db.Column(db.DateTime)

    last_regrouped_at = db.Column(db.DateTime)
    grouped_gap_seconds = db.Column(db.Integer)
    grouped_keying = db.Column(db.String(16))
    # Bumped in the same transaction as every insert of its captures: a regroup
    # compares it before and after its pass to know whether captures arrived
    # meanwhile (services/regroup.py says why a counter and not max(id)).
    captures_version = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # Set while a delete job removes the station's data in batches: no job may start on it.
    deleting = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())

    project = db.relationship("Project", back_populates="deployments")

    @validates("name")
    def _keep_search_name(self, key, name):
        self.search_name = search_key(name)
        return name

    @property
    def has_coordinates(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def grouping_rule(self) -> "GroupingRule":
        """The gap and keying a regroup of this station uses now, with where each comes from."""
        return GroupingRule.of(self)

    @property
    def grouped_with_other_settings(self) -> bool:
        """Whether its sessions were cut with another gap or keying than a regroup would use now.

        Read from cached fields only, so a list of stations can show it without a query per row.
        """
        if self.project is None or not self.captures_count:
            return False
        rule = self.grouping_rule
        return self.grouped_gap_seconds != rule.gap_seconds or self.grouped_keying != rule.keying

    def __repr__(self) -> str:
        return f"<Deployment {self.id} {self.name}>"


class Capture(db.Model):
    """One image taken by a station (a source image)."""

    id = db.Column(db.Integer, primary_key=True)
    deployment_id = db.Column(
        db.Integer, db.ForeignKey("deployment.id", ondelete="CASCADE"), nullable=False
    )
    path = db.Column(db.String(1024), nullable=False)
    timestamp = db.Column(db.DateTime)
    size = db.Column(db.BigInteger, nullable=False, default=0)
    # The source file's modification time as the sync saw it (None for captures
    # synced before it was recorded): thumbnails older than it are remade.
    last_modified = db.Column(db.DateTime)

    __table_args__ = (
        UniqueConstraint("deployment_id", "path"),
        # The regroup's ordered read and every span lookup are ranges of this index.
        Index("ix_capture_deployment_timestamp", "deployment_id", "timestamp"),
    )


class Event(db.Model):
    """A session: the span `[start, end]` of one station's captures, keyed by `group_by`.

    A station's spans never overlap, so a capture belongs to the session of its
    station whose span holds its timestamp; no capture row names its session.
    The rule the session was cut with (gap, keying, cap) is kept beside it.
    """

    id = db.Column(db.Integer, primary_key=True)
    deployment_id = db.Column(
        db.Integer, db.ForeignKey("deployment.id", ondelete="CASCADE"), nullable=False
    )
    project_id = db.Column(db.Integer, db.ForeignKey("project.id", ondelete="SET NULL"))
    group_by = db.Column(db.String(32), nullable=False)
    # "end" is reserved in SQL; the columns carry a suffix so raw SQL needs no quoting.
    start = db.Column("start_time", db.DateTime)
    end = db.Column("end_time", db.DateTime)
    captures_count = db.Column(db.Integer, nullable=False, default=0)
    gap_seconds = db.Column(db.Integer)
    keying = db.Column(db.String(16))
    max_session_seconds = db.Column(db.Integer)

    __table_args__ = (
        UniqueConstraint("deployment_id", "group_by"),
        Index("ix_event_deployment_start", "deployment_id", "start_time"),
    )

    deployment = db.relationship("Deployment")

    @property
    def project(self) -> "Project | None":
        """The project whose permissions apply: the station's (sessions follow their station)."""
        return self.deployment.project if self.deployment is not None else None

    @property
    def duration_seconds(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds()


class Thumbnail(db.Model):
    """A generated thumbnail of one capture at one configured size (label)."""

    id = db.Column(db.Integer, primary_key=True)
    capture_id = db.Column(db.Integer, db.ForeignKey("capture.id", ondelete="CASCADE"), nullable=False)
    label = db.Column(db.String(32), nullable=False)
    # The configured width it was made for, not the encoder's (which can be
    # 1–2 px less): a changed configuration is detected by comparing it.
    width = db.Column(db.Integer, nullable=False)
    height = db.Column(db.Integer, nullable=False)
    # The storage key under THUMBNAIL_ROOT; empty means it must be made again.
    path = db.Column(db.String(1024), nullable=False, default="")
    source_mtime = db.Column(db.DateTime)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("capture_id", "label"),)


JOB_STATUSES = ("CREATED", "PENDING", "STARTED", "SUCCESS", "FAILURE", "CANCELING", "REVOKED")
FINISHED_STATUSES = ("SUCCESS", "FAILURE", "REVOKED")


def param_key(name: str) -> str:
    """A param's key: its name lower-cased with non-alphanumerics turned into `_`."""
    return re.sub(r"[^a-z0-9]", "_", name.lower())


class Job(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
    job_type_key = db.Column(db.String(64), nullable=False, index=True)
    status = db.Column(db.String(16), nullable=False, default="CREATED", index=True)
    deployment_id = db.Column(
        db.Integer, db.ForeignKey("deployment.id", ondelete="SET NULL"), index=True
    )
    # The station's name, kept when the station is deleted so the job still says what it was for.
    deployment_name = db.Column(db.String(200))
    project_id = db.Column(db.Integer, db.ForeignKey("project.id", ondelete="SET NULL"), index=True)
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id", ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    started_at = db.Column(db.DateTime)
    finished_at = db.Column(db.DateTime)
    heartbeat_at = db.Column(db.DateTime)
    cancel_requested = db.Column(db.Boolean, nullable=False, default=False)
    progress = db.Column(db.JSON, nullable=False, default=dict)
    logs = db.Column(db.JSON, nullable=False, default=dict)

    deployment = db.relationship("Deployment")
    project = db.relationship("Project")
    created_by = db.relationship("User")

    # A station's newest jobs: its page's recent jobs, the list's "last job failed".
    __table_args__ = (Index("ix_job_deployment_created", "deployment_id", "created_at", "id"),)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def stages(self) -> list[dict]:
        return (self.progress or {}).get("stages", [])

    def stage(self, key: str) -> dict | None:
        return next((s for s in self.stages if s["key"] == key), None)

    def param(self, stage_key: str, key: str):
        stage = self.stage(stage_key)
        if stage is None:
            return None
        return next((p["value"] for p in stage["params"] if p["key"] == key), None)

    @property
    def has_warning(self) -> bool:
        return any(" WARNING " in line for line in (self.logs or {}).get("stdout", []))


class Lock(db.Model):
    """A named lock with an owner token and an expiry (see services/locks.py)."""

    key = db.Column(db.String(200), primary_key=True)
    token = db.Column(db.String(64), nullable=False)
    owner = db.Column(db.String(200), nullable=False, default="")
    acquired_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime, nullable=False)


class RegroupRecord(db.Model):
    """One regroup that did work: when, by whom, with which rule, sessions before → after."""

    __tablename__ = "regroup_record"

    id = db.Column(db.Integer, primary_key=True)
    deployment_id = db.Column(db.Integer, db.ForeignKey("deployment.id", ondelete="CASCADE"), nullable=False)
    job_id = db.Column(db.Integer, db.ForeignKey("job.id", ondelete="SET NULL"))
    user_id = db.Column(db.Integer, db.ForeignKey("user.id", ondelete="SET NULL"))
    finished_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    gap_seconds = db.Column(db.Integer, nullable=False)
    keying = db.Column(db.String(16), nullable=False)
    max_session_seconds = db.Column(db.Integer, nullable=False)
    sessions_before = db.Column(db.Integer, nullable=False)
    sessions_after = db.Column(db.Integer, nullable=False)

    user = db.relationship("User")

    __table_args__ = (Index("ix_regroup_record_deployment_finished", "deployment_id", "finished_at"),)
