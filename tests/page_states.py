"""One project holding every state the pages can show, for the HTML and accessibility checks.

Built with the real services (jobs run in Huey's immediate mode, or in the
foreground): a regrouped station with sessions and health problems, a regroup skipped with the
lock warning, a running job, a failed sync, a station never synced and one
being deleted. `seed(manager)` returns the ids the checks need.
"""
from datetime import datetime, timedelta

from webapp.accounts import invite
from webapp.extensions import db
from webapp.jobs import JobRecorder, create_job, locks, run_job
from webapp.models import Capture, ClockOffset, Deployment, Event, Job, Membership, Project, utcnow
from webapp.sessions import lock_key
from webapp.sources import refresh_deployment_stats


def _captures(deployment: Deployment) -> None:
    night = datetime(2024, 6, 12, 22)
    times = [night + timedelta(minutes=5 * i) for i in range(13)]
    times += [night + timedelta(hours=3, minutes=35 + 5 * i) for i in range(12)]
    db.session.execute(
        db.insert(Capture.__table__),
        [{"deployment_id": deployment.id, "path": f"{deployment.id}/{t:%Y%m%d%H%M%S}.jpg", "timestamp": t, "size": 1} for t in times],
    )
    refresh_deployment_stats(deployment)
    db.session.commit()


def _extra_captures(deployment: Deployment, times: list[datetime]) -> None:
    db.session.execute(
        db.insert(Capture.__table__),
        [{"deployment_id": deployment.id, "path": f"{deployment.id}/extra/{t:%Y%m%d%H%M%S}.jpg", "timestamp": t, "size": 1}
         for t in times],
    )
    refresh_deployment_stats(deployment)
    db.session.commit()


def _run(job_type_key: str, deployment: Deployment, user) -> Job:
    job = create_job(job_type_key, deployment, user)
    try:
        run_job(job.id)
    except Exception:
        pass  # recorded on the job row (FAILURE); that state is wanted here
    db.session.expire_all()
    return db.session.get(Job, job.id)


def seed(manager, missing_folder: str = "/nonexistent/ami-sessions-station") -> dict:
    """Create the project and its states; `manager` becomes its ProjectManager."""
    project = Project(name="Étang survey", session_time_gap_seconds=7200, session_keying="date")
    db.session.add(project)
    membership = Membership(user=manager, project=project, role="ProjectManager")
    db.session.add(membership)
    regrouped = Deployment(name="Étang Nord", project=project)
    skipped = Deployment(name="Marais <Est>", project=project)
    running = Deployment(name="Prairie", project=project)
    failing = Deployment(name="Forêt", project=project)
    empty = Deployment(name="New station", project=project)
    leaving = Deployment(name="Old site", project=project, deleting=True)
    db.session.add_all([regrouped, skipped, running, failing, empty, leaving])
    db.session.commit()
    for station in (regrouped, skipped, running):
        _captures(station)
    # Health problems for its panel: a clock that once restarted at 2001, and (date keying) a date
    # whose early morning and evening make one session across noon.
    _extra_captures(regrouped, [datetime(2001, 1, 1, 0, 5), datetime(2024, 6, 20, 1, 0), datetime(2024, 6, 20, 1, 30),
                                datetime(2024, 6, 20, 21, 0), datetime(2024, 6, 20, 21, 30)])

    finished = _run("regroup_events", regrouped, manager)
    # A regroup that finds the station's lock taken ends SUCCESS with a warning.
    token = locks.acquire(lock_key(skipped.id), 600, "page states")
    warned = _run("regroup_events", skipped, manager)
    locks.release(lock_key(skipped.id), token)

    # A sync whose folder is gone fails and says why.
    failing.data_source = missing_folder
    db.session.commit()
    failed = _run("data_storage_sync", failing, manager)

    # A clock offset (of a range without captures, so the sessions above stay as they are), applied by its job.
    db.session.add(ClockOffset(deployment_id=regrouped.id, start=datetime(2016, 1, 1), end=datetime(2016, 1, 2, 12),
                               offset_seconds=12 * 3600, created_by_id=manager.id))
    db.session.commit()
    _run("apply_clock_offsets", regrouped, manager)

    # A job halfway through its stage, as a worker leaves it between two flushes.
    live = create_job("regroup_events", running, manager)
    recorder = JobRecorder(live)
    recorder.set_status("STARTED", started_at=utcnow())
    recorder.set_stage("regroup_events", status="STARTED", progress=0.4)
    recorder.append_log("INFO", "Regrouping 25 captures with a 2 h gap")
    recorder.flush(force=True)
    db.session.commit()

    session = db.session.scalar(db.select(Event).where(Event.deployment_id == regrouped.id).order_by(Event.id))
    # An invitation not yet used, so the page its link opens can be read.
    _, invitation = invite("invited-colleague@example.org", manager)
    return {
        "invitation": invitation,
        "project": project.id,
        "membership": membership.id,
        "regrouped": regrouped.id,
        "skipped": skipped.id,
        "running": running.id,
        "failing": failing.id,
        "empty": empty.id,
        "leaving": leaving.id,
        "finished_job": finished.id,
        "warned_job": warned.id,
        "failed_job": failed.id,
        "running_job": live.id,
        "event": session.id if session else None,
    }


if __name__ == "__main__":
    # python -m tests.page_states MANAGER_EMAIL MISSING_FOLDER: seed the env's database, print the ids as JSON.
    import json
    import sys

    from webapp import create_app
    from webapp.models import User

    with create_app().app_context():
        user = db.session.scalar(db.select(User).filter_by(email=sys.argv[1]))
        print(json.dumps(seed(user, missing_folder=sys.argv[2])))
