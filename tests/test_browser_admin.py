"""The admin site in a real browser, against a real web server and a real worker.

Starts `flask run` and `flask worker -w 2` on a temp SQLite database and a temp
SqliteHuey queue, seeds them through the CLI and a helper subprocess, and
drives Debian's Chromium with Playwright.
"""
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
EMAIL, PASSWORD = "manager@browser.test", "pw-browser"
BIG_CAPTURES = 300_000
JOB_TIMEOUT_MS = 60_000


def _missing_services() -> list[str]:
    return [name for name in ("webapp.services.regroup", "webapp.services.locks") if importlib.util.find_spec(name) is None]


pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        bool(_missing_services()),
        reason=f"needs the regroup service and the station lock ({', '.join(_missing_services())} not importable on this branch)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(env, *args) -> str:
    result = subprocess.run([*args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    (tmp / "data").mkdir()
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp / 'app.db'}",
        HUEY_URL=f"sqlite:///{tmp / 'huey.db'}",
        DATA_SOURCE_ROOTS=str(tmp / "data"),
        SECRET_KEY="browser-test-secret",
        PYTHONPATH=str(REPO),
    )
    _run(env, *FLASK, "init-db")
    _run(env, *FLASK, "create-user", EMAIL, "--password", PASSWORD)
    ids = json.loads(_run(env, sys.executable, "-m", "tests.browser_seed", EMAIL, str(BIG_CAPTURES)).strip().splitlines()[-1])
    port = _free_port()
    logs = {name: open(tmp / f"{name}.log", "w") for name in ("web", "worker")}
    worker = subprocess.Popen([*FLASK, "worker", "-w", "2"], cwd=REPO, env=env, stdout=logs["worker"], stderr=subprocess.STDOUT, start_new_session=True)
    web = subprocess.Popen([*FLASK, "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload", "--no-debugger"],
                           cwd=REPO, env=env, stdout=logs["web"], stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
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
        yield {"url": base_url, "tmp": tmp, **ids}
    finally:
        _stop(web)
        _stop(worker)
        for handle in logs.values():
            handle.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(base_url=site["url"], viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(JOB_TIMEOUT_MS)
    # The pages run under a strict Content-Security-Policy: whatever it blocks is a defect.
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    response = page.goto("/login")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/projects/")
    yield page
    context.close()
    assert violations == []


def _regroup_and_wait(page):
    """Click "Regroup sessions" and wait for the new job's fragment to finish; returns it."""
    from playwright.sync_api import expect

    before = page.locator("#live-jobs .job-status").count()
    page.get_by_role("button", name="Regroup sessions").click()
    fragment = page.locator("#live-jobs .job-status").first
    # A locator, not a JS string: the CSP forbids evaluating strings in the page.
    expect(page.locator("#live-jobs .job-status")).to_have_count(before + 1)
    fragment.and_(page.locator("[data-status=SUCCESS]")).wait_for()
    return fragment


def test_change_gap_in_hours_then_regroup_station(page, site):
    from playwright.sync_api import expect

    small = site["small"]
    page.goto(f"/deployments/{small}/")
    expect(page.locator("#sessions [data-sessions-count]")).to_have_attribute("data-sessions-count", "0")

    fragment = _regroup_and_wait(page)
    expect(fragment.locator('[data-param="captures_grouped"] td')).to_have_text(str(site["small_captures"]))
    expect(page.locator("#sessions [data-sessions-count]")).to_have_attribute("data-sessions-count", "2")

    page.goto(f"/projects/{site['project']}/settings")
    page.get_by_label("Session gap (hours)").fill("4")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash-success")).to_contain_text("session gap 4 h")
    expect(page.get_by_role("button", name="Regroup all")).to_be_visible()

    page.goto(f"/deployments/{small}/")
    fragment = _regroup_and_wait(page)
    expect(fragment.locator('[data-param="captures_grouped"] td')).to_have_text(str(site["small_captures"]))
    expect(fragment.locator(".warning-box")).to_have_count(0)
    # The finished fragment tells the page to refresh its sessions table.
    expect(page.locator("#sessions [data-sessions-count]")).to_have_attribute("data-sessions-count", "1")
    expect(page.locator("#sessions tbody tr")).to_have_count(1)
    expect(page.locator("#sessions tbody tr td").nth(1)).to_have_text("2024-06-12 22:00:00")
    expect(page.locator("#sessions tbody tr td").nth(2)).to_have_text("2024-06-13 02:30:00")
    # A finished fragment no longer polls.
    expect(fragment).not_to_have_attribute("data-hx-trigger", "every 1s")

    # Down to a tablet's width nothing but the wide tables' own wrappers scrolls sideways.
    page.set_viewport_size({"width": 768, "height": 1024})
    for url in (f"/deployments/{small}/", f"/projects/{site['project']}/", "/jobs/", f"/projects/{site['project']}/settings"):
        page.goto(url)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), url
    page.goto(f"/deployments/{small}/")

    shot = site["tmp"] / "station-after-regroup.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_a_regroup_that_finds_the_station_locked_shows_the_warning_live(page, site):
    """Another regroup holds the station's lock (taken here, as a second worker would) while the
    button is clicked: the job ends SUCCESS, grouped nothing and shows the WARNING in the page.
    A regroup of the whole spans design takes well under a second, so two clicks alone would
    overlap only by luck; the lock is the same row either way."""
    from playwright.sync_api import expect

    from webapp import create_app
    from webapp.services import locks
    from webapp.services.regroup import lock_key

    holder = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{site['tmp'] / 'app.db'}", "SECRET_KEY": "x",
                         "HUEY_URL": "memory://", "INSTANCE_PATH": site["tmp"] / "holder"})
    with holder.app_context():
        token = locks.acquire(lock_key(site["big"]), 600, "browser test: another regroup")
        assert token is not None
        try:
            page.goto(f"/deployments/{site['big']}/")
            button = page.get_by_role("button", name="Regroup sessions")
            expect(button).to_be_enabled()
            button.click()
            fragment = page.locator("#live-jobs .job-status").first
            expect(fragment).to_have_attribute("data-status", "SUCCESS", timeout=JOB_TIMEOUT_MS)
            warning = fragment.locator(".warning-box[role=alert]")
            expect(warning).to_contain_text("another regroup is in progress")
            expect(fragment.locator('[data-param="captures_grouped"] td')).to_have_text("0")
        finally:
            locks.release(lock_key(site["big"]), token)
        from webapp.extensions import db

        db.engine.dispose()


def test_long_job_log_lines_wrap_instead_of_scrolling_sideways(page, site):
    page.goto(f"/deployments/{site['small']}/")
    fragment = _regroup_and_wait(page)
    fragment.locator("h2 a").click()
    page.wait_for_url("**/jobs/*/")
    page.set_viewport_size({"width": 480, "height": 900})
    log = page.locator("#job-log")
    longest = max(len(line) for line in log.inner_text().splitlines())
    assert longest > 100  # wider than the viewport at the log's font size, unless wrapped
    assert log.evaluate("pre => pre.scrollWidth <= pre.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
