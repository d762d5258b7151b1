"""Every HTML page and fragment of the site passes the Nu HTML validator.

Pages are read as a signed-in Project manager of the seeded project (and as a
superuser where the manager gets 403: admin pages).

The routes come from `app.url_map`, so a new page is checked as soon as it
exists: its URL arguments are filled from the seeded states (ARGS), forms get
an empty submission (their error state), and POST-only routes must say what
they answer (POSTED or NO_HTML). A route the test cannot place fails it, and
the message says which line to add. One validator process checks every
document at once; SVG pictures are also checked for a title and a text
alternative, which the validator does not require.
"""
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests import page_states
from tests.conftest import FreshGlobalsClient, add_user, csrf_token_from

VNU = Path(__file__).resolve().parents[1] / "tools" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"

# URL argument → the seeded state's key that fills it.
ARGS = {
    "project_id": "project",
    "deployment_id": "regrouped",
    "job_id": "warned_job",
    "event_id": "event",
    "membership_id": "membership",
    "token": "invitation",
}
# Extra GET variants: (endpoint, URL arguments over ARGS, query string).
VARIANTS = [
    ("projects.detail", {}, "q=etang&state=needs-regroup&sort=captures&dir=desc"),
    ("projects.detail", {}, "q=nothing-matches"),
    ("projects.stations", {}, "q=ÉTANG"),
    ("deployments.detail", {"deployment_id": "running"}, ""),
    ("jobs.detail", {"job_id": "running_job"}, ""),
    ("jobs.detail", {"job_id": "failed_job"}, ""),
    ("jobs.detail", {"job_id": "finished_job"}, ""),
    ("jobs.status", {"job_id": "running_job"}, ""),
    ("jobs.status", {"job_id": "failed_job"}, ""),
    ("jobs.index", {}, "status=SUCCESS&type=regroup_events"),
    ("projects.operation", {}, "start=2024-06-01&end=2024-06-30"),
]
# POST-only routes that answer HTML: (endpoint, URL arguments over ARGS, form data, htmx?).
POSTED = [
    ("deployments.settings", {}, {"session_gap_hours": "-3"}, False),
    ("deployments.regroup", {"deployment_id": "empty"}, {}, True),
    ("deployments.sync", {"deployment_id": "empty"}, {}, True),
    ("jobs.cancel_job", {"job_id": "finished_job"}, {}, True),
    ("deployments.delete", {"deployment_id": "empty"}, {"confirm_name": "not its name"}, False),
    ("members.role", {}, {"role": "Nobody"}, False),
    # A form page's coordinate errors (its empty submission posts no coordinates, which keeps the place).
    ("deployments.edit", {}, {"name": "Renamed", "latitude": "north", "longitude": ""}, False),
    # The only ProjectManager cannot be removed: the members page with the row's error.
    ("members.remove", {}, {}, False),
    # The settings page with every health threshold's error.
    ("projects.health_settings", {}, {"outage_nights": "0", "active_at": "noon"}, False),
    # A new invitation, its link shown once; and the members page's own invitation for an unknown email.
    ("admin.invite", {}, {"invite_email": "invited@example.org"}, False),
    ("members.index", {}, {"email": "new-colleague@example.org", "role": "Researcher"}, False),
]
# Routes that never answer HTML (redirects, JSON, files), with why.
NO_HTML = {
    "static": "files",
    "auth.home": "redirects to the projects list",
    "auth.logout": "signs out and redirects",
    "projects.bulk_jobs": "queues jobs and redirects back to the list",
    "projects.regroup_all": "queues jobs and redirects to the settings",
    "thumbnails.file": "JPEG files (or a redirect to signed storage URLs)",
    "admin.storage_grant": "grants a source to a project and redirects to the storage page",
    "admin.storage_open": "opens a source to every project and redirects to the storage page",
    "account.revoke": "revokes a token and redirects to the tokens page",
    "admin.disable_user": "disables or enables a user and redirects to the users page",
    "clock_offsets.remove": "removes a clock offset, queues the job that restores the times and redirects back",
}
ERROR_PAGES = ["/projects/2147483000/", "/jobs/2147483000/"]


