"""A new user's whole way in a real browser: project, station by browsing to its folder, sync, sessions.

A real `flask run` and `flask worker -w 2` on a temp SQLite database and
queue, Debian's Chromium through Playwright; no API and no command line
after the user account exists.
"""
import time
from pathlib import Path

import pytest

from tests.browser_site import BrowserSite, open_page, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

EMAIL, PASSWORD = "newcomer@browser.test", "pw-newcomer-long"
ADMIN, ADMIN_PASSWORD = "admin@browser.test", "pw-admin-long"
JOB_TIMEOUT_MS = 60_000


def _write_station_files(folder: Path) -> int:
    """Two bursts on one night, 3 h apart: two sessions at a 2 h gap."""
    night = folder / "2024-06-12"
    night.mkdir(parents=True)
    names = [f"{hour:02d}{minute:02d}00" for hour in (21, 22) for minute in range(0, 60, 10)]
    names += [f"{hour:02d}{minute:02d}00" for hour in (1, 2) for minute in range(0, 60, 10)]
    for index, clock in enumerate(names):
        day = "20240612" if index < 12 else "20240613"
        (night / f"north-{day}{clock}.jpg").write_bytes(b"")
    return len(names)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = BrowserSite(tmp_path_factory.mktemp("lifecycle"), "browser-lifecycle-secret")
    files = _write_station_files(site.data / "site-north")
    (site.data / "site-south").mkdir()
    site.create_user(EMAIL, PASSWORD)
    site.create_user(ADMIN, ADMIN_PASSWORD, superuser=True)
    with site.serving(worker=True) as url:
        yield {"url": url, "tmp": site.tmp, "data": site.data, "files": files}


def _signed_in(browser, site, email, password):
    page = open_page(browser, site["url"], timeout_ms=JOB_TIMEOUT_MS)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site["url"])
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    sign_in(page, email, password)
    return page


@pytest.fixture
def page(browser, site):
    page = _signed_in(browser, site, EMAIL, PASSWORD)
    yield page
    assert page.errors == []
    page.context.close()


@pytest.fixture
def open_data_source(browser, site):
    """A superuser registers the data root as a storage source open to every project, on the Storage page."""
    admin = _signed_in(browser, site, ADMIN, ADMIN_PASSWORD)
    admin.get_by_role("link", name="Storage").click()
    admin.get_by_label("Name").fill("Field data")
    admin.get_by_label("Location").fill(str(site["data"]))
    admin.get_by_label("Open to every project").check()
    admin.get_by_role("button", name="Register source").click()
    from playwright.sync_api import expect

    expect(admin.locator("table")).to_contain_text("Field data")
    admin.context.close()
    return "Field data"


def test_create_project_add_station_by_browsing_sync_and_see_sessions(open_data_source, page, site):
    from playwright.sync_api import expect

    page.get_by_role("link", name="New project").click()
    page.get_by_label("Name").fill("Moths of the north")
    page.get_by_label("Session gap (hours)").fill("2")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Moths of the north")
    expect(page.locator(".flash-success")).to_contain_text("you are its ProjectManager")

    page.get_by_role("link", name="Add station").click()
    page.get_by_label("Name").fill("North meadow")
    picker = page.locator("#folder-picker")
    source = open_data_source
    expect(picker.locator(f'[data-folder="{source}"] .count')).to_have_text(f"{site['files']} image files")
    picker.get_by_role("link", name=source, exact=True).click()
    expect(picker.locator(f'[data-folder="{source}/site-south"] .count')).to_have_text("0 image files")
    picker.get_by_role("link", name=f"{source}/site-north", exact=True).click()
    expect(picker.get_by_role("heading")).to_contain_text(f"{source}/site-north")
    picker.get_by_role("button", name="Use this folder").click()
    # The source's name and the path inside it: no server path in the form.
    expect(page.get_by_label("Data source")).to_have_value(f"{source}:site-north")
    expect(page.locator("#picked")).to_have_text(f"Data source set to {source}/site-north.")
    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_role("button", name="Add station").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("North meadow")
    page.get_by_role("button", name="Sync captures now").click()
    fragment = page.locator("#live-jobs .job-status").first
    expect(fragment).to_have_attribute("data-status", "SUCCESS", timeout=JOB_TIMEOUT_MS)
    expect(fragment.locator('[data-param="captures_added"] td')).to_have_text(str(site["files"]))
    expect(page.locator("#sessions [data-sessions-count]")).to_have_attribute("data-sessions-count", "2")
    expect(page.locator("#sessions tbody tr")).to_have_count(2)

    # Readable on a tablet: nothing but the wide tables' own wrappers scrolls sideways.
    station_url = page.url
    project_url = page.locator("nav.crumbs a").nth(1).get_attribute("href")
    page.set_viewport_size({"width": 768, "height": 1024})
    for url in (station_url, project_url, project_url + "members", project_url + "stations/new",
                station_url + "edit", "/account/tokens", "/projects/new"):
        page.goto(url)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), url

    # Deleting asks for the name; the station goes in a background job.
    page.goto(station_url + "edit")
    delete = page.get_by_role("button", name="Delete station")
    page.get_by_label("Type the station's name").fill("North")
    expect(delete).to_be_disabled()
    page.get_by_label("Type the station's name").fill("North meadow")
    expect(delete).to_be_enabled()
    delete.click()
    expect(page.locator(".flash-success")).to_contain_text("is being deleted by job")
    for _ in range(100):
        page.reload()
        if page.locator("#stations").count() == 0:
            break
        time.sleep(0.3)
    expect(page.locator(".empty")).to_contain_text("This project has no stations yet.")


def test_a_new_token_is_shown_once_and_copied(page, site):
    from playwright.sync_api import expect

    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("nightly export")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text().strip()
    assert len(token) > 30
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#copy-status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == token
    page.reload()
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.locator("#tokens")).to_contain_text("nightly export")
    assert token not in page.content()
