"""A site for the browser tests: `flask run` (and a worker, if the test needs one) on a
temporary SQLite database, Debian's Chromium, signing in through the form, and waiting
on the page from the test side.

Each browser test file seeds its own data (through the CLI, a seed module or files)
and keeps its own page fixture; what they all do the same way lives here.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.stack import free_port, wait_until

REPO = Path(__file__).resolve().parent.parent
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]
# Debian's package, installed by `make browser`: never a build Playwright downloads.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1200, "height": 900}
TABLET = {"width": 768, "height": 1024}


class BrowserSite:
    """One site's folder, environment and database (schema created), ready to seed and serve.

    `data` is the DATA_SOURCE_ROOTS folder (default `<tmp>/data`); `database_url` the database
    (default a SQLite file in `tmp`); `huey_url` the queue
    (default a SqliteHuey file in `tmp`; `memory://` runs jobs at once, in the process that
    enqueues them); `env` adds variables (THUMBNAIL_ROOT, …).
    """

    def __init__(self, tmp: Path, secret: str, *, data: Path | None = None, huey_url: str | None = None,
                 database_url: str | None = None, **env: str):
        self.tmp = tmp
        self.data = data or tmp / "data"
        self.data.mkdir(exist_ok=True)
        self.db = tmp / "app.db"
        self.env = dict(
            os.environ,
            DATABASE_URL=database_url or f"sqlite:///{self.db}",
            HUEY_URL=huey_url or f"sqlite:///{tmp / 'huey.db'}",
            DATA_SOURCE_ROOTS=str(self.data),
            SECRET_KEY=secret,
            PYTHONPATH=str(REPO),
            **env,
        )
        self.flask("init-db")

    def run(self, *args: str) -> str:
        """Run a command in the site's environment from the repo root; its stdout (fails the test on an error)."""
        result = subprocess.run([*args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def flask(self, *args: str) -> str:
        return self.run(*FLASK, *args)

    def create_user(self, email: str, password: str, superuser: bool = False) -> None:
        self.flask("create-user", email, "--password", password, *(["--superuser"] if superuser else []))

    def seed(self, module: str, *args: str) -> dict:
        """Run `python -m module args…` against the site's database; the JSON object on its last line."""
        return json.loads(self.run(sys.executable, "-m", module, *args).strip().splitlines()[-1])

    def _start(self, args: list[str], name: str) -> subprocess.Popen:
        with open(self.tmp / f"{name}.log", "w") as log:
            return subprocess.Popen(args, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=_take_ctrl_c)

    @contextmanager
    def serving(self, worker: bool = False) -> Iterator[str]:
        """`flask run` on a free port (and `flask worker -w 2` if `worker`); yields the base URL once the port answers."""
        processes = []
        try:
            if worker:
                processes.append(self._start([*FLASK, "worker", "-w", "2"], "worker"))
            port = free_port()
            web = self._start([*FLASK, "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload", "--no-debugger"],
                              "web")
            processes.insert(0, web)
            deadline = time.monotonic() + 30
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    assert web.poll() is None, (self.tmp / "web.log").read_text()
                    assert time.monotonic() < deadline, "the web server did not start"
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            for process in processes:
                _interrupt(process)


def _take_ctrl_c() -> None:
    """In the child: Ctrl-C stops it, even when the test run was started as a background job
    (a shell starts those with SIGINT ignored, and children inherit that through exec)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(process: subprocess.Popen) -> None:
    """Ctrl-C the process group, as a user stops `flask run`; SIGKILL what is left after 15 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@contextmanager
def chromium():
    """Debian's Chromium, headless, through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, base_url: str, *, timeout_ms: float | None = None, **context_options):
    """A page in a context of its own (close it with `page.context.close()`), desktop-sized unless `viewport` is given."""
    context = browser.new_context(base_url=base_url, **{"viewport": DESKTOP, **context_options})
    page = context.new_page()
    if timeout_ms is not None:
        page.set_default_timeout(timeout_ms)
    return page


def sign_in(page, email: str, password: str):
    """Sign in through the form and land on the projects list; returns the response to `GET /login`."""
    response = page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/projects/")
    return response


def wait_for_expression(page, expression: str, timeout: float = 15.0):
    """Poll a JS expression from the test side until it is truthy; returns its value.

    Playwright's `wait_for_function` compiles its predicate in the page, which the
    site's Content-Security-Policy (no eval) rightly refuses.
    """
    return wait_until(lambda: page.evaluate(expression), f"never true: {expression}", timeout, interval=0.1)
