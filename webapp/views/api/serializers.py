"""Model rows → JSON answers, built through the response schemas of `schemas.py`."""
from flask_login import current_user

from ...models import Capture, Deployment, Event, Job, Membership, Project, RegroupRecord, StorageSource, param_key
from ...sources import display_path, source_form, sources_for_project
from . import schemas


def _dump(model: type[schemas.Output], **fields) -> dict:
    return model(**fields).model_dump(mode="json")


def project(p: Project) -> dict:
    return schemas.Project.model_validate(p).model_dump(mode="json")


def membership(m: Membership) -> dict:
    return _dump(schemas.Membership, project_id=m.project_id, user_id=m.user_id, email=m.user.email, role=m.role)


def _data_source(d: Deployment, sources) -> str:
    """A superuser gets the stored value; everyone else `<source name>:<path inside it>` (S3 URLs as they are)."""
    if current_user.is_authenticated and current_user.is_superuser:
        return d.data_source
    shown = source_form(d.project, d.data_source, sources)
    return shown if shown is not None else display_path(d.project, d.data_source, sources)


def deployment(d: Deployment, sources=None) -> dict:
    """A station; `sources`, the storage sources of its project, when a list has read them once for every row."""
    if sources is None:
        sources = sources_for_project(d.project)
    rule = d.grouping_rule
    fields = {name: getattr(d, name) for name in schemas.Deployment.model_fields if hasattr(d, name)}
    fields["data_source"] = _data_source(d, sources)
    return _dump(
        schemas.Deployment,
        **fields,
        effective_session_time_gap_seconds=rule.gap_seconds,
        effective_session_time_gap_source=rule.gap_source,
        # How pages and logs name the source: relative to its storage source.
        data_source_display=display_path(d.project, d.data_source, sources),
    )


def capture(c: Capture, event_id: int | None, thumbnails: dict[str, str] | None = None) -> dict:
    """A capture with the session whose span holds it (`event_id`, found by the caller's range join)."""
    return _dump(
        schemas.Capture, id=c.id, deployment_id=c.deployment_id, event_id=event_id, timestamp=c.timestamp,
        original_timestamp=c.original_timestamp, path=c.path,
        thumbnails=thumbnails or {},
    )


def example_capture(c, thumbnails: dict[str, str]) -> dict:
    return _dump(schemas.ExampleCapture, id=c.id, timestamp=c.timestamp, thumbnails=thumbnails)


def event(e: Event, examples: list[dict] | None = None) -> dict:
    return _dump(
        schemas.Event,
        **{name: getattr(e, name) for name in schemas.Event.model_fields if name != "example_captures"},
        example_captures=examples or [],
    )


def _stage(stage: dict) -> dict:
    return {
        "key": stage.get("key"),
        "name": stage.get("name"),
        "status": stage.get("status"),
        "progress": stage.get("progress", 0.0),
        "params": [
            {"name": p.get("name"), "key": p.get("key") or param_key(p.get("name") or ""), "value": p.get("value")}
            for p in stage.get("params", [])
        ],
    }


def job(j: Job) -> dict:
    progress = j.progress or {}
    logs = j.logs or {}
    return _dump(
        schemas.Job,
        id=j.id,
        name=j.name,
        job_type_key=j.job_type_key,
        status=j.status,
        deployment_id=j.deployment_id,
        project_id=j.project_id,
        created_at=j.created_at,
        started_at=j.started_at,
        finished_at=j.finished_at,
        progress={
            # The row's status is the truth; the summary copy may lag a write behind.
            "summary": {"status": j.status, "progress": (progress.get("summary") or {}).get("progress", 0.0)},
            "stages": [_stage(s) for s in progress.get("stages", [])],
        },
        logs={"stdout": list(logs.get("stdout", [])), "stderr": list(logs.get("stderr", []))},
    )


def job_accepted(j: Job) -> dict:
    return _dump(schemas.JobAccepted, job_id=j.id, deployment_id=j.deployment_id, project_id=j.project_id)


def regroup_record(r: RegroupRecord) -> dict:
    return _dump(
        schemas.RegroupRecord,
        job_id=r.job_id,
        finished_at=r.finished_at,
        user=r.user.email if r.user is not None else None,
        gap_seconds=r.gap_seconds,
        keying=r.keying,
        max_session_seconds=r.max_session_seconds,
        sessions_before=r.sessions_before,
        sessions_after=r.sessions_after,
    )
def storage_source(s: StorageSource, project_ids) -> dict:
    """A storage source without its credentials: only whether it has some."""
    return _dump(
        schemas.StorageSource,
        **{name: getattr(s, name) for name in schemas.StorageSource.model_fields if hasattr(s, name)},
        project_ids=list(project_ids),
    )


def storage_grant(source_id: int, project_id: int) -> dict:
    return _dump(schemas.StorageGrant, source_id=source_id, project_id=project_id)
