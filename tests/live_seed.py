"""The project the live-pages browser test starts from: `python -m tests.live_seed <manager email> <data folder>`.

- "North": a data source of name-timed files, never synced (its page shows "No captures yet");
- "Stuck": a data source whose first file is a FIFO, so its sync blocks until the test writes to it;
- "Stale": captures grouped with a 2 h gap in a project whose gap is now 3 h ("Regroup all" shows);
- "Doomed": a station with captures, to delete.
Prints the ids as JSON on its last line.
"""
import json
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

from webapp import create_app
from webapp.extensions import db
from webapp.models import Capture, Deployment, Membership, Project, User
from webapp.sessions import regroup_deployment
from webapp.sources import refresh_deployment_stats, register_source


def _files(folder: Path, count: int, start: datetime) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (folder / f"{start + timedelta(minutes=10 * index):%Y%m%d_%H%M%S}.jpg").write_bytes(b"")


def _captures(station: Deployment, start: datetime, count: int) -> None:
    db.session.execute(db.insert(Capture.__table__), [
        {"deployment_id": station.id, "path": f"{station.id}/{i}.jpg", "timestamp": start + timedelta(minutes=10 * i), "size": 1}
        for i in range(count)
    ])
    refresh_deployment_stats(station)
    db.session.commit()


def seed(email: str, data: Path) -> dict:
    manager = db.session.scalar(db.select(User).filter_by(email=email))
    project = Project(name="Live survey", session_time_gap_seconds=7200, session_keying="night")
    db.session.add(project)
    db.session.add(Membership(user=manager, project=project, role="ProjectManager"))
    db.session.commit()
    register_source({"name": "Field data", "location": str(data), "open_to_all_projects": True})
    night = datetime(2024, 6, 12, 21, 0)
    _files(data / "north", 12, night)
    _files(data / "north", 12, night + timedelta(hours=4))
    _files(data / "stuck", 3, night)
    os.mkfifo(data / "stuck" / "0000_no_time.jpg")
    stations = {name: Deployment(name=name, project=project, data_source=source)
                for name, source in (("North", str(data / "north")), ("Stuck", str(data / "stuck")),
                                     ("Stale", ""), ("Doomed", ""))}
    db.session.add_all(stations.values())
    db.session.commit()
    for name in ("Stale", "Doomed"):
        _captures(stations[name], night, 30)
        regroup_deployment(stations[name])
    project.session_time_gap_seconds = 3 * 3600
    db.session.commit()
    return {"project": project.id, **{name.lower(): station.id for name, station in stations.items()}}


if __name__ == "__main__":
    app = create_app()
    with app.app_context():
        print(json.dumps(seed(sys.argv[1], Path(sys.argv[2]))))
