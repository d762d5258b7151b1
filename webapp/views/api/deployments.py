"""Stations: create, read, change their gap, sync, regroup, and preview a regroup."""
from flask_login import current_user

from ... import jobs
from ...errors import error_response
from ...extensions import db
from ...permissions import start_job_permission
from ...models import Deployment
from ...projects import STATION_STATES, StationBeingDeleted, create_deployment, update_deployment
from ...sessions import preview_regroup, regroup_history_query
from ...sources import sources_for_project
from . import BadRequest, bp, get_deployment, get_project, paginate, schemas, serializers
from .operations import operation, read_body


@bp.post("/deployments/")
@operation("Create a station (create_deployment)", body=schemas.DeploymentCreate, response=schemas.Deployment,
           status=201)
def deployment_create():
    body = read_body()
    project = get_project(body.pop("project_id"), "create_deployment")
    deployment = create_deployment(project, body)
    return serializers.deployment(deployment), 201


@bp.get("/deployments/")
@operation("A project's stations ordered by name, optionally in one state (members)",
           query=schemas.StationListFilter, response=schemas.Deployment, paged=True)
def deployment_list(query: schemas.StationListFilter):
    project = get_project(query.project)
    statement = db.select(Deployment).where(Deployment.project_id == project.id)
    if query.state is not None:
        statement = statement.where(STATION_STATES[query.state].condition(project))
    # The project's sources are read once for the page, not once a station.
    sources = sources_for_project(project)
    return paginate(statement.order_by(Deployment.name, Deployment.id),
                    lambda station: serializers.deployment(station, sources))


@bp.get("/deployments/<int:deployment_id>/")
@operation("One station (members)", response=schemas.Deployment)
def deployment_detail(deployment_id: int):
    return serializers.deployment(get_deployment(deployment_id))


@bp.patch("/deployments/<int:deployment_id>/")
@operation("Change a station (update_deployment)", body=schemas.DeploymentUpdate, response=schemas.Deployment,
           errors=(400, 401, 403, 404, 409))
def deployment_update(deployment_id: int):
    deployment = get_deployment(deployment_id, "update_deployment")
    try:
        deployment = update_deployment(deployment, read_body())
    except StationBeingDeleted as error:
        return error_response(409, str(error))
    return serializers.deployment(deployment)


def _start_job(job_type_key: str, deployment_id: int, options: dict | None = None):
    deployment = get_deployment(deployment_id, start_job_permission(job_type_key))
    if jobs.blocker(job_type_key, deployment) == "being deleted":
        return error_response(409, f"Station “{deployment.name}” is being deleted; no job can start on it.")
    try:
        job = jobs.start_job(job_type_key, deployment, current_user, options=options)
    except jobs.QueueUnavailable as error:
        return error_response(503, str(error))
    except jobs.JobError as error:
        db.session.rollback()
        raise BadRequest(str(error)) from None
    return serializers.job_accepted(job), 202


@bp.post("/deployments/<int:deployment_id>/sync/")
@operation("Queue a data storage sync (sync_deployment); since=last: a quick sync of the new nights",
           query=schemas.SyncQuery, response=schemas.JobAccepted, status=202, errors=(400, 401, 403, 404, 409, 503))
def deployment_sync(deployment_id: int, query: schemas.SyncQuery):
    return _start_job("data_storage_sync", deployment_id, {"since": query.since} if query.since else None)


@bp.post("/deployments/<int:deployment_id>/regroup-sessions/")
@operation("Queue a regroup (regroup_sessions_deployment)", response=schemas.JobAccepted, status=202,
           errors=(400, 401, 403, 404, 409, 503))
def deployment_regroup(deployment_id: int):
    return _start_job("regroup_events", deployment_id)


@bp.get("/deployments/<int:deployment_id>/regroup-preview/")
@operation("Sessions before and after a regroup; writes nothing", query=schemas.PreviewQuery,
           response=schemas.RegroupPreview)
def deployment_regroup_preview(deployment_id: int, query: schemas.PreviewQuery):
    deployment = get_deployment(deployment_id)
    return preview_regroup(deployment, gap_seconds=query.gap_seconds, keying=query.keying)


@bp.get("/deployments/<int:deployment_id>/regroup-history/")
@operation("Regroups of the station that did work, newest first (members)", response=schemas.RegroupRecord, paged=True)
def deployment_regroup_history(deployment_id: int):
    return paginate(regroup_history_query(get_deployment(deployment_id)), serializers.regroup_record)
