"""Demo data: a project with three stations whose folders hold real JPEG captures."""
import io
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from . import accounts, jobs, sources
from .extensions import db
from .models import Deployment, Membership, Project, StorageSource, User

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

# Where each station stands: a few km apart around Mont Saint-Hilaire, Québec (decimal degrees),
# so the demo's Camtrap DP package carries real places rather than the 0/0 placeholder.
PLACES = {
    "Meadow (cross-midnight bursts)": (45.5352, -73.1738),
    "Forest edge (three bursts)": (45.5489, -73.1512),
    "Wetland (all night)": (45.5201, -73.1295),
}


# Light-trap photographs: a pale, lit sheet with moths that arrive and leave through the night.
PHOTO_SIZE = (640, 427)
MOTHS_PER_NIGHT = 36
SHEET = (232, 228, 214)
MOTH_COLOURS = ((92, 72, 52), (60, 52, 44), (128, 104, 70), (46, 40, 36), (150, 128, 96), (84, 84, 76))


@dataclass(frozen=True)
class Moth:
    """One insect on the sheet: where it sits, how big, which way it points, and when it is there."""
    x: float
    y: float
    span: float
    angle: float
    colour: tuple[int, int, int]
    arrives: datetime
    leaves: datetime


def _sheet_background():
    """The lit sheet: brightest where the lamp hangs, darker and cooler towards the corners, with a fold."""
    from PIL import Image, ImageDraw, ImageFilter

    width, height = PHOTO_SIZE
    light = Image.radial_gradient("L").resize(PHOTO_SIZE)  # 0 at the centre, 255 at the rim
    sheet = Image.new("RGB", PHOTO_SIZE, SHEET)
    shade = Image.new("RGB", PHOTO_SIZE, (150, 152, 160))
    sheet = Image.composite(shade, sheet, light.point(lambda v: int(v * 0.55)))
    draw = ImageDraw.Draw(sheet)
    for offset in (0, 1):
        draw.line([(width * 0.62 + offset, 0), (width * 0.58 + offset, height)], fill=(218, 214, 201), width=2)
    return sheet.filter(ImageFilter.GaussianBlur(1))


def night_moths(rng: random.Random, evening: datetime) -> list[Moth]:
    """The night's visitors: most arrive in the first hours after dusk and stay a while."""
    width, height = PHOTO_SIZE
    moths = []
    for _ in range(MOTHS_PER_NIGHT):
        arrives = evening + timedelta(minutes=rng.triangular(-60, 600, 90))
        moths.append(
            Moth(
                x=rng.uniform(0.08, 0.92) * width,
                y=rng.uniform(0.1, 0.9) * height,
                span=rng.choice((14, 18, 22, 28, 36, 48)) * rng.uniform(0.85, 1.15),
                angle=rng.uniform(0, 2 * math.pi),
                colour=rng.choice(MOTH_COLOURS),
                arrives=arrives,
                leaves=arrives + timedelta(minutes=rng.uniform(10, 240)),
            )
        )
    return moths


def _rotated(points, cx, cy, angle):
    cos, sin = math.cos(angle), math.sin(angle)
    return [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in points]


def _draw_moth(draw, moth: Moth) -> None:
    """A resting moth seen from above: two swept-back wings and a narrow body, with a soft shadow."""
    s = moth.span / 2
    wing = [(0, -s * 0.2), (-s * 0.55, s * 0.1), (-s, s * 0.55), (-s * 0.9, s * 0.85), (-s * 0.5, s * 0.95), (0, s * 0.7)]
    mirrored = [(-x, y) for x, y in wing]
    body = [(-s * 0.09, -s * 0.35), (s * 0.09, -s * 0.35), (s * 0.07, s * 0.8), (-s * 0.07, s * 0.8)]
    dark = tuple(max(0, c - 25) for c in moth.colour)
    for shape, fill in ((wing, (196, 192, 180)), (mirrored, (196, 192, 180))):
        draw.polygon(_rotated(shape, moth.x + 2, moth.y + 3, moth.angle), fill=fill)
    for shape, fill in ((wing, moth.colour), (mirrored, moth.colour), (body, dark)):
        draw.polygon(_rotated(shape, moth.x, moth.y, moth.angle), fill=fill)
    for side in (-1, 1):
        draw.line(_rotated([(0, -s * 0.35), (side * s * 0.3, -s * 0.75)], moth.x, moth.y, moth.angle), fill=dark, width=1)


