"""Model → JSON shapes of the API (CONTRACT.md). Times are ISO 8601: capture-derived
times are the station's local clock (no zone), audit times are UTC (`Z`)."""
from datetime import datetime

from ...models import Deployment, Event, Job, Membership, Project, param_key
from ...services.deployments import effective_gap


def local_time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def utc_time(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def project(p: Project) -> dict:
    return {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "session_time_gap_seconds": p.session_time_gap_seconds,
        "session_keying": p.session_keying,
        "created_at": utc_time(p.created_at),
    }


def membership(m: Membership) -> dict:
    return {"project_id": m.project_id, "user_id": m.user_id, "email": m.user.email, "role": m.role}


def deployment(d: Deployment) -> dict:
    gap, gap_source = effective_gap(d)
    return {
        "id": d.id,
        "name": d.name,
        "project_id": d.project_id,
        "data_source": d.data_source,
        "session_time_gap_seconds": d.session_time_gap_seconds,
        "effective_session_time_gap_seconds": gap,
        "effective_session_time_gap_source": gap_source,
        "captures_count": d.captures_count,
        "events_count": d.events_count,
        "first_capture_timestamp": local_time(d.first_capture_timestamp),
        "last_capture_timestamp": local_time(d.last_capture_timestamp),
        "last_regrouped_at": utc_time(d.last_regrouped_at),
        "grouped_gap_seconds": d.grouped_gap_seconds,
        "grouped_keying": d.grouped_keying,
        "created_at": utc_time(d.created_at),
        "deleting": d.deleting,
    }


def event(e: Event) -> dict:
    return {
        "id": e.id,
        "deployment_id": e.deployment_id,
        "project_id": e.project_id,
        "group_by": e.group_by,
        "start": local_time(e.start),
        "end": local_time(e.end),
        "duration_seconds": e.duration_seconds,
        "captures_count": e.captures_count,
    }


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
    summary = progress.get("summary") or {}
    logs = j.logs or {}
    return {
        "id": j.id,
        "name": j.name,
        "job_type_key": j.job_type_key,
        "status": j.status,
        "deployment_id": j.deployment_id,
        "project_id": j.project_id,
        "created_at": utc_time(j.created_at),
        "started_at": utc_time(j.started_at),
        "finished_at": utc_time(j.finished_at),
        "progress": {
            # The row's status is the truth; the summary copy may lag a write behind.
            "summary": {"status": j.status, "progress": summary.get("progress", 0.0)},
            "stages": [_stage(s) for s in progress.get("stages", [])],
        },
        "logs": {"stdout": list(logs.get("stdout", [])), "stderr": list(logs.get("stderr", []))},
    }


def job_accepted(j: Job) -> dict:
    return {"job_id": j.id, "deployment_id": j.deployment_id, "project_id": j.project_id}
