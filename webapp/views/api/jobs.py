"""Jobs: list, read, cancel."""
from flask_login import current_user

from ...extensions import db
from ...models import Job
from ...permissions import require, run_job_permission
from ...services import jobs
from ...errors import error_response
from . import bp, get_deployment, get_job, paginate, query_int, serializers, visible_project_ids


@bp.get("/jobs/")
def job_list():
    deployment_id = query_int("deployment", maximum=None)
    query = db.select(Job)
    if deployment_id is not None:
        query = query.where(Job.deployment_id == get_deployment(deployment_id).id)
        if not current_user.is_superuser:
            # Jobs stay with the project they ran for, even if the station moved since.
            query = query.where(Job.project_id.in_(visible_project_ids()))
    elif not current_user.is_superuser:
        query = query.where(Job.project_id.in_(visible_project_ids()))
    return paginate(query.order_by(Job.created_at.desc(), Job.id.desc()), serializers.job)


@bp.get("/jobs/<int:job_id>/")
def job_detail(job_id: int):
    return serializers.job(get_job(job_id))


@bp.post("/jobs/<int:job_id>/cancel/")
def job_cancel(job_id: int):
    job = get_job(job_id)
    require(run_job_permission(job.job_type_key), job.project)
    try:
        job = jobs.cancel(job)
    except jobs.JobError as error:
        db.session.rollback()
        return error_response(409, str(error))
    return serializers.job(job), 202
