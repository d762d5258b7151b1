"""The live preview in a real browser: typing a gap changes the numbers and the histogram line, no page load.

Starts `flask run` on a temp SQLite database seeded through the CLI and
tests/browser_seed.py, and drives Debian's Chromium with Playwright.
"""
import json
import os
import subprocess
import sys
import time
import socket

import pytest

from tests.test_browser_admin import CHROMIUM, CHROMIUM_ARGS, FLASK, REPO, _free_port, _run, _stop

EMAIL, PASSWORD = "manager@insights.test", "pw-insights"

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("insights-site")
    (tmp / "data").mkdir()
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp / 'app.db'}",
        HUEY_URL="memory://",
        DATA_SOURCE_ROOTS=str(tmp / "data"),
        SECRET_KEY="insights-browser-secret",
        PYTHONPATH=str(REPO),
    )
    _run(env, *FLASK, "init-db")
    _run(env, *FLASK, "create-user", EMAIL, "--password", PASSWORD)
    ids = json.loads(_run(env, sys.executable, "-m", "tests.browser_seed", EMAIL, "2000").strip().splitlines()[-1])
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
        yield {"url": f"http://127.0.0.1:{port}", **ids}
    finally:
        _stop(web)
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(base_url=site["url"], viewport={"width": 768, "height": 1024})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto("/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/projects/")
    yield page
    context.close()


def test_typing_a_gap_updates_the_preview_and_the_histogram_line(page, site):
    from playwright.sync_api import expect

    page.goto(f"/deployments/{site['small']}/")
    expect(page.locator("#gap-histogram svg title").first).to_contain_text("Gaps between consecutive captures")
    expect(page.locator("#hist-preview-line")).to_have_count(0)
    page.evaluate("window.stillThisPage = true")

    gap = page.get_by_label("Station's own session gap (hours)")
    # The bursts are 2 h 35 min apart: two sessions at a 2 h gap, one at 3 h.
    gap.fill("2")
    after = page.locator('#preview [data-preview="sessions_after"]')
    expect(after).to_have_text("2")
    line = page.locator("#hist-preview-line")
    expect(line).to_have_attribute("data-gap-seconds", "7200")
    x_at_2h = float(line.get_attribute("x1"))

    gap.fill("3")
    expect(after).to_have_text("1")
    expect(page.locator('#preview [data-preview="sessions_merged"]')).to_have_text("0")
    expect(line).to_have_attribute("data-gap-seconds", "10800")
    assert float(line.get_attribute("x1")) > x_at_2h
    assert page.evaluate("window.stillThisPage") is True  # no page load happened
    # The picture stays readable at a tablet's width: nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_project_settings_preview_follows_gap_and_keying(page, site):
    from playwright.sync_api import expect

    page.goto(f"/projects/{site['project']}/settings")
    page.evaluate("window.stillThisPage = true")
    page.get_by_label("Session gap (hours)").fill("3")
    row = page.locator(f'#preview-table tr[data-deployment="{site["small"]}"]')
    expect(row.locator('[data-preview="sessions_after"]')).to_have_text("1")
    page.get_by_label("run").check()
    expect(row.locator('[data-preview="sessions_after"]')).to_have_text("1")
    page.get_by_label("Session gap (hours)").fill("1")
    expect(row.locator('[data-preview="sessions_after"]')).to_have_text("2")
    assert page.evaluate("window.stillThisPage") is True
