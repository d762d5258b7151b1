"""What a running job writes about itself: stages, params, logs, status.

The work of a job (a regroup, a sync) runs in the request-less `db.session`
and may hold one long transaction. Job state must reach watchers while that
transaction is still open, and must survive its rollback, so the recorder
keeps the job's progress and logs in memory and writes them to the job row
through a connection of its own. On SQLite, where only one connection writes
at a time, a write that would wait for the work's transaction is skipped and
retried at the next flush; only the final write (`finish`) waits for its turn.

Every write is conditional on the job not being finished: once SUCCESS,
FAILURE or REVOKED (e.g. FAILURE by the reaper, which took a slow worker for a
lost one), a job's status never changes. The late worker's outcome is then
appended to the log as a note instead.

Tracebacks stay out of the job's public log (`stdout`/`stderr`, which every
member and the API can read): the log gets the error message, and the
traceback is kept under `logs["traceback"]`, shown to superusers only.
"""
import logging
import os
import re
import sys
import time
import traceback
from copy import deepcopy

from flask import current_app, has_app_context
from sqlalchemy.exc import OperationalError

from ..config import REPO_ROOT
from ..extensions import db
from ..models import FINISHED_STATUSES, Job, param_key, utcnow
from ..sql import short_wait

MAX_LOG_LINES = 2000
# A deep recursion's traceback must not bloat the job row; its last frames say most.
MAX_TRACEBACK_CHARS = 20000
FLUSH_INTERVAL_SECONDS = 0.5
FLUSH_WAIT_MS = 50


class JobCancelled(Exception):
    """Raised inside a job's work when someone asked to cancel it."""


class JobTimeLimitExceeded(Exception):
    """Raised inside a job's work when it ran past its time limit."""


def _server_folders() -> list[tuple[re.Pattern, str]]:
    """The server's own folders and how logs name them instead, innermost first."""
    folders = {str(REPO_ROOT): "<app>"}
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        folders.setdefault(prefix, "<python>")
    if has_app_context():
        folders[current_app.instance_path] = "<instance>"
        for root in current_app.config.get("DATA_SOURCE_ROOTS", ()):
            folders[root] = folders[os.path.realpath(root)] = "<data>"
    ordered = sorted(((path.rstrip("/"), label) for path, label in folders.items() if len(path) > 1),
                     key=lambda item: -len(item[0]))
    return [(re.compile(re.escape(path) + r"(?=[/\s'\":,)]|$)"), label) for path, label in ordered]


def scrub_paths(text: str, folders: list[tuple[re.Pattern, str]]) -> str:
    """`text` with the server's own folders replaced by their names (members read job logs)."""
    for pattern, label in folders:
        text = pattern.sub(label, text)
    return text


def log_line(level: str, message: str) -> str:
    """One line of a job's log: UTC time, level, message."""
    return f"{utcnow().isoformat(timespec='seconds')}Z {level} {message}"


class _RecorderHandler(logging.Handler):
    def __init__(self, recorder: "JobRecorder"):
        super().__init__(logging.INFO)
        self.recorder = recorder

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not kill the job
            message = str(record.msg)
        self.recorder.append_log(record.levelname, message, stderr=record.levelno >= logging.ERROR)


