"""A station's place: latitude and longitude, both or neither, set on the edit form and through the API."""
import os

import pytest

from tests.api_helpers import call, token_for
from tests.conftest import add_deployment, add_user, csrf_token_from, grant_data_root
from webapp.extensions import db
from webapp.models import Deployment, Membership
from webapp.projects import clean_latitude, clean_longitude, degrees_from_text, stations_without_coordinates


@pytest.fixture
def station(app, project):
    grant_data_root(project)
    folder = os.path.join(app.config["DATA_SOURCE_ROOTS"][0], "site-a")
    os.makedirs(folder, exist_ok=True)
    return add_deployment(project, "Meadow", data_source=folder)


def _edit(client, station, **fields):
    token = csrf_token_from(client.get("/projects/").get_data(as_text=True))
    form = {"name": station.name, "data_source": station.data_source, "session_gap_hours": "", "time_zone": "UTC",
            "csrf_token": token, **fields}
    return client.post(f"/deployments/{station.id}/edit", data=form)


def _place(station):
    db.session.expire_all()
    stored = db.session.get(Deployment, station.id)
    return stored.latitude, stored.longitude


# -- the rules ----------------------------------------------------------------

@pytest.mark.parametrize("value", [-90, 90, 0, 45.5, -33.8688])
def test_latitudes_within_90_degrees_are_kept(value):
    assert clean_latitude(value) == value


@pytest.mark.parametrize("value", [90.0001, -91, 180, float("inf"), float("nan"), 10**400, True, "45", [45]])
def test_other_latitudes_are_refused(value):
    with pytest.raises(ValueError):
        clean_latitude(value)


def test_longitudes_reach_180_degrees():
    assert clean_longitude(-180) == -180.0 and clean_longitude(179.99) == 179.99
    with pytest.raises(ValueError, match="between -180 and 180"):
        clean_longitude(180.5)


@pytest.mark.parametrize("text, value", [("", None), ("  ", None), ("45.5", 45.5), ("-73,1531", -73.1531), ("2e1", 20.0)])
def test_typed_degrees(text, value):
    assert degrees_from_text("latitude", text) == value


@pytest.mark.parametrize("text", ["north", "45°", "45.5N", "1" * 50, "nan", "45.5, -73.2"])
def test_typed_degrees_that_are_not_numbers_are_refused(text):
    with pytest.raises(ValueError, match="decimal degrees"):
        degrees_from_text("latitude", text)


# -- the station's edit form ------------------------------------------------------

def test_the_edit_form_sets_shows_and_clears_the_place(client, auth, station):
    auth.login()
    response = _edit(client, station, latitude=" 45.5352 ", longitude="-73,1738")
    assert response.status_code == 303
    assert _place(station) == (45.5352, -73.1738)
    html = client.get(f"/deployments/{station.id}/edit").get_data(as_text=True)
    assert 'name="latitude" value="45.5352"' in html and 'name="longitude" value="-73.1738"' in html
    assert _edit(client, station, latitude="", longitude="").status_code == 303
    assert _place(station) == (None, None)


def test_a_post_without_the_place_fields_keeps_the_place(client, auth, station):
    station.latitude, station.longitude = 45.5, -73.1
    db.session.commit()
    auth.login()
    assert _edit(client, station, name="Renamed").status_code == 303
    assert _place(station) == (45.5, -73.1)


@pytest.mark.parametrize("latitude, longitude, field, message", [
    ("91", "4.35", "latitude", "between -90 and 90"),
    ("-90.5", "4.35", "latitude", "between -90 and 90"),
    ("50.85", "180.01", "longitude", "between -180 and 180"),
    ("50.85", "", "longitude", "Give the longitude too"),
    ("", "4.35", "latitude", "Give the latitude too"),
    ("north", "4.35", "latitude", "decimal degrees"),
    ("50.85", "4°21′", "longitude", "decimal degrees"),
])
def test_bad_places_are_field_errors_and_nothing_is_saved(client, auth, station, latitude, longitude, field, message):
    auth.login()
    response = _edit(client, station, name="Renamed", latitude=latitude, longitude=longitude)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html and message in html
    other = "longitude" if field == "latitude" else "latitude"
    assert f'id="{other}-error"' not in html
    assert f'name="latitude" value="{latitude}"' in html  # the typed values are kept
    db.session.expire_all()
    stored = db.session.get(Deployment, station.id)
    assert (stored.name, stored.latitude, stored.longitude) == ("Meadow", None, None)


def test_a_non_number_with_a_bad_gap_still_shows_both_errors(client, auth, station):
    auth.login()
    response = _edit(client, station, session_gap_hours="soon", latitude="north", longitude="4.35")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="session_gap_hours-error"' in html and "Enter the latitude in decimal degrees" in html


