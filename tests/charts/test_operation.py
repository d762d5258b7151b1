"""The operation matrix, its calendar, its API and operation.csv agree with a direct count of captures per night."""
import csv
import io
import random
from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from tests.api_helpers import call, token_for, user_with_token
from tests.conftest import add_deployment
from tests.sessions.test_regroup import add_captures
from webapp.charts import operation_calendar, operation_matrix
from webapp.charts.operation import colour_class
from webapp.filters import svg_cells
from webapp.extensions import db
from webapp.models import Capture, Membership
from webapp.permissions import ROLE_PERMISSIONS
from webapp.sessions import regroup_deployment


def night(moment):
    return (moment - timedelta(hours=12)).date()


@pytest.fixture
def stations(project):
    rng = random.Random(7)
    made = []
    for index, (first, nights, off) in enumerate([(date(2026, 5, 1), 40, range(10, 15)),
                                                  (date(2026, 5, 20), 30, ()), (date(2026, 6, 15), 2, ())]):
        deployment = add_deployment(project, f"Station {index}")
        times = []
        for n in range(nights):
            if n in off:
                continue
            evening = datetime.combine(first + timedelta(days=n), datetime.min.time()) + timedelta(hours=20)
            # Some before midnight, some after, one just before the next noon: all the same night.
            times += [evening + timedelta(minutes=rng.randrange(0, 15 * 60)) for _ in range(rng.randrange(1, 6))]
            times.append(evening + timedelta(hours=15, minutes=59))
        add_captures(deployment, times, prefix=f"s{index}")
        regroup_deployment(deployment)
        made.append(deployment)
    made.append(add_deployment(project, "Station 9 never synced"))
    return made


def direct_counts(deployment):
    return Counter(night(ts) for ts in db.session.scalars(
        db.select(Capture.timestamp).where(Capture.deployment_id == deployment.id)))


def expected_row(deployment, nights):
    counts = direct_counts(deployment)
    if not counts:
        return [None] * len(nights)
    first, last = min(counts), max(counts)
    return [counts.get(n, 0) if first <= n <= last else None for n in nights]


def test_matrix_defaults_to_the_whole_project_when_shorter_than_ninety_nights(project, stations):
    matrix = operation_matrix(project)
    assert matrix.nights[0] == date(2026, 5, 1) and matrix.nights[-1] == date(2026, 6, 18)
    assert [row.name for row in matrix.rows] == [d.name for d in stations]
    for row, deployment in zip(matrix.rows, stations):
        assert row.counts == expected_row(deployment, matrix.nights), deployment.name


def test_an_asked_range_is_counted_the_same_and_the_outage_is_marked(project, stations):
    matrix = operation_matrix(project, date(2026, 5, 5), date(2026, 5, 25))
    assert len(matrix.nights) == 21
    for row, deployment in zip(matrix.rows, stations):
        assert row.counts == expected_row(deployment, matrix.nights)
    calendar = operation_calendar(matrix)
    outages = calendar.rows[0].outages
    assert [(o.nights, o.title) for o in outages] == [
        (5, "Outage: 5 nights without captures, 2026-05-11 to 2026-05-15")]
    assert len(calendar.rows[0].cells) == 21 and calendar.rows[3].cells == []
    count = matrix.rows[0].counts[0]
    assert calendar.rows[0].cells[0][1:] == (colour_class(count), "2026-05-05", count)
    drawn = svg_cells(calendar.rows[0].cells[:1], 4, 10, 0, "Station <0>")
    assert f"<title>Station &lt;0&gt;, night of 2026-05-05: {count:,} capture{'s' if count != 1 else ''}</title>" in drawn


