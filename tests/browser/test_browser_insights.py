"""The live preview in a real browser: typing a gap changes the numbers and the histogram line, no page load.

Starts `flask run` on a temp SQLite database seeded through the CLI and
tests/browser_seed.py, and drives Debian's Chromium with Playwright.
"""
import pytest

from tests.browser_site import TABLET, BrowserSite, open_page, sign_in

EMAIL, PASSWORD = "manager@insights.test", "pw-insights"

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = BrowserSite(tmp_path_factory.mktemp("insights-site"), "insights-browser-secret", huey_url="memory://")
    site.create_user(EMAIL, PASSWORD)
    ids = site.seed("tests.browser_seed", EMAIL, "2000")
    with site.serving() as url:
        yield {"url": url, **ids}


@pytest.fixture
def page(browser, site):
    page = open_page(browser, site["url"], viewport=TABLET, timeout_ms=20_000)
    sign_in(page, EMAIL, PASSWORD)
    yield page
    page.context.close()


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
