"""Thumbnails in a real browser: the demo's session page shows images that loaded, and
the viewer steps through captures with the arrow keys.

Starts `flask run` on a temp SQLite database seeded by `seed-demo` (whose syncs
also make the example thumbnails), and drives Debian's Chromium with Playwright.
"""
import sqlite3

import pytest

from tests.browser_site import BrowserSite, open_page, sign_in, wait_for_expression

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

DEMO_LOGIN = ("manager@demo.ami", "demo-manager")


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("thumbs-site")
    site = BrowserSite(tmp, "browser-thumbs-secret", huey_url="memory://", THUMBNAIL_ROOT=str(tmp / "thumbnails"))
    site.flask("seed-demo")
    with sqlite3.connect(site.db) as conn:
        session_id, station_id = conn.execute(
            "SELECT id, deployment_id FROM event ORDER BY captures_count DESC, id LIMIT 1"
        ).fetchone()
    with site.serving() as url:
        yield {"url": url, "session": session_id, "station": station_id, "tmp": tmp}


@pytest.fixture
def page(browser, demo_site):
    page = open_page(browser, demo_site["url"], timeout_ms=30_000)
    sign_in(page, *DEMO_LOGIN)
    yield page
    page.context.close()


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
    wait_for_expression(page, f"({LOADED})(Array.from(document.querySelectorAll('.gallery img')))")
    widths = grid.evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert set(widths) == {240}

    page.locator("[data-viewer-item]").first.click()
    viewer = page.locator("#viewer")
    expect(viewer).to_have_attribute("data-index", "0")
    expect(viewer).to_have_attribute("open", "")
    wait_for_expression(page, "document.getElementById('viewer-image').naturalWidth > 240")
    first_src = page.locator("#viewer-image").get_attribute("src")
    page.keyboard.press("ArrowRight")
    expect(viewer).to_have_attribute("data-index", "1")
    assert page.locator("#viewer-image").get_attribute("src") != first_src
    wait_for_expression(page, "document.getElementById('viewer-image').complete && document.getElementById('viewer-image').naturalWidth > 240")
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
    wait_for_expression(page, f"({LOADED})(Array.from(document.querySelectorAll('#sessions .examples img')))")
    page.locator("#sessions tbody a").first.click()
    page.wait_for_url("**/events/*/")
