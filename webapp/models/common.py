"""What every model shares: id bounds, keyings and the one clock of the site.

Times: capture timestamps are the station's local clock time as written in the
file name, stored naive. Every other time (job, lock, audit) is UTC, stored
naive as well, produced only by `utcnow()`.
"""
from datetime import datetime, timezone

from ..grouping import KEYINGS

SESSION_KEYINGS = KEYINGS
# Ids are PostgreSQL `integer`s: a larger number names nothing (and must not reach the database).
MAX_DB_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


