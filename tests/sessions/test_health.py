"""Station health: each kind of problem is found, with its count, first and last, on a station built to
show it, and a healthy twin (2 h on / 2 h off bursts across midnight for a month) shows none."""
from datetime import datetime, timedelta

import numpy as np
import pytest

from tests.api_helpers import call, token_for
from tests.conftest import add_deployment, add_user, csrf_token_from
from tests.sessions.test_insights import add_captures
from webapp.extensions import db
from webapp.models import Deployment
from webapp.sessions import BackwardsCounter, HealthRules, regroup_deployment
from webapp.sessions.health import find_problems

FIRST_NIGHT = datetime(2024, 6, 1)


def bursts(nights: int = 30, first: datetime = FIRST_NIGHT, skip=()) -> list[datetime]:
    """A shot every 4 minutes, 2 h on / 2 h off across midnight: 20–22, 00–02 and 04–06 each night."""
    times = []
    for night in range(nights):
        if night in skip:
            continue
        evening = first + timedelta(days=night, hours=20)
        for start in (evening, evening + timedelta(hours=4), evening + timedelta(hours=8)):
            times += [start + timedelta(minutes=4 * i) for i in range(30)]
    return times


@pytest.fixture
def night_project(project):
    project.session_keying = "night"
    db.session.commit()
    return project


def problems_of(station) -> dict[str, dict]:
    regroup_deployment(station)
    db.session.expire_all()
    return {p["kind"]: p for p in db.session.get(Deployment, station.id).health_problems}


def test_the_healthy_twin_has_no_problem(app, night_project):
    station = add_deployment(night_project, "Healthy")
    add_captures(station, bursts())
    assert problems_of(station) == {}
    assert db.session.get(Deployment, station.id).has_problems is False


def test_a_clock_reset_is_found_and_kept_out_of_the_nights(app, night_project):
    station = add_deployment(night_project, "Reset")
    reset = [datetime(2000, 1, 1, 0, 5) + timedelta(minutes=i) for i in range(50)]
    add_captures(station, bursts() + reset)
    problems = problems_of(station)
    assert set(problems) == {"clock_reset"}  # not a 24-year "outage"
    assert problems["clock_reset"] == {**problems["clock_reset"], "severity": "error", "count": 50,
                                       "first": "2000-01-01T00:05:00", "last": "2000-01-01T00:54:00"}
    assert "before 2010-01-01" in problems["clock_reset"]["detail"]


def test_future_dates_are_found(app, night_project):
    station = add_deployment(night_project, "Ahead")
    add_captures(station, bursts() + [datetime(2099, 6, 1, 22, 0), datetime(2099, 6, 2, 22, 0)])
    problems = problems_of(station)
    assert set(problems) == {"future_dates"}
    assert problems["future_dates"]["count"] == 2
    assert (problems["future_dates"]["first"], problems["future_dates"]["last"]) == ("2099-06-01T22:00:00",
                                                                                     "2099-06-02T22:00:00")


def test_an_outage_of_three_nights_or_more_is_found_and_two_are_not(app, night_project):
    station = add_deployment(night_project, "Gaps")
    add_captures(station, bursts(skip={3, 4} | set(range(10, 16))))
    problems = problems_of(station)
    assert set(problems) == {"outage"}
    assert problems["outage"] == {**problems["outage"], "count": 1, "first": "2024-06-11", "last": "2024-06-16"}
    assert "6 nights from 2024-06-11" in problems["outage"]["detail"]


def test_a_trigger_storm_is_found(app, night_project):
    station = add_deployment(night_project, "Stuck")
    storm = [datetime(2024, 6, 8, 23, 0) + timedelta(seconds=i) for i in range(3000)]
    add_captures(station, bursts() + storm)
    problems = problems_of(station)
    assert set(problems) == {"trigger_storm"}
    assert problems["trigger_storm"] == {**problems["trigger_storm"], "count": 1, "first": "2024-06-08",
                                         "last": "2024-06-08"}


