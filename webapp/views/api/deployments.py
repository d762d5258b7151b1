"""Stations: create, read, change their gap, sync, regroup, and preview a regroup."""
import re

from flask import current_app, request
from flask_login import current_user

from ...errors import error_response
from ...extensions import db
from ...models import SESSION_KEYINGS
from ...permissions import start_job_permission
from ...services import jobs, station_jobs
from ...services.deployments import StationBeingDeleted, create_deployment, update_deployment
from ...services.preview import preview_regroup
from ...services.projects import clean_gap_seconds
from . import BadRequest, bp, get_deployment, get_project, json_body, parse_id, serializers



@bp.post("/deployments/")
def deployment_create():
    data = json_body()
    try:
        project_id = parse_id(data.get("project_id"))
    except ValueError as error:
        raise BadRequest("Invalid input.", {"project_id": [str(error)]}) from None
    project = get_project(project_id, "create_deployment")
    deployment = create_deployment(project, data, current_app.config["DATA_SOURCE_ROOTS"])
    return serializers.deployment(deployment), 201


@bp.get("/deployments/<int:deployment_id>/")
def deployment_detail(deployment_id: int):
    return serializers.deployment(get_deployment(deployment_id))


@bp.patch("/deployments/<int:deployment_id>/")
def deployment_update(deployment_id: int):
    deployment = get_deployment(deployment_id, "update_deployment")
    try:
        deployment = update_deployment(deployment, json_body(), current_app.config["DATA_SOURCE_ROOTS"])
    except StationBeingDeleted as error:
        return error_response(409, str(error))
    return serializers.deployment(deployment)


def _start_job(job_type_key: str, deployment_id: int):
    deployment = get_deployment(deployment_id, start_job_permission(job_type_key))
    if station_jobs.blocker(job_type_key, deployment) == "being deleted":
        return error_response(409, f"Station “{deployment.name}” is being deleted; no job can start on it.")
    try:
        job = station_jobs.start_job(job_type_key, deployment, current_user)
    except jobs.QueueUnavailable as error:
        return error_response(503, str(error))
    except jobs.JobError as error:
        db.session.rollback()
        raise BadRequest(str(error)) from None
    return serializers.job_accepted(job), 202


@bp.post("/deployments/<int:deployment_id>/sync/")
def deployment_sync(deployment_id: int):
    return _start_job("data_storage_sync", deployment_id)


@bp.post("/deployments/<int:deployment_id>/regroup-sessions/")
def deployment_regroup(deployment_id: int):
    return _start_job("regroup_events", deployment_id)


@bp.get("/deployments/<int:deployment_id>/regroup-preview/")
def deployment_regroup_preview(deployment_id: int):
    deployment = get_deployment(deployment_id)
    gap = request.args.get("gap_seconds") or None
    if gap is not None:
        try:
            gap = clean_gap_seconds(int(gap) if re.fullmatch(r"-?\d{1,12}", gap) else gap)
        except ValueError as error:
            raise BadRequest("Invalid query parameter 'gap_seconds'.", {"gap_seconds": [str(error)]}) from None
    keying = request.args.get("keying") or None
    if keying is not None and keying not in SESSION_KEYINGS:
        raise BadRequest(
            "Invalid query parameter 'keying'.", {"keying": [f"Must be one of: {', '.join(SESSION_KEYINGS)}."]}
        )
    return preview_regroup(deployment, gap_seconds=gap, keying=keying)
