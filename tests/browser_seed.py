"""Seed data for the browser tests, run in a subprocess against the env's database.

    python -m tests.browser_seed MANAGER_EMAIL BIG_CAPTURES

Prints a JSON object with the ids it created. The small station holds the
reference's cross-midnight case: bursts 22:00–23:00 and 01:35–02:30 the next
day, 2 h 35 min apart (2 sessions at a 2 h gap, 1 at 4 h). The big station
has enough captures for a regroup to hold its lock for a while.
"""
import json
import sys
from datetime import datetime, timedelta

from webapp import create_app
from webapp.extensions import db
from webapp.models import Capture, Deployment, Membership, Project, User
from webapp.sources import refresh_deployment_stats


def burst(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    times, moment = [], start
    while moment <= end:
        times.append(moment)
        moment += step
    return times


def add_captures(deployment: Deployment, times: list[datetime]) -> None:
    rows = [
        {"deployment_id": deployment.id, "path": f"{deployment.id}/{t:%Y%m%d%H%M%S}-{i}.jpg", "timestamp": t, "size": 1}
        for i, t in enumerate(times)
    ]
    for start in range(0, len(rows), 50_000):
        db.session.execute(db.insert(Capture.__table__), rows[start : start + 50_000])
    refresh_deployment_stats(deployment)


def main(email: str, big_captures: int) -> dict:
    app = create_app()
    with app.app_context():
        manager = db.session.scalar(db.select(User).filter_by(email=email))
        project = Project(name="Browser survey", session_time_gap_seconds=7200, session_keying="date")
        db.session.add(project)
        db.session.add(Membership(user=manager, project=project, role="ProjectManager"))
        small = Deployment(name="Meadow <cross-midnight>", project=project)
        big = Deployment(name="Big station", project=project)
        db.session.add_all([small, big])
        db.session.flush()
        night = datetime(2024, 6, 12)
        minute = timedelta(minutes=5)
        add_captures(
            small,
            burst(night.replace(hour=22), night.replace(hour=23), minute)
            + burst(night + timedelta(days=1, hours=1, minutes=35), night + timedelta(days=1, hours=2, minutes=30), minute),
        )
        # One capture every 10 s, 8 hours a night, as many nights as needed.
        times, day = [], 0
        while len(times) < big_captures:
            evening = night + timedelta(days=day, hours=21)
            times.extend(burst(evening, evening + timedelta(hours=8), timedelta(seconds=10)))
            day += 1
        add_captures(big, times[:big_captures])
        db.session.commit()
        return {"project": project.id, "small": small.id, "big": big.id, "small_captures": small.captures_count}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