def test_a_storm_needs_both_the_factor_and_the_minimum(app, night_project):
    station = add_deployment(night_project, "Busy but small")
    # 5.5× the median of 90 a night, but under 500 captures.
    busy = [datetime(2024, 6, 8, 23, 0) + timedelta(seconds=i) for i in range(405)]
    add_captures(station, bursts() + busy)
    assert problems_of(station) == {}


def test_a_clock_12_hours_off_shows_daytime_captures_unless_the_station_works_by_day(app, night_project):
    station = add_deployment(night_project, "AM/PM")
    add_captures(station, [t + timedelta(hours=12) for t in bursts()])
    problems = problems_of(station)
    assert "daytime_captures" in problems
    # 20–22 and 04–06 become 08–10 and 16–18: only 00–02 → 12–14 falls in 10:00–16:00, a third.
    assert problems["daytime_captures"]["count"] == 30 * 30
    assert problems["daytime_captures"]["detail"].startswith("33 %")
    night_project.health_settings = {"active_at": "day"}
    db.session.commit()
    assert "daytime_captures" not in problems_of(station)


def test_joined_nights_under_date_keying_are_found(app, project):
    station = add_deployment(project, "Date keyed")  # the default keying: date
    add_captures(station, bursts(nights=5))
    problems = problems_of(station)
    assert set(problems) == {"nights_joined"}
    # Each date from the 2nd to the 5th joins its early morning (00–02, 04–06) to its evening (20–22).
    assert problems["nights_joined"] == {**problems["nights_joined"], "count": 4,
                                         "first": "2024-06-02T00:00:00", "last": "2024-06-05T00:00:00"}


def test_thresholds_come_from_the_project(app, night_project):
    station = add_deployment(night_project, "Gaps")
    add_captures(station, bursts(skip={3, 4}))
    assert problems_of(station) == {}
    night_project.health_settings = {"outage_nights": 2, "unknown": 1}
    db.session.commit()
    assert problems_of(station)["outage"]["first"] == "2024-06-04"


def test_problems_are_replaced_by_each_regroup_and_an_unchanged_result_writes_nothing(app, night_project):
    station = add_deployment(night_project, "Reset")
    add_captures(station, bursts() + [datetime(2001, 1, 1, 22, 0)])
    assert set(problems_of(station)) == {"clock_reset"}
    computed = db.session.get(Deployment, station.id).health_computed_at
    assert set(problems_of(station)) == {"clock_reset"}
    assert db.session.get(Deployment, station.id).health_computed_at == computed
    db.session.execute(db.text("DELETE FROM capture WHERE timestamp < '2010-01-01'"))
    db.session.commit()
    assert problems_of(station) == {}
    assert db.session.get(Deployment, station.id).has_problems is False


def test_time_going_backwards_in_a_folder_counts_once_per_file():
    counter = BackwardsCounter(HealthRules())
    night = datetime(2024, 6, 1, 22)
    for path, moment in [("a/001.jpg", night), ("a/002.jpg", night + timedelta(minutes=1)),
                         ("a/003.jpg", night - timedelta(hours=5)),  # back 5 h: counted
                         ("a/004.jpg", night - timedelta(hours=5, minutes=30)),  # back 30 min: not
                         ("b/001.jpg", night - timedelta(days=3)),  # another folder starts afresh
                         ("b/002.jpg", None), ("b/003.jpg", night - timedelta(days=4))]:
        counter.add(path, moment)
    problem = counter.problem()
    assert problem == {**problem, "kind": "time_backwards", "count": 2,
                       "first": "2024-05-28T22:00:00", "last": "2024-06-01T17:00:00"}
    added = BackwardsCounter(HealthRules()).problem(problem)
    assert added["count"] == 2


def test_a_million_timestamps_are_checked_in_one_pass():
    """The checks are vectorised: a year of a busy station is a handful of numpy passes."""
    start = np.datetime64("2024-01-01T20:00:00", "us").astype(np.int64)
    values = np.sort(start + np.random.default_rng(1).integers(0, 365 * 86_400_000_000, 1_000_000))
    found = find_problems(values, values[:1], values[:1], HealthRules(active_at="both"), datetime(2025, 6, 1))
    assert {p["kind"] for p in found} <= {"trigger_storm", "outage"}


