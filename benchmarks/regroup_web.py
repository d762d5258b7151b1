"""Web writes during regroups: API POSTs that start a job while another process regroups the station."""
import multiprocessing
import time

from benchmarks.common import make_app
from benchmarks.regroup_data import reset

# Enough back-to-back regroups (~0.35 s each at 1M) for ~100 POSTs, so the p95 is not one request.
WEB_REGROUPS = 10
# The same POSTs with nothing else running: the peer a write during regroups is judged against.
IDLE_POSTS = 40


def regroups_in_a_process(url: str, instance: str, deployment_id: int, started, done) -> None:
    import logging

    logging.getLogger("webapp.sessions.regroup").setLevel(logging.ERROR)
    from webapp.extensions import db
    from webapp.models import Deployment
    from webapp.sessions import regroup_deployment

    app = make_app(url, instance)
    with app.app_context():
        started.set()
        for _ in range(WEB_REGROUPS):
            reset(deployment_id)
            regroup_deployment(db.session.get(Deployment, deployment_id))
        done.set()
        db.session.remove()
        db.engine.dispose()


def web_writes(url: str, instance: str, deployment_id: int) -> tuple[list[float], list[float]]:
    """Latencies (ms) of API POSTs that start a job: (with nothing else running, while another process
    regroups the station back to back). The first list is the peer the second is judged against.

    The web app has a queue of its own that nobody consumes: with the
    measuring app's immediate (`memory://`) queue, each POST would run the
    regroup itself and hold the station's lock.
    """
    from webapp.extensions import db
    from webapp.models import User

    app = make_app(url, instance + "/web", huey_url=f"sqlite:///{instance}/bench-queue.db")
    with app.app_context():
        user = User(email="bench@example.org", is_superuser=True)
        user.set_password("bench-password")
        token = user.new_api_token()
        db.session.add(user)
        db.session.commit()
        try:
            return posts_during_regroups(app, url, instance, deployment_id, token)
        finally:
            db.session.remove()
            db.engine.dispose()


def posts_during_regroups(app, url: str, instance: str, deployment_id: int, token: str) -> tuple[list[float], list[float]]:
    client = app.test_client()
    endpoint = f"/api/v2/deployments/{deployment_id}/regroup-sessions/"
    # One request before the clock starts: the first creates the queue's tables and warms the app.
    assert client.post(endpoint, headers={"Authorization": f"Token {token}"}).status_code == 202
    idle = []
    for _ in range(IDLE_POSTS):
        began = time.perf_counter()
        assert client.post(endpoint, headers={"Authorization": f"Token {token}"}).status_code == 202
        idle.append((time.perf_counter() - began) * 1000)
        time.sleep(0.02)
    context = multiprocessing.get_context("spawn")
    started, done = context.Event(), context.Event()
    process = context.Process(target=regroups_in_a_process, args=(url, instance + "/b", deployment_id, started, done))
    process.start()
    started.wait(60)
    latencies = []
    while not done.is_set():
        began = time.perf_counter()
        response = client.post(endpoint, headers={"Authorization": f"Token {token}"})
        latencies.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 202, response.get_json()
        time.sleep(0.02)
    process.join(60)
    return idle, latencies
