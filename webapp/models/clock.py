"""Clock offsets: corrections of a station's capture times, kept as rows, never by rewriting files."""
from sqlalchemy import Index

from ..extensions import db
from .common import utcnow


class ClockOffset(db.Model):
    """Captures of a station whose ORIGINAL time lies in `[start, end]` are shown at original + `offset_seconds`.

    `start` and `end` are the station's local clock, like capture times. A
    station's offsets never overlap (checked when one is added), so each
    original time has at most one correction.
    """

    __tablename__ = "clock_offset"

    id = db.Column(db.Integer, primary_key=True)
    deployment_id = db.Column(db.Integer, db.ForeignKey("deployment.id", ondelete="CASCADE"), nullable=False)
    # "end" is reserved in SQL, as on `event`.
    start = db.Column("start_time", db.DateTime, nullable=False)
    end = db.Column("end_time", db.DateTime, nullable=False)
    offset_seconds = db.Column(db.BigInteger, nullable=False)
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id", ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_clock_offset_deployment_start", "deployment_id", "start_time"),)

    deployment = db.relationship("Deployment")
    created_by = db.relationship("User")

    @property
    def project(self):
        """The project whose permissions apply: the station's."""
        return self.deployment.project if self.deployment is not None else None
