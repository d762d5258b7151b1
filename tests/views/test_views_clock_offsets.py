"""The clock offsets page: a manager adds "+N years N days" from the form (converted by the calendar from the
range's start), sees field errors for bad input, and removes an offset; members only read."""
from datetime import datetime

from tests.conftest import add_deployment, add_user, csrf_token_from
from tests.sessions.test_regroup import add_captures, burst
from webapp.extensions import db
from webapp.models import Capture, ClockOffset, Membership


def station_with_reset_night(project):
    deployment = add_deployment(project)
    add_captures(deployment, burst(datetime(2016, 1, 1, 22)))
    return deployment


def test_a_manager_adds_and_removes_an_offset_in_years_and_days(client, auth, project):
    station = station_with_reset_night(project)
    auth.login()
    page = client.get(f"/deployments/{station.id}/clock-offsets")
    assert page.status_code == 200 and "No clock offsets" in page.get_data(as_text=True)
    token = csrf_token_from(page.get_data(as_text=True))
    response = client.post(f"/deployments/{station.id}/clock-offsets", data={
        "csrf_token": token, "start": "", "end": "", "direction": "add", "years": "8", "days": "3"})
    assert response.status_code == 303
    offset = db.session.scalar(db.select(ClockOffset))
    assert (offset.start, offset.end) == (datetime(2016, 1, 1, 22), datetime(2016, 1, 1, 22, 25))
    db.session.expire_all()
    assert min(db.session.scalars(db.select(Capture.timestamp))) == datetime(2024, 1, 4, 22)
    html = client.get(response.location).get_data(as_text=True)
    assert "+2,925 d 0 h 00 min" in html and "applies the offsets" in html
    removed = client.post(f"/deployments/{station.id}/clock-offsets/{offset.id}/remove", data={"csrf_token": token})
    assert removed.status_code == 303 and db.session.scalar(db.select(ClockOffset)) is None
    db.session.expire_all()
    assert min(db.session.scalars(db.select(Capture.timestamp))) == datetime(2016, 1, 1, 22)


def test_bad_input_shows_field_errors_and_stores_nothing(client, auth, project):
    station = station_with_reset_night(project)
    auth.login()
    token = csrf_token_from(client.get(f"/deployments/{station.id}/clock-offsets").get_data(as_text=True))
    for form, message in (({"start": "tomorrow"}, "Must be a date and time"),
                          ({"years": "-3"}, "Years: a whole number"),
                          ({"years": "0"}, "An offset of 0 changes nothing"),
                          ({"start": "0001-01-01T00:00", "years": "100", "direction": "subtract"}, "between 1900"),
                          ({"start": "9999-12-31T23:00", "days": "30000"}, "between 1900"),
                          ({"start": "2016-01-02T00:00", "end": "2016-01-01T00:00", "hours": "1"}, "before the start")):
        response = client.post(f"/deployments/{station.id}/clock-offsets", data={"csrf_token": token} | form)
        html = response.get_data(as_text=True)
        assert response.status_code == 400 and message in html, form
    assert db.session.scalar(db.select(db.func.count(ClockOffset.id))) == 0


def test_members_see_the_offsets_without_the_form(client, auth, project):
    station = station_with_reset_night(project)
    member = add_user("member@example.org", password="pw-member")
    db.session.add(Membership(user_id=member.id, project_id=project.id, role="BasicMember"))
    db.session.commit()
    auth.login("member@example.org", "pw-member")
    html = client.get(f"/deployments/{station.id}/clock-offsets").get_data(as_text=True)
    assert "Clock offsets" in html and "Add an offset" not in html
    assert f'href="/deployments/{station.id}/clock-offsets"' in client.get(f"/deployments/{station.id}/").get_data(as_text=True)
