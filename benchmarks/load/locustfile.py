"""What 50 people watching a large network do: browse the stations list (sorted, paged),
open a station, and watch a job's status fragment poll once a second.

Run by `make load` (benchmarks/load/__main__.py), which builds the site and
passes it through the environment: LOAD_PROJECT_ID, LOAD_STATION_IDS and
LOAD_JOB_IDS (comma-separated), LOAD_EMAIL, LOAD_PASSWORD. Requests are grouped
by route (`name=`), so the figures are per route, not per URL.
"""
import os
import random
import re

from locust import HttpUser, between, task

SORTS = ("name", "captures", "sessions", "first", "last", "regrouped")
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf-token" content="([^"]+)"')
PROJECT_ID = int(os.environ.get("LOAD_PROJECT_ID", "1"))
STATION_IDS = [int(i) for i in os.environ.get("LOAD_STATION_IDS", "1").split(",")]
JOB_IDS = [int(i) for i in os.environ.get("LOAD_JOB_IDS", "1").split(",")]
PAGES = max(1, (len(STATION_IDS) + 49) // 50)
POLLS = 5


class StationWatcher(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self):
        page = self.client.get("/login", name="/login")
        match = CSRF.search(page.text)
        token = next(group for group in match.groups() if group)
        self.client.post(
            "/login",
            data={"email": os.environ["LOAD_EMAIL"], "password": os.environ["LOAD_PASSWORD"], "csrf_token": token},
            name="/login",
        )

    @task
    def browse(self):
        sort, direction = random.choice(SORTS), random.choice(("asc", "desc"))
        self.client.get(
            f"/projects/{PROJECT_ID}/?sort={sort}&dir={direction}&page={random.randint(1, PAGES)}",
            name="stations list (sorted, paged)",
        )
        self.client.get(f"/deployments/{random.choice(STATION_IDS)}/", name="station page")
        job_id = random.choice(JOB_IDS)
        for _ in range(POLLS):
            # A finished job answers 286, which tells htmx to stop polling: a success here.
            with self.client.get(
                f"/jobs/{job_id}/status", name="job status fragment", headers={"HX-Request": "true"}, catch_response=True
            ) as response:
                if response.status_code in (200, 286):
                    response.success()
            self._sleep(1.0)

    def _sleep(self, seconds: float):
        import gevent

        gevent.sleep(seconds)
