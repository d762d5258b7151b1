"""Choosing the gap with evidence: preview numbers, gap histogram, timeline, schedule warning, history."""
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api_helpers import call, token_for
from tests.conftest import add_deployment, add_user
from webapp import jobs
from webapp.extensions import db
from webapp.gaps import bin_index, format_seconds, schedule_fit
from webapp.models import Capture, Deployment, Event, Job, RegroupRecord
from webapp.sessions import preview_regroup, regroup_deployment
from webapp.sources import refresh_deployment_stats

SVG = "{http://www.w3.org/2000/svg}"
NIGHT = datetime(2026, 6, 1)
MINUTE = timedelta(minutes=1)


def mothbox_nights(nights: int = 4) -> list[datetime]:
    """A Mothbox-like schedule: a shot a minute 21:00–23:00, off 121 min across midnight, 01:01–03:00."""
    times = []
    for night in range(nights):
        evening = NIGHT + timedelta(days=night, hours=21)
        times += [evening + i * MINUTE for i in range(121)]
        morning = evening + timedelta(hours=2, minutes=121)
        times += [morning + i * MINUTE for i in range(120)]
    return times


def add_captures(deployment: Deployment, timestamps) -> None:
    start = db.session.scalar(db.select(db.func.count()).select_from(Capture).where(Capture.deployment_id == deployment.id))
    db.session.execute(
        db.insert(Capture.__table__),
        [{"deployment_id": deployment.id, "path": f"img/{start + i}.jpg", "timestamp": t, "size": 1}
         for i, t in enumerate(timestamps)],
    )
    refresh_deployment_stats(deployment)
    db.session.commit()


def svg_of(html: str, element_id: str) -> ET.Element:
    """The <svg> inside the element with `element_id`, parsed as XML (well-formedness is checked here)."""
    start = html.index(f'id="{element_id}"')
    svg_start = html.index("<svg", start)
    svg_end = html.index("</svg>", svg_start) + len("</svg>")
    return ET.fromstring(html[svg_start:svg_end])


def row_counts() -> dict:
    return {model.__name__: db.session.scalar(db.select(db.func.count()).select_from(model))
            for model in (Capture, Event, Job, RegroupRecord, Deployment)}


@pytest.fixture
def station(project):
    return add_deployment(project, "Mothbox")


# -- the pure parts ------------------------------------------------------------

def test_schedule_warning_fires_for_mothbox_at_2_h_and_not_at_3_h():
    times = mothbox_nights()
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    fit = schedule_fit(gaps, 7200)
    assert fit is not None
    assert fit.occurrences == 4 and fit.off_window_seconds == 121 * 60
    # The suggestion is clear of every recurring off-window's ±10 % band.
    assert fit.suggested_gap_seconds is not None
    assert not 121 * 60 * 0.9 <= fit.suggested_gap_seconds <= 121 * 60 * 1.1
    assert abs(fit.suggested_gap_seconds - 7260) > 0.1 * fit.suggested_gap_seconds
    assert "2 h 1 min" in fit.message() and "e.g." in fit.message()
    assert schedule_fit(gaps, 3 * 3600) is None
    # Two occurrences are not yet a schedule.
    off_windows = [i for i, gap in enumerate(gaps) if gap == 7260]
    assert schedule_fit(gaps[: off_windows[2]], 7200) is None


def test_gap_labels_use_s_min_h_d():
    assert [format_seconds(s) for s in (45, 60, 7260, 86400 * 3 + 3600)] == ["45 s", "1 min", "2 h 1 min", "3 d 1 h"]


# -- preview == what the regroup then produces ---------------------------------

