"""Thumbnails in a real browser: the demo's session page shows images that loaded, and
the viewer steps through captures with the arrow keys.

Starts `flask run` on a temp SQLite database seeded by `seed-demo` (whose syncs
also make the example thumbnails), and drives Debian's Chromium with Playwright.
"""
import os
import socket
import sqlite3
import subprocess
import time
from contextlib import contextmanager

import pytest

from tests.test_browser_admin import CHROMIUM, CHROMIUM_ARGS, FLASK, REPO, _free_port, _run, _stop
from tests.test_jobs import s3_endpoint  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

DEMO_LOGIN = ("manager@demo.ami", "demo-manager")


def _wait_until(page, expression: str, timeout: float = 15.0) -> None:
    """Poll a JS expression from the test side: Playwright's wait_for_function compiles its
    predicate in the page, which the site's CSP (no eval) rightly refuses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never true: {expression}"
        time.sleep(0.1)


@contextmanager
def _demo_site(tmp, **settings):
    """`seed-demo` (its syncs make the example thumbnails) and `flask run` on a temp SQLite database."""
    (tmp / "data").mkdir()
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp / 'app.db'}",
        HUEY_URL="memory://",
        DATA_SOURCE_ROOTS=str(tmp / "data"),
        THUMBNAIL_ROOT=str(tmp / "thumbnails"),
        SECRET_KEY="browser-thumbs-secret",
        PYTHONPATH=str(REPO),
    )
    env.update(settings)
    _run(env, *FLASK, "init-db")
    _run(env, *FLASK, "seed-demo")
    with sqlite3.connect(tmp / "app.db") as conn:
        session_id, station_id = conn.execute(
            "SELECT id, deployment_id FROM event ORDER BY captures_count DESC, id LIMIT 1"
        ).fetchone()
    port = _free_port()
    log = open(tmp / "web.log", "w")
    web = subprocess.Popen([*FLASK, "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload", "--no-debugger"],
                           cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert web.poll() is None, (tmp / "web.log").read_text()
                assert time.monotonic() < deadline, "the web server did not start"
                time.sleep(0.1)
        yield {"url": f"http://127.0.0.1:{port}", "session": session_id, "station": station_id, "tmp": tmp}
    finally:
        _stop(web)
        log.close()


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    with _demo_site(tmp_path_factory.mktemp("thumbs-site")) as site:
        yield site


@pytest.fixture(scope="module")
def s3_demo_site(tmp_path_factory, s3_endpoint):
    """The demo with its thumbnails in a bucket of a moto server: pages redirect images to another origin."""
    import boto3

    keys = {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1"}
    boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                 region_name="us-east-1").create_bucket(Bucket="demo-thumbnails")
    with _demo_site(tmp_path_factory.mktemp("thumbs-s3-site"), THUMBNAIL_ROOT="s3://demo-thumbnails/site", **keys) as site:
        yield site


@contextmanager
def _signed_in_page(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=site["url"], viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto("/login")
        page.get_by_label("Email").fill(DEMO_LOGIN[0])
        page.get_by_label("Password").fill(DEMO_LOGIN[1])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/projects/")
        yield page
        context.close()
        browser.close()


@pytest.fixture
def page(demo_site):
    with _signed_in_page(demo_site) as page:
        yield page


LOADED = "imgs => imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0)"


def test_session_page_images_load_and_arrows_step_the_viewer(page, demo_site):
    from playwright.sync_api import expect

    page.goto(f"/events/{demo_site['session']}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Session")
    grid = page.locator(".gallery img")
    assert grid.count() > 3
    # Lazy images load as they scroll into view: bring each one in, then check they all decoded.
    for index in range(grid.count()):
        grid.nth(index).scroll_into_view_if_needed()
    _wait_until(page, f"({LOADED})(Array.from(document.querySelectorAll('.gallery img')))")
    widths = grid.evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert set(widths) == {240}

    page.locator("[data-viewer-item]").first.click()
    viewer = page.locator("#viewer")
    expect(viewer).to_have_attribute("data-index", "0")
    expect(viewer).to_have_attribute("open", "")
    _wait_until(page, "document.getElementById('viewer-image').naturalWidth > 240")
    first_src = page.locator("#viewer-image").get_attribute("src")
    page.keyboard.press("ArrowRight")
    expect(viewer).to_have_attribute("data-index", "1")
    assert page.locator("#viewer-image").get_attribute("src") != first_src
    _wait_until(page, "document.getElementById('viewer-image').complete && document.getElementById('viewer-image').naturalWidth > 240")
    expect(page.locator("#viewer-caption")).to_contain_text("2 of")
    page.keyboard.press("ArrowLeft")
    expect(viewer).to_have_attribute("data-index", "0")
    assert page.locator("#viewer-image").get_attribute("src") == first_src
    page.keyboard.press("Escape")
    expect(viewer).not_to_have_attribute("open", "")
    shot = demo_site["tmp"] / "session-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_station_page_rows_show_loaded_example_thumbnails(page, demo_site):
    page.goto(f"/deployments/{demo_site['station']}/")
    examples = page.locator("#sessions .examples img")
    assert examples.count() >= 4
    for index in range(examples.count()):
        examples.nth(index).scroll_into_view_if_needed()
    _wait_until(page, f"({LOADED})(Array.from(document.querySelectorAll('#sessions .examples img')))")
    page.locator("#sessions tbody a").first.click()
    page.wait_for_url("**/events/*/")


def test_s3_thumbnails_load_under_the_sites_policy(s3_demo_site, s3_endpoint):
    """Images redirected to the store's signed URLs load: the CSP's img-src allows that origin."""
    refused, from_store = [], []
    with _signed_in_page(s3_demo_site) as page:
        page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
        page.on("response", lambda response: from_store.append(response.status) if response.url.startswith(
            s3_endpoint + "/demo-thumbnails/") else None)
        answer = page.goto(f"/deployments/{s3_demo_site['station']}/")
        assert f"img-src 'self' {s3_endpoint}" in answer.headers["content-security-policy"]
        examples = page.locator("#sessions .examples img")
        assert examples.count() >= 4
        for index in range(examples.count()):
            examples.nth(index).scroll_into_view_if_needed()
        _wait_until(page, f"({LOADED})(Array.from(document.querySelectorAll('#sessions .examples img')))")
    assert len(from_store) >= 4 and set(from_store) == {200}
    assert refused == []