def test_a_new_station_may_be_placed(client, auth, project, station):
    auth.login()
    token = csrf_token_from(client.get(f"/projects/{project.id}/stations/new").get_data(as_text=True))
    response = client.post(f"/projects/{project.id}/stations/new", data={
        "name": "Forest", "data_source": station.data_source, "session_gap_hours": "", "time_zone": "UTC",
        "latitude": "45.5489", "longitude": "-73.1512", "csrf_token": token})
    assert response.status_code == 303
    forest = db.session.scalar(db.select(Deployment).filter_by(name="Forest"))
    assert (forest.latitude, forest.longitude) == (45.5489, -73.1512)


# -- the API -------------------------------------------------------------------------

def test_the_api_sets_returns_and_clears_the_place(client, manager, station):
    token = token_for(manager)
    assert call(client, "GET", f"/deployments/{station.id}/", token).get_json()["latitude"] is None
    response = call(client, "PATCH", f"/deployments/{station.id}/", token, json={"latitude": -33.8688, "longitude": 151})
    assert response.status_code == 200
    assert (response.get_json()["latitude"], response.get_json()["longitude"]) == (-33.8688, 151.0)
    body = call(client, "GET", f"/deployments/{station.id}/", token).get_json()
    assert (body["latitude"], body["longitude"]) == (-33.8688, 151.0)
    # One coordinate alone pairs with the stored other.
    assert call(client, "PATCH", f"/deployments/{station.id}/", token, json={"longitude": 150.5}).status_code == 200
    assert _place(station) == (-33.8688, 150.5)
    response = call(client, "PATCH", f"/deployments/{station.id}/", token, json={"latitude": None, "longitude": None})
    assert response.status_code == 200 and response.get_json()["latitude"] is None
    assert _place(station) == (None, None)


@pytest.mark.parametrize("body, field", [
    ({"latitude": 90.5, "longitude": 0}, "latitude"),
    ({"latitude": -1e300, "longitude": 0}, "latitude"),
    ({"latitude": 10, "longitude": -181}, "longitude"),
    ({"latitude": "north", "longitude": 4}, "latitude"),
    ({"latitude": "45.5", "longitude": 4}, "latitude"),
    ({"latitude": True, "longitude": 4}, "latitude"),
    ({"latitude": 10**400, "longitude": 4}, "latitude"),
    ({"latitude": 50.85}, "longitude"),  # the station has no longitude
    ({"latitude": None, "longitude": 4}, "latitude"),
])
def test_bad_places_are_400_naming_the_field(client, manager, station, body, field):
    response = call(client, "PATCH", f"/deployments/{station.id}/", token_for(manager), json=body)
    assert response.status_code == 400
    answer = response.get_json()
    assert list(answer["errors"]) == [field] and field in answer["detail"]
    assert _place(station) == (None, None)


def test_non_finite_numbers_in_json_are_400(client, manager, station):
    for raw in ('{"latitude": NaN, "longitude": 0}', '{"latitude": Infinity, "longitude": 0}'):
        response = call(client, "PATCH", f"/deployments/{station.id}/", token_for(manager), data=raw,
                        content_type="application/json")
        assert response.status_code == 400 and "latitude" in response.get_json()["errors"], raw


def test_clearing_one_of_a_stored_pair_is_refused(client, manager, station):
    station.latitude, station.longitude = 45.5, -73.1
    db.session.commit()
    response = call(client, "PATCH", f"/deployments/{station.id}/", token_for(manager), json={"longitude": None})
    assert response.status_code == 400 and list(response.get_json()["errors"]) == ["longitude"]
    assert _place(station) == (45.5, -73.1)


def test_a_member_cannot_move_a_station(client, project, station):
    member = add_user("member@example.org")
    db.session.add(Membership(user=member, project=project, role="BasicMember"))
    db.session.commit()
    response = call(client, "PATCH", f"/deployments/{station.id}/", token_for(member), json={"latitude": 1, "longitude": 2})
    assert response.status_code == 403 and _place(station) == (None, None)


# -- the project page ------------------------------------------------------------------

def test_the_project_page_counts_stations_without_a_place_and_links_their_edit_pages(client, auth, project, station):
    add_deployment(project, "<b>Pond</b>")
    add_deployment(project, "Placed", latitude=45.5, longitude=-73.1)
    assert stations_without_coordinates(project).count == 2
    auth.login()
    html = client.get(f"/projects/{project.id}/").get_data(as_text=True)
    assert "2 stations have no coordinates" in html
    pond = db.session.scalar(db.select(Deployment).filter_by(name="<b>Pond</b>"))
    assert f'<a href="/deployments/{pond.id}/edit">&lt;b&gt;Pond&lt;/b&gt;</a>' in html
    assert f'<a href="/deployments/{station.id}/edit">Meadow</a>' in html
    assert "<b>Pond</b>" not in html
    for placed in (pond, station):
        placed.latitude, placed.longitude = 1.0, 2.0
    db.session.commit()
    assert "no coordinates" not in client.get(f"/projects/{project.id}/").get_data(as_text=True)
