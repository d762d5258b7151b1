"""Thumbnails in a real browser: the demo's session page shows images that loaded, and
the viewer steps through captures with the arrow keys; with the thumbnails in S3, the
images load from the store under the site's CSP.

Starts `flask run` on a temp SQLite database seeded by `seed-demo` (whose syncs
also make the example thumbnails), and drives Debian's Chromium with Playwright.
"""
import sqlite3

import pytest

from tests.browser_site import BrowserSite, open_page, sign_in, wait_for_expression

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

DEMO_LOGIN = ("manager@demo.ami", "demo-manager")


def _demo_site(tmp, **env):
    """`seed-demo` (its syncs make the example thumbnails) on a site of its own; yields what the tests open."""
    site = BrowserSite(tmp, "browser-thumbs-secret", huey_url="memory://", **{"THUMBNAIL_ROOT": str(tmp / "thumbnails"), **env})
    site.flask("seed-demo")
    with sqlite3.connect(site.db) as conn:
        session_id, station_id = conn.execute(
            "SELECT id, deployment_id FROM event ORDER BY captures_count DESC, id LIMIT 1"
        ).fetchone()
    with site.serving() as url:
        yield {"url": url, "session": session_id, "station": station_id, "tmp": tmp}


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    yield from _demo_site(tmp_path_factory.mktemp("thumbs-site"))


@pytest.fixture(scope="module")
def s3_demo_site(tmp_path_factory, s3_endpoint):
    """The demo with its thumbnails in a bucket of a moto server: pages redirect images to another origin."""
    import boto3

    keys = {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1"}
    boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                 region_name="us-east-1").create_bucket(Bucket="demo-thumbnails")
    yield from _demo_site(tmp_path_factory.mktemp("thumbs-s3-site"), THUMBNAIL_ROOT="s3://demo-thumbnails/site", **keys)


def _signed_in(browser, site):
    page = open_page(browser, site["url"], timeout_ms=30_000)
    sign_in(page, *DEMO_LOGIN)
    return page


@pytest.fixture
def page(browser, demo_site):
    page = _signed_in(browser, demo_site)
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


def test_s3_thumbnails_load_under_the_sites_policy(browser, s3_demo_site, s3_endpoint):
    """Images redirected to the store's signed URLs load: the CSP's img-src allows that origin."""
    refused, from_store = [], []
    page = _signed_in(browser, s3_demo_site)
    try:
        page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
        page.on("response", lambda response: from_store.append(response.status) if response.url.startswith(
            s3_endpoint + "/demo-thumbnails/") else None)
        answer = page.goto(f"/deployments/{s3_demo_site['station']}/")
        assert f"img-src 'self' {s3_endpoint}" in answer.headers["content-security-policy"]
        examples = page.locator("#sessions .examples img")
        assert examples.count() >= 4
        for index in range(examples.count()):
            examples.nth(index).scroll_into_view_if_needed()
        wait_for_expression(page, f"({LOADED})(Array.from(document.querySelectorAll('#sessions .examples img')))")
    finally:
        page.context.close()
    assert len(from_store) >= 4 and set(from_store) == {200}
    assert refused == []
