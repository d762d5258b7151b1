"""The registry of job kinds: what each runs, stage by stage.

It sits above the rooms whose work it runs (sessions, sources, thumbnails,
projects). Each room declares its own stage params next to its work and
reports into the JobRecorder it is handed; none of them imports this module.
The `jobs` package finds the registry through the app
(`app.extensions["job_types"]`), set by `init_app`.
"""
from .jobs import JobRecorder, JobType, Stage
from .models import Deployment
from .projects import DELETE_PARAMS, delete_station, release_deletion
from .sessions import APPLY_PARAMS, REGROUP_PARAMS, apply_clock_offsets, has_clock_offsets, regroup_deployment
from .sources import SYNC_PARAMS, sync_deployment
from .thumbnails import THUMBNAIL_PARAMS, THUMBNAIL_STAGE, configured_sizes, warm_stage

REGROUP_STAGE_OF_SYNC = "regroup_sessions"
APPLY_OFFSETS_STAGE = "apply_clock_offsets"


def _run_regroup(deployment: Deployment, recorder: JobRecorder) -> None:
    regroup_deployment(deployment, job=recorder, stage_key="regroup_events")


def _run_sync(deployment: Deployment, recorder: JobRecorder) -> None:
    """Sync the files, regroup what they added, then warm the touched sessions' thumbnails."""
    synced = sync_deployment(deployment, recorder, since_last=recorder.options.get("since") == "last")
    if has_clock_offsets(deployment):
        # New captures inside an offset's range are corrected before the regroup places them.
        apply_clock_offsets(deployment, recorder)
    recorder.set_stage(REGROUP_STAGE_OF_SYNC, status="STARTED")
    regrouped = regroup_deployment(deployment, job=recorder, stage_key=REGROUP_STAGE_OF_SYNC)
    if regrouped.skipped:
        recorder.logger.warning(
            "This sync added %d files; the regroup already in progress on this station will include them.",
            synced.stats["Captures added"],
        )
    recorder.set_stage(REGROUP_STAGE_OF_SYNC, status="SUCCESS", progress=1.0)
    if recorder.has_stage(THUMBNAIL_STAGE):
        warm_stage(deployment, recorder, synced.earliest, synced.latest)


def _run_apply_clock_offsets(deployment: Deployment, recorder: JobRecorder) -> None:
    """Bring the captures' times in line with the station's offsets, then regroup them."""
    recorder.set_stage(APPLY_OFFSETS_STAGE, status="STARTED")
    apply_clock_offsets(deployment, recorder, APPLY_OFFSETS_STAGE)
    recorder.set_stage(APPLY_OFFSETS_STAGE, status="SUCCESS", progress=1.0)
    regroup_deployment(deployment, job=recorder, stage_key=REGROUP_STAGE_OF_SYNC)


def _thumbnails_configured(config) -> bool:
    return bool(configured_sizes(config))


JOB_TYPES: dict[str, JobType] = {
    job_type.key: job_type
    for job_type in (
        JobType(
            "regroup_events",
            "Regroup sessions",
            (Stage("regroup_events", "Regroup sessions", REGROUP_PARAMS),),
            _run_regroup,
        ),
        JobType(
            "data_storage_sync",
            "Data storage sync",
            (
                Stage("data_storage_sync", "Data storage sync", SYNC_PARAMS),
                Stage(REGROUP_STAGE_OF_SYNC, "Regroup sessions", REGROUP_PARAMS),
                Stage(THUMBNAIL_STAGE, "Thumbnails", THUMBNAIL_PARAMS, enabled=_thumbnails_configured),
            ),
            _run_sync,
        ),
        JobType(
            "apply_clock_offsets",
            "Apply clock offsets",
            (
                Stage(APPLY_OFFSETS_STAGE, "Apply clock offsets", APPLY_PARAMS),
                Stage(REGROUP_STAGE_OF_SYNC, "Regroup sessions", REGROUP_PARAMS),
            ),
            _run_apply_clock_offsets,
        ),
        JobType(
            "delete_deployment",
            "Delete station",
            (Stage("delete_deployment", "Delete station", DELETE_PARAMS),),
            delete_station,
            cancelled_note="Cancelled while running; what was deleted before the cancel stays deleted, "
            "the rest of the station is kept.",
            on_unfinished=release_deletion,
        ),
    )
}


def init_app(app) -> None:
    """Give the app its job kinds, where the `jobs` package looks them up."""
    app.extensions["job_types"] = JOB_TYPES