class _SvgCheck(HTMLParser):
    """Collects SVG pictures that lack role="img", a <title> or a text alternative (decorative ones are aria-hidden)."""

    def __init__(self):
        super().__init__()
        self.problems, self._open = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "svg" and self._open is None:
            if attrs.get("aria-hidden") == "true":
                self._open = {"hidden": True, "title": "", "depth": 1, "line": self.getpos()[0]}
                return
            named = attrs.get("role") == "img" and (attrs.get("aria-labelledby") or attrs.get("aria-label"))
            self._open = {"hidden": False, "named": bool(named), "title": None, "depth": 1, "line": self.getpos()[0], "in_title": False}
        elif self._open is not None:
            self._open["depth"] += 1
            if tag == "title" and self._open["depth"] == 2:
                self._open["title"], self._open["in_title"] = "", True

    def handle_data(self, data):
        if self._open and self._open.get("in_title"):
            self._open["title"] += data

    def handle_endtag(self, tag):
        if self._open is None:
            return
        if tag == "title":
            self._open["in_title"] = False
        self._open["depth"] -= 1
        if self._open["depth"] == 0:
            picture = self._open
            if not picture["hidden"] and not (picture["named"] and (picture["title"] or "").strip()):
                self.problems.append(f"line {picture['line']}: an <svg> picture needs role=\"img\", a <title> and aria-labelledby/aria-label (or aria-hidden=\"true\" if decorative)")
            self._open = None


def svg_problems(html: str) -> list[str]:
    checker = _SvgCheck()
    checker.feed(html)
    return checker.problems


def test_svg_check_tells_a_labelled_picture_from_a_bare_one():
    good = '<svg role="img" aria-labelledby="t"><title id="t">Sessions per night</title><rect width="1" height="1"/></svg>'
    assert svg_problems(good) == []
    assert svg_problems('<svg aria-hidden="true"><path d="M0 0"/></svg>') == []
    assert len(svg_problems('<svg><rect width="1" height="1"/></svg>')) == 1
    assert len(svg_problems('<svg role="img" aria-label="x"><rect width="1" height="1"/></svg>')) == 1


def _is_api(endpoint: str) -> bool:
    return endpoint.startswith("api.")


def _url(app, endpoint, ids, overrides=None, query=""):
    rule = next(rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)
    values = {}
    for argument in rule.arguments:
        key = (overrides or {}).get(argument) or ARGS.get(argument)
        assert key is not None, (
            f"route {rule.rule} ({endpoint}) takes <{argument}>: add one line to ARGS in {__file__} naming the seeded id that fills it"
        )
        values[argument] = ids[key]
    with app.test_request_context():
        from flask import url_for

        url = url_for(endpoint, **values)
    return f"{url}?{query}" if query else url


def _document(html: str) -> str:
    """A fragment wrapped in the smallest valid page, so the validator reads it as the browser inserts it."""
    if html.lstrip().lower().startswith("<!doctype"):
        return html
    return f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fragment</title></head><body><main>{html}</main></body></html>'


