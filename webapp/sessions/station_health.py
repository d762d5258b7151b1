"""A station's stored health: written by its regroups and syncs, read by its pages and the API."""
from datetime import datetime

from ..extensions import db
from ..models import Deployment, utcnow
from .health import BackwardsCounter, HealthRules, find_problems

# The problems a sync finds (in file name order), kept by the regroups that replace the others.
SYNC_KINDS = ("time_backwards",)


def rules_for(deployment: Deployment) -> HealthRules:
    """The health thresholds of the station's project (the defaults without a project)."""
    project = deployment.project
    return HealthRules.of(project.health_settings if project is not None else None)


def check_regrouped(deployment: Deployment, values, spans, now: datetime | None = None) -> list[dict]:
    """The station's problems after a regroup read `values` and cut `spans`: the regroup's kinds
    found afresh, the sync's kept as they were."""
    found = find_problems(values, spans.start, spans.end, rules_for(deployment), now or utcnow())
    kept = [p for p in (deployment.health_problems or []) if p["kind"] in SYNC_KINDS]
    return kept + found


def changes(deployment_id: int, problems: list[dict]) -> dict:
    """The station columns to write for these problems: none when they are what is stored already.

    An unchanged result writes nothing, as an unchanged regroup writes nothing:
    `health_computed_at` is when the problems were last found different (or first found).
    """
    table = Deployment.__table__
    stored = db.session.execute(
        db.select(table.c.health_problems, table.c.health_computed_at).where(table.c.id == deployment_id)
    ).first()
    if stored is not None and stored.health_computed_at is not None and stored.health_problems == problems:
        return {}
    return {"health_problems": problems, "has_problems": bool(problems), "health_computed_at": utcnow()}


def record(deployment_id: int, problems: list[dict]) -> bool:
    """Store the station's problems and commit, unless they are stored already; whether it wrote."""
    values = changes(deployment_id, problems)
    if values:
        db.session.execute(Deployment.__table__.update().where(Deployment.__table__.c.id == deployment_id).values(**values))
    db.session.commit()
    return bool(values)


def record_backwards(deployment: Deployment, counter: BackwardsCounter) -> None:
    """Add what a sync found of time_backwards to the station's problems (nothing found: nothing written)."""
    if not counter.count:
        return
    db.session.refresh(deployment)
    problems = list(deployment.health_problems or [])
    before = next((p for p in problems if p["kind"] == "time_backwards"), None)
    problems = [p for p in problems if p["kind"] != "time_backwards"] + [counter.problem(before)]
    record(deployment.id, problems)


def station_health(deployment: Deployment) -> dict:
    """`{deployment_id, computed_at, problems}` as stored (never regrouped: null and empty)."""
    return {
        "deployment_id": deployment.id,
        "computed_at": deployment.health_computed_at,
        "problems": list(deployment.health_problems or []),
    }


def stations_with_problems(project_id: int) -> int:
    """How many of the project's stations have a problem."""
    return db.session.scalar(
        db.select(db.func.count()).select_from(Deployment)
        .where(Deployment.project_id == project_id, Deployment.has_problems.is_(True))
    )


def problems_by_station(project_id: int) -> dict[int, list[str]]:
    """The details of the problems of the project's stations that have any, by station id (one query)."""
    rows = db.session.execute(
        db.select(Deployment.id, Deployment.health_problems)
        .where(Deployment.project_id == project_id, Deployment.has_problems.is_(True))
    )
    return {station_id: [problem["detail"] for problem in problems or []] for station_id, problems in rows}
