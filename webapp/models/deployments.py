"""Stations (Deployment), their captures, sessions (Event, a span of one station) and thumbnails."""
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Index, UniqueConstraint
from sqlalchemy.orm import validates

from ..config import DEFAULT_SESSION_GAP_SECONDS
from ..extensions import db
from ..grouping import DEFAULT_KEYING, KEYINGS
from ..text import search_key
from .common import utcnow

if TYPE_CHECKING:
    from .projects import Project


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
    # Decimal degrees (WGS 84), both or neither (projects/coordinates.py); None = not recorded.
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
    # meanwhile (sessions/regroup.py says why a counter and not max(id)).
    captures_version = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # Set while a delete job removes the station's data in batches: no job may start on it.
    deleting = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    # The station's problems (sessions/health.py), replaced by each regroup and sync that finds them
    # different; None until the first regroup.
    health_problems = db.Column(db.JSON)
    health_computed_at = db.Column(db.DateTime)
    # Whether health_problems holds any problem: the stations list filters and badges on it.
    has_problems = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    # {night: captures} counted by the last regroup, at captures_version night_counts_version
    # (sessions/night_counts.py); the operation calendar reads them.
    night_counts = db.Column(db.JSON)
    night_counts_version = db.Column(db.Integer)

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
    # The time read from the file when a clock offset corrected `timestamp`; None means `timestamp` is original.
    original_timestamp = db.Column(db.DateTime)
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