def test_the_health_api(app, client, manager, night_project):
    station = add_deployment(night_project, "Reset")
    token = token_for(manager)
    never = call(client, "GET", f"/deployments/{station.id}/health/", token).get_json()
    assert never == {"deployment_id": station.id, "computed_at": None, "problems": []}
    add_captures(station, bursts() + [datetime(2001, 1, 1, 22, 0)])
    regroup_deployment(station)
    body = call(client, "GET", f"/deployments/{station.id}/health/", token).get_json()
    assert body["computed_at"].endswith("Z")
    assert [p["kind"] for p in body["problems"]] == ["clock_reset"]
    stranger = add_user("stranger@example.org")
    assert call(client, "GET", f"/deployments/{station.id}/health/", token_for(stranger)).status_code == 404


def test_a_sync_finds_a_clock_that_went_back_in_file_name_order_and_the_regroup_keeps_it(app, night_project):
    from pathlib import Path

    from tests.conftest import grant_data_root
    from tests.jobs.test_jobs import run
    from tests.sources.test_sync_unreadable import jpeg_with_exif_time

    folder = Path(app.config["DATA_SOURCE_ROOTS"][0]) / "camera"
    folder.mkdir()
    night = datetime(2024, 6, 3, 22, 0)
    # The camera restarted after IMG_0003: its clock began again at 2024-06-01 00:00.
    for number, taken in enumerate([night, night + timedelta(minutes=10), night + timedelta(minutes=20),
                                    datetime(2024, 6, 1, 0, 0), datetime(2024, 6, 1, 0, 10)], 1):
        (folder / f"IMG_{number:04d}.JPG").write_bytes(jpeg_with_exif_time(taken))
    grant_data_root(night_project)
    station = add_deployment(night_project, "Restarted", data_source=str(folder))
    job = run("data_storage_sync", station)  # the sync stage, then its regroup stage
    assert job.status == "SUCCESS", job.logs
    db.session.expire_all()
    problems = {p["kind"]: p for p in db.session.get(Deployment, station.id).health_problems}
    assert problems["time_backwards"] == {**problems["time_backwards"], "count": 1,
                                          "first": "2024-06-01T00:00:00", "last": "2024-06-01T00:00:00"}
    assert db.session.get(Deployment, station.id).has_problems is True


def _problem_station(project, name="Reset"):
    station = add_deployment(project, name)
    add_captures(station, bursts(nights=5) + [datetime(2001, 1, 1, 22, 0)])
    regroup_deployment(station)
    return station


def test_the_station_page_lists_each_problem_with_its_timeline_link_and_fix(app, client, auth, project):
    station = _problem_station(project)  # date keying: a clock reset and joined nights
    auth.login()
    html = client.get(f"/deployments/{station.id}/").get_data(as_text=True)
    panel = html[html.index('id="health"'):html.index("</section>", html.index('id="health"'))]
    assert "clock reset" in panel and "nights joined" in panel
    assert f"/deployments/{station.id}/timeline?month=2001-01" in panel
    assert f"/deployments/{station.id}/clock-offsets" in panel and "set a clock offset" in panel
    assert "keying=night" in panel and "Preview night keying" in panel
    preview = client.get(f"/deployments/{station.id}/preview?keying=night&panel=health")
    assert preview.status_code == 200
    body = preview.get_data(as_text=True)
    assert 'id="health-preview"' in body and "/ night" in body
    assert client.get(f"/deployments/{station.id}/preview?keying=noon").status_code == 400
    healthy = add_deployment(project, "Unchecked")
    assert "Not checked yet" in client.get(f"/deployments/{healthy.id}/").get_data(as_text=True)


