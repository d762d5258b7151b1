"""A team joins from the browser: a superuser invites someone, the link sets their password and signs
them in, a used link is refused, a Project manager invites a colleague from the members page, and a
disabled user is signed out. In Chromium against a real `flask run`, with axe-core on the new pages."""
import pytest

from tests.browser.test_browser_a11y import AXE, axe_violations
from tests.browser_site import BrowserSite, open_page, sign_in

MANAGER, ADMIN, PASSWORD = "manager@invite.test", "admin@invite.test", "pw-invite-long-enough"

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("invite")
    site = BrowserSite(tmp, "invite-test-secret", data=tmp)
    site.create_user(MANAGER, PASSWORD)
    site.create_user(ADMIN, PASSWORD, superuser=True)
    ids = site.seed("tests.page_states", MANAGER, str(tmp / "gone"))
    with site.serving() as url:
        yield {"url": url, **ids}


def _page(browser, site):
    page = open_page(browser, site["url"], bypass_csp=AXE.exists())
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.csp_violations = violations
    return page


def _audit(page, label, problems):
    if AXE.exists():
        problems.extend(f"{label}: {line}" for line in axe_violations(page))


def test_invite_accept_reuse_and_disable(browser, site):
    from playwright.sync_api import expect

    problems: list[str] = []
    admin = _page(browser, site)
    sign_in(admin, ADMIN, PASSWORD)
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(admin.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    admin.locator("#invite_email").fill("Newcomer@Invite.test")
    admin.get_by_role("button", name="Make an invitation link").click()
    link = admin.locator("#new-invitation").inner_text()
    assert link.startswith(site["url"] + "/invite/")
    _audit(admin, "users page with a new invitation", problems)
    admin.reload()  # shown once: a reload of the list does not show it again
    expect(admin.locator("#new-invitation")).to_have_count(0)
    expect(admin.locator('[data-user="newcomer@invite.test"]')).to_contain_text("invited")

    guest = _page(browser, site)
    guest.goto(link)
    expect(guest.locator("#invited-email")).to_have_text("newcomer@invite.test")
    guest.get_by_label("Password").fill("short")
    guest.get_by_role("button", name="Set password and sign in").click()
    expect(guest.locator(".field-error")).to_contain_text("at least 10 characters")
    _audit(guest, "invitation with a field error", problems)
    guest.get_by_label("Password").fill("newcomer-password")
    guest.get_by_role("button", name="Set password and sign in").click()
    guest.wait_for_url("**/projects/")
    expect(guest.locator(".whoami")).to_contain_text("newcomer@invite.test")

    reuse = _page(browser, site)
    reuse.goto(link)
    expect(reuse.locator("#invitation-invalid")).to_contain_text("cannot be used")
    _audit(reuse, "used invitation", problems)
    reuse.context.close()

    # A Project manager adds an email with no account: a link for them, and a member marked invited.
    manager = _page(browser, site)
    sign_in(manager, MANAGER, PASSWORD)
    manager.goto(f"/projects/{site['project']}/members")
    manager.get_by_label("Email").fill("colleague@invite.test")
    manager.get_by_label("Role", exact=True).select_option("Researcher")
    manager.get_by_role("button", name="Add member").click()
    expect(manager.locator("#new-invitation")).to_contain_text("/invite/")
    expect(manager.locator('[data-member="colleague@invite.test"]')).to_contain_text("invited")
    _audit(manager, "members page with an invitation", problems)

    # Disabled: the newcomer's open session ends.
    admin.goto("/admin/users")
    admin.locator('[data-user="newcomer@invite.test"]').get_by_role("button", name="Disable").click()
    expect(admin.locator('[data-user="newcomer@invite.test"]')).to_contain_text("disabled")
    guest.goto("/projects/")
    guest.wait_for_url("**/login**")

    for page in (admin, guest, manager):
        assert page.csp_violations == []
        page.context.close()
    assert not problems, "\n".join(problems)
