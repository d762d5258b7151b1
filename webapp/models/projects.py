"""Projects, their members, and the storage sources they may read."""
from sqlalchemy import UniqueConstraint

from ..config import DEFAULT_SESSION_GAP_SECONDS
from ..extensions import db
from .common import utcnow


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
    # Thresholds of the station health checks that differ from their defaults (sessions/health.py HealthRules).
    health_settings = db.Column(db.JSON)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    memberships = db.relationship("Membership", back_populates="project", cascade="all, delete-orphan")
    deployments = db.relationship("Deployment", back_populates="project")

    def __repr__(self) -> str:
        return f"<Project {self.id} {self.name}>"


class StorageSource(db.Model):
    """A place a station's data may come from: a folder under DATA_SOURCE_ROOTS or `s3://bucket/prefix`.

    Registered by a superuser; a project's stations may use it once granted
    (or when it is open to all projects). S3 credentials are stored encrypted
    (see sources/storage.py) and never shown back.
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
