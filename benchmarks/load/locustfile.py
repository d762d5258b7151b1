"""What 50 people watching a large network do: browse the stations list (sorted, paged),
open a station, and watch a job's status fragment poll once a second.

Run by `make load` (benchmarks/load/__main__.py), which builds the site and
passes it through the environment: LOAD_PROJECT_ID, LOAD_STATION_IDS and
LOAD_JOB_IDS (comma-separated), LOAD_COOKIE (a signed-in session). Requests are grouped
by route (`name=`), so the figures are per route, not per URL.
"""
import os
import random

import gevent
from locust import HttpUser, between, task

SORTS = ("name", "captures", "sessions", "first", "last", "regrouped")
PROJECT_ID = int(os.environ.get("LOAD_PROJECT_ID", "1"))
STATION_IDS = [int(i) for i in os.environ.get("LOAD_STATION_IDS", "1").split(",")]
JOB_IDS = [int(i) for i in os.environ.get("LOAD_JOB_IDS", "1").split(",")]
PAGES = max(1, (len(STATION_IDS) + 49) // 50)
POLLS = 5


class StationWatcher(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self):
        # Signed in once by the runner: the run measures browsing, not password hashing.
        self.client.cookies.set("session", os.environ["LOAD_COOKIE"], domain="127.0.0.1")

    def _get(self, path: str, name: str, **kwargs):
        """GET that counts as an error anything but the signed-in page: a 4xx/5xx, or a detour to /login."""
        with self.client.get(path, name=name, catch_response=True, **kwargs) as response:
            if "/login" in response.url:
                response.failure("sent to the sign-in page")
            elif response.status_code in (200, 286):
                # A finished job's fragment answers 286, which tells htmx to stop polling.
                response.success()

    @task
    def browse(self):
        sort, direction = random.choice(SORTS), random.choice(("asc", "desc"))
        self._get(
            f"/projects/{PROJECT_ID}/?sort={sort}&dir={direction}&page={random.randint(1, PAGES)}",
            "stations list (sorted, paged)",
        )
        self._get(f"/deployments/{random.choice(STATION_IDS)}/", "station page")
        job_id = random.choice(JOB_IDS)
        for _ in range(POLLS):
            self._get(f"/jobs/{job_id}/status", "job status fragment", headers={"HX-Request": "true"})
            gevent.sleep(1.0)