def test_api_and_csv_agree_with_a_direct_count(client, project, stations):
    researcher, token = user_with_token("researcher@example.org")
    db.session.add(Membership(user_id=researcher.id, project_id=project.id, role="Researcher"))
    db.session.commit()
    answer = call(client, "GET", f"/projects/{project.id}/operation/?start=2026-05-01&end=2026-06-30", token)
    assert answer.status_code == 200
    nights = [date.fromisoformat(n) for n in answer.json["nights"]]
    assert len(nights) == 61
    for row, deployment in zip(answer.json["deployments"], stations):
        assert (row["deployment_id"], row["name"]) == (deployment.id, deployment.name)
        assert row["counts"] == expected_row(deployment, nights)
    response = call(client, "GET", f"/projects/{project.id}/export/operation.csv?start=2026-05-01&end=2026-06-30",
                    token)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table[0] == ["deployment_id", "deployment_name", *answer.json["nights"]]
    for line, row in zip(table[1:], answer.json["deployments"]):
        assert line == [str(row["deployment_id"]), row["name"], *("" if c is None else str(c) for c in row["counts"])]
    assert len(table) == 1 + len(stations)


@pytest.mark.parametrize("query", ["start=2026-13-01", "start=2026-06-01&end=2026-05-01",
                                   "start=2020-01-01&end=2026-01-01", "end=yesterday",
                                   "end=0001-01-01", "start=9999-12-31", "start=9999-12-31&end=9999-12-31"])
def test_bad_ranges_are_a_clear_400(client, project, manager, query):
    token = token_for(manager)
    for path in (f"/projects/{project.id}/operation/", f"/projects/{project.id}/export/operation.csv"):
        response = call(client, "GET", f"{path}?{query}", token)
        if response.status_code == 403:  # operation.csv needs export_project_data
            continue
        assert response.status_code == 400 and response.json["detail"], (path, query)


def test_operation_csv_needs_export_permission_and_membership(client, project, stations):
    member, token = user_with_token("basic@example.org")
    db.session.add(Membership(user_id=member.id, project_id=project.id, role="BasicMember"))
    db.session.commit()
    _, outsider = user_with_token("outsider@example.org")
    # Every role may export once the shared export permission lands; until then BasicMember may not.
    expected = 200 if "export_project_data" in ROLE_PERMISSIONS["BasicMember"] else 403
    assert call(client, "GET", f"/projects/{project.id}/export/operation.csv", token).status_code == expected
    assert call(client, "GET", f"/projects/{project.id}/export/operation.csv", outsider).status_code == 404
    assert call(client, "GET", f"/projects/{project.id}/operation/", outsider).status_code == 404


def test_an_empty_project_has_no_nights(client, project, manager):
    add_deployment(project, "Empty")
    answer = call(client, "GET", f"/projects/{project.id}/operation/", token_for(manager)).json
    assert answer["nights"] == [] and answer["deployments"][0]["counts"] == []


def test_the_counts_of_the_last_regroup_are_read_and_a_station_changed_since_is_counted_from_its_rows(
        project, stations):
    from tests.sql_statements import sent_statements
    from webapp.sources import insert_captures

    def grouped(sent):
        return [s for s in sent if "GROUP BY" in s and "FROM capture" in s]

    with sent_statements() as sent:
        matrix = operation_matrix(project)
    assert grouped(sent) == []  # every station's counts come from its last regroup
    # Syncs add a night to Stations 1 and 2 (bumping their captures versions), not regrouped yet.
    extra = datetime(2026, 6, 17, 22, 0)
    for station in stations[1:3]:
        insert_captures(station, [{"path": f"late/{m}.jpg", "size": 1, "timestamp": extra + timedelta(minutes=m)}
                                  for m in range(3)])
    db.session.commit()
    with sent_statements() as sent:
        again = operation_matrix(project, matrix.nights[0], matrix.nights[-1])
    assert len(grouped(sent)) == 1  # those stations alone, from their rows, in one query
    column = again.nights.index(date(2026, 6, 17))
    assert again.rows[1].counts[column] == matrix.rows[1].counts[column] + 3
    assert again.rows[2].counts[column] == 3
    assert again.rows[0].counts == expected_row(stations[0], again.nights)
