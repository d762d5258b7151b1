"""No input can stall the server: numbers are read with a length limit and a
range check first, request bodies have a maximum size, free text a maximum length."""
import pytest

from tests.api_helpers import call, token_for
from tests.conftest import add_deployment, csrf_token_from, disposing_context, make_app
from webapp.extensions import db
from webapp.models import Deployment, Project
from webapp.sessions import clean_gap_hours

HUGE = ["1e999990", "1e999999999", "9" * 11_000_000, "1e100", "0x10", "1_000", "١٢", "2" + "0" * 41]


@pytest.mark.parametrize("typed", HUGE, ids=["1e999990", "1e999999999", "11MB-digits", "1e100", "hex", "underscore",
                                             "arabic-digits", "42-digits"])
def test_gap_hours_outside_plain_notation_is_refused_as_not_a_number(typed):
    with pytest.raises(ValueError, match="Enter a number of hours"):
        clean_gap_hours(typed)


def test_gap_hours_in_plain_notation_still_work():
    assert clean_gap_hours("1.5") == 5400
    assert clean_gap_hours(" 2,25 ") == 8100
    assert clean_gap_hours(".5") == 1800
    assert clean_gap_hours("168") == 604800
    assert clean_gap_hours("1.5E0") == 5400
    for typed, message in (("999999999999999", "at most 168"), ("1e99", "at most 168"), ("-1", "more than 0"),
                           ("0.000001", "at least 1"), ("1e-99", "at least 1")):
        with pytest.raises(ValueError, match=message):
            clean_gap_hours(typed)


@pytest.fixture
def big_body_app(backend, tmp_path, request):
    """The site with a body limit large enough for an 11 MB form field."""
    app = make_app(backend, tmp_path, request, MAX_CONTENT_LENGTH=12 * 1024 * 1024, MAX_FORM_MEMORY_SIZE=None)
    with disposing_context(app):
        yield app


def _form_post(client, path, data):
    token = csrf_token_from(client.get("/projects/").get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


@pytest.mark.parametrize("typed", HUGE[:3], ids=["1e999990", "1e999999999", "11MB-digits"])
def test_huge_gaps_on_the_settings_and_station_forms_are_400_field_errors(big_body_app, typed):
    from tests.conftest import AuthActions, FreshGlobalsClient, add_project, add_user

    big_body_app.test_client_class = FreshGlobalsClient
    client = big_body_app.test_client()
    manager = add_user("manager@example.org", "pw-manager")
    project = add_project(members=[(manager, "ProjectManager")])
    station = add_deployment(project, "North")
    AuthActions(client).login()
    settings = _form_post(client, f"/projects/{project.id}/settings",
                          {"session_gap_hours": typed, "session_keying": "date"})
    assert settings.status_code == 400
    assert "Enter a number of hours" in settings.get_data(as_text=True)
    own_gap = _form_post(client, f"/deployments/{station.id}/settings", {"session_gap_hours": typed})
    assert own_gap.status_code == 400
    assert "Enter a number of hours" in own_gap.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Project, project.id).session_time_gap_seconds == 7200
    assert db.session.get(Deployment, station.id).session_time_gap_seconds is None


def test_a_body_over_the_limit_is_413_json_for_the_api(client, manager, project):
    token = token_for(manager)
    response = call(client, "PATCH", f"/projects/{project.id}/", token,
                    json={"description": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert response.get_json() == {"detail": "The request is too large: at most 1048576 bytes are accepted."}
    db.session.expire_all()
    assert db.session.get(Project, project.id).description == ""


def test_a_body_over_the_limit_is_a_413_page_for_forms(client, auth, project):
    auth.login()
    response = _form_post(client, f"/projects/{project.id}/settings",
                          {"session_gap_hours": "2", "session_keying": "date", "filler": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "at most 1048576 bytes" in response.get_data(as_text=True)


def test_the_body_limit_follows_the_environment(monkeypatch, tmp_path):
    from webapp.config import from_environment

    monkeypatch.setenv("MAX_CONTENT_LENGTH", "2048")
    assert from_environment(tmp_path)["MAX_CONTENT_LENGTH"] == 2048
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "lots")
    with pytest.raises(ValueError, match="MAX_CONTENT_LENGTH"):
        from_environment(tmp_path)


def test_descriptions_have_a_length_limit(client, manager, project):
    token = token_for(manager)
    response = call(client, "PATCH", f"/projects/{project.id}/", token, json={"description": "x" * 10_001})
    assert response.status_code == 400
    assert response.get_json()["errors"]["description"] == ["At most 10000 characters."]
    created = call(client, "POST", "/projects/", token, json={"name": "N", "description": "y" * 10_001})
    assert created.status_code == 400
    assert call(client, "PATCH", f"/projects/{project.id}/", token, json={"description": "ok"}).status_code == 200


@pytest.mark.parametrize("value", ["9" * 5000, "1" * 30, "²", "-0", " 7 "])
def test_page_and_id_fields_read_bounded_numbers(client, auth, project, value):
    auth.login()
    assert client.get(f"/projects/{project.id}/?page={value}").status_code == 200
    assert client.get(f"/jobs/?deployment={value}").status_code == 200
    response = _form_post(client, f"/projects/{project.id}/stations/jobs",
                          {"action": "regroup", "deployment_ids": value})
    assert response.status_code == 303


@pytest.mark.parametrize("page", ["184467440737095518", "2147483648", "9" * 40])
def test_a_page_far_past_the_end_is_empty_not_a_server_error(client, manager, project, page):
    response = call(client, "GET", f"/projects/?page={page}", token_for(manager))
    assert response.status_code == 200
    assert response.get_json()["results"] == [] and response.get_json()["count"] == 1
    assert call(client, "GET", f"/projects/?page={'9' * 51}", token_for(manager)).status_code == 400


def _chunked_post(port: int, path: str, headers: dict, body: bytes) -> tuple[int, str]:
    """POST `body` in 64 KB chunks (Transfer-Encoding: chunked, no Content-Length) over a real socket."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.putrequest("POST", path)
    for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
        connection.putheader(name, value)
    connection.endheaders()
    try:
        for start in range(0, len(body), 65536):
            chunk = body[start:start + 65536]
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.send(b"0\r\n\r\n")
    except OSError:
        pass  # the server may answer and close before the rest is sent
    response = connection.getresponse()
    answer = response.status, response.read().decode()
    connection.close()
    return answer


@pytest.fixture
def live_server(app):
    """The app behind Werkzeug's threaded HTTP server (it decodes chunked bodies like gunicorn)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(10)


def test_a_chunked_body_over_the_limit_is_413_and_one_under_it_is_read_whole(live_server, manager, project):
    token = token_for(manager)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    status, body = _chunked_post(live_server, "/api/v2/projects/", headers,
                                 b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    assert status == 413 and "at most 1048576 bytes" in body
    status, body = _chunked_post(live_server, "/api/v2/projects/", headers, b'{"name": "Chunked but small"}')
    assert status == 201 and "Chunked but small" in body
    status, body = _chunked_post(live_server, "/login", {"Content-Type": "application/x-www-form-urlencoded"},
                                 b"email=" + b"x" * (2 * 1024 * 1024))
    assert status == 413 and "at most 1048576 bytes" in body
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(Project.id)).where(Project.name.like("x%"))) == 0
