"""Accessibility in a real browser: axe-core on every page and state, keyboard, live regions, motion, dark mode.

A web server (and no worker, so a job stays in the state the test puts it in)
serves a database seeded by `tests.page_states`. axe-core comes from
tests/tools (installed by `make test-deps`) and is injected into each page;
the context bypasses the site's CSP for that one inline script. Each page is
audited in the light and the dark color scheme.
"""
import json
import os
import sqlite3

import pytest

from tests.browser_site import REPO, BrowserSite, open_page, sign_in, wait_for_expression

AXE = REPO / "tests" / "tools" / "node_modules" / "axe-core" / "axe.min.js"
EMAIL, PASSWORD = "manager@a11y.test", "pw-a11y-long-enough"
ADMIN_EMAIL = "admin@a11y.test"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
SCHEMES = ("light", "dark")

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module", autouse=True)
def axe_installed():
    if not AXE.exists():
        message = "axe-core needs `make test-deps` (tests/tools/node_modules/axe-core)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("a11y")
    site = BrowserSite(tmp, "a11y-test-secret", data=tmp)
    site.create_user(EMAIL, PASSWORD)
    site.create_user(ADMIN_EMAIL, PASSWORD, superuser=True)
    ids = site.seed("tests.page_states", EMAIL, str(tmp / "gone"))
    with site.serving() as url:
        yield {"url": url, "db": site.db, "tmp": tmp, **ids}


def _page(browser, site, **options):
    """A page of its own context; the context bypasses the CSP so that axe-core can be injected."""
    return open_page(browser, site["url"], bypass_csp=True, **options)


def _sign_in(page, email=EMAIL):
    sign_in(page, email, PASSWORD)


def _set_job(site, job_id, status, log=None):
    """Move a job on as a worker would (there is none here), straight in the site's database."""
    with sqlite3.connect(site["db"], timeout=10) as conn:
        finished = "datetime('now')" if status in ("SUCCESS", "FAILURE", "REVOKED") else "NULL"
        conn.execute(f"UPDATE job SET status = ?, finished_at = {finished} WHERE id = ?", (status, job_id))
        if log:
            conn.execute("UPDATE job SET logs = ? WHERE id = ?", (json.dumps({"stdout": log, "stderr": []}), job_id))


def axe_violations(page) -> list[str]:
    """axe-core's violations on the page as it is now: one line per rule and element."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map(v => ({id: v.id, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ") + " — " + (n.failureSummary || "").replace(/\\s+/g, " "))}));
        }""",
        AXE_TAGS,
    )
    return [f"{v['id']} ({v['help']}): {node}" for v in violations for node in v["nodes"]]


