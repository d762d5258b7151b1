"""Database models, one module per area; every model is importable from here.

Times: capture timestamps are the station's local clock time as written in the
file name, stored naive. Every other time (job, lock, audit) is UTC, stored
naive as well, produced only by `utcnow()`.
"""
from .accounts import ApiToken, Invitation, User, hash_token, password_hash_method
from .clock import ClockOffset
from .common import MAX_DB_ID, SESSION_KEYINGS, utcnow
from .deployments import Capture, Deployment, Event, GroupingRule, Thumbnail
from .jobs import FINISHED_STATUSES, JOB_STATUSES, Job, Lock, RegroupRecord, param_key
from .projects import Membership, Project, StorageGrant, StorageSource

__all__ = [
    "ApiToken",
    "Capture",
    "ClockOffset",
    "Deployment",
    "Event",
    "FINISHED_STATUSES",
    "GroupingRule",
    "hash_token",
    "Invitation",
    "Job",
    "JOB_STATUSES",
    "Lock",
    "MAX_DB_ID",
    "Membership",
    "param_key",
    "password_hash_method",
    "Project",
    "RegroupRecord",
    "SESSION_KEYINGS",
    "StorageGrant",
    "StorageSource",
    "Thumbnail",
    "User",
    "utcnow",
]
