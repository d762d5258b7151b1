"""Jobs with their stages, params and logs; named locks; the history of regroups."""
import re

from sqlalchemy import Index

from ..extensions import db
from .common import utcnow

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
    """A named lock with an owner token and an expiry (see jobs/locks.py)."""

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
