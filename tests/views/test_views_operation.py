"""The operation calendar page: a cell per operating night with its count as title, rows linking stations,
a range from the URL, a clear field error for a bad one."""
import re
from datetime import date

from tests.charts.test_operation import direct_counts, stations  # noqa: F401  (fixture)


def test_calendar_draws_a_titled_cell_per_operating_night(client, auth, project, stations):  # noqa: F811
    auth.login()
    page = client.get(f"/projects/{project.id}/operation?start=2026-05-01&end=2026-05-31")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    first = stations[0]
    titles = re.findall(r"<title>Station 0, night of (\d{4}-\d\d-\d\d): ([\d,]+) captures?</title>", html)
    counts = direct_counts(first)
    assert len(titles) == 31
    assert all(int(n.replace(",", "")) == counts.get(date.fromisoformat(d), 0) for d, n in titles)
    assert "Outage: 5 nights without captures, 2026-05-11 to 2026-05-15" in html
    assert f'data-href="/deployments/{first.id}/"' in html and f'href="/deployments/{first.id}/"' in html
    assert "start=2026-05-01&amp;end=2026-05-31" in html or "Effort matrix" not in html


def test_a_bad_range_is_a_field_error_and_the_default_nights_are_shown(client, auth, project, stations):  # noqa: F811
    auth.login()
    for query in ("start=2026-02-30", "start=2020-01-01&end=2026-01-01", "start=2026-06-01&end=2026-05-01"):
        page = client.get(f"/projects/{project.id}/operation?{query}")
        html = page.get_data(as_text=True)
        assert page.status_code == 400 and 'aria-invalid="true"' in html and "night of 2026-06-18" in html, query


def test_the_project_page_links_the_calendar(client, auth, project):
    auth.login()
    assert f'href="/projects/{project.id}/operation"' in client.get(f"/projects/{project.id}/").get_data(as_text=True)