def _svgs_without_text(page) -> list[str]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll("svg")).filter(svg =>
              svg.getAttribute("aria-hidden") !== "true" &&
              !(svg.getAttribute("role") === "img" && svg.querySelector(":scope > title") &&
                (svg.getAttribute("aria-labelledby") || svg.getAttribute("aria-label") || svg.querySelector(":scope > title").textContent.trim()))
           ).map(svg => svg.outerHTML.slice(0, 120))"""
    )


def _audit(page, label, problems):
    for line in axe_violations(page):
        problems.append(f"{label}: {line}")
    for svg in _svgs_without_text(page):
        problems.append(f"{label}: an SVG picture needs role=img, a <title> and a text alternative: {svg}")


def _route_urls(site) -> list[str]:
    """A URL for every GET route of the site that is not the API's, as the Nu validator test builds them."""
    from tests.views.test_html_valid import NO_HTML, _is_api, _url
    from webapp import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{site['db']}", "SECRET_KEY": "x", "INSTANCE_PATH": site["tmp"] / "routes"})
    return [
        _url(app, rule.endpoint, site)
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not _is_api(rule.endpoint) and rule.endpoint not in NO_HTML and rule.endpoint != "auth.login"
    ]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_no_axe_violations_on_any_page_or_state(browser, site, scheme):
    page = _page(browser, site, color_scheme=scheme)
    problems: list[str] = []
    try:
        page.goto("/login")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        page.locator(".field-error").first.wait_for()
        _audit(page, "sign-in with errors", problems)
        _sign_in(page)
        _audit(page, "projects list", problems)

        project = site["project"]
        states = [
            (f"/projects/{project}/", "project page"),
            (f"/projects/{project}/?q=etang&state=needs-regroup&sort=captures&dir=desc", "stations filtered"),
            (f"/projects/{project}/?q=nothing-like-this", "stations filter with no match"),
            (f"/deployments/{site['regrouped']}/", "station page"),
            (f"/deployments/{site['running']}/", "station with a running job"),
            (f"/jobs/{site['warned_job']}/", "finished job with a warning"),
            (f"/jobs/{site['failed_job']}/", "failed job"),
            (f"/jobs/{site['running_job']}/", "running job page"),
            ("/jobs/", "jobs list"),
            ("/jobs/?status=FAILURE", "jobs list filtered"),
            (f"/projects/{project}/operation", "operation calendar"),
            (f"/projects/{project}/operation?start=2024-06-20&end=2024-06-01", "operation calendar with a bad range"),
            (f"/deployments/{site['regrouped']}/clock-offsets", "clock offsets"),
            (f"/projects/{project}/?state=has-problems", "stations with problems"),
        ]
        for url, label in states:
            page.goto(url)
            _audit(page, label, problems)

        page.goto(f"/projects/{project}/settings")
        page.get_by_label("Session gap (hours)").fill("-1")
        page.get_by_role("button", name="Save settings").click()
        page.locator(".field-error").first.wait_for()
        _audit(page, "settings with errors", problems)

        page.goto(f"/deployments/{site['regrouped']}/")
        page.get_by_label("Station's own session gap (hours)").fill("abc")
        page.get_by_role("button", name="Save", exact=True).click()
        page.locator(".field-error").first.wait_for()
        _audit(page, "station gap with errors", problems)

        # The Health panel with its problems, and the night keying's preview opened from it.
        page.goto(f"/deployments/{site['regrouped']}/")
        assert page.locator("#health li").count() >= 1
        page.get_by_role("button", name="Preview night keying").click()
        page.locator("#health-preview dl").wait_for()
        _audit(page, "station health with the night keying preview", problems)

        page.goto(f"/projects/{project}/settings")
        page.get_by_label("Outage (nights)").fill("0")
        page.get_by_role("button", name="Save health thresholds").click()
        page.locator("#health-settings .field-error").first.wait_for()
        _audit(page, "health thresholds with errors", problems)

        page.goto(f"/deployments/{site['regrouped']}/clock-offsets")
        page.get_by_label("From (original time)").fill("2024-06-12T22:00")
        page.get_by_role("button", name="Add offset and apply").click()
        page.locator(".field-error").first.wait_for()
        _audit(page, "clock offsets with errors", problems)

        # The name filter as you type (htmx), then its result.
        page.goto(f"/projects/{project}/")
        page.get_by_label("Name").press_sequentially("ETANG", delay=30)
        page.wait_for_url("**q=ETANG**")
        _audit(page, "stations filtered as you type", problems)

        # Every other page of the site, found in its url_map: a new page is audited as soon as it exists.
        # Fragments (no doctype) are parts of the pages above; superuser pages are read as one.
        admin = _page(browser, site, color_scheme=scheme)
        _sign_in(admin, ADMIN_EMAIL)
        for url in _route_urls(site):
            viewer = page
            if page.goto(url).status == 403:
                viewer = admin
                viewer.goto(url)
            if viewer.evaluate("document.doctype !== null"):
                _audit(viewer, f"page {url}", problems)
        admin.context.close()
    finally:
        page.context.close()
    assert not problems, f"{len(problems)} accessibility problems ({scheme} scheme):\n" + "\n".join(problems)


