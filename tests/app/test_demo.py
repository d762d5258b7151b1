"""The demo's captures look like light-trap photographs and carry their time in EXIF; its stations have places."""
import math
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

from webapp.extensions import db
from webapp.models import Capture, Deployment, Job
from webapp.sources import timestamp_from_exif, timestamp_from_name


def test_demo_photos_are_pale_sheets_with_changing_dark_shapes(runner, app):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    station = db.session.scalars(db.select(Deployment).order_by(Deployment.id)).first()
    captures = db.session.scalars(
        db.select(Capture).filter_by(deployment_id=station.id).order_by(Capture.timestamp).limit(12)
    ).all()
    images = []
    for capture in captures:
        path = Path(station.data_source) / capture.path
        assert timestamp_from_exif(path) == timestamp_from_name(path.name) == capture.timestamp
        with Image.open(path) as image:
            images.append(image.convert("L"))
    for image in images:
        stat = ImageStat.Stat(image)
        assert stat.mean[0] > 170  # a pale sheet
        assert image.getextrema()[0] < 90  # with dark shapes on it
    # Consecutive shots differ (moths arrive, leave and shift), as a real trap's do.
    assert all(ImageChops.difference(a, b).getbbox() is not None for a, b in zip(images, images[1:]))
    # The demo's syncs made the example thumbnails of every session.
    for job in db.session.scalars(db.select(Job)):
        assert job.param("thumbnails", "generated") > 0 and job.param("thumbnails", "failed") == 0


def test_demo_stations_stand_a_few_km_apart_so_the_export_has_real_places(runner, app):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    stations = db.session.scalars(db.select(Deployment).order_by(Deployment.id)).all()
    assert len(stations) == 3 and all(s.has_coordinates for s in stations)
    for a in stations:
        for b in stations:
            if a is b:
                continue
            # Equirectangular distance: plenty at a few km.
            dx = math.radians(a.longitude - b.longitude) * math.cos(math.radians(a.latitude))
            km = 6371 * math.hypot(dx, math.radians(a.latitude - b.latitude))
            assert 0.5 < km < 10, (a.name, b.name, km)
    # A demo seeded before stations had places gets them on the next seed; a place someone set stays.
    first, second = stations[:2]
    first.latitude = first.longitude = None
    second.latitude, second.longitude = 1.0, 2.0
    db.session.commit()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    db.session.expire_all()
    assert db.session.get(Deployment, first.id).has_coordinates
    assert (db.session.get(Deployment, second.id).latitude, db.session.get(Deployment, second.id).longitude) == (1.0, 2.0)
