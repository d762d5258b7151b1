"""A failed job's traceback is for the server's log and for superusers: members
see the error message on the job page, in its status fragment and in the API."""
import json
import logging
from dataclasses import replace

import pytest

from tests.api_helpers import call, token_for
from tests.conftest import add_deployment, add_user
from webapp import jobs
from webapp.extensions import db
from webapp.job_types import JOB_TYPES
from webapp.jobs import runner as job_runner
from webapp.models import Membership

SECRET_FRAME = "fail_with_a_secret_frame"


def fail_with_a_secret_frame(station, recorder):
    raise RuntimeError("disk on fire")


@pytest.fixture
def failed_job(project, monkeypatch):
    monkeypatch.setitem(JOB_TYPES, "regroup_events", replace(JOB_TYPES["regroup_events"], run=fail_with_a_secret_frame))
    job = jobs.create_job("regroup_events", add_deployment(project))
    with pytest.raises(RuntimeError):
        job_runner.run_job(job.id)
    return job_runner.reloaded(job.id)


def test_the_traceback_goes_to_the_server_log_only(project, monkeypatch, caplog):
    with caplog.at_level(logging.ERROR, logger="webapp.jobs.runner"):
        monkeypatch.setitem(JOB_TYPES, "regroup_events", replace(JOB_TYPES["regroup_events"], run=fail_with_a_secret_frame))
        job = jobs.create_job("regroup_events", add_deployment(project))
        with pytest.raises(RuntimeError):
            job_runner.run_job(job.id)
    logged = [r for r in caplog.records if r.name == "webapp.jobs.runner"]
    assert logged and logged[0].exc_info and f"Job {job.id} (regroup_events) failed" in logged[0].getMessage()
    stored = job_runner.reloaded(job.id)
    public = stored.logs["stdout"] + stored.logs["stderr"]
    assert any(line.endswith("ERROR RuntimeError: disk on fire") for line in public)
    assert not any("Traceback" in line or SECRET_FRAME in line for line in public)


def test_members_see_the_message_superusers_the_traceback(client, auth, project, manager, failed_job):
    member = add_user("member@example.org", "pw-member")
    db.session.add(Membership(user=member, project=project, role="BasicMember"))
    db.session.commit()
    add_user("root@example.org", "pw-root", superuser=True)

    for email, password in (("member@example.org", "pw-member"), ("manager@example.org", "pw-manager")):
        auth.login(email, password)
        for path in (f"/jobs/{failed_job.id}/", f"/jobs/{failed_job.id}/status"):
            html = client.get(path).get_data(as_text=True)
            assert "RuntimeError: disk on fire" in html
            assert "Traceback" not in html and SECRET_FRAME not in html, (email, path)
        auth.logout()

    auth.login("root@example.org", "pw-root")
    html = client.get(f"/jobs/{failed_job.id}/").get_data(as_text=True)
    assert 'id="job-traceback"' in html and SECRET_FRAME in html


def test_the_api_never_returns_the_traceback(client, project, manager, failed_job):
    root = add_user("root@example.org", superuser=True)
    for user in (manager, root):
        body = call(client, "GET", f"/jobs/{failed_job.id}/", token_for(user)).get_json()
        assert set(body["logs"]) == {"stdout", "stderr"}
        assert "RuntimeError: disk on fire" in body["logs"]["stderr"][-1]
        assert "Traceback" not in json.dumps(body) and SECRET_FRAME not in json.dumps(body)
