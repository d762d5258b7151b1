from webapp.extensions import db
from webapp.models import Capture, Deployment, Event, Job, Membership, Project, User, hash_token


def test_create_user_then_again_fails(runner):
    result = runner.invoke(args=["create-user", "A@Example.org", "--password", "pw1-long-enough"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(db.select(User).filter_by(email="a@example.org"))
    assert user is not None and not user.is_superuser and user.check_password("pw1-long-enough")

    again = runner.invoke(args=["create-user", "a@example.org", "--password", "pw2-long-enough"])
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_create_superuser(runner):
    result = runner.invoke(args=["create-user", "root@example.org", "--password", "pw-root-long", "--superuser"])
    assert result.exit_code == 0
    assert db.session.scalar(db.select(User.is_superuser).filter_by(email="root@example.org")) is True


def test_create_token_prints_one_line_and_stores_only_a_hash(runner, manager, client):
    result = runner.invoke(args=["create-token", "manager@example.org"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 1
    token = lines[0]
    assert len(token) >= 40
    db.session.refresh(manager)
    assert [t.token_hash for t in manager.api_tokens] == [hash_token(token)]
    assert token not in manager.api_tokens[0].token_hash
    # A second token leaves the first one working.
    second = runner.invoke(args=["create-token", "manager@example.org"]).output.strip()
    assert second != token
    for value in (token, second):
        response = client.get("/api/v2/projects/", headers={"Authorization": f"Token {value}"})
        assert response.status_code == 200


def test_create_token_for_unknown_user(runner):
    result = runner.invoke(args=["create-token", "ghost@example.org"])
    assert result.exit_code == 1
    assert "No user" in result.output


def test_seed_demo_twice_creates_nothing_new(runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "manager@demo.ami" in first.output and "demo-manager" in first.output
    counts = [db.session.scalar(db.select(db.func.count()).select_from(m)) for m in (User, Project, Membership, Deployment, Capture)]
    assert counts[0] == 2 and counts[1] == 1 and counts[3] == 3
    assert counts[4] > 300

    # Captures came in through one sync job per station, which also grouped them.
    demo_jobs = db.session.scalars(db.select(Job)).all()
    assert [(j.job_type_key, j.status) for j in demo_jobs] == [("data_storage_sync", "SUCCESS")] * 3
    from webapp.sessions.capture_listing import count_outside_sessions

    assert sum(count_outside_sessions(d.id) for d in Deployment.query) == 0
    assert db.session.scalar(db.select(db.func.count(Event.id))) == sum(d.events_count for d in Deployment.query)

    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0
    assert "nothing created" in second.output
    again = [db.session.scalar(db.select(db.func.count()).select_from(m)) for m in (User, Project, Membership, Deployment, Capture)]
    assert again == counts


def test_seed_demo_writes_real_jpegs_with_parsable_names(runner, app):
    from PIL import Image

    runner.invoke(args=["seed-demo"])
    deployment = db.session.scalars(db.select(Deployment).order_by(Deployment.id)).first()
    capture = db.session.scalars(db.select(Capture).filter_by(deployment_id=deployment.id)).first()
    assert capture.timestamp is not None
    assert capture.path.endswith("-snapshot.jpg")
    with Image.open(f"{deployment.data_source}/{capture.path}") as image:
        assert image.format == "JPEG"
    assert deployment.captures_count == db.session.scalar(
        db.select(db.func.count(Capture.id)).filter_by(deployment_id=deployment.id)
    )


def test_sync_and_regroup_refuse_a_station_being_deleted(runner, project, tmp_path):
    from tests.conftest import add_deployment

    folder = tmp_path / "data" / "doomed"
    folder.mkdir(parents=True)
    (folder / "20240601_210000.jpg").write_bytes(b"")
    station = add_deployment(project, "Doomed", data_source=str(folder), deleting=True)
    for command in (["sync", str(station.id)], ["sync", "--since-last", str(station.id)], ["regroup", str(station.id)]):
        result = runner.invoke(args=command)
        assert result.exit_code == 1, result.output
        assert "is being deleted; no job can start on it" in result.output
    assert db.session.scalar(db.select(db.func.count(Job.id))) == 0
    assert db.session.scalar(db.select(db.func.count(Capture.id))) == 0


def test_announce_waits_for_the_server_then_prints_the_demo_sign_in_last_in_a_box(runner):
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from tests.conftest import free_port

    class Login(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    port = free_port()
    server = None

    def start_late():
        nonlocal server
        time.sleep(0.8)  # the announcement must wait for the server, not print at once
        server = HTTPServer(("127.0.0.1", port), Login)
        server.serve_forever()

    thread = threading.Thread(target=start_late, daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        result = runner.invoke(args=["announce", "--url", f"http://127.0.0.1:{port}", "--timeout", "20"])
    finally:
        while server is None:
            time.sleep(0.05)
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 0.8
    lines = result.output.strip().splitlines()
    assert lines[0] == lines[-1] and set(lines[0]) == {"+", "-"}
    assert all(line.startswith("| ") and line.endswith(" |") and len(line) == len(lines[0]) for line in lines[1:-1])
    box = "\n".join(lines)
    assert f"http://127.0.0.1:{port}" in box and "manager@demo.ami / demo-manager" in box
    assert "member@demo.ami / demo-member" in box


def test_announce_gives_up_when_nothing_answers(runner):
    from tests.conftest import free_port

    result = runner.invoke(args=["announce", "--url", f"http://127.0.0.1:{free_port()}", "--timeout", "0.5"])
    assert result.exit_code == 1 and "did not answer" in result.output
