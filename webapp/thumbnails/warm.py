"""The sync's thumbnail stage: the example thumbnails of the sessions a sync touched, made ahead of the first visit."""
import logging
from datetime import datetime

from ..extensions import db
from ..models import Deployment, Event
from .rows import ThumbnailError, configured_sizes, ensure, is_fresh, locate

log = logging.getLogger(__name__)

THUMBNAIL_STAGE = "thumbnails"
THUMBNAIL_PARAMS = ("Generated", "Reused", "Failed")
WARM_SESSIONS_BATCH = 100


def warm_label(config=None) -> str | None:
    """The size galleries open with: `small` where configured, else the first size (None: thumbnails off)."""
    sizes = configured_sizes(config)
    return "small" if "small" in sizes else next(iter(sizes), None)


def warm_session_examples(deployment: Deployment, since: datetime, until: datetime, logger=log, check=None) -> dict[str, int]:
    """Make the example captures' thumbnails of the station's sessions overlapping [since, until].

    Returns the counts {"Generated", "Reused", "Failed"}. A thumbnail that
    fails is counted and logged, never raised. `check` is called between
    batches of sessions (a job's cancel and time-limit check).
    """
    from ..sessions import example_captures

    counts = {"Generated": 0, "Reused": 0, "Failed": 0}
    label = warm_label()
    if label is None:
        return counts
    width = configured_sizes()[label]
    sessions = db.select(Event).where(
        Event.deployment_id == deployment.id, Event.end >= since, Event.start <= until
    ).order_by(Event.start, Event.id)
    offset = 0
    while True:
        batch = list(db.session.scalars(sessions.limit(WARM_SESSIONS_BATCH).offset(offset)))
        if not batch:
            return counts
        offset += len(batch)
        for examples in example_captures(batch).values():
            for example in examples:
                located = locate(example.id, label)
                if located is None:
                    continue
                if is_fresh(located, width):
                    counts["Reused"] += 1
                    continue
                try:
                    ensure(located, label, width)
                except ThumbnailError as error:
                    db.session.rollback()
                    counts["Failed"] += 1
                    logger.warning("No %s thumbnail for capture %s (%s): %s", label, example.id, located.capture_path, error.detail)
                else:
                    counts["Generated"] += 1
        if check is not None:
            check()


def warm_stage(deployment: Deployment, job, since: datetime | None, until: datetime | None) -> None:
    """The sync's thumbnail stage: the sessions touched by the added captures open with their examples made.

    `job` is the JobRecorder of the sync; `since`/`until` bound the captures it
    added (None: none with a time).
    """
    job.set_stage(THUMBNAIL_STAGE, status="STARTED")
    if since is None:
        job.logger.info("No captures with a time were added; no thumbnails to make.")
        counts = dict.fromkeys(THUMBNAIL_PARAMS, 0)
    else:
        counts = warm_session_examples(deployment, since, until, logger=job.logger, check=job.check_cancelled)
        job.logger.info(
            "Example thumbnails: %d made, %d already there, %d failed.", counts["Generated"], counts["Reused"], counts["Failed"]
        )
    job.set_params(THUMBNAIL_STAGE, counts)
    job.set_stage(THUMBNAIL_STAGE, status="SUCCESS", progress=1.0)