def _observed(deployment: Deployment, gap: int) -> dict:
    """The numbers the preview promises, read back from the sessions a real regroup wrote."""
    db.session.expire_all()
    events = db.session.scalars(db.select(Event).where(Event.deployment_id == deployment.id).order_by(Event.start)).all()
    return {
        "sessions_after": len(events),
        "longest_session_seconds": int(max((e.duration_seconds for e in events), default=0)),
        "sessions_capped": sum(1 for a, b in zip(events, events[1:]) if (b.start - a.end).total_seconds() < gap),
        "single_capture_sessions": sum(1 for e in events if e.captures_count == 1),
    }


def _membership(deployment: Deployment) -> dict[int, int]:
    """Capture id → id of the session whose span holds its timestamp."""
    events = db.session.execute(
        db.select(Event.id, Event.start, Event.end).where(Event.deployment_id == deployment.id)
    ).all()
    result = {}
    for capture_id, timestamp in db.session.execute(
        db.select(Capture.id, Capture.timestamp).where(Capture.deployment_id == deployment.id, Capture.timestamp.is_not(None))
    ):
        holders = [event_id for event_id, start, end in events if start <= timestamp <= end]
        assert len(holders) <= 1
        result[capture_id] = holders[0] if holders else None
    return result


def _merged_split(before: dict[int, int], after: dict[int, int]) -> tuple[int, int]:
    old_to_new: dict = {}
    new_to_old: dict = {}
    for capture_id, old in before.items():
        new = after[capture_id]
        old_to_new.setdefault(old, set()).add(new)
        new_to_old.setdefault(new, set()).add(old)
    merged = {old for olds in new_to_old.values() if len(olds) > 1 for old in olds}
    split = sum(1 for news in old_to_new.values() if len(news) > 1)
    return len(merged), split


