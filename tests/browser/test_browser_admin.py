"""The admin site in a real browser, against a real web server and a real worker.

Starts `flask run` and `flask worker -w 2` on a temp SQLite database and a temp
SqliteHuey queue, seeds them through the CLI and a helper subprocess, and
drives Debian's Chromium with Playwright.
"""
import pytest

from tests.browser_site import BrowserSite, open_page, sign_in

EMAIL, PASSWORD = "manager@browser.test", "pw-browser"
BIG_CAPTURES = 300_000
JOB_TIMEOUT_MS = 60_000

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = BrowserSite(tmp_path_factory.mktemp("site"), "browser-test-secret")
    site.create_user(EMAIL, PASSWORD)
    ids = site.seed("tests.browser_seed", EMAIL, str(BIG_CAPTURES))
    with site.serving(worker=True) as url:
        yield {"url": url, "tmp": site.tmp, **ids}


@pytest.fixture
def page(browser, site):
    page = open_page(browser, site["url"], timeout_ms=JOB_TIMEOUT_MS)
    # The pages run under a strict Content-Security-Policy: whatever it blocks is a defect.
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    response = sign_in(page, EMAIL, PASSWORD)
    assert "default-src 'self'" in response.headers["content-security-policy"]
    yield page
    page.context.close()
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
    from webapp.jobs import locks
    from webapp.sessions import lock_key

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
