"""Pages that never go stale: with no reload, a station page, a job page, the project's stations list
and the settings notice follow the jobs that change them, on SQLite + SqliteHuey and on
PostgreSQL + RedisHuey (a real `flask run` and `flask worker` each)."""
import uuid
from contextlib import ExitStack

import pytest

from tests.browser_site import BrowserSite, open_page, sign_in
from tests.jobs.test_jobs_e2e import feed_fifo

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

EMAIL, PASSWORD = "live@browser.test", "pw-live-long-enough"
JOB_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module", params=["sqlite", "postgresql+redis"])
def site(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live")
    with ExitStack() as stack:
        options = {}
        if request.param != "sqlite":
            from tests.stack import REDIS_URL, fresh_pg_database, require_redis

            require_redis()
            options = {"database_url": stack.enter_context(fresh_pg_database()), "huey_url": REDIS_URL,
                       "HUEY_NAME": f"ami-live-{uuid.uuid4().hex[:8]}"}
        site = BrowserSite(tmp, "live-test-secret", **options)
        site.create_user(EMAIL, PASSWORD)
        ids = site.seed("tests.live_seed", EMAIL, str(site.data))
        url = stack.enter_context(site.serving(worker=True))
        yield {"url": url, "data": site.data, **ids}


@pytest.fixture
def page(browser, site):
    page = open_page(browser, site["url"], timeout_ms=JOB_TIMEOUT_MS)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    sign_in(page, EMAIL, PASSWORD)
    yield page
    # Nothing on these pages was reloaded by the test: every change came by htmx.
    assert page.errors == []
    page.context.close()


def test_the_station_page_follows_its_first_sync(page, site):
    from playwright.sync_api import expect

    page.goto(f"/deployments/{site['north']}/")
    expect(page.locator("#first-sync-heading")).to_have_text("No captures yet")
    expect(page.locator("#health")).to_contain_text("Not checked yet")
    expect(page.locator("#history-panel")).to_contain_text("No regroup of this station has been recorded yet")
    page.get_by_role("button", name="Sync captures now").click()
    expect(page.locator("#live-jobs .job-status").first).to_have_attribute("data-status", "SUCCESS",
                                                                          timeout=JOB_TIMEOUT_MS)
    # The banner, the counts, the health, the histogram and the history: all without a reload.
    expect(page.locator("#first-sync-heading")).to_have_count(0)
    expect(page.locator("#health")).to_contain_text("No problem found")
    expect(page.locator("#history-panel")).to_contain_text("0 → 1")  # one night at the 3 h gap
    expect(page.locator("#gap-histogram")).not_to_contain_text("No gaps yet")
    expect(page.locator("#sessions tbody tr")).to_have_count(1)


def test_the_job_page_shows_its_times_and_log_as_they_happen(page, site):
    from playwright.sync_api import expect

    page.goto(f"/deployments/{site['stuck']}/")
    page.get_by_role("button", name="Sync captures now").click()
    fragment = page.locator("#live-jobs .job-status").first
    expect(fragment).to_have_attribute("data-status", "STARTED", timeout=JOB_TIMEOUT_MS)
    fragment.locator("h2 a").click()
    props = page.locator("#job-props")
    expect(props.locator("dt:text-is('Started') + dd")).to_contain_text("UTC")
    finished = props.locator("dt:text-is('Finished') + dd")
    expect(finished).to_have_text("—")
    feed_fifo(site["data"] / "stuck" / "0000_no_time.jpg")
    expect(page.locator(".job-status")).to_have_attribute("data-status", "SUCCESS", timeout=JOB_TIMEOUT_MS)
    expect(finished).to_contain_text("UTC")
    expect(page.locator("#job-log")).to_contain_text("Found 4 files")


def test_a_deleted_station_leaves_the_list_and_regroup_all_clears_the_notice(page, site):
    from playwright.sync_api import expect

    page.goto(f"/deployments/{site['doomed']}/edit")
    page.get_by_label("Type the station's name").fill("Doomed")
    page.get_by_role("button", name="Delete station").click()
    expect(page.locator(".flash-success")).to_contain_text("is being deleted by job")
    stations = page.locator("#stations-list")
    # Shown as being deleted, then gone, on the page the delete landed on.
    expect(stations).not_to_contain_text("Doomed", timeout=JOB_TIMEOUT_MS)

    page.goto(f"/projects/{site['project']}/settings")
    notice = page.locator("#stale-heading")
    expect(notice).to_contain_text("grouped with other settings")
    page.get_by_role("button", name="Regroup all").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(notice).to_have_count(0, timeout=JOB_TIMEOUT_MS)