def test_no_page_scrolls_sideways_on_a_phone(browser, site):
    """At 390 × 844 (a phone held upright) no page is wider than the screen: wide tables scroll
    inside their own box, and the pictures fit."""
    wide = []
    page = _page(browser, site, viewport={"width": 390, "height": 844})
    admin = _page(browser, site, viewport={"width": 390, "height": 844})
    try:
        _sign_in(page)
        _sign_in(admin, ADMIN_EMAIL)
        project = site["project"]
        urls = [f"/projects/{project}/", f"/deployments/{site['regrouped']}/", f"/projects/{project}/members",
                f"/deployments/{site['regrouped']}/timeline", *_route_urls(site)]
        for url in urls:
            viewer = page
            if page.goto(url).status == 403:
                viewer = admin
                viewer.goto(url)
            if not viewer.evaluate("document.doctype !== null"):
                continue
            width = viewer.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                culprits = viewer.evaluate(
                    # The outermost parts wider than the screen (their parent fits).
                    """() => Array.from(document.querySelectorAll("body *")).filter(e => {
                           const out = el => el.getBoundingClientRect().right > window.innerWidth + 1;
                           return out(e) && e.parentElement && !out(e.parentElement);
                       }).slice(0, 3).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
                                          (e.className && e.className.baseVal === undefined ? "." + e.className : ""))"""
                )
                wide.append(f"{url}: {width} px ({', '.join(culprits)})")
    finally:
        page.context.close()
        admin.context.close()
    assert not wide, "pages wider than a 390 px phone:\n" + "\n".join(wide)


def test_a_tap_on_a_histogram_bar_reads_its_count(browser, site):
    from playwright.sync_api import expect

    page = _page(browser, site, viewport={"width": 390, "height": 844}, has_touch=True)
    try:
        _sign_in(page)
        page.goto(f"/deployments/{site['regrouped']}/")
        bar = page.locator("#gap-histogram rect.bar").first
        bar.tap()
        expect(page.locator("#gap-histogram [data-readout]")).to_have_text(bar.locator("title").text_content())
        assert "gaps" in page.locator("#gap-histogram [data-readout]").text_content()
    finally:
        page.context.close()