class JobRecorder:
    """In-memory copy of one job's progress and logs, flushed to its row."""

    def __init__(self, job: Job):
        self._folders = _server_folders()
        self.job_id = job.id
        self.status = job.status
        self.progress = deepcopy(job.progress) or {}
        self.progress.setdefault("summary", {"status": job.status, "progress": 0.0})
        self.progress.setdefault("stages", [])
        self.logs = deepcopy(job.logs) or {}
        self.logs.setdefault("stdout", [])
        self.logs.setdefault("stderr", [])
        self.cancel_requested = bool(job.cancel_requested)
        self._columns: dict = {}
        # The finished status someone else gave the job while this recorder still ran it.
        self.overtaken_by: str | None = None
        self.last_error: str | None = None
        self._last_flush = 0.0
        self.time_limit: float | None = None
        self._deadline: float | None = None
        self.logger = logging.getLogger(f"ami.jobs.{job.id}")
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = True
        self.logger.handlers = [_RecorderHandler(self)]

    @property
    def options(self) -> dict:
        """How the job was asked to run (queue.create_job's `options`); empty by default."""
        return self.progress.get("options") or {}

    # -- stages and params -------------------------------------------------
    def stage(self, key: str) -> dict:
        for stage in self.progress["stages"]:
            if stage["key"] == key:
                return stage
        raise KeyError(f"job {self.job_id} has no stage {key!r}")

    def has_stage(self, key: str) -> bool:
        """Whether this job has the stage (some stages exist only under some configurations)."""
        return any(stage["key"] == key for stage in self.progress["stages"])

    def add_stage(self, key: str, name: str, param_names=()) -> dict:
        """Add a stage (idempotent) with its params present at 0 from the start."""
        try:
            stage = self.stage(key)
        except KeyError:
            stage = {"key": key, "name": name, "status": "CREATED", "progress": 0.0, "params": []}
            self.progress["stages"].append(stage)
        for name_ in param_names:
            self.set_param(key, name_, 0, flush=False)
        return stage

    def set_param(self, stage_key: str, name: str, value, flush: bool = True) -> None:
        """Add or update a stage param by name; its key is derived from the name."""
        params = self.stage(stage_key)["params"]
        key = param_key(name)
        for param in params:
            if param["key"] == key:
                param["value"] = value
                break
        else:
            params.append({"name": name, "key": key, "value": value})
        if flush:
            self.flush()

    def set_params(self, stage_key: str, values: dict) -> None:
        for name, value in values.items():
            self.set_param(stage_key, name, value, flush=False)
        self.flush()

    def set_stage(self, key: str, status: str | None = None, progress: float | None = None) -> None:
        stage = self.stage(key)
        if status is not None:
            stage["status"] = status
        if progress is not None:
            stage["progress"] = max(0.0, min(1.0, float(progress)))
        stages = self.progress["stages"]
        self.progress["summary"]["progress"] = sum(s["progress"] for s in stages) / len(stages)
        self.flush()

    # -- logs ----------------------------------------------------------------
    def append_log(self, level: str, message: str, stderr: bool = False) -> None:
        line = log_line(level, scrub_paths(message, self._folders))
        for stream in ("stdout", "stderr") if stderr else ("stdout",):
            lines = self.logs[stream]
            lines.append(line)
            del lines[:-MAX_LOG_LINES]
        self.flush()

    def record_exception(self, error: BaseException) -> None:
        """The error message to the log; the traceback to `logs["traceback"]` (superusers only)."""
        self.last_error = scrub_paths(traceback.format_exception_only(type(error), error)[-1].strip(), self._folders)
        traceback_text = scrub_paths("".join(traceback.format_exception(error)), self._folders)
        self.logs["traceback"] = traceback_text[-MAX_TRACEBACK_CHARS:]
        self.append_log("ERROR", self.last_error, stderr=True)

    # -- status ----------------------------------------------------------------
    def set_status(self, status: str, **columns) -> None:
        self.status = status
        self.progress["summary"]["status"] = status
        self._columns.update(columns, status=status)
        self.flush(force=True, wait=status in FINISHED_STATUSES)

    def set_time_limit(self, seconds: float | None) -> None:
        """Make `check_cancelled` fail the job once it has run `seconds` from now."""
        self.time_limit = seconds
        self._deadline = None if seconds is None else time.monotonic() + seconds

    def finish(self, status: str) -> None:
        """End the job with `status`; if it already ended, note this outcome in its log instead.

        The caller has committed (SUCCESS) or rolled back (FAILURE, REVOKED)
        the work's transaction before calling this.
        """
        if status in ("FAILURE", "REVOKED"):
            # The stage that was running when the job ended is the one that failed.
            for stage in self.progress["stages"]:
                if stage["status"] == "STARTED":
                    stage["status"] = status
        if status == "SUCCESS":
            for stage in self.progress["stages"]:
                stage["progress"] = 1.0
                if stage["status"] not in ("FAILURE", "REVOKED"):
                    stage["status"] = "SUCCESS"
            self.progress["summary"]["progress"] = 1.0
        self.set_status(status, finished_at=utcnow())
        if self.overtaken_by is not None:
            self._note_late_outcome(status)
        # Loggers live as long as the process; a finished job's lines must not.
        self.logger.handlers = []

    def check_cancelled(self) -> None:
        """Raise JobCancelled if a cancel was asked for since the last flush,
        JobTimeLimitExceeded if the job ran past its time limit."""
        self.flush(force=True)
        if self.cancel_requested:
            raise JobCancelled()
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise JobTimeLimitExceeded(f"The job exceeded its time limit of {self.time_limit:g} s.")

    def _note_late_outcome(self, status: str) -> None:
        """Append what the work ended with to a job someone else already finished."""
        outcome = status if self.last_error is None or status != "FAILURE" else f"FAILURE ({self.last_error})"
        work = "its work was committed" if status == "SUCCESS" else "its work was rolled back"
        note = log_line(
            "WARNING",
            f"The worker finished after being marked lost: {outcome}; {work}. The job stays {self.overtaken_by}.",
        )
        table = Job.__table__
        with db.engine.connect() as conn:
            logs = conn.execute(db.select(table.c.logs).where(table.c.id == self.job_id)).scalar() or {}
            logs = {**logs, "stdout": [*logs.get("stdout", []), note][-MAX_LOG_LINES:]}
            conn.execute(
                table.update().where(table.c.id == self.job_id, table.c.status == self.overtaken_by).values(logs=logs)
            )
            conn.commit()

    # -- persistence ---------------------------------------------------------
    def flush(self, force: bool = False, wait: bool = False) -> None:
        """Write the job's state to its row unless it is finished; `force` ignores the throttle, `wait` the lock."""
        now = time.monotonic()
        if not force and now - self._last_flush < FLUSH_INTERVAL_SECONDS:
            return
        values = {
            "progress": deepcopy(self.progress),
            "logs": deepcopy(self.logs),
            "heartbeat_at": utcnow(),
            **self._columns,
        }
        table = Job.__table__
        try:
            with db.engine.connect() if wait else short_wait(db.engine, FLUSH_WAIT_MS) as conn:
                written = conn.execute(
                    table.update()
                    .where(table.c.id == self.job_id, table.c.status.not_in(FINISHED_STATUSES))
                    .values(**values)
                ).rowcount
                stored = conn.execute(
                    db.select(table.c.status, table.c.cancel_requested).where(table.c.id == self.job_id)
                ).first()
                conn.commit()
            if stored is not None:
                self.cancel_requested = bool(stored.cancel_requested)
                if not written and stored.status in FINISHED_STATUSES:
                    self.overtaken_by = stored.status
        except OperationalError:
            if wait:
                raise
            return
        self._columns.clear()
        self._last_flush = now
