"""A station's clock offsets: list, add (queues the apply job) and remove (queues it again)."""
from flask_login import current_user

from ... import jobs
from ...errors import error_response
from ...extensions import db
from ...models import ClockOffset
from ...sessions import add_clock_offset, clock_offsets, remove_clock_offset
from ..lookup import get_or_404
from . import bp, get_deployment
from .calendar_schemas import ClockOffset as ClockOffsetSchema
from .calendar_schemas import ClockOffsetCreate, ClockOffsetList
from .operations import operation, read_body
from .schemas import JobAccepted

APPLY_JOB = "apply_clock_offsets"


def _offset(offset: ClockOffset, job_id: int | None = None) -> dict:
    return ClockOffsetSchema(
        id=offset.id, deployment_id=offset.deployment_id, start=offset.start, end=offset.end,
        offset_seconds=offset.offset_seconds, created_by=offset.created_by.email if offset.created_by else None,
        created_at=offset.created_at, job_id=job_id,
    ).model_dump(mode="json")


def _queue_apply(deployment):
    """The apply job, or an error answer (409 while the station is being deleted, 503 for a queue that is down)."""
    try:
        return jobs.start_job(APPLY_JOB, deployment, current_user), None
    except jobs.QueueUnavailable as error:
        return None, error_response(503, str(error))
    except jobs.JobError as error:
        db.session.rollback()
        return None, error_response(409, str(error))


@bp.get("/deployments/<int:deployment_id>/clock-offsets/")
@operation("The station's clock offsets, earliest range first (members)", response=ClockOffsetList)
def clock_offset_list(deployment_id: int):
    offsets = clock_offsets(get_deployment(deployment_id))
    return {"count": len(offsets), "results": [_offset(offset) for offset in offsets]}


@bp.post("/deployments/<int:deployment_id>/clock-offsets/")
@operation("Add a clock offset and queue the job that applies it and regroups (update_deployment); "
           "400 for a range that overlaps another offset", body=ClockOffsetCreate, response=ClockOffsetSchema,
           status=201, errors=(400, 401, 403, 404, 409, 503))
def clock_offset_create(deployment_id: int):
    deployment = get_deployment(deployment_id, "update_deployment")
    body = read_body()
    if deployment.deleting:
        return error_response(409, f"Station “{deployment.name}” is being deleted; no job can start on it.")
    offset = add_clock_offset(deployment, body, current_user)
    job, failed = _queue_apply(deployment)
    if failed is not None:
        return failed
    return _offset(offset, job.id), 201


@bp.delete("/deployments/<int:deployment_id>/clock-offsets/<int:offset_id>/")
@operation("Remove a clock offset and queue the job that restores the original times and regroups "
           "(update_deployment)", response=JobAccepted, status=202, errors=(401, 403, 404, 409, 503))
def clock_offset_delete(deployment_id: int, offset_id: int):
    deployment = get_deployment(deployment_id, "update_deployment")
    offset = get_or_404(ClockOffset, offset_id)
    if offset.deployment_id != deployment.id:
        return error_response(404, "No such clock offset on this station.")
    if deployment.deleting:
        return error_response(409, f"Station “{deployment.name}” is being deleted; no job can start on it.")
    remove_clock_offset(offset)
    job, failed = _queue_apply(deployment)
    if failed is not None:
        return failed
    return {"job_id": job.id, "deployment_id": deployment.id, "project_id": deployment.project_id}, 202
