"""Shared by the thumbnail tests: real image files, captures on a station, and calls to the endpoint."""
import io
from datetime import datetime
from pathlib import Path

from PIL import Image

from tests.api_helpers import call
from webapp.extensions import db
from webapp.models import Capture, Thumbnail

CAPTURE_TIME = datetime(2024, 6, 12, 22, 0)


def write_image(path: Path, kind: str = "jpeg", size=(900, 600)) -> Path:
    """A real image file of one of the modes a station (or an upload) can produce."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "jpeg":
        Image.effect_noise(size, 40).convert("RGB").save(path, "JPEG", quality=85)
    elif kind == "rgba-png":
        image = Image.new("RGBA", size, (200, 180, 40, 0))
        image.paste((30, 30, 30, 255), (100, 100, 400, 300))
        image.save(path, "PNG")
    elif kind == "p-png":
        Image.effect_noise(size, 40).convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE).save(path, "PNG")
    elif kind == "tiff16":
        image = Image.new("I", size)
        image.paste(40000, (0, 0, size[0] // 2, size[1]))
        image.convert("I;16").save(path, "TIFF")
    else:
        raise ValueError(kind)
    return path


def add_capture(station, name="20240612220000.jpg", kind="jpeg", timestamp=CAPTURE_TIME, size=None, **fields) -> Capture:
    path = write_image(Path(station.data_source) / name, kind, **({"size": size} if size else {}))
    capture = Capture(deployment_id=station.id, path=name, timestamp=timestamp, size=path.stat().st_size, **fields)
    db.session.add(capture)
    db.session.commit()
    return capture


def token(user) -> str:
    value = user.new_api_token()
    db.session.commit()
    return value


def get_thumbnail(client, capture_id, token_value, label=None):
    query = f"?label={label}" if label is not None else ""
    return call(client, "GET", f"/captures/thumbnails/{capture_id}/{query}", token_value)


def fetch_file(client, response, token_value) -> Image.Image:
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    file_response = client.get(location, headers={"Authorization": f"Token {token_value}"})
    data = file_response.get_data()
    file_response.close()
    assert file_response.status_code == 200
    assert file_response.mimetype == "image/jpeg"
    return Image.open(io.BytesIO(data))


def only_row(capture_id, label="small") -> Thumbnail:
    db.session.expire_all()
    rows = db.session.scalars(db.select(Thumbnail).filter_by(capture_id=capture_id, label=label)).all()
    assert len(rows) == 1
    return rows[0]


def stored_file(app, row: Thumbnail) -> Path:
    return Path(app.config["THUMBNAIL_ROOT"]) / row.path
