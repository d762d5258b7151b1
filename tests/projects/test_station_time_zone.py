"""A station's time zone: IANA names only, checked in one place for pages and API."""
import pytest

from tests.conftest import add_deployment
from webapp.extensions import db
from webapp.models import Deployment
from webapp.projects import clean_time_zone, time_zone_names, update_deployment
from webapp.validation import ValidationError


@pytest.mark.parametrize("value, cleaned", [("UTC", "UTC"), (" Europe/Paris ", "Europe/Paris"),
                                            ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires")])
def test_iana_names_are_accepted(value, cleaned):
    assert clean_time_zone(value) == cleaned


@pytest.mark.parametrize("value", ["", "   ", "Mars/Olympus", "europe/paris", "localtime", "posixrules", "Factory",
                                   "../../etc/passwd", "/usr/share/zoneinfo/UTC", "UTC\x00", "x" * 65, 3, None])
def test_anything_else_is_refused_with_a_clear_message(value):
    with pytest.raises(ValueError) as raised:
        clean_time_zone(value)
    message = str(raised.value)
    assert "IANA time zone name" in message or "Enter a time zone" in message
    assert len(message) < 200


def test_the_suggestions_are_sorted_iana_names():
    names = time_zone_names()
    assert names == sorted(names) and "Europe/Paris" in names and "localtime" not in names


def test_a_station_defaults_to_utc_and_keeps_a_changed_zone(project, app):
    station = add_deployment(project, "Clock")
    assert station.time_zone == "UTC"
    update_deployment(station, {"time_zone": "Asia/Tokyo"})
    db.session.expire_all()
    assert db.session.get(Deployment, station.id).time_zone == "Asia/Tokyo"
    with pytest.raises(ValidationError) as raised:
        update_deployment(station, {"time_zone": "Tokyo"})
    assert list(raised.value.errors) == ["time_zone"]
    db.session.rollback()
    assert db.session.get(Deployment, station.id).time_zone == "Asia/Tokyo"


def test_the_api_sets_and_refuses_time_zones(app, client, project, manager):
    from tests.api_helpers import call, token_for
    from tests.conftest import add_deployment, grant_data_root

    grant_data_root(project)
    station = add_deployment(project, "Dune")
    token = token_for(manager)
    response = call(client, "PATCH", f"/deployments/{station.id}/", token, json={"time_zone": "Europe/Paris"})
    assert response.status_code == 200 and response.get_json()["time_zone"] == "Europe/Paris"
    for wrong in ("Mars/Olympus", "localtime", "../etc/passwd", 5):
        response = call(client, "PATCH", f"/deployments/{station.id}/", token, json={"time_zone": wrong})
        assert response.status_code == 400 and "time_zone" in response.get_json()["errors"], wrong
    assert call(client, "GET", f"/deployments/{station.id}/", token).get_json()["time_zone"] == "Europe/Paris"
