"""GET /api/v2/captures/: a station's captures (or one session's) in time order, each with the
session whose span holds it, paged like every list."""
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event as sa_event

from tests.api_helpers import call, token_for
from tests.conftest import add_deployment, add_project
from tests.sessions.test_regroup import CROSS_MIDNIGHT, add_captures
from webapp.extensions import db
from webapp.models import Capture, Event
from webapp.sessions import captures_page, regroup_deployment
from webapp.sources import insert_captures

COUNT_OVER_CAPTURE = re.compile(r"\bcount\([^)]*\)[^;]*\bFROM capture\b", re.IGNORECASE | re.DOTALL)


@pytest.fixture
def token(manager):
    return token_for(manager)


@pytest.fixture
def grouped(project):
    station = add_deployment(project)
    add_captures(station, CROSS_MIDNIGHT + [None])
    regroup_deployment(station)
    # A capture that a sync added after the regroup (as every capture arrives), outside every span.
    insert_captures(station, [{"path": "late/0.jpg", "timestamp": CROSS_MIDNIGHT[-1] + timedelta(days=2), "size": 1}])
    db.session.commit()
    return station


def _sessions(station):
    db.session.expire_all()
    return db.session.scalars(db.select(Event).filter_by(deployment_id=station.id).order_by(Event.start)).all()


def test_captures_of_a_station_in_time_order_with_their_session(app, client, token, grouped):
    first, second = _sessions(grouped)
    body = call(client, "GET", f"/captures/?deployment={grouped.id}&page_size=100", token).get_json()
    assert body["count"] == 14 and body["next"] is None and body["previous"] is None
    results = body["results"]
    assert set(results[0]) == {"id", "deployment_id", "event_id", "timestamp", "original_timestamp", "path", "thumbnails"}
    stamped = [r for r in results if r["timestamp"] is not None]
    assert [r["timestamp"] for r in stamped] == sorted(r["timestamp"] for r in stamped)
    assert [r["event_id"] for r in stamped] == [first.id] * 6 + [second.id] * 6 + [None]
    # The capture without a time comes last and belongs to no session.
    assert results[-1]["timestamp"] is None and results[-1]["event_id"] is None
    assert all(r["deployment_id"] == grouped.id for r in results)
    # Every configured size, as the thumbnail endpoint's URL.
    assert all(set(r["thumbnails"]) == {"small", "medium"} for r in results)
    assert results[0]["thumbnails"]["small"].endswith(f"/api/v2/captures/thumbnails/{results[0]['id']}/?label=small")


def test_captures_of_one_session_and_paging(app, client, token, grouped):
    first, second = _sessions(grouped)
    page = call(client, "GET", f"/captures/?deployment={grouped.id}&event={second.id}&page_size=4", token).get_json()
    assert page["count"] == 6 and len(page["results"]) == 4 and "page=2" in page["next"]
    assert {r["event_id"] for r in page["results"]} == {second.id}
    assert page["results"][0]["timestamp"] == second.start.isoformat()
    rest = call(client, "GET", f"/captures/?deployment={grouped.id}&event={second.id}&page=2&page_size=4", token)
    assert [r["timestamp"] for r in rest.get_json()["results"]][-1] == second.end.isoformat()


def test_bad_parameters_are_400_and_other_stations_404(app, client, token, grouped):
    other_project = add_project("Other")
    elsewhere = add_deployment(other_project, "Elsewhere")
    add_captures(elsewhere, [datetime(2026, 1, 1)])
    regroup_deployment(elsewhere)
    foreign = _sessions(elsewhere)[0]
    for query, field in (("", "deployment"), ("deployment=abc", "deployment"), ("deployment=1&page=0", "page"),
                         (f"deployment={grouped.id}&event=x", "event"),
                         (f"deployment={grouped.id}&event={foreign.id}", "event"),
                         (f"deployment={grouped.id}&event=999999", "event")):
        response = call(client, "GET", f"/captures/?{query}", token)
        assert response.status_code == 400, (query, response.get_json())
        assert field in response.get_json()["errors"], query
    assert call(client, "GET", f"/captures/?deployment={elsewhere.id}", token).status_code == 404
    assert call(client, "GET", "/captures/?deployment=99999999999", token).status_code == 404
    huge = "9" * 40
    assert call(client, "GET", f"/captures/?deployment={grouped.id}&event={huge}", token).status_code == 400
    beyond = call(client, "GET", f"/captures/?deployment={grouped.id}&page={huge}", token)
    assert beyond.status_code == 200 and beyond.get_json()["results"] == []
    assert call(client, "GET", f"/captures/?deployment={grouped.id}", None).status_code == 401


def _statements(action) -> list[str]:
    """The SQL statements `action()` sends to the database."""
    sent = []

    def record(conn, cursor, statement, *args):
        sent.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)
    return sent


def test_a_whole_station_is_paged_from_its_cached_count_and_a_session_is_counted(app, client, token, grouped):
    """Counting a station's captures took 277 ms at 1M on PostgreSQL: the station's own count answers instead."""
    first, _ = _sessions(grouped)
    db.session.expire_all()
    station = db.session.get(type(grouped), grouped.id)
    sent = _statements(lambda: captures_page(station, page=1, per_page=5).items)
    assert not [s for s in sent if COUNT_OVER_CAPTURE.search(s)], sent

    sent = _statements(lambda: call(client, "GET", f"/captures/?deployment={grouped.id}&page_size=5", token))
    assert sent and not [s for s in sent if COUNT_OVER_CAPTURE.search(s)], sent
    # One session's captures are counted, over the session's span.
    sent = _statements(lambda: call(client, "GET", f"/captures/?deployment={grouped.id}&event={first.id}", token))
    assert len([s for s in sent if COUNT_OVER_CAPTURE.search(s)]) == 1, sent


def test_the_count_follows_captures_added_batch_by_batch(app, client, token, grouped):
    """A sync commits its captures in batches and refreshes the station's stats at the end: the count is
    right after every batch, those without a timestamp included."""
    for batch in range(2):
        insert_captures(grouped, [{"path": f"batch-{batch}/{i}.jpg", "timestamp": None if i == 0 else
                                   datetime(2026, 2, 1 + batch, 22, i), "size": 1} for i in range(3)])
        db.session.commit()
        real = db.session.scalar(db.select(db.func.count()).select_from(Capture).filter_by(deployment_id=grouped.id))
        body = call(client, "GET", f"/captures/?deployment={grouped.id}&page_size=5&page=4", token).get_json()
        assert body["count"] == real == 14 + 3 * (batch + 1)
        assert len(body["results"]) == real - 15 and body["results"][-1]["timestamp"] is None
