"""Jobs: list, read, cancel."""
from flask_login import current_user

from ... import jobs
from ...errors import error_response
from ...extensions import db
from ...models import Job
from ...permissions import require, run_job_permission
from . import bp, get_deployment, get_job, paginate, schemas, serializers, visible_project_ids
from .operations import operation


@bp.get("/jobs/")
@operation("Jobs, newest first", query=schemas.DeploymentFilter, response=schemas.Job, paged=True)
def job_list(query: schemas.DeploymentFilter):
    statement = db.select(Job)
    if query.deployment is not None:
        statement = statement.where(Job.deployment_id == get_deployment(query.deployment).id)
    if not current_user.is_superuser:
        # Jobs stay with the project they ran for, even if the station moved since.
        statement = statement.where(Job.project_id.in_(visible_project_ids()))
    return paginate(statement.order_by(Job.created_at.desc(), Job.id.desc()), serializers.job)


@bp.get("/jobs/<int:job_id>/")
@operation("One job", response=schemas.Job)
def job_detail(job_id: int):
    return serializers.job(get_job(job_id))


@bp.post("/jobs/<int:job_id>/cancel/")
@operation("Cancel a job (run_<job_type_key>_job)", response=schemas.Job, status=202,
           errors=(400, 401, 403, 404, 409))
def job_cancel(job_id: int):
    job = get_job(job_id)
    require(run_job_permission(job.job_type_key), job.project)
    try:
        job = jobs.cancel(job)
    except jobs.JobError as error:
        db.session.rollback()
        return error_response(409, str(error))
    return serializers.job(job), 202
