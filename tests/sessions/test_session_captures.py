"""A session's captures by span: example captures (first, middle, last, largest), the
events API's `example_captures`, the session page and the station page's thumbnails."""
import re
from datetime import datetime, timedelta

import pytest

from tests.api_helpers import call, user_with_token
from tests.conftest import add_deployment, add_user
from webapp.extensions import db
from webapp.models import Capture, Event
from webapp.sessions import session_captures

NIGHT = datetime(2024, 6, 12, 21, 0)


def add_session(station, start: datetime, count: int, largest_at: int | None = None, step=timedelta(minutes=5)) -> Event:
    """`count` captures `step` apart from `start` (one larger file at `largest_at`) and their session row."""
    times = [start + i * step for i in range(count)]
    db.session.add_all(
        Capture(deployment_id=station.id, path=f"{t:%Y%m%d%H%M%S}.jpg", timestamp=t,
                size=5000 if i == largest_at else 1000 + i)
        for i, t in enumerate(times)
    )
    session = Event(deployment_id=station.id, project_id=station.project_id, group_by=f"{start:%Y-%m-%d}",
                    start=times[0], end=times[-1], captures_count=count)
    db.session.add(session)
    db.session.commit()
    return session


def capture_at(station, moment: datetime) -> int:
    return db.session.scalar(db.select(Capture.id).filter_by(deployment_id=station.id, timestamp=moment))


@pytest.fixture
def station(app, project):
    return add_deployment(project, "Meadow")


def test_examples_are_first_middle_last_and_largest_in_two_queries(app, station):
    first = add_session(station, NIGHT, 9, largest_at=2)
    second = add_session(station, NIGHT + timedelta(days=1), 4, largest_at=0)
    third = add_session(station, NIGHT + timedelta(days=2), 1)
    other = add_deployment(station.project, "Other")
    # Another station's captures inside the same span are not the session's.
    add_session(other, NIGHT, 9, largest_at=3)
    sessions = [first, second, third]
    [(s.id, s.start, s.end) for s in sessions]  # loaded, as a page of sessions is
    statements = []
    from sqlalchemy import event as sa_event

    def count(*args):
        statements.append(args)

    sa_event.listen(db.engine, "before_cursor_execute", count)
    try:
        found = session_captures.example_captures(sessions)
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 2
    step = timedelta(minutes=5)
    assert [c.timestamp for c in found[first.id]] == [NIGHT, NIGHT + 2 * step, NIGHT + 4 * step, NIGHT + 8 * step]
    assert [c.id for c in found[first.id]][0] == capture_at(station, NIGHT)
    start = NIGHT + timedelta(days=1)
    # Four captures 5 min apart: the middle of the span (7.5 min) is the third; the largest is the first, shown once.
    assert [c.timestamp for c in found[second.id]] == [start, start + 2 * step, start + 3 * step]
    assert [c.timestamp for c in found[third.id]] == [NIGHT + timedelta(days=2)]


def test_events_api_lists_example_captures_with_thumbnail_urls(app, client, station, manager):
    session = add_session(station, NIGHT, 5, largest_at=1)
    token = manager.new_api_token()
    db.session.commit()
    body = call(client, "GET", f"/events/?deployment={station.id}", token).get_json()
    (result,) = body["results"]
    examples = result["example_captures"]
    assert [e["timestamp"] for e in examples] == [
        (NIGHT + i * timedelta(minutes=5)).isoformat() for i in (0, 1, 2, 4)
    ]
    assert set(examples[0]["thumbnails"]) == {"small", "medium"}
    assert examples[0]["thumbnails"]["small"].endswith(f"/api/v2/captures/thumbnails/{examples[0]['id']}/?label=small")
    detail = call(client, "GET", f"/events/{session.id}/", token)
    assert detail.status_code == 200 and detail.get_json() == result

    outsider, outsider_token = user_with_token("outsider@example.org")
    assert call(client, "GET", f"/events/{session.id}/", outsider_token).status_code == 404
    assert call(client, "GET", "/events/", outsider_token).get_json()["count"] == 0


def test_session_page_shows_span_rule_grid_and_neighbours(app, client, auth, station):
    station.grouped_gap_seconds, station.grouped_keying = 7200, "night"
    before = add_session(station, NIGHT - timedelta(days=1), 3)
    session = add_session(station, NIGHT, 70)
    after = add_session(station, NIGHT + timedelta(days=1), 3)
    auth.login()
    page = client.get(f"/events/{session.id}/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "2024-06-12 21:00:00" in html and "5 h 45 min" in html and ">70<" in html
    assert "2 h gap" in html and "night" in html
    assert f'href="/events/{before.id}/" rel="prev"' in html and f'href="/events/{after.id}/" rel="next"' in html
    images = re.findall(r'<img src="(/api/v2/captures/thumbnails/\d+/\?label=small)" loading="lazy"[^>]*width="240" height="160"', html)
    assert len(images) == session_captures.CAPTURES_PER_PAGE
    assert html.count("label=medium") == session_captures.CAPTURES_PER_PAGE
    assert "<script>" not in html and "style=" not in html
    second = client.get(f"/events/{session.id}/?page=2").get_data(as_text=True)
    assert second.count("label=small") == 70 - session_captures.CAPTURES_PER_PAGE


def test_session_page_is_for_members_only(app, client, auth, station):
    session = add_session(station, NIGHT, 3)
    add_user("outsider@example.org", "pw-outsider")
    auth.login("outsider@example.org", "pw-outsider")
    assert client.get(f"/events/{session.id}/").status_code == 404
    assert client.get("/events/99999/").status_code == 404


def test_station_page_rows_show_example_thumbnails(app, client, auth, station):
    session = add_session(station, NIGHT, 9, largest_at=2)
    auth.login()
    html = client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    assert f'href="/events/{session.id}/"' in html
    row_images = re.findall(r'<img src="/api/v2/captures/thumbnails/(\d+)/\?label=small" loading="lazy"[^>]*width="240"', html)
    assert len(row_images) == 4