def test_every_html_route_passes_the_nu_validator(sqlite_app, tmp_path):
    if not VNU.exists() or shutil.which("java") is None:
        message = "the Nu validator needs `make test-deps` (tests/tools/node_modules/vnu-jar) and a Java runtime"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    app = sqlite_app
    app.test_client_class = FreshGlobalsClient
    manager = add_user("manager@example.org", "pw-manager")
    ids = page_states.seed(manager, missing_folder=str(tmp_path / "gone"))

    client = app.test_client()
    documents: dict[str, str] = {}  # label (route and state) → HTML

    def keep(label, response, expected=(200,)):
        assert response.status_code in expected, f"{label}: {response.status_code}"
        assert response.mimetype == "text/html", f"{label} answers {response.mimetype}: list it in NO_HTML if that is right"
        documents[label] = response.get_data(as_text=True)

    # Signed out: the sign-in form, empty and with errors.
    keep("GET /login", client.get("/login"))
    token = csrf_token_from(documents["GET /login"])
    keep("POST /login (errors)", client.post("/login", data={"csrf_token": token, "email": "", "password": ""}), (400,))
    keep("POST /login (wrong password)", client.post("/login", data={"csrf_token": token, "email": "manager@example.org", "password": "no"}), (400,))
    client.post("/login", data={"csrf_token": token, "email": "manager@example.org", "password": "pw-manager"})
    token = csrf_token_from(client.get("/projects/").get_data(as_text=True))
    # Pages only superusers may open (403 to the manager) are read as one.
    add_user("admin@example.org", "pw-admin", superuser=True)
    admin = app.test_client()
    admin_token = csrf_token_from(admin.get("/login").get_data(as_text=True))
    admin.post("/login", data={"csrf_token": admin_token, "email": "admin@example.org", "password": "pw-admin"})
    admin_token = csrf_token_from(admin.get("/projects/").get_data(as_text=True))

    def reader(url):
        """The client that may open `url`: the manager, or the superuser if the manager may not."""
        return admin if client.get(url).status_code == 403 else client

    def get(url):
        return reader(url).get(url)

    covered = set(NO_HTML)
    for rule in app.url_map.iter_rules():
        if _is_api(rule.endpoint) or rule.endpoint in NO_HTML:
            continue
        if "GET" in rule.methods and rule.endpoint != "auth.login":
            url = _url(app, rule.endpoint, ids)
            keep(f"GET {url}", get(url), (200, 286))
            covered.add(rule.endpoint)
            if "POST" in rule.methods:
                # A form page: an empty submission shows it with its errors.
                who = reader(url)
                response = who.post(url, data={"csrf_token": admin_token if who is admin else token})
                if response.mimetype == "text/html" and response.status_code < 300 or response.status_code == 400:
                    keep(f"POST {url} (empty form)", response, (200, 400))
        elif rule.endpoint == "auth.login":
            covered.add(rule.endpoint)
    for endpoint, overrides, query in VARIANTS:
        url = _url(app, endpoint, ids, overrides, query)
        keep(f"GET {url}", get(url), (200, 286))
    for endpoint, overrides, data, htmx in POSTED:
        url = _url(app, endpoint, ids, overrides)
        headers = {"HX-Request": "true"} if htmx else {}
        who = admin if endpoint.startswith("admin.") else client
        csrf = admin_token if who is admin else token
        keep(f"POST {url}", who.post(url, data={"csrf_token": csrf, **data}, headers=headers), (200, 202, 286, 400))
        covered.add(endpoint)
    for url in ERROR_PAGES:
        keep(f"GET {url} (not found)", client.get(url), (404,))

    unplaced = {
        rule.endpoint for rule in app.url_map.iter_rules() if not _is_api(rule.endpoint) and rule.endpoint not in covered
    }
    assert not unplaced, (
        f"routes {sorted(unplaced)} are POST-only: add each to POSTED (answers HTML, with a form that shows an error) "
        f"or to NO_HTML (with why) in {__file__}"
    )

    folder = tmp_path / "html"
    folder.mkdir()
    names = {}
    for index, (label, html) in enumerate(documents.items()):
        path = folder / f"{index:03d}.html"
        path.write_text(_document(html), encoding="utf-8")
        names[path.name] = label
    result = subprocess.run(
        ["java", "-Xss2m", "-jar", str(VNU), "--format", "json", "--exit-zero-always", str(folder)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(result.stderr or result.stdout)
    errors = [
        f"{names[Path(m['url']).name]}: line {m.get('lastLine')}: {m['message']}  «{m.get('extract', '').strip()}»"
        for m in report["messages"]
        if m["type"] == "error" or m.get("subType") == "fatal"
    ]
    errors += [f"{label}: {problem}" for label, html in documents.items() for problem in svg_problems(html)]
    assert not errors, f"{len(errors)} Nu validator errors in {len(documents)} documents:\n" + "\n".join(errors)
    assert len(documents) >= 25 and re.search(r"GET /projects/\d+/stations", " ".join(documents))
