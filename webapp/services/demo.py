"""Demo data: a project with three stations whose folders hold real JPEG captures."""
import io
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from ..extensions import db
from ..models import Deployment, Membership, Project, StorageSource, User
from . import accounts, jobs, storage

DEMO_PROJECT = "Demo moth survey"
DEMO_SOURCE = "Demo folder"
DEMO_MANAGER = ("manager@demo.ami", "demo-manager")
DEMO_MEMBER = ("member@demo.ami", "demo-member")
FIRST_NIGHT = date(2024, 6, 12)


@dataclass(frozen=True)
class Burst:
    """One stretch of a night during which the camera takes a shot every 5 minutes."""
    start: time
    minutes: int  # how long the camera is on
    offset_days: int = 0  # 1 when the burst starts after midnight


# Each station's nightly schedule (capture every 5 minutes while on).
STATIONS = {
    # 2 h on, 2 h 35 min off across midnight: the reference's cross-midnight case.
    "Meadow (cross-midnight bursts)": ([Burst(time(20, 0), 145), Burst(time(1, 0), 120, 1)], 4),
    # Three bursts with shorter pauses, all before midnight plus one at dawn.
    "Forest edge (three bursts)": ([Burst(time(20, 0), 60), Burst(time(22, 30), 60), Burst(time(3, 0), 90, 1)], 3),
    # One continuous night.
    "Wetland (all night)": ([Burst(time(21, 0), 480)], 3),
}


def _jpeg_bytes(rng: random.Random) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (48, 32), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=60)
    return buffer.getvalue()


def capture_times(schedule: list[Burst], nights: int) -> list[datetime]:
    """Every capture time of a schedule over `nights` nights from FIRST_NIGHT."""
    times = []
    for night in range(nights):
        evening = FIRST_NIGHT + timedelta(days=night)
        for burst in schedule:
            start = datetime.combine(evening + timedelta(days=burst.offset_days), burst.start)
            times.extend(start + timedelta(minutes=m) for m in range(0, burst.minutes + 1, 5))
    return times


def write_station_files(folder: Path, schedule: list[Burst], nights: int, seed: int) -> None:
    """Write one small real JPEG per capture time, named like the stations' cameras name them."""
    rng = random.Random(seed)
    for moment in capture_times(schedule, nights):
        night_dir = folder / moment.strftime("%Y-%m-%d")
        night_dir.mkdir(parents=True, exist_ok=True)
        target = night_dir / f"{moment:%Y%m%d%H%M%S}-snapshot.jpg"
        if not target.exists():
            target.write_bytes(_jpeg_bytes(rng))


def _ensure_user(email: str, password: str) -> tuple[User, bool]:
    user = db.session.scalar(db.select(User).filter_by(email=email))
    if user is not None:
        return user, False
    return accounts.create_user(email, password), True


def seed_demo(data_root: Path) -> list[str]:
    """Create the demo project, stations, captures and users once; return what was created."""
    created = []
    manager, new_manager = _ensure_user(*DEMO_MANAGER)
    member, new_member = _ensure_user(*DEMO_MEMBER)
    if new_manager:
        created.append(f"user {DEMO_MANAGER[0]} (password: {DEMO_MANAGER[1]})")
    if new_member:
        created.append(f"user {DEMO_MEMBER[0]} (password: {DEMO_MEMBER[1]})")
    project = db.session.scalar(db.select(Project).filter_by(name=DEMO_PROJECT))
    if project is None:
        project = Project(name=DEMO_PROJECT, description="Three stations with typical night schedules.")
        db.session.add(project)
        created.append(f"project {DEMO_PROJECT}")
    db.session.flush()
    for user, role in ((manager, "ProjectManager"), (member, "BasicMember")):
        if db.session.scalar(db.select(Membership).filter_by(user_id=user.id, project_id=project.id)) is None:
            db.session.add(Membership(user=user, project=project, role=role))

    demo_folder = data_root / "demo"
    demo_folder.mkdir(parents=True, exist_ok=True)
    source = db.session.scalar(db.select(StorageSource).filter_by(name=DEMO_SOURCE))
    if source is None:
        source = storage.register_source({"name": DEMO_SOURCE, "location": str(demo_folder)})
        created.append(f"storage source {DEMO_SOURCE}")
    storage.grant(source, project)

    new_stations = []
    for index, (name, (schedule, nights)) in enumerate(STATIONS.items()):
        if db.session.scalar(db.select(Deployment).filter_by(project_id=project.id, name=name)):
            continue
        folder = demo_folder / f"station-{index + 1}"
        write_station_files(folder, schedule, nights, seed=index)
        deployment = Deployment(name=name, project=project, data_source=str(folder.resolve()))
        db.session.add(deployment)
        new_stations.append(deployment)
    db.session.commit()
    # Captures arrive the way they always do: a sync job per station, whose
    # second stage groups them into sessions; both show on the jobs page.
    for deployment in new_stations:
        job = jobs.run_job(jobs.create_job("data_storage_sync", deployment, manager).id)
        added = job.param("data_storage_sync", "captures_added")
        sessions = db.session.get(Deployment, deployment.id).events_count
        created.append(f"station {deployment.name} with {added} captures in {sessions} sessions (job {job.id}: {job.status})")
    return created