schedules = st.lists(
    st.tuples(st.integers(0, 4 * 24 * 60), st.integers(1, 40), st.sampled_from([1, 5, 20, 60])),
    min_size=1, max_size=6,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bursts=schedules,
    singles=st.lists(st.integers(0, 4 * 24 * 3600), max_size=5),
    first=st.tuples(st.sampled_from([60, 1800, 7200, 43200]), st.sampled_from(["date", "night", "run"])),
    second=st.tuples(st.integers(60, 2 * 86400), st.sampled_from(["date", "night", "run"])),
)
def test_preview_numbers_equal_what_the_regroup_then_produces(app, project, bursts, singles, first, second):
    deployment = add_deployment(project, "Random schedule")
    times = []
    for start_minute, shots, step_minutes in bursts:
        start = NIGHT + timedelta(minutes=start_minute)
        times += [start + timedelta(minutes=step_minutes * i) for i in range(shots)]
    times += [NIGHT + timedelta(seconds=s) for s in singles]
    times += times[: len(times) // 7]  # duplicates
    add_captures(deployment, times)
    project.session_time_gap_seconds, project.session_keying = first
    db.session.commit()
    regroup_deployment(deployment)
    before = _membership(deployment)

    gap, keying = second
    counts = row_counts()
    preview = preview_regroup(deployment, gap, keying)
    assert row_counts() == counts  # the preview wrote nothing

    project.session_time_gap_seconds, project.session_keying = gap, keying
    db.session.commit()
    regroup_deployment(deployment)
    assert {k: preview[k] for k in _observed(deployment, gap)} == _observed(deployment, gap)
    assert (preview["sessions_merged"], preview["sessions_split"]) == _merged_split(before, _membership(deployment))
    # Asked again with the same rule: the cached answer now compares with the new sessions.
    again = preview_regroup(deployment, gap, keying)
    assert again["sessions_before"] == again["sessions_after"] == preview["sessions_after"]
    assert again["sessions_merged"] == again["sessions_split"] == 0


# -- pages -----------------------------------------------------------------------

def test_station_page_warns_and_draws_the_histogram(app, client, auth, project, station):
    add_captures(station, mothbox_nights())
    auth.login()
    html = client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    assert 'id="schedule-fit"' in html and "2 h 1 min" in html

    svg = svg_of(html, "gap-histogram")
    assert svg.find(f"{SVG}title").text.startswith("Gaps between consecutive captures")
    assert svg.find(f"{SVG}desc") is not None
    bars = svg.findall(f".//{SVG}rect[@class='bar']")
    # In-burst minutes, the 121-minute off-window and the night break.
    night_break = (NIGHT + timedelta(days=1, hours=21)) - (NIGHT + timedelta(hours=21, minutes=241 + 119))
    assert len(bars) == len({bin_index(60), bin_index(7260), bin_index(night_break.total_seconds())}) == 3
    assert sorted(int(b.find(f"{SVG}title").text.split(": ")[1].split()[0]) for b in bars) == [3, 4, 4 * 239]
    assert svg.find(f".//{SVG}line[@id='hist-current-line']").get("data-gap-seconds") == "7200"
    assert svg.find(f".//{SVG}line[@id='hist-preview-line']") is None
    assert "Gap counts as a table" in html
    # The count scale: powers of ten up to the tallest bar (956 gaps), on the bars' log scale.
    ticks = svg.findall(f".//{SVG}text[@class='tick count-tick']")
    assert [t.text for t in ticks] == ["1", "10", "100"]
    tallest = max(bars, key=lambda b: float(b.get("height")))
    assert float(ticks[-1].get("y")) - 4 > float(tallest.get("y"))  # 100 sits below the top of 956

    station.session_time_gap_seconds = 3 * 3600
    db.session.commit()
    assert 'id="schedule-fit"' not in client.get(f"/deployments/{station.id}/").get_data(as_text=True)


def test_preview_line_moves_with_the_proposed_gap(app, client, auth, project, station):
    add_captures(station, mothbox_nights())
    auth.login()
    positions = []
    for hours_ in ("0.5", "2", "5"):
        response = client.get(f"/deployments/{station.id}/preview?session_gap_hours={hours_}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert 'data-hx-swap-oob="true"' in html
        line = svg_of(html, "gap-histogram").find(f".//{SVG}line[@id='hist-preview-line']")
        assert line.get("data-gap-seconds") == str(int(float(hours_) * 3600))
        positions.append(float(line.get("x1")))
    assert positions == sorted(positions) and len(set(positions)) == 3
    # The numbers are the preview's; at 2 h the warning shows in the fragment, at 5 h it does not.
    html = client.get(f"/deployments/{station.id}/preview?session_gap_hours=2").get_data(as_text=True)
    assert 'data-preview="sessions_after">5<' in html and "warning-box" in html
    assert "warning-box" not in client.get(f"/deployments/{station.id}/preview?session_gap_hours=5").get_data(as_text=True)
    bad = client.get(f"/deployments/{station.id}/preview?session_gap_hours=abc")
    assert bad.status_code == 400 and "field-error" in bad.get_data(as_text=True)


def test_project_preview_lists_every_station(app, client, auth, project, station):
    add_captures(station, mothbox_nights())
    other = add_deployment(project, "Other", session_time_gap_seconds=4 * 3600)
    add_captures(other, mothbox_nights(2))
    auth.login()
    counts = row_counts()
    html = client.get(f"/projects/{project.id}/preview?session_gap_hours=2&session_keying=run").get_data(as_text=True)
    assert row_counts() == counts
    rows = re.findall(r'<tr data-deployment="(\d+)">(.*?)</tr>', html, re.S)
    by_id = {int(i): body for i, body in rows}
    assert set(by_id) == {station.id, other.id}
    assert 'data-preview="sessions_after">8<' in by_id[station.id]  # 2 runs a night
    assert 'data-preview="sessions_after">2<' in by_id[other.id] and "own gap 4 h" in by_id[other.id]
    assert client.get(f"/projects/{project.id}/preview?session_gap_hours=2&session_keying=x").status_code == 400


def test_timeline_draws_a_band_per_session_and_night(app, client, auth, project, station):
    add_captures(station, mothbox_nights(3))
    project.session_keying = "run"
    db.session.commit()
    regroup_deployment(station)
    auth.login()
    html = client.get(f"/deployments/{station.id}/timeline?month=2026-06").get_data(as_text=True)
    svg = svg_of(html, "session-timeline")
    assert svg.find(f"{SVG}title").text == "Sessions of Mothbox, June 2026"
    links = svg.findall(f".//{SVG}g[@class='band-link']")
    ids = db.session.scalars(db.select(Event.id).where(Event.deployment_id == station.id).order_by(Event.start)).all()
    assert len(ids) == 6
    # Each night's two runs sit in one noon-to-noon row: six bands, three rows, every band links to its session.
    assert [a.get("data-href") for a in links] == [f"/events/{i}/" for i in ids]
    assert len(svg.findall(f".//{SVG}g[@class='night']")) == 3
    assert len(svg.findall(f".//{SVG}path[@class='capture-ticks']")) == 3

    project.session_keying = "date"
    db.session.commit()
    regroup_deployment(station)
    html = client.get(f"/deployments/{station.id}/timeline").get_data(as_text=True)
    svg = svg_of(html, "session-timeline")
    # Under date keying the morning run joins the next evening's session, whose span crosses noon: 2 rows for it.
    events = db.session.scalars(db.select(Event).where(Event.deployment_id == station.id)).all()
    expected = sum(1 + sum(1 for d in range(1, 4) if e.start < NIGHT + timedelta(days=d, hours=12) <= e.end)
                   for e in events)
    assert len(svg.findall(f".//{SVG}rect")) == expected == 6
    assert client.get(f"/deployments/{station.id}/timeline?month=2026-13").status_code == 200


# -- history ---------------------------------------------------------------------

def test_regroup_jobs_write_history_and_the_schedule_warning(app, client, auth, manager, project, station):
    add_captures(station, mothbox_nights())
    job = jobs.create_job("regroup_events", station, manager)
    jobs.run_job(job.id)
    project.session_time_gap_seconds = 3 * 3600
    db.session.commit()
    second = jobs.create_job("regroup_events", station, manager)
    jobs.run_job(second.id)

    db.session.expire_all()
    first_log = db.session.get(Job, job.id).logs["stdout"]
    assert any(" WARNING " in line and "off-window of about 2 h 1 min" in line for line in first_log)
    assert not any("off-window" in line for line in db.session.get(Job, second.id).logs["stdout"])

    token = token_for(manager)
    body = call(client, "GET", f"/deployments/{station.id}/regroup-history/", token).get_json()
    assert body["count"] == 2
    newest, oldest = body["results"]
    assert newest["job_id"] == second.id and oldest["job_id"] == job.id
    assert oldest == {**oldest, "user": manager.email, "gap_seconds": 7200, "keying": "date",
                      "sessions_before": 0, "sessions_after": 5}
    assert newest == {**newest, "gap_seconds": 10800, "sessions_before": 5, "sessions_after": 4}
    assert newest["finished_at"].endswith("Z")
    stranger = add_user("stranger@example.org")
    assert call(client, "GET", f"/deployments/{station.id}/regroup-history/", token_for(stranger)).status_code == 404
    auth.login()
    html = client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    history = html[html.index('id="regroup-history"'):]
    assert "5 → 4" in history and "0 → 5" in history and "3 h gap, date" in history


def test_a_long_regroup_history_is_paged_in_the_api_and_cut_on_the_page(app, client, auth, manager, station):
    start = datetime(2024, 1, 1)
    db.session.execute(RegroupRecord.__table__.insert(), [
        {"deployment_id": station.id, "finished_at": start + timedelta(hours=i), "gap_seconds": 7200, "keying": "date",
         "max_session_seconds": 86400, "sessions_before": i, "sessions_after": i + 1}
        for i in range(45)
    ])
    db.session.commit()
    token = token_for(manager)
    first = call(client, "GET", f"/deployments/{station.id}/regroup-history/?page_size=20", token).get_json()
    assert first["count"] == 45 and len(first["results"]) == 20 and first["previous"] is None
    assert first["results"][0]["sessions_after"] == 45  # newest first
    last = client.get(first["next"].replace("page=2", "page=3"), headers={"Authorization": f"Token {token}"}).get_json()
    assert [r["sessions_after"] for r in last["results"]] == [5, 4, 3, 2, 1] and last["next"] is None
    auth.login()
    html = client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    history = html[html.index('id="regroup-history"'):]
    assert history.count("<tr>") == 1 + 20
    assert "The 20 newest of 45 regroups" in history


def test_pictures_of_a_station_without_captures(app, client, auth, project, station):
    auth.login()
    html = client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    svg = svg_of(html, "gap-histogram")
    assert svg.findall(f".//{SVG}rect") == [] and "No gaps yet" in html
    assert 'id="schedule-fit"' not in html
    timeline = client.get(f"/deployments/{station.id}/timeline")
    assert timeline.status_code == 200 and "No captures or sessions" in timeline.get_data(as_text=True)
    preview = client.get(f"/deployments/{station.id}/preview?session_gap_hours=3").get_data(as_text=True)
    assert 'data-preview="sessions_after">0<' in preview


@pytest.mark.parametrize("keying", ["date", "night", "run"])
def test_the_timeline_and_station_page_answer_for_clocks_at_the_ends_of_the_calendar(app, client, auth, project, station,
                                                                                      keying):
    """A clock reset can date captures in year 1 or 9999: every page and month answers, none overflows."""
    add_captures(station, [datetime(1, 1, 1, 0, 30), datetime(1, 1, 1, 1, 0), datetime(2026, 6, 1, 22, 0),
                           datetime(9999, 12, 31, 23, 0), datetime(9999, 12, 31, 23, 59, 59)])
    project.session_keying = keying
    db.session.commit()
    regroup_deployment(station)
    auth.login()
    for query in ("", "?month=9999-12", "?month=0001-01", "?month=2026-06", "?month=9999-13", "?month=0000-01"):
        response = client.get(f"/deployments/{station.id}/timeline{query}")
        assert response.status_code == 200, query
    last = client.get(f"/deployments/{station.id}/timeline?month=9999-12").get_data(as_text=True)
    assert 'rel="prev"' in last and 'rel="next"' not in last and "December 9999" in last
    first = client.get(f"/deployments/{station.id}/timeline?month=0001-01").get_data(as_text=True)
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert client.get(f"/deployments/{station.id}/").status_code == 200


def test_the_preview_memo_is_bounded_by_bytes_however_many_gaps_are_tried(app, project, station):
    """300 different gaps on a station of many sessions: the memo keeps a few MB, and drops a station's
    previews of captures it no longer has."""
    import gc
    import tracemalloc

    from webapp.sessions import preview as preview_module
    from webapp.sessions.station_times import app_cache

    add_captures(station, [NIGHT + i * timedelta(minutes=10) for i in range(2000)])
    project.session_keying = "run"
    db.session.commit()
    preview_regroup(station, 60, "run")  # the station's times are read and cached before measuring
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for gap in range(61, 361):
        assert preview_regroup(station, gap, "run")["sessions_after"] == 2000
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert held < 2 * preview_module.CACHE_BYTES, held
    cache = app_cache("preview", preview_module.CACHE_BYTES)
    assert sum(preview_module._weight(value) for value in cache.items.values()) <= preview_module.CACHE_BYTES
    assert preview_regroup(station, 61, "run")["sessions_after"] == 2000

    add_captures(station, [NIGHT - timedelta(days=1)])
    db.session.refresh(station)
    preview_regroup(station, 60, "run")
    assert {key[1] for key in cache.items} == {station.captures_version}