def test_dark_scheme_is_followed(browser, site):
    colors = {}
    for scheme in SCHEMES:
        page = _page(browser, site, color_scheme=scheme)
        page.goto("/login")
        colors[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        page.context.close()
    assert colors["light"] != colors["dark"], colors


def _tab_reaches(page, selectors: list[str], limit: int = 80) -> list[str]:
    """Press Tab from the top of the page; return the selectors whose element never got focus."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("window.__reached = new Set(); document.addEventListener('focusin', e => window.__reached.add(e.target))")
    for _ in range(limit):
        page.keyboard.press("Tab")
    return [s for s in selectors if not page.evaluate("s => window.__reached.has(document.querySelector(s))", s)]


def test_every_action_is_reachable_by_keyboard(browser, site):
    page = _page(browser, site)
    try:
        _sign_in(page)
        page.goto(f"/jobs/{site['running_job']}/")
        job = site["running_job"]
        missed = _tab_reaches(page, [f"#job-{job}-link", f"#job-{job}-cancel", f"#job-{job}-log-toggle", f"#job-{job}-log-tail", "#job-log"])
        assert not missed, f"not reachable with Tab on the job page: {missed}"
        for selector in (f"#job-{job}-log-tail", "#job-log"):
            assert page.locator(selector).get_attribute("tabindex") == "0"
            assert page.locator(selector).get_attribute("aria-label")

        page.goto(f"/projects/{site['project']}/")
        missed = _tab_reaches(page, ["#station-q", "#station-state", "#select-all", "button[value=regroup]", "#stations thead a"])
        assert not missed, f"not reachable with Tab on the project page: {missed}"

        # Start a regroup with the keyboard alone.
        page.goto(f"/deployments/{site['regrouped']}/")
        button = page.get_by_role("button", name="Regroup sessions")
        button.focus()
        page.keyboard.press("Enter")
        page.locator("#live-jobs .job-status").first.wait_for()
        assert page.evaluate("document.activeElement.textContent.trim()") == "Regroup sessions"
    finally:
        page.context.close()


def _start_regroup(page) -> int:
    """Click "Regroup sessions" on a station page; return the new job's id once its fragment is in."""
    before = page.locator("#live-jobs .job-status").count()
    page.get_by_role("button", name="Regroup sessions").click()
    wait_for_expression(page, f"document.querySelectorAll('#live-jobs .job-status').length > {before}", timeout=30)
    return int(page.locator("#live-jobs .job-status").first.get_attribute("data-job-id"))


def _polls(page, count: int) -> None:
    """Wait until the page's job fragments have been swapped `count` more times."""
    start = page.evaluate("window.__swaps || 0")
    wait_for_expression(page, f"(window.__swaps || 0) >= {start + count}", timeout=15)


def test_focus_stays_in_a_polled_fragment_and_moves_to_the_message_when_its_control_goes(browser, site):
    page = _page(browser, site)
    try:
        _sign_in(page)
        page.goto(f"/deployments/{site['regrouped']}/")
        job = _start_regroup(page)
        page.evaluate("document.addEventListener('htmx:afterSettle', () => { window.__swaps = (window.__swaps || 0) + 1; })")
        # Closing the log with the keyboard: it stays closed, and focused, across polls.
        _set_job(site, job, "STARTED", log=["2026-11-25T18:00:00 INFO Regrouping 25 captures"])
        page.locator(f"#job-{job}-log-toggle").focus()
        page.keyboard.press("Enter")
        _polls(page, 2)
        assert page.evaluate(f"document.getElementById('job-{job}-log').open") is False
        assert page.evaluate("document.activeElement.id") == f"job-{job}-log-toggle"
        cancel = page.locator(f"#job-{job}-cancel")
        cancel.focus()
        _polls(page, 2)
        assert page.evaluate("document.activeElement.id") == f"job-{job}-cancel"
        # The job ends while the user is on its Cancel button: the button goes, focus moves to the fragment.
        _set_job(site, job, "SUCCESS")
        page.locator(f"#job-{job}-status[data-status=SUCCESS]").wait_for()
        wait_for_expression(page, f"document.activeElement && document.activeElement.id === 'job-{job}-status'", timeout=30)
    finally:
        page.context.close()


def test_a_job_status_change_is_announced_once_not_at_every_poll(browser, site):
    page = _page(browser, site)
    try:
        _sign_in(page)
        page.goto(f"/deployments/{site['regrouped']}/")
        page.evaluate(
            """() => {
                window.__said = [];
                new MutationObserver(() => window.__said.push(document.getElementById("announcer").textContent))
                    .observe(document.getElementById("announcer"), {childList: true, characterData: true, subtree: true});
                document.addEventListener('htmx:afterSettle', () => { window.__swaps = (window.__swaps || 0) + 1; });
            }"""
        )
        job = _start_regroup(page)
        # The polled fragment is in no live region, and holds none while it runs.
        assert page.evaluate(
            f"""() => {{ const f = document.getElementById("job-{job}-status");
                return !f.closest("[aria-live],[role=status],[role=alert],[role=log]")
                       && !f.querySelector("[aria-live],[role=status],[role=alert],[role=log]"); }}"""
        )
        _polls(page, 3)
        said = page.evaluate("window.__said")
        assert len(said) == 1 and "PENDING" in said[0] and f"Job #{job}" in said[0], said

        _set_job(site, job, "STARTED")
        page.locator(f"#job-{job}-status[data-status=STARTED]").wait_for()
        _polls(page, 3)
        _set_job(site, job, "SUCCESS")
        page.locator(f"#job-{job}-status[data-status=SUCCESS]").wait_for()
        page.wait_for_timeout(1500)
        said = page.evaluate("window.__said")
        assert [s.rsplit(": ", 1)[-1] for s in said] == ["PENDING", "STARTED", "SUCCESS"], said
    finally:
        page.context.close()


@pytest.mark.parametrize("motion", ["no-preference", "reduce"])
def test_reduced_motion_stops_the_progress_animation(browser, site, motion):
    page = _page(browser, site, reduced_motion=motion)
    try:
        _sign_in(page)
        page.goto(f"/deployments/{site['running']}/")
        page.locator(".job-status[data-status=STARTED] progress").first.wait_for()
        running = page.evaluate("document.getAnimations().filter(a => a.playState === 'running').length")
        assert (running > 0) == (motion == "no-preference"), running
    finally:
        page.context.close()