def photo_bytes(background, moths: list[Moth], moment: datetime, rng: random.Random) -> bytes:
    """One capture: the moths on the sheet at `moment`, its time in EXIF DateTimeOriginal."""
    from PIL import Image, ImageDraw

    image = background.copy()
    draw = ImageDraw.Draw(image)
    for moth in moths:
        if moth.arrives <= moment < moth.leaves:
            # A moth shifts a little between shots.
            _draw_moth(draw, Moth(moth.x + rng.uniform(-2, 2), moth.y + rng.uniform(-2, 2), moth.span,
                                  moth.angle + rng.uniform(-0.08, 0.08), moth.colour, moth.arrives, moth.leaves))
    draw.text((8, PHOTO_SIZE[1] - 16), f"{moment:%Y-%m-%d %H:%M:%S}", fill=(70, 70, 70))
    exif = Image.Exif()
    exif[0x8769] = {0x9003: f"{moment:%Y:%m:%d %H:%M:%S}"}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80, exif=exif)
    return buffer.getvalue()


def capture_times(schedule: list[Burst], nights: int, first_night: date = FIRST_NIGHT) -> list[datetime]:
    """Every capture time of a schedule over `nights` nights from `first_night`."""
    times = []
    for night in range(nights):
        evening = first_night + timedelta(days=night)
        for burst in schedule:
            start = datetime.combine(evening + timedelta(days=burst.offset_days), burst.start)
            times.extend(start + timedelta(minutes=m) for m in range(0, burst.minutes + 1, 5))
    return times


def write_station_files(folder: Path, schedule: list[Burst], nights: int, seed: int) -> None:
    """Write one light-trap JPEG per capture time, named like the stations' cameras name them."""
    rng = random.Random(seed)
    background = _sheet_background()
    for night in range(nights):
        evening = datetime.combine(FIRST_NIGHT + timedelta(days=night), time(21, 0))
        moths = night_moths(rng, evening)
        for moment in capture_times(schedule, 1, first_night=evening.date()):
            night_dir = folder / moment.strftime("%Y-%m-%d")
            night_dir.mkdir(parents=True, exist_ok=True)
            target = night_dir / f"{moment:%Y%m%d%H%M%S}-snapshot.jpg"
            if not target.exists():
                target.write_bytes(photo_bytes(background, moths, moment, rng))


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
        source = sources.register_source({"name": DEMO_SOURCE, "location": str(demo_folder)})
        created.append(f"storage source {DEMO_SOURCE}")
    sources.grant(source, project)

    new_stations = []
    for index, (name, (schedule, nights)) in enumerate(STATIONS.items()):
        latitude, longitude = PLACES[name]
        existing = db.session.scalar(db.select(Deployment).filter_by(project_id=project.id, name=name))
        if existing is not None:
            # A demo seeded before stations had places gets them; a place someone set stays.
            if existing.latitude is None and existing.longitude is None:
                existing.latitude, existing.longitude = latitude, longitude
            continue
        folder = demo_folder / f"station-{index + 1}"
        write_station_files(folder, schedule, nights, seed=index)
        deployment = Deployment(
            name=name, project=project, data_source=str(folder.resolve()), latitude=latitude, longitude=longitude
        )
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


def sign_in_box(url: str) -> str:
    """The lines `make run` prints last, framed so they stand out of the server's log: where and as whom to sign in."""
    lines = [
        f"ami-sessions is up: {url}",
        f"Project manager: {DEMO_MANAGER[0]} / {DEMO_MANAGER[1]}",
        f"Basic member:    {DEMO_MEMBER[0]} / {DEMO_MEMBER[1]}",
        "Ctrl-C stops the site and its worker.",
    ]
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])