def test_the_stations_list_badges_and_filters_stations_with_problems_and_the_project_counts_them(
        app, client, auth, project, manager):
    station = _problem_station(project)
    fine = add_deployment(project, "Fine")
    auth.login()
    html = client.get(f"/projects/{project.id}/").get_data(as_text=True)
    assert "1 station has problems" in html and "state=has-problems" in html
    row = html[html.index(f'href="/deployments/{station.id}/"'):]
    assert "2 problems" in row[:row.index("</td>")]
    filtered = client.get(f"/projects/{project.id}/?state=has-problems").get_data(as_text=True)
    assert f'href="/deployments/{station.id}/"' in filtered and f'href="/deployments/{fine.id}/"' not in filtered
    assert 'value="has-problems"' in filtered


def test_camtrap_dp_marks_stations_with_clock_problems(app, client, project, manager):
    import csv
    import io
    import zipfile

    station = _problem_station(project)
    fine = add_deployment(project, "Fine")
    add_captures(fine, bursts(nights=2))
    regroup_deployment(fine)
    archive = zipfile.ZipFile(io.BytesIO(
        call(client, "GET", f"/projects/{project.id}/export/camtrap-dp.zip", token_for(manager)).get_data()))
    rows = {r["deploymentID"]: r["timestampIssues"] for r in csv.DictReader(io.StringIO(archive.read("deployments.csv").decode()))}
    assert rows == {str(station.id): "true", str(fine.id): "false"}


def test_the_operation_calendar_marks_stations_with_problems(app, client, auth, project):
    _problem_station(project)
    auth.login()
    html = client.get(f"/projects/{project.id}/operation").get_data(as_text=True)
    assert 'class="problem-mark"' in html and "before 2010-01-01" in html


def test_a_manager_sets_the_thresholds_and_bad_ones_are_named(app, client, auth, project):
    auth.login()
    page = client.get(f"/projects/{project.id}/settings").get_data(as_text=True)
    assert 'id="health-settings"' in page and 'value="2010-01-01"' in page
    good = {"plausible_start": "2015-01-01", "future_margin_days": "2", "outage_nights": "4", "storm_factor": "6.5",
            "storm_minimum": "800", "daytime_percent": "10", "backwards_minutes": "30", "active_at": "both"}
    good["csrf_token"] = csrf_token_from(page)
    response = client.post(f"/projects/{project.id}/settings/health", data=good)
    assert response.status_code == 303
    db.session.expire_all()
    assert HealthRules.of(db.session.get(type(project), project.id).health_settings) == HealthRules(
        plausible_start="2015-01-01", future_margin_days=2, outage_nights=4, storm_factor=6.5, storm_minimum=800,
        daytime_percent=10.0, backwards_minutes=30, active_at="both")
    bad = client.post(f"/projects/{project.id}/settings/health",
                      data={**good, "outage_nights": "0", "daytime_percent": "lots", "active_at": "noon",
                            "plausible_start": "2999-01-01"})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "Outage (nights): must be a number from 1 to 365." in html
    assert "Daytime captures (%): must be a number from 0 to 100." in html
    assert "Choose night, day or both." in html and "Plausible start: must be a date" in html
    db.session.expire_all()
    assert db.session.get(type(project), project.id).health_settings["outage_nights"] == 4  # nothing lost


def test_only_managers_change_the_thresholds(app, client, auth, project):
    from webapp.models import Membership

    member = add_user("member@example.org", "pw-member")
    db.session.add(Membership(user=member, project=project, role="BasicMember"))
    db.session.commit()
    auth.login("member@example.org", "pw-member")
    token = csrf_token_from(client.get(f"/projects/{project.id}/settings").get_data(as_text=True))
    answer = client.post(f"/projects/{project.id}/settings/health", data={"outage_nights": "9", "csrf_token": token})
    assert answer.status_code == 403
    assert 'id="health-settings"' not in client.get(f"/projects/{project.id}/settings").get_data(as_text=True)


def test_the_api_lists_the_stations_with_problems(app, client, project, manager):
    station = _problem_station(project)
    add_deployment(project, "Fine")
    body = call(client, "GET", f"/deployments/?project={project.id}&state=has-problems", token_for(manager)).get_json()
    assert [s["id"] for s in body["results"]] == [station.id]
